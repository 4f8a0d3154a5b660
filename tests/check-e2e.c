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
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum role { SRV, GOOD, BAD, NROLES };
static const char *const role_names[NROLES] = { "srv", "good", "bad" };

/* nettool exit codes (tests/nettool.c) */
enum { OK = 0, DROP = 1, REFUSED = 2, UNREACH = 3, REJECTED = -2 /* 2 or 3 */ };

#define SRV4_G "192.0.2.1"
#define SRV6_G "2001:db8:1::1"
#define SRV4_B "198.51.100.1"
#define SRV6_B "2001:db8:2::1"
#define GOOD4 "192.0.2.2"
#define GOOD6 "2001:db8:1::2"
#define BAD4 "198.51.100.2"
#define BAD6 "2001:db8:2::2"

#define MAX_PROCS 32

/* The runner's pid names the namespaces, so that the runner can clean up
 * after a test child that died. Set in main(), inherited by the children. */
static pid_t runner;

/* Per-test state: each test is its own forked process. */
static struct {
	char ns[NROLES][48];
	char dir[256];		/* scratch: policies, logs, fwd state */
	char policy[300];
	char fwdlog[300];
	pid_t fwd;
	pid_t procs[MAX_PROCS];
	int nprocs;
} T;

static const char *tool(const char *env, const char *rel)
{
	const char *p = getenv(env);

	return p && *p ? p : tu_build(rel);
}

#define FWD tool("FWD_BIN", "daemon/fwd")
#define FWCTL tool("FWCTL_BIN", "ctl/fwctl")
#define NETTOOL tool("FWD_NETTOOL", "tests/nettool")

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Run a shell command; fail the test with its output unless it exits 0. */
static char *sh_ok(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *sh_ok(const char *fmt, ...)
{
	char *cmd, *out;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = tu_sh(&out, "%s", cmd);
	ck_assert_msg(rc == 0, "`%s` exited %d:\n%s", cmd, rc, out);
	free(cmd);
	return out;
}

/* Kill every process inside our namespace (all of them were started by this
 * suite), then remove it. Quiet when it does not exist. */
static void purge_netns(const char *name)
{
	tu_sh(NULL, "if ip netns list | grep -qw '%s'; then "
		    "for p in $(ip netns pids %s 2>/dev/null); do kill -9 $p; done; "
		    "ip netns del %s; fi", name, name, name);
}

static void names_for(pid_t pid, char ns[NROLES][48])
{
	for (int r = 0; r < NROLES; r++)
		snprintf(ns[r], sizeof(ns[r]), "fwdt-%d-%s", (int)pid, role_names[r]);
}

static void scratch_dir(pid_t pid, char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/fwdt-%d", tmp && *tmp ? tmp : "/tmp", (int)pid);
}

static void cleanup_runner(pid_t pid)
{
	char ns[NROLES][48], dir[256];

	names_for(pid, ns);
	for (int r = 0; r < NROLES; r++)
		purge_netns(ns[r]);
	scratch_dir(pid, dir, sizeof(dir));
	tu_sh(NULL, "rm -rf '%s'", dir);
}

/* Namespaces left by a runner that was killed (its pid no longer exists). */
static void sweep_stale(void)
{
	char *out, *line, *save = NULL;

	tu_sh(&out, "ip netns list 2>/dev/null");
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int pid;

		if (sscanf(line, "fwdt-%d-", &pid) == 1 && pid > 0 && pid != runner &&
		    kill(pid, 0) != 0 && errno == ESRCH)
			cleanup_runner(pid);
	}
	free(out);
}

static void write_file(const char *path, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_msg(f != NULL, "cannot write %s", path);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert(fclose(f) == 0);
}

static char *path_in(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", T.dir, name) < 0)
		abort();
	return p;
}

static void topo_up(void)
{
	const char *s, *g, *b;

	memset(&T, 0, sizeof(T));
	names_for(runner, T.ns);
	cleanup_runner(runner);
	scratch_dir(runner, T.dir, sizeof(T.dir));
	ck_assert_msg(mkdir(T.dir, 0700) == 0, "mkdir %s: %s", T.dir, strerror(errno));
	snprintf(T.policy, sizeof(T.policy), "%s/fwd.conf", T.dir);
	snprintf(T.fwdlog, sizeof(T.fwdlog), "%s/fwd.log", T.dir);
	s = T.ns[SRV];
	g = T.ns[GOOD];
	b = T.ns[BAD];
	free(sh_ok(
		"set -e\n"
		"for n in %1$s %2$s %3$s; do\n"
		"  ip netns add $n\n"
		"  ip -n $n link set lo up\n"
		"  ip netns exec $n sysctl -qw net.ipv6.conf.default.accept_dad=0 "
		"net.ipv6.conf.all.accept_dad=0\n"
		"done\n"
		"ip -n %1$s link add vg type veth peer name eth0 netns %2$s\n"
		"ip -n %1$s link add vb type veth peer name eth0 netns %3$s\n"
		"ip -n %1$s addr add " SRV4_G "/24 dev vg\n"
		"ip -n %1$s addr add " SRV6_G "/64 dev vg nodad\n"
		"ip -n %1$s addr add " SRV4_B "/24 dev vb\n"
		"ip -n %1$s addr add " SRV6_B "/64 dev vb nodad\n"
		"ip -n %2$s addr add " GOOD4 "/24 dev eth0\n"
		"ip -n %2$s addr add " GOOD6 "/64 dev eth0 nodad\n"
		"ip -n %3$s addr add " BAD4 "/24 dev eth0\n"
		"ip -n %3$s addr add " BAD6 "/64 dev eth0 nodad\n"
		"ip -n %1$s link set vg up\n"
		"ip -n %1$s link set vb up\n"
		"ip -n %2$s link set eth0 up\n"
		"ip -n %3$s link set eth0 up\n",
		s, g, b));
}

static void topo_down(void)
{
	for (int i = 0; i < T.nprocs; i++)
		if (T.procs[i] > 0 && kill(T.procs[i], SIGKILL) == 0)
			waitpid(T.procs[i], NULL, 0);
	cleanup_runner(runner);
}

/* Unchecked (runner-side) teardown: whatever a dead test child left. */
static void runner_cleanup(void)
{
	cleanup_runner(runner);
}

/* Start argv inside a namespace, output to logpath; returns its pid (that of
 * the program itself: `ip netns exec` execs without forking). */
static pid_t spawn(enum role r, const char *logpath, const char *const argv[])
{
	const char *full[24] = { "ip", "netns", "exec", T.ns[r] };
	int n = 4;
	pid_t pid;

	for (int i = 0; argv[i]; i++) {
		ck_assert(n < 23);
		full[n++] = argv[i];
	}
	full[n] = NULL;
	ck_assert(T.nprocs < MAX_PROCS);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
		int nul = open("/dev/null", O_RDONLY);

		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("ip", (char *const *)full);
		_exit(127);
	}
	T.procs[T.nprocs++] = pid;
	return pid;
}

static size_t count_in_file(const char *path, const char *needle)
{
	char *buf = tu_slurp(path, NULL), *p;
	size_t n = 0;

	if (!buf)
		return 0;
	for (p = buf; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(buf);
	return n;
}

/* Wait (bounded) until `needle` occurs at least n times in the file. */
static bool wait_for(const char *path, const char *needle, size_t n, double secs)
{
	double end = now() + secs;

	do {
		if (count_in_file(path, needle) >= n)
			return true;
		msleep(10);
	} while (now() < end);
	return count_in_file(path, needle) >= n;
}

static char *slurp_or_empty(const char *path)
{
	char *s = tu_slurp(path, NULL);

	return s ? s : strdup("");
}

/* A nettool listener in srv; returns its log path once it is bound (and
 * its pid in *pid when asked). */
static char *listener_pid(const char *kind, const char *proto, unsigned port, pid_t *pid)
{
	char portstr[8], *log;
	const char *argv[12] = { NETTOOL, kind, proto, "::", portstr,
				 "--timeout", "200", "--from", BAD4, "--from", BAD6, NULL };

	snprintf(portstr, sizeof(portstr), "%u", port);
	if (asprintf(&log, "%s/%s-%s-%u.log", T.dir, kind, proto, port) < 0)
		abort();
	pid_t p = spawn(SRV, log, argv);

	ck_assert_msg(wait_for(log, "ready\n", 1, 5), "listener %s/%u did not start:\n%s",
		      proto, port, slurp_or_empty(log));
	if (pid)
		*pid = p;
	return log;
}

static char *listener(const char *kind, const char *proto, unsigned port)
{
	return listener_pid(kind, proto, port, NULL);
}

/* Stop a process we started with SIGTERM and reap it; its exit status. */
static int stop_proc(pid_t pid, double secs)
{
	double end = now() + secs;
	int st;

	kill(pid, SIGTERM);
	do {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid) {
			for (int i = 0; i < T.nprocs; i++)
				if (T.procs[i] == pid)
					T.procs[i] = 0;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		msleep(10);
	} while (now() < end);
	ck_abort_msg("process %d did not exit within %.1f s of SIGTERM", (int)pid, secs);
	return -1;
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

/* ---- probes: many at once, in parallel, each bounded ---- */

struct probe {
	enum role from;
	int expect;		/* OK, DROP, REFUSED, UNREACH or REJECTED */
	char cmd[160];		/* nettool arguments, or "ping ADDR" */
};

struct probes {
	struct probe p[48];
	int n;
};

static void probe(struct probes *ps, enum role from, int expect, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void probe(struct probes *ps, enum role from, int expect, const char *fmt, ...)
{
	va_list ap;

	ck_assert(ps->n < (int)(sizeof(ps->p) / sizeof(ps->p[0])));
	ps->p[ps->n].from = from;
	ps->p[ps->n].expect = expect;
	va_start(ap, fmt);
	vsnprintf(ps->p[ps->n].cmd, sizeof(ps->p[ps->n].cmd), fmt, ap);
	va_end(ap);
	ps->n++;
}

static bool matches(int expect, int got)
{
	if (expect == REJECTED)
		return got == REFUSED || got == UNREACH;
	return expect == got;
}

static const char *expect_name(int e)
{
	switch (e) {
	case OK: return "reachable";
	case DROP: return "dropped (timeout)";
	case REFUSED: return "refused";
	case UNREACH: return "unreachable";
	case REJECTED: return "rejected";
	default: return "?";
	}
}

/*
 * Run every probe at the same time (a shell job each) and fail with the
 * full list of mismatches. Expected drops wait 0.8 s, everything else up to
 * 3 s (it answers at once when things work).
 */
static void probes_run(struct probes *ps)
{
	char *script = NULL, *out, *line, *save = NULL, *report = NULL;
	size_t slen = 0;
	FILE *f = open_memstream(&script, &slen);
	int got[48], nbad = 0;

	for (int i = 0; i < ps->n; i++) {
		const struct probe *p = &ps->p[i];
		const char *t = p->expect == DROP ? "0.8" : "3";

		got[i] = -1;
		if (strncmp(p->cmd, "ping ", 5) == 0)
			fprintf(f, "( r=$(ip netns exec %s ping -c1 -W%s -q %s 2>&1); c=$?; "
				"echo \"@@ %d $c $(echo $r | tr '\\n' ' ')\" ) &\n",
				T.ns[p->from], p->expect == DROP ? "1" : "3", p->cmd + 5, i);
		else
			fprintf(f, "( r=$(ip netns exec %s %s %s --timeout %s 2>&1); c=$?; "
				"echo \"@@ %d $c $r\" ) &\n",
				T.ns[p->from], NETTOOL, p->cmd, t, i);
	}
	fprintf(f, "wait\n");
	fclose(f);
	tu_sh(&out, "%s", script);
	free(script);

	f = open_memstream(&report, &slen);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int i, c, off = 0;

		if (sscanf(line, "@@ %d %d %n", &i, &c, &off) < 2 || i < 0 || i >= ps->n)
			continue;
		got[i] = c;
		if (!matches(ps->p[i].expect, c)) {
			fprintf(f, "\n  %s: %s: expected %s, got exit %d (%s)",
				role_names[ps->p[i].from], ps->p[i].cmd,
				expect_name(ps->p[i].expect), c, line + off);
			nbad++;
		}
	}
	for (int i = 0; i < ps->n; i++)
		if (got[i] < 0) {
			fprintf(f, "\n  %s: %s: no result", role_names[ps->p[i].from],
				ps->p[i].cmd);
			nbad++;
		}
	fclose(f);
	free(out);
	ck_assert_msg(nbad == 0, "%d of %d probes wrong:%s", nbad, ps->n, report);
	free(report);
	ps->n = 0;
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

static char *nft_list(enum role r)
{
	return sh_ok("ip netns exec %s nft -s list table inet fwd_filter", T.ns[r]);
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
		free(sh_ok("ip -n %s -6 neigh flush all", T.ns[r]));
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
	probe(&ps, SRV, REFUSED, "udp " BAD6 " 9");	/* srv resolves bad */
	probes_run(&ps);
	out = sh_ok("ip -n %s -6 neigh show " SRV6_G, T.ns[GOOD]);
	ck_assert_msg(strstr(out, "lladdr"), "good did not resolve srv: %s", out);
	free(out);
	out = sh_ok("ip -n %s -6 neigh show " SRV6_B, T.ns[BAD]);
	ck_assert_msg(strstr(out, "lladdr"), "bad did not resolve srv (ND blocked?): %s", out);
	free(out);
	out = sh_ok("ip -n %s -6 neigh show " BAD6, T.ns[SRV]);
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
	free(sh_ok("ip netns exec %s nft delete table inet fwd_filter", T.ns[SRV]));
	t0 = now();
	while (now() - t0 < 3.0) {
		if (tu_sh(NULL, "ip netns exec %s nft list table inet fwd_filter "
			  ">/dev/null 2>&1", T.ns[SRV]) == 0) {
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
	free(sh_ok("ip netns exec %s nft insert rule inet fwd_filter input accept", T.ns[SRV]));
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
	rc = tu_sh(&out, "ip netns exec %s %s doctor", T.ns[SRV], FWCTL);
	ck_assert_msg(rc == 0 && strstr(out, "inet fwd_filter"), "doctor (%d):\n%s", rc, out);
	free(out);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s disable </dev/null", T.ns[SRV], FWCTL, sock);
	ck_assert_msg(rc == 1 && strstr(out, "--yes"), "disable without --yes (%d):\n%s", rc, out);
	free(out);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s disable --yes", T.ns[SRV], FWCTL, sock);
	ck_assert_msg(rc == 0, "disable --yes (%d):\n%s", rc, out);
	free(out);
	msleep(300);	/* the guard must NOT put a disabled table back */
	ck_assert_msg(tu_sh(NULL, "ip netns exec %s nft list table inet fwd_filter "
			    ">/dev/null 2>&1", T.ns[SRV]) != 0, "table still there after disable");
	ps.n = 0;
	probe(&ps, BAD, OK, "connect tcp " SRV4_B " 22");	/* open now */
	probes_run(&ps);
	rc = tu_sh(&out, "ip netns exec %s %s -S %s enable", T.ns[SRV], FWCTL, sock);
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

/* Named counters in a table of our own, read back as a number. */
static unsigned long long counter_packets(const char *name)
{
	char *out = sh_ok("ip netns exec %s nft list counter inet fwdtest %s",
			  T.ns[SRV], name);
	char *p = strstr(out, "packets ");
	unsigned long long v;

	ck_assert_msg(p && sscanf(p, "packets %llu", &v) == 1, "no counter in: %s", out);
	free(out);
	return v;
}

static long count_from_log(const char *log, const char *key)
{
	char *s = slurp_or_empty(log), *p = strstr(s, key);
	long v = -1;

	if (p)
		sscanf(p + strlen(key), "%ld", &v);
	free(s);
	return v;
}

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
	free(sh_ok("ip netns exec %s nft -f %s", T.ns[SRV], rules));

	for (int i = 0; i < 5; i++)
		if (asprintf(&flog[i], "%s/flood%d.log", T.dir, i) < 0)
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

	bad_pre = counter_packets("bad_pre");
	bad_udp = counter_packets("bad_udp_post");
	bad_tcp = counter_packets("bad_tcp_post");
	good_pre = counter_packets("good_pre");
	good_post = counter_packets("good_post");
	for (int i = 0; i < 5; i++) {
		char *fl = slurp_or_empty(flog[i]);

		fprintf(stderr, "e2e: flood %d: %s", i, fl);
		free(fl);
	}
	ck_assert_int_eq(stop_proc(tcpl, 5), 0);
	ck_assert_int_eq(stop_proc(udpl, 5), 0);
	tcp_sock = count_from_log(tcplog, "count ");
	udp_sock = count_from_log(udplog, "count ");
	tcp_conn = count_from_log(flog[2], "connected ") + count_from_log(flog[3], "connected ");
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
	free(sh_ok("ip netns exec %s nft list table inet fwdtest", T.ns[SRV]));
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
	out = sh_ok("ip netns exec %s %s -n -c %s > %s", T.ns[SRV], FWD, T.policy, rs);
	free(out);
	out = sh_ok("ip netns exec %s nft list ruleset", T.ns[SRV]);
	ck_assert_msg(out[0] == '\0', "fwd -n changed the kernel:\n%s", out);
	free(out);
	out = slurp_or_empty(rs);
	ck_assert_msg(strstr(out, "table inet fwd_filter"), "fwd -n printed:\n%s", out);
	free(out);
	free(sh_ok("ip netns exec %s nft -c -f %s", T.ns[GOOD], rs));

	/* The rendered ruleset, loaded by nft, decides like fwd would. */
	basic_listeners();
	free(sh_ok("ip netns exec %s nft -f %s", T.ns[SRV], rs));
	probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
	probe(&ps, GOOD, OK, "udp " SRV4_G " 53");
	probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
	probe(&ps, BAD, DROP, "udp " SRV6_B " 53");
	probe(&ps, BAD, OK, "connect tcp " SRV6_B " 80");
	probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 9999");
	probes_run(&ps);
	free(sh_ok("ip netns exec %s nft delete table inet fwd_filter", T.ns[SRV]));

	/* The live table as nft lists it loads back (names usable by nft). */
	fwd_start(T.policy);
	listed = path_in("listed.nft");
	free(sh_ok("ip netns exec %s nft list table inet fwd_filter > %s", T.ns[SRV], listed));
	free(sh_ok("ip netns exec %s nft -c -f %s", T.ns[BAD], listed));
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
	rc = tu_sh(&out, "%s check %s/missing.conf", FWCTL, T.dir);
	ck_assert_msg(rc == 1, "fwctl check (missing) exited %d:\n%s", rc, out);
	free(out);

	rc = tu_sh(&out, "ip netns exec %s %s --oneshot --state-dir '' -c %s",
		   T.ns[SRV], FWD, bad);
	ck_assert_msg(rc != 0 && strstr(out, want), "fwd --oneshot (bad) exited %d:\n%s",
		      rc, out);
	free(out);
	out = sh_ok("ip netns exec %s nft list ruleset", T.ns[SRV]);
	ck_assert_msg(out[0] == '\0', "a failed --oneshot left rules:\n%s", out);
	free(out);

	rc = tu_sh(&out, "ip netns exec %s %s --oneshot --state-dir '' -c %s",
		   T.ns[SRV], FWD, T.policy);
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

/* One TCase per test, so that CK_RUN_CASE=<name> runs a single one. */
static void add(Suite *s, const char *name, const TTest *t, int timeout)
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, NULL, runner_cleanup);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

static Suite *e2e_suite(void)
{
	Suite *s = suite_create("e2e");

	add(s, "topology_open", test_topology_open, 60);
	add(s, "deny_tcp_udp", test_deny_tcp_udp, 60);
	add(s, "reject", test_reject, 60);
	add(s, "icmp_all_none", test_icmp_all_none, 60);
	add(s, "ipv6_nd", test_ipv6_nd, 60);
	add(s, "sighup", test_sighup, 60);
	add(s, "bad_reload", test_bad_reload, 60);
	add(s, "sigterm", test_sigterm, 60);
	add(s, "reapply_under_fire", test_reapply_under_fire, 180);
	add(s, "builtin_default", test_builtin_default, 60);
	add(s, "dry_run_loads", test_dry_run_loads, 60);
	add(s, "check_and_oneshot", test_check_and_oneshot, 60);
	add(s, "guard_restores", test_guard_restores, 90);
	return s;
}

int main(void)
{
	int ret;

	runner = getpid();
	if (geteuid() == 0)
		sweep_stale();
	ret = tu_run(e2e_suite());
	if (geteuid() == 0)
		cleanup_runner(runner);
	return ret;
}
