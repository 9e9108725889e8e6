// SPDX-License-Identifier: GPL-2.0-only
/* Strict parsing of untrusted XenStore values, and the generated path builders. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "xenshm/xenops.h"
#include "xenshm/xspaths.h"
#include "tests.h"

START_TEST(parse_uint_strict)
{
	unsigned long long v;

	ck_assert_int_eq(xo_parse_uint("0", 10, &v), 0);
	ck_assert_uint_eq(v, 0);
	ck_assert_int_eq(xo_parse_uint("4096", 1u << 20, &v), 0);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(xo_parse_uint("18446744073709551615", UINT64_MAX, &v), 0);
	ck_assert_uint_eq(v, UINT64_MAX);
	static const char *const bad[] = { "", "01", "+1", "-1", " 1", "1 ", "1x", "0x10", "1.0", "１" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(xo_parse_uint(bad[i], 1000, &v), -EINVAL);
	ck_assert_int_eq(xo_parse_uint(NULL, 1000, &v), -EINVAL);
	ck_assert_int_eq(xo_parse_uint("1001", 1000, &v), -ERANGE);
	ck_assert_int_eq(xo_parse_uint("18446744073709551616", UINT64_MAX, &v), -ERANGE);
	ck_assert_int_eq(xo_parse_uint("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
}
END_TEST

START_TEST(parse_domid_rejects_reserved)
{
	xo_domid_t d;

	ck_assert_int_eq(xo_parse_domid("0", &d), 0);
	ck_assert_int_eq(xo_parse_domid("32751", &d), 0);
	ck_assert_uint_eq(d, 0x7fef);
	ck_assert_int_eq(xo_parse_domid("32752", &d), -ERANGE); /* DOMID_FIRST_RESERVED */
	ck_assert_int_eq(xo_parse_domid("65535", &d), -ERANGE);
	ck_assert_int_eq(xo_parse_domid("007", &d), -EINVAL);
}
END_TEST

START_TEST(path_builders)
{
	char buf[XSP_MAX];

	ck_assert_int_eq(xsp_fe_state(buf, sizeof(buf), 5, 0), 0);
	ck_assert_str_eq(buf, "/local/domain/5/device/xenshm/0/state");
	ck_assert_int_eq(xsp_be_segment(buf, sizeof(buf), 12, 0, 3), 0);
	ck_assert_str_eq(buf, "/local/domain/0/backend/xenshm/12/0/segment/3");
	ck_assert_int_eq(xsp_be_error(buf, sizeof(buf), 7, 1), 0);
	ck_assert_str_eq(buf, "/local/domain/0/error/backend/xenshm/7/1/error");
	ck_assert_int_eq(xsp_tool_budget_kb(buf, sizeof(buf)), 0);
	ck_assert_str_eq(buf, "/tool/xenshm/budget-kb");
	ck_assert_int_eq(xsp_fe_state(buf, 10, 5, 0), -ENAMETOOLONG);
}
END_TEST

Suite *util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_uint_strict);
	tcase_add_test(tc, parse_domid_rejects_reserved);
	tcase_add_test(tc, path_builders);
	suite_add_tcase(s, tc);
	return s;
}
