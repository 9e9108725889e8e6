// SPDX-License-Identifier: GPL-2.0-only
#include <time.h>

#include "spin.h"

uint64_t xshm_tsc(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	return 0;
#endif
}

void xshm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t xshm_spin_ticks(unsigned int us)
{
	struct timespec pause = { 0, 20 * 1000 * 1000 };
	uint64_t t0 = mono_us(), c0 = xshm_tsc();

	nanosleep(&pause, NULL);
	uint64_t dt = mono_us() - t0, dc = xshm_tsc() - c0;
	if (!dc || !dt)
		return 0;
	uint64_t ticks = dc / dt * us;
	return ticks ? ticks : 1;
}
