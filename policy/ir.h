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
 * Kept deliberately small: the table always has the same shape (same sets,
 * same chains, same rules) for a given [defaults]; a policy only changes the
 * set elements and the chain policies. Live edits are then element edits.
 */
#define FWD_TABLE_NAME "fwd_filter"

#include <stdbool.h>
#include <stdint.h>

/* What a set is keyed by (nft type names in comments). */
enum fwd_ir_key {
	FWD_KEY_ADDR4_PROTO_PORT,	/* ipv4_addr . inet_proto . inet_service */
	FWD_KEY_ADDR6_PROTO_PORT,	/* ipv6_addr . inet_proto . inet_service */
	FWD_KEY_PROTO_PORT,		/* inet_proto . inet_service */
	FWD_KEY_ADDR4,			/* ipv4_addr */
	FWD_KEY_ADDR6,			/* ipv6_addr */
};

/* One element: every field is an inclusive range; for a hash (non-interval)
 * set lo == hi in every field. Unused fields are zero. Addresses are in
 * network byte order (4 or 16 bytes used), ports in host order. */
struct fwd_ir_elem {
	uint8_t lo[16], hi[16];
	uint8_t proto;
	uint16_t plo, phi;
	struct fwd_loc loc;		/* the policy line this came from */
};

struct fwd_ir_set {
	char name[32];
	enum fwd_ir_key key;
	bool interval;			/* NFT_SET_INTERVAL (+ concat desc) */
	bool timeout;			/* NFT_SET_TIMEOUT: live timed edits */
	struct fwd_ir_elem *elems;	/* sorted, no two overlap */
	size_t n, cap;
};

enum fwd_ir_match_kind {
	FWD_M_IIF_LO,		/* iif "lo" */
	FWD_M_OIF_LO,		/* oif "lo" */
	FWD_M_CT_STATE,		/* ct state & u32 != 0 (NF_CT_STATE_BIT mask) */
	FWD_M_NFPROTO,		/* meta nfproto == u32 (NFPROTO_IPV4/IPV6) */
	FWD_M_L4PROTO,		/* meta l4proto == u32 */
	FWD_M_ICMP_TYPES,	/* icmp type in { types } (implies nfproto ipv4 + l4proto icmp) */
	FWD_M_ICMPV6_TYPES,	/* icmpv6 type in { types } */
	FWD_M_LOOKUP_SRC,	/* saddr [. l4proto . th dport] @set */
	FWD_M_LOOKUP_DST,	/* daddr [. l4proto . th dport] @set */
	FWD_M_LIMIT,		/* limit rate u32/second burst u32b packets */
};

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
};

#define FWD_IR_MAX_MATCH 4

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

struct fwd_ir {
	struct fwd_ir_set *sets;
	size_t nsets;
	struct fwd_ir_chain *chains;
	size_t nchains;
};

/* Options that depend on the kernel (from the probe); zero = conservative. */
struct fwd_render_opts {
	unsigned table_flags;	/* NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, as applied */
};

int fwd_compile(const struct fwd_policy *p, struct fwd_ir **out,
		struct fwd_diags *d);
void fwd_ir_free(struct fwd_ir *ir);	/* accepts NULL */

/* The table in nft syntax, loadable by `nft -f` (used by -n and benches). */
int fwd_ir_render(const struct fwd_ir *ir, const struct fwd_render_opts *o,
		  FILE *out);

#endif
