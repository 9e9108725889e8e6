/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xenshmd's core, without main(): one object that owns the host pool and
 * every guest device, driven by one poll loop over two fds (XenStore
 * watches and event channels), as xenconsoled is.  Unit tests drive it on
 * the fake Xen with xshmd_step(); the daemon drives it on the real one.
 *
 * Watches:  backend/xenshm        devices appearing, going, quota-kb changes
 *           backend/memflex       MemFlex disks appearing, going, mem-kb changes
 *           @introduceDomain,
 *           @releaseDomain        re-list domains; devices of vanished or dying
 *                                 domains (by domid and UUID) are torn down
 *           /tool/xenshm          host budget and the reclaim policy's knobs
 *           each frontend state   the XenBus state machine (backend/device.c)
 */
#ifndef XENSHM_DAEMON_H
#define XENSHM_DAEMON_H

#include <poll.h>
#include <stdint.h>

#include "xenshm/xenops.h"

struct xshmd_config {
	uint64_t budget_pages;   /* host budget when /tool/xenshm/budget-kb is absent */
	uint64_t quota_pages;    /* per-guest quota when a device has no quota-kb */
	const char *memflex_mem_dir;   /* MemFlex memory tiers (tmpfs); NULL: /dev/shm */
	const char *memflex_spill_dir; /* MemFlex spill files; NULL: no disk tier */
	unsigned int memflex_poll_us;  /* watch a busy disk's ring this long after each answer; 0: off */
	unsigned int relay_poll_us;    /* watch hot channels' tx rings this long after a pass; 0: off */
	unsigned int memflex_pgrants;  /* persistent grants a disk may keep mapped; 0: not offered */
	void (*log)(int level, const char *msg); /* NULL: stderr */
	uint64_t (*now_ms)(void *arg);           /* NULL: CLOCK_MONOTONIC; tests pass a fake clock */
	void *now_arg;
};

struct xshmd_stats {
	uint64_t budget_pages, used_pages;
	unsigned int devices, connected, segments;
	uint64_t faults;
	uint64_t watch_events, watch_dispatched; /* XenStore watch events read / handled after coalescing */
	uint64_t relay_polled;   /* relay spins (--relay-poll-us) that found bytes waiting */
};

struct xshmd;

int xshmd_new(struct xo *x, const struct xshmd_config *cfg, struct xshmd **out);
/* Gives every grant back; the devices stay in XenStore for the next xenshmd. */
void xshmd_free(struct xshmd *d);

/* The two fds to poll (POLLIN). */
int xshmd_pollfds(struct xshmd *d, struct pollfd fds[2]);
/* poll() for xshmd_step (xshmd_pollfds' fds first, any of the caller's after): an
 * interrupted poll reports nothing seen, so a step never reads the event fd as if it had
 * been readable (which could block it).  0, or a negative errno. */
int xshmd_poll(struct pollfd *fds, nfds_t nfds, int timeout_ms);
/* Handle everything pending (and deadlines due); never blocks.  @polled: the fds of
 * xshmd_pollfds as a poll() just returned them, or NULL when not polled.  0, or a negative
 * errno if XenStore failed. */
int xshmd_step(struct xshmd *d, const struct pollfd polled[2]);
/* How long poll may sleep before the next deadline: milliseconds, or -1 for none. */
int xshmd_timeout_ms(struct xshmd *d);

void xshmd_get_stats(struct xshmd *d, struct xshmd_stats *out);

#endif
