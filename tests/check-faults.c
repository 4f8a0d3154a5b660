// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Fail-closed under faults (issue 4, "Proof"): the real fwd binary, killed,
 * reloaded under fire, fed bad files, a million entries, started broken.
 *
 *  kill9           kill -9 of `fwd --oneshot` (and of the daemon during a
 *                  SIGHUP) at random moments: the kernel always holds policy
 *                  A's or B's table, whole, never a partial or no table.
 *  reload_fire     300 SIGHUP re-applies in 30 s while the denied host floods
 *                  and the allowed host keeps one TCP echo session streaming:
 *                  no denied packet accepted, the session intact to the byte.
 *  bad_corpus      every file set in tests/fixtures/bad-corpus/ refused with
 *                  its exact errors, by SIGHUP and by --oneshot, the running
 *                  table byte-identical, fwd still running.
 *  million         1,000,000 allowlist entries in one transaction, or a clear
 *                  error and the previous table intact.
 *  fallback        a bad file at start: the last good policy, else (state
 *                  dir empty or damaged) the lockdown table, "degraded".
 *  fallback_guard  the same with [guard]: the last good table with its
 *                  queue step, the guard's queues bound, SSH still in.
 *  state_trust     planted state files (issue 9): an open last good policy,
 *                  a confirm deadline that is not a time, FIFOs, a state dir
 *                  with the wrong mode/owner or behind a symlink: refused,
 *                  the host stays closed, fwd reaches READY.
 *  dangling_policy a dangling symlink as the policy file: last good, else
 *                  lockdown, never the built-in default.
 *
 * Knobs (bench/faults.sh uses them for the long runs): FWD_FAULTS_SEED,
 * FWD_FAULTS_KILLS (200), FWD_FAULTS_DAEMON_KILLS (50), FWD_FAULTS_RELOADS
 * (300), FWD_FAULTS_RELOAD_SECS (30), FWD_FAULTS_MILLION (1000000),
 * FWD_WRITE_ERR=1 (rewrite the corpus .err files from what fwd prints; then
 * review the diff: the .err files are the specification).
 *
 * Every test builds its own namespaces (tests/netns.h: fwdt-<pid>-<role>)
 * and joins srv itself, so nft, the netlink readbacks and fwd started
 * without `ip netns exec` all act on srv; nothing touches the machine's own
 * namespace.
 */
#include "testutil.h"
#include "netns.h"

#include "kmod.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libmnl/libmnl.h>
#include <linux/capability.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static struct nn_env E;

static long knob(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end || n < 0 ? def : n;
}

/* ---- a seeded PRNG (xorshift64*), so a failing run can be repeated ---- */

static uint64_t rng_state;

static void rng_seed(const char *test)
{
	uint64_t seed = (uint64_t)knob("FWD_FAULTS_SEED", 0);

	if (!seed)
		seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 20);
	fprintf(stderr, "faults: %s: seed %llu (FWD_FAULTS_SEED=%llu repeats it)\n",
		test, (unsigned long long)seed, (unsigned long long)seed);
	rng_state = seed ? seed : 1;
}

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* ---- fwd's command line ---- */

/* --no-socket where this fwd has it (older builds have no control socket
 * and refuse the option). */
static bool fwd_has_no_socket(void)
{
	static int has = -1;

	if (has < 0) {
		char *out;

		tu_sh(&out, "%s --help", NN_FWD);
		has = strstr(out, "--no-socket") != NULL;
		free(out);
	}
	return has;
}

/* argv for fwd: daemon (oneshot false) or --oneshot, with -c and
 * --state-dir; the strings must outlive the spawn. */
static void fwd_argv(const char *argv[8], bool oneshot, const char *config,
		     const char *state)
{
	int n = 0;

	argv[n++] = NN_FWD;
	if (oneshot)
		argv[n++] = "--oneshot";
	argv[n++] = "-c";
	argv[n++] = config;
	argv[n++] = "--state-dir";
	argv[n++] = state;
	if (!oneshot && fwd_has_no_socket())
		argv[n++] = "--no-socket";
	argv[n] = NULL;
}

/* Run `fwd --oneshot` to its end (bounded); exit status, output in *out. */
static int oneshot(const char *config, const char *state, char **out)
{
	char *log = nn_path(&E, "oneshot.log");
	const char *argv[8];
	double end = nn_now() + 120;
	pid_t pid;
	int st;

	fwd_argv(argv, true, config, state);
	unlink(log);
	pid = nn_spawn(&E, -1, log, argv, NULL);
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (nn_now() > end) {
			nn_kill(&E, pid);
			ck_abort_msg("fwd --oneshot -c %s did not end within 120 s:\n%s",
				     config, nn_slurp_or_empty(log));
		}
		nn_msleep(5);
	}
	nn_forget(&E, pid);
	*out = nn_slurp_or_empty(log);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* ---- what the kernel holds ---- */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * `nft -s list table` made comparable: the table's flags line and the
 * "# progname fwd" nft adds while the owner runs go (owner is cleared when
 * the owning process exits, persist prints blank in nft 1.0.6), and the elements of each set are sorted (a hash set lists in
 * bucket order, which depends on the kernel's seed, not on the policy).
 * Everything else is kept byte for byte.
 */
static char *canon_listing(const char *text)
{
	char *buf = NULL;
	size_t blen = 0;
	FILE *f = open_memstream(&buf, &blen);
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n'), *q;
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (n >= 6 && !strncmp(p, "\tflags", 6)) {
			p += n + (nl ? 1 : 0);
			continue;
		}
		if (!strncmp(p, "table ", 6) && (q = memmem(p, n, " # progname ", 12))) {
			fwrite(p, 1, (size_t)(q - p), f);
			fputc('\n', f);
			p += n + (nl ? 1 : 0);
			continue;
		}
		q = memmem(p, n, "elements = { ", 13);
		if (q) {
			const char *start = q + 13, *close = strchr(start, '}');
			char **v = NULL;
			size_t nv = 0, cap = 0;

			ck_assert_msg(close, "unterminated elements in:\n%.2000s", text);
			for (const char *s = start; s < close;) {
				const char *c = memchr(s, ',', (size_t)(close - s));
				const char *e = c ? c : close, *a = s, *b = e;

				while (a < b && strchr(" \t\n", *a))
					a++;
				while (b > a && strchr(" \t\n", b[-1]))
					b--;
				if (nv == cap) {
					cap = cap ? cap * 2 : 64;
					v = realloc(v, cap * sizeof(*v));
					ck_assert(v);
				}
				v[nv++] = strndup(a, (size_t)(b - a));
				s = c ? c + 1 : close;
			}
			qsort(v, nv, sizeof(*v), cmp_strp);
			fwrite(p, 1, (size_t)(q - p), f);
			fputs("elements = {", f);
			for (size_t i = 0; i < nv; i++) {
				fprintf(f, "%s %s", i ? "," : "", v[i]);
				free(v[i]);
			}
			free(v);
			/* the rest of the line that closes the block */
			nl = strchr(close, '\n');
			n = nl ? (size_t)(nl - close) : strlen(close);
			fwrite(close - 1, 1, n + 1, f);
			fputc('\n', f);
			p = close + n + (nl ? 1 : 0);
			continue;
		}
		fwrite(p, 1, n, f);
		fputc('\n', f);
		p += n + (nl ? 1 : 0);
	}
	fclose(f);
	return buf;
}

/* The canonical listing of fwd's table in the current namespace, or NULL
 * when there is no table. */
static char *listing(void)
{
	char *out, *c;
	int rc = tu_sh(&out, "nft -s list table inet fwd_filter");

	if (rc != 0) {
		ck_assert_msg(strstr(out, "No such file or directory"),
			      "nft list table failed (%d): %.2000s", rc, out);
		free(out);
		return NULL;
	}
	c = canon_listing(out);
	free(out);
	return c;
}

/* The first line where two listings differ, for a readable failure. */
static const char *first_diff(const char *a, const char *b, char *buf, size_t len)
{
	const char *la = a, *lb = b;
	unsigned line = 1;

	if (!a || !b) {
		snprintf(buf, len, "%s", !a ? "first: no table" : "second: no table");
		return buf;
	}
	while (*la && *lb) {
		const char *ea = strchr(la, '\n'), *eb = strchr(lb, '\n');
		size_t na = ea ? (size_t)(ea - la) : strlen(la);
		size_t nb = eb ? (size_t)(eb - lb) : strlen(lb);

		if (na != nb || memcmp(la, lb, na)) {
			snprintf(buf, len, "line %u:\n  < %.*s\n  > %.*s", line,
				 (int)(na > 300 ? 300 : na), la, (int)(nb > 300 ? 300 : nb), lb);
			return buf;
		}
		la += na + (ea ? 1 : 0);
		lb += nb + (eb ? 1 : 0);
		line++;
	}
	snprintf(buf, len, "line %u: one listing ends (%zu vs %zu bytes)", line,
		 strlen(a), strlen(b));
	return buf;
}

static bool same(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * A readback over netlink, independent of nft: per set the element count
 * (as fwd would list them / as the kernel stores them), per chain the rule
 * count and policy. "no table" when there is none.
 */
static char *readback(void)
{
	struct fwd_live_table *t = NULL;
	struct fwd_nl *nl = NULL;
	char *buf = NULL;
	size_t blen = 0;
	FILE *f;
	int ret;

	ret = fwd_nl_open(&nl);
	ck_assert_msg(ret == 0, "fwd_nl_open: %s", strerror(-ret));
	ret = fwd_live_read(nl, NULL, &t);
	fwd_nl_close(nl);
	if (ret == -ENOENT)
		return strdup("no table");
	ck_assert_msg(ret == 0, "fwd_live_read: %s", strerror(-ret));
	f = open_memstream(&buf, &blen);
	for (size_t i = 0; i < t->nsets; i++)
		fprintf(f, "%s%s=%zu/%zu", i ? " " : "", t->sets[i].name, t->sets[i].n,
			t->sets[i].nkernel);
	fprintf(f, "; anon %zu", t->nanon);
	for (size_t i = 0; i < t->nchains; i++)
		fprintf(f, "; %s: %zu rules, %s", t->chains[i].name, t->chains[i].nrules,
			t->chains[i].policy_accept ? "accept" : "drop");
	fclose(f);
	fwd_live_free(t);
	return buf;
}

/* Elements (as the kernel stores them) of two sets, from one readback;
 * (size_t)-1 for a set that is not there. */
static void set_counts(const char *name1, size_t *n1, const char *name2, size_t *n2)
{
	struct fwd_live_table *t = NULL;
	const struct fwd_live_set *s;
	struct fwd_nl *nl = NULL;
	int ret;

	*n1 = *n2 = (size_t)-1;
	ret = fwd_nl_open(&nl);
	ck_assert_msg(ret == 0, "fwd_nl_open: %s", strerror(-ret));
	ret = fwd_live_read(nl, NULL, &t);
	fwd_nl_close(nl);
	ck_assert_msg(ret == 0, "fwd_live_read: %s", strerror(-ret));
	if ((s = fwd_live_set_find(t, name1)))
		*n1 = s->nkernel;
	if ((s = fwd_live_set_find(t, name2)))
		*n2 = s->nkernel;
	fwd_live_free(t);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nlattr *a;

	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_GEN_ID)
			*(uint32_t *)data = ntohl(mnl_attr_get_u32(a));
	return MNL_CB_OK;
}

/* nf_tables' generation in this namespace: it goes up by one per committed
 * transaction (an aborted one, like fwd's probe, leaves it alone). */
static uint32_t nft_genid(void)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	uint32_t id = 0, seq = (uint32_t)time(NULL);
	ssize_t n;

	ck_assert(nl && mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	ck_assert(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0);
	n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	ck_assert(n > 0);
	ck_assert(mnl_cb_run(buf, (size_t)n, seq, mnl_socket_get_portid(nl), gen_cb, &id) >= 0);
	mnl_socket_close(nl);
	return id;
}

/* ---- the daemon ---- */

struct daemon {
	pid_t pid;
	char *log;
	char *config, *state;
	int notify_fd;			/* our NOTIFY_SOCKET, or -1 */
	char notify_env[300];
};

static void notify_open(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *path = nn_path(&E, "notify.sock");
	int big = 1 << 20;

	unlink(path);
	ck_assert(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	d->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert(d->notify_fd >= 0);
	ck_assert_msg(bind(d->notify_fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "bind %s: %s", path, strerror(errno));
	setsockopt(d->notify_fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	snprintf(d->notify_env, sizeof(d->notify_env), "NOTIFY_SOCKET=%s", path);
}

/* Wait (bounded) for a notification containing `what` (READY=1 after a
 * reload, whatever its outcome). */
static bool notify_wait(struct daemon *d, const char *what, double secs)
{
	double end = nn_now() + secs;
	char buf[4096];

	for (;;) {
		struct pollfd pf = { .fd = d->notify_fd, .events = POLLIN };
		double left = end - nn_now();
		ssize_t n;

		if (left <= 0)
			return false;
		if (poll(&pf, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = recv(d->notify_fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, what))
			return true;
	}
}

static void notify_drain(struct daemon *d)
{
	char buf[4096];

	while (recv(d->notify_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Start `fwd -c config --state-dir state` with our NOTIFY_SOCKET; returns
 * at once (see daemon_ready). */
static void daemon_spawn(struct daemon *d, const char *config, const char *state,
			 const char *logname, void (*prep)(void))
{
	const char *argv[8], *env[2] = { NULL, NULL };
	struct nn_spawn_opts o = { .env = env, .prep = prep };

	memset(d, 0, sizeof(*d));
	d->notify_fd = -1;
	d->config = nn_keep(strdup(config));
	d->state = nn_keep(strdup(state));
	d->log = nn_path(&E, logname);
	notify_open(d);
	env[0] = d->notify_env;
	fwd_argv(argv, false, d->config, d->state);
	d->pid = nn_spawn(&E, -1, d->log, argv, &o);
}

static size_t applied_count(const struct daemon *d)
{
	return nn_count_in_file(d->log, "fwd: applied ");
}

/* READY=1: the rules are live and signals wait for the event loop (a
 * SIGHUP before that may end fwd, as it would for systemd). */
static void daemon_ready(struct daemon *d)
{
	ck_assert_msg(notify_wait(d, "READY=1", 20), "fwd sent no READY=1 within 20 s:\n%s",
		      nn_slurp_or_empty(d->log));
}

/* Start the daemon, wait until it is ready, and check that the log says
 * `until` (default: that it applied the policy; e.g. "degraded"). */
static void daemon_start(struct daemon *d, const char *config, const char *state,
			 const char *logname, const char *until)
{
	daemon_spawn(d, config, state, logname, NULL);
	daemon_ready(d);
	ck_assert_msg(nn_wait_for(d->log, until ? until : "fwd: applied ", 1, 2),
		      "fwd is ready but did not log '%s':\n%s",
		      until ? until : "fwd: applied", nn_slurp_or_empty(d->log));
}

static void daemon_stop(struct daemon *d)
{
	int rc = nn_stop(&E, d->pid, 10);

	ck_assert_msg(rc == 0, "fwd exited %d on SIGTERM:\n%s", rc, nn_slurp_or_empty(d->log));
	if (d->notify_fd >= 0)
		close(d->notify_fd);
	memset(d, 0, sizeof(*d));
}

/* Replace a file the way an editor or config management does: write a
 * temporary, rename it over (fwd never reads a half-written file). */
static void replace_file(const char *path, const char *text)
{
	char *tmp;

	if (asprintf(&tmp, "%s.tmp", path) < 0)
		abort();
	nn_write_file(tmp, "%s", text);
	ck_assert_msg(rename(tmp, path) == 0, "rename %s: %s", tmp, strerror(errno));
	free(tmp);
}

/* N single sources for a list file: 198.18.0.0/15 first, then 2001:db8::/32
 * (the same scheme as bench/lib.sh). */
static void write_sources(const char *path, size_t n, size_t first)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f, "cannot write %s", path);
	fprintf(f, "# %zu single sources\n", n);
	for (size_t k = first; k < first + n; k++) {
		if (k < 131072)
			fprintf(f, "198.%zu.%zu.%zu\n", 18 + k / 65536, (k / 256) % 256, k % 256);
		else
			fprintf(f, "2001:db8:%zx::%zx\n", k / 65536, k % 65536);
	}
	ck_assert(fclose(f) == 0);
}

/* ==================================================================== */
/* 1. kill -9 at random moments                                         */
/* ==================================================================== */

static const char policy_a[] =
	"[defaults]\n"
	"inbound = deny\n"
	"icmp = essential\n"
	"\n"
	"[list admins]\n"
	"members = 192.0.2.0/28, 2001:db8:1::/64, 198.51.100.7\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @admins\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp, 443/tcp\n"
	"allow = any\n";

static const char policy_b[] =
	"[defaults]\n"
	"inbound = reject\n"
	"icmp = all\n"
	"log = off\n"
	"\n"
	"[list big]\n"
	"file = b-hosts.txt\n"
	"\n"
	"[list nets]\n"
	"file = b-nets.txt\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @big, @nets\n"
	"\n"
	"[service dns]\n"
	"ports = 53\n"
	"allow = @nets, 2001:db8:5::/48\n";

struct ab {
	char *conf[2];			/* A, B */
	char *list[2], *rb[2];		/* their listings and readbacks */
	char *state;
};

/* The two policies, applied once each (unkilled) to record what the kernel
 * holds for them. */
static void ab_setup(struct ab *ab, size_t bhosts)
{
	char *p, *out;
	FILE *f;

	ab->conf[0] = nn_path(&E, "a.conf");
	ab->conf[1] = nn_path(&E, "b.conf");
	ab->state = nn_path(&E, "state");
	nn_write_file(ab->conf[0], "%s", policy_a);
	nn_write_file(ab->conf[1], "%s", policy_b);
	p = nn_path(&E, "b-hosts.txt");
	write_sources(p, bhosts, 0);
	p = nn_path(&E, "b-nets.txt");
	f = fopen(p, "w");
	ck_assert(f);
	for (unsigned k = 0; k < 200; k++)	/* apart, clear of the hosts above */
		fprintf(f, "198.19.%u.%u/30\n", 200 + k / 32, (k % 32) * 8);
	ck_assert(fclose(f) == 0);
	for (int i = 0; i < 2; i++) {
		int rc = oneshot(ab->conf[i], ab->state, &out);

		ck_assert_msg(rc == 0, "fwd --oneshot %s exited %d:\n%s", ab->conf[i], rc, out);
		free(out);
		ab->list[i] = nn_keep(listing());
		ab->rb[i] = nn_keep(readback());
		ck_assert_msg(ab->list[i], "no table after applying %s", ab->conf[i]);
	}
	ck_assert_msg(!same(ab->list[0], ab->list[1]), "A and B list the same");
	fprintf(stderr, "faults: kill9: A = %s\nfaults: kill9: B = %s\n", ab->rb[0], ab->rb[1]);
}

/* Which of A (0) or B (1) the kernel holds; fails the test on anything
 * else, saying what it is. */
static int ab_which(const struct ab *ab, const char *when)
{
	char *l = listing(), *r = readback(), d1[800], d2[800];
	int which = same(l, ab->list[0]) ? 0 : same(l, ab->list[1]) ? 1 : -1;

	if (which < 0) {
		fprintf(stderr, "faults: kill9: %s: the kernel holds neither A nor B:\n%s\n",
			when, l ? l : "(no table)");
		ck_abort_msg("%s: the kernel holds neither A nor B (readback: %s)\n"
			     "vs A: %s\nvs B: %s", when, r,
			     first_diff(ab->list[0], l, d1, sizeof(d1)),
			     first_diff(ab->list[1], l, d2, sizeof(d2)));
	}
	ck_assert_msg(strcmp(r, ab->rb[which]) == 0,
		      "%s: nft lists %c but the netlink readback differs:\n%s\nvs\n%s",
		      when, "AB"[which], r, ab->rb[which]);
	free(l);
	free(r);
	return which;
}

static double median3(double a, double b, double c)
{
	return a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
}

/* Median wall time of three unkilled --oneshot runs. */
static double time_oneshot(const char *conf, const char *state)
{
	double t[3];
	char *out;

	for (int i = 0; i < 3; i++) {
		double t0 = nn_now();

		ck_assert_int_eq(oneshot(conf, state, &out), 0);
		t[i] = nn_now() - t0;
		free(out);
	}
	return median3(t[0], t[1], t[2]);
}

START_TEST(test_kill9)
{
	const long kills = knob("FWD_FAULTS_KILLS", 200);
	const long dkills = knob("FWD_FAULTS_DAEMON_KILLS", 50);
	long landed = 0, exited = 0, committed = 0, kept = 0, nlist = 0;
	long d_committed = 0, d_kept = 0, d_start = 0;
	double ta, tb, maxd, t0;
	struct ab ab;
	char when[160], *klog;
	int cur;

	if (!tu_need_root())
		return;
	nn_up(&E, false);
	nn_enter(&E, NN_SRV);
	rng_seed("kill9");
	ab_setup(&ab, 1000);
	klog = nn_path(&E, "kill.log");

	/* Kill anywhere from before the probe to after the commit: from 0 to
	 * 1.5x the time a whole run takes here (at least 30 ms) to start with,
	 * then the window follows the machine's load so that about one kill
	 * in five comes after the run ended and the rest while it runs. */
	ta = time_oneshot(ab.conf[0], ab.state);
	tb = time_oneshot(ab.conf[1], ab.state);
	maxd = 1.5 * (ta > tb ? ta : tb);
	if (maxd < 0.030)
		maxd = 0.030;
	fprintf(stderr, "faults: kill9: --oneshot takes %.1f ms (A), %.1f ms (B); "
		"kills at 0-%.1f ms\n", ta * 1e3, tb * 1e3, maxd * 1e3);
	cur = ab_which(&ab, "after calibration");

	t0 = nn_now();
	for (long i = 0; i < kills; i++) {
		int target = (int)(i % 2), st, now_holds;
		const char *argv[8];
		uint64_t us = rng() % (uint64_t)(maxd * 1e6);
		pid_t pid;

		fwd_argv(argv, true, ab.conf[target], ab.state);
		unlink(klog);
		pid = nn_spawn(&E, -1, klog, argv, NULL);
		nn_msleep(0);
		{
			struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
		}
		if (waitpid(pid, &st, WNOHANG) == pid) {
			exited++;
			maxd = maxd * 0.92 < 0.005 ? 0.005 : maxd * 0.92;
			ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
				      "unkilled --oneshot %c failed (status %#x):\n%s", "AB"[target],
				      st, nn_slurp_or_empty(klog));
			nn_forget(&E, pid);	/* reaped: never signal that pid again */
		} else {
			landed++;
			maxd = maxd * 1.03 > 2 ? 2 : maxd * 1.03;
			nn_kill(&E, pid);
		}
		snprintf(when, sizeof(when), "oneshot kill %ld/%ld (applying %c, killed at %.3f ms)",
			 i + 1, kills, "AB"[target], (double)us / 1e3);
		now_holds = ab_which(&ab, when);
		nlist++;
		if (now_holds == target && cur != target)
			committed++;
		else if (now_holds == cur)
			kept++;
		cur = now_holds;
	}
	fprintf(stderr, "faults: kill9: %ld --oneshot runs in %.1f s: %ld killed while running, "
		"%ld had exited; the table switched to the new policy %ld times and kept the "
		"old one %ld times; always A or B whole (kill window at the end: 0-%.1f ms)\n",
		kills, nn_now() - t0, landed, exited, committed, kept, maxd * 1e3);

	/* The daemon: start it on the live file, swap the file, SIGHUP, kill
	 * it at a random moment of the re-apply (or, one time in five, of its
	 * start-up apply). */
	{
		char *live = nn_path(&E, "live.conf"), *text[2];

		double dmax;

		text[0] = nn_slurp_or_empty(ab.conf[0]);
		text[1] = nn_slurp_or_empty(ab.conf[1]);
		/* A re-apply is quicker than a --oneshot (no exec, no probe):
		 * kill within 1.5x of what a SIGHUP to B takes here, then let
		 * the window follow the load as above (about half of the kills
		 * before the commit, half after). */
		{
			struct daemon d;
			double ts;

			replace_file(live, text[0]);
			daemon_start(&d, live, ab.state, "daemon-kill.log", NULL);
			replace_file(live, text[1]);
			notify_drain(&d);
			ts = nn_now();
			kill(d.pid, SIGHUP);
			ck_assert_msg(notify_wait(&d, "READY=1", 20) && applied_count(&d) == 2,
				      "the re-apply of B failed:\n%s", nn_slurp_or_empty(d.log));
			dmax = 1.5 * (nn_now() - ts);
			if (dmax < 0.005)
				dmax = 0.005;
			fprintf(stderr, "faults: kill9: a SIGHUP re-apply of B takes %.1f ms; "
				"daemon kills at 0-%.1f ms after it\n", (nn_now() - ts) * 1e3,
				dmax * 1e3);
			daemon_stop(&d);
			unlink(nn_path(&E, "daemon-kill.log"));
		}
		t0 = nn_now();
		for (long i = 0; i < dkills; i++) {
			int from = (int)(i % 2), now_holds;
			bool at_start = rng() % 5 == 0;
			uint64_t us = rng() % (uint64_t)((at_start ? maxd : dmax) * 1e6);
			struct daemon d;
			struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };

			replace_file(live, text[from]);
			daemon_spawn(&d, live, ab.state, "daemon-kill.log", NULL);
			if (!at_start) {
				daemon_ready(&d);
				cur = ab_which(&ab, "daemon started");
				replace_file(live, text[!from]);
				kill(d.pid, SIGHUP);
			} else {
				d_start++;
			}
			while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
				;
			nn_kill(&E, d.pid);
			snprintf(when, sizeof(when), "daemon kill %ld/%ld (%s %c, killed at %.3f ms)",
				 i + 1, dkills, at_start ? "starting with" : "re-applying",
				 "AB"[at_start ? from : !from], (double)us / 1e3);
			now_holds = ab_which(&ab, when);
			nlist++;
			/* keep the re-apply kills on both sides of the commit */
			if (!at_start && now_holds != cur) {
				d_committed++;
				dmax = dmax * 0.9 < 0.001 ? 0.001 : dmax * 0.9;
			} else if (!at_start) {
				d_kept++;
				dmax = dmax * 1.1 > 1 ? 1 : dmax * 1.1;
			}
			cur = now_holds;
			unlink(d.log);
			close(d.notify_fd);
		}
		fprintf(stderr, "faults: kill9: %ld daemons killed in %.1f s (%ld during start-up, "
			"%ld during a SIGHUP re-apply: %ld switched, %ld kept the old table); "
			"always A or B whole\n", dkills, nn_now() - t0, d_start, dkills - d_start,
			d_committed, d_kept);
		free(text[0]);
		free(text[1]);

		/* The last good copy in the state dir survived the kills
		 * whole: a start with a broken file falls back to A or B. */
		{
			struct daemon d;

			replace_file(live, "[service broken]\nports = 0/tcp\nallow = any\n");
			daemon_start(&d, live, ab.state, "fallback.log", "degraded");
			ck_assert_msg(nn_wait_for(d.log, "last good", 1, 5),
				      "after the kills fwd did not use the last good policy:\n%s",
				      nn_slurp_or_empty(d.log));
			ab_which(&ab, "fallback to the state dir after the kills");
			nlist++;
			daemon_stop(&d);
		}
	}
	fprintf(stderr, "faults: kill9: %ld listings compared, every one A or B\n", nlist);
	nn_down(&E);
}
END_TEST

/* ==================================================================== */
/* 2. 300 reloads under fire, with one TCP echo session                 */
/* ==================================================================== */

/* The session's byte stream: position k holds pat(k), so any loss,
 * duplication or reordering shows at the exact offset. */
static uint8_t pat(uint64_t k)
{
	uint64_t x = (k + 1) * 0x9E3779B97F4A7C15ULL;

	return (uint8_t)((x >> 56) ^ (x >> 29) ^ k);
}

struct sess_result {
	long long sent, received;	/* client: bytes */
	long long mismatch_at;		/* first wrong byte, -1 if none */
	int err;			/* errno of a failed call, 0 if none */
	int early_eof;			/* the server closed before we were done */
	int clean_end;			/* all echoed, then EOF */
	double max_stall;		/* longest time with bytes outstanding and none coming back */
	char what[96];
};

struct srv_result {
	long long echoed;
	int others;			/* connections other than the session */
	int sessions;
	int err;
	char other_peer[64];
};

static bool read_full(int fd, void *buf, size_t len, double secs)
{
	double end = nn_now() + secs;
	size_t got = 0;

	while (got < len) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (nn_now() > end || poll(&pf, 1, 100) < 0)
			return false;
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		r = read(fd, (char *)buf + got, len - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int setns_named(const char *ns)
{
	char path[128];
	int fd, r;

	snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	r = setns(fd, CLONE_NEWNET);
	close(fd);
	return r;
}

/* The echo server (in srv, a child of the test process): echoes the first
 * connection from IPv4 address `from` byte for byte; any other connection
 * is counted and closed. Ends on a byte from stopfd, reports on resfd. */
static void echo_server(unsigned port, const char *from, int readyfd, int stopfd, int resfd)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct srv_result res = { 0 };
	int lfd, sfd = -1, one = 1, zero = 0;
	static char buf[65536];
	bool stop = false;
	double stop_by = 0;

	lfd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    listen(lfd, 512) != 0)
		_exit(3);
	if (write(readyfd, "R", 1) != 1)
		_exit(3);
	while (!stop || (sfd >= 0 && nn_now() < stop_by)) {
		struct pollfd pf[3] = { { .fd = lfd, .events = POLLIN },
					{ .fd = stopfd, .events = POLLIN },
					{ .fd = sfd, .events = POLLIN } };

		if (poll(pf, sfd >= 0 ? 3 : 2, 100) < 0 && errno != EINTR)
			break;
		if (pf[1].revents && !stop) {
			stop = true;
			stop_by = nn_now() + 10;
		}
		if (pf[0].revents & POLLIN) {
			struct sockaddr_in6 peer;
			socklen_t plen = sizeof(peer);
			int c = accept4(lfd, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
			struct in_addr good;

			inet_pton(AF_INET, from, &good);
			if (c >= 0 && sfd < 0 && res.sessions == 0 &&
			    IN6_IS_ADDR_V4MAPPED(&peer.sin6_addr) &&
			    !memcmp(&peer.sin6_addr.s6_addr[12], &good, 4)) {
				sfd = c;
				res.sessions++;
			} else if (c >= 0) {
				if (!res.others++)
					inet_ntop(AF_INET6, &peer.sin6_addr, res.other_peer,
						  sizeof(res.other_peer));
				close(c);
			}
		}
		if (sfd >= 0 && (pf[2].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = read(sfd, buf, sizeof(buf));

			if (r > 0) {
				for (ssize_t off = 0; off < r;) {
					ssize_t w = write(sfd, buf + off, (size_t)(r - off));

					if (w < 0 && errno == EINTR)
						continue;
					if (w <= 0) {
						res.err = errno;
						break;
					}
					off += w;
				}
				res.echoed += r;
			} else {
				if (r < 0)
					res.err = errno;
				close(sfd);
				sfd = -1;
			}
		}
	}
	if (write(resfd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(3);
	_exit(0);
}

/* The session client (in good): streams pat() at `rate` bytes/s with at
 * most 256 KiB outstanding, checks every echoed byte, and on a byte from
 * stopfd half-closes and drains the echo to EOF. Reports on resfd. */
static void echo_client(const char *ns, const char *addr, unsigned port, double rate,
			int readyfd, int stopfd, int resfd)
{
	struct sess_result res = { .mismatch_at = -1 };
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	static uint8_t out[16384], in[65536];
	/* about 50 sends a second, so that a stall shows within 20 ms */
	size_t chunk = rate / 50 < 512 ? 512 : rate / 50 > sizeof(out) ? sizeof(out) :
		       (size_t)(rate / 50);
	double next = 0, last_progress, drain_by = 0;
	bool stopping = false, shut = false;
	const long long window = 256 * 1024;
	int fd, err = 0;
	socklen_t elen = sizeof(err);
	struct pollfd pf;

	if (setns_named(ns) != 0)
		_exit(3);
	inet_pton(AF_INET, addr, &sa.sin_addr);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		_exit(3);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS) {
		res.err = errno;
		snprintf(res.what, sizeof(res.what), "connect");
		goto out;
	}
	pf = (struct pollfd){ .fd = fd, .events = POLLOUT };
	if (poll(&pf, 1, 5000) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) ||
	    err) {
		res.err = err ? err : ETIMEDOUT;
		snprintf(res.what, sizeof(res.what), "connect");
		goto out;
	}
	if (write(readyfd, "R", 1) != 1)
		_exit(3);
	next = last_progress = nn_now();
	for (;;) {
		double t = nn_now();
		bool want_send = !stopping && res.sent - res.received < window && t >= next;
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN | (want_send ? POLLOUT : 0) },
				       { .fd = stopfd, .events = POLLIN } };
		int timeout = want_send ? 0 : (int)((next > t ? next - t : 0.01) * 1000) + 1;

		if (timeout > 20)
			timeout = 20;
		if (res.sent == res.received)
			last_progress = t;
		else if (t - last_progress > res.max_stall)
			res.max_stall = t - last_progress;
		if (stopping && t > drain_by) {
			snprintf(res.what, sizeof(res.what), "echo not drained within 10 s");
			break;
		}
		if (stopping && !shut) {
			shutdown(fd, SHUT_WR);
			shut = true;
		}
		if (poll(p, stopping ? 1 : 2, timeout) < 0 && errno != EINTR) {
			res.err = errno;
			snprintf(res.what, sizeof(res.what), "poll");
			break;
		}
		if (!stopping && (p[1].revents & POLLIN)) {
			stopping = true;
			drain_by = nn_now() + 10;
		}
		if (want_send && (p[0].revents & POLLOUT)) {
			size_t n = chunk;
			ssize_t w;

			if ((long long)n > window - (res.sent - res.received))
				n = (size_t)(window - (res.sent - res.received));
			for (size_t i = 0; i < n; i++)
				out[i] = pat((uint64_t)res.sent + i);
			w = send(fd, out, n, MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				res.err = errno;
				snprintf(res.what, sizeof(res.what), "send");
				break;
			}
			if (w > 0) {
				res.sent += w;
				next += (double)w / rate;
				if (next < nn_now() - 0.1)	/* no bursts after a stall */
					next = nn_now() - 0.1;
			}
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = recv(fd, in, sizeof(in), 0);

			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r < 0) {
				res.err = errno;
				snprintf(res.what, sizeof(res.what), "recv");
				break;
			}
			if (r == 0) {
				if (stopping && res.received == res.sent)
					res.clean_end = 1;
				else
					res.early_eof = 1;
				break;
			}
			for (ssize_t i = 0; i < r && res.mismatch_at < 0; i++)
				if (in[i] != pat((uint64_t)res.received + (uint64_t)i))
					res.mismatch_at = res.received + i;
			res.received += r;
			last_progress = nn_now();
			if (res.mismatch_at >= 0) {
				snprintf(res.what, sizeof(res.what), "wrong byte");
				break;
			}
		}
	}
out:
	if (write(resfd, &res, sizeof(res)) != (ssize_t)sizeof(res))
		_exit(3);
	_exit(0);
}

struct helper {
	pid_t pid;
	int ready, stop, res;		/* our ends of the pipes */
};

static void helper_fork(struct helper *h, void (*run)(struct helper *, int, int, int))
{
	int rp[2], sp[2], xp[2];

	ck_assert(pipe2(rp, O_CLOEXEC) == 0 && pipe2(sp, O_CLOEXEC) == 0 &&
		  pipe2(xp, O_CLOEXEC) == 0);
	h->pid = fork();
	ck_assert(h->pid >= 0);
	if (h->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(rp[0]);
		close(sp[1]);
		close(xp[0]);
		run(h, rp[1], sp[0], xp[1]);
		_exit(3);
	}
	close(rp[1]);
	close(sp[0]);
	close(xp[1]);
	h->ready = rp[0];
	h->stop = sp[1];
	h->res = xp[0];
	nn_adopt(&E, h->pid);
	{
		char c;

		ck_assert_msg(read_full(h->ready, &c, 1, 10), "helper %d did not get ready",
			      (int)h->pid);
	}
}

static double session_rate;

static void run_server(struct helper *h, int ready, int stop, int res)
{
	echo_server(7, NN_GOOD4, ready, stop, res);
}

static void run_client(struct helper *h, int ready, int stop, int res)
{
	echo_client(E.ns[NN_GOOD], NN_SRV4_G, 7, session_rate, ready, stop, res);
}

static const char policy_fire_fmt[] =
	"[defaults]\n"
	"inbound = deny\n"
	"icmp = essential\n"
	"\n"
	"[list good]\n"
	"members = " NN_GOOD4 ", " NN_GOOD6 "%s\n"
	"\n"
	"[service echo]\n"
	"ports = 7/tcp\n"
	"allow = @good\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @good%s\n"
	"\n"
	"[service dns]\n"
	"ports = 53/udp\n"
	"allow = @good\n"
	"%s";

START_TEST(test_reload_fire)
{
	const long reloads = knob("FWD_FAULTS_RELOADS", 300);
	const double secs = (double)knob("FWD_FAULTS_RELOAD_SECS", 30);
	char *live, *policy[2], *rules, *flog[4], *sinklog, summary[1024];
	unsigned long long bad_pre, bad_udp, bad_tcp, good_pre, good_post;
	struct sess_result cr;
	struct srv_result sr;
	struct helper srv, cli;
	struct daemon d;
	double t0, worst = 0, took;
	long sink, conn = 0;
	pid_t floods[4], sinkpid;

	if (!tu_need_root())
		return;
	nn_up(&E, true);
	nn_enter(&E, NN_SRV);
	live = nn_path(&E, "fwd.conf");
	{
		char *many = nn_path(&E, "many.txt");

		write_sources(many, 500, 1000);
	}
	/* Two valid policies, both allowing the good host on 7/tcp; the
	 * second has more members and a list file, so every re-apply really
	 * rebuilds sets. */
	if (asprintf(&policy[0], policy_fire_fmt, "", "", "") < 0 ||
	    asprintf(&policy[1], policy_fire_fmt, ", 203.0.113.9, 2001:db8:9::/48",
		     ", @many", "\n[list many]\nfile = many.txt\n") < 0)
		abort();
	nn_keep(policy[0]);
	nn_keep(policy[1]);
	replace_file(live, policy[0]);
	daemon_start(&d, live, nn_path(&E, "state"), "fwd.log", NULL);

	rules = nn_path(&E, "fwdtest.nft");
	nn_write_file(rules,
		"table inet fwdtest {\n"
		"  counter bad_pre { }\n  counter bad_udp_post { }\n  counter bad_tcp_post { }\n"
		"  counter good_pre { }\n  counter good_post { }\n"
		"  chain pre {\n"
		"    type filter hook input priority -300; policy accept;\n"
		"    ip saddr " NN_BAD4 " meta l4proto { tcp, udp } th dport { 7, 53 } counter name \"bad_pre\"\n"
		"    ip6 saddr " NN_BAD6 " meta l4proto { tcp, udp } th dport { 7, 53 } counter name \"bad_pre\"\n"
		"    ip saddr " NN_GOOD4 " tcp dport 7 counter name \"good_pre\"\n"
		"  }\n"
		"  chain post {\n"
		"    type filter hook input priority 300; policy accept;\n"
		"    ip saddr " NN_BAD4 " udp dport 53 counter name \"bad_udp_post\"\n"
		"    ip6 saddr " NN_BAD6 " udp dport 53 counter name \"bad_udp_post\"\n"
		"    ip saddr " NN_BAD4 " tcp dport 7 counter name \"bad_tcp_post\"\n"
		"    ip6 saddr " NN_BAD6 " tcp dport 7 counter name \"bad_tcp_post\"\n"
		"    ip saddr " NN_GOOD4 " tcp dport 7 counter name \"good_post\"\n"
		"  }\n"
		"}\n");
	free(nn_sh_ok("nft -f %s", rules));

	session_rate = 1 << 20;		/* 1 MiB/s each way */
	helper_fork(&srv, run_server);
	sinklog = nn_listener(&E, "sink", "udp", 53, &sinkpid);
	helper_fork(&cli, run_client);

	for (int i = 0; i < 4; i++) {
		char name[16];

		snprintf(name, sizeof(name), "flood%d.log", i);
		flog[i] = nn_path(&E, name);
	}
	{
		char tmo[16];

		snprintf(tmo, sizeof(tmo), "%.0f", secs * 4 + 60);
		floods[0] = nn_spawn(&E, NN_BAD, flog[0], (const char *[]){ NN_NETTOOL, "flood",
			"udp", NN_SRV4_B, "53", "--rate", "20000", "--timeout", tmo, NULL }, NULL);
		floods[1] = nn_spawn(&E, NN_BAD, flog[1], (const char *[]){ NN_NETTOOL, "flood",
			"udp", NN_SRV6_B, "53", "--rate", "20000", "--timeout", tmo, NULL }, NULL);
		floods[2] = nn_spawn(&E, NN_BAD, flog[2], (const char *[]){ NN_NETTOOL, "flood",
			"tcp", NN_SRV4_B, "7", "--rate", "1000", "--timeout", tmo, NULL }, NULL);
		floods[3] = nn_spawn(&E, NN_BAD, flog[3], (const char *[]){ NN_NETTOOL, "flood",
			"tcp", NN_SRV6_B, "7", "--rate", "1000", "--timeout", tmo, NULL }, NULL);
	}
	nn_msleep(300);

	t0 = nn_now();
	for (long i = 0; i < reloads; i++) {
		double ts = nn_now(), due = t0 + (double)(i + 1) * secs / (double)reloads;

		ck_assert_msg(nn_alive(d.pid), "fwd died during the reloads:\n%s",
			      nn_slurp_or_empty(d.log));
		replace_file(live, policy[(i + 1) % 2]);
		notify_drain(&d);
		kill(d.pid, SIGHUP);
		ck_assert_msg(notify_wait(&d, "READY=1", 20) &&
			      nn_wait_for(d.log, "fwd: applied ", (size_t)(2 + i), 1),
			      "reload %ld/%ld not applied within 20 s:\n%s", i + 1, reloads,
			      nn_slurp_or_empty(d.log));
		if (nn_now() - ts > worst)
			worst = nn_now() - ts;
		while (nn_now() < due)
			nn_msleep((unsigned)((due - nn_now()) * 1000) + 1);
	}
	took = nn_now() - t0;
	fprintf(stderr, "faults: reload_fire: %ld re-applies in %.2f s (slowest %.0f ms)\n",
		reloads, took, worst * 1e3);
	nn_msleep(300);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(nn_stop(&E, floods[i], 10), 0);

	/* the session: stop, drain, report */
	ck_assert(write(cli.stop, "S", 1) == 1);
	ck_assert_msg(read_full(cli.res, &cr, sizeof(cr), 20), "no result from the client");
	ck_assert(write(srv.stop, "S", 1) == 1);
	ck_assert_msg(read_full(srv.res, &sr, sizeof(sr), 20), "no result from the server");
	nn_msleep(100);

	bad_pre = nn_counter_packets(NULL, "bad_pre");
	bad_udp = nn_counter_packets(NULL, "bad_udp_post");
	bad_tcp = nn_counter_packets(NULL, "bad_tcp_post");
	good_pre = nn_counter_packets(NULL, "good_pre");
	good_post = nn_counter_packets(NULL, "good_post");
	ck_assert_int_eq(nn_stop(&E, sinkpid, 5), 0);
	sink = nn_num_after(sinklog, "count ");
	for (int i = 0; i < 4; i++) {
		char *fl = nn_slurp_or_empty(flog[i]);

		fprintf(stderr, "faults: reload_fire: flood %d: %s", i, fl);
		free(fl);
		if (i >= 2)
			conn += nn_num_after(flog[i], "connected ");
	}
	snprintf(summary, sizeof(summary),
		 "denied host: %llu packets arrived, accepted by fwd: %llu UDP + %llu TCP; "
		 "reached the UDP socket: %ld; TCP handshakes completed: %ld, accepted by the "
		 "echo server: %d%s%s. session: %lld bytes sent, %lld echoed back (server "
		 "echoed %lld), first wrong byte %lld, %s%s%s, longest stall %.0f ms; its "
		 "packets: %llu arrived, %llu accepted",
		 bad_pre, bad_udp, bad_tcp, sink, conn, sr.others,
		 sr.others ? " first from " : "", sr.other_peer,
		 cr.sent, cr.received, sr.echoed, cr.mismatch_at,
		 cr.clean_end ? "clean end" : cr.early_eof ? "EOF before the end" : "no clean end",
		 cr.err ? ", error: " : "", cr.err ? strerror(cr.err) : "", cr.max_stall * 1e3,
		 good_pre, good_post);
	fprintf(stderr, "faults: reload_fire: %s\n", summary);

	ck_assert_msg(bad_pre > 10000, "the denied host's flood did not arrive: %s", summary);
	ck_assert_msg(bad_udp == 0 && bad_tcp == 0 && sink == 0 && conn == 0 && sr.others == 0,
		      "the denied host got through during re-applies: %s", summary);
	ck_assert_msg(cr.err == 0 && !cr.early_eof && cr.clean_end && cr.mismatch_at < 0 &&
		      cr.sent == cr.received && cr.received == sr.echoed && sr.sessions == 1 &&
		      cr.what[0] == '\0',
		      "the echo session broke (%s): %s", cr.what, summary);
	ck_assert_msg(cr.sent > (long long)(secs * session_rate / 2),
		      "the session hardly streamed: %s", summary);
	ck_assert_msg(good_pre > 100 && good_pre == good_post,
		      "packets of the allowed session dropped during re-applies: %s", summary);
	ck_assert_uint_eq(applied_count(&d), (size_t)(1 + reloads));
	ck_assert_msg(nn_alive(d.pid), "fwd died:\n%s", nn_slurp_or_empty(d.log));
	free(nn_sh_ok("nft list table inet fwdtest"));	/* fwd left our table alone */
	daemon_stop(&d);
	nn_down(&E);
}
END_TEST

/* ==================================================================== */
/* 3. the bad corpus                                                    */
/* ==================================================================== */

/*
 * Run as root without the DAC capabilities (CAP_DAC_OVERRIDE,
 * CAP_DAC_READ_SEARCH, CAP_FOWNER), as a unit with a narrower bounding set
 * would: then a mode-000 file is unreadable to fwd, as it would be to any
 * other reader. Everything else fwd does needs CAP_NET_ADMIN only.
 */
static void drop_dac_caps(void)
{
	static const int caps[] = { CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (prctl(PR_CAPBSET_DROP, caps[i], 0, 0, 0) != 0)
			_exit(126);
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	char *buf = NULL;
	size_t blen = 0, fl = strlen(from);
	FILE *f = open_memstream(&buf, &blen);
	const char *p;

	while ((p = strstr(s, from))) {
		fwrite(s, 1, (size_t)(p - s), f);
		fputs(to, f);
		s = p + fl;
	}
	fputs(s, f);
	fclose(f);
	return buf;
}

/* The error lines of a fwd log: everything after the first line that says
 * "... failed, ..." (the reload/apply failure line), up to the end. */
static char *error_lines(const char *log)
{
	const char *p = log, *start = NULL;
	char *out;

	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);

		if (memmem(p, n, " failed, ", 9)) {
			start = nl ? nl + 1 : p + n;
			break;
		}
		p = nl ? nl + 1 : NULL;
	}
	if (start)
		return strdup(start);
	if (asprintf(&out, "(no \"... failed, ...\" line; fwd printed:)\n%.1000s", log) < 0)
		abort();
	return out;
}

/* Where a stuck process waits in the kernel (/proc/PID/wchan), for the
 * report; static buffer. */
static const char *wchan(pid_t pid)
{
	static char buf[64];
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	buf[0] = '\0';
	f = fopen(path, "r");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf[0] ? buf : "?";
}

/* Open every FIFO under dir for writing and close it again: a reader stuck
 * in open() then reads EOF. Returns how many there were. */
static int unblock_fifos(const char *dir)
{
	char *out, *line, *save = NULL;
	int n = 0;

	tu_sh(&out, "find '%s' -type p", dir);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int fd = open(line, O_WRONLY | O_NONBLOCK | O_CLOEXEC);

		if (fd >= 0) {
			close(fd);
			n++;
		}
	}
	free(out);
	return n;
}

/* A reload of any file in the corpus takes well under a second here; this
 * long without an answer means fwd is stuck. */
#define HANG_SECS 5

struct corpus_run {
	char *etc;			/* live directory: etc/fwd.conf, etc/conf.d/ */
	char *conf;
	char *corpus;			/* tests/fixtures/bad-corpus */
	char *base_list, *base_rb;	/* the running good table */
	struct daemon d;
	FILE *report;			/* failures, one paragraph each */
	int failed;
};

static void corpus_fail(struct corpus_run *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void corpus_fail(struct corpus_run *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	fprintf(r->report, "\n  %s: ", name);
	va_start(ap, fmt);
	vfprintf(r->report, fmt, ap);
	va_end(ap);
	r->failed++;
}

/* Lay out one case: etc/fwd.conf from NAME.conf, etc/conf.d/ from NAME.d/
 * (symlinks kept), then NAME.sh run by sh inside etc/ for what git cannot
 * hold (FIFOs, modes, directories in place of files, huge lines). */
static void corpus_lay_out(struct corpus_run *r, const char *base)
{
	struct stat st;
	char *p;

	free(nn_sh_ok("rm -rf '%1$s' && mkdir '%1$s' && cp '%2$s.conf' '%1$s/fwd.conf'",
		      r->etc, base));
	if (asprintf(&p, "%s.d", base) < 0)
		abort();
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		free(nn_sh_ok("cp -a '%s' '%s/conf.d'", p, r->etc));
	free(p);
	if (asprintf(&p, "%s.sh", base) < 0)
		abort();
	if (stat(p, &st) == 0)
		free(nn_sh_ok("cd '%s' && sh '%s'", r->etc, p));
	free(p);
}

/* The table must be the baseline one; false (and a report) if not. */
static bool corpus_table_same(struct corpus_run *r, const char *name, const char *after)
{
	char *l = listing(), *rb = readback(), diff[800];
	bool ok = true;

	if (!same(l, r->base_list)) {
		corpus_fail(r, name, "the running table changed after %s: %s", after,
			    first_diff(r->base_list, l, diff, sizeof(diff)));
		ok = false;
	} else if (strcmp(rb, r->base_rb) != 0) {
		corpus_fail(r, name, "the netlink readback changed after %s:\n    %s\n    vs %s",
			    after, rb, r->base_rb);
		ok = false;
	}
	free(l);
	free(rb);
	return ok;
}

static void corpus_compare(struct corpus_run *r, const char *name, const char *how,
			   const char *got, const char *want)
{
	if (strcmp(got, want) == 0)
		return;
	fprintf(stderr, "faults: bad_corpus: %s (%s): error text differs\n--- expected\n%s"
		"--- got\n%s", name, how, want, got);
	corpus_fail(r, name, "%s: error text differs from the .err file (see stderr)", how);
}

/* Put the good policy back and re-apply it (after a case that applied). */
static void corpus_restore(struct corpus_run *r, const char *good)
{
	free(nn_sh_ok("rm -rf '%1$s' && mkdir '%1$s'", r->etc));
	nn_write_file(r->conf, "%s", good);
	notify_drain(&r->d);
	kill(r->d.pid, SIGHUP);
	ck_assert_msg(notify_wait(&r->d, "READY=1", 20), "fwd did not re-apply the good policy");
}

static void corpus_case(struct corpus_run *r, const char *path, const char *good)
{
	char *base = strndup(path, strlen(path) - 5), *name = strrchr(base, '/') + 1;
	char *errpath, *want_raw, *want, *log, *got, *got_raw, *out;
	size_t before;
	bool answered;
	int rc;

	if (asprintf(&errpath, "%s.err", base) < 0)
		abort();
	want_raw = tu_slurp(errpath, NULL);
	if (!want_raw && !getenv("FWD_WRITE_ERR")) {
		corpus_fail(r, name, "no %s", errpath);
		goto done_early;
	}
	want = replace_all(want_raw ? want_raw : "", "@DIR@", r->etc);
	corpus_lay_out(r, base);

	/* SIGHUP: the daemon answers READY=1 whatever the outcome. */
	log = nn_slurp_or_empty(r->d.log);
	before = strlen(log);
	free(log);
	notify_drain(&r->d);
	kill(r->d.pid, SIGHUP);
	answered = notify_wait(&r->d, "READY=1", HANG_SECS);
	if (!answered) {
		const char *wc = wchan(r->d.pid);
		char wcs[64];
		int n;

		snprintf(wcs, sizeof(wcs), "%s", wc);
		n = unblock_fifos(r->etc);
		corpus_fail(r, name, "fwd did not finish the reload within %d s (waiting in %s%s)",
			    HANG_SECS, wcs, n ? "; unblocked the FIFO to go on" : "");
		if (!notify_wait(&r->d, "READY=1", 10))
			ck_abort_msg("%s: fwd still hangs after the FIFOs were unblocked:\n%s",
				     name, nn_slurp_or_empty(r->d.log));
	}
	log = nn_slurp_or_empty(r->d.log);
	got = error_lines(log + before);
	if (!nn_alive(r->d.pid))
		ck_abort_msg("%s: fwd died on SIGHUP:\n%s", name, log);
	if (strstr(log + before, "fwd: applied ")) {
		corpus_fail(r, name, "fwd APPLIED this file set%s",
			    answered ? "" : " (after the unblock: EOF, read as an empty file)");
		corpus_restore(r, good);
	} else {
		corpus_table_same(r, name, "SIGHUP");
	}
	if (getenv("FWD_WRITE_ERR")) {
		FILE *f = fopen(errpath, "w");

		got_raw = replace_all(got, r->etc, "@DIR@");
		ck_assert(f && fputs(got_raw, f) >= 0 && fclose(f) == 0);
		free(got_raw);
	} else if (answered) {
		corpus_compare(r, name, "SIGHUP", got, want);
	}
	free(got);
	free(log);

	/* --oneshot on the same files: non-zero, the same errors, no change.
	 * The daemon owns the table, so only its checks can run; a file set
	 * that passed them would fail on the table (EPERM), not silently. */
	corpus_lay_out(r, base);
	{
		char *olog = nn_path(&E, "oneshot.log");
		char *state = nn_path(&E, "state-oneshot");
		const char *argv[8];
		struct nn_spawn_opts o = { .prep = drop_dac_caps };
		double end = nn_now() + HANG_SECS;
		bool unblocked = false;
		pid_t pid;
		int st;

		unlink(olog);
		fwd_argv(argv, true, r->conf, state);
		pid = nn_spawn(&E, -1, olog, argv, &o);
		while (waitpid(pid, &st, WNOHANG) != pid) {
			if (nn_now() > end && !unblocked) {
				char wcs[64];
				int n;

				snprintf(wcs, sizeof(wcs), "%s", wchan(pid));
				n = unblock_fifos(r->etc);
				corpus_fail(r, name, "fwd --oneshot did not end within %d s "
					    "(waiting in %s%s)", HANG_SECS, wcs,
					    n ? "; unblocked the FIFO" : "");
				unblocked = true;
				end = nn_now() + 10;
			} else if (nn_now() > end) {
				nn_kill(&E, pid);
				ck_abort_msg("%s: fwd --oneshot still hangs", name);
			}
			nn_msleep(5);
		}
		nn_forget(&E, pid);
		rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		out = nn_slurp_or_empty(olog);
		if (rc == 0)
			corpus_fail(r, name, "fwd --oneshot exited 0:\n%s", out);
		got = error_lines(out);
		if (!getenv("FWD_WRITE_ERR") && !unblocked)
			corpus_compare(r, name, "--oneshot", got, want);
		corpus_table_same(r, name, "--oneshot");
		free(got);
		free(out);
	}
	free(want);
done_early:
	free(want_raw);
	free(errpath);
	free(base);
}

static const char policy_corpus_good[] =
	"[defaults]\n"
	"inbound = deny\n"
	"\n"
	"[list admins]\n"
	"members = 192.0.2.0/28, 2001:db8:1::/64, 198.51.100.7, 2001:db8:2::7\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = @admins\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp, 443/tcp, 443/udp\n"
	"allow = any\n"
	"\n"
	"[service dns]\n"
	"ports = 53, 5300-5310/udp\n"
	"allow = 203.0.113.0/24, 2001:db8:53::53\n";

START_TEST(test_bad_corpus)
{
	struct corpus_run r = { 0 };
	char *pattern, *rep = NULL;
	size_t replen = 0;
	glob_t g;
	double t0;

	if (!tu_need_root())
		return;
	nn_up(&E, false);
	nn_enter(&E, NN_SRV);
	r.corpus = nn_keep(tu_src("tests/fixtures/bad-corpus"));
	r.etc = nn_path(&E, "etc");
	r.conf = nn_path(&E, "etc/fwd.conf");
	if (asprintf(&pattern, "%s/*.conf", r.corpus) < 0)
		abort();
	nn_keep(pattern);
	ck_assert_msg(glob(pattern, 0, NULL, &g) == 0, "no corpus at %s", pattern);
	ck_assert_msg(g.gl_pathc >= 40, "the corpus has %zu file sets, want at least 40",
		      g.gl_pathc);

	free(nn_sh_ok("mkdir '%s'", r.etc));
	nn_write_file(r.conf, "%s", policy_corpus_good);
	{
		struct daemon *d = &r.d;

		daemon_spawn(d, r.conf, nn_path(&E, "state"), "fwd.log", drop_dac_caps);
		daemon_ready(d);
		ck_assert_msg(nn_wait_for(d->log, "fwd: applied ", 1, 2),
			      "fwd did not apply:\n%s", nn_slurp_or_empty(d->log));
	}
	r.base_list = nn_keep(listing());
	r.base_rb = nn_keep(readback());
	ck_assert(r.base_list);
	r.report = open_memstream(&rep, &replen);

	t0 = nn_now();
	for (size_t i = 0; i < g.gl_pathc; i++)
		corpus_case(&r, g.gl_pathv[i], policy_corpus_good);
	fclose(r.report);
	fprintf(stderr, "faults: bad_corpus: %zu file sets in %.1f s, each by SIGHUP and by "
		"--oneshot: %d problems%s\n", g.gl_pathc, nn_now() - t0, r.failed, rep);
	ck_assert_msg(r.failed == 0, "%d problems in the bad corpus:%s", r.failed, rep);
	ck_assert_msg(nn_alive(r.d.pid), "fwd died:\n%s", nn_slurp_or_empty(r.d.log));
	ck_assert_uint_eq(applied_count(&r.d), 1);
	free(rep);
	globfree(&g);
	daemon_stop(&r.d);
	nn_down(&E);
}
END_TEST

/* ==================================================================== */
/* 4. a million allowlist entries                                       */
/* ==================================================================== */

START_TEST(test_million)
{
	const size_t n = (size_t)knob("FWD_FAULTS_MILLION", 1000000);
	const size_t n4 = n < 131072 ? n : 131072, n6 = n - n4;
	char *small, *big, *list, *out, *l0, *rb0;
	struct rusage ru;
	uint32_t gen0, gen1;
	double t0, took;
	pid_t pid;
	int st, rc;
	const char *argv[8];

	if (!tu_need_root())
		return;
	nn_up(&E, false);
	nn_enter(&E, NN_SRV);
	small = nn_path(&E, "small.conf");
	big = nn_path(&E, "big.conf");
	list = nn_path(&E, "million.txt");
	nn_write_file(small, "%s", policy_a);
	write_sources(list, n, 0);
	nn_write_file(big,
		"[defaults]\ninbound = deny\n\n"
		"[list million]\nfile = million.txt\n\n"
		"[service ssh]\nports = 22/tcp\nallow = @million\n");

	t0 = nn_now();
	rc = oneshot(small, nn_path(&E, "state"), &out);
	ck_assert_msg(rc == 0, "small policy: exit %d:\n%s", rc, out);
	fprintf(stderr, "faults: million: list written, small policy applied in %.1f s\n",
		nn_now() - t0);
	free(out);
	l0 = nn_keep(listing());
	rb0 = nn_keep(readback());

	gen0 = nft_genid();
	fwd_argv(argv, true, big, nn_path(&E, "state"));
	t0 = nn_now();
	pid = nn_spawn(&E, -1, nn_path(&E, "million.log"), argv, NULL);
	while (wait4(pid, &st, WNOHANG, &ru) != pid) {
		ck_assert_msg(nn_now() - t0 < 240, "fwd --oneshot of %zu entries still running "
			      "after 240 s", n);
		nn_msleep(20);
	}
	nn_forget(&E, pid);
	took = nn_now() - t0;
	gen1 = nft_genid();
	rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	out = nn_slurp_or_empty(nn_path(&E, "million.log"));
	fprintf(stderr, "faults: million: fwd --oneshot of %zu entries (%zu IPv4, %zu IPv6): "
		"exit %d in %.2f s, peak RSS %ld MiB, %u transaction(s) committed\n%s",
		n, n4, n6, rc, took, ru.ru_maxrss / 1024, gen1 - gen0, out);
	if (rc == 0) {
		size_t c4, c6;

		ck_assert_msg(gen1 - gen0 == 1, "applied in %u transactions, not one", gen1 - gen0);
		t0 = nn_now();
		set_counts("allow4", &c4, "allow6", &c6);
		ck_assert_msg(c4 == n4 && c6 == n6, "readback: allow4 %zu (want %zu), allow6 %zu "
			      "(want %zu)", c4, n4, c6, n6);
		fprintf(stderr, "faults: million: readback (%.1f s) allow4 %zu, allow6 %zu: exact\n",
			nn_now() - t0, c4, c6);
	} else {
		/* Refused: say why, and change nothing at all. */
		char *l1 = nn_keep(listing()), *rb1 = nn_keep(readback()), diff[800];

		ck_assert_msg(strstr(out, "fwd: ") && strlen(out) > 20,
			      "refused without a clear error: '%s'", out);
		ck_assert_msg(gen1 == gen0, "a refused apply committed %u transaction(s)",
			      gen1 - gen0);
		ck_assert_msg(same(l0, l1) && strcmp(rb0, rb1) == 0,
			      "the previous table is not intact: %s; readback %s vs %s",
			      first_diff(l0, l1, diff, sizeof(diff)), rb1, rb0);
	}
	free(out);
	t0 = nn_now();
	nn_down(&E);
	fprintf(stderr, "faults: million: namespace removed in %.1f s\n", nn_now() - t0);
}
END_TEST

/* ==================================================================== */
/* 5. start-up fallback: last good, lockdown                            */
/* ==================================================================== */

static const char policy_fallback_good[] =
	"[defaults]\n"
	"inbound = deny\n"
	"rescue = " NN_GOOD4 "\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = " NN_GOOD4 ", " NN_GOOD6 "\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp\n"
	"allow = any\n";

/* The same with an error further down: the rescue line is still readable. */
static const char policy_fallback_bad[] =
	"[defaults]\n"
	"inbound = deny\n"
	"rescue = " NN_GOOD4 "\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = " NN_GOOD4 ", " NN_GOOD6 "\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp\n"
	"allow = 192.0.2.0/33\n";

static void run_bad_client(struct helper *h, int ready, int stop, int res)
{
	/* from the denied host, to the port open to anyone: an established
	 * connection that must outlive the switch to the lockdown table */
	echo_client(E.ns[NN_BAD], NN_SRV4_B, 80, session_rate, ready, stop, res);
}

static void run_server80(struct helper *h, int ready, int stop, int res)
{
	echo_server(80, NN_BAD4, ready, stop, res);
}

START_TEST(test_fallback)
{
	struct nn_probes ps = { .n = 0 };
	char *live, *state, *empty, *lgood, *l, *log, diff[800];
	struct helper srv, cli;
	struct sess_result cr;
	struct srv_result sr;
	struct daemon d;

	if (!tu_need_root())
		return;
	nn_up(&E, true);
	nn_enter(&E, NN_SRV);
	live = nn_path(&E, "fwd.conf");
	state = nn_path(&E, "state");
	empty = nn_path(&E, "state-empty");
	nn_listener(&E, "listen", "tcp", 22, NULL);
	nn_listener(&E, "listen", "tcp", 9999, NULL);

	/* 1. A good policy applies and is saved as the last good one. */
	replace_file(live, policy_fallback_good);
	daemon_start(&d, live, state, "fwd1.log", NULL);
	lgood = nn_keep(listing());
	daemon_stop(&d);

	session_rate = 20000;
	helper_fork(&srv, run_server80);
	helper_fork(&cli, run_bad_client);

	/* 2. The file breaks; fwd restarts: the last good table, degraded. */
	replace_file(live, policy_fallback_bad);
	daemon_start(&d, live, state, "fwd2.log", "degraded");
	log = nn_slurp_or_empty(d.log);
	ck_assert_msg(strstr(log, "last good"), "not the last good policy:\n%s", log);
	ck_assert_msg(strstr(log, "192.0.2.0/33"), "the error is not logged:\n%s", log);
	free(log);
	l = listing();
	ck_assert_msg(same(l, lgood), "the fallback is not the last good table: %s",
		      first_diff(lgood, l, diff, sizeof(diff)));
	free(l);
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV6_G " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 9999");
	nn_probes_run(&E, &ps);
	ck_assert(nn_alive(d.pid));
	daemon_stop(&d);

	/* 3. No last good policy (empty state dir): lockdown. Loopback and
	 * established connections only, SSH from the rescue source. */
	daemon_start(&d, live, empty, "fwd3.log", "degraded");
	log = nn_slurp_or_empty(d.log);
	ck_assert_msg(strstr(log, "lockdown"), "no lockdown:\n%s", log);
	free(log);
	l = readback();
	fprintf(stderr, "faults: fallback: the lockdown table: %s\n", l);
	free(l);
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");	/* rescue */
	nn_probe(&ps, NN_GOOD, NN_DROP, "connect tcp " NN_SRV6_G " 22");
	nn_probe(&ps, NN_GOOD, NN_DROP, "connect tcp " NN_SRV4_G " 9999");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 80");	/* new flows: no */
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV6_B " 80");
	nn_probe(&ps, NN_SRV, NN_OK, "connect tcp 127.0.0.1 22");		/* loopback */
	nn_probe(&ps, NN_SRV, NN_OK, "connect tcp ::1 22");
	nn_probes_run(&E, &ps);
	nn_msleep(500);

	/* the established session streamed through all of it */
	ck_assert(write(cli.stop, "S", 1) == 1);
	ck_assert_msg(read_full(cli.res, &cr, sizeof(cr), 20), "no result from the client");
	ck_assert(write(srv.stop, "S", 1) == 1);
	ck_assert_msg(read_full(srv.res, &sr, sizeof(sr), 20), "no result from the server");
	fprintf(stderr, "faults: fallback: established session through the restarts: %lld "
		"bytes sent, %lld echoed, longest stall %.0f ms, %s\n", cr.sent, cr.received,
		cr.max_stall * 1e3, cr.clean_end ? "clean end" : cr.what);
	ck_assert_msg(cr.err == 0 && cr.clean_end && cr.mismatch_at < 0 && cr.sent == cr.received &&
		      cr.sent > 20000, "the established session did not survive: %s %s (%lld/%lld)",
		      cr.what, cr.err ? strerror(cr.err) : "", cr.received, cr.sent);
	ck_assert(nn_alive(d.pid));
	daemon_stop(&d);

	/* 4. A damaged last good copy is refused whole: lockdown again. */
	{
		char *f = nn_path(&E, "state/last-good.ir");
		struct stat st;
		int fd = open(f, O_RDWR);
		char c;

		ck_assert_msg(fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 64,
			      "no last good copy at %s", f);
		ck_assert(pread(fd, &c, 1, st.st_size / 2) == 1);
		c ^= 0x40;
		ck_assert(pwrite(fd, &c, 1, st.st_size / 2) == 1);
		close(fd);
		daemon_start(&d, live, state, "fwd4.log", "degraded");
		log = nn_slurp_or_empty(d.log);
		ck_assert_msg(strstr(log, "unusable") && strstr(log, "lockdown"),
			      "a damaged last good copy was not refused:\n%s", log);
		free(log);
		nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");
		nn_probe(&ps, NN_GOOD, NN_DROP, "connect tcp " NN_SRV6_G " 22");
		nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 80");
		nn_probes_run(&E, &ps);
		daemon_stop(&d);
	}
	nn_down(&E);
}
END_TEST

/*
 * The same fallback with [guard]: the last good policy brings the guard's
 * queue step along (its queues and per-source meters, state.c version 4).
 * Before, the state file lost fwd_ir.queue, the meter rules named sets
 * that were not made, and fwd fell to the lockdown ruleset: SSH from the
 * allowed host was cut by a typo in the file.
 */
static const char policy_guard_good[] =
	"[defaults]\n"
	"inbound = deny\n"
	"queues = 2\n"
	"\n"
	"[guard]\n"
	"scan = 10 ports / 5s\n"
	"flood = 100 / 5s\n"
	"block = 1h\n"
	"\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = " NN_GOOD4 ", " NN_GOOD6 "\n";

START_TEST(test_fallback_guard)
{
	struct nn_probes ps = { .n = 0 };
	char *live, *state, *lgood, *l, *log, diff[800];
	struct daemon d;

	if (!tu_need_root())
		return;
	nn_up(&E, true);
	nn_enter(&E, NN_SRV);
	live = nn_path(&E, "fwd.conf");
	state = nn_path(&E, "state");
	nn_listener(&E, "listen", "tcp", 22, NULL);
	nn_listener(&E, "listen", "tcp", 9999, NULL);

	replace_file(live, policy_guard_good);
	daemon_start(&d, live, state, "fwd1.log", NULL);
	lgood = nn_keep(listing());
	ck_assert_msg(strstr(lgood, "update @meter4") && strstr(lgood, "queue"),
		      "no queue step to carry:\n%s", lgood);
	daemon_stop(&d);

	replace_file(live, "[service broken\n");
	daemon_start(&d, live, state, "fwd2.log", "degraded");
	log = nn_slurp_or_empty(d.log);
	ck_assert_msg(strstr(log, "last good") && !strstr(log, "lockdown"),
		      "not the last good policy:\n%s", log);
	free(log);
	l = listing();
	ck_assert_msg(same(l, lgood), "the fallback is not the last good table: %s",
		      first_diff(lgood, l, diff, sizeof(diff)));
	free(l);
	ck_assert_msg(nn_wait_for(d.log, "verdict loop: bound queue 1", 1, 5),
		      "the guard's queues are not bound:\n%s", nn_slurp_or_empty(d.log));
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV6_G " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 9999");
	nn_probes_run(&E, &ps);
	ck_assert(nn_alive(d.pid));
	daemon_stop(&d);
	nn_down(&E);
}
END_TEST

/* ==================================================================== */
/* 6. the state directory is trusted only as far as it can be           */
/*    (security review, issue 9, findings 6 and 7)                      */
/* ==================================================================== */

/* Compiles to an input chain with policy accept: every port open. */
static const char policy_open[] =
	"[defaults]\n"
	"inbound = allow\n";

/* Broken too, but what can be read of it says inbound = allow. */
static const char policy_open_bad[] =
	"[defaults]\n"
	"inbound = allow\n"
	"\n"
	"[service web]\n"
	"ports = 80/tcp\n"
	"allow = 192.0.2.0/33\n";

/* A compiled policy as fwd saves it: `fwd --oneshot` of `text` into a
 * scratch state dir; the path of its last-good.ir (kept). */
static char *compiled_ir(const char *text, const char *name)
{
	char *conf, *dir, *out, *ir;
	int rc;

	if (asprintf(&conf, "%s/%s.conf", E.dir, name) < 0 ||
	    asprintf(&dir, "%s/%s.state", E.dir, name) < 0 ||
	    asprintf(&ir, "%s/%s.state/last-good.ir", E.dir, name) < 0)
		abort();
	nn_write_file(conf, "%s", text);
	rc = oneshot(conf, dir, &out);
	ck_assert_msg(rc == 0 && access(ir, F_OK) == 0, "fwd --oneshot -c %s: %d, no %s:\n%s",
		      conf, rc, ir, out);
	free(out);
	free(conf);
	free(dir);
	return nn_keep(ir);
}

/* A new state directory as fwd makes it (root, 0700); its path (kept). */
static char *fresh_state(const char *name)
{
	char *dir = nn_path(&E, name);

	free(nn_sh_ok("rm -rf '%s'", dir));
	ck_assert_msg(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
	return dir;
}

/* cp src dir/name, mode 0600 (fwd's own files are). */
static void put_state(const char *src, const char *dir, const char *name)
{
	free(nn_sh_ok("cp '%s' '%s/%s' && chmod 600 '%s/%s'", src, dir, name, dir, name));
}

/* Start the daemon and wait for READY=1 carrying `status` (the systemd
 * status line; fwctl status prints the same degraded text), then for
 * `until` in the log. */
static void daemon_start_status(struct daemon *d, const char *config, const char *state,
				const char *logname, const char *status, const char *until)
{
	daemon_spawn(d, config, state, logname, NULL);
	ck_assert_msg(notify_wait(d, status, 20), "fwd sent no '%s' within 20 s:\n%s",
		      status, nn_slurp_or_empty(d->log));
	ck_assert_msg(nn_wait_for(d->log, until, 1, 2), "fwd did not log '%s':\n%s", until,
		      nn_slurp_or_empty(d->log));
}

/* The log of a daemon must say `what`. */
static void log_says(const struct daemon *d, const char *what)
{
	char *log = nn_slurp_or_empty(d->log);

	ck_assert_msg(strstr(log, what), "the log does not say '%s':\n%s", what, log);
	free(log);
}

/*
 * Planted state files (issue 9, finding 6), each with the real daemon and
 * real traffic:
 *  - a last good policy compiled from `inbound = allow`, with broken files
 *    that do not say allow: refused, lockdown (port 9999 stays closed); the
 *    same with broken files that say allow: applied, loudly;
 *  - a confirm deadline that is not a time: the (open) rollback point is
 *    ignored, not applied as "expired";
 *  - a FIFO as last-good.ir or confirm-deadline: fwd still reaches READY
 *    and answers SIGTERM;
 *  - a state directory with group/other access, owned by another user or
 *    reached through a symlink, and a last-good.ir owned by another user or
 *    a symlink: refused with the reason, lockdown; put right, the same last
 *    good policy applies.
 */
START_TEST(test_state_trust)
{
	static const char *const bad_deadlines[] = { "garbage\n", "+1\n", "", "0\n" };
	struct nn_probes ps = { .n = 0 };
	char *live, *open_ir, *good_ir, *st, *f, *link;
	struct daemon d;

	if (!tu_need_root())
		return;
	nn_up(&E, true);
	nn_enter(&E, NN_SRV);
	live = nn_path(&E, "fwd.conf");
	nn_listener(&E, "listen", "tcp", 22, NULL);
	nn_listener(&E, "listen", "tcp", 80, NULL);
	nn_listener(&E, "listen", "tcp", 9999, NULL);
	open_ir = compiled_ir(policy_open, "mk-open");
	good_ir = compiled_ir(policy_fallback_good, "mk-good");

	/* 1. An open last good policy, broken files that say deny: refused. */
	st = fresh_state("s-open");
	put_state(open_ir, st, "last-good.ir");
	replace_file(live, policy_fallback_bad);
	daemon_start_status(&d, live, st, "open1.log", "the last good policy was refused: "
			    "it accepts all inbound traffic", "degraded: applied the lockdown");
	log_says(&d, "last good policy refused");
	log_says(&d, "ACCEPTS ALL INBOUND TRAFFIC");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 9999");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 80");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV6_B " 9999");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");	/* rescue */
	nn_probes_run_when(&E, &ps, "an open last good policy, files saying deny", NULL);
	daemon_stop(&d);

	/* ... the same files saying inbound = allow: applied, and said so. */
	replace_file(live, policy_open_bad);
	daemon_start_status(&d, live, st, "open2.log", "ACCEPTS ALL INBOUND TRAFFIC",
			    "degraded: applied the last good policy");
	log_says(&d, "the last good policy ACCEPTS ALL INBOUND TRAFFIC");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 9999");
	nn_probes_run_when(&E, &ps, "an open last good policy, files saying allow", NULL);
	daemon_stop(&d);

	/* 2. A confirm deadline that is not a time: no revert to the open
	 * rollback point, whatever the old fscanf would have made of it. */
	replace_file(live, policy_fallback_good);
	for (size_t i = 0; i < sizeof(bad_deadlines) / sizeof(bad_deadlines[0]); i++) {
		char logname[32];

		st = fresh_state("s-deadline");
		put_state(open_ir, st, "confirm-rollback.ir");
		f = nn_path(&E, "s-deadline/confirm-deadline");
		nn_write_file(f, "%s", bad_deadlines[i]);
		snprintf(logname, sizeof(logname), "deadline%zu.log", i);
		daemon_start(&d, live, st, logname, NULL);
		log_says(&d, "ignoring a pending reload --confirm");
		nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 9999");
		nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 80");
		nn_probes_run_when(&E, &ps, "a confirm deadline that is not a time",
				   bad_deadlines[i]);
		ck_assert_msg(access(f, F_OK) != 0, "the bad deadline file is still there");
		daemon_stop(&d);
	}

	/* 3. FIFOs in the state directory: READY, SIGTERM answered. */
	st = fresh_state("s-fifo");
	f = nn_path(&E, "s-fifo/last-good.ir");
	ck_assert(mkfifo(f, 0600) == 0);
	replace_file(live, policy_fallback_bad);
	daemon_start(&d, live, st, "fifo1.log", "degraded: applied the lockdown");
	log_says(&d, "last-good.ir is not a regular file");
	daemon_stop(&d);
	unlink(f);
	put_state(open_ir, st, "confirm-rollback.ir");
	ck_assert(mkfifo(nn_path(&E, "s-fifo/confirm-deadline"), 0600) == 0);
	replace_file(live, policy_fallback_good);
	daemon_start(&d, live, st, "fifo2.log", NULL);
	log_says(&d, "confirm-deadline is not a regular file");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 9999");
	nn_probes_run_when(&E, &ps, "a FIFO as the confirm deadline", NULL);
	daemon_stop(&d);

	/* 4. A good last good policy in a directory fwd cannot trust:
	 * refused with the reason, lockdown (80 is open in the last good
	 * policy, closed in the lockdown). */
	st = fresh_state("s-trust");
	put_state(good_ir, st, "last-good.ir");
	f = nn_path(&E, "s-trust/last-good.ir");
	link = nn_path(&E, "s-link");
	ck_assert(symlink(st, link) == 0);
	replace_file(live, policy_fallback_bad);
	for (int i = 0; i < 5; i++) {
		static const char *const why[] = {
			"has mode 0755; it must be 0700", "is owned by uid 65534",
			"is a symlink, not the directory itself",
			"last-good.ir is owned by uid 65534", "last-good.ir is a symlink",
		};
		const char *dir = i == 2 ? link : st;
		char logname[32];

		ck_assert(chmod(st, i == 0 ? 0755 : 0700) == 0);
		ck_assert(chown(st, i == 1 ? 65534 : 0, 0) == 0);
		ck_assert(lchown(f, i == 3 ? 65534 : 0, 0) == 0);
		if (i == 4) {
			ck_assert(rename(f, nn_path(&E, "s-trust/real.ir")) == 0);
			ck_assert(symlink("real.ir", f) == 0);
		}
		snprintf(logname, sizeof(logname), "trust%d.log", i);
		daemon_start_status(&d, live, dir, logname, "the last good policy was refused",
				    "degraded: applied the lockdown");
		log_says(&d, why[i]);
		nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 80");
		nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");
		nn_probes_run_when(&E, &ps, "an untrusted state directory", why[i]);
		daemon_stop(&d);
	}
	/* put right: the very same file applies */
	ck_assert(unlink(f) == 0 && rename(nn_path(&E, "s-trust/real.ir"), f) == 0);
	daemon_start(&d, live, st, "trust-ok.log", "degraded: applied the last good policy");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 80");
	nn_probes_run_when(&E, &ps, "the state directory put right", NULL);
	daemon_stop(&d);
	nn_down(&E);
}
END_TEST

/*
 * A dangling symlink as the main policy file is a file that cannot be read
 * (issue 9, finding 7), not a fresh install: the last good policy, else the
 * lockdown, never the built-in default's 22/tcp from anywhere. Only a path
 * that does not exist at all gets the built-in default.
 */
START_TEST(test_dangling_policy)
{
	struct nn_probes ps = { .n = 0 };
	char *link, *good_ir, *st, *absent;
	struct daemon d;

	if (!tu_need_root())
		return;
	nn_up(&E, true);
	nn_enter(&E, NN_SRV);
	nn_listener(&E, "listen", "tcp", 22, NULL);
	nn_listener(&E, "listen", "tcp", 80, NULL);
	good_ir = compiled_ir(policy_fallback_good, "mk-good");
	link = nn_path(&E, "fwd.conf");
	ck_assert(symlink(nn_path(&E, "gone.conf"), link) == 0);

	/* no last good policy: lockdown */
	daemon_start(&d, link, nn_path(&E, "s-none"), "dangling1.log",
		     "degraded: applied the lockdown");
	log_says(&d, "cannot read policy file");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_GOOD, NN_DROP, "connect tcp " NN_SRV4_G " 22");
	nn_probe(&ps, NN_SRV, NN_OK, "connect tcp 127.0.0.1 22");
	nn_probes_run_when(&E, &ps, "a dangling symlink as the policy, no last good", NULL);
	daemon_stop(&d);

	/* a last good policy: that one */
	st = fresh_state("s-good");
	put_state(good_ir, st, "last-good.ir");
	daemon_start(&d, link, st, "dangling2.log", "degraded: applied the last good policy");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 80");
	nn_probe(&ps, NN_GOOD, NN_OK, "connect tcp " NN_SRV4_G " 22");
	nn_probes_run_when(&E, &ps, "a dangling symlink as the policy, a last good one", NULL);
	daemon_stop(&d);

	/* a path that is truly absent: the built-in default (22/tcp open) */
	absent = nn_path(&E, "absent.conf");
	daemon_start(&d, absent, nn_path(&E, "s-absent"), "absent.log", NULL);
	log_says(&d, "applied built-in default");
	nn_probe(&ps, NN_BAD, NN_OK, "connect tcp " NN_SRV4_B " 22");
	nn_probe(&ps, NN_BAD, NN_DROP, "connect tcp " NN_SRV4_B " 80");
	nn_probes_run_when(&E, &ps, "no policy file at all", NULL);
	daemon_stop(&d);
	nn_down(&E);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");

	nn_add_test(s, "kill9", test_kill9, 240, NULL);
	nn_add_test(s, "reload_fire", test_reload_fire, 180, NULL);
	nn_add_test(s, "bad_corpus", test_bad_corpus, 240, NULL);
	nn_add_test(s, "million", test_million, 300, NULL);
	nn_add_test(s, "fallback", test_fallback, 120, NULL);
	nn_add_test(s, "fallback_guard", test_fallback_guard, 60, NULL);
	nn_add_test(s, "state_trust", test_state_trust, 240, NULL);
	nn_add_test(s, "dangling_policy", test_dangling_policy, 120, NULL);
	return s;
}

int main(void)
{
	return nn_run(faults_suite());
}
