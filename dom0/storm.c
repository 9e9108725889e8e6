// SPDX-License-Identifier: GPL-2.0-only
/* Event-channel storm limiting (see storm.h). */
#include "storm.h"

bool xshm_storm_note(struct xshm_storm *s, uint64_t now_ms, bool spurious)
{
	if (now_ms - s->window_start >= XSHM_STORM_WINDOW_MS) {
		s->window_start = now_ms;
		s->spurious = s->useful = 0;
	}
	if (spurious)
		s->spurious++;
	else
		s->useful++;
	/* A busy guest races the relay: some of its kicks find the work already done. */
	if (s->spurious <= XSHM_STORM_SPURIOUS_MAX || s->spurious <= s->useful)
		return false;
	if (!s->held)
		s->held_windows++;
	s->held = true;
	return true;
}

bool xshm_storm_spurious(bool found_work, uint64_t *last_progress, uint64_t progress)
{
	bool news = progress != *last_progress;

	*last_progress = progress;
	return !found_work && !news;
}

uint64_t xshm_storm_release_ms(const struct xshm_storm *s)
{
	return s->window_start + XSHM_STORM_WINDOW_MS;
}
