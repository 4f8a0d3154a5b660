// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Verdict log records -> ring, JSON lines, DShield lines, text (vlog.h).
 */
#include "vlog.h"
#include "json.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const reason_names[FWD_REASON_MAX] = {
	[FWD_REASON_DENY] = "default deny",
	[FWD_REASON_SCAN] = "guard scan",
	[FWD_REASON_FLOOD] = "guard flood",
	[FWD_REASON_BLOCKED] = "blocked",
	[FWD_REASON_SUPPRESSED] = "suppressed",
};

const char *fwd_reason_name(enum fwd_reason r)
{
	return (unsigned)r < FWD_REASON_MAX ? reason_names[r] : "?";
}

/* ---- the ring ---- */

struct fwd_vlog_ring {
	struct fwd_vlog_rec *recs;
	size_t cap;
	uint64_t next;		/* seq of the next push; recs[seq % cap] */
};

struct fwd_vlog_ring *fwd_vlog_ring_new(size_t cap)
{
	struct fwd_vlog_ring *r = fwd_xcalloc(1, sizeof(*r));

	r->cap = cap ? cap : 1;
	r->recs = fwd_xcalloc(r->cap, sizeof(*r->recs));
	/* Resident from the start (a write per page), so a flood filling the
	 * ring does not show as growth: the ring's size is its cost. */
	for (size_t i = 0; i < r->cap * sizeof(*r->recs); i += 4096)
		((volatile char *)r->recs)[i] = 0;
	r->next = 1;
	return r;
}

void fwd_vlog_ring_free(struct fwd_vlog_ring *r)
{
	if (!r)
		return;
	free(r->recs);
	free(r);
}

uint64_t fwd_vlog_push(struct fwd_vlog_ring *r, const struct fwd_vlog_rec *rec)
{
	struct fwd_vlog_rec *slot = &r->recs[r->next % r->cap];

	*slot = *rec;
	slot->seq = r->next;
	return r->next++;
}

uint64_t fwd_vlog_next_seq(const struct fwd_vlog_ring *r)
{
	return r->next;
}

/* The oldest seq still kept. */
static uint64_t oldest(const struct fwd_vlog_ring *r)
{
	return r->next - 1 > r->cap ? r->next - r->cap : 1;
}

size_t fwd_vlog_read(const struct fwd_vlog_ring *r, const struct fwd_vlog_query *q,
		     struct fwd_vlog_rec *out, size_t max, uint64_t *missed)
{
	uint64_t lo = oldest(r), first = q->after_seq + 1, s, hi, count = 0;
	size_t n = 0;

	if (missed)
		*missed = first < lo ? lo - first : 0;
	if (first < lo)
		first = lo;
	/* Records are in time order only as far as the caller's clock is:
	 * --since filters each record rather than searching for a cut. */
	for (s = first; s < r->next; s++)
		if (r->recs[s % r->cap].time_ns >= q->since_ns)
			count++;
	/* Skip the oldest matches beyond what `last` and max allow. */
	hi = q->last && q->last < count ? q->last : count;
	if (hi > max)
		hi = max;
	count -= hi;
	for (s = first; s < r->next && n < hi; s++) {
		const struct fwd_vlog_rec *rec = &r->recs[s % r->cap];

		if (rec->time_ns < q->since_ns)
			continue;
		if (count) {
			count--;
			continue;
		}
		out[n++] = *rec;
	}
	return n;
}

/* ---- formats ---- */

static const char *proto_word(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	case IPPROTO_ICMPV6: return "ipv6-icmp";
	case IPPROTO_SCTP: return "sctp";
	case IPPROTO_UDPLITE: return "udplite";
	default:
		snprintf(buf, len, "%u", proto);
		return buf;
	}
}

/* nft's names for the TCP flags, in the header's bit order from FIN. */
static void flag_names(const struct fwd_vlog_rec *rec, char *buf, size_t len)
{
	static const char *const names[8] = {
		"fin", "syn", "rst", "psh", "ack", "urg", "ecn", "cwr"
	};
	size_t off = 0;

	buf[0] = 0;
	if (rec->proto != IPPROTO_TCP)
		return;
	for (unsigned i = 0; i < 8; i++) {
		if (!(rec->tcp_flags & (1u << i)))
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					off ? "," : "", names[i]);
	}
}

static void addr_text(uint8_t family, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(family == AF_INET ? AF_INET : AF_INET6, a, buf,
		       (socklen_t)len))
		snprintf(buf, len, "?");
}

/* 2026-12-05T01:02:03.456Z */
static void iso_time(uint64_t ns, char *buf, size_t len)
{
	time_t t = (time_t)(ns / 1000000000u);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (unsigned)(ns / 1000000u % 1000u));
}

void fwd_vlog_json(const struct fwd_vlog_rec *rec, FILE *f)
{
	char tbuf[64], pbuf[8], abuf[INET6_ADDRSTRLEN], flags[40];
	bool has_src = rec->family == AF_INET || rec->family == AF_INET6;
	struct json_out j;

	json_init(&j, f);
	json_obj_begin(&j);
	json_key(&j, "seq");
	json_uint(&j, rec->seq);
	iso_time(rec->time_ns, tbuf, sizeof(tbuf));
	json_key(&j, "time");
	json_str(&j, tbuf);
	json_key(&j, "verdict");
	json_str(&j, "drop");
	json_key(&j, "reason");
	json_str(&j, fwd_reason_name(rec->reason));
	json_key(&j, "in");
	json_str(&j, rec->in);
	json_key(&j, "proto");
	json_str(&j, proto_word(rec->proto, pbuf, sizeof(pbuf)));
	json_key(&j, "src");
	if (has_src) {
		addr_text(rec->family, rec->src, abuf, sizeof(abuf));
		json_str(&j, abuf);
	} else {
		json_null(&j);
	}
	json_key(&j, "sport");
	if (has_src)
		json_uint(&j, rec->sport);
	else
		json_null(&j);
	json_key(&j, "dst");
	if (has_src) {
		addr_text(rec->family, rec->dst, abuf, sizeof(abuf));
		json_str(&j, abuf);
	} else {
		json_null(&j);
	}
	json_key(&j, "dport");
	if (has_src)
		json_uint(&j, rec->dport);
	else
		json_null(&j);
	flag_names(rec, flags, sizeof(flags));
	json_key(&j, "flags");
	json_str(&j, flags);
	json_key(&j, "count");
	json_uint(&j, rec->count);
	json_key(&j, "policy");
	if (rec->policy[0])
		json_str(&j, rec->policy);
	else
		json_null(&j);
	json_obj_end(&j);
	json_finish(&j);
}

int fwd_vlog_dshield(const struct fwd_vlog_rec *rec, uint32_t userid,
		     long tz_off_secs, FILE *f)
{
	/* DShield's order of the TCP flag letters, with the bit each means. */
	static const struct { char c; uint8_t bit; } letters[] = {
		{ 'S', 0x02 }, { 'F', 0x01 }, { 'A', 0x10 }, { 'P', 0x08 },
		{ 'R', 0x04 }, { 'U', 0x20 }, { '1', 0x80 }, { '2', 0x40 },
	};
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], flags[9], pbuf[8];
	long off = tz_off_secs < 0 ? -tz_off_secs : tz_off_secs;
	time_t t = (time_t)(rec->time_ns / 1000000000u) + tz_off_secs;
	const char *proto;
	struct tm tm;
	size_t n = 0;

	if (rec->family != AF_INET && rec->family != AF_INET6)
		return -ENODATA;
	gmtime_r(&t, &tm);
	addr_text(rec->family, rec->src, src, sizeof(src));
	addr_text(rec->family, rec->dst, dst, sizeof(dst));
	if (rec->proto == IPPROTO_TCP)
		for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++)
			if (rec->tcp_flags & letters[i].bit)
				flags[n++] = letters[i].c;
	flags[n] = 0;
	switch (rec->proto) {
	case IPPROTO_TCP: proto = "TCP"; break;
	case IPPROTO_UDP: proto = "UDP"; break;
	case IPPROTO_ICMP: proto = "ICMP"; break;
	default:
		snprintf(pbuf, sizeof(pbuf), "%u", rec->proto);
		proto = pbuf;
	}
	fprintf(f, "%04d-%02d-%02d %02d:%02d:%02d %c%02ld:%02ld\t%u\t%u\t%s\t%u\t%s\t%u\t%s\t%s\n",
		tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, tz_off_secs < 0 ? '-' : '+',
		off / 3600, off / 60 % 60, userid, rec->count ? rec->count : 1,
		src, rec->sport, dst, rec->dport, proto, flags);
	return 0;
}

void fwd_vlog_text(const struct fwd_vlog_rec *rec, FILE *f)
{
	char tbuf[64], pbuf[8], src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN];
	char flags[40];
	bool v6 = rec->family == AF_INET6;

	iso_time(rec->time_ns, tbuf, sizeof(tbuf));
	fprintf(f, "%s drop %s", tbuf, fwd_reason_name(rec->reason));
	if (rec->family != AF_INET && !v6) {
		fprintf(f, ": %u records left out\n", rec->count);
		return;
	}
	addr_text(rec->family, rec->src, src, sizeof(src));
	if (rec->reason == FWD_REASON_SUPPRESSED) {
		fprintf(f, ": %u records from %s left out\n", rec->count, src);
		return;
	}
	addr_text(rec->family, rec->dst, dst, sizeof(dst));
	flag_names(rec, flags, sizeof(flags));
	fprintf(f, " in=%s %s %s%s%s:%u -> %s%s%s:%u", rec->in[0] ? rec->in : "?",
		proto_word(rec->proto, pbuf, sizeof(pbuf)), v6 ? "[" : "", src,
		v6 ? "]" : "", rec->sport, v6 ? "[" : "", dst, v6 ? "]" : "",
		rec->dport);
	if (flags[0])
		fprintf(f, " flags=%s", flags);
	if (rec->policy[0])
		fprintf(f, " (%s)", rec->policy);
	fputc('\n', f);
}
