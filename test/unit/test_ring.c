// SPDX-License-Identifier: GPL-2.0-only
/* The SPSC ring, single-threaded: geometry, every size, wraparound, corrupt peers, wake-ups. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/ring.h"
#include "tests.h"

#define GUARD 64
#define GUARD_BYTE 0xa5

/*
 * A ring over `n` chunks laid out in reverse order inside one buffer (so the
 * chunks are not contiguous), with guard bytes around every chunk to catch
 * any write outside the data area.
 */
struct fixture {
	struct xshm_ring_shared sh;
	uint8_t *mem;
	void *chunks[64];
	unsigned int n, shift;
	struct xshm_ring prod, cons;
};

static void fx_init(struct fixture *f, unsigned int n, unsigned int shift, bool contiguous,
		    enum xshm_ring_mode mode, uint32_t max_msg)
{
	size_t csz = (size_t)1 << shift;

	memset(f, 0, sizeof(*f));
	f->n = n;
	f->shift = shift;
	f->mem = malloc(n * (csz + GUARD) + GUARD);
	ck_assert_ptr_nonnull(f->mem);
	memset(f->mem, GUARD_BYTE, n * (csz + GUARD) + GUARD);
	for (unsigned int i = 0; i < n; i++) {
		unsigned int slot = contiguous ? i : n - 1 - i;
		f->chunks[i] = contiguous ? f->mem + GUARD + i * csz
					  : f->mem + GUARD + slot * (csz + GUARD);
	}
	xshm_ring_shared_init(&f->sh);
	ck_assert_int_eq(xshm_ring_attach(&f->prod, &f->sh, XSHM_RING_PRODUCER, mode, f->chunks, n,
					  shift, max_msg), 0);
	ck_assert_int_eq(xshm_ring_attach(&f->cons, &f->sh, XSHM_RING_CONSUMER, mode, f->chunks, n,
					  shift, max_msg), 0);
}

static void fx_check_guards(struct fixture *f, bool contiguous)
{
	size_t csz = (size_t)1 << f->shift;

	for (size_t i = 0; i < GUARD; i++)
		ck_assert_uint_eq(f->mem[i], GUARD_BYTE);
	if (contiguous) {
		size_t end = GUARD + f->n * csz;
		for (size_t i = 0; i < GUARD; i++)
			ck_assert_uint_eq(f->mem[end + i], GUARD_BYTE);
		return;
	}
	for (unsigned int c = 0; c < f->n; c++) {
		uint8_t *after = f->mem + GUARD + c * (csz + GUARD) + csz;
		for (size_t i = 0; i < GUARD; i++)
			ck_assert_uint_eq(after[i], GUARD_BYTE);
	}
}

static void fx_fini(struct fixture *f)
{
	xshm_ring_detach(&f->prod);
	xshm_ring_detach(&f->cons);
	free(f->mem);
}

START_TEST(attach_rejects_bad_geometry)
{
	struct xshm_ring_shared sh;
	struct xshm_ring r;
	uint8_t buf[4096];
	void *c[1] = { buf };

	xshm_ring_shared_init(&sh);
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 0, 12, 0), -EINVAL);
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 5, 0), -EINVAL);
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 17, 0), -EINVAL);
	ck_assert_int_eq(xshm_ring_attach(&r, NULL, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 12, 0), -EINVAL);
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 12, 0), 0);
	ck_assert_uint_eq(r.size, 4096);
	xshm_ring_detach(&r);
}
END_TEST

START_TEST(attach_rejects_inconsistent_indices)
{
	struct xshm_ring_shared sh;
	struct xshm_ring r;
	uint8_t buf[4096];
	void *c[1] = { buf };

	xshm_ring_shared_init(&sh);
	sh.prod = 5000; /* more than one ring ahead of cons = 0 */
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_CONSUMER, XSHM_RING_STREAM, c, 1, 12, 0), -EPROTO);
	sh.prod = 10;
	sh.cons = 20; /* consumer ahead of producer */
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 12, 0), -EPROTO);
	sh.prod = 12;
	sh.cons = 4; /* misaligned for message mode, fine for stream */
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_MESSAGE, c, 1, 12, 0), -EPROTO);
	ck_assert_int_eq(xshm_ring_attach(&r, &sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM, c, 1, 12, 0), 0);
	ck_assert_int_eq(xshm_ring_space(&r), 4096 - 8);
	xshm_ring_detach(&r);
}
END_TEST

START_TEST(stream_empty_and_full)
{
	struct fixture f;
	uint8_t buf[1024], out[1024];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, sizeof(out), &n), -EAGAIN);
	memset(buf, 7, sizeof(buf));
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, sizeof(buf), &n), 1024);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1, &n), -EAGAIN);
	ck_assert_int_eq(xshm_ring_space(&f.prod), 0);
	ck_assert_int_eq(xshm_ring_available(&f.cons), 1024);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 1000, &n), 1000);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 2000, &n), 1000); /* partial write */
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 0, &n), 0);
	fx_check_guards(&f, false);
	fx_fini(&f);
}
END_TEST

/* Every transfer size from 1 byte to the whole ring, so every offset wraps somewhere. */
static void every_size(bool contiguous, unsigned int nchunks)
{
	struct fixture f;
	size_t size = (size_t)nchunks << 8;
	uint8_t *in = malloc(size), *out = malloc(size);
	uint32_t seed = 12345;
	bool n;

	fx_init(&f, nchunks, 8, contiguous, XSHM_RING_STREAM, 0);
	for (size_t len = 1; len <= size; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)test_rand(&seed);
		ck_assert_int_eq(xshm_ring_write(&f.prod, in, len, &n), (ssize_t)len);
		memset(out, 0, len);
		ck_assert_int_eq(xshm_ring_read(&f.cons, out, len, &n), (ssize_t)len);
		ck_assert_mem_eq(in, out, len);
	}
	fx_check_guards(&f, contiguous);
	fx_fini(&f);
	free(in);
	free(out);
}

START_TEST(stream_every_size_noncontiguous) { every_size(false, 4); }
END_TEST
START_TEST(stream_every_size_contiguous) { every_size(true, 4); }
END_TEST
START_TEST(stream_every_size_three_chunks) { every_size(false, 3); } /* not a power of two */
END_TEST

START_TEST(message_every_size)
{
	struct fixture f;
	uint8_t in[1024], out[1024];
	uint32_t seed = 99;
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_MESSAGE, 0);
	size_t max = xshm_ring_max_payload(&f.prod);
	ck_assert_uint_eq(max, 1024 - 8);
	for (size_t len = 0; len <= max; len++) {
		for (size_t i = 0; i < len; i++)
			in[i] = (uint8_t)test_rand(&seed);
		ck_assert_int_eq(xshm_ring_send(&f.prod, in, len, &n), 0);
		ck_assert_int_eq(xshm_ring_next_len(&f.cons), (ssize_t)len);
		ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), (ssize_t)len);
		ck_assert_mem_eq(in, out, len);
	}
	fx_check_guards(&f, false);
	fx_fini(&f);
}
END_TEST

START_TEST(message_boundaries_preserved)
{
	struct fixture f;
	char out[64];
	bool n;

	fx_init(&f, 2, 8, true, XSHM_RING_MESSAGE, 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "a", 1, &n), 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "", 0, &n), 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "hello world", 11, &n), 0);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), 1);
	ck_assert_int_eq(out[0], 'a');
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), 0);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), 11);
	ck_assert_mem_eq(out, "hello world", 11);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EAGAIN);
	fx_fini(&f);
}
END_TEST

START_TEST(message_too_large_and_small_buffer)
{
	struct fixture f;
	uint8_t big[600] = { 1 }, out[16];
	bool n;

	fx_init(&f, 2, 8, false, XSHM_RING_MESSAGE, 100);
	ck_assert_uint_eq(xshm_ring_max_payload(&f.prod), 100);
	ck_assert_int_eq(xshm_ring_send(&f.prod, big, 101, &n), -EMSGSIZE);
	ck_assert_int_eq(xshm_ring_send(&f.prod, big, 100, &n), 0);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EMSGSIZE);
	/* The message stays queued until a big enough buffer comes. */
	ck_assert_int_eq(xshm_ring_next_len(&f.cons), 100);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, big, sizeof(big), &n), 100);
	/* Ring full: 4 frames of 112 bytes fit in 512, the fifth waits. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(xshm_ring_send(&f.prod, big, 100, &n), 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, big, 100, &n), -EAGAIN);
	fx_fini(&f);
}
END_TEST

START_TEST(wrong_role_or_mode)
{
	struct fixture f;
	uint8_t b[8];
	bool n;

	fx_init(&f, 1, 8, true, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_read(&f.prod, b, 8, &n), -EINVAL);
	ck_assert_int_eq(xshm_ring_write(&f.cons, b, 8, &n), -EINVAL);
	ck_assert_int_eq(xshm_ring_send(&f.prod, b, 8, &n), -EINVAL);
	ck_assert_int_eq(xshm_ring_recv(&f.cons, b, 8, &n), -EINVAL);
	ck_assert_int_eq(xshm_ring_available(&f.prod), -EINVAL);
	ck_assert_int_eq(xshm_ring_space(&f.cons), -EINVAL);
	fx_fini(&f);
}
END_TEST

/* ---- a lying peer: the ring stops, sticky, and touches nothing out of bounds ---- */

START_TEST(corrupt_prod_beyond_ring)
{
	struct fixture f;
	uint8_t out[4096];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	f.sh.prod = 1025; /* claims more data than the ring holds */
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, sizeof(out), &n), -EPROTO);
	f.sh.prod = 10; /* even a sane value later does not clear the error */
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, sizeof(out), &n), -EPROTO);
	ck_assert(!xshm_ring_prepare_wait(&f.cons, 0));
	fx_check_guards(&f, false);
	fx_fini(&f);
}
END_TEST

START_TEST(corrupt_prod_backwards)
{
	struct fixture f;
	uint8_t buf[100], out[100];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 100, &n), 100);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 50, &n), 50);
	f.sh.prod = 20; /* behind what we already consumed */
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 100, &n), -EPROTO);
	fx_fini(&f);
}
END_TEST

START_TEST(corrupt_cons_ahead_of_prod)
{
	struct fixture f;
	uint8_t buf[2048];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1024, &n), 1024);
	f.sh.cons = 2000; /* consumed more than was produced: would let us overwrite unread data */
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 100, &n), -EPROTO);
	ck_assert_int_eq(xshm_ring_space(&f.prod), -EPROTO);
	fx_check_guards(&f, false);
	fx_fini(&f);
}
END_TEST

START_TEST(corrupt_cons_backwards)
{
	struct fixture f;
	uint8_t buf[1024], out[1024];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1024, &n), 1024);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 1024, &n), 1024);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1024, &n), 1024);
	f.sh.cons = UINT64_MAX; /* "backwards" through the wrap of the counter */
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1, &n), -EPROTO);
	fx_fini(&f);
}
END_TEST

START_TEST(corrupt_frame_header)
{
	struct fixture f;
	uint8_t out[1024];
	bool n;
	struct { uint32_t len; uint16_t magic, reserved; } bad;

	/* Bad magic. */
	fx_init(&f, 4, 8, true, XSHM_RING_MESSAGE, 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "abcdefgh", 8, &n), 0);
	memcpy(&bad, f.chunks[0], sizeof(bad));
	bad.magic ^= 1;
	memcpy(f.chunks[0], &bad, sizeof(bad));
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EPROTO);
	fx_fini(&f);

	/* Length larger than what was published. */
	fx_init(&f, 4, 8, true, XSHM_RING_MESSAGE, 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "abcdefgh", 8, &n), 0);
	memcpy(&bad, f.chunks[0], sizeof(bad));
	bad.len = 500;
	memcpy(f.chunks[0], &bad, sizeof(bad));
	ck_assert_int_eq(xshm_ring_next_len(&f.cons), -EPROTO);
	fx_fini(&f);

	/* Length beyond the ring: must not be used for a copy. */
	fx_init(&f, 4, 8, true, XSHM_RING_MESSAGE, 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "abcdefgh", 8, &n), 0);
	memcpy(&bad, f.chunks[0], sizeof(bad));
	bad.len = 0xfffffff0u;
	memcpy(f.chunks[0], &bad, sizeof(bad));
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EPROTO);
	fx_check_guards(&f, true);
	fx_fini(&f);

	/* Non-zero reserved field. */
	fx_init(&f, 4, 8, true, XSHM_RING_MESSAGE, 0);
	ck_assert_int_eq(xshm_ring_send(&f.prod, "abcdefgh", 8, &n), 0);
	memcpy(&bad, f.chunks[0], sizeof(bad));
	bad.reserved = 1;
	memcpy(f.chunks[0], &bad, sizeof(bad));
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EPROTO);
	fx_fini(&f);
}
END_TEST

START_TEST(corrupt_prod_misaligned_message)
{
	struct fixture f;
	uint8_t out[64];
	bool n;

	fx_init(&f, 4, 8, true, XSHM_RING_MESSAGE, 0);
	f.sh.prod = 13;
	ck_assert_int_eq(xshm_ring_recv(&f.cons, out, sizeof(out), &n), -EPROTO);
	fx_fini(&f);
}
END_TEST

/* ---- wake-ups ---- */

START_TEST(notify_only_when_asked)
{
	struct fixture f;
	uint8_t buf[1024], out[1024];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 10, &n), 10);
	ck_assert(!n); /* nobody sleeping */
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 10, &n), 10);
	ck_assert(!n);
	ck_assert(xshm_ring_prepare_wait(&f.cons, 0)); /* empty: safe to sleep */
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 10, &n), 10);
	ck_assert(n); /* consumer asked */
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 10, &n), 10);
	ck_assert(!n); /* one wake-up per sleep */
	ck_assert(!xshm_ring_prepare_wait(&f.cons, 0)); /* data there: don't sleep */
	fx_fini(&f);
}
END_TEST

START_TEST(producer_wait_for_space)
{
	struct fixture f;
	uint8_t buf[1024], out[1024];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1000, &n), 1000);
	ck_assert(!xshm_ring_prepare_wait(&f.prod, 24));  /* 24 bytes free: enough */
	ck_assert(xshm_ring_prepare_wait(&f.prod, 100));  /* not enough: sleep */
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 500, &n), 500);
	ck_assert(n);
	fx_fini(&f);
}
END_TEST

/* A producer waiting for room is woken once, when enough is free, not by every small read. */
START_TEST(producer_woken_at_its_threshold)
{
	struct fixture f;
	uint8_t buf[1024], out[1024];
	bool n;

	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, buf, 1024, &n), 1024);
	ck_assert(xshm_ring_prepare_wait(&f.prod, 256));
	for (int i = 0; i < 7; i++) {
		ck_assert_int_eq(xshm_ring_read(&f.cons, out, 32, &n), 32);
		ck_assert_msg(!n, "kicked after %d bytes", (i + 1) * 32);
	}
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 32, &n), 32); /* 256 free now */
	ck_assert(n);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 32, &n), 32); /* asked once, told once */
	ck_assert(!n);
	fx_fini(&f);
}
END_TEST

START_TEST(reattach_continues)
{
	struct fixture f;
	uint8_t in[300], out[300];
	bool n;

	for (int i = 0; i < 300; i++)
		in[i] = (uint8_t)i;
	fx_init(&f, 4, 8, false, XSHM_RING_STREAM, 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, in, 200, &n), 200);
	xshm_ring_detach(&f.prod);
	/* A restarted producer picks up its index from the shared header. */
	ck_assert_int_eq(xshm_ring_attach(&f.prod, &f.sh, XSHM_RING_PRODUCER, XSHM_RING_STREAM,
					  f.chunks, f.n, f.shift, 0), 0);
	ck_assert_int_eq(xshm_ring_write(&f.prod, in + 200, 100, &n), 100);
	ck_assert_int_eq(xshm_ring_read(&f.cons, out, 300, &n), 300);
	ck_assert_mem_eq(in, out, 300);
	fx_fini(&f);
}
END_TEST

Suite *ring_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("single-thread");

	tcase_add_test(tc, attach_rejects_bad_geometry);
	tcase_add_test(tc, attach_rejects_inconsistent_indices);
	tcase_add_test(tc, stream_empty_and_full);
	tcase_add_test(tc, stream_every_size_noncontiguous);
	tcase_add_test(tc, stream_every_size_contiguous);
	tcase_add_test(tc, stream_every_size_three_chunks);
	tcase_add_test(tc, message_every_size);
	tcase_add_test(tc, message_boundaries_preserved);
	tcase_add_test(tc, message_too_large_and_small_buffer);
	tcase_add_test(tc, wrong_role_or_mode);
	tcase_add_test(tc, corrupt_prod_beyond_ring);
	tcase_add_test(tc, corrupt_prod_backwards);
	tcase_add_test(tc, corrupt_cons_ahead_of_prod);
	tcase_add_test(tc, corrupt_cons_backwards);
	tcase_add_test(tc, corrupt_frame_header);
	tcase_add_test(tc, corrupt_prod_misaligned_message);
	tcase_add_test(tc, notify_only_when_asked);
	tcase_add_test(tc, producer_wait_for_space);
	tcase_add_test(tc, producer_woken_at_its_threshold);
	tcase_add_test(tc, reattach_continues);
	suite_add_tcase(s, tc);
	return s;
}
