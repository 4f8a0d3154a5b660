/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_READBACK_H
#define FWD_KMOD_READBACK_H

/*
 * Internal to kmod-hooks: what the batch asks the read-back (readback.c)
 * when it must know what the kernel holds.
 */

#include <stdbool.h>
#include <stdint.h>

#include "ir.h"
#include "kmod.h"
#include "nlsock.h"

/* The current ruleset generation (GETGEN). 0 or -errno. */
int fwd_nl_getgen(struct fwd_nl *nl, uint32_t *gen);

/*
 * fwd's table as fwd_live_read reads it, but with the elements of the
 * sets that have counters only (the block sets, which hold no counters,
 * are left empty): what a replace needs to carry the counters over.
 * 0, -ENOENT without a table, or another -errno.
 */
int fwd_live_read_counters(struct fwd_nl *nl, struct fwd_live_table **out);

/*
 * fwd's table with its chains and their rules (counters by place) only,
 * no sets: cheap whatever the number of elements. What a live edit that
 * rebuilds a family chain needs to carry its rule counters over.
 */
int fwd_live_read_rules(struct fwd_nl *nl, struct fwd_live_table **out);

/*
 * After answers were lost (ENOBUFS): does the kernel hold what the batch
 * meant? For a full apply (delta NULL): the table has the IR's sets with
 * their elements (those not yet expired) and its chains; for a delta: each
 * add is there and each delete is gone. 0 with *same set, or -errno.
 */
int fwd_live_check(struct fwd_nl *nl, const struct fwd_ir *ir,
		   const struct fwd_ir_delta *delta, bool *same);

#endif
