// SPDX-License-Identifier: GPL-2.0-only
/*
 * fileio: the lab's stand-in for sysbench's random-write file test (the
 * source design's Table 2), run beside a swapping workload to show swap
 * traffic leaving the guest's disk.
 *
 *   fileio --dev PATH [--mib N] [--seconds S | --until FILE] [--sync-every K]
 *
 * Writes 4 KiB blocks at random block offsets in the first N MiB (default
 * 64) of PATH with O_DIRECT (so each write reaches the block device, as
 * sysbench's writes do at its fsync), calling fdatasync every K writes
 * (default 100, sysbench's --file-fsync-freq), for S seconds or until FILE
 * exists.  Prints writes, KiB/s and the run's length; integer arithmetic.
 * The clock is read once per 8 writes: a PV guest's clock_gettime is a
 * system call through Xen (lab test 99-callcost), which should not be
 * what this measures.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 4096u

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int parse_u64(const char *s, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return errno || *end || end == s ? -EINVAL : 0;
}

int main(int argc, char **argv)
{
	const char *dev = NULL, *until = NULL;
	unsigned long long mib = 64, seconds = 0, sync_every = 100;
	int fd = -1, rc = 1;
	void *buf = NULL;

	for (int i = 1; i + 1 < argc; i += 2) {
		int bad = 0;
		if (!strcmp(argv[i], "--dev"))
			dev = argv[i + 1];
		else if (!strcmp(argv[i], "--until"))
			until = argv[i + 1];
		else if (!strcmp(argv[i], "--mib"))
			bad = parse_u64(argv[i + 1], &mib);
		else if (!strcmp(argv[i], "--seconds"))
			bad = parse_u64(argv[i + 1], &seconds);
		else if (!strcmp(argv[i], "--sync-every"))
			bad = parse_u64(argv[i + 1], &sync_every);
		else
			bad = 1;
		if (bad)
			goto usage;
	}
	if (argc % 2 == 0 || !dev || !mib || mib > (1u << 20) || !sync_every || !seconds == !until)
		goto usage;
	fd = open(dev, O_WRONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "fileio: %s: %s\n", dev, strerror(errno));
		goto out;
	}
	if (posix_memalign(&buf, BLOCK, BLOCK)) {
		fprintf(stderr, "fileio: out of memory\n");
		goto out;
	}
	uint64_t blocks = mib * (1024u * 1024u / BLOCK), writes = 0, x = 0x9e3779b97f4a7c15ull;
	uint64_t t0 = ms_now(), now;
	for (;;) {
		if (writes % 8 == 0) {
			now = ms_now();
			if (seconds ? now - t0 >= seconds * 1000u : access(until, F_OK) == 0)
				break;
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memset(buf, (int)(writes & 0xff), BLOCK);
		memcpy(buf, &writes, sizeof(writes));
		if (pwrite(fd, buf, BLOCK, (off_t)(x % blocks) * BLOCK) != BLOCK) {
			fprintf(stderr, "fileio: write to %s: %s\n", dev, strerror(errno));
			goto out;
		}
		if (++writes % sync_every == 0 && fdatasync(fd)) {
			fprintf(stderr, "fileio: fdatasync %s: %s\n", dev, strerror(errno));
			goto out;
		}
	}
	uint64_t ms = now - t0 ? now - t0 : 1;
	printf("fileio: writes=%llu kib_per_s=%llu ms=%llu\n", (unsigned long long)writes,
	       (unsigned long long)(writes * (BLOCK / 1024u) * 1000u / ms), (unsigned long long)ms);
	rc = 0;
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return rc;
usage:
	fprintf(stderr, "usage: fileio --dev PATH [--mib N] [--seconds S | --until FILE] [--sync-every K]\n");
	return 2;
}
