// SPDX-License-Identifier: GPL-2.0-only
/* One guest's xenshm device: the XenBus backend and its control-ring server (see device.h). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "xenshm/segdir.h"
#include "xenshm/xenbus.h"
#include "xenshm/xspaths.h"
#include "chan.h"
#include "device.h"
#include "memflex.h"

#define QUOTA_KB_MAX (1ull << 40)

void xshm_log(const struct xshm_host *h, int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (h->log)
		h->log(level, buf);
	else
		fprintf(stderr, "xenshmd: %s\n", buf);
}

#define DEVLOG XSHM_DEVLOG

/* The backend state as XenStore holds it now: -ENOENT once the toolstack removed the dir. */
static int read_state(struct xshm_dev *dev, unsigned long long *state)
{
	char path[XSP_MAX], *v = NULL;
	int rc = xsp_be_state(path, sizeof(path), dev->domid, dev->devid);

	if (!rc)
		rc = xo_read_str(dev->h->x, XO_TXN_NONE, path, &v);
	if (!rc)
		rc = xo_parse_uint(v, XB_RECONFIGURED, state);
	free(v);
	return rc;
}

static int write_state(struct xshm_dev *dev, int state)
{
	char path[XSP_MAX], val[16];
	int rc = xsp_be_state(path, sizeof(path), dev->domid, dev->devid);

	snprintf(val, sizeof(val), "%d", state);
	/* A write creates missing parents: never bring back a dir the toolstack removed. */
	if (!rc)
		rc = xo_write_if_exists(dev->h->x, path, path, val);
	if (!rc)
		dev->be_state = state;
	else if (rc != -ENOENT)
		DEVLOG(dev, LOG_ERR, "cannot write backend state %d: %s", state, strerror(-rc));
	return rc;
}

static void seg_free(struct xshm_dev *dev, struct xshm_seg *seg)
{
	struct xo *x = dev->h->x;
	char path[XSP_MAX];

	/* A guest still mapping the pages keeps them alive in gntalloc until it unmaps. */
	if (seg->data)
		x->ops->gnt_unshare(x, seg->data, seg->pages + seg->ndir);
	if (!xsp_be_segment(path, sizeof(path), dev->domid, dev->devid, seg->id))
		x->ops->xs_rm(x, XO_TXN_NONE, path);
	xshm_pool_release(&dev->h->pool, &dev->acct, (uint64_t)seg->pages + seg->ndir);
	free(seg->refs);
	free(seg);
	xshm_dev_tick(dev); /* a reclaim notice may be honoured now */
}

static void teardown(struct xshm_dev *dev)
{
	struct xo *x = dev->h->x;
	char path[XSP_MAX];

	xshm_chan_dev_gone(dev); /* before the ring segments go */
	while (dev->segs) {
		struct xshm_seg *s = dev->segs;
		dev->segs = s->next;
		seg_free(dev, s);
	}
	if (dev->rings_attached) {
		xshm_ring_detach(&dev->tx);
		xshm_ring_detach(&dev->rx);
		dev->rings_attached = false;
	}
	if (dev->ctrl) {
		/* Unsharing zeroes be_live and fires the port: the guest learns we are gone. */
		x->ops->gnt_unshare(x, dev->ctrl, 1);
		dev->ctrl = NULL;
	}
	if (dev->port_bound) {
		x->ops->evtchn_unbind(x, dev->port);
		dev->port_bound = false;
	}
	xshm_dev_reclaim_reset(dev);
	if (!xsp_be_ring_ref(path, sizeof(path), dev->domid, dev->devid))
		x->ops->xs_rm(x, XO_TXN_NONE, path);
	if (!xsp_be_event_channel(path, sizeof(path), dev->domid, dev->devid))
		x->ops->xs_rm(x, XO_TXN_NONE, path);
}

void xshm_dev_fail(struct xshm_dev *dev, int err, const char *fmt, ...)
{
	char msg[256], path[XSP_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	DEVLOG(dev, LOG_ERR, "%s; disconnecting", msg);
	dev->faults++;
	if (!xsp_be_error(path, sizeof(path), dev->domid, dev->devid))
		xshm_write_error_node(dev->h->x, path, dev->domid, "%d %s", err < 0 ? -err : err, msg);
	teardown(dev);
	write_state(dev, XB_CLOSED);
}

static int publish_body(struct xo *x, xo_txn_t t, void *arg)
{
	struct xshm_dev *dev = arg;
	char path[XSP_MAX];
	int rc;

	rc = xsp_be_ring_ref(path, sizeof(path), dev->domid, dev->devid);
	if (!rc)
		rc = xo_printf(x, t, path, "%u", dev->ctrl_ref);
	if (!rc)
		rc = xsp_be_event_channel(path, sizeof(path), dev->domid, dev->devid);
	if (!rc)
		rc = xo_printf(x, t, path, "%u", dev->port);
	if (!rc)
		rc = xsp_be_version(path, sizeof(path), dev->domid, dev->devid);
	if (!rc)
		rc = xo_printf(x, t, path, "%d", XSHM_CTRL_VERSION);
	if (!rc)
		rc = xsp_be_state(path, sizeof(path), dev->domid, dev->devid);
	if (!rc)
		rc = xo_printf(x, t, path, "%d", XB_INITWAIT);
	return rc;
}

/* Grant a fresh control page and port and announce them: backend InitWait. */
static void prepare(struct xshm_dev *dev)
{
	struct xo *x = dev->h->x;
	void *page;
	int rc;

	rc = x->ops->evtchn_bind_unbound(x, dev->domid, &dev->port);
	if (rc) {
		xshm_dev_fail(dev, rc, "cannot allocate an event channel: %s", strerror(-rc));
		return;
	}
	dev->port_bound = true;
	rc = x->ops->gnt_share_notify(x, dev->domid, true, offsetof(struct xshm_ctrl_page, be_live),
				      (int)dev->port, &dev->ctrl_ref, &page);
	if (rc) {
		xshm_dev_fail(dev, rc, "cannot grant the control page: %s", strerror(-rc));
		return;
	}
	dev->ctrl = page;
	xshm_ctrl_page_init(dev->ctrl);
	dev->ctrl->be_live = XSHM_LIVE_UP;
	rc = xo_transaction(x, 20, publish_body, dev);
	if (rc) {
		xshm_dev_fail(dev, rc, "cannot publish the control page: %s", strerror(-rc));
		return;
	}
	dev->be_state = XB_INITWAIT;
	DEVLOG(dev, LOG_INFO, "control page gref %u, port %u: waiting for the frontend",
	       dev->ctrl_ref, dev->port);
}

static void serve(struct xshm_dev *dev);

/* .../error/backend/xenshm/<domid>/<devid>/error: the device's dir, then the domain's if empty. */
static void remove_error_dir(struct xshm_dev *dev)
{
	struct xo *x = dev->h->x;
	char path[XSP_MAX];

	if (xsp_be_error(path, sizeof(path), dev->domid, dev->devid))
		return;
	char *slash = strrchr(path, '/');
	if (slash)
		*slash = 0;
	x->ops->xs_rm(x, XO_TXN_NONE, path);
	xshm_rm_empty_parent(x, path);
}

static void connect_frontend(struct xshm_dev *dev)
{
	char path[XSP_MAX], *untrusted_version = NULL;
	unsigned long long version = 0;
	int rc;

	rc = xsp_fe_version(path, sizeof(path), dev->domid, dev->devid);
	if (!rc)
		rc = xo_read_str(dev->h->x, XO_TXN_NONE, path, &untrusted_version);
	if (!rc)
		rc = xo_parse_uint(untrusted_version, 65535, &version);
	free(untrusted_version);
	if (rc || version != XSHM_CTRL_VERSION) {
		xshm_dev_fail(dev, -EPROTONOSUPPORT, "frontend protocol version unreadable or not %d",
			 XSHM_CTRL_VERSION);
		return;
	}
	rc = xshm_ctrl_attach_rings(dev->ctrl, false, &dev->tx, &dev->rx);
	if (rc) {
		xshm_dev_fail(dev, rc, "control rings corrupt before connection");
		return;
	}
	dev->rings_attached = true;
	if (write_state(dev, XB_CONNECTED))
		return;
	/* The error node says why the device is down: once it is up again, that is history
	 * (the log and the faults counter keep it). */
	remove_error_dir(dev);
	DEVLOG(dev, LOG_INFO, "connected");
	serve(dev); /* requests may already wait; this also arms the wake-up */
}

/* The toolstack's online key (dom0's own): 0 means the device is being removed. */
static bool is_online(struct xshm_dev *dev)
{
	char path[XSP_MAX], *v = NULL;
	bool online = true;

	if (!xsp_be_online(path, sizeof(path), dev->domid, dev->devid) &&
	    !xo_read_str(dev->h->x, XO_TXN_NONE, path, &v))
		online = strcmp(v, "0") != 0;
	free(v);
	return online;
}

void xshm_dev_backend_changed(struct xshm_dev *dev)
{
	unsigned long long state;

	if (dev->gone || is_online(dev))
		return;
	teardown(dev);
	/* The remover may have written 5 over our state: answer Closed, but only once, since our
	 * own write fires this watch again. */
	if (read_state(dev, &state) == 0 && state != XB_CLOSED) {
		write_state(dev, XB_CLOSED);
		DEVLOG(dev, LOG_INFO, "detached by the toolstack");
	}
}

void xshm_dev_frontend_changed(struct xshm_dev *dev)
{
	char *untrusted_state = NULL;
	unsigned long long state;
	bool online;
	int rc;

	if (dev->gone)
		return;
	rc = xo_read_str(dev->h->x, XO_TXN_NONE, dev->fe_state_path, &untrusted_state);
	if (rc == -ENOENT) {
		/* The frontend dir is gone: the domain is going away or the device is removed. */
		free(untrusted_state);
		if (dev->be_state != XB_CLOSED) {
			teardown(dev);
			write_state(dev, XB_CLOSED);
		}
		return;
	}
	if (!rc)
		rc = xo_parse_uint(untrusted_state, XB_RECONFIGURED, &state);
	free(untrusted_state);
	if (rc) {
		xshm_dev_fail(dev, -EINVAL, "frontend state is not a XenBus state");
		return;
	}
	online = is_online(dev);

	switch (state) {
	case XB_INITIALISING:
		if (dev->be_state == XB_INITWAIT && dev->ctrl)
			break; /* repeated event: already waiting for it */
		if (dev->release_ms) {
			/* A save is waiting for this guest to hold nothing: no new session until then
			 * (said once: a guest writing its state in a loop must not flood the log). */
			if (dev->be_state != XB_CLOSED) {
				teardown(dev);
				write_state(dev, XB_CLOSED);
				DEVLOG(dev, LOG_INFO, "reconnect refused: a release (save or migration) is in progress");
			}
			break;
		}
		if (dev->be_state == XB_CONNECTED)
			DEVLOG(dev, LOG_INFO, "frontend restarted without closing: reconnecting");
		teardown(dev);
		if (online)
			prepare(dev);
		break;
	case XB_INITIALISED:
	case XB_CONNECTED:
		/* A frontend may skip Initialised: both mean "ring ready" to us. */
		if (dev->be_state == XB_INITWAIT && dev->ctrl)
			connect_frontend(dev);
		break;
	case XB_CLOSING:
	case XB_CLOSED:
		if (dev->be_state != XB_CLOSED) {
			teardown(dev);
			write_state(dev, XB_CLOSED);
			DEVLOG(dev, LOG_INFO, "frontend closed%s", online ? "; waiting for a reconnect" : "");
		}
		break;
	default:
		break; /* Unknown, InitWait (a backend state) and reconfiguration: nothing to do */
	}
}

/* ---------------------------------------------------------------- control ring */

/*
 * Charge a request to the guest's account and the pool, or say why not:
 * -EDQUOT (its quota, or an ignored reclaim notice), -ENOSPC (the host is
 * short and the policy cannot help this guest), -EAGAIN (the host is short
 * and other guests were asked to give back: retry).
 */
static int charge(struct xshm_dev *dev, uint64_t pages)
{
	struct xshm_host *h = dev->h;
	uint64_t fair = xshm_host_fair_share(h, dev);
	int rc;

	if (dev->reclaim.overdue) {
		DEVLOG(dev, LOG_NOTICE, "refused %llu pages: reclaim notice %u is overdue",
		       (unsigned long long)pages, dev->reclaim.id);
		return -EDQUOT;
	}
	if (!xshm_policy_admit(&h->knobs, &h->pool, &h->pool_full, fair, dev->acct.used, pages)) {
		DEVLOG(dev, LOG_NOTICE, "refused %llu pages: pool recovering from full, guest at %llu of its fair share %llu",
		       (unsigned long long)pages, (unsigned long long)dev->acct.used,
		       (unsigned long long)fair);
		return -ENOSPC;
	}
	rc = xshm_pool_charge(&h->pool, &dev->acct, pages);
	/* MemFlex pages are the cheapest to win back: dom0 moves them to disk itself. */
	if (rc == -ENOSPC && xshm_mf_give_back(h, pages - xshm_pool_free(&h->pool)))
		rc = xshm_pool_charge(&h->pool, &dev->acct, pages);
	if (rc == -ENOSPC) {
		uint64_t need = pages - xshm_pool_free(&h->pool);
		bool within_share = dev->acct.used <= fair && pages <= fair - dev->acct.used;
		h->pool_full = true;
		if (within_share && xshm_host_rebalance(h, dev, need) > 0)
			rc = -EAGAIN;
	}
	if (rc)
		DEVLOG(dev, LOG_NOTICE, "refused %llu pages: %s (guest uses %llu of quota %llu, fair share %llu; host %llu of %llu)",
		       (unsigned long long)pages,
		       rc == -EDQUOT ? "over the guest's quota" :
		       rc == -EAGAIN ? "host short, reclaiming from others: retry" : "host budget exhausted",
		       (unsigned long long)dev->acct.used, (unsigned long long)dev->acct.quota,
		       (unsigned long long)fair, (unsigned long long)h->pool.used,
		       (unsigned long long)h->pool.budget);
	return rc;
}

int xshm_seg_new(struct xshm_dev *dev, uint32_t pages, uint32_t purpose, struct xshm_seg **out)
{
	struct xo *x = dev->h->x;
	struct xshm_seg *seg = calloc(1, sizeof(*seg));
	char path[XSP_MAX];
	int rc;

	if (!seg)
		return -ENOMEM;
	seg->pages = pages;
	seg->purpose = purpose;
	seg->ndir = xshm_segdir_pages(pages);
	rc = charge(dev, (uint64_t)seg->pages + seg->ndir);
	if (rc) {
		free(seg);
		return rc;
	}
	/* Data and directory pages in one grant call: the directory is the tail. */
	seg->refs = calloc((size_t)seg->pages + seg->ndir, sizeof(*seg->refs));
	rc = !seg->refs ? -ENOMEM : 0;
	if (!rc)
		rc = x->ops->gnt_share(x, dev->domid, seg->pages + seg->ndir, true, seg->refs, &seg->data);
	if (rc)
		goto fail;
	seg->dir_refs = seg->refs + seg->pages;
	seg->dir = (uint8_t *)seg->data + (size_t)seg->pages * XO_PAGE_SIZE;
	for (uint32_t i = 0; i < seg->ndir; i++)
		xshm_segdir_fill((struct xshm_segdir_page *)seg->dir + i, i, seg->refs, seg->pages,
				 seg->dir_refs);
	seg->id = dev->next_seg_id++;
	rc = xsp_be_segment(path, sizeof(path), dev->domid, dev->devid, seg->id);
	if (!rc)
		rc = xo_printf(x, XO_TXN_NONE, path, "%u %u %u", seg->pages, seg->purpose,
			       seg->dir_refs[0]);
	if (rc)
		goto fail;
	seg->next = dev->segs;
	dev->segs = seg;
	*out = seg;
	return 0;
fail:
	DEVLOG(dev, LOG_WARNING, "cannot grant %u pages: %s", seg->pages, strerror(-rc));
	seg_free(dev, seg);
	return rc;
}

void xshm_seg_drop(struct xshm_dev *dev, struct xshm_seg *seg)
{
	for (struct xshm_seg **pp = &dev->segs; *pp; pp = &(*pp)->next) {
		if (*pp == seg) {
			*pp = seg->next;
			seg_free(dev, seg);
			return;
		}
	}
}

static int handle_seg_alloc(struct xshm_dev *dev, const struct xshm_ctrl_seg_alloc *req,
			    struct xshm_ctrl_rsp_seg_alloc *rsp)
{
	struct xshm_seg *seg;
	int rc;

	/* Ring segments come with a channel and go with it. */
	if (req->purpose != XSHM_SEG_SHM)
		return -EINVAL;
	rc = xshm_seg_new(dev, req->pages, req->purpose, &seg);
	if (rc)
		return rc;
	rsp->seg_id = seg->id;
	rsp->pages = seg->pages;
	rsp->dir_gref = seg->dir_refs[0];
	return 0;
}

static int handle_seg_free(struct xshm_dev *dev, uint32_t id)
{
	for (struct xshm_seg *s = dev->segs; s; s = s->next) {
		if (s->id == id) {
			if (s->purpose != XSHM_SEG_SHM)
				return -EBUSY; /* a channel's ring: chan-close frees it */
			xshm_seg_drop(dev, s);
			return 0;
		}
	}
	return -ENOENT;
}

int xshm_dev_send_notice(struct xshm_dev *dev, const struct xshm_ctrl_msg *msg)
{
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	ssize_t len, space;
	bool kick;
	int rc;

	if (!dev->rings_attached || dev->gone)
		return -ENOTCONN;
	len = xshm_ctrl_encode(msg, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	/* Leave room for one response: a guest waits for its answer with notices unread. */
	space = xshm_ring_space(&dev->tx);
	if (space < 0)
		return (int)space;
	if ((size_t)space < 2 * (XSHM_RING_FRAME_HDR + XSHM_CTRL_MSG_MAX))
		return -EAGAIN;
	rc = xshm_ring_send(&dev->tx, buf, (size_t)len, &kick);
	if (rc)
		return rc;
	dev->h->x->ops->evtchn_notify(dev->h->x, dev->port);
	return 0;
}

/* Answer one parsed request; returns false when it has no response. */
static bool handle(struct xshm_dev *dev, const struct xshm_ctrl_msg *req, struct xshm_ctrl_msg *rsp)
{
	uint32_t nsegs = 0;

	memset(rsp, 0, sizeof(*rsp));
	rsp->hdr.type = req->hdr.type | XSHM_CTRL_RESPONSE;
	rsp->hdr.id = req->hdr.id;
	switch (req->hdr.type) {
	case XSHM_CTRL_HELLO:
		rsp->u.rsp_hello.features = req->u.hello.features & XSHM_FEAT_ALL;
		rsp->u.rsp_hello.max_pages = (uint32_t)(dev->acct.quota > UINT32_MAX ? UINT32_MAX : dev->acct.quota);
		return true;
	case XSHM_CTRL_SEG_ALLOC:
		rsp->u.rsp_seg_alloc.status = handle_seg_alloc(dev, &req->u.seg_alloc, &rsp->u.rsp_seg_alloc);
		return true;
	case XSHM_CTRL_SEG_FREE:
		rsp->u.rsp_status.status = handle_seg_free(dev, req->u.seg_free.seg_id);
		return true;
	case XSHM_CTRL_STATS:
		for (struct xshm_seg *s = dev->segs; s; s = s->next)
			nsegs++;
		rsp->u.rsp_stats.segments = nsegs;
		rsp->u.rsp_stats.pages_granted = dev->acct.used;
		rsp->u.rsp_stats.pages_quota = dev->acct.quota;
		rsp->u.rsp_stats.host_pages_free = xshm_pool_free(&dev->h->pool);
		return true;
	case XSHM_CTRL_CHAN_OPEN:
		rsp->u.rsp_chan_open.status = xshm_chan_open(dev, &req->u.chan_open, &rsp->u.rsp_chan_open);
		return true;
	case XSHM_CTRL_PEER_LOOKUP:
		rsp->u.rsp_peer_lookup.status =
			xshm_chan_peer_lookup(dev, req->u.peer_lookup.name, &rsp->u.rsp_peer_lookup.domid);
		return true;
	case XSHM_CTRL_CHAN_CLOSE:
		rsp->u.rsp_status.status = xshm_chan_close(dev, req->u.chan_close.chan_id);
		return true;
	case XSHM_CTRL_CHAN_SHUTDOWN:
		rsp->u.rsp_status.status = xshm_chan_shutdown(dev, req->u.chan_close.chan_id);
		return true;
	case XSHM_CTRL_RECLAIM_ACK:
		/* What counts is the account, not the guest's word: log, then measure. */
		DEVLOG(dev, LOG_INFO, "reclaim notice %u acknowledged (%u pages released, says the guest)",
		       req->u.reclaim_ack.notice_id, req->u.reclaim_ack.pages_released);
		xshm_dev_tick(dev);
		return false;
	default:
		return false;
	}
}

static void serve(struct xshm_dev *dev)
{
	struct xo *x = dev->h->x;
	bool kick = false;

	while (dev->rings_attached) {
		uint8_t untrusted[XSHM_CTRL_MSG_MAX], out[XSHM_CTRL_MSG_MAX];
		struct xshm_ctrl_msg req, rsp;
		bool n = false;
		ssize_t len = xshm_ring_recv(&dev->rx, untrusted, sizeof(untrusted), &n);
		kick |= n;
		if (len == -EAGAIN) {
			/* Ask for a wake-up; if a request slipped in meanwhile, go round again. */
			if (xshm_ring_prepare_wait(&dev->rx, 0))
				break;
			continue;
		}
		if (len < 0) {
			xshm_dev_fail(dev, -EPROTO, "control ring corrupt (bad index or frame)");
			return;
		}
		int rc = xshm_ctrl_parse(untrusted, (size_t)len, XSHM_FROM_GUEST, &req);
		if (rc) {
			xshm_dev_fail(dev, -EPROTO, "bad control message: %s", xshm_ctrl_strerror(rc));
			return;
		}
		dev->requests++;
		if (!handle(dev, &req, &rsp))
			continue;
		ssize_t olen = xshm_ctrl_encode(&rsp, out, sizeof(out));
		if (olen < 0 || (rc = xshm_ring_send(&dev->tx, out, (size_t)olen, &n)) == -EAGAIN) {
			xshm_dev_fail(dev, -ENOBUFS, "guest does not read its responses");
			return;
		}
		if (rc) {
			xshm_dev_fail(dev, -EPROTO, "control ring corrupt (response ring)");
			return;
		}
		kick |= n;
	}
	if (kick)
		x->ops->evtchn_notify(x, dev->port);
}

void xshm_dev_event(struct xshm_dev *dev)
{
	if (dev->gone || !dev->ctrl)
		return;
	dev->suspend_warned = false; /* it runs: a suspend was cancelled, the next one is news */
	/* One read of the guest's live byte: unmap-notify zeroes it when the guest lets go. */
	uint8_t untrusted_live = __atomic_load_n(&dev->ctrl->fe_live, __ATOMIC_ACQUIRE);
	if (dev->rings_attached && untrusted_live == XSHM_LIVE_GONE) {
		DEVLOG(dev, LOG_INFO, "frontend unmapped the control page: releasing everything");
		teardown(dev);
		write_state(dev, XB_CLOSED);
		return;
	}
	if (dev->rings_attached)
		serve(dev);
	if (dev->rings_attached)
		xshm_chan_dev_event(dev);
}

/*
 * backend/.../release: a save or migration waits for the guest to hold
 * nothing of ours (grant mappings and user event channels kept across a
 * suspend corrupt the guest).  Say so on the control page and kick; the
 * guest's closing frontend then tears the session down as usual.
 */
void xshm_dev_release_changed(struct xshm_dev *dev)
{
	char path[XSP_MAX], *untrusted = NULL;
	unsigned long long ms = 0;
	int rc = xsp_be_release(path, sizeof(path), dev->domid, dev->devid);

	if (!rc)
		rc = xo_read_str(dev->h->x, XO_TXN_NONE, path, &untrusted);
	if (!rc && (xo_parse_uint(untrusted, XSHM_RELEASE_MS_MAX, &ms) || ms < XSHM_RELEASE_MS_MIN)) {
		DEVLOG(dev, LOG_WARNING, "refused release '%.32s': not %u .. %u ms", untrusted, XSHM_RELEASE_MS_MIN,
		       XSHM_RELEASE_MS_MAX);
		free(untrusted);
		return;
	}
	free(untrusted);
	if ((uint32_t)ms == dev->release_ms)
		return;
	dev->release_ms = (uint32_t)ms;
	if (!ms) {
		DEVLOG(dev, LOG_INFO, "release request withdrawn: the guest may connect again");
		if (dev->ctrl)
			__atomic_store_n(&dev->ctrl->be_release, 0, __ATOMIC_RELEASE);
		/* The relay into this guest stopped without asking anyone for a kick: start it. */
		if (dev->rings_attached)
			xshm_chan_dev_event(dev);
		return;
	}
	if (!dev->rings_attached) {
		/* Nothing mapped yet (or any more): close, so that nothing gets mapped. */
		DEVLOG(dev, LOG_INFO, "release requested (%llu ms): not connected, closed", ms);
		if (dev->be_state != XB_CLOSED) {
			teardown(dev);
			write_state(dev, XB_CLOSED);
		}
		return;
	}
	DEVLOG(dev, LOG_INFO, "release requested: the guest has %llu ms to let go of its %llu KiB", ms,
	       (unsigned long long)dev->acct.used * 4);
	__atomic_store_n(&dev->ctrl->be_release, (uint32_t)ms, __ATOMIC_RELEASE);
	if (dev->port_bound)
		dev->h->x->ops->evtchn_notify(dev->h->x, dev->port);
}

void xshm_dev_quota_changed(struct xshm_dev *dev)
{
	char path[XSP_MAX], *untrusted = NULL;
	int rc = xsp_be_quota_kb(path, sizeof(path), dev->domid, dev->devid);

	if (!rc)
		rc = xo_read_str(dev->h->x, XO_TXN_NONE, path, &untrusted);
	if (rc == -ENOENT) {
		dev->acct.quota = dev->h->default_quota;
		xshm_setting_accepted(dev->h, path);
	} else if (!rc) {
		int64_t pages = xshm_parse_kb_pages(untrusted, QUOTA_KB_MAX);
		const char *why = pages == -ERANGE ? "too large" : "not a multiple of 4 KiB in decimal";
		if (pages < 0) {
			DEVLOG(dev, LOG_WARNING, "refused quota-kb '%.32s' (%s): keeping %llu KiB", untrusted, why,
			       (unsigned long long)dev->acct.quota * 4);
			xshm_setting_refused(dev->h, path, untrusted, "%s; keeping %llu KiB", why,
					     (unsigned long long)dev->acct.quota * 4);
		} else {
			xshm_setting_accepted(dev->h, path);
		}
		if (pages >= 0 && (uint64_t)pages != dev->acct.quota) {
			dev->acct.quota = (uint64_t)pages;
			DEVLOG(dev, LOG_INFO, "quota %llu KiB", (unsigned long long)pages * 4);
			/* Lowered below use: ask for the excess (a notice in flight is replaced). */
			if (xshm_account_over(&dev->acct) && dev->rings_attached) {
				dev->reclaim.pending = false;
				xshm_dev_send_reclaim(dev, xshm_account_over(&dev->acct));
			}
		}
	}
	free(untrusted);
}

int xshm_dev_new(struct xshm_host *h, xo_domid_t domid, uint32_t devid, const uint8_t uuid[16],
		 struct xshm_dev **out)
{
	struct xshm_dev *dev = calloc(1, sizeof(*dev));
	unsigned long long state = 0;
	int rc;

	if (!dev)
		return -ENOMEM;
	dev->h = h;
	dev->domid = domid;
	dev->devid = devid;
	dev->next_seg_id = 1;
	memcpy(dev->uuid, uuid, sizeof(dev->uuid));
	dev->acct.quota = h->default_quota;
	snprintf(dev->token, sizeof(dev->token), "fe:%u:%u", domid, devid);
	rc = xsp_fe_state(dev->fe_state_path, sizeof(dev->fe_state_path), domid, devid);
	if (rc)
		goto fail;
	xshm_dev_quota_changed(dev);
	/* A backend state past Initialising means an earlier xenshmd served this device: its
	 * grants died with it, so send the frontend round the Closed -> Initialising path. */
	if (read_state(dev, &state))
		state = 0;
	dev->be_state = (int)state;
	if (state > XB_INITIALISING && state != XB_CLOSED) {
		DEVLOG(dev, LOG_INFO, "found in state %llu from an earlier xenshmd: asking the frontend to reconnect",
		       state);
		write_state(dev, XB_CLOSED);
	}
	xshm_dev_release_changed(dev); /* a save in progress when this xenshmd started */
	rc = h->x->ops->xs_watch(h->x, dev->fe_state_path, dev->token);
	if (rc)
		goto fail;
	*out = dev;
	return 0;
fail:
	free(dev);
	return rc;
}

void xshm_write_error_node(struct xo *x, const char *path, xo_domid_t domid, const char *fmt, ...)
{
	char msg[320];
	struct xo_perm perms[2] = { { 0, XO_PERM_NONE }, { domid, XO_PERM_READ } };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!xo_write_str(x, XO_TXN_NONE, path, msg))
		x->ops->xs_set_perms(x, XO_TXN_NONE, path, perms, 2);
}

void xshm_setting_refused(struct xshm_host *h, const char *path, const char *untrusted_value, const char *fmt, ...)
{
	struct xo_perm perms[1] = { { 0, XO_PERM_NONE } };
	char why[200], node[XSP_MAX], msg[XSP_MAX + 300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(msg, sizeof(msg), "%d %s: '%.32s' refused: %s", EINVAL, path, untrusted_value, why);
	if (!xsp_tool_error(node, sizeof(node)) && !xo_write_str(h->x, XO_TXN_NONE, node, msg))
		h->x->ops->xs_set_perms(h->x, XO_TXN_NONE, node, perms, 1);
}

void xshm_setting_accepted(struct xshm_host *h, const char *path)
{
	char node[XSP_MAX], *v = NULL, prefix[XSP_MAX + 8];

	if (xsp_tool_error(node, sizeof(node)) || xo_read_str(h->x, XO_TXN_NONE, node, &v))
		return;
	snprintf(prefix, sizeof(prefix), "%d %s: ", EINVAL, path);
	if (!strncmp(v, prefix, strlen(prefix)))
		h->x->ops->xs_rm(h->x, XO_TXN_NONE, node);
	free(v);
}

/* Gone, and nothing of it served any more: a served device is torn down by its own path
 * (@releaseDomain), which reads its dirs first (a MemFlex disk's keep-store). */
static bool domain_gone(struct xshm_host *h, xo_domid_t domid)
{
	struct xo_dominfo info;

	for (struct xshm_dev *v = h->devs; v; v = v->next)
		if (v->domid == domid)
			return false;
	return !xshm_mf_find_domain(h, domid) && h->x->ops->domain_info(h->x, domid, &info) == -ESRCH;
}

void xshm_sweep_gone_domains(struct xshm_host *h, const char *kind, bool sweep_backends)
{
	static const char *const roots[] = { "/local/domain/0/backend", "/local/domain/0/error/backend" };
	struct xo *x = h->x;

	for (int r = sweep_backends ? 0 : 1; r < 2; r++) {
		char root[64], **doms = NULL;
		unsigned int n = 0;
		snprintf(root, sizeof(root), "%s/%s", roots[r], kind);
		if (x->ops->xs_directory(x, XO_TXN_NONE, root, &doms, &n))
			continue;
		for (unsigned int i = 0; i < n; i++) {
			xo_domid_t domid;
			char path[96];
			if (xo_parse_domid(doms[i], &domid) || domid == 0 || !domain_gone(h, domid))
				continue;
			snprintf(path, sizeof(path), "%s/%u", root, domid);
			if (!x->ops->xs_rm(x, XO_TXN_NONE, path))
				xshm_log(h, LOG_INFO, "domain %u is gone: removed %s", domid, path);
		}
		xo_free_strv(doms);
		if (r == 1)
			xshm_rm_empty_parent(x, root); /* error/backend/<kind> itself, when empty */
	}
}

/* Remove the directory holding `path` if nothing is left in it, as libxl cleans up after a
 * device: a dead domain leaves no empty backend/xenshm/<domid> behind. */
void xshm_rm_empty_parent(struct xo *x, const char *path)
{
	char parent[XSP_MAX], **names = NULL;
	unsigned int n = 1;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return;
	*slash = 0;
	if (!x->ops->xs_directory(x, XO_TXN_NONE, parent, &names, &n) && n == 0)
		x->ops->xs_rm(x, XO_TXN_NONE, parent);
	xo_free_strv(names);
}

void xshm_dev_destroy(struct xshm_dev *dev, bool remove_dirs)
{
	struct xo *x = dev->h->x;
	char path[XSP_MAX];

	dev->gone = true;
	x->ops->xs_unwatch(x, dev->fe_state_path, dev->token);
	teardown(dev);
	if (!xsp_be_dir(path, sizeof(path), dev->domid, dev->devid)) {
		if (remove_dirs)
			x->ops->xs_rm(x, XO_TXN_NONE, path);
		/* Also when the toolstack removed the device dir itself (libxl does on destroy). */
		xshm_rm_empty_parent(x, path);
	}
	if (remove_dirs)
		remove_error_dir(dev);
	free(dev);
}
