// SPDX-License-Identifier: GPL-2.0-or-later
#include "netns.h"
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *const nn_role_names[NN_NROLES] = { "srv", "good", "bad" };

/* What nn_keep holds until nn_down: reachable from here all along, so
 * neither LeakSanitizer nor valgrind counts it as lost. */
static void **kept;
static size_t nkept, ckept;

/* The runner's pid names the namespaces, so that the runner can clean up
 * after a test child that died. Set by nn_runner_init, inherited. */
static pid_t runner;

const char *nn_tool(const char *env, const char *rel)
{
	static struct { const char *env; char *path; } cache[8];
	const char *p = getenv(env);
	size_t i;

	if (p && *p)
		return p;
	for (i = 0; i < 8 && cache[i].env; i++)
		if (!strcmp(cache[i].env, env))
			return cache[i].path;
	if (i == 8)
		abort();
	cache[i].env = env;
	cache[i].path = tu_build(rel);
	return cache[i].path;
}

double nn_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void nn_msleep(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

char *nn_sh_ok(const char *fmt, ...)
{
	char *cmd, *out;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = tu_sh(&out, "%s", cmd);
	ck_assert_msg(rc == 0, "`%.400s` exited %d:\n%.2000s", cmd, rc, out);
	free(cmd);
	return out;
}

void nn_write_file(const char *path, const char *fmt, ...)
{
	FILE *f = fopen(path, "w");
	va_list ap;

	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	ck_assert(fclose(f) == 0);
}

char *nn_slurp_or_empty(const char *path)
{
	char *s = tu_slurp(path, NULL);

	if (!s && !(s = strdup("")))
		abort();
	return s;
}

long nn_num_after(const char *path, const char *key)
{
	char *s = nn_slurp_or_empty(path), *p = strstr(s, key);
	long v = -1;

	if (p)
		sscanf(p + strlen(key), "%ld", &v);
	free(s);
	return v;
}

unsigned long long nn_counter_packets(const char *ns, const char *name)
{
	char *out = ns ? nn_sh_ok("ip netns exec %s nft list counter inet fwdtest %s", ns, name)
		       : nn_sh_ok("nft list counter inet fwdtest %s", name);
	char *p = strstr(out, "packets ");
	unsigned long long v;

	ck_assert_msg(p && sscanf(p, "packets %llu", &v) == 1, "no counter in: %s", out);
	free(out);
	return v;
}

size_t nn_count_in_file(const char *path, const char *needle)
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

bool nn_wait_for(const char *path, const char *needle, size_t n, double secs)
{
	double end = nn_now() + secs;

	do {
		if (nn_count_in_file(path, needle) >= n)
			return true;
		nn_msleep(10);
	} while (nn_now() < end);
	return nn_count_in_file(path, needle) >= n;
}

/* ---- namespaces ---- */

static void names_for(pid_t pid, char ns[NN_NROLES][48])
{
	for (int r = 0; r < NN_NROLES; r++)
		snprintf(ns[r], sizeof(ns[r]), "fwdt-%d-%s", (int)pid, nn_role_names[r]);
}

static void scratch_dir(pid_t pid, char *buf, size_t len)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, len, "%s/fwdt-%d", tmp && *tmp ? tmp : "/tmp", (int)pid);
}

/* Kill every process inside our namespace (all of them were started by this
 * suite), then remove it. Quiet when it does not exist. */
static void purge_netns(const char *name)
{
	/* not ourselves: a test process may have joined the namespace */
	tu_sh(NULL, "if ip netns list | grep -qw '%s'; then "
		    "for p in $(ip netns pids %s 2>/dev/null); do "
		    "[ $p = %d ] || kill -9 $p; done; "
		    "ip netns del %s; fi", name, name, (int)getpid(), name);
}

static void cleanup_pid(pid_t pid)
{
	char ns[NN_NROLES][48], dir[256];

	names_for(pid, ns);
	for (int r = 0; r < NN_NROLES; r++)
		purge_netns(ns[r]);
	scratch_dir(pid, dir, sizeof(dir));
	/* a test may leave a mode-000 file or a FIFO: rm -rf copes as root */
	tu_sh(NULL, "rm -rf '%s'", dir);
}

void nn_runner_cleanup(void)
{
	cleanup_pid(runner);
}

void nn_add_test(Suite *s, const char *name, const TTest *t, int timeout,
		 void (*cleanup)(void))
{
	TCase *tc = tcase_create(name);

	tcase_add_unchecked_fixture(tc, NULL, cleanup ? cleanup : nn_runner_cleanup);
	tcase_set_timeout(tc, timeout);
	tcase_add_test(tc, t);
	suite_add_tcase(s, tc);
}

int nn_run(Suite *s)
{
	int ret;

	nn_runner_init();
	setenv("SSH_CONNECTION", "", 1);
	ret = tu_run(s);
	if (geteuid() == 0)
		nn_runner_cleanup();
	return ret;
}

void nn_runner_init(void)
{
	char *out, *line, *save = NULL, dir[256];

	runner = getpid();
	if (geteuid() != 0)
		return;
	/* Namespaces of dead runners, and their scratch directories, also
	 * one whose namespaces are gone already (killed in between). */
	scratch_dir(0, dir, sizeof(dir));
	*strrchr(dir, '-') = '\0';
	tu_sh(&out, "ip netns list 2>/dev/null; ls -d '%s'-* 2>/dev/null", dir);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *base = strrchr(line, '/');
		int pid;

		if (sscanf(base ? base + 1 : line, "fwdt-%d", &pid) == 1 && pid > 0 &&
		    pid != runner && kill(pid, 0) != 0 && errno == ESRCH)
			cleanup_pid(pid);
	}
	free(out);
}

void nn_up(struct nn_env *e, bool topology)
{
	memset(e, 0, sizeof(*e));
	names_for(runner, e->ns);
	cleanup_pid(runner);
	scratch_dir(runner, e->dir, sizeof(e->dir));
	ck_assert_msg(mkdir(e->dir, 0700) == 0, "mkdir %s: %s", e->dir, strerror(errno));
	e->nroles = topology ? NN_NROLES : 1;
	for (int r = 0; r < e->nroles; r++)
		free(nn_sh_ok("set -e\nip netns add %1$s\nip -n %1$s link set lo up\n"
			      "ip netns exec %1$s sysctl -qw net.ipv6.conf.default.accept_dad=0 "
			      "net.ipv6.conf.all.accept_dad=0", e->ns[r]));
	if (!topology)
		return;
	free(nn_sh_ok(
		"set -e\n"
		"ip -n %1$s link add vg type veth peer name eth0 netns %2$s\n"
		"ip -n %1$s link add vb type veth peer name eth0 netns %3$s\n"
		"ip -n %1$s addr add " NN_SRV4_G "/24 dev vg\n"
		"ip -n %1$s addr add " NN_SRV6_G "/64 dev vg nodad\n"
		"ip -n %1$s addr add " NN_SRV4_B "/24 dev vb\n"
		"ip -n %1$s addr add " NN_SRV6_B "/64 dev vb nodad\n"
		"ip -n %2$s addr add " NN_GOOD4 "/24 dev eth0\n"
		"ip -n %2$s addr add " NN_GOOD6 "/64 dev eth0 nodad\n"
		"ip -n %3$s addr add " NN_BAD4 "/24 dev eth0\n"
		"ip -n %3$s addr add " NN_BAD6 "/64 dev eth0 nodad\n"
		"ip -n %1$s link set vg up\n"
		"ip -n %1$s link set vb up\n"
		"ip -n %2$s link set eth0 up\n"
		"ip -n %3$s link set eth0 up\n",
		e->ns[NN_SRV], e->ns[NN_GOOD], e->ns[NN_BAD]));
}

/* The namespace the process was in before nn_enter, to go back to. */
static int home_ns = -1;

void nn_down(struct nn_env *e)
{
	if (home_ns >= 0) {
		ck_assert_msg(setns(home_ns, CLONE_NEWNET) == 0, "setns back: %s",
			      strerror(errno));
		close(home_ns);
		home_ns = -1;
	}
	for (int i = 0; i < e->nprocs; i++)
		if (e->procs[i] > 0 && kill(e->procs[i], SIGKILL) == 0)
			waitpid(e->procs[i], NULL, 0);
	e->nprocs = 0;
	cleanup_pid(runner);
	for (size_t i = 0; i < nkept; i++)
		free(kept[i]);
	nkept = 0;
}

void nn_enter(const struct nn_env *e, enum nn_role r)
{
	char path[128];
	int fd;

	if (home_ns < 0) {
		home_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
		ck_assert_msg(home_ns >= 0, "open /proc/self/ns/net: %s", strerror(errno));
	}
	snprintf(path, sizeof(path), "/run/netns/%s", e->ns[r]);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	ck_assert_msg(setns(fd, CLONE_NEWNET) == 0, "setns %s: %s", path, strerror(errno));
	close(fd);
}

void *nn_keep(void *p)
{
	if (nkept == ckept) {
		ckept = ckept ? ckept * 2 : 64;
		kept = realloc(kept, ckept * sizeof(*kept));
		if (!kept)
			abort();
	}
	kept[nkept++] = p;
	return p;
}

char *nn_path(const struct nn_env *e, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", e->dir, name) < 0)
		abort();
	return nn_keep(p);
}

char *nn_keepf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = tu_vasprintf(fmt, ap);
	va_end(ap);
	return nn_keep(s);
}

/* ---- processes ---- */

int nn_nprocs(const struct nn_env *e)
{
	int n = 0;

	for (int i = 0; i < e->nprocs; i++)
		n += e->procs[i] > 0;
	return n;
}

void nn_adopt(struct nn_env *e, pid_t pid)
{
	int slot;

	for (slot = 0; slot < e->nprocs && e->procs[slot] > 0; slot++)
		;
	ck_assert_msg(slot < NN_MAX_PROCS, "more than %d processes at once", NN_MAX_PROCS);
	e->procs[slot] = pid;
	if (slot == e->nprocs)
		e->nprocs++;
}

pid_t nn_spawn(struct nn_env *e, int role, const char *logpath,
	       const char *const argv[], const struct nn_spawn_opts *o)
{
	const char *full[40] = { "ip", "netns", "exec", NULL };
	const char *const *args = argv;
	pid_t parent = getpid(), pid;
	int n = 4;

	if (role >= 0) {
		ck_assert(role < e->nroles);
		full[3] = e->ns[role];
		for (int i = 0; argv[i]; i++) {
			ck_assert(n < 39);
			full[n++] = argv[i];
		}
		full[n] = NULL;
		args = full;
	}
	ck_assert_msg(nn_nprocs(e) < NN_MAX_PROCS, "more than %d processes at once",
		      NN_MAX_PROCS);
	pid = fork();
	ck_assert(pid >= 0);
	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);

		/* Nothing we start may outlive the test process. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent || fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		/* The log must be plain "fwd: ..." lines, whatever runs us. */
		unsetenv("JOURNAL_STREAM");
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		for (int i = 0; o && o->env && o->env[i]; i++)
			putenv((char *)o->env[i]);
		if (o && o->prep)
			o->prep();
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	nn_adopt(e, pid);
	return pid;
}

void nn_forget(struct nn_env *e, pid_t pid)
{
	for (int i = 0; i < e->nprocs; i++)
		if (e->procs[i] == pid)
			e->procs[i] = 0;
}

int nn_stop(struct nn_env *e, pid_t pid, double secs)
{
	double end = nn_now() + secs;
	int st;

	kill(pid, SIGTERM);
	do {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			nn_forget(e, pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		nn_msleep(10);
	} while (nn_now() < end);
	ck_abort_msg("process %d did not exit within %.1f s of SIGTERM", (int)pid, secs);
	return -1;
}

void nn_kill(struct nn_env *e, pid_t pid)
{
	if (kill(pid, SIGKILL) == 0 || errno == ESRCH)
		waitpid(pid, NULL, 0);
	nn_forget(e, pid);
}

bool nn_alive(pid_t pid)
{
	siginfo_t si = { .si_pid = 0 };

	/* WNOWAIT: an exited child stays unreaped, so its pid cannot be
	 * reused before nn_stop/nn_kill reap it. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0)
		return false;
	return si.si_pid == 0;
}

char *nn_listener_in(struct nn_env *e, enum nn_role role, const char *kind,
		     const char *proto, unsigned port, pid_t *pid)
{
	char portstr[8], *log;
	const char *argv[] = { NN_NETTOOL, kind, proto, "::", portstr,
			       "--timeout", "300", "--from", NN_BAD4, "--from", NN_BAD6, NULL };
	pid_t p;

	snprintf(portstr, sizeof(portstr), "%u", port);
	/* srv's keep the name they always had: tests read those logs. */
	log = nn_keepf("%s/%s%s%s-%s-%u.log", e->dir, role == NN_SRV ? "" : nn_role_names[role],
		       role == NN_SRV ? "" : "-", kind, proto, port);
	p = nn_spawn(e, (int)role, log, argv, NULL);
	ck_assert_msg(nn_wait_for(log, "ready\n", 1, 5), "listener %s/%u in %s did not start:\n%s",
		      proto, port, nn_role_names[role], nn_slurp_or_empty(log));
	if (pid)
		*pid = p;
	return log;
}

char *nn_listener(struct nn_env *e, const char *kind, const char *proto,
		  unsigned port, pid_t *pid)
{
	return nn_listener_in(e, NN_SRV, kind, proto, port, pid);
}

int nn_fwctl_v(const struct nn_env *e, struct nn_fwctl_run *r, const char *sock,
	       const char *env, const char *in, const char *fmt, va_list ap)
{
	char *args, o[300], w[300];

	snprintf(o, sizeof(o), "%s/fwctl.out", e->dir);
	snprintf(w, sizeof(w), "%s/fwctl.err", e->dir);
	args = tu_vasprintf(fmt, ap);
	r->rc = tu_sh(NULL, "ip netns exec %s env SSH_CONNECTION= %s %s -S %s %s <%s >%s 2>%s",
		      e->ns[NN_SRV], env ? env : "", nn_tool("FWCTL_BIN", "ctl/fwctl"), sock,
		      args, in ? in : "/dev/null", o, w);
	free(r->out);
	free(r->err);
	r->out = nn_slurp_or_empty(o);
	r->err = nn_slurp_or_empty(w);
	free(args);
	return r->rc;
}

/* ---- probes ---- */

void nn_probe(struct nn_probes *ps, enum nn_role from, int expect, const char *fmt, ...)
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
	if (expect == NN_REJECTED)
		return got == NN_REFUSED || got == NN_UNREACH;
	return expect == got;
}

static const char *expect_name(int e)
{
	switch (e) {
	case NN_OK: return "reachable";
	case NN_DROP: return "dropped (timeout)";
	case NN_REFUSED: return "refused";
	case NN_UNREACH: return "unreachable";
	case NN_REJECTED: return "rejected";
	default: return "?";
	}
}

void nn_probes_run(const struct nn_env *e, struct nn_probes *ps)
{
	nn_probes_run_when(e, ps, NULL, NULL);
}

void nn_probes_run_when(const struct nn_env *e, struct nn_probes *ps,
			const char *when, const char *more)
{
	char *script = NULL, *out, *line, *save = NULL, *report = NULL;
	size_t slen = 0;
	FILE *f = open_memstream(&script, &slen);
	int got[48], nbad = 0;

	for (int i = 0; i < ps->n; i++) {
		const struct nn_probe *p = &ps->p[i];
		const char *t = p->expect == NN_DROP ? "0.8" : "3";

		got[i] = -1;
		if (strncmp(p->cmd, "ping ", 5) == 0)
			fprintf(f, "( r=$(ip netns exec %s ping -c1 -W%s -q %s 2>&1); c=$?; "
				"echo \"@@ %d $c $(echo $r | tr '\\n' ' ')\" ) &\n",
				e->ns[p->from], p->expect == NN_DROP ? "1" : "3", p->cmd + 5, i);
		else
			fprintf(f, "( r=$(ip netns exec %s %s %s --timeout %s 2>&1); c=$?; "
				"echo \"@@ %d $c $r\" ) &\n",
				e->ns[p->from], NN_NETTOOL, p->cmd, t, i);
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
				nn_role_names[ps->p[i].from], ps->p[i].cmd,
				expect_name(ps->p[i].expect), c, line + off);
			nbad++;
		}
	}
	for (int i = 0; i < ps->n; i++)
		if (got[i] < 0) {
			fprintf(f, "\n  %s: %s: no result", nn_role_names[ps->p[i].from],
				ps->p[i].cmd);
			nbad++;
		}
	fclose(f);
	free(out);
	ck_assert_msg(nbad == 0, "%s%s%d of %d probes wrong:%s%s%s", when ? when : "",
		      when ? ": " : "", nbad, ps->n, report, more ? "\n" : "",
		      more ? more : "");
	free(report);
	ps->n = 0;
}
