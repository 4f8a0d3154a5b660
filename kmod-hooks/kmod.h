/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_H
#define FWD_KMOD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"

/* What the running kernel can do, found by one probe transaction that is
 * always rolled back (the probe never leaves anything in the kernel). */
struct fwd_features {
	bool nf_tables;		/* nfnetlink + nf_tables answer at all */
	bool inet_family;
	bool concat_interval;	/* concatenated interval (pipapo) sets */
	bool set_timeout;	/* element timeouts */
	bool native_queue;	/* nft "queue" expression (nft_queue) */
	bool xt_nfqueue;	/* xt NFQUEUE target rev 3 via nft_compat */
	bool conntrack;		/* ct expression */
	bool reject;		/* reject expression (inet) */
	bool log;		/* log expression */
	bool table_owner;	/* NFT_TABLE_F_OWNER */
	bool table_persist;	/* NFT_TABLE_F_PERSIST */
	bool destroy_setelem;	/* NFT_MSG_DESTROYSETELEM (6.3): delete if there */
	bool fib;		/* fib expression: [defaults] rpfilter strict/loose */
	bool ct_label;		/* ct label (conntrack labels): program = rules */
	char detail[512];	/* what failed and how, for humans */
};

int fwd_probe(struct fwd_features *f);
void fwd_features_print(const struct fwd_features *f, FILE *out, bool json);

/* A netlink socket to nf_tables. The daemon keeps one open for its whole
 * life: with the owner flag the table belongs to this socket. */
struct fwd_nl;
int fwd_nl_open(struct fwd_nl **out);
void fwd_nl_close(struct fwd_nl *nl);	/* accepts NULL */

/*
 * Replace the fwd table with the IR in ONE transaction (add table, delete
 * table, create table + sets + elements + chains + rules), drain every ACK,
 * and map a failing message back to the policy line it came from (appended
 * to d). Returns 0 once the kernel committed, -errno otherwise; on error the
 * kernel still holds whatever it held before.
 * Table flags: owner (+ persist) when the probe found them, unless
 * `no_owner` (used by --oneshot on kernels without persist).
 */
struct fwd_apply_opts {
	bool no_owner;
	bool no_flags;		/* neither owner nor persist (fwd --no-owner) */
	/* Start every counter at zero. Without it, the counters of rules
	 * and elements the new table keeps (fwd_live_counts: the same key in
	 * the same set, the same rule in the same kernel chain) go on from the
	 * running table's values, read back just before the replace; above
	 * 100k elements in counted sets they start at zero anyway (reading
	 * them back would cost more than the replace). */
	bool fresh_counters;
};
int fwd_apply(struct fwd_nl *nl, const struct fwd_ir *ir,
	      const struct fwd_features *f, const struct fwd_apply_opts *o,
	      struct fwd_diags *d);

/*
 * A live change: the element delta (policy/ir.h, fwd_ir_diff) that turns
 * the running table into `ir`, as ONE transaction: every set's deletes
 * first, then the adds (set names from ir->sets[delta->sets[i].set]).
 * Adds of elements with `expires` carry NFTA_SET_ELEM_TIMEOUT = expires -
 * now (ms); adds already expired are left out. Deletes go as
 * NFT_MSG_DESTROYSETELEM when f->destroy_setelem (the kernel may have
 * expired the element already: destroy does not mind). Without it (before
 * Linux 6.3) deletes of timed elements that expire within the next second
 * are left out, since a DELSETELEM of an element the kernel dropped fails
 * the whole transaction with ENOENT; a timed delete sent later than a
 * second before its expiry can still lose that race on a slow commit, and
 * then the caller gets -ENOENT and nothing changed (it may recompute and
 * try again). A delete left out this way is gone by itself a second later.
 * Errors name the element's FILE:LINE like fwd_apply. The shape (sets,
 * chains) must be unchanged: delta->shape_changed is -EINVAL. A set that
 * gains its first element or loses its last also rebuilds, in the same
 * transaction, the family chains whose rules that changes (policy/ir.h,
 * "The chains in the kernel"; delta.c), their rule counters carried.
 * 0 once committed, else -errno with d saying why; never half applied.
 */
int fwd_apply_delta(struct fwd_nl *nl, const struct fwd_ir *ir,
		    const struct fwd_ir_delta *delta,
		    const struct fwd_features *f, struct fwd_diags *d);

/*
 * For tests of netlink trouble: fix the socket's send and receive buffers
 * (bytes; 0 keeps the kernel default) and never grow them, so that a big
 * batch meets EMSGSIZE and its answers ENOBUFS.
 */
void fwd_nl_pin_bufs(struct fwd_nl *nl, int sndbuf, int rcvbuf);

/* What went wrong on the socket and was survived (for status and tests). */
struct fwd_nl_stats {
	unsigned lost;		/* transactions whose answers overran (ENOBUFS) */
	unsigned checked;	/* ... after which the table was read back */
	unsigned resent;	/* ... and sent again with one answer asked for */
	/*
	 * The last replace that carried counters over (fwd_apply without
	 * fresh_counters, on a table that was there), in microseconds of
	 * CLOCK_MONOTONIC: the read of the running table's counters (the
	 * element dump, each counter read as its part of the dump comes,
	 * then the rules, read last), the build of the transaction, and its
	 * send up to the kernel's answer to the commit. What the old table
	 * counts after its counters were read and before the commit is
	 * lost: for an element up to read + build + commit (the first one
	 * read), at least build + commit; for a rule build + commit and the
	 * few ms of reading the rules.
	 */
	uint64_t carry_read_us, carry_build_us, carry_commit_us;
	uint64_t carry_rules_us;	/* the rules' read alone (in carry_read_us) */
};
void fwd_nl_get_stats(const struct fwd_nl *nl, struct fwd_nl_stats *out);

/* Table flags fwd_apply would use with these features/options. */
unsigned fwd_table_flags(const struct fwd_features *f,
			 const struct fwd_apply_opts *o);

/* The netlink port id of the socket: the owner of tables it created. */
uint32_t fwd_nl_portid(const struct fwd_nl *nl);

/* The ruleset generation the last commit through this socket made (0:
 * none yet). Exact: every transaction names the generation it expects
 * (NFNL_BATCH_GENID; the kernel refuses it if another commit came first,
 * and fwd asks again), so the new one is that plus one. */
uint32_t fwd_nl_generation(const struct fwd_nl *nl);

/*
 * Reading the live table back (tests, `fwctl show`). Elements come back in
 * the IR's format and order (sorted by key, ranges as lo..hi; loc is zero),
 * whatever the set's backend stores: for an rbtree interval set the start
 * and end elements are paired again. An element with a timeout has
 * `expires` = now + the kernel's remaining time (NFTA_SET_ELEM_EXPIRATION),
 * rounded to the second: the absolute time it goes, so that a restarted
 * daemon knows what is left.
 */
struct fwd_live_elem_counter {
	uint64_t packets, bytes;
};

struct fwd_live_set {
	char name[32];
	uint32_t flags;			/* NFT_SET_* as the kernel has them */
	uint32_t key_type, key_len;
	bool key_known;			/* key_type/len are one of enum fwd_ir_key */
	enum fwd_ir_key key;
	bool interval, timeout;
	bool counter;			/* the set has a counter expression */
	size_t nkernel;			/* elements as the kernel stores them */
	struct fwd_ir_elem *elems;
	/* counters[i]: elems[i]'s counter (NFTA_SET_ELEM_EXPR(ESSIONS));
	 * zero for an element without one. Allocated with elems. */
	struct fwd_live_elem_counter *counters;
	size_t n, cap;
};

/* A rule's counter, named by the set its lookup uses ("" if none). */
struct fwd_live_counter {
	char set[32];
	size_t rule;			/* index of the rule in its chain */
	uint64_t packets, bytes;
};

struct fwd_live_chain {
	char name[32];
	char type[16];			/* "filter"; "" for a regular chain */
	bool base;
	unsigned hook;
	int prio;
	bool policy_accept;
	size_t nrules;
	struct fwd_live_counter *counters;	/* rules with a counter, in order */
	size_t ncounters, ccap;
};

struct fwd_live_table {
	uint32_t flags;			/* NFT_TABLE_F_* */
	uint32_t owner;			/* owning port id, 0 = none */
	size_t nanon;			/* anonymous sets (not in sets[]) */
	size_t nrules;
	struct fwd_live_set *sets;
	size_t nsets;
	struct fwd_live_chain *chains;
	size_t nchains;
};

/* Table `name` of family inet (NULL: FWD_TABLE_NAME). 0, -ENOENT when the
 * table does not exist, or another -errno. One ruleset, never two: the read
 * is taken between two quiet points (nlsock.h) and taken again when a
 * commit came in between; -EAGAIN when that happened 20 times in a row. */
int fwd_live_read(struct fwd_nl *nl, const char *name,
		  struct fwd_live_table **out);
void fwd_live_free(struct fwd_live_table *t);	/* accepts NULL */
const struct fwd_live_set *fwd_live_set_find(const struct fwd_live_table *t,
					     const char *name);
const struct fwd_live_chain *fwd_live_chain_find(const struct fwd_live_table *t,
						 const char *name);

/*
 * The live table as an IR shaped like `tmpl` (the IR that was applied): the
 * template's chains and rules, each chain's policy and each set's elements
 * and flags as the kernel has them. For rendering what the kernel holds
 * (`fwctl show`). -EPROTO when the kernel lacks a set or chain of the
 * template or keys it differently. Free with fwd_ir_free.
 */
int fwd_live_to_ir(const struct fwd_live_table *t, const struct fwd_ir *tmpl,
		   struct fwd_ir **out);

/*
 * The live table's counters beside `ir`'s elements and rules, for
 * fwd_ir_render (show --nft: ir made by fwd_live_to_ir from t) and for a
 * replace that keeps them (fwd_apply_opts.counts). An element gets the
 * counter of the live element with the same key in the set of the same
 * name (none: zeros); a rule the counter of the same rule in the kernel
 * chain of the same name (in4, in6, input, ...), a rule being known by
 * the set its counter is named by (its lookup's, a meter rule's meter set,
 * none) and its order among the chain's counters of that set: the k-th
 * counter of @allow4_net in in4 is the k-th IR counter rule of allow4_net
 * that in4 can hold, whichever rules into empty sets either table left
 * out (a set that gains its first element in a replace costs the chain's
 * other rules nothing); a set whose number of counted rules in the chain
 * differs starts from zero. A rule in both family chains gets the sum of
 * its copies, and in part[] each copy's own (ir.h). elem[i] is NULL for a
 * set without counters. Free with fwd_ir_counts_free.
 */
struct fwd_ir_counts *fwd_live_counts(const struct fwd_live_table *t,
				      const struct fwd_ir *ir);
void fwd_ir_counts_free(struct fwd_ir_counts *c);	/* accepts NULL */

/*
 * Whether the live table holds `ir`: the same sets with the same elements
 * (those not yet expired), the same base chains with the same policies and
 * rule counts. What the table guard asks after FWD_MON_LOST before it
 * restores anything. 0 with *same set, or -errno (absent table: 0, false).
 */
int fwd_live_matches(struct fwd_nl *nl, const struct fwd_ir *ir, bool *same);

/* Whether inet table `name` (NULL: FWD_TABLE_NAME) exists, with its flags
 * and owner port id (0 = none). 0 or -errno (absent is not an error). */
int fwd_live_table_info(struct fwd_nl *nl, const char *name, bool *exists,
			uint32_t *flags, uint32_t *owner);

/* ---- conntrack ------------------------------------------------------ */

struct fwd_edit;

/*
 * End the tracked connections an edit covers (fwctl remove --kill-states,
 * block), in the caller's network namespace: a ctnetlink dump, then for
 * each match its local TCP socket destroyed (sock_diag SOCK_DESTROY, as
 * `ss -K`: the application sees ECONNABORTED, the peer a RST; otherwise
 * the next segment this host sends would bring the connection back as
 * established) and its entry deleted (IPCTNL_MSG_CT_DELETE by original
 * tuple, zone and id: an entry recycled meanwhile is left alone). A UDP
 * flow only loses its entry: a reply the local side sends later opens it
 * again (a server's UDP socket serves everyone and is not destroyed).
 * What matches, by the original direction (who opened the connection):
 * - allow/deny, direction in: source inside the edit's address (any peer:
 *   any source), its protocol, destination port inside its range, and
 *   the destination one of this host's addresses;
 * - allow/deny, direction out: destination inside the address, protocol,
 *   destination port, and the source this host;
 * - block: source or destination inside the address, any protocol;
 * - list-add/list-del: source inside the member address, destination this
 *   host (whatever service: a superset of what the list allowed).
 * A peer @list is -EINVAL: the caller expands it into one edit per member.
 * *killed counts the entries deleted. 0 or -errno.
 */
int fwd_ct_kill_edit(const struct fwd_edit *e, unsigned *killed);

/* Delete fwd's table (fwctl disable): 0 also when it is already gone. */
int fwd_table_delete(struct fwd_nl *nl, struct fwd_diags *d);

/* ---- the table guard: nf_tables events ---------------------------- */

/*
 * A socket on the NFNLGRP_NFTABLES multicast group that reports changes to
 * inet fwd_filter made by anyone but fwd itself. The kernel stamps every
 * event of a commit with the committing socket's port id (nlmsg_pid) and
 * ends each commit with a NEWGEN event carrying the new generation id and
 * the committing process's pid and name (NFTA_GEN_PROC_PID/_NAME): events
 * from `our_portid` are dropped; the others are held until their NEWGEN
 * and come out with who made them. Consecutive events of one kind on one
 * object (a flush deleting 5000 elements) fold into one with a count.
 */
enum fwd_monitor_kind {
	FWD_MON_NEWTABLE, FWD_MON_DELTABLE,
	FWD_MON_NEWCHAIN, FWD_MON_DELCHAIN,
	FWD_MON_NEWRULE, FWD_MON_DELRULE,
	FWD_MON_NEWSET, FWD_MON_DELSET,
	FWD_MON_NEWSETELEM, FWD_MON_DELSETELEM,
	FWD_MON_OTHER,		/* objects, flowtables: not fwd's, but in its table */
	/* Events were lost (the socket's buffer overran: ENOBUFS), or a
	 * read failed: something may have changed; read the table back. */
	FWD_MON_LOST,
};

struct fwd_monitor_event {
	enum fwd_monitor_kind kind;
	char object[64];	/* chain or set name ("" for the table) */
	unsigned count;		/* events folded into this one (elements, rules) */
	uint32_t portid;	/* committing socket; 0 = the kernel itself */
	uint32_t gen;		/* generation the commit made (0 if unknown) */
	uint32_t pid;		/* committing process (0 if unknown) */
	char comm[16];		/* its name ("" if unknown) */
};

struct fwd_monitor;
/* 0 or -errno. The socket is non-blocking with a large receive buffer. */
int fwd_monitor_open(struct fwd_monitor **m, uint32_t our_portid);
int fwd_monitor_fd(const struct fwd_monitor *m);	/* for poll() */
/*
 * Tell the monitor which socket fwd commits through (the one whose port
 * id it was opened with). Then (1) fwd_apply and fwd_apply_delta stop it
 * listening around a big transaction (over 256 KiB: the kernel builds one
 * event per element only while someone listens, which made a 1M-element
 * apply several times slower and overran the monitor anyway), and (2)
 * after an overrun or such a pause the monitor compares the generations
 * that went by with those fwd's own commits made: FWD_MON_LOST is only
 * reported when some other commit is among them.
 */
void fwd_monitor_attach(struct fwd_monitor *m, struct fwd_nl *nl);
/*
 * Read what the socket holds (never blocks) and hand out up to `max`
 * events (*n of them; more wait for the next call). 0 or -errno; ENOBUFS
 * is not an error but a FWD_MON_LOST event, handed out once the socket
 * has been read empty (from then on nothing is missed).
 * Unattached (fwd_monitor_attach), FWD_MON_LOST does not mean someone
 * else changed the table: fwd's own apply of some 200k elements or more
 * overruns the 32 MiB the kernel grants the socket by itself (one event
 * per element; measured in tests/check-monitor.c), and restoring on it
 * would re-apply, overrun again, and so on. Attached, it means a commit
 * that was not fwd's went by unseen (ev.gen: the generation now); the
 * table may or may not be touched (fwd_live_matches says, slowly for a
 * big table: the kernel's set dump is quadratic, 30 s at 1M elements).
 */
int fwd_monitor_read(struct fwd_monitor *m, struct fwd_monitor_event *ev,
		     size_t max, size_t *n);
void fwd_monitor_close(struct fwd_monitor *m);	/* accepts NULL */
/* "nft (pid 4242) deleted table inet fwd_filter", for the log. */
int fwd_monitor_event_format(const struct fwd_monitor_event *ev, char *buf,
			     size_t len);

/* ---- doctor: the other tables on the same hooks ------------------- */

struct fwd_doctor_table {
	uint8_t family;		/* NFPROTO_* */
	char name[64];
	uint32_t flags;		/* NFT_TABLE_F_* */
	uint32_t owner;		/* owning port id, 0 = none */
	bool ours;		/* inet fwd_filter */
	size_t nchains, nsets, nrules;
	bool xt;		/* rules use xtables compat (iptables-nft) */
	bool docker;		/* named docker*, or has DOCKER* chains */
};

struct fwd_doctor_chain {
	uint8_t family;
	char table[64];
	char name[64];
	char type[16];		/* filter, nat, route */
	unsigned hook;		/* NF_INET_* (NF_NETDEV_* for netdev) */
	int prio;
	bool policy_accept;
	char dev[32];		/* netdev/ingress: the device ("" otherwise) */
	size_t nrules;
	size_t ndrop;		/* rules whose verdict is drop or reject */
	bool ours;
};

struct fwd_doctor {
	struct fwd_doctor_table *tables;
	size_t ntables;
	struct fwd_doctor_chain *chains;	/* base chains only */
	size_t nchains;
	char legacy[256];	/* legacy iptables tables in use ("ip filter, ...") */
};

/* Every table of every family and every base chain, with rule counts.
 * 0 or -errno; free with fwd_doctor_free. */
int fwd_doctor_read(struct fwd_nl *nl, struct fwd_doctor **out);
void fwd_doctor_free(struct fwd_doctor *doc);	/* accepts NULL */

enum fwd_finding_level { FWD_FIND_INFO, FWD_FIND_WARN };
struct fwd_finding {
	enum fwd_finding_level level;
	char text[384];
};
/* What the listing means for fwd (pure: no kernel). *out is malloc'd;
 * returns the number of findings. */
size_t fwd_doctor_findings(const struct fwd_doctor *doc,
			   struct fwd_finding **out);
/*
 * The base chains of other tables that can overturn fwd's accept of a new
 * inbound connection of address family af (AF_INET, AF_INET6): on the
 * input hook a filter chain with policy drop or with rules that drop or
 * reject; on prerouting nat rules (a DNAT takes the connection elsewhere)
 * or drops; drops at ingress; legacy iptables tables (listed, not read).
 * The same facts as the findings (pure: no kernel); what `fwctl explain`
 * names. *out is malloc'd (NULL when none); returns how many.
 */
struct fwd_doctor_override {
	char table[160];	/* "table ip filter (iptables-nft)" */
	char chain[64];		/* "" for legacy iptables */
	const char *hook;	/* "input", "prerouting", "ingress" */
	int prio;
	char why[128];
};
size_t fwd_doctor_overrides(const struct fwd_doctor *doc, int af,
			    struct fwd_doctor_override **out);
/* The listing and the findings, for humans or as JSON. */
void fwd_doctor_print(const struct fwd_doctor *doc, FILE *out, bool json);

#endif
