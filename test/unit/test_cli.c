// SPDX-License-Identifier: GPL-2.0-only
/* The admin CLI on the fake Xen, against a running xenshmd (daemon_env). */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../tools/cfgspec.h"
#include "../../tools/cli.h"
#include "../../tools/top.h"
#include "xenshm/xspaths.h"
#include "xenshm/mempipe.h"
#include "daemon_env.h"
#include "tests.h"

struct run {
	int rc;
	char out[8192], err[2048];
};

/* Run `xenshm ARGS...` (NULL-terminated) as dom0's tool would. */
static struct run *cli(struct host *h, ...)
{
	static struct run r;
	char *argv[16];
	int argc = 0;
	va_list ap;
	FILE *out = tmpfile(), *err = tmpfile();

	va_start(ap, h);
	for (char *a; argc < 15 && (a = va_arg(ap, char *)); )
		argv[argc++] = a;
	va_end(ap);
	argv[argc] = NULL;
	memset(&r, 0, sizeof(r));
	r.rc = xshm_cli(h->tool, argc, argv, out, err, "/nonexistent");
	rewind(out);
	rewind(err);
	size_t n = fread(r.out, 1, sizeof(r.out) - 1, out);
	r.out[n] = 0;
	n = fread(r.err, 1, sizeof(r.err) - 1, err);
	r.err[n] = 0;
	fclose(out);
	fclose(err);
	return &r;
}

static char *tool_read(struct host *h, const char *path)
{
	char *v = NULL;

	return xo_read_str(h->tool, XO_TXN_NONE, path, &v) ? NULL : v;
}

START_TEST(sizes)
{
	uint64_t kb;

	ck_assert_int_eq(xshm_parse_size_kb("65536", 1ull << 40, &kb), 0);
	ck_assert_uint_eq(kb, 65536);
	ck_assert_int_eq(xshm_parse_size_kb("64M", 1ull << 40, &kb), 0);
	ck_assert_uint_eq(kb, 65536);
	ck_assert_int_eq(xshm_parse_size_kb("1G", 1ull << 40, &kb), 0);
	ck_assert_uint_eq(kb, 1048576);
	ck_assert_int_eq(xshm_parse_size_kb("8k", 1ull << 40, &kb), 0);
	ck_assert_uint_eq(kb, 8);
	ck_assert_int_eq(xshm_parse_size_kb("6K", 1ull << 40, &kb), -EINVAL); /* not whole pages */
	ck_assert_int_eq(xshm_parse_size_kb("M", 1ull << 40, &kb), -EINVAL);
	ck_assert_int_eq(xshm_parse_size_kb("-4", 1ull << 40, &kb), -EINVAL);
	ck_assert_int_eq(xshm_parse_size_kb("1.5G", 1ull << 40, &kb), -EINVAL);
	ck_assert_int_eq(xshm_parse_size_kb("2T", 1ull << 30, &kb), -ERANGE);
	ck_assert_int_eq(xshm_parse_size_kb("99999999999999999999T", 1ull << 40, &kb), -ERANGE);
}
END_TEST

START_TEST(attach_list_show_detach)
{
	struct host h;
	struct run *r;
	xo_domid_t g3;
	char want[256];

	host_init(&h, true);
	ck_assert_int_eq(xo_fake_domain_create(h.w, "web-3", &g3), 0);
	r = cli(&h, "attach", "web-3", "--quota", "8M", "--devices", "2", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	struct shm *s = shm_open_xo(h.x1, 8192, &fast);
	ck_assert_ptr_nonnull(s);
	r = cli(&h, "list", (char *)NULL);
	ck_assert_int_eq(r->rc, 0);
	snprintf(want, sizeof(want), "%5u %-16s %3u %-12s %10d %10d %5d  -", h.g1, "g1", 0u, "connected", 4096, 12, 1);
	ck_assert_msg(strstr(r->out, want), "no '%s' in\n%s", want, r->out);
	/* web-3's second device: its state moves on its own (xenshmd prepares it), its quota does not. */
	snprintf(want, sizeof(want), "%5u %-16s %3u ", g3, "web-3", 1u);
	char *line = strstr(r->out, want);
	ck_assert_msg(line, "no '%s' in\n%s", want, r->out);
	ck_assert_msg(strstr(line, "       8192 ") && strstr(line, "       8192 ") < strchr(line, '\n'), "%s", line);
	r = cli(&h, "list", "--json", (char *)NULL);
	ck_assert_int_eq(r->rc, 0);
	snprintf(want, sizeof(want), "{\"domid\":%u,\"name\":\"g1\",\"devid\":0,\"state\":4,\"state_name\":\"connected\","
		 "\"quota_kb\":4096,\"used_kb\":12,\"segments\":1,\"reclaim\":null,\"error\":null,\"release_ms\":null,\"channels\":[]}",
		 h.g1);
	ck_assert_msg(strstr(r->out, want), "no '%s' in\n%s", want, r->out);
	r = cli(&h, "show", "g1", (char *)NULL);
	ck_assert_int_eq(r->rc, 0);
	ck_assert_msg(strstr(r->out, "in use          12 KiB in 1 segments"), "%s", r->out);
	/* MemPipe channels show up on the device that holds them. */
	struct shm *s2 = shm_open_xo(h.x2, 0, &fast);
	ck_assert_ptr_nonnull(s2);
	struct mempipe *l = mempipe_listen(s2, "chat", NULL);
	ck_assert_ptr_nonnull(l);
	r = cli(&h, "show", "g2", (char *)NULL);
	ck_assert_int_eq(r->rc, 0);
	ck_assert_msg(strstr(r->out, "  channel 1       listen chat\n"), "%s", r->out);
	r = cli(&h, "show", "g2", "--json", (char *)NULL);
	ck_assert_msg(strstr(r->out, "\"channels\":[{\"id\":1,\"info\":\"listen chat\"}]"), "%s", r->out);
	mempipe_close(l);
	shm_exit(s2);
	r = cli(&h, "show", "nosuch", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_NOTFOUND);
	ck_assert_msg(strstr(r->err, "no domain 'nosuch'"), "%s", r->err);
	/* A save waiting for a guest to let go is visible to the admin. */
	char rel[XSP_MAX];
	xsp_be_release(rel, sizeof(rel), g3, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, rel, "5000"), 0);
	r = cli(&h, "list", (char *)NULL);
	ck_assert_msg(strstr(r->out, "releasing for a save (ms): 5000"), "%s", r->out);
	h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, rel);
	shm_exit(s);
	r = cli(&h, "detach", "web-3", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	r = cli(&h, "show", "web-3", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_NOTFOUND);
	host_fini(&h);
}
END_TEST

START_TEST(set_status_reclaim)
{
	struct host h;
	struct run *r;
	char path[XSP_MAX], *v;

	host_init(&h, true);
	r = cli(&h, "set", "budget=16M", "reclaim-deadline-ms=250", "accept-pct=80", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	xsp_tool_budget_kb(path, sizeof(path));
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "16384");
	free(v);
	/* Refused here, before xenshmd ever sees them; nothing written. */
	r = cli(&h, "set", "accept-pct=20", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	ck_assert_msg(strstr(r->err, "accept-pct wants 50 .. 100, got '20'"), "%s", r->err);
	r = cli(&h, "set", "budget=5K", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	r = cli(&h, "set", "colour=blue", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	r = cli(&h, "set", "g1", "quota=2M", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "2048");
	free(v);
	r = cli(&h, "set", "g1", "mempipe-peers=g2:64 *:0", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	xsp_be_mempipe_peers(path, sizeof(path), h.g1, 0);
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "g2:64 *:0");
	free(v);
	r = cli(&h, "set", "g1", "mempipe-peers=g2:6", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	ck_assert_msg(strstr(r->err, "'6' for peer g2"), "%s", r->err);
	r = cli(&h, "set", "g1", "colour=blue", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	/* xenstore-write goes around the CLI's checks: xenshmd refuses, keeps the old value and
	 * says so in the admin's error node, until the node holds a good value again. */
	char err_node[XSP_MAX];
	xsp_tool_error(err_node, sizeof(err_node));
	xsp_tool_accept_pct(path, sizeof(path));
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "200"), 0);
	v = NULL;
	for (int i = 0; i < 300 && xo_read_str(h.tool, XO_TXN_NONE, err_node, &v); i++)
		usleep(10000);
	ck_assert_ptr_nonnull(v);
	/* Keeping 80, or 90 when xenshmd read the node only after the 200 replaced the CLI's 80. */
	ck_assert_msg(!strncmp(v, "22 /tool/xenshm/accept-pct: '200' refused: not 50 .. 100; keeping ", 66), "%s", v);
	free(v);
	r = cli(&h, "status", (char *)NULL);
	ck_assert_msg(strstr(r->out, "refused setting: 22 /tool/xenshm/accept-pct: '200' refused"), "%s", r->out);
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "1 G"), 0);
	for (int i = 0; i < 300; i++) {
		v = NULL;
		if (!xo_read_str(h.tool, XO_TXN_NONE, err_node, &v) && strstr(v, "quota-kb"))
			break;
		free(v);
		v = NULL;
		usleep(10000);
	}
	ck_assert_ptr_nonnull(v);
	ck_assert_msg(strstr(v, "/quota-kb: '1 G' refused: not a multiple of 4 KiB in decimal; keeping 2048 KiB"),
		      "%s", v);
	free(v);
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "2048"), 0);
	for (int i = 0; i < 300 && !xo_read_str(h.tool, XO_TXN_NONE, err_node, &v); i++) {
		free(v);
		usleep(10000);
	}
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, err_node, &v), -ENOENT);
	xsp_tool_accept_pct(path, sizeof(path));
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, path, "80"), 0);
	usleep(100000);
	struct shm *s = shm_open_xo(h.x1, 1 << 20, &fast);
	ck_assert_ptr_nonnull(s);
	/* used-kb is published within 200 ms of a change. */
	for (int i = 0; i < 300; i++) {
		r = cli(&h, "status", "--json", (char *)NULL);
		if (strstr(r->out, "\"budget_kb\":16384,\"used_kb\":1028,"))
			break;
		usleep(10000);
	}
	ck_assert_int_eq(r->rc, 0);
	ck_assert_msg(strstr(r->out, "\"budget_kb\":16384,\"used_kb\":1028,\"free_kb\":15356,\"xenshmd\":true,"
				     "\"reclaim_deadline_ms\":250,\"reclaim_interval_ms\":5000,\"accept_pct\":80,"),
		      "%s", r->out);
	r = cli(&h, "status", (char *)NULL);
	ck_assert_msg(strstr(r->out, "host budget 16384 KiB, used 1028 KiB, free 15356 KiB"), "%s", r->out);
	/* The admin asks for 64 KiB back: a notice reaches the guest, the node is consumed. */
	r = cli(&h, "reclaim", "g1", "64K", (char *)NULL);
	ck_assert_msg(r->rc == 0, "%s", r->err);
	struct shm_event ev;
	int got = 0;
	for (int i = 0; i < 300 && (got = shm_next_event(s, &ev)) == 0; i++)
		usleep(10000);
	ck_assert_int_eq(got, 1);
	ck_assert_uint_eq(ev.bytes, 64 << 10);
	ck_assert_uint_eq(ev.deadline_ms, 250);
	xsp_be_reclaim_kb(path, sizeof(path), h.g1, 0);
	ck_assert(wait_absent(&h, path));
	r = cli(&h, "reclaim", "g1", "64K", "--device", "7", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_NOTFOUND);
	shm_exit(s);
	host_fini(&h);
}
END_TEST

START_TEST(memflex_attach_show_status_detach)
{
	struct host h;
	char name[16], path[XSP_MAX];
	struct run *r;

	host_init(&h, true);
	snprintf(name, sizeof(name), "%u", h.g1);
	r = cli(&h, "attach", name, "--memflex", "64M", "--mem", "16M", (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	/* The vbd frontend blkfront probes, the backend xenshmd serves. */
	xsp_mf_fe_dir(path, sizeof(path), h.g1, 268440064);
	strcat(path, "/virtual-device");
	char *v = tool_read(&h, path);
	ck_assert_str_eq(v, "268440064");
	free(v);
	for (int i = 0; i < 300; i++) {
		r = cli(&h, "show", name, (char *)NULL);
		if (strstr(r->out, "backend state   2"))
			break;
		usleep(10000);
	}
	ck_assert_msg(strstr(r->out, "disk memflex/268440064 (xvds)") && strstr(r->out, "backend state   2") &&
			      strstr(r->out, "65536 KiB") && strstr(r->out, "16384 KiB"), "%s", r->out);
	r = cli(&h, "status", "--json", (char *)NULL);
	ck_assert_msg(strstr(r->out, "\"disks\":[{\"kind\":\"memflex\"") && strstr(r->out, "\"size_kb\":65536") &&
			      strstr(r->out, "\"mem_quota_kb\":16384"), "%s", r->out);
	r = cli(&h, "status", (char *)NULL);
	ck_assert_msg(strstr(r->out, "xvds") && strstr(r->out, "MEM-MAX-KB"), "%s", r->out);
	/* The same name again, a bad size, a bad name, more memory than disk: refused. */
	ck_assert_int_eq(cli(&h, "attach", name, "--memflex", "64M", (char *)NULL)->rc, XSHM_CLI_FAIL);
	ck_assert_int_eq(cli(&h, "attach", name, "--memflex", "3K", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_int_eq(cli(&h, "attach", name, "--memflex", "64M", "--vdev", "sda", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_int_eq(cli(&h, "attach", name, "--memflex", "64M", "--mem", "1G", "--vdev", "xvdt", (char *)NULL)->rc,
			 XSHM_CLI_USAGE);
	r = cli(&h, "detach", name, "--memflex", "--vdev", "xvds", (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	ck_assert_int_eq(cli(&h, "detach", name, "--memflex", (char *)NULL)->rc, XSHM_CLI_NOTFOUND);
	xsp_mf_fe_dir(path, sizeof(path), h.g1, 268440064);
	ck_assert(wait_absent(&h, path));
	host_fini(&h);
}
END_TEST

/* A live system matches the schema; each kind of planted fault is found and named. */
START_TEST(schema_check_finds_planted_faults)
{
	struct host h;
	char name[16], path[XSP_MAX];
	struct run *r;

	host_init(&h, true);
	snprintf(name, sizeof(name), "%u", h.g1);
	struct shm *s = shm_open_xo(h.x1, 8192, &fast);
	ck_assert_ptr_nonnull(s);
	struct shm *s2 = shm_open_xo(h.x2, 0, &fast);
	ck_assert_ptr_nonnull(s2);
	struct mempipe *l = mempipe_listen(s2, "chat", NULL);
	ck_assert_ptr_nonnull(l);
	r = cli(&h, "attach", name, "--memflex", "64M", "--mem", "16M", (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	for (int i = 0; i < 300; i++) {
		r = cli(&h, "show", name, (char *)NULL);
		if (strstr(r->out, "backend state   2"))
			break;
		usleep(10000);
	}
	r = cli(&h, "schema-check", (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK && strstr(r->out, ", 0 problems"), "%s%s", r->out, r->err);
	unsigned int nodes = 0;
	ck_assert(sscanf(r->out, "schema-check: %u nodes", &nodes) == 1);
	ck_assert_uint_ge(nodes, 40); /* devices, segment, channel, disk, host keys */

	/* A backend node the guest may write: the hole schema-check exists for. */
	xsp_be_quota_kb(path, sizeof(path), h.g1, 0);
	struct xo_perm bad[2] = { { 0, XO_PERM_NONE }, { h.g1, XO_PERM_BOTH } };
	ck_assert_int_eq(h.tool->ops->xs_set_perms(h.tool, XO_TXN_NONE, path, bad, 2), 0);
	/* A node nobody documented, and a value of the wrong type. */
	char bogus[XSP_MAX + 8], keep[XSP_MAX + 16];
	xsp_be_dir(bogus, sizeof(bogus), h.g1, 0);
	strcat(bogus, "/bogus");
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, bogus, "1"), 0);
	xsp_mf_be_dir(keep, sizeof(keep), h.g1, 268440064);
	strcat(keep, "/keep-store");
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, keep, "yes"), 0);
	/* What a domain that died unseen leaves (xenshmd sweeps it at its next rescan). */
	ck_assert_int_eq(xo_write_str(h.tool, XO_TXN_NONE, "/local/domain/0/error/backend/xenshm/77/0/error", "22 x"), 0);
	r = cli(&h, "schema-check", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	char want[512];
	snprintf(want, sizeof(want), "%s: wrong permissions: are 'n0 b%u', the schema ([be-quota-kb]) says 'n0 r%u'",
		 path, h.g1, h.g1);
	ck_assert_msg(strstr(r->out, want), "no '%s' in\n%s", want, r->out);
	snprintf(want, sizeof(want), "%s: unknown node", bogus);
	ck_assert_msg(strstr(r->out, want), "no '%s' in\n%s", want, r->out);
	snprintf(want, sizeof(want), "%s: bad value: 'yes' is not a valid bool", keep);
	ck_assert_msg(strstr(r->out, want), "no '%s' in\n%s", want, r->out);
	ck_assert_msg(strstr(r->out, "/local/domain/0/error/backend/xenshm/77/0/error: left behind: domain 77 does not exist"),
		      "%s", r->out);
	ck_assert_msg(strstr(r->out, ", 5 problems"), "%s", r->out);
	r = cli(&h, "schema-check", "--json", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	snprintf(want, sizeof(want), "{\"path\":\"%s\",\"problem\":\"unknown node\"", bogus);
	ck_assert_msg(!strncmp(r->out, "{\"problems\":[{", 14) && strstr(r->out, want), "%s", r->out);
	ck_assert_int_eq(cli(&h, "schema-check", "--xml", (char *)NULL)->rc, XSHM_CLI_USAGE);
	mempipe_close(l);
	shm_exit(s2);
	shm_exit(s);
	host_fini(&h);
}
END_TEST

START_TEST(cfg_specs)
{
	struct xshm_spec_xenshm x;
	struct xshm_spec_memflex m;
	char err[256];

	ck_assert_int_eq(xshm_spec_xenshm("quota=64M,devices=2", &x, err, sizeof(err)), 0);
	ck_assert_uint_eq(x.quota_kb, 65536);
	ck_assert_uint_eq(x.devices, 2);
	ck_assert_int_eq(xshm_spec_xenshm("devices=1", &x, err, sizeof(err)), 0);
	ck_assert_uint_eq(x.quota_kb, 65536); /* the default */
	ck_assert_int_eq(xshm_spec_memflex("size=512M,mem=128M,vdev=xvdt", &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.size_kb, 512 * 1024);
	ck_assert_uint_eq(m.mem_kb, 128 * 1024);
	ck_assert_str_eq(m.vdev, "xvdt");
	ck_assert_int_eq(xshm_spec_memflex("size=1G", &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(m.mem_kb, 1024 * 1024);
	ck_assert_str_eq(m.vdev, "xvds");
	ck_assert_uint_eq(m.devid, 268440064);
	/* Every kind of bad entry, each with a message naming what is wrong. */
	static const struct {
		const char *spec, *says;
		bool memflex;
	} bad[] = {
		{ "size=12Q", "size='12Q'", true },        { "mem=1M", "size= is required", true },
		{ "size=1M,mem=2M", "more than size", true }, { "size=1M,vdev=sda", "vdev='sda'", true },
		{ "size=1M,speed=9", "unknown key 'speed'", true }, { "size=1M,size=2M", "given twice", true },
		{ "size=1M,", "empty word", true },          { "size", "not key=value", true },
		{ "", "empty word", true },                  { "size=3K", "size='3K'", true },
		{ "devices=0", "devices='0'", false },       { "devices=257", "devices='257'", false },
		{ "quota=-1", "quota='-1'", false },         { "quota=1M,,devices=1", "empty word", false },
		{ "colour=red", "unknown key 'colour'", false },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		int rc = bad[i].memflex ? xshm_spec_memflex(bad[i].spec, &m, err, sizeof(err))
					: xshm_spec_xenshm(bad[i].spec, &x, err, sizeof(err));
		ck_assert_msg(rc == -EINVAL && strstr(err, bad[i].says), "'%s': rc %d, '%s'", bad[i].spec, rc, err);
	}
	struct xshm_spec_mempipe p;
	ck_assert_int_eq(xshm_spec_mempipe("peer=web2,max=4M", &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.peer, "web2");
	ck_assert_uint_eq(p.max_kb, 4096);
	ck_assert_int_eq(xshm_spec_mempipe("peer=*", &p, err, sizeof(err)), 0);
	ck_assert_uint_eq(p.max_kb, 0);
	static const struct { const char *spec, *says; } bad_pipe[] = {
		{ "max=4M", "peer= is required" },        { "peer=web 2", "not a domain name" },
		{ "peer=web2,max=2G", "up to 1048576" },   { "peer=web2,max=6K", "max='6K'" },
		{ "peer=a,peer=b", "given twice" },        { "peer=web2,ring=4M", "unknown key 'ring'" },
		{ "peer=web2:4", "not a domain name" },
	};
	for (size_t i = 0; i < sizeof(bad_pipe) / sizeof(bad_pipe[0]); i++) {
		err[0] = 0;
		int rc = xshm_spec_mempipe(bad_pipe[i].spec, &p, err, sizeof(err));
		ck_assert_msg(rc == -EINVAL && strstr(err, bad_pipe[i].says), "'%s': rc %d, '%s'", bad_pipe[i].spec,
			      rc, err);
	}
}
END_TEST

/* A stand-in for xl: logs its arguments, fails the subcommand named in FAKE_XL_FAIL. */
static void fake_xl(char *dir, size_t size, char *log, size_t logsize)
{
	char path[256];
	FILE *f;

	snprintf(dir, size, "/tmp/xenshm-unit-xl.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(log, logsize, "%s/log", dir);
	snprintf(path, sizeof(path), "%s/xl", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\necho \"$*\" >> %s\n[ \"$1\" = \"$FAKE_XL_FAIL\" ] && exit 1\nexit 0\n", log);
	fclose(f);
	chmod(path, 0755);
	setenv("XENSHM_XL", path, 1);
}

/* The stand-in xl and its log gone (the test's own files first), $XENSHM_XL unset. */
static void fake_xl_remove(const char *dir, const char *log)
{
	char path[256];

	unsetenv("XENSHM_XL");
	unlink(log);
	snprintf(path, sizeof(path), "%s/xl", dir);
	unlink(path);
	rmdir(dir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *slurp(const char *path)
{
	static char buf[2048];
	FILE *f = fopen(path, "r");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

	buf[n] = 0;
	if (f)
		fclose(f);
	return buf;
}

START_TEST(create_from_xl_config)
{
	struct host h;
	char dir[64], log[96], cfg[128], path[XSP_MAX], want[256];
	struct run *r;

	host_init(&h, false);
	/* A domain fresh from `xl create -p` has no devices yet. */
	for (int i = 0; i < 2; i++) {
		xsp_fe_dir(path, sizeof(path), i ? h.g2 : h.g1, 0);
		h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, path);
		xsp_be_dir(path, sizeof(path), i ? h.g2 : h.g1, 0);
		h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, path);
	}
	fake_xl(dir, sizeof(dir), log, sizeof(log));
	snprintf(cfg, sizeof(cfg), "%s/g1.cfg", dir);
	write_file(cfg, "name = \"g1\"\nmemory = 128\nxenshm = \"quota=1M,devices=2\"\n"
			"memflex = [ \"size=64M,mem=16M\", \"size=32M,vdev=xvdt\" ]\n");
	r = cli(&h, "create", cfg, "-q", "vcpus=2", (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	/* xl's options before the file, overrides after it. */
	snprintf(want, sizeof(want), "create -p -q %s vcpus=2\nunpause %u\n", cfg, h.g1);
	ck_assert_str_eq(slurp(log), want);
	ck_assert_msg(strstr(r->out, "2 xenshm devices, 2 MemFlex disks"), "%s", r->out);
	xsp_be_quota_kb(path, sizeof(path), h.g1, 1);
	char *v = tool_read(&h, path);
	ck_assert_str_eq(v, "1024");
	free(v);
	xsp_mf_be_size_kb(path, sizeof(path), h.g1, 268440064);
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "65536");
	free(v);
	xsp_mf_be_mem_kb(path, sizeof(path), h.g1, (1u << 28) | (19u << 8)); /* xvdt */
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "32768");
	free(v);

	/* mempipe alone brings a xenshm device, with the peers list written before the unpause. */
	unlink(log);
	write_file(cfg, "name = \"g2\"\nmempipe = [ \"peer=g1,max=4M\", \"peer=7\" ]\n");
	r = cli(&h, "create", cfg, (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	ck_assert_msg(strstr(r->out, "1 xenshm device, 0 MemFlex disks"), "%s", r->out);
	xsp_be_mempipe_peers(path, sizeof(path), h.g2, 0);
	v = tool_read(&h, path);
	ck_assert_str_eq(v, "g1:4096 7:0");
	free(v);
	xsp_be_dir(path, sizeof(path), h.g2, 0);
	h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, path);
	xsp_fe_dir(path, sizeof(path), h.g2, 0);
	h.tool->ops->xs_rm(h.tool, XO_TXN_NONE, path);
	unlink(log);
	write_file(cfg, "name = \"g2\"\n\n\nmempipe = \"peer=g1,max=3K\"\n");
	r = cli(&h, "create", cfg, (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	snprintf(want, sizeof(want), "%s:4: mempipe: max='3K'", cfg);
	ck_assert_msg(strstr(r->err, want), "%s", r->err);
	ck_assert_str_eq(slurp(log), "");

	/* A bad entry: file:line and the key, and xl never runs. */
	unlink(log);
	write_file(cfg, "name = \"g1\"\n\nmemflex = \"size=12Q\"\n");
	r = cli(&h, "create", cfg, (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	snprintf(want, sizeof(want), "%s:3: memflex: size='12Q'", cfg);
	ck_assert_msg(strstr(r->err, want), "%s", r->err);
	ck_assert_str_eq(slurp(log), "");
	/* Not xl syntax at all. */
	write_file(cfg, "name = \"g1\"\nmemflex = [ \"size=1M\"\n");
	ck_assert_int_eq(cli(&h, "create", cfg, (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_str_eq(slurp(log), "");

	/* xl create fails: nothing of ours is made, nothing to destroy. */
	write_file(cfg, "name = \"g2\"\nmemflex = \"size=8M\"\n");
	setenv("FAKE_XL_FAIL", "create", 1);
	r = cli(&h, "create", cfg, (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	snprintf(want, sizeof(want), "create -p %s\n", cfg);
	ck_assert_str_eq(slurp(log), want);
	xsp_mf_be_dir(path, sizeof(path), h.g2, 268440064);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &v), -ENOENT);

	/* The devices cannot be made: the half-made domain is destroyed. */
	unlink(log);
	unsetenv("FAKE_XL_FAIL");
	xo_fake_inject(h.w, XO_FAULT_XS_WRITE, -EDQUOT, 1000);
	r = cli(&h, "create", cfg, (char *)NULL);
	xo_fake_inject(h.w, XO_FAULT_XS_WRITE, 0, 0);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	snprintf(want, sizeof(want), "create -p %s\ndestroy %u\n", cfg, h.g2);
	ck_assert_str_eq(slurp(log), want);
	ck_assert_msg(strstr(r->err, "destroying the half-made domain"), "%s", r->err);

	unlink(cfg);
	fake_xl_remove(dir, log);
	host_fini(&h);
}
END_TEST

/*
 * migrate: the guest's programs let go before xl runs, and when xl fails (as Debian's Xen
 * does for a PV guest) and the domain runs on here, everything is given back.  A domain
 * whose swap is in this host's memory never goes to another host; one without disks gets
 * its devices made there through the ssh command.
 */
START_TEST(migrate_lets_go_first_and_gives_back_on_failure)
{
	struct host h;
	char dir[64], log[96], want[512], release[XSP_MAX], keep[XSP_MAX + 16], ssh[128], g2[16];
	struct run *r;
	char *v = NULL;

	host_init(&h, true);
	fake_xl(dir, sizeof(dir), log, sizeof(log));
	ck_assert_int_eq(cli(&h, "attach", "g1", "--memflex", "8M", (char *)NULL)->rc, XSHM_CLI_OK);
	xsp_be_release(release, sizeof(release), h.g1, 0);
	xsp_mf_be_dir(keep, sizeof(keep), h.g1, 268440064);
	strcat(keep, "/keep-store");

	r = cli(&h, "migrate", "g1", "far", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	ck_assert_msg(strstr(r->err, "swaps to MemFlex disk xvds") && strstr(r->err, "nothing done"), "%s", r->err);
	ck_assert_str_eq(slurp(log), "");
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, release, &v), -ENOENT);

	/* A program that never answers SHM_EV_RELEASE: nothing moves, the request is withdrawn. */
	struct shm *s = shm_open_xo(h.x1, 0, &fast);
	ck_assert_ptr_nonnull(s);
	r = cli(&h, "migrate", "g1", "--release-ms", "200", "--debug", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	ck_assert_msg(strstr(r->err, "device xenshm/0 did not let go of its shared memory within 200 ms"), "%s", r->err);
	ck_assert_str_eq(slurp(log), "");
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, release, &v), -ENOENT);
	shm_exit(s);

	/* xl migrate fails with the domain still here: release and keep-store withdrawn. */
	setenv("FAKE_XL_FAIL", "migrate", 1);
	r = cli(&h, "migrate", "g1", "--debug", (char *)NULL);
	unsetenv("FAKE_XL_FAIL");
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	snprintf(want, sizeof(want), "migrate --debug -p -s  %u exec '%s/xl' migrate-receive -p\n", h.g1, dir);
	ck_assert_str_eq(slurp(log), want);
	ck_assert_msg(strstr(r->err, "failed (see above); it runs on here"), "%s", r->err);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, release, &v), -ENOENT);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, keep, &v), -ENOENT);
	s = shm_open_xo(h.x1, 0, &fast);
	ck_assert_msg(s, "g1 cannot open its device again after the failed migration: %s", strerror(errno));
	shm_exit(s);

	/* Options our own xl run sets are refused, not silently lost. */
	unlink(log);
	ck_assert_int_eq(cli(&h, "migrate", "g1", "-s", "rsh", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_int_eq(cli(&h, "migrate", "g1", "-p", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_int_eq(cli(&h, "migrate", "g1", "--release-ms", "5", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_str_eq(slurp(log), "");

	/* g2, without disks, to another host: xl over the given ssh, then its device made there. */
	snprintf(ssh, sizeof(ssh), "%s/ssh", dir);
	write_file(ssh, "#!/bin/sh\necho \"ssh $*\" >> \"$(dirname \"$0\")/log\"\n");
	chmod(ssh, 0755);
	snprintf(g2, sizeof(g2), "%u", h.g2);
	/* The command goes to sh, words and all, as xl's -s does. */
	char ssh_cmd[160];
	snprintf(ssh_cmd, sizeof(ssh_cmd), "%s -o BatchMode=yes", ssh);
	r = cli(&h, "migrate", g2, "far.example", "--ssh", ssh_cmd, (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	/* Left paused there (-p) until its device exists. */
	snprintf(want, sizeof(want),
		 "migrate -p -s %s %u far.example\nssh -o BatchMode=yes far.example xenshm attach g2 --quota 4096K "
		 "--devices 1\nssh -o BatchMode=yes far.example %s/xl unpause g2\n", ssh_cmd, h.g2, dir);
	ck_assert_str_eq(slurp(log), want);
	ck_assert_msg(strstr(r->out, "migrated to far.example with 1 xenshm device"), "%s", r->out);

	unlink(ssh);
	fake_xl_remove(dir, log);
	host_fini(&h);
}
END_TEST

/* A save asks every device of the guest to let go, not the first 16: one left mapped across
 * the suspend corrupts the guest; and the save file's sidecar lists them all for the restore. */
START_TEST(save_lets_go_of_every_device)
{
	struct host h;
	char dir[64], log[96], file[128], side[160], path[XSP_MAX];
	xo_domid_t many;
	struct run *r;
	char *v = NULL;

	host_init(&h, true);
	fake_xl(dir, sizeof(dir), log, sizeof(log));
	ck_assert_int_eq(xo_fake_domain_create(h.w, "many", &many), 0);
	ck_assert_int_eq(cli(&h, "attach", "many", "--devices", "20", "--quota", "1M", (char *)NULL)->rc, XSHM_CLI_OK);
	snprintf(file, sizeof(file), "%s/many.save", dir);
	r = cli(&h, "save", "many", file, (char *)NULL);
	ck_assert_msg(r->rc == XSHM_CLI_OK, "%s", r->err);
	ck_assert_msg(strstr(r->out, "and 20 xenshm devices"), "%s", r->out);
	xsp_be_release(path, sizeof(path), many, 19);
	ck_assert_int_eq(xo_read_str(h.tool, XO_TXN_NONE, path, &v), 0);
	free(v);
	snprintf(side, sizeof(side), "%s.xenshm", file);
	const char *text = slurp(side);
	unsigned int lines = 0;
	for (const char *at = text; (at = strstr(at, "xenshm ")); at++)
		lines++;
	ck_assert_uint_eq(lines, 20);
	ck_assert_msg(strstr(text, "xenshm 19 1024 -\n"), "%s", text);

	unlink(side);
	fake_xl_remove(dir, log);
	host_fini(&h);
}
END_TEST

/* top: rows for devices, channel ends and disks; rates are counter differences over time. */
START_TEST(top_rates_from_two_samples)
{
	struct host h;
	char name[16], want[256];
	struct run *r;

	host_init(&h, true);
	snprintf(name, sizeof(name), "%u", h.g1);
	struct shm *s1 = shm_open_xo(h.x1, 0, &fast), *s2 = shm_open_xo(h.x2, 0, &fast);
	ck_assert_ptr_nonnull(s1);
	ck_assert_ptr_nonnull(s2);
	static const struct mempipe_opts fixed = { .timeout_ms = 5000, .ring_bytes = 64 << 10 };
	struct mempipe *l = mempipe_listen(s1, "feed", &fixed);
	ck_assert_ptr_nonnull(l);
	struct mempipe *b = mempipe_connect(s2, h.g1, "feed", &fixed);
	ck_assert_ptr_nonnull(b);
	struct mempipe *a = mempipe_accept(l);
	ck_assert_ptr_nonnull(a);
	r = cli(&h, "attach", name, "--memflex", "64M", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_OK);

	struct top_sample *s0 = calloc(1, sizeof(*s0)), *sn = calloc(1, sizeof(*sn));
	ck_assert_int_eq(xshm_top_sample(h.tool, s0, 100.0), 0);
	/* 2 MB through the channel. */
	static char buf[65536], in[65536];
	size_t moved = 0;
	while (moved < 2000000) {
		ssize_t w = mempipe_write(b, buf, sizeof(buf) < 2000000 - moved ? sizeof(buf) : 2000000 - moved);
		ck_assert_int_gt(w, 0);
		for (ssize_t got = 0; got < w;) {
			ssize_t n = mempipe_read(a, in, (size_t)(w - got));
			ck_assert_int_gt(n, 0);
			got += n;
		}
		moved += (size_t)w;
	}
	/* Once the relay stops polling the idle channel (20 polls), and past the once-a-second
	 * slot of the host's (test) clock, the burst's last counters must still get shown. */
	usleep(1000000);
	host_advance(&h, 1100);
	const struct top_row *ch = NULL;
	for (int tries = 0; tries < 100 && !ch; tries++) {
		usleep(20000);
		xshm_top_sample(h.tool, sn, 102.0);
		for (unsigned int i = 0; i < sn->n; i++)
			if (sn->rows[i].kind == TOP_CHANNEL && sn->rows[i].domid == h.g2 && sn->rows[i].count[0] == 2000000)
				ch = &sn->rows[i];
	}
	ck_assert_msg(ch, "g2's channel end never showed 2000000 bytes sent");
	ck_assert_str_eq(ch->what, "feed");
	ck_assert_uint_eq(ch->peer, h.g1);
	char *out = NULL;
	size_t len;
	FILE *f = open_memstream(&out, &len);
	xshm_top_print(s0, sn, false, f);
	fclose(f);
	/* 2 MB in the 2 s between the samples' clocks. */
	snprintf(want, sizeof(want), "%-6u %-4u %-4u %-16s %-6u", h.g2, 0u, ch->id, "feed", h.g1);
	char *line = strstr(out, want);
	ck_assert_msg(line && strstr(line, "      1.00       0.00"), "no '%s ... 1.00 0.00' in\n%s", want, out);
	ck_assert_msg(strstr(out, "DISK") && strstr(out, "xvds"), "%s", out);
	free(out);
	out = NULL;
	f = open_memstream(&out, &len);
	xshm_top_print(s0, sn, true, f);
	fclose(f);
	ck_assert_msg(strstr(out, "\"kind\":\"channel\"") && strstr(out, "\"name\":\"feed\"") &&
			      strstr(out, "\"sent\":2000000") && strstr(out, "\"sent_Bps\":1000000") &&
			      strstr(out, "\"kind\":\"disk\""), "%s", out);
	free(out);
	/* Without a previous sample there is no rate; the command itself runs N refreshes. */
	r = cli(&h, "top", "--count", "2", "--interval", "0.05", "--json", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_OK);
	ck_assert_msg(strstr(r->out, "\"sent_Bps\":0") && strchr(r->out, '\n') != strrchr(r->out, '\n'), "%s", r->out);
	ck_assert_int_eq(cli(&h, "top", "--interval", "0", (char *)NULL)->rc, XSHM_CLI_USAGE);
	ck_assert_int_eq(cli(&h, "top", "--count", "x", (char *)NULL)->rc, XSHM_CLI_USAGE);
	free(s0);
	free(sn);
	mempipe_close(a);
	mempipe_close(b);
	mempipe_close(l);
	shm_exit(s1);
	shm_exit(s2);
	host_fini(&h);
}
END_TEST

START_TEST(help_usage_check)
{
	struct host h;
	struct run *r;

	host_init(&h, false);
	r = cli(&h, "--help", (char *)NULL);
	ck_assert_int_eq(r->rc, 0);
	ck_assert_msg(strstr(r->out, "reclaim DOM SIZE"), "%s", r->out);
	const char *cmds[] = { "status", "list", "show", "attach", "detach", "set", "reclaim", "check", "top",
			       "schema-check", "create", "save", "restore", "migrate" };
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		r = cli(&h, cmds[i], "--help", (char *)NULL);
		ck_assert_int_eq(r->rc, 0);
		ck_assert_msg(!strncmp(r->out, "xenshm ", 7) && strstr(r->out, cmds[i]), "%s: %s", cmds[i], r->out);
	}
	r = cli(&h, "frobnicate", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	r = cli(&h, "attach", "g1", "--devices", "0", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_USAGE);
	/* check over a root with no /dev/xen: fatal, with the modprobe lines. */
	r = cli(&h, "check", "--budget", "64M", (char *)NULL);
	ck_assert_int_eq(r->rc, XSHM_CLI_FAIL);
	ck_assert_msg(strstr(r->out, "FATAL: no /dev/xen/gntalloc") && strstr(r->out, "'modprobe xen-evtchn'"),
		      "%s", r->out);
	host_fini(&h);
}
END_TEST

Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("xenshm");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sizes);
	tcase_add_test(tc, attach_list_show_detach);
	tcase_add_test(tc, set_status_reclaim);
	tcase_add_test(tc, memflex_attach_show_status_detach);
	tcase_add_test(tc, schema_check_finds_planted_faults);
	tcase_add_test(tc, top_rates_from_two_samples);
	tcase_add_test(tc, cfg_specs);
	tcase_add_test(tc, create_from_xl_config);
	tcase_add_test(tc, migrate_lets_go_first_and_gives_back_on_failure);
	tcase_add_test(tc, save_lets_go_of_every_device);
	tcase_add_test(tc, help_usage_check);
	suite_add_tcase(s, tc);
	return s;
}
