// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The exposure audit's pure half (policy/audit.c): verdicts of sockets
 * against IRs compiled from real policy text, the dual-stack rules, unused
 * ports, the baseline's round trip and its refusals, the diff. No kernel:
 * the sockets are made up here; check-fwctl's audit tests take them from
 * real listeners.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "audit.h"
#include "ir.h"
#include "policy.h"

static struct fwd_ir *ir_of(const char *text)
{
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;
	struct fwd_load_opts o = { .confd_path = "" };

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("t.conf", text, strlen(text), &o, &p, &d), 0);
	ck_assert_int_eq(fwd_compile(p, &ir, &d), 0);
	fwd_diags_free(&d);
	fwd_policy_free(p);
	return ir;
}

static struct fwd_audit_sock *sock(struct fwd_audit *a, const char *proto, const char *addr,
				   unsigned port)
{
	struct fwd_audit_sock *s = fwd_audit_add(a);

	s->proto = strcmp(proto, "udp") ? 6 : 17;
	s->family = strchr(addr, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(s->family, addr, s->addr), 1);
	s->port = (uint16_t)port;
	s->inode = a->n;
	return s;
}

static const struct fwd_audit_sock *find(const struct fwd_audit *a, const char *proto,
					 const char *addr, unsigned port)
{
	char buf[FWD_AUDIT_ADDR];

	for (size_t i = 0; i < a->n; i++) {
		fwd_audit_addr(&a->socks[i], buf, sizeof(buf));
		if (a->socks[i].port == port && !strcmp(buf, addr) &&
		    a->socks[i].proto == (strcmp(proto, "udp") ? 6 : 17))
			return &a->socks[i];
	}
	ck_abort_msg("no socket %s %s/%u", addr, proto, port);
	return NULL;
}

/* The verdict and the allowed sources, joined by spaces. */
static void expect(const struct fwd_audit *a, const char *proto, const char *addr,
		   unsigned port, const char *verdict, const char *from)
{
	const struct fwd_audit_sock *s = find(a, proto, addr, port);
	char buf[512] = "";

	for (size_t i = 0; i < s->nfrom; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s", i ? " " : "",
			 s->from[i]);
	ck_assert_msg(!strcmp(fwd_audit_verdict_name(s->verdict), verdict) && !strcmp(buf, from),
		      "%s %s/%u: %s from '%s', expected %s from '%s'", addr, proto, port,
		      fwd_audit_verdict_name(s->verdict), buf, verdict, from);
}

static const char policy[] =
	"[list office]\n"
	"members = 198.51.100.0/24, 2001:db8:a::/64\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @office, 203.0.113.9\n"
	"[service web]\n"
	"ports = 80/tcp, 443/tcp, 443/udp\n"
	"allow = any\n"
	"[service v4all]\n"
	"ports = 8000/tcp\n"
	"allow = 0.0.0.0/1, 128.0.0.0/1\n"	/* the compiler joins them: 0.0.0.0/0 */
	"[service range]\n"
	"ports = 60000-60010/udp\n"
	"allow = 192.0.2.0/24\n"
	"[service wide]\n"
	"ports = 1000-3000/tcp\n"		/* wider than the index's narrow ones */
	"allow = 198.18.0.1\n"
	"[service idle]\n"
	"ports = 9999/tcp\n"
	"allow = 2001:db8:b::1\n"
	"[edits]\n"
	"deny = 443/udp\n";

/* Every verdict, the families a binding receives, v6only, v4-mapped. */
START_TEST(test_verdicts)
{
	struct fwd_ir *ir = ir_of(policy);
	struct fwd_audit a = { 0 };

	sock(&a, "tcp", "0.0.0.0", 22);
	sock(&a, "tcp", "::", 22);			/* dual stack: both families */
	sock(&a, "tcp", "::", 22)->v6only = true;	/* IPv6 only */
	sock(&a, "tcp", "::ffff:192.0.2.1", 22);	/* v4-mapped bind: IPv4 only */
	sock(&a, "tcp", "2001:db8::1", 22);		/* a specific IPv6 bind */
	sock(&a, "tcp", "192.0.2.1", 80);
	sock(&a, "udp", "::", 443);			/* allowed, but denied from any */
	sock(&a, "tcp", "0.0.0.0", 8000);		/* two halves cover IPv4 */
	sock(&a, "tcp", "::", 8000)->v6only = true;	/* ... not IPv6 */
	sock(&a, "udp", "0.0.0.0", 60005);
	sock(&a, "tcp", "0.0.0.0", 7000);
	sock(&a, "tcp", "0.0.0.0", 2999);
	sock(&a, "tcp", "0.0.0.0", 3001);
	sock(&a, "tcp", "127.0.0.1", 22);
	sock(&a, "tcp", "::1", 80);
	sock(&a, "udp", "::ffff:127.0.0.53", 53);
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);

	expect(&a, "tcp", "0.0.0.0", 22, "restricted", "198.51.100.0/24 203.0.113.9");
	ck_assert_uint_eq(a.socks[0].proto, 6);
	/* Sorted by proto, port, family, address: the two "::" sockets on 22
	 * differ in v6only only, so look at both. */
	{
		size_t dual = 0, only6 = 0;

		for (size_t i = 0; i < a.n; i++) {
			char b[FWD_AUDIT_ADDR], f[512] = "";

			fwd_audit_addr(&a.socks[i], b, sizeof(b));
			if (a.socks[i].port != 22 || strcmp(b, "::"))
				continue;
			for (size_t k = 0; k < a.socks[i].nfrom; k++)
				snprintf(f + strlen(f), sizeof(f) - strlen(f), "%s%s", k ? " " : "",
					 a.socks[i].from[k]);
			if (a.socks[i].v6only) {
				ck_assert_str_eq(f, "2001:db8:a::/64");
				only6++;
			} else {
				ck_assert_str_eq(f, "198.51.100.0/24 203.0.113.9 2001:db8:a::/64");
				dual++;
			}
		}
		ck_assert_uint_eq(dual, 1);
		ck_assert_uint_eq(only6, 1);
	}
	expect(&a, "tcp", "::ffff:192.0.2.1", 22, "restricted", "198.51.100.0/24 203.0.113.9");
	expect(&a, "tcp", "2001:db8::1", 22, "restricted", "2001:db8:a::/64");
	expect(&a, "tcp", "192.0.2.1", 80, "exposed", "any");
	expect(&a, "udp", "::", 443, "shielded", "");
	expect(&a, "tcp", "0.0.0.0", 8000, "exposed", "any");
	expect(&a, "tcp", "::", 8000, "shielded", "");
	expect(&a, "udp", "0.0.0.0", 60005, "restricted", "192.0.2.0/24");
	expect(&a, "tcp", "0.0.0.0", 7000, "shielded", "");
	expect(&a, "tcp", "0.0.0.0", 2999, "restricted", "198.18.0.1");
	expect(&a, "tcp", "0.0.0.0", 3001, "shielded", "");
	expect(&a, "tcp", "127.0.0.1", 22, "local", "");
	expect(&a, "tcp", "::1", 80, "local", "");
	expect(&a, "udp", "::ffff:127.0.0.53", 53, "local", "");
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/*
 * `fwctl deny PORT from X` rejects X before the allow lookups: X is not
 * in a restricted socket's allowed_from (a host out of a network splits
 * it, a network out of a list member goes), a port whose every allowed
 * source is denied is shielded, and a deny on another port or of the
 * other family changes nothing.
 */
START_TEST(test_denied_sources)
{
	static const char text[] =
		"[service ssh]\n"
		"ports = 22/tcp\n"
		"allow = 192.0.2.0/24, 198.51.100.7, 2001:db8:a::/64\n"
		"[service db]\n"
		"ports = 5432/tcp\n"
		"allow = 203.0.113.5\n"
		"[service smtp]\n"
		"ports = 25/tcp\n"
		"allow = 192.0.2.0/24\n"
		"[edits]\n"
		"deny = 22/tcp from 192.0.2.7\n"
		"deny = 22/tcp from 198.51.100.7\n"
		"deny = 22/tcp from 2001:db8:a::/65\n"
		"deny = 5432/tcp from 203.0.113.5\n";
	struct fwd_ir *ir = ir_of(text);
	struct fwd_audit a = { 0 };

	sock(&a, "tcp", "0.0.0.0", 22);
	sock(&a, "tcp", "::", 22)->v6only = true;
	sock(&a, "tcp", "0.0.0.0", 5432);
	sock(&a, "tcp", "0.0.0.0", 25);
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	expect(&a, "tcp", "0.0.0.0", 22, "restricted",
	       "192.0.2.0-192.0.2.6 192.0.2.8-192.0.2.255");
	expect(&a, "tcp", "::", 22, "restricted", "2001:db8:a:0:8000::/65");
	expect(&a, "tcp", "0.0.0.0", 5432, "shielded", "");
	expect(&a, "tcp", "0.0.0.0", 25, "restricted", "192.0.2.0/24");
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* Allowed ports nobody listens on; a loopback listener does not count. */
START_TEST(test_unused)
{
	struct fwd_ir *ir = ir_of(policy);
	struct fwd_audit a = { 0 };
	char buf[1024] = "";

	sock(&a, "tcp", "0.0.0.0", 22);
	sock(&a, "tcp", "::1", 80);			/* local only: 80 is still unused */
	sock(&a, "udp", "0.0.0.0", 60010);		/* inside the range */
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	for (size_t i = 0; i < a.nunused; i++) {
		const struct fwd_audit_unused *u = &a.unused[i];

		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s %u-%u:",
			 u->proto == 17 ? "udp" : "tcp", u->plo, u->phi);
		for (size_t k = 0; k < u->nfrom; k++)
			snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), " %s", u->from[k]);
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "; ");
	}
	/* 443/udp is denied from any: not an allowed port. */
	ck_assert_str_eq(buf, "tcp 80-80: any; tcp 443-443: any; tcp 1000-3000: 198.18.0.1; "
			 "tcp 8000-8000: 0.0.0.0/0; "
			 "tcp 9999-9999: 2001:db8:b::1; ");
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* inbound = allow: everything that listens is exposed. */
START_TEST(test_inbound_allow)
{
	struct fwd_ir *ir = ir_of("[defaults]\ninbound = allow\n[service ssh]\n"
				  "ports = 22/tcp\nallow = 192.0.2.7\n");
	struct fwd_audit a = { 0 };

	sock(&a, "tcp", "0.0.0.0", 7000);
	sock(&a, "udp", "::", 5000)->v6only = true;
	sock(&a, "tcp", "0.0.0.0", 22);
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	expect(&a, "tcp", "0.0.0.0", 7000, "exposed", "any");
	expect(&a, "udp", "::", 5000, "exposed", "any");
	expect(&a, "tcp", "0.0.0.0", 22, "exposed", "any");
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* A limited or interface-bound service is still open from its sources:
 * the audit must not call its listener shielded. */
START_TEST(test_restricted_classes)
{
	struct fwd_ir *ir = ir_of("[service ssh]\nports = 22/tcp\nallow = any\n"
				  "limit = 6/30s\n[service db]\nports = 5432/tcp\n"
				  "allow = 192.0.2.0/24\ninterface = eth1\n"
				  "[service backup]\ndirection = out\nports = 873/tcp\n"
				  "allow = 203.0.113.9\ninterface = eth1\n");
	struct fwd_audit a = { 0 };

	sock(&a, "tcp", "::", 22);
	sock(&a, "tcp", "0.0.0.0", 5432);
	sock(&a, "tcp", "0.0.0.0", 873);
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	expect(&a, "tcp", "::", 22, "exposed", "any");
	expect(&a, "tcp", "0.0.0.0", 5432, "restricted", "192.0.2.0/24");
	expect(&a, "tcp", "0.0.0.0", 873, "shielded", "");
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* A socket listed twice by the kernel is one socket. */
START_TEST(test_duplicates)
{
	struct fwd_ir *ir = ir_of(policy);
	struct fwd_audit a = { 0 };

	sock(&a, "tcp", "0.0.0.0", 22)->inode = 7;
	sock(&a, "tcp", "0.0.0.0", 22)->inode = 7;
	sock(&a, "tcp", "0.0.0.0", 22)->inode = 8;	/* SO_REUSEPORT: another socket */
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	ck_assert_uint_eq(a.n, 2);
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* Format -> parse gives the same entries, hostile names included. */
START_TEST(test_baseline_round_trip)
{
	struct fwd_ir *ir = ir_of(policy);
	struct fwd_audit a = { 0 };
	struct fwd_audit_sock *s;
	struct fwd_audit_entry *v, e;
	size_t len, n;
	char *text, why[256];

	s = sock(&a, "tcp", "::", 22);
	s->uid = 0;
	snprintf(s->user, sizeof(s->user), "root");
	snprintf(s->comm, sizeof(s->comm), "ss\thd\nx");
	snprintf(s->exe, sizeof(s->exe), "/usr/sbin/sshd");
	snprintf(s->unit, sizeof(s->unit), "ssh.service");
	s = sock(&a, "udp", "0.0.0.0", 60001);
	s->uid = 65534;
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	text = fwd_audit_baseline_format(&a, &len);
	ck_assert_str_eq(text, "# fwd audit baseline 1\n"
			 "tcp\t::\t22\trestricted\t0\troot\tss?hd?x\t/usr/sbin/sshd\tssh.service\n"
			 "udp\t0.0.0.0\t60001\trestricted\t65534\t-\t-\t-\t-\n");
	ck_assert_int_eq(fwd_audit_baseline_parse(text, len, &v, &n, why, sizeof(why)), 0);
	ck_assert_uint_eq(n, 2);
	fwd_audit_entry_of(&a.socks[1], &e);
	ck_assert_str_eq(v[1].addr, e.addr);
	ck_assert_uint_eq(v[1].uid, 65534);
	ck_assert_str_eq(v[1].user, "");
	ck_assert_str_eq(v[0].comm, "ss?hd?x");
	ck_assert_str_eq(v[0].unit, "ssh.service");
	free(v);
	free(text);
	fwd_audit_free(&a);
	fwd_ir_free(ir);
}
END_TEST

/* A damaged baseline is refused whole, naming its line. */
START_TEST(test_baseline_damaged)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "", "line 1: not an fwd audit baseline" },
		{ "tcp\t::\t22\n", "line 1: not an fwd audit baseline" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\texposed\t0\t-\t-\t-\t-", "line 2: cut short" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\texposed\t0\t-\t-\t-\n", "line 2: not PROTO" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\texposed\t0\t-\t-\t-\t-\n"
		  "sctp\t::\t22\texposed\t0\t-\t-\t-\t-\n", "line 3: not PROTO" },
		{ "# fwd audit baseline 1\ntcp\t::\t65536\texposed\t0\t-\t-\t-\t-\n", "line 2" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\topen\t0\t-\t-\t-\t-\n", "line 2" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\texposed\t-1\t-\t-\t-\t-\n", "line 2" },
		{ "# fwd audit baseline 1\ntcp\t::\t22\texposed\t0\t-\t-\t-\t-\textra\n", "line 2" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fwd_audit_entry *v = (void *)1;
		size_t n = 99;
		char why[256] = "";

		ck_assert_int_eq(fwd_audit_baseline_parse(bad[i].text, strlen(bad[i].text), &v,
							  &n, why, sizeof(why)), -EINVAL);
		ck_assert_msg(strstr(why, bad[i].why), "case %zu: %s", i, why);
		ck_assert_ptr_null(v);
		ck_assert_uint_eq(n, 0);
	}
}
END_TEST

static struct fwd_audit_entry ent(const char *proto, const char *addr, unsigned port,
				  const char *verdict, const char *comm)
{
	struct fwd_audit_entry e = { .port = port };

	snprintf(e.proto, sizeof(e.proto), "%s", proto);
	snprintf(e.addr, sizeof(e.addr), "%s", addr);
	snprintf(e.verdict, sizeof(e.verdict), "%s", verdict);
	snprintf(e.comm, sizeof(e.comm), "%s", comm);
	return e;
}

/* New, gone, owner and verdict changes; what counts as newly exposed. */
START_TEST(test_diff)
{
	struct fwd_audit_entry base[] = {
		ent("tcp", "0.0.0.0", 22, "exposed", "sshd"),
		ent("tcp", "0.0.0.0", 80, "shielded", "nginx"),
		ent("tcp", "::", 25, "restricted", "exim"),
		ent("udp", "0.0.0.0", 53, "exposed", "named"),
		ent("tcp", "0.0.0.0", 5432, "local", "postgres"),
	};
	struct fwd_audit_entry now[] = {
		ent("udp", "0.0.0.0", 53, "exposed", "dnsmasq"),	/* owner changed */
		ent("tcp", "0.0.0.0", 80, "exposed", "nginx"),	/* verdict: now exposed */
		ent("tcp", "0.0.0.0", 22, "exposed", "sshd"),		/* the same */
		ent("tcp", "0.0.0.0", 8080, "exposed", "python3"),	/* new, exposed */
		ent("tcp", "0.0.0.0", 9000, "shielded", "php-fpm"),	/* new, shielded */
		ent("tcp", "0.0.0.0", 5432, "local", "postgres"),
		ent("tcp", "0.0.0.0", 5432, "local", "postgres"),	/* twice: one listener */
	};
	struct fwd_audit_diff *d;
	size_t n;

	fwd_audit_diff(base, 5, now, 7, &d, &n);
	ck_assert_uint_eq(n, 5);
	/* tcp 25 gone, tcp 80 changed, tcp 8080 new, tcp 9000 new, udp 53 changed */
	ck_assert_int_eq(d[0].change, FWD_AUDIT_GONE);
	ck_assert_uint_eq(d[0].was.port, 25);
	ck_assert(!d[0].newly_exposed);
	ck_assert_int_eq(d[1].change, FWD_AUDIT_CHANGED);
	ck_assert_uint_eq(d[1].now.port, 80);
	ck_assert(d[1].verdict_changed && !d[1].owner_changed && d[1].newly_exposed);
	ck_assert_int_eq(d[2].change, FWD_AUDIT_NEW);
	ck_assert_uint_eq(d[2].now.port, 8080);
	ck_assert(d[2].newly_exposed);
	ck_assert_int_eq(d[3].change, FWD_AUDIT_NEW);
	ck_assert_uint_eq(d[3].now.port, 9000);
	ck_assert(!d[3].newly_exposed);
	ck_assert_int_eq(d[4].change, FWD_AUDIT_CHANGED);
	ck_assert_uint_eq(d[4].now.port, 53);
	ck_assert(d[4].owner_changed && !d[4].verdict_changed && !d[4].newly_exposed);
	free(d);

	/* Nothing against nothing, and a baseline against itself. */
	fwd_audit_diff(NULL, 0, NULL, 0, &d, &n);
	ck_assert_uint_eq(n, 0);
	free(d);
	fwd_audit_diff(base, 5, base, 5, &d, &n);
	ck_assert_uint_eq(n, 0);
	free(d);
}
END_TEST

/* A big allowlist: every source once, sorted, for the socket and for the
 * unused port (the words are built in O(n log n); this also runs under
 * valgrind, so a quadratic walk would show as a timeout). */
START_TEST(test_big_list)
{
	size_t n = 20000, len = 0, cap = 1 << 20;
	char *text = malloc(cap);
	struct fwd_ir *ir;
	struct fwd_audit a = { 0 };
	const struct fwd_audit_sock *s;

	ck_assert_ptr_nonnull(text);
	len += (size_t)snprintf(text + len, cap - len, "[list big]\nmembers =");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s198.%zu.%zu.%zu",
					i % 8 ? ", " : "\n  ", 18 + i / 65536,
					i / 256 % 256, i % 256);
	len += (size_t)snprintf(text + len, cap - len, "\n[service ssh]\nports = 22/tcp, "
				"2222/tcp\nallow = @big\n");
	ck_assert_uint_lt(len, cap - 1);
	ir = ir_of(text);
	sock(&a, "tcp", "::", 22);
	ck_assert_int_eq(fwd_audit_judge(&a, ir), 0);
	s = find(&a, "tcp", "::", 22);
	ck_assert_int_eq(s->verdict, FWD_AUDIT_RESTRICTED);
	ck_assert_uint_eq(s->nfrom, n);
	ck_assert_str_eq(s->from[0], "198.18.0.0");
	ck_assert_str_eq(s->from[n - 1], "198.18.78.31");
	for (size_t i = 1; i < s->nfrom; i++) {
		uint32_t x, y;

		inet_pton(AF_INET, s->from[i - 1], &x);
		inet_pton(AF_INET, s->from[i], &y);
		ck_assert_uint_lt(ntohl(x), ntohl(y));
	}
	ck_assert_uint_eq(a.nunused, 1);
	ck_assert_uint_eq(a.unused[0].plo, 2222);
	ck_assert_uint_eq(a.unused[0].nfrom, n);
	fwd_audit_free(&a);
	fwd_ir_free(ir);
	free(text);
}
END_TEST

/* The unit from /proc/PID/cgroup: the deepest .service or .scope. */
START_TEST(test_unit_of)
{
	static const struct { const char *cgroup, *unit; } t[] = {
		{ "0::/system.slice/ssh.service\n", "ssh.service" },
		{ "0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope" },
		{ "0::/user.slice/user-1000.slice/user@1000.service/app.slice/"
		  "gpg-agent.service\n", "gpg-agent.service" },
		{ "0::/system.slice/docker-0123.scope/init\n", "docker-0123.scope" },
		{ "0::/\n", "" },
		{ "0::/system.slice\n", "" },
		{ "0::/.service\n", "" },		/* no name before the suffix */
		{ "12:pids:/system.slice/cron.service\n1:name=systemd:/x.service\n", "" },
		{ "12:pids:/a.service\n0::/system.slice/cron.service", "cron.service" },
		{ "", "" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char out[FWD_AUDIT_UNIT] = "junk";

		fwd_audit_unit_of(t[i].cgroup, out, sizeof(out));
		ck_assert_msg(!strcmp(out, t[i].unit), "case %zu: '%s', expected '%s'", i, out,
			      t[i].unit);
	}
}
END_TEST

static Suite *audit_suite(void)
{
	Suite *s = suite_create("audit");
	TCase *tc = tcase_create("audit");

	tcase_add_test(tc, test_verdicts);
	tcase_add_test(tc, test_denied_sources);
	tcase_add_test(tc, test_unused);
	tcase_add_test(tc, test_inbound_allow);
	tcase_add_test(tc, test_restricted_classes);
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_baseline_round_trip);
	tcase_add_test(tc, test_baseline_damaged);
	tcase_add_test(tc, test_diff);
	tcase_add_test(tc, test_unit_of);
	tcase_add_test(tc, test_big_list);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(audit_suite());
}
