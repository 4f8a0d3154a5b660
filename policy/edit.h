/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_EDIT_H
#define FWD_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"
#include "util.h"	/* fwd_duration_parse, which edits share */

/*
 * Live edits: what `fwctl allow/deny/block/list add/list del` change. An
 * edit is data in the policy model (fwd_policy.edits), compiled together
 * with the hand-written services, so a live change and a reload go through
 * the same compiler and the kernel delta is computed from two IRs.
 *
 * Edits are ATOMIC: one port range x one peer each (fwctl expands
 * "allow 22/tcp,80/tcp from A B" into four), which keeps matching for
 * `remove`/`unblock`, expiry and persistence trivial.
 *
 * Persistent edits live in the one conf.d file fwd owns (FWD_EDITS_FILE),
 * as an [edits] section whose lines are the canonical words of each edit
 * (fwd_edit_format: KIND, " = ", the rest):
 *
 *   [edits]
 *   allow = 22/tcp from 203.0.113.7
 *   allow = 22/tcp from 203.0.113.8 until 1764412345
 *   deny = 80/tcp from 198.51.100.0/24
 *   block = 198.51.100.9 until 1764412345
 *   list-add = office 192.0.2.99
 *   list-del = office 192.0.2.7
 *   allow = 53/udp to any
 *
 * Outbound edits are written "to PEER"; "from PEER ... out" is read as the
 * same thing. `until` is absolute (unix seconds), so after a restart the
 * remaining time is still right; expired edits are kept in the model with
 * their expiry, ignored by the compiler and pruned by the daemon when it
 * next rewrites the file (fwd_edits_render_file leaves them out).
 */
#define FWD_EDITS_FILE "99-fwctl.conf"

enum fwd_edit_kind {
	FWD_EDIT_ALLOW,		/* ports from peer (any = from anywhere) */
	FWD_EDIT_DENY,		/* reject ports from peer, before the allowlists */
	FWD_EDIT_BLOCK,		/* drop everything from addr (block4/6 sets) */
	FWD_EDIT_LIST_ADD,	/* add addr to list NAME (created if missing) */
	FWD_EDIT_LIST_DEL,	/* remove addr from list NAME */
};

struct fwd_edit {
	enum fwd_edit_kind kind;
	enum fwd_dir dir;		/* ALLOW/DENY: in (default) or out */
	struct fwd_ports ports;		/* ALLOW/DENY */
	enum fwd_peer_kind peer;	/* ALLOW/DENY: ANY, ADDR or LIST */
	struct fwd_addr addr;		/* peer ADDR; BLOCK; LIST_ADD/DEL member */
	char list[33];			/* peer LIST name; LIST_ADD/DEL list name */
	uint64_t expires;		/* unix seconds; 0 = never */
	bool runtime;			/* not persisted (fwctl --runtime) */
	struct fwd_restrict rs;		/* ALLOW: on IFACE, limit N/WINDOW */
	struct fwd_loc loc;		/* [edits] line; file NULL for live ones */
};

/*
 * The latest `until` (2554-07-21T23:34:33Z). The kernel takes an element
 * timeout only below U64_MAX / NSEC_PER_MSEC milliseconds (18446744073709:
 * nf_msecs_to_jiffies64 refuses the rest with ERANGE), and fwd sends
 * `until` - now: an EPOCH of at most 18446744073 seconds is a timeout the
 * kernel takes at any `now`, so what `fwctl check` accepts, the kernel
 * does too.
 */
#define FWD_EDIT_EPOCH_MAX 18446744073ULL

/*
 * Parse the words of one or more edits, as typed after `fwctl`, kind first:
 *   allow PORTS [from PEER... | to PEER...] [for DURATION | until EPOCH]
 *   deny  PORTS [from PEER... | to PEER...] [for DURATION | until EPOCH]
 *   block ADDR... [for DURATION | until EPOCH]
 *   list-add NAME ADDR... [for DURATION | until EPOCH]
 *   list-del NAME ADDR... [for DURATION | until EPOCH]
 * "list add"/"list del" as two words are read as list-add/list-del. The
 * clauses of allow/deny may come in any order; a trailing word "out"
 * (anywhere after PORTS) makes "from PEER" mean a destination, as "to"
 * does. "from" omitted means any.
 * PORTS: as in a policy (22/tcp, 53 = tcp and udp, 60000-61000/udp, https
 * from opts->services_path or /etc/services), comma separated, and split
 * across words only at a comma ("22/tcp, 80/tcp" or "22/tcp ,80/tcp"): a
 * word after PORTS with no comma before it must be a keyword, so a typo
 * such as "form" is reported as one. PEER: any | ADDR | CIDR | @list,
 * IPv4 or IPv6, separated by spaces or commas. DURATION: 30s, 10m, 2h, 7d
 * or a combination with the units in that descending order (1h30m, 1d12h),
 * 1 s to 365 d. EPOCH: unix seconds, 1 to FWD_EDIT_EPOCH_MAX.
 *
 * Appends the expanded ATOMIC edits (PORTS x PEERs, port-major, each port
 * range one edit per protocol) to *out, reallocated to exactly *n + k
 * elements; *n updated. Every field of an appended edit the kind does not
 * use is zero; runtime is false and loc is {NULL, 0}. now: the clock for
 * "for DURATION". One call expands to at most FWD_EDIT_MAX edits. Linear
 * in the number of words.
 * Returns 0, or -EINVAL with ONE message in err, such as
 *   port 70000 is out of range (1-65535)
 *   '2001:db8::/129' is not an address: prefix length 129 is out of range
 *     for IPv6 (0-128)
 *   expected 'from', 'to', 'for' or 'until', got 'form'
 *   'for' needs a DURATION like 30s, 10m, 2h or 7d
 * and nothing appended (*out and *n untouched).
 */
#define FWD_EDIT_MAX 1000000

int fwd_edit_parse(int argc, const char *const *argv, uint64_t now,
		   const struct fwd_load_opts *opts, struct fwd_edit **out,
		   size_t *n, char *err, size_t errlen);

/* The same, and on an error *err_word gets the index in argv of the word
 * it is about (the word of the last token the parser took), or -1 when it
 * is about the command as a whole: callers that made argv from lines of
 * input (a batch on stdin) name the line with it. */
int fwd_edit_parse_at(int argc, const char *const *argv, uint64_t now,
		      const struct fwd_load_opts *opts, struct fwd_edit **out,
		      size_t *n, char *err, size_t errlen, int *err_word);

/*
 * The same with a batch: the first word "-" of argv stands for the lines
 * of `in` (inlen bytes, a request's stdin; NULL: no batch, "-" is a word
 * like any other). Each line is one word; '#' or ';' starts a comment that
 * runs to the end of its line (as in list files), so nothing after it is
 * read; blank lines are nothing. An error about a word of `in` names its
 * line, and a NUL byte is an error, not the end of the input:
 *   stdin:4: '198.51.100.300' is not an address: not an IPv4 or IPv6 address
 *   stdin:2: NUL byte in line (is this a text file?)
 * Nothing appended on any error. Linear in inlen.
 */
int fwd_edit_parse_batch(int argc, const char *const *argv, const void *in,
			 size_t inlen, uint64_t now, const struct fwd_load_opts *opts,
			 struct fwd_edit **out, size_t *n, char *err, size_t errlen);

/* The same, and a word that is no address but close to the name of a list
 * of `hints` (the running policy: its [list]s and list-add edits) is said
 * to be one: "'office' is not an address (did you mean '@office'?)".
 * hints NULL: fwd_edit_parse_batch. */
int fwd_edit_parse_batch_hints(int argc, const char *const *argv, const void *in,
			       size_t inlen, uint64_t now,
			       const struct fwd_load_opts *opts,
			       const struct fwd_policy *hints, struct fwd_edit **out,
			       size_t *n, char *err, size_t errlen);

/* The list of p (a [list] or one a list-add edit makes) whose name is
 * closest to s[0..n) (diag.h's fwd_suggest), or NULL: for "did you mean". */
const char *fwd_policy_suggest_list(const struct fwd_policy *p, const char *s,
				    size_t n);

/* PORTS alone, as `allow PORTS` reads them (one word, comma separated:
 * "22/tcp", "53" = tcp and udp, "https", "60000-61000/udp,443/tcp"): one
 * range and protocol per entry of *out (malloc'd, *n of them, locations
 * zero). For `fwctl explain`. 0, or -EINVAL with one message in err. */
int fwd_edit_parse_ports(const char *word, const struct fwd_load_opts *opts,
			 struct fwd_ports **out, size_t *n, char *err, size_t errlen);

/* The same with a ports parser the caller keeps across calls, so that a
 * services file is read once for many lines (the policy loader). Only its
 * services_path and database are used. */
struct fwd_ports_parser;
int fwd_edit_parse_with(int argc, const char *const *argv, uint64_t now,
			struct fwd_ports_parser *pp, struct fwd_edit **out,
			size_t *n, char *err, size_t errlen);

/*
 * The canonical words, which fwd_edit_parse reads back as the same edit:
 *   allow 22/tcp from 203.0.113.7 until 1764412345
 *   deny 60000-61000/udp from @office
 *   allow 53/udp to any
 *   block 198.51.100.0/24
 *   list-add office 2001:db8::9 until 1764412345
 * PORT is always one range with its protocol; "from"/"to" always written,
 * also for any; "until" only for timed edits. Everything after the kind is
 * the value of an [edits] line. snprintf-like: returns the length of the
 * whole text (at most FWD_EDIT_STRLEN - 1), writes what fits in len.
 */
#define FWD_EDIT_STRLEN 160

int fwd_edit_format(const struct fwd_edit *e, char *buf, size_t len);

/* Same kind, direction, ports, peer/addr and list: what `remove`, `unblock`
 * and `list del` match on (expiry and runtime are ignored). */
bool fwd_edit_same(const struct fwd_edit *a, const struct fwd_edit *b);
/* A hash that agrees with fwd_edit_same (equal edits, equal hashes), for
 * callers that match many edits against many. */
uint64_t fwd_edit_hash(const struct fwd_edit *e);

/*
 * Append a copy to p->edits (grown with p->edits_cap) after checking it
 * against p: every field in range for its kind, and a LIST peer naming a
 * list of the files or one a LIST_ADD edit in p->edits creates. A loc.file
 * that is not one of p->files is interned there, so the copy never points
 * into another policy. 0, or -EINVAL with one message in err.
 */
int fwd_policy_add_edit(struct fwd_policy *p, const struct fwd_edit *e,
			char *err, size_t errlen);
/* Remove p->edits[i], keeping order (O(nedits)). */
void fwd_policy_del_edit(struct fwd_policy *p, size_t i);

/*
 * Broad edits, which fwd carries out only when the request confirms them
 * (fwctl --yes, or the answer to fwctl's question on a terminal), whoever
 * sends it and wherever from: p holds the edits after the change, before
 * those before it. True, with a sentence in why, when the change
 *   - makes the live blocks cover all of IPv4 or of IPv6 (block 0.0.0.0/0,
 *     ::/0, or halves that together cover a family);
 *   - adds a deny from (or to) everyone: `any` or a /0;
 *   - leaves no way in for a new inbound connection where there was one
 *     ([defaults] inbound = allow, an inbound [service] with sources, or a
 *     live fwctl allow): the last inbound allow removed.
 */
bool fwd_edits_broad(const struct fwd_policy *p, const struct fwd_edit *before,
		     size_t nbefore, uint64_t now, char *why, size_t len);

/* The whole owned file: a header comment saying fwd writes it, then
 * [edits] with one line "KIND = WORDS" (< 199 bytes: inih's line limit)
 * per persistent (not runtime) edit not expired at `now`, in model order.
 * malloc'd; never NULL (OOM aborts). */
char *fwd_edits_render_file(const struct fwd_policy *p, uint64_t now);

#endif
