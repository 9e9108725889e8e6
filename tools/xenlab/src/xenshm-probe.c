// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm-probe: exercise libxenshm from a lab guest.
 *
 *   xenshm-probe alloc KIB [--hold SECONDS]
 *   xenshm-probe grow KIB STEP_KIB STEPS     grow by STEPS segments, then shrink back
 *   xenshm-probe memtest KIB                 no Xen: stack buffer -> heap -> stack buffer
 *   xenshm-probe serve KIB EXTRA_KIB SECONDS [--ignore]
 *                                            hold KIB + EXTRA_KIB in two segments and answer
 *                                            reclaim notices by dropping the extra one (or not)
 *
 * Asks xenshmd for KIB KiB (shm_init), fills it with a pattern through
 * shm_put, reads it back through shm_get, prints the accounting, optionally
 * holds it (and checks the pattern again at the end), then shm_exit.
 * Prints "alloc_ms=..." for the lab's timing table.  Exit 0 when every
 * byte came back, 1 otherwise, with the errno name on refusal.  On a
 * mismatch it prints the first offsets; with DUMP=1 in the environment also
 * the 128 bytes around the first one.  On a mismatch it also maps the same
 * segment a second time, from its XenStore entry, and says which of the bad
 * bytes the fresh mapping holds correctly: a fresh mapping that is right
 * where the first is wrong means the first mapping's translation pointed
 * elsewhere (the frame itself was fine).
 *
 * PROBE_WRITE (alloc): memcpy (default: through a 64 KiB stack buffer), heap (through a heap
 * buffer), direct (byte stores into the mapping), memtest (leave the segment alone and run
 * the memtest on the process's own heap while holding it).  The platform fault hunt's experiments.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/segdir.h"
#include "xenshm/shm.h"
#include "xenshm/xenops.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint8_t pat(size_t i)
{
	return (uint8_t)((i >> 12) * 31 + (i & 4095) * 7 + 3);
}

/* Map device 0's only segment again, straight from its XenStore entry and directory. */
static uint8_t *map_again(struct xo *x, uint32_t *pages_out)
{
	char path[128], **ids = NULL, *v = NULL;
	unsigned int n = 0;
	unsigned int pages = 0, purpose, dir;
	xo_domid_t me;
	uint8_t *data = NULL;

	if (xo_self_domid(x, &me))
		return NULL;
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u/0/segment", me);
	if (x->ops->xs_directory(x, XO_TXN_NONE, path, &ids, &n) || n != 1)
		goto out;
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u/0/segment/%s", me, ids[0]);
	if (xo_read_str(x, XO_TXN_NONE, path, &v) || sscanf(v, "%u %u %u", &pages, &purpose, &dir) != 3)
		goto out;
	xo_gref_t *refs = calloc(pages, sizeof(*refs));
	uint32_t ndir = xshm_segdir_pages(pages), mapped = 0;
	void **dirs = calloc(ndir, sizeof(*dirs));
	struct xshm_segdir_page copy;
	int64_t next = dir;
	/* Directory pages stay mapped until the data is (the order libxenshm uses). */
	for (uint32_t i = 0; refs && dirs && i < ndir; i++) {
		xo_gref_t r = (xo_gref_t)next;
		if (next <= 0 || x->ops->gnt_map(x, 0, 1, &r, false, &dirs[i]))
			break;
		mapped++;
		memcpy(&copy, dirs[i], sizeof(copy));
		next = xshm_segdir_parse(&copy, i, pages, refs);
		if (i + 1 == ndir && next == 0 && x->ops->gnt_map(x, 0, pages, refs, false, (void **)&data))
			data = NULL;
	}
	for (uint32_t i = 0; i < mapped; i++)
		x->ops->gnt_unmap(x, dirs[i], 1);
	free(dirs);
	free(refs);
	*pages_out = pages;
out:
	free(v);
	xo_free_strv(ids);
	return data;
}

static void compare_fresh(struct shm *s, size_t size)
{
	struct xo *x;
	uint32_t pages = 0;
	long bad = 0, fresh_right = 0, fresh_same = 0;
	uint8_t *fresh;

	if (xo_real_open(&x, XO_OPEN_XS | XO_OPEN_GNTTAB))
		return;
	fresh = map_again(x, &pages);
	if (!fresh || (size_t)pages * 4096 < size) {
		printf("fresh mapping: unavailable\n");
		xo_close(x);
		return;
	}
	for (size_t off = 0; off < size; off++) {
		uint8_t mine;
		shm_get(s, &mine, off, 1);
		if (mine == pat(off))
			continue;
		bad++;
		fresh_right += fresh[off] == pat(off);
		fresh_same += fresh[off] == mine;
	}
	printf("fresh mapping: of %ld bad bytes, %ld right there, %ld equal to the first view\n", bad,
	       fresh_right, fresh_same);
	x->ops->gnt_unmap(x, fresh, pages);
	xo_close(x);
}

static long verify(struct shm *s, size_t size)
{
	uint8_t buf[65536];
	long bad = 0;

	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		if (shm_get(s, buf, off, n) != n)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (buf[i] == pat(off + i))
				continue;
			if (bad < 4)
				printf("mismatch at offset %zu (page %zu + %zu): got 0x%02x, want 0x%02x\n",
				       off + i, (off + i) >> 12, (off + i) & 4095, buf[i], pat(off + i));
			if (bad == 0 && getenv("DUMP")) {
				size_t b = i & ~(size_t)63;
				for (size_t k = b; k < b + 128 && k < n; k++)
					printf("%02x%s", buf[k], (k & 31) == 31 ? "\n" : " ");
			}
			bad++;
		}
	}
	return bad;
}

static void print_stats(struct shm *s, const char *tag)
{
	struct shm_stats st = { 0 };
	int rc = shm_stats(s, &st);

	printf("%s stats_rc=%d size_kib=%zu segments=%u pages_granted=%llu quota_pages=%llu host_free_pages=%llu\n",
	       tag, rc, shm_size(s) / 1024, st.segments, (unsigned long long)st.pages_granted,
	       (unsigned long long)st.pages_quota, (unsigned long long)st.host_pages_free);
}

static struct shm *open_or_say(size_t size)
{
	struct shm *s = shm_init(size);

	if (!s) {
		int e = errno;
		printf("refused: %s (%s)\n", strerrorname_np(e) ? strerrorname_np(e) : "?", strerror(e));
	}
	return s;
}

static int cmd_grow(size_t size, size_t step, unsigned int steps)
{
	struct shm *s = open_or_say(size);
	int rc = 0;

	if (!s)
		return 1;
	for (unsigned int i = 0; i < steps && !rc; i++) {
		double t0 = now();
		rc = shm_resize(s, shm_size(s) + step);
		printf("grow %u: rc=%d grow_ms=%.1f size_kib=%zu\n", i + 1, rc, (now() - t0) * 1e3,
		       shm_size(s) / 1024);
	}
	print_stats(s, "grown:");
	double t0 = now();
	int rc2 = shm_resize(s, size);
	printf("shrink: rc=%d shrink_ms=%.1f size_kib=%zu\n", rc2, (now() - t0) * 1e3, shm_size(s) / 1024);
	print_stats(s, "shrunk:");
	shm_exit(s);
	return rc || rc2 ? 1 : 0;
}

static int cmd_serve(size_t size, size_t extra, unsigned int seconds, bool ignore)
{
	struct shm *s = open_or_say(size);
	double end = now() + seconds;
	int rc;

	if (!s)
		return 1;
	rc = shm_resize(s, size + extra);
	printf("serving: rc=%d size_kib=%zu\n", rc, shm_size(s) / 1024);
	while (!rc && now() < end) {
		struct pollfd pfd = { .fd = shm_fd(s), .events = POLLIN };
		struct shm_event ev;
		poll(&pfd, 1, 200);
		int got = shm_next_event(s, &ev);
		if (got < 0) {
			printf("event: %s\n", strerror(-got));
			rc = got;
			break;
		}
		if (!got)
			continue;
		double t0 = now();
		if (!ignore) {
			shm_resize(s, size);
			shm_reclaim_done(s, ev.id);
		}
		printf("reclaim id=%u bytes=%zu deadline_ms=%u %s handled_ms=%.1f size_kib=%zu\n", ev.id,
		       ev.bytes, ev.deadline_ms, ignore ? "ignored" : "honoured", (now() - t0) * 1e3,
		       shm_size(s) / 1024);
	}
	print_stats(s, "end:");
	shm_exit(s);
	return rc ? 1 : 0;
}

/*
 * No Xen at all: the same 64 KiB stack-buffer copies into and out of plain heap memory, to
 * tell a fault of the grant path from one of the guest's own memory.
 */
static int cmd_memtest(size_t size)
{
	uint8_t buf[65536];
	uint8_t *mem = malloc(size);
	long bad = 0;

	if (!mem)
		return 1;
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i);
		memcpy(mem + off, buf, n);
	}
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		memcpy(buf, mem + off, n);
		for (size_t i = 0; i < n; i++) {
			if (buf[i] == pat(off + i))
				continue;
			if (bad < 2)
				printf("memtest mismatch at %zu: got 0x%02x want 0x%02x (memory holds 0x%02x)\n",
				       off + i, buf[i], pat(off + i), mem[off + i]);
			bad++;
		}
	}
	printf("memtest kib=%zu bad_bytes=%ld\n", size / 1024, bad);
	free(mem);
	return bad ? 1 : 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: xenshm-probe alloc KIB [--hold SECONDS] | grow KIB STEP_KIB STEPS |\n"
			"       serve KIB EXTRA_KIB SECONDS [--ignore]\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long long kib, hold = 0, a, b;
	uint8_t buf[65536];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "memtest") && !xo_parse_uint(argv[2], 1u << 20, &kib) && kib)
		return cmd_memtest(kib * 1024);
	if (argc >= 5 && !strcmp(argv[1], "grow") && !xo_parse_uint(argv[2], 1u << 20, &kib) &&
	    !xo_parse_uint(argv[3], 1u << 20, &a) && !xo_parse_uint(argv[4], 255, &b) && kib && a)
		return cmd_grow(kib * 1024, a * 1024, (unsigned int)b);
	if (argc >= 5 && !strcmp(argv[1], "serve") && !xo_parse_uint(argv[2], 1u << 20, &kib) &&
	    !xo_parse_uint(argv[3], 1u << 20, &a) && !xo_parse_uint(argv[4], 86400, &b) && kib && a &&
	    (argc == 5 || (argc == 6 && !strcmp(argv[5], "--ignore"))))
		return cmd_serve(kib * 1024, a * 1024, (unsigned int)b, argc == 6);
	if (argc < 3 || strcmp(argv[1], "alloc") || xo_parse_uint(argv[2], 1u << 20, &kib) ||
	    (argc == 5 && (strcmp(argv[3], "--hold") || xo_parse_uint(argv[4], 86400, &hold))) ||
	    (argc != 3 && argc != 5))
		return usage();
	size_t size = (size_t)kib * 1024;
	double t0 = now();
	struct shm *s = open_or_say(size);
	double t_alloc = now() - t0;
	if (!s)
		return 1;
	const char *mode = getenv("PROBE_WRITE");
	if (mode && !strcmp(mode, "memtest")) {
		int r = cmd_memtest(size); /* plain heap while the segment is held */
		shm_exit(s);
		return r;
	}
	uint8_t *heap = calloc(1, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		if (mode && !strcmp(mode, "direct")) {
			volatile uint8_t *d = (uint8_t *)shm_addr(s) + off;
			for (size_t i = 0; i < n; i++)
				d[i] = pat(off + i);
			continue;
		}
		uint8_t *src = mode && !strcmp(mode, "heap") ? heap : buf;
		for (size_t i = 0; i < n; i++)
			src[i] = pat(off + i);
		shm_put(s, src, off, n);
	}
	free(heap);
	long bad = verify(s, size);
	if (bad)
		compare_fresh(s, size);
	struct shm_stats st = { 0 };
	int rc = shm_stats(s, &st);
	printf("alloc_ms=%.1f kib=%llu bad_bytes=%ld stats_rc=%d segments=%u pages_granted=%llu quota_pages=%llu host_free_pages=%llu\n",
	       t_alloc * 1e3, kib, bad, rc, st.segments, (unsigned long long)st.pages_granted,
	       (unsigned long long)st.pages_quota, (unsigned long long)st.host_pages_free);
	if (hold) {
		sleep((unsigned int)hold);
		long again = verify(s, size);
		printf("after hold: bad_bytes=%ld\n", again);
		bad += again;
	}
	t0 = now();
	shm_exit(s);
	printf("exit_ms=%.1f\n", (now() - t0) * 1e3);
	return bad ? 1 : 0;
}
