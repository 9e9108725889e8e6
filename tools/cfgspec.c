// SPDX-License-Identifier: GPL-2.0-only
/* xenshm's keys in xl domain configs (see cfgspec.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dom0/peers.h"
#include "xenshm/blkif.h"
#include "xenshm/xenops.h"
#include "cfgspec.h"

#define SPEC_MAX 256
#define SIZE_KB_MAX (UINT64_C(1) << 30)
#define DEVICES_MAX 256

int xshm_parse_size_kb(const char *s, uint64_t max_kb, uint64_t *kb)
{
	char digits[32];
	size_t n = strlen(s);
	unsigned int shift = 0;
	unsigned long long v;

	if (n == 0 || n >= sizeof(digits))
		return -EINVAL;
	switch (s[n - 1]) {
	case 'K': case 'k': shift = 0; n--; break;
	case 'M': case 'm': shift = 10; n--; break;
	case 'G': case 'g': shift = 20; n--; break;
	case 'T': case 't': shift = 30; n--; break;
	default: break;
	}
	memcpy(digits, s, n);
	digits[n] = 0;
	int rc = xo_parse_uint(digits, max_kb, &v);
	if (rc)
		return rc;
	if (v > (max_kb >> shift))
		return -ERANGE;
	v <<= shift;
	if (v % 4)
		return -EINVAL;
	*kb = v;
	return 0;
}

/*
 * Split "k=v,k=v" in place; call word() for each.  Empty words (",,", a trailing comma) and
 * words without '=' are errors, as are keys seen twice.
 */
static int each_word(const char *spec, char *err, size_t errlen,
		     int (*word)(const char *key, const char *val, void *arg, char *err, size_t errlen), void *arg)
{
	char buf[SPEC_MAX], *save = NULL, seen[8][16];
	unsigned int nseen = 0;

	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "longer than %d characters", SPEC_MAX - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", spec);
	if (!buf[0] || buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,")) {
		snprintf(err, errlen, "'%s': an empty word", spec);
		return -EINVAL;
	}
	for (char *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(w, '=');
		if (!eq || eq == w) {
			snprintf(err, errlen, "'%s' is not key=value", w);
			return -EINVAL;
		}
		*eq = '\0';
		for (unsigned int i = 0; i < nseen; i++) {
			if (!strcmp(seen[i], w)) {
				snprintf(err, errlen, "'%s' given twice", w);
				return -EINVAL;
			}
		}
		if (nseen < 8)
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", w);
		int rc = word(w, eq + 1, arg, err, errlen);
		if (rc)
			return rc;
	}
	return 0;
}

static int size_word(const char *key, const char *val, uint64_t *kb, char *err, size_t errlen)
{
	if (xshm_parse_size_kb(val, SIZE_KB_MAX, kb)) {
		snprintf(err, errlen, "%s='%s' is not a size in whole 4 KiB pages (up to 1T)", key, val);
		return -EINVAL;
	}
	return 0;
}

static int xenshm_word(const char *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct xshm_spec_xenshm *s = arg;
	unsigned long long n;

	if (!strcmp(key, "quota"))
		return size_word(key, val, &s->quota_kb, err, errlen);
	if (!strcmp(key, "devices")) {
		if (xo_parse_uint(val, DEVICES_MAX, &n) || !n) {
			snprintf(err, errlen, "devices='%s' is not 1 .. %d", val, DEVICES_MAX);
			return -EINVAL;
		}
		s->devices = (unsigned int)n;
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (known: quota, devices)", key);
	return -EINVAL;
}

int xshm_spec_xenshm(const char *spec, struct xshm_spec_xenshm *out, char *err, size_t errlen)
{
	out->quota_kb = 65536;
	out->devices = 1;
	return each_word(spec, err, errlen, xenshm_word, out);
}

static int memflex_word(const char *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct xshm_spec_memflex *s = arg;

	if (!strcmp(key, "size"))
		return size_word(key, val, &s->size_kb, err, errlen);
	if (!strcmp(key, "mem"))
		return size_word(key, val, &s->mem_kb, err, errlen);
	if (!strcmp(key, "vdev")) {
		if (strlen(val) >= sizeof(s->vdev) || xshm_vbd_devid(val, &s->devid)) {
			snprintf(err, errlen, "vdev='%s' is not a disk name like xvdb or xvds", val);
			return -EINVAL;
		}
		snprintf(s->vdev, sizeof(s->vdev), "%s", val);
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (known: size, mem, vdev)", key);
	return -EINVAL;
}

int xshm_spec_memflex(const char *spec, struct xshm_spec_memflex *out, char *err, size_t errlen)
{
	int rc;

	memset(out, 0, sizeof(*out));
	out->mem_kb = UINT64_MAX;
	snprintf(out->vdev, sizeof(out->vdev), "xvds");
	if ((rc = each_word(spec, err, errlen, memflex_word, out)))
		return rc;
	if (!out->size_kb) {
		snprintf(err, errlen, "'%s': size= is required (and more than 0)", spec);
		return -EINVAL;
	}
	if (out->mem_kb == UINT64_MAX)
		out->mem_kb = out->size_kb;
	if (out->mem_kb > out->size_kb) {
		snprintf(err, errlen, "mem is more than size");
		return -EINVAL;
	}
	return xshm_vbd_devid(out->vdev, &out->devid);
}

static int mempipe_word(const char *key, const char *val, void *arg, char *err, size_t errlen)
{
	struct xshm_spec_mempipe *s = arg;

	if (!strcmp(key, "max"))
		return size_word(key, val, &s->max_kb, err, errlen);
	if (!strcmp(key, "peer")) {
		if (strlen(val) >= sizeof(s->peer)) {
			snprintf(err, errlen, "peer='%.16s...' is longer than %zu characters", val, sizeof(s->peer) - 1);
			return -EINVAL;
		}
		snprintf(s->peer, sizeof(s->peer), "%s", val);
		return 0;
	}
	snprintf(err, errlen, "unknown key '%s' (known: peer, max)", key);
	return -EINVAL;
}

int xshm_spec_mempipe(const char *spec, struct xshm_spec_mempipe *out, char *err, size_t errlen)
{
	char item[sizeof(out->peer) + 24], why[160];
	uint64_t kb;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = each_word(spec, err, errlen, mempipe_word, out)))
		return rc;
	if (!out->peer[0]) {
		snprintf(err, errlen, "'%s': peer= is required (a domain name, a domid or *)", spec);
		return -EINVAL;
	}
	if (strpbrk(out->peer, " :")) {
		snprintf(err, errlen, "peer='%s' is not a domain name, domid or *", out->peer);
		return -EINVAL;
	}
	/* What xenshmd will read must parse: the same checks, on the item this makes. */
	snprintf(item, sizeof(item), "%s:%llu", out->peer, (unsigned long long)out->max_kb);
	if (xshm_peers_match(item, XO_DOMID_FIRST_RESERVED, NULL, &kb, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s", why);
		return -EINVAL;
	}
	return 0;
}
