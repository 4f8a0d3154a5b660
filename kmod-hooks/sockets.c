// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The kernel's listeners -> the audit's sockets: sock_diag dumps for the
 * sockets, /proc for who holds them. What `ss -ltnup` shows, read the way
 * ss reads it (inet_diag, then /proc/PID/fd), so the audit costs about
 * what ss costs and never depends on ss's text.
 */
#include "sockets.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/sock_diag.h>

#include "util.h"

#define TCP_LISTEN_STATE 10
#define TCP_CLOSE_STATE 7	/* a bound UDP socket nobody connected */

int fwd_sockdiag_open(struct mnl_socket **out)
{
	struct mnl_socket *sk = mnl_socket_open2(NETLINK_SOCK_DIAG, SOCK_CLOEXEC);
	int ret;

	*out = NULL;
	if (!sk)
		return -errno;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		mnl_socket_close(sk);
		return ret;
	}
	*out = sk;
	return 0;
}

struct dump_ctx {
	struct fwd_audit *a;
	uint8_t proto;
};

static int attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(attr) == INET_DIAG_SKV6ONLY &&
	    mnl_attr_validate(attr, MNL_TYPE_U8) >= 0)
		tb[INET_DIAG_SKV6ONLY] = attr;
	return MNL_CB_OK;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct dump_ctx *c = data;
	const struct inet_diag_msg *m;
	const struct nlattr *tb[INET_DIAG_MAX + 1] = { 0 };
	struct fwd_audit_sock *s;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return MNL_CB_OK;
	m = mnl_nlmsg_get_payload(nlh);
	if ((m->idiag_family != AF_INET && m->idiag_family != AF_INET6) ||
	    m->id.idiag_sport == 0)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*m), attr_cb, tb);
	s = fwd_audit_add(c->a);
	s->family = m->idiag_family;
	s->proto = c->proto;
	memcpy(s->addr, m->id.idiag_src, m->idiag_family == AF_INET ? 4 : 16);
	s->port = ntohs(m->id.idiag_sport);
	s->uid = m->idiag_uid;
	s->inode = m->idiag_inode;
	s->v6only = tb[INET_DIAG_SKV6ONLY] && mnl_attr_get_u8(tb[INET_DIAG_SKV6ONLY]);
	return MNL_CB_OK;
}

static int dump(struct mnl_socket *sk, uint8_t family, uint8_t proto,
		uint32_t states, struct fwd_audit *a, char *buf, size_t buflen)
{
	struct dump_ctx c = { .a = a, .proto = proto };
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)family << 8 | proto, portid = mnl_socket_get_portid(sk);
	ssize_t r;
	int ret;

	memset(buf, 0, 256);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = proto;
	req->idiag_states = states;
	if (mnl_socket_sendto(sk, buf, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		r = mnl_socket_recvfrom(sk, buf, buflen);
		if (r < 0)
			return -errno;
		ret = mnl_cb_run(buf, (size_t)r, seq, portid, dump_cb, &c);
	} while (ret > MNL_CB_STOP);
	return ret < 0 ? -errno : 0;
}

int fwd_sockets_list(struct fwd_audit *a)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	struct mnl_socket *sk;
	size_t n0 = a->n, buflen = 1 << 16;
	char *buf;
	int ret;

	ret = fwd_sockdiag_open(&sk);
	if (ret)
		return ret;
	buf = fwd_xmalloc(buflen);
	for (size_t f = 0; f < sizeof(fams) && ret == 0; f++) {
		ret = dump(sk, fams[f], IPPROTO_TCP, 1u << TCP_LISTEN_STATE, a, buf, buflen);
		if (ret == 0)
			ret = dump(sk, fams[f], IPPROTO_UDP, 1u << TCP_CLOSE_STATE, a,
				   buf, buflen);
		/* A kernel without IPv6 has nothing to say about it. */
		if (ret == -ENOENT && fams[f] == AF_INET6)
			ret = 0;
	}
	free(buf);
	mnl_socket_close(sk);
	if (ret) {
		for (size_t i = n0; i < a->n; i++)
			memset(&a->socks[i], 0, sizeof(a->socks[i]));
		a->n = n0;
	}
	return ret;
}

/* ---- owners ---- */

struct byinode {
	uint64_t inode;
	size_t idx;
};

static int byinode_cmp(const void *x, const void *y)
{
	const struct byinode *a = x, *b = y;

	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

/* The process's systemd unit, from /proc/PID/cgroup (policy/audit.c
 * reads the text), or "". */
static void read_unit(int pdfd, char *out, size_t len)
{
	char buf[4096];
	int fd = openat(pdfd, "cgroup", O_RDONLY | O_CLOEXEC);
	ssize_t r;

	*out = '\0';
	if (fd < 0)
		return;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return;
	buf[r] = '\0';
	fwd_audit_unit_of(buf, out, len);
}

/* One process's command, exe and unit, read once however many sockets
 * it holds (a server with thousands of listeners is one process). */
struct owner {
	int pid;
	bool read;
	char comm[FWD_AUDIT_COMM];
	char exe[FWD_AUDIT_EXE];
	char unit[FWD_AUDIT_UNIT];
};

static void read_owner(int pdfd, struct owner *s)
{
	int fd;
	ssize_t r;

	s->read = true;
	s->comm[0] = s->exe[0] = '\0';
	fd = openat(pdfd, "comm", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		r = read(fd, s->comm, sizeof(s->comm) - 1);
		close(fd);
		if (r > 0) {
			s->comm[r] = '\0';
			s->comm[strcspn(s->comm, "\n")] = '\0';
		}
	}
	r = readlinkat(pdfd, "exe", s->exe, sizeof(s->exe) - 1);
	s->exe[r > 0 ? r : 0] = '\0';
	read_unit(pdfd, s->unit, sizeof(s->unit));
}

/* The sockets process pid holds, given their inodes. */
static void scan_pid(int procfd, const char *name, const struct byinode *ix,
		     size_t n, struct fwd_audit *a)
{
	int pid = atoi(name), pdfd, fdfd;
	struct owner o = { .pid = pid };
	DIR *d;
	struct dirent *de;
	char link[64];

	pdfd = openat(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pdfd < 0)
		return;
	fdfd = openat(pdfd, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!d) {
		if (fdfd >= 0)
			close(fdfd);
		close(pdfd);
		return;
	}
	while ((de = readdir(d))) {
		ssize_t r = readlinkat(fdfd, de->d_name, link, sizeof(link) - 1);
		struct byinode key, *hit;

		if (r < 9 || memcmp(link, "socket:[", 8) != 0)
			continue;
		link[r] = '\0';
		key.inode = strtoull(link + 8, NULL, 10);
		hit = bsearch(&key, ix, n, sizeof(*ix), byinode_cmp);
		if (!hit)
			continue;
		/* Every socket with this inode (one, unless listed twice). */
		while (hit > ix && hit[-1].inode == key.inode)
			hit--;
		for (; hit < ix + n && hit->inode == key.inode; hit++) {
			struct fwd_audit_sock *s = &a->socks[hit->idx];

			if (s->pid != 0 && s->pid < pid)
				continue;
			if (!o.read)
				read_owner(pdfd, &o);
			s->pid = pid;
			memcpy(s->comm, o.comm, sizeof(s->comm));
			memcpy(s->exe, o.exe, sizeof(s->exe));
			memcpy(s->unit, o.unit, sizeof(s->unit));
		}
	}
	closedir(d);
	close(pdfd);
}

static void user_names(struct fwd_audit *a)
{
	uint32_t last = 0;
	char name[FWD_AUDIT_USER] = "";
	bool have = false;

	for (size_t i = 0; i < a->n; i++) {
		if (!have || a->socks[i].uid != last) {
			struct passwd pw, *res = NULL;
			char pbuf[1024];

			last = a->socks[i].uid;
			have = true;
			name[0] = '\0';
			if (getpwuid_r(last, &pw, pbuf, sizeof(pbuf), &res) == 0 && res)
				snprintf(name, sizeof(name), "%s", res->pw_name);
		}
		snprintf(a->socks[i].user, sizeof(a->socks[i].user), "%s", name);
	}
}

void fwd_sockets_owners(struct fwd_audit *a)
{
	struct byinode *ix;
	int procfd;
	DIR *d;
	struct dirent *de;

	user_names(a);
	if (!a->n)
		return;
	ix = fwd_xcalloc(a->n, sizeof(*ix));
	for (size_t i = 0; i < a->n; i++)
		ix[i] = (struct byinode){ .inode = a->socks[i].inode, .idx = i };
	qsort(ix, a->n, sizeof(*ix), byinode_cmp);
	procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = procfd >= 0 ? fdopendir(procfd) : NULL;
	if (!d) {
		if (procfd >= 0)
			close(procfd);
		free(ix);
		return;
	}
	while ((de = readdir(d)))
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9')
			scan_pid(procfd, de->d_name, ix, a->n, a);
	closedir(d);
	free(ix);
}

/* ---- one flow's owner (the verdict loop's program decision) ---- */

#define PID_CACHE 16u

struct fwd_owner_finder {
	struct mnl_socket *sk;
	int procfd;		/* /proc, kept open: one open less per flow */
	uint32_t seq;
	uint32_t pids[PID_CACHE];	/* most recent first; 0: empty */
	/* The fd number each held its last socket at: a client making
	 * connection after connection tends to get the same number again,
	 * so one readlink usually answers before the fd directory is read. */
	int fds[PID_CACHE];
	/* /proc/PID of each, kept open (O_PATH), or -1. It names that one
	 * process, not the number: once it exits every lookup through it
	 * fails, also when its pid is given to a new process, so a reused
	 * pid never inherits the entry. The fd link and the exe are read
	 * relative to it, through the same process (and a shorter path). */
	int dfd[PID_CACHE];
	char buf[8192];
};

int fwd_owner_finder_new(struct fwd_owner_finder **out)
{
	struct fwd_owner_finder *f = fwd_xcalloc(1, sizeof(*f));
	int ret = fwd_sockdiag_open(&f->sk);

	if (ret) {
		free(f);
		*out = NULL;
		return ret;
	}
	for (unsigned i = 0; i < PID_CACHE; i++)
		f->dfd[i] = -1;
	f->procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (f->procfd < 0) {
		ret = -errno;
		mnl_socket_close(f->sk);
		free(f);
		*out = NULL;
		return ret;
	}
	*out = f;
	return 0;
}

void fwd_owner_finder_free(struct fwd_owner_finder *f)
{
	if (!f)
		return;
	mnl_socket_close(f->sk);
	close(f->procfd);
	for (unsigned i = 0; i < PID_CACHE; i++)
		if (f->dfd[i] >= 0)
			close(f->dfd[i]);
	free(f);
}

struct one_ctx {
	bool found;
	uint32_t uid;
	uint64_t inode;
};

static int one_cb(const struct nlmsghdr *nlh, void *data)
{
	struct one_ctx *c = data;
	const struct inet_diag_msg *m;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*m))
		return MNL_CB_OK;
	m = mnl_nlmsg_get_payload(nlh);
	c->found = true;
	c->uid = m->idiag_uid;
	c->inode = m->idiag_inode;
	return MNL_CB_OK;
}

/* sock_diag for exactly one socket: the kernel's own lookup by the
 * 5-tuple (inet_diag_find_one_icsk, udp_dump_one). */
static int diag_one(struct fwd_owner_finder *f, int family, uint8_t proto,
		    const uint8_t *src, uint16_t sport, const uint8_t *dst,
		    uint16_t dport, struct one_ctx *c)
{
	unsigned alen = family == AF_INET ? 4 : 16;
	uint32_t portid = mnl_socket_get_portid(f->sk), seq = ++f->seq;
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	ssize_t r;
	int ret;

	memset(f->buf, 0, 256);
	nlh = mnl_nlmsg_put_header(f->buf);
	nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = (uint8_t)family;
	req->sdiag_protocol = proto;
	req->idiag_states = ~0u;
	/*
	 * TCP's lookup takes src as the socket's local end. UDP's
	 * (udp_dump_one) hands the pair to the receive-path lookup as a
	 * packet's source and destination, so there src is the remote end:
	 * swapped, the kernel finds the local socket as it would for a reply,
	 * a connected one by all four, an unconnected one (sendto) by its
	 * local address and port.
	 */
	if (proto == IPPROTO_UDP) {
		const uint8_t *t = src;
		uint16_t tp = sport;

		src = dst;
		dst = t;
		sport = dport;
		dport = tp;
	}
	req->id.idiag_sport = htons(sport);
	req->id.idiag_dport = htons(dport);
	memcpy(req->id.idiag_src, src, alen);
	memcpy(req->id.idiag_dst, dst, alen);
	req->id.idiag_cookie[0] = req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (mnl_socket_sendto(f->sk, f->buf, nlh->nlmsg_len) < 0)
		return -errno;
	/* One answer, not a dump: the socket's message, or an error
	 * (nothing more follows, so no reading on until NLMSG_DONE). */
	r = mnl_socket_recvfrom(f->sk, f->buf, sizeof(f->buf));
	if (r < 0)
		return -errno;
	ret = mnl_cb_run(f->buf, (size_t)r, seq, portid, one_cb, c);
	/* The kernel answers ENOENT for a socket it does not have. */
	if (ret < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	return c->found ? 0 : -ENOENT;
}

/* Whether process pid holds socket inode: fd *hint first (-1: none),
 * then the whole /proc/PID/fd; *hint is set to the fd found. dfd: that
 * process's /proc/PID (the cache's), or -1 to look it up by number. */
static bool pid_holds(int procfd, int dfd, uint32_t pid, uint64_t inode,
		      int *hint)
{
	char name[40], link[64], want[40];
	int fdfd;
	DIR *d;
	struct dirent *de;
	bool hit = false;
	size_t wl;
	ssize_t r;

	wl = (size_t)snprintf(want, sizeof(want), "socket:[%llu]",
			      (unsigned long long)inode);
	if (*hint >= 0) {
		if (dfd >= 0)
			snprintf(name, sizeof(name), "fd/%d", *hint);
		else
			snprintf(name, sizeof(name), "%u/fd/%d", pid, *hint);
		r = readlinkat(dfd >= 0 ? dfd : procfd, name, link, sizeof(link));
		if (r == (ssize_t)wl && memcmp(link, want, wl) == 0)
			return true;
	}
	if (dfd >= 0)
		snprintf(name, sizeof(name), "fd");
	else
		snprintf(name, sizeof(name), "%u/fd", pid);
	fdfd = openat(dfd >= 0 ? dfd : procfd, name,
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fdfd >= 0 ? fdopendir(fdfd) : NULL;
	if (!d) {
		if (fdfd >= 0)
			close(fdfd);
		return false;
	}
	while (!hit && (de = readdir(d))) {
		r = readlinkat(fdfd, de->d_name, link, sizeof(link));
		hit = r == (ssize_t)wl && memcmp(link, want, wl) == 0;
		if (hit)
			*hint = atoi(de->d_name);
	}
	closedir(d);
	return hit;
}

/* pid to the front, with the fd it held the socket at. fresh: it was
 * found by number (the /proc scan), so its /proc/PID is opened anew (a
 * cached one may be an earlier process's with the same number). */
static void cache_put(struct fwd_owner_finder *f, int procfd, uint32_t pid,
		      int fd, bool fresh)
{
	unsigned i;
	int dfd;

	for (i = 0; i + 1 < PID_CACHE && f->pids[i] != pid; i++)
		;
	dfd = f->dfd[i];
	if (f->pids[i] != pid || fresh) {
		char name[16];

		if (dfd >= 0)
			close(dfd);
		snprintf(name, sizeof(name), "%u", pid);
		dfd = openat(procfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	memmove(&f->pids[1], &f->pids[0], i * sizeof(f->pids[0]));
	memmove(&f->fds[1], &f->fds[0], i * sizeof(f->fds[0]));
	memmove(&f->dfd[1], &f->dfd[0], i * sizeof(f->dfd[0]));
	f->pids[0] = pid;
	f->fds[0] = fd;
	f->dfd[0] = dfd;
}

/* The pid holding inode: the cache first, then every process. 0: none. */
static uint32_t pid_of(struct fwd_owner_finder *f, int procfd, uint64_t inode)
{
	DIR *d;
	struct dirent *de;
	uint32_t pid = 0;
	int dfd, fd = -1;

	for (unsigned i = 0; i < PID_CACHE && f->pids[i]; i++) {
		fd = f->fds[i];
		/* Only through the process that was cached: a gone one
		 * (dfd -1, or every lookup through it failing) is skipped. */
		if (f->dfd[i] >= 0 &&
		    pid_holds(procfd, f->dfd[i], f->pids[i], inode, &fd)) {
			pid = f->pids[i];
			cache_put(f, procfd, pid, fd, false);
			return pid;
		}
	}
	dfd = openat(procfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = dfd >= 0 ? fdopendir(dfd) : NULL;
	if (!d) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while (!pid && (de = readdir(d))) {
		fd = -1;
		if (de->d_name[0] >= '1' && de->d_name[0] <= '9' &&
		    pid_holds(procfd, -1, (uint32_t)strtoul(de->d_name, NULL, 10),
			      inode, &fd))
			pid = (uint32_t)strtoul(de->d_name, NULL, 10);
	}
	closedir(d);
	if (pid)
		cache_put(f, procfd, pid, fd, true);
	return pid;
}

int fwd_owner_find(struct fwd_owner_finder *f, int family, uint8_t proto,
		   const uint8_t *src, uint16_t sport, const uint8_t *dst,
		   uint16_t dport, struct fwd_sock_owner *out)
{
	struct one_ctx c = { 0 };
	char exe[32];
	struct stat st;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((family != AF_INET && family != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return -ENOENT;
	ret = diag_one(f, family, proto, src, sport, dst, dport, &c);
	if (ret)
		return ret;
	out->uid = c.uid;
	out->inode = c.inode;
	if (!c.inode)
		return -ENOENT;	/* no file: a socket already closed */
	out->pid = pid_of(f, f->procfd, c.inode);
	/* stat follows the link: the binary the process runs, also when
	 * its path was renamed or deleted since. pid_of left the process
	 * at the cache's front: its own /proc/PID, if that opened. */
	if (out->pid && f->pids[0] == out->pid && f->dfd[0] >= 0)
		ret = fstatat(f->dfd[0], "exe", &st, 0) == 0 ? 0 : -ENOENT;
	else {
		snprintf(exe, sizeof(exe), "%u/exe", out->pid);
		ret = out->pid && fstatat(f->procfd, exe, &st, 0) == 0 ? 0 : -ENOENT;
	}
	if (ret)
		return ret;
	out->exe_dev = (uint64_t)st.st_dev;
	out->exe_ino = (uint64_t)st.st_ino;
	return 0;
}
