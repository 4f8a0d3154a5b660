// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The table guard's eyes: nf_tables events (what `nft monitor` reads) about
 * inet fwd_filter, from anyone but fwd.
 *
 * What the kernel sends, per commit, to the NFNLGRP_NFTABLES group (read
 * from nf_tables_api.c and checked by the tests): one event per object the
 * commit created or deleted (a table, chain, rule, set, and every set
 * element), each with nlmsg_pid = the port id of the socket that sent the
 * batch and nlmsg_seq = its message's sequence number; then one NEWGEN
 * with the same nlmsg_pid and NFTA_GEN_ID (the generation just made),
 * NFTA_GEN_PROC_PID and NFTA_GEN_PROC_NAME (the process that sent it: its
 * pid in the initial pid namespace and its comm, e.g. "nft").
 * An aborted batch sends nothing. A table deleted because its owner's
 * socket closed, and elements removed by timeout, send nothing either
 * (measured on 6.18: tests/check-monitor.c), so every event comes from a
 * commit with a NEWGEN behind it. Events are only built while a socket
 * listens; with one listening, every element of fwd's own big applies is
 * an event too, which the large receive buffer takes or ENOBUFS reports.
 */
#include "kmod.h"
#include "monitor.h"
#include "nlsock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "util.h"

#define MON_RCVBUF (16 << 20)
#define MON_BUF (256 * 1024)
#define MON_READS 64		/* recv calls per fwd_monitor_read at most */

struct fwd_monitor {
	struct mnl_socket *sk;
	uint32_t ours;
	uint32_t portid;	/* the monitor's own socket (GETGEN answers) */
	uint32_t seq;
	struct fwd_nl *nl;	/* fwd_monitor_attach: whose commits are ours */
	uint32_t last_gen;	/* the last generation accounted for */
	bool paused;
	/* Events of a commit whose NEWGEN has not come yet. */
	struct fwd_monitor_event *pend;
	size_t npend, cpend;
	/* Events ready to hand out: a queue. */
	struct fwd_monitor_event *ready;
	size_t head, nready, cready;
	bool overrun;		/* ENOBUFS seen, LOST not yet handed out */
	char *buf;
};

static void take(struct fwd_monitor *m, const struct nlmsghdr *nlh);
static void lost(struct fwd_monitor *m, uint32_t gen);

/*
 * The current generation, asked on the monitor's own socket. Events that
 * arrive before the answer are taken as usual. 0 or -errno.
 */
static int query_gen(struct fwd_monitor *m, uint32_t *gen)
{
	char req[64] = { 0 };
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	struct nfgenmsg *nfg;
	uint32_t seq = ++m->seq;
	int fd = mnl_socket_get_fd(m->sk);

	nlh->nlmsg_type = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;
	nlh->nlmsg_flags = NLM_F_REQUEST;
	nlh->nlmsg_seq = seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = AF_UNSPEC;
	nfg->version = NFNETLINK_V0;
	if (mnl_socket_sendto(m->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	/* The answer is queued before sendto returns: never wait. */
	for (;;) {
		ssize_t r = recv(fd, m->buf, MON_BUF, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				m->overrun = true;
				continue;
			}
			return -errno;
		}
		int left = (int)r;

		for (const struct nlmsghdr *h = (const struct nlmsghdr *)m->buf;
		     mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			if (h->nlmsg_pid == m->portid && h->nlmsg_seq == seq &&
			    (h->nlmsg_type & 0xff) == NFT_MSG_NEWGEN) {
				const struct nlattr *a;

				mnl_attr_for_each(a, h, sizeof(struct nfgenmsg))
					if (mnl_attr_get_type(a) == NFTA_GEN_ID &&
					    mnl_attr_get_payload_len(a) == 4)
						*gen = ntohl(mnl_attr_get_u32(a));
				return 0;
			}
			if (h->nlmsg_pid == m->portid && h->nlmsg_seq == seq &&
			    h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			take(m, h);
		}
	}
}

/*
 * Events went by unseen (an overrun, or a pause): every generation from
 * the last one accounted for up to now must have been made by fwd's own
 * commits, or some other commit went by, and that is said (LOST).
 */
static void account(struct fwd_monitor *m)
{
	uint32_t now_gen = 0, g;
	unsigned span = 0;
	bool ours = m->nl != NULL;

	if (query_gen(m, &now_gen) != 0) {
		lost(m, 0);
		return;
	}
	for (g = m->last_gen; ours && g != now_gen; span++) {
		g = g + 1 ? g + 1 : 1;
		if (span >= FWD_OWN_GENS || !fwd_nl_own_gen(m->nl, g))
			ours = false;
	}
	if (!ours || m->npend)
		lost(m, now_gen);
	m->last_gen = now_gen;
}

void fwd_monitor_attach(struct fwd_monitor *m, struct fwd_nl *nl)
{
	m->nl = nl;
	nl->mon = m;
}

void fwd_monitor_pause(struct fwd_monitor *m)
{
	int group = NFNLGRP_NFTABLES;
	struct fwd_monitor_event ev;
	size_t n;

	if (m->paused)
		return;
	/* Take what is queued (into the ready queue: nothing is handed out
	 * here), then stop listening. */
	while (fwd_monitor_read(m, &ev, 0, &n) == 0 && m->overrun)
		;
	mnl_socket_setsockopt(m->sk, NETLINK_DROP_MEMBERSHIP, &group,
			      sizeof(group));
	m->paused = true;
}

void fwd_monitor_resume(struct fwd_monitor *m)
{
	int group = NFNLGRP_NFTABLES;

	if (!m->paused)
		return;
	mnl_socket_setsockopt(m->sk, NETLINK_ADD_MEMBERSHIP, &group,
			      sizeof(group));
	m->paused = false;
	account(m);
}

int fwd_monitor_open(struct fwd_monitor **out, uint32_t our_portid)
{
	struct fwd_monitor *m = fwd_xcalloc(1, sizeof(*m));
	int group = NFNLGRP_NFTABLES, size = MON_RCVBUF, fd, ret;

	*out = NULL;
	m->ours = our_portid;
	m->sk = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (!m->sk) {
		ret = -errno;
		goto fail;
	}
	if (mnl_socket_bind(m->sk, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    mnl_socket_setsockopt(m->sk, NETLINK_ADD_MEMBERSHIP, &group,
				  sizeof(group)) < 0) {
		ret = -errno;
		goto fail;
	}
	fd = mnl_socket_get_fd(m->sk);
	m->portid = mnl_socket_get_portid(m->sk);
	m->seq = (uint32_t)time(NULL);
	/* A flush of a big set is one event per element: room for many. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	m->buf = fwd_xmalloc(MON_BUF);
	query_gen(m, &m->last_gen);
	*out = m;
	return 0;
fail:
	if (m->sk)
		mnl_socket_close(m->sk);
	free(m);
	return ret;
}

int fwd_monitor_fd(const struct fwd_monitor *m)
{
	return mnl_socket_get_fd(m->sk);
}

void fwd_monitor_close(struct fwd_monitor *m)
{
	if (!m)
		return;
	if (m->nl)
		m->nl->mon = NULL;
	mnl_socket_close(m->sk);
	free(m->pend);
	free(m->ready);
	free(m->buf);
	free(m);
}

static void push_ready(struct fwd_monitor *m, const struct fwd_monitor_event *ev)
{
	if (m->head && m->head == m->nready) {
		m->head = m->nready = 0;
	} else if (m->head > 1024 && m->head * 2 > m->nready) {
		memmove(m->ready, m->ready + m->head,
			(m->nready - m->head) * sizeof(*ev));
		m->nready -= m->head;
		m->head = 0;
	}
	FWD_GROW(m->ready, m->cready, m->nready + 1);
	m->ready[m->nready++] = *ev;
}

/* Fold into the last pending event when it is the same kind on the same
 * object from the same socket. */
static void push_pend(struct fwd_monitor *m, const struct fwd_monitor_event *ev)
{
	if (m->npend) {
		struct fwd_monitor_event *last = &m->pend[m->npend - 1];

		if (last->kind == ev->kind && last->portid == ev->portid &&
		    strcmp(last->object, ev->object) == 0) {
			last->count += ev->count;
			return;
		}
	}
	FWD_GROW(m->pend, m->cpend, m->npend + 1);
	m->pend[m->npend++] = *ev;
}

static bool implied_by_deltable(enum fwd_monitor_kind k)
{
	return k == FWD_MON_DELCHAIN || k == FWD_MON_DELRULE ||
	       k == FWD_MON_DELSET || k == FWD_MON_DELSETELEM;
}

/* A commit ended (NEWGEN), or its end will not come (lost): hand its
 * events out, stamped with who made them when known. One line per kind
 * and object: a deleted table stands for everything deleted with it. */
static void release(struct fwd_monitor *m, uint32_t portid, uint32_t gen,
		    uint32_t pid, const char *comm)
{
	bool deltable = false;

	for (size_t i = 0; i < m->npend; i++)
		if (m->pend[i].kind == FWD_MON_DELTABLE &&
		    m->pend[i].portid == portid)
			deltable = true;
	for (size_t i = 0; i < m->npend; i++) {
		struct fwd_monitor_event *ev = &m->pend[i];

		if (ev->count == 0)
			continue;	/* merged into an earlier one */
		if (deltable && ev->portid == portid && implied_by_deltable(ev->kind))
			continue;
		for (size_t j = i + 1; j < m->npend; j++)
			if (m->pend[j].kind == ev->kind &&
			    m->pend[j].portid == ev->portid &&
			    strcmp(m->pend[j].object, ev->object) == 0) {
				ev->count += m->pend[j].count;
				m->pend[j].count = 0;
			}
		if (comm && ev->portid == portid) {
			ev->gen = gen;
			ev->pid = pid;
			snprintf(ev->comm, sizeof(ev->comm), "%s", comm);
		}
		push_ready(m, ev);
	}
	m->npend = 0;
}

static void lost(struct fwd_monitor *m, uint32_t gen)
{
	struct fwd_monitor_event ev = { .kind = FWD_MON_LOST, .count = 1,
					.gen = gen };

	release(m, 0, 0, 0, NULL);
	/* one is enough until someone has read it */
	if (m->nready > m->head && m->ready[m->nready - 1].kind == FWD_MON_LOST)
		return;
	push_ready(m, &ev);
}

static const char *attr_str(const struct nlattr *a)
{
	if (!a || mnl_attr_validate(a, MNL_TYPE_NUL_STRING) < 0)
		return NULL;
	return mnl_attr_get_str(a);
}

static uint32_t attr_be32(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) >= 4 ?
	       ntohl(mnl_attr_get_u32(a)) : 0;
}

static int kind_of(uint16_t type, enum fwd_monitor_kind *k)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: *k = FWD_MON_NEWTABLE; break;
	case NFT_MSG_DELTABLE: *k = FWD_MON_DELTABLE; break;
	case NFT_MSG_NEWCHAIN: *k = FWD_MON_NEWCHAIN; break;
	case NFT_MSG_DELCHAIN: *k = FWD_MON_DELCHAIN; break;
	case NFT_MSG_NEWRULE: *k = FWD_MON_NEWRULE; break;
	case NFT_MSG_DELRULE: *k = FWD_MON_DELRULE; break;
	case NFT_MSG_NEWSET: *k = FWD_MON_NEWSET; break;
	case NFT_MSG_DELSET: *k = FWD_MON_DELSET; break;
	case NFT_MSG_NEWSETELEM: *k = FWD_MON_NEWSETELEM; break;
	case NFT_MSG_DELSETELEM: *k = FWD_MON_DELSETELEM; break;
	case NFT_MSG_NEWOBJ:
	case NFT_MSG_DELOBJ:
	case NFT_MSG_NEWFLOWTABLE:
	case NFT_MSG_DELFLOWTABLE:
		*k = FWD_MON_OTHER;
		break;
	default:
		return -1;
	}
	return 0;
}

static void take(struct fwd_monitor *m, const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[8] = { 0 }, *a;
	struct fwd_monitor_event ev = { .count = 1 };
	uint16_t type = nlh->nlmsg_type & 0xff;
	const char *table, *obj = NULL;

	if ((nlh->nlmsg_type >> 8) != NFNL_SUBSYS_NFTABLES ||
	    nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*nfg))
		return;
	mnl_attr_for_each(a, nlh, sizeof(*nfg))
		if (mnl_attr_get_type(a) < 8)
			tb[mnl_attr_get_type(a)] = a;
	if (type == NFT_MSG_NEWGEN) {
		if (nlh->nlmsg_pid == m->portid)
			return;		/* an answer to query_gen, not an event */
		m->last_gen = attr_be32(tb[NFTA_GEN_ID]);
		if (nlh->nlmsg_pid == m->ours)
			return;
		release(m, nlh->nlmsg_pid, attr_be32(tb[NFTA_GEN_ID]),
			attr_be32(tb[NFTA_GEN_PROC_PID]),
			attr_str(tb[NFTA_GEN_PROC_NAME]) ?: "");
		return;
	}
	if (kind_of(type, &ev.kind) != 0 || nlh->nlmsg_pid == m->ours)
		return;
	/* Every object names its table in attribute 1 (NFTA_*_TABLE). */
	table = attr_str(tb[1]);
	if (nfg->nfgen_family != NFPROTO_INET || !table ||
	    strcmp(table, FWD_TABLE_NAME) != 0)
		return;
	switch (type) {
	case NFT_MSG_NEWCHAIN:
	case NFT_MSG_DELCHAIN:
		obj = attr_str(tb[NFTA_CHAIN_NAME]);
		break;
	case NFT_MSG_NEWRULE:
	case NFT_MSG_DELRULE:
		obj = attr_str(tb[NFTA_RULE_CHAIN]);
		break;
	case NFT_MSG_NEWTABLE:
	case NFT_MSG_DELTABLE:
		break;
	case NFT_MSG_NEWSETELEM:
	case NFT_MSG_DELSETELEM:
		obj = attr_str(tb[NFTA_SET_ELEM_LIST_SET]);
		if (tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
			ev.count = 0;
			mnl_attr_for_each_nested(a, tb[NFTA_SET_ELEM_LIST_ELEMENTS])
				ev.count++;
		}
		break;
	default:	/* sets, objects, flowtables: attribute 2 is the name */
		obj = attr_str(tb[2]);
		break;
	}
	snprintf(ev.object, sizeof(ev.object), "%s", obj ? obj : "");
	ev.portid = nlh->nlmsg_pid;
	push_pend(m, &ev);
}

int fwd_monitor_read(struct fwd_monitor *m, struct fwd_monitor_event *ev,
		     size_t max, size_t *n)
{
	int fd = mnl_socket_get_fd(m->sk);
	int ret = 0;

	*n = 0;
	for (int i = 0; i < MON_READS; i++) {
		ssize_t r = recv(fd, m->buf, MON_BUF, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				m->overrun = true;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK) {
				ret = -errno;
				break;
			}
			/*
			 * Empty. After an overrun the kernel drops every event
			 * silently until the queue has been emptied (netlink's
			 * congested state), so "lost" is only said now: a table
			 * read back from here on misses nothing. Commits whose
			 * NEWGEN was dropped come out without a name.
			 */
			if (m->overrun) {
				m->overrun = false;
				account(m);
			}
			break;
		}
		if (r == 0)
			break;
		int left = (int)r;

		for (const struct nlmsghdr *nlh = (const struct nlmsghdr *)m->buf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			take(m, nlh);
	}
	while (*n < max && m->head < m->nready)
		ev[(*n)++] = m->ready[m->head++];
	return ret;
}

int fwd_monitor_event_format(const struct fwd_monitor_event *ev, char *buf,
			     size_t len)
{
	const char *t = "inet " FWD_TABLE_NAME, *o = ev->object;
	unsigned n = ev->count ? ev->count : 1;
	const char *s = n == 1 ? "" : "s";
	char who[64];

	if (ev->kind == FWD_MON_LOST)
		return snprintf(buf, len, "nf_tables events went by unseen "
				"(monitor overrun, or paused around a commit of "
				"fwd's) and not all were fwd's: the table may have "
				"changed (generation now %u)", ev->gen);
	if (ev->comm[0])
		snprintf(who, sizeof(who), "%s (pid %u)", ev->comm, ev->pid);
	else if (ev->portid)
		snprintf(who, sizeof(who), "netlink port %u", ev->portid);
	else
		snprintf(who, sizeof(who), "the kernel");
	switch (ev->kind) {
	case FWD_MON_NEWTABLE:
		return snprintf(buf, len, "%s created table %s", who, t);
	case FWD_MON_DELTABLE:
		return snprintf(buf, len, "%s deleted table %s", who, t);
	case FWD_MON_NEWCHAIN:
		return snprintf(buf, len, "%s added chain %s to %s", who, o, t);
	case FWD_MON_DELCHAIN:
		return snprintf(buf, len, "%s deleted chain %s of %s", who, o, t);
	case FWD_MON_NEWRULE:
		return snprintf(buf, len, "%s added %u rule%s to chain %s of %s",
				who, n, s, o, t);
	case FWD_MON_DELRULE:
		return snprintf(buf, len, "%s deleted %u rule%s from chain %s of %s",
				who, n, s, o, t);
	case FWD_MON_NEWSET:
		return snprintf(buf, len, "%s added set %s to %s", who, o, t);
	case FWD_MON_DELSET:
		return snprintf(buf, len, "%s deleted set %s of %s", who, o, t);
	case FWD_MON_NEWSETELEM:
		return snprintf(buf, len, "%s added %u element%s to set %s of %s",
				who, n, s, o, t);
	case FWD_MON_DELSETELEM:
		return snprintf(buf, len, "%s deleted %u element%s from set %s of %s",
				who, n, s, o, t);
	case FWD_MON_OTHER:
	case FWD_MON_LOST:
		break;
	}
	return snprintf(buf, len, "%s changed %s in %s", who, o, t);
}
