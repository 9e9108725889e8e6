// SPDX-License-Identifier: GPL-2.0-only
/* The xenshmd fixture (see daemon_env.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <check.h>

#include "../../dom0/devdirs.h"
#include "xenshm/xspaths.h"
#include "daemon_env.h"

/*
 * xenshmd's warnings, kept for host_logged().  The log callback takes no argument, so this one
 * buffer is process-wide (each Check test runs in its own process, or one after another).
 */
static struct {
	pthread_mutex_t lock;
	char text[8192];
	size_t len;
} warnings = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Notices and worse, kept for host_log_count(), under warnings.lock. */
static struct {
	char text[65536];
	size_t len;
} notices;

static void keep(char *text, size_t size, size_t *len, const char *msg)
{
	int n = snprintf(text + *len, size - *len, "%s\n", msg);

	if (n > 0 && *len + (size_t)n < size)
		*len += (size_t)n;
}

static void quiet(int level, const char *msg)
{
	if (level > LOG_NOTICE)
		return;
	pthread_mutex_lock(&warnings.lock);
	keep(notices.text, sizeof(notices.text), &notices.len, msg);
	if (level <= LOG_WARNING)
		keep(warnings.text, sizeof(warnings.text), &warnings.len, msg);
	pthread_mutex_unlock(&warnings.lock);
}

unsigned int host_log_count(const char *needle)
{
	unsigned int n = 0;

	pthread_mutex_lock(&warnings.lock);
	for (const char *p = notices.text; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	pthread_mutex_unlock(&warnings.lock);
	return n;
}

bool host_logged(const char *needle)
{
	pthread_mutex_lock(&warnings.lock);
	bool found = strstr(warnings.text, needle) != NULL;
	pthread_mutex_unlock(&warnings.lock);
	return found;
}

static uint64_t fake_now(void *arg)
{
	struct host *h = arg;

	return __atomic_load_n(&h->clock_ms, __ATOMIC_ACQUIRE);
}

void host_advance(struct host *h, uint64_t ms)
{
	__atomic_add_fetch(&h->clock_ms, ms, __ATOMIC_ACQ_REL);
}

static void *daemon_loop(void *arg)
{
	struct host *h = arg;

	while (!__atomic_load_n(&h->stop, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&h->paused, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&h->parked, 1, __ATOMIC_RELEASE);
			usleep(1000);
			continue;
		}
		__atomic_store_n(&h->parked, 0, __ATOMIC_RELEASE);
		struct pollfd fds[2];
		int n = xshmd_pollfds(h->d, fds);
		xshmd_poll(fds, (nfds_t)n, 20);
		xshmd_step(h->d, fds);
		__atomic_add_fetch(&h->steps, 1, __ATOMIC_ACQ_REL);
	}
	return NULL;
}

void daemon_sync(struct host *h)
{
	/* The step under way may have read the clock before the caller moved it: wait for the next. */
	unsigned long want = __atomic_load_n(&h->steps, __ATOMIC_ACQUIRE) + 2;

	for (int i = 0; h->running && i < 5000 && __atomic_load_n(&h->steps, __ATOMIC_ACQUIRE) < want; i++)
		usleep(1000);
}

void daemon_new_unthreaded(struct host *h)
{
	struct xshmd_config cfg = { .budget_pages = 4096, .quota_pages = 1024, .log = quiet,
				    .now_ms = fake_now, .now_arg = h, .memflex_mem_dir = h->store_dir,
				    .memflex_spill_dir = h->no_spill ? NULL : h->spill_dir,
				    .memflex_poll_us = h->mf_poll_us, .relay_poll_us = h->relay_poll_us,
				    .memflex_pgrants = h->mf_pgrants };

	ck_assert_int_eq(xshmd_new(h->dmn, &cfg, &h->d), 0);
}

void daemon_start(struct host *h)
{
	daemon_new_unthreaded(h);
	h->stop = 0;
	pthread_create(&h->th, NULL, daemon_loop, h);
	h->running = true;
}

void daemon_pause(struct host *h)
{
	__atomic_store_n(&h->paused, 1, __ATOMIC_RELEASE);
	while (h->running && !__atomic_load_n(&h->parked, __ATOMIC_ACQUIRE))
		usleep(1000);
}

void daemon_resume(struct host *h)
{
	__atomic_store_n(&h->parked, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&h->paused, 0, __ATOMIC_RELEASE);
}

void daemon_stop(struct host *h)
{
	if (!h->running)
		return;
	__atomic_store_n(&h->stop, 1, __ATOMIC_RELEASE);
	pthread_join(h->th, NULL);
	xshmd_free(h->d);
	h->d = NULL;
	h->running = false;
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];

	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

unsigned int files_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	unsigned int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

void host_init(struct host *h, bool start)
{
	pthread_mutex_lock(&warnings.lock);
	warnings.len = 0;
	warnings.text[0] = 0;
	pthread_mutex_unlock(&warnings.lock);
	memset(h, 0, sizeof(*h));
	snprintf(h->store_dir, sizeof(h->store_dir), "/tmp/xenshm-unit-store.XXXXXX");
	snprintf(h->spill_dir, sizeof(h->spill_dir), "/tmp/xenshm-unit-spill.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(h->store_dir));
	ck_assert_ptr_nonnull(mkdtemp(h->spill_dir));
	h->w = xo_fake_world_new();
	ck_assert_int_eq(xo_fake_domain_create(h->w, "g1", &h->g1), 0);
	ck_assert_int_eq(xo_fake_domain_create(h->w, "g2", &h->g2), 0);
	ck_assert_int_eq(xo_fake_open(h->w, 0, &h->dmn), 0);
	ck_assert_int_eq(xo_fake_open(h->w, 0, &h->tool), 0);
	ck_assert_int_eq(xo_fake_open(h->w, h->g1, &h->x1), 0);
	ck_assert_int_eq(xo_fake_open(h->w, h->g2, &h->x2), 0);
	ck_assert_int_eq(xshm_device_create(h->tool, h->g1, 0, 4096), 0);
	ck_assert_int_eq(xshm_device_create(h->tool, h->g2, 0, 4096), 0);
	if (start) {
		daemon_start(h);
		/* Backends go to InitWait on their own, each with a control page granted. */
		ck_assert(wait_be_state(h, h->g1, "2"));
		ck_assert(wait_be_state(h, h->g2, "2"));
	}
}

void host_fini(struct host *h)
{
	daemon_stop(h);
	xo_close(h->x1);
	xo_close(h->x2);
	xo_close(h->tool);
	xo_close(h->dmn);
	xo_fake_world_free(h->w);
	remove_dir(h->store_dir);
	remove_dir(h->spill_dir);
}

char *read_be(struct host *h, xo_domid_t g, int (*build)(char *, size_t, unsigned int, unsigned int))
{
	char path[XSP_MAX], *v = NULL;

	build(path, sizeof(path), g, 0);
	if (xo_read_str(h->tool, XO_TXN_NONE, path, &v))
		return NULL;
	return v;
}

/* Poll (up to 3 s) until the backend state of g reads `want`. */
bool wait_be_state(struct host *h, xo_domid_t g, const char *want)
{
	for (int i = 0; i < 300; i++) {
		char *v = read_be(h, g, xsp_be_state);
		bool ok = v && !strcmp(v, want);
		free(v);
		if (ok)
			return true;
		usleep(10000);
	}
	return false;
}

unsigned int dom0_grants(struct host *h)
{
	struct xo_fake_counts c;

	xo_fake_counts(h->w, 0, &c);
	return c.grants_live;
}

bool wait_grants(struct host *h, unsigned int want)
{
	for (int i = 0; i < 300 && dom0_grants(h) != want; i++)
		usleep(10000);
	return dom0_grants(h) == want;
}

bool wait_absent(struct host *h, const char *path)
{
	for (int i = 0; i < 300; i++) {
		char *v = NULL;
		int rc = xo_read_str(h->tool, XO_TXN_NONE, path, &v);
		free(v);
		if (rc == -ENOENT)
			return true;
		usleep(10000);
	}
	return false;
}
