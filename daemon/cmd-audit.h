/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMD_AUDIT_H
#define FWD_CMD_AUDIT_H

#include <stdbool.h>

#include "control.h"
#include "proto.h"

struct fwd_ctx;

/*
 * `fwctl audit [--save-baseline|--diff] [--json]`: every listener of the
 * namespace with its owner and what the running rules make of it
 * (policy/audit.h). argv holds the words after "audit", options included
 * (this command reads its own). The read role sees sockets, users and
 * verdicts (what /proc/net/tcp shows anyone) but not the owning process
 * (pid, command, exe, unit: those need admin, as `ss -p` needs root);
 * --save-baseline writes the state dir and needs admin.
 * Exit status: 0; 1 when --diff finds a listener newly exposed; 2 when
 * there is nothing to compare with (no or damaged baseline, no state dir).
 */
void fwd_cmd_audit(struct fwd_ctx *ctx, const struct fwd_ctl_peer *peer,
		   int argc, char **argv, bool json, struct fwd_response *resp);

/* The baseline's name in the state dir. */
#define FWD_AUDIT_BASELINE "audit-baseline"

/*
 * [audit] interval: fwd_audit_arm (after every event, cheap) starts,
 * changes or stops the timer as the running policy says; fwd_audit_tick
 * runs when it fires: audit, compare with the last run (the first run
 * with the baseline, if there is one) and log every listener newly
 * exposed as a structured record.
 */
void fwd_audit_arm(struct fwd_ctx *ctx);
void fwd_audit_tick(struct fwd_ctx *ctx);
/* The run is done by a forked child (worker.h) off the event loop: the
 * pidfd to watch while one runs (-1 otherwise), and what the loop calls
 * when it is readable. */
int fwd_audit_worker_fd(const struct fwd_ctx *ctx);
void fwd_audit_done(struct fwd_ctx *ctx);
void fwd_audit_stop(struct fwd_ctx *ctx);	/* at exit: frees what it kept */

#endif
