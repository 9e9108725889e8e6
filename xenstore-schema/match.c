// SPDX-License-Identifier: GPL-2.0-only
/*
 * Matching live XenStore paths and values against the schema (schema.h), for
 * `xenshm schema-check`.  Pure: no XenStore access here, so the rules are
 * unit-tested and fuzzed without Xen.  Live values are untrusted input: a
 * guest writes half of them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

#define MAX_COMPONENTS 24

static const char *const var_names[XSS_NVARS] = { "DOMID", "DEVID", "SEGID", "CHANID", "IDX" };

/* A decimal id as XenStore writes it: digits, no sign, no leading zero, below 2^32. */
static long long parse_id(const char *s, size_t len)
{
	long long v = 0;

	if (!len || len > 10 || (s[0] == '0' && len > 1))
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v > 0xffffffffLL ? -1 : v;
}

static int var_index(const char *s, size_t len)
{
	for (int i = 0; i < XSS_NVARS; i++)
		if (strlen(var_names[i]) == len && !strncmp(s, var_names[i], len))
			return i;
	return -1;
}

/* One component of a pattern against one of a path; binds variables consistently. */
static bool component_match(const char *pat, size_t plen, const char *comp, size_t clen,
			    struct xss_binding *b)
{
	const char *dollar = memchr(pat, '$', plen);

	if (!dollar)
		return plen == clen && !strncmp(pat, comp, clen);
	size_t prefix = (size_t)(dollar - pat);
	if (clen <= prefix || strncmp(pat, comp, prefix))
		return false;
	int v = var_index(dollar + 1, plen - prefix - 1);
	long long val = parse_id(comp + prefix, clen - prefix);
	if (v < 0 || val < 0 || (b->var[v] >= 0 && b->var[v] != val))
		return false;
	b->var[v] = val;
	return true;
}

/* Split on '/', skipping the leading one: the count, or -1 if too many or empty parts. */
static int split(const char *p, const char **start, size_t *len)
{
	int n = 0;

	if (*p != '/')
		return -1;
	while (*p == '/' && p[1]) {
		const char *c = p + 1, *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (!l || n == MAX_COMPONENTS)
			return -1;
		start[n] = c;
		len[n++] = l;
		p = c + l;
	}
	return n;
}

/*
 * How a path relates to one pattern: 2 the pattern itself, 1 one of its `also` names,
 * 0 no match.  `also` names a dir's children or a leaf's siblings.
 */
static int entry_match(const struct xss_entry *e, const char **pc, const size_t *pl, int pn,
		       struct xss_binding *b)
{
	const char *ec[MAX_COMPONENTS];
	size_t el[MAX_COMPONENTS];
	int en = split(e->path, ec, el);

	for (int i = 0; i < XSS_NVARS; i++)
		b->var[i] = -1;
	if (en <= 0)
		return 0;
	if (pn == en) {
		int i;
		for (i = 0; i < en && component_match(ec[i], el[i], pc[i], pl[i], b); i++)
			;
		if (i == en)
			return 2;
	}
	if (!e->also)
		return 0;
	/* The also names live beside the leaf, or inside the dir. */
	int base = e->type == XSS_DIR ? en : en - 1;
	if (pn != base + 1)
		return 0;
	for (int i = 0; i < XSS_NVARS; i++)
		b->var[i] = -1;
	for (int i = 0; i < base; i++)
		if (!component_match(ec[i], el[i], pc[i], pl[i], b))
			return 0;
	const char *a = e->also, *last = pc[base];
	size_t ll = pl[base];
	while (*a) {
		size_t l = strcspn(a, " ");
		if (l == ll && !strncmp(a, last, l))
			return 1;
		a += l;
		a += strspn(a, " ");
	}
	return 0;
}

int xss_match_path(const struct xss_schema *s, const char *path, struct xss_match *m)
{
	const char *pc[MAX_COMPONENTS];
	size_t pl[MAX_COMPONENTS];
	int pn = split(path, pc, pl);

	memset(m, 0, sizeof(*m));
	if (pn <= 0)
		return -ENOENT;
	/* The pattern itself wins over another entry's also name. */
	for (int pass = 2; pass >= 1; pass--) {
		for (size_t i = 0; i < s->n; i++) {
			struct xss_binding b;
			if (entry_match(&s->entries[i], pc, pl, pn, &b) == pass) {
				m->entry = &s->entries[i];
				m->by_also = pass == 1;
				m->bind = b;
				return 0;
			}
		}
	}
	return -ENOENT;
}

bool xss_is_parent(const struct xss_schema *s, const char *path)
{
	const char *pc[MAX_COMPONENTS], *ec[MAX_COMPONENTS];
	size_t pl[MAX_COMPONENTS], el[MAX_COMPONENTS];
	int pn = split(path, pc, pl);

	for (size_t i = 0; pn > 0 && i < s->n; i++) {
		struct xss_binding b;
		int en = split(s->entries[i].path, ec, el), j;
		for (j = 0; j < XSS_NVARS; j++)
			b.var[j] = -1;
		for (j = 0; j < pn && j < en && component_match(ec[j], el[j], pc[j], pl[j], &b); j++)
			;
		if (j == pn && pn < en)
			return true;
	}
	return false;
}

int xss_expected_perms(const struct xss_match *m, char *out, size_t size)
{
	size_t o = 0;

	for (const char *c = m->entry->perms; *c;) {
		int w;
		if (*c == '$') {
			size_t l = strspn(c + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
			int v = var_index(c + 1, l);
			if (v < 0 || m->bind.var[v] < 0)
				return -EINVAL;
			w = snprintf(out + o, size - o, "%lld", m->bind.var[v]);
			c += l + 1;
		} else {
			w = snprintf(out + o, size - o, "%c", *c++);
		}
		if (w < 0 || (size_t)w >= size - o)
			return -ENOSPC;
		o += (size_t)w;
	}
	return 0;
}

static bool whole_number(const char *s, unsigned long long *v)
{
	char *end;

	if (!*s || *s < '0' || *s > '9' || (s[0] == '0' && s[1]))
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return !*end && !errno;
}

static bool say(char *why, size_t whylen, const char *text)
{
	snprintf(why, whylen, "%s", text);
	return false;
}

/* "A .. B[, multiple of M]": the bounds that are numbers; the others (budget-kb) are not ours to check. */
static bool in_range(const char *range, unsigned long long v, char *why, size_t whylen)
{
	unsigned long long lo, hi, mult;
	char a[32] = "", b[32] = "";
	const char *m = strstr(range, "multiple of ");

	if (m && sscanf(m + 12, "%llu", &mult) == 1 && mult && v % mult) {
		snprintf(why, whylen, "%llu is not a multiple of %llu", v, mult);
		return false;
	}
	if (sscanf(range, "%31[^ .,] .. %31[^ ,]", a, b) != 2) {
		if (whole_number(range, &lo) && v != lo) {
			snprintf(why, whylen, "%llu is not %llu", v, lo);
			return false;
		}
		return true;
	}
	if (whole_number(a, &lo) && v < lo) {
		snprintf(why, whylen, "%llu is below %llu", v, lo);
		return false;
	}
	if (whole_number(b, &hi) && v > hi) {
		snprintf(why, whylen, "%llu is above %llu", v, hi);
		return false;
	}
	return true;
}

bool xss_value_ok(const struct xss_entry *e, const char *value, char *why, size_t whylen)
{
	unsigned long long v = 0, max = 0;

	switch (e->type) {
	case XSS_DIR:
	case XSS_STRING:
		return true;
	case XSS_PATH:
		return value[0] == '/' ? true : say(why, whylen, "not an absolute path");
	case XSS_SEGMENT: {
		unsigned long long pages, purpose, gref;
		char extra;
		if (sscanf(value, "%llu %llu %llu%c", &pages, &purpose, &gref, &extra) != 3 || !pages ||
		    pages > 0xffffffffULL || gref > 0xffffffffULL)
			return say(why, whylen, "not \"PAGES PURPOSE DIR-GNTREF\"");
		if (purpose < 1 || purpose > 2)
			return say(why, whylen, "purpose is not 1 (shm) or 2 (ring)");
		return true;
	}
	case XSS_BOOL:
		max = 1;
		break;
	case XSS_STATE:
		max = 8;
		break;
	case XSS_DOMID:
		max = 0x7fef; /* DOMID_FIRST_RESERVED - 1 */
		break;
	case XSS_GREF:
	case XSS_EVTCHN:
		max = 0xffffffffULL;
		break;
	case XSS_INTEGER:
	case XSS_SIZE_KB:
	default:
		max = ~0ULL;
		break;
	}
	if (!whole_number(value, &v))
		return say(why, whylen, "not a whole number");
	if (v > max) {
		snprintf(why, whylen, "%llu is above %llu for a %s", v, max, xss_type_name(e->type));
		return false;
	}
	if (e->type == XSS_STATE && v < 1)
		return say(why, whylen, "0 is not a XenBus state");
	return e->range ? in_range(e->range, v, why, whylen) : true;
}
