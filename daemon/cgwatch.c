// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * unit cgroups appearing and going -> a recompile of the running policy
 * through the commit path (cgwatch.h).
 */
#include "cgwatch.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/inotify.h>

#include "cgroup.h"
#include "commit.h"
#include "diag.h"
#include "fwd.h"
#include "inwatch.h"
#include "log.h"
#include "outbound.h"
#include "policy.h"
#include "util.h"

/* What a directory on the way to a unit's cgroup tells: a child came or
 * went (cgroups are made and removed, never renamed; moves for safety). */
#define CG_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

struct fwd_cgwatch {
	struct fwd_inwatch in;	/* inotify on the root and the slices */
	char root[PATH_MAX];
};

int fwd_cgwatch_open(struct fwd_cgwatch **out)
{
	struct fwd_cgwatch *w = fwd_xcalloc(1, sizeof(*w));
	int ret;

	*out = NULL;
	ret = fwd_cgroup2_root(w->root, sizeof(w->root));
	if (ret) {
		free(w);
		return ret;
	}
	/* The root always: the top slice of a unit (system.slice) may come
	 * after fwd. The rest is armed per unit (fwd_cgwatch_unit_id). */
	ret = fwd_inwatch_open(&w->in, w->root, CG_MASK);
	if (ret) {
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

/*
 * Watch every directory from the root down to the parent of the unit's
 * cgroup, as far as they exist: the first missing one is seen appearing
 * in its parent (whose watch is set), and the recompile that follows
 * comes here again and goes one further. A directory watched already
 * gives the same watch back (inotify), so arming again costs nothing; a
 * watch whose directory went is dropped by the kernel (IN_IGNORED).
 */
static void arm(struct fwd_cgwatch *w, const char *unit)
{
	char path[PATH_MAX + FWD_UNIT_PATH_MAX];
	size_t rlen = strlen(w->root);
	char *slash;

	if (fwd_cgroup_unit_path(unit, path, sizeof(path)) != 0 ||
	    strncmp(path, w->root, rlen) != 0)
		return;
	for (slash = strchr(path + rlen + 1, '/'); slash;
	     slash = strchr(slash + 1, '/')) {
		int wd;

		*slash = '\0';
		wd = fwd_inwatch_add(&w->in, path, CG_MASK);
		*slash = '/';
		if (wd < 0)
			break;	/* not there yet (or no room: logged by nobody,
				 * the resync on the parent's event retries) */
	}
}

int fwd_cgwatch_unit_id(void *arg, const char *unit, uint64_t *id)
{
	/* The watch first, then the look: a cgroup made in between is an
	 * event, never missed. */
	if (arg)
		arm(arg, unit);
	return fwd_cgroup_unit_id(NULL, unit, id);
}

void fwd_cgwatch_free(struct fwd_cgwatch *w)
{
	if (!w)
		return;
	fwd_inwatch_close(&w->in);
	free(w);
}

int fwd_cgwatch_fd(const struct fwd_cgwatch *w)
{
	return w ? w->in.fd : -1;
}

/* An entry that came or went in a watched directory: is it a directory on
 * the way to a unit's cgroup of the policy, or the cgroup itself? */
static bool unit_component(const char *name, const void *arg)
{
	return fwd_policy_unit_component(arg, name);
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
	/* Lost events (IN_Q_OVERFLOW) may have hidden one: look again then. */
	if (fwd_inwatch_drain(&ctx->cgw->in, unit_component, ctx->policy))
		resync(ctx);
}

/* The policy was compiled before the watch began: a unit that started in
 * between is found now (nothing is sent when nothing changed). */
void fwd_cgwatch_started(struct fwd_ctx *ctx)
{
	if (fwd_policy_has_units(ctx->policy))
		resync(ctx);
}
