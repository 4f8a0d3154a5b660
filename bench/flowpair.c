// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Paired floods for bench/datapath.sh: the CPU cost of a new UDP flow
 * through several rulesets, measured in bursts that take turns every few
 * milliseconds, so that every ruleset sees the same machine.
 *
 *   flowpair DST PORT --burst K --timeout S NETNS...
 *
 * One raw UDP socket per network namespace NETNS (a name under
 * /run/netns), made inside it (a socket stays in the namespace it was
 * made in) and connected to DST. Then, until S seconds have passed, one
 * cycle after another: K datagrams on each socket in turn (in a new
 * random order each cycle), each from a new source port (1024..65535, as
 * nettool's flood), the thread's CPU time taken around each burst.
 *
 * Why CPU time, and why so fine: on veth the receiving namespace's input
 * path (conntrack, the ruleset, the set lookups) runs in softirq on the
 * sending CPU, inside the sender's own system call, and a kernel without
 * IRQ_TIME_ACCOUNTING charges that to the sender. A burst's CPU time per
 * packet is then what the sending plus the receiving path cost, whatever
 * share of the CPU other work on a shared machine leaves: the rate moves
 * with that share, this does not. What still moves it (caches, the
 * hypervisor, other softirq work that lands in our system calls) moves
 * slowly next to a cycle of a few milliseconds, so the per-cycle ratios
 * of two rulesets hardly see it.
 *
 * Prints one line per cycle, "cycle NS_PER_PKT..." (in NETNS order),
 * then "total SENT CPU_NS ERRORS" per namespace.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 18
#define MAX_NS 16

struct target {
	int fd;
	unsigned sport;
	long sent, errors;
	uint64_t cpu_ns;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A raw UDP socket made inside namespace name, connected to dst; -1 on
 * error (said on stderr). The thread goes back to the namespace it was
 * in (self) before returning. */
static int socket_in(const char *name, int self, const struct sockaddr_in *dst)
{
	char path[256];
	int nsfd, fd = -1, sndbuf = 4 << 20;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0 || setns(nsfd, CLONE_NEWNET) != 0) {
		fprintf(stderr, "flowpair: %s: %s\n", path, strerror(errno));
		goto out;
	}
	fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0 || connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) != 0) {
		fprintf(stderr, "flowpair: socket in %s: %s\n", name, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	} else {
		setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	}
	if (setns(self, CLONE_NEWNET) != 0) {
		fprintf(stderr, "flowpair: back to our namespace: %s\n", strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
out:
	if (nsfd >= 0)
		close(nsfd);
	return fd;
}

/* K datagrams on t, a new source port each; the thread's CPU time it took. */
static uint64_t burst(struct target *t, long k, uint8_t (*pkts)[8 + PAYLOAD],
		      struct mmsghdr *msgs)
{
	uint64_t t0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);

	while (k > 0 && !stop) {
		int n = k < BATCH ? (int)k : BATCH, r;

		for (int i = 0; i < n; i++) {
			struct udphdr *uh = (struct udphdr *)pkts[i];

			uh->source = htons((uint16_t)t->sport);
			t->sport = t->sport >= 65535 ? 1024 : t->sport + 1;
		}
		r = sendmmsg(t->fd, msgs, (unsigned)n, 0);
		if (r < 0) {
			t->errors++;
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR &&
			    errno != EPERM && errno != ECONNREFUSED)
				break;
			continue;
		}
		t->sent += r;
		k -= r;
	}
	return clock_ns(CLOCK_THREAD_CPUTIME_ID) - t0;
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][8 + PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct target tg[MAX_NS];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	uint64_t deadline, ns[MAX_NS];
	long k = 2000, sent0[MAX_NS];
	double secs = 10;
	int n = 0, self, port, i, order[MAX_NS];

	if (argc < 3 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1 ||
	    (port = atoi(argv[2])) <= 0 || port > 65535)
		goto usage;
	for (i = 3; i < argc && argv[i][0] == '-'; i += 2) {
		if (i + 1 >= argc)
			goto usage;
		if (!strcmp(argv[i], "--burst"))
			k = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--timeout"))
			secs = atof(argv[i + 1]);
		else
			goto usage;
	}
	if (k <= 0 || secs <= 0 || i >= argc || argc - i > MAX_NS)
		goto usage;
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		perror("flowpair: /proc/self/ns/net");
		return 1;
	}
	for (; i < argc; i++, n++) {
		memset(&tg[n], 0, sizeof(tg[n]));
		tg[n].sport = 1024;
		tg[n].fd = socket_in(argv[i], self, &dst);
		if (tg[n].fd < 0)
			return 1;
	}
	/* A raw socket takes the datagram after the IP header: the UDP
	 * header with the port we flood and checksum 0 (allowed for IPv4). */
	for (i = 0; i < BATCH; i++) {
		struct udphdr *uh = (struct udphdr *)pkts[i];

		memset(pkts[i], 'x', sizeof(pkts[i]));
		uh->dest = htons((uint16_t)port);
		uh->len = htons(sizeof(pkts[i]));
		uh->check = 0;
		iov[i] = (struct iovec){ pkts[i], sizeof(pkts[i]) };
		msgs[i].msg_hdr = (struct msghdr){ .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	for (i = 0; i < n; i++)
		order[i] = i;
	srandom(1);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	deadline = clock_ns(CLOCK_MONOTONIC) + (uint64_t)(secs * 1e9);
	for (long cycle = 0; !stop && clock_ns(CLOCK_MONOTONIC) < deadline; cycle++) {
		/* A new order every cycle (Fisher-Yates, a fixed seed): no
		 * namespace always follows the same one, or goes first. */
		for (int j = n - 1; j > 0; j--) {
			int r = (int)(random() % (j + 1)), x = order[j];

			order[j] = order[r];
			order[r] = x;
		}
		for (int j = 0; j < n; j++) {
			int t = order[j];

			sent0[t] = tg[t].sent;
			ns[t] = burst(&tg[t], k, pkts, msgs);
			tg[t].cpu_ns += ns[t];
		}
		printf("cycle");
		for (int j = 0; j < n; j++)
			printf(" %.1f", tg[j].sent > sent0[j] ?
			       (double)ns[j] / (double)(tg[j].sent - sent0[j]) : 0.0);
		printf("\n");
	}
	for (int j = 0; j < n; j++) {
		printf("total %ld %llu %ld\n", tg[j].sent,
		       (unsigned long long)tg[j].cpu_ns, tg[j].errors);
		close(tg[j].fd);
	}
	close(self);
	return 0;
usage:
	fprintf(stderr, "usage: flowpair DST PORT [--burst K] [--timeout S] NETNS...\n");
	return 2;
}
