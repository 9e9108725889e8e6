// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm-hostile: a guest that speaks xenshm's frontend protocol and then
 * breaks it, for the lab's hostile-guest test (test/lab/98-hostile.sh).
 *
 *   xenshm-hostile garbage-msg      a well-framed control message of nonsense
 *   xenshm-hostile ring-index       the request ring's producer index thrown 2^40 ahead
 *   xenshm-hostile oversize         a frame header promising 1 MiB in a 1 KiB ring
 *   xenshm-hostile no-read          requests sent, responses never read
 *   xenshm-hostile version          the frontend version rewritten to garbage mid-handshake
 *   xenshm-hostile quota            one-page segments asked for until refused, then one huge
 *   xenshm-hostile unmap-early      a segment unmapped and freed twice, then exit without closing
 *   xenshm-hostile flap N           N frontend state writes, every XenBus state, no waiting
 *   xenshm-hostile churn N          N listen+close pairs on one connection
 *   xenshm-hostile flood SECONDS    the event channel kicked as fast as the guest can
 *   xenshm-hostile chan-index DOMID a MemPipe channel to DOMID's "bench" listener, then its
 *                                   tx ring's producer index thrown 2^40 ahead
 *   xenshm-hostile chan-oversize    a message channel to ourselves, a 1 MiB frame in 64 KiB
 *   xenshm-hostile isolation DOMID [REF...]
 *       the other guest's device dirs, our own backend dir and xenshmd's tunables
 *       written and read; dom0's grant refs 0..1023 and every REF (another guest's)
 *       mapped: each must be refused
 *
 * It deliberately does not use libxenshm (which would refuse to misbehave): it
 * walks the handshake itself over the project's thin Xen layer.  Each case
 * prints what it did and what came back, one "key=value" line at the end; the
 * lab decides from dom0's side (error node, xenshmd alive, neighbour intact).
 * Exit 0 when the case could be carried out as planned, 1 otherwise.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenshm/chan.h"
#include "xenshm/ctrl.h"
#include "xenshm/segdir.h"
#include "xenshm/xenbus.h"
#include "xenshm/xenops.h"
#include "xenshm/xspaths.h"

#define TIMEOUT_MS 10000

struct fe {
	struct xo *x;
	xo_domid_t me;
	char fe_state[XSP_MAX], be_state[XSP_MAX];
	struct xshm_ctrl_page *ctrl;
	xo_port_t port;
	struct xshm_ring tx, rx;
	uint32_t next_id;
};

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Waiting for Connected, a Closed backend is a refusal; otherwise it may be where we start. */
static int state_is(const char *value, int read_rc, void *arg)
{
	unsigned long long st;
	int want = *(const int *)arg;

	if (read_rc)
		return read_rc;
	if (xo_parse_uint(value, 8, &st))
		return 0;
	if (want == XB_CONNECTED && st == XB_CLOSED)
		return -ECONNREFUSED;
	return (int)st == want;
}

static int wait_backend(struct fe *f, int want)
{
	return xo_wait_node(f->x, f->be_state, TIMEOUT_MS, state_is, &want);
}

static int set_state(struct fe *f, int state)
{
	return xo_printf(f->x, XO_TXN_NONE, f->fe_state, "%d", state);
}

static int open_fe(struct fe *f, unsigned int what)
{
	int rc;

	memset(f, 0, sizeof(*f));
	rc = xo_real_open(&f->x, what);
	if (!rc)
		rc = xo_self_domid(f->x, &f->me);
	if (rc) {
		fprintf(stderr, "xenshm-hostile: Xen: %s\n", strerror(-rc));
		return rc;
	}
	xsp_fe_state(f->fe_state, sizeof(f->fe_state), f->me, 0);
	xsp_be_state(f->be_state, sizeof(f->be_state), f->me, 0);
	return 0;
}

/*
 * The handshake up to the point where the backend has published its page:
 * mapped, port bound, rings attached.  `version` is what we then write as
 * our protocol version; on success both sides are Connected.
 */
static int handshake(struct fe *f, const char *version)
{
	struct xo *x = f->x;
	char path[XSP_MAX];
	unsigned long long ref, port;
	void *page;
	int rc = set_state(f, XB_INITIALISING);

	if (!rc)
		rc = wait_backend(f, XB_INITWAIT);
	if (rc) {
		fprintf(stderr, "xenshm-hostile: backend never reached InitWait: %s\n", strerror(-rc));
		return rc;
	}
	xsp_be_ring_ref(path, sizeof(path), f->me, 0);
	rc = xo_read_uint(f->x, XO_TXN_NONE, path, UINT32_MAX, &ref);
	xsp_be_event_channel(path, sizeof(path), f->me, 0);
	if (!rc)
		rc = xo_read_uint(f->x, XO_TXN_NONE, path, 1u << 17, &port);
	if (!rc)
		rc = x->ops->evtchn_bind_interdomain(x, 0, (xo_port_t)port, &f->port);
	if (!rc)
		rc = x->ops->gnt_map_notify(x, 0, (xo_gref_t)ref, true, offsetof(struct xshm_ctrl_page, fe_live),
					    (int)f->port, &page);
	if (rc) {
		fprintf(stderr, "xenshm-hostile: map the control page: %s\n", strerror(-rc));
		return rc;
	}
	f->ctrl = page;
	if (xshm_ctrl_attach_rings(f->ctrl, true, &f->tx, &f->rx))
		return -EPROTO;
	f->ctrl->fe_live = XSHM_LIVE_UP;
	xsp_fe_version(path, sizeof(path), f->me, 0);
	rc = xo_write_str(x, XO_TXN_NONE, path, version);
	if (!rc)
		rc = set_state(f, XB_INITIALISED);
	if (!rc)
		rc = wait_backend(f, XB_CONNECTED);
	if (!rc)
		rc = set_state(f, XB_CONNECTED);
	return rc;
}

static int send_msg(struct fe *f, struct xshm_ctrl_msg *req)
{
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	bool n;

	req->hdr.id = ++f->next_id;
	ssize_t len = xshm_ctrl_encode(req, buf, sizeof(buf));
	if (len < 0)
		return (int)len;
	int rc = xshm_ring_send(&f->tx, buf, (size_t)len, &n);
	if (!rc)
		f->x->ops->evtchn_notify(f->x, f->port);
	return rc;
}

/* One request, its response (host notices in between are skipped). */
static int rpc(struct fe *f, struct xshm_ctrl_msg *req, struct xshm_ctrl_msg *rsp)
{
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	double deadline = now_s() + TIMEOUT_MS / 1e3;
	bool n;
	int rc = send_msg(f, req);

	while (!rc) {
		ssize_t got = xshm_ring_recv(&f->rx, buf, sizeof(buf), &n);
		if (got >= 0) {
			if (xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_HOST, rsp))
				return -EPROTO;
			if (rsp->hdr.id == req->hdr.id && rsp->hdr.type == (req->hdr.type | XSHM_CTRL_RESPONSE))
				return 0;
			continue;
		}
		if (got != -EAGAIN)
			return (int)got;
		if (now_s() > deadline)
			return -ETIMEDOUT;
		if (xshm_ring_prepare_wait(&f->rx, 0)) {
			struct pollfd p = { .fd = f->x->ops->evtchn_fd(f->x), .events = POLLIN };
			xo_port_t port;
			if (poll(&p, 1, 100) > 0)
				while (f->x->ops->evtchn_pending(f->x, &port) == 0)
					f->x->ops->evtchn_unmask(f->x, port);
		}
	}
	return rc;
}

/* Wait for xenshmd to close the device on us; print its error node. */
static int expect_cut_off(struct fe *f, const char *what)
{
	char path[XSP_MAX], *err = NULL;
	int rc = wait_backend(f, XB_CLOSED);

	if (xsp_be_error(path, sizeof(path), f->me, 0) == 0)
		xo_read_str(f->x, XO_TXN_NONE, path, &err);
	printf("%s: backend %s; error node: %s\n", what, rc ? "still open" : "closed", err ? err : "(unreadable)");
	free(err);
	return rc;
}

static void kick(struct fe *f)
{
	f->x->ops->evtchn_notify(f->x, f->port);
}

static int case_garbage_msg(struct fe *f)
{
	static const uint8_t nonsense[24] = { 0x77, 0x77, 9, 9, 1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff };
	bool n;
	int rc = xshm_ring_send(&f->tx, nonsense, sizeof(nonsense), &n);

	if (rc)
		return rc;
	kick(f);
	return expect_cut_off(f, "garbage-msg");
}

static int case_ring_index(struct fe *f)
{
	__atomic_store_n(&f->ctrl->req.prod, f->ctrl->req.prod + (1ull << 40), __ATOMIC_RELEASE);
	kick(f);
	return expect_cut_off(f, "ring-index");
}

static int case_oversize(struct fe *f)
{
	/* A frame header at the producer's position, as xshm_ring lays frames out. */
	struct { uint32_t len; uint16_t magic, reserved; } hdr = { 1u << 20, XSHM_RING_FRAME_MAGIC, 0 };
	uint64_t prod = f->ctrl->req.prod;
	size_t ring = sizeof(f->ctrl->req_data);

	memcpy(&f->ctrl->req_data[prod % ring], &hdr, sizeof(hdr));
	__atomic_store_n(&f->ctrl->req.prod, prod + ring, __ATOMIC_RELEASE);
	kick(f);
	return expect_cut_off(f, "oversize");
}

static int case_no_read(struct fe *f)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_STATS } };
	unsigned int sent = 0;

	for (int i = 0; i < 1000; i++) {
		if (send_msg(f, &req))
			break;
		sent++;
	}
	printf("no-read: %u stats requests queued, no response read\n", sent);
	for (int round = 0; round < 200 && __atomic_load_n(&f->ctrl->rsp.prod, __ATOMIC_ACQUIRE) ==
	     __atomic_load_n(&f->ctrl->rsp.cons, __ATOMIC_ACQUIRE); round++)
		poll(NULL, 0, 10);
	/* Keep asking (each as the ring frees) until xenshmd gives up on us. */
	for (int i = 0; i < 1000; i++)
		if (send_msg(f, &req))
			break;
	return expect_cut_off(f, "no-read");
}

static int case_quota(struct fe *f)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_SEG_ALLOC } }, rsp;
	unsigned int granted = 0;
	int rc, status = 0;

	req.u.seg_alloc.purpose = XSHM_SEG_SHM;
	req.u.seg_alloc.pages = 64;
	while (!(rc = rpc(f, &req, &rsp)) && !(status = rsp.u.rsp_seg_alloc.status))
		granted++;
	if (rc) {
		fprintf(stderr, "quota: rpc: %s\n", strerror(-rc));
		return rc;
	}
	printf("quota: %u segments of 256 KiB granted, then refused: %s\n", granted, strerror(-status));
	req.u.seg_alloc.pages = XSHM_SEG_PAGES_MAX;
	rc = rpc(f, &req, &rsp);
	if (rc)
		return rc;
	int huge = rsp.u.rsp_seg_alloc.status;
	printf("quota: 1 GiB segment: %s\n", huge ? strerror(-huge) : "GRANTED");
	req = (struct xshm_ctrl_msg){ .hdr = { .type = XSHM_CTRL_STATS } };
	rc = rpc(f, &req, &rsp);
	printf("quota: still connected: %s; pages_granted=%llu quota=%llu\n", rc ? strerror(-rc) : "yes",
	       (unsigned long long)rsp.u.rsp_stats.pages_granted, (unsigned long long)rsp.u.rsp_stats.pages_quota);
	printf("result granted=%u refusal=%d huge=%d connected=%d\n", granted, -status, -huge, !rc);
	return rc || !status || !huge ? 1 : 0;
}

/*
 * Map a segment xenshmd granted: its directory page (left mapped, in *dirpage) and its `pages`
 * data pages, writable (refs: room for `pages`).  A negative errno if any step fails.
 */
static int map_segment(struct fe *f, xo_gref_t dref, uint32_t pages, xo_gref_t *refs, void **dirpage,
		       void **data)
{
	struct xshm_segdir_page dir;
	int rc = f->x->ops->gnt_map(f->x, 0, 1, &dref, false, dirpage);

	if (rc)
		return rc;
	memcpy(&dir, *dirpage, sizeof(dir));
	if (xshm_segdir_parse(&dir, 0, pages, refs) < 0)
		return -EPROTO;
	return f->x->ops->gnt_map(f->x, 0, pages, refs, true, data);
}

static int case_unmap_early(struct fe *f)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_SEG_ALLOC } }, rsp;
	xo_gref_t refs[16];
	void *dirpage = NULL, *data = NULL;
	int rc;

	req.u.seg_alloc.purpose = XSHM_SEG_SHM;
	req.u.seg_alloc.pages = 16;
	rc = rpc(f, &req, &rsp);
	if (!rc)
		rc = rsp.u.rsp_seg_alloc.status;
	uint32_t seg = rsp.u.rsp_seg_alloc.seg_id;
	if (!rc)
		rc = map_segment(f, rsp.u.rsp_seg_alloc.dir_gref, 16, refs, &dirpage, &data);
	if (rc) {
		fprintf(stderr, "unmap-early: segment: %s\n", strerror(-rc));
		return 1;
	}
	memset(data, 0xa5, 16 * XO_PAGE_SIZE);
	/* Unmap behind xenshmd's back, then free the segment twice. */
	f->x->ops->gnt_unmap(f->x, data, 16);
	f->x->ops->gnt_unmap(f->x, dirpage, 1);
	req = (struct xshm_ctrl_msg){ .hdr = { .type = XSHM_CTRL_SEG_FREE } };
	req.u.seg_free.seg_id = seg;
	int first = rpc(f, &req, &rsp) ?: rsp.u.rsp_status.status;
	int second = rpc(f, &req, &rsp) ?: rsp.u.rsp_status.status;
	printf("unmap-early: seg-free after our unmap: %s; again: %s\n", first ? strerror(-first) : "ok",
	       second ? strerror(-second) : "ok");
	/* Another segment held and the process ends without closing: the kernel's unmap-notify
	 * is xenshmd's only news. */
	req = (struct xshm_ctrl_msg){ .hdr = { .type = XSHM_CTRL_SEG_ALLOC } };
	req.u.seg_alloc.purpose = XSHM_SEG_SHM;
	req.u.seg_alloc.pages = 16;
	rc = rpc(f, &req, &rsp) ?: rsp.u.rsp_seg_alloc.status;
	printf("result first_free=%d second_free=%d held_at_exit=%d\n", -first, -second, rc ? 0 : 16);
	return first || second != -ENOENT || rc;
}

/* Fixed 16-page rings: one directory page, small enough to map whole. */
#define CHAN_RING_PAGES 16

/* Connect a channel (fixed rings) and map our tx ring segment: its header page, then the ring. */
static int open_chan(struct fe *f, xo_domid_t peer, const char *name, uint32_t flags,
		     struct xshm_chan_page **out, uint32_t *chan_id)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp = { 0 };
	xo_gref_t refs[CHAN_RING_PAGES + 1];
	void *dirpage = NULL, *seg = NULL;
	int rc;

	xshm_ctrl_name_pack(name, req.u.chan_open.name);
	req.u.chan_open.peer_domid = peer;
	req.u.chan_open.flags = flags;
	req.u.chan_open.ring_pages = CHAN_RING_PAGES;
	rc = rpc(f, &req, &rsp) ?: rsp.u.rsp_chan_open.status;
	const struct xshm_ctrl_chan_info *ci = &rsp.u.rsp_chan_open.chan;
	uint32_t pages = ci->tx_pages + 1;
	if (!rc && pages != CHAN_RING_PAGES + 1)
		rc = -EPROTO;
	if (!rc)
		rc = map_segment(f, ci->tx_dir_gref, pages, refs, &dirpage, &seg);
	if (rc) {
		fprintf(stderr, "channel %s to domain %u: %s\n", name, peer, strerror(-rc));
		return rc;
	}
	*out = seg;
	*chan_id = ci->chan_id;
	return 0;
}

static int case_chan_index(struct fe *f, xo_domid_t peer)
{
	struct xshm_chan_page *hdr;
	uint32_t id;

	if (open_chan(f, peer, "bench", 0, &hdr, &id))
		return 1;
	printf("chan-index: channel %u to domain %u, tx ring of %u KiB mapped\n", id, peer, CHAN_RING_PAGES * 4u);
	__atomic_store_n(&hdr->ring.prod, hdr->ring.prod + (1ull << 40), __ATOMIC_RELEASE);
	kick(f);
	return expect_cut_off(f, "chan-index");
}

/* A message-mode channel to ourselves whose next frame promises 1 MiB, in a 64 KiB ring. */
static int case_chan_oversize(struct fe *f)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp = { 0 };
	struct { uint32_t len; uint16_t magic, reserved; } frame = { 1u << 20, XSHM_RING_FRAME_MAGIC, 0 };
	struct xshm_chan_page *hdr;
	uint32_t id;

	xshm_ctrl_name_pack("self", req.u.chan_open.name);
	req.u.chan_open.flags = XSHM_CHAN_LISTEN | XSHM_CHAN_MESSAGE;
	int rc = rpc(f, &req, &rsp) ?: rsp.u.rsp_chan_open.status;
	if (rc || open_chan(f, f->me, "self", XSHM_CHAN_MESSAGE, &hdr, &id)) {
		fprintf(stderr, "chan-oversize: listen: %s\n", strerror(-rc));
		return 1;
	}
	uint64_t prod = hdr->ring.prod, ring = (uint64_t)CHAN_RING_PAGES * XO_PAGE_SIZE;
	memcpy((uint8_t *)hdr + XO_PAGE_SIZE + prod % ring, &frame, sizeof(frame));
	printf("chan-oversize: channel %u to ourselves, a 1 MiB frame header in a %llu KiB ring\n", id,
	       (unsigned long long)ring / 1024);
	__atomic_store_n(&hdr->ring.prod, prod + ring, __ATOMIC_RELEASE);
	kick(f);
	return expect_cut_off(f, "chan-oversize");
}

static const char *const flap_states[] = { "1", "3", "4", "2", "5", "6", "7", "8", "0", "1", "4", "6" };

static int case_flap(struct fe *f, unsigned long long n)
{
	double t0 = now_s();
	unsigned long long i, refused = 0;

	for (i = 0; i < n; i++)
		if (xo_write_str(f->x, XO_TXN_NONE, f->fe_state, flap_states[i % 12]))
			refused++;
	/* End as a frontend that closed: the next session starts clean. */
	set_state(f, XB_CLOSED);
	printf("flap: %llu state writes in %.1f s (%llu refused)\n", n, now_s() - t0, refused);
	printf("result writes=%llu\n", n - refused);
	return refused == n;
}

static int case_churn(struct fe *f, unsigned long long n)
{
	struct xshm_ctrl_msg req, rsp;
	double t0 = now_s();
	unsigned long long i;
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		req = (struct xshm_ctrl_msg){ .hdr = { .type = XSHM_CTRL_CHAN_OPEN } };
		snprintf(req.u.chan_open.name, sizeof(req.u.chan_open.name), "churn-%llu", i % 7);
		req.u.chan_open.flags = XSHM_CHAN_LISTEN;
		rc = rpc(f, &req, &rsp) ?: rsp.u.rsp_chan_open.status;
		if (rc)
			break;
		uint32_t id = rsp.u.rsp_chan_open.chan.chan_id;
		req = (struct xshm_ctrl_msg){ .hdr = { .type = XSHM_CTRL_CHAN_CLOSE } };
		req.u.chan_close.chan_id = id;
		rc = rpc(f, &req, &rsp) ?: rsp.u.rsp_status.status;
	}
	double s = now_s() - t0;
	printf("churn: %llu listen+close pairs in %.1f s (%.0f/s)%s%s\n", i, s, s > 0 ? (double)i / s : 0.0,
	       rc ? ": " : "", rc ? strerror(-rc) : "");
	printf("result pairs=%llu\n", i);
	return rc ? 1 : 0;
}

static int case_flood(struct fe *f, unsigned long long seconds)
{
	double t0 = now_s(), end = t0 + (double)seconds;
	unsigned long long kicks = 0, failed = 0;

	while (now_s() < end) {
		for (int i = 0; i < 256; i++) {
			if (f->x->ops->evtchn_notify(f->x, f->port))
				failed++;
			kicks++;
		}
	}
	double s = now_s() - t0;
	printf("flood: %llu kicks in %.1f s (%.0f/s, %llu failed)\n", kicks, s, (double)kicks / s, failed);
	/* Still served afterwards? */
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_STATS } }, rsp;
	int rc = rpc(f, &req, &rsp);
	printf("result kicks=%llu per_s=%.0f served_after=%d\n", kicks, (double)kicks / s, !rc);
	return rc ? 1 : 0;
}

/* Each attempt must be refused; returns how many were not. */
static int isolation_xs(struct fe *f, xo_domid_t other)
{
	struct { const char *what; char path[XSP_MAX]; bool write; } t[8];
	unsigned int n = 0;
	int allowed = 0;

	t[n].what = "other guest's frontend state (write)";
	xsp_fe_state(t[n].path, XSP_MAX, other, 0), t[n++].write = true;
	t[n].what = "other guest's frontend state (read)";
	xsp_fe_state(t[n].path, XSP_MAX, other, 0), t[n++].write = false;
	t[n].what = "other guest's backend ring-ref (read)";
	xsp_be_ring_ref(t[n].path, XSP_MAX, other, 0), t[n++].write = false;
	t[n].what = "own backend state (write)";
	xsp_be_state(t[n].path, XSP_MAX, f->me, 0), t[n++].write = true;
	t[n].what = "own quota-kb (write)";
	xsp_be_quota_kb(t[n].path, XSP_MAX, f->me, 0), t[n++].write = true;
	t[n].what = "host budget-kb (write)";
	snprintf(t[n].path, XSP_MAX, "/tool/xenshm/budget-kb"), t[n++].write = true;
	t[n].what = "host used-kb (write)";
	snprintf(t[n].path, XSP_MAX, "/tool/xenshm/used-kb"), t[n++].write = true;
	t[n].what = "other guest's error node (read)";
	xsp_be_error(t[n].path, XSP_MAX, other, 0), t[n++].write = false;
	for (unsigned int i = 0; i < n; i++) {
		char *v = NULL;
		int rc = t[i].write ? xo_write_str(f->x, XO_TXN_NONE, t[i].path, "999999")
				    : xo_read_str(f->x, XO_TXN_NONE, t[i].path, &v);
		free(v);
		/* ENOENT on a read of a node that does not exist yet is no leak either. */
		bool refused = rc == -EACCES || (!t[i].write && rc == -ENOENT);
		printf("isolation: %s %s: %s\n", t[i].what, t[i].path, rc ? strerror(-rc) : "ALLOWED");
		allowed += !refused;
	}
	return allowed;
}

static int case_isolation(struct fe *f, xo_domid_t other, char **refs, int nrefs)
{
	int xs_allowed = isolation_xs(f, other), mapped = 0, tried = 0;
	void *p;

	for (xo_gref_t r = 0; r < 1024; r++, tried++) {
		if (f->x->ops->gnt_map(f->x, 0, 1, &r, false, &p) == 0) {
			printf("isolation: dom0 grant %u MAPPED\n", r);
			f->x->ops->gnt_unmap(f->x, p, 1);
			mapped++;
		}
	}
	for (int i = 0; i < nrefs; i++, tried++) {
		unsigned long long r;
		if (xo_parse_uint(refs[i], UINT32_MAX, &r))
			continue;
		xo_gref_t g = (xo_gref_t)r;
		int rc = f->x->ops->gnt_map(f->x, 0, 1, &g, false, &p);
		printf("isolation: the other guest's grant %u: %s\n", g, rc ? strerror(-rc) : "MAPPED");
		if (!rc) {
			f->x->ops->gnt_unmap(f->x, p, 1);
			mapped++;
		}
	}
	printf("result xs_allowed=%d grants_tried=%d grants_mapped=%d\n", xs_allowed, tried, mapped);
	return xs_allowed || mapped;
}

static int usage(void)
{
	fprintf(stderr, "usage: xenshm-hostile garbage-msg|ring-index|oversize|no-read|version|quota|unmap-early\n"
			"       xenshm-hostile flap N | churn N | flood SECONDS | isolation DOMID [REF...]\n"
			"       xenshm-hostile chan-index DOMID | chan-oversize\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct { const char *name; int (*run)(struct fe *); } cut_off[] = {
		{ "garbage-msg", case_garbage_msg }, { "ring-index", case_ring_index },
		{ "oversize", case_oversize },       { "no-read", case_no_read },
		{ "quota", case_quota },             { "unmap-early", case_unmap_early },
		{ "chan-oversize", case_chan_oversize },
	};
	unsigned long long n = 0;
	struct fe f;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return usage();
	const char *c = argv[1];
	bool counted = !strcmp(c, "flap") || !strcmp(c, "churn") || !strcmp(c, "flood");
	if (counted && (argc != 3 || xo_parse_uint(argv[2], 10000000, &n)))
		return usage();
	if (!strcmp(c, "isolation")) {
		xo_domid_t other;
		if (argc < 3 || xo_parse_domid(argv[2], &other))
			return usage();
		if (open_fe(&f, XO_OPEN_XS | XO_OPEN_GNTTAB))
			return 1;
		rc = case_isolation(&f, other, argv + 3, argc - 3);
		xo_close(f.x);
		return rc ? 1 : 0;
	}
	if (open_fe(&f, XO_OPEN_XS | XO_OPEN_GNTTAB | XO_OPEN_EVTCHN))
		return 1;
	if (!strcmp(c, "flap")) {
		rc = case_flap(&f, n);
		xo_close(f.x);
		return rc;
	}
	if (!strcmp(c, "version")) {
		/* Everything right but the version: xenshmd must refuse to connect. */
		rc = handshake(&f, "1 ; banana");
		printf("version: handshake %s\n", rc ? strerror(-rc) : "COMPLETED");
		rc = expect_cut_off(&f, "version");
		xo_close(f.x);
		return rc ? 1 : 0;
	}
	rc = handshake(&f, "1");
	if (rc) {
		fprintf(stderr, "xenshm-hostile: handshake: %s\n", strerror(-rc));
		xo_close(f.x);
		return 1;
	}
	if (!strcmp(c, "chan-index")) {
		xo_domid_t peer;
		rc = argc == 3 && !xo_parse_domid(argv[2], &peer) ? case_chan_index(&f, peer) : -1;
		if (rc == -1) {
			xo_close(f.x);
			return usage();
		}
	} else if (!strcmp(c, "churn"))
		rc = case_churn(&f, n);
	else if (!strcmp(c, "flood"))
		rc = case_flood(&f, n);
	else {
		rc = -1;
		for (size_t i = 0; i < sizeof(cut_off) / sizeof(cut_off[0]); i++)
			if (!strcmp(c, cut_off[i].name))
				rc = cut_off[i].run(&f);
		if (rc == -1) {
			xo_close(f.x);
			return usage();
		}
	}
	/* No goodbye: exiting is the unmap-notify a crashing guest process would give. */
	xo_close(f.x);
	return rc ? 1 : 0;
}
