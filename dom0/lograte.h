/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Log lines a guest can cause at will (a MemPipe channel refused, one
 * opened) are limited per device: a guest that connects in a loop must not
 * fill dom0's log.  At most XSHM_LOGRATE_BURST lines per
 * XSHM_LOGRATE_WINDOW_MS; the first line logged after some were dropped
 * says how many.  Pure arithmetic over a clock the caller passes.
 */
#ifndef XENSHM_DOM0_LOGRATE_H
#define XENSHM_DOM0_LOGRATE_H

#include <stdbool.h>
#include <stdint.h>

#define XSHM_LOGRATE_WINDOW_MS 60000u
#define XSHM_LOGRATE_BURST 10u

struct xshm_lograte {
	bool started;
	uint64_t window_start;  /* ms */
	unsigned int logged;    /* in this window */
	uint64_t dropped;       /* since the last line logged */
};

/* May one more line be logged now?  If so, *dropped_before is how many were not, since the last
 * one that was (to say so in this one). */
bool xshm_lograte_allow(struct xshm_lograte *r, uint64_t now_ms, uint64_t *dropped_before);

#endif
