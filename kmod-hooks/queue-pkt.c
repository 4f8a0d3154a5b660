// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Copied packet headers -> packet summary (pure; fuzzed by
 * tests/fuzz/fuzz-queue.c). The bytes come from anyone on the network, so
 * every read is checked against the copied length, and nothing in the
 * packet decides how far we walk except within those bounds.
 */
#include "queue.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

static uint16_t be16_at(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_UDPLITE || proto == IPPROTO_SCTP ||
	       proto == IPPROTO_DCCP;
}

/* The transport header at p[off..len). */
static void parse_l4(const uint8_t *p, size_t len, size_t off,
		     struct fwd_pkt *out)
{
	uint8_t proto = out->proto;

	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		if (len < off + 2) {
			out->flags |= FWD_PKT_F_TRUNC;
			return;
		}
		out->dport = p[off];
		out->sport = p[off + 1];
		return;
	}
	if (!has_ports(proto))
		return;
	if (len < off + 4) {
		out->flags |= FWD_PKT_F_TRUNC;
		return;
	}
	out->sport = be16_at(p + off);
	out->dport = be16_at(p + off + 2);
	if (proto == IPPROTO_TCP) {
		if (len < off + 14)
			out->flags |= FWD_PKT_F_TRUNC;
		else
			out->tcp_flags = p[off + 13];
	}
}

static int parse_v4(const uint8_t *p, size_t len, struct fwd_pkt *out)
{
	size_t ihl;
	uint16_t frag;

	if (len < 20 || (p[0] & 0x0f) < 5)
		return -EINVAL;
	ihl = (size_t)(p[0] & 0x0f) * 4;
	out->family = AF_INET;
	out->proto = p[9];
	memcpy(out->src, p + 12, 4);
	memcpy(out->dst, p + 16, 4);
	frag = be16_at(p + 6);
	if (frag & 0x1fff) {		/* offset != 0: ports are elsewhere */
		out->flags |= FWD_PKT_F_FRAG;
		return 0;
	}
	if (len < ihl) {
		out->flags |= FWD_PKT_F_TRUNC;
		return 0;
	}
	parse_l4(p, len, ihl, out);
	return 0;
}

/* Extension headers with the generic (next, length in 8-byte units - 1)
 * layout; fragment (44) and AH (51) are handled apart. */
static bool is_exthdr(uint8_t nh)
{
	switch (nh) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case 135:	/* mobility */
	case 139:	/* HIP */
	case 140:	/* shim6 */
		return true;
	default:
		return false;
	}
}

static int parse_v6(const uint8_t *p, size_t len, struct fwd_pkt *out)
{
	size_t off = 40;
	uint8_t nh;

	if (len < 40)
		return -EINVAL;
	out->family = AF_INET6;
	memcpy(out->src, p + 8, 16);
	memcpy(out->dst, p + 24, 16);
	nh = p[6];
	for (unsigned i = 0;; i++) {
		bool frag = nh == IPPROTO_FRAGMENT, ah = nh == IPPROTO_AH;

		if (!frag && !ah && !is_exthdr(nh))
			break;
		/* A longer chain than any real packet uses: treat it as
		 * unparsed rather than walk on. */
		if (i == FWD_PKT_MAX_EXTHDR || len < off + 8) {
			out->proto = nh;
			out->flags |= FWD_PKT_F_TRUNC;
			return 0;
		}
		if (frag) {
			/* Offset in the top 13 bits of bytes 2-3. */
			if (be16_at(p + off + 2) & 0xfff8) {
				out->proto = p[off];
				out->flags |= FWD_PKT_F_FRAG;
				return 0;
			}
			nh = p[off];
			off += 8;
			continue;
		}
		nh = p[off];
		off += ah ? ((size_t)p[off + 1] + 2) * 4 :
			    ((size_t)p[off + 1] + 1) * 8;
	}
	out->proto = nh;
	if (len < off) {
		out->flags |= FWD_PKT_F_TRUNC;
		return 0;
	}
	parse_l4(p, len, off, out);
	return 0;
}

int fwd_pkt_parse(const void *pkt, size_t len, struct fwd_pkt *out)
{
	const uint8_t *p = pkt;
	int ret = -EINVAL;

	out->family = 0;
	out->proto = 0;
	out->tcp_flags = 0;
	out->flags = 0;
	memset(out->src, 0, sizeof(out->src));
	memset(out->dst, 0, sizeof(out->dst));
	out->sport = out->dport = 0;

	if (p && len >= 1) {
		if (p[0] >> 4 == 4)
			ret = parse_v4(p, len, out);
		else if (p[0] >> 4 == 6)
			ret = parse_v6(p, len, out);
	}
	if (ret) {
		memset(out->src, 0, sizeof(out->src));
		memset(out->dst, 0, sizeof(out->dst));
		out->family = 0;
		out->proto = 0;
		out->flags = FWD_PKT_F_BAD;
	}
	return ret;
}

/*
 * /proc/net/netfilter/nfnetlink_queue, one line per bound queue:
 * queue, peer portid, queue_total, copy mode, copy range, queue_dropped,
 * user_dropped, id sequence, 1. Pure, so that the fuzzer reaches it too.
 */
int fwd_queue_proc_parse(const char *text, uint16_t num,
			 struct fwd_queue_proc *out)
{
	const char *line = text;

	while (line && *line) {
		unsigned q, portid, total, mode, range, idseq;
		unsigned long long qd, ud;
		const char *nl = strchr(line, '\n');
		char buf[256];
		size_t n = nl ? (size_t)(nl - line) : strlen(line);

		if (n >= sizeof(buf))
			n = sizeof(buf) - 1;
		memcpy(buf, line, n);
		buf[n] = '\0';
		line = nl ? nl + 1 : NULL;
		if (sscanf(buf, "%u %u %u %u %u %llu %llu %u", &q, &portid,
			   &total, &mode, &range, &qd, &ud, &idseq) != 8 ||
		    q != num)
			continue;
		*out = (struct fwd_queue_proc){
			.num = num, .portid = portid, .queued = total,
			.copy_mode = mode, .copy_range = range,
			.queue_dropped = qd, .user_dropped = ud,
			.id_sequence = idseq,
		};
		return 0;
	}
	return -ENOENT;
}
