/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef XENSHM_UNIT_TESTS_H
#define XENSHM_UNIT_TESTS_H

#include <check.h>

Suite *ring_suite(void);
Suite *ring_threads_suite(void);
Suite *ctrl_suite(void);
Suite *fake_xs_suite(void);
Suite *fake_gnt_suite(void);
Suite *fake_evtchn_suite(void);
Suite *util_suite(void);
Suite *schema_suite(void);
Suite *pool_segdir_suite(void);
Suite *xenshmd_suite(void);
Suite *policy_suite(void);
Suite *reclaim_suite(void);
Suite *envcheck_suite(void);
Suite *cli_suite(void);
Suite *mempipe_suite(void);
Suite *memflex_suite(void);
Suite *replay_suite(void);

/* Deterministic pseudo-random bytes for patterns (xorshift). */
static inline uint32_t test_rand(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#endif
