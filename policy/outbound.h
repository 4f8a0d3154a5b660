/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_OUTBOUND_H
#define FWD_OUTBOUND_H

/*
 * Outbound rules by owner (outbound.c): a direction = out service with
 * `user =` or `unit =` allows its destinations and ports only to sockets
 * of those owners. Both are kernel matches, no userspace per packet:
 *
 *   user = NAME|UID     meta skuid . ip daddr . meta l4proto . th dport @out_user4
 *   unit = NAME.service socket cgroupv2 level 2 . ip daddr ... @out_unit4
 *
 * (and the ip6 twins), in the output chain after the plain allow lookups,
 * before the final log and drop; only when `outbound` is not allow (with
 * outbound = allow every flow is allowed anyway). A service's owners are
 * alternatives: any one of them opens its flows. The service's entries go
 * only to the owner sets, never to the plain out_allow sets.
 *
 *   program = PATH      ct state new ip daddr . meta l4proto . th dport @out_prog4
 *                       queue num FWD_PROG_QUEUE (ir.h), no bypass
 *
 * A program cannot be told in the kernel: its service's destinations go
 * to out_prog4/6 (no owner field), after the user and unit lookups, and
 * the first packet of a new flow there is queued to the verdict loop,
 * whose decision (progrule.h) finds the socket's process and compares its
 * executable by (device, inode) with the paths resolved when the policy
 * was applied. Only that first packet leaves the kernel: once accepted,
 * the flow is ct established and the established rule takes the rest.
 * Nobody on the queue: the kernel drops (fail closed); user and unit
 * rules, decided before the queue, keep working.
 *
 * A unit is matched by the id of its cgroup, <cgroup2 root>/system.slice/
 * NAME (a level 2 cgroup), which exists only while the unit runs and is a
 * new one at every start. The compiler is pure, so the daemon tells it the
 * ids (fwd_unit_id_fn); a unit whose cgroup does not exist has no element
 * (nothing matches it), and the daemon recompiles when the cgroup appears
 * (daemon/cgwatch.c), which is an element delta through the commit path.
 */

#include <stdbool.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"
#include "policy.h"

/*
 * The cgroup id of a unit's cgroup (its inode number in the cgroup2
 * hierarchy): 0 with *id set (0 when it does not exist yet), -EOPNOTSUPP
 * when the host has no cgroup2 hierarchy (cgroup v1), another -errno when
 * it cannot be told.
 */
typedef int (*fwd_unit_id_fn)(void *arg, const char *unit, uint64_t *id);

/* The cgroup level of system.slice/NAME.service (the root is level 0). */
#define FWD_UNIT_CGROUP_LEVEL 2u

/* Whether any service of p names owners (the table then ends with the
 * four owner sets, ir.h). */
bool fwd_policy_has_owners(const struct fwd_policy *p);
/* Whether any service of p names a program (the table then has six
 * owner sets, the last two out_prog4/6, and the program queue). */
bool fwd_policy_has_programs(const struct fwd_policy *p);
/* Whether any service of p names a unit. */
bool fwd_policy_has_units(const struct fwd_policy *p);

/* Whether two services name the same owners at the same lines. */
bool fwd_owners_eq(const struct fwd_service *a, const struct fwd_service *b);

/*
 * Add the owner sets and their rules to an IR the compiler built from p
 * (compile.c calls it last). unit_id NULL: units get no element (`fwd
 * -n`, tests). Returns 0, or -EINVAL / the resolver's error with a
 * message naming the owner's line in d.
 */
int fwd_outbound_compile(const struct fwd_policy *p, struct fwd_ir *ir,
			 fwd_unit_id_fn unit_id, void *unit_arg,
			 struct fwd_diags *d);

/* A probe's owner for fwd_ir_explain_who: what `fwctl explain --user U`
 * or `--unit NAME` says the socket belongs to. */
struct fwd_explain_who {
	bool has_uid;
	uint32_t uid;
	uint64_t cgroup;	/* the unit's cgroup id; 0: none */
};

/* Whether set s (an owner set) holds the probe for who (explain). */
const struct fwd_ir_elem *fwd_owner_lookup(const struct fwd_ir_set *s,
					   const struct fwd_explain_who *who,
					   const uint8_t *addr, uint8_t proto,
					   uint16_t port);

#endif
