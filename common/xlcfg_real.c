// SPDX-License-Identifier: LGPL-2.1-only
/* xl config files through libxlutil (see xenshm/xlcfg.h). */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <libxlutil.h>

#include "xenshm/xlcfg.h"

struct xlcfg {
	XLU_Config *cfg;
};

int xlcfg_open(const char *file, FILE *report, struct xlcfg **out)
{
	struct xlcfg *c = calloc(1, sizeof(*c));
	int rc;

	if (!c)
		return -ENOMEM;
	c->cfg = xlu_cfg_init(report, file);
	if (!c->cfg) {
		free(c);
		return -ENOMEM;
	}
	rc = xlu_cfg_readfile(c->cfg, file);
	if (rc) {
		xlcfg_close(c);
		return -rc;
	}
	*out = c;
	return 0;
}

void xlcfg_close(struct xlcfg *c)
{
	if (!c)
		return;
	xlu_cfg_destroy(c->cfg);
	free(c);
}

int xlcfg_values(struct xlcfg *c, const char *key, char ***values, unsigned int *n)
{
	XLU_ConfigList *list = NULL;
	const char *one = NULL;
	bool is_string = xlu_cfg_get_string(c->cfg, key, &one, 1) == 0;
	int count = 1;
	char **v;

	*values = NULL;
	*n = 0;
	if (!is_string) {
		int rc = xlu_cfg_get_list(c->cfg, key, &list, &count, 1);
		if (rc == ESRCH)
			return 0; /* absent is fine */
		if (rc)
			return -EINVAL; /* a bare number: not one of ours */
	}
	v = calloc((size_t)count + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < count; i++) {
		const char *item = is_string ? one : xlu_cfg_get_listitem(list, i);
		if (!item || !(v[i] = strdup(item))) {
			for (int j = 0; j < i; j++)
				free(v[j]);
			free(v);
			return item ? -ENOMEM : -EINVAL;
		}
	}
	*values = v;
	*n = (unsigned int)count;
	return 0;
}

unsigned int xlcfg_line(const char *file, const char *key)
{
	FILE *f = fopen(file, "r");
	char line[1024];
	unsigned int no = 0, found = 0;
	size_t klen = strlen(key);

	while (f && !found && fgets(line, sizeof(line), f)) {
		const char *p = line;
		no++;
		while (isspace((unsigned char)*p))
			p++;
		if (strncmp(p, key, klen))
			continue;
		p += klen;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '=')
			found = no;
	}
	if (f)
		fclose(f);
	return found;
}
