// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control socket client (see client.h). Blocking in spirit, but every
 * wait is a poll() against one deadline, so a daemon that accepts and
 * then says nothing cannot hang fwctl.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ENV_SEARCH_DEPTH	16
#define ENVIRON_MAX		(1u << 20)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Replaces resp with a message made here ("fwctl: ...") and status. */
static void local_fail(struct fwd_response *resp, uint8_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void local_fail(struct fwd_response *resp, uint8_t status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fwd_response_free(resp);
	resp->status = status;
	fwd_response_eprintf(resp, "fwctl: %s\n", msg);
	resp->error = 0;
}

/* Waits for events on fd until the deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return 0;
		n = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_to(const char *path, long long deadline, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	long long left = deadline - now_ms();
	struct timeval tv;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/*
	 * A blocking connect waits while the daemon's backlog is full; the
	 * send timeout bounds that wait (for AF_UNIX it is connect's timeout).
	 */
	if (left < 1)
		left = 1;
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	do {
		ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	} while (ret < 0 && errno == EINTR);
	if (ret < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*out = fd;
	return 0;
}

/*
 * Sends the whole frame. Returns 0 when sent, 1 when the daemon closed
 * its side early (it may have answered already: read on), -ETIMEDOUT, or
 * another -errno.
 */
static int send_all(int fd, const uint8_t *buf, size_t len, long long deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		int ret;

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EPIPE || errno == ECONNRESET)
			return 1;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = wait_fd(fd, POLLOUT, deadline);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Reads exactly len bytes. 0, or -ETIMEDOUT, or -ECONNRESET for an end
 * of stream before len (with *got saying how far it came), or -errno.
 */
static int recv_all(int fd, uint8_t *buf, size_t len, size_t *got, long long deadline)
{
	while (*got < len) {
		ssize_t n = recv(fd, buf + *got, len - *got, 0);
		int ret;

		if (n > 0) {
			*got += (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret == 0)
			return -ETIMEDOUT;
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int read_response(int fd, const char *path, long long deadline, int timeout_ms,
			 struct fwd_response *resp)
{
	uint8_t hdr[FWD_PROTO_HDR_LEN], *frame = NULL;
	size_t got = 0, frame_len;
	char why[256];
	int ret;

	ret = recv_all(fd, hdr, sizeof(hdr), &got, deadline);
	if (ret == 0) {
		ret = fwd_frame_check(hdr, sizeof(hdr), FWD_FRAME_RESPONSE, &frame_len,
				      why, sizeof(why));
		if (ret < 0) {
			local_fail(resp, FWD_EXIT_PROTO, "bad response from fwd at %s: %s",
				   path, why);
			return ret;
		}
		frame = malloc(frame_len);
		if (!frame) {
			local_fail(resp, FWD_EXIT_FAIL, "out of memory");
			return -ENOMEM;
		}
		memcpy(frame, hdr, sizeof(hdr));
		ret = recv_all(fd, frame, frame_len, &got, deadline);
	}
	if (ret == -ETIMEDOUT) {
		local_fail(resp, FWD_EXIT_UNREACHABLE, "no answer from fwd at %s within %d s",
			   path, (timeout_ms + 999) / 1000);
	} else if (ret == -ECONNRESET && got == 0) {
		local_fail(resp, FWD_EXIT_UNREACHABLE,
			   "fwd at %s closed the connection without answering", path);
	} else if (ret == -ECONNRESET) {
		local_fail(resp, FWD_EXIT_PROTO,
			   "bad response from fwd at %s: truncated after %zu bytes", path, got);
	} else if (ret < 0) {
		local_fail(resp, FWD_EXIT_UNREACHABLE, "reading from fwd at %s: %s",
			   path, strerror(-ret));
	} else {
		ret = fwd_response_decode(frame, frame_len, resp, why, sizeof(why));
		if (ret < 0)
			local_fail(resp, FWD_EXIT_PROTO, "bad response from fwd at %s: %s",
				   path, why);
	}
	free(frame);
	return ret;
}

int fwd_client_call(const char *path, const struct fwd_request *req, int timeout_ms,
		    struct fwd_response *resp)
{
	long long deadline;
	uint8_t *buf = NULL;
	size_t len;
	int fd = -1, ret;

	fwd_response_init(resp);
	if (timeout_ms <= 0)
		timeout_ms = FWD_CLIENT_TIMEOUT_MS;
	deadline = now_ms() + timeout_ms;
	ret = fwd_request_encode(req, &buf, &len);
	if (ret == -ENOMEM) {
		local_fail(resp, FWD_EXIT_FAIL, "out of memory");
		return ret;
	}
	if (ret < 0) {
		local_fail(resp, FWD_EXIT_USAGE, "cannot send this request: %s",
			   ret == -EMSGSIZE ? "too large" : strerror(-ret));
		return ret;
	}
	ret = connect_to(path, deadline, &fd);
	if (ret == -EACCES || ret == -EPERM) {
		local_fail(resp, FWD_EXIT_DENIED,
			   "permission denied: cannot connect to fwd at %s: %s", path,
			   strerror(-ret));
		goto out;
	}
	if (ret == -EAGAIN) {
		local_fail(resp, FWD_EXIT_UNREACHABLE,
			   "fwd at %s accepts no connections (busy?) within %d s", path,
			   (timeout_ms + 999) / 1000);
		goto out;
	}
	if (ret < 0) {
		local_fail(resp, FWD_EXIT_UNREACHABLE, "cannot reach fwd at %s: %s%s", path,
			   strerror(-ret),
			   ret == -ENOENT || ret == -ECONNREFUSED ? " (is fwd running?)" : "");
		goto out;
	}
	ret = send_all(fd, buf, len, deadline);
	if (ret == -ETIMEDOUT) {
		local_fail(resp, FWD_EXIT_UNREACHABLE,
			   "fwd at %s did not take the request within %d s", path,
			   (timeout_ms + 999) / 1000);
		goto out;
	}
	if (ret < 0) {
		local_fail(resp, FWD_EXIT_UNREACHABLE, "sending to fwd at %s: %s", path,
			   strerror(-ret));
		goto out;
	}
	/* Sent, or cut short by the daemon: either way its answer comes next. */
	ret = read_response(fd, path, deadline, timeout_ms, resp);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

int fwd_client_read_stdin(struct fwd_request *req, int fd)
{
	size_t len = 0, cap = 0;
	uint8_t *data = NULL;
	int ret = 0;

	for (;;) {
		ssize_t n;

		if (cap - len < 65536) {
			size_t ncap = cap ? cap * 2 : 262144;
			uint8_t *p;

			if (ncap > FWD_PROTO_MAX_STDIN + 1)
				ncap = FWD_PROTO_MAX_STDIN + 1;
			if (ncap <= len) {
				ret = -EFBIG;
				break;
			}
			p = realloc(data, ncap);
			if (!p) {
				ret = -ENOMEM;
				break;
			}
			data = p;
			cap = ncap;
		}
		n = read(fd, data + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > FWD_PROTO_MAX_STDIN) {
			ret = -EFBIG;
			break;
		}
	}
	if (ret == 0)
		ret = fwd_request_set_stdin(req, data, len);
	free(data);
	return ret;
}

/* The parent pid of pid from /proc/PID/stat, or -1. */
static pid_t parent_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) state ppid ...": comm may hold anything, even ")". */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

/* Looks name up in /proc/PID/environ; malloc'd value or NULL. */
static char *environ_of(pid_t pid, const char *name)
{
	size_t nlen = strlen(name), len = 0;
	char path[64], *buf, *val = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	buf = malloc(ENVIRON_MAX + 1);
	if (!buf) {
		close(fd);
		return NULL;
	}
	while (len < ENVIRON_MAX && (n = read(fd, buf + len, ENVIRON_MAX - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1) {
		const char *e = buf + off;

		if (strncmp(e, name, nlen) == 0 && e[nlen] == '=') {
			val = strdup(e + nlen + 1);
			break;
		}
	}
	free(buf);
	return val;
}

int fwd_client_add_env(struct fwd_request *req)
{
	static const char *const names[] = { "SSH_CONNECTION" };
	int ret = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && ret == 0; i++) {
		const char *v = getenv(names[i]);
		char *found = NULL;
		pid_t pid = getppid();

		for (int depth = 0; !v && pid > 1 && depth < ENV_SEARCH_DEPTH; depth++) {
			found = environ_of(pid, names[i]);
			v = found;
			pid = parent_of(pid);
		}
		if (v) {
			ret = fwd_request_add_env(req, names[i], v);
			/* A value the protocol cannot carry is left out, not fatal. */
			if (ret == -EINVAL)
				ret = 0;
		}
		free(found);
	}
	return ret;
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

int fwd_client_print(const struct fwd_response *resp, int outfd, int errfd)
{
	if (resp->out.len)
		write_all(outfd, resp->out.data, resp->out.len);
	if (resp->err.len)
		write_all(errfd, resp->err.data, resp->err.len);
	return resp->status;
}
