// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: the admin-facing grammars, which a compromised or careless
 * config hands to dom0 tools and xenshmd: xl cfg entries (xenshm, memflex,
 * mempipe keys) and the mempipe-peers list xenshmd parses at every connect.
 * The first byte picks the grammar; what a parser accepts must hold its
 * invariants, and a mempipe entry accepted by `xenshm create` must be read
 * back by xenshmd as naming its peer with its cap.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../dom0/peers.h"
#include "../../tools/cfgspec.h"
#include "xenshm/blkif.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mempipe(const char *s)
{
	struct xshm_spec_mempipe m;
	char err[256], item[128];
	unsigned long long id;
	uint64_t kb = 0;

	if (xshm_spec_mempipe(s, &m, err, sizeof(err)))
		return;
	snprintf(item, sizeof(item), "%s:%llu", m.peer, (unsigned long long)m.max_kb);
	bool numeric = !xo_parse_uint(m.peer, XO_DOMID_FIRST_RESERVED - 1, &id);
	int rc = xshm_peers_match(item, numeric ? (xo_domid_t)id : XO_DOMID_FIRST_RESERVED, numeric ? NULL : m.peer,
				  &kb, err, sizeof(err));
	if (rc != 1 || kb != m.max_kb)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	uint64_t kb = 77;

	if (!size)
		return 0;
	char *s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = 0; /* values arrive as C strings */
	switch (data[0] % 4) {
	case 0: {
		struct xshm_spec_xenshm x;
		if (!xshm_spec_xenshm(s, &x, err, sizeof(err)) && (x.quota_kb % 4 || !x.devices || x.devices > 256))
			abort();
		break;
	}
	case 1: {
		struct xshm_spec_memflex m;
		uint32_t devid;
		if (!xshm_spec_memflex(s, &m, err, sizeof(err)) &&
		    (!m.size_kb || m.mem_kb > m.size_kb || m.size_kb % 4 || xshm_vbd_devid(m.vdev, &devid) ||
		     devid != m.devid))
			abort();
		break;
	}
	case 2:
		check_mempipe(s);
		break;
	default: {
		int rc = xshm_peers_match(s, data[0], "web2", &kb, err, sizeof(err));
		if (rc < -EINVAL || rc > 1 || (rc == -EINVAL && !err[0]))
			abort();
		if (rc == 1 ? kb % 4 || kb > XSHM_PEER_MAX_KB : kb != 77)
			abort(); /* a cap only from a list that parsed whole */
		break;
	}
	}
	free(s);
	return 0;
}
