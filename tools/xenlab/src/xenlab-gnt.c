// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenlab-gnt: proves on real Xen what xenshm relies on, through xenshm's
 * own Xen layer (xenops_real.c):
 *
 *   dom0:  xenlab-gnt share DOMID NPAGES      grant pages, wait for the guest's write-back
 *   guest: xenlab-gnt map [--hold SECONDS]    map, verify, write back, notify
 *   dom0:  xenlab-gnt pingpong-server DOMID N event-channel round trips (dom0 side)
 *   guest: xenlab-gnt pingpong-client N       (guest side), prints p50/p99 RTT
 *   dom0:  xenlab-gnt leakcheck DOMID NPAGES LIMIT
 *          grant NPAGES, let the guest map them, `xl destroy` it, unshare,
 *          and show the gntalloc budget (LIMIT pages) is whole again
 *
 * The rendezvous is the guest's ~/data/xenlab-gnt: dom0 writes grefs and
 * port there in one transaction; the guest reads them as untrusted input.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/xenops.h"

#define MAXPAGES 1024
#define PG XO_PAGE_SIZE

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pattern(unsigned int page, unsigned int off)
{
	return (uint8_t)((page * 131u + off * 7u + 1u) & 0xff);
}

static uint8_t inverted(unsigned int page, unsigned int off)
{
	return (uint8_t)(0xffu ^ pattern(page, off));
}

static int die(const char *what, int rc)
{
	fprintf(stderr, "xenlab-gnt: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	return 1;
}

/* Wait for an event on port; -ETIMEDOUT after timeout_ms. */
static int wait_event(struct xo *x, xo_port_t port, int timeout_ms)
{
	double deadline = now() + timeout_ms / 1000.0;

	for (;;) {
		xo_port_t p;
		int rc = x->ops->evtchn_pending(x, &p);
		if (rc == 0) {
			x->ops->evtchn_unmask(x, p);
			if (p == port)
				return 0;
			continue;
		}
		if (rc != -EAGAIN)
			return rc;
		double left = deadline - now();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd pfd = { .fd = x->ops->evtchn_fd(x), .events = POLLIN };
		poll(&pfd, 1, (int)(left * 1000) + 1);
	}
}

struct publish_arg {
	const char *base;
	const xo_gref_t *refs;
	unsigned int n;
	xo_port_t port;
};

static int publish_body(struct xo *x, xo_txn_t t, void *arg)
{
	struct publish_arg *a = arg;
	char path[128], *list = malloc((size_t)a->n * 11 + 1);
	size_t off = 0;
	int rc;

	if (!list)
		return -ENOMEM;
	for (unsigned int i = 0; i < a->n; i++)
		off += (size_t)sprintf(list + off, "%s%u", i ? " " : "", a->refs[i]);
	snprintf(path, sizeof(path), "%s/grefs", a->base);
	rc = xo_write_str(x, t, path, list);
	free(list);
	snprintf(path, sizeof(path), "%s/port", a->base);
	if (!rc)
		rc = xo_printf(x, t, path, "%u", a->port);
	snprintf(path, sizeof(path), "%s/npages", a->base);
	if (!rc)
		rc = xo_printf(x, t, path, "%u", a->n);
	return rc;
}

static int publish(struct xo *x, xo_domid_t domid, const xo_gref_t *refs, unsigned int n,
		   xo_port_t port)
{
	char base[96];
	struct publish_arg a = { base, refs, n, port };

	snprintf(base, sizeof(base), "/local/domain/%u/data/xenlab-gnt", domid);
	x->ops->xs_rm(x, XO_TXN_NONE, base);
	return xo_transaction(x, 20, publish_body, &a);
}

static int cmd_share(xo_domid_t domid, unsigned int n, int timeout_s)
{
	struct xo *x;
	xo_gref_t refs[MAXPAGES];
	xo_port_t port;
	uint8_t *pages;
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_GNTSHR | XO_OPEN_EVTCHN), bad = 0;

	if (rc)
		return die("open", rc);
	double t0 = now();
	rc = x->ops->gnt_share(x, domid, n, true, refs, (void **)&pages);
	if (rc)
		return die("gnt_share", rc);
	double t_share = now() - t0;
	for (unsigned int p = 0; p < n; p++)
		for (unsigned int o = 0; o < PG; o++)
			pages[p * PG + o] = pattern(p, o);
	rc = x->ops->evtchn_bind_unbound(x, domid, &port);
	if (rc)
		return die("evtchn_bind_unbound", rc);
	rc = publish(x, domid, refs, n, port);
	if (rc)
		return die("publish", rc);
	/* XENLAB_CTRL: also a separate one-page grant that dom0 keeps writing, as xenshmd's control
	 * page (an experiment of the platform fault hunt, docs/xenlab.md). */
	volatile uint32_t *ctrl = NULL;
	xo_gref_t ctrl_ref = 0;
	unsigned int ctrl_pages = 1;
	if (getenv("XENLAB_CTRL")) {
		void *page;
		char path[96];
		xo_gref_t crefs[8];
		/* XENLAB_CTRL_PAGES: grant that many pages in the call; the guest maps only the first. */
		if (getenv("XENLAB_CTRL_PAGES"))
			ctrl_pages = (unsigned int)atoi(getenv("XENLAB_CTRL_PAGES"));
		if (ctrl_pages < 1 || ctrl_pages > 8)
			ctrl_pages = 1;
		rc = x->ops->gnt_share(x, domid, ctrl_pages, true, crefs, &page);
		ctrl_ref = crefs[0];
		if (rc)
			return die("gnt_share ctrl", rc);
		ctrl = page;
		snprintf(path, sizeof(path), "/local/domain/%u/data/xenlab-gnt/ctrl", domid);
		rc = xo_printf(x, XO_TXN_NONE, path, "%u", ctrl_ref);
		if (rc)
			return die("publish ctrl", rc);
	}
	printf("dom0: shared %u pages with domain %u (gref %u..., %.3f ms), port %u\n", n, domid,
	       refs[0], t_share * 1e3, port);
	fflush(stdout);
	if (ctrl) {
		double end = now() + timeout_s;
		bool quiet = getenv("XENLAB_CTRL_QUIET") != NULL; /* granted, never written by dom0 */
		do {
			if (!quiet)
				ctrl[0]++;
			rc = wait_event(x, port, 1);
		} while (rc == -ETIMEDOUT && now() < end);
	} else {
		rc = wait_event(x, port, timeout_s * 1000);
	}
	if (rc)
		return die("waiting for the guest's event", rc);
	for (unsigned int p = 0; p < n; p++)
		for (unsigned int o = 4; o < PG; o++)
			if (pages[p * PG + o] != inverted(p, o))
				bad++;
	int acked = !memcmp(pages, "ACK", 3);
	printf("dom0: guest wrote back %s, %d bad bytes\n", acked ? "ACK" : "no ACK", bad);
	x->ops->gnt_unshare(x, pages, n);
	if (ctrl)
		x->ops->gnt_unshare(x, (void *)ctrl, ctrl_pages);
	x->ops->evtchn_unbind(x, port);
	xo_close(x);
	return (bad || !acked) ? 1 : 0;
}

/* Read the rendezvous as untrusted input: strict numbers, bounded counts. */
static int read_rendezvous(struct xo *x, xo_gref_t *refs, unsigned int *n, xo_port_t *port)
{
	char *untrusted_grefs = NULL, *v = NULL;
	unsigned long long val = 0;
	int rc;

	rc = xo_read_str(x, XO_TXN_NONE, "data/xenlab-gnt/npages", &v);
	if (!rc)
		rc = xo_parse_uint(v, MAXPAGES, &val);
	free(v);
	if (rc || val == 0)
		return rc ? rc : -EINVAL;
	*n = (unsigned int)val;
	rc = xo_read_str(x, XO_TXN_NONE, "data/xenlab-gnt/port", &v);
	if (!rc)
		rc = xo_parse_uint(v, 1u << 17, &val);
	free(v);
	if (rc)
		return rc;
	*port = (xo_port_t)val;
	rc = xo_read_str(x, XO_TXN_NONE, "data/xenlab-gnt/grefs", &untrusted_grefs);
	if (rc)
		return rc;
	char *save = NULL, *tok = strtok_r(untrusted_grefs, " ", &save);
	unsigned int i;
	for (i = 0; tok && i < *n; i++, tok = strtok_r(NULL, " ", &save)) {
		rc = xo_parse_uint(tok, UINT32_MAX, &val);
		if (rc)
			break;
		refs[i] = (xo_gref_t)val;
	}
	if (!rc && (i != *n || tok))
		rc = -EINVAL;
	free(untrusted_grefs);
	return rc;
}

static int cmd_map(int hold_s)
{
	struct xo *x;
	xo_gref_t refs[MAXPAGES];
	xo_port_t rport, port;
	unsigned int n;
	uint8_t *pages;
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_GNTTAB | XO_OPEN_EVTCHN), bad = 0;

	if (rc)
		return die("open", rc);
	for (int i = 0; i < 100 && (rc = read_rendezvous(x, refs, &n, &rport)) == -ENOENT; i++)
		usleep(100000);
	if (rc)
		return die("reading data/xenlab-gnt", rc);
	void *extra = NULL;
	/* XENLAB_EXTRA_MAP: hold the last page as a separate 1-page mapping, as libxenshm holds its
	 * control page (an experiment of the platform fault hunt, docs/xenlab.md). */
	if (getenv("XENLAB_EXTRA_MAP")) {
		rc = x->ops->gnt_map(x, 0, 1, &refs[n - 1], false, &extra);
		if (rc)
			return die("extra gnt_map", rc);
	}
	double t0 = now();
	rc = x->ops->gnt_map(x, 0, getenv("XENLAB_EXTRA_MAP") ? n - 1 : n, refs, true, (void **)&pages);
	if (rc)
		return die("gnt_map", rc);
	double t_map = now() - t0;
	if (extra)
		n--; /* the last page is the extra mapping's */
	for (unsigned int p = 0; p < n; p++)
		for (unsigned int o = 0; o < PG; o++)
			if (pages[p * PG + o] != pattern(p, o))
				bad++;
	printf("guest: mapped %u pages (%.3f ms), %d bad bytes\n", n, t_map * 1e3, bad);
	for (unsigned int p = 0; p < n; p++)
		for (unsigned int o = 4; o < PG; o++)
			pages[p * PG + o] = inverted(p, o);
	memcpy(pages, "ACK", 3); /* NOLINT(bugprone-not-null-terminated-result): a 3-byte tag, not a string */
	/* Read back what this guest wrote, as a user of the memory would. */
	int self_bad = 0;
	for (unsigned int p = 0; p < n; p++)
		for (unsigned int o = 4; o < PG; o++)
			if (pages[p * PG + o] != inverted(p, o))
				self_bad++;
	printf("guest: read back its own write: %d bad bytes\n", self_bad);
	bad += self_bad;
	/* XENLAB_MEMTEST: is this process's own memory intact while it maps grants? */
	if (getenv("XENLAB_MEMTEST")) {
		static uint8_t pat_buf[65536];
		uint8_t stack_buf[65536];
		uint8_t *heap = malloc(1 << 20);
		long mbad = 0;
		char *v = NULL;
		unsigned long long cref;
		volatile uint32_t *ctrl = NULL;
		void *cpage = NULL;
		if (!xo_read_str(x, XO_TXN_NONE, "data/xenlab-gnt/ctrl", &v) && !xo_parse_uint(v, UINT32_MAX, &cref)) {
			xo_gref_t r1 = (xo_gref_t)cref;
			if (!x->ops->gnt_map(x, 0, 1, &r1, true, &cpage))
				ctrl = cpage;
			printf("guest: control-like page %s\n", ctrl ? "mapped" : "NOT mapped");
		}
		free(v);
		for (size_t off = 0; heap && off < (1u << 20); off += sizeof(stack_buf)) {
			for (size_t i = 0; i < sizeof(stack_buf); i++)
				stack_buf[i] = (uint8_t)((off + i) * 7 + 3);
			memcpy(heap + off, stack_buf, sizeof(stack_buf));
			if (ctrl)
				ctrl[1]++;
		}
		for (size_t off = 0; heap && off < (1u << 20); off += sizeof(pat_buf)) {
			memcpy(stack_buf, heap + off, sizeof(stack_buf));
			for (size_t i = 0; i < sizeof(stack_buf); i++)
				mbad += stack_buf[i] != (uint8_t)((off + i) * 7 + 3);
		}
		if (cpage)
			x->ops->gnt_unmap(x, cpage, 1);
		printf("guest: memtest while mapped: %ld bad bytes\n", mbad);
		bad += (int)mbad;
		free(heap);
	}
	rc = x->ops->evtchn_bind_interdomain(x, 0, rport, &port);
	if (rc)
		return die("evtchn_bind_interdomain", rc);
	rc = x->ops->evtchn_notify(x, port);
	if (rc)
		return die("evtchn_notify", rc);
	xo_write_str(x, XO_TXN_NONE, "data/xenlab-gnt/mapped", "1");
	fflush(stdout);
	if (hold_s > 0)
		sleep((unsigned int)hold_s); /* keep the mapping: dom0 destroys us meanwhile */
	x->ops->gnt_unmap(x, pages, n);
	x->ops->evtchn_unbind(x, port);
	xo_close(x);
	return bad ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmd_pingpong_server(xo_domid_t domid, unsigned int rounds)
{
	struct xo *x;
	xo_port_t port;
	xo_gref_t dummy = 0;
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_EVTCHN);

	if (rc)
		return die("open", rc);
	rc = x->ops->evtchn_bind_unbound(x, domid, &port);
	if (rc)
		return die("evtchn_bind_unbound", rc);
	rc = publish(x, domid, &dummy, 1, port);
	if (rc)
		return die("publish", rc);
	for (unsigned int i = 0; i < rounds; i++) {
		rc = wait_event(x, port, 30000);
		if (rc)
			return die("waiting for ping", rc);
		x->ops->evtchn_notify(x, port);
	}
	printf("dom0: answered %u pings on port %u\n", rounds, port);
	x->ops->evtchn_unbind(x, port);
	xo_close(x);
	return 0;
}

static int cmd_pingpong_client(unsigned int rounds)
{
	struct xo *x;
	xo_gref_t refs[1];
	unsigned int n;
	xo_port_t rport, port;
	double *rtt = calloc(rounds, sizeof(*rtt));
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_EVTCHN);

	if (rc || !rtt) {
		free(rtt);
		return die("open", rc ? rc : -ENOMEM);
	}
	for (int i = 0; i < 100 && (rc = read_rendezvous(x, refs, &n, &rport)) == -ENOENT; i++)
		usleep(100000);
	if (rc)
		return free(rtt), die("reading data/xenlab-gnt", rc);
	rc = x->ops->evtchn_bind_interdomain(x, 0, rport, &port);
	if (rc)
		return free(rtt), die("evtchn_bind_interdomain", rc);
	/*
	 * Xen sets the new local port pending on an interdomain bind (notifications sent to the
	 * unbound port are not lost). Taken as the first pong, it would put the client one round
	 * ahead: pings then coalesce in the server, which waits for one that never comes.
	 */
	rc = wait_event(x, port, 500);
	if (rc && rc != -ETIMEDOUT)
		return free(rtt), die("draining the bind event", rc);
	for (unsigned int i = 0; i < rounds; i++) {
		double t0 = now();
		x->ops->evtchn_notify(x, port);
		rc = wait_event(x, port, 30000);
		if (rc)
			return free(rtt), die("waiting for pong", rc);
		rtt[i] = now() - t0;
	}
	qsort(rtt, rounds, sizeof(*rtt), cmp_double);
	printf("guest: %u event-channel round trips: p50 %.0f us, p99 %.0f us, max %.0f us\n", rounds,
	       rtt[rounds / 2] * 1e6, rtt[(rounds * 99) / 100] * 1e6, rtt[rounds - 1] * 1e6);
	x->ops->evtchn_unbind(x, port);
	xo_close(x);
	free(rtt);
	return 0;
}

static int cmd_leakcheck(xo_domid_t domid, unsigned int n, unsigned int limit)
{
	struct xo *x;
	xo_gref_t refs[MAXPAGES], *big = calloc(limit, sizeof(*big));
	xo_port_t port;
	uint8_t *pages;
	void *all;
	char path[96], *v = NULL, cmd[64];
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_GNTSHR | XO_OPEN_EVTCHN | XO_OPEN_CTRL);

	if (rc || !big) {
		free(big);
		return die("open", rc ? rc : -ENOMEM);
	}
	/* Before: the whole budget can be granted at once. */
	rc = x->ops->gnt_share(x, domid, limit, true, big, &all);
	if (rc)
		return die("granting the whole gntalloc limit before the test", rc);
	x->ops->gnt_unshare(x, all, limit);
	rc = x->ops->gnt_share(x, domid, n, true, refs, (void **)&pages);
	if (rc)
		return die("gnt_share", rc);
	rc = x->ops->evtchn_bind_unbound(x, domid, &port);
	if (!rc)
		rc = publish(x, domid, refs, n, port);
	if (rc)
		return die("publish", rc);
	snprintf(path, sizeof(path), "/local/domain/%u/data/xenlab-gnt/mapped", domid);
	for (int i = 0; i < 300 && xo_read_str(x, XO_TXN_NONE, path, &v); i++)
		usleep(100000);
	if (!v)
		return die("the guest never mapped the pages", -ETIMEDOUT);
	free(v);
	/* While the guest maps them, those pages are out of the budget. */
	rc = x->ops->gnt_share(x, domid, limit, true, big, &all);
	printf("dom0: guest maps %u pages; granting %u more: %s\n", n, limit,
	       rc ? strerror(-rc) : "succeeded (unexpected)");
	if (!rc)
		return 1;
	snprintf(cmd, sizeof(cmd), "xl destroy %u", domid);
	if (system(cmd) != 0)
		return die("xl destroy", -EIO);
	double t0 = now();
	struct xo_dominfo info;
	while (x->ops->domain_info(x, domid, &info) == 0 && now() - t0 < 30)
		usleep(50000);
	printf("dom0: domain %u gone after %.2f s\n", domid, now() - t0);
	rc = x->ops->gnt_unshare(x, pages, n);
	if (rc)
		return die("gnt_unshare after destroy", rc);
	/* Grants freed lazily (gntalloc's deferred free): poll for the whole budget. */
	double t1 = now();
	do {
		rc = x->ops->gnt_share(x, 0, limit, true, big, &all);
		if (!rc)
			break;
		usleep(100000);
	} while (now() - t1 < 10);
	if (rc)
		return die("the gntalloc budget did not come back", rc);
	printf("dom0: after unshare the whole budget of %u pages is grantable again (%.2f s)\n", limit,
	       now() - t1);
	x->ops->gnt_unshare(x, all, limit);
	x->ops->evtchn_unbind(x, port);
	xo_close(x);
	free(big);
	return 0;
}

/* Time plain gntshr calls: share and unshare `n` pages, as xenshmd would for one segment. */
static int cmd_sharetime(xo_domid_t domid, unsigned int n)
{
	struct xo *x;
	xo_gref_t *refs = calloc(n, sizeof(*refs));
	void *pages;
	int rc = xo_real_open(&x, XO_OPEN_GNTSHR);

	if (rc || !refs) {
		free(refs);
		return die("open", rc ? rc : -ENOMEM);
	}
	double t0 = now();
	rc = x->ops->gnt_share(x, domid, n, true, refs, &pages);
	double t_share = now() - t0;
	if (rc)
		return die("gnt_share", rc);
	t0 = now();
	x->ops->gnt_unshare(x, pages, n);
	printf("gntshr %u pages: share_ms=%.1f unshare_ms=%.1f\n", n, t_share * 1e3, (now() - t0) * 1e3);
	xo_close(x);
	free(refs);
	return 0;
}

static int num(const char *s, unsigned long long max, unsigned long long *out)
{
	int rc = xo_parse_uint(s, max, out);
	if (rc)
		fprintf(stderr, "xenlab-gnt: bad number '%s'\n", s);
	return rc;
}

int main(int argc, char **argv)
{
	unsigned long long a = 0, b = 0, c = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 4 && !strcmp(argv[1], "share") && !num(argv[2], 0x7fef, &a) &&
	    !num(argv[3], MAXPAGES, &b) && b)
		return cmd_share((xo_domid_t)a, (unsigned int)b, 60);
	if (argc >= 2 && !strcmp(argv[1], "map")) {
		if (argc == 4 && !strcmp(argv[2], "--hold") && !num(argv[3], 3600, &a))
			return cmd_map((int)a);
		return cmd_map(0);
	}
	if (argc == 4 && !strcmp(argv[1], "pingpong-server") && !num(argv[2], 0x7fef, &a) &&
	    !num(argv[3], 1000000, &b) && b)
		return cmd_pingpong_server((xo_domid_t)a, (unsigned int)b);
	if (argc == 3 && !strcmp(argv[1], "pingpong-client") && !num(argv[2], 1000000, &a) && a)
		return cmd_pingpong_client((unsigned int)a);
	if (argc == 5 && !strcmp(argv[1], "leakcheck") && !num(argv[2], 0x7fef, &a) &&
	    !num(argv[3], MAXPAGES, &b) && !num(argv[4], 1u << 20, &c) && b && c)
		return cmd_leakcheck((xo_domid_t)a, (unsigned int)b, (unsigned int)c);
	if (argc == 4 && !strcmp(argv[1], "sharetime") && !num(argv[2], 0x7fef, &a) &&
	    !num(argv[3], 1u << 20, &b) && b)
		return cmd_sharetime((xo_domid_t)a, (unsigned int)b);
	fprintf(stderr, "usage: xenlab-gnt share DOMID NPAGES | map [--hold S] | sharetime DOMID NPAGES |\n"
			"       pingpong-server DOMID N | pingpong-client N | leakcheck DOMID NPAGES LIMIT\n");
	return 2;
}
