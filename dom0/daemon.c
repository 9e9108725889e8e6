// SPDX-License-Identifier: GPL-2.0-only
/* xenshmd's core: devices, domains, tunables, dispatch (see daemon.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "../backend/chan.h"
#include "../backend/device.h"
#include "../backend/memflex.h"
#include "../backend/spin.h"
#include "xenshm/xspaths.h"
#include "daemon.h"

#define BE_ROOT "/local/domain/0/backend/xenshm"
#define MF_ROOT "/local/domain/0/backend/memflex"
#define TOOL_ROOT "/tool/xenshm"
#define BUDGET_KB_MAX (1ull << 42)
#define MAX_DOMAINS 1024

/* used-kb is written at most this often: MemFlex changes the pool's use with nearly every batch
 * of requests, and a XenStore write per batch cost more than the batch itself. */
#define PUBLISH_INTERVAL_MS 200u

/* Watch events read per step, and distinct ones dispatched, before the event channels get
 * their turn. */
#define WATCH_BATCH 1024u
#define WATCH_DISTINCT 64u

struct xshmd {
	struct xshm_host host;
	bool watches_left;       /* the last step stopped at WATCH_BATCH: come back at once */
	uint64_t watch_events, watch_dispatched;
	uint64_t relay_polled;   /* relay spins that found bytes waiting */
	uint64_t published_used; /* last used-kb written, +1 (0 = never) */
	uint64_t published_at;   /* when, on the real monotonic clock */
	uint64_t stepped_at;     /* the last step's clock, for the timeout right after it (0: read it) */
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool usage_unpublished(const struct xshmd *d)
{
	return d->published_used != d->host.pool.used + 1;
}

/* Keep /tool/xenshm/used-kb current (within PUBLISH_INTERVAL_MS), for the admin CLI and tests. */
static void publish_usage(struct xshmd *d, uint64_t now)
{
	char path[XSP_MAX];

	if (!usage_unpublished(d) || now - d->published_at < PUBLISH_INTERVAL_MS ||
	    xsp_tool_used_kb(path, sizeof(path)))
		return;
	if (!xo_printf(d->host.x, XO_TXN_NONE, path, "%llu", (unsigned long long)d->host.pool.used * 4)) {
		d->published_used = d->host.pool.used + 1;
		d->published_at = now;
	}
}

static struct xshm_dev *dev_find(struct xshmd *d, xo_domid_t domid, uint32_t devid)
{
	for (struct xshm_dev *v = d->host.devs; v; v = v->next)
		if (v->domid == domid && v->devid == devid)
			return v;
	return NULL;
}

static void dev_remove(struct xshmd *d, struct xshm_dev *dev, bool remove_dirs)
{
	for (struct xshm_dev **pp = &d->host.devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	xshm_dev_destroy(dev, remove_dirs);
}

static int domain_lookup(struct xshmd *d, xo_domid_t domid, struct xo_dominfo *info)
{
	struct xo *x = d->host.x;
	return x->ops->domain_info(x, domid, info);
}

/* Sweep: devices whose domain vanished, is dying, or is another domain under the same domid. */
/*
 * A guest suspended behind our back (plain `xl save`, `xl migrate`): Xen gives guest userspace
 * no warning, and a grant mapping or event channel kept across the suspend breaks the restored
 * guest (segfaults, a guest kernel BUG).  Nothing here can stop it; say loudly what will break
 * while it can still be cancelled, once per suspend.
 */
static void warn_if_suspending(struct xshmd *d, struct xshm_dev *v, const struct xo_dominfo *info)
{
	bool suspending = (info->flags & XO_DOMINFO_SHUTDOWN) && info->shutdown_reason == XO_SHUTDOWN_SUSPEND;
	unsigned int segs = 0;

	if (!suspending) {
		v->suspend_warned = false;
		return;
	}
	for (struct xshm_seg *s = v->segs; s; s = s->next)
		segs++;
	if (v->suspend_warned || (!v->rings_attached && !segs))
		return;
	v->suspend_warned = true;
	xshm_log(&d->host, LOG_WARNING,
		 "domain %u device xenshm/%u: the domain is being suspended (xl save or migrate) while its "
		 "guest holds the control page%s and %u segment%s (%llu pages): those mappings will not "
		 "survive a restore (expect the guest's process to crash); end the guest's xenshm users "
		 "before saving",
		 v->domid, v->devid, v->rings_attached ? "" : " (not connected)", segs, segs == 1 ? "" : "s",
		 (unsigned long long)v->acct.used);
}

static void domains_changed(struct xshmd *d)
{
	struct xshm_dev *next;

	for (struct xshm_dev *v = d->host.devs; v; v = next) {
		struct xo_dominfo info;
		next = v->next;
		int rc = domain_lookup(d, v->domid, &info);
		if (rc == 0 && !(info.flags & XO_DOMINFO_DYING) && !memcmp(info.uuid, v->uuid, 16)) {
			warn_if_suspending(d, v, &info);
			continue;
		}
		xshm_log(&d->host, LOG_INFO, "domain %u device xenshm/%u: domain %s: releasing everything",
			 v->domid, v->devid, rc ? "gone" : (info.flags & XO_DOMINFO_DYING) ? "dying" : "replaced");
		dev_remove(d, v, true);
	}
	struct xshm_mf *mnext;
	for (struct xshm_mf *m = d->host.mfs; m; m = mnext) {
		struct xo_dominfo info;
		mnext = m->next;
		int rc = domain_lookup(d, m->domid, &info);
		if (rc == 0 && !(info.flags & XO_DOMINFO_DYING) && !memcmp(info.uuid, m->uuid, 16))
			continue;
		XSHM_MFLOG(m, LOG_INFO, "domain %s: store deleted", rc ? "gone" : "dying or replaced");
		xshm_mf_remove(&d->host, m, true);
	}
}

/* Re-list backend/xenshm: new devices are set up, removed ones torn down. */
static void devices_changed(struct xshmd *d)
{
	struct xo *x = d->host.x;
	char **doms = NULL;
	unsigned int ndoms = 0;
	struct xshm_dev *next;

	for (struct xshm_dev *v = d->host.devs; v; v = v->next)
		v->seen = false;
	if (x->ops->xs_directory(x, XO_TXN_NONE, BE_ROOT, &doms, &ndoms))
		ndoms = 0;
	for (unsigned int i = 0; i < ndoms; i++) {
		xo_domid_t domid;
		char path[XSP_MAX], **devids = NULL;
		unsigned int ndev = 0;
		struct xo_dominfo info;

		if (xo_parse_domid(doms[i], &domid) || domid == 0)
			continue;
		snprintf(path, sizeof(path), BE_ROOT "/%u", domid);
		if (x->ops->xs_directory(x, XO_TXN_NONE, path, &devids, &ndev))
			continue;
		bool alive = domain_lookup(d, domid, &info) == 0 && !(info.flags & XO_DOMINFO_DYING);
		for (unsigned int j = 0; j < ndev; j++) {
			unsigned long long devid;
			if (xo_parse_uint(devids[j], 255, &devid))
				continue;
			struct xshm_dev *dev = dev_find(d, domid, (uint32_t)devid);
			if (!dev && alive && xshm_dev_new(&d->host, domid, (uint32_t)devid, info.uuid, &dev) == 0) {
				dev->next = d->host.devs;
				d->host.devs = dev;
				xshm_log(&d->host, LOG_INFO, "domain %u device xenshm/%llu: found", domid, devid);
			}
			if (dev)
				dev->seen = true;
		}
		xo_free_strv(devids);
	}
	xo_free_strv(doms);
	for (struct xshm_dev *v = d->host.devs; v; v = next) {
		next = v->next;
		if (!v->seen) {
			xshm_log(&d->host, LOG_INFO, "domain %u device xenshm/%u: removed", v->domid, v->devid);
			dev_remove(d, v, false);
		}
	}
	/* Devices of domains that died while no xenshmd ran: their dirs and error nodes. */
	xshm_sweep_gone_domains(&d->host, "xenshm", true);
}

/* Read one /tool/xenshm integer knob; absent: the default; bad: logged, old value kept. */
static void knob_read(struct xshmd *d, int (*pathfn)(char *, size_t), unsigned long long min,
		      unsigned long long max, uint32_t def, uint32_t *val)
{
	char path[XSP_MAX], *v = NULL;
	unsigned long long n;

	if (pathfn(path, sizeof(path)))
		return;
	if (xo_read_str(d->host.x, XO_TXN_NONE, path, &v)) {
		*val = def;
		xshm_setting_accepted(&d->host, path);
	} else if (xo_parse_uint(v, max, &n) || n < min) {
		xshm_log(&d->host, LOG_WARNING, "refused %s '%.32s' (%llu .. %llu): keeping %u", path, v,
			 min, max, *val);
		xshm_setting_refused(&d->host, path, v, "not %llu .. %llu; keeping %u", min, max, *val);
	} else {
		xshm_setting_accepted(&d->host, path);
		if (n != *val) {
			*val = (uint32_t)n;
			xshm_log(&d->host, LOG_INFO, "%s %u", path, *val);
		}
	}
	free(v);
}

static void tunables_changed(struct xshmd *d, uint64_t fallback_budget)
{
	struct xo *x = d->host.x;
	char path[XSP_MAX], *v = NULL;
	struct xshm_policy_knobs *k = &d->host.knobs;

	knob_read(d, xsp_tool_reclaim_deadline_ms, XSHM_POLICY_DEADLINE_MS_MIN, XSHM_POLICY_DEADLINE_MS_MAX,
		  XSHM_POLICY_DEADLINE_MS_DEFAULT, &k->reclaim_deadline_ms);
	knob_read(d, xsp_tool_reclaim_interval_ms, 0, XSHM_POLICY_INTERVAL_MS_MAX,
		  XSHM_POLICY_INTERVAL_MS_DEFAULT, &k->reclaim_interval_ms);
	knob_read(d, xsp_tool_accept_pct, XSHM_POLICY_ACCEPT_PCT_MIN, XSHM_POLICY_ACCEPT_PCT_MAX,
		  XSHM_POLICY_ACCEPT_PCT_DEFAULT, &k->accept_pct);
	if (xsp_tool_budget_kb(path, sizeof(path)))
		return;
	if (xo_read_str(x, XO_TXN_NONE, path, &v)) {
		d->host.pool.budget = fallback_budget;
		xshm_setting_accepted(&d->host, path);
	} else {
		int64_t pages = xshm_parse_kb_pages(v, BUDGET_KB_MAX);
		if (pages < 0) {
			xshm_log(&d->host, LOG_WARNING, "refused %s '%.32s': keeping %llu KiB", path, v,
				 (unsigned long long)d->host.pool.budget * 4);
			xshm_setting_refused(&d->host, path, v, "not KiB in whole pages; keeping %llu KiB",
					     (unsigned long long)d->host.pool.budget * 4);
		} else {
			xshm_setting_accepted(&d->host, path);
		}
		if (pages >= 0 && (uint64_t)pages != d->host.pool.budget) {
			d->host.pool.budget = (uint64_t)pages;
			xshm_log(&d->host, LOG_INFO, "host budget %llu KiB", (unsigned long long)pages * 4);
		}
	}
	free(v);
	/* A budget lowered below use: win the excess back from guests above their share. */
	if (xshm_pool_over(&d->host.pool)) {
		d->host.pool_full = true;
		xshm_host_rebalance(&d->host, NULL, xshm_pool_over(&d->host.pool));
	}
}

/* For ".../backend/xenshm/<domid>/<devid>/<key>" the key and its device; NULL otherwise. */
static const char *be_event_key(const char *root, const char *path, xo_domid_t *domid, uint32_t *devid,
				unsigned long long max_devid)
{
	char comp[16];
	const char *p = path, *slash;
	unsigned long long v;
	size_t rlen = strlen(root);

	if (strncmp(p, root, rlen) || p[rlen] != '/')
		return NULL;
	p += rlen + 1;
	slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) >= sizeof(comp))
		return NULL;
	snprintf(comp, sizeof(comp), "%.*s", (int)(slash - p), p);
	if (xo_parse_domid(comp, domid))
		return NULL;
	p = slash + 1;
	slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) >= sizeof(comp))
		return NULL;
	snprintf(comp, sizeof(comp), "%.*s", (int)(slash - p), p);
	if (xo_parse_uint(comp, max_devid, &v))
		return NULL;
	*devid = (uint32_t)v;
	return slash + 1;
}

static void dispatch_watch(struct xshmd *d, const char *path, const char *token)
{
	unsigned int domid, devid;

	if (!strcmp(token, "be")) {
		/* A key of a known device says exactly what changed; anything else
		 * (a device dir created or removed, a first event) needs a rescan. */
		const char *key = be_event_key(BE_ROOT, path, &domid, &devid, 255);
		struct xshm_dev *dev = key ? dev_find(d, domid, devid) : NULL;
		if (!dev)
			devices_changed(d);
		else if (!strcmp(key, "quota-kb"))
			xshm_dev_quota_changed(dev);
		else if (!strcmp(key, "reclaim-kb"))
			xshm_dev_reclaim_requested(dev);
		else if (!strcmp(key, "release"))
			xshm_dev_release_changed(dev);
		else if (!strcmp(key, "online") || !strcmp(key, "state"))
			xshm_dev_backend_changed(dev);
	} else if (!strcmp(token, "mf")) {
		const char *key = be_event_key(MF_ROOT, path, &domid, &devid, UINT32_MAX);
		struct xshm_mf *mf = key ? xshm_mf_find(&d->host, domid, devid) : NULL;
		if (!mf)
			xshm_mf_scan(&d->host);
		else
			xshm_mf_backend_changed(mf, key);
	} else if (sscanf(token, "mffe:%u:%u", &domid, &devid) == 2) {
		struct xshm_mf *mf = xshm_mf_find(&d->host, domid, devid);
		if (mf)
			xshm_mf_frontend_changed(mf);
	} else if (!strcmp(token, "dom")) {
		domains_changed(d);
	} else if (!strcmp(token, "tool")) {
		size_t n = strlen(path);
		/* Our own used-kb and error writes come back as events of this watch: nothing to
		 * re-read (a refused knob would refuse again, write again, forever). */
		if ((n < 8 || strcmp(path + n - 8, "/used-kb")) && (n < 6 || strcmp(path + n - 6, "/error")))
			tunables_changed(d, d->host.pool.budget);
	} else if (sscanf(token, "fe:%u:%u", &domid, &devid) == 2) {
		struct xshm_dev *dev = dev_find(d, domid, devid);
		if (dev)
			xshm_dev_frontend_changed(dev);
	}
}

#define STORM_WARN_EVERY_MS 10000u

static void storm_warn(struct xshmd *d, struct xshm_storm *s, uint64_t now, const char *who)
{
	if (s->warned_ms && now - s->warned_ms < STORM_WARN_EVERY_MS)
		return;
	s->warned_ms = now;
	xshm_log(&d->host, LOG_WARNING,
		 "%s: %u kicks of its event channel found no work within %u ms: its events are taken at most "
		 "once per %u ms while this lasts (%llu windows cut short so far)",
		 who, s->spurious, XSHM_STORM_WINDOW_MS, XSHM_STORM_WINDOW_MS, (unsigned long long)s->held_windows);
}

/* Handle an event of `port`.  true: leave the port masked (a storm, dom0/storm.h, or it is gone). */
static bool port_event(struct xshmd *d, xo_port_t port, uint64_t now)
{
	char who[64];

	for (struct xshm_dev *v = d->host.devs; v; v = v->next) {
		if (!v->port_bound || v->port != port)
			continue;
		uint64_t work = v->requests + v->relay_passes;
		bool attached = v->rings_attached;
		/* Read before the work: what the guest moves meanwhile is its next kick's news. */
		uint64_t progress = xshm_chan_progress(v);
		xshm_dev_event(v);
		if (!v->port_bound || v->port != port)
			return true; /* torn down: the port is no more */
		bool worked = work != v->requests + v->relay_passes || attached != v->rings_attached;
		bool spurious = xshm_storm_spurious(worked, &v->chan_progress, progress);
		if (!xshm_storm_note(&v->storm, now, spurious))
			return false;
		snprintf(who, sizeof(who), "domain %u device xenshm/%u", v->domid, v->devid);
		storm_warn(d, &v->storm, now, who);
		return true;
	}
	for (struct xshm_mf *m = d->host.mfs; m; m = m->next) {
		if (!m->port_bound || m->port != port)
			continue;
		uint64_t work = m->requests;
		xshm_mf_event(m);
		if (!m->port_bound || m->port != port)
			return true;
		if (!xshm_storm_note(&m->storm, now, work == m->requests))
			return false;
		snprintf(who, sizeof(who), "domain %u disk memflex/%u", m->domid, m->devid);
		storm_warn(d, &m->storm, now, who);
		return true;
	}
	return false;
}

/* Ports held through a storm window: served once (anything the guest queued meanwhile), then
 * unmasked (an event pending since comes back). */
static void release_held_ports(struct xshmd *d, uint64_t now)
{
	struct xo *x = d->host.x;

	for (struct xshm_dev *v = d->host.devs; v; v = v->next) {
		if (!v->storm.held || now < xshm_storm_release_ms(&v->storm))
			continue;
		v->storm.held = false;
		xshm_dev_event(v);
		if (v->port_bound)
			x->ops->evtchn_unmask(x, v->port);
	}
	for (struct xshm_mf *m = d->host.mfs; m; m = m->next) {
		if (!m->storm.held || now < xshm_storm_release_ms(&m->storm))
			continue;
		m->storm.held = false;
		xshm_mf_event(m);
		if (m->port_bound)
			x->ops->evtchn_unmask(x, m->port);
	}
}

/* Milliseconds until the first held port is due, or -1. */
static int held_ports_due_ms(struct xshmd *d, uint64_t now)
{
	uint64_t first = UINT64_MAX;

	for (struct xshm_dev *v = d->host.devs; v; v = v->next)
		if (v->storm.held && xshm_storm_release_ms(&v->storm) < first)
			first = xshm_storm_release_ms(&v->storm);
	for (struct xshm_mf *m = d->host.mfs; m; m = m->next)
		if (m->storm.held && xshm_storm_release_ms(&m->storm) < first)
			first = xshm_storm_release_ms(&m->storm);
	return first == UINT64_MAX ? -1 : first <= now ? 0 : (int)(first - now);
}

/*
 * Watch events, drained in batches and coalesced: a guest writing its own nodes as fast as it
 * can (thousands of state changes) queues thousands of events, and every other guest's events
 * wait behind them in libxenstore's queue (the lab saw a neighbour's handshake and connect time
 * out after 10 s behind 2000 state writes).  Every handler reads the node's current value, so
 * repeats of one (path, token) in a batch are one event; the event channels get their turn
 * between batches.
 */
static int take_watches(struct xshmd *d)
{
	struct xo *x = d->host.x;
	struct { char *path, *token; } ev[WATCH_DISTINCT];
	unsigned int n = 0, taken = 0;
	char *path, *token;
	int rc = 0;

	while (taken < WATCH_BATCH && n < WATCH_DISTINCT && (rc = x->ops->xs_read_watch(x, &path, &token)) == 0) {
		taken++;
		unsigned int i;
		for (i = 0; i < n && (strcmp(ev[i].path, path) || strcmp(ev[i].token, token)); i++)
			;
		if (i < n) {
			free(path);
			free(token);
			continue;
		}
		ev[n].path = path;
		ev[n].token = token;
		n++;
	}
	d->watches_left = rc == 0;
	d->watch_events += taken;
	d->watch_dispatched += n;
	for (unsigned int i = 0; i < n; i++) {
		dispatch_watch(d, ev[i].path, ev[i].token);
		free(ev[i].path);
		free(ev[i].token);
	}
	return rc == -EAGAIN ? 0 : rc;
}

int xshmd_step(struct xshmd *d, const struct pollfd polled[2])
{
	struct xo *x = d->host.x;
	uint64_t now = mono_ms();
	xo_port_t port;
	int rc;

	d->host.step_ms = now;
	rc = take_watches(d);
	if (rc)
		goto out;
	/* Seen readable by our poll, the first read needs no guard poll of its own. */
	rc = polled && (polled[1].revents & POLLIN) ? x->ops->evtchn_pending_polled(x, &port)
						    : x->ops->evtchn_pending(x, &port);
	for (; rc == 0; rc = x->ops->evtchn_pending(x, &port)) {
		/* Unmasked after the work: an event meanwhile stays pending and comes back. */
		if (!port_event(d, port, now))
			x->ops->evtchn_unmask(x, port);
	}
	release_held_ports(d, now);
	if (d->host.relay_pending || d->host.relay_hot)
		xshm_chan_pump_all(&d->host);
	/* Hot channels and polling: wait for their next bytes here, for a while, rather than a
	 * 1 ms poll; found, the next step relays them at once (one spin per step, so XenStore
	 * and the event channels still get their turn). */
	if (d->host.relay_hot && !d->host.relay_pending && d->host.relay_poll_ticks &&
	    xshm_chan_spin(&d->host, d->host.relay_poll_ticks)) {
		d->host.relay_pending = true;
		d->relay_polled++;
	}
	d->host.sizing = xshm_chan_tick(&d->host);
	for (struct xshm_dev *v = d->host.devs; v; v = v->next)
		xshm_dev_tick(v);
	d->host.mf_busy = false;
	for (struct xshm_mf *m = d->host.mfs; m; m = m->next)
		d->host.mf_busy |= xshm_mf_tick(m);
	publish_usage(d, now);
	rc = rc == -EAGAIN ? 0 : rc;
out:
	d->host.step_ms = 0;
	d->stepped_at = now;
	return rc;
}

int xshmd_timeout_ms(struct xshmd *d)
{
	/* The step's clock when it just ran (deadlines come due at most one step late), else one read;
	 * tests move the host clock by hand, the rest runs on the real one. */
	uint64_t mono = d->stepped_at ? d->stepped_at : mono_ms(), next = UINT64_MAX;
	uint64_t now = d->host.now_ms ? xshm_host_now(&d->host) : mono;

	d->stepped_at = 0;

	if (d->host.relay_pending || d->host.mf_busy || d->watches_left)
		return 0;
	if (d->host.relay_hot)
		next = now + 1;
	else if (d->host.sizing)
		next = now + XSHM_RX_WINDOW_MS;
	/* MemFlex statistics are published at most once a second. */
	if (d->host.mfs && now + XSHM_MF_STATS_MS < next)
		next = now + XSHM_MF_STATS_MS;

	for (struct xshm_dev *v = d->host.devs; v; v = v->next) {
		uint64_t t = xshm_dev_next_deadline(v);
		next = t < next ? t : next;
	}
	int ms = next == UINT64_MAX ? -1 : next <= now ? 0 : next - now > INT32_MAX ? INT32_MAX : (int)(next - now);
	int held = held_ports_due_ms(d, mono);
	if (held >= 0 && (ms < 0 || held < ms))
		ms = held;
	if (usage_unpublished(d)) {
		/* The real clock, not the host's: tests move the host clock by hand. */
		uint64_t since = mono - d->published_at;
		int wait = since >= PUBLISH_INTERVAL_MS ? 0 : (int)(PUBLISH_INTERVAL_MS - since);
		ms = ms < 0 || wait < ms ? wait : ms;
	}
	return ms;
}

int xshmd_pollfds(struct xshmd *d, struct pollfd fds[2])
{
	struct xo *x = d->host.x;

	fds[0] = (struct pollfd){ .fd = x->ops->xs_fd(x), .events = POLLIN };
	fds[1] = (struct pollfd){ .fd = x->ops->evtchn_fd(x), .events = POLLIN };
	return 2;
}

int xshmd_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms)
{
	if (poll(fds, nfds, timeout_ms) >= 0)
		return 0;
	if (errno != EINTR)
		return -errno;
	for (nfds_t i = 0; i < nfds; i++)
		fds[i].revents = 0;
	return 0;
}

int xshmd_new(struct xo *x, const struct xshmd_config *cfg, struct xshmd **out)
{
	struct xshmd *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->host.x = x;
	d->host.log = cfg->log;
	d->host.default_quota = cfg->quota_pages;
	d->host.pool.budget = cfg->budget_pages;
	d->host.now_ms = cfg->now_ms;
	d->host.now_arg = cfg->now_arg;
	d->host.mf_mem_dir = cfg->memflex_mem_dir ? cfg->memflex_mem_dir : "/dev/shm";
	d->host.mf_spill_dir = cfg->memflex_spill_dir;
	if (cfg->memflex_poll_us)
		d->host.mf_poll_ticks = xshm_spin_ticks(cfg->memflex_poll_us);
	d->host.mf_pgrants_max = cfg->memflex_pgrants;
	if (cfg->relay_poll_us)
		d->host.relay_poll_ticks = xshm_spin_ticks(cfg->relay_poll_us);
	xshm_policy_defaults(&d->host.knobs);
	x->ops->xs_mkdir(x, XO_TXN_NONE, TOOL_ROOT);
	tunables_changed(d, cfg->budget_pages);
	/* Each watch fires once at registration: that is the initial scan. */
	rc = x->ops->xs_watch(x, "@introduceDomain", "dom");
	if (!rc)
		rc = x->ops->xs_watch(x, "@releaseDomain", "dom");
	if (!rc)
		rc = x->ops->xs_watch(x, BE_ROOT, "be");
	if (!rc)
		rc = x->ops->xs_watch(x, MF_ROOT, "mf");
	if (!rc)
		rc = x->ops->xs_watch(x, TOOL_ROOT, "tool");
	if (rc) {
		xshmd_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void xshmd_free(struct xshmd *d)
{
	struct xo *x;

	if (!d)
		return;
	x = d->host.x;
	x->ops->xs_unwatch(x, "@introduceDomain", "dom");
	x->ops->xs_unwatch(x, "@releaseDomain", "dom");
	x->ops->xs_unwatch(x, BE_ROOT, "be");
	x->ops->xs_unwatch(x, MF_ROOT, "mf");
	x->ops->xs_unwatch(x, TOOL_ROOT, "tool");
	while (d->host.devs)
		dev_remove(d, d->host.devs, false);
	/* The stores stay: the next xenshmd reattaches them. */
	while (d->host.mfs)
		xshm_mf_remove(&d->host, d->host.mfs, false);
	free(d);
}

void xshmd_get_stats(struct xshmd *d, struct xshmd_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->budget_pages = d->host.pool.budget;
	out->watch_events = d->watch_events;
	out->watch_dispatched = d->watch_dispatched;
	out->relay_polled = d->relay_polled;
	out->used_pages = d->host.pool.used;
	for (struct xshm_dev *v = d->host.devs; v; v = v->next) {
		out->devices++;
		if (v->rings_attached)
			out->connected++;
		for (struct xshm_seg *s = v->segs; s; s = s->next)
			out->segments++;
		out->faults += v->faults;
	}
}
