// SPDX-License-Identifier: LGPL-2.1-only
/*
 * The real xenops: a thin adapter over Debian's Xen 4.17 libraries.  This is
 * the only file in xenshm that includes a Xen header.  It translates types
 * and the libraries' "-1 and errno" into negative errnos, and copies what
 * the libraries return packed (xs_directory, xs_check_watch) into the
 * xenops ownership rules.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>
#include <xenstore.h>

#include "xenshm/xenops.h"

struct claim {
	struct claim *next;
	int fd; /* -1: no socket could be made, the XenBus states alone decide */
	char name[];
};

struct real {
	struct xo xo;
	struct xs_handle *xs;
	xengntshr_handle *gs;
	xengnttab_handle *gt;
	xenevtchn_handle *ev;
	xc_interface *xc;
	struct claim *claims;
};

static struct real *rx(struct xo *x)
{
	return (struct real *)x;
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

static int r_xs_read(struct xo *x, xo_txn_t t, const char *path, char **out, size_t *len)
{
	unsigned int n = 0;
	void *v;

	if (!rx(x)->xs)
		return -ENODEV;
	v = xs_read(rx(x)->xs, t, path, &n);
	if (!v)
		return neg_errno();
	*out = v; /* libxenstore NUL-terminates the value */
	if (len)
		*len = n;
	return 0;
}

static int r_xs_write(struct xo *x, xo_txn_t t, const char *path, const void *data, size_t len)
{
	if (!rx(x)->xs)
		return -ENODEV;
	if (len > UINT32_MAX)
		return -E2BIG;
	return xs_write(rx(x)->xs, t, path, data, (unsigned int)len) ? 0 : neg_errno();
}

static int r_xs_mkdir(struct xo *x, xo_txn_t t, const char *path)
{
	if (!rx(x)->xs)
		return -ENODEV;
	return xs_mkdir(rx(x)->xs, t, path) ? 0 : neg_errno();
}

static int r_xs_rm(struct xo *x, xo_txn_t t, const char *path)
{
	if (!rx(x)->xs)
		return -ENODEV;
	return xs_rm(rx(x)->xs, t, path) ? 0 : neg_errno();
}

static int r_xs_directory(struct xo *x, xo_txn_t t, const char *path, char ***out, unsigned int *n)
{
	unsigned int num = 0;
	char **packed, **vec;
	int rc = 0;

	if (!rx(x)->xs)
		return -ENODEV;
	packed = xs_directory(rx(x)->xs, t, path, &num);
	if (!packed)
		return neg_errno();
	vec = calloc(num + 1, sizeof(*vec));
	if (!vec)
		rc = -ENOMEM;
	for (unsigned int i = 0; !rc && i < num; i++)
		if (!(vec[i] = strdup(packed[i])))
			rc = -ENOMEM;
	free(packed);
	if (rc) {
		xo_free_strv(vec);
		return rc;
	}
	*out = vec;
	*n = num;
	return 0;
}

static int r_xs_get_perms(struct xo *x, xo_txn_t t, const char *path, struct xo_perm **out,
			  unsigned int *n)
{
	unsigned int num = 0;
	struct xs_permissions *p;
	struct xo_perm *v;

	if (!rx(x)->xs)
		return -ENODEV;
	p = xs_get_permissions(rx(x)->xs, t, path, &num);
	if (!p)
		return neg_errno();
	v = calloc(num ? num : 1, sizeof(*v));
	if (!v) {
		free(p);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < num; i++) {
		v[i].domid = p[i].id;
		v[i].perms = p[i].perms & (XS_PERM_READ | XS_PERM_WRITE);
	}
	free(p);
	*out = v;
	*n = num;
	return 0;
}

static int r_xs_set_perms(struct xo *x, xo_txn_t t, const char *path, const struct xo_perm *perms,
			  unsigned int n)
{
	struct xs_permissions p[16];

	if (!rx(x)->xs)
		return -ENODEV;
	if (!n || n > 16)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++) {
		p[i].id = perms[i].domid;
		p[i].perms = perms[i].perms;
	}
	return xs_set_permissions(rx(x)->xs, t, path, p, n) ? 0 : neg_errno();
}

static int r_xs_txn_start(struct xo *x, xo_txn_t *out)
{
	xs_transaction_t t;

	if (!rx(x)->xs)
		return -ENODEV;
	t = xs_transaction_start(rx(x)->xs);
	if (t == XBT_NULL)
		return neg_errno();
	*out = t;
	return 0;
}

static int r_xs_txn_end(struct xo *x, xo_txn_t t, bool abort)
{
	if (!rx(x)->xs)
		return -ENODEV;
	return xs_transaction_end(rx(x)->xs, t, abort) ? 0 : neg_errno();
}

static int r_xs_watch(struct xo *x, const char *path, const char *token)
{
	if (!rx(x)->xs)
		return -ENODEV;
	return xs_watch(rx(x)->xs, path, token) ? 0 : neg_errno();
}

static int r_xs_unwatch(struct xo *x, const char *path, const char *token)
{
	if (!rx(x)->xs)
		return -ENODEV;
	return xs_unwatch(rx(x)->xs, path, token) ? 0 : neg_errno();
}

static int r_xs_fd(struct xo *x)
{
	return rx(x)->xs ? xs_fileno(rx(x)->xs) : -ENODEV;
}

static int r_xs_read_watch(struct xo *x, char **path, char **token)
{
	char **vec;

	if (!rx(x)->xs)
		return -ENODEV;
	errno = 0;
	vec = xs_check_watch(rx(x)->xs);
	if (!vec)
		return errno == EAGAIN || errno == 0 ? -EAGAIN : -errno;
	*path = strdup(vec[XS_WATCH_PATH]);
	*token = strdup(vec[XS_WATCH_TOKEN]);
	free(vec);
	if (!*path || !*token) {
		free(*path);
		free(*token);
		return -ENOMEM;
	}
	return 0;
}

static int r_gnt_share(struct xo *x, xo_domid_t domid, unsigned int count, bool writable,
		       xo_gref_t *refs, void **addr)
{
	void *a;

	if (!rx(x)->gs)
		return -ENODEV;
	if (!count || count > INT32_MAX)
		return -EINVAL;
	a = xengntshr_share_pages(rx(x)->gs, domid, (int)count, refs, writable);
	if (!a)
		return neg_errno();
	*addr = a;
	return 0;
}

static int r_gnt_share_notify(struct xo *x, xo_domid_t domid, bool writable, int notify_offset,
			      int notify_port, xo_gref_t *ref, void **addr)
{
	void *a;

	if (!rx(x)->gs)
		return -ENODEV;
	a = xengntshr_share_page_notify(rx(x)->gs, domid, ref, writable,
					notify_offset < 0 ? UINT32_MAX : (uint32_t)notify_offset,
					notify_port < 0 ? (evtchn_port_t)-1 : (evtchn_port_t)notify_port);
	if (!a)
		return neg_errno();
	*addr = a;
	return 0;
}

static int r_gnt_unshare(struct xo *x, void *addr, unsigned int count)
{
	if (!rx(x)->gs)
		return -ENODEV;
	return xengntshr_unshare(rx(x)->gs, addr, count) ? neg_errno() : 0;
}

static int r_gnt_map(struct xo *x, xo_domid_t domid, unsigned int count, const xo_gref_t *refs,
		     bool writable, void **addr)
{
	uint32_t *copy;
	void *a;

	if (!rx(x)->gt)
		return -ENODEV;
	if (!count)
		return -EINVAL;
	/* libxengnttab takes a non-const array. */
	copy = malloc(count * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, refs, count * sizeof(*copy));
	a = xengnttab_map_domain_grant_refs(rx(x)->gt, count, domid, copy,
					    PROT_READ | (writable ? PROT_WRITE : 0));
	int err = a ? 0 : neg_errno();
	free(copy);
	if (err)
		return err;
	*addr = a;
	return 0;
}

static int r_gnt_map_notify(struct xo *x, xo_domid_t domid, xo_gref_t ref, bool writable,
			    int notify_offset, int notify_port, void **addr)
{
	void *a;

	if (!rx(x)->gt)
		return -ENODEV;
	a = xengnttab_map_grant_ref_notify(rx(x)->gt, domid, ref,
					   PROT_READ | (writable ? PROT_WRITE : 0),
					   notify_offset < 0 ? UINT32_MAX : (uint32_t)notify_offset,
					   notify_port < 0 ? (evtchn_port_t)-1 : (evtchn_port_t)notify_port);
	if (!a)
		return neg_errno();
	*addr = a;
	return 0;
}

static int r_gnt_unmap(struct xo *x, void *addr, unsigned int count)
{
	if (!rx(x)->gt)
		return -ENODEV;
	return xengnttab_unmap(rx(x)->gt, addr, count) ? neg_errno() : 0;
}

/* Up to this many segments per call: the ops array converted on the stack. */
#define COPY_CHUNK 64u

static int r_gnt_copy(struct xo *x, struct xo_gnt_copy *ops, unsigned int count)
{
	xengnttab_grant_copy_segment_t segs[COPY_CHUNK];

	if (!rx(x)->gt)
		return -ENODEV;
	for (unsigned int done = 0; done < count;) {
		unsigned int n = count - done < COPY_CHUNK ? count - done : COPY_CHUNK;
		for (unsigned int i = 0; i < n; i++) {
			const struct xo_gnt_copy *op = &ops[done + i];
			xengnttab_grant_copy_segment_t *sg = &segs[i];
			union xengnttab_copy_ptr *foreign = op->to_granted ? &sg->dest : &sg->source;
			union xengnttab_copy_ptr *local = op->to_granted ? &sg->source : &sg->dest;

			memset(sg, 0, sizeof(*sg));
			if (op->domid >= XO_DOMID_FIRST_RESERVED || op->offset + op->len > XO_PAGE_SIZE)
				return -EINVAL; /* the kernel would refuse the whole batch */
			foreign->foreign.ref = op->ref;
			foreign->foreign.offset = op->offset;
			foreign->foreign.domid = (uint16_t)op->domid;
			local->virt = op->local;
			sg->len = op->len;
			sg->flags = op->to_granted ? GNTCOPY_dest_gref : GNTCOPY_source_gref;
		}
		if (xengnttab_grant_copy(rx(x)->gt, n, segs))
			return neg_errno();
		for (unsigned int i = 0; i < n; i++)
			ops[done + i].status = segs[i].status;
		done += n;
	}
	return 0;
}

static int r_evtchn_bind_unbound(struct xo *x, xo_domid_t remote, xo_port_t *local)
{
	xenevtchn_port_or_error_t p;

	if (!rx(x)->ev)
		return -ENODEV;
	p = xenevtchn_bind_unbound_port(rx(x)->ev, remote);
	if (p < 0)
		return neg_errno();
	*local = (xo_port_t)p;
	return 0;
}

static int r_evtchn_bind_interdomain(struct xo *x, xo_domid_t remote, xo_port_t remote_port,
				     xo_port_t *local)
{
	xenevtchn_port_or_error_t p;

	if (!rx(x)->ev)
		return -ENODEV;
	p = xenevtchn_bind_interdomain(rx(x)->ev, remote, remote_port);
	if (p < 0)
		return neg_errno();
	*local = (xo_port_t)p;
	return 0;
}

static int r_evtchn_unbind(struct xo *x, xo_port_t port)
{
	if (!rx(x)->ev)
		return -ENODEV;
	return xenevtchn_unbind(rx(x)->ev, port) ? neg_errno() : 0;
}

static int r_evtchn_notify(struct xo *x, xo_port_t port)
{
	if (!rx(x)->ev)
		return -ENODEV;
	return xenevtchn_notify(rx(x)->ev, port) ? neg_errno() : 0;
}

static int r_evtchn_fd(struct xo *x)
{
	return rx(x)->ev ? xenevtchn_fd(rx(x)->ev) : -ENODEV;
}

static int read_pending_port(struct xo *x, xo_port_t *port)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(rx(x)->ev);

	if (p < 0)
		return errno == EAGAIN ? -EAGAIN : neg_errno();
	*port = (xo_port_t)p;
	return 0;
}

static int r_evtchn_pending(struct xo *x, xo_port_t *port)
{
	struct pollfd pfd;

	if (!rx(x)->ev)
		return -ENODEV;
	/* O_NONBLOCK on this fd is unreliable (xenevtchn.h): poll first so we never block. */
	pfd.fd = xenevtchn_fd(rx(x)->ev);
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 0) <= 0)
		return -EAGAIN;
	return read_pending_port(x, port);
}

static int r_evtchn_pending_polled(struct xo *x, xo_port_t *port)
{
	return rx(x)->ev ? read_pending_port(x, port) : -ENODEV;
}

static int r_evtchn_unmask(struct xo *x, xo_port_t port)
{
	if (!rx(x)->ev)
		return -ENODEV;
	return xenevtchn_unmask(rx(x)->ev, port) ? neg_errno() : 0;
}

static void fill_info(const xc_domaininfo_t *i, struct xo_dominfo *o)
{
	memset(o, 0, sizeof(*o));
	o->domid = i->domain;
	if (i->flags & XEN_DOMINF_dying)
		o->flags |= XO_DOMINFO_DYING;
	if (i->flags & XEN_DOMINF_shutdown) {
		o->flags |= XO_DOMINFO_SHUTDOWN;
		o->shutdown_reason = (i->flags >> XEN_DOMINF_shutdownshift) & XEN_DOMINF_shutdownmask;
	}
	if (i->flags & XEN_DOMINF_paused)
		o->flags |= XO_DOMINFO_PAUSED;
	if (i->flags & XEN_DOMINF_hvm_guest)
		o->flags |= XO_DOMINFO_HVM;
	memcpy(o->uuid, i->handle, sizeof(o->uuid));
	o->tot_pages = i->tot_pages;
	o->max_pages = i->max_pages;
}

static int r_domain_list(struct xo *x, struct xo_dominfo *out, unsigned int max, unsigned int *n)
{
	xc_domaininfo_t *info;
	int got;

	if (!rx(x)->xc)
		return -ENODEV;
	info = calloc(max ? max : 1, sizeof(*info));
	if (!info)
		return -ENOMEM;
	got = xc_domain_getinfolist(rx(x)->xc, 0, max, info);
	if (got < 0) {
		int err = neg_errno();
		free(info);
		return err;
	}
	for (int i = 0; i < got; i++)
		fill_info(&info[i], &out[i]);
	*n = (unsigned int)got;
	free(info);
	return 0;
}

static int r_domain_info(struct xo *x, xo_domid_t domid, struct xo_dominfo *out)
{
	xc_domaininfo_t info;
	int got;

	if (!rx(x)->xc)
		return -ENODEV;
	/* getinfolist returns the next domain at or after domid: check that it is ours. */
	got = xc_domain_getinfolist(rx(x)->xc, domid, 1, &info);
	if (got < 0)
		return neg_errno();
	if (got == 0 || info.domain != domid)
		return -ESRCH;
	fill_info(&info, out);
	return 0;
}

static int r_host_info(struct xo *x, struct xo_hostinfo *out)
{
	xen_commandline_t cmdline;

	if (!rx(x)->xc)
		return -ENODEV;
	memset(out, 0, sizeof(*out));
	if (xc_version(rx(x)->xc, XENVER_commandline, &cmdline) < 0)
		return neg_errno();
	snprintf(out->cmdline, sizeof(out->cmdline), "%.*s", (int)sizeof(cmdline), cmdline);
	out->max_grant_frames = xo_cmdline_grant_frames(out->cmdline);
	return 0;
}

/*
 * A name in the abstract unix socket namespace (no file to create or clean up): bind() is
 * atomic and the kernel lets go of the name when the process dies.  It is shared by every
 * process of the guest's network namespace.
 */
static int r_claim(struct xo *x, const char *name)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	size_t n = strlen(name);
	struct claim *c;

	for (c = rx(x)->claims; c; c = c->next)
		if (!strcmp(c->name, name))
			return -EBUSY;
	if (n + sizeof("xenshm/") > sizeof(a.sun_path) - 1)
		return -ENAMETOOLONG;
	c = calloc(1, sizeof(*c) + n + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c->name, name, n + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0) {
		int len = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "xenshm/%s", name);
		if (bind(c->fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len))) {
			int err = errno;
			close(c->fd);
			c->fd = -1;
			if (err == EADDRINUSE) {
				free(c);
				return -EBUSY;
			}
		}
	}
	c->next = rx(x)->claims;
	rx(x)->claims = c;
	return 0;
}

static void r_unclaim(struct xo *x, const char *name)
{
	for (struct claim **pp = &rx(x)->claims; *pp; pp = &(*pp)->next) {
		struct claim *c = *pp;
		if (!strcmp(c->name, name)) {
			*pp = c->next;
			if (c->fd >= 0)
				close(c->fd);
			free(c);
			return;
		}
	}
}

static void r_close(struct xo *x)
{
	struct real *r = rx(x);

	while (r->claims)
		r_unclaim(x, r->claims->name);

	if (r->xs)
		xs_close(r->xs);
	if (r->gs)
		xengntshr_close(r->gs);
	if (r->gt)
		xengnttab_close(r->gt);
	if (r->ev)
		xenevtchn_close(r->ev);
	if (r->xc)
		xc_interface_close(r->xc);
	free(r);
}

static const struct xo_ops real_ops = {
	.name = "xen",
	.xs_read = r_xs_read,
	.xs_write = r_xs_write,
	.xs_mkdir = r_xs_mkdir,
	.xs_rm = r_xs_rm,
	.xs_directory = r_xs_directory,
	.xs_get_perms = r_xs_get_perms,
	.xs_set_perms = r_xs_set_perms,
	.xs_txn_start = r_xs_txn_start,
	.xs_txn_end = r_xs_txn_end,
	.xs_watch = r_xs_watch,
	.xs_unwatch = r_xs_unwatch,
	.xs_fd = r_xs_fd,
	.xs_read_watch = r_xs_read_watch,
	.gnt_share = r_gnt_share,
	.gnt_share_notify = r_gnt_share_notify,
	.gnt_unshare = r_gnt_unshare,
	.gnt_map = r_gnt_map,
	.gnt_map_notify = r_gnt_map_notify,
	.gnt_unmap = r_gnt_unmap,
	.gnt_copy = r_gnt_copy,
	.evtchn_bind_unbound = r_evtchn_bind_unbound,
	.evtchn_bind_interdomain = r_evtchn_bind_interdomain,
	.evtchn_unbind = r_evtchn_unbind,
	.evtchn_notify = r_evtchn_notify,
	.evtchn_fd = r_evtchn_fd,
	.evtchn_pending = r_evtchn_pending,
	.evtchn_pending_polled = r_evtchn_pending_polled,
	.evtchn_unmask = r_evtchn_unmask,
	.domain_list = r_domain_list,
	.domain_info = r_domain_info,
	.host_info = r_host_info,
	.claim = r_claim,
	.unclaim = r_unclaim,
	.close = r_close,
};

int xo_real_open(struct xo **out, unsigned int what)
{
	struct real *r = calloc(1, sizeof(*r));
	int rc = 0;

	if (!r)
		return -ENOMEM;
	r->xo.ops = &real_ops;
	/* Each open sets errno on failure; keep the first reason. */
	if ((what & XO_OPEN_XS) && !(r->xs = xs_open(0)))
		rc = neg_errno();
	if (!rc && (what & XO_OPEN_GNTSHR) && !(r->gs = xengntshr_open(NULL, 0)))
		rc = neg_errno();
	if (!rc && (what & XO_OPEN_GNTTAB) && !(r->gt = xengnttab_open(NULL, 0)))
		rc = neg_errno();
	if (!rc && (what & XO_OPEN_EVTCHN) && !(r->ev = xenevtchn_open(NULL, 0)))
		rc = neg_errno();
	if (!rc && (what & XO_OPEN_CTRL) && !(r->xc = xc_interface_open(NULL, NULL, 0)))
		rc = neg_errno();
	if (rc) {
		r_close(&r->xo);
		return rc;
	}
	*out = &r->xo;
	return 0;
}
