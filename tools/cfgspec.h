/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The values of xenshm's keys in an xl domain config (xenshm.cfg(5)), in
 * the style of xl's own device specs: comma-separated key=value words.
 *
 *   xenshm  = "quota=64M,devices=2"
 *   memflex = "size=512M,mem=128M,vdev=xvds"      (or a list of such strings)
 *   mempipe = [ "peer=web2,max=4M", "peer=7" ]   (or one string)
 *
 * Sizes as the CLI takes them (64M, 1G, KiB without a suffix), whole 4 KiB
 * pages.  Every error names the word that is wrong.
 */
#ifndef XENSHM_TOOLS_CFGSPEC_H
#define XENSHM_TOOLS_CFGSPEC_H

#include <stddef.h>
#include <stdint.h>

struct xshm_spec_xenshm {
	uint64_t quota_kb;      /* default 65536 */
	unsigned int devices;   /* default 1 */
};

struct xshm_spec_memflex {
	uint64_t size_kb;       /* required */
	uint64_t mem_kb;        /* default size_kb */
	char vdev[8];           /* default xvds */
	uint32_t devid;
};

/*
 * Sizes as an admin types them: "65536" (KiB), "64K", "64M", "1G", "1T"
 * (binary units), a whole number of 4 KiB pages, at most max_kb.
 * 0 and *kb, or -EINVAL / -ERANGE.
 */
int xshm_parse_size_kb(const char *s, uint64_t max_kb, uint64_t *kb);

/* One co-located guest this one may open MemPipe channels with (dom0/peers.h). */
struct xshm_spec_mempipe {
	char peer[65];          /* required: a domain name, a domid or * */
	uint64_t max_kb;        /* cap on each ring; default 0: none */
};

/* 0, or -EINVAL with a message in err. */
int xshm_spec_xenshm(const char *spec, struct xshm_spec_xenshm *out, char *err, size_t errlen);
int xshm_spec_memflex(const char *spec, struct xshm_spec_memflex *out, char *err, size_t errlen);
int xshm_spec_mempipe(const char *spec, struct xshm_spec_mempipe *out, char *err, size_t errlen);

#endif
