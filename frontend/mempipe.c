// SPDX-License-Identifier: LGPL-2.1-only
/*
 * libmempipe: MemPipe channels on a libxenshm connection (see mempipe.h).
 *
 * A channel end maps its two ring segments (announced by xenshmd in the
 * chan-open answer or the chan-accept notice), produces into tx and
 * consumes rx.  Waiting uses the rings' wake-up flags: the relay kicks the
 * connection's event channel only when this end said it sleeps.  What the
 * host says of the peer (closed, reset) sits in the rx header and is read
 * only when the ring is empty, so everything sent before a close is read
 * first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenshm/chan.h"
#include "xenshm/mempipe.h"
#include "xenshm/shm.h"
#include "shm_private.h"

struct mempipe {
	struct shm *s;
	uint32_t id;            /* listener id, or this end's channel id */
	bool listener, message, nonblock;
	int timeout_ms;
	uint32_t peer_domid, max_msg, tx_pages, rx_pages, resizes, tx_resizes;
	struct shm_seg tx_seg, rx_seg;
	struct xshm_ring tx, rx;
	bool attached;
	bool write_shut;        /* mempipe_shutdown: this end sends no more */
	uint64_t bytes_written, bytes_read;
	uint64_t notifies, waits; /* event-channel kicks sent, sleeps for the peer or the relay */
	uint64_t tx_pushed;       /* tx index at our last kick: what the relay was told of */
	struct mempipe_opts opts; /* a listener's, for what it accepts */
};

static int opts_timeout(const struct shm *s, const struct mempipe_opts *o)
{
	if (o && o->timeout_ms)
		return o->timeout_ms;
	return shm_timeout_ms(s);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left before `deadline` (-1: none); 0 once passed. */
static int left_ms(int64_t deadline)
{
	int64_t left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left <= 0 ? 0 : left > INT32_MAX ? INT32_MAX : (int)left;
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/*
 * Data calls read the clock only once they have to wait: a PV guest's
 * clock_gettime has no vDSO and is a system call through Xen, 650 times
 * the cost of a 64-byte ring write in the lab (test 99-callcost), and it
 * was most of the time of a small write.  A call's timeout so counts from
 * its first wait; getting there takes no longer than a ring copy.
 */
#define DEADLINE_UNREAD INT64_MIN

static int left_ms_lazy(int64_t *deadline, int timeout_ms)
{
	if (*deadline != DEADLINE_UNREAD)
		return left_ms(*deadline);
	*deadline = deadline_after(timeout_ms);
	return timeout_ms < 0 ? -1 : timeout_ms; /* all of it: the clock was read just now */
}

static uint32_t ring_pages_of(const struct mempipe_opts *o)
{
	if (!o || !o->ring_bytes)
		return 0;
	size_t pages = (o->ring_bytes + 4095) / 4096;
	return pages > XSHM_CHAN_RING_PAGES_MAX ? XSHM_CHAN_RING_PAGES_MAX : (uint32_t)pages;
}

static struct mempipe *fail_null(struct mempipe *p, int err)
{
	free(p);
	errno = err < 0 ? -err : err;
	return NULL;
}

/* Tell xenshmd we are done with an id (a listener, or a channel end after unmapping it). */
static void send_close(struct shm *s, uint32_t id)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_CLOSE } }, rsp;

	req.u.chan_close.chan_id = id;
	shm_rpc(s, &req, &rsp);
}

/* Map this end's rings from what xenshmd announced. */
static int attach(struct mempipe *p, const struct xshm_ctrl_chan_info *ci, uint32_t peer)
{
	struct shm *s = p->s;
	int rc;

	p->id = ci->chan_id;
	p->peer_domid = peer;
	p->message = ci->flags & XSHM_CHAN_MESSAGE;
	p->max_msg = ci->max_msg;
	p->tx_pages = ci->tx_pages;
	p->rx_pages = ci->rx_pages;
	rc = shm_map_seg(s, ci->tx_seg, ci->tx_dir_gref, ci->tx_pages + 1, &p->tx_seg);
	if (!rc)
		rc = shm_map_seg(s, ci->rx_seg, ci->rx_dir_gref, ci->rx_pages + 1, &p->rx_seg);
	if (!rc && (((struct xshm_chan_page *)p->tx_seg.data)->magic != XSHM_CHAN_PAGE_MAGIC ||
		    ((struct xshm_chan_page *)p->rx_seg.data)->magic != XSHM_CHAN_PAGE_MAGIC))
		rc = -EPROTO;
	if (!rc)
		rc = xshm_chan_ring_attach(&p->tx, p->tx_seg.data, p->tx_pages, XSHM_RING_PRODUCER,
					   p->message, p->max_msg);
	if (!rc) {
		rc = xshm_chan_ring_attach(&p->rx, p->rx_seg.data, p->rx_pages, XSHM_RING_CONSUMER,
					   p->message, p->max_msg);
		if (rc)
			xshm_ring_detach(&p->tx);
	}
	if (!rc) {
		p->attached = true;
		__atomic_store_n(&((struct xshm_chan_page *)p->rx_seg.data)->attached, 1, __ATOMIC_RELEASE);
		return 0;
	}
	shm_unmap_seg(s, &p->tx_seg);
	shm_unmap_seg(s, &p->rx_seg);
	send_close(s, p->id);
	return rc;
}

struct mempipe *mempipe_listen(struct shm *s, const char *name, const struct mempipe_opts *opts)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp;
	struct mempipe *p;
	int rc;

	if (!s || !xshm_ctrl_name_pack(name, req.u.chan_open.name))
		return fail_null(NULL, EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail_null(NULL, ENOMEM);
	p->s = s;
	p->listener = true;
	if (opts)
		p->opts = *opts;
	p->timeout_ms = opts_timeout(s, opts);
	p->nonblock = opts && opts->nonblock;
	p->message = opts && opts->message;
	req.u.chan_open.flags = XSHM_CHAN_LISTEN | (p->message ? XSHM_CHAN_MESSAGE : 0);
	req.u.chan_open.max_msg = opts ? opts->max_msg : 0;
	req.u.chan_open.ring_pages = ring_pages_of(opts);
	rc = shm_rpc(s, &req, &rsp);
	if (!rc)
		rc = rsp.u.rsp_chan_open.status;
	if (!rc && rsp.u.rsp_chan_open.chan.tx_seg)
		rc = -EPROTO; /* a listener has no rings */
	if (rc)
		return fail_null(p, rc);
	p->id = rsp.u.rsp_chan_open.chan.chan_id;
	return p;
}

struct mempipe *mempipe_accept(struct mempipe *l)
{
	struct xshm_ctrl_chan_accept a;
	struct mempipe *p;
	int64_t deadline;
	int rc;

	if (!l || !l->listener)
		return fail_null(NULL, EINVAL);
	deadline = deadline_after(l->nonblock ? 0 : l->timeout_ms);
	for (;;) {
		rc = shm_service(l->s);
		if (rc)
			return fail_null(NULL, rc);
		if (shm_release_asked(l->s))
			return fail_null(NULL, ESHUTDOWN); /* a save is waiting: accept nothing more */
		if (shm_take_accept(l->s, l->id, &a))
			break;
		int left = left_ms(deadline);
		if (!left)
			return fail_null(NULL, l->nonblock ? EAGAIN : ETIMEDOUT);
		rc = shm_wait(l->s, left);
		if (rc)
			return fail_null(NULL, rc);
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		send_close(l->s, a.chan.chan_id);
		return fail_null(NULL, ENOMEM);
	}
	p->s = l->s;
	p->timeout_ms = l->timeout_ms;
	p->nonblock = l->nonblock;
	rc = attach(p, &a.chan, a.peer_domid);
	return rc ? fail_null(p, rc) : p;
}

struct mempipe *mempipe_connect(struct shm *s, unsigned int peer_domid, const char *name,
				const struct mempipe_opts *opts)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp;
	struct mempipe *p;
	int64_t deadline;
	long backoff = 10;
	int rc;

	if (!s || !xshm_ctrl_name_pack(name, req.u.chan_open.name) || !peer_domid || peer_domid >= 0x7ff0)
		return fail_null(NULL, EINVAL);
	p = calloc(1, sizeof(*p));
	if (!p)
		return fail_null(NULL, ENOMEM);
	p->s = s;
	p->timeout_ms = opts_timeout(s, opts);
	p->nonblock = opts && opts->nonblock;
	req.u.chan_open.peer_domid = peer_domid;
	req.u.chan_open.flags = opts && opts->message ? XSHM_CHAN_MESSAGE : 0;
	req.u.chan_open.max_msg = opts ? opts->max_msg : 0;
	req.u.chan_open.ring_pages = ring_pages_of(opts);
	deadline = deadline_after(p->timeout_ms);
	/* EAGAIN: the pool is being rebalanced or the listener's backlog is full; both pass. */
	for (;;) {
		rc = shm_rpc(s, &req, &rsp);
		if (!rc)
			rc = rsp.u.rsp_chan_open.status;
		if (rc != -EAGAIN)
			break;
		int left = left_ms(deadline);
		if (!left)
			return fail_null(p, ETIMEDOUT);
		struct timespec ts = { 0, (left < 0 || backoff < left ? backoff : left) * 1000000L };
		nanosleep(&ts, NULL);
		backoff = backoff * 2 > 500 ? 500 : backoff * 2;
	}
	if (!rc && (!rsp.u.rsp_chan_open.chan.tx_seg || rsp.u.rsp_chan_open.peer_domid != peer_domid))
		rc = -EPROTO;
	if (!rc)
		rc = attach(p, &rsp.u.rsp_chan_open.chan, peer_domid);
	return rc ? fail_null(p, rc) : p;
}

struct mempipe *mempipe_connect_peer(struct shm *s, const char *peer, const char *name,
				     const struct mempipe_opts *opts)
{
	unsigned int domid = 0;
	xo_domid_t d;
	int rc;

	if (!peer)
		return fail_null(NULL, EINVAL);
	/* A decimal domid first, as xl reads an all-digits argument (mempipe_connect refuses 0). */
	rc = xo_parse_domid(peer, &d);
	if (!rc)
		return mempipe_connect(s, d, name, opts);
	if (rc == -ERANGE)
		return fail_null(NULL, EINVAL);
	rc = shm_peer_domid(s, peer, &domid);
	return rc ? fail_null(NULL, -rc) : mempipe_connect(s, domid, name, opts);
}

/*
 * The host's word on the peer, read only once our rx ring is empty: -EPIPE is end of stream
 * for a reader and a closed pipe for a writer.  A peer that only half-closed still reads.
 */
static int peer_state(const struct mempipe *p, bool reading)
{
	uint32_t st = __atomic_load_n(&((struct xshm_chan_page *)p->rx_seg.data)->peer_state,
				      __ATOMIC_ACQUIRE);

	if (st == XSHM_PEER_SHUTDOWN)
		return reading ? -EPIPE : 0;
	return st == XSHM_PEER_OPEN ? 0 : st == XSHM_PEER_CLOSED ? -EPIPE : -ECONNRESET;
}

static void kick(struct mempipe *p)
{
	p->notifies++;
	p->tx_pushed = p->tx.mine;
	shm_notify(p->s);
}

/*
 * About to sleep for the peer: push what we wrote since our last kick.  The
 * relay polls a busy ring every millisecond rather than ask for kicks, so a
 * request written just before waiting for its answer would sit until that
 * poll, on each hop of a round trip.  The sleep costs several system calls
 * anyway; one kick more takes the request now.
 */
static void push_before_sleep(struct mempipe *p)
{
	ssize_t space;

	if (p->tx.mine == p->tx_pushed || !p->tx.sh)
		return;
	space = xshm_ring_space(&p->tx);
	if (space >= 0 && (uint64_t)space < p->tx.size)
		kick(p);
}

/*
 * Has xenshmd posted a replacement for `ring` (a switch of our rx, an offer
 * of a new tx)?  It writes the fields before it kicks us.
 */
static bool ring_replaced(const struct mempipe *p, const struct xshm_ring *ring)
{
	const struct xshm_chan_page *hdr = (const struct xshm_chan_page *)(ring == &p->rx ? p->rx_seg.data : p->tx_seg.data);

	return __atomic_load_n(ring == &p->rx ? &hdr->switch_seg : &hdr->offer_seg, __ATOMIC_ACQUIRE) != 0;
}

/*
 * Wait until `ring` can make progress (need bytes of space for tx, data
 * for rx), the peer is gone, or the deadline.  0 to try again.
 */
static int wait_ring(struct mempipe *p, struct xshm_ring *ring, size_t need, int64_t *deadline)
{
	int rc = p->nonblock ? shm_service(p->s) : shm_service_before_wait(p->s);

	if (rc)
		return rc;
	if (shm_release_asked(p->s))
		return -ESHUTDOWN; /* the domain is about to be saved: let go, don't wait */
	if (!xshm_ring_prepare_wait(ring, need))
		return ring->error ? ring->error : 0;
	/* An event taken (here, or by an earlier wait) may have been xenshmd replacing this ring:
	 * no other kick follows (the next ones are for the new ring, which nobody waits on yet),
	 * so look before sleeping; the caller moves over. */
	if (ring_replaced(p, ring))
		return 0;
	rc = peer_state(p, ring == &p->rx);
	if (rc)
		return rc;
	if (ring == &p->rx)
		push_before_sleep(p);
	if (p->nonblock)
		return -EAGAIN;
	int left = left_ms_lazy(deadline, p->timeout_ms);
	if (!left)
		return -ETIMEDOUT;
	p->waits++;
	return shm_wait(p->s, left);
}

/* Map a ring segment xenshmd announced and attach one end to it; nothing is kept on failure. */
static int map_ring(struct mempipe *p, uint32_t seg, uint32_t dir, uint32_t pages, enum xshm_ring_role role,
		    struct shm_seg *out, struct xshm_ring *ring)
{
	int rc;

	if (!pages || pages > XSHM_CHAN_RING_PAGES_MAX)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	rc = shm_map_seg(p->s, seg, dir, pages + 1, out);
	if (!rc && ((struct xshm_chan_page *)out->data)->magic != XSHM_CHAN_PAGE_MAGIC)
		rc = -EPROTO;
	if (!rc)
		rc = xshm_chan_ring_attach(ring, out->data, pages, role, p->message, p->max_msg);
	if (rc)
		shm_unmap_seg(p->s, out);
	return rc;
}

/*
 * xenshmd replaced our rx ring (a sized channel): once the old one is
 * drained, map the new one and go on there.  1 if we moved, 0 if there is
 * no switch, a negative errno if the switch is malformed.
 */
static int follow_switch(struct mempipe *p)
{
	struct xshm_chan_page *old = (struct xshm_chan_page *)p->rx_seg.data;
	uint32_t seg = __atomic_load_n(&old->switch_seg, __ATOMIC_ACQUIRE);
	struct shm_seg next;
	struct xshm_ring ring;
	int rc;

	if (!seg)
		return 0;
	/* Each field read once; dom0 is trusted little more than a peer. */
	uint64_t at = old->switch_at;
	uint32_t dir = old->switch_dir_gref, pages = old->switch_pages;
	if (at != p->rx.mine || xshm_ring_available(&p->rx) != 0)
		return -EPROTO;
	rc = map_ring(p, seg, dir, pages, XSHM_RING_CONSUMER, &next, &ring);
	if (rc)
		return rc;
	xshm_ring_detach(&p->rx);
	shm_unmap_seg(p->s, &p->rx_seg);
	p->rx = ring;
	p->rx_seg = next;
	p->rx_pages = pages;
	p->resizes++;
	/* Only now may xenshmd take the old ring back and switch again. */
	__atomic_store_n(&((struct xshm_chan_page *)next.data)->attached, 1, __ATOMIC_RELEASE);
	return 1;
}


int mempipe_shutdown(struct mempipe *p)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_SHUTDOWN } }, rsp;

	if (!p || p->listener || !p->attached)
		return -EINVAL;
	if (p->write_shut)
		return 0;
	/* Whatever the ring holds goes first: xenshmd tells the peer once it has relayed it. */
	kick(p);
	req.u.chan_close.chan_id = p->id;
	int rc = shm_rpc(p->s, &req, &rsp);
	if (!rc)
		rc = rsp.u.rsp_status.status;
	if (!rc)
		p->write_shut = true;
	return rc;
}

/*
 * xenshmd offers a new tx ring (a sized channel): move to it now.  Everything
 * written so far is published in the old ring, which xenshmd drains before
 * it follows.  1 if we moved, 0 if no offer, a negative errno if the offer
 * is malformed.
 */
static int take_tx_offer(struct mempipe *p)
{
	struct xshm_chan_page *old = (struct xshm_chan_page *)p->tx_seg.data;
	uint32_t seg = __atomic_load_n(&old->offer_seg, __ATOMIC_ACQUIRE);
	struct shm_seg next;
	struct xshm_ring ring;
	int rc;

	if (!seg)
		return 0;
	uint32_t pages = old->offer_pages; /* read once */
	rc = map_ring(p, seg, old->offer_dir_gref, pages, XSHM_RING_PRODUCER, &next, &ring);
	if (rc)
		return rc;
	old->switch_at = p->tx.mine;
	__atomic_store_n(&old->switch_seg, seg, __ATOMIC_RELEASE);
	xshm_ring_detach(&p->tx);
	shm_unmap_seg(p->s, &p->tx_seg);
	p->tx = ring;
	p->tx_seg = next;
	p->tx_pages = pages;
	p->tx_resizes++;
	kick(p);
	return 1;
}

static bool usable(const struct mempipe *p)
{
	return p && !p->listener && p->attached;
}

ssize_t mempipe_write(struct mempipe *p, const void *buf, size_t len)
{
	const uint8_t *b = buf;
	size_t done = 0;
	int64_t deadline = DEADLINE_UNREAD;

	if (!usable(p) || p->message || (!buf && len))
		return -EINVAL;
	while (done < len) {
		int rc = p->write_shut ? -EPIPE : shm_release_asked(p->s) ? -ESHUTDOWN : peer_state(p, false);
		if (!rc)
			rc = take_tx_offer(p) < 0 ? -EPROTO : 0;
		if (rc)
			return done ? (ssize_t)done : rc;
		bool notify;
		ssize_t n = xshm_ring_write(&p->tx, b + done, len - done, &notify);
		if (notify)
			kick(p);
		if (n > 0) {
			done += (size_t)n;
			p->bytes_written += (uint64_t)n;
			continue;
		}
		if (n != -EAGAIN)
			return done ? (ssize_t)done : n;
		/* The relay may be polling rather than waiting for kicks: tell it we are blocked, once
		 * per batch (a kick that announces no new byte would find no work). */
		push_before_sleep(p);
		/* Wake for a quarter of the ring (or the rest of the write), not for every byte. */
		size_t quarter = (size_t)(p->tx.size / 4);
		rc = wait_ring(p, &p->tx, len - done < quarter ? len - done : quarter, &deadline);
		if (rc)
			return done ? (ssize_t)done : rc;
	}
	return (ssize_t)done;
}

/* Take from the rx ring with `take` (stream read or message recv), waiting as the mode says. */
static ssize_t rx_take(struct mempipe *p, void *buf, size_t len,
		       ssize_t (*take)(struct xshm_ring *, void *, size_t, bool *))
{
	int64_t deadline = DEADLINE_UNREAD;

	for (;;) {
		bool notify;
		ssize_t n = take(&p->rx, buf, len, &notify);
		if (notify)
			kick(p);
		if (n >= 0) {
			p->bytes_read += (uint64_t)n;
			return n;
		}
		if (n != -EAGAIN)
			return n;
		int rc = follow_switch(p);
		if (rc < 0)
			return rc;
		if (rc)
			continue;
		rc = wait_ring(p, &p->rx, 0, &deadline);
		if (rc == -EPIPE) {
			/* Closed: whatever it sent before is in the ring already; then end of stream. */
			n = take(&p->rx, buf, len, &notify);
			if (n > 0)
				p->bytes_read += (uint64_t)n;
			return n == -EAGAIN ? 0 : n;
		}
		if (rc)
			return rc;
	}
}

ssize_t mempipe_read(struct mempipe *p, void *buf, size_t len)
{
	if (!usable(p) || p->message || (!buf && len))
		return -EINVAL;
	return rx_take(p, buf, len, xshm_ring_read);
}

int mempipe_send(struct mempipe *p, const void *msg, size_t len)
{
	int64_t deadline = DEADLINE_UNREAD;

	if (!usable(p) || !p->message || (!msg && len))
		return -EINVAL;
	if (len > mempipe_max_msg(p))
		return -EMSGSIZE;
	for (;;) {
		int rc = p->write_shut ? -EPIPE : shm_release_asked(p->s) ? -ESHUTDOWN : peer_state(p, false);
		if (!rc)
			rc = take_tx_offer(p) < 0 ? -EPROTO : 0;
		if (rc)
			return rc;
		bool notify;
		rc = xshm_ring_send(&p->tx, msg, len, &notify);
		if (notify)
			kick(p);
		if (!rc) {
			p->bytes_written += len;
			return 0;
		}
		if (rc != -EAGAIN)
			return rc;
		rc = wait_ring(p, &p->tx, XSHM_RING_FRAME_HDR + ((len + 7) & ~(size_t)7), &deadline);
		if (rc)
			return rc;
	}
}

ssize_t mempipe_recv(struct mempipe *p, void *buf, size_t len)
{
	if (!usable(p) || !p->message || (!buf && len))
		return -EINVAL;
	return rx_take(p, buf, len, xshm_ring_recv);
}

int mempipe_fd(struct mempipe *p)
{
	return p ? shm_fd(p->s) : -EBADF;
}

void mempipe_set_nonblock(struct mempipe *p, bool on)
{
	if (p)
		p->nonblock = on;
}

size_t mempipe_max_msg(const struct mempipe *p)
{
	if (!p || p->listener || !p->attached)
		return 0;
	return xshm_ring_max_payload(&p->tx);
}

unsigned int mempipe_peer(const struct mempipe *p)
{
	return p ? p->peer_domid : 0;
}

int mempipe_stats(struct mempipe *p, struct mempipe_stats *out)
{
	if (!p || !out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (usable(p)) {
		ssize_t fill = xshm_ring_available(&p->rx), space = xshm_ring_space(&p->tx);
		out->rx_fill_bytes = fill > 0 ? (size_t)fill : 0;
		out->tx_fill_bytes = space >= 0 ? (size_t)(p->tx.size - (uint64_t)space) : 0;
	}
	out->bytes_written = p->bytes_written;
	out->bytes_read = p->bytes_read;
	out->tx_ring_bytes = (size_t)p->tx_pages * 4096;
	out->rx_ring_bytes = (size_t)p->rx_pages * 4096;
	out->rx_resizes = p->resizes;
	out->tx_resizes = p->tx_resizes;
	out->notifies = p->notifies;
	out->waits = p->waits;
	return 0;
}

void mempipe_close(struct mempipe *p)
{
	struct xshm_ctrl_chan_accept a;

	if (!p)
		return;
	if (p->listener) {
		/* Connections nobody accepted: their peers see them closed. */
		while (shm_take_accept(p->s, p->id, &a))
			send_close(p->s, a.chan.chan_id);
		send_close(p->s, p->id);
	} else if (p->attached) {
		xshm_ring_detach(&p->tx);
		xshm_ring_detach(&p->rx);
		shm_unmap_seg(p->s, &p->tx_seg);
		shm_unmap_seg(p->s, &p->rx_seg);
		send_close(p->s, p->id);
	}
	free(p);
}
