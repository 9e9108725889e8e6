/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libmempipe: channels between co-located guests over memory from dom0.
 *
 *   // guest A                                  // guest B (domid 7 is A)
 *   struct shm *s = shm_init(0);                struct shm *s = shm_init(0);
 *   struct mempipe *l = mempipe_listen(s, "db", NULL);
 *   struct mempipe *p = mempipe_accept(l);      struct mempipe *p = mempipe_connect(s, 7, "db", NULL);
 *   mempipe_read(p, buf, sizeof(buf));          mempipe_write(p, data, len);
 *   mempipe_close(p);                           mempipe_close(p);
 *
 * shm_init(0) connects this process to its xenshm device without taking
 * memory; channels then live on that connection.  Each channel direction
 * is a ring of host memory: the sender's guest writes its own tx ring,
 * xenshmd moves the bytes into the receiver's rx ring (one copy, batched),
 * and no guest ever maps another guest's memory.  Ring memory is charged
 * to each guest's quota.
 *
 * Modes: stream (mempipe_write/read: bytes, in order) or message
 * (mempipe_send/recv: each message delivered whole, or refused with
 * -EMSGSIZE when larger than the channel's maximum).
 *
 * Errors are negative errnos: -EAGAIN (non-blocking, nothing possible
 * now), -ETIMEDOUT, -EPIPE (writing after the peer closed), -ECONNRESET
 * (the peer died or was disconnected, or xenshmd went away), -EMSGSIZE,
 * -ESHUTDOWN (the host is saving or migrating this domain: close every
 * channel and shm_exit(), see SHM_EV_RELEASE in shm.h; a read still returns
 * what its ring holds first).
 * A read returns 0 at end of stream: the peer closed and everything it
 * sent has been read.  Functions returning a pointer set errno instead.
 *
 * Threads: a struct shm and its channels are used by one thread at a time
 * (all channels share the connection's event channel).  Poll mempipe_fd()
 * for POLLIN, then call the non-blocking operations of every channel.
 */
#ifndef XENSHM_MEMPIPE_H
#define XENSHM_MEMPIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct shm;
struct mempipe;

struct mempipe_opts {
	int timeout_ms;     /* connect, accept and each blocking call: 0 = 10000, -1 = forever */
	bool message;       /* message mode (else stream); both ends must agree */
	bool nonblock;      /* operations return -EAGAIN instead of waiting */
	uint32_t max_msg;   /* message mode: largest message; 0 = as large as the ring allows */
	size_t ring_bytes;  /* fixed rings of this size (rounded up to pages); 0 = the listener's
			     * choice, and if it has none, rings sized with the load (each
			     * from 64 KiB to 4 MiB as throughput needs) */
};

/* Names: 1-63 of [A-Za-z0-9._-].  A listener of this domain per name; EADDRINUSE if taken. */
struct mempipe *mempipe_listen(struct shm *s, const char *name, const struct mempipe_opts *opts);
/* The next connection to a listener (its options apply to the connection). */
struct mempipe *mempipe_accept(struct mempipe *listener);
/* Connect to the listener `name` of domain peer_domid: ECONNREFUSED if there is none. */
struct mempipe *mempipe_connect(struct shm *s, unsigned int peer_domid, const char *name,
				const struct mempipe_opts *opts);
/*
 * The same with the peer named as `xl list` shows it, or as a domid in decimal.  The name is
 * looked up at every call, so a peer restored under a new domid is found again.  ENOENT: no
 * guest of that name is connected to xenshm here (or the mempipe-peers lists keep the two
 * apart); EOPNOTSUPP: xenshmd is too old to look names up.
 */
struct mempipe *mempipe_connect_peer(struct shm *s, const char *peer, const char *name,
				     const struct mempipe_opts *opts);
/*
 * Half-close, as shutdown(fd, SHUT_WR): this end sends no more (later writes fail with
 * -EPIPE); the peer reads everything written before, then end of stream, and may still write
 * to us until it closes.  0, or a negative errno.
 */
int mempipe_shutdown(struct mempipe *p);

ssize_t mempipe_write(struct mempipe *p, const void *buf, size_t len);
ssize_t mempipe_read(struct mempipe *p, void *buf, size_t len);
/* Message mode: 0 once queued whole / the message's length. */
int mempipe_send(struct mempipe *p, const void *msg, size_t len);
ssize_t mempipe_recv(struct mempipe *p, void *buf, size_t len);

/* Readable (POLLIN) when xenshmd has news for any channel of this connection. */
int mempipe_fd(struct mempipe *p);
void mempipe_set_nonblock(struct mempipe *p, bool on);
/* The largest message this channel carries; the peer's domid (0 for a listener). */
size_t mempipe_max_msg(const struct mempipe *p);
unsigned int mempipe_peer(const struct mempipe *p);

struct mempipe_stats {
	uint64_t bytes_written, bytes_read;  /* payload, by this end */
	size_t tx_ring_bytes, rx_ring_bytes; /* now */
	size_t rx_fill_bytes;                /* waiting to be read now */
	uint32_t rx_resizes, tx_resizes;     /* rings replaced so far (a sized channel) */
	uint64_t notifies;                   /* event-channel kicks this end sent */
	uint64_t waits;                      /* times this end slept for its peer or the relay */
	size_t tx_fill_bytes;                /* written, not yet taken by xenshmd's relay, now */
};
int mempipe_stats(struct mempipe *p, struct mempipe_stats *out);

/* Data already written is still delivered; the peer reads it, then end of stream. */
void mempipe_close(struct mempipe *p);

#endif
