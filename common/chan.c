// SPDX-License-Identifier: LGPL-2.1-only
/* MemPipe channel ring segments: the header page and the attach helper both ends use. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/chan.h"
#include "xenshm/ctrl.h"

_Static_assert(sizeof(struct xshm_chan_page) == 4096, "channel header page");

void xshm_chan_page_init(struct xshm_chan_page *p, uint32_t chan_id)
{
	memset(p, 0, sizeof(*p));
	p->magic = XSHM_CHAN_PAGE_MAGIC;
	p->chan_id = chan_id;
	xshm_ring_shared_init(&p->ring);
}

int xshm_chan_ring_attach(struct xshm_ring *r, void *segment, uint32_t ring_pages,
			  enum xshm_ring_role role, bool message, uint32_t max_msg)
{
	struct xshm_chan_page *hdr = segment;
	void **chunks;
	int rc;

	if (!ring_pages || ring_pages > XSHM_CHAN_RING_PAGES_MAX)
		return -EINVAL;
	chunks = malloc(ring_pages * sizeof(*chunks));
	if (!chunks)
		return -ENOMEM;
	for (uint32_t i = 0; i < ring_pages; i++)
		chunks[i] = (uint8_t *)segment + (size_t)(i + 1) * 4096;
	rc = xshm_ring_attach(r, &hdr->ring, role, message ? XSHM_RING_MESSAGE : XSHM_RING_STREAM,
			      chunks, ring_pages, 12, max_msg);
	free(chunks);
	return rc;
}
