/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Segment page directories: how a guest learns the grant refs of a segment
 * without one XenStore key per page (displif's `be-alloc` pattern).
 *
 * xenshmd grants the segment's data pages and its directory pages in one
 * call (the directory is the tail), then writes the data refs into the
 * directory pages, chained by the gref of the next one.  The guest is told the first directory gref and the
 * page count (control ring response and XenStore segment entry), maps each
 * directory page, copies it out once and validates the copy.
 */
#ifndef XENSHM_SEGDIR_H
#define XENSHM_SEGDIR_H

#include <stdint.h>

#include "xenshm/xenops.h"

#define XSHM_SEGDIR_MAGIC 0x52494453u /* "SDIR" */
#define XSHM_SEGDIR_REFS 1020u

struct xshm_segdir_page {
	uint32_t magic;
	uint32_t count;     /* refs in this page */
	uint32_t next;      /* gref of the next directory page; 0 = last */
	uint32_t index;     /* position of this page in the chain, from 0 */
	uint32_t refs[XSHM_SEGDIR_REFS];
};

/* Directory pages needed for `pages` data pages. */
static inline uint32_t xshm_segdir_pages(uint32_t pages)
{
	return (pages + XSHM_SEGDIR_REFS - 1) / XSHM_SEGDIR_REFS;
}

/*
 * Fill directory page `index` of a chain describing refs[0..pages) whose
 * directory pages have grefs dir_refs[]; writes the whole page.
 */
void xshm_segdir_fill(struct xshm_segdir_page *page, uint32_t index, const xo_gref_t *refs,
		      uint32_t pages, const xo_gref_t *dir_refs);

/*
 * Guest side: validate a private copy of directory page number `index` of a
 * chain for `pages` data pages and append its refs to out[].  Returns the
 * gref of the next page (0 at the end) or -EPROTO if anything disagrees.
 */
int64_t xshm_segdir_parse(const struct xshm_segdir_page *untrusted_copy, uint32_t index,
			  uint32_t pages, xo_gref_t *out);

#endif
