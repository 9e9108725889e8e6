// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaim, rebalance and resizing, xenshmd and libxenshm together on the
 * fake Xen: notices reach the guest through its pollable fd, what the guest
 * frees is measured, ignored deadlines (on the test's clock) make a guest
 * overdue, and several processes of one guest hold a device each.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dom0/devdirs.h"
#include "xenshm/xspaths.h"
#include "daemon_env.h"
#include "tests.h"

static void tool_write(struct host *h, int (*build)(char *, size_t), const char *value)
{
	char path[XSP_MAX];

	build(path, sizeof(path));
	ck_assert_int_eq(xo_write_str(h->tool, XO_TXN_NONE, path, value), 0);
	usleep(100000); /* the daemon polls every 20 ms */
}

/* Poll (up to 3 s) until g's `reclaim` node reads `want` (NULL: absent). */
static bool wait_reclaim(struct host *h, xo_domid_t g, const char *want)
{
	for (int i = 0; i < 300; i++) {
		char *v = read_be(h, g, xsp_be_reclaim);
		bool ok = want ? v && !strcmp(v, want) : !v;
		free(v);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

/* Wait for the guest's fd, then take one event. */
static void next_reclaim(struct shm *s, struct shm_event *ev)
{
	struct pollfd pfd = { .fd = shm_fd(s), .events = POLLIN };

	ck_assert_int_ge(pfd.fd, 0);
	ck_assert_int_eq(poll(&pfd, 1, 3000), 1);
	ck_assert_int_eq(shm_next_event(s, ev), 1);
	ck_assert_int_eq(ev->type, SHM_EV_RECLAIM);
}

static void fill(struct shm *s, size_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len);

	for (size_t i = 0; i < len; i++)
		b[i] = (uint8_t)test_rand(&seed);
	ck_assert_uint_eq(shm_put(s, b, off, len), len);
	free(b);
}

static void expect(struct shm *s, size_t off, size_t len, uint32_t seed)
{
	uint8_t *b = malloc(len), *want = malloc(len);

	for (size_t i = 0; i < len; i++)
		want[i] = (uint8_t)test_rand(&seed);
	ck_assert_uint_eq(shm_get(s, b, off, len), len);
	ck_assert_mem_eq(b, want, len);
	free(b);
	free(want);
}

START_TEST(resize_grows_spans_and_shrinks)
{
	struct host h;
	struct shm_stats st;
	size_t len;

	host_init(&h, true);
	unsigned int base = dom0_grants(&h);
	struct shm *s = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_msg(s != NULL, "%s", strerror(errno));
	fill(s, 0, 1 << 20, 1);
	ck_assert_int_eq(shm_resize(s, (1 << 20) + 1), 0); /* one page more: a second segment */
	ck_assert_uint_eq(shm_size(s), (1 << 20) + 4096);
	ck_assert_int_eq(shm_resize(s, 3 << 20), 0);
	ck_assert_uint_eq(shm_size(s), 3 << 20);
	ck_assert_ptr_nonnull(shm_segment(s, 2, &len));
	ck_assert_uint_eq(len, (2 << 20) - 4096);
	ck_assert_ptr_null(shm_segment(s, 3, NULL));
	ck_assert_ptr_eq(shm_segment(s, 0, NULL), shm_addr(s));
	/* A copy across both segment boundaries. */
	fill(s, (1 << 20) - 100, 4096 + 200, 2);
	expect(s, (1 << 20) - 100, 4096 + 200, 2);
	ck_assert_uint_eq(shm_put(s, "x", (3 << 20) - 1, 2), 0);
	ck_assert_int_eq(shm_stats(s, &st), 0);
	ck_assert_uint_eq(st.segments, 3);
	ck_assert_uint_eq(st.pages_granted, 257 + 2 + 512);
	ck_assert_uint_eq(dom0_grants(&h), base + 257 + 2 + 512);
	/* Shrink: whole segments from the end, never below the request, never the first. */
	ck_assert_int_eq(shm_resize(s, (1 << 20) + 8), 0);
	ck_assert_uint_eq(shm_size(s), (1 << 20) + 4096);
	ck_assert_int_eq(shm_resize(s, 1), 0);
	ck_assert_uint_eq(shm_size(s), 1 << 20);
	ck_assert(wait_grants(&h, base + 257));
	expect(s, 0, (1 << 20) - 100, 1); /* what stays keeps its contents */
	ck_assert_int_eq(shm_resize(s, 0), -EINVAL);
	ck_assert_int_eq(shm_stats(s, &st), 0);
	ck_assert_uint_eq(st.segments, 1);
	ck_assert_uint_eq(st.pages_granted, 257);
	shm_exit(s);
	host_fini(&h);
}
END_TEST

static void *open_g2(void *arg)
{
	struct host *h = arg;

	return shm_open_xo(h->x2, 1 << 20, &fast);
}

START_TEST(short_host_asks_the_guest_above_its_share)
{
	struct host h;
	struct shm_event ev;
	struct shm_opts quick = { .timeout_ms = 400 };

	host_init(&h, true);
	tool_write(&h, xsp_tool_budget_kb, "4096"); /* 1024 pages; fair share 512 each */
	struct shm *s1 = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_msg(s1 != NULL, "%s", strerror(errno));
	ck_assert_int_eq(shm_resize(s1, 3 << 20), 0); /* alone, g1 may take 770 pages */
	fill(s1, 0, 4096, 3);
	/* g2 asks for 257 within its share; 254 are free: g1 is asked for 3, g2 told to retry,
	 * and after the timeout it is ENOSPC. */
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(h.x2, 1 << 20, &quick));
	ck_assert_int_eq(errno, ENOSPC);
	next_reclaim(s1, &ev);
	ck_assert_uint_eq(ev.bytes, 3 * 4096);
	ck_assert_uint_eq(ev.deadline_ms, 5000);
	ck_assert(wait_reclaim(&h, h.g1, "3 pending"));
	ck_assert_int_eq(shm_next_event(s1, &ev), 0); /* retries did not send more notices */
	/* g2 tries again and waits; g1 complies: drops its second segment and says so. */
	pthread_t th;
	void *s2;
	pthread_create(&th, NULL, open_g2, &h);
	usleep(200000);
	ck_assert_int_eq(shm_next_event(s1, &ev), 0); /* the notice in flight covers it */
	ck_assert_int_eq(shm_resize(s1, 1 << 20), 0);
	ck_assert_int_eq(shm_reclaim_done(s1, ev.id), 0);
	ck_assert_int_eq(shm_reclaim_done(s1, ev.id), -ENOENT); /* once */
	ck_assert(wait_reclaim(&h, h.g1, NULL));
	expect(s1, 0, 4096, 3);
	pthread_join(th, &s2);
	ck_assert_msg(s2 != NULL, "g2 was not served after g1 gave back");
	shm_exit(s2);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

START_TEST(ignored_notice_makes_the_guest_overdue)
{
	struct host h;
	struct shm_event ev;
	struct shm_opts quick = { .timeout_ms = 300 };

	host_init(&h, true);
	tool_write(&h, xsp_tool_budget_kb, "4096");
	struct shm *s1 = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_int_eq(shm_resize(s1, 3 << 20), 0);
	ck_assert_ptr_null(shm_open_xo(h.x2, 1 << 20, &quick));
	next_reclaim(s1, &ev);
	/* The guest acknowledges but frees nothing: its word does not count. */
	ck_assert_int_eq(shm_reclaim_done(s1, ev.id), 0);
	usleep(100000);
	ck_assert(wait_reclaim(&h, h.g1, "3 pending"));
	host_advance(&h, 4999);
	usleep(100000);
	ck_assert(wait_reclaim(&h, h.g1, "3 pending"));
	host_advance(&h, 1);
	ck_assert(wait_reclaim(&h, h.g1, "3 overdue"));
	/* Overdue: nothing more, even within quota. */
	ck_assert_int_eq(shm_resize(s1, (3 << 20) + 4096), -EDQUOT);
	/* Giving back ends it. */
	ck_assert_int_eq(shm_resize(s1, 1 << 20), 0);
	ck_assert(wait_reclaim(&h, h.g1, NULL));
	ck_assert_int_eq(shm_resize(s1, (1 << 20) + 4096), 0);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

START_TEST(lowered_quota_or_budget_asks_back_the_excess)
{
	struct host h;
	struct shm_event ev;
	char path[XSP_MAX];

	host_init(&h, true);
	tool_write(&h, xsp_tool_reclaim_deadline_ms, "250");
	tool_write(&h, xsp_tool_reclaim_deadline_ms, "50"); /* below the range: refused, 250 kept */
	tool_write(&h, xsp_tool_reclaim_interval_ms, "0");
	struct shm *s1 = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_msg(s1 != NULL, "%s", strerror(errno));
	/* Quota 512 KiB under 257 pages in use: the excess, 129 pages, is asked back. */
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "512"), 0);
	next_reclaim(s1, &ev);
	ck_assert_uint_eq(ev.bytes, 129 * 4096);
	ck_assert_uint_eq(ev.deadline_ms, 250);
	ck_assert(wait_reclaim(&h, h.g1, "129 pending"));
	/* Back to a roomy quota; then a budget lowered to 512 KiB asks the same. */
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "4096"), 0);
	host_advance(&h, 1000);
	ck_assert(wait_reclaim(&h, h.g1, "129 overdue"));
	shm_exit(s1);
	ck_assert(wait_be_state(&h, h.g1, "6"));
	ck_assert(wait_reclaim(&h, h.g1, NULL)); /* a closed device has no notice in flight */
	s1 = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_msg(s1 != NULL, "%s", strerror(errno));
	tool_write(&h, xsp_tool_budget_kb, "512");
	next_reclaim(s1, &ev);
	ck_assert_uint_eq(ev.bytes, 129 * 4096);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

START_TEST(one_device_per_process)
{
	struct host h;
	struct xo *xb, *xc;
	struct shm_stats st;

	host_init(&h, true);
	ck_assert_int_eq(xshm_device_create(h.tool, h.g1, 1, 8192), 0);
	ck_assert_int_eq(xo_fake_open(h.w, h.g1, &xb), 0);
	ck_assert_int_eq(xo_fake_open(h.w, h.g1, &xc), 0);
	struct shm *a = shm_open_xo(h.x1, 8192, &fast);
	ck_assert_msg(a != NULL, "%s", strerror(errno));
	struct shm *b = shm_open_xo(xb, 8192, &fast);
	ck_assert_msg(b != NULL, "second process: %s", strerror(errno));
	errno = 0;
	ck_assert_ptr_null(shm_open_xo(xc, 8192, &fast));
	ck_assert_int_eq(errno, EBUSY);
	/* Each has its own device and account: b got devid 1 with its 8 MiB quota. */
	ck_assert_int_eq(shm_stats(b, &st), 0);
	ck_assert_uint_eq(st.pages_quota, 2048);
	ck_assert_uint_eq(st.pages_granted, 3);
	fill(a, 0, 8192, 4);
	fill(b, 0, 8192, 5);
	expect(a, 0, 8192, 4);
	expect(b, 0, 8192, 5);
	shm_exit(a);
	struct shm *c = shm_open_xo(xc, 8192, &fast); /* devid 0 is free again */
	ck_assert_msg(c != NULL, "%s", strerror(errno));
	shm_exit(c);
	shm_exit(b);
	xo_close(xb);
	xo_close(xc);
	host_fini(&h);
}
END_TEST

Suite *reclaim_suite(void)
{
	Suite *s = suite_create("reclaim");
	TCase *tc = tcase_create("daemon+libxenshm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, resize_grows_spans_and_shrinks);
	tcase_add_test(tc, short_host_asks_the_guest_above_its_share);
	tcase_add_test(tc, ignored_notice_makes_the_guest_overdue);
	tcase_add_test(tc, lowered_quota_or_budget_asks_back_the_excess);
	tcase_add_test(tc, one_device_per_process);
	suite_add_tcase(s, tc);
	return s;
}
