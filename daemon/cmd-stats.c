// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl stats: the live table's counters read back, summed per owner
 * (service, list, edit) of each element, and the control socket's counts.
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attrib.h"
#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "metrics.h"
#include "util.h"
#include "vloop.h"

/* Live elements (with counters) matched by key to the running IR's. */
static void own_count_table(struct fwd_own_map *m, const struct fwd_ir *ir,
			    const struct fwd_live_table *live)
{
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];
		const struct fwd_live_set *ls = fwd_live_set_find(live, s->name);
		size_t j = 0;

		if (!s->counter || !ls || !ls->counters)
			continue;
		for (size_t k = 0; k < ls->n; k++) {
			const struct fwd_live_elem_counter *c = &ls->counters[k];
			int r = 1;

			if (!c->packets && !c->bytes)
				continue;
			while (j < s->n &&
			       (r = fwd_ir_elem_cmp(&s->elems[j], &ls->elems[k])) < 0)
				j++;
			if (j < s->n && r == 0)
				fwd_own_count(m, s, &s->elems[j], c->packets, c->bytes);
			else
				fwd_own_count(m, s, &(struct fwd_ir_elem){ .proto = 0 },
					  c->packets, c->bytes);
		}
	}
}


static const char *const fate_text[FWD_FATE_COUNT] = {
	"accepted", "dropped by default", "refused by deny", "dropped by block",
};
/* FWD_FATE_COUNT for a rule that is none of them (loopback, conntrack, ICMP,
 * reverse path, the queue step's meter: their counters, if any, are
 * listed per rule). */
static enum fwd_stats_fate rule_fate(const struct fwd_ir_rule *r)
{
	bool refuses = r->verdict == FWD_V_DROP || r->verdict == FWD_V_REJECT_TCP_RST ||
		       r->verdict == FWD_V_REJECT_ICMPX;

	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &r->m[i];

		if (m->kind != FWD_M_LOOKUP_SRC && m->kind != FWD_M_LOOKUP_DST)
			continue;
		if (m->set == FWD_SET_BLOCK4 || m->set == FWD_SET_BLOCK6)
			return refuses ? FWD_FATE_BLOCK : FWD_FATE_COUNT;
		if (m->set >= FWD_SET_DENY4 && m->set <= FWD_SET_OUT_DENY_OPEN)
			return refuses ? FWD_FATE_DENY : FWD_FATE_COUNT;
		return r->verdict == FWD_V_ACCEPT ? FWD_FATE_ACCEPT : FWD_FATE_COUNT;
	}
	/* The default's rules match nothing but, for the reset, tcp. */
	if (refuses && (r->nm == 0 || (r->nm == 1 && r->m[0].kind == FWD_M_L4PROTO)))
		return FWD_FATE_DEFAULT;
	return FWD_FATE_COUNT;
}

/* The live rules' counters (matched to the running IR's rules by place)
 * summed per direction and fate. */
static void count_fates(struct fwd_stats_dir dir[2], const struct fwd_ir *ir,
			const struct fwd_live_table *live)
{
	struct fwd_ir_counts *cn = fwd_live_counts(live, ir);

	for (size_t c = 0; c < ir->nchains; c++) {
		const struct fwd_ir_chain *ch = &ir->chains[c];
		struct fwd_stats_dir *d = &dir[ch->hook == NF_INET_LOCAL_OUT];

		for (size_t r = 0; r < ch->n; r++) {
			enum fwd_stats_fate f = rule_fate(&ch->rules[r]);

			if (f == FWD_FATE_COUNT || !ch->rules[r].counter)
				continue;
			d->fate[f].packets += cn->rule[c][r].packets;
			d->fate[f].bytes += cn->rule[c][r].bytes;
		}
	}
	fwd_ir_counts_free(cn);
}

int fwd_stats_owners(struct cmdreq *cr, struct fwd_own_map *om)
{
	const struct fwd_policy *p = cr->ctx->policy;
	struct fwd_live_table *live = NULL;
	int ret;

	memset(om, 0, sizeof(*om));
	/* Without element counters nobody has hits: no rows of zeros that
	 * would read as "no traffic". */
	if (!p || !cr->ctx->ir || !p->counters)
		return 0;
	fwd_own_init(om, p, cr->ctx->ir);
	ret = fwd_live_read(cr->ctx->nl, NULL, &live);
	if (ret == 0)
		own_count_table(om, cr->ctx->ir, live);
	fwd_live_free(live);
	return ret;
}

/* What `fwctl stats` reports (metrics.h's view), all gathered before
 * anything is rendered: as text, JSON, or Prometheus' format. */
int fwd_stats_gather(struct fwd_ctx *ctx, struct fwd_stats_view *v)
{
	const struct fwd_policy *p = ctx->policy;
	int ret;

	memset(v, 0, sizeof(*v));
	ret = fwd_live_read(ctx->nl, NULL, &v->live);
	if (ret)
		return ret;
	if (ctx->ctl)
		fwd_ctl_server_stats(ctx->ctl, &v->cs);
	if (ctx->ir) {
		count_fates(v->dir, ctx->ir, v->live);
		v->fates = true;
	}
	/* Without element counters there is nothing to sum per owner (no
	 * rows of zeros that look like "no traffic"). */
	if (p && ctx->ir && p->counters) {
		fwd_own_init(&v->om, p, ctx->ir);
		own_count_table(&v->om, ctx->ir, v->live);
	}
	v->counters = !p || p->counters;
	v->counters_off = p && !p->counters;
	v->edits_applied = ctx->edits_applied;
	v->generation = ctx->generation;
	v->degraded = ctx->degraded != NULL;
	v->restores = ctx->restores;
	v->apply_ns = ctx->apply_ns;
	fwd_vloop_view_gather(ctx, &v->loop);
	return 0;
}

void fwd_stats_free(struct fwd_stats_view *v)
{
	fwd_own_free(&v->om);
	fwd_live_free(v->live);
	v->live = NULL;
}

static void stats_json(struct cmdreq *cr, const struct fwd_stats_view *v)
{
	struct jbuf jb;

	jbuf_open(&jb);
	json_obj_begin(&jb.j);
	json_key(&jb.j, "element_counters");
	json_bool(&jb.j, v->counters);
	if (v->fates) {
		json_key(&jb.j, "directions");
		json_obj_begin(&jb.j);
		for (int d = 0; d < 2; d++) {
			json_key(&jb.j, d ? "out" : "in");
			json_obj_begin(&jb.j);
			for (int f = 0; f < FWD_FATE_COUNT; f++) {
				json_key(&jb.j, fwd_stats_fate_json[f]);
				json_obj_begin(&jb.j);
				json_key(&jb.j, "packets");
				json_uint(&jb.j, v->dir[d].fate[f].packets);
				json_key(&jb.j, "bytes");
				json_uint(&jb.j, v->dir[d].fate[f].bytes);
				json_obj_end(&jb.j);
			}
			json_obj_end(&jb.j);
		}
		json_obj_end(&jb.j);
	}
	for (int kind = FWD_OWN_SERVICE; kind <= FWD_OWN_OTHER; kind++) {
		json_key(&jb.j, fwd_own_kind_json[kind]);
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < v->om.nacc; i++) {
			const struct fwd_own_acc *a = &v->om.acc[i];

			if ((int)a->kind != kind)
				continue;
			json_obj_begin(&jb.j);
			json_key(&jb.j, "name"); json_str(&jb.j, a->name);
			json_key(&jb.j, "packets"); json_uint(&jb.j, a->packets);
			json_key(&jb.j, "bytes"); json_uint(&jb.j, a->bytes);
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
	}
	json_key(&jb.j, "rules");
	json_arr_begin(&jb.j);
	for (size_t c = 0; c < v->live->nchains; c++) {
		const struct fwd_live_chain *ch = &v->live->chains[c];

		for (size_t r = 0; r < ch->ncounters; r++) {
			const struct fwd_live_counter *k = &ch->counters[r];

			json_obj_begin(&jb.j);
			json_key(&jb.j, "chain"); json_str(&jb.j, ch->name);
			json_key(&jb.j, "set"); json_str(&jb.j, k->set);
			json_key(&jb.j, "packets"); json_uint(&jb.j, k->packets);
			json_key(&jb.j, "bytes"); json_uint(&jb.j, k->bytes);
			/* Its place in the chain, from 1, as explain's
			 * kernel_rule names it: the two @deny4 rules (tcp
			 * reset, icmpx) are otherwise the same row. */
			json_key(&jb.j, "kernel_rule"); json_uint(&jb.j, k->rule + 1);
			json_obj_end(&jb.j);
		}
	}
	json_arr_end(&jb.j);
	json_key(&jb.j, "control_requests"); json_uint(&jb.j, v->cs.served);
	json_key(&jb.j, "edits_applied"); json_uint(&jb.j, v->edits_applied);
	json_key(&jb.j, "queues"); fwd_vloop_status_json(&v->loop, &jb.j);
	json_key(&jb.j, "guard_blocks"); fwd_vloop_blocks_json(&v->loop, &jb.j);
	json_obj_end(&jb.j);
	jbuf_close(&jb, cr->resp);
}

static void stats_text(struct cmdreq *cr, const struct fwd_stats_view *v)
{
	for (int d = 0; v->fates && d < 2; d++)
		for (int f = 0; f < FWD_FATE_COUNT; f++)
			fwd_response_printf(cr->resp, "%-7s %-24s %12llu packets %14llu "
					    "bytes\n", d ? "out" : "in", fate_text[f],
					    (unsigned long long)v->dir[d].fate[f].packets,
					    (unsigned long long)v->dir[d].fate[f].bytes);
	if (v->counters_off)
		fwd_response_printf(cr->resp, "per-service and per-list counts are off "
				    "([defaults] counters = no); the rules' own "
				    "counters:\n");
	for (size_t i = 0; i < v->om.nacc; i++) {
		const struct fwd_own_acc *a = &v->om.acc[i];

		fwd_response_printf(cr->resp, "%-7s %-24s %12llu packets %14llu bytes\n",
				    fwd_own_kind_name[a->kind], a->name,
				    (unsigned long long)a->packets,
				    (unsigned long long)a->bytes);
	}
	for (size_t c = 0; c < v->live->nchains; c++) {
		const struct fwd_live_chain *ch = &v->live->chains[c];

		for (size_t r = 0; r < ch->ncounters; r++) {
			const struct fwd_live_counter *k = &ch->counters[r];

			fwd_response_printf(cr->resp, "%-7s @%-15s %12llu packets %14llu bytes\n",
					    ch->name, k->set,
					    (unsigned long long)k->packets,
					    (unsigned long long)k->bytes);
		}
	}
	fwd_response_printf(cr->resp, "control: %llu requests served, %llu edits applied\n",
			    v->cs.served, (unsigned long long)v->edits_applied);
	fwd_vloop_status_text(&v->loop, cr->resp);
}

static void stats_prometheus(struct cmdreq *cr, const struct fwd_stats_view *v)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		abort();	/* the project's OOM policy: abort */
	fwd_metrics_render(v, f);
	fclose(f);
	fwd_response_write(cr->resp, text, len);
	free(text);
}

int cmd_stats(struct cmdreq *cr)
{
	struct fwd_stats_view v;
	int ret = fwd_stats_gather(cr->ctx, &v);

	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read the table "
				  "back: %s", strerror(-ret));
		fwd_stats_free(&v);
		return ret;
	}
	if (cr->prometheus)
		stats_prometheus(cr, &v);
	else if (cr->json)
		stats_json(cr, &v);
	else
		stats_text(cr, &v);
	fwd_stats_free(&v);
	return 0;
}
