// SPDX-License-Identifier: GPL-2.0-only
/* MemPipe in xenshmd: listeners, connections and the relay (see chan.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "xenshm/chan.h"
#include "xenshm/xspaths.h"
#include "../dom0/peers.h"
#include "chan.h"
#include "spin.h"

#define DEVLOG XSHM_DEVLOG

/* Bytes one direction may move per pass before the others get their turn. */
#define RELAY_BUDGET (8u << 20)
/* Wake-up re-arms per pass: a peer racing us cannot keep the relay spinning. */
#define RELAY_REARMS 16

static uint32_t new_id(struct xshm_host *h)
{
	/* 0 means "none" in the protocol; ids are never reused while a wrap is far away. */
	if (++h->next_chan_id == 0)
		h->next_chan_id = 1;
	return h->next_chan_id;
}

static struct xshm_chan *find_listener(struct xshm_host *h, xo_domid_t domid, const char *name)
{
	for (struct xshm_chan *c = h->chans; c; c = c->next)
		if (c->listener && c->ldev->domid == domid && !strncmp(c->name, name, sizeof(c->name)))
			return c;
	return NULL;
}

/* The end of a connection that `id` names for this device, or NULL. */
static struct xshm_chan *find_end(struct xshm_host *h, const struct xshm_dev *dev, uint32_t id, int *which)
{
	for (struct xshm_chan *c = h->chans; c; c = c->next) {
		if (c->listener)
			continue;
		for (int i = 0; i < 2; i++) {
			if (c->end[i].dev == dev && c->id + (uint32_t)i == id && !c->end[i].closing) {
				*which = i;
				return c;
			}
		}
	}
	return NULL;
}

/* The admin's view: backend/xenshm/<domid>/<devid>/channel/<id> (schema: be-channel). */
static void show(struct xshm_dev *dev, uint32_t id, const char *value, bool remove)
{
	char path[XSP_MAX];

	if (!dev || xsp_be_channel(path, sizeof(path), dev->domid, dev->devid, id))
		return;
	if (remove)
		dev->h->x->ops->xs_rm(dev->h->x, XO_TXN_NONE, path);
	else if (dev->rings_attached) /* never recreate a dir the toolstack removed */
		xo_write_str(dev->h->x, XO_TXN_NONE, path, value);
}

static void show_end(struct xshm_host *h, struct xshm_chan *c, int i)
{
	struct xshm_chan_end *e = &c->end[i], *peer = &c->end[1 - i];
	char v[160];

	snprintf(v, sizeof(v), "%u %s %u %u %llu %llu %u %u", peer->dev ? peer->dev->domid : 0, c->name,
		 e->tx_pages * 4, e->rx_pages * 4, (unsigned long long)e->bytes_sent,
		 (unsigned long long)peer->bytes_sent, e->sz.resizes, xshm_rx_utilisation_pct(&e->sz));
	e->shown_ms = xshm_host_now(h);
	e->shown_bytes = e->bytes_sent + peer->bytes_sent;
	show(e->dev, c->id + (uint32_t)i, v, false);
}

static void unlink_chan(struct xshm_host *h, struct xshm_chan *c)
{
	for (struct xshm_chan **pp = &h->chans; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			free(c);
			return;
		}
	}
}

static void kick(struct xshm_dev *dev)
{
	if (dev && dev->port_bound)
		dev->h->x->ops->evtchn_notify(dev->h->x, dev->port);
}

/* Tell an end what became of its peer: after everything relayed so far, never before. */
static void set_peer_state(struct xshm_chan_end *e, uint32_t state)
{
	if (!e->dev || !e->rx)
		return;
	__atomic_store_n(&((struct xshm_chan_page *)e->rx->data)->peer_state, state, __ATOMIC_RELEASE);
	kick(e->dev);
}

static void drop_rx(struct xshm_chan_end *e)
{
	if (e->old_rx) {
		xshm_seg_drop(e->dev, e->old_rx);
		e->old_rx = NULL;
	}
	if (e->rx) {
		xshm_ring_detach(&e->to);
		xshm_seg_drop(e->dev, e->rx);
		e->rx = NULL;
	}
}

static void release_end(struct xshm_chan *c, int i)
{
	struct xshm_chan_end *e = &c->end[i];

	if (!e->dev)
		return;
	show(e->dev, c->id + (uint32_t)i, NULL, true);
	drop_rx(e);
	if (e->tx_offer) {
		xshm_seg_drop(e->dev, e->tx_offer);
		e->tx_offer = NULL;
	}
	if (e->tx) {
		xshm_ring_detach(&e->from);
		xshm_seg_drop(e->dev, e->tx);
		e->tx = NULL;
	}
	e->dev = NULL;
}

/* This end is done: its peer learns `state`; the channel goes when both ends are done. */
static void finish_end(struct xshm_host *h, struct xshm_chan *c, int i, uint32_t state)
{
	release_end(c, i);
	set_peer_state(&c->end[1 - i], state);
	if (!c->end[1 - i].dev)
		unlink_chan(h, c);
}

static int setup_end(struct xshm_chan *c, int i, struct xshm_dev *dev)
{
	struct xshm_chan_end *e = &c->end[i];
	bool message = c->flags & XSHM_CHAN_MESSAGE;
	int rc;

	e->dev = dev;
	e->idle_polls = XSHM_RELAY_HOT_POLLS; /* cold until data moves */
	e->rx_pages = c->rx_pages;
	e->tx_pages = c->tx_pages;
	rc = xshm_seg_new(dev, c->tx_pages + 1, XSHM_SEG_RING, &e->tx);
	if (!rc)
		rc = xshm_seg_new(dev, e->rx_pages + 1, XSHM_SEG_RING, &e->rx);
	if (rc)
		return rc;
	xshm_chan_page_init(e->tx->data, c->id + (uint32_t)i);
	xshm_chan_page_init(e->rx->data, c->id + (uint32_t)i);
	rc = xshm_chan_ring_attach(&e->from, e->tx->data, c->tx_pages, XSHM_RING_CONSUMER, message,
				   c->max_msg);
	if (rc)
		return rc;
	rc = xshm_chan_ring_attach(&e->to, e->rx->data, e->rx_pages, XSHM_RING_PRODUCER, message,
				   c->max_msg);
	if (rc)
		xshm_ring_detach(&e->from);
	return rc;
}

/* Roll back a half-made connection (its segments were never announced to a guest's library). */
static void abandon(struct xshm_chan *c)
{
	for (int i = 0; i < 2; i++) {
		struct xshm_chan_end *e = &c->end[i];
		if (e->tx && e->rx) {
			xshm_ring_detach(&e->from);
			xshm_ring_detach(&e->to);
		}
		if (e->rx)
			xshm_seg_drop(e->dev, e->rx);
		if (e->tx)
			xshm_seg_drop(e->dev, e->tx);
	}
	free(c);
}

static void describe(const struct xshm_chan *c, int i, struct xshm_ctrl_chan_info *ci)
{
	const struct xshm_chan_end *e = &c->end[i];

	memset(ci, 0, sizeof(*ci));
	ci->chan_id = c->id + (uint32_t)i;
	ci->tx_seg = e->tx->id;
	ci->tx_dir_gref = e->tx->dir_refs[0];
	ci->tx_pages = e->tx_pages;
	ci->rx_seg = e->rx->id;
	ci->rx_dir_gref = e->rx->dir_refs[0];
	ci->rx_pages = e->rx_pages;
	ci->max_msg = c->max_msg;
	ci->flags = (c->flags & XSHM_CHAN_MESSAGE) | (c->sized ? XSHM_CHAN_SIZED : 0);
}

static int listen_on(struct xshm_dev *dev, const struct xshm_ctrl_chan_open *req,
		     struct xshm_ctrl_rsp_chan_open *rsp)
{
	struct xshm_host *h = dev->h;
	struct xshm_chan *c;

	if (find_listener(h, dev->domid, req->name))
		return -EADDRINUSE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->listener = true;
	c->id = new_id(h);
	memcpy(c->name, req->name, sizeof(c->name));
	c->flags = req->flags & XSHM_CHAN_MESSAGE;
	c->max_msg = req->max_msg;
	c->tx_pages = c->rx_pages = req->ring_pages;
	c->ldev = dev;
	c->peer_filter = req->peer_domid;
	c->next = h->chans;
	h->chans = c;
	rsp->chan.chan_id = c->id;
	char v[96];
	snprintf(v, sizeof(v), "listen %s", c->name);
	show(dev, c->id, v, false);
	DEVLOG(dev, LOG_INFO, "listening on channel '%s'", c->name);
	return 0;
}

/* May `dev` log one more line a guest caused?  `more` gets " (N more like it not logged)". */
static bool chan_log_allowed(struct xshm_dev *dev, char *more, size_t size)
{
	uint64_t dropped;

	more[0] = 0;
	if (!xshm_lograte_allow(&dev->chan_log, xshm_host_now(dev->h), &dropped))
		return false;
	if (dropped)
		snprintf(more, size, " (%llu more like it not logged)", (unsigned long long)dropped);
	return true;
}

/*
 * Does `dev`'s guest consent to a channel with `peer`'s (its mempipe-peers list, read now so
 * that an administrator's change applies to the next channel)?  0 and the cap on each ring in
 * pages (0: none), or -EACCES, said in the log unless `quiet` (a name lookup is no channel
 * refused, and a program may look up a peer that is not there yet again and again).
 */
static int peer_consents(struct xshm_dev *dev, const struct xshm_dev *peer, uint32_t *cap_pages, bool quiet)
{
	struct xo *x = dev->h->x;
	char path[XSP_MAX], why[160] = "", *untrusted = NULL, *name = NULL;
	uint64_t max_kb = 0;
	int rc;

	*cap_pages = 0;
	if (xsp_be_mempipe_peers(path, sizeof(path), dev->domid, dev->devid))
		return -EACCES;
	rc = xo_read_str(x, XO_TXN_NONE, path, &untrusted);
	if (rc == -ENOENT)
		return 0; /* no list: any co-located peer */
	if (!rc) {
		xo_domain_name(x, peer->domid, &name);
		rc = xshm_peers_match(untrusted, peer->domid, name, &max_kb, why, sizeof(why));
	}
	if (rc == 1) {
		*cap_pages = (uint32_t)(max_kb / 4);
		rc = 0;
	} else {
		char more[64];
		if (!quiet && chan_log_allowed(dev, more, sizeof(more)))
			DEVLOG(dev, LOG_NOTICE, "refused a MemPipe channel with domain %u (%s): %s%s%s", peer->domid,
			       name ? name : "no name", rc == 0 ? "not in its mempipe-peers" : "mempipe-peers unreadable: ",
			       rc == 0 ? "" : why[0] ? why : strerror(-rc), more);
		rc = -EACCES;
	}
	free(name);
	free(untrusted);
	return rc;
}

/* The smaller of two caps in pages, 0 meaning none. */
static uint32_t tighter(uint32_t a, uint32_t b)
{
	return !a ? b : !b ? a : a < b ? a : b;
}

static int connect_to(struct xshm_dev *dev, const struct xshm_ctrl_chan_open *req,
		      struct xshm_ctrl_rsp_chan_open *rsp)
{
	struct xshm_host *h = dev->h;
	struct xshm_chan *l = find_listener(h, (xo_domid_t)req->peer_domid, req->name), *c;
	struct xshm_ctrl_msg note = { .hdr = { .type = XSHM_CTRL_CHAN_ACCEPT } };
	int rc;

	if (!l || !l->ldev->rings_attached || (l->peer_filter && l->peer_filter != dev->domid))
		return -ECONNREFUSED;
	if ((req->flags & XSHM_CHAN_MESSAGE) != l->flags)
		return -EPROTOTYPE;
	uint32_t cap_c, cap_l;
	if (peer_consents(dev, l->ldev, &cap_c, false) || peer_consents(l->ldev, dev, &cap_l, false))
		return -EACCES;
	const uint32_t cap = tighter(cap_c, cap_l);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	memcpy(c->name, req->name, sizeof(c->name));
	c->flags = l->flags;
	/* The smaller of the two limits that are set: neither end gets more than it asked for. */
	c->max_msg = !req->max_msg ? l->max_msg : !l->max_msg ? req->max_msg :
		     req->max_msg < l->max_msg ? req->max_msg : l->max_msg;
	c->tx_pages = c->rx_pages = req->ring_pages ? req->ring_pages : l->tx_pages;
	if (!c->tx_pages) {
		/* Sized: rx rings follow the load, never below what the largest message needs. */
		uint32_t fit = (uint32_t)(((uint64_t)c->max_msg + XSHM_RING_FRAME_HDR + 4095) / 4096);
		c->sized = true;
		uint32_t floor_pages = tighter(XSHM_CHAN_RX_PAGES_MIN, cap);
		c->rx_min = fit > floor_pages ? fit : floor_pages;
		c->rx_max = c->rx_min > XSHM_CHAN_RX_PAGES_MAX ? c->rx_min : XSHM_CHAN_RX_PAGES_MAX;
		c->tx_pages = c->rx_min;
		c->rx_pages = c->rx_min;
		if (cap && c->rx_max > cap)
			c->rx_max = cap > c->rx_min ? cap : c->rx_min;
		if (!c->max_msg) /* what the smallest rx ring can carry */
			c->max_msg = (uint32_t)(((uint64_t)c->rx_min * 4096 - XSHM_RING_FRAME_HDR) & ~7ull);
	} else if (cap && c->tx_pages > cap) {
		c->tx_pages = c->rx_pages = cap;
	}
	/* A cap below what the largest message needs: that channel cannot work. */
	if (cap && c->max_msg && ((uint64_t)c->max_msg + XSHM_RING_FRAME_HDR + 4095) / 4096 > cap) {
		free(c);
		return -EMSGSIZE;
	}
	c->listener_id = l->id;
	c->id = new_id(h);
	new_id(h); /* the accepted end's id is c->id + 1 */
	rc = setup_end(c, 0, dev);
	if (rc)
		goto fail;
	rc = setup_end(c, 1, l->ldev);
	if (rc) {
		/* The listener's quota or the pool: not the connector's to fix, but it may retry. */
		rc = rc == -EAGAIN ? -EAGAIN : -ENOBUFS;
		goto fail;
	}
	note.u.chan_accept.listener_id = l->id;
	note.u.chan_accept.peer_domid = dev->domid;
	describe(c, 1, &note.u.chan_accept.chan);
	rc = xshm_dev_send_notice(l->ldev, &note);
	if (rc) {
		rc = -EAGAIN; /* its backlog is full: the listener is not accepting fast enough */
		goto fail;
	}
	c->next = h->chans;
	h->chans = c;
	rsp->peer_domid = l->ldev->domid;
	describe(c, 0, &rsp->chan);
	show_end(h, c, 0);
	show_end(h, c, 1);
	char more[64];
	if (chan_log_allowed(dev, more, sizeof(more)))
		DEVLOG(dev, LOG_INFO, "channel %u '%s' to domain %u: tx %u pages, rx %u pages%s%s%s", c->id, c->name,
		       l->ldev->domid, c->tx_pages, c->rx_pages, c->sized ? " (sized with the load)" : "",
		       c->flags & XSHM_CHAN_MESSAGE ? ", messages" : "", more);
	return 0;
fail:
	abandon(c);
	return rc;
}

int xshm_chan_open(struct xshm_dev *dev, const struct xshm_ctrl_chan_open *req,
		   struct xshm_ctrl_rsp_chan_open *rsp)
{
	if (dev->release_ms)
		return -ESHUTDOWN; /* a save waits for this guest to let go: no new rings */
	/* The parser checked the name, flags and ranges; a copy still needs its terminator. */
	if (req->flags & XSHM_CHAN_LISTEN)
		return listen_on(dev, req, rsp);
	return connect_to(dev, req, rsp);
}

/*
 * A guest cannot read another domain's name in XenStore; xenshmd can.  Only a guest connected
 * to xenshm right now is found (nothing else can be a MemPipe peer), and only when the two
 * guests' mempipe-peers lists would let them open a channel: anything else is -ENOENT, so that
 * a lookup tells a guest no more about its neighbours than a connect would.
 */
int xshm_chan_peer_lookup(struct xshm_dev *dev, const char *peer_name, uint32_t *domid)
{
	struct xshm_dev *found = NULL;
	uint32_t cap;

	for (struct xshm_dev *d = dev->h->devs; d && !found; d = d->next) {
		char *name = NULL;
		if (!d->rings_attached || d->gone || xo_domain_name(dev->h->x, d->domid, &name))
			continue;
		if (!strncmp(name, peer_name, XSHM_CTRL_NAME_MAX))
			found = d;
		free(name);
	}
	if (!found || peer_consents(dev, found, &cap, true) || peer_consents(found, dev, &cap, true))
		return -ENOENT;
	*domid = found->domid;
	return 0;
}

static struct xshm_dev *pump(struct xshm_host *h, struct xshm_chan *c);

int xshm_chan_close(struct xshm_dev *dev, uint32_t id)
{
	struct xshm_host *h = dev->h;
	struct xshm_chan *c;
	int i;

	for (c = h->chans; c; c = c->next) {
		if (c->listener && c->id == id && c->ldev == dev) {
			show(dev, c->id, NULL, true);
			unlink_chan(h, c);
			return 0;
		}
	}
	c = find_end(h, dev, id, &i);
	if (!c)
		return -ENOENT;
	/* The guest has unmapped both rings: its rx is of no more use, its tx is drained first. */
	c->end[i].closing = true;
	drop_rx(&c->end[i]);
	struct xshm_dev *offender = pump(h, c);
	if (offender && offender != dev)
		xshm_dev_fail(offender, -EPROTO, "channel ring corrupt (bad index or frame)");
	return 0;
}

int xshm_chan_shutdown(struct xshm_dev *dev, uint32_t id)
{
	struct xshm_host *h = dev->h;
	int i;
	struct xshm_chan *c = find_end(h, dev, id, &i);

	if (!c)
		return -ENOENT;
	c->end[i].shut = true;
	struct xshm_dev *offender = pump(h, c); /* as in close: the requester's own fault is found by the next pass */
	if (offender && offender != dev)
		xshm_dev_fail(offender, -EPROTO, "channel ring corrupt (bad index or frame)");
	return 0;
}

/*
 * Free space to wait for at a full destination before relaying again: the
 * next frame, and at least a quarter of the ring, so that a receiver
 * reading small pieces wakes the relay once per batch, not once per piece.
 */
static size_t frame_needed(struct xshm_ring *from)
{
	ssize_t len;

	if (from->mode == XSHM_RING_MESSAGE && (len = xshm_ring_next_len(from)) >= 0)
		return XSHM_RING_FRAME_HDR + (((size_t)len + 7) & ~(size_t)7);
	return 1;
}

static size_t room_needed(struct xshm_ring *from, const struct xshm_ring *to)
{
	size_t quarter = (size_t)(to->size / 4), frame = frame_needed(from);

	return frame > quarter ? frame : quarter;
}

/*
 * The guest took our offer and moved its tx to the offered segment: once
 * the old ring is drained, follow it.  1 if we moved, 0 if it has not
 * switched (yet), -EPROTO if it switched anywhere else.
 */
static int follow_tx_switch(struct xshm_chan *c, struct xshm_chan_end *e)
{
	struct xshm_chan_page *old = e->tx->data;
	uint32_t untrusted_seg = __atomic_load_n(&old->switch_seg, __ATOMIC_ACQUIRE);
	struct xshm_ring ring;

	if (!untrusted_seg)
		return 0;
	uint64_t untrusted_at = old->switch_at;
	if (untrusted_seg != e->tx_offer->id || untrusted_at != e->from.mine)
		return -EPROTO;
	uint32_t pages = e->tx_offer->pages - 1;
	if (xshm_chan_ring_attach(&ring, e->tx_offer->data, pages, XSHM_RING_CONSUMER,
				  c->flags & XSHM_CHAN_MESSAGE, c->max_msg))
		return -EPROTO; /* the guest wrote nonsense into the new ring's indices already */
	xshm_ring_detach(&e->from);
	xshm_seg_drop(e->dev, e->tx);
	e->tx = e->tx_offer;
	e->tx_offer = NULL;
	e->from = ring;
	e->tx_pages = pages;
	return 1;
}

/* Offer end i's guest a tx ring of `pages` (it switches on its next write). */
static void offer_tx(struct xshm_host *h, struct xshm_chan *c, int i, uint32_t pages)
{
	struct xshm_chan_end *e = &c->end[i];
	struct xshm_chan_page *old = e->tx->data, *hdr;
	struct xshm_seg *seg;

	if (xshm_seg_new(e->dev, pages + 1, XSHM_SEG_RING, &seg))
		return;
	hdr = seg->data;
	xshm_chan_page_init(hdr, c->id + (uint32_t)i);
	old->offer_dir_gref = seg->dir_refs[0];
	old->offer_pages = pages;
	__atomic_store_n(&old->offer_seg, seg->id, __ATOMIC_RELEASE);
	e->tx_offer = seg;
	DEVLOG(e->dev, LOG_DEBUG, "channel %u: offering a %u KiB tx ring", c->id + (uint32_t)i, pages * 4);
	kick(e->dev);
	(void)h;
}

/* Relay end i's tx into its peer's rx.  Returns the device at fault, if any. */
static struct xshm_dev *relay(struct xshm_host *h, struct xshm_chan *c, int i)
{
	struct xshm_chan_end *a = &c->end[i], *b = &c->end[1 - i];
	bool kick_a = false, kick_b = false;
	struct xshm_dev *offender = NULL;
	size_t moved = 0;

	if (!a->dev || !a->tx)
		return NULL;
	/* The receiver is letting go for a save: what it holds drains, nothing more comes (its
	 * reads say ESHUTDOWN once the ring is empty; a steady stream would keep it full). */
	if (b->dev && b->dev->release_ms)
		return NULL;
	if (c->sized && b->dev) {
		/* A sender whose tx was over half full when we came: this direction is short. */
		ssize_t fill = xshm_ring_available(&a->from);
		if (fill >= 0 && (uint64_t)fill + frame_needed(&a->from) > a->from.size / 2)
			xshm_rx_note(&b->sz, 0, 0, true);
	}
	for (int rearm = 0;;) {
		bool ka, kb = false;
		ssize_t n;
		if (b->dev && b->rx && !a->shut_told)
			n = xshm_ring_splice(&a->from, &b->to, RELAY_BUDGET - moved, &ka, &kb);
		else /* nobody to read it, or written after the guest's own end of stream */
			n = xshm_ring_discard(&a->from, RELAY_BUDGET - moved, &ka);
		kick_a |= ka;
		kick_b |= kb;
		if (n < 0) {
			offender = (a->from.error || n == -EMSGSIZE) ? a->dev : b->dev;
			break;
		}
		moved += (size_t)n;
		a->bytes_sent += (uint64_t)n;
		if (n > 0) { /* a kick from either guest that lets bytes move is not spurious */
			a->dev->relay_passes++;
			if (b->dev)
				b->dev->relay_passes++;
		}
		if (b->dev && b->rx) {
			ssize_t space = xshm_ring_space(&b->to);
			uint64_t fill = space < 0 ? 0 : b->to.size - (uint64_t)space;
			/* The sender had more than the rx could take (less than an eighth left): the
			 * rx was the bottleneck.  A writer racing the splice alone does not count. */
			bool full = (uint64_t)space < b->to.size / 8 && xshm_ring_available(&a->from) > 0;
			xshm_rx_note(&b->sz, (uint64_t)n, fill, full);
		}
		if (moved >= RELAY_BUDGET || rearm == RELAY_REARMS) {
			h->relay_pending = true;
			break;
		}
		if (n > 0) {
			a->idle_polls = 0;
			continue;
		}
		/* Nothing moved: sleep until the sender writes or the receiver makes room. */
		rearm++;
		if (xshm_ring_available(&a->from) == 0 && a->tx_offer) {
			int sw = follow_tx_switch(c, a);
			if (sw < 0) {
				offender = a->dev;
				break;
			}
			if (sw) {
				rearm = 0;
				continue;
			}
		}
		if (xshm_ring_available(&a->from) == 0) {
			/* A sender that was busy a moment ago will write again: poll, don't ask for kicks. */
			if (a->idle_polls < XSHM_RELAY_HOT_POLLS) {
				a->idle_polls++;
				h->relay_hot = true;
				break;
			}
			if (xshm_ring_prepare_wait(&a->from, 0))
				break;
		} else if (xshm_ring_prepare_wait(&b->to, room_needed(&a->from, &b->to))) {
			break;
		}
	}
	if (kick_a)
		kick(a->dev);
	if (kick_b)
		kick(b->dev);
	return offender;
}

/*
 * Replace end i's rx ring by one of `pages` (policy: dom0/policy.h).  The
 * old ring ends where we stopped producing; the guest drains it, follows
 * the switch fields to the new one and unmaps the old (gntalloc keeps its
 * pages alive until then).  On any failure the old ring simply stays.
 */
static void resize_rx(struct xshm_host *h, struct xshm_chan *c, int i, uint32_t pages)
{
	struct xshm_chan_end *e = &c->end[i];
	struct xshm_chan_page *old = e->rx->data, *hdr;
	struct xshm_ring ring;
	struct xshm_seg *seg;

	if (xshm_seg_new(e->dev, pages + 1, XSHM_SEG_RING, &seg))
		return; /* quota or pool: keep the ring we have */
	hdr = seg->data;
	xshm_chan_page_init(hdr, c->id + (uint32_t)i);
	if (xshm_chan_ring_attach(&ring, hdr, pages, XSHM_RING_PRODUCER, c->flags & XSHM_CHAN_MESSAGE,
				  c->max_msg)) {
		xshm_seg_drop(e->dev, seg);
		return;
	}
	hdr->peer_state = __atomic_load_n(&old->peer_state, __ATOMIC_ACQUIRE);
	old->switch_at = e->to.mine;
	old->switch_dir_gref = seg->dir_refs[0];
	old->switch_pages = pages;
	__atomic_store_n(&old->switch_seg, seg->id, __ATOMIC_RELEASE);
	xshm_ring_detach(&e->to);
	e->old_rx = e->rx; /* until the guest has moved over */
	DEVLOG(e->dev, LOG_DEBUG, "channel %u: rx ring %u -> %u KiB", c->id + (uint32_t)i, e->rx_pages * 4,
	       pages * 4);
	e->rx = seg;
	e->to = ring;
	e->rx_pages = pages;
	kick(e->dev); /* it may sleep on the old ring */
	show_end(h, c, i);
}

static void size_rx(struct xshm_host *h, struct xshm_chan *c)
{
	for (int i = 0; c->sized && i < 2; i++) {
		struct xshm_chan_end *e = &c->end[i];
		if (!e->dev || !e->rx || e->closing)
			continue;
		if (e->old_rx) {
			/* One switch at a time: the guest first leaves the old ring (its word only
			 * decides when we free that ring, which it no longer maps then). */
			if (!__atomic_load_n(&((struct xshm_chan_page *)e->rx->data)->attached, __ATOMIC_ACQUIRE))
				continue;
			xshm_seg_drop(e->dev, e->old_rx);
			e->old_rx = NULL;
		}
		/* One size per direction: the receiver's rx and the sender's tx grow and shrink
		 * together (either alone would be held back by the other). */
		struct xshm_chan_end *sender = &c->end[1 - i];
		/* The window's measures, kept for the debug line if the policy closes it now. */
		uint64_t win_start = e->sz.start_ms, win_bytes = e->sz.bytes, win_peak = e->sz.peak;
		unsigned int win_full = e->sz.full, win_passes = e->sz.passes;
		uint32_t next = xshm_rx_next_size(&e->sz, xshm_host_now(h), e->rx_pages, c->rx_min, c->rx_max);
		/* Each loaded window's measures, for whoever tunes the policy (debug level only). */
		if (e->sz.start_ms != win_start && win_bytes && win_start)
			DEVLOG(e->dev, LOG_DEBUG,
			       "channel %u: window of %llu ms: %llu KiB moved in %u passes, %u full, peak %llu of %u KiB",
			       c->id + (uint32_t)i, (unsigned long long)(e->sz.start_ms - win_start),
			       (unsigned long long)(win_bytes >> 10), win_passes, win_full,
			       (unsigned long long)(win_peak >> 10),
			       e->rx_pages * 4);
		if (next != e->rx_pages)
			resize_rx(h, c, i, next);
		/* The sender catches up one offer at a time (it moves on its next write). */
		if (!sender->tx_offer && sender->dev && sender->tx && !sender->closing &&
		    sender->tx_pages != e->rx_pages)
			offer_tx(h, c, 1 - i, e->rx_pages);
	}
}

static struct xshm_dev *pump(struct xshm_host *h, struct xshm_chan *c)
{
	struct xshm_dev *offender = relay(h, c, 0);

	if (!offender)
		offender = relay(h, c, 1);
	if (offender)
		return offender;
	size_rx(h, c);
	/* A half-close reaches the peer after the last byte sent before it, never before. */
	for (int i = 0; i < 2; i++) {
		struct xshm_chan_end *e = &c->end[i], *peer = &c->end[1 - i];
		if (e->dev && e->shut && !e->shut_told && xshm_ring_available(&e->from) == 0) {
			/* While this end lives its peer's state is OPEN: nothing to read back from the
			 * guest-mapped rx page. */
			e->shut_told = true;
			set_peer_state(peer, XSHM_PEER_SHUTDOWN);
		}
	}
	/* Counters in XenStore: at most once a second per end, and only when they moved. */
	uint64_t now = xshm_host_now(h), moved = c->end[0].bytes_sent + c->end[1].bytes_sent;
	for (int i = 0; i < 2; i++)
		if (c->end[i].dev && moved != c->end[i].shown_bytes && now - c->end[i].shown_ms >= 1000)
			show_end(h, c, i);
	for (int i = 0; i < 2; i++) {
		struct xshm_chan_end *e = &c->end[i];
		if (e->dev && e->closing && xshm_ring_available(&e->from) == 0) {
			finish_end(h, c, i, XSHM_PEER_CLOSED);
			return NULL; /* c may be gone */
		}
	}
	return NULL;
}

static struct xshm_dev *pump_where(struct xshm_host *h, const struct xshm_dev *dev)
{
	struct xshm_chan *c = h->chans, *next;

	for (; c; c = next) {
		next = c->next; /* pump may free c, never another channel */
		if (c->listener || (dev && c->end[0].dev != dev && c->end[1].dev != dev))
			continue;
		struct xshm_dev *offender = pump(h, c);
		if (offender)
			return offender;
	}
	return NULL;
}

void xshm_chan_dev_event(struct xshm_dev *dev)
{
	struct xshm_dev *offender = pump_where(dev->h, dev);

	if (offender)
		xshm_dev_fail(offender, -EPROTO, "channel ring corrupt (bad index or frame)");
}

bool xshm_chan_spin(struct xshm_host *h, uint64_t ticks)
{
	uint64_t end = xshm_tsc() + ticks;

	do {
		for (struct xshm_chan *c = h->chans; c; c = c->next) {
			if (c->listener)
				continue;
			for (int i = 0; i < 2; i++) {
				struct xshm_chan_end *e = &c->end[i];
				/* A corrupt index is news too: the pump cuts its guest off. */
				if (e->dev && e->tx && e->idle_polls < XSHM_RELAY_HOT_POLLS &&
				    xshm_ring_available(&e->from) != 0)
					return true;
			}
		}
		xshm_cpu_relax();
	} while (xshm_tsc() < end);
	return false;
}

void xshm_chan_pump_all(struct xshm_host *h)
{
	h->relay_pending = false;
	h->relay_hot = false;
	struct xshm_dev *offender = pump_where(h, NULL);

	if (offender)
		xshm_dev_fail(offender, -EPROTO, "channel ring corrupt (bad index or frame)");
}

void xshm_chan_dev_gone(struct xshm_dev *dev)
{
	struct xshm_host *h = dev->h;
	struct xshm_chan *c = h->chans, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->listener) {
			if (c->ldev == dev) {
				show(dev, c->id, NULL, true);
				unlink_chan(h, c);
			}
			continue;
		}
		if (c->end[0].dev == dev && c->end[1].dev == dev) {
			release_end(c, 0); /* a connection within this device */
			release_end(c, 1);
			unlink_chan(h, c);
			continue;
		}
		for (int i = 0; i < 2; i++) {
			if (c->end[i].dev == dev) {
				/* What it sent and we could not relay yet is lost with it: a reset. */
				finish_end(h, c, i, XSHM_PEER_RESET);
				break; /* c may be gone */
			}
		}
	}
}

unsigned int xshm_chan_count(const struct xshm_dev *dev)
{
	unsigned int n = 0;

	for (const struct xshm_chan *c = dev->h->chans; c; c = c->next)
		if (!c->listener && (c->end[0].dev == dev || c->end[1].dev == dev))
			n++;
	return n;
}

uint64_t xshm_chan_progress(struct xshm_dev *dev)
{
	uint64_t sum = 0;

	for (struct xshm_chan *c = dev->h->chans; c; c = c->next) {
		for (int i = 0; !c->listener && i < 2; i++) {
			struct xshm_chan_end *e = &c->end[i];
			if (e->dev != dev)
				continue;
			/* The indices as the rings validate them (forward only, within the ring): a
			 * guest that moves one back to make a kick look new breaks its ring instead,
			 * and the relay's next pass cuts it off. */
			ssize_t avail = e->tx && e->from.sh ? xshm_ring_available(&e->from) : -1;
			ssize_t space = e->rx && e->to.sh ? xshm_ring_space(&e->to) : -1;
			if (avail >= 0)
				sum += e->from.mine + (uint64_t)avail;                /* its tx prod */
			if (space >= 0)
				sum += e->to.mine - e->to.size + (uint64_t)space;     /* its rx cons */
		}
	}
	return sum;
}

bool xshm_chan_tick(struct xshm_host *h)
{
	bool again = false;
	uint64_t now = xshm_host_now(h);

	for (struct xshm_chan *c = h->chans; c; c = c->next) {
		if (c->listener)
			continue;
		/* The last counters of a burst: pump() shows them at most once a second while data
		 * moves, so an idle channel would keep stale ones in XenStore for good. */
		uint64_t moved = c->end[0].bytes_sent + c->end[1].bytes_sent;
		for (int i = 0; i < 2; i++) {
			if (!c->end[i].dev || moved == c->end[i].shown_bytes)
				continue;
			if (now - c->end[i].shown_ms >= 1000)
				show_end(h, c, i);
			else
				again = true;
		}
		if (!c->sized)
			continue;
		/* Idle channels see no relay pass: their windows end here, so that they shrink. */
		size_rx(h, c);
		for (int i = 0; i < 2; i++)
			again |= c->end[i].dev && c->end[i].rx_pages > c->rx_min;
	}
	return again;
}
