/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * libxenshm: memory from dom0's pool for a guest process.
 *
 *   struct shm *s = shm_init(1 << 20);     // 1 MiB granted by xenshmd, mapped here
 *   shm_put(s, buf, 0, len);               // bounded copies in and out
 *   shm_get(s, buf, 0, len);
 *   shm_exit(s);                           // everything goes back to dom0
 *
 * The guest's xenshm device (devid 0, created in dom0 by `xenshm attach`)
 * is used by one process at a time: a second shm_init() in the same guest
 * fails with EBUSY while the first holds it.  If the process dies, its
 * mappings are released by the kernel and xenshmd takes the pages back.
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
 *   EDQUOT     over this guest's quota;  ENOSPC  the host pool is short
 *   EINVAL     size is 0 or larger than a segment (1 GiB)
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
/* The mapping itself, for callers that want no copy. */
void *shm_addr(struct shm *s);

/* Ask xenshmd for this guest's accounting: 0 or a negative errno. */
int shm_stats(struct shm *s, struct shm_stats *out);

#endif
