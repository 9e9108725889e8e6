/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MemPipe in xenshmd: listeners, connections and the relay.
 *
 * A guest listens on a name; a guest of another domain connects to
 * (domid, name).  xenshmd then grants each end two ring segments of its own
 * (charged to that device: tx it produces, rx it consumes), answers the
 * connector and sends the listener a chan-accept notice.  The relay moves
 * each end's tx into the other's rx with one copy, batching everything
 * that is there, and kicks a guest only when it asked to be woken.
 *
 * Wake-ups: while a tx ring carries data the relay keeps polling it (every
 * millisecond, up to XSHM_RELAY_HOT_POLLS empty polls) instead of asking
 * the sender to kick, so a stream of small messages costs one relay pass
 * per batch rather than one event per message; an idle ring is armed and
 * its first write kicks.  With xenshmd --relay-poll-us the relay spins on
 * the hot rings for that long after a pass instead of waiting for the next
 * millisecond (xshm_chan_spin), so a round trip waits for no poll tick.
 *
 * Sizing (a channel opened without a ring size): tx rings are fixed and
 * small, since the relay drains them at once; each rx ring starts small
 * and is replaced in-band by a larger or smaller one (xshm_chan_page's
 * switch fields) as the policy in dom0/policy.h decides from what the
 * relay measures: how often the rx was full, its peak fill, throughput.
 *
 * Closing: chan-close from a guest frees its rx at once and its tx once
 * the relay has drained it; then the peer's rx header says CLOSED, so the
 * peer reads everything that was sent, then end of file.  A device that
 * goes away (death, disconnect, a corrupt ring) leaves its peers RESET.
 * Either way the channel lives until both ends are finished.
 */
#ifndef XENSHM_BACKEND_CHAN_H
#define XENSHM_BACKEND_CHAN_H

#include <stdint.h>

#include "xenshm/ctrl.h"
#include "device.h"

#define XSHM_RELAY_HOT_POLLS 20

struct xshm_chan_end {
	struct xshm_dev *dev;        /* NULL once this end is finished */
	struct xshm_seg *tx, *rx;    /* the guest produces tx, consumes rx */
	struct xshm_ring from, to;   /* our ends: we consume tx, produce into rx */
	bool attached, closing;
	bool shut, shut_told;        /* half-closed by its guest; its peer told, once its tx drained */
	unsigned int idle_polls;     /* empty polls of its tx since data last moved */
	uint64_t bytes_sent;         /* moved out of its tx */
	uint64_t shown_ms, shown_bytes; /* what its XenStore node said last, and when */
	uint32_t rx_pages;           /* its rx ring now (a sized channel resizes it) */
	struct xshm_seg *old_rx;     /* a replaced rx ring the guest has not left yet */
	uint32_t tx_pages;           /* its tx ring now */
	struct xshm_seg *tx_offer;   /* a larger or smaller tx ring offered to the guest */
	struct xshm_rx_sizing sz;     /* what the relay measured of its rx (dom0/policy.h) */
};

struct xshm_chan {
	struct xshm_chan *next;
	uint32_t id;
	bool listener;
	char name[XSHM_CTRL_NAME_MAX];
	uint32_t flags, max_msg;
	uint32_t tx_pages, rx_pages;  /* a listener: 0 = sized; a connection: tx, first rx */
	bool sized;
	uint32_t rx_min, rx_max;
	/* A listener: its device and the only peer it accepts (0 = any). */
	struct xshm_dev *ldev;
	uint32_t peer_filter;
	uint32_t listener_id;        /* a connection: the listener it came through */
	struct xshm_chan_end end[2]; /* a connection: [0] connected, [1] accepted */
};

int xshm_chan_open(struct xshm_dev *dev, const struct xshm_ctrl_chan_open *req,
		   struct xshm_ctrl_rsp_chan_open *rsp);
int xshm_chan_close(struct xshm_dev *dev, uint32_t id);
/* The domid of the connected guest named peer_name that dev's guest may open channels with,
 * or -ENOENT. */
int xshm_chan_peer_lookup(struct xshm_dev *dev, const char *peer_name, uint32_t *domid);
/* The guest sends no more on this end: once its tx is drained the peer reads end of stream
 * (XSHM_PEER_SHUTDOWN) and may go on writing; later bytes in the tx are dropped. */
int xshm_chan_shutdown(struct xshm_dev *dev, uint32_t id);
/* The device's port fired: relay its channels both ways. */
void xshm_chan_dev_event(struct xshm_dev *dev);
/* Relay every channel (after a pass stopped at its budget). */
void xshm_chan_pump_all(struct xshm_host *h);
/* Spin (backend/spin.h) until a hot channel's tx ring holds bytes, or `ticks` pass.  true: one
 * does; the caller pumps. */
bool xshm_chan_spin(struct xshm_host *h, uint64_t ticks);
/* The device is being torn down: its listeners go, its ends are finished, peers see RESET. */
void xshm_chan_dev_gone(struct xshm_dev *dev);
/* Let sized rx rings of idle channels shrink and show the last counters of a burst; true while
 * some ring is above its minimum or some counters wait for their once-a-second slot. */
bool xshm_chan_tick(struct xshm_host *h);
/* Channels with an end on this device. */
unsigned int xshm_chan_count(const struct xshm_dev *dev);
/*
 * What the guest itself has moved on its channel rings (its tx producer and
 * rx consumer indices, summed, as the rings validate them: forward only): a
 * kick after it changed reports news even when the relay, polling, has
 * already moved the bytes, so it is not a spurious kick.  Only compared,
 * never used as an index.
 */
uint64_t xshm_chan_progress(struct xshm_dev *dev);

#endif
