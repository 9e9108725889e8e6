// SPDX-License-Identifier: GPL-2.0-only
/*
 * MemPipe's own cost, without Xen: libmempipe in two "guests", xenshmd's
 * relay between them, all on the in-memory fake Xen in one process (real
 * threads, real poll loop, real clock).  What it shows is the code path:
 * ring copies, the relay's one copy, wake-ups, sizing.  What it cannot show
 * is what Xen adds (hypercalls, event delivery, scheduling between
 * domains): the lab measures that (mempipe-bench, test/lab/90-mempipe.sh).
 *
 * For each message size, one stream of `--mib` MiB, sized rings against
 * fixed 1 MiB rings: throughput, and for the sized channel the memory the
 * receiving end's rx ring held on average (allocated) and its peak fill
 * (used), sampled every millisecond.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../dom0/daemon.h"
#include "../../dom0/devdirs.h"
#include "xenshm/mempipe.h"
#include "xenshm/shm.h"
#include "xenshm/xenops_fake.h"
#include "bench.h"

static const size_t sizes[] = { 64, 256, 1024, 4096, 16384, 65536 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct world {
	struct xo_fake_world *w;
	struct xo *dmn, *tool, *x1, *x2;
	xo_domid_t g1, g2;
	struct xshmd *d;
	pthread_t th;
	int stop;
};

static void quiet(int level, const char *msg)
{
	(void)level;
	(void)msg;
}

static void *daemon_loop(void *arg)
{
	struct world *w = arg;

	while (!__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
		struct pollfd fds[2];
		int n = xshmd_pollfds(w->d, fds);
		xshmd_poll(fds, (nfds_t)n, xshmd_timeout_ms(w->d) < 0 ? 20 : xshmd_timeout_ms(w->d));
		xshmd_step(w->d, fds);
	}
	return NULL;
}

static int world_up(struct world *w)
{
	struct xshmd_config cfg = { .budget_pages = 1u << 18, .quota_pages = 1u << 17, .log = quiet };

	memset(w, 0, sizeof(*w));
	w->w = xo_fake_world_new();
	if (w->w) {
		/* A pool as the operations guide sets it up (modprobe.d raises gntalloc's limit). */
		struct xo_fake_limits lim;
		xo_fake_get_limits(w->w, &lim);
		lim.gntalloc_limit = 1u << 20;
		xo_fake_set_limits(w->w, &lim);
	}
	if (!w->w || xo_fake_domain_create(w->w, "g1", &w->g1) || xo_fake_domain_create(w->w, "g2", &w->g2) ||
	    xo_fake_open(w->w, 0, &w->dmn) || xo_fake_open(w->w, 0, &w->tool) ||
	    xo_fake_open(w->w, w->g1, &w->x1) || xo_fake_open(w->w, w->g2, &w->x2) ||
	    xshm_device_create(w->tool, w->g1, 0, 1u << 19) || xshm_device_create(w->tool, w->g2, 0, 1u << 19) ||
	    xshmd_new(w->dmn, &cfg, &w->d))
		return -1;
	pthread_create(&w->th, NULL, daemon_loop, w);
	return 0;
}

static void world_down(struct world *w)
{
	__atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
	pthread_join(w->th, NULL);
	xshmd_free(w->d);
	xo_close(w->x1);
	xo_close(w->x2);
	xo_close(w->tool);
	xo_close(w->dmn);
	xo_fake_world_free(w->w);
}

struct reader {
	struct mempipe *p;
	size_t size, total;
	int result;
	/* Sampled every millisecond while reading: rx ring bytes held and in use. */
	double alloc_sum, used_sum;
	uint64_t samples;
};

static void *read_all(void *arg)
{
	struct reader *r = arg;
	uint8_t *buf = malloc(r->size);
	size_t got = 0;
	double next = bench_now();

	r->result = 0;
	while (buf && got < r->total) {
		ssize_t n = mempipe_read(r->p, buf, r->size);
		if (n <= 0) {
			r->result = n ? (int)n : -EPIPE;
			break;
		}
		got += (size_t)n;
		if (bench_now() >= next) {
			struct mempipe_stats st;
			mempipe_stats(r->p, &st);
			r->alloc_sum += (double)st.rx_ring_bytes;
			r->used_sum += (double)st.rx_fill_bytes;
			r->samples++;
			next += 0.001;
		}
	}
	free(buf);
	return NULL;
}

struct result {
	double mbps, alloc_kb, used_kb;
	uint32_t resizes;
};

static int run_one(struct world *w, size_t size, size_t total, bool sized, struct result *out)
{
	struct mempipe_opts o = { .timeout_ms = 30000, .ring_bytes = sized ? 0 : (1u << 20) };
	struct shm *s1 = shm_open_xo(w->x1, 0, NULL), *s2 = shm_open_xo(w->x2, 0, NULL);
	struct mempipe *l = s1 ? mempipe_listen(s1, "bench", &o) : NULL, *b = NULL, *a = NULL;
	struct reader r = { .size = size, .total = total };
	uint8_t *buf = calloc(1, size);
	pthread_t th;
	int rc = -EIO;

	if (l)
		b = mempipe_connect(s2, w->g1, "bench", &o);
	if (b)
		a = mempipe_accept(l);
	if (!a || !buf) {
		fprintf(stderr, "xenshm-bench mempipe: setup: %s (shm %p %p, listener %p, connected %p)\n",
			strerror(errno), (void *)s1, (void *)s2, (void *)l, (void *)b);
		goto out;
	}
	r.p = a;
	pthread_create(&th, NULL, read_all, &r);
	double t0 = bench_now();
	size_t sent = 0;
	for (rc = 0; !rc && sent < total; sent += size) {
		buf[0] = (uint8_t)sent;
		ssize_t n = mempipe_write(b, buf, size);
		rc = n == (ssize_t)size ? 0 : -EIO;
	}
	pthread_join(th, NULL);
	double t1 = bench_now();
	if (!rc)
		rc = r.result;
	struct mempipe_stats st;
	mempipe_stats(a, &st);
	out->mbps = (double)total / (t1 - t0) / 1e6;
	out->alloc_kb = r.samples ? r.alloc_sum / (double)r.samples / 1024 : (double)st.rx_ring_bytes / 1024;
	out->used_kb = r.samples ? r.used_sum / (double)r.samples / 1024 : 0;
	out->resizes = st.rx_resizes;
out:
	free(buf);
	mempipe_close(a);
	mempipe_close(b);
	mempipe_close(l);
	shm_exit(s1);
	shm_exit(s2);
	return rc;
}

int mempipe_bench_main(int argc, char **argv)
{
	const char *md_path = NULL, *json_path = NULL;
	size_t mib = 64, only_size = 0;
	static const struct option opts[] = {
		{ "md", required_argument, NULL, 'm' },
		{ "json", required_argument, NULL, 'j' },
		{ "mib", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	struct world w;
	char host[256];

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'm': md_path = optarg; break;
		case 'j': json_path = optarg; break;
		case 'n': mib = strtoul(optarg, NULL, 10); break;
		case 's': only_size = strtoul(optarg, NULL, 10); break;
		default: return 2;
		}
	}
	FILE *md = md_path ? fopen(md_path, "w") : NULL;
	FILE *js = json_path ? fopen(json_path, "w") : NULL;
	if ((md_path && !md) || (json_path && !js) || world_up(&w)) {
		fprintf(stderr, "xenshm-bench mempipe: cannot start\n");
		return 1;
	}
	bench_host(host, sizeof(host));
	if (md) {
		fprintf(md, "# MemPipe path benchmark (no Xen)\n\nGenerated by `make bench` (`xenshm-bench mempipe`): %s.\n"
			    "libmempipe in two guests and xenshmd's relay on the in-memory fake Xen, real threads:\n"
			    "the cost of the code path alone (ring copies, the relay's copy, wake-ups, sizing).\n"
			    "One %zu MiB stream per row. Sized: rx ring held on average (allocated) and its\n"
			    "average fill (used), sampled every millisecond by the reader.\n\n"
			    "| message | fixed 1 MiB MB/s | sized MB/s | sized / fixed | allocated KiB | used KiB | utilisation | resizes |\n"
			    "|---|---|---|---|---|---|---|---|\n", host, mib);
	}
	if (js)
		fprintf(js, "{\"host\": \"%s\", \"stream_mib\": %zu, \"results\": [\n", host, mib);
	for (size_t i = 0; i < NSIZES; i++) {
		struct result fixed = { 0 }, sized = { 0 };
		size_t total = (mib << 20) / sizes[i] * sizes[i];
		int rc;
		if (only_size && sizes[i] != only_size)
			continue;
		if ((rc = run_one(&w, sizes[i], total, false, &fixed)) || (rc = run_one(&w, sizes[i], total, true, &sized))) {
			fprintf(stderr, "xenshm-bench mempipe: the %s %zu B run failed: %s\n",
				fixed.mbps > 0 ? "sized" : "fixed", sizes[i], strerror(-rc));
			world_down(&w);
			return 1;
		}
		double util = sized.alloc_kb > 0 ? 100 * sized.used_kb / sized.alloc_kb : 0;
		printf("mempipe %6zu B: fixed %8.1f MB/s, sized %8.1f MB/s (%.0f%%), rx held %.0f KiB, used %.0f KiB (%.0f%%), %u resizes\n",
		       sizes[i], fixed.mbps, sized.mbps, 100 * sized.mbps / fixed.mbps, sized.alloc_kb, sized.used_kb,
		       util, sized.resizes);
		if (md)
			fprintf(md, "| %zu B | %.1f | %.1f | %.0f%% | %.0f | %.0f | %.0f%% | %u |\n", sizes[i], fixed.mbps,
				sized.mbps, 100 * sized.mbps / fixed.mbps, sized.alloc_kb, sized.used_kb, util,
				sized.resizes);
		if (js)
			fprintf(js, "  {\"message_bytes\": %zu, \"fixed_MBps\": %.1f, \"sized_MBps\": %.1f, "
				    "\"sized_alloc_KiB\": %.0f, \"sized_used_KiB\": %.0f, \"sized_resizes\": %u}%s\n",
				sizes[i], fixed.mbps, sized.mbps, sized.alloc_kb, sized.used_kb, sized.resizes,
				only_size || i + 1 == NSIZES ? "" : ",");
	}
	if (js) {
		fprintf(js, "]}\n");
		fclose(js);
	}
	if (md)
		fclose(md);
	world_down(&w);
	return 0;
}
