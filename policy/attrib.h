/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_ATTRIB_H
#define FWD_ATTRIB_H

/*
 * Element counters -> who the element came from: what `fwctl stats` sums
 * per service, list and allow/deny edit. An element's loc (ir.h) names
 * the policy word it came from: a service's ports or allow line, a list
 * member (inline or in a list file), an [edits] line; elements of edits
 * made at run time have no file and are matched to the edit by key. A
 * list member's element counts for the list and for the service (or allow
 * edit) that uses the list on that port. When normalisation merged
 * several words into one element, it counts for the one its loc names.
 * An element nobody owns (a stale one, or one the IR does not hold)
 * counts as "other".
 */
#include <stddef.h>
#include <stdint.h>

#include "edit.h"
#include "ir.h"
#include "policy.h"

enum fwd_own_kind { FWD_OWN_SERVICE, FWD_OWN_LIST, FWD_OWN_EDIT, FWD_OWN_OTHER };

/* The kinds' names in text ("service") and as JSON keys ("services"). */
extern const char *const fwd_own_kind_name[];
extern const char *const fwd_own_kind_json[];

/* One owner's sums. */
struct fwd_own_acc {
	enum fwd_own_kind kind;
	char name[FWD_EDIT_STRLEN];	/* service or list name, edit as words */
	uint64_t packets, bytes;
};

struct fwd_own_map {
	const struct fwd_policy *p;	/* lent; must outlive the map */
	struct own_ref *refs;		/* policy lines -> owner, sorted */
	size_t nrefs, refcap;
	struct fwd_own_acc *acc;	/* the owners, in policy order first */
	size_t nacc, acccap;
};

/* Every service, list and allow/deny edit of p, at zero: each shows, hit
 * or not. Allocation failure aborts (util.h). */
void fwd_own_init(struct fwd_own_map *m, const struct fwd_policy *p);

/* Add one element's counters (element e of set s of the IR compiled from
 * the map's policy) to its owners. */
void fwd_own_count(struct fwd_own_map *m, const struct fwd_ir_set *s,
		   const struct fwd_ir_elem *e, uint64_t pk, uint64_t by);

void fwd_own_free(struct fwd_own_map *m);	/* accepts NULL; leaves it empty */

#endif
