/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The bytes a `mempipe` proxy has sent to its peer and the peer has not yet
 * acknowledged, kept so that a session switched from its channel to TCP (the
 * peer's domain saved or migrated) resends exactly what the peer lacks: no
 * byte lost, none twice.  A FIFO of at most `max` bytes, grown on demand.
 */
#ifndef XENSHM_TOOLS_REPLAY_H
#define XENSHM_TOOLS_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct replay {
	uint8_t *buf;
	size_t cap, head, len, max; /* head: the oldest byte's index in buf */
};

void replay_init(struct replay *r, size_t max);
void replay_free(struct replay *r);
/* Room left before `max`: a proxy reads no more from its client than this. */
size_t replay_room(const struct replay *r);
/* Keep n more bytes: 0, -ENOSPC beyond max, -ENOMEM. */
int replay_add(struct replay *r, const void *data, size_t n);
/* Forget the n oldest bytes (the peer has them); n > len is a caller's bug: -EINVAL. */
int replay_drop(struct replay *r, size_t n);
/* The kept bytes from `skip` on, as much as is contiguous: its length (0 at the end). */
size_t replay_peek(const struct replay *r, size_t skip, const uint8_t **at);

#endif
