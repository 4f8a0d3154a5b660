// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Accepted flow -> its conntrack entry labelled (ctlabel.h): one
 * IPCTNL_MSG_CT_NEW update per flow, all of a batch in one datagram, every
 * ack read.
 */
#include "ctlabel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "util.h"

/* An update is about 120 bytes: a page holds more than a batch. */
#define LABEL_MSG 160
#define LABEL_BUF (FWD_CT_LABEL_MAX * LABEL_MSG)
#define LABEL_BYTES 16	/* the kernel's labels: 128 bits */

struct fwd_ct_labeller {
	struct mnl_socket *sk;
	uint32_t portid, seq;
	char buf[LABEL_BUF];
};

int fwd_ct_labeller_new(struct fwd_ct_labeller **out)
{
	struct fwd_ct_labeller *l;

	*out = NULL;
	l = fwd_xcalloc(1, sizeof(*l));
	l->sk = mnl_socket_open(NETLINK_NETFILTER);
	if (!l->sk || mnl_socket_bind(l->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		int ret = -errno;

		fwd_ct_labeller_free(l);
		return ret ? ret : -EIO;
	}
	l->portid = mnl_socket_get_portid(l->sk);
	*out = l;
	return 0;
}

void fwd_ct_labeller_free(struct fwd_ct_labeller *l)
{
	if (!l)
		return;
	if (l->sk)
		mnl_socket_close(l->sk);
	free(l);
}

/* CTA_TUPLE_ORIG of f, as ctnetlink_parse_tuple reads it. */
static void put_tuple(struct nlmsghdr *nlh, const struct fwd_ct_flow *f)
{
	struct nlattr *t = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
	struct nlattr *ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
	struct nlattr *pr;

	if (f->family == AF_INET6) {
		mnl_attr_put(nlh, CTA_IP_V6_SRC, 16, f->src);
		mnl_attr_put(nlh, CTA_IP_V6_DST, 16, f->dst);
	} else {
		mnl_attr_put(nlh, CTA_IP_V4_SRC, 4, f->src);
		mnl_attr_put(nlh, CTA_IP_V4_DST, 4, f->dst);
	}
	mnl_attr_nest_end(nlh, ip);
	pr = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
	mnl_attr_put_u8(nlh, CTA_PROTO_NUM, f->proto);
	mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(f->sport));
	mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(f->dport));
	mnl_attr_nest_end(nlh, pr);
	mnl_attr_nest_end(nlh, t);
}

static size_t put_update(char *at, const struct fwd_ct_flow *f, unsigned bit,
			 uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(at);
	struct nfgenmsg *nfg;
	uint8_t labels[LABEL_BYTES] = { 0 };

	/* The kernel's bitmap as nft's `ct label` reads it (linearize.c). */
	labels[bit / 8] = (uint8_t)(1u << (bit % 8));
	/* No NLM_F_CREATE: update an entry that exists, never make one. */
	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = f->family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	put_tuple(nlh, f);
	mnl_attr_put(nlh, CTA_LABELS, sizeof(labels), labels);
	mnl_attr_put(nlh, CTA_LABELS_MASK, sizeof(labels), labels);
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The answers to seq0 .. seq0 + n - 1: all queued before sendto returned
 * (ctnetlink answers in the sender's call), so read until the socket is
 * empty, never wait. */
static int read_acks(struct fwd_ct_labeller *l, uint32_t seq0, size_t n,
		     unsigned *done, int *err)
{
	size_t answered = 0;

	while (answered < n) {
		ssize_t got = recv(mnl_socket_get_fd(l->sk), l->buf, sizeof(l->buf),
				   MSG_DONTWAIT);
		int left;

		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EIO;
			return -errno;
		}
		left = (int)got;
		for (struct nlmsghdr *nlh = (struct nlmsghdr *)l->buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
			uint32_t k = nlh->nlmsg_seq - seq0;

			if (nlh->nlmsg_type != NLMSG_ERROR || k >= n ||
			    nlh->nlmsg_pid != l->portid)
				continue;
			answered++;
			if (err)
				err[k] = e->error;
			if (e->error == 0)
				(*done)++;
		}
	}
	return 0;
}

int fwd_ct_label_flows(struct fwd_ct_labeller *l, const struct fwd_ct_flow *f,
		       size_t n, unsigned bit, unsigned *done, int *err)
{
	uint32_t seq0 = l->seq + 1;
	size_t len = 0;

	*done = 0;
	if (bit >= LABEL_BYTES * 8 || n > FWD_CT_LABEL_MAX)
		return -EINVAL;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (err)
			err[i] = -EIO;
		len += put_update(l->buf + len, &f[i], bit, ++l->seq);
	}
	if (mnl_socket_sendto(l->sk, l->buf, len) < 0)
		return -errno;
	return read_acks(l, seq0, n, done, err);
}
