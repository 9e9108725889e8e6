// SPDX-License-Identifier: LGPL-2.1-only
/*
 * Helpers over the xenops table that every layer needs: strict parsing of
 * untrusted XenStore values and the transaction retry loop.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenshm/xenops.h"

void xo_free_strv(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

int xo_read_str(struct xo *x, xo_txn_t t, const char *path, char **out)
{
	size_t len = 0;
	char *v = NULL;
	int rc = x->ops->xs_read(x, t, path, &v, &len);

	if (rc)
		return rc;
	/* Values may hold NULs; a string with one inside is not the string we asked for. */
	if (strlen(v) != len) {
		free(v);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int xo_write_str(struct xo *x, xo_txn_t t, const char *path, const char *value)
{
	return x->ops->xs_write(x, t, path, value, strlen(value));
}

int xo_printf(struct xo *x, xo_txn_t t, const char *path, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -ENAMETOOLONG;
	return x->ops->xs_write(x, t, path, buf, (size_t)n);
}

int xo_parse_uint(const char *untrusted, unsigned long long max, unsigned long long *out)
{
	unsigned long long v = 0;
	const char *p = untrusted;

	if (!p || !*p)
		return -EINVAL;
	if (p[0] == '0' && p[1])
		return -EINVAL; /* leading zeros: not the canonical form anybody writes */
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned int d = (unsigned int)(*p - '0');
		if (v > (max - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

struct guarded_write {
	const char *guard, *path, *value;
};

static int guarded_write_body(struct xo *x, xo_txn_t t, void *arg)
{
	const struct guarded_write *g = arg;
	char *v = NULL;
	size_t len = 0;
	int rc = x->ops->xs_read(x, t, g->guard, &v, &len);

	free(v);
	return rc ? rc : x->ops->xs_write(x, t, g->path, g->value, strlen(g->value));
}

int xo_write_if_exists(struct xo *x, const char *guard, const char *path, const char *value)
{
	struct guarded_write g = { guard, path, value };

	return xo_transaction(x, 20, guarded_write_body, &g);
}

int xo_read_uint(struct xo *x, xo_txn_t t, const char *path, unsigned long long max, unsigned long long *out)
{
	char *untrusted = NULL;
	int rc = xo_read_str(x, t, path, &untrusted);

	if (!rc)
		rc = xo_parse_uint(untrusted, max, out);
	free(untrusted);
	return rc;
}

int xo_parse_domid(const char *untrusted, xo_domid_t *out)
{
	unsigned long long v;
	int rc = xo_parse_uint(untrusted, XO_DOMID_FIRST_RESERVED - 1, &v);

	if (!rc)
		*out = (xo_domid_t)v;
	return rc;
}

int xo_transaction(struct xo *x, unsigned int tries,
		   int (*body)(struct xo *x, xo_txn_t t, void *arg), void *arg)
{
	unsigned int delay_us = 100;
	int rc = -EAGAIN;

	for (unsigned int i = 0; i < tries && rc == -EAGAIN; i++) {
		xo_txn_t t;
		if (i) {
			struct timespec ts = { 0, (long)delay_us * 1000 };
			nanosleep(&ts, NULL);
			if (delay_us < 100000)
				delay_us *= 2;
		}
		rc = x->ops->xs_txn_start(x, &t);
		if (rc)
			return rc;
		rc = body(x, t, arg);
		if (rc) {
			x->ops->xs_txn_end(x, t, true);
			if (rc == -EAGAIN)
				continue; /* a read inside saw a torn state: retry */
			return rc;
		}
		rc = x->ops->xs_txn_end(x, t, false);
	}
	return rc;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

int xo_wait_node(struct xo *x, const char *path, int timeout_ms,
		 int (*check)(const char *value, int read_rc, void *arg), void *arg)
{
	static const char token[] = "xo-wait-node";
	struct timespec t0;
	int rc = x->ops->xs_watch(x, path, token);

	if (rc)
		return rc;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		char *v = NULL, *p, *t;
		int read_rc = xo_read_str(x, XO_TXN_NONE, path, &v);
		rc = check(read_rc ? NULL : v, read_rc, arg);
		free(v);
		if (rc)
			break;
		long left = timeout_ms - ms_since(&t0);
		if (left <= 0) {
			rc = -ETIMEDOUT;
			break;
		}
		struct pollfd pfd = { .fd = x->ops->xs_fd(x), .events = POLLIN };
		poll(&pfd, 1, (int)left);
		/* Events only say "look again": the value read above is what counts. */
		while (x->ops->xs_read_watch(x, &p, &t) == 0) {
			free(p);
			free(t);
		}
	}
	x->ops->xs_unwatch(x, path, token);
	return rc > 0 ? 0 : rc;
}

int xo_domain_name(struct xo *x, xo_domid_t domid, char **out)
{
	char path[48];

	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	return xo_read_str(x, XO_TXN_NONE, path, out);
}

int xo_self_domid(struct xo *x, xo_domid_t *out)
{
	char *v = NULL;
	int rc = xo_read_str(x, XO_TXN_NONE, "domid", &v);

	if (!rc)
		rc = xo_parse_domid(v, out);
	free(v);
	return rc;
}

unsigned int xo_cmdline_grant_frames(const char *cmdline)
{
	static const char key[] = "gnttab_max_frames=";
	unsigned int frames = XO_XEN_DEFAULT_GRANT_FRAMES;

	/* Xen parses left to right: the last occurrence wins. */
	for (const char *p = cmdline; p && (p = strstr(p, key)); p += sizeof(key) - 1) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		char val[16];
		size_t n = strcspn(p + sizeof(key) - 1, " ");
		unsigned long long v;
		if (n == 0 || n >= sizeof(val))
			continue;
		memcpy(val, p + sizeof(key) - 1, n);
		val[n] = 0;
		if (!xo_parse_uint(val, 1u << 20, &v) && v)
			frames = (unsigned int)v;
	}
	return frames;
}

int xo_list_ids(struct xo *x, const char *path, uint32_t max_id, uint32_t *ids, unsigned int max,
		unsigned int *n)
{
	char **names = NULL;
	unsigned int count = 0;
	int rc = x->ops->xs_directory(x, XO_TXN_NONE, path, &names, &count);

	*n = 0;
	if (rc)
		return rc;
	for (unsigned int i = 0; i < count && *n < max; i++) {
		unsigned long long id;
		if (xo_parse_uint(names[i], max_id, &id))
			continue;
		unsigned int j = (*n)++;
		while (j > 0 && ids[j - 1] > id) { /* insertion sort: XenStore lists in any order */
			ids[j] = ids[j - 1];
			j--;
		}
		ids[j] = (uint32_t)id;
	}
	xo_free_strv(names);
	return 0;
}
