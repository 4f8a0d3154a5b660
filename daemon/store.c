// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The daemon's files for the commit path (store.h): the policy files
 * loaded, the owned edits file and the last good policy written, the
 * reload --confirm rollback point and deadline kept. Calls nothing of the
 * daemon above it (commit.c, runtime.c, fwd.c call it).
 */
#include "store.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ctx.h"
#include "edit.h"
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

void fwd_confirm_timer(struct fwd_ctx *ctx, time_t deadline)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = deadline;
	ctx->confirm_deadline = deadline;
	if (ctx->confirm_tfd >= 0)
		timerfd_settime(ctx->confirm_tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

void fwd_confirm_clear_files(struct fwd_ctx *ctx)
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
	fwd_confirm_clear_files(ctx);
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
