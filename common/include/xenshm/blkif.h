/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The Xen block-device protocol (blkif) as a guest's stock xen-blkfront
 * speaks it, x86_64 ABI ("x86_64-abi"): the layout of Xen's
 * public/io/blkif.h and public/io/ring.h, restated here because nothing
 * above the Xen layer includes a Xen header.  The static assertions pin
 * every offset the wire depends on.
 *
 * Sector numbers on the wire are always in 512-byte units, whatever the
 * disk's `sector-size`; a segment names one granted 4 KiB page and the
 * 512-byte sectors [first_sect, last_sect] inside it.
 */
#ifndef XENSHM_BLKIF_H
#define XENSHM_BLKIF_H

#include <stddef.h>
#include <stdint.h>

#define XBLK_OP_READ 0
#define XBLK_OP_WRITE 1
#define XBLK_OP_WRITE_BARRIER 2
#define XBLK_OP_FLUSH_DISKCACHE 3
#define XBLK_OP_DISCARD 5
#define XBLK_OP_INDIRECT 6

#define XBLK_RSP_OKAY 0
#define XBLK_RSP_ERROR (-1)
#define XBLK_RSP_EOPNOTSUPP (-2)

#define XBLK_MAX_SEGMENTS 11      /* BLKIF_MAX_SEGMENTS_PER_REQUEST */
#define XBLK_MAX_INDIRECT_PAGES 8 /* BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST */
#define XBLK_SEGS_PER_INDIRECT_PAGE 512u
/* What a backend of ours offers as feature-max-indirect-segments: 512 KiB per request. */
#define XBLK_MAX_INDIRECT_SEGMENTS 128u
#define XBLK_SECTOR_SHIFT 9
#define XBLK_SECTORS_PER_PAGE 8u

struct xblk_segment {
	uint32_t gref;
	uint8_t first_sect, last_sect;
	uint16_t pad;
};

struct xblk_request_rw {
	uint8_t operation;
	uint8_t nr_segments;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	struct xblk_segment seg[XBLK_MAX_SEGMENTS];
};

struct xblk_request_discard {
	uint8_t operation;
	uint8_t flag;
	uint16_t handle;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	uint64_t nr_sectors;
};

/* BLKIF_OP_INDIRECT: the segments are in pages the guest granted, named here. */
struct xblk_request_indirect {
	uint8_t operation;
	uint8_t indirect_op;
	uint16_t nr_segments;
	uint32_t pad;
	uint64_t id;
	uint64_t sector_number;
	uint16_t handle;
	uint16_t pad2;
	uint32_t indirect_grefs[XBLK_MAX_INDIRECT_PAGES];
	uint32_t pad3;
};

union xblk_request {
	uint8_t operation;
	struct xblk_request_rw rw;
	struct xblk_request_discard discard;
	struct xblk_request_indirect indirect;
	uint8_t raw[112];
};

struct xblk_response {
	uint64_t id;
	uint8_t operation;
	uint8_t pad;
	int16_t status;
	uint32_t pad2;
};

/* One ring entry is a request or its response, in place. */
union xblk_ring_entry {
	union xblk_request req;
	struct xblk_response rsp;
};

/* ring.h's shared ring header; the entries follow at offset 64. */
struct xblk_sring {
	uint32_t req_prod, req_event;
	uint32_t rsp_prod, rsp_event;
	uint8_t pad[48];
	union xblk_ring_entry ring[];
};

_Static_assert(sizeof(struct xblk_segment) == 8, "blkif segment");
_Static_assert(sizeof(struct xblk_request_rw) == 112, "blkif request");
_Static_assert(offsetof(struct xblk_request_rw, id) == 8, "blkif request id");
_Static_assert(offsetof(struct xblk_request_rw, sector_number) == 16, "blkif sector");
_Static_assert(offsetof(struct xblk_request_rw, seg) == 24, "blkif segments");
_Static_assert(offsetof(struct xblk_request_discard, nr_sectors) == 24, "blkif discard");
_Static_assert(offsetof(struct xblk_request_indirect, indirect_grefs) == 28, "blkif indirect grefs");
_Static_assert(sizeof(struct xblk_request_indirect) == 64, "blkif indirect request");
_Static_assert(sizeof(union xblk_request) == 112, "blkif request union");
_Static_assert(offsetof(struct xblk_response, status) == 10, "blkif status");
_Static_assert(sizeof(union xblk_ring_entry) == 112, "blkif ring entry");
_Static_assert(offsetof(struct xblk_sring, ring) == 64, "ring header");

/* Entries in a ring of `pages` pages: ring.h's __RING_SIZE, a power of two. */
static inline uint32_t xblk_ring_entries(unsigned int pages)
{
	uint32_t n = (uint32_t)((pages * 4096u - offsetof(struct xblk_sring, ring)) / sizeof(union xblk_ring_entry));
	uint32_t p = 1;

	while (p * 2 <= n)
		p *= 2;
	return p;
}

/*
 * A validated request, ready to execute: what to copy between which grant and which 4 KiB page
 * of the disk.  A segment that straddles two pages of the disk is two pieces.
 */
struct xblk_piece {
	uint32_t gref;
	uint16_t gnt_off;   /* within the granted page */
	uint16_t len;
	uint64_t page;      /* disk page */
	uint16_t page_off;  /* within it */
};

struct xblk_plan {
	uint8_t op;                 /* XBLK_OP_READ, _WRITE (also a flush with data), _FLUSH_DISKCACHE
				     * (no data), _DISCARD */
	uint64_t id;
	unsigned int npieces;
	struct xblk_piece piece[2 * XBLK_MAX_INDIRECT_SEGMENTS];
	uint64_t discard_first, discard_pages; /* the whole pages a discard covers */
};

/*
 * Validate a request copied out of the ring (never the shared slot itself) against a disk of
 * disk_pages 4 KiB pages.  0 and *plan; or the status to answer with (XBLK_RSP_ERROR,
 * XBLK_RSP_EOPNOTSUPP), with *why saying what was wrong.  plan->id is set either way.
 */
int xblk_plan_request(const union xblk_request *req, uint64_t disk_pages, struct xblk_plan *plan,
		      const char **why);

/*
 * An indirect request, in two steps.  First its header: 0 and the number of indirect pages to
 * copy in (their grefs are req->indirect.indirect_grefs[0 .. *npages)), or the status to answer
 * with.  Then, with those pages' segments copied out of the guest (segs, nr_segments of them),
 * the plan, as xblk_plan_request makes it.
 */
int xblk_indirect_pages(const union xblk_request *req, unsigned int *npages, const char **why);
int xblk_plan_indirect(const union xblk_request *req, const struct xblk_segment *segs, uint64_t disk_pages,
		       struct xblk_plan *plan, const char **why);

/* The vbd number of a disk name (xvdb, xvds, xvdaa): -EINVAL for anything else. */
int xshm_vbd_devid(const char *name, uint32_t *devid);

#endif
