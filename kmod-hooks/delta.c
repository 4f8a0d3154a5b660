// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live edits: an element delta committed as one small transaction, whatever
 * the size of the sets it changes. The kernel work is per element (plus, for
 * a concatenated interval set, a copy of its lookup tables at commit), so a
 * one-element edit stays in the milliseconds with a 100k-entry allowlist.
 *
 * A set that gains its first element or loses its last changes which rules
 * the kernel holds (ir.h, "The chains in the kernel": a lookup into an
 * empty set is left out). The family chains whose rules change are then
 * rebuilt in the same transaction: a flush of the chain and its rules
 * anew, their counters carried over from a read of the rules just before
 * (what is counted between that read and the commit is lost, as for a
 * replace). A flush and the new rules commit together with the elements,
 * so a packet sees the old chain with the old elements or the new chain
 * with the new ones, never a chain without its rules. Only the family
 * chains change (sets are looked up nowhere else), and they are small:
 * a rebuild costs a rule dump and a few dozen rule messages, not the
 * replace of a 100k-element table.
 */
#include "kmod.h"
#include "batch.h"
#include "lin.h"
#include "readback.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <linux/netfilter/nf_tables.h>

#include "util.h"

/* A family chain to rebuild, with the counters its new rules start from. */
struct rebuild {
	const struct fwd_ir_chain *chain;
	enum fwd_ir_part part;
	struct fwd_ir_count *ctr;	/* beside fwd_ir_part_rules' list */
};

struct delta_arg {
	const struct fwd_ir *ir;
	const struct fwd_ir_delta *delta;
	struct rebuild *rb;
	size_t nrb;
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
	/* Anonymous sets (ICMP types) of the rebuilt rules: ids of this
	 * transaction only, the named sets are found by name. */
	uint32_t next_id = 1;

	for (size_t i = 0; i < a->nrb; i++)
		fwd_lin_part(b, FWD_TABLE_NAME, a->ir, a->rb[i].chain,
			     a->rb[i].part, &next_id, a->rb[i].ctr);
	fwd_batch_end(b);
}

/* Which sets of ir were empty before the delta (the layout the kernel
 * holds now), and whether any set's emptiness changes. */
static bool was_empty(const struct fwd_ir *ir, const struct fwd_ir_delta *d,
		      bool *empty)
{
	bool flip = false;

	for (size_t i = 0; i < ir->nsets; i++)
		empty[i] = ir->sets[i].n == 0;
	for (size_t i = 0; i < d->nsets; i++) {
		const struct fwd_ir_delta_set *ds = &d->sets[i];
		size_t n = ir->sets[ds->set].n;

		/* The delta took n - nadd + ndel elements to n. */
		empty[ds->set] = n + ds->ndel == ds->nadd;
		flip |= empty[ds->set] != (n == 0);
	}
	return flip;
}

/*
 * The counters the rebuilt part starts from: the kernel's, by place in
 * the layout it holds now (old), moved to the same IR rule's place in the
 * new one. A chain that does not look as expected gives zeros.
 */
static struct fwd_ir_count *carry(const struct fwd_live_table *t,
				  const struct fwd_ir *ir,
				  const struct fwd_ir_chain *c,
				  enum fwd_ir_part p, const long *old,
				  size_t nold, const long *now, size_t nnow)
{
	struct fwd_ir_count *ctr = fwd_xcalloc(nnow ? nnow : 1, sizeof(*ctr));
	const struct fwd_live_chain *lc;
	char name[40];

	fwd_ir_part_name(c, p, name, sizeof(name));
	lc = t ? fwd_live_chain_find(t, name) : NULL;
	if (!lc || lc->nrules != nold)
		return ctr;
	for (size_t k = 0; k < lc->ncounters; k++) {
		const struct fwd_live_counter *lk = &lc->counters[k];

		if (lk->rule >= nold)
			continue;
		for (size_t j = 0; j < nnow; j++)
			if (now[j] == old[lk->rule]) {
				ctr[j].packets = lk->packets;
				ctr[j].bytes = lk->bytes;
			}
	}
	return ctr;
}

/* The family chains whose rules the delta changes, into a->rb. */
static void plan_rebuilds(struct fwd_nl *nl, struct delta_arg *a)
{
	const struct fwd_ir *ir = a->ir;
	bool *empty = fwd_xcalloc(ir->nsets ? ir->nsets : 1, sizeof(*empty));
	struct fwd_live_table *t = NULL;
	bool read = false;

	if (!was_empty(ir, a->delta, empty))
		goto out;
	for (size_t i = 0; i < ir->nchains; i++) {
		const struct fwd_ir_chain *c = &ir->chains[i];

		if (!fwd_ir_chain_split(c, NULL, NULL))
			continue;
		for (int p = FWD_PART_V4; p <= FWD_PART_V6; p++) {
			long *old = fwd_xcalloc(c->n + 2, sizeof(*old));
			long *now = fwd_xcalloc(c->n + 2, sizeof(*now));
			size_t nold = fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p,
							empty, old);
			size_t nnow = fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p,
							NULL, now);

			if (nold != nnow || memcmp(old, now, nnow * sizeof(*now))) {
				/* Counters are a courtesy: without the
				 * read, the rules start at zero. */
				if (!read)
					fwd_live_read_rules(nl, &t);
				read = true;
				a->rb = fwd_xreallocarray(a->rb, a->nrb + 1,
							  sizeof(*a->rb));
				a->rb[a->nrb++] = (struct rebuild){
					.chain = c, .part = (enum fwd_ir_part)p,
					.ctr = carry(t, ir, c, (enum fwd_ir_part)p,
						     old, nold, now, nnow),
				};
			}
			free(old);
			free(now);
		}
	}
out:
	fwd_live_free(t);
	free(empty);
}

int fwd_apply_delta(struct fwd_nl *nl, const struct fwd_ir *ir,
		    const struct fwd_ir_delta *delta,
		    const struct fwd_features *f, struct fwd_diags *d)
{
	struct delta_arg a = {
		.ir = ir,
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
	plan_rebuilds(nl, &a);
	ret = fwd_batch_run(nl, &job, d);
out:
	for (size_t i = 0; i < a.nrb; i++)
		free(a.rb[i].ctr);
	free(a.rb);
	free(a.adds);
	free(a.dels);
	return ret;
}
