// SPDX-License-Identifier: GPL-2.0-only
/*
 * `xenshm create` (see cli.h): a domain from its xl config, with xenshm's devices and disks;
 * and the running of xl that it shares with save, restore and migrate (cli_move.c).
 */
#include <errno.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../dom0/devdirs.h"
#include "../dom0/peers.h"
#include "xenshm/xlcfg.h"
#include "xenshm/xspaths.h"
#include "cfgspec.h"
#include "cli.h"

#define MAX_DISKS 16
#define MAX_PEERS 32

extern char **environ;

const char *xshm_cli_xl(void)
{
	const char *xl = getenv("XENSHM_XL");

	return xl && *xl ? xl : "xl";
}

int xshm_cli_spawn(const char *const *argv, FILE *err)
{
	pid_t pid;
	int status, rc;

	fflush(NULL);
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ);
	if (rc) {
		fprintf(err, "xenshm: cannot run %s: %s\n", argv[0], strerror(rc));
		return -rc;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int xshm_cli_run_xl(const char *const *args, FILE *err)
{
	const char *argv[XSHM_XL_ARGS_MAX + 2];
	unsigned int n = 0;

	argv[n++] = xshm_cli_xl();
	for (; *args && n < XSHM_XL_ARGS_MAX + 1; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return xshm_cli_spawn(argv, err);
}

struct plan {
	char *name;
	bool has_xenshm;
	struct xshm_spec_xenshm xenshm;
	struct xshm_spec_memflex disks[MAX_DISKS];
	unsigned int ndisks;
	bool has_mempipe;
	char peers[XSHM_PEERS_LEN_MAX + 1]; /* the devices' mempipe-peers, from the mempipe key */
};

/* Every key checked before anything is created: errors name file:line and the key. */
static int read_plan(const char *file, struct plan *p, FILE *err)
{
	struct xlcfg *c = NULL;
	char **v = NULL, msg[256];
	unsigned int n = 0;
	int rc = xlcfg_open(file, err, &c);

	if (rc) {
		fprintf(err, "xenshm create: %s: %s\n", file, rc == -EINVAL ? "not a valid xl config (see above)"
								      : strerror(-rc));
		return XSHM_CLI_USAGE;
	}
	rc = XSHM_CLI_USAGE;
	if (xlcfg_values(c, "name", &v, &n) || n != 1) {
		fprintf(err, "xenshm create: %s: no name = \"...\"\n", file);
		goto out;
	}
	p->name = strdup(v[0]);
	xo_free_strv(v);
	v = NULL;
	if (xlcfg_values(c, "xenshm", &v, &n) || n > 1) {
		fprintf(err, "%s:%u: xenshm: one string like \"quota=64M,devices=1\"\n", file, xlcfg_line(file, "xenshm"));
		goto out;
	}
	if (n == 1) {
		p->has_xenshm = true;
		if (xshm_spec_xenshm(v[0], &p->xenshm, msg, sizeof(msg))) {
			fprintf(err, "%s:%u: xenshm: %s\n", file, xlcfg_line(file, "xenshm"), msg);
			goto out;
		}
	}
	xo_free_strv(v);
	v = NULL;
	if (xlcfg_values(c, "memflex", &v, &n) || n > MAX_DISKS) {
		fprintf(err, "%s:%u: memflex: a string or a list of at most %d like \"size=512M,vdev=xvds\"\n", file,
			xlcfg_line(file, "memflex"), MAX_DISKS);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct xshm_spec_memflex *d = &p->disks[i];
		if (xshm_spec_memflex(v[i], d, msg, sizeof(msg))) {
			fprintf(err, "%s:%u: memflex: %s\n", file, xlcfg_line(file, "memflex"), msg);
			goto out;
		}
		for (unsigned int j = 0; j < i; j++) {
			if (p->disks[j].devid == d->devid) {
				fprintf(err, "%s:%u: memflex: two disks named %s (give each its own vdev=)\n", file,
					xlcfg_line(file, "memflex"), d->vdev);
				goto out;
			}
		}
	}
	p->ndisks = n;
	xo_free_strv(v);
	v = NULL;
	if (xlcfg_values(c, "mempipe", &v, &n) || n > MAX_PEERS) {
		fprintf(err, "%s:%u: mempipe: a string or a list of at most %d like \"peer=web2,max=4M\"\n", file,
			xlcfg_line(file, "mempipe"), MAX_PEERS);
		goto out;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct xshm_spec_mempipe m;
		size_t used = strlen(p->peers);
		if (xshm_spec_mempipe(v[i], &m, msg, sizeof(msg))) {
			fprintf(err, "%s:%u: mempipe: %s\n", file, xlcfg_line(file, "mempipe"), msg);
			goto out;
		}
		snprintf(p->peers + used, sizeof(p->peers) - used, "%s%s:%llu", used ? " " : "", m.peer,
			 (unsigned long long)m.max_kb);
	}
	/* MemPipe runs over a xenshm device: the key brings one (default quota) when xenshm= is absent. */
	if (n && !p->has_xenshm) {
		p->has_xenshm = true;
		xshm_spec_xenshm("devices=1", &p->xenshm, msg, sizeof(msg));
	}
	p->has_mempipe = n > 0;
	rc = XSHM_CLI_OK;
out:
	xo_free_strv(v);
	xlcfg_close(c);
	return rc;
}

static int make_devices(struct xo *x, xo_domid_t domid, const struct plan *p, FILE *err)
{
	int rc;

	for (unsigned int d = 0; p->has_xenshm && d < p->xenshm.devices; d++) {
		if ((rc = xshm_device_create(x, domid, d, p->xenshm.quota_kb))) {
			fprintf(err, "xenshm create: domain %u device xenshm/%u: %s\n", domid, d, strerror(-rc));
			return rc;
		}
		char path[XSP_MAX];
		/* Before the unpause: the guest's first channel already meets the list. */
		if (p->has_mempipe && ((rc = xsp_be_mempipe_peers(path, sizeof(path), domid, d)) ||
				       (rc = xo_write_str(x, XO_TXN_NONE, path, p->peers)))) {
			fprintf(err, "xenshm create: domain %u device xenshm/%u: mempipe-peers: %s\n", domid, d,
				strerror(-rc));
			return rc;
		}
	}
	for (unsigned int i = 0; i < p->ndisks; i++) {
		const struct xshm_spec_memflex *s = &p->disks[i];
		char path[XSP_MAX], *v = NULL;
		/* One of the domain's own disks (its cfg's disk list) under that name: never replace it. */
		xsp_mf_fe_dir(path, sizeof(path), domid, s->devid);
		if (xo_read_str(x, XO_TXN_NONE, path, &v) == 0) {
			free(v);
			fprintf(err, "xenshm create: domain %u already has a disk %s (its disk list): give memflex "
				     "another vdev=\n", domid, s->vdev);
			return -EEXIST;
		}
		if ((rc = xshm_memflex_create(x, domid, s->devid, s->vdev, s->size_kb, s->mem_kb))) {
			fprintf(err, "xenshm create: domain %u disk memflex/%u (%s): %s\n", domid, s->devid, s->vdev,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

int xshm_cli_create(struct xo *x, int argc, char **argv, FILE *out, FILE *err)
{
	const char *args[XSHM_XL_ARGS_MAX + 1];
	struct plan p;
	xo_domid_t domid;
	char id[16];
	int rc, n = 0;

	if (argc < 2 || argc - 2 > XSHM_XL_ARGS_MAX - 3)
		return XSHM_CLI_USAGE;
	memset(&p, 0, sizeof(p));
	if ((rc = read_plan(argv[1], &p, err)))
		goto out;
	/* Paused until its devices exist, so the guest finds them at boot.  xl takes its options
	 * before the file and KEY=VALUE overrides after it. */
	args[n++] = "create";
	args[n++] = "-p";
	for (int i = 2; i < argc; i++)
		if (argv[i][0] == '-')
			args[n++] = argv[i];
	args[n++] = argv[1];
	for (int i = 2; i < argc; i++)
		if (argv[i][0] != '-')
			args[n++] = argv[i];
	args[n] = NULL;
	if (xshm_cli_run_xl(args, err)) {
		fprintf(err, "xenshm create: xl create -p %s failed (see above); nothing of xenshm's was made\n", argv[1]);
		rc = XSHM_CLI_FAIL;
		goto out;
	}
	if (xshm_cli_resolve(x, p.name, &domid)) {
		fprintf(err, "xenshm create: xl created no domain named '%s'\n", p.name);
		rc = XSHM_CLI_FAIL;
		goto out;
	}
	snprintf(id, sizeof(id), "%u", domid);
	if (make_devices(x, domid, &p, err) || xshm_cli_run_xl((const char *const[]){ "unpause", id, NULL }, err)) {
		fprintf(err, "xenshm create: destroying the half-made domain %u (%s)\n", domid, p.name);
		xshm_cli_run_xl((const char *const[]){ "destroy", id, NULL }, err);
		rc = XSHM_CLI_FAIL;
		goto out;
	}
	fprintf(out, "domain %u (%s): %u xenshm device%s, %u MemFlex disk%s\n", domid, p.name,
		p.has_xenshm ? p.xenshm.devices : 0, p.has_xenshm && p.xenshm.devices == 1 ? "" : "s", p.ndisks,
		p.ndisks == 1 ? "" : "s");
	rc = XSHM_CLI_OK;
out:
	free(p.name);
	return rc;
}
