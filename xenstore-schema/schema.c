// SPDX-License-Identifier: GPL-2.0-only
/*
 * Parser, validator and emitters of the XenStore schema (see schema.h).
 * The same parse feeds both the C header and the doc, so the two cannot
 * disagree; a unit test and `make schema-doc-check` keep the committed doc
 * in step with the source.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static const char *const type_names[XSS_TYPE_MAX_] = {
	[XSS_DIR] = "dir", [XSS_STRING] = "string", [XSS_INTEGER] = "integer",
	[XSS_BOOL] = "bool", [XSS_STATE] = "state", [XSS_GREF] = "gref",
	[XSS_EVTCHN] = "evtchn", [XSS_DOMID] = "domid", [XSS_PATH] = "path",
	[XSS_SIZE_KB] = "size-kb", [XSS_SEGMENT] = "segment",
};

/* How each type reads in the doc, in xenstore-paths.pandoc's notation. */
static const char *const type_doc[XSS_TYPE_MAX_] = {
	[XSS_DIR] = "(directory)", [XSS_STRING] = "STRING", [XSS_INTEGER] = "INTEGER",
	[XSS_BOOL] = "(0|1)", [XSS_STATE] = "XENBUS_STATE (1..8)", [XSS_GREF] = "GNTREF",
	[XSS_EVTCHN] = "EVTCHN", [XSS_DOMID] = "DOMID", [XSS_PATH] = "PATH",
	[XSS_SIZE_KB] = "MEMKB", [XSS_SEGMENT] = "\"PAGES PURPOSE DIR-GNTREF\"",
};

static const char *const writers[] = { "toolstack", "xenshmd", "guest", "admin" };
static const char *const vars[] = { "$DOMID", "$DEVID", "$SEGID", "$CHANID", "$IDX" };
#define NVARS (sizeof(vars) / sizeof(vars[0]))

const char *xss_type_name(enum xss_type t)
{
	return (unsigned int)t < XSS_TYPE_MAX_ ? type_names[t] : "?";
}

static int fail(char *err, size_t errlen, const char *file, unsigned int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *file, unsigned int line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s:%u: ", file, line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

static bool name_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

/* A pattern: XenStore's path characters, plus the known $VARIABLES as whole components. */
static const char *path_problem(const char *p)
{
	if (p[0] != '/')
		return "path must be absolute";
	if (strlen(p) > 3072)
		return "path longer than XENSTORE_ABS_PATH_MAX";
	if (strstr(p, "//") || (strlen(p) > 1 && p[strlen(p) - 1] == '/'))
		return "empty path component";
	for (const char *c = p; *c; c++) {
		if (*c == '$') {
			size_t i;
			for (i = 0; i < NVARS; i++) {
				size_t n = strlen(vars[i]);
				if (strncmp(c, vars[i], n))
					continue;
				/* $IDX ends the last component (ring-ref$IDX); the others are whole components. */
				if (!strcmp(vars[i], "$IDX") ? c[n] == 0 && c[-1] != '/'
							     : (c[n] == '/' || c[n] == 0) && c[-1] == '/')
					break;
			}
			if (i == NVARS)
				return "unknown variable or misplaced (known: $DOMID $DEVID $SEGID $CHANID as "
				       "components, $IDX ending the last one)";
			c += strlen(vars[i]) - 1;
			continue;
		}
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
		      *c == '-' || *c == '/' || *c == '_' || *c == '@'))
			return "character not allowed in a XenStore path";
	}
	return NULL;
}

static bool perms_ok(const char *s)
{
	char buf[256];
	int count = 0;

	if (strlen(s) >= sizeof(buf))
		return false;
	snprintf(buf, sizeof(buf), "%s", s);
	for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
		if (!strchr("nrwb", tok[0]))
			return false;
		const char *id = tok + 1;
		if (!strcmp(id, "$DOMID")) {
			count++;
			continue;
		}
		if (!*id || (id[0] == '0' && id[1]))
			return false;
		for (const char *c = id; *c; c++)
			if (*c < '0' || *c > '9')
				return false;
		count++;
	}
	return count > 0 && count <= 5;
}

static int set_field(struct xss_entry *e, const char *key, const char *val, const char *file,
		     unsigned int line, char *err, size_t errlen)
{
	char **slot = NULL;

	if (!strcmp(key, "path"))
		slot = &e->path;
	else if (!strcmp(key, "perms"))
		slot = &e->perms;
	else if (!strcmp(key, "writer"))
		slot = &e->writer;
	else if (!strcmp(key, "when"))
		slot = &e->when;
	else if (!strcmp(key, "desc"))
		slot = &e->desc;
	else if (!strcmp(key, "group"))
		slot = &e->group;
	else if (!strcmp(key, "range"))
		slot = &e->range;
	else if (!strcmp(key, "default"))
		slot = &e->defval;
	else if (!strcmp(key, "also"))
		slot = &e->also;
	else if (!strcmp(key, "type")) {
		for (int t = 0; t < XSS_TYPE_MAX_; t++) {
			if (!strcmp(val, type_names[t])) {
				e->type = (enum xss_type)t;
				return 0;
			}
		}
		return fail(err, errlen, file, line, "unknown type '%s'", val);
	} else {
		return fail(err, errlen, file, line, "unknown key '%s'", key);
	}
	if (*slot)
		return fail(err, errlen, file, line, "key '%s' given twice", key);
	if (!*val)
		return fail(err, errlen, file, line, "key '%s' is empty", key);
	*slot = strdup(val);
	return *slot ? 0 : -ENOMEM;
}

static int check_entry(const struct xss_entry *e, bool type_set, const char *file, char *err,
		       size_t errlen)
{
	const char *why;

	if (!e->path || !type_set || !e->perms || !e->writer || !e->when || !e->desc || !e->group)
		return fail(err, errlen, file, e->line,
			    "[%s] needs path, type, perms, writer, when, desc and group", e->name);
	if ((why = path_problem(e->path)))
		return fail(err, errlen, file, e->line, "[%s] %s", e->name, why);
	if (!perms_ok(e->perms))
		return fail(err, errlen, file, e->line, "[%s] bad perms '%s'", e->name, e->perms);
	if (e->also) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "%s", e->also);
		for (char *save = NULL, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save))
			if (strspn(tok, "abcdefghijklmnopqrstuvwxyz0123456789-_") != strlen(tok))
				return fail(err, errlen, file, e->line, "[%s] bad name '%s' in also", e->name, tok);
	}
	for (size_t i = 0; i < sizeof(writers) / sizeof(writers[0]); i++)
		if (!strcmp(e->writer, writers[i]))
			return 0;
	return fail(err, errlen, file, e->line, "[%s] unknown writer '%s'", e->name, e->writer);
}

static void entry_free(struct xss_entry *e)
{
	free(e->name);
	free(e->path);
	free(e->perms);
	free(e->writer);
	free(e->when);
	free(e->desc);
	free(e->group);
	free(e->range);
	free(e->defval);
	free(e->also);
}

void xss_free(struct xss_schema *s)
{
	for (size_t i = 0; i < s->n; i++)
		entry_free(&s->entries[i]);
	free(s->entries);
	s->entries = NULL;
	s->n = 0;
}

int xss_parse(const char *text, const char *file, struct xss_schema *out, char *err, size_t errlen)
{
	char *copy = strdup(text), *save = NULL;
	struct xss_entry *cur = NULL;
	bool type_set = false;
	unsigned int lineno = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return -ENOMEM;
	/* strtok_r skips empty lines, so count lines by hand. */
	for (char *line = copy, *next; line && !rc; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		lineno++;
		char *s = trim(line);
		if (!*s || *s == '#')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end || end[1]) {
				rc = fail(err, errlen, file, lineno, "bad section header");
				break;
			}
			if (cur && (rc = check_entry(cur, type_set, file, err, errlen)))
				break;
			*end = 0;
			if (!name_ok(s + 1)) {
				rc = fail(err, errlen, file, lineno, "bad entry name '%s'", s + 1);
				break;
			}
			for (size_t i = 0; i < out->n; i++)
				if (!strcmp(out->entries[i].name, s + 1))
					rc = fail(err, errlen, file, lineno, "duplicate entry '%s'", s + 1);
			if (rc)
				break;
			struct xss_entry *v = realloc(out->entries, (out->n + 1) * sizeof(*v));
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			out->entries = v;
			cur = &out->entries[out->n++];
			memset(cur, 0, sizeof(*cur));
			cur->line = lineno;
			cur->name = strdup(s + 1);
			type_set = false;
			if (!cur->name)
				rc = -ENOMEM;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!cur) {
			rc = fail(err, errlen, file, lineno, "key outside an entry");
		} else if (!eq) {
			rc = fail(err, errlen, file, lineno, "expected 'key = value'");
		} else {
			*eq = 0;
			char *key = trim(s), *val = trim(eq + 1);
			rc = set_field(cur, key, val, file, lineno, err, errlen);
			if (!rc && !strcmp(key, "type"))
				type_set = true;
		}
	}
	(void)save;
	if (!rc && cur)
		rc = check_entry(cur, type_set, file, err, errlen);
	if (!rc && !out->n)
		rc = fail(err, errlen, file, lineno, "no entries");
	free(copy);
	if (rc)
		xss_free(out);
	return rc;
}

int xss_load_text(const char *filename, char **text, char *err, size_t errlen)
{
	FILE *f = fopen(filename, "r");
	size_t len = 0;

	*text = NULL;
	if (!f) {
		int rc = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s: %s", filename, strerror(-rc));
		return rc;
	}
	FILE *m = open_memstream(text, &len);
	char buf[4096];
	size_t n;
	while (m && (n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, m);
	fclose(f);
	if (!m)
		return -ENOMEM;
	fclose(m);
	return *text ? 0 : -ENOMEM;
}

int xss_load(const char *filename, struct xss_schema *out, char *err, size_t errlen)
{
	char *text;
	int rc = xss_load_text(filename, &text, err, errlen);

	if (!rc)
		rc = text ? xss_parse(text, filename, out, err, errlen) : -ENOMEM;
	free(text);
	return rc;
}

/* ---------- emitters ---------- */

static void c_ident(const char *name, char *out, size_t size, bool upper)
{
	size_t i;

	for (i = 0; name[i] && i + 1 < size; i++) {
		char c = name[i] == '-' ? '_' : name[i];
		out[i] = upper && c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
	out[i] = 0;
}

void xss_emit_header(const struct xss_schema *s, FILE *f)
{
	fprintf(f, "/* SPDX-License-Identifier: LGPL-2.1-only */\n"
		   "/* Generated by xsgen from xenstore-schema/xenshm.schema: do not edit. */\n"
		   "#ifndef XENSHM_XSPATHS_H\n#define XENSHM_XSPATHS_H\n\n"
		   "#include \"xenshm/xspath.h\"\n\n");
	for (size_t i = 0; i < s->n; i++) {
		const struct xss_entry *e = &s->entries[i];
		char lower[128], upper[128], fmt[3200], params[256] = "", args[256] = "";
		size_t o = 0;

		c_ident(e->name, lower, sizeof(lower), false);
		c_ident(e->name, upper, sizeof(upper), true);
		for (const char *c = e->path; *c && o + 3 < sizeof(fmt);) {
			size_t v;
			for (v = 0; v < NVARS; v++)
				if (!strncmp(c, vars[v], strlen(vars[v])))
					break;
			if (*c == '$' && v < NVARS) {
				char pname[16];
				c_ident(vars[v] + 1, pname, sizeof(pname), false);
				for (char *p = pname; *p; p++)
					*p = (char)(*p - 'A' + 'a');
				fmt[o++] = '%';
				fmt[o++] = 'u';
				size_t pl = strlen(params), al = strlen(args);
				snprintf(params + pl, sizeof(params) - pl, ", unsigned int %s", pname);
				snprintf(args + al, sizeof(args) - al, ", %s", pname);
				c += strlen(vars[v]);
			} else {
				fmt[o++] = *c++;
			}
		}
		fmt[o] = 0;
		fprintf(f, "/* %s (%s, written by %s) */\n", e->name, type_names[e->type], e->writer);
		fprintf(f, "#define XSP_%s_FMT \"%s\"\n", upper, fmt);
		fprintf(f, "static inline int xsp_%s(char *buf, size_t size%s)\n{\n"
			   "\treturn xsp_format(buf, size, XSP_%s_FMT%s);\n}\n\n",
			lower, params, upper, args);
	}
	fprintf(f, "#endif\n");
}

void xss_emit_doc(const struct xss_schema *s, const char *srcname, FILE *f)
{
	fprintf(f, "# XenStore paths used by xenshm\n\n"
		   "<!-- Generated by xsgen from %s: edit the schema, then run `make schema-doc`. -->\n\n"
		   "Notation follows Xen's `docs/misc/xenstore-paths.pandoc`: `$DOMID` is the guest's\n"
		   "domain id, `$DEVID` the device id (0 per guest), `$SEGID` a segment id,\n"
		   "`$CHANID` the id of a MemPipe channel end.\n"
		   "Permissions are XenStore's, owner first: `n0 r$DOMID` means dom0 owns the node and\n"
		   "the guest may read it; the first entry's letter applies to every domain not listed.\n"
		   "Every value a guest can write is an untrusted request: xenshmd parses it strictly\n"
		   "and never takes it as a fact.\n",
		srcname);
	for (size_t i = 0; i < s->n; i++) {
		const struct xss_entry *e = &s->entries[i];
		bool first = true;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->entries[j].group, e->group))
				first = false;
		if (!first)
			continue;
		fprintf(f, "\n## %s\n", e->group);
		for (size_t j = i; j < s->n; j++) {
			const struct xss_entry *g = &s->entries[j];
			if (strcmp(g->group, e->group))
				continue;
			fprintf(f, "\n#### `%s` = %s\n\n%s\n\n", g->path, type_doc[g->type], g->desc);
			fprintf(f, "- perms: `%s`; written by: %s; when: %s\n", g->perms, g->writer,
				g->when);
			if (g->range)
				fprintf(f, "- range: %s\n", g->range);
			if (g->defval)
				fprintf(f, "- default: %s\n", g->defval);
			if (g->also)
				fprintf(f, "- also covers (%s): `%s`\n", g->type == XSS_DIR ? "children" : "siblings",
					g->also);
		}
	}
}

void xss_emit_ctext(const char *text, FILE *f)
{
	fprintf(f, "/* Generated by xsgen from xenstore-schema/xenshm.schema: do not edit. */\n"
		   "const char xss_builtin_text[] =\n\t\"");
	for (const char *c = text; *c; c++) {
		if (*c == '\n')
			fprintf(f, c[1] ? "\\n\"\n\t\"" : "\\n");
		else if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else
			fputc(*c, f);
	}
	fprintf(f, "\";\n");
}
