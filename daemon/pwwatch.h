/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_PWWATCH_H
#define FWD_PWWATCH_H

/*
 * The user database watcher (pwwatch.c): `user = NAME` rules match the
 * uid the name had when the policy was read, and a name not in the user
 * database yet matches nothing (outbound.h, FWD_UID_NONE). useradd,
 * userdel and usermod replace /etc/passwd (a new file renamed over it),
 * editors may write it in place: fwd watches /etc with inotify for
 * either, looks every user name of the running policy up again, and when
 * a uid changed commits the running policy through the one commit path
 * (FWD_SRC_UNITS: compile, element delta of out_user4/6), as the unit
 * watcher does for cgroups. Users from other sources (LDAP, systemd's
 * dynamic users) are looked up again at this moment and at every reload,
 * not when they change.
 */

struct fwd_ctx;
struct fwd_pwwatch;

/* 0 with *out, -errno (no inotify, no /etc). */
int fwd_pwwatch_open(struct fwd_pwwatch **out);
void fwd_pwwatch_free(struct fwd_pwwatch *w);	/* accepts NULL */
int fwd_pwwatch_fd(const struct fwd_pwwatch *w);	/* -1 for NULL */
/* The fd is readable: read every event; when /etc/passwd was replaced or
 * written, look the names up again and commit once if a uid changed.
 * Never fails the daemon: logs. */
void fwd_pwwatch_events(struct fwd_ctx *ctx);
/* Once the watch is set: catch a user made since the policy was read. */
void fwd_pwwatch_started(struct fwd_ctx *ctx);

#endif
