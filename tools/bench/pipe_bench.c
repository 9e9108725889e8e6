// SPDX-License-Identifier: GPL-2.0-only
/*
 * mempipe-bench: guest-to-guest throughput and round-trip latency over
 * MemPipe, TCP and libxenvchan, with the same program, protocol and
 * checksum, so that they are compared in one run (TCG timings are not
 * absolute).
 *
 *   mempipe-bench serve [--name NAME] [--port PORT]
 *       serve MemPipe channel NAME (default "bench") and TCP PORT (5001)
 *   mempipe-bench serve-vchan --peer DOMID [--ring-kb K] [--path XS-PATH]
 *       serve one libxenvchan connection from domain DOMID, rings of K KiB
 *       (default 64) each way, announced at XS-PATH (default data/vchan-bench
 *       in this domain); the client names this domain and the same path
 *   mempipe-bench run --transport mempipe|tcp|vchan --peer DOMID|NAME|IPV4
 *                     [--name NAME] [--port PORT] [--sizes 64,128,...]
 *                     [--bytes N] [--rounds R] [--ring-kb K] [--warmup-ms W]
 *                     [--measure-ms M]
 *       one line per message size:
 *       "<transport> size S bytes B MBps X rtt_us Y check ok|BAD-stream|BAD-echo",
 *       for MemPipe followed by the sender's kicks and sleeps per message and
 *       its tx ring's memory over the measured stream ("tx_alloc_kb A tx_used_kb U")
 *
 * Throughput: the client writes B bytes as S-byte writes, the server reads
 * S-byte messages and answers with a checksum of everything it read; the
 * clock stops at the answer.  Latency: R echoes of S bytes, one at a time.
 * --warmup-ms: before each size, stream at that size for W ms unmeasured, so
 * that rings xenshmd sizes with the load are measured settled, not growing.
 * --measure-ms: with a warm-up, size the measured stream from the warm-up's
 * pace so that it lasts about M ms (at least --bytes' worth): a stream of a
 * few milliseconds is shorter than one of Xen's scheduling time slices, and
 * measures the scheduler more than the transport.
 * The checksum is word-wise (cheap next to the transfer) and covers every
 * byte, so "check ok" means the stream arrived intact.  A MemPipe server
 * prints, per measured stream, its receiving ring's allocated and used memory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/mempipe.h"
#include "xenshm/shm.h"
#include "vchan_transport.h"

enum { OP_SINK = 1, OP_ECHO = 2, OP_END = 3 };
#define PATTERN_BYTES (1u << 20)
#define MSG_MAX (64u << 10)
#define WARMUP_BATCH_BYTES (1u << 20)
#define WARMUP_IN_FLIGHT_S 0.05
#define RING_SAMPLE_BYTES 4096u
#define WARMUP_MAX_IN_FLIGHT 16

struct hdr {
	uint32_t op, size;
	uint64_t count;
};

/* One transport: exact-length reads and writes, as the benchmark needs them. */
struct conn {
	struct mempipe *mp;
	struct bench_vchan *vc;
	int fd;
};

/* All `len` bytes one way or the other, whichever transport: 0 or a negative errno. */
static int io_all(struct conn *c, void *buf, size_t len, bool out)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n;
		if (c->mp)
			n = out ? mempipe_write(c->mp, b, len) : mempipe_read(c->mp, b, len);
		else if (c->vc)
			n = out ? bench_vchan_write(c->vc, b, len) : bench_vchan_read(c->vc, b, len);
		else
			n = out ? write(c->fd, b, len) : read(c->fd, b, len);
		bool returns_errno = c->mp || c->vc;
		if (n < 0 && !returns_errno && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? (returns_errno ? (int)n : -errno) : -EPIPE;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int write_all(struct conn *c, const void *buf, size_t len)
{
	return io_all(c, (void *)(uintptr_t)buf, len, true);
}

static int read_exact(struct conn *c, void *buf, size_t len)
{
	return io_all(c, buf, len, false);
}

/* Word-wise, order-sensitive; sizes are multiples of 8. */
static uint64_t check_update(uint64_t acc, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, b + i, 8);
		acc = ((acc << 7) | (acc >> 57)) ^ w;
		acc *= 0x100000001b3ull;
	}
	return acc;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A ring's memory over a MemPipe stream, sampled after every 4 KiB of
 * messages (by bytes, not by time: a clock read is a system call in a PV
 * guest; at a steady rate the two agree; and not after every 64-byte message,
 * whose read costs little more than the sample): its size on average
 * (allocated) and how much of it held bytes waiting (used).  The server
 * samples its rx, the client its tx: a direction's memory is both.  The source design's
 * utilisation is used / allocated.  Also the fullest sample of each turn of
 * the ring (a window in which as many bytes were read as the ring holds),
 * averaged: the memory the ring needed at its peak, which a sawtooth between
 * full and empty reaches in every turn while its mean stays near half
 * (xenshmd's own UTIL-PCT is this kind of measure, over 100 ms windows).
 */
struct ring_use {
	double alloc_sum, fill_sum, peak_sum;
	uint64_t samples, windows;
	size_t window_peak, window_moved;
	uint32_t resizes0;
};

/* Messages of `size` bytes between two samples: one sample per 4 KiB, or per message above it. */
static uint64_t msgs_per_sample(uint32_t size)
{
	return size >= RING_SAMPLE_BYTES ? 1 : RING_SAMPLE_BYTES / size;
}

static void ring_use_sample(struct conn *c, struct ring_use *u, size_t moved_since, bool tx)
{
	struct mempipe_stats st;

	if (!c->mp || mempipe_stats(c->mp, &st))
		return;
	size_t ring = tx ? st.tx_ring_bytes : st.rx_ring_bytes, fill = tx ? st.tx_fill_bytes : st.rx_fill_bytes;
	if (!u->samples)
		u->resizes0 = tx ? st.tx_resizes : st.rx_resizes;
	u->alloc_sum += (double)ring;
	u->fill_sum += (double)fill;
	u->samples++;
	if (fill > u->window_peak)
		u->window_peak = fill;
	u->window_moved += moved_since;
	if (u->window_moved >= ring) {
		u->peak_sum += (double)u->window_peak;
		u->windows++;
		u->window_peak = u->window_moved = 0;
	}
}

/*
 * For the lab, one line on stdout for the last stream of a run of streams of
 * one size (the measured one: the client's warm-up streams come first):
 * "sink size S count N alloc_kb A used_kb U resizes R peak_kb P" (P: 0 when
 * the stream was shorter than one window).
 */
static void ring_use_print(const struct ring_use *u, uint32_t resizes_now, uint32_t size, uint64_t count)
{
	if (!u->samples)
		return;
	printf("sink size %u count %llu alloc_kb %.1f used_kb %.1f resizes %u peak_kb %.1f\n", size,
	       (unsigned long long)count, u->alloc_sum / (double)u->samples / 1024,
	       u->fill_sum / (double)u->samples / 1024, resizes_now - u->resizes0,
	       u->windows ? u->peak_sum / (double)u->windows / 1024 : 0);
	fflush(stdout);
}

/* Serve one connection until OP_END or its end. */
static void serve_conn(struct conn *c)
{
	uint8_t *buf = malloc(MSG_MAX);
	struct hdr h, last = { 0 };
	struct ring_use last_use = { 0 };
	struct mempipe_stats st;

	while (buf && read_exact(c, &h, sizeof(h)) == 0 && h.op != OP_END) {
		if (last.op && (h.op != OP_SINK || h.size != last.size)) {
			ring_use_print(&last_use, mempipe_stats(c->mp, &st) ? 0 : st.rx_resizes, last.size, last.count);
			last.op = 0;
		}
		if (!h.size || h.size > MSG_MAX)
			break;
		if (h.op == OP_SINK) {
			uint64_t acc = 0;
			struct ring_use use = { 0 };
			uint64_t every = msgs_per_sample(h.size);
			for (uint64_t i = 0; i < h.count; i++) {
				if (read_exact(c, buf, h.size))
					goto out;
				acc = check_update(acc, buf, h.size);
				if (i % every == 0)
					ring_use_sample(c, &use, (size_t)(every * h.size), false);
			}
			if (write_all(c, &acc, sizeof(acc)))
				break;
			last = h;
			last_use = use;
		} else if (h.op == OP_ECHO) {
			for (uint64_t i = 0; i < h.count; i++)
				if (read_exact(c, buf, h.size) || write_all(c, buf, h.size))
					goto out;
		} else {
			break;
		}
	}
out:
	if (last.op && !mempipe_stats(c->mp, &st))
		ring_use_print(&last_use, st.rx_resizes, last.size, last.count);
	free(buf);
}

static int serve_tcp(int port)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 4)) {
		perror("mempipe-bench: tcp listen");
		return 1;
	}
	for (;;) {
		struct conn c = { .fd = accept(s, NULL, NULL) };
		if (c.fd < 0)
			continue;
		setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve_conn(&c);
		close(c.fd);
	}
}

/*
 * Serve channel NAME; when the host asks this domain to let go for a save
 * (SHM_EV_RELEASE: calls fail with ESHUTDOWN), close everything, and open
 * again once the domain has moved (shm_init says EAGAIN until then).
 */
static int serve_mempipe(const char *name)
{
	struct mempipe_opts o = { .timeout_ms = -1 };
	bool resumed = false;

	for (;;) {
		struct shm *s = shm_init(0);
		if (!s && errno == EAGAIN) {
			usleep(200000);
			continue;
		}
		if (!s) {
			fprintf(stderr, "mempipe-bench: shm_init: %s\n", strerror(errno));
			return 1;
		}
		struct mempipe *l = mempipe_listen(s, name, &o);
		if (!l) {
			fprintf(stderr, "mempipe-bench: listen %s: %s\n", name, strerror(errno));
			shm_exit(s);
			return 1;
		}
		printf("serving mempipe %s%s\n", name, resumed ? " again, after a release" : "");
		fflush(stdout);
		for (;;) {
			struct conn c = { .mp = mempipe_accept(l), .fd = -1 };
			if (!c.mp) {
				if (errno != ESHUTDOWN)
					fprintf(stderr, "mempipe-bench: accept: %s\n", strerror(errno));
				break;
			}
			serve_conn(&c);
			mempipe_close(c.mp);
			if (shm_release_asked(s))
				break;
		}
		mempipe_close(l);
		bool release = shm_release_asked(s) != 0;
		shm_exit(s);
		if (!release)
			return 1;
		printf("released everything for a save\n");
		fflush(stdout);
		resumed = true;
	}
}

static int serve_vchan(unsigned int peer, const char *path, size_t ring_kb)
{
	struct conn c = { .fd = -1, .vc = bench_vchan_serve(peer, path, ring_kb * 1024) };

	if (!c.vc) {
		fprintf(stderr, "mempipe-bench: vchan for domain %u at %s: %s\n", peer, path, strerror(errno));
		return 1;
	}
	printf("serving vchan %s for domain %u, %zu KiB rings\n", path, peer, ring_kb);
	fflush(stdout);
	serve_conn(&c);
	bench_vchan_close(c.vc);
	return 0;
}

struct run_opts {
	const char *transport, *peer, *name, *path;
	int port;
	size_t bytes, ring_kb;
	unsigned int rounds, warmup_ms, measure_ms;
	char sizes[256];
};

static int connect_tcp(const char *ip, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1;

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1)
		return -EINVAL;
	for (int tries = 0; tries < 100; tries++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
			return fd;
		}
		if (fd >= 0)
			close(fd);
		usleep(200000); /* the server may still be starting */
	}
	return -ECONNREFUSED;
}

static int run_size(struct conn *c, const struct run_opts *o, const uint8_t *pattern, uint32_t size)
{
	/* At most 64 Ki messages a size: small messages over TCP under emulation are slow.  Fewer
	 * would leave the fast transports' small sizes measuring the final acknowledgement. */
	uint64_t count = o->bytes / size > 65536 ? 65536 : o->bytes / size, expect = 0, got;
	struct mempipe_stats st0 = { 0 }, st1 = { 0 };
	unsigned int rounds = o->rounds;
	struct hdr h = { OP_SINK, size, count };
	uint8_t *echo = malloc(size);
	double t0, t1, t2;
	int rc;

	if (!echo)
		return -ENOMEM;
	if (!count)
		count = h.count = 1;
	/* Warm-up: the same stream in 1 MiB batches, each acknowledged (a batch is bytes, not a
	 * count of messages: 256 messages of 64 B made a 16 KiB batch that never loaded the ring
	 * it should size).  Batches stay in flight, about 50 ms of the stream as the first batch
	 * measured it, so that the writer waits on the transport as in the measured stream: with
	 * one batch in flight a ring never held more than 1 MiB and each answer drained the pipe,
	 * and xenshmd sized the first size's rings for that load, not for the stream's. */
	uint64_t batch = WARMUP_BATCH_BYTES / size ? WARMUP_BATCH_BYTES / size : 1, sent = 0, acked = 0;
	uint64_t depth = 1;
	if (batch > count)
		batch = count;
	double warm0 = now(), warm_end = warm0 + o->warmup_ms / 1e3;
	while (o->warmup_ms) {
		struct hdr w = { OP_SINK, size, batch };
		uint64_t ack;
		int wrc = 0;
		if (sent - acked < depth && now() < warm_end) {
			wrc = write_all(c, &w, sizeof(w));
			for (uint64_t i = 0; !wrc && i < w.count; i++)
				wrc = write_all(c, pattern + (i * size) % (PATTERN_BYTES - size), size);
			sent++;
		} else if (acked < sent) {
			wrc = read_exact(c, &ack, sizeof(ack));
			if (++acked == 1) {
				double per_batch_s = now() - warm0;
				depth = per_batch_s > 0 ? (uint64_t)(WARMUP_IN_FLIGHT_S / per_batch_s) + 1 : 1;
				if (depth > WARMUP_MAX_IN_FLIGHT)
					depth = WARMUP_MAX_IN_FLIGHT;
			}
		} else {
			break;
		}
		if (wrc) {
			free(echo);
			return wrc;
		}
	}
	uint64_t warm_msgs = sent * batch;
	double warm_s = now() - warm0;
	if (o->measure_ms && warm_msgs && warm_s > 0) {
		uint64_t paced = (uint64_t)((double)warm_msgs / warm_s * o->measure_ms / 1e3);
		if (paced > count)
			count = h.count = paced;
	}
	for (uint64_t i = 0; i < count; i++)
		expect = check_update(expect, pattern + (i * size) % (PATTERN_BYTES - size), size);
	if (c->mp)
		mempipe_stats(c->mp, &st0);
	struct ring_use tx_use = { 0 };
	uint64_t every = msgs_per_sample(size);
	t0 = now();
	rc = write_all(c, &h, sizeof(h));
	for (uint64_t i = 0; !rc && i < count; i++) {
		rc = write_all(c, pattern + (i * size) % (PATTERN_BYTES - size), size);
		if (i % every == 0)
			ring_use_sample(c, &tx_use, (size_t)(every * size), true);
	}
	if (!rc)
		rc = read_exact(c, &got, sizeof(got));
	t1 = now();
	if (c->mp)
		mempipe_stats(c->mp, &st1);
	if (rc) {
		fprintf(stderr, "mempipe-bench: throughput at %u B: %s\n", size, strerror(-rc));
		free(echo);
		return rc;
	}
	/* Latency: fewer rounds for big messages, so that each size takes about as long. */
	if (size > 4096)
		rounds = rounds * 4096 / size > 10 ? rounds * 4096 / size : 10;
	h = (struct hdr){ OP_ECHO, size, rounds };
	rc = write_all(c, &h, sizeof(h));
	t2 = now();
	bool echo_bad = false;
	for (unsigned int i = 0; !rc && i < rounds; i++) {
		rc = write_all(c, pattern + i * 8, size);
		if (!rc)
			rc = read_exact(c, echo, size);
		if (!rc && memcmp(echo, pattern + i * 8, size))
			echo_bad = true; /* reported below; the stream stays in step */
	}
	double t3 = now();
	free(echo);
	if (rc) {
		fprintf(stderr, "mempipe-bench: latency at %u B: %s\n", size, strerror(-rc));
		return rc;
	}
	uint64_t total = count * size;
	printf("%s size %u bytes %llu MBps %.2f rtt_us %.1f check %s", o->transport, size,
	       (unsigned long long)total, (double)total / (t1 - t0) / 1e6,
	       (t3 - t2) / rounds * 1e6,
	       got != expect ? "BAD-stream" : echo_bad ? "BAD-echo" : "ok");
	/* Where a stream's time goes under emulation: the sender's kicks and sleeps per message. */
	if (c->mp)
		printf(" kicks_per_msg %.4f waits_per_msg %.4f", (double)(st1.notifies - st0.notifies) / (double)count,
		       (double)(st1.waits - st0.waits) / (double)count);
	if (tx_use.samples) /* the sending ring over the measured stream, as the server's sink line has the receiving one */
		printf(" tx_alloc_kb %.1f tx_used_kb %.1f", tx_use.alloc_sum / (double)tx_use.samples / 1024,
		       tx_use.fill_sum / (double)tx_use.samples / 1024);
	printf("\n");
	fflush(stdout);
	return 0;
}

static int run(const struct run_opts *o)
{
	uint8_t *pattern = malloc(PATTERN_BYTES);
	uint32_t seed = 2463534242u;
	struct conn c = { .fd = -1 };
	struct shm *s = NULL;
	char sizes[256], *save = NULL;
	int rc = 0;

	if (!pattern)
		return 1;
	for (size_t i = 0; i < PATTERN_BYTES; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 17;
		seed ^= seed << 5;
		pattern[i] = (uint8_t)seed;
	}
	if (!strcmp(o->transport, "tcp")) {
		c.fd = connect_tcp(o->peer, o->port);
		if (c.fd < 0)
			rc = c.fd;
	} else if (!strcmp(o->transport, "vchan")) {
		/* The server's path lives in its own domain's tree. */
		char path[256];
		snprintf(path, sizeof(path), "/local/domain/%s/%s", o->peer, o->path);
		for (int tries = 0; tries < 100 && !c.vc; tries++) {
			c.vc = bench_vchan_connect((unsigned int)strtoul(o->peer, NULL, 10), path);
			if (!c.vc)
				usleep(200000); /* the server may still be starting */
		}
		if (!c.vc)
			rc = errno ? -errno : -ECONNREFUSED;
	} else {
		struct mempipe_opts mo = { .timeout_ms = 60000, .ring_bytes = o->ring_kb * 1024 };
		s = shm_init(0);
		if (!s)
			rc = -errno;
		if (!rc) {
			c.mp = mempipe_connect_peer(s, o->peer, o->name, &mo);
			if (!c.mp)
				rc = -errno;
		}
	}
	if (rc) {
		fprintf(stderr, "mempipe-bench: connect over %s to %s: %s\n", o->transport, o->peer,
			strerror(-rc));
		goto out;
	}
	snprintf(sizes, sizeof(sizes), "%s", o->sizes);
	for (char *t = strtok_r(sizes, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
		unsigned long size = strtoul(t, NULL, 10);
		if (size < 8 || size > MSG_MAX || size % 8) {
			fprintf(stderr, "mempipe-bench: size %s: a multiple of 8 from 8 to %u\n", t, MSG_MAX);
			rc = -EINVAL;
			break;
		}
		rc = run_size(&c, o, pattern, (uint32_t)size);
	}
	struct hdr end = { OP_END, 0, 0 };
	write_all(&c, &end, sizeof(end));
out:
	if (c.mp)
		mempipe_close(c.mp);
	if (c.fd >= 0)
		close(c.fd);
	bench_vchan_close(c.vc);
	shm_exit(s);
	free(pattern);
	return rc ? 1 : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: mempipe-bench serve [--name NAME] [--port PORT]\n"
			"       mempipe-bench serve-vchan --peer DOMID [--ring-kb K] [--path XS-PATH]\n"
			"       mempipe-bench run --transport mempipe|tcp|vchan --peer DOMID|NAME|IPV4 [--name NAME]\n"
			"                         [--port PORT] [--sizes 64,128,...] [--bytes N] [--rounds R]\n"
			"                         [--ring-kb K] [--path XS-PATH] [--warmup-ms W] [--measure-ms M]\n");
}

int main(int argc, char **argv)
{
	struct run_opts o = { .transport = "mempipe", .name = "bench", .path = "data/vchan-bench", .port = 5001,
			      .bytes = 8u << 20, .rounds = 300,
			      .sizes = "64,128,256,512,1024,2048,4096,8192,16384,65536" };

	if (argc < 2) {
		usage();
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!v) {
			usage();
			return 2;
		}
		if (!strcmp(argv[i], "--transport"))
			o.transport = v;
		else if (!strcmp(argv[i], "--peer"))
			o.peer = v;
		else if (!strcmp(argv[i], "--name"))
			o.name = v;
		else if (!strcmp(argv[i], "--port"))
			o.port = atoi(v);
		else if (!strcmp(argv[i], "--sizes"))
			snprintf(o.sizes, sizeof(o.sizes), "%s", v);
		else if (!strcmp(argv[i], "--bytes"))
			o.bytes = strtoull(v, NULL, 0);
		else if (!strcmp(argv[i], "--rounds"))
			o.rounds = (unsigned int)atoi(v);
		else if (!strcmp(argv[i], "--ring-kb"))
			o.ring_kb = strtoull(v, NULL, 0);
		else if (!strcmp(argv[i], "--path"))
			o.path = v;
		else if (!strcmp(argv[i], "--warmup-ms"))
			o.warmup_ms = (unsigned int)atoi(v);
		else if (!strcmp(argv[i], "--measure-ms"))
			o.measure_ms = (unsigned int)atoi(v);
		else {
			usage();
			return 2;
		}
		i++;
	}
	if (!strcmp(argv[1], "serve")) {
		signal(SIGPIPE, SIG_IGN);
		pid_t child = fork();
		if (child == 0)
			return serve_tcp(o.port);
		int rc = serve_mempipe(o.name);
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
		return rc;
	}
	if (!strcmp(argv[1], "serve-vchan") && o.peer) /* a relative XenStore path: this domain's home */
		return serve_vchan((unsigned int)strtoul(o.peer, NULL, 10), o.path, o.ring_kb ? o.ring_kb : 64);
	if (!strcmp(argv[1], "run") && o.peer &&
	    (!strcmp(o.transport, "tcp") || !strcmp(o.transport, "mempipe") || !strcmp(o.transport, "vchan"))) {
		signal(SIGPIPE, SIG_IGN);
		return run(&o);
	}
	usage();
	return 2;
}
