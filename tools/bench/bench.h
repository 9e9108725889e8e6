/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef XENSHM_BENCH_H
#define XENSHM_BENCH_H

#include <stdio.h>

/* One benchmark of xenshm-bench: parses its own options after the subcommand. */
int ring_bench_main(int argc, char **argv);
int mempipe_bench_main(int argc, char **argv);

double bench_now(void);
/* Host description for result files: CPU model, kernel, date. */
void bench_host(char *buf, size_t size);
void bench_pin(int cpu);

#endif
