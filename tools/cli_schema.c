// SPDX-License-Identifier: GPL-2.0-only
/*
 * `xenshm schema-check`: walk every XenStore node xenshm owns or serves and
 * compare it with the schema built into the binary (xenstore-schema/): each
 * node must be described, carry the permissions the schema gives it, and hold
 * a value of its type and range.  Wrong permissions are how one guest reads
 * another's device or rewrites dom0's side, so they are reported by path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../xenstore-schema/schema.h"
#include "cli.h"

extern const char xss_builtin_text[];

#define MAX_DEPTH 8
#define MAX_DOMAINS 1024

struct walk {
	struct xo *x;
	const struct xss_schema *s;
	FILE *out;
	bool json;
	unsigned int nodes, problems;
	uint32_t gone[64];      /* domains already reported as left behind */
	unsigned int ngone;
};

static void perms_text(const struct xo_perm *p, unsigned int n, char *out, size_t size)
{
	static const char letters[] = { 'n', 'r', 'w', 'b' };
	size_t o = 0;

	out[0] = 0;
	for (unsigned int i = 0; i < n && o < size; i++) {
		int w = snprintf(out + o, size - o, "%s%c%u", i ? " " : "", letters[p[i].perms & 3],
				 (unsigned int)p[i].domid);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void problem(struct walk *w, const char *path, const char *what, const char *detail)
{
	if (w->json) {
		fprintf(w->out, "%s{\"path\":", w->problems ? "," : "");
		xshm_json_str(w->out, path);
		fprintf(w->out, ",\"problem\":");
		xshm_json_str(w->out, what);
		fprintf(w->out, ",\"detail\":");
		xshm_json_str(w->out, detail);
		fputc('}', w->out);
	} else {
		fprintf(w->out, "%s: %s: %s\n", path, what, detail);
	}
	w->problems++;
}

static void check_node(struct walk *w, const char *path)
{
	struct xss_match m;
	struct xo_perm *perms = NULL;
	unsigned int np = 0;
	char *untrusted_value = NULL, want[128], have[128], why[160];
	size_t len;

	w->nodes++;
	if (xss_match_path(w->s, path, &m)) {
		if (!xss_is_parent(w->s, path))
			problem(w, path, "unknown node", "no schema entry describes it");
		return;
	}
	if (!w->x->ops->xs_get_perms(w->x, XO_TXN_NONE, path, &perms, &np)) {
		perms_text(perms, np, have, sizeof(have));
		if (xss_expected_perms(&m, want, sizeof(want)) == 0 && strcmp(want, have)) {
			char detail[300];
			snprintf(detail, sizeof(detail), "are '%s', the schema ([%s]) says '%s'", have,
				 m.entry->name, want);
			problem(w, path, "wrong permissions", detail);
		}
	}
	free(perms);
	long long domid = m.bind.var[XSS_VAR_DOMID];
	struct xo_dominfo info;
	if (domid > 0 && w->x->ops->domain_info(w->x, (xo_domid_t)domid, &info) == -ESRCH) {
		bool said = false;
		for (unsigned int i = 0; i < w->ngone; i++)
			said |= w->gone[i] == (uint32_t)domid;
		if (!said && w->ngone < sizeof(w->gone) / sizeof(w->gone[0])) {
			char detail[96];
			w->gone[w->ngone++] = (uint32_t)domid;
			snprintf(detail, sizeof(detail), "domain %lld does not exist (its nodes are left over)", domid);
			problem(w, path, "left behind", detail);
		}
	}
	if (m.by_also || w->x->ops->xs_read(w->x, XO_TXN_NONE, path, &untrusted_value, &len))
		return;
	if (!xss_value_ok(m.entry, untrusted_value, why, sizeof(why))) {
		char detail[400];
		snprintf(detail, sizeof(detail), "'%.64s' is not a valid %s ([%s]): %s", untrusted_value,
			 xss_type_name(m.entry->type), m.entry->name, why);
		problem(w, path, "bad value", detail);
	}
	free(untrusted_value);
}

static void walk_tree(struct walk *w, const char *path, unsigned int depth)
{
	char **kids = NULL;
	unsigned int n = 0;

	check_node(w, path);
	if (depth >= MAX_DEPTH || w->x->ops->xs_directory(w->x, XO_TXN_NONE, path, &kids, &n))
		return;
	for (unsigned int i = 0; i < n; i++) {
		char child[512];
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", path, kids[i]) < sizeof(child))
			walk_tree(w, child, depth + 1);
		free(kids[i]);
	}
	free(kids);
}

/* Only the vbds whose backend is MemFlex are ours; blkback's belong to libxl. */
static void walk_memflex_vbds(struct walk *w, uint32_t domid)
{
	char path[128], **kids = NULL;
	unsigned int n = 0;

	snprintf(path, sizeof(path), "/local/domain/%u/device/vbd", domid);
	if (w->x->ops->xs_directory(w->x, XO_TXN_NONE, path, &kids, &n))
		return;
	for (unsigned int i = 0; i < n; i++) {
		char dev[192], key[224], *untrusted_backend = NULL;
		snprintf(dev, sizeof(dev), "%s/%s", path, kids[i]);
		snprintf(key, sizeof(key), "%s/backend", dev);
		if (!xo_read_str(w->x, XO_TXN_NONE, key, &untrusted_backend) &&
		    !strncmp(untrusted_backend, "/local/domain/0/backend/memflex/", 32)) {
			walk_tree(w, dev, 0);
			snprintf(key, sizeof(key), "/local/domain/%u/error/device/vbd/%s", domid, kids[i]);
			walk_tree(w, key, 0);
		}
		free(untrusted_backend);
		free(kids[i]);
	}
	free(kids);
}

static int load_schema(struct xss_schema *s, FILE *err)
{
	char why[512];
	int rc = xss_parse(xss_builtin_text, "xenshm.schema", s, why, sizeof(why));

	if (rc)
		fprintf(err, "xenshm schema-check: the built-in schema does not parse: %s\n", why);
	return rc;
}

int xshm_cli_schema_check(struct xo *x, bool json, FILE *out, FILE *err)
{
	static const char *const roots[] = {
		"/tool/xenshm", "/local/domain/0/backend/xenshm", "/local/domain/0/backend/memflex",
		"/local/domain/0/error/backend/xenshm", "/local/domain/0/error/backend/memflex",
	};
	struct xss_schema s;
	struct walk w = { .x = x, .s = &s, .out = out, .json = json };
	uint32_t doms[MAX_DOMAINS];
	unsigned int nd = 0;
	char *v = NULL;

	if (load_schema(&s, err))
		return XSHM_CLI_FAIL;
	if (json)
		fprintf(out, "{\"problems\":[");
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
		if (!xo_read_str(x, XO_TXN_NONE, roots[i], &v)) {
			free(v);
			walk_tree(&w, roots[i], 0);
		}
	xo_list_ids(x, "/local/domain", XO_DOMID_FIRST_RESERVED - 1, doms, MAX_DOMAINS, &nd);
	for (unsigned int i = 0; i < nd; i++) {
		char path[128];
		snprintf(path, sizeof(path), "/local/domain/%u/device/xenshm", doms[i]);
		if (!xo_read_str(x, XO_TXN_NONE, path, &v)) {
			free(v);
			walk_tree(&w, path, 0);
		}
		snprintf(path, sizeof(path), "/local/domain/%u/error/device/xenshm", doms[i]);
		if (!xo_read_str(x, XO_TXN_NONE, path, &v)) {
			free(v);
			walk_tree(&w, path, 0);
		}
		walk_memflex_vbds(&w, doms[i]);
	}
	if (json)
		fprintf(out, "],\"nodes\":%u,\"domains\":%u}\n", w.nodes, nd);
	else
		fprintf(out, "schema-check: %u nodes in %u domains, %u problem%s\n", w.nodes, nd, w.problems,
			w.problems == 1 ? "" : "s");
	xss_free(&s);
	return w.problems ? XSHM_CLI_FAIL : XSHM_CLI_OK;
}
