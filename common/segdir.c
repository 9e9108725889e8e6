// SPDX-License-Identifier: LGPL-2.1-only
#include <errno.h>
#include <string.h>

#include "xenshm/segdir.h"

_Static_assert(sizeof(struct xshm_segdir_page) == XO_PAGE_SIZE, "a directory is one page");

void xshm_segdir_fill(struct xshm_segdir_page *page, uint32_t index, const xo_gref_t *refs,
		      uint32_t pages, const xo_gref_t *dir_refs)
{
	uint32_t first = index * XSHM_SEGDIR_REFS;
	uint32_t count = pages - first < XSHM_SEGDIR_REFS ? pages - first : XSHM_SEGDIR_REFS;

	memset(page, 0, sizeof(*page));
	page->magic = XSHM_SEGDIR_MAGIC;
	page->count = count;
	page->index = index;
	page->next = index + 1 < xshm_segdir_pages(pages) ? dir_refs[index + 1] : 0;
	memcpy(page->refs, refs + first, count * sizeof(*refs));
}

int64_t xshm_segdir_parse(const struct xshm_segdir_page *untrusted_copy, uint32_t index,
			  uint32_t pages, xo_gref_t *out)
{
	uint32_t ndir = xshm_segdir_pages(pages);
	uint32_t first = index * XSHM_SEGDIR_REFS;
	uint32_t want;

	if (!pages || index >= ndir)
		return -EPROTO;
	want = pages - first < XSHM_SEGDIR_REFS ? pages - first : XSHM_SEGDIR_REFS;
	if (untrusted_copy->magic != XSHM_SEGDIR_MAGIC || untrusted_copy->index != index ||
	    untrusted_copy->count != want)
		return -EPROTO;
	/* The chain length is fixed by the page count: no loops, no early or late end. */
	if ((index + 1 < ndir) != (untrusted_copy->next != 0))
		return -EPROTO;
	memcpy(out + first, untrusted_copy->refs, want * sizeof(*out));
	return untrusted_copy->next;
}
