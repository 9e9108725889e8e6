// SPDX-License-Identifier: LGPL-2.1-only
/* shm_init(): libxenshm over the real Xen layer (kept apart so that tests link without it). */
#include <errno.h>

#include "xenshm/shm.h"
#include "xenshm/xenops.h"
#include "shm_private.h"

struct shm *shm_init(size_t size)
{
	struct xo *x;
	struct shm *s;
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_GNTTAB | XO_OPEN_EVTCHN);

	if (rc) {
		errno = -rc;
		return NULL;
	}
	s = shm_open_xo(x, size, NULL);
	if (!s) {
		int err = errno;
		xo_close(x);
		errno = err;
		return NULL;
	}
	shm_own_xo(s);
	return s;
}

