// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nettool: a tiny traffic tool for the end-to-end tests and the benchmarks.
 *
 * Every subcommand is bounded in time (and usually in count) so that a test
 * can never hang on it, and the exit codes tell apart the outcomes a firewall
 * test has to assert: a drop shows as a timeout, a reject as "refused" (TCP
 * RST or ICMP port unreachable) or "unreachable" (other ICMP errors).
 *
 * Addresses are IPv4 or IPv6 literals; "::" as a listen address is dual
 * stack. Nothing here resolves names or touches routes: the tool only opens
 * sockets in whatever network namespace it is started in.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum nt_exit {
	NT_OK = 0,
	NT_TIMEOUT = 1,		/* no answer in time: the packet was dropped */
	NT_REFUSED = 2,		/* ECONNREFUSED: TCP RST or ICMP port unreachable */
	NT_UNREACH = 3,		/* other ICMP error (admin prohibited, host unreachable) */
	NT_ERROR = 4,		/* anything else: a local problem, not a verdict */
	NT_USAGE = 64,
};

#define NT_MAX_FROM 8
#define NT_MAX_CLIENTS 64
#define NT_MAX_FLIGHT 256
#define NT_BATCH 64
#define NT_PAYLOAD "nettool-echo\n"

/* Everything the options can set; one context, no globals but the signal flag. */
struct nt_opts {
	const char *proto;		/* "tcp" | "udp" */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	long count;			/* 0 = unbounded (the time bound still holds) */
	double timeout;			/* seconds */
	double rate;			/* packets (or connection attempts) per second, 0 = as fast as possible */
	bool echo;
	bool quiet;
	bool unconnected;		/* udp: sendto() on an unconnected socket */
	struct sockaddr_storage from[NT_MAX_FROM];
	int nfrom;
	unsigned sport_lo, sport_hi;	/* flood: source port range */
	bool sport_set;			/* connect/udp --src: from port sport_lo */
	unsigned size;			/* flood: UDP payload bytes */
	struct sockaddr_storage src;	/* connect/udp --src: source address */
	socklen_t srclen;		/* 0: the kernel picks one */
	const char *dev;		/* rawudp --dev: leave by this interface */
	const char *wait_file;		/* send --wait-file: pause after the first */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* SIGTERM/SIGINT end a loop cleanly (so the counts are printed); no
 * SA_RESTART, so a blocking poll returns EINTR at once. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Milliseconds left until deadline, for poll(); never negative. */
static int ms_left(double deadline)
{
	double left = deadline - now();

	return left <= 0 ? 0 : (int)(left * 1000) + 1;
}

static void sleep_until(double t)
{
	double d = t - now();
	struct timespec ts;

	if (d <= 0)
		return;
	ts.tv_sec = (time_t)d;
	ts.tv_nsec = (long)((d - ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

static int parse_addr(const char *s, unsigned port, struct sockaddr_storage *ss,
		      socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*len = sizeof(*in6);
		return 0;
	}
	/* A link-local address names its interface: fe80::1%eth0. */
	if (strchr(s, '%') && strlen(s) < INET6_ADDRSTRLEN + IF_NAMESIZE) {
		char buf[INET6_ADDRSTRLEN + IF_NAMESIZE];
		char *pct;

		strcpy(buf, s);
		pct = strchr(buf, '%');
		*pct = '\0';
		in6->sin6_scope_id = if_nametoindex(pct + 1);
		if (in6->sin6_scope_id &&
		    inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			in6->sin6_port = htons(port);
			*len = sizeof(*in6);
			return 0;
		}
	}
	return -1;
}

/* Compare addresses only (not ports); a v4-mapped IPv6 address (what a dual
 * stack socket reports for IPv4 peers) equals the plain IPv4 address. */
static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct in_addr a4, b4;
	bool a_is4 = false, b_is4 = false;
	const struct sockaddr_in6 *a6 = (const void *)a, *b6 = (const void *)b;

	if (a->ss_family == AF_INET) {
		a4 = ((const struct sockaddr_in *)a)->sin_addr;
		a_is4 = true;
	} else if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		memcpy(&a4, &a6->sin6_addr.s6_addr[12], 4);
		a_is4 = true;
	}
	if (b->ss_family == AF_INET) {
		b4 = ((const struct sockaddr_in *)b)->sin_addr;
		b_is4 = true;
	} else if (IN6_IS_ADDR_V4MAPPED(&b6->sin6_addr)) {
		memcpy(&b4, &b6->sin6_addr.s6_addr[12], 4);
		b_is4 = true;
	}
	if (a_is4 != b_is4)
		return false;
	if (a_is4)
		return a4.s_addr == b4.s_addr;
	return memcmp(&a6->sin6_addr, &b6->sin6_addr, 16) == 0;
}

static bool counted(const struct nt_opts *o, const struct sockaddr_storage *peer)
{
	if (o->nfrom == 0)
		return true;
	for (int i = 0; i < o->nfrom; i++)
		if (same_addr(&o->from[i], peer))
			return true;
	return false;
}

static const char *errno_verdict(int err, enum nt_exit *code)
{
	switch (err) {
	case ECONNREFUSED:
		*code = NT_REFUSED;
		return "refused";
	case ETIMEDOUT:
		*code = NT_TIMEOUT;
		return "timeout";
	case EHOSTUNREACH:
	case ENETUNREACH:
	case EACCES:
	case EPERM:		/* a local output rule dropped it */
	case EPROTO:
		*code = NT_UNREACH;
		return "unreachable";
	default:
		*code = NT_ERROR;
		return "error";
	}
}

static int finish(const struct nt_opts *o, const char *what, enum nt_exit code,
		  const char *verdict, int err)
{
	if (!o->quiet)
		fprintf(stderr, "nettool: %s: %s%s%s\n", what, verdict,
			err ? ": " : "", err ? strerror(err) : "");
	return code;
}

static int open_socket(int family, int type, int proto)
{
	int fd = socket(family, type | SOCK_CLOEXEC, proto);

	if (fd < 0) {
		fprintf(stderr, "nettool: socket: %s\n", strerror(errno));
		exit(NT_ERROR);
	}
	return fd;
}

static int bind_listen_socket(const struct nt_opts *o, int type)
{
	int fd = open_socket(o->addr.ss_family, type, 0), one = 1, zero = 0;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (o->addr.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (type == SOCK_DGRAM) {
		int big = 8 << 20;

		setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	}
	if (bind(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0) {
		fprintf(stderr, "nettool: bind: %s\n", strerror(errno));
		exit(NT_ERROR);
	}
	if (type == SOCK_STREAM && listen(fd, 512) != 0) {
		fprintf(stderr, "nettool: listen: %s\n", strerror(errno));
		exit(NT_ERROR);
	}
	return fd;
}

/* Tell whoever started us that the socket is bound: tests wait for this
 * line instead of sleeping. */
static void announce_ready(void)
{
	printf("ready\n");
	fflush(stdout);
}

static int listen_tcp(const struct nt_opts *o)
{
	struct pollfd pf[1 + NT_MAX_CLIENTS];
	int lfd = bind_listen_socket(o, SOCK_STREAM), nclients = 0;
	double deadline = now() + o->timeout, linger = 0;
	long n = 0, total = 0;
	char buf[4096];

	announce_ready();
	pf[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	while (!stop_requested && now() < deadline) {
		/* After --count connections: stop accepting, finish echoing
		 * for at most one more second, then leave. */
		if (linger && (nclients == 0 || now() > linger))
			break;
		if (poll(pf, 1 + nclients, ms_left(linger ? linger : deadline)) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!linger && (pf[0].revents & POLLIN)) {
			struct sockaddr_storage peer;
			socklen_t plen = sizeof(peer);
			int cfd = accept4(lfd, (struct sockaddr *)&peer, &plen,
					  SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (cfd >= 0) {
				total++;
				if (counted(o, &peer))
					n++;
				if (nclients < NT_MAX_CLIENTS && o->echo)
					pf[1 + nclients++] = (struct pollfd){
						.fd = cfd, .events = POLLIN };
				else
					close(cfd);
				if (o->count && n >= o->count)
					linger = now() + 1;
			}
		}
		for (int i = 1; i <= nclients; i++) {
			ssize_t r;

			if (!pf[i].revents)
				continue;
			r = read(pf[i].fd, buf, sizeof(buf));
			if (r > 0 && write(pf[i].fd, buf, r) == r)
				continue;
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			close(pf[i].fd);
			pf[i] = pf[nclients--];
			i--;
		}
	}
	for (int i = 1; i <= nclients; i++)
		close(pf[i].fd);
	close(lfd);
	printf("count %ld total %ld\n", n, total);
	return NT_OK;
}

/* UDP: echo (listen) or only count (sink), in batches so a sink keeps up
 * with a flood. */
static int listen_udp(const struct nt_opts *o)
{
	struct sockaddr_storage peers[NT_BATCH];
	struct mmsghdr msgs[NT_BATCH];
	struct iovec iov[NT_BATCH];
	static char bufs[NT_BATCH][2048];
	int fd = bind_listen_socket(o, SOCK_DGRAM);
	double deadline = now() + o->timeout;
	long n = 0, total = 0;

	announce_ready();
	while (!stop_requested && now() < deadline && !(o->count && n >= o->count)) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		int got;

		if (poll(&pf, 1, ms_left(deadline)) <= 0)
			continue;
		for (int i = 0; i < NT_BATCH; i++) {
			iov[i] = (struct iovec){ bufs[i], sizeof(bufs[i]) };
			msgs[i].msg_hdr = (struct msghdr){
				.msg_name = &peers[i], .msg_namelen = sizeof(peers[i]),
				.msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		got = recvmmsg(fd, msgs, NT_BATCH, MSG_DONTWAIT, NULL);
		for (int i = 0; i < got; i++) {
			total++;
			if (counted(o, &peers[i]))
				n++;
			if (o->echo)
				sendto(fd, bufs[i], msgs[i].msg_len, MSG_DONTWAIT,
				       (struct sockaddr *)&peers[i], msgs[i].msg_hdr.msg_namelen);
		}
	}
	close(fd);
	printf("count %ld total %ld\n", n, total);
	return NT_OK;
}

static int cmd_listen(struct nt_opts *o)
{
	catch_signals();
	return strcmp(o->proto, "tcp") == 0 ? listen_tcp(o) : listen_udp(o);
}

static int cmd_sink(struct nt_opts *o)
{
	o->echo = false;
	return cmd_listen(o);
}

/* Wait for the echo of what we sent; 0 when it came back whole. */
static int await_echo(int fd, double deadline)
{
	char buf[sizeof(NT_PAYLOAD)];
	size_t got = 0;

	while (got < strlen(NT_PAYLOAD)) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t r;
		int pr = poll(&pf, 1, ms_left(deadline));

		if (pr == 0)
			return ETIMEDOUT;
		if (pr < 0)
			return errno;
		r = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT);
		if (r < 0 && errno == EAGAIN)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return ECONNRESET;
		got += r;
	}
	return memcmp(buf, NT_PAYLOAD, got) == 0 ? 0 : EPROTO;
}

/* --src: send from this address (one of the namespace's own, possibly not
 * the one the route would pick: how the tests play a spoofing host). */
static void bind_src(int fd, const struct nt_opts *o)
{
	struct sockaddr_storage ss = o->src;
	int one = 1;

	if (!o->srclen)
		return;
	/* --sport: the same source port as another process just used (a
	 * spoofer taking over a known flow) */
	if (o->sport_set) {
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)o->sport_lo);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)o->sport_lo);
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	}
	if (bind(fd, (const struct sockaddr *)&ss, o->srclen) != 0) {
		fprintf(stderr, "nettool: bind --src: %s\n", strerror(errno));
		exit(NT_ERROR);
	}
}

static int cmd_connect(struct nt_opts *o)
{
	int fd = open_socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	double deadline = now() + o->timeout;
	struct pollfd pf = { .fd = fd, .events = POLLOUT };
	enum nt_exit code;
	const char *v;
	int err = 0, pr;
	socklen_t elen = sizeof(err);

	bind_src(fd, o);
	if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0 &&
	    errno != EINPROGRESS) {
		err = errno;
		v = errno_verdict(err, &code);
		return finish(o, "connect", code, v, err);
	}
	do
		pr = poll(&pf, 1, ms_left(deadline));
	while (pr < 0 && errno == EINTR);
	if (pr == 0)
		return finish(o, "connect", NT_TIMEOUT, "timeout", 0);
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
	if (err) {
		v = errno_verdict(err, &code);
		return finish(o, "connect", code, v, err);
	}
	if (send(fd, NT_PAYLOAD, strlen(NT_PAYLOAD), MSG_NOSIGNAL) < 0) {
		err = errno;
		v = errno_verdict(err, &code);
		return finish(o, "send", code, v, err);
	}
	err = await_echo(fd, deadline);
	close(fd);
	if (err) {
		v = errno_verdict(err, &code);
		return finish(o, "echo", code, v, err);
	}
	return finish(o, "connect", NT_OK, "ok", 0);
}

/* One datagram, resent every 200 ms until its echo comes back, an ICMP error
 * arrives (a connected UDP socket reports it) or the time is up. */
static int cmd_udp(struct nt_opts *o)
{
	int fd = open_socket(o->addr.ss_family, SOCK_DGRAM, 0);
	double deadline = now() + o->timeout;
	enum nt_exit code;
	const char *v;
	int err;

	bind_src(fd, o);
	if (!o->unconnected &&
	    connect(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0) {
		err = errno;
		v = errno_verdict(err, &code);
		return finish(o, "udp", code, v, err);
	}
	for (;;) {
		double next = now() + 0.2;

		if (sendto(fd, NT_PAYLOAD, strlen(NT_PAYLOAD), 0,
			   o->unconnected ? (struct sockaddr *)&o->addr : NULL,
			   o->unconnected ? o->addrlen : 0) < 0 &&
		    errno != EAGAIN && errno != ENOBUFS) {
			err = errno;
			break;
		}
		err = await_echo(fd, next < deadline ? next : deadline);
		if (err != ETIMEDOUT || now() >= deadline)
			break;
	}
	close(fd);
	if (err) {
		v = errno_verdict(err, &code);
		return finish(o, "udp", code, v, err);
	}
	return finish(o, "udp", NT_OK, "ok", 0);
}

static uint16_t ip_csum(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(b[i] << 8 | b[i + 1]);
	if (n & 1)
		s += (uint32_t)(b[n - 1] << 8);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

/*
 * IPv4 datagrams with a source no socket may bind, written whole and sent
 * on a packet socket to the link's broadcast MAC, past the local IP stack
 * (a raw IP socket would fill in a 0.0.0.0 source): what a DHCP client
 * sends before it has an address (0.0.0.0 to 255.255.255.255). --count of
 * them (default 3) out of --dev; no answer is awaited, the receiver counts.
 */
static int cmd_rawudp(struct nt_opts *o)
{
	static const char payload[] = NT_PAYLOAD;
	struct {
		struct iphdr ip;
		struct udphdr udp;
		char data[sizeof(payload) - 1];
	} __attribute__((packed)) pkt = { 0 };
	const struct sockaddr_in *src = (const void *)&o->src;
	const struct sockaddr_in *dst = (const void *)&o->addr;
	struct sockaddr_ll ll = {
		.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP),
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	int fd;

	if (o->addr.ss_family != AF_INET || !o->srclen || !o->dev) {
		fprintf(stderr, "nettool: rawudp: IPv4, --src and --dev needed\n");
		return NT_USAGE;
	}
	ll.sll_ifindex = (int)if_nametoindex(o->dev);
	if (!ll.sll_ifindex) {
		fprintf(stderr, "nettool: rawudp: %s: %s\n", o->dev, strerror(errno));
		return NT_ERROR;
	}
	fd = open_socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	memcpy(pkt.data, payload, sizeof(pkt.data));
	pkt.ip.version = 4;
	pkt.ip.ihl = 5;
	pkt.ip.tot_len = htons(sizeof(pkt));
	pkt.ip.ttl = 64;
	pkt.ip.protocol = IPPROTO_UDP;
	pkt.ip.saddr = src->sin_addr.s_addr;
	pkt.ip.daddr = dst->sin_addr.s_addr;
	pkt.ip.check = ip_csum(&pkt.ip, sizeof(pkt.ip));
	pkt.udp.source = htons(68);
	pkt.udp.dest = dst->sin_port;
	pkt.udp.len = htons(sizeof(pkt.udp) + sizeof(pkt.data));
	/* checksum 0: none, which IPv4 allows */
	for (long i = 0; i < (o->count ? o->count : 3); i++)
		if (sendto(fd, &pkt, sizeof(pkt), 0, (const struct sockaddr *)&ll,
			   sizeof(ll)) != (ssize_t)sizeof(pkt)) {
			fprintf(stderr, "nettool: rawudp: send: %s\n", strerror(errno));
			return NT_ERROR;
		}
	close(fd);
	return finish(o, "rawudp", NT_OK, "sent", 0);
}

/* Keep a send loop at `rate` per second: sleep until packet i is due. */
static void pace(const struct nt_opts *o, double start, long i)
{
	if (o->rate > 0)
		sleep_until(start + i / o->rate);
}

/*
 * One-way UDP: --count datagrams (default 1) from one connected socket,
 * one flow, at --rate; no answer is awaited (the peer is a sink). With
 * --wait-file PATH the first goes alone, then the rest once PATH exists
 * (polled every 10 ms, within --timeout): a test can look at what the
 * first datagram did before the others follow on the same flow. Prints
 * "sent N errors E"; a datagram the local firewall refused (EPERM) is an
 * error, not an end.
 */
static int cmd_send(struct nt_opts *o)
{
	int fd = open_socket(o->addr.ss_family, SOCK_DGRAM, 0), sndbuf = 4 << 20;
	double start, deadline = now() + o->timeout;
	long n = o->count ? o->count : 1, sent = 0, errors = 0, base = 0;

	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0) {
		enum nt_exit code;
		const char *v = errno_verdict(errno, &code);

		return finish(o, "send", code, v, errno);
	}
	catch_signals();
	start = now();
	for (long i = 0; i < n && !stop_requested && now() < deadline; i++) {
		if (i == 1 && o->wait_file) {
			while (access(o->wait_file, F_OK) != 0 && now() < deadline &&
			       !stop_requested)
				usleep(10000);
			start = now();
			base = 1;
		}
		pace(o, start, i - base);
		if (send(fd, NT_PAYLOAD, strlen(NT_PAYLOAD), 0) < 0)
			errors++;
		else
			sent++;
	}
	printf("sent %ld errors %ld\n", sent, errors);
	fflush(stdout);
	close(fd);
	return NT_OK;
}

/*
 * UDP flood: raw UDP datagrams (the kernel adds the IP header) with the
 * source port stepping through a range, so that every packet is a new
 * conntrack flow and really goes through the firewall's rules and set
 * lookups. IPv4 sends checksum 0 (allowed); IPv6 lets the kernel fill it in.
 */
static int flood_udp(struct nt_opts *o)
{
	static uint8_t pkts[NT_BATCH][8 + 1472];
	struct mmsghdr msgs[NT_BATCH];
	struct iovec iov[NT_BATCH];
	unsigned len = 8 + o->size, sport = o->sport_lo;
	int fd = open_socket(o->addr.ss_family, SOCK_RAW, IPPROTO_UDP), sndbuf = 4 << 20;
	double start = now(), deadline = start + o->timeout, secs;
	uint16_t dport = o->addr.ss_family == AF_INET ?
		((struct sockaddr_in *)&o->addr)->sin_port :
		((struct sockaddr_in6 *)&o->addr)->sin6_port;
	long sent = 0, errors = 0, batch = NT_BATCH;

	if (o->addr.ss_family == AF_INET6) {
		int off = 6;

		if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof(off)) != 0) {
			fprintf(stderr, "nettool: IPV6_CHECKSUM: %s\n", strerror(errno));
			return NT_ERROR;
		}
		/* A raw socket must not carry the port in the address. */
		((struct sockaddr_in6 *)&o->addr)->sin6_port = 0;
	} else {
		((struct sockaddr_in *)&o->addr)->sin_port = 0;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	/* --from: the source address (one of this namespace's), so that a
	 * test can flood from several hosts of one network. */
	if (o->nfrom > 0 &&
	    bind(fd, (struct sockaddr *)&o->from[0],
		 o->from[0].ss_family == AF_INET ? sizeof(struct sockaddr_in) :
						    sizeof(struct sockaddr_in6)) != 0) {
		fprintf(stderr, "nettool: bind: %s\n", strerror(errno));
		return NT_ERROR;
	}
	if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) != 0) {
		fprintf(stderr, "nettool: connect: %s\n", strerror(errno));
		return NT_ERROR;
	}
	/* With a rate, small batches keep the stream steady. */
	if (o->rate > 0 && o->rate < 64000)
		batch = 1 + (long)(o->rate / 1000);
	if (batch > NT_BATCH)
		batch = NT_BATCH;
	for (int i = 0; i < NT_BATCH; i++) {
		struct udphdr *uh = (struct udphdr *)pkts[i];

		memset(pkts[i], 'x', len);
		uh->dest = dport;
		uh->len = htons(len);
		uh->check = 0;
		iov[i] = (struct iovec){ pkts[i], len };
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	catch_signals();
	while (!stop_requested && now() < deadline && !(o->count && sent >= o->count)) {
		long k = batch;
		int r;

		if (o->count && o->count - sent < k)
			k = o->count - sent;
		pace(o, start, sent);
		for (long i = 0; i < k; i++) {
			struct udphdr *uh = (struct udphdr *)pkts[i];

			uh->source = htons(sport);
			sport = sport >= o->sport_hi ? o->sport_lo : sport + 1;
		}
		r = sendmmsg(fd, msgs, k, 0);
		if (r < 0) {
			/* EPERM: this host's own firewall dropped the first
			 * datagram (a flood that is refused goes on). */
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
			    errno != ECONNREFUSED && errno != EPERM) {
				fprintf(stderr, "nettool: sendmmsg: %s\n", strerror(errno));
				return NT_ERROR;
			}
			errors++;
			continue;
		}
		sent += r;
	}
	secs = now() - start;
	printf("sent %ld secs %.3f pps %.0f errors %ld\n", sent, secs,
	       secs > 0 ? sent / secs : 0, errors);
	close(fd);
	return NT_OK;
}

/*
 * TCP flood: a stream of connection attempts, each from a new ephemeral port
 * (so each SYN is a new flow). At most NT_MAX_FLIGHT are in flight; an
 * attempt is abandoned after 100 ms (on a veth link a handshake that is let
 * through completes in well under a millisecond). "connected" counts handshakes that
 * completed: against a port that drops us it must stay 0.
 */
static int flood_tcp(struct nt_opts *o)
{
	struct { int fd; double t; } fl[NT_MAX_FLIGHT];
	double start = now(), deadline = start + o->timeout, secs;
	long sent = 0, connected = 0, refused = 0;
	int nfl = 0;

	catch_signals();
	while (!stop_requested && now() < deadline) {
		bool more = !(o->count && sent >= o->count);

		if (!more && nfl == 0)
			break;
		if (more && nfl < NT_MAX_FLIGHT &&
		    (o->rate <= 0 || now() >= start + sent / o->rate)) {
			int fd = open_socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);

			sent++;
			if (connect(fd, (struct sockaddr *)&o->addr, o->addrlen) == 0) {
				connected++;
				close(fd);
			} else if (errno == EINPROGRESS) {
				fl[nfl].fd = fd;
				fl[nfl++].t = now();
			} else {
				refused++;
				close(fd);
			}
			continue;
		}
		{
			struct pollfd pf[NT_MAX_FLIGHT];
			double wake = now() + 0.01;

			if (more && o->rate > 0 && start + sent / o->rate < wake)
				wake = start + sent / o->rate;
			for (int i = 0; i < nfl; i++)
				pf[i] = (struct pollfd){ .fd = fl[i].fd, .events = POLLOUT };
			poll(pf, nfl, ms_left(wake));
			for (int i = 0; i < nfl; i++) {
				int err = 0;
				socklen_t el = sizeof(err);
				bool done = false;

				if (pf[i].revents) {
					getsockopt(fl[i].fd, SOL_SOCKET, SO_ERROR, &err, &el);
					if (err == 0)
						connected++;
					else
						refused++;
					done = true;
				} else if (now() - fl[i].t > 0.1) {
					done = true;
				}
				if (done) {
					close(fl[i].fd);
					fl[i] = fl[--nfl];
					pf[i] = pf[nfl];
					i--;
				}
			}
		}
	}
	for (int i = 0; i < nfl; i++)
		close(fl[i].fd);
	secs = now() - start;
	printf("sent %ld secs %.3f pps %.0f connected %ld refused %ld\n", sent, secs,
	       secs > 0 ? sent / secs : 0, connected, refused);
	return NT_OK;
}

static int cmd_flood(struct nt_opts *o)
{
	return strcmp(o->proto, "tcp") == 0 ? flood_tcp(o) : flood_udp(o);
}

static int cmd_help(struct nt_opts *o);

/* The subcommand table also prints the usage text. */
static const struct nt_cmd {
	const char *name;
	int (*fn)(struct nt_opts *);
	bool has_proto;
	double default_timeout;
	const char *help;
} cmds[] = {
	{ "listen", cmd_listen, true, 30,
	  "tcp|udp ADDR PORT [--count N] [--timeout S] [--from ADDR]...\n"
	  "\tbind (\"::\" is dual stack), print \"ready\", echo what arrives; exit\n"
	  "\tafter N connections/datagrams (from the --from sources, if given), S\n"
	  "\tseconds or SIGTERM, printing \"count N total M\"" },
	{ "sink", cmd_sink, true, 30,
	  "udp ADDR PORT [--count N] [--timeout S] [--from ADDR]...\n"
	  "\tlike listen, without echo (keeps up with a flood)" },
	{ "connect", cmd_connect, true, 2,
	  "tcp ADDR PORT [--timeout S] [--src ADDR]\n"
	  "\thandshake and one echo round trip (from ADDR, one of ours)" },
	{ "udp", cmd_udp, false, 2,
	  "ADDR PORT [--timeout S] [--src ADDR [--sport P-P]] [--unconnected]\n"
	  "\tsend a datagram (again every 200 ms) and wait for its echo\n"
	  "\t(--unconnected: sendto() without connect())" },
	{ "send", cmd_send, true, 10,
	  "udp ADDR PORT [--count N] [--rate R] [--timeout S] [--wait-file F]\n"
	  "\tN datagrams (1) on one connected socket (one flow), no answer\n"
	  "\tawaited; with F: the first, then the rest once F exists" },
	{ "rawudp", cmd_rawudp, false, 2,
	  "ADDR PORT --src ADDR --dev IFNAME [--count N]\n"
	  "\tIPv4 only: N (3) datagrams with any source (0.0.0.0 too) out of\n"
	  "\tIFNAME to its broadcast MAC, IP header and all; waits for nothing" },
	{ "flood", cmd_flood, true, 10,
	  "tcp|udp ADDR PORT [--count N] [--rate R] [--timeout S]\n"
	  "\t[--sport LO-HI] [--size B] [--from ADDR]\n"
	  "\tUDP: raw datagrams, a new source port each (new flows), from\n"
	  "\tADDR if given;\n"
	  "\tTCP: connection attempts from new ports, each abandoned after\n"
	  "\t100 ms; prints \"sent N secs T pps P ...\"" },
	{ "help", cmd_help, false, 0, "\n\tthis text" },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: nettool COMMAND ...\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %s %s\n", cmds[i].name, cmds[i].help);
	fprintf(out, "exit: 0 ok, 1 timeout (dropped), 2 refused (RST/port unreachable),\n"
		     "      3 unreachable (other ICMP error), 4 local error, 64 usage\n");
}

static int cmd_help(struct nt_opts *o)
{
	(void)o;
	usage(stdout);
	return NT_OK;
}

static int parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno || end == s || *end || *v < lo || *v > hi ? -1 : 0;
}

int main(int argc, char **argv)
{
	struct nt_opts o = { .echo = true, .sport_lo = 1024, .sport_hi = 65535,
			     .size = 18 };
	const struct nt_cmd *cmd = NULL;
	int i = 2;
	double v;

	if (argc < 2) {
		usage(stderr);
		return NT_USAGE;
	}
	for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
		if (strcmp(argv[1], cmds[k].name) == 0)
			cmd = &cmds[k];
	if (!cmd) {
		fprintf(stderr, "nettool: unknown command '%s'\n", argv[1]);
		usage(stderr);
		return NT_USAGE;
	}
	if (cmd->fn == cmd_help)
		return cmd_help(&o);
	o.timeout = cmd->default_timeout;
	o.proto = "udp";
	if (cmd->has_proto) {
		if (argc <= i || (strcmp(argv[i], "tcp") && strcmp(argv[i], "udp"))) {
			fprintf(stderr, "nettool: %s: expected tcp or udp\n", cmd->name);
			return NT_USAGE;
		}
		o.proto = argv[i++];
	}
	if (argc < i + 2 || parse_num(argv[i + 1], 0, 65535, &v) ||
	    parse_addr(argv[i], (unsigned)v, &o.addr, &o.addrlen)) {
		fprintf(stderr, "nettool: %s: expected ADDR PORT\n", cmd->name);
		return NT_USAGE;
	}
	for (i += 2; i < argc; i++) {
		const char *opt = argv[i], *arg = i + 1 < argc ? argv[i + 1] : NULL;
		bool ok = arg != NULL;

		if (strcmp(opt, "--quiet") == 0) {
			o.quiet = true;
			continue;
		}
		if (strcmp(opt, "--unconnected") == 0) {
			o.unconnected = true;
			continue;
		}
		if (ok && strcmp(opt, "--count") == 0) {
			ok = parse_num(arg, 0, 1e12, &v) == 0;
			o.count = (long)v;
		} else if (ok && strcmp(opt, "--timeout") == 0) {
			ok = parse_num(arg, 0.001, 3600, &o.timeout) == 0;
		} else if (ok && strcmp(opt, "--rate") == 0) {
			ok = parse_num(arg, 0, 1e9, &o.rate) == 0;
		} else if (ok && strcmp(opt, "--size") == 0) {
			ok = parse_num(arg, 0, 1472, &v) == 0;
			o.size = (unsigned)v;
		} else if (ok && strcmp(opt, "--sport") == 0) {
			ok = sscanf(arg, "%u-%u", &o.sport_lo, &o.sport_hi) == 2 &&
			     o.sport_lo >= 1 && o.sport_lo <= o.sport_hi &&
			     o.sport_hi <= 65535;
			o.sport_set = true;
		} else if (ok && strcmp(opt, "--src") == 0) {
			ok = parse_addr(arg, 0, &o.src, &o.srclen) == 0 &&
			     o.src.ss_family == o.addr.ss_family;
		} else if (ok && strcmp(opt, "--wait-file") == 0) {
			o.wait_file = arg;
		} else if (ok && strcmp(opt, "--dev") == 0) {
			o.dev = arg;
		} else if (ok && strcmp(opt, "--from") == 0) {
			socklen_t l;

			ok = o.nfrom < NT_MAX_FROM &&
			     parse_addr(arg, 0, &o.from[o.nfrom++], &l) == 0;
		} else {
			ok = false;
		}
		if (!ok) {
			fprintf(stderr, "nettool: bad option '%s'%s%s\n", opt,
				arg ? " " : "", arg ? arg : "");
			return NT_USAGE;
		}
		i++;
	}
	return cmd->fn(&o);
}
