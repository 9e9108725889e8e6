/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Event-channel storms, the lesson of XSA-332: a guest may kick its port as
 * fast as it likes, and every kick can wake xenshmd.
 *
 * A kick that finds no work (no request, no byte to relay) and follows no
 * move of the guest's own channel ring indices (xshm_storm_spurious) is
 * spurious.  A port with more than XSHM_STORM_SPURIOUS_MAX spurious kicks
 * within one XSHM_STORM_WINDOW_MS window, and more spurious than useful
 * ones, stays masked until that window ends, so a storm costs at most that
 * many wake-ups per window beyond twice the guest's real work.  A busy guest
 * is never slowed: a MemPipe writer and reader kick as they go, faster than
 * the relay takes the events, so many of their kicks find the bytes already
 * moved (on the fake, at 2 GB/s, enough to hold the port: the stream fell to
 * a tenth).  A masked port loses nothing (Xen keeps the event pending until
 * the unmask).  Like Linux's lateeoi backends, minus the growing delay: the
 * window is the cap, about 320 handled kicks a second beyond the guest's
 * real work, however fast it kicks.  Under the lab's emulation xenshmd
 * handles only a few hundred events a second anyway, so the cap rarely
 * binds there (docs/robustness.md has the numbers).
 * Pure arithmetic over a clock the caller passes.
 */
#ifndef XENSHM_DOM0_STORM_H
#define XENSHM_DOM0_STORM_H

#include <stdbool.h>
#include <stdint.h>

#define XSHM_STORM_WINDOW_MS 100u
#define XSHM_STORM_SPURIOUS_MAX 32u

struct xshm_storm {
	uint64_t window_start;  /* ms */
	uint32_t spurious;      /* in this window */
	uint32_t useful;        /* kicks that found work, in this window */
	bool held;              /* the port is left masked until xshm_storm_release_ms() */
	uint64_t held_windows;  /* windows cut short so far */
	uint64_t warned_ms;     /* when the log last said so (0: never) */
};

/*
 * Was the event just handled spurious?  Not if handling it found work, nor
 * if the guest moved its own ring indices since the port's last event
 * (`progress`, its sum; *last is updated): a kick after a write is news even
 * when a polling relay moved the bytes before the kick came, and a flood
 * cannot fake progress without moving data.
 */
bool xshm_storm_spurious(bool found_work, uint64_t *last_progress, uint64_t progress);
/* One event on the port was handled; true when the port must stay masked for now. */
bool xshm_storm_note(struct xshm_storm *s, uint64_t now_ms, bool spurious);
/* When a held port is unmasked again. */
uint64_t xshm_storm_release_ms(const struct xshm_storm *s);

#endif
