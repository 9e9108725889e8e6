/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One guest's xenshm device, as xenshmd serves it.
 *
 * How the pieces move:
 *  - The toolstack (xenshm attach) creates both directories with state 1.
 *  - dev_frontend_changed() is called on every watch event for the
 *    frontend's state (and on discovery).  It re-reads the state, never
 *    counts events, and tolerates skipped and repeated states:
 *      backend 1 or 6, frontend 1  -> grant a control page, bind a port,
 *                                     publish ring-ref/event-channel/version,
 *                                     backend 2 (InitWait)
 *      backend 2, frontend 3 or 4  -> check the frontend's version, attach the
 *                                     control rings, backend 4 (Connected)
 *      frontend 5 or 6             -> give everything back, backend 6 (Closed);
 *                                     with online=0 the device is finished
 *  - dev_event() runs when the device's port fires: it notices a dead
 *    frontend (its live byte zeroed by unmap-notify) or serves the control
 *    ring: each request is copied out once, parsed, answered.
 *  - Anything malformed from the guest: an error node naming the domain,
 *    the device and the fault, everything given back, backend Closed.
 */
#ifndef XENSHM_BACKEND_DEVICE_H
#define XENSHM_BACKEND_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenshm/ctrl.h"
#include "xenshm/xenops.h"
#include "xenshm/xspath.h"
#include "../dom0/policy.h"
#include "../dom0/pool.h"
#include "../dom0/lograte.h"
#include "../dom0/storm.h"

struct xshm_dev;
struct xshm_chan;
struct xshm_mf;

/* What every device of one xenshmd shares. */
struct xshm_host {
	struct xo *x;
	struct xshm_pool pool;
	struct xshm_policy_knobs knobs;
	bool pool_full;         /* in the policy's full phase (policy.h) */
	uint64_t default_quota; /* pages, when a device has no quota-kb */
	struct xshm_dev *devs;
	struct xshm_chan *chans;      /* MemPipe listeners and connections (backend/chan.h) */
	uint32_t next_chan_id;
	bool relay_pending;           /* a relay pass stopped at its budget: run another now */
	bool relay_hot;               /* a ring carried data lately: poll it again in 1 ms */
	bool sizing;                  /* a sized rx ring may shrink: look again every window */
	struct xshm_mf *mfs;          /* MemFlex disks (backend/memflex.h) */
	const char *mf_mem_dir;       /* where their memory tiers live (tmpfs) */
	const char *mf_spill_dir;     /* where their spill files live; NULL: no disk tier */
	bool mf_busy;                 /* a disk has pages to move out: come back at once */
	/* Polling (backend/spin.h), in TSC ticks, 0: never.  A disk: after answering, watch its
	 * ring this long before arming req_event, so a request that comes meanwhile costs no
	 * kick and no dom0 wake-up; the price is a dom0 CPU spinning while a guest swaps, and
	 * other disks and devices waiting up to this long.  The relay: after a pass while
	 * channels are hot, watch their tx rings this long instead of the next 1 ms poll. */
	uint64_t mf_poll_ticks, relay_poll_ticks;
	/* Persistent grants a disk may keep mapped (backend/pgrant.h); 0: not offered, every
	 * segment grant-copied. */
	unsigned int mf_pgrants_max;
	bool mf_swept;                /* orphaned store files looked for (once, at the first scan) */
	void (*log)(int level, const char *msg);
	uint64_t (*now_ms)(void *arg); /* a monotonic clock; tests pass their own */
	void *now_arg;
	/* Nonzero: the time of xenshmd's current step, read once for all of it.  A PV dom0's
	 * clock read is a system call through Xen (55 us in the lab, test 99-callcost), and a
	 * relaying step read it some seven times: most of xenshmd's CPU while a stream ran. */
	uint64_t step_ms;
};

void xshm_log(const struct xshm_host *h, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define XSHM_DEVLOG(dev, level, fmt, ...)                                                       \
	xshm_log((dev)->h, level, "domain %u device xenshm/%u: " fmt, (dev)->domid, (dev)->devid, \
		 ##__VA_ARGS__)

struct xshm_seg {
	struct xshm_seg *next;
	uint32_t id, pages, purpose, ndir;
	void *data;          /* our view of the data pages, then the directory pages */
	void *dir;           /* inside data's mapping */
	xo_gref_t *refs;     /* data refs, then directory refs */
	xo_gref_t *dir_refs; /* inside refs */
};

struct xshm_dev {
	struct xshm_dev *next;
	struct xshm_host *h;
	xo_domid_t domid;
	uint32_t devid;
	uint8_t uuid[16];
	int be_state;                 /* what we last wrote */
	struct xshm_ctrl_page *ctrl;  /* NULL until prepared */
	xo_gref_t ctrl_ref;
	xo_port_t port;
	bool port_bound, rings_attached, gone;
	bool seen;                    /* sweep mark of the daemon's device scan */
	bool suspend_warned;          /* said once per suspend that held mappings will break */
	uint32_t release_ms;          /* backend/.../release: a save waits for the guest to let go */
	struct xshm_ring tx, rx;
	struct xshm_seg *segs;
	uint32_t next_seg_id;
	struct xshm_account acct;
	/* The reclaim notice in flight, if any (one at a time). */
	struct {
		bool pending, overdue;
		uint32_t id;
		uint64_t pages;         /* asked for */
		uint64_t target;        /* acct.used at or below which it is honoured */
		uint64_t deadline_ms;
		uint64_t sent_ms;       /* last notice, for the policy's interval */
		bool ever_sent;
	} reclaim;
	uint64_t requests, faults, notices, overdues;
	uint64_t relay_passes;        /* passes of the relay that moved bytes to or from this guest */
	uint64_t chan_progress;       /* xshm_chan_progress at its last event */
	struct xshm_storm storm;      /* its port's spurious kicks (dom0/storm.h) */
	struct xshm_lograte chan_log; /* channels refused and opened: log lines a guest can cause */
	char fe_state_path[XSP_MAX];
	char token[48];
};

/* Remove the directory holding `path` if nothing is left in it (libxl's cleanup after a device). */
void xshm_rm_empty_parent(struct xo *x, const char *path);

/*
 * Directories of domains that are gone (`kind` xenshm or memflex): backend/<kind>/<domid> when
 * no device of the domain is served (sweep_backends), and error/backend/<kind>/<domid>.  A
 * guest that died while no xenshmd ran leaves them, and nobody else removes them.
 */
/* The admin's release request (backend/.../release) appeared, changed or went. */
void xshm_dev_release_changed(struct xshm_dev *dev);
#define XSHM_RELEASE_MS_MIN 100u
#define XSHM_RELEASE_MS_MAX 600000u

void xshm_sweep_gone_domains(struct xshm_host *h, const char *kind, bool sweep_backends);

/*
 * An error node (`"<errno> <message>"`) the guest may read, as the schema says (be-error,
 * mf-be-error): dom0 owns it, the guest learns why it was cut off.
 */
void xshm_write_error_node(struct xo *x, const char *path, xo_domid_t domid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * An administrator wrote a value xenshmd refuses (the caller logs why): the admin's error node
 * /tool/xenshm/error says "22 PATH: 'VALUE' refused: WHY; keeping OLD".  _accepted removes it
 * once PATH holds a good value again.
 */
void xshm_setting_refused(struct xshm_host *h, const char *path, const char *untrusted_value, const char *fmt,
			  ...) __attribute__((format(printf, 4, 5)));
void xshm_setting_accepted(struct xshm_host *h, const char *path);

/* Disconnect a misbehaving or failed frontend: error node, everything back, Closed. */
void xshm_dev_fail(struct xshm_dev *dev, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Grant a segment of `pages` data pages to the guest (charged, announced in XenStore). */
int xshm_seg_new(struct xshm_dev *dev, uint32_t pages, uint32_t purpose, struct xshm_seg **out);
/* Take one back (unlinked from the device, unshared, uncharged). */
void xshm_seg_drop(struct xshm_dev *dev, struct xshm_seg *seg);

/*
 * Queue an unsolicited message on the response ring, keeping room for the
 * answer to a request in flight: -EAGAIN if the guest is not reading.
 */
int xshm_dev_send_notice(struct xshm_dev *dev, const struct xshm_ctrl_msg *msg);

/* Set up a device found in XenStore: watch its frontend, read its quota. */
int xshm_dev_new(struct xshm_host *h, xo_domid_t domid, uint32_t devid, const uint8_t uuid[16],
		 struct xshm_dev **out);
/* Give everything back (grants, port), unwatch; remove the dirs too if remove_dirs. */
void xshm_dev_destroy(struct xshm_dev *dev, bool remove_dirs);

void xshm_dev_frontend_changed(struct xshm_dev *dev);
/* The toolstack changed the backend dir: with online=0 (libxl's removal) give everything back
 * and go Closed, which is what the remover waits for. */
void xshm_dev_backend_changed(struct xshm_dev *dev);
void xshm_dev_event(struct xshm_dev *dev);
/* Re-read quota-kb; a bad value is refused with a log line and the old value kept.  A quota
 * lowered below use asks the guest for the excess. */
void xshm_dev_quota_changed(struct xshm_dev *dev);

/*
 * Reclaim (policy in dom0/policy.h).  A notice asks the guest to free
 * `pages` within the deadline; freeing segments honours it.  A guest that
 * lets the deadline pass is overdue: nothing more is granted to it until it
 * is back at the target, and the backend dir's `reclaim` node says so.
 */
int xshm_dev_send_reclaim(struct xshm_dev *dev, uint64_t pages);
/* Deadlines: call when the clock passes xshm_dev_next_deadline(). */
void xshm_dev_tick(struct xshm_dev *dev);
/* Milliseconds of the next deadline on the host clock; UINT64_MAX if none. */
uint64_t xshm_dev_next_deadline(const struct xshm_dev *dev);

/*
 * Ask guests above their fair share for `need` pages (not `requester`, which
 * may be NULL).  Returns the pages asked for now plus those already on their
 * way back from earlier notices.
 */
uint64_t xshm_host_rebalance(struct xshm_host *h, struct xshm_dev *requester, uint64_t need);
uint64_t xshm_host_now(const struct xshm_host *h);
/* The device's fair share of the budget among the connected devices (and itself). */
uint64_t xshm_host_fair_share(const struct xshm_host *h, const struct xshm_dev *dev);
/* The admin wrote reclaim-kb: ask for that much (replacing a notice in flight), remove the node. */
void xshm_dev_reclaim_requested(struct xshm_dev *dev);
/* Forget the notice in flight (the device disconnected). */
void xshm_dev_reclaim_reset(struct xshm_dev *dev);

#endif
