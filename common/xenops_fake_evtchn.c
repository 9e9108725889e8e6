// SPDX-License-Identifier: LGPL-2.1-only
/*
 * Fake event channels with the Linux evtchn device's semantics: a port that
 * fires is masked and queued on its handle's fd; pending() hands it out;
 * a fire while masked only sets the pending bit, which unmask() delivers.
 * Closing one end of an interdomain channel leaves the other end unbound,
 * and notifying an unbound port is a no-op, as on Xen.
 */
#include <errno.h>
#include <stdlib.h>

#include "fake_private.h"

#define LOCK(w) pthread_mutex_lock(&(w)->lock)
#define UNLOCK(w) pthread_mutex_unlock(&(w)->lock)

static struct fake_port *port_find_locked(struct fake_world *w, xo_domid_t domid, xo_port_t port)
{
	for (struct fake_port *p = w->ports; p; p = p->next)
		if (p->domid == domid && p->port == port)
			return p;
	return NULL;
}

static int port_new_locked(struct fake_handle *h, struct fake_port **out)
{
	struct fake_world *w = h->w;
	struct fake_port *p;
	xo_port_t port = 1;

	while (port_find_locked(w, h->domid, port))
		port++;
	if (port > 1023)
		return -ENOSPC; /* the default max_event_channels of a guest */
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->domid = h->domid;
	p->port = port;
	p->h = h;
	p->next = w->ports;
	w->ports = p;
	*out = p;
	return 0;
}

static void enqueue_locked(struct fake_port *p)
{
	struct fake_handle *h = p->h;

	if (p->queued)
		return;
	p->queued = true;
	p->qnext = NULL;
	if (h->q_tail)
		h->q_tail->qnext = p;
	else
		h->q_head = p;
	h->q_tail = p;
	fake_efd_set(h->ev_efd);
}

static void fire_locked(struct fake_port *p)
{
	if (p->masked) {
		p->pending = true;
		return;
	}
	p->masked = true;
	enqueue_locked(p);
}

static void dequeue_locked(struct fake_port *p)
{
	struct fake_handle *h = p->h;
	struct fake_port *prev = NULL;

	if (!p->queued)
		return;
	for (struct fake_port *i = h->q_head; i; prev = i, i = i->qnext) {
		if (i != p)
			continue;
		if (prev)
			prev->qnext = i->qnext;
		else
			h->q_head = i->qnext;
		if (h->q_tail == i)
			h->q_tail = prev;
		break;
	}
	p->queued = false;
	if (!h->q_head)
		fake_efd_clear(h->ev_efd);
}

int fake_evtchn_bind_unbound(struct xo *x, xo_domid_t remote, xo_port_t *local)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_port *p;
	int rc;

	LOCK(w);
	rc = h->dead ? -ESRCH : fake_fault_take_locked(w, XO_FAULT_EVTCHN_BIND);
	if (!rc && remote >= XO_DOMID_FIRST_RESERVED)
		rc = -EINVAL;
	if (!rc)
		rc = port_new_locked(h, &p);
	if (!rc) {
		p->state = FPORT_UNBOUND;
		p->remote = remote;
		*local = p->port;
	}
	UNLOCK(w);
	return rc;
}

int fake_evtchn_bind_interdomain(struct xo *x, xo_domid_t remote, xo_port_t remote_port,
				 xo_port_t *local)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_port *rp, *p;
	int rc;

	LOCK(w);
	rc = h->dead ? -ESRCH : fake_fault_take_locked(w, XO_FAULT_EVTCHN_BIND);
	if (rc)
		goto out;
	rp = port_find_locked(w, remote, remote_port);
	if (!rp || rp->state != FPORT_UNBOUND || rp->remote != h->domid ||
	    (rp->h && rp->h->dead)) {
		rc = -EINVAL;
		goto out;
	}
	rc = port_new_locked(h, &p);
	if (rc)
		goto out;
	p->state = FPORT_INTERDOMAIN;
	p->remote = remote;
	p->remote_port = remote_port;
	rp->state = FPORT_INTERDOMAIN;
	rp->remote_port = p->port;
	*local = p->port;
out:
	UNLOCK(w);
	return rc;
}

static void port_close_locked(struct fake_world *w, struct fake_port *p)
{
	if (p->state == FPORT_INTERDOMAIN) {
		struct fake_port *peer = port_find_locked(w, p->remote, p->remote_port);
		if (peer && peer->state == FPORT_INTERDOMAIN && peer->remote_port == p->port) {
			peer->state = FPORT_UNBOUND;
			peer->remote = p->domid;
		}
	}
	dequeue_locked(p);
	for (struct fake_port **pp = &w->ports; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	free(p);
}

int fake_evtchn_unbind(struct xo *x, xo_port_t port)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_port *p;
	int rc = 0;

	LOCK(w);
	p = port_find_locked(w, h->domid, port);
	if (h->dead)
		rc = -ESRCH;
	else if (!p || p->h != h)
		rc = -EINVAL;
	else
		port_close_locked(w, p);
	UNLOCK(w);
	return rc;
}

int fake_evtchn_notify_locked(struct fake_world *w, struct fake_handle *h, xo_port_t port)
{
	struct fake_port *p = port_find_locked(w, h->domid, port);

	if (!p || p->h != h)
		return -EINVAL;
	if (p->state != FPORT_INTERDOMAIN)
		return 0;
	struct fake_port *peer = port_find_locked(w, p->remote, p->remote_port);
	if (peer && !peer->h->dead)
		fire_locked(peer);
	return 0;
}

int fake_evtchn_notify(struct xo *x, xo_port_t port)
{
	struct fake_handle *h = fh(x);
	int rc;

	LOCK(h->w);
	rc = h->dead ? -ESRCH : fake_evtchn_notify_locked(h->w, h, port);
	UNLOCK(h->w);
	return rc;
}

int fake_evtchn_fd(struct xo *x)
{
	return fh(x)->ev_efd;
}

int fake_evtchn_pending(struct xo *x, xo_port_t *port)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	int rc = 0;

	LOCK(w);
	struct fake_port *p = h->q_head;
	if (h->dead) {
		rc = -ESRCH;
	} else if (!p) {
		fake_efd_clear(h->ev_efd);
		rc = -EAGAIN;
	} else {
		dequeue_locked(p);
		*port = p->port;
	}
	UNLOCK(w);
	return rc;
}

int fake_evtchn_unmask(struct xo *x, xo_port_t port)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_port *p;
	int rc = 0;

	LOCK(w);
	p = port_find_locked(w, h->domid, port);
	if (h->dead) {
		rc = -ESRCH;
	} else if (!p || p->h != h) {
		rc = -EINVAL;
	} else {
		p->masked = false;
		if (p->pending) {
			p->pending = false;
			fire_locked(p);
		}
	}
	UNLOCK(w);
	return rc;
}

void fake_evtchn_handle_gone_locked(struct fake_world *w, struct fake_handle *h)
{
	for (struct fake_port *p = w->ports, *next; p; p = next) {
		next = p->next;
		if (p->h == h)
			port_close_locked(w, p);
	}
}
