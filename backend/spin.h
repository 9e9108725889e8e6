/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Polling a guest's ring for a short while instead of waiting for its kick
 * (xenshmd --memflex-poll-us, --relay-poll-us).  Under emulation an event
 * channel's trip costs hundreds of microseconds and a PV dom0's system call
 * tens, so the clock of a spin is the TSC, read without a system call, in
 * ticks measured once against the system clock.
 */
#ifndef XENSHM_BACKEND_SPIN_H
#define XENSHM_BACKEND_SPIN_H

#include <stdint.h>

/* The TSC, or 0 where there is none (then xshm_spin_ticks gives 0: no polling). */
uint64_t xshm_tsc(void);
void xshm_cpu_relax(void);
/* TSC ticks in `us` microseconds (at least 1), measured over 20 ms; 0 without a TSC. */
uint64_t xshm_spin_ticks(unsigned int us);

#endif
