// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A UDP flood from many IPv4 sources (bench/vloop-load.sh): raw IPv4 + UDP
 * datagrams with the source address stepping through N addresses of
 * 198.18.0.0/15 (the benchmark range) and the source port through
 * 1024..65535, so every packet is a new flow from one of many hosts. Many
 * sources matter twice: the kernel spreads queues by a hash of the address
 * pair (one source would always land on one queue), and the guard tracks
 * every source (its tables must not grow with them).
 *
 *   flood-src DST PORT --sources N [--rate PPS] [--timeout S]
 *
 * Prints "sent N secs T pps P errors E". The receiver needs a route back
 * to 198.18.0.0/15 through the link, or its reverse-path check drops it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 18

struct opts {
	struct in_addr dst;
	unsigned port, sources;
	double rate, timeout;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->sources = 1024;
	o->timeout = 5;
	if (argc < 3 || inet_pton(AF_INET, argv[1], &o->dst) != 1)
		return -1;
	o->port = (unsigned)strtoul(argv[2], NULL, 10);
	for (int i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--sources"))
			o->sources = (unsigned)strtoul(argv[i + 1], NULL, 10);
		else if (!strcmp(argv[i], "--rate"))
			o->rate = strtod(argv[i + 1], NULL);
		else if (!strcmp(argv[i], "--timeout"))
			o->timeout = strtod(argv[i + 1], NULL);
		else
			return -1;
	}
	if (!o->port || o->port > 65535 || !o->sources || o->sources > 131072)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][sizeof(struct iphdr) + sizeof(struct udphdr) + PAYLOAD];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in to = { .sin_family = AF_INET };
	unsigned src = 0, sport = 1024;
	long sent = 0, errors = 0, batch = BATCH;
	double start, deadline, secs;
	struct opts o;
	int fd, one = 1, sndbuf = 4 << 20;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: flood-src DST PORT [--sources N] [--rate PPS] "
			"[--timeout S]\n");
		return 2;
	}
	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("flood-src: raw socket");
		return 1;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
	to.sin_addr = o.dst;
	for (int i = 0; i < BATCH; i++) {
		struct iphdr *ip = (struct iphdr *)pkts[i];
		struct udphdr *uh = (struct udphdr *)(ip + 1);

		memset(pkts[i], 'x', sizeof(pkts[i]));
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = htons(sizeof(pkts[i]));
		ip->frag_off = 0;
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->check = 0;		/* the kernel fills it in (IP_HDRINCL) */
		ip->daddr = o.dst.s_addr;
		uh->dest = htons((uint16_t)o.port);
		uh->len = htons(sizeof(struct udphdr) + PAYLOAD);
		uh->check = 0;
		iov[i] = (struct iovec){ pkts[i], sizeof(pkts[i]) };
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &to, .msg_namelen = sizeof(to),
						   .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	/* With a rate, small batches keep the stream steady. */
	if (o.rate > 0 && o.rate < 64000)
		batch = 1 + (long)(o.rate / 1000);
	start = now();
	deadline = start + o.timeout;
	while (!stop && now() < deadline) {
		int r;

		if (o.rate > 0) {
			double due = start + (double)sent / o.rate;

			/* Sleep while far from due, spin the last half
			 * millisecond: usleep's slack would cost the rate. */
			while (now() < due && !stop)
				if (due - now() > 0.0005)
					usleep(200);
		}
		for (long i = 0; i < batch; i++) {
			struct iphdr *ip = (struct iphdr *)pkts[i];
			struct udphdr *uh = (struct udphdr *)(ip + 1);

			/* 198.18.0.0 + src: the benchmark range. */
			ip->saddr = htonl(0xc6120000u + src);
			ip->id = htons((uint16_t)sent);
			uh->source = htons((uint16_t)sport);
			src = src + 1 >= o.sources ? 0 : src + 1;
			sport = sport >= 65535 ? 1024 : sport + 1;
		}
		r = sendmmsg(fd, msgs, (unsigned)batch, 0);
		if (r < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
				perror("flood-src: sendmmsg");
				return 1;
			}
			errors++;
			continue;
		}
		sent += r;
	}
	secs = now() - start;
	printf("sent %ld secs %.3f pps %.0f errors %ld\n", sent, secs,
	       secs > 0 ? (double)sent / secs : 0, errors);
	close(fd);
	return 0;
}
