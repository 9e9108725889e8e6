// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: a blkif request as a hostile guest writes it into its ring
 * (and, for an indirect one, the page of segments it grants), planned
 * against a disk of any size.  Every piece of a plan must stay
 * inside its granted page and inside the disk, and the pieces must cover
 * exactly the sectors the segments name, in order.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/blkif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	union xblk_request req;
	struct xblk_plan plan;
	uint64_t disk_pages;
	const char *why;

	if (size < 8)
		return 0;
	memcpy(&disk_pages, data, 8);
	disk_pages %= (UINT64_C(1) << 32) + 3;
	memset(&req, 0, sizeof(req));
	memcpy(&req, data + 8, size - 8 < sizeof(req) ? size - 8 : sizeof(req));
	struct xblk_segment segs[XBLK_MAX_INDIRECT_SEGMENTS];
	const struct xblk_segment *walk = req.rw.seg;
	unsigned int nseg = req.rw.nr_segments;
	int st;
	memset(segs, 0, sizeof(segs));
	if (size > 8 + sizeof(req))
		memcpy(segs, data + 8 + sizeof(req),
		       size - 8 - sizeof(req) < sizeof(segs) ? size - 8 - sizeof(req) : sizeof(segs));
	if (req.operation == XBLK_OP_INDIRECT) {
		unsigned int npages;
		if (!xblk_indirect_pages(&req, &npages, &why) &&
		    (npages != 1 || req.indirect.nr_segments > XBLK_MAX_INDIRECT_SEGMENTS))
			abort();
		st = xblk_plan_indirect(&req, segs, disk_pages, &plan, &why);
		walk = segs;
		nseg = req.indirect.nr_segments;
	} else {
		st = xblk_plan_request(&req, disk_pages, &plan, &why);
	}
	if (plan.id != req.rw.id)
		abort();
	if (st) {
		if ((st != XBLK_RSP_ERROR && st != XBLK_RSP_EOPNOTSUPP) || !why)
			abort();
		return 0;
	}
	if (plan.op == XBLK_OP_DISCARD) {
		if (plan.discard_first + plan.discard_pages > disk_pages || plan.discard_pages > disk_pages)
			abort();
		return 0;
	}
	if (plan.op == XBLK_OP_FLUSH_DISKCACHE) {
		if (plan.npieces || nseg)
			abort();
		return 0;
	}
	/* Walk the segments again and match every byte to a piece. */
	uint64_t byte = req.rw.sector_number * 512u;
	unsigned int k = 0;
	if (!nseg || nseg > (walk == segs ? XBLK_MAX_INDIRECT_SEGMENTS : XBLK_MAX_SEGMENTS))
		abort();
	for (unsigned int i = 0; i < nseg; i++) {
		const struct xblk_segment *sg = &walk[i];
		unsigned int off = sg->first_sect * 512u, end = (sg->last_sect + 1u) * 512u;
		while (off < end) {
			const struct xblk_piece *p = &plan.piece[k++];
			if (k > plan.npieces || p->gref != sg->gref || p->gnt_off != off || !p->len ||
			    p->gnt_off + p->len > 4096u || p->page_off + p->len > 4096u ||
			    p->page * 4096u + p->page_off != byte || p->page >= disk_pages)
				abort();
			off += p->len;
			byte += p->len;
		}
		if (off != end)
			abort();
	}
	if (k != plan.npieces || byte > disk_pages * 4096u)
		abort();
	return 0;
}
