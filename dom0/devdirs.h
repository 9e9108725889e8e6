/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Creating and removing a guest's xenshm device, as libxl does for its own
 * devices (libxl__device_generic_add / _remove): both directories in one
 * transaction, each first removed, then created, then given its
 * permissions, then filled.  Used by the `xenshm` CLI and the tests.
 */
#ifndef XENSHM_DEVDIRS_H
#define XENSHM_DEVDIRS_H

#include <stdint.h>

#include "xenshm/xenops.h"

/* Frontend dir guest-owned (dom0 reads), backend dir dom0-owned (guest reads); state 1. */
int xshm_device_create(struct xo *x, xo_domid_t domid, uint32_t devid, uint64_t quota_kb);

/*
 * libxl's removal: online=0, state=5 unless already Closed, wait up to
 * timeout_ms for the backend to reach Closed (6), then remove both dirs.
 * -ETIMEDOUT if the backend never closed (the dirs are removed anyway).
 */
int xshm_device_remove(struct xo *x, xo_domid_t domid, uint32_t devid, int timeout_ms);

/*
 * A MemFlex disk: a vbd frontend dir (what blkfront probes: backend, virtual-device = devid,
 * device-type disk) and a memflex backend dir (size-kb, mem-kb, dev = name), state 1.
 */
int xshm_memflex_create(struct xo *x, xo_domid_t domid, uint32_t devid, const char *name, uint64_t size_kb,
			uint64_t mem_kb);
/* The same removal as xshm_device_remove.  xenshmd deletes the disk's store when its dir goes. */
int xshm_memflex_remove(struct xo *x, xo_domid_t domid, uint32_t devid, int timeout_ms);

#endif
