/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_LOG_H
#define FWD_LOG_H

#include <syslog.h>

#include "diag.h"

/*
 * The daemon logs to stderr, one line per event, "fwd: ..." with a
 * "<N>" syslog priority prefix when stderr is the journal (JOURNAL_STREAM),
 * so systemd keeps the level. Never blocks the caller for long: stderr is a
 * pipe or the journal.
 */
void fwd_log_init(const char *ident);
void fwd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Every diagnostic as its own line at prio. */
void fwd_log_diags(int prio, const struct fwd_diags *d);

#endif
