// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket, end to end on a real Unix socket: a server thread
 * runs fwd_ctl_server exactly as the daemon does (its fd inside an outer
 * epoll), with a small echo handler; clients are the real fwctl client,
 * raw sockets that misbehave on purpose, and forked children that become
 * an unprivileged user. Needs root (to become another user, to create it).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "control.h"
#include "testutil.h"

/* ---- the server under test ---- */

struct harness {
	struct fwd_ctl_config cfg;
	struct fwd_ctl_server *srv;
	pthread_t th;
	int stopfd;
	char dir[64];
	char path[96];
	atomic_int handled;
	atomic_int dispatch_errors;
	atomic_llong dispatches;
	struct fwd_ctl_stats st;	/* at stop */
	pthread_mutex_t log_lock;
	char log[8192];			/* the server's log lines, as far as they fit */
	char gate[128];			/* a FIFO: "block" waits for a byte there */
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * echo ARGS...     stdout: the arguments; stderr: who asked and what came
 * admin | read     needs that role (fwd_ctl_require)
 * big N            N bytes of stdout
 * huge             more stdout than a response may carry
 * fail             handler error
 * exit N           exit code N
 * setgroups A R    fwd_ctl_server_set_groups(A, R), "-" for none (root only),
 *                  from inside the handler as the daemon's reload does
 * workers          the server's worker counts (in the loop)
 * Answered by a worker (test_offload):
 * block            waits for a byte through the gate FIFO, then "released pid=P"
 * whoami           "pid=P": the process that answered
 * wbig N           as big
 * crash            SIGKILLs the process answering
 * hang             never answers
 */
static int echo_handler(void *ctx, const struct fwd_ctl_peer *peer,
			const struct fwd_request *req, struct fwd_response *resp)
{
	struct harness *h = ctx;
	const char *cmd = req->argc ? req->argv[0] : "";
	const char *ssh = fwd_request_getenv(req, "SSH_CONNECTION");

	atomic_fetch_add(&h->handled, 1);
	if (strcmp(cmd, "admin") == 0 || strcmp(cmd, "read") == 0) {
		if (fwd_ctl_require(resp, peer, cmd, cmd[0] == 'a' ? FWD_ROLE_ADMIN
								   : FWD_ROLE_READ))
			fwd_response_printf(resp, "ok\n");
		return 0;
	}
	if (strcmp(cmd, "big") == 0 && req->argc == 2) {
		size_t n = strtoul(req->argv[1], NULL, 10);
		char *x = malloc(n);

		if (!x)
			return -ENOMEM;
		memset(x, 'x', n);
		fwd_response_write(resp, x, n);
		free(x);
		return 0;
	}
	if (strcmp(cmd, "huge") == 0) {
		size_t n = FWD_PROTO_MAX_RESPONSE / 4;
		char *x = calloc(1, n);

		if (!x)
			return -ENOMEM;
		for (int i = 0; i < 5; i++)
			fwd_response_write(resp, x, n);
		free(x);
		return 0;
	}
	if (strcmp(cmd, "fail") == 0)
		return -EIO;
	if (strcmp(cmd, "workers") == 0) {
		struct fwd_ctl_stats st;

		fwd_ctl_server_stats(h->srv, &st);
		fwd_response_printf(resp, "working=%u waiting=%u offloaded=%llu failures=%llu\n",
				    st.working, st.waiting, st.offloaded, st.worker_failures);
		return 0;
	}
	if (strcmp(cmd, "block") == 0) {
		int fd = open(h->gate, O_RDONLY | O_CLOEXEC);
		char b;

		if (fd < 0 || read(fd, &b, 1) != 1)
			return -EIO;
		close(fd);
		fwd_response_printf(resp, "released pid=%d\n", (int)getpid());
		return 0;
	}
	if (strcmp(cmd, "whoami") == 0) {
		fwd_response_printf(resp, "pid=%d\n", (int)getpid());
		return 0;
	}
	if (strcmp(cmd, "wbig") == 0 && req->argc == 2) {
		size_t n = strtoul(req->argv[1], NULL, 10);
		char *x = malloc(n);

		if (!x)
			return -ENOMEM;
		for (size_t i = 0; i < n; i++)
			x[i] = (char)('a' + i % 26);
		fwd_response_write(resp, x, n);
		free(x);
		return 0;
	}
	if (strcmp(cmd, "crash") == 0)
		kill(getpid(), SIGKILL);
	if (strcmp(cmd, "hang") == 0)
		for (;;)
			pause();
	if (strcmp(cmd, "setgroups") == 0 && req->argc == 3) {
		const char *a = strcmp(req->argv[1], "-") ? req->argv[1] : NULL;
		const char *r = strcmp(req->argv[2], "-") ? req->argv[2] : NULL;

		if (peer->uid != 0) {
			resp->status = FWD_EXIT_DENIED;
			return 0;
		}
		fwd_response_printf(resp, "%d\n", fwd_ctl_server_set_groups(h->srv, a, r));
		return 0;
	}
	if (strcmp(cmd, "exit") == 0 && req->argc == 2) {
		resp->status = (uint8_t)atoi(req->argv[1]);
		return 0;
	}
	for (size_t i = 0; i < req->argc; i++)
		fwd_response_printf(resp, "%s%s", i ? " " : "", req->argv[i]);
	fwd_response_printf(resp, "\n");
	fwd_response_eprintf(resp, "role=%s uid=%u gid=%u pid=%d name=%s ssh=%s stdin=%s%zu"
			     " flags=%u\n", fwd_ctl_role_name(peer->role),
			     (unsigned)peer->uid, (unsigned)peer->gid, (int)peer->pid,
			     peer->name, ssh ? ssh : "(none)", req->has_stdin ? "" : "-",
			     req->stdin_len, req->flags);
	/* The stdin must arrive intact: its checksum goes back. */
	if (req->has_stdin) {
		unsigned long sum = 0;

		for (size_t i = 0; i < req->stdin_len; i++)
			sum = sum * 31 + req->stdin_data[i];
		fwd_response_eprintf(resp, "sum=%lu\n", sum);
	}
	return 0;
}

/* The commands a worker answers: the daemon's heavy queries stand-ins. */
static bool test_offload(void *ctx, const struct fwd_ctl_peer *peer,
			 const struct fwd_request *req)
{
	static const char *const slow[] = { "block", "whoami", "wbig", "crash", "hang" };

	(void)ctx;
	(void)peer;
	for (size_t i = 0; req->argc && i < sizeof(slow) / sizeof(slow[0]); i++)
		if (strcmp(req->argv[0], slow[i]) == 0)
			return true;
	return false;
}

static void test_log(void *ctx, int prio, const char *msg)
{
	struct harness *h = ctx;
	size_t used;

	pthread_mutex_lock(&h->log_lock);
	used = strlen(h->log);
	snprintf(h->log + used, sizeof(h->log) - used, "<%d>%s\n", prio, msg);
	pthread_mutex_unlock(&h->log_lock);
}

static bool logged(struct harness *h, const char *what)
{
	bool yes;

	pthread_mutex_lock(&h->log_lock);
	yes = strstr(h->log, what) != NULL;
	pthread_mutex_unlock(&h->log_lock);
	return yes;
}

static void *server_thread(void *arg)
{
	struct harness *h = arg;
	struct epoll_event ev = { .events = EPOLLIN }, got[4];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	/* The daemon's way: one fd in the main loop's epoll. */
	ev.data.fd = fwd_ctl_server_fd(h->srv);
	epoll_ctl(ep, EPOLL_CTL_ADD, ev.data.fd, &ev);
	ev.data.fd = h->stopfd;
	epoll_ctl(ep, EPOLL_CTL_ADD, h->stopfd, &ev);
	for (;;) {
		int n = epoll_wait(ep, got, 4, -1);
		bool stop = false;

		for (int i = 0; i < n; i++) {
			if (got[i].data.fd == h->stopfd) {
				stop = true;
			} else {
				atomic_fetch_add(&h->dispatches, 1);
				if (fwd_ctl_server_dispatch(h->srv) < 0)
					atomic_fetch_add(&h->dispatch_errors, 1);
			}
		}
		if (stop)
			break;
	}
	close(ep);
	return NULL;
}

/* A fresh directory (world-searchable, for the unprivileged user). */
static void h_init(struct harness *h)
{
	memset(h, 0, sizeof(*h));
	ck_assert_ptr_nonnull(mkdtemp(tu_tmp(h->dir, sizeof(h->dir), "fwd-ctl-XXXXXX")));
	ck_assert_int_eq(chmod(h->dir, 0755), 0);
	/* A directory below that does not exist yet: the server makes it. */
	snprintf(h->path, sizeof(h->path), "%s/run/fwd.sock", h->dir);
	h->cfg.path = h->path;
	h->cfg.handler = echo_handler;
	h->cfg.log = test_log;
	h->cfg.ctx = h;
	pthread_mutex_init(&h->log_lock, NULL);
	h->stopfd = -1;
	snprintf(h->gate, sizeof(h->gate), "%s/gate", h->dir);
}

static void h_start(struct harness *h)
{
	int ret = fwd_ctl_server_new(&h->cfg, &h->srv);

	ck_assert_msg(ret == 0, "fwd_ctl_server_new: %s", strerror(-ret));
	h->stopfd = eventfd(0, EFD_CLOEXEC);
	ck_assert_int_ge(h->stopfd, 0);
	ck_assert_int_eq(pthread_create(&h->th, NULL, server_thread, h), 0);
}

static void h_stop(struct harness *h)
{
	uint64_t one = 1;

	ck_assert_int_eq(write(h->stopfd, &one, sizeof(one)), sizeof(one));
	pthread_join(h->th, NULL);
	close(h->stopfd);
	fwd_ctl_server_stats(h->srv, &h->st);
	fwd_ctl_server_free(h->srv);
	h->srv = NULL;
	ck_assert_int_eq(atomic_load(&h->dispatch_errors), 0);
	/* The socket goes with the server. */
	ck_assert_int_eq(access(h->path, F_OK), -1);
	tu_sh(NULL, "rm -rf %s", h->dir);
}

/* One fwctl-style call: argv, optional stdin; resp to free. */
static int call(const char *path, int argc, char **argv, const void *in, size_t inlen,
		struct fwd_response *resp)
{
	struct fwd_request req;
	int ret;

	fwd_request_init(&req);
	ck_assert_int_eq(fwd_request_add_args(&req, argc, argv), 0);
	if (in)
		ck_assert_int_eq(fwd_request_set_stdin(&req, in, inlen), 0);
	ret = fwd_client_call(path, &req, 10000, resp);
	fwd_request_free(&req);
	return ret;
}

/* ---- raw sockets that misbehave ---- */

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_msg(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0,
		      "connect %s: %s", path, strerror(errno));
	return fd;
}

static void raw_send(int fd, const void *buf, size_t len)
{
	ck_assert_int_eq(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/*
 * Reads one response frame (stopping at its end or at EOF) within
 * timeout_ms. Returns the decode result, -ECONNRESET when the server
 * closed without a byte, -ETIMEDOUT.
 */
static int raw_response(int fd, struct fwd_response *resp, int timeout_ms)
{
	uint8_t *buf = malloc(FWD_PROTO_MAX_RESPONSE + FWD_PROTO_HDR_LEN);
	size_t got = 0, want = FWD_PROTO_HDR_LEN;
	long long deadline = mono_ms() + timeout_ms;
	int ret = 0;

	fwd_response_init(resp);
	while (got < want) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		long long left = deadline - mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) == 0) {
			ret = -ETIMEDOUT;
			break;
		}
		n = recv(fd, buf + got, want - got, 0);
		if (n <= 0) {
			ret = got ? -EBADMSG : -ECONNRESET;
			break;
		}
		got += (size_t)n;
		if (got == FWD_PROTO_HDR_LEN) {
			size_t flen;

			ret = fwd_frame_check(buf, got, FWD_FRAME_RESPONSE, &flen, NULL, 0);
			if (ret < 0)
				break;
			want = flen;
		}
	}
	if (ret == 0)
		ret = fwd_response_decode(buf, got, resp, NULL, 0);
	free(buf);
	return ret;
}

static uint8_t *encode_args(int argc, char **argv, size_t *len)
{
	struct fwd_request req;
	uint8_t *buf;

	fwd_request_init(&req);
	ck_assert_int_eq(fwd_request_add_args(&req, argc, argv), 0);
	ck_assert_int_eq(fwd_request_encode(&req, &buf, len), 0);
	fwd_request_free(&req);
	return buf;
}

/* ---- an unprivileged user ---- */

struct user {
	uid_t uid;
	gid_t gid;
	char name[64];
	char group[64];
};

static void test_user(struct user *u)
{
	const char *name = tu_user();	/* this run's own, removed at its end */
	struct passwd *pw = name ? getpwnam(name) : NULL;
	struct group *gr;

	ck_assert_msg(pw != NULL, "cannot create the test user (useradd, Debian "
		      "package passwd)");
	ck_assert_int_ne(pw->pw_uid, 0);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	gr = getgrgid(pw->pw_gid);
	ck_assert_ptr_nonnull(gr);
	snprintf(u->group, sizeof(u->group), "%s", gr->gr_name);
}

/*
 * Runs argv as the user (with extra supplementary groups) in a forked
 * child, through the real client. Returns the exit status; the child's
 * stderr text lands in err.
 */
static int call_as(const struct user *u, const gid_t *extra, int nextra, const char *path,
		   int argc, char **argv, char *err, size_t errlen)
{
	int pfd[2], st;
	pid_t pid;
	ssize_t n;
	size_t got = 0;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fwd_response resp;
		gid_t groups[8];
		int ng = 0;

		close(pfd[0]);
		groups[ng++] = u->gid;
		for (int i = 0; i < nextra && ng < 8; i++)
			groups[ng++] = extra[i];
		if (setgroups((size_t)ng, groups) < 0 || setgid(u->gid) < 0 ||
		    setuid(u->uid) < 0)
			_exit(100);
		call(path, argc, argv, NULL, 0, &resp);
		if (resp.err.len && write(pfd[1], resp.err.data, resp.err.len) < 0)
			_exit(101);
		_exit(resp.status);
	}
	close(pfd[1]);
	while (got + 1 < errlen && (n = read(pfd[0], err + got, errlen - got - 1)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(pfd[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_ne(WEXITSTATUS(st), 100);
	return WEXITSTATUS(st);
}

/* ---- real users and groups of the "roles" cases ---- */

/*
 * SEC_USER is a member of SEC_GROUP in /etc/group. Both are made by the
 * test that needs them and removed by it, and again by the case's
 * unchecked teardown (a failing test's process exits at once).
 */
#define SEC_USER	tu_name("ctl-u")
#define SEC_GROUP	tu_name("ctl-g")

static void sec_users_remove(void)
{
	char *out = NULL;

	/* userdel takes the user's own group with it. */
	tu_sh(&out, "userdel %s; groupdel %s", SEC_USER, SEC_GROUP);
	free(out);
}

static void sec_user(struct user *u, gid_t *member_of)
{
	struct passwd *pw;
	struct group *gr;
	char *out = NULL;
	int rc;

	sec_users_remove();
	rc = tu_sh(&out, "groupadd -r %s && useradd -r -M -s /usr/sbin/nologin -c '"
		   TU_USER_GECOS "' -G %s %s", SEC_GROUP, SEC_GROUP, SEC_USER);
	ck_assert_msg(rc == 0, "cannot create %s: %s", SEC_USER, out);
	free(out);
	pw = getpwnam(SEC_USER);
	gr = getgrnam(SEC_GROUP);
	ck_assert_ptr_nonnull(pw);
	ck_assert_ptr_nonnull(gr);
	ck_assert_int_ne(pw->pw_uid, 0);
	u->uid = pw->pw_uid;
	u->gid = pw->pw_gid;
	snprintf(u->name, sizeof(u->name), "%s", pw->pw_name);
	snprintf(u->group, sizeof(u->group), "%s", SEC_USER);
	*member_of = gr->gr_gid;
	ck_assert_int_ne(*member_of, u->gid);
}

/* In a forked child: become u with its primary group and extra[] only. */
static bool become(const struct user *u, const gid_t *extra, int nextra)
{
	gid_t groups[8];
	int ng = 0;

	groups[ng++] = u->gid;
	for (int i = 0; i < nextra && ng < 8; i++)
		groups[ng++] = extra[i];
	return setgroups((size_t)ng, groups) == 0 && setgid(u->gid) == 0 &&
	       setuid(u->uid) == 0;
}

/* A plain connect for forked children (no check asserts there). */
static int child_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(102);
	return fd;
}

/*
 * A child that connects as u, sends the first half of frame, says so on
 * ready_w, waits for a byte on go_r, sends the rest and exits with the
 * response's status (its stderr text goes to err_w).
 */
static pid_t split_sender(const struct user *u, const gid_t *extra, int nextra,
			  const char *path, const uint8_t *frame, size_t len,
			  int ready_w, int go_r, int err_w)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fwd_response r;
		char c;
		int fd;

		if (!become(u, extra, nextra))
			_exit(100);
		fd = child_connect(path);
		if (send(fd, frame, len / 2, MSG_NOSIGNAL) != (ssize_t)(len / 2) ||
		    write(ready_w, "r", 1) != 1 || read(go_r, &c, 1) != 1 ||
		    send(fd, frame + len / 2, len - len / 2, MSG_NOSIGNAL) !=
		    (ssize_t)(len - len / 2))
			_exit(101);
		if (raw_response(fd, &r, 10000) != 0)
			_exit(103);
		if (r.err.len && write(err_w, r.err.data, r.err.len) < 0)
			_exit(104);
		_exit(r.status);
	}
	return pid;
}

/* Root asks the server (inside its handler) to take these groups. */
static void set_groups_via_handler(const char *path, const char *admin, const char *rd)
{
	struct fwd_response r;

	ck_assert_int_eq(call(path, 3, (char *[]){ "setgroups", (char *)admin, (char *)rd },
			      NULL, 0, &r), 0);
	ck_assert_msg(r.status == 0, "setgroups: %u %s", r.status, r.err.data);
	fwd_response_free(&r);
}

/*
 * One request of u's, half sent before the groups change to (admin,
 * read) and half after: its exit status, its stderr in err.
 */
static int request_across_change(const struct user *u, gid_t extra, const char *path,
				 const char *cmd, const char *admin, const char *rd,
				 char *err, size_t errlen)
{
	int ready[2], go[2], ep[2], st;
	size_t len, got = 0;
	uint8_t *frame = encode_args(1, (char *[]){ (char *)cmd }, &len);
	ssize_t n;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(ep), 0);
	pid = split_sender(u, &extra, 1, path, frame, len, ready[1], go[0], ep[1]);
	close(ready[1]);
	close(go[0]);
	close(ep[1]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	usleep(50000);	/* the server has read the first half */
	set_groups_via_handler(path, admin, rd);
	ck_assert_int_eq(write(go[1], "g", 1), 1);
	while (got + 1 < errlen && (n = read(ep[0], err + got, errlen - got - 1)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	close(ready[0]);
	close(go[1]);
	close(ep[0]);
	free(frame);
	ck_assert(WIFEXITED(st));
	ck_assert_msg(WEXITSTATUS(st) < 100, "the sending child failed: %d", WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

static bool under_valgrind(void)
{
	const char *p = getenv("LD_PRELOAD");

	return p && strstr(p, "vgpreload");
}

/* This test binary, for the tests that run it as a helper (realpath of argv[0]). */
static char *self_path;

/* ---- tests ---- */

START_TEST(basic_round_trip)
{
	struct harness h;
	struct fwd_response r;
	struct fwd_request req;
	struct stat st;
	char *argv[] = { "echo", "allow", "22/tcp", "from", "192.0.2.0/24" };
	char expect[128];
	uint8_t blob[100000];

	if (!tu_need_root())
		return;
	h_init(&h);
	h_start(&h);
	/* Directory 0755, socket 0666 (the daemon refuses by role, not by mode). */
	ck_assert_int_eq(stat(h.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_int_eq(st.st_mode & 0777, 0666);
	snprintf(expect, sizeof(expect), "%s/run", h.dir);
	ck_assert_int_eq(stat(expect, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0755);

	ck_assert_int_eq(call(h.path, 5, argv, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_str_eq(r.out.data, "echo allow 22/tcp from 192.0.2.0/24\n");
	snprintf(expect, sizeof(expect), "role=admin uid=0 gid=0 pid=%d name=root ssh=(none)"
		 " stdin=-0 flags=0\n", (int)getpid());
	ck_assert_str_eq(r.err.data, expect);
	fwd_response_free(&r);

	/* Flags, environment and a binary stdin arrive as sent. */
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 13);
	fwd_request_init(&req);
	req.flags = FWD_REQ_F_JSON;
	fwd_request_add_arg(&req, "echo");
	fwd_request_add_env(&req, "SSH_CONNECTION", "198.51.100.7 50000 192.0.2.1 22");
	fwd_request_set_stdin(&req, blob, sizeof(blob));
	ck_assert_int_eq(fwd_client_call(h.path, &req, 0, &r), 0);
	ck_assert_ptr_nonnull(strstr(r.err.data, "ssh=198.51.100.7 50000 192.0.2.1 22 "));
	ck_assert_ptr_nonnull(strstr(r.err.data, "stdin=100000 flags=1\n"));
	{
		unsigned long sum = 0;
		char s[64];

		for (size_t i = 0; i < sizeof(blob); i++)
			sum = sum * 31 + blob[i];
		snprintf(s, sizeof(s), "sum=%lu\n", sum);
		ck_assert_ptr_nonnull(strstr(r.err.data, s));
	}
	fwd_request_free(&req);
	fwd_response_free(&r);

	/* The exit code and a failing handler. */
	ck_assert_int_eq(call(h.path, 2, (char *[]){ "exit", "42" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 42);
	fwd_response_free(&r);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "fail" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_FAIL);
	ck_assert_str_eq(r.err.data, "fwd: internal error: Input/output error\n");
	fwd_response_free(&r);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "huge" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_FAIL);
	ck_assert_ptr_nonnull(strstr(r.err.data, "larger than"));
	ck_assert_uint_eq(r.out.len, 0);
	fwd_response_free(&r);
	/* No arguments at all is still a request the handler answers. */
	ck_assert_int_eq(call(h.path, 0, NULL, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
	ck_assert_uint_eq(h.st.served, 6);
	ck_assert_uint_eq(h.st.clients, 0);
}
END_TEST

struct worker {
	const char *path;
	int id;
	int ok;
};

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct fwd_response r;
	char id[16], expect[32], *argv[] = { "echo", id };
	size_t n = 200000 + (size_t)w->id * 1000;
	char *in = malloc(n);

	memset(in, 'a' + w->id % 26, n);
	snprintf(id, sizeof(id), "%d", w->id);
	snprintf(expect, sizeof(expect), "echo %d\n", w->id);
	call(w->path, 2, argv, in, n, &r);
	w->ok = r.status == 0 && r.out.data && strcmp(r.out.data, expect) == 0;
	fwd_response_free(&r);
	free(in);
	return NULL;
}

START_TEST(fifty_concurrent_clients)
{
	struct harness h;
	enum { N = 50 };
	pthread_t th[N];
	struct worker w[N];

	if (!tu_need_root())
		return;
	h_init(&h);
	h_start(&h);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			w[i] = (struct worker){ h.path, i, 0 };
			ck_assert_int_eq(pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
		}
		for (int i = 0; i < N; i++) {
			pthread_join(th[i], NULL);
			ck_assert_msg(w[i].ok, "client %d of round %d not served", i, round);
		}
	}
	h_stop(&h);
	ck_assert_uint_eq(h.st.served, 3 * N);
	ck_assert_uint_eq(h.st.busy, 0);
}
END_TEST

START_TEST(stalled_client_dropped)
{
	struct harness h;
	struct fwd_response r;
	size_t len;
	uint8_t *frame = encode_args(3, (char *[]){ "echo", "never", "finished" }, &len);
	long long t0, t;
	int stalled, silent, slow = under_valgrind() ? 10 : 1;

	if (!tu_need_root())
		return;
	h_init(&h);
	h.cfg.timeout_ms = 1000 * slow;
	h_start(&h);
	/* Half a request, then nothing; and a connection that says nothing. */
	stalled = raw_connect(h.path);
	silent = raw_connect(h.path);
	t0 = mono_ms();
	raw_send(stalled, frame, len / 2);
	/* Meanwhile everyone else is served at once. */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(call(h.path, 2, (char *[]){ "echo", "x" }, NULL, 0, &r), 0);
		ck_assert_uint_eq(r.status, 0);
		fwd_response_free(&r);
	}
	ck_assert_int_lt(mono_ms() - t0, 900 * slow);
	/* Dropped after the timeout, told why. */
	ck_assert_int_eq(raw_response(stalled, &r, 5000 * slow), 0);
	t = mono_ms() - t0;
	ck_assert_int_ge(t, 900 * slow);
	ck_assert_int_lt(t, 2500 * slow);
	ck_assert_uint_eq(r.status, FWD_EXIT_BUSY);
	ck_assert_ptr_nonnull(strstr(r.err.data, "timed out"));
	fwd_response_free(&r);
	ck_assert_int_eq(raw_response(silent, &r, 5000 * slow), -ECONNRESET);
	/* The rest of the request, too late: nobody listens, nobody dies. */
	send(stalled, frame + len / 2, len - len / 2, MSG_NOSIGNAL);
	close(stalled);
	close(silent);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
	ck_assert_uint_eq(h.st.timeouts, 2);
	ck_assert_msg(logged(&h, "request timed out after"), "%s", h.log);
	free(frame);
}
END_TEST

/* Sends raw bytes on a fresh connection and returns the server's answer. */
static void garbage_answer(const char *path, const void *bytes, size_t len, uint8_t status,
			   const char *err_has)
{
	struct fwd_response r;
	int fd = raw_connect(path);

	raw_send(fd, bytes, len);
	ck_assert_int_eq(raw_response(fd, &r, 5000), 0);
	ck_assert_uint_eq(r.status, status);
	ck_assert_msg(r.err.data && strstr(r.err.data, err_has), "'%s' lacks '%s'",
		      r.err.data, err_has);
	fwd_response_free(&r);
	close(fd);
}

START_TEST(garbage_and_oversized)
{
	struct harness h;
	struct fwd_response r;
	uint8_t hdr[FWD_PROTO_HDR_LEN] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0 };
	uint8_t bad_body[] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0, 0, 0, 0, 9,
			       0, 2, 0, 0, 0, 3, 'a', 0, 'b' };
	char *junk = malloc(1 << 20);
	int fd;

	if (!tu_need_root())
		return;
	h_init(&h);
	h_start(&h);
	garbage_answer(h.path, "GET / HTTP/1.0\r\n\r\n", 18, FWD_EXIT_PROTO, "bad magic");
	hdr[8] = hdr[9] = hdr[10] = hdr[11] = 0xff;
	garbage_answer(h.path, hdr, sizeof(hdr), FWD_EXIT_PROTO, "too large");
	hdr[4] = 9;
	garbage_answer(h.path, hdr, sizeof(hdr), FWD_EXIT_PROTO, "version 9");
	garbage_answer(h.path, bad_body, sizeof(bad_body), FWD_EXIT_PROTO, "NUL byte");

	/* An oversized frame that keeps coming: answered, then cut off. */
	memset(junk, 'j', 1 << 20);
	fd = raw_connect(h.path);
	hdr[4] = 1;
	raw_send(fd, hdr, sizeof(hdr));
	for (int i = 0; i < 64; i++)
		if (send(fd, junk, 1 << 20, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
			break;	/* EPIPE or full: the server stopped reading */
	ck_assert_int_eq(raw_response(fd, &r, 5000), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_PROTO);
	fwd_response_free(&r);
	close(fd);

	/* Half a header, then a close of the writing side. */
	fd = raw_connect(h.path);
	raw_send(fd, "FWDC\1", 5);
	shutdown(fd, SHUT_WR);
	ck_assert_int_eq(raw_response(fd, &r, 5000), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_PROTO);
	ck_assert_ptr_nonnull(strstr(r.err.data, "truncated"));
	fwd_response_free(&r);
	close(fd);

	/* Endless garbage at the real client's size limit from many at once. */
	for (int i = 0; i < 20; i++) {
		fd = raw_connect(h.path);
		send(fd, junk, 4096, MSG_NOSIGNAL);
		close(fd);	/* without reading the answer */
	}
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
	ck_assert_uint_ge(h.st.malformed, 6);
	ck_assert_uint_eq(atomic_load(&h.handled), 1);
	free(junk);
}
END_TEST

START_TEST(busy_when_full)
{
	struct harness h;
	struct fwd_response r;
	int fds[4];

	if (!tu_need_root())
		return;
	h_init(&h);
	h.cfg.max_clients = 4;
	h_start(&h);
	for (int i = 0; i < 4; i++)
		fds[i] = raw_connect(h.path);
	usleep(100000);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_BUSY);
	ck_assert_ptr_nonnull(strstr(r.err.data, "busy"));
	fwd_response_free(&r);
	for (int i = 0; i < 4; i++)
		close(fds[i]);
	usleep(100000);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
	ck_assert_uint_eq(h.st.busy, 1);
}
END_TEST

/*
 * Request bytes are counted as they arrive: a frame announced and not
 * sent costs nothing; one whose bytes fill the budget makes the next
 * large request busy, small ones still fit, and the bytes come back when
 * it leaves.
 */
START_TEST(memory_budget)
{
	struct harness h;
	struct fwd_response r;
	/* Announces a 960 KiB body. */
	uint8_t hdr[FWD_PROTO_HDR_LEN] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0, 0, 0x0f, 0, 0 };
	char *in = calloc(1, 200000), *body = calloc(1, 900 << 10);
	size_t sent = 0;
	int hog;

	if (!tu_need_root())
		return;
	h_init(&h);
	h.cfg.max_buffered = 1 << 20;
	h_start(&h);
	hog = raw_connect(h.path);
	raw_send(hog, hdr, sizeof(hdr));
	usleep(100000);
	/* Announced only: the budget is still there. */
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, in, 200000, &r), 0);
	ck_assert_msg(r.status == 0, "status %u: %s", r.status, r.err.data);
	fwd_response_free(&r);
	/* 900 KiB of it arrive (the server reads them: its buffer grows). */
	while (sent < (900u << 10)) {
		struct pollfd pf = { .fd = hog, .events = POLLOUT };
		ssize_t n;

		ck_assert_int_eq(poll(&pf, 1, 5000), 1);
		n = send(hog, body + sent, (900u << 10) - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
		ck_assert_msg(n > 0 || errno == EAGAIN, "send: %s", strerror(errno));
		if (n > 0)
			sent += (size_t)n;
	}
	usleep(200000);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, in, 200000, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_BUSY);
	ck_assert_ptr_nonnull(strstr(r.err.data, "busy"));
	fwd_response_free(&r);
	/* Small requests still fit. */
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, in, 1000, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	/* The hog leaves: the budget is back. */
	close(hog);
	usleep(100000);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, in, 200000, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
	free(in);
	free(body);
}
END_TEST

START_TEST(close_mid_response)
{
	struct harness h;
	struct fwd_response r;
	size_t len;
	uint8_t *frame = encode_args(2, (char *[]){ "big", "8000000" }, &len);
	char buf[4096];
	int fd;

	if (!tu_need_root())
		return;
	/* SIGPIPE kills this process if the server ever writes without MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_DFL);
	h_init(&h);
	h.cfg.timeout_ms = 1000;
	h_start(&h);
	for (int i = 0; i < 20; i++) {
		fd = raw_connect(h.path);
		raw_send(fd, frame, len);
		ck_assert_int_gt(recv(fd, buf, sizeof(buf), 0), 0);
		close(fd);
	}
	/* One that takes nothing of a 1 MB answer: dropped after the timeout
	 * (1 s, plus 1 s for the size). */
	free(frame);
	frame = encode_args(2, (char *[]){ "big", "1000000" }, &len);
	fd = raw_connect(h.path);
	raw_send(fd, frame, len);
	ck_assert_int_eq(call(h.path, 2, (char *[]){ "big", "8000000" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.out.len, 8000000);
	fwd_response_free(&r);
	usleep(2500000);
	h_stop(&h);
	ck_assert_uint_eq(h.st.served, 1);
	ck_assert_uint_eq(h.st.dropped + h.st.timeouts, 21);
	ck_assert_uint_ge(h.st.timeouts, 1);
	close(fd);
	free(frame);
}
END_TEST

START_TEST(roles_of_real_users)
{
	struct harness h;
	struct user u;
	char err[512], expect[512];
	gid_t extra = 54321;
	int st;

	if (!tu_need_root())
		return;
	test_user(&u);

	/* No groups configured: only root. */
	h_init(&h);
	h_start(&h);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	snprintf(expect, sizeof(expect), "role=none uid=%u gid=%u pid=", u.uid, u.gid);
	ck_assert_msg(strstr(err, expect), "%s", err);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "read" }, err, sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	snprintf(expect, sizeof(expect), "permission denied: fwctl read needs root; you are"
		 " uid %u (%s)\n", u.uid, u.name);
	ck_assert_str_eq(err, expect);
	h_stop(&h);

	/* The user's group as the read group (the group database says so). */
	h_init(&h);
	h.cfg.read_group = u.group;
	h.cfg.admin_group = "54321";
	h_start(&h);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_msg(strstr(err, "role=read "), "%s", err);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "read" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "admin" }, err, sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	snprintf(expect, sizeof(expect), "permission denied: fwctl admin needs root or group"
		 " 54321; you are uid %u (%s)\n", u.uid, u.name);
	ck_assert_str_eq(err, expect);
	/* A supplementary group of the process (SO_PEERGROUPS) counts too. */
	st = call_as(&u, &extra, 1, h.path, 1, (char *[]){ "admin" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	h_stop(&h);

	/* The user's group as the admin group. */
	h_init(&h);
	h.cfg.admin_group = u.group;
	h_start(&h);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_msg(strstr(err, "role=admin "), "%s", err);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "admin" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	h_stop(&h);

	/* A stricter socket mode: the kernel refuses, fwctl says permission denied. */
	h_init(&h);
	h.cfg.mode = 0600;
	h_start(&h);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	ck_assert_msg(strstr(err, "fwctl: permission denied: cannot connect"), "%s", err);
	h_stop(&h);

	/* A group that does not exist grants nothing and costs nothing else. */
	h_init(&h);
	h.cfg.read_group = "no-such-group-fwd";
	h_start(&h);
	ck_assert(logged(&h, "read group 'no-such-group-fwd' does not exist"));
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "read" }, err, sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	snprintf(expect, sizeof(expect), "permission denied: fwctl read needs root; you are"
		 " uid %u (%s)\n", u.uid, u.name);
	ck_assert_str_eq(err, expect);
	h_stop(&h);

	/* An unknown socket group is a setup error. */
	h_init(&h);
	h.cfg.socket_group = "no-such-group-fwd";
	ck_assert_int_eq(fwd_ctl_server_new(&h.cfg, &h.srv), -ENOENT);
	tu_sh(NULL, "rm -rf %s", h.dir);
}
END_TEST

START_TEST(admin_slots_reserved)
{
	struct harness h;
	struct user u;
	struct fwd_response r;
	int ready[2], done[2], st;
	pid_t pid;
	char c;

	if (!tu_need_root())
		return;
	test_user(&u);
	h_init(&h);
	h.cfg.max_clients = 16;		/* 1 kept for admins */
	h.cfg.timeout_ms = 3000;
	h_start(&h);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fwd_response busy;
		int fds[15], ok = 1;

		if (setgroups(0, NULL) < 0 || setgid(u.gid) < 0 || setuid(u.uid) < 0)
			_exit(100);
		for (int i = 0; i < 15; i++)
			fds[i] = raw_connect(h.path);
		usleep(200000);
		/* The 16th unprivileged connection is refused... */
		call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &busy);
		ok = busy.status == FWD_EXIT_BUSY;
		if (write(ready[1], "x", 1) < 0 || read(done[0], &c, 1) < 0)
			_exit(101);
		for (int i = 0; i < 15; i++)
			close(fds[i]);
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* ...but root still gets in. */
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	ck_assert_int_eq(write(done[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	h_stop(&h);
}
END_TEST

START_TEST(out_of_fds_does_not_spin)
{
	struct harness h;
	struct fwd_response r;
	struct rlimit rl;
	int go[2], start[2], st, open_fds = 0;
	long long cpu0, cpu1;
	struct timespec ts;
	pid_t pid;
	char c;

	if (!tu_need_root())
		return;
	if (under_valgrind()) {
		fprintf(stderr, "SKIP (valgrind): valgrind keeps its own fds and rlimit\n");
		return;
	}
	h_init(&h);
	h.cfg.timeout_ms = 1500;
	h_start(&h);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(start), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fds[40];

		if (read(start[0], &c, 1) < 0)
			_exit(1);
		for (int i = 0; i < 40; i++)
			fds[i] = raw_connect(h.path);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		for (int i = 0; i < 40; i++)
			close(fds[i]);
		_exit(0);
	}
	/* This process may open just a few more fds: the server runs out. */
	for (int fd = 0; fd < 4096; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			open_fds = fd + 1;
	/* Fill the holes below the highest fd, so exactly 8 stay free. */
	for (;;) {
		int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		if (fd >= open_fds) {
			close(fd);
			break;
		}
	}
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = (rlim_t)open_fds + 8;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	ck_assert_int_eq(write(start[1], "x", 1), 1);
	usleep(300000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	cpu0 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	usleep(500000);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	cpu1 = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	ck_assert_msg(cpu1 - cpu0 < 150, "server spins: %lld ms CPU in 500 ms", cpu1 - cpu0);
	{
		struct fwd_ctl_stats cs;

		fwd_ctl_server_stats(h.srv, &cs);	/* racy read, for the message only */
		ck_assert_msg(logged(&h, "Too many open files; pausing"),
			      "log '%s' clients %u open_fds %d dispatches %lld", h.log,
			      cs.clients, open_fds, (long long)atomic_load(&h.dispatches));
	}
	/* The clients go, the fds come back, service resumes. */
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	usleep(500000);
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	fwd_response_free(&r);
	h_stop(&h);
}
END_TEST

START_TEST(socket_lifecycle)
{
	struct harness h, h2;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct fwd_ctl_server *srv;
	struct fwd_ctl_config cfg;
	char longpath[200];
	int fd;

	if (!tu_need_root())
		return;
	h_init(&h);
	/* A stale socket (bound, nobody listening) is replaced. */
	tu_sh(NULL, "mkdir -p %s/run", h.dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	h_start(&h);
	/* A live one is not. */
	h2 = h;
	ck_assert_int_eq(fwd_ctl_server_new(&h2.cfg, &srv), -EADDRINUSE);
	ck_assert_int_eq(access(h.path, F_OK), 0);
	h_stop(&h);

	/* Not a socket: left alone. */
	h_init(&h);
	tu_sh(NULL, "mkdir -p %s/run && echo keep > %s", h.dir, h.path);
	ck_assert_int_eq(fwd_ctl_server_new(&h.cfg, &srv), -EEXIST);
	ck_assert_int_eq(access(h.path, F_OK), 0);
	tu_sh(NULL, "rm -rf %s", h.dir);

	cfg = (struct fwd_ctl_config){ .path = longpath, .handler = echo_handler };
	memset(longpath, 'a', sizeof(longpath));
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(fwd_ctl_server_new(&cfg, &srv), -ENAMETOOLONG);
	cfg.path = "";
	ck_assert_int_eq(fwd_ctl_server_new(&cfg, &srv), -EINVAL);

	/* A socket replaced under a running server is not removed by it. */
	h_init(&h);
	h_start(&h);
	ck_assert_int_eq(unlink(h.path), 0);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", h.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	{
		uint64_t one = 1;

		ck_assert_int_eq(write(h.stopfd, &one, sizeof(one)), sizeof(one));
		pthread_join(h.th, NULL);
		fwd_ctl_server_free(h.srv);
	}
	ck_assert_int_eq(access(h.path, F_OK), 0);
	close(fd);
	tu_sh(NULL, "rm -rf %s", h.dir);
}
END_TEST

START_TEST(client_errors)
{
	struct fwd_response r;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[64], path[96], expect[256];
	long long t0;
	int fd;

	if (!tu_need_root())
		return;
	ck_assert_ptr_nonnull(mkdtemp(tu_tmp(dir, sizeof(dir), "fwd-ctl-XXXXXX")));
	snprintf(path, sizeof(path), "%s/fwd.sock", dir);
	ck_assert_int_eq(call(path, 1, (char *[]){ "status" }, NULL, 0, &r), -ENOENT);
	ck_assert_uint_eq(r.status, FWD_EXIT_UNREACHABLE);
	snprintf(expect, sizeof(expect), "fwctl: cannot reach fwd at %s: No such file or"
		 " directory (is fwd running?)\n", path);
	ck_assert_str_eq(r.err.data, expect);
	fwd_response_free(&r);

	/* A dead daemon's socket. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	ck_assert_int_eq(call(path, 1, (char *[]){ "status" }, NULL, 0, &r), -ECONNREFUSED);
	ck_assert_uint_eq(r.status, FWD_EXIT_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(r.err.data, "Connection refused (is fwd running?)"));
	fwd_response_free(&r);
	unlink(path);

	/* A daemon that accepts (backlog) and never answers. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	{
		struct fwd_request req;

		fwd_request_init(&req);
		fwd_request_add_arg(&req, "status");
		t0 = mono_ms();
		ck_assert_int_eq(fwd_client_call(path, &req, 500, &r), -ETIMEDOUT);
		ck_assert_int_ge(mono_ms() - t0, 450);
		ck_assert_int_lt(mono_ms() - t0, 2000);
		fwd_request_free(&req);
	}
	ck_assert_uint_eq(r.status, FWD_EXIT_UNREACHABLE);
	ck_assert_ptr_nonnull(strstr(r.err.data, "no answer from fwd"));
	fwd_response_free(&r);
	close(fd);
	tu_sh(NULL, "rm -rf %s", dir);
}
END_TEST

START_TEST(client_helpers)
{
	struct fwd_request req;
	struct fwd_response r;
	int p[2], out[2];
	char buf[64];
	ssize_t n;

	/* No root needed: pure client helpers. */
	fwd_request_init(&req);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "192.0.2.1\n192.0.2.2\n", 20), 20);
	close(p[1]);
	ck_assert_int_eq(fwd_client_read_stdin(&req, p[0]), 0);
	close(p[0]);
	ck_assert(req.has_stdin);
	ck_assert_uint_eq(req.stdin_len, 20);
	ck_assert_str_eq((char *)req.stdin_data, "192.0.2.1\n192.0.2.2\n");

	setenv("SSH_CONNECTION", "203.0.113.9 40000 192.0.2.1 22", 1);
	ck_assert_int_eq(fwd_client_add_env(&req), 0);
	ck_assert_str_eq(fwd_request_getenv(&req, "SSH_CONNECTION"),
			 "203.0.113.9 40000 192.0.2.1 22");
	fwd_request_free(&req);

	fwd_response_init(&r);
	r.status = 7;
	fwd_response_printf(&r, "hello\n");
	ck_assert_int_eq(pipe(out), 0);
	ck_assert_int_eq(fwd_client_print(&r, out[1], out[1]), 7);
	close(out[1]);
	n = read(out[0], buf, sizeof(buf) - 1);
	ck_assert_int_eq(n, 6);
	close(out[0]);
	fwd_response_free(&r);
}
END_TEST

/* Run as "check-control --env-probe": prints what fwd_client_add_env finds. */
static int env_probe(void)
{
	struct fwd_request req;
	const char *v;

	fwd_request_init(&req);
	if (fwd_client_add_env(&req) < 0)
		return 1;
	v = fwd_request_getenv(&req, "SSH_CONNECTION");
	printf("[%s]\n", v ? v : "(none)");
	fwd_request_free(&req);
	return 0;
}

START_TEST(client_env_from_parent)
{
	char *out = NULL;

	/*
	 * As under sudo: fwctl's own environment lacks SSH_CONNECTION, the
	 * shell that started it has it. "; true" keeps the shell from
	 * exec'ing the probe in its place, so the shell stays its parent.
	 */
	ck_assert_int_eq(tu_sh(&out, "SSH_CONNECTION='198.51.100.1 1 192.0.2.1 22' sh -c "
			       "'env -u SSH_CONNECTION %s --env-probe; true'",
			       self_path), 0);
	ck_assert_str_eq(out, "[198.51.100.1 1 192.0.2.1 22]\n");
	free(out);
	/* Its own value comes first. */
	ck_assert_int_eq(tu_sh(&out, "SSH_CONNECTION='a b c d' sh -c "
			       "'SSH_CONNECTION=\"e f g h\" %s --env-probe; true'",
			       self_path), 0);
	ck_assert_str_eq(out, "[e f g h]\n");
	free(out);
}
END_TEST

/*
 * Taking a group out of the configuration revokes it, also for a client
 * already connected: its request, completed after the change, is judged
 * by the role it has now (issue 9, finding 1).
 */
START_TEST(roles_revoked_while_connected)
{
	struct harness h;
	struct user u;
	gid_t member;
	char err[512];
	int st;

	if (!tu_need_root())
		return;
	sec_user(&u, &member);
	h_init(&h);
	h.cfg.admin_group = "54321";
	h.cfg.read_group = "54322";
	h_start(&h);
	/* The same groups again: nothing is lost, the admin's request goes on. */
	st = request_across_change(&u, 54321, h.path, "admin", "54321", "54322", err,
				   sizeof(err));
	ck_assert_msg(st == 0, "status %d: %s", st, err);
	/* The admin group taken out while the request is on its way: refused. */
	st = request_across_change(&u, 54321, h.path, "admin", "-", "54322", err,
				   sizeof(err));
	ck_assert_msg(st == FWD_EXIT_DENIED, "status %d: %s", st, err);
	ck_assert_msg(strstr(err, "permission denied: fwctl admin needs root; you are"), "%s",
		      err);
	ck_assert(logged(&h, "role admin -> none"));
	/* The read group likewise. */
	st = request_across_change(&u, 54322, h.path, "read", "-", "-", err, sizeof(err));
	ck_assert_msg(st == FWD_EXIT_DENIED, "status %d: %s", st, err);
	ck_assert(logged(&h, "role read -> none"));
	/* And new connections. */
	st = call_as(&u, (gid_t[]){ 54321 }, 1, h.path, 1, (char *[]){ "admin" }, err,
		     sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	/* Given back, it grants again; a group that does not exist grants nothing. */
	set_groups_via_handler(h.path, "54321", "no-such-group-fwd");
	st = call_as(&u, (gid_t[]){ 54321 }, 1, h.path, 1, (char *[]){ "admin" }, err,
		     sizeof(err));
	ck_assert_msg(st == 0, "status %d: %s", st, err);
	ck_assert(logged(&h, "read group 'no-such-group-fwd': no such group; it grants nothing"));
	/* Every edit re-applies the groups: a missing one is logged once, not each time. */
	set_groups_via_handler(h.path, "54321", "no-such-group-fwd");
	set_groups_via_handler(h.path, "54321", "no-such-group-fwd");
	h_stop(&h);
	{
		size_t n = 0;

		for (const char *p = h.log; (p = strstr(p, "no-such-group-fwd': no such")); p++)
			n++;
		ck_assert_uint_eq(n, 1);
	}
	sec_users_remove();
}
END_TEST

/*
 * Rights come from the groups the process holds (SO_PEERGROUPS), not from
 * /etc/group: a member of the admin group that dropped its groups
 * (setpriv --clear-groups) is refused (issue 9, finding 3).
 */
START_TEST(roles_from_process_groups)
{
	struct harness h;
	struct user u;
	gid_t member;
	char err[512], expect[256];
	int st;

	if (!tu_need_root())
		return;
	sec_user(&u, &member);
	h_init(&h);
	h.cfg.admin_group = SEC_GROUP;
	h_start(&h);
	/* Holding the group: admin. */
	st = call_as(&u, &member, 1, h.path, 1, (char *[]){ "admin" }, err, sizeof(err));
	ck_assert_msg(st == 0, "status %d: %s", st, err);
	/* A member in /etc/group whose process dropped it: no role. */
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	ck_assert_msg(strstr(err, "role=none "), "%s", err);
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "admin" }, err, sizeof(err));
	ck_assert_int_eq(st, FWD_EXIT_DENIED);
	snprintf(expect, sizeof(expect), "permission denied: fwctl admin needs root or group "
		 "%s; you are uid %u (%s)\n", SEC_GROUP, u.uid, SEC_USER);
	ck_assert_str_eq(err, expect);
	h_stop(&h);
	sec_users_remove();
}
END_TEST

/* A child as u announcing a body of `body` bytes and sending none of it:
 * the response's status, its stderr in err. */
static int announce_as(const struct user *u, const char *path, uint32_t body, char *err,
		       size_t errlen)
{
	int ep[2], st;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	ck_assert_int_eq(pipe(ep), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t hdr[FWD_PROTO_HDR_LEN] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0,
						   body >> 24, body >> 16, body >> 8, body };
		struct fwd_response r;
		int fd;

		close(ep[0]);
		if (!become(u, NULL, 0))
			_exit(100);
		fd = child_connect(path);
		if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr))
			_exit(101);
		if (raw_response(fd, &r, 10000) != 0)
			_exit(103);
		if (r.err.len && write(ep[1], r.err.data, r.err.len) < 0)
			_exit(104);
		_exit(r.status);
	}
	close(ep[1]);
	while (got + 1 < errlen && (n = read(ep[0], err + got, errlen - got - 1)) > 0)
		got += (size_t)n;
	err[got] = '\0';
	close(ep[0]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_msg(WEXITSTATUS(st) < 100, "the announcing child failed: %d",
		      WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

/*
 * A peer without a role gets a few KiB and a prompt refusal; a read-role
 * flood fills only its own budget, and root's large request goes through
 * (issue 9, finding 2).
 */
START_TEST(role_budgets)
{
	struct harness h;
	struct fwd_response r;
	struct user u;
	gid_t member;
	char err[512], expect[256], c;
	char *in = calloc(1, 900 << 10);
	int ready[2], done[2], st;
	pid_t pid;

	if (!tu_need_root())
		return;
	sec_user(&u, &member);
	h_init(&h);
	h.cfg.read_group = SEC_GROUP;
	h.cfg.max_buffered = 1 << 20;	/* admins 1 MiB, the others 256 KiB */
	h.cfg.timeout_ms = 3000;
	h_start(&h);

	/* No role, a large frame announced: refused at once, not waited for. */
	st = announce_as(&u, h.path, 100000, err, sizeof(err));
	ck_assert_msg(st == FWD_EXIT_DENIED, "status %d: %s", st, err);
	snprintf(expect, sizeof(expect), "fwd: permission denied: a request of %u bytes needs"
		 " root or group %s (others may send %u bytes); you are uid %u (%s)\n",
		 100000 + FWD_PROTO_HDR_LEN, SEC_GROUP, FWD_CTL_NONE_MAX_FRAME, u.uid, SEC_USER);
	ck_assert_str_eq(err, expect);
	/* No role, a small request: the handler answers it as usual. */
	st = call_as(&u, NULL, 0, h.path, 1, (char *[]){ "echo" }, err, sizeof(err));
	ck_assert_int_eq(st, 0);
	ck_assert_msg(strstr(err, "role=none "), "%s", err);

	/* The read role floods: 4 frames of 960 KiB announced, 300 KiB of each sent. */
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		uint8_t hdr[FWD_PROTO_HDR_LEN] = { 'F', 'W', 'D', 'C', 1, 1, 0, 0, 0, 0x0f, 0, 0 };
		char *junk = calloc(1, 300 << 10);
		int fds[4];

		if (!junk || !become(&u, &member, 1))
			_exit(100);
		for (int i = 0; i < 4; i++) {
			fds[i] = child_connect(h.path);
			if (send(fds[i], hdr, sizeof(hdr), MSG_NOSIGNAL) != sizeof(hdr))
				_exit(101);
			/* As much as the socket takes; the server refuses the rest. */
			(void)send(fds[i], junk, 300 << 10, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(102);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	usleep(200000);
	/* Root's 900 KiB request: the admins' budget is untouched. */
	ck_assert_int_eq(call(h.path, 1, (char *[]){ "echo" }, in, 900 << 10, &r), 0);
	ck_assert_msg(r.status == 0, "root during a read-role flood: %u %s", r.status,
		      r.err.data);
	fwd_response_free(&r);
	ck_assert_int_eq(write(done[1], "d", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	h_stop(&h);
	/* The flood did fill its own budget. */
	ck_assert_uint_ge(h.st.busy, 2);
	sec_users_remove();
	free(in);
}
END_TEST

/*
 * Callers without a role get half of the slots at most: their flood of
 * connections leaves room for the read role (root has its own reserve).
 */
START_TEST(roleless_slots)
{
	struct harness h;
	struct user u;
	gid_t member;
	char err[512], c;
	int ready[2], done[2], st;
	pid_t pid;

	if (!tu_need_root())
		return;
	sec_user(&u, &member);
	h_init(&h);
	h.cfg.max_clients = 16;		/* 1 kept for admins, 7 at most without a role */
	h.cfg.read_group = SEC_GROUP;
	h_start(&h);
	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(done), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int fds[15];

		if (!become(&u, NULL, 0))
			_exit(100);
		for (int i = 0; i < 15; i++)
			fds[i] = child_connect(h.path);
		usleep(200000);
		if (write(ready[1], "r", 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(101);
		for (int i = 0; i < 15; i++)
			close(fds[i]);
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	/* The same user holding the read group gets in. */
	st = call_as(&u, &member, 1, h.path, 1, (char *[]){ "read" }, err, sizeof(err));
	ck_assert_msg(st == 0, "the read role during a role-less flood: %d %s", st, err);
	ck_assert(logged(&h, "clients without a role, refusing"));
	ck_assert_int_eq(write(done[1], "d", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	close(ready[0]);
	close(ready[1]);
	close(done[0]);
	close(done[1]);
	h_stop(&h);
	sec_users_remove();
}
END_TEST

/*
 * What a client can make the server log is rationed (one line a second
 * per kind, with the count left out): 200 bad requests in a row leave a
 * few lines, never 200, and every one is still counted in the stats.
 */
START_TEST(client_log_rationed)
{
	struct harness h;
	long long t0, secs;
	size_t lines = 0;

	if (!tu_need_root())
		return;
	h_init(&h);
	h_start(&h);
	t0 = mono_ms();
	for (int i = 0; i < 200; i++) {
		char buf[512];
		int fd = raw_connect(h.path);

		/* Read the refusal to its end (raw_response's 64 MiB buffer
		 * is too much to take 200 times). */
		raw_send(fd, "GET / HTTP/1.0\r\n\r\n", 18);
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			;
		close(fd);
	}
	secs = (mono_ms() - t0) / 1000 + 1;
	h_stop(&h);
	for (const char *p = h.log; (p = strstr(p, "bad request from")); p++)
		lines++;
	ck_assert_uint_eq(h.st.malformed, 200);
	/* At most one line per second begun, whatever the speed of this machine. */
	ck_assert_msg(lines >= 1 && lines <= (size_t)secs + 1, "%zu lines in %lld s:\n%.400s",
		      lines, secs, h.log);
}
END_TEST

/* ---- slow queries answered by workers ---- */

/* The server's worker counts, asked through the socket (the loop answers). */
static void workers_now(const char *path, unsigned *working, unsigned *waiting)
{
	char *argv[] = { "workers" };
	struct fwd_response r;

	ck_assert_int_eq(call(path, 1, argv, NULL, 0, &r), 0);
	ck_assert_msg(sscanf(r.out.data ? r.out.data : "", "working=%u waiting=%u",
			     working, waiting) == 2, "workers: %s", r.out.data);
	fwd_response_free(&r);
}

/* Polls until the counts are as wanted (10 s at most). */
static bool workers_wait(const char *path, unsigned working, unsigned waiting)
{
	unsigned w = ~0u, q = ~0u;

	for (int i = 0; i < 1000; i++) {
		workers_now(path, &w, &q);
		if (w == working && q == waiting)
			return true;
		usleep(10000);
	}
	fprintf(stderr, "workers: working=%u waiting=%u, wanted %u %u\n", w, q, working,
		waiting);
	return false;
}

/* Every child of this process, in any thread: "" when none (read here:
 * a shell would be a child itself). */
static char *children_of_self(void)
{
	static char all[4096];
	char path[300], buf[1024];
	struct dirent *de;
	DIR *d = opendir("/proc/self/task");

	ck_assert_ptr_nonnull(d);
	all[0] = '\0';
	while ((de = readdir(d)) != NULL) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/children", de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(buf, sizeof(buf), f))
			strncat(all, buf, sizeof(all) - strlen(all) - 1);
		fclose(f);
	}
	closedir(d);
	return all;
}

/* The fds the server could leak: sockets, answer memfds, pidfds. */
static int count_fds(void)
{
	struct dirent *de;
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		char path[300], link[300] = "";

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		if (de->d_name[0] == '.' || readlink(path, link, sizeof(link) - 1) < 0)
			continue;
		n += strncmp(link, "socket:", 7) == 0 || strncmp(link, "/memfd:", 7) == 0 ||
		     strstr(link, "pidfd") != NULL;
	}
	closedir(d);
	return n;
}

/*
 * A query that takes as long as the test wants (it waits on the gate) is
 * answered by a worker: meanwhile 50 other requests are answered, a 5 MB
 * worker answer arrives whole, and the blocked one's answer arrives once
 * the gate opens, from another process. Answered in the loop, the blocked
 * query would hold every other request until the gate opened: the calls
 * below would time out.
 */
START_TEST(offload_serves_others)
{
	struct harness h;
	struct fwd_response r;
	char *argv[] = { "block" }, *who[] = { "whoami" }, *big[] = { "wbig", "5000000" };
	struct pollfd p;
	uint8_t *req;
	size_t len;
	int fd, pid, gate;

	if (!tu_need_root())
		return;
	h_init(&h);
	ck_assert_int_eq(mkfifo(h.gate, 0600), 0);
	h.cfg.offload = test_offload;
	h_start(&h);
	fd = raw_connect(h.path);
	req = encode_args(1, argv, &len);
	raw_send(fd, req, len);
	free(req);
	ck_assert(workers_wait(h.path, 1, 0));
	for (int i = 0; i < 50; i++) {
		char num[16], *e[] = { "echo", num }, want[32];

		snprintf(num, sizeof(num), "%d", i);
		snprintf(want, sizeof(want), "echo %d\n", i);
		ck_assert_int_eq(call(h.path, 2, e, NULL, 0, &r), 0);
		ck_assert_uint_eq(r.status, 0);
		ck_assert_str_eq(r.out.data, want);
		fwd_response_free(&r);
	}
	ck_assert_int_eq(call(h.path, 2, big, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_uint_eq(r.out.len, 5000000);
	for (size_t i = 0; i < r.out.len; i++)
		if (r.out.data[i] != (char)('a' + i % 26))
			ck_abort_msg("wbig: byte %zu is %#x", i, (unsigned)(uint8_t)r.out.data[i]);
	fwd_response_free(&r);
	/* Still nothing for the blocked query. */
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	ck_assert_int_eq(poll(&p, 1, 0), 0);
	gate = open(h.gate, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(gate, 0);
	ck_assert_int_eq(write(gate, "x", 1), 1);
	close(gate);
	ck_assert_int_eq(raw_response(fd, &r, 10000), 0);
	ck_assert_uint_eq(r.status, 0);
	ck_assert_int_eq(sscanf(r.out.data, "released pid=%d", &pid), 1);
	ck_assert_int_ne(pid, getpid());
	fwd_response_free(&r);
	close(fd);
	ck_assert_int_eq(call(h.path, 1, who, NULL, 0, &r), 0);
	ck_assert_int_eq(sscanf(r.out.data, "pid=%d", &pid), 1);
	ck_assert_int_ne(pid, getpid());
	fwd_response_free(&r);
	ck_assert(workers_wait(h.path, 0, 0));
	h_stop(&h);
	ck_assert_uint_eq(h.st.offloaded, 3);
	ck_assert_uint_eq(h.st.worker_failures, 0);
	ck_assert_str_eq(children_of_self(), "");
}
END_TEST

/*
 * A worker that dies gets its client an internal error, one that does not
 * finish in time is killed and its client told; the server goes on, and
 * reaps both.
 */
START_TEST(offload_failures)
{
	struct harness h;
	struct fwd_response r;
	char *crash[] = { "crash" }, *hang[] = { "hang" }, *echo[] = { "echo", "still" };

	if (!tu_need_root())
		return;
	h_init(&h);
	h.cfg.offload = test_offload;
	h.cfg.work_timeout_ms = 500;
	h_start(&h);
	ck_assert_int_eq(call(h.path, 1, crash, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_FAIL);
	ck_assert_msg(strstr(r.err.data, "internal error: the process computing this answer"
			     " failed (signal 9"), "crash: %s", r.err.data);
	fwd_response_free(&r);
	ck_assert_int_eq(call(h.path, 1, hang, NULL, 0, &r), 0);
	ck_assert_uint_eq(r.status, FWD_EXIT_FAIL);
	ck_assert_msg(strstr(r.err.data, "the answer took longer than 500 ms and was stopped"),
		      "hang: %s", r.err.data);
	fwd_response_free(&r);
	ck_assert_int_eq(call(h.path, 2, echo, NULL, 0, &r), 0);
	ck_assert_str_eq(r.out.data, "echo still\n");
	fwd_response_free(&r);
	ck_assert(workers_wait(h.path, 0, 0));
	h_stop(&h);
	ck_assert_uint_eq(h.st.worker_failures, 2);
	ck_assert_uint_eq(h.st.timeouts, 1);
	ck_assert_str_eq(children_of_self(), "");
}
END_TEST

/*
 * Clients that hang up while their answer is computed (2 workers) or
 * queued (18 more) cost nothing once gone: the workers are killed (they
 * would never finish by themselves) and reaped, the queue empties, every
 * fd is closed, and the server answers as before.
 */
START_TEST(offload_hangup)
{
	struct harness h;
	struct fwd_response r;
	char *hang[] = { "hang" }, *echo[] = { "echo", "after" };
	int fds[20], before;
	uint8_t *req;
	size_t len;

	if (!tu_need_root())
		return;
	h_init(&h);
	h.cfg.offload = test_offload;
	h.cfg.max_workers = 2;
	h_start(&h);
	before = count_fds();
	req = encode_args(1, hang, &len);
	for (int i = 0; i < 20; i++) {
		fds[i] = raw_connect(h.path);
		raw_send(fds[i], req, len);
	}
	free(req);
	ck_assert(workers_wait(h.path, 2, 18));
	for (int i = 0; i < 20; i++)
		close(fds[i]);
	ck_assert(workers_wait(h.path, 0, 0));
	ck_assert_int_eq(call(h.path, 2, echo, NULL, 0, &r), 0);
	ck_assert_str_eq(r.out.data, "echo after\n");
	fwd_response_free(&r);
	/* The server closes its end just after sending: give it a moment. */
	for (int i = 0; i < 500 && count_fds() != before; i++)
		usleep(10000);
	ck_assert_int_eq(count_fds(), before);
	h_stop(&h);
	ck_assert_uint_eq(h.st.dropped, 20);
	ck_assert_uint_eq(h.st.offloaded, 2);
	ck_assert_str_eq(children_of_self(), "");
}
END_TEST

static Suite *control_suite(void)
{
	Suite *s = suite_create("control");
	TCase *tc = tcase_create("server");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, basic_round_trip);
	tcase_add_test(tc, fifty_concurrent_clients);
	tcase_add_test(tc, stalled_client_dropped);
	tcase_add_test(tc, garbage_and_oversized);
	tcase_add_test(tc, busy_when_full);
	tcase_add_test(tc, memory_budget);
	tcase_add_test(tc, close_mid_response);
	tcase_add_test(tc, roles_of_real_users);
	tcase_add_test(tc, admin_slots_reserved);
	tcase_add_test(tc, out_of_fds_does_not_spin);
	tcase_add_test(tc, socket_lifecycle);
	tcase_add_test(tc, client_log_rationed);
	suite_add_tcase(s, tc);
	tc = tcase_create("workers");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, offload_serves_others);
	tcase_add_test(tc, offload_failures);
	tcase_add_test(tc, offload_hangup);
	suite_add_tcase(s, tc);
	tc = tcase_create("roles");
	tcase_set_timeout(tc, 60);
	tcase_add_unchecked_fixture(tc, NULL, sec_users_remove);
	tcase_add_test(tc, roles_revoked_while_connected);
	tcase_add_test(tc, roles_from_process_groups);
	tcase_add_test(tc, role_budgets);
	tcase_add_test(tc, roleless_slots);
	suite_add_tcase(s, tc);
	tc = tcase_create("client");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, client_errors);
	tcase_add_test(tc, client_helpers);
	tcase_add_test(tc, client_env_from_parent);
	suite_add_tcase(s, tc);
	return s;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--env-probe") == 0)
		return env_probe();
	self_path = realpath(argv[0], NULL);
	if (!self_path)
		return 1;
	return tu_run(control_suite());
}
