/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * Reading an xl domain config file (xl.cfg(5) syntax) through libxlutil,
 * as xl itself reads it.  xl ignores keys it does not know, so a domain's
 * file can carry xenshm's own keys (xenshm.cfg(5)).  common/xlcfg_real.c
 * is the only file that includes libxlutil's header.
 */
#ifndef XENSHM_XLCFG_H
#define XENSHM_XLCFG_H

#include <stdio.h>

struct xlcfg;

/* Parse `file`; syntax errors are reported on `report` as file:line by libxlutil. -errno. */
int xlcfg_open(const char *file, FILE *report, struct xlcfg **out);
void xlcfg_close(struct xlcfg *c);

/*
 * The values of `key`: a string gives one, a list one per item, absent none.  *values is a
 * malloc'd NULL-terminated vector (xo_free_strv).  -EINVAL if the value is neither (a number).
 */
int xlcfg_values(struct xlcfg *c, const char *key, char ***values, unsigned int *n);

/* The line of `file` where `key =` is set (for messages), or 0. */
unsigned int xlcfg_line(const char *file, const char *key);

#endif
