// SPDX-License-Identifier: GPL-2.0-only
/*
 * callcost: what the calls MemPipe makes per operation cost in this domain
 * (a PV guest or dom0, under the lab's emulation), so that the benchmark's
 * per-message time can be split into them:
 *
 *   callcost [ITERATIONS]
 *
 * One line per call: "callcost NAME ns N".  A PV guest's system calls go
 * through Xen, and its clock may have no vDSO: both show here.
 *
 * Then what a byte copy costs by size, since MemPipe moves every byte with
 * memcpy three times (writer, relay, reader) and under emulation glibc's
 * choice of copy loop by size may matter more than on hardware: "callcost
 * memcpy-SIZE ns-per-KiB N" for glibc's memcpy, "callcost wordcopy-SIZE
 * ns-per-KiB N" for a plain 8-byte loop.
 */
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/xenops.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct probe {
	struct xo *x;
	xo_port_t port;
	uint8_t ring[1 << 16];
	uint64_t idx;
};

static void op_clock(struct probe *p)
{
	struct timespec ts;

	(void)p;
	clock_gettime(CLOCK_MONOTONIC, &ts);
}

static void op_syscall(struct probe *p)
{
	(void)p;
	syscall(SYS_getppid);
}

/* What a ring write of 64 bytes does: copy, publish, full fence. */
static void op_ring64(struct probe *p)
{
	static const uint8_t msg[64];

	memcpy(p->ring + (p->idx & (sizeof(p->ring) - 64)), msg, sizeof(msg));
	p->idx += 64;
	atomic_thread_fence(memory_order_seq_cst);
}

static void op_poll0(struct probe *p)
{
	struct pollfd pfd = { .fd = p->x->ops->evtchn_fd(p->x), .events = POLLIN };

	poll(&pfd, 1, 0);
}

static void op_notify(struct probe *p)
{
	p->x->ops->evtchn_notify(p->x, p->port);
}

static void op_pending(struct probe *p)
{
	xo_port_t port;

	if (p->x->ops->evtchn_pending(p->x, &port) == 0)
		p->x->ops->evtchn_unmask(p->x, port);
}

/* An 8-byte word loop the compiler must not turn back into memcpy. */
__attribute__((optimize("no-tree-loop-distribute-patterns")))
static void word_copy(void *restrict dst, const void *restrict src, size_t len)
{
	uint64_t *d = dst;
	const uint64_t *s = src;

	for (size_t i = 0; i < len / 8; i++)
		d[i] = s[i];
}

/* Copies of `size` bytes between two 4 MiB areas, at moving offsets, 64 MiB in all. */
static void copy_costs(void)
{
	static const size_t sizes[] = { 1024, 4096, 8192, 16384, 65536, 262144, 1048576 };
	const size_t area = 4u << 20, total = 64u << 20;
	uint8_t *a = malloc(area), *b = malloc(area);

	if (!a || !b) {
		fprintf(stderr, "callcost: no memory for the copy areas\n");
		goto out;
	}
	memset(a, 0x5a, area);
	memset(b, 0xa5, area);
	for (int loop = 0; loop < 2; loop++) {
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t size = sizes[i], off = 0;
			double t0 = now();
			for (size_t done = 0; done < total; done += size) {
				if (loop)
					word_copy(b + off, a + off, size);
				else
					memcpy(b + off, a + off, size);
				off = off + 2 * size > area ? 0 : off + size;
			}
			printf("callcost %s-%zuB ns-per-KiB %.1f\n", loop ? "wordcopy" : "memcpy", size,
			       (now() - t0) * 1e9 / ((double)total / 1024));
		}
	}
out:
	free(a);
	free(b);
}

int main(int argc, char **argv)
{
	static struct probe p;
	long n = argc > 1 ? atol(argv[1]) : 20000;
	const struct {
		const char *name;
		void (*fn)(struct probe *);
		bool needs_port;
	} ops[] = {
		{ "ring-write-64B", op_ring64, false },
		{ "clock_gettime", op_clock, false },
		{ "getppid", op_syscall, false },
		{ "poll-evtchn-fd", op_poll0, true },
		{ "evtchn-pending-drain", op_pending, true },
		{ "evtchn-notify", op_notify, true },
	};

	if (n <= 0)
		return 2;
	int rc = xo_real_open(&p.x, XO_OPEN_EVTCHN);
	/* A port of our own, bound to dom0 and never connected: notify still makes the hypercall. */
	if (!rc)
		rc = p.x->ops->evtchn_bind_unbound(p.x, 0, &p.port);
	if (rc)
		fprintf(stderr, "callcost: no event channel (%s): those calls are skipped\n", strerror(-rc));
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (ops[i].needs_port && rc)
			continue;
		long iters = ops[i].fn == op_ring64 ? n * 100 : n;
		double t0 = now();
		for (long k = 0; k < iters; k++)
			ops[i].fn(&p);
		printf("callcost %s ns %.0f\n", ops[i].name, (now() - t0) * 1e9 / (double)iters);
	}
	copy_costs();
	if (!rc)
		p.x->ops->evtchn_unbind(p.x, p.port);
	if (p.x)
		p.x->ops->close(p.x);
	return 0;
}
