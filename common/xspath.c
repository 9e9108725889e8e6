// SPDX-License-Identifier: LGPL-2.1-only
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "xenshm/xspath.h"

int xsp_format(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
