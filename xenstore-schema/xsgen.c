// SPDX-License-Identifier: GPL-2.0-only
/*
 * xsgen: turn xenstore-schema/xenshm.schema into the C path builders
 * (`xsgen header FILE`), the reference doc (`xsgen doc FILE`), or a C file
 * holding the schema's text for `xenshm schema-check` (`xsgen ctext FILE`).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int main(int argc, char **argv)
{
	struct xss_schema s;
	char err[512];

	if (argc != 3 || (strcmp(argv[1], "header") && strcmp(argv[1], "doc") && strcmp(argv[1], "ctext"))) {
		fprintf(stderr, "usage: xsgen header|doc|ctext SCHEMA-FILE\n");
		return 2;
	}
	if (!strcmp(argv[1], "ctext")) {
		char *text = NULL;
		int rc = xss_load_text(argv[2], &text, err, sizeof(err));
		if (!rc) /* never embed a broken schema */
			rc = text ? xss_parse(text, argv[2], &s, err, sizeof(err)) : -ENOMEM;
		if (rc) {
			fprintf(stderr, "xsgen: %s\n", err);
			free(text);
			return 1;
		}
		xss_emit_ctext(text, stdout);
		xss_free(&s);
		free(text);
		return ferror(stdout) ? 1 : 0;
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
