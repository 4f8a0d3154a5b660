// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `fwctl log` and the verdict loop's part of `fwctl status` / `stats`:
 * the ring and the per-queue counters (vloop.h) -> text, JSON, DShield.
 */
#include "cmd-log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "json.h"
#include "proto.h"
#include "vloop.h"
#include "vlog.h"

#define LOG_MAX_RECORDS 4096u	/* per answer; -f asks again for the rest */

enum log_fmt { FMT_TEXT, FMT_JSON, FMT_DSHIELD };

/* --since TIME: unix seconds, an ISO date-time (UTC with Z, else local),
 * or an age: 30s, 10m, 2h, 1d, 1h30m ago. 0 on success. */
static int parse_since(const char *s, uint64_t *ns)
{
	struct tm tm = { 0 };
	const char *end;
	char *e;
	unsigned long long v;
	uint64_t age;
	time_t t;

	v = strtoull(s, &e, 10);
	if (e != s && *e == '\0') {
		*ns = v * 1000000000ull;
		return 0;
	}
	/* An age is a DURATION as `for` takes it (30s, 10m, 1h30m): one
	 * parser for every duration fwctl reads. */
	if (e != s && fwd_duration_parse(s, strlen(s), &age) == 0) {
		uint64_t now = (uint64_t)time(NULL);

		*ns = (age > now ? 0 : now - age) * 1000000000ull;
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		end = strptime(s, "%Y-%m-%d %H:%M:%S", &tm);
	if (!end)
		return -EINVAL;
	if (*end == 'Z' && end[1] == '\0') {
		t = timegm(&tm);
	} else if (*end == '\0') {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	} else {
		return -EINVAL;
	}
	if (t < 0)
		return -EINVAL;
	*ns = (uint64_t)t * 1000000000ull;
	return 0;
}

/* Words: [-n N] [--since TIME] [--json | --dshield] [--after SEQ]. --after
 * is what `fwctl log -f` sends while it follows: the answer then starts
 * with "next SEQ MISSED\n", which fwctl reads and does not print. */
int fwd_cmd_log(struct fwd_ctx *ctx, int argc, char **argv, bool json,
		struct fwd_response *resp)
{
	struct fwd_vlog_query q = { 0 };
	enum log_fmt fmt = json ? FMT_JSON : FMT_TEXT;
	struct fwd_vlog_rec *recs;
	bool follow = false;
	uint64_t missed = 0, next = 0;
	char *text = NULL;
	size_t len = 0, n;
	FILE *f;
	uint32_t userid = ctx->policy ? ctx->policy->dshield_userid : 0;

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *e;

		if (strcmp(a, "--json") == 0) {
			fmt = FMT_JSON;
		} else if (strcmp(a, "--dshield") == 0) {
			fmt = FMT_DSHIELD;
		} else if (strcmp(a, "-n") == 0 && v) {
			unsigned long long x = strtoull(v, &e, 10);

			if (*e || e == v || x == 0 || x > 1000000) {
				fwd_response_fail(resp, FWD_EXIT_USAGE, "-n takes a count "
						  "(1-1000000)");
				return -EINVAL;
			}
			q.last = (size_t)x;
			i++;
		} else if (strcmp(a, "--since") == 0 && v) {
			if (parse_since(v, &q.since_ns)) {
				fwd_response_fail(resp, FWD_EXIT_USAGE, "--since takes unix "
						  "seconds, YYYY-MM-DDTHH:MM:SS[Z] or an age "
						  "(30s, 10m, 2h, 1d)");
				return -EINVAL;
			}
			i++;
		} else if (strcmp(a, "--after") == 0 && v) {
			q.after_seq = strtoull(v, &e, 10);
			if (*e || e == v) {
				fwd_response_fail(resp, FWD_EXIT_USAGE, "--after takes a "
						  "sequence number");
				return -EINVAL;
			}
			follow = true;
			i++;
		} else {
			fwd_response_fail(resp, FWD_EXIT_USAGE, "usage: fwctl log [-f] [-n N] "
					  "[--since TIME] [--json | --dshield]");
			return -EINVAL;
		}
	}
	recs = calloc(LOG_MAX_RECORDS, sizeof(*recs));
	f = open_memstream(&text, &len);
	if (!recs || !f)
		abort();	/* OOM policy: abort */
	n = fwd_vloop_read(ctx, &q, recs, LOG_MAX_RECORDS, &missed, &next);
	if (follow) {
		/* The follower resumes after the last record it got. */
		uint64_t last = n ? recs[n - 1].seq : (q.after_seq > next - 1 ?
							  next - 1 : q.after_seq);

		fprintf(f, "next %llu %llu\n", (unsigned long long)last,
			(unsigned long long)missed);
	}
	for (size_t i = 0; i < n; i++) {
		if (fmt == FMT_JSON) {
			fwd_vlog_json(&recs[i], f);
		} else if (fmt == FMT_DSHIELD) {
			struct tm tm;
			time_t t = (time_t)(recs[i].time_ns / 1000000000ull);

			localtime_r(&t, &tm);
			fwd_vlog_dshield(&recs[i], userid, tm.tm_gmtoff, f);
		} else {
			fwd_vlog_text(&recs[i], f);
		}
	}
	fclose(f);
	fwd_response_write(resp, text, len);
	free(text);
	free(recs);
	return 0;
}

static const char *reason_key[FWD_REASON_MAX] = {
	"default_deny", "guard_scan", "guard_flood", "blocked", "suppressed",
};

void fwd_vloop_view_gather(struct fwd_ctx *ctx, struct fwd_vloop_view *v)
{
	memset(v, 0, sizeof(*v));
	v->nqueues = fwd_vloop_stats(ctx, v->queues, FWD_VLOOP_VIEW_QUEUES);
	if (v->nqueues > FWD_VLOOP_VIEW_QUEUES)
		v->nqueues = FWD_VLOOP_VIEW_QUEUES;
	fwd_vloop_block_stats(ctx, &v->blocks);
}

void fwd_vloop_status_json(const struct fwd_vloop_view *v, struct json_out *j)
{
	const struct fwd_vloop_qstats *st = v->queues;
	unsigned n = v->nqueues;

	if (!n) {
		json_null(j);
		return;
	}
	json_arr_begin(j);
	for (unsigned i = 0; i < n; i++) {
		json_obj_begin(j);
		json_key(j, "queue"); json_uint(j, st[i].num);
		json_key(j, "bound"); json_bool(j, st[i].bound);
		json_key(j, "queued"); json_uint(j, st[i].queued);
		json_key(j, "verdicts"); json_uint(j, st[i].verdicts);
		json_key(j, "verdict_errors"); json_uint(j, st[i].verdict_errors);
		json_key(j, "queue_dropped"); json_uint(j, st[i].queue_dropped);
		json_key(j, "user_dropped"); json_uint(j, st[i].user_dropped);
		json_key(j, "by_reason");
		json_obj_begin(j);
		for (int r = 0; r < FWD_REASON_MAX; r++) {
			json_key(j, reason_key[r]);
			json_uint(j, st[i].by_reason[r]);
		}
		json_obj_end(j);
		json_key(j, "blocks"); json_uint(j, st[i].blocks);
		json_key(j, "suppressed"); json_uint(j, st[i].suppressed);
		json_key(j, "latency_p50_us"); json_uint(j, st[i].lat_p50_ns / 1000);
		json_key(j, "latency_p99_us"); json_uint(j, st[i].lat_p99_ns / 1000);
		json_key(j, "latency_samples"); json_uint(j, st[i].lat_samples);
		if (st[i].prog) {
			json_key(j, "program");
			json_obj_begin(j);
			json_key(j, "accepted"); json_uint(j, st[i].prog_accepted);
			json_key(j, "unknown_owner"); json_uint(j, st[i].prog_unknown);
			json_key(j, "not_allowed"); json_uint(j, st[i].prog_denied);
			json_key(j, "labelled"); json_uint(j, st[i].prog_labelled);
			json_key(j, "label_errors"); json_uint(j, st[i].prog_label_errors);
			json_key(j, "last_label_error");
			json_str(j, st[i].prog_last_label_error ?
				 strerror(st[i].prog_last_label_error) : "");
			json_obj_end(j);
		}
		json_obj_end(j);
	}
	json_arr_end(j);
}

void fwd_vloop_blocks_json(const struct fwd_vloop_view *v, struct json_out *j)
{
	const struct fwd_vloop_bstats b = v->blocks;

	json_obj_begin(j);
	json_key(j, "transactions"); json_uint(j, b.commits);
	json_key(j, "elements"); json_uint(j, b.elements);
	json_key(j, "extends"); json_uint(j, b.extends);
	json_key(j, "failures"); json_uint(j, b.failures);
	json_key(j, "failed_elements"); json_uint(j, b.failed_elements);
	json_key(j, "compiled"); json_uint(j, b.compiled);
	json_key(j, "lost"); json_uint(j, b.lost);
	json_key(j, "pending"); json_uint(j, b.pending);
	json_key(j, "held"); json_uint(j, b.held);
	json_obj_end(j);
}

/* One line for the guard's block transactions, queue or not: blocks made
 * before a reload that removed the queue step still hold. */
static void blocks_text(const struct fwd_vloop_view *v, struct fwd_response *resp)
{
	const struct fwd_vloop_bstats b = v->blocks;

	fwd_response_printf(resp, "guard blocks: %llu transactions, %llu elements "
			    "(%llu extensions), %llu failed (%llu elements), "
			    "%llu compiled, %llu lost, %llu pending, %llu held\n",
			    (unsigned long long)b.commits, (unsigned long long)b.elements,
			    (unsigned long long)b.extends, (unsigned long long)b.failures,
			    (unsigned long long)b.failed_elements,
			    (unsigned long long)b.compiled, (unsigned long long)b.lost,
			    (unsigned long long)b.pending, (unsigned long long)b.held);
}

void fwd_vloop_status_text(const struct fwd_vloop_view *v, struct fwd_response *resp)
{
	const struct fwd_vloop_qstats *st = v->queues;
	unsigned n = v->nqueues;

	if (!n) {
		fwd_response_printf(resp, "queue:      not in use (no rule hands "
				    "packets up)\n");
		blocks_text(v, resp);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct fwd_vloop_qstats *s = &st[i];

		fwd_response_printf(resp, "queue %-4u  %s: %llu queued, %llu verdicts "
				    "(%llu errors), %llu queue drops, %llu user drops\n",
				    s->num, s->bound ? "bound" : "NOT BOUND (dropping)",
				    (unsigned long long)s->queued,
				    (unsigned long long)s->verdicts,
				    (unsigned long long)s->verdict_errors,
				    (unsigned long long)s->queue_dropped,
				    (unsigned long long)s->user_dropped);
		if (s->prog) {
			fwd_response_printf(resp, "            program rules: %llu "
					    "accepted, %llu unknown owner, %llu not "
					    "allowed\n",
					    (unsigned long long)s->prog_accepted,
					    (unsigned long long)s->prog_unknown,
					    (unsigned long long)s->prog_denied);
			fwd_response_printf(resp, "            UDP flows labelled: %llu "
					    "(%llu failed%s%s)\n",
					    (unsigned long long)s->prog_labelled,
					    (unsigned long long)s->prog_label_errors,
					    s->prog_last_label_error ? ", last: " : "",
					    s->prog_last_label_error ?
					    strerror(s->prog_last_label_error) : "");
			continue;
		}
		fwd_response_printf(resp, "            default deny %llu, guard scan %llu, "
				    "guard flood %llu, blocked %llu; %llu blocks made, "
				    "%llu records suppressed\n",
				    (unsigned long long)s->by_reason[FWD_REASON_DENY],
				    (unsigned long long)s->by_reason[FWD_REASON_SCAN],
				    (unsigned long long)s->by_reason[FWD_REASON_FLOOD],
				    (unsigned long long)s->by_reason[FWD_REASON_BLOCKED],
				    (unsigned long long)s->blocks,
				    (unsigned long long)s->suppressed);
		fwd_response_printf(resp, "            enqueue to verdict p50 %lluus, p99 "
				    "%lluus (%llu packets)\n",
				    (unsigned long long)(s->lat_p50_ns / 1000),
				    (unsigned long long)(s->lat_p99_ns / 1000),
				    (unsigned long long)s->lat_samples);
	}
	blocks_text(v, resp);
}

/* The command table's row (it reads its own options: own_options). */
int cmd_log(struct cmdreq *cr)
{
	fwd_cmd_log(cr->ctx, cr->argc, cr->argv, cr->json, cr->resp);
	return 0;
}
