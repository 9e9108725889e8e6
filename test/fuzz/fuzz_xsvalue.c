// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: XenStore values as read from guest-owned nodes (states,
 * versions) and admin-written tunables (KiB sizes, domids): the strict
 * parsers accept only canonical decimals within their bounds, and what they
 * accept prints back to the same string.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dom0/pool.h"
#include "xenshm/xenops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), back[32];
	unsigned long long v;
	xo_domid_t d;

	memcpy(s, data, size);
	s[size] = 0; /* XenStore values arrive as C strings */
	if (xo_parse_uint(s, 1ull << 40, &v) == 0) {
		snprintf(back, sizeof(back), "%llu", v);
		if (strcmp(back, s) || v > (1ull << 40))
			abort();
	}
	if (xo_parse_domid(s, &d) == 0 && d >= 0x7ff0)
		abort(); /* reserved domids are never accepted */
	int64_t pages = xshm_parse_kb_pages(s, 1ull << 40);
	if (pages >= 0 && (xo_parse_uint(s, 1ull << 40, &v) || (uint64_t)pages * 4 != v))
		abort();
	free(s);
	return 0;
}
