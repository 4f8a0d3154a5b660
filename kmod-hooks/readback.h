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
#include "nlsock.h"

/* The current ruleset generation (GETGEN). 0 or -errno. */
int fwd_nl_getgen(struct fwd_nl *nl, uint32_t *gen);

/*
 * After answers were lost (ENOBUFS): does the kernel hold what the batch
 * meant? For a full apply (delta NULL): the table has the IR's sets with
 * their elements (those not yet expired) and its chains; for a delta: each
 * add is there and each delete is gone. 0 with *same set, or -errno.
 */
int fwd_live_check(struct fwd_nl *nl, const struct fwd_ir *ir,
		   const struct fwd_ir_delta *delta, bool *same);

#endif
