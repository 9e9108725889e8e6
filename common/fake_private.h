/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Internals of the fake Xen, shared by its four files:
 *   xenops_fake.c        world, domains, handles, faults, the ops table
 *   xenops_fake_xs.c     XenStore tree, permissions, transactions, watches
 *   xenops_fake_gnt.c    grant sharing and mapping over a memfd
 *   xenops_fake_evtchn.c event channels
 * Every entry point takes the world lock; the helpers named *_locked expect it.
 */
#ifndef XENSHM_FAKE_PRIVATE_H
#define XENSHM_FAKE_PRIVATE_H

#include <pthread.h>

#include "xenshm/xenops_fake.h"

struct fake_node {
	char *name;
	struct fake_node *parent;
	struct fake_node **children;
	unsigned int nchildren, cap;
	char *value;
	size_t len;
	struct xo_perm *perms;
	unsigned int nperms;
	uint64_t gen;
};

struct fake_event {
	struct fake_event *next;
	char *path, *token;
};

struct fake_watch {
	struct fake_watch *next;
	struct fake_handle *h;
	char *path;    /* absolute, or @special */
	char *token;
	bool relative; /* report event paths relative to the home */
};

struct fake_access {
	char *path;
	uint64_t gen; /* 0 = did not exist */
};

enum fake_op_kind { FOP_WRITE, FOP_MKDIR, FOP_RM, FOP_SETPERMS };

struct fake_op {
	enum fake_op_kind kind;
	char *path;
	char *value;
	size_t len;
	struct xo_perm *perms;
	unsigned int nperms;
};

struct fake_txn {
	struct fake_txn *next;
	xo_txn_t id;
	struct fake_handle *h;
	struct fake_node *root; /* private copy, read and written by the txn */
	struct fake_access *acc;
	unsigned int nacc, capacc;
	struct fake_op *ops;
	unsigned int nops, capops;
};

struct fake_share {   /* one gnt_share*() call: unshared as a whole */
	struct fake_share *next;
	struct fake_handle *h;
	uint8_t *addr;
	unsigned int count;
	struct fake_grant **grants;
	int notify_offset, notify_port;
};

struct fake_map {     /* one gnt_map*() call */
	struct fake_map *next;
	struct fake_handle *h;
	uint8_t *addr;
	unsigned int count;
	struct fake_grant **grants;
	int notify_offset, notify_port;
};

struct fake_grant {
	struct fake_grant *next;
	xo_domid_t granter, grantee;
	xo_gref_t ref;
	bool writable;
	bool unshared;   /* the granter let go; freed at the last unmap */
	unsigned int maps;
	size_t slot;     /* page index in the world memfd */
};

struct fake_port {
	xo_domid_t domid;
	xo_port_t port;
	enum { FPORT_UNBOUND = 1, FPORT_INTERDOMAIN } state;
	xo_domid_t remote;
	xo_port_t remote_port;
	struct fake_handle *h;
	bool pending, masked;
	struct fake_port *next;
	struct fake_port *qnext; /* in h's delivery queue */
	bool queued;
};

struct fake_domain {
	struct fake_domain *next;
	xo_domid_t domid;
	char *name;
	unsigned int flags;
	unsigned int shutdown_reason; /* while flags has XO_DOMINFO_SHUTDOWN */
	uint8_t uuid[16];
	xo_gref_t next_gref;
};

struct fake_handle {
	struct xo xo;
	struct fake_world *w;
	struct fake_handle *next;
	xo_domid_t domid;
	bool dead;          /* its domain was destroyed */
	int xs_efd, ev_efd; /* eventfds, readable while a queue is non-empty */
	struct fake_event *ev_head, *ev_tail;
	struct fake_port *q_head, *q_tail;
};

struct fake_claim {
	struct fake_claim *next;
	struct fake_handle *owner;
	char name[];
};

struct fault { int err; unsigned int count; };

struct fake_world {
	pthread_mutex_t lock;
	struct fake_node *root;
	uint64_t gen;
	struct fake_watch *watches;
	struct fake_txn *txns;
	xo_txn_t next_txn;
	struct fake_domain *domains;
	xo_domid_t next_domid;
	struct fake_handle *handles;
	struct fake_grant *grants;
	struct fake_share *shares;
	struct fake_map *maps;
	struct fake_port *ports;
	struct fake_claim *claims;
	int memfd;
	size_t nslots;
	uint8_t *slot_used;
	struct fault faults[XO_FAULT_COUNT_];
	struct xo_fake_limits lim;
};

static inline struct fake_handle *fh(struct xo *x)
{
	return (struct fake_handle *)x;
}

int fake_fault_take_locked(struct fake_world *w, enum xo_fake_fault kind);
struct fake_domain *fake_domain_find_locked(struct fake_world *w, xo_domid_t domid);
void fake_efd_set(int efd);
void fake_efd_clear(int efd);

/* XenStore (xenops_fake_xs.c) */
int fake_xs_init_locked(struct fake_world *w);
void fake_xs_free_locked(struct fake_world *w);
/* Toolstack-style helpers acting as dom0 on the real tree. */
int fake_xs_write_as0_locked(struct fake_world *w, const char *path, const char *value,
			     const struct xo_perm *perms, unsigned int nperms);
void fake_xs_rm_as0_locked(struct fake_world *w, const char *path);
void fake_xs_remove_owned_locked(struct fake_world *w, xo_domid_t domid);
void fake_xs_fire_special_locked(struct fake_world *w, const char *special);
void fake_xs_handle_gone_locked(struct fake_world *w, struct fake_handle *h);
unsigned int fake_xs_count_owned_locked(struct fake_world *w, xo_domid_t domid);
unsigned int fake_xs_count_watches_locked(struct fake_world *w, xo_domid_t domid);

/* Grants (xenops_fake_gnt.c) */
void fake_gnt_handle_gone_locked(struct fake_world *w, struct fake_handle *h, bool domain_died);
bool fake_gnt_domain_has_mapped_grants_locked(struct fake_world *w, xo_domid_t domid);
void fake_gnt_free_all_locked(struct fake_world *w);

/* Event channels (xenops_fake_evtchn.c) */
void fake_evtchn_handle_gone_locked(struct fake_world *w, struct fake_handle *h);
int fake_evtchn_notify_locked(struct fake_world *w, struct fake_handle *h, xo_port_t port);

/* The per-area functions the ops table is assembled from. */
int fake_xs_read(struct xo *x, xo_txn_t t, const char *path, char **out, size_t *len);
int fake_xs_write(struct xo *x, xo_txn_t t, const char *path, const void *data, size_t len);
int fake_xs_mkdir(struct xo *x, xo_txn_t t, const char *path);
int fake_xs_rm(struct xo *x, xo_txn_t t, const char *path);
int fake_xs_directory(struct xo *x, xo_txn_t t, const char *path, char ***out, unsigned int *n);
int fake_xs_get_perms(struct xo *x, xo_txn_t t, const char *path, struct xo_perm **out,
		      unsigned int *n);
int fake_xs_set_perms(struct xo *x, xo_txn_t t, const char *path, const struct xo_perm *perms,
		      unsigned int n);
int fake_xs_txn_start(struct xo *x, xo_txn_t *out);
int fake_xs_txn_end(struct xo *x, xo_txn_t t, bool abort);
int fake_xs_watch(struct xo *x, const char *path, const char *token);
int fake_xs_unwatch(struct xo *x, const char *path, const char *token);
int fake_xs_fd(struct xo *x);
int fake_xs_read_watch(struct xo *x, char **path, char **token);

int fake_gnt_share(struct xo *x, xo_domid_t domid, unsigned int count, bool writable,
		   xo_gref_t *refs, void **addr);
int fake_gnt_share_notify(struct xo *x, xo_domid_t domid, bool writable, int notify_offset,
			  int notify_port, xo_gref_t *ref, void **addr);
int fake_gnt_unshare(struct xo *x, void *addr, unsigned int count);
int fake_gnt_map(struct xo *x, xo_domid_t domid, unsigned int count, const xo_gref_t *refs,
		 bool writable, void **addr);
int fake_gnt_map_notify(struct xo *x, xo_domid_t domid, xo_gref_t ref, bool writable,
			int notify_offset, int notify_port, void **addr);
int fake_gnt_unmap(struct xo *x, void *addr, unsigned int count);
int fake_gnt_copy(struct xo *x, struct xo_gnt_copy *ops, unsigned int count);

int fake_evtchn_bind_unbound(struct xo *x, xo_domid_t remote, xo_port_t *local);
int fake_evtchn_bind_interdomain(struct xo *x, xo_domid_t remote, xo_port_t remote_port,
				 xo_port_t *local);
int fake_evtchn_unbind(struct xo *x, xo_port_t port);
int fake_evtchn_notify(struct xo *x, xo_port_t port);
int fake_evtchn_fd(struct xo *x);
int fake_evtchn_pending(struct xo *x, xo_port_t *port);
int fake_evtchn_unmask(struct xo *x, xo_port_t port);

#endif
