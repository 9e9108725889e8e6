/* SPDX-License-Identifier: LGPL-2.1-only */
/*
 * The control protocol between a guest (libxenshm) and xenshmd.
 *
 * The control page is one page that xenshmd grants to the guest
 * (struct xshm_ctrl_page): a magic, the protocol version, two live bytes
 * for unmap-notify, and two message-mode rings inside the page: requests
 * (guest -> host, including acks of host notices) and responses (host ->
 * guest, including unsolicited notices).
 *
 * Every message starts with struct xshm_ctrl_hdr, then a fixed-size body
 * whose length depends on the type alone.  All fields are little-endian
 * (both ends are x86_64 under the "x86_64-abi" protocol).  A receiver runs
 * xshm_ctrl_parse() on its private copy of the bytes; the parser rejects
 * every malformed message with its own error code.
 */
#ifndef XENSHM_CTRL_H
#define XENSHM_CTRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xenshm/ring.h"

#define XSHM_CTRL_VERSION 1
#define XSHM_CTRL_PAGE_MAGIC 0x4d485358u /* "XSHM" */
#define XSHM_CTRL_RING_OFFSET_REQ 2048u
#define XSHM_CTRL_RING_OFFSET_RSP 3072u
#define XSHM_CTRL_RING_SHIFT 10          /* each ring: 1 KiB of the page */
#define XSHM_CTRL_MSG_MAX 128u

/* Byte values of the live fields (0 is written by unmap-notify: "gone"). */
#define XSHM_LIVE_GONE 0
#define XSHM_LIVE_UP 1

struct xshm_ctrl_page {
	uint32_t magic;
	uint16_t version;
	uint8_t be_live;   /* unmap-notify byte of xenshmd */
	uint8_t fe_live;   /* unmap-notify byte of the guest */
	/* Nonzero: xenshmd asks the guest to let go of everything within this many ms (a save or
	 * migration is waiting); written by xenshmd only, read by the guest on every call. */
	uint32_t be_release;
	uint8_t pad0[XSHM_RING_CACHELINE - 12];
	struct xshm_ring_shared req;   /* guest produces */
	struct xshm_ring_shared rsp;   /* host produces */
	uint8_t reserved[XSHM_CTRL_RING_OFFSET_REQ - XSHM_RING_CACHELINE -
			 2 * sizeof(struct xshm_ring_shared)];
	uint8_t req_data[XSHM_CTRL_RING_OFFSET_RSP - XSHM_CTRL_RING_OFFSET_REQ];
	uint8_t rsp_data[4096 - XSHM_CTRL_RING_OFFSET_RSP];
};

enum xshm_ctrl_type {
	XSHM_CTRL_HELLO = 1,         /* guest: first message, features it speaks */
	XSHM_CTRL_SEG_ALLOC = 2,     /* guest: please grant me a segment */
	XSHM_CTRL_SEG_FREE = 3,      /* guest: I unmapped this segment, take it back */
	XSHM_CTRL_RECLAIM = 4,       /* host: give back pages by the deadline */
	XSHM_CTRL_RECLAIM_ACK = 5,   /* guest: released what I could */
	XSHM_CTRL_CHAN_OPEN = 6,     /* guest: open a MemPipe channel */
	XSHM_CTRL_CHAN_CLOSE = 7,    /* guest: close it */
	XSHM_CTRL_STATS = 8,         /* guest: my accounting, please */
	XSHM_CTRL_CHAN_ACCEPT = 9,   /* host: a peer connected to one of your listeners */
	XSHM_CTRL_CHAN_SHUTDOWN = 10, /* guest: I send no more on this channel end (half-close) */
	XSHM_CTRL_PEER_LOOKUP = 11,  /* guest: which domid has the co-located guest of this name? */
	XSHM_CTRL_TYPE_MAX_ = 11,
};
#define XSHM_CTRL_RESPONSE 0x8000u   /* type bit of a response (host -> guest) */

struct xshm_ctrl_hdr {
	uint16_t type;      /* enum xshm_ctrl_type, | XSHM_CTRL_RESPONSE for replies */
	uint16_t version;   /* XSHM_CTRL_VERSION */
	uint32_t id;        /* chosen by the requester, echoed by the response */
	uint32_t len;       /* body bytes after this header */
	uint32_t reserved;  /* 0 */
};

/* Segment purposes. */
enum xshm_seg_purpose { XSHM_SEG_SHM = 1, XSHM_SEG_RING = 2, XSHM_SEG_MAX_ = 2 };

#define XSHM_CTRL_NAME_MAX 64   /* channel names: [A-Za-z0-9._-], NUL-padded */
#define XSHM_SEG_PAGES_MAX (1u << 18)  /* 1 GiB per segment */

/*
 * Features: the guest's hello lists what it speaks, the response what xenshmd speaks of
 * that.  A guest sends a feature's messages only when the response has its bit (an older
 * xenshmd cuts off a guest that sends a type it does not know).
 */
#define XSHM_FEAT_PEER_LOOKUP (1u << 0)
#define XSHM_FEAT_ALL XSHM_FEAT_PEER_LOOKUP

struct xshm_ctrl_hello { uint32_t features; uint32_t reserved; };
struct xshm_ctrl_seg_alloc { uint32_t pages; uint16_t purpose; uint16_t flags; };
struct xshm_ctrl_seg_free { uint32_t seg_id; uint32_t reserved; };
struct xshm_ctrl_reclaim { uint32_t notice_id; uint32_t pages; uint32_t deadline_ms; uint32_t reserved; };
struct xshm_ctrl_reclaim_ack { uint32_t notice_id; uint32_t pages_released; };
struct xshm_ctrl_chan_open {
	char name[XSHM_CTRL_NAME_MAX];
	uint32_t peer_domid; /* connect: the listener's domain; listen: only this peer, 0 = any */
	uint32_t flags;      /* XSHM_CHAN_* */
	uint32_t max_msg;    /* message mode: largest payload; 0 = as large as the ring allows */
	uint32_t ring_pages; /* data pages of each ring, fixed; 0 = sized by xenshmd with the load */
};
/* Also the body of CHAN_SHUTDOWN. */
struct xshm_ctrl_chan_close { uint32_t chan_id; uint32_t reserved; };
struct xshm_ctrl_stats_req { uint32_t reserved[2]; };
/* A domain name as `xl list` shows it: the channel names' rules, NUL-padded. */
struct xshm_ctrl_peer_lookup { char name[XSHM_CTRL_NAME_MAX]; };

#define XSHM_CHAN_LISTEN  (1u << 0)
#define XSHM_CHAN_MESSAGE (1u << 1)
#define XSHM_CHAN_SIZED   (1u << 2)  /* info only: xenshmd sizes the rx rings with the load */
#define XSHM_CHAN_FLAGS_ALL (XSHM_CHAN_LISTEN | XSHM_CHAN_MESSAGE)
#define XSHM_CHAN_RX_PAGES_MIN 16u         /* a sized channel's rings: from 64 KiB ... */
#define XSHM_CHAN_RX_PAGES_MAX 1024u       /* ... to 4 MiB, each */
#define XSHM_CHAN_RING_PAGES_MAX (1u << 16) /* 256 MiB each way */
#define XSHM_CHAN_MSG_MAX (1u << 30)

/*
 * A connection, as the host announces it to each end: the end's own two
 * ring segments (it produces into tx and consumes rx), each a header page
 * (struct xshm_chan_page) followed by tx_pages / rx_pages data pages.  On a
 * sized channel xenshmd later replaces the rx ring in-band (chan.h).
 */
struct xshm_ctrl_chan_info {
	uint32_t chan_id;
	uint32_t tx_seg, tx_dir_gref, tx_pages;
	uint32_t rx_seg, rx_dir_gref, rx_pages;
	uint32_t max_msg;
	uint32_t flags;       /* XSHM_CHAN_MESSAGE, XSHM_CHAN_SIZED */
	uint32_t reserved;
};
struct xshm_ctrl_chan_accept {
	uint32_t listener_id;
	uint32_t peer_domid;
	struct xshm_ctrl_chan_info chan;
};

/* Responses: a status first (0 or a negative errno), then type-specific fields. */
struct xshm_ctrl_rsp_hello { int32_t status; uint32_t features; uint32_t max_pages; uint32_t reserved; };
struct xshm_ctrl_rsp_seg_alloc { int32_t status; uint32_t seg_id; uint32_t pages; uint32_t dir_gref; };
struct xshm_ctrl_rsp_status { int32_t status; uint32_t reserved; };
/* A listener answers with chan.chan_id only (its id); a connection with everything. */
struct xshm_ctrl_rsp_chan_open { int32_t status; uint32_t peer_domid; struct xshm_ctrl_chan_info chan; };
struct xshm_ctrl_rsp_peer_lookup { int32_t status; uint32_t domid; };
struct xshm_ctrl_rsp_stats {
	int32_t status;
	uint32_t segments;
	uint64_t pages_granted;
	uint64_t pages_quota;
	uint64_t host_pages_free;
};

/* A parsed message: a private copy whose fields have been validated. */
struct xshm_ctrl_msg {
	struct xshm_ctrl_hdr hdr;
	union {
		struct xshm_ctrl_hello hello;
		struct xshm_ctrl_seg_alloc seg_alloc;
		struct xshm_ctrl_seg_free seg_free;
		struct xshm_ctrl_reclaim reclaim;
		struct xshm_ctrl_reclaim_ack reclaim_ack;
		struct xshm_ctrl_chan_open chan_open;
		struct xshm_ctrl_chan_close chan_close;
		struct xshm_ctrl_stats_req stats;
		struct xshm_ctrl_chan_accept chan_accept;
		struct xshm_ctrl_peer_lookup peer_lookup;
		struct xshm_ctrl_rsp_hello rsp_hello;
		struct xshm_ctrl_rsp_seg_alloc rsp_seg_alloc;
		struct xshm_ctrl_rsp_status rsp_status;
		struct xshm_ctrl_rsp_chan_open rsp_chan_open;
		struct xshm_ctrl_rsp_stats rsp_stats;
		struct xshm_ctrl_rsp_peer_lookup rsp_peer_lookup;
	} u;
};

/* Who sent the bytes: each side accepts only what the other may send. */
enum xshm_ctrl_origin { XSHM_FROM_GUEST, XSHM_FROM_HOST };

/* Parse errors, returned negated.  Each names one way a message is wrong. */
enum xshm_ctrl_err {
	XSHM_CTRL_OK = 0,
	XSHM_CTRL_E_SHORT = 1,     /* fewer bytes than a header */
	XSHM_CTRL_E_VERSION,       /* unknown protocol version */
	XSHM_CTRL_E_TYPE,          /* unknown type */
	XSHM_CTRL_E_DIRECTION,     /* a type this sender may not send */
	XSHM_CTRL_E_LENGTH,        /* body length wrong for the type */
	XSHM_CTRL_E_TRUNCATED,     /* header promises more bytes than arrived */
	XSHM_CTRL_E_TRAILING,      /* bytes after the body */
	XSHM_CTRL_E_RESERVED,      /* a reserved field is not zero */
	XSHM_CTRL_E_RANGE,         /* a count or size out of range */
	XSHM_CTRL_E_PURPOSE,       /* unknown segment purpose */
	XSHM_CTRL_E_FLAGS,         /* unknown flag bits */
	XSHM_CTRL_E_NAME,          /* channel or domain name empty, unterminated or bad characters */
	XSHM_CTRL_E_DOMID,         /* peer domid reserved or invalid */
	XSHM_CTRL_E_STATUS,        /* response status not 0 or a negative errno */
	XSHM_CTRL_E_MAX_
};

/* Copy a channel or domain name into a message field, NUL-padded: false if the peer would
 * refuse it (empty, too long, a character outside [A-Za-z0-9._-]). */
bool xshm_ctrl_name_pack(const char *name, char out[XSHM_CTRL_NAME_MAX]);

const char *xshm_ctrl_strerror(int err);
const char *xshm_ctrl_type_name(uint16_t type);

/* Expected body size for a (type | RESPONSE?) value; 0 if unknown. */
size_t xshm_ctrl_body_size(uint16_t type);

/*
 * Validate `len` bytes at `untrusted` (already copied out of shared memory
 * by the caller: the parser copies again into *out before looking at any
 * field, so it never reads a byte twice).  0 or -XSHM_CTRL_E_*.
 */
int xshm_ctrl_parse(const void *untrusted, size_t len, enum xshm_ctrl_origin from,
		    struct xshm_ctrl_msg *out);

/* Serialise: fills hdr.version/len; returns bytes written or -EMSGSIZE/-EINVAL. */
ssize_t xshm_ctrl_encode(const struct xshm_ctrl_msg *msg, void *buf, size_t buflen);

/* Geometry of the two control rings inside a control page, for xshm_ring_attach. */
int xshm_ctrl_attach_rings(struct xshm_ctrl_page *page, bool guest_side, struct xshm_ring *tx,
			   struct xshm_ring *rx);
void xshm_ctrl_page_init(struct xshm_ctrl_page *page);

#endif
