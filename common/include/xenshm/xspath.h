/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Building XenStore paths.  The builders themselves (xsp_<entry>()) are
 * generated from xenstore-schema/xenshm.schema into xenshm/xspaths.h, so a
 * path exists in the code only if the schema documents it.
 */
#ifndef XENSHM_XSPATH_H
#define XENSHM_XSPATH_H

#include <stddef.h>

/* snprintf that fails with -ENAMETOOLONG instead of truncating. */
int xsp_format(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Enough for every path xenshm builds (XENSTORE_ABS_PATH_MAX is 3072). */
#define XSP_MAX 256

#endif
