// SPDX-License-Identifier: GPL-2.0-only
/* Per-device limit on guest-caused log lines (see lograte.h). */
#include "lograte.h"

bool xshm_lograte_allow(struct xshm_lograte *r, uint64_t now_ms, uint64_t *dropped_before)
{
	*dropped_before = 0;
	if (!r->started || now_ms < r->window_start || now_ms - r->window_start >= XSHM_LOGRATE_WINDOW_MS) {
		r->started = true;
		r->window_start = now_ms;
		r->logged = 0;
	}
	if (r->logged >= XSHM_LOGRATE_BURST) {
		r->dropped++;
		return false;
	}
	r->logged++;
	*dropped_before = r->dropped;
	r->dropped = 0;
	return true;
}
