// SPDX-License-Identifier: GPL-2.0-only
/* libxenvchan behind mempipe-bench's transport calls (vchan_transport.h). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include <libxenvchan.h>

#include "vchan_transport.h"

struct bench_vchan {
	struct libxenvchan *ctrl;
};

static struct bench_vchan *wrap(struct libxenvchan *ctrl)
{
	struct bench_vchan *v;

	if (!ctrl)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (!v) {
		libxenvchan_close(ctrl);
		errno = ENOMEM;
		return NULL;
	}
	/* Block in read and write as a socket would: the benchmark's loops expect progress. */
	ctrl->blocking = 1;
	v->ctrl = ctrl;
	return v;
}

struct bench_vchan *bench_vchan_serve(unsigned int peer, const char *xs_path, size_t ring_bytes)
{
	return wrap(libxenvchan_server_init(NULL, (int)peer, xs_path, ring_bytes, ring_bytes));
}

struct bench_vchan *bench_vchan_connect(unsigned int server, const char *xs_path)
{
	return wrap(libxenvchan_client_init(NULL, (int)server, xs_path));
}

ssize_t bench_vchan_read(struct bench_vchan *v, void *buf, size_t len)
{
	/* Stream reads: what is there, at least one byte (blocking). */
	int n = libxenvchan_read(v->ctrl, buf, len > INT32_MAX ? INT32_MAX : len);

	if (n > 0)
		return n;
	return libxenvchan_is_open(v->ctrl) ? -EIO : 0;
}

ssize_t bench_vchan_write(struct bench_vchan *v, const void *buf, size_t len)
{
	int n = libxenvchan_write(v->ctrl, buf, len > INT32_MAX ? INT32_MAX : len);

	return n > 0 ? n : -EPIPE;
}

void bench_vchan_close(struct bench_vchan *v)
{
	if (!v)
		return;
	libxenvchan_close(v->ctrl);
	free(v);
}
