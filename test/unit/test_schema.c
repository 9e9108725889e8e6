// SPDX-License-Identifier: GPL-2.0-only
/* The XenStore schema: the real file is valid and consistent; bad files fail with file:line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../xenstore-schema/schema.h"
#include "tests.h"

#define SCHEMA "xenstore-schema/xenshm.schema"

static const char good[] =
	"[a]\npath = /tool/x/$DOMID\ntype = integer\nperms = n0 r$DOMID\n"
	"writer = admin\nwhen = w\ndesc = d\ngroup = g\n";

START_TEST(real_schema_loads_and_is_consistent)
{
	struct xss_schema s;
	char err[256] = "";

	ck_assert_msg(xss_load(SCHEMA, &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_ge(s.n, 15);
	for (size_t i = 0; i < s.n; i++) {
		const struct xss_entry *e = &s.entries[i];
		/* libxl's device-dir ownership: frontend dirs are the guest's, backend dirs dom0's. */
		if (!strncmp(e->path, "/local/domain/$DOMID/", 21))
			ck_assert_msg(!strncmp(e->perms, "n$DOMID", 7), "%s: %s", e->name, e->perms);
		if (!strncmp(e->path, "/local/domain/0/", 16) || !strncmp(e->path, "/tool/", 6))
			ck_assert_msg(e->perms[0] == 'n' && e->perms[1] == '0', "%s: %s", e->name, e->perms);
		/* Guests may write only under their own home. */
		if (!strcmp(e->writer, "guest"))
			ck_assert_msg(!strncmp(e->path, "/local/domain/$DOMID/", 21), "%s", e->name);
	}
	xss_free(&s);
}
END_TEST

START_TEST(doc_and_header_cover_every_entry)
{
	struct xss_schema s;
	char err[256], *doc = NULL, *hdr = NULL;
	size_t dl, hl;

	ck_assert_int_eq(xss_load(SCHEMA, &s, err, sizeof(err)), 0);
	FILE *f = open_memstream(&doc, &dl);
	xss_emit_doc(&s, SCHEMA, f);
	fclose(f);
	f = open_memstream(&hdr, &hl);
	xss_emit_header(&s, f);
	fclose(f);
	for (size_t i = 0; i < s.n; i++) {
		ck_assert_ptr_nonnull(strstr(doc, s.entries[i].path));
		ck_assert_ptr_nonnull(strstr(doc, s.entries[i].desc));
		char fn[128];
		snprintf(fn, sizeof(fn), "xsp_%s(", s.entries[i].name);
		for (char *p = fn; *p; p++)
			if (*p == '-')
				*p = '_';
		ck_assert_msg(strstr(hdr, fn) != NULL, "no builder %s", fn);
	}
	free(doc);
	free(hdr);
	xss_free(&s);
}
END_TEST

/* Replace the first occurrence of `from` in the good entry and expect a parse error at `line`. */
static void expect_bad(const char *from, const char *to, unsigned int line, const char *why)
{
	char text[1024], err[256] = "", want[64];
	const char *at = strstr(good, from);
	struct xss_schema s;

	ck_assert_ptr_nonnull(at);
	snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
	ck_assert_int_eq(xss_parse(text, "t.schema", &s, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "t.schema:%u: ", line);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got '%s', want prefix '%s'", err, want);
	ck_assert_msg(strstr(err, why) != NULL, "got '%s', want '%s'", err, why);
}

START_TEST(parse_errors_name_the_line)
{
	struct xss_schema s;
	char err[256];

	ck_assert_int_eq(xss_parse(good, "t.schema", &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(s.n, 1);
	xss_free(&s);
	expect_bad("type = integer", "type = float", 3, "unknown type");
	expect_bad("writer = admin", "colour = red", 5, "unknown key");
	expect_bad("perms = n0 r$DOMID", "perms = x0", 1, "bad perms");
	expect_bad("perms = n0 r$DOMID", "perms = n00", 1, "bad perms");
	expect_bad("/tool/x/$DOMID", "/tool/x/$FOO", 1, "unknown variable");
	expect_bad("/tool/x/$DOMID", "tool/x", 1, "absolute");
	expect_bad("/tool/x/$DOMID", "/tool/x y", 1, "not allowed");
	expect_bad("/tool/x/$DOMID", "/tool//x", 1, "empty path component");
	expect_bad("writer = admin", "writer = anyone", 1, "unknown writer");
	expect_bad("desc = d\n", "", 1, "needs path");
	expect_bad("[a]", "[A]", 1, "bad entry name");
	expect_bad("[a]", "[a", 1, "bad section header");
	expect_bad("[a]\n", "x = 1\n[a]\n", 1, "outside an entry");
	expect_bad("when = w", "when = w\nwhen = v", 7, "given twice");
	expect_bad("when = w", "when", 6, "expected 'key = value'");
	expect_bad("group = g", "group =", 8, "is empty");
}
END_TEST

START_TEST(duplicate_and_empty)
{
	char text[2048], err[256];
	struct xss_schema s;

	snprintf(text, sizeof(text), "%s\n%s", good, good);
	ck_assert_int_eq(xss_parse(text, "t", &s, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "duplicate entry 'a'"));
	ck_assert_int_eq(xss_parse("# nothing\n", "t", &s, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "no entries"));
	ck_assert_int_eq(xss_load("/nonexistent/x.schema", &s, err, sizeof(err)), -ENOENT);
}
END_TEST

/* Live paths against the real schema: which entry, which bindings, which perms. */
START_TEST(live_paths_match_their_entries)
{
	struct xss_schema s;
	struct xss_match m;
	char err[256], perms[64];

	ck_assert_int_eq(xss_load(SCHEMA, &s, err, sizeof(err)), 0);
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/0/backend/xenshm/7/0/segment/12", &m), 0);
	ck_assert_str_eq(m.entry->name, "be-segment");
	ck_assert(!m.by_also);
	ck_assert_int_eq(m.bind.var[XSS_VAR_DOMID], 7);
	ck_assert_int_eq(m.bind.var[XSS_VAR_SEGID], 12);
	ck_assert_int_eq(xss_expected_perms(&m, perms, sizeof(perms)), 0);
	ck_assert_str_eq(perms, "n0 r7");
	/* The guest's side: owned by the guest, read by dom0. */
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/xenshm/1/state", &m), 0);
	ck_assert_int_eq(xss_expected_perms(&m, perms, sizeof(perms)), 0);
	ck_assert_str_eq(perms, "n7 r0");
	/* A domid written two ways in one path is not one domain. */
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/xenshm/01/state", &m), -ENOENT);
	/* also: a dir's children and a leaf's siblings. */
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/0/backend/memflex/7/51728/sectors", &m), 0);
	ck_assert_str_eq(m.entry->name, "mf-be-features");
	ck_assert(m.by_also);
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/vbd/51728/virtual-device", &m), 0);
	ck_assert_str_eq(m.entry->name, "mf-fe-dir");
	ck_assert(m.by_also);
	/* $IDX ends a component: ring-ref3, not ring-ref nor ring-refx. */
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/vbd/51728/ring-ref3", &m), 0);
	ck_assert_str_eq(m.entry->name, "mf-fe-ring-refs");
	ck_assert_int_eq(m.bind.var[XSS_VAR_IDX], 3);
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/vbd/51728/ring-ref", &m), 0);
	ck_assert_str_eq(m.entry->name, "mf-fe-ring-ref");
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/7/device/vbd/51728/ring-refx", &m), -ENOENT);
	/* Unknown keys, parents of entries, garbage paths. */
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/0/backend/xenshm/7/0/bogus", &m), -ENOENT);
	ck_assert(!xss_is_parent(&s, "/local/domain/0/backend/xenshm/7/0/bogus"));
	ck_assert(xss_is_parent(&s, "/local/domain/0/backend/xenshm/7"));
	ck_assert(xss_is_parent(&s, "/local/domain/0/backend/xenshm/7/0/segment"));
	ck_assert(!xss_is_parent(&s, "/local/domain/0/backend/xenshm/x7"));
	ck_assert_int_eq(xss_match_path(&s, "", &m), -ENOENT);
	ck_assert_int_eq(xss_match_path(&s, "/", &m), -ENOENT);
	ck_assert_int_eq(xss_match_path(&s, "/tool//xenshm", &m), -ENOENT);
	ck_assert_int_eq(xss_match_path(&s, "/local/domain/99999999999/device/xenshm/0", &m), -ENOENT);
	xss_free(&s);
}
END_TEST

static bool value_ok(const struct xss_schema *s, const char *path, const char *value, char *why)
{
	struct xss_match m;

	ck_assert_int_eq(xss_match_path(s, path, &m), 0);
	return xss_value_ok(m.entry, value, why, 128);
}

START_TEST(live_values_checked_by_type_and_range)
{
	struct xss_schema s;
	char err[256], why[128];

	ck_assert_int_eq(xss_load(SCHEMA, &s, err, sizeof(err)), 0);
	ck_assert(value_ok(&s, "/tool/xenshm/accept-pct", "90", why));
	ck_assert(!value_ok(&s, "/tool/xenshm/accept-pct", "49", why));
	ck_assert_msg(strstr(why, "below 50"), "%s", why);
	ck_assert(!value_ok(&s, "/tool/xenshm/accept-pct", "101", why));
	ck_assert(!value_ok(&s, "/tool/xenshm/accept-pct", "9x", why));
	ck_assert(!value_ok(&s, "/tool/xenshm/accept-pct", "", why));
	ck_assert(!value_ok(&s, "/tool/xenshm/accept-pct", "090", why));
	ck_assert(value_ok(&s, "/local/domain/0/backend/memflex/3/51728/size-kb", "65536", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/memflex/3/51728/size-kb", "65537", why));
	ck_assert_msg(strstr(why, "multiple of 4"), "%s", why);
	ck_assert(value_ok(&s, "/local/domain/3/device/xenshm/0/state", "4", why));
	ck_assert(!value_ok(&s, "/local/domain/3/device/xenshm/0/state", "0", why));
	ck_assert(!value_ok(&s, "/local/domain/3/device/xenshm/0/state", "9", why));
	ck_assert(value_ok(&s, "/local/domain/0/backend/memflex/3/51728/keep-store", "1", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/memflex/3/51728/keep-store", "2", why));
	ck_assert(value_ok(&s, "/local/domain/0/backend/xenshm/3/0/segment/1", "256 1 812", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/xenshm/3/0/segment/1", "256 3 812", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/xenshm/3/0/segment/1", "256 1 812 9", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/xenshm/3/0/segment/1", "0 1 812", why));
	ck_assert(value_ok(&s, "/local/domain/0/backend/xenshm/3/0/frontend", "/local/domain/3/device/xenshm/0", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/xenshm/3/0/frontend", "local", why));
	ck_assert(!value_ok(&s, "/local/domain/0/backend/xenshm/3/0/frontend-id", "32752", why));
	ck_assert(value_ok(&s, "/local/domain/3/device/xenshm/0/version", "1", why));
	ck_assert(!value_ok(&s, "/local/domain/3/device/xenshm/0/version", "2", why));
	xss_free(&s);
}
END_TEST

START_TEST(also_and_idx_in_the_grammar)
{
	char text[1024], err[256];
	struct xss_schema s;

	snprintf(text, sizeof(text), "%salso = x-y z\n", good);
	ck_assert_msg(xss_parse(text, "t", &s, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(s.entries[0].also, "x-y z");
	xss_free(&s);
	expect_bad("group = g", "group = g\nalso = a/b", 1, "in also");
	expect_bad("/tool/x/$DOMID", "/tool/x/$IDX", 1, "misplaced");
	expect_bad("/tool/x/$DOMID", "/tool/x/a$IDX/b", 1, "misplaced");
	expect_bad("/tool/x/$DOMID", "/tool/x/a$DOMID", 1, "misplaced");
	snprintf(text, sizeof(text), "%s", good);
	char *at = strstr(text, "/tool/x/$DOMID");
	memcpy(at, "/tool/x/r$IDX ", 14);
	ck_assert_msg(xss_parse(text, "t", &s, err, sizeof(err)) == 0, "%s", err);
	char *hdr = NULL;
	size_t hl;
	FILE *f = open_memstream(&hdr, &hl);
	xss_emit_header(&s, f);
	fclose(f);
	ck_assert_msg(strstr(hdr, "\"/tool/x/r%u\"") && strstr(hdr, "unsigned int idx)"), "%s", hdr);
	free(hdr);
	xss_free(&s);
}
END_TEST

Suite *schema_suite(void)
{
	Suite *s = suite_create("schema");
	TCase *tc = tcase_create("schema");

	tcase_add_test(tc, real_schema_loads_and_is_consistent);
	tcase_add_test(tc, doc_and_header_cover_every_entry);
	tcase_add_test(tc, parse_errors_name_the_line);
	tcase_add_test(tc, duplicate_and_empty);
	tcase_add_test(tc, live_paths_match_their_entries);
	tcase_add_test(tc, live_values_checked_by_type_and_range);
	tcase_add_test(tc, also_and_idx_in_the_grammar);
	suite_add_tcase(s, tc);
	return s;
}
