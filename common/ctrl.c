// SPDX-License-Identifier: LGPL-2.1-only
/*
 * Control protocol: the table of message types, the parser, the encoder.
 * The parser is the security boundary of xenshmd for control messages: it
 * copies the bytes into a private struct first, then checks in a fixed
 * order (size, header, direction, length, then each field), so every
 * malformed message maps to exactly one error.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "xenshm/ctrl.h"

_Static_assert(sizeof(struct xshm_ctrl_hdr) == 16, "ctrl header");
_Static_assert(sizeof(struct xshm_ctrl_page) == 4096, "control page");
_Static_assert(offsetof(struct xshm_ctrl_page, req_data) == XSHM_CTRL_RING_OFFSET_REQ, "req ring");
_Static_assert(offsetof(struct xshm_ctrl_page, rsp_data) == XSHM_CTRL_RING_OFFSET_RSP, "rsp ring");
_Static_assert(sizeof(struct xshm_ctrl_chan_open) == 80, "chan_open");
_Static_assert(sizeof(struct xshm_ctrl_rsp_stats) == 32, "rsp_stats");
_Static_assert(sizeof(struct xshm_ctrl_msg) - sizeof(struct xshm_ctrl_hdr) + 16 <=
		       XSHM_CTRL_MSG_MAX, "largest message fits XSHM_CTRL_MSG_MAX");

struct type_info {
	const char *name;
	size_t req_size;  /* body of the request/notice */
	size_t rsp_size;  /* body of its response, 0 = none */
	enum xshm_ctrl_origin sender; /* who sends the request/notice */
};

static const struct type_info types[XSHM_CTRL_TYPE_MAX_ + 1] = {
	[XSHM_CTRL_HELLO] = { "hello", sizeof(struct xshm_ctrl_hello),
			      sizeof(struct xshm_ctrl_rsp_hello), XSHM_FROM_GUEST },
	[XSHM_CTRL_SEG_ALLOC] = { "seg-alloc", sizeof(struct xshm_ctrl_seg_alloc),
				  sizeof(struct xshm_ctrl_rsp_seg_alloc), XSHM_FROM_GUEST },
	[XSHM_CTRL_SEG_FREE] = { "seg-free", sizeof(struct xshm_ctrl_seg_free),
				 sizeof(struct xshm_ctrl_rsp_status), XSHM_FROM_GUEST },
	[XSHM_CTRL_RECLAIM] = { "reclaim", sizeof(struct xshm_ctrl_reclaim), 0, XSHM_FROM_HOST },
	[XSHM_CTRL_RECLAIM_ACK] = { "reclaim-ack", sizeof(struct xshm_ctrl_reclaim_ack), 0,
				    XSHM_FROM_GUEST },
	[XSHM_CTRL_CHAN_OPEN] = { "chan-open", sizeof(struct xshm_ctrl_chan_open),
				  sizeof(struct xshm_ctrl_rsp_chan_open), XSHM_FROM_GUEST },
	[XSHM_CTRL_CHAN_CLOSE] = { "chan-close", sizeof(struct xshm_ctrl_chan_close),
				   sizeof(struct xshm_ctrl_rsp_status), XSHM_FROM_GUEST },
	[XSHM_CTRL_STATS] = { "stats", sizeof(struct xshm_ctrl_stats_req),
			      sizeof(struct xshm_ctrl_rsp_stats), XSHM_FROM_GUEST },
	[XSHM_CTRL_CHAN_ACCEPT] = { "chan-accept", sizeof(struct xshm_ctrl_chan_accept), 0,
				    XSHM_FROM_HOST },
	[XSHM_CTRL_CHAN_SHUTDOWN] = { "chan-shutdown", sizeof(struct xshm_ctrl_chan_close),
				      sizeof(struct xshm_ctrl_rsp_status), XSHM_FROM_GUEST },
	[XSHM_CTRL_PEER_LOOKUP] = { "peer-lookup", sizeof(struct xshm_ctrl_peer_lookup),
				    sizeof(struct xshm_ctrl_rsp_peer_lookup), XSHM_FROM_GUEST },
};

static const char *const errors[XSHM_CTRL_E_MAX_] = {
	[XSHM_CTRL_OK] = "ok",
	[XSHM_CTRL_E_SHORT] = "message shorter than its header",
	[XSHM_CTRL_E_VERSION] = "unknown protocol version",
	[XSHM_CTRL_E_TYPE] = "unknown message type",
	[XSHM_CTRL_E_DIRECTION] = "message type not allowed from this sender",
	[XSHM_CTRL_E_LENGTH] = "body length wrong for the message type",
	[XSHM_CTRL_E_TRUNCATED] = "header promises more bytes than arrived",
	[XSHM_CTRL_E_TRAILING] = "bytes after the message body",
	[XSHM_CTRL_E_RESERVED] = "reserved field not zero",
	[XSHM_CTRL_E_RANGE] = "count or size out of range",
	[XSHM_CTRL_E_PURPOSE] = "unknown segment purpose",
	[XSHM_CTRL_E_FLAGS] = "unknown flag bits",
	[XSHM_CTRL_E_NAME] = "bad channel or domain name",
	[XSHM_CTRL_E_DOMID] = "bad peer domid",
	[XSHM_CTRL_E_STATUS] = "bad response status",
};

const char *xshm_ctrl_strerror(int err)
{
	if (err < 0)
		err = -err;
	return err < XSHM_CTRL_E_MAX_ ? errors[err] : "unknown error";
}

static const struct type_info *type_lookup(uint16_t type)
{
	uint16_t base = type & (uint16_t)~XSHM_CTRL_RESPONSE;

	if (base == 0 || base > XSHM_CTRL_TYPE_MAX_)
		return NULL;
	if ((type & XSHM_CTRL_RESPONSE) && !types[base].rsp_size)
		return NULL; /* notices and acks have no response */
	return &types[base];
}

const char *xshm_ctrl_type_name(uint16_t type)
{
	const struct type_info *t = type_lookup(type);

	return t ? t->name : "unknown";
}

size_t xshm_ctrl_body_size(uint16_t type)
{
	const struct type_info *t = type_lookup(type);

	if (!t)
		return 0;
	return (type & XSHM_CTRL_RESPONSE) ? t->rsp_size : t->req_size;
}

static bool name_ok(const char *untrusted_name)
{
	size_t n = strnlen(untrusted_name, XSHM_CTRL_NAME_MAX);

	if (n == 0 || n == XSHM_CTRL_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = untrusted_name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	/* NUL padding only: no hidden bytes after the terminator. */
	for (size_t i = n; i < XSHM_CTRL_NAME_MAX; i++)
		if (untrusted_name[i])
			return false;
	return true;
}

bool xshm_ctrl_name_pack(const char *name, char out[XSHM_CTRL_NAME_MAX])
{
	size_t n = name ? strnlen(name, XSHM_CTRL_NAME_MAX) : 0;

	memset(out, 0, XSHM_CTRL_NAME_MAX);
	if (!n || n == XSHM_CTRL_NAME_MAX)
		return false;
	memcpy(out, name, n);
	return name_ok(out);
}

static int status_ok(int32_t s)
{
	return s <= 0 && s > -4096 ? 0 : -XSHM_CTRL_E_STATUS;
}

static int chan_info_ok(const struct xshm_ctrl_chan_info *c)
{
	if (c->flags & ~(XSHM_CHAN_MESSAGE | XSHM_CHAN_SIZED))
		return -XSHM_CTRL_E_FLAGS;
	if (c->reserved)
		return -XSHM_CTRL_E_RESERVED;
	if (!c->tx_pages || c->tx_pages > XSHM_CHAN_RING_PAGES_MAX || !c->rx_pages ||
	    c->rx_pages > XSHM_CHAN_RING_PAGES_MAX || c->max_msg > XSHM_CHAN_MSG_MAX ||
	    !c->chan_id || !c->tx_seg || !c->rx_seg || c->tx_seg == c->rx_seg)
		return -XSHM_CTRL_E_RANGE;
	return 0;
}

/* Field checks on the private copy; the header is already valid. */
static int check_body(const struct xshm_ctrl_msg *m)
{
	switch (m->hdr.type) {
	case XSHM_CTRL_HELLO:
		return m->u.hello.reserved ? -XSHM_CTRL_E_RESERVED : 0;
	case XSHM_CTRL_PEER_LOOKUP:
		return name_ok(m->u.peer_lookup.name) ? 0 : -XSHM_CTRL_E_NAME;
	case XSHM_CTRL_SEG_ALLOC:
		if (m->u.seg_alloc.flags)
			return -XSHM_CTRL_E_FLAGS;
		if (!m->u.seg_alloc.pages || m->u.seg_alloc.pages > XSHM_SEG_PAGES_MAX)
			return -XSHM_CTRL_E_RANGE;
		if (!m->u.seg_alloc.purpose || m->u.seg_alloc.purpose > XSHM_SEG_MAX_)
			return -XSHM_CTRL_E_PURPOSE;
		return 0;
	case XSHM_CTRL_SEG_FREE:
		return m->u.seg_free.reserved ? -XSHM_CTRL_E_RESERVED : 0;
	case XSHM_CTRL_RECLAIM:
		if (m->u.reclaim.reserved)
			return -XSHM_CTRL_E_RESERVED;
		if (!m->u.reclaim.pages || !m->u.reclaim.deadline_ms)
			return -XSHM_CTRL_E_RANGE;
		return 0;
	case XSHM_CTRL_RECLAIM_ACK:
		return 0;
	case XSHM_CTRL_CHAN_OPEN:
		if (m->u.chan_open.flags & ~XSHM_CHAN_FLAGS_ALL)
			return -XSHM_CTRL_E_FLAGS;
		if (!name_ok(m->u.chan_open.name))
			return -XSHM_CTRL_E_NAME;
		if (m->u.chan_open.peer_domid >= 0x7ff0u)
			return -XSHM_CTRL_E_DOMID;
		if (m->u.chan_open.max_msg > XSHM_CHAN_MSG_MAX ||
		    m->u.chan_open.ring_pages > XSHM_CHAN_RING_PAGES_MAX)
			return -XSHM_CTRL_E_RANGE;
		return 0;
	case XSHM_CTRL_CHAN_ACCEPT:
		if (!m->u.chan_accept.listener_id)
			return -XSHM_CTRL_E_RANGE;
		if (m->u.chan_accept.peer_domid == 0 || m->u.chan_accept.peer_domid >= 0x7ff0u)
			return -XSHM_CTRL_E_DOMID;
		return chan_info_ok(&m->u.chan_accept.chan);
	case XSHM_CTRL_CHAN_CLOSE:
	case XSHM_CTRL_CHAN_SHUTDOWN:
		return m->u.chan_close.reserved ? -XSHM_CTRL_E_RESERVED : 0;
	case XSHM_CTRL_STATS:
		return (m->u.stats.reserved[0] || m->u.stats.reserved[1]) ? -XSHM_CTRL_E_RESERVED : 0;
	case XSHM_CTRL_HELLO | XSHM_CTRL_RESPONSE:
		if (m->u.rsp_hello.reserved)
			return -XSHM_CTRL_E_RESERVED;
		if (m->u.rsp_hello.features & ~XSHM_FEAT_ALL)
			return -XSHM_CTRL_E_FLAGS;
		return status_ok(m->u.rsp_hello.status);
	case XSHM_CTRL_SEG_ALLOC | XSHM_CTRL_RESPONSE:
		if (m->u.rsp_seg_alloc.status == 0 &&
		    (!m->u.rsp_seg_alloc.pages || m->u.rsp_seg_alloc.pages > XSHM_SEG_PAGES_MAX))
			return -XSHM_CTRL_E_RANGE;
		return status_ok(m->u.rsp_seg_alloc.status);
	case XSHM_CTRL_SEG_FREE | XSHM_CTRL_RESPONSE:
	case XSHM_CTRL_CHAN_CLOSE | XSHM_CTRL_RESPONSE:
	case XSHM_CTRL_CHAN_SHUTDOWN | XSHM_CTRL_RESPONSE:
		if (m->u.rsp_status.reserved)
			return -XSHM_CTRL_E_RESERVED;
		return status_ok(m->u.rsp_status.status);
	case XSHM_CTRL_CHAN_OPEN | XSHM_CTRL_RESPONSE:
		/* A listener's answer carries its id alone; a connection's, the whole channel. */
		if (m->u.rsp_chan_open.status == 0 && m->u.rsp_chan_open.chan.tx_seg) {
			if (m->u.rsp_chan_open.peer_domid == 0 || m->u.rsp_chan_open.peer_domid >= 0x7ff0u)
				return -XSHM_CTRL_E_DOMID;
			return chan_info_ok(&m->u.rsp_chan_open.chan);
		}
		if (m->u.rsp_chan_open.status == 0 && !m->u.rsp_chan_open.chan.chan_id)
			return -XSHM_CTRL_E_RANGE;
		return status_ok(m->u.rsp_chan_open.status);
	case XSHM_CTRL_STATS | XSHM_CTRL_RESPONSE:
		return status_ok(m->u.rsp_stats.status);
	case XSHM_CTRL_PEER_LOOKUP | XSHM_CTRL_RESPONSE:
		if (m->u.rsp_peer_lookup.status == 0 &&
		    (m->u.rsp_peer_lookup.domid == 0 || m->u.rsp_peer_lookup.domid >= 0x7ff0u))
			return -XSHM_CTRL_E_DOMID;
		return status_ok(m->u.rsp_peer_lookup.status);
	}
	return -XSHM_CTRL_E_TYPE;
}

int xshm_ctrl_parse(const void *untrusted, size_t len, enum xshm_ctrl_origin from,
		    struct xshm_ctrl_msg *out)
{
	const struct type_info *t;
	size_t body;

	memset(out, 0, sizeof(*out));
	if (len < sizeof(out->hdr))
		return -XSHM_CTRL_E_SHORT;
	memcpy(&out->hdr, untrusted, sizeof(out->hdr));
	if (out->hdr.version != XSHM_CTRL_VERSION)
		return -XSHM_CTRL_E_VERSION;
	t = type_lookup(out->hdr.type);
	if (!t)
		return -XSHM_CTRL_E_TYPE;
	/* A guest sends requests and acks; the host sends responses and notices. */
	bool is_rsp = out->hdr.type & XSHM_CTRL_RESPONSE;
	enum xshm_ctrl_origin sender = is_rsp ? XSHM_FROM_HOST : t->sender;
	if (sender != from)
		return -XSHM_CTRL_E_DIRECTION;
	if (out->hdr.reserved)
		return -XSHM_CTRL_E_RESERVED;
	body = is_rsp ? t->rsp_size : t->req_size;
	if (out->hdr.len != body)
		return -XSHM_CTRL_E_LENGTH;
	if (len < sizeof(out->hdr) + body)
		return -XSHM_CTRL_E_TRUNCATED;
	if (len > sizeof(out->hdr) + body)
		return -XSHM_CTRL_E_TRAILING;
	memcpy(&out->u, (const uint8_t *)untrusted + sizeof(out->hdr), body);
	return check_body(out);
}

ssize_t xshm_ctrl_encode(const struct xshm_ctrl_msg *msg, void *buf, size_t buflen)
{
	struct xshm_ctrl_hdr hdr = msg->hdr;
	size_t body = xshm_ctrl_body_size(hdr.type);

	if (!body)
		return -EINVAL;
	if (buflen < sizeof(hdr) + body)
		return -EMSGSIZE;
	hdr.version = XSHM_CTRL_VERSION;
	hdr.len = (uint32_t)body;
	hdr.reserved = 0;
	memcpy(buf, &hdr, sizeof(hdr));
	memcpy((uint8_t *)buf + sizeof(hdr), &msg->u, body);
	return (ssize_t)(sizeof(hdr) + body);
}

void xshm_ctrl_page_init(struct xshm_ctrl_page *page)
{
	memset(page, 0, sizeof(*page));
	page->magic = XSHM_CTRL_PAGE_MAGIC;
	page->version = XSHM_CTRL_VERSION;
	xshm_ring_shared_init(&page->req);
	xshm_ring_shared_init(&page->rsp);
}

int xshm_ctrl_attach_rings(struct xshm_ctrl_page *page, bool guest_side, struct xshm_ring *tx,
			   struct xshm_ring *rx)
{
	void *req = page->req_data, *rsp = page->rsp_data;
	int rc;

	/* The guest produces requests and consumes responses; xenshmd the opposite. */
	rc = xshm_ring_attach(tx, guest_side ? &page->req : &page->rsp, XSHM_RING_PRODUCER,
			      XSHM_RING_MESSAGE, guest_side ? &req : &rsp, 1, XSHM_CTRL_RING_SHIFT,
			      XSHM_CTRL_MSG_MAX);
	if (rc)
		return rc;
	rc = xshm_ring_attach(rx, guest_side ? &page->rsp : &page->req, XSHM_RING_CONSUMER,
			      XSHM_RING_MESSAGE, guest_side ? &rsp : &req, 1, XSHM_CTRL_RING_SHIFT,
			      XSHM_CTRL_MSG_MAX);
	if (rc)
		xshm_ring_detach(tx);
	return rc;
}
