// SPDX-License-Identifier: GPL-2.0-only
/* The CLI's MemFlex commands: attach/detach a swap disk, show it (see cli.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../backend/memflex.h"
#include "../dom0/devdirs.h"
#include "xenshm/xspaths.h"
#include "cfgspec.h"
#include "cli.h"

#define MF_SIZE_MAX_KB (UINT64_C(1) << 30)
#define MF_MAX_DISKS 64

int xshm_cli_memflex_attach(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *err)
{
	uint64_t size_kb = 0, mem_kb = UINT64_MAX;
	const char *vdev = "xvds";
	uint32_t devid;

	for (int i = 2; i < argc; i += 2) {
		uint64_t *dst = NULL;
		if (i + 1 >= argc)
			return XSHM_CLI_USAGE;
		if (!strcmp(argv[i], "--memflex"))
			dst = &size_kb;
		else if (!strcmp(argv[i], "--mem"))
			dst = &mem_kb;
		else if (!strcmp(argv[i], "--vdev"))
			vdev = argv[i + 1];
		else
			return XSHM_CLI_USAGE;
		if (dst && (xshm_parse_size_kb(argv[i + 1], MF_SIZE_MAX_KB, dst) || (dst == &size_kb && !*dst))) {
			fprintf(err, "xenshm attach: %s '%s' is not a size in whole 4 KiB pages (up to 1T)\n",
				argv[i], argv[i + 1]);
			return XSHM_CLI_USAGE;
		}
	}
	if (xshm_vbd_devid(vdev, &devid)) {
		fprintf(err, "xenshm attach: --vdev '%s' is not a disk name like xvdb or xvds\n", vdev);
		return XSHM_CLI_USAGE;
	}
	if (mem_kb == UINT64_MAX)
		mem_kb = size_kb;
	if (mem_kb > size_kb) {
		fprintf(err, "xenshm attach: --mem is more than the disk (%llu KiB)\n", (unsigned long long)size_kb);
		return XSHM_CLI_USAGE;
	}
	char path[XSP_MAX], *v = NULL;
	xsp_mf_fe_dir(path, sizeof(path), domid, devid);
	/* A vbd of that name (blkback's or ours) already there: never overwrite a guest's disk. */
	if (xo_read_str(x, XO_TXN_NONE, path, &v) == 0) {
		free(v);
		fprintf(err, "xenshm attach: domain %u already has a disk %s (vbd %u)\n", domid, vdev, devid);
		return XSHM_CLI_FAIL;
	}
	int rc = xshm_memflex_create(x, domid, devid, vdev, size_kb, mem_kb);
	if (rc) {
		fprintf(err, "xenshm attach: domain %u disk memflex/%u (%s): %s\n", domid, devid, vdev, strerror(-rc));
		return XSHM_CLI_FAIL;
	}
	return XSHM_CLI_OK;
}

static unsigned int disks_of(struct xo *x, xo_domid_t domid, uint32_t *ids, unsigned int max)
{
	char path[XSP_MAX];
	unsigned int n = 0;

	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u", domid);
	if (xo_list_ids(x, path, UINT32_MAX, ids, max, &n))
		return 0;
	return n;
}

int xshm_cli_memflex_detach(struct xo *x, xo_domid_t domid, const char *vdev, FILE *err)
{
	uint32_t ids[MF_MAX_DISKS], want = 0;
	unsigned int n = disks_of(x, domid, ids, MF_MAX_DISKS);
	int rc = XSHM_CLI_NOTFOUND;

	if (vdev && xshm_vbd_devid(vdev, &want)) {
		fprintf(err, "xenshm detach: '%s' is not a disk name like xvds\n", vdev);
		return XSHM_CLI_USAGE;
	}
	for (unsigned int i = 0; i < n; i++) {
		if (vdev && ids[i] != want)
			continue;
		int r = xshm_memflex_remove(x, domid, ids[i], 10000);
		if (r) {
			fprintf(err, "xenshm detach: domain %u disk memflex/%u: %s\n", domid, ids[i], strerror(-r));
			return XSHM_CLI_FAIL;
		}
		rc = XSHM_CLI_OK;
	}
	if (rc == XSHM_CLI_NOTFOUND)
		fprintf(err, "xenshm detach: domain %u has no MemFlex disk%s%s\n", domid, vdev ? " " : "",
			vdev ? vdev : "");
	return rc;
}

static char *be_read(struct xo *x, xo_domid_t domid, uint32_t devid, const char *key)
{
	char dir[XSP_MAX], path[XSP_MAX + 32], *v = NULL;

	xsp_mf_be_dir(dir, sizeof(dir), domid, devid);
	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xo_read_str(x, XO_TXN_NONE, path, &v) ? NULL : v;
}

/* The stats node's key=value words as JSON members (numbers only; anything else is skipped). */
static void stats_json(FILE *out, const char *stats)
{
	char *copy = strdup(stats ? stats : ""), *save = NULL;

	for (char *w = copy ? strtok_r(copy, " ", &save) : NULL; w; w = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(w, '=');
		unsigned long long v;
		if (!eq)
			continue;
		*eq = '\0';
		if (xo_parse_uint(eq + 1, UINT64_MAX, &v))
			continue;
		for (char *c = w; *c; c++)
			if (*c == '-')
				*c = '_';
		fprintf(out, ",\"%s\":%llu", w, v);
	}
	free(copy);
}

unsigned int xshm_cli_memflex_show(struct xo *x, xo_domid_t domid, bool json, bool first, FILE *out)
{
	uint32_t ids[MF_MAX_DISKS];
	unsigned int n = disks_of(x, domid, ids, MF_MAX_DISKS);
	static const char *const keys[] = { "dev", "state", "size-kb", "mem-kb", "stats" };

	for (unsigned int i = 0; i < n; i++) {
		char *v[5], path[XSP_MAX], *err = NULL;
		for (unsigned int k = 0; k < 5; k++)
			v[k] = be_read(x, domid, ids[i], keys[k]);
		xsp_mf_be_error(path, sizeof(path), domid, ids[i]);
		if (xo_read_str(x, XO_TXN_NONE, path, &err))
			err = NULL;
		if (json) {
			if (!first || i)
				fputc(',', out);
			fprintf(out, "{\"kind\":\"memflex\",\"domid\":%u,\"devid\":%u,\"dev\":", domid, ids[i]);
			xshm_json_str(out, v[0]);
			fprintf(out, ",\"state\":%s,\"size_kb\":%s,\"mem_quota_kb\":%s", v[1] ? v[1] : "null",
				v[2] ? v[2] : "null", v[3] ? v[3] : "null");
			stats_json(out, v[4]);
			fputs(",\"error\":", out);
			if (err)
				xshm_json_str(out, err);
			else
				fputs("null", out);
			fputc('}', out);
		} else {
			fprintf(out, "domain %u disk memflex/%u (%s)\n", domid, ids[i], v[0] ? v[0] : "?");
			fprintf(out, "  backend state   %s\n  size            %s KiB\n  memory up to    %s KiB\n",
				v[1] ? v[1] : "-", v[2] ? v[2] : "-", v[3] ? v[3] : "-");
			fprintf(out, "  stats           %s\n", v[4] ? v[4] : "none yet");
			if (err)
				fprintf(out, "  error           %s\n", err);
		}
		for (unsigned int k = 0; k < 5; k++)
			free(v[k]);
		free(err);
	}
	return n;
}

long long xshm_stats_word(const char *stats, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = stats; p && *p;) {
		if (!strncmp(p, key, n) && p[n] == '=')
			return atoll(p + n + 1);
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	return -1;
}

unsigned int xshm_cli_memflex_all(struct xo *x, bool json, FILE *out)
{
	uint32_t doms[256];
	unsigned int nd = 0, total = 0;

	if (xo_list_ids(x, "/local/domain/0/backend/memflex", XO_DOMID_FIRST_RESERVED - 1, doms, 256, &nd))
		nd = 0;
	if (json) {
		fputs("\"disks\":[", out);
		for (unsigned int i = 0; i < nd; i++)
			total += xshm_cli_memflex_show(x, doms[i], true, total == 0, out);
		fputs("]", out);
		return total;
	}
	for (unsigned int i = 0; i < nd; i++) {
		uint32_t ids[MF_MAX_DISKS];
		unsigned int n = disks_of(x, doms[i], ids, MF_MAX_DISKS);
		for (unsigned int j = 0; j < n; j++) {
			char *dev = be_read(x, doms[i], ids[j], "dev"), *st = be_read(x, doms[i], ids[j], "state");
			char *size = be_read(x, doms[i], ids[j], "size-kb"), *mem = be_read(x, doms[i], ids[j], "mem-kb");
			char *stats = be_read(x, doms[i], ids[j], "stats");
			if (!total++)
				fprintf(out, "%-6s %-6s %-6s %10s %10s %10s %10s\n", "DOMAIN", "DISK", "STATE", "SIZE-KB",
					"MEM-MAX-KB", "MEM-KB", "SPILL-KB");
			fprintf(out, "%-6u %-6s %-6s %10s %10s %10lld %10lld\n", doms[i], dev ? dev : "?", st ? st : "-",
				size ? size : "-", mem ? mem : "-", stats ? xshm_stats_word(stats, "mem-kb") : -1,
				stats ? xshm_stats_word(stats, "disk-kb") : -1);
			free(dev);
			free(st);
			free(size);
			free(mem);
			free(stats);
		}
	}
	return total;
}
