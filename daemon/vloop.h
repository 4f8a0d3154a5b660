/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_VLOOP_H
#define FWD_VLOOP_H

/*
 * The verdict loop in the daemon: queued packets -> guard -> drop verdict,
 * log records, kernel blocks. It connects kmod-hooks/queue.c (the kernel
 * half) with policy/guard.c and vlog.c (the pure half):
 *
 *   worker thread per queue (pthread)             main thread (epoll loop)
 *   fwd_queue_recv -> fwd_guard_decide  --BLOCK--> eventfd + locked list
 *     |  verdict DROP, exactly one per packet       -> fwd_vloop_blocks: ONE
 *     |  LOG -> ring (fwctl log) + fwd_log            commit, FWD_SRC_BLOCKS
 *     v  CAP -> fwd_log(LOG_ERR)                      (fast_only, timed edits)
 *
 * One guard for all workers behind one mutex (the simpler choice, measured
 * in bench/queue.sh); the same mutex guards the ring, the pending blocks
 * and the per-queue counters, so `fwctl log/status/stats` on the main
 * thread read a consistent picture. The main thread never waits for a
 * packet: the control socket answers while the loop is flooded.
 *
 * Fail closed: workers only ever answer NF_DROP; while no worker binds a
 * queue (not started yet, restarting, fwd gone) the kernel drops what the
 * rule queues. On exit the workers stop and unbind; the table and its
 * queue rule stay, so queued packets are dropped.
 */
#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "vlog.h"

struct fwd_ctx;
struct fwd_response;

/* Make the loop's shared state (ring, eventfd); no threads yet. 0/-errno. */
int fwd_vloop_new(struct fwd_ctx *ctx);
/* Stop the workers, free everything. Accepts ctx->vloop == NULL. */
void fwd_vloop_free(struct fwd_ctx *ctx);

/*
 * After every commit (commit.c's policy_changed): workers follow ctx->ir's
 * queue step (started, stopped, rebound when `queues` changed); with a new
 * model the guard follows its [guard] (a new guard, the running guard
 * blocks restored into it; the kernel's blocks are never touched here).
 */
void fwd_vloop_sync(struct fwd_ctx *ctx, bool new_model);

/* The eventfd the main loop polls: blocks are pending. -1 without a loop. */
int fwd_vloop_fd(const struct fwd_ctx *ctx);
/* Around fork (a control-socket worker, control.h): the loop's lock taken
 * before and released after, in parent and child, so the child never
 * inherits it held by a worker thread that does not exist there. */
void fwd_vloop_fork_prepare(void *ctx);
void fwd_vloop_fork_done(void *ctx);
/* Commit every pending block in one transaction (main thread). */
void fwd_vloop_blocks(struct fwd_ctx *ctx);

/* `fwctl list blocked`: why addr (a block edit's) is blocked. */
const char *fwd_vloop_reason(const struct fwd_ctx *ctx, const struct fwd_addr *a);
/* `fwctl unblock` lifted addr: the guard forgets it too. */
void fwd_vloop_unblocked(struct fwd_ctx *ctx, const struct fwd_addr *a);

/*
 * `fwctl explain --out ... --program PATH`: what the program worker would
 * decide for a new flow to (family, dst, proto, port) from a process
 * running PATH now (stat: its device and inode), by the rules resolved
 * when the policy was applied. 1: accepted, *loc the rule's program =
 * line (its file lent until the next model); 0: not; -errno: PATH
 * cannot be stat'ed, or no program rules run.
 */
struct fwd_loc;
int fwd_vloop_prog_explain(struct fwd_ctx *ctx, int family, const uint8_t *dst,
			   uint8_t proto, uint16_t port, const char *path,
			   struct fwd_loc *loc);

/* Per queue, for status and stats (and tests through fwctl --json). */
struct fwd_vloop_qstats {
	uint16_t num;
	bool bound;
	uint64_t queued;		/* packets received from the kernel */
	uint64_t verdicts, verdict_errors;
	uint64_t queue_dropped, user_dropped;	/* /proc/net/netfilter/nfnetlink_queue */
	uint64_t by_reason[FWD_REASON_MAX];
	uint64_t blocks, suppressed;
	uint64_t lat_p50_ns, lat_p99_ns;	/* enqueue (kernel stamp) to verdict */
	uint64_t lat_samples;
	/* The program queue (outbound.h: program =), the last entry when it
	 * runs: its decisions by reason. With several program queues (by
	 * CPU) the entry is their sum, num the first, bound when all are,
	 * prog_total how many. */
	bool prog;
	uint16_t prog_total;
	uint64_t prog_accepted, prog_unknown, prog_denied;
	/* Accepted UDP flows labelled for the kernel (their later datagrams
	 * not queued again), labels that failed, the last failure's errno. */
	uint64_t prog_labelled, prog_label_errors;
	int prog_last_label_error;
};
/* Fill up to max entries; returns how many queues run (0: no loop). */
unsigned fwd_vloop_stats(struct fwd_ctx *ctx, struct fwd_vloop_qstats *out,
			 unsigned max);

/*
 * The guard's block transactions (main thread, fwd_vloop_blocks), for
 * status and stats: how many commits, how many elements they carried
 * (new blocks and extensions of a repeat offender's), how many were
 * refused and with how many elements, how many needed the compiler.
 */
struct fwd_vloop_bstats {
	uint64_t commits, elements, extends;
	uint64_t failures, failed_elements;
	uint64_t compiled;
	uint64_t lost;		/* blocks the pending list had no room for */
	uint64_t pending;	/* decided, not yet committed */
	uint64_t held;		/* guard blocks in force (fwctl list blocked) */
};
void fwd_vloop_block_stats(struct fwd_ctx *ctx, struct fwd_vloop_bstats *out);

/* Copy ring records under the loop's lock (fwd_vlog_read's contract). */
size_t fwd_vloop_read(struct fwd_ctx *ctx, const struct fwd_vlog_query *q,
		      struct fwd_vlog_rec *out, size_t max, uint64_t *missed,
		      uint64_t *next_seq);

/* status/stats lines and JSON members: cmd-log.h (a view gathered first). */

#endif
