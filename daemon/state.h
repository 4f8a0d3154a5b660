/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_STATE_H
#define FWD_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "ir.h"

/*
 * The state directory keeps the last policy that applied cleanly, compiled
 * (the IR), so that a bad policy file at boot still brings up the last good
 * rules instead of an open host. Written temp + fsync + rename + fsync(dir):
 * a crash leaves the old file or the new one, never a torn one. A file that
 * fails its checksum or version check is refused as a whole.
 *
 * Trust: what is in the state directory decides what the kernel holds when
 * the policy files cannot, so fwd believes it only when nobody but fwd's own
 * user could have put it there. The directory must be a directory (not a
 * symlink) owned by fwd's effective uid with no access for group or others
 * (0700); each file a regular file (not a symlink, FIFO or device) owned by
 * the same uid and writable by nobody else. Files are opened O_NOFOLLOW |
 * O_NONBLOCK relative to the directory, so a FIFO planted there cannot hang
 * fwd before it is READY. Anything else is refused with -EPERM and the
 * reason in `why` (the caller logs it and falls back to what it can trust);
 * -ENOENT means there is nothing there, -EBADMSG a damaged file.
 */
#define FWD_STATE_LAST_GOOD "last-good.ir"

#define FWD_STATE_ROLLBACK "confirm-rollback.ir"
#define FWD_STATE_DEADLINE "confirm-deadline"

/* The longest `reload --confirm` (fwctl: 1-86400 s), plus a minute of
 * clock slack: a deadline further ahead than that was not written by fwd. */
#define FWD_STATE_DEADLINE_AHEAD_MAX (86400 + 60)

int fwd_state_save_ir(const char *dir, const struct fwd_ir *ir);
/* 0 and *out, -ENOENT if there is none, -EBADMSG if it is damaged. */
int fwd_state_load_ir(const char *dir, struct fwd_ir **out);
/* The same under another file name. Saving creates the directory (0700)
 * if it is missing, and refuses (-EPERM) one it cannot trust. */
int fwd_state_save_ir_as(const char *dir, const char *name, const struct fwd_ir *ir);
int fwd_state_load_ir_from(const char *dir, const char *name, struct fwd_ir **out);
/* The same, saying why a file was refused or damaged (`why` is always a
 * string; empty on success). */
int fwd_state_load_ir_why(const char *dir, const char *name, struct fwd_ir **out,
			  char *why, size_t whylen);

/*
 * The file format without the file (state.c has it), so that tests and
 * the fuzzer (tests/fuzz/fuzz-state.c) work on bytes; the save and the
 * load above are these plus the file.
 * fwd_state_encode_ir: the whole file for ir in *buf (malloc'd, *len
 * bytes); 0 (allocation failure aborts, util.h).
 * fwd_state_decode_ir: those bytes back: 0 and *out, or -EBADMSG with
 * *out NULL and the reason in `why` (always a string; empty on success).
 * Refused whole: a wrong magic, a version other than 3 or 4, a length or
 * checksum that does not match, a count that does not fit, an IR the
 * kernel side could not apply or would apply as something else.
 */
int fwd_state_encode_ir(const struct fwd_ir *ir, void **buf, size_t *len);
int fwd_state_decode_ir(const void *buf, size_t len, struct fwd_ir **out,
			char *why, size_t whylen);

/*
 * The confirm deadline (FWD_STATE_DEADLINE): decimal digits of a time in
 * seconds since the epoch, an optional newline, nothing else, and not
 * later than now + FWD_STATE_DEADLINE_AHEAD_MAX. 0 and *deadline;
 * -ENOENT; -EPERM (untrusted, see above); -EBADMSG (not such a time);
 * the reason in `why`.
 */
int fwd_state_load_deadline(const char *dir, long long now, long long *deadline,
			    char *why, size_t whylen);

/*
 * Does this IR accept every new inbound packet (input chain policy accept,
 * or an unconditional accept rule there)? A state file that does is never
 * applied without saying so (fwd.c, runtime.c).
 */
bool fwd_state_ir_input_open(const struct fwd_ir *ir);

/*
 * The state directory opened O_DIRECTORY | O_NOFOLLOW and checked as
 * above: an fd (the caller closes it) or -errno with the reason in `why`.
 * create: make it (0700) if it is missing.
 */
int fwd_state_dir_open(const char *dir, bool create, char *why, size_t whylen);

/*
 * Write buf to dir/name atomically: a new temp file with an unpredictable
 * name (O_CREAT | O_EXCL | O_NOFOLLOW, so nothing planted under any name is
 * followed or overwritten), mode `mode` less the umask, fsync, renameat
 * over the name (replacing whatever was there, a symlink included, never
 * writing through it), fsync of the directory. All relative to the
 * directory opened O_DIRECTORY | O_NOFOLLOW.
 */
int fwd_write_atomic(const char *dir, const char *name, const void *buf,
		     size_t len, unsigned mode);
/* The same into a directory the caller opened (and checked) itself. */
int fwd_write_atomic_at(int dfd, const char *name, const void *buf, size_t len,
			unsigned mode);

/*
 * The whole of a state file of at most max bytes, trusted as above (the
 * directory and the file checked, never through a symlink), NUL added:
 * 0, -ENOENT when it is not there, or -errno with the reason in `why`.
 */
int fwd_state_read_file(const char *dir, const char *name, size_t max,
			char **text, size_t *len, char *why, size_t whylen);

#endif
