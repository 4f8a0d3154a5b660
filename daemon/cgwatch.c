// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unit cgroups appearing and going -> a recompile of the running policy
 * through the commit path (cgwatch.h).
 */
#include "cgwatch.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/inotify.h>

#include "cgroup.h"
#include "commit.h"
#include "diag.h"
#include "fwd.h"
#include "log.h"
#include "outbound.h"
#include "policy.h"
#include "util.h"

#define SLICE "system.slice"

struct fwd_cgwatch {
	int fd;			/* inotify */
	int wd_root;		/* the root: for system.slice to appear */
	int wd_slice;		/* system.slice: units' cgroups; -1 until it exists */
	char root[PATH_MAX];
};

static int watch_slice(struct fwd_cgwatch *w)
{
	char path[PATH_MAX + sizeof(SLICE) + 1];

	snprintf(path, sizeof(path), "%s/" SLICE, w->root);
	w->wd_slice = inotify_add_watch(w->fd, path, IN_CREATE | IN_DELETE |
					IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR);
	return w->wd_slice < 0 ? -errno : 0;
}

int fwd_cgwatch_open(struct fwd_cgwatch **out)
{
	struct fwd_cgwatch *w = fwd_xcalloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	w->wd_slice = -1;
	ret = fwd_cgroup2_root(w->root, sizeof(w->root));
	if (ret) {
		free(w);
		return ret;
	}
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		ret = -errno;
		free(w);
		return ret;
	}
	/* The root first: system.slice created after this is seen. */
	w->wd_root = inotify_add_watch(w->fd, w->root, IN_CREATE | IN_ONLYDIR);
	if (w->wd_root < 0) {
		ret = -errno;
		fwd_cgwatch_free(w);
		return ret;
	}
	watch_slice(w);		/* ENOENT: not yet; the root watch waits */
	*out = w;
	return 0;
}

void fwd_cgwatch_free(struct fwd_cgwatch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	free(w);
}

int fwd_cgwatch_fd(const struct fwd_cgwatch *w)
{
	return w ? w->fd : -1;
}

static bool names_unit(const struct fwd_policy *p, const char *name)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++)
			if (p->services[i].owners[k].kind == FWD_OWNER_UNIT &&
			    strcmp(p->services[i].owners[k].name, name) == 0)
				return true;
	return false;
}

/* Every pending event; whether one concerns a unit of p. */
static bool read_events(struct fwd_cgwatch *w, const struct fwd_policy *p)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool hit = false;
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0) {
		for (char *q = buf; q < buf + n;) {
			const struct inotify_event *ev = (const void *)q;

			q += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				hit = true;	/* lost events: look again */
			} else if (ev->wd == w->wd_root && ev->len &&
				   strcmp(ev->name, SLICE) == 0 && w->wd_slice < 0) {
				/* Units may be in it already: look. */
				if (watch_slice(w) == 0)
					hit = true;
			} else if (ev->wd == w->wd_slice && ev->len &&
				   names_unit(p, ev->name)) {
				hit = true;
			} else if (ev->wd == w->wd_slice && (ev->mask & IN_IGNORED)) {
				w->wd_slice = -1;	/* the slice went */
			}
		}
	}
	return hit;
}

/* Recompile the running policy for the unit cgroups as they are now. */
static void resync(struct fwd_ctx *ctx)
{
	struct fwd_change ch = { .src = FWD_SRC_UNITS };
	struct fwd_diags d;

	if (!ctx->policy || !ctx->ir || ctx->disabled || ctx->model_unknown)
		return;
	ch.policy = ctx->policy;
	fwd_diags_init(&d);
	if (fwd_change_commit(ctx, &ch, &d) != 0) {
		fwd_log(LOG_ERR, "%s: a unit's cgroup changed, but recompiling "
			"failed", __func__);
		fwd_log_diags(LOG_ERR, &d);
	} else if (ch.nadd + ch.ndel) {
		fwd_log(LOG_INFO, "unit cgroups changed: %zu element%s added, "
			"%zu removed", ch.nadd, ch.nadd == 1 ? "" : "s", ch.ndel);
	}
	fwd_diags_free(&d);
}

void fwd_cgwatch_events(struct fwd_ctx *ctx)
{
	if (read_events(ctx->cgw, ctx->policy))
		resync(ctx);
}

/* The policy was compiled before the watch began: a unit that started in
 * between is found now (nothing is sent when nothing changed). */
void fwd_cgwatch_started(struct fwd_ctx *ctx)
{
	if (fwd_policy_has_units(ctx->policy))
		resync(ctx);
}
