/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_IR_H
#define FWD_IR_H

#include <stdio.h>

#include "diag.h"
#include "policy.h"

/*
 * The ruleset IR: the one table fwd owns, described as data (sets with
 * normalised, non-overlapping elements; chains with rules made of a few
 * match kinds). policy -> IR is pure; IR -> kernel lives in kmod-hooks and
 * IR -> nft text lives in render.c, both walking the same structure.
 * The struct layout is defined below the public API.
 */
#define FWD_TABLE_NAME "fwd_filter"

struct fwd_ir;

/* Options that depend on the kernel (from the probe); zero = conservative. */
struct fwd_render_opts {
	unsigned table_flags;	/* NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST, as applied */
};

int fwd_compile(const struct fwd_policy *p, struct fwd_ir **out,
		struct fwd_diags *d);
void fwd_ir_free(struct fwd_ir *ir);	/* accepts NULL */

/* The table in nft syntax, loadable by `nft -f` (used by -n and benches). */
int fwd_ir_render(const struct fwd_ir *ir, const struct fwd_render_opts *o,
		  FILE *out);

#endif
