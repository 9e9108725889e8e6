// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: a segment directory page as a guest copies it out of a page
 * xenshmd granted (or a hostile peer forged): parse it for any index and
 * page count and never write past the refs the count allows.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/segdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xshm_segdir_page page;
	uint32_t index, pages;

	if (size < 8)
		return 0;
	memcpy(&index, data, 4);
	memcpy(&pages, data + 4, 4);
	pages %= 4 * XSHM_SEGDIR_REFS + 7; /* up to a few pages of directory */
	index %= xshm_segdir_pages(pages) + 2;
	memset(&page, 0, sizeof(page));
	memcpy(&page, data + 8, size - 8 < sizeof(page) ? size - 8 : sizeof(page));
	/* Exactly `pages` refs: ASan catches any write past them. */
	xo_gref_t *out = malloc((pages ? pages : 1) * sizeof(*out));
	int64_t next = xshm_segdir_parse(&page, index, pages, out);
	if (next > UINT32_MAX)
		abort();
	free(out);
	return 0;
}
