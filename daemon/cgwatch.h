/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CGWATCH_H
#define FWD_CGWATCH_H

/*
 * The unit watcher (cgwatch.c): `unit =` rules match a unit's cgroup by
 * its id, and a unit's cgroup exists only while it runs (a new one, with
 * a new id, at every start). fwd watches, with inotify, the cgroup2 root
 * and every directory on the way to a unit's cgroup that the running
 * policy names (system.slice, system.slice/system-getty.slice,
 * user.slice/user-1000.slice/..., as far as they exist); when one of
 * them, or the unit's cgroup itself, appears or goes, it recompiles the
 * running policy through the one commit path (FWD_SRC_UNITS), which
 * reaches the kernel as an element delta of the out_unit sets. No reload
 * by hand, and no polling.
 */

#include <stdbool.h>
#include <stdint.h>

struct fwd_ctx;
struct fwd_cgwatch;

/* 0 with *out, -EOPNOTSUPP without a cgroup2 hierarchy, -errno. */
int fwd_cgwatch_open(struct fwd_cgwatch **out);
void fwd_cgwatch_free(struct fwd_cgwatch *w);	/* accepts NULL */
int fwd_cgwatch_fd(const struct fwd_cgwatch *w);	/* -1 for NULL */
/* fwd_unit_id_fn (outbound.h) for the compiler in the commit path: arg
 * the watcher (or NULL: no watch), the directories on the way to the
 * unit's cgroup watched before its id is read (fwd_cgroup_unit_id). */
int fwd_cgwatch_unit_id(void *arg, const char *unit, uint64_t *id);
/* The fd is readable: read every event, and commit once if a unit of the
 * running policy came or went. Never fails the daemon: logs. */
void fwd_cgwatch_events(struct fwd_ctx *ctx);
/* Once the watch is set: catch a unit started since the policy was
 * compiled. */
void fwd_cgwatch_started(struct fwd_ctx *ctx);

#endif
