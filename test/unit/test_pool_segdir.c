// SPDX-License-Identifier: GPL-2.0-only
/* Pool arithmetic and segment page directories. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../dom0/pool.h"
#include "xenshm/segdir.h"
#include "tests.h"

START_TEST(pool_quota_then_budget)
{
	struct xshm_pool p = { .budget = 100 };
	struct xshm_account a = { .quota = 60 }, b = { .quota = 60 };

	ck_assert_int_eq(xshm_pool_charge(&p, &a, 0), -EINVAL);
	ck_assert_int_eq(xshm_pool_charge(&p, &a, 61), -EDQUOT);
	ck_assert_int_eq(xshm_pool_charge(&p, &a, 60), 0);
	ck_assert_int_eq(xshm_pool_charge(&p, &a, 1), -EDQUOT);
	ck_assert_int_eq(xshm_pool_charge(&p, &b, 41), -ENOSPC); /* b's quota allows it, the host does not */
	ck_assert_int_eq(xshm_pool_charge(&p, &b, 40), 0);
	ck_assert_uint_eq(xshm_pool_free(&p), 0);
	xshm_pool_release(&p, &a, 20);
	ck_assert_uint_eq(xshm_pool_free(&p), 20);
	ck_assert_uint_eq(a.used, 40);
	xshm_pool_release(&p, &a, 1000); /* only what a holds: b's 40 stay charged */
	ck_assert_uint_eq(a.used, 0);
	ck_assert_uint_eq(p.used, 40);
	ck_assert_uint_eq(b.used, 40);
}
END_TEST

START_TEST(pool_lowered_limits_report_excess)
{
	struct xshm_pool p = { .budget = 100 };
	struct xshm_account a = { .quota = 100 };

	ck_assert_int_eq(xshm_pool_charge(&p, &a, 80), 0);
	p.budget = 50;
	a.quota = 70;
	ck_assert_uint_eq(xshm_pool_over(&p), 30);
	ck_assert_uint_eq(xshm_account_over(&a), 10);
	ck_assert_uint_eq(xshm_pool_free(&p), 0);
	ck_assert_int_eq(xshm_pool_charge(&p, &a, 1), -EDQUOT);
	a.quota = 1000;
	ck_assert_int_eq(xshm_pool_charge(&p, &a, 1), -ENOSPC);
}
END_TEST

START_TEST(parse_kb_pages)
{
	ck_assert_int_eq(xshm_parse_kb_pages("65536", 1u << 20), 16384);
	ck_assert_int_eq(xshm_parse_kb_pages("0", 100), 0);
	ck_assert_int_eq(xshm_parse_kb_pages("6", 100), -EINVAL);   /* not whole pages */
	ck_assert_int_eq(xshm_parse_kb_pages("64M", 100), -EINVAL);
	ck_assert_int_eq(xshm_parse_kb_pages("104", 100), -ERANGE);
}
END_TEST

static void chain(uint32_t pages, struct xshm_segdir_page **dirs, xo_gref_t **refs, xo_gref_t **dref)
{
	uint32_t nd = xshm_segdir_pages(pages);

	*refs = calloc(pages, sizeof(**refs));
	*dref = calloc(nd, sizeof(**dref));
	*dirs = calloc(nd, sizeof(**dirs));
	for (uint32_t i = 0; i < pages; i++)
		(*refs)[i] = 1000 + i;
	for (uint32_t i = 0; i < nd; i++)
		(*dref)[i] = 50 + i;
	for (uint32_t i = 0; i < nd; i++)
		xshm_segdir_fill(&(*dirs)[i], i, *refs, pages, *dref);
}

START_TEST(segdir_roundtrip_many_sizes)
{
	static const uint32_t sizes[] = { 1, 2, 1019, 1020, 1021, 2040, 2041, 5000 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t pages = sizes[k];
		struct xshm_segdir_page *dirs;
		xo_gref_t *refs, *dref, *out = calloc(pages, sizeof(*out));
		chain(pages, &dirs, &refs, &dref);
		int64_t next = dref[0];
		uint32_t i = 0;
		do {
			ck_assert_uint_eq((uint32_t)next, dref[i]);
			next = xshm_segdir_parse(&dirs[i], i, pages, out);
			ck_assert_int_ge(next, 0);
			i++;
		} while (next);
		ck_assert_uint_eq(i, xshm_segdir_pages(pages));
		ck_assert_mem_eq(out, refs, pages * sizeof(*refs));
		free(dirs);
		free(refs);
		free(dref);
		free(out);
	}
}
END_TEST

START_TEST(segdir_rejects_lies)
{
	struct xshm_segdir_page *dirs, bad;
	xo_gref_t *refs, *dref, out[3000];

	chain(2100, &dirs, &refs, &dref);
	bad = dirs[0];
	bad.magic ^= 1;
	ck_assert_int_eq(xshm_segdir_parse(&bad, 0, 2100, out), -EPROTO);
	bad = dirs[0];
	bad.count = 1021; /* more refs than a page holds */
	ck_assert_int_eq(xshm_segdir_parse(&bad, 0, 2100, out), -EPROTO);
	bad = dirs[1];
	bad.index = 0; /* a loop back to the first page */
	ck_assert_int_eq(xshm_segdir_parse(&bad, 1, 2100, out), -EPROTO);
	bad = dirs[2];
	bad.next = 77; /* a chain longer than the page count allows */
	ck_assert_int_eq(xshm_segdir_parse(&bad, 2, 2100, out), -EPROTO);
	bad = dirs[0];
	bad.next = 0; /* ends too early */
	ck_assert_int_eq(xshm_segdir_parse(&bad, 0, 2100, out), -EPROTO);
	ck_assert_int_eq(xshm_segdir_parse(&dirs[0], 3, 2100, out), -EPROTO); /* index past the chain */
	ck_assert_int_eq(xshm_segdir_parse(&dirs[0], 0, 0, out), -EPROTO);
	free(dirs);
	free(refs);
	free(dref);
}
END_TEST

Suite *pool_segdir_suite(void)
{
	Suite *s = suite_create("pool-segdir");
	TCase *tc = tcase_create("pure");

	tcase_add_test(tc, pool_quota_then_budget);
	tcase_add_test(tc, pool_lowered_limits_report_excess);
	tcase_add_test(tc, parse_kb_pages);
	tcase_add_test(tc, segdir_roundtrip_many_sizes);
	tcase_add_test(tc, segdir_rejects_lies);
	suite_add_tcase(s, tc);
	return s;
}
