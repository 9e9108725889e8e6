/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The in-memory Xen for unit tests.
 *
 * A `struct xo_fake_world` is one simulated host: a XenStore, a grant table
 * per domain, event channels and a domain list.  Each simulated domain opens
 * its own `struct xo` on the world (xo_fake_open) and may live in its own
 * thread; the world serialises everything behind one mutex.
 *
 * Fidelity, each point from docs/misc/xenstore.txt or the Linux drivers:
 *  - XenStore: permissions with owner/default semantics, dom0 privileged,
 *    new nodes inherit the parent's perms but an unprivileged creator becomes
 *    the owner, creating needs WRITE on the nearest existing ancestor,
 *    relative paths resolve to the caller's home, watches fire once on
 *    registration and on any change at or below, only for readers with READ
 *    on the node, @introduceDomain/@releaseDomain for dom0, transactions
 *    that fail with EAGAIN when a node they touched changed meanwhile,
 *    per-domain quotas on nodes, watches and transactions, value and path
 *    size limits.  Optional coalescing of identical pending watch events.
 *  - Grants: pages live in a memfd, so a sharer and a mapper see the same
 *    bytes at different addresses, as on Xen; a grant names one domain;
 *    gntalloc's global `limit`; a page unshared while still mapped stays
 *    allocated (and counted) until the last unmap; unmap-notify zeroes the
 *    byte and signals the port; a dying domain's mappings are released.
 *  - Event channels: unbound/interdomain binding, masking after pending()
 *    until unmask(), one pollable fd per handle, a closed peer makes notify
 *    a no-op.
 */
#ifndef XENSHM_XENOPS_FAKE_H
#define XENSHM_XENOPS_FAKE_H

#include "xenshm/xenops.h"

struct xo_fake_world;

struct xo_fake_world *xo_fake_world_new(void);
/* Every handle must be closed first. */
void xo_fake_world_free(struct xo_fake_world *w);

/* dom0 exists from the start, named "Domain-0".  New domids count up from 1. */
int xo_fake_domain_create(struct xo_fake_world *w, const char *name, xo_domid_t *out);
/*
 * Like `xl destroy`: the domain turns dying, its handles stop working
 * (-ESRCH), its grant mappings and event channels are released, the
 * XenStore nodes it owns are removed, @releaseDomain fires; it leaves the
 * domain list once no other domain maps its grants.
 */
int xo_fake_domain_destroy(struct xo_fake_world *w, xo_domid_t domid);
int xo_fake_domain_set_flags(struct xo_fake_world *w, xo_domid_t domid, unsigned int flags);
/* Shut down with Xen's reason (XO_SHUTDOWN_*), as a guest's own shutdown or `xl save` does:
 * @releaseDomain fires; set_flags(0) makes it run again (a cancelled suspend). */
int xo_fake_domain_shutdown(struct xo_fake_world *w, xo_domid_t domid, unsigned int reason);
/* Give a domain another's UUID, as `xl restore` recreates a saved domain under a new domid. */
int xo_fake_domain_set_uuid(struct xo_fake_world *w, xo_domid_t domid, const uint8_t uuid[16]);

int xo_fake_open(struct xo_fake_world *w, xo_domid_t domid, struct xo **out);

/* Fault injection: the next `count` calls of the kind fail with `err` (negative errno). */
enum xo_fake_fault {
	XO_FAULT_TXN_END,     /* xs_txn_end (e.g. -EAGAIN) */
	XO_FAULT_XS_WRITE,    /* xs_write/xs_mkdir (e.g. -EDQUOT, -ENOSPC) */
	XO_FAULT_GNT_SHARE,   /* gnt_share* (e.g. -ENOSPC, -ENOMEM) */
	XO_FAULT_GNT_MAP,     /* gnt_map* (e.g. -EINVAL) */
	XO_FAULT_EVTCHN_BIND, /* evtchn_bind_* */
	XO_FAULT_GNT_COPY,    /* gnt_copy: the whole call fails (e.g. -EFAULT) */
	XO_FAULT_COUNT_
};
void xo_fake_inject(struct xo_fake_world *w, enum xo_fake_fault kind, int err, unsigned int count);

/* Limits (defaults: C xenstored's quotas, gntalloc's limit=1024). */
struct xo_fake_limits {
	unsigned int xs_nodes_per_domain;   /* 1000 */
	unsigned int xs_watches_per_domain; /* 128 */
	unsigned int xs_txns_per_domain;    /* 10 */
	unsigned int xs_value_max;          /* 2048 for guests; dom0 4096 */
	unsigned int gntalloc_limit;        /* 1024 pages, per granting domain */
	bool coalesce_watches;              /* drop an event identical to a pending one */
	char xen_cmdline[256];              /* what host_info reports ("" : Xen's defaults) */
};
void xo_fake_get_limits(struct xo_fake_world *w, struct xo_fake_limits *out);
void xo_fake_set_limits(struct xo_fake_world *w, const struct xo_fake_limits *lim);

/* Introspection for tests. */
struct xo_fake_counts {
	unsigned int grants_live;      /* shared, not yet freed, by domid */
	unsigned int grants_mapped;    /* mapped by others */
	unsigned int maps_held;        /* mappings held by domid */
	unsigned int ports_bound;      /* event channels bound by domid */
	unsigned int xs_nodes_owned;   /* XenStore nodes owned by domid */
	unsigned int xs_watches;       /* watches registered by domid's handles */
};
int xo_fake_counts(struct xo_fake_world *w, xo_domid_t domid, struct xo_fake_counts *out);

#endif
