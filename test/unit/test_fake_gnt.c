// SPDX-License-Identifier: GPL-2.0-only
/* The fake grant table and event channels, against gntalloc/gntdev/evtchn semantics. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_env.h"
#include "tests.h"

static struct xo_fake_counts counts(struct env *e, xo_domid_t d)
{
	struct xo_fake_counts c;
	ck_assert_int_eq(xo_fake_counts(e->w, d, &c), 0);
	return c;
}

START_TEST(share_map_same_bytes)
{
	struct env e;
	xo_gref_t refs[4];
	uint8_t *s, *m;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 4, true, refs, (void **)&s), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(s[i * 4096 + 17], 0); /* fresh pages are zeroed */
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 4, refs, true, (void **)&m), 0);
	ck_assert_ptr_ne(s, m);
	s[3 * 4096 + 5] = 0x5a;
	ck_assert_uint_eq(m[3 * 4096 + 5], 0x5a);
	m[100] = 0x33;
	ck_assert_uint_eq(s[100], 0x33);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 4);
	ck_assert_uint_eq(counts(&e, 0).grants_mapped, 4);
	ck_assert_uint_eq(counts(&e, e.g1).maps_held, 4);
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 4), 0);
	ck_assert_int_eq(e.d0->ops->gnt_unshare(e.d0, s, 4), 0);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 0);
	env_fini(&e);
}
END_TEST

START_TEST(map_checks_domain_ref_and_mode)
{
	struct env e;
	xo_gref_t refs[2], bogus[2];
	void *s, *ro, *m;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 2, true, refs, &s), 0);
	/* A grant names one domain: g2 cannot map what was granted to g1. */
	ck_assert_int_eq(e.x2->ops->gnt_map(e.x2, 0, 2, refs, true, &m), -EACCES);
	/* Unknown ref, and all-or-nothing: one bad ref spoils the batch. */
	bogus[0] = refs[0];
	bogus[1] = 99999;
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 2, bogus, true, &m), -EINVAL);
	ck_assert_uint_eq(counts(&e, e.g1).maps_held, 0);
	/* Wrong granter domid. */
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, e.g2, 2, refs, true, &m), -EINVAL);
	/* Read-only grant cannot be mapped writable. */
	xo_gref_t r;
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 1, false, &r, &ro), 0);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, &r, true, &m), -EACCES);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, &r, false, &m), 0);
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 1), 0);
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 1), -EINVAL); /* not mapped any more */
	ck_assert_int_eq(e.d0->ops->gnt_unshare(e.d0, s, 1), -EINVAL); /* wrong count */
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, 0x7ff0, 1, true, &r, &m), -EINVAL);
	env_fini(&e);
}
END_TEST

START_TEST(gntalloc_limit)
{
	struct env e;
	struct xo_fake_limits lim;
	xo_gref_t refs[16];
	void *a, *b;

	env_init(&e);
	xo_fake_get_limits(e.w, &lim);
	lim.gntalloc_limit = 16;
	xo_fake_set_limits(e.w, &lim);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 10, true, refs, &a), 0);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 7, true, refs, &b), -ENOSPC);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 6, true, refs, &b), 0);
	ck_assert_int_eq(e.d0->ops->gnt_unshare(e.d0, a, 10), 0);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 10, true, refs, &a), 0);
	env_fini(&e);
}
END_TEST

START_TEST(unshare_while_mapped_leaks_until_unmap)
{
	struct env e;
	struct xo_fake_limits lim;
	xo_gref_t refs[8];
	uint8_t *s, *m;
	void *again;

	env_init(&e);
	xo_fake_get_limits(e.w, &lim);
	lim.gntalloc_limit = 8;
	xo_fake_set_limits(e.w, &lim);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 8, true, refs, (void **)&s), 0);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 8, refs, true, (void **)&m), 0);
	m[0] = 9;
	ck_assert_int_eq(e.d0->ops->gnt_unshare(e.d0, s, 8), 0);
	/* Xen cannot revoke a mapped grant: the pages stay and count against the limit. */
	ck_assert_uint_eq(counts(&e, 0).grants_live, 8);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 1, true, refs, &again), -ENOSPC);
	ck_assert_uint_eq(m[0], 9); /* the mapper still sees its data */
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, refs, true, &again), -EINVAL); /* no new maps */
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 8), 0);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 0);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 8, true, refs, (void **)&s), 0);
	ck_assert_uint_eq(s[0], 0); /* reused pages come back zeroed */
	env_fini(&e);
}
END_TEST

START_TEST(unmap_notify_byte_and_event)
{
	struct env e;
	xo_gref_t ref;
	xo_port_t p0, p1, fired;
	uint8_t *s, *m;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g1, &p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(e.d0->ops->gnt_share_notify(e.d0, e.g1, true, 8, (int)p0, &ref, (void **)&s), 0);
	ck_assert_int_eq(e.x1->ops->gnt_map_notify(e.x1, 0, ref, true, 9, (int)p1, (void **)&m), 0);
	s[8] = 1; /* host live */
	m[9] = 1; /* guest live */
	/* The guest goes away: its byte is zeroed and dom0's port fires. */
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 1), 0);
	ck_assert_uint_eq(s[9], 0);
	ck_assert_uint_eq(s[8], 1);
	ck_assert_int_eq(e.d0->ops->evtchn_pending(e.d0, &fired), 0);
	ck_assert_uint_eq(fired, p0);
	env_fini(&e);
}
END_TEST

START_TEST(share_notify_on_close)
{
	struct env e;
	xo_gref_t ref;
	xo_port_t p0, p1, fired;
	uint8_t *s, *m;
	struct xo *d0b;

	env_init(&e);
	ck_assert_int_eq(xo_fake_open(e.w, 0, &d0b), 0);
	ck_assert_int_eq(d0b->ops->evtchn_bind_unbound(d0b, e.g1, &p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(d0b->ops->gnt_share_notify(d0b, e.g1, true, 8, (int)p0, &ref, (void **)&s), 0);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, &ref, true, (void **)&m), 0);
	s[8] = 1;
	ck_assert_uint_eq(m[8], 1);
	/* The host process dies (handle closed): like process exit, its shares go with notify. */
	xo_close(d0b);
	ck_assert_uint_eq(m[8], 0);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &fired), 0);
	ck_assert_uint_eq(fired, p1);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 1); /* still mapped by g1 */
	ck_assert_int_eq(e.x1->ops->gnt_unmap(e.x1, m, 1), 0);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 0);
	env_fini(&e);
}
END_TEST

START_TEST(guest_death_releases_mappings)
{
	struct env e;
	xo_gref_t refs[4];
	uint8_t *s, *m;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 4, true, refs, (void **)&s), 0);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 4, refs, true, (void **)&m), 0);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, e.g1), 0);
	ck_assert_uint_eq(counts(&e, 0).grants_mapped, 0);
	ck_assert_uint_eq(counts(&e, e.g1).maps_held, 0);
	/* The dead guest's old view no longer reaches dom0's pages. */
	m[0] = 0x77;
	ck_assert_uint_eq(s[0], 0);
	ck_assert_int_eq(e.d0->ops->gnt_unshare(e.d0, s, 4), 0);
	ck_assert_uint_eq(counts(&e, 0).grants_live, 0);
	env_fini(&e);
}
END_TEST

START_TEST(zombie_until_unmapped)
{
	struct env e;
	xo_gref_t ref;
	void *s, *m;
	struct xo_dominfo info;

	env_init(&e);
	/* The opposite direction: the guest grants, dom0 maps. */
	ck_assert_int_eq(e.x1->ops->gnt_share(e.x1, 0, 1, true, &ref, &s), 0);
	ck_assert_int_eq(e.d0->ops->gnt_map(e.d0, e.g1, 1, &ref, true, &m), 0);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, e.g1), 0);
	ck_assert_int_eq(e.d0->ops->domain_info(e.d0, e.g1, &info), 0);
	ck_assert(info.flags & XO_DOMINFO_DYING); /* a zombie while dom0 maps its page */
	ck_assert_int_eq(e.d0->ops->gnt_unmap(e.d0, m, 1), 0);
	xo_close(e.x1); /* closing the dead handle reaps it */
	e.x1 = NULL;
	ck_assert_int_eq(e.d0->ops->domain_info(e.d0, e.g1, &info), -ESRCH);
	env_fini(&e);
}
END_TEST

START_TEST(grant_fault_injection)
{
	struct env e;
	xo_gref_t ref;
	void *s, *m;

	env_init(&e);
	xo_fake_inject(e.w, XO_FAULT_GNT_SHARE, -ENOMEM, 1);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 1, true, &ref, &s), -ENOMEM);
	ck_assert_int_eq(e.d0->ops->gnt_share(e.d0, e.g1, 1, true, &ref, &s), 0);
	xo_fake_inject(e.w, XO_FAULT_GNT_MAP, -EFAULT, 1);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, &ref, true, &m), -EFAULT);
	ck_assert_int_eq(e.x1->ops->gnt_map(e.x1, 0, 1, &ref, true, &m), 0);
	env_fini(&e);
}
END_TEST

START_TEST(domain_info_dom0_only)
{
	struct env e;
	struct xo_dominfo d[8];
	unsigned int n;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->domain_list(e.d0, d, 8, &n), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(d[0].domid, 0);
	ck_assert_uint_eq(d[1].domid, e.g1);
	ck_assert_uint_eq(d[2].domid, e.g2);
	ck_assert_int_ne(memcmp(d[1].uuid, d[2].uuid, 16), 0);
	ck_assert_int_eq(e.d0->ops->domain_list(e.d0, d, 2, &n), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(e.x1->ops->domain_list(e.x1, d, 8, &n), -EPERM);
	ck_assert_int_eq(e.x1->ops->domain_info(e.x1, 0, d), -EPERM);
	ck_assert_int_eq(xo_fake_domain_set_flags(e.w, e.g2, XO_DOMINFO_PAUSED), 0);
	ck_assert_int_eq(e.d0->ops->domain_info(e.d0, e.g2, d), 0);
	ck_assert(d[0].flags & XO_DOMINFO_PAUSED);
	ck_assert_int_eq(e.d0->ops->domain_info(e.d0, 42, d), -ESRCH);
	char *name = NULL;
	ck_assert_int_eq(xo_domain_name(e.d0, e.g2, &name), 0);
	ck_assert_str_eq(name, "g2");
	free(name);
	ck_assert_int_eq(xo_domain_name(e.d0, 0, &name), 0);
	ck_assert_str_eq(name, "Domain-0");
	free(name);
	ck_assert_int_eq(xo_domain_name(e.d0, 42, &name), -ENOENT);
	env_fini(&e);
}
END_TEST

Suite *fake_gnt_suite(void)
{
	Suite *s = suite_create("fake-grants");
	TCase *tc = tcase_create("gnt");

	tcase_add_test(tc, share_map_same_bytes);
	tcase_add_test(tc, map_checks_domain_ref_and_mode);
	tcase_add_test(tc, gntalloc_limit);
	tcase_add_test(tc, unshare_while_mapped_leaks_until_unmap);
	tcase_add_test(tc, unmap_notify_byte_and_event);
	tcase_add_test(tc, share_notify_on_close);
	tcase_add_test(tc, guest_death_releases_mappings);
	tcase_add_test(tc, zombie_until_unmapped);
	tcase_add_test(tc, grant_fault_injection);
	tcase_add_test(tc, domain_info_dom0_only);
	suite_add_tcase(s, tc);
	return s;
}

/* ---------------------------------------------------------------- event channels */

START_TEST(evtchn_bind_and_notify)
{
	struct env e;
	xo_port_t p0, p1, got;
	struct pollfd pfd;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g1, &p0), 0);
	/* Only the named remote may bind. */
	ck_assert_int_eq(e.x2->ops->evtchn_bind_interdomain(e.x2, 0, p0, &p1), -EINVAL);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), -EINVAL); /* taken */
	pfd.fd = e.x1->ops->evtchn_fd(e.x1);
	pfd.events = POLLIN;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, p0), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), 0);
	ck_assert_uint_eq(got, p1);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), -EAGAIN);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	/* Both directions. */
	ck_assert_int_eq(e.x1->ops->evtchn_notify(e.x1, p1), 0);
	ck_assert_int_eq(e.d0->ops->evtchn_pending(e.d0, &got), 0);
	ck_assert_uint_eq(got, p0);
	ck_assert_int_eq(e.x1->ops->evtchn_notify(e.x1, 777), -EINVAL);
	env_fini(&e);
}
END_TEST

START_TEST(evtchn_masked_until_unmask)
{
	struct env e;
	xo_port_t p0, p1, got;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g1, &p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), 0);
	/* Masked now: further notifies set pending but are not delivered. */
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, p0), 0);
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), -EAGAIN);
	ck_assert_int_eq(e.x1->ops->evtchn_unmask(e.x1, p1), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), 0); /* the pending one, once */
	ck_assert_int_eq(e.x1->ops->evtchn_unmask(e.x1, p1), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_pending(e.x1, &got), -EAGAIN);
	env_fini(&e);
}
END_TEST

START_TEST(evtchn_peer_close_and_death)
{
	struct env e;
	xo_port_t p0, p1, q0, q1, got;

	env_init(&e);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g1, &p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_unbind(e.x1, p1), 0);
	/* The other end is unbound again: notify is a no-op, and the guest may rebind. */
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, p0), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_bind_interdomain(e.x1, 0, p0, &p1), 0);
	ck_assert_int_eq(e.x1->ops->evtchn_unbind(e.x1, p1 + 100), -EINVAL);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g2, &q0), 0);
	ck_assert_int_eq(e.x2->ops->evtchn_bind_interdomain(e.x2, 0, q0, &q1), 0);
	ck_assert_uint_eq(counts(&e, e.g2).ports_bound, 1);
	ck_assert_int_eq(xo_fake_domain_destroy(e.w, e.g2), 0);
	ck_assert_uint_eq(counts(&e, e.g2).ports_bound, 0);
	ck_assert_int_eq(e.d0->ops->evtchn_notify(e.d0, q0), 0);
	ck_assert_int_eq(e.x2->ops->evtchn_pending(e.x2, &got), -ESRCH);
	xo_fake_inject(e.w, XO_FAULT_EVTCHN_BIND, -ENOSPC, 1);
	ck_assert_int_eq(e.d0->ops->evtchn_bind_unbound(e.d0, e.g1, &q0), -ENOSPC);
	env_fini(&e);
}
END_TEST

Suite *fake_evtchn_suite(void)
{
	Suite *s = suite_create("fake-evtchn");
	TCase *tc = tcase_create("evtchn");

	tcase_add_test(tc, evtchn_bind_and_notify);
	tcase_add_test(tc, evtchn_masked_until_unmask);
	tcase_add_test(tc, evtchn_peer_close_and_death);
	suite_add_tcase(s, tc);
	return s;
}
