// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: xenshmd's relay between two hostile guests.  The source ring's
 * producer and the destination ring's consumer are both the fuzzer, which
 * moves their indices anywhere and scribbles on the source data (frame
 * headers included) between splices.  The relay must never touch memory
 * outside either ring (ASan watches), every frame it writes must be one a
 * well-behaved consumer accepts, and a corrupt source stays corrupt.
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
	struct xshm_ring_shared *ssh = calloc(1, sizeof(*ssh)), *dsh = calloc(1, sizeof(*dsh));
	uint8_t *schunk[NCHUNKS], *dchunk[NCHUNKS];
	struct xshm_ring src, dst, check;
	bool n1, n2, src_failed = false;
	uint8_t buf[1u << CHUNK_SHIFT << 2];

	for (int i = 0; i < NCHUNKS; i++) {
		schunk[i] = malloc(1u << CHUNK_SHIFT);
		dchunk[i] = malloc(1u << CHUNK_SHIFT);
	}
	unsigned int flags = (unsigned int)take(&s, 1);
	enum xshm_ring_mode mode = (flags & 1) ? XSHM_RING_MESSAGE : XSHM_RING_STREAM;
	uint32_t sn = 1 + ((flags >> 1) & 3), dn = 1 + ((flags >> 3) & 3);
	if (xshm_ring_attach(&src, ssh, XSHM_RING_CONSUMER, mode, (void *const *)schunk, sn, CHUNK_SHIFT, 0))
		goto out;
	if (xshm_ring_attach(&dst, dsh, XSHM_RING_PRODUCER, mode, (void *const *)dchunk, dn, CHUNK_SHIFT, 0)) {
		xshm_ring_detach(&src);
		goto out;
	}
	/* A trusted reader of dst, to check what the relay writes there (it owns dsh->cons). */
	bool checking = !xshm_ring_attach(&check, dsh, XSHM_RING_CONSUMER, mode, (void *const *)dchunk, dn,
					  CHUNK_SHIFT, 0);
	while (s.left) {
		unsigned int op = (unsigned int)take(&s, 1) % 5;
		ssize_t rc;
		switch (op) {
		case 0: /* the sending guest moves its producer index anywhere */
			ssh->prod = take(&s, 8);
			break;
		case 1: /* ... or scribbles on its data and frame headers */
			schunk[take(&s, 1) % sn][take(&s, 1) % (1u << CHUNK_SHIFT)] = (uint8_t)take(&s, 1);
			break;
		case 2:
			rc = xshm_ring_splice(&src, &dst, (size_t)take(&s, 2), &n1, &n2);
			if (src_failed && rc >= 0)
				abort(); /* a corrupt source never relays again */
			if (rc == -EPROTO && src.error)
				src_failed = true;
			break;
		case 3:
			rc = xshm_ring_discard(&src, (size_t)take(&s, 2), &n1);
			if (src_failed && rc >= 0)
				abort();
			if (rc == -EPROTO && src.error)
				src_failed = true;
			break;
		default:
			/* The receiving guest reads: whatever the sender did, the frames are sound. */
			if (!checking)
				break;
			rc = mode == XSHM_RING_STREAM ? xshm_ring_read(&check, buf, sizeof(buf), &n1) :
							 xshm_ring_recv(&check, buf, sizeof(buf), &n1);
			if (rc == -EPROTO)
				abort();
			break;
		}
	}
	if (checking)
		xshm_ring_detach(&check);
	xshm_ring_detach(&src);
	xshm_ring_detach(&dst);
out:
	for (int i = 0; i < NCHUNKS; i++) {
		free(schunk[i]);
		free(dchunk[i]);
	}
	free(ssh);
	free(dsh);
	return 0;
}
