// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Element counters -> owners (policy/attrib.c), what `fwctl stats` sums:
 * a policy is loaded and compiled, counters are put on elements of the IR
 * it gives (found by the packet they match, as the kernel would count
 * them), and the sums per service, list and edit are checked.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "attrib.h"
#include "edit.h"
#include "ir.h"
#include "policy.h"
#include "testutil.h"

#define NOW 1000000u

static const char policy_text[] =
	"[defaults]\n"
	"inbound = deny\n"
	"\n"
	"[list admins]\n"
	"members = 192.0.2.0/24, 198.51.100.7\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @admins\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp\n"
	"allow = any\n"
	"\n"
	"[service mail]\n"
	"ports = 25/tcp\n"
	"allow = 203.0.113.25\n"
	"\n"
	"[edits]\n"
	"allow = 8443/tcp from 203.0.113.9\n";

struct fixture {
	struct fwd_policy *p;
	struct fwd_ir *ir;
	struct fwd_own_map m;
};

/* A live edit as fwctl sends it: no file, no line. */
static void live_edit(struct fwd_policy *p, int argc, const char *const *argv)
{
	struct fwd_edit *e = NULL;
	size_t n = 0;
	char err[256] = "";

	ck_assert_msg(fwd_edit_parse(argc, argv, NOW, NULL, &e, &n, err,
				     sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fwd_policy_add_edit(p, &e[i], err, sizeof(err)) == 0,
			      "%s", err);
	free(e);
}

static void fixture_load(struct fixture *f, bool with_live)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("a.conf", policy_text,
						sizeof(policy_text) - 1, &o, &f->p, &d), 0);
	if (with_live) {
		live_edit(f->p, 4, (const char *const[]){ "allow", "9000/tcp", "from",
							  "203.0.113.20" });
		live_edit(f->p, 3, (const char *const[]){ "list-add", "admins",
							  "198.51.100.99" });
	}
	ck_assert_int_eq(fwd_compile_at(f->p, NOW, &f->ir, &d), 0);
	fwd_diags_free(&d);
	fwd_own_init(&f->m, f->p);
}

static void fixture_free(struct fixture *f)
{
	fwd_own_free(&f->m);
	fwd_ir_free(f->ir);
	fwd_policy_free(f->p);
}

/* The counted element that a new TCP connection from src to port hits (the
 * first counted set that holds it, as the input chain's lookups go), and
 * count pk packets of 100 bytes on it. */
static void hit(struct fixture *f, const char *src, uint16_t port, uint64_t pk)
{
	uint8_t a[16] = { 0 };
	unsigned alen = strchr(src, ':') ? 16 : 4;

	ck_assert_int_eq(inet_pton(alen == 4 ? AF_INET : AF_INET6, src, a), 1);
	for (size_t i = 0; i < f->ir->nsets; i++) {
		const struct fwd_ir_set *s = &f->ir->sets[i];
		unsigned slen = fwd_ir_key_addr_len(s->key);

		if (!s->counter || strncmp(s->name, "allow", 5) != 0 ||
		    (slen && slen != alen))
			continue;
		for (size_t k = 0; k < s->n; k++) {
			const struct fwd_ir_elem *e = &s->elems[k];

			if (e->proto != 6 || port < e->plo || port > e->phi)
				continue;
			if (slen && (memcmp(a, e->lo, slen) < 0 ||
				     memcmp(a, s->interval ? e->hi : e->lo, slen) > 0))
				continue;
			fwd_own_count(&f->m, s, e, pk, pk * 100);
			return;
		}
	}
	/* "open": proto . port, no address */
	for (size_t i = 0; i < f->ir->nsets; i++) {
		const struct fwd_ir_set *s = &f->ir->sets[i];

		if (!s->counter || strcmp(s->name, "open") != 0)
			continue;
		for (size_t k = 0; k < s->n; k++)
			if (s->elems[k].proto == 6 && s->elems[k].plo <= port &&
			    port <= s->elems[k].phi) {
				fwd_own_count(&f->m, s, &s->elems[k], pk, pk * 100);
				return;
			}
	}
	ck_abort_msg("no counted element for %s port %u", src, port);
}

static const struct fwd_own_acc *owner(const struct fixture *f,
				       enum fwd_own_kind kind, const char *name)
{
	for (size_t i = 0; i < f->m.nacc; i++)
		if (f->m.acc[i].kind == kind && strcmp(f->m.acc[i].name, name) == 0)
			return &f->m.acc[i];
	ck_abort_msg("no %s '%s' in the map", fwd_own_kind_name[kind], name);
	return NULL;
}

static void assert_sum(const struct fixture *f, enum fwd_own_kind kind,
		       const char *name, uint64_t pk)
{
	const struct fwd_own_acc *a = owner(f, kind, name);

	ck_assert_msg(a->packets == pk && a->bytes == pk * 100,
		      "%s %s: %llu packets %llu bytes, expected %llu and %llu",
		      fwd_own_kind_name[kind], name, (unsigned long long)a->packets,
		      (unsigned long long)a->bytes, (unsigned long long)pk,
		      (unsigned long long)(pk * 100));
}

/* Every service, list and allow edit shows at zero before any traffic,
 * and nothing else does. */
START_TEST(every_owner_shows)
{
	struct fixture f;

	fixture_load(&f, false);
	ck_assert_uint_eq(f.m.nacc, 5);
	assert_sum(&f, FWD_OWN_SERVICE, "ssh", 0);
	assert_sum(&f, FWD_OWN_SERVICE, "web", 0);
	assert_sum(&f, FWD_OWN_SERVICE, "mail", 0);
	assert_sum(&f, FWD_OWN_LIST, "admins", 0);
	ck_assert_uint_eq(owner(&f, FWD_OWN_EDIT, "allow 8443/tcp from 203.0.113.9")->packets, 0);
	fixture_free(&f);
}
END_TEST

/* A service's own address and its open port count for the service only. */
START_TEST(service_elements)
{
	struct fixture f;

	fixture_load(&f, false);
	hit(&f, "203.0.113.25", 25, 3);
	hit(&f, "198.18.0.1", 80, 5);
	assert_sum(&f, FWD_OWN_SERVICE, "mail", 3);
	assert_sum(&f, FWD_OWN_SERVICE, "web", 5);
	assert_sum(&f, FWD_OWN_SERVICE, "ssh", 0);
	assert_sum(&f, FWD_OWN_LIST, "admins", 0);
	fixture_free(&f);
}
END_TEST

/* A list member counts for the list and for the service that uses the
 * list on that port: a single address (hash set) and a CIDR (interval). */
START_TEST(list_member_counts_twice)
{
	struct fixture f;

	fixture_load(&f, false);
	hit(&f, "198.51.100.7", 22, 2);
	hit(&f, "192.0.2.200", 22, 7);
	assert_sum(&f, FWD_OWN_LIST, "admins", 9);
	assert_sum(&f, FWD_OWN_SERVICE, "ssh", 9);
	assert_sum(&f, FWD_OWN_SERVICE, "web", 0);
	fixture_free(&f);
}
END_TEST

/* An [edits] line is found by its line, live edits (no line) by key: an
 * allow for the edit, a list-add member for its list and the list's user. */
START_TEST(edits_by_line_and_by_key)
{
	struct fixture f;

	fixture_load(&f, true);
	hit(&f, "203.0.113.9", 8443, 4);
	hit(&f, "203.0.113.20", 9000, 6);
	hit(&f, "198.51.100.99", 22, 1);
	assert_sum(&f, FWD_OWN_EDIT, "allow 8443/tcp from 203.0.113.9", 4);
	assert_sum(&f, FWD_OWN_EDIT, "allow 9000/tcp from 203.0.113.20", 6);
	assert_sum(&f, FWD_OWN_LIST, "admins", 1);
	assert_sum(&f, FWD_OWN_SERVICE, "ssh", 1);
	fixture_free(&f);
}
END_TEST

/* A live element the IR does not hold (the daemon passes a zero element):
 * "other", never a service's. */
START_TEST(unknown_is_other)
{
	struct fixture f;
	const struct fwd_ir_set *s;

	fixture_load(&f, false);
	s = fwd_ir_set_find(f.ir, "allow4");
	ck_assert_ptr_nonnull(s);
	fwd_own_count(&f.m, s, &(struct fwd_ir_elem){ .proto = 0 }, 8, 800);
	assert_sum(&f, FWD_OWN_OTHER, "other", 8);
	assert_sum(&f, FWD_OWN_SERVICE, "ssh", 0);
	assert_sum(&f, FWD_OWN_LIST, "admins", 0);
	fixture_free(&f);
}
END_TEST

static Suite *attrib_suite(void)
{
	Suite *s = suite_create("attrib");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, every_owner_shows);
	tcase_add_test(tc, service_elements);
	tcase_add_test(tc, list_member_counts_twice);
	tcase_add_test(tc, edits_by_line_and_by_key);
	tcase_add_test(tc, unknown_is_other);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(attrib_suite());
}
