// SPDX-License-Identifier: GPL-2.0-only
/* A disk's persistent grants: grant reference -> page mapped once (see pgrant.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pgrant.h"

int xshm_pgrants_init(struct xshm_pgrants *pg, struct xo *x, xo_domid_t domid, unsigned int max)
{
	unsigned int bits = 1;

	memset(pg, 0, sizeof(*pg));
	if (!max || max > (1u << 20))
		return -EINVAL;
	/* Half full at most: linear probes stay short. */
	while ((1u << bits) < 2 * max)
		bits++;
	pg->slot = calloc(1u << bits, sizeof(*pg->slot));
	if (!pg->slot)
		return -ENOMEM;
	pg->x = x;
	pg->domid = domid;
	pg->max = max;
	pg->bits = bits;
	return 0;
}

static unsigned int slot_of(const struct xshm_pgrants *pg, xo_gref_t ref)
{
	return (uint32_t)(ref * UINT32_C(2654435761)) >> (32 - pg->bits);
}

uint8_t *xshm_pgrants_page(struct xshm_pgrants *pg, xo_gref_t untrusted_ref)
{
	void *page;

	if (!pg->slot) /* not in use on this disk */
		return NULL;
	unsigned int mask = (1u << pg->bits) - 1, i = slot_of(pg, untrusted_ref);
	for (; pg->slot[i].page; i = (i + 1) & mask)
		if (pg->slot[i].ref == untrusted_ref) {
			pg->hits++;
			return pg->slot[i].page;
		}
	if (pg->count == pg->max || pg->map_failures >= XSHM_PGRANTS_MAX_FAILURES)
		return NULL;
	/* Writable either way: blkfront grants its pool writable, reads and writes share it. */
	if (pg->x->ops->gnt_map(pg->x, pg->domid, 1, &untrusted_ref, true, &page)) {
		pg->map_failures++;
		return NULL;
	}
	pg->slot[i].ref = untrusted_ref;
	pg->slot[i].page = page;
	pg->count++;
	return page;
}

void xshm_pgrants_fini(struct xshm_pgrants *pg)
{
	if (pg->slot)
		for (unsigned int i = 0; i < (1u << pg->bits); i++)
			if (pg->slot[i].page)
				pg->x->ops->gnt_unmap(pg->x, pg->slot[i].page, 1);
	free(pg->slot);
	memset(pg, 0, sizeof(*pg));
}
