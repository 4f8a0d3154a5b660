// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwd_apply: the whole table replaced in one transaction. The step states
 * what the transaction holds (delete and re-create the table, its chains,
 * sets with their elements, meters, rules: the linearizer's messages) and
 * hands it to the batch (batch.c), which sends it and settles the outcome.
 */
#include "kmod.h"
#include "batch.h"
#include "lin.h"
#include "readback.h"

#include <time.h>

#include <linux/netfilter/nf_tables.h>

unsigned fwd_table_flags(const struct fwd_features *f,
			 const struct fwd_apply_opts *o)
{
	if (!f || !f->table_owner || (o && o->no_flags))
		return 0;
	if (f->table_persist)
		return NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST;
	return o && o->no_owner ? 0 : NFT_TABLE_F_OWNER;
}

/*
 * Counters are carried over only while reading them back costs less than
 * the replace itself: the kernel's element dump slows down with the size
 * of the set (30 s at 1M elements), so above this many elements in the
 * counted sets the new table's counters start at zero.
 */
#define KEEP_COUNTERS_MAX 100000u

struct apply_arg {
	const struct fwd_ir *ir;
	unsigned flags;
	const struct fwd_ir_counts *counts;
	uint64_t *built_us;	/* when the (last) build ended */
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void build_apply(struct fwd_batch *b, const void *arg)
{
	const struct apply_arg *a = arg;

	fwd_lin_whole_table(b, FWD_TABLE_NAME, a->ir, a->flags, a->counts);
	*a->built_us = mono_us();
}

/* Whether ir counts anything, and few enough elements to read back. */
static bool worth_keeping(const struct fwd_ir *ir)
{
	bool any = false;
	size_t n = 0;

	for (size_t i = 0; i < ir->nsets; i++)
		if (ir->sets[i].counter) {
			any = true;
			n += ir->sets[i].n;
		}
	for (size_t i = 0; i < ir->nchains && !any; i++)
		for (size_t j = 0; j < ir->chains[i].n && !any; j++)
			any = ir->chains[i].rules[j].counter;
	return any && n <= KEEP_COUNTERS_MAX;
}

/* The rules' counts of `from` into `to` (both of the same ir). */
static void take_rule_counts(struct fwd_ir_counts *to, struct fwd_ir_counts *from)
{
	struct fwd_ir_count **tmp = to->rule;

	to->rule = from->rule;
	from->rule = tmp;
	for (int p = 0; p < FWD_PART_COUNT; p++) {
		tmp = to->part[p];
		to->part[p] = from->part[p];
		from->part[p] = tmp;
	}
}

/*
 * The counters of the running table, matched to ir's elements and rules:
 * read just before the replace, so only what is counted between this read
 * and the commit is lost (kmod.h, fwd_nl_stats: measured each time). The
 * element dump is the slow part (seconds at 100k elements: the kernel
 * walks a hash set from its start for every chunk), and the first read
 * takes the rules before it; so the rules, whose counters are the
 * per-direction totals, are read once more after it, in a few ms, and
 * lose only what the build and the commit take. Nothing (NULL) when there
 * is no table yet, or the read fails: a replace never fails for the sake
 * of its counters.
 */
static struct fwd_ir_counts *running_counts(struct fwd_nl *nl,
					    const struct fwd_ir *ir,
					    uint64_t *rules_from)
{
	struct fwd_live_table *t = NULL;
	struct fwd_ir_counts *c = NULL, *again;

	if (!worth_keeping(ir) || fwd_live_read_counters(nl, &t) != 0)
		return NULL;
	c = fwd_live_counts(t, ir);
	fwd_live_free(t);
	t = NULL;
	*rules_from = mono_us();
	if (fwd_live_read_rules(nl, &t) == 0) {
		again = fwd_live_counts(t, ir);
		take_rule_counts(c, again);
		fwd_ir_counts_free(again);
	}
	fwd_live_free(t);
	return c;
}

int fwd_apply(struct fwd_nl *nl, const struct fwd_ir *ir,
	      const struct fwd_features *f, const struct fwd_apply_opts *o,
	      struct fwd_diags *d)
{
	uint64_t t0 = mono_us(), t1, built = 0, rules_from = 0;
	struct apply_arg a = { .ir = ir, .flags = fwd_table_flags(f, o),
			       .built_us = &built };
	struct fwd_batch_job job = { .build = build_apply, .arg = &a, .ir = ir };
	struct fwd_ir_counts *counts = NULL;
	int ret;

	if (!o || !o->fresh_counters)
		counts = running_counts(nl, ir, &rules_from);
	t1 = mono_us();
	a.counts = counts;
	ret = fwd_batch_run(nl, &job, d);
	/* How long the old table went on counting after its counters were
	 * read (kmod.h, fwd_nl_stats): the window a replace loses. */
	if (ret == 0 && counts && built >= t1) {
		nl->stats.carry_read_us = t1 - t0;
		nl->stats.carry_rules_us = rules_from ? t1 - rules_from : 0;
		nl->stats.carry_build_us = built - t1;
		nl->stats.carry_commit_us = mono_us() - built;
	}
	fwd_ir_counts_free(counts);
	return ret;
}
