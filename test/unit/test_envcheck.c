// SPDX-License-Identifier: GPL-2.0-only
/* The environment checks shared by xenshmd and `xenshm check`, over a made-up /dev and /sys. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../dom0/envcheck.h"
#include "fake_env.h"
#include "tests.h"

struct reports {
	int fatal, warnings;
	char text[2048];
};

static void collect(void *arg, bool fatal, const char *what, const char *fix)
{
	struct reports *r = arg;
	size_t off = strlen(r->text);

	*(fatal ? &r->fatal : &r->warnings) += 1;
	snprintf(r->text + off, sizeof(r->text) - off, "%s: %s\n", what, fix);
}

static void put_file(const char *root, const char *path, const char *content)
{
	char full[512], dir[512];

	snprintf(full, sizeof(full), "%s%s", root, path);
	/* mkdir -p of the parent */
	snprintf(dir, sizeof(dir), "%s", full);
	for (char *p = dir + strlen(root) + 1; (p = strchr(p, '/')); p++) {
		*p = 0;
		mkdir(dir, 0755);
		*p = '/';
	}
	FILE *f = fopen(full, "w");
	ck_assert_ptr_nonnull(f);
	fputs(content, f);
	fclose(f);
}

static void make_root(char *root, size_t len, const char *limit)
{
	snprintf(root, len, "/tmp/xenshm-envcheck-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	put_file(root, "/dev/xen/gntalloc", "");
	put_file(root, "/dev/xen/evtchn", "");
	put_file(root, "/sys/module/xen_gntalloc/parameters/limit", limit);
}

static void rm_root(const char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	ck_assert_int_eq(system(cmd), 0);
}

START_TEST(cmdline_grant_frames)
{
	ck_assert_uint_eq(xo_cmdline_grant_frames(""), 64);
	ck_assert_uint_eq(xo_cmdline_grant_frames(NULL), 64);
	ck_assert_uint_eq(xo_cmdline_grant_frames("console=com1 gnttab_max_frames=256 smap=0"), 256);
	ck_assert_uint_eq(xo_cmdline_grant_frames("gnttab_max_frames=128"), 128);
	/* Xen reads left to right: the last one wins; malformed values and look-alikes do not count. */
	ck_assert_uint_eq(xo_cmdline_grant_frames("gnttab_max_frames=32 gnttab_max_frames=512"), 512);
	ck_assert_uint_eq(xo_cmdline_grant_frames("gnttab_max_frames=12x"), 64);
	ck_assert_uint_eq(xo_cmdline_grant_frames("gnttab_max_frames= x"), 64);
	ck_assert_uint_eq(xo_cmdline_grant_frames("xgnttab_max_frames=512"), 64);
	ck_assert_uint_eq(xo_cmdline_grant_frames("gnttab_max_frames=0"), 64);
}
END_TEST

START_TEST(ready_host_reports_nothing)
{
	struct env e;
	struct xo_fake_limits lim;
	struct reports r = { 0 };
	char root[64];

	env_init(&e);
	xo_fake_get_limits(e.w, &lim);
	snprintf(lim.xen_cmdline, sizeof(lim.xen_cmdline), "console=com1 gnttab_max_frames=256");
	xo_fake_set_limits(e.w, &lim);
	make_root(root, sizeof(root), "65536\n");
	/* 64512 pages + the 1024-grant margin: exactly the gntalloc limit, well within 256 frames. */
	ck_assert_int_eq(xshm_env_check(e.d0, root, 64512, collect, &r), 0);
	ck_assert_msg(r.warnings == 0 && r.fatal == 0, "%s", r.text);
	rm_root(root);
	env_fini(&e);
}
END_TEST

START_TEST(each_problem_with_its_fix)
{
	struct env e;
	struct reports r = { 0 };
	char root[64], path[600];

	env_init(&e); /* fake Xen: no gnttab_max_frames on its command line, so 64 frames */
	make_root(root, sizeof(root), "1024\n");
	ck_assert_int_eq(xshm_env_check(e.d0, root, 65536, collect, &r), 0);
	ck_assert_int_eq(r.warnings, 2);
	ck_assert_msg(strstr(r.text, "xen-gntalloc limit is 1024 pages; a budget of 65536 pages needs 66560"), "%s", r.text);
	ck_assert_msg(strstr(r.text, "'options xen_gntalloc limit=66560' in /etc/modprobe.d/xenshm.conf"), "%s", r.text);
	ck_assert_msg(strstr(r.text, "Xen allows dom0 64 grant frames (32768 grants)"), "%s", r.text);
	ck_assert_msg(strstr(r.text, "add gnttab_max_frames=130 to GRUB_CMDLINE_XEN_DEFAULT"), "%s", r.text);
	/* Modules missing: fatal, with the modprobe line. */
	memset(&r, 0, sizeof(r));
	snprintf(path, sizeof(path), "%s/dev/xen/gntalloc", root);
	ck_assert_int_eq(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/dev/xen/evtchn", root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(xshm_env_check(e.d0, root, 512, collect, &r), 2);
	ck_assert_msg(strstr(r.text, "'modprobe xen-gntalloc limit=1536'"), "%s", r.text);
	ck_assert_msg(strstr(r.text, "'modprobe xen-evtchn'"), "%s", r.text);
	rm_root(root);
	env_fini(&e);
}
END_TEST

Suite *envcheck_suite(void)
{
	Suite *s = suite_create("envcheck");
	TCase *tc = tcase_create("envcheck");

	tcase_add_test(tc, cmdline_grant_frames);
	tcase_add_test(tc, ready_host_reports_nothing);
	tcase_add_test(tc, each_problem_with_its_fix);
	suite_add_tcase(s, tc);
	return s;
}
