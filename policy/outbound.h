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
 * A unit is matched by the id of its own cgroup (fwd_unit_cgroup_path:
 * system.slice/NAME.service, system.slice/system-PREFIX.slice/PREFIX@INST
 * .service, or a cgroup path as written), which exists only while the unit
 * runs and is a new one at every start. `socket cgroupv2 level N` gives the
 * socket's ancestor at level N (a process in a sub-cgroup of the unit is
 * the unit's too), so the unit sets are looked up once per level that the
 * policy's units sit at, shallowest first; one set serves every level,
 * since a cgroup id names one cgroup (at one level) only. The compiler is
 * pure, so the daemon tells it the ids (fwd_unit_id_fn); a unit whose
 * cgroup does not exist has no element (nothing matches it), and the
 * daemon recompiles when the cgroup appears (daemon/cgwatch.c), which is
 * an element delta through the commit path.
 *
 * A user is matched by uid. A name is looked up in the user database when
 * the policy is read; one that is not there (yet) is a warning, not an
 * error (fwd_owner_warnings): its rules match nothing (uid FWD_UID_NONE,
 * no element) until the user exists, and the daemon looks the names up
 * again whenever /etc/passwd is replaced (daemon/pwwatch.c).
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
/* The deepest cgroup a `unit =` path may name (systemd nests a few deep). */
#define FWD_UNIT_MAX_LEVEL 32u
/* A unit's cgroup path, relative to the cgroup2 root, fits in this. */
#define FWD_UNIT_PATH_MAX 1024u

/* The uid of a user name not in the user database (yet): no element.
 * (uid_t)-1 is no uid to the kernel either; `user = 4294967295` is
 * refused by the parser. */
#define FWD_UID_NONE UINT32_MAX

/*
 * The cgroup of a `unit =` word (n bytes), relative to the cgroup2 root,
 * as systemd places it:
 *
 *   NAME.service          system.slice/NAME.service                  level 2
 *   PREFIX@INST.service   system.slice/system-PREFIX.slice/           level 3
 *                         PREFIX@INST.service (PREFIX escaped as systemd
 *                         names the slice: '-' is \x2d)
 *   A/B/.../NAME.service  the cgroup path itself, as `systemctl status`
 *                         prints it after CGroup: (a leading / is
 *                         dropped): a service with Slice=, a user's unit
 *                         (user.slice/user-1000.slice/user@1000.service/
 *                         app.slice/x.service)          level = its parts
 *
 * The word must end in .service (every part made of A-Z a-z 0-9 : _ . -
 * \ @, no empty, . or .. part, at most FWD_UNIT_MAX_LEVEL parts). Pure:
 * no file is looked at. 0 with buf (NUL-terminated) and *level; -EINVAL
 * with why (len bytes) saying what is wrong, the word quoted.
 */
int fwd_unit_cgroup_path(const char *unit, size_t n, char *buf, size_t len,
			 unsigned *level, char *why, size_t whylen);

/* Whether the running owners' words name a path component `name` (a
 * cgroup directory on the way to a unit of p, or the unit's own). */
bool fwd_policy_unit_component(const struct fwd_policy *p, const char *name);

/* Whether any service of p names owners (the table then ends with the
 * four owner sets, ir.h). */
bool fwd_policy_has_owners(const struct fwd_policy *p);
/* Whether any service of p names a program (the table then has six
 * owner sets, the last two out_prog4/6, and the program queue). */
bool fwd_policy_has_programs(const struct fwd_policy *p);
/* Whether any service of p names a unit. */
bool fwd_policy_has_units(const struct fwd_policy *p);

/* Whether any user = of p is a name (not a uid): what a change of the
 * user database can change. */
bool fwd_policy_has_user_names(const struct fwd_policy *p);

/* The located warnings of a valid policy (not errors: the policy applies):
 * user names not in the user database, whose rules match nothing yet. */
void fwd_owner_warnings(const struct fwd_policy *p, struct fwd_diags *w);

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
	unsigned cglevel;	/* its level (fwd_unit_cgroup_path); 0: any */
};

/* Whether set s (an owner set) holds the probe for who (explain). */
const struct fwd_ir_elem *fwd_owner_lookup(const struct fwd_ir_set *s,
					   const struct fwd_explain_who *who,
					   const uint8_t *addr, uint8_t proto,
					   uint16_t port);
/* The same for a rule's lookup at cgroup level `level` (the match's
 * u32): a unit set's lookup at another level than the unit's own looks
 * at another ancestor, which is never the unit (the kernel's view). */
const struct fwd_ir_elem *fwd_owner_lookup_at(const struct fwd_ir_set *s,
					      unsigned level,
					      const struct fwd_explain_who *who,
					      const uint8_t *addr, uint8_t proto,
					      uint16_t port);

#endif
