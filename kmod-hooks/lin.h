/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_LIN_H
#define FWD_KMOD_LIN_H

/*
 * Internal to kmod-hooks: the linearizer (linearize.c), IR -> nf_tables
 * messages appended to a batch. What keys look like is keys.h's.
 */

#include <stdbool.h>
#include <stdint.h>

#include "batch.h"
#include "ir.h"

/* The expressions of FWD_M_CT_LABEL (ct label BIT), appended to r. */
struct nftnl_rule;
void fwd_lin_ct_label(struct nftnl_rule *r, uint32_t bit);

/* IR -> messages appended to the batch. */
void fwd_lin_table(struct fwd_batch *b, uint16_t type, const char *name,
		   bool with_flags, uint32_t flags);
void fwd_lin_set(struct fwd_batch *b, const char *table,
		 const struct fwd_ir_set *s, uint32_t set_id);
/* ctr: the elements' counters to start from, beside s->elems (NULL:
 * zero), sent only for a set with `counter`. */
void fwd_lin_elems(struct fwd_batch *b, const char *table,
		   const struct fwd_ir_set *s, uint32_t set_id,
		   const struct fwd_ir_count *ctr);

/*
 * Element messages of any kind. Adds (NEWSETELEM) leave out elements whose
 * expires has passed at b->now_ms and give the others NFTA_SET_ELEM_TIMEOUT
 * = expires - now in ms; deletes send keys only and leave out elements
 * that expire at or before skip_ms (0: none left out). An rbtree set
 * created in this batch (set_id != 0) opens with nft's interval end at 0.
 */
struct fwd_elems_op {
	uint16_t type;		/* NFT_MSG_NEWSETELEM, _DELSETELEM, DESTROYSETELEM */
	uint32_t set_id;	/* the set is created in this batch; 0: it exists */
	uint64_t skip_ms;	/* deletes: see above */
	const struct fwd_ir_count *ctr;	/* adds: counters beside s->elems, or NULL */
};
void fwd_lin_elems_op(struct fwd_batch *b, const char *table,
		      const struct fwd_ir_set *s, const struct fwd_elems_op *op);
/* The base chain c and, when it is split, its family chains (ir.h, "The
 * chains in the kernel"), in that order. */
void fwd_lin_chain(struct fwd_batch *b, const char *table,
		   const struct fwd_ir_chain *c);
/* A meter set of ir->queue (set id: ir->nsets + 1 for meter4, + 2 for
 * meter6, which is what FWD_M_METER rules name). */
void fwd_lin_meter_set(struct fwd_batch *b, const char *table,
		       const struct fwd_ir *ir, bool v6, uint32_t set_id);
/* The program queue's meter set, if ir has one (fwd_ir_prog_meter_id). */
void fwd_lin_prog_meter_set(struct fwd_batch *b, const char *table,
			    const struct fwd_ir *ir);
/* The meter sets of ir's limited classes (ids fwd_ir_class_meter_id). */
void fwd_lin_class_meter_sets(struct fwd_batch *b, const char *table,
			      const struct fwd_ir *ir);
/* ir->chains[ci]'s rules as the kernel holds them (ir.h, "The chains in
 * the kernel"): the base chain's, then its family chains' (when split),
 * each in order; rules into empty sets left out. cn: the counter values
 * to start from, each copy of a rule from its own kernel chain's
 * (fwd_ir_counts_part), or NULL (zero). */
void fwd_lin_rules(struct fwd_batch *b, const char *table,
		   const struct fwd_ir *ir, size_t ci, uint32_t *next_set_id,
		   const struct fwd_ir_counts *cn);

/* The whole fwd_apply transaction for ir (BEGIN .. END): the table made
 * sure of, deleted and made anew with table_flags, then its chains, sets
 * and elements, meter sets and rules; cn: the counters to start from
 * (fwd_live_counts), or NULL. */
void fwd_lin_whole_table(struct fwd_batch *b, const char *table,
			 const struct fwd_ir *ir, unsigned table_flags,
			 const struct fwd_ir_counts *cn);

/*
 * Part p of c rebuilt in a running table: a flush of the kernel chain,
 * then its rules as fwd_ir_part_rules lists them. ctr (or NULL): the
 * starting counter values beside that list.
 */
void fwd_lin_part(struct fwd_batch *b, const char *table,
		  const struct fwd_ir *ir, const struct fwd_ir_chain *c,
		  enum fwd_ir_part p, uint32_t *next_set_id,
		  const struct fwd_ir_count *ctr);

#endif
