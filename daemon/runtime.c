// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's policy life cycle around the commit path (commit.c): load
 * the files, persist fwctl edits and the last good policy, the reload
 * --confirm safety net, tidying expired edits, the table guard.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "outbound.h"
#include "state.h"

const char *fwd_confd_dir(const struct fwd_ctx *ctx, char *buf, size_t len)
{
	char tmp[4096];

	if (ctx->policy && ctx->policy->confd_dir) {
		snprintf(buf, len, "%s", ctx->policy->confd_dir);
		return buf;
	}
	snprintf(tmp, sizeof(tmp), "%s", ctx->config);
	snprintf(buf, len, "%s/conf.d", dirname(tmp));
	return buf;
}

int fwd_load_files(struct fwd_ctx *ctx, bool at_start, struct fwd_policy **out,
		   struct fwd_diags *d)
{
	struct fwd_load_opts o = { .builtin_if_missing = at_start,
				   .list_cache = ctx->list_cache };
	int ret;

	*out = NULL;
	ret = fwd_policy_load(ctx->config, &o, out, d);
	if (ret)
		return ret;
	ctx->builtin = (*out)->builtin;
	{
		/* Not errors: the policy applies (outbound.h). */
		struct fwd_diags w;

		fwd_diags_init(&w);
		fwd_owner_warnings(*out, &w);
		fwd_log_diags(LOG_WARNING, &w);
		fwd_diags_free(&w);
	}
	/* The files do not hold `--runtime` edits: carry the running ones
	 * over, so that a reload (SIGHUP or fwctl) does not drop them. */
	for (size_t i = 0; ctx->policy && i < ctx->policy->nedits; i++) {
		char err[512];

		if (ctx->policy->edits[i].runtime &&
		    fwd_policy_add_edit(*out, &ctx->policy->edits[i], err, sizeof(err)) != 0)
			fwd_log(LOG_WARNING, "runtime edit dropped: %s", err);
	}
	return 0;
}

void fwd_save_last_good(struct fwd_ctx *ctx)
{
	int ret;

	if (!*ctx->state_dir || !ctx->ir)
		return;
	if (mkdir(ctx->state_dir, 0700) != 0 && errno != EEXIST) {
		fwd_log(LOG_WARNING, "cannot create state directory %s: %s",
			ctx->state_dir, strerror(errno));
		return;
	}
	ret = fwd_state_save_ir(ctx->state_dir, ctx->ir);
	if (ret)
		fwd_log(LOG_WARNING, "cannot save the last good policy in %s: %s",
			ctx->state_dir, strerror(-ret));
	ctx->save_pending = false;
}

void fwd_save_last_good_later(struct fwd_ctx *ctx)
{
	if (ctx->save_pending || !*ctx->state_dir)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ctx->save_due);
	ctx->save_due.tv_sec += FWD_SAVE_DELAY_MS / 1000;
	ctx->save_due.tv_nsec += (FWD_SAVE_DELAY_MS % 1000) * 1000000L;
	if (ctx->save_due.tv_nsec >= 1000000000L) {
		ctx->save_due.tv_sec++;
		ctx->save_due.tv_nsec -= 1000000000L;
	}
	ctx->save_pending = true;
}

int fwd_save_timeout_ms(const struct fwd_ctx *ctx)
{
	struct timespec now;
	long long ms;

	if (!ctx->save_pending)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(ctx->save_due.tv_sec - now.tv_sec) * 1000 +
	     (ctx->save_due.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > FWD_SAVE_DELAY_MS ? FWD_SAVE_DELAY_MS : (int)ms;
}

void fwd_save_if_due(struct fwd_ctx *ctx, bool force)
{
	if (ctx->save_pending && (force || fwd_save_timeout_ms(ctx) == 0))
		fwd_save_last_good(ctx);
}

int fwd_persist_edits(struct fwd_ctx *ctx, const struct fwd_policy *p)
{
	char dir[4096];
	char *text;
	int ret;

	fwd_confd_dir(ctx, dir, sizeof(dir));
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	text = fwd_edits_render_file(p, (uint64_t)time(NULL));
	if (!text)
		return -ENOMEM;
	ret = fwd_write_atomic(dir, FWD_EDITS_FILE, text, strlen(text), 0644);
	free(text);
	return ret;
}

/* ---- reload --confirm ------------------------------------------------ */

static int write_deadline(const char *dir, time_t deadline)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%lld\n", (long long)deadline);

	return fwd_write_atomic(dir, FWD_STATE_DEADLINE, buf, (size_t)n, 0600);
}

/* deadline_ns: the exact moment (CLOCK_REALTIME); ctx keeps whole seconds,
 * rounded up, for messages and the file. */
static void arm_timer_ns(struct fwd_ctx *ctx, const struct timespec *at)
{
	struct itimerspec its = { 0 };

	its.it_value = *at;
	ctx->confirm_deadline = at->tv_sec + (at->tv_nsec ? 1 : 0);
	if (ctx->confirm_tfd >= 0)
		timerfd_settime(ctx->confirm_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void arm_timer(struct fwd_ctx *ctx, time_t deadline)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = deadline;
	ctx->confirm_deadline = deadline;
	if (ctx->confirm_tfd >= 0)
		timerfd_settime(ctx->confirm_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void clear_confirm_files(struct fwd_ctx *ctx)
{
	char path[4096];

	if (!*ctx->state_dir)
		return;
	snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, FWD_STATE_DEADLINE);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", ctx->state_dir, FWD_STATE_ROLLBACK);
	unlink(path);
}

int fwd_confirm_arm(struct fwd_ctx *ctx, const struct fwd_ir *rollback, long seconds)
{
	struct timespec at;
	time_t deadline;
	int ret;

	/* Exactly SECONDS from now, not from the start of this second. */
	clock_gettime(CLOCK_REALTIME, &at);
	at.tv_sec += seconds;
	deadline = at.tv_sec + (at.tv_nsec ? 1 : 0);

	if (!*ctx->state_dir)
		return -ENOTDIR;
	if (mkdir(ctx->state_dir, 0700) != 0 && errno != EEXIST)
		return -errno;
	/* A second reload --confirm keeps the first rollback point: the
	 * way back is to what was confirmed last, not to the unconfirmed. */
	if (!ctx->confirm_deadline) {
		ret = fwd_state_save_ir_as(ctx->state_dir, FWD_STATE_ROLLBACK, rollback);
		if (ret)
			return ret;
		/* Ownership: the running model/IR become the rollback point;
		 * ctx gets the new ones from the commit path. */
		ctx->confirm_policy = ctx->policy;
		ctx->confirm_ir = ctx->ir;
		ctx->policy = NULL;
		ctx->ir = NULL;
	}
	ret = write_deadline(ctx->state_dir, deadline);
	if (ret)
		return ret;
	arm_timer_ns(ctx, &at);
	return 0;
}

void fwd_confirm_disarm(struct fwd_ctx *ctx)
{
	struct itimerspec its = { 0 };

	if (ctx->confirm_tfd >= 0)
		timerfd_settime(ctx->confirm_tfd, 0, &its, NULL);
	ctx->confirm_deadline = 0;
	clear_confirm_files(ctx);
	if (ctx->confirm_policy || ctx->confirm_ir) {
		/* fwd_confirm_arm moved the running pair aside; if the commit
		 * that followed failed, ctx has none: put it back. */
		if (!ctx->policy) {
			ctx->policy = ctx->confirm_policy;
			ctx->confirm_policy = NULL;
		}
		if (!ctx->ir) {
			ctx->ir = ctx->confirm_ir;
			ctx->confirm_ir = NULL;
		}
	}
	fwd_policy_free(ctx->confirm_policy);
	fwd_ir_free(ctx->confirm_ir);
	ctx->confirm_policy = NULL;
	ctx->confirm_ir = NULL;
}

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
	clear_confirm_files(ctx);
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
			clear_confirm_files(ctx);
		return;
	}
	ret = fwd_state_load_ir_why(ctx->state_dir, FWD_STATE_ROLLBACK, &ir, why, sizeof(why));
	if (ret) {
		fwd_log(LOG_ERR, "a reload --confirm was pending but its rollback "
			"point is unusable (%s); keeping the current rules", why);
		if (ret != -EPERM)
			clear_confirm_files(ctx);
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
		clear_confirm_files(ctx);
		return;
	}
	fwd_log(LOG_WARNING, "a reload --confirm is pending: reverting in %llds "
		"unless `fwctl confirm`", deadline - now);
	ctx->confirm_ir = ir;
	ctx->confirm_policy = NULL;	/* the model is gone with the old process */
	arm_timer(ctx, (time_t)deadline);
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
