// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * NFQUEUE socket -> packet summaries; verdicts -> NFQUEUE socket
 * (libnetfilter_queue's libmnl API; the contract is in queue.h).
 *
 * Every packet handed out waits in a ring of pending ids, oldest first.
 * The kernel gives ids in increasing order (u32, wrapping) and delivers
 * them in that order, and a packet it could not deliver (our buffer full)
 * it drops itself and never queues, so the ring is exactly the set of
 * packets the kernel holds for us: a batch verdict naming id X is right
 * when every ring entry up to X is decided with that verdict.
 */
#include "queue.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>

#include "util.h"

#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif

enum pend_state { P_WAITING, P_DECIDED, P_SENT };

struct pend {
	uint32_t id;
	uint8_t state;		/* enum pend_state */
	uint8_t verdict;	/* NF_ACCEPT / NF_DROP once decided */
};

/* recvmmsg batch: datagrams read per system call. */
#define RX_BATCH 64u
/* One verdict message: nlmsghdr + nfgenmsg + NFQA_VERDICT_HDR. */
#define VERDICT_MSG_BYTES 32u
/* Bytes per sendto of verdicts (well under the default SO_SNDBUF). */
#define TX_CHUNK (64u * 1024)

struct fwd_queue {
	struct mnl_socket *sk;
	int fd;
	uint16_t num;
	uint32_t seq;
	uint32_t copy_range;
	/* pending ids, a ring: ring[(head + i) % cap] for i < count */
	struct pend *ring;
	size_t cap, head, count;
	size_t ndecided;	/* entries in state P_DECIDED */
	/* packets read while fwd_queue_open waited for its answer */
	struct fwd_pkt *early;
	size_t nearly, cearly;
	int rcvtimeo_ms;	/* SO_RCVTIMEO now set (fwd_queue_recv_wait) */
	/* receive buffers for recvmmsg */
	size_t rx_size;
	char *rx;
	struct mmsghdr msgs[RX_BATCH];
	struct iovec iov[RX_BATCH];
	/* verdict messages being built */
	char *tx;
	size_t tx_len, tx_cap;
	struct fwd_queue_stats st;
};

/* ---------------------------------------------------------------- ring */

static struct pend *ring_at(const struct fwd_queue *q, size_t i)
{
	return &q->ring[(q->head + i) % q->cap];
}

static void ring_push(struct fwd_queue *q, uint32_t id)
{
	if (q->count == q->cap) {
		size_t ncap = q->cap ? q->cap * 2 : 1024;
		struct pend *n = fwd_xcalloc(ncap, sizeof(*n));

		for (size_t i = 0; i < q->count; i++)
			n[i] = *ring_at(q, i);
		free(q->ring);
		q->ring = n;
		q->cap = ncap;
		q->head = 0;
	}
	*ring_at(q, q->count++) = (struct pend){ .id = id, .state = P_WAITING };
}

/* The ring position of id (ids increase along the ring, modulo 2^32), or
 * -1. Binary search on the distance from the oldest id. */
static long ring_find(const struct fwd_queue *q, uint32_t id)
{
	size_t lo = 0, hi = q->count;
	uint32_t base;

	if (!q->count)
		return -1;
	base = ring_at(q, 0)->id;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint32_t d = ring_at(q, mid)->id - base;

		if (d < id - base)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < q->count && ring_at(q, lo)->id == id ? (long)lo : -1;
}

/* ---------------------------------------------------------------- receive */

static void handle_packet(struct fwd_queue *q, const struct nlmsghdr *nlh,
			  struct fwd_pkt *p, bool *got)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	const struct nfqnl_msg_packet_hdr *ph;

	*got = false;
	if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR] ||
	    mnl_attr_get_payload_len(attr[NFQA_PACKET_HDR]) < sizeof(*ph)) {
		/* No id: nothing can answer it. The kernel drops it when
		 * the queue is unbound; count it so that it shows. */
		q->st.parse_failures++;
		return;
	}
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	memset(p, 0, sizeof(*p));
	p->id = ntohl(ph->packet_id);
	p->queue = q->num;
	if (attr[NFQA_PAYLOAD]) {
		uint16_t plen = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);

		p->len = plen;
		fwd_pkt_parse(mnl_attr_get_payload(attr[NFQA_PAYLOAD]), plen, p);
	} else {
		fwd_pkt_parse(NULL, 0, p);
	}
	if (p->flags & FWD_PKT_F_BAD)
		q->st.parse_failures++;
	if (attr[NFQA_CAP_LEN] &&
	    mnl_attr_get_payload_len(attr[NFQA_CAP_LEN]) >= 4)
		p->len = ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]));
	if (attr[NFQA_IFINDEX_INDEV] &&
	    mnl_attr_get_payload_len(attr[NFQA_IFINDEX_INDEV]) >= 4)
		p->ifindex = ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV]));
	if (attr[NFQA_TIMESTAMP] &&
	    mnl_attr_get_payload_len(attr[NFQA_TIMESTAMP]) >=
	    sizeof(struct nfqnl_msg_packet_timestamp)) {
		struct nfqnl_msg_packet_timestamp ts;

		memcpy(&ts, mnl_attr_get_payload(attr[NFQA_TIMESTAMP]),
		       sizeof(ts));
		p->time_ns = be64toh(ts.sec) * 1000000000ull +
			     be64toh(ts.usec) * 1000ull;
		p->flags |= FWD_PKT_F_TSTAMP;
	}
	ring_push(q, p->id);
	q->st.received++;
	*got = true;
}

/* An answer of the kernel: an error for one of our messages (after
 * fwd_queue_open only verdicts are sent) or an ACK. */
static int handle_error(struct fwd_queue *q, const struct nlmsghdr *nlh,
			bool counting)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e))
		return 0;
	if (e->error && counting) {
		q->st.verdict_errors++;
		q->st.last_verdict_error = -e->error;
	}
	return -e->error;
}

/*
 * The messages of one datagram: packets into out (up to *room; a packet
 * beyond cannot happen, the kernel sends one per datagram), errors
 * counted. *err_seen gets the errno of an answer for sequence `want_seq`
 * (0: none wanted).
 */
static void handle_datagram(struct fwd_queue *q, const char *buf, size_t len,
			    struct fwd_pkt *out, size_t room, size_t *n,
			    uint32_t want_seq, int *answer, bool *answered)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)buf;
	int left = (int)len;

	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NLMSG_ERROR) {
			bool ours = want_seq && nlh->nlmsg_seq == want_seq;
			int e = handle_error(q, nlh, !ours);

			if (ours) {
				*answer = e;
				*answered = true;
			}
			continue;
		}
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_QUEUE ||
		    NFNL_MSG_TYPE(nlh->nlmsg_type) != NFQNL_MSG_PACKET)
			continue;
		if (*n < room) {
			bool got;

			handle_packet(q, nlh, &out[*n], &got);
			if (got)
				(*n)++;
		} else {
			/* Cannot happen (one packet per datagram and we
			 * never read more datagrams than there is room),
			 * but a packet lost here would wait forever. */
			q->st.parse_failures++;
		}
	}
}

/* Read datagrams without blocking, at most one per free slot of
 * out[*n..max): the kernel sends one packet per datagram. */
static int rx_some_flags(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
			 size_t *n, uint32_t want_seq, int *answer, bool *answered,
			 int flags);

static int rx_some(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
		   size_t *n, uint32_t want_seq, int *answer, bool *answered)
{
	return rx_some_flags(q, out, max, n, want_seq, answer, answered,
			     MSG_DONTWAIT);
}

static int rx_some_flags(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
			 size_t *n, uint32_t want_seq, int *answer, bool *answered,
			 int flags)
{
	size_t room = max - *n;
	unsigned vlen = room < RX_BATCH ? (unsigned)room : RX_BATCH;
	int r;

	if (!vlen)
		return 0;
	for (unsigned i = 0; i < vlen; i++) {
		q->iov[i].iov_base = q->rx + i * q->rx_size;
		q->iov[i].iov_len = q->rx_size;
		memset(&q->msgs[i].msg_hdr, 0, sizeof(q->msgs[i].msg_hdr));
		q->msgs[i].msg_hdr.msg_iov = &q->iov[i];
		q->msgs[i].msg_hdr.msg_iovlen = 1;
	}
	r = recvmmsg(q->fd, q->msgs, vlen, flags, NULL);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	for (int i = 0; i < r; i++) {
		if (q->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			q->st.parse_failures++;
			continue;
		}
		handle_datagram(q, q->iov[i].iov_base, q->msgs[i].msg_len, out,
				max, n, want_seq, answer, answered);
	}
	return r;
}

/*
 * What is there, up to max: recvmmsg until a call returns fewer messages
 * than it asked for (the socket had no more then: asking again would only
 * cost an EAGAIN per wake-up; poll says when more comes). The first call
 * may wait (MSG_WAITFORONE under SO_RCVTIMEO, fwd_queue_recv_wait).
 */
static int recv_some(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
		     size_t *n, int first_flags)
{
	int flags = first_flags;

	*n = 0;
	/* Packets that came while fwd_queue_open waited go first. */
	while (q->nearly && *n < max) {
		out[(*n)++] = q->early[0];
		memmove(q->early, q->early + 1,
			(q->nearly - 1) * sizeof(*q->early));
		q->nearly--;
	}
	if (*n)
		flags = MSG_DONTWAIT;
	while (*n < max) {
		size_t room = max - *n;
		unsigned asked = room < RX_BATCH ? (unsigned)room : RX_BATCH;
		bool answered = false;
		int answer = 0;
		int r = rx_some_flags(q, out, max, n, 0, &answer, &answered, flags);

		/* EINTR: a wait with SO_RCVTIMEO is not restarted after a
		 * stop signal (a debugger attaching); nothing was read. */
		if (r == -EAGAIN || r == -EINTR || r == 0)
			return 0;
		if (r < 0)
			return r;
		if ((unsigned)r < asked)
			return 0;
		flags = MSG_DONTWAIT;
	}
	return 0;
}

int fwd_queue_recv(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
		   size_t *n)
{
	return recv_some(q, out, max, n, MSG_DONTWAIT);
}

int fwd_queue_recv_wait(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
			size_t *n, int timeout_ms)
{
	if (timeout_ms != q->rcvtimeo_ms) {
		struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

		if (setsockopt(q->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			return -errno;
		q->rcvtimeo_ms = timeout_ms;
	}
	return recv_some(q, out, max, n, MSG_WAITFORONE);
}

/* ---------------------------------------------------------------- verdicts */

int fwd_queue_verdict(struct fwd_queue *q, uint32_t id, uint32_t verdict)
{
	long i;
	struct pend *p;

	if (verdict != NF_ACCEPT && verdict != NF_DROP)
		return -EINVAL;
	i = ring_find(q, id);
	if (i < 0 || (p = ring_at(q, (size_t)i))->state != P_WAITING) {
		q->st.refused++;
		return -ENOENT;
	}
	p->state = P_DECIDED;
	p->verdict = (uint8_t)verdict;
	q->ndecided++;
	return 0;
}

static void tx_put(struct fwd_queue *q, int type, uint32_t id,
		   uint32_t verdict)
{
	struct nlmsghdr *nlh;

	FWD_GROW(q->tx, q->tx_cap, q->tx_len + MNL_SOCKET_BUFFER_SIZE);
	nlh = nfq_nlmsg_put(q->tx + q->tx_len, type, q->num);
	nlh->nlmsg_seq = ++q->seq;
	nfq_nlmsg_verdict_put(nlh, (int)id, (int)verdict);
	q->tx_len += nlh->nlmsg_len;
	q->st.verdict_msgs++;
	if (type == NFQNL_MSG_VERDICT_BATCH)
		q->st.batch_msgs++;
}

static void count_verdict(struct fwd_queue *q, const struct pend *p)
{
	q->st.verdicts++;
	if (p->verdict == NF_ACCEPT)
		q->st.accepted++;
	else
		q->st.dropped++;
}

/*
 * Messages for every decided entry: runs of one verdict at the front of
 * the ring as batches (they leave the ring), the rest one by one (they
 * stay, marked sent, until everything before them is gone).
 */
static void build_verdicts(struct fwd_queue *q)
{
	size_t left = q->ndecided;

	while (q->count && left) {
		struct pend *p = ring_at(q, 0);
		size_t run = 0, last = 0;
		uint8_t v;

		if (p->state == P_SENT) {
			q->head = (q->head + 1) % q->cap;
			q->count--;
			continue;
		}
		if (p->state != P_DECIDED)
			break;
		/* The longest run of one verdict (sent entries inside it
		 * are no longer in the kernel: they do not break it). */
		v = p->verdict;
		for (size_t i = 0; i < q->count; i++) {
			struct pend *e = ring_at(q, i);

			if (e->state == P_WAITING ||
			    (e->state == P_DECIDED && e->verdict != v))
				break;
			if (e->state == P_DECIDED) {
				run++;
				last = i;
			}
		}
		tx_put(q, run > 1 ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
		       ring_at(q, last)->id, v);
		for (size_t i = 0; i <= last; i++)
			if (ring_at(q, i)->state == P_DECIDED)
				count_verdict(q, ring_at(q, i));
		q->head = (q->head + last + 1) % q->cap;
		q->count -= last + 1;
		left -= run;
	}
	/* Behind the first undecided packet: one message each. */
	for (size_t i = 0; i < q->count && left; i++) {
		struct pend *e = ring_at(q, i);

		if (e->state != P_DECIDED)
			continue;
		tx_put(q, NFQNL_MSG_VERDICT, e->id, e->verdict);
		count_verdict(q, e);
		e->state = P_SENT;
		left--;
	}
	q->ndecided = 0;
	/* Sent entries now at the front can go. */
	while (q->count && ring_at(q, 0)->state == P_SENT) {
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
}

static int tx_send(struct fwd_queue *q)
{
	size_t off = 0;
	int ret = 0;

	/* Whole messages per datagram, at most TX_CHUNK bytes each. */
	while (off < q->tx_len) {
		size_t len = 0;

		while (off + len < q->tx_len) {
			const struct nlmsghdr *nlh =
				(const struct nlmsghdr *)(q->tx + off + len);

			if (len && len + nlh->nlmsg_len > TX_CHUNK)
				break;
			len += NLMSG_ALIGN(nlh->nlmsg_len);
		}
		if (send(q->fd, q->tx + off, len, 0) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		off += len;
	}
	if (off && off < q->tx_len)
		memmove(q->tx, q->tx + off, q->tx_len - off);
	q->tx_len -= off;
	return ret;
}

int fwd_queue_flush(struct fwd_queue *q)
{
	if (q->ndecided)
		build_verdicts(q);
	return q->tx_len ? tx_send(q) : 0;
}

void fwd_queue_get_stats(const struct fwd_queue *q, struct fwd_queue_stats *s)
{
	*s = q->st;
	s->pending = 0;
	for (size_t i = 0; i < q->count; i++)
		if (ring_at(q, i)->state != P_SENT)
			s->pending++;
}

/* ---------------------------------------------------------------- open */

static void sockopts(int fd, const struct fwd_queue_opts *o)
{
	int one = 1, rcv = o->rcvbuf ? o->rcvbuf : 16 << 20;

	/* Overruns: the kernel counts user_dropped and drops the packet;
	 * an ENOBUFS error on our socket would tell us nothing more. */
	setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof(one));
	/* Error answers without a copy of our message. */
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	if (o->timestamps)
		setsockopt(fd, SOL_SOCKET, SO_TIMESTAMP, &one, sizeof(one));
}

/* Bind, copy mode, maxlen and flags in ONE config message (the kernel
 * handles the command first, then the rest), asking for an answer. */
static int send_config(struct fwd_queue *q, uint32_t maxlen)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, q->num);

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++q->seq;
	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, (int)q->copy_range);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, maxlen);
	/* GSO on; fail-open explicitly off (also if an old instance of
	 * ours had it): a packet nobody answers must be dropped. */
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK,
			 htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
	return mnl_socket_sendto(q->sk, nlh, nlh->nlmsg_len) < 0 ? -errno : 0;
}

/* Wait (at most 2 s) for the answer to sequence `seq`; packets that come
 * first are kept for fwd_queue_recv. */
static int wait_answer(struct fwd_queue *q, uint32_t seq)
{
	struct pollfd pfd = { .fd = q->fd, .events = POLLIN };

	for (int waited = 0; waited < 2000;) {
		bool answered = false;
		int answer = 0, r;
		size_t n = 0;

		FWD_GROW(q->early, q->cearly, q->nearly + RX_BATCH);
		r = rx_some(q, q->early + q->nearly, RX_BATCH, &n, seq, &answer,
			    &answered);
		q->nearly += n;
		if (answered)
			return answer ? -answer : 0;
		if (r == -EAGAIN) {
			if (poll(&pfd, 1, 100) == 0)
				waited += 100;
			continue;
		}
		if (r < 0)
			return r;
	}
	return -ETIMEDOUT;
}

int fwd_queue_open(struct fwd_queue **out, uint16_t num,
		   const struct fwd_queue_opts *o)
{
	static const struct fwd_queue_opts defaults = { 0 };
	struct fwd_queue *q;
	int ret;

	*out = NULL;
	if (!o)
		o = &defaults;
	q = fwd_xcalloc(1, sizeof(*q));
	q->num = num;
	q->copy_range = o->copy_range ? o->copy_range : FWD_QUEUE_COPY_RANGE;
	/* Room for the packet message around the copied bytes. */
	q->rx_size = q->copy_range + 1024;
	q->rx = fwd_xcalloc(RX_BATCH, q->rx_size);
	q->seq = (uint32_t)time(NULL);
	q->sk = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!q->sk) {
		ret = -errno;
		goto fail;
	}
	q->fd = mnl_socket_get_fd(q->sk);
	if (mnl_socket_bind(q->sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto fail;
	}
	sockopts(q->fd, o);
	ret = send_config(q, o->maxlen ? o->maxlen : 8192);
	if (ret == 0)
		ret = wait_answer(q, q->seq);
	if (ret)
		goto fail;
	*out = q;
	return 0;
fail:
	fwd_queue_close(q);
	return ret;
}

void fwd_queue_close(struct fwd_queue *q)
{
	if (!q)
		return;
	if (q->sk) {
		char buf[MNL_SOCKET_BUFFER_SIZE];
		struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG,
						     q->num);

		/* Buffered verdicts go out first; what is still undecided
		 * the kernel drops when the queue goes. */
		fwd_queue_flush(q);
		nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_UNBIND);
		mnl_socket_sendto(q->sk, nlh, nlh->nlmsg_len);
		mnl_socket_close(q->sk);
	}
	free(q->ring);
	free(q->early);
	free(q->rx);
	free(q->tx);
	free(q);
}

int fwd_queue_fd(const struct fwd_queue *q)
{
	return q->fd;
}

uint16_t fwd_queue_num(const struct fwd_queue *q)
{
	return q->num;
}

int fwd_queue_proc_read(uint16_t num, struct fwd_queue_proc *out)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "re");
	char buf[16384];
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return fwd_queue_proc_parse(buf, num, out);
}
