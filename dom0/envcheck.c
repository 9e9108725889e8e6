// SPDX-License-Identifier: GPL-2.0-only
/* Environment checks with their fixes (see envcheck.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "envcheck.h"

static long read_long(const char *root, const char *path)
{
	char full[512];
	FILE *f;
	long v = -1;

	snprintf(full, sizeof(full), "%s%s", root, path);
	f = fopen(full, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool have_device(const char *root, const char *path)
{
	char full[512];

	snprintf(full, sizeof(full), "%s%s", root, path);
	return access(full, F_OK) == 0;
}

int xshm_env_check(struct xo *x, const char *root, uint64_t budget_pages, xshm_env_report *report,
		   void *arg)
{
	unsigned long long need = budget_pages + XSHM_ENV_GRANT_MARGIN;
	char what[256], fix[512];
	struct xo_hostinfo hi;
	char *v = NULL;
	int fatal = 0;
	long limit;

	if (xo_read_str(x, XO_TXN_NONE, "/local/domain/0/name", &v) < 0 &&
	    xo_read_str(x, XO_TXN_NONE, "/tool", &v) < 0) {
		report(arg, true, "XenStore does not answer", "start xenstored: 'systemctl start xenstored'");
		fatal++;
	}
	free(v);
	if (!have_device(root, "/dev/xen/gntalloc")) {
		snprintf(fix, sizeof(fix),
			 "'modprobe xen-gntalloc limit=%llu', and add xen-gntalloc to /etc/modules-load.d/xenshm.conf",
			 need);
		report(arg, true, "no /dev/xen/gntalloc (module xen-gntalloc not loaded)", fix);
		fatal++;
	}
	if (!have_device(root, "/dev/xen/evtchn")) {
		report(arg, true, "no /dev/xen/evtchn (module xen-evtchn not loaded)", "'modprobe xen-evtchn'");
		fatal++;
	}
	limit = read_long(root, "/sys/module/xen_gntalloc/parameters/limit");
	if (limit >= 0 && (unsigned long long)limit < need) {
		snprintf(what, sizeof(what), "xen-gntalloc limit is %ld pages; a budget of %llu pages needs %llu",
			 limit, (unsigned long long)budget_pages, need);
		snprintf(fix, sizeof(fix),
			 "'echo %llu > /sys/module/xen_gntalloc/parameters/limit' now, and "
			 "'options xen_gntalloc limit=%llu' in /etc/modprobe.d/xenshm.conf for boots to come",
			 need, need);
		report(arg, false, what, fix);
	}
	if (x->ops->host_info && x->ops->host_info(x, &hi) == 0 &&
	    (unsigned long long)hi.max_grant_frames * XO_GRANTS_PER_FRAME < need) {
		unsigned long long frames = (need + XO_GRANTS_PER_FRAME - 1) / XO_GRANTS_PER_FRAME;
		snprintf(what, sizeof(what),
			 "Xen allows dom0 %u grant frames (%u grants); a budget of %llu pages needs %llu frames",
			 hi.max_grant_frames, hi.max_grant_frames * XO_GRANTS_PER_FRAME,
			 (unsigned long long)budget_pages, frames);
		snprintf(fix, sizeof(fix),
			 "add gnttab_max_frames=%llu to GRUB_CMDLINE_XEN_DEFAULT in /etc/default/grub, "
			 "run update-grub and reboot",
			 frames);
		report(arg, false, what, fix);
	}
	return fatal;
}
