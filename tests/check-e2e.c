// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * End to end: the real fwd daemon and fwctl against real traffic.
 *
 * Each test builds its own three network namespaces, named
 * fwdt-<runner pid>-{srv,good,bad}:
 *
 *     good (192.0.2.2, 2001:db8:1::2) --veth-- srv --veth-- bad (198.51.100.2, 2001:db8:2::2)
 *                        srv: 192.0.2.1, 2001:db8:1::1 | 198.51.100.1, 2001:db8:2::1
 *
 * fwd runs inside srv (`ip netns exec`), next to nettool listeners; good and
 * bad probe it with nettool (TCP, UDP) and ping (ICMP). A drop shows as a
 * timeout, a reject as "refused". Nothing touches the machine's own
 * namespace: veth pairs are created directly inside the test namespaces.
 *
 * Cleanup: a test that fails exits its forked child at once (libcheck), so
 * the namespaces (and every process inside them, all started by this suite)
 * are removed again by the next test's setup, by the unchecked teardown in
 * the runner and, for a runner that was killed, by the next run's sweep of
 * fwdt-<pid>-* namespaces whose pid is gone.
 */
/* The topology, processes and helpers are tests/netns.c's. */
#define NN_SHORT_NAMES
#include "netns.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Per-test state: each test is its own forked process. */
static struct nn_env E;
static struct {
	char policy[300];
	char fwdlog[300];
	pid_t fwd;
} T;

static char *path_in(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", E.dir, name) < 0)
		abort();
	return p;
}

static void topo_up(void)
{
	memset(&T, 0, sizeof(T));
	nn_up(&E, true);
	snprintf(T.policy, sizeof(T.policy), "%s/fwd.conf", E.dir);
	snprintf(T.fwdlog, sizeof(T.fwdlog), "%s/fwd.log", E.dir);
}

static void topo_down(void)
{
	nn_down(&E);
}

/* Start argv inside a namespace, output to logpath; its pid. */
static pid_t spawn(enum nn_role r, const char *logpath, const char *const argv[])
{
	return nn_spawn(&E, r, logpath, argv, NULL);
}

/* A nettool listener in srv; its log path (kept: never free it) once it
 * is bound, and its pid in *pid when asked. */
static char *listener_pid(const char *kind, const char *proto, unsigned port, pid_t *pid)
{
	return nn_listener(&E, kind, proto, port, pid);
}

static char *listener(const char *kind, const char *proto, unsigned port)
{
	return listener_pid(kind, proto, port, NULL);
}

/* Stop a process we started with SIGTERM and reap it; its exit status. */
static int stop_proc(pid_t pid, double secs)
{
	return nn_stop(&E, pid, secs);
}

static size_t applied_count(void)
{
	return count_in_file(T.fwdlog, "fwd: applied ");
}

/* Start `fwd -c config` in srv and wait for its first commit. Its control
 * socket goes in the scratch directory: the file system is shared with
 * the host and with other tests. */
static void fwd_start_with(const char *config, const char *extra)
{
	char *state = path_in("state");
	char *sock = path_in("fwd.sock");
	const char *argv[] = { FWD, "-c", config, "--state-dir", state, "-S", sock,
			       extra, NULL };

	T.fwd = spawn(SRV, T.fwdlog, argv);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: applied ", 1, 15),
		      "fwd did not apply within 15 s:\n%s", slurp_or_empty(T.fwdlog));
}

static void fwd_start(const char *config)
{
	fwd_start_with(config, NULL);
}

static bool fwd_alive(void)
{
	return waitpid(T.fwd, NULL, WNOHANG) == 0;
}

/* SIGHUP and wait until the applied line count reaches `want`. */
static void fwd_reload(size_t want)
{
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	kill(T.fwd, SIGHUP);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: applied ", want, 10),
		      "fwd did not re-apply (want %zu applied lines):\n%s", want,
		      slurp_or_empty(T.fwdlog));
}

/* ---- probes: many at once, in parallel, each bounded (netns.c) ---- */

static void probes_run(struct nn_probes *ps)
{
	nn_probes_run(&E, ps);
}

/* ---- policies ---- */

/* Line numbers matter: test_bad_reload names them. */
static const char policy_basic_fmt[] =
	"[defaults]\n"				/* 1 */
	"inbound = %s\n"			/* 2 */
	"outbound = allow\n"			/* 3 */
	"icmp = %s\n"				/* 4 */
	"\n"					/* 5 */
	"[list good]\n"				/* 6 */
	"members = " GOOD4 ", " GOOD6 "%s\n"	/* 7 */
	"\n"					/* 8 */
	"[service ssh]\n"			/* 9 */
	"ports = 22/tcp\n"			/* 10 */
	"allow = @good\n"			/* 11 */
	"\n"					/* 12 */
	"[service dns]\n"			/* 13 */
	"ports = 53/udp\n"			/* 14 */
	"allow = @good\n"			/* 15 */
	"\n"					/* 16 */
	"[service web]\n"			/* 17 */
	"ports = 80/tcp\n"			/* 18 */
	"allow = any\n";			/* 19 */

static void write_basic(const char *inbound, const char *icmp, const char *extra)
{
	write_file(T.policy, policy_basic_fmt, inbound, icmp, extra);
}

/* Listeners for the basic policy: allowed 22/tcp, 53/udp, 80/tcp and a
 * port no service opens (9999, both protocols): a listener there proves the
 * firewall, not a closed socket, is what keeps it shut. */
static void basic_listeners(void)
{
	listener("listen", "tcp", 22);
	listener("listen", "udp", 53);
	listener("listen", "tcp", 80);
	listener("listen", "tcp", 9999);
	listener("listen", "udp", 9999);
}

/* What the basic policy must do, whatever the reject/deny mode. */
static void expect_basic(struct probes *ps, int denied)
{
	probe(ps, GOOD, OK, "connect tcp " SRV4_G " 22");
	probe(ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(ps, GOOD, OK, "udp " SRV4_G " 53");
	probe(ps, GOOD, OK, "udp " SRV6_G " 53");
	probe(ps, GOOD, OK, "connect tcp " SRV4_G " 80");
	probe(ps, GOOD, OK, "connect tcp " SRV6_G " 80");
	probe(ps, GOOD, denied, "connect tcp " SRV4_G " 9999");
	probe(ps, GOOD, denied, "connect tcp " SRV6_G " 9999");
	probe(ps, GOOD, denied, "udp " SRV4_G " 9999");
	probe(ps, GOOD, denied, "udp " SRV6_G " 9999");

	probe(ps, BAD, denied, "connect tcp " SRV4_B " 22");
	probe(ps, BAD, denied, "connect tcp " SRV6_B " 22");
	probe(ps, BAD, denied, "udp " SRV4_B " 53");
	probe(ps, BAD, denied, "udp " SRV6_B " 53");
	probe(ps, BAD, OK, "connect tcp " SRV4_B " 80");
	probe(ps, BAD, OK, "connect tcp " SRV6_B " 80");
	probe(ps, BAD, denied, "connect tcp " SRV4_B " 9999");
	probe(ps, BAD, denied, "connect tcp " SRV6_B " 9999");
	probe(ps, BAD, denied, "udp " SRV4_B " 9999");
	probe(ps, BAD, denied, "udp " SRV6_B " 9999");
}

static char *nft_list(enum nn_role r)
{
	return sh_ok("ip netns exec %s nft -s list table inet fwd_filter", E.ns[r]);
}

/* ---- tests ---- */

/* Sanity: the topology itself passes everything before fwd runs, so that a
 * later "dropped" means the firewall dropped it. */
START_TEST(test_topology_open)
{
	struct probes ps = { .n = 0 };

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, OK, "connect tcp " SRV6_B " 9999");
	probe(&ps, BAD, OK, "udp " SRV4_B " 53");
	probe(&ps, BAD, OK, "udp " SRV6_B " 9999");
	probe(&ps, GOOD, REFUSED, "connect tcp " SRV4_G " 23");
	probe(&ps, GOOD, REFUSED, "udp " SRV6_G " 54");
	probe(&ps, BAD, OK, "ping " SRV4_B);
	probe(&ps, BAD, OK, "ping " SRV6_B);
	probes_run(&ps);
	topo_down();
}
END_TEST

/* 1. TCP and UDP over IPv4 and IPv6: allowed host in, denied host not (a
 * drop is a timeout), a port no service opens is shut for both, a port open
 * to any is open for both; srv's own outbound connections work and their
 * replies (and ICMP errors about them) come back. */
START_TEST(test_deny_tcp_udp)
{
	struct probes ps = { .n = 0 };

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	spawn(GOOD, "/dev/null", (const char *[]){ NETTOOL, "listen", "tcp", "::", "7000",
		"--timeout", "60", NULL });
	write_basic("deny", "essential", "");
	fwd_start(T.policy);
	expect_basic(&ps, DROP);
	/* outbound allow + established: srv -> good, and the ICMP port
	 * unreachable about a closed port comes back as related */
	probe(&ps, SRV, OK, "connect tcp " GOOD4 " 7000");
	probe(&ps, SRV, OK, "connect tcp " GOOD6 " 7000");
	probe(&ps, SRV, REFUSED, "udp " GOOD4 " 7001");
	probe(&ps, SRV, REFUSED, "udp " GOOD6 " 7001");
	/* icmp = essential lets echo requests in (from anyone: ICMP has no
	 * per-source allowlist), as the compiler's essential set has it */
	probe(&ps, GOOD, OK, "ping " SRV4_G);
	probe(&ps, BAD, OK, "ping " SRV6_B);
	probes_run(&ps);
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/* 1. inbound = reject: denied traffic is refused at once, not left to time
 * out (TCP: RST; UDP: an ICMP error). */
START_TEST(test_reject)
{
	struct probes ps = { .n = 0 };

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("reject", "essential", "");
	fwd_start(T.policy);
	expect_basic(&ps, REJECTED);
	/* a refused TCP connection in the strict sense: a reset */
	probe(&ps, BAD, REFUSED, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, REFUSED, "connect tcp " SRV6_B " 22");
	probes_run(&ps);
	topo_down();
}
END_TEST

/* 1. ICMP: with icmp = all both hosts ping srv; with icmp = none nobody does,
 * yet srv's own pings and ICMP errors about its own flows still work. */
START_TEST(test_icmp_all_none)
{
	struct probes ps = { .n = 0 };

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "all", "");
	fwd_start(T.policy);
	probe(&ps, GOOD, OK, "ping " SRV4_G);
	probe(&ps, GOOD, OK, "ping " SRV6_G);
	probe(&ps, BAD, OK, "ping " SRV4_B);
	probe(&ps, BAD, OK, "ping " SRV6_B);
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
	probes_run(&ps);

	write_basic("deny", "none", "");
	fwd_reload(2);
	probe(&ps, GOOD, DROP, "ping " SRV4_G);
	probe(&ps, GOOD, DROP, "ping " SRV6_G);
	probe(&ps, BAD, DROP, "ping " SRV4_B);
	probe(&ps, BAD, DROP, "ping " SRV6_B);
	probe(&ps, SRV, OK, "ping " GOOD4);
	probe(&ps, SRV, OK, "ping " GOOD6);
	probe(&ps, SRV, OK, "ping " BAD6);
	probe(&ps, SRV, REFUSED, "udp " GOOD4 " 7001");
	probe(&ps, SRV, REFUSED, "udp " GOOD6 " 7001");
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probes_run(&ps);
	topo_down();
}
END_TEST

/* 1. IPv6 neighbour discovery is never blocked, even with icmp = none and
 * for a denied host: neighbour entries created after fwd applied resolve. */
START_TEST(test_ipv6_nd)
{
	struct probes ps = { .n = 0 };
	char *out;

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "none", "");
	fwd_start(T.policy);
	for (int r = 0; r < NROLES; r++)
		free(sh_ok("ip -n %s -6 neigh flush all", E.ns[r]));
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
	probe(&ps, SRV, REFUSED, "udp " BAD6 " 9");	/* srv resolves bad */
	probes_run(&ps);
	out = sh_ok("ip -n %s -6 neigh show " SRV6_G, E.ns[GOOD]);
	ck_assert_msg(strstr(out, "lladdr"), "good did not resolve srv: %s", out);
	free(out);
	out = sh_ok("ip -n %s -6 neigh show " SRV6_B, E.ns[BAD]);
	ck_assert_msg(strstr(out, "lladdr"), "bad did not resolve srv (ND blocked?): %s", out);
	free(out);
	out = sh_ok("ip -n %s -6 neigh show " BAD6, E.ns[SRV]);
	ck_assert_msg(strstr(out, "lladdr") && !strstr(out, "FAILED"),
		      "srv did not resolve bad (ND blocked?): %s", out);
	free(out);
	topo_down();
}
END_TEST

/* 2. SIGHUP changes what is reachable: add the bad host, it gets in; remove
 * it again, it is out. The generation in the log goes up each time. */
START_TEST(test_sighup)
{
	struct probes ps = { .n = 0 };
	char *log;

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "essential", "");
	fwd_start(T.policy);
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, DROP, "udp " SRV6_B " 53");
	probes_run(&ps);

	write_basic("deny", "essential", ", " BAD4 ", " BAD6);
	fwd_reload(2);
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, OK, "connect tcp " SRV6_B " 22");
	probe(&ps, BAD, OK, "udp " SRV4_B " 53");
	probe(&ps, BAD, OK, "udp " SRV6_B " 53");
	probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 9999");
	probes_run(&ps);

	write_basic("deny", "essential", "");
	fwd_reload(3);
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
	probe(&ps, BAD, DROP, "udp " SRV4_B " 53");
	probe(&ps, BAD, DROP, "udp " SRV6_B " 53");
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probes_run(&ps);

	log = slurp_or_empty(T.fwdlog);
	ck_assert_msg(strstr(log, "generation 1)") && strstr(log, "generation 2)") &&
		      strstr(log, "generation 3)"), "generations not counted up:\n%s", log);
	free(log);
	topo_down();
}
END_TEST

/* 3. A bad file + SIGHUP changes nothing: the table is byte-identical, the
 * traffic verdicts are the same, fwd keeps running and logs every error with
 * FILE:LINE. Fixing the file and HUPing again applies. */
START_TEST(test_bad_reload)
{
	struct probes ps = { .n = 0 };
	char *before, *after, want[400];

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "essential", "");
	fwd_start(T.policy);
	before = nft_list(SRV);

	/* Two errors: port out of range (line 14) and an unknown @list (line 15);
	 * the bad host is added too, so a partial apply would show. */
	write_file(T.policy, policy_basic_fmt, "deny", "essential", ", " BAD4);
	{
		char *txt = slurp_or_empty(T.policy), *p;

		p = strstr(txt, "ports = 53/udp");
		ck_assert(p);
		memcpy(p, "ports = 99999 ", 14);
		p = strstr(p, "allow = @good");
		ck_assert(p);
		write_file(T.policy, "%.*sallow = @nosuch%s", (int)(p - txt), txt,
			   p + strlen("allow = @good"));
		free(txt);
	}
	kill(T.fwd, SIGHUP);
	ck_assert_msg(wait_for(T.fwdlog, "reload failed", 1, 10),
		      "no 'reload failed' in the log:\n%s", slurp_or_empty(T.fwdlog));
	snprintf(want, sizeof(want), "%s:14: ", T.policy);
	ck_assert_msg(wait_for(T.fwdlog, want, 1, 2), "no '%s' error:\n%s", want,
		      slurp_or_empty(T.fwdlog));
	snprintf(want, sizeof(want), "%s:15: ", T.policy);
	ck_assert_msg(wait_for(T.fwdlog, want, 1, 2), "no '%s' error:\n%s", want,
		      slurp_or_empty(T.fwdlog));
	ck_assert_uint_eq(applied_count(), 1);
	ck_assert_msg(fwd_alive(), "fwd exited on a bad reload:\n%s", slurp_or_empty(T.fwdlog));

	after = nft_list(SRV);
	ck_assert_msg(strcmp(before, after) == 0,
		      "table changed by a failed reload:\n--- before\n%s\n--- after\n%s",
		      before, after);
	expect_basic(&ps, DROP);
	probes_run(&ps);

	write_basic("deny", "essential", ", " BAD4);
	fwd_reload(2);
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");
	probes_run(&ps);
	free(before);
	free(after);
	topo_down();
}
END_TEST

/* 4. SIGTERM: fwd exits 0, the table stays, and it still decides. */
START_TEST(test_sigterm)
{
	struct probes ps = { .n = 0 };
	int rc;

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "essential", "");
	fwd_start(T.policy);
	rc = stop_proc(T.fwd, 5);
	ck_assert_msg(rc == 0, "fwd exited %d on SIGTERM:\n%s", rc, slurp_or_empty(T.fwdlog));
	free(nft_list(SRV));
	expect_basic(&ps, DROP);
	probes_run(&ps);
	topo_down();
}
END_TEST

/*
 * The table guard: where the table has no owner flag (--no-owner; kernels
 * without it), another process deleting or changing it is noticed through
 * nf_tables events and the table is back within a second, with the culprit
 * in the log. Also fwctl disable/enable and doctor against the live daemon.
 */
START_TEST(test_guard_restores)
{
	struct probes ps = { .n = 0 };
	char *sock, *before, *after, *out = NULL;
	double t0, back = -1;
	int rc;

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	write_basic("deny", "essential", "");
	fwd_start_with(T.policy, "--no-owner");
	sock = path_in("fwd.sock");
	before = nft_list(SRV);

	/* Somebody else deletes the table. */
	free(sh_ok("ip netns exec %s nft delete table inet fwd_filter", E.ns[SRV]));
	t0 = now();
	while (now() - t0 < 3.0) {
		if (tu_sh(NULL, "ip netns exec %s nft list table inet fwd_filter "
			  ">/dev/null 2>&1", E.ns[SRV]) == 0) {
			back = now() - t0;
			break;
		}
		msleep(20);
	}
	ck_assert_msg(back >= 0 && back <= 1.0, "table not restored within 1 s "
		      "(%.2f s):\n%s", back, slurp_or_empty(T.fwdlog));
	ck_assert_msg(wait_for(T.fwdlog, "deleted table inet fwd_filter", 1, 2),
		      "the guard did not log who deleted the table:\n%s",
		      slurp_or_empty(T.fwdlog));
	ck_assert_msg(wait_for(T.fwdlog, "table guard: nft (pid ", 1, 2),
		      "the guard did not name the process:\n%s", slurp_or_empty(T.fwdlog));
	after = nft_list(SRV);
	ck_assert_msg(strcmp(before, after) == 0, "restored table differs:\n%s\n---\n%s",
		      before, after);
	expect_basic(&ps, DROP);
	probes_run(&ps);

	/* Somebody else adds an accept-all rule: removed again. */
	free(sh_ok("ip netns exec %s nft insert rule inet fwd_filter input accept", E.ns[SRV]));
	t0 = now();
	back = -1;
	while (now() - t0 < 3.0) {
		char *cur = nft_list(SRV);
		bool same = strcmp(cur, before) == 0;

		free(cur);
		if (same) {
			back = now() - t0;
			break;
		}
		msleep(20);
	}
	ck_assert_msg(back >= 0 && back <= 1.0, "foreign rule not removed within 1 s:\n%s",
		      slurp_or_empty(T.fwdlog));

	/* fwctl doctor sees fwd's table; disable opens, enable closes. */
	rc = tu_sh(&out, "ip netns exec %s %s doctor", E.ns[SRV], FWCTL);
	ck_assert_msg(rc == 0 && strstr(out, "inet fwd_filter"), "doctor (%d):\n%s", rc, out);
	free(out);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s disable </dev/null", E.ns[SRV], FWCTL, sock);
	ck_assert_msg(rc == 1 && strstr(out, "--yes"), "disable without --yes (%d):\n%s", rc, out);
	free(out);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s disable --yes", E.ns[SRV], FWCTL, sock);
	ck_assert_msg(rc == 0, "disable --yes (%d):\n%s", rc, out);
	free(out);
	msleep(300);	/* the guard must NOT put a disabled table back */
	ck_assert_msg(tu_sh(NULL, "ip netns exec %s nft list table inet fwd_filter "
			    ">/dev/null 2>&1", E.ns[SRV]) != 0, "table still there after disable");
	ps.n = 0;
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");	/* open now */
	probes_run(&ps);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s enable", E.ns[SRV], FWCTL, sock);
	ck_assert_msg(rc == 0, "enable (%d):\n%s", rc, out);
	free(out);
	ps.n = 0;
	expect_basic(&ps, DROP);
	probes_run(&ps);
	free(before);
	free(after);
	topo_down();
}
END_TEST

/*
 * 5. 100 re-applies while the denied host streams TCP SYNs (new ports) and
 * UDP datagrams at the allowed ports, over IPv4 and IPv6: none of its packets
 * may be accepted, at any moment. Measured three ways:
 *  - nft counters in our own table `inet fwdtest` in srv: chain `pre` at
 *    input priority -300 (before fwd's chain, priority 0) counts the bad
 *    host's packets that arrive, chain `post` at priority 300 counts those
 *    that got past fwd (a drop anywhere ends evaluation): post must be 0
 *    while pre is in the thousands;
 *  - the listeners in srv count what reaches the sockets from the bad host;
 *  - the TCP flood counts handshakes that completed.
 * The allowed host streams too: every one of its packets must get through
 * (pre == post), i.e. a re-apply never shuts the allowed traffic out either.
 * fwd must also leave our `fwdtest` table alone.
 */
START_TEST(test_reapply_under_fire)
{
	char *rules = NULL, *tcplog, *udplog, *flog[5];
	unsigned long long bad_pre, bad_udp, bad_tcp, good_pre, good_post;
	long tcp_sock, udp_sock, tcp_conn;
	char summary[512];
	const int reloads = 100;
	pid_t floods[5], tcpl, udpl;
	double t0;

	if (!tu_need_root())
		return;
	topo_up();
	tcplog = listener_pid("listen", "tcp", 22, &tcpl);
	udplog = listener_pid("sink", "udp", 53, &udpl);
	write_basic("deny", "essential", "");
	fwd_start(T.policy);

	rules = path_in("fwdtest.nft");
	write_file(rules,
		"define bad4 = " BAD4 "\n"
		"define bad6 = " BAD6 "\n"
		"table inet fwdtest {\n"
		"  counter bad_pre { }\n  counter bad_udp_post { }\n  counter bad_tcp_post { }\n"
		"  counter good_pre { }\n  counter good_post { }\n"
		"  chain pre {\n"
		"    type filter hook input priority -300; policy accept;\n"
		"    ip saddr $bad4 meta l4proto { tcp, udp } th dport { 22, 53 } counter name \"bad_pre\"\n"
		"    ip6 saddr $bad6 meta l4proto { tcp, udp } th dport { 22, 53 } counter name \"bad_pre\"\n"
		"    ip saddr " GOOD4 " udp dport 53 counter name \"good_pre\"\n"
		"  }\n"
		"  chain post {\n"
		"    type filter hook input priority 300; policy accept;\n"
		"    ip saddr $bad4 udp dport 53 counter name \"bad_udp_post\"\n"
		"    ip6 saddr $bad6 udp dport 53 counter name \"bad_udp_post\"\n"
		"    ip saddr $bad4 tcp dport 22 counter name \"bad_tcp_post\"\n"
		"    ip6 saddr $bad6 tcp dport 22 counter name \"bad_tcp_post\"\n"
		"    ip saddr " GOOD4 " udp dport 53 counter name \"good_post\"\n"
		"  }\n"
		"}\n");
	free(sh_ok("ip netns exec %s nft -f %s", E.ns[SRV], rules));

	for (int i = 0; i < 5; i++)
		if (asprintf(&flog[i], "%s/flood%d.log", E.dir, i) < 0)
			abort();
	floods[0] = spawn(BAD, flog[0], (const char *[]){ NETTOOL, "flood", "udp",
		SRV4_B, "53", "--rate", "20000", "--timeout", "90", NULL });
	floods[1] = spawn(BAD, flog[1], (const char *[]){ NETTOOL, "flood", "udp",
		SRV6_B, "53", "--rate", "20000", "--timeout", "90", NULL });
	floods[2] = spawn(BAD, flog[2], (const char *[]){ NETTOOL, "flood", "tcp",
		SRV4_B, "22", "--rate", "1000", "--timeout", "90", NULL });
	floods[3] = spawn(BAD, flog[3], (const char *[]){ NETTOOL, "flood", "tcp",
		SRV6_B, "22", "--rate", "1000", "--timeout", "90", NULL });
	floods[4] = spawn(GOOD, flog[4], (const char *[]){ NETTOOL, "flood", "udp",
		SRV4_G, "53", "--rate", "3000", "--timeout", "90", NULL });
	msleep(200);

	t0 = now();
	for (int i = 0; i < reloads; i++) {
		/* alternate between two policies that differ in a harmless
		 * member, so each re-apply really rebuilds the elements */
		write_basic("deny", "essential", i % 2 ? "" : ", 203.0.113.9");
		fwd_reload(2 + i);
	}
	fprintf(stderr, "e2e: %d re-applies in %.2f s\n", reloads, now() - t0);
	msleep(200);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(stop_proc(floods[i], 5), 0);
	msleep(100);

	bad_pre = nn_counter_packets(E.ns[SRV], "bad_pre");
	bad_udp = nn_counter_packets(E.ns[SRV], "bad_udp_post");
	bad_tcp = nn_counter_packets(E.ns[SRV], "bad_tcp_post");
	good_pre = nn_counter_packets(E.ns[SRV], "good_pre");
	good_post = nn_counter_packets(E.ns[SRV], "good_post");
	for (int i = 0; i < 5; i++) {
		char *fl = slurp_or_empty(flog[i]);

		fprintf(stderr, "e2e: flood %d: %s", i, fl);
		free(fl);
	}
	ck_assert_int_eq(stop_proc(tcpl, 5), 0);
	ck_assert_int_eq(stop_proc(udpl, 5), 0);
	tcp_sock = nn_num_after(tcplog, "count ");
	udp_sock = nn_num_after(udplog, "count ");
	tcp_conn = nn_num_after(flog[2], "connected ") + nn_num_after(flog[3], "connected ");
	snprintf(summary, sizeof(summary),
		 "bad host: %llu packets arrived; accepted by fwd: %llu UDP, %llu TCP; "
		 "reached sockets: %ld UDP, %ld TCP connections; handshakes completed: %ld. "
		 "good host: %llu arrived, %llu accepted",
		 bad_pre, bad_udp, bad_tcp, udp_sock, tcp_sock, tcp_conn, good_pre, good_post);
	fprintf(stderr, "e2e: %s\n", summary);

	ck_assert_msg(bad_pre > 10000, "the bad host's stream did not arrive: %s", summary);
	ck_assert_msg(bad_udp == 0 && bad_tcp == 0 && udp_sock == 0 && tcp_sock == 0 &&
		      tcp_conn == 0, "the denied host got through during re-applies: %s",
		      summary);
	ck_assert_msg(good_pre > 1000, "the good host's stream did not arrive: %s", summary);
	ck_assert_msg(good_post == good_pre, "allowed packets dropped during re-applies: %s",
		      summary);
	ck_assert_uint_eq(applied_count(), 1 + reloads);
	free(sh_ok("ip netns exec %s nft list table inet fwdtest", E.ns[SRV]));
	topo_down();
}
END_TEST

/* 6. No policy file: the built-in default opens 22/tcp to anyone, nothing
 * else. */
START_TEST(test_builtin_default)
{
	struct probes ps = { .n = 0 };
	char *missing;

	if (!tu_need_root())
		return;
	topo_up();
	basic_listeners();
	missing = path_in("no-such-dir/fwd.conf");
	fwd_start(missing);
	probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, OK, "connect tcp " SRV6_B " 22");
	probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 80");
	probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 80");
	probe(&ps, GOOD, DROP, "udp " SRV4_G " 53");
	probe(&ps, BAD, DROP, "udp " SRV6_B " 53");
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 9999");
	probes_run(&ps);
	topo_down();
}
END_TEST

/* 7. `fwd -n` touches nothing and prints a ruleset nft loads; the live
 * table, listed by nft, loads back too; the loaded -n ruleset enforces the
 * same verdicts as fwd itself. */
START_TEST(test_dry_run_loads)
{
	struct probes ps = { .n = 0 };
	char *out, *rs, *listed;

	if (!tu_need_root())
		return;
	topo_up();
	write_basic("deny", "essential", "");
	rs = path_in("dry.nft");
	out = sh_ok("ip netns exec %s %s -n -c %s > %s", E.ns[SRV], FWD, T.policy, rs);
	free(out);
	out = sh_ok("ip netns exec %s nft list ruleset", E.ns[SRV]);
	ck_assert_msg(out[0] == '\0', "fwd -n changed the kernel:\n%s", out);
	free(out);
	out = slurp_or_empty(rs);
	ck_assert_msg(strstr(out, "table inet fwd_filter"), "fwd -n printed:\n%s", out);
	free(out);
	free(sh_ok("ip netns exec %s nft -c -f %s", E.ns[GOOD], rs));

	/* The rendered ruleset, loaded by nft, decides like fwd would. */
	basic_listeners();
	free(sh_ok("ip netns exec %s nft -f %s", E.ns[SRV], rs));
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(&ps, GOOD, OK, "udp " SRV4_G " 53");
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, DROP, "udp " SRV6_B " 53");
	probe(&ps, BAD, OK, "connect tcp " SRV6_B " 80");
	probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 9999");
	probes_run(&ps);
	free(sh_ok("ip netns exec %s nft delete table inet fwd_filter", E.ns[SRV]));

	/* The live table as nft lists it loads back (names usable by nft). */
	fwd_start(T.policy);
	listed = path_in("listed.nft");
	free(sh_ok("ip netns exec %s nft list table inet fwd_filter > %s", E.ns[SRV], listed));
	free(sh_ok("ip netns exec %s nft -c -f %s", E.ns[BAD], listed));
	topo_down();
}
END_TEST

/* 7. fwctl check: exit 0 on a good file, 1 with FILE:LINE on stderr for a
 * bad or missing one. fwd --oneshot: 0 and a table for a good file, non-zero
 * and no table for a bad one. */
START_TEST(test_check_and_oneshot)
{
	struct probes ps = { .n = 0 };
	char *out, *bad, want[400];
	int rc;

	if (!tu_need_root())
		return;
	topo_up();
	write_basic("deny", "essential", "");
	bad = path_in("bad.conf");
	write_file(bad, "[defaults]\ninbound = deny\n[service x]\nports = 0/tcp\nallow = any\n");

	rc = tu_sh(&out, "%s check %s", FWCTL, T.policy);
	ck_assert_msg(rc == 0, "fwctl check (good) exited %d:\n%s", rc, out);
	free(out);
	rc = tu_sh(&out, "%s check %s 2>&1 >/dev/null", FWCTL, bad);
	snprintf(want, sizeof(want), "%s:4: ", bad);
	ck_assert_msg(rc == 1 && strstr(out, want), "fwctl check (bad) exited %d, "
		      "wanted 1 and '%s' on stderr:\n%s", rc, want, out);
	free(out);
	rc = tu_sh(&out, "%s check %s/missing.conf", FWCTL, E.dir);
	ck_assert_msg(rc == 1, "fwctl check (missing) exited %d:\n%s", rc, out);
	free(out);

	rc = tu_sh(&out, "ip netns exec %s %s --oneshot --state-dir '' -c %s",
		   E.ns[SRV], FWD, bad);
	ck_assert_msg(rc != 0 && strstr(out, want), "fwd --oneshot (bad) exited %d:\n%s",
		      rc, out);
	free(out);
	out = sh_ok("ip netns exec %s nft list ruleset", E.ns[SRV]);
	ck_assert_msg(out[0] == '\0', "a failed --oneshot left rules:\n%s", out);
	free(out);

	rc = tu_sh(&out, "ip netns exec %s %s --oneshot --state-dir '' -c %s",
		   E.ns[SRV], FWD, T.policy);
	ck_assert_msg(rc == 0, "fwd --oneshot exited %d:\n%s", rc, out);
	free(out);
	free(nft_list(SRV));
	basic_listeners();
	probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
	probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
	probes_run(&ps);
	topo_down();
}
END_TEST

/* ---- anti-spoofing ([defaults] rpfilter) ---- */

/* Sources with no route back from srv (srv has no default route). */
#define NOROUTE4 "203.0.113.9"
#define NOROUTE6 "2001:db8:99::9"

/* One datagram source: who sends (from which namespace, which of its
 * addresses) to which srv address, on its own port (one sink each). */
struct rpf_case {
	const char *what;
	enum nn_role from;
	const char *dst;
	const char *src;		/* NULL: good's link-local */
	unsigned port;
	bool strict, loose;		/* delivered with strict / loose */
	bool raw;			/* nettool rawudp (a source no socket binds) */
};

static const struct rpf_case rpf_cases[] = {
	{ "good via its own link (v4)", GOOD, SRV4_G, GOOD4, 7001, true, true, false },
	{ "good via its own link (v6)", GOOD, SRV6_G, GOOD6, 7002, true, true, false },
	{ "good from its link-local address", GOOD, SRV6_G, NULL, 7003, true, true, false },
	{ "good's address sent by bad (v4)", BAD, SRV4_B, GOOD4, 7004, false, true, false },
	{ "good's address sent by bad (v6)", BAD, SRV6_B, GOOD6, 7005, false, true, false },
	{ "an unroutable source (v4)", BAD, SRV4_B, NOROUTE4, 7006, false, false, false },
	{ "an unroutable source (v6)", BAD, SRV6_B, NOROUTE6, 7007, false, false, false },
	/* a DHCP client without an address: the kernel's fib lets 0.0.0.0 to
	 * the broadcast address through */
	{ "good's DHCP-style broadcast from 0.0.0.0", GOOD, "255.255.255.255",
	  "0.0.0.0", 7008, true, true, true },
};
#define NRPF (sizeof(rpf_cases) / sizeof(rpf_cases[0]))

static void write_rpf(const char *mode)
{
	/* The allowlist holds every source: only the reverse-path check can
	 * tell the spoofed ones apart. */
	write_file(T.policy,
		   "[defaults]\n"
		   "inbound = deny\n"
		   "%s%s%s"
		   "[service spoofable]\n"
		   "ports = 7001-7009/udp\n"
		   "allow = " GOOD4 ", " GOOD6 ", " NOROUTE4 ", " NOROUTE6
		   ", fe80::/10, 0.0.0.0\n",
		   mode ? "rpfilter = " : "", mode ? mode : "", mode ? "\n" : "");
}

/* good's link-local address, once it is usable (DAD done). */
static char *good_link_local(void)
{
	for (int i = 0; i < 300; i++) {
		char *out = sh_ok("ip -n %s -6 -o addr show dev eth0 scope link",
				  E.ns[GOOD]), *a = strstr(out, "inet6 "), *end;

		if (a && !strstr(out, "tentative")) {
			a += 6;
			end = strchr(a, '/');
			ck_assert_ptr_nonnull(end);
			*end = '\0';
			a = strdup(a);
			free(out);
			return a;
		}
		free(out);
		msleep(10);
	}
	ck_abort_msg("good has no usable link-local address");
	return NULL;
}

/* Send each case's datagrams (all at once, 1 s each) to its own sink in
 * srv; whether each sink got any. */
static void rpf_round(unsigned round, const char *ll, bool got[NRPF])
{
	pid_t pids[NRPF];
	char *logs[NRPF], *cmd = NULL, *next;
	int st;

	for (size_t i = 0; i < NRPF; i++) {
		char port[8];
		const char *argv[] = { NETTOOL, "sink", "udp", "::", port,
				       "--timeout", "60", NULL };

		char name[64];

		snprintf(port, sizeof(port), "%u", rpf_cases[i].port);
		snprintf(name, sizeof(name), "rpf-%u-%u.log", round, rpf_cases[i].port);
		logs[i] = nn_path(&E, name);
		pids[i] = spawn(SRV, logs[i], argv);
		ck_assert_msg(wait_for(logs[i], "ready\n", 1, 5), "sink %s", port);
	}
	/* bad must resolve srv's v6 address with the spoofed source itself
	 * (its kernel sends NS from the packet's source) */
	free(sh_ok("ip -n %s -6 neigh flush all", E.ns[BAD]));
	cmd = strdup("");
	for (size_t i = 0; i < NRPF; i++) {
		const struct rpf_case *c = &rpf_cases[i];

		if (c->raw)
			next = tu_asprintf("%sip netns exec %s %s rawudp %s %u --src %s "
					   "--dev eth0 --quiet & ", cmd, E.ns[c->from],
					   NETTOOL, c->dst, c->port, c->src);
		else
			next = tu_asprintf("%sip netns exec %s %s udp %s %u --src %s%s "
					   "--timeout 1 --quiet & ", cmd, E.ns[c->from],
					   NETTOOL, c->dst, c->port, c->src ? c->src : ll,
					   c->src ? "" : "%eth0");
		free(cmd);
		cmd = next;
	}
	/* exit codes: no echo ever comes back (sinks), a timeout each */
	st = tu_sh(NULL, "%s wait", cmd);
	ck_assert_int_eq(st, 0);
	free(cmd);
	for (size_t i = 0; i < NRPF; i++) {
		char *log, *tot;

		ck_assert_int_eq(stop_proc(pids[i], 5), 0);
		log = slurp_or_empty(logs[i]);
		tot = strstr(log, " total ");
		ck_assert_msg(tot, "sink %u printed no count:\n%s",
			      rpf_cases[i].port, log);
		got[i] = strtol(tot + 7, NULL, 10) > 0;
		free(log);
	}
}

/*
 * A known flow taken over: good talks to srv's `dst` from src port 40000
 * (the echo makes conntrack see the flow established), then bad sends
 * with the same addresses and ports over its own link. Whether that
 * reached srv's socket.
 */
static bool rpf_takeover(unsigned round, const char *dst, const char *src)
{
	const char *argv[] = { NETTOOL, "listen", "udp", "::", "7009",
			       "--timeout", "60", NULL };
	char name[64], *log, *tot;
	bool got;
	pid_t pid;

	for (int step = 0; step < 2; step++) {
		snprintf(name, sizeof(name), "rpf-%u-%s-%d.log", round, src, step);
		log = nn_path(&E, name);
		pid = spawn(SRV, log, argv);
		ck_assert_msg(wait_for(log, "ready\n", 1, 5), "listener 7009");
		if (step == 0)
			free(sh_ok("ip netns exec %s %s udp %s 7009 --src %s "
				   "--sport 40000-40000 --timeout 3", E.ns[GOOD],
				   NETTOOL, dst, src));
		else
			tu_sh(NULL, "ip netns exec %s %s udp %s 7009 --src %s "
			      "--sport 40000-40000 --timeout 1 --quiet", E.ns[BAD],
			      NETTOOL, dst, src);
		ck_assert_int_eq(stop_proc(pid, 5), 0);
	}
	log = slurp_or_empty(log);
	tot = strstr(log, " total ");
	ck_assert_msg(tot, "listener printed no count:\n%s", log);
	got = strtol(tot + 7, NULL, 10) > 0;
	free(log);
	return got;
}

/*
 * rpfilter: every source below is on the allowlist, so the reverse-path
 * check alone decides. strict (the default, and written out): good's own
 * datagrams pass (v4, v6, from its link-local address), good's addresses
 * sent by bad (on srv's other interface) and unroutable sources do not;
 * loose: only the unroutable ones are dropped; no: everything passes.
 * A DHCP-style broadcast from 0.0.0.0 passes in every mode. The check
 * comes before the conntrack accept: with strict, bad cannot take over
 * good's established flow either (v4 and v6).
 * srv's kernel rp_filter is off, so the table is what drops. Neighbour
 * discovery is never the victim: bad resolves srv from a source that
 * fails the check. Each mode is a SIGHUP reload of the running fwd.
 */
START_TEST(test_rpfilter)
{
	static const char *const modes[] = { NULL, "loose", "no", "strict" };
	char *ll, *out;
	size_t applied = 1;

	if (!tu_need_root())
		return;
	topo_up();
	/* The kernel's own IPv4 check off in srv (a new namespace may have
	 * inherited the host's): only fwd's table may drop. */
	free(sh_ok("ip netns exec %s sh -c 'for f in /proc/sys/net/ipv4/conf/*/rp_filter; "
		   "do echo 0 > $f; done'", E.ns[SRV]));
	free(sh_ok("ip -n %1$s addr add " GOOD4 "/32 dev eth0 && "
		   "ip -n %1$s addr add " GOOD6 "/128 dev eth0 nodad && "
		   "ip -n %1$s addr add " NOROUTE4 "/32 dev eth0 && "
		   "ip -n %1$s addr add " NOROUTE6 "/128 dev eth0 nodad && "
		   /* srv's good-side addresses, reached over bad's own link
		    * (srv answers ND only for the link's own addresses) */
		   "ip -n %1$s route add " SRV4_G "/32 via " SRV4_B " && "
		   "ip -n %1$s -6 route add " SRV6_G "/128 via " SRV6_B, E.ns[BAD]));
	ll = good_link_local();
	write_rpf(NULL);
	fwd_start(T.policy);
	for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
		const char *mode = modes[m] ? modes[m] : "strict";
		bool strict = !strcmp(mode, "strict"), loose = !strcmp(mode, "loose");
		bool got[NRPF];
		char *fails = strdup("");

		if (m > 0) {
			write_rpf(modes[m]);
			fwd_reload(++applied);
		}
		out = nft_list(SRV);
		ck_assert_msg(!!strstr(out, "fib saddr . mark . iif oif missing drop") == strict &&
			      !!strstr(out, "fib saddr . mark oif missing drop") == loose,
			      "rpfilter = %s, table:\n%s", mode, out);
		free(out);
		rpf_round((unsigned)m, ll, got);
		for (size_t i = 0; i < NRPF; i++) {
			const struct rpf_case *c = &rpf_cases[i];
			bool want = strict ? c->strict : loose ? c->loose : true;

			if (got[i] != want) {
				char *f = tu_asprintf("%s\n  %s (%s from %s to %s): %s, "
							"want %s", fails, c->what,
							nn_role_names[c->from],
							c->src ? c->src : ll, c->dst,
							got[i] ? "delivered" : "dropped",
							want ? "delivered" : "dropped");

				free(fails);
				fails = f;
			}
		}
		for (int v6 = 0; v6 < 2; v6++) {
			if (rpf_takeover((unsigned)m, v6 ? SRV6_G : SRV4_G,
					 v6 ? GOOD6 : GOOD4) != !strict) {
				char *f = tu_asprintf("%s\n  good's established v%d flow "
						      "sent by bad: %s", fails,
						      v6 ? 6 : 4, strict ? "delivered" :
						      "dropped");

				free(fails);
				fails = f;
			}
		}
		ck_assert_msg(!*fails, "rpfilter = %s:%s", mode, fails);
		free(fails);
		out = sh_ok("ip -n %s -6 neigh show " SRV6_B, E.ns[BAD]);
		ck_assert_msg(strstr(out, "lladdr"), "rpfilter = %s: bad did not "
			      "resolve srv from " GOOD6 " (ND dropped?): %s", mode, out);
		free(out);
	}
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	free(ll);
	topo_down();
}
END_TEST

static Suite *e2e_suite(void)
{
	Suite *s = suite_create("e2e");

	nn_add_test(s, "topology_open", test_topology_open, 60, NULL);
	nn_add_test(s, "deny_tcp_udp", test_deny_tcp_udp, 60, NULL);
	nn_add_test(s, "reject", test_reject, 60, NULL);
	nn_add_test(s, "icmp_all_none", test_icmp_all_none, 60, NULL);
	nn_add_test(s, "ipv6_nd", test_ipv6_nd, 60, NULL);
	nn_add_test(s, "sighup", test_sighup, 60, NULL);
	nn_add_test(s, "bad_reload", test_bad_reload, 60, NULL);
	nn_add_test(s, "sigterm", test_sigterm, 60, NULL);
	nn_add_test(s, "reapply_under_fire", test_reapply_under_fire, 180, NULL);
	nn_add_test(s, "builtin_default", test_builtin_default, 60, NULL);
	nn_add_test(s, "dry_run_loads", test_dry_run_loads, 60, NULL);
	nn_add_test(s, "check_and_oneshot", test_check_and_oneshot, 60, NULL);
	nn_add_test(s, "guard_restores", test_guard_restores, 90, NULL);
	nn_add_test(s, "rpfilter", test_rpfilter, 90, NULL);
	return s;
}

int main(void)
{
	return nn_run(e2e_suite());
}
