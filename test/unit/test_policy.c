// SPDX-License-Identifier: GPL-2.0-only
/* The rebalance policy's arithmetic (dom0/policy.h). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../dom0/peers.h"
#include "../../dom0/policy.h"
#include "../../dom0/storm.h"
#include "tests.h"

START_TEST(fair_share_follows_quotas)
{
	ck_assert_uint_eq(xshm_policy_fair_share(1000, 100, 400), 250);
	ck_assert_uint_eq(xshm_policy_fair_share(1000, 300, 400), 750);
	ck_assert_uint_eq(xshm_policy_fair_share(1000, 100, 100), 1000); /* alone: everything */
	ck_assert_uint_eq(xshm_policy_fair_share(1000, 0, 0), 1000);
	/* No overflow with page counts near 2^40. */
	ck_assert_uint_eq(xshm_policy_fair_share(1ull << 40, 1ull << 39, 1ull << 40), 1ull << 39);
}
END_TEST

START_TEST(admit_has_hysteresis)
{
	struct xshm_policy_knobs k;
	struct xshm_pool pool = { .budget = 1000, .used = 1000 };
	bool full = false;

	xshm_policy_defaults(&k);
	ck_assert_uint_eq(k.accept_pct, 90);
	/* Not full: the policy stays out of the way (the pool itself refuses). */
	ck_assert(xshm_policy_admit(&k, &pool, &full, 500, 800, 100));
	full = true;
	/* Full: within fair share yes, beyond it no. */
	ck_assert(xshm_policy_admit(&k, &pool, &full, 500, 300, 200));
	ck_assert(!xshm_policy_admit(&k, &pool, &full, 500, 300, 201));
	ck_assert(!xshm_policy_admit(&k, &pool, &full, 500, 600, 1));
	/* Use falls, but not below 90%: still full. */
	pool.used = 901;
	ck_assert(!xshm_policy_admit(&k, &pool, &full, 500, 600, 1));
	ck_assert(full);
	/* Below the accept threshold: the full phase ends. */
	pool.used = 899;
	ck_assert(xshm_policy_admit(&k, &pool, &full, 500, 600, 1));
	ck_assert(!full);
}
END_TEST

START_TEST(plan_takes_from_excess_in_proportion)
{
	/* Budget 1200, equal quotas: fair share 400 each.  Guest 0 asks; 1 holds 600 (excess 200),
	 * 2 holds 500 (excess 100). */
	struct xshm_policy_guest g[3] = {
		{ .used = 100, .quota = 1000, .askable = true },
		{ .used = 600, .quota = 1000, .askable = true },
		{ .used = 500, .quota = 1000, .askable = true },
	};

	ck_assert_uint_eq(xshm_policy_plan(g, 3, 0, 1200, 90), 90);
	ck_assert_uint_eq(g[0].reclaim, 0);
	ck_assert_uint_eq(g[1].reclaim, 60);
	ck_assert_uint_eq(g[2].reclaim, 30);
	/* More than all the excess: capped at it, nobody pushed below fair share. */
	ck_assert_uint_eq(xshm_policy_plan(g, 3, 0, 1200, 1000), 300);
	ck_assert_uint_eq(g[1].reclaim, 200);
	ck_assert_uint_eq(g[2].reclaim, 100);
	/* Rounding: the remainder is handed out so the plan is exact. */
	ck_assert_uint_eq(xshm_policy_plan(g, 3, 0, 1200, 7), 7);
	ck_assert_uint_eq(g[1].reclaim + g[2].reclaim, 7);
	ck_assert(g[1].reclaim <= 200 && g[2].reclaim <= 100);
}
END_TEST

START_TEST(plan_respects_interval_requester_and_pending)
{
	struct xshm_policy_guest g[3] = {
		{ .used = 100, .quota = 1000, .askable = true },
		{ .used = 600, .quota = 1000, .askable = false }, /* asked within the interval */
		{ .used = 500, .quota = 1000, .askable = true, .asked = 60 },
	};

	/* Guest 2's excess is 100 but 60 are already on their way: 40 left to ask. */
	ck_assert_uint_eq(xshm_policy_plan(g, 3, 0, 1200, 90), 40);
	ck_assert_uint_eq(g[1].reclaim, 0);
	ck_assert_uint_eq(g[2].reclaim, 40);
	/* The requester is never asked, even above its share. */
	g[1].askable = true;
	ck_assert_uint_eq(xshm_policy_plan(g, 3, 1, 1200, 90), 40);
	ck_assert_uint_eq(g[1].reclaim, 0);
	/* No requester (a lowered budget): everyone above share may be asked. */
	ck_assert_uint_eq(xshm_policy_plan(g, 3, 3, 1200, 1000), 240);
	/* Nobody above fair share: nothing to plan. */
	struct xshm_policy_guest fairly[2] = {
		{ .used = 500, .quota = 1, .askable = true }, { .used = 500, .quota = 1, .askable = true },
	};
	ck_assert_uint_eq(xshm_policy_plan(fairly, 2, 2, 1000, 10), 0);
	ck_assert_uint_eq(fairly[0].reclaim + fairly[1].reclaim, 0);
}
END_TEST

/* One window of relay traffic into a ring of `pages`: `bytes` moved, peak fill, full or not. */
static uint32_t window(struct xshm_rx_sizing *s, uint64_t *now, uint32_t pages, uint64_t bytes,
		       uint64_t peak, bool full)
{
	xshm_rx_note(s, bytes, peak, full);
	*now += XSHM_RX_WINDOW_MS;
	return xshm_rx_next_size(s, *now, pages, 16, 1024);
}

START_TEST(rx_grows_while_full_and_paying)
{
	struct xshm_rx_sizing s = { 0 };
	uint64_t now = 1000;
	uint32_t pages = 16;

	ck_assert_uint_eq(xshm_rx_next_size(&s, now, pages, 16, 1024), 16); /* opens a window */
	/* Full and more memory doubles throughput each time: 16 -> 32 -> 64.  Full once is not
	 * enough (a first burst). */
	ck_assert_uint_eq(window(&s, &now, pages, 1 << 20, 64 << 10, true), 16);
	pages = window(&s, &now, pages, 1 << 20, 64 << 10, true);
	ck_assert_uint_eq(pages, 32);
	ck_assert_uint_eq(window(&s, &now, pages, 0, 0, false), 32);                 /* settling: not judged */
	/* Verdict: it paid, and the ring is still full: it grows again at once. */
	pages = window(&s, &now, pages, 2 << 20, 128 << 10, true);
	ck_assert_uint_eq(pages, 64);
	ck_assert_uint_eq(window(&s, &now, pages, 2 << 20, 128 << 10, true), 64);
	/* This growth bought nothing, in two windows in a row: back to 32, and no growth past it
	 * for a while. */
	ck_assert_uint_eq(window(&s, &now, pages, 2 << 20, 128 << 10, true), 64);
	pages = window(&s, &now, pages, 2 << 20, 128 << 10, true);
	ck_assert_uint_eq(pages, 32);
	for (unsigned int i = 0; i + 1 < XSHM_RX_CEILING_WINDOWS; i++)
		ck_assert_uint_eq(window(&s, &now, pages, 2 << 20, 128 << 10, true), 32);
	ck_assert_uint_eq(s.resizes, 3);
	/* Then it tries again: the load may have changed. */
	ck_assert_uint_eq(window(&s, &now, pages, 2 << 20, 128 << 10, true), 64);
	/* Never past the maximum. */
	struct xshm_rx_sizing m = { .start_ms = 1 };
	uint64_t t = 1;
	ck_assert_uint_eq(window(&m, &t, 1024, 1 << 20, 4 << 20, true), 1024);
	ck_assert_uint_eq(window(&m, &t, 1024, 1 << 20, 4 << 20, true), 1024);
}
END_TEST

/* A growth is judged against the lower of the two windows before it, and on two windows after. */
START_TEST(rx_growth_is_judged_on_more_than_one_window)
{
	struct xshm_rx_sizing s = { .start_ms = 1 };
	uint64_t now = 1;
	uint32_t pages = 16;

	/* The ring's real pace, then a burst (the other guest got a longer turn). */
	ck_assert_uint_eq(window(&s, &now, pages, 1 << 20, 64 << 10, true), 16);
	pages = window(&s, &now, pages, 4 << 20, 64 << 10, true);
	ck_assert_uint_eq(pages, 32);
	ck_assert_uint_eq(window(&s, &now, pages, 0, 0, false), 32); /* settling */
	/* Twice the pace: judged against the real pace, not the burst, it paid (and, still
	 * full, grows again). */
	pages = window(&s, &now, pages, 2 << 20, 128 << 10, true);
	ck_assert_uint_eq(pages, 64);
	ck_assert_uint_eq(s.ceiling, 0);
	/* This growth: one window without the gain (the other guest was not scheduled), then the
	 * gain: kept, and grown again. */
	ck_assert_uint_eq(window(&s, &now, pages, 0, 0, false), 64);
	ck_assert_uint_eq(window(&s, &now, pages, 1 << 20, 256 << 10, true), 64);
	ck_assert_uint_eq(window(&s, &now, pages, 4 << 20, 256 << 10, true), 128);
	ck_assert_uint_eq(s.ceiling, 0);
	ck_assert_uint_eq(s.resizes, 3);
	/* A verdict that finds the ring no longer full keeps the size and grows no further. */
	ck_assert_uint_eq(window(&s, &now, 128, 0, 0, false), 128);
	ck_assert_uint_eq(window(&s, &now, 128, 4 << 20, 256 << 10, false), 128);
	ck_assert_uint_eq(window(&s, &now, 128, 4 << 20, 256 << 10, false), 128);
	ck_assert_uint_eq(s.resizes, 3);
}
END_TEST

/* `passes` relay passes of 64 KiB into a ring of `pages`, `full` of them finding it full. */
static uint32_t busy_window(struct xshm_rx_sizing *s, uint64_t *now, uint32_t pages, unsigned int passes,
			    unsigned int full)
{
	for (unsigned int i = 0; i < passes; i++)
		xshm_rx_note(s, 64 << 10, (uint64_t)pages * 4096 * 3 / 4, i < full);
	*now += XSHM_RX_WINDOW_MS;
	return xshm_rx_next_size(s, *now, pages, 16, 1024);
}

/*
 * A writer-bound stream finds its ring full now and then (the reader was not
 * scheduled for a moment): that is not a ring too small.  A window is full
 * when a share of its passes found the ring full, not on the first.
 */
START_TEST(rx_rare_full_passes_do_not_grow)
{
	struct xshm_rx_sizing s = { .start_ms = 1 };
	uint64_t now = 1;
	unsigned int share = XSHM_RX_FULL_PCT; /* full passes out of 100 that make a full window */

	/* A busy stream, full on a few of its passes (just under the share), window after window. */
	for (int i = 0; i < 10; i++)
		ck_assert_uint_eq(busy_window(&s, &now, 256, 100, share - 1), 256);
	ck_assert_uint_eq(s.resizes, 0);
	/* Full on the share of its passes, twice in a row: the ring is short. */
	ck_assert_uint_eq(busy_window(&s, &now, 256, 100, share), 256);
	ck_assert_uint_eq(busy_window(&s, &now, 256, 100, share), 512);
}
END_TEST

START_TEST(rx_shrinks_after_quiet_windows_only)
{
	struct xshm_rx_sizing s = { .start_ms = 1, .ceiling = 64 };
	uint64_t now = 1;

	/* Quiet windows shrink the ring only in a row; a busy one in between restarts the count. */
	for (unsigned int i = 0; i + 1 < XSHM_RX_QUIET_WINDOWS; i++)
		ck_assert_uint_eq(window(&s, &now, 256, 1000, 4096, false), 256);
	ck_assert_uint_eq(window(&s, &now, 256, 1 << 20, 600 << 10, false), 256);
	for (unsigned int i = 0; i + 1 < XSHM_RX_QUIET_WINDOWS; i++)
		ck_assert_uint_eq(window(&s, &now, 256, 1000, 4096, false), 256);
	ck_assert_uint_eq(window(&s, &now, 256, 0, 0, false), 128); /* the last quiet window */
	ck_assert_uint_eq(s.ceiling, 0);                                /* the load changed */
	/* A new size is kept a while, even if still quiet. */
	for (unsigned int i = 0; i < XSHM_RX_DWELL_WINDOWS; i++)
		ck_assert_uint_eq(window(&s, &now, 128, 0, 0, false), 128);
	/* Down to the minimum and no further. */
	uint32_t pages = 128;
	for (int i = 0; i < 100; i++)
		pages = window(&s, &now, pages, 0, 0, false);
	ck_assert_uint_eq(pages, 16);
	/* Windows are timed: nothing is decided before one ends. */
	ck_assert_uint_eq(window(&s, &now, 16, 1 << 20, 64 << 10, true), 16);
	xshm_rx_note(&s, 1 << 20, 64 << 10, true);
	ck_assert_uint_eq(xshm_rx_next_size(&s, now + XSHM_RX_WINDOW_MS - 1, 16, 16, 1024), 16);
	ck_assert_uint_eq(xshm_rx_next_size(&s, now + XSHM_RX_WINDOW_MS, 16, 16, 1024), 32);
	/* Utilisation: the average of each window's peak fill over its ring. */
	ck_assert_uint_le(xshm_rx_utilisation_pct(&s), 100);
}
END_TEST

/* peers(list, domid, name): the match, its cap in *kb (left at 77 when not matched). */
static int peers(const char *list, xo_domid_t domid, const char *name, uint64_t *kb, char *err)
{
	*kb = 77;
	err[0] = 0;
	return xshm_peers_match(list, domid, name, kb, err, 160);
}

START_TEST(mempipe_peer_lists)
{
	char err[160];
	uint64_t kb;

	/* By name, by domid, any; the first item naming the peer decides. */
	ck_assert_int_eq(peers("web2:4096", 5, "web2", &kb, err), 1);
	ck_assert_uint_eq(kb, 4096);
	ck_assert_int_eq(peers("web2:4096", 5, "web3", &kb, err), 0);
	ck_assert_uint_eq(kb, 77);
	ck_assert_int_eq(peers("db:0 5:1024 *:64", 5, "web2", &kb, err), 1);
	ck_assert_uint_eq(kb, 1024);
	ck_assert_int_eq(peers("db:0 5:1024 *:64", 6, NULL, &kb, err), 1);
	ck_assert_uint_eq(kb, 64);
	ck_assert_int_eq(peers("web2:0", 5, NULL, &kb, err), 0); /* name unknown: not that one */
	ck_assert_int_eq(peers("", 5, "web2", &kb, err), 0);      /* an empty list: nobody */
	ck_assert_int_eq(peers("*:0", 5, "web2", &kb, err), 1);
	ck_assert_uint_eq(kb, 0);
	/* A domid in the list never matches a domain named like it. */
	ck_assert_int_eq(peers("5:0", 6, "5", &kb, err), 0);

	/* Malformed anywhere, even after the item that would decide: nothing is permitted. */
	static const char *const bad[] = {
		"web2", "web2:", ":4096", "web2:4095", "web2:-4", "web2:+4", "web2:04", "web2:4 ", " web2:4",
		"web2:4  db:4", "web2:4 db", "we b2:4", "web/2:4", "web2:1048580", "*x:4",
		"web2:99999999999999999999",
	};
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(peers(bad[i], 5, "web2", &kb, err) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_msg(err[0], "no reason for '%s'", bad[i]);
		ck_assert_uint_eq(kb, 77);
	}
	char longest[XSHM_PEERS_LEN_MAX + 2];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = 0;
	ck_assert_int_eq(peers(longest, 5, "web2", &kb, err), -EINVAL);
	/* The largest cap there is, and a name of the longest length. */
	ck_assert_int_eq(peers("web2:1048576", 5, "web2", &kb, err), 1);
	ck_assert_uint_eq(kb, 1048576);
	char name[XSHM_PEER_NAME_MAX + 1], list[XSHM_PEER_NAME_MAX + 8];
	memset(name, 'n', XSHM_PEER_NAME_MAX);
	name[XSHM_PEER_NAME_MAX] = 0;
	snprintf(list, sizeof(list), "%s:4", name);
	ck_assert_int_eq(peers(list, 5, name, &kb, err), 1);
	snprintf(list, sizeof(list), "%sn:4", name);
	ck_assert_int_eq(peers(list, 5, name, &kb, err), -EINVAL);
}
END_TEST

START_TEST(storms_are_held_to_their_window)
{
	struct xshm_storm s = { 0 }, busy = { 0 };

	for (unsigned int i = 0; i < XSHM_STORM_SPURIOUS_MAX; i++)
		ck_assert(!xshm_storm_note(&s, 1000, true));
	ck_assert(!xshm_storm_note(&s, 1010, false)); /* work never counts */
	ck_assert(xshm_storm_note(&s, 1050, true));
	ck_assert(s.held);
	ck_assert_uint_eq(xshm_storm_release_ms(&s), 1000 + XSHM_STORM_WINDOW_MS);
	ck_assert(xshm_storm_note(&s, 1060, true));
	ck_assert_uint_eq(s.held_windows, 1);
	/* The next window starts afresh. */
	s.held = false;
	ck_assert(!xshm_storm_note(&s, 1000 + XSHM_STORM_WINDOW_MS, true));
	ck_assert_uint_eq(s.spurious, 1);
	/* A busy guest, however often it kicks, is never held. */
	for (int i = 0; i < 100000; i++)
		ck_assert(!xshm_storm_note(&busy, 5000, false));
	/* Nor one whose kicks race the relay, as long as no more of them find nothing than find
	 * work; past that, it is a storm again. */
	struct xshm_storm racing = { 0 };
	for (int i = 0; i < 1000; i++) {
		ck_assert(!xshm_storm_note(&racing, 9000, false));
		ck_assert(!xshm_storm_note(&racing, 9000, true));
	}
	ck_assert(xshm_storm_note(&racing, 9000, true));
	ck_assert_uint_eq(racing.held_windows, 1);
	/* A kick is news when it found work, or when the guest moved its ring indices since the
	 * last event; the same indices again, with no work, are nothing. */
	uint64_t last = 0;
	ck_assert(!xshm_storm_spurious(false, &last, 4096));
	ck_assert_uint_eq(last, 4096);
	ck_assert(xshm_storm_spurious(false, &last, 4096));
	ck_assert(!xshm_storm_spurious(true, &last, 4096));
	ck_assert(!xshm_storm_spurious(false, &last, 8192));
	ck_assert(xshm_storm_spurious(false, &last, 8192));
}
END_TEST

Suite *policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");

	tcase_add_test(tc, fair_share_follows_quotas);
	tcase_add_test(tc, mempipe_peer_lists);
	tcase_add_test(tc, storms_are_held_to_their_window);
	tcase_add_test(tc, rx_grows_while_full_and_paying);
	tcase_add_test(tc, rx_growth_is_judged_on_more_than_one_window);
	tcase_add_test(tc, rx_shrinks_after_quiet_windows_only);
	tcase_add_test(tc, rx_rare_full_passes_do_not_grow);
	tcase_add_test(tc, admit_has_hysteresis);
	tcase_add_test(tc, plan_takes_from_excess_in_proportion);
	tcase_add_test(tc, plan_respects_interval_requester_and_pending);
	suite_add_tcase(s, tc);
	return s;
}
