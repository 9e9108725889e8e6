// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm-probe: exercise libxenshm from a lab guest.
 *
 *   xenshm-probe alloc KIB [--hold SECONDS]
 *
 * Asks xenshmd for KIB KiB (shm_init), fills it with a pattern through
 * shm_put, reads it back through shm_get, prints the accounting, optionally
 * holds it (and checks the pattern again at the end), then shm_exit.
 * Prints "alloc_ms=..." for the lab's timing table.  Exit 0 when every
 * byte came back, 1 otherwise, with the errno name on refusal.  On a
 * mismatch it prints the first offsets; with DUMP=1 in the environment also
 * the 128 bytes around the first one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	unsigned long long kib, hold = 0;
	uint8_t buf[65536];

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3 || strcmp(argv[1], "alloc") || xo_parse_uint(argv[2], 1u << 20, &kib) ||
	    (argc == 5 && (strcmp(argv[3], "--hold") || xo_parse_uint(argv[4], 86400, &hold))) ||
	    (argc != 3 && argc != 5)) {
		fprintf(stderr, "usage: xenshm-probe alloc KIB [--hold SECONDS]\n");
		return 2;
	}
	size_t size = (size_t)kib * 1024;
	double t0 = now();
	struct shm *s = shm_init(size);
	double t_alloc = now() - t0;
	if (!s) {
		int e = errno;
		printf("refused: %s (%s)\n", strerrorname_np(e) ? strerrorname_np(e) : "?", strerror(e));
		return 1;
	}
	for (size_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(off + i);
		shm_put(s, buf, off, n);
	}
	long bad = verify(s, size);
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
