// SPDX-License-Identifier: GPL-2.0-only
/*
 * A domain leaving its domid (see cli.h): `save`, `restore` and `migrate`.
 *
 * Xen tells guest userspace nothing before a suspend, and a grant mapping or
 * user event channel kept across one corrupts the guest, so each first asks
 * the guest's programs to let go of their xenshm devices and gives up (the
 * domain runs on) if they do not.  A MemFlex disk's swap lives in this host's
 * memory: its store is kept for the domain's next domid here, and a domain
 * with MemFlex disks does not go to another host.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../dom0/devdirs.h"
#include "../dom0/peers.h"
#include "xenshm/xspaths.h"
#include "cfgspec.h"
#include "cli.h"

#define MAX_DISKS 16
#define MAX_SHMS 256 /* xenshm attach --devices' limit: every one must let go */
#define MAX_DOMS 1024
#define SIDECAR_SUFFIX ".xenshm"
#define RELEASE_MS_DEFAULT 10000u /* what a guest gets to let go */
/* After a migration here, how long xenshmd may take to set the old domain's stores aside. */
#define OLD_DOMAIN_GONE_MS 15000u
#define SH_CMD_MAX 4096

/* What of xenshm's a domain takes to its next domid. */
struct moving {
	const char *cmd; /* "save", "migrate", "restore": for messages */
	uint32_t disk_ids[MAX_DISKS + 1]; /* on the old domid; one more, to see a list too long */
	struct xshm_spec_memflex disks[MAX_DISKS];
	unsigned int ndisks;
	struct {
		uint32_t devid;
		unsigned long long quota_kb;
		char peers[XSHM_PEERS_LEN_MAX + 1]; /* the mempipe-peers node, "-" if absent */
	} shms[MAX_SHMS];
	unsigned int nshm;
};

/* A quarter MiB with every device's peers list: not for the stack. */
static struct moving *moving_new(const char *cmd, FILE *err)
{
	struct moving *m = calloc(1, sizeof(*m));

	if (m)
		m->cmd = cmd;
	else
		fprintf(err, "xenshm %s: out of memory\n", cmd);
	return m;
}

static int read_disk(struct xo *x, xo_domid_t domid, uint32_t id, struct xshm_spec_memflex *d)
{
	char dir[XSP_MAX], key[XSP_MAX + 16], spec[128], msg[128], *dev = NULL, *size = NULL, *mem = NULL;
	int rc = -EIO;

	xsp_mf_be_dir(dir, sizeof(dir), domid, id);
	snprintf(key, sizeof(key), "%s/dev", dir);
	xo_read_str(x, XO_TXN_NONE, key, &dev);
	snprintf(key, sizeof(key), "%s/size-kb", dir);
	xo_read_str(x, XO_TXN_NONE, key, &size);
	snprintf(key, sizeof(key), "%s/mem-kb", dir);
	xo_read_str(x, XO_TXN_NONE, key, &mem);
	if (dev && size && (size_t)snprintf(spec, sizeof(spec), "size=%s,mem=%s,vdev=%s", size, mem ? mem : size,
					      dev) < sizeof(spec) &&
	    !xshm_spec_memflex(spec, d, msg, sizeof(msg)) && d->devid == id)
		rc = 0;
	free(dev);
	free(size);
	free(mem);
	return rc;
}

/* The domain's MemFlex disks and xenshm devices, from XenStore. */
static int collect(struct xo *x, xo_domid_t domid, struct moving *m, FILE *err)
{
	char path[XSP_MAX];
	uint32_t ids[MAX_SHMS];
	unsigned int n = 0;

	snprintf(path, sizeof(path), "/local/domain/0/backend/memflex/%u", domid);
	if (xo_list_ids(x, path, UINT32_MAX, m->disk_ids, MAX_DISKS + 1, &m->ndisks))
		m->ndisks = 0;
	/* A disk left out would lose its swap: all or nothing. */
	if (m->ndisks > MAX_DISKS) {
		fprintf(err, "xenshm %s: domain %u has more than %d MemFlex disks; nothing done\n", m->cmd, domid,
			MAX_DISKS);
		return -E2BIG;
	}
	for (unsigned int i = 0; i < m->ndisks; i++) {
		/* A disk we cannot describe would lose its swap at the other end: stop here. */
		if (read_disk(x, domid, m->disk_ids[i], &m->disks[i])) {
			fprintf(err, "xenshm %s: domain %u disk memflex/%u: its dev, size-kb or mem-kb is missing or "
				     "bad; nothing done\n", m->cmd, domid, m->disk_ids[i]);
			return -EIO;
		}
	}
	snprintf(path, sizeof(path), "/local/domain/0/backend/xenshm/%u", domid);
	if (xo_list_ids(x, path, MAX_SHMS - 1, ids, MAX_SHMS, &n))
		n = 0;
	for (unsigned int i = 0; i < n; i++) {
		char key[XSP_MAX], *peers = NULL;
		unsigned long long q = 65536; /* xenshm attach's default, should the node be gone */
		if (!xsp_be_quota_kb(key, sizeof(key), domid, ids[i]) &&
		    xo_read_uint(x, XO_TXN_NONE, key, UINT64_MAX, &q))
			q = 65536;
		if (!xsp_be_mempipe_peers(key, sizeof(key), domid, ids[i]))
			xo_read_str(x, XO_TXN_NONE, key, &peers);
		m->shms[i].devid = ids[i];
		m->shms[i].quota_kb = q;
		snprintf(m->shms[i].peers, sizeof(m->shms[i].peers), "%s", peers && *peers ? peers : "-");
		free(peers);
	}
	m->nshm = n;
	return 0;
}

/* Beside a save file: "memflex SPEC" and "xenshm DEVID QUOTA-KB PEERS" lines. */
static int write_sidecar(const struct moving *m, const char *file, FILE *err)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, file);
	f = fopen(path, "w");
	if (!f) {
		fprintf(err, "xenshm save: %s: %s\n", path, strerror(errno));
		return -errno;
	}
	for (unsigned int i = 0; i < m->ndisks; i++)
		fprintf(f, "memflex size=%llu,mem=%llu,vdev=%s\n", (unsigned long long)m->disks[i].size_kb,
			(unsigned long long)m->disks[i].mem_kb, m->disks[i].vdev);
	for (unsigned int i = 0; i < m->nshm; i++)
		fprintf(f, "xenshm %u %llu %s\n", m->shms[i].devid, m->shms[i].quota_kb, m->shms[i].peers);
	return fclose(f) ? -EIO : 0;
}

static int read_sidecar(const char *path, struct moving *m, FILE *err)
{
	char buf[XSHM_PEERS_LEN_MAX + 64], msg[256];
	unsigned int line = 0;
	FILE *f = fopen(path, "r");

	while (f && fgets(buf, sizeof(buf), f)) {
		int used = 0;
		line++;
		buf[strcspn(buf, "\n")] = 0;
		if (!strncmp(buf, "xenshm ", 7) && m->nshm < MAX_SHMS &&
		    sscanf(buf + 7, "%u %llu %n", &m->shms[m->nshm].devid, &m->shms[m->nshm].quota_kb, &used) == 2 &&
		    used > 0 && m->shms[m->nshm].devid < MAX_SHMS && strlen(buf + 7 + used) < sizeof(m->shms[0].peers)) {
			snprintf(m->shms[m->nshm].peers, sizeof(m->shms[0].peers), "%s", buf + 7 + used);
			m->nshm++;
			continue;
		}
		if (strncmp(buf, "memflex ", 8) || m->ndisks == MAX_DISKS ||
		    xshm_spec_memflex(buf + 8, &m->disks[m->ndisks], msg, sizeof(msg))) {
			fprintf(err, "%s:%u: not a device line this xenshm wrote\n", path, line);
			fclose(f);
			return -EINVAL;
		}
		m->ndisks++;
	}
	if (f)
		fclose(f);
	return 0;
}

/* Remove the release requests of a domain's xenshm devices (the move failed or gave up). */
static void withdraw_release(struct xo *x, xo_domid_t domid, const struct moving *m)
{
	char path[XSP_MAX];

	for (unsigned int i = 0; i < m->nshm; i++)
		if (!xsp_be_release(path, sizeof(path), domid, m->shms[i].devid))
			x->ops->xs_rm(x, XO_TXN_NONE, path);
}

static int count_open(struct xo *x, xo_domid_t domid, const struct moving *m, bool say, unsigned int release_ms,
		      FILE *err)
{
	char path[XSP_MAX];
	int open = 0;

	for (unsigned int i = 0; i < m->nshm; i++) {
		char *state = NULL;
		if (!xsp_be_state(path, sizeof(path), domid, m->shms[i].devid) &&
		    !xo_read_str(x, XO_TXN_NONE, path, &state) && strcmp(state, "6")) {
			open++;
			if (say)
				fprintf(err,
					"xenshm %s: domain %u device xenshm/%u did not let go of its shared memory within "
					"%u ms (backend state %s): its programs must handle SHM_EV_RELEASE (xenshm(1))\n",
					m->cmd, domid, m->shms[i].devid, release_ms, state);
		}
		free(state);
	}
	return open;
}

/*
 * Ask every xenshm device of the domain to let go (backend/.../release) and
 * wait up to release_ms for each backend to be Closed: then the guest maps
 * nothing of dom0's and holds no event channel of xenshmd's, and the suspend
 * is safe.  On timeout the requests are withdrawn and the guest runs on.
 */
static int release_devices(struct xo *x, xo_domid_t domid, const struct moving *m, unsigned int release_ms,
			   FILE *err)
{
	char path[XSP_MAX];

	for (unsigned int i = 0; i < m->nshm; i++) {
		if (xsp_be_release(path, sizeof(path), domid, m->shms[i].devid) ||
		    xo_printf(x, XO_TXN_NONE, path, "%u", release_ms)) {
			fprintf(err, "xenshm %s: domain %u device xenshm/%u: cannot write %s\n", m->cmd, domid,
				m->shms[i].devid, path);
			withdraw_release(x, domid, m);
			return -EIO;
		}
	}
	/* xenshmd closes a device once its guest has let go (or at once if it was not connected). */
	for (unsigned int waited = 0; waited <= release_ms + 1000; waited += 50) {
		if (!count_open(x, domid, m, false, 0, err))
			return 0;
		usleep(50000);
	}
	count_open(x, domid, m, true, release_ms, err);
	withdraw_release(x, domid, m);
	return -ETIMEDOUT;
}

/* keep-store: xenshmd sets the disk's store aside when the domain dies, for its next domid. */
static void mark_keep(struct xo *x, xo_domid_t domid, const struct moving *m, bool keep)
{
	for (unsigned int i = 0; i < m->ndisks; i++) {
		char dir[XSP_MAX], key[XSP_MAX + 16];
		xsp_mf_be_dir(dir, sizeof(dir), domid, m->disk_ids[i]);
		snprintf(key, sizeof(key), "%s/keep-store", dir);
		if (keep)
			xo_write_str(x, XO_TXN_NONE, key, "1");
		else
			x->ops->xs_rm(x, XO_TXN_NONE, key);
	}
}

/* The release asked for and the stores marked; undone on any error.  0 or -errno. */
static int let_go(struct xo *x, xo_domid_t domid, const struct moving *m, unsigned int release_ms, FILE *err)
{
	if (m->nshm && release_devices(x, domid, m, release_ms, err)) {
		fprintf(err, "xenshm %s: domain %u not moved; it runs on as before\n", m->cmd, domid);
		return -ETIMEDOUT;
	}
	mark_keep(x, domid, m, true);
	return 0;
}

static void take_back(struct xo *x, xo_domid_t domid, const struct moving *m)
{
	mark_keep(x, domid, m, false);
	withdraw_release(x, domid, m);
}

/* On the domain's new domid, still paused: the disks (the kept stores), then fresh devices. */
static int remake(struct xo *x, xo_domid_t domid, const struct moving *m, FILE *err)
{
	for (unsigned int i = 0; i < m->ndisks; i++) {
		const struct xshm_spec_memflex *s = &m->disks[i];
		int rc = xshm_memflex_create(x, domid, s->devid, s->vdev, s->size_kb, s->mem_kb);
		if (rc) {
			fprintf(err, "xenshm %s: domain %u disk memflex/%u (%s): %s\n", m->cmd, domid, s->devid, s->vdev,
				strerror(-rc));
			return rc;
		}
	}
	for (unsigned int i = 0; i < m->nshm; i++) {
		char key[XSP_MAX];
		int rc = xshm_device_create(x, domid, m->shms[i].devid, m->shms[i].quota_kb);
		if (!rc && strcmp(m->shms[i].peers, "-") &&
		    !xsp_be_mempipe_peers(key, sizeof(key), domid, m->shms[i].devid))
			rc = xo_write_str(x, XO_TXN_NONE, key, m->shms[i].peers);
		if (rc) {
			fprintf(err, "xenshm %s: domain %u device xenshm/%u: %s\n", m->cmd, domid, m->shms[i].devid,
				strerror(-rc));
			return rc;
		}
	}
	return 0;
}

/* "[--release-ms MS]" at argv[at] sets *release_ms: the index after it, or -1 (message given). */
static int release_opt(int argc, char **argv, int at, const char *cmd, unsigned int *release_ms, FILE *err)
{
	unsigned long long v;

	if (at >= argc || strcmp(argv[at], "--release-ms"))
		return at;
	if (at + 1 >= argc || xo_parse_uint(argv[at + 1], 600000, &v) || v < 100) {
		fprintf(err, "xenshm %s: --release-ms wants 100 .. 600000, got '%s'\n", cmd,
			at + 1 < argc ? argv[at + 1] : "");
		return -1;
	}
	*release_ms = (unsigned int)v;
	return at + 2;
}

static int save_with(struct moving *m, struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err)
{
	const char *args[XSHM_XL_ARGS_MAX + 1];
	unsigned int release_ms = RELEASE_MS_DEFAULT;
	char id[16], path[512];
	int na = 0, first_xl;

	if (argc < 3 || (first_xl = release_opt(argc, argv, 3, "save", &release_ms, err)) < 0 ||
	    argc - first_xl > XSHM_XL_ARGS_MAX - 4)
		return XSHM_CLI_USAGE;
	if (collect(x, domid, m, err) || let_go(x, domid, m, release_ms, err))
		return XSHM_CLI_FAIL;
	if (write_sidecar(m, argv[2], err)) {
		take_back(x, domid, m);
		return XSHM_CLI_FAIL;
	}
	snprintf(id, sizeof(id), "%u", domid);
	args[na++] = "save";
	for (int i = first_xl; i < argc; i++)
		args[na++] = argv[i];
	args[na++] = id;
	args[na++] = argv[2];
	args[na] = NULL;
	if (xshm_cli_run_xl(args, err)) {
		take_back(x, domid, m);
		snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, argv[2]);
		unlink(path);
		fprintf(err, "xenshm save: xl save of domain %u failed (see above); its disks stay as they were\n", domid);
		return XSHM_CLI_FAIL;
	}
	fprintf(out, "domain %u saved to %s with %u MemFlex disk%s and %u xenshm device%s (%s" SIDECAR_SUFFIX ")\n",
		domid, argv[2], m->ndisks, m->ndisks == 1 ? "" : "s", m->nshm, m->nshm == 1 ? "" : "s", argv[2]);
	return XSHM_CLI_OK;
}

int xshm_cli_save(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err)
{
	struct moving *m = moving_new("save", err);
	int rc = m ? save_with(m, x, domid, argc, argv, out, err) : XSHM_CLI_FAIL;

	free(m);
	return rc;
}

static unsigned int list_domains(struct xo *x, uint32_t *ids)
{
	unsigned int n = 0;

	if (xo_list_ids(x, "/local/domain", XO_DOMID_FIRST_RESERVED - 1, ids, MAX_DOMS, &n))
		return 0;
	return n;
}

static int restore_with(struct moving *m, struct xo *x, int argc, char **argv, FILE *out, FILE *err)
{
	const char *args[XSHM_XL_ARGS_MAX + 1];
	static uint32_t before[MAX_DOMS], after[MAX_DOMS];
	unsigned int nb, na;
	char path[512], id[16];
	xo_domid_t domid = XO_DOMID_FIRST_RESERVED;
	int n = 0;

	if (argc < 2 || argc - 2 > XSHM_XL_ARGS_MAX - 3)
		return XSHM_CLI_USAGE;
	snprintf(path, sizeof(path), "%s" SIDECAR_SUFFIX, argv[1]);
	if (read_sidecar(path, m, err))
		return XSHM_CLI_USAGE;
	nb = list_domains(x, before);
	args[n++] = "restore";
	args[n++] = "-p";
	for (int i = 2; i < argc; i++)
		args[n++] = argv[i];
	args[n++] = argv[1];
	args[n] = NULL;
	if (xshm_cli_run_xl(args, err)) {
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
	 * its swap where the save left it (xenshmd takes the kept store back by the UUID).
	 * Without them the domain is of no use; the save file stays for another try. */
	snprintf(id, sizeof(id), "%u", domid);
	if (remake(x, domid, m, err) || xshm_cli_run_xl((const char *const[]){ "unpause", id, NULL }, err)) {
		fprintf(err, "xenshm restore: destroying domain %u; %s is left for another try\n", domid, argv[1]);
		xshm_cli_run_xl((const char *const[]){ "destroy", id, NULL }, err);
		return XSHM_CLI_FAIL;
	}
	unlink(path);
	fprintf(out, "domain %u restored from %s with %u MemFlex disk%s and %u xenshm device%s\n", domid, argv[1],
		m->ndisks, m->ndisks == 1 ? "" : "s", m->nshm, m->nshm == 1 ? "" : "s");
	return XSHM_CLI_OK;
}

int xshm_cli_restore(struct xo *x, int argc, char **argv, FILE *out, FILE *err)
{
	struct moving *m = moving_new("restore", err);
	int rc = m ? restore_with(m, x, argc, argv, out, err) : XSHM_CLI_FAIL;

	free(m);
	return rc;
}

/* s appended to buf; false when it does not fit. */
static bool append(char *buf, size_t size, const char *s)
{
	size_t n = strlen(buf);
	int w = snprintf(buf + n, size - n, "%s", s);

	return w >= 0 && (size_t)w < size - n;
}

/* s in single quotes for sh, appended to buf; false when it does not fit. */
static bool sh_quote(char *buf, size_t size, const char *s)
{
	bool fits = append(buf, size, "'");

	for (; fits && *s; s++)
		fits = append(buf, size, *s == '\'' ? "'\\''" : (char[]){ *s, 0 });
	return fits && append(buf, size, "'");
}

/* `sh -c "SSH 'HOST' WORDS..."`: run a command on the other host, as xl runs its receiver there. */
static int run_there(const char *ssh, const char *host, FILE *err, const char *const *words)
{
	char line[SH_CMD_MAX];
	bool fits = (size_t)snprintf(line, sizeof(line), "%s ", ssh) < sizeof(line) &&
		    sh_quote(line, sizeof(line), host);

	for (; fits && *words; words++)
		fits = append(line, sizeof(line), " ") && sh_quote(line, sizeof(line), *words);
	if (!fits) {
		fprintf(err, "xenshm migrate: the command for %s is too long\n", host);
		return -E2BIG;
	}
	fprintf(err, "xenshm migrate: %s\n", line);
	return xshm_cli_spawn((const char *const[]){ "sh", "-c", line, NULL }, err);
}

/* Wait for xenshmd to have dropped the old domain's devices and disks (its stores set aside). */
static bool old_domain_gone(struct xo *x, xo_domid_t domid)
{
	char mf[XSP_MAX], shm[XSP_MAX], *v = NULL;

	snprintf(mf, sizeof(mf), "/local/domain/0/backend/memflex/%u", domid);
	snprintf(shm, sizeof(shm), "/local/domain/0/backend/xenshm/%u", domid);
	for (unsigned int waited = 0; waited <= OLD_DOMAIN_GONE_MS; waited += 50) {
		bool gone = xo_read_str(x, XO_TXN_NONE, mf, &v) == -ENOENT;
		free(v);
		v = NULL;
		gone = gone && xo_read_str(x, XO_TXN_NONE, shm, &v) == -ENOENT;
		free(v);
		v = NULL;
		if (gone)
			return true;
		usleep(50000);
	}
	return false;
}

/* Here, after `xl migrate -p -s '' ... 'exec xl migrate-receive -p'`: the devices on the new domid, unpause. */
static int finish_here(struct xo *x, xo_domid_t domid, const char *name, const struct moving *m, FILE *out,
		       FILE *err)
{
	xo_domid_t now;
	char id[16];

	/* xl destroyed the old domain once the new one was ready, which migrate-receive -p left paused. */
	if (xshm_cli_resolve(x, name, &now) || now == domid) {
		fprintf(err, "xenshm migrate: xl says domain %u (%s) has moved, but no other domain has its name; "
			     "nothing more done\n", domid, name);
		return -ESRCH;
	}
	snprintf(id, sizeof(id), "%u", now);
	/* The old domain's stores must be set aside before the new disks take them back. */
	if (!old_domain_gone(x, domid)) {
		fprintf(err, "xenshm migrate: xenshmd has not let go of domain %u's devices after %u ms (is it "
			     "running?); domain %u (%s) is left paused without them\n", domid, OLD_DOMAIN_GONE_MS, now,
			name);
		return -ETIMEDOUT;
	}
	if (remake(x, now, m, err) || xshm_cli_run_xl((const char *const[]){ "unpause", id, NULL }, err)) {
		/* Its only copy: not destroyed. */
		fprintf(err, "xenshm migrate: domain %u (%s) is left paused; attach what failed above, then "
			     "'xl unpause %u'\n", now, name, now);
		return -EIO;
	}
	fprintf(out, "domain %u (%s) migrated here as domain %u with %u MemFlex disk%s and %u xenshm device%s\n",
		domid, name, now, m->ndisks, m->ndisks == 1 ? "" : "s", m->nshm, m->nshm == 1 ? "" : "s");
	return 0;
}

/*
 * There, after `xl migrate -p [-s SSH] ... DOM HOST`: its devices made by `SSH HOST xenshm attach`
 * (devices 0..N-1 with one quota: the largest, and device 0's peers), then `SSH HOST xl unpause`,
 * whatever became of the devices: a guest without them still runs.
 */
static int finish_there(xo_domid_t domid, const char *name, const char *host, const char *ssh,
			const struct moving *m, FILE *out, FILE *err)
{
	char quota[32], ndev[16], peers[XSHM_PEERS_LEN_MAX + 32];
	unsigned long long q = 0;
	int rc = 0;

	for (unsigned int i = 0; i < m->nshm; i++)
		q = m->shms[i].quota_kb > q ? m->shms[i].quota_kb : q;
	snprintf(quota, sizeof(quota), "%lluK", q);
	snprintf(ndev, sizeof(ndev), "%u", m->nshm);
	if (m->nshm)
		rc = run_there(ssh, host, err, (const char *const[]){ "xenshm", "attach", name, "--quota", quota,
								      "--devices", ndev, NULL });
	if (!rc && m->nshm && strcmp(m->shms[0].peers, "-")) {
		snprintf(peers, sizeof(peers), "mempipe-peers=%s", m->shms[0].peers);
		rc = run_there(ssh, host, err, (const char *const[]){ "xenshm", "set", name, peers, NULL });
	}
	if (rc)
		fprintf(err, "xenshm migrate: domain %u (%s) goes on at %s without its xenshm devices: there, run "
			     "'xenshm attach %s --quota %s --devices %s'\n", domid, name, host, name, quota, ndev);
	if (run_there(ssh, host, err, (const char *const[]){ xshm_cli_xl(), "unpause", name, NULL })) {
		fprintf(err, "xenshm migrate: domain %s is paused at %s: there, run 'xl unpause %s'\n", name, host,
			name);
		return -EIO;
	}
	if (rc)
		return rc;
	fprintf(out, "domain %u (%s) migrated to %s with %u xenshm device%s\n", domid, name, host, m->nshm,
		m->nshm == 1 ? "" : "s");
	return 0;
}

static bool is_here(const char *host)
{
	return !host || !strcmp(host, "localhost");
}

static int migrate_with(struct moving *m, struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err)
{
	const char *host = NULL, *ssh = NULL, *args[XSHM_XL_ARGS_MAX + 1];
	unsigned int release_ms = RELEASE_MS_DEFAULT;
	char path[XSP_MAX], id[16], rune[SH_CMD_MAX] = "exec ", *name = NULL;
	int at = 2, n = 0, rc = XSHM_CLI_FAIL;

	if (at < argc && argv[at][0] != '-')
		host = argv[at++];
	args[n++] = "migrate";
	for (int next; at < argc; at = next) {
		if ((next = release_opt(argc, argv, at, "migrate", &release_ms, err)) < 0)
			return XSHM_CLI_USAGE;
		if (next > at)
			continue;
		if (!strcmp(argv[at], "--ssh") && at + 1 < argc) {
			ssh = argv[at + 1];
			next = at + 2;
			continue;
		}
		/* What our own xl run needs is not the caller's to change. */
		if (!strcmp(argv[at], "-s") || !strcmp(argv[at], "--ssh") || !strcmp(argv[at], "-p") ||
		    n == XSHM_XL_ARGS_MAX - 5) {
			fprintf(err, "xenshm migrate: '%s' is not passed to xl migrate (--ssh CMD is its -s; the domain "
				     "stays paused until its devices are made)\n", argv[at]);
			return XSHM_CLI_USAGE;
		}
		args[n++] = argv[at];
		next = at + 1;
	}
	/* Within this host xl runs the "host" string as its receiver. */
	if (is_here(host)) {
		if (!sh_quote(rune, sizeof(rune), xshm_cli_xl()) || !append(rune, sizeof(rune), " migrate-receive -p"))
			return XSHM_CLI_USAGE;
		ssh = "";
	}
	args[n++] = "-p"; /* and the receiver leaves it paused for the devices */
	if (ssh) {
		args[n++] = "-s";
		args[n++] = ssh;
	}
	snprintf(id, sizeof(id), "%u", domid);
	args[n++] = id;
	args[n++] = is_here(host) ? rune : host;
	args[n] = NULL;

	snprintf(path, sizeof(path), "/local/domain/%u/name", domid);
	if (xo_read_str(x, XO_TXN_NONE, path, &name)) {
		fprintf(err, "xenshm migrate: domain %u has no name (%s)\n", domid, path);
		return XSHM_CLI_NOTFOUND;
	}
	if (collect(x, domid, m, err))
		goto out;
	if (!is_here(host) && m->ndisks) {
		fprintf(err, "xenshm migrate: domain %u (%s) swaps to MemFlex disk %s, whose pages are in this "
			     "host's memory and cannot follow it to %s: swapoff /dev/%s in the guest and 'xenshm detach "
			     "%u --memflex' first, or migrate it within this host; nothing done\n",
			domid, name, m->disks[0].vdev, host, m->disks[0].vdev, domid);
		goto out;
	}
	if (let_go(x, domid, m, release_ms, err))
		goto out;
	if (xshm_cli_run_xl(args, err)) {
		xo_domid_t still;
		/* xl resumes the domain here when the migration fails before its end. */
		if (xshm_cli_resolve(x, name, &still) == 0 && still == domid) {
			take_back(x, domid, m);
			fprintf(err, "xenshm migrate: xl migrate of domain %u (%s) failed (see above); it runs on here, "
				     "its programs may open their xenshm devices again\n", domid, name);
		} else {
			fprintf(err, "xenshm migrate: xl migrate of domain %u (%s) failed (see above) and the domain is "
				     "no longer domain %u: check both ends\n", domid, name, domid);
		}
		goto out;
	}
	if (!(is_here(host) ? finish_here(x, domid, name, m, out, err)
			    : finish_there(domid, name, host, ssh ? ssh : "ssh", m, out, err)))
		rc = XSHM_CLI_OK;
out:
	free(name);
	return rc;
}

int xshm_cli_migrate(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err)
{
	struct moving *m = moving_new("migrate", err);
	int rc = m ? migrate_with(m, x, domid, argc, argv, out, err) : XSHM_CLI_FAIL;

	free(m);
	return rc;
}
