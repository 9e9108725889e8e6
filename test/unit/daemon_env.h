/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * xenshmd on the fake Xen with two guests: the daemon's poll loop runs in
 * its own thread with dom0's handle and a clock the test moves; guests call
 * libxenshm from the test thread.
 */
#ifndef XENSHM_UNIT_DAEMON_ENV_H
#define XENSHM_UNIT_DAEMON_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../../dom0/daemon.h"
#include "xenshm/shm.h"
#include "xenshm/xenops_fake.h"

struct host {
	struct xo_fake_world *w;
	struct xo *dmn, *tool, *x1, *x2;
	xo_domid_t g1, g2;
	struct xshmd *d;
	pthread_t th;
	int stop;
	int paused, parked; /* daemon_pause: the loop parks between steps */
	unsigned long steps; /* steps the loop has completed */
	bool running;
	uint64_t clock_ms; /* the daemon's clock: tests move it */
	char store_dir[64], spill_dir[64]; /* MemFlex tiers, private to this host */
	bool no_spill;                     /* start xenshmd without a disk tier */
	bool no_wait_initwait;             /* test blkfront: connect without waiting for the backend */
	unsigned int mf_poll_us;           /* xenshmd --memflex-poll-us (set before daemon_start) */
	unsigned int relay_poll_us;        /* xenshmd --relay-poll-us (set before daemon_start) */
	unsigned int mf_pgrants;           /* xenshmd --memflex-persistent-grants (before daemon_start) */
};

static const struct shm_opts fast __attribute__((unused)) = { .timeout_ms = 3000 };

/* Two guests with a device each (quota 4096 KiB), xenshmd started if `start`. */
void host_init(struct host *h, bool start);
void host_fini(struct host *h);
void daemon_start(struct host *h);
void daemon_stop(struct host *h);
/* Hold the daemon between two steps (its state kept), and let it go on. */
void daemon_pause(struct host *h);
void daemon_resume(struct host *h);
void host_advance(struct host *h, uint64_t ms);
/* Wait (up to 5 s) until the daemon has run a whole step that began after this call: every
 * window the clock has moved past is decided, and what it decided posted. */
void daemon_sync(struct host *h);
/* A backend key of g's device 0 (NULL if absent; free it). */
char *read_be(struct host *h, xo_domid_t g, int (*build)(char *, size_t, unsigned int, unsigned int));
/* Poll (up to 3 s) until the backend state of g reads `want`. */
/* Did xenshmd log a warning or worse containing `needle` (since the process started)? */
/* xenshmd without its thread: the test calls xshmd_step() itself (xshmd_free when done). */
void daemon_new_unthreaded(struct host *h);
bool host_logged(const char *needle);
/* How many lines of notice level or worse contain `needle` (since the process started). */
unsigned int host_log_count(const char *needle);
bool wait_be_state(struct host *h, xo_domid_t g, const char *want);
unsigned int dom0_grants(struct host *h);
/* Poll (up to 3 s) until `path` is gone from XenStore (read by dom0's tool handle). */
bool wait_absent(struct host *h, const char *path);
bool wait_grants(struct host *h, unsigned int want);
/* Files in a directory (MemFlex store files). */
unsigned int files_in(const char *dir);

#endif
