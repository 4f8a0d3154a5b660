/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_CGROUP_H
#define FWD_KMOD_CGROUP_H

/*
 * The cgroup2 side of `unit =` rules (policy/outbound.h): where the
 * unified hierarchy is mounted, and the id the kernel's `socket cgroupv2`
 * match compares (the cgroup directory's inode number) of a unit's cgroup
 * (<root>/system.slice/NAME and the other forms of fwd_unit_cgroup_path).
 *
 * The root is the first cgroup2 mount in /proc/self/mountinfo: systemd's
 * /sys/fs/cgroup (unified) or /sys/fs/cgroup/unified (hybrid); a cgroup
 * v1 host has none, and unit rules are then refused, never ignored.
 */

#include <stddef.h>
#include <stdint.h>

struct fwd_diags;
struct fwd_policy;

/* The cgroup2 mount point into buf: 0, -EOPNOTSUPP when there is none,
 * -errno when /proc/self/mountinfo cannot be read. */
int fwd_cgroup2_root(char *buf, size_t len);

/* The absolute path of a unit's cgroup (<root>/fwd_unit_cgroup_path),
 * whether it exists or not: 0, -EINVAL for a word that names no unit,
 * -EOPNOTSUPP without cgroup2, -ENAMETOOLONG. */
int fwd_cgroup_unit_path(const char *unit, char *buf, size_t len);

/* fwd_unit_id_fn (outbound.h): arg unused. 0 with *id (0: no such cgroup
 * now), -EOPNOTSUPP without cgroup2, -errno. */
int fwd_cgroup_unit_id(void *arg, const char *unit, uint64_t *id);

/*
 * The cgroups of p's units that exist now, each with its path as `nft
 * list` prints it (relative to /sys/fs/cgroup, so "unified/..." on a
 * hybrid host; relative to the cgroup2 root when it is mounted
 * elsewhere): what show --nft names an out_unit element by. 0 with
 * *out (NULL when there are none); free with fwd_cgroup_names_free.
 */
struct fwd_cgroup_name;
int fwd_cgroup_names(const struct fwd_policy *p, struct fwd_cgroup_name **out,
		     size_t *n);
void fwd_cgroup_names_free(struct fwd_cgroup_name *v, size_t n);

/* fwctl check: every `unit =` of p refused with its FILE:LINE when the
 * host has no cgroup2 hierarchy. 0 or -EOPNOTSUPP. */
int fwd_cgroup_check_units(const struct fwd_policy *p, struct fwd_diags *d);

#endif
