/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_TESTS_IR_SAME_H
#define FWD_TESTS_IR_SAME_H

#include <stddef.h>

#include "ir.h"

/*
 * Whether b says all that a says as far as a state file keeps it (state.c:
 * every field but the file names of locations, recompile_at and the
 * capacities): first fwd_ir_diff (policy/live.c, what the kernel would
 * see change: shape, chains, queues, classes, elements and their
 * expiry), then field by field what the diff leaves to others (lines,
 * owner ids, the program rules' text, matches' unused fields). On a
 * difference, what differs in `what` and false.
 */
bool fwd_test_ir_same(const struct fwd_ir *a, const struct fwd_ir *b,
		      char *what, size_t len);

#endif
