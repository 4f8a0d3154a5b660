// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Ending tracked connections through ctnetlink. Removing an allow does not
 * stop a connection already open: `ct state established accept` comes
 * first in the table, by design. `fwctl remove --kill-states` and `block`
 * delete the conntrack entries the edit covers; the next packet of such a
 * connection is then new again (nf_conntrack_tcp_loose picks TCP up
 * mid-stream as new) and meets the rules as they are now.
 *
 * Deleting the entry alone does not end a TCP connection with a local
 * end: as soon as this host sends on it again (a retransmission, more
 * output of an SSH session), the output chain lets the packet out and
 * conntrack picks the connection up anew from that side; the peer's
 * packets are then replies, established, and pass. So the local socket of
 * each TCP connection is destroyed first (SOCK_DESTROY over sock_diag, what
 * `ss -K` does: the application sees ECONNABORTED, the peer gets a RST),
 * then the entry is deleted. A UDP flow has no connected socket to end
 * (a server's socket serves everyone); its entry is deleted, and a reply
 * the local side sends later opens it again.
 *
 * One dump of the conntrack table, matched here in both directions of
 * each entry (the kernel's dump filter knows marks and exact tuples, not
 * address ranges and port ranges), then
 * one IPCTNL_MSG_CT_DELETE per match, named by its original tuple as the
 * dump gave it, its zone, and its id: an entry that ended and was replaced
 * by another with the same tuple in between is left alone. A delete
 * without a tuple would flush the whole table, so there is never one.
 */
#include "kmod.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/sock_diag.h>

#include "addr.h"
#include "edit.h"
#include "sockets.h"
#include "util.h"

/* What to look for, from the edit. */
struct ct_match {
	int family;			/* AF_INET, AF_INET6, 0 = both */
	bool any_addr;
	uint8_t lo[16], hi[16];		/* the edit's address range */
	bool src, dst;			/* the range is matched on src / dst
					 * (both: either will do) */
	uint8_t proto;			/* 0 = any */
	uint16_t plo, phi;		/* destination ports; 0, 0 = any */
	bool local_dst, local_src;	/* that end must be this host */
};

struct local_addrs {
	struct { int family; uint8_t a[16]; } *v;
	size_t n, cap;
};

/* A local TCP socket, as sock_diag names it (src = this host). */
struct sock_id {
	uint8_t src[16], dst[16];
	uint16_t sport, dport;		/* host order */
};

/* One entry of the dump that matched: enough to delete it. */
struct ct_entry {
	uint8_t family;
	struct sock_id sock[2];		/* TCP: the local end(s) of the connection */
	unsigned nsock;
	void *tuple;			/* CTA_TUPLE_ORIG, the whole attribute */
	uint16_t tuple_len;
	bool has_id, has_zone;
	uint32_t id;			/* network order, as dumped */
	uint16_t zone;
};

struct ct_ctx {
	const struct ct_match *m;
	const struct local_addrs *local;
	struct ct_entry *v;
	size_t n, cap;
};

static void local_addrs_read(struct local_addrs *l)
{
	struct ifaddrs *ifa = NULL;

	memset(l, 0, sizeof(*l));
	if (getifaddrs(&ifa) != 0)
		return;
	for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
		const struct sockaddr *sa = i->ifa_addr;

		if (!sa || (sa->sa_family != AF_INET && sa->sa_family != AF_INET6))
			continue;
		FWD_GROW(l->v, l->cap, l->n + 1);
		memset(&l->v[l->n], 0, sizeof(l->v[l->n]));
		l->v[l->n].family = sa->sa_family;
		if (sa->sa_family == AF_INET)
			memcpy(l->v[l->n].a,
			       &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		else
			memcpy(l->v[l->n].a,
			       &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		l->n++;
	}
	freeifaddrs(ifa);
}

static bool is_local(const struct local_addrs *l, int family, const uint8_t *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].family == family && memcmp(l->v[i].a, a, len) == 0)
			return true;
	return false;
}

static bool in_range(const struct ct_match *m, int family, const uint8_t *a)
{
	size_t len = family == AF_INET ? 4 : 16;

	if (m->any_addr)
		return true;
	return memcmp(a, m->lo, len) >= 0 && memcmp(a, m->hi, len) <= 0;
}

/* The parts of a dumped tuple. */
struct tuple {
	bool have_src, have_dst, have_proto, have_sport, have_dport;
	uint8_t src[16], dst[16];
	uint8_t proto;
	uint16_t sport, dport;
};

static void parse_ip(const struct nlattr *nest, struct tuple *t)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		unsigned len = mnl_attr_get_payload_len(a);

		switch (mnl_attr_get_type(a)) {
		case CTA_IP_V4_SRC:
		case CTA_IP_V6_SRC:
			if (len == 4 || len == 16) {
				memcpy(t->src, mnl_attr_get_payload(a), len);
				t->have_src = true;
			}
			break;
		case CTA_IP_V4_DST:
		case CTA_IP_V6_DST:
			if (len == 4 || len == 16) {
				memcpy(t->dst, mnl_attr_get_payload(a), len);
				t->have_dst = true;
			}
			break;
		}
	}
}

static void parse_proto(const struct nlattr *nest, struct tuple *t)
{
	const struct nlattr *a;

	mnl_attr_for_each_nested(a, nest) {
		switch (mnl_attr_get_type(a)) {
		case CTA_PROTO_NUM:
			if (mnl_attr_get_payload_len(a) >= 1) {
				t->proto = mnl_attr_get_u8(a);
				t->have_proto = true;
			}
			break;
		case CTA_PROTO_SRC_PORT:
			if (mnl_attr_get_payload_len(a) >= 2) {
				t->sport = ntohs(mnl_attr_get_u16(a));
				t->have_sport = true;
			}
			break;
		case CTA_PROTO_DST_PORT:
			if (mnl_attr_get_payload_len(a) >= 2) {
				t->dport = ntohs(mnl_attr_get_u16(a));
				t->have_dport = true;
			}
			break;
		}
	}
}

static bool tuple_matches(const struct ct_ctx *c, int family,
			  const struct tuple *t)
{
	const struct ct_match *m = c->m;
	bool hit;

	if (m->family && m->family != family)
		return false;
	if (!t->have_src || !t->have_dst)
		return false;
	if (m->proto && (!t->have_proto || t->proto != m->proto))
		return false;
	if (m->plo && (!t->have_dport || t->dport < m->plo || t->dport > m->phi))
		return false;
	if (m->local_dst && !is_local(c->local, family, t->dst))
		return false;
	if (m->local_src && !is_local(c->local, family, t->src))
		return false;
	hit = (m->src && in_range(m, family, t->src)) ||
	      (m->dst && in_range(m, family, t->dst));
	return hit;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct ct_ctx *c = data;
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a, *orig = NULL, *reply = NULL, *id = NULL;
	const struct nlattr *zone = NULL;
	struct tuple t = { 0 }, r = { 0 };
	struct ct_entry *e;
	size_t alen = nfg->nfgen_family == AF_INET ? 4 : 16;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*nfg))
		return MNL_CB_OK;
	mnl_attr_for_each(a, nlh, sizeof(*nfg)) {
		switch (mnl_attr_get_type(a)) {
		case CTA_TUPLE_ORIG: orig = a; break;
		case CTA_TUPLE_REPLY: reply = a; break;
		case CTA_ID: id = a; break;
		case CTA_ZONE: zone = a; break;
		}
	}
	if (!orig)
		return MNL_CB_OK;
	mnl_attr_for_each_nested(a, orig) {
		if (mnl_attr_get_type(a) == CTA_TUPLE_IP)
			parse_ip(a, &t);
		else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO)
			parse_proto(a, &t);
	}
	if (reply)
		mnl_attr_for_each_nested(a, reply) {
			if (mnl_attr_get_type(a) == CTA_TUPLE_IP)
				parse_ip(a, &r);
			else if (mnl_attr_get_type(a) == CTA_TUPLE_PROTO)
				parse_proto(a, &r);
		}
	/* Which end conntrack saw first is not who opened the connection:
	 * an entry that was lost (deleted, flushed, timed out) is picked up
	 * again from whichever side sends next, and when that is this host
	 * (a retransmission, more output) the edit's view of the connection
	 * is the entry's reply direction. Either direction will do. */
	if (!tuple_matches(c, nfg->nfgen_family, &t) &&
	    !(reply && tuple_matches(c, nfg->nfgen_family, &r)))
		return MNL_CB_OK;
	FWD_GROW(c->v, c->cap, c->n + 1);
	e = &c->v[c->n++];
	memset(e, 0, sizeof(*e));
	e->family = nfg->nfgen_family;
	e->tuple_len = orig->nla_len;
	e->tuple = fwd_xmalloc(orig->nla_len);
	memcpy(e->tuple, orig, orig->nla_len);
	if (id && mnl_attr_get_payload_len(id) == 4) {
		e->has_id = true;
		e->id = mnl_attr_get_u32(id);
	}
	if (zone && mnl_attr_get_payload_len(zone) == 2) {
		e->has_zone = true;
		e->zone = mnl_attr_get_u16(zone);
	}
	if (t.proto != IPPROTO_TCP || !t.have_sport || !t.have_dport)
		return MNL_CB_OK;
	/* Opened by this host: its socket is the original tuple. Opened to
	 * it: the reply tuple, which is what the socket sees after NAT. */
	if (is_local(c->local, nfg->nfgen_family, t.src)) {
		struct sock_id *k = &e->sock[e->nsock++];

		memcpy(k->src, t.src, alen);
		memcpy(k->dst, t.dst, alen);
		k->sport = t.sport;
		k->dport = t.dport;
	}
	if (r.have_src && r.have_dst && r.have_sport && r.have_dport &&
	    is_local(c->local, nfg->nfgen_family, r.src)) {
		struct sock_id *k = &e->sock[e->nsock++];

		memcpy(k->src, r.src, alen);
		memcpy(k->dst, r.dst, alen);
		k->sport = r.sport;
		k->dport = r.dport;
	}
	return MNL_CB_OK;
}

static struct nlmsghdr *ct_hdr(char *buf, uint16_t type, uint16_t flags,
			       uint8_t family, uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct nfgenmsg *nfg;

	nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	return nlh;
}

#define CT_BUF (64 * 1024)
#define CT_DEL_CHUNK 128	/* deletes per datagram: their acks fit easily */

static int ct_dump(struct mnl_socket *sk, uint32_t portid, uint32_t *seq,
		   uint8_t family, struct ct_ctx *c, char *buf)
{
	struct nlmsghdr *nlh;
	ssize_t n;
	int ret;

	memset(buf, 0, 256);
	nlh = ct_hdr(buf, IPCTNL_MSG_CT_GET, NLM_F_DUMP, family, ++*seq);
	if (mnl_socket_sendto(sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(sk, buf, CT_BUF);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		ret = mnl_cb_run(buf, (size_t)n, *seq, portid, dump_cb, c);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

/* Delete entries [first, first + count) in one datagram; count the acks. */
static int ct_delete(struct mnl_socket *sk, uint32_t *seq,
		     const struct ct_entry *v, size_t count, char *buf,
		     unsigned *killed)
{
	uint32_t seq0 = *seq + 1;
	size_t len = 0, answered = 0;
	ssize_t n;

	memset(buf, 0, CT_BUF);
	for (size_t i = 0; i < count; i++) {
		struct nlmsghdr *nlh = ct_hdr(buf + len, IPCTNL_MSG_CT_DELETE,
					      NLM_F_ACK, v[i].family, ++*seq);

		memcpy((char *)nlh + nlh->nlmsg_len, v[i].tuple, v[i].tuple_len);
		nlh->nlmsg_len += MNL_ALIGN(v[i].tuple_len);
		if (v[i].has_id)
			mnl_attr_put_u32(nlh, CTA_ID, v[i].id);
		if (v[i].has_zone)
			mnl_attr_put_u16(nlh, CTA_ZONE, v[i].zone);
		len += NLMSG_ALIGN(nlh->nlmsg_len);
	}
	if (mnl_socket_sendto(sk, buf, len) < 0)
		return -errno;
	/* Every answer is queued before sendto returns: read until the
	 * socket is empty, never wait. */
	while (answered < count) {
		n = recv(mnl_socket_get_fd(sk), buf, CT_BUF, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == ENOBUFS)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return -errno;
		}
		int left = (int)n;

		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_seq - seq0 >= count)
				continue;
			answered++;
			/* ENOENT: it ended by itself meanwhile. */
			if (e->error == 0)
				(*killed)++;
		}
	}
	return 0;
}

/*
 * One inet_diag request for one socket id (type SOCK_DIAG_BY_FAMILY to
 * look, SOCK_DESTROY to end it), answered synchronously.
 */
static int diag_one(struct mnl_socket *sk, uint16_t type, uint8_t family,
		    const struct inet_diag_sockid *id, struct inet_diag_msg *out)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct inet_diag_req_v2 *req;
	struct nlmsghdr *nlh;
	uint32_t seq = (uint32_t)time(NULL);
	ssize_t r;

	memset(buf, 0, 512);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	req = mnl_nlmsg_put_extra_header(nlh, sizeof(*req));
	req->sdiag_family = family;
	req->sdiag_protocol = IPPROTO_TCP;
	req->idiag_states = ~0u;
	req->id = *id;
	if (mnl_socket_sendto(sk, buf, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		int left;

		r = mnl_socket_recvfrom(sk, buf, sizeof(buf));
		if (r < 0)
			return -errno;
		left = (int)r;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				return e->error;	/* 0 or -errno */
			}
			if (out && nlh->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
			    mnl_nlmsg_get_payload_len(nlh) >= sizeof(*out))
				memcpy(out, mnl_nlmsg_get_payload(nlh), sizeof(*out));
			if (nlh->nlmsg_type == NLMSG_DONE)
				return 0;
		}
	}
}

/*
 * Is the socket the lookup answered the connection asked about? Not the
 * listener (the lookup's fallback), and the same 4-tuple. An IPv4
 * connection accepted by a dual-stack listener (bound to ::, as most
 * servers are) is an AF_INET6 socket with IPv4-mapped addresses: the
 * kernel finds it by the IPv4 tuple and describes it in its own family,
 * ::ffff:a.b.c.d. Comparing the raw first four bytes of that with the
 * IPv4 address never matched, and such sockets were never destroyed.
 */
static bool diag_same_conn(uint8_t family, const struct sock_id *id,
			   const struct inet_diag_msg *m)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *src = (const uint8_t *)m->id.idiag_src;
	const uint8_t *dst = (const uint8_t *)m->id.idiag_dst;
	size_t alen = family == AF_INET ? 4 : 16;

	if (m->idiag_state == 10 /* TCP_LISTEN */ ||
	    ntohs(m->id.idiag_sport) != id->sport ||
	    ntohs(m->id.idiag_dport) != id->dport)
		return false;
	if (family == AF_INET && m->idiag_family == AF_INET6) {
		if (memcmp(src, mapped, 12) != 0 || memcmp(dst, mapped, 12) != 0)
			return false;
		src += 12;
		dst += 12;
	} else if (m->idiag_family != family) {
		return false;
	}
	return memcmp(src, id->src, alen) == 0 && memcmp(dst, id->dst, alen) == 0;
}

/*
 * End the local TCP sockets of the entries. A lookup by 4-tuple falls
 * back to the LISTENING socket when the connection's own socket is gone
 * (TIME_WAIT, closed): destroying that would take the service down for
 * everyone. So each socket is looked up first, and destroyed only when the
 * answer is that very connection, named as the answer names it (its
 * family, addresses and cookie: what `ss -K` sends for a socket it
 * dumped). ENOENT and EOPNOTSUPP (no CONFIG_INET_DIAG_DESTROY) are not
 * errors: the conntrack entry is deleted all the same.
 */
static void sock_destroy(const struct ct_entry *v, size_t n)
{
	struct mnl_socket *sk;

	if (fwd_sockdiag_open(&sk) != 0)
		return;
	for (size_t i = 0; i < n; i++)
		for (unsigned k = 0; k < v[i].nsock; k++) {
			const struct sock_id *id = &v[i].sock[k];
			size_t alen = v[i].family == AF_INET ? 4 : 16;
			struct inet_diag_sockid q;
			struct inet_diag_msg m;

			memset(&q, 0, sizeof(q));
			q.idiag_sport = htons(id->sport);
			q.idiag_dport = htons(id->dport);
			memcpy(q.idiag_src, id->src, alen);
			memcpy(q.idiag_dst, id->dst, alen);
			q.idiag_cookie[0] = q.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
			memset(&m, 0, sizeof(m));
			if (diag_one(sk, SOCK_DIAG_BY_FAMILY, v[i].family, &q, &m) != 0 ||
			    !diag_same_conn(v[i].family, id, &m))
				continue;
			diag_one(sk, SOCK_DESTROY, m.idiag_family, &m.id, NULL);
		}
	mnl_socket_close(sk);
}

static int edit_match(const struct fwd_edit *e, struct ct_match *m)
{
	memset(m, 0, sizeof(*m));
	switch (e->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		if (e->peer == FWD_PEER_LIST)
			return -EINVAL;
		m->any_addr = e->peer == FWD_PEER_ANY;
		m->proto = e->ports.proto;
		m->plo = e->ports.lo;
		m->phi = e->ports.hi;
		/* in: connections peers opened to this host; out: those this
		 * host opened to them. The other end must be this host, so
		 * that `remove 22/tcp` (from any) spares this host's own SSH
		 * sessions to others, and routed traffic is not touched. */
		if (e->dir == FWD_DIR_OUT) {
			m->dst = true;
			m->local_src = true;
		} else {
			m->src = true;
			m->local_dst = true;
		}
		break;
	case FWD_EDIT_BLOCK:
		m->src = m->dst = true;
		break;
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		m->src = true;
		m->local_dst = true;
		break;
	default:
		return -EINVAL;
	}
	if (!m->any_addr) {
		if (e->addr.family != AF_INET && e->addr.family != AF_INET6)
			return -EINVAL;
		m->family = e->addr.family;
		fwd_addr_range(&e->addr, m->lo, m->hi);
	}
	return 0;
}

int fwd_ct_kill_edit(const struct fwd_edit *e, unsigned *killed)
{
	struct ct_match m;
	struct local_addrs local = { 0 };
	struct ct_ctx c = { .m = &m, .local = &local };
	struct mnl_socket *sk;
	uint32_t portid, seq = (uint32_t)time(NULL);
	char *buf = NULL;
	int ret;

	*killed = 0;
	ret = edit_match(e, &m);
	if (ret)
		return ret;
	sk = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
	if (!sk)
		return -errno;
	if (mnl_socket_bind(sk, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(sk);
	buf = fwd_xmalloc(CT_BUF);
	local_addrs_read(&local);
	ret = ct_dump(sk, portid, &seq, (uint8_t)m.family, &c, buf);
	if (ret == 0)
		sock_destroy(c.v, c.n);
	for (size_t i = 0; ret == 0 && i < c.n; i += CT_DEL_CHUNK)
		ret = ct_delete(sk, &seq, &c.v[i],
				c.n - i < CT_DEL_CHUNK ? c.n - i : CT_DEL_CHUNK,
				buf, killed);
out:
	for (size_t i = 0; i < c.n; i++)
		free(c.v[i].tuple);
	free(c.v);
	free(local.v);
	free(buf);
	mnl_socket_close(sk);
	return ret;
}
