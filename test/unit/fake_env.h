/* SPDX-License-Identifier: GPL-2.0-only */
/* A fake host with dom0 and two guests, each with its own handle: the fixture of the fake's tests. */
#ifndef XENSHM_UNIT_FAKE_ENV_H
#define XENSHM_UNIT_FAKE_ENV_H

#include "xenshm/xenops_fake.h"

struct env {
	struct xo_fake_world *w;
	xo_domid_t g1, g2;
	struct xo *d0, *x1, *x2;
};

void env_init(struct env *e);
void env_fini(struct env *e);

#endif
