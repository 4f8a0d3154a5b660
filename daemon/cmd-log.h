/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMD_LOG_H
#define FWD_CMD_LOG_H

#include <stdbool.h>

#include "vloop.h"

struct fwd_ctx;
struct fwd_response;
struct json_out;

/*
 * `fwctl log [-n N] [--since TIME] [--json | --dshield]` (the words after
 * "log"; json: the request's --json flag). fwctl's -f sends --after SEQ
 * and gets "next SEQ MISSED" as the first line (cmd-log.c). 0 or -EINVAL
 * with a usage answer.
 */
int fwd_cmd_log(struct fwd_ctx *ctx, int argc, char **argv, bool json,
		struct fwd_response *resp);

/*
 * The verdict loop's part of `fwctl status` and `fwctl stats`, gathered
 * first (under the loop's locks, vloop.c), then rendered: the renderers
 * are pure functions of the view.
 */
#define FWD_VLOOP_VIEW_QUEUES 17u	/* [guard] queues (16) and the program queue */
struct fwd_vloop_view {
	unsigned nqueues;		/* 0: no queue in use */
	struct fwd_vloop_qstats queues[FWD_VLOOP_VIEW_QUEUES];
	struct fwd_vloop_bstats blocks;	/* the guard's block transactions */
};
void fwd_vloop_view_gather(struct fwd_ctx *ctx, struct fwd_vloop_view *v);
/* status/stats lines ("queue N ...", "guard blocks: ..."). */
void fwd_vloop_status_text(const struct fwd_vloop_view *v, struct fwd_response *resp);
/* The queues as a JSON array (null: none). */
void fwd_vloop_status_json(const struct fwd_vloop_view *v, struct json_out *j);
/* The block counters as one JSON object. */
void fwd_vloop_blocks_json(const struct fwd_vloop_view *v, struct json_out *j);

#endif
