/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MemFlex: a guest's swap disk served by xenshmd from host memory.
 *
 * To the guest it is an ordinary vbd: its stock xen-blkfront finds
 * device/vbd/<devid>, reads the disk's size and features from the backend
 * dir (backend/memflex/<domid>/<devid>, a type the kernel's blkback does not
 * watch), grants a ring and binds a port.  xenshmd maps the ring, copies
 * each request out of shared memory once, validates the copy, moves the
 * data through persistent grants (pgrant.h) or one batched grant copy per
 * pass and stores it in the tiered
 * page store (mfstore.h), charged to the disk's `mem-kb` and the host
 * budget.
 *
 * XenBus, as blkback does it, re-reading the frontend's state each time:
 *   discovery          open (or reattach) the store, publish size and
 *                      features, backend 2 (InitWait)
 *   frontend 3 or 4    map the ring, bind the port, backend 4 (Connected);
 *                      a restarted xenshmd finds backend 4 already and
 *                      reconnects without a state change, re-serving the
 *                      requests that had no response yet
 *   frontend 5 or 6    unmap, unbind, backend 6 (Closed); the store stays
 *   frontend 1 after 6 the guest reconnects: backend 2 again
 *   online 0           the toolstack is removing the disk: backend 6
 * A lying ring index or an unknown protocol disconnects the disk with an
 * error node; a bad request (range, segments, grant) is answered with an
 * error status and counted, as blkback does.
 */
#ifndef XENSHM_BACKEND_MEMFLEX_H
#define XENSHM_BACKEND_MEMFLEX_H

#include <stdbool.h>
#include <stdint.h>

#include "xenshm/blkif.h"
#include "xenshm/xspath.h"
#include "device.h"
#include "mfstore.h"
#include "pgrant.h"

#define XSHM_MF_RING_ORDER_MAX 4u    /* max-ring-page-order offered: 16 pages, 512 requests */
#define XSHM_MF_BATCH_SEGS 512u      /* grant copies per batch (two full indirect requests);
                                      * bounce pages reserved for them, touched only for the disk tier */
#define XSHM_MF_DEMOTE_BATCH 256u    /* pages moved to disk per loop pass while over quota */
#define XSHM_MF_STATS_MS 1000u
#define XSHM_MF_LAT_SAMPLE 8u        /* one batch in 8 is timed for the latency histogram */
#define XSHM_MF_PASS_REQUESTS 256u  /* per disk per loop pass: one busy guest cannot starve the rest */

struct mf_batch;

struct xshm_mf {
	struct xshm_mf *next;
	struct xshm_host *h;
	xo_domid_t domid;
	uint32_t devid;
	uint8_t uuid[16];
	int be_state;
	bool seen, connected, finished;
	bool more;                      /* requests left after a pass: served again without an event */
	uint64_t pages;                 /* disk size */
	struct xshm_account acct;       /* mem-kb */
	struct mf_store store;
	bool store_open;
	struct xblk_sring *sring;
	unsigned int ring_pages;
	uint32_t nr_ents, req_cons, rsp_prod_pvt;
	uint32_t rsp_pushed;            /* the rsp_prod we last published: never read back from the
					 * guest-writable ring */
	xo_port_t port;
	bool port_bound;
	uint8_t *bounce;                /* XSHM_MF_BATCH_SEGS pages */
	struct mf_batch *batch;         /* one pass's requests and copies, kept between passes */
	struct xshm_pgrants pgrants;    /* kept mapped while connected (feature-persistent) */
	struct xblk_segment indirect[XBLK_MAX_INDIRECT_SEGMENTS]; /* an indirect request's segments,
								    * copied out of the guest's page */
	uint64_t requests, errors, batches, stats_ms;
	uint64_t events, notifies;      /* wake-ups by the guest's port and kicks sent back: under TCG
					 * each costs more than a page's copy, so stats count them */
	uint64_t polled;                /* requests found by polling the ring (xshm_mf_poll_ticks) */
	struct xshm_storm storm;        /* its port's spurious kicks (dom0/storm.h) */
	uint64_t published_gen, gen;    /* stats node refreshed when gen moved */
	uint32_t lat_hist[32];          /* batch service time, log2(us) buckets, sampled batches */
	char fe_state_path[XSP_MAX];
	char token[48];
};

#define XSHM_MFLOG(mf, level, fmt, ...)                                                      \
	xshm_log((mf)->h, level, "domain %u disk memflex/%u: " fmt, (mf)->domid, (mf)->devid, \
		 ##__VA_ARGS__)

/* Re-list backend/memflex: new disks are set up, removed ones torn down. */
void xshm_mf_scan(struct xshm_host *h);
/* A disk of this domain that xenshmd serves, or NULL. */
struct xshm_mf *xshm_mf_find_domain(struct xshm_host *h, xo_domid_t domid);
struct xshm_mf *xshm_mf_find(struct xshm_host *h, xo_domid_t domid, uint32_t devid);
/* Take one disk down; with forget also delete its store and its dirs (domain gone). */
void xshm_mf_remove(struct xshm_host *h, struct xshm_mf *mf, bool forget);

void xshm_mf_frontend_changed(struct xshm_mf *mf);
/* A key of the backend dir changed: `online`, `state`, `mem-kb`. */
void xshm_mf_backend_changed(struct xshm_mf *mf, const char *key);
/* The disk's port fired: serve the ring. */
void xshm_mf_event(struct xshm_mf *mf);
/* Background work: requests left over from the last pass, cold pages moved out while over quota
 * or budget, stats published.  True if there is more to do at once. */
bool xshm_mf_tick(struct xshm_mf *mf);

/*
 * The host is short of `need` pages for a xenshm device: MemFlex memory is what dom0 can take
 * back at once without any guest's help, so move up to `need` cold pages (at most
 * XSHM_MF_GIVE_BACK_MAX per call) to the spill files.  Returns the pages freed.
 */
uint64_t xshm_mf_give_back(struct xshm_host *h, uint64_t need);
#define XSHM_MF_GIVE_BACK_MAX 4096u

/* p50 or p99 of the batch service time in microseconds (upper bucket bound); 0 if none. */
uint64_t xshm_mf_latency_us(const struct xshm_mf *mf, unsigned int pct);


#endif
