// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfq-min: the baseline of bench/queue.sh, a minimal accept-all NFQUEUE
 * loop written the way libnetfilter_queue's mnl example teaches: one
 * blocking receive per packet, one NF_ACCEPT verdict message per packet.
 * It uses the same libraries (libmnl + libnetfilter_queue) and the same
 * socket settings as fwd's loop (copy range, GSO, NETLINK_NO_ENOBUFS, a
 * 16 MiB receive buffer, queue maxlen), so that the ratio measures the
 * loop, not the configuration.
 *
 *   nfq-min QUEUE SECONDS     # prints "packets P cpu_s C busy_s B"
 *
 * Runs SECONDS (or until SIGTERM/SIGINT); busy_s is the time from the
 * first packet to the last.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv)
{
	static char buf[65536];
	struct sigaction sa = { .sa_handler = on_signal };
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct timeval tv = { .tv_sec = 0, .tv_usec = 200000 };
	unsigned long long packets = 0;
	double end, first = 0, last = 0, cpu0;
	int one = 1, rcv = 16 << 20;
	unsigned queue;

	if (argc != 3) {
		fprintf(stderr, "usage: nfq-min QUEUE SECONDS\n");
		return 64;
	}
	queue = (unsigned)atoi(argv[1]);
	end = mono() + atof(argv[2]);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nfq-min: netlink");
		return 1;
	}
	setsockopt(mnl_socket_get_fd(nl), SOL_NETLINK, NETLINK_NO_ENOBUFS, &one,
		   sizeof(one));
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv,
		   sizeof(rcv));
	/* Wake up now and then to see the deadline. */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		   sizeof(tv));

	nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 256);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 8192);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO));
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		perror("nfq-min: bind");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	cpu0 = cpu_s();
	while (!stop && mono() < end) {
		struct nlattr *attr[NFQA_MAX + 1] = { 0 };
		const struct nfqnl_msg_packet_hdr *ph;
		char out[MNL_SOCKET_BUFFER_SIZE];
		int n = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			perror("nfq-min: recv");
			return 1;
		}
		nlh = (struct nlmsghdr *)buf;
		if (!mnl_nlmsg_ok(nlh, n) || nlh->nlmsg_type == NLMSG_ERROR ||
		    nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR])
			continue;
		ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
		nlh = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT, queue);
		nfq_nlmsg_verdict_put(nlh, (int)ntohl(ph->packet_id), NF_ACCEPT);
		if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
			perror("nfq-min: verdict");
			return 1;
		}
		last = mono();
		if (!packets++)
			first = last;
	}
	printf("packets %llu cpu_s %.6f busy_s %.6f\n", packets, cpu_s() - cpu0,
	       packets > 1 ? last - first : 0.0);
	mnl_socket_close(nl);
	return 0;
}
