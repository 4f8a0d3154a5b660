// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kmod-hooks beside the table itself, against the real kernel, each test in
 * network namespaces of its own (check forks every test; the test process
 * unshares one, a peer process another, joined by a veth pair):
 *
 * - the table guard: nf_tables events about inet fwd_filter from others
 *   are reported with the committing process's pid and name, fwd's own
 *   commits are not, ENOBUFS on the event socket is reported as "lost";
 *   with the owner flag held, `nft flush ruleset` and `nft delete table`
 *   leave the table alone;
 * - doctor: tables and base chains made by nft, and the findings;
 * - conntrack: an established TCP connection keeps passing after its allow
 *   is removed (ct state established accept), and stops once
 *   fwd_ct_kill_edit ended its entry; other connections are untouched.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "edit.h"
#include "ir.h"
#include "kmod.h"
#include "monitor.h"	/* fwd_monitor_pause/resume */
#include "readback.h"	/* fwd_nl_getgen */
#include "policy.h"

/* ---- helpers -------------------------------------------------------- */

/* Under valgrind --trace-children, nft runs as "memcheck-amd64-" and
 * slowly: names and timings are only checked without it. */
static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

static const char *nft_comm(void)
{
	return under_valgrind() ? NULL : "nft";
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *sh_ok(const char *cmd)
{
	char *out = NULL;
	int st = tu_sh(&out, "%s", cmd);

	ck_assert_msg(st == 0, "%s: exit %d\n%s", cmd, st, out);
	return out;
}

static bool have_nft(void)
{
	return tu_need_prog("nft", "nftables");
}

static char *diags_text(const struct fwd_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fwd_diags_print(d, f);
	fclose(f);
	return buf;
}

static struct fwd_ir *compile_text(const char *text)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;

	o.services_path = tu_src("tests/fixtures/policy/services");
	fwd_diags_init(&d);
	if (fwd_policy_load_buffer("test.conf", text, strlen(text), &o, &p, &d) ||
	    fwd_compile(p, &ir, &d))
		ck_abort_msg("policy: %s", diags_text(&d));
	fwd_policy_free(p);
	fwd_diags_free(&d);
	free((char *)o.services_path);
	return ir;
}

static void apply_ok(struct fwd_nl *nl, const struct fwd_ir *ir,
		     const struct fwd_features *f)
{
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_apply(nl, ir, f, NULL, &d);
	ck_assert_msg(ret == 0, "fwd_apply: %s\n%s", strerror(-ret),
		      diags_text(&d));
	fwd_diags_free(&d);
}

static void delta_ok(struct fwd_nl *nl, const struct fwd_ir *old,
		     const struct fwd_ir *new, const struct fwd_features *f)
{
	struct fwd_ir_delta delta;
	struct fwd_diags d;
	int ret;

	ck_assert_int_eq(fwd_ir_diff(old, new, &delta), 0);
	ck_assert(!delta.shape_changed);
	fwd_diags_init(&d);
	ret = fwd_apply_delta(nl, new, &delta, f, &d);
	ck_assert_msg(ret == 0, "fwd_apply_delta: %s\n%s", strerror(-ret),
		      diags_text(&d));
	fwd_diags_free(&d);
	fwd_ir_delta_free(&delta);
}

static void probe_ok(struct fwd_features *f)
{
	int ret = fwd_probe(f);

	ck_assert_msg(ret == 0 && f->inet_family, "probe: %s", f->detail);
}

static struct fwd_nl *nl_open(void)
{
	struct fwd_nl *nl = NULL;

	ck_assert_int_eq(fwd_nl_open(&nl), 0);
	return nl;
}

static const char policy_base[] =
	"[defaults]\n"
	"inbound = deny\n"
	"outbound = allow\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = 192.0.2.0/24\n";

/* ---- the table guard ------------------------------------------------ */

#define MAX_EV 256

/* Everything the monitor has within `secs`, stopping early once an event
 * of `until` came (FWD_MON_LOST + 1: wait the whole time). */
static size_t mon_collect(struct fwd_monitor *m, struct fwd_monitor_event *ev,
			  double secs, int until)
{
	double end = now() + secs;
	size_t total = 0;

	while (now() < end && total < MAX_EV) {
		struct pollfd p = { .fd = fwd_monitor_fd(m), .events = POLLIN };
		size_t n = 0;

		poll(&p, 1, 50);
		ck_assert_int_eq(fwd_monitor_read(m, ev + total, MAX_EV - total, &n), 0);
		for (size_t i = 0; i < n; i++)
			if ((int)ev[total + i].kind == until)
				end = now();
		total += n;
	}
	return total;
}

static bool mon_has(const struct fwd_monitor_event *ev, size_t n,
		    enum fwd_monitor_kind k, const char *object,
		    const char *comm)
{
	for (size_t i = 0; i < n; i++)
		if (ev[i].kind == k && (!object || strcmp(ev[i].object, object) == 0) &&
		    (!comm || strcmp(ev[i].comm, comm) == 0))
			return true;
	return false;
}

static void mon_print(const char *what, const struct fwd_monitor_event *ev,
		      size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char line[256];

		fwd_monitor_event_format(&ev[i], line, sizeof(line));
		fprintf(stderr, "%s: %s (gen %u, port %u)\n", what, line, ev[i].gen,
			ev[i].portid);
	}
}

START_TEST(monitor_sees_others_not_us)
{
	struct fwd_ir *ir = compile_text(policy_base), *ir2;
	struct fwd_monitor_event ev[MAX_EV];
	struct fwd_features f, noown;
	struct fwd_monitor *m = NULL;
	struct fwd_nl *nl;
	size_t n;
	char *text;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	ck_assert_int_eq(fwd_monitor_open(&m, fwd_nl_portid(nl)), 0);

	/* fwd's own commits: a full apply, a delta. Nothing to report. */
	apply_ok(nl, ir, &f);
	text = malloc(strlen(policy_base) + 64);
	sprintf(text, "%sallow = 198.51.100.7\n", policy_base);
	ir2 = compile_text(text);
	free(text);
	delta_ok(nl, ir, ir2, &f);
	n = mon_collect(m, ev, 0.5, -1);
	mon_print("own", ev, n);
	ck_assert_uint_eq(n, 0);

	/* With the owner flag held: nft cannot delete or edit the table, and
	 * `nft flush ruleset` leaves it alone; nothing happens to it. */
	ck_assert_int_ne(tu_sh(NULL, "nft delete table inet " FWD_TABLE_NAME), 0);
	ck_assert_int_ne(tu_sh(NULL, "nft add element inet " FWD_TABLE_NAME
			       " allow4 '{ 203.0.113.9 . tcp . 22 }'"), 0);
	ck_assert_int_eq(tu_sh(NULL, "nft flush ruleset"), 0);
	/* another table's changes are not fwd's business */
	free(sh_ok("nft add table inet other && nft add chain inet other c"));
	n = mon_collect(m, ev, 0.5, -1);
	mon_print("owned", ev, n);
	ck_assert_uint_eq(n, 0);

	/* Without the owner flag (an older kernel, --oneshot) nft can; the
	 * monitor names it. */
	noown = f;
	noown.table_owner = noown.table_persist = false;
	apply_ok(nl, ir2, &noown);
	n = mon_collect(m, ev, 0.3, -1);
	ck_assert_uint_eq(n, 0);
	free(sh_ok("nft add element inet " FWD_TABLE_NAME
		   " allow4 '{ 203.0.113.9 . tcp . 22, 203.0.113.10 . tcp . 22 }'"));
	free(sh_ok("nft add rule inet " FWD_TABLE_NAME " input accept"));
	free(sh_ok("nft flush ruleset"));
	n = mon_collect(m, ev, under_valgrind() ? 30 : 2, FWD_MON_DELTABLE);
	mon_print("foreign", ev, n);
	ck_assert(mon_has(ev, n, FWD_MON_NEWSETELEM, "allow4", nft_comm()));
	ck_assert(mon_has(ev, n, FWD_MON_NEWRULE, "input", nft_comm()));
	ck_assert(mon_has(ev, n, FWD_MON_DELTABLE, "", nft_comm()));
	/* the flush: one event for the table, not one per set and rule */
	ck_assert_uint_eq(n, 3);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_gt(ev[i].pid, 0);
		ck_assert_uint_gt(ev[i].gen, 0);
		ck_assert_uint_ne(ev[i].portid, fwd_nl_portid(nl));
		if (ev[i].kind == FWD_MON_NEWSETELEM)
			ck_assert_uint_eq(ev[i].count, 2);
	}
	{
		char line[256];
		size_t i;

		for (i = 0; i < n && ev[i].kind != FWD_MON_DELTABLE; i++)
			;
		fwd_monitor_event_format(&ev[i], line, sizeof(line));
		ck_assert_msg((under_valgrind() || strncmp(line, "nft (pid ", 9) == 0) &&
			      strstr(line, ") deleted table inet fwd_filter"),
			      "%s", line);
	}

	/* `nft delete table` of a table made without the owner flag. */
	apply_ok(nl, ir, &noown);
	free(sh_ok("nft delete table inet " FWD_TABLE_NAME));
	n = mon_collect(m, ev, under_valgrind() ? 30 : 2, FWD_MON_DELTABLE);
	ck_assert(mon_has(ev, n, FWD_MON_DELTABLE, "", nft_comm()));

	/* What the kernel does by itself sends no event: an element timing
	 * out, and a table going with its owner's socket (no persist). */
	{
		struct fwd_ir *timed = compile_text(policy_base);
		struct fwd_ir_set *b4 = fwd_ir_set_find(timed, "block4");
		struct fwd_ir_elem e = { .expires = (uint64_t)time(NULL) + 1 };
		struct fwd_features ownonly = f;
		struct fwd_nl *other = nl_open();
		bool exists = true;

		apply_ok(nl, ir, &f);
		inet_pton(AF_INET, "203.0.113.5", e.lo);
		memcpy(e.hi, e.lo, 4);
		b4->elems = realloc(b4->elems, sizeof(e));
		b4->elems[0] = e;
		b4->n = b4->cap = 1;
		delta_ok(nl, ir, timed, &f);
		n = mon_collect(m, ev, 2.5, -1);
		mon_print("expiry", ev, n);
		ck_assert_uint_eq(n, 0);

		fwd_nl_close(nl);	/* persist (if any) keeps the table */
		nl = nl_open();
		free(sh_ok("nft delete table inet " FWD_TABLE_NAME " 2>/dev/null; true"));
		ownonly.table_persist = false;
		apply_ok(other, ir, &ownonly);
		n = mon_collect(m, ev, 1, FWD_MON_NEWTABLE);
		ck_assert(mon_has(ev, n, FWD_MON_NEWTABLE, "", NULL));
		fwd_nl_close(other);
		n = mon_collect(m, ev, 1, -1);
		mon_print("owner gone", ev, n);
		ck_assert_uint_eq(n, 0);
		ck_assert_int_eq(fwd_live_table_info(nl, NULL, &exists, NULL, NULL), 0);
		ck_assert(!exists);
		fwd_ir_free(timed);
	}

	fwd_monitor_close(m);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_ir_free(ir2);
}
END_TEST

/* The table guard's loop as the daemon runs it: notice, restore, within
 * 1 s of the deletion. */
START_TEST(monitor_restore_within_a_second)
{
	struct fwd_ir *ir = compile_text(policy_base);
	struct fwd_monitor_event ev[MAX_EV];
	struct fwd_features f;
	struct fwd_monitor *m = NULL;
	struct fwd_nl *nl;
	double t0, t1;
	bool exists = false;
	size_t n = 0;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	f.table_owner = f.table_persist = false;
	nl = nl_open();
	ck_assert_int_eq(fwd_monitor_open(&m, fwd_nl_portid(nl)), 0);
	apply_ok(nl, ir, &f);
	t0 = now();
	free(sh_ok("nft delete table inet " FWD_TABLE_NAME));
	while (now() < t0 + (under_valgrind() ? 30 : 2)) {
		struct pollfd p = { .fd = fwd_monitor_fd(m), .events = POLLIN };

		poll(&p, 1, 100);
		ck_assert_int_eq(fwd_monitor_read(m, ev, MAX_EV, &n), 0);
		if (n)
			break;
	}
	ck_assert_uint_gt(n, 0);
	apply_ok(nl, ir, &f);
	t1 = now();
	ck_assert_int_eq(fwd_live_table_info(nl, NULL, &exists, NULL, NULL), 0);
	ck_assert(exists);
	fprintf(stderr, "restored %.1f ms after nft deleted the table (nft "
		"process included)\n", (t1 - t0) * 1e3);
	if (!under_valgrind())
		ck_assert(t1 - t0 < 1.0);
	fwd_monitor_close(m);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
}
END_TEST

/* A monitor that is not read while someone adds 20k elements into a
 * receive buffer made small for the test overruns: the read that empties
 * the socket says so (FWD_MON_LOST), and reading goes on. (With the 16 MiB
 * buffer fwd_monitor_open asks for, it takes some 200k elements.) */
START_TEST(monitor_overrun_is_lost_event)
{
	struct fwd_ir *ir = compile_text(policy_base);
	struct fwd_monitor_event ev[MAX_EV];
	struct fwd_features f;
	struct fwd_monitor *m = NULL;
	struct fwd_nl *nl;
	FILE *tmp;
	char path[64], cmd[128];
	int fd;
	size_t n;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	f.table_owner = f.table_persist = false;
	nl = nl_open();
	ck_assert_int_eq(fwd_monitor_open(&m, fwd_nl_portid(nl)), 0);
	{
		int small = 256 * 1024;

		ck_assert_int_eq(setsockopt(fwd_monitor_fd(m), SOL_SOCKET,
					    SO_RCVBUF, &small, sizeof(small)), 0);
	}
	apply_ok(nl, ir, &f);
	fd = mkstemp(tu_tmp(path, sizeof(path), "fwd-monitor-XXXXXX"));
	ck_assert_int_ge(fd, 0);
	tmp = fdopen(fd, "w");
	for (int round = 0; round < 4; round++) {
		fprintf(tmp, "add element inet " FWD_TABLE_NAME " allow4 {");
		for (unsigned i = 0; i < 5000; i++) {
			unsigned h = round * 5000 + i;

			fprintf(tmp, "%s198.%u.%u.%u . tcp . 22", i ? "," : "",
				18 + (h >> 16), (h >> 8) & 255, h & 255);
		}
		fprintf(tmp, "}\n");
	}
	fclose(tmp);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	free(sh_ok(cmd));
	unlink(path);
	/* "lost" comes once the socket has been read empty (the flood may
	 * take a while under valgrind) */
	{
		double end = now() + 60;

		do
			n = mon_collect(m, ev, 0.2, FWD_MON_LOST);
		while (!mon_has(ev, n, FWD_MON_LOST, NULL, NULL) && now() < end);
		mon_print("flood", ev, n < 4 ? n : 4);
		ck_assert(mon_has(ev, n, FWD_MON_LOST, NULL, NULL));
	}
	/* and the socket works on */
	free(sh_ok("nft delete table inet " FWD_TABLE_NAME));
	n = mon_collect(m, ev, under_valgrind() ? 30 : 5, FWD_MON_DELTABLE);
	mon_print("after flood", ev, n);
	ck_assert(mon_has(ev, n, FWD_MON_DELTABLE, "", nft_comm()));
	fwd_monitor_close(m);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
}
END_TEST

/* A hash set of n elements in key order, in place of allow4's. */
static void fill_allow4(struct fwd_ir *ir, size_t n, uint16_t port0)
{
	struct fwd_ir_set *s = fwd_ir_set_find(ir, "allow4");

	free(s->elems);
	s->elems = calloc(n ? n : 1, sizeof(*s->elems));
	s->n = s->cap = n;
	for (size_t i = 0; i < n; i++) {
		uint32_t a = htonl(0xc6120000u | (uint32_t)(i / 8));

		memcpy(s->elems[i].lo, &a, 4);
		memcpy(s->elems[i].hi, &a, 4);
		s->elems[i].proto = IPPROTO_TCP;
		s->elems[i].plo = s->elems[i].phi = (uint16_t)(port0 + i % 8);
	}
}

/*
 * Attached to fwd's socket, the monitor knows which generations fwd made:
 * its own overrun (a tiny buffer here) and the pause around a big apply
 * say nothing, while another commit that went by unseen says "lost".
 */
START_TEST(monitor_accounts_generations)
{
	struct fwd_ir *ir = compile_text(policy_base), *big = compile_text(policy_base);
	struct fwd_monitor_event ev[MAX_EV];
	struct fwd_features f;
	struct fwd_monitor *m = NULL;
	struct fwd_nl *nl;
	uint32_t g0, g1, now_gen;
	int small = 4096;
	size_t n;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	f.table_owner = f.table_persist = false;	/* nft may edit it */
	nl = nl_open();
	ck_assert_int_eq(fwd_monitor_open(&m, fwd_nl_portid(nl)), 0);
	fwd_monitor_attach(m, nl);

	/* Exact generations: one per commit. */
	apply_ok(nl, ir, &f);
	g0 = fwd_nl_generation(nl);
	ck_assert_int_eq(fwd_nl_getgen(nl, &now_gen), 0);
	ck_assert_uint_eq(g0, now_gen);
	apply_ok(nl, ir, &f);
	g1 = fwd_nl_generation(nl);
	ck_assert_uint_eq(g1, g0 + 1);

	/* Its own overrun: 5000 element events into a tiny buffer (the
	 * batch is under the pause threshold). */
	ck_assert_int_eq(setsockopt(fwd_monitor_fd(m), SOL_SOCKET, SO_RCVBUF,
				    &small, sizeof(small)), 0);
	fill_allow4(big, 5000, 22);
	apply_ok(nl, big, &f);
	n = mon_collect(m, ev, 0.5, -1);
	mon_print("own overrun", ev, n);
	ck_assert_uint_eq(n, 0);
	/* nft's commit overrunning it: lost (its events did not fit) */
	free(sh_ok("nft add element inet " FWD_TABLE_NAME " allow4 '{ 203.0.113.9 . tcp . 22 }'"));
	apply_ok(nl, big, &f);
	n = mon_collect(m, ev, 0.5, -1);
	mon_print("mixed overrun", ev, n);
	ck_assert(n >= 1);
	ck_assert(mon_has(ev, n, FWD_MON_LOST, NULL, NULL) ||
		  mon_has(ev, n, FWD_MON_NEWSETELEM, "allow4", nft_comm()));
	small = 16 << 20;
	ck_assert_int_eq(setsockopt(fwd_monitor_fd(m), SOL_SOCKET, SO_RCVBUFFORCE,
				    &small, sizeof(small)), 0);

	/* Paused around its own commit: nothing to say. */
	fwd_monitor_pause(m);
	apply_ok(nl, ir, &f);
	fwd_monitor_resume(m);
	n = mon_collect(m, ev, 0.3, -1);
	ck_assert_uint_eq(n, 0);
	/* Another commit while paused: lost, with the generation now. */
	fwd_monitor_pause(m);
	free(sh_ok("nft add element inet " FWD_TABLE_NAME " allow4 '{ 203.0.113.9 . tcp . 22 }'"));
	apply_ok(nl, ir, &f);
	fwd_monitor_resume(m);
	n = mon_collect(m, ev, 0.3, -1);
	mon_print("paused", ev, n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(ev[0].kind, FWD_MON_LOST);
	ck_assert_uint_eq(ev[0].gen, fwd_nl_generation(nl));
	/* a big apply pauses by itself: no events, no loss */
	fill_allow4(big, 100000, 22);
	apply_ok(nl, big, &f);
	n = mon_collect(m, ev, 0.3, -1);
	ck_assert_uint_eq(n, 0);

	fwd_monitor_close(m);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_ir_free(big);
}
END_TEST

/*
 * What a listening monitor costs fwd's own applies (the kernel builds an
 * event per element only while someone listens), and whether its own big
 * apply overruns the monitor (then FWD_MON_LOST comes although nobody else
 * changed anything: the caller must compare before restoring).
 */
START_TEST(monitor_cost_of_own_applies)
{
	/* 300k shows the overrun of an unattached monitor; a million
	 * elements only adds minutes of the kernel's quadratic set dump
	 * (fwd_live_matches) to every CI run, and the faults suite already
	 * applies a million. */
	static const size_t sizes[] = { 100000, 300000 };
	struct fwd_features f;
	struct fwd_nl *nl;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	nl = nl_open();
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct fwd_ir *ir = compile_text(policy_base);
		double t[3];

		/* 0: nobody listens; 1: a monitor listens (not attached);
		 * 2: fwd's attached monitor (paused around the apply) */
		for (int with = 0; with < 3; with++) {
			struct fwd_monitor *m = NULL;
			struct fwd_monitor_event ev[MAX_EV];
			double t0;
			size_t n = 0;

			fill_allow4(ir, sizes[k], (uint16_t)(22 + with * 8));
			if (with) {
				ck_assert_int_eq(fwd_monitor_open(&m, fwd_nl_portid(nl)), 0);
				if (with == 2)
					fwd_monitor_attach(m, nl);
			}
			t0 = now();
			apply_ok(nl, ir, &f);
			t[with] = now() - t0;
			if (!m)
				continue;
			n = mon_collect(m, ev, 1, -1);
			fprintf(stderr, "own apply of %zu elements, monitor %s: "
				"%zu events after it%s\n", sizes[k],
				with == 2 ? "attached" : "listening", n,
				mon_has(ev, n, FWD_MON_LOST, NULL, NULL) ?
				" (lost: its buffer overran)" : "");
			ck_assert(n == 0 || (with == 1 && n == 1 &&
					     ev[0].kind == FWD_MON_LOST));
			fwd_monitor_close(m);
		}
		fprintf(stderr, "apply of %zu elements: %.3f s with nobody "
			"listening, %.3f s with a monitor listening, %.3f s with "
			"fwd's attached monitor\n", sizes[k], t[0], t[1], t[2]);
		/* what an unattached guard would have to ask after "lost" */
		{
			bool same = false;
			double t0 = now();

			ck_assert_int_eq(fwd_live_matches(nl, ir, &same), 0);
			ck_assert(same);
			fprintf(stderr, "fwd_live_matches of %zu elements: %.3f s\n",
				sizes[k], now() - t0);
		}
		fwd_ir_free(ir);
	}
	fwd_nl_close(nl);
}
END_TEST

/* ---- doctor --------------------------------------------------------- */

static const char neighbours_nft[] =
	"table ip filter {\n"
	"  chain INPUT {\n"
	"    type filter hook input priority 0; policy drop;\n"
	"    ct state established,related accept\n"
	"    tcp dport 22 accept\n"
	"  }\n"
	"  chain FORWARD {\n"
	"    type filter hook forward priority 0; policy drop;\n"
	"    jump DOCKER-USER\n"
	"  }\n"
	"  chain DOCKER-USER {\n"
	"    return\n"
	"  }\n"
	"}\n"
	"table ip nat {\n"
	"  chain PREROUTING {\n"
	"    type nat hook prerouting priority -100; policy accept;\n"
	"    fib daddr type local jump DOCKER\n"
	"  }\n"
	"  chain DOCKER {\n"
	"    tcp dport 8080 dnat to 198.18.0.2:80\n"
	"  }\n"
	"}\n"
	"table inet guard {\n"
	"  chain out {\n"
	"    type filter hook output priority 10; policy accept;\n"
	"    ip daddr 203.0.113.0/24 drop\n"
	"    ip daddr 198.51.100.0/24 reject\n"
	"  }\n"
	"  chain quiet {\n"
	"    type filter hook input priority 5; policy accept;\n"
	"    counter\n"
	"  }\n"
	"}\n";

static bool finding(const struct fwd_finding *fs, size_t n,
		    enum fwd_finding_level level, const char *text)
{
	for (size_t i = 0; i < n; i++)
		if (fs[i].level == level && strstr(fs[i].text, text))
			return true;
	return false;
}

START_TEST(doctor_lists_neighbours)
{
	struct fwd_ir *ir = compile_text(policy_base);
	struct fwd_features f;
	struct fwd_doctor *doc = NULL;
	struct fwd_finding *fs = NULL;
	struct fwd_nl *nl;
	char *text = NULL, path[64], cmd[96];
	size_t n, len = 0, ours = 0;
	FILE *mem;
	int fd;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();

	/* Nothing loaded at all. */
	ck_assert_int_eq(fwd_doctor_read(nl, &doc), 0);
	ck_assert_uint_eq(doc->ntables, 0);
	n = fwd_doctor_findings(doc, &fs);
	ck_assert(finding(fs, n, FWD_FIND_WARN, "is not loaded"));
	free(fs);
	fwd_doctor_free(doc);

	apply_ok(nl, ir, &f);
	fd = mkstemp(tu_tmp(path, sizeof(path), "fwd-doctor-XXXXXX"));
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, neighbours_nft, sizeof(neighbours_nft) - 1),
			 (ssize_t)sizeof(neighbours_nft) - 1);
	close(fd);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	free(sh_ok(cmd));
	unlink(path);

	ck_assert_int_eq(fwd_doctor_read(nl, &doc), 0);
	ck_assert_uint_eq(doc->ntables, 4);
	for (size_t i = 0; i < doc->nchains; i++) {
		const struct fwd_doctor_chain *c = &doc->chains[i];

		if (c->ours) {
			ours++;
			ck_assert_str_eq(c->table, FWD_TABLE_NAME);
		}
		if (strcmp(c->name, "INPUT") == 0) {
			ck_assert_uint_eq(c->family, NFPROTO_IPV4);
			ck_assert_uint_eq(c->hook, NF_INET_LOCAL_IN);
			ck_assert_int_eq(c->prio, 0);
			ck_assert(!c->policy_accept);
			ck_assert_uint_eq(c->nrules, 2);
			ck_assert_uint_eq(c->ndrop, 0);
		}
		if (strcmp(c->name, "out") == 0) {
			ck_assert_int_eq(c->prio, 10);
			ck_assert_uint_eq(c->ndrop, 2);
		}
		if (strcmp(c->name, "PREROUTING") == 0) {
			ck_assert_str_eq(c->type, "nat");
			ck_assert_int_eq(c->prio, -100);
		}
	}
	ck_assert_uint_eq(ours, 2);	/* fwd's input and output */
	ck_assert_uint_eq(doc->nchains, 7);	/* base chains only */
	for (size_t i = 0; i < doc->ntables; i++)
		if (doc->tables[i].ours) {
			ck_assert(doc->tables[i].flags & NFT_TABLE_F_OWNER);
			ck_assert_uint_eq(doc->tables[i].owner, fwd_nl_portid(nl));
		}

	n = fwd_doctor_findings(doc, &fs);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "finding %s: %s\n",
			fs[i].level == FWD_FIND_WARN ? "warning" : "info", fs[i].text);
	ck_assert(finding(fs, n, FWD_FIND_WARN, "table ip filter (iptables-nft, Docker) has an "
			  "input chain INPUT at priority 0 with policy drop: a "
			  "packet fwd accepts can still be dropped there"));
	ck_assert(finding(fs, n, FWD_FIND_INFO, "table ip filter (iptables-nft, Docker) chain "
			  "INPUT hooks input at fwd's priority 0"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, "a table named docker or with "
			  "DOCKER chains: published container ports"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, "has a prerouting nat chain "
			  "PREROUTING with 1 rule:"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, "has a forward chain FORWARD"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, "table inet guard has an output "
			  "chain out at priority 10 with 2 rules that drop or "
			  "reject"));
	ck_assert(finding(fs, n, FWD_FIND_INFO, "table inet guard has an input "
			  "chain quiet at priority 5 that drops nothing"));
	ck_assert(!finding(fs, n, FWD_FIND_WARN, "fwd's table"));
	free(fs);

	mem = open_memstream(&text, &len);
	fwd_doctor_print(doc, mem, true);
	fclose(mem);
	ck_assert_ptr_nonnull(strstr(text, "{\"family\":\"inet\",\"name\":\"fwd_filter\""));
	ck_assert_ptr_nonnull(strstr(text, "\"hook\":\"prerouting\",\"priority\":-100"));
	free(text);
	mem = open_memstream(&text, &len);
	fwd_doctor_print(doc, mem, false);
	fclose(mem);
	fprintf(stderr, "%s", text);
	ck_assert_ptr_nonnull(strstr(text, "ip filter INPUT: filter hook input "
				     "priority 0 policy drop, 2 rules (0 drop)"));
	free(text);
	fwd_doctor_free(doc);

	/* A firewalld-like table and an iptables-nft table with a DROP rule,
	 * fwd's table gone. */
	free(sh_ok("nft flush ruleset"));	/* leaves fwd's (owned) table */
	free(sh_ok("nft add table inet firewalld && nft add chain inet firewalld "
		   "filter_INPUT '{ type filter hook input priority 10; policy "
		   "accept; }' && nft add rule inet firewalld filter_INPUT reject"));
	free(sh_ok("nft add table ip filter && nft add chain ip filter INPUT "
		   "'{ type filter hook input priority 0; policy accept; }' && "
		   "nft add rule ip filter INPUT ip saddr 192.0.2.9 drop"));
	fwd_nl_close(nl);	/* fwd's table goes with its owner (persist aside) */
	nl = nl_open();
	ck_assert_int_eq(fwd_doctor_read(nl, &doc), 0);
	n = fwd_doctor_findings(doc, &fs);
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "finding %s: %s\n",
			fs[i].level == FWD_FIND_WARN ? "warning" : "info", fs[i].text);
	ck_assert(finding(fs, n, FWD_FIND_WARN, "firewalld is running"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, "table ip filter (iptables-nft) "
			  "has an input chain INPUT at priority 0 with 1 rule that "
			  "drops or rejects: fwd's accept does not override it"));
	ck_assert(finding(fs, n, FWD_FIND_WARN, f.table_persist ?
			  "has no owner: fwd is not running" : "is not loaded"));
	free(fs);
	fwd_doctor_free(doc);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
}
END_TEST

/* ---- conntrack ------------------------------------------------------ */

/*
 * The peer: a process in a network namespace of its own, joined to the
 * test's by veth (test 192.0.2.1 -- peer 192.0.2.2). It runs commands sent
 * over a socketpair: open a TCP connection to the test's echo server, or
 * ping-pong a byte over one (answering whether the echo came within 1 s).
 */
struct peer_cmd {
	char op;		/* 'c' connect, 'p' ping, 'l' listen, 'q' quit */
	int slot;
	uint16_t port;
};

#define PEER_SLOTS 8

static pid_t echo_server(const char *addr, uint16_t port);

static void peer_main(int ctl)
{
	int slots[PEER_SLOTS];
	struct peer_cmd c;

	for (int i = 0; i < PEER_SLOTS; i++)
		slots[i] = -1;
	while (read(ctl, &c, sizeof(c)) == (ssize_t)sizeof(c)) {
		char r = '0';

		if (c.op == 'q')
			break;
		if (c.op == 'l') {
			r = echo_server("192.0.2.2", c.port) > 0 ? '1' : '0';
		} else if (c.op == 'c' && c.slot >= 0 && c.slot < PEER_SLOTS) {
			struct sockaddr_in sa = { .sin_family = AF_INET,
						  .sin_port = htons(c.port) };
			struct timeval tv = { .tv_sec = 2 };
			int s = socket(AF_INET, SOCK_STREAM, 0);

			inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
			setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
			if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
				slots[c.slot] = s;
				r = '1';
			} else {
				close(s);
			}
		} else if (c.op == 'p' && c.slot >= 0 && c.slot < PEER_SLOTS &&
			   slots[c.slot] >= 0) {
			struct pollfd p = { .fd = slots[c.slot], .events = POLLIN };
			char b = 'x';

			if (send(slots[c.slot], &b, 1, MSG_NOSIGNAL) == 1 &&
			    poll(&p, 1, 1000) == 1 && recv(slots[c.slot], &b, 1, 0) == 1)
				r = '1';
		}
		if (write(ctl, &r, 1) != 1)
			break;
	}
	_exit(0);
}

/* An echo server on addr:port in the caller's namespace: a process that
 * forks one child per connection; all of them die with it. */
static pid_t echo_server(const char *addr, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	inet_pton(AF_INET, addr, &sa.sin_addr);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s, 16) != 0) {
		close(s);
		return -1;
	}
	pid = fork();
	if (pid != 0) {
		close(s);
		return pid;
	}
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() == 0) {
			char b[256];
			ssize_t n;

			prctl(PR_SET_PDEATHSIG, SIGKILL);
			close(s);
			while ((n = recv(c, b, sizeof(b), 0)) > 0)
				if (send(c, b, (size_t)n, MSG_NOSIGNAL) != n)
					break;
			_exit(0);
		}
		close(c);
	}
}

struct peer {
	pid_t pid;
	int ctl;
};

static void peer_start(struct peer *p)
{
	int sv[2], go[2];
	char c;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(pipe(go), 0);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		close(sv[0]);
		close(go[1]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (unshare(CLONE_NEWNET) != 0)
			_exit(2);
		if (write(sv[1], "r", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(3);
		if (system("ip link set lo up && ip addr add 192.0.2.2/24 dev v1 "
			   "&& ip link set v1 up") != 0)
			_exit(4);
		if (write(sv[1], "r", 1) != 1)
			_exit(5);
		peer_main(sv[1]);
	}
	close(sv[1]);
	close(go[0]);
	p->ctl = sv[0];
	ck_assert_int_eq(read(p->ctl, &c, 1), 1);
	{
		char cmd[160];

		snprintf(cmd, sizeof(cmd), "ip link add v0 type veth peer name v1 "
			 "netns %d && ip addr add 192.0.2.1/24 dev v0 && ip link "
			 "set v0 up", (int)p->pid);
		free(sh_ok(cmd));
	}
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	close(go[1]);
	ck_assert_int_eq(read(p->ctl, &c, 1), 1);
	/* no DAD delay on a v4-only link; wait for the carrier anyway */
	usleep(200000);
}

static bool peer_do(struct peer *p, char op, int slot, uint16_t port)
{
	struct peer_cmd c;
	char r = '0';

	memset(&c, 0, sizeof(c));	/* padding too: it goes through a socket */
	c.op = op;
	c.slot = slot;
	c.port = port;

	ck_assert_int_eq(write(p->ctl, &c, sizeof(c)), (ssize_t)sizeof(c));
	ck_assert_int_eq(read(p->ctl, &r, 1), 1);
	return r == '1';
}

static void peer_stop(struct peer *p)
{
	struct peer_cmd c;
	int st;

	memset(&c, 0, sizeof(c));
	c.op = 'q';
	if (write(p->ctl, &c, sizeof(c)) != (ssize_t)sizeof(c))
		kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	close(p->ctl);
}

static struct fwd_edit edit_words(const char *words)
{
	char *copy = strdup(words), *argv[16], *save = NULL, err[256];
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_edit *v = NULL, e;
	size_t n = 0;
	int argc = 0;

	for (char *w = strtok_r(copy, " ", &save); w && argc < 16;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	o.services_path = tu_src("tests/fixtures/policy/services");
	ck_assert_msg(fwd_edit_parse(argc, (const char *const *)argv,
				     (uint64_t)time(NULL), &o, &v, &n, err,
				     sizeof(err)) == 0, "%s: %s", words, err);
	ck_assert_uint_eq(n, 1);
	e = v[0];
	free(v);
	free(copy);
	free((char *)o.services_path);
	return e;
}

static unsigned kill_ok(const char *words)
{
	struct fwd_edit e = edit_words(words);
	unsigned killed = 99;
	int ret = fwd_ct_kill_edit(&e, &killed);

	ck_assert_msg(ret == 0, "%s: %s", words, strerror(-ret));
	return killed;
}

static const char policy_ct[] =
	"[defaults]\n"
	"inbound = deny\n"
	"outbound = allow\n"
	"[service echo]\n"
	"ports = 5000/tcp\n"
	"allow = 192.0.2.2\n"
	"[service other]\n"
	"ports = 5001/tcp\n"
	"allow = any\n";

START_TEST(ct_kill_ends_connections)
{
	struct fwd_ir *ir, *removed;
	struct fwd_features f;
	struct fwd_nl *nl;
	struct peer peer;
	pid_t srv5000, srv5001;
	char *text;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	/* the peer first: a forked child that _exits holds no copy of the
	 * IR for valgrind to call lost */
	peer_start(&peer);
	ir = compile_text(policy_ct);
	probe_ok(&f);
	ck_assert(f.conntrack);
	nl = nl_open();
	apply_ok(nl, ir, &f);
	srv5000 = echo_server("192.0.2.1", 5000);
	srv5001 = echo_server("192.0.2.1", 5001);
	ck_assert_int_gt(srv5000, 0);
	ck_assert_int_gt(srv5001, 0);

	/* two connections from the peer: slot 0 on 5000, slot 1 on 5001 */
	ck_assert(peer_do(&peer, 'c', 0, 5000));
	ck_assert(peer_do(&peer, 'c', 1, 5001));
	ck_assert(peer_do(&peer, 'p', 0, 0));
	ck_assert(peer_do(&peer, 'p', 1, 0));
	/* and one this host opens to the peer's port 5000 */
	ck_assert(peer_do(&peer, 'l', 0, 5000));
	{
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5000) };
		int s = socket(AF_INET, SOCK_STREAM, 0);

		inet_pton(AF_INET, "192.0.2.2", &sa.sin_addr);
		ck_assert_int_eq(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		/* kept open until the end (the process exit closes it) */
	}

	/* `fwctl remove` of the echo service's allow: the established
	 * connection passes on (ct state established accept)... */
	text = malloc(sizeof(policy_ct) + 128);
	strcpy(text, policy_ct);
	*strstr(text, "allow = 192.0.2.2\n") = '\0';
	strcat(text, "allow = 198.51.100.1\n[service other]\nports = 5001/tcp\n"
	       "allow = any\n");
	removed = compile_text(text);
	free(text);
	delta_ok(nl, ir, removed, &f);
	ck_assert(peer_do(&peer, 'p', 0, 0));
	/* ...until it is killed: its local socket ended (the peer gets a
	 * RST), its entry deleted; a packet of it now would be new, and
	 * dropped. */
	ck_assert_uint_eq(kill_ok("allow 5000/tcp from 192.0.2.2"), 1);
	ck_assert(!peer_do(&peer, 'p', 0, 0));
	ck_assert(!peer_do(&peer, 'p', 0, 0));
	/* The other connection, and this host's own to the peer's 5000,
	 * are untouched. */
	ck_assert(peer_do(&peer, 'p', 1, 0));
	ck_assert_int_eq(tu_sh(NULL, "conntrack -L -p tcp --dport 5000 "
			       "--src 192.0.2.1 2>/dev/null | grep -q ESTABLISHED"), 0);
	/* Nothing more to kill for the same edit. */
	ck_assert_uint_eq(kill_ok("allow 5000/tcp from 192.0.2.0/24"), 0);

	/* block: block4 comes before `ct state established accept`, so the
	 * peer's packets stop at once; the kill ends the connections (both
	 * directions: 5001 from the peer, this host's own to its 5000). */
	{
		struct fwd_ir *blocked;

		blocked = fwd_ir_clone(removed);
		{
			struct fwd_ir_set *b4 = fwd_ir_set_find(blocked, "block4");
			struct fwd_ir_elem e = { 0 };

			ck_assert_ptr_nonnull(b4);
			ck_assert_uint_eq(b4->n, 0);
			inet_pton(AF_INET, "192.0.2.2", e.lo);
			memcpy(e.hi, e.lo, 4);
			b4->elems = realloc(b4->elems, sizeof(e));
			b4->elems[0] = e;
			b4->n = b4->cap = 1;
		}
		ck_assert(peer_do(&peer, 'p', 1, 0));
		delta_ok(nl, removed, blocked, &f);
		ck_assert(!peer_do(&peer, 'p', 1, 0));
		ck_assert_uint_eq(kill_ok("block 192.0.2.2"), 2);
		ck_assert_int_ne(tu_sh(NULL, "conntrack -L 2>/dev/null | grep -q "
				       "ESTABLISHED"), 0);
		fwd_ir_free(blocked);
	}

	/* A @list peer is the caller's to expand. */
	{
		struct fwd_edit e = edit_words("allow 22/tcp from 192.0.2.9");
		unsigned k;

		e.peer = FWD_PEER_LIST;
		ck_assert_int_eq(fwd_ct_kill_edit(&e, &k), -EINVAL);
	}
	peer_stop(&peer);
	kill(srv5000, SIGKILL);
	kill(srv5001, SIGKILL);
	waitpid(srv5000, NULL, 0);
	waitpid(srv5001, NULL, 0);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_ir_free(removed);
}
END_TEST

static Suite *monitor_suite(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("guard");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, monitor_sees_others_not_us);
	tcase_add_test(tc, monitor_restore_within_a_second);
	tcase_add_test(tc, monitor_overrun_is_lost_event);
	tcase_add_test(tc, monitor_accounts_generations);
	tcase_add_test(tc, doctor_lists_neighbours);
	tcase_add_test(tc, ct_kill_ends_connections);
	suite_add_tcase(s, tc);

	/* CK_RUN_CASE=guard skips it (e.g. under valgrind) */
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, monitor_cost_of_own_applies);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(monitor_suite());
}
