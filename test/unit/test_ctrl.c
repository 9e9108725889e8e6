// SPDX-License-Identifier: GPL-2.0-only
/* Control protocol: every message type round-trips; every malformed form has its own error. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "xenshm/ctrl.h"
#include "tests.h"

static size_t enc(struct xshm_ctrl_msg *m, uint8_t *buf)
{
	ssize_t n = xshm_ctrl_encode(m, buf, 256);
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

static struct xshm_ctrl_msg seg_alloc(uint32_t pages, uint16_t purpose)
{
	struct xshm_ctrl_msg m = { .hdr = { .type = XSHM_CTRL_SEG_ALLOC, .id = 7 } };
	m.u.seg_alloc.pages = pages;
	m.u.seg_alloc.purpose = purpose;
	return m;
}

static struct xshm_ctrl_msg chan_open(const char *name)
{
	struct xshm_ctrl_msg m = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN, .id = 1 } };
	memcpy(m.u.chan_open.name, name, strnlen(name, sizeof(m.u.chan_open.name) - 1));
	m.u.chan_open.peer_domid = 3;
	m.u.chan_open.flags = XSHM_CHAN_MESSAGE;
	m.u.chan_open.max_msg = 65536;
	return m;
}

/* Parse `m` as sent by `from`, expecting `want`. */
static void expect(struct xshm_ctrl_msg m, enum xshm_ctrl_origin from, int want)
{
	uint8_t buf[256];
	struct xshm_ctrl_msg out;
	size_t n = enc(&m, buf);

	ck_assert_int_eq(xshm_ctrl_parse(buf, n, from, &out), want);
}

static struct xshm_ctrl_chan_accept chan_accept_body(void)
{
	return (struct xshm_ctrl_chan_accept){
		.listener_id = 2, .peer_domid = 7,
		.chan = { .chan_id = 3, .tx_seg = 4, .tx_dir_gref = 40, .rx_seg = 5, .rx_dir_gref = 50,
			  .tx_pages = 16, .rx_pages = 32, .max_msg = 1024, .flags = XSHM_CHAN_MESSAGE } };
}

/* What a guest trusts about a channel comes from these messages: each bad field is refused. */
START_TEST(err_chan_info)
{
	struct xshm_ctrl_msg a = { .hdr = { .type = XSHM_CTRL_CHAN_ACCEPT } };

	a.u.chan_accept = chan_accept_body();
	expect(a, XSHM_FROM_HOST, 0);
	expect(a, XSHM_FROM_GUEST, -XSHM_CTRL_E_DIRECTION);
	a.u.chan_accept.chan.rx_seg = a.u.chan_accept.chan.tx_seg;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE);
	a.u.chan_accept = chan_accept_body();
	a.u.chan_accept.chan.rx_pages = 0;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE);
	a.u.chan_accept = chan_accept_body();
	a.u.chan_accept.chan.tx_pages = XSHM_CHAN_RING_PAGES_MAX + 1;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE);
	a.u.chan_accept = chan_accept_body();
	a.u.chan_accept.chan.flags = XSHM_CHAN_LISTEN;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_FLAGS);
	a.u.chan_accept = chan_accept_body();
	a.u.chan_accept.peer_domid = 0x7ff0;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_DOMID);
	a.u.chan_accept = chan_accept_body();
	a.u.chan_accept.listener_id = 0;
	expect(a, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE);

	struct xshm_ctrl_msg r = { .hdr = { .type = XSHM_CTRL_CHAN_OPEN | XSHM_CTRL_RESPONSE } };
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE); /* success without any id */
	r.u.rsp_chan_open.chan.chan_id = 6;            /* a listener: its id alone */
	expect(r, XSHM_FROM_HOST, 0);
	r.u.rsp_chan_open.chan = chan_accept_body().chan;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_DOMID); /* a connection names its peer */
	r.u.rsp_chan_open.peer_domid = 3;
	expect(r, XSHM_FROM_HOST, 0);
	r.u.rsp_chan_open.chan.max_msg = XSHM_CHAN_MSG_MAX + 1;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE);
	r.u.rsp_chan_open.status = -ECONNREFUSED;      /* a refusal carries nothing else */
	memset(&r.u.rsp_chan_open.chan, 0, sizeof(r.u.rsp_chan_open.chan));
	expect(r, XSHM_FROM_HOST, 0);
}
END_TEST

START_TEST(roundtrip_every_type)
{
	static const struct { uint16_t type; enum xshm_ctrl_origin from; } cases[] = {
		{ XSHM_CTRL_HELLO, XSHM_FROM_GUEST },
		{ XSHM_CTRL_SEG_ALLOC, XSHM_FROM_GUEST },
		{ XSHM_CTRL_SEG_FREE, XSHM_FROM_GUEST },
		{ XSHM_CTRL_RECLAIM, XSHM_FROM_HOST },
		{ XSHM_CTRL_RECLAIM_ACK, XSHM_FROM_GUEST },
		{ XSHM_CTRL_CHAN_OPEN, XSHM_FROM_GUEST },
		{ XSHM_CTRL_CHAN_CLOSE, XSHM_FROM_GUEST },
		{ XSHM_CTRL_STATS, XSHM_FROM_GUEST },
		{ XSHM_CTRL_CHAN_ACCEPT, XSHM_FROM_HOST },
		{ XSHM_CTRL_CHAN_SHUTDOWN, XSHM_FROM_GUEST },
		{ XSHM_CTRL_PEER_LOOKUP, XSHM_FROM_GUEST },
		{ XSHM_CTRL_HELLO | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_SEG_ALLOC | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_SEG_FREE | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_CHAN_OPEN | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_CHAN_CLOSE | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_CHAN_SHUTDOWN | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_STATS | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
		{ XSHM_CTRL_PEER_LOOKUP | XSHM_CTRL_RESPONSE, XSHM_FROM_HOST },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct xshm_ctrl_msg m = { .hdr = { .type = cases[i].type, .id = (uint32_t)i + 100 } }, out;
		uint8_t buf[256];
		switch (cases[i].type) {
		case XSHM_CTRL_SEG_ALLOC:
			m = seg_alloc(16, XSHM_SEG_SHM);
			break;
		case XSHM_CTRL_RECLAIM:
			m.u.reclaim.pages = 8;
			m.u.reclaim.deadline_ms = 2000;
			break;
		case XSHM_CTRL_CHAN_OPEN:
			m = chan_open("web.1_a-b");
			break;
		case XSHM_CTRL_CHAN_ACCEPT:
			m.u.chan_accept = chan_accept_body();
			break;
		case XSHM_CTRL_CHAN_OPEN | XSHM_CTRL_RESPONSE:
			m.u.rsp_chan_open.peer_domid = 9;
			m.u.rsp_chan_open.chan = chan_accept_body().chan;
			break;
		case XSHM_CTRL_SEG_ALLOC | XSHM_CTRL_RESPONSE:
			m.u.rsp_seg_alloc.pages = 16;
			m.u.rsp_seg_alloc.dir_gref = 77;
			break;
		case XSHM_CTRL_STATS | XSHM_CTRL_RESPONSE:
			m.u.rsp_stats.pages_granted = 1ull << 40;
			break;
		case XSHM_CTRL_PEER_LOOKUP:
			ck_assert(xshm_ctrl_name_pack("web-2.prod", m.u.peer_lookup.name));
			break;
		case XSHM_CTRL_PEER_LOOKUP | XSHM_CTRL_RESPONSE:
			m.u.rsp_peer_lookup.domid = 0x7fef;
			break;
		case XSHM_CTRL_HELLO | XSHM_CTRL_RESPONSE:
			m.u.rsp_hello.features = XSHM_FEAT_ALL;
			break;
		}
		size_t n = enc(&m, buf);
		ck_assert_uint_eq(n, 16 + xshm_ctrl_body_size(cases[i].type));
		ck_assert_int_eq(xshm_ctrl_parse(buf, n, cases[i].from, &out), 0);
		ck_assert_uint_eq(out.hdr.type, m.hdr.type);
		ck_assert_uint_eq(out.hdr.id, m.hdr.id);
		ck_assert_mem_eq(&out.u, &m.u, xshm_ctrl_body_size(cases[i].type));
		ck_assert_str_ne(xshm_ctrl_type_name(cases[i].type), "unknown");
	}
}
END_TEST

START_TEST(err_short)
{
	uint8_t buf[15] = { 0 };
	struct xshm_ctrl_msg out;

	ck_assert_int_eq(xshm_ctrl_parse(buf, 0, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_SHORT);
	ck_assert_int_eq(xshm_ctrl_parse(buf, sizeof(buf), XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_SHORT);
}
END_TEST

START_TEST(err_version)
{
	uint8_t buf[256];
	struct xshm_ctrl_msg m = seg_alloc(1, 1), out;
	size_t n = enc(&m, buf);

	buf[2] = 2; /* version field */
	ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_VERSION);
	buf[2] = 0;
	ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_VERSION);
}
END_TEST

START_TEST(err_type)
{
	uint8_t buf[256];
	struct xshm_ctrl_msg m = seg_alloc(1, 1), out;
	size_t n = enc(&m, buf);
	static const uint16_t bad[] = { 0, XSHM_CTRL_TYPE_MAX_ + 1, 0x7fff, XSHM_CTRL_RESPONSE,
					XSHM_CTRL_RECLAIM | XSHM_CTRL_RESPONSE,
					XSHM_CTRL_RECLAIM_ACK | XSHM_CTRL_RESPONSE };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf, &bad[i], 2);
		ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_TYPE);
		ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_HOST, &out), -XSHM_CTRL_E_TYPE);
	}
	ck_assert_str_eq(xshm_ctrl_type_name(0), "unknown");
	ck_assert_uint_eq(xshm_ctrl_body_size(0), 0);
}
END_TEST

START_TEST(err_direction)
{
	struct xshm_ctrl_msg rec = { .hdr = { .type = XSHM_CTRL_RECLAIM } };
	struct xshm_ctrl_msg rsp = { .hdr = { .type = XSHM_CTRL_SEG_FREE | XSHM_CTRL_RESPONSE } };

	rec.u.reclaim.pages = 1;
	rec.u.reclaim.deadline_ms = 1;
	/* A guest may not send host notices or responses; the host may not send requests. */
	expect(rec, XSHM_FROM_GUEST, -XSHM_CTRL_E_DIRECTION);
	expect(rsp, XSHM_FROM_GUEST, -XSHM_CTRL_E_DIRECTION);
	expect(seg_alloc(1, 1), XSHM_FROM_HOST, -XSHM_CTRL_E_DIRECTION);
}
END_TEST

START_TEST(err_length_truncated_trailing)
{
	uint8_t buf[256];
	struct xshm_ctrl_msg m = seg_alloc(4, 1), out;
	size_t n = enc(&m, buf);
	uint32_t len;

	ck_assert_int_eq(xshm_ctrl_parse(buf, n - 1, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_TRUNCATED);
	ck_assert_int_eq(xshm_ctrl_parse(buf, n + 1, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_TRAILING);
	len = 9;
	memcpy(buf + 8, &len, 4);
	ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_LENGTH);
	len = 0xffffffffu;
	memcpy(buf + 8, &len, 4);
	ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_LENGTH);
}
END_TEST

START_TEST(err_reserved)
{
	uint8_t buf[256];
	struct xshm_ctrl_msg m = seg_alloc(4, 1), out;
	size_t n = enc(&m, buf);

	buf[12] = 1; /* header reserved */
	ck_assert_int_eq(xshm_ctrl_parse(buf, n, XSHM_FROM_GUEST, &out), -XSHM_CTRL_E_RESERVED);

	struct xshm_ctrl_msg f = { .hdr = { .type = XSHM_CTRL_SEG_FREE } };
	f.u.seg_free.reserved = 1;
	expect(f, XSHM_FROM_GUEST, -XSHM_CTRL_E_RESERVED);
	struct xshm_ctrl_msg h = { .hdr = { .type = XSHM_CTRL_HELLO } };
	h.u.hello.reserved = 5;
	expect(h, XSHM_FROM_GUEST, -XSHM_CTRL_E_RESERVED);
	struct xshm_ctrl_msg st = { .hdr = { .type = XSHM_CTRL_STATS } };
	st.u.stats.reserved[1] = 1;
	expect(st, XSHM_FROM_GUEST, -XSHM_CTRL_E_RESERVED);
	struct xshm_ctrl_msg c = chan_open("x");
	c.u.chan_open.ring_pages = XSHM_CHAN_RING_PAGES_MAX + 1;
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_RANGE);
	struct xshm_ctrl_msg cc = { .hdr = { .type = XSHM_CTRL_CHAN_CLOSE } };
	cc.u.chan_close.reserved = 2;
	expect(cc, XSHM_FROM_GUEST, -XSHM_CTRL_E_RESERVED);
	struct xshm_ctrl_msg r = { .hdr = { .type = XSHM_CTRL_RECLAIM } };
	r.u.reclaim.pages = r.u.reclaim.deadline_ms = 1;
	r.u.reclaim.reserved = 1;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_RESERVED);
}
END_TEST

START_TEST(err_range)
{
	expect(seg_alloc(0, 1), XSHM_FROM_GUEST, -XSHM_CTRL_E_RANGE);
	expect(seg_alloc(XSHM_SEG_PAGES_MAX + 1, 1), XSHM_FROM_GUEST, -XSHM_CTRL_E_RANGE);
	expect(seg_alloc(XSHM_SEG_PAGES_MAX, 1), XSHM_FROM_GUEST, 0);
	struct xshm_ctrl_msg r = { .hdr = { .type = XSHM_CTRL_RECLAIM } };
	r.u.reclaim.pages = 1;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE); /* no deadline */
	struct xshm_ctrl_msg c = chan_open("a");
	c.u.chan_open.max_msg = (1u << 30) + 1;
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_RANGE);
	struct xshm_ctrl_msg rs = { .hdr = { .type = XSHM_CTRL_SEG_ALLOC | XSHM_CTRL_RESPONSE } };
	expect(rs, XSHM_FROM_HOST, -XSHM_CTRL_E_RANGE); /* success with 0 pages */
	rs.u.rsp_seg_alloc.status = -ENOSPC;
	expect(rs, XSHM_FROM_HOST, 0);                  /* a refusal carries no pages */
}
END_TEST

START_TEST(err_purpose_flags)
{
	expect(seg_alloc(1, 0), XSHM_FROM_GUEST, -XSHM_CTRL_E_PURPOSE);
	expect(seg_alloc(1, XSHM_SEG_MAX_ + 1), XSHM_FROM_GUEST, -XSHM_CTRL_E_PURPOSE);
	struct xshm_ctrl_msg m = seg_alloc(1, 1);
	m.u.seg_alloc.flags = 1;
	expect(m, XSHM_FROM_GUEST, -XSHM_CTRL_E_FLAGS);
	struct xshm_ctrl_msg c = chan_open("a");
	c.u.chan_open.flags = 0x80;
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_FLAGS);
}
END_TEST

START_TEST(err_name)
{
	struct xshm_ctrl_msg c;

	expect(chan_open(""), XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	expect(chan_open("has space"), XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	expect(chan_open("../etc"), XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	c = chan_open("a");
	memset(c.u.chan_open.name, 'x', sizeof(c.u.chan_open.name)); /* no terminator */
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	c = chan_open("ok");
	c.u.chan_open.name[10] = 'z'; /* hidden bytes after the NUL */
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	c = chan_open("ok");
	c.u.chan_open.name[0] = (char)0xc3;
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);

	/* A peer lookup's domain name: the same rules, the same error. */
	struct xshm_ctrl_msg l = { .hdr = { .type = XSHM_CTRL_PEER_LOOKUP } };
	expect(l, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME); /* empty */
	memcpy(l.u.peer_lookup.name, "web 2", 5);
	expect(l, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	memset(l.u.peer_lookup.name, 'w', sizeof(l.u.peer_lookup.name)); /* no terminator */
	expect(l, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	ck_assert(xshm_ctrl_name_pack("web2", l.u.peer_lookup.name));
	l.u.peer_lookup.name[40] = 'x';
	expect(l, XSHM_FROM_GUEST, -XSHM_CTRL_E_NAME);
	l.u.peer_lookup.name[40] = 0;
	expect(l, XSHM_FROM_GUEST, 0);

	/* The packer refuses what the parser would, so a library never sends it. */
	char out[XSHM_CTRL_NAME_MAX], longest[XSHM_CTRL_NAME_MAX + 1];
	ck_assert(!xshm_ctrl_name_pack(NULL, out));
	ck_assert(!xshm_ctrl_name_pack("", out));
	ck_assert(!xshm_ctrl_name_pack("a/b", out));
	memset(longest, 'n', sizeof(longest) - 1);
	longest[XSHM_CTRL_NAME_MAX] = 0;
	ck_assert(!xshm_ctrl_name_pack(longest, out));
	longest[XSHM_CTRL_NAME_MAX - 1] = 0;
	ck_assert(xshm_ctrl_name_pack(longest, out));
	ck_assert_int_eq(out[XSHM_CTRL_NAME_MAX - 1], 0);
}
END_TEST

START_TEST(err_domid_status)
{
	struct xshm_ctrl_msg c = chan_open("a");
	c.u.chan_open.peer_domid = 0x7ff0; /* DOMID_FIRST_RESERVED */
	expect(c, XSHM_FROM_GUEST, -XSHM_CTRL_E_DOMID);
	c.u.chan_open.peer_domid = 0x7fef;
	expect(c, XSHM_FROM_GUEST, 0);

	struct xshm_ctrl_msg r = { .hdr = { .type = XSHM_CTRL_CHAN_CLOSE | XSHM_CTRL_RESPONSE } };
	r.u.rsp_status.status = 1;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_STATUS);
	r.u.rsp_status.status = -5000;
	expect(r, XSHM_FROM_HOST, -XSHM_CTRL_E_STATUS);
	r.u.rsp_status.status = -EPERM;
	expect(r, XSHM_FROM_HOST, 0);

	/* A found peer is a real domid; a failed lookup carries none to check. */
	struct xshm_ctrl_msg p = { .hdr = { .type = XSHM_CTRL_PEER_LOOKUP | XSHM_CTRL_RESPONSE } };
	expect(p, XSHM_FROM_HOST, -XSHM_CTRL_E_DOMID);
	p.u.rsp_peer_lookup.domid = 0x7ff0;
	expect(p, XSHM_FROM_HOST, -XSHM_CTRL_E_DOMID);
	p.u.rsp_peer_lookup.domid = 5;
	expect(p, XSHM_FROM_HOST, 0);
	p.u.rsp_peer_lookup.domid = 0;
	p.u.rsp_peer_lookup.status = -ENOENT;
	expect(p, XSHM_FROM_HOST, 0);
	/* A host that claims features nobody asked for is not believed. */
	struct xshm_ctrl_msg h = { .hdr = { .type = XSHM_CTRL_HELLO | XSHM_CTRL_RESPONSE } };
	h.u.rsp_hello.features = XSHM_FEAT_ALL << 1;
	expect(h, XSHM_FROM_HOST, -XSHM_CTRL_E_FLAGS);
}
END_TEST

START_TEST(strerror_distinct)
{
	for (int i = 0; i < XSHM_CTRL_E_MAX_; i++) {
		ck_assert_ptr_nonnull(xshm_ctrl_strerror(-i));
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(xshm_ctrl_strerror(-i), xshm_ctrl_strerror(-j));
	}
	ck_assert_str_eq(xshm_ctrl_strerror(-XSHM_CTRL_E_MAX_), "unknown error");
}
END_TEST

START_TEST(encode_errors)
{
	struct xshm_ctrl_msg m = seg_alloc(1, 1), bad = { .hdr = { .type = 99 } };
	uint8_t buf[256];

	ck_assert_int_eq(xshm_ctrl_encode(&m, buf, 16), -EMSGSIZE);
	ck_assert_int_eq(xshm_ctrl_encode(&bad, buf, sizeof(buf)), -EINVAL);
}
END_TEST

/* Random bytes must never crash the parser and must fail unless they form a valid message. */
START_TEST(random_bytes_never_crash)
{
	uint32_t seed = 4242;
	uint8_t buf[160];
	struct xshm_ctrl_msg out;
	unsigned int accepted = 0;

	for (int i = 0; i < 200000; i++) {
		size_t len = test_rand(&seed) % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)test_rand(&seed);
		if (len >= 16 && (i & 1)) { /* half with a plausible header, to get past it */
			uint16_t t = (uint16_t)(1 + test_rand(&seed) % XSHM_CTRL_TYPE_MAX_);
			uint16_t v = XSHM_CTRL_VERSION;
			uint32_t body = (uint32_t)xshm_ctrl_body_size(t), z = 0;
			memcpy(buf, &t, 2);
			memcpy(buf + 2, &v, 2);
			memcpy(buf + 8, &body, 4);
			memcpy(buf + 12, &z, 4);
			len = 16 + body;
		}
		int rc = xshm_ctrl_parse(buf, len, XSHM_FROM_GUEST, &out);
		ck_assert(rc == 0 || (rc < 0 && rc > -XSHM_CTRL_E_MAX_));
		if (!rc)
			accepted++;
	}
	ck_assert_uint_gt(accepted, 0); /* the plausible-header half reaches the body checks */
}
END_TEST

START_TEST(control_page_rings)
{
	static struct xshm_ctrl_page page;
	struct xshm_ring gtx, grx, htx, hrx;
	struct xshm_ctrl_msg m = seg_alloc(32, XSHM_SEG_RING), out;
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	bool n;

	xshm_ctrl_page_init(&page);
	ck_assert_uint_eq(page.magic, XSHM_CTRL_PAGE_MAGIC);
	ck_assert_int_eq(xshm_ctrl_attach_rings(&page, true, &gtx, &grx), 0);
	ck_assert_int_eq(xshm_ctrl_attach_rings(&page, false, &htx, &hrx), 0);
	size_t len = enc(&m, buf);
	ck_assert_int_eq(xshm_ring_send(&gtx, buf, len, &n), 0);
	ssize_t got = xshm_ring_recv(&hrx, buf, sizeof(buf), &n);
	ck_assert_int_eq(got, (ssize_t)len);
	ck_assert_int_eq(xshm_ctrl_parse(buf, (size_t)got, XSHM_FROM_GUEST, &out), 0);
	ck_assert_uint_eq(out.u.seg_alloc.pages, 32);
	/* The guest cannot read its own request back: rings are one-way. */
	ck_assert_int_eq(xshm_ring_recv(&grx, buf, sizeof(buf), &n), -EAGAIN);
	ck_assert_uint_ge(xshm_ring_max_payload(&gtx), XSHM_CTRL_MSG_MAX);
	xshm_ring_detach(&gtx);
	xshm_ring_detach(&grx);
	xshm_ring_detach(&htx);
	xshm_ring_detach(&hrx);
}
END_TEST

Suite *ctrl_suite(void)
{
	Suite *s = suite_create("ctrl");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, roundtrip_every_type);
	tcase_add_test(tc, err_chan_info);
	tcase_add_test(tc, err_short);
	tcase_add_test(tc, err_version);
	tcase_add_test(tc, err_type);
	tcase_add_test(tc, err_direction);
	tcase_add_test(tc, err_length_truncated_trailing);
	tcase_add_test(tc, err_reserved);
	tcase_add_test(tc, err_range);
	tcase_add_test(tc, err_purpose_flags);
	tcase_add_test(tc, err_name);
	tcase_add_test(tc, err_domid_status);
	tcase_add_test(tc, strerror_distinct);
	tcase_add_test(tc, encode_errors);
	tcase_add_test(tc, random_bytes_never_crash);
	tcase_add_test(tc, control_page_rings);
	suite_add_tcase(s, tc);
	return s;
}
