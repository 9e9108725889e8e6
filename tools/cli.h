/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The `xenshm` admin CLI over a Xen handle: tools/xenshm.c runs it on the
 * real layer, the unit tests on the fake.  Everything it changes is a
 * dom0-owned XenStore node that xenshmd watches, so the CLI and
 * `xenstore-write` are two fronts for the same settings.
 *
 * Exit codes: 0 done, 1 failed, 2 usage, 3 no such domain or device,
 * 4 (`check`) warnings only.
 */
#ifndef XENSHM_TOOLS_CLI_H
#define XENSHM_TOOLS_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "xenshm/xenops.h"

enum { XSHM_CLI_OK = 0, XSHM_CLI_FAIL = 1, XSHM_CLI_USAGE = 2, XSHM_CLI_NOTFOUND = 3,
       XSHM_CLI_WARN = 4 };

/* argv[0] is the command ("status", "set", ...). `root` prefixes /dev and /sys for `check`. */
int xshm_cli(struct xo *x, int argc, char **argv, FILE *out, FILE *err, const char *root);

/* s as a JSON string, escaped; NULL as null. */
void xshm_json_str(FILE *out, const char *s);
/* The number of one `key=value` word of a MemFlex stats node, or -1. */
long long xshm_stats_word(const char *stats, const char *key);

/* A domid or a domain name (as /local/domain/N/name says): 0 or -ESRCH. */
int xshm_cli_resolve(struct xo *x, const char *arg, xo_domid_t *out);

/*
 * `xenshm create FILE [xl create options]` (cli_create.c): check xenshm's keys in the domain's
 * xl config, `xl create -p`, create the devices and disks, `xl unpause`; on any error after
 * the domain exists, `xl destroy` it.  The xl run is $XENSHM_XL if set (tests), else xl.
 */
int xshm_cli_create(struct xo *x, int argc, char **argv, FILE *out, FILE *err);

/* Most arguments xenshm passes on to one xl command. */
#define XSHM_XL_ARGS_MAX 32
/* The xl to run: $XENSHM_XL if set (tests), else xl. */
const char *xshm_cli_xl(void);
/* Run argv[0] (on $PATH) with argv: its exit status, or -errno if it could not run. */
int xshm_cli_spawn(const char *const *argv, FILE *err);
/* Run xl with args (at most XSHM_XL_ARGS_MAX, NULL-terminated), as xshm_cli_spawn. */
int xshm_cli_run_xl(const char *const *args, FILE *err);

/*
 * A domain leaving its domid (cli_move.c).  Each first asks the guest's programs to let go of
 * its xenshm devices (a mapping kept across a suspend corrupts the guest) and gives up, the
 * domain running on, if they do not.
 * `xenshm save DOM FILE [xl save options]`: mark the domain's MemFlex stores to be kept when it
 * dies at the end of the save, note its disks and devices in FILE.xenshm, `xl save`.
 * `xenshm restore FILE [xl restore options]`: `xl restore -p`, the disks again (xenshmd takes
 * the kept stores back by the domain's UUID) and fresh devices, unpause.
 * `xenshm migrate DOM [HOST] [--release-ms MS] [--ssh CMD] [xl migrate options]`: to this host
 * (no HOST, or localhost) as save + restore without the file; to another, `xl migrate` and the
 * devices made there with `CMD HOST xenshm attach`; a domain with MemFlex disks stays here.
 */
int xshm_cli_save(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err);
int xshm_cli_restore(struct xo *x, int argc, char **argv, FILE *out, FILE *err);
int xshm_cli_migrate(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *out, FILE *err);

/* `xenshm top [--interval S] [--count N] [--json]` (cli_top.c): live rows until interrupted. */
int xshm_cli_top(struct xo *x, int argc, char **argv, FILE *out, FILE *err);

/* `xenshm schema-check [--json]` (cli_schema.c): the live XenStore against the built-in schema.
 * XSHM_CLI_OK when every node is described, permitted and valued as the schema says. */
int xshm_cli_schema_check(struct xo *x, bool json, FILE *out, FILE *err);

/* MemFlex disks (cli_memflex.c).  attach: argv is "attach DOM --memflex SIZE [--mem SIZE]
 * [--vdev NAME]"; detach: every disk of the guest, or the one named. */
int xshm_cli_memflex_attach(struct xo *x, xo_domid_t domid, int argc, char **argv, FILE *err);
int xshm_cli_memflex_detach(struct xo *x, xo_domid_t domid, const char *vdev, FILE *err);
/* Print the guest's disks (JSON objects continue a list unless first); returns how many. */
unsigned int xshm_cli_memflex_show(struct xo *x, xo_domid_t domid, bool json, bool first, FILE *out);
/* Every guest's disks: a table, or a JSON member "disks":[...]; returns how many. */
unsigned int xshm_cli_memflex_all(struct xo *x, bool json, FILE *out);

#endif
