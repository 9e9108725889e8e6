// SPDX-License-Identifier: GPL-2.0-only
/* MemFlex: the blkif backend over the tiered page store (see memflex.h). */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/xenbus.h"
#include "xenshm/xspaths.h"
#include "memflex.h"
#include "spin.h"

#define MF_ROOT "/local/domain/0/backend/memflex"
#define SIZE_KB_MAX (UINT64_C(1) << 30)   /* 1 TiB */
#define LOG_ONCE_ERRORS 8u                /* bad requests logged per disk, then only counted */

/* ---- XenStore helpers ---- */

static int be_key(const struct xshm_mf *mf, const char *key, char *path, size_t size)
{
	char dir[XSP_MAX];
	int rc = xsp_mf_be_dir(dir, sizeof(dir), mf->domid, mf->devid);

	if (!rc && snprintf(path, size, "%s/%s", dir, key) >= (int)size)
		rc = -ENAMETOOLONG;
	return rc;
}

static int fe_key(const struct xshm_mf *mf, const char *key, char *path, size_t size)
{
	char dir[XSP_MAX];
	int rc = xsp_mf_fe_dir(dir, sizeof(dir), mf->domid, mf->devid);

	if (!rc && snprintf(path, size, "%s/%s", dir, key) >= (int)size)
		rc = -ENAMETOOLONG;
	return rc;
}

static int read_uint(struct xshm_mf *mf, bool backend, const char *key, unsigned long long max,
		     unsigned long long *out)
{
	char path[XSP_MAX];
	int rc = backend ? be_key(mf, key, path, sizeof(path)) : fe_key(mf, key, path, sizeof(path));

	return rc ? rc : xo_read_uint(mf->h->x, XO_TXN_NONE, path, max, out);
}

static int write_be(struct xshm_mf *mf, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int write_be(struct xshm_mf *mf, const char *key, const char *fmt, ...)
{
	char path[XSP_MAX], guard[XSP_MAX], val[256];
	va_list ap;
	int rc = be_key(mf, key, path, sizeof(path));

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (!rc)
		rc = be_key(mf, "frontend-id", guard, sizeof(guard));
	/* `xenshm detach` removes the dir once we are Closed; a stats write racing it would bring
	 * the dir back and keep the disk (and its memory) alive (lab 92, twice in CI). */
	if (!rc)
		rc = xo_write_if_exists(mf->h->x, guard, path, val);
	return rc;
}

static int set_state(struct xshm_mf *mf, int state)
{
	unsigned long long now;

	/* A write creates missing parents: never bring back a dir the toolstack removed. */
	if (read_uint(mf, true, "state", XB_RECONFIGURED, &now) == -ENOENT)
		return -ENOENT;
	/* The offer the frontend reads when it connects; never changed under a connected one. */
	if (state == XB_INITWAIT)
		write_be(mf, "feature-persistent", "%u", mf->h->mf_pgrants_max ? 1u : 0u);
	int rc = write_be(mf, "state", "%d", state);
	if (!rc && state != mf->be_state)
		XSHM_MFLOG(mf, LOG_INFO, "backend state %d", state);
	if (!rc)
		mf->be_state = state;
	else
		XSHM_MFLOG(mf, LOG_ERR, "cannot write backend state %d: %s", state, strerror(-rc));
	return rc;
}

/* ---- accounting: the store's memory is the pool's ---- */

static int acct_charge(void *arg, uint64_t pages, bool force)
{
	struct xshm_mf *mf = arg;

	if (force) {
		mf->acct.used += pages;
		mf->h->pool.used += pages;
		return 0;
	}
	return xshm_pool_charge(&mf->h->pool, &mf->acct, pages);
}

static void acct_release(void *arg, uint64_t pages)
{
	struct xshm_mf *mf = arg;

	xshm_pool_release(&mf->h->pool, &mf->acct, pages);
}

/* ---- connection ---- */

static void disconnect(struct xshm_mf *mf)
{
	struct xo *x = mf->h->x;

	if (mf->port_bound)
		x->ops->evtchn_unbind(x, mf->port);
	if (mf->sring)
		x->ops->gnt_unmap(x, mf->sring, mf->ring_pages);
	xshm_pgrants_fini(&mf->pgrants);
	mf->port_bound = false;
	mf->sring = NULL;
	mf->connected = false;
}

static void mf_fail(struct xshm_mf *mf, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void mf_fail(struct xshm_mf *mf, int err, const char *fmt, ...)
{
	char msg[256], path[XSP_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	XSHM_MFLOG(mf, LOG_ERR, "%s: disconnecting", msg);
	if (!xsp_mf_be_error(path, sizeof(path), mf->domid, mf->devid))
		xshm_write_error_node(mf->h->x, path, mf->domid, "%d domain %u disk memflex/%u: %s", -err, mf->domid,
				      mf->devid, msg);
	disconnect(mf);
	set_state(mf, XB_CLOSED);
}

/* Map the ring the frontend granted: ring-ref, or ring-page-order with ring-ref0..N. */
static int map_ring(struct xshm_mf *mf)
{
	struct xo *x = mf->h->x;
	unsigned long long order = 0, v;
	xo_gref_t refs[1u << XSHM_MF_RING_ORDER_MAX];
	void *ring = NULL;
	int rc;

	rc = read_uint(mf, false, "ring-page-order", XSHM_MF_RING_ORDER_MAX, &order);
	if (rc && rc != -ENOENT) {
		mf_fail(mf, rc, "ring-page-order is not 0 .. %u", XSHM_MF_RING_ORDER_MAX);
		return rc;
	}
	unsigned int n = 1u << order;
	for (unsigned int i = 0; i < n; i++) {
		char key[24];
		if (rc == -ENOENT) /* no ring-page-order: the one-page layout */
			snprintf(key, sizeof(key), "ring-ref");
		else
			snprintf(key, sizeof(key), "ring-ref%u", i);
		int r = read_uint(mf, false, key, UINT32_MAX, &v);
		if (r) {
			mf_fail(mf, r, "frontend %s missing or not a grant reference", key);
			return r;
		}
		refs[i] = (xo_gref_t)v;
	}
	rc = x->ops->gnt_map(x, mf->domid, n, refs, true, &ring);
	if (rc) {
		mf_fail(mf, rc, "cannot map the %u-page ring: %s", n, strerror(-rc));
		return rc;
	}
	mf->sring = ring;
	mf->ring_pages = n;
	mf->nr_ents = xblk_ring_entries(n);
	return 0;
}

static int check_protocol(struct xshm_mf *mf)
{
	char path[XSP_MAX], *v = NULL;
	int rc = xsp_mf_fe_protocol(path, sizeof(path), mf->domid, mf->devid);

	if (rc)
		return rc;
	rc = xo_read_str(mf->h->x, XO_TXN_NONE, path, &v);
	if (rc == -ENOENT)
		return 0; /* the native layout */
	if (!rc && strcmp(v, "x86_64-abi"))
		rc = -EPROTONOSUPPORT;
	if (rc)
		mf_fail(mf, rc, "protocol '%.32s' not served (only x86_64-abi)", v ? v : "?");
	free(v);
	return rc;
}

static void serve(struct xshm_mf *mf);

/*
 * Persistent grants when the frontend asked for them and our backend dir
 * offered them when it connected (a restarted xenshmd keeps that offer:
 * the frontend chose its way then).  A frontend that did not agree ends
 * each grant after its request, which a mapping we kept would make fail.
 */
static void use_persistent_grants(struct xshm_mf *mf)
{
	unsigned long long offered = 0, asked = 0;
	int rc;

	read_uint(mf, true, "feature-persistent", 1, &offered);
	read_uint(mf, false, "feature-persistent", 1, &asked);
	if (!offered || !asked || !mf->h->mf_pgrants_max)
		return;
	rc = xshm_pgrants_init(&mf->pgrants, mf->h->x, mf->domid, mf->h->mf_pgrants_max);
	if (rc)
		XSHM_MFLOG(mf, LOG_WARNING, "persistent grants off: %s", strerror(-rc));
}

/* Ring and port; with resume, a previous xenshmd's connection is taken over. */
static int connect_ring(struct xshm_mf *mf, bool resume)
{
	struct xo *x = mf->h->x;
	unsigned long long evtchn;
	int rc;

	if ((rc = check_protocol(mf)) || (rc = map_ring(mf)))
		return rc;
	rc = read_uint(mf, false, "event-channel", UINT32_MAX, &evtchn);
	if (rc) {
		mf_fail(mf, rc, "frontend event-channel missing or malformed");
		return rc;
	}
	rc = x->ops->evtchn_bind_interdomain(x, mf->domid, (xo_port_t)evtchn, &mf->port);
	if (rc) {
		mf_fail(mf, rc, "cannot bind the frontend's port %llu: %s", evtchn, strerror(-rc));
		return rc;
	}
	mf->port_bound = true;
	use_persistent_grants(mf);
	if (resume) {
		/* Our responses are in order: everything past rsp_prod is still to do. */
		uint32_t untrusted_rsp = __atomic_load_n(&mf->sring->rsp_prod, __ATOMIC_ACQUIRE);
		uint32_t untrusted_req = __atomic_load_n(&mf->sring->req_prod, __ATOMIC_ACQUIRE);
		if (untrusted_req - untrusted_rsp > mf->nr_ents) {
			mf_fail(mf, -EPROTO, "ring indices req_prod %u rsp_prod %u are %u apart (ring of %u)",
				untrusted_req, untrusted_rsp, untrusted_req - untrusted_rsp, mf->nr_ents);
			return -EPROTO;
		}
		mf->req_cons = mf->rsp_prod_pvt = mf->rsp_pushed = untrusted_rsp;
	} else {
		mf->req_cons = mf->rsp_prod_pvt = mf->rsp_pushed = 0;
	}
	mf->connected = true;
	XSHM_MFLOG(mf, LOG_INFO, "%s: %u-page ring, port %u", resume ? "resumed" : "connected",
		   mf->ring_pages, mf->port);
	if (!resume)
		return set_state(mf, XB_CONNECTED);
	serve(mf);
	return 0;
}

/* ---- the data path ---- */

struct mf_pending {
	uint64_t id;
	uint8_t op;
	int16_t status;
	unsigned int first_copy, ncopies;
};

struct mf_copy_meta {
	uint64_t page;
	uint16_t off;
	uint8_t *dst;      /* writes: where the store wanted the bytes */
};

struct mf_discard {
	uint64_t first, pages;
};

struct mf_batch {
	struct mf_pending req[XSHM_MF_BATCH_SEGS];
	unsigned int nreq;
	struct xo_gnt_copy copy[XSHM_MF_BATCH_SEGS];
	struct mf_copy_meta meta[XSHM_MF_BATCH_SEGS];
	unsigned int ncopy;
	/* Discards answered, not yet applied (see apply_discards). */
	struct mf_discard discard[XSHM_MF_PASS_REQUESTS];
	unsigned int ndiscard;
};

static void bad_request(struct xshm_mf *mf, const char *what, uint64_t id)
{
	if (mf->errors++ < LOG_ONCE_ERRORS)
		XSHM_MFLOG(mf, LOG_WARNING, "request %llu refused: %s", (unsigned long long)id, what);
}

/* One piece through a persistent grant's page, at once.  The plan keeps gnt_off + len in it. */
static int copy_mapped(struct xshm_mf *mf, const struct xblk_piece *pc, bool write, uint8_t *mapped,
		       uint8_t *bounce)
{
	uint8_t *dst;
	const uint8_t *src;
	int rc;

	if (!write) {
		if (!(rc = mf_store_read(&mf->store, pc->page, pc->page_off, bounce, &src)))
			memcpy(mapped + pc->gnt_off, src, pc->len);
		return rc;
	}
	if ((rc = mf_store_write_begin(&mf->store, pc->page, pc->page_off, pc->len, bounce, &dst)))
		return rc;
	/* The guest may change its page meanwhile: its own bytes, stored as they come. */
	memcpy(dst, mapped + pc->gnt_off, pc->len);
	return mf_store_write_end(&mf->store, pc->page, pc->page_off, pc->len, dst, true);
}

/* A validated read or write: a memcpy per piece through a persistent grant, otherwise one copy op
 * per piece, between the guest's grant and the store. */
static int16_t queue_pieces(struct xshm_mf *mf, struct mf_batch *b, const struct xblk_plan *plan)
{
	bool write = plan->op == XBLK_OP_WRITE;
	int rc;

	for (unsigned int i = 0; i < plan->npieces; i++) {
		const struct xblk_piece *pc = &plan->piece[i];
		uint8_t *bounce = mf->bounce + (size_t)b->ncopy * MF_PAGE;
		struct xo_gnt_copy *c = &b->copy[b->ncopy];
		struct mf_copy_meta *m = &b->meta[b->ncopy];
		uint8_t *mapped = xshm_pgrants_page(&mf->pgrants, pc->gref);
		if (mapped) {
			if ((rc = copy_mapped(mf, pc, write, mapped, bounce)))
				goto store_failed;
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->domid = mf->domid;
		c->ref = pc->gref;
		c->offset = pc->gnt_off;
		c->len = pc->len;
		c->to_granted = !write;
		m->page = pc->page;
		m->off = pc->page_off;
		m->dst = NULL;
		if (write) {
			rc = mf_store_write_begin(&mf->store, pc->page, pc->page_off, pc->len, bounce, &m->dst);
			c->local = m->dst;
		} else {
			const uint8_t *src;
			rc = mf_store_read(&mf->store, pc->page, pc->page_off, bounce, &src);
			c->local = (void *)(uintptr_t)src; /* a read copies out of it only */
		}
		if (rc)
			goto store_failed;
		b->ncopy++;
	}
	return XBLK_RSP_OKAY;
store_failed:
	/* The ops already queued for this request still run; its status says error. */
	bad_request(mf, rc == -ENOSPC ? "no room left in memory or spill file" : "spill file I/O", plan->id);
	return XBLK_RSP_ERROR;
}

/* Plan a request; an indirect one first has its segments copied out of the guest's page, once. */
static int plan_one(struct xshm_mf *mf, const union xblk_request *req, struct xblk_plan *plan, const char **why)
{
	struct xo *x = mf->h->x;
	unsigned int npages;
	int rc;

	if (req->operation != XBLK_OP_INDIRECT)
		return xblk_plan_request(req, mf->pages, plan, why);
	memset(plan, 0, sizeof(*plan));
	plan->id = req->indirect.id;
	plan->op = req->indirect.indirect_op;
	if ((rc = xblk_indirect_pages(req, &npages, why)))
		return rc;
	/* At most XBLK_MAX_INDIRECT_SEGMENTS segments: they fit the first page, copied out once. */
	size_t len = req->indirect.nr_segments * sizeof(struct xblk_segment);
	const uint8_t *mapped = npages == 1 ? xshm_pgrants_page(&mf->pgrants, req->indirect.indirect_grefs[0]) : NULL;
	if (mapped) {
		memcpy(mf->indirect, mapped, len);
		return xblk_plan_indirect(req, mf->indirect, mf->pages, plan, why);
	}
	struct xo_gnt_copy c = {
		.domid = mf->domid,
		.ref = req->indirect.indirect_grefs[0],
		.len = (uint16_t)len,
		.local = mf->indirect,
	};
	if (npages != 1 || x->ops->gnt_copy(x, &c, 1) || c.status != XO_GNTST_OKAY) {
		*why = "indirect segment page not readable";
		return XBLK_RSP_ERROR;
	}
	return xblk_plan_indirect(req, mf->indirect, mf->pages, plan, why);
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * The start of a batch's service time, for one batch in XSHM_MF_LAT_SAMPLE
 * (0: not timed).  A PV dom0's clock read is a system call through Xen, 55 us
 * in the lab: two per batch were a tenth of a swap-in's service time.  The
 * histogram's percentiles stand on the sampled batches.
 */
static uint64_t batch_clock(const struct xshm_mf *mf)
{
	return mf->batches % XSHM_MF_LAT_SAMPLE ? 0 : now_us();
}

static void push_response(struct xshm_mf *mf, uint64_t id, uint8_t op, int16_t status)
{
	struct xblk_response *rsp = &mf->sring->ring[mf->rsp_prod_pvt & (mf->nr_ents - 1)].rsp;

	rsp->id = id;
	rsp->operation = op;
	rsp->status = status;
	mf->rsp_prod_pvt++;
}

/* Run the batch's grant copies, finish the store's side, answer every request in it. */
static void run_batch(struct xshm_mf *mf, struct mf_batch *b, uint64_t t0)
{
	struct xo *x = mf->h->x;

	if (b->ncopy && x->ops->gnt_copy(x, b->copy, b->ncopy))
		for (unsigned int i = 0; i < b->ncopy; i++)
			b->copy[i].status = XO_GNTST_GENERAL_ERROR;
	for (unsigned int r = 0; r < b->nreq; r++) {
		struct mf_pending *p = &b->req[r];
		for (unsigned int i = p->first_copy; i < p->first_copy + p->ncopies; i++) {
			struct xo_gnt_copy *c = &b->copy[i];
			bool ok = c->status == XO_GNTST_OKAY;
			if (!ok && p->status == XBLK_RSP_OKAY) {
				p->status = XBLK_RSP_ERROR;
				bad_request(mf, "grant copy failed (bad grant reference?)", p->id);
			}
			if (!c->to_granted && b->meta[i].dst &&
			    mf_store_write_end(&mf->store, b->meta[i].page, b->meta[i].off, c->len,
					       b->meta[i].dst, ok) && p->status == XBLK_RSP_OKAY)
				p->status = XBLK_RSP_ERROR;
		}
		push_response(mf, p->id, p->op, p->status);
	}
	if (b->nreq) {
		if (t0) {
			uint64_t us = now_us() - t0;
			unsigned int bucket = 0;
			while (bucket < 31 && (UINT64_C(1) << bucket) < us)
				bucket++;
			mf->lat_hist[bucket]++;
		}
		mf->batches++;
		mf->gen++;
	}
	b->nreq = b->ncopy = 0;
}

/*
 * A discard is answered with its batch and applied once the batch's answers
 * are out.  Two reasons: punching swap's cluster discards out of the tiers
 * took 2.9 ms a call in the lab (99-memflex-trace), time the reads sharing
 * the batch would wait; and a write queued earlier in the batch must have
 * been copied before its page is punched, or the copy lands in a page the
 * store no longer counts (memory held, uncharged).  Until applied, no later
 * request may touch the discarded pages (discard_pending_over).  A xenshmd
 * that dies in between leaves those pages stored: readable, not yet freed.
 */
static void apply_discards(struct xshm_mf *mf, struct mf_batch *b)
{
	for (unsigned int i = 0; i < b->ndiscard; i++)
		mf_store_discard(&mf->store, b->discard[i].first, b->discard[i].pages);
	b->ndiscard = 0;
}

static bool discard_pending_over(const struct mf_batch *b, const struct xblk_plan *plan)
{
	uint64_t lo = UINT64_MAX, hi = 0;

	if (!b->ndiscard || !plan->npieces)
		return false;
	for (unsigned int i = 0; i < plan->npieces; i++) {
		lo = plan->piece[i].page < lo ? plan->piece[i].page : lo;
		hi = plan->piece[i].page > hi ? plan->piece[i].page : hi;
	}
	for (unsigned int i = 0; i < b->ndiscard; i++)
		if (b->discard[i].first <= hi && lo < b->discard[i].first + b->discard[i].pages)
			return true;
	return false;
}

/* RING_PUSH_RESPONSES_AND_CHECK_NOTIFY */
static void publish_responses(struct xshm_mf *mf)
{
	struct xo *x = mf->h->x;
	uint32_t old = mf->rsp_pushed, now = mf->rsp_prod_pvt;

	if (old == now)
		return;
	__atomic_store_n(&mf->sring->rsp_prod, now, __ATOMIC_RELEASE);
	mf->rsp_pushed = now;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	uint32_t untrusted_event = __atomic_load_n(&mf->sring->rsp_event, __ATOMIC_RELAXED);
	if ((uint32_t)(now - untrusted_event) < (uint32_t)(now - old)) {
		x->ops->evtchn_notify(x, mf->port);
		mf->notifies++;
	}
}

/* Spin until the guest produces a request or the poll window ends.  true: one came. */
static bool poll_ring(const struct xshm_mf *mf)
{
	uint64_t end = xshm_tsc() + mf->h->mf_poll_ticks;

	do {
		if (__atomic_load_n(&mf->sring->req_prod, __ATOMIC_ACQUIRE) != mf->req_cons)
			return true;
		xshm_cpu_relax();
	} while (xshm_tsc() < end);
	return false;
}

static void serve(struct xshm_mf *mf)
{
	struct mf_batch *b = mf->batch;

	unsigned int served = 0;

	mf->more = false;
	for (;;) {
		uint32_t untrusted_prod = __atomic_load_n(&mf->sring->req_prod, __ATOMIC_ACQUIRE);
		if (untrusted_prod - mf->req_cons > mf->nr_ents) {
			mf_fail(mf, -EPROTO, "req_prod %u is %u requests past the %u consumed (ring of %u)",
				untrusted_prod, untrusted_prod - mf->req_cons, mf->req_cons, mf->nr_ents);
			break;
		}
		uint64_t t0 = batch_clock(mf);
		while (mf->req_cons != untrusted_prod && served < XSHM_MF_PASS_REQUESTS) {
			union xblk_request req;
			/* One copy out of shared memory; everything below reads the copy. */
			memcpy(&req, &mf->sring->ring[mf->req_cons & (mf->nr_ents - 1)].req, sizeof(req));
			struct mf_pending *p = &b->req[b->nreq];
			int16_t status;
			struct xblk_plan plan;
			const char *why;
			int planned = plan_one(mf, &req, &plan, &why);

			if (b->nreq == XSHM_MF_BATCH_SEGS || (!planned && b->ncopy + plan.npieces > XSHM_MF_BATCH_SEGS)) {
				status = 1;
			} else if (planned) {
				bad_request(mf, why, plan.id);
				status = (int16_t)planned;
			} else if (plan.op == XBLK_OP_DISCARD && b->ndiscard == XSHM_MF_PASS_REQUESTS) {
				status = 2;
			} else if (plan.op == XBLK_OP_DISCARD) {
				if (plan.discard_pages)
					b->discard[b->ndiscard++] = (struct mf_discard){ plan.discard_first,
											plan.discard_pages };
				status = XBLK_RSP_OKAY;
			} else if (plan.op == XBLK_OP_FLUSH_DISKCACHE) {
				status = XBLK_RSP_OKAY; /* every write we answered is already in a tier */
			} else if (discard_pending_over(b, &plan)) {
				status = 2;
			} else {
				status = queue_pieces(mf, b, &plan);
			}
			if (status == 1 || status == 2) {
				/* Batch full, or this request touches a page a queued discard frees (or the
				 * discards are full): run the batch (and the discards) first, then take this
				 * request again. */
				run_batch(mf, b, t0);
				if (status == 2)
					apply_discards(mf, b);
				t0 = batch_clock(mf);
				continue;
			}
			/* The copies queue_pieces queued belong to this request, even on error. */
			unsigned int queued = 0;
			for (unsigned int r = 0; r < b->nreq; r++)
				queued += b->req[r].ncopies;
			p->id = plan.id;
			/* blkfront checks the answer names its operation (an indirect one's inner op). */
			p->op = req.operation == XBLK_OP_INDIRECT ? req.indirect.indirect_op : req.operation;
			p->status = status;
			p->first_copy = queued;
			p->ncopies = b->ncopy - queued;
			b->nreq++;
			mf->req_cons++;
			mf->requests++;
			served++;
		}
		run_batch(mf, b, t0);
		publish_responses(mf);
		apply_discards(mf, b);
		if (served >= XSHM_MF_PASS_REQUESTS && mf->req_cons != untrusted_prod) {
			/* The rest waits for the next loop pass, after the other disks and devices. */
			mf->more = true;
			break;
		}
		/* Polling: the guest sees req_event behind and does not kick; we look instead. */
		if (mf->h->mf_poll_ticks && poll_ring(mf)) {
			mf->polled++;
			continue;
		}
		/* RING_FINAL_CHECK_FOR_REQUESTS: ask for an event, then look once more. */
		__atomic_store_n(&mf->sring->req_event, mf->req_cons + 1, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (__atomic_load_n(&mf->sring->req_prod, __ATOMIC_ACQUIRE) == mf->req_cons)
			break;
	}
}

void xshm_mf_event(struct xshm_mf *mf)
{
	mf->events++;
	if (mf->connected)
		serve(mf);
}

/* ---- lifecycle ---- */

static void quota_changed(struct xshm_mf *mf, bool at_start)
{
	unsigned long long kb;
	char path[XSP_MAX], *v = NULL;

	if (xsp_mf_be_mem_kb(path, sizeof(path), mf->domid, mf->devid))
		return;
	if (xo_read_str(mf->h->x, XO_TXN_NONE, path, &v)) {
		if (at_start)
			mf->acct.quota = mf->pages;
		xshm_setting_accepted(mf->h, path);
		return;
	}
	int64_t pages = xshm_parse_kb_pages(v, mf->pages * 4);
	if (pages < 0) {
		XSHM_MFLOG(mf, LOG_WARNING, "refused mem-kb '%.32s' (0 .. %llu, a multiple of 4): keeping %llu KiB",
			   v, (unsigned long long)mf->pages * 4, (unsigned long long)mf->acct.quota * 4);
		if (at_start)
			mf->acct.quota = mf->pages;
		xshm_setting_refused(mf->h, path, v, "not 0 .. %llu, a multiple of 4; keeping %llu KiB",
				     (unsigned long long)mf->pages * 4, (unsigned long long)mf->acct.quota * 4);
	} else {
		xshm_setting_accepted(mf->h, path);
	}
	if (pages >= 0 && ((uint64_t)pages != mf->acct.quota || at_start)) {
		mf->acct.quota = (uint64_t)pages;
		kb = (unsigned long long)pages * 4;
		XSHM_MFLOG(mf, LOG_INFO, "memory tier up to %llu KiB", kb);
	}
	free(v);
}

static void publish_features(struct xshm_mf *mf)
{
	write_be(mf, "sectors", "%llu", (unsigned long long)mf->pages * XBLK_SECTORS_PER_PAGE);
	write_be(mf, "sector-size", "%u", MF_PAGE);
	write_be(mf, "physical-sector-size", "%u", MF_PAGE);
	write_be(mf, "info", "0");
	write_be(mf, "mode", "w");
	write_be(mf, "feature-flush-cache", "1");
	write_be(mf, "feature-discard", "1");
	write_be(mf, "discard-granularity", "%u", MF_PAGE);
	write_be(mf, "discard-alignment", "0");
	write_be(mf, "discard-secure", "0");
	write_be(mf, "max-ring-page-order", "%u", XSHM_MF_RING_ORDER_MAX);
	write_be(mf, "feature-max-indirect-segments", "%u", XBLK_MAX_INDIRECT_SEGMENTS);
	/* feature-persistent is written with InitWait (set_state): a restarted xenshmd finding the
	 * frontend connected keeps what that frontend saw. */
}

#define SAVED_SUFFIX ".saved"

/* Rename a store file to or from its saved name (which the orphan sweep leaves alone). */
static int set_aside(const char *path, bool away)
{
	char saved[600];

	snprintf(saved, sizeof(saved), "%s" SAVED_SUFFIX, path);
	if (!away && access(path, F_OK) == 0)
		return -EEXIST;
	return rename(away ? path : saved, away ? saved : path) ? -errno : 0;
}

static void store_path(const struct xshm_mf *mf, const char *dir, const char *ext, char *out, size_t size)
{
	char uuid[33];

	for (unsigned int i = 0; i < 16; i++)
		snprintf(uuid + 2 * i, 3, "%02x", mf->uuid[i]);
	snprintf(out, size, "%s/memflex-%s-%u.%s", dir, uuid, mf->devid, ext);
}

/*
 * A spill file that cannot grow fails the guest's swap writes, and a guest
 * whose swap fails OOM-kills its programs (seen in the lab with the spill
 * directory on dom0's RAM root).  When a disk comes, say so if the spill
 * directory could not take every page of every disk (`mf`, not yet listed,
 * included) that is not there already: the worst case, a host budget
 * squeezed to nothing.
 */
static void check_spill_room(const struct xshm_mf *mf)
{
	const struct xshm_host *h = mf->h;
	struct statvfs sv;
	uint64_t need = mf->pages - mf->store.st.on_disk;

	if (!h->mf_spill_dir || statvfs(h->mf_spill_dir, &sv))
		return;
	for (const struct xshm_mf *m = h->mfs; m; m = m->next)
		if (m != mf && m->store_open)
			need += m->pages - m->store.st.on_disk;
	uint64_t free_kb = (uint64_t)sv.f_bavail * sv.f_frsize / 1024;
	if (free_kb < need * (MF_PAGE / 1024))
		XSHM_MFLOG(mf, LOG_WARNING,
			   "spill directory %s has %llu MiB free, but the disks could spill %llu MiB: if it fills, "
			   "their guests' swap writes fail",
			   h->mf_spill_dir, (unsigned long long)(free_kb / 1024),
			   (unsigned long long)(need * (MF_PAGE / 1024) / 1024));
}

static int mf_new(struct xshm_host *h, xo_domid_t domid, uint32_t devid, const uint8_t uuid[16],
		  struct xshm_mf **out)
{
	struct xo *x = h->x;
	struct xshm_mf *mf = calloc(1, sizeof(*mf));
	char mem_path[512], disk_path[512];
	unsigned long long size_kb, state;
	bool reattached = false;
	int rc;

	if (!mf)
		return -ENOMEM;
	mf->h = h;
	mf->domid = domid;
	mf->devid = devid;
	memcpy(mf->uuid, uuid, 16);
	mf->port = ~0u;
	rc = read_uint(mf, true, "size-kb", SIZE_KB_MAX, &size_kb);
	if (rc || size_kb < 4 || size_kb % 4) {
		XSHM_MFLOG(mf, LOG_ERR, "size-kb missing or not a multiple of 4 in 4 .. %llu",
			   (unsigned long long)SIZE_KB_MAX);
		rc = rc ? rc : -EINVAL;
		goto fail;
	}
	mf->pages = size_kb / 4;
	quota_changed(mf, true);
	mf->batch = calloc(1, sizeof(*mf->batch));
	mf->bounce = mmap(NULL, (size_t)XSHM_MF_BATCH_SEGS * MF_PAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mf->bounce == MAP_FAILED || !mf->batch) {
		mf->bounce = NULL;
		rc = -ENOMEM;
		goto fail;
	}
	store_path(mf, h->mf_mem_dir, "mem", mem_path, sizeof(mem_path));
	store_path(mf, h->mf_spill_dir ? h->mf_spill_dir : "", "spill", disk_path, sizeof(disk_path));
	struct mf_account_ops ops = { .charge = acct_charge, .release = acct_release, .arg = mf };
	/* The same domain (its UUID) restored from a save file: its swap is where save left it. */
	if (set_aside(mem_path, false) == 0) {
		if (h->mf_spill_dir)
			set_aside(disk_path, false);
		XSHM_MFLOG(mf, LOG_INFO, "store of the saved domain taken back");
	}
	rc = mf_store_open(&mf->store, mem_path, h->mf_spill_dir ? disk_path : NULL, mf->pages, &ops,
			   &reattached);
	if (rc) {
		XSHM_MFLOG(mf, LOG_ERR, "cannot open the store %s: %s", mem_path, strerror(-rc));
		goto fail;
	}
	mf->store_open = true;
	check_spill_room(mf);
	if (reattached)
		XSHM_MFLOG(mf, LOG_INFO, "store reattached: %llu pages in memory, %llu on disk",
			   (unsigned long long)mf->store.st.in_mem, (unsigned long long)mf->store.st.on_disk);
	if ((rc = xsp_mf_fe_state(mf->fe_state_path, sizeof(mf->fe_state_path), domid, devid)))
		goto fail;
	snprintf(mf->token, sizeof(mf->token), "mffe:%u:%u", domid, devid);
	if ((rc = x->ops->xs_watch(x, mf->fe_state_path, mf->token)))
		goto fail;
	mf->be_state = read_uint(mf, true, "state", XB_RECONFIGURED, &state) ? XB_UNKNOWN : (int)state;
	publish_features(mf);
	*out = mf;
	return 0;
fail:
	xshm_mf_remove(NULL, mf, false);
	return rc;
}

void xshm_mf_frontend_changed(struct xshm_mf *mf)
{
	unsigned long long fe = XB_UNKNOWN, online = 1;

	read_uint(mf, true, "online", 1, &online);
	if (!online) {
		/* libxl's removal writes online=0 and then state=5: whichever we see last, the backend
		 * must end Closed, as what the remover waits for. */
		unsigned long long be;
		if (read_uint(mf, true, "state", XB_RECONFIGURED, &be) || be != XB_CLOSED) {
			disconnect(mf);
			set_state(mf, XB_CLOSED);
		}
		mf->finished = true;
		return;
	}
	if (mf->finished)
		return;
	if (read_uint(mf, false, "state", XB_RECONFIGURED, &fe))
		fe = XB_UNKNOWN;
	switch (fe) {
	case XB_INITIALISING:
	case XB_INITWAIT:
	case XB_UNKNOWN:
		if (mf->connected)
			disconnect(mf);
		if (mf->be_state != XB_INITWAIT)
			set_state(mf, XB_INITWAIT);
		break;
	case XB_INITIALISED:
	case XB_CONNECTED:
		if (mf->connected)
			break;
		if (mf->be_state == XB_CONNECTED) {
			connect_ring(mf, true); /* a restarted xenshmd */
			break;
		}
		/* Closed (we cut it off, or it closed): it must start over from Initialising. */
		if (mf->be_state == XB_CLOSED || mf->be_state == XB_CLOSING)
			break;
		/* A resumed blkfront (after xl restore) grants its ring at once, without waiting for
		 * our InitWait: pass through it and connect. */
		if (mf->be_state != XB_INITWAIT)
			set_state(mf, XB_INITWAIT);
		connect_ring(mf, false);
		break;
	case XB_CLOSING:
	case XB_CLOSED:
		disconnect(mf);
		if (mf->be_state != XB_CLOSED)
			set_state(mf, XB_CLOSED);
		break;
	default:
		break;
	}
}

void xshm_mf_backend_changed(struct xshm_mf *mf, const char *key)
{
	if (!strcmp(key, "mem-kb"))
		quota_changed(mf, false);
	else if (!strcmp(key, "online") || !strcmp(key, "state"))
		xshm_mf_frontend_changed(mf);
}

uint64_t xshm_mf_give_back(struct xshm_host *h, uint64_t need)
{
	uint64_t freed = 0;

	if (need > XSHM_MF_GIVE_BACK_MAX)
		need = XSHM_MF_GIVE_BACK_MAX;
	for (struct xshm_mf *m = h->mfs; m && freed < need; m = m->next) {
		if (!m->store_open)
			continue;
		uint64_t moved = mf_store_demote(&m->store, need - freed);
		if (moved) {
			m->gen++;
			XSHM_MFLOG(m, LOG_INFO, "moved %llu pages to the spill file: the host is short",
				   (unsigned long long)moved);
		}
		freed += moved;
	}
	return freed;
}

uint64_t xshm_mf_latency_us(const struct xshm_mf *mf, unsigned int pct)
{
	uint64_t total = 0, seen = 0;

	for (unsigned int i = 0; i < 32; i++)
		total += mf->lat_hist[i];
	if (!total)
		return 0;
	for (unsigned int i = 0; i < 32; i++) {
		seen += mf->lat_hist[i];
		if (seen * 100 >= total * pct)
			return UINT64_C(1) << i;
	}
	return UINT64_C(1) << 31;
}

static void publish_stats(struct xshm_mf *mf)
{
	const struct mf_store_stats *st = &mf->store.st;

	if (write_be(mf, "stats",
		     "mem-kb=%llu disk-kb=%llu reads=%llu writes=%llu discards=%llu zero=%llu spilled=%llu "
		     "demoted=%llu errors=%llu p50-us=%llu p99-us=%llu requests=%llu batches=%llu "
		     "events=%llu notifies=%llu polled=%llu persistent=%u",
		     (unsigned long long)st->in_mem * 4, (unsigned long long)st->on_disk * 4,
		     (unsigned long long)st->reads, (unsigned long long)st->writes,
		     (unsigned long long)st->discards, (unsigned long long)st->zero_writes,
		     (unsigned long long)st->spilled, (unsigned long long)st->demoted,
		     (unsigned long long)mf->errors, (unsigned long long)xshm_mf_latency_us(mf, 50),
		     (unsigned long long)xshm_mf_latency_us(mf, 99), (unsigned long long)mf->requests,
		     (unsigned long long)mf->batches, (unsigned long long)mf->events,
		     (unsigned long long)mf->notifies, (unsigned long long)mf->polled, mf->pgrants.count) == 0)
		mf->published_gen = mf->gen;
}

bool xshm_mf_tick(struct xshm_mf *mf)
{
	uint64_t now = xshm_host_now(mf->h);
	bool more = false;

	if (!mf->store_open)
		return false;
	if (mf->more && mf->connected)
		serve(mf);
	more = mf->more;
	/* Over its own quota, or the host over budget: the coldest pages go to disk, down to 1/16
	 * below the line so that the next writes find room and pages do not bounce. */
	uint64_t over = xshm_account_over(&mf->acct);
	uint64_t host_over = xshm_pool_over(&mf->h->pool);
	if (over || host_over) {
		uint64_t want = (over > host_over ? over : host_over) + mf->acct.quota / 16;
		if (want > mf->store.st.in_mem)
			want = mf->store.st.in_mem;
		uint64_t moved = mf_store_demote(&mf->store, want < XSHM_MF_DEMOTE_BATCH ? want : XSHM_MF_DEMOTE_BATCH);
		if (moved) {
			mf->gen++;
			more |= xshm_account_over(&mf->acct) || xshm_pool_over(&mf->h->pool);
		}
	}
	if (mf->gen != mf->published_gen && now - mf->stats_ms >= XSHM_MF_STATS_MS) {
		mf->stats_ms = now;
		publish_stats(mf);
	}
	return more;
}

void xshm_mf_remove(struct xshm_host *h, struct xshm_mf *mf, bool forget)
{
	if (h) {
		for (struct xshm_mf **pp = &h->mfs; *pp; pp = &(*pp)->next) {
			if (*pp == mf) {
				*pp = mf->next;
				break;
			}
		}
	}
	struct xo *x = mf->h->x;
	unsigned long long keep = 0;
	disconnect(mf);
	if (mf->token[0])
		x->ops->xs_unwatch(x, mf->fe_state_path, mf->token);
	/* `xenshm save` marked the disk: the domain is going to a save file, its swap with it. */
	if (forget && mf->store_open && read_uint(mf, true, "keep-store", 1, &keep) == 0 && keep) {
		set_aside(mf->store.mem_path, true);
		if (mf->store.disk_path)
			set_aside(mf->store.disk_path, true);
		XSHM_MFLOG(mf, LOG_INFO, "store kept for the domain's restore (%s" SAVED_SUFFIX ")", mf->store.mem_path);
	}
	if (mf->store_open)
		mf_store_close(&mf->store, forget && !keep);
	if (forget) {
		char path[XSP_MAX];
		if (!xsp_mf_be_dir(path, sizeof(path), mf->domid, mf->devid)) {
			x->ops->xs_rm(x, XO_TXN_NONE, path);
			xshm_rm_empty_parent(x, path);
		}
		/* .../error/backend/memflex/<domid>/<devid>/error: the disk's dir, then the domain's */
		if (!xsp_mf_be_error(path, sizeof(path), mf->domid, mf->devid)) {
			char *slash = strrchr(path, '/');
			if (slash)
				*slash = 0;
			x->ops->xs_rm(x, XO_TXN_NONE, path);
			xshm_rm_empty_parent(x, path);
		}
	}
	if (mf->bounce && mf->bounce != MAP_FAILED)
		munmap(mf->bounce, (size_t)XSHM_MF_BATCH_SEGS * MF_PAGE);
	free(mf->batch);
	free(mf);
}

struct xshm_mf *xshm_mf_find_domain(struct xshm_host *h, xo_domid_t domid)
{
	for (struct xshm_mf *v = h->mfs; v; v = v->next)
		if (v->domid == domid)
			return v;
	return NULL;
}

struct xshm_mf *xshm_mf_find(struct xshm_host *h, xo_domid_t domid, uint32_t devid)
{
	for (struct xshm_mf *v = h->mfs; v; v = v->next)
		if (v->domid == domid && v->devid == devid)
			return v;
	return NULL;
}

struct mf_owner {
	uint8_t uuid[16];
	uint32_t devid;
};

/* "memflex-<uuid hex>-<devid>.<ext>" -> uuid and devid; false for any other name. */
static bool parse_store_name(const char *name, struct mf_owner *o)
{
	char hex[33], ext[8];
	unsigned int devid;
	int len = 0;

	if (sscanf(name, "memflex-%32[0-9a-f]-%u.%7[a-z]%n", hex, &devid, ext, &len) != 3 || name[len] ||
	    strlen(hex) != 32 || (strcmp(ext, "mem") && strcmp(ext, "spill")))
		return false;
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int b;
		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return false;
		o->uuid[i] = (uint8_t)b;
	}
	o->devid = devid;
	return true;
}

/*
 * Once, after the first scan: store files no disk of a live domain owns belong to domains that
 * died while no xenshmd ran (nobody else would ever delete them: tmpfs memory, spill space).
 */
static void sweep_orphans(struct xshm_host *h, const struct mf_owner *owners, unsigned int n)
{
	const char *dirs[2] = { h->mf_mem_dir, h->mf_spill_dir };

	for (unsigned int d = 0; d < 2; d++) {
		DIR *dir = dirs[d] ? opendir(dirs[d]) : NULL;
		struct dirent *e;
		while (dir && (e = readdir(dir))) {
			struct mf_owner o;
			bool owned = false;
			if (!parse_store_name(e->d_name, &o))
				continue;
			for (unsigned int i = 0; i < n && !owned; i++)
				owned = owners[i].devid == o.devid && !memcmp(owners[i].uuid, o.uuid, 16);
			if (owned)
				continue;
			char path[512];
			snprintf(path, sizeof(path), "%s/%s", dirs[d], e->d_name);
			if (!unlink(path))
				xshm_log(h, LOG_INFO, "deleted %s: its domain is gone", path);
		}
		if (dir)
			closedir(dir);
	}
}

void xshm_mf_scan(struct xshm_host *h)
{
	struct xo *x = h->x;
	char **doms = NULL;
	unsigned int ndoms = 0, nowners = 0, cap = 0;
	struct mf_owner *owners = NULL;
	struct xshm_mf *next;

	for (struct xshm_mf *v = h->mfs; v; v = v->next)
		v->seen = false;
	if (x->ops->xs_directory(x, XO_TXN_NONE, MF_ROOT, &doms, &ndoms))
		ndoms = 0;
	for (unsigned int i = 0; i < ndoms; i++) {
		xo_domid_t domid;
		char path[XSP_MAX], **devs = NULL;
		unsigned int ndev = 0;
		struct xo_dominfo info;

		if (xo_parse_domid(doms[i], &domid) || domid == 0)
			continue;
		snprintf(path, sizeof(path), MF_ROOT "/%u", domid);
		if (x->ops->xs_directory(x, XO_TXN_NONE, path, &devs, &ndev))
			continue;
		bool alive = x->ops->domain_info(x, domid, &info) == 0 && !(info.flags & XO_DOMINFO_DYING);
		for (unsigned int j = 0; j < ndev; j++) {
			unsigned long long devid;
			if (xo_parse_uint(devs[j], UINT32_MAX, &devid))
				continue;
			if (alive && nowners == cap) {
				struct mf_owner *grown = realloc(owners, (cap = cap ? 2 * cap : 16) * sizeof(*owners));
				if (!grown) {
					cap = nowners;
				} else {
					owners = grown;
				}
			}
			if (alive && nowners < cap) {
				memcpy(owners[nowners].uuid, info.uuid, 16);
				owners[nowners++].devid = (uint32_t)devid;
			}
			struct xshm_mf *mf = xshm_mf_find(h, domid, (uint32_t)devid);
			if (!mf && alive && mf_new(h, domid, (uint32_t)devid, info.uuid, &mf) == 0) {
				mf->next = h->mfs;
				h->mfs = mf;
				XSHM_MFLOG(mf, LOG_INFO, "found: %llu KiB, memory up to %llu KiB",
					   (unsigned long long)mf->pages * 4, (unsigned long long)mf->acct.quota * 4);
				xshm_mf_frontend_changed(mf);
			}
			if (mf)
				mf->seen = true;
		}
		xo_free_strv(devs);
	}
	xo_free_strv(doms);
	/* Disks of a domain that died while no xenshmd ran: nobody else removes their dirs. */
	xshm_sweep_gone_domains(h, "memflex", true);
	for (struct xshm_mf *v = h->mfs; v; v = next) {
		next = v->next;
		if (!v->seen) {
			XSHM_MFLOG(v, LOG_INFO, "removed: store deleted");
			xshm_mf_remove(h, v, true);
		}
	}
	if (!h->mf_swept) {
		h->mf_swept = true;
		sweep_orphans(h, owners, nowners);
	}
	free(owners);
}
