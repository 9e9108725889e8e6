/* SPDX-License-Identifier: LGPL-2.1-only */
#ifndef XENSHM_SHM_PRIVATE_H
#define XENSHM_SHM_PRIVATE_H

struct shm;

/* The shm closes its Xen handle on exit (shm_init opened it). */
void shm_own_xo(struct shm *s);

#endif
