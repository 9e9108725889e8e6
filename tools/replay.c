// SPDX-License-Identifier: GPL-2.0-only
/* The unacknowledged bytes of a proxy session (replay.h): a ring grown by doubling. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

void replay_init(struct replay *r, size_t max)
{
	memset(r, 0, sizeof(*r));
	r->max = max;
}

void replay_free(struct replay *r)
{
	free(r->buf);
	replay_init(r, r->max);
}

size_t replay_room(const struct replay *r)
{
	return r->max - r->len;
}

/* Room for `need` bytes in all: a bigger ring with the kept bytes at its start. */
static int grow(struct replay *r, size_t need)
{
	size_t cap = r->cap ? r->cap : 65536;
	uint8_t *buf;

	while (cap < need)
		cap *= 2;
	if (cap > r->max)
		cap = r->max;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	if (r->len) { /* the kept bytes from head to the ring's end, then from its start */
		size_t first = r->len < r->cap - r->head ? r->len : r->cap - r->head;
		memcpy(buf, r->buf + r->head, first);
		memcpy(buf + first, r->buf, r->len - first);
	}
	free(r->buf);
	r->buf = buf;
	r->cap = cap;
	r->head = 0;
	return 0;
}

int replay_add(struct replay *r, const void *data, size_t n)
{
	const uint8_t *src = data;
	int rc;

	if (n > replay_room(r))
		return -ENOSPC;
	if (r->len + n > r->cap && (rc = grow(r, r->len + n)))
		return rc;
	for (size_t done = 0; done < n;) {
		size_t tail = (r->head + r->len) % r->cap, chunk = r->cap - tail;
		if (chunk > n - done)
			chunk = n - done;
		memcpy(r->buf + tail, src + done, chunk);
		done += chunk;
		r->len += chunk;
	}
	return 0;
}

int replay_drop(struct replay *r, size_t n)
{
	if (n > r->len)
		return -EINVAL;
	r->len -= n;
	r->head = r->len ? (r->head + n) % r->cap : 0;
	return 0;
}

size_t replay_peek(const struct replay *r, size_t skip, const uint8_t **at)
{
	if (skip >= r->len || !r->cap)
		return 0;
	size_t start = (r->head + skip) % r->cap, n = r->len - skip;
	if (n > r->cap - start)
		n = r->cap - start;
	*at = r->buf + start;
	return n;
}
