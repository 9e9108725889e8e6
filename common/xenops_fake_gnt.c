// SPDX-License-Identifier: LGPL-2.1-only
/*
 * The fake grant table.  Every granted page is a page of one world memfd;
 * the sharer and each mapper get their own MAP_SHARED view of it, so the
 * bytes are shared exactly as between two Xen domains and the addresses
 * differ.  As in Linux gntalloc, a page whose sharer let go while a peer
 * still maps it stays allocated (and counted against the limit) until the
 * last unmap.  When a domain dies its views are replaced by private zero
 * pages, so its simulated thread can keep running without touching shared
 * bytes any more, which is what the peer of a dead domain observes.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fake_private.h"

#define LOCK(w) pthread_mutex_lock(&(w)->lock)
#define UNLOCK(w) pthread_mutex_unlock(&(w)->lock)
#define PG XO_PAGE_SIZE

static int slot_alloc_locked(struct fake_world *w, size_t *out)
{
	for (size_t i = 0; i < w->nslots; i++) {
		if (!w->slot_used[i]) {
			w->slot_used[i] = 1;
			*out = i;
			return 0;
		}
	}
	size_t n = w->nslots ? w->nslots * 2 : 64;
	uint8_t *u = realloc(w->slot_used, n);
	if (!u)
		return -ENOMEM;
	memset(u + w->nslots, 0, n - w->nslots);
	w->slot_used = u;
	if (ftruncate(w->memfd, (off_t)(n * PG)) < 0)
		return -errno;
	*out = w->nslots;
	w->nslots = n;
	w->slot_used[*out] = 1;
	return 0;
}

static void slot_free_locked(struct fake_world *w, size_t slot)
{
	/* New grants must start zeroed, as gntalloc's pages do. */
	fallocate(w->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(slot * PG), PG);
	w->slot_used[slot] = 0;
}

/* A contiguous view of the grants' pages in this process. */
static void *view_map(struct fake_world *w, struct fake_grant **g, unsigned int count, bool rw)
{
	uint8_t *base = mmap(NULL, (size_t)count * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (base == MAP_FAILED)
		return NULL;
	for (unsigned int i = 0; i < count; i++) {
		void *p = mmap(base + (size_t)i * PG, PG, PROT_READ | (rw ? PROT_WRITE : 0),
			       MAP_SHARED | MAP_FIXED, w->memfd, (off_t)(g[i]->slot * PG));
		if (p == MAP_FAILED) {
			munmap(base, (size_t)count * PG);
			return NULL;
		}
	}
	return base;
}

/* Cut a view off from the shared pages without unmapping the address range. */
static void view_orphan(uint8_t *addr, unsigned int count)
{
	if (mmap(addr, (size_t)count * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		abort(); /* the fake cannot keep its promise of a mapping that stays valid */
}

static void grant_put_locked(struct fake_world *w, struct fake_grant *g)
{
	if (!g->unshared || g->maps)
		return;
	for (struct fake_grant **pp = &w->grants; *pp; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	slot_free_locked(w, g->slot);
	free(g);
}

static unsigned int grants_of_locked(struct fake_world *w, xo_domid_t domid)
{
	unsigned int n = 0;

	for (struct fake_grant *g = w->grants; g; g = g->next)
		if (g->granter == domid)
			n++;
	return n;
}

static int share_locked(struct fake_handle *h, xo_domid_t domid, unsigned int count, bool writable,
			int notify_offset, int notify_port, xo_gref_t *refs, void **addr)
{
	struct fake_world *w = h->w;
	struct fake_domain *me = fake_domain_find_locked(w, h->domid);
	struct fake_share *s = NULL;
	int rc;

	if (h->dead || !me)
		return -ESRCH;
	if (!count || domid >= XO_DOMID_FIRST_RESERVED)
		return -EINVAL;
	if (notify_offset >= (int)PG)
		return -EINVAL;
	rc = fake_fault_take_locked(w, XO_FAULT_GNT_SHARE);
	if (rc)
		return rc;
	if (grants_of_locked(w, h->domid) + count > w->lim.gntalloc_limit)
		return -ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s || !(s->grants = calloc(count, sizeof(*s->grants)))) {
		free(s);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < count; i++) {
		struct fake_grant *g = calloc(1, sizeof(*g));
		if (!g || slot_alloc_locked(w, &g->slot)) {
			free(g);
			rc = -ENOMEM;
			goto fail;
		}
		g->granter = h->domid;
		g->grantee = domid;
		g->writable = writable;
		g->ref = me->next_gref++;
		g->next = w->grants;
		w->grants = g;
		s->grants[s->count++] = g;
	}
	s->addr = view_map(w, s->grants, count, true);
	if (!s->addr) {
		rc = -ENOMEM;
		goto fail;
	}
	s->h = h;
	s->notify_offset = notify_offset;
	s->notify_port = notify_port;
	s->next = w->shares;
	w->shares = s;
	for (unsigned int i = 0; i < count; i++)
		refs[i] = s->grants[i]->ref;
	*addr = s->addr;
	return 0;
fail:
	for (unsigned int i = 0; i < s->count; i++) {
		s->grants[i]->unshared = true;
		grant_put_locked(w, s->grants[i]);
	}
	free(s->grants);
	free(s);
	return rc;
}

int fake_gnt_share(struct xo *x, xo_domid_t domid, unsigned int count, bool writable,
		   xo_gref_t *refs, void **addr)
{
	struct fake_handle *h = fh(x);
	int rc;

	LOCK(h->w);
	rc = share_locked(h, domid, count, writable, -1, -1, refs, addr);
	UNLOCK(h->w);
	return rc;
}

int fake_gnt_share_notify(struct xo *x, xo_domid_t domid, bool writable, int notify_offset,
			  int notify_port, xo_gref_t *ref, void **addr)
{
	struct fake_handle *h = fh(x);
	int rc;

	LOCK(h->w);
	rc = share_locked(h, domid, 1, writable, notify_offset, notify_port, ref, addr);
	UNLOCK(h->w);
	return rc;
}

/* The unmap-notify of a view that goes away while its domain lives. */
static void notify_locked(struct fake_world *w, struct fake_handle *h, uint8_t *addr,
			  int offset, int port)
{
	if (offset >= 0)
		addr[offset] = 0;
	if (port >= 0)
		fake_evtchn_notify_locked(w, h, (xo_port_t)port);
}

static void share_release_locked(struct fake_world *w, struct fake_share *s, bool died)
{
	if (died)
		view_orphan(s->addr, s->count);
	else {
		notify_locked(w, s->h, s->addr, s->notify_offset, s->notify_port);
		munmap(s->addr, (size_t)s->count * PG);
	}
	for (unsigned int i = 0; i < s->count; i++) {
		s->grants[i]->unshared = true;
		grant_put_locked(w, s->grants[i]);
	}
	free(s->grants);
	free(s);
}

int fake_gnt_unshare(struct xo *x, void *addr, unsigned int count)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	int rc = -EINVAL;

	LOCK(w);
	for (struct fake_share **pp = &w->shares; *pp; pp = &(*pp)->next) {
		struct fake_share *s = *pp;
		if (s->h == h && s->addr == addr && s->count == count) {
			*pp = s->next;
			share_release_locked(w, s, false);
			rc = 0;
			break;
		}
	}
	UNLOCK(w);
	return rc;
}

static int map_locked(struct fake_handle *h, xo_domid_t domid, unsigned int count,
		      const xo_gref_t *refs, bool writable, int notify_offset, int notify_port,
		      void **addr)
{
	struct fake_world *w = h->w;
	struct fake_map *m;
	int rc;

	if (h->dead)
		return -ESRCH;
	if (!count || notify_offset >= (int)PG)
		return -EINVAL;
	rc = fake_fault_take_locked(w, XO_FAULT_GNT_MAP);
	if (rc)
		return rc;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->grants = calloc(count, sizeof(*m->grants)))) {
		free(m);
		return -ENOMEM;
	}
	/* All or nothing, as xengnttab_map_*: resolve every ref before taking any. */
	for (unsigned int i = 0; i < count; i++) {
		struct fake_grant *g;
		for (g = w->grants; g; g = g->next)
			if (g->granter == domid && g->ref == refs[i] && !g->unshared)
				break;
		if (!g) {
			rc = -EINVAL; /* GNTST_bad_gntref */
			goto fail;
		}
		if (g->grantee != h->domid || (writable && !g->writable)) {
			rc = -EACCES; /* GNTST_permission_denied */
			goto fail;
		}
		m->grants[i] = g;
	}
	m->addr = view_map(w, m->grants, count, writable);
	if (!m->addr) {
		rc = -ENOMEM;
		goto fail;
	}
	for (unsigned int i = 0; i < count; i++)
		m->grants[i]->maps++;
	m->h = h;
	m->count = count;
	m->notify_offset = notify_offset;
	m->notify_port = notify_port;
	m->next = w->maps;
	w->maps = m;
	*addr = m->addr;
	return 0;
fail:
	free(m->grants);
	free(m);
	return rc;
}

int fake_gnt_map(struct xo *x, xo_domid_t domid, unsigned int count, const xo_gref_t *refs,
		 bool writable, void **addr)
{
	struct fake_handle *h = fh(x);
	int rc;

	LOCK(h->w);
	rc = map_locked(h, domid, count, refs, writable, -1, -1, addr);
	UNLOCK(h->w);
	return rc;
}

int fake_gnt_map_notify(struct xo *x, xo_domid_t domid, xo_gref_t ref, bool writable,
			int notify_offset, int notify_port, void **addr)
{
	struct fake_handle *h = fh(x);
	int rc;

	LOCK(h->w);
	rc = map_locked(h, domid, 1, &ref, writable, notify_offset, notify_port, addr);
	UNLOCK(h->w);
	return rc;
}

static void map_release_locked(struct fake_world *w, struct fake_map *m, bool died)
{
	if (died)
		view_orphan(m->addr, m->count);
	else {
		notify_locked(w, m->h, m->addr, m->notify_offset, m->notify_port);
		munmap(m->addr, (size_t)m->count * PG);
	}
	for (unsigned int i = 0; i < m->count; i++) {
		m->grants[i]->maps--;
		grant_put_locked(w, m->grants[i]);
	}
	free(m->grants);
	free(m);
}

int fake_gnt_unmap(struct xo *x, void *addr, unsigned int count)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	int rc = -EINVAL;

	LOCK(w);
	for (struct fake_map **pp = &w->maps; *pp; pp = &(*pp)->next) {
		struct fake_map *m = *pp;
		if (m->h == h && m->addr == addr && m->count == count) {
			*pp = m->next;
			map_release_locked(w, m, false);
			rc = 0;
			break;
		}
	}
	UNLOCK(w);
	return rc;
}

void fake_gnt_handle_gone_locked(struct fake_world *w, struct fake_handle *h, bool died)
{
	/* Mappings first: Xen's domain teardown releases them (gnttab_release_mappings). */
	for (struct fake_map **pp = &w->maps; *pp;) {
		struct fake_map *m = *pp;
		if (m->h == h) {
			*pp = m->next;
			map_release_locked(w, m, died);
		} else {
			pp = &m->next;
		}
	}
	for (struct fake_share **pp = &w->shares; *pp;) {
		struct fake_share *s = *pp;
		if (s->h == h) {
			*pp = s->next;
			share_release_locked(w, s, died);
		} else {
			pp = &s->next;
		}
	}
}

bool fake_gnt_domain_has_mapped_grants_locked(struct fake_world *w, xo_domid_t domid)
{
	for (struct fake_grant *g = w->grants; g; g = g->next)
		if (g->granter == domid && g->maps)
			return true;
	return false;
}

void fake_gnt_free_all_locked(struct fake_world *w)
{
	while (w->maps) {
		struct fake_map *m = w->maps;
		w->maps = m->next;
		munmap(m->addr, (size_t)m->count * PG);
		free(m->grants);
		free(m);
	}
	while (w->shares) {
		struct fake_share *s = w->shares;
		w->shares = s->next;
		munmap(s->addr, (size_t)s->count * PG);
		free(s->grants);
		free(s);
	}
	while (w->grants) {
		struct fake_grant *g = w->grants;
		w->grants = g->next;
		free(g);
	}
}

/* One op against the world memfd, checked as Xen's GNTTABOP_copy checks it. */
static int16_t copy_one_locked(struct fake_handle *h, const struct xo_gnt_copy *op)
{
	struct fake_world *w = h->w;
	struct fake_grant *g;
	off_t at;
	ssize_t n;

	if (!fake_domain_find_locked(w, op->domid))
		return XO_GNTST_BAD_DOMAIN;
	for (g = w->grants; g; g = g->next)
		if (g->granter == op->domid && g->ref == op->ref && !g->unshared)
			break;
	if (!g)
		return XO_GNTST_BAD_GNTREF;
	if (g->grantee != h->domid || (op->to_granted && !g->writable))
		return XO_GNTST_PERMISSION_DENIED;
	at = (off_t)(g->slot * PG + op->offset);
	n = op->to_granted ? pwrite(w->memfd, op->local, op->len, at) : pread(w->memfd, op->local, op->len, at);
	return n == (ssize_t)op->len ? XO_GNTST_OKAY : XO_GNTST_GENERAL_ERROR;
}

int fake_gnt_copy(struct xo *x, struct xo_gnt_copy *ops, unsigned int count)
{
	struct fake_handle *h = fh(x);
	int rc = 0;

	LOCK(h->w);
	if (h->dead)
		rc = -ESRCH;
	else
		rc = fake_fault_take_locked(h->w, XO_FAULT_GNT_COPY);
	/* The kernel refuses the whole batch for an op that would leave its page. */
	for (unsigned int i = 0; !rc && i < count; i++)
		if (ops[i].offset + ops[i].len > PG || ops[i].domid >= XO_DOMID_FIRST_RESERVED)
			rc = -EINVAL;
	for (unsigned int i = 0; !rc && i < count; i++)
		ops[i].status = copy_one_locked(h, &ops[i]);
	UNLOCK(h->w);
	return rc;
}
