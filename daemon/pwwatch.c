// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * /etc/passwd replaced or written -> user names looked up again -> a
 * recompile of the running policy through the commit path (pwwatch.h).
 */
#include "pwwatch.h"

#include <errno.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sys/inotify.h>

#include "commit.h"
#include "diag.h"
#include "fwd.h"
#include "inwatch.h"
#include "log.h"
#include "outbound.h"
#include "policy.h"
#include "util.h"

#define ETC "/etc"
#define PASSWD "passwd"

struct fwd_pwwatch {
	struct fwd_inwatch in;	/* inotify on /etc */
};

int fwd_pwwatch_open(struct fwd_pwwatch **out)
{
	struct fwd_pwwatch *w;
	int ret;

	*out = NULL;
	w = fwd_xcalloc(1, sizeof(*w));
	/* The directory, not the file: a file renamed over /etc/passwd is a
	 * new inode, which a watch on the old one would never see. */
	ret = fwd_inwatch_open(&w->in, ETC, IN_MOVED_TO | IN_CLOSE_WRITE |
			       IN_CREATE | IN_ONLYDIR);
	if (ret) {
		free(w);
		return ret;
	}
	*out = w;
	return 0;
}

void fwd_pwwatch_free(struct fwd_pwwatch *w)
{
	if (!w)
		return;
	fwd_inwatch_close(&w->in);
	free(w);
}

int fwd_pwwatch_fd(const struct fwd_pwwatch *w)
{
	return w ? w->in.fd : -1;
}

/* An entry of /etc that came or was written: is it the user database? */
static bool is_passwd(const char *name, const void *arg)
{
	return strcmp(name, PASSWD) == 0;
}

/* Whether owner o is a user name (not a uid written as a number). */
static bool user_name(const struct fwd_owner *o)
{
	return o->kind == FWD_OWNER_USER &&
	       strspn(o->name, "0123456789") != strlen(o->name);
}

/*
 * Look every user name of p up again. The old uids go to *undo, one per
 * owner of every service in order (a failed commit puts them back).
 * Returns the number of uids that changed; a lookup that fails for
 * another reason than "no such user" keeps the uid it had.
 */
static size_t refresh(struct fwd_policy *p, uint32_t **undo)
{
	size_t n = 0, changed = 0, at = 0;

	for (size_t i = 0; i < p->nservices; i++)
		n += p->services[i].nowners;
	*undo = fwd_xreallocarray(NULL, n ? n : 1, sizeof(**undo));
	for (size_t i = 0; i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++) {
			struct fwd_owner *o = &p->services[i].owners[k];
			struct passwd pw, *res = NULL;
			char buf[4096];
			uint32_t uid;
			int e;

			(*undo)[at++] = o->uid;
			if (!user_name(o))
				continue;
			e = getpwnam_r(o->name, &pw, buf, sizeof(buf), &res);
			if (e != 0 && e != ENOENT && e != ESRCH)
				continue;
			uid = res ? (uint32_t)res->pw_uid : FWD_UID_NONE;
			if (uid == o->uid)
				continue;
			if (uid == FWD_UID_NONE)
				fwd_log(LOG_INFO, "user %s is gone from the user "
					"database: its outbound rules match nothing",
					o->name);
			else
				fwd_log(LOG_INFO, "user %s is uid %u now", o->name,
					(unsigned)uid);
			o->uid = uid;
			changed++;
		}
	return changed;
}

static void restore(struct fwd_policy *p, const uint32_t *undo)
{
	size_t at = 0;

	for (size_t i = 0; i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++)
			p->services[i].owners[k].uid = undo[at++];
}

/* Look the names up, and commit the running policy if a uid changed. */
static void resync(struct fwd_ctx *ctx)
{
	struct fwd_change ch = { .src = FWD_SRC_UNITS };
	struct fwd_diags d;
	uint32_t *undo = NULL;

	if (!ctx->policy || !ctx->ir || ctx->disabled || ctx->model_unknown ||
	    !fwd_policy_has_user_names(ctx->policy))
		return;
	if (refresh(ctx->policy, &undo) == 0) {
		free(undo);
		return;
	}
	ch.policy = ctx->policy;
	fwd_diags_init(&d);
	if (fwd_change_commit(ctx, &ch, &d) != 0) {
		/* The caller undoes its own model change (commit.h). */
		restore(ctx->policy, undo);
		fwd_log(LOG_ERR, "%s: the user database changed, but recompiling "
			"failed", __func__);
		fwd_log_diags(LOG_ERR, &d);
	} else {
		fwd_log(LOG_INFO, "user database changed: %zu element%s added, "
			"%zu removed", ch.nadd, ch.nadd == 1 ? "" : "s", ch.ndel);
	}
	fwd_diags_free(&d);
	free(undo);
}

void fwd_pwwatch_events(struct fwd_ctx *ctx)
{
	/* Lost events (IN_Q_OVERFLOW) may have hidden it: look again then. */
	if (fwd_inwatch_drain(&ctx->pww->in, is_passwd, NULL))
		resync(ctx);
}

/* The policy was read before the watch began: a user made in between is
 * found now (nothing is sent when no uid changed). */
void fwd_pwwatch_started(struct fwd_ctx *ctx)
{
	resync(ctx);
}
