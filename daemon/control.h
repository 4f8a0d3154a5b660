/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CONTROL_H
#define FWD_CONTROL_H

/*
 * The control socket server: a Unix stream socket that fwctl talks to.
 * One request and one response per connection (proto.h), then close.
 *
 * It lives inside the daemon's event loop (one thread). All its sockets
 * and its timer sit in an epoll set of its own; the daemon adds that one
 * fd (fwd_ctl_server_fd(), level-triggered EPOLLIN) to its loop and calls
 * fwd_ctl_server_dispatch() whenever it is readable. Dispatch never blocks:
 * it does a bounded amount of work (one batch of ready events, at most a
 * few dozen accepts) and returns, so the rest of the daemon is not starved;
 * what is left keeps the fd readable. For each complete, well-formed
 * request it calls the handler synchronously (or in a forked child, see
 * below); the handler fills the response and the server sends it without
 * blocking.
 *
 * The daemon must not die or stall because of a client:
 *  - every send uses MSG_NOSIGNAL, a vanished peer is just dropped;
 *  - a malformed, truncated, oversized or wrong-version request gets an
 *    error response (FWD_EXIT_PROTO) and a close, never a handler call;
 *  - a peer's role is decided when its connection is accepted, before a
 *    byte of its request is read. A peer without a role may send at most
 *    FWD_CTL_NONE_MAX_FRAME bytes: a header announcing more is refused at
 *    once (FWD_EXIT_DENIED), so a local user cannot make the daemon hold
 *    memory or wait for a large body;
 *  - request bytes are counted as they arrive (the buffer grows with
 *    them), never as announced, in two budgets kept apart: max_buffered
 *    for ADMIN peers (root and the admin group), a quarter of it for
 *    everyone else. A client whose next bytes do not fit its budget gets
 *    a "busy" response (FWD_EXIT_BUSY); a flood by read-role or role-less
 *    peers fills only their own budget;
 *  - at most max_clients connections; beyond that a client gets "busy"
 *    too. The last max_clients/16 slots are kept for ADMIN peers, so
 *    local users flooding the socket cannot lock root out of its own
 *    firewall, and peers without a role get at most half of the others,
 *    so that their flood leaves room for the read role;
 *  - a client has timeout_ms from accept to deliver its whole request, and
 *    timeout_ms again (plus 1 ms per KB of a large answer) to take the
 *    whole response; then it is dropped (with a "timed out" response if the
 *    socket takes it);
 *  - accept failing for lack of fds pauses accepting for a moment rather
 *    than spinning on a readable listening socket;
 *  - what a client can make the server log (refusals, bad requests,
 *    timeouts) is logged at most once a second per kind, with the number
 *    of lines left out; the stats count every one.
 *
 * Slow queries are answered off the event loop. When the offload callback
 * says so for a request (the daemon: the read-only queries whose cost grows
 * with the table, such as show --nft, stats, diff, list show), the server
 * forks a child (worker.h) that runs the handler on a copy-on-write copy of
 * the daemon's state and writes the encoded answer into a memfd; the loop
 * goes on serving everyone else meanwhile, and sends the answer, without
 * blocking, once the child has exited. So:
 *  - at most max_workers children at once; further offloaded requests wait
 *    in a queue (admins' first, then in order of arrival), counted in no
 *    deadline of their own, since the running workers are bounded;
 *  - a child has work_timeout_ms to finish; then it is killed and its
 *    client told so (FWD_EXIT_FAIL);
 *  - a client that hangs up while its answer is computed or queued costs
 *    nothing more: the child is killed, the slot freed;
 *  - a child that dies (a crash, the OOM killer) gives its client an
 *    "internal error" answer; the daemon goes on;
 *  - every child is reaped, its fds closed; when fork fails, the request
 *    is answered in the loop as before (slower, never wrong);
 *  - the handler in the child may not change the daemon's state (its
 *    changes stay in the child) nor use the server (the child closed its
 *    copies of the sockets); it may take no lock another thread could
 *    hold (worker.h). child_init runs in the child first (the daemon opens
 *    its own netlink socket there: the parent's carries its own traffic).
 *
 * Peers are identified by SO_PEERCRED (uid, gid, pid). Their groups are
 * the ones the connecting process really holds, as the kernel recorded
 * them at connect (SO_PEERGROUPS): a process that dropped its
 * supplementary groups (setpriv --clear-groups) does not get them back
 * from /etc/group. Only a kernel without SO_PEERGROUPS (before 4.13)
 * makes the server ask the group database (getgrouplist) instead. Role:
 * uid 0, or a gid or group equal to admin_group -> ADMIN; likewise
 * read_group -> READ; else NONE. The handler decides what each role may
 * do.
 *
 * The socket is created with mode 0666 by default: every local user may
 * connect and the daemon refuses what their role does not allow with a
 * message and FWD_EXIT_DENIED, rather than the kernel refusing the
 * connection with a bare EACCES. A stricter mode (say 0660 with
 * socket_group) works too; fwctl then reports EACCES as permission denied.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "proto.h"

struct fwd_ctl_server;

struct fwd_ctl_peer {
	pid_t pid;
	uid_t uid;
	gid_t gid;
	enum fwd_ctl_role role;
	char name[64];			/* user name, "" when the uid has none */
	/* The configured groups as given, for messages; "" when unset. */
	char admin_group[64];
	char read_group[64];
};

/*
 * Fills resp for a complete request. Return 0 to send resp as it is;
 * a negative errno makes the server send "fwd: internal error: ..." with
 * FWD_EXIT_FAIL instead. resp starts empty with status FWD_EXIT_OK.
 * peer and req are lent for the call. The handler may call
 * fwd_ctl_server_set_groups() and _stats(), not _dispatch() or _free().
 */
typedef int (*fwd_ctl_handler)(void *ctx, const struct fwd_ctl_peer *peer,
			       const struct fwd_request *req, struct fwd_response *resp);

/*
 * Whether req is to be answered by a forked child (see above). Called in
 * the loop with the decoded request; it should say yes only for a request
 * the peer's role allows (a refusal is cheaper answered in the loop).
 */
typedef bool (*fwd_ctl_offload)(void *ctx, const struct fwd_ctl_peer *peer,
				const struct fwd_request *req);
/* In the child, before the handler: 0, or -errno (the child then answers
 * "internal error"). */
typedef int (*fwd_ctl_child_init)(void *ctx);
/* Around the fork of a worker: `prepare` in the parent just before it
 * (take every lock another thread of the daemon may hold, so the child
 * gets them in a known state), `done` right after it, in the parent and
 * in the child (release them). */
typedef void (*fwd_ctl_fork_hook)(void *ctx);

/* prio is a syslog priority (LOG_WARNING, ...); msg has no newline. */
typedef void (*fwd_ctl_logger)(void *ctx, int prio, const char *msg);

#define FWD_CTL_MAX_CLIENTS	128
#define FWD_CTL_TIMEOUT_MS	5000
#define FWD_CTL_MAX_BUFFERED	(64u << 20)
#define FWD_CTL_MAX_WORKERS	4
#define FWD_CTL_WORKERS_CAP	16	/* max_workers is at most this */
/* fwctl gives up after 60 s as well (FWD_CLIENT_TIMEOUT_MS). */
#define FWD_CTL_WORK_TIMEOUT_MS	60000
/* The largest request frame (header included) of a peer without a role:
 * room for any command line fwctl sends, nothing more. */
#define FWD_CTL_NONE_MAX_FRAME	8192u

struct fwd_ctl_config {
	const char *path;		/* socket path; its directory is made 0755 */
	unsigned mode;			/* socket permissions; 0 means 0666 */
	const char *socket_group;	/* chgrp the socket (name or gid); NULL: leave */
	const char *admin_group;	/* name or decimal gid; NULL or "": root only */
	const char *read_group;		/* likewise, for queries */
	unsigned max_clients;		/* 0: FWD_CTL_MAX_CLIENTS */
	unsigned timeout_ms;		/* 0: FWD_CTL_TIMEOUT_MS */
	size_t max_buffered;		/* admins' request bytes; 0: FWD_CTL_MAX_BUFFERED
					 * (the others get a quarter of it) */
	fwd_ctl_handler handler;	/* required */
	fwd_ctl_offload offload;	/* NULL: every request in the loop */
	fwd_ctl_child_init child_init;	/* NULL: nothing to do */
	fwd_ctl_fork_hook fork_prepare;	/* NULL: nothing to do */
	fwd_ctl_fork_hook fork_done;	/* NULL: nothing to do */
	unsigned max_workers;		/* 0: FWD_CTL_MAX_WORKERS */
	unsigned work_timeout_ms;	/* 0: FWD_CTL_WORK_TIMEOUT_MS */
	fwd_ctl_logger log;		/* NULL: silent */
	void *ctx;			/* passed to handler and log */
};

/*
 * Creates the directory and the socket and starts listening. A socket
 * left at path by a dead daemon (connect refused) is replaced; a live one
 * gives -EADDRINUSE; a path that is not a socket gives -EEXIST and is left
 * alone; -ENAMETOOLONG for a path that does not fit sun_path; -ENOENT
 * for a socket_group that does not exist. An admin or read group that
 * does not exist is logged and treated as unset (it grants nothing, and
 * root keeps its socket). *out only on success.
 */
int fwd_ctl_server_new(const struct fwd_ctl_config *cfg, struct fwd_ctl_server **out);
/* Closes every connection, removes the socket if it is still ours. Accepts NULL. */
void fwd_ctl_server_free(struct fwd_ctl_server *srv);

/* The one fd to watch for EPOLLIN. */
int fwd_ctl_server_fd(const struct fwd_ctl_server *srv);
/* Does the ready work. 0, or -errno if the server's own epoll failed. */
int fwd_ctl_server_dispatch(struct fwd_ctl_server *srv);

/*
 * Changes the configured groups: the daemon calls it after every policy
 * change that succeeded, so taking a group out of [control] revokes it.
 * A group that does not exist (-ENOENT) or cannot be resolved is logged
 * and grants nothing, as at start; the other one is set all the same.
 * When the groups differ from before, every connected client gets the
 * role it has now: a request not yet complete is judged by the new role
 * (refused if the role is gone), never by the one it had at accept.
 * Returns 0 or the first resolution error.
 */
int fwd_ctl_server_set_groups(struct fwd_ctl_server *srv, const char *admin_group,
			      const char *read_group);

struct fwd_ctl_stats {
	unsigned clients;		/* open now */
	unsigned long long served;	/* handler called, response sent */
	unsigned long long busy;	/* refused for load */
	unsigned long long timeouts;	/* dropped as too slow */
	unsigned long long malformed;	/* bad requests */
	unsigned long long dropped;	/* went away before the response was out */
	unsigned working;		/* queries being answered by a child now */
	unsigned waiting;		/* queries queued for a child now */
	unsigned long long offloaded;	/* children started */
	unsigned long long worker_failures;	/* children that died, timed out,
						 * or gave no answer */
};
void fwd_ctl_server_stats(const struct fwd_ctl_server *srv, struct fwd_ctl_stats *st);

/* "none", "read", "admin". */
const char *fwd_ctl_role_name(enum fwd_ctl_role role);

/*
 * The refusal every command uses: replaces resp with status
 * FWD_EXIT_DENIED and "permission denied: fwctl COMMAND needs root or
 * group G; you are uid N (NAME)".
 */
void fwd_ctl_deny(struct fwd_response *resp, const struct fwd_ctl_peer *peer,
		  const char *command, enum fwd_ctl_role needed);
/* true when peer->role >= needed; otherwise fwd_ctl_deny() and false. */
bool fwd_ctl_require(struct fwd_response *resp, const struct fwd_ctl_peer *peer,
		     const char *command, enum fwd_ctl_role needed);

#endif
