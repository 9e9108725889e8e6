// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/xspaths.h"
#include "devdirs.h"

struct create_arg {
	xo_domid_t domid;
	uint32_t devid;
	uint64_t quota_kb;
	bool memflex;                /* a vbd frontend and a memflex backend */
	uint64_t size_kb, mem_kb;    /* memflex */
	const char *name;            /* memflex: the disk's name, for the admin */
	char fe[XSP_MAX], be[XSP_MAX];
};

static int key(struct xo *x, xo_txn_t t, const char *dir, const char *name, const char *fmt,
	       unsigned long long v)
{
	char path[XSP_MAX + 32];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return xo_printf(x, t, path, fmt, v);
}

static int create_body(struct xo *x, xo_txn_t t, void *arg)
{
	struct create_arg *a = arg;
	struct xo_perm fe_perms[2] = { { a->domid, XO_PERM_NONE }, { 0, XO_PERM_READ } };
	struct xo_perm be_perms[2] = { { 0, XO_PERM_NONE }, { a->domid, XO_PERM_READ } };
	char path[XSP_MAX + 32];
	int rc;

	x->ops->xs_rm(x, t, a->fe);
	x->ops->xs_rm(x, t, a->be);
	rc = x->ops->xs_mkdir(x, t, a->fe);
	if (!rc)
		rc = x->ops->xs_set_perms(x, t, a->fe, fe_perms, 2);
	if (!rc)
		rc = x->ops->xs_mkdir(x, t, a->be);
	if (!rc)
		rc = x->ops->xs_set_perms(x, t, a->be, be_perms, 2);
	snprintf(path, sizeof(path), "%s/backend", a->fe);
	if (!rc)
		rc = xo_write_str(x, t, path, a->be);
	if (!rc)
		rc = key(x, t, a->fe, "backend-id", "%llu", 0);
	if (!rc)
		rc = key(x, t, a->fe, "state", "%llu", 1);
	snprintf(path, sizeof(path), "%s/frontend", a->be);
	if (!rc)
		rc = xo_write_str(x, t, path, a->fe);
	if (!rc)
		rc = key(x, t, a->be, "frontend-id", "%llu", a->domid);
	if (!rc)
		rc = key(x, t, a->be, "online", "%llu", 1);
	if (!rc && !a->memflex)
		rc = key(x, t, a->be, "quota-kb", "%llu", a->quota_kb);
	if (a->memflex) {
		/* What blkfront's probe reads from its own dir. */
		if (!rc)
			rc = key(x, t, a->fe, "virtual-device", "%llu", a->devid);
		snprintf(path, sizeof(path), "%s/device-type", a->fe);
		if (!rc)
			rc = xo_write_str(x, t, path, "disk");
		if (!rc)
			rc = key(x, t, a->be, "size-kb", "%llu", a->size_kb);
		if (!rc)
			rc = key(x, t, a->be, "mem-kb", "%llu", a->mem_kb);
		snprintf(path, sizeof(path), "%s/dev", a->be);
		if (!rc)
			rc = xo_write_str(x, t, path, a->name);
	}
	if (!rc)
		rc = key(x, t, a->be, "state", "%llu", 1);
	return rc;
}

int xshm_device_create(struct xo *x, xo_domid_t domid, uint32_t devid, uint64_t quota_kb)
{
	struct create_arg a = { .domid = domid, .devid = devid, .quota_kb = quota_kb };
	int rc = xsp_fe_dir(a.fe, sizeof(a.fe), domid, devid);

	if (!rc)
		rc = xsp_be_dir(a.be, sizeof(a.be), domid, devid);
	if (!rc)
		rc = xo_transaction(x, 50, create_body, &a);
	return rc;
}

int xshm_memflex_create(struct xo *x, xo_domid_t domid, uint32_t devid, const char *name, uint64_t size_kb,
			uint64_t mem_kb)
{
	struct create_arg a = { .domid = domid, .devid = devid, .memflex = true, .size_kb = size_kb,
				.mem_kb = mem_kb, .name = name };
	int rc = xsp_mf_fe_dir(a.fe, sizeof(a.fe), domid, devid);

	if (!rc)
		rc = xsp_mf_be_dir(a.be, sizeof(a.be), domid, devid);
	if (!rc)
		rc = xo_transaction(x, 50, create_body, &a);
	return rc;
}

/* Done when the backend is Closed, or gone. */
static int backend_closed(const char *value, int read_rc, void *arg)
{
	(void)arg;
	return read_rc || !strcmp(value, "6");
}

/* libxl's removal, for both kinds of device. */
static int remove_dirs(struct xo *x, const char *fe, const char *be, int timeout_ms)
{
	char state[XSP_MAX + 8], online[XSP_MAX + 8], *v = NULL;
	int rc;

	snprintf(state, sizeof(state), "%s/state", be);
	snprintf(online, sizeof(online), "%s/online", be);
	rc = xo_read_str(x, XO_TXN_NONE, state, &v);
	if (rc == -ENOENT)
		return -ENOENT;
	bool closed = !rc && !strcmp(v, "6");
	free(v);
	xo_write_str(x, XO_TXN_NONE, online, "0");
	rc = 0;
	if (!closed) {
		xo_write_str(x, XO_TXN_NONE, state, "5");
		rc = xo_wait_node(x, state, timeout_ms, backend_closed, NULL);
	}
	x->ops->xs_rm(x, XO_TXN_NONE, be);
	x->ops->xs_rm(x, XO_TXN_NONE, fe);
	return rc;
}

int xshm_device_remove(struct xo *x, xo_domid_t domid, uint32_t devid, int timeout_ms)
{
	char fe[XSP_MAX], be[XSP_MAX];

	if (xsp_fe_dir(fe, sizeof(fe), domid, devid) || xsp_be_dir(be, sizeof(be), domid, devid))
		return -ENAMETOOLONG;
	return remove_dirs(x, fe, be, timeout_ms);
}

int xshm_memflex_remove(struct xo *x, xo_domid_t domid, uint32_t devid, int timeout_ms)
{
	char fe[XSP_MAX], be[XSP_MAX];

	if (xsp_mf_fe_dir(fe, sizeof(fe), domid, devid) || xsp_mf_be_dir(be, sizeof(be), domid, devid))
		return -ENAMETOOLONG;
	return remove_dirs(x, fe, be, timeout_ms);
}
