/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_WORKER_H
#define FWD_WORKER_H

/*
 * A forked child that computes one answer off the event loop (control.c
 * uses it for the read-only queries whose cost grows with the table:
 * show --nft, stats, diff, list show/blocked, explain, audit).
 *
 * Why fork and not a thread: the child gets a consistent copy of the
 * whole daemon state at the moment of the request, for free (copy on
 * write), while the parent goes on changing it (the fast paths patch
 * ctx->ir in place). The query code runs unchanged on that copy, so its
 * answer is byte for byte what the event loop would have sent.
 *
 * Rules for what runs in the child (fn), because the daemon may have
 * other threads (the verdict loop): fork copies only the calling thread,
 * and a lock another thread held at that moment stays locked in the
 * child forever. glibc's fork makes malloc and the stdio stream list safe;
 * nothing else is. So fn must not take a lock another thread may hold
 * (a mutex shared with the verdict loop, stdio on a stream others write:
 * fwd_log writes with one write(2) for that reason), must not exec, and
 * returns: the child then _exits (no atexit handlers, no stdio flush of
 * buffers it copied). Fork only from the thread that runs the event loop.
 *
 * The child keeps no fd of the parent's but 0, 1, 2 and the answer's memfd
 * (moved to fd 3, given to fn as out_fd): whatever else fn needs, it opens
 * itself.
 *
 * The child writes its answer into a memfd; the parent maps it once the
 * child has exited (pidfd readable). The child dies with the thread that
 * forked it (PR_SET_PDEATHSIG) and is killed (SIGKILL) when its client
 * leaves or its time is up; the parent reaps every child it started.
 * Needs SIGCHLD not to be ignored (the parent reaps by waitpid).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The child's nice value above the daemon's. */
#define FWD_WORKER_NICE 10

struct fwd_worker {
	pid_t pid;			/* 0: the slot is free; -1: reaped */
	int pidfd;			/* readable once the child has exited */
	int memfd;			/* the child's answer */
	bool killed;			/* SIGKILL sent */
	void *owner;			/* the caller's: who waits, NULL once gone */
};

/* The child's work: write the answer to out_fd; 0, or -errno (exit 1). */
typedef int (*fwd_worker_fn)(void *arg, int out_fd);

/*
 * Forks a child running fn(arg, out_fd) in slot w (w->pid must be 0).
 * 0, or -errno with nothing left behind (no child, no fd): the caller
 * then does the work itself.
 */
int fwd_worker_start(struct fwd_worker *w, fwd_worker_fn fn, void *arg);
/* SIGKILL the child (once); it is reaped later like any other. */
void fwd_worker_kill(struct fwd_worker *w);
/* After pidfd became readable: reap the child. *status as waitpid's.
 * 0, or -errno (-EAGAIN: not exited yet). */
int fwd_worker_reap(struct fwd_worker *w, int *status);
/* The answer, mapped read-only; release with munmap(*buf, *len).
 * -ENODATA for an empty answer. */
int fwd_worker_answer(const struct fwd_worker *w, void **buf, size_t *len);
/* Kill, reap (waiting for it) and free the slot. Accepts a free slot. */
void fwd_worker_release(struct fwd_worker *w);
/* Why a reaped child failed, for messages: "exit 1", "signal 9". */
void fwd_worker_status_text(int status, char *buf, size_t len);
/* Writes all of buf to fd (EINTR and short writes retried). 0 or -errno. */
int fwd_write_all(int fd, const void *buf, size_t len);

#endif
