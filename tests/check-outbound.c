// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Outbound rules by owner (`user =`, `unit =` in direction = out services):
 * the real fwd in srv of the e2e topology (tests/netns.c) with outbound =
 * deny, a nettool listener in good, and clients in srv started as a given
 * user (setpriv) or inside a given cgroup, connecting out over IPv4 and
 * IPv6. The kernel decides (meta skuid / socket cgroupv2): the owner sets
 * are read back with nft, and the clients' outcomes are the proof.
 *
 * Units: a unit's cgroup is emulated as <cgroup2 root>/system.slice/NAME
 * in a cgroup2 mount this test makes in a private mount namespace (`ip
 * netns exec` replaces /sys, so a mount under /sys/fs/cgroup would not
 * reach fwd), named after the runner's pid and removed at the end. The
 * cgroup2 hierarchy is the machine's own (there is one), so only the
 * cgroups this test creates are touched.
 *
 * The policy errors (program =, unit = on a cgroup v1 host, user = on an
 * inbound service, an unknown user) are checked with exact text.
 */
#define NN_SHORT_NAMES
#include "netns.h"
#include "testutil.h"

#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "ir.h"
#include "outbound.h"
#include "policy.h"

static struct nn_env E;
static struct {
	char policy[300];
	char fwdlog[300];
	pid_t fwd;
	char cgroot[300];		/* our cgroup2 mount, or "" */
	char unitcg[400];		/* the emulated unit's cgroup, or "" */
	bool made_slice;		/* we created system.slice */
	char trees[4][400];		/* cgroup trees made by nested_units */
	size_t ntrees;
} T;

#define PORT_OK 8443u	/* the service's port */
#define PORT_NO 8444u	/* a port no service names */

/* The uid of a user name. */
static uid_t user_uid(const char *name)
{
	struct passwd *pw = getpwnam(name);

	ck_assert_msg(pw, "no user %s", name);
	return pw->pw_uid;
}

static void topo_up(void)
{
	memset(&T, 0, sizeof(T));
	nn_up(&E, true);
	snprintf(T.policy, sizeof(T.policy), "%s/fwd.conf", E.dir);
	snprintf(T.fwdlog, sizeof(T.fwdlog), "%s/fwd.log", E.dir);
}

/* The cgroups first (empty once their processes are gone), then the rest. */
static void topo_down(void)
{
	nn_down(&E);
	if (T.unitcg[0])
		rmdir(T.unitcg);
	for (size_t i = 0; i < T.ntrees; i++)
		tu_sh(NULL, "find '%s' -depth -type d -exec rmdir {} \\;", T.trees[i]);
	if (T.made_slice) {
		char *slice = nn_keepf("%s/system.slice", T.cgroot);

		rmdir(slice);	/* EBUSY when another run uses it: theirs */
	}
	if (T.cgroot[0]) {
		umount2(T.cgroot, MNT_DETACH);
		rmdir(T.cgroot);
	}
}

/* The scratch directory's marker that a test made system.slice (netns.h:
 * $TMPDIR/fwdt-<runner pid>). */
static char *slice_marker(pid_t runner)
{
	const char *tmp = getenv("TMPDIR");

	return nn_keepf("%s/fwdt-%d/made-slice", tmp && *tmp ? tmp : "/tmp",
			(int)runner);
}

/*
 * What a failed test left in the machine's cgroup2 hierarchy: its unit
 * cgroups (named after the runner) and the system.slice it made. In a
 * child with a mount of its own, from the runner (a failed test's child
 * is gone, and with it its mount namespace).
 */
static void cgroup_sweep(void)
{
	pid_t runner = getpid(), pid = fork();
	int st;

	if (pid == 0) {
		char dir[] = "/tmp/fwdcg-XXXXXX";
		char *cmd;

		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    !mkdtemp(dir))
			_exit(1);
		if (mount("none", dir, "cgroup2", 0, NULL) == 0) {
			/* Nested ones (nested_units) depth first. */
			cmd = nn_keepf("for d in %s/system.slice/fwdt%d-*.service "
				       "%s/system.slice/system-fwdt%d*.slice "
				       "%s/fwdt%d-*.slice; do [ -d \"$d\" ] && "
				       "find \"$d\" -depth -type d -exec rmdir {} \\;; "
				       "done; [ -e %s ] && rmdir %s/system.slice; true",
				       dir, (int)runner, dir, (int)runner, dir,
				       (int)runner, slice_marker(runner), dir);
			if (system(cmd) != 0)
				fprintf(stderr, "cgroup sweep: %s failed\n", cmd);
			umount2(dir, MNT_DETACH);
		}
		rmdir(dir);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, &st, 0);
}

static void runner_cleanup(void)
{
	if (geteuid() == 0)
		cgroup_sweep();
	nn_runner_cleanup();
}

static void fwd_start(void)
{
	char *state = nn_path(&E, "state");
	char *sock = nn_path(&E, "fwd.sock");
	const char *argv[] = { FWD, "-c", T.policy, "--state-dir", state, "-S", sock,
			       NULL };

	T.fwd = nn_spawn(&E, SRV, T.fwdlog, argv, NULL);
	ck_assert_msg(wait_for(T.fwdlog, "fwd: applied ", 1, 15),
		      "fwd did not apply within 15 s:\n%s", slurp_or_empty(T.fwdlog));
}

/* A listener in good on PORT_OK and PORT_NO (dual stack). */
static void good_listeners(void)
{
	nn_listener_in(&E, GOOD, "listen", "tcp", PORT_OK, NULL);
	nn_listener_in(&E, GOOD, "listen", "tcp", PORT_NO, NULL);
}

/*
 * `nettool connect` from srv: as user `who` (setpriv, no groups), or, with
 * `cg`, from inside that cgroup (the shell moves itself in before exec, so
 * the socket is created there). Its exit status (NN_OK, NN_DROP, ...).
 */
static int connect_out(const char *who, const char *cg, const char *dst,
		       unsigned port, const char *secs)
{
	char *out = NULL;
	const char *pre = "";
	int st;

	if (who)
		pre = nn_keepf("setpriv --reuid=%s --regid=%s --clear-groups ",
			       who, strcmp(who, "65534") ? who : "65534");
	if (cg)
		st = tu_sh(&out, "sh -c 'echo $$ > \"%s/cgroup.procs\" && exec ip netns exec "
			   "%s %s %s connect tcp %s %u --timeout %s'", cg, E.ns[SRV],
			   pre, NETTOOL, dst, port, secs);
	else
		st = tu_sh(&out, "ip netns exec %s %s%s connect tcp %s %u --timeout %s",
			   E.ns[SRV], pre, NETTOOL, dst, port, secs);
	free(out);
	return st;
}

static void expect_conn(const char *who, const char *cg, const char *dst,
			unsigned port, int want)
{
	/* A drop is a timeout: 1 s; a success gets time for neighbour
	 * discovery (a fresh IPv6 address), as the e2e probes do. */
	int got = connect_out(who, cg, dst, port, want == DROP ? "1" : "3");

	ck_assert_msg(got == want, "connect %s %u as %s%s%s: exit %d, wanted %d\n"
		      "out_user4/6 and out_unit4/6:\n%s\nfwd log:\n%s", dst, port,
		      who ? who : "root", cg ? " in " : "", cg ? cg : "", got, want,
		      nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_user4; "
			       "ip netns exec %s nft list set inet fwd_filter out_unit4",
			       E.ns[SRV], E.ns[SRV]),
		      slurp_or_empty(T.fwdlog));
}

/* `fwctl show --nft`: its output must hold `want`. */
static void expect_show_nft(const char *want)
{
	char *out = NULL;
	int st = tu_sh(&out, "%s -S %s show --nft", FWCTL, nn_path(&E, "fwd.sock"));

	ck_assert_msg(st == 0 && strstr(out, want), "show --nft: exit %d, wanted '%s':\n"
		      "%.3000s", st, want, out);
	free(out);
}

/* The rule number `fwctl explain --out DST PORT/tcp WORDS` says decides. */
static long explain_rule(const char *dst, unsigned port, const char *words)
{
	char *out = NULL, *p;
	long n;
	int st = tu_sh(&out, "%s -S %s explain %s %u/tcp --out %s", FWCTL,
		       nn_path(&E, "fwd.sock"), dst, port, words);

	p = out ? strstr(out, "decided by: rule ") : NULL;
	ck_assert_msg(st == 0 && p, "explain --out %s %u/tcp %s: exit %d:\n%s", dst,
		      port, words, st, out);
	n = strtol(p + strlen("decided by: rule "), NULL, 10);
	free(out);
	return n;
}

/* `fwctl explain --out DST PORT/tcp WORDS`: its output must hold `want`. */
static void expect_explain(const char *dst, unsigned port, const char *words,
			   const char *want)
{
	char *out = NULL;
	int st = tu_sh(&out, "%s -S %s explain %s %u/tcp --out %s", FWCTL,
		       nn_path(&E, "fwd.sock"), dst, port, words);

	ck_assert_msg(st == 0 && strstr(out, want), "explain --out %s %u/tcp %s: exit %d, "
		      "wanted '%s':\n%s", dst, port, words, st, want, out);
	free(out);
}

static const char policy_fmt[] =
	"[defaults]\n"
	"outbound = deny\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = any\n"
	"\n"
	"[service web-out]\n"
	"direction = out\n"
	"ports = %u/tcp\n"
	"allow = " GOOD4 ", " GOOD6 "\n"
	"%s = %s\n";

/*
 * user =: the allowed user connects out over IPv4 and IPv6, another user
 * (nobody) and root do not, nor does the allowed user on another port;
 * the kernel holds the uid in out_user4/6. With fwd killed the same holds
 * (the table persists: the rule is the kernel's, no daemon needed).
 */
START_TEST(test_user_rules)
{
	const char *user = tu_user();
	char *set;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux"))
		return;
	ck_assert_msg(user, "cannot create the test user");
	topo_up();
	write_file(T.policy, policy_fmt, PORT_OK, "user", user);
	good_listeners();
	fwd_start();

	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_user4",
		       E.ns[SRV]));
	ck_assert_msg(strstr(set, nn_keepf(". %s . tcp . %u", GOOD4, PORT_OK)),
		      "out_user4 lacks the service:\n%s", set);
	expect_explain(GOOD4, PORT_OK, nn_keepf("--user %s", user),
		       nn_keepf("as user %s: accept\n  decided by: rule", user));
	expect_explain(GOOD6, PORT_OK, nn_keepf("--user %s", user), "set out_user6");
	expect_explain(GOOD4, PORT_OK, "--user 65534", ": drop\n");
	expect_explain(GOOD4, PORT_OK, "", ": drop\n");
	{
		char *out = NULL;
		int st = tu_sh(&out, "%s -S %s show", FWCTL, nn_path(&E, "fwd.sock"));

		ck_assert_msg(st == 0 && strstr(out, nn_keepf(" for user %s  (", user)),
			      "show does not name the owner:\n%s", out);
		free(out);
		st = tu_sh(&out, "%s -S %s show --json", FWCTL, nn_path(&E, "fwd.sock"));
		ck_assert_msg(st == 0 && strstr(out, nn_keepf("\"users\":[\"%s\"],\"units\":[]",
							      user)),
			      "show --json does not name the owner:\n%s", out);
		free(out);
	}
	for (int round = 0; round < 2; round++) {
		expect_conn(user, NULL, GOOD4, PORT_OK, OK);
		expect_conn(user, NULL, GOOD6, PORT_OK, OK);
		expect_conn("65534", NULL, GOOD4, PORT_OK, DROP);
		expect_conn("65534", NULL, GOOD6, PORT_OK, DROP);
		expect_conn(NULL, NULL, GOOD4, PORT_OK, DROP);
		expect_conn(user, NULL, GOOD4, PORT_NO, DROP);
		expect_conn(user, NULL, GOOD6, PORT_NO, DROP);
		if (round == 0)
			nn_kill(&E, T.fwd);	/* fail-closed: the kernel alone */
	}
	topo_down();
}
END_TEST

/*
 * The last good policy keeps the owners: fwd restarted on broken files
 * applies it from the state directory, and the user's uid is still the
 * one in out_user4 (not 0, root's), by readback and by traffic.
 */
START_TEST(test_last_good_owner)
{
	const char *user = tu_user();
	char *set;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux"))
		return;
	ck_assert_msg(user, "cannot create the test user");
	topo_up();
	write_file(T.policy, policy_fmt, PORT_OK, "user", user);
	good_listeners();
	fwd_start();
	ck_assert_int_eq(nn_stop(&E, T.fwd, 10), 0);
	write_file(T.policy, "[service broken\n");
	/* A fresh start: no table of the first run left to find. */
	free(nn_sh_ok("ip netns exec %s nft delete table inet fwd_filter", E.ns[SRV]));
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, "degraded: applied the last good policy", 1, 5),
		      "not the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_user4",
		       E.ns[SRV]));
	ck_assert_msg(strstr(set, nn_keepf("%u . %s . tcp . %u", (unsigned)user_uid(user),
					   GOOD4, PORT_OK)),
		      "out_user4 lost the uid:\n%s", set);
	expect_conn(user, NULL, GOOD4, PORT_OK, OK);
	expect_conn(NULL, NULL, GOOD4, PORT_OK, DROP);
	topo_down();
}
END_TEST

/* ---- program = ---- */


/* `BIN connect tcp DST PORT` from srv, BIN a copy of nettool or nettool
 * itself: its exit status. */
static int connect_bin(const char *bin, const char *dst, unsigned port,
		       const char *secs)
{
	char *out = NULL;
	int st = tu_sh(&out, "ip netns exec %s %s connect tcp %s %u --timeout %s",
		       E.ns[SRV], bin, dst, port, secs);

	free(out);
	return st;
}

static void expect_bin(const char *bin, const char *dst, unsigned port, int want)
{
	int got = connect_bin(bin, dst, port, want == DROP ? "1" : "3");
	char *diag = NULL;

	if (got == want)
		return;
	/* Short: libcheck's messages are a few KiB at most. */
	tu_sh(&diag, "ip netns exec %s nft list table inet fwd_filter 2>&1 | "
	      "grep -o '@out_prog[46] counter packets [0-9]*'; ip netns exec %s "
	      "cat /proc/net/netfilter/nfnetlink_queue; tail -n 8 %s",
	      E.ns[SRV], E.ns[SRV], T.fwdlog);
	ck_abort_msg("connect %s %u by %s: exit %d, wanted %d\nqueue rules, "
		     "queues, fwd log:\n%.2500s", dst, port, bin, got, want,
		     diag ? diag : "");
}

/* `fwctl status --json`'s entry for the program queue: queued packets
 * and decisions (the numbers after the keys, -1 when absent). */
struct progq {
	long queued, verdicts, errors, accepted, unknown, denied;
	long labelled, label_errors;	/* UDP flows labelled (ctlabel.h) */
};

static long json_num(const char *s, const char *key)
{
	const char *p = s ? strstr(s, key) : NULL;

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static struct progq progq(void)
{
	char *out = NULL, *q = NULL;
	struct progq r;
	int st;

	/* The entry sums the program queues, one per CPU (vloop.c): it says
	 * bound once every worker has bound its queue, which can come after
	 * the first one's "bound queue 16" in the log. Waited for, bounded. */
	for (int i = 0; i < 100 && !q; i++) {
		if (i)
			nn_msleep(100);
		free(out);
		out = NULL;
		st = tu_sh(&out, "%s -S %s status --json", FWCTL, nn_path(&E, "fwd.sock"));
		ck_assert_msg(st == 0, "status --json: exit %d\n%s", st, out);
		q = strstr(out, nn_keepf("{\"queue\":%u,\"bound\":true,", FWD_PROG_QUEUE));
	}
	ck_assert_msg(q, "no bound program queue in status after 10 s:\n%s", out);
	r = (struct progq){
		.queued = json_num(q, "\"queued\":"),
		.verdicts = json_num(q, "\"verdicts\":"),
		.errors = json_num(q, "\"verdict_errors\":"),
		.accepted = json_num(q, "\"accepted\":"),
		.unknown = json_num(q, "\"unknown_owner\":"),
		.denied = json_num(q, "\"not_allowed\":"),
		.labelled = json_num(q, "\"labelled\":"),
		.label_errors = json_num(q, "\"label_errors\":"),
	};
	free(out);
	return r;
}

/* The packets the output chain's rule on set `set` that ends in `verdict`
 * ("queue": the program queue rule; "accept": the label accept before it)
 * counted (nft): in the family chain of the set's family (policy/ir.h),
 * out4 or out6. */
static long rule_packets_to(const char *set, const char *verdict)
{
	char *chain = nn_keep(nn_sh_ok("ip netns exec %s nft list chain inet "
				       "fwd_filter out%c", E.ns[SRV],
				       set[strlen(set) - 1]));
	char *key = nn_keepf("@%s counter packets ", set);

	for (char *l = chain; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		char *p = strstr(l, key), *end = strchr(l, '\n');
		long n;
		char *rest;

		if (!p || (end && p > end))
			continue;
		n = strtol(p + strlen(key), &rest, 10);
		rest = strstr(rest, " bytes ");
		if (!rest || !(rest = strchr(rest + 7, ' ')))
			continue;
		rest++;
		/* nft prints the xt queue target oddly (libxtables' warning
		 * inside the line): a queue rule is the one that neither
		 * accepts nor drops. */
		if (strcmp(verdict, "queue") == 0 ?
		    strncmp(rest, "accept", 6) != 0 && strncmp(rest, "drop", 4) != 0 :
		    strncmp(rest, verdict, strlen(verdict)) == 0)
			return n;
	}
	ck_abort_msg("no %s rule on @%s:\n%s", verdict, set, chain);
	return -1;
}

static long rule_packets(const char *set)
{
	return rule_packets_to(set, "queue");
}

static void copy_exe(const char *from, const char *to)
{
	/* A new file renamed over the name, as dpkg installs an upgrade: a
	 * new inode (cp over a file would keep its inode, and unlink + cp
	 * may be given the freed inode number again). */
	free(nn_sh_ok("cp %s %s.new && chmod 755 %s.new && mv -f %s.new %s",
		      from, to, to, to, to));
}

static unsigned long long inode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (unsigned long long)st.st_ino;
}

/*
 * program =, decided in the verdict loop: with outbound = deny and the
 * rule naming a copy of nettool in the scratch dir, that copy connects
 * out (IPv4, IPv6), nettool itself (another inode) does not, nor does the
 * copy on a port the service does not name. Exactly one packet per flow
 * reaches the queue (fwctl status and the queue rules' kernel counters):
 * after the accepted SYN the flow is established and the established
 * rule takes the rest (the handshake's ACK, the echo, the FIN). The copy
 * replaced on disk (a new inode) loses the rule until a reload resolves
 * the path again. Killed fwd: program flows are dropped (nobody on the
 * queue), the user rule of the same service still lets its user out.
 */
START_TEST(test_program_rules)
{
	const char *user = tu_user();
	char *copy, *lines;
	struct progq q;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux"))
		return;
	ck_assert_msg(user, "cannot create the test user");
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy, policy_fmt, PORT_OK, "program",
		   nn_keepf("%s\nuser = %s", copy, user));
	good_listeners();
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	ck_assert_msg(strstr(nn_keep(nn_sh_ok("ip netns exec %s nft list set inet "
					      "fwd_filter out_prog4", E.ns[SRV])),
			     nn_keepf("%s . tcp . %u", GOOD4, PORT_OK)),
		      "out_prog4 lacks the service");
	{
		char *out = NULL;
		int st = tu_sh(&out, "%s -S %s show", FWCTL, nn_path(&E, "fwd.sock"));

		ck_assert_msg(st == 0 && strstr(out, nn_keepf(" for program %s, user %s  (",
							      copy, user)),
			      "show does not name the program:\n%s", out);
		free(out);
		st = tu_sh(&out, "%s -S %s show --json", FWCTL, nn_path(&E, "fwd.sock"));
		ck_assert_msg(st == 0 && strstr(out, nn_keepf("\"users\":[\"%s\"],\"units\":[],"
							      "\"programs\":[\"%s\"]",
							      user, copy)),
			      "show --json does not name the program:\n%s", out);
		free(out);
	}

	{
		/* The live table read back names the queue rules too. */
		char *out = NULL;
		int st = tu_sh(&out, "%s -S %s show --nft", FWCTL, nn_path(&E, "fwd.sock"));

		ck_assert_msg(st == 0 && strstr(out, "ct state new ip daddr . meta l4proto . "
						"th dport @out_prog4 counter packets 0 "
						"bytes 0 queue num 16"),
			      "show --nft lacks the program queue rule:\n%.2000s", out);
		free(out);
	}
	/* explain --program: the copy's flow is the queue rule's accept,
	 * with the program = line; nettool's, and the copy's to another
	 * port, end in the final drop. */
	expect_explain(GOOD4, PORT_OK, nn_keepf("--program %s", copy),
		       nn_keepf("by program %s: accept\n  decided by: rule", copy));
	expect_explain(GOOD4, PORT_OK, nn_keepf("--program %s", copy),
		       nn_keepf("set out_prog4, element %s . tcp . %u\n  from:       "
				"%s:12\n", GOOD4, PORT_OK, T.policy));
	expect_explain(GOOD6, PORT_OK, nn_keepf("--program %s", copy), ": accept\n");
	expect_explain(GOOD4, PORT_OK, nn_keepf("--program %s", NETTOOL), ": drop\n");
	expect_explain(GOOD4, PORT_NO, nn_keepf("--program %s", copy), ": drop\n");
	expect_bin(copy, GOOD4, PORT_OK, OK);
	expect_bin(copy, GOOD6, PORT_OK, OK);
	q = progq();
	ck_assert_msg(q.queued == 2 && q.verdicts == 2 && q.accepted == 2 &&
		      q.errors == 0, "two flows: queued %ld, verdicts %ld, accepted %ld, "
		      "errors %ld", q.queued, q.verdicts, q.accepted, q.errors);
	ck_assert_int_eq(rule_packets("out_prog4"), 1);
	ck_assert_int_eq(rule_packets("out_prog6"), 1);

	/* Another binary to the same destination: queued, not allowed. */
	expect_bin(NETTOOL, GOOD4, PORT_OK, DROP);
	expect_bin(NETTOOL, GOOD6, PORT_OK, DROP);
	q = progq();
	/* (A SYN retransmitted as the client gives up finds no socket:
	 * unknown_owner, also dropped.) */
	ck_assert_msg(q.accepted == 2 && q.denied >= 2 && q.verdicts == q.queued,
		      "other binary: accepted %ld, not allowed %ld, unknown %ld, "
		      "queued %ld, verdicts %ld", q.accepted, q.denied, q.unknown,
		      q.queued, q.verdicts);
	/* A port the service does not name: the kernel drops, nothing queued. */
	{
		long before = q.queued;

		expect_bin(copy, GOOD4, PORT_NO, DROP);
		ck_assert_int_eq(progq().queued, before);
	}

	/* Replaced on disk: the same bytes, a new inode; no rule until a
	 * reload resolves the path again. */
	{
		unsigned long long old = inode_of(copy);
		char *out = NULL;

		copy_exe(NETTOOL, copy);
		ck_assert_msg(inode_of(copy) != old, "cp gave the same inode");
		expect_bin(copy, GOOD4, PORT_OK, DROP);
		ck_assert_int_eq(tu_sh(&out, "%s -S %s reload", FWCTL,
				       nn_path(&E, "fwd.sock")), 0);
		free(out);
		expect_bin(copy, GOOD4, PORT_OK, OK);
	}

	/* Each drop the loop logged names the binary that was refused: the
	 * other one (nettool's inode), or the replaced copy's new inode. */
	lines = slurp_or_empty(T.fwdlog);
	ck_assert_msg(strstr(lines, nn_keepf("reason=not_allowed proto=6 src=%s:", SRV4_G)) &&
		      strstr(lines, nn_keepf("exe_ino=%llu ", inode_of(NETTOOL))) &&
		      strstr(lines, nn_keepf("exe_ino=%llu ", inode_of(copy))),
		      "drops not logged with their owner:\n%s", lines);

	nn_kill(&E, T.fwd);	/* fail-closed: nobody on the queue */
	expect_bin(copy, GOOD4, PORT_OK, DROP);
	expect_bin(copy, GOOD6, PORT_OK, DROP);
	expect_conn(user, NULL, GOOD4, PORT_OK, OK);
	expect_conn(user, NULL, GOOD6, PORT_OK, OK);
	topo_down();
}
END_TEST

/* The last packet id queue `num` handed out (the id sequence column of
 * /proc/net/netfilter/nfnetlink_queue in srv), -1 when nobody binds it. */
static long queue_ids(unsigned num)
{
	char *t = nn_keep(nn_sh_ok("ip netns exec %s cat /proc/net/netfilter/"
				   "nfnetlink_queue", E.ns[SRV]));
	unsigned q, portid, total, mode, range, seq, one;
	long qd, ud;

	for (char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (sscanf(l, "%u %u %u %u %u %ld %ld %u %u", &q, &portid, &total,
			   &mode, &range, &qd, &ud, &seq, &one) == 9 && q == num)
			return (long)seq;
	return -1;
}

/*
 * The program queues by CPU: fwd binds one queue per CPU (16 .. 16 + N -
 * 1, N the machine's CPUs, at most 16), the rule picks by the CPU that
 * queues (`fanout`), and a client kept to CPU c has its SYN decided on
 * queue 16 + c % N, and on no other: the decision runs where the SYN was
 * queued (bench/outbound.sh measured why). Every flow still gets through,
 * status sums the queues into one program entry, and the identity check
 * is the same (nettool itself pinned to a CPU is refused there).
 */
START_TEST(test_program_fanout)
{
	long ncpu = sysconf(_SC_NPROCESSORS_CONF);
	unsigned total = ncpu > 16 ? 16 : (unsigned)ncpu;
	const char *user = tu_user();
	char *copy, *out = NULL;
	struct progq q;
	int st;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux") ||
	    !tu_need_prog("taskset", "util-linux"))
		return;
	ck_assert_msg(user, "cannot create the test user");
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy, policy_fmt, PORT_OK, "program", copy);
	good_listeners();
	fwd_start();
	for (unsigned k = 0; k < total; k++)
		ck_assert_msg(wait_for(T.fwdlog, tu_asprintf("bound queue %u\n",
							   FWD_PROG_QUEUE + k), 1, 5),
			      "program queue %u not bound:\n%s", FWD_PROG_QUEUE + k,
			      slurp_or_empty(T.fwdlog));
	st = tu_sh(&out, "%s -S %s show --nft", FWCTL, nn_path(&E, "fwd.sock"));
	ck_assert_msg(st == 0 && strstr(out, total > 1 ?
			tu_asprintf("@out_prog4 counter packets 0 bytes 0 queue num "
				  "%u-%u fanout", FWD_PROG_QUEUE,
				  FWD_PROG_QUEUE + total - 1) :
			tu_asprintf("@out_prog4 counter packets 0 bytes 0 queue num %u #",
				  FWD_PROG_QUEUE)),
		      "the program queue rule is not by CPU over %u queues:\n%.2500s",
		      total, out);
	free(out);
	for (unsigned c = 0; c < (unsigned)ncpu; c++) {
		unsigned want = FWD_PROG_QUEUE + c % total;
		long before[16], after;

		for (unsigned k = 0; k < total; k++)
			before[k] = queue_ids(FWD_PROG_QUEUE + k);
		for (int i = 0; i < 2; i++) {
			const char *bin = i ? NETTOOL : copy;

			st = tu_sh(&out, "ip netns exec %s taskset -c %u %s connect tcp "
				   "%s %u --timeout %s", E.ns[SRV], c, bin, GOOD4,
				   PORT_OK, i ? "1" : "3");
			ck_assert_msg(st == (i ? DROP : OK), "%s on CPU %u: exit %d\n%s",
				      bin, c, st, out);
			free(out);
		}
		for (unsigned k = 0; k < total; k++) {
			after = queue_ids(FWD_PROG_QUEUE + k);
			/* The copy's SYN and nettool's (perhaps retransmitted
			 * once before it gives up: from a timer, any CPU). */
			if (FWD_PROG_QUEUE + k == want)
				ck_assert_msg(after - before[k] >= 2,
					      "CPU %u: queue %u took %ld packets, "
					      "wanted the 2 SYNs", c, want,
					      after - before[k]);
			else if (total > 1)
				ck_assert_msg(after - before[k] <= 1,
					      "CPU %u: queue %u (not %u) took %ld packets",
					      c, FWD_PROG_QUEUE + k, want, after - before[k]);
		}
	}
	q = progq();
	ck_assert_msg(q.accepted == ncpu && q.denied >= ncpu && q.errors == 0 &&
		      q.verdicts == q.queued,
		      "status over the queues: accepted %ld (wanted %ld), not allowed "
		      "%ld, queued %ld, verdicts %ld, errors %ld", q.accepted, ncpu,
		      q.denied, q.queued, q.verdicts, q.errors);
	ck_assert_int_eq(rule_packets("out_prog4"), q.queued);
	topo_down();
}
END_TEST

/*
 * A short-lived client: it sends its SYN and exits at once (nettool's
 * connect with a 1 ms timeout), so the socket may be gone before the loop
 * looks for it. Each such flow is attributed (accepted: the loop found
 * the socket, its process and the copy's inode) or dropped as
 * unknown_owner (logged as a drop), never let through unknown: every
 * queued packet is one of the two, none is "not allowed".
 */
START_TEST(test_program_short_lived)
{
	char *copy, *lines;
	struct progq q;
	const int runs = 20;

	if (!tu_need_root())
		return;
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy, policy_fmt, PORT_OK, "program", copy);
	good_listeners();
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	for (int i = 0; i < runs; i++)
		connect_bin(copy, i % 2 ? GOOD6 : GOOD4, PORT_OK, "0.001");
	/* The last decisions may still be on their way (bounded: 30 s). */
	for (double end = nn_now() + 30;;) {
		q = progq();
		if (q.verdicts >= runs || nn_now() >= end)
			break;
		usleep(100000);
	}
	ck_assert_msg(q.queued == runs && q.verdicts == runs && q.denied == 0 &&
		      q.accepted + q.unknown == runs,
		      "%d short-lived flows: queued %ld, verdicts %ld, accepted %ld, "
		      "unknown %ld, not allowed %ld", runs, q.queued, q.verdicts,
		      q.accepted, q.unknown, q.denied);
	fprintf(stderr, "short-lived: %ld of %d attributed, %ld unknown\n",
		q.accepted, runs, q.unknown);
	lines = slurp_or_empty(T.fwdlog);
	for (char *l = strstr(lines, "reason=unknown_owner"); l;
	     l = strstr(l + 1, "reason=unknown_owner"))
		ck_assert_msg(strncmp(l - strlen("program drop: "), "program drop: ",
				      strlen("program drop: ")) == 0,
			      "unknown owner not dropped:\n%s", lines);
	topo_down();
}
END_TEST

/* `BIN udp DST PORT` from srv (a connected socket, or sendto() on an
 * unconnected one): its exit status. */
static int udp_bin(const char *bin, const char *dst, unsigned port,
		   bool unconnected, const char *secs)
{
	char *out = NULL;
	int st = tu_sh(&out, "ip netns exec %s %s udp %s %u --timeout %s%s",
		       E.ns[SRV], bin, dst, port, secs,
		       unconnected ? " --unconnected" : "");

	free(out);
	return st;
}

/*
 * program = over UDP, IPv4 and IPv6, from a connected socket and from an
 * unconnected one (sendto): the allowed copy's datagram is let out and
 * its echo comes back, nettool's (another inode) is dropped, and the loop
 * found its owner (not_allowed, with nettool's inode, never
 * unknown_owner): sock_diag answers for UDP sockets too, also for one
 * with no remote end.
 */
START_TEST(test_program_udp)
{
	char *copy, *lines, *log;
	struct progq q;
	const bool unconn[] = { false, true };

	if (!tu_need_root())
		return;
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy,
		   "[defaults]\noutbound = deny\n\n"
		   "[service dns-out]\ndirection = out\nports = %u/udp\n"
		   "allow = " GOOD4 ", " GOOD6 "\nprogram = %s\n", PORT_OK, copy);
	log = nn_keepf("%s/good-udp.log", E.dir);
	{
		char port[8];
		const char *argv[] = { NETTOOL, "listen", "udp", "::", port,
				       "--timeout", "300", NULL };

		snprintf(port, sizeof(port), "%u", PORT_OK);
		nn_spawn(&E, GOOD, log, argv, NULL);
		ck_assert_msg(wait_for(log, "ready\n", 1, 5), "udp listener:\n%s",
			      slurp_or_empty(log));
	}
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	for (int u = 0; u < 2; u++) {
		for (int v6 = 0; v6 < 2; v6++) {
			const char *dst = v6 ? GOOD6 : GOOD4;
			int st = udp_bin(copy, dst, PORT_OK, unconn[u], "3");

			ck_assert_msg(st == OK, "udp %s%s by the allowed program: exit "
				      "%d\nfwd log:\n%.2000s", dst, unconn[u] ?
				      " (unconnected)" : "", st, slurp_or_empty(T.fwdlog));
			st = udp_bin(NETTOOL, dst, PORT_OK, unconn[u], "1");
			ck_assert_msg(st == DROP, "udp %s%s by another program: exit %d",
				      dst, unconn[u] ? " (unconnected)" : "", st);
		}
	}
	q = progq();
	ck_assert_msg(q.accepted >= 4 && q.denied >= 4 && q.unknown == 0 &&
		      q.errors == 0 && q.verdicts == q.queued,
		      "udp: accepted %ld, not allowed %ld, unknown %ld, queued %ld, "
		      "verdicts %ld\nfwd log:\n%.2000s", q.accepted, q.denied, q.unknown,
		      q.queued, q.verdicts, slurp_or_empty(T.fwdlog));
	lines = nn_keep(slurp_or_empty(T.fwdlog));
	ck_assert_msg(strstr(lines, nn_keepf("reason=not_allowed proto=17 src=%s:", SRV4_G)) &&
		      strstr(lines, "reason=not_allowed proto=17 src=[") &&
		      strstr(lines, nn_keepf("exe_ino=%llu ", inode_of(NETTOOL))),
		      "udp drops not attributed to nettool:\n%s", lines);
	topo_down();
}
END_TEST

/* A UDP sink in good on ADDR:PORT_OK: counts, never answers; exits
 * after `count` datagrams (0: on SIGTERM), saying "count N total M". */
static pid_t udp_sink(const char *addr, long count, const char *log)
{
	char port[8], cnt[24];
	const char *argv[] = { NETTOOL, "sink", "udp", addr, port, "--timeout", "100",
			       "--count", cnt, NULL };
	pid_t pid;

	snprintf(port, sizeof(port), "%u", PORT_OK);
	snprintf(cnt, sizeof(cnt), "%ld", count);
	pid = nn_spawn(&E, GOOD, log, argv, NULL);
	ck_assert_msg(wait_for(log, "ready\n", 1, 5), "udp sink:\n%s",
		      slurp_or_empty(log));
	return pid;
}

/* `BIN send udp DST PORT_OK --count N --rate R [--wait-file F]` from srv,
 * spawned: its pid (its log says "sent N errors E" at the end). */
static pid_t udp_send(const char *bin, const char *dst, long n, const char *rate,
		      const char *wait_file, const char *log)
{
	char port[8], count[24];
	const char *argv[] = { bin, "send", "udp", dst, port, "--count", count,
			       "--rate", rate, "--timeout", "30",
			       wait_file ? "--wait-file" : NULL, wait_file, NULL };

	snprintf(port, sizeof(port), "%u", PORT_OK);
	snprintf(count, sizeof(count), "%ld", n);
	return nn_spawn(&E, SRV, log, argv, NULL);
}

/* Wait for a spawned process to end by itself: its exit status. */
static int wait_exit(pid_t pid, double secs)
{
	double end = nn_now() + secs;
	int st;

	do {
		if (waitpid(pid, &st, WNOHANG) == pid) {
			nn_forget(&E, pid);
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		nn_msleep(10);
	} while (nn_now() < end);
	ck_abort_msg("process %d still runs after %.0f s", (int)pid, secs);
	return -1;
}

/* The loop's status once it decided everything queued so far and made
 * `decided` decisions in all (accepted + unknown + not allowed), within
 * 10 s: the last datagrams of a sender may still wait in the queue when
 * it exits. */
static struct progq progq_settled(long decided)
{
	double end = nn_now() + 10;
	struct progq q;

	do {
		q = progq();
		if (q.verdicts == q.queued && q.accepted + q.unknown + q.denied >= decided)
			break;
		nn_msleep(20);
	} while (nn_now() < end);
	return q;
}

/*
 * issue 12: only the first packet of an outbound program flow reaches the
 * loop, also over UDP. A UDP flow stays `new` until the peer answers, so
 * the loop labels the flow's conntrack entry after its accept (ctlabel.h)
 * and the label accept in front of the program rules lets the rest out in
 * the kernel. The allowed program (a copy of nettool) sends DATAGRAMS
 * datagrams on one flow to a sink that never answers, IPv4 then IPv6: the
 * first alone; once fwctl status says its flow is labelled, the rest, at
 * 4x program_limit (without the label the meter would drop what is over
 * it, and every datagram would be queued). Exact counts: the queue got one
 * packet of the flow (status and the queue rule's counter), the label
 * rule the other DATAGRAMS - 1, the sink all of them. While that flow is
 * labelled, nettool itself (another inode, its own flow to the same
 * destination) is decided datagram by datagram and refused: nothing of it
 * is accepted or labelled, the label rule counts none of it.
 * Killed fwd: a new flow of the allowed program is dropped (fail closed):
 * its datagrams hit the queue rule, nobody listens, none arrives.
 */
#define DATAGRAMS 2000L

START_TEST(test_program_udp_flow)
{
	char *copy;

	if (!tu_need_root())
		return;
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy,
		   "[defaults]\noutbound = deny\nprogram_limit = 250/1s\n\n"
		   "[service stats-out]\ndirection = out\nports = %u/udp\n"
		   "allow = " GOOD4 ", " GOOD6 "\nprogram = %s\n", PORT_OK, copy);
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	for (int v6 = 0; v6 < 2; v6++) {
		const char *dst = v6 ? GOOD6 : GOOD4;
		const char *set = v6 ? "out_prog6" : "out_prog4";
		char *slog = nn_path(&E, nn_keepf("sink%d.log", v6));
		char *flag = nn_path(&E, nn_keepf("go%d", v6));
		char *clog = nn_path(&E, nn_keepf("client%d.log", v6));
		char *dlog = nn_path(&E, nn_keepf("denied%d.log", v6));
		pid_t sink = udp_sink(dst, DATAGRAMS, slog), client, other;
		struct progq q0 = progq(), q1, q2;
		long lab0 = rule_packets_to(set, "accept"), que0 = rule_packets(set);
		double until = nn_now() + 10;

		client = udp_send(copy, dst, DATAGRAMS, "1000", flag, clog);
		do {
			q1 = progq();
			if (q1.labelled > q0.labelled || q1.label_errors > q0.label_errors)
				break;
			nn_msleep(20);
		} while (nn_now() < until);
		ck_assert_msg(q1.labelled == q0.labelled + 1 &&
			      q1.label_errors == q0.label_errors &&
			      q1.queued == q0.queued + 1 && q1.accepted == q0.accepted + 1,
			      "%s: the first datagram: labelled %ld -> %ld (errors %ld -> %ld), "
			      "queued %ld -> %ld, accepted %ld -> %ld\nfwd log:\n%.1500s",
			      dst, q0.labelled, q1.labelled, q0.label_errors, q1.label_errors,
			      q0.queued, q1.queued, q0.accepted, q1.accepted,
			      slurp_or_empty(T.fwdlog));

		/* Another program's flow to the same destination, while the
		 * first one is labelled: refused datagram by datagram (the
		 * last ones may find their socket gone: unknown owner). */
		other = udp_send(NETTOOL, dst, 20, "100", NULL, dlog);
		ck_assert_int_eq(wait_exit(other, 10), 0);
		ck_assert_msg(wait_for(dlog, "sent 20 ", 1, 5), "other sender:\n%s",
			      slurp_or_empty(dlog));
		q2 = progq_settled(q1.accepted + q1.unknown + q1.denied + 20);
		ck_assert_msg(q2.denied + q2.unknown - q1.denied - q1.unknown == 20 &&
			      q2.denied > q1.denied && q2.accepted == q1.accepted &&
			      q2.labelled == q1.labelled,
			      "%s: another program: not allowed %ld -> %ld, unknown %ld -> "
			      "%ld, accepted %ld -> %ld, labelled %ld -> %ld", dst, q1.denied,
			      q2.denied, q1.unknown, q2.unknown, q1.accepted, q2.accepted,
			      q1.labelled, q2.labelled);
		ck_assert_int_eq(rule_packets_to(set, "accept"), lab0);
		/* The queue rule: the first flow's first datagram, the other's
		 * 20. */
		ck_assert_int_eq(rule_packets(set), que0 + 1 + 20);

		/* The rest of the first flow. */
		free(nn_sh_ok("touch %s", flag));
		ck_assert_int_eq(wait_exit(client, 20), 0);
		ck_assert_msg(wait_for(clog, nn_keepf("sent %ld errors 0", DATAGRAMS), 1, 5),
			      "%s: the client:\n%s", dst, slurp_or_empty(clog));
		ck_assert_msg(wait_for(slog, nn_keepf("count %ld ", DATAGRAMS), 1, 10),
			      "%s: the sink did not get all %ld datagrams:\n%s\nlabel rule "
			      "%ld, queue rule %ld", dst, DATAGRAMS, slurp_or_empty(slog),
			      rule_packets_to(set, "accept") - lab0, rule_packets(set) - que0);
		ck_assert_int_eq(wait_exit(sink, 5), 0);
		q1 = progq();
		ck_assert_msg(q1.queued == q2.queued && q1.accepted == q2.accepted &&
			      q1.labelled == q2.labelled,
			      "%s: datagrams after the first reached the loop: queued %ld -> "
			      "%ld, accepted %ld -> %ld, labelled %ld -> %ld", dst, q2.queued,
			      q1.queued, q2.accepted, q1.accepted, q2.labelled, q1.labelled);
		ck_assert_int_eq(rule_packets(set), que0 + 1 + 20);
		ck_assert_int_eq(rule_packets_to(set, "accept"), lab0 + DATAGRAMS - 1);
	}

	nn_kill(&E, T.fwd);	/* fail closed: nobody on the queue */
	{
		char *slog = nn_path(&E, "sink-after.log");
		char *clog = nn_path(&E, "after-kill.log");
		pid_t sink = udp_sink(GOOD4, 0, slog);
		long que0 = rule_packets("out_prog4"), lab0 = rule_packets_to("out_prog4",
									      "accept");

		ck_assert_int_eq(wait_exit(udp_send(copy, GOOD4, 5, "50", NULL, clog), 10), 0);
		ck_assert_int_eq(rule_packets("out_prog4"), que0 + 5);
		ck_assert_int_eq(rule_packets_to("out_prog4", "accept"), lab0);
		ck_assert_int_eq(nn_stop(&E, sink, 5), 0);
		ck_assert_int_eq(nn_num_after(slog, "total "), 0);
	}
	topo_down();
}
END_TEST

/* `BIN connect tcp DST PORT` from srv as user `who` (setpriv): its exit
 * status. */
static int connect_bin_as(const char *who, const char *bin, const char *dst,
			  unsigned port, const char *secs)
{
	char *out = NULL;
	int st = tu_sh(&out, "ip netns exec %s setpriv --reuid=%s --regid=%s "
		       "--clear-groups %s connect tcp %s %u --timeout %s", E.ns[SRV],
		       who, who, bin, dst, port, secs);

	free(out);
	return st;
}

/* Packets the program queues (FWD_PROG_QUEUE .., one per CPU) dropped
 * for want of room or a listener (the kernel's queue_dropped +
 * user_dropped, /proc/net/netfilter/nfnetlink_queue in srv), -1 if there
 * is no such queue. */
static long queue_full_drops(unsigned num)
{
	long sum = -1;

	char *t = nn_keep(nn_sh_ok("ip netns exec %s cat /proc/net/netfilter/"
				   "nfnetlink_queue", E.ns[SRV]));
	unsigned q, portid, total, mode, range, seq, one;
	long qd, ud;

	for (char *l = t; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (sscanf(l, "%u %u %u %u %u %ld %ld %u %u", &q, &portid, &total,
			   &mode, &range, &qd, &ud, &seq, &one) == 9 &&
		    q >= num && q < num + FWD_PROG_QUEUES_MAX)
			sum = (sum < 0 ? 0 : sum) + qd + ud;
	return sum;
}

/* The packets the output chain's prog_meter rule dropped (nft). */
static long meter_drops(void)
{
	char *chain = nn_keep(nn_sh_ok("ip netns exec %s nft list table inet "
				       "fwd_filter", E.ns[SRV]));
	const char *p = strstr(chain, "update @prog_meter {");

	ck_assert_msg(p, "no prog_meter rule:\n%s", chain);
	p = strstr(p, "} counter packets ");
	ck_assert_msg(p, "the prog_meter rule has no counter:\n%s", chain);
	return strtol(p + strlen("} counter packets "), NULL, 10);
}

/*
 * The program queue's per-owner meter: root floods new UDP flows to the
 * program service's destination (raw datagrams, a new source port each:
 * every one a new flow for the queue, from a socket the loop cannot
 * attribute) while the test user's allowed program connects, five times
 * in a row. Without the meter the flood fills queue 16 (the loop decides
 * far fewer packets a second than a raw socket sends) and the user's SYNs
 * find it full; with it, root's flows beyond program_limit are dropped in
 * the kernel (the meter rule's counter) and the user's connections go
 * through. The rule reads back with the policy's rate.
 */
START_TEST(test_program_meter)
{
	const char *user = tu_user();
	char *copy, *chain, *flog;
	pid_t flood;
	long drops, full;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux"))
		return;
	ck_assert_msg(user, "cannot create the test user");
	topo_up();
	/* The user runs the copy from the scratch dir. */
	ck_assert_int_eq(chmod(E.dir, 0711), 0);
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy,
		   "[defaults]\noutbound = deny\nprogram_limit = 200/1s\n\n"
		   "[service web-out]\ndirection = out\nports = %u/tcp, %u/udp\n"
		   "allow = " GOOD4 ", " GOOD6 "\nprogram = %s\n", PORT_OK, PORT_OK,
		   copy);
	good_listeners();
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	chain = nn_keep(nn_sh_ok("ip netns exec %s nft list table inet fwd_filter",
				 E.ns[SRV]));
	ck_assert_msg(strstr(chain, "ct state new ip daddr . meta l4proto . th dport "
			     "@out_prog4 update @prog_meter { meta skuid limit rate "
			     "over 200/second burst 200 packets } counter packets 0 "
			     "bytes 0 drop"), "no meter in front of queue 16:\n%s", chain);
	ck_assert_int_eq(connect_bin_as(user, copy, GOOD4, PORT_OK, "3"), OK);

	flog = nn_path(&E, "flood.log");
	{
		char port[8];
		const char *argv[] = { NETTOOL, "flood", "udp", GOOD4, port,
				       "--timeout", "20", NULL };

		snprintf(port, sizeof(port), "%u", PORT_OK);
		flood = nn_spawn(&E, SRV, flog, argv, NULL);
	}
	/* The flood under way before the user connects: the meter has
	 * dropped more than 1000 of its packets (without the meter, the
	 * queue would be full). Waited for, bounded, rather than a second
	 * of flood that a loaded machine may not have sent yet. */
	for (double end = nn_now() + 15; meter_drops() <= 1000 && nn_alive(flood) &&
	     nn_now() < end; )
		usleep(100000);
	ck_assert_msg(meter_drops() > 1000, "the meter dropped only %ld packets of the "
		      "flood in 15 s:\n%s", meter_drops(), slurp_or_empty(flog));
	for (int i = 0; i < 5; i++) {
		int st = connect_bin_as(user, copy, GOOD4, PORT_OK, "3");

		ck_assert_msg(st == OK, "connect %d of the allowed program during "
			      "root's flood: exit %d\nqueues:\n%s\nfwd log:\n%.1500s", i, st,
			      nn_sh_ok("ip netns exec %s cat /proc/net/netfilter/"
				       "nfnetlink_queue", E.ns[SRV]),
			      slurp_or_empty(T.fwdlog));
	}
	ck_assert_msg(nn_alive(flood), "the flood ended early:\n%s", slurp_or_empty(flog));
	drops = meter_drops();
	full = queue_full_drops(FWD_PROG_QUEUE);
	nn_kill(&E, flood);
	fprintf(stderr, "program meter: %ld flood packets dropped by the meter, "
		"%ld by a full queue 16\n", drops, full);
	ck_assert_msg(drops > 1000, "the meter dropped only %ld packets", drops);
	/* Never full: no flow (the user's SYNs neither) was lost to it. */
	ck_assert_msg(full == 0, "queue 16 overflowed %ld times during the flood",
		      full);
	topo_down();
}
END_TEST

/* The output chain's lines that name the program queue or its meter. */
static char *prog_rule_lines(void)
{
	return nn_keep(nn_sh_ok("ip netns exec %s nft list table inet fwd_filter "
				"| grep -E 'prog_meter|queue' | sed -E "
				"'s/counter packets [0-9]+ bytes [0-9]+/counter/'",
				E.ns[SRV]));
}

/*
 * The last good policy keeps the program queue: fwd restarted on broken
 * files applies it from the state directory with the same queue rules
 * and meter (program_limit's rate read back), binds queue 16 again, and
 * decides by the same program rules (they travel with the compiled
 * policy): the copy connects over IPv4 and IPv6, nettool is refused as
 * not allowed (its owner found, the rule known), not as an unknown one.
 */
START_TEST(test_last_good_program)
{
	char *copy, *before, *after;
	struct progq q;

	if (!tu_need_root())
		return;
	topo_up();
	copy = nn_path(&E, "prog-client");
	copy_exe(NETTOOL, copy);
	write_file(T.policy,
		   "[defaults]\noutbound = deny\nprogram_limit = 300/1s\n\n"
		   "[service web-out]\ndirection = out\nports = %u/tcp\n"
		   "allow = " GOOD4 ", " GOOD6 "\nprogram = %s\n", PORT_OK, copy);
	good_listeners();
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 1, 5),
		      "program queue not bound:\n%s", slurp_or_empty(T.fwdlog));
	before = prog_rule_lines();
	ck_assert_msg(strstr(before, "limit rate over 300/second burst 300 packets"),
		      "no meter at program_limit's rate:\n%s", before);
	ck_assert_int_eq(nn_stop(&E, T.fwd, 10), 0);
	write_file(T.policy, "[service broken\n");
	free(nn_sh_ok("ip netns exec %s nft delete table inet fwd_filter", E.ns[SRV]));
	fwd_start();
	ck_assert_msg(wait_for(T.fwdlog, "degraded: applied the last good policy", 1, 5),
		      "not the last good policy:\n%s", slurp_or_empty(T.fwdlog));
	after = prog_rule_lines();
	ck_assert_msg(strcmp(before, after) == 0, "the program queue's rules changed:\n"
		      "before:\n%s\nafter:\n%s", before, after);
	ck_assert_msg(wait_for(T.fwdlog, nn_keepf("bound queue %u", FWD_PROG_QUEUE), 2, 5),
		      "the last good policy's program queue is not bound:\n%s",
		      slurp_or_empty(T.fwdlog));
	expect_bin(copy, GOOD4, PORT_OK, OK);
	expect_bin(copy, GOOD6, PORT_OK, OK);
	expect_bin(NETTOOL, GOOD4, PORT_OK, DROP);
	q = progq();
	ck_assert_msg(q.accepted == 2 && q.denied >= 1 && q.verdicts == q.queued,
		      "last good: accepted %ld, not allowed %ld, unknown %ld, queued %ld",
		      q.accepted, q.denied, q.unknown, q.queued);
	topo_down();
}
END_TEST

/* A cgroup2 mount of our own in a private mount namespace (see above). */
static void cgroup2_up(void)
{
	struct stat st;
	char *slice;

	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	ck_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	snprintf(T.cgroot, sizeof(T.cgroot), "%s/cg", E.dir);
	ck_assert(mkdir(T.cgroot, 0700) == 0);
	if (mount("none", T.cgroot, "cgroup2", 0, NULL) != 0) {
		int e = errno;

		T.cgroot[0] = '\0';
		ck_abort_msg("cannot mount cgroup2: %s", strerror(e));
	}
	slice = nn_keepf("%s/system.slice", T.cgroot);
	if (stat(slice, &st) != 0) {
		ck_assert_msg(mkdir(slice, 0755) == 0, "mkdir %s: %s", slice,
			      strerror(errno));
		T.made_slice = true;
		write_file(slice_marker(getppid()), "%s\n", slice);
	}
}

/*
 * unit =: fwd starts before the unit (no cgroup: nothing matches, the
 * set is empty); the unit's cgroup appears and fwd adds its element by
 * itself (no reload: the inotify watch and the commit path); a process in
 * the cgroup connects out over IPv4 and IPv6, one outside does not; the
 * unit stops (cgroup removed) and its element goes.
 */
START_TEST(test_unit_rules)
{
	char *unit, *set;
	struct stat st;

	if (!tu_need_root())
		return;
	topo_up();
	cgroup2_up();
	/* Named after the runner (the test's parent): its sweep finds it. */
	unit = nn_keepf("fwdt%d-web.service", (int)getppid());
	write_file(T.policy, policy_fmt, PORT_OK, "unit", unit);
	good_listeners();
	fwd_start();

	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_unit4",
		       E.ns[SRV]));
	ck_assert_msg(!strstr(set, "elements"), "a unit not running has elements:\n%s",
		      set);
	expect_conn(NULL, NULL, GOOD4, PORT_OK, DROP);

	snprintf(T.unitcg, sizeof(T.unitcg), "%s/system.slice/%s", T.cgroot, unit);
	ck_assert(mkdir(T.unitcg, 0755) == 0);
	ck_assert(stat(T.unitcg, &st) == 0);
	ck_assert_msg(wait_for(T.fwdlog, "unit cgroups changed: 2 elements added", 1, 10),
		      "fwd did not follow the new cgroup:\n%s", slurp_or_empty(T.fwdlog));
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_unit4",
		       E.ns[SRV]));
	ck_assert_msg(strstr(set, nn_keepf("%s . tcp . %u", GOOD4, PORT_OK)),
		      "out_unit4 lacks the unit:\n%s", set);
	expect_explain(GOOD6, PORT_OK, nn_keepf("--unit %s", unit), "set out_unit6");
	/* show --nft names the element's cgroup by its path, as nft does. */
	expect_show_nft(nn_keepf("elements = { \"system.slice/%s\" . %s . tcp . %u ",
				 unit, GOOD4, PORT_OK));

	expect_conn(NULL, T.unitcg, GOOD4, PORT_OK, OK);
	expect_conn(NULL, T.unitcg, GOOD6, PORT_OK, OK);
	expect_conn(NULL, T.unitcg, GOOD4, PORT_NO, DROP);
	expect_conn(NULL, NULL, GOOD4, PORT_OK, DROP);
	expect_conn(NULL, NULL, GOOD6, PORT_OK, DROP);

	/* The unit stops: its cgroup goes, and its elements with it. */
	ck_assert_msg(rmdir(T.unitcg) == 0, "rmdir %s: %s", T.unitcg, strerror(errno));
	T.unitcg[0] = '\0';
	ck_assert_msg(wait_for(T.fwdlog, "0 elements added, 2 removed", 1, 10),
		      "fwd did not drop the gone cgroup:\n%s", slurp_or_empty(T.fwdlog));
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_unit6",
		       E.ns[SRV]));
	ck_assert_msg(!strstr(set, "elements"), "a stopped unit kept elements:\n%s", set);
	topo_down();
}
END_TEST

/* mkdir -p of a cgroup path under our cgroup2 mount, one level at a time
 * (each a new cgroup, as systemd makes a slice and then its unit). */
static char *cg_mkdir(const char *rel)
{
	char *path = nn_keepf("%s/%s", T.cgroot, rel);

	for (char *p = path + strlen(T.cgroot) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		ck_assert_msg(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
			      path, strerror(errno));
		*p = '/';
	}
	ck_assert_msg(mkdir(path, 0755) == 0, "mkdir %s: %s", path, strerror(errno));
	return path;
}

/*
 * Units deeper than system.slice, started after fwd, with the slices on
 * the way to them made after fwd too: a template instance (system.slice/
 * system-PREFIX.slice/PREFIX@a.service, level 3, PREFIX escaped as
 * systemd names the slice) and a unit named by its cgroup path five
 * levels down (a user unit's shape, under a top slice of the runner's).
 * fwd follows each without a reload; a process in the unit's cgroup, and
 * one in a sub-cgroup of it, connect out over IPv4 and IPv6; one in the
 * slice above it (level 2) and one outside do not. show --nft names the
 * cgroups by their paths and the chain looks the unit sets up at levels
 * 3 and 5. The instance stops: its elements go, the deep unit's stay.
 */
START_TEST(test_nested_units)
{
	char *tmpl, *deep, *deep_rel, *slice_rel, *tmpl_rel, *cg_tmpl, *cg_deep, *sub;
	char *chain, *set;
	int runner = (int)getppid();

	if (!tu_need_root())
		return;
	topo_up();
	cgroup2_up();
	tmpl = nn_keepf("fwdt%d-web@a.service", runner);
	slice_rel = nn_keepf("system.slice/system-fwdt%d\\x2dweb.slice", runner);
	tmpl_rel = nn_keepf("%s/%s", slice_rel, tmpl);
	deep_rel = nn_keepf("fwdt%d-user.slice/user-1000.slice/user@1000.service/"
			    "app.slice/fwdt%d-app.service", runner, runner);
	deep = nn_keepf("/%s", deep_rel);	/* as systemctl status prints it */
	write_file(T.policy, policy_fmt, PORT_OK, "unit", nn_keepf("%s, %s", tmpl, deep));
	good_listeners();
	fwd_start();

	/* No unit runs yet: out_unit4/6 are empty, so the kernel holds no
	 * unit lookup at all (lean chains: no rule on an empty set). */
	chain = nn_keep(nn_sh_ok("ip netns exec %s nft list table inet fwd_filter",
				 E.ns[SRV]));
	ck_assert_msg(!strstr(chain, "socket cgroupv2 level"),
		      "unit lookups on empty sets:\n%s", chain);
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_unit4",
		       E.ns[SRV]));
	ck_assert_msg(!strstr(set, "elements"), "units not running have elements:\n%s", set);

	/* The instance starts: its slice first, then its cgroup. */
	snprintf(T.trees[T.ntrees++], sizeof(T.trees[0]), "%s/%s", T.cgroot, slice_rel);
	cg_tmpl = cg_mkdir(tmpl_rel);
	ck_assert_msg(wait_for(T.fwdlog, "unit cgroups changed: 2 elements added", 1, 10),
		      "fwd did not follow the instance's cgroup:\n%s",
		      slurp_or_empty(T.fwdlog));
	expect_explain(GOOD4, PORT_OK, nn_keepf("--unit %s", tmpl),
		       nn_keepf("from unit %s: accept", tmpl));
	expect_conn(NULL, cg_tmpl, GOOD4, PORT_OK, OK);
	expect_conn(NULL, cg_tmpl, GOOD6, PORT_OK, OK);
	sub = cg_mkdir(nn_keepf("%s/worker", tmpl_rel));
	expect_conn(NULL, sub, GOOD4, PORT_OK, OK);	/* the unit's too */
	expect_conn(NULL, nn_keepf("%s/%s", T.cgroot, slice_rel), GOOD4, PORT_OK, DROP);
	expect_conn(NULL, NULL, GOOD4, PORT_OK, DROP);
	expect_conn(NULL, cg_tmpl, GOOD4, PORT_NO, DROP);

	/* The deep one: five new cgroups, the top one under the root. */
	snprintf(T.trees[T.ntrees++], sizeof(T.trees[0]), "%s/fwdt%d-user.slice",
		 T.cgroot, runner);
	cg_deep = cg_mkdir(deep_rel);
	ck_assert_msg(wait_for(T.fwdlog, "unit cgroups changed: 2 elements added", 2, 10),
		      "fwd did not follow the deep unit's cgroup:\n%s",
		      slurp_or_empty(T.fwdlog));
	expect_conn(NULL, cg_deep, GOOD4, PORT_OK, OK);
	expect_conn(NULL, cg_deep, GOOD6, PORT_OK, OK);
	/* Both units run: their lookups came with the first elements, at
	 * levels 3 and 5 only. */
	chain = nn_keep(nn_sh_ok("ip netns exec %s nft list table inet fwd_filter",
				 E.ns[SRV]));
	ck_assert_msg(strstr(chain, "socket cgroupv2 level 3 . ip daddr . meta l4proto . "
			     "th dport @out_unit4") &&
		      strstr(chain, "socket cgroupv2 level 5 . ip6 daddr . meta l4proto . "
			     "th dport @out_unit6") &&
		      !strstr(chain, "socket cgroupv2 level 2 "),
		      "the unit lookups are not at levels 3 and 5:\n%s", chain);
	/* explain names each unit's own level's lookup: unit4 at level 3,
	 * then unit6 at 3, then unit4 at 5 (as the kernel decides). */
	ck_assert_int_eq(explain_rule(GOOD4, PORT_OK, nn_keepf("--unit %s", deep)),
			 explain_rule(GOOD4, PORT_OK, nn_keepf("--unit %s", tmpl)) + 2);
	expect_show_nft(nn_keepf("elements = { \"%s\" . %s . tcp . %u counter packets ",
				 tmpl_rel, GOOD4, PORT_OK));
	expect_show_nft(nn_keepf("\"%s\" . %s . tcp . %u counter packets ",
				 deep_rel, GOOD6, PORT_OK));

	/* The instance stops (its sub-cgroup first, as systemd removes them). */
	ck_assert(rmdir(sub) == 0);
	ck_assert_msg(rmdir(cg_tmpl) == 0, "rmdir %s: %s", cg_tmpl, strerror(errno));
	ck_assert_msg(wait_for(T.fwdlog, "0 elements added, 2 removed", 1, 10),
		      "fwd did not drop the gone cgroup:\n%s", slurp_or_empty(T.fwdlog));
	expect_conn(NULL, cg_deep, GOOD4, PORT_OK, OK);
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_unit6",
		       E.ns[SRV]));
	{
		const char *e = strstr(set, " . tcp . ");

		ck_assert_msg(e && strstr(set, nn_keepf("%s . tcp . %u", GOOD6, PORT_OK)) &&
			      !strstr(e + 1, " . tcp . "),
			      "out_unit6 is not the deep unit alone:\n%s", set);
	}
	topo_down();
}
END_TEST

/*
 * user = NAME for a user who does not exist yet: fwctl check and fwd
 * warn with FILE:LINE and apply the policy; nothing matches the name.
 * useradd (which renames a new /etc/passwd over the old one) makes fwd
 * look the name up again and add its elements without a reload: the user
 * connects out over IPv4 and IPv6, nobody else does; userdel takes the
 * elements away again and its old uid is dropped.
 */
START_TEST(test_user_created_later)
{
	const char *late = tu_name("late");
	char *out = NULL, *warn, *set;
	unsigned uid;
	int st;

	if (!tu_need_root() || !tu_need_prog("setpriv", "util-linux") ||
	    !tu_need_prog("useradd", "passwd"))
		return;
	topo_up();
	tu_sh(NULL, "userdel %s; groupdel %s", late, late);	/* a rerun's */
	ck_assert_msg(!getpwnam(late), "%s exists", late);
	write_file(T.policy, policy_fmt, PORT_OK, "user", late);
	warn = nn_keepf("%s:12: warning: user '%s' does not exist (yet): service "
			"'web-out' lets nobody out for it until it does (fwd looks it "
			"up again when /etc/passwd changes)", T.policy, late);
	st = tu_sh(&out, "%s check %s", FWCTL, T.policy);
	ck_assert_msg(st == 0 && strstr(out, warn), "fwctl check: exit %d:\n%s", st, out);
	free(out);
	/* --json: the same warning in the document, not only on stderr. */
	st = tu_sh(&out, "%s check %s --json 2>/dev/null", FWCTL, T.policy);
	ck_assert_msg(st == 0 && strstr(out, "\"valid\":true") &&
		      strstr(out, nn_keepf("\"warnings\":[{\"file\":\"%s\",\"line\":12,"
					   "\"message\":\"user '%s' does not exist (yet)",
					   T.policy, late)),
		      "fwctl check --json: exit %d:\n%s", st, out);
	free(out);
	good_listeners();
	fwd_start();
	{
		char *log = nn_keep(slurp_or_empty(T.fwdlog));

		ck_assert_msg(strstr(log, warn), "fwd did not warn:\n%s", log);
	}
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_user4",
		       E.ns[SRV]));
	ck_assert_msg(!strstr(set, "elements"), "a missing user has elements:\n%s", set);

	st = tu_sh(&out, "useradd -r -M -s /usr/sbin/nologin -c '" TU_USER_GECOS "' %s",
		   late);
	ck_assert_msg(st == 0, "useradd %s: %s", late, out);
	free(out);
	uid = (unsigned)user_uid(late);
	ck_assert_msg(wait_for(T.fwdlog, "user database changed: 2 elements added, 0 "
			       "removed", 1, 10),
		      "fwd did not follow useradd:\n%s", slurp_or_empty(T.fwdlog));
	set = nn_keep(nn_sh_ok("ip netns exec %s nft list set inet fwd_filter out_user4",
		       E.ns[SRV]));
	ck_assert_msg(strstr(set, nn_keepf("%u . %s . tcp . %u", uid, GOOD4, PORT_OK)),
		      "out_user4 lacks uid %u:\n%s", uid, set);
	expect_conn(late, NULL, GOOD4, PORT_OK, OK);
	expect_conn(late, NULL, GOOD6, PORT_OK, OK);
	expect_conn("65534", NULL, GOOD4, PORT_OK, DROP);
	expect_conn(NULL, NULL, GOOD6, PORT_OK, DROP);

	st = tu_sh(&out, "userdel %s; getent group %s >/dev/null && groupdel %s; true",
		   late, late, late);
	free(out);
	ck_assert_msg(wait_for(T.fwdlog, "user database changed: 0 elements added, 2 "
			       "removed", 1, 10),
		      "fwd did not follow userdel:\n%s", slurp_or_empty(T.fwdlog));
	expect_conn(nn_keepf("%u", uid), NULL, GOOD4, PORT_OK, DROP);
	topo_down();
}
END_TEST

/* The model's errors: exact text, FILE:LINE. */
static char *load_errors(const char *text)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_policy_load_buffer("t.conf", text, strlen(text), &o, &p, &d);
	f = open_memstream(&buf, &len);
	fwd_diags_print(&d, f);
	fclose(f);
	ck_assert_msg(ret != 0 && !p, "accepted:\n%s", text);
	fwd_diags_free(&d);
	return nn_keep(buf);
}

START_TEST(test_policy_errors)
{
	char *e;

	e = load_errors("[service a]\nports = 80/tcp\nallow = any\nuser = 0\n");
	ck_assert_str_eq(e, "t.conf:4: 'user' applies to outbound services only; add "
			 "direction = out to service 'a' (inbound traffic has no local "
			 "owner)\n");
	e = load_errors("[service a]\ndirection = out\nports = 80/tcp\nallow = any\n"
			"unit = apt-daily.timer\n");
	ck_assert_str_eq(e, "t.conf:5: invalid unit 'apt-daily.timer'; name a system "
			 "service unit, e.g. apt-daily.service\n");
	e = load_errors("[service a]\ndirection = out\nports = 80/tcp\nallow = any\n"
			"unit = getty@.service\n");
	ck_assert_str_eq(e, "t.conf:5: unit 'getty@.service' is a template, which never "
			 "runs itself; name an instance of it, e.g. getty@tty1.service\n");
	e = load_errors("[service a]\ndirection = out\nports = 80/tcp\nallow = any\n"
			"unit = system.slice/../x.service\n");
	ck_assert_str_eq(e, "t.conf:5: invalid unit 'system.slice/../x.service'; unit "
			 "names are made of A-Z a-z 0-9 : _ . - \\ @, and a cgroup path "
			 "of them has no empty, . or .. part\n");
	e = load_errors("[service a]\ndirection = out\nports = 443/tcp\nallow = any\n"
			"program = bin/curl\n");
	ck_assert_str_eq(e, "t.conf:5: invalid program 'bin/curl'; write the absolute "
			 "path of the executable\n");
	e = load_errors("[service a]\nports = 443/tcp\nallow = any\n"
			"program = /usr/bin/curl\n");
	ck_assert_str_eq(e, "t.conf:4: 'program' applies to outbound services only; add "
			 "direction = out to service 'a' (inbound traffic has no local "
			 "owner)\n");
	e = load_errors("[defaults]\nprogram_limit = 0/1s\n");
	ck_assert_str_eq(e, "t.conf:2: program_limit '0/1s': a limit's N is 1 to "
			 "1000000\n");
	e = load_errors("[defaults]\nprogram_limit = fast\n");
	ck_assert_str_eq(e, "t.conf:2: program_limit 'fast': a limit is N/WINDOW, "
			 "like 6/30s or 100/1m (N 1-1000000, WINDOW 1s-1d)\n");
	e = load_errors("[service a]\ndirection = out\nports = 443/tcp\nallow = any\n"
			"user =\n");
	ck_assert_str_eq(e, "t.conf:5: 'user' is empty; name who may open these flows\n");
}
END_TEST

#define DEEP_UNIT "fwd.slice/user-1.slice/user@1.service/app.slice/w.service"

/* A fake unit resolver for the compiler: unit "a.service" runs in cgroup
 * 77, "x@1.service" in 78, DEEP_UNIT in 79, every other unit is not
 * running. */
static int fake_unit_id(void *arg, const char *unit, uint64_t *id)
{
	(void)arg;
	*id = strcmp(unit, "a.service") == 0 ? 77 :
	      strcmp(unit, "x@1.service") == 0 ? 78 :
	      strcmp(unit, DEEP_UNIT) == 0 ? 79 : 0;
	return 0;
}

static struct fwd_ir *compile_text(const char *text)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_compile_opts co = { .unit_id = fake_unit_id };
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("t.conf", text, strlen(text), &o, &p, &d), 0);
	ck_assert_int_eq(fwd_compile_opts_at(p, 1000, &co, &ir, &d), 0);
	fwd_diags_free(&d);
	fwd_policy_free(p);
	return ir;
}

static char *set_text(const struct fwd_ir *ir, const char *name)
{
	const struct fwd_ir_set *s = fwd_ir_set_find(ir, name);
	char *buf = NULL, e[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(s);
	for (size_t i = 0; i < s->n; i++) {
		fwd_ir_elem_format(s, &s->elems[i], e, sizeof(e));
		fprintf(f, "%s%s", i ? ", " : "", e);
	}
	fclose(f);
	return nn_keep(buf);
}

/*
 * The compiler: owners' destinations become disjoint elements per owner
 * (overlapping and touching ranges joined, port ranges cut where they
 * cross), a service with owners puts nothing in the plain sets, a unit
 * not running has no element, no owner means no owner sets (the table
 * keeps its old shape), and the four lookups sit before the final drop.
 */
START_TEST(test_compile_owner_sets)
{
	struct fwd_ir *ir = compile_text(
		"[defaults]\noutbound = deny\n"
		"[list l]\nmembers = 192.0.2.0/25, 192.0.2.128/25, 2001:db8::/33\n"
		"[service a]\ndirection = out\nports = 443/tcp, 80-90/tcp\n"
		"allow = @l, 192.0.2.7, 2001:db8:8000::/33\nuser = 1000, 0\n"
		"[service b]\ndirection = out\nports = 85-100/tcp\nallow = 198.51.100.1\n"
		"user = 1000\nunit = a.service, b.service\n"
		"[service c]\ndirection = out\nports = 53/udp\nallow = any\n");
	const struct fwd_ir_chain *out;
	size_t n;

	ck_assert_uint_eq(ir->nsets, FWD_SET_OUT_UNIT6 + 1);
	ck_assert_str_eq(set_text(ir, "out_user4"),
			 "0 . 192.0.2.0/24 . tcp . 80-90, 0 . 192.0.2.0/24 . tcp . 443, "
			 "1000 . 192.0.2.0/24 . tcp . 80-84, 1000 . 192.0.2.0/24 . tcp . 85-90, "
			 "1000 . 192.0.2.0/24 . tcp . 443, 1000 . 198.51.100.1 . tcp . 85-90, "
			 "1000 . 198.51.100.1 . tcp . 91-100");
	ck_assert_str_eq(set_text(ir, "out_user6"),
			 "0 . 2001:db8::/32 . tcp . 80-90, 0 . 2001:db8::/32 . tcp . 443, "
			 "1000 . 2001:db8::/32 . tcp . 80-90, 1000 . 2001:db8::/32 . tcp . 443");
	ck_assert_str_eq(set_text(ir, "out_unit4"), "77 . 198.51.100.1 . tcp . 85-100");
	ck_assert_str_eq(set_text(ir, "out_unit6"), "");
	/* Services with owners are not in the plain sets; c is. */
	ck_assert_uint_eq(fwd_ir_set_find(ir, "out_allow4")->n, 0);
	ck_assert_uint_eq(fwd_ir_set_find(ir, "out_allow4_net")->n, 0);
	ck_assert_str_eq(set_text(ir, "out_open"), "udp . 53");
	out = &ir->chains[FWD_CHAIN_OUTPUT];
	n = out->n;
	ck_assert_uint_ge(n, 6);
	for (unsigned k = 0; k < 4; k++) {
		const struct fwd_ir_rule *r = &out->rules[n - 6 + k];

		ck_assert_int_eq(r->verdict, FWD_V_ACCEPT);
		ck_assert_uint_eq(r->m[0].set, FWD_SET_COUNT + k);
		ck_assert_uint_eq(r->m[0].u32, k >= 2 ? FWD_UNIT_CGROUP_LEVEL : 0);
	}
	ck_assert_int_eq(out->rules[n - 1].verdict, FWD_V_DROP);
	fwd_ir_free(ir);

	ir = compile_text("[service c]\ndirection = out\nports = 53/udp\nallow = any\n");
	ck_assert_uint_eq(ir->nsets, FWD_SET_COUNT);
	fwd_ir_free(ir);
}
END_TEST

/* fwd_unit_cgroup_path of a word: "PATH LEVEL", or the refusal. */
static char *unit_path(const char *w)
{
	char path[FWD_UNIT_PATH_MAX], why[512];
	unsigned level = 0;

	if (fwd_unit_cgroup_path(w, strlen(w), path, sizeof(path), &level, why,
				 sizeof(why)) != 0)
		return nn_keepf("error: %s", why);
	return nn_keepf("%s %u", path, level);
}

/*
 * Units at any depth: each form of `unit =` and the cgroup (and level)
 * it names, as systemd places it; the compiler looks the unit sets up
 * once per level in use, shallowest first, before the final drop, and
 * the elements of every level share the sets; show --nft's renderer
 * names a cgroup it is told about by its path, any other by its id.
 */
START_TEST(test_unit_forms)
{
	struct fwd_render_opts ro = { .now = 1000 };
	struct fwd_cgroup_name names[] = { { 77, (char *)"system.slice/a.service" } };
	const struct fwd_ir_chain *out;
	struct fwd_ir *ir;
	char *text = NULL;
	size_t len = 0, n;
	FILE *f;

	ck_assert_str_eq(unit_path("ssh.service"), "system.slice/ssh.service 2");
	ck_assert_str_eq(unit_path("getty@tty1.service"),
			 "system.slice/system-getty.slice/getty@tty1.service 3");
	ck_assert_str_eq(unit_path("serial-getty@ttyS0.service"),
			 "system.slice/system-serial\\x2dgetty.slice/"
			 "serial-getty@ttyS0.service 3");
	ck_assert_str_eq(unit_path("/user.slice/user-1000.slice/user@1000.service/"
				   "app.slice/x.service"),
			 "user.slice/user-1000.slice/user@1000.service/app.slice/"
			 "x.service 5");
	ck_assert_str_eq(unit_path("system.slice/custom.slice/x@y.service"),
			 "system.slice/custom.slice/x@y.service 3");
	ck_assert_str_eq(unit_path("system.slice/"),
			 "error: invalid unit 'system.slice/'; name a system service "
			 "unit, e.g. apt-daily.service");
	ck_assert_str_eq(unit_path("a//b.service"),
			 "error: invalid unit 'a//b.service'; unit names are made of "
			 "A-Z a-z 0-9 : _ . - \\ @, and a cgroup path of them has no "
			 "empty, . or .. part");
	ck_assert_str_eq(unit_path("@x.service"), "error: invalid unit '@x.service'; a "
			 "template instance is PREFIX@INSTANCE.service");
	ck_assert_str_eq(unit_path("a@b@c.service"), "error: invalid unit "
			 "'a@b@c.service'; a template instance is PREFIX@INSTANCE.service");
	ck_assert_str_eq(unit_path("a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/"
				   "y/z/0/1/2/3/4/5/x.service"),
			 "error: invalid unit 'a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/"
			 "u/v/w/x/y/z/0/1/2/3/4/5/x.service'; its cgroup path is too "
			 "deep or too long for fwd");

	ir = compile_text("[defaults]\noutbound = deny\n"
			  "[service a]\ndirection = out\nports = 443/tcp\n"
			  "allow = 192.0.2.1, 2001:db8::1\n"
			  "unit = " DEEP_UNIT ", x@1.service, a.service, y@2.service\n");
	ck_assert_str_eq(set_text(ir, "out_unit4"),
			 "77 . 192.0.2.1 . tcp . 443, 78 . 192.0.2.1 . tcp . 443, "
			 "79 . 192.0.2.1 . tcp . 443");
	ck_assert_str_eq(set_text(ir, "out_unit6"),
			 "77 . 2001:db8::1 . tcp . 443, 78 . 2001:db8::1 . tcp . 443, "
			 "79 . 2001:db8::1 . tcp . 443");
	out = &ir->chains[FWD_CHAIN_OUTPUT];
	n = out->n;
	ck_assert_uint_ge(n, 10);
	{
		/* user4, user6, then unit4/unit6 at levels 2, 3 and 5; then
		 * the log rule and the drop. */
		const unsigned set[8] = { 0, 1, 2, 3, 2, 3, 2, 3 };
		const unsigned level[8] = { 0, 0, 2, 2, 3, 3, 5, 5 };

		for (unsigned k = 0; k < 8; k++) {
			const struct fwd_ir_rule *r = &out->rules[n - 10 + k];

			ck_assert_int_eq(r->verdict, FWD_V_ACCEPT);
			ck_assert_msg(r->m[0].set == FWD_SET_COUNT + set[k], "rule %u: set %u", k, r->m[0].set);
			ck_assert_uint_eq(r->m[0].u32, level[k]);
		}
	}
	ck_assert_int_eq(out->rules[n - 1].verdict, FWD_V_DROP);

	ro.cgroups = names;
	ro.ncgroups = 1;
	f = open_memstream(&text, &len);
	ck_assert_int_eq(fwd_ir_render(ir, &ro, f), 0);
	fclose(f);
	nn_keep(text);
	ck_assert_msg(strstr(text, "elements = { \"system.slice/a.service\" . 192.0.2.1 . "
			     "tcp . 443,\n\t\t\t     78 . 192.0.2.1 . tcp . 443,\n"
			     "\t\t\t     79 . 192.0.2.1 . tcp . 443 }"), "%s", text);
	/* The kernel's chains are split by family: out4 holds the v4 unit
	 * lookups by level, out6 the v6 ones. */
	ck_assert_msg(strstr(text, "socket cgroupv2 level 3 . ip daddr . meta l4proto . "
			     "th dport @out_unit4 counter packets 0 bytes 0 accept\n"
			     "\t\tsocket cgroupv2 level 5 . ip daddr . meta l4proto . "
			     "th dport @out_unit4 counter"), "%s", text);
	ck_assert_msg(strstr(text, "socket cgroupv2 level 3 . ip6 daddr . meta l4proto . "
			     "th dport @out_unit6 counter packets 0 bytes 0 accept\n"
			     "\t\tsocket cgroupv2 level 5 . ip6 daddr . meta l4proto . "
			     "th dport @out_unit6 counter"), "%s", text);
	fwd_ir_free(ir);
}
END_TEST

/*
 * A user name not in the user database is no error (ufw and firewalld
 * users expect a policy to load when an account is missing): the policy
 * loads with a located warning, the owner has no uid, and its rules have
 * no element (nothing matches them) while a uid beside it still does.
 */
START_TEST(test_user_unknown)
{
	const char *text = "[defaults]\noutbound = deny\n[service a]\ndirection = out\n"
			   "ports = 80/tcp\nallow = 192.0.2.1\n"
			   "user = fwd-no-such-user-xyz, 1000\n";
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d, w;
	char *buf = NULL;
	size_t len = 0;
	struct fwd_ir *ir;
	FILE *f;

	fwd_diags_init(&d);
	fwd_diags_init(&w);
	ck_assert_int_eq(fwd_policy_load_buffer("t.conf", text, strlen(text), &o, &p, &d), 0);
	ck_assert_uint_eq(d.n, 0);
	ck_assert_uint_eq(p->services[0].nowners, 2);
	ck_assert_uint_eq(p->services[0].owners[0].uid, FWD_UID_NONE);
	ck_assert_uint_eq(p->services[0].owners[1].uid, 1000);
	ck_assert(fwd_policy_has_user_names(p));
	fwd_owner_warnings(p, &w);
	f = open_memstream(&buf, &len);
	fwd_diags_print(&w, f);
	fclose(f);
	ck_assert_str_eq(buf, "t.conf:7: warning: user 'fwd-no-such-user-xyz' does not "
			 "exist (yet): service 'a' lets nobody out for it until it does "
			 "(fwd looks it up again when /etc/passwd changes)\n");
	free(buf);
	fwd_diags_free(&w);
	fwd_diags_free(&d);
	fwd_policy_free(p);
	ir = compile_text(text);
	ck_assert_str_eq(set_text(ir, "out_user4"), "1000 . 192.0.2.1 . tcp . 80");
	fwd_ir_free(ir);
}
END_TEST

/*
 * program =: the service's destinations go to out_prog4/6 (no owner
 * field: the kernel cannot tell a program), beside the user and unit
 * sets of the same service; after the four owner lookups two `ct state
 * new` lookups queue to FWD_PROG_QUEUE, then the final drop. A policy
 * without a program keeps four owner sets and no program queue; with
 * outbound = allow there are no owner rules and no queue.
 */
START_TEST(test_compile_program)
{
	struct fwd_ir *ir = compile_text(
		"[defaults]\noutbound = deny\n"
		"[service a]\ndirection = out\nports = 443/tcp, 80/tcp\n"
		"allow = 192.0.2.0/24, 2001:db8::/32\nprogram = /usr/bin/curl\nuser = 1000\n"
		"[service b]\ndirection = out\nports = 53/udp\nallow = any\n"
		"program = /usr/sbin/unbound\n");
	const struct fwd_ir_chain *out;
	size_t n;

	ck_assert_uint_eq(ir->nsets, FWD_SET_OUT_PROG6 + 1);
	ck_assert_str_eq(set_text(ir, "out_prog4"),
			 "0.0.0.0/0 . udp . 53, 192.0.2.0/24 . tcp . 80, "
			 "192.0.2.0/24 . tcp . 443");
	ck_assert_str_eq(set_text(ir, "out_prog6"),
			 "::/0 . udp . 53, 2001:db8::/32 . tcp . 80, 2001:db8::/32 . tcp . 443");
	ck_assert_str_eq(set_text(ir, "out_user4"),
			 "1000 . 192.0.2.0/24 . tcp . 80, 1000 . 192.0.2.0/24 . tcp . 443");
	ck_assert_uint_eq(fwd_ir_set_find(ir, "out_allow4_net")->n, 0);
	ck_assert_uint_eq(fwd_ir_set_find(ir, "out_open")->n, 0);
	ck_assert(ir->prog.on);
	ck_assert_uint_eq(ir->prog.num, FWD_PROG_QUEUE);
	ck_assert_uint_eq(ir->prog.total, 1);
	/* The default program_limit: 1000 a second per user. */
	ck_assert(ir->prog.meter);
	ck_assert_uint_eq(ir->prog.rate, 1000);
	ck_assert_uint_eq(ir->prog.period_s, 1);
	ck_assert_uint_eq(ir->prog.burst, 1000);
	ck_assert_uint_eq(fwd_ir_prog_meter_sets(ir), 1);
	ck_assert(!ir->queue.on);	/* no [guard]: no inbound queue step */
	out = &ir->chains[FWD_CHAIN_OUTPUT];
	n = out->n;
	for (unsigned k = 0; k < 4; k++)
		ck_assert_int_eq(out->rules[n - 12 + k].verdict, FWD_V_ACCEPT);
	/* Per family, on one set: the label accept (ct label 127, before
	 * the lookup), the meter's drop, then the queue rule. */
	for (unsigned k = 0; k < 6; k++) {
		const struct fwd_ir_rule *r = &out->rules[n - 8 + k];
		const enum fwd_ir_verdict want[] = { FWD_V_ACCEPT, FWD_V_DROP,
						     FWD_V_QUEUE_PROG };
		unsigned step = k % 3, lk = step == 0 ? 2 : 1;

		ck_assert_int_eq(r->verdict, want[step]);
		ck_assert_uint_eq(r->nm, step == 2 ? 2 : 3);
		ck_assert(r->counter);
		ck_assert_int_eq(r->m[0].kind, FWD_M_CT_STATE);
		ck_assert_uint_eq(r->m[0].u32, NF_CT_STATE_BIT(IP_CT_NEW));
		ck_assert_int_eq(r->m[lk].kind, FWD_M_LOOKUP_DST);
		ck_assert_uint_eq(r->m[lk].set, FWD_SET_OUT_PROG4 + k / 3);
		if (step == 0) {
			ck_assert_int_eq(r->m[1].kind, FWD_M_CT_LABEL);
			ck_assert_uint_eq(r->m[1].u32, FWD_CT_LABEL_BIT);
		}
		if (step == 1)
			ck_assert_int_eq(r->m[2].kind, FWD_M_PROG_METER);
	}
	ck_assert_int_eq(out->rules[n - 1].verdict, FWD_V_DROP);
	fwd_ir_free(ir);

	/* program_limit: N/WINDOW as nft says it, burst N. */
	ir = compile_text("[defaults]\noutbound = deny\nprogram_limit = 6/30s\n"
			  "[service a]\ndirection = out\nports = 443/tcp\n"
			  "allow = any\nprogram = /usr/bin/curl\n");
	ck_assert(ir->prog.meter);
	ck_assert_uint_eq(ir->prog.rate, 12);
	ck_assert_uint_eq(ir->prog.period_s, 60);
	ck_assert_uint_eq(ir->prog.burst, 6);
	fwd_ir_free(ir);

	ir = compile_text("[defaults]\noutbound = deny\n[service a]\ndirection = out\n"
			  "ports = 443/tcp\nallow = any\nuser = 0\n");
	ck_assert_uint_eq(ir->nsets, FWD_SET_OUT_UNIT6 + 1);
	ck_assert(!ir->prog.on);
	fwd_ir_free(ir);
	ir = compile_text("[service a]\ndirection = out\nports = 443/tcp\nallow = any\n"
			  "program = /usr/bin/curl\n");
	ck_assert(!ir->prog.on);
	for (size_t i = 0; i < ir->chains[FWD_CHAIN_OUTPUT].n; i++)
		ck_assert_int_ne(ir->chains[FWD_CHAIN_OUTPUT].rules[i].verdict,
				 FWD_V_QUEUE_PROG);
	fwd_ir_free(ir);
}
END_TEST

/* Unmount every cgroup2 mount in this (private) mount namespace: a cgroup
 * v1 host, as far as fwd and fwctl can tell. */
static void hide_cgroup2(void)
{
	char *out = NULL;

	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	ck_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	for (int i = 0; i < 16; i++) {
		char *save = NULL, *t;

		tu_sh(&out, "findmnt -n -t cgroup2 -o TARGET");
		t = strtok_r(out, "\n", &save);
		if (!t) {
			free(out);
			return;
		}
		ck_assert_msg(umount2(t, MNT_DETACH) == 0, "umount %s: %s", t,
			      strerror(errno));
		free(out);
	}
	ck_abort_msg("cgroup2 mounts do not go away");
}

/*
 * A cgroup v1 host: `unit =` is refused by fwctl check and by fwd, with
 * its FILE:LINE, and fwd applies nothing (no table in its namespace);
 * `user =` still works there.
 */
START_TEST(test_unit_without_cgroup2)
{
	char *out = NULL, *conf;
	int st;

	if (!tu_need_root() || !tu_need_prog("findmnt", "util-linux"))
		return;
	topo_up();
	hide_cgroup2();
	write_file(T.policy, policy_fmt, PORT_OK, "unit", "apt-daily.service");
	conf = nn_keepf("%s:12: unit 'apt-daily.service': this host has no cgroup2 "
			"hierarchy mounted (cgroup v1), so the kernel cannot match "
			"units; use user = instead", T.policy);
	st = tu_sh(&out, "%s check %s", FWCTL, T.policy);
	ck_assert_msg(st == 1 && strstr(out, conf), "fwctl check: exit %d:\n%s", st, out);
	free(out);
	st = tu_sh(&out, "ip netns exec %s %s --oneshot --state-dir '' -c %s", E.ns[SRV],
		   FWD, T.policy);
	ck_assert_msg(st != 0 && strstr(out, conf), "fwd --oneshot: exit %d:\n%s", st, out);
	free(out);
	st = tu_sh(&out, "ip netns exec %s nft list table inet fwd_filter", E.ns[SRV]);
	ck_assert_msg(st != 0, "a table was applied:\n%s", out);
	free(out);

	write_file(T.policy, policy_fmt, PORT_OK, "user", "0");
	st = tu_sh(&out, "%s check %s", FWCTL, T.policy);
	ck_assert_msg(st == 0, "fwctl check of user = 0: exit %d:\n%s", st, out);
	free(out);
	topo_down();
}
END_TEST

static Suite *outbound_suite(void)
{
	Suite *s = suite_create("outbound");

	nn_add_test(s, "policy_errors", test_policy_errors, 30, runner_cleanup);
	nn_add_test(s, "compile_owner_sets", test_compile_owner_sets, 30, runner_cleanup);
	nn_add_test(s, "compile_program", test_compile_program, 30, runner_cleanup);
	nn_add_test(s, "unit_forms", test_unit_forms, 30, runner_cleanup);
	nn_add_test(s, "user_unknown", test_user_unknown, 30, runner_cleanup);
	nn_add_test(s, "user_rules", test_user_rules, 120, runner_cleanup);
	nn_add_test(s, "unit_rules", test_unit_rules, 120, runner_cleanup);
	nn_add_test(s, "nested_units", test_nested_units, 120, runner_cleanup);
	nn_add_test(s, "user_created_later", test_user_created_later, 120, runner_cleanup);
	nn_add_test(s, "program_rules", test_program_rules, 120, runner_cleanup);
	nn_add_test(s, "program_short_lived", test_program_short_lived, 120, runner_cleanup);
	nn_add_test(s, "program_fanout", test_program_fanout, 120, runner_cleanup);
	nn_add_test(s, "program_meter", test_program_meter, 120, runner_cleanup);
	nn_add_test(s, "program_udp", test_program_udp, 120, runner_cleanup);
	nn_add_test(s, "program_udp_flow", test_program_udp_flow, 120, runner_cleanup);
	nn_add_test(s, "last_good_program", test_last_good_program, 120, runner_cleanup);
	nn_add_test(s, "last_good_owner", test_last_good_owner, 120, runner_cleanup);
	nn_add_test(s, "unit_without_cgroup2", test_unit_without_cgroup2, 60, runner_cleanup);
	return s;
}

int main(void)
{
	return nn_run(outbound_suite());
}
