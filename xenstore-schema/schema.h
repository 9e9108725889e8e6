/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The XenStore schema: one description of every path xenshm uses, parsed
 * from xenstore-schema/xenshm.schema.  xsgen turns it into the C path
 * builders (xspaths.h) and docs/xenstore-paths.md; a live checker
 * (xenshm schema-check) can validate a running XenStore against it.
 *
 * File format: blocks headed by `[name]`, then `key = value` lines:
 *   path   (required) absolute pattern; variables $DOMID $DEVID $SEGID $CHANID
 *   type   (required) dir|string|integer|bool|state|gref|evtchn|domid|path|size-kb|segment
 *   perms  (required) XenStore perms, owner first: n0 r$DOMID ...
 *   writer (required) who writes it: toolstack|xenshmd|guest|admin
 *   when   (required) when it is written
 *   desc   (required) what it means
 *   group  (required) heading in the generated doc
 *   range, default    (optional) for tunables
 * `#` starts a comment line.  Unknown keys are errors.
 */
#ifndef XENSHM_SCHEMA_H
#define XENSHM_SCHEMA_H

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
	unsigned int line;
};

struct xss_schema {
	struct xss_entry *entries;
	size_t n;
};

/* 0, or -EINVAL with a "file:line: reason" message in err. */
int xss_parse(const char *text, const char *filename, struct xss_schema *out, char *err,
	      size_t errlen);
int xss_load(const char *filename, struct xss_schema *out, char *err, size_t errlen);
void xss_free(struct xss_schema *s);

const char *xss_type_name(enum xss_type t);
void xss_emit_header(const struct xss_schema *s, FILE *f);
void xss_emit_doc(const struct xss_schema *s, const char *srcname, FILE *f);

#endif
