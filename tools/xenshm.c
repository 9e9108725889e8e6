// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm: the dom0 admin CLI.  The commands live in tools/cli.c (run on the
 * fake Xen by the unit tests); this opens the real Xen and runs them.
 * `xenshm --help` lists them.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int main(int argc, char **argv)
{
	struct xo *x;
	int rc;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help") ||
	    (argc >= 3 && !strcmp(argv[2], "--help")))
		return xshm_cli(NULL, argc - 1, argv + 1, stdout, stderr, "");
	rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_CTRL);
	if (rc) {
		fprintf(stderr, "xenshm: cannot open XenStore and the hypervisor interface: %s "
				"(run in dom0 as root, with xenstored running)\n",
			strerror(-rc));
		return XSHM_CLI_FAIL;
	}
	rc = xshm_cli(x, argc - 1, argv + 1, stdout, stderr, "");
	xo_close(x);
	return rc;
}
