/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_STORE_H
#define FWD_STORE_H

/*
 * What the daemon keeps on disk and reads from it for the commit path
 * (store.c): the policy files loaded (with the running --runtime edits
 * carried over), the owned edits file, the last good policy, the reload
 * --confirm rollback point and deadline. It calls nothing above it: the
 * commit path (commit.c) calls it, and so do fwd.c and runtime.c.
 */
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct fwd_ctx;
struct fwd_diags;
struct fwd_ir;
struct fwd_policy;

/* Load the files (main + conf.d + lists + the owned edits file), with the
 * running --runtime edits carried over. */
int fwd_load_files(struct fwd_ctx *ctx, bool at_start, struct fwd_policy **out,
		   struct fwd_diags *d);
/* Keep ctx->ir as the last good compiled policy in the state directory. */
void fwd_save_last_good(struct fwd_ctx *ctx);
/* The same within FWD_SAVE_DELAY_MS, from the event loop (or at exit):
 * a burst of edits costs one write, and no request waits for it. */
#define FWD_SAVE_DELAY_MS 1000
void fwd_save_last_good_later(struct fwd_ctx *ctx);
/* Milliseconds until the pending save is due (0: now), -1: none pending. */
int fwd_save_timeout_ms(const struct fwd_ctx *ctx);
/* Save now if one is pending and due (or `force`). */
void fwd_save_if_due(struct fwd_ctx *ctx, bool force);
/* The directory of the owned edits file (conf.d beside the main file). */
const char *fwd_confd_dir(const struct fwd_ctx *ctx, char *buf, size_t len);
/* Rewrite the owned edits file from ctx->policy (temp, fsync, rename). */
int fwd_persist_edits(struct fwd_ctx *ctx, const struct fwd_policy *p);

/* Arm a confirm: keep (and save) the current model/IR as the way back. */
int fwd_confirm_arm(struct fwd_ctx *ctx, const struct fwd_ir *rollback, long seconds);
void fwd_confirm_disarm(struct fwd_ctx *ctx);
/* The confirm's timer set to fire at `deadline` (a restarted fwd's pending
 * confirm), and the confirm's files removed (after a revert). */
void fwd_confirm_timer(struct fwd_ctx *ctx, time_t deadline);
void fwd_confirm_clear_files(struct fwd_ctx *ctx);

#endif
