// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * An inotify descriptor and its events -> "look again" for a watcher
 * (inwatch.h): the part pwwatch.c and cgwatch.c have in common.
 */
#include "inwatch.h"

#include <errno.h>
#include <unistd.h>
#include <sys/inotify.h>

int fwd_inwatch_open(struct fwd_inwatch *w, const char *path, uint32_t mask)
{
	int ret;

	/* Non-blocking: the loop reads until EAGAIN, never waits here. */
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		ret = -errno;
		w->fd = -1;
		return ret;
	}
	ret = fwd_inwatch_add(w, path, mask);
	if (ret < 0) {
		fwd_inwatch_close(w);
		return ret;
	}
	return 0;
}

int fwd_inwatch_add(struct fwd_inwatch *w, const char *path, uint32_t mask)
{
	int wd = inotify_add_watch(w->fd, path, mask);

	return wd < 0 ? -errno : wd;
}

void fwd_inwatch_close(struct fwd_inwatch *w)
{
	if (w->fd >= 0)
		close(w->fd);
	w->fd = -1;
}

bool fwd_inwatch_drain(struct fwd_inwatch *w,
		       bool (*named)(const char *name, const void *arg),
		       const void *arg)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;

			q += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW)
				hit = true;	/* lost events: look again */
			else if (ev->len && named(ev->name, arg))
				hit = true;
		}
	}
	return hit;
}
