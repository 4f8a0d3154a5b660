// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl tells the truth (issue 11): what `remove` answers is what left the
 * kernel and the edits file; --json gives exactly one JSON document on
 * stdout for every command, errors included; diff exits as diff(1); a
 * batch answers in one line; times are times; one duration syntax; the
 * user's words in messages; help and status say each thing once.
 *
 * The real fwd and fwctl in check-e2e's topology (tests/netns.c): fwd
 * runs in srv, traffic comes from bad (198.51.100.2), every kernel claim
 * is read back with nft, every JSON document parsed by python's json
 * (strict: trailing data is an error, so "exactly one document" is what
 * it checks). Nothing touches the machine's own namespace.
 */
#define NN_SHORT_NAMES
#include "netns.h"
#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct nn_env E;
static struct {
	char *policy, *edits, *sock, *state, *fwdlog;
	pid_t fwd;
	size_t starts;
} T;
static struct nn_fwctl_run R;

static void topo_up(void)
{
	memset(&T, 0, sizeof(T));
	nn_up(&E, true);
	T.policy = nn_path(&E, "fwd.conf");
	T.edits = nn_path(&E, "conf.d/99-fwctl.conf");
	T.sock = nn_path(&E, "fwd.sock");
	T.state = nn_path(&E, "state");
	T.fwdlog = nn_path(&E, "fwd.log");
}

static void topo_down(void)
{
	nn_down(&E);
	free(R.out);
	free(R.err);
	R.out = R.err = NULL;
}

static void fwd_start(void)
{
	const char *argv[] = { FWD, "-c", T.policy, "--state-dir", T.state,
			       "-S", T.sock, NULL };

	T.starts++;
	T.fwd = nn_spawn(&E, SRV, T.fwdlog, argv, NULL);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: control socket at ", T.starts, 15),
		      "fwd (start %zu) did not serve its socket:\n%s", T.starts,
		      slurp_or_empty(T.fwdlog));
}

static void fwd_stop(void)
{
	int rc = nn_stop(&E, T.fwd, 10);

	ck_assert_msg(rc == 0, "fwd exited %d:\n%s", rc, slurp_or_empty(T.fwdlog));
	T.fwd = 0;
}

/* The service the tests edit: 8080/tcp from the list office. */
static void write_policy(const char *extra)
{
	write_file(T.policy,
		   "[defaults]\n"			/* 1 */
		   "inbound = deny\n"			/* 2 */
		   "\n"					/* 3 */
		   "[list office]\n"			/* 4 */
		   "members = " GOOD4 "\n"		/* 5 */
		   "\n"					/* 6 */
		   "[service web]\n"			/* 7 */
		   "ports = 8080/tcp\n"			/* 8 */
		   "allow = @office\n"			/* 9 */
		   "%s", extra);
}

/* fwctl in srv; stdin from `in` (a path) or /dev/null. R has the result. */
static int fwctl_in(const char *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fwctl_in(const char *in, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	nn_fwctl_v(&E, &R, T.sock, NULL, in, fmt, ap);
	va_end(ap);
	return R.rc;
}

#define fwctl(...) fwctl_in(NULL, __VA_ARGS__)

#define FWCTL_OK(...)                                                              \
	do {                                                                       \
		int rc_ = fwctl(__VA_ARGS__);                                      \
		ck_assert_msg(rc_ == 0, "fwctl exited %d\nstdout: %s\nstderr: %s", \
			      rc_, R.out, R.err);                                  \
	} while (0)

/* How many elements of set `name` have this key, as nft lists them. */
static size_t set_count(const char *set, const char *key)
{
	char *out = sh_ok("ip netns exec %s nft list set inet fwd_filter %s", E.ns[SRV], set);
	char *k = tu_asprintf("%s", key);
	size_t n = 0;

	for (const char *p = out; (p = strstr(p, k)) != NULL; p += strlen(k)) {
		char after = p[strlen(k)];

		if (after == ' ' || after == ',' || after == '\n' || after == '}')
			n++;
	}
	free(k);
	free(out);
	return n;
}

static void expect_tcp(enum nn_role from, unsigned port, int expect, const char *when)
{
	struct probes ps = { .n = 0 };
	char *more = tu_asprintf("last fwctl: rc %d\nstdout: %s\nstderr: %s", R.rc, R.out, R.err);

	probe(&ps, from, expect, "connect tcp %s %u", from == BAD ? SRV4_B : SRV4_G, port);
	nn_probes_run_when(&E, &ps, when, more);
	free(more);
}

/*
 * python's json on a file: 0 when it holds exactly one JSON document (an
 * object), and then `check` (a python expression over d, the document)
 * must be true. Any output of python (its error) lands in *why.
 */
static bool json_doc(const char *path, const char *check, char **why)
{
	char *py = nn_path(&E, "check.py");
	int rc;

	/* A file, not a shell word: checks hold quotes of their own. */
	write_file(py, "import json, sys\n"
		   "d = json.loads(open(sys.argv[1], 'rb').read().decode())\n"
		   "assert isinstance(d, (dict, list)), type(d)\n"
		   "assert %s, d\n", check ? check : "True");
	rc = tu_sh(why, "python3 %s %s 2>&1", py, path);
	return rc == 0;
}

/* The last fwctl's stdout was exactly one JSON document passing `check`. */
static void expect_json_doc(const char *what, const char *check)
{
	char *o = nn_path(&E, "fwctl.out"), *why = NULL;

	ck_assert_msg(json_doc(o, check, &why), "fwctl %s (rc %d): stdout is not one JSON "
		      "document with %s: %s\nstdout: %.2000s\nstderr: %.1000s", what, R.rc,
		      check ? check : "anything", why, R.out, R.err);
	free(why);
}

/* ---- 1. remove says what it removed ---- */

START_TEST(test_remove_truth)
{
	char *file;

	if (!tu_need_root())
		return;
	topo_up();
	nn_listener(&E, "listen", "tcp", 8081, NULL);
	write_policy("");
	fwd_start();

	/* An allow and a deny on one port and peer: the deny wins. */
	FWCTL_OK("allow 8081/tcp from " BAD4);
	FWCTL_OK("deny 8081/tcp from " BAD4);
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8081"), 1);
	ck_assert_uint_eq(set_count("deny4", BAD4 " . tcp . 8081"), 1);
	expect_tcp(BAD, 8081, REJECTED, "allow + deny");

	/* One remove takes out both, and says so. */
	FWCTL_OK("remove 8081/tcp from " BAD4);
	ck_assert_msg(strstr(R.out, "removed: allow 8081/tcp from " BAD4 "\n") &&
		      strstr(R.out, "removed: deny 8081/tcp from " BAD4 "\n") &&
		      tu_count_str(R.out, "\n") == 2, "remove of an allow and a deny said:\n%s",
		      R.out);
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8081"), 0);
	ck_assert_uint_eq(set_count("deny4", BAD4 " . tcp . 8081"), 0);
	file = slurp_or_empty(T.edits);
	ck_assert_msg(!strstr(file, "8081"), "the edits file after remove:\n%s", file);
	free(file);
	expect_tcp(BAD, 8081, DROP, "both removed: default deny");

	/* --deny takes out the deny only: the allow lets bad in. */
	FWCTL_OK("allow 8081/tcp from " BAD4);
	FWCTL_OK("deny 8081/tcp from " BAD4 " for 1h");
	FWCTL_OK("remove 8081/tcp from " BAD4 " --deny --json");
	expect_json_doc("remove --deny --json", "len(d['removed']) == 1 and "
			"d['removed'][0].startswith('deny 8081/tcp from " BAD4 " until ') "
			"and d['count'] == 1");
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8081"), 1);
	ck_assert_uint_eq(set_count("deny4", BAD4 " . tcp . 8081"), 0);
	file = slurp_or_empty(T.edits);
	ck_assert_msg(strstr(file, "allow = 8081/tcp from " BAD4 "\n") &&
		      !strstr(file, "deny = 8081"), "the edits file after remove --deny:\n%s",
		      file);
	free(file);
	expect_tcp(BAD, 8081, OK, "the deny removed, the allow kept");

	/* Nothing of the kind asked for: an error that names the other. */
	ck_assert_msg(fwctl("remove 8081/tcp from " BAD4 " --deny") == 1 &&
		      strstr(R.err, "no fwctl deny matches '8081/tcp from " BAD4 "'") &&
		      strstr(R.err, "an allow does") && strstr(R.err, "--allow"),
		      "remove --deny with only an allow: rc %d\n%s", R.rc, R.err);
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8081"), 1);
	FWCTL_OK("remove 8081/tcp from " BAD4 " --allow");
	ck_assert_str_eq(R.out, "removed: allow 8081/tcp from " BAD4 "\n");
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8081"), 0);
	expect_tcp(BAD, 8081, DROP, "the allow removed");
	topo_down();
}
END_TEST

/* ---- 2. --json: one document on stdout, whatever happens ---- */

struct jcase {
	const char *args;	/* after fwctl -S SOCK */
	int rc;			/* expected exit status */
	const char *check;	/* python over d, or NULL */
};

static void run_jcases(const struct jcase *c, const char *policy_file)
{
	for (size_t i = 0; c[i].args; i++) {
		const char *hole = strstr(c[i].args, "%s");
		/* "%s" in a case stands for the policy file it checks. */
		char *args = hole ? tu_asprintf("%.*s%s%s", (int)(hole - c[i].args), c[i].args,
						policy_file, hole + 2) : tu_asprintf("%s", c[i].args);
		char *check = c[i].check ? tu_asprintf("%s", c[i].check) : NULL;

		fwctl("%s", args);
		ck_assert_msg(R.rc == c[i].rc, "fwctl %s: rc %d, expected %d\nstdout: %s\n"
			      "stderr: %s", args, R.rc, c[i].rc, R.out, R.err);
		if (!check && c[i].rc != 0 && !strstr(args, "check "))
			check = tu_asprintf("set(d) == {'error', 'exit'} and d['exit'] == %d and "
					    "len(d['error']) > 0", c[i].rc);
		expect_json_doc(args, check);
		if (c[i].rc != 0 && !strstr(args, "check "))
			ck_assert_msg(R.err[0], "fwctl %s: an error without text on stderr",
				      args);
		free(args);
		free(check);
	}
}

START_TEST(test_json_everywhere)
{
	static const struct jcase ok[] = {
		{ "--json status", 0, "d['running']" },
		{ "status --json", 0, "'control' in d" },
		{ "show --json", 0, "'edits' in d" },
		{ "show --nft --json", 0, "'nft' in d" },
		{ "allow 8082/tcp from " BAD4 " --json", 0, "d['ok']" },
		{ "deny 8083/tcp from " BAD4 " for 10m --json", 0, "d['ok']" },
		{ "remove 8082/tcp from " BAD4 " --kill-states --json", 0,
		  "d['connections_ended'] == 0 and d['count'] == 1" },
		{ "remove 8083/tcp from " BAD4 " --json", 0, "d['count'] == 1" },
		{ "block 203.0.113.66 for 1h --json", 0, "d['ok']" },
		{ "list blocked --json", 0, "d[0]['seconds_left'] > 0" },
		{ "unblock 203.0.113.66 --json", 0, "d['ok']" },
		{ "list add office 203.0.113.5 --json", 0, "d['ok']" },
		{ "list show --json", 0, NULL },
		{ "list show office --json", 0, NULL },
		{ "list del office 203.0.113.5 --json", 0, "d['ok']" },
		{ "explain " BAD4 " 8080/tcp --json", 0, "'verdict' in d" },
		{ "stats --json", 0, NULL },
		{ "diff --json", 0, "d['changes'] == []" },
		{ "reload --json", 0, "d['ok']" },
		{ "reload --confirm 30s --json", 0, "d['confirm_seconds'] == 30" },
		{ "confirm --json", 0, "d['ok']" },
		{ "audit --json", 0, "'sockets' in d" },
		{ "disable --yes --json", 0, "d['disabled']" },
		{ "enable --json", 0, "d['ok']" },
		{ "doctor --json", 0, "'kernel' in d" },
		{ "check %s --json", 0, "d['valid']" },
		{ "help --json", 0, "len(d['commands']) > 20" },
		{ "help remove --json", 0, "d['name'] == 'remove'" },
		{ "--json version", 0, "'version' in d" },
		{ "version --json", 0, "'version' in d" },
		{ NULL, 0, NULL },
	};
	static const struct jcase bad[] = {
		{ "confirm --json", 1, NULL },
		{ "remove 9999/tcp from " BAD4 " --json", 1, NULL },
		{ "remove 8080/tcp from " BAD4 " --allow --json", 1, NULL },
		{ "allow 70000/tcp --json", 2, NULL },
		{ "frobnicate --json", 2, NULL },
		{ "--json frobnicate", 2, NULL },
		{ "list foo --json", 2, NULL },
		{ "status --frobnicate --json", 2, NULL },
		{ "--json --frobnicate status", 2, NULL },
		{ "explain 192.0.2.300 22/tcp --json", 2, NULL },
		{ "reload --confirm 5x --json", 2, NULL },
		{ "list show nosuchlist --json", 1, NULL },
		{ "disable --json", 1, NULL },		/* not a terminal, no --yes */
		{ "help frobnicate --json", 2, NULL },
		{ "check %s --json", 1, "d['valid'] == False and len(d['errors']) == 1" },
		{ "check a b --json", 2, NULL },
		{ "log -n 0 --json", 2, NULL },
		{ "--json", 2, NULL },
		{ NULL, 0, NULL },
	};
	static const struct jcase broken[] = {
		{ "diff --json", 2, NULL },
		{ "reload --json", 1, NULL },
		{ NULL, 0, NULL },
	};
	static const struct jcase down[] = {
		{ "status --json", 4, NULL },
		{ "allow 22/tcp --json", 4, NULL },
		{ NULL, 0, NULL },
	};
	char *bad_file;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	run_jcases(ok, T.policy);
	bad_file = nn_path(&E, "bad.conf");
	write_file(bad_file, "[defaults]\ninbound = maybe\n");
	run_jcases(bad, bad_file);
	/* The files broken: diff and reload fail, in JSON. */
	write_policy("[service x]\nports = 99999/tcp\n");
	run_jcases(broken, NULL);
	/* log --json is JSON lines, one document a record: each parses. */
	FWCTL_OK("log --json");
	for (char *l = R.out, *nl; *l; l = nl + 1) {
		char *line = nn_path(&E, "line.json"), *why = NULL;

		nl = strchr(l, '\n');
		ck_assert_msg(nl != NULL, "log --json: a line without its newline");
		*nl = '\0';
		write_file(line, "%s", l);
		ck_assert_msg(json_doc(line, NULL, &why), "log --json line %s: %s", l, why);
		free(why);
	}
	fwd_stop();
	run_jcases(down, NULL);
	topo_down();
}
END_TEST

/* ---- 3. diff exits as diff(1) ---- */

START_TEST(test_diff_exit)
{
	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	ck_assert_msg(fwctl("diff") == 0 && strstr(R.out, "no difference"),
		      "diff, nothing changed: rc %d\n%s%s", R.rc, R.out, R.err);
	write_policy("\n[service app]\nports = 8090/tcp\nallow = " BAD4 "\n");
	ck_assert_msg(fwctl("diff") == 1 && strstr(R.out, "+ allow4") &&
		      strstr(R.out, BAD4 " . tcp . 8090"), "diff, a service added: rc %d\n%s%s",
		      R.rc, R.out, R.err);
	ck_assert_msg(fwctl("diff --json") == 1, "diff --json with changes: rc %d", R.rc);
	expect_json_doc("diff --json", "len(d['changes']) == 1");
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8090"), 0);	/* nothing applied */
	write_policy("\n[service app]\nports = 8090/tcp\nallow = 198.51.100.300\n");
	ck_assert_msg(fwctl("diff") == 2 && strstr(R.err, "fwd.conf:13:"),
		      "diff of a broken file: rc %d\n%s", R.rc, R.err);
	write_policy("\n[service app]\nports = 8090/tcp\nallow = " BAD4 "\n");
	FWCTL_OK("reload");
	ck_assert_uint_eq(set_count("allow4", BAD4 " . tcp . 8090"), 1);
	ck_assert_msg(fwctl("diff") == 0, "diff after the reload: rc %d\n%s", R.rc, R.out);
	topo_down();
}
END_TEST

/* ---- 4. list add NAME -: one summary line ---- */

START_TEST(test_list_batch)
{
	char *in, *text;
	size_t len = 0;
	FILE *f;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	FWCTL_OK("list add office 203.0.113.200");
	/* 104 lines: 101 new, one from the file, one added before, one twice. */
	f = open_memstream(&text, &len);
	for (int i = 1; i <= 100; i++)
		fprintf(f, "203.0.113.%d\n", i);
	fprintf(f, "# a comment\n" GOOD4 "\n203.0.113.200\n198.18.0.1 ; the 101st\n"
		"203.0.113.7\n");
	fclose(f);
	in = nn_path(&E, "batch.txt");
	write_file(in, "%s", text);
	ck_assert_msg(fwctl_in(in, "list add office -") == 0, "batch: rc %d %s", R.rc, R.err);
	ck_assert_str_eq(R.out, "added 101, already present 3\n");
	ck_assert_uint_eq(set_count("allow4", "203.0.113.57 . tcp . 8080"), 1);
	ck_assert_uint_eq(set_count("allow4", "198.18.0.1 . tcp . 8080"), 1);
	/* Again with -v: a line a member, all already there. */
	ck_assert_msg(fwctl_in(in, "list add office - -v") == 0, "batch -v: rc %d %s", R.rc,
		      R.err);
	ck_assert_msg(tu_count_str(R.out, "\n") == 104 &&
		      strstr(R.out, "203.0.113.57 in list office") &&
		      !strstr(R.out, "list-add"), "list add -v:\n%.3000s", R.out);
	ck_assert_msg(fwctl_in(in, "list add office - --json") == 0, "rc %d", R.rc);
	expect_json_doc("list add - --json", "d['count'] == 104 and d['already_present'] == 104");
	free(text);
	topo_down();
}
END_TEST

/* ---- 5. times as times, no contradictions ---- */

START_TEST(test_human_times)
{
	char when[64], *epoch;
	long long exp;
	time_t t;
	struct tm tm;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	FWCTL_OK("allow 8084/tcp from " BAD4 " for 1h");
	ck_assert_msg(!strstr(R.out, "until 1") && strstr(R.out, " left)"),
		      "allow for 1h said:\n%s", R.out);
	FWCTL_OK("show --json");
	{
		const char *p = strstr(R.out, "\"expires\":");

		ck_assert_msg(p && sscanf(p, "\"expires\":%lld", &exp) == 1 && exp > 0,
			      "show --json has no expiry:\n%s", R.out);
	}
	t = (time_t)exp;
	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "until %Y-%m-%d %H:%M %Z (", &tm);
	epoch = tu_asprintf("%lld", exp);
	FWCTL_OK("show");
	ck_assert_msg(strstr(R.out, when) && !strstr(R.out, epoch), "show: no '%s', or the "
		      "epoch %s:\n%s", when, epoch, R.out);
	FWCTL_OK("block 203.0.113.9 for 1h");
	ck_assert_msg(!strstr(R.out, "until 1"), "block said:\n%s", R.out);
	FWCTL_OK("list blocked");
	ck_assert_msg(strstr(R.out, "until 20") && strstr(R.out, " left)"),
		      "list blocked:\n%s", R.out);
	/* A runtime edit without expiry is not "permanent". */
	FWCTL_OK("allow 8085/tcp from " BAD4 " --runtime");
	FWCTL_OK("show");
	ck_assert_msg(!strstr(R.out, "permanent") && strstr(R.out, "runtime only: not saved"),
		      "show of a runtime edit:\n%s", R.out);
	free(epoch);
	topo_down();
}
END_TEST

/* ---- 6. one duration syntax ---- */

START_TEST(test_durations)
{
	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	FWCTL_OK("reload --confirm 5m");
	ck_assert_msg(strstr(R.out, "within 5m"), "reload --confirm 5m:\n%s", R.out);
	FWCTL_OK("status --json");
	expect_json_doc("status --json", "60 < d['confirm_pending'] <= 301");
	FWCTL_OK("confirm");
	FWCTL_OK("reload --confirm=1h30m");
	FWCTL_OK("status --json");
	expect_json_doc("status --json", "3600 < d['confirm_pending'] <= 5401");
	FWCTL_OK("confirm");
	FWCTL_OK("reload --confirm 120");	/* seconds, as before */
	FWCTL_OK("status --json");
	expect_json_doc("status --json", "60 < d['confirm_pending'] <= 121");
	FWCTL_OK("confirm");
	ck_assert_msg(fwctl("reload --confirm 2d") == 2 && strstr(R.err, "DURATION"),
		      "--confirm 2d: rc %d %s", R.rc, R.err);
	FWCTL_OK("log --since 1h30m");
	topo_down();
}
END_TEST

/* ---- 7. the user's words ---- */

START_TEST(test_user_words)
{
	static const struct { const char *args, *want, *not; } c[] = {
		{ "list add", "'list add' needs", "list-add" },
		{ "list add office", "'list add' needs", "list-add" },
		{ "list del office", "'list del' needs", "list-del" },
		{ "remove", "'remove' needs PORTS", "'allow'" },
		{ "remove from " BAD4, "like fwctl remove 22/tcp from", "'allow'" },
		{ "unblock", "'unblock' needs", "'block'" },
	};
	char *log;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	fwd_start();
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		ck_assert_msg(fwctl("%s", c[i].args) == 2 && strstr(R.err, c[i].want) &&
			      !strstr(R.err, c[i].not), "fwctl %s: rc %d\n%s", c[i].args, R.rc,
			      R.err);
	ck_assert_msg(fwctl("list foo") == 2 && strstr(R.err, "unknown list command 'foo'") &&
		      strstr(R.err, "list add") && strstr(R.err, "list del") &&
		      strstr(R.err, "list show") && strstr(R.err, "list blocked") &&
		      !strstr(R.err, "  allow"), "fwctl list foo: rc %d\n%s", R.rc, R.err);
	ck_assert_msg(fwctl("list") == 2 && strstr(R.err, "list show"), "fwctl list: rc %d\n%s",
		      R.rc, R.err);
	FWCTL_OK("list add office 203.0.113.5");
	FWCTL_OK("list del office 203.0.113.5");
	ck_assert_msg(strstr(R.out, "removed: 203.0.113.5 in list office"), "list del:\n%s",
		      R.out);
	FWCTL_OK("reload");
	log = slurp_or_empty(T.fwdlog);
	ck_assert_msg(!strstr(log, "cmd_") && strstr(log, "fwctl list add by uid 0"),
		      "fwd's log names functions:\n%s", log);
	free(log);
	topo_down();
}
END_TEST

/* ---- 8. help describes, status says each thing once ---- */

START_TEST(test_help_status)
{
	char *save = NULL, *copy, *help;

	if (!tu_need_root())
		return;
	topo_up();
	write_policy("");
	/* Every command of `help --json` has a one-line description in `help`. */
	FWCTL_OK("help --json");
	expect_json_doc("help --json", "all(len(c['summary']) > 10 and '\\n' not in "
			"c['summary'] for c in d['commands'])");
	help = strdup(R.out);
	FWCTL_OK("help");
	for (char *p = strstr(help, "\"name\":\""); p; p = strstr(p + 1, "\"name\":\"")) {
		char name[32], *line;

		sscanf(p, "\"name\":\"%31[^\"]", name);
		line = tu_asprintf("\n  %-13s ", name);
		ck_assert_msg(strstr(R.out, line), "help has no line for '%s':\n%s", name,
			      R.out);
		free(line);
	}
	free(help);

	fwd_start();
	FWCTL_OK("status");
	/* Each label once. */
	copy = strdup(R.out);
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char label[16] = "", *needle;

		if (sscanf(l, "%15[a-z]:", label) != 1 || l[strlen(label)] != ':')
			continue;
		needle = tu_asprintf("\n%s:", label);
		ck_assert_msg(tu_count_str(R.out, needle) <= 1, "status says '%s:' twice:\n%s",
			      label, R.out);
		free(needle);
	}
	free(copy);
	FWCTL_OK("disable --yes");
	FWCTL_OK("status");
	ck_assert_msg(strstr(R.out, "DISABLED") && !strstr(R.out, "table inet fwd_filter, "),
		      "status while disabled still claims the table:\n%s", R.out);
	FWCTL_OK("enable");
	fwd_stop();
	/* Broken files at start: the last good policy, and status says why. */
	write_policy("\n[service app]\nports = 8090/tcp\nallow = 198.51.100.300\n");
	fwd_start();
	FWCTL_OK("status");
	ck_assert_msg(strstr(R.out, "degraded") && strstr(R.out, "fwd.conf:13: ") &&
		      strstr(R.out, "198.51.100.300"), "degraded status:\n%s", R.out);
	FWCTL_OK("status --json");
	expect_json_doc("status --json", "any('fwd.conf:13:' in e for e in d['degraded_errors'])");
	write_policy("");
	FWCTL_OK("reload");
	FWCTL_OK("status --json");
	expect_json_doc("status --json", "d['degraded'] is None and d['degraded_errors'] == []");
	topo_down();
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");

	nn_add_test(s, "remove_truth", test_remove_truth, 120, NULL);
	nn_add_test(s, "json_everywhere", test_json_everywhere, 240, NULL);
	nn_add_test(s, "diff_exit", test_diff_exit, 120, NULL);
	nn_add_test(s, "list_batch", test_list_batch, 120, NULL);
	nn_add_test(s, "human_times", test_human_times, 120, NULL);
	nn_add_test(s, "durations", test_durations, 120, NULL);
	nn_add_test(s, "user_words", test_user_words, 120, NULL);
	nn_add_test(s, "help_status", test_help_status, 120, NULL);
	return s;
}

int main(void)
{
	return nn_run(cli_suite());
}
