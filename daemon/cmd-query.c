// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl's queries of the running policy: status, show (and show --nft, the
 * live table read back), list show, list blocked, explain. They change
 * nothing, and a read-role peer may run them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"
#include "cgroup.h"
#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "ir.h"
#include "log.h"
#include "outbound.h"
#include "cmd-log.h"
#include "metrics.h"
#include "state.h"
#include "util.h"
#include "vloop.h"

/* ---- queries ---------------------------------------------------------- */

static size_t count_elems(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t i = 0; ir && i < ir->nsets; i++)
		n += ir->sets[i].n;
	return n;
}

static size_t count_edits(const struct fwd_policy *p, int kind, bool runtime_only)
{
	size_t n = 0;
	uint64_t now = now_s();

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->expires && e->expires <= now)
			continue;
		if ((kind < 0 || (int)e->kind == kind) && (!runtime_only || e->runtime))
			n++;
	}
	return n;
}

/* One rule of `status --verbose`, numbered as `show` numbers them: a
 * service, or an edit in force, and its hits. */
struct status_rule {
	size_t i;			/* the service, or nservices + the edit */
	char rule[FWD_EDIT_STRLEN];	/* "service NAME", or the edit's words */
	bool hits;			/* counted (an owner with element counters) */
	uint64_t packets, bytes;
};

/*
 * What `fwctl status` reports, all gathered before anything is rendered
 * (status_gather): the renderers read this and nothing else (no ctx, no
 * clock). Strings and the policy are lent from ctx for the request.
 */
struct status_view {
	long pid;
	time_t now, started;
	const char *config;
	bool builtin, disabled, model_unknown;
	const struct fwd_policy *p;	/* NULL before the first policy */
	const char *degraded;		/* NULL: not degraded */
	const char *degraded_errors;	/* a line each, or NULL */
	unsigned generation;
	time_t applied;
	char when[64];			/* the policy applied, local time */
	unsigned long long restores, audit_offloaded;
	size_t services, lists, edits, runtime_edits, blocked, sets, elements;
	time_t confirm_deadline;	/* 0: none pending */
	struct fwd_features feat;
	struct fwd_vloop_view loop;
	struct fwd_metrics_state metrics;
	struct fwd_ctl_stats cs;
	/* --verbose: the rules (rules non-NULL, nrules may be 0) */
	struct status_rule *rules;
	size_t nrules;
};

/* The rules in force with their hits (om: empty when the element counters
 * are off, so every rule shows no hits). */
static void status_rules_gather(struct status_view *v, const struct fwd_policy *p,
				const struct fwd_own_map *om)
{
	uint64_t now = now_s();

	v->rules = fwd_xcalloc(p->nservices + p->nedits + 1, sizeof(*v->rules));
	for (size_t i = 0; i < p->nservices + p->nedits; i++) {
		bool svc = i < p->nservices;
		const struct fwd_edit *e = svc ? NULL : &p->edits[i - p->nservices];
		const struct fwd_own_acc *a;
		struct status_rule *r = &v->rules[v->nrules];

		if (e && e->expires && e->expires <= now)
			continue;
		r->i = i;
		if (e)
			fwd_edit_format(e, r->rule, sizeof(r->rule));
		else
			snprintf(r->rule, sizeof(r->rule), "service %s", p->services[i].name);
		a = svc ? fwd_own_of_service(om, i) : fwd_own_of_edit(om, i - p->nservices);
		if (a) {
			r->hits = true;
			r->packets = a->packets;
			r->bytes = a->bytes;
		}
		v->nrules++;
	}
}

static void status_gather(struct cmdreq *cr, struct status_view *v)
{
	struct fwd_ctx *ctx = cr->ctx;
	const struct fwd_policy *p = ctx->policy;

	memset(v, 0, sizeof(*v));
	v->pid = (long)getpid();
	v->now = time(NULL);
	v->started = ctx->started;
	v->config = ctx->config;
	v->builtin = ctx->builtin;
	v->disabled = ctx->disabled;
	v->model_unknown = ctx->model_unknown != NULL;
	v->p = p;
	v->degraded = ctx->degraded;
	v->degraded_errors = ctx->degraded ? ctx->degraded_errors : NULL;
	v->generation = ctx->generation;
	v->applied = ctx->applied;
	strftime(v->when, sizeof(v->when), "%Y-%m-%d %H:%M:%S", localtime(&ctx->applied));
	v->restores = ctx->restores;
	v->audit_offloaded = ctx->audit_offloaded;
	v->services = p ? p->nservices : 0;
	v->lists = p ? p->nlists : 0;
	v->edits = p ? count_edits(p, -1, false) : 0;
	v->runtime_edits = p ? count_edits(p, -1, true) : 0;
	v->blocked = p ? count_edits(p, FWD_EDIT_BLOCK, false) : 0;
	v->sets = ctx->ir ? ctx->ir->nsets : 0;
	v->elements = count_elems(ctx->ir);
	v->confirm_deadline = ctx->confirm_deadline;
	v->feat = ctx->feat;
	fwd_vloop_view_gather(ctx, &v->loop);
	fwd_metrics_state_gather(ctx, &v->metrics);
	fwd_ctl_server_stats(ctx->ctl, &v->cs);
}

static void status_rules_json(struct json_out *j, const struct status_view *v)
{
	json_arr_begin(j);
	for (size_t k = 0; k < v->nrules; k++) {
		const struct status_rule *r = &v->rules[k];

		json_obj_begin(j);
		json_key(j, "number"); json_uint(j, r->i + 1);
		json_key(j, "rule"); json_str(j, r->rule);
		json_key(j, "packets");
		if (r->hits)
			json_uint(j, r->packets);
		else
			json_null(j);
		json_key(j, "bytes");
		if (r->hits)
			json_uint(j, r->bytes);
		else
			json_null(j);
		json_obj_end(j);
	}
	json_arr_end(j);
}

static void status_json(struct cmdreq *cr, const struct status_view *v)
{
	const struct fwd_policy *p = v->p;
	struct jbuf b;

	jbuf_open(&b);
	json_obj_begin(&b.j);
	json_key(&b.j, "running"); json_bool(&b.j, true);
	json_key(&b.j, "version"); json_str(&b.j, FWD_VERSION);
	json_key(&b.j, "pid"); json_uint(&b.j, (uint64_t)v->pid);
	json_key(&b.j, "uptime"); json_uint(&b.j, (uint64_t)(v->now - v->started));
	json_key(&b.j, "config"); json_str(&b.j, v->config);
	json_key(&b.j, "builtin_default"); json_bool(&b.j, v->builtin);
	json_key(&b.j, "files");
	json_arr_begin(&b.j);
	for (size_t i = 0; p && i < p->nfiles; i++)
		json_str(&b.j, p->files[i]);
	json_arr_end(&b.j);
	json_key(&b.j, "generation"); json_uint(&b.j, v->generation);
	json_key(&b.j, "applied"); json_int(&b.j, (int64_t)v->applied);
	json_key(&b.j, "disabled"); json_bool(&b.j, v->disabled);
	json_key(&b.j, "guard_restores"); json_uint(&b.j, v->restores);
	/* [audit] interval runs done by a forked child, off the loop. */
	json_key(&b.j, "audit_runs_offloaded"); json_uint(&b.j, v->audit_offloaded);
	json_key(&b.j, "degraded");
	if (v->degraded)
		json_str(&b.j, v->degraded);
	else
		json_null(&b.j);
	json_key(&b.j, "degraded_errors");
	json_arr_begin(&b.j);
	for (const char *e = v->degraded_errors; e && *e; ) {
		size_t n = strcspn(e, "\n");
		char *line = strndup(e, n);

		if (!line)
			abort();
		json_str(&b.j, line);
		free(line);
		e += n + (e[n] == '\n');
	}
	json_arr_end(&b.j);
	json_key(&b.j, "services"); json_uint(&b.j, v->services);
	json_key(&b.j, "lists"); json_uint(&b.j, v->lists);
	json_key(&b.j, "edits"); json_uint(&b.j, v->edits);
	json_key(&b.j, "runtime_edits"); json_uint(&b.j, v->runtime_edits);
	json_key(&b.j, "blocked"); json_uint(&b.j, v->blocked);
	json_key(&b.j, "sets"); json_uint(&b.j, v->sets);
	json_key(&b.j, "elements"); json_uint(&b.j, v->elements);
	json_key(&b.j, "confirm_pending");
	if (v->confirm_deadline)
		json_int(&b.j, (int64_t)(v->confirm_deadline - v->now));
	else
		json_null(&b.j);
	json_key(&b.j, "kernel");
	json_obj_begin(&b.j);
	json_key(&b.j, "concat_interval"); json_bool(&b.j, v->feat.concat_interval);
	json_key(&b.j, "set_timeout"); json_bool(&b.j, v->feat.set_timeout);
	json_key(&b.j, "native_queue"); json_bool(&b.j, v->feat.native_queue);
	json_key(&b.j, "xt_nfqueue"); json_bool(&b.j, v->feat.xt_nfqueue);
	json_key(&b.j, "table_owner"); json_bool(&b.j, v->feat.table_owner);
	json_key(&b.j, "table_persist"); json_bool(&b.j, v->feat.table_persist);
	json_obj_end(&b.j);
	json_key(&b.j, "queue"); fwd_vloop_status_json(&v->loop, &b.j);
	json_key(&b.j, "guard_blocks"); fwd_vloop_blocks_json(&v->loop, &b.j);
	json_key(&b.j, "metrics"); fwd_metrics_status_json(&v->metrics, &b.j);
	json_key(&b.j, "control");
	json_obj_begin(&b.j);
	json_key(&b.j, "served"); json_uint(&b.j, v->cs.served);
	json_key(&b.j, "busy"); json_uint(&b.j, v->cs.busy);
	json_key(&b.j, "timeouts"); json_uint(&b.j, v->cs.timeouts);
	json_key(&b.j, "malformed"); json_uint(&b.j, v->cs.malformed);
	json_key(&b.j, "working"); json_uint(&b.j, v->cs.working);
	json_key(&b.j, "waiting"); json_uint(&b.j, v->cs.waiting);
	json_key(&b.j, "offloaded"); json_uint(&b.j, v->cs.offloaded);
	json_key(&b.j, "worker_failures"); json_uint(&b.j, v->cs.worker_failures);
	json_obj_end(&b.j);
	if (v->rules) {
		json_key(&b.j, "rules");
		status_rules_json(&b.j, v);
	}
	json_obj_end(&b.j);
	jbuf_close(&b, cr->resp);
}

static void service_line(struct fwd_response *resp, const struct fwd_policy *p,
			 size_t i);
static void edit_line(struct fwd_response *resp, const struct fwd_policy *p,
		      size_t i);

/*
 * status --verbose: the effective rules, numbered as `show` numbers them,
 * each with its hits from the kernel's element counters (ufw's `status
 * verbose`). Blocks and list edits have no counters of their own: "-".
 */
static void status_rules_text(struct fwd_response *resp, const struct status_view *v)
{
	const struct fwd_policy *p = v->p;

	fwd_response_printf(resp, "rules:      (number, rule, where, hits)\n");
	for (size_t k = 0; k < v->nrules; k++) {
		const struct status_rule *r = &v->rules[k];

		if (r->i < p->nservices)
			service_line(resp, p, r->i);
		else
			edit_line(resp, p, r->i - p->nservices);
		if (r->hits)
			fwd_response_printf(resp, "  %llu packets %llu bytes\n",
					    (unsigned long long)r->packets,
					    (unsigned long long)r->bytes);
		else
			fwd_response_printf(resp, "  -\n");
	}
}

static void status_text(struct cmdreq *cr, const struct status_view *v)
{
	const struct fwd_policy *p = v->p;

	fwd_response_printf(cr->resp, "fwd %s running, pid %ld, up %lds\n", FWD_VERSION,
			    v->pid, (long)(v->now - v->started));
	if (v->builtin)
		fwd_response_printf(cr->resp, "policy:     built-in default (no file at %s)\n",
				    v->config);
	else if (v->model_unknown || !p || !p->nfiles)
		fwd_response_printf(cr->resp, "policy:     %s (not applied)\n", v->config);
	else
		fwd_response_printf(cr->resp, "policy:     %s (%zu file%s)\n", v->config,
				    p->nfiles, p->nfiles == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "state:      %s%s\n",
			    v->disabled ? "DISABLED: no table, the host is open "
			    "(fwctl enable)" :
			    v->degraded ? "degraded: " : "ok, running the policy files",
			    !v->disabled && v->degraded ? v->degraded : "");
	/* Degraded because the files do not apply: say which errors, so the
	 * admin need not go to the log to find what to fix. */
	for (const char *e = v->degraded_errors; e && *e; ) {
		size_t n = strcspn(e, "\n");

		fwd_response_printf(cr->resp, "            %.*s\n", (int)n, e);
		e += n + (e[n] == '\n');
	}
	if (v->restores)
		fwd_response_printf(cr->resp, "tampering:  the table was changed by "
				    "others and restored %llu time%s (see the log)\n",
				    v->restores, v->restores == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "generation: %u, applied %s\n", v->generation,
			    v->when);
	/* One label a fact: the files above, their contents here. */
	if (v->model_unknown)
		fwd_response_printf(cr->resp, "contents:   not known: the running rules "
				    "are not compiled from the files\n");
	else if (p)
		fwd_response_printf(cr->resp, "contents:   %zu services, %zu lists, %zu "
				    "fwctl edits (%zu runtime only), %zu blocked\n",
				    v->services, v->lists, v->edits, v->runtime_edits,
				    v->blocked);
	if (v->disabled)
		fwd_response_printf(cr->resp, "kernel:     no table (deleted by fwctl "
				    "disable)\n");
	else
		fwd_response_printf(cr->resp, "kernel:     table inet %s, %zu sets, %zu "
				    "elements\n", FWD_TABLE_NAME, v->sets, v->elements);
	fwd_response_printf(cr->resp, "features:   concat-interval %s, timeouts %s, "
			    "queue %s, owner %s, persist %s\n",
			    v->feat.concat_interval ? "yes" : "no",
			    v->feat.set_timeout ? "yes" : "no",
			    v->feat.native_queue ? "native" :
			    v->feat.xt_nfqueue ? "xt NFQUEUE" : "none",
			    v->feat.table_owner ? "yes" : "no",
			    v->feat.table_persist ? "yes" : "no");
	fwd_vloop_status_text(&v->loop, cr->resp);
	fwd_metrics_status_text(&v->metrics, cr->resp);
	if (v->confirm_deadline)
		fwd_response_printf(cr->resp, "confirm:    pending, reverts in %lds unless "
				    "`fwctl confirm`\n", (long)(v->confirm_deadline - v->now));
	fwd_response_printf(cr->resp, "control:    %llu requests served, %llu busy, "
			    "%llu timed out, %llu malformed\n", v->cs.served, v->cs.busy,
			    v->cs.timeouts, v->cs.malformed);
	fwd_response_printf(cr->resp, "queries:    %u being answered off the loop, %u "
			    "queued; %llu so far, %llu failed\n", v->cs.working, v->cs.waiting,
			    v->cs.offloaded, v->cs.worker_failures);
	if (v->rules)
		status_rules_text(cr->resp, v);
}

int cmd_status(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	struct status_view v;
	struct fwd_own_map om;
	int ret = 0;

	memset(&om, 0, sizeof(om));
	if (cr->verbose && p) {
		ret = fwd_stats_owners(cr, &om);
		if (ret) {
			fwd_own_free(&om);
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read the table "
					  "back: %s", strerror(-ret));
			return ret;
		}
	}
	status_gather(cr, &v);
	if (cr->verbose && p)
		status_rules_gather(&v, p, &om);
	fwd_own_free(&om);
	if (cr->json)
		status_json(cr, &v);
	else
		status_text(cr, &v);
	free(v.rules);
	return 0;
}

static void ports_text(const struct fwd_ports *pr, char *buf, size_t len)
{
	if (pr->lo == pr->hi)
		snprintf(buf, len, "%u/%s", pr->lo, fwd_proto_name(pr->proto));
	else
		snprintf(buf, len, "%u-%u/%s", pr->lo, pr->hi, fwd_proto_name(pr->proto));
}

static void peer_text(const struct fwd_policy *p, const struct fwd_peer *pe,
		      char *buf, size_t len)
{
	switch (pe->kind) {
	case FWD_PEER_ANY: snprintf(buf, len, "any"); break;
	case FWD_PEER_ADDR: fwd_addr_format(&pe->addr, buf, len); break;
	case FWD_PEER_LIST: snprintf(buf, len, "@%s", p->lists[pe->list].name); break;
	}
}

/* A service as `show` prints it, its rule number first (no newline). */
static void service_line(struct fwd_response *resp, const struct fwd_policy *p,
			 size_t i)
{
	const struct fwd_service *s = &p->services[i];
	char a[128];

	fwd_response_printf(resp, "[%2zu] service %-13s %s ", FWD_RULE_NO_SERVICE(i),
			    s->name, s->dir == FWD_DIR_OUT ? "out" : "in ");
	for (size_t k = 0; k < s->nports; k++) {
		ports_text(&s->ports[k], a, sizeof(a));
		fwd_response_printf(resp, "%s%s", k ? "," : "", a);
	}
	fwd_response_printf(resp, " %s ", s->dir == FWD_DIR_OUT ? "to" : "from");
	for (size_t k = 0; k < s->nallow && k < 8; k++) {
		peer_text(p, &s->allow[k], a, sizeof(a));
		fwd_response_printf(resp, "%s%s", k ? "," : "", a);
	}
	if (s->nallow > 8)
		fwd_response_printf(resp, ",... (%zu in all)", s->nallow);
	for (size_t k = 0; k < s->nowners; k++)
		fwd_response_printf(resp, "%s%s %s", k ? "," : " for",
				    s->owners[k].kind == FWD_OWNER_UNIT ? " unit" :
				    s->owners[k].kind == FWD_OWNER_PROGRAM ? " program" :
				    " user",
				    s->owners[k].name);
	fwd_restrict_format(&s->rs, a, sizeof(a));
	fwd_response_printf(resp, "%s", a);
	fmt_loc(&s->loc, a, sizeof(a));
	fwd_response_printf(resp, "  (%s)", a);
}

/* An edit as `show` prints it, its rule number first (no newline). */
static void edit_line(struct fwd_response *resp, const struct fwd_policy *p,
		      size_t i)
{
	const struct fwd_edit *e = &p->edits[i];
	char w[256], a[128];

	/* The time as a time, and "runtime only" never beside
	 * "permanent": such an edit has no expiry but is not saved. */
	fmt_edit_human(e, w, sizeof(w));
	fmt_loc(&e->loc, a, sizeof(a));
	fwd_response_printf(resp, "[%2zu] edit    %s  (%s%s%s)", FWD_RULE_NO_EDIT(p, i), w,
			    a, e->expires ? "" : e->runtime ? ", no expiry" : ", permanent",
			    e->runtime ? "; runtime only: not saved, gone when fwd restarts" : "");
}

/* "interface" and "limit" of a service or an explained class: the name
 * and "N/WINDOW", or null. */
static void restrict_json(struct json_out *j, const struct fwd_restrict *r)
{
	char b[48];

	json_key(j, "interface");
	if (r->ifname[0])
		json_str(j, r->ifname);
	else
		json_null(j);
	json_key(j, "limit");
	if (r->limit_n) {
		fwd_limit_format(r->limit_n, r->limit_w, b, sizeof(b));
		json_str(j, b);
	} else {
		json_null(j);
	}
}

static int cmd_show_nft(struct cmdreq *cr)
{
	struct fwd_render_opts ro = { .table_flags = fwd_table_flags(&cr->ctx->feat, NULL) };
	struct fwd_cgroup_name *cgn = NULL;
	struct fwd_live_table *live = NULL;
	struct fwd_ir_counts *counts;
	struct fwd_ir *ir = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	/* What the kernel holds, read back, not what fwd believes it sent. */
	ret = fwd_live_read(cr->ctx->nl, NULL, &live);
	if (ret == 0)
		ret = fwd_live_to_ir(live, cr->ctx->ir, &ir);
	if (ret) {
		fwd_live_free(live);
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read table inet %s "
				  "back from the kernel: %s", FWD_TABLE_NAME, strerror(-ret));
		return ret;
	}
	/* The counters too, elements' and rules', as the kernel has them. */
	counts = fwd_live_counts(live, ir);
	ro.counts = counts;
	/* unit = elements by their cgroup's path, as nft names them. */
	fwd_cgroup_names(cr->ctx->policy, &cgn, &ro.ncgroups);
	ro.cgroups = cgn;
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fwd_ir_render(ir, &ro, f);
	fclose(f);
	fwd_ir_counts_free(counts);
	fwd_cgroup_names_free(cgn, ro.ncgroups);
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "table"); json_str(&b.j, "inet " FWD_TABLE_NAME);
		json_key(&b.j, "flags"); json_uint(&b.j, live->flags);
		json_key(&b.j, "nft"); json_str(&b.j, text);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
	} else {
		fwd_response_write(cr->resp, text, len);
	}
	free(text);
	fwd_ir_free(ir);
	fwd_live_free(live);
	return 0;
}

/* An outbound service's owners (`user =`, `unit =`, `program =`) in
 * show --json. */
static void owners_json(struct json_out *j, const struct fwd_service *s)
{
	const enum fwd_owner_kind kinds[] = { FWD_OWNER_USER, FWD_OWNER_UNIT,
					      FWD_OWNER_PROGRAM };
	const char *const keys[] = { "users", "units", "programs" };

	for (size_t t = 0; t < 3; t++) {
		json_key(j, keys[t]);
		json_arr_begin(j);
		for (size_t k = 0; k < s->nowners; k++)
			if (s->owners[k].kind == kinds[t])
				json_str(j, s->owners[k].name);
		json_arr_end(j);
	}
}

/* What `fwctl show` prints: the running model, lent, at one moment. */
struct show_view {
	const struct fwd_policy *p;
	unsigned generation;
	uint64_t now;
};

static void show_json(struct fwd_response *resp, const struct show_view *v)
{
	const struct fwd_policy *p = v->p;
	struct jbuf jb;
	char a[128];

	jbuf_open(&jb);
	json_obj_begin(&jb.j);
	/* What `remove N --generation G` checks the numbers against. */
	json_key(&jb.j, "generation"); json_uint(&jb.j, v->generation);
	json_key(&jb.j, "defaults");
	json_obj_begin(&jb.j);
	json_key(&jb.j, "inbound"); json_str(&jb.j, fwd_action_name(p->inbound));
	json_key(&jb.j, "outbound"); json_str(&jb.j, fwd_action_name(p->outbound));
	json_key(&jb.j, "log"); json_str(&jb.j, fwd_log_name(p->log));
	json_key(&jb.j, "icmp"); json_str(&jb.j, fwd_icmp_name(p->icmp));
	json_key(&jb.j, "counters"); json_bool(&jb.j, p->counters);
	json_obj_end(&jb.j);
	json_key(&jb.j, "lists");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < p->nlists; i++) {
		json_obj_begin(&jb.j);
		json_key(&jb.j, "name"); json_str(&jb.j, p->lists[i].name);
		json_key(&jb.j, "members"); json_uint(&jb.j, p->lists[i].n);
		fmt_loc(&p->lists[i].loc, a, sizeof(a));
		json_key(&jb.j, "source"); json_str(&jb.j, a);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	json_key(&jb.j, "services");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *s = &p->services[i];

		json_obj_begin(&jb.j);
		json_key(&jb.j, "number"); json_uint(&jb.j, FWD_RULE_NO_SERVICE(i));
		json_key(&jb.j, "name"); json_str(&jb.j, s->name);
		json_key(&jb.j, "direction"); json_str(&jb.j, s->dir == FWD_DIR_OUT ? "out" : "in");
		json_key(&jb.j, "ports");
		json_arr_begin(&jb.j);
		for (size_t k = 0; k < s->nports; k++) {
			ports_text(&s->ports[k], a, sizeof(a));
			json_str(&jb.j, a);
		}
		json_arr_end(&jb.j);
		json_key(&jb.j, "allow");
		json_arr_begin(&jb.j);
		for (size_t k = 0; k < s->nallow; k++) {
			peer_text(p, &s->allow[k], a, sizeof(a));
			json_str(&jb.j, a);
		}
		json_arr_end(&jb.j);
		restrict_json(&jb.j, &s->rs);
		if (s->nowners)
			owners_json(&jb.j, s);
		fmt_loc(&s->loc, a, sizeof(a));
		json_key(&jb.j, "source"); json_str(&jb.j, a);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	json_key(&jb.j, "edits");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		char w[256];

		if (e->expires && e->expires <= v->now)
			continue;
		json_obj_begin(&jb.j);
		fwd_edit_format(e, w, sizeof(w));
		json_key(&jb.j, "number"); json_uint(&jb.j, FWD_RULE_NO_EDIT(p, i));
		json_key(&jb.j, "edit"); json_str(&jb.j, w);
		json_key(&jb.j, "runtime"); json_bool(&jb.j, e->runtime);
		json_key(&jb.j, "expires");
		if (e->expires)
			json_uint(&jb.j, e->expires);
		else
			json_null(&jb.j);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	json_obj_end(&jb.j);
	jbuf_close(&jb, resp);
}

static void show_text(struct fwd_response *resp, const struct show_view *v)
{
	const struct fwd_policy *p = v->p;
	char a[128];

	fwd_response_printf(resp, "[defaults] inbound %s, outbound %s, log %s, icmp %s, "
			    "counters %s\n",
			    fwd_action_name(p->inbound), fwd_action_name(p->outbound),
			    fwd_log_name(p->log), fwd_icmp_name(p->icmp),
			    p->counters ? "yes" : "no");
	for (size_t i = 0; i < p->nlists; i++) {
		fmt_loc(&p->lists[i].loc, a, sizeof(a));
		fwd_response_printf(resp, "list %-16s %zu member%s  (%s)\n",
				    p->lists[i].name, p->lists[i].n,
				    p->lists[i].n == 1 ? "" : "s", a);
	}
	for (size_t i = 0; i < p->nservices; i++) {
		service_line(resp, p, i);
		fwd_response_printf(resp, "\n");
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->expires && e->expires <= v->now)
			continue;	/* past its time: its number is kept */
		edit_line(resp, p, i);
		fwd_response_printf(resp, "\n");
	}
}

int cmd_show(struct cmdreq *cr)
{
	struct show_view v = { .p = cr->ctx->policy, .generation = cr->ctx->generation,
			       .now = now_s() };

	if (cr->nft)
		return cmd_show_nft(cr);
	if (cr->json)
		show_json(cr->resp, &v);
	else
		show_text(cr->resp, &v);
	return 0;
}

/* A member's or removal's time, as JSON: expires and seconds_left, or nulls. */
static void json_expiry(struct json_out *j, uint64_t expires, uint64_t now)
{
	json_key(j, "expires");
	if (expires)
		json_uint(j, expires);
	else
		json_null(j);
	json_key(j, "seconds_left");
	if (expires)
		json_uint(j, expires > now ? expires - now : 0);
	else
		json_null(j);
}

static void list_show_all(struct cmdreq *cr, const struct fwd_list_view *v, size_t nv)
{
	struct jbuf jb;

	if (!cr->json) {
		for (size_t i = 0; i < nv; i++)
			fwd_response_printf(cr->resp, "%s\t%zu%s\n", v[i].name, v[i].n,
					    v[i].nremoved ? "\t(fwctl removed some)" : "");
		return;
	}
	jbuf_open(&jb);
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < nv; i++) {
		json_obj_begin(&jb.j);
		json_key(&jb.j, "name"); json_str(&jb.j, v[i].name);
		json_key(&jb.j, "members"); json_uint(&jb.j, v[i].n);
		json_key(&jb.j, "removed"); json_uint(&jb.j, v[i].nremoved);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	jbuf_close(&jb, cr->resp);
}

/* A member's or removal's source, as list show says it: FILE:LINE, or
 * fwctl, marked "(runtime)" when that edit is not saved (gone when fwd
 * restarts), as list show said before it read the compiler's view. */
static void member_source(const struct fwd_list_member *m, char *buf, size_t len)
{
	size_t n;

	fmt_loc(&m->loc, buf, len);
	n = strlen(buf);
	if (m->runtime && n < len)
		snprintf(buf + n, len - n, " (runtime)");
}

static void list_show_json(struct cmdreq *cr, const struct fwd_list_view *l, uint64_t now)
{
	struct jbuf jb;
	char a[128], b[128];

	jbuf_open(&jb);
	json_obj_begin(&jb.j);
	json_key(&jb.j, "name"); json_str(&jb.j, l->name);
	json_key(&jb.j, "members");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < l->n; i++) {
		json_obj_begin(&jb.j);
		fwd_addr_format(&l->m[i].addr, a, sizeof(a));
		json_key(&jb.j, "address"); json_str(&jb.j, a);
		member_source(&l->m[i], b, sizeof(b));
		json_key(&jb.j, "source"); json_str(&jb.j, b);
		json_expiry(&jb.j, l->m[i].expires, now);
		json_key(&jb.j, "runtime"); json_bool(&jb.j, l->m[i].runtime);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	/* The addresses, as before; removed_entries says more of each. */
	json_key(&jb.j, "removed");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < l->nremoved; i++) {
		fwd_addr_format(&l->removed[i].addr, a, sizeof(a));
		json_str(&jb.j, a);
	}
	json_arr_end(&jb.j);
	json_key(&jb.j, "removed_entries");
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < l->nremoved; i++) {
		json_obj_begin(&jb.j);
		fwd_addr_format(&l->removed[i].addr, a, sizeof(a));
		json_key(&jb.j, "address"); json_str(&jb.j, a);
		member_source(&l->removed[i], b, sizeof(b));
		json_key(&jb.j, "source"); json_str(&jb.j, b);
		json_expiry(&jb.j, l->removed[i].expires, now);
		json_key(&jb.j, "runtime"); json_bool(&jb.j, l->removed[i].runtime);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	json_obj_end(&jb.j);
	jbuf_close(&jb, cr->resp);
}

static void list_show_text(struct cmdreq *cr, const struct fwd_list_view *l)
{
	char a[128], b[128], t[64];

	for (size_t i = 0; i < l->n; i++) {
		fwd_addr_format(&l->m[i].addr, a, sizeof(a));
		member_source(&l->m[i], b, sizeof(b));
		fmt_left(l->m[i].expires, t, sizeof(t));
		fwd_response_printf(cr->resp, "%-44s %s%s%s\n", a, b,
				    l->m[i].expires ? ", " : "",
				    l->m[i].expires ? t : "");
	}
	for (size_t i = 0; i < l->nremoved; i++) {
		fwd_addr_format(&l->removed[i].addr, a, sizeof(a));
		fmt_loc(&l->removed[i].loc, b, sizeof(b));
		fmt_left(l->removed[i].expires, t, sizeof(t));
		/* A timed list del ends: the address is back then. */
		fwd_response_printf(cr->resp, "%-44s removed by fwctl%s%s%s%s%s%s\n", a,
				    l->removed[i].loc.file ? " (" : "",
				    l->removed[i].loc.file ? b : "",
				    l->removed[i].loc.file ? ")" : "",
				    l->removed[i].runtime ? " (runtime)" : "",
				    l->removed[i].expires ? ", " : "",
				    l->removed[i].expires ? t : "");
	}
}

/*
 * The lists as the kernel was given them: the files' members with
 * fwctl's list add and list del folded in by the compiler's own code
 * (fwd_lists_view), so counts and members never disagree with the table.
 */
int cmd_list_show(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	struct fwd_list_view *v = NULL;
	const struct fwd_list_view *l = NULL;
	uint64_t now = now_s();
	size_t nv;

	nv = fwd_lists_view(p, now, &v);
	if (cr->argc == 0) {
		list_show_all(cr, v, nv);
		fwd_lists_view_free(v, nv);
		return 0;
	}
	for (size_t i = 0; i < nv; i++)
		if (strcmp(v[i].name, cr->argv[0]) == 0)
			l = &v[i];
	if (!l) {
		const char *s = fwd_policy_suggest_list(p, cr->argv[0], strlen(cr->argv[0]));
		char q[QWORD_BUF], q2[QWORD_BUF];

		if (s)
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no list named '%s' "
					  "(did you mean '%s'?)", qword(q, cr->argv[0]),
					  qword(q2, s));
		else
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no list named '%s'",
					  qword(q, cr->argv[0]));
		fwd_lists_view_free(v, nv);
		return -ENOENT;
	}
	if (cr->json)
		list_show_json(cr, l, now);
	else
		list_show_text(cr, l);
	fwd_lists_view_free(v, nv);
	return 0;
}

/* One row of `fwctl list blocked`, gathered before rendering. */
struct blocked_row {
	char addr[64];
	uint64_t expires;		/* 0: none */
	bool runtime;
	const char *reason;		/* the guard's reason, or "fwctl" (static) */
};

/* The blocks in force, with why each is held (the verdict loop's). */
static size_t blocked_gather(struct fwd_ctx *ctx, uint64_t now,
			     struct blocked_row **out)
{
	const struct fwd_policy *p = ctx->policy;
	struct blocked_row *v = fwd_xcalloc(p->nedits + 1, sizeof(*v));
	size_t n = 0;

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind != FWD_EDIT_BLOCK || (e->expires && e->expires <= now))
			continue;
		fwd_addr_format(&e->addr, v[n].addr, sizeof(v[n].addr));
		v[n].expires = e->expires;
		v[n].runtime = e->runtime;
		v[n].reason = fwd_vloop_reason(ctx, &e->addr);
		n++;
	}
	*out = v;
	return n;
}

static void blocked_json(struct fwd_response *resp, const struct blocked_row *v,
			 size_t n, uint64_t now)
{
	struct jbuf jb;

	jbuf_open(&jb);
	json_arr_begin(&jb.j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(&jb.j);
		json_key(&jb.j, "address"); json_str(&jb.j, v[i].addr);
		json_key(&jb.j, "expires");
		if (v[i].expires)
			json_uint(&jb.j, v[i].expires);
		else
			json_null(&jb.j);
		json_key(&jb.j, "seconds_left");
		if (v[i].expires)
			json_uint(&jb.j, v[i].expires - now);
		else
			json_null(&jb.j);
		json_key(&jb.j, "runtime"); json_bool(&jb.j, v[i].runtime);
		json_key(&jb.j, "reason"); json_str(&jb.j, v[i].reason);
		json_obj_end(&jb.j);
	}
	json_arr_end(&jb.j);
	jbuf_close(&jb, resp);
}

static void blocked_text(struct fwd_response *resp, const struct blocked_row *v,
			 size_t n)
{
	char t[128];

	for (size_t i = 0; i < n; i++) {
		if (!v[i].expires && v[i].runtime)
			snprintf(t, sizeof(t), "no expiry");
		else
			fmt_until(v[i].expires, t, sizeof(t));
		fwd_response_printf(resp, "%-44s %-15s %s%s\n", v[i].addr, v[i].reason, t,
				    v[i].runtime ? " (runtime only: not saved)" : "");
	}
}

int cmd_list_blocked(struct cmdreq *cr)
{
	uint64_t now = now_s();
	struct blocked_row *v;
	size_t n = blocked_gather(cr->ctx, now, &v);

	if (cr->json)
		blocked_json(cr->resp, v, n, now);
	else
		blocked_text(cr->resp, v, n);
	free(v);
	return 0;
}

/* ---- explain ---------------------------------------------------------- */

static const char *verdict_name(enum fwd_ir_verdict v)
{
	switch (v) {
	case FWD_V_ACCEPT: return "accept";
	case FWD_V_DROP: return "drop";
	case FWD_V_REJECT_TCP_RST: return "reject (tcp reset)";
	case FWD_V_REJECT_ICMPX: return "reject (icmp admin-prohibited)";
	default: return "continue";
	}
}

#define EXPLAIN_USAGE "usage: fwctl explain SRC PORTS [--out] [--user USER] " \
		      "[--unit UNIT] [--program PATH] [--json]"

/* explain's own options (the row has own_options): --out, and the owner
 * of the socket for the outbound owner rules; positional words are left
 * in cr->argv. */
struct explain_opts {
	bool out;
	struct fwd_explain_who who;
	const char *user, *unit;
	const char *program;	/* --program PATH: the program rules (vloop.h) */
};

static int explain_user(struct cmdreq *cr, const char *u, struct fwd_explain_who *who)
{
	struct passwd pw, *res = NULL;
	char buf[4096], *end, q[QWORD_BUF];
	unsigned long v = strtoul(u, &end, 10);

	if (*u && !*end && v < UINT32_MAX) {
		who->uid = (uint32_t)v;
	} else if (getpwnam_r(u, &pw, buf, sizeof(buf), &res) == 0 && res) {
		who->uid = (uint32_t)res->pw_uid;
	} else {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "unknown user '%s'",
				  qword(q, u));
		return -EINVAL;
	}
	who->has_uid = true;
	return 0;
}

static int explain_options(struct cmdreq *cr, struct explain_opts *o)
{
	int out = 0;
	char q[QWORD_BUF];

	for (int i = 0; i < cr->argc; i++) {
		const char *a = cr->argv[i];

		if (!strcmp(a, "--json")) {
			cr->json = true;
		} else if (!strcmp(a, "--out")) {
			o->out = true;
		} else if (!strcmp(a, "--program") && i + 1 < cr->argc) {
			o->program = cr->argv[++i];
		} else if ((!strcmp(a, "--user") || !strcmp(a, "--unit")) &&
			   i + 1 < cr->argc) {
			if (!strcmp(a, "--user"))
				o->user = cr->argv[++i];
			else
				o->unit = cr->argv[++i];
		} else if (a[0] == '-' && a[1] == '-') {
			fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "unexpected '%s'; "
					  EXPLAIN_USAGE, qword(q, a));
			return -EINVAL;
		} else {
			cr->argv[out++] = cr->argv[i];
		}
	}
	cr->argc = out;
	if (cr->argc != 2) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, EXPLAIN_USAGE);
		return -EINVAL;
	}
	if (o->user && explain_user(cr, o->user, &o->who))
		return -EINVAL;
	/* A unit not running has no cgroup: then no owner rule of it matches,
	 * which is what the kernel does too. */
	if (o->unit && fwd_cgroup_unit_id(NULL, o->unit, &o->who.cgroup) != 0)
		o->who.cgroup = 0;
	if (o->unit) {
		/* Its own level's lookup is the rule that decides. */
		char rel[FWD_UNIT_PATH_MAX];

		if (fwd_unit_cgroup_path(o->unit, strlen(o->unit), rel, sizeof(rel),
					 &o->who.cglevel, NULL, 0) != 0)
			o->who.cglevel = 0;
	}
	return 0;
}

/* One stretch of ports of one protocol that the rules decide alike. */
struct explain_run {
	struct fwd_ports pr;
	struct fwd_explain ex;
	/* The deciding rule as the kernel holds it: its chain (in4, out6,
	 * input, ...) and its place there, counted from 1 in the order `nft
	 * -a list table inet fwd_filter` lists it; kpos 0: no rule decides
	 * (a chain's policy), kchain then names that base chain. */
	char kchain[32];
	size_t kpos;
};

struct explain_view {
	const struct fwd_ir *ir;	/* lent: the running IR the runs point into */
	const char *src;		/* the source, or with --out the destination */
	const struct explain_opts *eo;
	struct explain_run *runs;
	size_t nruns;
	bool disabled;			/* fwd's table is not in the kernel */
	struct fwd_doctor_override *ov;	/* other tables that can drop */
	size_t nov;
	int ov_err;			/* reading them failed: -errno */
};

static bool same_decision(const struct fwd_explain *a, const struct fwd_explain *b)
{
	return a->verdict == b->verdict && a->by_policy == b->by_policy &&
	       a->rule == b->rule && a->set == b->set && a->elem == b->elem;
}

/*
 * Where the kernel holds rule ri of IR chain c for a packet of `family`
 * (ir.h, "The chains in the kernel", the one layout fwd_ir_part_rules
 * gives): a middle rule in the family chain (in4/in6, out4/out6), a head
 * or tail rule in the base chain, after the jumps. explain's own rule
 * number counts in the compiled chain, which no kernel listing shows.
 * Writes the chain's name; returns the place, from 1, or 0 when the
 * kernel has no such rule.
 */
static size_t kernel_place(const struct fwd_ir *ir, unsigned c, size_t ri,
			   int family, char *name, size_t len)
{
	const struct fwd_ir_chain *ch = &ir->chains[c];
	enum fwd_ir_part p = FWD_PART_BASE;
	size_t head, tail, n, pos = 0;
	long *rules;

	if (fwd_ir_chain_split(ch, &head, &tail) && ri >= head && ri < tail)
		p = family == AF_INET ? FWD_PART_V4 : FWD_PART_V6;
	fwd_ir_part_name(ch, p, name, len);
	rules = fwd_xcalloc(ch->n + 2, sizeof(*rules));
	n = fwd_ir_part_rules(ir, ch, p, NULL, rules);
	for (size_t k = 0; k < n && !pos; k++)
		if (rules[k] == (long)ri)
			pos = k + 1;
	free(rules);
	return pos;
}

/*
 * The kernel's place of a run's decision. By the policy: fwd_ir_explain
 * takes the chain's closing catch-all drop (no match, drop, last; see
 * build_chain) for the policy, but in the kernel that rule is what drops
 * the packet (and counts it: stats' "dropped by default"), so it is named;
 * a chain that ends without one (policy accept) names its base chain alone.
 */
static void run_kernel_place(const struct fwd_ir *ir, unsigned c, int family,
			     struct explain_run *r)
{
	const struct fwd_ir_chain *ch = &ir->chains[c];
	const struct fwd_ir_rule *last = ch->n ? &ch->rules[ch->n - 1] : NULL;

	r->kpos = 0;
	if (!r->ex.by_policy)
		r->kpos = kernel_place(ir, c, r->ex.rule, family, r->kchain,
				       sizeof(r->kchain));
	else if (last && last->nm == 0 && last->verdict == FWD_V_DROP &&
		 !ch->policy_accept)
		r->kpos = kernel_place(ir, c, ch->n - 1, family, r->kchain,
				       sizeof(r->kchain));
	else
		fwd_ir_part_name(ch, FWD_PART_BASE, r->kchain, sizeof(r->kchain));
}

/*
 * --program PATH: where the kernel's walk ended in a drop after the
 * program queue rule (the final drop or the policy: nothing earlier, a
 * deny edit say, refused it), the verdict loop decides: an accept by the
 * program rule that names PATH's inode is that queue rule deciding, with
 * the rule's program = line.
 */
static void explain_program(struct cmdreq *cr, int family, const uint8_t *addr,
			    uint8_t proto, uint16_t port, const char *path,
			    struct fwd_explain *ex)
{
	const struct fwd_ir *ir = cr->ctx->ir;
	const struct fwd_ir_chain *ch = &ir->chains[FWD_CHAIN_OUTPUT];
	struct fwd_loc loc;
	size_t q;

	for (q = 0; q < ch->n; q++) {
		const struct fwd_ir_rule *r = &ch->rules[q];

		if (r->verdict == FWD_V_QUEUE_PROG && r->nm == 2 &&
		    fwd_ir_key_addr_len(ir->sets[r->m[1].set].key) ==
		    (family == AF_INET ? 4u : 16u))
			break;
	}
	if (q == ch->n || ex->verdict == FWD_V_ACCEPT ||
	    (!ex->by_policy && ex->rule < q))
		return;
	if (fwd_vloop_prog_explain(cr->ctx, family, addr, proto, port, path,
				   &loc) != 1)
		return;
	*ex = (struct fwd_explain){ .verdict = FWD_V_ACCEPT, .rule = q,
				    .set = (int)ch->rules[q].m[1].set, .loc = loc };
	/* The queue rule's element that holds the flow (named, as for any
	 * set lookup); the line is the program's. */
	for (size_t i = 0; i < ir->sets[ex->set].n && !ex->elem; i++)
		if (fwd_ir_elem_has(&ir->sets[ex->set], &ir->sets[ex->set].elems[i],
				    addr, proto, port))
			ex->elem = &ir->sets[ex->set].elems[i];
}

/* Every port of every range, runs of equal decisions joined: a range
 * answers in as many lines as the rules cut it into. */
static int explain_gather(struct cmdreq *cr, int family, const uint8_t addr[16],
			  const struct fwd_ports *pr, size_t npr, struct explain_view *v)
{
	size_t cap = 0;

	for (size_t i = 0; i < npr; i++) {
		for (uint32_t port = pr[i].lo; port <= pr[i].hi; port++) {
			struct fwd_explain ex;
			struct explain_run *last = v->nruns ? &v->runs[v->nruns - 1] : NULL;

			if (fwd_ir_explain_who(cr->ctx->ir, v->eo->out ? FWD_CHAIN_OUTPUT :
					       FWD_CHAIN_INPUT, family, addr, pr[i].proto,
					       (uint16_t)port, v->eo->user || v->eo->unit ?
					       &v->eo->who : NULL, &ex) != 0)
				return -EINVAL;
			if (v->eo->out && v->eo->program)
				explain_program(cr, family, addr, pr[i].proto,
						(uint16_t)port, v->eo->program, &ex);
			if (last && last->pr.proto == pr[i].proto && (uint32_t)last->pr.hi + 1 == port &&
			    same_decision(&last->ex, &ex)) {
				last->pr.hi = (uint16_t)port;
				continue;
			}
			FWD_GROW(v->runs, cap, v->nruns + 1);
			v->runs[v->nruns++] = (struct explain_run){
				.pr = { .proto = pr[i].proto, .lo = (uint16_t)port,
					.hi = (uint16_t)port },
				.ex = ex,
			};
		}
	}
	/* Disabled: the kernel holds none of it (kchain stays ""). */
	for (size_t i = 0; i < v->nruns && !cr->ctx->disabled; i++)
		run_kernel_place(cr->ctx->ir, v->eo->out ? FWD_CHAIN_OUTPUT :
				 FWD_CHAIN_INPUT, family, &v->runs[i]);
	v->disabled = cr->ctx->disabled;
	v->ir = cr->ctx->ir;
	/* What `fwctl doctor` knows, asked of the kernel now: another table
	 * on the same hooks may drop what fwd accepts. */
	if (v->eo->out) {
		/* Doctor's overrides are other tables' input hooks: nothing
		 * to say about a connection this host makes. */
	} else if (cr->ctx->nl) {
		struct fwd_doctor *doc = NULL;

		v->ov_err = fwd_doctor_read(cr->ctx->nl, &doc);
		if (v->ov_err == 0)
			v->nov = fwd_doctor_overrides(doc, family, &v->ov);
		fwd_doctor_free(doc);
	} else {
		v->ov_err = -ENOTCONN;
	}
	return 0;
}

/* What the host does with it as far as fwd goes: nothing when disabled. */
static const char *effective_verdict(const struct explain_view *v,
				     const struct explain_run *r)
{
	return v->disabled ? "accept" : verdict_name(r->ex.verdict);
}

static bool any_accept(const struct explain_view *v)
{
	for (size_t i = 0; i < v->nruns; i++)
		if (v->disabled || v->runs[i].ex.verdict == FWD_V_ACCEPT)
			return true;
	return false;
}

/* What a restricted class adds to an accept: explain's probe names no
 * interface and is one connection, so say what the kernel also checks. */
static void explain_restrict(struct cmdreq *cr, const struct fwd_restrict *rs)
{
	char b[48];

	if (rs->ifname[0])
		fwd_response_printf(cr->resp, "  only on:    interface %s (iifname); "
				    "elsewhere the rest of the chain decides\n",
				    rs->ifname);
	if (rs->limit_n) {
		fwd_limit_format(rs->limit_n, rs->limit_w, b, sizeof(b));
		fwd_response_printf(cr->resp, "  limit:      %s new connections per "
				    "source (IPv6: per /64); above it dropped and "
				    "counted (fwctl stats)\n", b);
	}
}

/* The interface and limit of the class whose set decided, if any. */
static void run_restrict(const struct explain_view *v, const struct explain_run *r,
			 struct fwd_restrict *rs)
{
	const struct fwd_ir_class *cls;

	memset(rs, 0, sizeof(*rs));
	if (r->ex.set >= 0 && (cls = fwd_ir_class_of_set(v->ir, (unsigned)r->ex.set))) {
		snprintf(rs->ifname, sizeof(rs->ifname), "%s", cls->ifname);
		rs->limit_n = cls->limit_n;
		rs->limit_w = cls->limit_w;
	}
}

static void run_source(const struct explain_view *v, const struct explain_run *r,
		       char *elem, size_t elen, char *loc, size_t llen)
{
	elem[0] = loc[0] = '\0';
	if (r->ex.set >= 0 && r->ex.elem) {
		fwd_ir_elem_format(&v->ir->sets[r->ex.set], r->ex.elem, elem, elen);
		fmt_loc(&r->ex.loc, loc, llen);
	} else if (!r->ex.by_policy && r->ex.loc.file) {
		fmt_loc(&r->ex.loc, loc, llen);
	}
}

static void json_run(struct cmdreq *cr, struct json_out *j, const struct explain_view *v,
		     const struct explain_run *r)
{
	char pbuf[32], elem[256], loc[128];

	ports_text(&r->pr, pbuf, sizeof(pbuf));
	run_source(v, r, elem, sizeof(elem), loc, sizeof(loc));
	json_key(j, "port"); json_str(j, pbuf);
	json_key(j, "verdict"); json_str(j, effective_verdict(v, r));
	json_key(j, "policy_verdict"); json_str(j, verdict_name(r->ex.verdict));
	json_key(j, "by_policy"); json_bool(j, r->ex.by_policy);
	json_key(j, "rule");
	if (r->ex.by_policy)
		json_null(j);
	else
		json_uint(j, r->ex.rule);
	json_key(j, "set");
	if (r->ex.set >= 0)
		json_str(j, v->ir->sets[r->ex.set].name);
	else
		json_null(j);
	json_key(j, "element");
	if (*elem)
		json_str(j, elem);
	else
		json_null(j);
	json_key(j, "policy_source");
	if (*loc)
		json_str(j, loc);
	else
		json_null(j);
	/* "rule" counts in the compiled chain; these say where the kernel
	 * holds the deciding rule. */
	json_key(j, "kernel_chain");
	if (*r->kchain)
		json_str(j, r->kchain);
	else
		json_null(j);
	json_key(j, "kernel_rule");
	if (r->kpos)
		json_uint(j, r->kpos);
	else
		json_null(j);
	{
		struct fwd_restrict rs;

		run_restrict(v, r, &rs);
		restrict_json(j, &rs);
	}
}

/* The first result's keys at the top, as before ranges were explained;
 * every result under "results". */
static void explain_json(struct cmdreq *cr, const struct explain_view *v)
{
	struct jbuf b;

	jbuf_open(&b);
	json_obj_begin(&b.j);
	json_key(&b.j, v->eo->out ? "destination" : "source"); json_str(&b.j, v->src);
	if (v->eo->out) {
		json_key(&b.j, "direction"); json_str(&b.j, "out");
	}
	if (v->eo->user) {
		json_key(&b.j, "user"); json_str(&b.j, v->eo->user);
	}
	if (v->eo->program) {
		json_key(&b.j, "program"); json_str(&b.j, v->eo->program);
	}
	if (v->eo->unit) {
		json_key(&b.j, "unit"); json_str(&b.j, v->eo->unit);
	}
	json_run(cr, &b.j, v, &v->runs[0]);
	json_key(&b.j, "disabled"); json_bool(&b.j, v->disabled);
	json_key(&b.j, "results");
	json_arr_begin(&b.j);
	for (size_t i = 0; i < v->nruns; i++) {
		json_obj_begin(&b.j);
		json_run(cr, &b.j, v, &v->runs[i]);
		json_obj_end(&b.j);
	}
	json_arr_end(&b.j);
	json_key(&b.j, "other_tables");
	if (v->ov_err) {
		json_null(&b.j);
	} else {
		json_arr_begin(&b.j);
		for (size_t i = 0; i < v->nov; i++) {
			json_obj_begin(&b.j);
			json_key(&b.j, "table"); json_str(&b.j, v->ov[i].table);
			json_key(&b.j, "chain"); json_str(&b.j, v->ov[i].chain);
			json_key(&b.j, "hook"); json_str(&b.j, v->ov[i].hook);
			json_key(&b.j, "priority"); json_int(&b.j, v->ov[i].prio);
			json_key(&b.j, "why"); json_str(&b.j, v->ov[i].why);
			json_obj_end(&b.j);
		}
		json_arr_end(&b.j);
	}
	json_obj_end(&b.j);
	jbuf_close(&b, cr->resp);
}

static void explain_text(struct cmdreq *cr, const struct explain_view *v)
{
	if (v->disabled)
		fwd_response_printf(cr->resp, "fwd is disabled (`fwctl disable`): its "
				    "table is not in the kernel, so it filters nothing; "
				    "`fwctl enable` puts the rules back\n");
	for (size_t i = 0; i < v->nruns; i++) {
		const struct explain_run *r = &v->runs[i];
		const struct explain_opts *eo = v->eo;
		const char *chain = eo->out ? "output" : "input";
		char pbuf[32], elem[256], loc[128], head[512];

		ports_text(&r->pr, pbuf, sizeof(pbuf));
		run_source(v, r, elem, sizeof(elem), loc, sizeof(loc));
		if (eo->out)
			snprintf(head, sizeof(head), "out to %s -> %s%s%s%s%s%s%.200s", v->src,
				 pbuf, eo->user ? " as user " : "", eo->user ? eo->user : "",
				 eo->unit ? " from unit " : "", eo->unit ? eo->unit : "",
				 eo->program ? " by program " : "",
				 eo->program ? eo->program : "");
		else
			snprintf(head, sizeof(head), "%s -> %s", v->src, pbuf);
		if (v->disabled)
			fwd_response_printf(cr->resp, "%s: accept (fwd disabled; its rules "
					    "would say: %s)\n", head, verdict_name(r->ex.verdict));
		else
			fwd_response_printf(cr->resp, "%s: %s\n", head,
					    verdict_name(r->ex.verdict));
		if (r->ex.by_policy)
			fwd_response_printf(cr->resp, "  decided by: the %s chain's policy "
					    "(no rule matched; [defaults] %s)\n", chain,
					    eo->out ? "outbound" : "inbound");
		else if (r->ex.set >= 0)
			fwd_response_printf(cr->resp, "  decided by: rule %zu, set %s, element %s\n"
					    "  from:       %s\n", r->ex.rule,
					    v->ir->sets[r->ex.set].name, elem, loc);
		else
			fwd_response_printf(cr->resp, "  decided by: rule %zu of chain %s%s%s\n",
					    r->ex.rule, chain, *loc ? ", from " : "", loc);
		/* The number above counts in the compiled chain; this is the
		 * rule `nft -a list table inet fwd_filter` shows. */
		if (r->kpos)
			fwd_response_printf(cr->resp, "  in kernel:  rule %zu of chain %s%s\n",
					    r->kpos, r->kchain, r->ex.by_policy ?
					    " (its closing drop)" : "");
		else if (*r->kchain)
			fwd_response_printf(cr->resp, "  in kernel:  the policy of chain %s\n",
					    r->kchain);
		{
			struct fwd_restrict rs;

			run_restrict(v, r, &rs);
			explain_restrict(cr, &rs);
		}
	}
	if (v->eo->out)
		return;
	if (v->ov_err) {
		fwd_response_printf(cr->resp, "other tables: not read (%s); `fwctl doctor` "
				    "lists them\n", strerror(-v->ov_err));
		return;
	}
	/* An accept elsewhere never overrides fwd's drop; a drop elsewhere
	 * does override fwd's accept. */
	if (!any_accept(v))
		return;
	for (size_t i = 0; i < v->nov; i++)
		fwd_response_printf(cr->resp, "  but: %s%s%s (hook %s, priority %d) can "
				    "drop it whatever fwd says: %s (fwctl doctor)\n",
				    v->ov[i].table, v->ov[i].chain[0] ? " chain " : "",
				    v->ov[i].chain, v->ov[i].hook, v->ov[i].prio,
				    v->ov[i].why);
}

/*
 * An explain walks every port of PORTS through the chain, and a lookup
 * in an interval set walks back over its elements: a few ports against
 * hash sets cost the loop well under a millisecond (less than a fork),
 * a port range or any port against 100k networks tens of milliseconds
 * to seconds. Above these (about 1 ms of the loop's time measured here)
 * the request goes to a forked worker.
 */
#define EXPLAIN_LOOP_PORTS	1024u
#define EXPLAIN_LOOP_WORK	100000u	/* ports x interval elements */

bool fwd_explain_offload(const struct fwd_ctx *ctx, size_t argc, char *const *argv)
{
	const char *pos[2] = { NULL, NULL };
	struct fwd_ports *pr = NULL;
	size_t npos = 0, npr = 0, nports = 0, nint = 0;
	char err[256];

	/* The words as explain_options reads them; anything it would refuse
	 * is refused in the loop, where that costs nothing. */
	for (size_t i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--program") || !strcmp(argv[i], "--user") ||
		    !strcmp(argv[i], "--unit"))
			i++;
		else if (argv[i][0] != '-' || argv[i][1] != '-') {
			if (npos < 2)
				pos[npos] = argv[i];
			npos++;
		}
	}
	if (npos != 2 || !ctx->ir ||
	    fwd_edit_parse_ports(pos[1], NULL, &pr, &npr, err, sizeof(err)) != 0)
		return false;
	for (size_t i = 0; i < npr; i++)
		nports += (size_t)pr[i].hi - pr[i].lo + 1;
	free(pr);
	for (size_t i = 0; i < ctx->ir->nsets; i++)
		if (ctx->ir->sets[i].interval)
			nint += ctx->ir->sets[i].n;
	return nports > EXPLAIN_LOOP_PORTS || nports * nint > EXPLAIN_LOOP_WORK;
}

int cmd_explain(struct cmdreq *cr)
{
	struct explain_view v = { 0 };
	struct explain_opts eo = { 0 };
	uint8_t addr[16] = { 0 };
	struct fwd_ports *pr = NULL;
	size_t npr = 0;
	char q[QWORD_BUF], err[512];
	int family, ret;

	if (explain_options(cr, &eo))
		return -EINVAL;
	if (inet_pton(AF_INET, cr->argv[0], addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, cr->argv[0], addr) == 1)
		family = AF_INET6;
	else {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' is not an IPv4 or IPv6 "
				  "address", qword(q, cr->argv[0]));
		return -EINVAL;
	}
	/* The one PORTS parser, as allow reads them. */
	if (fwd_edit_parse_ports(cr->argv[1], NULL, &pr, &npr, err, sizeof(err)) != 0) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "%s", err);
		return -EINVAL;
	}
	v.src = cr->argv[0];
	v.eo = &eo;
	ret = explain_gather(cr, family, addr, pr, npr, &v);
	if (ret == 0 && v.nruns == 0)
		ret = -EINVAL;
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot evaluate the running rules");
	} else if (cr->json) {
		explain_json(cr, &v);
	} else {
		explain_text(cr, &v);
	}
	free(v.runs);
	free(v.ov);
	free(pr);
	return ret;
}
