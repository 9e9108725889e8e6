// SPDX-License-Identifier: GPL-2.0-only
/* The xenshm admin CLI (see cli.h): commands over XenStore, human or JSON output. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dom0/devdirs.h"
#include "../dom0/envcheck.h"
#include "../dom0/peers.h"
#include "../dom0/policy.h"
#include "../dom0/pool.h"
#include "xenshm/segdir.h"
#include "xenshm/xspaths.h"
#include "cfgspec.h"
#include "cli.h"

#define SIZE_MAX_KB (1ull << 40)
#define MAX_DEVS 256

static const char *const usage_text =
	"usage: xenshm COMMAND [ARGS]    (xenshm COMMAND --help for each)\n"
	"  status [--json]                       the pool: budget, use, knobs, every device\n"
	"  list [--json]                         every device, one per line\n"
	"  show DOM [--json]                     one guest's devices in detail\n"
	"  attach DOM [--quota SIZE] [--devices N]  create the guest's devices (one per process)\n"
	"  attach DOM --memflex SIZE [--mem SIZE] [--vdev xvds]  give it a MemFlex swap disk\n"
	"  detach DOM [--memflex [--vdev NAME]]  remove them as libxl removes devices\n"
	"  set [DOM] KEY=VALUE...                host: budget, reclaim-deadline-ms,\n"
	"                                        reclaim-interval-ms, accept-pct; guest: quota\n"
	"  reclaim DOM SIZE [--device N]         ask a guest to give memory back\n"
	"  check [--budget SIZE]                 is this dom0 ready? (modules, limits, xenstored)\n"
	"  top [--interval S] [--count N] [--json]  live: pool, channel throughput, disk tiers\n"
	"  schema-check [--json]                 does the live XenStore match the schema?\n"
	"  create FILE [xl create options]       xl create with xenshm's keys (xenshm.cfg(5))\n"
	"  save DOM FILE [--release-ms MS] [xl save options]\n"
	"                                        xl save once the guest let go of its shared\n"
	"                                        memory, keeping its MemFlex swap\n"
	"  restore FILE [xl restore options]     xl restore, with the guest's MemFlex swap back\n"
	"  migrate DOM [HOST] [--release-ms MS] [--ssh CMD] [xl migrate options]\n"
	"                                        xl migrate once the guest let go of its shared\n"
	"                                        memory; its devices (and here its swap) follow it\n"
	"DOM is a domid or a name; SIZE is KiB or has a K/M/G/T suffix (4 KiB multiples).\n";

static const char *const cmd_help[][2] = {
	{ "status", "xenshm status [--json]\n  Host budget, pages in use and free, the reclaim knobs, a row per device and one per\n  MemFlex disk (size, memory tier allowed and used, spill file use).\n" },
	{ "list", "xenshm list [--json]\n  A row per device: domain, device, state, quota, use, segments, reclaim notice.\n" },
	{ "show", "xenshm show DOM [--json]\n  The guest's devices: XenStore keys, segments, reclaim notice, error node, MemPipe channels\n  (peer, name, tx/rx ring KiB, bytes sent/received, ring resizes, rx utilisation %).\n" },
	{ "attach", "xenshm attach DOM [--quota SIZE] [--devices N]\n  Create N devices (default 1; one per guest process using libxenshm at a time),\n  each with the quota SIZE (default 64M), as libxl creates devices.\n"
		    "xenshm attach DOM --memflex SIZE [--mem SIZE] [--vdev NAME]\n  Give the guest a MemFlex disk of SIZE (its stock blkfront sees /dev/NAME, default xvds;\n  mkswap and swapon it), kept in host memory up to --mem (default SIZE), the rest in\n  xenshmd's spill files.\n" },
	{ "detach", "xenshm detach DOM [--memflex [--vdev NAME]]\n  Remove the guest's xenshm devices (or, with --memflex, its MemFlex disks, or the one named)\n  the way libxl does (online=0, Closing, wait for Closed).  A disk's store is deleted with it.\n" },
	{ "set", "xenshm set [DOM] KEY=VALUE...\n  Host keys: budget=SIZE, reclaim-deadline-ms=100..600000, reclaim-interval-ms=0..3600000,\n  accept-pct=50..100.  With DOM (every device of the guest): quota=SIZE,\n  mempipe-peers=\"PEER:MAX-KB ...\" (who it may open MemPipe channels with; PEER a\n  name, domid or *; MAX-KB caps each ring, 0 = no cap; \"*:0\" = anyone).\n  Values are checked here and again by xenshmd, which applies them at once.\n" },
	{ "reclaim", "xenshm reclaim DOM SIZE [--device N]\n  Send the guest a reclaim notice for SIZE (device 0 unless --device), with the usual deadline.\n" },
	{ "create", "xenshm create FILE [xl create options]\n  Check the xenshm and memflex keys of the domain's xl config (xenshm.cfg(5)), run\n  'xl create -p FILE OPTIONS', create the devices and disks the keys ask for, unpause.\n  On any error after the domain exists it is destroyed; the message names file:line and key.\n" },
	{ "save", "xenshm save DOM FILE [--release-ms MS] [xl save options]\n  Save the domain with 'xl save'.  First its programs are asked to let go of the shared\n  memory of its xenshm devices (SHM_EV_RELEASE; a mapping kept across the suspend corrupts the\n  guest) and given MS milliseconds (default 10000); if they do not, nothing is saved and the\n  domain runs on.  Its MemFlex disks' stores are kept (not deleted when the domain dies at the\n  end of the save); disks and devices are listed in FILE.xenshm for 'xenshm restore'.\n" },
	{ "restore", "xenshm restore FILE [xl restore options]\n  'xl restore -p', the MemFlex disks of FILE.xenshm again (xenshmd takes the kept stores\n  back) and fresh xenshm devices, unpause.  The guest's swap is where the save left it; its\n  programs open their xenshm devices again.\n" },
	{ "migrate", "xenshm migrate DOM [HOST] [--release-ms MS] [--ssh CMD] [xl migrate options]\n  Migrate the domain with 'xl migrate'.  First its programs are asked to let go of the\n  shared memory of its xenshm devices, as for save; if they do not within MS ms (default\n  10000), nothing moves.  Without HOST (or with localhost) the domain moves within this host\n  ('xl migrate -s \"\" DOM \"exec xl migrate-receive -p\"'): its MemFlex disks' stores are kept\n  and given back to it under its new domid with fresh xenshm devices, then it is unpaused.\n  To another HOST ('xl migrate [-s CMD] DOM HOST'), its xenshm devices are made there by\n  'CMD HOST xenshm attach' (CMD default ssh); a domain with MemFlex disks is refused (its\n  swap is in this host's memory: swapoff and detach them first).  If xl fails and the domain\n  runs on here, the request is withdrawn and its programs open their devices again.\n" },
	{ "top", "xenshm top [--interval SECONDS] [--count N] [--json]\n  Refresh every SECONDS (default 1) until interrupted, or N times: pool use, each device's\n  use and quota, each MemPipe channel end (ring sizes, MB/s sent and received since the last\n  refresh, rx utilisation, resizes), each MemFlex disk (memory and spill tiers, reads and\n  writes per second, service time p50/p99).  --json: one object per refresh, one per line.\n" },
	{ "schema-check", "xenshm schema-check [--json]\n  Walk every XenStore node of xenshm (/tool/xenshm, the xenshm and memflex backend dirs,\n  the guests' xenshm devices and MemFlex vbds, their error nodes) and compare it with the\n  schema built into this binary (docs/xenstore-paths.md): unknown nodes, permissions other\n  than the schema's, values not of their type or range.  Exit 0 clean, 1 problems found.\n" },
	{ "check", "xenshm check [--budget SIZE]\n  Check modules, the gntalloc limit, Xen's gnttab_max_frames and xenstored against the\n  budget (from /tool/xenshm/budget-kb unless given); print the fix for each problem.\n  Exit 0 ready, 4 warnings only, 1 something fatal.\n" },
};

static const char *const state_names[] = { "unknown", "initialising", "initwait", "initialised",
					    "connected", "closing", "closed", "reconfiguring",
					    "reconfigured" };

int xshm_cli_resolve(struct xo *x, const char *arg, xo_domid_t *out)
{
	char **doms = NULL;
	unsigned int n = 0;
	int rc = -ESRCH;

	if (xo_parse_domid(arg, out) == 0)
		return 0;
	if (x->ops->xs_directory(x, XO_TXN_NONE, "/local/domain", &doms, &n))
		return -ESRCH;
	for (unsigned int i = 0; i < n && rc; i++) {
		char *name = NULL;
		xo_domid_t d;
		if (xo_parse_domid(doms[i], &d) == 0 && xo_domain_name(x, d, &name) == 0 && !strcmp(name, arg)) {
			*out = d;
			rc = 0;
		}
		free(name);
	}
	xo_free_strv(doms);
	return rc;
}

static unsigned int numbered_children(struct xo *x, const char *path, uint32_t *ids, unsigned int max)
{
	unsigned int n;

	return xo_list_ids(x, path, 0x7fef, ids, max, &n) ? 0 : n;
}

static long long read_num(struct xo *x, const char *path)
{
	char *v = NULL;
	unsigned long long n;
	long long out = -1;

	if (!xo_read_str(x, XO_TXN_NONE, path, &v) && !xo_parse_uint(v, 1ull << 50, &n))
		out = (long long)n;
	free(v);
	return out;
}

static char *read_or_null(struct xo *x, const char *path)
{
	char *v = NULL;

	return xo_read_str(x, XO_TXN_NONE, path, &v) ? NULL : v;
}

/* What one device looks like from XenStore. */
struct dev_row {
	xo_domid_t domid;
	uint32_t devid;
	char name[64];
	long long state, quota_kb;
	unsigned long long used_kb;
	unsigned int segments;
	char *reclaim, *error, *release;
	/* MemPipe channel ends and listeners (schema: be-channel). */
	uint32_t chan_ids[32];
	char *chans[32];
	unsigned int nchans;
};

static void row_fill(struct xo *x, xo_domid_t domid, uint32_t devid, struct dev_row *r)
{
	char path[XSP_MAX + 16], *name = NULL;
	uint32_t segs[1024];

	memset(r, 0, sizeof(*r));
	r->domid = domid;
	r->devid = devid;
	snprintf(r->name, sizeof(r->name), "%s", xo_domain_name(x, domid, &name) ? "?" : name);
	free(name);
	xsp_be_state(path, sizeof(path), domid, devid);
	r->state = read_num(x, path);
	xsp_be_quota_kb(path, sizeof(path), domid, devid);
	r->quota_kb = read_num(x, path);
	xsp_be_reclaim(path, sizeof(path), domid, devid);
	r->reclaim = read_or_null(x, path);
	xsp_be_error(path, sizeof(path), domid, devid);
	r->error = read_or_null(x, path);
	xsp_be_release(path, sizeof(path), domid, devid);
	r->release = read_or_null(x, path);
	xsp_be_dir(path, sizeof(path), domid, devid);
	strncat(path, "/segment", sizeof(path) - strlen(path) - 1);
	r->segments = numbered_children(x, path, segs, 1024);
	for (unsigned int i = 0; i < r->segments; i++) {
		char *v = NULL;
		unsigned int pages = 0;
		if (!xsp_be_segment(path, sizeof(path), domid, devid, segs[i]) &&
		    !xo_read_str(x, XO_TXN_NONE, path, &v) && sscanf(v, "%u", &pages) == 1)
			r->used_kb += ((unsigned long long)pages + xshm_segdir_pages(pages)) * 4;
		free(v);
	}
	xsp_be_dir(path, sizeof(path), domid, devid);
	strncat(path, "/channel", sizeof(path) - strlen(path) - 1);
	r->nchans = numbered_children(x, path, r->chan_ids, 32);
	for (unsigned int i = 0; i < r->nchans; i++) {
		xsp_be_channel(path, sizeof(path), domid, devid, r->chan_ids[i]);
		r->chans[i] = read_or_null(x, path);
	}
}

static void row_free(struct dev_row *r)
{
	free(r->reclaim);
	free(r->error);
	free(r->release);
	for (unsigned int i = 0; i < r->nchans; i++)
		free(r->chans[i]);
}

static const char *state_name(long long st)
{
	return st >= 0 && st < (long long)(sizeof(state_names) / sizeof(state_names[0])) ? state_names[st] : "?";
}

void xshm_json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void row_json(FILE *out, const struct dev_row *r)
{
	fprintf(out, "{\"domid\":%u,\"name\":", r->domid);
	xshm_json_str(out, r->name);
	fprintf(out, ",\"devid\":%u,\"state\":%lld,\"state_name\":\"%s\",\"quota_kb\":%lld,\"used_kb\":%llu,"
		     "\"segments\":%u,\"reclaim\":",
		r->devid, r->state, state_name(r->state), r->quota_kb, r->used_kb, r->segments);
	xshm_json_str(out, r->reclaim);
	fputs(",\"error\":", out);
	xshm_json_str(out, r->error);
	fputs(",\"release_ms\":", out);
	xshm_json_str(out, r->release);
	fputs(",\"channels\":[", out);
	for (unsigned int i = 0; i < r->nchans; i++) {
		fprintf(out, "%s{\"id\":%u,\"info\":", i ? "," : "", r->chan_ids[i]);
		xshm_json_str(out, r->chans[i]);
		fputc('}', out);
	}
	fputs("]}", out);
}

static void row_header(FILE *out)
{
	fprintf(out, "%5s %-16s %3s %-12s %10s %10s %5s  %s\n", "DOMID", "NAME", "DEV", "STATE",
		"QUOTA_KiB", "USED_KiB", "SEGS", "RECLAIM");
}

static void row_print(FILE *out, const struct dev_row *r)
{
	fprintf(out, "%5u %-16.16s %3u %-12s %10lld %10llu %5u  %s%s%s%s%s\n", r->domid, r->name, r->devid,
		state_name(r->state), r->quota_kb, r->used_kb, r->segments, r->reclaim ? r->reclaim : "-",
		r->release ? "  releasing for a save (ms): " : "", r->release ? r->release : "",
		r->error ? "  error: " : "", r->error ? r->error : "");
}

/* Every device of every domain (or of one), in domid/devid order. */
static unsigned int all_rows(struct xo *x, int only, struct dev_row **out)
{
	uint32_t doms[1024], devs[MAX_DEVS];
	unsigned int nd = numbered_children(x, "/local/domain/0/backend/xenshm", doms, 1024), n = 0;
	struct dev_row *rows = NULL;

	for (unsigned int i = 0; i < nd; i++) {
		char path[XSP_MAX];
		if (only >= 0 && doms[i] != (uint32_t)only)
			continue;
		snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", doms[i]);
		unsigned int nv = numbered_children(x, path, devs, MAX_DEVS);
		struct dev_row *more = realloc(rows, sizeof(*rows) * (n + nv + 1));
		if (!more)
			break;
		rows = more;
		for (unsigned int j = 0; j < nv; j++)
			row_fill(x, (xo_domid_t)doms[i], devs[j], &rows[n++]);
	}
	*out = rows;
	return n;
}

static void rows_free(struct dev_row *rows, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		row_free(&rows[i]);
	free(rows);
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], flag))
			return true;
	return false;
}

static int cmd_status(struct xo *x, int argc, char **argv, FILE *out, bool with_host)
{
	bool json = has_flag(argc, argv, "--json");
	struct dev_row *rows;
	unsigned int n = all_rows(x, -1, &rows);
	char path[XSP_MAX];
	long long budget, used, deadline, interval, accept;

	xsp_tool_budget_kb(path, sizeof(path));
	budget = read_num(x, path);
	xsp_tool_used_kb(path, sizeof(path));
	used = read_num(x, path);
	xsp_tool_reclaim_deadline_ms(path, sizeof(path));
	deadline = read_num(x, path);
	xsp_tool_reclaim_interval_ms(path, sizeof(path));
	interval = read_num(x, path);
	xsp_tool_accept_pct(path, sizeof(path));
	accept = read_num(x, path);
	if (deadline < 0)
		deadline = XSHM_POLICY_DEADLINE_MS_DEFAULT;
	if (interval < 0)
		interval = XSHM_POLICY_INTERVAL_MS_DEFAULT;
	if (accept < 0)
		accept = XSHM_POLICY_ACCEPT_PCT_DEFAULT;
	char *refused = NULL;
	if (with_host && !xsp_tool_error(path, sizeof(path)))
		xo_read_str(x, XO_TXN_NONE, path, &refused);
	if (json) {
		fputc('{', out);
		if (with_host) {
			fprintf(out, "\"budget_kb\":%lld,\"used_kb\":%lld,\"free_kb\":%lld,\"xenshmd\":%s,"
				     "\"reclaim_deadline_ms\":%lld,\"reclaim_interval_ms\":%lld,\"accept_pct\":%lld,",
				budget, used, budget >= 0 && used >= 0 && budget > used ? budget - used : 0,
				used >= 0 ? "true" : "false", deadline, interval, accept);
			fputs("\"refused_setting\":", out);
			xshm_json_str(out, refused);
			fputc(',', out);
		}
		fputs("\"devices\":[", out);
		for (unsigned int i = 0; i < n; i++) {
			if (i)
				fputc(',', out);
			row_json(out, &rows[i]);
		}
		fputs("],", out);
		xshm_cli_memflex_all(x, true, out);
		fputs("}\n", out);
	} else {
		if (with_host) {
			if (budget >= 0)
				fprintf(out, "host budget %lld KiB", budget);
			else
				fprintf(out, "host budget: xenshmd's --budget-kb (no /tool/xenshm/budget-kb)");
			if (used >= 0)
				fprintf(out, ", used %lld KiB", used);
			if (budget >= 0 && used >= 0)
				fprintf(out, ", free %lld KiB", budget > used ? budget - used : 0);
			fprintf(out, "%s\n", used < 0 ? "; xenshmd has not run (no used-kb)" : "");
			fprintf(out, "reclaim: deadline %lld ms, interval %lld ms, accept below %lld%%\n", deadline,
				interval, accept);
			if (refused)
				fprintf(out, "refused setting: %s\n", refused);
		}
		row_header(out);
		for (unsigned int i = 0; i < n; i++)
			row_print(out, &rows[i]);
		xshm_cli_memflex_all(x, false, out);
	}
	rows_free(rows, n);
	free(refused);
	return XSHM_CLI_OK;
}

static int cmd_show(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out)
{
	bool json = has_flag(argc, argv, "--json");
	struct dev_row *rows;
	unsigned int n = all_rows(x, domid, &rows);

	if (json)
		fputc('[', out);
	for (unsigned int i = 0; i < n; i++) {
		char path[XSP_MAX + 16], *fe = NULL, *ring = NULL, *port = NULL;
		if (json) {
			if (i)
				fputc(',', out);
			row_json(out, &rows[i]);
			continue;
		}
		xsp_fe_state(path, sizeof(path), domid, rows[i].devid);
		fe = read_or_null(x, path);
		xsp_be_ring_ref(path, sizeof(path), domid, rows[i].devid);
		ring = read_or_null(x, path);
		xsp_be_event_channel(path, sizeof(path), domid, rows[i].devid);
		port = read_or_null(x, path);
		fprintf(out, "domain %u (%s) device xenshm/%u\n", domid, rows[i].name, rows[i].devid);
		fprintf(out, "  backend state   %lld (%s)\n  frontend state  %s\n", rows[i].state,
			state_name(rows[i].state), fe ? fe : "-");
		fprintf(out, "  quota           %lld KiB\n  in use          %llu KiB in %u segments\n",
			rows[i].quota_kb, rows[i].used_kb, rows[i].segments);
		fprintf(out, "  control page    gref %s, port %s\n", ring ? ring : "-", port ? port : "-");
		fprintf(out, "  reclaim         %s\n", rows[i].reclaim ? rows[i].reclaim : "none in flight");
		if (rows[i].error)
			fprintf(out, "  error           %s\n", rows[i].error);
		/* "PEER NAME TX-KB RX-KB SENT RECEIVED RESIZES UTIL%" or "listen NAME" */
		for (unsigned int c = 0; c < rows[i].nchans; c++)
			fprintf(out, "  channel %-7u %s\n", rows[i].chan_ids[c], rows[i].chans[c] ? rows[i].chans[c] : "?");
		free(fe);
		free(ring);
		free(port);
	}
	unsigned int disks = xshm_cli_memflex_show(x, domid, json, n == 0, out);
	if (json)
		fputs("]\n", out);
	rows_free(rows, n);
	return n + disks ? XSHM_CLI_OK : XSHM_CLI_NOTFOUND;
}

/* One KEY=VALUE of `set`: checked against xenshmd's ranges, then written. */
static int set_one(struct xo *x, int domid, const char *kv, FILE *err)
{
	char key[64], path[XSP_MAX];
	const char *eq = strchr(kv, '='), *val;
	unsigned long long n;
	uint64_t kb;

	if (!eq || (size_t)(eq - kv) >= sizeof(key)) {
		fprintf(err, "xenshm set: '%s' is not KEY=VALUE\n", kv);
		return XSHM_CLI_USAGE;
	}
	snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
	val = eq + 1;
	if (domid >= 0) {
		int (*node)(char *, size_t, unsigned int, unsigned int);
		char value[XSHM_PEERS_LEN_MAX + 1], why[160];
		if (!strcmp(key, "quota")) {
			if (xshm_parse_size_kb(val, SIZE_MAX_KB, &kb)) {
				fprintf(err, "xenshm set: quota '%s' is not a size in whole 4 KiB pages\n", val);
				return XSHM_CLI_USAGE;
			}
			snprintf(value, sizeof(value), "%llu", (unsigned long long)kb);
			node = xsp_be_quota_kb;
		} else if (!strcmp(key, "mempipe-peers")) {
			if (xshm_peers_match(val, XO_DOMID_FIRST_RESERVED, NULL, &kb, why, sizeof(why)) < 0) {
				fprintf(err, "xenshm set: mempipe-peers: %s\n", why);
				return XSHM_CLI_USAGE;
			}
			snprintf(value, sizeof(value), "%s", val);
			node = xsp_be_mempipe_peers;
		} else {
			fprintf(err, "xenshm set: a guest's keys are quota and mempipe-peers (got '%s')\n", key);
			return XSHM_CLI_USAGE;
		}
		uint32_t devs[MAX_DEVS];
		snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%d", domid);
		unsigned int nd = numbered_children(x, path, devs, MAX_DEVS);
		if (!nd) {
			fprintf(err, "xenshm set: domain %d has no xenshm device\n", domid);
			return XSHM_CLI_NOTFOUND;
		}
		for (unsigned int i = 0; i < nd; i++) {
			node(path, sizeof(path), (unsigned int)domid, devs[i]);
			if (xo_write_str(x, XO_TXN_NONE, path, value))
				return XSHM_CLI_FAIL;
		}
		return XSHM_CLI_OK;
	}
	if (!strcmp(key, "budget")) {
		if (xshm_parse_size_kb(val, SIZE_MAX_KB, &kb)) {
			fprintf(err, "xenshm set: budget '%s' is not a size in whole 4 KiB pages\n", val);
			return XSHM_CLI_USAGE;
		}
		xsp_tool_budget_kb(path, sizeof(path));
		return xo_printf(x, XO_TXN_NONE, path, "%llu", (unsigned long long)kb) ? XSHM_CLI_FAIL : XSHM_CLI_OK;
	}
	static const struct { const char *key; int (*path)(char *, size_t); unsigned long long min, max; } knobs[] = {
		{ "reclaim-deadline-ms", xsp_tool_reclaim_deadline_ms, XSHM_POLICY_DEADLINE_MS_MIN, XSHM_POLICY_DEADLINE_MS_MAX },
		{ "reclaim-interval-ms", xsp_tool_reclaim_interval_ms, 0, XSHM_POLICY_INTERVAL_MS_MAX },
		{ "accept-pct", xsp_tool_accept_pct, XSHM_POLICY_ACCEPT_PCT_MIN, XSHM_POLICY_ACCEPT_PCT_MAX },
	};
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		if (strcmp(key, knobs[i].key))
			continue;
		if (xo_parse_uint(val, knobs[i].max, &n) || n < knobs[i].min) {
			fprintf(err, "xenshm set: %s wants %llu .. %llu, got '%s'\n", key, knobs[i].min,
				knobs[i].max, val);
			return XSHM_CLI_USAGE;
		}
		knobs[i].path(path, sizeof(path));
		return xo_printf(x, XO_TXN_NONE, path, "%llu", n) ? XSHM_CLI_FAIL : XSHM_CLI_OK;
	}
	fprintf(err, "xenshm set: unknown key '%s' (budget, reclaim-deadline-ms, reclaim-interval-ms, accept-pct)\n",
		key);
	return XSHM_CLI_USAGE;
}

struct check_ctx {
	FILE *out;
	int warnings;
};

static void check_report(void *arg, bool fatal, const char *what, const char *fix)
{
	struct check_ctx *c = arg;

	fprintf(c->out, "%s: %s\n  fix: %s\n", fatal ? "FATAL" : "warning", what, fix);
	if (!fatal)
		c->warnings++;
}

static int cmd_check(struct xo *x, int argc, char **argv, FILE *out, FILE *err, const char *root)
{
	struct check_ctx c = { out, 0 };
	uint64_t kb = 0;
	char path[XSP_MAX];

	if (argc == 3 && !strcmp(argv[1], "--budget")) {
		if (xshm_parse_size_kb(argv[2], SIZE_MAX_KB, &kb)) {
			fprintf(err, "xenshm check: --budget '%s' is not a size\n", argv[2]);
			return XSHM_CLI_USAGE;
		}
	} else if (argc != 1) {
		return XSHM_CLI_USAGE;
	} else {
		xsp_tool_budget_kb(path, sizeof(path));
		long long b = read_num(x, path);
		kb = b >= 0 ? (uint64_t)b : 262144; /* xenshmd's default budget */
	}
	int fatal = xshm_env_check(x, root, kb / 4, check_report, &c);
	if (!fatal && !c.warnings)
		fprintf(out, "ready for a budget of %llu KiB\n", (unsigned long long)kb);
	return fatal ? XSHM_CLI_FAIL : c.warnings ? XSHM_CLI_WARN : XSHM_CLI_OK;
}

static int help_for(const char *cmd, FILE *out)
{
	for (size_t i = 0; i < sizeof(cmd_help) / sizeof(cmd_help[0]); i++) {
		if (!strcmp(cmd, cmd_help[i][0])) {
			fputs(cmd_help[i][1], out);
			return XSHM_CLI_OK;
		}
	}
	fputs(usage_text, out);
	return XSHM_CLI_OK;
}

int xshm_cli(struct xo *x, int argc, char **argv, FILE *out, FILE *err, const char *root)
{
	const char *cmd = argc > 0 ? argv[0] : "";
	xo_domid_t domid = 0;
	int rc = XSHM_CLI_OK;

	if (!argc || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		fputs(usage_text, argc ? out : err);
		return argc ? XSHM_CLI_OK : XSHM_CLI_USAGE;
	}
	if (has_flag(argc, argv, "--help"))
		return help_for(cmd, out);
	if (!strcmp(cmd, "status") || !strcmp(cmd, "list")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json")))
			goto usage;
		return cmd_status(x, argc, argv, out, !strcmp(cmd, "status"));
	}
	if (!strcmp(cmd, "top"))
		return xshm_cli_top(x, argc, argv, out, err);
	if (!strcmp(cmd, "schema-check")) {
		if (argc > 2 || (argc == 2 && strcmp(argv[1], "--json"))) {
			help_for(cmd, err);
			return XSHM_CLI_USAGE;
		}
		return xshm_cli_schema_check(x, argc == 2, out, err);
	}
	if (!strcmp(cmd, "check"))
		return cmd_check(x, argc, argv, out, err, root);
	if (!strcmp(cmd, "restore")) {
		rc = xshm_cli_restore(x, argc, argv, out, err);
		if (rc == XSHM_CLI_USAGE && argc < 2)
			goto usage;
		return rc;
	}
	if (!strcmp(cmd, "create")) {
		rc = xshm_cli_create(x, argc, argv, out, err);
		if (rc == XSHM_CLI_USAGE && argc < 2)
			goto usage;
		return rc;
	}
	/* Everything else names a domain first (set may not). */
	bool host_set = !strcmp(cmd, "set") && argc >= 2 && strchr(argv[1], '=');
	if (!host_set) {
		if (argc < 2)
			goto usage;
		if (xshm_cli_resolve(x, argv[1], &domid)) {
			fprintf(err, "xenshm %s: no domain '%s'\n", cmd, argv[1]);
			return XSHM_CLI_NOTFOUND;
		}
	}
	if (!strcmp(cmd, "show")) {
		if (argc > 3 || (argc == 3 && strcmp(argv[2], "--json")))
			goto usage;
		rc = cmd_show(x, domid, argc, argv, out);
		if (rc == XSHM_CLI_NOTFOUND)
			fprintf(err, "xenshm show: domain %u has no xenshm device or MemFlex disk\n", domid);
		return rc;
	}
	if (!strcmp(cmd, "migrate")) {
		rc = xshm_cli_migrate(x, domid, argc, argv, out, err);
		if (rc == XSHM_CLI_USAGE)
			help_for(cmd, err);
		return rc;
	}
	if (!strcmp(cmd, "save")) {
		rc = xshm_cli_save(x, domid, argc, argv, out, err);
		if (rc == XSHM_CLI_USAGE)
			goto usage;
		return rc;
	}
	if (!strcmp(cmd, "attach") && has_flag(argc, argv, "--memflex")) {
		rc = xshm_cli_memflex_attach(x, domid, argc, argv, err);
		if (rc == XSHM_CLI_USAGE)
			goto usage;
		return rc;
	}
	if (!strcmp(cmd, "detach") && argc >= 3 && !strcmp(argv[2], "--memflex")) {
		if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--vdev")))
			goto usage;
		return xshm_cli_memflex_detach(x, domid, argc == 5 ? argv[4] : NULL, err);
	}
	if (!strcmp(cmd, "attach")) {
		uint64_t quota_kb = 65536;
		unsigned long long ndev = 1;
		for (int i = 2; i < argc; i += 2) {
			if (i + 1 >= argc)
				goto usage;
			if (!strcmp(argv[i], "--quota") || !strcmp(argv[i], "--quota-kb")) {
				if (xshm_parse_size_kb(argv[i + 1], SIZE_MAX_KB, &quota_kb)) {
					fprintf(err, "xenshm attach: --quota '%s' is not a size in whole 4 KiB pages\n",
						argv[i + 1]);
					return XSHM_CLI_USAGE;
				}
			} else if (!strcmp(argv[i], "--devices")) {
				if (xo_parse_uint(argv[i + 1], MAX_DEVS, &ndev) || !ndev) {
					fprintf(err, "xenshm attach: --devices wants 1 .. %d, got '%s'\n", MAX_DEVS,
						argv[i + 1]);
					return XSHM_CLI_USAGE;
				}
			} else {
				goto usage;
			}
		}
		for (uint32_t d = 0; d < ndev; d++) {
			int r = xshm_device_create(x, domid, d, quota_kb);
			if (r) {
				fprintf(err, "xenshm attach: domain %u device %u: %s\n", domid, d, strerror(-r));
				return XSHM_CLI_FAIL;
			}
		}
		return XSHM_CLI_OK;
	}
	if (!strcmp(cmd, "detach")) {
		uint32_t devs[MAX_DEVS];
		char path[XSP_MAX];
		if (argc != 2)
			goto usage;
		snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", domid);
		unsigned int nd = numbered_children(x, path, devs, MAX_DEVS);
		if (!nd) {
			fprintf(err, "xenshm detach: domain %u has no xenshm device\n", domid);
			return XSHM_CLI_NOTFOUND;
		}
		for (unsigned int i = 0; i < nd; i++) {
			int r = xshm_device_remove(x, domid, devs[i], 10000);
			if (r) {
				fprintf(err, "xenshm detach: domain %u device %u: %s\n", domid, devs[i], strerror(-r));
				rc = XSHM_CLI_FAIL;
			}
		}
		return rc;
	}
	if (!strcmp(cmd, "set")) {
		int first = host_set ? 1 : 2;
		if (argc <= first)
			goto usage;
		for (int i = first; i < argc && rc == XSHM_CLI_OK; i++)
			rc = set_one(x, host_set ? -1 : (int)domid, argv[i], err);
		return rc;
	}
	if (!strcmp(cmd, "reclaim")) {
		unsigned long long devid = 0;
		uint64_t kb;
		char path[XSP_MAX];
		if (argc != 3 && !(argc == 5 && !strcmp(argv[3], "--device")))
			goto usage;
		if (argc == 5 && xo_parse_uint(argv[4], MAX_DEVS - 1, &devid))
			goto usage;
		if (xshm_parse_size_kb(argv[2], SIZE_MAX_KB, &kb) || !kb) {
			fprintf(err, "xenshm reclaim: '%s' is not a size in whole 4 KiB pages\n", argv[2]);
			return XSHM_CLI_USAGE;
		}
		xsp_be_state(path, sizeof(path), domid, (unsigned int)devid);
		if (read_num(x, path) < 0) {
			fprintf(err, "xenshm reclaim: domain %u has no xenshm device %llu\n", domid, devid);
			return XSHM_CLI_NOTFOUND;
		}
		xsp_be_reclaim_kb(path, sizeof(path), domid, (unsigned int)devid);
		return xo_printf(x, XO_TXN_NONE, path, "%llu", (unsigned long long)kb) ? XSHM_CLI_FAIL : XSHM_CLI_OK;
	}
	fprintf(err, "xenshm: unknown command '%s'\n", cmd);
usage:
	fputs(usage_text, err);
	return XSHM_CLI_USAGE;
}
