/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMD_LOG_H
#define FWD_CMD_LOG_H

#include <stdbool.h>

struct fwd_ctx;
struct fwd_response;

/*
 * `fwctl log [-n N] [--since TIME] [--json | --dshield]` (the words after
 * "log"; json: the request's --json flag). fwctl's -f sends --after SEQ
 * and gets "next SEQ MISSED" as the first line (cmd-log.c). 0 or -EINVAL
 * with a usage answer.
 */
int fwd_cmd_log(struct fwd_ctx *ctx, int argc, char **argv, bool json,
		struct fwd_response *resp);

#endif
