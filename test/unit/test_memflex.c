// SPDX-License-Identifier: GPL-2.0-only
/*
 * MemFlex: the tiered store alone, then the blkif backend in xenshmd driven
 * by a small blkfront of the test's own on the fake Xen.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "../../backend/memflex.h"
#include "../../backend/mfstore.h"
#include "../../dom0/devdirs.h"
#include "../../tools/cli.h"
#include "xenshm/blkif.h"
#include "xenshm/xspaths.h"
#include "daemon_env.h"
#include "tests.h"

/* ---------------------------------------------------------------- the store alone */

struct quota {
	uint64_t used, limit;
};

static int q_charge(void *arg, uint64_t pages, bool force)
{
	struct quota *q = arg;

	if (!force && q->used + pages > q->limit)
		return -EDQUOT;
	q->used += pages;
	return 0;
}

static void q_release(void *arg, uint64_t pages)
{
	struct quota *q = arg;

	ck_assert_uint_ge(q->used, pages);
	q->used -= pages;
}

struct store_env {
	char dir[64], mem[96], disk[96];
	struct quota q;
	struct mf_account_ops ops;
	struct mf_store s;
	uint8_t bounce[MF_PAGE];
};

static void senv_init(struct store_env *e, uint64_t limit)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->dir, sizeof(e->dir), "/tmp/xenshm-mfstore.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(e->dir));
	snprintf(e->mem, sizeof(e->mem), "%s/m", e->dir);
	snprintf(e->disk, sizeof(e->disk), "%s/d", e->dir);
	e->q.limit = limit;
	e->ops = (struct mf_account_ops){ .charge = q_charge, .release = q_release, .arg = &e->q };
}

static void senv_fini(struct store_env *e)
{
	unlink(e->mem);
	unlink(e->disk);
	rmdir(e->dir);
}

static void fill(uint8_t *p, uint64_t page, unsigned int round)
{
	for (unsigned int i = 0; i < MF_PAGE; i++)
		p[i] = (uint8_t)(page * 131 + i * 7 + round * 29 + 1);
}

/* Write one whole page through the store's two-step interface, as the backend does. */
static int store_put(struct store_env *e, uint64_t page, const uint8_t *data)
{
	uint8_t *dst;
	int rc = mf_store_write_begin(&e->s, page, 0, MF_PAGE, e->bounce, &dst);

	if (rc)
		return rc;
	memcpy(dst, data, MF_PAGE);
	return mf_store_write_end(&e->s, page, 0, MF_PAGE, dst, true);
}

static void store_expect(struct store_env *e, uint64_t page, const uint8_t *want)
{
	const uint8_t *src;

	ck_assert_int_eq(mf_store_read(&e->s, page, 0, e->bounce, &src), 0);
	ck_assert_msg(!memcmp(src, want, MF_PAGE), "page %llu differs", (unsigned long long)page);
}

START_TEST(store_tiers_and_accounting)
{
	struct store_env e;
	uint8_t page[MF_PAGE], zero[MF_PAGE] = { 0 };
	bool again;

	senv_init(&e, 2);
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 64, &e.ops, &again), 0);
	ck_assert(!again);
	/* Two pages fit the quota; the next two go to the spill file. */
	for (uint64_t p = 0; p < 4; p++) {
		fill(page, p, 0);
		ck_assert_int_eq(store_put(&e, p, page), 0);
	}
	ck_assert_uint_eq(e.q.used, 2);
	ck_assert_uint_eq(e.s.st.in_mem, 2);
	ck_assert_uint_eq(e.s.st.on_disk, 2);
	ck_assert_uint_eq(e.s.st.spilled, 2);
	ck_assert_int_eq(mf_store_tier(&e.s, 0), MF_MEM);
	ck_assert_int_eq(mf_store_tier(&e.s, 3), MF_DISK);
	for (uint64_t p = 0; p < 4; p++) {
		fill(page, p, 0);
		store_expect(&e, p, page);
	}
	/* Never written reads as zeros and costs nothing. */
	store_expect(&e, 10, zero);
	ck_assert_int_eq(mf_store_tier(&e.s, 10), MF_ZERO);
	/* A page of zeros is a flag, and frees the memory its old contents held. */
	ck_assert_int_eq(store_put(&e, 0, zero), 0);
	ck_assert_int_eq(mf_store_tier(&e.s, 0), MF_ZERO);
	ck_assert_uint_eq(e.q.used, 1);
	ck_assert_uint_eq(e.s.st.zero_writes, 1);
	/* With room again, a page rewritten on disk comes back to memory. */
	fill(page, 3, 1);
	ck_assert_int_eq(store_put(&e, 3, page), 0);
	ck_assert_int_eq(mf_store_tier(&e.s, 3), MF_MEM);
	ck_assert_uint_eq(e.s.st.on_disk, 1);
	store_expect(&e, 3, page);
	/* Discard gives back memory and disk at once. */
	mf_store_discard(&e.s, 0, 64);
	ck_assert_uint_eq(e.q.used, 0);
	ck_assert_uint_eq(e.s.st.in_mem, 0);
	ck_assert_uint_eq(e.s.st.on_disk, 0);
	store_expect(&e, 3, zero);
	mf_store_close(&e.s, true);
	ck_assert_int_eq(access(e.mem, F_OK), -1);
	ck_assert_int_eq(access(e.disk, F_OK), -1);
	senv_fini(&e);
}
END_TEST

/* Is page p of file fd backed by data (not a hole)? */
static bool page_has_data(const char *path, uint64_t p)
{
	int fd = open(path, O_RDONLY);
	off_t at = lseek(fd, (off_t)(p * MF_PAGE), SEEK_DATA);

	close(fd);
	return at == (off_t)(p * MF_PAGE);
}

START_TEST(store_discard_frees_only_its_range)
{
	struct store_env e;
	uint8_t page[MF_PAGE], zero[MF_PAGE] = { 0 };
	bool again;

	senv_init(&e, 5); /* pages 0-4 in memory, 5-9 on disk, 10 never written */
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 16, &e.ops, &again), 0);
	for (uint64_t p = 0; p < 10; p++) {
		fill(page, p, 0);
		ck_assert_int_eq(store_put(&e, p, page), 0);
	}
	ck_assert_int_eq(mf_store_tier(&e.s, 4), MF_MEM);
	ck_assert_int_eq(mf_store_tier(&e.s, 5), MF_DISK);
	/* Across both tiers and past the written pages: runs of each tier, one hole each. */
	mf_store_discard(&e.s, 2, 9);
	ck_assert_uint_eq(e.q.used, 2);
	ck_assert_uint_eq(e.s.st.in_mem, 2);
	ck_assert_uint_eq(e.s.st.on_disk, 0);
	ck_assert_uint_eq(e.s.st.discards, 9);
	/* The pages each file held: kept ones still data, discarded ones holes.  (Pages a file never
	 * held are not asked about: a file system may count a hole's page in its cache as data.) */
	for (uint64_t p = 0; p < 16; p++) {
		bool kept = p < 2;
		if (p < 5)
			ck_assert_msg(page_has_data(e.mem, p) == kept, "memory file page %llu", (unsigned long long)p);
		else if (p < 10)
			ck_assert_msg(!page_has_data(e.disk, p), "spill file page %llu", (unsigned long long)p);
		fill(page, p, 0);
		store_expect(&e, p, kept ? page : zero);
	}
	/* The boundary pages of a discard inside one tier stay. */
	for (uint64_t p = 2; p < 10; p++) {
		fill(page, p, 1);
		ck_assert_int_eq(store_put(&e, p, page), 0);
	}
	mf_store_discard(&e.s, 3, 4); /* 3-4 in memory, 5-6 on disk */
	for (uint64_t p = 0; p < 10; p++) {
		fill(page, p, p < 2 ? 0 : 1);
		store_expect(&e, p, p >= 3 && p < 7 ? zero : page);
	}
	ck_assert(page_has_data(e.mem, 2) && !page_has_data(e.mem, 3));
	ck_assert(!page_has_data(e.disk, 6) && page_has_data(e.disk, 7));
	/* A count that wraps stops at the disk's end. */
	mf_store_discard(&e.s, 1, UINT64_MAX);
	ck_assert_uint_eq(e.s.st.in_mem + e.s.st.on_disk, 1);
	ck_assert_uint_eq(e.q.used, 1);
	mf_store_close(&e.s, true);
	senv_fini(&e);
}
END_TEST

START_TEST(store_partial_writes_land_in_place)
{
	struct store_env e;
	uint8_t page[MF_PAGE], want[MF_PAGE], *dst;
	bool again;

	senv_init(&e, 0); /* no memory at all: everything on disk */
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 8, &e.ops, &again), 0);
	fill(page, 1, 0);
	ck_assert_int_eq(store_put(&e, 1, page), 0);
	ck_assert_int_eq(mf_store_tier(&e.s, 1), MF_DISK);
	/* 512 bytes in the middle of a page on disk: only those bytes change. */
	memcpy(want, page, MF_PAGE);
	memset(want + 1024, 0xab, 512);
	ck_assert_int_eq(mf_store_write_begin(&e.s, 1, 1024, 512, e.bounce, &dst), 0);
	memset(dst, 0xab, 512);
	ck_assert_int_eq(mf_store_write_end(&e.s, 1, 1024, 512, dst, true), 0);
	store_expect(&e, 1, want);
	mf_store_close(&e.s, true);
	senv_fini(&e);
}
END_TEST

START_TEST(store_without_spill_refuses_when_full)
{
	struct store_env e;
	uint8_t page[MF_PAGE];
	bool again;

	senv_init(&e, 1);
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, NULL, 8, &e.ops, &again), 0);
	fill(page, 0, 0);
	ck_assert_int_eq(store_put(&e, 0, page), 0);
	ck_assert_int_eq(store_put(&e, 1, page), -ENOSPC);
	ck_assert_uint_eq(mf_store_demote(&e.s, 8), 0);
	mf_store_close(&e.s, true);
	senv_fini(&e);
}
END_TEST

START_TEST(store_demotes_cold_pages_first)
{
	struct store_env e;
	uint8_t page[MF_PAGE];
	const uint8_t *src;
	bool again;

	senv_init(&e, 16);
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 16, &e.ops, &again), 0);
	for (uint64_t p = 0; p < 4; p++) {
		fill(page, p, 0);
		ck_assert_int_eq(store_put(&e, p, page), 0);
	}
	/* One pass of the clock clears every mark; then page 2 is used again. */
	ck_assert_uint_eq(mf_store_demote(&e.s, 1), 1);
	ck_assert_int_eq(mf_store_read(&e.s, 2, 0, e.bounce, &src), 0);
	ck_assert_uint_eq(mf_store_demote(&e.s, 2), 2);
	ck_assert_int_eq(mf_store_tier(&e.s, 2), MF_MEM);
	ck_assert_uint_eq(e.s.st.demoted, 3);
	ck_assert_uint_eq(e.q.used, 1);
	for (uint64_t p = 0; p < 4; p++) {
		fill(page, p, 0);
		store_expect(&e, p, page);
	}
	mf_store_close(&e.s, true);
	senv_fini(&e);
}
END_TEST

START_TEST(store_reattaches_after_restart)
{
	struct store_env e;
	uint8_t page[MF_PAGE], stale[MF_PAGE];
	bool again;

	senv_init(&e, 2);
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 32, &e.ops, &again), 0);
	for (uint64_t p = 0; p < 3; p++) {
		fill(page, p, 0);
		ck_assert_int_eq(store_put(&e, p, page), 0);
	}
	mf_store_close(&e.s, false);
	ck_assert_uint_eq(e.q.used, 0);
	/* A move that died half-way: an older copy of page 0 on disk too.  Memory's wins. */
	fill(stale, 0, 9);
	int fd = open(e.disk, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, stale, MF_PAGE, 0), MF_PAGE);
	close(fd);

	e.q.limit = 1; /* a lower quota meanwhile: the pages already held are still taken */
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 32, &e.ops, &again), 0);
	ck_assert(again);
	ck_assert_uint_eq(e.s.st.in_mem, 2);
	ck_assert_uint_eq(e.s.st.on_disk, 1);
	ck_assert_uint_eq(e.q.used, 2);
	for (uint64_t p = 0; p < 3; p++) {
		fill(page, p, 0);
		store_expect(&e, p, page);
	}
	mf_store_close(&e.s, false);
	/* Another size under the same name is refused, never reinterpreted. */
	ck_assert_int_eq(mf_store_open(&e.s, e.mem, e.disk, 64, &e.ops, &again), -EEXIST);
	unlink(e.mem);
	unlink(e.disk);
	senv_fini(&e);
}
END_TEST

/* ---------------------------------------------------------------- a blkfront of the test's */

#define IO_PAGES 16u

struct fblk {
	struct host *h;
	struct xo *x;
	xo_domid_t domid;
	uint32_t devid;
	struct xblk_sring *sring;
	xo_gref_t ring_ref;
	uint8_t *buf;               /* IO_PAGES pages granted to dom0 */
	xo_gref_t buf_refs[IO_PAGES];
	xo_port_t port;
	uint32_t req_prod_pvt, rsp_cons;
	unsigned int ring_pages;
	uint8_t last_op;            /* the operation the last response named */
};

static char *read_path(struct host *h, const char *path)
{
	char *v = NULL;

	return xo_read_str(h->tool, XO_TXN_NONE, path, &v) ? NULL : v;
}

static char *mf_be(struct host *h, xo_domid_t domid, uint32_t devid, const char *key)
{
	char dir[XSP_MAX], path[XSP_MAX + 32];

	xsp_mf_be_dir(dir, sizeof(dir), domid, devid);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return read_path(h, path);
}

static bool wait_mf_be(struct host *h, xo_domid_t domid, uint32_t devid, const char *key, const char *want)
{
	for (int i = 0; i < 300; i++) {
		char *v = mf_be(h, domid, devid, key);
		bool ok = v && !strcmp(v, want);
		free(v);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

static void fe_write(struct fblk *f, const char *key, const char *fmt, unsigned long long v)
{
	char dir[XSP_MAX], path[XSP_MAX + 32];

	xsp_mf_fe_dir(dir, sizeof(dir), f->domid, f->devid);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	ck_assert_int_eq(xo_printf(f->x, XO_TXN_NONE, path, fmt, v), 0);
}

/* What blkfront does once the backend is in InitWait: grant a ring of 2^order pages, offer a
 * port, state 3. */
static void fblk_connect_order(struct fblk *f, struct host *h, struct xo *x, xo_domid_t domid, uint32_t devid,
			       unsigned int order)
{
	void *ring, *buf;
	xo_gref_t refs[16];

	memset(f, 0, sizeof(*f));
	f->h = h;
	f->x = x;
	f->domid = domid;
	f->devid = devid;
	f->ring_pages = 1u << order;
	if (!h->no_wait_initwait)
		ck_assert(wait_mf_be(h, domid, devid, "state", "2"));
	ck_assert_int_eq(x->ops->gnt_share(x, 0, f->ring_pages, true, refs, &ring), 0);
	f->sring = ring;
	f->ring_ref = refs[0];
	if (order) {
		fe_write(f, "ring-page-order", "%llu", order);
		for (unsigned int i = 0; i < f->ring_pages; i++) {
			char key[32];
			snprintf(key, sizeof(key), "ring-ref%u", i);
			fe_write(f, key, "%llu", refs[i]);
		}
	}
	ck_assert_int_eq(x->ops->gnt_share(x, 0, IO_PAGES, true, f->buf_refs, &buf), 0);
	f->buf = buf;
	ck_assert_int_eq(x->ops->evtchn_bind_unbound(x, 0, &f->port), 0);
	if (!order)
		fe_write(f, "ring-ref", "%llu", f->ring_ref);
	fe_write(f, "event-channel", "%llu", f->port);
	char dir[XSP_MAX], path[XSP_MAX + 32];
	xsp_mf_fe_dir(dir, sizeof(dir), domid, devid);
	snprintf(path, sizeof(path), "%s/protocol", dir);
	ck_assert_int_eq(xo_write_str(x, XO_TXN_NONE, path, "x86_64-abi"), 0);
	fe_write(f, "state", "%llu", 3);
	if (h->no_wait_initwait)
		return; /* the caller starts the backend and waits */
	ck_assert(wait_mf_be(h, domid, devid, "state", "4"));
	fe_write(f, "state", "%llu", 4);
}

static void fblk_connect(struct fblk *f, struct host *h, struct xo *x, xo_domid_t domid, uint32_t devid)
{
	fblk_connect_order(f, h, x, domid, devid, 0);
}

/* Queue a request without telling the backend. */
static void fblk_queue(struct fblk *f, const union xblk_request *req)
{
	uint32_t n = xblk_ring_entries(f->ring_pages);

	memcpy(&f->sring->ring[f->req_prod_pvt & (n - 1)].req, req, sizeof(*req));
	f->req_prod_pvt++;
	__atomic_store_n(&f->sring->req_prod, f->req_prod_pvt, __ATOMIC_RELEASE);
}

/* Queue a request as blkfront does: true if the backend's req_event asks for a kick. */
static bool fblk_queue_wants_kick(struct fblk *f, const union xblk_request *req)
{
	uint32_t old = f->req_prod_pvt;

	fblk_queue(f, req);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t event = __atomic_load_n(&f->sring->req_event, __ATOMIC_ACQUIRE);
	return (uint32_t)(f->req_prod_pvt - event) < (uint32_t)(f->req_prod_pvt - old);
}

/* Wait for the next response; its status, or 99 if none came within 3 s. */
static int fblk_response(struct fblk *f, uint64_t want_id)
{
	uint32_t n = xblk_ring_entries(f->ring_pages);

	for (int i = 0; i < 300; i++) {
		if (__atomic_load_n(&f->sring->rsp_prod, __ATOMIC_ACQUIRE) != f->rsp_cons) {
			struct xblk_response rsp = f->sring->ring[f->rsp_cons & (n - 1)].rsp;
			f->rsp_cons++;
			ck_assert_uint_eq(rsp.id, want_id);
			f->last_op = rsp.operation;
			return rsp.status;
		}
		usleep(10000);
	}
	return 99;
}

static int fblk_submit(struct fblk *f, const union xblk_request *req)
{
	fblk_queue(f, req);
	/* As blkfront waiting on a request: ask for an event at the next response. */
	__atomic_store_n(&f->sring->rsp_event, f->rsp_cons + 1, __ATOMIC_RELEASE);
	f->x->ops->evtchn_notify(f->x, f->port);
	return fblk_response(f, req->rw.id);
}

/* A read or write of `npages` whole 4 KiB pages at disk page `page`, through buffer pages from `first`. */
static int fblk_rw(struct fblk *f, uint8_t op, uint64_t page, unsigned int npages, unsigned int first)
{
	union xblk_request req;
	static uint64_t id = 100;

	memset(&req, 0, sizeof(req));
	req.rw.operation = op;
	req.rw.nr_segments = (uint8_t)npages;
	req.rw.id = ++id;
	req.rw.sector_number = page * XBLK_SECTORS_PER_PAGE;
	for (unsigned int i = 0; i < npages; i++) {
		req.rw.seg[i].gref = f->buf_refs[first + i];
		req.rw.seg[i].first_sect = 0;
		req.rw.seg[i].last_sect = 7;
	}
	return fblk_submit(f, &req);
}

static uint32_t attach_disk(struct host *h, uint64_t size_kb, uint64_t mem_kb)
{
	uint32_t devid;

	ck_assert_int_eq(xshm_vbd_devid("xvds", &devid), 0);
	ck_assert_int_eq(xshm_memflex_create(h->tool, h->g1, devid, "xvds", size_kb, mem_kb), 0);
	return devid;
}

static long long used_kb(struct host *h)
{
	char path[XSP_MAX];

	xsp_tool_used_kb(path, sizeof(path));
	char *v = read_path(h, path);
	long long n = v ? atoll(v) : -1;
	free(v);
	return n;
}

static bool wait_used_kb(struct host *h, long long want)
{
	for (int i = 0; i < 300 && used_kb(h) != want; i++)
		usleep(10000);
	return used_kb(h) == want;
}

START_TEST(vbd_names)
{
	uint32_t id;

	ck_assert_int_eq(xshm_vbd_devid("xvdb", &id), 0);
	ck_assert_uint_eq(id, 51728);
	ck_assert_int_eq(xshm_vbd_devid("xvdp", &id), 0);
	ck_assert_uint_eq(id, (202u << 8) | (15u << 4));
	ck_assert_int_eq(xshm_vbd_devid("xvds", &id), 0);
	ck_assert_uint_eq(id, (1u << 28) | (18u << 8));
	ck_assert_int_eq(xshm_vbd_devid("xvdaa", &id), 0);
	ck_assert_uint_eq(id, (1u << 28) | (26u << 8));
	ck_assert_int_eq(xshm_vbd_devid("sda", &id), -EINVAL);
	ck_assert_int_eq(xshm_vbd_devid("xvd", &id), -EINVAL);
	ck_assert_int_eq(xshm_vbd_devid("xvdA", &id), -EINVAL);
	ck_assert_int_eq(xshm_vbd_devid("xvdb1", &id), -EINVAL);
}
END_TEST

START_TEST(disk_handshake_io_and_discard)
{
	struct host h;
	struct fblk f;

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 1024, 1024);
	/* What blkfront reads before it connects. */
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "2"));
	ck_assert(wait_mf_be(&h, h.g1, devid, "sectors", "2048"));
	ck_assert(wait_mf_be(&h, h.g1, devid, "sector-size", "4096"));
	ck_assert(wait_mf_be(&h, h.g1, devid, "feature-discard", "1"));
	ck_assert(wait_mf_be(&h, h.g1, devid, "feature-flush-cache", "1"));
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	/* 11 pages (a full request) written, read back into other pages. */
	for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++)
		fill(f.buf + i * MF_PAGE, i, 3);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 5, XBLK_MAX_SEGMENTS, 0), XBLK_RSP_OKAY);
	ck_assert(wait_used_kb(&h, XBLK_MAX_SEGMENTS * 4));
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 5, XBLK_MAX_SEGMENTS, 0), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++) {
		uint8_t want[MF_PAGE];
		fill(want, i, 3);
		ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %u read back wrong", i);
	}
	/* A flush with no data, then swap's discard of the whole disk: the memory goes back. */
	union xblk_request req;
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_FLUSH_DISKCACHE;
	req.rw.id = 7;
	req.rw.sector_number = UINT64_MAX; /* what Linux sends with a flush that carries no data */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_OKAY);
	ck_assert_uint_eq(f.last_op, XBLK_OP_FLUSH_DISKCACHE);
	memset(&req, 0, sizeof(req));
	req.discard.operation = XBLK_OP_DISCARD;
	req.discard.id = 8;
	req.discard.sector_number = 0;
	req.discard.nr_sectors = 2048;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_OKAY);
	ck_assert(wait_used_kb(&h, 0));
	/* The stats node says what happened, once a second. */
	host_advance(&h, 2000);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	char *st = NULL;
	for (int i = 0; i < 300 && !(st && strstr(st, "discards=256")); i++) {
		free(st);
		usleep(10000);
		st = mf_be(&h, h.g1, devid, "stats");
	}
	ck_assert_ptr_nonnull(st);
	ck_assert_msg(strstr(st, "writes=11 ") && strstr(st, "reads=11 ") && strstr(st, "discards=256 ") &&
			      strstr(st, "mem-kb=0 "), "stats: %s", st);
	/* Four requests, each alone: four batches, one kick back for each (blkfront asked), and at
	 * least one wake-up by the port (the fake may merge pending kicks, as Xen does). */
	ck_assert_msg(xshm_stats_word(st, "requests") == 4 && xshm_stats_word(st, "batches") == 4 &&
			      xshm_stats_word(st, "notifies") == 4 && xshm_stats_word(st, "events") >= 1 &&
			      xshm_stats_word(st, "events") <= 4, "stats: %s", st);
	free(st);
	host_fini(&h);
}
END_TEST

/* A spill directory that could not take every disk's pages is named when a disk comes. */
START_TEST(short_spill_room_is_said_when_a_disk_comes)
{
	struct host h;
	struct statvfs sv;
	uint32_t small, big;

	host_init(&h, true);
	ck_assert_int_eq(xshm_vbd_devid("xvds", &small), 0);
	ck_assert_int_eq(xshm_memflex_create(h.tool, h.g1, small, "xvds", 1024, 1024), 0);
	ck_assert(wait_mf_be(&h, h.g1, small, "state", "2"));
	ck_assert(!host_logged("could spill"));
	/* A disk larger than the directory's free space, when MemFlex allows one that large and this
	 * process can map its memory tier (valgrind's address space cannot take tens of GiB). */
	ck_assert_int_eq(statvfs(h.spill_dir, &sv), 0);
	uint64_t big_kb = ((uint64_t)sv.f_bavail * sv.f_frsize / 1024 + 65536) & ~UINT64_C(3);
	void *room = big_kb <= (UINT64_C(1) << 30) ? mmap(NULL, big_kb * 1024, PROT_NONE,
							  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
						   : MAP_FAILED;
	if (room == MAP_FAILED)
		fprintf(stderr, "short_spill_room_is_said_when_a_disk_comes: no room to map a %llu KiB disk, "
				"its half not run\n", (unsigned long long)big_kb);
	else
		munmap(room, big_kb * 1024);
	if (room != MAP_FAILED) {
		ck_assert_int_eq(xshm_vbd_devid("xvdt", &big), 0);
		ck_assert_int_eq(xshm_memflex_create(h.tool, h.g1, big, "xvdt", big_kb, 1024), 0);
		ck_assert(wait_mf_be(&h, h.g1, big, "state", "2"));
		ck_assert_msg(host_logged("could spill"), "no warning for a %llu KiB disk", (unsigned long long)big_kb);
	}
	host_fini(&h);
}
END_TEST

/*
 * With --memflex-poll-us, a request the guest queues soon after an answer is served without
 * its kick (blkfront would not kick: req_event stays behind while xenshmd polls), and one
 * queued after the window still needs the kick, which then works as always.
 */
START_TEST(polling_serves_requests_that_were_not_kicked)
{
	struct host h;
	struct fblk f;
	union xblk_request req;

	host_init(&h, false);
	h.mf_poll_us = 1000000; /* generous: the test thread may be slow (valgrind) */
	daemon_start(&h);
	uint32_t devid = attach_disk(&h, 1024, 1024);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < 3; i++)
		fill(f.buf + i * MF_PAGE, i, 5);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 3, 0), XBLK_RSP_OKAY);
	/* Within the window: queued, not kicked, answered. */
	memset(f.buf, 0, 3 * MF_PAGE);
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_READ;
	req.rw.id = 77;
	req.rw.nr_segments = 1;
	req.rw.sector_number = 8; /* page 1 */
	req.rw.seg[0].gref = f.buf_refs[0];
	req.rw.seg[0].last_sect = 7;
	ck_assert_msg(!fblk_queue_wants_kick(&f, &req), "req_event armed while xenshmd polls");
	ck_assert_int_eq(fblk_response(&f, 77), XBLK_RSP_OKAY);
	uint8_t want[MF_PAGE];
	fill(want, 1, 5);
	ck_assert(!memcmp(f.buf, want, MF_PAGE));
	/* Past the window the ring is armed again: a kicked request is answered. */
	usleep(1500000);
	req.rw.id = 78;
	ck_assert_msg(fblk_queue_wants_kick(&f, &req), "req_event not armed after the poll window");
	f.x->ops->evtchn_notify(f.x, f.port);
	ck_assert_int_eq(fblk_response(&f, 78), XBLK_RSP_OKAY);
	host_advance(&h, 2000);
	char *st = NULL;
	for (int i = 0; i < 300 && !(st && xshm_stats_word(st, "requests") == 3); i++) {
		free(st);
		usleep(10000);
		st = mf_be(&h, h.g1, devid, "stats");
	}
	ck_assert_msg(st && xshm_stats_word(st, "polled") >= 1, "stats: %s", st ? st : "none");
	free(st);
	host_fini(&h);
}
END_TEST

START_TEST(bad_requests_answered_lying_index_disconnects)
{
	struct host h;
	struct fblk f;
	union xblk_request req;

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 64, 64); /* 16 pages, 128 sectors */
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_WRITE;
	req.rw.nr_segments = 1;
	req.rw.id = 1;
	req.rw.seg[0].gref = f.buf_refs[0];
	req.rw.seg[0].last_sect = 8; /* past the page */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	req.rw.id = 2;
	req.rw.seg[0].last_sect = 7;
	req.rw.sector_number = 128; /* past the disk */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	req.rw.id = 3;
	req.rw.sector_number = UINT64_MAX - 3; /* wraps */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	req.rw.id = 4;
	req.rw.sector_number = 0;
	req.rw.seg[0].gref = 0xdead; /* not granted */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	req.rw.id = 5;
	req.rw.nr_segments = 12;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	req.rw.id = 6;
	req.rw.nr_segments = 1;
	req.rw.seg[0].gref = f.buf_refs[0];
	req.rw.sector_number = 0;
	req.rw.operation = 9; /* no such operation */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_EOPNOTSUPP);
	req.rw.operation = XBLK_OP_WRITE;
	req.rw.id = 9;
	req.rw.operation = XBLK_OP_WRITE_BARRIER;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_EOPNOTSUPP);
	memset(&req, 0, sizeof(req));
	req.discard.operation = XBLK_OP_DISCARD;
	req.discard.id = 10;
	req.discard.sector_number = 64;
	req.discard.nr_sectors = UINT64_MAX; /* wraps */
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	/* None of that cost the guest its disk. */
	fill(f.buf, 1, 1);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 15, 1, 0), XBLK_RSP_OKAY);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	/* A request index beyond the ring is a broken or hostile frontend: disconnected. */
	__atomic_store_n(&f.sring->req_prod, f.req_prod_pvt + 1000, __ATOMIC_RELEASE);
	f.x->ops->evtchn_notify(f.x, f.port);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "6"));
	char path[XSP_MAX];
	xsp_mf_be_error(path, sizeof(path), h.g1, devid);
	char *err = read_path(&h, path);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "req_prod") && strstr(err, "memflex/"), "error node: %s", err);
	free(err);
	/* The daemon serves the other guest's device as before. */
	struct shm *s2 = shm_open_xo(h.x2, 64 << 10, &fast);
	ck_assert_ptr_nonnull(s2);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

START_TEST(unaligned_segments_straddle_disk_pages)
{
	struct host h;
	struct fblk f;
	union xblk_request req;
	uint8_t want[MF_PAGE];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 64, 64);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	/* One whole grant page written at sector 3: sectors 3..7 of disk page 0, 0..2 of page 1. */
	fill(f.buf, 0, 8);
	memcpy(want, f.buf, MF_PAGE);
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_WRITE;
	req.rw.nr_segments = 1;
	req.rw.id = 1;
	req.rw.sector_number = 3;
	req.rw.seg[0].gref = f.buf_refs[0];
	req.rw.seg[0].last_sect = 7;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_OKAY);
	/* Sectors 1..4 of the grant to sectors 9..12 of the disk: page 1 again, in its middle. */
	memset(f.buf + 1 * MF_PAGE, 0x5a, MF_PAGE);
	req.rw.id = 2;
	req.rw.sector_number = 11;
	req.rw.seg[0].gref = f.buf_refs[1];
	req.rw.seg[0].first_sect = 1;
	req.rw.seg[0].last_sect = 4;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_OKAY);
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 2, 0), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < 2 * MF_PAGE; i++) {
		uint8_t expect = 0;
		if (i >= 3 * 512 && i < 3 * 512 + MF_PAGE)
			expect = want[i - 3 * 512];
		if (i >= 11 * 512 && i < 15 * 512)
			expect = 0x5a;
		ck_assert_msg(f.buf[i] == expect, "byte %u: %#x, want %#x", i, f.buf[i], expect);
	}
	host_fini(&h);
}
END_TEST

START_TEST(multi_page_ring_and_batches_beyond_one_pass)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];
	uint64_t first[300];
	unsigned int nseg[300];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 8192, 8192);
	fblk_connect_order(&f, &h, h.x1, h.g1, devid, 4); /* 16 pages: 512 requests */
	ck_assert_uint_eq(xblk_ring_entries(16), 512);
	for (unsigned int i = 0; i < IO_PAGES; i++)
		fill(f.buf + i * MF_PAGE, i, 9);
	/* 300 writes of 1 to 4 pages in one go, one notification: more copies than one batch holds
	 * and more requests than one pass serves, across all 16 pages of the ring. */
	uint64_t at = 0;
	for (unsigned int r = 0; r < 300; r++) {
		union xblk_request req;
		memset(&req, 0, sizeof(req));
		nseg[r] = 1 + r % 4;
		first[r] = at;
		req.rw.operation = XBLK_OP_WRITE;
		req.rw.nr_segments = (uint8_t)nseg[r];
		req.rw.id = 1000 + r;
		req.rw.sector_number = at * XBLK_SECTORS_PER_PAGE;
		for (unsigned int i = 0; i < nseg[r]; i++) {
			req.rw.seg[i].gref = f.buf_refs[(r + i) % IO_PAGES];
			req.rw.seg[i].last_sect = 7;
		}
		at += nseg[r];
		fblk_queue(&f, &req);
	}
	f.x->ops->evtchn_notify(f.x, f.port);
	for (unsigned int r = 0; r < 300; r++)
		ck_assert_int_eq(fblk_response(&f, 1000 + r), XBLK_RSP_OKAY);
	ck_assert(wait_used_kb(&h, (long long)at * 4));
	for (unsigned int r = 0; r < 300; r += 37) {
		memset(f.buf, 0, IO_PAGES * MF_PAGE);
		ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, first[r], nseg[r], 0), XBLK_RSP_OKAY);
		for (unsigned int i = 0; i < nseg[r]; i++) {
			fill(want, (r + i) % IO_PAGES, 9);
			ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "request %u page %u", r, i);
		}
	}
	host_fini(&h);
}
END_TEST

/* An indirect request over `n` buffer pages from `first` (cycling), its segments in a page of
 * their own that the guest grants. */
static int fblk_indirect(struct fblk *f, uint8_t op, uint64_t page, unsigned int n, unsigned int nseg_claimed,
			 xo_gref_t seg_ref, struct xblk_segment *seg_page)
{
	union xblk_request req;
	static uint64_t id = 5000;

	for (unsigned int i = 0; i < n; i++) {
		seg_page[i].gref = f->buf_refs[i % IO_PAGES];
		seg_page[i].first_sect = 0;
		seg_page[i].last_sect = 7;
	}
	memset(&req, 0, sizeof(req));
	req.indirect.operation = XBLK_OP_INDIRECT;
	req.indirect.indirect_op = op;
	req.indirect.nr_segments = (uint16_t)nseg_claimed;
	req.indirect.id = ++id;
	req.indirect.sector_number = page * XBLK_SECTORS_PER_PAGE;
	req.indirect.indirect_grefs[0] = seg_ref;
	fblk_queue(f, &req);
	f->x->ops->evtchn_notify(f->x, f->port);
	return fblk_response(f, id);
}

START_TEST(indirect_requests)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];
	xo_gref_t seg_ref;
	void *seg_page;

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 4096, 4096);
	ck_assert(wait_mf_be(&h, h.g1, devid, "feature-max-indirect-segments", "128"));
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	ck_assert_int_eq(h.x1->ops->gnt_share(h.x1, 0, 1, true, &seg_ref, &seg_page), 0);
	for (unsigned int i = 0; i < IO_PAGES; i++)
		fill(f.buf + i * MF_PAGE, i, 12);
	/* 128 pages (512 KiB) in one request, the buffer pages reused in turn. */
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_WRITE, 100, 128, 128, seg_ref, seg_page), XBLK_RSP_OKAY);
	ck_assert_uint_eq(f.last_op, XBLK_OP_WRITE); /* blkfront wants the inner operation back */
	ck_assert(wait_used_kb(&h, 128 * 4));
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_READ, 100 + 112, 16, 16, seg_ref, seg_page), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < IO_PAGES; i++) {
		fill(want, (112 + i) % IO_PAGES, 12);
		ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %u", i);
	}
	/* More segments than offered, none, an inner operation that is not read or write, a segment
	 * page never granted: each answered with an error, the disk still connected. */
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_READ, 0, 1, 129, seg_ref, seg_page), XBLK_RSP_ERROR);
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_READ, 0, 1, 0, seg_ref, seg_page), XBLK_RSP_ERROR);
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_DISCARD, 0, 1, 1, seg_ref, seg_page), XBLK_RSP_ERROR);
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_READ, 0, 1, 1, 0xbeef, seg_page), XBLK_RSP_ERROR);
	/* A segment in the page pointing past the disk. */
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_WRITE, 1020, 8, 8, seg_ref, seg_page), XBLK_RSP_ERROR);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 100, 1, 0), XBLK_RSP_OKAY);
	host_fini(&h);
}
END_TEST

/* The test's blkfront asks for persistent grants (before it connects). */
static void fblk_ask_persistent(struct host *h, struct xo *x, xo_domid_t domid, uint32_t devid)
{
	char dir[XSP_MAX], path[XSP_MAX + 32];

	(void)h;
	xsp_mf_fe_dir(dir, sizeof(dir), domid, devid);
	snprintf(path, sizeof(path), "%s/feature-persistent", dir);
	ck_assert_int_eq(xo_write_str(x, XO_TXN_NONE, path, "1"), 0);
}

static unsigned int mapped_by_dom0(struct host *h, xo_domid_t guest)
{
	struct xo_fake_counts c;

	ck_assert_int_eq(xo_fake_counts(h->w, guest, &c), 0);
	return c.grants_mapped;
}

/* The set on its own: a reference maps once, the cap holds, unmappable references are tried a few
 * times and then no more, and everything is unmapped at the end. */
START_TEST(pgrants_map_once_cap_and_give_up)
{
	struct host h;
	struct xshm_pgrants pg;
	xo_gref_t refs[6];
	void *pages;

	host_init(&h, false);
	ck_assert_int_eq(h.x1->ops->gnt_share(h.x1, 0, 6, true, refs, &pages), 0);
	ck_assert_int_eq(xshm_pgrants_init(&pg, h.dmn, h.g1, 0), -EINVAL);
	ck_assert_int_eq(xshm_pgrants_init(&pg, h.dmn, h.g1, 4), 0);
	uint8_t *first[4];
	for (unsigned int i = 0; i < 4; i++) {
		first[i] = xshm_pgrants_page(&pg, refs[i]);
		ck_assert_ptr_nonnull(first[i]);
		((uint8_t *)pages)[i * MF_PAGE] = (uint8_t)(0x40 + i);
		ck_assert_uint_eq(first[i][0], 0x40 + i); /* the guest's page, not a copy */
	}
	for (unsigned int i = 0; i < 4; i++)
		ck_assert_ptr_eq(xshm_pgrants_page(&pg, refs[i]), first[i]);
	ck_assert_uint_eq(pg.hits, 4);
	ck_assert_ptr_null(xshm_pgrants_page(&pg, refs[4])); /* over the cap: grant-copied */
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 4);
	xshm_pgrants_fini(&pg);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 0);
	xshm_pgrants_fini(&pg); /* twice is harmless */

	ck_assert_int_eq(xshm_pgrants_init(&pg, h.dmn, h.g1, 64), 0);
	for (unsigned int i = 0; i < XSHM_PGRANTS_MAX_FAILURES; i++)
		ck_assert_ptr_null(xshm_pgrants_page(&pg, 0x7000 + i));
	ck_assert_uint_eq(pg.map_failures, XSHM_PGRANTS_MAX_FAILURES);
	ck_assert_ptr_null(xshm_pgrants_page(&pg, refs[5])); /* no more tries, even a good one */
	ck_assert_uint_eq(pg.map_failures, XSHM_PGRANTS_MAX_FAILURES);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 0);
	xshm_pgrants_fini(&pg);
	host_fini(&h);
}
END_TEST

/*
 * Persistent grants: the first `max` references a disk names are mapped once and copied with
 * memcpy, the rest (and any that cannot be mapped) grant-copied; every byte lands either way; a
 * frontend that did not ask is never mapped; the offer a connected frontend saw outlives a
 * restart with another setting; everything is unmapped when the frontend closes.
 */
START_TEST(persistent_grants_map_once_then_copy)
{
	struct host h;
	struct fblk f, f2;
	uint8_t want[MF_PAGE];
	xo_gref_t seg_ref;
	void *seg_page;

	host_init(&h, false);
	h.mf_pgrants = 4;
	daemon_start(&h);
	uint32_t devid = attach_disk(&h, 4096, 4096);
	ck_assert(wait_mf_be(&h, h.g1, devid, "feature-persistent", "1"));
	fblk_ask_persistent(&h, h.x1, h.g1, devid);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 1); /* the ring */
	/* A reference never granted is not kept: the copy fails and says so. */
	union xblk_request req;
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_READ;
	req.rw.nr_segments = 1;
	req.rw.id = 40;
	req.rw.seg[0].gref = 0xbeef;
	req.rw.seg[0].last_sect = 7;
	ck_assert_int_eq(fblk_submit(&f, &req), XBLK_RSP_ERROR);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 1);
	/* An indirect write: its segment page and three buffers mapped (4), five pages copied. */
	ck_assert_int_eq(h.x1->ops->gnt_share(h.x1, 0, 1, true, &seg_ref, &seg_page), 0);
	for (unsigned int i = 0; i < IO_PAGES; i++)
		fill(f.buf + i * MF_PAGE, i, 21);
	ck_assert_int_eq(fblk_indirect(&f, XBLK_OP_WRITE, 0, 8, 8, seg_ref, seg_page), XBLK_RSP_OKAY);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 1 + 4);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 8, 8, 8), XBLK_RSP_OKAY);
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 11, 0), XBLK_RSP_OKAY);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 11, 5, 11), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < IO_PAGES; i++) {
		fill(want, i, 21);
		ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %u", i);
	}
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 1 + 4);
	host_advance(&h, 2000);
	char *st = NULL;
	for (int i = 0; i < 300 && !(st && strstr(st, "reads=16 ")); i++) {
		free(st);
		usleep(10000);
		st = mf_be(&h, h.g1, devid, "stats");
	}
	ck_assert_msg(st && xshm_stats_word(st, "persistent") == 4, "stats: %s", st);
	free(st);

	/* Another guest's frontend that did not ask: only its ring is mapped. */
	uint32_t devid2;
	ck_assert_int_eq(xshm_vbd_devid("xvdt", &devid2), 0);
	ck_assert_int_eq(xshm_memflex_create(h.tool, h.g2, devid2, "xvdt", 1024, 1024), 0);
	fblk_connect(&f2, &h, h.x2, h.g2, devid2);
	fill(f2.buf, 1, 22);
	ck_assert_int_eq(fblk_rw(&f2, XBLK_OP_WRITE, 0, 1, 0), XBLK_RSP_OKAY);
	ck_assert_int_eq(fblk_rw(&f2, XBLK_OP_READ, 0, 1, 0), XBLK_RSP_OKAY);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g2), 1);

	/* Restarted without persistent grants: the connected frontend keeps the offer it saw, and
	 * its pages are grant-copied. */
	daemon_stop(&h);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 0);
	h.mf_pgrants = 0;
	daemon_start(&h);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 4, 0), XBLK_RSP_OKAY);
	fill(want, 3, 21);
	ck_assert(!memcmp(f.buf + 3 * MF_PAGE, want, MF_PAGE));
	char *offer = mf_be(&h, h.g1, devid, "feature-persistent");
	ck_assert_str_eq(offer, "1");
	free(offer);
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 1);
	/* The frontend closes and starts over: the new offer is this xenshmd's. */
	fe_write(&f, "state", "%llu", 6);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "6"));
	ck_assert_uint_eq(mapped_by_dom0(&h, h.g1), 0);
	fe_write(&f, "state", "%llu", 1);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "2"));
	ck_assert(wait_mf_be(&h, h.g1, devid, "feature-persistent", "0"));
	host_fini(&h);
}
END_TEST

/* Several requests made visible to the backend at once, then one kick: one pass serves them all. */
static void fblk_queue_many_and_kick(struct fblk *f, const union xblk_request *reqs, unsigned int n)
{
	uint32_t ents = xblk_ring_entries(f->ring_pages);

	for (unsigned int i = 0; i < n; i++)
		memcpy(&f->sring->ring[(f->req_prod_pvt + i) & (ents - 1)].req, &reqs[i], sizeof(reqs[i]));
	f->req_prod_pvt += n;
	__atomic_store_n(&f->sring->req_prod, f->req_prod_pvt, __ATOMIC_RELEASE);
	__atomic_store_n(&f->sring->rsp_event, f->rsp_cons + 1, __ATOMIC_RELEASE);
	f->x->ops->evtchn_notify(f->x, f->port);
}

static union xblk_request one_page(uint8_t op, uint64_t id, uint64_t page, xo_gref_t ref)
{
	union xblk_request req;

	memset(&req, 0, sizeof(req));
	if (op == XBLK_OP_DISCARD) {
		req.discard.operation = op;
		req.discard.id = id;
		req.discard.sector_number = page * XBLK_SECTORS_PER_PAGE;
		req.discard.nr_sectors = XBLK_SECTORS_PER_PAGE;
	} else {
		req.rw.operation = op;
		req.rw.id = id;
		req.rw.sector_number = page * XBLK_SECTORS_PER_PAGE;
		req.rw.nr_segments = 1;
		req.rw.seg[0].gref = ref;
		req.rw.seg[0].last_sect = 7;
	}
	return req;
}

/* The only store file of the host: the disk's memory tier. */
static void memory_file(struct host *h, char *out, size_t size)
{
	DIR *d = opendir(h->store_dir);
	struct dirent *e;

	out[0] = 0;
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			snprintf(out, size, "%s/%s", h->store_dir, e->d_name);
	if (d)
		closedir(d);
	ck_assert_msg(out[0], "no store file in %s", h->store_dir);
}

/*
 * A discard is applied after its batch's answers, in the guest's order: a write queued before it
 * in the same pass is copied first and then freed (its page not left behind in the memory file,
 * uncharged), and a read or write after it sees it applied.
 */
START_TEST(discards_apply_after_their_batch_in_order)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE], zero[MF_PAGE] = { 0 };
	char path[400];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 1024, 1024);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	fill(f.buf, 3, 7);
	union xblk_request wd[] = { one_page(XBLK_OP_WRITE, 1, 3, f.buf_refs[0]), one_page(XBLK_OP_DISCARD, 2, 3, 0) };
	fblk_queue_many_and_kick(&f, wd, 2);
	ck_assert_int_eq(fblk_response(&f, 1), XBLK_RSP_OKAY);
	ck_assert_int_eq(fblk_response(&f, 2), XBLK_RSP_OKAY);
	memory_file(&h, path, sizeof(path));
	ck_assert(wait_used_kb(&h, 0));
	ck_assert_msg(!page_has_data(path, 3), "the written-then-discarded page stayed in the memory file");

	fill(f.buf, 5, 8);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 5, 1, 0), XBLK_RSP_OKAY);
	fill(f.buf + MF_PAGE, 5, 9);
	memset(f.buf + 2 * MF_PAGE, 0xff, MF_PAGE);
	union xblk_request dwr[] = { one_page(XBLK_OP_DISCARD, 10, 5, 0), one_page(XBLK_OP_WRITE, 11, 5, f.buf_refs[1]),
				     one_page(XBLK_OP_READ, 12, 5, f.buf_refs[2]) };
	fblk_queue_many_and_kick(&f, dwr, 3);
	for (uint64_t id = 10; id <= 12; id++)
		ck_assert_int_eq(fblk_response(&f, id), XBLK_RSP_OKAY);
	fill(want, 5, 9);
	ck_assert_msg(!memcmp(f.buf + 2 * MF_PAGE, want, MF_PAGE), "the read after the write did not see it");
	memset(f.buf + 2 * MF_PAGE, 0, MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 5, 1, 2), XBLK_RSP_OKAY);
	ck_assert_msg(!memcmp(f.buf + 2 * MF_PAGE, want, MF_PAGE), "the write after the discard was lost");

	memset(f.buf + 3 * MF_PAGE, 0xff, MF_PAGE);
	union xblk_request dr[] = { one_page(XBLK_OP_DISCARD, 20, 5, 0), one_page(XBLK_OP_READ, 21, 5, f.buf_refs[3]) };
	fblk_queue_many_and_kick(&f, dr, 2);
	ck_assert_int_eq(fblk_response(&f, 20), XBLK_RSP_OKAY);
	ck_assert_int_eq(fblk_response(&f, 21), XBLK_RSP_OKAY);
	ck_assert_msg(!memcmp(f.buf + 3 * MF_PAGE, zero, MF_PAGE), "a read after the discard saw the old page");
	ck_assert(wait_used_kb(&h, 0));
	ck_assert(!page_has_data(path, 5));
	host_fini(&h);
}
END_TEST

START_TEST(restart_keeps_pages_and_serves_what_waited)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 256, 16); /* 4 pages of memory, the rest spills */
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < 8; i++)
		fill(f.buf + i * MF_PAGE, i, 5);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 8, 0), XBLK_RSP_OKAY);
	daemon_stop(&h);
	ck_assert_uint_eq(files_in(h.store_dir), 1); /* the memory tier stays for the next daemon */
	/* A request posted while no daemon runs; its event is lost. */
	fill(f.buf + 8 * MF_PAGE, 8, 5);
	union xblk_request req;
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_WRITE;
	req.rw.nr_segments = 1;
	req.rw.id = 77;
	req.rw.sector_number = 8 * XBLK_SECTORS_PER_PAGE;
	req.rw.seg[0].gref = f.buf_refs[8];
	req.rw.seg[0].last_sect = 7;
	fblk_queue(&f, &req);
	daemon_start(&h);
	ck_assert_int_eq(fblk_response(&f, 77), XBLK_RSP_OKAY);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 9, 0), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < 9; i++) {
		fill(want, i, 5);
		ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %u lost across the restart", i);
	}
	ck_assert_int_eq(used_kb(&h) >= 0, 1);
	ck_assert(wait_used_kb(&h, 16)); /* the 4 memory pages, charged again */
	host_fini(&h);
}
END_TEST

START_TEST(lower_memory_moves_pages_to_disk)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];
	char path[XSP_MAX];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 256, 256);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++)
		fill(f.buf + i * MF_PAGE, i, 2);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 20, XBLK_MAX_SEGMENTS, 0), XBLK_RSP_OKAY);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 40, XBLK_MAX_SEGMENTS, 0), XBLK_RSP_OKAY);
	ck_assert(wait_used_kb(&h, 2 * XBLK_MAX_SEGMENTS * 4));
	xsp_mf_be_mem_kb(path, sizeof(path), h.g1, devid);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "not-a-size"), 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "64"), 0);
	/* 22 pages over a quota of 16: down to 1/16 below the line (15), without the guest's help. */
	ck_assert(wait_used_kb(&h, 15 * 4));
	for (uint64_t at = 20; at <= 40; at += 20) {
		memset(f.buf, 0, IO_PAGES * MF_PAGE);
		ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, at, XBLK_MAX_SEGMENTS, 0), XBLK_RSP_OKAY);
		for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++) {
			fill(want, i, 2);
			ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %llu wrong after demotion",
				      (unsigned long long)at + i);
		}
	}
	host_fini(&h);
}
END_TEST

START_TEST(host_short_takes_memflex_pages_first)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];
	char path[XSP_MAX];

	host_init(&h, true);
	xsp_tool_budget_kb(path, sizeof(path));
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "1024"), 0); /* 256 pages */
	uint32_t devid = attach_disk(&h, 2048, 2048);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++)
		fill(f.buf + i * MF_PAGE, i, 11);
	for (unsigned int r = 0; r < 18; r++) /* 198 pages in memory */
		ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, (uint64_t)r * XBLK_MAX_SEGMENTS, XBLK_MAX_SEGMENTS, 0),
				 XBLK_RSP_OKAY);
	for (int i = 0; i < 300 && used_kb(&h) < 198 * 4; i++)
		usleep(10000);
	ck_assert_int_ge(used_kb(&h), 198 * 4);
	/* g2 wants 512 KiB that only fit if MemFlex pages make room: it gets them at once. */
	struct shm *s2 = shm_open_xo(h.x2, 512 << 10, &fast);
	ck_assert_ptr_nonnull(s2);
	ck_assert_uint_eq(shm_put(s2, "room", 0, 4), 4);
	ck_assert_int_le(used_kb(&h), 1024);
	/* Nothing the guest swapped was lost on the way to the spill file. */
	for (unsigned int r = 0; r < 18; r += 17) {
		memset(f.buf, 0, IO_PAGES * MF_PAGE);
		ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, (uint64_t)r * XBLK_MAX_SEGMENTS, XBLK_MAX_SEGMENTS, 0),
				 XBLK_RSP_OKAY);
		for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++) {
			fill(want, i, 11);
			ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "request %u page %u", r, i);
		}
	}
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

START_TEST(guest_death_deletes_the_store)
{
	struct host h;
	struct fblk f;
	char path[XSP_MAX];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 256, 8);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < 4; i++)
		fill(f.buf + i * MF_PAGE, i, 4);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 4, 0), XBLK_RSP_OKAY);
	ck_assert_uint_eq(files_in(h.store_dir), 1);
	ck_assert_uint_eq(files_in(h.spill_dir), 1);
	ck_assert_int_eq(xo_fake_domain_destroy(h.w, h.g1), 0);
	xsp_mf_be_dir(path, sizeof(path), h.g1, devid);
	ck_assert(wait_absent(&h, path));
	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u", h.g1);
	ck_assert(wait_absent(&h, path));
	ck_assert(wait_used_kb(&h, 0));
	ck_assert_uint_eq(files_in(h.store_dir), 0);
	ck_assert_uint_eq(files_in(h.spill_dir), 0);
	host_fini(&h);
}
END_TEST

static void touch_file(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
}

START_TEST(orphans_of_a_daemon_that_was_down_are_cleaned)
{
	struct host h;
	struct fblk f;
	char path[XSP_MAX];

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 64, 64);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	fill(f.buf, 0, 1);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 1, 0), XBLK_RSP_OKAY);
	daemon_stop(&h);
	/* While no xenshmd runs: a domain dies with its disk (its dirs and files stay behind). */
	static const char dead[] = "memflex-0123456789abcdef0123456789abcdef-51728";
	char name[96];
	snprintf(name, sizeof(name), "%s.mem", dead);
	touch_file(h.store_dir, name);
	snprintf(name, sizeof(name), "%s.spill", dead);
	touch_file(h.spill_dir, name);
	touch_file(h.store_dir, "not-ours.mem");
	ck_assert_int_eq(xo_printf(h.tool, XO_TXN_NONE, "/local/domain/0/backend/memflex/77/51728/size-kb", "64"), 0);
	unsigned int before = files_in(h.store_dir);
	daemon_start(&h);
	ck_assert(wait_absent(&h, "/local/domain/0/backend/memflex/77"));
	/* The sweep deletes the memory tier's orphan, then the spill file's: wait for both. */
	for (int i = 0; i < 300 && (files_in(h.store_dir) != before - 1 || files_in(h.spill_dir) != 1); i++)
		usleep(10000);
	ck_assert_uint_eq(files_in(h.store_dir), before - 1); /* the orphan, not the live disk nor a stranger */
	ck_assert_uint_eq(files_in(h.spill_dir), 1);       /* the live disk's spill file */
	snprintf(path, sizeof(path), "%s/not-ours.mem", h.store_dir);
	ck_assert_int_eq(access(path, F_OK), 0);
	unlink(path);
	/* The live disk was reattached and still has its page. */
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	memset(f.buf, 0, MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 1, 0), XBLK_RSP_OKAY);
	uint8_t want[MF_PAGE];
	fill(want, 0, 1);
	ck_assert(!memcmp(f.buf, want, MF_PAGE));
	host_fini(&h);
}
END_TEST

START_TEST(saved_domain_gets_its_swap_back)
{
	struct host h;
	struct fblk f;
	char path[XSP_MAX];
	uint8_t want[MF_PAGE];
	struct xo_dominfo info;

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 256, 16); /* some pages in memory, the rest spilled */
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	for (unsigned int i = 0; i < 8; i++)
		fill(f.buf + i * MF_PAGE, i, 13);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 8, 0), XBLK_RSP_OKAY);
	ck_assert_int_eq(h.tool->ops->domain_info(h.tool, h.g1, &info), 0);
	/* `xenshm save`: the mark, then the domain dies at the end of `xl save`. */
	xsp_mf_be_dir(path, sizeof(path), h.g1, devid);
	strcat(path, "/keep-store");
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "1"), 0);
	ck_assert_int_eq(xo_fake_domain_destroy(h.w, h.g1), 0);
	xsp_mf_be_dir(path, sizeof(path), h.g1, devid);
	ck_assert(wait_absent(&h, path));
	ck_assert(wait_used_kb(&h, 0));
	ck_assert_uint_eq(files_in(h.store_dir), 1); /* set aside, not deleted */
	/* `xenshm restore`: the same UUID under a new domid, the disk again. */
	xo_domid_t g3;
	struct xo *x3;
	ck_assert_int_eq(xo_fake_domain_create(h.w, "g1", &g3), 0);
	ck_assert_int_eq(xo_fake_domain_set_uuid(h.w, g3, info.uuid), 0);
	ck_assert_int_eq(xo_fake_open(h.w, g3, &x3), 0);
	ck_assert_int_eq(xshm_memflex_create(h.tool, g3, devid, "xvds", 256, 16), 0);
	fblk_connect(&f, &h, x3, g3, devid);
	memset(f.buf, 0, IO_PAGES * MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 0, 8, 0), XBLK_RSP_OKAY);
	for (unsigned int i = 0; i < 8; i++) {
		fill(want, i, 13);
		ck_assert_msg(!memcmp(f.buf + i * MF_PAGE, want, MF_PAGE), "page %u lost across save/restore", i);
	}
	ck_assert(wait_used_kb(&h, 16));
	xo_close(x3);
	host_fini(&h);
}
END_TEST

START_TEST(frontend_that_resumed_first_is_served)
{
	struct host h;
	struct fblk f;
	uint8_t want[MF_PAGE];

	/* After xl restore, blkfront grants its ring and says Initialised before xenshmd has even
	 * seen the disk (the toolstack unpaused the guest right after writing the dirs). */
	host_init(&h, false);
	uint32_t devid = attach_disk(&h, 64, 64);
	h.no_wait_initwait = true;
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	h.no_wait_initwait = false;
	daemon_start(&h);
	ck_assert(wait_mf_be(&h, h.g1, devid, "state", "4"));
	fill(f.buf, 3, 3);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 3, 1, 0), XBLK_RSP_OKAY);
	memset(f.buf, 0, MF_PAGE);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_READ, 3, 1, 0), XBLK_RSP_OKAY);
	fill(want, 3, 3);
	ck_assert(!memcmp(f.buf, want, MF_PAGE));
	host_fini(&h);
}
END_TEST

START_TEST(detach_closes_and_deletes)
{
	struct host h;
	struct fblk f;

	host_init(&h, true);
	uint32_t devid = attach_disk(&h, 128, 128);
	fblk_connect(&f, &h, h.x1, h.g1, devid);
	fill(f.buf, 0, 6);
	ck_assert_int_eq(fblk_rw(&f, XBLK_OP_WRITE, 0, 1, 0), XBLK_RSP_OKAY);
	ck_assert_int_eq(xshm_memflex_remove(h.tool, h.g1, devid, 3000), 0);
	ck_assert(wait_used_kb(&h, 0));
	for (int i = 0; i < 300 && files_in(h.store_dir); i++)
		usleep(10000);
	ck_assert_uint_eq(files_in(h.store_dir), 0);
	host_fini(&h);
}
END_TEST

Suite *memflex_suite(void)
{
	Suite *s = suite_create("memflex");
	TCase *tc = tcase_create("store");

	tcase_add_test(tc, store_tiers_and_accounting);
	tcase_add_test(tc, store_partial_writes_land_in_place);
	tcase_add_test(tc, store_discard_frees_only_its_range);
	tcase_add_test(tc, store_without_spill_refuses_when_full);
	tcase_add_test(tc, store_demotes_cold_pages_first);
	tcase_add_test(tc, store_reattaches_after_restart);
	suite_add_tcase(s, tc);
	tc = tcase_create("blkif");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, vbd_names);
	tcase_add_test(tc, disk_handshake_io_and_discard);
	tcase_add_test(tc, short_spill_room_is_said_when_a_disk_comes);
	tcase_add_test(tc, polling_serves_requests_that_were_not_kicked);
	tcase_add_test(tc, bad_requests_answered_lying_index_disconnects);
	tcase_add_test(tc, unaligned_segments_straddle_disk_pages);
	tcase_add_test(tc, multi_page_ring_and_batches_beyond_one_pass);
	tcase_add_test(tc, indirect_requests);
	tcase_add_test(tc, pgrants_map_once_cap_and_give_up);
	tcase_add_test(tc, discards_apply_after_their_batch_in_order);
	tcase_add_test(tc, persistent_grants_map_once_then_copy);
	tcase_add_test(tc, restart_keeps_pages_and_serves_what_waited);
	tcase_add_test(tc, lower_memory_moves_pages_to_disk);
	tcase_add_test(tc, host_short_takes_memflex_pages_first);
	tcase_add_test(tc, guest_death_deletes_the_store);
	tcase_add_test(tc, orphans_of_a_daemon_that_was_down_are_cleaned);
	tcase_add_test(tc, saved_domain_gets_its_swap_back);
	tcase_add_test(tc, frontend_that_resumed_first_is_served);
	tcase_add_test(tc, detach_closes_and_deletes);
	suite_add_tcase(s, tc);
	return s;
}
