// SPDX-License-Identifier: GPL-2.0-only
/* One runner for every unit suite; CK_RUN_SUITE/CK_RUN_CASE select a subset. */
#include <stdint.h>
#include <stdlib.h>

#include "tests.h"

int main(void)
{
	SRunner *sr = srunner_create(ring_suite());
	int failed;

	srunner_add_suite(sr, ring_threads_suite());
	srunner_add_suite(sr, ctrl_suite());
	srunner_add_suite(sr, fake_xs_suite());
	srunner_add_suite(sr, fake_gnt_suite());
	srunner_add_suite(sr, fake_evtchn_suite());
	srunner_add_suite(sr, util_suite());
	srunner_add_suite(sr, schema_suite());
	srunner_add_suite(sr, pool_segdir_suite());
	srunner_add_suite(sr, xenshmd_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, reclaim_suite());
	srunner_add_suite(sr, envcheck_suite());
	srunner_add_suite(sr, cli_suite());
	srunner_add_suite(sr, mempipe_suite());
	srunner_add_suite(sr, memflex_suite());
	srunner_add_suite(sr, replay_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
