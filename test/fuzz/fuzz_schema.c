// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: `xenshm schema-check`'s matcher on what it reads from a live
 * XenStore, where guests name their own nodes and values: a path and a
 * value (NUL-separated) against the schema built into xenshm.  A matched
 * path has permissions to expect (owner first: "n0 r5", "n5 r0"); nothing
 * crashes or reads out of bounds.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../xenstore-schema/schema.h"

extern const char xss_builtin_text[];
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct xss_schema schema;
	static int loaded;
	char err[256], why[256], perms[128];

	if (!loaded) {
		if (xss_parse(xss_builtin_text, "builtin", &schema, err, sizeof(err)))
			abort();
		loaded = 1;
	}
	char *buf = malloc(size + 2);
	memcpy(buf, data, size);
	buf[size] = 0;
	buf[size + 1] = 0;
	const char *path = buf, *value = buf + strlen(buf) + 1;
	struct xss_match m;
	if (xss_match_path(&schema, path, &m) == 0) {
		if (!m.entry || xss_expected_perms(&m, perms, sizeof(perms)) || !strchr("nrwb", perms[0]))
			abort();
		xss_value_ok(m.entry, value, why, sizeof(why));
	}
	xss_is_parent(&schema, path);
	free(buf);
	return 0;
}
