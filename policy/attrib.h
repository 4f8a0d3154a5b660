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
 * A restricted class's sets (ir.h, fwd_ir_class: interface =, limit =)
 * take their direction from the class, not from a set name, and count
 * only for owners with the class's restriction; `any` in a class is an
 * address element (the whole family), which a run-time edit from any
 * owns.
 * Linear in the owners and in the counted elements: every owner is made
 * once (an index keeps edits that print the same from being made twice),
 * and what a renderer needs of it is recorded then.
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

/* What an owner's elements do to the packets they match. */
enum fwd_own_verdict { FWD_OWN_V_NONE, FWD_OWN_V_ACCEPT, FWD_OWN_V_REJECT };

/*
 * One owner's sums, and what the compiler knows of it: a service's
 * elements accept in its direction; an allow/deny edit's accept or
 * reject in its own. A list's sums are every use of the list (they also
 * count for the service or edit using it), and "other" has no owner: both
 * have no direction (directed false) and FWD_OWN_V_NONE.
 */
struct fwd_own_acc {
	enum fwd_own_kind kind;
	char name[FWD_EDIT_STRLEN];	/* service or list name, edit as words */
	bool directed;			/* dir is known */
	enum fwd_dir dir;
	enum fwd_own_verdict verdict;
	uint64_t packets, bytes;
};

struct fwd_own_map {
	const struct fwd_policy *p;	/* lent; must outlive the map */
	const struct fwd_ir *ir;	/* lent, may be NULL: its classes */
	struct own_ref *refs;		/* policy lines -> owner, sorted */
	size_t nrefs, refcap;
	struct fwd_own_acc *acc;	/* the owners, in policy order first */
	size_t nacc, acccap;
	/* Each service's, list's and allow/deny edit's owner (acc index;
	 * SIZE_MAX for an edit that is not an allow or deny). */
	size_t *sv_acc, *list_acc, *edit_acc;
	size_t *index;			/* (kind, name) -> acc index + 1 */
	size_t icap;			/* a power of two, or 0 */
	/* The edits made at run time (no line to find them by): those of a
	 * single address (allow/deny from a host, a list-add of a host) by
	 * that address, an index of chains in edit order (head and next:
	 * edit index + 1); the rest in edit order. And the allow/deny edits
	 * that name a list. So an element's owner is found without a scan
	 * of every edit. */
	size_t *host_head, hcap, *host_next;
	size_t *rt_rest, nrt_rest;
	size_t *list_edits, nlist_edits;
};

/* Every service, list and allow/deny edit of p, at zero: each shows, hit
 * or not. ir is the IR compiled from p (NULL: no restricted classes are
 * known). Allocation failure aborts (util.h). */
void fwd_own_init(struct fwd_own_map *m, const struct fwd_policy *p,
		  const struct fwd_ir *ir);

/* Add one element's counters (element e of set s of the IR compiled from
 * the map's policy) to its owners. */
void fwd_own_count(struct fwd_own_map *m, const struct fwd_ir_set *s,
		   const struct fwd_ir_elem *e, uint64_t pk, uint64_t by);

/* The owner of service i / edit i of the map's policy (an edit's only
 * when it is an allow or deny), or NULL: also for an empty map. */
const struct fwd_own_acc *fwd_own_of_service(const struct fwd_own_map *m, size_t i);
const struct fwd_own_acc *fwd_own_of_edit(const struct fwd_own_map *m, size_t i);

void fwd_own_free(struct fwd_own_map *m);	/* accepts NULL; leaves it empty */

#endif
