// SPDX-License-Identifier: LGPL-2.1-only
/*
 * The fake XenStore, modelled on docs/misc/xenstore.txt and C xenstored 4.17.
 *
 * One tree of nodes.  A transaction works on a private deep copy of the tree
 * and records (a) the generation of every node it touched, as first seen,
 * and (b) the log of its writes.  At commit the touched nodes are compared
 * with the live tree; any difference is a conflict (EAGAIN), otherwise the
 * write log is replayed on the live tree, which fires the watches.  That is
 * the contract C xenstored offers, without its implementation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_private.h"

#define LOCK(w) pthread_mutex_lock(&(w)->lock)
#define UNLOCK(w) pthread_mutex_unlock(&(w)->lock)
#define ABS_PATH_MAX 3072
#define REL_PATH_MAX 2048
#define DOM0_VALUE_MAX 4096
#define GUEST_PERMS_MAX 5

/* ---------- nodes ---------- */

static struct fake_node *node_new(const char *name, size_t namelen)
{
	struct fake_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->name = strndup(name, namelen);
	n->value = strdup("");
	if (!n->name || !n->value) {
		free(n->name);
		free(n->value);
		free(n);
		return NULL;
	}
	return n;
}

static void node_free(struct fake_node *n)
{
	if (!n)
		return;
	for (unsigned int i = 0; i < n->nchildren; i++)
		node_free(n->children[i]);
	free(n->children);
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static struct fake_node *node_copy(const struct fake_node *src, struct fake_node *parent)
{
	struct fake_node *n = node_new(src->name, strlen(src->name));

	if (!n)
		return NULL;
	n->parent = parent;
	n->gen = src->gen;
	free(n->value);
	n->value = malloc(src->len + 1);
	n->perms = malloc(sizeof(*n->perms) * (src->nperms ? src->nperms : 1));
	n->children = calloc(src->nchildren ? src->nchildren : 1, sizeof(*n->children));
	if (!n->value || !n->perms || !n->children)
		goto fail;
	memcpy(n->value, src->value, src->len + 1);
	n->len = src->len;
	memcpy(n->perms, src->perms, sizeof(*n->perms) * src->nperms);
	n->nperms = src->nperms;
	n->cap = src->nchildren ? src->nchildren : 1;
	for (unsigned int i = 0; i < src->nchildren; i++) {
		n->children[i] = node_copy(src->children[i], n);
		if (!n->children[i])
			goto fail;
		n->nchildren++;
	}
	return n;
fail:
	node_free(n);
	return NULL;
}

static struct fake_node *child_find(const struct fake_node *n, const char *name, size_t len)
{
	for (unsigned int i = 0; i < n->nchildren; i++)
		if (strlen(n->children[i]->name) == len && !memcmp(n->children[i]->name, name, len))
			return n->children[i];
	return NULL;
}

/* Deepest existing node on the way to abspath; *exact tells whether it is abspath itself. */
static struct fake_node *node_walk(struct fake_node *root, const char *abspath, bool *exact)
{
	struct fake_node *n = root;
	const char *p = abspath + 1;

	*exact = true;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct fake_node *c = child_find(n, p, len);
		if (!c) {
			*exact = false;
			return n;
		}
		n = c;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

static struct fake_node *node_lookup(struct fake_node *root, const char *abspath)
{
	bool exact;
	struct fake_node *n = node_walk(root, abspath, &exact);

	return exact ? n : NULL;
}

static unsigned int perm_for(const struct xo_perm *perms, unsigned int nperms, xo_domid_t domid)
{
	if (domid == 0)
		return XO_PERM_BOTH;
	if (!nperms)
		return XO_PERM_NONE;
	if (perms[0].domid == domid)
		return XO_PERM_BOTH;
	for (unsigned int i = 1; i < nperms; i++)
		if (perms[i].domid == domid)
			return perms[i].perms;
	return perms[0].perms;
}

static unsigned int node_perm(const struct fake_node *n, xo_domid_t domid)
{
	return perm_for(n->perms, n->nperms, domid);
}

static unsigned int count_owned(const struct fake_node *n, xo_domid_t domid)
{
	unsigned int c = (n->nperms && n->perms[0].domid == domid) ? 1 : 0;

	for (unsigned int i = 0; i < n->nchildren; i++)
		c += count_owned(n->children[i], domid);
	return c;
}

static int child_add(struct fake_node *parent, struct fake_node *c)
{
	if (parent->nchildren == parent->cap) {
		unsigned int cap = parent->cap ? parent->cap * 2 : 4;
		struct fake_node **v = realloc(parent->children, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		parent->children = v;
		parent->cap = cap;
	}
	parent->children[parent->nchildren++] = c;
	c->parent = parent;
	return 0;
}

static void child_remove(struct fake_node *parent, struct fake_node *c)
{
	for (unsigned int i = 0; i < parent->nchildren; i++) {
		if (parent->children[i] == c) {
			memmove(&parent->children[i], &parent->children[i + 1],
				(parent->nchildren - i - 1) * sizeof(c));
			parent->nchildren--;
			return;
		}
	}
}

static void node_path(const struct fake_node *n, char *buf, size_t size)
{
	if (!n->parent) {
		snprintf(buf, size, "/");
		return;
	}
	const char *names[ABS_PATH_MAX / 2] = { NULL };
	unsigned int depth = 0;
	for (const struct fake_node *p = n; p->parent && depth < ABS_PATH_MAX / 2; p = p->parent)
		names[depth++] = p->name;
	size_t off = 0;
	buf[0] = 0;
	while (depth--) {
		int r = snprintf(buf + off, size - off, "/%s", names[depth]);
		if (r < 0 || (size_t)r >= size - off)
			break;
		off += (size_t)r;
	}
}

/* ---------- paths ---------- */

static bool path_chars_ok(const char *p)
{
	for (; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '/' || c == '_' || c == '@'))
			return false;
	}
	return true;
}

/* Absolute canonical form of a caller's path.  `special` allows @names (watches). */
static int path_norm(const struct fake_handle *h, const char *path, char *out, bool special,
		     bool *relative)
{
	size_t len = strlen(path);

	*relative = false;
	if (!len)
		return -EINVAL;
	if (path[0] == '@') {
		if (!special || !path_chars_ok(path) || len > REL_PATH_MAX)
			return -EINVAL;
		snprintf(out, ABS_PATH_MAX + 1, "%s", path);
		return 0;
	}
	if (path[0] != '/') {
		if (len > REL_PATH_MAX)
			return -EINVAL;
		snprintf(out, ABS_PATH_MAX + 1, "/local/domain/%u/%s", h->domid, path);
		*relative = true;
	} else {
		if (len > ABS_PATH_MAX)
			return -EINVAL;
		snprintf(out, ABS_PATH_MAX + 1, "%s", path);
	}
	len = strlen(out);
	if (!path_chars_ok(out) || strstr(out, "//") || (len > 1 && out[len - 1] == '/'))
		return -EINVAL;
	return 0;
}

static bool path_is_at_or_below(const char *path, const char *top)
{
	size_t n = strlen(top);

	if (!strcmp(top, "/"))
		return path[0] == '/';
	return !strncmp(path, top, n) && (path[n] == 0 || path[n] == '/');
}

/* ---------- watches ---------- */

static void event_push(struct fake_world *w, struct fake_handle *h, const char *path,
		       const char *token)
{
	if (w->lim.coalesce_watches) {
		for (struct fake_event *e = h->ev_head; e; e = e->next)
			if (!strcmp(e->path, path) && !strcmp(e->token, token))
				return;
	}
	struct fake_event *e = calloc(1, sizeof(*e));
	if (!e)
		return; /* a lost event is legal: watches may coalesce */
	e->path = strdup(path);
	e->token = strdup(token);
	if (!e->path || !e->token) {
		free(e->path);
		free(e->token);
		free(e);
		return;
	}
	if (h->ev_tail)
		h->ev_tail->next = e;
	else
		h->ev_head = e;
	h->ev_tail = e;
	fake_efd_set(h->xs_efd);
}

static void event_push_for(struct fake_world *w, struct fake_watch *wt, const char *abspath)
{
	char home[32];
	int n = snprintf(home, sizeof(home), "/local/domain/%u/", wt->h->domid);

	if (wt->relative && !strncmp(abspath, home, (size_t)n))
		event_push(w, wt->h, abspath + n, wt->token);
	else
		event_push(w, wt->h, abspath, wt->token);
}

/* perms: of the changed node (before removal for rm); recursive: a subtree went away. */
static void fire_locked(struct fake_world *w, const char *abspath, const struct xo_perm *perms,
			unsigned int nperms, bool recursive)
{
	for (struct fake_watch *wt = w->watches; wt; wt = wt->next) {
		if (wt->h->dead || wt->path[0] == '@')
			continue;
		if (!(perm_for(perms, nperms, wt->h->domid) & XO_PERM_READ))
			continue;
		if (path_is_at_or_below(abspath, wt->path))
			event_push_for(w, wt, abspath);
		else if (recursive && path_is_at_or_below(wt->path, abspath))
			event_push_for(w, wt, wt->path);
	}
}

void fake_xs_fire_special_locked(struct fake_world *w, const char *special)
{
	for (struct fake_watch *wt = w->watches; wt; wt = wt->next)
		if (!wt->h->dead && wt->h->domid == 0 && !strcmp(wt->path, special))
			event_push(w, wt->h, special, wt->token);
}

/* ---------- the operations, on the live tree or inside a transaction ---------- */

struct view {
	struct fake_world *w;
	struct fake_handle *h;
	xo_domid_t domid;
	struct fake_txn *txn; /* NULL: live tree, fire watches */
	struct fake_node *root;
};

static int view_get(struct fake_handle *h, xo_txn_t t, struct view *v)
{
	v->w = h->w;
	v->h = h;
	v->domid = h->domid;
	v->txn = NULL;
	v->root = h->w->root;
	if (h->dead)
		return -ESRCH;
	if (t == XO_TXN_NONE)
		return 0;
	for (struct fake_txn *x = h->w->txns; x; x = x->next) {
		if (x->id == t && x->h == h) {
			v->txn = x;
			v->root = x->root;
			return 0;
		}
	}
	return -ENOENT;
}

/* Record the first sight of a node inside a transaction. */
static int txn_access(struct view *v, const char *abspath)
{
	struct fake_txn *x = v->txn;

	if (!x)
		return 0;
	for (unsigned int i = 0; i < x->nacc; i++)
		if (!strcmp(x->acc[i].path, abspath))
			return 0;
	if (x->nacc == x->capacc) {
		unsigned int cap = x->capacc ? x->capacc * 2 : 8;
		struct fake_access *a = realloc(x->acc, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		x->acc = a;
		x->capacc = cap;
	}
	struct fake_node *n = node_lookup(x->root, abspath);
	x->acc[x->nacc].path = strdup(abspath);
	if (!x->acc[x->nacc].path)
		return -ENOMEM;
	x->acc[x->nacc].gen = n ? n->gen : 0;
	x->nacc++;
	return 0;
}

static int txn_access_with_parent(struct view *v, const char *abspath)
{
	char parent[ABS_PATH_MAX + 1];
	int rc = txn_access(v, abspath);
	char *slash;

	if (rc || !v->txn)
		return rc;
	snprintf(parent, sizeof(parent), "%s", abspath);
	slash = strrchr(parent, '/');
	if (slash == parent)
		slash[1] = 0;
	else
		*slash = 0;
	return txn_access(v, parent);
}

static int txn_log(struct view *v, enum fake_op_kind kind, const char *abspath, const void *data,
		   size_t len, const struct xo_perm *perms, unsigned int nperms)
{
	struct fake_txn *x = v->txn;
	struct fake_op *op;

	if (!x)
		return 0;
	if (x->nops == x->capops) {
		unsigned int cap = x->capops ? x->capops * 2 : 8;
		struct fake_op *o = realloc(x->ops, cap * sizeof(*o));
		if (!o)
			return -ENOMEM;
		x->ops = o;
		x->capops = cap;
	}
	op = &x->ops[x->nops];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->path = strdup(abspath);
	if (data) {
		op->value = malloc(len + 1);
		if (op->value) {
			memcpy(op->value, data, len);
			op->value[len] = 0;
		}
		op->len = len;
	}
	if (perms) {
		op->perms = malloc(nperms * sizeof(*perms));
		if (op->perms)
			memcpy(op->perms, perms, nperms * sizeof(*perms));
		op->nperms = nperms;
	}
	if (!op->path || (data && !op->value) || (perms && !op->perms)) {
		free(op->path);
		free(op->value);
		free(op->perms);
		return -ENOMEM;
	}
	x->nops++;
	return 0;
}

static uint64_t next_gen(struct view *v)
{
	return ++v->w->gen;
}

/* Error for a missing node: EACCES if the caller could not even read where it would be. */
static int missing_errno(struct view *v, const char *abspath)
{
	bool exact;
	struct fake_node *n = node_walk(v->root, abspath, &exact);

	return (node_perm(n, v->domid) & XO_PERM_READ) ? -ENOENT : -EACCES;
}

/* Create abspath (and missing ancestors) as v->domid. */
static int node_create(struct view *v, const char *abspath, struct fake_node **out)
{
	bool exact;
	struct fake_node *n = node_walk(v->root, abspath, &exact);
	const char *p;
	unsigned int todo = 0;

	if (exact) {
		*out = n;
		return 0;
	}
	if (!(node_perm(n, v->domid) & XO_PERM_WRITE))
		return -EACCES;
	char have[ABS_PATH_MAX + 1];
	node_path(n, have, sizeof(have));
	p = abspath + (strcmp(have, "/") ? strlen(have) : 0);
	for (const char *q = p; *q; q++)
		if (*q == '/')
			todo++;
	if (v->domid != 0 &&
	    count_owned(v->root, v->domid) + todo > v->w->lim.xs_nodes_per_domain)
		return -EDQUOT;
	while (*p == '/') {
		p++;
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		struct fake_node *c = node_new(p, len);
		if (!c || child_add(n, c)) {
			node_free(c);
			return -ENOMEM;
		}
		/* Children inherit the parent's perms; unprivileged creators own what they make. */
		c->perms = malloc(sizeof(*c->perms) * n->nperms);
		if (!c->perms)
			return -ENOMEM;
		memcpy(c->perms, n->perms, sizeof(*c->perms) * n->nperms);
		c->nperms = n->nperms;
		if (v->domid != 0)
			c->perms[0].domid = v->domid;
		c->gen = next_gen(v);
		n->gen = c->gen;
		n = c;
		p += len;
	}
	*out = n;
	return 0;
}

static int do_write(struct view *v, const char *abspath, const void *data, size_t len)
{
	struct fake_node *n;
	int rc;

	if (!strcmp(abspath, "/"))
		return -EINVAL;
	if (len > (v->domid ? v->w->lim.xs_value_max : DOM0_VALUE_MAX))
		return -ENOSPC;
	rc = txn_access_with_parent(v, abspath);
	if (rc)
		return rc;
	n = node_lookup(v->root, abspath);
	if (n && !(node_perm(n, v->domid) & XO_PERM_WRITE))
		return -EACCES;
	if (!n) {
		rc = node_create(v, abspath, &n);
		if (rc)
			return rc;
	}
	char *val = malloc(len + 1);
	if (!val)
		return -ENOMEM;
	memcpy(val, data, len);
	val[len] = 0;
	free(n->value);
	n->value = val;
	n->len = len;
	n->gen = next_gen(v);
	rc = txn_log(v, FOP_WRITE, abspath, data, len, NULL, 0);
	if (!v->txn)
		fire_locked(v->w, abspath, n->perms, n->nperms, false);
	return rc;
}

static int do_mkdir(struct view *v, const char *abspath)
{
	struct fake_node *n;
	int rc = txn_access_with_parent(v, abspath);

	if (rc)
		return rc;
	n = node_lookup(v->root, abspath);
	if (n)
		return 0;
	rc = node_create(v, abspath, &n);
	if (rc)
		return rc;
	rc = txn_log(v, FOP_MKDIR, abspath, NULL, 0, NULL, 0);
	if (!v->txn)
		fire_locked(v->w, abspath, n->perms, n->nperms, false);
	return rc;
}

static int do_rm(struct view *v, const char *abspath)
{
	struct fake_node *n;
	int rc;

	if (!strcmp(abspath, "/"))
		return -EINVAL;
	rc = txn_access_with_parent(v, abspath);
	if (rc)
		return rc;
	n = node_lookup(v->root, abspath);
	if (!n) {
		/* xenstored: removing a missing child of an existing node succeeds. */
		char parent[ABS_PATH_MAX + 1];
		snprintf(parent, sizeof(parent), "%s", abspath);
		*strrchr(parent, '/') = 0;
		if (parent[0] && node_lookup(v->root, parent))
			return 0;
		return missing_errno(v, abspath);
	}
	if (!(node_perm(n, v->domid) & XO_PERM_WRITE))
		return -EACCES;
	struct xo_perm perms[GUEST_PERMS_MAX * 4];
	unsigned int np = n->nperms < GUEST_PERMS_MAX * 4 ? n->nperms : GUEST_PERMS_MAX * 4;
	memcpy(perms, n->perms, np * sizeof(*perms));
	n->parent->gen = next_gen(v);
	child_remove(n->parent, n);
	node_free(n);
	rc = txn_log(v, FOP_RM, abspath, NULL, 0, NULL, 0);
	if (!v->txn)
		fire_locked(v->w, abspath, perms, np, true);
	return rc;
}

static int do_set_perms(struct view *v, const char *abspath, const struct xo_perm *perms,
			unsigned int nperms)
{
	struct fake_node *n;
	int rc;

	if (!nperms || (v->domid && nperms > GUEST_PERMS_MAX) || nperms > GUEST_PERMS_MAX * 4)
		return -EINVAL;
	for (unsigned int i = 0; i < nperms; i++)
		if (perms[i].perms > XO_PERM_BOTH)
			return -EINVAL;
	rc = txn_access(v, abspath);
	if (rc)
		return rc;
	n = node_lookup(v->root, abspath);
	if (!n)
		return missing_errno(v, abspath);
	if (v->domid != 0) {
		if (n->perms[0].domid != v->domid)
			return -EACCES;
		if (perms[0].domid != n->perms[0].domid)
			return -EPERM; /* only the control domain changes owners */
	}
	struct xo_perm *copy = malloc(nperms * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, perms, nperms * sizeof(*copy));
	free(n->perms);
	n->perms = copy;
	n->nperms = nperms;
	n->gen = next_gen(v);
	rc = txn_log(v, FOP_SETPERMS, abspath, NULL, 0, perms, nperms);
	if (!v->txn)
		fire_locked(v->w, abspath, n->perms, n->nperms, false);
	return rc;
}

/* ---------- entry points ---------- */

#define ENTER(x, t, path, abs, v, rc)                                                          \
	struct fake_handle *h_ = fh(x);                                                        \
	struct view v;                                                                         \
	char abs[ABS_PATH_MAX + 1];                                                            \
	bool rel_;                                                                             \
	int rc;                                                                                \
	LOCK(h_->w);                                                                           \
	rc = view_get(h_, t, &v);                                                              \
	if (!rc)                                                                               \
		rc = path_norm(h_, path, abs, false, &rel_);

int fake_xs_read(struct xo *x, xo_txn_t t, const char *path, char **out, size_t *len)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = txn_access(&v, abs);
	if (!rc) {
		struct fake_node *n = node_lookup(v.root, abs);
		if (!n)
			rc = missing_errno(&v, abs);
		else if (!(node_perm(n, v.domid) & XO_PERM_READ))
			rc = -EACCES;
		else if (!(*out = malloc(n->len + 1)))
			rc = -ENOMEM;
		else {
			memcpy(*out, n->value, n->len + 1);
			if (len)
				*len = n->len;
		}
	}
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_write(struct xo *x, xo_txn_t t, const char *path, const void *data, size_t len)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = fake_fault_take_locked(v.w, XO_FAULT_XS_WRITE);
	if (!rc)
		rc = do_write(&v, abs, data, len);
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_mkdir(struct xo *x, xo_txn_t t, const char *path)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = fake_fault_take_locked(v.w, XO_FAULT_XS_WRITE);
	if (!rc)
		rc = do_mkdir(&v, abs);
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_rm(struct xo *x, xo_txn_t t, const char *path)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = do_rm(&v, abs);
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_directory(struct xo *x, xo_txn_t t, const char *path, char ***out, unsigned int *num)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = txn_access(&v, abs);
	if (!rc) {
		struct fake_node *n = node_lookup(v.root, abs);
		char **vec = NULL;
		if (!n)
			rc = missing_errno(&v, abs);
		else if (!(node_perm(n, v.domid) & XO_PERM_READ))
			rc = -EACCES;
		else if (!(vec = calloc(n->nchildren + 1, sizeof(*vec))))
			rc = -ENOMEM;
		for (unsigned int i = 0; !rc && i < n->nchildren; i++)
			if (!(vec[i] = strdup(n->children[i]->name)))
				rc = -ENOMEM;
		if (rc) {
			xo_free_strv(vec);
		} else {
			*out = vec;
			*num = n->nchildren;
		}
	}
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_get_perms(struct xo *x, xo_txn_t t, const char *path, struct xo_perm **out,
		      unsigned int *num)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = txn_access(&v, abs);
	if (!rc) {
		struct fake_node *n = node_lookup(v.root, abs);
		if (!n)
			rc = missing_errno(&v, abs);
		else if (!(node_perm(n, v.domid) & XO_PERM_READ))
			rc = -EACCES;
		else if (!(*out = malloc(n->nperms * sizeof(**out))))
			rc = -ENOMEM;
		else {
			memcpy(*out, n->perms, n->nperms * sizeof(**out));
			*num = n->nperms;
		}
	}
	UNLOCK(h_->w);
	return rc;
}

int fake_xs_set_perms(struct xo *x, xo_txn_t t, const char *path, const struct xo_perm *perms,
		      unsigned int nperms)
{
	ENTER(x, t, path, abs, v, rc);
	if (!rc)
		rc = do_set_perms(&v, abs, perms, nperms);
	UNLOCK(h_->w);
	return rc;
}

static void txn_free(struct fake_txn *x)
{
	node_free(x->root);
	for (unsigned int i = 0; i < x->nacc; i++)
		free(x->acc[i].path);
	free(x->acc);
	for (unsigned int i = 0; i < x->nops; i++) {
		free(x->ops[i].path);
		free(x->ops[i].value);
		free(x->ops[i].perms);
	}
	free(x->ops);
	free(x);
}

static void txn_unlink_locked(struct fake_world *w, struct fake_txn *x)
{
	for (struct fake_txn **pp = &w->txns; *pp; pp = &(*pp)->next) {
		if (*pp == x) {
			*pp = x->next;
			return;
		}
	}
}

int fake_xs_txn_start(struct xo *x, xo_txn_t *out)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct fake_txn *t = NULL;
	unsigned int mine = 0;
	int rc = 0;

	LOCK(w);
	if (h->dead) {
		rc = -ESRCH;
		goto out;
	}
	for (struct fake_txn *i = w->txns; i; i = i->next)
		if (i->h->domid == h->domid)
			mine++;
	if (h->domid && mine >= w->lim.xs_txns_per_domain) {
		rc = -ENOSPC;
		goto out;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->root = node_copy(w->root, NULL))) {
		free(t);
		rc = -ENOMEM;
		goto out;
	}
	t->id = w->next_txn++;
	t->h = h;
	t->next = w->txns;
	w->txns = t;
	*out = t->id;
out:
	UNLOCK(w);
	return rc;
}

int fake_xs_txn_end(struct xo *x, xo_txn_t id, bool abort)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	struct view v;
	int rc;

	LOCK(w);
	rc = view_get(h, id, &v);
	if (rc || !v.txn) {
		rc = rc ? rc : -EINVAL;
		goto out;
	}
	struct fake_txn *t = v.txn;
	txn_unlink_locked(w, t);
	if (abort)
		goto done;
	rc = fake_fault_take_locked(w, XO_FAULT_TXN_END);
	if (rc)
		goto done;
	for (unsigned int i = 0; i < t->nacc; i++) {
		struct fake_node *n = node_lookup(w->root, t->acc[i].path);
		if ((n ? n->gen : 0) != t->acc[i].gen) {
			rc = -EAGAIN;
			goto done;
		}
	}
	/* Replay on the live tree, as the same domain; this fires the watches. */
	struct view live = { .w = w, .h = h, .domid = h->domid, .txn = NULL, .root = w->root };
	for (unsigned int i = 0; i < t->nops && !rc; i++) {
		struct fake_op *op = &t->ops[i];
		switch (op->kind) {
		case FOP_WRITE:
			rc = do_write(&live, op->path, op->value, op->len);
			break;
		case FOP_MKDIR:
			rc = do_mkdir(&live, op->path);
			break;
		case FOP_RM:
			rc = do_rm(&live, op->path);
			break;
		case FOP_SETPERMS:
			rc = do_set_perms(&live, op->path, op->perms, op->nperms);
			break;
		}
	}
done:
	txn_free(t);
out:
	UNLOCK(w);
	return rc;
}

int fake_xs_watch(struct xo *x, const char *path, const char *token)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	char abs[ABS_PATH_MAX + 1];
	struct fake_watch *wt = NULL;
	bool rel;
	int rc;

	LOCK(w);
	rc = h->dead ? -ESRCH : path_norm(h, path, abs, true, &rel);
	if (rc)
		goto out;
	unsigned int mine = 0;
	for (struct fake_watch *i = w->watches; i; i = i->next) {
		if (i->h == h && !strcmp(i->path, abs) && !strcmp(i->token, token)) {
			rc = -EEXIST;
			goto out;
		}
		if (i->h->domid == h->domid)
			mine++;
	}
	if (h->domid && mine >= w->lim.xs_watches_per_domain) {
		rc = -E2BIG;
		goto out;
	}
	wt = calloc(1, sizeof(*wt));
	if (!wt || !(wt->path = strdup(abs)) || !(wt->token = strdup(token))) {
		if (wt)
			free(wt->path);
		free(wt);
		rc = -ENOMEM;
		goto out;
	}
	wt->h = h;
	wt->relative = rel;
	wt->next = w->watches;
	w->watches = wt;
	/* Every watch fires once on registration, with the path as given. */
	event_push(w, h, path, token);
out:
	UNLOCK(w);
	return rc;
}

static void events_drop_token(struct fake_handle *h, const char *token)
{
	struct fake_event **pp = &h->ev_head;

	h->ev_tail = NULL;
	while (*pp) {
		struct fake_event *e = *pp;
		if (!token || !strcmp(e->token, token)) {
			*pp = e->next;
			free(e->path);
			free(e->token);
			free(e);
		} else {
			h->ev_tail = e;
			pp = &e->next;
		}
	}
	if (!h->ev_head)
		fake_efd_clear(h->xs_efd);
}

int fake_xs_unwatch(struct xo *x, const char *path, const char *token)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	char abs[ABS_PATH_MAX + 1];
	bool rel;
	int rc;

	LOCK(w);
	rc = h->dead ? -ESRCH : path_norm(h, path, abs, true, &rel);
	if (!rc) {
		rc = -ENOENT;
		for (struct fake_watch **pp = &w->watches; *pp; pp = &(*pp)->next) {
			struct fake_watch *wt = *pp;
			if (wt->h == h && !strcmp(wt->path, abs) && !strcmp(wt->token, token)) {
				*pp = wt->next;
				free(wt->path);
				free(wt->token);
				free(wt);
				rc = 0;
				break;
			}
		}
		/* As with XS_UNWATCH_FILTER: no stale event after unwatch. */
		if (!rc)
			events_drop_token(h, token);
	}
	UNLOCK(w);
	return rc;
}

int fake_xs_fd(struct xo *x)
{
	return fh(x)->xs_efd;
}

int fake_xs_read_watch(struct xo *x, char **path, char **token)
{
	struct fake_handle *h = fh(x);
	struct fake_world *w = h->w;
	int rc = 0;

	LOCK(w);
	struct fake_event *e = h->ev_head;
	if (h->dead) {
		rc = -ESRCH;
	} else if (!e) {
		fake_efd_clear(h->xs_efd);
		rc = -EAGAIN;
	} else {
		h->ev_head = e->next;
		if (!h->ev_head) {
			h->ev_tail = NULL;
			fake_efd_clear(h->xs_efd);
		}
		*path = e->path;
		*token = e->token;
		free(e);
	}
	UNLOCK(w);
	return rc;
}

/* ---------- world-level helpers ---------- */

int fake_xs_init_locked(struct fake_world *w)
{
	static const char *const dirs[] = { "/local", "/local/domain", "/tool", "/vm", "/libxl" };
	struct view v = { .w = w, .domid = 0 };

	w->root = node_new("", 0);
	if (!w->root || !(w->root->perms = calloc(1, sizeof(struct xo_perm))))
		return -ENOMEM;
	w->root->nperms = 1; /* owner dom0, others none */
	v.root = w->root;
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int rc = do_mkdir(&v, dirs[i]);
		if (rc)
			return rc;
	}
	return 0;
}

void fake_xs_free_locked(struct fake_world *w)
{
	node_free(w->root);
	w->root = NULL;
	while (w->txns) {
		struct fake_txn *t = w->txns;
		w->txns = t->next;
		txn_free(t);
	}
	while (w->watches) {
		struct fake_watch *wt = w->watches;
		w->watches = wt->next;
		free(wt->path);
		free(wt->token);
		free(wt);
	}
}

int fake_xs_write_as0_locked(struct fake_world *w, const char *path, const char *value,
			     const struct xo_perm *perms, unsigned int nperms)
{
	struct view v = { .w = w, .domid = 0, .root = w->root };
	int rc = do_write(&v, path, value, strlen(value));

	if (!rc && perms)
		rc = do_set_perms(&v, path, perms, nperms);
	return rc;
}

void fake_xs_rm_as0_locked(struct fake_world *w, const char *path)
{
	struct view v = { .w = w, .domid = 0, .root = w->root };

	do_rm(&v, path);
}

static struct fake_node *find_owned(struct fake_node *n, xo_domid_t domid)
{
	if (n->parent && n->nperms && n->perms[0].domid == domid)
		return n;
	for (unsigned int i = 0; i < n->nchildren; i++) {
		struct fake_node *f = find_owned(n->children[i], domid);
		if (f)
			return f;
	}
	return NULL;
}

void fake_xs_remove_owned_locked(struct fake_world *w, xo_domid_t domid)
{
	struct fake_node *n;
	char path[ABS_PATH_MAX + 1];

	while ((n = find_owned(w->root, domid))) {
		node_path(n, path, sizeof(path));
		fake_xs_rm_as0_locked(w, path);
	}
}

void fake_xs_handle_gone_locked(struct fake_world *w, struct fake_handle *h)
{
	for (struct fake_watch **pp = &w->watches; *pp;) {
		struct fake_watch *wt = *pp;
		if (wt->h == h) {
			*pp = wt->next;
			free(wt->path);
			free(wt->token);
			free(wt);
		} else {
			pp = &wt->next;
		}
	}
	for (struct fake_txn **pp = &w->txns; *pp;) {
		struct fake_txn *t = *pp;
		if (t->h == h) {
			*pp = t->next;
			txn_free(t);
		} else {
			pp = &t->next;
		}
	}
	events_drop_token(h, NULL);
}

unsigned int fake_xs_count_owned_locked(struct fake_world *w, xo_domid_t domid)
{
	return count_owned(w->root, domid);
}

unsigned int fake_xs_count_watches_locked(struct fake_world *w, xo_domid_t domid)
{
	unsigned int n = 0;

	for (struct fake_watch *wt = w->watches; wt; wt = wt->next)
		if (wt->h->domid == domid)
			n++;
	return n;
}
