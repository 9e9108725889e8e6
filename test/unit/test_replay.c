// SPDX-License-Identifier: GPL-2.0-only
/*
 * The kept bytes of a proxy session (tools/replay.h): after any mix of sends,
 * acknowledgements and growth across the ring's wrap, what it holds is exactly
 * the stream's unacknowledged tail, and it refuses to grow past its maximum.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/replay.h"
#include "tests.h"

/* Every byte the replay holds, read through replay_peek, against the stream's bytes acked..sent. */
static void check_holds(const struct replay *r, const uint8_t *stream, size_t acked, size_t sent)
{
	size_t at = 0;

	ck_assert_uint_eq(r->len, sent - acked);
	for (;;) {
		const uint8_t *p;
		size_t n = replay_peek(r, at, &p);
		if (!n)
			break;
		ck_assert_msg(!memcmp(p, stream + acked + at, n), "bytes %zu..%zu differ", acked + at, acked + at + n);
		at += n;
	}
	ck_assert_uint_eq(at, sent - acked);
}

START_TEST(replay_keeps_exactly_the_unacked_tail)
{
	enum { MAX = 300000, STREAM = 4 << 20 };
	uint8_t *stream = malloc(STREAM);
	uint32_t seed = 0x5eed;
	size_t sent = 0, acked = 0, grew = 0;
	struct replay r;

	ck_assert_ptr_nonnull(stream);
	for (size_t i = 0; i < STREAM; i++)
		stream[i] = (uint8_t)test_rand(&seed);
	replay_init(&r, MAX);
	while (sent < STREAM - 70000) {
		size_t n = test_rand(&seed) % 70000;
		if (n <= replay_room(&r)) {
			ck_assert_int_eq(replay_add(&r, stream + sent, n), 0);
			sent += n;
		} else {
			ck_assert_int_eq(replay_add(&r, stream + sent, n), -ENOSPC);
		}
		/* The peer acknowledges nothing, a little, part or all of what it has: the ring wraps,
		 * grows while it holds bytes across its wrap, and fills up. */
		static const unsigned int pct[] = { 0, 0, 5, 50, 100 };
		size_t ack = (sent - acked) * pct[test_rand(&seed) % 5] / 100;
		grew += r.len && r.cap < r.len + 70000 && r.cap < MAX;
		ck_assert_int_eq(replay_drop(&r, ack), 0);
		acked += ack;
		check_holds(&r, stream, acked, sent);
		ck_assert_uint_le(r.cap, MAX);
	}
	ck_assert_uint_gt(grew, 0);
	ck_assert_int_eq(replay_drop(&r, r.len + 1), -EINVAL);
	check_holds(&r, stream, acked, sent);
	/* Full to the byte, then nothing more. */
	ck_assert_int_eq(replay_add(&r, stream, replay_room(&r)), 0);
	ck_assert_uint_eq(replay_room(&r), 0);
	ck_assert_int_eq(replay_add(&r, stream, 1), -ENOSPC);
	replay_free(&r);
	ck_assert_uint_eq(r.len, 0);
	free(stream);
}
END_TEST

Suite *replay_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, replay_keeps_exactly_the_unacked_tail);
	suite_add_tcase(s, tc);
	return s;
}
