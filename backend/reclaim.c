// SPDX-License-Identifier: GPL-2.0-only
/*
 * Reclaim notices: xenshmd asking a guest to give memory back (policy in
 * dom0/policy.h, protocol in ctrl.h).  Pages cannot be pulled out of a
 * guest's mappings, so a notice is a request with a deadline; what the
 * guest actually frees is measured from its account, never taken from its
 * acknowledgement.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "xenshm/xspaths.h"
#include "device.h"

#define DEVLOG XSHM_DEVLOG

uint64_t xshm_host_now(const struct xshm_host *h)
{
	struct timespec ts;

	if (h->now_ms)
		return h->now_ms(h->now_arg);
	if (h->step_ms)
		return h->step_ms;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void publish(struct xshm_dev *dev)
{
	char path[XSP_MAX];

	if (xsp_be_reclaim(path, sizeof(path), dev->domid, dev->devid))
		return;
	if (dev->reclaim.pending)
		xo_printf(dev->h->x, XO_TXN_NONE, path, "%llu %s", (unsigned long long)dev->reclaim.pages,
			  dev->reclaim.overdue ? "overdue" : "pending");
	else
		dev->h->x->ops->xs_rm(dev->h->x, XO_TXN_NONE, path);
}

int xshm_dev_send_reclaim(struct xshm_dev *dev, uint64_t pages)
{
	struct xshm_ctrl_msg msg = { .hdr = { .type = XSHM_CTRL_RECLAIM } };
	uint64_t now = xshm_host_now(dev->h);
	int rc;

	if (!dev->rings_attached || dev->gone)
		return -ENOTCONN;
	if (!pages)
		return 0;
	if (pages > dev->acct.used)
		pages = dev->acct.used;
	msg.hdr.id = dev->reclaim.id + 1;
	msg.u.reclaim.notice_id = dev->reclaim.id + 1;
	msg.u.reclaim.pages = (uint32_t)(pages > UINT32_MAX ? UINT32_MAX : pages);
	msg.u.reclaim.deadline_ms = dev->h->knobs.reclaim_deadline_ms;
	rc = xshm_dev_send_notice(dev, &msg);
	if (rc)
		return rc; /* a full response ring: the guest is not reading, try later */
	dev->reclaim.id++;
	dev->reclaim.pending = true;
	dev->reclaim.overdue = false;
	dev->reclaim.pages = pages;
	dev->reclaim.target = dev->acct.used - pages;
	dev->reclaim.deadline_ms = now + dev->h->knobs.reclaim_deadline_ms;
	dev->reclaim.sent_ms = now;
	dev->reclaim.ever_sent = true;
	dev->notices++;
	publish(dev);
	DEVLOG(dev, LOG_NOTICE, "reclaim notice %u: give back %llu KiB within %u ms (holds %llu KiB)",
	       dev->reclaim.id, (unsigned long long)pages * 4, dev->h->knobs.reclaim_deadline_ms,
	       (unsigned long long)dev->acct.used * 4);
	return 0;
}

void xshm_dev_tick(struct xshm_dev *dev)
{
	if (!dev->reclaim.pending)
		return;
	if (dev->acct.used <= dev->reclaim.target) {
		DEVLOG(dev, LOG_INFO, "reclaim notice %u honoured: holds %llu KiB", dev->reclaim.id,
		       (unsigned long long)dev->acct.used * 4);
		dev->reclaim.pending = dev->reclaim.overdue = false;
		publish(dev);
		return;
	}
	if (!dev->reclaim.overdue && xshm_host_now(dev->h) >= dev->reclaim.deadline_ms) {
		dev->reclaim.overdue = true;
		dev->overdues++;
		DEVLOG(dev, LOG_WARNING,
		       "ignored reclaim notice %u: still holds %llu KiB, asked to be at %llu KiB; granting nothing more until then",
		       dev->reclaim.id, (unsigned long long)dev->acct.used * 4,
		       (unsigned long long)dev->reclaim.target * 4);
		publish(dev);
	}
}

uint64_t xshm_dev_next_deadline(const struct xshm_dev *dev)
{
	return dev->reclaim.pending && !dev->reclaim.overdue ? dev->reclaim.deadline_ms : UINT64_MAX;
}

static bool askable(const struct xshm_dev *dev, uint64_t now)
{
	return dev->rings_attached && !dev->gone && !dev->reclaim.pending &&
	       (!dev->reclaim.ever_sent || now - dev->reclaim.sent_ms >= dev->h->knobs.reclaim_interval_ms);
}

uint64_t xshm_host_rebalance(struct xshm_host *h, struct xshm_dev *requester, uint64_t need)
{
	struct xshm_policy_guest *g;
	struct xshm_dev **devs;
	size_t n = 0, i, req = SIZE_MAX;
	uint64_t now = xshm_host_now(h), coming = 0, planned;

	for (struct xshm_dev *v = h->devs; v; v = v->next)
		if (v->rings_attached)
			n++;
	g = calloc(n ? n : 1, sizeof(*g));
	devs = calloc(n ? n : 1, sizeof(*devs));
	if (!g || !devs) {
		free(g);
		free(devs);
		return 0;
	}
	i = 0;
	for (struct xshm_dev *v = h->devs; v; v = v->next) {
		if (!v->rings_attached)
			continue;
		devs[i] = v;
		g[i].used = v->acct.used;
		g[i].quota = v->acct.quota;
		g[i].asked = v->reclaim.pending && v->acct.used > v->reclaim.target ?
				     v->acct.used - v->reclaim.target : 0;
		if (v != requester && !v->reclaim.overdue)
			coming += g[i].asked;
		g[i].askable = askable(v, now);
		if (v == requester)
			req = i;
		i++;
	}
	planned = xshm_policy_plan(g, n, req == SIZE_MAX ? n : req, h->pool.budget,
				   need > coming ? need - coming : 0);
	for (i = 0; i < n; i++)
		if (g[i].reclaim && xshm_dev_send_reclaim(devs[i], g[i].reclaim))
			planned -= g[i].reclaim;
	free(g);
	free(devs);
	return planned + coming;
}

uint64_t xshm_host_fair_share(const struct xshm_host *h, const struct xshm_dev *dev)
{
	uint64_t total = 0;

	for (const struct xshm_dev *v = h->devs; v; v = v->next)
		if (v->rings_attached || v == dev)
			total += v->acct.quota;
	return xshm_policy_fair_share(h->pool.budget, dev->acct.quota, total);
}

void xshm_dev_reclaim_reset(struct xshm_dev *dev)
{
	bool was = dev->reclaim.pending;

	dev->reclaim.pending = dev->reclaim.overdue = false;
	if (was)
		publish(dev);
}

void xshm_dev_reclaim_requested(struct xshm_dev *dev)
{
	char path[XSP_MAX], *untrusted = NULL;
	int64_t pages;

	if (xsp_be_reclaim_kb(path, sizeof(path), dev->domid, dev->devid) ||
	    xo_read_str(dev->h->x, XO_TXN_NONE, path, &untrusted))
		return; /* our own removal fires the watch again */
	pages = xshm_parse_kb_pages(untrusted, 1ull << 40);
	if (pages <= 0) {
		DEVLOG(dev, LOG_WARNING, "refused reclaim-kb '%.32s': not a positive multiple of 4 KiB",
		       untrusted);
		xshm_setting_refused(dev->h, path, untrusted, "not a positive multiple of 4 KiB; nothing asked");
	} else {
		xshm_setting_accepted(dev->h, path);
		if (!dev->rings_attached) {
			DEVLOG(dev, LOG_NOTICE, "reclaim-kb %lld KiB: not connected, nothing to ask",
			       (long long)pages * 4);
		} else {
			dev->reclaim.pending = false;
			xshm_dev_send_reclaim(dev, (uint64_t)pages);
		}
	}
	free(untrusted);
	dev->h->x->ops->xs_rm(dev->h->x, XO_TXN_NONE, path);
}
