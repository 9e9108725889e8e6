/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libxenshm: memory from dom0's pool for a guest process.
 *
 *   struct shm *s = shm_init(1 << 20);     // 1 MiB granted by xenshmd, mapped here
 *   shm_put(s, buf, 0, len);               // bounded copies in and out
 *   shm_get(s, buf, 0, len);
 *   shm_exit(s);                           // everything goes back to dom0
 *
 * Each process holds one of the guest's xenshm devices (created in dom0 by
 * `xenshm attach DOM --devices N`): shm_init() claims the lowest devid no
 * other process holds and fails with EBUSY when all are taken.  So N
 * devices serve N processes at once, each with its own quota-kb.  If a
 * process dies, the kernel releases its mappings and xenshmd takes the
 * pages back.
 *
 * The memory is one or more segments (runs of pages granted together):
 * shm_init() makes one, shm_resize() adds one to grow and frees whole
 * segments from the end to shrink.  Each segment is contiguous in this
 * process (shm_segment()); shm_put/shm_get span segments.
 *
 * Reclaim: when the host is short, xenshmd may ask for memory back with a
 * deadline.  The notice wakes shm_fd(); shm_next_event() returns it; the
 * application shrinks (shm_resize) and says so (shm_reclaim_done).  A
 * guest that ignores a notice is granted nothing more until it complies.
 *
 * Thread safety: a `struct shm` may be used by one thread at a time;
 * shm_put/shm_get only copy and may run concurrently on disjoint ranges.
 */
#ifndef XENSHM_SHM_H
#define XENSHM_SHM_H

#include <stddef.h>
#include <stdint.h>

struct shm;
struct xo;

struct shm_opts {
	int timeout_ms; /* for connecting and for each request to xenshmd; 0 = 10000 */
};

struct shm_stats {
	uint32_t segments;
	uint64_t pages_granted;   /* this guest, all its segments */
	uint64_t pages_quota;
	uint64_t host_pages_free;
};

/*
 * Ask dom0 for `size` bytes (rounded up to pages) and map them.  Blocks
 * until granted or refused.  NULL with errno set on failure:
 *   ENODEV     no xenshm device for this guest (attach one in dom0)
 *   EBUSY      another process holds the device
 *   ETIMEDOUT  xenshmd did not answer (not running?)
 *   EDQUOT     over this device's quota (or a reclaim notice is overdue)
 *   ENOSPC     the host pool is short (after waiting up to the timeout for
 *              other guests to give memory back)
 *   EINVAL     size is larger than a segment (1 GiB)
 * A size of 0 connects without taking memory (for MemPipe channels,
 * xenshm/mempipe.h); shm_resize can add memory later.
 *   EPROTO     xenshmd's answers were malformed;  ECONNRESET  xenshmd went away
 */
struct shm *shm_init(size_t size);

/* The same over a caller's Xen handle (borrowed: it must outlive the shm). */
struct shm *shm_open_xo(struct xo *x, size_t size, const struct shm_opts *opts);

/* Unmap, give the memory back and disconnect.  Never fails; NULL is a no-op. */
void shm_exit(struct shm *s);

/*
 * Copy len bytes from buf into the shared memory at offset / out of it
 * into buf.  Returns the bytes copied: len, or 0 if [offset, offset+len)
 * is not inside the memory (nothing is copied then).
 */
size_t shm_put(struct shm *s, const void *buf, size_t offset, size_t len);
size_t shm_get(struct shm *s, void *buf, size_t offset, size_t len);

size_t shm_size(const struct shm *s);
/* The first segment's mapping, for callers that want no copy (shm_segment for the others). */
void *shm_addr(struct shm *s);
/* Segment i's mapping and length; NULL past the last. */
void *shm_segment(struct shm *s, unsigned int i, size_t *len);

/*
 * Grow to at least `size` bytes (one more segment) or shrink: whole
 * segments are freed from the end while what remains is at least `size`
 * (never the first).  0 or a negative errno (as shm_init's); the memory
 * that stays keeps its contents.
 */
int shm_resize(struct shm *s, size_t size);

/* Pollable (POLLIN) when xenshmd has something for this process. */
int shm_fd(struct shm *s);

/*
 * SHM_EV_RELEASE: the host is about to save or migrate this domain and asks
 * the process to let go of everything within deadline_ms: close its MemPipe
 * channels (their calls fail with ESHUTDOWN from now on) and shm_exit().  A
 * mapping kept across the suspend would corrupt the guest.  Opening again
 * fails with EAGAIN until the domain has moved (or the host gave up the
 * save); then it works as before, under the new domid.
 */
enum shm_event_type { SHM_EV_RECLAIM = 1, SHM_EV_RELEASE = 2 };
struct shm_event {
	enum shm_event_type type;
	uint32_t id;           /* pass to shm_reclaim_done (reclaim) */
	size_t bytes;          /* how much xenshmd asks back (reclaim) */
	uint32_t deadline_ms;  /* from when the notice arrived */
};
/* Never blocks: 1 and *ev filled, 0 if nothing, -ECONNRESET if xenshmd went away. */
int shm_next_event(struct shm *s, struct shm_event *ev);
/* Tell xenshmd a notice was handled (it measures what was freed itself). */
int shm_reclaim_done(struct shm *s, uint32_t id);
/* Nonzero (the deadline in ms) once the host asked this process to let go (SHM_EV_RELEASE). */
uint32_t shm_release_asked(const struct shm *s);

/*
 * The domid of the co-located guest named peer_name (as `xl list` shows it), for
 * mempipe_connect.  0, or -ENOENT when no such guest is connected to xenshm or the two
 * guests' mempipe-peers lists keep them apart, -EINVAL for a name outside [A-Za-z0-9._-]
 * (1-63 characters), -EOPNOTSUPP when xenshmd is too old to look names up.
 */
int shm_peer_domid(struct shm *s, const char *peer_name, unsigned int *domid);

/* Ask xenshmd for this guest's accounting: 0 or a negative errno. */
int shm_stats(struct shm *s, struct shm_stats *out);

#endif
