// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshmd and libxenshm together on the fake Xen: the daemon's poll loop
 * runs in its own thread with dom0's handle; guests call libxenshm (or a
 * hand-driven, misbehaving frontend) from the test thread.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dom0/daemon.h"
#include "../../dom0/devdirs.h"
#include "xenshm/ctrl.h"
#include "xenshm/shm.h"
#include "xenshm/xenops_fake.h"
#include "xenshm/xspaths.h"
#include "tests.h"

#include "daemon_env.h"

START_TEST(alloc_put_get_exit)
{
	struct host h;
	struct shm_stats st;
	uint8_t in[5000], out[5000];

	host_init(&h, true);
	unsigned int base = dom0_grants(&h);
	struct shm *s = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_msg(s != NULL, "shm_open_xo: %s", strerror(errno));
	ck_assert_uint_eq(shm_size(s), 1 << 20);
	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + 7);
	ck_assert_uint_eq(shm_put(s, in, (1 << 20) - sizeof(in), sizeof(in)), sizeof(in));
	ck_assert_uint_eq(shm_get(s, out, (1 << 20) - sizeof(in), sizeof(out)), sizeof(out));
	ck_assert_mem_eq(in, out, sizeof(in));
	/* Out of bounds, including a sum that would overflow: nothing copied. */
	ck_assert_uint_eq(shm_put(s, in, (1 << 20) - 10, 11), 0);
	ck_assert_uint_eq(shm_get(s, out, SIZE_MAX - 5, 10), 0);
	ck_assert_uint_eq(shm_put(s, in, (1 << 20) + 1, 0), 0);
	/* The memory is dom0's: its view of the data pages holds what we wrote. */
	ck_assert_int_eq(shm_stats(s, &st), 0);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.pages_granted, 256 + 1); /* data + one directory page */
	ck_assert_uint_eq(st.pages_quota, 1024);      /* quota-kb 4096 */
	ck_assert_uint_eq(st.host_pages_free, 4096 - 257);
	ck_assert_uint_eq(dom0_grants(&h), base + 257); /* the segment; the control page was there */
	char *seg = NULL, path[XSP_MAX];
	xsp_be_segment(path, sizeof(path), h.g1, 0, 1);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &seg), 0);
	ck_assert_str_eq(strtok(seg, " "), "256");
	free(seg);
	shm_exit(s);
	/* shm_exit returns once xenshmd has closed: segment and control page are back. */
	ck_assert_uint_eq(dom0_grants(&h), base - 1);
	char *st_after = read_be(&h, h.g1, xsp_be_state);
	ck_assert_str_eq(st_after, "6");
	free(st_after);
	host_fini(&h);
}
END_TEST

START_TEST(reconnect_after_exit)
{
	struct host h;

	host_init(&h, true);
	for (int i = 0; i < 3; i++) {
		struct shm *s = shm_open_xo(h.x1, 8192, &fast);
		ck_assert_msg(s != NULL, "round %d: %s", i, strerror(errno));
		ck_assert_uint_eq(shm_put(s, "x", 0, 1), 1);
		shm_exit(s);
	}
	host_fini(&h);
}
END_TEST

START_TEST(quota_and_budget_refusals)
{
	struct host h;
	char path[XSP_MAX];

	host_init(&h, true);
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "64"), 0);
	usleep(100000);
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x1, 1 << 20, &fast));
	ck_assert_int_eq(errno, EDQUOT);
	struct shm *s = shm_open_xo(h.x1, 32 << 10, &fast); /* 8 pages + 1 directory: fits 16 */
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	shm_exit(s);
	/* A bad value is refused and the old quota kept. */
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "banana"), 0);
	usleep(100000);
	s = shm_open_xo(h.x1, 4096, &fast);
	struct shm_stats st;
	ck_assert_int_eq(shm_stats(s, &st), 0);
	ck_assert_uint_eq(st.pages_quota, 16);
	shm_exit(s);
	/* The host budget, changed live. */
	xsp_tool_budget_kb(path, sizeof(path));
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "40"), 0);
	usleep(100000);
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x2, 64 << 10, &fast));
	ck_assert_int_eq(errno, ENOSPC);
	host_fini(&h);
}
END_TEST

START_TEST(no_device_no_daemon_busy)
{
	struct host h;
	xo_domid_t g3;
	struct xo *x3, *x1b;

	host_init(&h, false);
	ck_assert_int_eq(xo_fake_domain_create(h.w, "g3", &g3), 0);
	ck_assert_int_eq(xo_fake_open(h.w, g3, &x3), 0);
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(x3, 4096, &fast));
	ck_assert_int_eq(errno, ENODEV);
	struct shm_opts quick = { .timeout_ms = 300 };
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x1, 4096, &quick));
	ck_assert_int_eq(errno, ETIMEDOUT);
	daemon_start(&h);
	struct shm *s = shm_open_xo(h.x1, 4096, &fast);
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	/* A second process of the same guest: the device is taken. */
	ck_assert_int_eq(xo_fake_open(h.w, h.g1, &x1b), 0);
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(x1b, 4096, &fast));
	ck_assert_int_eq(errno, EBUSY);
	shm_exit(s);
	s = shm_open_xo(x1b, 4096, &fast); /* free again */
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	shm_exit(s);
	/* Size 0 connects without memory (for MemPipe); beyond a segment is refused. */
	s = shm_open_xo(h.x1, 0, &fast);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(shm_size(s), 0);
	ck_assert_ptr_null(shm_addr(s));
	ck_assert_uint_eq(shm_put(s, "x", 0, 1), 0);
	shm_exit(s);
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x1, ((size_t)XSHM_SEG_PAGES_MAX + 1) * 4096, &fast));
	ck_assert_int_eq(errno, EINVAL);
	xo_close(x1b);
	xo_close(x3);
	host_fini(&h);
}
END_TEST

struct opener {
	struct xo *x;
	pthread_barrier_t *go;
	struct shm *s;
	int err;
};

static void *open_at_once(void *arg)
{
	struct opener *o = arg;

	pthread_barrier_wait(o->go);
	o->s = shm_open_xo(o->x, 4096, &fast);
	o->err = o->s ? 0 : errno;
	return NULL;
}

static bool be_state_is(struct host *h, uint32_t devid, const char *want)
{
	char path[XSP_MAX], *v = NULL;

	for (int i = 0; i < 300; i++) {
		xsp_be_state(path, sizeof(path), h->g1, devid);
		bool ok = !xo_read_str(h->tool, XO_TXN_NONE, path, &v) && !strcmp(v, want);
		free(v);
		v = NULL;
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Two processes of one guest opening at the same moment (two proxies reopening after a
 * restore) must take a device each: both saw the states of device 0 free and shared its
 * control ring until the claim was made atomic.
 */
START_TEST(processes_opening_at_once_take_a_device_each)
{
	struct host h;
	struct xo *xa, *xb;
	pthread_barrier_t go;

	host_init(&h, true);
	ck_assert_int_eq(xshm_device_create(h.tool, h.g1, 1, 4096), 0);
	ck_assert(be_state_is(&h, 1, "2"));
	ck_assert_int_eq(xo_fake_open(h.w, h.g1, &xa), 0);
	ck_assert_int_eq(xo_fake_open(h.w, h.g1, &xb), 0);
	for (int round = 0; round < 20; round++) {
		struct opener a = { .x = xa, .go = &go }, b = { .x = xb, .go = &go };
		pthread_t ta, tb;
		pthread_barrier_init(&go, NULL, 2);
		pthread_create(&ta, NULL, open_at_once, &a);
		pthread_create(&tb, NULL, open_at_once, &b);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		pthread_barrier_destroy(&go);
		ck_assert_msg(a.s && b.s, "round %d: %s / %s", round, strerror(a.err), strerror(b.err));
		ck_assert_msg(be_state_is(&h, 0, "4") && be_state_is(&h, 1, "4"), "round %d: one device for two", round);
		/* Each session is its own: what one puts, the other does not see. */
		ck_assert_uint_eq(shm_put(a.s, "aaaa", 0, 4), 4);
		ck_assert_uint_eq(shm_put(b.s, "bbbb", 0, 4), 4);
		char got[4];
		ck_assert_uint_eq(shm_get(a.s, got, 0, 4), 4);
		ck_assert_mem_eq(got, "aaaa", 4);
		shm_exit(a.s);
		shm_exit(b.s);
	}
	xo_close(xa);
	xo_close(xb);
	host_fini(&h);
}
END_TEST

START_TEST(guest_death_returns_everything)
{
	struct host h;
	char path[XSP_MAX], *v = NULL;

	host_init(&h, true);
	unsigned int base = dom0_grants(&h);
	struct shm *s1 = shm_open_xo(h.x1, 256 << 10, &fast);
	struct shm *s2 = shm_open_xo(h.x2, 256 << 10, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	ck_assert_uint_eq(dom0_grants(&h), base + 2 * (64 + 1));
	ck_assert_int_eq(xo_fake_domain_destroy(h.w, h.g1), 0);
	/* Everything g1 held comes back (its control page too); g2 is untouched and keeps working. */
	ck_assert(wait_grants(&h, base - 1 + 64 + 1));
	xsp_be_dir(path, sizeof(path), h.g1, 0);
	ck_assert(wait_absent(&h, path));
	/* No empty per-domain dirs left behind either. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", h.g1);
	ck_assert(wait_absent(&h, path)); /* removed right after the device dir: poll, as above */
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &v), -ENOENT);
	ck_assert_uint_eq(shm_put(s2, "alive", 0, 5), 5);
	struct shm_stats st;
	ck_assert_int_eq(shm_stats(s2, &st), 0);
	shm_exit(s2);
	ck_assert_uint_eq(dom0_grants(&h), base - 2);
	shm_exit(s1); /* the dead guest's handle: must not crash or hang */
	host_fini(&h);
}
END_TEST

/* ---- a hand-driven frontend, to misbehave precisely ---- */

struct manual {
	struct xshm_ctrl_page *ctrl;
	struct xshm_ring tx, rx;
	xo_port_t port;
};

static void fe_write(struct host *h, struct xo *gx, xo_domid_t g, const char *key, const char *v)
{
	char dir[XSP_MAX], path[XSP_MAX + 16];

	(void)h;
	xsp_fe_dir(dir, sizeof(dir), g, 0);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ck_assert_int_eq(xo_write_str(gx, XO_TXN_NONE, path, v), 0);
}

static void manual_connect(struct host *h, struct xo *gx, xo_domid_t g, const char *final, struct manual *m)
{
	unsigned long long ref, port;
	char *v;

	fe_write(h, gx, g, "state", "1");
	ck_assert(wait_be_state(h, g, "2"));
	v = read_be(h, g, xsp_be_ring_ref);
	ck_assert_int_eq(xo_parse_uint(v, UINT32_MAX, &ref), 0);
	free(v);
	v = read_be(h, g, xsp_be_event_channel);
	ck_assert_int_eq(xo_parse_uint(v, 1u << 17, &port), 0);
	free(v);
	ck_assert_int_eq(gx->ops->evtchn_bind_interdomain(gx, 0, (xo_port_t)port, &m->port), 0);
	ck_assert_int_eq(gx->ops->gnt_map_notify(gx, 0, (xo_gref_t)ref, true,
						 offsetof(struct xshm_ctrl_page, fe_live), (int)m->port,
						 (void **)&m->ctrl), 0);
	ck_assert_int_eq(xshm_ctrl_attach_rings(m->ctrl, true, &m->tx, &m->rx), 0);
	m->ctrl->fe_live = XSHM_LIVE_UP;
	fe_write(h, gx, g, "version", "1");
	fe_write(h, gx, g, "state", final); /* "4" skips Initialised */
	ck_assert(wait_be_state(h, g, "4"));
}

static void manual_release(struct xo *gx, struct manual *m)
{
	xshm_ring_detach(&m->tx);
	xshm_ring_detach(&m->rx);
	gx->ops->gnt_unmap(gx, m->ctrl, 1);
	gx->ops->evtchn_unbind(gx, m->port);
}

static char *error_node(struct host *h, xo_domid_t g)
{
	char *v = NULL;

	for (int i = 0; i < 300 && !(v = read_be(h, g, xsp_be_error)); i++)
		usleep(10000);
	return v;
}

/* A fresh guest with a device, driven to `stage`, then destroyed: everything comes back. */
enum death_stage { DIE_INITWAIT, DIE_CONNECTED, DIE_WITH_SEGMENTS, DIE_RECLAIM_PENDING, DIE_CLOSED };

static void die_at(struct host *h, enum death_stage stage, unsigned int n)
{
	char name[16], path[XSP_MAX], *v = NULL;
	xo_domid_t g;
	struct xo *xg;
	struct shm *s = NULL;
	unsigned int base = dom0_grants(h);

	snprintf(name, sizeof(name), "dying%u", n);
	ck_assert_int_eq(xo_fake_domain_create(h->w, name, &g), 0);
	ck_assert_int_eq(xo_fake_open(h->w, g, &xg), 0);
	ck_assert_int_eq(xshm_device_create(h->tool, g, 0, 4096), 0);
	ck_assert(wait_be_state(h, g, "2")); /* a control page is granted already */
	if (stage != DIE_INITWAIT) {
		s = shm_open_xo(xg, stage == DIE_CONNECTED ? 4096 : 512 << 10, &fast);
		ck_assert_msg(s != NULL, "stage %d: %s", stage, strerror(errno));
	}
	if (stage == DIE_RECLAIM_PENDING) {
		xsp_be_quota_kb(path, sizeof(path), g, 0);
		ck_assert_int_eq(xo_write_str(h->tool, XO_TXN_NONE, path, "4"), 0);
		for (int i = 0; i < 300 && !(v = read_be(h, g, xsp_be_reclaim)); i++)
			usleep(10000);
		ck_assert_ptr_nonnull(v);
		free(v);
		v = NULL;
	}
	if (stage == DIE_CLOSED) {
		shm_exit(s);
		s = NULL;
		ck_assert(wait_be_state(h, g, "6"));
	}
	ck_assert_int_eq(xo_fake_domain_destroy(h->w, g), 0);
	ck_assert_msg(wait_grants(h, base), "stage %d: %u grants, want %u", stage, dom0_grants(h), base);
	xsp_be_dir(path, sizeof(path), g, 0);
	ck_assert(wait_absent(h, path));
	xsp_tool_used_kb(path, sizeof(path));
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(xo_read_str(h->tool, XO_TXN_NONE, path, &v), 0);
		bool zero = !strcmp(v, "0");
		free(v);
		v = NULL;
		if (zero)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(xo_read_str(h->tool, XO_TXN_NONE, path, &v), 0);
	ck_assert_str_eq(v, "0");
	free(v);
	shm_exit(s); /* the dead guest's handle: must not crash or hang */
	xo_close(xg);
}

START_TEST(death_in_every_state)
{
	struct host h;

	host_init(&h, true);
	for (unsigned int st = DIE_INITWAIT; st <= DIE_CLOSED; st++)
		die_at(&h, (enum death_stage)st, st);
	/* The survivors were never disturbed. */
	struct shm *s = shm_open_xo(h.x1, 8192, &fast);
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	shm_exit(s);
	host_fini(&h);
}
END_TEST

START_TEST(skipped_initialised_state)
{
	struct host h;
	struct manual m;
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_HELLO } }, rsp;
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	bool n;

	host_init(&h, true);
	manual_connect(&h, h.x1, h.g1, "4", &m);
	ssize_t len = xshm_ctrl_encode(&req, buf, sizeof(buf));
	ck_assert_int_eq(xshm_ring_send(&m.tx, buf, (size_t)len, &n), 0);
	h.x1->ops->evtchn_notify(h.x1, m.port);
	ssize_t got = -EAGAIN;
	for (int i = 0; i < 300 && got == -EAGAIN; i++) {
		got = xshm_ring_recv(&m.rx, buf, sizeof(buf), &n);
		if (got == -EAGAIN)
			usleep(10000);
	}
	ck_assert_int_gt(got, 0);
	ck_assert_int_eq(xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_HOST, &rsp), 0);
	ck_assert_uint_eq(rsp.u.rsp_hello.max_pages, 1024);
	manual_release(h.x1, &m);
	ck_assert(wait_be_state(&h, h.g1, "6")); /* unmap-notify told xenshmd */
	host_fini(&h);
}
END_TEST

START_TEST(garbage_state_disconnects_only_that_guest)
{
	struct host h;

	host_init(&h, true);
	struct shm *s2 = shm_open_xo(h.x2, 64 << 10, &fast);
	ck_assert_ptr_nonnull(s2);
	fe_write(&h, h.x1, h.g1, "state", "banana");
	char *err = error_node(&h, h.g1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "not a XenBus state") != NULL, "%s", err);
	free(err);
	/* The guest may read why it was cut off (schema: be-error is n0 r$DOMID); the other may not. */
	char path[XSP_MAX];
	xsp_be_error(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_read_str(h.x1, XO_TXN_NONE, path, &err), 0);
	free(err);
	ck_assert_int_eq(xo_read_str(h.x2, XO_TXN_NONE, path, &err), -EACCES);
	ck_assert(wait_be_state(&h, h.g1, "6"));
	ck_assert_uint_eq(shm_put(s2, "ok", 10, 2), 2);
	struct shm_stats st;
	ck_assert_int_eq(shm_stats(s2, &st), 0); /* xenshmd still serves g2 */
	shm_exit(s2);
	/* g1 starts over: once it is connected again, the error node (why it was down) goes. */
	struct shm *s1 = shm_open_xo(h.x1, 64 << 10, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &err), -ENOENT);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

START_TEST(bad_control_message_disconnects)
{
	struct host h;
	struct manual m;
	uint8_t junk[40];
	bool n;

	host_init(&h, true);
	unsigned int base = dom0_grants(&h);
	manual_connect(&h, h.x1, h.g1, "3", &m);
	memset(junk, 0xee, sizeof(junk));
	ck_assert_int_eq(xshm_ring_send(&m.tx, junk, sizeof(junk), &n), 0);
	h.x1->ops->evtchn_notify(h.x1, m.port);
	char *err = error_node(&h, h.g1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "bad control message") != NULL, "%s", err);
	free(err);
	ck_assert(wait_be_state(&h, h.g1, "6"));
	manual_release(h.x1, &m);
	ck_assert(wait_grants(&h, base - 1)); /* g1's control page and all went back */
	host_fini(&h);
}
END_TEST

START_TEST(corrupt_ring_index_disconnects)
{
	struct host h;
	struct manual m;

	host_init(&h, true);
	manual_connect(&h, h.x1, h.g1, "3", &m);
	m.ctrl->req.prod = 1u << 20; /* claims a megabyte of requests in a 1 KiB ring */
	h.x1->ops->evtchn_notify(h.x1, m.port);
	char *err = error_node(&h, h.g1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "corrupt") != NULL, "%s", err);
	free(err);
	manual_release(h.x1, &m);
	host_fini(&h);
}
END_TEST

START_TEST(daemon_restart_keeps_guest_data_and_reconnects)
{
	struct host h;
	char buf[6];

	host_init(&h, true);
	struct shm *s = shm_open_xo(h.x1, 64 << 10, &fast);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(shm_put(s, "before", 100, 6), 6);
	daemon_stop(&h); /* xenshmd exits: its grants are released, the guest still maps them */
	ck_assert_uint_eq(shm_get(s, buf, 100, 6), 6);
	ck_assert_mem_eq(buf, "before", 6);
	daemon_start(&h);
	ck_assert(wait_be_state(&h, h.g1, "6")); /* the new xenshmd asks for a reconnect */
	shm_exit(s);
	s = shm_open_xo(h.x1, 64 << 10, &fast);
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	shm_exit(s);
	host_fini(&h);
}
END_TEST

/* A domain that died while no xenshmd ran: the next one removes its dirs and error nodes. */
START_TEST(gone_domains_are_swept_at_start)
{
	struct host h;
	static const char *const left[] = {
		"/local/domain/0/backend/xenshm/77/0/state", "/local/domain/0/error/backend/xenshm/77/0/error",
		"/local/domain/0/backend/memflex/77/51712/state",
		"/local/domain/0/error/backend/memflex/77/51712/error",
	};
	char live[XSP_MAX], *v = NULL;

	host_init(&h, false);
	for (size_t i = 0; i < sizeof(left) / sizeof(left[0]); i++)
		ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, left[i], i % 2 ? "22 bad" : "4"), 0);
	/* A live guest's error node is its reason, kept. */
	xsp_be_error(live, sizeof(live), h.g1, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, live, "22 bad"), 0);
	daemon_start(&h);
	ck_assert(wait_absent(&h, "/local/domain/0/backend/xenshm/77"));
	ck_assert(wait_absent(&h, "/local/domain/0/error/backend/xenshm/77"));
	ck_assert(wait_absent(&h, "/local/domain/0/backend/memflex/77"));
	ck_assert(wait_absent(&h, "/local/domain/0/error/backend/memflex/77"));
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, live, &v), 0);
	free(v);
	host_fini(&h);
}
END_TEST

START_TEST(detach_removes_device)
{
	struct host h;
	char path[XSP_MAX], *v = NULL;

	host_init(&h, true);
	unsigned int base = dom0_grants(&h);
	struct shm *s = shm_open_xo(h.x1, 4096, &fast);
	ck_assert_ptr_nonnull(s);
	/* libxl's removal of a connected device: xenshmd answers online=0 with Closed
	 * (not a timeout) and lets go of everything; pages the guest still maps stay
	 * alive (as in gntalloc) until it unmaps them. */
	ck_assert_int_eq(xshm_device_remove(h.tool, h.g1, 0, 3000), 0);
	shm_exit(s); /* device gone: returns without waiting for a backend that no longer exists */
	ck_assert(wait_grants(&h, base - 1));
	xsp_be_dir(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &v), -ENOENT);
	xsp_fe_dir(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &v), -ENOENT);
	/* The toolstack removed the device dir; xenshmd removes the then empty domain dir. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", h.g1);
	ck_assert(wait_absent(&h, path));
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x1, 4096, &fast));
	ck_assert_int_eq(errno, ENODEV);
	host_fini(&h);
}
END_TEST

START_TEST(device_dirs_have_libxl_permissions)
{
	struct host h;
	char path[XSP_MAX];
	struct xo_perm *p;
	unsigned int n;
	char *v = NULL;

	host_init(&h, false);
	xsp_fe_dir(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(h.tool->ops->xs_get_perms(h.tool, XO_TXN_NONE, path, &p, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(p[0].domid, h.g1);
	ck_assert_uint_eq(p[1].domid, 0);
	ck_assert_uint_eq(p[1].perms, XO_PERM_READ);
	free(p);
	xsp_be_dir(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(h.tool->ops->xs_get_perms(h.tool, XO_TXN_NONE, path, &p, &n), 0);
	ck_assert_uint_eq(p[0].domid, 0);
	ck_assert_uint_eq(p[1].domid, h.g1);
	ck_assert_uint_eq(p[1].perms, XO_PERM_READ);
	free(p);
	/* The other guest sees nothing of it; the guest cannot write its quota. */
	ck_assert_int_eq(xo_read_str(h.x2, XO_TXN_NONE, path, &v), -EACCES);
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_write_str(h.x1, XO_TXN_NONE, path, "999999"), -EACCES);
	host_fini(&h);
}
END_TEST

/* Plain `xl save` of a guest holding mappings: xenshmd cannot stop it, but says what breaks. */
START_TEST(suspend_behind_our_back_is_said_loudly)
{
	struct host h;
	char want[96];

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 64 << 10, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert(wait_be_state(&h, h.g2, "2"));
	/* g2's device waits for a frontend: nothing of it is mapped, nothing to say. */
	ck_assert_int_eq(xo_fake_domain_shutdown(h.w, h.g2, XO_SHUTDOWN_SUSPEND), 0);
	ck_assert_int_eq(xo_fake_domain_shutdown(h.w, h.g1, XO_SHUTDOWN_SUSPEND), 0);
	snprintf(want, sizeof(want), "domain %u device xenshm/0: the domain is being suspended", h.g1);
	bool said = false;
	for (int i = 0; i < 200 && !(said = host_logged(want)); i++)
		usleep(10000);
	ck_assert_msg(said, "no warning for a suspend with a segment mapped");
	ck_assert(host_logged("holds the control page and 1 segment (17 pages)"));
	snprintf(want, sizeof(want), "domain %u device xenshm/0: the domain is being suspended", h.g2);
	ck_assert(!host_logged(want));
	/* A suspend is not a death: the device and its memory stay (the save may be cancelled). */
	ck_assert_int_eq(xo_fake_domain_set_flags(h.w, h.g1, 0), 0);
	struct shm_stats st;
	ck_assert_int_eq(shm_stats(s1, &st), 0);
	ck_assert_uint_eq(st.segments, 1);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

/* A guest writing its state as fast as it can: its backlog of watch events is coalesced (each
 * handler reads the current value), so another guest's handshake is not queued behind it. */
START_TEST(watch_backlog_is_coalesced)
{
	struct host h;
	struct xshmd_stats before, after;

	host_init(&h, false);
	daemon_new_unthreaded(&h);
	for (int i = 0; i < 10; i++)
		xshmd_step(h.d, NULL); /* the initial scan */
	xshmd_get_stats(h.d, &before);
	for (int i = 0; i < 200; i++)
		fe_write(&h, h.x1, h.g1, "state", i % 2 ? "6" : "1");
	fe_write(&h, h.x2, h.g2, "state", "1");
	xshmd_step(h.d, NULL);
	xshmd_get_stats(h.d, &after);
	ck_assert_uint_eq(after.watch_events - before.watch_events, 201);
	ck_assert_uint_eq(after.watch_dispatched - before.watch_dispatched, 2);
	/* g2 was served in that one step: its backend waits for it. */
	char *st = read_be(&h, h.g2, xsp_be_state);
	ck_assert_str_eq(st, "2");
	free(st);
	/* g1 ends where its last write left it (Closed), with nothing of it left granted. */
	st = read_be(&h, h.g1, xsp_be_state);
	ck_assert_str_eq(st, "6");
	free(st);
	xshmd_free(h.d);
	h.d = NULL;
	host_fini(&h);
}
END_TEST

/* A guest kicking its port with nothing to do: held to the storm window, still served. */
START_TEST(event_storm_is_held_and_still_served)
{
	struct host h;
	struct manual m;
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	bool n;

	host_init(&h, true);
	manual_connect(&h, h.x1, h.g1, "3", &m);
	/* Paced, so that xenshmd sees them as separate events (kicks while masked coalesce). */
	for (int i = 0; i < 2000; i++) {
		h.x1->ops->evtchn_notify(h.x1, m.port);
		usleep(100);
	}
	char want[96];
	snprintf(want, sizeof(want), "domain %u device xenshm/0: ", h.g1);
	bool said = false;
	for (int i = 0; i < 300 && !(said = host_logged("kicks of its event channel found no work")); i++)
		usleep(10000);
	ck_assert_msg(said, "no storm noticed");
	ck_assert(host_logged(want));
	/* A request after the storm is answered (within the window's delay). */
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_STATS, .id = 1 } }, rsp;
	ssize_t len = xshm_ctrl_encode(&req, buf, sizeof(buf));
	ck_assert_int_gt(len, 0);
	ck_assert_int_eq(xshm_ring_send(&m.tx, buf, (size_t)len, &n), 0);
	h.x1->ops->evtchn_notify(h.x1, m.port);
	ssize_t got = -EAGAIN;
	for (int i = 0; i < 300 && (got = xshm_ring_recv(&m.rx, buf, sizeof(buf), &n)) == -EAGAIN; i++)
		usleep(10000);
	ck_assert_int_gt(got, 0);
	ck_assert_int_eq(xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_HOST, &rsp), 0);
	ck_assert_uint_eq(rsp.hdr.type, XSHM_CTRL_STATS | XSHM_CTRL_RESPONSE);
	ck_assert_int_eq(rsp.u.rsp_stats.status, 0);
	manual_release(h.x1, &m);
	host_fini(&h);
}
END_TEST

Suite *xenshmd_suite(void)
{
	Suite *s = suite_create("xenshmd");
	TCase *tc = tcase_create("daemon+libxenshm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, alloc_put_get_exit);
	tcase_add_test(tc, reconnect_after_exit);
	tcase_add_test(tc, quota_and_budget_refusals);
	tcase_add_test(tc, no_device_no_daemon_busy);
	tcase_add_test(tc, processes_opening_at_once_take_a_device_each);
	tcase_add_test(tc, guest_death_returns_everything);
	tcase_add_test(tc, death_in_every_state);
	tcase_add_test(tc, skipped_initialised_state);
	tcase_add_test(tc, garbage_state_disconnects_only_that_guest);
	tcase_add_test(tc, suspend_behind_our_back_is_said_loudly);
	tcase_add_test(tc, watch_backlog_is_coalesced);
	tcase_add_test(tc, event_storm_is_held_and_still_served);
	tcase_add_test(tc, bad_control_message_disconnects);
	tcase_add_test(tc, corrupt_ring_index_disconnects);
	tcase_add_test(tc, daemon_restart_keeps_guest_data_and_reconnects);
	tcase_add_test(tc, detach_removes_device);
	tcase_add_test(tc, gone_domains_are_swept_at_start);
	tcase_add_test(tc, device_dirs_have_libxl_permissions);
	suite_add_tcase(s, tc);
	return s;
}
