/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The libxenvchan baseline of mempipe-bench: Xen's own guest-to-guest channel
 * (one guest grants its ring pages, the other maps them), behind the same
 * exact-length read/write the benchmark uses for MemPipe and TCP.  Only this
 * file sees libxenvchan's header: it is the thing measured, not a layer of xenshm.
 */
#ifndef XENSHM_BENCH_VCHAN_H
#define XENSHM_BENCH_VCHAN_H

#include <stddef.h>
#include <sys/types.h>

struct bench_vchan;

/* Server: rings of ring_bytes each way for client domain `peer`, announced at xs_path. */
struct bench_vchan *bench_vchan_serve(unsigned int peer, const char *xs_path, size_t ring_bytes);
/* Client of the server in domain `server` (xs_path as the server gave it). */
struct bench_vchan *bench_vchan_connect(unsigned int server, const char *xs_path);
/* Blocking: at least one byte, or 0 at the peer's close, or -errno. */
ssize_t bench_vchan_read(struct bench_vchan *v, void *buf, size_t len);
ssize_t bench_vchan_write(struct bench_vchan *v, const void *buf, size_t len);
void bench_vchan_close(struct bench_vchan *v);

#endif
