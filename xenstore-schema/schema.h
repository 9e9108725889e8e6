/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The XenStore schema: one description of every path xenshm uses, parsed
 * from xenstore-schema/xenshm.schema.  xsgen turns it into the C path
 * builders (xspaths.h) and docs/xenstore-paths.md; a live checker
 * (xenshm schema-check) can validate a running XenStore against it.
 *
 * File format: blocks headed by `[name]`, then `key = value` lines:
 *   path   (required) absolute pattern; variables $DOMID $DEVID $SEGID $CHANID as whole
 *          components, $IDX only at the end of the last one (ring-ref$IDX)
 *   type   (required) dir|string|integer|bool|state|gref|evtchn|domid|path|size-kb|segment
 *   perms  (required) XenStore perms, owner first: n0 r$DOMID ...
 *   writer (required) who writes it: toolstack|xenshmd|guest|admin
 *   when   (required) when it is written
 *   desc   (required) what it means
 *   group  (required) heading in the generated doc
 *   range, default    (optional) for tunables
 *   also   (optional) further keys this entry covers, by name: a dir's children, or a
 *          leaf's siblings; schema-check checks their permissions, not their values
 * `#` starts a comment line.  Unknown keys are errors.
 */
#ifndef XENSHM_SCHEMA_H
#define XENSHM_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum xss_type {
	XSS_DIR, XSS_STRING, XSS_INTEGER, XSS_BOOL, XSS_STATE, XSS_GREF, XSS_EVTCHN,
	XSS_DOMID, XSS_PATH, XSS_SIZE_KB, XSS_SEGMENT, XSS_TYPE_MAX_
};

struct xss_entry {
	char *name;
	char *path;
	enum xss_type type;
	char *perms;
	char *writer;
	char *when;
	char *desc;
	char *group;
	char *range;    /* NULL if none */
	char *defval;   /* NULL if none */
	char *also;     /* NULL if none */
	unsigned int line;
};

struct xss_schema {
	struct xss_entry *entries;
	size_t n;
};

/* 0, or -EINVAL with a "file:line: reason" message in err. */
int xss_parse(const char *text, const char *filename, struct xss_schema *out, char *err,
	      size_t errlen);
/* The file's whole text (free it), or -errno with a message in err. */
int xss_load_text(const char *filename, char **text, char *err, size_t errlen);
int xss_load(const char *filename, struct xss_schema *out, char *err, size_t errlen);
void xss_free(struct xss_schema *s);

const char *xss_type_name(enum xss_type t);
void xss_emit_header(const struct xss_schema *s, FILE *f);
void xss_emit_doc(const struct xss_schema *s, const char *srcname, FILE *f);
/* The schema's text as a C file defining `const char xss_builtin_text[]`. */
void xss_emit_ctext(const char *text, FILE *f);

/*
 * Matching live XenStore paths against the schema (match.c), for `xenshm schema-check`.
 * A binding holds the values of the variables a path matched; -1 where unbound.
 */
enum { XSS_VAR_DOMID, XSS_VAR_DEVID, XSS_VAR_SEGID, XSS_VAR_CHANID, XSS_VAR_IDX, XSS_NVARS };

struct xss_binding {
	long long var[XSS_NVARS];
};

struct xss_match {
	const struct xss_entry *entry;
	bool by_also;            /* matched one of the entry's `also` names */
	struct xss_binding bind;
};

/* Find the entry describing `path`: 0, or -ENOENT when no entry does. */
int xss_match_path(const struct xss_schema *s, const char *path, struct xss_match *m);
/* Is `path` a directory on the way to some entry (/local/domain/0/backend/xenshm/5)? */
bool xss_is_parent(const struct xss_schema *s, const char *path);
/* The permissions the schema wants for a matched path, as "n0 r5". */
int xss_expected_perms(const struct xss_match *m, char *out, size_t size);
/* Does `value` fit the entry's type and numeric range?  true, or false with a reason. */
bool xss_value_ok(const struct xss_entry *e, const char *value, char *why, size_t whylen);

#endif
