// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl end to end: the real fwd and the real fwctl, every command, with
 * real traffic, and every kernel claim read back from the kernel (nft list,
 * conntrack), never taken from fwctl's own words.
 *
 * The topology is check-e2e's, three network namespaces named
 * fwdt-<runner pid>-{srv,good,bad}:
 *
 *     good (192.0.2.2, 2001:db8:1::2) --veth-- srv --veth-- bad (198.51.100.2, 2001:db8:2::2)
 *                        srv: 192.0.2.1, 2001:db8:1::1 | 198.51.100.1, 2001:db8:2::1
 *
 * fwd runs inside srv as `fwd -c DIR/fwd.conf --state-dir DIR/state -S
 * DIR/fwd.sock` (DIR = $TMPDIR/fwdt-<runner pid>), and so does every fwctl
 * (`ip netns exec srv fwctl -S DIR/fwd.sock ...`): its answers describe the
 * kernel state of the daemon's namespace. fwctl's edits land in
 * DIR/conf.d/99-fwctl.conf. Nothing touches the machine's own namespace.
 *
 * Established connections are real sockets of this test process, created
 * inside good/bad (setns there and back: a socket stays in the namespace it
 * was made in), talking to a nettool echo listener in srv.
 *
 * Cleanup: a failing test's forked child exits at once (libcheck), so the
 * runner removes the namespaces (killing what runs inside: all of it was
 * started by this suite) in an unchecked teardown, and a runner that was
 * killed is swept by the next run (fwdt-<pid>-* whose pid is gone).
 *
 * The environment's SSH_CONNECTION is set empty for every fwctl: fwctl
 * looks for it up its parent chain, and a developer's own SSH session must
 * not take part in the lockout guard; test_lockout sets it on purpose.
 */
/* The topology, processes and small helpers are tests/netns.c's. */
#define NN_SHORT_NAMES
#include "netns.h"
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What test_lockout's fwctl carries: an SSH session from bad to port 22. */
#define SSH_FROM_BAD "SSH_CONNECTION='" BAD4 " 50000 " SRV4_G " 22'"
#define SSH_FROM_GOOD "SSH_CONNECTION='" GOOD4 " 50001 " SRV4_G " 22'"

/* Per-test state: each test is its own forked process. */
static struct nn_env E;
static struct {
	char *policy;		/* DIR/fwd.conf */
	char *confd;		/* DIR/conf.d */
	char *edits;		/* DIR/conf.d/99-fwctl.conf */
	char *sock;		/* DIR/fwd.sock */
	char *state;		/* DIR/state */
	char *fwdlog;		/* DIR/fwd.log */
	pid_t fwd;
	size_t starts;		/* fwd starts so far (lines in the log) */
} T;

/* The last fwctl run (netns.h). */
static struct nn_fwctl_run R;

/* ---- small things ---- */

/* How many lines of the file are exactly `line` (without its newline). */
static size_t count_lines_eq(const char *path, const char *line)
{
	char *buf = slurp_or_empty(path), *save = NULL;
	size_t n = 0;

	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (strcmp(l, line) == 0)
			n++;
	free(buf);
	return n;
}

/*
 * Sleep until the wall clock is late in its second (fraction >= 0.8). fwd
 * keeps expiries in whole unix seconds: a request made late in a second is
 * where rounding down would cost the most, so timing checks are made there,
 * every run alike, rather than wherever the second happens to be.
 */
static void late_in_second(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_nsec < 800000000L)
		msleep((unsigned)((800000000L - ts.tv_nsec) / 1000000L) + 5);
}

/* ---- namespaces, processes (netns.c) ---- */

static char *path_in(const char *name)
{
	return tu_asprintf("%s/%s", E.dir, name);
}

static void topo_up(void)
{
	memset(&T, 0, sizeof(T));
	nn_up(&E, true);
	T.policy = path_in("fwd.conf");
	T.confd = path_in("conf.d");
	T.edits = path_in("conf.d/99-fwctl.conf");
	T.sock = path_in("fwd.sock");
	T.state = path_in("state");
	T.fwdlog = path_in("fwd.log");
}

static void topo_down(void)
{
	nn_down(&E);
	free(R.out);
	free(R.err);
	R.out = R.err = NULL;
	free(T.policy);
	free(T.confd);
	free(T.edits);
	free(T.sock);
	free(T.state);
	free(T.fwdlog);
}

/* Start argv inside a namespace, output appended to logpath; its pid. */
static pid_t spawn(enum nn_role r, const char *logpath, const char *const argv[])
{
	return nn_spawn(&E, r, logpath, argv, NULL);
}

/* SIGTERM a process we started and reap it; its exit status. */
static int stop_proc(pid_t pid, double secs)
{
	return nn_stop(&E, pid, secs);
}

/* A nettool echo listener in srv (both families), bound before it returns. */
static void listener(const char *proto, unsigned port)
{
	nn_listener(&E, "listen", proto, port, NULL);
}

/* ---- fwd ---- */

static bool fwd_alive(void)
{
	return T.fwd > 0 && waitpid(T.fwd, NULL, WNOHANG) == 0;
}

/* Start fwd in srv and wait until it serves its control socket. */
static void fwd_start(void)
{
	const char *argv[] = { FWD, "-c", T.policy, "--state-dir", T.state,
			       "-S", T.sock, NULL };

	T.starts++;
	T.fwd = spawn(SRV, T.fwdlog, argv);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: control socket at ", T.starts, 15),
		      "fwd (start %zu) did not serve its socket within 15 s:\n%s",
		      T.starts, slurp_or_empty(T.fwdlog));
}

static void fwd_stop(void)
{
	int rc;

	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	rc = stop_proc(T.fwd, 10);
	ck_assert_msg(rc == 0, "fwd exited %d on SIGTERM:\n%s", rc, slurp_or_empty(T.fwdlog));
	T.fwd = 0;
}

static void fwd_kill9(void)
{
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	nn_kill(&E, T.fwd);
	T.fwd = 0;
}

/* SIGHUP and wait for the re-apply's log line. */
static void fwd_hup(void)
{
	size_t n = count_in_file(T.fwdlog, "fwd: applied ");

	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	kill(T.fwd, SIGHUP);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: applied ", n + 1, 10),
		      "fwd did not re-apply on SIGHUP:\n%s", slurp_or_empty(T.fwdlog));
}

/* Lines 1-11 of every policy: explain's FILE:LINE answers name them. */
static const char policy_fmt[] =
	"[defaults]\n"				/* 1 */
	"inbound = %s\n"			/* 2 */
	"outbound = allow\n"			/* 3 */
	"icmp = essential\n"			/* 4 */
	"\n"					/* 5 */
	"[list good]\n"				/* 6 */
	"members = " GOOD4 ", " GOOD6 "\n"	/* 7 */
	"\n"					/* 8 */
	"[service ssh]\n"			/* 9 */
	"ports = 22/tcp\n"			/* 10 */
	"allow = @good\n"			/* 11 */
	"%s";					/* 12 on */

static void write_policy(const char *inbound, const char *extra)
{
	write_file(T.policy, policy_fmt, inbound, extra);
}

/* ---- fwctl ---- */

static int fwctl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fwctl(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nn_fwctl_v(&E, &R, T.sock, NULL, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int fwctl_env(const char *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fwctl_env(const char *env, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nn_fwctl_v(&E, &R, T.sock, env, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

static int fwctl_stdin(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fwctl_stdin(const char *path, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = nn_fwctl_v(&E, &R, T.sock, NULL, path, fmt, ap);
	va_end(ap);
	return rc;
}

/* fwctl must exit 0; fail with its words otherwise. */
#define FWCTL_OK(...)                                                              \
	do {                                                                       \
		int rc_ = fwctl(__VA_ARGS__);                                      \
		ck_assert_msg(rc_ == 0, "fwctl exited %d\nstdout: %s\nstderr: %s", \
			      rc_, R.out, R.err);                                  \
	} while (0)

/* ---- reading the kernel back ---- */

/*
 * The elements of set `name` of table inet fwd_filter in srv as nft lists
 * them, one string each ("198.51.100.2 . tcp . 8080 timeout 3s expires 2s").
 * NULL-terminated, malloc'd; free with elems_free.
 */
static char **set_elems(const char *name, size_t *n)
{
	char *out = sh_ok("ip netns exec %s nft list set inet fwd_filter %s", E.ns[SRV], name);
	char *p = strstr(out, "elements = {"), *end, *save = NULL;
	char **v = NULL;
	size_t k = 0, cap = 0;

	if (p) {
		p += strlen("elements = {");
		end = strchr(p, '}');
		ck_assert_msg(end != NULL, "unterminated element list:\n%s", out);
		*end = '\0';
		for (char *t = strtok_r(p, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			char *e;

			while (*t == ' ' || *t == '\t' || *t == '\n')
				t++;
			e = t + strlen(t);
			while (e > t && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
				*--e = '\0';
			if (!*t)
				continue;
			if (k + 1 >= cap) {
				cap = cap ? cap * 2 : 64;
				v = realloc(v, cap * sizeof(*v));
				ck_assert(v != NULL);
			}
			v[k++] = strdup(t);
		}
	}
	if (!v)
		v = calloc(1, sizeof(*v));
	v[k] = NULL;
	free(out);
	if (n)
		*n = k;
	return v;
}

static void elems_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* The key of a listed element: without " timeout ..." / " expires ...". */
static bool key_is(const char *elem, const char *key)
{
	size_t n = strlen(key);

	return strncmp(elem, key, n) == 0 && (elem[n] == '\0' || elem[n] == ' ');
}

/* How many elements of the set have this key. */
static size_t set_count(const char *set, const char *key)
{
	size_t n = 0;
	char **v = set_elems(set, NULL);

	for (size_t i = 0; v[i]; i++)
		if (key_is(v[i], key))
			n++;
	elems_free(v);
	return n;
}

/* The whole listed text of the element with this key, or NULL. */
static char *set_elem(const char *set, const char *key)
{
	char **v = set_elems(set, NULL), *found = NULL;

	for (size_t i = 0; v[i]; i++)
		if (!found && key_is(v[i], key))
			found = strdup(v[i]);
	elems_free(v);
	return found;
}

static void expect_elem(const char *set, const char *key, size_t want)
{
	size_t got = set_count(set, key);
	char *all;

	if (got == want)
		return;
	all = sh_ok("ip netns exec %s nft list set inet fwd_filter %s", E.ns[SRV], set);
	ck_abort_msg("kernel set %s holds '%s' %zu times, expected %zu:\n%.4000s\n"
		     "last fwctl: rc %d\nstdout: %s\nstderr: %s",
		     set, key, got, want, all, R.rc, R.out, R.err);
}

/* nft's "1h2m3s45ms" in seconds; -1 if none. */
static double nft_duration(const char *s)
{
	double total = 0;
	bool any = false;

	while (*s >= '0' && *s <= '9') {
		char *end;
		double v = strtod(s, &end);

		if (strncmp(end, "ms", 2) == 0) {
			total += v / 1000;
			end += 2;
		} else if (*end == 'd') {
			total += v * 86400;
			end++;
		} else if (*end == 'h') {
			total += v * 3600;
			end++;
		} else if (*end == 'm') {
			total += v * 60;
			end++;
		} else if (*end == 's') {
			total += v;
			end++;
		} else {
			break;
		}
		any = true;
		s = end;
	}
	return any ? total : -1;
}

/* Seconds until the kernel expires the element, from its listing. */
static double elem_expires(const char *elem)
{
	const char *p = elem ? strstr(elem, " expires ") : NULL;

	return p ? nft_duration(p + strlen(" expires ")) : -1;
}

/* ---- traffic ---- */

/* Every probe at once, each bounded (netns.c); a failure says where
 * (`when`) and what the last fwctl said. */
static void probes_run(struct nn_probes *ps, const char *when)
{
	char *more = tu_asprintf("last fwctl: rc %d\nstdout: %s\nstderr: %s", R.rc,
				 R.out ? R.out : "", R.err ? R.err : "");

	nn_probes_run_when(&E, ps, when, more);
	free(more);
}

/* One TCP connect + echo from a role, expected outcome, at once. */
static void expect_tcp(enum nn_role from, const char *addr, unsigned port, int expect,
		       const char *when)
{
	struct probes ps = { .n = 0 };

	probe(&ps, from, expect, "connect tcp %s %u", addr, port);
	probes_run(&ps, when);
}

/*
 * An established session: a TCP socket of this process, made inside the
 * namespace of `from`, connected to srv's echo listener. The echo round
 * trips show whether it still passes.
 */
static int session_open(enum nn_role from, const char *addr, unsigned port)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	char path[128];
	int self, there, fd, err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd pf;

	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof(*s4);
	} else {
		ck_assert(inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof(*s6);
	}
	snprintf(path, sizeof(path), "/run/netns/%s", E.ns[from]);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	there = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(self >= 0 && there >= 0, "open netns: %s", strerror(errno));
	ck_assert_msg(setns(there, CLONE_NEWNET) == 0, "setns %s: %s", path, strerror(errno));
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_msg(setns(self, CLONE_NEWNET) == 0, "setns back: %s", strerror(errno));
	close(self);
	close(there);
	ck_assert_msg(fd >= 0, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0)
		ck_assert_msg(errno == EINPROGRESS, "connect %s:%u: %s", addr, port,
			      strerror(errno));
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	ck_assert_msg(poll(&pf, 1, 3000) == 1, "session to %s:%u: no handshake in 3 s",
		      addr, port);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	ck_assert_msg(err == 0, "session to %s:%u: %s", addr, port, strerror(err));
	return fd;
}

/* Send a line and wait (bounded) for all of it to come back. */
static bool session_echo(int fd, double secs)
{
	static unsigned seq;
	char msg[32], buf[64];
	size_t len, got = 0;
	double end = now() + secs;

	len = (size_t)snprintf(msg, sizeof(msg), "ping %u\n", ++seq);
	if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
		return false;
	while (got < len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)((end - now()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left) != 1)
			return false;
		r = recv(fd, buf + got, len - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return memcmp(buf, msg, len) == 0;
}

/*
 * Wait (bounded) for the peer's RST: what a session's client sees when
 * srv's socket of it was destroyed (SOCK_DESTROY sends one). A session
 * whose conntrack entry alone was deleted sees nothing: no data, no reset.
 */
static bool session_reset(int fd, double secs)
{
	double end = now() + secs;
	char buf[64];

	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int left = (int)((end - now()) * 1000);
		ssize_t r;

		if (left <= 0 || poll(&pf, 1, left) != 1)
			return false;
		r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == ECONNRESET)
			return true;
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;	/* an orderly close is not an abort */
	}
}

/* srv's TCP sockets (any state but LISTEN) on local port `port` whose peer
 * is `peer` (an IPv4 peer of a dual-stack socket shows as ::ffff:a.b.c.d,
 * which contains the plain text too); ss's lines, malloc'd ("" if none). */
static char *srv_sockets(unsigned port, const char *peer)
{
	return sh_ok("ip netns exec %s ss -Htna 'sport = :%u' | grep -v '^LISTEN' | "
		     "grep -F '%s' || true", E.ns[SRV], port, peer);
}

/* ---- minimal JSON check: well formed, and has the keys asked for ---- */

static const char *js_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	while (*p && *p != '"') {
		if ((unsigned char)*p < 0x20)
			return NULL;
		if (*p == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
						return NULL;
				p += 4;
			} else if (!*p || !strchr("\"\\/bfnrt", *p)) {
				return NULL;
			}
		}
		p++;
	}
	return *p == '"' ? p + 1 : NULL;
}

static const char *js_number(const char *p)
{
	const char *s;

	if (*p == '-')
		p++;
	s = p;
	while (*p >= '0' && *p <= '9')
		p++;
	if (p == s)
		return NULL;
	if (*p == '.') {
		s = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		s = p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == s)
			return NULL;
	}
	return p;
}

static const char *js_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = js_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		bool obj = *p == '{';

		p = js_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (obj) {
				p = js_string(js_ws(p));
				if (!p)
					return NULL;
				p = js_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = js_value(p, depth + 1);
			if (!p)
				return NULL;
			p = js_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return js_string(p);
	if (strncmp(p, "true", 4) == 0)
		return p + 4;
	if (strncmp(p, "false", 5) == 0)
		return p + 5;
	if (strncmp(p, "null", 4) == 0)
		return p + 4;
	return js_number(p);
}

static bool json_ok(const char *text)
{
	const char *p = js_value(text, 0);

	return p && *js_ws(p) == '\0';
}

/* "key": somewhere in the document. */
static bool json_has(const char *text, const char *key)
{
	char *k = tu_asprintf("\"%s\"", key);
	const char *p = text;
	bool found = false;

	while (!found && (p = strstr(p, k)) != NULL) {
		p = js_ws(p + strlen(k));
		found = *p == ':';
	}
	free(k);
	return found;
}

/* The number after "key": (first occurrence), or -1. */
static double json_num(const char *text, const char *key)
{
	char *k = tu_asprintf("\"%s\"", key);
	const char *p = strstr(text, k);
	double v = -1;

	if (p) {
		p = js_ws(p + strlen(k));
		if (*p == ':')
			v = strtod(js_ws(p + 1), NULL);
	}
	free(k);
	return v;
}

/* Run `fwctl ARGS --json`: exit 0, valid JSON, every key present. */
static void expect_json(const char *args, const char *const *keys)
{
	int rc = fwctl("%s --json", args);

	ck_assert_msg(rc == 0, "fwctl %s --json exited %d: %s", args, rc, R.err);
	ck_assert_msg(json_ok(R.out), "fwctl %s --json: not valid JSON:\n%.3000s", args, R.out);
	for (int i = 0; keys && keys[i]; i++)
		ck_assert_msg(json_has(R.out, keys[i]), "fwctl %s --json: no \"%s\" in:\n%.3000s",
			      args, keys[i], R.out);
}

/* ---- tests ---- */

/* allow: reachable at once, for that host and port only; remove:
 * unreachable at once for new connections, an established one goes on;
 * remove --kill-states: the established ones stop too (their conntrack
 * entries are gone). IPv4 and IPv6. */
START_TEST(test_allow_remove)
{
	char *ct;
	int s1, s2, s3;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();

	expect_tcp(BAD, SRV4_B, 8080, DROP, "before allow");
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);

	FWCTL_OK("allow 8080/tcp from " BAD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 8080");	/* v4 only */
		probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 8080");	/* that host only */
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");	/* that port only */
		probes_run(&ps, "right after allow");
	}

	/* remove without --kill-states: new connections stop, an
	 * established one goes on (conntrack keeps it) */
	s1 = session_open(BAD, SRV4_B, 8080);
	ck_assert_msg(session_echo(s1, 3), "session 1 does not echo after allow");
	FWCTL_OK("remove 8080/tcp from " BAD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "right after remove");
	ck_assert_msg(session_echo(s1, 3), "an established connection stopped on remove "
		      "without --kill-states");

	/* remove --kill-states: the established ones end too, and nothing
	 * else: good, also allowed, keeps the service */
	FWCTL_OK("allow 8080/tcp from " BAD4);
	FWCTL_OK("allow 8080/tcp from " GOOD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_tcp(GOOD, SRV4_G, 8080, OK, "good allowed too");
	s2 = session_open(BAD, SRV4_B, 8080);
	ck_assert_msg(session_echo(s2, 3) && session_echo(s1, 3), "sessions do not echo");
	FWCTL_OK("remove 8080/tcp from " BAD4 " --kill-states");
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	ct = sh_ok("ip netns exec %s conntrack -L -p tcp --orig-src " BAD4 " --dport 8080 "
		   "2>/dev/null", E.ns[SRV]);
	ck_assert_msg(strstr(ct, "ESTABLISHED") == NULL, "remove --kill-states left "
		      "established conntrack entries:\n%s\nfwctl said: %s%s", ct, R.out, R.err);
	free(ct);
	/* Both sessions' sockets in srv are gone (destroyed, not left to
	 * retransmit: a retransmission from srv is let out by the output
	 * chain and conntrack picks the connection up again from that side,
	 * so bad's packets are replies and pass). The listener serves them
	 * from one dual-stack socket ("::"), so their sockets are AF_INET6
	 * with IPv4-mapped addresses, as with most servers. Both clients
	 * get the RST. */
	ct = srv_sockets(8080, BAD4);
	ck_assert_msg(ct[0] == '\0', "remove --kill-states left srv's sockets of the "
		      "sessions alive (ss -tna):\n%s", ct);
	free(ct);
	ck_assert_msg(session_reset(s2, 3), "session 2 got no RST from remove --kill-states");
	ck_assert_msg(session_reset(s1, 3), "session 1 got no RST from remove --kill-states");
	ck_assert_msg(!session_echo(s2, 1.5), "established session 2 still passes after "
		      "remove --kill-states (fwctl said: %s%s)", R.out, R.err);
	ck_assert_msg(!session_echo(s1, 1.5), "established session 1 still passes after "
		      "remove --kill-states");
	ct = sh_ok("ip netns exec %s ss -Hltn 'sport = :8080'", E.ns[SRV]);
	ck_assert_msg(strstr(ct, "LISTEN") != NULL, "after remove --kill-states srv has no "
		      "listening socket on 8080 any more (ss -ltn), though the test never "
		      "stopped the listener: its socket was destroyed");
	free(ct);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 8080");
		probes_run(&ps, "after remove --kill-states of bad's rule");
	}
	close(s1);
	close(s2);
	FWCTL_OK("remove 8080/tcp from " GOOD4);

	/* An old connection whose conntrack entry srv's side opened again
	 * (the entry was lost, srv sent first: a retransmission, more
	 * output): its original direction is srv:8080 -> bad, the edit's
	 * view (bad -> srv:8080) is its reply direction. Made exactly so:
	 * the entry deleted and inserted again the other way round. */
	FWCTL_OK("allow 8080/tcp from " BAD4);
	s3 = session_open(BAD, SRV4_B, 8080);
	ck_assert_msg(session_echo(s3, 3), "session 3 does not echo after allow");
	{
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);

		ck_assert(getsockname(s3, (struct sockaddr *)&me, &ml) == 0);
		free(sh_ok("ip netns exec %1$s conntrack -D -p tcp -s " BAD4 " --sport %2$u "
			   "--dport 8080 && ip netns exec %1$s conntrack -I -p tcp "
			   "-s " SRV4_B " -d " BAD4 " --sport 8080 --dport %2$u "
			   "--state ESTABLISHED -u ASSURED -t 600", E.ns[SRV],
			   (unsigned)ntohs(me.sin_port)));
	}
	ck_assert_msg(session_echo(s3, 3), "session 3 does not echo on its entry from srv's "
		      "side");
	FWCTL_OK("remove 8080/tcp from " BAD4 " --kill-states");
	ct = srv_sockets(8080, BAD4);
	ck_assert_msg(ct[0] == '\0', "remove --kill-states left srv's socket of a session "
		      "whose conntrack entry srv's side opened (ss -tna):\n%s", ct);
	free(ct);
	ck_assert_msg(session_reset(s3, 3), "session 3 (entry opened from srv's side) got "
		      "no RST from remove --kill-states");
	ct = sh_ok("ip netns exec %s conntrack -L -p tcp -s " SRV4_B " --sport 8080 "
		   "2>/dev/null", E.ns[SRV]);
	ck_assert_msg(strstr(ct, "ESTABLISHED") == NULL, "remove --kill-states left the "
		      "entry opened from srv's side:\n%s", ct);
	free(ct);
	close(s3);

	/* IPv6 */
	FWCTL_OK("allow 8080/tcp from " BAD6);
	expect_elem("allow6", BAD6 " . tcp . 8080", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV6_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probes_run(&ps, "right after allow (IPv6)");
	}
	FWCTL_OK("remove 8080/tcp from " BAD6);
	expect_elem("allow6", BAD6 " . tcp . 8080", 0);
	expect_tcp(BAD, SRV6_B, 8080, DROP, "right after remove (IPv6)");
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/*
 * A timed block: blocked at once, established connection included, and
 * `list blocked` shows the time left; unblock lifts it early. Then the
 * kernel lifts one by itself: `block for 3s` with fwd stopped before the
 * expiry. unblock lifts a permanent block.
 *
 * Nothing here races the block's own clock: the checks that need a block
 * in force (a dropped probe waits 0.8 s, the session's echo 1 s; under
 * load those and fwctl took longer than 3 s) use a 10-minute block, and
 * the expiry with fwd stopped is judged by the kernel's state (the element
 * still there once fwd is gone), never by how long stopping took.
 */
START_TEST(test_block_expiry)
{
	unsigned secs;
	double t0, left;
	char *el;
	int s;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	write_policy("deny",
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = " BAD4 ", " BAD6 "\n");
	fwd_start();
	expect_tcp(BAD, SRV4_B, 8080, OK, "before block");
	s = session_open(BAD, SRV4_B, 8080);
	ck_assert(session_echo(s, 3));

	/* t0 is taken before the request: every duration measured from it is
	 * at least as long as the block really was */
	late_in_second();
	t0 = now();
	FWCTL_OK("block " BAD4 " for 10m");
	el = set_elem("block4", BAD4);
	ck_assert_msg(el && strstr(el, "timeout"), "block4 has no timed element for " BAD4
		      ": %s", el ? el : "(none)");
	left = elem_expires(el);
	ck_assert_msg(left > 0 && left + (now() - t0) >= 599.95 && left <= 601.05,
		      "`block for 10m`: the kernel expires it %.3f s after the request "
		      "(element: %s)", left + (now() - t0), el);
	free(el);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "right after block");
	ck_assert_msg(!session_echo(s, 1), "the established connection still passes "
		      "after block");
	close(s);

	FWCTL_OK("list blocked");
	ck_assert_msg(strstr(R.out, BAD4) && strstr(R.out, "s left"),
		      "list blocked does not show " BAD4 " with its time left:\n%s", R.out);
	expect_json("list blocked", (const char *const[]){ "address", "seconds_left", NULL });
	left = json_num(R.out, "seconds_left");
	ck_assert_msg(left > 0 && left <= 601 && left + (now() - t0) >= 599,
		      "list blocked --json: seconds_left %.0f, %.1f s after `block for "
		      "10m`:\n%s", left, now() - t0, R.out);
	FWCTL_OK("unblock " BAD4);
	expect_elem("block4", BAD4, 0);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after unblock of a timed block");

	/*
	 * The kernel lifts a block by itself: fwd stops while the element is
	 * there, then it goes. Whether fwd was gone before the expiry is read
	 * from the kernel (the element still listed after fwd_stop: nft lists
	 * no expired element); when a loaded machine took longer than the
	 * block to stop fwd, nothing was shown, and it runs again with a
	 * block twice as long (3, 6, 12, 24 s).
	 */
	for (secs = 3;; secs *= 2) {
		late_in_second();
		t0 = now();
		FWCTL_OK("block " BAD4 " for %us", secs);
		el = set_elem("block4", BAD4);
		ck_assert_msg(el && strstr(el, "timeout"), "block4 has no timed element "
			      "for " BAD4 ": %s", el ? el : "(none)");
		left = elem_expires(el);
		ck_assert_msg(left > 0 && left + (now() - t0) >= secs - 0.05 &&
			      left <= secs + 1.05, "`block for %us`: the kernel expires it "
			      "%.3f s after the request (element: %s)", secs,
			      left + (now() - t0), el);
		free(el);
		fwd_stop();
		if (set_count("block4", BAD4) == 1)
			break;
		/* Gone before it could have expired: fwd's exit took it. */
		ck_assert_msg(now() - t0 >= secs - 0.05, "block4 no longer holds " BAD4
			      " %.2f s after `block for %us`, with fwd just stopped",
			      now() - t0, secs);
		ck_assert_msg(secs < 24, "fwd took longer to stop than a block of %u s "
			      "lasted, four times: the kernel's own expiry was never seen "
			      "with fwd stopped", secs);
		fprintf(stderr, "block_expiry: `block for %us` ended before fwd had "
			"stopped (%.2f s after the request); again, twice as long\n", secs,
			now() - t0);
		fwd_start();
		expect_elem("block4", BAD4, 0);
	}
	/* Bounded, not timed: the assertions after the loop read the state. */
	while (now() < t0 + secs + 10 && set_count("block4", BAD4) != 0)
		msleep(50);
	ck_assert_msg(now() - t0 >= secs - 0.05, "`block for %us` ended %.2f s after the "
		      "request", secs, now() - t0);
	expect_elem("block4", BAD4, 0);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after the block expired, fwd stopped");

	/* back up: the expired block stays lifted */
	fwd_start();
	FWCTL_OK("list blocked");
	ck_assert_msg(!strstr(R.out, BAD4), "list blocked still shows the expired block:\n%s",
		      R.out);
	expect_elem("block4", BAD4, 0);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after restart");

	/* permanent block of both families, then unblock */
	FWCTL_OK("block " BAD4 " " BAD6);
	expect_elem("block4", BAD4, 1);
	expect_elem("block6", BAD6, 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 8080");
		probes_run(&ps, "after permanent block");
	}
	FWCTL_OK("list blocked");
	ck_assert_msg(strstr(R.out, BAD4) && strstr(R.out, BAD6) && strstr(R.out, "permanent"),
		      "list blocked:\n%s", R.out);
	FWCTL_OK("unblock " BAD4 " " BAD6);
	expect_elem("block4", BAD4, 0);
	expect_elem("block6", BAD6, 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, OK, "connect tcp " SRV6_B " 8080");
		probes_run(&ps, "after unblock");
	}
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/* deny where the policy default allows: that host is refused with a TCP
 * reset, everyone else still gets in; remove undoes it. */
START_TEST(test_deny)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 80);
	write_policy("allow", "");
	fwd_start();
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 80");
		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 80");
		probes_run(&ps, "before deny");
	}
	FWCTL_OK("deny 80/tcp from " BAD4);
	expect_elem("deny4", BAD4 " . tcp . 80", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, REFUSED, "connect tcp " SRV4_B " 80");	/* RST */
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 80");
		probe(&ps, BAD, OK, "connect tcp " SRV6_B " 80");	/* another address */
		probes_run(&ps, "right after deny");
	}
	FWCTL_OK("remove 80/tcp from " BAD4);
	expect_elem("deny4", BAD4 " . tcp . 80", 0);
	expect_tcp(BAD, SRV4_B, 80, OK, "after removing the deny");
	/* The last element gone, its rules left the kernel too (policy/ir.h:
	 * no lookup into an empty set). */
	{
		char *k = sh_ok("ip netns exec %s nft list table inet fwd_filter",
				E.ns[SRV]);

		ck_assert_msg(!strstr(k, "@deny4"), "deny4's rules stayed:\n%.3000s", k);
		free(k);
	}
	topo_down();
}
END_TEST

/* list add / del / show on a list that a hand-written conf.d file defines:
 * an added address is let in at once, a deleted one shut out; deleting a
 * member of the hand-written file is recorded as list-del in
 * 99-fwctl.conf and the hand-written files stay byte for byte. */
START_TEST(test_lists)
{
	char *office, *main_before, *office_before, *now_text;

	if (!tu_need_root())
		return;
	topo_up();
	office = path_in("conf.d/10-office.conf");
	listener("tcp", 8080);
	listener("tcp", 22);
	write_policy("deny",
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = @office\n");
	ck_assert(mkdir(T.confd, 0755) == 0);
	write_file(office,
		"; hand-written: fwd must never rewrite this file\n"
		"[list office]\n"
		"members = " GOOD4 ", " GOOD6 "\n");
	main_before = slurp_or_empty(T.policy);
	office_before = slurp_or_empty(office);
	fwd_start();
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probes_run(&ps, "before list add");
	}

	FWCTL_OK("list add office " BAD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, OK, "right after list add");
	ck_assert_msg(count_lines_eq(T.edits, "list-add = office " BAD4) == 1,
		      "99-fwctl.conf:\n%s", slurp_or_empty(T.edits));

	FWCTL_OK("list show office");
	ck_assert_msg(strstr(R.out, GOOD4) && strstr(R.out, "10-office.conf:3") &&
		      strstr(R.out, BAD4), "list show office:\n%s", R.out);
	expect_json("list show office", (const char *const[]){ "name", "members", NULL });
	ck_assert_msg(strstr(R.out, "\"" BAD4 "\"") && strstr(R.out, "\"" GOOD4 "\""),
		      "list show office --json:\n%s", R.out);
	FWCTL_OK("list show");
	ck_assert_msg(strstr(R.out, "office"), "list show:\n%s", R.out);
	expect_json("list show", (const char *const[]){ "name", "members", NULL });

	/* IPv6 network, into the interval set */
	FWCTL_OK("list add office 2001:db8:2::/64");
	expect_elem("allow6_net", "2001:db8:2::/64 . tcp . 8080", 1);
	expect_tcp(BAD, SRV6_B, 8080, OK, "right after list add of a v6 network");
	FWCTL_OK("list del office 2001:db8:2::/64");
	expect_elem("allow6_net", "2001:db8:2::/64 . tcp . 8080", 0);
	expect_tcp(BAD, SRV6_B, 8080, DROP, "right after list del of a v6 network");

	FWCTL_OK("list del office " BAD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "right after list del");
	ck_assert_msg(count_in_file(T.edits, BAD4) == 0, "99-fwctl.conf still names " BAD4
		      ":\n%s", slurp_or_empty(T.edits));

	/* a member of the hand-written file */
	FWCTL_OK("list del office " GOOD4);
	expect_elem("allow4", GOOD4 " . tcp . 8080", 0);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);	/* @good is another list */
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 8080");
		probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 8080");
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
		probes_run(&ps, "after deleting a hand-written member");
	}
	ck_assert_msg(count_lines_eq(T.edits, "list-del = office " GOOD4) == 1,
		      "99-fwctl.conf does not record the list-del:\n%s", slurp_or_empty(T.edits));
	now_text = slurp_or_empty(office);
	ck_assert_msg(strcmp(now_text, office_before) == 0, "the hand-written "
		      "10-office.conf changed:\n%s", now_text);
	free(now_text);
	now_text = slurp_or_empty(T.policy);
	ck_assert_msg(strcmp(now_text, main_before) == 0, "the hand-written fwd.conf "
		      "changed:\n%s", now_text);
	free(now_text);
	FWCTL_OK("list show office");
	ck_assert_msg(strstr(R.out, "removed by fwctl"), "list show office does not say "
		      GOOD4 " was removed:\n%s", R.out);

	/* it stays removed across a restart */
	fwd_stop();
	fwd_start();
	expect_elem("allow4", GOOD4 " . tcp . 8080", 0);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	free(office);
	free(main_before);
	free(office_before);
	topo_down();
}
END_TEST

/* Persisted edits survive a restart, --runtime ones survive a SIGHUP but
 * not a restart; a timed allow keeps its remaining time across a restart
 * (99-fwctl.conf says `until EPOCH`) and then expires in the kernel. */
START_TEST(test_restart_persist)
{
	char *edits, *line, *el, *p;
	long long until = 0;
	double left, want;
	unsigned secs;
	int in;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	listener("tcp", 8081);
	listener("tcp", 8082);
	write_policy("deny", "");
	fwd_start();

	FWCTL_OK("allow 8080/tcp from " BAD4);
	FWCTL_OK("allow 8081/tcp from " BAD4 " --runtime");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_elem("allow4", BAD4 " . tcp . 8081", 1);
	ck_assert_msg(count_lines_eq(T.edits, "allow = 8080/tcp from " BAD4) == 1 &&
		      count_in_file(T.edits, "8081") == 0,
		      "99-fwctl.conf (8080 persisted, 8081 runtime only):\n%s",
		      slurp_or_empty(T.edits));

	/* SIGHUP re-applies the files; runtime edits stay */
	fwd_hup();
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_elem("allow4", BAD4 " . tcp . 8081", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8081");
		probes_run(&ps, "after SIGHUP");
	}

	/*
	 * A timed allow, then a restart in the middle of it (2 s down). What
	 * needs it in force after the restart (its element, a connection)
	 * is judged by the wall clock once done: a miss after the allow's
	 * end (until - 1, whole seconds) says the restart took longer than
	 * the allow lasted, not that it was lost, and the step runs again
	 * with an allow twice as long (8, 16, 32 s).
	 */
	for (secs = 8;; secs *= 2) {
		FWCTL_OK("allow 8082/tcp from " BAD4 " for %us", secs);
		edits = slurp_or_empty(T.edits);
		/* the last such line: an earlier round's may still be there */
		for (line = NULL, p = edits; (p = strstr(p, "allow = 8082/tcp from " BAD4
							 " until ")); p++)
			line = p;
		ck_assert_msg(line && sscanf(line, "allow = 8082/tcp from " BAD4 " until %lld",
					     &until) == 1,
			      "99-fwctl.conf has no `until EPOCH` line for the timed allow:\n%s",
			      edits);
		free(edits);
		ck_assert_msg(llabs(until - (long long)time(NULL) - secs) <= 2,
			      "until %lld is not about now + %u s (now %lld)", until, secs,
			      (long long)time(NULL));
		expect_elem("allow4", BAD4 " . tcp . 8082", 1);

		fwd_stop();
		msleep(2000);
		fwd_start();
		el = set_elem("allow4", BAD4 " . tcp . 8082");
		want = (double)until - (double)time(NULL);
		in = tu_sh(NULL, "ip netns exec %s %s connect tcp " SRV4_B " 8082 --timeout 3",
			   E.ns[BAD], NETTOOL);
		if ((el && in == OK) || (long long)time(NULL) < until - 1)
			break;
		ck_assert_msg(secs < 32, "a restart took longer than a timed allow of %u s "
			      "lasted, three times", secs);
		fprintf(stderr, "restart_persist: the timed allow of %u s had ended when "
			"fwd was back (element %s, connect exit %d); again, twice as long\n",
			secs, el ? "there" : "gone", in);
		free(el);
	}
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_elem("allow4", BAD4 " . tcp . 8081", 0);	/* runtime only: gone */
	left = elem_expires(el);
	ck_assert_msg(el && left > 0 && left >= want - 2 && left <= want + 1.05,
		      "after a restart the timed allow expires in %.2f s, want about %.0f s "
		      "(until %lld): %s", left, want, until, el ? el : "(not in the kernel)");
	free(el);
	ck_assert_msg(in == OK, "8082 from " BAD4 " after restart: connect exit %d, want "
		      "reachable", in);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8081");
		probes_run(&ps, "after restart");
	}
	/* ... and it ends when the file said, in the kernel */
	while ((long long)time(NULL) < until + 4 && set_count("allow4", BAD4 " . tcp . 8082"))
		msleep(100);
	ck_assert_msg((long long)time(NULL) >= until - 1, "the timed allow ended early");
	expect_elem("allow4", BAD4 " . tcp . 8082", 0);
	expect_tcp(BAD, SRV4_B, 8082, DROP, "after the timed allow expired");
	topo_down();
}
END_TEST

/* The wall clock, in seconds (now() is the monotonic one): what fwd's
 * deadlines are kept in. */
static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The pending confirm's deadline (unix seconds) as fwd keeps it in its
 * state directory (confirm-deadline), 0 when none is pending. */
static long long confirm_deadline(void)
{
	char *p = tu_asprintf("%s/confirm-deadline", T.state);
	char *text = slurp_or_empty(p);
	long long d = atoll(text);

	free(text);
	free(p);
	return d;
}

/* test_confirm's two policies (A: 8080 open to BAD4, B: 8081), and what
 * fwd logs when an unconfirmed reload reverts, or when a restarted fwd
 * finds a confirm pending. */
static const char confirm_pol_a[] = "\n[service app]\nports = 8080/tcp\nallow = " BAD4 "\n";
static const char confirm_pol_b[] = "\n[service app]\nports = 8081/tcp\nallow = " BAD4 "\n";
#define CONFIRM_UNCONFIRMED "reload not confirmed in time"
#define CONFIRM_RESUMED "a reload --confirm is pending: reverting in"

/*
 * test_confirm, 2: a confirmed reload stays past its deadline (running:
 * A, files: B). A confirm refused as "nothing to confirm" is right only
 * when fwd had reverted: the window ended before the confirm came; again,
 * twice as long.
 */
static void confirm_stays(void)
{
	size_t reverts, in;
	long long deadline;
	unsigned secs;
	double t0, w0;

	for (secs = 3;; secs *= 2) {
		reverts = count_in_file(T.fwdlog, CONFIRM_UNCONFIRMED);
		t0 = now();
		w0 = wall_now();
		FWCTL_OK("reload --confirm %u", secs);
		deadline = confirm_deadline();
		in = set_count("allow4", BAD4 " . tcp . 8081");
		if (fwctl("confirm") == 0)
			break;
		ck_assert_msg(R.rc == 1 && strstr(R.err, "nothing to confirm") &&
			      wait_for(T.fwdlog, CONFIRM_UNCONFIRMED, reverts + 1, 10),
			      "confirm inside `reload --confirm %u`: rc %d, %s\n%s", secs, R.rc,
			      R.err, slurp_or_empty(T.fwdlog));
		ck_assert_msg(now() - t0 >= secs - 0.05, "`reload --confirm %u` reverted "
			      "%.2f s after the request", secs, now() - t0);
		ck_assert_msg(secs < 24, "the window of `reload --confirm %u` ended before "
			      "the confirm came, four times", secs);
		fprintf(stderr, "confirm: `reload --confirm %u` ended before the confirm "
			"came (%.2f s after the request); again, twice as long\n", secs,
			now() - t0);
	}
	ck_assert_msg(in == 1, "8081 not in the kernel inside `reload --confirm %u`", secs);
	ck_assert_msg(deadline > 0 && (double)deadline >= w0 + secs,
		      "`reload --confirm %u`: deadline %lld, %.2f s after the request", secs,
		      deadline, (double)deadline - w0);
	FWCTL_OK("status --json");
	ck_assert_msg(strstr(R.out, "\"confirm_pending\":null"), "a confirm still pending "
		      "after `fwctl confirm`:\n%s", R.out);
	/* past the deadline fwd had (whole seconds), then nothing came back */
	while (wall_now() < (double)deadline + 1.5)
		msleep(100);
	expect_elem("allow4", BAD4 " . tcp . 8081", 1);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_tcp(BAD, SRV4_B, 8081, OK, "past the deadline of a confirmed reload");
	ck_assert_msg(count_in_file(T.fwdlog, CONFIRM_UNCONFIRMED) == reverts,
		      "a confirmed reload was reverted:\n%s", slurp_or_empty(T.fwdlog));
	ck_assert_msg(fwctl("confirm") == 1, "a second confirm with nothing pending exited %d",
		      R.rc);
}

/*
 * test_confirm, 3: kill -9 and restart inside the window still reverts
 * (running and files: B). Inside is what the restarted fwd says: it
 * found the confirm pending (else the window ended before the kill or
 * while fwd was down: again, twice as long).
 */
static void confirm_survives_kill9(void)
{
	size_t resumes, in;
	unsigned secs;
	double t0;

	write_policy("deny", confirm_pol_a);
	for (secs = 3;; secs *= 2) {
		resumes = count_in_file(T.fwdlog, CONFIRM_RESUMED);
		t0 = now();
		FWCTL_OK("reload --confirm %u", secs);
		in = set_count("allow4", BAD4 " . tcp . 8080");
		fwd_kill9();
		fwd_start();
		if (count_in_file(T.fwdlog, CONFIRM_RESUMED) > resumes)
			break;
		ck_assert_msg(now() - t0 >= secs - 0.05, "the restarted fwd found no confirm "
			      "pending %.2f s after `reload --confirm %u`:\n%s", now() - t0,
			      secs, slurp_or_empty(T.fwdlog));
		ck_assert_msg(secs < 24, "fwd took longer to restart than the window of "
			      "`reload --confirm %u`, four times", secs);
		fprintf(stderr, "confirm: the window of `reload --confirm %u` ended before "
			"fwd was back (%.2f s after the request); again, twice as long\n",
			secs, now() - t0);
		/* The first fwd reverted before it was killed: the restart
		 * applied the files (A). B back for the next round. */
		if (set_count("allow4", BAD4 " . tcp . 8081") == 0) {
			write_policy("deny", confirm_pol_b);
			FWCTL_OK("reload");
			write_policy("deny", confirm_pol_a);
		}
	}
	ck_assert_msg(in == 1, "8080 not in the kernel inside `reload --confirm %u`", secs);
	while (now() < t0 + secs + 30 && set_count("allow4", BAD4 " . tcp . 8081") == 0)
		msleep(100);
	ck_assert_msg(now() - t0 >= secs - 0.05, "`reload --confirm %u` reverted after the "
		      "restart %.2f s after the request", secs, now() - t0);
	expect_elem("allow4", BAD4 " . tcp . 8081", 1);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8081");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probes_run(&ps, "after kill -9, restart and the confirm deadline");
	}
}

/*
 * reload --confirm: without confirm the old rules come back, not before
 * the window ends; with `fwctl confirm` the new ones stay past it; a fwd
 * killed (-9) and restarted inside the window still reverts.
 *
 * Nothing here races the window (under load, the probes inside a 3 s
 * window ran after it): what needs the new rules in force is checked
 * inside a 10-minute window, which a second `reload --confirm 3` then
 * shortens (the rollback point stays the first one's). Whether a confirm
 * or a restart came inside a short window is read from fwd (its answer,
 * its log), never from a stopwatch; when a loaded machine was too slow
 * for the window, that step runs again with one twice as long (3, 6, 12,
 * 24 s).
 */
START_TEST(test_confirm)
{
	double t0, left;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	listener("tcp", 8081);
	write_policy("deny", confirm_pol_a);
	fwd_start();
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);

	/* 1. no confirm: reverted. First the new rules in force, by the
	 * kernel and by traffic, inside a window nothing races. */
	write_policy("deny", confirm_pol_b);
	FWCTL_OK("reload --confirm 10m");
	expect_elem("allow4", BAD4 " . tcp . 8081", 1);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8081");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8080");
		probes_run(&ps, "after reload --confirm 10m");
	}
	FWCTL_OK("status");
	ck_assert_msg(strstr(R.out, "confirm"), "status does not show the pending confirm:\n%s",
		      R.out);
	FWCTL_OK("status --json");
	left = json_num(R.out, "confirm_pending");
	ck_assert_msg(left > 0 && left <= 600, "status --json after `reload --confirm 10m`: "
		      "confirm_pending %.0f:\n%s", left, R.out);
	/* The same files with a 3 s window: the deadline moves, the way back
	 * stays the rules confirmed last (A). t0 precedes the request: the
	 * window measured is at most the real one. */
	late_in_second();
	t0 = now();
	FWCTL_OK("reload --confirm 3");
	while (now() < t0 + 60 && set_count("allow4", BAD4 " . tcp . 8080") == 0)
		msleep(100);
	ck_assert_msg(now() - t0 >= 2.95, "`reload --confirm 3` reverted %.2f s after the "
		      "request: the window to confirm was shorter than 3 s", now() - t0);
	ck_assert_msg(count_in_file(T.fwdlog, CONFIRM_UNCONFIRMED) == 1, "fwd did not log the "
		      "revert once:\n%s", slurp_or_empty(T.fwdlog));
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_elem("allow4", BAD4 " . tcp . 8081", 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8081");
		probes_run(&ps, "after the unconfirmed reload reverted");
	}

	/* 2. confirmed: stays past the deadline */
	confirm_stays();
	/* 3. kill -9 and restart inside the window: still reverts (to B) */
	confirm_survives_kill9();
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/* A change that would cut off the SSH session fwctl is run from is
 * refused (exit 1, a message, nothing changed), unless --force. */
START_TEST(test_lockout)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_policy("deny", "");
	fwd_start();
	FWCTL_OK("allow 22/tcp from " BAD4);
	expect_tcp(BAD, SRV4_B, 22, OK, "ssh allowed");

	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "remove 22/tcp from " BAD4) == 1 &&
		      strstr(R.err, "SSH"), "remove cutting the SSH session: rc %d, %s%s",
		      R.rc, R.out, R.err);
	expect_elem("allow4", BAD4 " . tcp . 22", 1);
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "block " BAD4) == 1 && strstr(R.err, "SSH"),
		      "block cutting the SSH session: rc %d, %s%s", R.rc, R.out, R.err);
	expect_elem("block4", BAD4, 0);
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "deny 22/tcp from " BAD4) == 1 &&
		      strstr(R.err, "SSH"), "deny cutting the SSH session: rc %d, %s%s",
		      R.rc, R.out, R.err);
	expect_elem("deny4", BAD4 " . tcp . 22", 0);
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "block 198.51.100.0/24") == 1,
		      "block of the session's network: rc %d, %s%s", R.rc, R.out, R.err);
	expect_tcp(BAD, SRV4_B, 22, OK, "after the refused changes");
	ck_assert_msg(count_in_file(T.edits, "block") == 0 && count_in_file(T.edits, "deny") == 0,
		      "a refused change was persisted:\n%s", slurp_or_empty(T.edits));

	/* changes that leave the session alone go through */
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "allow 8080/tcp from " BAD4) == 0,
		      "a harmless allow was refused: %s", R.err);
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "block 203.0.113.9") == 0,
		      "a block of another host was refused: %s", R.err);

	/* --force */
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "block " BAD4 " --force") == 0,
		      "block --force: rc %d, %s", R.rc, R.err);
	expect_elem("block4", BAD4, 1);
	expect_tcp(BAD, SRV4_B, 22, DROP, "after block --force");
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "unblock " BAD4) == 0, "unblock: %s", R.err);
	expect_tcp(BAD, SRV4_B, 22, OK, "after unblock");
	ck_assert_msg(fwctl_env(SSH_FROM_BAD, "--force remove 22/tcp from " BAD4) == 0,
		      "fwctl --force remove: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", BAD4 " . tcp . 22", 0);
	expect_tcp(BAD, SRV4_B, 22, DROP, "after remove --force");

	/* a session from good, let in by the hand-written list @good: a
	 * list del or a reload of files that drop it is refused too */
	ck_assert_msg(fwctl_env(SSH_FROM_GOOD, "list del good " GOOD4) == 1 &&
		      strstr(R.err, "SSH"), "list del cutting the SSH session: rc %d, %s%s",
		      R.rc, R.out, R.err);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	write_policy("deny", "");
	free(sh_ok("sed -i 's/^allow = @good$/allow = " GOOD6 "/' %s", T.policy));
	ck_assert_msg(fwctl_env(SSH_FROM_GOOD, "reload") == 1 && strstr(R.err, "SSH"),
		      "reload cutting the SSH session: rc %d, %s%s", R.rc, R.out, R.err);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	expect_tcp(GOOD, SRV4_G, 22, OK, "after the refused list del and reload");
	ck_assert_msg(fwctl_env(SSH_FROM_GOOD, "reload --force") == 0, "reload --force: "
		      "rc %d, %s", R.rc, R.err);
	expect_elem("allow4", GOOD4 " . tcp . 22", 0);
	expect_tcp(GOOD, SRV4_G, 22, DROP, "after reload --force");
	topo_down();
}
END_TEST

/* explain SRC PORT names the list file's LINE. */
static void expect_list_line(const char *src, const char *port, const char *where)
{
	ck_assert_msg(fwctl("explain %s %s", src, port) == 0, "explain %s %s: %s", src,
		      port, R.err);
	ck_assert_msg(strstr(R.out, where), "explain %s %s: want '%s':\n%s", src, port,
		      where, R.out);
}

/*
 * fwctl reload after a list file changed: the changed lines become element
 * edits (fwd's log says so), traffic follows at once, explain names the
 * members' new lines when lines move, and fwctl diff finds nothing left
 * between the files and the kernel.
 */
START_TEST(test_reload_list_file)
{
	char *list, *extra;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	list = path_in("web.txt");
	write_file(list, "# web clients\n203.0.113.5\n%s\n2001:db8::77\n", BAD4);
	extra = tu_asprintf("\n[list web]\nfile = %s\n\n[service web]\nports = 8080/tcp\n"
			    "allow = @web\n", list);
	write_policy("deny", extra);
	fwd_start();
	expect_tcp(BAD, SRV4_B, 8080, OK, "listed");
	expect_list_line(BAD4, "8080/tcp", "web.txt:3\n");

	/* a line replaced */
	write_file(list, "# web clients\n203.0.113.5\n203.0.113.6\n2001:db8::77\n");
	FWCTL_OK("reload");
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_elem("allow4", "203.0.113.6 . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "after its line was replaced");
	ck_assert_msg(count_in_file(T.fwdlog, "list members changed") == 1,
		      "the reload did not go as element edits:\n%s", slurp_or_empty(T.fwdlog));

	/* lines inserted above the others: they move */
	write_file(list, "# web clients\n# back again:\n%s\n203.0.113.5\n203.0.113.6\n"
		   "2001:db8::77\n", BAD4);
	FWCTL_OK("reload");
	expect_tcp(BAD, SRV4_B, 8080, OK, "after its line came back");
	expect_list_line(BAD4, "8080/tcp", "web.txt:3\n");
	expect_list_line("203.0.113.6", "8080/tcp", "web.txt:5\n");
	expect_list_line("2001:db8::77", "8080/tcp", "web.txt:6\n");
	ck_assert_msg(count_in_file(T.fwdlog, "list members changed") == 2,
		      "the second reload did not go as element edits");

	/* nothing changed: nothing to do, and files and kernel agree */
	FWCTL_OK("reload");
	FWCTL_OK("diff");
	ck_assert_msg(strstr(R.out, "no difference"), "diff after reloads:\n%s", R.out);
	expect_elem("allow6", "2001:db8::77 . tcp . 8080", 1);

	/* a generated file rewritten in bulk: thousands of element edits in
	 * one transaction, and still nothing between files and kernel */
	{
		FILE *f = fopen(list, "w");

		ck_assert_ptr_nonnull(f);
		for (int i = 0; i < 3000; i++)
			fprintf(f, "198.18.%d.%d\n", i / 256, i % 256);
		ck_assert_int_eq(fclose(f), 0);
		FWCTL_OK("reload");
		f = fopen(list, "w");
		ck_assert_ptr_nonnull(f);
		for (int i = 0; i < 3000; i++)
			fprintf(f, i >= 500 && i < 2500 ? "198.19.%d.%d\n" : "198.18.%d.%d\n",
				i / 256, i % 256);
		ck_assert_int_eq(fclose(f), 0);
		FWCTL_OK("reload");
		ck_assert_msg(count_in_file(T.fwdlog, "2000 words out, 2000 in") == 1,
			      "the bulk reload did not go as element edits:\n%s",
			      slurp_or_empty(T.fwdlog));
		FWCTL_OK("diff");
		ck_assert_msg(strstr(R.out, "no difference"), "diff after the bulk reload:\n%s",
			      R.out);
		expect_elem("allow4", "198.19.3.232 . tcp . 8080", 1);	/* line 1001 */
		expect_elem("allow4", "198.18.3.232 . tcp . 8080", 0);
		expect_elem("allow4", "198.18.1.0 . tcp . 8080", 1);	/* line 257 */
	}

	/* a broken line: refused, the running rules stay */
	write_file(list, "# web clients\n# back again:\n%s\n203.0.113.500\n", BAD4);
	ck_assert_msg(fwctl("reload") == 1 && strstr(R.err, "web.txt:4"),
		      "reload of a bad list line: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", "198.19.3.232 . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "after the refused reload (not listed since the "
		   "bulk rewrite)");
	free(extra);
	free(list);
	topo_down();
}
END_TEST

/* The mtime of a file in ns (0 when missing). */
static long long mtime_ns(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return 0;
	return (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/*
 * A live edit reaches the last good policy in the state directory a moment
 * after the kernel has it (off the request's path): killed and restarted
 * with broken files, fwd falls back to a policy that still has it, even a
 * --runtime edit that no file holds.
 */
START_TEST(test_last_good_after_edit)
{
	char *last_good;
	long long before;
	double end;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();
	last_good = path_in("state/last-good.ir");
	before = mtime_ns(last_good);
	ck_assert_msg(before != 0, "no last good policy after the start");

	FWCTL_OK("allow 8080/tcp from " BAD4 " --runtime");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	end = now() + 15;
	while (mtime_ns(last_good) == before && now() < end)
		msleep(50);
	ck_assert_msg(mtime_ns(last_good) != before,
		      "the last good policy was not saved after a live edit");

	fwd_kill9();
	write_policy("deny", "[service broken\n");
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "degraded: applied the last good policy") == 1,
		      "no fallback to the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after a restart on the last good policy");
	free(last_good);
	topo_down();
}
END_TEST

/* Is path a regular file (not a symlink to one)? */
static bool is_regular(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * fwd's atomic writes never follow a symlink (security review, issue 9,
 * finding 5). Symlinks planted under the temp names the old code used
 * (.NAME.tmp.PID, predictable) in conf.d and in the state directory, and
 * as the final names 99-fwctl.conf and last-good.ir, all pointing at files
 * fwd must not touch: after an edit that rewrites both files, the targets
 * are byte-identical and both files are regular files holding the edit.
 */
START_TEST(test_tmp_symlinks)
{
	static const char precious[] = "precious, not fwd's\n";
	char *victim[4], *plant[4], *lg, *text;
	double end;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();
	lg = path_in("state/last-good.ir");
	ck_assert_msg(is_regular(lg), "no last good policy after the start");
	plant[0] = tu_asprintf("%s/.99-fwctl.conf.tmp.%d", T.confd, (int)T.fwd);
	plant[1] = tu_asprintf("%s/.last-good.ir.tmp.%d", T.state, (int)T.fwd);
	plant[2] = tu_asprintf("%s", T.edits);
	plant[3] = tu_asprintf("%s", lg);
	mkdir(T.confd, 0755);
	for (int i = 0; i < 4; i++) {
		victim[i] = tu_asprintf("%s/victim-%d", E.dir, i);
		write_file(victim[i], "%s", precious);
		unlink(plant[i]);
		ck_assert_msg(symlink(victim[i], plant[i]) == 0, "symlink %s: %s", plant[i],
			      strerror(errno));
	}

	/* persisted at once (99-fwctl.conf), saved a moment later (last-good.ir) */
	FWCTL_OK("allow 8080/tcp from " BAD4);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	end = now() + 15;
	while (!is_regular(lg) && now() < end)
		msleep(50);

	for (int i = 0; i < 4; i++) {
		text = slurp_or_empty(victim[i]);
		ck_assert_msg(strcmp(text, precious) == 0, "fwd wrote through the symlink %s "
			      "into %s:\n%s", plant[i], victim[i], text);
		free(text);
	}
	ck_assert_msg(is_regular(T.edits), "%s is not a regular file", T.edits);
	ck_assert_msg(count_lines_eq(T.edits, "allow = 8080/tcp from " BAD4) == 1,
		      "99-fwctl.conf does not hold the edit:\n%s", slurp_or_empty(T.edits));
	ck_assert_msg(is_regular(lg), "%s is not a regular file after the save", lg);

	/* what was saved is the policy with the edit: a restart on broken
	 * files falls back to it */
	fwd_stop();
	write_policy("deny", "[service broken\n");
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "degraded: applied the last good policy") == 1,
		      "no fallback to the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	expect_tcp(BAD, SRV4_B, 8080, OK, "after a restart on the last good policy");
	for (int i = 0; i < 4; i++) {
		free(victim[i]);
		free(plant[i]);
	}
	free(lg);
	topo_down();
}
END_TEST

/* fwd's generation, from `fwctl status --json`. */
static double fwd_generation(void)
{
	FWCTL_OK("status --json");
	return json_num(R.out, "generation");
}

/* The edits file's inode and mtime: a rewrite (temp + rename) changes both. */
static void file_id(const char *path, ino_t *ino, long long *mtime)
{
	struct stat st;

	ck_assert_msg(stat(path, &st) == 0, "%s: %s", path, strerror(errno));
	*ino = st.st_ino;
	*mtime = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

/*
 * Where a marker's transaction ends in the monitor's log: just past the
 * "# new generation" line that follows "add table inet NAME" (the monitor
 * prints the two apart, so a log read between them has the table and not
 * yet its generation). Waits for it, bounded; the offset.
 */
static size_t monitor_marker_end(const char *log, const char *name)
{
	char *add = tu_asprintf("add table inet %s\n", name);
	double end = now() + 30;
	size_t off = 0;

	for (;;) {
		char *text = slurp_or_empty(log), *p = strstr(text, add), *g;

		g = p ? strstr(p, "# new generation ") : NULL;
		g = g ? strchr(g, '\n') : NULL;
		if (g)
			off = (size_t)(g + 1 - text);
		free(text);
		if (off || now() >= end)
			break;
		msleep(10);
	}
	ck_assert_msg(off, "the monitor did not show %s and its generation within 30 s:\n%s",
		      name, slurp_or_empty(log));
	free(add);
	return off;
}

/*
 * nft monitor in srv, listening once a marker table of ours shows up in
 * its log; *from is where the opening marker's transaction ends. The waits
 * are bounds for a loaded machine, not expectations: each ends when the
 * marker is seen.
 */
static pid_t monitor_start(const char *log, size_t *from)
{
	const char *argv[] = { "nft", "monitor", NULL };
	pid_t pid = spawn(SRV, log, argv);
	double end = now() + 30;

	for (int i = 0; now() < end && !count_in_file(log, "fwdtmark"); i++) {
		free(sh_ok("ip netns exec %s nft add table inet fwdtmark%d", E.ns[SRV], i));
		msleep(100);
	}
	ck_assert_msg(count_in_file(log, "fwdtmark"), "nft monitor shows nothing:\n%s",
		      slurp_or_empty(log));
	free(sh_ok("ip netns exec %s nft add table inet fwdtmarkA", E.ns[SRV]));
	*from = monitor_marker_end(log, "fwdtmarkA");
	return pid;
}

/*
 * What the monitor saw from *from up to the end of a closing marker's
 * transaction (malloc'd): its table and its generation are the last lines.
 * The kernel sends events in commit order, so whatever came before the
 * marker is in the log by then.
 */
static char *monitor_until_marker(pid_t pid, const char *log, size_t from)
{
	char *text, *out;
	size_t to;

	free(sh_ok("ip netns exec %s nft add table inet fwdtmarkZ", E.ns[SRV]));
	to = monitor_marker_end(log, "fwdtmarkZ");
	stop_proc(pid, 5);
	text = slurp_or_empty(log);
	out = strndup(text + from, to > from ? to - from : 0);
	free(text);
	return out;
}

/*
 * An edit that changes nothing (the same allow, block, list add, CIDR allow
 * issued again; a remove of something absent) answers "already in force"
 * (or its error) with no compile, no kernel transaction (nft monitor sees
 * none between two markers) and no write of the edits file (same inode and
 * mtime); the generation stays. A timed edit issued again ends later: that
 * is a change, and gets one.
 */
START_TEST(test_idempotent)
{
	static const char *const again[] = {
		"allow 8080/tcp from " BAD4,
		"block 203.0.113.9",
		"list add good 203.0.113.5",
		"allow 8081/tcp from 198.51.100.0/24",
		"deny 8082/tcp from " BAD6,
	};
	char *mon, *seen;
	long long mtime0, mtime1;
	ino_t ino0, ino1;
	double gen0;
	size_t from;
	pid_t mpid;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	mon = path_in("monitor.log");
	write_policy("deny", "");
	fwd_start();
	for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++) {
		FWCTL_OK("%s", again[i]);
		ck_assert_msg(!strstr(R.out, "already in force"), "first '%s': %s",
			      again[i], R.out);
	}
	FWCTL_OK("allow 9000/tcp from " BAD4 " for 1h");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	gen0 = fwd_generation();
	file_id(T.edits, &ino0, &mtime0);

	mpid = monitor_start(mon, &from);
	for (size_t i = 0; i < sizeof(again) / sizeof(again[0]); i++) {
		FWCTL_OK("%s", again[i]);
		ck_assert_msg(strstr(R.out, "already in force"), "'%s' again: %s",
			      again[i], R.out);
	}
	FWCTL_OK("allow 8080/tcp from " BAD4 " --json");
	ck_assert_msg(strstr(R.out, "\"already_in_force\":true"), "--json: %s", R.out);
	ck_assert_msg(fwctl("remove 7777/tcp from " BAD4) == 1 &&
		      strstr(R.err, "no fwctl rule matches"),
		      "remove of an absent rule: rc %d, %s", R.rc, R.err);
	seen = monitor_until_marker(mpid, mon, from);
	ck_assert_msg(!strstr(seen, "fwd_filter") && tu_count_str(seen, "# new generation") == 1,
		      "edits that change nothing made kernel transactions:\n%.3000s", seen);
	free(seen);
	ck_assert_msg(fwd_generation() == gen0, "the generation moved: %.0f -> %.0f",
		      gen0, fwd_generation());
	file_id(T.edits, &ino1, &mtime1);
	ck_assert_msg(ino1 == ino0 && mtime1 == mtime0,
		      "the edits file was written by edits that change nothing");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after the repeated edits");

	/* The same timed allow a second later ends a second later: a change. */
	msleep(1100);
	FWCTL_OK("allow 9000/tcp from " BAD4 " for 1h");
	ck_assert_msg(!strstr(R.out, "already in force"), "a later timed allow: %s", R.out);
	ck_assert_msg(fwd_generation() == gen0 + 1, "a later timed allow: generation "
		      "%.0f, want %.0f", fwd_generation(), gen0 + 1);
	free(mon);
	topo_down();
}
END_TEST

/*
 * A policy file cut down to comments (a truncated write, typically) loses
 * every inbound service, SSH included: `fwctl reload` refuses it naming the
 * file and --force, SIGHUP refuses it in the log, and the kernel keeps the
 * running rules; `reload --force` applies it; a start on it warns.
 */
START_TEST(test_empty_policy)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_policy("deny", "");
	fwd_start();
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);

	write_file(T.policy, "# fwd.conf\n; nothing else survived\n");
	ck_assert_msg(fwctl("reload") == 1 && strstr(R.err, T.policy) &&
		      strstr(R.err, "no inbound services") && strstr(R.err, "--force"),
		      "reload of an empty policy: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	kill(T.fwd, SIGHUP);
	ck_assert_msg(wait_for(T.fwdlog, "no inbound services", 1, 10),
		      "SIGHUP on an empty policy logged no refusal:\n%s",
		      slurp_or_empty(T.fwdlog));
	ck_assert(fwd_alive());
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	expect_tcp(GOOD, SRV4_G, 22, OK, "after the refused empty policy");

	FWCTL_OK("reload --force");
	expect_elem("allow4", GOOD4 " . tcp . 22", 0);
	expect_tcp(GOOD, SRV4_G, 22, DROP, "after reload --force of the empty policy");

	fwd_stop();
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "has no inbound services: no new inbound") == 1,
		      "no warning at a start on an empty policy:\n%s", slurp_or_empty(T.fwdlog));
	topo_down();
}
END_TEST

/*
 * Issue 9 #4: `reload --confirm`, kill -9, the deadline passes while fwd is
 * down, restart: the kernel is reverted, and fwd does not have the rollback
 * point's model. An unrelated edit must not compile the unconfirmed files
 * back in: edits are refused (naming `fwctl reload`) until the files are
 * applied again.
 */
START_TEST(test_confirm_revert_model)
{
	static const char pol_a[] = "\n[service app]\nports = 8080/tcp\nallow = " BAD4 "\n";
	static const char pol_b[] = "\n[service app]\nports = 8080/tcp\nallow = " BAD4 "\n"
				    "\n[service new]\nports = 8081/tcp\nallow = " BAD4 "\n";
	long long deadline;
	unsigned secs;
	size_t in;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	listener("tcp", 8081);
	listener("tcp", 9000);
	write_policy("deny", pol_a);
	fwd_start();
	/* The confirm must still be pending when fwd is killed: its files in
	 * the state directory say so. A loaded machine that was slower than
	 * the window (the first fwd reverted by itself) runs it again with
	 * a window twice as long (2, 4, 8, 16 s). */
	for (secs = 2;; secs *= 2) {
		write_policy("deny", pol_b);
		FWCTL_OK("reload --confirm %u", secs);
		in = set_count("allow4", BAD4 " . tcp . 8081");
		fwd_kill9();
		deadline = confirm_deadline();
		if (deadline)
			break;
		ck_assert_msg(count_in_file(T.fwdlog, "reload not confirmed in time") == 1 &&
			      secs < 16, "no confirm pending after `reload --confirm %u` "
			      "and kill -9:\n%s", secs, slurp_or_empty(T.fwdlog));
		fprintf(stderr, "confirm_revert_model: `reload --confirm %u` ended before "
			"kill -9; again, twice as long\n", secs);
		/* back to A, with its model, for the next round */
		write_policy("deny", pol_a);
		fwd_start();
	}
	ck_assert_msg(in == 1, "8081 not in the kernel inside `reload --confirm %u`", secs);
	/* down past the deadline fwd kept (whole seconds) */
	while ((long long)time(NULL) <= deadline)
		msleep(100);
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "a reload --confirm expired while fwd was "
				    "down") == 1, "no revert at the restart:\n%s",
		      slurp_or_empty(T.fwdlog));
	for (double end = now() + 30; now() < end &&
	     set_count("allow4", BAD4 " . tcp . 8081"); )
		msleep(50);
	expect_elem("allow4", BAD4 " . tcp . 8081", 0);
	FWCTL_OK("status");
	ck_assert_msg(strstr(R.out, "reverted"), "status does not say reverted:\n%s", R.out);

	/* A CIDR allow needs the compiler: it must not bring 8081 back. */
	ck_assert_msg(fwctl("allow 9000/tcp from 198.51.100.0/24 --runtime") == 1 &&
		      strstr(R.err, "fwctl reload"),
		      "an edit after the revert: rc %d, %s", R.rc, R.err);
	ck_assert_msg(fwctl("block 203.0.113.9 --runtime") == 1,
		      "a block after the revert: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", BAD4 " . tcp . 8081", 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 8081");
		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 9000");
		probes_run(&ps, "after an edit following the revert");
	}

	/* The files applied again: edits work, on the files' model. */
	FWCTL_OK("reload");
	FWCTL_OK("allow 9000/tcp from 198.51.100.0/24 --runtime");
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8081");
		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 9000");
		probes_run(&ps, "after reload and the edit");
	}
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/*
 * Started on broken files, fwd runs the last good policy from its state
 * directory; the model it was compiled from is not at hand (the files
 * have errors). An edit that needs the compiler must not compile an empty
 * model and take the last good rules out of the kernel: it is refused
 * until the files apply again.
 */
START_TEST(test_fallback_edit)
{
	static const char pol_a[] = "\n[service app]\nports = 8080/tcp\nallow = " BAD4 "\n";

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8080);
	listener("tcp", 9000);
	write_policy("deny", pol_a);
	fwd_start();
	fwd_stop();
	write_policy("deny", "[service broken\n");
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "degraded: applied the last good policy") == 1,
		      "no fallback to the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);

	ck_assert_msg(fwctl("allow 9000/tcp from 198.51.100.0/24 --runtime") == 1 &&
		      strstr(R.err, "fwctl reload"),
		      "an edit on the last good policy: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 9000");
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
		probes_run(&ps, "after an edit on the last good policy");
	}

	/* The files fixed and applied: edits work again. */
	write_policy("deny", pol_a);
	FWCTL_OK("reload");
	FWCTL_OK("allow 9000/tcp from 198.51.100.0/24 --runtime");
	expect_tcp(BAD, SRV4_B, 9000, OK, "after reload and the edit");
	topo_down();
}
END_TEST

/* The policy of test_counters: [defaults] counters = ONOFF. */
static void write_counters_policy(const char *onoff)
{
	write_file(T.policy, "[defaults]\ninbound = deny\ncounters = %s\n"
		   "[list good]\nmembers = %s\n[service ssh]\nports = 22/tcp\n"
		   "allow = @good\n", onoff, GOOD4);
}

/*
 * [defaults] counters = no: the allow sets carry no counter in the kernel,
 * traffic still passes, fwctl stats says the per-service counts are off;
 * back to yes, a reload replaces the sets and the counts come back.
 */
START_TEST(test_counters)
{
	char *set;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_counters_policy("no");
	fwd_start();
	expect_tcp(GOOD, SRV4_G, 22, OK, "counters = no");
	set = sh_ok("ip netns exec %s nft list set inet fwd_filter allow4", E.ns[SRV]);
	ck_assert_msg(strstr(set, GOOD4 " . tcp . 22") && !strstr(set, "counter"),
		      "allow4 with counters = no:\n%s", set);
	free(set);
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "counts are off") && !strstr(R.out, "ssh"),
		      "stats with counters = no:\n%s", R.out);
	FWCTL_OK("stats --json");
	ck_assert_msg(strstr(R.out, "\"element_counters\":false"), "stats --json:\n%s", R.out);
	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, "counters no"), "show:\n%s", R.out);
	/* no element counters: no hits, rather than zeros that read as "no
	 * traffic" */
	FWCTL_OK("status --verbose");
	ck_assert_msg(strstr(R.out, "[ 1] service ssh") && strstr(R.out, "fwd.conf:6)  -\n"),
		      "status --verbose with counters = no:\n%s",
		      R.out);

	write_counters_policy("yes");
	FWCTL_OK("reload");
	set = sh_ok("ip netns exec %s nft list set inet fwd_filter allow4", E.ns[SRV]);
	ck_assert_msg(strstr(set, "counter"), "allow4 after counters = yes:\n%s", set);
	free(set);
	expect_tcp(GOOD, SRV4_G, 22, OK, "counters = yes");
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "ssh") && !strstr(R.out, "counts are off"),
		      "stats with counters = yes:\n%s", R.out);
	FWCTL_OK("stats --json");
	ck_assert_msg(strstr(R.out, "\"element_counters\":true"), "stats --json:\n%s", R.out);
	topo_down();
}
END_TEST

/* "NEEDLE counter packets N bytes M" in text: whether it is there, and
 * N and M. */
static bool counter_after(const char *text, const char *needle, unsigned long long *pk,
			  unsigned long long *by)
{
	const char *p = text ? strstr(text, needle) : NULL;

	*pk = *by = 0;
	return p && sscanf(p + strlen(needle), " counter packets %llu bytes %llu", pk, by) == 2;
}

/* The nft listing of fwd's table in srv (malloc'd). */
static char *nft_table(void)
{
	return sh_ok("ip netns exec %s nft list table inet fwd_filter", E.ns[SRV]);
}

/*
 * Issue 11: `fwctl show --nft` prints the kernel's counters (rules and
 * set elements, read back), and a SIGHUP, which replaces the whole table,
 * keeps the counters of what survives it and drops those of what it
 * removes.
 */
START_TEST(test_live_counters)
{
	static const char *const el22 = GOOD4 " . tcp . 22", *const el81 = GOOD4 " . tcp . 8081";
	static const char old_svc[] = "\n[service old]\nports = 8081/tcp\nallow = " GOOD4 "\n";
	static const char new_svc[] = "\n[service app]\nports = 8080/tcp\nallow = 203.0.113.7\n";
	unsigned long long e_pk, e_by, r_pk, r_by, pk, by, pk2, by2, o_pk, o_by;
	char *k1, *k2;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8081);
	write_policy("deny", old_svc);
	fwd_start();
	expect_tcp(GOOD, SRV4_G, 22, OK, "ssh from good");
	expect_tcp(GOOD, SRV4_G, 8081, OK, "old from good");

	/* show --nft between two kernel listings that agree */
	k1 = nft_table();
	FWCTL_OK("show --nft");
	k2 = nft_table();
	ck_assert_msg(counter_after(k1, el22, &e_pk, &e_by) && e_pk > 0,
		      "the kernel has no count for %s:\n%.3000s", el22, k1);
	ck_assert_msg(counter_after(k1, "@allow4", &r_pk, &r_by) && r_pk > 0,
		      "the kernel has no count for the allow4 rule:\n%.3000s", k1);
	ck_assert_msg(counter_after(k1, el81, &o_pk, &o_by) && o_pk > 0,
		      "the kernel has no count for %s:\n%.3000s", el81, k1);
	ck_assert_msg(counter_after(k2, el22, &pk, &by) && pk == e_pk && by == e_by &&
		      counter_after(k2, "@allow4", &pk, &by) && pk == r_pk && by == r_by,
		      "traffic during the test: listings differ:\n%.3000s\n%.3000s", k1, k2);
	ck_assert_msg(counter_after(R.out, el22, &pk, &by) && pk == e_pk && by == e_by,
		      "show --nft: %s counts %llu packets %llu bytes, the kernel %llu %llu:\n%.3000s",
		      el22, pk, by, e_pk, e_by, R.out);
	ck_assert_msg(counter_after(R.out, "@allow4", &pk, &by) && pk == r_pk && by == r_by,
		      "show --nft: the allow4 rule counts %llu packets %llu bytes, the kernel "
		      "%llu %llu:\n%.3000s", pk, by, r_pk, r_by, R.out);
	free(k1);
	free(k2);

	/* SIGHUP with an unrelated change (a service added, one removed):
	 * the whole table is replaced, what survives keeps its counts */
	write_policy("deny", new_svc);
	fwd_hup();
	k1 = nft_table();
	ck_assert_msg(strstr(k1, "203.0.113.7 . tcp . 8080"), "SIGHUP not applied:\n%.3000s", k1);
	ck_assert_msg(counter_after(k1, el22, &pk, &by) && pk >= e_pk && by >= e_by,
		      "after SIGHUP %s counts %llu packets %llu bytes, before %llu %llu:\n%.3000s",
		      el22, pk, by, e_pk, e_by, k1);
	ck_assert_msg(counter_after(k1, "@allow4", &pk2, &by2) && pk2 >= r_pk && by2 >= r_by,
		      "after SIGHUP the allow4 rule counts %llu packets %llu bytes, before "
		      "%llu %llu:\n%.3000s", pk2, by2, r_pk, r_by, k1);
	ck_assert_msg(!strstr(k1, el81), "the removed element is still there:\n%.3000s", k1);
	FWCTL_OK("stats --json");
	ck_assert_msg(strstr(R.out, "{\"name\":\"ssh\",\"packets\":") &&
		      sscanf(strstr(R.out, "{\"name\":\"ssh\",\"packets\":") +
			     strlen("{\"name\":\"ssh\",\"packets\":"), "%llu", &pk2) == 1 &&
		      pk2 >= e_pk, "stats --json after SIGHUP: ssh %llu packets, before %llu:\n%.3000s",
		      pk2, e_pk, R.out);
	free(k1);

	/* the removed element back: its old count went with it */
	write_policy("deny", old_svc);
	fwd_hup();
	k1 = nft_table();
	ck_assert_msg(counter_after(k1, el81, &pk, &by) && pk == 0 && by == 0,
		      "%s came back with %llu packets %llu bytes (it had %llu %llu before "
		      "it was removed):\n%.3000s", el81, pk, by, o_pk, o_by, k1);
	ck_assert_msg(counter_after(k1, el22, &pk, &by) && pk >= e_pk,
		      "after the second SIGHUP %s counts %llu packets, before %llu:\n%.3000s",
		      el22, pk, e_pk, k1);
	free(k1);
	topo_down();
}
END_TEST

/* stats --json: directions.DIR.FATE.packets (-1 if absent). */
static long long fate_packets(const char *json, const char *dir, const char *fate)
{
	char *k = tu_asprintf("\"%s\":{", dir);
	const char *p = strstr(json, "\"directions\":{");
	long long v = -1;

	if (p && (p = strstr(p, k))) {
		char *f = tu_asprintf("\"%s\":{\"packets\":", fate);

		p = strstr(p, f);
		if (p)
			sscanf(p + strlen(f), "%lld", &v);
		free(f);
	}
	free(k);
	return v;
}

/* The packets of the kernel rule listed right after `needle` ("... counter
 * packets N"), in nft's listing of chain `chain`. */
static unsigned long long rule_packets(const char *chain, const char *needle)
{
	char *text = sh_ok("ip netns exec %s nft list chain inet fwd_filter %s", E.ns[SRV],
			   chain);
	unsigned long long pk, by;
	bool ok = counter_after(text, needle, &pk, &by);

	ck_assert_msg(ok, "no counter after '%s' in chain %s:\n%.3000s", needle, chain, text);
	free(text);
	return pk;
}

/*
 * Issue 11: `fwctl stats` says what was dropped, per direction and by
 * what (the policy's default, `fwctl deny`, the blocklist), beside what
 * was accepted, from the kernel's rule counters.
 */
START_TEST(test_drop_stats)
{
	static const struct {
		const char *dir, *fate, *chain, *needle;
	} want[] = {
		/* The family chains hold the lookups (policy/ir.h). */
		{ "in", "accepted", "in4", "@allow4" },
		{ "in", "default_deny", "input", "log prefix \"fwd drop in: \"" },
		{ "in", "deny", "in4", "@deny4 meta l4proto tcp" },
		{ "in", "block", "in4", "@block4" },
		{ "out", "block", "out4", "@block4" },
	};
	long long got[sizeof(want) / sizeof(want[0])];
	unsigned long long acc;
	char *tbl;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 80);
	write_policy("deny", "\n[service web]\nports = 80/tcp\nallow = any\n");
	fwd_start();
	FWCTL_OK("stats --json");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(fate_packets(R.out, want[i].dir, want[i].fate) == 0,
			      "stats --json before any traffic: %s %s is not 0:\n%s",
			      want[i].dir, want[i].fate, R.out);

	/* accepted (ssh from good), dropped by the default (ssh from bad) */
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
		probes_run(&ps, "before deny and block");
	}
	/* deny4 and block4 are empty: their rules are not in the kernel
	 * until their first element comes (policy/ir.h) */
	tbl = nft_table();
	ck_assert_msg(!strstr(tbl, "@deny4") && !strstr(tbl, "@block4"),
		      "rules of empty sets in the kernel:\n%.3000s", tbl);
	free(tbl);
	acc = rule_packets("in4", "@allow4");
	ck_assert_uint_ge(acc, 1);
	/* refused by deny: the first element of deny4 brings its rules, in
	 * the same transaction, and the in4 chain rebuilt for them keeps
	 * the allow4 rule's count */
	FWCTL_OK("deny 80/tcp from " BAD4);
	expect_tcp(BAD, SRV4_B, 80, REFUSED, "after deny");
	ck_assert_uint_ge(rule_packets("in4", "@allow4"), acc);
	/* dropped by block, both ways */
	FWCTL_OK("block " BAD4);
	ck_assert_uint_ge(rule_packets("in4", "@allow4"), acc);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 80");
		probe(&ps, SRV, DROP, "connect tcp " BAD4 " 80");
		probes_run(&ps, "after block");
	}

	FWCTL_OK("stats --json");
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		got[i] = fate_packets(R.out, want[i].dir, want[i].fate);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		/* read after stats: the kernel's count can only have grown */
		unsigned long long k = rule_packets(want[i].chain, want[i].needle);

		ck_assert_msg(got[i] >= 1 && (unsigned long long)got[i] <= k,
			      "stats --json: %s %s %lld packets, the kernel's rule %llu:\n%s",
			      want[i].dir, want[i].fate, got[i], k, R.out);
	}
	/* nothing was refused by the output chain's deny rules */
	ck_assert_msg(fate_packets(R.out, "out", "deny") == 0, "stats --json: out deny:\n%s",
		      R.out);
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "in      dropped by default") &&
		      strstr(R.out, "in      refused by deny") &&
		      strstr(R.out, "out     dropped by block"), "stats:\n%s", R.out);
	topo_down();
}
END_TEST

/* The line of `text` that starts with `prefix`, copied (NULL if none). */
static char *line_starting(const char *text, const char *prefix)
{
	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, prefix, strlen(prefix)) == 0)
			return strndup(l, strcspn(l, "\n"));
	return NULL;
}

/*
 * Issue 11: `fwctl show` numbers every rule (the policy files' services,
 * then fwctl's edits), the number first; `remove N` removes an edit by
 * its number and refuses a policy file's rule naming its FILE:LINE, a
 * number that is no rule, and (with --generation) a number from before a
 * change; `status --verbose` lists the same numbers with their hits.
 */
START_TEST(test_rule_numbers)
{
	char *l;
	double gen;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_policy("deny",
		"\n"					/* 12 */
		"[service app]\n"			/* 13 */
		"ports = 8080/tcp\n"			/* 14 */
		"allow = @good\n");			/* 15 */
	fwd_start();
	FWCTL_OK("allow 9090/udp from 203.0.113.7");
	FWCTL_OK("block 203.0.113.66");
	FWCTL_OK("deny 8081/tcp from " BAD4);
	expect_tcp(GOOD, SRV4_G, 22, OK, "ssh from good (hits for rule 1)");

	FWCTL_OK("show");
	ck_assert_msg((l = line_starting(R.out, "[ 1] service ssh")) && strstr(l, "fwd.conf:9"),
		      "show:\n%s", R.out);
	free(l);
	ck_assert_msg(line_starting(R.out, "[ 2] service app") &&
		      line_starting(R.out, "[ 3] edit    allow 9090/udp from 203.0.113.7") &&
		      line_starting(R.out, "[ 4] edit    block 203.0.113.66") &&
		      line_starting(R.out, "[ 5] edit    deny 8081/tcp from " BAD4),
		      "show does not number the rules 1-5:\n%s", R.out);
	FWCTL_OK("show --json");
	gen = json_num(R.out, "generation");
	ck_assert_msg(gen > 0 && strstr(R.out, "\"number\":5,\"edit\":\"deny 8081/tcp from "
					BAD4 "\""), "show --json:\n%s", R.out);

	/* status --verbose: the same numbers, with hits */
	FWCTL_OK("status --verbose");
	ck_assert_msg((l = line_starting(R.out, "[ 1] service ssh")) &&
		      strstr(l, "fwd.conf:9") && strstr(l, " packets ") &&
		      !strstr(l, " 0 packets"), "status --verbose: ssh has no hits:\n%s", R.out);
	free(l);
	ck_assert_msg((l = line_starting(R.out, "[ 3] edit    allow 9090/udp")) &&
		      strstr(l, "  0 packets 0 bytes"), "status --verbose:\n%s", R.out);
	free(l);
	ck_assert_msg(line_starting(R.out, "[ 5] edit    deny 8081/tcp"), "status --verbose:\n%s",
		      R.out);
	expect_json("status --verbose", (const char *const[]){ "rules", "number", "rule",
		    "packets", NULL });

	/* a policy file's rule: refused, naming where it is written */
	ck_assert_int_eq(fwctl("remove 1"), 1);
	ck_assert_msg(strstr(R.err, "fwd.conf:9") && strstr(R.err, "service ssh"),
		      "remove 1: %s", R.err);
	ck_assert_int_eq(fwctl("remove '#6'"), 1);
	ck_assert_msg(strstr(R.err, "no rule numbered 6"), "remove #6: %s", R.err);

	/* remove N at the generation show printed: the block goes */
	expect_elem("block4", "203.0.113.66", 1);
	FWCTL_OK("remove 4 --generation %.0f", gen);
	ck_assert_msg(strstr(R.out, "removed: block 203.0.113.66"), "remove 4: %s", R.out);
	expect_elem("block4", "203.0.113.66", 0);
	expect_elem("deny4", BAD4 " . tcp . 8081", 1);
	/* the same words again: the generation moved, nothing is removed
	 * (4 is now the deny) */
	ck_assert_int_eq(fwctl("remove 4 --generation %.0f", gen), 1);
	ck_assert_msg(strstr(R.err, "changed since generation"), "stale remove: %s", R.err);
	expect_elem("deny4", BAD4 " . tcp . 8081", 1);
	FWCTL_OK("show");
	ck_assert_msg(line_starting(R.out, "[ 4] edit    deny 8081/tcp from " BAD4),
		      "show after remove 4:\n%s", R.out);

	/* '#N' always a number; a bare N that is also a port is refused */
	FWCTL_OK("allow 3");
	ck_assert_int_eq(fwctl("remove 3"), 2);
	ck_assert_msg(strstr(R.err, "rule 3 or port 3"), "remove 3: %s", R.err);
	expect_elem("allow4", "203.0.113.7 . udp . 9090", 1);
	FWCTL_OK("remove '#3'");
	expect_elem("allow4", "203.0.113.7 . udp . 9090", 0);
	expect_elem("open", "tcp . 3", 1);
	/* a bare number past the last rule is still a port */
	FWCTL_OK("remove 3 from any");
	FWCTL_OK("allow 5353");
	FWCTL_OK("remove 5353");
	expect_elem("open", "udp . 5353", 0);
	topo_down();
}
END_TEST

/* The unprivileged user of this suite run (tu_user: created on first use,
 * removed when the suite ends); its uid and primary group. */
static void test_user(uid_t *uid, gid_t *gid, char *group, size_t glen)
{
	const char *name = tu_user();
	struct passwd *pw = name ? getpwnam(name) : NULL;
	struct group *gr;

	ck_assert_msg(pw != NULL, "cannot create the test user (useradd, Debian "
		      "package passwd)");
	ck_assert(pw->pw_uid != 0);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	gr = getgrgid(pw->pw_gid);
	ck_assert_msg(gr != NULL, "no group %u", (unsigned)pw->pw_gid);
	snprintf(group, glen, "%s", gr->gr_name);
}

/* fwctl as the unprivileged user (its primary group only). */
static int fwctl_as(uid_t uid, gid_t gid, const char *args)
{
	char *env = tu_asprintf("setpriv --reuid=%u --regid=%u --clear-groups",
				(unsigned)uid, (unsigned)gid);
	int rc;

	/* `env` runs setpriv, which runs fwctl. */
	rc = fwctl_env(env, "%s", args);
	free(env);
	return rc;
}

/* status needs root or read_group, allow needs root or admin_group;
 * everyone else is refused with exit 3 and the permission message. */
START_TEST(test_unprivileged)
{
	char group[64], *extra;
	uid_t uid;
	gid_t gid;

	if (!tu_need_root())
		return;
	topo_up();
	test_user(&uid, &gid, group, sizeof(group));
	/* the user must reach the socket: traversable scratch directory */
	ck_assert(chmod(E.dir, 0755) == 0);
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();
	ck_assert_msg(tu_sh(NULL, "setpriv --reuid=%u --regid=%u --clear-groups test -w %s",
			    (unsigned)uid, (unsigned)gid, T.sock) == 0,
		      "the test user cannot reach %s (a parent directory not traversable?)",
		      T.sock);

	ck_assert_msg(fwctl_as(uid, gid, "status") == 3 && strstr(R.err, "permission denied"),
		      "status by an unprivileged user: rc %d, %s%s", R.rc, R.out, R.err);
	ck_assert_msg(fwctl_as(uid, gid, "show") == 3, "show: rc %d", R.rc);
	ck_assert_msg(fwctl_as(uid, gid, "allow 8080/tcp from " BAD4) == 3 &&
		      strstr(R.err, "permission denied"), "allow: rc %d, %s%s", R.rc, R.out,
		      R.err);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);

	/* read_group: queries yes, edits no */
	fwd_stop();
	extra = tu_asprintf("\n[control]\nread_group = %s\n", group);
	write_policy("deny", extra);
	free(extra);
	fwd_start();
	ck_assert_msg(fwctl_as(uid, gid, "status") == 0, "status with read_group: rc %d, %s",
		      R.rc, R.err);
	ck_assert_msg(fwctl_as(uid, gid, "list show") == 0, "list show with read_group: "
		      "rc %d, %s", R.rc, R.err);
	ck_assert_msg(fwctl_as(uid, gid, "allow 8080/tcp from " BAD4) == 3 &&
		      strstr(R.err, "permission denied"), "allow with read_group only: rc %d, "
		      "%s%s", R.rc, R.out, R.err);
	ck_assert_msg(fwctl_as(uid, gid, "block " BAD4) == 3, "block with read_group only: "
		      "rc %d", R.rc);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_elem("block4", BAD4, 0);

	/* admin_group: edits too */
	fwd_stop();
	extra = tu_asprintf("\n[control]\nadmin_group = %s\n", group);
	write_policy("deny", extra);
	free(extra);
	fwd_start();
	ck_assert_msg(fwctl_as(uid, gid, "allow 8080/tcp from " BAD4) == 0,
		      "allow with admin_group: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	expect_tcp(BAD, SRV4_B, 8080, OK, "after the admin group's allow");
	ck_assert_msg(fwctl_as(uid, gid, "status") == 0, "status with admin_group: rc %d, %s",
		      R.rc, R.err);
	topo_down();
}
END_TEST

/* 50 fwctl clients at once, each adding its own address: every address
 * once in the kernel set and once in 99-fwctl.conf. */
START_TEST(test_parallel_clients)
{
	char *script = NULL, *out, *save = NULL, *report = NULL;
	size_t slen = 0, rlen = 0;
	FILE *f, *rf;
	int nbad = 0, ndone = 0;
	size_t n;
	char **v;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = " GOOD4 "\n"
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = @office\n");
	fwd_start();
	f = open_memstream(&script, &slen);
	for (int i = 1; i <= 50; i++)
		fprintf(f, "( ip netns exec %s %s -S %s list add office 203.0.113.%d "
			">/dev/null 2>%s/par-%d.err; echo \"@@ %d $?\" ) &\n",
			E.ns[SRV], FWCTL, T.sock, i, E.dir, i, i);
	fprintf(f, "wait\n");
	fclose(f);
	tu_sh(&out, "%s", script);
	free(script);
	rf = open_memstream(&report, &rlen);
	for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		int i, rc;

		if (sscanf(l, "@@ %d %d", &i, &rc) != 2)
			continue;
		ndone++;
		if (rc != 0) {
			char *p = tu_asprintf("%s/par-%d.err", E.dir, i), *e = slurp_or_empty(p);

			fprintf(rf, "\n  client %d exited %d: %s", i, rc, e);
			nbad++;
			free(p);
			free(e);
		}
	}
	fclose(rf);
	free(out);
	ck_assert_msg(ndone == 50 && nbad == 0, "%d of 50 clients reported, %d failed:%s",
		      ndone, nbad, report);
	free(report);

	v = set_elems("allow4", &n);
	for (int i = 1; i <= 50; i++) {
		char key[64], line[64];
		size_t k = 0;

		snprintf(key, sizeof(key), "203.0.113.%d . tcp . 8080", i);
		for (size_t j = 0; v[j]; j++)
			if (key_is(v[j], key))
				k++;
		ck_assert_msg(k == 1, "kernel: '%s' %zu times in allow4 (of %zu elements)",
			      key, k, n);
		snprintf(line, sizeof(line), "list-add = office 203.0.113.%d", i);
		k = count_lines_eq(T.edits, line);
		ck_assert_msg(k == 1, "99-fwctl.conf: '%s' %zu times:\n%s", line, k,
			      slurp_or_empty(T.edits));
	}
	ck_assert_msg(n == 52, "allow4 holds %zu elements, want 52 (50, " GOOD4 " for 8080 and 22)", n);
	elems_free(v);
	ck_assert_msg(count_in_file(T.edits, "list-add = ") == 50, "99-fwctl.conf:\n%s",
		      slurp_or_empty(T.edits));
	ck_assert(fwd_alive());
	topo_down();
}
END_TEST

/* The key nft prints for the i-th address of batch_v6 (inet_ntop's
 * text, as nft's), on 8080/tcp. */
static void batch_v6_key(unsigned i, char *key, size_t len)
{
	struct in6_addr a;
	char txt[INET6_ADDRSTRLEN], in[64];

	snprintf(in, sizeof(in), "2001:db8:%x:%x::1", 1 + (i >> 16), i & 0xffff);
	ck_assert(inet_pton(AF_INET6, in, &a) == 1);
	ck_assert(inet_ntop(AF_INET6, &a, txt, sizeof(txt)) != NULL);
	snprintf(key, len, "%s . tcp . 8080", txt);
}

/*
 * 100k IPv6 addresses in one `fwctl list add NAME -` are answered and in
 * the kernel. The fast path scanned every edit of the policy for each
 * member, so this batch took minutes and fwctl gave up after 60 s (the
 * bound here is only this case's timeout: nothing is timed).
 */
START_TEST(test_batch_v6_100k)
{
	enum { N = 100000 };
	char *addrs, key[96];
	size_t n0, n;
	char **v;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	addrs = path_in("addrs6.txt");
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = " GOOD4 "\n"
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = @office\n");
	fwd_start();
	f = fopen(addrs, "w");
	ck_assert(f != NULL);
	for (unsigned i = 0; i < N; i++)
		fprintf(f, "2001:db8:%x:%x::1\n", 1 + (i >> 16), i & 0xffff);
	ck_assert(fclose(f) == 0);
	v = set_elems("allow6", &n0);
	elems_free(v);

	ck_assert_msg(fwctl_stdin(addrs, "list add office -") == 0,
		      "100k IPv6 batch: rc %d\n%s%.2000s", R.rc, R.out, R.err);
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));

	v = set_elems("allow6", &n);
	ck_assert_msg(n == n0 + N, "allow6 holds %zu elements, want %zu + %d", n, n0, N);
	/* the first, the last, one each side of a 16-bit carry, one between */
	{
		const unsigned pick[] = { 0, 65535, 65536, 4242, N - 1 };

		for (size_t k = 0; k < sizeof(pick) / sizeof(pick[0]); k++) {
			size_t hits = 0;

			batch_v6_key(pick[k], key, sizeof(key));
			for (size_t j = 0; v[j]; j++)
				hits += key_is(v[j], key);
			ck_assert_msg(hits == 1, "'%s' %zu times in allow6", key, hits);
		}
	}
	elems_free(v);
	ck_assert_msg(count_in_file(T.edits, "list-add = office 2001:db8:") == N,
		      "99-fwctl.conf has %zu of the %d list-adds",
		      count_in_file(T.edits, "list-add = office 2001:db8:"), N);
	/* still answering, and the next single edit is one element */
	FWCTL_OK("list add office 2001:db8:ffff::7");
	ck_assert_uint_eq(set_count("allow6", "2001:db8:ffff::7 . tcp . 8080"), 1);
	free(addrs);
	topo_down();
}
END_TEST

/* Batch: 1000 addresses on stdin are one request and ONE kernel
 * transaction (nft monitor sees one new generation), all 1000 in the set.
 * What the monitor saw is read up to a closing marker of ours made after
 * fwctl answered: the monitor prints events in the kernel's order, so
 * everything the batch's transaction did is in its log by then, however
 * slowly it got there (it used to be read after a fixed 500 ms). */
START_TEST(test_batch)
{
	char *addrs, *mon, *seen, *cut;
	pid_t mpid;
	size_t n, gens, from;
	double gen0;
	char **v;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	addrs = path_in("addrs.txt");
	mon = path_in("monitor.log");
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = " GOOD4 "\n"
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = @office\n");
	fwd_start();
	f = fopen(addrs, "w");
	ck_assert(f != NULL);
	for (int i = 0; i < 1000; i++)
		fprintf(f, "198.18.%d.%d\n", i / 256, i % 256);
	ck_assert(fclose(f) == 0);

	gen0 = fwd_generation();
	mpid = monitor_start(mon, &from);
	ck_assert_msg(fwctl_stdin(addrs, "list add office -") == 0,
		      "batch list add: rc %d, %s", R.rc, R.err);
	seen = monitor_until_marker(mpid, mon, from);
	ck_assert_msg(fwd_generation() == gen0 + 1, "the batch moved fwd's generation "
		      "from %.0f to %.0f, want one step", gen0, fwd_generation());
	/* the closing marker's own transaction is not the batch's */
	cut = strstr(seen, "add table inet fwdtmarkZ");
	ck_assert_msg(cut, "no closing marker in what the monitor saw:\n%.3000s", seen);
	*cut = '\0';
	gens = tu_count_str(seen, "# new generation");
	ck_assert_msg(gens == 1 && strstr(seen, "(fwd)"),
		      "the batch took %zu kernel transactions, want 1:\n%.3000s", gens, seen);
	ck_assert_msg(tu_count_str(seen, "add element inet fwd_filter allow4") == 1000,
		      "the batch's transaction added %zu allow4 elements, want 1000",
		      tu_count_str(seen, "add element inet fwd_filter allow4"));
	free(seen);

	v = set_elems("allow4", &n);
	ck_assert_msg(n == 1002, "allow4 holds %zu elements, want 1002 (1000, " GOOD4 " for 8080 and 22)", n);
	for (int i = 0; i < 1000; i++) {
		char key[64];
		size_t k = 0;

		snprintf(key, sizeof(key), "198.18.%d.%d . tcp . 8080", i / 256, i % 256);
		for (size_t j = 0; v[j]; j++)
			if (key_is(v[j], key))
				k++;
		ck_assert_msg(k == 1, "'%s' %zu times in allow4", key, k);
	}
	elems_free(v);
	ck_assert_msg(count_in_file(T.edits, "list-add = office 198.18.") == 1000,
		      "99-fwctl.conf has %zu of the 1000 list-adds",
		      count_in_file(T.edits, "list-add = office 198.18."));
	free(addrs);
	free(mon);
	topo_down();
}
END_TEST

/* explain SRC PORT/PROTO: the verdict and the deciding set, element and
 * FILE:LINE, v4 and v6, agreeing with the policy and with real traffic. */
static void expect_explain(const char *src, const char *port, const char *verdict,
			   const char *set, const char *elem, const char *loc)
{
	int rc = fwctl("explain %s %s", src, port);
	char *args;

	ck_assert_msg(rc == 0, "explain %s %s: rc %d, %s", src, port, rc, R.err);
	ck_assert_msg(strstr(R.out, verdict), "explain %s %s: want verdict '%s':\n%s", src,
		      port, verdict, R.out);
	if (set) {
		char *w = tu_asprintf("set %s, element %s\n", set, elem);

		ck_assert_msg(strstr(R.out, w), "explain %s %s: want '%s':\n%s", src, port, w,
			      R.out);
		free(w);
	}
	if (loc) {
		char *w = tu_asprintf("/fwd.conf:%s\n", loc);

		ck_assert_msg(strstr(R.out, w), "explain %s %s: want 'fwd.conf:%s':\n%s", src,
			      port, loc, R.out);
		free(w);
	}
	args = tu_asprintf("explain %s %s", src, port);
	expect_json(args, (const char *const[]){ "verdict", "set", "element",
		    "policy_source", NULL });
	free(args);
}

START_TEST(test_explain)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8080);
	write_policy("deny",
		"\n"					/* 12 */
		"[service web]\n"			/* 13 */
		"ports = 8080/tcp\n"			/* 14 */
		"allow = 198.51.100.0/24, " BAD6 "\n");	/* 15 */
	fwd_start();

	/* list members: the member's line; direct peers: the allow line */
	expect_explain(GOOD4, "22/tcp", "accept", "allow4", GOOD4 " . tcp . 22", "7");
	expect_explain(GOOD6, "22/tcp", "accept", "allow6", GOOD6 " . tcp . 22", "7");
	expect_explain(BAD4, "8080/tcp", "accept", "allow4_net",
		       "198.51.100.0/24 . tcp . 8080", "15");
	expect_explain(BAD6, "8080/tcp", "accept", "allow6", BAD6 " . tcp . 8080", "15");
	expect_explain(BAD4, "22/tcp", "drop", NULL, NULL, NULL);
	expect_explain(BAD6, "22/tcp", "drop", NULL, NULL, NULL);
	expect_explain(GOOD4, "22/udp", "drop", NULL, NULL, NULL);
	/* the kernel holds what explain names */
	expect_elem("allow4_net", "198.51.100.0/24 . tcp . 8080", 1);
	expect_elem("allow6", BAD6 " . tcp . 8080", 1);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
		probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 8080");
		probe(&ps, BAD, OK, "connect tcp " SRV6_B " 8080");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
		probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
		probes_run(&ps, "traffic against explain's verdicts");
	}

	/* fwctl's own rules */
	FWCTL_OK("allow 9090/udp from 203.0.113.7");
	expect_explain("203.0.113.7", "9090/udp", "accept", "allow4",
		       "203.0.113.7 . udp . 9090", NULL);
	FWCTL_OK("deny 8080/tcp from 2001:db8:2::9");
	expect_explain("2001:db8:2::9", "8080/tcp", "reject (tcp reset)", "deny6",
		       "2001:db8:2::9 . tcp . 8080", NULL);
	FWCTL_OK("block 203.0.113.66");
	expect_explain("203.0.113.66", "22/tcp", "drop", NULL, NULL, NULL);
	ck_assert_msg(strstr(R.out, "block4"), "explain of a blocked source does not "
		      "name block4:\n%s", R.out);

	/* remove of a rule the files hold: refused, naming the line to edit */
	ck_assert_msg(fwctl("remove 22/tcp from " GOOD4) == 1 &&
		      strstr(R.err, "/fwd.conf:7, change it there"),
		      "remove of a list member's rule: rc %d, %s", R.rc, R.err);
	ck_assert_msg(fwctl("remove 8080/tcp from " BAD4) == 1 &&
		      strstr(R.err, "/fwd.conf:15, change it there"),
		      "remove of a service's network: rc %d, %s", R.rc, R.err);
	ck_assert_msg(fwctl("remove 8080/tcp from 203.0.113.99") == 1 &&
		      !strstr(R.err, "change it there"),
		      "remove of nothing named a line: rc %d, %s", R.rc, R.err);
	expect_elem("allow4", GOOD4 " . tcp . 22", 1);

	ck_assert_msg(fwctl("explain 192.0.2.300 22/tcp") == 2, "explain of a bad address: "
		      "rc %d", R.rc);
	ck_assert_msg(fwctl("explain " GOOD4 " 22/sctp") == 2, "explain of a bad port: rc %d",
		      R.rc);
	topo_down();
}
END_TEST

/* Every query with and without --json, help for every command, exit codes
 * for an unknown command and for a daemon that is not running. */
START_TEST(test_queries)
{
	char *save = NULL, *help, *fwctl_only = NULL;
	int ncmds = 0;
	bool in_cmds = false;
	static const char *const want_cmds[] = {
		"status", "show", "allow", "deny", "remove", "block", "unblock",
		"list blocked", "list add", "list del", "list show", "reload", "confirm",
		"diff", "explain", "stats", NULL
	};

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_policy("deny",
		"\n"					/* 12 */
		"[list office]\n"			/* 13 */
		"members = " GOOD4 "\n"			/* 14 */
		"\n"					/* 15 */
		"[service app]\n"			/* 16 */
		"ports = 8080/tcp\n"			/* 17 */
		"allow = @office\n");			/* 18 */
	fwd_start();
	FWCTL_OK("allow 9090/udp from 203.0.113.7");
	FWCTL_OK("block 203.0.113.66 for 1h");
	expect_tcp(GOOD, SRV4_G, 22, OK, "ssh from good (counts in allow4)");

	FWCTL_OK("status");
	ck_assert_msg(strstr(R.out, "running") && strstr(R.out, "generation"), "status:\n%s",
		      R.out);
	expect_json("status", (const char *const[]){ "running", "generation", "files",
		    "elements", "kernel", "confirm_pending", NULL });

	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, "service app") && strstr(R.out, "9090/udp") &&
		      strstr(R.out, "fwd.conf:16"), "show:\n%s", R.out);
	expect_json("show", (const char *const[]){ "defaults", "lists", "services", "edits",
		    NULL });

	/* show --nft is the kernel's table: every element nft lists is in it */
	FWCTL_OK("show --nft");
	ck_assert_msg(strstr(R.out, "table inet fwd_filter"), "show --nft:\n%.2000s", R.out);
	{
		static const char *const sets[] = { "allow4", "allow6", "block4", NULL };

		for (int s = 0; sets[s]; s++) {
			char **v = set_elems(sets[s], NULL);

			for (size_t i = 0; v[i]; i++) {
				char key[128];

				snprintf(key, sizeof(key), "%s", v[i]);
				/* the render has no element counters */
				if (strstr(key, " counter"))
					*strstr(key, " counter") = '\0';
				if (strstr(key, " timeout"))
					*strstr(key, " timeout") = '\0';
				if (strstr(key, " expires"))
					*strstr(key, " expires") = '\0';
				ck_assert_msg(strstr(R.out, key), "show --nft lacks the kernel's "
					      "%s element '%s':\n%.3000s", sets[s], key, R.out);
			}
			elems_free(v);
		}
	}
	ck_assert_msg(strstr(R.out, "203.0.113.7 . udp . 9090"), "show --nft:\n%.3000s", R.out);
	expect_json("show --nft", NULL);

	FWCTL_OK("list show");
	ck_assert_msg(strstr(R.out, "office") && strstr(R.out, "good"), "list show:\n%s", R.out);
	expect_json("list show", (const char *const[]){ "name", "members", NULL });
	FWCTL_OK("list show office");
	ck_assert_msg(strstr(R.out, GOOD4 " ") && strstr(R.out, "fwd.conf:14"),
		      "list show office:\n%s", R.out);
	expect_json("list show office", (const char *const[]){ "name", "members", "removed",
		    NULL });
	FWCTL_OK("list blocked");
	ck_assert_msg(strstr(R.out, "203.0.113.66"), "list blocked:\n%s", R.out);
	expect_json("list blocked", (const char *const[]){ "address", "seconds_left", NULL });
	ck_assert_msg(json_num(R.out, "seconds_left") > 3500, "list blocked --json:\n%s", R.out);

	/* stats: kernel counters, the same the kernel shows */
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "allow4"), "stats:\n%s", R.out);
	expect_json("stats", (const char *const[]){ "rules", "set", "packets", "bytes", NULL });
	{
		const char *p = strstr(R.out, "\"set\":\"allow4\"");
		char *chain;
		unsigned long long stat_pk = 0, k_pk = 0;
		const char *q;

		ck_assert_msg(p && (q = strstr(p, "\"packets\":")) &&
			      sscanf(q, "\"packets\":%llu", &stat_pk) == 1,
			      "stats --json: no allow4 packets:\n%s", R.out);
		chain = sh_ok("ip netns exec %s nft list chain inet fwd_filter in4", E.ns[SRV]);
		q = strstr(chain, "@allow4 counter packets ");
		ck_assert_msg(q && sscanf(q, "@allow4 counter packets %llu", &k_pk) == 1,
			      "no allow4 counter in the kernel:\n%s", chain);
		ck_assert_msg(stat_pk >= 1 && stat_pk <= k_pk, "stats says %llu packets hit "
			      "allow4, the kernel %llu (after a connection from good)", stat_pk,
			      k_pk);
		free(chain);
	}
	/* stats by service and list: ssh from good (list good), app from good
	 * (list office); the per-element counters, summed by owner */
	listener("tcp", 8080);
	expect_tcp(GOOD, SRV4_G, 8080, OK, "app from good (list office)");
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "service app") && strstr(R.out, "list    office"),
		      "stats:\n%s", R.out);
	FWCTL_OK("stats --json");
	{
		static const struct { const char *arr, *name; } want[] = {
			{ "services", "ssh" }, { "services", "app" },
			{ "lists", "good" }, { "lists", "office" },
		};
		unsigned long long pk, app_pk = 0, office_pk = 0;

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			char a[64], n[64];
			const char *q = NULL;

			snprintf(a, sizeof(a), "\"%s\":[", want[i].arr);
			snprintf(n, sizeof(n), "{\"name\":\"%s\",\"packets\":", want[i].name);
			pk = 0;
			ck_assert_msg((q = strstr(R.out, a)) && (q = strstr(q, n)) &&
				      sscanf(q + strlen(n), "%llu", &pk) == 1 && pk >= 1,
				      "stats --json: no packets for %s %s:\n%s", want[i].arr,
				      want[i].name, R.out);
			if (strcmp(want[i].name, "app") == 0)
				app_pk = pk;
			if (strcmp(want[i].name, "office") == 0)
				office_pk = pk;
		}
		/* one connection to 8080 and nothing else there: the service
		 * and its list count the same packets */
		ck_assert_msg(app_pk == office_pk, "app %llu packets, office %llu:\n%s",
			      app_pk, office_pk, R.out);
		ck_assert_msg(strstr(R.out, "\"edits\":[{\"name\":\"allow 9090/udp from 203.0.113.7\",\"packets\":0"),
			      "stats --json: the live edit is not listed:\n%s", R.out);
	}

	/* diff: the files against the running rules, changing nothing */
	FWCTL_OK("diff");
	ck_assert_msg(strstr(R.out, "no difference"), "diff with nothing changed:\n%s", R.out);
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = " GOOD4 ", " BAD4 "\n"
		"\n"
		"[service app]\n"
		"ports = 8080/tcp\n"
		"allow = @office\n");
	/* diff exits 1 when a reload would change something, as diff(1) */
	ck_assert_msg(fwctl("diff") == 1, "diff with a change: rc %d %s", R.rc, R.err);
	ck_assert_msg(strstr(R.out, "allow4") && strstr(R.out, BAD4 " . tcp . 8080") &&
		      strstr(R.out, "fwd.conf:14") && R.out[0] == '+',
		      "diff after adding a list member:\n%s", R.out);
	ck_assert_msg(fwctl("diff --json") == 1 && json_ok(R.out) && json_has(R.out, "op") &&
		      json_has(R.out, "element"), "diff --json with a change: rc %d\n%s",
		      R.rc, R.out);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);	/* diff applies nothing */
	FWCTL_OK("reload");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	FWCTL_OK("diff");
	ck_assert_msg(strstr(R.out, "no difference"), "diff after reload:\n%s", R.out);

	expect_json("explain " GOOD4 " 22/tcp", (const char *const[]){ "verdict", "set",
		    "element", "policy_source", NULL });

	/* help for every command of `fwctl help`'s list */
	ck_assert_msg(fwctl("help") == 0, "fwctl help: rc %d", R.rc);
	help = strdup(R.out);
	for (char *l = strtok_r(help, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[64] = "", *w, *ws = NULL, *copy;
		size_t nl = 0;

		if (strcmp(l, "commands:") == 0) {
			in_cmds = true;
			continue;
		}
		if (!in_cmds || strncmp(l, "  ", 2) != 0) {
			if (in_cmds && ncmds)
				in_cmds = false;
			continue;
		}
		/* "  NAME   what it is for": the name is the words before
		 * the gap, and `help NAME` gives its usage line and text. */
		copy = strdup(l + 2);
		for (w = strtok_r(copy, " ", &ws); w; w = strtok_r(NULL, " ", &ws)) {
			if (strspn(w, "abcdefghijklmnopqrstuvwxyz") != strlen(w))
				break;
			nl += (size_t)snprintf(name + nl, sizeof(name) - nl, "%s%s",
					       nl ? " " : "", w);
			if (strncmp(l + 2 + nl, "  ", 2) == 0)
				break;
		}
		free(copy);
		ck_assert_msg(*name, "help line without a command: '%s'", l);
		ck_assert_msg(strlen(l + 2 + nl) > 5, "help line without a description: '%s'", l);
		ck_assert_msg(fwctl("help %s", name) == 0, "fwctl help %s: rc %d, %s", name,
			      R.rc, R.err);
		{
			char *want = tu_asprintf("usage: fwctl %s", name);

			ck_assert_msg(strncmp(R.out, want, strlen(want)) == 0 &&
				      (R.out[strlen(want)] == ' ' || R.out[strlen(want)] == '\n'),
				      "fwctl help %s does not start with '%s':\n%s", name, want,
				      R.out);
			ck_assert_msg(strlen(R.out) > strlen(want) + 20, "fwctl help %s has no "
				      "help text:\n%s", name, R.out);
			free(want);
		}
		fwctl_only = fwctl_only ? fwctl_only : strdup("");
		{
			char *t = tu_asprintf("%s|%s|", fwctl_only, name);

			free(fwctl_only);
			fwctl_only = t;
		}
		ncmds++;
	}
	free(help);
	for (int i = 0; want_cmds[i]; i++) {
		char *t = tu_asprintf("|%s|", want_cmds[i]);

		ck_assert_msg(fwctl_only && strstr(fwctl_only, t), "fwctl help does not list "
			      "'%s' (listed: %s)", want_cmds[i], fwctl_only ? fwctl_only : "");
		free(t);
	}
	free(fwctl_only);

	/* exit codes */
	ck_assert_msg(fwctl("frobnicate") == 2, "unknown command: rc %d", R.rc);
	ck_assert_msg(fwctl("help frobnicate") == 2, "help for an unknown command: rc %d",
		      R.rc);
	ck_assert_msg(fwctl("status --frobnicate") == 2, "unknown option: rc %d, %s", R.rc,
		      R.err);
	ck_assert_msg(fwctl("allow 70000/tcp") == 2, "allow of a bad port: rc %d, %s", R.rc,
		      R.err);
	fwd_stop();
	ck_assert_msg(fwctl("status") == 4 && strstr(R.err, "cannot reach fwd"),
		      "status with fwd stopped: rc %d, %s", R.rc, R.err);
	ck_assert_msg(fwctl("allow 22/tcp from " BAD4) == 4 && strstr(R.err, "cannot reach fwd"),
		      "allow with fwd stopped: rc %d, %s", R.rc, R.err);
	topo_down();
}
END_TEST

/* ---- input parsing (issue 9) ---- */

/* Bytes for fwctl's stdin, exactly (NUL bytes included). */
static void write_bytes(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert(fwrite(data, 1, len, f) == len);
	ck_assert(fclose(f) == 0);
}

/* The live table, byte for byte (nft -s: no counters), to show that a
 * refused request changed nothing in the kernel. */
static char *table_text(void)
{
	return sh_ok("ip netns exec %s nft -s list table inet fwd_filter", E.ns[SRV]);
}

static void expect_unchanged(const char *table_before, const char *edits_before,
			     const char *when)
{
	char *t = table_text(), *f = slurp_or_empty(T.edits);

	ck_assert_msg(strcmp(t, table_before) == 0, "%s: the kernel table changed:\n"
		      "%.3000s\nlast fwctl: rc %d, %s", when, t, R.rc, R.err);
	ck_assert_msg(strcmp(f, edits_before) == 0, "%s: 99-fwctl.conf changed:\n%s",
		      when, f);
	ck_assert_msg(fwd_alive(), "%s: fwd died:\n%s", when, slurp_or_empty(T.fwdlog));
	free(t);
	free(f);
}

/*
 * A batch on stdin (`list add NAME -`): '#' and ';' start a comment that
 * runs to the end of the line, so a commented-out address is neither in
 * the kernel, nor in 99-fwctl.conf, nor let in; blank lines are fine. A bad
 * address names its input line, a NUL byte is refused (not taken for the
 * end of the input), and in both cases nothing of the batch is applied.
 */
START_TEST(test_batch_comments)
{
	/* The report's own input: the second line was added and let in. */
	static const char report[] =
		"198.51.100.7\n"
		"# " BAD4 "\n";
	static const char batch[] =
		"198.51.100.4\n"
		"\n"
		"203.0.113.5   # " BAD4 "\n"
		"203.0.113.6;" BAD4 "\n"
		"   ; " BAD6 "\n"
		"2001:db8:3::5, 203.0.113.7\n";
	static const char bad_line[] =
		"198.51.100.8\n"
		"\n"
		"# a comment\n"
		"198.51.100.300\n"
		"198.51.100.9\n";
	static const char nul[] =
		"198.51.100.10\n"
		"198.51.100.11\0" BAD4 "\n"
		"198.51.100.12\n";
	char *in = path_in("batch.txt"), *table, *edits;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = " GOOD4 "\n"
		"\n"
		"[service admin]\n"
		"ports = 22/tcp\n"
		"allow = @office\n");
	fwd_start();
	expect_tcp(BAD, SRV4_B, 22, DROP, "before the batch");

	write_bytes(in, report, sizeof(report) - 1);
	ck_assert_msg(fwctl_stdin(in, "list add office -") == 0, "batch: rc %d\n%s%s",
		      R.rc, R.out, R.err);
	expect_elem("allow4", "198.51.100.7 . tcp . 22", 1);
	expect_elem("allow4", BAD4 " . tcp . 22", 0);
	expect_tcp(BAD, SRV4_B, 22, DROP, "after a batch with a commented-out address");
	ck_assert_msg(count_in_file(T.edits, BAD4) == 0, "99-fwctl.conf holds the "
		      "commented-out address:\n%s", slurp_or_empty(T.edits));

	write_bytes(in, batch, sizeof(batch) - 1);
	ck_assert_msg(fwctl_stdin(in, "list add office -") == 0, "batch: rc %d\n%s%s",
		      R.rc, R.out, R.err);
	expect_elem("allow4", "198.51.100.4 . tcp . 22", 1);
	expect_elem("allow4", "203.0.113.5 . tcp . 22", 1);
	expect_elem("allow4", "203.0.113.6 . tcp . 22", 1);
	expect_elem("allow4", "203.0.113.7 . tcp . 22", 1);
	expect_elem("allow6", "2001:db8:3::5 . tcp . 22", 1);
	/* The commented-out addresses: not in the kernel, not let in, not
	 * saved. */
	expect_elem("allow4", BAD4 " . tcp . 22", 0);
	expect_elem("allow6", BAD6 " . tcp . 22", 0);
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 22");
		probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 22");
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 22");
		probes_run(&ps, "after a batch with commented-out addresses");
	}
	ck_assert_msg(count_in_file(T.edits, BAD4) == 0 && count_in_file(T.edits, BAD6) == 0,
		      "99-fwctl.conf holds a commented-out address:\n%s",
		      slurp_or_empty(T.edits));
	ck_assert_msg(count_lines_eq(T.edits, "list-add = office 198.51.100.7") == 1 &&
		      count_lines_eq(T.edits, "list-add = office 198.51.100.4") == 1 &&
		      count_lines_eq(T.edits, "list-add = office 203.0.113.7") == 1,
		      "99-fwctl.conf:\n%s", slurp_or_empty(T.edits));
	/* ...and not after a restart either (the file is what is read). */
	fwd_stop();
	fwd_start();
	expect_elem("allow4", BAD4 " . tcp . 22", 0);
	expect_elem("allow4", "198.51.100.7 . tcp . 22", 1);

	table = table_text();
	edits = slurp_or_empty(T.edits);
	/* A bad address names its line of stdin; nothing is applied. */
	write_bytes(in, bad_line, sizeof(bad_line) - 1);
	ck_assert_msg(fwctl_stdin(in, "list add office -") == 2, "bad address in a "
		      "batch: rc %d\n%s%s", R.rc, R.out, R.err);
	ck_assert_msg(strstr(R.err, "stdin:4: '198.51.100.300' is not an address"),
		      "the error does not name stdin:4:\n%s", R.err);
	expect_unchanged(table, edits, "after a batch with a bad address");
	/* The same word on the command line is not a line of stdin. */
	ck_assert(fwctl("list add office 198.51.100.300") == 2);
	ck_assert_msg(strstr(R.err, "'198.51.100.300' is not an address") &&
		      !strstr(R.err, "stdin:"), "%s", R.err);

	/* A NUL byte: refused with its line, not a silently shorter batch. */
	write_bytes(in, nul, sizeof(nul) - 1);
	ck_assert_msg(fwctl_stdin(in, "list add office -") == 2, "NUL in a batch: rc %d"
		      "\n%s%s", R.rc, R.out, R.err);
	ck_assert_msg(strstr(R.err, "stdin:2: NUL byte"), "the error does not name "
		      "stdin:2:\n%s", R.err);
	expect_unchanged(table, edits, "after a batch with a NUL byte");
	expect_tcp(BAD, SRV4_B, 22, DROP, "after the refused batches");
	free(table);
	free(edits);
	free(in);
	topo_down();
}
END_TEST

/* No byte 0x1b (or other control byte but newline) in s. */
static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t')
			return false;
	return true;
}

/* A word with control bytes (ESC [ 3 1 m, BEL), made by fwctl's shell. */
#define ESC_WORD "$(printf 'x\\033[31my\\007')"

/*
 * The words of a request: an error that quotes a word escapes its control
 * bytes; a long word after a one-word command gets that command's usage
 * error (not "unknown command"); a time past the kernel's limit for element
 * timeouts is refused by the daemon and by `fwctl check` alike, and the
 * latest one allowed is one the kernel takes.
 */
START_TEST(test_request_words)
{
	char long_word[80], *table, *edits, *file, *elem;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();
	table = table_text();
	edits = slurp_or_empty(T.edits);

	/* Control bytes: in fwctl's own errors and in fwd's answers. */
	ck_assert(fwctl("\"" ESC_WORD "\"") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "unknown command 'x\\x1b[31my\\x07'"),
		      "fwctl's unknown command:\n%s", R.err);
	ck_assert(fwctl("\"--" ESC_WORD "\" status") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "\\x1b[31m"), "bad option:\n%s",
		      R.err);
	ck_assert(fwctl("help \"" ESC_WORD "\"") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "\\x1b[31m"), "help:\n%s", R.err);
	ck_assert(fwctl("status \"--" ESC_WORD "\"") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "'--x\\x1b[31my\\x07' does not apply"),
		      "fwd's option error:\n%s", R.err);
	ck_assert(fwctl("list show \"" ESC_WORD "\"") == 1);
	ck_assert_msg(printable(R.err) && strstr(R.err, "no list named 'x\\x1b[31my\\x07'"),
		      "fwd's list show:\n%s", R.err);
	ck_assert(fwctl("explain \"" ESC_WORD "\" 22/tcp") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "'x\\x1b[31my\\x07' is not an IPv4"),
		      "fwd's explain:\n%s", R.err);
	ck_assert(fwctl("explain " BAD4 " \"" ESC_WORD "\"") == 2);
	/* PORTS are read as allow reads them: a word that is no number is a
	 * service name */
	ck_assert_msg(printable(R.err) && strstr(R.err, "unknown service name "
						 "'x\\x1b[31my\\x07'"),
		      "fwd's explain:\n%s", R.err);
	ck_assert(fwctl("allow 22/tcp from \"" ESC_WORD "\"") == 2);
	ck_assert_msg(printable(R.err) && strstr(R.err, "\\x1b[31m"), "allow:\n%s", R.err);

	/* A long second word: the command's own usage error. */
	memset(long_word, 'a', 75);
	long_word[75] = '\0';
	ck_assert(fwctl("allow %s", long_word) == 2);
	ck_assert_msg(!strstr(R.err, "unknown command") &&
		      strstr(R.err, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
		      "allow + 75-byte word:\n%s", R.err);
	ck_assert(fwctl("status %s", long_word) == 2);
	ck_assert_msg(!strstr(R.err, "unknown command") &&
		      strstr(R.err, "usage: fwctl status [--verbose] [--json]"), "status + 75-byte "
		      "word:\n%s", R.err);
	ck_assert(fwctl("status extra") == 2);
	ck_assert_msg(strstr(R.err, "unexpected word 'extra' after fwctl status; usage: "
			     "fwctl status [--verbose] [--json]"), "status extra:\n%s", R.err);
	ck_assert(fwctl("list show a b") == 2);
	ck_assert_msg(strstr(R.err, "unexpected word 'b'"), "list show a b:\n%s", R.err);
	ck_assert(fwctl("block 192.0.2.99 %s", long_word) == 2);
	ck_assert_msg(!strstr(R.err, "unknown command"), "block:\n%s", R.err);
	expect_unchanged(table, edits, "after the refused words");

	/* Time: the year 9999 passed `fwctl check` once and then the kernel
	 * refused it. Now both refuse it, with the limit. */
	ck_assert(fwctl("allow 8080/tcp from " BAD4 " until 253402300799") == 2);
	ck_assert_msg(strstr(R.err, "'until' needs a time in unix seconds (1 to "
			     "18446744073, the kernel's limit for element timeouts)"),
		      "until 253402300799:\n%s", R.err);
	ck_assert(fwctl("block " BAD4 " until 18446744074") == 2);
	expect_unchanged(table, edits, "after the refused times");
	file = path_in("until.conf");
	write_file(file, "[edits]\nallow = 8080/tcp from " BAD4 " until 253402300799\n");
	ck_assert(fwctl("check %s", file) == 1);
	ck_assert_msg(strstr(R.err, "until.conf:2: 'until' needs a time in unix seconds"),
		      "fwctl check:\n%s", R.err);
	write_file(file, "[edits]\nallow = 8080/tcp from " BAD4 " until 18446744073\n");
	ck_assert_msg(fwctl("check %s", file) == 0, "fwctl check of the latest until: %s",
		      R.err);
	/* The latest one allowed: the kernel takes it, and it lets BAD in. */
	FWCTL_OK("allow 8080/tcp from " BAD4 " until 18446744073");
	elem = set_elem("allow4", BAD4 " . tcp . 8080");
	ck_assert_msg(elem && elem_expires(elem) > 18446744073.0 - (double)time(NULL) - 60,
		      "the kernel element: %s", elem ? elem : "(none)");
	expect_tcp(BAD, SRV4_B, 8080, OK, "after allow until 18446744073");
	free(elem);
	free(file);
	free(table);
	free(edits);
	topo_down();
}
END_TEST

/* ---- control-socket roles (issue 9) ---- */

/*
 * Real users of the role tests: SEC_MEMBER is in SEC_GROUP (in /etc/group),
 * SEC_NOBODY has no role. Made by each test that needs them, removed by it
 * and again by the case's unchecked teardown.
 */
#define SEC_GROUP	tu_name("sec-g")
#define SEC_MEMBER	tu_name("sec-u")
#define SEC_NOBODY	tu_name("sec-n")

/* write_policy with a [control] section naming SEC_GROUP for ROLE. */
static void write_policy_role(const char *role)
{
	char *extra = tu_asprintf("\n[control]\n%s = %s\n", role, SEC_GROUP);

	write_policy("deny", extra);
	free(extra);
}

struct sec_users {
	uid_t member, nobody;
	gid_t member_gid, nobody_gid, group;
};

static void sec_users_remove(void)
{
	char *out = NULL;

	tu_sh(&out, "userdel %s; userdel %s; groupdel %s", SEC_MEMBER, SEC_NOBODY, SEC_GROUP);
	free(out);
}

static void sec_users_make(struct sec_users *su)
{
	struct passwd *pw;
	struct group *gr;
	char *out = NULL;
	int rc;

	sec_users_remove();
	rc = tu_sh(&out, "groupadd -r %s && useradd -r -M -s /usr/sbin/nologin -c '"
		   TU_USER_GECOS "' -G %s %s && useradd -r -M -s /usr/sbin/nologin -c '"
		   TU_USER_GECOS "' %s", SEC_GROUP, SEC_GROUP, SEC_MEMBER, SEC_NOBODY);
	ck_assert_msg(rc == 0, "cannot create the test users: %s", out);
	free(out);
	ck_assert((pw = getpwnam(SEC_MEMBER)) != NULL && pw->pw_uid != 0);
	su->member = pw->pw_uid;
	su->member_gid = pw->pw_gid;
	ck_assert((pw = getpwnam(SEC_NOBODY)) != NULL && pw->pw_uid != 0);
	su->nobody = pw->pw_uid;
	su->nobody_gid = pw->pw_gid;
	ck_assert((gr = getgrnam(SEC_GROUP)) != NULL);
	su->group = gr->gr_gid;
	/* The users must reach the socket: a traversable scratch directory. */
	ck_assert(chmod(E.dir, 0755) == 0);
}

/* fwctl as the member, holding the groups /etc/group gives it. */
static int fwctl_member(const struct sec_users *su, const char *args)
{
	char *env = tu_asprintf("setpriv --reuid=%u --regid=%u --init-groups",
				(unsigned)su->member, (unsigned)su->member_gid);
	int rc = fwctl_env(env, "%s", args);

	free(env);
	return rc;
}

/* Expect fwctl's refusal: exit 3 and the permission message. */
#define EXPECT_DENIED(call, what)                                                  \
	ck_assert_msg((call) == 3 && strstr(R.err, "permission denied"),          \
		      "%s: rc %d\nstdout: %s\nstderr: %s", what, R.rc, R.out, R.err)
#define EXPECT_OK(call, what)                                                      \
	ck_assert_msg((call) == 0, "%s: rc %d\nstdout: %s\nstderr: %s", what, R.rc, \
		      R.out, R.err)

/*
 * A group taken out of [control] stops granting at the reload that
 * applies it (fwctl reload and SIGHUP), and a group put back grants
 * again (finding 1).
 */
START_TEST(test_roles_follow_reload)
{
	struct sec_users su;

	if (!tu_need_root())
		return;
	topo_up();
	sec_users_make(&su);
	write_policy_role("admin_group");
	fwd_start();
	EXPECT_OK(fwctl_member(&su, "allow 8080/tcp from " BAD4), "the admin group's allow");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);

	/* The admin group out, the read group in: fwctl reload. */
	write_policy_role("read_group");
	FWCTL_OK("reload");
	EXPECT_DENIED(fwctl_member(&su, "allow 8081/tcp from " BAD4),
		      "allow after admin_group was removed and reloaded");
	expect_elem("allow4", BAD4 " . tcp . 8081", 0);
	EXPECT_OK(fwctl_member(&su, "status"), "status with read_group");

	/* The read group out as well: SIGHUP. */
	write_policy("deny", "");
	fwd_hup();
	EXPECT_DENIED(fwctl_member(&su, "status"), "status after read_group was removed");
	EXPECT_DENIED(fwctl_member(&su, "show"), "show after read_group was removed");

	/* Back in: it grants again. */
	write_policy_role("admin_group");
	FWCTL_OK("reload");
	EXPECT_OK(fwctl_member(&su, "allow 8082/tcp from " BAD4), "allow with admin_group back");
	expect_elem("allow4", BAD4 " . tcp . 8082", 1);
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	topo_down();
	sec_users_remove();
}
END_TEST

/*
 * A member of the admin group whose process dropped its groups
 * (setpriv --clear-groups) is refused: rights come from the groups the
 * process holds, not from /etc/group (finding 3).
 */
START_TEST(test_roles_dropped_groups)
{
	struct sec_users su;
	char *env;

	if (!tu_need_root())
		return;
	topo_up();
	sec_users_make(&su);
	write_policy_role("admin_group");
	fwd_start();
	env = tu_asprintf("setpriv --reuid=%u --regid=%u --clear-groups",
			  (unsigned)su.member, (unsigned)su.member_gid);
	EXPECT_DENIED(fwctl_env(env, "allow 8080/tcp from " BAD4),
		      "allow by a member that dropped its groups");
	{
		char *want = tu_asprintf("needs root or group %s; you are uid", SEC_GROUP);

		ck_assert_msg(strstr(R.err, want), "%s", R.err);
		free(want);
	}
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	EXPECT_DENIED(fwctl_env(env, "block " BAD4), "block by a member that dropped its groups");
	expect_elem("block4", BAD4, 0);
	free(env);
	/* The same member holding the group may. */
	EXPECT_OK(fwctl_member(&su, "allow 8080/tcp from " BAD4), "allow by the member");
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	topo_down();
	sec_users_remove();
}
END_TEST

#define FLOOD_CONNS 32
/* The largest request body the protocol allows (proto.h's
 * FWD_PROTO_MAX_REQUEST; this suite does not link the codec). */
#define FLOOD_ANNOUNCE ((16u << 20) + (1u << 20))

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/*
 * A flooding child as uid/gid (plus `extra` as a supplementary group when
 * not 0), the attack of the review made greedy: FLOOD_CONNS connections,
 * each announcing a request as large as the daemon will hold (the largest
 * the protocol allows, halved each time the daemon refuses it at once) and
 * sending up to `body` bytes of it, held until the daemon answers or drops
 * it, then made again. Whatever budget the daemon shares with others, this
 * fills it to the last few bytes. Runs until killed.
 */
static pid_t flooder(uid_t uid, gid_t gid, gid_t extra, size_t body)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct pollfd pf[FLOOD_CONNS];
		size_t sent[FLOOD_CONNS];
		uint32_t size[FLOOD_CONNS];
		long long opened[FLOOD_CONNS], again[FLOOD_CONNS] = { 0 };
		gid_t groups[2] = { gid, extra };
		char *junk = calloc(1, 1 << 16), sink[4096];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!junk || setgroups(extra ? 2 : 1, groups) < 0 || setgid(gid) < 0 ||
		    setuid(uid) < 0)
			_exit(100);
		for (int i = 0; i < FLOOD_CONNS; i++) {
			pf[i].fd = -1;
			size[i] = FLOOD_ANNOUNCE;
		}
		for (;;) {
			long long now = mono_ms();

			for (int i = 0; i < FLOOD_CONNS; i++) {
				struct sockaddr_un sa = { .sun_family = AF_UNIX };
				uint8_t hdr[12] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0, size[i] >> 24,
						    size[i] >> 16, size[i] >> 8, size[i] };

				if (pf[i].fd >= 0 || now < again[i])
					continue;
				snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", T.sock);
				pf[i].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
				if (pf[i].fd < 0 || connect(pf[i].fd, (struct sockaddr *)&sa,
							    sizeof(sa)) < 0 ||
				    send(pf[i].fd, hdr, sizeof(hdr), MSG_NOSIGNAL) < 0) {
					if (pf[i].fd >= 0)
						close(pf[i].fd);
					pf[i].fd = -1;
					again[i] = now + 50;
					continue;
				}
				sent[i] = 0;
				opened[i] = now;
			}
			for (int i = 0; i < FLOOD_CONNS; i++)
				pf[i].events = POLLIN | (pf[i].fd >= 0 && sent[i] < body ?
							 POLLOUT : 0);
			if (poll(pf, FLOOD_CONNS, 20) < 0)
				continue;
			now = mono_ms();
			for (int i = 0; i < FLOOD_CONNS; i++) {
				size_t want;
				ssize_t n;

				if (pf[i].fd < 0)
					continue;
				if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
					while (recv(pf[i].fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
						;
					close(pf[i].fd);
					pf[i].fd = -1;
					/* Refused at once: too large to be held, try
					 * half; dropped after holding: at once again. */
					if (now - opened[i] < 1000) {
						if (size[i] > 32)
							size[i] /= 2;
						again[i] = now + 20;
					} else {
						again[i] = now;
					}
					continue;
				}
				if (!(pf[i].revents & POLLOUT))
					continue;
				want = body - sent[i] < (1u << 16) ? body - sent[i] : (1u << 16);
				n = send(pf[i].fd, junk, want, MSG_NOSIGNAL | MSG_DONTWAIT);
				if (n > 0)
					sent[i] += (size_t)n;
			}
		}
	}
	nn_adopt(&E, pid);
	return pid;
}

/*
 * Local users flooding the socket with large announced requests, as the
 * review's attack did (reconnecting as soon as they are dropped): a user
 * without a role, and a read-role user who also sends 4 MiB of each
 * request. Root's fwctl status and fwctl allow succeed every time, and
 * the flood was real: the daemon refused its requests (finding 2).
 */
START_TEST(test_flood_does_not_lock_out_root)
{
	struct sec_users su;
	pid_t none, rd;
	int fails = 0;
	char first[1024] = "";

	if (!tu_need_root())
		return;
	topo_up();
	sec_users_make(&su);
	write_policy_role("read_group");
	fwd_start();
	none = flooder(su.nobody, su.nobody_gid, 0, 0);
	rd = flooder(su.member, su.member_gid, su.group, 4u << 20);
	msleep(1000);	/* the flooders have found what the daemon holds */
	for (int i = 0; i < 20; i++) {
		if (fwctl("status") != 0 && fails++ == 0)
			snprintf(first, sizeof(first), "status #%d: rc %d: %s", i, R.rc, R.err);
		if (fwctl("allow %d/tcp from " BAD4, 9000 + i) != 0 && fails++ == 0)
			snprintf(first, sizeof(first), "allow #%d: rc %d: %s", i, R.rc, R.err);
	}
	ck_assert_msg(fails == 0, "%d of 40 root requests failed during the flood; the first:"
		      " %s", fails, first);
	for (int i = 0; i < 20; i++) {
		char key[64];

		snprintf(key, sizeof(key), BAD4 " . tcp . %d", 9000 + i);
		expect_elem("allow4", key, 1);
	}
	ck_assert_msg(nn_alive(none) && nn_alive(rd), "a flooder stopped");
	nn_kill(&E, none);
	nn_kill(&E, rd);
	/* The flood was real: the role-less user was refused promptly, the
	 * read-role user ran out of its own budget. */
	ck_assert_msg(count_in_file(T.fwdlog, "no role, limit") > 0 &&
		      count_in_file(T.fwdlog, "held for other peers") > 0,
		      "the flood was not refused as expected: %zu role-less refusals, %zu busy"
		      " for the read role", count_in_file(T.fwdlog, "no role, limit"),
		      count_in_file(T.fwdlog, "held for other peers"));
	ck_assert_msg(fwd_alive(), "fwd died");
	topo_down();
	sec_users_remove();
}
END_TEST

/*
 * fwctl diff by a read-role user names FILE:LINE of the errors but not
 * the words of a root-only list file; root sees the words (finding 4).
 */
START_TEST(test_diff_hides_source_from_readers)
{
	struct sec_users su;
	char *list, *extra, *loc2, *loc3;

	if (!tu_need_root())
		return;
	topo_up();
	sec_users_make(&su);
	listener("tcp", 8080);
	list = path_in("secret.list");
	write_file(list, "# partners\n%s\n", BAD4);
	ck_assert(chmod(list, 0600) == 0);
	extra = tu_asprintf("\n[control]\nread_group = %s\n\n[list partners]\n"
			    "file = %s\n\n[service web]\nports = 8080/tcp\nallow = @partners\n",
			    SEC_GROUP, list);
	write_policy("deny", extra);
	fwd_start();
	/* The reader cannot read the file itself. */
	ck_assert(tu_sh(NULL, "setpriv --reuid=%u --regid=%u --init-groups cat %s",
			(unsigned)su.member, (unsigned)su.member_gid, list) != 0);
	/* A word, an address, a word with a quote in it, a control byte. */
	write_file(list, "# partners\n%s\nsecretpartner.example\n203.0.113.77/24\n"
		   "o'secret.example\n\x1b\n", BAD4);
	loc2 = tu_asprintf("%s:3: ", list);
	loc3 = tu_asprintf("%s:4: ", list);

	/* Root: the whole story. */
	ck_assert_msg(fwctl("diff") == 2, "diff by root: rc %d, %s", R.rc, R.err);
	ck_assert_msg(strstr(R.err, loc2) && strstr(R.err, "secretpartner.example") &&
		      strstr(R.err, loc3) && strstr(R.err, "203.0.113.77") &&
		      strstr(R.err, "o\\x27secret.example") && strstr(R.err, "'\\x1b'"),
		      "%s", R.err);
	/* The reader: where, and what is wrong, without the file's words. */
	ck_assert_msg(fwctl_member(&su, "diff") == 2, "diff by the reader: rc %d, %s", R.rc,
		      R.err);
	ck_assert_msg(strstr(R.err, loc2) && strstr(R.err, loc3), "%s", R.err);
	ck_assert_msg(strstr(R.err, "not an IPv4 or IPv6 address") &&
		      strstr(R.err, "host bits set in"), "%s", R.err);
	ck_assert_msg(!strstr(R.err, "secretpartner") && !strstr(R.err, "203.0.113.77") &&
		      !strstr(R.err, "203.0.113.0") && !strstr(R.err, "secret.example") &&
		      !strstr(R.err, "x1b"), "the reader saw the file's words:\n%s", R.err);
	/* The running rules are unchanged either way. */
	expect_elem("allow4", BAD4 " . tcp . 8080", 1);
	free(list);
	free(extra);
	free(loc2);
	free(loc3);
	topo_down();
	sec_users_remove();
}
END_TEST

/* ---- audit ---- */

/*
 * The object of `fwctl audit --json`'s sockets (or unused) list for
 * PROTO/PORT on ADDRESS (NULL: any address), as its text, or NULL. The
 * objects are flat but for their "allowed_from" list: "}" ends one.
 */
static char *audit_obj(const char *json, const char *list, const char *proto,
		       const char *addr, unsigned port)
{
	char *head = tu_asprintf("\"%s\":[", list), *want = tu_asprintf("\"proto\":\"%s\"", proto);
	char *wport = tu_asprintf("\"port\":%u,", port);
	char *waddr = addr ? tu_asprintf("\"address\":\"%s\"", addr) : NULL;
	const char *p = strstr(json, head), *end;
	char *found = NULL;

	for (p = p ? p + strlen(head) : NULL; p && *p == '{'; p = end + 2) {
		char *o;

		end = strchr(p, '}');
		ck_assert(end);
		o = tu_asprintf("%.*s", (int)(end - p + 1), p);
		if (strstr(o, want) && strstr(o, wport) && (!waddr || strstr(o, waddr))) {
			found = o;
			break;
		}
		free(o);
		if (end[1] != ',')
			break;
	}
	free(head);
	free(want);
	free(wport);
	free(waddr);
	return found;
}

/* The socket's object must hold every one of the words. */
static void expect_audit(const char *list, const char *proto, const char *addr,
			 unsigned port, const char *const *words)
{
	char *o = audit_obj(R.out, list, proto, addr, port);

	ck_assert_msg(o, "no %s entry %s %s/%u in:\n%s", list, addr ? addr : "", proto,
		      port, R.out);
	for (int i = 0; words[i]; i++)
		ck_assert_msg(strstr(o, words[i]), "%s %s/%u: no %s in %s", list, proto, port,
			      words[i], o);
	free(o);
}

/* A nettool listener in srv on ADDR, as root or (uid != 0) as that user. */
static pid_t audit_listener(const char *proto, const char *addr, unsigned port, uid_t uid,
			    gid_t gid)
{
	char portstr[8], ru[32], rg[32], *log;
	const char *asroot[] = { NETTOOL, "listen", proto, addr, portstr, "--timeout", "300",
				 NULL };
	const char *asuser[] = { "setpriv", ru, rg, "--clear-groups", NETTOOL, "listen", proto,
				 addr, portstr, "--timeout", "300", NULL };
	pid_t pid;

	snprintf(portstr, sizeof(portstr), "%u", port);
	snprintf(ru, sizeof(ru), "--reuid=%u", (unsigned)uid);
	snprintf(rg, sizeof(rg), "--regid=%u", (unsigned)gid);
	log = tu_asprintf("%s/audit-%s-%u.log", E.dir, proto, port);
	pid = spawn(SRV, log, uid ? asuser : asroot);
	ck_assert_msg(wait_for(log, "ready\n", 1, 5), "listener %s %s/%u did not start:\n%s",
		      addr, proto, port, slurp_or_empty(log));
	free(log);
	return pid;
}

static const char audit_policy[] =
	"\n"
	"[service web]\n"
	"ports = 8080/tcp, 8443/tcp, 5353/udp\n"
	"allow = any\n"
	"\n"
	"[service admin]\n"
	"ports = 9999/tcp\n"
	"allow = @good\n";

/*
 * Real listeners in srv, owned by root and by the test user, judged
 * against the running rules: 22/tcp from @good on :: (restricted, both
 * families of the dual-stack socket listed), 8080/tcp from any (exposed,
 * the test user's), 5353/udp from any (exposed), 7000/tcp that no rule
 * allows (shielded), 127.0.0.1:6000 (local); 8443 and 9999 allowed with
 * nothing listening (unused). Then the baseline and --diff: a new
 * exposed listener and one gone, exit 1; the read role sees no process.
 */
START_TEST(test_audit)
{
	char group[64], exe[4096], *extra, *w;
	pid_t p22, p8080, p5353, p7000, p6000, p8443;
	uid_t uid;
	gid_t gid;

	if (!tu_need_root())
		return;
	topo_up();
	test_user(&uid, &gid, group, sizeof(group));
	ck_assert(chmod(E.dir, 0755) == 0);
	ck_assert_msg(realpath(NETTOOL, exe), "realpath %s", NETTOOL);
	extra = tu_asprintf("%s\n[control]\nread_group = %s\n", audit_policy, group);
	write_policy("deny", extra);
	free(extra);
	fwd_start();
	p22 = audit_listener("tcp", "::", 22, 0, 0);
	p8080 = audit_listener("tcp", "0.0.0.0", 8080, uid, gid);
	p5353 = audit_listener("udp", "::", 5353, 0, 0);
	p7000 = audit_listener("tcp", "0.0.0.0", 7000, 0, 0);
	p6000 = audit_listener("tcp", "127.0.0.1", 6000, uid, gid);

	ck_assert_msg(fwctl("audit --json") == 0 && json_ok(R.out), "audit --json: rc %d\n%s%s",
		      R.rc, R.out, R.err);
	{
		char *pid = tu_asprintf("\"pid\":%d,", (int)p22), *e = tu_asprintf("\"exe\":\"%s\"", exe);
		const char *const w22[] = { "\"verdict\":\"restricted\"", "\"family\":\"ipv6\"",
					    "\"v6only\":false", "\"" GOOD4 "\"", "\"" GOOD6 "\"",
					    pid, "\"command\":\"nettool\"", e,
					    "\"uid\":0,", "\"user\":\"root\"", NULL };

		expect_audit("sockets", "tcp", "::", 22, w22);
		free(pid);
		free(e);
	}
	{
		char *pid = tu_asprintf("\"pid\":%d,", (int)p8080), *u = tu_asprintf("\"uid\":%u,",
										 (unsigned)uid);
		char *user = tu_asprintf("\"user\":\"%s\"", tu_user());
		const char *const w8080[] = { "\"verdict\":\"exposed\"", "\"allowed_from\":[\"any\"]",
					      "\"address\":\"0.0.0.0\"", pid, u, user,
					      "\"command\":\"nettool\"", NULL };

		expect_audit("sockets", "tcp", "0.0.0.0", 8080, w8080);
		free(pid);
		free(u);
		free(user);
	}
	{
		char *pid = tu_asprintf("\"pid\":%d,", (int)p5353);
		const char *const w5353[] = { "\"verdict\":\"exposed\"", pid, NULL };

		expect_audit("sockets", "udp", "::", 5353, w5353);
		free(pid);
	}
	{
		char *pid = tu_asprintf("\"pid\":%d,", (int)p7000);
		const char *const w7000[] = { "\"verdict\":\"shielded\"", "\"allowed_from\":[]",
					      pid, NULL };

		expect_audit("sockets", "tcp", "0.0.0.0", 7000, w7000);
		free(pid);
	}
	{
		char *pid = tu_asprintf("\"pid\":%d,", (int)p6000);
		const char *const w6000[] = { "\"verdict\":\"local\"", pid, NULL };

		expect_audit("sockets", "tcp", "127.0.0.1", 6000, w6000);
		free(pid);
	}
	{
		const char *const w8443[] = { "\"allowed_from\":[\"any\"]", "\"port_end\":8443",
					      NULL };
		const char *const w9999[] = { "\"" GOOD4 "\"", "\"" GOOD6 "\"", NULL };

		expect_audit("unused", "tcp", NULL, 8443, w8443);
		expect_audit("unused", "tcp", NULL, 9999, w9999);
		w = audit_obj(R.out, "unused", "tcp", NULL, 8080);
		ck_assert_msg(!w, "8080 has a listener, yet unused: %s", w);
		w = audit_obj(R.out, "unused", "udp", NULL, 5353);
		ck_assert_msg(!w, "5353/udp has a listener, yet unused: %s", w);
	}
	/* The table: one line per socket, its verdict and its owner. */
	ck_assert_msg(fwctl("audit") == 0, "audit: rc %d %s", R.rc, R.err);
	w = tu_asprintf("%d", (int)p8080);
	ck_assert_msg(strstr(R.out, "VERDICT") && strstr(R.out, "exposed") &&
		      strstr(R.out, "restricted") && strstr(R.out, "shielded") &&
		      strstr(R.out, "local") && strstr(R.out, "unused") &&
		      strstr(R.out, w) && strstr(R.out, tu_user()), "audit text:\n%s", R.out);
	free(w);

	/* The read role: sockets and verdicts, no processes. */
	ck_assert_msg(fwctl_as(uid, gid, "audit --json") == 0 && json_ok(R.out),
		      "audit by the read role: rc %d %s", R.rc, R.err);
	{
		const char *const wr[] = { "\"verdict\":\"restricted\"", "\"pid\":null",
					   "\"command\":null", "\"exe\":null", "\"user\":\"root\"",
					   NULL };

		expect_audit("sockets", "tcp", "::", 22, wr);
		ck_assert_msg(!strstr(R.out, "nettool"), "the read role saw a command:\n%s",
			      R.out);
	}
	ck_assert_msg(fwctl_as(uid, gid, "audit --save-baseline") == 3 &&
		      strstr(R.err, "permission denied"), "save-baseline by the read role: rc %d %s",
		      R.rc, R.err);

	/* Baseline, then nothing changed: exit 0. */
	ck_assert_msg(fwctl("audit --diff") == 2 && strstr(R.err, "--save-baseline"),
		      "diff without a baseline: rc %d %s%s", R.rc, R.out, R.err);
	ck_assert_msg(fwctl("audit --save-baseline") == 0, "save: rc %d %s", R.rc, R.err);
	{
		struct stat st;

		/* fwd's own file in its state dir: regular, 0600, root's. */
		w = tu_asprintf("%s/audit-baseline", T.state);
		ck_assert_msg(lstat(w, &st) == 0 && S_ISREG(st.st_mode) &&
			      (st.st_mode & 07777) == 0600 && st.st_uid == 0,
			      "%s: not a regular 0600 file of root's", w);
		free(w);
	}
	ck_assert_msg(fwctl("audit --diff") == 0 && strstr(R.out, "no change"),
		      "diff right after save: rc %d %s%s", R.rc, R.out, R.err);

	/* A new exposed listener, one gone: exit 1, both named. */
	p8443 = audit_listener("tcp", "::", 8443, 0, 0);
	ck_assert(stop_proc(p7000, 5) >= 0);
	ck_assert_msg(fwctl("audit --diff") == 1, "diff with a new exposed listener: rc %d\n%s%s",
		      R.rc, R.out, R.err);
	ck_assert_msg(strstr(R.out, "+ tcp [::]:8443 exposed") &&
		      strstr(R.out, "NEWLY EXPOSED") && strstr(R.out, "- tcp 0.0.0.0:7000 shielded"),
		      "diff text:\n%s", R.out);
	ck_assert_msg(fwctl("audit --diff --json") == 1 && json_ok(R.out) &&
		      strstr(R.out, "\"newly_exposed\":true"), "diff --json: rc %d\n%s", R.rc,
		      R.out);
	/* Gone again: what is left is only the vanished one, exit 0. */
	ck_assert(stop_proc(p8443, 5) >= 0);
	ck_assert_msg(fwctl("audit --diff") == 0 && strstr(R.out, "- tcp 0.0.0.0:7000") &&
		      !strstr(R.out, "8443"), "diff after the new one went: rc %d\n%s", R.rc,
		      R.out);
	/* A listener that was shielded comes back exposed: the policy changed. */
	p7000 = audit_listener("tcp", "0.0.0.0", 7000, 0, 0);
	ck_assert_msg(fwctl("allow 7000/tcp --runtime") == 0, "allow: %s", R.err);
	ck_assert_msg(fwctl("audit --diff") == 1 &&
		      strstr(R.out, "~ tcp 0.0.0.0:7000 verdict shielded -> exposed"),
		      "diff of a verdict change: rc %d\n%s", R.rc, R.out);
	fwd_stop();
	topo_down();
}
END_TEST

/* [audit] interval: fwd audits by itself and logs a listener that became
 * exposed since its last run, once, as a record with its owner. */
static char *fwd_children(void);

START_TEST(test_audit_interval)
{
	char *extra, *rec;
	pid_t p;

	if (!tu_need_root())
		return;
	topo_up();
	extra = tu_asprintf("%s\n[audit]\ninterval = 10s\n", audit_policy);
	write_policy("deny", extra);
	free(extra);
	fwd_start();
	/* The first run (a second after start) is where the comparison starts. */
	ck_assert_msg(wait_for(T.fwdlog, "fwd: audit: ", 2, 15), "no first audit run:\n%s",
		      slurp_or_empty(T.fwdlog));
	p = audit_listener("tcp", "::", 8443, 0, 0);
	rec = tu_asprintf("fwd: audit: newly exposed listener proto=tcp address=:: port=8443 "
			  "verdict=exposed change=new pid=%d command=nettool", (int)p);
	ck_assert_msg(wait_for(T.fwdlog, rec, 1, 30), "no record of the new listener:\n%s",
		      slurp_or_empty(T.fwdlog));
	/* A shielded listener is not logged; a second exposed one is, in a
	 * later run, and by then the first has not been logged again. */
	audit_listener("tcp", "0.0.0.0", 7000, 0, 0);
	p = audit_listener("tcp", "0.0.0.0", 8080, 0, 0);
	free(rec);
	rec = tu_asprintf("fwd: audit: newly exposed listener proto=tcp address=0.0.0.0 port=8080 "
			  "verdict=exposed change=new pid=%d command=nettool", (int)p);
	ck_assert_msg(wait_for(T.fwdlog, rec, 1, 30), "no record of the second listener:\n%s",
		      slurp_or_empty(T.fwdlog));
	ck_assert_msg(count_in_file(T.fwdlog, "newly exposed listener") == 2 &&
		      count_in_file(T.fwdlog, "port=8443") == 1 &&
		      count_in_file(T.fwdlog, "port=7000") == 0,
		      "a listener logged twice, or a shielded one logged:\n%s",
		      slurp_or_empty(T.fwdlog));
	free(rec);
	/* The runs were done by forked children, off the event loop (all
	 * three so far: the first and the two that logged), and every one
	 * was reaped: none is left between runs. */
	ck_assert_int_eq(fwctl("status --json"), 0);
	{
		const char *k = strstr(R.out, "\"audit_runs_offloaded\":");

		ck_assert_msg(k && atoi(k + strlen("\"audit_runs_offloaded\":")) >= 3,
			      "audit runs not offloaded:\n%s", R.out);
	}
	{
		char *kids = fwd_children();

		/* bounded (30 s): a loaded machine finishes a run late */
		for (double end = now() + 30; *kids && now() < end; ) {
			free(kids);
			msleep(100);
			kids = fwd_children();
		}
		ck_assert_msg(!*kids, "fwd keeps a child: %s", kids);
		free(kids);
	}
	fwd_stop();
	topo_down();
}
END_TEST

/* ---- heavy queries off the event loop (issue 8, section 5) ---- */

/* fwd's children (every thread's), "" when none. */
static char *fwd_children(void)
{
	char *out = NULL;

	tu_sh(&out, "cat /proc/%d/task/*/children 2>/dev/null", (int)T.fwd);
	return out;
}

/* fwd's open fds. */
static int fwd_fds(void)
{
	char *out = NULL;
	int n;

	tu_sh(&out, "ls /proc/%d/fd | wc -l", (int)T.fwd);
	n = atoi(out);
	free(out);
	return n;
}

/*
 * fwd holds 100k allowlist entries; a client runs `fwctl show --nft` back
 * to back (each answer takes the daemon a second or so to build) while 50
 * `fwctl status --json` are asked: every one succeeds with a whole answer,
 * and some were answered while a show --nft was being computed (status's
 * control.working >= 1), which the event loop could never do while it
 * built a show --nft itself. Every show --nft answer is byte for byte the
 * one taken before, stats and diff answer as before, and 20 clients killed
 * in the middle of their show --nft leave fwd with no child and no extra
 * fd. The status latencies are printed, for information only.
 */
START_TEST(test_heavy_queries)
{
	char *list, *extra, *ref, *script, *looplog, *stop, *out = NULL, *kids;
	const char *argv[] = { "sh", "-c", NULL, NULL };
	double lat[50];
	int during = 0, shows = 0, fds_before;
	pid_t loop;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	list = path_in("big.txt");
	f = fopen(list, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "198.%d.%d.%d\n", 18 + i / 65536, i / 256 % 256, i % 256);
	fclose(f);
	extra = tu_asprintf("\n[list big]\nfile = %s\n\n[service web]\nports = 8080/tcp\n"
			    "allow = @big\n", list);
	write_policy("deny", extra);
	fwd_start();
	FWCTL_OK("show --nft");
	ref = strdup(R.out);
	ck_assert_msg(tu_count_str(ref, " . tcp . 8080") >= 100000, "show --nft has %zu of the "
		      "100000 entries", tu_count_str(ref, " . tcp . 8080"));
	FWCTL_OK("stats");
	ck_assert_msg(strstr(R.out, "service web"), "stats:\n%s", R.out);
	FWCTL_OK("diff");
	ck_assert_str_eq(R.out, "no difference: the running rules are the files'\n");
	FWCTL_OK("list show big");
	ck_assert_uint_eq(tu_count_str(R.out, "198.18."), 65536);
	fds_before = fwd_fds();

	stop = path_in("stop");
	script = tu_asprintf("i=0; while [ ! -e %s ]; do i=$((i + 1)); %s -S %s show --nft "
			     ">%s/nft.$i 2>&1 || echo \"fail $i\"; echo \"done $i\"; done",
			     stop, FWCTL, T.sock, E.dir);
	argv[2] = script;
	looplog = path_in("loop.log");
	loop = spawn(SRV, looplog, argv);
	for (int i = 0; i < 50; i++) {
		double t0 = now();

		FWCTL_OK("status --json");
		lat[i] = now() - t0;
		ck_assert_msg(json_ok(R.out) && json_has(R.out, "running") &&
			      json_has(R.out, "generation") && json_has(R.out, "kernel") &&
			      json_has(R.out, "control") && json_has(R.out, "working"),
			      "status %d: not a whole answer:\n%s", i, R.out);
		during += json_num(R.out, "working") >= 1;
	}
	write_file(stop, "stop\n");
	for (int i = 0; i < 6000 && nn_alive(loop); i++)
		msleep(10);
	ck_assert_int_eq(stop_proc(loop, 5), 0);
	qsort(lat, 50, sizeof(lat[0]), tu_cmp_double);
	fprintf(stderr, "heavy_queries: fwctl status under show --nft (100k): p50 %.1f ms, "
		"p99 %.1f ms, max %.1f ms (ip netns exec and a shell included; %d of 50 "
		"answered while a show --nft was computed)\n", lat[24] * 1000,
		lat[48] * 1000, lat[49] * 1000, during);
	ck_assert_msg(during > 0, "no status was answered while a show --nft was being "
		      "computed: the heavy query holds the event loop");

	/* every show --nft the loop got is the whole table, as before */
	ck_assert_msg(count_in_file(looplog, "fail") == 0, "show --nft failed:\n%s",
		      slurp_or_empty(looplog));
	for (int i = 1;; i++) {
		char *p = tu_asprintf("%s/nft.%d", E.dir, i), *t;

		if (access(p, F_OK) != 0) {
			free(p);
			break;
		}
		t = slurp_or_empty(p);
		ck_assert_msg(strcmp(t, ref) == 0, "show --nft %d differs from the one "
			      "before (%zu bytes, want %zu)", i, strlen(t), strlen(ref));
		shows++;
		free(t);
		free(p);
	}
	ck_assert_msg(shows > 0, "the loop got no show --nft");

	/* 20 clients killed mid-answer: nothing left behind */
	tu_sh(NULL, "for i in $(seq 20); do ip netns exec %s timeout -s KILL 0.%d %s -S %s "
	      "show --nft >/dev/null 2>&1 & done; wait", E.ns[SRV], 2, FWCTL, T.sock);
	for (int i = 0; i < 3000; i++) {
		FWCTL_OK("status --json");
		if (json_num(R.out, "working") == 0 && json_num(R.out, "waiting") == 0 &&
		    fwd_fds() == fds_before)
			break;
		msleep(10);
	}
	ck_assert_msg(json_num(R.out, "working") == 0 && json_num(R.out, "waiting") == 0,
		      "workers still busy:\n%s", R.out);
	ck_assert_int_eq(fwd_fds(), fds_before);
	kids = fwd_children();
	ck_assert_msg(strcmp(kids, "") == 0, "fwd still has children: %s", kids);
	tu_sh(&out, "ip netns exec %s %s -S %s stats", E.ns[SRV], FWCTL, T.sock);
	FWCTL_OK("show --nft");
	ck_assert_msg(strcmp(R.out, ref) == 0, "show --nft after the kills differs");
	ck_assert(fwd_alive());
	free(out);
	free(kids);
	free(looplog);
	free(script);
	free(stop);
	free(ref);
	free(extra);
	free(list);
	topo_down();
}
END_TEST

/*
 * fwd's one child (a query's worker), 0 when it has none or several. Read
 * from /proc directly: a shell per look would miss a short-lived child.
 */
static pid_t fwd_child(void)
{
	char path[64], buf[256];
	size_t len;
	FILE *f;

	/* Only the thread of the event loop forks (worker.h). */
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)T.fwd, (int)T.fwd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[len] = '\0';
	/* "PID " each: none, or more than one */
	if (len == 0 || strchr(buf, ' ') != strrchr(buf, ' '))
		return 0;
	return (pid_t)atoi(buf);
}

/* Whether process pid is stopped (state T in /proc/PID/stat). */
static bool proc_stopped(pid_t pid)
{
	char *st = slurp_or_empty(nn_keepf("/proc/%d/stat", (int)pid));
	const char *p = strrchr(st, ')');
	bool stopped = p && p[1] == ' ' && p[2] == 'T';

	free(st);
	return stopped;
}

/*
 * Runs `fwctl CMD` (stdout into out) in the background and catches the
 * worker fwd forks for it: stopped (SIGSTOP) while it computes, so the
 * request is in flight for as long as the test needs. A worker that
 * finished before it was caught makes the test try again (at most 20
 * times). Returns the worker's pid, *client the fwctl's; 0 when no try
 * saw a worker: the request was answered in the event loop.
 */
static pid_t catch_worker(const char *cmd, const char *out, pid_t *client)
{
	char *script = tu_asprintf("%s -S %s %s >%s 2>%s.err", FWCTL, T.sock, cmd, out, out);
	const char *argv[] = { "sh", "-c", script, NULL };

	for (int t = 0; t < 20; t++) {
		*client = spawn(SRV, nn_keepf("%s.log", out), argv);
		while (nn_alive(*client)) {
			pid_t w = fwd_child();

			if (w > 0 && kill(w, SIGSTOP) == 0) {
				for (int i = 0; i < 1000 && !proc_stopped(w) &&
				     kill(w, 0) == 0; i++)
					msleep(1);
				if (proc_stopped(w)) {
					free(script);
					return w;
				}
			}
			usleep(200);
		}
		ck_assert_int_eq(stop_proc(*client, 5), 0);
	}
	free(script);
	return 0;
}

/* Lets the caught worker go on and waits for its client; fwctl's exit
 * status. */
static int release_worker(pid_t w, pid_t client)
{
	ck_assert_int_eq(kill(w, SIGCONT), 0);
	for (int i = 0; i < 6000 && nn_alive(client); i++)
		msleep(10);
	return stop_proc(client, 5);
}

/*
 * explain and audit off the event loop, as show --nft (issue 8, section
 * 5: a slow request must not delay others). fwd holds 100k allowlist
 * entries; each request's worker is caught and held stopped while it
 * computes (catch_worker): meanwhile `fwctl status` is answered, with
 * control.working 1, which the event loop could never do while it
 * computed the answer itself. Each held answer, once let go, is byte for
 * byte the one asked before. For explain, an edit that changes the
 * explained verdict is committed while the worker is held (the fast path
 * patches the running IR in place): the held answer is still the one of
 * the rules in force when it was asked, whole, and the next explain shows
 * the edit. A one-port explain stays in the loop (no worker started).
 */
START_TEST(test_heavy_explain_audit)
{
	static const char *const cmds[] = {
		"explain 203.0.113.77 1-65535/tcp",
		"explain 198.18.0.5 1-65535",
		"explain --out 203.0.113.9 1-65535/tcp --program /usr/bin/true",
		"explain 203.0.113.77 1-65535/tcp --json",
		"audit",
		"audit --json",
	};
	char *list, *extra, *out, *ref, *got;
	double offloaded;
	unsigned gen;
	pid_t w, client;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 8080);
	list = path_in("big.txt");
	f = fopen(list, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 100000; i++)
		fprintf(f, "198.%d.%d.%d\n", 18 + i / 65536, i / 256 % 256, i % 256);
	fclose(f);
	extra = tu_asprintf("\n[list big]\nfile = %s\n\n[service web]\nports = 8080/tcp\n"
			    "allow = @big\n\n[service upd]\ndirection = out\n"
			    "ports = 443/tcp\nallow = any\nprogram = /usr/bin/true\n", list);
	write_policy("deny", extra);
	fwd_start();
	out = path_in("held.out");

	for (size_t c = 0; c < sizeof(cmds) / sizeof(cmds[0]); c++) {
		FWCTL_OK("%s", cmds[c]);
		ref = strdup(R.out);
		w = catch_worker(cmds[c], out, &client);
		ck_assert_msg(w > 0, "fwctl %s: no worker in 20 tries: answered in the "
			      "event loop", cmds[c]);
		FWCTL_OK("status --json");
		ck_assert_msg(json_ok(R.out) && json_has(R.out, "running") &&
			      json_num(R.out, "working") == 1,
			      "status while fwctl %s is held:\n%s", cmds[c], R.out);
		ck_assert_int_eq(release_worker(w, client), 0);
		got = slurp_or_empty(out);
		ck_assert_msg(strcmp(got, ref) == 0, "fwctl %s, answered by a worker, differs "
			      "from the one before:\n%s\nbefore:\n%s", cmds[c], got, ref);
		free(got);
		free(ref);
	}

	/* A port or two against hash sets is answered in the loop (cheaper
	 * than a fork): no worker started for it. */
	FWCTL_OK("status --json");
	offloaded = json_num(R.out, "offloaded");
	FWCTL_OK("explain 198.18.0.5 8080/tcp");
	ck_assert_msg(strstr(R.out, "accept"), "explain 198.18.0.5 8080/tcp:\n%s", R.out);
	FWCTL_OK("status --json");
	ck_assert_msg(json_num(R.out, "offloaded") == offloaded,
		      "a one-port explain went to a worker:\n%s", R.out);

	/* A commit lands while an explain is computed. */
	FWCTL_OK("explain 203.0.113.77 1-65535/tcp");
	ref = strdup(R.out);
	ck_assert_msg(strstr(ref, "1-65535") && !strstr(ref, "accept"),
		      "explain before the edit:\n%s", ref);
	FWCTL_OK("status --json");
	gen = (unsigned)json_num(R.out, "generation");
	w = catch_worker("explain 203.0.113.77 1-65535/tcp", out, &client);
	ck_assert_msg(w > 0, "explain: no worker in 20 tries");
	FWCTL_OK("allow 8080/tcp from 203.0.113.77");
	FWCTL_OK("status --json");
	ck_assert_msg(json_num(R.out, "working") == 1 &&
		      (unsigned)json_num(R.out, "generation") > gen,
		      "the edit did not commit while explain was held:\n%s", R.out);
	expect_elem("allow4", "203.0.113.77 . tcp . 8080", 1);
	ck_assert_int_eq(release_worker(w, client), 0);
	got = slurp_or_empty(out);
	ck_assert_msg(strcmp(got, ref) == 0, "the held explain is not the one of the rules "
		      "in force when it was asked:\n%s\nthen:\n%s", got, ref);
	free(got);
	FWCTL_OK("explain 203.0.113.77 1-65535/tcp");
	ck_assert_msg(strstr(R.out, "8080") && strstr(R.out, "accept") &&
		      strstr(R.out, "1-8079") && strstr(R.out, "8081-65535"),
		      "explain after the edit:\n%s", R.out);
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	{
		char *kids = fwd_children();

		for (int i = 0; i < 50 && *kids; i++) {
			free(kids);
			msleep(100);
			kids = fwd_children();
		}
		ck_assert_msg(!*kids, "fwd keeps a child: %s", kids);
		free(kids);
	}
	free(ref);
	free(out);
	free(extra);
	free(list);
	topo_down();
}
END_TEST

/* ---- friendlier input (issue 11): list show, explain, did you mean,
 * broad edits, completion ---- */

/* How many elements of the set end their key with `tail` (" . tcp . 8080"). */
static size_t set_count_port(const char *set, const char *tail)
{
	char **v = set_elems(set, NULL);
	size_t n = 0;

	for (size_t i = 0; v[i]; i++) {
		const char *k = strstr(v[i], tail);

		n += k && (k[strlen(tail)] == '\0' || k[strlen(tail)] == ' ');
	}
	elems_free(v);
	return n;
}

/* The report: `list show` kept saying `appservers 2` after 103 members were
 * added, and after `list del` of a member the text still listed it. */
START_TEST(test_list_show_edits)
{
	char *batch = path_in("batch.txt"), *line;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("deny",
		"\n"					/* 12 */
		"[list appservers]\n"			/* 13 */
		"members = 203.0.113.10, 203.0.113.11\n"	/* 14 */
		"[service app]\n"			/* 15 */
		"ports = 8080/tcp\n"			/* 16 */
		"allow = @appservers\n");		/* 17 */
	f = fopen(batch, "w");
	ck_assert(f != NULL);
	for (int i = 100; i <= 202; i++)
		fprintf(f, "203.0.113.%d\n", i);
	ck_assert(fclose(f) == 0);
	fwd_start();

	ck_assert_msg(fwctl_stdin(batch, "list add appservers -") == 0, "list add: %s",
		      R.err);
	FWCTL_OK("list show");
	ck_assert_msg(strstr(R.out, "appservers\t105\n"), "list show after 103 list adds:\n%s",
		      R.out);
	FWCTL_OK("list show --json");
	ck_assert_msg(strstr(R.out, "{\"name\":\"appservers\",\"members\":105,"),
		      "list show --json:\n%s", R.out);
	/* the kernel agrees: 2 + 103 elements for the service's port */
	ck_assert_uint_eq(set_count_port("allow4", " . tcp . 8080"), 105);

	/* a member of the file taken out: marked removed, no longer a member */
	FWCTL_OK("list del appservers 203.0.113.11");
	FWCTL_OK("list show appservers");
	ck_assert_msg(!strstr(R.out, "203.0.113.11                                 /") &&
		      strstr(R.out, "203.0.113.11                                 removed by fwctl"),
		      "list show after list del of a file's member:\n%s", R.out);
	line = strstr(R.out, "203.0.113.10 ");
	ck_assert_msg(line && strstr(line, "/fwd.conf:14"), "list show:\n%s", R.out);
	FWCTL_OK("list show");
	ck_assert_msg(strstr(R.out, "appservers\t104\t"), "list show after list del:\n%s",
		      R.out);
	expect_elem("allow4", "203.0.113.11 . tcp . 8080", 0);
	expect_elem("allow4", "203.0.113.10 . tcp . 8080", 1);
	ck_assert_uint_eq(set_count_port("allow4", " . tcp . 8080"), 104);

	/* a timed member shows its time left, in text and JSON */
	FWCTL_OK("list add appservers 198.51.100.77 for 1h");
	FWCTL_OK("list show appservers");
	line = strstr(R.out, "198.51.100.77 ");
	ck_assert_msg(line && (strstr(line, "fwctl, 59m") || strstr(line, "fwctl, 1h0m")),
		      "list show of a timed member:\n%s", R.out);
	FWCTL_OK("list show appservers --json");
	ck_assert_msg(json_ok(R.out), "not JSON:\n%s", R.out);
	line = strstr(R.out, "{\"address\":\"198.51.100.77\"");
	ck_assert_msg(line, "no timed member in:\n%.2000s", R.out);
	line = strstr(line, "\"seconds_left\":");
	ck_assert_msg(line && atoi(line + 15) > 3500 && atoi(line + 15) <= 3601,
		      "seconds_left of a 1h member:\n%.300s", line ? line : R.out);
	ck_assert_msg(strstr(R.out, "\"removed\":[\"203.0.113.11\"]") &&
		      strstr(R.out, "\"removed_entries\":[{\"address\":\"203.0.113.11\""),
		      "list show --json removed:\n%.3000s", R.out);
	expect_elem("allow4", "198.51.100.77 . tcp . 8080", 1);
	free(batch);
	topo_down();
}
END_TEST

/* Misspelt names get a suggestion, and nothing changes. */
START_TEST(test_did_you_mean)
{
	char *table, *edits;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = 198.51.100.0/24\n");
	fwd_start();
	FWCTL_OK("allow 8080/tcp from 203.0.113.5");
	table = table_text();
	edits = slurp_or_empty(T.edits);

	ck_assert_int_eq(fwctl("allow 8080/tcp from @ofice"), 1);
	ck_assert_msg(strstr(R.err, "unknown list '@ofice'") &&
		      strstr(R.err, "did you mean '@office'?"), "@ofice: %s", R.err);
	expect_unchanged(table, edits, "allow from @ofice");
	ck_assert_int_eq(fwctl("allow 8080/tcp from office"), 2);
	ck_assert_msg(strstr(R.err, "'office' is not an address (did you mean "
			     "'@office'?)"), "from office: %s", R.err);
	expect_unchanged(table, edits, "allow from office");
	ck_assert_int_eq(fwctl("allow htps from 203.0.113.5"), 2);
	ck_assert_msg(strstr(R.err, "unknown service name 'htps'") &&
		      strstr(R.err, "did you mean 'https'?"), "htps: %s", R.err);
	expect_unchanged(table, edits, "allow htps");
	ck_assert_int_eq(fwctl("list del ofice 198.51.100.7"), 1);
	ck_assert_msg(strstr(R.err, "did you mean list 'office'?"), "list del ofice: %s",
		      R.err);
	expect_unchanged(table, edits, "list del ofice");
	ck_assert_int_eq(fwctl("list show offic"), 1);
	ck_assert_msg(strstr(R.err, "no list named 'offic' (did you mean 'office'?)"),
		      "list show offic: %s", R.err);
	ck_assert_int_eq(fwctl("explain 203.0.113.5 htps"), 2);
	ck_assert_msg(strstr(R.err, "did you mean 'https'?"), "explain htps: %s", R.err);
	free(table);
	free(edits);
	topo_down();
}
END_TEST

/* explain tells the truth: fwd disabled (the host was open while explain
 * said drop), another table dropping what fwd accepts (explain said
 * accept); each checked against real traffic. And PORTS as allow reads
 * them. */
START_TEST(test_explain_truth)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8080);
	write_policy("deny", "");
	fwd_start();

	/* the same port forms as allow */
	FWCTL_OK("explain " GOOD4 " 22");
	ck_assert_msg(strstr(R.out, GOOD4 " -> 22/tcp: accept\n") &&
		      strstr(R.out, GOOD4 " -> 22/udp: drop\n"), "explain 22:\n%s", R.out);
	FWCTL_OK("explain " GOOD4 " ssh");
	ck_assert_msg(strstr(R.out, GOOD4 " -> 22/tcp: accept\n"), "explain ssh:\n%s", R.out);
	FWCTL_OK("explain " GOOD4 " https");
	ck_assert_msg(strstr(R.out, GOOD4 " -> 443/tcp: drop\n"), "explain https:\n%s", R.out);
	FWCTL_OK("explain " GOOD4 " 20-25/tcp,8080/tcp");
	ck_assert_msg(strstr(R.out, GOOD4 " -> 20-21/tcp: drop\n") &&
		      strstr(R.out, GOOD4 " -> 22/tcp: accept\n") &&
		      strstr(R.out, GOOD4 " -> 23-25/tcp: drop\n") &&
		      strstr(R.out, GOOD4 " -> 8080/tcp: drop\n"), "explain a range:\n%s", R.out);
	FWCTL_OK("explain " GOOD4 " 22 --json");
	ck_assert_msg(json_ok(R.out) && strstr(R.out, "\"results\":[{\"port\":\"22/tcp\","
					       "\"verdict\":\"accept\"") &&
		      strstr(R.out, "{\"port\":\"22/udp\",\"verdict\":\"drop\""),
		      "explain --json:\n%s", R.out);
	/* nothing else filters here yet */
	FWCTL_OK("explain " GOOD4 " 22/tcp");
	ck_assert_msg(!strstr(R.out, "but:") && !strstr(R.out, "disabled"),
		      "explain without other tables:\n%s", R.out);

	/* fwd disabled: the host is open, and explain says so */
	FWCTL_OK("explain " BAD4 " 22/tcp");
	ck_assert_msg(strstr(R.out, BAD4 " -> 22/tcp: drop\n"), "explain:\n%s", R.out);
	expect_tcp(BAD, SRV4_B, 22, DROP, "before disable");
	FWCTL_OK("disable --yes");
	FWCTL_OK("explain " BAD4 " 22/tcp");
	ck_assert_msg(strstr(R.out, "fwd is disabled") &&
		      strstr(R.out, BAD4 " -> 22/tcp: accept (fwd disabled; its rules "
			     "would say: drop)\n"), "explain while disabled:\n%s", R.out);
	expect_tcp(BAD, SRV4_B, 22, OK, "while disabled, as explain says");
	FWCTL_OK("explain " BAD4 " 22/tcp --json");
	ck_assert_msg(strstr(R.out, "\"verdict\":\"accept\",\"policy_verdict\":\"drop\"") &&
		      strstr(R.out, "\"disabled\":true"), "explain --json disabled:\n%s", R.out);
	FWCTL_OK("enable");
	expect_tcp(BAD, SRV4_B, 22, DROP, "enabled again");

	/* another table drops what fwd accepts */
	/* (in srv, the namespace this test made: never the machine's own) */
	free(sh_ok("ip netns exec %s nft add table ip fwdt_other", E.ns[SRV]));
	free(sh_ok("ip netns exec %s nft add chain ip fwdt_other input '{ type filter "
		   "hook input priority 10; policy accept; }'", E.ns[SRV]));
	free(sh_ok("ip netns exec %s nft add rule ip fwdt_other input ip saddr " GOOD4
		   " tcp dport 22 drop", E.ns[SRV]));
	FWCTL_OK("explain " GOOD4 " 22/tcp");
	ck_assert_msg(strstr(R.out, GOOD4 " -> 22/tcp: accept\n") &&
		      strstr(R.out, "but: table ip fwdt_other chain input (hook input, "
			     "priority 10) can drop it"), "explain with another table:\n%s",
		      R.out);
	FWCTL_OK("explain " GOOD4 " 22/tcp --json");
	ck_assert_msg(strstr(R.out, "\"other_tables\":[{\"table\":\"table ip fwdt_other\","
			     "\"chain\":\"input\",\"hook\":\"input\",\"priority\":10"),
		      "explain --json with another table:\n%s", R.out);
	{
		struct probes ps = { .n = 0 };

		/* the other table's drop wins over fwd's accept, as explain says */
		probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 22");
		probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 22");
		probes_run(&ps, "another table dropping 22/tcp from good over IPv4");
	}
	/* an ip table is no business of IPv6 */
	FWCTL_OK("explain " GOOD6 " 22/tcp");
	ck_assert_msg(!strstr(R.out, "but:"), "explain of IPv6 named an ip table:\n%s", R.out);
	/* a drop is not overturned by anything: no "but" */
	FWCTL_OK("explain " BAD4 " 22/tcp");
	ck_assert_msg(!strstr(R.out, "but:"), "explain of a drop:\n%s", R.out);
	topo_down();
}
END_TEST

/* Run fwctl on a terminal (script(1) gives it one), typing `answer`. */
static int fwctl_tty(const char *answer, const char *args)
{
	char *o = path_in("tty.out");

	R.rc = tu_sh(NULL, "printf '%s\\n' | ip netns exec %s script -qec "
		     "'env SSH_CONNECTION= %s -S %s %s' /dev/null >%s 2>&1", answer,
		     E.ns[SRV], FWCTL, T.sock, args, o);
	free(R.out);
	R.out = slurp_or_empty(o);
	free(o);
	return R.rc;
}

/* Broad edits need --yes (or a yes on a terminal), whatever SSH_CONNECTION
 * says, and nothing changes without it. */
START_TEST(test_broad_edits)
{
	static const char *const refused[] = {
		"block 0.0.0.0/0", "block ::/0", "block 0.0.0.0/1 128.0.0.0/1",
		"deny 22/tcp from any", "deny 22/tcp", "deny 53/udp to ::/0",
		"block 0.0.0.0/0 --force",
	};
	char *table, *edits;

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8080);
	/* no inbound service in the files: fwctl's allow is the only way in */
	write_file(T.policy, "[defaults]\ninbound = deny\n");
	fwd_start();
	FWCTL_OK("allow 8080/tcp from " BAD4);
	table = table_text();
	edits = slurp_or_empty(T.edits);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		ck_assert_msg(fwctl("%s", refused[i]) == 1 &&
			      strstr(R.err, "refused without confirmation") &&
			      strstr(R.err, "--yes"), "%s: rc %d, %s", refused[i], R.rc, R.err);
		expect_unchanged(table, edits, refused[i]);
		/* an SSH session that stays reachable changes nothing about it */
		ck_assert_msg(fwctl_env(SSH_FROM_BAD, "%s", refused[i]) == 1 &&
			      strstr(R.err, "refused without confirmation"), "%s over SSH: "
			      "rc %d, %s", refused[i], R.rc, R.err);
		expect_unchanged(table, edits, refused[i]);
	}
	/* the last inbound allow removed */
	ck_assert_msg(fwctl("remove 8080/tcp from " BAD4) == 1 &&
		      strstr(R.err, "the last inbound allow"), "remove: rc %d, %s", R.rc, R.err);
	expect_unchanged(table, edits, "remove of the last inbound allow");
	expect_tcp(BAD, SRV4_B, 8080, OK, "after the refused remove");

	/* on a terminal: asked; anything but yes changes nothing */
	ck_assert_msg(fwctl_tty("no", "block ::/0") != 0 &&
		      strstr(R.out, "Type 'yes' to go on") &&
		      strstr(R.out, "not confirmed, nothing changed"), "tty, no: rc %d, %s",
		      R.rc, R.out);
	expect_unchanged(table, edits, "tty answered no");
	ck_assert_msg(fwctl_tty("yes", "remove 8080/tcp from " BAD4) == 0 &&
		      strstr(R.out, "removed: allow 8080/tcp from " BAD4), "tty, yes: rc %d, %s",
		      R.rc, R.out);
	expect_elem("allow4", BAD4 " . tcp . 8080", 0);
	expect_tcp(BAD, SRV4_B, 8080, DROP, "after the confirmed remove");

	/* --yes from a script */
	FWCTL_OK("deny 22/tcp from any --yes");
	ck_assert_msg(count_lines_eq(T.edits, "deny = 22/tcp from any") == 1,
		      "99-fwctl.conf:\n%s", slurp_or_empty(T.edits));
	FWCTL_OK("block ::/0 --yes");
	expect_elem("block6", "::/0", 1);
	free(table);
	free(edits);
	topo_down();
}
END_TEST

/* The directory of a program's path (for PATH). */
static char *dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? tu_asprintf("%.*s", (int)(slash - path), path) : tu_asprintf(".");
}

/* bash completion with the running daemon: list names and the policy's
 * ports from it, on the socket the command line names; nothing (and no
 * error) without one. */
static char *complete(const char *line)
{
	char *comp = tu_src("completion/fwctl.bash"), *o = path_in("comp.out"), *r;
	char *dir = dirname_of(FWCTL);

	tu_sh(NULL, "PATH=%s:$PATH bash --norc --noprofile -c '"
	      "source \"$1\" || exit 1; read -ra COMP_WORDS <<<\"$2\"; "
	      "[[ $2 == *\" \" ]] && COMP_WORDS+=(\"\"); "
	      "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _fwctl; "
	      "printf \"%%s \" \"${COMPREPLY[@]}\"' _ %s '%s' >%s 2>&1",
	      dir, comp, line, o);
	r = slurp_or_empty(o);
	free(dir);
	free(comp);
	free(o);
	return r;
}

START_TEST(test_completion)
{
	char *got, *line;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("deny",
		"\n"
		"[list office]\n"
		"members = 198.51.100.0/24\n"
		"[service web]\n"
		"ports = 8443/tcp\n"
		"allow = any\n");
	fwd_start();
	FWCTL_OK("list add lab 203.0.113.9");

	line = tu_asprintf("fwctl -S %s list show ", T.sock);
	got = complete(line);
	ck_assert_msg(strcmp(got, "good office lab ") == 0, "'%s': got '%s'", line, got);
	free(got);
	free(line);
	line = tu_asprintf("fwctl --socket %s allow 22/tcp from @o", T.sock);
	got = complete(line);
	ck_assert_msg(strcmp(got, "@office ") == 0, "'%s': got '%s'", line, got);
	free(got);
	free(line);
	line = tu_asprintf("fwctl -S %s allow 8", T.sock);
	got = complete(line);
	ck_assert_msg(strcmp(got, "80/tcp 8443/tcp ") == 0, "'%s': got '%s'", line, got);
	free(got);
	free(line);
	line = tu_asprintf("fwctl -S %s block 192.0.2.9 --", T.sock);
	got = complete(line);
	ck_assert_msg(strcmp(got, "--runtime --force --yes ") == 0, "'%s': got '%s'", line,
		      got);
	free(got);
	free(line);
	/* no daemon there: quietly nothing */
	line = tu_asprintf("fwctl -S %s/none.sock list show ", E.dir);
	got = complete(line);
	ck_assert_msg(strcmp(got, " ") == 0 || got[0] == '\0', "'%s': got '%s'", line, got);
	free(got);
	free(line);
	topo_down();
}
END_TEST

/* ---- answers after the chains were split by family (ir.h, "The chains
 * in the kernel": input -> in4/in6, output -> out4/out6): explain's rule as
 * the kernel holds it, show --nft's counters of a rule in both family
 * chains, list show's runtime members ---- */

/* Rule k (from 1) of chain `chain` of fwd's table in srv as `nft list`
 * lists it (malloc'd), or NULL when the chain has fewer rules. */
static char *kernel_rule_line(const char *chain, size_t k)
{
	char *text = sh_ok("ip netns exec %s nft list chain inet fwd_filter %s", E.ns[SRV],
			   chain);
	char *save = NULL, *found = NULL;
	size_t n = 0;

	for (char *l = strtok_r(text, "\n", &save); l && !found;
	     l = strtok_r(NULL, "\n", &save)) {
		/* Rules sit two tabs in; a base chain's hook line too. */
		if (strncmp(l, "\t\t", 2) != 0 || strstr(l, "type filter hook"))
			continue;
		if (++n == k)
			found = strdup(l + 2);
	}
	free(text);
	return found;
}

/* The packets of a listed rule's counter (-1 without one). */
static long long rule_line_packets(const char *line)
{
	const char *p = line ? strstr(line, "counter packets ") : NULL;
	long long pk = -1;

	if (p)
		sscanf(p + strlen("counter packets "), "%lld", &pk);
	return pk;
}

/*
 * `fwctl explain SRC PORTS`' kernel place of its one answer: the text's
 * "in kernel:  rule K of chain C" and the JSON's kernel_chain and
 * kernel_rule, which must say the same. Returns K, chain C in `chain`.
 */
static size_t explain_kernel(const char *src, const char *ports, char *chain, size_t len)
{
	const char *p;
	char c[32] = "", *want;
	size_t k = 0;

	FWCTL_OK("explain %s %s", src, ports);
	p = strstr(R.out, "\n  in kernel:  rule ");
	ck_assert_msg(p && sscanf(p + strlen("\n  in kernel:  rule "), "%zu of chain %31s",
				  &k, c) == 2 && k > 0,
		      "explain %s %s names no kernel rule:\n%s", src, ports, R.out);
	FWCTL_OK("explain %s %s --json", src, ports);
	want = tu_asprintf("\"kernel_chain\":\"%s\",\"kernel_rule\":%zu", c, k);
	ck_assert_msg(json_ok(R.out) && strstr(R.out, want), "explain %s %s --json: "
		      "want '%s':\n%s", src, ports, want, R.out);
	free(want);
	snprintf(chain, len, "%s", c);
	return k;
}

/*
 * The rule explain names for a new connection from `from` (address src)
 * to addr:port is the one the kernel decides it by: in the chain the
 * packet walks (want_chain), at that place in `nft list`, looking up
 * `set` (NULL: the closing drop, no lookup), and its counter is what grows
 * when the connection is really made (expect: OK, DROP, REFUSED).
 */
static void expect_kernel_place(enum nn_role from, const char *src, const char *addr,
				unsigned port, int expect, const char *set,
				const char *want_chain)
{
	char chain[32], *ports = tu_asprintf("%u/tcp", port), *before, *after, *w;
	size_t k = explain_kernel(src, ports, chain, sizeof(chain));
	long long pk0, pk1;

	ck_assert_msg(strcmp(chain, want_chain) == 0, "explain %s %s: chain %s, the packet "
		      "walks %s:\n%s", src, ports, chain, want_chain, R.out);
	before = kernel_rule_line(chain, k);
	ck_assert_msg(before && (set ? strstr(before, set) != NULL :
				 !strchr(before, '@') && strstr(before, " drop")),
		      "explain %s %s: rule %zu of chain %s is '%s', not the %s%s rule",
		      src, ports, k, chain, before ? before : "(none)", set ? set : "closing drop",
		      set ? " lookup" : "");
	pk0 = rule_line_packets(before);
	ck_assert_msg(pk0 >= 0, "rule %zu of chain %s has no counter: %s", k, chain, before);
	w = tu_asprintf("connection %s -> %s, explained as rule %zu of chain %s", src, ports,
		      k, chain);
	expect_tcp(from, addr, port, expect, w);
	after = kernel_rule_line(chain, k);
	pk1 = rule_line_packets(after);
	ck_assert_msg(pk1 > pk0, "%s: its counter stayed at %lld packets (now %lld): the "
		      "kernel decided it elsewhere\n%s", w, pk0, pk1,
		      sh_ok("ip netns exec %s nft list table inet fwd_filter", E.ns[SRV]));
	free(w);
	free(before);
	free(after);
	free(ports);
}

/*
 * explain named "rule N" counting in the compiled input chain (e.g. rule
 * 19 for the open-port lookup), which no kernel listing shows since the
 * rules moved into in4/in6 and rules of empty sets were left out. Now it
 * also names the kernel chain and the rule's place there (text and JSON),
 * and each is checked against the kernel: the rule there looks up the set
 * explain names, and a real connection counts in it.
 */
START_TEST(test_explain_kernel_rule)
{
	char chain[32];

	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 22);
	listener("tcp", 8080);
	write_policy("deny",
		"\n"					/* 12 */
		"[service web]\n"			/* 13 */
		"ports = 8080/tcp\n"			/* 14 */
		"allow = any\n");			/* 15 */
	fwd_start();

	/* the open-port lookup is in both family chains: each family its own */
	expect_kernel_place(BAD, BAD4, SRV4_B, 8080, OK, "@open", "in4");
	expect_kernel_place(BAD, BAD6, SRV6_B, 8080, OK, "@open", "in6");
	/* stats --json names the same rule's counter by the same place */
	{
		size_t k = explain_kernel(BAD6, "8080/tcp", chain, sizeof(chain));
		char *want = tu_asprintf("{\"chain\":\"in6\",\"set\":\"open\",\"packets\":");
		const char *p;
		char *end = NULL;

		FWCTL_OK("stats --json");
		p = strstr(R.out, want);
		ck_assert_msg(p && (end = strchr(p, '}')) &&
			      strstr(p, "\"kernel_rule\":") && strstr(p, "\"kernel_rule\":") < end &&
			      strtoul(strstr(p, "\"kernel_rule\":") + 14, NULL, 10) == k,
			      "stats --json: the in6 @open row's kernel_rule is not explain's %zu:\n%s",
			      k, R.out);
		free(want);
	}
	expect_kernel_place(GOOD, GOOD4, SRV4_G, 22, OK, "@allow4", "in4");
	expect_kernel_place(GOOD, GOOD6, SRV6_G, 22, OK, "@allow6", "in6");
	/* no rule matches: the base chain's closing drop drops (and counts) it */
	expect_kernel_place(BAD, BAD4, SRV4_B, 22, DROP, NULL, "input");
	ck_assert_msg(strstr(R.out, "\"by_policy\":true"), "explain " BAD4 " 22/tcp --json:\n%s",
		      R.out);
	/* a deny edit puts its rules in in6 (the deny set had no element, so
	 * the kernel had no rule of it before): the places after it move */
	FWCTL_OK("deny 8080/tcp from " BAD6);
	expect_kernel_place(BAD, BAD6, SRV6_B, 8080, REFUSED, "@deny6", "in6");
	expect_kernel_place(BAD, BAD4, SRV4_B, 8080, OK, "@open", "in4");
	/* --out: outbound allow has no rule that decides, only the policy */
	FWCTL_OK("explain " BAD4 " 8080/tcp --out");
	ck_assert_msg(strstr(R.out, "  in kernel:  the policy of chain output\n"),
		      "explain --out:\n%s", R.out);
	FWCTL_OK("explain " BAD4 " 8080/tcp --out --json");
	ck_assert_msg(strstr(R.out, "\"kernel_chain\":\"output\",\"kernel_rule\":null"),
		      "explain --out --json:\n%s", R.out);
	/* disabled: the kernel holds none of it */
	FWCTL_OK("disable --yes");
	FWCTL_OK("explain " BAD4 " 8080/tcp --json");
	ck_assert_msg(strstr(R.out, "\"kernel_chain\":null,\"kernel_rule\":null"),
		      "explain --json while disabled:\n%s", R.out);
	FWCTL_OK("enable");
	(void)explain_kernel(BAD4, "8080/tcp", chain, sizeof(chain));
	ck_assert_str_eq(chain, "in4");
	topo_down();
}
END_TEST

/* In the text of `nft list table` (or show --nft), the packets counted by
 * the rule that looks up `set` in chain `chain` (-1: not there). */
static long long chain_set_packets(const char *text, const char *chain, const char *set)
{
	char *head = tu_asprintf("\tchain %s {\n", chain), *needle = tu_asprintf("%s counter", set);
	const char *c = strstr(text, head), *end, *p;
	long long pk = -1;

	if (c) {
		end = strstr(c, "\n\t}");
		p = strstr(c, needle);
		if (p && (!end || p < end))
			pk = rule_line_packets(p);
	}
	free(head);
	free(needle);
	return pk;
}

/* stats --json's rules: the packets of chain's rule looking up set (-1). */
static long long stats_rule_packets(const char *json, const char *chain, const char *set)
{
	char *want = tu_asprintf("{\"chain\":\"%s\",\"set\":\"%s\",\"packets\":", chain, set);
	const char *p = strstr(json, want);
	long long pk = -1;

	if (p)
		sscanf(p + strlen(want), "%lld", &pk);
	free(want);
	return pk;
}

/* fwd with one service open to all (8080/tcp, a rule in both family
 * chains), and one connection through it over IPv4 and two over IPv6:
 * the two copies of the rule count apart (1 and 2 connections). */
static void web_two_families(void)
{
	topo_up();
	listener("tcp", 8080);
	write_policy("deny",
		"\n"
		"[service web]\n"
		"ports = 8080/tcp\n"
		"allow = any\n");
	fwd_start();
		expect_tcp(BAD, SRV4_B, 8080, OK, "web over IPv4");
	expect_tcp(BAD, SRV6_B, 8080, OK, "web over IPv6");
	expect_tcp(GOOD, SRV6_G, 8080, OK, "web over IPv6 again");
}

/*
 * A rule in both family chains (the open-port lookup, in in4 and in6) has
 * a counter in each. show --nft printed the sum of both in the in4 copy
 * and zeros in the in6 one, which is neither what the kernel holds nor
 * what `fwctl stats` says per chain. Now each copy shows its own count,
 * equal to the kernel's listing and to stats' row of the same chain.
 */
START_TEST(test_show_nft_family_counters)
{
	long long k4, k6, s4, s6;
	char *k1, *k2;

	if (!tu_need_root())
		return;
	web_two_families();

	k1 = nft_table();
	FWCTL_OK("show --nft");
	k2 = nft_table();
	ck_assert_msg(strcmp(k1, k2) == 0, "traffic during the test: listings differ:\n"
		      "%.3000s\n%.3000s", k1, k2);
	k4 = chain_set_packets(k1, "in4", "@open");
	k6 = chain_set_packets(k1, "in6", "@open");
	ck_assert_msg(k4 > 0 && k6 > 0, "the kernel did not count both families (in4 %lld, "
		      "in6 %lld):\n%.3000s", k4, k6, k1);
	ck_assert_msg(chain_set_packets(R.out, "in4", "@open") == k4 &&
		      chain_set_packets(R.out, "in6", "@open") == k6,
		      "show --nft: @open counts %lld in in4 and %lld in in6, the kernel %lld "
		      "and %lld:\n%.3000s", chain_set_packets(R.out, "in4", "@open"),
		      chain_set_packets(R.out, "in6", "@open"), k4, k6, R.out);
	FWCTL_OK("show --nft --json");
	ck_assert_msg(json_ok(R.out), "show --nft --json:\n%.3000s", R.out);
	/* stats says the same per chain */
	FWCTL_OK("stats --json");
	s4 = stats_rule_packets(R.out, "in4", "open");
	s6 = stats_rule_packets(R.out, "in6", "open");
	ck_assert_msg(s4 == k4 && s6 == k6, "stats --json: @open %lld in in4, %lld in in6; "
		      "the kernel %lld and %lld:\n%.3000s", s4, s6, k4, k6, R.out);
	free(k1);
	free(k2);
	topo_down();
}
END_TEST

/* In the text of `nft list table` (or show --nft), the counter of the
 * rule that looks up `set` in chain `chain`: false when it has none. */
static bool chain_set_counter(const char *text, const char *chain, const char *set,
			      unsigned long long *pk, unsigned long long *by)
{
	char *head = tu_asprintf("\tchain %s {\n", chain);
	const char *c = strstr(text, head), *end = c ? strstr(c, "\n\t}") : NULL;
	const char *p = c ? strstr(c, set) : NULL;
	bool ok = p && (!end || p < end) && counter_after(p, set, pk, by);

	free(head);
	return ok;
}

/*
 * A whole-table replace (SIGHUP) carries each copy of a rule in both
 * family chains over on its own: the open-port lookup's in4 copy keeps
 * in4's count and its in6 copy in6's, so the totals stay exact. It used
 * to put the sum of both into in4 and start in6 at zero.
 */
START_TEST(test_replace_family_counters)
{
	unsigned long long p4 = 0, b4 = 0, p6 = 0, b6 = 0, pk, by, q4, q6;
	char *k1, *k2;

	if (!tu_need_root())
		return;
	web_two_families();
	k1 = nft_table();
	ck_assert_msg(chain_set_counter(k1, "in4", "@open", &p4, &b4) &&
		      chain_set_counter(k1, "in6", "@open", &p6, &b6) && p4 > 0 && p6 > 0,
		      "the kernel did not count both families (in4 %llu, "
		      "in6 %llu):\n%.3000s", p4, p6, k1);

	for (int round = 1; round <= 2; round++) {
		fwd_hup();	/* a SIGHUP replaces the whole table */
		k2 = nft_table();
		ck_assert_msg(chain_set_counter(k2, "in4", "@open", &pk, &by) &&
			      pk == p4 && by == b4,
			      "SIGHUP %d: @open in in4 counts %llu packets %llu bytes, before "
			      "%llu %llu:\n%.3000s", round, pk, by, p4, b4, k2);
		ck_assert_msg(chain_set_counter(k2, "in6", "@open", &pk, &by) &&
			      pk == p6 && by == b6,
			      "SIGHUP %d: @open in in6 counts %llu packets %llu bytes, before "
			      "%llu %llu:\n%.3000s", round, pk, by, p6, b6, k2);
		free(k2);
	}
	/* show --nft and stats say the same per chain */
	FWCTL_OK("show --nft");
	ck_assert_msg(chain_set_counter(R.out, "in4", "@open", &pk, &by) && pk == p4 &&
		      chain_set_counter(R.out, "in6", "@open", &pk, &by) && pk == p6,
		      "show --nft after SIGHUP (in4 %llu, in6 %llu before):\n%.3000s", p4, p6,
		      R.out);
	FWCTL_OK("stats --json");
	q4 = (unsigned long long)stats_rule_packets(R.out, "in4", "open");
	q6 = (unsigned long long)stats_rule_packets(R.out, "in6", "open");
	ck_assert_msg(q4 == p4 && q6 == p6, "stats --json after SIGHUP: @open %llu in in4, "
		      "%llu in in6; before %llu and %llu:\n%.3000s", q4, q6, p4, p6, R.out);
	/* and the copies go on counting from there, each its own family */
	expect_tcp(BAD, SRV6_B, 8080, OK, "web over IPv6 after SIGHUP");
	k2 = nft_table();
	ck_assert_msg(chain_set_counter(k2, "in4", "@open", &pk, &by) && pk == p4 &&
		      chain_set_counter(k2, "in6", "@open", &pk, &by) && pk > p6,
		      "after an IPv6 connection (in4 %llu, in6 %llu before):\n%.3000s", p4, p6,
		      k2);
	free(k1);
	free(k2);
	topo_down();
}
END_TEST

/*
 * list show marked members added with --runtime ("fwctl (runtime)") until
 * it was rebuilt on the compiler's view of the lists (16fc88c), which lost
 * the mark. It is back, in text and JSON, for members and for removals,
 * and it means what it says: after a restart of fwd the runtime member is
 * gone from the list and from the kernel, the saved one is not.
 */
/* From `from` in text up to the first `end` (included), malloc'd; NULL
 * when `from` is not in text. A line of text, one JSON object. */
static char *text_piece(const char *text, const char *from, char end)
{
	const char *p = strstr(text, from), *e;

	if (!p)
		return NULL;
	e = strchr(p, end);
	return strndup(p, e ? (size_t)(e - p + 1) : strlen(p));
}

START_TEST(test_list_show_runtime)
{
	const char *l;
	char *m;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("deny",
		"\n"					/* 12 */
		"[list app]\n"				/* 13 */
		"members = 203.0.113.10, 203.0.113.11\n"	/* 14 */
		"[service app]\n"			/* 15 */
		"ports = 8080/tcp\n"			/* 16 */
		"allow = @app\n");			/* 17 */
	fwd_start();
	FWCTL_OK("list add app 203.0.113.20 --runtime");
	FWCTL_OK("list add app 203.0.113.21 for 1h --runtime");
	FWCTL_OK("list add app 203.0.113.22");
	FWCTL_OK("list del app 203.0.113.11 --runtime");
	expect_elem("allow4", "203.0.113.20 . tcp . 8080", 1);
	expect_elem("allow4", "203.0.113.22 . tcp . 8080", 1);
	expect_elem("allow4", "203.0.113.11 . tcp . 8080", 0);

	FWCTL_OK("list show app");
	ck_assert_msg(strstr(R.out, "203.0.113.20                                 fwctl (runtime)\n") &&
		      (l = strstr(R.out, "203.0.113.21 ")) &&
		      strncmp(l + 45, "fwctl (runtime), ", 17) == 0 &&
		      strstr(R.out, "203.0.113.22                                 fwctl\n") &&
		      strstr(R.out, "203.0.113.11                                 removed by fwctl "
			     "(runtime)\n"), "list show app:\n%s", R.out);
	m = text_piece(R.out, "203.0.113.10 ", '\n');
	ck_assert_msg(m && strstr(m, "/fwd.conf:14\n") && !strstr(m, "runtime"),
		      "list show app, a member of the file:\n%s", R.out);
	free(m);
	FWCTL_OK("list show app --json");
	ck_assert_msg(json_ok(R.out) &&
		      strstr(R.out, "{\"address\":\"203.0.113.20\",\"source\":\"fwctl (runtime)\","
			     "\"expires\":null,\"seconds_left\":null,\"runtime\":true}") &&
		      strstr(R.out, "{\"address\":\"203.0.113.22\",\"source\":\"fwctl\","
			     "\"expires\":null,\"seconds_left\":null,\"runtime\":false}") &&
		      strstr(R.out, "{\"address\":\"203.0.113.10\",\"source\":\"") &&
		      strstr(R.out, "/fwd.conf:14\",\"expires\":null,\"seconds_left\":null,"
			     "\"runtime\":false}") &&
		      strstr(R.out, "\"removed_entries\":[{\"address\":\"203.0.113.11\","
			     "\"source\":\"fwctl (runtime)\",\"expires\":null,"
			     "\"seconds_left\":null,\"runtime\":true}"),
		      "list show app --json:\n%s", R.out);
	m = text_piece(R.out, "{\"address\":\"203.0.113.21\"", '}');
	ck_assert_msg(m && strstr(m, "\"source\":\"fwctl (runtime)\"") &&
		      strstr(m, "\"runtime\":true}") && !strstr(m, "\"expires\":null"),
		      "list show app --json, the timed runtime member:\n%s", R.out);
	free(m);

	/* what (runtime) says: a restart forgets them, and keeps the rest */
	fwd_stop();
	fwd_start();
	expect_elem("allow4", "203.0.113.20 . tcp . 8080", 0);
	expect_elem("allow4", "203.0.113.21 . tcp . 8080", 0);
	expect_elem("allow4", "203.0.113.22 . tcp . 8080", 1);
	expect_elem("allow4", "203.0.113.11 . tcp . 8080", 1);
	FWCTL_OK("list show app");
	ck_assert_msg(!strstr(R.out, "203.0.113.20") && !strstr(R.out, "203.0.113.21") &&
		      !strstr(R.out, "(runtime)") && !strstr(R.out, "removed by fwctl") &&
		      (l = strstr(R.out, "203.0.113.22 ")) && strstr(l, "99-fwctl.conf:"),
		      "list show app after a restart:\n%s", R.out);
	topo_down();
}
END_TEST

/* A role test: its users go too, whatever happened to the test. */
static void sec_cleanup(void)
{
	nn_runner_cleanup();
	sec_users_remove();
}

/* ---- rate limits and interfaces (policy.h fwd_restrict, ir.h fwd_ir_class) ---- */

/* The packets the rule counter of `@set` in `fwctl stats` shows (0 if
 * the line is missing). */
static unsigned long long stats_packets(const char *set)
{
	char *want = tu_asprintf("@%s ", set);
	const char *l;
	unsigned long long n = 0;

	FWCTL_OK("stats");
	l = strstr(R.out, want);
	if (l)
		sscanf(l + strlen(want), " %llu packets", &n);
	free(want);
	return n;
}

/*
 * One source over its limit: `count` connections one after the other from
 * `from` to addr:port pass, the next is dropped. Sequential on purpose:
 * each is one new connection, counted by the kernel's meter in order.
 */
static void expect_limit(enum nn_role from, const char *addr, unsigned port,
			 unsigned count, const char *when)
{
	char *w;

	for (unsigned i = 1; i <= count; i++) {
		w = tu_asprintf("%s: connection %u of %u", when, i, count);
		expect_tcp(from, addr, port, OK, w);
		free(w);
	}
	w = tu_asprintf("%s: connection %u, over the limit", when, count + 1);
	expect_tcp(from, addr, port, DROP, w);
	free(w);
}

/* Whether a connection from `from` gets through within `secs` (tried
 * every half second): the meter lets a source in again as its rate falls. */
static bool connects_within(enum nn_role from, const char *addr, unsigned port,
			    double secs)
{
	double end = now() + secs;

	do {
		int rc = tu_sh(NULL, "ip netns exec %s %s connect tcp %s %u --timeout 0.8",
			       E.ns[from], NETTOOL, addr, port);

		if (rc == 0)
			return true;
		msleep(500);
	} while (now() < end);
	return false;
}

/*
 * limit = 3/20s on a service open to any: from one source the 4th new
 * connection in a row is dropped (IPv4 and IPv6 metered apart), while a
 * second source still connects; the drops show in `fwctl stats` under the
 * meter sets; after a while (a bounded wait, no claim on speed) the first
 * source connects again. The window is long enough that three connects
 * in a row never take as long as one token (6.7 s) on a loaded machine.
 */
/* The packets counted by the drop rule of meter `meter` in chain `chain`
 * of a listing (0 when there is none). */
static unsigned long long meter_drops(const char *text, const char *chain, const char *meter)
{
	char *head = tu_asprintf("\tchain %s {\n", chain), *m = tu_asprintf("update @%s {", meter);
	const char *c = strstr(text, head), *end = c ? strstr(c, "\n\t}") : NULL;
	const char *p = c ? strstr(c, m) : NULL, *eol = p ? strchr(p, '\n') : NULL;
	unsigned long long pk = 0;

	if (p && (!end || p < end)) {
		p = strstr(p, "} counter packets ");
		if (p && (!eol || p < eol))
			sscanf(p + strlen("} counter packets "), "%llu", &pk);
	}
	free(head);
	free(m);
	return pk;
}

START_TEST(test_limit_per_source)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 2222);
	write_policy("deny",
		"\n"
		"[service lim]\n"
		"ports = 2222/tcp\n"
		"allow = any\n"
		"limit = 3/20s\n");
	fwd_start();
	ck_assert_uint_eq(stats_packets("cls0_m4"), 0);
	expect_limit(GOOD, SRV4_G, 2222, 3, "good, IPv4");
	expect_tcp(BAD, SRV4_B, 2222, OK, "bad (another source) while good is over");
	expect_limit(GOOD, SRV6_G, 2222, 3, "good, IPv6");
	expect_tcp(BAD, SRV6_B, 2222, OK, "bad over IPv6 while good is over");
	ck_assert_msg(stats_packets("cls0_m4") >= 1 && stats_packets("cls0_m6") >= 1,
		      "the meters' drops are not in fwctl stats:\n%s", R.out);
	/* the meters' drop counters: show --nft prints the kernel's, and a
	 * SIGHUP (a whole-table replace) keeps them (they are known by
	 * their meter set, as the kernel names them) */
	{
		unsigned long long k4, k6, pk;
		char *k1 = nft_table(), *k2;

		k4 = meter_drops(k1, "in4", "cls0_m4");
		k6 = meter_drops(k1, "in6", "cls0_m6");
		ck_assert_msg(k4 >= 1 && k6 >= 1, "no meter drops counted:\n%.3000s", k1);
		FWCTL_OK("show --nft");
		ck_assert_msg(meter_drops(R.out, "in4", "cls0_m4") == k4 &&
			      meter_drops(R.out, "in6", "cls0_m6") == k6,
			      "show --nft: meter drops not %llu and %llu:\n%.3000s", k4, k6, R.out);
		fwd_hup();
		k2 = nft_table();
		pk = meter_drops(k2, "in4", "cls0_m4");
		ck_assert_msg(pk == k4 && meter_drops(k2, "in6", "cls0_m6") == k6,
			      "after SIGHUP the meter drops are %llu and %llu, before %llu and "
			      "%llu:\n%.3000s", pk, meter_drops(k2, "in6", "cls0_m6"), k4, k6, k2);
		free(k1);
		free(k2);
	}
	FWCTL_OK("explain " GOOD4 " 2222/tcp");
	ck_assert_msg(strstr(R.out, "limit:      3/20s"), "explain:\n%s", R.out);
	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, " limit 3/20s"), "show:\n%s", R.out);
	ck_assert_msg(connects_within(GOOD, SRV4_G, 2222, 20),
		      "good never got in again after its window");
	topo_down();
}
END_TEST

/*
 * The same as a live edit: `fwctl allow ... limit` is enforced, written to
 * 99-fwctl.conf in its canonical words and read back from there (SIGHUP),
 * and `remove` matches it only with its limit.
 */
START_TEST(test_limit_edit)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 2223);
	listener("tcp", 2225);
	write_policy("deny", "");
	fwd_start();
	expect_tcp(GOOD, SRV4_G, 2223, DROP, "before the edit");
	FWCTL_OK("allow 2223/tcp from any limit 3/20s");
	ck_assert_msg(count_lines_eq(T.edits, "allow = 2223/tcp from any limit 3/20s") == 1,
		      "99-fwctl.conf:\n%s", slurp_or_empty(T.edits));
	fwd_hup();
	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, "allow 2223/tcp from any limit 3/20s"), "show:\n%s",
		      R.out);
	expect_limit(GOOD, SRV4_G, 2223, 3, "after the edit");
	expect_tcp(BAD, SRV4_B, 2223, OK, "another source");
	/* A second allow with the same limit joins the class (an element
	 * delta into its sets, no new sets or rules). */
	FWCTL_OK("allow 2225/tcp from any limit 3/20s");
	expect_elem("cls0_4", "0.0.0.0/0 . tcp . 2225", 1);
	expect_tcp(BAD, SRV4_B, 2225, OK, "bad on the new port of the class");
	ck_assert_msg(fwctl("remove 2223/tcp from any") != 0,
		      "remove without the limit matched the limited edit:\n%s", R.out);
	FWCTL_OK("remove 2223/tcp from any limit 3/20s");
	ck_assert_uint_eq(count_lines_eq(T.edits, "allow = 2223/tcp from any limit 3/20s"), 0);
	expect_tcp(BAD, SRV4_B, 2223, DROP, "after remove");
	topo_down();
}
END_TEST

/*
 * interface = vg (srv's side of the link to good): allowed via vg,
 * refused via vb (bad's link), also to an address of vg's network that
 * bad cannot route to by other means. An interface created after the
 * policy was applied is matched by its name: late0, a veth made later
 * between srv and bad. `fwctl allow ... on vb` does the same live.
 */
START_TEST(test_interface)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 5432);
	listener("tcp", 6000);
	listener("tcp", 5433);
	write_policy("deny",
		"\n"
		"[service db]\n"
		"ports = 5432/tcp\n"
		"allow = any\n"
		"interface = vg\n"
		"\n"
		"[service late]\n"
		"ports = 6000/tcp\n"
		"allow = any\n"
		"interface = late0\n");
	fwd_start();
	{
		struct probes ps = { .n = 0 };

		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 5432");
		probe(&ps, GOOD, OK, "connect tcp " SRV6_G " 5432");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 5432");
		probe(&ps, BAD, DROP, "connect tcp " SRV6_B " 5432");
		probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 6000");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 6000");
		probes_run(&ps, "interface = vg, late0 not there yet");
	}
	FWCTL_OK("explain " GOOD4 " 5432/tcp");
	ck_assert_msg(strstr(R.out, "only on:    interface vg"), "explain:\n%s", R.out);
	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, " on vg"), "show:\n%s", R.out);
	free(sh_ok("set -e\n"
		   "ip -n %1$s link add late0 type veth peer name late1 netns %2$s\n"
		   "ip -n %1$s addr add 203.0.113.1/24 dev late0\n"
		   "ip -n %2$s addr add 203.0.113.2/24 dev late1\n"
		   "ip -n %1$s link set late0 up\n"
		   "ip -n %2$s link set late1 up\n", E.ns[SRV], E.ns[BAD]));
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp 203.0.113.1 6000");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 6000");
		probe(&ps, BAD, DROP, "connect tcp 203.0.113.1 5432");
		probes_run(&ps, "late0 created after the policy");
	}
	FWCTL_OK("allow 5433/tcp from any on vb");
	ck_assert_msg(count_lines_eq(T.edits, "allow = 5433/tcp from any on vb") == 1,
		      "99-fwctl.conf:\n%s", slurp_or_empty(T.edits));
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 5433");
		probe(&ps, BAD, OK, "connect tcp " SRV6_B " 5433");
		probe(&ps, GOOD, DROP, "connect tcp " SRV4_G " 5433");
		probes_run(&ps, "fwctl allow ... on vb");
	}
	FWCTL_OK("remove 5433/tcp from any on vb");
	expect_tcp(BAD, SRV4_B, 5433, DROP, "after remove");
	topo_down();
}
END_TEST

/*
 * The last good policy keeps its restricted classes (daemon/state.c):
 * killed and restarted on broken files, fwd applies the saved table with
 * the interface and the limit still in force, and does not crash on it.
 */
START_TEST(test_limit_last_good)
{
	if (!tu_need_root())
		return;
	topo_up();
	listener("tcp", 2224);
	listener("tcp", 5434);
	write_policy("deny",
		"\n"
		"[service lim]\n"
		"ports = 2224/tcp\n"
		"allow = any\n"
		"limit = 3/20s\n"
		"\n"
		"[service db]\n"
		"ports = 5434/tcp\n"
		"allow = any\n"
		"interface = vg\n");
	fwd_start();
	fwd_kill9();
	write_policy("deny", "[service broken\n");
	fwd_start();
	ck_assert_msg(count_in_file(T.fwdlog, "degraded: applied the last good policy") == 1,
		      "no fallback to the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	expect_limit(GOOD, SRV4_G, 2224, 3, "on the last good policy");
	{
		struct probes ps = { .n = 0 };

		probe(&ps, BAD, OK, "connect tcp " SRV4_B " 2224");
		probe(&ps, GOOD, OK, "connect tcp " SRV4_G " 5434");
		probe(&ps, BAD, DROP, "connect tcp " SRV4_B " 5434");
		probes_run(&ps, "interface on the last good policy");
	}
	FWCTL_OK("stats");
	FWCTL_OK("show --nft");
	ck_assert_msg(strstr(R.out, "iifname \"vg\"") && strstr(R.out, "update @cls"),
		      "show --nft on the last good policy:\n%s", R.out);
	ck_assert_msg(fwd_alive(), "fwd died:\n%s", slurp_or_empty(T.fwdlog));
	topo_down();
}
END_TEST

static Suite *fwctl_suite(void)
{
	Suite *s = suite_create("fwctl");

	nn_add_test(s, "allow_remove", test_allow_remove, 90, NULL);
	nn_add_test(s, "block_expiry", test_block_expiry, 150, NULL);
	nn_add_test(s, "deny", test_deny, 60, NULL);
	nn_add_test(s, "lists", test_lists, 90, NULL);
	nn_add_test(s, "restart_persist", test_restart_persist, 90, NULL);
	nn_add_test(s, "confirm", test_confirm, 180, NULL);
	nn_add_test(s, "lockout", test_lockout, 60, NULL);
	nn_add_test(s, "reload_list_file", test_reload_list_file, 60, NULL);
	nn_add_test(s, "counters", test_counters, 60, NULL);
	nn_add_test(s, "live_counters", test_live_counters, 90, NULL);
	nn_add_test(s, "drop_stats", test_drop_stats, 90, NULL);
	nn_add_test(s, "rule_numbers", test_rule_numbers, 90, NULL);
	nn_add_test(s, "last_good_after_edit", test_last_good_after_edit, 60, NULL);
	nn_add_test(s, "tmp_symlinks", test_tmp_symlinks, 60, NULL);
	nn_add_test(s, "idempotent", test_idempotent, 90, NULL);
	nn_add_test(s, "empty_policy", test_empty_policy, 90, NULL);
	nn_add_test(s, "confirm_revert_model", test_confirm_revert_model, 90, NULL);
	nn_add_test(s, "fallback_edit", test_fallback_edit, 90, NULL);
	nn_add_test(s, "unprivileged", test_unprivileged, 90, NULL);
	nn_add_test(s, "parallel_clients", test_parallel_clients, 90, NULL);
	nn_add_test(s, "batch", test_batch, 90, NULL);
	nn_add_test(s, "batch_v6_100k", test_batch_v6_100k, 240, NULL);
	nn_add_test(s, "explain", test_explain, 90, NULL);
	nn_add_test(s, "queries", test_queries, 120, NULL);
	nn_add_test(s, "batch_comments", test_batch_comments, 90, NULL);
	nn_add_test(s, "request_words", test_request_words, 60, NULL);
	nn_add_test(s, "heavy_queries", test_heavy_queries, 240, NULL);
	nn_add_test(s, "heavy_explain_audit", test_heavy_explain_audit, 240, NULL);
	nn_add_test(s, "roles_follow_reload", test_roles_follow_reload, 90, sec_cleanup);
	nn_add_test(s, "roles_dropped_groups", test_roles_dropped_groups, 60, sec_cleanup);
	nn_add_test(s, "flood_does_not_lock_out_root", test_flood_does_not_lock_out_root, 120, sec_cleanup);
	nn_add_test(s, "diff_hides_source", test_diff_hides_source_from_readers, 60, sec_cleanup);
	nn_add_test(s, "list_show_edits", test_list_show_edits, 90, NULL);
	nn_add_test(s, "did_you_mean", test_did_you_mean, 60, NULL);
	nn_add_test(s, "explain_truth", test_explain_truth, 90, NULL);
	nn_add_test(s, "broad_edits", test_broad_edits, 90, NULL);
	nn_add_test(s, "completion", test_completion, 60, NULL);
	nn_add_test(s, "audit", test_audit, 90, NULL);
	nn_add_test(s, "audit_interval", test_audit_interval, 90, NULL);
	nn_add_test(s, "limit_per_source", test_limit_per_source, 120, NULL);
	nn_add_test(s, "limit_edit", test_limit_edit, 90, NULL);
	nn_add_test(s, "interface", test_interface, 90, NULL);
	nn_add_test(s, "limit_last_good", test_limit_last_good, 90, NULL);
	nn_add_test(s, "explain_kernel_rule", test_explain_kernel_rule, 90, NULL);
	nn_add_test(s, "show_nft_family_counters", test_show_nft_family_counters, 60, NULL);
	nn_add_test(s, "replace_family_counters", test_replace_family_counters, 60, NULL);
	nn_add_test(s, "list_show_runtime", test_list_show_runtime, 60, NULL);
	return s;
}

int main(void)
{
	return nn_run(fwctl_suite());
}
