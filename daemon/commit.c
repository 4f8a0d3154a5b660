// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A change -> the kernel and ctx, by one pipeline (commit.h): load,
 * empty-policy check, fast patch or compile, SSH guard, confirm arm, delta
 * or replace, bookkeeping, persist, policy-changed hook.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cgwatch.h"
#include "commit.h"
#include "ctx.h"
#include "edit.h"
#include "log.h"
#include "store.h"

/* The program queues: one per CPU the machine has (ir.h,
 * FWD_PROG_QUEUES_MAX at most), by the CPU that queues. */
static uint16_t prog_queues(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	if (n < 1)
		return 1;
	return n > (long)FWD_PROG_QUEUES_MAX ? FWD_PROG_QUEUES_MAX : (uint16_t)n;
}

/* ---- the lockout guard ------------------------------------------------ */

/*
 * SSH_CONNECTION is "CLIENT_IP CLIENT_PORT SERVER_IP SERVER_PORT". A change
 * is refused when the running rules accept a new connection from the
 * client to the server port and the new ones would not: the session would
 * survive on conntrack only until it drops, and a block ends it at once.
 */
struct session {
	bool known;			/* SSH_CONNECTION given and parsed */
	int family;
	uint8_t addr[16];
	unsigned sport;
	char cip[64];
};

static void session_parse(const char *ssh, struct session *ss)
{
	char sip[64];
	unsigned cport;

	memset(ss, 0, sizeof(*ss));
	if (!ssh || sscanf(ssh, "%63s %u %63s %u", ss->cip, &cport, sip, &ss->sport) != 4 ||
	    ss->sport == 0 || ss->sport > 65535)
		return;
	if (inet_pton(AF_INET, ss->cip, ss->addr) == 1)
		ss->family = AF_INET;
	else if (inet_pton(AF_INET6, ss->cip, ss->addr) == 1)
		ss->family = AF_INET6;
	else
		return;
	ss->known = true;
}

static bool session_accepted(const struct session *ss, const struct fwd_ir *ir)
{
	struct fwd_explain ex;

	if (!ss->known || !ir)
		return false;
	if (fwd_ir_explain(ir, FWD_CHAIN_INPUT, ss->family, ss->addr, 6,
			   (uint16_t)ss->sport, &ex) != 0)
		return false;
	/* A block drops the session itself; any non-accept stops it from
	 * reconnecting. */
	return ex.verdict == FWD_V_ACCEPT;
}

/* ---- stages ------------------------------------------------------------ */

bool fwd_policy_has_inbound(const struct fwd_policy *p)
{
	if (!p)
		return false;
	if (p->inbound == FWD_ALLOW)
		return true;
	for (size_t i = 0; i < p->nservices; i++)
		if (p->services[i].dir == FWD_DIR_IN && p->services[i].nallow > 0)
			return true;
	return false;
}

/*
 * An empty or comments-only main file (a truncated one, usually) compiles
 * to "no services": SSH goes too. A running policy that had a way in does
 * not lose it to a re-read unless the operator forces it.
 */
static int check_empty(struct fwd_ctx *ctx, struct fwd_change *ch,
		       const struct fwd_policy *p)
{
	const char *file = p->nfiles ? p->files[0] : ctx->config;

	if (fwd_policy_has_inbound(p))
		return 0;
	if (ch->src == FWD_SRC_START) {
		fwd_log(LOG_WARNING, "%s has no inbound services: no new inbound "
			"connection is accepted, SSH included", file);
		return 0;
	}
	if (ch->force || !fwd_policy_has_inbound(ctx->policy))
		return 0;
	snprintf(ch->why, sizeof(ch->why), "%s has no inbound services (empty or "
		 "comments only: a truncated file?); applying it would refuse every "
		 "new inbound connection, SSH included. The running rules stay; "
		 "%s", file, ch->src == FWD_SRC_SIGHUP ?
		 "fix the file and send SIGHUP again, or apply it with "
		 "`fwctl reload --force`" : "`fwctl reload --force` applies it anyway");
	ch->stage = FWD_STAGE_EMPTY;
	return -ECANCELED;
}

/* The running IR patched in place, and how to take that back. */
struct patch {
	bool on;
	bool reload;			/* r (fast reload), else delta (fast add) */
	struct fwd_ir_reload r;
	struct fwd_ir_delta delta;
};

static const struct fwd_ir_delta *patch_delta(const struct patch *pt)
{
	return pt->reload ? &pt->r.delta : &pt->delta;
}

static void patch_undo(struct fwd_ctx *ctx, struct patch *pt)
{
	if (!pt->on)
		return;
	if (pt->reload)
		fwd_ir_reload_undo(ctx->ir, &pt->r);
	else
		fwd_ir_delta_undo(ctx->ir, &pt->delta);
}

static void patch_free(struct patch *pt)
{
	fwd_ir_reload_free(&pt->r);
	fwd_ir_delta_free(&pt->delta);
}

/*
 * The fast paths (policy/live.c): patch the running IR in place when the
 * compiler is not needed. Neither applies while the running IR is not
 * known to come from ctx->policy (degraded, disabled, model unknown) or
 * when a confirm moves the running pair aside.
 */
static bool try_fast(struct fwd_ctx *ctx, struct fwd_change *ch,
		     struct fwd_policy *p, struct patch *pt)
{
	uint64_t now = (uint64_t)time(NULL);

	if (!ctx->ir || !ctx->policy || ctx->disabled || ctx->model_unknown)
		return false;
	if (ch->src == FWD_SRC_RELOAD) {
		if (ch->confirm > 0 || ctx->degraded ||
		    fwd_ir_fast_reload(ctx->ir, ctx->policy, p, now, &pt->r) != 0)
			return false;
		pt->reload = true;
	} else if (ch->src == FWD_SRC_EDIT || ch->src == FWD_SRC_BLOCKS) {
		if (!ch->additions || p->nedits <= ch->first_new ||
		    fwd_ir_fast_add(ctx->ir, p, p->edits + ch->first_new,
				    p->nedits - ch->first_new, now, &pt->delta) != 0)
			return false;
	} else {
		return false;
	}
	pt->on = true;
	return true;
}

/* Sources whose target is the running IR again (nothing to build). */
static bool src_reapplies(enum fwd_change_src src)
{
	return src == FWD_SRC_ENABLE || src == FWD_SRC_RESTORE;
}

/* Sources that always replace the whole table: a replace also repairs
 * anything changed behind fwd's back, and at start there is no delta. */
static bool src_replaces(enum fwd_change_src src)
{
	return src == FWD_SRC_START || src == FWD_SRC_FALLBACK ||
	       src == FWD_SRC_SIGHUP || src_reapplies(src);
}

/* Sources that read the files: their success makes the rules the files'. */
static bool src_files(enum fwd_change_src src)
{
	return src == FWD_SRC_START || src == FWD_SRC_SIGHUP || src == FWD_SRC_RELOAD;
}

/*
 * Send the change: the fast patch's delta, else an element delta when the
 * shape is unchanged, else a full atomic replace.
 */
static int commit_send(struct fwd_ctx *ctx, struct fwd_change *ch, const struct fwd_ir *ir,
		       const struct patch *pt, struct fwd_diags *d)
{
	struct fwd_apply_opts ao = { .no_flags = ctx->no_owner,
				     .no_owner = ctx->oneshot && !ctx->feat.table_persist };
	struct fwd_ir_delta delta;
	int ret = 0;

	if (pt->on) {
		const struct fwd_ir_delta *dl = patch_delta(pt);

		ch->nadd = dl->nadd;
		ch->ndel = dl->ndel;
		return dl->nadd + dl->ndel == 0 ? 0 :
		       fwd_apply_delta(ctx->nl, ir, dl, &ctx->feat, d);
	}
	ch->full = true;
	if (!src_replaces(ch->src) && ctx->ir && !ctx->disabled &&
	    fwd_ir_diff(ctx->ir, ir, &delta) == 0) {
		if (!delta.shape_changed) {
			ch->full = false;
			ch->nadd = delta.nadd;
			ch->ndel = delta.ndel;
			ret = delta.nadd + delta.ndel == 0 ? 0 :
			      fwd_apply_delta(ctx->nl, ir, &delta, &ctx->feat, d);
		}
		fwd_ir_delta_free(&delta);
	}
	if (ch->full)
		ret = fwd_apply(ctx->nl, ir, &ctx->feat, &ao, d);
	return ret;
}

/*
 * What fwd must do whenever the running policy changed. The control
 * socket's roles ([control] admin_group / read_group) follow the policy:
 * this is their one place. Only a new model (files read again, a fallback,
 * a revert) can change [control]; an edit changes the model in place and
 * leaves the groups alone, so it costs no group look-ups.
 */
static void policy_changed(struct fwd_ctx *ctx, bool new_model)
{
	if (new_model && ctx->ctl && ctx->policy)
		fwd_ctl_server_set_groups(ctx->ctl, ctx->policy->admin_group,
					  ctx->policy->read_group);
}

/* ctx takes the change: the invariant of ctx.h, kept in one place. */
static void bookkeep(struct fwd_ctx *ctx, struct fwd_change *ch, struct fwd_policy *p,
		     struct fwd_ir *ir)
{
	bool new_model = p && p != ctx->policy;
	bool model_changed = p != ctx->policy || ch->src == FWD_SRC_EDIT ||
			     ch->src == FWD_SRC_TIDY || ch->src == FWD_SRC_BLOCKS ||
			     ch->src == FWD_SRC_UNITS;

	if (p && p != ctx->policy) {
		fwd_policy_free(ctx->policy);
		ctx->policy = p;
	}
	if (ir != ctx->ir) {
		fwd_ir_free(ctx->ir);
		ctx->ir = ir;
	}
	/* The guard's restore puts back the same generation's rules. */
	if (ch->src != FWD_SRC_RESTORE)
		ctx->generation++;
	else
		ctx->restores++;
	ctx->applied = time(NULL);
	ctx->disabled = false;
	if (src_files(ch->src)) {
		ctx->degraded = NULL;
		free(ctx->degraded_errors);
		ctx->degraded_errors = NULL;
		ctx->model_unknown = NULL;
	} else if (ch->degraded) {
		ctx->degraded = ch->degraded;
	}
	/* A revert without the rollback point's model (it went with the
	 * process that armed the confirm): the running model is not what
	 * the kernel holds, so edits wait for the files (commit.h). */
	if (ch->src == FWD_SRC_REVERT && !p)
		ctx->model_unknown = "the running rules are a reverted reload's rollback "
				     "point, whose policy fwd does not have (the confirm "
				     "was armed before fwd restarted)";
	if (ch->src == FWD_SRC_FALLBACK)
		ctx->model_unknown = ch->model_unknown;
	if (ch->src == FWD_SRC_EDIT)
		ctx->edits_applied++;
	if (ch->fast && ch->src == FWD_SRC_RELOAD)
		ctx->fast_reloads++;
	if (model_changed)
		policy_changed(ctx, new_model);
	/* The verdict loop serves the queue step the kernel now holds, and
	 * its guard follows a new model's [guard] (ctx.h: follow). */
	if (ctx->follow)
		ctx->follow(ctx, new_model);
}

/* The edits file and the last good policy: a full replace saves now, a
 * delta (often one element) a moment later, from the event loop. The
 * fallback's IR is the last good one already, or a lockdown that must
 * not take its place; a re-apply of the running IR changes nothing. */
static void persist(struct fwd_ctx *ctx, struct fwd_change *ch)
{
	if (ch->persist) {
		ch->persist_err = fwd_persist_edits(ctx, ctx->policy);
		if (ch->persist_err)
			fwd_log(LOG_ERR, "%s: persisting edits failed: %s", __func__,
				strerror(-ch->persist_err));
	}
	if (ch->src == FWD_SRC_FALLBACK || src_reapplies(ch->src))
		return;
	if (ch->full)
		fwd_save_last_good(ctx);
	else
		fwd_save_last_good_later(ctx);
}

/* ---- the pipeline ------------------------------------------------------ */

int fwd_change_commit(struct fwd_ctx *ctx, struct fwd_change *ch, struct fwd_diags *d)
{
	struct fwd_policy *p = ch->policy, *loaded = NULL;
	struct fwd_ir *ir = NULL, *compiled = NULL;
	struct patch pt = { 0 };
	struct session ss;
	struct timespec t0, t1;
	bool before = false, armed = false;
	int ret = 0;

	ch->stage = FWD_STAGE_NONE;
	ch->why[0] = '\0';
	ch->fast = ch->full = false;
	ch->nadd = ch->ndel = 0;
	ch->persist_err = 0;
	ch->out = NULL;
	if (ctx->model_unknown && (ch->src == FWD_SRC_EDIT || ch->src == FWD_SRC_TIDY ||
				   ch->src == FWD_SRC_UNITS)) {
		snprintf(ch->why, sizeof(ch->why), "%s; `fwctl reload` applies the "
			 "files first", ctx->model_unknown);
		ch->stage = FWD_STAGE_STATE;
		return -ESTALE;
	}

	/* 1. load */
	if (src_files(ch->src) && !p) {
		ret = fwd_load_files(ctx, ch->src == FWD_SRC_START, &loaded, d);
		if (ret) {
			ch->stage = FWD_STAGE_LOAD;
			goto fail;
		}
		p = loaded;
	}
	/* 2. a way in left? */
	if (src_files(ch->src)) {
		ret = check_empty(ctx, ch, p);
		if (ret)
			goto fail;
	}

	/* 3. the target IR: given, the running one, a fast patch, compiled */
	session_parse(ch->ssh, &ss);
	before = !ch->force && session_accepted(&ss, ctx->ir);
	if (ch->ir) {
		ir = ch->ir;
	} else if (src_reapplies(ch->src)) {
		ir = ctx->ir;
	} else if (!ch->dry_run && try_fast(ctx, ch, p, &pt)) {
		ch->fast = true;
		ir = ctx->ir;
	} else if (ch->fast_only) {
		ret = -EAGAIN;
		ch->stage = FWD_STAGE_COMPILE;
		goto fail;
	} else {
		/* The compiler is pure: the probe's answer comes in here,
		 * so a [guard] queue step uses nft_queue where it exists. */
		struct fwd_compile_opts co = {
			.native_queue = ctx->feat.native_queue,
			/* A program queue per CPU: the verdict loop runs
			 * a worker on each (vloop.c). */
			.prog_queues = prog_queues(),
			/* unit = rules: the cgroups as they are now, each
			 * watched before it is looked at (daemon/cgwatch.c
			 * recompiles when they change). */
			.unit_id = fwd_cgwatch_unit_id,
			.unit_arg = ctx->cgw,
		};

		ret = fwd_compile_opts_at(p, (uint64_t)time(NULL), &co,
					  &compiled, d);
		if (ret) {
			ch->stage = FWD_STAGE_COMPILE;
			goto fail;
		}
		ir = compiled;
	}
	if (ch->dry_run) {
		ch->out = compiled;
		compiled = NULL;
		ret = 0;
		goto fail;	/* nothing to undo: frees what was loaded */
	}
	if (!ir) {
		ret = -ENOENT;
		ch->stage = FWD_STAGE_STATE;
		snprintf(ch->why, sizeof(ch->why), "no policy to apply");
		goto fail;
	}

	/* 4. the requester's SSH session stays reachable */
	if (before && !session_accepted(&ss, ir)) {
		snprintf(ch->why, sizeof(ch->why), "this change would cut off your SSH "
			 "session from %s to port %u/tcp (SSH_CONNECTION); add --force "
			 "to do it anyway", ss.cip, ss.sport);
		ch->stage = FWD_STAGE_GUARD;
		ret = -EPERM;
		goto fail;
	}

	/* 5. reload --confirm: the running IR is the way back; keep it on
	 * disk before anything changes, so a restart can still revert. */
	if (ch->src == FWD_SRC_RELOAD && ch->confirm > 0) {
		ret = fwd_confirm_arm(ctx, ctx->ir, ch->confirm);
		if (ret) {
			ch->stage = FWD_STAGE_CONFIRM;
			goto fail;
		}
		armed = true;
	}

	/* 6. the kernel; its time is fwd_apply_duration_seconds (metrics.h) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = commit_send(ctx, ch, ir, &pt, d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ret) {
		ch->stage = FWD_STAGE_KERNEL;
		if (armed)
			fwd_confirm_disarm(ctx);
		goto fail;
	}

	if (pt.on && pt.reload)
		fwd_log(LOG_INFO, "reload: list members changed: %zu words out, %zu in; "
			"%zu elements removed, %zu added", pt.r.words_removed,
			pt.r.words_added, pt.r.delta.ndel, pt.r.delta.nadd);
	/* 7. bookkeeping, 8. persist. A change already in force sent no
	 * transaction: the last one's time stands. */
	if (ch->full || ch->nadd || ch->ndel)
		ctx->apply_ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
				(uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec;
	bookkeep(ctx, ch, p, ir);
	persist(ctx, ch);
	patch_free(&pt);
	return 0;

fail:
	patch_undo(ctx, &pt);
	patch_free(&pt);
	fwd_ir_free(compiled);
	fwd_policy_free(loaded);
	return ret;
}
