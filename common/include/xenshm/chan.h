/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * MemPipe channel rings: the layout both ends agree on.
 *
 * A channel joins two guests.  Each guest maps only its own two ring
 * segments (a stock dom0 cannot grant one page to two guests from user
 * space): it produces into its tx ring and consumes its rx ring, and
 * xenshmd moves bytes from one guest's tx to the other's rx.  A ring
 * segment is one header page (struct xshm_chan_page) followed by
 * ring_pages data pages.
 */
#ifndef XENSHM_CHAN_H
#define XENSHM_CHAN_H

#include <stdint.h>

#include "xenshm/ring.h"

#define XSHM_CHAN_PAGE_MAGIC 0x4e414843u /* "CHAN" */

/* What the host says of the other end, in the header of the rx segment. */
enum xshm_peer_state {
	XSHM_PEER_OPEN = 0,
	XSHM_PEER_CLOSED = 1, /* closed in order: everything it sent is in this ring */
	XSHM_PEER_RESET = 2,  /* died, disconnected or broke the protocol */
	XSHM_PEER_SHUTDOWN = 3, /* sends no more (everything it sent is in this ring), still reads */
};

/*
 * Replacing a ring (xenshmd resizes a sized channel's rx this way): the
 * producer publishes everything up to switch_at, stops writing here, fills
 * in the next segment, then sets switch_seg.  The consumer reads up to
 * switch_at, maps switch_seg (switch_pages data pages, directory at
 * switch_dir_gref), unmaps this one, sets `attached` in the new one's
 * header and goes on there from index 0.  Until `attached` is set the
 * producer keeps the old ring and does not switch again.
 *
 * A tx ring is the guest's to replace, so xenshmd offers one (offer_*);
 * the guest switches on its next write exactly as above, naming the offered
 * segment in switch_seg; xenshmd follows once it has drained the old ring
 * and refuses any other segment.
 */
struct xshm_chan_page {
	struct xshm_ring_shared ring;
	uint32_t magic;
	uint32_t chan_id;
	uint32_t peer_state;  /* rx segment: written by xenshmd only */
	uint32_t reserved;
	uint64_t switch_at;
	uint32_t switch_seg;  /* 0 until the ring is replaced; written last */
	uint32_t switch_dir_gref;
	uint32_t switch_pages;
	uint32_t attached;    /* the consumer maps this ring now (it may be switched again) */
	/* tx segment: xenshmd offers a replacement; the guest switches to it as above. */
	uint32_t offer_seg;   /* 0, or the segment to move to; written last */
	uint32_t offer_dir_gref;
	uint32_t offer_pages;
	uint32_t offer_reserved;
	uint8_t pad[4096 - sizeof(struct xshm_ring_shared) - 56];
};

/* Make a fresh segment's header (the host does, before the guest sees it). */
void xshm_chan_page_init(struct xshm_chan_page *p, uint32_t chan_id);

/*
 * Attach one end to a mapped ring segment (header page, then ring_pages
 * data pages, contiguous in this address space).  As xshm_ring_attach.
 */
int xshm_chan_ring_attach(struct xshm_ring *r, void *segment, uint32_t ring_pages,
			  enum xshm_ring_role role, bool message, uint32_t max_msg);

#endif
