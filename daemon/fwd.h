/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_DAEMON_H
#define FWD_DAEMON_H

/*
 * fwd's parts for whoever works above the commit path: the context
 * (ctx.h), the commit path (commit.h), what is kept on disk (store.h), the
 * timed and external events (runtime.h), and the control socket's
 * handlers (commands.c). The commit path and store.c include none of it
 * but ctx.h and each other's headers: calls run one way, from fwd.c and
 * the commands down to commit.c and store.c.
 */
#include "commit.h"
#include "ctx.h"
#include "runtime.h"
#include "store.h"

/* The control socket handler (commands.c). */
int fwd_handle_request(void *ctx, const struct fwd_ctl_peer *peer,
		       const struct fwd_request *req, struct fwd_response *resp);
/* Whether a request is answered off the event loop, in a forked child;
 * what the child does first (commands.c, see control.h). */
bool fwd_handle_offload(void *ctx, const struct fwd_ctl_peer *peer,
			const struct fwd_request *req);
int fwd_handle_child_init(void *ctx);

#endif
