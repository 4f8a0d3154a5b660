/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_VLOG_H
#define FWD_VLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Verdict log records -> ring, JSON lines, DShield lines.
 *
 * One record per decision of the verdict loop worth logging (guard.h makes
 * them, rate-capped), kept in a fixed ring that `fwctl log` reads: by
 * sequence number (a `-f` follower resumes after the last one it printed
 * and learns how many it missed when the ring wrapped past it), by time
 * (--since) and the last N. Pure: no clock, no I/O except the FILE the
 * formatters are handed. Not thread-safe: a ring shared by a worker and
 * the control thread needs the caller's lock around each call.
 */

enum fwd_verdict {
	/* The only verdict the loop gives: queued packets are ones the
	 * static rules would drop (guard.h says why). */
	FWD_VERDICT_DROP,
};

enum fwd_reason {
	FWD_REASON_DENY,	/* "default deny": no rule allows it */
	FWD_REASON_SCAN,	/* "guard scan": this packet made its source a scanner */
	FWD_REASON_FLOOD,	/* "guard flood": this packet made its source a flood */
	FWD_REASON_BLOCKED,	/* "blocked": from a source the guard blocked */
	FWD_REASON_SUPPRESSED,	/* "suppressed": a summary of capped records */
	FWD_REASON_MAX
};

#define FWD_VLOG_IFNAMSIZ 16
#define FWD_VLOG_LOCSIZ 64

struct fwd_vlog_rec {
	uint64_t seq;		/* given by the ring, from 1 */
	uint64_t time_ns;	/* wall clock (unix ns) of the packet */
	uint8_t verdict;	/* enum fwd_verdict */
	uint8_t reason;		/* enum fwd_reason */
	uint8_t family;		/* AF_INET, AF_INET6; 0: no source (a total summary) */
	uint8_t proto;		/* IP protocol number */
	uint8_t tcp_flags;	/* TCP header byte 13, 0 for other protocols */
	uint16_t sport, dport;	/* ports; ICMP: code and type */
	uint8_t src[16], dst[16];
	/* A summary: how many records were left out since the last one (of
	 * this source, or of all sources when family is 0); else 1. */
	uint32_t count;
	/* Input interface, "" when unknown; printable ASCII ('?' for any
	 * other byte), so every format stays valid. A source summary's src
	 * is the tracked source: for IPv6 the first address of its prefix6
	 * network. */
	char in[FWD_VLOG_IFNAMSIZ];
	char policy[FWD_VLOG_LOCSIZ];	/* "FILE:LINE" behind the verdict, or "" */
};

const char *fwd_reason_name(enum fwd_reason r);		/* "default deny", ... */

/* ---- the ring ---- */

struct fwd_vlog_ring;

/* cap records (at least 1); OOM aborts (util.h). */
struct fwd_vlog_ring *fwd_vlog_ring_new(size_t cap);
void fwd_vlog_ring_free(struct fwd_vlog_ring *r);	/* accepts NULL */

/* Append a copy, overwriting the oldest when full; returns its seq. */
uint64_t fwd_vlog_push(struct fwd_vlog_ring *r, const struct fwd_vlog_rec *rec);

/* The seq the next push gets (1 on an empty ring). */
uint64_t fwd_vlog_next_seq(const struct fwd_vlog_ring *r);

/*
 * What `fwctl log` asks for; the conditions combine:
 *   after_seq  only records with seq > after_seq (a -f follower passes the
 *              last seq it printed; 0 = from the oldest kept);
 *   since_ns   only records with time_ns >= since_ns (0 = any time);
 *   last       only the newest `last` of those (0 = all).
 */
struct fwd_vlog_query {
	uint64_t after_seq;
	uint64_t since_ns;
	size_t last;
};

/*
 * Copy the matching records, oldest first, into out[0..max); returns how
 * many. When max is too small, the newest max are given. *missed (may be
 * NULL) is how many records after after_seq were overwritten before they
 * could be read: a follower that fell behind is told, never silently skipped.
 */
size_t fwd_vlog_read(const struct fwd_vlog_ring *r, const struct fwd_vlog_query *q,
		     struct fwd_vlog_rec *out, size_t max, uint64_t *missed);

/* ---- formats ---- */

/*
 * One JSON object and a newline (common/json.c's writer):
 *   {"seq":7,"time":"2026-12-05T01:02:03.456Z","verdict":"drop",
 *    "reason":"default deny","in":"eth0","proto":"tcp","src":"203.0.113.9",
 *    "sport":40000,"dst":"192.0.2.1","dport":23,"flags":"syn","count":1,
 *    "policy":"fwd.conf:3"}
 * proto is tcp, udp, icmp, ipv6-icmp, sctp, udplite or the number; flags
 * are nft's names joined by ',' ("syn,ack"), "" for other protocols; src,
 * dst, sport and dport are null in a total summary, policy null when none.
 */
void fwd_vlog_json(const struct fwd_vlog_rec *rec, FILE *f);

/*
 * DShield's tab-separated firewall log line and a newline:
 *   DATE TZ \t USERID \t COUNT \t SRC \t SPORT \t DST \t DPORT \t PROTO \t FLAGS
 * DATE is "YYYY-MM-DD HH:MM:SS" in local time and TZ its offset "+HH:MM"
 * (tz_off_secs east of UTC, as tm_gmtoff: the caller looks it up, so this
 * stays pure). PROTO is TCP, UDP or ICMP, else the number; FLAGS are
 * DShield's letters in its order SFAPRU12 (1 = CWR, 2 = ECE), empty for
 * other protocols; ICMP gives code as SPORT and type as DPORT. COUNT is 1,
 * or the number of suppressed records a source summary stands for.
 * Returns 0, or -ENODATA (nothing written) for a record DShield cannot
 * take: a total summary, which names no source.
 */
int fwd_vlog_dshield(const struct fwd_vlog_rec *rec, uint32_t userid,
		     long tz_off_secs, FILE *f);

/* One human line (fwctl log without --json / --dshield), newline included:
 *   2026-12-05T01:02:03.456Z drop default deny in=eth0 tcp
 *   203.0.113.9:40000 -> 192.0.2.1:23 flags=syn (fwd.conf:3) */
void fwd_vlog_text(const struct fwd_vlog_rec *rec, FILE *f);

#endif
