// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: one end of a ring whose peer is the fuzzer.  The input is a
 * script: each step either overwrites the peer's shared index (any 64-bit
 * value), scribbles on the data area, or makes our end read, write, send or
 * receive.  Whatever the peer does, our end must never touch memory outside
 * the ring (ASan watches) and, once it reports -EPROTO, must keep doing so.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/ring.h"
#include "script.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHUNK_SHIFT 6
#define NCHUNKS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script s = { data, size };
	struct xshm_ring_shared *sh = calloc(1, sizeof(*sh));
	/* Separate allocations: a chunk overrun hits an ASan redzone. */
	uint8_t *chunk[NCHUNKS];
	uint8_t buf[512];
	struct xshm_ring r;
	bool notify, failed = false;

	for (int i = 0; i < NCHUNKS; i++)
		chunk[i] = malloc(1u << CHUNK_SHIFT);
	unsigned int flags = (unsigned int)take(&s, 1);
	enum xshm_ring_role role = (flags & 1) ? XSHM_RING_CONSUMER : XSHM_RING_PRODUCER;
	enum xshm_ring_mode mode = (flags & 2) ? XSHM_RING_MESSAGE : XSHM_RING_STREAM;
	uint32_t nchunks = 1 + ((flags >> 2) & 3);
	sh->prod = take(&s, 8);
	sh->cons = take(&s, 8);
	if (xshm_ring_attach(&r, sh, role, mode, (void *const *)chunk, nchunks, CHUNK_SHIFT,
			     (uint32_t)take(&s, 2)))
		goto out;
	while (s.left) {
		unsigned int op = (unsigned int)take(&s, 1);
		size_t len = (size_t)take(&s, 2) % sizeof(buf);
		ssize_t rc = 0;
		switch (op % 6) {
		case 0: /* the peer moves its index anywhere */
			if (role == XSHM_RING_PRODUCER)
				sh->cons = take(&s, 8);
			else
				sh->prod = take(&s, 8);
			continue;
		case 1: /* the peer scribbles on the data */
			chunk[take(&s, 1) % nchunks][take(&s, 1) % (1u << CHUNK_SHIFT)] = (uint8_t)take(&s, 1);
			continue;
		case 2:
			memset(buf, 0xa5, len);
			rc = mode == XSHM_RING_STREAM ? xshm_ring_write(&r, buf, len, &notify) :
							 xshm_ring_send(&r, buf, len, &notify);
			break;
		case 3:
			rc = mode == XSHM_RING_STREAM ? xshm_ring_read(&r, buf, len, &notify) :
							 xshm_ring_recv(&r, buf, len, &notify);
			break;
		case 4:
			rc = xshm_ring_available(&r);
			break;
		default:
			rc = xshm_ring_space(&r);
			(void)xshm_ring_prepare_wait(&r, len);
			break;
		}
		if (failed && rc != -EPROTO && (op % 6) <= 3 && rc >= 0)
			abort(); /* -EPROTO is sticky: nothing may succeed after it */
		if (rc == -EPROTO)
			failed = true;
		if (rc > (ssize_t)sizeof(buf) && (op % 6) == 3)
			abort();
	}
	xshm_ring_detach(&r);
out:
	for (int i = 0; i < NCHUNKS; i++)
		free(chunk[i]);
	free(sh);
	return 0;
}
