// SPDX-License-Identifier: GPL-2.0-only
/*
 * xsgen: turn xenstore-schema/xenshm.schema into the C path builders
 * (`xsgen header FILE`) or the reference doc (`xsgen doc FILE`).
 */
#include <stdio.h>
#include <string.h>

#include "schema.h"

int main(int argc, char **argv)
{
	struct xss_schema s;
	char err[512];

	if (argc != 3 || (strcmp(argv[1], "header") && strcmp(argv[1], "doc"))) {
		fprintf(stderr, "usage: xsgen header|doc SCHEMA-FILE\n");
		return 2;
	}
	if (xss_load(argv[2], &s, err, sizeof(err))) {
		fprintf(stderr, "xsgen: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "header"))
		xss_emit_header(&s, stdout);
	else
		xss_emit_doc(&s, argv[2], stdout);
	xss_free(&s);
	return ferror(stdout) ? 1 : 0;
}
