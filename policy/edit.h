/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_EDIT_H
#define FWD_EDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy.h"

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
 * as an [edits] section whose lines are the canonical words of each edit:
 *
 *   [edits]
 *   allow = 22/tcp from 203.0.113.7
 *   allow = 22/tcp from 203.0.113.8 until 1764412345
 *   deny = 80/tcp from 198.51.100.0/24
 *   block = 198.51.100.9 until 1764412345
 *   list-add = office 192.0.2.99
 *   list-del = office 192.0.2.7
 *   allow = 53/udp from any out
 *
 * `until` is absolute (unix seconds), so after a restart the remaining
 * time is still right; expired edits are ignored by the compiler and pruned
 * by the daemon when it next rewrites the file.
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
	struct fwd_loc loc;		/* [edits] line; file NULL for live ones */
};

/*
 * Parse the words of one or more edits, as typed after `fwctl`:
 *   allow PORTS [from PEER...] [for DURATION | until EPOCH] [out]
 *   deny  PORTS [from PEER...] [for DURATION | until EPOCH] [out]
 *   block ADDR... [for DURATION | until EPOCH]
 *   list-add NAME ADDR...        (fwctl's "list add NAME ADDR...")
 *   list-del NAME ADDR...
 * PORTS: as in a policy (22/tcp, 53, 60000-61000/udp, https, comma
 * separated); PEER: any | ADDR | CIDR | @list. DURATION: 30s, 10m, 2h, 7d,
 * or combinations (1h30m). "from" omitted means any.
 * Appends the expanded atomic edits to *out (reallocated; *n updated).
 * now: the clock for "for DURATION". Returns 0, or -EINVAL with ONE clear
 * message in err ("bad port '70000' (1-65535)") and nothing appended.
 */
int fwd_edit_parse(int argc, const char *const *argv, uint64_t now,
		   const struct fwd_load_opts *opts, struct fwd_edit **out,
		   size_t *n, char *err, size_t errlen);

/* The canonical words: "allow 22/tcp from 203.0.113.7 until 1764412345".
 * Also the value of an [edits] line after "KIND = ". Returns bytes needed. */
int fwd_edit_format(const struct fwd_edit *e, char *buf, size_t len);

/* Same kind, direction, ports, peer/addr and list: what `remove`, `unblock`
 * and `list del` match on (expiry and runtime are ignored). */
bool fwd_edit_same(const struct fwd_edit *a, const struct fwd_edit *b);

/* Append a copy to p->edits after checking it against p (a LIST peer must
 * name an existing list or one a LIST_ADD edit creates). */
int fwd_policy_add_edit(struct fwd_policy *p, const struct fwd_edit *e,
			char *err, size_t errlen);
/* Remove p->edits[i], keeping order. */
void fwd_policy_del_edit(struct fwd_policy *p, size_t i);

/* The whole owned file: a header comment saying fwd writes it, then
 * [edits] with every persistent (not runtime) edit not expired at `now`. */
char *fwd_edits_render_file(const struct fwd_policy *p, uint64_t now);

#endif
