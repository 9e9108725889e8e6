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
