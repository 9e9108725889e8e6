// SPDX-License-Identifier: GPL-2.0-only
/*
 * xenshmd: the dom0 daemon that hands out shared memory to guests.
 *
 *   xenshmd [-f] [-p PIDFILE] [--budget-kb N] [--quota-kb N] [--store-dir DIR] [--spill-dir DIR]
 *           [--memflex-poll-us N] [--relay-poll-us N] [--memflex-persistent-grants N]
 *
 * MemFlex disks keep their memory tier in --store-dir (tmpfs, default
 * /dev/shm, so that a restarted xenshmd finds it) and their disk tier in
 * --spill-dir (default /var/lib/xenshm; "none" for no disk tier).
 * --memflex-poll-us N: after answering a disk, watch its ring N us (at most
 * 100000) for the next request before asking the guest to kick (default 0:
 * never; it spins a dom0 CPU while a guest swaps, backend/spin.h).
 * --relay-poll-us N: after a MemPipe relay pass while channels carry data,
 * watch their tx rings N us for the next bytes instead of a 1 ms poll
 * (default 0; it spins a dom0 CPU while channels are busy).
 * --memflex-persistent-grants N: offer persistent grants; a disk whose
 * frontend agrees keeps up to N of its grants mapped and copies through them
 * with memcpy (1056 is blkback's count; default 0: not offered, every segment
 * grant-copied; backend/pgrant.h).
 * -f stays in the foreground and logs to stderr; otherwise it detaches and
 * logs to syslog.  SIGTERM/SIGINT: give every grant back and exit 0.
 * Before serving it checks its environment and says what to change.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon.h"
#include "envcheck.h"
#include "pool.h"

/* Persistent grants are not offered unless asked for: measured in the lab they did not speed
 * swap up and they cost the guest blkfront's 4 MiB pool (docs/bench/memflex.md); QEMU's qdisk
 * and tapdisk, userspace backends as this one is, grant-copy too. */
#define XSHMD_PGRANTS_DEFAULT 0u
#define XSHMD_PGRANTS_MAX 65536u

static bool use_syslog;

static void log_msg(int level, const char *msg)
{
	if (use_syslog)
		syslog(level, "%s", msg);
	else
		fprintf(stderr, "xenshmd: %s\n", msg);
}

static void logf_(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(int level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(level, buf);
}

static void report_problem(void *arg, bool fatal, const char *what, const char *fix)
{
	(void)arg;
	logf_(fatal ? LOG_ERR : LOG_WARNING, "%s: %s", what, fix);
}

/* Problems that would make every guest request fail, each with the fix.  A handle of its own:
 * libxenstore's watch thread would not survive the fork of daemon(). */
static int check_environment(uint64_t budget_pages)
{
	struct xo *x;
	int rc = xo_real_open(&x, XO_OPEN_XS | XO_OPEN_CTRL);

	if (rc) {
		logf_(LOG_ERR, "cannot open XenStore or the hypervisor interface (%s): start xenstored "
			       "('systemctl start xenstored') and load xen-privcmd",
		      strerror(-rc));
		return rc;
	}
	rc = xshm_env_check(x, "", budget_pages, report_problem, NULL) ? -ENODEV : 0;
	xo_close(x);
	return rc;
}

static int write_pidfile(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -errno;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f) ? -errno : 0;
}

static void usage(void)
{
	fprintf(stderr, "usage: xenshmd [-f] [-p PIDFILE] [--budget-kb N] [--quota-kb N] [--store-dir DIR]\n"
			"               [--spill-dir DIR|none] [--memflex-poll-us N]\n"
			"               [--relay-poll-us N] [--memflex-persistent-grants N]\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "budget-kb", required_argument, NULL, 'b' },
		{ "quota-kb", required_argument, NULL, 'q' },
		{ "store-dir", required_argument, NULL, 's' },
		{ "spill-dir", required_argument, NULL, 'S' },
		{ "memflex-poll-us", required_argument, NULL, 'P' },
		{ "relay-poll-us", required_argument, NULL, 'R' },
		{ "memflex-persistent-grants", required_argument, NULL, 'G' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct xshmd_config cfg = { .budget_pages = 65536, .quota_pages = 16384, .log = log_msg,
				    .memflex_pgrants = XSHMD_PGRANTS_DEFAULT };
	const char *pidfile = NULL, *spill_dir = "/var/lib/xenshm";
	bool foreground = false;
	struct xshmd *d = NULL;
	struct xo *x = NULL;
	int c, rc, sfd = -1, status = 1;
	int64_t v;

	while ((c = getopt_long(argc, argv, "fp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': foreground = true; break;
		case 'p': pidfile = optarg; break;
		case 'b':
		case 'q':
			v = xshm_parse_kb_pages(optarg, 1ull << 42);
			if (v < 0) {
				fprintf(stderr, "xenshmd: --%s wants KiB as a multiple of 4, got '%s'\n",
					c == 'b' ? "budget-kb" : "quota-kb", optarg);
				return 2;
			}
			*(c == 'b' ? &cfg.budget_pages : &cfg.quota_pages) = (uint64_t)v;
			break;
		case 's': cfg.memflex_mem_dir = optarg; break;
		case 'S': spill_dir = strcmp(optarg, "none") ? optarg : NULL; break;
		case 'P':
		case 'R': {
			unsigned long long us;
			if (xo_parse_uint(optarg, 100000, &us)) {
				fprintf(stderr, "xenshmd: --%s wants 0 .. 100000, got '%s'\n",
					c == 'P' ? "memflex-poll-us" : "relay-poll-us", optarg);
				return 2;
			}
			*(c == 'P' ? &cfg.memflex_poll_us : &cfg.relay_poll_us) = (unsigned int)us;
			break;
		}
		case 'G': {
			unsigned long long n;
			if (xo_parse_uint(optarg, XSHMD_PGRANTS_MAX, &n)) {
				fprintf(stderr, "xenshmd: --memflex-persistent-grants wants 0 .. %u, got '%s'\n",
					XSHMD_PGRANTS_MAX, optarg);
				return 2;
			}
			cfg.memflex_pgrants = (unsigned int)n;
			break;
		}
		case 'h': usage(); return 0;
		default: usage(); return 2;
		}
	}
	if (spill_dir && mkdir(spill_dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "xenshmd: cannot create the spill directory %s: %s; MemFlex disks get no disk tier\n",
			spill_dir, strerror(errno));
		spill_dir = NULL;
	}
	cfg.memflex_spill_dir = spill_dir;
	if (check_environment(cfg.budget_pages))
		return 1;
	/* Detach before opening Xen handles: libxenstore's watch thread does not survive fork. */
	if (!foreground) {
		if (daemon(0, 0)) {
			perror("xenshmd: daemon");
			return 1;
		}
		use_syslog = true;
		openlog("xenshmd", LOG_PID, LOG_DAEMON);
	}
	if (pidfile && (rc = write_pidfile(pidfile))) {
		logf_(LOG_ERR, "cannot write %s: %s", pidfile, strerror(-rc));
		goto out;
	}
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	rc = xo_real_open(&x, XO_OPEN_ALL);
	if (rc) {
		logf_(LOG_ERR, "cannot open Xen (%s): is xenstored running and are the xen-* modules loaded?",
		      strerror(-rc));
		goto out;
	}
	rc = xshmd_new(x, &cfg, &d);
	if (rc) {
		logf_(LOG_ERR, "cannot watch XenStore: %s", strerror(-rc));
		goto out;
	}
	logf_(LOG_INFO, "serving: budget %llu KiB, default quota %llu KiB",
	      (unsigned long long)cfg.budget_pages * 4, (unsigned long long)cfg.quota_pages * 4);
	for (;;) {
		struct pollfd fds[3];
		int n = xshmd_pollfds(d, fds);
		fds[n].fd = sfd;
		fds[n].events = POLLIN;
		rc = xshmd_poll(fds, (nfds_t)n + 1, xshmd_timeout_ms(d));
		if (rc) {
			logf_(LOG_ERR, "poll: %s", strerror(-rc));
			goto out;
		}
		if (fds[n].revents & POLLIN) {
			logf_(LOG_INFO, "signal: giving everything back and exiting");
			status = 0;
			goto out;
		}
		rc = xshmd_step(d, fds);
		if (rc) {
			logf_(LOG_ERR, "XenStore connection failed: %s", strerror(-rc));
			goto out;
		}
	}
out:
	xshmd_free(d);
	xo_close(x);
	if (sfd >= 0)
		close(sfd);
	if (pidfile)
		unlink(pidfile);
	return status;
}
