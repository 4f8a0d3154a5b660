/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_METRICS_H
#define FWD_METRICS_H

/*
 * fwd's numbers for Prometheus: what `fwctl stats` gathers -> the text
 * exposition format (version 0.0.4), printed by `fwctl stats --prometheus`
 * and written by fwd itself to [metrics] textfile every interval for
 * node_exporter's textfile collector (fwd runs no HTTP server).
 *
 * One gather (cmd-stats.c, fwd_stats_gather), two renderings: the text and
 * JSON of `fwctl stats`, and fwd_metrics_render here. The renderer is a
 * table of metric families (metrics.c): a new number in the view is one
 * row there. Names and labels follow Prometheus' conventions: fwd_ prefix,
 * base units (seconds, bytes), _total on counters, HELP and TYPE for every
 * family, label values escaped (backslash, double quote, newline).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "attrib.h"
#include "cmd-log.h"
#include "control.h"
#include "kmod.h"
#include "vloop.h"

struct fwd_ctx;

/*
 * What the rules did with packets, per direction: accepted by the
 * allowlists (the allow and open sets' rules), dropped by the default
 * (the chain's final drop or reject rules, `inbound = deny|reject`),
 * refused by `fwctl deny` (the deny sets' reject rules), dropped by the
 * blocklist (block4/block6 rules).
 */
enum fwd_stats_fate {
	FWD_FATE_ACCEPT, FWD_FATE_DEFAULT, FWD_FATE_DENY, FWD_FATE_BLOCK, FWD_FATE_COUNT
};
/* The fates' names in JSON and as Prometheus labels. */
extern const char *const fwd_stats_fate_json[FWD_FATE_COUNT];

struct fwd_stats_dir {
	struct fwd_ir_count fate[FWD_FATE_COUNT];
};

/* Everything `fwctl stats` reports (and the metrics add), gathered before
 * anything is rendered. */
struct fwd_stats_view {
	struct fwd_live_table *live;	/* the rules' and sets' counters */
	struct fwd_stats_dir dir[2];	/* in, out: what the rules did */
	bool fates;			/* dir[] is known (a running IR) */
	struct fwd_ctl_stats cs;
	struct fwd_own_map om;		/* sums per owner; empty without them */
	bool counters;			/* element counters on (or no policy yet) */
	bool counters_off;		/* a policy that says counters = no */
	uint64_t edits_applied;
	uint64_t generation;
	uint64_t degraded;		/* 1: the rules are not the files' */
	uint64_t restores;		/* the table guard put the table back */
	uint64_t apply_ns;		/* the last commit's kernel transaction */
	struct fwd_vloop_view loop;	/* the verdict loop's queues and blocks */
};

/* cmd-stats.c: read the live table back and fill v. 0 or -errno; free
 * with fwd_stats_free either way. */
int fwd_stats_gather(struct fwd_ctx *ctx, struct fwd_stats_view *v);
void fwd_stats_free(struct fwd_stats_view *v);

/* The exposition text of v. */
void fwd_metrics_render(const struct fwd_stats_view *v, FILE *f);
/* One label value, escaped as the format wants (\\, \", \n). */
void fwd_metrics_label_value(FILE *f, const char *s);

/*
 * [metrics] textfile (daemon only). fwd_metrics_arm, after every event of
 * the loop (cheap), starts, changes or stops the timer as the running
 * policy says; the first write follows a second after the start. Each
 * write runs in a forked child (worker.h), so the event loop never waits
 * for the table's read-back or the disk: the child gathers, renders and
 * writes the file atomically (a dot-named temp file in the same directory,
 * O_EXCL | O_NOFOLLOW, fsync, rename, fsync of the directory) and fwd
 * reaps it when its pidfd says so. A write that fails (a missing or
 * untrusted directory, a full disk) is logged once, retried every
 * interval, and shown by `fwctl status` until one works again; a child
 * still running at the next tick is let finish, one still running at the
 * tick after is killed and counted as a failure.
 * The directory is trusted as conf.d is: opened O_DIRECTORY | O_NOFOLLOW,
 * and it must be owned by root or fwd's user and not writable by others.
 *
 * fwd_metrics_init adds the timer to the loop's epoll set; fwd_metrics_event
 * takes the loop's events for fds it owns (true: it was one of them).
 */
int fwd_metrics_init(struct fwd_ctx *ctx, int epoll_fd);
void fwd_metrics_arm(struct fwd_ctx *ctx);
bool fwd_metrics_event(struct fwd_ctx *ctx, int fd);
void fwd_metrics_free(struct fwd_ctx *ctx);	/* kills and reaps a child */

/* `fwctl status`: how the textfile writer is doing, gathered first (the
 * strings lent from ctx->metrics for the request), then the metrics line /
 * member (nothing, null, without [metrics]). */
struct fwd_metrics_state {
	uint32_t interval;		/* seconds; 0: no [metrics] */
	const char *path;
	bool failing;
	const char *why;		/* when failing */
	unsigned long long writes, failures;
	time_t last_ok;			/* 0: never */
};
struct fwd_response;
struct json_out;
void fwd_metrics_state_gather(const struct fwd_ctx *ctx, struct fwd_metrics_state *s);
void fwd_metrics_status_text(const struct fwd_metrics_state *s, struct fwd_response *resp);
void fwd_metrics_status_json(const struct fwd_metrics_state *s, struct json_out *j);

#endif
