/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_GUARD_H
#define FWD_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "vlog.h"

struct fwd_policy;

/*
 * The verdict loop's decisions: packet summary + state + time -> verdict +
 * actions. Pure: no syscalls, no clock of its own, no allocation after
 * fwd_guard_new, so it is unit-tested and fuzzed without a kernel and costs
 * the same for the millionth source as for the first.
 *
 *   kmod-hooks/queue.c (one queued packet)      the daemon's worker
 *         |  struct fwd_pkt                        ^  verdict, struct fwd_acts
 *         v                                        |
 *     fwd_guard_decide(g, &pkt, now_ns, &acts) ----+
 *
 * The worker sends the verdict for the packet id it holds, commits the
 * BLOCK actions (batched, through the same commit path as fwctl's edits,
 * as kernel block-set elements with a timeout), pushes the LOG records into
 * its vlog ring and journal, and says CAP actions loudly. One fwd_guard
 * per worker, or one behind a lock: it is not thread-safe.
 *
 * THE VERDICT is always drop. Only packets the static rules would drop are
 * queued (`ct state new` after the allow sets); accepting one here would let
 * the loop open what the policy closes, and fail-closed means the loop's
 * absence and its answer must be the same. (With `inbound = reject` the
 * kernel half rejects what it does not queue; a queued packet is dropped.)
 *
 * SOURCES are tracked in a fixed table of `capacity` entries (8-way set
 * associative, keyed SipHash-1-3 of the source, so a sender cannot aim at
 * one set without the seed). IPv4 sources are tracked per address, IPv6
 * sources per prefix6 network: the block is for that network. A new source
 * takes a free or expired way of its set, else the least recently seen.
 * Under a spoofed-source flood memory stays exactly what fwd_guard_new
 * allocated; what degrades is detection of slow scanners, whose entries are
 * pushed out by the flood before they reach the threshold (counted as
 * evictions in the stats). Log suppression counts of an evicted source are
 * folded into the total summary, never lost.
 *
 * BLOCKS are kept in a second table bounded by max_blocked (open
 * addressing, grows to at most 2 x max_blocked slots). A blocked source that
 * crosses a threshold again (its packets were queued before the kernel had
 * the element, or the kernel half queues them on purpose) gets its block
 * extended to now + block, never shortened. Reaching max_blocked refuses the
 * new block; the refusals are counted and a CAP action says so at most once
 * per cap_interval (and fwd_guard_tick says what is still unsaid): loudly,
 * never silently, never by evicting an existing block.
 *
 * LOGS: every decision is worth a record (default deny, guard scan, guard
 * flood, blocked), capped per source and in total by token buckets. A
 * source's suppressed records become one summary record (reason
 * "suppressed", count N) in front of its next record that passes; the total
 * cap's, and those of sources that went quiet, one summary without a source
 * at most once per summary interval.
 */

/*
 * THE PACKET SUMMARY: the contract with the kernel half (kmod-hooks/
 * queue.c), which fills one from each queued packet. Plain data; anything
 * unknown is zero.
 */
#define FWD_PKT_IFNAMSIZ 16
struct fwd_pkt {
	/* Wall clock (unix ns) of the packet: NFQA_TIMESTAMP when the kernel
	 * gives it (FWD_PKT_F_TSTAMP: queue.c fills it, 0 without), else the
	 * worker's CLOCK_REALTIME. Only the log records carry it; windows
	 * and expiry run on decide's now_ns. */
	uint64_t time_ns;
	uint8_t family;		/* AF_INET or AF_INET6; anything else: dropped, logged, not tracked */
	uint8_t proto;		/* IP protocol number of the transport header */
	uint8_t tcp_flags;	/* TCP: header byte 13 (CWR ECE URG ACK PSH RST SYN FIN); else 0 */
	uint8_t flags;		/* FWD_PKT_* */
	/* Host order. TCP, UDP, SCTP, UDP-Lite, DCCP: the ports. ICMP and
	 * ICMPv6: sport = code, dport = type (DShield's convention). Else 0. */
	uint16_t sport, dport;
	uint8_t src[16], dst[16];	/* network order; IPv4 in the first 4 bytes */
	uint32_t ifindex;		/* input interface; 0 unknown */
	char ifname[FWD_PKT_IFNAMSIZ];	/* its name; need not be NUL-terminated */
	uint16_t queue;			/* the NFQUEUE number it came from */
	uint32_t id;			/* the packet id: the caller's, never read here */
	uint32_t len;			/* the packet's full length (NFQA_CAP_LEN) */
};
/* The kernel meter in front of the queue found this source over [guard]
 * flood (e.g. the meter's over-limit branch queued it with a mark): the
 * source is a flood now, whatever its count here says. */
#define FWD_PKT_METER 0x01
/* What kmod-hooks/queue.c's parser says (fwd_pkt_parse): the copied bytes
 * end before the transport header (ports unknown); a non-first fragment
 * (no ports); not a valid IPv4/IPv6 header (family 0). */
#define FWD_PKT_F_TRUNC 0x02
#define FWD_PKT_F_FRAG 0x04
#define FWD_PKT_F_BAD 0x08
/* time_ns is the kernel's receive time (NFQA_TIMESTAMP). */
#define FWD_PKT_F_TSTAMP 0x10

/* What decide and tick ask of the worker. */
enum fwd_act_kind {
	FWD_ACT_BLOCK,	/* put src in the block set for secs (extend: it is there) */
	FWD_ACT_LOG,	/* push rec into the ring / journal */
	FWD_ACT_CAP,	/* max_blocked reached: log loudly (LOG_ERR) */
};

struct fwd_act {
	enum fwd_act_kind kind;
	/* BLOCK: the source (IPv4 /32, IPv6 /prefix6), how long, why; when
	 * it ends on decide's clock; extend: it was blocked already. */
	struct fwd_addr src;
	uint32_t secs;
	uint64_t until_ns;
	enum fwd_reason reason;
	bool extend;
	/* LOG */
	struct fwd_vlog_rec rec;
	/* CAP: blocks held, and blocks refused since the last CAP action. */
	uint32_t blocked;
	uint64_t refused;
};

/* decide gives at most a summary, a record, a block, a total summary and a
 * cap notice; tick a total summary and a cap notice. */
#define FWD_GUARD_ACTS 8
struct fwd_acts {
	size_t n;
	struct fwd_act a[FWD_GUARD_ACTS];
};

struct fwd_guard_params {
	unsigned scan_ports;		/* distinct closed ports... (1..64) */
	uint64_t scan_window_ns;	/* ...within this window */
	uint32_t flood_rate;		/* new flows per window; 0 = off */
	uint64_t flood_window_ns;
	uint32_t block_secs;
	unsigned prefix6;		/* 1..128 */
	uint32_t max_blocked;
	/* Never blocked, never counted (still dropped and logged). Copied. */
	const struct fwd_addr *never;
	size_t nnever;

	size_t capacity;		/* sources tracked (rounded up to 8 x 2^k) */
	uint64_t seed[2];		/* hash key: random per process */
	/* Log caps: records per source per window, and in total. */
	uint32_t log_src_rate;
	uint32_t log_rate;
	uint64_t log_window_ns;
	uint64_t summary_interval_ns;	/* total summaries at most this often */
	uint64_t cap_interval_ns;	/* CAP actions at most this often */
	/* The policy lines records name ("" for none), see fwd_vlog_rec. */
	char loc_deny[FWD_VLOG_LOCSIZ], loc_scan[FWD_VLOG_LOCSIZ];
	char loc_flood[FWD_VLOG_LOCSIZ], loc_block[FWD_VLOG_LOCSIZ];
};

/* The defaults of [guard] and of the knobs the policy does not set:
 * 65536 sources (about 8 MiB at scan = 10 ports), 10 records per source
 * and 1000 in total per second, summaries every second, CAP every 10 s. */
void fwd_guard_params_default(struct fwd_guard_params *gp);

/*
 * [guard] of a loaded policy into gp (over its defaults). The never peers,
 * @lists expanded, go to *never (malloc'd, the caller frees it after
 * fwd_guard_new), gp->never points there. Seed stays the caller's job.
 */
void fwd_guard_params_from_policy(const struct fwd_policy *p,
				  struct fwd_guard_params *gp,
				  struct fwd_addr **never);

struct fwd_guard;

/* All memory is allocated here (OOM aborts, util.h); none after. */
struct fwd_guard *fwd_guard_new(const struct fwd_guard_params *gp);
void fwd_guard_free(struct fwd_guard *g);	/* accepts NULL */

/*
 * One queued packet. now_ns is a monotonic clock (CLOCK_MONOTONIC or
 * BOOTTIME), never going back in real use; a clock that does go back is
 * taken as standing still. Appends to out (which the caller empties), and
 * returns the verdict for the packet: always FWD_VERDICT_DROP.
 */
enum fwd_verdict fwd_guard_decide(struct fwd_guard *g, const struct fwd_pkt *pkt,
				  uint64_t now_ns, struct fwd_acts *out);

/* Call about once a second, also when no packet comes: the total summary
 * and the cap notice that are due; wall_ns stamps the summary record. */
void fwd_guard_tick(struct fwd_guard *g, uint64_t now_ns, uint64_t wall_ns,
		    struct fwd_acts *out);

/*
 * Would a guard made from b decide exactly as g does (every knob and the
 * never peers the same; the seed and the policy lines its records name do
 * not count)? Then a reload keeps g, and with it every source's window: a
 * scanner half-way to the threshold stays half-way (vloop.c).
 */
bool fwd_guard_same(const struct fwd_guard *g, const struct fwd_guard_params *b);
/* The policy lines the records name (b's loc_*), from now on. */
void fwd_guard_set_locs(struct fwd_guard *g, const struct fwd_guard_params *b);

/* fwctl unblock of a guard block: forget it (-ENOENT if not held). */
int fwd_guard_unblock(struct fwd_guard *g, const struct fwd_addr *src);

/* A block read back from the kernel after a restart, so max_blocked and
 * extensions count it: 0, -ENOSPC at max_blocked, -EINVAL for a bad addr. */
int fwd_guard_restore(struct fwd_guard *g, const struct fwd_addr *src,
		      enum fwd_reason reason, uint32_t secs_left, uint64_t now_ns);

/* Is src (a host address) blocked at now_ns? For tests and `fwctl explain`. */
bool fwd_guard_blocked(struct fwd_guard *g, uint8_t family, const uint8_t *src,
		       uint64_t now_ns);

struct fwd_guard_stats {
	uint64_t packets;
	uint64_t by_reason[FWD_REASON_MAX];	/* verdicts by reason */
	uint64_t blocks, extends, cap_refused;
	uint64_t logged, suppressed;	/* records given / left out */
	uint64_t never;			/* packets from never peers */
	uint64_t evictions;		/* tracked sources pushed out */
	uint32_t blocked;		/* blocks held now */
	size_t tracked;			/* sources in the table */
	size_t memory;			/* bytes allocated, tables included */
};
void fwd_guard_stats(const struct fwd_guard *g, struct fwd_guard_stats *st);

/* The keyed hash of a source as the table uses it: exposed for the
 * benchmark's baseline (a loop that only hashes). */
uint64_t fwd_guard_hash(const struct fwd_guard *g, uint8_t family,
			const uint8_t *src);

#endif
