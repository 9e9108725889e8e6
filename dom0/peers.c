// SPDX-License-Identifier: GPL-2.0-only
/* The mempipe-peers list (see peers.h): pure parsing, no Xen. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "peers.h"

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

/* One item "PEER:MAX-KB" of len bytes at item: 0, or -EINVAL with the reason. */
static int parse_item(const char *item, size_t len, char *peer, uint64_t *max_kb, char *err, size_t errlen)
{
	const char *colon = memchr(item, ':', len);
	char kb[16];
	unsigned long long v;
	size_t plen = colon ? (size_t)(colon - item) : 0, klen = colon ? len - plen - 1 : 0;

	if (!colon || !plen || plen > XSHM_PEER_NAME_MAX || !klen || klen >= sizeof(kb)) {
		snprintf(err, errlen, "'%.*s' is not PEER:MAX-KB", (int)(len > 80 ? 80 : len), item);
		return -EINVAL;
	}
	memcpy(peer, item, plen);
	peer[plen] = 0;
	if (strcmp(peer, "*"))
		for (size_t i = 0; i < plen; i++)
			if (!name_char(peer[i])) {
				snprintf(err, errlen, "peer '%s' is not a domain name, domid or *", peer);
				return -EINVAL;
			}
	memcpy(kb, colon + 1, klen);
	kb[klen] = 0;
	if (xo_parse_uint(kb, XSHM_PEER_MAX_KB, &v) || v % 4) {
		snprintf(err, errlen, "'%s' for peer %s is not KiB in whole pages up to %llu", kb, peer,
			 (unsigned long long)XSHM_PEER_MAX_KB);
		return -EINVAL;
	}
	*max_kb = v;
	return 0;
}

static bool names(const char *item_peer, xo_domid_t peer, const char *peer_name)
{
	unsigned long long id;

	if (!strcmp(item_peer, "*"))
		return true;
	if (!xo_parse_uint(item_peer, XO_DOMID_FIRST_RESERVED - 1, &id))
		return id == peer;
	return peer_name && !strcmp(item_peer, peer_name);
}

int xshm_peers_match(const char *untrusted, xo_domid_t peer, const char *peer_name, uint64_t *max_kb,
		     char *err, size_t errlen)
{
	size_t len = strlen(untrusted);
	uint64_t cap = 0;
	int found = 0;

	if (len > XSHM_PEERS_LEN_MAX) {
		snprintf(err, errlen, "longer than %u characters", XSHM_PEERS_LEN_MAX);
		return -EINVAL;
	}
	/* Every item is checked, also after the one that decides: a half-valid list is a typo. */
	for (const char *p = untrusted; *p;) {
		const char *sp = strchr(p, ' ');
		size_t n = sp ? (size_t)(sp - p) : strlen(p);
		char item_peer[XSHM_PEER_NAME_MAX + 1];
		uint64_t kb;
		if (!n || (sp && !sp[1])) {
			snprintf(err, errlen, "items are separated by single spaces");
			return -EINVAL;
		}
		if (parse_item(p, n, item_peer, &kb, err, errlen))
			return -EINVAL;
		if (!found && names(item_peer, peer, peer_name)) {
			found = 1;
			cap = kb;
		}
		p += n + (sp ? 1 : 0);
	}
	if (found)
		*max_kb = cap;
	return found;
}
