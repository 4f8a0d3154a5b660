/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_TESTUTIL_H
#define FWD_TESTUTIL_H

#include <check.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

/* $FWD_SRCDIR/rel, malloc'd (tests may leak it: they are short-lived). */
char *tu_src(const char *rel);
/* $FWD_BUILDDIR/rel. */
char *tu_build(const char *rel);
/*
 * A scratch path DIR/name into buf; fails the test if it does not fit.
 * DIR is this run's scratch directory, $TMPDIR/fwdu-<runner pid> (TMPDIR
 * unset or empty: /tmp), made by tu_run and removed when the suite ends,
 * whatever its tests left (a failing test's child exits at once); those of
 * runners that died are removed at the start. Outside tu_run: $TMPDIR.
 * scripts/test.sh gives the suites a TMPDIR of their own and fails when
 * anything is left in it.
 */
char *tu_tmp(char *buf, size_t len, const char *name);
/* Whole file into a NUL-terminated buffer; NULL if unreadable. */
char *tu_slurp(const char *path, size_t *len);
/* Run a shell command, capture stdout+stderr (malloc'd) and exit status. */
int tu_sh(char **output, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * printf into a malloc'd string; aborts when out of memory (a test has no
 * use for a half-built message). The caller may free it or leave it to
 * the test process's exit.
 */
char *tu_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *tu_vasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* How many times needle occurs in hay, occurrences not overlapping. */
size_t tu_count_str(const char *hay, const char *needle);
/* qsort's comparison for doubles (latencies sorted for their median). */
int tu_cmp_double(const void *a, const void *b);

/*
 * Root / namespace gate. Returns true when the test may go on. When it may
 * not (not root, no unshare), it fails the test under CI=true and otherwise
 * prints "SKIP: needs root" and returns false so the caller returns early
 * (a visible skip, which scripts/test.sh counts as a failure).
 */
bool tu_need_root(void);

/*
 * A program the test runs (`command -v prog`). When it is missing: under
 * CI=true the test fails; otherwise it prints "SKIP: PROG not installed
 * (Debian package: PKG)" and returns false. scripts/test.sh fails a run
 * that printed any "SKIP: " line and lists them: scripts/deps.sh installs
 * every such package.
 */
bool tu_need_prog(const char *prog, const char *pkg);

/* A skip for want of a kernel feature (nothing to install): printed as
 * "SKIP (kernel): ...", which scripts/test.sh reports without failing. */
void tu_skip_kernel(const char *what);

/* Move the calling process into a fresh network namespace with lo up.
 * check runs each test in a forked child (CK_FORK), so this isolates it. */
void tu_enter_netns(void);

/*
 * The unprivileged user of this suite run, "fwdt<runner pid>", a system
 * user without a home (and its group), created on first use (root only);
 * NULL if it cannot be made. tu_run removes it when the suite ends, and
 * first removes what runners that died (their pid is gone) left: each
 * carries TU_USER_GECOS, so nobody else's user is ever touched. A name of
 * its own per run: other runs of the suite on the same machine keep
 * theirs.
 */
#define TU_USER_GECOS "fwd test suite"
const char *tu_user(void);

/*
 * "fwdt<runner pid>-<role>": the name of a user or group a test makes
 * itself (with useradd -c TU_USER_GECOS), one per role and run, so two
 * runs on one machine never share one. tu_run sweeps those of runners
 * that died, as tu_user's. Not created here.
 */
const char *tu_name(const char *role);

/* Run a suite and return an exit status (0 = all passed). */
int tu_run(Suite *s);

#endif
