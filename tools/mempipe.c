// SPDX-License-Identifier: GPL-2.0-only
/*
 * mempipe: MemPipe for programs that know only TCP, and a netcat for
 * channels.  Runs in a guest.
 *
 *   mempipe expose NAME HOST:PORT
 *       listen on channel NAME; every connection is forwarded to the TCP
 *       service HOST:PORT of this guest (e.g. 127.0.0.1:5201 for iperf3 -s)
 *   mempipe forward PORT PEER NAME [--fallback IP:PORT] [--resume IP:PORT] [--bind ADDR]
 *       listen on TCP PORT (127.0.0.1 unless --bind); every client is carried
 *       over a channel to NAME in domain PEER (a domain name, looked up again
 *       for every client so a restored peer is found, or a domid).  When no
 *       channel can be made
 *       (the peer is not on this host, has no listener, or this guest has no
 *       xenshm device) the client goes to IP:PORT over the network instead.
 *   mempipe expose ... --resume-port PORT, with forward ... --resume IP:PORT
 *       (the expose's guest and PORT): every connection is a session that
 *       outlives its channel.  When the channel goes (either guest saved or
 *       migrated, the peer's xenshm gone), the forward reconnects to the expose
 *       over TCP, each side says how many bytes it has received, each resends
 *       what the other lacks (kept until acknowledged), and the connection goes
 *       on over TCP: its client and server see nothing, no byte lost or twice.
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
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/mempipe.h"
#include "xenshm/shm.h"
#include "replay.h"

#define BUF 65536
#define MAX_PAIRS 256

/*
 * A session's channel carries messages whose first byte is their type.  The
 * sender keeps what it sent until the peer acknowledges it (at most
 * KEPT_MAX: then it reads no more from its client), so that a switch to TCP
 * resends exactly the bytes the peer had not received.
 */
enum { MSG_DATA, MSG_END, MSG_ACK, MSG_HELLO };
#define KEPT_MAX (8u << 20)
#define SESSION_PAYLOAD_MAX 16384u
#define ACK_EVERY (512u << 10)
#define RESUME_WAIT_MS 120000 /* a save and restore, or a migration, under emulation */
#define RESUME_RETRY_MS 300
#define RESUME_STEP_MS 2000   /* for a connect, and for the expose's answer */
static const uint8_t resume_magic[8] = { 'M', 'P', 'R', 'E', 'S', 'U', 'M', '1' };
#define RESUME_LEN 24 /* magic, session id (or status), bytes received */
#define RESUME_PENDING_MAX 16

/* One TCP connection (or stdin/stdout) joined to one channel, or to a fallback socket. */
struct pair {
	int in_fd, out_fd;         /* the local side: a socket twice, or stdin and stdout */
	struct mempipe *mp;        /* the channel, or NULL when the peer is reached by TCP */
	int peer_fd;               /* the fallback socket */
	uint8_t up[BUF], down[BUF];
	size_t up_off, up_len, down_off, down_len;
	bool local_eof, peer_eof, dead, peer_shut, local_shut;
	/* A session (see above): on its channel while `session`; after a switch, a plain TCP pair. */
	bool session, resuming, hello_due, peer_closed;
	uint64_t id;
	uint64_t sent, got;       /* payload bytes to and from the peer, over the session's life */
	uint64_t peer_acked;      /* the peer's last ACK: `kept` holds bytes peer_acked..sent */
	uint64_t acked;           /* our last ACK to the peer */
	struct replay kept;       /* sent, not yet acknowledged; after a switch, what the peer lacks,
				   * sent again before anything new */
	uint64_t deadline_ms, retry_ms, stage_ms;
	int resume_fd, resume_stage; /* forward: 0 waiting to try, 1 connecting, 2 awaiting the answer */
	uint8_t hs[RESUME_LEN];
	size_t hs_got;
};

struct proxy {
	struct shm *s;             /* NULL while the host saves this domain (or there is no device) */
	struct pair *pairs[MAX_PAIRS];
	unsigned int npairs;
	bool one_shot;             /* listen/connect: exit when the pair ends */
	bool reopen;               /* forward/expose: open the device again after a release */
	const char *listen_name;   /* expose: the channel to listen on, again after a release */
	struct mempipe *listener;
	bool sessions;             /* forward --resume, expose --resume-port */
	bool forward;              /* this end reconnects a session (the expose waits) */
	struct sockaddr_in resume_to; /* forward: the expose's resume port */
	int resume_listen_fd;      /* expose: where forwards reconnect, or -1 */
	struct pending_hello {
		int fd;
		uint8_t hello[RESUME_LEN];
		size_t got;
		uint64_t deadline_ms;
	} pending[RESUME_PENDING_MAX]; /* expose: reconnections whose hello is not in yet */
	unsigned int npending;
};

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

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
	q->resume_fd = -1;
	replay_init(&q->kept, KEPT_MAX);
	if (mp && p->sessions) {
		q->session = true;
		q->up_off = 1; /* up[0] is the message type */
		q->hello_due = p->forward;
		if (p->forward && getrandom(&q->id, sizeof(q->id), 0) != sizeof(q->id))
			q->id = ((uint64_t)now_ms() << 16) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)q;
	}
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
	if (q->resume_fd >= 0)
		close(q->resume_fd);
	replay_free(&q->kept);
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

/* What came from the peer, on to the local side: true if some went. */
static bool flush_down(struct pair *q)
{
	ssize_t w;

	if (!q->down_len)
		return false;
	w = write(q->out_fd, q->down + q->down_off, q->down_len);
	if (w > 0) {
		q->down_off += (size_t)w;
		q->down_len -= (size_t)w;
		return true;
	}
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		q->dead = true;
	return false;
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
		if (q->kept.len) { /* after a switch to TCP: what the peer lacks, before anything new */
			const uint8_t *at;
			size_t n = replay_peek(&q->kept, 0, &at);
			ssize_t w = peer_write(q, at, n);
			if (w < 0) {
				q->dead = true;
			} else if (w > 0) {
				replay_drop(&q->kept, (size_t)w);
				progress = true;
			}
		} else if (q->up_len) {
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
		if (flush_down(q))
			progress = true;
	}
	if (q->peer_eof && !q->down_len && !q->local_shut) {
		shutdown(q->out_fd, SHUT_WR); /* the peer is done: tell the local side */
		q->local_shut = true;
	}
	if (q->local_eof && !q->up_len && !q->kept.len && !q->peer_shut) {
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
	return !q->dead && !(q->local_eof && !q->up_len && !q->kept.len && q->peer_eof && !q->down_len);
}

/* The session's channel is gone: keep the pair (its client or server) and resume over TCP. */
static void lose_channel(struct proxy *p, struct pair *q, const char *why)
{
	mempipe_close(q->mp);
	q->mp = NULL;
	q->session = false;
	q->resuming = true;
	q->deadline_ms = now_ms() + RESUME_WAIT_MS;
	q->retry_ms = 0;
	fprintf(stderr, "mempipe: session %016llx lost its channel (%s) after %llu bytes sent, %llu received: %s\n",
		(unsigned long long)q->id, why, (unsigned long long)q->sent, (unsigned long long)q->got,
		p->forward ? "reconnecting over TCP" : "waiting for the forward over TCP");
}

/* A control message (type and an optional 64-bit value): 0 once queued, -EAGAIN, or the error. */
static int send_ctl(struct pair *q, uint8_t type, uint64_t value, bool with_value)
{
	uint8_t m[1 + sizeof(value)] = { type };

	memcpy(m + 1, &value, sizeof(value));
	return mempipe_send(q->mp, m, with_value ? sizeof(m) : 1);
}

/*
 * A session on its channel: shovel() with typed messages (message mode: each
 * goes whole or not at all), our sent bytes kept until acknowledged, and a
 * lost channel handed to the resume.  False once the session is finished.
 */
static bool shovel_session(struct proxy *p, struct pair *q)
{
	size_t max_msg = mempipe_max_msg(q->mp);
	/* Messages of a quarter of the ring at most, so that several are in flight. */
	size_t max_payload = max_msg / 4 > SESSION_PAYLOAD_MAX ? SESSION_PAYLOAD_MAX : max_msg / 4;
	bool progress = true;
	int rc;

	if (max_payload < 64) {
		lose_channel(p, q, "its ring carries no useful message");
		return true;
	}
	if (q->hello_due) {
		rc = send_ctl(q, MSG_HELLO, q->id, true);
		if (rc == -EAGAIN)
			return true;
		if (rc) {
			lose_channel(p, q, strerror(-rc));
			return true;
		}
		q->hello_due = false;
	}
	while (progress && !q->dead && q->session) {
		progress = false;
		size_t room = replay_room(&q->kept);
		if (!q->up_len && !q->local_eof && room) {
			ssize_t r = read(q->in_fd, q->up + 1, room < max_payload ? room : max_payload);
			if (r > 0) {
				q->up_off = 1;
				q->up_len = (size_t)r;
				progress = true;
			} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
				q->local_eof = true;
				progress = true;
			}
		}
		if (q->up_len) {
			q->up[0] = MSG_DATA;
			rc = mempipe_send(q->mp, q->up, 1 + q->up_len);
			if (rc == 0) {
				if (replay_add(&q->kept, q->up + 1, q->up_len)) {
					q->dead = true; /* out of memory: cannot promise a resume */
					break;
				}
				q->sent += q->up_len;
				q->up_len = 0;
				progress = true;
			} else if (rc != -EAGAIN) {
				lose_channel(p, q, strerror(-rc));
				return true;
			}
		}
		/* After the peer's END still its ACKs; then its close, once it has all of ours. */
		if (!q->down_len && !q->peer_closed) {
			ssize_t n = mempipe_recv(q->mp, q->down, BUF);
			if (n == -EAGAIN) {
				/* nothing now */
			} else if (n <= 0 && q->peer_eof && q->peer_acked == q->sent) {
				q->peer_closed = true;
			} else if (n <= 0) {
				lose_channel(p, q, n ? strerror((int)-n) : "closed before the end of the session");
				return true;
			} else {
				uint64_t v = 0;
				if (n >= (ssize_t)(1 + sizeof(v)))
					memcpy(&v, q->down + 1, sizeof(v));
				progress = true;
				if (q->down[0] == MSG_DATA && n > 1 && !q->peer_eof) {
					q->down_off = 1;
					q->down_len = (size_t)n - 1;
					q->got += (uint64_t)n - 1;
				} else if (q->down[0] == MSG_END && n == 1) {
					q->peer_eof = true;
				} else if (q->down[0] == MSG_ACK && n == 9 && v >= q->peer_acked && v <= q->sent) {
					replay_drop(&q->kept, (size_t)(v - q->peer_acked));
					q->peer_acked = v;
				} else if (q->down[0] == MSG_HELLO && n == 9 && !q->id && !q->got) {
					q->id = v;
				} else {
					fprintf(stderr, "mempipe: session %016llx: a bad message (type %u, %zd bytes): "
							"closing it\n", (unsigned long long)q->id, q->down[0], n);
					q->dead = true;
				}
			}
		}
		if (flush_down(q))
			progress = true;
		/* Acknowledge what went on to our side: every ACK_EVERY, and all of it at the end
		 * (a send that fails is noticed by the next receive, which loses the channel). */
		if (q->got != q->acked && (q->got - q->acked >= ACK_EVERY || q->peer_eof) &&
		    !send_ctl(q, MSG_ACK, q->got, true)) {
			q->acked = q->got;
			progress = true;
		}
		if (q->local_eof && !q->up_len && !q->peer_shut && !send_ctl(q, MSG_END, 0, false)) {
			q->peer_shut = true;
			progress = true;
		}
	}
	if (q->peer_eof && !q->down_len && !q->local_shut) {
		shutdown(q->out_fd, SHUT_WR);
		q->local_shut = true;
	}
	if (q->dead)
		return false;
	/* Finished when both ends are done and each has acknowledged the other's every byte. */
	return !q->session ||
	       !(q->peer_shut && q->peer_eof && !q->down_len && q->peer_acked == q->sent && q->acked == q->got);
}

/* Go on over TCP: the peer has `their_got` of our bytes; resend the rest first. */
static bool switch_to_tcp(struct pair *q, int fd, uint64_t their_got)
{
	int one = 1;

	if (their_got < q->peer_acked || their_got > q->sent) {
		fprintf(stderr, "mempipe: session %016llx: the peer says it has %llu of our bytes, we kept %llu..%llu: "
				"closing it\n", (unsigned long long)q->id, (unsigned long long)their_got,
			(unsigned long long)q->peer_acked, (unsigned long long)q->sent);
		return false;
	}
	replay_drop(&q->kept, (size_t)(their_got - q->peer_acked));
	q->peer_acked = their_got;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	set_nonblock(fd);
	q->peer_fd = fd;
	q->resuming = false;
	q->peer_shut = false; /* our end of stream, if any, goes again as TCP's */
	fprintf(stderr, "mempipe: session %016llx goes on over TCP: resending %zu bytes, %zu still to be written here\n",
		(unsigned long long)q->id, q->kept.len, q->down_len);
	return true;
}

static void put_u64(uint8_t *at, uint64_t v)
{
	memcpy(at, &v, sizeof(v));
}

static uint64_t get_u64(const uint8_t *at)
{
	uint64_t v;

	memcpy(&v, at, sizeof(v));
	return v;
}

/* Forward: one step of reconnecting a session to the expose's resume port. */
static void resume_step(struct proxy *p, struct pair *q, uint64_t now)
{
	if (now > q->deadline_ms) {
		fprintf(stderr, "mempipe: session %016llx: no way back to the peer within %d s: closing it\n",
			(unsigned long long)q->id, RESUME_WAIT_MS / 1000);
		q->dead = true;
		return;
	}
	/* A peer being saved or migrated answers no SYN: start again rather than wait out TCP's backoff. */
	if (q->resume_stage && now > q->stage_ms + RESUME_STEP_MS)
		goto retry;
	if (q->resume_stage == 0 && now >= q->retry_ms) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (fd >= 0 && (!connect(fd, (struct sockaddr *)&p->resume_to, sizeof(p->resume_to)) ||
				errno == EINPROGRESS)) {
			q->resume_fd = fd;
			q->resume_stage = 1;
			q->stage_ms = now;
			return;
		}
		if (fd >= 0)
			close(fd);
		q->retry_ms = now + RESUME_RETRY_MS;
		return;
	}
	if (q->resume_stage == 1) {
		int err = 0;
		socklen_t len = sizeof(err);
		uint8_t hello[RESUME_LEN];
		memcpy(hello, resume_magic, sizeof(resume_magic));
		put_u64(hello + 8, q->id);
		put_u64(hello + 16, q->got);
		if (getsockopt(q->resume_fd, SOL_SOCKET, SO_ERROR, &err, &len) || err == EINPROGRESS)
			return;
		if (err || write(q->resume_fd, hello, sizeof(hello)) != (ssize_t)sizeof(hello))
			goto retry;
		q->resume_stage = 2;
		q->stage_ms = now;
		q->hs_got = 0;
		return;
	}
	if (q->resume_stage == 2) {
		ssize_t r = read(q->resume_fd, q->hs + q->hs_got, RESUME_LEN - q->hs_got);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0)
			goto retry;
		q->hs_got += (size_t)r;
		if (q->hs_got < RESUME_LEN)
			return;
		int fd = q->resume_fd;
		q->resume_fd = -1;
		q->resume_stage = 0;
		if (memcmp(q->hs, resume_magic, sizeof(resume_magic)) || get_u64(q->hs + 8) != 0) {
			fprintf(stderr, "mempipe: session %016llx: the expose does not know it: closing it\n",
				(unsigned long long)q->id);
			close(fd);
			q->dead = true;
			return;
		}
		if (!switch_to_tcp(q, fd, get_u64(q->hs + 16))) {
			close(fd);
			q->dead = true;
		}
	}
	return;
retry:
	close(q->resume_fd);
	q->resume_fd = -1;
	q->resume_stage = 0;
	q->retry_ms = now + RESUME_RETRY_MS;
}

/* Expose: a forward's hello (session id, bytes it has received) is complete: answer, switch. */
static void resume_answer(struct proxy *p, int fd, const uint8_t *hello)
{
	uint8_t answer[RESUME_LEN];
	struct pair *q = NULL;

	if (!memcmp(hello, resume_magic, sizeof(resume_magic)))
		for (unsigned int i = 0; i < p->npairs && !q; i++)
			if ((p->pairs[i]->session || p->pairs[i]->resuming) && p->pairs[i]->id == get_u64(hello + 8))
				q = p->pairs[i];
	if (q && q->mp) /* the forward saw the channel go first */
		lose_channel(p, q, "the forward reconnected");
	bool ok = q && switch_to_tcp(q, fd, get_u64(hello + 16));
	memcpy(answer, resume_magic, sizeof(resume_magic));
	put_u64(answer + 8, ok ? 0 : 1);
	put_u64(answer + 16, ok ? q->got : 0);
	if (!q)
		fprintf(stderr, "mempipe: a forward asked to resume an unknown session\n");
	/* Before any resent byte: the pair writes to fd only from the next shovel on. */
	bool told = write(fd, answer, sizeof(answer)) == (ssize_t)sizeof(answer);
	if (!ok) {
		close(fd);
		if (q)
			q->dead = true;
	} else if (!told) {
		q->dead = true; /* fd is the pair's now */
	}
}

/* Expose: a connection on the resume port; its hello is read as it comes (pending_step). */
static void resume_accept(struct proxy *p, uint64_t now)
{
	int fd = accept4(p->resume_listen_fd, NULL, NULL, SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (p->npending == RESUME_PENDING_MAX) {
		close(fd); /* the forward tries again */
		return;
	}
	p->pending[p->npending++] = (struct pending_hello){ .fd = fd, .deadline_ms = now + RESUME_STEP_MS };
}

static void pending_step(struct proxy *p, uint64_t now)
{
	for (unsigned int i = 0; i < p->npending;) {
		struct pending_hello *h = &p->pending[i];
		ssize_t r = read(h->fd, h->hello + h->got, sizeof(h->hello) - h->got);
		bool waiting = r > 0 || (r < 0 && (errno == EAGAIN || errno == EINTR));
		if (r > 0)
			h->got += (size_t)r;
		if (h->got == sizeof(h->hello)) {
			resume_answer(p, h->fd, h->hello);
		} else if (waiting && now <= h->deadline_ms) {
			i++;
			continue;
		} else {
			close(h->fd); /* closed, failed, or silent too long */
		}
		p->pending[i] = p->pending[--p->npending];
	}
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
		if (p->pairs[i]->session) {
			lose_channel(p, p->pairs[i++], "this domain is being saved or migrated");
		} else if (p->pairs[i]->mp) {
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
	struct mempipe_opts forever = { .timeout_ms = -1, .message = p->sessions };

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

/* A session between channel and TCP: its bytes already received still go out, nothing else. */
static void hold_while_resuming(struct proxy *p, struct pair *q, uint64_t now)
{
	flush_down(q);
	if (q->dead)
		return;
	if (p->forward) {
		resume_step(p, q, now);
	} else if (now > q->deadline_ms) {
		fprintf(stderr, "mempipe: session %016llx: the forward did not come back within %d s: closing it\n",
			(unsigned long long)q->id, RESUME_WAIT_MS / 1000);
		q->dead = true;
	}
}

static void loop(struct proxy *p, int listen_fd, const struct handlers *h)
{
	for (;;) {
		struct pollfd fds[MAX_PAIRS * 3 + 3 + RESUME_PENDING_MAX];
		nfds_t n = 0, resume_at = 0;

		if (p->s && p->reopen && shm_release_asked(p->s))
			release_all(p);
		else if (!p->s && p->reopen)
			try_reopen(p);

		uint64_t now = now_ms();
		bool resuming = false;
		for (unsigned int i = 0; i < p->npairs;) {
			struct pair *q = p->pairs[i];
			bool alive;
			if (q->session) {
				alive = shovel_session(p, q);
			} else if (q->resuming) {
				hold_while_resuming(p, q, now);
				alive = !q->dead;
			} else {
				alive = shovel(q);
			}
			resuming = resuming || q->resuming;
			if (alive) {
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
		if (p->resume_listen_fd >= 0) {
			resume_at = n;
			fds[n++] = (struct pollfd){ .fd = p->resume_listen_fd, .events = POLLIN };
		}
		for (unsigned int i = 0; i < p->npending; i++)
			fds[n++] = (struct pollfd){ .fd = p->pending[i].fd, .events = POLLIN };
		for (unsigned int i = 0; i < p->npairs; i++) {
			struct pair *q = p->pairs[i];
			/* A session reads its client only while it can keep what it sends. */
			bool reads = !q->up_len && !q->local_eof && !q->resuming &&
				     (!q->session || replay_room(&q->kept));
			fds[n++] = (struct pollfd){ .fd = q->in_fd, .events = reads ? POLLIN : 0 };
			if (q->down_len)
				fds[n++] = (struct pollfd){ .fd = q->out_fd, .events = POLLOUT };
			if (q->peer_fd >= 0)
				fds[n++] = (struct pollfd){ .fd = q->peer_fd,
							     .events = (short)(POLLIN | (q->up_len || q->kept.len ? POLLOUT : 0)) };
			if (q->resume_fd >= 0)
				fds[n++] = (struct pollfd){ .fd = q->resume_fd,
							     .events = q->resume_stage == 1 ? POLLOUT : POLLIN };
		}
		if (poll(fds, n, resuming || p->npending ? RESUME_RETRY_MS : 1000) < 0 && errno != EINTR)
			return;
		if (listen_fd >= 0 && (fds[0].revents & POLLIN)) {
			int c = accept(listen_fd, NULL, NULL);
			if (c >= 0)
				h->tcp_client(p, c, h->arg);
		}
		if (p->resume_listen_fd >= 0 && (fds[resume_at].revents & POLLIN))
			resume_accept(p, now_ms());
		pending_step(p, now_ms());
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
	struct mempipe_opts o = { .timeout_ms = 5000, .message = p->sessions };
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
			"       mempipe expose NAME HOST:PORT --resume-port PORT\n"
			"       mempipe forward PORT PEER NAME [--fallback IP:PORT] [--resume IP:PORT] [--bind ADDR]\n"
			"       mempipe listen NAME\n"
			"       mempipe connect PEER NAME\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct proxy p = { .resume_listen_fd = -1 };
	struct mempipe_opts forever = { .timeout_ms = -1 }, session_opts = { .timeout_ms = -1 };
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
		for (int i = 5; i < argc; i += 2) {
			if (i + 1 >= argc)
				return usage();
			if (!strcmp(argv[i], "--fallback") && !parse_addr(argv[i + 1], &f.fallback))
				f.have_fallback = true;
			else if (!strcmp(argv[i], "--resume") && !parse_addr(argv[i + 1], &p.resume_to))
				p.sessions = p.forward = true;
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
	} else if (!strcmp(argv[1], "expose") && (argc == 4 || (argc == 6 && !strcmp(argv[4], "--resume-port")))) {
		struct sockaddr_in target;
		struct mempipe *l;
		if (!p.s || parse_addr(argv[3], &target)) {
			fprintf(stderr, "mempipe: %s\n", p.s ? "bad HOST:PORT" : strerror(errno));
			return 1;
		}
		if (argc == 6) {
			struct sockaddr_in any = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[5])) };
			int one = 1;
			p.resume_listen_fd = socket(AF_INET, SOCK_STREAM, 0);
			if (p.resume_listen_fd >= 0)
				setsockopt(p.resume_listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
			if (!any.sin_port || p.resume_listen_fd < 0 ||
			    bind(p.resume_listen_fd, (struct sockaddr *)&any, sizeof(any)) || listen(p.resume_listen_fd, 16)) {
				perror("mempipe: expose --resume-port");
				return 1;
			}
			p.sessions = session_opts.message = true;
		}
		l = mempipe_listen(p.s, argv[2], &session_opts);
		if (!l) {
			fprintf(stderr, "mempipe: listen %s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		fprintf(stderr, "mempipe: channel %s leads to %s%s%s\n", argv[2], argv[3],
			p.sessions ? ", sessions resumed over TCP on port " : "", p.sessions ? argv[5] : "");
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
