/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Is this dom0 ready to serve a pool of `budget_pages`?  Shared by xenshmd
 * (at start) and `xenshm check`.  Each problem is reported with the exact
 * change that fixes it.  Paths are looked up under `root` ("" for this
 * machine; tests pass a directory holding dev/ and sys/).
 */
#ifndef XENSHM_ENVCHECK_H
#define XENSHM_ENVCHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "xenshm/xenops.h"

/* fatal: nothing can be served; otherwise requests beyond a lower limit will fail. */
typedef void xshm_env_report(void *arg, bool fatal, const char *what, const char *fix);

/* Number of fatal problems (0: xenshmd can run). */
int xshm_env_check(struct xo *x, const char *root, uint64_t budget_pages, xshm_env_report *report,
		   void *arg);

/* Grant-table entries dom0 keeps for itself and other backends besides the pool. */
#define XSHM_ENV_GRANT_MARGIN 1024u

#endif
