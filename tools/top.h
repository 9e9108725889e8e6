/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * `xenshm top` (cli_top.c): samples of the pool, MemPipe channels and MemFlex
 * disks read from XenStore; rates are counter differences between two samples.
 */
#ifndef XENSHM_TOOLS_TOP_H
#define XENSHM_TOOLS_TOP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "xenshm/xenops.h"

#define TOP_MAX_ROWS 512

enum top_kind { TOP_DEVICE, TOP_CHANNEL, TOP_DISK };

struct top_row {
	enum top_kind kind;
	uint32_t domid, devid, id, peer; /* id, peer: a channel's id and peer domain */
	char what[64];                   /* channel: its name; disk: its vdev */
	/* device: used, quota; channel: tx, rx ring KiB, util %, resizes; disk: mem, disk KiB, p50, p99 */
	long long gauge[4];
	/* channel: bytes sent, received; disk: reads, writes (requests) */
	unsigned long long count[2];
};

struct top_sample {
	double t;
	long long budget_kb, used_kb;
	struct top_row rows[TOP_MAX_ROWS];
	unsigned int n;
};

/* Every device, channel and disk now, stamped with t (seconds, any clock). */
int xshm_top_sample(struct xo *x, struct top_sample *s, double t);
/* One screen (or one JSON line); prev may be NULL (rates are then 0). */
void xshm_top_print(const struct top_sample *prev, const struct top_sample *cur, bool json, FILE *out);

#endif
