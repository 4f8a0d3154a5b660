// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The nf_tables netlink socket (nlsock.h): open and bind it, its buffers
 * and counters, the generations our own commits made, and one plain
 * request (a GET or a dump) with all its answers. Batches (batch.c), the
 * read-back (readback.c), the table guard (monitor.c) and doctor.c talk
 * through it; it calls none of them.
 */
#include "nlsock.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "util.h"

void *fwd_nn(void *p)
{
	if (!p) {
		fprintf(stderr, "fwd: out of memory\n");
		abort();
	}
	return p;
}

int fwd_nl_socket(struct fwd_nl *nl)
{
	int one = 1;

	memset(nl, 0, sizeof(*nl));
	nl->sk = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!nl->sk)
		return -errno;
	if (mnl_socket_bind(nl->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		mnl_socket_close(nl->sk);
		nl->sk = NULL;
		return -e;
	}
	nl->portid = mnl_socket_get_portid(nl->sk);
	/* Errors carry the kernel's text and the offending attribute, and
	 * do not echo our (up to 64 KiB) request back. */
	mnl_socket_setsockopt(nl->sk, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(nl->sk, NETLINK_CAP_ACK, &one, sizeof(one));
	nl->seq = (uint32_t)time(NULL);
	return 0;
}

void fwd_nl_socket_close(struct fwd_nl *nl)
{
	if (nl->sk)
		mnl_socket_close(nl->sk);
	nl->sk = NULL;
}

int fwd_nl_open(struct fwd_nl **out)
{
	struct fwd_nl *nl = fwd_xcalloc(1, sizeof(*nl));
	int ret = fwd_nl_socket(nl);

	if (ret) {
		free(nl);
		nl = NULL;
	}
	*out = nl;
	return ret;
}

void fwd_nl_close(struct fwd_nl *nl)
{
	if (!nl)
		return;
	fwd_nl_socket_close(nl);
	free(nl);
}

uint32_t fwd_nl_portid(const struct fwd_nl *nl)
{
	return nl->portid;
}

uint32_t fwd_nl_generation(const struct fwd_nl *nl)
{
	return nl->own_n ? nl->own_gen[(nl->own_n - 1) % FWD_OWN_GENS] : 0;
}

bool fwd_nl_own_gen(const struct fwd_nl *nl, uint32_t gen)
{
	unsigned n = nl->own_n < FWD_OWN_GENS ? nl->own_n : FWD_OWN_GENS;

	for (unsigned i = 0; i < n; i++)
		if (nl->own_gen[i] == gen)
			return true;
	return false;
}

uint64_t fwd_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fwd_nl_get_stats(const struct fwd_nl *nl, struct fwd_nl_stats *out)
{
	*out = nl->stats;
}

void fwd_nl_pin_bufs(struct fwd_nl *nl, int sndbuf, int rcvbuf)
{
	int fd = mnl_socket_get_fd(nl->sk);

	if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf,
				     sizeof(sndbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
				     sizeof(rcvbuf)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	nl->sndbuf = sndbuf;
	nl->rcvbuf = rcvbuf;
	nl->pinned = sndbuf > 0 || rcvbuf > 0;
}

/* Whether the datagram in buf holds the end of request seq's answers. */
static bool answer_ends(const char *buf, ssize_t n, uint32_t seq)
{
	int left = (int)n;

	for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left))
		if (nlh->nlmsg_seq == seq && (nlh->nlmsg_type == NLMSG_DONE ||
					      nlh->nlmsg_type == NLMSG_ERROR))
			return true;
	return false;
}

/*
 * A dump a commit cut (NLM_F_DUMP_INTR) makes libmnl stop at its first
 * flagged message, with the rest of the dump still to come: read it to
 * its end, or the next request on this socket would take those parts
 * for its answer and fail (EPROTO, and so every request after it).
 */
static void drain_answer(struct fwd_nl *nl, char *buf, ssize_t n, uint32_t seq)
{
	while (!answer_ends(buf, n, seq)) {
		n = mnl_socket_recvfrom(nl->sk, buf, FWD_RBUF_SIZE);
		if (n < 0 && errno != EINTR)
			return;
	}
}

/* One request (a GET or a dump) and all its answers through cb. */
int fwd_nl_request(struct fwd_nl *nl, struct nlmsghdr *nlh, char *buf,
		   mnl_cb_t cb, void *data)
{
	uint32_t seq = nl->seq++;
	ssize_t n;
	int ret = MNL_CB_OK;	/* a signal before the first answer: read on */

	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sk, buf, FWD_RBUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, nl->portid, cb, data);
	} while (ret > 0);
	if (ret < 0 && errno == EINTR) {
		drain_answer(nl, buf, n, seq);
		return -EINTR;
	}
	return ret < 0 ? -errno : 0;
}

/* One message of the quiet point's batch at buf + *len. */
static struct nlmsghdr *quiet_put(char *buf, const size_t *len, uint16_t type,
				  uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf + *len);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);	/* whose batch */
	return nlh;
}

/* The quiet point's BEGIN (seq) refused: -errno, else 0. */
static int quiet_refused(const char *buf, ssize_t n, uint32_t seq)
{
	int left = (int)n;

	for (const struct nlmsghdr *nlh = (const void *)buf; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

		if (nlh->nlmsg_seq == seq && nlh->nlmsg_type == NLMSG_ERROR &&
		    nlh->nlmsg_len >= NLMSG_HDRLEN + sizeof(*e) && e->error)
			return e->error;
	}
	return 0;
}

int fwd_nl_quiet(struct fwd_nl *nl, uint32_t gen)
{
	char *buf = fwd_xmalloc(FWD_RBUF_SIZE);
	uint32_t seq = nl->seq;
	struct nlmsghdr *nlh;
	size_t len = 0;
	int ret = 0, err = 0;
	ssize_t n;

	memset(buf, 0, 512);
	nlh = quiet_put(buf, &len, NFNL_MSG_BATCH_BEGIN, seq);
	mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(gen));
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	/* Nothing in between: the kernel commits an empty list without
	 * moving the generation or telling anyone, and unlike a batch made
	 * to fail it has no RCU grace period to wait for. */
	nlh = quiet_put(buf, &len, NFNL_MSG_BATCH_END, seq + 1);
	len += NLMSG_ALIGN(nlh->nlmsg_len);
	nl->seq += 2;
	/* One datagram, which nfnetlink runs before sendmsg returns: the
	 * lock was taken and given back by then, and a refusal (an error
	 * answers BEGIN whatever its flags) is queued. Nothing else answers
	 * (no NLM_F_ACK), so a non-blocking drain leaves the socket clean. */
	if (mnl_socket_sendto(nl->sk, buf, len) < 0) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		n = recv(mnl_socket_get_fd(nl->sk), buf, FWD_RBUF_SIZE, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		if (!err)
			err = quiet_refused(buf, n, seq);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		ret = -errno;
	else if (err == -ERESTART)
		ret = -EAGAIN;
	else
		ret = err;
out:
	free(buf);
	return ret;
}

struct nlmsghdr *fwd_nl_hdr(char *buf, uint16_t type, uint16_t flags,
			    uint8_t family)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	memset(buf, 0, 512);	/* requests are small; padding stays zero */
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}
