// SPDX-License-Identifier: LGPL-2.1-only
/*
 * libxenshm: the frontend of the xenshm device.
 *
 * Connecting walks the XenBus handshake from the guest's side: claim the
 * device (frontend state 1), wait for xenshmd's control page (backend 2),
 * map it and bind its port, announce our version (frontend 3), wait for
 * backend 4, frontend 4.  After that everything goes over the control ring:
 * one request at a time, answered by id.  Every value from dom0 is still
 * parsed and checked: a corrupt answer is an error, never a crash.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenshm/ctrl.h"
#include "xenshm/segdir.h"
#include "xenshm/shm.h"
#include "xenshm/xenbus.h"
#include "xenshm/xenops.h"
#include "xenshm/xspaths.h"
#include "shm_private.h"

#define SHM_SEGS_MAX 256u

struct shm {
	struct xo *x;
	bool own_x;
	int timeout_ms;
	xo_domid_t me;
	uint32_t devid;
	char fe_state[XSP_MAX], be_state[XSP_MAX];
	struct xshm_ctrl_page *ctrl;
	xo_port_t port;
	bool port_bound, rings;
	struct xshm_ring tx, rx;
	uint32_t next_id;
	uint32_t features; /* XSHM_FEAT_* both ends speak (hello) */
	struct shm_seg segs[SHM_SEGS_MAX]; /* in offset order */
	uint32_t nsegs;
	uint64_t pages;       /* data pages of all segments */
	/* The newest reclaim notice not yet handed to the application, then the one handed. */
	struct { bool queued, handed; uint32_t id, deadline_ms; uint64_t pages, pages_then; } notice;
	/* Connections to our listeners that libmempipe has not accepted yet, oldest first. */
	struct xshm_ctrl_chan_accept *accepts;
	unsigned int naccepts, accepts_cap;
	bool broken; /* xenshmd sent something it may not: nothing more is trusted */
	bool release_handed; /* SHM_EV_RELEASE was reported */
	bool claimed;        /* holds the device against the guest's other processes */
};

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

static void deadline_in(struct timespec *d, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, d);
	d->tv_sec += ms / 1000;
	d->tv_nsec += (long)(ms % 1000) * 1000000;
	if (d->tv_nsec >= 1000000000) {
		d->tv_sec++;
		d->tv_nsec -= 1000000000;
	}
}

/* Done when the backend state reads `want`; a removed device or a XenStore failure ends it. */
static int backend_in_state(const char *untrusted, int read_rc, void *arg)
{
	unsigned long long st;

	if (read_rc)
		return read_rc == -ENOENT ? -ENODEV : read_rc; /* the device was removed */
	if (xo_parse_uint(untrusted, 8, &st))
		return 0;
	return (int)st == *(const int *)arg;
}

/* Wait until the backend state is `want` (or the deadline). */
static int wait_backend(struct shm *s, int want, const struct timespec *deadline)
{
	long left = ms_left(deadline);

	return xo_wait_node(s->x, s->be_state, left > 0 ? (int)left : 0, backend_in_state, &want);
}

/* A newer notice replaces an older one: xenshmd keeps one in flight per device. */
static void note_reclaim(struct shm *s, const struct xshm_ctrl_reclaim *r)
{
	s->notice.queued = true;
	s->notice.id = r->notice_id;
	s->notice.pages = r->pages;
	s->notice.deadline_ms = r->deadline_ms;
}

static int queue_accept(struct shm *s, const struct xshm_ctrl_chan_accept *a)
{
	if (s->naccepts == s->accepts_cap) {
		unsigned int cap = s->accepts_cap ? 2 * s->accepts_cap : 8;
		void *n = realloc(s->accepts, cap * sizeof(*s->accepts));
		if (!n)
			return -ENOMEM;
		s->accepts = n;
		s->accepts_cap = cap;
	}
	s->accepts[s->naccepts++] = *a;
	return 0;
}

/* A host notice: queue it.  false if msg is not one. */
static bool take_notice(struct shm *s, const struct xshm_ctrl_msg *msg)
{
	if (msg->hdr.type == XSHM_CTRL_RECLAIM) {
		note_reclaim(s, &msg->u.reclaim);
		return true;
	}
	if (msg->hdr.type == XSHM_CTRL_CHAN_ACCEPT) {
		/* Out of memory here loses a connection; the peer sees it reset when we close. */
		queue_accept(s, &msg->u.chan_accept);
		return true;
	}
	return false;
}

bool shm_take_accept(struct shm *s, uint32_t listener_id, struct xshm_ctrl_chan_accept *out)
{
	for (unsigned int i = 0; i < s->naccepts; i++) {
		if (!listener_id || s->accepts[i].listener_id == listener_id) {
			*out = s->accepts[i];
			memmove(&s->accepts[i], &s->accepts[i + 1], (s->naccepts - i - 1) * sizeof(*out));
			s->naccepts--;
			return true;
		}
	}
	return false;
}

/* How a service takes our port's event. */
enum take {
	TAKE_GUARDED, /* poll(0) first: a read of the event fd may block */
	TAKE_POLLED,  /* our own poll has just seen the fd readable: read at once */
	TAKE_NONE,    /* the caller is about to poll, which sees a pending event anyway */
};

/*
 * Take our port's event, if one is pending, and unmask it.  One is all
 * there can be: the port is the only one this handle binds, and it stays
 * masked from its delivery until we unmask it.  Asking again for a second
 * would cost a system call per wake-up for nothing (45 us in a PV guest
 * under the lab's emulation, test 99-rtt-trace); so would a guard poll
 * where our own poll has just seen the fd readable.
 */
static void take_event(struct xo *x, enum take how)
{
	xo_port_t p;
	int rc;

	if (how == TAKE_NONE)
		return;
	rc = how == TAKE_POLLED ? x->ops->evtchn_pending_polled(x, &p) : x->ops->evtchn_pending(x, &p);
	if (rc == 0)
		x->ops->evtchn_unmask(x, p);
}

static enum take take_after(const struct pollfd *pfd)
{
	return pfd->revents & POLLIN ? TAKE_POLLED : TAKE_GUARDED;
}

/* One request, one response; host notices that arrive meanwhile are queued. */
static int rpc(struct shm *s, struct xshm_ctrl_msg *req, struct xshm_ctrl_msg *rsp)
{
	struct xo *x = s->x;
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	struct timespec deadline;
	bool n;
	int rc;

	req->hdr.id = ++s->next_id;
	ssize_t len = xshm_ctrl_encode(req, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	rc = xshm_ring_send(&s->tx, buf, (size_t)len, &n);
	if (rc)
		return rc == -EAGAIN ? -ENOBUFS : rc;
	/* Control requests are rare: always kick, never depend on the wake-up flag. */
	x->ops->evtchn_notify(x, s->port);
	deadline_in(&deadline, s->timeout_ms);
	for (;;) {
		ssize_t got = xshm_ring_recv(&s->rx, buf, sizeof(buf), &n);
		if (got >= 0) {
			rc = xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_HOST, rsp);
			if (rc)
				return -EPROTO;
			if (take_notice(s, rsp))
				continue;
			if (rsp->hdr.type != (req->hdr.type | XSHM_CTRL_RESPONSE) || rsp->hdr.id != req->hdr.id)
				return -EPROTO;
			return 0;
		}
		if (got != -EAGAIN)
			return -EPROTO;
		if (!xshm_ring_prepare_wait(&s->rx, 0))
			continue;
		if (__atomic_load_n(&s->ctrl->be_live, __ATOMIC_ACQUIRE) == XSHM_LIVE_GONE)
			return -ECONNRESET;
		long left = ms_left(&deadline);
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = x->ops->evtchn_fd(x), .events = POLLIN };
		if (poll(&pfd, 1, (int)left) > 0)
			take_event(x, take_after(&pfd));
	}
}

static int set_fe_state(struct shm *s, int state)
{
	return xo_printf(s->x, XO_TXN_NONE, s->fe_state, "%d", state);
}

static int connect_device(struct shm *s, const struct timespec *deadline)
{
	struct xo *x = s->x;
	char path[XSP_MAX];
	unsigned long long be = 0, fe = 0, ref, port, version;
	const uint32_t d = s->devid;
	void *page;
	int rc;

	s->fe_state[0] = 0;
	xsp_fe_state(s->fe_state, sizeof(s->fe_state), s->me, d);
	xsp_be_state(s->be_state, sizeof(s->be_state), s->me, d);
	rc = xo_read_uint(x, XO_TXN_NONE, s->be_state, 8, &be);
	if (rc == -ENOENT || rc == -EACCES)
		return -ENODEV;
	xo_read_uint(x, XO_TXN_NONE, s->fe_state, 8, &fe);
	/* The host is saving or migrating this domain: nothing may be mapped until it has moved. */
	if (xsp_be_release(path, sizeof(path), s->me, d) == 0 &&
	    xo_read_uint(x, XO_TXN_NONE, path, UINT32_MAX, &ref) != -ENOENT) {
		s->fe_state[0] = 0;
		return -EAGAIN;
	}
	/* A live session holds the device: the backend is connected to it, or about to be. */
	if (be == XB_CONNECTED || (be == XB_INITWAIT && fe == XB_INITIALISED)) {
		s->fe_state[0] = 0; /* not ours: never touch its state */
		return -EBUSY;
	}
	rc = set_fe_state(s, XB_INITIALISING);
	if (!rc)
		rc = wait_backend(s, XB_INITWAIT, deadline);
	if (rc)
		return rc;
	/* The backend dir is dom0's: still, parse every value strictly. */
	if (xsp_be_ring_ref(path, sizeof(path), s->me, d) || xo_read_uint(x, XO_TXN_NONE, path, UINT32_MAX, &ref) ||
	    xsp_be_event_channel(path, sizeof(path), s->me, d) ||
	    xo_read_uint(x, XO_TXN_NONE, path, 1u << 17, &port) ||
	    xsp_be_version(path, sizeof(path), s->me, d) || xo_read_uint(x, XO_TXN_NONE, path, 65535, &version))
		return -EPROTO;
	if (version < XSHM_CTRL_VERSION)
		return -EPROTONOSUPPORT;
	rc = x->ops->evtchn_bind_interdomain(x, 0, (xo_port_t)port, &s->port);
	if (rc)
		return rc;
	s->port_bound = true;
	rc = x->ops->gnt_map_notify(x, 0, (xo_gref_t)ref, true, offsetof(struct xshm_ctrl_page, fe_live),
				    (int)s->port, &page);
	if (rc)
		return rc;
	s->ctrl = page;
	if (s->ctrl->magic != XSHM_CTRL_PAGE_MAGIC || s->ctrl->version != XSHM_CTRL_VERSION)
		return -EPROTO;
	rc = xshm_ctrl_attach_rings(s->ctrl, true, &s->tx, &s->rx);
	if (rc)
		return -EPROTO;
	s->rings = true;
	s->ctrl->fe_live = XSHM_LIVE_UP;
	rc = xsp_fe_version(path, sizeof(path), s->me, d);
	if (!rc)
		rc = xo_printf(x, XO_TXN_NONE, path, "%d", XSHM_CTRL_VERSION);
	if (!rc)
		rc = set_fe_state(s, XB_INITIALISED);
	if (!rc)
		rc = wait_backend(s, XB_CONNECTED, deadline);
	if (!rc)
		rc = set_fe_state(s, XB_CONNECTED);
	return rc;
}

/*
 * Read the segment's directory chain (each page copied out once), then map
 * the data pages.  The directory pages stay mapped until the segment is
 * freed: on Linux 6.1 PV guests an unmap right before the next map let
 * data pages alias each other in the lab (see docs/xenlab.md).
 */
int shm_map_seg(struct shm *s, uint32_t seg_id, xo_gref_t dir_ref, uint32_t pages, struct shm_seg *seg)
{
	struct xo *x = s->x;
	struct xshm_segdir_page *copy = malloc(sizeof(*copy));
	xo_gref_t *refs = calloc(pages, sizeof(*refs));
	uint32_t ndir = xshm_segdir_pages(pages);
	int64_t next = dir_ref;
	int rc = (!copy || !refs) ? -ENOMEM : 0;

	seg->dirs = calloc(ndir, sizeof(*seg->dirs));
	if (!seg->dirs)
		rc = -ENOMEM;
	for (uint32_t i = 0; !rc && i < ndir; i++) {
		xo_gref_t r = (xo_gref_t)next;
		rc = x->ops->gnt_map(x, 0, 1, &r, false, &seg->dirs[i]);
		if (rc)
			break;
		seg->ndirs++;
		memcpy(copy, seg->dirs[i], sizeof(*copy));
		next = xshm_segdir_parse(copy, i, pages, refs);
		if (next < 0)
			rc = -EPROTO;
	}
	if (!rc)
		rc = x->ops->gnt_map(x, 0, pages, refs, true, (void **)&seg->data);
	if (!rc) {
		seg->pages = pages;
		seg->id = seg_id;
	}
	free(copy);
	free(refs);
	return rc;
}

void shm_unmap_seg(struct shm *s, struct shm_seg *seg)
{
	struct xo *x = s->x;

	if (seg->data) {
		x->ops->gnt_unmap(x, seg->data, seg->pages);
		seg->data = NULL;
	}
	for (uint32_t i = 0; i < seg->ndirs; i++)
		x->ops->gnt_unmap(x, seg->dirs[i], 1);
	free(seg->dirs);
	seg->dirs = NULL;
	seg->ndirs = 0;
}

/* Unmap a segment and give it back (if xenshmd is gone it reclaims on its own). */
static void release_segment(struct shm *s, struct shm_seg *seg)
{
	shm_unmap_seg(s, seg);
	if (s->rings && seg->id) {
		struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_SEG_FREE } }, rsp;
		req.u.seg_free.seg_id = seg->id;
		rpc(s, &req, &rsp);
	}
	seg->id = 0;
	seg->pages = 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Ask for one more segment of `pages` and map it after the others.  While
 * xenshmd answers EAGAIN (the host is short and other guests were asked to
 * give back) retry with backoff until the timeout; then it is ENOSPC.
 */
static int add_segment(struct shm *s, uint64_t pages)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_SEG_ALLOC } }, rsp;
	struct shm_seg *seg;
	struct timespec deadline;
	long backoff = 50;
	int rc;

	if (!pages || pages > XSHM_SEG_PAGES_MAX)
		return -EINVAL;
	if (s->nsegs == SHM_SEGS_MAX)
		return -E2BIG;
	deadline_in(&deadline, s->timeout_ms);
	req.u.seg_alloc.pages = (uint32_t)pages;
	req.u.seg_alloc.purpose = XSHM_SEG_SHM;
	for (;;) {
		rc = rpc(s, &req, &rsp);
		if (!rc)
			rc = rsp.u.rsp_seg_alloc.status;
		if (rc != -EAGAIN)
			break;
		long left = ms_left(&deadline);
		if (left <= 0)
			return -ENOSPC;
		sleep_ms(backoff < left ? backoff : left);
		backoff = backoff * 2 > 1000 ? 1000 : backoff * 2;
	}
	if (rc)
		return rc;
	seg = &s->segs[s->nsegs];
	memset(seg, 0, sizeof(*seg));
	seg->id = rsp.u.rsp_seg_alloc.seg_id;
	if (rsp.u.rsp_seg_alloc.pages != pages)
		rc = -EPROTO;
	if (!rc)
		rc = shm_map_seg(s, seg->id, rsp.u.rsp_seg_alloc.dir_gref, (uint32_t)pages, seg);
	if (rc) {
		release_segment(s, seg);
		return rc;
	}
	s->nsegs++;
	s->pages += pages;
	return 0;
}

/*
 * The device's states in XenStore say whether a session holds it, but reading them and
 * writing ours are two steps: two processes starting at once (two proxies reopening after a
 * restore, seen in lab 91) both saw it free and shared one control ring.  So a process first
 * claims the device guest-wide (xo claim: atomic, and let go when the process dies).
 */
static void claim_name(const struct shm *s, char *buf, size_t len)
{
	snprintf(buf, len, "%u/%u", s->me, s->devid);
}

static int claim_device(struct shm *s)
{
	char name[32];

	claim_name(s, name, sizeof(name));
	int rc = s->x->ops->claim(s->x, name);
	s->claimed = !rc;
	return rc;
}

static void unclaim_device(struct shm *s)
{
	char name[32];

	if (!s->claimed)
		return;
	claim_name(s, name, sizeof(name));
	s->x->ops->unclaim(s->x, name);
	s->claimed = false;
}

static void disconnect(struct shm *s)
{
	struct xo *x = s->x;

	while (s->nsegs) {
		s->nsegs--;
		s->pages -= s->segs[s->nsegs].pages;
		release_segment(s, &s->segs[s->nsegs]);
	}
	if (s->rings) {
		xshm_ring_detach(&s->tx);
		xshm_ring_detach(&s->rx);
		s->rings = false;
	}
	if (s->ctrl) {
		/* Unmapping zeroes our live byte and fires the port: xenshmd releases the rest. */
		x->ops->gnt_unmap(x, s->ctrl, 1);
		s->ctrl = NULL;
	}
	if (s->port_bound) {
		x->ops->evtchn_unbind(x, s->port);
		s->port_bound = false;
	}
	if (s->fe_state[0] && set_fe_state(s, XB_CLOSED) == 0) {
		/* Return only once xenshmd has taken everything back, so that the memory is
		 * free for others and the device for the next shm_init(). */
		struct timespec deadline;
		deadline_in(&deadline, s->timeout_ms);
		wait_backend(s, XB_CLOSED, &deadline);
	}
	s->fe_state[0] = 0;
}

static void shm_free(struct shm *s)
{
	disconnect(s);
	unclaim_device(s); /* after Closed: the next process finds the device free */
	free(s->accepts);
	if (s->own_x)
		xo_close(s->x);
	free(s);
}

/* The guest's xenshm devices, lowest devid first; -ENODEV if there are none. */
static int list_devices(struct shm *s, uint32_t *ids, unsigned int max, unsigned int *n)
{
	char path[XSP_MAX];
	int rc;

	snprintf(path, sizeof(path), "/local/domain/%u/device/xenshm", s->me);
	rc = xo_list_ids(s->x, path, 255, ids, max, n);
	if (rc)
		return rc == -ENOENT || rc == -EACCES ? -ENODEV : rc;
	return *n ? 0 : -ENODEV;
}

/* Claim the first device no other process holds: one process per device. */
static int connect_any(struct shm *s)
{
	uint32_t ids[256];
	unsigned int n = 0;
	struct timespec deadline;
	int rc;

	deadline_in(&deadline, s->timeout_ms);
	rc = xo_self_domid(s->x, &s->me);
	if (!rc)
		rc = list_devices(s, ids, 256, &n);
	for (unsigned int i = 0; !rc && i < n; i++) {
		s->devid = ids[i];
		rc = claim_device(s);
		if (rc == -EBUSY) {
			rc = 0;
			continue;
		}
		if (!rc)
			rc = connect_device(s, &deadline);
		if (rc != -EBUSY)
			return rc;
		unclaim_device(s);
		rc = 0;
	}
	return rc ? rc : -EBUSY;
}

struct shm *shm_open_xo(struct xo *x, size_t size, const struct shm_opts *opts)
{
	struct shm *s;
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_HELLO }, .u.hello.features = XSHM_FEAT_ALL }, rsp;
	size_t pages = (size + XO_PAGE_SIZE - 1) / XO_PAGE_SIZE;
	int rc;

	if (pages > XSHM_SEG_PAGES_MAX) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	s->x = x;
	s->timeout_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : 10000;
	rc = connect_any(s);
	if (!rc)
		rc = rpc(s, &req, &rsp);
	if (!rc)
		s->features = rsp.u.rsp_hello.features;
	if (!rc && pages)
		rc = add_segment(s, pages);
	if (rc) {
		shm_free(s);
		errno = -rc;
		return NULL;
	}
	return s;
}

void shm_own_xo(struct shm *s)
{
	s->own_x = true;
}

void shm_exit(struct shm *s)
{
	if (s)
		shm_free(s);
}

int shm_resize(struct shm *s, size_t size)
{
	uint64_t want = (size + XO_PAGE_SIZE - 1) / XO_PAGE_SIZE;

	if (!s || !size)
		return -EINVAL;
	if (!s->rings)
		return -ENOTCONN;
	if (want > s->pages)
		return add_segment(s, want - s->pages);
	/* Whole segments only, and never the first. */
	while (s->nsegs > 1 && s->pages - s->segs[s->nsegs - 1].pages >= want) {
		struct shm_seg *last = &s->segs[s->nsegs - 1];
		s->pages -= last->pages;
		s->nsegs--;
		release_segment(s, last);
	}
	return 0;
}

/* Copy between buf and [offset, offset+len) segment by segment; false if out of bounds. */
static bool copy_span(struct shm *s, void *buf, size_t offset, size_t len, bool put)
{
	size_t size = (size_t)s->pages * XO_PAGE_SIZE;
	uint8_t *b = buf;

	/* Written so that no sum can overflow. */
	if (!s->nsegs || offset > size || len > size - offset)
		return false;
	for (uint32_t i = 0; len && i < s->nsegs; i++) {
		size_t seg_size = (size_t)s->segs[i].pages * XO_PAGE_SIZE;
		if (offset >= seg_size) {
			offset -= seg_size;
			continue;
		}
		size_t n = seg_size - offset < len ? seg_size - offset : len;
		if (put)
			memcpy(s->segs[i].data + offset, b, n);
		else
			memcpy(b, s->segs[i].data + offset, n);
		b += n;
		len -= n;
		offset = 0;
	}
	return true;
}

size_t shm_put(struct shm *s, const void *buf, size_t offset, size_t len)
{
	if (!s || !buf || !copy_span(s, (void *)buf, offset, len, true))
		return 0;
	return len;
}

size_t shm_get(struct shm *s, void *buf, size_t offset, size_t len)
{
	if (!s || !buf || !copy_span(s, buf, offset, len, false))
		return 0;
	return len;
}

size_t shm_size(const struct shm *s)
{
	return s ? (size_t)s->pages * XO_PAGE_SIZE : 0;
}

void *shm_addr(struct shm *s)
{
	return s && s->nsegs ? s->segs[0].data : NULL;
}

void *shm_segment(struct shm *s, unsigned int i, size_t *len)
{
	if (!s || i >= s->nsegs)
		return NULL;
	if (len)
		*len = (size_t)s->segs[i].pages * XO_PAGE_SIZE;
	return s->segs[i].data;
}

int shm_fd(struct shm *s)
{
	return s && s->port_bound ? s->x->ops->evtchn_fd(s->x) : -EBADF;
}

static int service(struct shm *s, enum take take)
{
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	struct xshm_ctrl_msg msg;
	bool n;

	if (!s->rings)
		return -ENOTCONN;
	if (s->broken)
		return -EPROTO;
	take_event(s->x, take);
	for (;;) {
		ssize_t got = xshm_ring_recv(&s->rx, buf, sizeof(buf), &n);
		if (got == -EAGAIN) {
			if (xshm_ring_prepare_wait(&s->rx, 0))
				break;
			continue;
		}
		/* Outside an rpc only notices may come: anything else is a broken host. */
		if (got < 0 || xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_HOST, &msg) ||
		    !take_notice(s, &msg)) {
			s->broken = true;
			return -EPROTO;
		}
	}
	if (__atomic_load_n(&s->ctrl->be_live, __ATOMIC_ACQUIRE) == XSHM_LIVE_GONE)
		return -ECONNRESET;
	return 0;
}

int shm_service(struct shm *s)
{
	return service(s, TAKE_GUARDED);
}

int shm_service_before_wait(struct shm *s)
{
	return service(s, TAKE_NONE);
}

int shm_wait(struct shm *s, int timeout_ms)
{
	struct pollfd pfd = { .fd = s->x->ops->evtchn_fd(s->x), .events = POLLIN };

	if (poll(&pfd, 1, timeout_ms) < 0) {
		if (errno != EINTR)
			return -errno;
		pfd.revents = 0;
	}
	return service(s, take_after(&pfd));
}

int shm_timeout_ms(const struct shm *s)
{
	return s->timeout_ms;
}

xo_domid_t shm_domid(const struct shm *s)
{
	return s->me;
}

void shm_notify(struct shm *s)
{
	if (s->port_bound)
		s->x->ops->evtchn_notify(s->x, s->port);
}

int shm_rpc(struct shm *s, struct xshm_ctrl_msg *req, struct xshm_ctrl_msg *rsp)
{
	if (!s->rings)
		return -ENOTCONN;
	return s->broken ? -EPROTO : rpc(s, req, rsp);
}

uint32_t shm_release_asked(const struct shm *s)
{
	/* xenshmd's word only: any value just means "let go, soon". */
	return s && s->ctrl ? __atomic_load_n(&s->ctrl->be_release, __ATOMIC_ACQUIRE) : 0;
}

int shm_next_event(struct shm *s, struct shm_event *ev)
{
	int rc;

	if (!s || !ev)
		return -EINVAL;
	rc = shm_service(s);
	if (rc && rc != -ECONNRESET)
		return rc;
	uint32_t release_ms = shm_release_asked(s);
	if (!release_ms)
		s->release_handed = false; /* withdrawn (the save gave up): a later one is news again */
	if (release_ms && !s->release_handed) {
		s->release_handed = true;
		memset(ev, 0, sizeof(*ev));
		ev->type = SHM_EV_RELEASE;
		ev->deadline_ms = release_ms;
		return 1;
	}
	if (s->notice.queued) {
		s->notice.queued = false;
		s->notice.handed = true;
		s->notice.pages_then = s->pages;
		memset(ev, 0, sizeof(*ev));
		ev->type = SHM_EV_RECLAIM;
		ev->id = s->notice.id;
		ev->bytes = (size_t)s->notice.pages * XO_PAGE_SIZE;
		ev->deadline_ms = s->notice.deadline_ms;
		return 1;
	}
	return rc;
}

int shm_reclaim_done(struct shm *s, uint32_t id)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_RECLAIM_ACK } };
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	bool n;
	ssize_t len;
	int rc;

	if (!s)
		return -EINVAL;
	if (!s->rings)
		return -ENOTCONN;
	if (!s->notice.handed || s->notice.id != id)
		return -ENOENT;
	req.hdr.id = ++s->next_id;
	req.u.reclaim_ack.notice_id = id;
	req.u.reclaim_ack.pages_released =
		(uint32_t)(s->notice.pages_then > s->pages ? s->notice.pages_then - s->pages : 0);
	len = xshm_ctrl_encode(&req, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	rc = xshm_ring_send(&s->tx, buf, (size_t)len, &n);
	if (rc)
		return rc == -EAGAIN ? -ENOBUFS : rc;
	s->x->ops->evtchn_notify(s->x, s->port);
	s->notice.handed = false;
	return 0;
}

int shm_stats(struct shm *s, struct shm_stats *out)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_STATS } }, rsp;
	int rc;

	if (!s || !out)
		return -EINVAL;
	rc = rpc(s, &req, &rsp);
	if (!rc)
		rc = rsp.u.rsp_stats.status;
	if (!rc) {
		out->segments = rsp.u.rsp_stats.segments;
		out->pages_granted = rsp.u.rsp_stats.pages_granted;
		out->pages_quota = rsp.u.rsp_stats.pages_quota;
		out->host_pages_free = rsp.u.rsp_stats.host_pages_free;
	}
	return rc;
}

int shm_peer_domid(struct shm *s, const char *peer_name, unsigned int *domid)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_PEER_LOOKUP } }, rsp;
	int rc;

	if (!s || !domid || !xshm_ctrl_name_pack(peer_name, req.u.peer_lookup.name))
		return -EINVAL;
	if (!(s->features & XSHM_FEAT_PEER_LOOKUP))
		return -EOPNOTSUPP; /* an older xenshmd: it would cut us off for asking */
	rc = rpc(s, &req, &rsp);
	if (!rc)
		rc = rsp.u.rsp_peer_lookup.status;
	if (!rc)
		*domid = rsp.u.rsp_peer_lookup.domid;
	return rc;
}
