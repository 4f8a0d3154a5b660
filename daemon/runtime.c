// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's timed and external events that change the rules, each
 * through the commit path (runtime.h): the reload --confirm safety net
 * (revert, resume at start), tidying expired edits, the table guard. The
 * files they touch are store.c's.
 */
#include "runtime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "ctx.h"
#include "edit.h"
#include "log.h"
#include "state.h"
#include "store.h"

/* Put the rollback IR in place, with its model when fwd still has it. */
#define REVERTED_OPEN "reverted: the last reload was not confirmed, and the rules " \
		      "it reverted to ACCEPT ALL INBOUND TRAFFIC (fwctl reload " \
		      "applies the files again)"

static int revert_to(struct fwd_ctx *ctx, struct fwd_policy *p, struct fwd_ir *ir,
		     const char *degraded)
{
	struct fwd_change ch = { .src = FWD_SRC_REVERT, .policy = p, .ir = ir,
				 .degraded = degraded ? degraded :
					     "reverted: the last reload was not confirmed "
					     "(fwctl reload applies the files again)" };
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret) {
		fwd_log(LOG_CRIT, "reverting an unconfirmed reload failed: %s",
			strerror(-ret));
		fwd_log_diags(LOG_CRIT, &d);
	} else if (ctx->model_unknown) {
		fwd_log(LOG_WARNING, "reverted without the rollback point's policy "
			"(armed before fwd restarted): edits are refused until "
			"`fwctl reload` or SIGHUP applies the files");
	}
	fwd_diags_free(&d);
	return ret;
}

void fwd_confirm_expired(struct fwd_ctx *ctx)
{
	struct fwd_policy *p = ctx->confirm_policy;
	struct fwd_ir *ir = ctx->confirm_ir;

	if (!ctx->confirm_deadline)
		return;
	fwd_log(LOG_WARNING, "reload not confirmed in time: reverting to the "
		"previous rules");
	ctx->confirm_policy = NULL;
	ctx->confirm_ir = NULL;
	/* A rollback point read back after a restart has no model: say it
	 * loudly if it opens what the running policy keeps closed. */
	if (!ir || revert_to(ctx, p, ir, !p && fwd_state_ir_input_open(ir) &&
			     !(ctx->policy && ctx->policy->inbound == FWD_ALLOW) ?
			     REVERTED_OPEN : NULL) != 0) {
		if (p != ctx->policy)
			fwd_policy_free(p);
		fwd_ir_free(ir);
	}
	ctx->confirm_deadline = 0;
	fwd_confirm_clear_files(ctx);
}

/*
 * The files are fwd's own (state.h: trusted only in a 0700 directory of
 * fwd's uid, regular files, never through a symlink or a FIFO). A deadline
 * that is not a time is not "expired": the rollback point is ignored (and
 * removed) rather than applied, since applying it is the one thing that
 * could open the host.
 */
void fwd_confirm_resume(struct fwd_ctx *ctx)
{
	struct fwd_ir *ir = NULL;
	long long deadline = 0, now = (long long)time(NULL);
	char why[512];
	bool opens_all;
	int ret;

	if (!*ctx->state_dir)
		return;
	ret = fwd_state_load_deadline(ctx->state_dir, now, &deadline, why, sizeof(why));
	if (ret == -ENOENT)
		return;
	if (ret) {
		fwd_log(LOG_CRIT, "ignoring a pending reload --confirm: %s; the running "
			"rules stay and the rollback point is not applied", why);
		if (ret != -EPERM)
			fwd_confirm_clear_files(ctx);
		return;
	}
	ret = fwd_state_load_ir_why(ctx->state_dir, FWD_STATE_ROLLBACK, &ir, why, sizeof(why));
	if (ret) {
		fwd_log(LOG_ERR, "a reload --confirm was pending but its rollback "
			"point is unusable (%s); keeping the current rules", why);
		if (ret != -EPERM)
			fwd_confirm_clear_files(ctx);
		return;
	}
	opens_all = fwd_state_ir_input_open(ir);
	if (opens_all && !(ctx->policy && ctx->policy->inbound == FWD_ALLOW))
		fwd_log(LOG_CRIT, "the rollback point of the pending reload --confirm "
			"ACCEPTS ALL INBOUND TRAFFIC, the running policy does not");
	if (deadline <= now) {
		fwd_log(LOG_WARNING, "a reload --confirm expired while fwd was down: "
			"reverting to the previous rules");
		if (revert_to(ctx, NULL, ir, opens_all ? REVERTED_OPEN : NULL) != 0)
			fwd_ir_free(ir);
		fwd_confirm_clear_files(ctx);
		return;
	}
	fwd_log(LOG_WARNING, "a reload --confirm is pending: reverting in %llds "
		"unless `fwctl confirm`", deadline - now);
	ctx->confirm_ir = ir;
	ctx->confirm_policy = NULL;	/* the model is gone with the old process */
	fwd_confirm_timer(ctx, (time_t)deadline);
}

/* ---- tidying timed edits ------------------------------------------------ */

/*
 * The kernel expires timed elements by itself (element timeouts); this
 * only keeps fwd's own model honest: expired edits leave the model and the
 * edits file, and a timed list-del that ends (a member coming back, which
 * no timeout can do) gets its recompile.
 */
void fwd_tidy_arm(struct fwd_ctx *ctx)
{
	struct itimerspec its = { 0 };
	uint64_t now = (uint64_t)time(NULL), at = 0;

	if (ctx->tidy_tfd < 0 || !ctx->policy)
		return;
	at = fwd_ir_next_expiry(ctx->policy, now);
	if (ctx->ir && ctx->ir->recompile_at && (!at || ctx->ir->recompile_at < at))
		at = ctx->ir->recompile_at;
	its.it_value.tv_sec = (time_t)at;	/* 0 disarms */
	timerfd_settime(ctx->tidy_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void fwd_tidy(struct fwd_ctx *ctx)
{
	struct fwd_policy *p = ctx->policy;
	uint64_t now = (uint64_t)time(NULL);
	bool persistent_gone = false, recompile;
	struct fwd_diags d;

	if (!p)
		return;
	for (size_t i = 0; i < p->nedits;) {
		if (p->edits[i].expires && p->edits[i].expires <= now) {
			persistent_gone |= !p->edits[i].runtime;
			fwd_policy_del_edit(p, i);
			continue;
		}
		i++;
	}
	/* Without the running rules' model there is nothing to recompile
	 * from; the kernel's own element timeouts still apply. */
	recompile = ctx->ir && ctx->ir->recompile_at && ctx->ir->recompile_at <= now &&
		    !ctx->model_unknown;
	if (recompile) {
		struct fwd_change ch = { .src = FWD_SRC_TIDY, .policy = p };

		fwd_diags_init(&d);
		if (fwd_change_commit(ctx, &ch, &d) != 0) {
			fwd_log(LOG_ERR, "%s: recompiling after an expiry failed", __func__);
			fwd_log_diags(LOG_ERR, &d);
		}
		fwd_diags_free(&d);
	}
	if (persistent_gone) {
		int ret = fwd_persist_edits(ctx, p);

		if (ret)
			fwd_log(LOG_WARNING, "%s: rewriting the edits file: %s", __func__,
				strerror(-ret));
	}
}

/* ---- the table guard ----------------------------------------------------- */

/*
 * Someone else changed or removed fwd's table (possible where the kernel
 * has no owner flag, or with --no-owner): say who, then put the running
 * IR back in one transaction. Our own commits never show up here (the
 * monitor drops events from our socket).
 */
void fwd_guard_events(struct fwd_ctx *ctx)
{
	struct fwd_change ch = { .src = FWD_SRC_RESTORE };
	struct fwd_monitor_event ev[32];
	bool changed = false;
	struct fwd_diags d;
	size_t n;
	int ret;

	do {
		n = 0;
		ret = fwd_monitor_read(ctx->mon, ev, sizeof(ev) / sizeof(ev[0]), &n);
		for (size_t i = 0; i < n; i++) {
			char line[256];

			fwd_monitor_event_format(&ev[i], line, sizeof(line));
			fwd_log(LOG_WARNING, "table guard: %s", line);
			changed = true;
		}
	} while (ret == 0 && n == sizeof(ev) / sizeof(ev[0]));
	if (ret)
		fwd_log(LOG_ERR, "table guard: reading events: %s", strerror(-ret));
	if (!changed || ctx->disabled || !ctx->ir)
		return;
	fwd_diags_init(&d);
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret == 0) {
		fwd_log(LOG_WARNING, "table guard: table inet %s restored "
			"(generation %u)", FWD_TABLE_NAME, ctx->generation);
	} else {
		fwd_log(LOG_CRIT, "table guard: restoring table inet %s failed: %s",
			FWD_TABLE_NAME, strerror(-ret));
		fwd_log_diags(LOG_CRIT, &d);
	}
	fwd_diags_free(&d);
}
