// SPDX-License-Identifier: GPL-2.0-only
#include <check.h>

#include "fake_env.h"

void env_init(struct env *e)
{
	e->w = xo_fake_world_new();
	ck_assert_ptr_nonnull(e->w);
	ck_assert_int_eq(xo_fake_domain_create(e->w, "g1", &e->g1), 0);
	ck_assert_int_eq(xo_fake_domain_create(e->w, "g2", &e->g2), 0);
	ck_assert_int_eq(xo_fake_open(e->w, 0, &e->d0), 0);
	ck_assert_int_eq(xo_fake_open(e->w, e->g1, &e->x1), 0);
	ck_assert_int_eq(xo_fake_open(e->w, e->g2, &e->x2), 0);
}

void env_fini(struct env *e)
{
	xo_close(e->d0);
	xo_close(e->x1);
	xo_close(e->x2);
	xo_fake_world_free(e->w);
}
