// SPDX-License-Identifier: GPL-2.0-only
/*
 * pagework: a checksummed random-access page workload, to make a guest swap
 * and prove that every page comes back as it was written.
 *
 *   pagework --mib N [--rounds R] [--seed S] [--wait FILE] [--compressible]
 *
 * Fills N MiB page by page (with --wait, then prints "pagework: filled" and
 * waits until FILE exists: the swapped-out pages sit in the swap device
 * meanwhile, for a test to move them about), then makes R * pages random
 * accesses: each
 * checks the page against what was last written there and, every other
 * time, rewrites it with the next generation; finally checks every page.
 * Integer arithmetic only (no FPU state to save across a swap), bound at
 * load time like every lab program (a swapping guest must not resolve
 * symbols lazily).  Prints one line:
 *   pagework: mib=N pages=P accesses=A rewrites=W bad=B fill_ms=F run_ms=R sampled=S
 *             faults=N fault_p50_us=U fault_p99_us=U
 * (one access in 16 timed; those over 50 us are faults: their p50 and p99)
 * and exits 0 only when no word was wrong.  With --compressible only every
 * fourth word is random (the rest names the page and generation), so pages
 * compress about as well as ordinary memory does (zram's case); otherwise
 * every word is random and nothing compresses.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define WORDS (PAGE / 8u)

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t us_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/*
 * Swap-in latency as the program sees it: one access in SAMPLE_EVERY is timed
 * (a PV guest's clock read is a system call through Xen, ~50 us, so not every
 * one), and those slower than SLOW_US, far above a resident page's check and
 * below any trip to a swap device, count as faults.
 */
#define SAMPLE_EVERY 16u
#define SLOW_US 50u

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* splitmix64: every word of every generation of every page differs. */
static uint64_t word_of(uint64_t page, uint64_t word, uint64_t gen, uint64_t seed)
{
	uint64_t z = seed + page * 0x9e3779b97f4a7c15ull + word * 0xbf58476d1ce4e5b9ull + gen * 0x94d049bb133111ebull;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static bool compressible;

static uint64_t expected(uint64_t page, uint64_t word, uint64_t gen, uint64_t seed)
{
	if (compressible && word % 4)
		return page << 20 | gen;
	return word_of(page, word, gen, seed);
}

static void write_page(uint64_t *p, uint64_t page, uint64_t gen, uint64_t seed)
{
	for (uint64_t w = 0; w < WORDS; w++)
		p[w] = expected(page, w, gen, seed);
}

static uint64_t check_page(const uint64_t *p, uint64_t page, uint64_t gen, uint64_t seed)
{
	uint64_t bad = 0;

	for (uint64_t w = 0; w < WORDS; w++)
		bad += p[w] != expected(page, w, gen, seed);
	return bad;
}

int main(int argc, char **argv)
{
	unsigned long long mib = 0, rounds = 1, seed = 1;
	const char *wait_for = NULL;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--compressible"))
			compressible = true;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--compressible")) {
			i--;
			continue;
		}
		if (!strcmp(argv[i], "--wait")) {
			wait_for = argv[i + 1];
			continue;
		}
		unsigned long long *dst = !strcmp(argv[i], "--mib") ? &mib : !strcmp(argv[i], "--rounds") ? &rounds
					  : !strcmp(argv[i], "--seed") ? &seed : NULL;
		char *end;
		if (!dst)
			break;
		errno = 0;
		*dst = strtoull(argv[i + 1], &end, 10);
		if (errno || *end)
			*dst = 0;
	}
	if (!mib || mib > (1u << 20) || !rounds) {
		fprintf(stderr, "usage: pagework --mib N [--rounds R] [--seed S]\n");
		return 2;
	}
	uint64_t pages = mib * 256u;
	uint8_t *mem = mmap(NULL, pages * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint32_t *gen = calloc(pages, sizeof(*gen));
	if (mem == MAP_FAILED || !gen) {
		fprintf(stderr, "pagework: cannot allocate %llu MiB\n", mib);
		free(gen);
		return 1;
	}
	uint64_t t0 = ms_now();
	for (uint64_t p = 0; p < pages; p++)
		write_page((uint64_t *)(mem + p * PAGE), p, 0, seed);
	uint64_t filled = ms_now();
	if (wait_for) {
		printf("pagework: filled\n");
		fflush(stdout);
		while (access(wait_for, F_OK))
			usleep(100000);
	}
	uint64_t t1 = ms_now(), bad = 0, rewrites = 0, accesses = pages * rounds, nslow = 0;
	uint64_t x = seed * 0x2545f4914f6cdd1dull + 1;
	uint32_t *slow = calloc(accesses / SAMPLE_EVERY + 1, sizeof(*slow));
	if (!slow) {
		fprintf(stderr, "pagework: cannot allocate the latency samples\n");
		free(gen);
		munmap(mem, pages * PAGE);
		return 1;
	}
	for (uint64_t i = 0; i < accesses; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint64_t p = x % pages, t = i % SAMPLE_EVERY ? 0 : us_now();
		uint64_t *pg = (uint64_t *)(mem + p * PAGE);
		bad += check_page(pg, p, gen[p], seed);
		if (x & 0x100) {
			write_page(pg, p, ++gen[p], seed);
			rewrites++;
		}
		if (t) {
			uint64_t dt = us_now() - t;
			if (dt >= SLOW_US)
				slow[nslow++] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		}
	}
	for (uint64_t p = 0; p < pages; p++)
		bad += check_page((uint64_t *)(mem + p * PAGE), p, gen[p], seed);
	uint64_t t2 = ms_now();
	qsort(slow, nslow, sizeof(*slow), cmp_u32);
	printf("pagework: mib=%llu pages=%llu accesses=%llu rewrites=%llu bad=%llu fill_ms=%llu run_ms=%llu "
	       "sampled=%llu faults=%llu fault_p50_us=%u fault_p99_us=%u\n",
	       mib, (unsigned long long)pages, (unsigned long long)accesses, (unsigned long long)rewrites,
	       (unsigned long long)bad, (unsigned long long)(filled - t0), (unsigned long long)(t2 - t1),
	       (unsigned long long)((accesses + SAMPLE_EVERY - 1) / SAMPLE_EVERY), (unsigned long long)nslow,
	       nslow ? slow[(nslow - 1) / 2] : 0, nslow ? slow[(nslow - 1) * 99 / 100] : 0);
	free(slow);
	free(gen);
	munmap(mem, pages * PAGE);
	return bad ? 1 : 0;
}
