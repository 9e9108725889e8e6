/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which co-located guests a guest may open MemPipe channels with, and how
 * large their rings may be: the administrator's `mempipe-peers` node in the
 * guest's backend dir (xl cfg `mempipe = [ "peer=web2,max=4M" ]`).  xenshmd
 * reads it at every connect, so a `xenstore-write` applies to the next
 * channel.  A channel needs the consent of both guests' lists.
 *
 *   "web2:4096 7:0 *:1024"
 *
 * Items PEER:MAX-KB, separated by single spaces.  PEER is a domain name
 * ([A-Za-z0-9._-], what `xl list` shows), a domid, or `*` for any peer;
 * MAX-KB caps each of the channel's rings, in KiB, a multiple of 4 (0: only
 * xenshmd's own limits).  The first item naming the peer decides.  No node:
 * any peer.  An empty node: none.
 */
#ifndef XENSHM_DOM0_PEERS_H
#define XENSHM_DOM0_PEERS_H

#include <stddef.h>
#include <stdint.h>

#include "xenshm/xenops.h"

#define XSHM_PEERS_LEN_MAX 1023u
#define XSHM_PEER_NAME_MAX 64u
#define XSHM_PEER_MAX_KB (UINT64_C(1) << 20) /* a MemPipe ring's largest: 256 Ki pages */

/*
 * Does `untrusted` let this guest talk to domain `peer` (named peer_name, NULL when
 * unknown)?  1 and *max_kb (0 = no cap), 0 when no item names it, -EINVAL when the value is
 * malformed anywhere (a list that cannot be read permits nothing), with the reason in err.
 */
int xshm_peers_match(const char *untrusted, xo_domid_t peer, const char *peer_name, uint64_t *max_kb,
		     char *err, size_t errlen);

#endif
