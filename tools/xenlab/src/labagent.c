// SPDX-License-Identifier: GPL-2.0-only
/*
 * labagent: runs inside each lab guest and executes commands that dom0's
 * `labexec` posts in the guest's XenStore data dir, so lab tests can run a
 * command in a guest and get its exit status and output without a network.
 *
 *   dom0 writes  ~/data/labexec/{cmd,timeout}, then ~/data/labexec/req = SEQ
 *   agent runs   sh -c CMD (stdout+stderr captured), kills it at the timeout
 *   agent writes ~/data/labexec/out/0..N-1 (chunks), out-n, then rc = "SEQ CODE"
 *
 * After a save/restore the guest's data dir is gone and its domid may have
 * changed; the agent watches `domid` and publishes itself again.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xenshm/xenops.h"

#define BASE "data/labexec"
#define CHUNK 1900           /* under the 2048-byte guest value quota */
#define MAX_CHUNKS 256
#define OUT_FILE "/tmp/labexec.out"

static int publish(struct xo *x)
{
	int rc = x->ops->xs_mkdir(x, XO_TXN_NONE, BASE);

	if (!rc)
		rc = xo_write_str(x, XO_TXN_NONE, BASE "/ready", "1");
	if (rc)
		fprintf(stderr, "labagent: cannot publish " BASE ": %s\n", strerror(-rc));
	return rc;
}

static int run(const char *cmd, unsigned int timeout_s)
{
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return 127;
	if (pid == 0) {
		int fd = open(OUT_FILE, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		setsid();
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		int nul = open("/dev/null", O_RDONLY);
		if (nul >= 0)
			dup2(nul, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	time_t deadline = time(NULL) + timeout_s;
	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0)
			return 127;
		if (time(NULL) >= deadline) {
			kill(-pid, SIGKILL);
			waitpid(pid, &status, 0);
			return 124; /* as timeout(1) */
		}
		usleep(20000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

static void send_output(struct xo *x)
{
	char buf[CHUNK], path[64];
	int fd = open(OUT_FILE, O_RDONLY);
	unsigned int n = 0;
	ssize_t got;

	x->ops->xs_rm(x, XO_TXN_NONE, BASE "/out");
	while (fd >= 0 && n < MAX_CHUNKS && (got = read(fd, buf, sizeof(buf))) > 0) {
		snprintf(path, sizeof(path), BASE "/out/%u", n++);
		x->ops->xs_write(x, XO_TXN_NONE, path, buf, (size_t)got);
	}
	if (fd >= 0)
		close(fd);
	xo_printf(x, XO_TXN_NONE, BASE "/out-n", "%u", n);
}

static void serve(struct xo *x, char *last_seq, size_t last_len)
{
	char *seq = NULL, *cmd = NULL, *tmo = NULL;
	unsigned long long timeout_s = 60;

	if (xo_read_str(x, XO_TXN_NONE, BASE "/req", &seq) || !strcmp(seq, last_seq))
		goto out;
	if (xo_read_str(x, XO_TXN_NONE, BASE "/cmd", &cmd))
		goto out;
	if (!xo_read_str(x, XO_TXN_NONE, BASE "/timeout", &tmo))
		xo_parse_uint(tmo, 24 * 3600, &timeout_s);
	snprintf(last_seq, last_len, "%s", seq);
	int code = run(cmd, (unsigned int)timeout_s);
	send_output(x);
	xo_printf(x, XO_TXN_NONE, BASE "/rc", "%s %d", seq, code);
out:
	free(seq);
	free(cmd);
	free(tmo);
}

int main(void)
{
	struct xo *x;
	char last_seq[64] = "";
	int rc = xo_real_open(&x, XO_OPEN_XS);

	if (rc) {
		fprintf(stderr, "labagent: cannot open XenStore: %s\n", strerror(-rc));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (publish(x) || x->ops->xs_watch(x, BASE "/req", "req") || x->ops->xs_watch(x, "domid", "domid")) {
		xo_close(x);
		return 1;
	}
	fprintf(stderr, "labagent: ready\n");
	for (;;) {
		struct pollfd p = { .fd = x->ops->xs_fd(x), .events = POLLIN };
		char *path, *token;

		if (poll(&p, 1, 1000) < 0 && errno != EINTR)
			break;
		while (x->ops->xs_read_watch(x, &path, &token) == 0) {
			if (!strcmp(token, "domid"))
				publish(x); /* after restore: our data dir is new */
			else
				serve(x, last_seq, sizeof(last_seq));
			free(path);
			free(token);
		}
	}
	xo_close(x);
	return 1;
}
