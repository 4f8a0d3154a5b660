/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_COMMIT_H
#define FWD_COMMIT_H

/*
 * The one commit path: every change of what the kernel holds goes through
 * fwd_change_commit, which states the pipeline once (as nftables'
 * nft_run_cmd_from_buffer does):
 *
 *   load the files (start, SIGHUP, reload)
 *   -> empty-policy check (no inbound service left: refused unless --force)
 *   -> target IR: a fast patch of the running IR (a live addition, a reload
 *      where only list members changed), else the compiler, or an IR given
 *   -> SSH-session guard (the requester's session must stay reachable)
 *   -> confirm arm (reload --confirm: the rollback point on disk first)
 *   -> commit: an element delta, or a full atomic replace
 *   -> bookkeeping: ctx->policy/ir, generation, applied time, degraded,
 *      disabled, model_unknown (why ctx->policy is not the IR's model)
 *   -> persist: the edits file, the last good policy (now or later)
 *   -> policy_changed(ctx)
 *
 * So the invariant of ctx.h (ctx->ir is what the kernel holds, ctx->policy
 * its model) is kept here and nowhere else. On any failure nothing has
 * changed: not the kernel, not ctx->policy/ir (an in-place fast patch is
 * taken back), not a file; the caller restores its own model changes.
 */
#include <stdbool.h>
#include <stddef.h>

struct fwd_ctx;
struct fwd_diags;
struct fwd_ir;
struct fwd_policy;

enum fwd_change_src {
	FWD_SRC_START,		/* fwd starts: files, full replace */
	FWD_SRC_FALLBACK,	/* start-up fallback: `ir` (last good or lockdown), full replace */
	FWD_SRC_SIGHUP,		/* files, full replace (repairs anything done behind fwd's back) */
	FWD_SRC_RELOAD,		/* fwctl reload: files, fast reload or compile, delta or replace */
	FWD_SRC_EDIT,		/* fwctl allow/deny/block/remove/list: ctx->policy's edits changed */
	FWD_SRC_TIDY,		/* an expiry needs the compiler (timed list-del ended) */
	FWD_SRC_REVERT,		/* reload --confirm not confirmed: `ir`, the rollback point */
	FWD_SRC_ENABLE,		/* fwctl enable: ctx->ir back, full replace */
	FWD_SRC_RESTORE,	/* the table guard: ctx->ir back, full replace, same generation */
	FWD_SRC_BLOCKS,		/* the verdict loop's guard: timed block edits, element delta */
	FWD_SRC_UNITS,		/* a unit's cgroup came or went (cgwatch.c), a user's uid
				 * changed (pwwatch.c): compile, element delta */
};

/* Where a refused or failed change stopped (for the caller's message). */
enum fwd_change_stage {
	FWD_STAGE_NONE,
	FWD_STAGE_STATE,	/* fwd's state forbids it (model unknown): `why` */
	FWD_STAGE_LOAD,		/* the files have errors: diags */
	FWD_STAGE_EMPTY,	/* the files have no inbound service left: `why` */
	FWD_STAGE_COMPILE,	/* diags */
	FWD_STAGE_GUARD,	/* the SSH session would be cut off: `why` */
	FWD_STAGE_CONFIRM,	/* the rollback point could not be saved: the error */
	FWD_STAGE_KERNEL,	/* the kernel refused: diags */
};

struct fwd_change {
	enum fwd_change_src src;
	/*
	 * The new model, taken by ctx on success:
	 * - START, SIGHUP, RELOAD: NULL, the files are read here;
	 * - EDIT, TIDY, BLOCKS, UNITS: ctx->policy itself, changed in place by the
	 *   caller (who undoes that on failure); with `additions`, its
	 *   edits [first_new, nedits) are new, which the fast path may patch
	 *   into the running IR without the compiler;
	 * - FALLBACK, REVERT: the model `ir` was compiled from, or NULL when
	 *   fwd does not have it (REVERT after a restart: see model_unknown).
	 */
	struct fwd_policy *policy;
	bool additions;
	size_t first_new;
	bool fast_only;		/* BLOCKS: never the compiler; -EAGAIN instead */
	struct fwd_ir *ir;	/* FALLBACK, REVERT: the IR to commit, taken on success */
	const char *ssh;	/* the requester's SSH_CONNECTION (lockout guard), or NULL */
	bool force;		/* --force: no lockout guard, no empty-policy refusal */
	long confirm;		/* RELOAD --confirm SECONDS (0: none) */
	bool persist;		/* EDIT: rewrite the owned edits file */
	const char *degraded;	/* FALLBACK, REVERT: why the rules are not the files' */
	const char *model_unknown;	/* FALLBACK: `ir` is not compiled from `policy`: why */
	/* RELOAD: stop once the files are compiled (never the fast path, no
	 * guard, nothing sent or kept) and hand the IR over in `out`, the
	 * caller's to free: what `fwctl diff` compares, read and compiled
	 * exactly as a reload would. */
	bool dry_run;
	struct fwd_ir *out;

	/* Out. */
	enum fwd_change_stage stage;	/* where it stopped (NONE: committed) */
	char why[512];			/* STATE, EMPTY, GUARD: the reason */
	bool fast;			/* patched into the running IR, no compile */
	bool full;			/* a full replace (else an element delta) */
	size_t nadd, ndel;		/* the delta's elements (fast or diffed) */
	int persist_err;		/* EDIT: live, but the edits file was not written */
};

/*
 * Run the pipeline for `ch`. 0 once the kernel holds the change and ctx
 * says so; else -errno, ch->stage saying where (with d and ch->why), and
 * nothing changed. -EPERM: the lockout guard; -ECANCELED: the empty-policy
 * refusal; -ESTALE: an edit while the model is unknown.
 */
int fwd_change_commit(struct fwd_ctx *ctx, struct fwd_change *ch, struct fwd_diags *d);

/* The policy has a way in: an inbound [service], or [defaults] inbound = allow. */
bool fwd_policy_has_inbound(const struct fwd_policy *p);

#endif
