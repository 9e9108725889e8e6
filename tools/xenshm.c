// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshm: the dom0 admin CLI (first commands; more come with the operation work).
 *
 *   xenshm attach DOM [--quota-kb N] [--devices N]
 *                       create the guest's xenshm devices (devids 0..N-1, one per process
 *                       that uses libxenshm at a time; quota-kb is per device)
 *   xenshm detach DOM   remove them the way libxl removes devices
 *   xenshm show DOM     the devices' XenStore state, segments and reclaim notices
 * DOM is a domid or a domain name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dom0/devdirs.h"
#include "../dom0/pool.h"
#include "xenshm/xspaths.h"

static int resolve(struct xo *x, const char *arg, xo_domid_t *out)
{
	char **doms = NULL;
	unsigned int n = 0;
	int rc = -ESRCH;

	if (xo_parse_domid(arg, out) == 0)
		return 0;
	if (x->ops->xs_directory(x, XO_TXN_NONE, "/local/domain", &doms, &n))
		return -ESRCH;
	for (unsigned int i = 0; i < n && rc; i++) {
		char *name = NULL;
		xo_domid_t d;
		if (xo_parse_domid(doms[i], &d) == 0 && xo_domain_name(x, d, &name) == 0 && !strcmp(name, arg)) {
			*out = d;
			rc = 0;
		}
		free(name);
	}
	xo_free_strv(doms);
	return rc;
}

static void show_key(struct xo *x, const char *dir, const char *key)
{
	char path[XSP_MAX + 32], *v = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	if (!xo_read_str(x, XO_TXN_NONE, path, &v))
		printf("  %-14s %s\n", key, v);
	free(v);
}

/* The guest's devids under the backend root; 0 entries if it has none. */
static unsigned int devices_of(struct xo *x, xo_domid_t domid, uint32_t *ids, unsigned int max)
{
	char path[XSP_MAX], **names = NULL;
	unsigned int n = 0, out = 0;

	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", domid);
	if (x->ops->xs_directory(x, XO_TXN_NONE, path, &names, &n))
		return 0;
	for (unsigned int i = 0; i < n && out < max; i++) {
		unsigned long long id;
		if (!xo_parse_uint(names[i], 255, &id))
			ids[out++] = (uint32_t)id;
	}
	xo_free_strv(names);
	return out;
}

static void show_device(struct xo *x, xo_domid_t domid, uint32_t devid)
{
	char be[XSP_MAX], fe[XSP_MAX], path[XSP_MAX + 16], **segs = NULL;
	unsigned int n = 0;
	static const char *const be_keys[] = { "state", "online", "quota-kb", "ring-ref", "event-channel",
					       "version", "reclaim" };

	xsp_be_dir(be, sizeof(be), domid, devid);
	xsp_fe_dir(fe, sizeof(fe), domid, devid);
	printf("domain %u device xenshm/%u\n backend %s\n", domid, devid, be);
	for (size_t i = 0; i < sizeof(be_keys) / sizeof(be_keys[0]); i++)
		show_key(x, be, be_keys[i]);
	printf(" frontend %s\n", fe);
	show_key(x, fe, "state");
	show_key(x, fe, "version");
	snprintf(path, sizeof(path), "%s/segment", be);
	if (!x->ops->xs_directory(x, XO_TXN_NONE, path, &segs, &n)) {
		printf(" segments (pages purpose dir-gref)\n");
		for (unsigned int i = 0; i < n; i++)
			show_key(x, path, segs[i]);
	}
	xo_free_strv(segs);
	xsp_be_error(path, sizeof(path), domid, devid);
	char *err = NULL;
	if (!xo_read_str(x, XO_TXN_NONE, path, &err))
		printf(" error: %s\n", err);
	free(err);
}

static int usage(void)
{
	fprintf(stderr, "usage: xenshm attach DOM [--quota-kb N] [--devices N] | detach DOM | show DOM\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct xo *x;
	xo_domid_t domid;
	uint64_t quota_kb = 65536;
	unsigned long long ndev = 1;
	uint32_t ids[256];
	unsigned int n;
	int rc = 0;

	if (argc < 3)
		return usage();
	for (int i = 3; i < argc; i += 2) {
		if (i + 1 >= argc || strcmp(argv[1], "attach"))
			return usage();
		if (!strcmp(argv[i], "--quota-kb")) {
			int64_t pages = xshm_parse_kb_pages(argv[i + 1], 1ull << 40);
			if (pages < 0) {
				fprintf(stderr, "xenshm: --quota-kb wants KiB as a multiple of 4, got '%s'\n",
					argv[i + 1]);
				return 2;
			}
			quota_kb = (uint64_t)pages * 4;
		} else if (!strcmp(argv[i], "--devices")) {
			if (xo_parse_uint(argv[i + 1], 256, &ndev) || !ndev) {
				fprintf(stderr, "xenshm: --devices wants 1 .. 256, got '%s'\n", argv[i + 1]);
				return 2;
			}
		} else {
			return usage();
		}
	}
	rc = xo_real_open(&x, XO_OPEN_XS);
	if (rc) {
		fprintf(stderr, "xenshm: cannot open XenStore: %s\n", strerror(-rc));
		return 1;
	}
	rc = resolve(x, argv[2], &domid);
	if (rc) {
		fprintf(stderr, "xenshm: no domain '%s'\n", argv[2]);
		xo_close(x);
		return 1;
	}
	if (!strcmp(argv[1], "attach")) {
		for (uint32_t d = 0; !rc && d < ndev; d++)
			rc = xshm_device_create(x, domid, d, quota_kb);
	} else if (!strcmp(argv[1], "detach")) {
		n = devices_of(x, domid, ids, 256);
		for (unsigned int i = 0; i < n; i++) {
			int r = xshm_device_remove(x, domid, ids[i], 10000);
			rc = rc ? rc : r;
		}
		if (!n)
			rc = -ENODEV;
	} else if (!strcmp(argv[1], "show")) {
		n = devices_of(x, domid, ids, 256);
		for (unsigned int i = 0; i < n; i++)
			show_device(x, domid, ids[i]);
		if (!n)
			rc = -ENODEV;
	} else {
		rc = -EINVAL;
	}
	if (rc == -EINVAL) {
		xo_close(x);
		return usage();
	}
	if (rc)
		fprintf(stderr, "xenshm: %s domain %u: %s\n", argv[1], domid, strerror(-rc));
	xo_close(x);
	return rc ? 1 : 0;
}
