// SPDX-License-Identifier: GPL-2.0-only
/*
 * mempipe: MemPipe for programs that know only TCP, and a netcat for
 * channels.  Runs in a guest.
 *
 *   mempipe expose NAME HOST:PORT
 *       listen on channel NAME; every connection is forwarded to the TCP
 *       service HOST:PORT of this guest (e.g. 127.0.0.1:5201 for iperf3 -s)
 *   mempipe forward PORT PEER NAME [--fallback IP:PORT] [--bind ADDR]
 *       listen on TCP PORT (127.0.0.1 unless --bind); every client is carried
 *       over a channel to NAME in domain PEER (a domain name, looked up again
 *       for every client so a restored peer is found, or a domid).  When no
 *       channel can be made
 *       (the peer is not on this host, has no listener, or this guest has no
 *       xenshm device) the client goes to IP:PORT over the network instead.
 *   mempipe listen NAME | mempipe connect PEER NAME
 *       one channel between stdin/stdout and the peer, like nc
 *
 * One process, one poll loop: every channel shares the process's xenshm
 * connection and its event channel (libmempipe's threading rule).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "xenshm/mempipe.h"
#include "xenshm/shm.h"

#define BUF 65536
#define MAX_PAIRS 256

/* One TCP connection (or stdin/stdout) joined to one channel, or to a fallback socket. */
struct pair {
	int in_fd, out_fd;         /* the local side: a socket twice, or stdin and stdout */
	struct mempipe *mp;        /* the channel, or NULL when the peer is reached by TCP */
	int peer_fd;               /* the fallback socket */
	uint8_t up[BUF], down[BUF];
	size_t up_off, up_len, down_off, down_len;
	bool local_eof, peer_eof, dead, peer_shut, local_shut;
};

struct proxy {
	struct shm *s;             /* NULL while the host saves this domain (or there is no device) */
	struct pair *pairs[MAX_PAIRS];
	unsigned int npairs;
	bool one_shot;             /* listen/connect: exit when the pair ends */
	bool reopen;               /* forward/expose: open the device again after a release */
	const char *listen_name;   /* expose: the channel to listen on, again after a release */
	struct mempipe *listener;
};

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 && a->sin_port ? 0 : -EINVAL;
}

static int tcp_connect(const struct sockaddr_in *a)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)a, sizeof(*a))) {
		int err = errno;
		close(fd);
		return -err;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_nonblock(fd);
	return fd;
}

static void add_pair(struct proxy *p, int in_fd, int out_fd, struct mempipe *mp, int peer_fd)
{
	struct pair *q;

	if (p->npairs == MAX_PAIRS || !(q = calloc(1, sizeof(*q)))) {
		fprintf(stderr, "mempipe: too many connections, refusing one\n");
		mempipe_close(mp);
		if (peer_fd >= 0)
			close(peer_fd);
		close(in_fd);
		return;
	}
	q->in_fd = in_fd;
	q->out_fd = out_fd;
	q->mp = mp;
	q->peer_fd = peer_fd;
	if (mp)
		mempipe_set_nonblock(mp, true);
	set_nonblock(in_fd);
	if (out_fd != in_fd)
		set_nonblock(out_fd);
	p->pairs[p->npairs++] = q;
}

static void drop_pair(struct proxy *p, unsigned int i)
{
	struct pair *q = p->pairs[i];

	mempipe_close(q->mp);
	if (q->peer_fd >= 0)
		close(q->peer_fd);
	if (q->in_fd > 2)
		close(q->in_fd);
	if (q->out_fd > 2 && q->out_fd != q->in_fd)
		close(q->out_fd);
	free(q);
	p->pairs[i] = p->pairs[--p->npairs];
}

/* To the peer: a channel or the fallback socket.  Bytes taken, 0 if none now, <0 error. */
static ssize_t peer_write(struct pair *q, const void *b, size_t n)
{
	ssize_t w = q->mp ? mempipe_write(q->mp, b, n) : write(q->peer_fd, b, n);

	if (w < 0 && (q->mp ? w == -EAGAIN : (errno == EAGAIN || errno == EINTR)))
		return 0;
	return w < 0 && !q->mp ? -errno : w;
}

/* From the peer: bytes, -EAGAIN if none now, 0 at its end of stream, <0 error. */
static ssize_t peer_read(struct pair *q, void *b, size_t n)
{
	ssize_t r = q->mp ? mempipe_read(q->mp, b, n) : read(q->peer_fd, b, n);

	if (r < 0 && !q->mp)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	return r;
}

/* Move what can move without blocking; false once the pair is finished. */
static bool shovel(struct pair *q)
{
	bool progress = true;

	while (progress && !q->dead) {
		progress = false;
		if (!q->up_len && !q->local_eof) {
			ssize_t r = read(q->in_fd, q->up, BUF);
			if (r > 0) {
				q->up_off = 0;
				q->up_len = (size_t)r;
				progress = true;
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				q->local_eof = true;
				progress = true;
			}
		}
		if (q->up_len) {
			ssize_t w = peer_write(q, q->up + q->up_off, q->up_len);
			if (w < 0) {
				q->dead = true;
			} else if (w > 0) {
				q->up_off += (size_t)w;
				q->up_len -= (size_t)w;
				progress = true;
			}
		}
		if (!q->down_len && !q->peer_eof && (q->mp || q->peer_fd >= 0)) {
			ssize_t r = peer_read(q, q->down, BUF);
			if (r > 0) {
				q->down_off = 0;
				q->down_len = (size_t)r;
				progress = true;
			} else if (r == 0 || (r < 0 && r != -EAGAIN)) {
				q->peer_eof = true;
				progress = true;
			}
		}
		if (q->down_len) {
			ssize_t w = write(q->out_fd, q->down + q->down_off, q->down_len);
			if (w > 0) {
				q->down_off += (size_t)w;
				q->down_len -= (size_t)w;
				progress = true;
			} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
				q->dead = true;
			}
		}
	}
	if (q->peer_eof && !q->down_len && !q->local_shut) {
		shutdown(q->out_fd, SHUT_WR); /* the peer is done: tell the local side */
		q->local_shut = true;
	}
	if (q->local_eof && !q->up_len && !q->peer_shut) {
		q->peer_shut = true;
		if (q->peer_fd >= 0) {
			shutdown(q->peer_fd, SHUT_WR);
		} else if (mempipe_shutdown(q->mp) < 0) {
			/* No half-close (an older xenshmd): close the channel; what was written is still
			 * delivered, but nothing more comes from the peer. */
			mempipe_close(q->mp);
			q->mp = NULL;
			q->peer_eof = true;
		}
	}
	return !q->dead && !(q->local_eof && !q->up_len && q->peer_eof && !q->down_len);
}

/* What to do with a new TCP client or a new channel. */
struct handlers {
	void (*tcp_client)(struct proxy *p, int fd, void *arg);
	void (*channel)(struct proxy *p, struct mempipe *mp, void *arg);
	void *arg;
};

/*
 * The host saves this domain (SHM_EV_RELEASE): every channel goes (its TCP
 * client sees the connection end; bytes in flight are the applications' to
 * resend), then the device, so that nothing stays mapped across the suspend.
 * TCP-carried pairs stay; forwarded clients go over TCP until the device is
 * back.
 */
static void release_all(struct proxy *p)
{
	unsigned int closed = 0;

	for (unsigned int i = 0; i < p->npairs;) {
		if (p->pairs[i]->mp) {
			drop_pair(p, i);
			closed++;
		} else {
			i++;
		}
	}
	mempipe_close(p->listener);
	p->listener = NULL;
	shm_exit(p->s);
	p->s = NULL;
	fprintf(stderr, "mempipe: the host is saving this domain: %u channel%s closed, xenshm let go\n", closed,
		closed == 1 ? "" : "s");
}

/* After a release: the device again (EAGAIN until the domain has moved), and the listener. */
static void try_reopen(struct proxy *p)
{
	struct mempipe_opts forever = { .timeout_ms = -1 };

	p->s = shm_init(0);
	if (!p->s)
		return;
	if (p->listen_name && !(p->listener = mempipe_listen(p->s, p->listen_name, &forever))) {
		fprintf(stderr, "mempipe: listen %s again: %s\n", p->listen_name, strerror(errno));
		shm_exit(p->s);
		p->s = NULL;
		return;
	}
	fprintf(stderr, "mempipe: xenshm is back: channels again\n");
}

static void loop(struct proxy *p, int listen_fd, const struct handlers *h)
{
	for (;;) {
		struct pollfd fds[MAX_PAIRS * 2 + 2];
		nfds_t n = 0;

		if (p->s && p->reopen && shm_release_asked(p->s))
			release_all(p);
		else if (!p->s && p->reopen)
			try_reopen(p);

		for (unsigned int i = 0; i < p->npairs;) {
			if (shovel(p->pairs[i])) {
				i++;
			} else {
				drop_pair(p, i);
				if (p->one_shot)
					return;
			}
		}
		if (p->listener) {
			struct mempipe *mp;
			mempipe_set_nonblock(p->listener, true);
			while ((mp = mempipe_accept(p->listener)))
				h->channel(p, mp, h->arg);
		}
		if (listen_fd >= 0) {
			fds[n++] = (struct pollfd){ .fd = listen_fd, .events = POLLIN };
		}
		if (p->s)
			fds[n++] = (struct pollfd){ .fd = shm_fd(p->s), .events = POLLIN };
		for (unsigned int i = 0; i < p->npairs; i++) {
			struct pair *q = p->pairs[i];
			short in_ev = (!q->up_len && !q->local_eof) ? POLLIN : 0;
			fds[n++] = (struct pollfd){ .fd = q->in_fd, .events = in_ev };
			if (q->down_len)
				fds[n++] = (struct pollfd){ .fd = q->out_fd, .events = POLLOUT };
			if (q->peer_fd >= 0)
				fds[n++] = (struct pollfd){ .fd = q->peer_fd,
							     .events = (short)(POLLIN | (q->up_len ? POLLOUT : 0)) };
		}
		if (poll(fds, n, 1000) < 0 && errno != EINTR)
			return;
		if (listen_fd >= 0 && (fds[0].revents & POLLIN)) {
			int c = accept(listen_fd, NULL, NULL);
			if (c >= 0)
				h->tcp_client(p, c, h->arg);
		}
	}
}

struct forward_cfg {
	const char *peer; /* a domain name or a domid */
	const char *name;
	bool have_fallback;
	struct sockaddr_in fallback;
};

static void forward_client(struct proxy *p, int c, void *arg)
{
	const struct forward_cfg *f = arg;
	struct mempipe_opts o = { .timeout_ms = 5000 };
	struct mempipe *mp = p->s ? mempipe_connect_peer(p->s, f->peer, f->name, &o) : NULL;
	int one = 1;

	setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (mp) {
		add_pair(p, c, c, mp, -1);
		return;
	}
	int err = p->s ? errno : ENODEV;
	if (!f->have_fallback) {
		fprintf(stderr, "mempipe: no channel to %s in domain %s (%s), no fallback: dropping a client\n",
			f->name, f->peer, strerror(err));
		close(c);
		return;
	}
	int fd = tcp_connect(&f->fallback);
	if (fd < 0) {
		fprintf(stderr, "mempipe: no channel (%s) and the fallback refused too (%s)\n", strerror(err),
			strerror(-fd));
		close(c);
		return;
	}
	fprintf(stderr, "mempipe: no channel to %s in domain %s (%s): this client goes over TCP\n", f->name,
		f->peer, strerror(err));
	add_pair(p, c, c, NULL, fd);
}

static void expose_accepted(struct proxy *p, struct mempipe *mp, void *arg)
{
	int fd = tcp_connect(arg);

	if (fd < 0) {
		fprintf(stderr, "mempipe: the local service refused a connection: %s\n", strerror(-fd));
		mempipe_close(mp);
		return;
	}
	add_pair(p, fd, fd, mp, -1);
}

static int usage(void)
{
	fprintf(stderr, "usage: mempipe expose NAME HOST:PORT\n"
			"       mempipe forward PORT PEER NAME [--fallback IP:PORT] [--bind ADDR]\n"
			"       mempipe listen NAME\n"
			"       mempipe connect PEER NAME\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct proxy p = { 0 };
	struct mempipe_opts forever = { .timeout_ms = -1 };
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	if (argc < 3)
		return usage();
	p.s = shm_init(0);
	if (!strcmp(argv[1], "forward") && argc >= 5) {
		struct forward_cfg f = { .peer = argv[3], .name = argv[4] };
		struct sockaddr_in bind_to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
		int one = 1, l;
		bind_to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		for (int i = 5; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "--fallback") && !parse_addr(argv[i + 1], &f.fallback))
				f.have_fallback = true;
			else if (!strcmp(argv[i], "--bind") && inet_pton(AF_INET, argv[i + 1], &bind_to.sin_addr) == 1)
				;
			else
				return usage();
		}
		if (!p.s)
			fprintf(stderr, "mempipe: no xenshm connection (%s): every client goes over TCP\n",
				strerror(errno));
		l = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l < 0 || bind(l, (struct sockaddr *)&bind_to, sizeof(bind_to)) || listen(l, 16)) {
			perror("mempipe: forward");
			return 1;
		}
		fprintf(stderr, "mempipe: forwarding port %s to channel %s of domain %s\n", argv[2], f.name, f.peer);
		struct handlers h = { .tcp_client = forward_client, .arg = &f };
		p.reopen = p.s != NULL;
		loop(&p, l, &h);
	} else if (!strcmp(argv[1], "expose") && argc == 4) {
		struct sockaddr_in target;
		struct mempipe *l;
		if (!p.s || parse_addr(argv[3], &target)) {
			fprintf(stderr, "mempipe: %s\n", p.s ? "bad HOST:PORT" : strerror(errno));
			return 1;
		}
		l = mempipe_listen(p.s, argv[2], &forever);
		if (!l) {
			fprintf(stderr, "mempipe: listen %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		fprintf(stderr, "mempipe: channel %s leads to %s\n", argv[2], argv[3]);
		struct handlers h = { .channel = expose_accepted, .arg = &target };
		p.listener = l;
		p.listen_name = argv[2];
		p.reopen = true;
		loop(&p, -1, &h);
		mempipe_close(p.listener);
	} else if (!strcmp(argv[1], "listen") && argc == 3 && p.s) {
		struct mempipe *l = mempipe_listen(p.s, argv[2], &forever), *mp = NULL;
		if (l)
			mp = mempipe_accept(l);
		mempipe_close(l);
		if (!mp) {
			fprintf(stderr, "mempipe: listen %s: %s\n", argv[2], strerror(errno));
			rc = 1;
		} else {
			p.one_shot = true;
			add_pair(&p, 0, 1, mp, -1);
			loop(&p, -1, NULL);
		}
	} else if (!strcmp(argv[1], "connect") && argc == 4 && p.s) {
		struct mempipe_opts o = { .timeout_ms = 10000 };
		struct mempipe *mp = mempipe_connect_peer(p.s, argv[2], argv[3], &o);
		if (!mp) {
			fprintf(stderr, "mempipe: connect %s/%s: %s\n", argv[2], argv[3], strerror(errno));
			rc = 1;
		} else {
			p.one_shot = true;
			add_pair(&p, 0, 1, mp, -1);
			loop(&p, -1, NULL);
		}
	} else {
		if (!p.s && (!strcmp(argv[1], "listen") || !strcmp(argv[1], "connect")))
			fprintf(stderr, "mempipe: %s\n", strerror(errno));
		rc = usage();
	}
	while (p.npairs)
		drop_pair(&p, 0);
	shm_exit(p.s);
	return rc;
}
