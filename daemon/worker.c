// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A query's answer computed in a forked child (worker.h for the contract):
 * fork, a memfd for the answer, a pidfd for the end, SIGKILL and waitpid.
 */
#include "worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int fwd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The child: never returns. */
static void child(pid_t parent, fwd_worker_fn fn, void *arg, int out_fd)
{
	sigset_t none;

	/* Dies with the thread that forked it: a killed daemon leaves no
	 * worker behind, whatever systemd's KillMode. The parent may have
	 * gone already before the prctl: then there is nobody to answer. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127);
	/*
	 * Nothing of the parent's but its memory: its sockets are its own
	 * business. A copy here would keep a peer the parent closed from
	 * seeing its end, or a netlink binding alive after the parent let it
	 * go. Standard input, output and error stay (logging).
	 */
	if (out_fd != 3) {
		if (dup2(out_fd, 3) < 0)
			_exit(126);
		out_fd = 3;
	}
	if (close_range(4, ~0u, 0) < 0)
		_exit(126);
	/* fwd blocks its signals for its signalfd, which the child does not
	 * read: unblocked, a SIGTERM meant for the service ends the child
	 * too, as it would any process. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* Background work: the loop (edits, status, the verdict loop)
	 * keeps the CPU first. Failing to lower it only costs fairness. */
	errno = 0;
	if (nice(FWD_WORKER_NICE) < 0 && errno)
		(void)0;
	_exit(fn(arg, out_fd) == 0 ? 0 : 1);
}

int fwd_worker_start(struct fwd_worker *w, fwd_worker_fn fn, void *arg)
{
	pid_t parent = getpid(), pid;
	int memfd, pidfd, ret;

	memfd = memfd_create("fwd-answer", MFD_CLOEXEC);
	if (memfd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		close(memfd);
		return ret;
	}
	if (pid == 0)
		child(parent, fn, arg, memfd);
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0) {
		ret = -errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		close(memfd);
		return ret;
	}
	*w = (struct fwd_worker){ .pid = pid, .pidfd = pidfd, .memfd = memfd };
	return 0;
}

void fwd_worker_kill(struct fwd_worker *w)
{
	if (w->pid <= 0 || w->killed)
		return;
	/* Through the pidfd: never a recycled pid, even in theory. */
	if (pidfd_send_signal(w->pidfd, SIGKILL, NULL, 0) < 0 && errno != ESRCH)
		kill(w->pid, SIGKILL);
	w->killed = true;
}

int fwd_worker_reap(struct fwd_worker *w, int *status)
{
	pid_t r;

	if (w->pid <= 0)
		return -ECHILD;
	do
		r = waitpid(w->pid, status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return -EAGAIN;
	w->pid = -1;
	return 0;
}

int fwd_worker_answer(const struct fwd_worker *w, void **buf, size_t *len)
{
	struct stat st;
	void *p;

	if (fstat(w->memfd, &st) < 0)
		return -errno;
	if (st.st_size <= 0)
		return -ENODATA;
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, w->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*buf = p;
	*len = (size_t)st.st_size;
	return 0;
}

void fwd_worker_release(struct fwd_worker *w)
{
	if (w->pid > 0) {
		fwd_worker_kill(w);
		while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (w->pid != 0) {
		close(w->pidfd);
		close(w->memfd);
	}
	*w = (struct fwd_worker){ 0 };
}

void fwd_worker_status_text(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "status %#x", (unsigned)status);
}
