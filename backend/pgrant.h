/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A disk's persistent grants (blkif `feature-persistent`, both ends agreeing).
 *
 * blkfront then keeps a fixed pool of pages granted for good and names the
 * same grant references request after request; the backend maps each once
 * and moves data with memcpy instead of a grant copy per batch (blkback does
 * the same).  Bounded: references past `max` are grant-copied as before, and
 * one that cannot be mapped (never granted, read-only, revoked) is too, so
 * the copy's status answers for it.  An honest blkfront names only grants it
 * made for us, so after XSHM_PGRANTS_MAX_FAILURES references that would not
 * map the set stops trying (each try costs dom0 a few system calls and a
 * hypercall, where a bad reference in a grant copy costs nothing extra).
 * Nothing is unmapped before the disk
 * disconnects: blkfront ends a persistent grant only after the backend has
 * let go of it, so a reference stays the same page while it is mapped.
 */
#ifndef XENSHM_BACKEND_PGRANT_H
#define XENSHM_BACKEND_PGRANT_H

#include <stdint.h>

#include "xenshm/xenops.h"

#define XSHM_PGRANTS_MAX_FAILURES 16u

struct xshm_pgrant {
	xo_gref_t ref;
	uint8_t *page;      /* NULL: a free slot */
};

struct xshm_pgrants {
	struct xo *x;
	xo_domid_t domid;
	unsigned int max, count;
	unsigned int bits;          /* the table has 2^bits slots, at least twice max */
	struct xshm_pgrant *slot;
	uint64_t hits, map_failures;
};

/* An empty set for `domid`'s grants, at most `max` kept (max > 0). */
int xshm_pgrants_init(struct xshm_pgrants *pg, struct xo *x, xo_domid_t domid, unsigned int max);
/* The page the guest granted as untrusted_ref, mapped writable now if new and there is room;
 * NULL: grant-copy this one. */
uint8_t *xshm_pgrants_page(struct xshm_pgrants *pg, xo_gref_t untrusted_ref);
/* Unmap every page and free the set (a zeroed set is left alone). */
void xshm_pgrants_fini(struct xshm_pgrants *pg);

#endif
