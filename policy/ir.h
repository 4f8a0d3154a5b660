/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_IR_H
#define FWD_IR_H

#include <stdio.h>

#include "diag.h"
#include "policy.h"

/*
 * The ruleset IR: the one table fwd owns, described as data (sets with
 * normalised, non-overlapping elements; chains with rules made of a few
 * match kinds). policy -> IR is pure; IR -> kernel lives in kmod-hooks and
 * IR -> nft text lives in render.c, both walking the same structure.
 * Kept deliberately small: the IR always has the same shape (same sets,
 * same chains, same rules) for a given [defaults]; a policy only changes the
 * set elements and the chain policies. Live edits are then element edits
 * (plus, in the kernel, the rules of a set that gains its first element or
 * loses its last: see "The chains in the kernel").
 */
#define FWD_TABLE_NAME "fwd_filter"

#include <stdbool.h>
#include <stdint.h>

/*
 * What a set is keyed by (nft type names in comments). In the kernel every
 * field of a concatenation is padded to 4 bytes: inet_proto is 1 byte + 3
 * zero bytes, inet_service 2 bytes in network order + 2 zero bytes.
 */
enum fwd_ir_key {
	FWD_KEY_ADDR4_PROTO_PORT,	/* ipv4_addr . inet_proto . inet_service */
	FWD_KEY_ADDR6_PROTO_PORT,	/* ipv6_addr . inet_proto . inet_service */
	FWD_KEY_PROTO_PORT,		/* inet_proto . inet_service */
	FWD_KEY_ADDR4,			/* ipv4_addr */
	FWD_KEY_ADDR6,			/* ipv6_addr */
	/* The owner sets of outbound services (outbound.c): the socket's
	 * owner first, in network byte order in the kernel (nft converts
	 * the host-order register with byteorder for interval sets):
	 * uid (4 bytes) or cgroupsv2 (the cgroup id, 8 bytes), then
	 * daddr . inet_proto . inet_service as above. Always interval. */
	FWD_KEY_UID_ADDR4_PROTO_PORT,	/* uid . ipv4_addr . inet_proto . inet_service */
	FWD_KEY_UID_ADDR6_PROTO_PORT,	/* uid . ipv6_addr . ... */
	FWD_KEY_CG_ADDR4_PROTO_PORT,	/* cgroupsv2 . ipv4_addr . ... */
	FWD_KEY_CG_ADDR6_PROTO_PORT,	/* cgroupsv2 . ipv6_addr . ... */
};

/* One element: every field is an inclusive range; for a hash (non-interval)
 * set lo == hi in every field. Unused fields are zero. Addresses are in
 * network byte order (4 or 16 bytes used), ports in host order.
 * For FWD_KEY_PROTO_PORT the address fields are unused (zero); for
 * FWD_KEY_ADDR4/ADDR6 proto, plo and phi are unused (zero).
 * loc: the policy word the element came from: the address (inline or in a
 * list / list file) for address-keyed sets, the ports = word for the open
 * sets, the edit's line for elements of live edits (file NULL for edits
 * made at run time). When normalisation merged several words into one
 * element, loc is the first of them in policy order (services in file
 * order, then edits) among those that expire last. loc.file points into
 * fwd_ir.files, so the IR does not depend on the policy staying alive.
 * expires: absolute unix seconds after which the kernel drops the element
 * by itself (kmod-hooks sends NFTA_SET_ELEM_TIMEOUT = expires - now at send
 * time); 0 = permanent. It comes from timed edits (`for 2h`, `until T`). */
struct fwd_ir_elem {
	uint8_t lo[16], hi[16];
	uint8_t proto;
	uint16_t plo, phi;
	struct fwd_loc loc;		/* the policy line this came from */
	uint64_t expires;		/* unix seconds; 0 = never */
	/* The owner field of the owner keys (a uid, or a cgroup id), exact
	 * (lo == hi); 0 in every other set. Compared first. */
	uint64_t id;
};

/*
 * Invariants of every set fwd_compile builds (kmod-hooks may rely on them):
 * - elems sorted by (address lo, proto, port lo) in numeric order, which
 *   is also the byte order of the kernel key (nft lists interval sets in
 *   this order, hash sets in its own);
 * - no two elements of a set overlap in any way, and a hash set has no
 *   duplicate keys (different sets may overlap: a host in allow4 may also
 *   be inside a network of allow4_net; each word keeps its own element);
 * - interval sets of a concatenated key need NFT_SET_CONCAT in the flags
 *   (nft sends 0x94 = CONCAT|TIMEOUT|INTERVAL for allow4_net, 0x14 for
 *   block4, 0x10 for allow4), NFTNL_SET_DESC_CONCAT field lengths in bytes
 *   unpadded (4 or 16, 1, 2; open: 1, 2), and every element both KEY and
 *   KEY_END (lo and hi padded as above); hash sets take KEY only;
 * - the kernel is no full referee: pipapo refuses an element only when
 *   its start or end falls inside an existing one (EEXIST), so a crossing
 *   overlap would load silently. Normalisation is what guarantees it;
 * - expiry is part of the element: every point of key space is in the
 *   element whose expires is the LATEST among the policy words covering it
 *   (a permanent word dominates), and neighbouring pieces are joined only
 *   when their expires are equal, so the set at any later moment t is
 *   exactly "elements with expires == 0 or expires > t": the kernel's
 *   element timeouts carry the policy forward in time with no daemon
 *   timer. A hash set keeps one element per key, at the latest expires;
 * - that holds until fwd_ir.recompile_at (when not 0): words only ever
 *   go away by themselves, except that the end of a timed list-del brings
 *   a list member back, which no timeout can do;
 * - elements already expired may still be in an IR compiled earlier (the
 *   kernel no longer has them); fwd_compile_at(p, now) leaves out every
 *   edit not in force at `now`.
 * Every set has the timeout flag, so that timed elements never change the
 * table's shape.
 * No set has a size (nft list would print `size N`, render does not).
 */
struct fwd_ir_set {
	char name[32];
	enum fwd_ir_key key;
	bool interval;			/* NFT_SET_INTERVAL (+ concat desc) */
	bool timeout;			/* NFT_SET_TIMEOUT: live timed edits */
	/* A counter per element (the set's NFTA_SET_EXPR `counter`, cloned
	 * by the kernel into every element): the allow and deny sets, so
	 * that `fwctl stats` can say which service or list traffic hit.
	 * Rendered as `counter` in the set block; the elements' own
	 * `counter packets N bytes M`, which nft list adds, are not. */
	bool counter;
	struct fwd_ir_elem *elems;	/* sorted, no two overlap */
	size_t n, cap;
};

/*
 * Rule matches. Each kind stands for a fixed expression sequence; kmod-hooks
 * must emit exactly what nft 1.0.6 emits for the rendered text (checked with
 * `nft --debug=netlink`), so that `nft list` of a table fwd loaded reads the
 * same as fwd_ir_render and reloads with `nft -f`:
 *
 * FWD_M_IIF_LO        meta iif == 1 (loopback ifindex)        iif "lo"
 * FWD_M_OIF_LO        meta oif == 1                           oif "lo"
 * FWD_M_CT_STATE      ct state; bitwise & u32 ^ 0; cmp != 0   ct state established,related
 *                     (u32: NF_CT_STATE_INVALID_BIT | NF_CT_STATE_BIT(..))
 * FWD_M_NFPROTO       meta nfproto == u32 (NFPROTO_IPV4 2 / NFPROTO_IPV6 10)
 * FWD_M_L4PROTO       meta l4proto == u32                     meta l4proto tcp
 * FWD_M_ICMP_TYPES    IMPLIES meta nfproto == 2; meta l4proto == 1; then
 *                     payload transport+0 1 byte; lookup in an anonymous
 *                     constant set of types[0..ntypes) (sorted ascending)
 *                                                             icmp type { echo-request, ... }
 *                     (with ntypes == 1 nft emits cmp == instead of a set)
 * FWD_M_ICMPV6_TYPES  IMPLIES meta nfproto == 10; meta l4proto == 58; then as
 *                     above                                   icmpv6 type { ... }
 * FWD_M_LOOKUP_SRC    by the key of sets[set]:
 *   ADDR4_PROTO_PORT  IMPLIES meta nfproto == 2; payload network+12 4 bytes;
 *                     meta l4proto; payload transport+2 2 bytes; lookup
 *                                                             ip saddr . meta l4proto . th dport @set
 *   ADDR6_PROTO_PORT  IMPLIES meta nfproto == 10; payload network+8 16 bytes;
 *                     meta l4proto; payload transport+2 2 bytes; lookup
 *                                                             ip6 saddr . meta l4proto . th dport @set
 *   PROTO_PORT        meta l4proto; payload transport+2 2 bytes; lookup
 *                     (no nfproto: the open sets serve both families)
 *                                                             meta l4proto . th dport @set
 *   ADDR4             IMPLIES meta nfproto == 2; payload network+12 4; lookup
 *                                                             ip saddr @set
 *   ADDR6             IMPLIES meta nfproto == 10; payload network+8 16; lookup
 *                                                             ip6 saddr @set
 * FWD_M_LOOKUP_DST    the same with daddr: network+16 (v4), network+24 (v6);
 *                     PROTO_PORT is identical to the SRC form (th dport)
 *   UID_ADDR*         meta skuid; byteorder hton 4; then as above
 *                                                             meta skuid . ip daddr . meta l4proto . th dport @set
 *   CG_ADDR*          socket cgroupv2 level u32; byteorder hton 8; then as above
 *                                                             socket cgroupv2 level 2 . ip6 daddr . ... @set
 * FWD_M_LIMIT         limit rate u32/second burst u32b packets (type pkts,
 *                     flags 0)                                limit rate 10/second burst 20 packets
 * FWD_M_RPF_MISSING   fib, flags u32 | NFTA_FIB_F_PRESENT, result oif, into
 *                     reg 1; cmp == 4 zero bytes (no route back)
 *                     u32 NFTA_FIB_F_SADDR|MARK|IIF:          fib saddr . mark . iif oif missing
 *                     u32 NFTA_FIB_F_SADDR|MARK:              fib saddr . mark oif missing
 *                     No nfproto dependency: the kernel's inet fib serves
 *                     both families. The kernel allows it in the input hook
 *                     (not output: there is no iif there).
 * FWD_M_METER         the per-source meter of the queue step (fwd_ir_queue),
 *                     u32 = NFPROTO_IPV4 or NFPROTO_IPV6: IMPLIES meta
 *                     nfproto; payload saddr (v4: network+12 4; v6:
 *                     network+8 16, then bitwise & the first 8 bytes, a /64);
 *                     dynset update set meter4/meter6 expr limit rate over
 *                     (flags NFT_LIMIT_F_INV) queue.rate/queue.period_s
 *                     burst queue.burst packets
 *                                                             update @meter4 { ip saddr limit rate over 100/second burst 100 packets }
 *                                                             update @meter6 { ip6 saddr & ffff:ffff:ffff:ffff:: limit rate over ... }
 *                     The meter sets are not in fwd_ir.sets: the kernel
 *                     fills them, the policy never does (see fwd_ir_queue).
 *
 * FWD_M_IIFNAME       meta iifname (16 bytes) == the class's name, NUL-padded
 * FWD_M_OIFNAME       meta oifname, the same           iifname "eth1"
 *                     By name, not index: an interface created (or renamed
 *                     to it) after the table was loaded is matched too.
 * FWD_M_CLASS_METER   as FWD_M_METER, u32 the family, on the class's meter
 *                     set (set = class index) at the class's rate
 *                                                             update @cls0_m4 { ip saddr limit rate over 12/minute burst 6 packets }
 * FWD_M_PROG_METER    the program queue's per-owner meter (fwd_ir.prog):
 *                     meta skuid into reg 1; dynset update set prog_meter
 *                     expr limit rate over prog.rate/prog.period_s burst
 *                     prog.burst packets (flags NFT_LIMIT_F_INV); a packet
 *                     without a socket has no skuid and misses (the loop
 *                     then finds no owner and drops it)
 *                                                             update @prog_meter { meta skuid limit rate over 1000/second burst 1000 packets }
 * FWD_M_CT_LABEL      ct load labels (16 bytes) into reg 1; bitwise & the
 *                     one bit u32 (0..127: byte u32/8, bit u32%8) ^ 0;
 *                     cmp != 0                               ct label 127
 *                     The label fwd owns (FWD_CT_LABEL_BIT): the verdict
 *                     loop sets it on a UDP flow it accepted, so that the
 *                     flow's later datagrams pass in the kernel. The
 *                     expression is also what makes the kernel attach the
 *                     labels extension to new conntracks at all (its init
 *                     calls nf_connlabels_get for the namespace).
 *
 * No dependency on the l4 protocol is added for `th dport`: in the sets only
 * tcp and udp appear, so other protocols simply miss.
 */
enum fwd_ir_match_kind {
	FWD_M_IIF_LO,		/* iif "lo" */
	FWD_M_OIF_LO,		/* oif "lo" */
	FWD_M_CT_STATE,		/* ct state & u32 != 0 (NF_CT_STATE_BIT mask) */
	FWD_M_NFPROTO,		/* meta nfproto == u32 (NFPROTO_IPV4/IPV6) */
	FWD_M_L4PROTO,		/* meta l4proto == u32 */
	FWD_M_ICMP_TYPES,	/* icmp type in { types } (implies nfproto ipv4 + l4proto icmp) */
	FWD_M_ICMPV6_TYPES,	/* icmpv6 type in { types } (implies nfproto ipv6 + l4proto 58) */
	FWD_M_LOOKUP_SRC,	/* saddr [. l4proto . th dport] @set (see above) */
	FWD_M_LOOKUP_DST,	/* daddr [. l4proto . th dport] @set */
	FWD_M_LIMIT,		/* limit rate u32/second burst u32b packets */
	FWD_M_RPF_MISSING,	/* fib saddr . mark [. iif] oif missing (u32: flags) */
	FWD_M_METER,		/* update @meter4/6 { saddr limit rate over } */
	FWD_M_IIFNAME,		/* iifname == classes[u32].ifname */
	FWD_M_OIFNAME,		/* oifname == classes[u32].ifname */
	FWD_M_CLASS_METER,	/* update @<class>_m4/6 { saddr limit rate over } */
	FWD_M_PROG_METER,	/* update @prog_meter { meta skuid limit rate over } */
	FWD_M_CT_LABEL,		/* ct label u32 (one bit, 0..127) */
};

/* The last match kind: the state decoder and the fuzzer refuse others. */
#define FWD_M_LAST FWD_M_CT_LABEL

/*
 * The conntrack label bit fwd owns (ir.h, FWD_M_CT_LABEL): on an outbound
 * UDP flow of a program rule, "fwd's verdict loop accepted this flow's
 * first datagram". The highest of the 128 bits: tools that use labels
 * (connlabel.conf's names, xt_connlabel users) hand them out from bit 0
 * up. Labels, not the conntrack or packet mark: WireGuard, Tailscale,
 * Kubernetes and Calico own bits of the marks.
 */
#define FWD_CT_LABEL_BIT 127u

struct fwd_ir_match {
	enum fwd_ir_match_kind kind;
	uint32_t u32, u32b;
	unsigned set;			/* index into fwd_ir.sets */
	uint8_t types[24];		/* ICMP types (anonymous set) */
	unsigned ntypes;
};

enum fwd_ir_verdict {
	FWD_V_CONTINUE,		/* no verdict: e.g. a log rule */
	FWD_V_ACCEPT,
	FWD_V_DROP,
	FWD_V_REJECT_TCP_RST,	/* reject with tcp reset */
	FWD_V_REJECT_ICMPX,	/* reject with icmpx admin-prohibited */
	/* To the verdict loop (fwd_ir.queue): native `queue` expression or
	 * the xt NFQUEUE target rev 3, never with bypass. Terminal: the
	 * loop's verdict decides, nobody listening means drop. */
	FWD_V_QUEUE,
	/* To the verdict loop's program decision (fwd_ir.prog, outbound.h):
	 * queue FWD_PROG_QUEUE, never with bypass. Terminal, as above. */
	FWD_V_QUEUE_PROG,
};

#define FWD_IR_MAX_MATCH 4

/*
 * A rule is, in this order: its matches m[0..nm), then a counter if
 * `counter`, then a log expression if `log` (prefix only: default level,
 * no flags), then the verdict (none for FWD_V_CONTINUE).
 * loc: the [defaults] line that caused the rule; file NULL when the rule is
 * part of every table (loopback, conntrack, ND, lookups, ...). Only the
 * reverse-path rule has one today: the rpfilter line, else the [defaults]
 * header (a kernel without nft_fib refuses that rule).
 */
struct fwd_ir_rule {
	struct fwd_ir_match m[FWD_IR_MAX_MATCH];
	unsigned nm;
	bool counter;
	bool log;			/* log prefix "<log_prefix>" */
	char log_prefix[32];
	enum fwd_ir_verdict verdict;
	struct fwd_loc loc;		/* where in the policy this rule comes from */
};

struct fwd_ir_chain {
	char name[32];
	unsigned hook;			/* NF_INET_LOCAL_IN / NF_INET_LOCAL_OUT */
	int prio;			/* 0 = filter */
	bool policy_accept;		/* false: policy drop */
	struct fwd_ir_rule *rules;
	size_t n, cap;
};

/*
 * The fixed shape: fwd_compile always builds these sets at these indices
 * (sets[FWD_SET_ALLOW4] is "allow4", ...) and these chains, whatever the
 * policy, so that a live edit never needs a new set or rule. Look sets up by
 * index or with fwd_ir_set_find().
 */
enum fwd_ir_set_id {
	FWD_SET_ALLOW4,		/* "allow4": v4 host . proto . single port (hash) */
	FWD_SET_ALLOW4_NET,	/* "allow4_net": CIDRs/ranges and port ranges (interval) */
	FWD_SET_ALLOW6,		/* "allow6" */
	FWD_SET_ALLOW6_NET,	/* "allow6_net" */
	FWD_SET_OPEN,		/* "open": proto . port from any source (interval) */
	FWD_SET_OUT_ALLOW4,	/* "out_allow4": the same for direction = out, */
	FWD_SET_OUT_ALLOW4_NET,	/*   keyed by destination */
	FWD_SET_OUT_ALLOW6,
	FWD_SET_OUT_ALLOW6_NET,
	FWD_SET_OUT_OPEN,
	FWD_SET_BLOCK4,		/* "block4": dynamic blocklist, ipv4_addr (interval) */
	FWD_SET_BLOCK6,		/* "block6" */
	/* `fwctl deny` edits: rejected before the allowlists (interval sets,
	 * hosts and networks alike: there are few of them). */
	FWD_SET_DENY4,		/* "deny4": ipv4_addr . inet_proto . inet_service */
	FWD_SET_DENY6,		/* "deny6" */
	FWD_SET_DENY_OPEN,	/* "deny_open": inet_proto . inet_service, from any */
	FWD_SET_OUT_DENY4,	/* "out_deny4": keyed by destination */
	FWD_SET_OUT_DENY6,	/* "out_deny6" */
	FWD_SET_OUT_DENY_OPEN,	/* "out_deny_open" */
	FWD_SET_COUNT
};

/*
 * The owner sets (`user =`, `unit =` in direction = out services;
 * outbound.c): only in a table whose policy names owners, the last four
 * (six with `program =`)
 * sets, after the fixed ones and the restricted classes' (so that every
 * other table keeps its shape); this enum gives their order, counted from
 * FWD_SET_COUNT. The fast paths (live.c) leave such a table to the
 * compiler.
 */
enum fwd_ir_owner_set_id {
	FWD_SET_OUT_USER4 = FWD_SET_COUNT,	/* "out_user4" */
	FWD_SET_OUT_USER6,			/* "out_user6" */
	FWD_SET_OUT_UNIT4,			/* "out_unit4" */
	FWD_SET_OUT_UNIT6,			/* "out_unit6" */
	/* Only when a service names a program (then six owner sets): the
	 * destinations whose new flows go to the program queue. */
	FWD_SET_OUT_PROG4,			/* "out_prog4" */
	FWD_SET_OUT_PROG6,			/* "out_prog6" */
	FWD_SET_COUNT_OWNERS
};

enum fwd_ir_chain_id {
	FWD_CHAIN_INPUT,	/* "input", hook input */
	FWD_CHAIN_OUTPUT,	/* "output", hook output */
	FWD_CHAIN_COUNT
};

/*
 * The chains in the kernel. The IR keeps every chain whole, in the fixed
 * shape above (explain, stats, the state file and the fast paths read it
 * so); what the kernel holds is derived from it, the same way by
 * everything that writes or reads rules (render.c, kmod-hooks), so that a
 * new flow passes as few rules as it can:
 *
 * - a base chain whose rules between its head (the leading loopback
 *   accepts) and its tail (the trailing rules that look into no set: the
 *   log, the queue step, the final drop/reject) are not empty is SPLIT by
 *   family: the base chain keeps head, `meta nfproto ipv4 jump in4`,
 *   `meta nfproto ipv6 jump in6`, tail; the regular chains in4 / in6
 *   ("out4"/"out6" for output, NAME4/NAME6 else) hold the middle rules in
 *   IR order, each in the chains of the families it can match
 *   (fwd_ir_rule_families: by nfproto, ICMP kind, the looked-up set's
 *   address family, the meter's family; a rule that says no family, such
 *   as `ct state established,related accept` or the open-port lookup, is
 *   in both). A packet that no rule of its family chain decides returns
 *   to the tail, as it went on in the whole chain before: an IPv4 packet
 *   only skips rules that could never match it;
 * - a rule that looks into a set with no element is left out
 *   (fwd_ir_rule_live): it cannot match. The live paths put it back in the
 *   transaction that adds the set's first element (kmod-hooks/delta.c
 *   rebuilds the family chain whose rules changed: flush + add, rule
 *   counters carried), and take it out with the last. Sets are only ever
 *   looked up in the middle, so the base chains never change shape.
 *
 * A whole IR rule with a counter that is in both family chains counts in
 * both: read back, the two counters are summed for the rule's totals
 * (stats) and kept apart per copy (fwd_ir_counts.part); carried over a
 * replace, each copy starts from its own count (in4 from in4's, in6 from
 * in6's), so that the totals stay exact.
 */
struct fwd_ir;
enum fwd_ir_part { FWD_PART_BASE, FWD_PART_V4, FWD_PART_V6, FWD_PART_COUNT };
#define FWD_FAM_V4 1u
#define FWD_FAM_V6 2u
/* Entries of fwd_ir_part_rules that are the base chain's jumps. */
#define FWD_KJUMP4 (-1L)
#define FWD_KJUMP6 (-2L)
/* Whether c is split, and its head (rules [0, head)) and tail ([tail, n)). */
bool fwd_ir_chain_split(const struct fwd_ir_chain *c, size_t *head,
			size_t *tail);
/* The kernel name of part p of c ("input", "in4", "out6"); snprintf's. */
int fwd_ir_part_name(const struct fwd_ir_chain *c, enum fwd_ir_part p,
		     char *buf, size_t len);
/* FWD_FAM_V4 | FWD_FAM_V6: the families whose packets r can match. */
unsigned fwd_ir_rule_families(const struct fwd_ir *ir,
			      const struct fwd_ir_rule *r);
/* Whether r is in the kernel: none of its lookups is into an empty set.
 * empty: per set of ir, whether to take it as empty (NULL: sets[i].n ==
 * 0), for the layout a table had before a delta. */
bool fwd_ir_rule_live(const struct fwd_ir *ir, const struct fwd_ir_rule *r,
		      const bool *empty);
/* Part p's rules in the kernel's order: IR rule indices of c, and in the
 * base chain FWD_KJUMP4/6 for the jumps. Returns how many; out (when not
 * NULL) needs room for c->n + 2. */
size_t fwd_ir_part_rules(const struct fwd_ir *ir, const struct fwd_ir_chain *c,
			 enum fwd_ir_part p, const bool *empty, long *out);
/* Whether rule ri's copy in part p is its first (the one that shows the
 * IR rule's whole count where counts are not kept per copy). */
bool fwd_ir_rule_first_copy(const struct fwd_ir *ir,
			    const struct fwd_ir_chain *c, size_t ri,
			    enum fwd_ir_part p);

/*
 * The queue step at the end of the input chain (off unless the compiler
 * was asked for it, fwd_compile_opts): `ct state new` packets no rule
 * accepted or refused, just before the final log + drop, go to the
 * verdict loop on queues num .. num + total - 1 (the kernel picks one by
 * a hash of the address pair and protocol, nfqueue_hash: ports are not
 * in it, so a source always lands on the same queue, and the queues share
 * the load only when many sources knock). With `meter`, a per-source meter
 * comes first: a source sending more than rate/period_s new flows to
 * closed ports is dropped (and counted) in the kernel, not queued; IPv6
 * sources are metered per /64. The meter sets `meter4`/`meter6` are part
 * of the step (created by kmod-hooks with the chains: dynamic, element
 * timeout FWD_METER_TIMEOUT_S or 2 * period_s if longer, size
 * FWD_METER_SIZE; when full, new sources are not metered but queued).
 *
 * The queue verdict is terminal: a packet queued never reaches the log +
 * drop rules after it (the loop logs it). No bypass: while nobody binds
 * the queue, or it is full, the kernel drops queued packets.
 */
#define FWD_METER_SIZE 65535u
/*
 * The queue of `program =` rules (outbound.h): its own number, past the
 * guard's (0 .. 15, [defaults] queues), so the loop knows an outbound
 * program decision by the queue a packet arrives on, and a [guard] with
 * more queues can never balance inbound packets onto it. With
 * fwd_compile_opts.prog_queues > 1 it is the first of that many, chosen
 * by the CPU the packet was queued on (cpu fanout): the daemon runs one
 * worker per queue on that CPU, so a program decision and the SYN's
 * reinjection happen where the client's connect() queued it, without a
 * wake-up across CPUs (bench/README.md, outbound.sh: fwd's CPU per
 * decision is about a third on the same CPU of what it is on another).
 */
#define FWD_PROG_QUEUE 16u
#define FWD_PROG_QUEUES_MAX 16u
#define FWD_METER_TIMEOUT_S 60u
struct fwd_ir_queue {
	bool on;
	bool native;		/* nft `queue` (nft_queue); else xt NFQUEUE v3 */
	uint16_t num;		/* first queue */
	uint16_t total;		/* queues (>= 1) */
	/* total > 1: by the CPU that queues (cpu fanout), not by the
	 * flow's hash (only the program queue; queue num + cpu % total) */
	bool fanout;
	bool meter;
	uint32_t rate;		/* packets per period_s from one source */
	uint32_t period_s;	/* 1, 60, 3600, 86400 or 604800 (nft units) */
	uint32_t burst;		/* packets above the rate before it bites */
};

/*
 * A restricted class (policy.h, fwd_restrict): every allow with the same
 * direction, interface and limit shares two interval sets, sets[set4] and
 * sets[set6] (named "cls<k>_4"/"cls<k>_6", key saddr|daddr . l4proto .
 * dport; `any` is 0.0.0.0/0 and ::/0), after the FWD_SET_COUNT fixed
 * ones. In the chain, after the shared allowlists (a source they accept
 * is accepted whatever the class says), per family:
 *   [iifname X] ip saddr . meta l4proto . th dport @cls0_4
 *       update @cls0_m4 { ip saddr limit rate over R/U burst N packets }
 *       counter drop                                     (limit only)
 *   [iifname X] ip saddr . meta l4proto . th dport @cls0_4 counter accept
 * One set lookup still decides per class; a policy has a handful of
 * classes (one per interface and rate), not one per service. The limit
 * meter sets "cls<k>_m4"/"_m6" are the kernel's to fill, as the queue's
 * (dynamic, size FWD_METER_SIZE, element timeout fwd_ir_class_timeout),
 * created by kmod-hooks with set ids after the queue meters
 * (fwd_ir_class_meter_id). IPv6 sources are metered per /64, as the
 * guard's: one host has a /64 to pick addresses from.
 * The limit is a token bucket: N/WINDOW becomes the smallest nft unit
 * (second, minute, hour, day) in which the rate is at least 1, rounded
 * up, with a burst of N: N connections at once pass, the N+1st is
 * dropped, and one more is let through every WINDOW/N after.
 */
struct fwd_ir_class {
	char name[24];			/* "cls0" */
	bool out;			/* direction = out: oifname, daddr */
	char ifname[16];		/* "" = every interface */
	uint32_t limit_n, limit_w;	/* the policy's words; 0 = no limit */
	uint32_t rate, period_s, burst;	/* the kernel's limit */
	unsigned set4, set6;		/* in fwd_ir.sets */
	struct fwd_loc loc;		/* the first word that made it */
};

struct fwd_ir {
	struct fwd_ir_set *sets;
	size_t nsets;
	struct fwd_ir_chain *chains;
	size_t nchains;
	char **files;		/* the IR's own copies of the file names in locs */
	size_t nfiles;
	/*
	 * When the element timeouts stop being enough: the earliest end of a
	 * timed list-del after which a member comes back (unix seconds), or 0
	 * when the table stays exact as its elements expire. Whoever keeps the
	 * table recompiles at that moment and commits the delta.
	 */
	uint64_t recompile_at;
	struct fwd_ir_queue queue;	/* all zero: no queue step */
	/* The program rules' queue (outbound.h): on when the policy names a
	 * program; always FWD_PROG_QUEUE, one queue; its meter is per owner
	 * (FWD_M_PROG_METER, [defaults] program_limit), not per source. */
	struct fwd_ir_queue prog;
	/* The program rules the loop decides by, as text (progrule.h,
	 * fwd_progrules_text; NULL: none): kept with the IR, so that a last
	 * good policy from the state directory brings its rules along. */
	char *prog_text;
	struct fwd_ir_class *classes;	/* restricted allows (above) */
	size_t nclasses;
};

/* The queue a FWD_V_QUEUE_PROG rule sends to: ir->prog, or (an IR that
 * did not carry it, e.g. one read back from the state dir) the xt target
 * on FWD_PROG_QUEUE. */
static inline struct fwd_ir_queue fwd_ir_prog_queue(const struct fwd_ir *ir)
{
	if (ir->prog.on)
		return ir->prog;
	return (struct fwd_ir_queue){ .on = true, .num = FWD_PROG_QUEUE,
				      .total = 1 };
}

/* A class meter's element timeout: long enough for its bucket to fill
 * again (2 windows), at least FWD_METER_TIMEOUT_S. */
static inline uint32_t fwd_ir_class_timeout(const struct fwd_ir_class *k)
{
	return k->limit_w * 2 > FWD_METER_TIMEOUT_S ? k->limit_w * 2 :
	       FWD_METER_TIMEOUT_S;
}

/* The set id of class k's meter set (v6 or not) in a whole-table batch:
 * after the policy sets (1..nsets) and the queue's meters. */
static inline uint32_t fwd_ir_class_meter_id(const struct fwd_ir *ir,
					     size_t k, bool v6)
{
	return (uint32_t)(ir->nsets + 1 + (ir->queue.on && ir->queue.meter ? 2 : 0) +
			  2 * k + (v6 ? 1 : 0));
}

/* The set id of the program queue's meter `prog_meter` (a dynamic set
 * keyed by uid, size FWD_METER_SIZE, element timeout
 * fwd_ir_meter_timeout(&ir->prog)) in a whole-table batch: after the
 * classes' meters. */
static inline uint32_t fwd_ir_prog_meter_id(const struct fwd_ir *ir)
{
	return fwd_ir_class_meter_id(ir, ir->nclasses, false);
}

/* The program queue's meter sets (0 or 1). */
static inline unsigned fwd_ir_prog_meter_sets(const struct fwd_ir *ir)
{
	return ir->prog.on && ir->prog.meter ? 1 : 0;
}

/* How many meter sets the limited classes have (2 each). */
static inline size_t fwd_ir_class_meter_sets(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t k = 0; k < ir->nclasses; k++)
		n += ir->classes[k].limit_n ? 2 : 0;
	return n;
}

/* The shape the compiler gives fixed set i (fwd_ir_set_id): its name,
 * key and interval flag; NULL past them. And owner set i
 * (fwd_ir_owner_set_id, counted from FWD_SET_COUNT as the enum is; an
 * owner set is always an interval set). For the state file's decoder,
 * which refuses sets fwd would not have made in those places. */
const char *fwd_ir_fixed_set(unsigned i, enum fwd_ir_key *key, bool *interval);
const char *fwd_ir_owner_set(unsigned i, enum fwd_ir_key *key);

/* A class's kernel limit (rate per period_s, burst) for the policy's
 * N / WINDOW, as the compiler makes it (the state file's decoder checks
 * a class against it). */
void fwd_ir_limit_rate(uint32_t limit_n, uint32_t limit_w, uint32_t *rate,
		       uint32_t *period_s, uint32_t *burst);

/* The restricted class whose sets include set index i, or NULL. */
const struct fwd_ir_class *fwd_ir_class_of_set(const struct fwd_ir *ir,
					       unsigned i);
/* " on eth1 limit 6/30s" for class k ("" when neither). */
int fwd_ir_class_format(const struct fwd_ir_class *k, char *buf, size_t len);

/* The meters' element timeout in seconds (render.c). */
uint32_t fwd_ir_meter_timeout(const struct fwd_ir_queue *q);

/* The meter sets kmod-hooks creates for ir->queue (0 or 2). */
static inline unsigned fwd_ir_meter_sets(const struct fwd_ir *ir)
{
	return ir->queue.on && ir->queue.meter ? 2 : 0;
}

/* Options that depend on the kernel (from the probe); zero = conservative. */
/* A counter's values (a rule's, or a set element's). */
struct fwd_ir_count {
	uint64_t packets, bytes;
};

/*
 * Counter values to print instead of zeros (`fwctl show --nft`: what the
 * kernel holds). elem[i] (when elem and elem[i] are not NULL) runs beside
 * sets[i].elems; rule[c] beside chains[c].rules. The IR itself carries no
 * counts: they are the kernel's, and 1M elements need no 16 bytes more.
 * rule[c][i] is the whole IR rule's count: a rule in both family chains
 * (the open-port lookup in in4 and in6) has the sum of its two copies
 * there (stats' totals). part[p][c][i] (when part[p]
 * and part[p][c] are not NULL) is the count of its copy in part p of
 * chain c alone, zero where it has none: what each kernel chain holds,
 * so that show --nft prints every copy with its own count, as `nft list`
 * and stats' per-chain rows do. Without part, the sum is printed in the
 * first copy and the other copy prints zeros.
 */
struct fwd_ir_counts {
	struct fwd_ir_count **elem;	/* [nsets] */
	struct fwd_ir_count **rule;	/* [nchains] */
	struct fwd_ir_count **part[FWD_PART_COUNT];	/* [nchains] each */
	size_t nsets, nchains;
};

/*
 * The counter values of rule i of chain c in its copy in part p: that
 * kernel chain's own count when cn has it per part, else (a cn made by
 * hand, without part) the IR rule's whole count in its first copy; NULL
 * for zeros. What show --nft prints for each copy and what a replace
 * starts each copy from (kmod-hooks/linearize.c), so that every copy
 * keeps its own count and the sum over the copies stays what it was.
 */
const struct fwd_ir_count *fwd_ir_counts_part(const struct fwd_ir_counts *cn,
					      const struct fwd_ir *ir, size_t c,
					      enum fwd_ir_part p, size_t i);

struct fwd_cgroup_name {
	uint64_t id;
	char *path;
};

struct fwd_render_opts {
	unsigned table_flags;	/* NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, as applied */
	uint64_t now;		/* the clock for element timeouts; 0 = time() */
	/* NULL: rule counters print as 0 and elements without their own
	 * counter (fwd -n, golden files); else every counter with its
	 * values, the elements of a counter set each with theirs, as
	 * `nft list` prints them. */
	const struct fwd_ir_counts *counts;
	/* cgroup ids with their paths (sorted or not; a handful): an owner
	 * set's element whose cgroup is named here prints as nft prints a
	 * live cgroup, "system.slice/x.service", any other as its number
	 * (as nft does for a cgroup that is gone). NULL: numbers. */
	const struct fwd_cgroup_name *cgroups;
	size_t ncgroups;
};

/*
 * Build the table for a validated policy. Returns 0 with *out set, or
 * -EINVAL with a located message in d when the model is inconsistent (a
 * validated policy never is). Allocation failure aborts (util.h).
 * Interval sets are normalised: per protocol the port ranges are cut into
 * disjoint segments; in each segment every address gets the latest expiry
 * of the ranges covering it, and maximal runs of one expiry become
 * pieces; neighbouring segments with equal pieces are joined. Hash sets
 * keep one element per key at its latest expiry.
 * Cost O((n + k) log n) for n policy entries and k elements out.
 */
int fwd_compile(const struct fwd_policy *p, struct fwd_ir **out,
		struct fwd_diags *d);
/*
 * The same at a given time (unix seconds): live edits (policy.h, edit.h)
 * whose `expires` is not after `now` are left out; those in force give
 * their elements their `expires` (a timed list-add its member's, an allow
 * from a list the earlier of the edit's and the member's). fwd_compile uses
 * the clock. The kernel then expires elements by itself: the daemon needs
 * no timer to enforce, only fwd_ir.recompile_at (timed list-del) and
 * fwd_ir_next_expiry to tidy its own model.
 */
int fwd_compile_at(const struct fwd_policy *p, uint64_t now,
		   struct fwd_ir **out, struct fwd_diags *d);

/*
 * The address lists as the compiler makes them at `now` (what `fwctl list
 * show` prints): the files' members with fwctl's list add and list del in
 * force applied, lists that only list add makes included, in policy order.
 * Each member carries where it was written (a file's line, or the edit's:
 * file NULL for one made live), when its membership ends (0: never) and
 * whether the edit that made it is a --runtime one (not saved);
 * `removed` holds the addresses a list del in force took out (runtime:
 * that list del's). Names point into p. Allocation failure aborts. Free
 * with fwd_lists_view_free.
 */
struct fwd_list_member {
	struct fwd_addr addr;
	struct fwd_loc loc;
	uint64_t expires;
	bool runtime;
};
struct fwd_list_view {
	const char *name;
	struct fwd_list_member *m;
	size_t n;
	struct fwd_list_member *removed;	/* loc: the list del */
	size_t nremoved;
};
size_t fwd_lists_view(const struct fwd_policy *p, uint64_t now,
		      struct fwd_list_view **out);
void fwd_lists_view_free(struct fwd_list_view *v, size_t n);	/* accepts NULL */

/*
 * What the compiler gets besides the policy: what the kernel can do (from
 * the probe, which the compiler cannot run: it is pure), and for tests
 * and benchmarks an explicit queue step. All zero: what fwd_compile_at
 * builds. The queue step is, in this order:
 * - queue.on: exactly `queue` (tests, bench/);
 * - else a policy with [guard]: queues 0 .. [defaults] queues - 1, the
 *   flood meter from `flood` (none with `flood = off`), the native `queue`
 *   expression when native_queue, else the xt NFQUEUE target;
 * - else none (the table as it was before the guard existed).
 * A queue that cannot be expressed is -EINVAL with a message in d:
 * total 0, num + total beyond 65536, a meter rate of 0, a period nft has
 * no unit for.
 */
struct fwd_compile_opts {
	struct fwd_ir_queue queue;
	bool native_queue;	/* the kernel has nft_queue (fwd --probe) */
	/* The program queue's queues (FWD_PROG_QUEUE ..), by CPU: the
	 * daemon's workers, one per CPU (at most FWD_PROG_QUEUES_MAX).
	 * 0 or 1: one queue (fwd -n, fwctl check). */
	uint16_t prog_queues;
	/* `unit =` owners: the ids of their cgroups (outbound.h). NULL:
	 * units get no element (fwd -n). */
	int (*unit_id)(void *arg, const char *unit, uint64_t *id);
	void *unit_arg;
};
/* The queue step [guard] and [defaults] queues ask for (all zero without
 * [guard]): `flood = N / W` becomes `limit rate over` at the smallest nft
 * unit (second, minute, hour, day) with a rate of at least 1, rounded up,
 * burst N. */
void fwd_queue_from_policy(const struct fwd_policy *p, bool native,
			   struct fwd_ir_queue *q);
int fwd_compile_opts_at(const struct fwd_policy *p, uint64_t now,
			const struct fwd_compile_opts *o, struct fwd_ir **out,
			struct fwd_diags *d);
/* The earliest `expires` after `now` among the policy's edits, 0 if none. */
uint64_t fwd_ir_next_expiry(const struct fwd_policy *p, uint64_t now);
void fwd_ir_free(struct fwd_ir *ir);	/* accepts NULL */

/*
 * What a chain does with the first packet of a new connection: from
 * (input) or to (output) `addr` (family AF_INET/AF_INET6, network order,
 * 4 or 16 bytes), protocol `proto`, destination port `port`, not on
 * loopback. Walks the rules as the kernel would (conntrack state new, rate
 * limits passing) and says which one decides. Used by the daemon's lockout
 * guard and by `explain` answers. The packet is taken to come in on the
 * interface its route back leaves by: the reverse-path check (rpfilter)
 * passes it, since a probe names no interface. Linear in the elements of
 * the sets it looks into (binary search in hash sets).
 */
struct fwd_explain {
	enum fwd_ir_verdict verdict;	/* ACCEPT, DROP or a REJECT */
	bool by_policy;			/* no rule decided: the chain policy */
	size_t rule;			/* the deciding rule (when !by_policy) */
	int set;			/* set its lookup matched, or -1 */
	const struct fwd_ir_elem *elem;	/* that set's element, or NULL */
	struct fwd_loc loc;		/* elem's loc, else the rule's */
};
int fwd_ir_explain(const struct fwd_ir *ir, unsigned chain, int family,
		   const uint8_t addr[16], uint8_t proto, uint16_t port,
		   struct fwd_explain *out);
/* The same for a socket of a given owner (outbound.h): the owner sets
 * match only what `who` says (NULL: nothing). */
struct fwd_explain_who;
int fwd_ir_explain_who(const struct fwd_ir *ir, unsigned chain, int family,
		       const uint8_t addr[16], uint8_t proto, uint16_t port,
		       const struct fwd_explain_who *who,
		       struct fwd_explain *out);
/* Whether element e of s holds the key (addr as in fwd_ir_explain). */
/* The set order (above): address lo (all 16 bytes, zero-padded), proto,
 * port lo. Live elements read back compare the same way. */
int fwd_ir_elem_cmp(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b);

bool fwd_ir_elem_has(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		     const uint8_t addr[16], uint8_t proto, uint16_t port);

/* The set called `name`, or NULL. Index: the result minus ir->sets. */
struct fwd_ir_set *fwd_ir_set_find(const struct fwd_ir *ir, const char *name);
struct fwd_ir_chain *fwd_ir_chain_find(const struct fwd_ir *ir,
				       const char *name);

/* "ipv4_addr . inet_proto . inet_service", ... (nft type names). */
const char *fwd_ir_key_type(enum fwd_ir_key k);
/* Address bytes per key (4, 16, or 0 for FWD_KEY_PROTO_PORT). */
unsigned fwd_ir_key_addr_len(enum fwd_ir_key k);
/* Whether the key includes proto . port. */
bool fwd_ir_key_has_port(enum fwd_ir_key k);
/* Bytes of the owner field (uid 4, cgroupsv2 8), 0 for other keys. */
unsigned fwd_ir_key_id_len(enum fwd_ir_key k);

/*
 * One element as nft prints it ("192.0.2.0/24 . tcp . 22",
 * "10.0.0.1-10.0.0.5 . udp . 60000-61000", "tcp . 22"), for messages
 * such as "element ... (FILE:LINE) rejected by the kernel". Returns the
 * length snprintf would have written.
 */
int fwd_ir_elem_format(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		       char *buf, size_t len);

/*
 * The table in nft syntax, loadable by `nft -f` (used by -n and benches),
 * laid out as `nft list table` prints it: a table fwd loaded lists as this
 * text, except that nft orders hash-set elements its own way (the key read
 * as a little-endian number) where the render keeps key order. Table flags
 * owner/persist become a comment line: with `flags owner` nft -f would make
 * its own short-lived process the owner. Counters print as 0 unless
 * o->counts gives their values (then elements of a counter set print
 * theirs too, ` counter packets N bytes M` before the timeout). A timed
 * element prints ` timeout Ns`, the seconds it has left at o->now (at least
 * 1: nft refuses a zero timeout), which `nft -f` accepts; `nft list` adds
 * `expires ...` to it. One buffered pass; returns 0, -EIO when writing
 * fails, -EINVAL for a malformed IR.
 */
int fwd_ir_render(const struct fwd_ir *ir, const struct fwd_render_opts *o,
		  FILE *out);

/*
 * The difference between two IRs as set-element edits: what turns the
 * running table `old` into `new` without replacing it.
 *
 * For kmod-hooks (fwd_apply_delta), inside ONE transaction:
 * - send every set's dels before any add: an interval range that changed
 *   shape (10.0.0.0/24 became 10.0.0.0/23) is a del of the old piece and
 *   an add of the new, and pipapo refuses the add while the old one is
 *   still there;
 * - an element whose key is unchanged but whose expires differs is a del
 *   plus an add (the kernel cannot change a timeout in place); send the
 *   add with timeout expires - now (at least 1 s);
 * - a del of an element with expires != 0 may find it already gone (it
 *   timed out): delete those with NFT_MSG_DESTROYSETELEM (Linux 6.3+),
 *   or treat ENOENT on them as done;
 * - elements compare by key and expires only: loc is not the kernel's
 *   business, and a del/add lends its loc (pointing into old's / new's
 *   files) for messages, so the delta must not outlive either IR.
 */
struct fwd_ir_delta_set {
	unsigned set;			/* index into the NEW ir's sets */
	struct fwd_ir_elem *add;	/* sorted as the set's elems */
	size_t nadd;
	struct fwd_ir_elem *del;	/* sorted as the set's elems */
	size_t ndel;
};

struct fwd_ir_delta {
	/* Sets (names, keys, flags) or chains, rules, policies differ: the
	 * caller replaces the whole table. The element lists are still filled
	 * for every set of `new` whose name, key and flags `old` has too. */
	bool shape_changed;
	struct fwd_ir_delta_set *sets;	/* only sets with changes, by index */
	size_t nsets;
	size_t nadd, ndel;		/* totals */
};

/*
 * A sorted merge of both element arrays per set, O(n). `out` is zeroed and
 * filled. Returns 0, or -EINVAL when new is NULL; old NULL means an empty
 * start (shape_changed, every element an add). Allocation failure aborts
 * (util.h), so -ENOMEM never comes back.
 */
int fwd_ir_diff(const struct fwd_ir *old, const struct fwd_ir *new,
		struct fwd_ir_delta *out);
void fwd_ir_delta_free(struct fwd_ir_delta *d);	/* accepts NULL; zeroes */

/*
 * A deep copy: sets, chains and the IR's own file names (locs remapped).
 * Not for every live edit: at 100k elements the copy's page faults alone
 * cost 20-90 ms here. fwd_ir_fast_add works in place and changes nothing
 * when it refuses; when the kernel then refuses its delta,
 * fwd_ir_delta_undo takes it back.
 */
struct fwd_ir *fwd_ir_clone(const struct fwd_ir *ir);

struct fwd_edit;

/*
 * The fast path of a live addition: apply the edits p->edits[nedits-n ..
 * nedits) (`added`, already appended to p) to `ir` in place when that can
 * be done without the compiler, and fill `delta` with exactly what changed
 * (zeroed first). Returns 0, or -EAGAIN having changed NOTHING (ir and
 * delta as before) when any edit needs the full compiler.
 *
 * Done in place (a binary search and one insertion per element; the
 * deny sets, which stay small, are looked through):
 * - allow from a single host on a single port: the host set (hash), a new
 *   key or a later expiry for an existing one (a del and an add);
 * - deny from a single host on a single port: the deny set, when no
 *   element of that port holds or borders the address, and none of that
 *   address borders the port, with the same expiry (they would join);
 * - allow/deny from any (the open sets) and block ADDR|CIDR (block4/6):
 *   when the new range touches no element of the same expiry and crosses
 *   none, or lies inside one that expires no earlier (nothing changes);
 * - list-add of a host no other edit in force names for that list, to a
 *   list whose users (services, allow/deny edits) all name single ports.
 * Everything else is -EAGAIN: port ranges, CIDR peers, @list peers,
 * list-del, a crossed or joining neighbour, an interval element already
 * expired at `now` in the way, a key a list member's word shares with
 * another word as late (which one names it is a matter of policy order),
 * a malformed edit, an IR past its recompile_at. The result is what
 * fwd_compile_at(p, now) builds (loc included), apart from elements that
 * had already expired in `ir`.
 * `ir` must be what fwd_compile_at built for p without the added edits, at
 * `now` or before, possibly updated by earlier fast adds.
 */
int fwd_ir_fast_add(struct fwd_ir *ir, const struct fwd_policy *p,
		    const struct fwd_edit *added, size_t n, uint64_t now,
		    struct fwd_ir_delta *delta);

/*
 * Take back a delta that was applied to `ir` in place (fwd_ir_fast_add's,
 * when the kernel refused it): its adds come out, its dels go back in.
 * Returns 0, or -EINVAL having changed nothing when an add is not in ir.
 * File names the fast path interned stay (harmless).
 */
int fwd_ir_delta_undo(struct fwd_ir *ir, const struct fwd_ir_delta *d);

/* Lines of a list file that moved in a reload: every loc in `file` (the
 * IR's own name) at line >= from now says line + by. */
struct fwd_ir_shift {
	const char *file;
	unsigned from;
	int by;
};

struct fwd_ir_reload {
	struct fwd_ir_delta delta;	/* what the kernel must do */
	struct fwd_ir_shift *shifts;	/* locs that moved (no kernel part) */
	size_t nshifts;
	size_t words_removed, words_added;	/* for the log */
};

/*
 * The fast path of a reload (`fwctl reload`) when only list members
 * changed, such as a line edited in a 100k-line list file: patch `ir`
 * (what fwd_compile_at built for `old`, possibly updated by fast adds)
 * in place into what fwd_compile_at(new, now) builds, loc included, and
 * fill r with the element delta and the loc moves. Returns 0, or -EAGAIN
 * having changed NOTHING when the compiler is needed: anything but list
 * members differs (locs included), a changed member is a network or is
 * used on a port range or by a deny, a live list edit names a changed
 * host, another word makes the same key as a changed one, an element has
 * expired, past recompile_at, or more than 4096 words (member x use)
 * changed on either side (then the compiler is about as quick).
 * Costs a pass over the members and the elements, a binary search per
 * changed word, and two passes over each set it changes.
 */
int fwd_ir_fast_reload(struct fwd_ir *ir, const struct fwd_policy *old,
		       const struct fwd_policy *new, uint64_t now,
		       struct fwd_ir_reload *r);

/* Take back a fast reload the kernel refused: 0, or -EINVAL having
 * changed nothing when r does not fit ir. */
int fwd_ir_reload_undo(struct fwd_ir *ir, const struct fwd_ir_reload *r);
void fwd_ir_reload_free(struct fwd_ir_reload *r);	/* accepts NULL; zeroes */

#endif
