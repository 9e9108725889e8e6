// SPDX-License-Identifier: GPL-2.0-only
/*
 * Writes the fuzzers' seed corpora (test/fuzz/corpus/<harness>/): one valid
 * input per message type, a filled directory page, ring scripts and XenStore
 * values, so each run starts from inputs that reach deep code.
 * Usage: make_seeds DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xenshm/blkif.h"
#include "xenshm/ctrl.h"
#include "xenshm/segdir.h"

static void put(const char *dir, const char *harness, const char *name, const void *data, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, harness);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/%s/%s", dir, harness, name);
	f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static void ctrl_seeds(const char *dir)
{
	for (uint16_t t = 1; t <= XSHM_CTRL_TYPE_MAX_; t++) {
		for (int rsp = 0; rsp < 2; rsp++) {
			struct xshm_ctrl_msg m;
			uint8_t buf[1 + XSHM_CTRL_MSG_MAX];
			char name[32];
			memset(&m, 0, sizeof(m));
			m.hdr.type = (uint16_t)(t | (rsp ? XSHM_CTRL_RESPONSE : 0));
			m.hdr.id = 7;
			if (t == XSHM_CTRL_SEG_ALLOC && !rsp) {
				m.u.seg_alloc.pages = 256;
				m.u.seg_alloc.purpose = XSHM_SEG_SHM;
			}
			if (t == XSHM_CTRL_CHAN_OPEN && !rsp)
				strcpy(m.u.chan_open.name, "web.1");
			if (t == XSHM_CTRL_RECLAIM) {
				m.u.reclaim.pages = 3;
				m.u.reclaim.deadline_ms = 5000;
			}
			struct xshm_ctrl_chan_info *ci = t == XSHM_CTRL_CHAN_ACCEPT ? &m.u.chan_accept.chan :
							 (t == XSHM_CTRL_CHAN_OPEN && rsp) ? &m.u.rsp_chan_open.chan : NULL;
			if (ci) {
				*ci = (struct xshm_ctrl_chan_info){ .chan_id = 4, .tx_seg = 2, .tx_dir_gref = 9,
								    .rx_seg = 3, .rx_dir_gref = 11,
								    .tx_pages = 16, .rx_pages = 16, .max_msg = 4096,
								    .flags = XSHM_CHAN_MESSAGE };
				m.u.chan_accept.listener_id = 1;
				m.u.chan_accept.peer_domid = 5;
				if (rsp)
					m.u.rsp_chan_open.peer_domid = 5;
			}
			ssize_t n = xshm_ctrl_encode(&m, buf + 1, sizeof(buf) - 1);
			if (n < 0)
				continue;
			buf[0] = (t == XSHM_CTRL_RECLAIM || t == XSHM_CTRL_CHAN_ACCEPT || rsp) ? 1 : 0;
			snprintf(name, sizeof(name), "type%u%s", t, rsp ? "-rsp" : "");
			put(dir, "ctrl", name, buf, (size_t)n + 1);
		}
	}
}

static void segdir_seeds(const char *dir)
{
	static xo_gref_t refs[3000], dirs[3];
	struct xshm_segdir_page page;
	uint8_t buf[8 + sizeof(page)];
	uint32_t pages = 2100;

	for (uint32_t i = 0; i < pages; i++)
		refs[i] = 100 + i;
	for (uint32_t i = 0; i < 3; i++)
		dirs[i] = 10 + i;
	for (uint32_t index = 0; index < 3; index++) {
		char name[16];
		xshm_segdir_fill(&page, index, refs, pages, dirs);
		memcpy(buf, &index, 4);
		memcpy(buf + 4, &pages, 4);
		memcpy(buf + 8, &page, sizeof(page));
		snprintf(name, sizeof(name), "page%u", index);
		put(dir, "segdir", name, buf, sizeof(buf));
	}
}

static void ring_seeds(const char *dir)
{
	/* flags, prod(8), cons(8), max_msg(2), then ops: write 100, read 100, peer index moves... */
	static const uint8_t producer[] = { 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    2, 100, 0, 2, 200, 0, 0, 0, 0, 50, 0, 0, 0, 0, 0, 0, 0, 0, 2, 60, 0 };
	static const uint8_t consumer[] = { 0x0d, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					    3, 100, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0, 1, 1, 5, 9, 3, 50, 0 };
	static const uint8_t message[] = { 0x0e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
					   2, 30, 0, 2, 31, 0, 3, 64, 0, 4, 0, 0, 5, 8, 0 };
	put(dir, "ring", "producer", producer, sizeof(producer));
	put(dir, "ring", "consumer", consumer, sizeof(consumer));
	put(dir, "ring", "message", message, sizeof(message));
}

static void splice_seeds(const char *dir)
{
	/* flags (mode, chunks), then ops: 0 prod(8), 1 scribble(chunk, offset, byte), 2 splice(max 2), 3 discard, 4 read */
	static const uint8_t stream[] = { 0x0e, 0, 100, 0, 0, 0, 0, 0, 0, 0, 2, 200, 0, 4, 2, 200, 0,
					  0, 44, 1, 0, 0, 0, 0, 0, 0, 2, 255, 0, 4, 3, 10, 0 };
	/* One message of 4 bytes: header {len 4, magic "ZM", 0} written byte by byte, prod = 16. */
	static const uint8_t message[] = { 0x0f, 1, 0, 0, 4, 1, 0, 4, 0x5a, 1, 0, 5, 0x4d, 0, 16, 0, 0, 0,
					   0, 0, 0, 0, 2, 64, 0, 4, 1, 0, 0, 0xff, 2, 64, 0 };
	put(dir, "splice", "stream", stream, sizeof(stream));
	put(dir, "splice", "message", message, sizeof(message));
}

static void xsvalue_seeds(const char *dir)
{
	static const char *const values[] = { "0", "4", "4096", "65536", "1099511627776", "007", "-1",
					      "banana", " 4", "4 ", "32752", "32767", "18446744073709551616" };
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		char name[16];
		snprintf(name, sizeof(name), "v%zu", i);
		put(dir, "xsvalue", name, values[i], strlen(values[i]));
	}
}

/* A disk size (8 bytes), then one request: an 11-page write, an unaligned read, a discard, a flush. */
static void blkif_seeds(const char *dir)
{
	uint8_t buf[8 + sizeof(union xblk_request)];
	union xblk_request req;
	uint64_t pages = 65536;

	memcpy(buf, &pages, 8);
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_WRITE;
	req.rw.nr_segments = XBLK_MAX_SEGMENTS;
	req.rw.id = 1;
	req.rw.sector_number = 800;
	for (unsigned int i = 0; i < XBLK_MAX_SEGMENTS; i++) {
		req.rw.seg[i].gref = 100 + i;
		req.rw.seg[i].last_sect = 7;
	}
	memcpy(buf + 8, &req, sizeof(req));
	put(dir, "blkif", "write11", buf, sizeof(buf));
	req.rw.operation = XBLK_OP_READ;
	req.rw.nr_segments = 2;
	req.rw.sector_number = 3;
	req.rw.seg[0].first_sect = 2;
	memcpy(buf + 8, &req, sizeof(req));
	put(dir, "blkif", "read-unaligned", buf, sizeof(buf));
	memset(&req, 0, sizeof(req));
	req.discard.operation = XBLK_OP_DISCARD;
	req.discard.id = 2;
	req.discard.sector_number = 5;
	req.discard.nr_sectors = 4096;
	memcpy(buf + 8, &req, sizeof(req));
	put(dir, "blkif", "discard", buf, sizeof(buf));
	memset(&req, 0, sizeof(req));
	req.rw.operation = XBLK_OP_FLUSH_DISKCACHE;
	req.rw.id = 3;
	req.rw.sector_number = UINT64_MAX;
	memcpy(buf + 8, &req, sizeof(req));
	put(dir, "blkif", "flush", buf, sizeof(buf));
	/* An indirect write of 20 pages: the request, then its page of segments. */
	uint8_t ibuf[8 + sizeof(union xblk_request) + 20 * sizeof(struct xblk_segment)];
	struct xblk_segment segs[20];
	memset(&req, 0, sizeof(req));
	req.indirect.operation = XBLK_OP_INDIRECT;
	req.indirect.indirect_op = XBLK_OP_WRITE;
	req.indirect.nr_segments = 20;
	req.indirect.id = 4;
	req.indirect.sector_number = 64;
	req.indirect.indirect_grefs[0] = 77;
	for (unsigned int i = 0; i < 20; i++)
		segs[i] = (struct xblk_segment){ .gref = 200 + i, .first_sect = 0, .last_sect = 7 };
	memcpy(ibuf, &pages, 8);
	memcpy(ibuf + 8, &req, sizeof(req));
	memcpy(ibuf + 8 + sizeof(req), segs, sizeof(segs));
	put(dir, "blkif", "indirect", ibuf, sizeof(ibuf));
}

/* A grammar selector byte (0 xenshm, 1 memflex, 2 mempipe, 3 peers list), then the text. */
static void cfgspec_seeds(const char *dir)
{
	static const char *const specs[] = {
		"\0quota=64M,devices=2", "\0devices=1",       "\1size=512M,mem=128M,vdev=xvdt",
		"\1size=1G",             "\1size=8M,vdev=xvdaa", "\2peer=web2,max=4M",
		"\2peer=*",              "\2peer=7,max=0",     "\3web2:4096 7:0 *:1024",
		"\3",                    "\3db:0 web2:64",
	};
	char name[16];

	for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
		snprintf(name, sizeof(name), "spec%zu", i);
		put(dir, "cfgspec", name, specs[i], 1 + strlen(specs[i] + 1));
	}
}

/* Live paths (and values) as schema-check meets them, NUL between path and value. */
static void schema_seeds(const char *dir)
{
	static const char *const nodes[] = {
		"/local/domain/0/backend/xenshm/5/0/state", "4",
		"/local/domain/0/backend/xenshm/5/0/segment/3", "257 1 8",
		"/local/domain/0/backend/xenshm/5/0/mempipe-peers", "web2:4096",
		"/local/domain/5/device/xenshm/0/state", "banana",
		"/local/domain/5/device/vbd/268440064/ring-ref0", "8",
		"/local/domain/0/backend/memflex/5/268440064/mem-kb", "32768",
		"/tool/xenshm/budget-kb", "131072",
		"/local/domain/0/error/backend/xenshm/5/0/error", "71 bad control message",
	};
	char name[16], buf[256];

	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i += 2) {
		size_t a = strlen(nodes[i]), b = strlen(nodes[i + 1]);
		memcpy(buf, nodes[i], a + 1);
		memcpy(buf + a + 1, nodes[i + 1], b);
		snprintf(name, sizeof(name), "node%zu", i / 2);
		put(dir, "schema", name, buf, a + 1 + b);
	}
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	mkdir(argv[1], 0755);
	ctrl_seeds(argv[1]);
	segdir_seeds(argv[1]);
	ring_seeds(argv[1]);
	splice_seeds(argv[1]);
	xsvalue_seeds(argv[1]);
	blkif_seeds(argv[1]);
	cfgspec_seeds(argv[1]);
	schema_seeds(argv[1]);
	return 0;
}
