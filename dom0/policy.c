// SPDX-License-Identifier: GPL-2.0-only
/* xenshmd's rebalance policy (see policy.h). */
#include "policy.h"

void xshm_policy_defaults(struct xshm_policy_knobs *k)
{
	k->reclaim_deadline_ms = XSHM_POLICY_DEADLINE_MS_DEFAULT;
	k->reclaim_interval_ms = XSHM_POLICY_INTERVAL_MS_DEFAULT;
	k->accept_pct = XSHM_POLICY_ACCEPT_PCT_DEFAULT;
}

uint64_t xshm_policy_fair_share(uint64_t budget, uint64_t quota, uint64_t total_quota)
{
	if (!total_quota || quota >= total_quota)
		return budget;
	/* 128-bit product: budgets and quotas are page counts up to 2^40. */
	return (uint64_t)((unsigned __int128)budget * quota / total_quota);
}

bool xshm_policy_admit(const struct xshm_policy_knobs *k, const struct xshm_pool *pool, bool *full,
		       uint64_t fair_share, uint64_t used, uint64_t pages)
{
	if (*full && (unsigned __int128)pool->used * 100 < (unsigned __int128)pool->budget * k->accept_pct)
		*full = false;
	if (!*full)
		return true;
	return used <= fair_share && pages <= fair_share - used;
}

/* Pages g holds beyond its fair share and not yet asked for; 0 for guests that cannot be asked. */
static uint64_t excess(const struct xshm_policy_guest *g, uint64_t budget, uint64_t total_quota)
{
	uint64_t fair = xshm_policy_fair_share(budget, g->quota, total_quota);
	uint64_t keeps = g->asked < g->used ? g->used - g->asked : 0;

	return g->askable && keeps > fair ? keeps - fair : 0;
}

uint64_t xshm_policy_plan(struct xshm_policy_guest *g, size_t n, size_t requester, uint64_t budget,
			  uint64_t need)
{
	uint64_t total_quota = 0, total_excess = 0, target, planned = 0;

	for (size_t i = 0; i < n; i++) {
		g[i].reclaim = 0;
		total_quota += g[i].quota;
	}
	for (size_t i = 0; i < n; i++)
		if (i != requester)
			total_excess += excess(&g[i], budget, total_quota);
	if (!total_excess || !need)
		return 0;
	target = need < total_excess ? need : total_excess;
	/* Proportional shares rounded down, then the remainder a page at a time. */
	for (size_t i = 0; i < n; i++) {
		if (i == requester)
			continue;
		g[i].reclaim = (uint64_t)((unsigned __int128)target * excess(&g[i], budget, total_quota) /
					  total_excess);
		planned += g[i].reclaim;
	}
	for (size_t i = 0; planned < target && i < n; i++) {
		if (i == requester)
			continue;
		uint64_t room = excess(&g[i], budget, total_quota) - g[i].reclaim;
		uint64_t add = target - planned < room ? target - planned : room;
		g[i].reclaim += add;
		planned += add;
	}
	return planned;
}

void xshm_rx_note(struct xshm_rx_sizing *s, uint64_t moved, uint64_t fill, bool full)
{
	s->bytes += moved;
	if (moved)
		s->passes++;
	if (fill > s->peak)
		s->peak = fill;
	if (full)
		s->full++;
}

static void new_window(struct xshm_rx_sizing *s, uint64_t now_ms)
{
	s->start_ms = now_ms;
	s->bytes = s->peak = 0;
	s->full = s->passes = 0;
}

/*
 * Was the ring the bottleneck in this window?  Not on one full pass out of
 * thousands: a writer-bound stream catches a full ring now and then (a burst
 * while the reader was descheduled), and counting those doubled a 2 MiB ring
 * that peaked at 1.3-1.6 MiB (lab run 27, 64 B).
 */
static bool window_full(const struct xshm_rx_sizing *s)
{
	return s->full && (uint64_t)s->full * 100 >= (uint64_t)s->passes * XSHM_RX_FULL_PCT;
}

static bool may_grow(const struct xshm_rx_sizing *s, uint32_t pages, uint32_t max)
{
	return pages < max && (!s->ceiling || pages < s->ceiling);
}

/* Double (within max), to be judged against the lower of the last two windows' throughput. */
static uint32_t grow(struct xshm_rx_sizing *s, uint32_t pages, uint32_t max, uint64_t bps,
		     uint64_t prev_bps)
{
	uint64_t base = prev_bps < bps ? prev_bps : bps;

	s->before_bps = base ? base : 1;
	s->settle = 1;
	return pages * 2 > max ? max : pages * 2;
}

uint32_t xshm_rx_next_size(struct xshm_rx_sizing *s, uint64_t now_ms, uint32_t pages, uint32_t min,
			   uint32_t max)
{
	uint64_t elapsed = now_ms - s->start_ms, size = (uint64_t)pages * 4096, bps;
	uint32_t next = pages;
	bool full = window_full(s);

	if (!s->start_ms || now_ms < s->start_ms) {
		new_window(s, now_ms ? now_ms : 1);
		return pages;
	}
	if (elapsed < XSHM_RX_WINDOW_MS)
		return pages;
	bps = s->bytes * 1000 / elapsed;
	if (s->bytes || s->peak) {
		s->fill_sum += s->peak * 100 / size;
		s->fill_samples++;
	}
	if (s->ceiling && ++s->ceiling_age >= XSHM_RX_CEILING_WINDOWS) {
		s->ceiling = 0; /* the load may have changed: growth may pay again */
		s->ceiling_age = 0;
	}
	if (s->settle) {
		s->settle--; /* the guest moves over to the new ring in this window */
	} else if (s->dwell) {
		s->dwell--;
	} else if (s->before_bps) {
		/* The verdict on the last growth: a ring that still fills without moving more is not
		 * the bottleneck (the receiver is): memory does not help.  One that no longer fills
		 * has what it needs.  One window that moved less is not enough to say so (a window
		 * also holds the other guest's scheduling): XSHM_RX_VERDICT_WINDOWS in a row. */
		bool gained = bps * 100 >= s->before_bps * (100 + XSHM_RX_GAIN_PCT);
		bool paid = !full || gained;
		if (paid || ++s->unpaid >= XSHM_RX_VERDICT_WINDOWS) {
			s->before_bps = 0;
			s->unpaid = 0;
			if (!paid) {
				s->ceiling = pages / 2;
				s->ceiling_age = 0;
				next = pages / 2;
			} else if (full && may_grow(s, pages, max)) {
				/* Still full at the new pace: the ring is still the bottleneck, grow
				 * again now rather than wait two more full windows (one growth per
				 * verdict: 64 KiB to 4 MiB took ~2 s, a whole benchmark warm-up). */
				next = grow(s, pages, max, bps, s->prev_full ? s->prev_bps : bps);
			}
		}
		s->quiet = 0;
	} else if (full && s->prev_full && may_grow(s, pages, max)) {
		/* Full two windows in a row; the throughput to beat is the lower of the two (a first
		 * window also fills two empty rings: a burst the ring size did not buy). */
		next = grow(s, pages, max, bps, s->prev_bps);
		s->quiet = 0;
	} else if (s->peak * 4 < size) {
		if (++s->quiet >= XSHM_RX_QUIET_WINDOWS && pages > min) {
			next = pages / 2 < min ? min : pages / 2;
			s->ceiling = 0;
			s->quiet = 0;
		}
	} else {
		s->quiet = 0;
	}
	s->prev_bps = bps;
	s->prev_full = full;
	if (next < min)
		next = min;
	if (next != pages) {
		s->resizes++;
		s->dwell = s->before_bps ? 0 : XSHM_RX_DWELL_WINDOWS; /* a growth is judged first */
	}
	new_window(s, now_ms);
	return next;
}

unsigned int xshm_rx_utilisation_pct(const struct xshm_rx_sizing *s)
{
	return s->fill_samples ? (unsigned int)(s->fill_sum / s->fill_samples) : 100;
}
