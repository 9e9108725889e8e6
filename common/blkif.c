// SPDX-License-Identifier: LGPL-2.1-only
/* blkif request validation (see xenshm/blkif.h). */
#include <errno.h>
#include <string.h>

#include "xenshm/blkif.h"

#define DISK_PAGE 4096u

static int refuse(const char **why, const char *what)
{
	*why = what;
	return XBLK_RSP_ERROR;
}

/* Segments naming consecutive sectors from `at`: one piece per disk page each one touches. */
static int plan_segments(const struct xblk_segment *segs, unsigned int nseg, uint64_t at, uint64_t disk_pages,
			 struct xblk_plan *plan, const char **why)
{
	uint64_t disk_sectors = disk_pages * XBLK_SECTORS_PER_PAGE;

	if (at > disk_sectors)
		return refuse(why, "sector beyond the disk");
	for (unsigned int i = 0; i < nseg; i++) {
		const struct xblk_segment *sg = &segs[i];
		if (sg->last_sect >= XBLK_SECTORS_PER_PAGE || sg->first_sect > sg->last_sect)
			return refuse(why, "segment sectors");
		unsigned int nsect = sg->last_sect - sg->first_sect + 1u;
		if (at + nsect > disk_sectors) /* at <= disk_sectors < 2^61: no overflow */
			return refuse(why, "range beyond the disk");
		uint64_t byte = at << XBLK_SECTOR_SHIFT;
		unsigned int len = nsect << XBLK_SECTOR_SHIFT, done = 0;
		while (done < len) {
			struct xblk_piece *p = &plan->piece[plan->npieces++];
			unsigned int off = (unsigned int)((byte + done) % DISK_PAGE);
			unsigned int piece = len - done < DISK_PAGE - off ? len - done : DISK_PAGE - off;
			p->gref = sg->gref;
			p->gnt_off = (uint16_t)((sg->first_sect << XBLK_SECTOR_SHIFT) + done);
			p->len = (uint16_t)piece;
			p->page = (byte + done) / DISK_PAGE;
			p->page_off = (uint16_t)off;
			done += piece;
		}
		at += nsect;
	}
	return 0;
}

static int plan_rw(const struct xblk_request_rw *req, uint64_t disk_pages, struct xblk_plan *plan,
		   const char **why)
{
	unsigned int nseg = req->nr_segments;

	plan->op = req->operation == XBLK_OP_READ ? XBLK_OP_READ : XBLK_OP_WRITE;
	if (nseg > XBLK_MAX_SEGMENTS || (!nseg && req->operation != XBLK_OP_FLUSH_DISKCACHE))
		return refuse(why, "segment count");
	if (!nseg) {
		/* A pure flush: Linux leaves its sector at -1; nothing to check. */
		plan->op = XBLK_OP_FLUSH_DISKCACHE;
		return 0;
	}
	return plan_segments(req->seg, nseg, req->sector_number, disk_pages, plan, why);
}

static int plan_discard(const struct xblk_request_discard *req, uint64_t disk_pages, struct xblk_plan *plan,
			const char **why)
{
	uint64_t disk_sectors = disk_pages * XBLK_SECTORS_PER_PAGE;
	uint64_t first = req->sector_number, n = req->nr_sectors;

	plan->op = XBLK_OP_DISCARD;
	if (first > disk_sectors || n > disk_sectors - first)
		return refuse(why, "discard beyond the disk");
	/* Only whole pages are forgotten: a partial page keeps its bytes, which discard allows. */
	uint64_t p0 = (first + XBLK_SECTORS_PER_PAGE - 1) / XBLK_SECTORS_PER_PAGE;
	uint64_t p1 = (first + n) / XBLK_SECTORS_PER_PAGE;
	plan->discard_first = p0;
	plan->discard_pages = p1 > p0 ? p1 - p0 : 0;
	return 0;
}

int xblk_plan_request(const union xblk_request *req, uint64_t disk_pages, struct xblk_plan *plan,
		      const char **why)
{
	memset(plan, 0, sizeof(*plan));
	plan->id = req->rw.id; /* the same offset in every request layout */
	plan->op = req->operation;
	*why = NULL;
	if (disk_pages > (UINT64_C(1) << 50))
		return refuse(why, "disk too large");
	switch (req->operation) {
	case XBLK_OP_READ:
	case XBLK_OP_WRITE:
	case XBLK_OP_FLUSH_DISKCACHE:
		return plan_rw(&req->rw, disk_pages, plan, why);
	case XBLK_OP_DISCARD:
		return plan_discard(&req->discard, disk_pages, plan, why);
	case XBLK_OP_INDIRECT:
		*why = "indirect request: plan it with xblk_plan_indirect";
		return XBLK_RSP_ERROR;
	default:
		*why = "operation not supported";
		return XBLK_RSP_EOPNOTSUPP;
	}
}

int xblk_indirect_pages(const union xblk_request *req, unsigned int *npages, const char **why)
{
	const struct xblk_request_indirect *ind = &req->indirect;

	*why = NULL;
	if (ind->indirect_op != XBLK_OP_READ && ind->indirect_op != XBLK_OP_WRITE)
		return refuse(why, "indirect operation");
	if (!ind->nr_segments || ind->nr_segments > XBLK_MAX_INDIRECT_SEGMENTS)
		return refuse(why, "indirect segment count");
	*npages = (ind->nr_segments + XBLK_SEGS_PER_INDIRECT_PAGE - 1) / XBLK_SEGS_PER_INDIRECT_PAGE;
	return 0;
}

int xblk_plan_indirect(const union xblk_request *req, const struct xblk_segment *segs, uint64_t disk_pages,
		       struct xblk_plan *plan, const char **why)
{
	const struct xblk_request_indirect *ind = &req->indirect;
	unsigned int npages;
	int rc;

	memset(plan, 0, sizeof(*plan));
	plan->id = ind->id;
	plan->op = ind->indirect_op;
	if ((rc = xblk_indirect_pages(req, &npages, why)))
		return rc;
	if (disk_pages > (UINT64_C(1) << 50))
		return refuse(why, "disk too large");
	return plan_segments(segs, ind->nr_segments, ind->sector_number, disk_pages, plan, why);
}

int xshm_vbd_devid(const char *name, uint32_t *devid)
{
	uint64_t index = 0;
	const char *p;

	if (strncmp(name, "xvd", 3) || !name[3] || strlen(name) > 7)
		return -EINVAL;
	/* Letters count in bijective base 26, as Linux names disks: xvda = 0, xvdz = 25, xvdaa = 26. */
	for (p = name + 3; *p; p++) {
		if (*p < 'a' || *p > 'z')
			return -EINVAL;
		index = index * 26 + (uint64_t)(*p - 'a' + 1);
	}
	index--;
	if (index < 16)
		*devid = (202u << 8) | (uint32_t)(index << 4);
	else if (index < (1u << 20))
		*devid = (1u << 28) | (uint32_t)(index << 8);
	else
		return -ERANGE;
	return 0;
}
