// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket server (see control.h for the contract). Each connection
 * is a small state machine: READ (header, then exactly the body the header
 * announced), then WRITE (the encoded response), then closed. Errors found
 * while reading turn into an error response and go to WRITE as well, so
 * every peer that sent something hears why it was refused.
 */
#include "control.h"
#include "worker.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#define EVENTS_PER_DISPATCH	64
#define ACCEPTS_PER_DISPATCH	32
#define ACCEPT_PAUSE_MS		200
#define MAX_PEER_GROUPS		1024
/* A request buffer starts this small and doubles as bytes arrive. */
#define FIRST_CHUNK		4096

/* WAIT: queued for a worker; WORK: a worker computes the answer. */
enum client_state { C_READ, C_WAIT, C_WORK, C_WRITE };

struct client {
	struct client *next, *prev;
	int fd;
	enum client_state state;
	struct fwd_ctl_peer peer;
	uint64_t deadline;		/* monotonic ms */
	/* READ */
	uint8_t hdr[FWD_PROTO_HDR_LEN];
	size_t hdr_got;
	uint8_t *req;			/* the frame so far, header included */
	size_t req_len, req_got;	/* announced length, bytes in req */
	size_t req_cap;			/* bytes allocated for req */
	size_t reserved;		/* bytes counted in srv->pool[pool] */
	unsigned pool;			/* POOL_* the bytes are charged to */
	bool roleless;			/* counted in srv->roleless */
	/* WAIT, WORK */
	unsigned long long queued;	/* place in the queue: lower goes first */
	struct fwd_worker *worker;	/* the child computing the answer */
	/* WRITE */
	uint8_t *out;
	size_t out_len, out_off;
	bool out_mapped;		/* out is a worker's answer (munmap) */
	bool answered;			/* the response is the handler's */
};

/*
 * Request bytes are charged to one of two budgets: admins' (root and the
 * admin group) and everyone else's. A flood by read-role or role-less
 * peers fills only theirs, never the one root needs to get in.
 */
enum { POOL_ADMIN, POOL_OTHER, NPOOLS };

struct pool {
	size_t max, used;
};

/* Log lines any local user can cause at will, each kind rationed (logq). */
enum { LQ_SLOTS, LQ_BUSY, LQ_DENIED, LQ_BAD, LQ_TIMEOUT, LQ_WORKER, NLQ };

struct log_quota {
	uint64_t next;			/* monotonic ms: the next line may go out */
	unsigned long quiet;		/* lines left out since the last one */
};

struct group_cfg {
	char *spec;			/* as configured, for messages; NULL = none */
	gid_t gid;
	char *failed;			/* the spec last found missing, logged once */
};

struct fwd_ctl_server {
	int epfd, lfd, tfd;
	bool accepting;			/* lfd is in epfd */
	uint64_t accept_resume;		/* when paused: monotonic ms, else 0 */
	char *path;
	dev_t sock_dev;
	ino_t sock_ino;
	struct group_cfg admin, read;
	unsigned max_clients, admin_reserve, timeout_ms;
	unsigned roleless;		/* clients accepted without a role */
	struct pool pool[NPOOLS];
	fwd_ctl_handler handler;
	fwd_ctl_logger log;
	void *ctx;
	fwd_ctl_offload offload;
	fwd_ctl_child_init child_init;
	fwd_ctl_fork_hook fork_prepare, fork_done;
	unsigned max_workers, work_timeout_ms;
	unsigned nworkers;		/* slots in use (children not yet reaped) */
	unsigned long long queue_seq;
	struct fwd_worker workers[FWD_CTL_WORKERS_CAP];
	struct client *clients;
	struct fwd_ctl_stats st;
	struct log_quota lq[NLQ];
};

static void logf_(const struct fwd_ctl_server *srv, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void logf_(const struct fwd_ctl_server *srv, int prio, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!srv->log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	srv->log(srv->ctx, prio, msg);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void logq(struct fwd_ctl_server *srv, unsigned kind, int prio, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * What a client can provoke (refusals, bad requests, timeouts) is logged
 * at most once a second per kind, with the number of lines left out: a
 * local user flooding the socket must not flood the journal as well. The
 * stats (fwctl stats) still count every one.
 */
static void logq(struct fwd_ctl_server *srv, unsigned kind, int prio, const char *fmt, ...)
{
	struct log_quota *q = &srv->lq[kind];
	uint64_t now = now_ms();
	char msg[512];
	va_list ap;

	if (!srv->log)
		return;
	if (now < q->next) {
		q->quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (q->quiet)
		logf_(srv, prio, "%s (%lu more like it not logged)", msg, q->quiet);
	else
		logf_(srv, prio, "%s", msg);
	q->quiet = 0;
	q->next = now + 1000;
}

const char *fwd_ctl_role_name(enum fwd_ctl_role role)
{
	switch (role) {
	case FWD_ROLE_ADMIN: return "admin";
	case FWD_ROLE_READ: return "read";
	default: return "none";
	}
}

/* ---- groups and roles ---- */

/* A group given by name, or by number when no group has that name. */
static int group_resolve(const char *spec, struct group_cfg *g)
{
	struct group grp, *res = NULL;
	char buf[4096];
	char *end;
	unsigned long v;

	g->spec = NULL;
	g->gid = (gid_t)-1;
	if (!spec || !*spec)
		return 0;
	if (getgrnam_r(spec, &grp, buf, sizeof(buf), &res) == 0 && res) {
		g->gid = res->gr_gid;
	} else {
		errno = 0;
		v = strtoul(spec, &end, 10);
		if (errno || *end || end == spec || v >= (gid_t)-1)
			return -ENOENT;
		g->gid = (gid_t)v;
	}
	g->spec = strdup(spec);
	return g->spec ? 0 : -ENOMEM;
}

static bool in_groups(gid_t gid, const gid_t *groups, int n)
{
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

static void peer_set_groups(const struct fwd_ctl_server *srv, struct fwd_ctl_peer *peer)
{
	snprintf(peer->admin_group, sizeof(peer->admin_group), "%s",
		 srv->admin.spec ? srv->admin.spec : "");
	snprintf(peer->read_group, sizeof(peer->read_group), "%s",
		 srv->read.spec ? srv->read.spec : "");
}

/*
 * The supplementary groups the connecting process really had, as the
 * kernel recorded them at connect (SO_PEERGROUPS, Linux 4.13+). *out is
 * malloc'd. -ENOPROTOOPT when this kernel cannot tell: only then may the
 * caller fall back to the group database.
 */
static int peer_kernel_groups(int fd, gid_t **out, int *n)
{
	socklen_t len = 64 * sizeof(gid_t);
	gid_t *g = NULL, *ng;

	*out = NULL;
	*n = 0;
	/* ERANGE says how much room it needs; the groups cannot change
	 * under us (they are the connect-time copy), so two rounds do. */
	for (int round = 0; round < 3; round++) {
		ng = realloc(g, len ? len : sizeof(gid_t));
		if (!ng) {
			free(g);
			return -ENOMEM;
		}
		g = ng;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g, &len) == 0) {
			*out = g;
			*n = (int)(len / sizeof(gid_t));
			return 0;
		}
		if (errno != ERANGE)
			break;
	}
	free(g);
	return errno == ERANGE ? -E2BIG : -errno;
}

/*
 * The role of a peer whose credentials are cred and whose supplementary
 * groups are groups[n]: what the process holds, not what the group
 * database says it could hold. A process that dropped a group
 * (setpriv --clear-groups, a service with SupplementaryGroups= unset)
 * does not get the group's rights back through /etc/group.
 */
static enum fwd_ctl_role role_of(const struct fwd_ctl_server *srv, const struct ucred *cred,
				 const gid_t *groups, int n)
{
	if (cred->uid == 0)
		return FWD_ROLE_ADMIN;
	if (srv->admin.spec &&
	    (cred->gid == srv->admin.gid || in_groups(srv->admin.gid, groups, n)))
		return FWD_ROLE_ADMIN;
	if (srv->read.spec &&
	    (cred->gid == srv->read.gid || in_groups(srv->read.gid, groups, n)))
		return FWD_ROLE_READ;
	return FWD_ROLE_NONE;
}

/*
 * Fills pid/uid/gid/name/role for an accepted socket, from the socket
 * alone: it works again later on the same fd (set_groups re-checks the
 * clients already connected). The groups are the kernel's; the group
 * database is asked only on a kernel without SO_PEERGROUPS.
 */
static int peer_identify(const struct fwd_ctl_server *srv, int fd, struct fwd_ctl_peer *peer)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t *groups = NULL, dbgroups[MAX_PEER_GROUPS];
	struct passwd pw, *pwr = NULL;
	char pwbuf[4096];
	int n = 0, ret;

	memset(peer, 0, sizeof(*peer));
	peer_set_groups(srv, peer);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	peer->pid = cred.pid;
	peer->uid = cred.uid;
	peer->gid = cred.gid;
	if (getpwuid_r(cred.uid, &pw, pwbuf, sizeof(pwbuf), &pwr) == 0 && pwr)
		snprintf(peer->name, sizeof(peer->name), "%s", pwr->pw_name);
	ret = peer_kernel_groups(fd, &groups, &n);
	if (ret == -ENOPROTOOPT && pwr) {
		n = MAX_PEER_GROUPS;
		if (getgrouplist(pwr->pw_name, pwr->pw_gid, dbgroups, &n) < 0)
			n = MAX_PEER_GROUPS;	/* truncated: the first ones still count */
		peer->role = role_of(srv, &cred, dbgroups, n);
		return 0;
	}
	/* Groups that cannot be read grant nothing (uid and gid still do). */
	peer->role = role_of(srv, &cred, ret == 0 ? groups : NULL, ret == 0 ? n : 0);
	free(groups);
	return 0;
}

void fwd_ctl_deny(struct fwd_response *resp, const struct fwd_ctl_peer *peer,
		  const char *command, enum fwd_ctl_role needed)
{
	const char *a = peer->admin_group[0] ? peer->admin_group : NULL;
	const char *r = peer->read_group[0] ? peer->read_group : NULL;
	char who[96];

	fwd_response_free(resp);
	resp->status = FWD_EXIT_DENIED;
	if (peer->name[0])
		snprintf(who, sizeof(who), "uid %u (%s)", (unsigned)peer->uid, peer->name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)peer->uid);
	fwd_response_eprintf(resp, "permission denied: fwctl %s needs root", command);
	if (needed == FWD_ROLE_READ && r && a)
		fwd_response_eprintf(resp, " or group %s or %s", r, a);
	else if (needed == FWD_ROLE_READ && r)
		fwd_response_eprintf(resp, " or group %s", r);
	else if (a)
		fwd_response_eprintf(resp, " or group %s", a);
	fwd_response_eprintf(resp, "; you are %s\n", who);
	resp->error = 0;
}

bool fwd_ctl_require(struct fwd_response *resp, const struct fwd_ctl_peer *peer,
		     const char *command, enum fwd_ctl_role needed)
{
	if (peer->role >= needed)
		return true;
	fwd_ctl_deny(resp, peer, command, needed);
	return false;
}

/* ---- clients ---- */

static void client_close(struct fwd_ctl_server *srv, struct client *c)
{
	/* Nobody waits for its answer any more: the child is killed now and
	 * reaped when its pidfd says so. */
	if (c->worker) {
		fwd_worker_kill(c->worker);
		c->worker->owner = NULL;
	}
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	srv->pool[c->pool].used -= c->reserved;
	free(c->req);
	if (c->out_mapped)
		munmap(c->out, c->out_len);
	else
		free(c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->st.clients--;
	if (c->roleless)
		srv->roleless--;
	free(c);
	/* A freed slot or fd is what a paused accept waits for. */
	if (!srv->accepting)
		srv->accept_resume = now_ms();
}

/* Frees the request buffer and gives its bytes back to the budget. */
static void client_drop_request(struct fwd_ctl_server *srv, struct client *c)
{
	srv->pool[c->pool].used -= c->reserved;
	c->reserved = 0;
	free(c->req);
	c->req = NULL;
	c->req_len = c->req_got = c->req_cap = 0;
}

static unsigned pool_of(enum fwd_ctl_role role)
{
	return role == FWD_ROLE_ADMIN ? POOL_ADMIN : POOL_OTHER;
}

/* The largest frame a peer of this role may send. */
static size_t frame_cap(enum fwd_ctl_role role)
{
	return role == FWD_ROLE_NONE ? FWD_CTL_NONE_MAX_FRAME
				     : FWD_PROTO_HDR_LEN + (size_t)FWD_PROTO_MAX_REQUEST;
}

/*
 * Room for the next bytes of the frame. The buffer grows with what has
 * arrived (doubling, up to the announced length) and only what it holds
 * is charged to the client's pool: announcing a large frame costs
 * nothing until the bytes come. -EBUSY when the pool cannot take more.
 */
static int client_grow(struct fwd_ctl_server *srv, struct client *c)
{
	struct pool *pl = &srv->pool[c->pool];
	size_t ncap, more;
	uint8_t *nb;

	if (c->req_got < c->req_cap)
		return 0;
	ncap = c->req_cap ? c->req_cap * 2 : FIRST_CHUNK;
	if (ncap > c->req_len)
		ncap = c->req_len;
	more = ncap - c->req_cap;
	if (pl->used > pl->max || more > pl->max - pl->used)
		return -EBUSY;
	nb = realloc(c->req, ncap);
	if (!nb)
		return -ENOMEM;
	c->req = nb;
	c->req_cap = ncap;
	pl->used += more;
	c->reserved += more;
	return 0;
}

/* Encodes resp; if even that fails, a fixed frame says so. */
static int encode_or_fallback(struct fwd_response *resp, uint8_t **buf, size_t *len)
{
	int ret = fwd_response_encode(resp, buf, len);

	if (ret < 0) {
		fwd_response_fail(resp, FWD_EXIT_FAIL, "cannot send the response: %s",
				  strerror(-ret));
		ret = fwd_response_encode(resp, buf, len);
	}
	return ret;
}

/* Returns 1 when everything is out, 0 on EAGAIN, -errno when the peer is gone. */
static int client_flush(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		c->out_off += (size_t)n;
	}
	return 1;
}

static void client_send(struct fwd_ctl_server *srv, struct client *c);

/*
 * Moves c to WRITE with resp as its answer and sends what the socket
 * takes now. May free c.
 */
static void client_respond(struct fwd_ctl_server *srv, struct client *c,
			   struct fwd_response *resp)
{
	int ret;

	client_drop_request(srv, c);
	ret = encode_or_fallback(resp, &c->out, &c->out_len);
	if (ret < 0) {
		logf_(srv, LOG_ERR, "%s: cannot encode a response: %s", __func__,
		      strerror(-ret));
		client_close(srv, c);
		return;
	}
	c->out_mapped = false;
	client_send(srv, c);
}

/* c->out holds the encoded answer: WRITE, and what the socket takes now.
 * May free c. */
static void client_send(struct fwd_ctl_server *srv, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int ret;

	c->out_off = 0;
	c->state = C_WRITE;
	/*
	 * A large answer gets longer, at a floor of 1 MB/s: enough for any
	 * fwctl, not enough for a peer that reads a byte now and then to
	 * hold a big buffer for long.
	 */
	c->deadline = now_ms() + srv->timeout_ms + c->out_len / 1000;
	ret = client_flush(c);
	if (ret != 0) {
		if (ret < 0) {
			srv->st.dropped++;
			logf_(srv, LOG_DEBUG, "%s: pid %d went away before its response: %s",
			      __func__, (int)c->peer.pid, strerror(-ret));
		} else if (c->answered) {
			srv->st.served++;
		}
		client_close(srv, c);
		return;
	}
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		logf_(srv, LOG_ERR, "%s: epoll_ctl: %s", __func__, strerror(errno));
		client_close(srv, c);
	}
}

static void client_error(struct fwd_ctl_server *srv, struct client *c, uint8_t status,
			 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void client_error(struct fwd_ctl_server *srv, struct client *c, uint8_t status,
			 const char *fmt, ...)
{
	struct fwd_response resp;
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fwd_response_init(&resp);
	fwd_response_fail(&resp, status, "%s", msg);
	client_respond(srv, c, &resp);
	fwd_response_free(&resp);
}

/* client_grow failed: answer busy (the pool is full) or out of memory. */
static void client_refuse_room(struct fwd_ctl_server *srv, struct client *c, int err)
{
	if (err == -ENOMEM) {
		client_error(srv, c, FWD_EXIT_FAIL, "out of memory");
		return;
	}
	srv->st.busy++;
	logq(srv, LQ_BUSY, LOG_WARNING, "%s: busy: %zu request bytes held for %s peers,"
	     " pid %d uid %u sends more", __func__, srv->pool[c->pool].used,
	     c->pool == POOL_ADMIN ? "admin" : "other", (int)c->peer.pid,
	     (unsigned)c->peer.uid);
	client_error(srv, c, FWD_EXIT_BUSY, "busy: too many large requests at once; try again");
}

/*
 * A peer without a role sent (or announced) more than it may: refused at
 * once, with the same kind of message a command it may not run gets.
 */
static void client_too_large(struct fwd_ctl_server *srv, struct client *c)
{
	const struct fwd_ctl_peer *p = &c->peer;
	struct fwd_response resp;
	char who[96], groups[160] = "";

	logq(srv, LQ_DENIED, LOG_NOTICE, "%s: refusing a %zu-byte request from pid %d"
	     " uid %u: no role, limit %u bytes", __func__, c->req_len, (int)p->pid,
	     (unsigned)p->uid, FWD_CTL_NONE_MAX_FRAME);
	if (p->name[0])
		snprintf(who, sizeof(who), "uid %u (%s)", (unsigned)p->uid, p->name);
	else
		snprintf(who, sizeof(who), "uid %u", (unsigned)p->uid);
	if (p->read_group[0] && p->admin_group[0])
		snprintf(groups, sizeof(groups), " or group %s or %s", p->read_group,
			 p->admin_group);
	else if (p->read_group[0] || p->admin_group[0])
		snprintf(groups, sizeof(groups), " or group %s",
			 p->read_group[0] ? p->read_group : p->admin_group);
	fwd_response_init(&resp);
	fwd_response_fail(&resp, FWD_EXIT_DENIED, "permission denied: a request of %zu bytes"
			  " needs root%s (others may send %u bytes); you are %s",
			  c->req_len, groups, FWD_CTL_NONE_MAX_FRAME, who);
	client_respond(srv, c, &resp);
	fwd_response_free(&resp);
}

/* The handler's answer to req, as the peer gets it (in the loop or in a
 * worker alike). */
static void run_handler(struct fwd_ctl_server *srv, const struct fwd_ctl_peer *peer,
			const struct fwd_request *req, struct fwd_response *resp)
{
	int ret;

	fwd_response_init(resp);
	ret = srv->handler(srv->ctx, peer, req, resp);
	if (ret < 0)
		fwd_response_fail(resp, FWD_EXIT_FAIL, "internal error: %s", strerror(-ret));
	else if (resp->error == -EMSGSIZE)
		fwd_response_fail(resp, FWD_EXIT_FAIL, "the answer is larger than %u bytes;"
				  " narrow the query", FWD_PROTO_MAX_RESPONSE);
	else if (resp->error)
		fwd_response_fail(resp, FWD_EXIT_FAIL, "cannot build the answer: %s",
				  strerror(-resp->error));
}

/* req answered here, in the loop. May free c. */
static void client_answer(struct fwd_ctl_server *srv, struct client *c,
			  const struct fwd_request *req)
{
	struct fwd_response resp;

	run_handler(srv, &c->peer, req, &resp);
	c->answered = true;
	client_respond(srv, c, &resp);
	fwd_response_free(&resp);
}

static void client_offload(struct fwd_ctl_server *srv, struct client *c);

/* The whole frame is in c->req: decode, call the handler, answer. */
static void client_handle(struct fwd_ctl_server *srv, struct client *c)
{
	struct fwd_request req;
	char why[256];
	bool offload;
	int ret;

	ret = fwd_request_decode(c->req, c->req_len, &req, why, sizeof(why));
	if (ret < 0) {
		srv->st.malformed++;
		logq(srv, LQ_BAD, LOG_NOTICE, "%s: bad request from pid %d uid %u: %s",
		     __func__, (int)c->peer.pid, (unsigned)c->peer.uid, why);
		client_error(srv, c, ret == -ENOMEM ? FWD_EXIT_FAIL : FWD_EXIT_PROTO,
			     "bad request: %s", why);
		return;
	}
	/* The group names may have changed since accept (set_groups). */
	peer_set_groups(srv, &c->peer);
	offload = srv->offload && srv->offload(srv->ctx, &c->peer, &req);
	if (offload) {
		/* The frame stays (and stays charged to the budget) until a
		 * worker takes it: a queue of requests costs their bytes. */
		fwd_request_free(&req);
		client_offload(srv, c);
		return;
	}
	client_drop_request(srv, c);
	client_answer(srv, c, &req);
	fwd_request_free(&req);
}

/* ---- workers: slow queries answered by a forked child ---- */

struct child_arg {
	struct fwd_ctl_server *srv;
	const struct fwd_ctl_peer *peer;
	const struct fwd_request *req;
};

/*
 * In the child (worker.h's rules): no logging, no freeing; the process
 * ends with the answer written. The server's sockets are closed here
 * already (worker.c keeps none of the parent's fds): the server is not to
 * be used.
 */
static int child_main(void *arg, int out_fd)
{
	const struct child_arg *a = arg;
	struct fwd_ctl_server *srv = a->srv;
	struct fwd_response resp;
	uint8_t *buf;
	size_t len;
	int ret;

	if (srv->fork_done)
		srv->fork_done(srv->ctx);
	ret = srv->child_init ? srv->child_init(srv->ctx) : 0;
	if (ret < 0) {
		fwd_response_init(&resp);
		fwd_response_fail(&resp, FWD_EXIT_FAIL, "internal error: %s", strerror(-ret));
	} else {
		run_handler(srv, a->peer, a->req, &resp);
	}
	ret = encode_or_fallback(&resp, &buf, &len);
	if (ret < 0)
		return ret;
	return fwd_write_all(out_fd, buf, len);
}

static struct fwd_worker *worker_slot(struct fwd_ctl_server *srv)
{
	for (unsigned i = 0; i < srv->max_workers; i++)
		if (srv->workers[i].pid == 0)
			return &srv->workers[i];
	return NULL;
}

/*
 * Hands c's request to a new child. When no child can be made, the request
 * is answered here after all: slow, but never wrong. May free c.
 */
static void work_start(struct fwd_ctl_server *srv, struct client *c,
		       struct fwd_worker *w)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct fwd_request req;
	struct child_arg a = { .srv = srv, .peer = &c->peer, .req = &req };
	char why[256];
	int ret;

	/* It decoded once already; only memory can fail it now. */
	ret = fwd_request_decode(c->req, c->req_len, &req, why, sizeof(why));
	if (ret < 0) {
		client_error(srv, c, FWD_EXIT_FAIL, "bad request: %s", why);
		return;
	}
	peer_set_groups(srv, &c->peer);
	if (srv->fork_prepare)
		srv->fork_prepare(srv->ctx);
	ret = fwd_worker_start(w, child_main, &a);
	if (srv->fork_done)
		srv->fork_done(srv->ctx);
	if (ret == 0) {
		ev.data.ptr = w;
		if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, w->pidfd, &ev) < 0) {
			ret = -errno;
			fwd_worker_release(w);
		}
	}
	client_drop_request(srv, c);
	if (ret < 0) {
		logq(srv, LQ_WORKER, LOG_WARNING, "%s: cannot start a worker: %s; answering"
		     " pid %d in the loop", __func__, strerror(-ret), (int)c->peer.pid);
		client_answer(srv, c, &req);
		fwd_request_free(&req);
		return;
	}
	fwd_request_free(&req);
	w->owner = c;
	c->worker = w;
	c->state = C_WORK;
	c->deadline = now_ms() + srv->work_timeout_ms;
	srv->nworkers++;
	srv->st.offloaded++;
}

/* The next request to hand to a worker: admins' first, then the oldest. */
static struct client *queue_next(struct fwd_ctl_server *srv)
{
	struct client *best = NULL;

	for (struct client *c = srv->clients; c; c = c->next) {
		bool admin = c->peer.role == FWD_ROLE_ADMIN;

		if (c->state != C_WAIT)
			continue;
		if (!best || (admin && best->peer.role != FWD_ROLE_ADMIN) ||
		    (admin == (best->peer.role == FWD_ROLE_ADMIN) && c->queued < best->queued))
			best = c;
	}
	return best;
}

/* Starts queued requests while there are free slots. */
static void workers_run(struct fwd_ctl_server *srv)
{
	struct fwd_worker *w;
	struct client *c;

	while ((w = worker_slot(srv)) && (c = queue_next(srv)))
		work_start(srv, c, w);
}

/* c's request is for a worker: queue it (the peer is only watched for
 * hanging up meanwhile), then start what the free slots allow. */
static void client_offload(struct fwd_ctl_server *srv, struct client *c)
{
	struct epoll_event ev = { .events = 0, .data.ptr = c };

	c->state = C_WAIT;
	c->queued = ++srv->queue_seq;
	/* No deadline while queued: the workers ahead are bounded. */
	c->deadline = UINT64_MAX;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
		logf_(srv, LOG_ERR, "%s: epoll_ctl: %s", __func__, strerror(errno));
		client_close(srv, c);
		return;
	}
	workers_run(srv);
}

/* Checks that a worker's answer is one whole response frame. */
static bool answer_ok(const void *buf, size_t len)
{
	size_t flen;

	return len >= FWD_PROTO_HDR_LEN &&
	       fwd_frame_check(buf, FWD_PROTO_HDR_LEN, FWD_FRAME_RESPONSE, &flen,
			       NULL, 0) == 0 && flen == len;
}

/* A worker's pidfd is readable: its child has exited. */
static void worker_done(struct fwd_ctl_server *srv, struct fwd_worker *w)
{
	struct client *c = w->owner;
	void *buf = NULL;
	size_t len = 0;
	char st[64];
	int status = 0, ret;

	if (w->pid <= 0)
		return;		/* a stale event of a slot already let go */
	ret = fwd_worker_reap(w, &status);
	if (ret == -EAGAIN)
		return;		/* not yet: the pidfd says so again */
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, w->pidfd, NULL);
	if (ret == 0 && c && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ret = fwd_worker_answer(w, &buf, &len);
		if (ret == 0 && !answer_ok(buf, len)) {
			munmap(buf, len);
			ret = -EBADMSG;
		}
	} else if (ret == 0) {
		ret = -ECHILD;
	}
	if (c) {
		c->worker = NULL;
		c->answered = true;
		if (ret == 0) {
			c->out = buf;
			c->out_len = len;
			c->out_mapped = true;
			client_send(srv, c);
		} else {
			srv->st.worker_failures++;
			fwd_worker_status_text(status, st, sizeof(st));
			logq(srv, LQ_WORKER, LOG_ERR, "%s: the worker answering pid %d failed:"
			     " %s", __func__, (int)c->peer.pid,
			     ret == -ECHILD ? st : strerror(-ret));
			client_error(srv, c, FWD_EXIT_FAIL, "internal error: the process "
				     "computing this answer failed (%s); the daemon goes on",
				     ret == -ECHILD ? st : strerror(-ret));
		}
	}
	fwd_worker_release(w);
	srv->nworkers--;
	workers_run(srv);
}

/* A worker past its time: killed, its client told. May free c. */
static void work_timeout(struct fwd_ctl_server *srv, struct client *c)
{
	fwd_worker_kill(c->worker);
	c->worker->owner = NULL;
	c->worker = NULL;
	srv->st.timeouts++;
	srv->st.worker_failures++;
	logq(srv, LQ_TIMEOUT, LOG_WARNING, "%s: the answer to pid %d uid %u took over %u ms;"
	     " stopped", __func__, (int)c->peer.pid, (unsigned)c->peer.uid,
	     srv->work_timeout_ms);
	c->answered = true;
	client_error(srv, c, FWD_EXIT_FAIL, "the answer took longer than %u ms and was "
		     "stopped; narrow the query", srv->work_timeout_ms);
}

/*
 * The header is complete: check it against what this peer may send, then
 * start the frame's buffer. false when c was answered instead.
 */
static bool client_header(struct fwd_ctl_server *srv, struct client *c)
{
	char why[256];
	size_t frame_len;
	int ret;

	ret = fwd_frame_check(c->hdr, FWD_PROTO_HDR_LEN, FWD_FRAME_REQUEST,
			      &frame_len, why, sizeof(why));
	if (ret < 0) {
		srv->st.malformed++;
		logq(srv, LQ_BAD, LOG_NOTICE, "%s: bad request from pid %d uid %u: %s",
		     __func__, (int)c->peer.pid, (unsigned)c->peer.uid, why);
		client_error(srv, c, FWD_EXIT_PROTO, "bad request: %s", why);
		return false;
	}
	c->req_len = frame_len;
	if (frame_len > frame_cap(c->peer.role)) {
		client_too_large(srv, c);
		return false;
	}
	/* A frame larger than the whole pool could never complete. */
	ret = frame_len > srv->pool[c->pool].max ? -EBUSY : client_grow(srv, c);
	if (ret < 0) {
		client_refuse_room(srv, c, ret);
		return false;
	}
	memcpy(c->req, c->hdr, FWD_PROTO_HDR_LEN);
	c->req_got = FWD_PROTO_HDR_LEN;
	return true;
}

/*
 * Reads what is there. Returns true while c is still waiting for more of
 * its request; false when it moved on (answered, refused) or was freed.
 */
static bool client_read(struct fwd_ctl_server *srv, struct client *c)
{
	for (;;) {
		uint8_t *dst;
		size_t want;
		ssize_t n;
		int ret;

		if (c->hdr_got < FWD_PROTO_HDR_LEN) {
			dst = c->hdr + c->hdr_got;
			want = FWD_PROTO_HDR_LEN - c->hdr_got;
		} else {
			/* The role may have gone since the header (set_groups). */
			if (c->req_len > frame_cap(c->peer.role)) {
				client_too_large(srv, c);
				return false;
			}
			ret = client_grow(srv, c);
			if (ret < 0) {
				client_refuse_room(srv, c, ret);
				return false;
			}
			dst = c->req + c->req_got;
			want = c->req_cap - c->req_got;
		}
		n = recv(c->fd, dst, want, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return true;
			srv->st.dropped++;
			client_close(srv, c);
			return false;
		}
		if (n == 0) {
			/* Nothing sent at all is a probe (e.g. a stale-socket check). */
			if (c->hdr_got == 0) {
				client_close(srv, c);
				return false;
			}
			srv->st.malformed++;
			client_error(srv, c, FWD_EXIT_PROTO,
				     "bad request: truncated, the connection closed after %zu bytes",
				     c->hdr_got < FWD_PROTO_HDR_LEN ? c->hdr_got : c->req_got);
			return false;
		}
		if (c->hdr_got < FWD_PROTO_HDR_LEN) {
			c->hdr_got += (size_t)n;
			if (c->hdr_got < FWD_PROTO_HDR_LEN)
				continue;
			if (!client_header(srv, c))
				return false;
		} else {
			c->req_got += (size_t)n;
		}
		/* An empty body is complete with its header. */
		if (c->req_got == c->req_len) {
			client_handle(srv, c);
			return false;
		}
	}
}

static void client_event(struct fwd_ctl_server *srv, struct client *c, uint32_t events)
{
	int ret;

	if (c->state == C_READ) {
		/* EPOLLHUP/ERR with data pending still reads it first. */
		(void)client_read(srv, c);
		return;
	}
	if (c->state == C_WAIT || c->state == C_WORK) {
		/* Only a hang-up is watched for: the peer left before its
		 * answer; its worker, if any, is killed (client_close). */
		srv->st.dropped++;
		client_close(srv, c);
		return;
	}
	ret = client_flush(c);
	if (ret == 0 && !(events & (EPOLLHUP | EPOLLERR)))
		return;
	if (ret < 0 || ret == 0)
		srv->st.dropped++;
	else if (c->answered)
		srv->st.served++;
	client_close(srv, c);
}

/*
 * Drops every client past its deadline, with a last best-effort answer.
 * What a client did send before its deadline still counts: a daemon busy
 * elsewhere (a long apply) must not blame its clients for its own delay,
 * so each one gets a last read or write before the verdict.
 */
static void sweep_timeouts(struct fwd_ctl_server *srv, uint64_t now)
{
	struct client *c = srv->clients, *next;

	for (; c; c = next) {
		next = c->next;	/* only c itself may be freed below */
		if (c->deadline > now)
			continue;
		if (c->state == C_WORK) {
			work_timeout(srv, c);
			continue;
		}
		if (c->state == C_READ && !client_read(srv, c))
			continue;
		if (c->state == C_WRITE) {
			int ret = client_flush(c);

			if (ret != 0) {
				if (ret > 0 && c->answered)
					srv->st.served++;
				else
					srv->st.dropped++;
				client_close(srv, c);
				continue;
			}
		}
		srv->st.timeouts++;
		logq(srv, LQ_TIMEOUT, LOG_NOTICE, "%s: dropping pid %d uid %u: %s timed out"
		     " after %u ms", __func__, (int)c->peer.pid, (unsigned)c->peer.uid,
		     c->state == C_READ ? "request" : "response", srv->timeout_ms);
		if (c->state == C_READ && c->hdr_got > 0) {
			struct fwd_response resp;
			uint8_t *buf;
			size_t len;

			fwd_response_init(&resp);
			fwd_response_fail(&resp, FWD_EXIT_BUSY,
					  "request timed out: not complete after %u ms",
					  srv->timeout_ms);
			if (fwd_response_encode(&resp, &buf, &len) == 0) {
				if (send(c->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
					(void)0;	/* it tried; the close says the rest */
				free(buf);
			}
			fwd_response_free(&resp);
		}
		client_close(srv, c);
	}
}

/* ---- accepting ---- */

static void accept_pause(struct fwd_ctl_server *srv, int err)
{
	logf_(srv, LOG_WARNING, "%s: accept: %s; pausing new connections for %d ms",
	      __func__, strerror(err), ACCEPT_PAUSE_MS);
	epoll_ctl(srv->epfd, EPOLL_CTL_DEL, srv->lfd, NULL);
	srv->accepting = false;
	srv->accept_resume = now_ms() + ACCEPT_PAUSE_MS;
}

static void accept_resume(struct fwd_ctl_server *srv, uint64_t now)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &srv->lfd };

	if (srv->accepting || srv->accept_resume > now)
		return;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev) < 0) {
		srv->accept_resume = now + ACCEPT_PAUSE_MS;
		return;
	}
	srv->accepting = true;
	srv->accept_resume = 0;
}

/* A one-shot refusal on a socket that never becomes a client. */
static void refuse(int fd, uint8_t status, const char *msg)
{
	struct fwd_response resp;
	uint8_t *buf;
	size_t len;

	fwd_response_init(&resp);
	fwd_response_fail(&resp, status, "%s", msg);
	if (fwd_response_encode(&resp, &buf, &len) == 0) {
		/* A fresh socket's buffer takes a frame this small at once. */
		if (send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			(void)0;
		free(buf);
	}
	fwd_response_free(&resp);
	close(fd);
}

static void accept_one(struct fwd_ctl_server *srv, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct fwd_ctl_peer peer;
	struct client *c;
	unsigned limit;
	int ret;

	ret = peer_identify(srv, fd, &peer);
	if (ret < 0) {
		logf_(srv, LOG_WARNING, "%s: SO_PEERCRED: %s", __func__, strerror(-ret));
		close(fd);
		return;
	}
	limit = srv->max_clients;
	if (peer.role != FWD_ROLE_ADMIN)
		limit -= srv->admin_reserve;
	/*
	 * Callers without a role are refused whatever they ask; they get half
	 * of the slots left at most, so that their flood does not keep the
	 * read role out either.
	 */
	if (peer.role == FWD_ROLE_NONE && srv->roleless >= limit / 2) {
		srv->st.busy++;
		logq(srv, LQ_SLOTS, LOG_WARNING, "%s: busy: %u clients without a role,"
		     " refusing pid %d uid %u", __func__, srv->roleless, (int)peer.pid,
		     (unsigned)peer.uid);
		refuse(fd, FWD_EXIT_BUSY, "busy: too many clients at once; try again");
		return;
	}
	if (srv->st.clients >= limit) {
		srv->st.busy++;
		logq(srv, LQ_SLOTS, LOG_WARNING, "%s: busy: %u clients, refusing pid %d uid %u",
		     __func__, srv->st.clients, (int)peer.pid, (unsigned)peer.uid);
		refuse(fd, FWD_EXIT_BUSY, "busy: too many clients at once; try again");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		refuse(fd, FWD_EXIT_FAIL, "out of memory");
		return;
	}
	c->fd = fd;
	c->peer = peer;
	c->pool = pool_of(peer.role);
	c->state = C_READ;
	c->deadline = now_ms() + srv->timeout_ms;
	ev.data.ptr = c;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		logf_(srv, LOG_ERR, "%s: epoll_ctl: %s", __func__, strerror(errno));
		free(c);
		refuse(fd, FWD_EXIT_FAIL, "internal error");
		return;
	}
	c->next = srv->clients;
	if (c->next)
		c->next->prev = c;
	srv->clients = c;
	srv->st.clients++;
	c->roleless = peer.role == FWD_ROLE_NONE;
	srv->roleless += c->roleless;
	/* The request is usually there already: save a trip through epoll. */
	(void)client_read(srv, c);
}

static void accept_some(struct fwd_ctl_server *srv)
{
	for (int i = 0; i < ACCEPTS_PER_DISPATCH; i++) {
		int fd = accept4(srv->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			switch (errno) {
			case EAGAIN:
#if EAGAIN != EWOULDBLOCK
			case EWOULDBLOCK:
#endif
				return;
			case EINTR:
			case ECONNABORTED:
			case EPROTO:
				continue;
			case EMFILE:
			case ENFILE:
			case ENOBUFS:
			case ENOMEM:
				accept_pause(srv, errno);
				return;
			default:
				logf_(srv, LOG_ERR, "%s: accept: %s", __func__, strerror(errno));
				accept_pause(srv, errno);
				return;
			}
		}
		accept_one(srv, fd);
	}
}

/* ---- timer ---- */

static void timer_rearm(struct fwd_ctl_server *srv)
{
	struct itimerspec its = { 0 };
	uint64_t next = 0;

	for (struct client *c = srv->clients; c; c = c->next)
		if (c->state != C_WAIT && (!next || c->deadline < next))
			next = c->deadline;
	if (!srv->accepting && srv->accept_resume && (!next || srv->accept_resume < next))
		next = srv->accept_resume;
	if (next) {
		/* 0 would disarm: an overdue deadline fires in 1 ns instead. */
		its.it_value.tv_sec = (time_t)(next / 1000);
		its.it_value.tv_nsec = (long)(next % 1000) * 1000000 + 1;
	}
	timerfd_settime(srv->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

int fwd_ctl_server_dispatch(struct fwd_ctl_server *srv)
{
	struct epoll_event evs[EVENTS_PER_DISPATCH];
	/* Deadlines are judged against the time we started looking, not the
	 * time after the handlers ran. */
	uint64_t now = now_ms();
	int n;

	n = epoll_wait(srv->epfd, evs, EVENTS_PER_DISPATCH, 0);
	if (n < 0 && errno != EINTR)
		return -errno;
	for (int i = 0; i < n; i++) {
		void *p = evs[i].data.ptr;

		if (p == &srv->lfd) {
			if (srv->accepting)
				accept_some(srv);
		} else if (p == &srv->tfd) {
			uint64_t ticks;

			if (read(srv->tfd, &ticks, sizeof(ticks)) < 0)
				(void)0;	/* EAGAIN: nothing to clear */
		} else if ((struct fwd_worker *)p >= srv->workers &&
			   (struct fwd_worker *)p < srv->workers + FWD_CTL_WORKERS_CAP) {
			worker_done(srv, p);
		} else {
			client_event(srv, p, evs[i].events);
		}
	}
	sweep_timeouts(srv, now);
	accept_resume(srv, now_ms());
	timer_rearm(srv);
	return 0;
}

/* ---- setup ---- */

static int mkdir_p(const char *dir, mode_t mode)
{
	char *tmp = strdup(dir);
	int ret = 0;

	if (!tmp)
		return -ENOMEM;
	for (char *p = tmp + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;

		*p = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST) {
			ret = -errno;
			break;
		}
		*p = save;
		if (!save)
			break;
	}
	free(tmp);
	return ret;
}

/* 0 when path is free now, -EADDRINUSE if a server answers there. */
static int clear_stale(const struct fwd_ctl_server *srv, const struct sockaddr_un *sa)
{
	struct stat st;
	int fd, ret;

	if (lstat(sa->sun_path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		logf_(srv, LOG_ERR, "%s: %s exists and is not a socket; not touching it",
		      __func__, sa->sun_path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	ret = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	if (ret == 0 || errno == EAGAIN || errno == EINPROGRESS) {
		close(fd);
		logf_(srv, LOG_ERR, "%s: another server is listening on %s", __func__,
		      sa->sun_path);
		return -EADDRINUSE;
	}
	ret = errno;
	close(fd);
	if (ret != ECONNREFUSED)
		return -ret;
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return -errno;
	logf_(srv, LOG_INFO, "%s: removed the stale socket %s", __func__, sa->sun_path);
	return 0;
}

static int server_listen(struct fwd_ctl_server *srv, const struct fwd_ctl_config *cfg)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct group_cfg sgrp = { 0 };
	struct stat st;
	char *dir, *slash;
	int ret;

	if (strlen(cfg->path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, cfg->path);
	dir = strdup(cfg->path);
	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	ret = 0;
	if (slash && slash != dir) {
		*slash = '\0';
		ret = mkdir_p(dir, 0755);
	}
	free(dir);
	if (ret < 0)
		return ret;
	ret = clear_stale(srv, &sa);
	if (ret < 0)
		return ret;
	ret = group_resolve(cfg->socket_group, &sgrp);
	if (ret < 0)
		return ret;
	srv->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (srv->lfd < 0) {
		ret = -errno;
		goto out;
	}
	if (bind(srv->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		goto out;
	}
	/*
	 * Permissions before listen(): until listen, connects are refused,
	 * so nobody gets in through the umask's mode in between.
	 */
	if (chmod(cfg->path, cfg->mode ? cfg->mode : 0666) < 0 ||
	    (sgrp.spec && chown(cfg->path, (uid_t)-1, sgrp.gid) < 0) ||
	    stat(cfg->path, &st) < 0) {
		ret = -errno;
		unlink(cfg->path);
		goto out;
	}
	srv->sock_dev = st.st_dev;
	srv->sock_ino = st.st_ino;
	if (listen(srv->lfd, SOMAXCONN) < 0) {
		ret = -errno;
		unlink(cfg->path);
		goto out;
	}
	ret = 0;
out:
	free(sgrp.spec);
	return ret;
}

int fwd_ctl_server_new(const struct fwd_ctl_config *cfg, struct fwd_ctl_server **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct fwd_ctl_server *srv;
	int ret;

	if (!cfg->path || !*cfg->path || !cfg->handler)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->epfd = srv->lfd = srv->tfd = -1;
	srv->handler = cfg->handler;
	srv->log = cfg->log;
	srv->ctx = cfg->ctx;
	srv->max_clients = cfg->max_clients ? cfg->max_clients : FWD_CTL_MAX_CLIENTS;
	srv->admin_reserve = srv->max_clients / 16;
	srv->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : FWD_CTL_TIMEOUT_MS;
	srv->offload = cfg->offload;
	srv->child_init = cfg->child_init;
	srv->fork_prepare = cfg->fork_prepare;
	srv->fork_done = cfg->fork_done;
	srv->max_workers = cfg->max_workers ? cfg->max_workers : FWD_CTL_MAX_WORKERS;
	if (srv->max_workers > FWD_CTL_WORKERS_CAP)
		srv->max_workers = FWD_CTL_WORKERS_CAP;
	srv->work_timeout_ms = cfg->work_timeout_ms ? cfg->work_timeout_ms
						    : FWD_CTL_WORK_TIMEOUT_MS;
	/* Admins get the whole budget; everyone else a quarter of it, apart:
	 * queries are small, and a role-less peer gets a few KiB at most. */
	srv->pool[POOL_ADMIN].max = cfg->max_buffered ? cfg->max_buffered
						      : FWD_CTL_MAX_BUFFERED;
	srv->pool[POOL_OTHER].max = srv->pool[POOL_ADMIN].max / 4;
	/*
	 * A group that does not exist grants nothing; it must not cost root
	 * its control socket either (a typo in the config would leave the
	 * firewall without fwctl), so it is logged and left unset.
	 */
	ret = group_resolve(cfg->admin_group, &srv->admin);
	if (ret == -ENOENT) {
		logf_(srv, LOG_ERR, "%s: admin group '%s' does not exist; only root may"
		      " change the policy", __func__, cfg->admin_group);
		srv->admin.failed = strdup(cfg->admin_group);
	} else if (ret < 0) {
		goto fail;
	}
	ret = group_resolve(cfg->read_group, &srv->read);
	if (ret == -ENOENT) {
		logf_(srv, LOG_ERR, "%s: read group '%s' does not exist; queries need"
		      " root or the admin group", __func__, cfg->read_group);
		srv->read.failed = strdup(cfg->read_group);
	} else if (ret < 0) {
		goto fail;
	}
	srv->path = strdup(cfg->path);
	if (!srv->path) {
		ret = -ENOMEM;
		goto fail;
	}
	srv->epfd = epoll_create1(EPOLL_CLOEXEC);
	srv->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (srv->epfd < 0 || srv->tfd < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.ptr = &srv->tfd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->tfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = server_listen(srv, cfg);
	if (ret < 0)
		goto fail;
	ev.data.ptr = &srv->lfd;
	if (epoll_ctl(srv->epfd, EPOLL_CTL_ADD, srv->lfd, &ev) < 0) {
		ret = -errno;
		unlink(srv->path);
		goto fail;
	}
	srv->accepting = true;
	*out = srv;
	return 0;
fail:
	/* Nothing bound that free() would mistake for ours. */
	srv->sock_ino = 0;
	free(srv->path);
	srv->path = NULL;
	fwd_ctl_server_free(srv);
	return ret;
}

void fwd_ctl_server_free(struct fwd_ctl_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	while (srv->clients)
		client_close(srv, srv->clients);
	/* Killed with their clients above; reaped here, every one. */
	for (unsigned i = 0; i < FWD_CTL_WORKERS_CAP; i++)
		fwd_worker_release(&srv->workers[i]);
	/* Remove the socket only if it is still the one we bound. */
	if (srv->path && srv->sock_ino && lstat(srv->path, &st) == 0 &&
	    st.st_dev == srv->sock_dev && st.st_ino == srv->sock_ino)
		unlink(srv->path);
	if (srv->lfd >= 0)
		close(srv->lfd);
	if (srv->tfd >= 0)
		close(srv->tfd);
	if (srv->epfd >= 0)
		close(srv->epfd);
	free(srv->admin.spec);
	free(srv->admin.failed);
	free(srv->read.spec);
	free(srv->read.failed);
	free(srv->path);
	free(srv);
}

int fwd_ctl_server_fd(const struct fwd_ctl_server *srv)
{
	return srv->epfd;
}

/*
 * A configured group, resolved; one that cannot be grants nothing. Every
 * policy change comes here (each fwctl edit too), so a missing group is
 * logged when it is first found missing, not at every edit.
 */
static int group_resolve_or_none(struct fwd_ctl_server *srv, const char *what,
				 const char *spec, struct group_cfg *cur, struct group_cfg *g)
{
	int ret = group_resolve(spec, g);

	g->failed = NULL;
	if (ret < 0) {
		if (!cur->failed || strcmp(cur->failed, spec) != 0)
			logf_(srv, LOG_ERR, "%s: %s group '%s': %s; it grants nothing",
			      __func__, what, spec,
			      ret == -ENOENT ? "no such group" : strerror(-ret));
		g->failed = strdup(spec);
	}
	return ret;
}

static bool group_same(const struct group_cfg *a, const struct group_cfg *b)
{
	if (!a->spec || !b->spec)
		return !a->spec && !b->spec;
	return a->gid == b->gid && strcmp(a->spec, b->spec) == 0;
}

/*
 * The groups changed: every connected client gets the role it has now.
 * Its request, when complete, is judged by that role, and the bytes it
 * holds move to that role's pool (client_read refuses what the new role
 * may not send). Nothing is freed here: this runs inside a handler.
 */
static void clients_recheck(struct fwd_ctl_server *srv)
{
	for (struct client *c = srv->clients; c; c = c->next) {
		struct fwd_ctl_peer now;
		unsigned pool;

		if (peer_identify(srv, c->fd, &now) < 0)
			now.role = FWD_ROLE_NONE;	/* cannot tell: no rights */
		if (now.role == c->peer.role)
			continue;
		logf_(srv, LOG_NOTICE, "%s: pid %d uid %u: role %s -> %s", __func__,
		      (int)c->peer.pid, (unsigned)c->peer.uid,
		      fwd_ctl_role_name(c->peer.role), fwd_ctl_role_name(now.role));
		c->peer.role = now.role;
		pool = pool_of(now.role);
		if (pool != c->pool) {
			srv->pool[c->pool].used -= c->reserved;
			srv->pool[pool].used += c->reserved;
			c->pool = pool;
		}
	}
}

int fwd_ctl_server_set_groups(struct fwd_ctl_server *srv, const char *admin_group,
			      const char *read_group)
{
	struct group_cfg a, r;
	bool same;
	int ret, ret2;

	ret = group_resolve_or_none(srv, "admin", admin_group, &srv->admin, &a);
	ret2 = group_resolve_or_none(srv, "read", read_group, &srv->read, &r);
	same = group_same(&a, &srv->admin) && group_same(&r, &srv->read);
	free(srv->admin.spec);
	free(srv->admin.failed);
	free(srv->read.spec);
	free(srv->read.failed);
	srv->admin = a;
	srv->read = r;
	if (!same)
		clients_recheck(srv);
	return ret < 0 ? ret : ret2;
}

void fwd_ctl_server_stats(const struct fwd_ctl_server *srv, struct fwd_ctl_stats *st)
{
	*st = srv->st;
	st->working = st->waiting = 0;
	for (const struct client *c = srv->clients; c; c = c->next) {
		st->working += c->state == C_WORK;
		st->waiting += c->state == C_WAIT;
	}
}
