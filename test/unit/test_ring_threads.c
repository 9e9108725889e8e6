// SPDX-License-Identifier: GPL-2.0-only
/*
 * Two threads hammer one ring.  The producer sends a byte stream generated
 * by a PRNG; the consumer regenerates the same stream and compares every
 * byte, so a lost, duplicated or reordered byte fails the test.  The
 * sleeping variants block on eventfds guarded by prepare_wait(): a lost
 * wake-up shows up as a 5 s timeout.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "xenshm/ring.h"
#include "tests.h"

#define TOTAL (6u << 20)

struct hammer {
	struct xshm_ring_shared sh;
	uint8_t *mem;
	void *chunks[8];
	struct xshm_ring prod, cons;
	bool sleep;        /* block on eventfds instead of spinning */
	int to_cons, to_prod;
	enum xshm_ring_mode mode;
	int lost_wakeups;
	int errors;
};

static void kick(int fd)
{
	uint64_t one = 1;
	ssize_t r = write(fd, &one, sizeof(one));
	(void)r;
}

/* Wait for the peer; returns false on a lost wake-up (timeout while progress was possible). */
static bool wait_peer(struct hammer *h, struct xshm_ring *r, int fd, size_t need)
{
	if (!h->sleep) {
		sched_yield();
		return true;
	}
	if (!xshm_ring_prepare_wait(r, need))
		return true;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 5000) != 1)
		return false;
	uint64_t v;
	ssize_t rd = read(fd, &v, sizeof(v));
	(void)rd;
	return true;
}

static void *producer(void *arg)
{
	struct hammer *h = arg;
	uint32_t data_seed = 1, size_seed = 7;
	uint8_t buf[5000];
	size_t sent = 0;

	while (sent < TOTAL) {
		size_t len = 1 + test_rand(&size_seed) % sizeof(buf);
		if (len > TOTAL - sent)
			len = TOTAL - sent;
		uint32_t s = data_seed;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)test_rand(&s);
		size_t off = 0;
		while (off < len) {
			bool n = false;
			ssize_t r;
			if (h->mode == XSHM_RING_STREAM) {
				r = xshm_ring_write(&h->prod, buf + off, len - off, &n);
			} else {
				r = xshm_ring_send(&h->prod, buf, len, &n);
				if (r == 0)
					r = (ssize_t)len;
			}
			if (n)
				kick(h->to_cons);
			if (r == -EAGAIN) {
				size_t need = h->mode == XSHM_RING_STREAM ? 1 : len + 16;
				if (!wait_peer(h, &h->prod, h->to_prod, need)) {
					__atomic_add_fetch(&h->lost_wakeups, 1, __ATOMIC_RELAXED);
					return NULL;
				}
				continue;
			}
			if (r < 0) {
				__atomic_add_fetch(&h->errors, 1, __ATOMIC_RELAXED);
				return NULL;
			}
			off += (size_t)r;
		}
		data_seed = s;
		sent += len;
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct hammer *h = arg;
	uint32_t data_seed = 1, read_seed = 3;
	uint8_t buf[5000];
	size_t got = 0;

	while (got < TOTAL) {
		bool n = false;
		ssize_t r;
		if (h->mode == XSHM_RING_STREAM)
			r = xshm_ring_read(&h->cons, buf, 1 + test_rand(&read_seed) % sizeof(buf), &n);
		else
			r = xshm_ring_recv(&h->cons, buf, sizeof(buf), &n);
		if (n)
			kick(h->to_prod);
		if (r == -EAGAIN) {
			if (!wait_peer(h, &h->cons, h->to_cons, 0)) {
				__atomic_add_fetch(&h->lost_wakeups, 1, __ATOMIC_RELAXED);
				return NULL;
			}
			continue;
		}
		if (r <= 0) {
			__atomic_add_fetch(&h->errors, 1, __ATOMIC_RELAXED);
			return NULL;
		}
		for (ssize_t i = 0; i < r; i++) {
			if (buf[i] != (uint8_t)test_rand(&data_seed)) {
				__atomic_add_fetch(&h->errors, 1, __ATOMIC_RELAXED);
				return NULL;
			}
		}
		got += (size_t)r;
	}
	return NULL;
}

static void run(enum xshm_ring_mode mode, bool sleep, unsigned int nchunks, unsigned int shift)
{
	struct hammer *h = calloc(1, sizeof(*h));
	size_t csz = (size_t)1 << shift;
	pthread_t a, b;

	h->mode = mode;
	h->sleep = sleep;
	h->mem = malloc(nchunks * csz);
	for (unsigned int i = 0; i < nchunks; i++)
		h->chunks[i] = h->mem + (nchunks - 1 - i) * csz; /* not contiguous */
	h->to_cons = eventfd(0, EFD_NONBLOCK);
	h->to_prod = eventfd(0, EFD_NONBLOCK);
	xshm_ring_shared_init(&h->sh);
	ck_assert_int_eq(xshm_ring_attach(&h->prod, &h->sh, XSHM_RING_PRODUCER, mode, h->chunks,
					  nchunks, shift, 0), 0);
	ck_assert_int_eq(xshm_ring_attach(&h->cons, &h->sh, XSHM_RING_CONSUMER, mode, h->chunks,
					  nchunks, shift, 0), 0);
	pthread_create(&a, NULL, producer, h);
	pthread_create(&b, NULL, consumer, h);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_int_eq(h->errors, 0);
	ck_assert_int_eq(h->lost_wakeups, 0);
	ck_assert_uint_eq(h->cons.mine, h->prod.mine);
	xshm_ring_detach(&h->prod);
	xshm_ring_detach(&h->cons);
	close(h->to_cons);
	close(h->to_prod);
	free(h->mem);
	free(h);
}

START_TEST(threads_stream_spin) { run(XSHM_RING_STREAM, false, 3, 12); }
END_TEST
START_TEST(threads_stream_sleep) { run(XSHM_RING_STREAM, true, 2, 12); }
END_TEST
START_TEST(threads_message_spin) { run(XSHM_RING_MESSAGE, false, 4, 12); }
END_TEST
START_TEST(threads_message_sleep) { run(XSHM_RING_MESSAGE, true, 3, 12); }
END_TEST

Suite *ring_threads_suite(void)
{
	Suite *s = suite_create("ring-threads");
	TCase *tc = tcase_create("hammer");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, threads_stream_spin);
	tcase_add_test(tc, threads_stream_sleep);
	tcase_add_test(tc, threads_message_spin);
	tcase_add_test(tc, threads_message_sleep);
	suite_add_tcase(s, tc);
	return s;
}
