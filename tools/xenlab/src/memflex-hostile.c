// SPDX-License-Identifier: GPL-2.0-only
/*
 * memflex-hostile: a guest that plays blkfront for a MemFlex disk and then
 * misbehaves, for the lab's hostile-frontend test (test/lab/92-memflex-hostile.sh).
 * The guest's own xen-blkfront must not own the disk (the test unloads it).
 *
 *   memflex-hostile DEVID garbage N   N requests of random bytes: each must be
 *                                     answered, and the disk stay connected
 *   memflex-hostile DEVID flood S     its event channel kicked with nothing queued for S
 *                                     seconds; then one honest read must still be answered
 *   memflex-hostile DEVID index       req_prod thrown 2^31 past what was consumed:
 *                                     xenshmd must close the disk with an error node
 *
 * It walks blkif's handshake itself over the project's thin Xen layer: ring
 * page and 11 data pages granted to dom0, an unbound port, protocol,
 * feature-persistent, state Initialised, and waits for Connected.  The garbage requests keep the
 * granted data pages' refs in some segments (so some reads and writes are
 * well-formed enough to run) and random values everywhere else.  One
 * "key=value" line at the end; the lab decides from dom0's side.
 * Exit 0 when the case went as planned, 1 otherwise.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xenshm/blkif.h"
#include "xenshm/xenbus.h"
#include "xenshm/xenops.h"
#include "xenshm/xspaths.h"

#define TIMEOUT_MS 10000
#define DATA_PAGES XBLK_MAX_SEGMENTS

struct hfe {
	struct xo *x;
	xo_domid_t me;
	uint32_t devid;
	struct xblk_sring *sring;
	uint32_t nr_ents, req_prod, rsp_cons;
	unsigned long long sectors;     /* the disk's size, 512-byte units, as the backend says */
	xo_gref_t ring_ref, data_refs[DATA_PAGES];
	void *data;
	xo_port_t port;
	uint64_t rng;
};

static uint64_t next_rand(struct hfe *f)
{
	f->rng ^= f->rng << 13;
	f->rng ^= f->rng >> 7;
	f->rng ^= f->rng << 17;
	return f->rng;
}

static int state_is(const char *value, int read_rc, void *arg)
{
	unsigned long long st;
	int want = *(const int *)arg;

	if (read_rc)
		return read_rc == -ENOENT ? 0 : read_rc;
	if (xo_parse_uint(value, 8, &st))
		return 0;
	if (want == XB_CONNECTED && st == XB_CLOSED)
		return -ECONNREFUSED;
	return (int)st == want;
}

static int wait_backend(struct hfe *f, int want, int timeout_ms)
{
	char path[XSP_MAX];

	xsp_mf_be_state(path, sizeof(path), f->me, f->devid);
	return xo_wait_node(f->x, path, timeout_ms, state_is, &want);
}

static int fe_write(struct hfe *f, int (*make)(char *, size_t, unsigned int, unsigned int), const char *fmt,
		    unsigned long long v)
{
	char path[XSP_MAX];
	int rc = make(path, sizeof(path), f->me, f->devid);

	return rc ? rc : xo_printf(f->x, XO_TXN_NONE, path, fmt, v);
}

static int handshake(struct hfe *f)
{
	struct xo *x = f->x;
	void *ring;
	int rc;

	rc = fe_write(f, xsp_mf_fe_state, "%llu", XB_INITIALISING);
	if (!rc)
		rc = wait_backend(f, XB_INITWAIT, TIMEOUT_MS);
	if (rc) {
		fprintf(stderr, "memflex-hostile: backend never reached InitWait: %s\n", strerror(-rc));
		return rc;
	}
	rc = x->ops->gnt_share(x, 0, 1, true, &f->ring_ref, &ring);
	if (!rc)
		rc = x->ops->gnt_share(x, 0, DATA_PAGES, true, f->data_refs, &f->data);
	if (!rc)
		rc = x->ops->evtchn_bind_unbound(x, 0, &f->port);
	if (rc) {
		fprintf(stderr, "memflex-hostile: grant the ring or bind a port: %s\n", strerror(-rc));
		return rc;
	}
	f->sring = ring;
	f->nr_ents = xblk_ring_entries(1);
	char path[XSP_MAX];
	rc = fe_write(f, xsp_mf_fe_ring_ref, "%llu", f->ring_ref);
	if (!rc)
		rc = fe_write(f, xsp_mf_fe_event_channel, "%llu", f->port);
	if (!rc)
		rc = xsp_mf_fe_protocol(path, sizeof(path), f->me, f->devid);
	if (!rc)
		rc = xo_write_str(x, XO_TXN_NONE, path, "x86_64-abi");
	/* As Debian's blkfront: persistent grants, so that garbage refs meet xenshmd's mapping too. */
	if (!rc)
		rc = fe_write(f, xsp_mf_fe_persistent, "%llu", 1);
	if (!rc)
		rc = fe_write(f, xsp_mf_fe_state, "%llu", XB_INITIALISED);
	if (!rc)
		rc = wait_backend(f, XB_CONNECTED, TIMEOUT_MS);
	if (!rc)
		rc = fe_write(f, xsp_mf_fe_state, "%llu", XB_CONNECTED);
	char dir[XSP_MAX];
	if (!rc)
		rc = xsp_mf_be_dir(dir, sizeof(dir), f->me, f->devid);
	if (!rc)
		rc = snprintf(path, sizeof(path), "%s/sectors", dir) < (int)sizeof(path) ? 0 : -ENAMETOOLONG;
	if (!rc)
		rc = xo_read_uint(x, XO_TXN_NONE, path, UINT64_MAX, &f->sectors);
	return rc;
}

static void push(struct hfe *f)
{
	__atomic_store_n(&f->sring->req_prod, f->req_prod, __ATOMIC_RELEASE);
	f->x->ops->evtchn_notify(f->x, f->port);
}

/*
 * One request of random bytes.  A third of them are nearly right: an operation
 * among the first eight, 1-11 segments on our data pages at a page-aligned
 * sector inside the disk, and whole-page segments for half of those; so some
 * run, and the rest are wrong in one field or a few.
 */
static void garbage_request(struct hfe *f, union xblk_request *req, uint64_t id)
{
	uint64_t *w = (uint64_t *)req;

	for (size_t i = 0; i < sizeof(*req) / sizeof(*w); i++)
		w[i] = next_rand(f);
	req->rw.id = id;
	if (id % 3 || f->sectors < 8)
		return;
	req->rw.operation = (uint8_t)(next_rand(f) % 8);
	req->rw.nr_segments = (uint8_t)(1 + next_rand(f) % XBLK_MAX_SEGMENTS);
	req->rw.sector_number = next_rand(f) % (f->sectors / 8) * 8;
	bool whole = next_rand(f) & 1;
	for (unsigned int s = 0; s < XBLK_MAX_SEGMENTS; s++) {
		req->rw.seg[s].gref = f->data_refs[s];
		if (whole) {
			req->rw.seg[s].first_sect = 0;
			req->rw.seg[s].last_sect = 7;
		}
	}
}

static int case_garbage(struct hfe *f, unsigned long long n)
{
	unsigned long long sent = 0, answered = 0, okay = 0, errors = 0, wrong_id = 0;
	struct timespec pause = { 0, 1000000 };
	int idle = 0;

	while (answered < n && idle < TIMEOUT_MS) {
		/* Keep at most half the ring in flight: a full ring is the index case's business. */
		while (sent < n && f->req_prod - f->rsp_cons < f->nr_ents / 2) {
			union xblk_request req;
			garbage_request(f, &req, 1000000 + sent);
			memcpy(&f->sring->ring[f->req_prod % f->nr_ents].req, &req, sizeof(req));
			f->req_prod++;
			sent++;
		}
		push(f);
		uint32_t prod = __atomic_load_n(&f->sring->rsp_prod, __ATOMIC_ACQUIRE);
		if (prod == f->rsp_cons) {
			nanosleep(&pause, NULL);
			idle++;
			continue;
		}
		idle = 0;
		for (; f->rsp_cons != prod; f->rsp_cons++) {
			struct xblk_response rsp = f->sring->ring[f->rsp_cons % f->nr_ents].rsp;
			wrong_id += rsp.id != 1000000 + answered;
			if (rsp.status == XBLK_RSP_OKAY)
				okay++;
			else
				errors++;
			answered++;
		}
	}
	char path[XSP_MAX], *state = NULL;
	xsp_mf_be_state(path, sizeof(path), f->me, f->devid);
	if (xo_read_str(f->x, XO_TXN_NONE, path, &state))
		state = NULL;
	printf("garbage: sent=%llu answered=%llu okay=%llu errors=%llu wrong_id=%llu backend_state=%s\n", sent,
	       answered, okay, errors, wrong_id, state ? state : "?");
	int rc = answered == n && !wrong_id && state && atoi(state) == XB_CONNECTED ? 0 : -EPROTO;
	free(state);
	return rc;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Kicks with nothing queued for `seconds`, then one honest read: it must still be answered. */
static int case_flood(struct hfe *f, unsigned long long seconds)
{
	unsigned long long kicks = 0;
	uint64_t t0 = ms_now(), waited = 0;
	struct timespec pause = { 0, 1000000 };

	while (ms_now() - t0 < seconds * 1000u) {
		for (int i = 0; i < 64; i++)
			f->x->ops->evtchn_notify(f->x, f->port);
		kicks += 64;
	}
	union xblk_request req;
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_READ;
	req.rw.nr_segments = 1;
	req.rw.id = 42;
	req.rw.seg[0].gref = f->data_refs[0];
	req.rw.seg[0].last_sect = 7;
	memcpy(&f->sring->ring[f->req_prod % f->nr_ents].req, &req, sizeof(req));
	f->req_prod++;
	uint64_t t1 = ms_now();
	push(f);
	while (__atomic_load_n(&f->sring->rsp_prod, __ATOMIC_ACQUIRE) == f->rsp_cons && waited < TIMEOUT_MS) {
		nanosleep(&pause, NULL);
		waited++;
	}
	bool answered = __atomic_load_n(&f->sring->rsp_prod, __ATOMIC_ACQUIRE) != f->rsp_cons;
	struct xblk_response rsp = f->sring->ring[f->rsp_cons % f->nr_ents].rsp;
	if (answered)
		f->rsp_cons++;
	printf("flood: kicks=%llu read_answered=%s status=%d ms=%llu\n", kicks, answered ? "yes" : "no",
	       answered ? rsp.status : 99, (unsigned long long)(ms_now() - t1));
	return answered && rsp.id == 42 && rsp.status == XBLK_RSP_OKAY ? 0 : -EPROTO;
}

static int case_index(struct hfe *f)
{
	char path[XSP_MAX], *err = NULL;

	f->req_prod = f->rsp_cons + (1u << 31);
	push(f);
	int rc = wait_backend(f, XB_CLOSED, TIMEOUT_MS);
	xsp_mf_be_error(path, sizeof(path), f->me, f->devid);
	if (xo_read_str(f->x, XO_TXN_NONE, path, &err))
		err = NULL;
	printf("index: backend_closed=%s error=\"%s\"\n", rc ? "no" : "yes", err ? err : "");
	rc = !rc && err ? 0 : -EPROTO;
	free(err);
	return rc;
}

static int usage(void)
{
	fprintf(stderr, "usage: memflex-hostile DEVID garbage N | flood SECONDS | index\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long long devid, n = 0;
	struct hfe f;
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || xo_parse_uint(argv[1], UINT32_MAX, &devid))
		return usage();
	const char *c = argv[2];
	bool counted = !strcmp(c, "garbage") || !strcmp(c, "flood");
	if (counted ? argc != 4 || xo_parse_uint(argv[3], 1000000, &n) || !n : argc != 3 || strcmp(c, "index"))
		return usage();
	memset(&f, 0, sizeof(f));
	f.devid = (uint32_t)devid;
	f.rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
	rc = xo_real_open(&f.x, XO_OPEN_XS | XO_OPEN_GNTSHR | XO_OPEN_EVTCHN);
	if (!rc)
		rc = xo_self_domid(f.x, &f.me);
	if (rc) {
		fprintf(stderr, "memflex-hostile: Xen: %s\n", strerror(-rc));
		return 1;
	}
	rc = handshake(&f);
	if (rc)
		fprintf(stderr, "memflex-hostile: handshake: %s\n", strerror(-rc));
	else
		rc = !strcmp(c, "garbage") ? case_garbage(&f, n) : !strcmp(c, "flood") ? case_flood(&f, n) : case_index(&f);
	/* No goodbye: exiting is what a crashing frontend gives. */
	xo_close(f.x);
	return rc ? 1 : 0;
}
