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
#include "xenshm/xenops.h"
#include "xenshm/xspaths.h"
#include "shm_private.h"

enum { XB_INITIALISING = 1, XB_INITWAIT, XB_INITIALISED, XB_CONNECTED, XB_CLOSING, XB_CLOSED };

struct shm {
	struct xo *x;
	bool own_x;
	int timeout_ms;
	xo_domid_t me;
	char fe_state[XSP_MAX], be_state[XSP_MAX];
	struct xshm_ctrl_page *ctrl;
	xo_port_t port;
	bool port_bound, rings;
	struct xshm_ring tx, rx;
	uint32_t next_id;
	uint32_t notices;
	uint8_t *data;
	uint32_t pages, seg_id;
	void **dirs;          /* directory page mappings, kept until the segment goes */
	uint32_t ndirs;
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

static int read_uint(struct shm *s, const char *path, unsigned long long max, unsigned long long *out)
{
	char *untrusted = NULL;
	int rc = xo_read_str(s->x, XO_TXN_NONE, path, &untrusted);

	if (!rc)
		rc = xo_parse_uint(untrusted, max, out);
	free(untrusted);
	return rc;
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

/* One request, one response; host notices that arrive meanwhile are counted. */
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
			if (rsp->hdr.type == XSHM_CTRL_RECLAIM) {
				s->notices++;
				continue;
			}
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
		if (poll(&pfd, 1, (int)left) > 0) {
			xo_port_t p;
			while (x->ops->evtchn_pending(x, &p) == 0)
				x->ops->evtchn_unmask(x, p);
		}
	}
}

static int set_fe_state(struct shm *s, int state)
{
	return xo_printf(s->x, XO_TXN_NONE, s->fe_state, "%d", state);
}

static int connect_device(struct shm *s)
{
	struct xo *x = s->x;
	char path[XSP_MAX];
	unsigned long long be = 0, fe = 0, ref, port, version;
	struct timespec deadline;
	void *page;
	int rc;

	deadline_in(&deadline, s->timeout_ms);
	rc = xo_self_domid(x, &s->me);
	if (rc)
		return rc;
	xsp_fe_state(s->fe_state, sizeof(s->fe_state), s->me, 0);
	xsp_be_state(s->be_state, sizeof(s->be_state), s->me, 0);
	rc = read_uint(s, s->be_state, 8, &be);
	if (rc == -ENOENT || rc == -EACCES)
		return -ENODEV;
	read_uint(s, s->fe_state, 8, &fe);
	/* A live session holds the device: the backend is connected to it, or about to be. */
	if (be == XB_CONNECTED || (be == XB_INITWAIT && fe == XB_INITIALISED))
		return -EBUSY;
	rc = set_fe_state(s, XB_INITIALISING);
	if (!rc)
		rc = wait_backend(s, XB_INITWAIT, &deadline);
	if (rc)
		return rc;
	/* The backend dir is dom0's: still, parse every value strictly. */
	if (xsp_be_ring_ref(path, sizeof(path), s->me, 0) || read_uint(s, path, UINT32_MAX, &ref) ||
	    xsp_be_event_channel(path, sizeof(path), s->me, 0) || read_uint(s, path, 1u << 17, &port) ||
	    xsp_be_version(path, sizeof(path), s->me, 0) || read_uint(s, path, 65535, &version))
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
	rc = xsp_fe_version(path, sizeof(path), s->me, 0);
	if (!rc)
		rc = xo_printf(x, XO_TXN_NONE, path, "%d", XSHM_CTRL_VERSION);
	if (!rc)
		rc = set_fe_state(s, XB_INITIALISED);
	if (!rc)
		rc = wait_backend(s, XB_CONNECTED, &deadline);
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
static int map_segment(struct shm *s, xo_gref_t dir_ref, uint32_t pages)
{
	struct xo *x = s->x;
	struct xshm_segdir_page *copy = malloc(sizeof(*copy));
	xo_gref_t *refs = calloc(pages, sizeof(*refs));
	uint32_t ndir = xshm_segdir_pages(pages);
	int64_t next = dir_ref;
	int rc = (!copy || !refs) ? -ENOMEM : 0;

	s->dirs = calloc(ndir, sizeof(*s->dirs));
	if (!s->dirs)
		rc = -ENOMEM;
	for (uint32_t i = 0; !rc && i < ndir; i++) {
		xo_gref_t r = (xo_gref_t)next;
		rc = x->ops->gnt_map(x, 0, 1, &r, false, &s->dirs[i]);
		if (rc)
			break;
		s->ndirs++;
		memcpy(copy, s->dirs[i], sizeof(*copy));
		next = xshm_segdir_parse(copy, i, pages, refs);
		if (next < 0)
			rc = -EPROTO;
	}
	if (!rc)
		rc = x->ops->gnt_map(x, 0, pages, refs, true, (void **)&s->data);
	if (!rc)
		s->pages = pages;
	free(copy);
	free(refs);
	return rc;
}

static void disconnect(struct shm *s)
{
	struct xo *x = s->x;

	if (s->data) {
		x->ops->gnt_unmap(x, s->data, s->pages);
		s->data = NULL;
		if (s->rings) {
			struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_SEG_FREE } }, rsp;
			req.u.seg_free.seg_id = s->seg_id;
			rpc(s, &req, &rsp); /* if xenshmd is gone it reclaims on its own */
		}
	}
	for (uint32_t i = 0; i < s->ndirs; i++)
		x->ops->gnt_unmap(x, s->dirs[i], 1);
	free(s->dirs);
	s->dirs = NULL;
	s->ndirs = 0;
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
}

static void shm_free(struct shm *s)
{
	disconnect(s);
	if (s->own_x)
		xo_close(s->x);
	free(s);
}

struct shm *shm_open_xo(struct xo *x, size_t size, const struct shm_opts *opts)
{
	struct shm *s;
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_HELLO } }, rsp;
	size_t pages = (size + XO_PAGE_SIZE - 1) / XO_PAGE_SIZE;
	int rc;

	if (!size || pages > XSHM_SEG_PAGES_MAX) {
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
	rc = connect_device(s);
	if (!rc)
		rc = rpc(s, &req, &rsp);
	if (!rc) {
		memset(&req, 0, sizeof(req));
		req.hdr.type = XSHM_CTRL_SEG_ALLOC;
		req.u.seg_alloc.pages = (uint32_t)pages;
		req.u.seg_alloc.purpose = XSHM_SEG_SHM;
		rc = rpc(s, &req, &rsp);
	}
	if (!rc)
		rc = rsp.u.rsp_seg_alloc.status;
	if (!rc && rsp.u.rsp_seg_alloc.pages != pages)
		rc = -EPROTO;
	if (!rc) {
		s->seg_id = rsp.u.rsp_seg_alloc.seg_id;
		rc = map_segment(s, rsp.u.rsp_seg_alloc.dir_gref, (uint32_t)pages);
	}
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

/* Is [offset, offset+len) inside the memory?  Written so that no sum can overflow. */
static bool in_bounds(const struct shm *s, size_t offset, size_t len)
{
	size_t size = (size_t)s->pages * XO_PAGE_SIZE;

	return s->data && offset <= size && len <= size - offset;
}

size_t shm_put(struct shm *s, const void *buf, size_t offset, size_t len)
{
	if (!s || !buf || !in_bounds(s, offset, len))
		return 0;
	memcpy(s->data + offset, buf, len);
	return len;
}

size_t shm_get(struct shm *s, void *buf, size_t offset, size_t len)
{
	if (!s || !buf || !in_bounds(s, offset, len))
		return 0;
	memcpy(buf, s->data + offset, len);
	return len;
}

size_t shm_size(const struct shm *s)
{
	return s ? (size_t)s->pages * XO_PAGE_SIZE : 0;
}

void *shm_addr(struct shm *s)
{
	return s ? s->data : NULL;
}

int shm_stats(struct shm *s, struct shm_stats *out)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_STATS } }, rsp;
	int rc = rpc(s, &req, &rsp);

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
