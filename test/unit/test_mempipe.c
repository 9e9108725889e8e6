// SPDX-License-Identifier: GPL-2.0-only
/*
 * MemPipe end to end on the fake Xen: libmempipe in two guests, xenshmd
 * relaying between them.  Checksummed streams through small rings, message
 * boundaries, close and end of stream, peer death, refusals, timeouts, and
 * a guest that lies about its ring index.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../dom0/lograte.h"
#include "../../dom0/policy.h"
#include "../../frontend/shm_private.h"
#include "xenshm/chan.h"
#include "xenshm/ctrl.h"
#include "xenshm/mempipe.h"
#include "xenshm/xspaths.h"
#include "daemon_env.h"
#include "tests.h"

/* Small rings so that every transfer wraps and blocks many times. */
static const struct mempipe_opts small = { .timeout_ms = 5000, .ring_bytes = 16 << 10 };

struct pair {
	struct host h;
	struct shm *s1, *s2;
	struct mempipe *l, *a, *b; /* listener in g1, accepted end in g1, connected end in g2 */
};

/* relay_poll_us: xenshmd --relay-poll-us (0: off). */
static void pair_open_polled(struct pair *p, const struct mempipe_opts *o, unsigned int relay_poll_us)
{
	host_init(&p->h, false);
	p->h.relay_poll_us = relay_poll_us;
	daemon_start(&p->h);
	ck_assert(wait_be_state(&p->h, p->h.g1, "2"));
	ck_assert(wait_be_state(&p->h, p->h.g2, "2"));
	p->s1 = shm_open_xo(p->h.x1, 0, &fast);
	p->s2 = shm_open_xo(p->h.x2, 0, &fast);
	ck_assert_ptr_nonnull(p->s1);
	ck_assert_ptr_nonnull(p->s2);
	p->l = mempipe_listen(p->s1, "pipe.test", o);
	ck_assert_ptr_nonnull(p->l);
	p->b = mempipe_connect(p->s2, p->h.g1, "pipe.test", o);
	ck_assert_ptr_nonnull(p->b);
	p->a = mempipe_accept(p->l);
	ck_assert_ptr_nonnull(p->a);
	ck_assert_uint_eq(mempipe_peer(p->a), p->h.g2);
	ck_assert_uint_eq(mempipe_peer(p->b), p->h.g1);
}

static void pair_open(struct pair *p, const struct mempipe_opts *o)
{
	pair_open_polled(p, o, 0);
}

static void pair_close(struct pair *p)
{
	mempipe_close(p->a);
	mempipe_close(p->b);
	mempipe_close(p->l);
	shm_exit(p->s1);
	shm_exit(p->s2);
	host_fini(&p->h);
}

struct writer {
	struct mempipe *p;
	size_t total;
	uint32_t seed;
	bool message;
	bool close_after;
	ssize_t result;
};

/* Writes `total` pattern bytes in pieces of varying size, then closes if asked. */
static void *write_all(void *arg)
{
	struct writer *w = arg;
	uint32_t seed = w->seed, sizes = w->seed ^ 0x5bd1e995u;
	uint8_t *buf = malloc(70000);
	size_t done = 0;

	w->result = 0;
	while (done < w->total) {
		size_t n = 1 + test_rand(&sizes) % 70000;
		if (w->message && n > mempipe_max_msg(w->p))
			n = 1 + n % mempipe_max_msg(w->p);
		if (n > w->total - done)
			n = w->total - done;
		for (size_t i = 0; i < n; i++)
			buf[i] = (uint8_t)test_rand(&seed);
		ssize_t rc = w->message ? mempipe_send(w->p, buf, n) : mempipe_write(w->p, buf, n);
		if (rc < 0 || (!w->message && (size_t)rc != n)) {
			w->result = rc < 0 ? rc : -EIO;
			break;
		}
		done += n;
	}
	if (w->close_after) {
		mempipe_close(w->p);
		w->p = NULL;
	}
	free(buf);
	return NULL;
}

/* Read until end of stream; returns the bytes that matched the pattern, or a negative errno. */
static ssize_t read_check(struct mempipe *p, uint32_t seed, size_t expect)
{
	uint8_t *buf = malloc(50000);
	size_t got = 0;
	ssize_t rc;

	while ((rc = mempipe_read(p, buf, 1 + got % 50000)) > 0) {
		for (ssize_t i = 0; i < rc; i++) {
			if (buf[i] != (uint8_t)test_rand(&seed)) {
				free(buf);
				return -EILSEQ;
			}
		}
		got += (size_t)rc;
		if (got > expect)
			break;
	}
	free(buf);
	return rc < 0 ? rc : (ssize_t)got;
}

START_TEST(stream_checksummed_then_eof)
{
	struct pair p;
	pthread_t th;
	struct mempipe_stats st;

	pair_open(&p, &small);
	/* The admin sees the listener and both ends in the backend dirs (ids: listener 1, ends 2 and 3). */
	char path[XSP_MAX], *v = NULL, want[64];
	xsp_be_channel(path, sizeof(path), p.h.g1, 0, 1);
	ck_assert_int_eq(xo_read_str(p.h.tool, XO_TXN_NONE, path, &v), 0);
	ck_assert_str_eq(v, "listen pipe.test");
	free(v);
	xsp_be_channel(path, sizeof(path), p.h.g2, 0, 2);
	ck_assert_int_eq(xo_read_str(p.h.tool, XO_TXN_NONE, path, &v), 0);
	snprintf(want, sizeof(want), "%u pipe.test 16 16 0 0 0 100", p.h.g1);
	ck_assert_str_eq(v, want);
	free(v);
	struct writer w = { .p = p.b, .total = 4u << 20, .seed = 12345, .close_after = true };
	pthread_create(&th, NULL, write_all, &w);
	/* Every byte, in order, then end of stream: the close waits for the relay to drain. */
	ck_assert_int_eq(read_check(p.a, 12345, w.total), (ssize_t)w.total);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	ck_assert_int_eq(mempipe_stats(p.a, &st), 0);
	ck_assert_uint_eq(st.bytes_read, w.total);
	ck_assert_uint_eq(st.rx_ring_bytes, 16 << 10);
	ck_assert_uint_eq(st.tx_ring_bytes, 16 << 10);
	ck_assert_uint_eq(st.rx_resizes, 0); /* fixed rings */
	/* Writing to a closed peer is refused, not lost silently. */
	ck_assert_int_eq(mempipe_write(p.a, "x", 1), -EPIPE);
	ck_assert(wait_absent(&p.h, path)); /* the closed end's node */
	p.b = NULL; /* closed by the writer */
	pair_close(&p);
}
END_TEST

/* One guest's loop over a poll()able, non-blocking channel: send its pattern, check the peer's. */
struct duplex {
	struct mempipe *p;
	uint32_t wseed, rseed;
	size_t total, sent, got;
	int result;
};

static void *duplex_run(void *arg)
{
	struct duplex *d = arg;
	uint8_t *out = malloc(40000), *in = malloc(30000);
	size_t pend_off = 0, pend_len = 0;

	mempipe_set_nonblock(d->p, true);
	d->result = 0;
	while (!d->result && (d->sent < d->total || d->got < d->total)) {
		bool progress = false;
		if (!pend_len && d->sent + pend_len < d->total) {
			pend_len = 1 + (d->sent * 7919) % 40000;
			if (pend_len > d->total - d->sent)
				pend_len = d->total - d->sent;
			for (size_t i = 0; i < pend_len; i++)
				out[i] = (uint8_t)test_rand(&d->wseed);
			pend_off = 0;
		}
		if (pend_len) {
			ssize_t n = mempipe_write(d->p, out + pend_off, pend_len);
			if (n > 0) {
				pend_off += (size_t)n;
				pend_len -= (size_t)n;
				d->sent += (size_t)n;
				progress = true;
			} else if (n != -EAGAIN) {
				d->result = (int)n;
			}
		}
		ssize_t n = mempipe_read(d->p, in, 30000);
		if (n > 0) {
			for (ssize_t i = 0; i < n; i++)
				if (in[i] != (uint8_t)test_rand(&d->rseed))
					d->result = -EILSEQ;
			d->got += (size_t)n;
			progress = true;
		} else if (n != -EAGAIN) {
			d->result = n ? (int)n : -EPIPE;
		}
		if (!progress) {
			struct pollfd pfd = { .fd = mempipe_fd(d->p), .events = POLLIN };
			poll(&pfd, 1, 200);
		}
	}
	free(out);
	free(in);
	return NULL;
}

/* nc's pattern: a few bytes and the close at once, before the listener even accepts. */
START_TEST(short_write_then_close_before_accept)
{
	struct pair p;
	char buf[64];

	host_init(&p.h, true);
	p.s1 = shm_open_xo(p.h.x1, 0, &fast);
	p.s2 = shm_open_xo(p.h.x2, 0, &fast);
	ck_assert_ptr_nonnull(p.s1);
	ck_assert_ptr_nonnull(p.s2);
	p.l = mempipe_listen(p.s1, "chat", &small);
	ck_assert_ptr_nonnull(p.l);
	p.b = mempipe_connect(p.s2, p.h.g1, "chat", &small);
	ck_assert_ptr_nonnull(p.b);
	ck_assert_int_eq(mempipe_write(p.b, "from-g2\n", 8), 8);
	mempipe_close(p.b);
	p.b = NULL;
	p.a = mempipe_accept(p.l);
	ck_assert_ptr_nonnull(p.a);
	size_t got = 0;
	ssize_t r;
	while ((r = mempipe_read(p.a, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(got, 8);
	ck_assert(!memcmp(buf, "from-g2\n", 8));
	pair_close(&p);
}
END_TEST

/* A request, a half-close, the answer: what nc, HTTP/1.0 and rsh-style clients do. */
START_TEST(half_close_then_answer)
{
	struct pair p;
	char buf[64];
	ssize_t r;

	pair_open(&p, &small);
	ck_assert_int_eq(mempipe_write(p.b, "question", 8), 8);
	ck_assert_int_eq(mempipe_shutdown(p.b), 0);
	ck_assert_int_eq(mempipe_shutdown(p.b), 0); /* once is enough; twice is harmless */
	ck_assert_int_eq(mempipe_write(p.b, "more", 4), -EPIPE);
	/* The listener's end reads the question, then end of stream... */
	size_t got = 0;
	while ((r = mempipe_read(p.a, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(got, 8);
	ck_assert(!memcmp(buf, "question", 8));
	/* ...and still answers: the half-closed end reads it, then the close. */
	ck_assert_int_eq(mempipe_write(p.a, "answer", 6), 6);
	mempipe_close(p.a);
	p.a = NULL;
	got = 0;
	while ((r = mempipe_read(p.b, buf + got, sizeof(buf) - got)) > 0)
		got += (size_t)r;
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(got, 6);
	ck_assert(!memcmp(buf, "answer", 6));
	ck_assert_int_eq(mempipe_shutdown(p.l), -EINVAL); /* a listener has nothing to half-close */
	pair_close(&p);
}
END_TEST

/* A guest's end opened by hand (no library): the control messages and its own rings. */
static struct xshm_ctrl_chan_info open_by_hand(struct shm *s, unsigned int peer, const char *name)
{
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp;

	strcpy(req.u.chan_open.name, name);
	req.u.chan_open.peer_domid = peer;
	req.u.chan_open.ring_pages = 4;
	ck_assert_int_eq(shm_rpc(s, &req, &rsp), 0);
	ck_assert_int_eq(rsp.u.rsp_chan_open.status, 0);
	return rsp.u.rsp_chan_open.chan;
}

/* Bytes a guest slips into its tx after its own half-close never reach the peer. */
START_TEST(bytes_after_half_close_are_dropped)
{
	struct host h;
	char buf[64];
	bool notify;

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	struct mempipe *l = mempipe_listen(s1, "late", &small);
	ck_assert_ptr_nonnull(l);
	/* g2 drives its end by hand: its own tx ring, and the control messages. */
	struct xshm_ctrl_chan_info ci = open_by_hand(s2, h.g1, "late");
	struct xshm_ctrl_msg rsp;
	uint32_t id = ci.chan_id;
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	struct shm_seg tx = { 0 };
	struct xshm_ring ring;
	ck_assert_int_eq(shm_map_seg(s2, ci.tx_seg, ci.tx_dir_gref, 5, &tx), 0);
	ck_assert_int_eq(xshm_chan_ring_attach(&ring, tx.data, 4, XSHM_RING_PRODUCER, false, 0), 0);
	ck_assert_int_eq(xshm_ring_write(&ring, "ok", 2, &notify), 2);
	struct xshm_ctrl_msg sd = { .hdr = { .type = XSHM_CTRL_CHAN_SHUTDOWN } };
	sd.u.chan_close.chan_id = id;
	ck_assert_int_eq(shm_rpc(s2, &sd, &rsp), 0);
	ck_assert_int_eq(rsp.u.rsp_status.status, 0);
	ck_assert_int_eq(mempipe_read(a, buf, sizeof(buf)), 2);
	ck_assert_int_eq(mempipe_read(a, buf, sizeof(buf)), 0);
	/* The guest ignores its own end of stream. */
	ck_assert_int_eq(xshm_ring_write(&ring, "late", 4, &notify), 4);
	shm_notify(s2);
	const ssize_t empty = 4 * 4096; /* the whole ring free again */
	for (int i = 0; i < 100 && xshm_ring_space(&ring) != empty; i++)
		usleep(10000); /* xenshmd consumes it... */
	ck_assert_int_eq(xshm_ring_space(&ring), empty);
	mempipe_set_nonblock(a, true);
	ssize_t r = mempipe_read(a, buf, sizeof(buf));
	ck_assert_msg(r == 0, "read %zd after end of stream", r); /* ...and drops it */
	/* The other way still works: g1 answers, g2 finds it in its rx. */
	ck_assert_int_eq(mempipe_write(a, "answer", 6), 6);
	xshm_ring_detach(&ring);
	shm_unmap_seg(s2, &tx);
	mempipe_close(a);
	mempipe_close(l);
	shm_exit(s2);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

/* Both ends of p write their pattern and check the other's, `total` bytes each way, by poll(). */
static void duplex_both(struct pair *p, uint32_t seed_a, uint32_t seed_b, size_t total)
{
	pthread_t t1, t2;
	struct duplex d1 = { .p = p->a, .wseed = seed_a, .rseed = seed_b, .total = total };
	struct duplex d2 = { .p = p->b, .wseed = seed_b, .rseed = seed_a, .total = total };

	pthread_create(&t1, NULL, duplex_run, &d1);
	pthread_create(&t2, NULL, duplex_run, &d2);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(d1.result, 0);
	ck_assert_int_eq(d2.result, 0);
	ck_assert_uint_eq(d1.got, d1.total);
	ck_assert_uint_eq(d2.got, d2.total);
}

START_TEST(both_directions_by_poll)
{
	struct pair p;

	pair_open(&p, &small);
	duplex_both(&p, 1, 2, 2u << 20);
	pair_close(&p);
}
END_TEST

/* With the relay polling hot channels, both directions still arrive whole and in order, and
 * the polling found bytes waiting (the relay moved them without waiting for a wake-up). */
START_TEST(both_directions_with_relay_polling)
{
	struct pair p;
	struct xshmd_stats st;

	pair_open_polled(&p, &small, 2000);
	duplex_both(&p, 3, 4, 1u << 20);
	daemon_pause(&p.h);
	xshmd_get_stats(p.h.d, &st);
	daemon_resume(&p.h);
	ck_assert_uint_gt(st.relay_polled, 0);
	pair_close(&p);
}
END_TEST

START_TEST(messages_keep_boundaries)
{
	struct mempipe_opts o = small;
	struct pair p;
	uint8_t buf[2048], big[4096] = { 0 };
	pthread_t th;

	o.message = true;
	o.max_msg = 1500;
	pair_open(&p, &o);
	ck_assert_uint_eq(mempipe_max_msg(p.a), 1500);
	ck_assert_int_eq(mempipe_send(p.b, big, 1501), -EMSGSIZE);
	ck_assert_int_eq(mempipe_write(p.b, big, 10), -EINVAL); /* not a stream */
	/* An empty message is a message. */
	ck_assert_int_eq(mempipe_send(p.b, big, 0), 0);
	ck_assert_int_eq(mempipe_recv(p.a, buf, sizeof(buf)), 0);
	/* Too small a buffer: refused, and the message stays for a bigger one. */
	ck_assert_int_eq(mempipe_send(p.b, "hello world", 11), 0);
	ck_assert_int_eq(mempipe_recv(p.a, buf, 5), -EMSGSIZE);
	ck_assert_int_eq(mempipe_recv(p.a, buf, sizeof(buf)), 11);
	ck_assert_mem_eq(buf, "hello world", 11);

	/* Many messages of every size through a 16 KiB ring: each arrives whole, in order. */
	struct writer w = { .p = p.b, .total = 1u << 20, .seed = 99, .message = true, .close_after = true };
	pthread_create(&th, NULL, write_all, &w);
	uint32_t seed = 99, sizes = 99 ^ 0x5bd1e995u;
	size_t got = 0;
	ssize_t n;
	while ((n = mempipe_recv(p.a, buf, sizeof(buf))) > 0) {
		size_t want = 1 + test_rand(&sizes) % 70000, bad = 0;
		if (want > 1500)
			want = 1 + want % 1500;
		if (want > w.total - got)
			want = w.total - got;
		ck_assert_int_eq(n, (ssize_t)want);
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (uint8_t)test_rand(&seed);
		ck_assert_uint_eq(bad, 0);
		got += (size_t)n;
	}
	ck_assert_int_eq(n, 0);
	ck_assert_uint_eq(got, w.total);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	p.b = NULL;
	pair_close(&p);
}
END_TEST

START_TEST(refusals)
{
	struct host h;
	struct mempipe_opts msg = { .timeout_ms = 2000, .message = true };

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	errno = 0;
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "nobody", &small));
	ck_assert_int_eq(errno, ECONNREFUSED);
	struct mempipe *l = mempipe_listen(s1, "svc", &small);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_null(mempipe_listen(s1, "svc", &small));
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_ptr_null(mempipe_listen(s1, "bad name", &small));
	ck_assert_int_eq(errno, EINVAL);
	/* A stream listener does not take message connections. */
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &msg));
	ck_assert_int_eq(errno, EPROTOTYPE);
	/* The name is per domain: g2's "svc" is not g1's. */
	ck_assert_ptr_null(mempipe_connect(s1, h.g2, "svc", &small));
	ck_assert_int_eq(errno, ECONNREFUSED);
	/* Nobody connected: accept times out. */
	struct mempipe_opts quick = small;
	quick.timeout_ms = 100;
	struct mempipe *l2 = mempipe_listen(s1, "quick", &quick);
	ck_assert_ptr_null(mempipe_accept(l2));
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* A guest cannot close what is not its own. */
	struct mempipe *b = mempipe_connect(s2, h.g1, "svc", &small);
	ck_assert_ptr_nonnull(b);
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_CLOSE } }, rsp;
	for (uint32_t id = 1; id < 8; id++) {
		req.u.chan_close.chan_id = id;
		ck_assert_int_eq(shm_rpc(s1, &req, &rsp), 0);
		/* g1 owns only its listeners (1, 2) and the accepted end, which it may close. */
		if (rsp.u.rsp_status.status == 0)
			ck_assert(id != 3 /* g2's connected end */);
	}
	/* Nor free a channel's ring segment as if it were plain memory. */
	struct xshm_ctrl_msg fr = { .hdr = { .type = XSHM_CTRL_SEG_FREE } };
	int busy = 0;
	for (uint32_t id = 1; id < 8; id++) {
		fr.u.seg_free.seg_id = id;
		ck_assert_int_eq(shm_rpc(s2, &fr, &rsp), 0);
		ck_assert(rsp.u.rsp_status.status != 0);
		busy += rsp.u.rsp_status.status == -EBUSY;
	}
	ck_assert_int_eq(busy, 2); /* g2's tx and rx */
	mempipe_close(b);
	mempipe_close(l);
	mempipe_close(l2);
	shm_exit(s1);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

/* Both guests connected to xenshm, g1 listening on "svc". */
static struct mempipe *svc_listener(struct host *h, struct shm **s1, struct shm **s2)
{
	host_init(h, true);
	*s1 = shm_open_xo(h->x1, 0, &fast);
	*s2 = shm_open_xo(h->x2, 0, &fast);
	ck_assert_ptr_nonnull(*s1);
	ck_assert_ptr_nonnull(*s2);
	struct mempipe *l = mempipe_listen(*s1, "svc", &small);
	ck_assert_ptr_nonnull(l);
	return l;
}

/* A guest refused in a loop does not fill dom0's log: ten lines a minute per device, then the next
 * line says how many were left out. */
START_TEST(refusals_logged_at_a_bounded_rate)
{
	struct host h;
	char p1[XSP_MAX], other[32];

	struct shm *s1, *s2;
	struct mempipe *l = svc_listener(&h, &s1, &s2);
	xsp_be_mempipe_peers(p1, sizeof(p1), h.g1, 0);
	snprintf(other, sizeof(other), "%u:0", h.g2 + 100);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p1, other), 0);
	unsigned int before = host_log_count("refused a MemPipe channel");
	for (unsigned int i = 0; i < 3 * XSHM_LOGRATE_BURST; i++) {
		ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &small));
		ck_assert_int_eq(errno, EACCES);
	}
	ck_assert_uint_eq(host_log_count("refused a MemPipe channel") - before, XSHM_LOGRATE_BURST);
	host_advance(&h, XSHM_LOGRATE_WINDOW_MS);
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &small));
	ck_assert_uint_eq(host_log_count("refused a MemPipe channel") - before, XSHM_LOGRATE_BURST + 1);
	char want[64];
	snprintf(want, sizeof(want), "(%u more like it not logged)", 2 * XSHM_LOGRATE_BURST);
	ck_assert_msg(host_log_count(want) == 1, "no line says how many refusals were not logged");
	mempipe_close(l);
	shm_exit(s1);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

/* The administrator's mempipe-peers lists: both guests must consent; a cap shrinks rings. */
START_TEST(admin_peer_lists_refuse_and_cap)
{
	struct host h;
	char p1[XSP_MAX], p2[XSP_MAX];
	struct mempipe_opts big = { .timeout_ms = 5000, .ring_bytes = 256 << 10 };
	struct mempipe_stats st;
	char buf[8];

	struct shm *s1, *s2;
	struct mempipe *l = svc_listener(&h, &s1, &s2);
	xsp_be_mempipe_peers(p1, sizeof(p1), h.g1, 0);
	xsp_be_mempipe_peers(p2, sizeof(p2), h.g2, 0);
	/* A guest cannot write its own list. */
	ck_assert_int_eq(xo_write_str(h.x2, XO_TXN_NONE, p2, "*:0"), -EACCES);

	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p2, "db:0"), 0);
	errno = 0;
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &big));
	ck_assert_int_eq(errno, EACCES);

	/* Listed by name with a 64 KiB cap: the 256 KiB rings asked for are made at the cap. */
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p2, "db:0 g1:64"), 0);
	struct mempipe *b = mempipe_connect(s2, h.g1, "svc", &big);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(mempipe_stats(b, &st), 0);
	ck_assert_uint_eq(st.tx_ring_bytes, 64 << 10);
	ck_assert_uint_eq(st.rx_ring_bytes, 64 << 10);
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(mempipe_write(b, "capped", 6), 6);
	ck_assert_int_eq(mempipe_read(a, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "capped", 6), 0);
	mempipe_close(a);
	mempipe_close(b);

	/* The listener's side must consent too (here by domid, and not to g2). */
	char other[32];
	snprintf(other, sizeof(other), "%u:0", h.g2 + 100);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p1, other), 0);
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &small));
	ck_assert_int_eq(errno, EACCES);
	/* A malformed list permits nothing, not even what it names right. */
	snprintf(other, sizeof(other), "%u:0 g2:6", h.g2);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p1, other), 0);
	ck_assert_ptr_null(mempipe_connect(s2, h.g1, "svc", &small));
	ck_assert_int_eq(errno, EACCES);
	/* Both lists gone: any co-located peer again, at the size asked for. */
	ck_assert_int_eq(h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, p1), 0);
	ck_assert_int_eq(h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, p2), 0);
	b = mempipe_connect(s2, h.g1, "svc", &big);
	ck_assert_msg(b != NULL, "%s", strerror(errno));
	ck_assert_int_eq(mempipe_stats(b, &st), 0);
	ck_assert_uint_eq(st.tx_ring_bytes, 256 << 10);
	mempipe_close(b);
	mempipe_close(l);
	shm_exit(s1);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

/*
 * A guest cannot read its neighbours' names; xenshmd looks them up, for guests connected to
 * xenshm only and only where the mempipe-peers lists would allow a channel (else ENOENT, as
 * for a name nobody has).
 */
START_TEST(peers_are_found_by_name)
{
	struct host h;
	char p1[XSP_MAX], p2[XSP_MAX], num[16], buf[8];
	unsigned int domid = 0;

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), 0);
	ck_assert_uint_eq(domid, h.g1);
	ck_assert_int_eq(shm_peer_domid(s1, "g2", &domid), 0);
	ck_assert_uint_eq(domid, h.g2);
	ck_assert_int_eq(shm_peer_domid(s2, "g3", &domid), -ENOENT);
	/* dom0 has a name too, but no xenshm device: not a peer. */
	ck_assert_int_eq(shm_peer_domid(s2, "Domain-0", &domid), -ENOENT);
	/* Refused before it is sent: xenshmd would cut the guest off for the bad name. */
	ck_assert_int_eq(shm_peer_domid(s2, "g1; rm", &domid), -EINVAL);
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), 0);

	struct mempipe *l = mempipe_listen(s1, "svc", &small);
	ck_assert_ptr_nonnull(l);
	struct mempipe *b = mempipe_connect_peer(s2, "g1", "svc", &small);
	ck_assert_msg(b != NULL, "%s", strerror(errno));
	ck_assert_uint_eq(mempipe_peer(b), h.g1);
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(mempipe_write(b, "named", 5), 5);
	ck_assert_int_eq(mempipe_read(a, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "named", 5), 0);
	mempipe_close(a);
	mempipe_close(b);
	/* A domid in decimal still works, and a peer that is no guest of ours is no channel. */
	snprintf(num, sizeof(num), "%u", h.g1);
	b = mempipe_connect_peer(s2, num, "svc", &small);
	ck_assert_msg(b != NULL, "%s", strerror(errno));
	mempipe_close(mempipe_accept(l));
	mempipe_close(b);
	errno = 0;
	ck_assert_ptr_null(mempipe_connect_peer(s2, "g3", "svc", &small));
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(mempipe_connect_peer(s2, "0", "svc", &small));
	ck_assert_int_eq(errno, EINVAL);

	/* Either list that keeps the two apart hides the name. */
	xsp_be_mempipe_peers(p1, sizeof(p1), h.g1, 0);
	xsp_be_mempipe_peers(p2, sizeof(p2), h.g2, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p2, "db:0"), 0);
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), -ENOENT);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p2, "g1:0"), 0);
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, p1, "db:0"), 0);
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), -ENOENT);
	ck_assert_int_eq(h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, p1), 0);
	ck_assert_int_eq(h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, p2), 0);

	/* g1 lets go of xenshm: its name is no peer any more. */
	mempipe_close(l);
	shm_exit(s1);
	ck_assert(wait_be_state(&h, h.g1, "6"));
	ck_assert_int_eq(shm_peer_domid(s2, "g1", &domid), -ENOENT);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

START_TEST(timeouts_and_nonblocking)
{
	struct mempipe_opts o = small;
	struct pair p;
	uint8_t buf[64];

	o.timeout_ms = 100;
	pair_open(&p, &o);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -ETIMEDOUT);
	mempipe_set_nonblock(p.a, true);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -EAGAIN);
	/* Nobody reads: a non-blocking writer gets short counts (the relay may move a ring's worth
	 * into the reader's rx between two of them), then EAGAIN, never more than both rings hold. */
	mempipe_set_nonblock(p.b, true);
	uint8_t *big = calloc(1, 1 << 20);
	ssize_t n = mempipe_write(p.b, big, 1 << 20);
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 1 << 20);
	size_t total = (size_t)n;
	for (int i = 0; i < 100 && (n = mempipe_write(p.b, big, 1 << 20)) > 0; i++)
		total += (size_t)n;
	ck_assert_int_eq(n, -EAGAIN);
	ck_assert_uint_le(total, 2 * small.ring_bytes);
	free(big);
	pair_close(&p);
}
END_TEST

/* Poll (up to 3 s) until the bytes waiting in the pipe, the writer's tx and the reader's rx, are `want`. */
static size_t wait_pipe_fill(struct pair *p, size_t want, struct mempipe_stats *tx, struct mempipe_stats *rx)
{
	for (int i = 0; i < 300; i++) {
		ck_assert_int_eq(mempipe_stats(p->b, tx), 0);
		ck_assert_int_eq(mempipe_stats(p->a, rx), 0);
		if (tx->tx_fill_bytes + rx->rx_fill_bytes == want)
			break;
		usleep(10000);
	}
	return tx->tx_fill_bytes + rx->rx_fill_bytes;
}

/*
 * A pipe's memory is both rings of a direction: the stats show what waits in
 * the writer's tx as well as in the reader's rx, so that what is in use can
 * be set against all that is granted, not half of it.
 */
START_TEST(stats_show_bytes_waiting_in_both_rings)
{
	struct mempipe_stats tx, rx;
	struct pair p;
	uint8_t *big = calloc(1, 1 << 20);

	pair_open(&p, &small);
	mempipe_set_nonblock(p.b, true);
	size_t total = 0;
	for (int i = 0; i < 50; i++) { /* until both rings are full: the relay fills the rx meanwhile */
		ssize_t n = mempipe_write(p.b, big, 1 << 20);
		if (n > 0)
			total += (size_t)n;
		else
			usleep(10000);
	}
	ck_assert_uint_eq(wait_pipe_fill(&p, total, &tx, &rx), total);
	ck_assert_uint_gt(tx.tx_fill_bytes, small.ring_bytes / 2); /* the rx is full: the rest waits in tx */
	ck_assert_uint_gt(rx.rx_fill_bytes, small.ring_bytes / 2);
	ck_assert_uint_le(tx.tx_fill_bytes, tx.tx_ring_bytes);
	/* What the reader takes leaves the pipe; the relay refills the rx from the tx. */
	ck_assert_int_eq(mempipe_read(p.a, big, 5000), 5000);
	ck_assert_uint_eq(wait_pipe_fill(&p, total - 5000, &tx, &rx), total - 5000);
	free(big);
	pair_close(&p);
}
END_TEST

/*
 * The fast path makes no calls into Xen: small writes into a roomy ring are
 * ring copies, with one kick for a relay that sleeps, not one per write
 * (each kick is a hypercall, ~50 us in the lab).
 */
START_TEST(small_writes_do_not_kick_each_time)
{
	struct mempipe_opts o = small;
	struct mempipe_stats st;
	struct pair p;
	uint8_t msg[64];
	uint32_t seed = 777;

	o.ring_bytes = 256 << 10;
	pair_open(&p, &o);
	for (int i = 0; i < 1000; i++) {
		for (size_t k = 0; k < sizeof(msg); k++)
			msg[k] = (uint8_t)test_rand(&seed);
		ck_assert_int_eq(mempipe_write(p.b, msg, sizeof(msg)), (ssize_t)sizeof(msg));
	}
	ck_assert_int_eq(mempipe_stats(p.b, &st), 0);
	ck_assert_uint_eq(st.bytes_written, 64000);
	ck_assert_uint_eq(st.waits, 0);
	ck_assert_msg(st.notifies <= 10, "%llu kicks for 1000 writes", (unsigned long long)st.notifies);
	mempipe_close(p.b);
	p.b = NULL;
	ck_assert_int_eq(read_check(p.a, 777, 64000), 64000);
	pair_close(&p);
}
END_TEST

/*
 * A writer that finds its ring full kicks once for the bytes it wrote, not
 * at every try: a kick with no new byte finds no work, and enough of them
 * count as a storm (dom0/storm.h), which held a fast honest stream's port.
 */
START_TEST(a_full_ring_is_announced_once)
{
	struct mempipe_opts o = small;
	struct mempipe_stats st;
	struct pair p;
	static uint8_t big[64 << 10];

	o.nonblock = true;
	pair_open(&p, &o);
	/* Full for good: g2's tx and g1's rx (nobody reads), the relay done with both. */
	for (int settled = 0; settled < 3;) {
		settled = mempipe_write(p.b, big, sizeof(big)) > 0 ? 0 : settled + 1;
		usleep(10000);
	}
	ck_assert_int_eq(mempipe_stats(p.b, &st), 0);
	uint64_t full_at = st.notifies, written = st.bytes_written;
	ck_assert_uint_gt(written, 0);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(mempipe_write(p.b, big, sizeof(big)), -EAGAIN);
	ck_assert_int_eq(mempipe_stats(p.b, &st), 0);
	ck_assert_uint_eq(st.bytes_written, written);
	ck_assert_uint_eq(st.notifies, full_at);
	pair_close(&p);
}
END_TEST

/*
 * A writer about to sleep for its answer pushes what it wrote: the relay
 * polls a busy ring instead of asking for kicks, and a round trip would
 * otherwise wait for its next poll on every hop.  One kick per sleep, only
 * for bytes written since the last kick.
 */
START_TEST(a_request_is_pushed_before_waiting_for_its_answer)
{
	struct mempipe_opts o = small;
	struct mempipe_stats st;
	struct pair p;
	uint8_t buf[64] = { 1 };

	pair_open(&p, &o);
	daemon_pause(&p.h);
	mempipe_set_nonblock(p.b, true);
	/* A quiet relay asked to be kicked: the first write does; then it is not listening. */
	ck_assert_int_eq(mempipe_write(p.b, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	ck_assert_int_eq(mempipe_write(p.b, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	ck_assert_int_eq(mempipe_stats(p.b, &st), 0);
	ck_assert_uint_eq(st.notifies, 1);
	/* Waiting for the answer: the second write is pushed, once. */
	ck_assert_int_eq(mempipe_read(p.b, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(mempipe_read(p.b, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(mempipe_stats(p.b, &st), 0);
	ck_assert_uint_eq(st.notifies, 2);
	daemon_resume(&p.h);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	ck_assert_uint_eq(buf[0], 1);
	pair_close(&p);
}
END_TEST

/* Poll (up to 3 s) until xenshmd has told s to let go. */
static bool wait_release_asked(struct shm *s)
{
	for (int i = 0; i < 300; i++) {
		if (shm_release_asked(s))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * xenshm save asks a guest to let go before xl save (a mapping kept across
 * the suspend corrupts it): the guest hears it on every MemPipe call and as
 * an event, reads what reached it, lets go, cannot come back while the save
 * is pending, and comes back once it is withdrawn.
 */
START_TEST(release_for_a_save_and_back)
{
	struct pair p;
	struct shm_event ev;
	char path[XSP_MAX];
	uint8_t buf[64];

	pair_open(&p, &small);
	ck_assert_int_eq(mempipe_write(p.b, "before", 6), 6);
	struct mempipe_stats st = { 0 };
	for (int i = 0; i < 300 && st.rx_fill_bytes < 6; i++) {
		usleep(10000);
		mempipe_stats(p.a, &st);
	}
	ck_assert_uint_eq(st.rx_fill_bytes, 6); /* relayed into g1's ring */
	ck_assert_int_eq(xsp_be_release(path, sizeof(path), p.h.g1, 0), 0);
	ck_assert_int_eq(xo_write_str(p.h.tool, XO_TXN_NONE, path, "5000"), 0);
	ck_assert(wait_release_asked(p.s1));
	ck_assert_int_eq(shm_next_event(p.s1, &ev), 1);
	ck_assert_int_eq(ev.type, SHM_EV_RELEASE);
	ck_assert_uint_eq(ev.deadline_ms, 5000);
	ck_assert_int_eq(shm_next_event(p.s1, &ev), 0); /* said once */
	/* A sender going on does not keep the releasing guest's ring full. */
	ck_assert_int_eq(mempipe_write(p.b, "more", 4), 4);
	usleep(50000);
	/* What reached the ring is still read; then the calls say why they stop. */
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), 6);
	ck_assert_int_eq(memcmp(buf, "before", 6), 0);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -ESHUTDOWN);
	ck_assert_int_eq(mempipe_write(p.a, "x", 1), -ESHUTDOWN);
	ck_assert_ptr_null(mempipe_connect(p.s1, p.h.g2, "other", &small));
	ck_assert_int_eq(errno, ESHUTDOWN);
	/* The other guest is not asked anything. */
	ck_assert_uint_eq(shm_release_asked(p.s2), 0);
	mempipe_close(p.a);
	mempipe_close(p.l);
	p.a = p.l = NULL;
	shm_exit(p.s1);
	p.s1 = NULL;
	ck_assert(wait_be_state(&p.h, p.h.g1, "6"));
	ck_assert_int_eq(mempipe_write(p.b, "x", 1), -EPIPE); /* its peer closed */
	/* No new session while the save is pending. */
	ck_assert_ptr_null(shm_open_xo(p.h.x1, 0, &fast));
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert(wait_be_state(&p.h, p.h.g1, "6"));
	/* Withdrawn (the save failed, or the domain moved): the guest connects again. */
	ck_assert_int_eq(p.h.tool->ops->xs_rm(p.h.tool, XO_TXN_NONE, path), 0);
	struct shm *again = NULL;
	for (int i = 0; i < 300 && !(again = shm_open_xo(p.h.x1, 0, &fast)); i++)
		usleep(10000);
	ck_assert_ptr_nonnull(again);
	ck_assert_uint_eq(shm_release_asked(again), 0);
	p.l = mempipe_listen(again, "pipe.again", &small);
	ck_assert_ptr_nonnull(p.l);
	mempipe_close(p.b);
	p.b = mempipe_connect(p.s2, p.h.g1, "pipe.again", &small);
	ck_assert_ptr_nonnull(p.b);
	p.a = mempipe_accept(p.l);
	ck_assert_ptr_nonnull(p.a);
	ck_assert_int_eq(mempipe_write(p.b, "after", 5), 5);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), 5);
	p.s1 = again;
	pair_close(&p);
}
END_TEST

/* A save that gave up withdraws its request; the next one is reported again. */
START_TEST(a_withdrawn_release_is_news_the_next_time)
{
	struct pair p;
	struct shm_event ev;
	char path[XSP_MAX];

	pair_open(&p, &small);
	ck_assert_int_eq(xsp_be_release(path, sizeof(path), p.h.g1, 0), 0);
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(xo_write_str(p.h.tool, XO_TXN_NONE, path, "3000"), 0);
		ck_assert(wait_release_asked(p.s1));
		ck_assert_int_eq(shm_next_event(p.s1, &ev), 1);
		ck_assert_int_eq(ev.type, SHM_EV_RELEASE);
		ck_assert_int_eq(p.h.tool->ops->xs_rm(p.h.tool, XO_TXN_NONE, path), 0);
		for (int i = 0; i < 300 && shm_release_asked(p.s1); i++)
			usleep(10000);
		ck_assert_uint_eq(shm_release_asked(p.s1), 0);
		ck_assert_int_eq(shm_next_event(p.s1, &ev), 0);
		/* The guest held on and goes on as before. */
		ck_assert_int_eq(mempipe_write(p.b, "x", 1), 1);
		uint8_t c;
		ck_assert_int_eq(mempipe_read(p.a, &c, 1), 1);
	}
	pair_close(&p);
}
END_TEST

/* A guest not connected when the save asks is closed at once: nothing can get mapped. */
START_TEST(release_closes_an_idle_device_at_once)
{
	struct host h;
	char path[XSP_MAX];

	host_init(&h, true);
	ck_assert_int_eq(xsp_be_release(path, sizeof(path), h.g2, 0), 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "100"), 0);
	ck_assert(wait_be_state(&h, h.g2, "6"));
	ck_assert_ptr_null(shm_open_xo(h.x2, 0, &fast));
	ck_assert_int_eq(errno, EAGAIN);
	/* A xenshmd restarted meanwhile finds the request and keeps the device closed; withdrawn,
	 * the guest connects. */
	daemon_stop(&h);
	daemon_start(&h);
	ck_assert_ptr_null(shm_open_xo(h.x2, 0, &fast));
	ck_assert_int_eq(errno, EAGAIN);
	/* A guest that skips the library's check and asks for a session anyway is not served. */
	char fe[XSP_MAX];
	xsp_fe_state(fe, sizeof(fe), h.g2, 0);
	ck_assert_int_eq(xo_write_str(h.x2, XO_TXN_NONE, fe, "1"), 0);
	usleep(200000);
	char *be = read_be(&h, h.g2, xsp_be_state);
	ck_assert_str_eq(be, "6");
	free(be);
	ck_assert_int_eq(h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, path), 0);
	struct shm *s = NULL;
	for (int i = 0; i < 300 && !(s = shm_open_xo(h.x2, 0, &fast)); i++)
		usleep(10000);
	ck_assert_ptr_nonnull(s);
	shm_exit(s);
	/* A value out of range is refused, and asks nothing. */
	ck_assert_int_eq(xsp_be_release(path, sizeof(path), h.g1, 0), 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "99"), 0);
	usleep(100000);
	ck_assert(host_logged("refused release '99'"));
	host_fini(&h);
}
END_TEST

START_TEST(peer_death_is_a_reset)
{
	struct pair p;

	pair_open(&p, &small);
	unsigned int grants_before = dom0_grants(&p.h);
	ck_assert_int_eq(mempipe_write(p.b, "last words", 10), 10);
	/* Let the relay move them before the death. */
	uint8_t buf[16];
	ck_assert_int_eq(mempipe_read(p.a, buf, 4), 4);
	ck_assert_int_eq(xo_fake_domain_destroy(p.h.w, p.h.g2), 0);
	/* What was relayed is still read; then the reset. */
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), 6);
	ck_assert_mem_eq(buf, " words", 6);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -ECONNRESET);
	ck_assert_int_eq(mempipe_write(p.a, "x", 1), -ECONNRESET);
	/* The dead guest's control page and rings are all given back. */
	ck_assert_uint_lt(dom0_grants(&p.h), grants_before);
	mempipe_close(p.a);
	p.a = NULL;
	/* g1's end and listener are gone too once closed: only g1's control page stays. */
	ck_assert(wait_grants(&p.h, 1));
	pair_close(&p);
}
END_TEST

/* g2 opens a channel by hand and lies about one of its own indices: its tx producer far past what
 * its ring holds, or its rx consumer moved back (a kick that looks like news, see
 * xshm_chan_progress): either way it is cut off with a reason, and xenshmd keeps serving. */
static void lie_about_an_index(bool rx_cons)
{
	struct host h;

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	struct mempipe *l = mempipe_listen(s1, "victim", &small);
	ck_assert_ptr_nonnull(l);
	struct xshm_ctrl_chan_info ci = open_by_hand(s2, h.g1, "victim");
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	struct shm_seg seg = { 0 };
	if (rx_cons) {
		ck_assert_int_eq(shm_map_seg(s2, ci.rx_seg, ci.rx_dir_gref, ci.rx_pages + 1, &seg), 0);
		((struct xshm_chan_page *)seg.data)->ring.cons = (uint64_t)-8;
	} else {
		ck_assert_int_eq(shm_map_seg(s2, ci.tx_seg, ci.tx_dir_gref, 5, &seg), 0);
		((struct xshm_chan_page *)seg.data)->ring.prod = 1u << 30;
	}
	shm_notify(s2);
	ck_assert(wait_be_state(&h, h.g2, "6"));
	char *err = read_be(&h, h.g2, xsp_be_error);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "channel ring corrupt"));
	free(err);
	uint8_t buf[8];
	ck_assert_int_eq(mempipe_read(a, buf, sizeof(buf)), -ECONNRESET);
	struct shm_stats st;
	ck_assert_int_eq(shm_stats(s1, &st), 0);
	shm_unmap_seg(s2, &seg);
	mempipe_close(a);
	mempipe_close(l);
	shm_exit(s2);
	shm_exit(s1);
	host_fini(&h);
}

START_TEST(lying_ring_index_disconnects_the_liar)
{
	lie_about_an_index(false);
	lie_about_an_index(true);
}
END_TEST

struct clock_runner {
	struct host *h;
	int stop;
};

/* The daemon's clock runs 25x faster than real time, so sizing windows pass quickly. */
static void *run_clock(void *arg)
{
	struct clock_runner *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
		host_advance(c->h, 50);
		usleep(2000);
	}
	return NULL;
}

START_TEST(sized_rings_follow_the_load_without_losing_a_byte)
{
	struct mempipe_opts sized = { .timeout_ms = 10000 }; /* no ring size: xenshmd sizes it */
	struct pair p;
	struct mempipe_stats st;
	pthread_t th, ck;

	pair_open(&p, &sized);
	ck_assert_int_eq(mempipe_stats(p.a, &st), 0);
	ck_assert_uint_eq(st.rx_ring_bytes, XSHM_CHAN_RX_PAGES_MIN * 4096);
	ck_assert_uint_eq(st.tx_ring_bytes, XSHM_CHAN_RX_PAGES_MIN * 4096);
	struct clock_runner clock = { .h = &p.h };
	pthread_create(&ck, NULL, run_clock, &clock);
	/* 24 MiB through rings that are replaced while the bytes flow: every byte, in order. */
	struct writer w = { .p = p.b, .total = 12u << 20, .seed = 777 };
	pthread_create(&th, NULL, write_all, &w);
	uint8_t *buf = malloc(1 << 20);
	uint32_t seed = 777;
	size_t got = 0, peak_rx = 0, bad = 0;
	while (got < w.total) {
		ssize_t n = mempipe_read(p.a, buf, got < (4u << 20) ? 4096 : (1u << 20));
		ck_assert_int_gt(n, 0);
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != (uint8_t)test_rand(&seed);
		got += (size_t)n;
		if (got < (4u << 20))
			usleep(200); /* a slow reader first: the rx ring fills, so it grows */
		mempipe_stats(p.a, &st);
		peak_rx = st.rx_ring_bytes > peak_rx ? st.rx_ring_bytes : peak_rx;
	}
	free(buf);
	pthread_join(th, NULL);
	ck_assert_int_eq(w.result, 0);
	ck_assert_uint_eq(bad, 0);
	ck_assert_int_eq(mempipe_stats(p.a, &st), 0);
	ck_assert_uint_ge(st.rx_resizes, 1);
	ck_assert_uint_gt(peak_rx, XSHM_CHAN_RX_PAGES_MIN * 4096);
	/* The writer's tx ring followed the reader's rx: offered and taken while writing. */
	struct mempipe_stats wst;
	ck_assert_int_eq(mempipe_stats(p.b, &wst), 0);
	ck_assert_uint_ge(wst.tx_resizes, 1);
	/* Idle now: the ring shrinks back to its minimum (the reader follows on its next read). */
	mempipe_set_nonblock(p.a, true);
	uint8_t one;
	for (int i = 0; i < 300 && st.rx_ring_bytes > XSHM_CHAN_RX_PAGES_MIN * 4096; i++) {
		ck_assert_int_eq(mempipe_read(p.a, &one, 1), -EAGAIN);
		mempipe_stats(p.a, &st);
		usleep(10000);
	}
	ck_assert_uint_eq(st.rx_ring_bytes, XSHM_CHAN_RX_PAGES_MIN * 4096);
	__atomic_store_n(&clock.stop, 1, __ATOMIC_RELEASE);
	pthread_join(ck, NULL);
	pair_close(&p);
}
END_TEST

/*
 * g1's event channel as libxenshm takes it, with a hook: while armed, the
 * first take waits for xenshmd's next kick (moving the clock, so that an
 * idle sized ring shrinks) and returns it, as if the kick had landed just
 * before the take.  The interleaving a reader hits when xenshmd replaces
 * its ring between its last look at the ring and its sleep.
 */
static struct late_kick {
	struct xo_ops ops;  /* g1's own, evtchn_pending replaced */
	const struct xo_ops *orig;
	struct host *h;
	bool armed, fired;
} late_kick;

static int pending_after_a_late_kick(struct xo *x, xo_port_t *port)
{
	struct late_kick *k = &late_kick;

	if (!k->armed)
		return k->orig->evtchn_pending(x, port);
	k->armed = false;
	for (int i = 0; i < 200; i++) {
		host_advance(k->h, XSHM_RX_WINDOW_MS);
		usleep(5000);
		if (k->orig->evtchn_pending(x, port) == 0) {
			k->fired = true;
			return 0;
		}
	}
	return -EAGAIN;
}

/* Drain g1 (non-blocking) until g2's tx and g1's rx are both empty: every byte written read. */
static void drain_all(struct pair *p, uint8_t *buf, size_t len)
{
	struct mempipe_stats rd, wr;

	for (int i = 0; i < 500; i++) {
		mempipe_read(p->a, buf, len);
		mempipe_stats(p->a, &rd);
		mempipe_stats(p->b, &wr);
		if (rd.bytes_read == wr.bytes_written)
			return;
		usleep(2000);
	}
	ck_abort_msg("g1 read %lu of the %lu bytes g2 wrote", (unsigned long)rd.bytes_read,
		     (unsigned long)wr.bytes_written);
}

/*
 * xenshmd shrinks an idle reader's rx ring and kicks it just as the reader
 * is about to sleep on the old ring, and the reader's own service of its
 * event channel takes that kick: the reader must still move to the new
 * ring, or it sleeps on a ring that gets no more data and no more kicks
 * (seen as a 30 s stall, then ETIMEDOUT, in the path benchmark).
 */
START_TEST(ring_replaced_just_before_a_wait_is_followed)
{
	struct mempipe_opts sized = { .timeout_ms = 5000, .nonblock = true };
	struct mempipe_stats st, wst;
	static uint8_t buf[64 << 10];
	struct pair p;

	pair_open(&p, &sized);
	/* Grow: g1 reads slowly, g2 keeps its tx full, windows pass until g2 is offered more. */
	for (int i = 0; i < 300; i++) {
		while (mempipe_write(p.b, buf, sizeof(buf)) > 0)
			;
		mempipe_read(p.a, buf, 4096);
		host_advance(&p.h, XSHM_RX_WINDOW_MS);
		usleep(5000);
		mempipe_stats(p.b, &wst);
		if (wst.tx_resizes)
			break;
	}
	ck_assert_uint_ge(wst.tx_resizes, 1);
	/* The growth is judged on the windows after it, which also hold the drain (fast, and
	 * with a full ring: it may grow again): let them pass, then follow what they decided. */
	drain_all(&p, buf, sizeof(buf));
	for (int i = 0; i < 2; i++) {
		daemon_sync(&p.h);
		host_advance(&p.h, XSHM_RX_WINDOW_MS);
	}
	daemon_sync(&p.h);

	/* Idle now: xenshmd will shrink g1's rx; its kick is taken inside the next read's wait.
	 * Kicks left over from the drain (the relay's last pass may kick after the reader took
	 * the bytes) and a growth's switch are taken first by these reads; the clock stands, so
	 * no resize comes yet. */
	for (int i = 0; i < 3; i++) {
		usleep(10000);
		ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -EAGAIN);
	}
	mempipe_stats(p.a, &st);
	ck_assert_uint_gt(st.rx_ring_bytes, XSHM_CHAN_RX_PAGES_MIN * 4096);
	uint32_t resizes = st.rx_resizes;
	size_t grown = st.rx_ring_bytes;
	late_kick = (struct late_kick){ .ops = *p.h.x1->ops, .orig = p.h.x1->ops, .h = &p.h, .armed = true };
	late_kick.ops.evtchn_pending = pending_after_a_late_kick;
	p.h.x1->ops = &late_kick.ops;
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), -EAGAIN);
	ck_assert(late_kick.fired);
	mempipe_stats(p.a, &st);
	ck_assert_uint_eq(st.rx_resizes, resizes + 1);
	ck_assert_uint_eq(st.rx_ring_bytes, grown / 2); /* halved: the idle ring's step down */

	/* The next bytes come on the new ring, and their kick wakes the reader's poll. */
	ck_assert_int_eq(mempipe_write(p.b, "after", 5), 5);
	struct pollfd pfd = { .fd = mempipe_fd(p.a), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), 5);
	ck_assert_int_eq(memcmp(buf, "after", 5), 0);
	p.h.x1->ops = late_kick.orig;
	pair_close(&p);
}
END_TEST

/* g1's event channel, counting how libxenshm takes its events. */
static struct take_count {
	struct xo_ops ops;
	const struct xo_ops *orig;
	unsigned int guarded, polled;
} take_count;

static int count_guarded_take(struct xo *x, xo_port_t *port)
{
	take_count.guarded++;
	return take_count.orig->evtchn_pending(x, port);
}

static int count_polled_take(struct xo *x, xo_port_t *port)
{
	take_count.polled++;
	return take_count.orig->evtchn_pending_polled(x, port);
}

struct late_write {
	struct mempipe *p;
	ssize_t rc;
};

static void *write_after_a_while(void *arg)
{
	struct late_write *w = arg;

	usleep(100000);
	w->rc = mempipe_write(w->p, "woken", 5);
	return NULL;
}

/*
 * A reader that sleeps polls once: it takes the event its poll saw without
 * a guard poll (which cannot find anything the blocking one did not), and
 * takes none before sleeping (the sleep's poll sees a pending one).  Each
 * was a system call per wake-up of a round trip, ~45 us in the lab.
 */
START_TEST(a_wake_up_seen_by_poll_costs_no_second_poll)
{
	struct late_write w = { .rc = -1 };
	struct pair p;
	pthread_t th;
	uint8_t buf[16];

	pair_open(&p, &small);
	take_count = (struct take_count){ .ops = *p.h.x1->ops, .orig = p.h.x1->ops };
	take_count.ops.evtchn_pending = count_guarded_take;
	take_count.ops.evtchn_pending_polled = count_polled_take;
	p.h.x1->ops = &take_count.ops;
	w.p = p.b;
	/* The reader must be asleep when the bytes come: on a slow host (valgrind) the writer's
	 * 100 ms may pass first, and a read that finds its bytes takes no event at all. */
	struct mempipe_stats st;
	uint64_t slept = 0;
	for (int attempt = 0; attempt < 5 && !slept; attempt++) {
		mempipe_stats(p.a, &st);
		uint64_t before = st.waits;
		pthread_create(&th, NULL, write_after_a_while, &w);
		ck_assert_int_eq(mempipe_read(p.a, buf, sizeof(buf)), 5);
		pthread_join(th, NULL);
		ck_assert_int_eq(w.rc, 5);
		ck_assert_int_eq(memcmp(buf, "woken", 5), 0);
		mempipe_stats(p.a, &st);
		slept = st.waits - before;
	}
	ck_assert_uint_ge(slept, 1);
	ck_assert_uint_ge(take_count.polled, 1);
	ck_assert_uint_eq(take_count.guarded, 0); /* nor one before it slept */
	p.h.x1->ops = take_count.orig;
	pair_close(&p);
}
END_TEST

/* A sender offered a new tx ring that "switches" to some other segment is cut off. */
START_TEST(tx_switch_to_a_foreign_segment_disconnects)
{
	struct host h;
	struct mempipe_opts sized = { .timeout_ms = 3000 };

	host_init(&h, true);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	struct mempipe *l = mempipe_listen(s1, "victim", &sized);
	ck_assert_ptr_nonnull(l);
	/* g2 connects by hand (sized rings) and fills its tx while g1 does not read. */
	struct xshm_ctrl_msg req = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN } }, rsp;
	strcpy(req.u.chan_open.name, "victim");
	req.u.chan_open.peer_domid = h.g1;
	ck_assert_int_eq(shm_rpc(s2, &req, &rsp), 0);
	ck_assert_int_eq(rsp.u.rsp_chan_open.status, 0);
	const struct xshm_ctrl_chan_info *ci = &rsp.u.rsp_chan_open.chan;
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	struct shm_seg tx = { 0 };
	struct xshm_ring ring;
	ck_assert_int_eq(shm_map_seg(s2, ci->tx_seg, ci->tx_dir_gref, ci->tx_pages + 1, &tx), 0);
	ck_assert_int_eq(xshm_chan_ring_attach(&ring, tx.data, ci->tx_pages, XSHM_RING_PRODUCER, false, 0), 0);
	struct xshm_chan_page *hdr = (struct xshm_chan_page *)tx.data;
	uint8_t junk[4096] = { 0 };
	bool n;
	/* Fill both rings, let sizing windows pass, until xenshmd offers g2 a larger tx. */
	for (int i = 0; i < 300 && !__atomic_load_n(&hdr->offer_seg, __ATOMIC_ACQUIRE); i++) {
		while (xshm_ring_write(&ring, junk, sizeof(junk), &n) > 0)
			;
		shm_notify(s2);
		host_advance(&h, XSHM_RX_WINDOW_MS);
		usleep(10000);
	}
	ck_assert_uint_ne(__atomic_load_n(&hdr->offer_seg, __ATOMIC_ACQUIRE), 0);
	/* g2 claims to have moved to a segment it was never offered. */
	hdr->switch_at = ring.mine;
	__atomic_store_n(&hdr->switch_seg, hdr->offer_seg + 100, __ATOMIC_RELEASE);
	shm_notify(s2);
	/* g1 drains what was sent; once the old ring is empty the relay checks the switch. */
	mempipe_set_nonblock(a, true);
	uint8_t buf[65536];
	for (int i = 0; i < 300 && !wait_be_state(&h, h.g2, "6"); i++)
		mempipe_read(a, buf, sizeof(buf));
	ck_assert(wait_be_state(&h, h.g2, "6"));
	char *err = read_be(&h, h.g2, xsp_be_error);
	ck_assert_ptr_nonnull(err);
	ck_assert_ptr_nonnull(strstr(err, "channel ring corrupt"));
	free(err);
	xshm_ring_detach(&ring);
	shm_unmap_seg(s2, &tx);
	mempipe_close(a);
	mempipe_close(l);
	shm_exit(s2);
	shm_exit(s1);
	host_fini(&h);
}
END_TEST

Suite *mempipe_suite(void)
{
	Suite *s = suite_create("mempipe");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, stream_checksummed_then_eof);
	tcase_add_test(tc, short_write_then_close_before_accept);
	tcase_add_test(tc, half_close_then_answer);
	tcase_add_test(tc, bytes_after_half_close_are_dropped);
	tcase_add_test(tc, both_directions_by_poll);
	tcase_add_test(tc, both_directions_with_relay_polling);
	tcase_add_test(tc, messages_keep_boundaries);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, admin_peer_lists_refuse_and_cap);
	tcase_add_test(tc, refusals_logged_at_a_bounded_rate);
	tcase_add_test(tc, timeouts_and_nonblocking);
	tcase_add_test(tc, stats_show_bytes_waiting_in_both_rings);
	tcase_add_test(tc, small_writes_do_not_kick_each_time);
	tcase_add_test(tc, a_full_ring_is_announced_once);
	tcase_add_test(tc, a_request_is_pushed_before_waiting_for_its_answer);
	tcase_add_test(tc, release_for_a_save_and_back);
	tcase_add_test(tc, release_closes_an_idle_device_at_once);
	tcase_add_test(tc, a_withdrawn_release_is_news_the_next_time);
	tcase_add_test(tc, peers_are_found_by_name);
	tcase_add_test(tc, peer_death_is_a_reset);
	tcase_add_test(tc, lying_ring_index_disconnects_the_liar);
	tcase_add_test(tc, sized_rings_follow_the_load_without_losing_a_byte);
	tcase_add_test(tc, ring_replaced_just_before_a_wait_is_followed);
	tcase_add_test(tc, a_wake_up_seen_by_poll_costs_no_second_poll);
	tcase_add_test(tc, tx_switch_to_a_foreign_segment_disconnects);
	suite_add_tcase(s, tc);
	return s;
}
