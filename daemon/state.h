/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_STATE_H
#define FWD_STATE_H

#include "ir.h"

/*
 * The state directory keeps the last policy that applied cleanly, compiled
 * (the IR), so that a bad policy file at boot still brings up the last good
 * rules instead of an open host. Written temp + fsync + rename + fsync(dir):
 * a crash leaves the old file or the new one, never a torn one. A file that
 * fails its checksum or version check is refused as a whole.
 */
#define FWD_STATE_LAST_GOOD "last-good.ir"

#define FWD_STATE_ROLLBACK "confirm-rollback.ir"
#define FWD_STATE_DEADLINE "confirm-deadline"

int fwd_state_save_ir(const char *dir, const struct fwd_ir *ir);
/* 0 and *out, -ENOENT if there is none, -EBADMSG if it is damaged. */
int fwd_state_load_ir(const char *dir, struct fwd_ir **out);
/* The same under another file name. */
int fwd_state_save_ir_as(const char *dir, const char *name, const struct fwd_ir *ir);
int fwd_state_load_ir_from(const char *dir, const char *name, struct fwd_ir **out);

/*
 * Write buf to dir/name atomically: a new temp file with an unpredictable
 * name (O_CREAT | O_EXCL | O_NOFOLLOW, so nothing planted under any name is
 * followed or overwritten), mode `mode` less the umask, fsync, renameat over the
 * name (replacing whatever was there, a symlink included, never writing
 * through it), fsync of the directory. All relative to the directory
 * opened O_DIRECTORY | O_NOFOLLOW.
 */
int fwd_write_atomic(const char *dir, const char *name, const void *buf,
		     size_t len, unsigned mode);


#endif
