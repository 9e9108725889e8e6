/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host pool's arithmetic: one host budget, one account per guest
 * device, all in pages.  Charging checks the guest's quota first (its own
 * limit, the clearer refusal) and then the host budget.  Lowering a budget
 * or quota below what is in use is accepted: the excess is what the
 * reclaim policy must win back, and xshm_pool_over() tells how much.
 */
#ifndef XENSHM_POOL_H
#define XENSHM_POOL_H

#include <stdint.h>

struct xshm_pool {
	uint64_t budget;  /* pages dom0 may hand out in all */
	uint64_t used;    /* pages handed out */
};

struct xshm_account {
	uint64_t quota;   /* pages this guest may hold */
	uint64_t used;
};

/* 0, -EDQUOT (guest quota), -ENOSPC (host budget) or -EINVAL (zero pages). */
int xshm_pool_charge(struct xshm_pool *p, struct xshm_account *a, uint64_t pages);
void xshm_pool_release(struct xshm_pool *p, struct xshm_account *a, uint64_t pages);
uint64_t xshm_pool_free(const struct xshm_pool *p);
/* Pages in use beyond the budget (host) or the quota (guest): what reclaim must recover. */
uint64_t xshm_pool_over(const struct xshm_pool *p);
uint64_t xshm_account_over(const struct xshm_account *a);

/*
 * Parse a tunable in KiB as XenStore holds it: a strict decimal, a multiple
 * of 4 (whole pages), at most max_kb.  Returns pages, or -EINVAL/-ERANGE.
 */
int64_t xshm_parse_kb_pages(const char *untrusted, uint64_t max_kb);

#endif
