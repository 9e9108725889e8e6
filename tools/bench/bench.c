// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm-bench: the project's benchmarks.  Each writes a Markdown table and
 * a JSON file (one record per configuration and size, units in key names)
 * so that runs can be compared by tools.  Benchmarks are not tests: they
 * assert nothing and report ratios measured in the same run.
 */
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>

#include "bench.h"

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	sched_setaffinity(0, sizeof(set), &set); /* best effort: fewer CPUs just share */
}

void bench_host(char *buf, size_t size)
{
	char model[128] = "unknown cpu", line[256];
	struct utsname u;
	FILE *f = fopen("/proc/cpuinfo", "r");
	time_t t = time(NULL);
	char date[32];

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
			model[strcspn(model, "\n")] = 0;
			break;
		}
	}
	if (f)
		fclose(f);
	uname(&u);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M UTC", gmtime(&t));
	snprintf(buf, size, "%s, Linux %s, %s", model, u.release, date);
}

static void usage(void)
{
	fprintf(stderr, "usage: xenshm-bench ring [--md FILE] [--json FILE] [--seconds S]\n"
			"       xenshm-bench mempipe [--md FILE] [--json FILE] [--mib N]\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage();
		return 2;
	}
	if (!strcmp(argv[1], "ring"))
		return ring_bench_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "mempipe"))
		return mempipe_bench_main(argc - 1, argv + 1);
	usage();
	return 2;
}
