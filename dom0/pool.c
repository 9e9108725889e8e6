// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>

#include "xenshm/xenops.h"
#include "pool.h"

int xshm_pool_charge(struct xshm_pool *p, struct xshm_account *a, uint64_t pages)
{
	if (!pages)
		return -EINVAL;
	if (a->used > a->quota || pages > a->quota - a->used)
		return -EDQUOT;
	if (p->used > p->budget || pages > p->budget - p->used)
		return -ENOSPC;
	a->used += pages;
	p->used += pages;
	return 0;
}

void xshm_pool_release(struct xshm_pool *p, struct xshm_account *a, uint64_t pages)
{
	/* Only what this account holds: a wrong caller must not drain other guests' share. */
	if (pages > a->used)
		pages = a->used;
	a->used -= pages;
	p->used -= pages < p->used ? pages : p->used;
}

uint64_t xshm_pool_free(const struct xshm_pool *p)
{
	return p->used < p->budget ? p->budget - p->used : 0;
}

uint64_t xshm_pool_over(const struct xshm_pool *p)
{
	return p->used > p->budget ? p->used - p->budget : 0;
}

uint64_t xshm_account_over(const struct xshm_account *a)
{
	return a->used > a->quota ? a->used - a->quota : 0;
}

int64_t xshm_parse_kb_pages(const char *untrusted, uint64_t max_kb)
{
	unsigned long long kb;
	int rc = xo_parse_uint(untrusted, max_kb, &kb);

	if (rc)
		return rc;
	if (kb % 4)
		return -EINVAL;
	return (int64_t)(kb / 4);
}
