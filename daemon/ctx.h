/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CTX_H
#define FWD_CTX_H

/*
 * The daemon's context: its whole state, in one struct that every part of
 * fwd is handed. A header of its own, so that the commit path and what it
 * calls (store.c) depend on the state, never on the program above them
 * (fwd.c: main and the event loop) or on the callers of the commit path
 * (runtime.c, the commands, the verdict loop).
 */
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "control.h"
#include "ir.h"
#include "kmod.h"
#include "policy.h"
#include "worker.h"

struct fwd_audit_entry;
struct fwd_metrics_file;

/*
 * The daemon's whole state, one context passed everywhere (no globals).
 * Invariant: ctx->ir is exactly what the kernel holds (as far as fwd
 * knows), and ctx->policy is the model it was compiled from.
 */
struct fwd_ctx {
	const char *config;		/* main policy file */
	const char *state_dir;		/* "" = none */
	const char *socket_path;	/* NULL: no control socket */
	bool oneshot;

	struct fwd_nl *nl;
	struct fwd_features feat;
	struct fwd_ctl_server *ctl;

	struct fwd_policy *policy;	/* running model (files + edits) */
	struct fwd_ir *ir;		/* running IR, committed */
	unsigned generation;		/* commits since start */
	time_t started, applied;
	bool builtin;			/* the main file was missing */
	const char *degraded;		/* why the rules are not the files', or NULL */
	char *degraded_errors;		/* the policy errors behind it, a line each,
					 * or NULL (fwctl status shows them) */

	/* reload --confirm: revert to the previous model and IR unless
	 * confirmed by the deadline. The IR is also on disk (state dir) so
	 * that a restarted fwd still reverts. */
	int confirm_tfd;
	time_t confirm_deadline;	/* 0 = nothing pending */
	struct fwd_policy *confirm_policy;
	struct fwd_ir *confirm_ir;
	unsigned long long edits_applied;
	int tidy_tfd;			/* next edit expiry (model tidying only) */
	bool no_owner;			/* --no-owner: table without the owner flag */
	bool disabled;			/* fwctl disable: the table is deleted */
	struct fwd_monitor *mon;	/* the table guard */
	unsigned long long restores;	/* times the guard put the table back */
	uint64_t apply_ns;		/* the last commit's kernel transaction */
	/* The list files as last read, so that a reload parses only the
	 * lines that changed (policy.h). */
	struct fwd_list_cache *list_cache;
	/* The last good policy on disk is older than ctx->ir: element
	 * deltas (live edits, fast reloads) save it a moment later, off the
	 * request's path (fwd_save_last_good_later). */
	bool save_pending;
	struct timespec save_due;	/* CLOCK_MONOTONIC */
	unsigned long long fast_reloads;	/* reloads done as element edits */
	/* Why ctx->policy is not the model of what the kernel holds, or
	 * NULL: a reverted reload's rollback point whose model went with the
	 * process that armed the confirm, or the last good policy the
	 * start-up fallback read from the state directory. Edits are refused
	 * until the files are applied again (SIGHUP, fwctl reload). */
	const char *model_unknown;
	/* [audit] interval (cmd-audit.h): the timer, the interval it runs
	 * at (0: stopped), and the last run's listeners to compare with. */
	int audit_tfd;
	uint32_t audit_armed;
	struct fwd_audit_entry *audit_prev;
	size_t naudit_prev;
	bool audit_have_prev;
	/* The run's forked child (worker.h), and how many runs were done
	 * by one (off the event loop). */
	struct fwd_worker audit_worker;
	unsigned long long audit_offloaded;
	/* The event loop's epoll fd (-1 outside run_daemon): what adds a
	 * descriptor of its own while running (the audit child's pidfd). */
	int efd;
	/* The verdict loop (vloop.h): its worker threads, guard and log
	 * ring; NULL with --oneshot. */
	struct fwd_vloop *vloop;
	/* `unit =` rules: the unit cgroups' watcher (cgwatch.h); NULL on a
	 * host without cgroup2, and with --oneshot. */
	struct fwd_cgwatch *cgw;
	/* `user = NAME` rules: the user database's watcher (pwwatch.h);
	 * NULL with --oneshot. */
	struct fwd_pwwatch *pww;
	/* [metrics] textfile (metrics.h): the timer, the interval it runs
	 * at (0: stopped), the forked child writing the file now, and how
	 * the last write went. */
	struct fwd_metrics_file *metrics;
	/* What follows every commit, after the bookkeeping: the verdict
	 * loop's workers and guard (fwd_vloop_sync, set by fwd.c). Through
	 * the context, so that the commit path calls nothing of the loop that
	 * calls it (vloop.c commits the guard's blocks). NULL: nothing. */
	void (*follow)(struct fwd_ctx *ctx, bool new_model);
};

#endif
