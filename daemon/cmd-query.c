// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl's queries of the running policy: status, show (and show --nft, the
 * live table read back), list show, list blocked, explain. They change
 * nothing, and a read-role peer may run them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
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

/* What `fwctl status` reports, all gathered before anything is rendered. */
struct status_view {
	const struct fwd_ctx *ctx;
	const struct fwd_policy *p;	/* NULL before the first policy */
	struct fwd_ctl_stats cs;
	time_t now;
	char when[64];			/* the policy applied, local time */
	size_t edits, runtime_edits, blocked, sets, elements;
};

static void status_gather(struct cmdreq *cr, struct status_view *v)
{
	const struct fwd_ctx *ctx = cr->ctx;
	const struct fwd_policy *p = ctx->policy;

	memset(v, 0, sizeof(*v));
	v->ctx = ctx;
	v->p = p;
	v->now = time(NULL);
	fwd_ctl_server_stats(ctx->ctl, &v->cs);
	strftime(v->when, sizeof(v->when), "%Y-%m-%d %H:%M:%S", localtime(&ctx->applied));
	v->edits = p ? count_edits(p, -1, false) : 0;
	v->runtime_edits = p ? count_edits(p, -1, true) : 0;
	v->blocked = p ? count_edits(p, FWD_EDIT_BLOCK, false) : 0;
	v->sets = ctx->ir ? ctx->ir->nsets : 0;
	v->elements = count_elems(ctx->ir);
}

static void status_json(struct cmdreq *cr, const struct status_view *v)
{
	const struct fwd_ctx *ctx = v->ctx;
	const struct fwd_policy *p = v->p;
	struct jbuf b;

	jbuf_open(&b);
	json_obj_begin(&b.j);
	json_key(&b.j, "running"); json_bool(&b.j, true);
	json_key(&b.j, "version"); json_str(&b.j, FWD_VERSION);
	json_key(&b.j, "pid"); json_uint(&b.j, (uint64_t)getpid());
	json_key(&b.j, "uptime"); json_uint(&b.j, (uint64_t)(v->now - ctx->started));
	json_key(&b.j, "config"); json_str(&b.j, ctx->config);
	json_key(&b.j, "builtin_default"); json_bool(&b.j, ctx->builtin);
	json_key(&b.j, "files");
	json_arr_begin(&b.j);
	for (size_t i = 0; p && i < p->nfiles; i++)
		json_str(&b.j, p->files[i]);
	json_arr_end(&b.j);
	json_key(&b.j, "generation"); json_uint(&b.j, ctx->generation);
	json_key(&b.j, "applied"); json_int(&b.j, (int64_t)ctx->applied);
	json_key(&b.j, "disabled"); json_bool(&b.j, ctx->disabled);
	json_key(&b.j, "guard_restores"); json_uint(&b.j, ctx->restores);
	json_key(&b.j, "degraded");
	if (ctx->degraded)
		json_str(&b.j, ctx->degraded);
	else
		json_null(&b.j);
	json_key(&b.j, "services"); json_uint(&b.j, p ? p->nservices : 0);
	json_key(&b.j, "lists"); json_uint(&b.j, p ? p->nlists : 0);
	json_key(&b.j, "edits"); json_uint(&b.j, v->edits);
	json_key(&b.j, "runtime_edits"); json_uint(&b.j, v->runtime_edits);
	json_key(&b.j, "blocked"); json_uint(&b.j, v->blocked);
	json_key(&b.j, "sets"); json_uint(&b.j, v->sets);
	json_key(&b.j, "elements"); json_uint(&b.j, v->elements);
	json_key(&b.j, "confirm_pending");
	if (ctx->confirm_deadline)
		json_int(&b.j, (int64_t)(ctx->confirm_deadline - v->now));
	else
		json_null(&b.j);
	json_key(&b.j, "kernel");
	json_obj_begin(&b.j);
	json_key(&b.j, "concat_interval"); json_bool(&b.j, ctx->feat.concat_interval);
	json_key(&b.j, "set_timeout"); json_bool(&b.j, ctx->feat.set_timeout);
	json_key(&b.j, "native_queue"); json_bool(&b.j, ctx->feat.native_queue);
	json_key(&b.j, "xt_nfqueue"); json_bool(&b.j, ctx->feat.xt_nfqueue);
	json_key(&b.j, "table_owner"); json_bool(&b.j, ctx->feat.table_owner);
	json_key(&b.j, "table_persist"); json_bool(&b.j, ctx->feat.table_persist);
	json_obj_end(&b.j);
	json_key(&b.j, "queue"); fwd_vloop_status_json(cr->ctx, &b.j);
	json_key(&b.j, "metrics"); fwd_metrics_status_json(cr->ctx, &b.j);
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
	json_obj_end(&b.j);
	jbuf_close(&b, cr->resp);
}

static void status_text(struct cmdreq *cr, const struct status_view *v)
{
	const struct fwd_ctx *ctx = v->ctx;
	const struct fwd_policy *p = v->p;

	fwd_response_printf(cr->resp, "fwd %s running, pid %d, up %lds\n", FWD_VERSION,
			    (int)getpid(), (long)(v->now - ctx->started));
	if (ctx->builtin)
		fwd_response_printf(cr->resp, "policy:     built-in default (no file at %s)\n",
				    ctx->config);
	else
		fwd_response_printf(cr->resp, "policy:     %s (%zu file%s)\n", ctx->config,
				    p ? p->nfiles : 0, p && p->nfiles == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "state:      %s\n",
			    ctx->disabled ? "DISABLED: no table, the host is open "
			    "(fwctl enable)" :
			    ctx->degraded ? ctx->degraded : "ok, running the policy files");
	if (ctx->restores)
		fwd_response_printf(cr->resp, "guard:      the table was changed by "
				    "others and restored %llu time%s (see the log)\n",
				    ctx->restores, ctx->restores == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "generation: %u, applied %s\n", ctx->generation,
			    v->when);
	if (p)
		fwd_response_printf(cr->resp, "policy:     %zu services, %zu lists, %zu "
				    "fwctl edits (%zu runtime only), %zu blocked\n",
				    p->nservices, p->nlists, v->edits, v->runtime_edits,
				    v->blocked);
	fwd_response_printf(cr->resp, "kernel:     table inet %s, %zu sets, %zu elements\n",
			    FWD_TABLE_NAME, v->sets, v->elements);
	fwd_response_printf(cr->resp, "features:   concat-interval %s, timeouts %s, "
			    "queue %s, owner %s, persist %s\n",
			    ctx->feat.concat_interval ? "yes" : "no",
			    ctx->feat.set_timeout ? "yes" : "no",
			    ctx->feat.native_queue ? "native" :
			    ctx->feat.xt_nfqueue ? "xt NFQUEUE" : "none",
			    ctx->feat.table_owner ? "yes" : "no",
			    ctx->feat.table_persist ? "yes" : "no");
	fwd_vloop_status_text(cr->ctx, cr->resp);
	fwd_metrics_status_text(cr->ctx, cr->resp);
	if (ctx->confirm_deadline)
		fwd_response_printf(cr->resp, "confirm:    pending, reverts in %lds unless "
				    "`fwctl confirm`\n", (long)(ctx->confirm_deadline - v->now));
	fwd_response_printf(cr->resp, "control:    %llu requests served, %llu busy, "
			    "%llu timed out, %llu malformed\n", v->cs.served, v->cs.busy,
			    v->cs.timeouts, v->cs.malformed);
	fwd_response_printf(cr->resp, "queries:    %u being answered off the loop, %u "
			    "queued; %llu so far, %llu failed\n", v->cs.working, v->cs.waiting,
			    v->cs.offloaded, v->cs.worker_failures);
}

int cmd_status(struct cmdreq *cr)
{
	struct status_view v;

	status_gather(cr, &v);
	if (cr->json)
		status_json(cr, &v);
	else
		status_text(cr, &v);
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

static int cmd_show_nft(struct cmdreq *cr)
{
	struct fwd_render_opts ro = { .table_flags = fwd_table_flags(&cr->ctx->feat, NULL) };
	struct fwd_live_table *live = NULL;
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
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fwd_ir_render(ir, &ro, f);
	fclose(f);
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

int cmd_show(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	char a[128], b[128];

	if (cr->nft)
		return cmd_show_nft(cr);
	if (cr->json) {
		struct jbuf jb;

		jbuf_open(&jb);
		json_obj_begin(&jb.j);
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

			if (e->expires && e->expires <= now_s())
				continue;
			json_obj_begin(&jb.j);
			fwd_edit_format(e, w, sizeof(w));
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
		jbuf_close(&jb, cr->resp);
		return 0;
	}
	fwd_response_printf(cr->resp, "[defaults] inbound %s, outbound %s, log %s, icmp %s, "
			    "counters %s\n",
			    fwd_action_name(p->inbound), fwd_action_name(p->outbound),
			    fwd_log_name(p->log), fwd_icmp_name(p->icmp),
			    p->counters ? "yes" : "no");
	for (size_t i = 0; i < p->nlists; i++) {
		fmt_loc(&p->lists[i].loc, a, sizeof(a));
		fwd_response_printf(cr->resp, "list %-16s %zu member%s  (%s)\n",
				    p->lists[i].name, p->lists[i].n,
				    p->lists[i].n == 1 ? "" : "s", a);
	}
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *s = &p->services[i];

		fwd_response_printf(cr->resp, "service %-13s %s ", s->name,
				    s->dir == FWD_DIR_OUT ? "out" : "in ");
		for (size_t k = 0; k < s->nports; k++) {
			ports_text(&s->ports[k], a, sizeof(a));
			fwd_response_printf(cr->resp, "%s%s", k ? "," : "", a);
		}
		fwd_response_printf(cr->resp, " %s ", s->dir == FWD_DIR_OUT ? "to" : "from");
		for (size_t k = 0; k < s->nallow && k < 8; k++) {
			peer_text(p, &s->allow[k], a, sizeof(a));
			fwd_response_printf(cr->resp, "%s%s", k ? "," : "", a);
		}
		if (s->nallow > 8)
			fwd_response_printf(cr->resp, ",... (%zu in all)", s->nallow);
		fmt_loc(&s->loc, b, sizeof(b));
		fwd_response_printf(cr->resp, "  (%s)\n", b);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		char w[256];

		if (e->expires && e->expires <= now_s())
			continue;
		fwd_edit_format(e, w, sizeof(w));
		fmt_left(e->expires, a, sizeof(a));
		fwd_response_printf(cr->resp, "edit    %s  (%s%s)\n", w, a,
				    e->runtime ? ", runtime only" : "");
	}
	return 0;
}

int cmd_list_show(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	const struct fwd_list *l = NULL;
	char a[128], b[128];

	if (cr->argc == 0) {
		if (cr->json) {
			struct jbuf jb;

			jbuf_open(&jb);
			json_arr_begin(&jb.j);
			for (size_t i = 0; i < p->nlists; i++) {
				json_obj_begin(&jb.j);
				json_key(&jb.j, "name"); json_str(&jb.j, p->lists[i].name);
				json_key(&jb.j, "members"); json_uint(&jb.j, p->lists[i].n);
				json_obj_end(&jb.j);
			}
			json_arr_end(&jb.j);
			jbuf_close(&jb, cr->resp);
			return 0;
		}
		for (size_t i = 0; i < p->nlists; i++)
			fwd_response_printf(cr->resp, "%s\t%zu\n", p->lists[i].name,
					    p->lists[i].n);
		return 0;
	}
	for (size_t i = 0; i < p->nlists; i++)
		if (strcmp(p->lists[i].name, cr->argv[0]) == 0)
			l = &p->lists[i];
	if (!l && count_edits(p, FWD_EDIT_LIST_ADD, false) == 0) {
		char q[QWORD_BUF];

		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no list named '%s'",
				  qword(q, cr->argv[0]));
		return -ENOENT;
	}
	if (cr->json) {
		struct jbuf jb;

		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "name"); json_str(&jb.j, cr->argv[0]);
		json_key(&jb.j, "members");
		json_arr_begin(&jb.j);
		for (size_t i = 0; l && i < l->n; i++) {
			json_obj_begin(&jb.j);
			fwd_addr_format(&l->addrs[i], a, sizeof(a));
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			fmt_loc(&l->locs[i], b, sizeof(b));
			json_key(&jb.j, "source"); json_str(&jb.j, b);
			json_obj_end(&jb.j);
		}
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];

			if (e->kind != FWD_EDIT_LIST_ADD || strcmp(e->list, cr->argv[0]))
				continue;
			json_obj_begin(&jb.j);
			fwd_addr_format(&e->addr, a, sizeof(a));
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			json_key(&jb.j, "source"); json_str(&jb.j, e->runtime ? "fwctl (runtime)" : "fwctl");
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
		json_key(&jb.j, "removed");
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];

			if (e->kind != FWD_EDIT_LIST_DEL || strcmp(e->list, cr->argv[0]))
				continue;
			fwd_addr_format(&e->addr, a, sizeof(a));
			json_str(&jb.j, a);
		}
		json_arr_end(&jb.j);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
		return 0;
	}
	for (size_t i = 0; l && i < l->n; i++) {
		fwd_addr_format(&l->addrs[i], a, sizeof(a));
		fmt_loc(&l->locs[i], b, sizeof(b));
		fwd_response_printf(cr->resp, "%-44s %s\n", a, b);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind != FWD_EDIT_LIST_ADD && e->kind != FWD_EDIT_LIST_DEL) ||
		    strcmp(e->list, cr->argv[0]))
			continue;
		fwd_addr_format(&e->addr, a, sizeof(a));
		fwd_response_printf(cr->resp, "%-44s %s%s\n", a,
				    e->kind == FWD_EDIT_LIST_DEL ? "removed by fwctl" : "fwctl",
				    e->runtime ? " (runtime)" : "");
	}
	return 0;
}

int cmd_list_blocked(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	uint64_t now = now_s();
	struct jbuf jb;
	char a[128], t[64];

	if (cr->json) {
		jbuf_open(&jb);
		json_arr_begin(&jb.j);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind != FWD_EDIT_BLOCK || (e->expires && e->expires <= now))
			continue;
		fwd_addr_format(&e->addr, a, sizeof(a));
		if (cr->json) {
			json_obj_begin(&jb.j);
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			json_key(&jb.j, "expires");
			if (e->expires)
				json_uint(&jb.j, e->expires);
			else
				json_null(&jb.j);
			json_key(&jb.j, "seconds_left");
			if (e->expires)
				json_uint(&jb.j, e->expires - now);
			else
				json_null(&jb.j);
			json_key(&jb.j, "runtime"); json_bool(&jb.j, e->runtime);
			json_key(&jb.j, "reason");
			json_str(&jb.j, fwd_vloop_reason(cr->ctx, &e->addr));
			json_obj_end(&jb.j);
		} else {
			fmt_left(e->expires, t, sizeof(t));
			fwd_response_printf(cr->resp, "%-44s %-15s %s%s\n", a, t,
					    fwd_vloop_reason(cr->ctx, &e->addr),
					    e->runtime ? " (runtime only)" : "");
		}
	}
	if (cr->json) {
		json_arr_end(&jb.j);
		jbuf_close(&jb, cr->resp);
	}
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

int cmd_explain(struct cmdreq *cr)
{
	uint8_t addr[16] = { 0 };
	struct fwd_ports pr;
	struct fwd_explain ex;
	int family;
	char pbuf[32], elem[256] = "", loc[128] = "";
	unsigned lo, hi;
	char proto[8] = "tcp", q[QWORD_BUF];

	if (cr->argc != 2) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "usage: fwctl explain SRC PORT/PROTO");
		return -EINVAL;
	}
	if (inet_pton(AF_INET, cr->argv[0], addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, cr->argv[0], addr) == 1)
		family = AF_INET6;
	else {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' is not an IPv4 or IPv6 "
				  "address", qword(q, cr->argv[0]));
		return -EINVAL;
	}
	if (sscanf(cr->argv[1], "%u/%7s", &lo, proto) < 1 || lo == 0 || lo > 65535 ||
	    (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' is not PORT/PROTO "
				  "(22/tcp, 53/udp)", qword(q, cr->argv[1]));
		return -EINVAL;
	}
	hi = lo;
	pr = (struct fwd_ports){ .proto = strcmp(proto, "udp") ? 6 : 17,
				 .lo = (uint16_t)lo, .hi = (uint16_t)hi };
	if (fwd_ir_explain(cr->ctx->ir, FWD_CHAIN_INPUT, family, addr, pr.proto,
			   pr.lo, &ex) != 0) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot evaluate the running rules");
		return -EINVAL;
	}
	ports_text(&pr, pbuf, sizeof(pbuf));
	if (ex.set >= 0 && ex.elem) {
		fwd_ir_elem_format(&cr->ctx->ir->sets[ex.set], ex.elem, elem, sizeof(elem));
		fmt_loc(&ex.loc, loc, sizeof(loc));
	} else if (!ex.by_policy && ex.loc.file) {
		fmt_loc(&ex.loc, loc, sizeof(loc));
	}
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "source"); json_str(&b.j, cr->argv[0]);
		json_key(&b.j, "port"); json_str(&b.j, pbuf);
		json_key(&b.j, "verdict"); json_str(&b.j, verdict_name(ex.verdict));
		json_key(&b.j, "by_policy"); json_bool(&b.j, ex.by_policy);
		json_key(&b.j, "rule");
		if (ex.by_policy)
			json_null(&b.j);
		else
			json_uint(&b.j, ex.rule);
		json_key(&b.j, "set");
		if (ex.set >= 0)
			json_str(&b.j, cr->ctx->ir->sets[ex.set].name);
		else
			json_null(&b.j);
		json_key(&b.j, "element");
		if (*elem)
			json_str(&b.j, elem);
		else
			json_null(&b.j);
		json_key(&b.j, "policy_source");
		if (*loc)
			json_str(&b.j, loc);
		else
			json_null(&b.j);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
		return 0;
	}
	fwd_response_printf(cr->resp, "%s -> %s: %s\n", cr->argv[0], pbuf,
			    verdict_name(ex.verdict));
	if (ex.by_policy)
		fwd_response_printf(cr->resp, "  decided by: the input chain's policy "
				    "(no rule matched; [defaults] inbound)\n");
	else if (ex.set >= 0)
		fwd_response_printf(cr->resp, "  decided by: rule %zu, set %s, element %s\n"
				    "  from:       %s\n", ex.rule,
				    cr->ctx->ir->sets[ex.set].name, elem, loc);
	else
		fwd_response_printf(cr->resp, "  decided by: rule %zu of chain input%s%s\n",
				    ex.rule, *loc ? ", from " : "", loc);
	return 0;
}
