// SPDX-License-Identifier: GPL-2.0-only
/*
 * The commands that run xl around xenshm's own state (see cli.h): `create` (a domain from its xl
 * config, with xenshm's devices and disks), `save` and `restore` (a domain with MemFlex disks,
 * whose swap must survive the trip through a save file).
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
#define XL_ARGS_MAX 32
#define RELEASE_MS_DEFAULT 10000u /* what a guest gets to let go before a save */

extern char **environ;

/* Run xl (or $XENSHM_XL) with args; its exit status, or -errno if it could not run. */
static int run_xl(const char *const *args, FILE *err)
{
	const char *xl = getenv("XENSHM_XL");
	char *argv[XL_ARGS_MAX + 2];
	unsigned int n = 0;
	pid_t pid;
	int status, rc;

	argv[n++] = (char *)(xl && *xl ? xl : "xl");
	for (; *args && n < XL_ARGS_MAX + 1; args++)
		argv[n++] = (char *)*args;
	argv[n] = NULL;
	fflush(NULL);
	rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);
	if (rc) {
		fprintf(err, "xenshm create: cannot run %s: %s\n", argv[0], strerror(rc));
		return -rc;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
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
	const char *args[XL_ARGS_MAX + 1];
	struct plan p;
	xo_domid_t domid;
	char id[16];
	int rc, n = 0;

	if (argc < 2 || argc - 2 > XL_ARGS_MAX - 3)
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
	if (run_xl(args, err)) {
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
	if (make_devices(x, domid, &p, err) || run_xl((const char *const[]){ "unpause", id, NULL }, err)) {
		fprintf(err, "xenshm create: destroying the half-made domain %u (%s)\n", domid, p.name);
		run_xl((const char *const[]){ "destroy", id, NULL }, err);
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

#define SIDECAR_SUFFIX ".xenshm"
#define MAX_DOMS 1024

/* MemFlex disks of a saved domain, one "memflex SPEC" line each, beside the save file. */
static int write_sidecar(struct xo *x, xo_domid_t domid, const uint32_t *ids, unsigned int n,
			 const uint32_t *shm_ids, unsigned int nshm, const char *file, FILE *err)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, file);
	f = fopen(path, "w");
	if (!f) {
		fprintf(err, "xenshm save: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (unsigned int i = 0; i < n; i++) {
		char dir[XSP_MAX], key[XSP_MAX + 16], *dev = NULL, *size = NULL, *mem = NULL;
		xsp_mf_be_dir(dir, sizeof(dir), domid, ids[i]);
		snprintf(key, sizeof(key), "%s/dev", dir);
		xo_read_str(x, XO_TXN_NONE, key, &dev);
		snprintf(key, sizeof(key), "%s/size-kb", dir);
		xo_read_str(x, XO_TXN_NONE, key, &size);
		snprintf(key, sizeof(key), "%s/mem-kb", dir);
		xo_read_str(x, XO_TXN_NONE, key, &mem);
		if (dev && size)
			fprintf(f, "memflex size=%s,mem=%s,vdev=%s\n", size, mem ? mem : size, dev);
		free(dev);
		free(size);
		free(mem);
	}
	/* xenshm devices: "xenshm DEVID QUOTA-KB PEERS" (PEERS the mempipe-peers node, "-" if
	 * absent), for the restored domain's fresh devices. */
	for (unsigned int i = 0; i < nshm; i++) {
		char key[XSP_MAX], *peers = NULL;
		unsigned long long q = 65536; /* xenshm attach's default, should the node be gone */
		if (!xsp_be_quota_kb(key, sizeof(key), domid, shm_ids[i]) &&
		    xo_read_uint(x, XO_TXN_NONE, key, UINT64_MAX, &q))
			q = 65536;
		if (!xsp_be_mempipe_peers(key, sizeof(key), domid, shm_ids[i]))
			xo_read_str(x, XO_TXN_NONE, key, &peers);
		fprintf(f, "xenshm %u %llu %s\n", shm_ids[i], q, peers ? peers : "-");
		free(peers);
	}
	return fclose(f) ? -EIO : 0;
}

/* Remove the release requests of a domain's xenshm devices (the save failed or gave up). */
static void withdraw_release(struct xo *x, xo_domid_t domid, const uint32_t *ids, unsigned int n)
{
	char path[XSP_MAX];

	for (unsigned int i = 0; i < n; i++)
		if (!xsp_be_release(path, sizeof(path), domid, ids[i]))
			x->ops->xs_rm(x, XO_TXN_NONE, path);
}

/*
 * Ask every xenshm device of the domain to let go (backend/.../release) and
 * wait up to release_ms for each backend to be Closed: then the guest maps
 * nothing of dom0's and holds no event channel of xenshmd's, and the suspend
 * is safe.  On timeout the requests are withdrawn and the guest runs on.
 */
static int release_devices(struct xo *x, xo_domid_t domid, const uint32_t *ids, unsigned int n,
			   unsigned int release_ms, FILE *err)
{
	char path[XSP_MAX];
	unsigned int open = n;

	for (unsigned int i = 0; i < n; i++) {
		if (xsp_be_release(path, sizeof(path), domid, ids[i]) ||
		    xo_printf(x, XO_TXN_NONE, path, "%u", release_ms)) {
			fprintf(err, "xenshm save: domain %u device xenshm/%u: cannot write %s\n", domid, ids[i], path);
			withdraw_release(x, domid, ids, n);
			return -EIO;
		}
	}
	/* xenshmd closes a device once its guest has let go (or at once if it was not connected). */
	for (unsigned int waited = 0; open && waited <= release_ms + 1000; waited += 50) {
		open = 0;
		for (unsigned int i = 0; i < n; i++) {
			char *state = NULL;
			if (!xsp_be_state(path, sizeof(path), domid, ids[i]) &&
			    !xo_read_str(x, XO_TXN_NONE, path, &state) && strcmp(state, "6"))
				open++;
			free(state);
		}
		if (open)
			usleep(50000);
	}
	if (!open)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		char *state = NULL;
		if (!xsp_be_state(path, sizeof(path), domid, ids[i]) && !xo_read_str(x, XO_TXN_NONE, path, &state) &&
		    strcmp(state, "6"))
			fprintf(err,
				"xenshm save: domain %u device xenshm/%u did not let go of its shared memory within %u ms "
				"(backend state %s): its programs must handle SHM_EV_RELEASE (xenshm(1))\n",
				domid, ids[i], release_ms, state);
		free(state);
	}
	withdraw_release(x, domid, ids, n);
	return -ETIMEDOUT;
}

static void mark_keep(struct xo *x, xo_domid_t domid, const uint32_t *ids, unsigned int n, bool keep)
{
	for (unsigned int i = 0; i < n; i++) {
		char dir[XSP_MAX], key[XSP_MAX + 16];
		xsp_mf_be_dir(dir, sizeof(dir), domid, ids[i]);
		snprintf(key, sizeof(key), "%s/keep-store", dir);
		if (keep)
			xo_write_str(x, XO_TXN_NONE, key, "1");
		else
			x->ops->xs_rm(x, XO_TXN_NONE, key);
	}
}

int xshm_cli_save(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err)
{
	const char *args[XL_ARGS_MAX + 1];
	uint32_t ids[MAX_DISKS], shm_ids[MAX_DISKS];
	unsigned int n = 0, nshm = 0, release_ms = RELEASE_MS_DEFAULT;
	unsigned long long v;
	char id[16], path[XSP_MAX];
	int na = 0, first_xl = 3;

	if (argc > 4 && !strcmp(argv[3], "--release-ms")) {
		if (xo_parse_uint(argv[4], 600000, &v) || v < 100) {
			fprintf(err, "xenshm save: --release-ms wants 100 .. 600000, got '%s'\n", argv[4]);
			return XSHM_CLI_USAGE;
		}
		release_ms = (unsigned int)v;
		first_xl = 5;
	}
	if (argc < 3 || argc - first_xl > XL_ARGS_MAX - 4)
		return XSHM_CLI_USAGE;
	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u", domid);
	if (xo_list_ids(x, path, UINT32_MAX, ids, MAX_DISKS, &n))
		n = 0;
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", domid);
	if (xo_list_ids(x, path, 255, shm_ids, MAX_DISKS, &nshm))
		nshm = 0;
	/* First: nothing of ours may stay mapped across the suspend (it corrupts the guest). */
	if (nshm && release_devices(x, domid, shm_ids, nshm, release_ms, err)) {
		fprintf(err, "xenshm save: domain %u not saved; it runs on as before\n", domid);
		return XSHM_CLI_FAIL;
	}
	if (write_sidecar(x, domid, ids, n, shm_ids, nshm, argv[2], err)) {
		withdraw_release(x, domid, shm_ids, nshm);
		return XSHM_CLI_FAIL;
	}
	/* Before xl: the domain's death at the end of the save must keep the stores. */
	mark_keep(x, domid, ids, n, true);
	snprintf(id, sizeof(id), "%u", domid);
	args[na++] = "save";
	for (int i = first_xl; i < argc; i++)
		args[na++] = argv[i];
	args[na++] = id;
	args[na++] = argv[2];
	args[na] = NULL;
	if (run_xl(args, err)) {
		mark_keep(x, domid, ids, n, false);
		withdraw_release(x, domid, shm_ids, nshm);
		snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, argv[2]);
		unlink(path);
		fprintf(err, "xenshm save: xl save of domain %u failed (see above); its disks stay as they were\n", domid);
		return XSHM_CLI_FAIL;
	}
	fprintf(out, "domain %u saved to %s with %u MemFlex disk%s and %u xenshm device%s (%s" SIDECAR_SUFFIX ")\n",
		domid, argv[2], n, n == 1 ? "" : "s", nshm, nshm == 1 ? "" : "s", argv[2]);
	return XSHM_CLI_OK;
}

static unsigned int list_domains(struct xo *x, uint32_t *ids)
{
	unsigned int n = 0;

	if (xo_list_ids(x, "/local/domain", XO_DOMID_FIRST_RESERVED - 1, ids, MAX_DOMS, &n))
		return 0;
	return n;
}

int xshm_cli_restore(struct xo *x, int argc, char **argv, FILE *out, FILE *err)
{
	const char *args[XL_ARGS_MAX + 1];
	struct xshm_spec_memflex disks[MAX_DISKS];
	static uint32_t before[MAX_DOMS], after[MAX_DOMS];
	struct { uint32_t devid; unsigned long long quota_kb; char peers[200]; } shms[MAX_DISKS];
	unsigned int ndisks = 0, nshm = 0, nb, na, line = 0;
	char path[512], buf[300], msg[256], id[16];
	xo_domid_t domid = XO_DOMID_FIRST_RESERVED;
	int n = 0;

	if (argc < 2 || argc - 2 > XL_ARGS_MAX - 3)
		return XSHM_CLI_USAGE;
	snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, argv[1]);
	FILE *f = fopen(path, "r");
	while (f && fgets(buf, sizeof(buf), f)) {
		line++;
		buf[strcspn(buf, "\n")] = 0;
		int used = 0;
		if (!strncmp(buf, "xenshm ", 7) && nshm < MAX_DISKS &&
		    sscanf(buf + 7, "%u %llu %n", &shms[nshm].devid, &shms[nshm].quota_kb, &used) == 2 && used > 0 &&
		    shms[nshm].devid < 256 && strlen(buf + 7 + used) < sizeof(shms[nshm].peers)) {
			snprintf(shms[nshm].peers, sizeof(shms[nshm].peers), "%s", buf + 7 + used);
			nshm++;
			continue;
		}
		if (strncmp(buf, "memflex ", 8) || ndisks == MAX_DISKS ||
		    xshm_spec_memflex(buf + 8, &disks[ndisks], msg, sizeof(msg))) {
			fprintf(err, "%s:%u: not a device line this xenshm wrote\n", path, line);
			fclose(f);
			return XSHM_CLI_USAGE;
		}
		ndisks++;
	}
	if (f)
		fclose(f);
	nb = list_domains(x, before);
	args[n++] = "restore";
	args[n++] = "-p";
	for (int i = 2; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = argv[1];
	args[n] = NULL;
	if (run_xl(args, err)) {
		fprintf(err, "xenshm restore: xl restore -p %s failed (see above)\n", argv[1]);
		return XSHM_CLI_FAIL;
	}
	na = list_domains(x, after);
	for (unsigned int i = 0; i < na; i++) {
		bool old = false;
		for (unsigned int j = 0; j < nb && !old; j++)
			old = before[j] == after[i];
		if (!old)
			domid = after[i];
	}
	if (domid == XO_DOMID_FIRST_RESERVED) {
		fprintf(err, "xenshm restore: xl restored no new domain\n");
		return XSHM_CLI_FAIL;
	}
	/* The disks before the guest runs again: its blkfront resumes against them and finds
	 * its swap where the save left it (xenshmd takes the kept store back by the UUID). */
	snprintf(id, sizeof(id), "%u", domid);
	for (unsigned int i = 0; i < ndisks; i++) {
		const struct xshm_spec_memflex *s = &disks[i];
		int rc = xshm_memflex_create(x, domid, s->devid, s->vdev, s->size_kb, s->mem_kb);
		if (rc) {
			fprintf(err, "xenshm restore: domain %u disk memflex/%u (%s): %s; destroying it\n", domid,
				s->devid, s->vdev, strerror(-rc));
			run_xl((const char *const[]){ "destroy", id, NULL }, err);
			return XSHM_CLI_FAIL;
		}
	}
	/* Its xenshm devices, fresh (nothing survives a save): its programs open them again. */
	for (unsigned int i = 0; i < nshm; i++) {
		char key[XSP_MAX];
		int rc = xshm_device_create(x, domid, shms[i].devid, shms[i].quota_kb);
		if (!rc && strcmp(shms[i].peers, "-") && !xsp_be_mempipe_peers(key, sizeof(key), domid, shms[i].devid))
			rc = xo_write_str(x, XO_TXN_NONE, key, shms[i].peers);
		if (rc) {
			fprintf(err, "xenshm restore: domain %u device xenshm/%u: %s; destroying it\n", domid,
				shms[i].devid, strerror(-rc));
			run_xl((const char *const[]){ "destroy", id, NULL }, err);
			return XSHM_CLI_FAIL;
		}
	}
	if (run_xl((const char *const[]){ "unpause", id, NULL }, err)) {
		run_xl((const char *const[]){ "destroy", id, NULL }, err);
		return XSHM_CLI_FAIL;
	}
	unlink(path);
	fprintf(out, "domain %u restored from %s with %u MemFlex disk%s and %u xenshm device%s\n", domid, argv[1],
		ndisks, ndisks == 1 ? "" : "s", nshm, nshm == 1 ? "" : "s");
	return XSHM_CLI_OK;
}
