/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Who gives memory back when the host pool is short: xenshmd's rebalance
 * policy, as pure arithmetic over a snapshot of the guests (no Xen, no
 * clock), so that every rule is unit-tested.
 *
 * Measured use is what each guest holds now (pages granted) against its
 * fair share of the budget: budget x quota / sum of the connected guests'
 * quotas.  A guest asking for memory the pool no longer has is served by
 * reclaim only while it stays within its fair share; the pages are asked
 * back from guests above their share, each in proportion to its excess.
 *
 * Hysteresis, borrowed from two proven policies:
 *  - zswap's accept threshold (90%): once the pool has been full, a guest
 *    above its fair share may not grow again until use falls below 90% of
 *    the budget, so pages won back go to the guests that were short
 *    instead of straight back to the one that gave them;
 *  - selfballoon's interval (5 s): a guest is sent at most one reclaim
 *    notice per interval, and pages already asked for count as coming back.
 */
#ifndef XENSHM_POLICY_H
#define XENSHM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct xshm_policy_knobs {
	uint32_t reclaim_deadline_ms;  /* time a guest has to give pages back */
	uint32_t reclaim_interval_ms;  /* at most one notice per guest per interval */
	uint32_t accept_pct;           /* after the pool filled: growth above fair share resumes below this */
};

#define XSHM_POLICY_DEADLINE_MS_DEFAULT 5000u
#define XSHM_POLICY_INTERVAL_MS_DEFAULT 5000u
#define XSHM_POLICY_ACCEPT_PCT_DEFAULT 90u
/* The ranges xenshmd accepts for the knobs (/tool/xenshm, see the schema). */
#define XSHM_POLICY_DEADLINE_MS_MIN 100u
#define XSHM_POLICY_DEADLINE_MS_MAX 600000u
#define XSHM_POLICY_INTERVAL_MS_MAX 3600000u
#define XSHM_POLICY_ACCEPT_PCT_MIN 50u
#define XSHM_POLICY_ACCEPT_PCT_MAX 100u

void xshm_policy_defaults(struct xshm_policy_knobs *k);

struct xshm_policy_guest {
	uint64_t used, quota;  /* pages */
	uint64_t asked;        /* pages already asked back, not yet due */
	bool askable;          /* connected and not sent a notice within the interval */
	uint64_t reclaim;      /* out: pages to ask back now */
};

/* budget x quota / total_quota, rounded down; the whole budget for a lone guest. */
uint64_t xshm_policy_fair_share(uint64_t budget, uint64_t quota, uint64_t total_quota);

/*
 * Should a charge of `pages` by guest g be let through to the pool?  False
 * while the pool is in its full phase (*full, updated here) and g would end
 * above its fair share.  The full phase starts when a charge found the
 * budget short (xshm_policy_note_short) and ends once use drops below
 * accept_pct of the budget.
 */
bool xshm_policy_admit(const struct xshm_policy_knobs *k, const struct xshm_pool *pool, bool *full,
		       uint64_t fair_share, uint64_t used, uint64_t pages);

/*
 * Plan reclaim so that `need` more pages become free (need: what a request
 * lacks, or how far the pool is over a lowered budget).  g[requester] (or
 * none: n) is never asked.  Fills g[i].reclaim with pages to ask back from
 * guests above their fair share, in proportion to their excess, and
 * returns the total (may be less than need: the others are within their
 * share).
 */
uint64_t xshm_policy_plan(struct xshm_policy_guest *g, size_t n, size_t requester, uint64_t budget,
			  uint64_t need);

/*
 * Sizing a MemPipe rx ring (the relay fills it, one guest drains it).  The
 * relay notes every pass; once per window the policy picks the next size:
 *  - grow (double) when the relay had more than the ring could take (in
 *    at least XSHM_RX_FULL_PCT of its passes: a full window) in
 *    two windows in a row, or in the window whose verdict found the last
 *    growth paid (one doubling per 200 ms while each pays, not 300),
 *    unless an earlier growth from this size left the ring as full with
 *    less than XSHM_RX_GAIN_PCT more throughput than the lower of the two
 *    windows before it (judged on the XSHM_RX_VERDICT_WINDOWS windows after
 *    the one the switch happened in, undone only if none of them gained;
 *    then the receiver, not the ring, is
 *    the bottleneck: the ring goes back and stays below that ceiling for
 *    XSHM_RX_CEILING_WINDOWS, since more memory no longer helps);
 *  - shrink (halve) after XSHM_RX_QUIET_WINDOWS windows in a row whose
 *    peak fill stayed under a quarter of the ring, which also lifts the
 *    ceiling (the load changed).
 * Hysteresis: growth needs a full ring, shrinking a second of quiet windows
 * under 25%, and every change is kept XSHM_RX_DWELL_WINDOWS windows (a
 * switch costs a grant and a mapping), so a ring does not flap.
 */
#define XSHM_RX_WINDOW_MS 100u
#define XSHM_RX_QUIET_WINDOWS 10u
#define XSHM_RX_DWELL_WINDOWS 3u   /* windows a new size is kept before another change */
#define XSHM_RX_GAIN_PCT 5u
#define XSHM_RX_VERDICT_WINDOWS 2u /* windows in a row without the gain undo a growth */
#define XSHM_RX_CEILING_WINDOWS 20u
#define XSHM_RX_FULL_PCT 10u       /* a window is full when this share of its relay passes found the ring full */

struct xshm_rx_sizing {
	uint64_t start_ms, bytes, peak;  /* the current window */
	unsigned int full, quiet;
	unsigned int passes;             /* relay passes that moved bytes in the window */
	uint64_t before_bps;             /* throughput before the growth under test, 0 if none */
	uint64_t prev_bps;               /* the last window's throughput */
	bool prev_full;                  /* and whether the ring was full in it */
	unsigned int unpaid;             /* judged windows so far without the gain */
	unsigned int settle;             /* windows to skip before judging a growth */
	unsigned int dwell;              /* windows before another change is allowed */
	uint32_t ceiling;                /* 0, or a size growth is known not to pay beyond */
	unsigned int ceiling_age;        /* windows since the ceiling was set */
	uint32_t resizes;
	uint64_t fill_sum, fill_samples; /* peak fill of every window / ring size, for utilisation */
	uint64_t size_sum;
};

/* One relay pass into the ring: bytes moved, bytes in the ring after it, full with data left. */
void xshm_rx_note(struct xshm_rx_sizing *s, uint64_t moved, uint64_t fill, bool full);
/* The ring's next size in pages (== pages: keep it); call whenever, it decides once per window. */
uint32_t xshm_rx_next_size(struct xshm_rx_sizing *s, uint64_t now_ms, uint32_t pages, uint32_t min,
			   uint32_t max);
/* Peak fill / ring size averaged over the windows so far, in percent (100 if none). */
unsigned int xshm_rx_utilisation_pct(const struct xshm_rx_sizing *s);

#endif
