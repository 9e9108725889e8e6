// SPDX-License-Identifier: GPL-2.0-only
/* The fake XenStore against xenstore.txt: perms, watches, transactions, quotas, lifecycle. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_env.h"
#include "tests.h"

static char *rd(struct xo *x, const char *path, int *rc)
{
	char *v = NULL;
	*rc = xo_read_str(x, XO_TXN_NONE, path, &v);
	return v;
}

static int wr(struct xo *x, const char *path, const char *v)
{
	return xo_write_str(x, XO_TXN_NONE, path, v);
}

/* Drain all pending watch events; returns how many matched (path, token). */
static int drain(struct xo *x, const char *path, const char *token)
{
	char *p, *t;
	int n = 0;

	while (x->ops->xs_read_watch(x, &p, &t) == 0) {
		if ((!path || !strcmp(p, path)) && (!token || !strcmp(t, token)))
			n++;
		free(p);
		free(t);
	}
	return n;
}

/* Libxl-style device dirs for guest g: frontend owned by g, backend by dom0, each readable by the other. */
static void make_device(struct env *e, xo_domid_t g)
{
	char fe[128], be[128];
	struct xo_perm fep[2] = { { g, XO_PERM_NONE }, { 0, XO_PERM_READ } };
	struct xo_perm bep[2] = { { 0, XO_PERM_NONE }, { g, XO_PERM_READ } };

	snprintf(fe, sizeof(fe), "/local/domain/%u/device/xenshm/0", g);
	snprintf(be, sizeof(be), "/local/domain/0/backend/xenshm/%u/0", g);
	ck_assert_int_eq(e->d0->ops->xs_mkdir(e->d0, XO_TXN_NONE, fe), 0);
	ck_assert_int_eq(e->d0->ops->xs_set_perms(e->d0, XO_TXN_NONE, fe, fep, 2), 0);
	ck_assert_int_eq(e->d0->ops->xs_mkdir(e->d0, XO_TXN_NONE, be), 0);
	ck_assert_int_eq(e->d0->ops->xs_set_perms(e->d0, XO_TXN_NONE, be, bep, 2), 0);
	char key[160];
	snprintf(key, sizeof(key), "%s/state", be);
	ck_assert_int_eq(wr(e->d0, key, "1"), 0);
	snprintf(key, sizeof(key), "%s/state", fe);
	ck_assert_int_eq(wr(e->d0, key, "1"), 0);
}

START_TEST(read_write_rm_dir)
{
	struct env e;
	char *v, **names;
	unsigned int n;
	int rc;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/t/a", "1"), 0); /* creates /tool/t too */
	ck_assert_int_eq(wr(e.d0, "/tool/t/b", "22"), 0);
	v = rd(e.d0, "/tool/t/b", &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(v, "22");
	free(v);
	v = rd(e.d0, "/tool/t", &rc);
	ck_assert_str_eq(v, ""); /* intermediate nodes are empty */
	free(v);
	ck_assert_int_eq(e.d0->ops->xs_directory(e.d0, XO_TXN_NONE, "/tool/t", &names, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(!strcmp(names[0], "a") || !strcmp(names[1], "a"));
	xo_free_strv(names);
	ck_assert_int_eq(e.d0->ops->xs_rm(e.d0, XO_TXN_NONE, "/tool/t"), 0);
	rd(e.d0, "/tool/t/a", &rc);
	ck_assert_int_eq(rc, -ENOENT);
	/* Removing a missing child of an existing node succeeds (xenstored). */
	ck_assert_int_eq(e.d0->ops->xs_rm(e.d0, XO_TXN_NONE, "/tool/nothing"), 0);
	ck_assert_int_eq(e.d0->ops->xs_rm(e.d0, XO_TXN_NONE, "/tool/no/such"), -ENOENT);
	ck_assert_int_eq(e.d0->ops->xs_mkdir(e.d0, XO_TXN_NONE, "/tool/m"), 0);
	ck_assert_int_eq(e.d0->ops->xs_mkdir(e.d0, XO_TXN_NONE, "/tool/m"), 0); /* idempotent */
	env_fini(&e);
}
END_TEST

/* A backend's write never brings back a dir the toolstack removed (lab 92's leak). */
START_TEST(guarded_write_does_not_recreate)
{
	struct env e;
	char *v;
	int rc;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/be/1/frontend-id", "1"), 0);
	ck_assert_int_eq(xo_write_if_exists(e.d0, "/tool/be/1/frontend-id", "/tool/be/1/stats", "x=1"), 0);
	v = rd(e.d0, "/tool/be/1/stats", &rc);
	ck_assert_str_eq(v, "x=1");
	free(v);
	ck_assert_int_eq(e.d0->ops->xs_rm(e.d0, XO_TXN_NONE, "/tool/be/1"), 0);
	ck_assert_int_eq(xo_write_if_exists(e.d0, "/tool/be/1/frontend-id", "/tool/be/1/stats", "x=2"), -ENOENT);
	rd(e.d0, "/tool/be/1", &rc);
	ck_assert_int_eq(rc, -ENOENT);
	env_fini(&e);
}
END_TEST

START_TEST(binary_values)
{
	struct env e;
	char *v = NULL;
	size_t len;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_write(e.d0, XO_TXN_NONE, "/tool/bin", "a\0b", 3), 0);
	ck_assert_int_eq(e.d0->ops->xs_read(e.d0, XO_TXN_NONE, "/tool/bin", &v, &len), 0);
	ck_assert_uint_eq(len, 3);
	ck_assert_mem_eq(v, "a\0b", 3);
	free(v);
	/* As a string it is refused: it would silently read as "a". */
	ck_assert_int_eq(xo_read_str(e.d0, XO_TXN_NONE, "/tool/bin", &v), -EINVAL);
	env_fini(&e);
}
END_TEST

START_TEST(relative_paths)
{
	struct env e;
	char *v, path[64];
	int rc;

	env_init(&e);
	ck_assert_int_eq(wr(e.x1, "data/x", "hi"), 0);
	snprintf(path, sizeof(path), "/local/domain/%u/data/x", e.g1);
	v = rd(e.d0, path, &rc);
	ck_assert_str_eq(v, "hi");
	free(v);
	xo_domid_t me;
	ck_assert_int_eq(xo_self_domid(e.x1, &me), 0);
	ck_assert_uint_eq(me, e.g1);
	ck_assert_int_eq(xo_self_domid(e.d0, &me), 0);
	ck_assert_uint_eq(me, 0);
	env_fini(&e);
}
END_TEST

START_TEST(bad_paths)
{
	struct env e;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/a b", "1"), -EINVAL);
	ck_assert_int_eq(wr(e.d0, "/tool//a", "1"), -EINVAL);
	ck_assert_int_eq(wr(e.d0, "/tool/a/", "1"), -EINVAL);
	ck_assert_int_eq(wr(e.d0, "", "1"), -EINVAL);
	ck_assert_int_eq(wr(e.d0, "@releaseDomain", "1"), -EINVAL);
	ck_assert_int_eq(wr(e.d0, "/", "1"), -EINVAL);
	char *longp = malloc(3100);
	memset(longp, 'a', 3099);
	longp[0] = '/';
	longp[3099] = 0;
	ck_assert_int_eq(wr(e.d0, longp, "1"), -EINVAL);
	free(longp);
	env_fini(&e);
}
END_TEST

START_TEST(guest_cannot_touch_dom0_nodes)
{
	struct env e;
	int rc;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/xenshm/budget-kb", "1024"), 0);
	rd(e.x1, "/tool/xenshm/budget-kb", &rc);
	ck_assert_int_eq(rc, -EACCES);
	ck_assert_int_eq(wr(e.x1, "/tool/xenshm/budget-kb", "999999"), -EACCES);
	ck_assert_int_eq(e.x1->ops->xs_rm(e.x1, XO_TXN_NONE, "/tool/xenshm"), -EACCES);
	/* Not even existence leaks: a missing node under an unreadable one is EACCES too. */
	rd(e.x1, "/tool/xenshm/nope", &rc);
	ck_assert_int_eq(rc, -EACCES);
	/* Its own home is read-only to a guest (libxl), its data dir writable. */
	ck_assert_int_eq(wr(e.x1, "name", "evil"), -EACCES);
	ck_assert_int_eq(wr(e.x1, "data/ok", "1"), 0);
	env_fini(&e);
}
END_TEST

START_TEST(device_dir_permissions)
{
	struct env e;
	char path[128], *v;
	int rc;

	env_init(&e);
	make_device(&e, e.g1);
	make_device(&e, e.g2);
	/* The guest reads its backend dir but cannot write it. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u/0/state", e.g1);
	v = rd(e.x1, path, &rc);
	ck_assert_int_eq(rc, 0);
	ck_assert_str_eq(v, "1");
	free(v);
	ck_assert_int_eq(wr(e.x1, path, "4"), -EACCES);
	/* Another guest cannot read it. */
	rd(e.x2, path, &rc);
	ck_assert_int_eq(rc, -EACCES);
	/* The guest writes its frontend state; dom0 reads it; the other guest cannot. */
	snprintf(path, sizeof(path), "/local/domain/%u/device/xenshm/0/state", e.g1);
	ck_assert_int_eq(wr(e.x1, path, "3"), 0);
	v = rd(e.d0, path, &rc);
	ck_assert_str_eq(v, "3");
	free(v);
	rd(e.x2, path, &rc);
	ck_assert_int_eq(rc, -EACCES);
	ck_assert_int_eq(wr(e.x2, path, "6"), -EACCES);
	env_fini(&e);
}
END_TEST

START_TEST(creator_owns_inherited_perms)
{
	struct env e;
	char path[128];
	struct xo_perm *p;
	unsigned int n;

	env_init(&e);
	make_device(&e, e.g1);
	snprintf(path, sizeof(path), "/local/domain/%u/device/xenshm/0/version", e.g1);
	ck_assert_int_eq(wr(e.x1, path, "1"), 0);
	ck_assert_int_eq(e.d0->ops->xs_get_perms(e.d0, XO_TXN_NONE, path, &p, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(p[0].domid, e.g1);
	ck_assert_uint_eq(p[1].domid, 0);
	ck_assert_uint_eq(p[1].perms, XO_PERM_READ);
	free(p);
	/* dom0 creating under the guest's dir: inherits, owner stays the guest. */
	snprintf(path, sizeof(path), "/local/domain/%u/device/xenshm/0/backend-id", e.g1);
	ck_assert_int_eq(wr(e.d0, path, "0"), 0);
	ck_assert_int_eq(e.d0->ops->xs_get_perms(e.d0, XO_TXN_NONE, path, &p, &n), 0);
	ck_assert_uint_eq(p[0].domid, e.g1);
	free(p);
	env_fini(&e);
}
END_TEST

START_TEST(set_perms_rules)
{
	struct env e;
	struct xo_perm mine[2] = { { 0, XO_PERM_NONE }, { 0, XO_PERM_READ } };
	struct xo_perm give[1] = { { 0, XO_PERM_NONE } };
	struct xo_perm bad[1] = { { 0, 7 } };
	char path[64];
	int rc;

	env_init(&e);
	snprintf(path, sizeof(path), "/local/domain/%u/data/p", e.g1);
	ck_assert_int_eq(wr(e.x1, path, "x"), 0);
	mine[0].domid = e.g1;
	mine[1].domid = e.g2;
	ck_assert_int_eq(e.x1->ops->xs_set_perms(e.x1, XO_TXN_NONE, path, mine, 2), 0);
	char *v = rd(e.x2, path, &rc); /* now g2 may read */
	ck_assert_int_eq(rc, 0);
	free(v);
	/* Only dom0 can change the owner. */
	ck_assert_int_eq(e.x1->ops->xs_set_perms(e.x1, XO_TXN_NONE, path, give, 1), -EPERM);
	/* Only the owner can change perms. */
	ck_assert_int_eq(e.x2->ops->xs_set_perms(e.x2, XO_TXN_NONE, path, mine, 2), -EACCES);
	ck_assert_int_eq(e.d0->ops->xs_set_perms(e.d0, XO_TXN_NONE, path, give, 1), 0);
	ck_assert_int_eq(e.d0->ops->xs_set_perms(e.d0, XO_TXN_NONE, path, bad, 1), -EINVAL);
	ck_assert_int_eq(e.d0->ops->xs_set_perms(e.d0, XO_TXN_NONE, path, give, 0), -EINVAL);
	rd(e.x1, path, &rc);
	ck_assert_int_eq(rc, -EACCES); /* g1 gave it away */
	env_fini(&e);
}
END_TEST

START_TEST(watch_fires_on_register_and_below)
{
	struct env e;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/w", "tok"), 0);
	ck_assert_int_eq(drain(e.d0, "/tool/w", "tok"), 1); /* once on registration, node or not */
	ck_assert_int_eq(wr(e.d0, "/tool/w/a/b", "1"), 0);
	ck_assert_int_eq(drain(e.d0, "/tool/w/a/b", "tok"), 1);
	ck_assert_int_eq(wr(e.d0, "/tool/wx", "1"), 0); /* a sibling with the same prefix */
	ck_assert_int_eq(drain(e.d0, NULL, NULL), 0);
	ck_assert_int_eq(wr(e.d0, "/tool/w", "2"), 0);
	ck_assert_int_eq(drain(e.d0, "/tool/w", "tok"), 1);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/w", "tok"), -EEXIST);
	env_fini(&e);
}
END_TEST

START_TEST(watch_rm_fires_below)
{
	struct env e;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/r/a/b", "1"), 0);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/r/a/b", "child"), 0);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/r", "parent"), 0);
	drain(e.d0, NULL, NULL);
	ck_assert_int_eq(e.d0->ops->xs_rm(e.d0, XO_TXN_NONE, "/tool/r/a"), 0);
	/* Removing a node fires watches on it, above it and below it. */
	ck_assert_int_eq(drain(e.d0, NULL, "child") + 0, 1);
	env_fini(&e);
}
END_TEST

START_TEST(watch_needs_read_permission)
{
	struct env e;
	char path[128];

	env_init(&e);
	make_device(&e, e.g1);
	/* g2 watches g1's backend dir: registration works, but no events leak. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u/0", e.g1);
	ck_assert_int_eq(e.x2->ops->xs_watch(e.x2, path, "spy"), 0);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, path, "mine"), 0);
	drain(e.x2, NULL, NULL);
	drain(e.x1, NULL, NULL);
	char key[160];
	snprintf(key, sizeof(key), "%s/state", path);
	ck_assert_int_eq(wr(e.d0, key, "2"), 0);
	ck_assert_int_eq(drain(e.x2, NULL, NULL), 0);
	ck_assert_int_eq(drain(e.x1, key, "mine"), 1);
	env_fini(&e);
}
END_TEST

START_TEST(watch_relative_paths_and_unwatch)
{
	struct env e;
	char *p, *t;

	env_init(&e);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, "data", "rel"), 0);
	ck_assert_int_eq(drain(e.x1, "data", "rel"), 1);
	ck_assert_int_eq(wr(e.x1, "data/k", "v"), 0);
	ck_assert_int_eq(e.x1->ops->xs_read_watch(e.x1, &p, &t), 0);
	ck_assert_str_eq(p, "data/k"); /* reported relative, as registered */
	free(p);
	free(t);
	ck_assert_int_eq(wr(e.x1, "data/k", "w"), 0);
	ck_assert_int_eq(e.x1->ops->xs_unwatch(e.x1, "data", "rel"), 0);
	ck_assert_int_eq(drain(e.x1, NULL, NULL), 0); /* no stale event after unwatch */
	ck_assert_int_eq(e.x1->ops->xs_unwatch(e.x1, "data", "rel"), -ENOENT);
	env_fini(&e);
}
END_TEST

START_TEST(watch_fd_pollable)
{
	struct env e;
	struct pollfd pfd;

	env_init(&e);
	pfd.fd = e.d0->ops->xs_fd(e.d0);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/p", "t"), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	drain(e.d0, NULL, NULL);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(wr(e.d0, "/tool/p", "1"), 0);
	ck_assert_int_eq(poll(&pfd, 1, 100), 1);
	env_fini(&e);
}
END_TEST

START_TEST(watch_coalescing)
{
	struct env e;
	struct xo_fake_limits lim;

	env_init(&e);
	xo_fake_get_limits(e.w, &lim);
	lim.coalesce_watches = true;
	xo_fake_set_limits(e.w, &lim);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/c", "t"), 0);
	drain(e.d0, NULL, NULL);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(wr(e.d0, "/tool/c", "x"), 0);
	/* Five writes, one event: code must re-read state, never count events. */
	ck_assert_int_eq(drain(e.d0, "/tool/c", "t"), 1);
	env_fini(&e);
}
END_TEST

START_TEST(special_domain_watches)
{
	struct env e;
	xo_domid_t g3;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "@introduceDomain", "dom"), 0);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "@releaseDomain", "dom"), 0);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, "@releaseDomain", "g"), 0);
	drain(e.d0, NULL, NULL);
	drain(e.x1, NULL, NULL);
	ck_assert_int_eq(xo_fake_domain_create(e.w, "g3", &g3), 0);
	ck_assert_int_eq(drain(e.d0, "@introduceDomain", "dom"), 1);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, g3), 0);
	ck_assert_int_eq(drain(e.d0, "@releaseDomain", "dom"), 1);
	ck_assert_int_eq(drain(e.x1, NULL, NULL), 0); /* unprivileged: nothing */
	env_fini(&e);
}
END_TEST

START_TEST(txn_commit_and_isolation)
{
	struct env e;
	xo_txn_t t;
	char *v = NULL;
	int rc;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_watch(e.d0, "/tool/tx", "t"), 0);
	drain(e.d0, NULL, NULL);
	ck_assert_int_eq(e.d0->ops->xs_txn_start(e.d0, &t), 0);
	ck_assert_int_eq(xo_write_str(e.d0, t, "/tool/tx/a", "1"), 0);
	ck_assert_int_eq(xo_read_str(e.d0, t, "/tool/tx/a", &v), 0); /* sees its own write */
	ck_assert_str_eq(v, "1");
	free(v);
	rd(e.d0, "/tool/tx/a", &rc);
	ck_assert_int_eq(rc, -ENOENT); /* others do not, yet */
	ck_assert_int_eq(drain(e.d0, NULL, NULL), 0); /* nor do watches fire */
	ck_assert_int_eq(e.d0->ops->xs_txn_end(e.d0, t, false), 0);
	v = rd(e.d0, "/tool/tx/a", &rc);
	ck_assert_str_eq(v, "1");
	free(v);
	ck_assert_int_eq(drain(e.d0, "/tool/tx/a", "t"), 1);
	env_fini(&e);
}
END_TEST

START_TEST(txn_abort_discards)
{
	struct env e;
	xo_txn_t t;
	int rc;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_txn_start(e.d0, &t), 0);
	ck_assert_int_eq(xo_write_str(e.d0, t, "/tool/ab", "1"), 0);
	ck_assert_int_eq(e.d0->ops->xs_txn_end(e.d0, t, true), 0);
	rd(e.d0, "/tool/ab", &rc);
	ck_assert_int_eq(rc, -ENOENT);
	ck_assert_int_eq(e.d0->ops->xs_txn_end(e.d0, t, false), -ENOENT); /* gone */
	env_fini(&e);
}
END_TEST

START_TEST(txn_conflict_eagain)
{
	struct env e;
	xo_txn_t t;
	char *v = NULL;
	int rc;

	env_init(&e);
	ck_assert_int_eq(wr(e.d0, "/tool/cnt", "1"), 0);
	ck_assert_int_eq(e.d0->ops->xs_txn_start(e.d0, &t), 0);
	ck_assert_int_eq(xo_read_str(e.d0, t, "/tool/cnt", &v), 0);
	free(v);
	ck_assert_int_eq(wr(e.x1, "data/unrelated", "x"), 0); /* no conflict from this */
	ck_assert_int_eq(wr(e.d0, "/tool/cnt", "5"), 0);      /* but from this */
	ck_assert_int_eq(xo_write_str(e.d0, t, "/tool/cnt", "2"), 0);
	ck_assert_int_eq(e.d0->ops->xs_txn_end(e.d0, t, false), -EAGAIN);
	v = rd(e.d0, "/tool/cnt", &rc);
	ck_assert_str_eq(v, "5"); /* the failed transaction left nothing */
	free(v);
	env_fini(&e);
}
END_TEST

START_TEST(txn_conflict_on_created_node)
{
	struct env e;
	xo_txn_t t;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->xs_txn_start(e.d0, &t), 0);
	ck_assert_int_eq(xo_write_str(e.d0, t, "/tool/new", "mine"), 0);
	ck_assert_int_eq(wr(e.d0, "/tool/new", "theirs"), 0);
	ck_assert_int_eq(e.d0->ops->xs_txn_end(e.d0, t, false), -EAGAIN);
	env_fini(&e);
}
END_TEST

struct incr_arg { int dummy; };

static int incr_body(struct xo *x, xo_txn_t t, void *arg)
{
	char *v = NULL, buf[32];
	unsigned long long n = 0;
	int rc = xo_read_str(x, t, "/tool/counter", &v);

	(void)arg;
	if (rc == 0)
		rc = xo_parse_uint(v, 1000000, &n);
	free(v);
	if (rc && rc != -ENOENT)
		return rc;
	snprintf(buf, sizeof(buf), "%llu", n + 1);
	return xo_write_str(x, t, "/tool/counter", buf);
}

static void *incr_thread(void *arg)
{
	struct xo *x = arg;

	for (int i = 0; i < 200; i++)
		if (xo_transaction(x, 1000, incr_body, NULL))
			return (void *)1;
	return NULL;
}

START_TEST(txn_retry_loop_under_contention)
{
	struct env e;
	struct xo *d0b;
	pthread_t a, b;
	void *ra, *rb;
	char *v;
	int rc;

	env_init(&e);
	ck_assert_int_eq(xo_fake_open(e.w, 0, &d0b), 0);
	pthread_create(&a, NULL, incr_thread, e.d0);
	pthread_create(&b, NULL, incr_thread, d0b);
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	ck_assert_ptr_null(ra);
	ck_assert_ptr_null(rb);
	v = rd(e.d0, "/tool/counter", &rc);
	ck_assert_str_eq(v, "400"); /* no lost update */
	free(v);
	xo_close(d0b);
	env_fini(&e);
}
END_TEST

START_TEST(txn_fault_injection)
{
	struct env e;
	int calls = 0;

	env_init(&e);
	xo_fake_inject(e.w, XO_FAULT_TXN_END, -EAGAIN, 3);
	ck_assert_int_eq(xo_transaction(e.d0, 10, incr_body, &calls), 0);
	xo_fake_inject(e.w, XO_FAULT_TXN_END, -EAGAIN, 50);
	ck_assert_int_eq(xo_transaction(e.d0, 5, incr_body, &calls), -EAGAIN); /* bounded */
	xo_fake_inject(e.w, XO_FAULT_TXN_END, 0, 0);
	env_fini(&e);
}
END_TEST

START_TEST(quota_nodes_watches_txns_values)
{
	struct env e;
	struct xo_fake_limits lim;
	char path[64];
	xo_txn_t t[4];

	env_init(&e);
	xo_fake_get_limits(e.w, &lim);
	lim.xs_nodes_per_domain = 5;
	lim.xs_watches_per_domain = 2;
	lim.xs_txns_per_domain = 2;
	lim.xs_value_max = 16;
	xo_fake_set_limits(e.w, &lim);
	struct xo_fake_counts before;
	xo_fake_counts(e.w, e.g1, &before);
	ck_assert_uint_ge(before.xs_nodes_owned, 1); /* its data dir */
	int ok = 0, rc = 0;
	for (int i = 0; i < 10 && !rc; i++) {
		snprintf(path, sizeof(path), "data/n%d", i);
		rc = wr(e.x1, path, "x");
		if (!rc)
			ok++;
	}
	ck_assert_int_eq(rc, -EDQUOT);
	ck_assert_int_eq(ok, 5 - (int)before.xs_nodes_owned);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, "data/a", "1"), 0);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, "data/b", "2"), 0);
	ck_assert_int_eq(e.x1->ops->xs_watch(e.x1, "data/c", "3"), -E2BIG);
	ck_assert_int_eq(e.x1->ops->xs_txn_start(e.x1, &t[0]), 0);
	ck_assert_int_eq(e.x1->ops->xs_txn_start(e.x1, &t[1]), 0);
	ck_assert_int_eq(e.x1->ops->xs_txn_start(e.x1, &t[2]), -ENOSPC);
	ck_assert_int_eq(e.x1->ops->xs_write(e.x1, XO_TXN_NONE, "data/n0", "12345678901234567", 17), -ENOSPC);
	/* dom0 is exempt. */
	for (int i = 0; i < 10; i++) {
		snprintf(path, sizeof(path), "/tool/q%d", i);
		ck_assert_int_eq(wr(e.d0, path, "x"), 0);
	}
	ck_assert_int_eq(e.d0->ops->xs_txn_start(e.d0, &t[3]), 0);
	struct xo_fake_counts c;
	xo_fake_counts(e.w, e.g1, &c);
	ck_assert_uint_eq(c.xs_watches, 2);
	env_fini(&e);
}
END_TEST

START_TEST(write_fault_injection)
{
	struct env e;

	env_init(&e);
	xo_fake_inject(e.w, XO_FAULT_XS_WRITE, -EDQUOT, 1);
	ck_assert_int_eq(wr(e.d0, "/tool/f", "1"), -EDQUOT);
	ck_assert_int_eq(wr(e.d0, "/tool/f", "1"), 0);
	env_fini(&e);
}
END_TEST

START_TEST(destroy_removes_domain_nodes)
{
	struct env e;
	char path[128];
	char *v;
	int rc;

	env_init(&e);
	make_device(&e, e.g1);
	ck_assert_int_eq(wr(e.x1, "data/mine", "1"), 0);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, e.g1), 0);
	snprintf(path, sizeof(path), "/local/domain/%u", e.g1);
	rd(e.d0, path, &rc);
	ck_assert_int_eq(rc, -ENOENT);
	/* The backend dir is dom0's: cleaning it is the backend's job, so it stays. */
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u/0/state", e.g1);
	v = rd(e.d0, path, &rc);
	ck_assert_int_eq(rc, 0);
	free(v);
	/* The dead domain's handle no longer works. */
	rd(e.x1, "data/mine", &rc);
	ck_assert_int_eq(rc, -ESRCH);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, e.g1), -ESRCH);
	struct xo_fake_counts c;
	xo_fake_counts(e.w, e.g1, &c);
	ck_assert_uint_eq(c.xs_nodes_owned, 0);
	env_fini(&e);
}
END_TEST

static int equals(const char *value, int read_rc, void *arg)
{
	return !read_rc && !strcmp(value, arg);
}

static int fail_on_missing(const char *value, int read_rc, void *arg)
{
	(void)value;
	(void)arg;
	return read_rc == -ENOENT ? -ENOENT : 0;
}

struct later { struct xo *x; };

static void *write_later(void *arg)
{
	struct later *l = arg;
	usleep(50000);
	xo_write_str(l->x, XO_TXN_NONE, "/tool/wait/k", "go");
	return NULL;
}

START_TEST(wait_node_helper)
{
	struct env e;
	struct xo *d0b;
	pthread_t th;

	env_init(&e);
	ck_assert_int_eq(xo_fake_open(e.w, 0, &d0b), 0);
	ck_assert_int_eq(wr(e.d0, "/tool/wait/k", "ready"), 0);
	ck_assert_int_eq(xo_wait_node(e.d0, "/tool/wait/k", 1000, equals, "ready"), 0); /* already there */
	ck_assert_int_eq(xo_wait_node(e.d0, "/tool/wait/k", 100, equals, "never"), -ETIMEDOUT);
	struct later l = { d0b };
	pthread_create(&th, NULL, write_later, &l);
	ck_assert_int_eq(xo_wait_node(e.d0, "/tool/wait/k", 3000, equals, "go"), 0); /* woken by the watch */
	pthread_join(th, NULL);
	ck_assert_int_eq(xo_wait_node(e.d0, "/tool/wait/none", 1000, fail_on_missing, NULL), -ENOENT);
	ck_assert_uint_eq(e.d0->ops->xs_unwatch(e.d0, "/tool/wait/k", "xo-wait-node"), -ENOENT); /* cleaned up */
	xo_close(d0b);
	env_fini(&e);
}
END_TEST

Suite *fake_xs_suite(void)
{
	Suite *s = suite_create("fake-xenstore");
	TCase *tc = tcase_create("xs");

	tcase_add_test(tc, read_write_rm_dir);
	tcase_add_test(tc, guarded_write_does_not_recreate);
	tcase_add_test(tc, binary_values);
	tcase_add_test(tc, relative_paths);
	tcase_add_test(tc, bad_paths);
	tcase_add_test(tc, guest_cannot_touch_dom0_nodes);
	tcase_add_test(tc, device_dir_permissions);
	tcase_add_test(tc, creator_owns_inherited_perms);
	tcase_add_test(tc, set_perms_rules);
	tcase_add_test(tc, watch_fires_on_register_and_below);
	tcase_add_test(tc, watch_rm_fires_below);
	tcase_add_test(tc, watch_needs_read_permission);
	tcase_add_test(tc, watch_relative_paths_and_unwatch);
	tcase_add_test(tc, watch_fd_pollable);
	tcase_add_test(tc, watch_coalescing);
	tcase_add_test(tc, special_domain_watches);
	tcase_add_test(tc, txn_commit_and_isolation);
	tcase_add_test(tc, txn_abort_discards);
	tcase_add_test(tc, txn_conflict_eagain);
	tcase_add_test(tc, txn_conflict_on_created_node);
	tcase_add_test(tc, txn_retry_loop_under_contention);
	tcase_add_test(tc, txn_fault_injection);
	tcase_add_test(tc, quota_nodes_watches_txns_values);
	tcase_add_test(tc, write_fault_injection);
	tcase_add_test(tc, destroy_removes_domain_nodes);
	tcase_add_test(tc, wait_node_helper);
	suite_add_tcase(s, tc);
	return s;
}
