// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `fwctl audit` and [audit] interval: the namespace's listeners (sock_diag
 * and /proc, kmod-hooks/sockets.c) judged against the running IR
 * (policy/audit.c), rendered as a table or JSON, kept as a baseline in
 * the state dir, and compared with it. Gather first, render second.
 *
 * The audit runs in fwd, not in fwctl: fwd holds the IR the kernel holds
 * (a policy compiled by fwctl from the files could differ from it by any
 * edit or pending reload), runs as root so it sees every process's
 * sockets, and needs the same code for its own [audit] interval.
 */
#include "cmd-audit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmdtab.h"
#include "json.h"
#include "audit.h"
#include "diag.h"
#include "fwd.h"
#include "log.h"
#include "sockets.h"
#include "state.h"
#include "util.h"
#include "vloop.h"
#include "worker.h"

#define BASELINE_MAX (64u << 20)

struct audit_req {
	struct fwd_ctx *ctx;
	struct fwd_response *resp;
	bool json, owners;		/* owners: the peer may see processes */
	bool save, diff;
};

/* The listeners now, judged. 0, or -errno with a message in resp. */
static int gather(struct fwd_ctx *ctx, struct fwd_audit *a, struct fwd_response *resp)
{
	int ret;

	if (ctx->disabled || !ctx->ir) {
		if (resp)
			fwd_response_fail(resp, FWD_EXIT_FAIL, "fwd's table is not in the "
					  "kernel (fwctl disable): every listener is exposed; "
					  "`fwctl enable` puts the rules back");
		return -ENOENT;
	}
	ret = fwd_sockets_list(a);
	if (ret) {
		if (resp)
			fwd_response_fail(resp, FWD_EXIT_FAIL, "cannot list sockets "
					  "(sock_diag): %s", strerror(-ret));
		return ret;
	}
	fwd_sockets_owners(a);
	return fwd_audit_judge(a, ctx->ir);
}

/* ---- rendering ---- */

static const char *dash(const char *s)
{
	return *s ? s : "-";
}

/* A process's words in a table or a log line: control bytes escaped and
 * quoted when they hold blanks (fwd_quote), so a command name cannot
 * write to the admin's terminal or forge a log field. */
static const char *safe(char *buf, const char *s)
{
	if (!*s)
		return "-";
	return fwd_quote(buf, s, strlen(s), FWD_AUDIT_EXE);
}

static void json_strs(struct json_out *j, char *const *v, size_t n)
{
	json_arr_begin(j);
	for (size_t i = 0; i < n; i++)
		json_str(j, v[i]);
	json_arr_end(j);
}

static void json_str_or_null(struct json_out *j, const char *s, bool show)
{
	if (show && *s)
		json_str(j, s);
	else
		json_null(j);
}

static void json_sock(struct json_out *j, const struct fwd_audit_sock *s, bool owners)
{
	char addr[FWD_AUDIT_ADDR];

	fwd_audit_addr(s, addr, sizeof(addr));
	json_obj_begin(j);
	json_key(j, "proto"); json_str(j, s->proto == 17 ? "udp" : "tcp");
	json_key(j, "address"); json_str(j, addr);
	json_key(j, "port"); json_uint(j, s->port);
	json_key(j, "family"); json_str(j, s->family == AF_INET ? "ipv4" : "ipv6");
	json_key(j, "v6only"); json_bool(j, s->v6only);
	json_key(j, "verdict"); json_str(j, fwd_audit_verdict_name(s->verdict));
	json_key(j, "allowed_from"); json_strs(j, s->from, s->nfrom);
	json_key(j, "pid");
	if (owners && s->pid)
		json_uint(j, (uint64_t)s->pid);
	else
		json_null(j);
	json_key(j, "command"); json_str_or_null(j, s->comm, owners);
	json_key(j, "exe"); json_str_or_null(j, s->exe, owners);
	json_key(j, "uid"); json_uint(j, s->uid);
	json_key(j, "user"); json_str_or_null(j, s->user, true);
	json_key(j, "unit"); json_str_or_null(j, s->unit, owners);
	json_obj_end(j);
}

static void render_json(struct audit_req *r, const struct fwd_audit *a)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json_out j;

	if (!f)
		abort();	/* OOM policy: abort */
	json_init(&j, f);
	json_obj_begin(&j);
	json_key(&j, "sockets");
	json_arr_begin(&j);
	for (size_t i = 0; i < a->n; i++)
		json_sock(&j, &a->socks[i], r->owners);
	json_arr_end(&j);
	json_key(&j, "unused");
	json_arr_begin(&j);
	for (size_t i = 0; i < a->nunused; i++) {
		const struct fwd_audit_unused *u = &a->unused[i];

		json_obj_begin(&j);
		json_key(&j, "proto"); json_str(&j, u->proto == 17 ? "udp" : "tcp");
		json_key(&j, "port"); json_uint(&j, u->plo);
		json_key(&j, "port_end"); json_uint(&j, u->phi);
		json_key(&j, "allowed_from"); json_strs(&j, u->from, u->nfrom);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "owners_shown"); json_bool(&j, r->owners);
	json_obj_end(&j);
	json_finish(&j);
	fclose(f);
	fwd_response_write(r->resp, text, len);
	free(text);
}

/* "any", "192.0.2.0/24, 198.51.100.7", "... (+3 more)": a table cell. */
static void from_text(char *const *v, size_t n, char *buf, size_t len)
{
	size_t k = 0;

	buf[0] = '\0';
	if (!n) {
		snprintf(buf, len, "-");
		return;
	}
	for (; k < n && k < 3; k++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", k ? ", " : "", v[k]);
	if (k < n)
		snprintf(buf + strlen(buf), len - strlen(buf), " (+%zu more)", n - k);
}

static void render_text(struct audit_req *r, const struct fwd_audit *a)
{
	int wa = 7, wf = 12;
	char addr[FWD_AUDIT_ADDR], from[256], q1[FWD_QUOTE_BUF(FWD_AUDIT_EXE)],
	     q2[FWD_QUOTE_BUF(FWD_AUDIT_EXE)], q3[FWD_QUOTE_BUF(FWD_AUDIT_EXE)];

	for (size_t i = 0; i < a->n; i++) {
		fwd_audit_addr(&a->socks[i], addr, sizeof(addr));
		from_text(a->socks[i].from, a->socks[i].nfrom, from, sizeof(from));
		if ((int)strlen(addr) > wa)
			wa = (int)strlen(addr);
		if ((int)strlen(from) > wf)
			wf = (int)strlen(from);
	}
	fwd_response_printf(r->resp, "%-5s %-*s %5s  %-10s  %-*s  %-8s %-7s %-15s %-20s %s\n",
			    "PROTO", wa, "ADDRESS", "PORT", "VERDICT", wf, "ALLOWED FROM",
			    "USER", "PID", "COMMAND", "UNIT", "EXE");
	for (size_t i = 0; i < a->n; i++) {
		const struct fwd_audit_sock *s = &a->socks[i];
		char pid[16] = "-";

		fwd_audit_addr(s, addr, sizeof(addr));
		from_text(s->from, s->nfrom, from, sizeof(from));
		if (r->owners && s->pid)
			snprintf(pid, sizeof(pid), "%d", s->pid);
		fwd_response_printf(r->resp, "%-5s %-*s %5u  %-10s  %-*s  %-8s %-7s %-15s %-20s %s\n",
				    s->proto == 17 ? "udp" : "tcp", wa, addr, s->port,
				    fwd_audit_verdict_name(s->verdict), wf, from,
				    *s->user ? s->user : "-", pid,
				    r->owners ? safe(q1, s->comm) : "-",
				    r->owners ? safe(q2, s->unit) : "-",
				    r->owners ? safe(q3, s->exe) : "-");
	}
	if (!a->n)
		fwd_response_printf(r->resp, "(no listening sockets)\n");
	if (a->nunused) {
		fwd_response_printf(r->resp, "\nallowed, nothing listening (unused):\n");
		for (size_t i = 0; i < a->nunused; i++) {
			const struct fwd_audit_unused *u = &a->unused[i];
			char ports[16];

			if (u->plo == u->phi)
				snprintf(ports, sizeof(ports), "%u", u->plo);
			else
				snprintf(ports, sizeof(ports), "%u-%u", u->plo, u->phi);
			from_text(u->from, u->nfrom, from, sizeof(from));
			fwd_response_printf(r->resp, "  %-3s %-11s from %s\n",
					    u->proto == 17 ? "udp" : "tcp", ports, from);
		}
	}
	if (!r->owners)
		fwd_response_printf(r->resp, "\n(processes are shown to fwd's admins only)\n");
}

/* ---- baseline and diff ---- */

static int save_baseline(struct audit_req *r, const struct fwd_audit *a)
{
	char why[256];
	size_t len;
	char *text;
	int dfd, ret;

	if (!*r->ctx->state_dir) {
		fwd_response_fail(r->resp, FWD_EXIT_USAGE, "fwd runs without a state "
				  "directory (--state-dir \"\"): nowhere to keep a baseline");
		return -EINVAL;
	}
	/* The state dir is checked as every state file's is (state.h). */
	dfd = fwd_state_dir_open(r->ctx->state_dir, true, why, sizeof(why));
	if (dfd < 0) {
		fwd_response_fail(r->resp, FWD_EXIT_FAIL, "not saved: %s", why);
		return dfd;
	}
	close(dfd);
	text = fwd_audit_baseline_format(a, &len);
	ret = fwd_write_atomic(r->ctx->state_dir, FWD_AUDIT_BASELINE, text, len, 0600);
	free(text);
	if (ret) {
		fwd_response_fail(r->resp, FWD_EXIT_FAIL, "cannot write %s/%s: %s",
				  r->ctx->state_dir, FWD_AUDIT_BASELINE, strerror(-ret));
		return ret;
	}
	fwd_log(LOG_INFO, "audit: baseline of %zu listeners saved in %s/%s", a->n,
		r->ctx->state_dir, FWD_AUDIT_BASELINE);
	return 0;
}

/* The baseline's entries: 0, -ENOENT, or -errno with why filled. */
static int load_baseline(struct fwd_ctx *ctx, struct fwd_audit_entry **v, size_t *n,
			 char *why, size_t whylen)
{
	char *text;
	size_t len;
	char pwhy[200];
	int ret;

	*v = NULL;
	*n = 0;
	if (!*ctx->state_dir)
		return -ENOENT;
	ret = fwd_state_read_file(ctx->state_dir, FWD_AUDIT_BASELINE, BASELINE_MAX,
				  &text, &len, why, whylen);
	if (ret)
		return ret;
	ret = fwd_audit_baseline_parse(text, len, v, n, pwhy, sizeof(pwhy));
	if (ret)
		snprintf(why, whylen, "%s/%s: %s", ctx->state_dir, FWD_AUDIT_BASELINE, pwhy);
	free(text);
	return ret;
}

static struct fwd_audit_entry *entries_of(const struct fwd_audit *a)
{
	struct fwd_audit_entry *v = fwd_xcalloc(a->n ? a->n : 1, sizeof(*v));

	for (size_t i = 0; i < a->n; i++)
		fwd_audit_entry_of(&a->socks[i], &v[i]);
	return v;
}

static const char *change_word(enum fwd_audit_change c)
{
	return c == FWD_AUDIT_NEW ? "new" : c == FWD_AUDIT_GONE ? "gone" : "changed";
}

static void json_entry(struct json_out *j, const struct fwd_audit_entry *e, bool owners)
{
	json_obj_begin(j);
	json_key(j, "verdict"); json_str(j, e->verdict);
	json_key(j, "uid"); json_uint(j, e->uid);
	json_key(j, "user"); json_str_or_null(j, e->user, true);
	json_key(j, "command"); json_str_or_null(j, e->comm, owners);
	json_key(j, "exe"); json_str_or_null(j, e->exe, owners);
	json_key(j, "unit"); json_str_or_null(j, e->unit, owners);
	json_obj_end(j);
}

static void diff_json(struct audit_req *r, const struct fwd_audit_diff *d, size_t n,
		      bool exposed)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json_out j;

	if (!f)
		abort();	/* OOM policy: abort */
	json_init(&j, f);
	json_obj_begin(&j);
	json_key(&j, "newly_exposed"); json_bool(&j, exposed);
	json_key(&j, "changes");
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		const struct fwd_audit_entry *k = d[i].change == FWD_AUDIT_GONE ?
						  &d[i].was : &d[i].now;

		json_obj_begin(&j);
		json_key(&j, "change"); json_str(&j, change_word(d[i].change));
		json_key(&j, "proto"); json_str(&j, k->proto);
		json_key(&j, "address"); json_str(&j, k->addr);
		json_key(&j, "port"); json_uint(&j, k->port);
		json_key(&j, "newly_exposed"); json_bool(&j, d[i].newly_exposed);
		json_key(&j, "owner_changed"); json_bool(&j, d[i].owner_changed);
		json_key(&j, "verdict_changed"); json_bool(&j, d[i].verdict_changed);
		json_key(&j, "was");
		if (d[i].change == FWD_AUDIT_NEW)
			json_null(&j);
		else
			json_entry(&j, &d[i].was, r->owners);
		json_key(&j, "now");
		if (d[i].change == FWD_AUDIT_GONE)
			json_null(&j);
		else
			json_entry(&j, &d[i].now, r->owners);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
	fclose(f);
	fwd_response_write(r->resp, text, len);
	free(text);
}

/* "sshd (user root, ssh.service)" or "user root" for the read role. */
static void owner_text(const struct fwd_audit_entry *e, bool owners, char *buf, size_t len)
{
	char q1[FWD_QUOTE_BUF(FWD_AUDIT_EXE)], q2[FWD_QUOTE_BUF(FWD_AUDIT_EXE)];

	if (owners)
		snprintf(buf, len, "%s, user %s, unit %s", safe(q1, e->comm),
			 dash(e->user), safe(q2, e->unit));
	else
		snprintf(buf, len, "user %s", dash(e->user));
}

static void diff_text(struct audit_req *r, const struct fwd_audit_diff *d, size_t n)
{
	char ow[700], ow2[700];

	for (size_t i = 0; i < n; i++) {
		const struct fwd_audit_entry *k = d[i].change == FWD_AUDIT_GONE ?
						  &d[i].was : &d[i].now;
		bool v6 = strchr(k->addr, ':') != NULL;
		char where[FWD_AUDIT_ADDR + 16];

		snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", k->addr,
			 v6 ? "]" : "", k->port);
		if (d[i].change == FWD_AUDIT_NEW) {
			owner_text(&d[i].now, r->owners, ow, sizeof(ow));
			fwd_response_printf(r->resp, "+ %s %s %s (%s)%s\n", k->proto, where,
					    d[i].now.verdict, ow,
					    d[i].newly_exposed ? "  NEWLY EXPOSED" : "");
		} else if (d[i].change == FWD_AUDIT_GONE) {
			owner_text(&d[i].was, r->owners, ow, sizeof(ow));
			fwd_response_printf(r->resp, "- %s %s %s (%s)\n", k->proto, where,
					    d[i].was.verdict, ow);
		} else {
			fwd_response_printf(r->resp, "~ %s %s", k->proto, where);
			if (d[i].verdict_changed)
				fwd_response_printf(r->resp, " verdict %s -> %s",
						    d[i].was.verdict, d[i].now.verdict);
			if (d[i].owner_changed) {
				owner_text(&d[i].was, r->owners, ow, sizeof(ow));
				owner_text(&d[i].now, r->owners, ow2, sizeof(ow2));
				fwd_response_printf(r->resp, "%s owner (%s) -> (%s)",
						    d[i].verdict_changed ? ";" : "", ow, ow2);
			}
			fwd_response_printf(r->resp, "%s\n",
					    d[i].newly_exposed ? "  NEWLY EXPOSED" : "");
		}
	}
	if (!n)
		fwd_response_printf(r->resp, "no change since the baseline\n");
}

static void run_diff(struct audit_req *r, const struct fwd_audit *a)
{
	struct fwd_audit_entry *base, *now;
	struct fwd_audit_diff *d;
	size_t nbase, nd;
	char why[512];
	bool exposed = false;
	int ret;

	ret = load_baseline(r->ctx, &base, &nbase, why, sizeof(why));
	if (ret == -ENOENT) {
		fwd_response_fail(r->resp, FWD_EXIT_USAGE, "no audit baseline%s%s; "
				  "`fwctl audit --save-baseline` keeps one",
				  *r->ctx->state_dir ? " in " : " (fwd runs without a "
				  "state directory)", r->ctx->state_dir);
		return;
	}
	if (ret) {
		fwd_response_fail(r->resp, FWD_EXIT_USAGE, "the audit baseline cannot be "
				  "used: %s; `fwctl audit --save-baseline` writes a new one",
				  why);
		return;
	}
	now = entries_of(a);
	fwd_audit_diff(base, nbase, now, a->n, &d, &nd);
	for (size_t i = 0; i < nd; i++)
		exposed |= d[i].newly_exposed;
	if (r->json)
		diff_json(r, d, nd, exposed);
	else
		diff_text(r, d, nd);
	/* For cron and monitoring: 1 when something new is exposed. */
	if (exposed)
		r->resp->status = FWD_EXIT_FAIL;
	free(d);
	free(now);
	free(base);
}

void fwd_cmd_audit(struct fwd_ctx *ctx, const struct fwd_ctl_peer *peer,
		   int argc, char **argv, bool json, struct fwd_response *resp)
{
	struct audit_req r = { .ctx = ctx, .resp = resp, .json = json,
			       .owners = peer->role >= FWD_ROLE_ADMIN };
	struct fwd_audit a = { 0 };
	char q[FWD_QUOTE_BUF(60)];

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			r.json = true;
		else if (!strcmp(argv[i], "--save-baseline"))
			r.save = true;
		else if (!strcmp(argv[i], "--diff"))
			r.diff = true;
		else {
			fwd_response_fail(resp, FWD_EXIT_USAGE, "unexpected '%s'; usage: "
					  "fwctl audit [--save-baseline|--diff] [--json]",
					  fwd_quote(q, argv[i], strlen(argv[i]), 60));
			return;
		}
	}
	if (r.save && r.diff) {
		fwd_response_fail(resp, FWD_EXIT_USAGE, "--save-baseline and --diff "
				  "do not go together: diff first, then save");
		return;
	}
	if (r.save && !fwd_ctl_require(resp, peer, "audit --save-baseline", FWD_ROLE_ADMIN))
		return;
	if (gather(ctx, &a, resp) != 0) {
		fwd_audit_free(&a);
		return;
	}
	if (r.diff) {
		run_diff(&r, &a);
	} else if (r.save) {
		if (save_baseline(&r, &a) == 0) {
			if (r.json)
				fwd_response_printf(resp, "{\"saved\": true, \"listeners\": %zu}\n",
						    a.n);
			else
				fwd_response_printf(resp, "baseline of %zu listeners saved\n",
						    a.n);
		}
	} else if (r.json) {
		render_json(&r, &a);
	} else {
		render_text(&r, &a);
	}
	fwd_audit_free(&a);
}

/* ---- [audit] interval ---- */

/*
 * The record of one listener newly exposed, through the daemon's syslog
 * path as key=value fields (the values quoted by fwd_quote, so a command
 * name cannot add a field). FWCTL_LOG_HOOK: this is the one place that
 * emits audit records; when `fwctl log`'s ring exists in the daemon, push
 * the same fields there from here.
 */
static void fwd_audit_emit_record(struct fwd_ctx *ctx, const struct fwd_audit_diff *d,
				  int pid)
{
	char q1[FWD_QUOTE_BUF(FWD_AUDIT_EXE)], q2[FWD_QUOTE_BUF(FWD_AUDIT_EXE)],
	     q3[FWD_QUOTE_BUF(FWD_AUDIT_EXE)], q4[FWD_QUOTE_BUF(FWD_AUDIT_EXE)];

	(void)ctx;
	fwd_log(LOG_WARNING, "audit: newly exposed listener proto=%s address=%s port=%u "
		"verdict=%s change=%s pid=%d command=%s exe=%s uid=%u user=%s unit=%s",
		d->now.proto, d->now.addr, d->now.port, d->now.verdict,
		d->change == FWD_AUDIT_NEW ? "new" : "verdict", pid,
		safe(q1, d->now.comm), safe(q2, d->now.exe), d->now.uid,
		safe(q3, d->now.user), safe(q4, d->now.unit));
}

/* The pid of the socket an entry was made from (entries[i] is socks[i]). */
static int pid_of(const struct fwd_audit_entry *now, const int *pids, size_t n,
		  const struct fwd_audit_entry *e)
{
	for (size_t i = 0; i < n; i++)
		if (now[i].port == e->port && !strcmp(now[i].proto, e->proto) &&
		    !strcmp(now[i].addr, e->addr))
			return pids[i];
	return 0;
}

/*
 * One run's listeners (`now`, n of them, taken; pids[i] the owner of
 * now[i]) against the last run's (or the baseline), the newly exposed
 * ones logged. Cheap: the costly part (sock_diag, /proc, judging) is
 * done before, in the worker child when it could be forked.
 */
static void audit_compare(struct fwd_ctx *ctx, struct fwd_audit_entry *now,
			  const int *pids, size_t n)
{
	struct fwd_audit_diff *d;
	size_t nd;

	if (!ctx->audit_have_prev) {
		char why[512];
		int ret = load_baseline(ctx, &ctx->audit_prev, &ctx->naudit_prev, why,
					sizeof(why));

		if (ret && ret != -ENOENT)
			fwd_log(LOG_WARNING, "audit: %s; comparing with this run from now on",
				why);
		if (ret) {
			/* No baseline: this run is where the comparison starts. */
			ctx->audit_prev = now;
			ctx->naudit_prev = n;
			ctx->audit_have_prev = true;
			fwd_log(LOG_INFO, "audit: %zu listeners; newly exposed ones are "
				"logged from now on", n);
			return;
		}
		ctx->audit_have_prev = true;
	}
	fwd_audit_diff(ctx->audit_prev, ctx->naudit_prev, now, n, &d, &nd);
	for (size_t i = 0; i < nd; i++)
		if (d[i].newly_exposed)
			fwd_audit_emit_record(ctx, &d[i], pid_of(now, pids, n, &d[i].now));
	free(d);
	free(ctx->audit_prev);
	ctx->audit_prev = now;
	ctx->naudit_prev = n;
}

/* The run itself: the listeners, their owners, their verdicts. */
static int audit_run(struct fwd_ctx *ctx, struct fwd_audit_entry **now, int **pids,
		     size_t *n)
{
	struct fwd_audit a = { 0 };
	int ret = gather(ctx, &a, NULL);

	if (ret == 0) {
		*now = entries_of(&a);
		*pids = fwd_xcalloc(a.n ? a.n : 1, sizeof(**pids));
		for (size_t i = 0; i < a.n; i++)
			(*pids)[i] = a.socks[i].pid;
		*n = a.n;
	}
	fwd_audit_free(&a);
	return ret;
}

/*
 * In the worker child (worker.h): the run, written to out_fd as the
 * count, the entries and the pids, raw: the parent is the same program
 * (fork, no exec), so the layout is the same.
 */
static int audit_child(void *arg, int out_fd)
{
	struct fwd_audit_entry *now = NULL;
	int *pids = NULL, ret;
	uint64_t n64;
	size_t n = 0;

	ret = audit_run(arg, &now, &pids, &n);
	if (ret == 0) {
		n64 = n;
		ret = fwd_write_all(out_fd, &n64, sizeof(n64));
		if (ret == 0)
			ret = fwd_write_all(out_fd, now, n * sizeof(*now));
		if (ret == 0)
			ret = fwd_write_all(out_fd, pids, n * sizeof(*pids));
	}
	free(now);
	free(pids);
	return ret;
}

int fwd_audit_worker_fd(const struct fwd_ctx *ctx)
{
	return ctx->audit_worker.pid > 0 ? ctx->audit_worker.pidfd : -1;
}

/* The child has exited (its pidfd is readable): take its run. */
void fwd_audit_done(struct fwd_ctx *ctx)
{
	struct fwd_worker *w = &ctx->audit_worker;
	struct fwd_audit_entry *now;
	int status = 0, *pids;
	char why[32];
	uint64_t n64;
	size_t len;
	void *buf;

	if (ctx->efd >= 0)
		epoll_ctl(ctx->efd, EPOLL_CTL_DEL, w->pidfd, NULL);
	if (fwd_worker_reap(w, &status) != 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fwd_worker_status_text(status, why, sizeof(why));
		fwd_log(LOG_WARNING, "audit: the run failed (%s); the next one "
			"compares with the last good run", why);
		fwd_worker_release(w);
		return;
	}
	if (fwd_worker_answer(w, &buf, &len) == 0) {
		memcpy(&n64, buf, len >= sizeof(n64) ? sizeof(n64) : 0);
		if (len >= sizeof(n64) &&
		    n64 <= (len - sizeof(n64)) / (sizeof(*now) + sizeof(*pids)) &&
		    len == sizeof(n64) + n64 * (sizeof(*now) + sizeof(*pids))) {
			size_t n = (size_t)n64;

			now = fwd_xcalloc(n ? n : 1, sizeof(*now));
			pids = fwd_xcalloc(n ? n : 1, sizeof(*pids));
			memcpy(now, (char *)buf + sizeof(n64), n * sizeof(*now));
			memcpy(pids, (char *)buf + sizeof(n64) + n * sizeof(*now),
			       n * sizeof(*pids));
			ctx->audit_offloaded++;
			audit_compare(ctx, now, pids, n);
			free(pids);
		} else {
			fwd_log(LOG_WARNING, "audit: the run's answer is damaged");
		}
		munmap(buf, len);
	}
	fwd_worker_release(w);
}

/*
 * The run costs a sock_diag dump and a walk of every process's fds (0.1-
 * 0.5 s at 10k sockets): a forked child does it off the event loop, as
 * the slow queries (worker.h; the verdict loop's lock held across the
 * fork), and the loop compares when it is done. A run still going when
 * the timer fires again is left to finish (that tick is skipped); if the
 * fork fails, the run happens here as before.
 */
void fwd_audit_tick(struct fwd_ctx *ctx)
{
	struct fwd_audit_entry *now = NULL;
	int *pids = NULL, ret = -1;
	size_t n = 0;

	if (ctx->audit_worker.pid > 0)
		return;
	if (ctx->efd >= 0 && !ctx->disabled && ctx->ir) {
		struct epoll_event ev = { .events = EPOLLIN };

		fwd_vloop_fork_prepare(ctx);
		ret = fwd_worker_start(&ctx->audit_worker, audit_child, ctx);
		fwd_vloop_fork_done(ctx);
		if (ret == 0) {
			ev.data.fd = ctx->audit_worker.pidfd;
			if (epoll_ctl(ctx->efd, EPOLL_CTL_ADD, ev.data.fd, &ev) == 0)
				return;
			/* Not watched: wait for it here rather than lose it. */
			fwd_audit_done(ctx);
			return;
		}
	}
	if (audit_run(ctx, &now, &pids, &n) != 0) {
		free(now);
		free(pids);
		return;
	}
	audit_compare(ctx, now, pids, n);
	free(pids);
}

void fwd_audit_arm(struct fwd_ctx *ctx)
{
	uint32_t want = ctx->policy && ctx->policy->audit.on ? ctx->policy->audit.interval : 0;
	struct itimerspec its = { 0 };

	if (ctx->audit_tfd < 0 || want == ctx->audit_armed)
		return;
	/* The first run soon after the timer starts, so fwd's picture is
	 * there before the first interval is over. */
	its.it_value.tv_sec = want ? 1 : 0;
	its.it_interval.tv_sec = want;
	timerfd_settime(ctx->audit_tfd, 0, &its, NULL);
	ctx->audit_armed = want;
	if (want)
		fwd_log(LOG_INFO, "audit: every %us", want);
}

void fwd_audit_stop(struct fwd_ctx *ctx)
{
	fwd_worker_release(&ctx->audit_worker);
	free(ctx->audit_prev);
	ctx->audit_prev = NULL;
	ctx->naudit_prev = 0;
	ctx->audit_have_prev = false;
}

/* The command table's row (it reads its own options: own_options). */
int cmd_audit(struct cmdreq *cr)
{
	fwd_cmd_audit(cr->ctx, cr->peer, cr->argc, cr->argv, cr->json, cr->resp);
	return 0;
}
