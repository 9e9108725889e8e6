// SPDX-License-Identifier: GPL-2.0-only
/*
 * `xenshm top`: the pool, every MemPipe channel and every MemFlex disk, sampled
 * from XenStore every interval; throughputs are the differences of xenshmd's
 * counters between two samples, so top costs xenshmd nothing.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "top.h"

static long long read_ll(struct xo *x, const char *path)
{
	char *v = NULL;
	unsigned long long n;
	long long r = -1;

	if (!xo_read_str(x, XO_TXN_NONE, path, &v) && !xo_parse_uint(v, INT64_MAX, &n))
		r = (long long)n;
	free(v);
	return r;
}

static struct top_row *add_row(struct top_sample *s, enum top_kind kind, uint32_t domid, uint32_t devid)
{
	if (s->n == TOP_MAX_ROWS)
		return NULL;
	struct top_row *r = &s->rows[s->n++];
	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->domid = domid;
	r->devid = devid;
	return r;
}

static void sample_device(struct xo *x, struct top_sample *s, uint32_t domid, uint32_t devid)
{
	char path[160], dir[128];
	uint32_t ids[1024];
	unsigned int n = 0;
	struct top_row *r = add_row(s, TOP_DEVICE, domid, devid);

	if (!r)
		return;
	snprintf(dir, sizeof(dir), "/local/domain/0/backend/xenshm/%u/%u", domid, devid);
	snprintf(path, sizeof(path), "%s/quota-kb", dir);
	r->gauge[1] = read_ll(x, path);
	snprintf(path, sizeof(path), "%s/segment", dir);
	if (!xo_list_ids(x, path, UINT32_MAX, ids, 1024, &n))
		for (unsigned int i = 0; i < n; i++) {
			char *v = NULL;
			unsigned int pages;
			snprintf(path, sizeof(path), "%s/segment/%u", dir, ids[i]);
			if (!xo_read_str(x, XO_TXN_NONE, path, &v) && sscanf(v, "%u", &pages) == 1)
				r->gauge[0] += (long long)pages * 4;
			free(v);
		}
	snprintf(path, sizeof(path), "%s/channel", dir);
	if (xo_list_ids(x, path, UINT32_MAX, ids, 1024, &n))
		return;
	for (unsigned int i = 0; i < n; i++) {
		char *untrusted = NULL, name[64];
		unsigned int peer, resizes, util;
		long long txkb, rxkb;
		unsigned long long sent, recvd;
		snprintf(path, sizeof(path), "%s/channel/%u", dir, ids[i]);
		/* Listeners ("listen NAME") carry no traffic. */
		if (!xo_read_str(x, XO_TXN_NONE, path, &untrusted) &&
		    sscanf(untrusted, "%u %63s %lld %lld %llu %llu %u %u", &peer, name, &txkb, &rxkb, &sent,
			   &recvd, &resizes, &util) == 8) {
			struct top_row *c = add_row(s, TOP_CHANNEL, domid, devid);
			if (c) {
				c->id = ids[i];
				c->peer = peer;
				snprintf(c->what, sizeof(c->what), "%s", name);
				c->gauge[0] = txkb;
				c->gauge[1] = rxkb;
				c->gauge[2] = util;
				c->gauge[3] = resizes;
				c->count[0] = sent;
				c->count[1] = recvd;
			}
		}
		free(untrusted);
	}
}

static void sample_disk(struct xo *x, struct top_sample *s, uint32_t domid, uint32_t devid)
{
	char path[160], *dev = NULL, *stats = NULL;
	struct top_row *r = add_row(s, TOP_DISK, domid, devid);

	if (!r)
		return;
	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u/%u/dev", domid, devid);
	snprintf(r->what, sizeof(r->what), "%s", xo_read_str(x, XO_TXN_NONE, path, &dev) ? "?" : dev);
	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u/%u/stats", domid, devid);
	if (xo_read_str(x, XO_TXN_NONE, path, &stats))
		stats = NULL;
	static const char *const gauges[] = { "mem-kb", "disk-kb", "p50-us", "p99-us" };
	for (int i = 0; i < 4; i++)
		r->gauge[i] = xshm_stats_word(stats, gauges[i]);
	long long reads = xshm_stats_word(stats, "reads"), writes = xshm_stats_word(stats, "writes");
	r->count[0] = reads < 0 ? 0 : (unsigned long long)reads;
	r->count[1] = writes < 0 ? 0 : (unsigned long long)writes;
	free(dev);
	free(stats);
}

/* Every device, channel and disk, now. */
int xshm_top_sample(struct xo *x, struct top_sample *s, double t)
{
	uint32_t doms[256], devs[64];
	unsigned int nd = 0, nv = 0;
	static const char *const roots[] = { "/local/domain/0/backend/xenshm", "/local/domain/0/backend/memflex" };

	s->n = 0;
	s->t = t;
	s->budget_kb = read_ll(x, "/tool/xenshm/budget-kb");
	s->used_kb = read_ll(x, "/tool/xenshm/used-kb");
	for (int k = 0; k < 2; k++) {
		if (xo_list_ids(x, roots[k], XO_DOMID_FIRST_RESERVED - 1, doms, 256, &nd))
			continue;
		for (unsigned int i = 0; i < nd; i++) {
			char path[96];
			snprintf(path, sizeof(path), "%s/%u", roots[k], doms[i]);
			if (xo_list_ids(x, path, UINT32_MAX, devs, 64, &nv))
				continue;
			for (unsigned int j = 0; j < nv; j++) {
				if (k == 0)
					sample_device(x, s, doms[i], devs[j]);
				else
					sample_disk(x, s, doms[i], devs[j]);
			}
		}
	}
	return 0;
}

/* The same row in the previous sample (a channel is one end: domain, device, id). */
static const struct top_row *find_prev(const struct top_sample *prev, const struct top_row *r)
{
	for (unsigned int i = 0; prev && i < prev->n; i++) {
		const struct top_row *p = &prev->rows[i];
		if (p->kind == r->kind && p->domid == r->domid && p->devid == r->devid && p->id == r->id)
			return p;
	}
	return NULL;
}

/* Per second between two samples; 0 without a previous one or across a counter reset. */
static double rate(const struct top_sample *prev, const struct top_sample *cur, const struct top_row *r, int i)
{
	const struct top_row *p = find_prev(prev, r);
	double dt = prev ? cur->t - prev->t : 0;

	if (!p || dt <= 0 || r->count[i] < p->count[i])
		return 0;
	return (double)(r->count[i] - p->count[i]) / dt;
}

static void print_human(const struct top_sample *prev, const struct top_sample *cur, FILE *out)
{
	unsigned int head[3] = { 0, 0, 0 }; /* rows printed per kind: the header goes before the first */

	fprintf(out, "xenshm top: pool %lld of %lld KiB in use\n", cur->used_kb, cur->budget_kb);
	for (unsigned int i = 0; i < cur->n; i++) {
		const struct top_row *r = &cur->rows[i];
		if (r->kind == TOP_DEVICE) {
			if (!head[0]++)
				fprintf(out, "%-6s %-4s %10s %10s\n", "DOMAIN", "DEV", "USED-KB", "QUOTA-KB");
			fprintf(out, "%-6u %-4u %10lld %10lld\n", r->domid, r->devid, r->gauge[0], r->gauge[1]);
		}
	}
	for (unsigned int i = 0; i < cur->n; i++) {
		const struct top_row *r = &cur->rows[i];
		if (r->kind == TOP_CHANNEL) {
			if (!head[1]++)
				fprintf(out, "%-6s %-4s %-4s %-16s %-6s %7s %7s %10s %10s %5s %7s\n", "DOMAIN", "DEV", "CHAN",
					"NAME", "PEER", "TX-KB", "RX-KB", "SENT-MB/s", "RECV-MB/s", "UTIL%", "RESIZES");
			fprintf(out, "%-6u %-4u %-4u %-16s %-6u %7lld %7lld %10.2f %10.2f %5lld %7lld\n", r->domid,
				r->devid, r->id, r->what, r->peer, r->gauge[0], r->gauge[1], rate(prev, cur, r, 0) / 1e6,
				rate(prev, cur, r, 1) / 1e6, r->gauge[2], r->gauge[3]);
		}
	}
	for (unsigned int i = 0; i < cur->n; i++) {
		const struct top_row *r = &cur->rows[i];
		if (r->kind == TOP_DISK) {
			if (!head[2]++)
				fprintf(out, "%-6s %-6s %10s %10s %9s %9s %7s %7s\n", "DOMAIN", "DISK", "MEM-KB", "DISK-KB",
					"READS/s", "WRITES/s", "P50-US", "P99-US");
			fprintf(out, "%-6u %-6s %10lld %10lld %9.1f %9.1f %7lld %7lld\n", r->domid, r->what, r->gauge[0],
				r->gauge[1], rate(prev, cur, r, 0), rate(prev, cur, r, 1), r->gauge[2], r->gauge[3]);
		}
	}
}

static void print_json(const struct top_sample *prev, const struct top_sample *cur, FILE *out)
{
	static const char *const kinds[] = { "device", "channel", "disk" };

	fprintf(out, "{\"t\":%.3f,\"budget_kb\":%lld,\"used_kb\":%lld,\"rows\":[", cur->t, cur->budget_kb,
		cur->used_kb);
	for (unsigned int i = 0; i < cur->n; i++) {
		const struct top_row *r = &cur->rows[i];
		fprintf(out, "%s{\"kind\":\"%s\",\"domid\":%u,\"devid\":%u", i ? "," : "", kinds[r->kind], r->domid,
			r->devid);
		if (r->kind == TOP_DEVICE) {
			fprintf(out, ",\"used_kb\":%lld,\"quota_kb\":%lld}", r->gauge[0], r->gauge[1]);
		} else if (r->kind == TOP_CHANNEL) {
			fprintf(out, ",\"chan\":%u,\"name\":", r->id);
			xshm_json_str(out, r->what);
			fprintf(out, ",\"peer\":%u,\"tx_kb\":%lld,\"rx_kb\":%lld,\"util_pct\":%lld,\"resizes\":%lld,"
				     "\"sent\":%llu,\"received\":%llu,\"sent_Bps\":%.0f,\"received_Bps\":%.0f}",
				r->peer, r->gauge[0], r->gauge[1], r->gauge[2], r->gauge[3], r->count[0], r->count[1],
				rate(prev, cur, r, 0), rate(prev, cur, r, 1));
		} else {
			fprintf(out, ",\"mem_kb\":%lld,\"disk_kb\":%lld,\"p50_us\":%lld,\"p99_us\":%lld,"
				     "\"reads_per_s\":%.1f,\"writes_per_s\":%.1f}",
				r->gauge[0], r->gauge[1], r->gauge[2], r->gauge[3], rate(prev, cur, r, 0),
				rate(prev, cur, r, 1));
		}
	}
	fprintf(out, "]}\n");
}

void xshm_top_print(const struct top_sample *prev, const struct top_sample *cur, bool json, FILE *out)
{
	if (json)
		print_json(prev, cur, out);
	else
		print_human(prev, cur, out);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int xshm_cli_top(struct xo *x, int argc, char **argv, FILE *out, FILE *err)
{
	double interval = 1.0;
	unsigned long long count = 0;
	bool json = false;
	int rc = XSHM_CLI_OK;

	for (int i = 1; i < argc; i++) {
		char *end = NULL;
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--interval") && i + 1 < argc) {
			interval = strtod(argv[++i], &end);
			if (!end || *end || !isfinite(interval) || interval < 0.05 || interval > 3600) {
				fprintf(err, "xenshm top: --interval wants seconds from 0.05 to 3600\n");
				return XSHM_CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			if (xo_parse_uint(argv[++i], 1000000000, &count) || !count) {
				fprintf(err, "xenshm top: --count wants a whole number above 0\n");
				return XSHM_CLI_USAGE;
			}
		} else {
			fprintf(err, "usage: xenshm top [--interval SECONDS] [--count N] [--json]\n");
			return XSHM_CLI_USAGE;
		}
	}
	struct top_sample *prev = calloc(1, sizeof(*prev)), *cur = calloc(1, sizeof(*cur));
	bool have_prev = false, clear = !json && isatty(fileno(out));
	if (!prev || !cur) {
		rc = XSHM_CLI_FAIL;
		goto out;
	}
	for (unsigned long long k = 0; !count || k < count; k++) {
		if (k)
			usleep((useconds_t)(interval * 1e6));
		xshm_top_sample(x, cur, now_s());
		if (clear)
			fputs("\033[H\033[2J", out);
		else if (k && !json)
			fputc('\n', out);
		xshm_top_print(have_prev ? prev : NULL, cur, json, out);
		fflush(out);
		struct top_sample *t = prev;
		prev = cur;
		cur = t;
		have_prev = true;
	}
out:
	free(prev);
	free(cur);
	return rc;
}
