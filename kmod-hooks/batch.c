// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The batch buffer and its transaction: one BEGIN .. END sent whole, every
 * answer read, every error mapped back to the policy line that caused it,
 * lost answers settled by reading the table back. The socket is nlsock.c's.
 */
#include "kmod.h"
#include "batch.h"
#include "keys.h"
#include "monitor.h"
#include "readback.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include "util.h"

/* The kernel bumps its generation by one per commit, skipping 0. */
static uint32_t next_gen(uint32_t g)
{
	return g + 1 ? g + 1 : 1;
}

static void own_gen_add(struct fwd_nl *nl, uint32_t gen)
{
	nl->own_gen[nl->own_n++ % FWD_OWN_GENS] = gen;
}

void fwd_batch_init(struct fwd_batch *b, const struct fwd_nl *nl)
{
	memset(b, 0, sizeof(*b));
	b->seq0 = nl->seq;
	b->now_ms = fwd_now_ms();
}

void fwd_batch_free(struct fwd_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		free(b->msgs[i].ext_msg);
	free(b->msgs);
	if (b->buf)
		munmap(b->buf, b->cap);
	memset(b, 0, sizeof(*b));
}

/*
 * The buffer is anonymous memory of its own, grown with mremap: the kernel
 * hands out its pages zeroed (libmnl 1.0.4 does not clear attribute
 * padding, so no stale heap bytes may reach the kernel), a page costs only
 * when a message is written into it, and growing moves page tables instead
 * of copying. With malloc + memset, a 100k-element apply (a 2.4 MB batch)
 * zeroed 4 MiB and copied 3 MiB on the way, faulting in every page of it:
 * 1,240 of fwd's 5,300 page faults (bench/README.md), and every small
 * edit zeroed 1 MiB. Out of memory aborts, as util.h's policy says.
 */
static void buf_grow(struct fwd_batch *b, size_t cap)
{
	void *p = b->buf ? mremap(b->buf, b->cap, cap, MREMAP_MAYMOVE) :
			   mmap(NULL, cap, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "fwd: out of memory (mapping %zu bytes)\n", cap);
		abort();
	}
	b->buf = p;
	b->cap = cap;
}

static struct nlmsghdr *put_hdr(struct fwd_batch *b, uint16_t nltype,
				uint16_t family, uint16_t res_id,
				uint16_t flags, enum fwd_msg_kind kind,
				struct fwd_msg **rec)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;
	struct fwd_msg *m;

	if (b->cap - b->len < FWD_MSG_RESERVE) {
		size_t cap = b->cap ? b->cap : 1u << 20;

		while (cap - b->len < FWD_MSG_RESERVE)
			cap *= 2;
		buf_grow(b, cap);
	}
	FWD_GROW(b->msgs, b->mcap, b->n + 1);
	m = &b->msgs[b->n];
	memset(m, 0, sizeof(*m));
	m->seq = b->seq0 + (uint32_t)b->n;
	m->off = b->len;
	m->type = nltype & 0xff;
	m->kind = kind;
	b->n++;

	nlh = mnl_nlmsg_put_header(b->buf + b->len);
	nlh->nlmsg_type = nltype;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	if (!b->ack_end_only || kind == FWD_MSG_END)
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = m->seq;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = (uint8_t)family;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = res_id;
	if (rec)
		*rec = m;
	return nlh;
}

struct nlmsghdr *fwd_batch_put(struct fwd_batch *b, uint16_t type,
			       uint16_t family, uint16_t flags,
			       enum fwd_msg_kind kind, struct fwd_msg **rec)
{
	return put_hdr(b, (NFNL_SUBSYS_NFTABLES << 8) | type, family, 0, flags,
		       kind, rec);
}

void fwd_batch_close(struct fwd_batch *b, struct nlmsghdr *nlh)
{
	b->len += NLMSG_ALIGN(nlh->nlmsg_len);
}

void fwd_batch_begin(struct fwd_batch *b)
{
	struct nlmsghdr *nlh = put_hdr(b, NFNL_MSG_BATCH_BEGIN, AF_UNSPEC,
				       htons(NFNL_SUBSYS_NFTABLES), 0,
				       FWD_MSG_BEGIN, NULL);

	if (b->genid)
		mnl_attr_put_u32(nlh, NFNL_BATCH_GENID, htonl(b->genid));
	fwd_batch_close(b, nlh);
}

void fwd_batch_end(struct fwd_batch *b)
{
	fwd_batch_close(b, put_hdr(b, NFNL_MSG_BATCH_END, AF_UNSPEC,
				   htons(NFNL_SUBSYS_NFTABLES), 0,
				   FWD_MSG_END, NULL));
}

/* Talking ------------------------------------------------------------- */

static void grow_sockbuf(const struct fwd_nl *nl, int fd, int *have, int want,
			 int force, int plain)
{
	if (nl->pinned || want <= *have)
		return;
	/* FORCE needs CAP_NET_ADMIN, which we have when we may talk to
	 * nf_tables at all; without it the plain option is capped by
	 * net.core.[rw]mem_max and a huge batch fails with EMSGSIZE. */
	if (setsockopt(fd, SOL_SOCKET, force, &want, sizeof(want)) != 0)
		setsockopt(fd, SOL_SOCKET, plain, &want, sizeof(want));
	*have = want;
}

struct ack_attrs {
	const char *msg;
	uint32_t offs;
};

static int ack_attr_cb(const struct nlattr *a, void *data)
{
	struct ack_attrs *aa = data;

	switch (mnl_attr_get_type(a)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) >= 0)
			aa->msg = mnl_attr_get_str(a);
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(a, MNL_TYPE_U32) >= 0)
			aa->offs = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static void take_ack(struct fwd_batch *b, const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct ack_attrs aa = { 0 };
	uint32_t idx = nlh->nlmsg_seq - b->seq0;
	struct fwd_msg *m;
	size_t hlen;

	if (nlh->nlmsg_len < NLMSG_HDRLEN + sizeof(*e) || idx >= b->n)
		return;
	m = &b->msgs[idx];
	m->acked = true;
	m->err = -e->error;
	if (m->err) {
		b->nerr++;
		if (!b->first_err)
			b->first_err = m->err;
	}
	if (m->kind == FWD_MSG_BEGIN)
		b->begin_acked = true;
	if (m->kind == FWD_MSG_END && !m->err)
		b->end_acked = true;
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* The TLVs follow the echoed request: only its header when capped. */
	hlen = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		hlen += e->msg.nlmsg_len - sizeof(e->msg);
	if (NLMSG_HDRLEN + hlen > nlh->nlmsg_len)
		return;
	mnl_attr_parse_payload((const char *)e + hlen,
			       nlh->nlmsg_len - NLMSG_HDRLEN - hlen,
			       ack_attr_cb, &aa);
	m->bad_off = aa.offs;
	if (aa.msg && *aa.msg && !m->ext_msg)
		m->ext_msg = fwd_xstrdup(aa.msg);
}

static size_t unanswered(const struct fwd_batch *b)
{
	size_t n = 0;

	/* With acks on END only, nothing else answers unless it fails; and
	 * a kernel before 6.10 does not answer END either. */
	if (b->ack_end_only)
		return 0;
	for (size_t i = 0; i < b->n; i++) {
		const struct fwd_msg *m = &b->msgs[i];

		if (!m->acked && !((m->kind == FWD_MSG_BEGIN ||
				    m->kind == FWD_MSG_END) && !b->begin_acked))
			n++;
	}
	return n;
}

int fwd_batch_talk(struct fwd_nl *nl, struct fwd_batch *b)
{
	int fd = mnl_socket_get_fd(nl->sk);
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	struct iovec iov = { .iov_base = b->buf, .iov_len = b->len };
	struct msghdr msg = {
		.msg_name = &snl, .msg_namelen = sizeof(snl),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	size_t rsz = 256 * 1024;
	char *rbuf;
	bool lost = false;
	int waits = 0;
	ssize_t r;

	/* One datagram: the kernel takes a batch as a transaction only
	 * when BEGIN..END arrive in one skb, and the skb may not be larger
	 * than the send buffer. Every answer is queued before sendmsg
	 * returns, so the receive buffer must hold one per message. */
	if (b->len > (size_t)INT32_MAX / 2 - 65536)
		return -EMSGSIZE;
	grow_sockbuf(nl, fd, &nl->sndbuf, (int)b->len + 65536, SO_SNDBUFFORCE,
		     SO_SNDBUF);
	grow_sockbuf(nl, fd, &nl->rcvbuf,
		     b->n > (size_t)INT32_MAX / 4096 ? INT32_MAX / 2
						     : (int)(b->n * 2048) + (1 << 20),
		     SO_RCVBUFFORCE, SO_RCVBUF);
	do
		r = sendmsg(fd, &msg, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	nl->seq += (uint32_t)b->n;

	rbuf = fwd_xmalloc(rsz);
	for (;;) {
		r = recv(fd, rbuf, rsz, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				lost = true;
				continue;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				break;
			/* All answers are normally queued by now; wait a
			 * little only when some are missing and none failed. */
			if (lost || b->nerr || !unanswered(b) || waits++ >= 10)
				break;
			struct pollfd p = { .fd = fd, .events = POLLIN };
			poll(&p, 1, 100);
			continue;
		}
		int left = (int)r;

		for (struct nlmsghdr *nlh = (struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
			if (nlh->nlmsg_type == NLMSG_ERROR)
				take_ack(b, nlh);
	}
	free(rbuf);
	if (lost)
		return -ENOBUFS;
	return 0;
}

bool fwd_batch_committed(const struct fwd_batch *b)
{
	if (b->nerr)
		return false;
	if (b->end_acked)
		return true;
	if (b->ack_end_only)
		return false;	/* no END answer: the caller must look */
	/* Kernels before 6.10 do not answer BEGIN/END: then every other
	 * message accepted and nothing refused is all we can know. */
	return !b->begin_acked && unanswered(b) == 0;
}

/* Errors -> policy lines ---------------------------------------------- */

#define MAX_KERNEL_DIAGS 20

static const char *msg_name(uint16_t type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE: return "add table";
	case NFT_MSG_DELTABLE: return "delete table";
	case NFT_MSG_NEWSET: return "add set";
	case NFT_MSG_NEWSETELEM: return "add elements";
	case NFT_MSG_DELSETELEM:
	case FWD_NFT_MSG_DESTROYSETELEM: return "delete elements";
	case NFT_MSG_NEWCHAIN: return "add chain";
	case NFT_MSG_NEWRULE: return "add rule";
	default: return "message";
	}
}

/* The kernel element number the extack offset points into, or -1. */
static long bad_elem(const struct fwd_batch *b, const struct fwd_msg *m)
{
	const struct nlmsghdr *nlh = (const void *)(b->buf + m->off);
	const struct nlattr *a, *list = NULL;
	long k = 0;

	if (!m->bad_off || m->bad_off >= nlh->nlmsg_len)
		return -1;
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
		if (mnl_attr_get_type(a) == NFTA_SET_ELEM_LIST_ELEMENTS)
			list = a;
	if (!list)
		return -1;
	mnl_attr_for_each_nested(a, list) {
		uint32_t off = (uint32_t)((const char *)a - (const char *)nlh);

		if (m->bad_off >= off && m->bad_off < off + a->nla_len)
			return k;
		k++;
	}
	return -1;
}

static const char *hint(int err, const struct fwd_msg *m)
{
	enum fwd_msg_kind kind = m->kind;

	if (kind == FWD_MSG_ELEMS && m->type != NFT_MSG_NEWSETELEM &&
	    err == ENOENT)
		return " (the set in the kernel does not hold it: it "
		       "expired, or the table changed behind fwd's back)";
	if (kind == FWD_MSG_ELEMS && (err == EEXIST || err == ENOTEMPTY))
		return " (it overlaps or repeats another element)";
	if (kind == FWD_MSG_ELEMS && err == ERANGE)
		return " (range out of order)";
	return "";
}

static void report_elems(const struct fwd_batch *b, const struct fwd_msg *m,
			 const char *why, const char *ext,
			 struct fwd_diags *d)
{
	const struct fwd_ir_set *s = m->set;
	long k = bad_elem(b, m);
	size_t idx = k >= 0 ? fwd_lin_elem_index(m, (size_t)k) : (size_t)-1;
	char text[128];

	if (idx != (size_t)-1 && idx < s->n) {
		const struct fwd_ir_elem *e = &s->elems[idx];

		fwd_ir_elem_format(s, e, text, sizeof(text));
		fwd_diags_add(d, e->loc.file, e->loc.line,
			      "kernel rejected %s %s of set %s: %s%s%s",
			      m->type == NFT_MSG_NEWSETELEM ? "element" :
			      "deleting element", text, s->name, why,
			      hint(m->err, m), ext);
		return;
	}
	if (m->count == 0 || m->first >= s->n) {
		fwd_diags_add(d, NULL, 0, "kernel rejected elements of set %s: %s%s",
			      s->name, why, ext);
		return;
	}
	/* No pointer to the element: name the first and the lines spanned. */
	const struct fwd_ir_elem *e0 = &s->elems[m->first];
	unsigned lo = e0->loc.line, hi = e0->loc.line;

	for (size_t i = m->first; i < m->first + m->count && i < s->n; i++) {
		const struct fwd_loc *l = &s->elems[i].loc;

		if (l->file != e0->loc.file ||
		    (l->file && e0->loc.file && strcmp(l->file, e0->loc.file)))
			continue;
		if (l->line < lo)
			lo = l->line;
		if (l->line > hi)
			hi = l->line;
	}
	fwd_ir_elem_format(s, e0, text, sizeof(text));
	fwd_diags_add(d, e0->loc.file, e0->loc.line,
		      "kernel rejected one of %zu elements of set %s starting "
		      "with %s (lines %u-%u): %s%s%s", m->count, s->name, text,
		      lo, hi, why, hint(m->err, m), ext);
}

/* The reverse-path rule needs the kernel's fib expression: say which
 * setting asks for it and how to do without. */
static const char *rpf_hint(const struct fwd_ir_rule *r)
{
	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++)
		if (r->m[i].kind == FWD_M_RPF_MISSING)
			return "; it is the reverse-path check of [defaults] "
			       "rpfilter, which needs the kernel's fib expression "
			       "(nft_fib_inet; see fwd --probe), and rpfilter = "
			       "no does without it";
	return "";
}

/*
 * A rule the kernel refused, named as the kernel would hold it: its kernel
 * chain (in4, not the IR's input) and its place there as `nft list` lists
 * it, not its index in the IR chain (ir.h, "The chains in the kernel"),
 * with the policy line that made it when it has one (rpfilter, a class's
 * interface or limit). A rule in both family chains fails in each.
 */
static void report_rule(const struct fwd_msg *m, const char *why,
			const char *ext, struct fwd_diags *d)
{
	const struct fwd_ir_rule *r = m->jump ? NULL : &m->chain->rules[m->rule];
	char kname[40], what[64];

	fwd_ir_part_name(m->chain, m->part, kname, sizeof(kname));
	if (m->jump) {
		char to[40];

		fwd_ir_part_name(m->chain, m->jump == 6 ? FWD_PART_V6 : FWD_PART_V4,
				 to, sizeof(to));
		snprintf(what, sizeof(what), "the jump to %s, %s", to,
			 msg_name(m->type));
	} else {
		snprintf(what, sizeof(what), "%s", msg_name(m->type));
	}
	fwd_diags_add(d, r ? r->loc.file : NULL, r ? r->loc.line : 0,
		      "kernel rejected rule %zu of chain %s (%s): %s%s%s",
		      m->kpos, kname, what, why, ext, r ? rpf_hint(r) : "");
}

static void report(const struct fwd_batch *b, struct fwd_diags *d)
{
	size_t shown = 0;

	for (size_t i = 0; i < b->n; i++) {
		const struct fwd_msg *m = &b->msgs[i];
		const char *why;
		char ext[160] = "";

		if (!m->err)
			continue;
		if (shown++ == MAX_KERNEL_DIAGS) {
			fwd_diags_add(d, NULL, 0, "... and %zu more kernel errors",
				      b->nerr - MAX_KERNEL_DIAGS);
			return;
		}
		why = strerror(m->err);
		if (m->ext_msg)
			snprintf(ext, sizeof(ext), " (kernel: %s)", m->ext_msg);
		switch (m->kind) {
		case FWD_MSG_BEGIN:
		case FWD_MSG_END:
			if (m->err == EPERM)
				fwd_diags_add(d, NULL, 0, "kernel refused the "
					      "transaction: %s (fwd needs "
					      "CAP_NET_ADMIN)", why);
			else
				fwd_diags_add(d, NULL, 0, "kernel refused to "
					      "commit the transaction: %s%s",
					      why, ext);
			break;
		case FWD_MSG_TABLE:
			if (m->err == EPERM)
				fwd_diags_add(d, NULL, 0, "table inet %s is owned "
					      "by another process (is another "
					      "fwd running?)", FWD_TABLE_NAME);
			else
				fwd_diags_add(d, NULL, 0, "kernel rejected %s "
					      "inet %s: %s%s", msg_name(m->type),
					      FWD_TABLE_NAME, why, ext);
			break;
		case FWD_MSG_SET:
			/* A meter set (the kernel fills it) has no IR set. */
			fwd_diags_add(d, NULL, 0, "kernel rejected set %s: %s%s",
				      m->set ? m->set->name : "(a meter)", why,
				      ext);
			break;
		case FWD_MSG_ELEMS:
			report_elems(b, m, why, ext, d);
			break;
		case FWD_MSG_CHAIN: {
			char kname[40];

			fwd_ir_part_name(m->chain, m->part, kname, sizeof(kname));
			fwd_diags_add(d, NULL, 0, "kernel rejected chain %s: %s%s",
				      kname, why, ext);
			break;
		}
		case FWD_MSG_RULE:
			report_rule(m, why, ext, d);
			break;
		case FWD_MSG_PROBE:
			fwd_diags_add(d, NULL, 0, "probe message %u: %s%s",
				      m->probe, why, ext);
			break;
		}
	}
}

static int sockbuf(const struct fwd_nl *nl, int opt)
{
	int v = 0;
	socklen_t len = sizeof(v);

	getsockopt(mnl_socket_get_fd(nl->sk), SOL_SOCKET, opt, &v, &len);
	return v;
}

/*
 * Build, send, read the answers, and make sure of the outcome. The kernel
 * applies a batch whole or not at all, so lost answers (ENOBUFS: the
 * receive buffer overran) lose knowledge, never half a ruleset: then the
 * table is read back and compared with what the batch meant. When it does
 * not hold it, the batch is sent again asking for an answer to END only
 * (failing messages answer anyway), which needs a few hundred bytes of
 * buffer instead of one answer per message.
 */
/* Over this, a batch would flood a listening monitor with events. */
#define FWD_PAUSE_BYTES (256u * 1024)

int fwd_batch_run(struct fwd_nl *nl, const struct fwd_batch_job *job,
		  struct fwd_diags *d)
{
	struct fwd_batch b;
	bool paused = false;
	int ret = 0, restarts = 0;

	memset(&b, 0, sizeof(b));
	for (int attempt = 0; attempt < 2; attempt++) {
		bool lost, same = false;
		uint32_t gen = 0, now_gen = 0;
		int cr;

		fwd_batch_free(&b);
		/* The generation this batch builds on: the kernel refuses the
		 * batch (ERESTART) when another commit came in between, so a
		 * commit of it makes exactly the next one. */
		if (fwd_nl_getgen(nl, &gen) != 0)
			gen = 0;
		fwd_batch_init(&b, nl);
		b.genid = gen;
		b.ack_end_only = attempt > 0;
		job->build(&b, job->arg);
		if (nl->mon && !paused && b.len > FWD_PAUSE_BYTES) {
			fwd_monitor_pause(nl->mon);
			paused = true;
		}
		ret = fwd_batch_talk(nl, &b);
		lost = ret == -ENOBUFS;
		if (!ret && b.n && b.msgs[0].err == ERESTART && restarts++ < 10) {
			attempt--;	/* someone else committed first: again */
			continue;
		}
		if (ret == -EMSGSIZE) {
			fwd_diags_add(d, NULL, 0, "the transaction (%zu bytes, %zu "
				      "messages) does not fit in one netlink "
				      "message (socket send buffer %d bytes%s); "
				      "nothing was changed", b.len, b.n,
				      sockbuf(nl, SO_SNDBUF), nl->pinned ? "" :
				      ": SO_SNDBUFFORCE refused, see "
				      "net.core.wmem_max");
			break;
		}
		if (ret && !lost) {
			fwd_diags_add(d, NULL, 0, "netlink: %s", strerror(-ret));
			break;
		}
		if (!lost && b.nerr) {
			report(&b, d);
			ret = -b.first_err;
			break;
		}
		if (!lost && fwd_batch_committed(&b)) {
			if (gen)
				own_gen_add(nl, next_gen(gen));
			break;
		}
		if (!lost && !b.ack_end_only) {
			fwd_diags_add(d, NULL, 0, "kernel did not confirm the "
				      "commit (%zu of %zu messages unanswered)",
				      unanswered(&b), b.n);
			ret = -EIO;
			break;
		}
		/* Answers lost, or a kernel that does not answer END: look. */
		if (lost)
			nl->stats.lost++;
		nl->stats.checked++;
		cr = fwd_live_check(nl, job->ir, job->delta, &same);
		if (cr == 0 && !same) {
			/* Sending again what the kernel holds already would
			 * fail (EEXIST on element adds): be sure, look twice. */
			struct timespec pause = { 0, 20 * 1000 * 1000 };

			nanosleep(&pause, NULL);
			cr = fwd_live_check(nl, job->ir, job->delta, &same);
		}
		if (cr == 0 && same) {
			/* ours if nothing else committed since */
			if (gen && fwd_nl_getgen(nl, &now_gen) == 0 &&
			    now_gen == next_gen(gen))
				own_gen_add(nl, now_gen);
			ret = 0;
			break;
		}
		if (cr) {
			fwd_diags_add(d, NULL, 0, "kernel answers were lost and the "
				      "table cannot be read back (%s): cannot tell "
				      "whether the transaction was applied",
				      strerror(-cr));
			ret = lost ? -ENOBUFS : -EIO;
			break;
		}
		if (attempt == 0 && lost) {
			nl->stats.resent++;
			continue;
		}
		fwd_diags_add(d, NULL, 0, "kernel answers were lost (receive "
			      "buffer of %d bytes overrun, also with one answer "
			      "asked for); the kernel does not hold the new "
			      "ruleset (read back): nothing was changed",
			      sockbuf(nl, SO_RCVBUF));
		ret = lost ? -ENOBUFS : -EIO;
		break;
	}
	if (paused)
		fwd_monitor_resume(nl->mon);
	fwd_batch_free(&b);
	return ret;
}
