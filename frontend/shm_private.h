/* SPDX-License-Identifier: LGPL-2.1-only */
/* What libmempipe uses of libxenshm's connection (one library, two APIs). */
#ifndef XENSHM_SHM_PRIVATE_H
#define XENSHM_SHM_PRIVATE_H

#include <stdbool.h>
#include <stdint.h>

#include "xenshm/ctrl.h"
#include "xenshm/xenops.h"

struct shm;

/* The shm closes its Xen handle on exit (shm_init opened it). */
void shm_own_xo(struct shm *s);

/* A mapped segment: data pages in one piece, directory pages kept until it goes. */
struct shm_seg {
	uint8_t *data;
	uint32_t pages, id;
	void **dirs;
	uint32_t ndirs;
};

int shm_timeout_ms(const struct shm *s);
/* One request, one response; notices that arrive meanwhile are queued. */
int shm_rpc(struct shm *s, struct xshm_ctrl_msg *req, struct xshm_ctrl_msg *rsp);
/* Map a segment xenshmd announced (its directory chain is validated page by page). */
int shm_map_seg(struct shm *s, uint32_t seg_id, xo_gref_t dir_gref, uint32_t pages, struct shm_seg *out);
/* Unmap only: a channel's segments go back with chan-close. */
void shm_unmap_seg(struct shm *s, struct shm_seg *seg);
/*
 * Take pending events and queued notices without blocking.  0, or
 * -ECONNRESET once xenshmd went away, -EPROTO for a broken host.
 */
int shm_service(struct shm *s);
/*
 * shm_service, leaving the event for the shm_wait the caller makes next
 * (whose poll returns at once while one is pending): a guard poll less per
 * sleep.  Not for a caller that may not wait: a masked event nobody takes
 * keeps the fd readable and the port silent.
 */
int shm_service_before_wait(struct shm *s);
/* Sleep until an event or timeout_ms (-1: forever), then shm_service(). */
int shm_wait(struct shm *s, int timeout_ms);
/* Pop the oldest queued chan-accept for this listener (all listeners if 0): true if one. */
bool shm_take_accept(struct shm *s, uint32_t listener_id, struct xshm_ctrl_chan_accept *out);
xo_domid_t shm_domid(const struct shm *s);
/* Kick xenshmd (a ring said it sleeps). */
void shm_notify(struct shm *s);

#endif
