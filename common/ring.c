// SPDX-License-Identifier: LGPL-2.1-only
/*
 * The SPSC ring.  Ordering (the same as Xen's ring.h and libxenvchan):
 *   producer: load-acquire cons -> write data -> store-release prod
 *   consumer: load-acquire prod -> read data  -> store-release cons
 * Wake-ups use the Dekker pattern: the sleeper stores its waiting flag,
 * full fence, re-reads the peer index; the waker publishes its index, full
 * fence, reads (and clears) the flag.  One of the two must see the other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/ring.h"

_Static_assert(sizeof(struct xshm_ring_shared) == 3 * XSHM_RING_CACHELINE, "ring header layout");

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define FENCE() __atomic_thread_fence(__ATOMIC_SEQ_CST)

struct frame_hdr {
	uint32_t len;
	uint16_t magic;
	uint16_t reserved;
};
_Static_assert(sizeof(struct frame_hdr) == XSHM_RING_FRAME_HDR, "frame header");

static uint64_t frame_size(uint64_t len)
{
	return XSHM_RING_FRAME_HDR + ((len + 7) & ~(uint64_t)7);
}

void xshm_ring_shared_init(struct xshm_ring_shared *sh)
{
	memset(sh, 0, sizeof(*sh));
	FENCE();
}

int xshm_ring_attach(struct xshm_ring *r, struct xshm_ring_shared *sh, enum xshm_ring_role role,
		     enum xshm_ring_mode mode, void *const *chunks, uint32_t nchunks,
		     unsigned int chunk_shift, uint32_t max_msg)
{
	uint64_t untrusted_prod, untrusted_cons;

	memset(r, 0, sizeof(*r));
	if (!sh || !chunks || !nchunks || chunk_shift < 6 || chunk_shift > 16)
		return -EINVAL;
	r->chunks = malloc(nchunks * sizeof(*r->chunks));
	if (!r->chunks)
		return -ENOMEM;
	memcpy(r->chunks, chunks, nchunks * sizeof(*r->chunks));
	r->sh = sh;
	r->nchunks = nchunks;
	r->chunk_shift = chunk_shift;
	r->size = (uint64_t)nchunks << chunk_shift;
	r->role = role;
	r->mode = mode;
	r->contig = r->chunks[0];
	for (uint32_t i = 1; i < nchunks; i++) {
		if (r->chunks[i] != r->chunks[0] + ((uint64_t)i << chunk_shift)) {
			r->contig = NULL;
			break;
		}
	}
	uint64_t cap = r->size - XSHM_RING_FRAME_HDR;
	r->max_msg = (uint32_t)((max_msg && max_msg < cap) ? max_msg : (cap > UINT32_MAX ? UINT32_MAX : cap));

	/* One read of each shared index; from here on the private copies rule. */
	untrusted_prod = LOAD_ACQ(&sh->prod);
	untrusted_cons = LOAD_ACQ(&sh->cons);
	if (untrusted_prod - untrusted_cons > r->size ||
	    (mode == XSHM_RING_MESSAGE && ((untrusted_prod | untrusted_cons) & 7))) {
		xshm_ring_detach(r);
		return -EPROTO;
	}
	r->mine = role == XSHM_RING_PRODUCER ? untrusted_prod : untrusted_cons;
	r->peer = role == XSHM_RING_PRODUCER ? untrusted_cons : untrusted_prod;
	return 0;
}

void xshm_ring_detach(struct xshm_ring *r)
{
	free(r->chunks);
	r->chunks = NULL;
	r->contig = NULL;
	r->sh = NULL;
}

size_t xshm_ring_max_payload(const struct xshm_ring *r)
{
	uint64_t fit = (r->size - XSHM_RING_FRAME_HDR) & ~(uint64_t)7;

	return fit < r->max_msg ? fit : r->max_msg;
}

/* ---------- data movement (bounds come from private state only) ---------- */

/* The largest piece of the data area that is contiguous from index idx. */
static uint8_t *area_at(const struct xshm_ring *r, uint64_t idx, uint64_t *room)
{
	uint64_t off = idx % r->size;
	uint64_t mask = ((uint64_t)1 << r->chunk_shift) - 1;

	if (r->contig) {
		*room = r->size - off;
		return r->contig + off;
	}
	*room = mask + 1 - (off & mask);
	return r->chunks[off >> r->chunk_shift] + (off & mask);
}

/* Copy between `buf` and the data area at ring index idx, piece by piece; to_ring picks the direction. */
static void copy_ring(struct xshm_ring *r, uint64_t idx, uint8_t *buf, size_t len, bool to_ring)
{
	while (len) {
		uint64_t room;
		uint8_t *area = area_at(r, idx, &room);
		size_t n = room < len ? (size_t)room : len;
		if (to_ring)
			memcpy(area, buf, n);
		else
			memcpy(buf, area, n);
		buf += n;
		len -= n;
		idx += n;
	}
}

static void copy_in(struct xshm_ring *r, uint64_t idx, const void *src, size_t len)
{
	copy_ring(r, idx, (uint8_t *)(uintptr_t)src, len, true);
}

static void copy_out(struct xshm_ring *r, uint64_t idx, void *dst, size_t len)
{
	copy_ring(r, idx, dst, len, false);
}

/* ---------- the peer's index ---------- */

/*
 * Load the peer's index once and validate it: it may only move forward, a
 * consumer never past what was produced, a producer never more than one
 * ring ahead of what was consumed.  Anything else is a lie.
 */
static int refresh_peer(struct xshm_ring *r)
{
	uint64_t untrusted, limit;

	if (r->error)
		return r->error;
	if (r->role == XSHM_RING_PRODUCER) {
		untrusted = LOAD_ACQ(&r->sh->cons);
		limit = r->mine - r->peer;            /* cons may reach our prod */
	} else {
		untrusted = LOAD_ACQ(&r->sh->prod);
		limit = r->mine + r->size - r->peer;  /* prod may be one ring ahead of cons */
	}
	if (untrusted - r->peer > limit ||
	    (r->mode == XSHM_RING_MESSAGE && (untrusted & 7))) {
		r->error = -EPROTO;
		return r->error;
	}
	r->peer = untrusted;
	return 0;
}

static uint64_t space_cached(const struct xshm_ring *r)
{
	return r->size - (r->mine - r->peer);
}

static uint64_t avail_cached(const struct xshm_ring *r)
{
	return r->peer - r->mine;
}

/* Publish our index, then tell whether the peer asked for a wake-up. */
static bool publish(struct xshm_ring *r)
{
	uint32_t *flag;

	if (r->role == XSHM_RING_PRODUCER) {
		STORE_REL(&r->sh->prod, r->mine);
		flag = &r->sh->cons_waiting;
	} else {
		STORE_REL(&r->sh->cons, r->mine);
		flag = &r->sh->prod_waiting;
	}
	FENCE();
	if (!__atomic_load_n(flag, __ATOMIC_RELAXED))
		return false;
	/* The peer's threshold only decides when to kick it: any value is harmless to us. */
	if (r->role == XSHM_RING_CONSUMER &&
	    (int64_t)(r->mine - __atomic_load_n(&r->sh->prod_wake_at, __ATOMIC_RELAXED)) < 0)
		return false;
	return __atomic_exchange_n(flag, 0, __ATOMIC_ACQ_REL) != 0;
}

ssize_t xshm_ring_available(struct xshm_ring *r)
{
	int rc = r->role == XSHM_RING_CONSUMER ? refresh_peer(r) : -EINVAL;

	return rc ? rc : (ssize_t)avail_cached(r);
}

ssize_t xshm_ring_space(struct xshm_ring *r)
{
	int rc = r->role == XSHM_RING_PRODUCER ? refresh_peer(r) : -EINVAL;

	return rc ? rc : (ssize_t)space_cached(r);
}

bool xshm_ring_prepare_wait(struct xshm_ring *r, size_t need)
{
	uint32_t *flag = r->role == XSHM_RING_PRODUCER ? &r->sh->prod_waiting : &r->sh->cons_waiting;

	if (r->error)
		return false;
	if (r->role == XSHM_RING_PRODUCER) {
		/* Wake me once the consumer has freed `need` bytes: cons >= mine + need - size. */
		uint64_t want = need ? need : 1;
		if (want > r->size)
			want = r->size;
		__atomic_store_n(&r->sh->prod_wake_at, r->mine + want - r->size, __ATOMIC_RELAXED);
	}
	__atomic_store_n(flag, 1, __ATOMIC_RELAXED);
	FENCE();
	if (refresh_peer(r))
		return false;
	if (r->role == XSHM_RING_PRODUCER)
		return space_cached(r) < (need ? need : 1);
	return avail_cached(r) == 0;
}

/* ---------- stream mode ---------- */

ssize_t xshm_ring_write(struct xshm_ring *r, const void *buf, size_t len, bool *notify)
{
	uint64_t n;

	*notify = false;
	if (r->error)
		return r->error;
	if (r->role != XSHM_RING_PRODUCER || r->mode != XSHM_RING_STREAM)
		return -EINVAL;
	if (!len)
		return 0;
	/* The cached index is a lower bound on space: only look again when it is not enough. */
	if (space_cached(r) < len && refresh_peer(r))
		return r->error;
	n = space_cached(r);
	if (!n)
		return -EAGAIN;
	if (n > len)
		n = len;
	copy_in(r, r->mine, buf, (size_t)n);
	r->mine += n;
	*notify = publish(r);
	return (ssize_t)n;
}

ssize_t xshm_ring_read(struct xshm_ring *r, void *buf, size_t len, bool *notify)
{
	uint64_t n;

	*notify = false;
	if (r->error)
		return r->error;
	if (r->role != XSHM_RING_CONSUMER || r->mode != XSHM_RING_STREAM)
		return -EINVAL;
	if (!len)
		return 0;
	if (avail_cached(r) < len && refresh_peer(r))
		return r->error;
	n = avail_cached(r);
	if (!n)
		return -EAGAIN;
	if (n > len)
		n = len;
	copy_out(r, r->mine, buf, (size_t)n);
	r->mine += n;
	*notify = publish(r);
	return (ssize_t)n;
}

/* ---------- message mode ---------- */

int xshm_ring_send(struct xshm_ring *r, const void *msg, size_t len, bool *notify)
{
	struct frame_hdr hdr = { .magic = XSHM_RING_FRAME_MAGIC };
	uint64_t need;

	*notify = false;
	if (r->error)
		return r->error;
	if (r->role != XSHM_RING_PRODUCER || r->mode != XSHM_RING_MESSAGE)
		return -EINVAL;
	if (len > xshm_ring_max_payload(r))
		return -EMSGSIZE;
	need = frame_size(len);
	if (space_cached(r) < need && refresh_peer(r))
		return r->error;
	if (space_cached(r) < need)
		return -EAGAIN;
	hdr.len = (uint32_t)len;
	copy_in(r, r->mine, &hdr, sizeof(hdr));
	copy_in(r, r->mine + XSHM_RING_FRAME_HDR, msg, len);
	r->mine += need;
	*notify = publish(r);
	return 0;
}

/* Read and validate the next frame header into private memory. */
static int next_frame(struct xshm_ring *r, uint32_t *len)
{
	struct frame_hdr untrusted_hdr;
	uint64_t avail;

	if (r->error)
		return r->error;
	if (r->role != XSHM_RING_CONSUMER || r->mode != XSHM_RING_MESSAGE)
		return -EINVAL;
	if (avail_cached(r) < XSHM_RING_FRAME_HDR && refresh_peer(r))
		return r->error;
	avail = avail_cached(r);
	if (!avail)
		return -EAGAIN;
	copy_out(r, r->mine, &untrusted_hdr, sizeof(untrusted_hdr));
	/* The producer publishes whole frames only: a short or oversized one is corruption. */
	if (avail < XSHM_RING_FRAME_HDR || untrusted_hdr.magic != XSHM_RING_FRAME_MAGIC ||
	    untrusted_hdr.reserved || untrusted_hdr.len > xshm_ring_max_payload(r) ||
	    frame_size(untrusted_hdr.len) > avail) {
		r->error = -EPROTO;
		return r->error;
	}
	*len = untrusted_hdr.len;
	return 0;
}

ssize_t xshm_ring_next_len(struct xshm_ring *r)
{
	uint32_t len;
	int rc = next_frame(r, &len);

	return rc ? rc : (ssize_t)len;
}

ssize_t xshm_ring_recv(struct xshm_ring *r, void *buf, size_t buflen, bool *notify)
{
	uint32_t len;
	int rc;

	*notify = false;
	rc = next_frame(r, &len);
	if (rc)
		return rc;
	if (len > buflen)
		return -EMSGSIZE;
	copy_out(r, r->mine + XSHM_RING_FRAME_HDR, buf, len);
	r->mine += frame_size(len);
	*notify = publish(r);
	return (ssize_t)len;
}

/* ---------- ring to ring ---------- */

static void copy_between(struct xshm_ring *src, uint64_t sidx, struct xshm_ring *dst, uint64_t didx,
			 uint64_t len)
{
	while (len) {
		uint64_t sroom, droom;
		const uint8_t *from = area_at(src, sidx, &sroom);
		uint8_t *to = area_at(dst, didx, &droom);
		uint64_t n = len < sroom ? len : sroom;
		if (n > droom)
			n = droom;
		memcpy(to, from, (size_t)n);
		sidx += n;
		didx += n;
		len -= n;
	}
}

ssize_t xshm_ring_splice(struct xshm_ring *src, struct xshm_ring *dst, size_t max, bool *notify_src,
			 bool *notify_dst)
{
	uint64_t moved = 0;

	*notify_src = *notify_dst = false;
	if (src->error || dst->error)
		return src->error ? src->error : dst->error;
	if (src->role != XSHM_RING_CONSUMER || dst->role != XSHM_RING_PRODUCER || src->mode != dst->mode)
		return -EINVAL;
	if (refresh_peer(src) || refresh_peer(dst))
		return src->error ? src->error : dst->error;
	if (src->mode == XSHM_RING_STREAM) {
		uint64_t n = avail_cached(src);
		if (n > space_cached(dst))
			n = space_cached(dst);
		if (n > max)
			n = max;
		copy_between(src, src->mine, dst, dst->mine, n);
		src->mine += n;
		dst->mine += n;
		moved = n;
	} else {
		while (moved < max) {
			struct frame_hdr hdr = { .magic = XSHM_RING_FRAME_MAGIC };
			uint32_t len;
			int rc = next_frame(src, &len);
			if (rc == -EAGAIN)
				break;
			if (rc)
				return rc;
			if (len > xshm_ring_max_payload(dst))
				return -EMSGSIZE;
			uint64_t need = frame_size(len);
			if (space_cached(dst) < need)
				break;
			hdr.len = len;
			copy_in(dst, dst->mine, &hdr, sizeof(hdr));
			copy_between(src, src->mine + XSHM_RING_FRAME_HDR, dst, dst->mine + XSHM_RING_FRAME_HDR,
				     need - XSHM_RING_FRAME_HDR);
			src->mine += need;
			dst->mine += need;
			moved += need;
		}
	}
	if (moved) {
		/* Data first, then the space it freed: a woken sender finds its reader already fed. */
		*notify_dst = publish(dst);
		*notify_src = publish(src);
	}
	return (ssize_t)moved;
}

ssize_t xshm_ring_discard(struct xshm_ring *r, size_t max, bool *notify)
{
	uint64_t dropped = 0;

	*notify = false;
	if (r->role != XSHM_RING_CONSUMER)
		return -EINVAL;
	if (refresh_peer(r))
		return r->error;
	if (r->mode == XSHM_RING_STREAM) {
		dropped = avail_cached(r) < max ? avail_cached(r) : max;
		r->mine += dropped;
	} else {
		while (dropped < max) {
			uint32_t len;
			int rc = next_frame(r, &len);
			if (rc == -EAGAIN)
				break;
			if (rc)
				return rc;
			r->mine += frame_size(len);
			dropped += frame_size(len);
		}
	}
	if (dropped)
		*notify = publish(r);
	return (ssize_t)dropped;
}
