/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_DAEMON_H
#define FWD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "commit.h"
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
};

/* Load the files (main + conf.d + lists + the owned edits file), with the
 * running --runtime edits carried over. */
int fwd_load_files(struct fwd_ctx *ctx, bool at_start, struct fwd_policy **out,
		   struct fwd_diags *d);
/* Every change of the kernel's rules goes through fwd_change_commit
 * (commit.h), which keeps the invariant above. */
/* The control socket's roles from ctx->policy's [control] groups: called
 * by the commit path after every change of the model, so a group taken
 * out of the policy stops granting at once (also to clients already
 * connected). Does nothing without a socket. */
void fwd_roles_apply(struct fwd_ctx *ctx);
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

/* Expired edits out of the model (the kernel already dropped them). */
void fwd_tidy(struct fwd_ctx *ctx);
void fwd_tidy_arm(struct fwd_ctx *ctx);

/* The table guard: events on fwd's table by anyone else. */
void fwd_guard_events(struct fwd_ctx *ctx);

/* The control socket handler (commands.c). */
int fwd_handle_request(void *ctx, const struct fwd_ctl_peer *peer,
		       const struct fwd_request *req, struct fwd_response *resp);
/* Whether a request is answered off the event loop, in a forked child;
 * what the child does first (commands.c, see control.h). */
bool fwd_handle_offload(void *ctx, const struct fwd_ctl_peer *peer,
			const struct fwd_request *req);
int fwd_handle_child_init(void *ctx);
/* Deadline of a reload --confirm passed: revert. */
void fwd_confirm_expired(struct fwd_ctx *ctx);
/* At start: re-arm or carry out a pending confirm left by an earlier run. */
void fwd_confirm_resume(struct fwd_ctx *ctx);

#endif
