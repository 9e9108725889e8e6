// SPDX-License-Identifier: GPL-2.0-only
/*
 * labexec: run a shell command in a lab guest through its labagent and
 * return the command's output and exit status (see labagent.c).
 *
 *   labexec [-t SECONDS] DOMID COMMAND...
 *
 * Exit status: the command's, 124 if it timed out in the guest, 125 if the
 * guest's agent did not answer in time, 126 on a local error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/xenops.h"

static char base[96];

struct want {
	const char *prefix;
	char *value;
};

/* Done when the node exists and starts with the wanted prefix; keeps the value. */
static int has_prefix(const char *value, int read_rc, void *arg)
{
	struct want *w = arg;

	if (read_rc || strncmp(value, w->prefix, strlen(w->prefix)))
		return 0;
	w->value = strdup(value);
	return w->value ? 1 : -ENOMEM;
}

static int wait_node(struct xo *x, const char *path, const char *prefix, char **out, int timeout_ms)
{
	struct want w = { prefix, NULL };
	int rc = xo_wait_node(x, path, timeout_ms, has_prefix, &w);

	*out = w.value;
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long long timeout_s = 60;
	xo_domid_t domid;
	struct xo *x = NULL;
	char path[160], seq[48], *v = NULL, cmd[8192] = "";
	int opt, rc, code = 126;

	while ((opt = getopt(argc, argv, "+t:")) != -1) {
		if (opt != 't' || xo_parse_uint(optarg, 24 * 3600, &timeout_s)) {
			fprintf(stderr, "usage: labexec [-t SECONDS] DOMID COMMAND...\n");
			return 126;
		}
	}
	if (argc - optind < 2 || xo_parse_domid(argv[optind], &domid)) {
		fprintf(stderr, "usage: labexec [-t SECONDS] DOMID COMMAND...\n");
		return 126;
	}
	for (int i = optind + 1; i < argc; i++) {
		size_t l = strlen(cmd);
		snprintf(cmd + l, sizeof(cmd) - l, "%s%s", l ? " " : "", argv[i]);
	}
	rc = xo_real_open(&x, XO_OPEN_XS);
	if (rc) {
		fprintf(stderr, "labexec: cannot open XenStore: %s\n", strerror(-rc));
		return 126;
	}
	snprintf(base, sizeof(base), "/local/domain/%u/data/labexec", domid);
	snprintf(path, sizeof(path), "%s/ready", base);
	rc = wait_node(x, path, "1", &v, 60000);
	free(v);
	if (rc) {
		fprintf(stderr, "labexec: no agent in domain %u (%s)\n", domid, path);
		code = 125;
		goto out;
	}
	snprintf(seq, sizeof(seq), "%ld.%ld", (long)getpid(), (long)time(NULL));
	snprintf(path, sizeof(path), "%s/rc", base);
	x->ops->xs_rm(x, XO_TXN_NONE, path);
	snprintf(path, sizeof(path), "%s/timeout", base);
	xo_printf(x, XO_TXN_NONE, path, "%llu", timeout_s);
	snprintf(path, sizeof(path), "%s/cmd", base);
	xo_write_str(x, XO_TXN_NONE, path, cmd);
	snprintf(path, sizeof(path), "%s/req", base);
	xo_write_str(x, XO_TXN_NONE, path, seq);

	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s ", seq);
	snprintf(path, sizeof(path), "%s/rc", base);
	rc = wait_node(x, path, prefix, &v, (int)(timeout_s * 1000 + 10000));
	if (rc) {
		fprintf(stderr, "labexec: domain %u did not answer within %llus\n", domid, timeout_s + 10);
		code = 125;
		goto out;
	}
	code = atoi(v + strlen(prefix));
	free(v);

	unsigned long long n = 0;
	snprintf(path, sizeof(path), "%s/out-n", base);
	if (!xo_read_str(x, XO_TXN_NONE, path, &v))
		xo_parse_uint(v, 4096, &n);
	free(v);
	for (unsigned long long i = 0; i < n; i++) {
		size_t len;
		snprintf(path, sizeof(path), "%s/out/%llu", base, i);
		if (x->ops->xs_read(x, XO_TXN_NONE, path, &v, &len) == 0) {
			fwrite(v, 1, len, stdout);
			free(v);
		}
	}
	fflush(stdout);
out:
	xo_close(x);
	return code;
}
