// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * [metrics] textfile: the timer -> a forked child that gathers, renders
 * and writes the file atomically -> its end reaped from the event loop
 * (metrics.h for the contract).
 */
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "fwd.h"
#include "json.h"
#include "log.h"
#include "state.h"
#include "worker.h"

struct fwd_metrics_file {
	int efd;			/* the event loop's epoll set (not ours) */
	int tfd;			/* the interval timer */
	uint32_t armed;			/* seconds it runs at; 0: stopped */
	char path[4096];		/* the file the timer writes */
	struct fwd_worker w;		/* the child writing now (pid 0: none) */
	unsigned late;			/* ticks the running child has missed */
	bool overdue;			/* killed: still running two ticks on */
	bool failing;			/* the last write failed */
	char why[512];			/* and why */
	unsigned long long writes, failures;
	time_t last_ok;
};

int fwd_metrics_init(struct fwd_ctx *ctx, int epoll_fd)
{
	struct fwd_metrics_file *m = calloc(1, sizeof(*m));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!m)
		abort();	/* the project's OOM policy: abort */
	m->efd = epoll_fd;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (m->tfd < 0) {
		int ret = -errno;

		free(m);
		return ret;
	}
	ev.data.fd = m->tfd;
	if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, m->tfd, &ev) < 0) {
		int ret = -errno;

		close(m->tfd);
		free(m);
		return ret;
	}
	ctx->metrics = m;
	fwd_metrics_arm(ctx);
	return 0;
}

void fwd_metrics_arm(struct fwd_ctx *ctx)
{
	struct fwd_metrics_file *m = ctx->metrics;
	const struct fwd_metrics_conf *c = ctx->policy ? &ctx->policy->metrics : NULL;
	uint32_t want = c && c->on && c->textfile ? c->interval : 0;
	const char *path = want ? c->textfile : "";
	struct itimerspec its = { 0 };

	if (!m || (want == m->armed && strcmp(path, m->path) == 0))
		return;
	/* The first write a second from now, so that the file is there soon
	 * after the start (or a change of [metrics]), not an interval later. */
	its.it_value.tv_sec = want ? 1 : 0;
	its.it_interval.tv_sec = want;
	timerfd_settime(m->tfd, 0, &its, NULL);
	m->armed = want;
	snprintf(m->path, sizeof(m->path), "%s", path);
	m->failing = false;
	m->why[0] = '\0';
	if (want)
		fwd_log(LOG_INFO, "metrics: %s every %us", m->path, want);
}

/*
 * The directory is trusted as conf.d is, plus an owner check: a
 * directory another user may write could be swapped for anything, and
 * fwd, root, writes there. Opened O_NOFOLLOW: its last component is never
 * a symlink.
 */
static int open_dir(const char *dir, char *why, size_t whylen)
{
	struct stat st;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (dfd < 0) {
		int ret = -errno;

		snprintf(why, whylen, "cannot open directory %.400s: %s%s", dir,
			 strerror(errno), errno == ELOOP || errno == ENOTDIR ?
			 " (it must be a directory, not a symlink)" : "");
		return ret;
	}
	if (fstat(dfd, &st) < 0) {
		int ret = -errno;

		snprintf(why, whylen, "cannot stat directory %.400s: %s", dir, strerror(errno));
		close(dfd);
		return ret;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & S_IWOTH)) {
		snprintf(why, whylen, "directory %.400s is %s; it must be owned by root "
			 "or fwd's user and not writable by others", dir,
			 st.st_mode & S_IWOTH ? "writable by others" : "owned by another user");
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

/* The child: gather, render, write. On failure, why goes to out_fd. */
static int write_child(void *arg, int out_fd)
{
	struct fwd_ctx *ctx = arg;
	struct fwd_metrics_file *m = ctx->metrics;
	struct fwd_stats_view v;
	char why[512] = "", *text = NULL, *slash, dir[4096];
	size_t len = 0;
	FILE *f;
	int ret, dfd;

	fwd_vloop_fork_done(ctx);	/* the lock taken around fork */
	ret = fwd_handle_child_init(ctx);
	if (ret == 0)
		ret = fwd_stats_gather(ctx, &v);
	if (ret) {
		snprintf(why, sizeof(why), "cannot read the table back: %s", strerror(-ret));
		goto out;
	}
	f = open_memstream(&text, &len);
	if (!f)
		abort();	/* the project's OOM policy: abort */
	fwd_metrics_render(&v, f);
	fclose(f);
	fwd_stats_free(&v);
	snprintf(dir, sizeof(dir), "%s", m->path);
	slash = strrchr(dir, '/');
	if (!slash) {
		ret = -EINVAL;
		goto out;
	}
	*slash = '\0';
	dfd = open_dir(*dir ? dir : "/", why, sizeof(why));
	if (dfd < 0) {
		ret = dfd;
		goto out;
	}
	/* node_exporter runs as its own user: the file is for everyone to
	 * read, whatever fwd's umask (fwd.service has 0077). The umask is
	 * this child's alone. */
	umask(022);
	ret = fwd_write_atomic_at(dfd, slash + 1, text, len, 0644);
	if (ret)
		snprintf(why, sizeof(why), "cannot write %.400s: %s", m->path, strerror(-ret));
	close(dfd);
out:
	if (ret && *why)
		fwd_write_all(out_fd, why, strlen(why));
	free(text);
	return ret;
}

static void failed(struct fwd_metrics_file *m, const char *why)
{
	m->failures++;
	/* Logged once per failing streak: a directory that is missing for a
	 * day must not write a line every interval. */
	if (!m->failing)
		fwd_log(LOG_WARNING, "metrics: %s; retrying every %us", why, m->armed);
	m->failing = true;
	snprintf(m->why, sizeof(m->why), "%s", why);
}

static void tick(struct fwd_ctx *ctx)
{
	struct fwd_metrics_file *m = ctx->metrics;
	struct epoll_event ev = { .events = EPOLLIN };
	char why[128];
	int ret;

	if (!m->armed)
		return;
	if (m->w.pid > 0) {
		/* A big table read back on a busy machine may take longer than
		 * a short interval: one tick is let go by (the file is a little
		 * late). Still at it at the second, it is stuck, or the
		 * interval is too short for the table: killed. */
		if (++m->late >= 2) {
			fwd_worker_kill(&m->w);
			m->overdue = true;
		}
		return;
	}
	fwd_vloop_fork_prepare(ctx);
	ret = fwd_worker_start(&m->w, write_child, ctx);
	fwd_vloop_fork_done(ctx);
	if (ret) {
		snprintf(why, sizeof(why), "cannot fork the writer: %s", strerror(-ret));
		failed(m, why);
		return;
	}
	ev.data.fd = m->w.pidfd;
	if (epoll_ctl(m->efd, EPOLL_CTL_ADD, m->w.pidfd, &ev) < 0) {
		snprintf(why, sizeof(why), "cannot watch the writer: %s", strerror(errno));
		fwd_worker_release(&m->w);
		failed(m, why);
	}
}

static void reaped(struct fwd_ctx *ctx)
{
	struct fwd_metrics_file *m = ctx->metrics;
	char why[512], st[64];
	void *buf;
	size_t len;
	int status = 0;

	if (fwd_worker_reap(&m->w, &status) == -EAGAIN)
		return;
	epoll_ctl(m->efd, EPOLL_CTL_DEL, m->w.pidfd, NULL);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		m->writes++;
		m->last_ok = time(NULL);
		if (m->failing)
			fwd_log(LOG_INFO, "metrics: %s written again", m->path);
		m->failing = false;
		m->why[0] = '\0';
	} else if (m->overdue) {
		snprintf(why, sizeof(why), "writing %.400s took longer than two "
			 "intervals (%us each); the writer was killed", m->path, m->armed);
		failed(m, why);
	} else if (fwd_worker_answer(&m->w, &buf, &len) == 0) {
		snprintf(why, sizeof(why), "%.*s", (int)len, (const char *)buf);
		munmap(buf, len);
		failed(m, why);
	} else {
		fwd_worker_status_text(status, st, sizeof(st));
		snprintf(why, sizeof(why), "the writer of %.400s failed (%s)", m->path, st);
		failed(m, why);
	}
	m->overdue = false;
	m->late = 0;
	fwd_worker_release(&m->w);
}

bool fwd_metrics_event(struct fwd_ctx *ctx, int fd)
{
	struct fwd_metrics_file *m = ctx->metrics;
	uint64_t ticks;

	if (!m)
		return false;
	if (fd == m->tfd) {
		if (read(fd, &ticks, sizeof(ticks)) > 0)
			tick(ctx);
		return true;
	}
	if (m->w.pid != 0 && fd == m->w.pidfd) {
		reaped(ctx);
		return true;
	}
	return false;
}

void fwd_metrics_free(struct fwd_ctx *ctx)
{
	struct fwd_metrics_file *m = ctx->metrics;

	if (!m)
		return;
	fwd_worker_release(&m->w);
	close(m->tfd);
	free(m);
	ctx->metrics = NULL;
}

void fwd_metrics_state_gather(const struct fwd_ctx *ctx, struct fwd_metrics_state *s)
{
	const struct fwd_metrics_file *m = ctx->metrics;

	memset(s, 0, sizeof(*s));
	if (!m || !m->armed)
		return;
	s->interval = m->armed;
	s->path = m->path;
	s->failing = m->failing;
	s->why = m->why;
	s->writes = m->writes;
	s->failures = m->failures;
	s->last_ok = m->last_ok;
}

void fwd_metrics_status_text(const struct fwd_metrics_state *m, struct fwd_response *resp)
{
	char when[32] = "never";
	struct tm tm;

	if (!m->interval)
		return;
	if (m->last_ok && localtime_r(&m->last_ok, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	if (m->failing)
		fwd_response_printf(resp, "metrics:    FAILING: %s (every %us; last "
				    "written %s)\n", m->why, m->interval, when);
	else
		fwd_response_printf(resp, "metrics:    %s every %us, last written %s\n",
				    m->path, m->interval, when);
}

void fwd_metrics_status_json(const struct fwd_metrics_state *m, struct json_out *j)
{
	if (!m->interval) {
		json_null(j);
		return;
	}
	json_obj_begin(j);
	json_key(j, "textfile"); json_str(j, m->path);
	json_key(j, "interval"); json_uint(j, m->interval);
	json_key(j, "failing"); json_bool(j, m->failing);
	json_key(j, "error");
	if (m->failing)
		json_str(j, m->why);
	else
		json_null(j);
	json_key(j, "writes"); json_uint(j, m->writes);
	json_key(j, "failures"); json_uint(j, m->failures);
	json_key(j, "last_written"); json_uint(j, (uint64_t)m->last_ok);
	json_obj_end(j);
}
