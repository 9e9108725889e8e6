/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xshm_ring: a single-producer single-consumer ring between two domains.
 *
 * Shared state is a 192-byte header (struct xshm_ring_shared) plus a data
 * area made of equal power-of-two chunks that need not be contiguous (grant
 * pages land wherever the mapper puts them).  Indices are free-running
 * 64-bit byte counters: they never wrap in practice, so the data area may
 * be any number of chunks, which is what lets a ring grow a page at a time.
 *
 * Each end keeps its own index privately and only ever *writes* it to the
 * shared header; the peer's index is loaded once per operation, validated
 * against the private state (it may only move forward and never past what
 * is possible) and then used from the private copy.  A bad peer index puts
 * the ring in a sticky error state (-EPROTO); the ring never reads or
 * writes outside its data area, whatever the peer does.
 *
 * Notifications are the caller's: operations that make progress report
 * through `*notify` whether the peer asked to be woken (it set its waiting
 * flag before sleeping), so an event channel is kicked only when needed.
 * Before sleeping, call xshm_ring_prepare_wait(); sleep only if it returns
 * true.
 *
 * Modes: stream (bytes, partial writes and reads) and message (each frame
 * is an 8-byte header and the payload padded to 8 bytes; delivered whole
 * or not at all).
 *
 * Thread safety: one thread per end.  Nothing blocks; nothing allocates
 * after xshm_ring_attach().
 */
#ifndef XENSHM_RING_H
#define XENSHM_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define XSHM_RING_CACHELINE 64

/* Lives in shared memory.  Each index has a cache line to itself. */
struct xshm_ring_shared {
	uint64_t prod;          /* written by the producer only */
	uint8_t pad0[XSHM_RING_CACHELINE - 8];
	uint64_t cons;          /* written by the consumer only */
	uint8_t pad1[XSHM_RING_CACHELINE - 8];
	uint32_t cons_waiting;  /* consumer sleeps until prod moves: please notify */
	uint32_t prod_waiting;  /* producer sleeps until cons reaches prod_wake_at: please notify */
	uint64_t prod_wake_at;  /* set by the producer before prod_waiting */
	uint8_t pad2[XSHM_RING_CACHELINE - 16];
};

enum xshm_ring_role { XSHM_RING_PRODUCER, XSHM_RING_CONSUMER };
enum xshm_ring_mode { XSHM_RING_STREAM, XSHM_RING_MESSAGE };

#define XSHM_RING_FRAME_HDR 8u
#define XSHM_RING_FRAME_MAGIC 0x4d5a /* "ZM": catches a producer that is not framing */

struct xshm_ring {
	struct xshm_ring_shared *sh;
	uint8_t **chunks;
	uint8_t *contig;          /* the data area, when the chunks happen to be contiguous */
	uint32_t nchunks;
	unsigned int chunk_shift;
	uint64_t size;            /* bytes of data area */
	uint64_t mine;            /* our index, authoritative */
	uint64_t peer;            /* the peer's index, last validated value */
	enum xshm_ring_role role;
	enum xshm_ring_mode mode;
	uint32_t max_msg;
	int error;                /* 0, or sticky -EPROTO */
};

/* The creator zeroes the shared header before handing it to the peer. */
void xshm_ring_shared_init(struct xshm_ring_shared *sh);

/*
 * Attach one end.  `chunks` holds nchunks pointers to areas of
 * (1 << chunk_shift) bytes each (shift 6..16); the array is copied.
 * max_msg bounds message payloads (message mode; 0 = as large as fits).
 * Reads both shared indices once: -EPROTO if they are inconsistent,
 * -EINVAL for bad geometry, -ENOMEM.
 */
int xshm_ring_attach(struct xshm_ring *r, struct xshm_ring_shared *sh, enum xshm_ring_role role,
		     enum xshm_ring_mode mode, void *const *chunks, uint32_t nchunks,
		     unsigned int chunk_shift, uint32_t max_msg);
void xshm_ring_detach(struct xshm_ring *r);

/* Largest message payload this ring can ever carry. */
size_t xshm_ring_max_payload(const struct xshm_ring *r);

/*
 * Stream mode.  write: copies min(len, free space) bytes and returns the
 * count; -EAGAIN if the ring is full.  read: copies min(len, available)
 * and returns the count; -EAGAIN if empty.  -EPROTO once the peer was
 * caught lying about its index.
 */
ssize_t xshm_ring_write(struct xshm_ring *r, const void *buf, size_t len, bool *notify);
ssize_t xshm_ring_read(struct xshm_ring *r, void *buf, size_t len, bool *notify);

/*
 * Message mode.  send: the whole message or -EAGAIN (no room yet) or
 * -EMSGSIZE (larger than max_msg or the ring).  recv: returns the payload
 * length; -EAGAIN if empty; -EMSGSIZE if buflen is too small (the message
 * stays queued; xshm_ring_next_len tells its size); -EPROTO on a bad frame.
 */
int xshm_ring_send(struct xshm_ring *r, const void *msg, size_t len, bool *notify);
ssize_t xshm_ring_recv(struct xshm_ring *r, void *buf, size_t buflen, bool *notify);
ssize_t xshm_ring_next_len(struct xshm_ring *r);

/*
 * Move data from a ring this end consumes straight into one it produces,
 * one copy, at most `max` bytes (stream) or whole frames up to about that
 * (message; each frame's header is validated from a private copy and
 * rewritten, so the destination never sees a source header).  Both rings
 * must be in the same mode.  Returns the bytes moved from src (0 when src
 * is empty or dst has no room); -EPROTO if src is corrupt, -EMSGSIZE if a
 * frame can never fit dst.  *notify_src / *notify_dst: kick that peer.
 */
ssize_t xshm_ring_splice(struct xshm_ring *src, struct xshm_ring *dst, size_t max, bool *notify_src,
			 bool *notify_dst);

/* Consume and drop up to `max` bytes (whole frames in message mode): bytes dropped or -EPROTO. */
ssize_t xshm_ring_discard(struct xshm_ring *r, size_t max, bool *notify);

/* Bytes the consumer could read now / the producer could write now (refreshes the peer index). */
ssize_t xshm_ring_available(struct xshm_ring *r);
ssize_t xshm_ring_space(struct xshm_ring *r);

/*
 * Announce that this end is about to sleep until the peer makes progress
 * (at least `need` bytes of space for a producer; any data for a
 * consumer), then re-check.  Returns true when sleeping is safe (the peer
 * will notify), false when progress is already possible (or on error).
 * A producer is woken only once `need` bytes are free, not on every read:
 * a reader taking small pieces from a full ring does not kick once per
 * piece (the silly window).
 */
bool xshm_ring_prepare_wait(struct xshm_ring *r, size_t need);

#endif
