/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * xenops: the one thin layer between xenshm and Xen.
 *
 * Everything xenshm needs from Xen goes through a `struct xo` handle whose
 * ops table is either the real one (xenops_real.c, over Debian's
 * libxenstore, libxengnttab, libxenevtchn and libxenctrl) or the in-memory
 * fake (xenops_fake*.c), in which several simulated domains share one
 * process.  No file above this layer includes a Xen header: the types here
 * are plain integers with the same meaning as Xen's.
 *
 * Conventions for every function below:
 *  - returns 0 (or a count) on success and a negative errno on failure;
 *    nothing is logged, the caller owns the message;
 *  - never blocks, except where a comment says so; the XenStore watch
 *    queue and the event channels are drained through pollable fds;
 *  - one handle is not thread-safe: use one per thread (as libxenevtchn
 *    requires anyway);
 *  - strings and arrays returned through `out` parameters are malloc'd and
 *    belong to the caller (free with free(), or xo_free_strv()).
 */
#ifndef XENSHM_XENOPS_H
#define XENSHM_XENOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XO_PAGE_SIZE 4096u
#define XO_PAGE_SHIFT 12
#define XO_DOMID_SELF 0x7ff0u  /* DOMID_SELF; also the first reserved domid */
#define XO_DOMID_FIRST_RESERVED 0x7ff0u

typedef uint32_t xo_domid_t;
typedef uint32_t xo_gref_t;
typedef uint32_t xo_port_t;
typedef uint32_t xo_txn_t;     /* 0 = no transaction (XBT_NULL) */
#define XO_TXN_NONE 0u

/* XenStore permissions, with Xen's values (xenstore_lib.h). */
enum {
	XO_PERM_NONE = 0,
	XO_PERM_READ = 1,
	XO_PERM_WRITE = 2,
	XO_PERM_BOTH = 3,
};

/* The first entry names the owner; its perms apply to every domain not listed. */
struct xo_perm {
	xo_domid_t domid;
	unsigned int perms;
};

#define XO_DOMINFO_DYING    (1u << 0)
#define XO_DOMINFO_SHUTDOWN (1u << 1)
#define XO_DOMINFO_PAUSED   (1u << 2)
#define XO_DOMINFO_HVM      (1u << 3)

/* Why a domain shut down (Xen's SHUTDOWN_* values, public/sched.h). */
#define XO_SHUTDOWN_POWEROFF 0
#define XO_SHUTDOWN_REBOOT 1
#define XO_SHUTDOWN_SUSPEND 2
#define XO_SHUTDOWN_CRASH 3

struct xo_dominfo {
	xo_domid_t domid;
	unsigned int flags;          /* XO_DOMINFO_* */
	unsigned int shutdown_reason; /* valid when XO_DOMINFO_SHUTDOWN */
	uint8_t uuid[16];
	uint64_t tot_pages;
	uint64_t max_pages;
};

/* Which parts of Xen to open; a domU has no domain-control interface. */
#define XO_OPEN_XS      (1u << 0)
#define XO_OPEN_GNTSHR  (1u << 1)
#define XO_OPEN_GNTTAB  (1u << 2)
#define XO_OPEN_EVTCHN  (1u << 3)
#define XO_OPEN_CTRL    (1u << 4)
#define XO_OPEN_GUEST   (XO_OPEN_XS | XO_OPEN_GNTSHR | XO_OPEN_GNTTAB | XO_OPEN_EVTCHN)
#define XO_OPEN_ALL     (XO_OPEN_GUEST | XO_OPEN_CTRL)

struct xo;

/* What xenshm needs to know about the hypervisor. */
struct xo_hostinfo {
	unsigned int max_grant_frames; /* per domain: Xen's gnttab_max_frames (4.17 default 64) */
	char cmdline[1024];            /* Xen's command line */
};
#define XO_GRANTS_PER_FRAME 512u    /* v1 entries of 8 bytes in a 4 KiB frame */
#define XO_XEN_DEFAULT_GRANT_FRAMES 64u

/*
 * The children of `path` that are decimal numbers up to max_id (domids, devids, segment ids),
 * in ascending order, at most `max` of them into ids[].  0 and *n, or the directory's error.
 */
int xo_list_ids(struct xo *x, const char *path, uint32_t max_id, uint32_t *ids, unsigned int max,
		unsigned int *n);

/* gnttab_max_frames from a Xen command line; the 4.17 default when absent or malformed. */
unsigned int xo_cmdline_grant_frames(const char *cmdline);

/*
 * One grant copy between a local buffer and (part of) a page another domain
 * granted to this one: how a block backend moves data without mapping it.
 * offset + len must stay inside the granted page.
 */
struct xo_gnt_copy {
	xo_domid_t domid;    /* the granter */
	xo_gref_t ref;
	uint16_t offset;     /* within the granted page */
	uint16_t len;
	bool to_granted;     /* local -> granted page; otherwise granted page -> local */
	void *local;
	int16_t status;      /* out: 0, or Xen's GNTST_* code (negative) for this copy */
};
#define XO_GNTST_OKAY 0
#define XO_GNTST_GENERAL_ERROR (-1)
#define XO_GNTST_BAD_DOMAIN (-2)
#define XO_GNTST_BAD_GNTREF (-4)
#define XO_GNTST_PERMISSION_DENIED (-8)

struct xo_ops {
	const char *name;

	/* XenStore.  Relative paths are relative to the caller's domain home. */
	int (*xs_read)(struct xo *x, xo_txn_t t, const char *path, char **out, size_t *len);
	int (*xs_write)(struct xo *x, xo_txn_t t, const char *path, const void *data, size_t len);
	int (*xs_mkdir)(struct xo *x, xo_txn_t t, const char *path);
	int (*xs_rm)(struct xo *x, xo_txn_t t, const char *path);
	/* Child names (not paths), NULL-terminated vector; *n gets the count. */
	int (*xs_directory)(struct xo *x, xo_txn_t t, const char *path, char ***out, unsigned int *n);
	int (*xs_get_perms)(struct xo *x, xo_txn_t t, const char *path, struct xo_perm **out,
			    unsigned int *n);
	int (*xs_set_perms)(struct xo *x, xo_txn_t t, const char *path, const struct xo_perm *perms,
			    unsigned int n);
	int (*xs_txn_start)(struct xo *x, xo_txn_t *out);
	/* -EAGAIN when another writer intervened: redo the whole transaction. */
	int (*xs_txn_end)(struct xo *x, xo_txn_t t, bool abort);
	/* Fires once at once on registration, then on any change at or below path. */
	int (*xs_watch)(struct xo *x, const char *path, const char *token);
	int (*xs_unwatch)(struct xo *x, const char *path, const char *token);
	int (*xs_fd)(struct xo *x);
	/* One pending event or -EAGAIN.  Events may be spurious or coalesced. */
	int (*xs_read_watch)(struct xo *x, char **path, char **token);

	/* Grant sharing (gntalloc): new zeroed pages, granted to one domain. */
	int (*gnt_share)(struct xo *x, xo_domid_t domid, unsigned int count, bool writable,
			 xo_gref_t *refs, void **addr);
	/* One page whose byte at notify_offset is zeroed, and/or port notified
	 * (-1 for none), when this side unshares or dies. */
	int (*gnt_share_notify)(struct xo *x, xo_domid_t domid, bool writable, int notify_offset,
				int notify_port, xo_gref_t *ref, void **addr);
	int (*gnt_unshare)(struct xo *x, void *addr, unsigned int count);

	/* Grant mapping (gntdev).  All or nothing. */
	int (*gnt_map)(struct xo *x, xo_domid_t domid, unsigned int count, const xo_gref_t *refs,
		       bool writable, void **addr);
	int (*gnt_map_notify)(struct xo *x, xo_domid_t domid, xo_gref_t ref, bool writable,
			      int notify_offset, int notify_port, void **addr);
	int (*gnt_unmap)(struct xo *x, void *addr, unsigned int count);

	/* Batched grant copy (gntdev's copy ioctl): -errno when the call itself failed (then no
	 * status is meaningful), otherwise each op's status says whether that copy happened. */
	int (*gnt_copy)(struct xo *x, struct xo_gnt_copy *ops, unsigned int count);

	/* Event channels. */
	int (*evtchn_bind_unbound)(struct xo *x, xo_domid_t remote, xo_port_t *local);
	int (*evtchn_bind_interdomain)(struct xo *x, xo_domid_t remote, xo_port_t remote_port,
				       xo_port_t *local);
	int (*evtchn_unbind)(struct xo *x, xo_port_t port);
	int (*evtchn_notify)(struct xo *x, xo_port_t port);
	int (*evtchn_fd)(struct xo *x);
	/* A fired port (now masked until unmask) or -EAGAIN. */
	int (*evtchn_pending)(struct xo *x, xo_port_t *port);
	/* The same, for a caller whose own poll() has just seen evtchn_fd readable and who has
	 * read nothing from it since: evtchn_pending's guard poll (a read of this fd may block
	 * even when set non-blocking) is then a second system call per wake-up for nothing. */
	int (*evtchn_pending_polled)(struct xo *x, xo_port_t *port);
	int (*evtchn_unmask)(struct xo *x, xo_port_t port);

	/* Domain information (dom0 only). */
	int (*domain_list)(struct xo *x, struct xo_dominfo *out, unsigned int max, unsigned int *n);
	/* -ESRCH when no such domain. */
	int (*domain_info)(struct xo *x, xo_domid_t domid, struct xo_dominfo *out);
	/* The hypervisor's settings that bound the pool (dom0 only). */
	int (*host_info)(struct xo *x, struct xo_hostinfo *out);

	/*
	 * A name held domain-wide by this handle until unclaim or until the handle closes (its
	 * process dies, however it dies): how a guest's processes share out its devices without
	 * a read-then-write race on XenStore.  0, or -EBUSY while another handle (or this one)
	 * holds it.
	 */
	int (*claim)(struct xo *x, const char *name);
	void (*unclaim)(struct xo *x, const char *name);

	void (*close)(struct xo *x);
};

struct xo {
	const struct xo_ops *ops;
};

/* Real Xen.  -ENOENT/-EACCES etc. from the libraries tell what is missing. */
int xo_real_open(struct xo **out, unsigned int what);

static inline void xo_close(struct xo *x)
{
	if (x)
		x->ops->close(x);
}

void xo_free_strv(char **v);

/*
 * Helpers over the ops table (xenops_util.c).
 */

/* Read a value as a NUL-terminated string. */
int xo_read_str(struct xo *x, xo_txn_t t, const char *path, char **out);
int xo_write_str(struct xo *x, xo_txn_t t, const char *path, const char *value);
int xo_printf(struct xo *x, xo_txn_t t, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Strict decimal parsers for untrusted XenStore values: no sign, no
 * leading zeros (except "0"), no spaces, no trailing garbage.
 * -EINVAL on any deviation, -ERANGE above max.
 */
int xo_parse_uint(const char *untrusted, unsigned long long max, unsigned long long *out);
/* A domid below DOMID_FIRST_RESERVED. */
int xo_parse_domid(const char *untrusted, xo_domid_t *out);
/*
 * Write `path` only while `guard` exists, in one transaction: a write creates missing
 * parents, and a backend must never bring back a directory the toolstack removed (as
 * Linux's xenbus_switch_state checks).  -ENOENT when the guard is gone.
 */
int xo_write_if_exists(struct xo *x, const char *guard, const char *path, const char *value);
/* Read a node and parse it with xo_parse_uint: -ENOENT if absent, -EINVAL/-ERANGE if bad. */
int xo_read_uint(struct xo *x, xo_txn_t t, const char *path, unsigned long long max, unsigned long long *out);

/*
 * Run body(x, t, arg) inside a transaction, retrying on -EAGAIN up to
 * `tries` times with a growing backoff (oxenstored rate-limits conflicts).
 * body's non-zero result aborts the transaction and is returned.
 */
int xo_transaction(struct xo *x, unsigned int tries,
		   int (*body)(struct xo *x, xo_txn_t t, void *arg), void *arg);

/* A domain's name, from /local/domain/<domid>/name (what `xl list` shows). */
int xo_domain_name(struct xo *x, xo_domid_t domid, char **out);

/*
 * Wait until XenStore node `path` reaches a wanted value: watch it, and on
 * every event (and once at the start) call check(value, read_rc, arg) with
 * the node's current value (NULL when read_rc says it could not be read).
 * check returns 1 when done, 0 to keep waiting, or a negative errno to stop
 * with it.  Returns 0, check's error, or -ETIMEDOUT after timeout_ms.
 * Blocks (in poll) for at most timeout_ms.
 */
int xo_wait_node(struct xo *x, const char *path, int timeout_ms,
		 int (*check)(const char *value, int read_rc, void *arg), void *arg);

/* Own domid, from the relative node "domid" (works in any domain). */
int xo_self_domid(struct xo *x, xo_domid_t *out);

#endif
