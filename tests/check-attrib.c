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
	fwd_own_init(&f->m, f->p, f->ir);
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

/* Restricted classes (interface =, limit =): an outbound service and an
 * inbound one use the same list on the same port; the outbound one has an
 * interface, so its elements sit in a class set named "cls0_4". */
static const char class_text[] =
	"[defaults]\n"
	"inbound = deny\n"
	"outbound = deny\n"
	"\n"
	"[list admins]\n"
	"members = 192.0.2.0/24, 198.51.100.7\n"
	"\n"
	"[service https-in]\n"
	"ports = 443/tcp\n"
	"allow = @admins\n"
	"\n"
	"[service https-up]\n"
	"direction = out\n"
	"ports = 443/tcp\n"
	"allow = @admins\n"
	"interface = up0\n";

static void class_load(struct fixture *f, int nedits,
		       const char *const *const *edits, const int *argcs)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("c.conf", class_text,
						sizeof(class_text) - 1, &o, &f->p, &d), 0);
	for (int i = 0; i < nedits; i++)
		live_edit(f->p, argcs[i], edits[i]);
	ck_assert_int_eq(fwd_compile_at(f->p, NOW, &f->ir, &d), 0);
	fwd_diags_free(&d);
	fwd_own_init(&f->m, f->p, f->ir);
}

/* Count pk packets on the element of class set `set` (of the class going
 * `out` or not, with interface `ifname`, `limit_n`) that holds (addr,
 * port), as the class's rule would. */
static void hit_class(struct fixture *f, bool out, const char *ifname,
		      uint32_t limit_n, const char *src, uint16_t port, uint64_t pk)
{
	uint8_t a[16] = { 0 };
	unsigned alen = strchr(src, ':') ? 16 : 4;

	ck_assert_int_eq(inet_pton(alen == 4 ? AF_INET : AF_INET6, src, a), 1);
	for (size_t k = 0; k < f->ir->nclasses; k++) {
		const struct fwd_ir_class *c = &f->ir->classes[k];
		const struct fwd_ir_set *s = &f->ir->sets[alen == 4 ? c->set4 : c->set6];

		if (c->out != out || strcmp(c->ifname, ifname) != 0 ||
		    c->limit_n != limit_n)
			continue;
		ck_assert(s->counter);
		for (size_t i = 0; i < s->n; i++) {
			const struct fwd_ir_elem *e = &s->elems[i];

			if (e->proto == 6 && e->plo <= port && port <= e->phi &&
			    memcmp(e->lo, a, alen) <= 0 && memcmp(a, e->hi, alen) <= 0) {
				fwd_own_count(&f->m, s, e, pk, pk * 100);
				return;
			}
		}
	}
	ck_abort_msg("no class element for %s port %u", src, port);
}

/* An outbound class's elements count for the outbound service (and its
 * list), not for the inbound service using the same list on the same
 * port; a live outbound edit with an interface counts for that edit, not
 * as "other". Before the fix, attrib.c took every class set for inbound
 * (its name does not start with "out_"). */
START_TEST(outbound_class_is_outbound)
{
	struct fixture f;

	class_load(&f, 1, (const char *const *const[]){
		(const char *const[]){ "allow", "8443/tcp", "to", "203.0.113.50",
				       "on", "up0" } }, (const int[]){ 6 });
	hit_class(&f, true, "up0", 0, "198.51.100.7", 443, 3);
	hit_class(&f, true, "up0", 0, "192.0.2.9", 443, 2);
	hit_class(&f, true, "up0", 0, "203.0.113.50", 8443, 4);
	assert_sum(&f, FWD_OWN_SERVICE, "https-up", 5);
	assert_sum(&f, FWD_OWN_LIST, "admins", 5);
	assert_sum(&f, FWD_OWN_SERVICE, "https-in", 0);
	assert_sum(&f, FWD_OWN_EDIT, "allow 8443/tcp to 203.0.113.50 on up0", 4);
	for (size_t i = 0; i < f.m.nacc; i++)
		ck_assert_msg(f.m.acc[i].kind != FWD_OWN_OTHER, "counted as other");
	fixture_free(&f);
}
END_TEST

/* `fwctl allow 22/tcp limit 3/20s` (from any) puts 0.0.0.0/0 and ::/0
 * into its class's sets: a hit from either family is the edit's. Before
 * the fix, a run-time edit from any owned only elements without an
 * address, so these counted as "other". */
START_TEST(live_limit_edit_is_the_edit)
{
	struct fixture f;

	class_load(&f, 2, (const char *const *const[]){
		(const char *const[]){ "allow", "22/tcp", "limit", "3/20s" },
		(const char *const[]){ "allow", "2222/tcp", "from", "198.18.0.9",
				       "limit", "3/20s" } },
		(const int[]){ 4, 6 });
	hit_class(&f, false, "", 3, "198.18.0.1", 22, 6);
	hit_class(&f, false, "", 3, "2001:db8::1", 22, 1);
	hit_class(&f, false, "", 3, "198.18.0.9", 2222, 2);
	assert_sum(&f, FWD_OWN_EDIT, "allow 22/tcp from any limit 3/20s", 7);
	assert_sum(&f, FWD_OWN_EDIT, "allow 2222/tcp from 198.18.0.9 limit 3/20s", 2);
	for (size_t i = 0; i < f.m.nacc; i++)
		ck_assert_msg(f.m.acc[i].kind != FWD_OWN_OTHER, "counted as other");
	fixture_free(&f);
}
END_TEST

/* What a renderer needs of an owner is recorded when it is made (metrics'
 * direction and verdict labels): a service accepts in its direction, an
 * allow/deny edit accepts or rejects in its own; a list has neither. */
START_TEST(owner_direction_verdict)
{
	struct fixture f;
	const struct fwd_own_acc *a;

	class_load(&f, 2, (const char *const *const[]){
		(const char *const[]){ "deny", "80/tcp", "from", "203.0.113.9" },
		(const char *const[]){ "allow", "53/udp", "to", "198.51.100.53" } },
		(const int[]){ 4, 4 });
	a = owner(&f, FWD_OWN_SERVICE, "https-in");
	ck_assert(a->directed && a->dir == FWD_DIR_IN && a->verdict == FWD_OWN_V_ACCEPT);
	a = owner(&f, FWD_OWN_SERVICE, "https-up");
	ck_assert(a->directed && a->dir == FWD_DIR_OUT && a->verdict == FWD_OWN_V_ACCEPT);
	a = owner(&f, FWD_OWN_EDIT, "deny 80/tcp from 203.0.113.9");
	ck_assert(a->directed && a->dir == FWD_DIR_IN && a->verdict == FWD_OWN_V_REJECT);
	a = owner(&f, FWD_OWN_EDIT, "allow 53/udp to 198.51.100.53");
	ck_assert(a->directed && a->dir == FWD_DIR_OUT && a->verdict == FWD_OWN_V_ACCEPT);
	a = owner(&f, FWD_OWN_LIST, "admins");
	ck_assert(!a->directed && a->verdict == FWD_OWN_V_NONE);
	fixture_free(&f);
}
END_TEST

/* 20000 live allow edits (100k fwctl edits is the case that matters; the
 * indexes make each owner once and find an element's edit by its address,
 * so this is linear): each its own owner, in edit order, after the
 * services and lists; a hit on the last edit's element is the last edit's,
 * and every edit's element hit once counts once for that edit. */
START_TEST(many_edits_one_owner_each)
{
	enum { N = 20000 };
	struct fixture f;
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d;
	char name[FWD_EDIT_STRLEN];

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("a.conf", policy_text,
						sizeof(policy_text) - 1, &o, &f.p, &d), 0);
	for (unsigned i = 0; i < N; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "198.18.%u.%u", i / 250, i % 250 + 1);
		live_edit(f.p, 4, (const char *const[]){ "allow", "9000/tcp", "from",
							  addr });
	}
	ck_assert_int_eq(fwd_compile_at(f.p, NOW, &f.ir, &d), 0);
	fwd_diags_free(&d);
	fwd_own_init(&f.m, f.p, f.ir);
	/* 3 services, 1 list, the [edits] line, then the N live ones */
	ck_assert_uint_eq(f.m.nacc, 5 + N);
	ck_assert_str_eq(f.m.acc[5].name, "allow 9000/tcp from 198.18.0.1");
	snprintf(name, sizeof(name), "allow 9000/tcp from 198.18.%u.%u",
		 (N - 1) / 250, (N - 1) % 250 + 1);
	ck_assert_str_eq(f.m.acc[5 + N - 1].name, name);
	hit(&f, "198.18.79.250", 9000, 2);
	assert_sum(&f, FWD_OWN_EDIT, name, 2);
	ck_assert_uint_eq(f.m.acc[5].packets, 0);
	/* Every live edit's element hit once more: each its own edit's (the
	 * owner found by the element's address, not by a scan of them all). */
	{
		const struct fwd_ir_set *s4 = fwd_ir_set_find(f.ir, "allow4");
		size_t hits = 0;

		ck_assert_ptr_nonnull(s4);
		for (size_t i = 0; i < s4->n; i++)
			if (s4->elems[i].plo == 9000) {
				fwd_own_count(&f.m, s4, &s4->elems[i], 1, 100);
				hits++;
			}
		ck_assert_uint_eq(hits, N);
	}
	for (size_t i = 5; i < 5 + N; i++)
		ck_assert_msg(f.m.acc[i].packets == (i == 5 + N - 1 ? 3 : 1),
			      "%s: %llu packets", f.m.acc[i].name,
			      (unsigned long long)f.m.acc[i].packets);
	for (size_t i = 0; i < f.m.nacc; i++)
		ck_assert_msg(f.m.acc[i].kind != FWD_OWN_OTHER, "counted as other");
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
	tcase_add_test(tc, outbound_class_is_outbound);
	tcase_add_test(tc, live_limit_edit_is_the_edit);
	tcase_add_test(tc, owner_direction_verdict);
	tcase_add_test(tc, many_edits_one_owner_each);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(attrib_suite());
}
