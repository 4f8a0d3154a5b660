// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Prometheus metrics end to end (root): the real fwd with [guard] and
 * [metrics] in a namespace (tests/netns.h), real TCP from an allowed and
 * a denied peer; `fwctl stats --prometheus` and the textfile fwd writes
 * both pass `promtool check metrics`, and their counters move with the
 * traffic (the allowed service and its list, the verdict loop's queue and
 * verdicts). The textfile's directory made untrusted, then missing: fwd
 * logs it once, `fwctl status` says the file is failing, fwd stays up,
 * and writes again once the directory is back.
 */
#include "netns.h"
#include "testutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct nn_env E;

static struct {
	char *policy, *sock, *state, *log, *dir, *prom;
	pid_t fwd;
} T;

/* The sample lines the test follows. */
#define SSH "fwd_packets_total{service=\"ssh\",list=\"\",edit=\"\",direction=\"in\"," \
	    "verdict=\"accept\"}"
#define LIST "fwd_packets_total{service=\"\",list=\"good\",edit=\"\",direction=\"\"," \
	     "verdict=\"\"}"
#define QUEUED "fwd_queue_packets_total{queue=\"0\"}"
#define DENIED "fwd_verdicts_total{queue=\"0\",reason=\"default_deny\"}"
#define BOUND "fwd_queue_bound{queue=\"0\"}"

/* A sample's value in exposition text; -1 when it is not there. */
static long long sample(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* The same, for a value that is not an integer; -1 when absent. */
static double sample_f(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
		if ((p == text || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

/* fwctl in srv against the test's fwd: exit status, stdout in *out. */
static int fwctl(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fwctl(char **out, const char *fmt, ...)
{
	char *args, *o = nn_path(&E, "fwctl.out");
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&args, fmt, ap) < 0)
		abort();
	va_end(ap);
	rc = tu_sh(NULL, "ip netns exec %s %s -S %s %s >%s 2>&1", E.ns[NN_SRV],
		   nn_tool("FWCTL_BIN", "ctl/fwctl"), T.sock, args, o);
	free(args);
	*out = nn_slurp_or_empty(o);
	return rc;
}

static char *fwctl_ok(const char *words)
{
	char *out;
	int rc = fwctl(&out, "%s", words);

	ck_assert_msg(rc == 0, "fwctl %s: exit %d:\n%s", words, rc, out);
	return out;
}

static const char *promtool(void)
{
	char *p = tu_src(".tools/promtool");

	if (access(p, X_OK) == 0)
		return nn_keep(p);
	free(p);
	return tu_need_prog("promtool", "prometheus (scripts/deps.sh extracts "
			    "promtool alone)") ? "promtool" : NULL;
}

static void promtool_ok(const char *tool, const char *path, const char *what)
{
	char *said = NULL;
	int rc = tu_sh(&said, "%s check metrics < %s", tool, path);

	ck_assert_msg(rc == 0, "promtool check metrics on %s: exit %d:\n%s\n--- text:\n%s",
		      what, rc, said, nn_slurp_or_empty(path));
	free(said);
}

/* fwd runs with the unit's umask: the file must still be readable by
 * node_exporter's user. */
static void umask_077(void)
{
	umask(077);
}

static void fwd_start(void)
{
	const char *argv[] = { NN_FWD, "-c", T.policy, "--state-dir", T.state,
			       "-S", T.sock, NULL };
	struct nn_spawn_opts o = { .prep = umask_077 };

	T.fwd = nn_spawn(&E, NN_SRV, T.log, argv, &o);
	ck_assert_msg(nn_wait_for(T.log, "fwd: control socket at ", 1, 15),
		      "fwd did not serve its socket:\n%s", nn_slurp_or_empty(T.log));
}

/* Poll `fwctl status` (bounded) until its output has (or, want false,
 * lacks) needle; the last output. */
static char *status_until(const char *needle, bool want, double secs)
{
	double end = nn_now() + secs;
	char *out = NULL;

	for (;;) {
		free(out);
		out = fwctl_ok("status");
		if ((strstr(out, needle) != NULL) == want || nn_now() > end)
			return out;
		nn_msleep(200);
	}
}

/* Poll the textfile (bounded) until its sample reaches at least min. */
static long long textfile_until(const char *name, long long min, double secs)
{
	double end = nn_now() + secs;
	long long v;

	for (;;) {
		char *text = nn_slurp_or_empty(T.prom);

		v = sample(text, name);
		free(text);
		if (v >= min || nn_now() > end)
			return v;
		nn_msleep(200);
	}
}

START_TEST(test_textfile_traffic)
{
	const char *tool;
	struct nn_probes ps = { .n = 0 };
	char *out, *dest;
	long long ssh0, list0, q0, d0;
	struct stat st;

	if (!tu_need_root() || !(tool = promtool()))
		return;
	memset(&T, 0, sizeof(T));
	nn_up(&E, true);
	T.policy = nn_path(&E, "fwd.conf");
	T.sock = nn_path(&E, "fwd.sock");
	T.state = nn_path(&E, "state");
	T.log = nn_path(&E, "fwd.log");
	T.dir = nn_path(&E, "node-exporter");
	T.prom = nn_path(&E, "node-exporter/fwd.prom");
	ck_assert_int_eq(mkdir(T.state, 0700), 0);
	ck_assert_int_eq(mkdir(T.dir, 0755), 0);
	ck_assert_int_eq(chmod(T.dir, 0755), 0);
	nn_listener(&E, "listen", "tcp", 22, NULL);
	nn_write_file(T.policy,
		      "[list good]\nmembers = " NN_GOOD4 "\n"
		      "[service ssh]\nports = 22/tcp\nallow = @good\n"
		      "[guard]\nscan = 64 ports / 1h\nflood = off\n"
		      "[metrics]\ntextfile = %s\ninterval = 5s\n", T.prom);
	fwd_start();

	/* fwd writes the file soon after the start, whole and valid. */
	ck_assert_msg(nn_wait_for(T.prom, "fwd_generation 1\n", 1, 15),
		      "no textfile %s:\n%s", T.prom, nn_slurp_or_empty(T.log));
	promtool_ok(tool, T.prom, "the textfile");
	ck_assert_int_eq(stat(T.prom, &st), 0);
	ck_assert_msg((st.st_mode & 07777) == 0644, "textfile mode %o",
		      (unsigned)(st.st_mode & 07777));

	out = fwctl_ok("stats --prometheus");
	nn_write_file(nn_path(&E, "stats0.prom"), "%s", out);
	promtool_ok(tool, nn_path(&E, "stats0.prom"), "stats --prometheus");
	ssh0 = sample(out, SSH);
	list0 = sample(out, LIST);
	q0 = sample(out, QUEUED);
	d0 = sample(out, DENIED);
	ck_assert_msg(ssh0 >= 0 && list0 >= 0 && q0 >= 0 && d0 >= 0 &&
		      sample(out, BOUND) == 1, "stats --prometheus:\n%s", out);
	/* The start's apply was one whole-table transaction: it was timed
	 * (its scale, ns -> s, is the metrics suite's business). */
	ck_assert_msg(sample_f(out, "fwd_apply_duration_seconds") > 0 &&
		      sample(out, "fwd_generation") == 1 && sample(out, "fwd_degraded") == 0 &&
		      sample(out, "fwd_elements{set=\"allow4\"}") == 1,
		      "stats --prometheus:\n%s", out);
	free(out);

	/* 5 connections allowed through ssh's list, 3 denied ones queued. */
	for (int i = 0; i < 5; i++)
		nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp %s 22", NN_SRV4_G);
	for (int i = 0; i < 3; i++)
		nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp %s %d", NN_SRV4_B, 81 + i);
	nn_probes_run(&E, &ps);

	out = fwctl_ok("stats --prometheus");
	nn_write_file(nn_path(&E, "stats1.prom"), "%s", out);
	promtool_ok(tool, nn_path(&E, "stats1.prom"), "stats --prometheus");
	ck_assert_msg(sample(out, SSH) >= ssh0 + 5, "ssh %lld -> %lld:\n%s", ssh0,
		      sample(out, SSH), out);
	ck_assert_msg(sample(out, LIST) >= list0 + 5, "list good %lld -> %lld:\n%s",
		      list0, sample(out, LIST), out);
	ck_assert_msg(sample(out, QUEUED) >= q0 + 3, "queued %lld -> %lld:\n%s", q0,
		      sample(out, QUEUED), out);
	ck_assert_msg(sample(out, DENIED) >= d0 + 3, "default deny %lld -> %lld:\n%s",
		      d0, sample(out, DENIED), out);
	free(out);

	/* ...and the file fwd writes follows within an interval or two. */
	ck_assert_msg(textfile_until(SSH, ssh0 + 5, 15) >= ssh0 + 5 &&
		      textfile_until(QUEUED, q0 + 3, 15) >= q0 + 3,
		      "the textfile did not follow the traffic:\n%s",
		      nn_slurp_or_empty(T.prom));
	promtool_ok(tool, T.prom, "the textfile after traffic");

	/* A directory others may write: refused, logged once, in status. */
	ck_assert_int_eq(chmod(T.dir, 0777), 0);
	out = status_until("metrics:    FAILING: directory", true, 15);
	ck_assert_msg(strstr(out, "writable by others"), "status:\n%s", out);
	free(out);
	out = fwctl_ok("status --json");
	ck_assert_msg(strstr(out, "\"failing\":true"), "status --json:\n%s", out);
	free(out);
	/* Two more intervals: still one log line for the streak. */
	nn_msleep(11000);
	ck_assert_msg(nn_count_in_file(T.log, "is writable by others;") == 1,
		      "the failure logged %zu times:\n%s",
		      nn_count_in_file(T.log, "is writable by others;"), nn_slurp_or_empty(T.log));
	ck_assert_int_eq(chmod(T.dir, 0755), 0);
	out = status_until("FAILING", false, 15);
	ck_assert_msg(strstr(out, "metrics:    ") && !strstr(out, "FAILING"),
		      "status after the directory was fixed:\n%s", out);
	free(out);
	ck_assert_msg(nn_wait_for(T.log, "written again", 1, 5), "%s",
		      nn_slurp_or_empty(T.log));

	/* The directory gone: the same, and fwd stays up. */
	dest = nn_path(&E, "moved");
	ck_assert_int_eq(rename(T.dir, dest), 0);
	out = status_until("metrics:    FAILING: cannot open directory", true, 15);
	ck_assert_msg(strstr(out, "FAILING: cannot open directory"), "status:\n%s", out);
	free(out);
	ck_assert_msg(nn_alive(T.fwd), "fwd died:\n%s", nn_slurp_or_empty(T.log));
	ck_assert_int_eq(rename(dest, T.dir), 0);
	out = status_until("FAILING", false, 15);
	ck_assert_msg(!strstr(out, "FAILING"), "status:\n%s", out);
	free(out);

	ck_assert_int_eq(nn_stop(&E, T.fwd, 10), 0);
	nn_down(&E);
}
END_TEST

/* `stats --prometheus` is refused with a usage error on commands that do
 * not take it, and needs nothing the read role lacks. */
START_TEST(test_option_scope)
{
	char *out;
	int rc;

	if (!tu_need_root())
		return;
	memset(&T, 0, sizeof(T));
	nn_up(&E, false);
	T.policy = nn_path(&E, "fwd.conf");
	T.sock = nn_path(&E, "fwd.sock");
	T.state = nn_path(&E, "state");
	T.log = nn_path(&E, "fwd.log");
	ck_assert_int_eq(mkdir(T.state, 0700), 0);
	nn_write_file(T.policy, "[service ssh]\nports = 22/tcp\nallow = any\n");
	fwd_start();
	rc = fwctl(&out, "status --prometheus");
	ck_assert_msg(rc == 2 && strstr(out, "'--prometheus' does not apply to fwctl "
					  "status"), "exit %d:\n%s", rc, out);
	free(out);
	/* Without [metrics], status has no metrics line and JSON null. */
	out = fwctl_ok("status");
	ck_assert_msg(!strstr(out, "metrics:"), "status:\n%s", out);
	free(out);
	out = fwctl_ok("status --json");
	ck_assert_msg(strstr(out, "\"metrics\":null"), "status --json:\n%s", out);
	free(out);
	out = fwctl_ok("stats --prometheus");
	ck_assert_msg(strstr(out, "\n# TYPE fwd_generation gauge\nfwd_generation 1\n") &&
		      strstr(out, "# TYPE fwd_queue_packets_total counter\n# HELP") ,
		      "stats --prometheus:\n%s", out);
	free(out);
	ck_assert_int_eq(nn_stop(&E, T.fwd, 10), 0);
	nn_down(&E);
}
END_TEST

static Suite *prom_suite(void)
{
	Suite *s = suite_create("prom");

	nn_add_test(s, "textfile_traffic", test_textfile_traffic, 180, NULL);
	nn_add_test(s, "option_scope", test_option_scope, 60, NULL);
	return s;
}

int main(void)
{
	return nn_run(prom_suite());
}
