// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The verdict loop's program decision (policy/progrule.c): program =
 * rules read from a real policy text, paths resolved by a fake resolver,
 * packet summaries and owners made up here. No kernel.
 */
#include "testutil.h"

#include "diag.h"
#include "guard.h"
#include "policy.h"
#include "progrule.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char policy_text[] =
	"[defaults]\noutbound = deny\n"
	"[list mirrors]\nmembers = 198.51.100.0/24, 2001:db8:5::/48\n"
	"[service web]\ndirection = out\nports = 443/tcp, 8000-8010/tcp\n"
	"allow = 203.0.113.7, @mirrors\n"
	"program = /usr/bin/fwd-test-curl\n"		/* line 9 */
	"program = /opt/gone\n"				/* line 10: does not resolve */
	"[service dns]\ndirection = out\nports = 53/udp\nallow = any\n"
	"program = /usr/sbin/fwd-test-resolver\n";	/* line 15 */

/* The fake file system: curl is (8, 100), the resolver (8, 200). */
static int fake_resolve(void *arg, const char *path, struct fwd_prog_id *id)
{
	(void)arg;
	if (strcmp(path, "/usr/bin/fwd-test-curl") == 0)
		*id = (struct fwd_prog_id){ 8, 100 };
	else if (strcmp(path, "/usr/sbin/fwd-test-resolver") == 0)
		*id = (struct fwd_prog_id){ 8, 200 };
	else
		return -ENOENT;
	return 0;
}

static struct fwd_progrules *rules(void)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d = { 0 };
	struct fwd_policy *p = NULL;
	struct fwd_progrules *rs = NULL;

	ck_assert_int_eq(fwd_policy_load_buffer("t.conf", policy_text,
						strlen(policy_text), &o, &p, &d), 0);
	ck_assert_int_eq(fwd_progrules_new(p, fake_resolve, NULL, &rs), 0);
	fwd_policy_free(p);	/* the rules keep their own copies */
	fwd_diags_free(&d);
	return rs;
}

static struct fwd_pkt pkt(const char *dst, uint8_t proto, uint16_t dport)
{
	struct fwd_pkt p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(dst, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(p.family, dst, p.dst), 1);
	p.proto = proto;
	p.sport = 40000;
	p.dport = dport;
	return p;
}

static struct fwd_prog_owner owner(uint64_t dev, uint64_t ino)
{
	return (struct fwd_prog_owner){ .known = true, .pid = 4242, .uid = 1000,
					.exe = { dev, ino } };
}

/* The same rules through the text an IR keeps (fwd_progrules_text). */
static struct fwd_progrules *rules_via_text(char **text_out)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d = { 0 };
	struct fwd_policy *p = NULL;
	struct fwd_progrules *rs = NULL;
	unsigned bad = 99;
	char *text;

	ck_assert_int_eq(fwd_policy_load_buffer("my conf%.conf", policy_text,
						strlen(policy_text), &o, &p, &d), 0);
	text = fwd_progrules_text(p);
	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(fwd_progrules_from_text(text, fake_resolve, NULL, &rs,
						 &bad), 0);
	ck_assert_uint_eq(bad, 0);
	fwd_policy_free(p);
	fwd_diags_free(&d);
	*text_out = text;
	return rs;
}

START_TEST(test_rules_read)
{
	struct fwd_progrules *rs = rules();

	ck_assert_uint_eq(rs->n, 3);
	ck_assert_str_eq(rs->r[0].path, "/usr/bin/fwd-test-curl");
	ck_assert_str_eq(rs->r[0].service, "web");
	ck_assert_str_eq(rs->r[0].loc.file, "t.conf");
	ck_assert_int_eq(rs->r[0].loc.line, 9);
	ck_assert_int_eq(rs->r[0].resolved, 0);
	ck_assert_uint_eq(rs->r[0].id.ino, 100);
	ck_assert_int_eq(rs->r[1].loc.line, 10);
	ck_assert_int_eq(rs->r[1].resolved, -ENOENT);
	ck_assert_int_eq(rs->r[2].loc.line, 15);
	ck_assert(rs->r[2].any);
	fwd_progrules_free(rs);
}
END_TEST

START_TEST(test_decide)
{
	struct fwd_progrules *rs = rules();
	struct fwd_prog_owner curl = owner(8, 100), res = owner(8, 200);
	struct fwd_prog_owner other = owner(8, 101), otherdev = owner(9, 100);
	struct fwd_prog_verdict v;
	struct fwd_pkt p;

	/* curl to its destinations: IPv4 host, a list's v4 and v6 nets, a
	 * port range's ends. */
	p = pkt("203.0.113.7", IPPROTO_TCP, 443);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(v.accept);
	ck_assert_int_eq(v.reason, FWD_PROG_ALLOWED);
	ck_assert_int_eq(v.rule, 0);
	p = pkt("198.51.100.200", IPPROTO_TCP, 8010);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(v.accept);
	p = pkt("2001:db8:5:ffff::1", IPPROTO_TCP, 8000);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(v.accept);

	/* Not its destinations: another host, a neighbouring /48, another
	 * port, udp on its port. */
	p = pkt("203.0.113.8", IPPROTO_TCP, 443);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(!v.accept);
	ck_assert_int_eq(v.reason, FWD_PROG_NOT_ALLOWED);
	ck_assert_int_eq(v.rule, -1);
	p = pkt("2001:db8:6::1", IPPROTO_TCP, 443);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(!v.accept);
	p = pkt("203.0.113.7", IPPROTO_TCP, 8011);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(!v.accept);
	p = pkt("203.0.113.7", IPPROTO_UDP, 443);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(!v.accept);

	/* Another binary (other inode, or the same inode on another device)
	 * to curl's destination: refused, the rule it would need named. */
	p = pkt("203.0.113.7", IPPROTO_TCP, 443);
	fwd_prog_decide(rs, &p, &other, &v);
	ck_assert(!v.accept);
	ck_assert_int_eq(v.reason, FWD_PROG_NOT_ALLOWED);
	ck_assert_int_eq(v.rule, 0);
	fwd_prog_decide(rs, &p, &otherdev, &v);
	ck_assert(!v.accept);
	/* The resolver to curl's destination: its own rule is dns only. */
	fwd_prog_decide(rs, &p, &res, &v);
	ck_assert(!v.accept);
	/* ... and its own: any address, 53/udp. */
	p = pkt("2001:db8::53", IPPROTO_UDP, 53);
	fwd_prog_decide(rs, &p, &res, &v);
	ck_assert(v.accept);
	ck_assert_int_eq(v.rule, 2);
	fwd_prog_decide(rs, &p, &curl, &v);
	ck_assert(!v.accept);
	fwd_progrules_free(rs);
}
END_TEST

/* An owner that could not be found is never let through, whatever the
 * destination; an unresolved path matches no owner, even one whose
 * identity happens to be all zero. */
START_TEST(test_unknown_and_unresolved)
{
	struct fwd_progrules *rs = rules();
	struct fwd_prog_owner unknown = { .known = false };
	struct fwd_prog_owner zero = owner(0, 0);
	struct fwd_prog_verdict v;
	struct fwd_pkt p = pkt("203.0.113.7", IPPROTO_TCP, 443);

	fwd_prog_decide(rs, &p, &unknown, &v);
	ck_assert(!v.accept);
	ck_assert_int_eq(v.reason, FWD_PROG_UNKNOWN_OWNER);
	ck_assert_str_eq(fwd_prog_reason_name(v.reason), "unknown_owner");
	fwd_prog_decide(rs, &p, NULL, &v);
	ck_assert(!v.accept);
	ck_assert_int_eq(v.reason, FWD_PROG_UNKNOWN_OWNER);
	fwd_prog_decide(rs, &p, &zero, &v);
	ck_assert(!v.accept);
	/* A packet no rule covers, unknown owner: still unknown_owner. */
	p = pkt("192.0.2.1", IPPROTO_TCP, 22);
	fwd_prog_decide(rs, &p, &unknown, &v);
	ck_assert(!v.accept);
	fwd_progrules_free(rs);
}
END_TEST

/* Re-resolving is a new rule set: the replaced binary (a new inode at the
 * same path) matches the new set, not the old one. */
static int resolve_new_inode(void *arg, const char *path, struct fwd_prog_id *id)
{
	int ret = fake_resolve(arg, path, id);

	if (ret == 0 && id->ino == 100)
		id->ino = 300;
	return ret;
}

START_TEST(test_reresolve)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_diags d = { 0 };
	struct fwd_policy *p = NULL;
	struct fwd_progrules *old = rules(), *now = NULL;
	struct fwd_prog_owner replaced = owner(8, 300);
	struct fwd_prog_verdict v;
	struct fwd_pkt k = pkt("203.0.113.7", IPPROTO_TCP, 443);

	fwd_prog_decide(old, &k, &replaced, &v);
	ck_assert(!v.accept);
	ck_assert_int_eq(fwd_policy_load_buffer("t.conf", policy_text,
						strlen(policy_text), &o, &p, &d), 0);
	ck_assert_int_eq(fwd_progrules_new(p, resolve_new_inode, NULL, &now), 0);
	fwd_prog_decide(now, &k, &replaced, &v);
	ck_assert(v.accept);
	fwd_policy_free(p);
	fwd_diags_free(&d);
	fwd_progrules_free(old);
	fwd_progrules_free(now);
}
END_TEST

/* No policy, or one without program = : an empty set that accepts
 * nothing. */
/*
 * The rules as text and back (what a last good policy carries): every
 * field the same (a file name with a blank and a '%' escaped), the same
 * decisions; the exact text of one rule; no text without a program; a
 * damaged text refused whole, naming its line.
 */
START_TEST(test_text_round_trip)
{
	struct fwd_progrules *a = rules(), *b;
	struct fwd_pkt p;
	struct fwd_prog_verdict va, vb;
	char *text;
	const char *bad_texts[] = {
		"/usr/bin/x t.conf 9 web 0 6:443-443 %\n/usr/bin/y t.conf 10 web 0\n",
		"usr/bin/x t.conf 9 web 0 6:443-443 %\n",
		"/usr/bin/x t.conf 9 web 2 6:443-443 %\n",
		"/usr/bin/x t.conf 9 web 0 6:443-44 192.0.2.300\n",
		"/usr/bin/x t.conf 9 web 0 6:443-80 %\n",
		"/usr/bin/x%2 t.conf 9 web 0 % %\n",
		"/usr/bin/x%00 t.conf 9 web 0 % %\n",
		"/usr/bin/x t.conf 9 web 0 % % extra\n",
	};
	const unsigned bad_line[] = { 2, 1, 1, 1, 1, 1, 1, 1 };

	b = rules_via_text(&text);
	ck_assert_uint_eq(a->n, b->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct fwd_progrule *x = &a->r[i], *y = &b->r[i];

		ck_assert_str_eq(x->path, y->path);
		ck_assert_str_eq(x->service, y->service);
		ck_assert_str_eq(y->loc.file, "my conf%.conf");
		ck_assert_int_eq(x->loc.line, y->loc.line);
		ck_assert_int_eq(x->resolved, y->resolved);
		ck_assert_int_eq(x->any, y->any);
		ck_assert_uint_eq(x->nports, y->nports);
		ck_assert_uint_eq(x->naddrs, y->naddrs);
		for (size_t k = 0; k < x->nports; k++)
			ck_assert(x->ports[k].proto == y->ports[k].proto &&
				  x->ports[k].lo == y->ports[k].lo &&
				  x->ports[k].hi == y->ports[k].hi);
		if (x->naddrs)	/* none: both NULL (memcmp wants pointers) */
			ck_assert_mem_eq(x->addrs, y->addrs,
					 x->naddrs * sizeof(*x->addrs));
	}
	ck_assert_ptr_nonnull(strstr(text, "/usr/bin/fwd-test-curl my%20conf%25.conf 9 "
				     "web 0 6:443-443,6:8000-8010 203.0.113.7,"
				     "198.51.100.0/24,2001:db8:5::/48\n"));
	ck_assert_ptr_nonnull(strstr(text, " 15 dns 1 17:53-53 %\n"));
	p = pkt("2001:db8:5::9", IPPROTO_TCP, 8005);
	{
		struct fwd_prog_owner o = owner(8, 100);

		fwd_prog_decide(a, &p, &o, &va);
		fwd_prog_decide(b, &p, &o, &vb);
	}
	ck_assert(va.accept && vb.accept && va.rule == vb.rule);
	free(text);
	fwd_progrules_free(a);
	fwd_progrules_free(b);

	for (size_t i = 0; i < sizeof(bad_texts) / sizeof(bad_texts[0]); i++) {
		unsigned line = 0;

		b = (struct fwd_progrules *)1;
		ck_assert_msg(fwd_progrules_from_text(bad_texts[i], fake_resolve, NULL,
						      &b, &line) == -EBADMSG,
			      "accepted: %s", bad_texts[i]);
		ck_assert_ptr_null(b);
		ck_assert_uint_eq(line, bad_line[i]);
	}
	/* Nothing: no rules (a policy without a program has no text). */
	{
		unsigned line = 7;

		ck_assert_int_eq(fwd_progrules_from_text(NULL, fake_resolve, NULL,
							 &b, &line), 0);
		ck_assert_uint_eq(line, 0);
	}
	ck_assert_uint_eq(b->n, 0);
	fwd_progrules_free(b);
}
END_TEST

START_TEST(test_empty)
{
	struct fwd_progrules *rs = NULL;
	struct fwd_prog_owner o = owner(8, 100);
	struct fwd_prog_verdict v;
	struct fwd_pkt k = pkt("203.0.113.7", IPPROTO_TCP, 443);

	ck_assert_int_eq(fwd_progrules_new(NULL, fake_resolve, NULL, &rs), 0);
	ck_assert_uint_eq(rs->n, 0);
	fwd_prog_decide(rs, &k, &o, &v);
	ck_assert(!v.accept);
	fwd_progrules_free(rs);
	fwd_progrules_free(NULL);
}
END_TEST

static Suite *progrule_suite(void)
{
	Suite *s = suite_create("progrule");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_rules_read);
	tcase_add_test(tc, test_decide);
	tcase_add_test(tc, test_unknown_and_unresolved);
	tcase_add_test(tc, test_reresolve);
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_text_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(progrule_suite());
}
