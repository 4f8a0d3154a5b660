// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live edits: an element delta committed as one small transaction, whatever
 * the size of the sets it changes. The kernel work is per element (plus, for
 * a concatenated interval set, a copy of its lookup tables at commit), so a
 * one-element edit stays in the milliseconds with a 100k-entry allowlist.
 */
#include "kmod.h"
#include "batch.h"
#include "lin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include "util.h"

struct delta_arg {
	const struct fwd_ir_delta *delta;
	bool destroy;			/* NFT_MSG_DESTROYSETELEM */
	struct fwd_ir_set *adds, *dels;	/* per delta set: the IR set's header
					 * over the delta's elements */
};

static void build_delta(struct fwd_batch *b, const void *arg)
{
	const struct delta_arg *a = arg;
	const struct fwd_ir_delta *delta = a->delta;
	struct fwd_elems_op del = {
		.type = a->destroy ? FWD_NFT_MSG_DESTROYSETELEM : NFT_MSG_DELSETELEM,
		/* Without destroy, a delete of an element the kernel has just
		 * expired fails the transaction: leave out those that go by
		 * themselves within the second. */
		.skip_ms = a->destroy ? 0 : b->now_ms + 1000,
	};
	struct fwd_elems_op add = { .type = NFT_MSG_NEWSETELEM };

	fwd_batch_begin(b);
	/* Every delete before any add: a range that changed shape is a
	 * delete of the old piece and an add of the new, and an interval set
	 * refuses the add while the old piece is there. */
	for (size_t i = 0; i < delta->nsets; i++)
		if (a->dels[i].n)
			fwd_lin_elems_op(b, FWD_TABLE_NAME, &a->dels[i], &del);
	for (size_t i = 0; i < delta->nsets; i++)
		if (a->adds[i].n)
			fwd_lin_elems_op(b, FWD_TABLE_NAME, &a->adds[i], &add);
	fwd_batch_end(b);
}

int fwd_apply_delta(struct fwd_nl *nl, const struct fwd_ir *ir,
		    const struct fwd_ir_delta *delta,
		    const struct fwd_features *f, struct fwd_diags *d)
{
	struct delta_arg a = {
		.delta = delta,
		.destroy = f && f->destroy_setelem,
	};
	struct fwd_batch_job job = {
		.build = build_delta, .arg = &a, .ir = ir, .delta = delta,
	};
	int ret;

	if (delta->shape_changed) {
		fwd_diags_add(d, NULL, 0, "the new policy changes the table's "
			      "sets or chains: it needs a full apply, not a delta");
		return -EINVAL;
	}
	if (delta->nsets == 0)
		return 0;
	a.adds = fwd_xcalloc(delta->nsets, sizeof(*a.adds));
	a.dels = fwd_xcalloc(delta->nsets, sizeof(*a.dels));
	for (size_t i = 0; i < delta->nsets; i++) {
		const struct fwd_ir_delta_set *ds = &delta->sets[i];

		if (ds->set >= ir->nsets) {
			fwd_diags_add(d, NULL, 0, "delta names set %u of a table "
				      "with %zu sets", ds->set, ir->nsets);
			ret = -EINVAL;
			goto out;
		}
		/* Same name, key and flags as the set; the delta's elements.
		 * The copies only lend their arrays (never freed here). */
		a.adds[i] = ir->sets[ds->set];
		a.adds[i].elems = ds->add;
		a.adds[i].n = a.adds[i].cap = ds->nadd;
		a.dels[i] = ir->sets[ds->set];
		a.dels[i].elems = ds->del;
		a.dels[i].n = a.dels[i].cap = ds->ndel;
	}
	ret = fwd_batch_run(nl, &job, d);
out:
	free(a.adds);
	free(a.dels);
	return ret;
}
