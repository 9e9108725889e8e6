// SPDX-License-Identifier: LGPL-2.1-only
/*
 * The fake Xen's world: domains, handles, fault injection and the ops table.
 * See xenops_fake.h for what it models; the three areas live in their own files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_private.h"

#define LOCK(w) pthread_mutex_lock(&(w)->lock)
#define UNLOCK(w) pthread_mutex_unlock(&(w)->lock)

void fake_efd_set(int efd)
{
	uint64_t one = 1;
	ssize_t r = write(efd, &one, sizeof(one));
	(void)r; /* an eventfd counter cannot overflow at our rates */
}

void fake_efd_clear(int efd)
{
	uint64_t v;
	ssize_t r = read(efd, &v, sizeof(v));
	(void)r; /* EAGAIN when already clear */
}

int fake_fault_take_locked(struct fake_world *w, enum xo_fake_fault kind)
{
	struct fault *f = &w->faults[kind];

	if (!f->count)
		return 0;
	f->count--;
	return f->err;
}

struct fake_domain *fake_domain_find_locked(struct fake_world *w, xo_domid_t domid)
{
	for (struct fake_domain *d = w->domains; d; d = d->next)
		if (d->domid == domid)
			return d;
	return NULL;
}

static int domain_add_locked(struct fake_world *w, xo_domid_t domid, const char *name)
{
	struct fake_domain *d = calloc(1, sizeof(*d));
	char path[64], val[16];
	int rc = -ENOMEM;

	if (!d)
		return -ENOMEM;
	d->name = strdup(name);
	if (!d->name)
		goto out;
	d->domid = domid;
	d->next_gref = 8; /* Xen reserves the first grant entries */
	for (unsigned int i = 0; i < 16; i++)
		d->uuid[i] = (uint8_t)(domid * 31 + i * 7 + 1);

	/* What libxl writes for a new domain (libxl_create.c). */
	struct xo_perm home[2] = { { 0, XO_PERM_NONE }, { domid, XO_PERM_READ } };
	struct xo_perm guest_rw[1] = { { domid, XO_PERM_NONE } };
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	rc = fake_xs_write_as0_locked(w, path, "", home, 2);
	snprintf(val, sizeof(val), "%u", domid);
	snprintf(path, sizeof(path), "/local/domain/%u/domid", domid);
	if (!rc)
		rc = fake_xs_write_as0_locked(w, path, val, home, 2);
	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	if (!rc)
		rc = fake_xs_write_as0_locked(w, path, name, home, 2);
	snprintf(path, sizeof(path), "/local/domain/%u/device", domid);
	if (!rc)
		rc = fake_xs_write_as0_locked(w, path, "", home, 2);
	snprintf(path, sizeof(path), "/local/domain/%u/data", domid);
	if (!rc && domid)
		rc = fake_xs_write_as0_locked(w, path, "", guest_rw, 1);
	if (rc)
		goto out;
	d->next = w->domains;
	w->domains = d;
	d = NULL;
	rc = 0;
out:
	if (d) {
		free(d->name);
		free(d);
	}
	return rc;
}

struct xo_fake_world *xo_fake_world_new(void)
{
	struct fake_world *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	w->lim = (struct xo_fake_limits){
		.xs_nodes_per_domain = 1000,
		.xs_watches_per_domain = 128,
		.xs_txns_per_domain = 10,
		.xs_value_max = 2048,
		.gntalloc_limit = 1024,
		.coalesce_watches = false,
	};
	w->next_domid = 1;
	w->next_txn = 1;
	w->memfd = memfd_create("xenshm-fake-grants", MFD_CLOEXEC);
	if (w->memfd < 0 || fake_xs_init_locked(w) || domain_add_locked(w, 0, "Domain-0")) {
		xo_fake_world_free((struct xo_fake_world *)w);
		return NULL;
	}
	return (struct xo_fake_world *)w;
}

void xo_fake_world_free(struct xo_fake_world *world)
{
	struct fake_world *w = (struct fake_world *)world;

	if (!w)
		return;
	fake_gnt_free_all_locked(w);
	fake_xs_free_locked(w);
	while (w->domains) {
		struct fake_domain *d = w->domains;
		w->domains = d->next;
		free(d->name);
		free(d);
	}
	while (w->ports) {
		struct fake_port *p = w->ports;
		w->ports = p->next;
		free(p);
	}
	while (w->claims) { /* handles the test never closed */
		struct fake_claim *c = w->claims;
		w->claims = c->next;
		free(c);
	}
	if (w->memfd >= 0)
		close(w->memfd);
	free(w->slot_used);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

int xo_fake_domain_create(struct xo_fake_world *world, const char *name, xo_domid_t *out)
{
	struct fake_world *w = (struct fake_world *)world;
	int rc;

	LOCK(w);
	xo_domid_t domid = w->next_domid++;
	rc = domain_add_locked(w, domid, name);
	if (!rc) {
		fake_xs_fire_special_locked(w, "@introduceDomain");
		*out = domid;
	}
	UNLOCK(w);
	return rc;
}

static void domain_reap_locked(struct fake_world *w)
{
	struct fake_domain **pp = &w->domains;

	while (*pp) {
		struct fake_domain *d = *pp;
		if ((d->flags & XO_DOMINFO_DYING) &&
		    !fake_gnt_domain_has_mapped_grants_locked(w, d->domid)) {
			*pp = d->next;
			free(d->name);
			free(d);
		} else {
			pp = &d->next;
		}
	}
}

int xo_fake_domain_destroy(struct xo_fake_world *world, xo_domid_t domid)
{
	struct fake_world *w = (struct fake_world *)world;
	struct fake_domain *d;
	char path[64];
	int rc = 0;

	LOCK(w);
	d = fake_domain_find_locked(w, domid);
	if (!d || domid == 0 || (d->flags & XO_DOMINFO_DYING)) {
		rc = -ESRCH;
		goto out;
	}
	d->flags |= XO_DOMINFO_DYING;
	for (struct fake_handle *h = w->handles; h; h = h->next) {
		if (h->domid != domid || h->dead)
			continue;
		h->dead = true;
		fake_gnt_handle_gone_locked(w, h, true);
		fake_evtchn_handle_gone_locked(w, h);
		fake_xs_handle_gone_locked(w, h);
	}
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	fake_xs_rm_as0_locked(w, path);
	fake_xs_remove_owned_locked(w, domid);
	domain_reap_locked(w);
	fake_xs_fire_special_locked(w, "@releaseDomain");
out:
	UNLOCK(w);
	return rc;
}

int xo_fake_domain_set_uuid(struct xo_fake_world *world, xo_domid_t domid, const uint8_t uuid[16])
{
	struct fake_world *w = (struct fake_world *)world;
	struct fake_domain *d;

	LOCK(w);
	d = fake_domain_find_locked(w, domid);
	if (d)
		memcpy(d->uuid, uuid, 16);
	UNLOCK(w);
	return d ? 0 : -ESRCH;
}

int xo_fake_domain_set_flags(struct xo_fake_world *world, xo_domid_t domid, unsigned int flags)
{
	struct fake_world *w = (struct fake_world *)world;
	struct fake_domain *d;
	int rc = 0;

	LOCK(w);
	d = fake_domain_find_locked(w, domid);
	if (!d) {
		rc = -ESRCH;
	} else {
		bool was_shutdown = d->flags & XO_DOMINFO_SHUTDOWN;
		d->flags = (d->flags & XO_DOMINFO_DYING) | (flags & ~XO_DOMINFO_DYING);
		if (!was_shutdown && (flags & XO_DOMINFO_SHUTDOWN))
			fake_xs_fire_special_locked(w, "@releaseDomain");
	}
	UNLOCK(w);
	return rc;
}

int xo_fake_domain_shutdown(struct xo_fake_world *world, xo_domid_t domid, unsigned int reason)
{
	struct fake_world *w = (struct fake_world *)world;
	struct fake_domain *d;

	LOCK(w);
	d = fake_domain_find_locked(w, domid);
	if (d)
		d->shutdown_reason = reason;
	UNLOCK(w);
	return d ? xo_fake_domain_set_flags(world, domid, XO_DOMINFO_SHUTDOWN) : -ESRCH;
}

void xo_fake_inject(struct xo_fake_world *world, enum xo_fake_fault kind, int err,
		    unsigned int count)
{
	struct fake_world *w = (struct fake_world *)world;

	if ((unsigned int)kind >= XO_FAULT_COUNT_)
		return;
	LOCK(w);
	w->faults[kind].err = err;
	w->faults[kind].count = count;
	UNLOCK(w);
}

void xo_fake_get_limits(struct xo_fake_world *world, struct xo_fake_limits *out)
{
	struct fake_world *w = (struct fake_world *)world;

	LOCK(w);
	*out = w->lim;
	UNLOCK(w);
}

void xo_fake_set_limits(struct xo_fake_world *world, const struct xo_fake_limits *lim)
{
	struct fake_world *w = (struct fake_world *)world;

	LOCK(w);
	w->lim = *lim;
	UNLOCK(w);
}

int xo_fake_counts(struct xo_fake_world *world, xo_domid_t domid, struct xo_fake_counts *out)
{
	struct fake_world *w = (struct fake_world *)world;

	memset(out, 0, sizeof(*out));
	LOCK(w);
	for (struct fake_grant *g = w->grants; g; g = g->next) {
		if (g->granter == domid) {
			out->grants_live++;
			if (g->maps)
				out->grants_mapped++;
		}
	}
	for (struct fake_map *m = w->maps; m; m = m->next)
		if (m->h->domid == domid)
			out->maps_held += m->count;
	for (struct fake_port *p = w->ports; p; p = p->next)
		if (p->domid == domid)
			out->ports_bound++;
	out->xs_nodes_owned = fake_xs_count_owned_locked(w, domid);
	out->xs_watches = fake_xs_count_watches_locked(w, domid);
	UNLOCK(w);
	return 0;
}

static int fake_domain_fill(struct fake_domain *d, struct xo_dominfo *o)
{
	memset(o, 0, sizeof(*o));
	o->domid = d->domid;
	o->flags = d->flags;
	o->shutdown_reason = d->shutdown_reason;
	memcpy(o->uuid, d->uuid, sizeof(o->uuid));
	o->tot_pages = o->max_pages = 32768;
	return 0;
}

static int fake_domain_list(struct xo *x, struct xo_dominfo *out, unsigned int max,
			    unsigned int *n)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	unsigned int i = 0;
	int rc = 0;

	LOCK(w);
	if (h->dead) {
		rc = -ESRCH;
	} else if (h->domid != 0) {
		rc = -EPERM;
	} else {
		/* Ascending domid order, as xc_domain_getinfolist returns them. */
		xo_domid_t next = 0;
		while (i < max) {
			struct fake_domain *best = NULL;
			for (struct fake_domain *d = w->domains; d; d = d->next)
				if (d->domid >= next && (!best || d->domid < best->domid))
					best = d;
			if (!best)
				break;
			fake_domain_fill(best, &out[i++]);
			next = best->domid + 1;
		}
		*n = i;
	}
	UNLOCK(w);
	return rc;
}

static int fake_domain_info(struct xo *x, xo_domid_t domid, struct xo_dominfo *out)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_domain *d;
	int rc = 0;

	LOCK(w);
	if (h->dead)
		rc = -ESRCH;
	else if (h->domid != 0)
		rc = -EPERM;
	else if (!(d = fake_domain_find_locked(w, domid)))
		rc = -ESRCH;
	else
		fake_domain_fill(d, out);
	UNLOCK(w);
	return rc;
}

/* Claims are per domain, as the real ones are per guest: the holder's domid is in the key. */
static struct fake_claim **claim_find_locked(struct fake_world *w, xo_domid_t domid, const char *name)
{
	for (struct fake_claim **pp = &w->claims; *pp; pp = &(*pp)->next)
		if ((*pp)->owner->domid == domid && !strcmp((*pp)->name, name))
			return pp;
	return NULL;
}

static int fake_claim(struct xo *x, const char *name)
{
	struct fake_handle *h = fh(x);
	size_t n = strlen(name);
	struct fake_claim *c;
	int rc = 0;

	LOCK(h->w);
	if (claim_find_locked(h->w, h->domid, name)) {
		rc = -EBUSY;
	} else if (!(c = calloc(1, sizeof(*c) + n + 1))) {
		rc = -ENOMEM;
	} else {
		c->owner = h;
		memcpy(c->name, name, n + 1);
		c->next = h->w->claims;
		h->w->claims = c;
	}
	UNLOCK(h->w);
	return rc;
}

static void claim_drop_locked(struct fake_claim **pp)
{
	struct fake_claim *c = *pp;

	*pp = c->next;
	free(c);
}

static void fake_unclaim(struct xo *x, const char *name)
{
	struct fake_handle *h = fh(x);

	LOCK(h->w);
	struct fake_claim **pp = claim_find_locked(h->w, h->domid, name);
	if (pp && (*pp)->owner == h)
		claim_drop_locked(pp);
	UNLOCK(h->w);
}

static void fake_close(struct xo *x)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;

	LOCK(w);
	if (!h->dead) {
		fake_gnt_handle_gone_locked(w, h, false);
		fake_evtchn_handle_gone_locked(w, h);
	}
	fake_xs_handle_gone_locked(w, h);
	for (struct fake_claim **pp = &w->claims; *pp;) {
		if ((*pp)->owner == h)
			claim_drop_locked(pp);
		else
			pp = &(*pp)->next;
	}
	for (struct fake_handle **pp = &w->handles; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	domain_reap_locked(w);
	UNLOCK(w);
	close(h->xs_efd);
	close(h->ev_efd);
	free(h);
}

static int fake_host_info(struct xo *x, struct xo_hostinfo *out)
{
	struct fake_handle *h = fh(x);
	int rc = 0;

	LOCK(h->w);
	if (h->domid != 0) {
		rc = -EPERM;
	} else {
		memset(out, 0, sizeof(*out));
		snprintf(out->cmdline, sizeof(out->cmdline), "%s", h->w->lim.xen_cmdline);
		out->max_grant_frames = xo_cmdline_grant_frames(out->cmdline);
	}
	UNLOCK(h->w);
	return rc;
}

static const struct xo_ops fake_ops = {
	.name = "fake",
	.xs_read = fake_xs_read,
	.xs_write = fake_xs_write,
	.xs_mkdir = fake_xs_mkdir,
	.xs_rm = fake_xs_rm,
	.xs_directory = fake_xs_directory,
	.xs_get_perms = fake_xs_get_perms,
	.xs_set_perms = fake_xs_set_perms,
	.xs_txn_start = fake_xs_txn_start,
	.xs_txn_end = fake_xs_txn_end,
	.xs_watch = fake_xs_watch,
	.xs_unwatch = fake_xs_unwatch,
	.xs_fd = fake_xs_fd,
	.xs_read_watch = fake_xs_read_watch,
	.gnt_share = fake_gnt_share,
	.gnt_share_notify = fake_gnt_share_notify,
	.gnt_unshare = fake_gnt_unshare,
	.gnt_map = fake_gnt_map,
	.gnt_map_notify = fake_gnt_map_notify,
	.gnt_unmap = fake_gnt_unmap,
	.gnt_copy = fake_gnt_copy,
	.evtchn_bind_unbound = fake_evtchn_bind_unbound,
	.evtchn_bind_interdomain = fake_evtchn_bind_interdomain,
	.evtchn_unbind = fake_evtchn_unbind,
	.evtchn_notify = fake_evtchn_notify,
	.evtchn_fd = fake_evtchn_fd,
	.evtchn_pending = fake_evtchn_pending,
	.evtchn_pending_polled = fake_evtchn_pending,
	.evtchn_unmask = fake_evtchn_unmask,
	.domain_list = fake_domain_list,
	.domain_info = fake_domain_info,
	.host_info = fake_host_info,
	.claim = fake_claim,
	.unclaim = fake_unclaim,
	.close = fake_close,
};

int xo_fake_open(struct xo_fake_world *world, xo_domid_t domid, struct xo **out)
{
	struct fake_world *w = (struct fake_world *)world;
	struct fake_handle *h = calloc(1, sizeof(*h));
	struct fake_domain *d;
	int rc = 0;

	if (!h)
		return -ENOMEM;
	h->xs_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	h->ev_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (h->xs_efd < 0 || h->ev_efd < 0) {
		rc = -errno;
		goto out;
	}
	h->xo.ops = &fake_ops;
	h->w = w;
	h->domid = domid;
	LOCK(w);
	d = fake_domain_find_locked(w, domid);
	if (!d || (d->flags & XO_DOMINFO_DYING)) {
		rc = -ESRCH;
	} else {
		h->next = w->handles;
		w->handles = h;
	}
	UNLOCK(w);
out:
	if (rc) {
		if (h->xs_efd >= 0)
			close(h->xs_efd);
		if (h->ev_efd >= 0)
			close(h->ev_efd);
		free(h);
		return rc;
	}
	*out = &h->xo;
	return 0;
}
