/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_PROGRULE_H
#define FWD_PROGRULE_H

/*
 * The verdict loop's program decision (outbound.h: `program =`): a packet
 * summary of the first packet of a new outbound flow queued on
 * FWD_PROG_QUEUE + who owns its socket -> accept, or drop and log.
 *
 * Identity is the (device, inode) a rule's path resolved to when the
 * policy was applied (fwd_progrules_new, called again on every reload):
 * a binary replaced on disk (a new inode) does not match until the next
 * reload resolves the path again; a binary renamed or hard-linked
 * elsewhere matches, since it is still the inode that was resolved; a
 * path that did not resolve matches nothing. The owner's identity is the
 * (st_dev, st_ino) of /proc/PID/exe's target.
 *
 * Pure: no syscalls (the resolver is the caller's), so it is unit-tested
 * without a kernel. Immutable once built: workers may share one.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

struct fwd_pkt;

struct fwd_prog_id {
	uint64_t dev, ino;
};

/* What a rule's path resolved to: 0 and *id, or -errno (not there, not
 * a regular file, ...). */
typedef int (*fwd_prog_resolve_fn)(void *arg, const char *path,
				   struct fwd_prog_id *id);

struct fwd_progrule {
	char *path;			/* as written */
	char *service;			/* the service's name */
	struct fwd_loc loc;		/* the program = word (own file copy) */
	int resolved;			/* 0, or the resolver's -errno */
	struct fwd_prog_id id;		/* when resolved == 0 */
	/* The service's destinations: ports, and addresses (any: none). */
	struct fwd_ports *ports;
	size_t nports;
	struct fwd_addr *addrs;
	size_t naddrs;
	bool any;
};

struct fwd_progrules {
	struct fwd_progrule *r;
	size_t n;
};

/* Every program = of p's outbound services, resolved. NULL resolver:
 * nothing resolves (fwd -n, tests of the unresolved case). Returns 0 (an
 * empty set when p names no program) or -ENOMEM. */
int fwd_progrules_new(const struct fwd_policy *p, fwd_prog_resolve_fn resolve,
		      void *arg, struct fwd_progrules **out);
void fwd_progrules_free(struct fwd_progrules *r);	/* accepts NULL */

/*
 * The rules as text, so that an IR carries them (fwd_ir.prog_text: a
 * last good policy applied from the state directory still decides its
 * program flows as it did; the loop builds its rules from it, never
 * from the model). One line per rule, seven blank-separated tokens:
 *   PATH FILE LINE SERVICE ANY PORTS ADDRS
 * each token %XX-escaped (bytes up to ' ', '%', DEL and above; "%" alone
 * is the empty string); ANY 0 or 1; PORTS proto:lo-hi[,...] and ADDRS
 * addr/prefix[,...], "%" when none. fwd_progrules_text: NULL when p
 * names no program. fwd_progrules_from_text: 0, or -EBADMSG (the whole
 * text refused, *out NULL) with the bad line's number in *bad_line.
 */
char *fwd_progrules_text(const struct fwd_policy *p);
int fwd_progrules_from_text(const char *text, fwd_prog_resolve_fn resolve,
			    void *arg, struct fwd_progrules **out,
			    unsigned *bad_line);

/* The socket's owner as the loop found it. */
struct fwd_prog_owner {
	bool known;		/* false: socket or process gone, not found */
	uint32_t pid, uid;
	struct fwd_prog_id exe;
};

enum fwd_prog_reason {
	FWD_PROG_ALLOWED,	/* accept: rule `rule` names the owner's binary */
	FWD_PROG_UNKNOWN_OWNER,	/* drop: no owner (a short-lived client) */
	FWD_PROG_NOT_ALLOWED,	/* drop: no program rule for this binary covers it */
};

struct fwd_prog_verdict {
	bool accept;
	enum fwd_prog_reason reason;
	/* ALLOWED: the rule that matched; NOT_ALLOWED: a rule that covers
	 * the destination (the one the owner would need), or -1. */
	long rule;
};

/* The decision for one queued packet (family, dst, proto, dport of pkt). */
void fwd_prog_decide(const struct fwd_progrules *r, const struct fwd_pkt *pkt,
		     const struct fwd_prog_owner *own,
		     struct fwd_prog_verdict *out);

/* "allowed", "unknown_owner", "not_allowed". */
const char *fwd_prog_reason_name(enum fwd_prog_reason r);

#endif
