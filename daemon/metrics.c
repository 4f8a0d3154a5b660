// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What `fwctl stats` gathers -> Prometheus' text exposition format
 * (metrics.h). Pure: a view in, text out; the unit suite feeds it views
 * made by hand and checks the text with promtool.
 */
#include "metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

struct family;
typedef void (*emit_fn)(FILE *f, const struct family *fam,
			const struct fwd_stats_view *v);

/*
 * One metric family: its name, type and help, and how its samples come
 * out of the view. Most are one uint64_t of the view (SCALAR) or of each
 * queue's counters (PER_QUEUE); the rest have a function of their own.
 * scale turns a stored unit into the base unit (nanoseconds -> seconds).
 */
struct family {
	const char *name;
	const char *type;
	const char *help;
	emit_fn emit;
	size_t off;
	double scale;			/* 0: the value is printed as an integer */
};

static void value(FILE *f, const struct family *fam, uint64_t x)
{
	if (fam->scale)
		fprintf(f, " %.9g\n", (double)x * fam->scale);
	else
		fprintf(f, " %llu\n", (unsigned long long)x);
}

void fwd_metrics_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/* name{k1="v1",k2="v2"...}: labels as pairs, NULL-terminated. */
static void sample_name(FILE *f, const char *name, const char *const *labels)
{
	fputs(name, f);
	if (!labels || !labels[0])
		return;
	fputc('{', f);
	for (size_t i = 0; labels[i]; i += 2) {
		fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
		fwd_metrics_label_value(f, labels[i + 1]);
		fputc('"', f);
	}
	fputc('}', f);
}

static void emit_scalar(FILE *f, const struct family *fam,
			const struct fwd_stats_view *v)
{
	uint64_t x;

	memcpy(&x, (const char *)v + fam->off, sizeof(x));
	sample_name(f, fam->name, NULL);
	value(f, fam, x);
}

static void emit_queue(FILE *f, const struct family *fam,
		       const struct fwd_stats_view *v)
{
	for (unsigned i = 0; i < v->loop.nqueues; i++) {
		char num[16];
		const char *labels[] = { "queue", num, NULL };
		uint64_t x;

		snprintf(num, sizeof(num), "%u", v->loop.queues[i].num);
		memcpy(&x, (const char *)&v->loop.queues[i] + fam->off, sizeof(x));
		sample_name(f, fam->name, labels);
		value(f, fam, x);
	}
}

static void emit_bound(FILE *f, const struct family *fam,
		       const struct fwd_stats_view *v)
{
	for (unsigned i = 0; i < v->loop.nqueues; i++) {
		char num[16];
		const char *labels[] = { "queue", num, NULL };

		snprintf(num, sizeof(num), "%u", v->loop.queues[i].num);
		sample_name(f, fam->name, labels);
		value(f, fam, v->loop.queues[i].bound);
	}
}

/* The verdict loop's verdicts by reason (vlog.h's reasons, as in
 * `fwctl stats --json`'s by_reason). */
static const char *const reason_label[FWD_REASON_MAX] = {
	"default_deny", "guard_scan", "guard_flood", "blocked", "suppressed",
};

static void emit_reasons(FILE *f, const struct family *fam,
			 const struct fwd_stats_view *v)
{
	for (unsigned i = 0; i < v->loop.nqueues; i++) {
		for (int r = 0; r < FWD_REASON_MAX; r++) {
			char num[16];
			const char *labels[] = { "queue", num, "reason", reason_label[r],
						 NULL };

			snprintf(num, sizeof(num), "%u", v->loop.queues[i].num);
			sample_name(f, fam->name, labels);
			value(f, fam, v->loop.queues[i].by_reason[r]);
		}
	}
}

/*
 * The labels of one owner of element counters (attrib.h): its kind's
 * label, and the direction and verdict attrib.c recorded when it made the
 * owner (a service accepts in its direction, an allow/deny edit accepts or
 * rejects in its own). A list's sums are every use of the list (they are
 * also in the service or edit using it, as in `fwctl stats`), so a list's
 * series has no service, direction or verdict; "other" has no owner at
 * all. Constant time: nothing of the policy is looked up.
 */
static void owner_labels(const struct fwd_own_acc *a, const char **labels)
{
	static const char *const verdict[] = {
		[FWD_OWN_V_NONE] = "", [FWD_OWN_V_ACCEPT] = "accept",
		[FWD_OWN_V_REJECT] = "reject",
	};

	labels[1] = labels[3] = labels[5] = "";
	if (a->kind == FWD_OWN_SERVICE)
		labels[1] = a->name;
	else if (a->kind == FWD_OWN_LIST)
		labels[3] = a->name;
	else if (a->kind == FWD_OWN_EDIT)
		labels[5] = a->name;
	labels[7] = !a->directed ? "" : a->dir == FWD_DIR_OUT ? "out" : "in";
	labels[9] = verdict[a->verdict];
}

static void emit_owners(FILE *f, const struct family *fam,
			const struct fwd_stats_view *v)
{
	bool bytes = strstr(fam->name, "bytes") != NULL;

	for (size_t i = 0; i < v->om.nacc; i++) {
		const struct fwd_own_acc *a = &v->om.acc[i];
		const char *labels[] = { "service", "", "list", "", "edit", "",
					 "direction", "", "verdict", "", NULL };

		owner_labels(a, labels);
		sample_name(f, fam->name, labels);
		value(f, fam, bytes ? a->bytes : a->packets);
	}
}

/* The rules' own counters, by chain, rule and the set the rule looks up. */
static void emit_rules(FILE *f, const struct family *fam,
		       const struct fwd_stats_view *v)
{
	bool bytes = strstr(fam->name, "bytes") != NULL;

	for (size_t c = 0; v->live && c < v->live->nchains; c++) {
		const struct fwd_live_chain *ch = &v->live->chains[c];

		for (size_t r = 0; r < ch->ncounters; r++) {
			const struct fwd_live_counter *k = &ch->counters[r];
			char rule[24];
			const char *labels[] = { "chain", ch->name, "rule", rule,
						 "set", k->set, NULL };

			snprintf(rule, sizeof(rule), "%zu", k->rule);
			sample_name(f, fam->name, labels);
			value(f, fam, bytes ? k->bytes : k->packets);
		}
	}
}

static void emit_elements(FILE *f, const struct family *fam,
			  const struct fwd_stats_view *v)
{
	for (size_t i = 0; v->live && i < v->live->nsets; i++) {
		const struct fwd_live_set *s = &v->live->sets[i];
		const char *labels[] = { "set", s->name, NULL };

		sample_name(f, fam->name, labels);
		value(f, fam, s->n);
	}
}

const char *const fwd_stats_fate_json[FWD_FATE_COUNT] = {
	"accepted", "default_deny", "deny", "block",
};

/* What the rules did, per direction (stats' "directions"): accepted,
 * dropped by the default, refused by deny, dropped by a block. */
static void emit_fates(FILE *f, const struct family *fam,
		       const struct fwd_stats_view *v)
{
	bool bytes = strstr(fam->name, "bytes") != NULL;

	for (int d = 0; v->fates && d < 2; d++) {
		for (int k = 0; k < FWD_FATE_COUNT; k++) {
			const char *labels[] = { "direction", d ? "out" : "in",
						 "fate", fwd_stats_fate_json[k], NULL };

			sample_name(f, fam->name, labels);
			value(f, fam, bytes ? v->dir[d].fate[k].bytes :
			      v->dir[d].fate[k].packets);
		}
	}
}

#define SCALAR(field) emit_scalar, offsetof(struct fwd_stats_view, field)
#define PER_QUEUE(field) emit_queue, offsetof(struct fwd_vloop_qstats, field)
#define NS 1e-9

/* Every family fwd exports, in the order they are written. A new number
 * in the view (cmd-stats.c's gather) is one row here. */
static const struct family families[] = {
	{ "fwd_packets_total", "counter",
	  "Packets matched by allow and deny set elements, by the service, list or "
	  "fwctl edit they came from (a list's series also counts in its user's)",
	  emit_owners, 0, 0 },
	{ "fwd_bytes_total", "counter",
	  "Bytes matched by allow and deny set elements, labelled as fwd_packets_total",
	  emit_owners, 0, 0 },
	{ "fwd_direction_packets_total", "counter",
	  "Packets by direction and what the rules did: accepted, default_deny "
	  "(the default's final rules), deny (fwctl deny), block (the blocklist)",
	  emit_fates, 0, 0 },
	{ "fwd_direction_bytes_total", "counter",
	  "Bytes by direction and what the rules did, labelled as "
	  "fwd_direction_packets_total",
	  emit_fates, 0, 0 },
	{ "fwd_rule_packets_total", "counter",
	  "Packets counted by the rules' own counters, by chain, rule and set looked up",
	  emit_rules, 0, 0 },
	{ "fwd_rule_bytes_total", "counter",
	  "Bytes counted by the rules' own counters, by chain, rule and set looked up",
	  emit_rules, 0, 0 },
	{ "fwd_elements", "gauge",
	  "Elements in each set of fwd's table, as read back from the kernel",
	  emit_elements, 0, 0 },
	{ "fwd_generation", "gauge",
	  "Policy changes committed to the kernel since fwd started",
	  SCALAR(generation), 0 },
	{ "fwd_apply_duration_seconds", "gauge",
	  "Duration of the last commit's kernel transaction",
	  SCALAR(apply_ns), NS },
	{ "fwd_degraded", "gauge",
	  "1 while the rules in the kernel are not the policy files' (last good "
	  "policy, lockdown, reverted)",
	  SCALAR(degraded), 0 },
	{ "fwd_table_restores_total", "counter",
	  "Times the table guard put fwd's table back after someone else changed it",
	  SCALAR(restores), 0 },
	{ "fwd_edits_total", "counter",
	  "Live edits applied through fwctl since fwd started",
	  SCALAR(edits_applied), 0 },
	{ "fwd_control_requests_total", "counter",
	  "Control socket requests served",
	  SCALAR(cs.served), 0 },
	{ "fwd_queue_bound", "gauge",
	  "1 while the verdict loop's worker is bound to the NFQUEUE queue",
	  emit_bound, 0, 0 },
	{ "fwd_queue_packets_total", "counter",
	  "Packets the verdict loop received from the queue",
	  PER_QUEUE(queued), 0 },
	{ "fwd_queue_verdicts_total", "counter",
	  "Verdicts the verdict loop sent",
	  PER_QUEUE(verdicts), 0 },
	{ "fwd_queue_verdict_errors_total", "counter",
	  "Verdicts the kernel refused (expected: zero)",
	  PER_QUEUE(verdict_errors), 0 },
	{ "fwd_queue_dropped_total", "counter",
	  "Packets the kernel dropped because the queue was full",
	  PER_QUEUE(queue_dropped), 0 },
	{ "fwd_queue_user_dropped_total", "counter",
	  "Packets the kernel dropped because the verdict loop's socket buffer was full",
	  PER_QUEUE(user_dropped), 0 },
	{ "fwd_verdicts_total", "counter",
	  "The verdict loop's drop verdicts by reason",
	  emit_reasons, 0, 0 },
	{ "fwd_guard_blocks_total", "counter",
	  "Sources the guard blocked (scan or flood)",
	  PER_QUEUE(blocks), 0 },
	{ "fwd_log_suppressed_total", "counter",
	  "Log records left out by the per-source and total caps",
	  PER_QUEUE(suppressed), 0 },
	{ "fwd_queue_latency_p50_seconds", "gauge",
	  "Median time from enqueue (kernel timestamp) to verdict, recent packets",
	  PER_QUEUE(lat_p50_ns), NS },
	{ "fwd_queue_latency_p99_seconds", "gauge",
	  "99th percentile of the time from enqueue to verdict, recent packets",
	  PER_QUEUE(lat_p99_ns), NS },
};

void fwd_metrics_render(const struct fwd_stats_view *v, FILE *f)
{
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		const struct family *fam = &families[i];

		/* HELP text is fwd's own: no backslash or newline to escape. */
		fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help,
			fam->name, fam->type);
		fam->emit(f, fam, v);
	}
}
