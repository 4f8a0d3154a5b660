/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_RUNTIME_H
#define FWD_RUNTIME_H

/*
 * The daemon's timed and external events that change the rules, each
 * through the commit path (runtime.c -> commit.c): an unconfirmed reload
 * reverted, a pending confirm resumed at start, expired edits tidied, the
 * table guard's restore. fwd.c's event loop calls them.
 */
struct fwd_ctx;

/* Deadline of a reload --confirm passed: revert. */
void fwd_confirm_expired(struct fwd_ctx *ctx);
/* At start: re-arm or carry out a pending confirm left by an earlier run. */
void fwd_confirm_resume(struct fwd_ctx *ctx);

/* Expired edits out of the model (the kernel already dropped them). */
void fwd_tidy(struct fwd_ctx *ctx);
void fwd_tidy_arm(struct fwd_ctx *ctx);

/* The table guard: events on fwd's table by anyone else. */
void fwd_guard_events(struct fwd_ctx *ctx);

#endif
