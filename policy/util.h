/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_UTIL_H
#define FWD_UTIL_H

#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The project's one out-of-memory policy: allocation failure aborts.
 *
 * fwd runs on machines it protects; a half-built policy or IR is worse than
 * a crash (the kernel keeps the committed table when the daemon dies, and
 * systemd restarts it), and threading ENOMEM through every small append
 * would add error paths that are never exercised. So every allocation in
 * library code goes through these helpers, which print one line to stderr
 * and abort() when malloc fails. Nothing else in a library path exits.
 */
/* The attributes tell the compiler the sizes, so its bounds checks see
 * through the helpers, and that NULL never comes back. */
void *fwd_xmalloc(size_t n)
	__attribute__((malloc, alloc_size(1), returns_nonnull));
void *fwd_xcalloc(size_t n, size_t size)
	__attribute__((malloc, alloc_size(1, 2), returns_nonnull));
void *fwd_xrealloc(void *p, size_t n)
	__attribute__((alloc_size(2), returns_nonnull));
/* realloc for arrays: n * size, aborting on overflow as well. */
void *fwd_xreallocarray(void *p, size_t n, size_t size)
	__attribute__((alloc_size(2, 3), returns_nonnull));
char *fwd_xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *fwd_xstrndup(const char *s, size_t n)
	__attribute__((malloc, returns_nonnull));
char *fwd_xvasprintf(const char *fmt, va_list ap)
	__attribute__((format(printf, 1, 0)));
char *fwd_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Grow an array so that it holds at least `need` elements: capacity doubles,
 * so appending n elements one at a time costs O(n) in total.
 */
void fwd_grow(void **v, size_t *cap, size_t need, size_t size);
#define FWD_GROW(v, cap, need) \
	fwd_grow((void **)&(v), &(cap), (need), sizeof(*(v)))

/*
 * Read a whole file into a malloc'd buffer with a NUL after the last byte
 * (the content may hold NULs of its own: use *len). 0 or -errno; a
 * directory is -EISDIR, and more than FWD_READ_MAX bytes is -EFBIG, so a
 * policy pointed at /dev/zero is an error, not an out-of-memory abort.
 */
#define FWD_READ_MAX ((size_t)1 << 30)
int fwd_read_file(const char *path, char **buf, size_t *len);
/* fwd_read_file's answer for anything but a regular file or directory. */
#define FWD_ENOTREG (-EBADFD)
/* strerror for fwd_read_file's results (err < 0). */
const char *fwd_read_strerror(int err);

/*
 * A DURATION as `for` takes it (30s, 10m, 2h, 7d, 1h30m: units d h m s in
 * descending order, each at most once) from s[0..n). 0 with *secs set;
 * -EINVAL when it is not spelled like that; -ERANGE outside 1s..365d.
 */
int fwd_duration_parse(const char *s, size_t n, uint64_t *secs);

#endif
