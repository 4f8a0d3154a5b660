// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nft-min-load: the second baseline of bench/apply.sh, a minimal
 * one-transaction libnftnl loader. It reads a list of single addresses
 * (one a line, '#' comments, IPv4 and IPv6) and commits, in one netlink
 * batch, only what fwd's compiled table holds for them in bench/apply.sh's
 * policy (22/tcp from @list): table inet fwd_filter, the sets allow4 and
 * allow6 exactly as fwd declares them (kmod-hooks/linearize.c
 * fwd_lin_set: key ipv4_addr|ipv6_addr . inet_proto . inet_service, each
 * field padded to 4 bytes, flags timeout, a set counter when -c), and one
 * (address . tcp . 22) element each, 1000 per NEWSETELEM message, every
 * message asking for its ACK, one datagram with a forced send buffer (as
 * fwd's batch.c sends it). No chains, no rules, no other sets, no state:
 * the time it takes is the kernel's insert work plus the least userspace
 * can do, which is what fwd's apply is measured against.
 *
 *   nft-min-load [-c] [-s SIZE] [-r] [-T] LIST
 *     -c       per-element counters (the set's counter expression),
 *              as fwd with [defaults] counters = yes
 *     -s SIZE  NFTNL_SET_DESC_SIZE on both sets (a size hint; the kernel
 *              also takes it as the set's maximum number of elements)
 *     -r       measure the other layout: runs of adjacent IPv4 addresses
 *              merged into ranges in an interval set (flags interval,
 *              concat, KEY + KEY_END elements, as fwd's allow4_net)
 *     -T       sets without flags timeout (fwd needs the flag for timed
 *              edits; this measures what it costs)
 *
 * Exit 0 when the kernel acknowledged the whole batch; otherwise the first
 * error on stderr and exit 1.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

/* nft's datatype numbers and concat shift (DESIGN.md, kernel facts). */
enum { DT_IPADDR = 7, DT_IP6ADDR = 8, DT_PROTO = 12, DT_SERVICE = 13,
       DT_SHIFT = 6, PER_MSG = 1000 };

struct loader {
	char *buf;
	size_t len, cap;
	uint32_t seq0, nmsg;
	uint8_t (*a4)[4], (*a6)[16];
	size_t n4, n6;
	bool counter, ranges, no_timeout;
	uint32_t size;
};

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p) {
		perror("nft-min-load: realloc");
		exit(1);
	}
	return p;
}

static struct nlmsghdr *put_msg(struct loader *ld, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;
	struct nfgenmsg *nfg;

	/* Room for the largest message: 1000 elements of two 24-byte keys. */
	if (ld->cap - ld->len < 256 * 1024) {
		ld->cap = ld->cap * 2 + 512 * 1024;
		ld->buf = xrealloc(ld->buf, ld->cap);
	}
	nlh = mnl_nlmsg_put_header(ld->buf + ld->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	nlh->nlmsg_seq = ld->seq0 + ld->nmsg++;
	nfg = mnl_nlmsg_put_extra_header(nlh, sizeof(*nfg));
	nfg->nfgen_family = NFPROTO_INET;
	nfg->version = NFNETLINK_V0;
	nfg->res_id = 0;
	if (type == NFNL_MSG_BATCH_BEGIN || type == NFNL_MSG_BATCH_END) {
		/* the batch frame names the subsystem it is for */
		nfg->nfgen_family = AF_UNSPEC;
		nfg->res_id = htons(NFNL_SUBSYS_NFTABLES);
	}
	return nlh;
}

static void close_msg(struct loader *ld, struct nlmsghdr *nlh)
{
	ld->len += nlh->nlmsg_len;
}

static uint16_t nft_type(uint8_t t)
{
	return (NFNL_SUBSYS_NFTABLES << 8) | t;
}

static void put_table(struct loader *ld)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, "fwd_filter");
	nlh = put_msg(ld, nft_type(NFT_MSG_NEWTABLE), NLM_F_CREATE);
	nftnl_table_nlmsg_build_payload(nlh, t);
	close_msg(ld, nlh);
	nftnl_table_free(t);
}

static void put_set(struct loader *ld, const char *name, bool v6, bool interval,
		    uint32_t id)
{
	struct nftnl_set *s = nftnl_set_alloc();
	uint32_t flags = ld->no_timeout ? 0 : NFT_SET_TIMEOUT, alen = v6 ? 16 : 4;
	struct nlmsghdr *nlh;

	if (interval)
		flags |= NFT_SET_INTERVAL | NFT_SET_CONCAT;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, "fwd_filter");
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE,
			  (uint32_t)(v6 ? DT_IP6ADDR : DT_IPADDR) << (2 * DT_SHIFT) |
			  DT_PROTO << DT_SHIFT | DT_SERVICE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, alen + 8);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	if (interval) {
		uint8_t fl[3] = { (uint8_t)alen, 1, 2 };

		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fl, 3);
	}
	if (ld->size)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, ld->size);
	if (ld->counter)
		nftnl_set_add_expr(s, nftnl_expr_alloc("counter"));
	nlh = put_msg(ld, nft_type(NFT_MSG_NEWSET), NLM_F_CREATE);
	nftnl_set_nlmsg_build_payload(nlh, s);
	close_msg(ld, nlh);
	nftnl_set_free(s);
}

/* addr . tcp . 22, each field padded to 4 bytes */
static unsigned make_key(uint8_t *k, const uint8_t *addr, unsigned alen)
{
	memset(k, 0, alen + 8);
	memcpy(k, addr, alen);
	k[alen] = 6;
	k[alen + 4] = 0;
	k[alen + 5] = 22;
	return alen + 8;
}

static void put_key(struct nlmsghdr *nlh, uint16_t type, const uint8_t *k,
		    unsigned len)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, k);
	mnl_attr_nest_end(nlh, n);
}

static struct nlmsghdr *elems_start(struct loader *ld, const char *set,
				    uint32_t id, struct nlattr **list)
{
	struct nlmsghdr *nlh = put_msg(ld, nft_type(NFT_MSG_NEWSETELEM),
				       NLM_F_CREATE);

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, "fwd_filter");
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, set);
	mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(id));
	*list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return nlh;
}

/* One element per address (hash set), PER_MSG to a message. */
static void put_singles(struct loader *ld, const char *set, uint32_t id,
			const uint8_t *addrs, size_t n, unsigned alen)
{
	uint8_t k[24];

	for (size_t i = 0; i < n;) {
		struct nlattr *list, *e;
		struct nlmsghdr *nlh = elems_start(ld, set, id, &list);

		for (unsigned idx = 1; i < n && idx <= PER_MSG; i++, idx++) {
			unsigned kl = make_key(k, addrs + i * alen, alen);

			e = mnl_attr_nest_start(nlh, idx);
			put_key(nlh, NFTA_SET_ELEM_KEY, k, kl);
			mnl_attr_nest_end(nlh, e);
		}
		mnl_attr_nest_end(nlh, list);
		close_msg(ld, nlh);
	}
}

static int cmp4(const void *a, const void *b)
{
	return memcmp(a, b, 4);
}

/* Runs of adjacent IPv4 addresses as [first, last] elements (KEY and
 * KEY_END) of an interval concatenation, as fwd's allow4_net holds nets. */
static void put_ranges4(struct loader *ld, uint32_t id)
{
	uint8_t k[12], ke[12];
	size_t i = 0;

	if (ld->n4)
		qsort(ld->a4, ld->n4, 4, cmp4);
	while (i < ld->n4) {
		struct nlattr *list, *e;
		struct nlmsghdr *nlh = elems_start(ld, "allow4_net", id, &list);

		for (unsigned idx = 1; i < ld->n4 && idx <= PER_MSG; idx++) {
			uint32_t lo, hi, next;
			size_t j = i;

			memcpy(&lo, ld->a4[i], 4);
			hi = ntohl(lo);
			while (j + 1 < ld->n4) {
				memcpy(&next, ld->a4[j + 1], 4);
				if (ntohl(next) > hi + 1 || hi == UINT32_MAX)
					break;
				hi = ntohl(next);
				j++;
			}
			hi = htonl(hi);
			make_key(k, ld->a4[i], 4);
			make_key(ke, (const uint8_t *)&hi, 4);
			e = mnl_attr_nest_start(nlh, idx);
			put_key(nlh, NFTA_SET_ELEM_KEY, k, 12);
			put_key(nlh, NFTA_SET_ELEM_KEY_END, ke, 12);
			mnl_attr_nest_end(nlh, e);
			i = j + 1;
		}
		mnl_attr_nest_end(nlh, list);
		close_msg(ld, nlh);
	}
}

static int read_list(struct loader *ld, const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	size_t c4 = 0, c6 = 0;
	unsigned lineno = 0;

	if (!f) {
		fprintf(stderr, "nft-min-load: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " \t");

		lineno++;
		p[strcspn(p, " \t\r\n#")] = '\0';
		if (!*p)
			continue;
		if (ld->n4 == c4)
			ld->a4 = xrealloc(ld->a4, (c4 = c4 * 2 + 1024) * 4);
		if (ld->n6 == c6)
			ld->a6 = xrealloc(ld->a6, (c6 = c6 * 2 + 1024) * 16);
		if (inet_pton(AF_INET, p, ld->a4[ld->n4]) == 1)
			ld->n4++;
		else if (inet_pton(AF_INET6, p, ld->a6[ld->n6]) == 1)
			ld->n6++;
		else {
			fprintf(stderr, "nft-min-load: %s:%u: not an address: %s\n",
				path, lineno, p);
			fclose(f);
			return -1;
		}
	}
	fclose(f);
	return 0;
}

/* Send the batch in one datagram and read every answer; 0 when no
 * message failed and END was acknowledged. */
static int talk(struct loader *ld)
{
	struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
	int fd, sz, ret = -1;
	uint32_t acked = 0;
	char *rbuf;

	if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nft-min-load: netlink");
		return -1;
	}
	fd = mnl_socket_get_fd(nl);
	sz = (int)ld->len + 65536;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz));
	sz = (int)ld->nmsg * 2048 + (1 << 20);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz));
	if (mnl_socket_sendto(nl, ld->buf, ld->len) < 0) {
		perror("nft-min-load: sendto");
		goto out;
	}
	/* The kernel has queued every answer by the time sendmsg returns
	 * (as fwd's batch.c relies on): read until none is left. BEGIN is
	 * never answered and END only by newer kernels, so every other
	 * message must have its ACK and none an error. */
	rbuf = xrealloc(NULL, 256 * 1024);
	for (bool failed = false; !failed;) {
		ssize_t r = recv(fd, rbuf, 256 * 1024, MSG_DONTWAIT);
		int left = (int)r;

		if (r < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				perror("nft-min-load: recv");
			break;
		}
		for (struct nlmsghdr *h = (struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(h, left); h = mnl_nlmsg_next(h, &left)) {
			const struct nlmsgerr *e = mnl_nlmsg_get_payload(h);

			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			if (e->error) {
				fprintf(stderr, "nft-min-load: message %u: %s\n",
					h->nlmsg_seq - ld->seq0, strerror(-e->error));
				failed = true;
				acked = 0;
				break;
			}
			acked++;
		}
	}
	free(rbuf);
	if (acked >= ld->nmsg - 2)
		ret = 0;
	else if (acked)
		fprintf(stderr, "nft-min-load: %u of %u answers\n", acked, ld->nmsg - 2);
out:
	mnl_socket_close(nl);
	return ret;
}

int main(int argc, char **argv)
{
	struct loader ld = { .seq0 = (uint32_t)time(NULL) };
	struct nlmsghdr *nlh;
	int opt, ret;

	while ((opt = getopt(argc, argv, "crs:T")) != -1) {
		switch (opt) {
		case 'c': ld.counter = true; break;
		case 'r': ld.ranges = true; break;
		case 'T': ld.no_timeout = true; break;
		case 's': ld.size = (uint32_t)strtoul(optarg, NULL, 10); break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	if (read_list(&ld, argv[optind]) != 0)
		return 1;

	nlh = put_msg(&ld, NFNL_MSG_BATCH_BEGIN, 0);
	close_msg(&ld, nlh);
	put_table(&ld);
	if (ld.ranges) {
		put_set(&ld, "allow4_net", false, true, 1);
		put_ranges4(&ld, 1);
	} else {
		put_set(&ld, "allow4", false, false, 1);
		put_singles(&ld, "allow4", 1, (const uint8_t *)ld.a4, ld.n4, 4);
	}
	put_set(&ld, "allow6", true, false, 2);
	put_singles(&ld, "allow6", 2, (const uint8_t *)ld.a6, ld.n6, 16);
	nlh = put_msg(&ld, NFNL_MSG_BATCH_END, 0);
	close_msg(&ld, nlh);

	ret = talk(&ld);
	free(ld.buf);
	free(ld.a4);
	free(ld.a6);
	return ret ? 1 : 0;
usage:
	fprintf(stderr, "usage: nft-min-load [-c] [-s SIZE] [-r] [-T] LIST\n");
	return 2;
}
