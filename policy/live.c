// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IR -> IR: what a live change needs besides the compiler.
 *
 * - fwd_ir_diff: the element delta between two IRs (a sorted merge per
 *   set), which is what `fwctl reload` and every live edit commit;
 * - fwd_ir_clone: a deep copy;
 * - fwd_ir_fast_add: a live addition done on the IR in place (binary
 *   search and one insertion per element) when the compiler would produce
 *   exactly that, so `fwctl allow 22/tcp from X` with a 100k-entry list
 *   loaded costs microseconds instead of a recompile.
 *
 * The fast path must agree with fwd_compile_at to the byte (loc included),
 * so it refuses (-EAGAIN) whenever normalisation could do anything but
 * add one element or raise one expiry: neighbours that would merge,
 * overlaps, ranges, list-del. The tests compare both on random policies.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include "edit.h"
#include "ir.h"
#include "outbound.h"
#include "util.h"

typedef unsigned __int128 u128;

/* ---- element order ---- */

#define elem_cmp fwd_ir_elem_cmp	/* the set order (ir.h) */

/* The whole key: the set order, then the upper ends. Within one set no
 * two elements share (lo, proto, plo), so this is the same order. */
static int key_cmp(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b)
{
	int c = elem_cmp(a, b);

	if (c)
		return c;
	c = memcmp(a->hi, b->hi, sizeof(a->hi));
	if (c)
		return c;
	return a->phi < b->phi ? -1 : a->phi > b->phi;
}

static int key_qcmp(const void *a, const void *b)
{
	return key_cmp(a, b);
}

static uint64_t exp_inf(uint64_t x)
{
	return x ? x : UINT64_MAX;
}

/* ---- delta ---- */

struct elems {
	struct fwd_ir_elem *v;
	size_t n, cap;
};

static void elems_push(struct elems *a, const struct fwd_ir_elem *e)
{
	FWD_GROW(a->v, a->cap, a->n + 1);
	a->v[a->n++] = *e;
}

/* Append one set's changes (taking the arrays) if there are any. */
static void delta_take(struct fwd_ir_delta *d, unsigned set, struct elems *add,
		       struct elems *del)
{
	struct fwd_ir_delta_set *ds;

	if (add->n == 0 && del->n == 0) {
		free(add->v);
		free(del->v);
		return;
	}
	d->sets = fwd_xreallocarray(d->sets, d->nsets + 1, sizeof(*d->sets));
	ds = &d->sets[d->nsets++];
	*ds = (struct fwd_ir_delta_set){
		.set = set, .add = add->v, .nadd = add->n,
		.del = del->v, .ndel = del->n,
	};
	d->nadd += add->n;
	d->ndel += del->n;
}

void fwd_ir_delta_free(struct fwd_ir_delta *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nsets; i++) {
		free(d->sets[i].add);
		free(d->sets[i].del);
	}
	free(d->sets);
	memset(d, 0, sizeof(*d));
}

static bool same_match(const struct fwd_ir_match *a,
		       const struct fwd_ir_match *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case FWD_M_IIF_LO:
	case FWD_M_OIF_LO:
		return true;
	case FWD_M_CT_STATE:
	case FWD_M_CT_LABEL:
	case FWD_M_NFPROTO:
	case FWD_M_L4PROTO:
	case FWD_M_RPF_MISSING:
		return a->u32 == b->u32;
	case FWD_M_ICMP_TYPES:
	case FWD_M_ICMPV6_TYPES:
		return a->ntypes == b->ntypes && a->ntypes <= sizeof(a->types) &&
		       memcmp(a->types, b->types, a->ntypes) == 0;
	case FWD_M_LOOKUP_SRC:
	case FWD_M_LOOKUP_DST:
		return a->set == b->set;
	case FWD_M_LIMIT:
		return a->u32 == b->u32 && a->u32b == b->u32b;
	case FWD_M_METER:
		return a->u32 == b->u32;	/* the rest is fwd_ir.queue */
	case FWD_M_IIFNAME:
	case FWD_M_OIFNAME:
		return a->u32 == b->u32;	/* the rest is fwd_ir.classes */
	case FWD_M_CLASS_METER:
		return a->u32 == b->u32 && a->set == b->set;
	case FWD_M_PROG_METER:
		return true;			/* the rest is fwd_ir.prog */
	}
	return false;
}

/* What the kernel sees of a rule (its loc is ours only). */
static bool same_rule(const struct fwd_ir_rule *a, const struct fwd_ir_rule *b)
{
	if (a->nm != b->nm || a->counter != b->counter || a->log != b->log ||
	    a->verdict != b->verdict || a->nm > FWD_IR_MAX_MATCH)
		return false;
	if (a->log && strncmp(a->log_prefix, b->log_prefix,
			      sizeof(a->log_prefix)) != 0)
		return false;
	for (unsigned i = 0; i < a->nm; i++)
		if (!same_match(&a->m[i], &b->m[i]))
			return false;
	return true;
}

static bool same_chains(const struct fwd_ir *a, const struct fwd_ir *b)
{
	if (a->nchains != b->nchains)
		return false;
	for (size_t i = 0; i < a->nchains; i++) {
		const struct fwd_ir_chain *x = &a->chains[i], *y = &b->chains[i];

		if (strncmp(x->name, y->name, sizeof(x->name)) != 0 ||
		    x->hook != y->hook || x->prio != y->prio ||
		    x->policy_accept != y->policy_accept || x->n != y->n)
			return false;
		for (size_t k = 0; k < x->n; k++)
			if (!same_rule(&x->rules[k], &y->rules[k]))
				return false;
	}
	return true;
}

static bool same_queue(const struct fwd_ir_queue *a,
		       const struct fwd_ir_queue *b)
{
	return a->on == b->on && a->native == b->native && a->num == b->num &&
	       a->total == b->total && a->fanout == b->fanout &&
	       a->meter == b->meter &&
	       a->rate == b->rate && a->period_s == b->period_s &&
	       a->burst == b->burst;
}

/* Restricted classes (ir.h): what their rules and meters say. */
static bool same_classes(const struct fwd_ir *a, const struct fwd_ir *b)
{
	if (a->nclasses != b->nclasses)
		return false;
	for (size_t i = 0; i < a->nclasses; i++) {
		const struct fwd_ir_class *x = &a->classes[i], *y = &b->classes[i];

		if (strncmp(x->name, y->name, sizeof(x->name)) != 0 ||
		    x->out != y->out ||
		    strncmp(x->ifname, y->ifname, sizeof(x->ifname)) != 0 ||
		    x->rate != y->rate || x->period_s != y->period_s ||
		    x->burst != y->burst || x->limit_w != y->limit_w ||
		    x->set4 != y->set4 || x->set6 != y->set6)
			return false;
	}
	return true;
}

static bool same_set_shape(const struct fwd_ir_set *a,
			   const struct fwd_ir_set *b)
{
	return strncmp(a->name, b->name, sizeof(a->name)) == 0 &&
	       a->key == b->key && a->interval == b->interval &&
	       a->timeout == b->timeout && a->counter == b->counter;
}

/* The set of `old` that set i of `new` continues, or NULL. */
static const struct fwd_ir_set *old_set(const struct fwd_ir *old,
					const struct fwd_ir_set *s, size_t i)
{
	if (!old)
		return NULL;
	if (i < old->nsets &&
	    strncmp(old->sets[i].name, s->name, sizeof(s->name)) == 0)
		return &old->sets[i];
	for (size_t k = 0; k < old->nsets; k++)
		if (strncmp(old->sets[k].name, s->name, sizeof(s->name)) == 0)
			return &old->sets[k];
	return NULL;
}

/*
 * Both arrays are sorted: walk them together. Equal keys with equal
 * expires stay; equal keys whose expires differ are a del and an add.
 */
static void diff_set(const struct fwd_ir_set *o, const struct fwd_ir_set *n,
		     unsigned set, struct fwd_ir_delta *d)
{
	struct elems add = { 0 }, del = { 0 };
	size_t i = 0, j = 0, on = o ? o->n : 0;

	while (i < on || j < n->n) {
		int c = i >= on ? 1 : j >= n->n ? -1 :
			key_cmp(&o->elems[i], &n->elems[j]);

		if (c < 0) {
			elems_push(&del, &o->elems[i++]);
		} else if (c > 0) {
			elems_push(&add, &n->elems[j++]);
		} else {
			if (o->elems[i].expires != n->elems[j].expires) {
				elems_push(&del, &o->elems[i]);
				elems_push(&add, &n->elems[j]);
			}
			i++;
			j++;
		}
	}
	delta_take(d, set, &add, &del);
}

int fwd_ir_diff(const struct fwd_ir *old, const struct fwd_ir *new,
		struct fwd_ir_delta *out)
{
	memset(out, 0, sizeof(*out));
	if (!new)
		return -EINVAL;
	out->shape_changed = !old || old->nsets != new->nsets ||
			     !same_chains(old, new) ||
			     !same_queue(&old->queue, &new->queue) ||
			     !same_queue(&old->prog, &new->prog) ||
			     !same_classes(old, new);
	for (size_t i = 0; i < new->nsets; i++) {
		const struct fwd_ir_set *o = old_set(old, &new->sets[i], i);

		if (!o || !same_set_shape(o, &new->sets[i])) {
			out->shape_changed = true;
			o = NULL;	/* nothing to keep: all adds */
		}
		diff_set(o, &new->sets[i], (unsigned)i, out);
	}
	/* A set only the old table has: the new one cannot hold it. */
	for (size_t i = 0; old && i < old->nsets && !out->shape_changed; i++)
		if (!fwd_ir_set_find(new, old->sets[i].name))
			out->shape_changed = true;
	return 0;
}

/* ---- clone ---- */

/*
 * A big copy lands in fresh memory, and on our (paravirtualised) machines
 * its 4 KiB page faults cost more than the copy: 7.6 MB (100k elements)
 * took 75-90 ms with small pages and ~18 ms with transparent huge pages
 * (compile.c does the same for its arrays). Advisory only.
 */
#define HUGE_PAGE ((uintptr_t)2 << 20)

static void *big_copy(const void *src, size_t n, size_t cap, size_t size)
{
	void *p = fwd_xreallocarray(NULL, cap ? cap : 1, size);
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)p + n * size) & ~(HUGE_PAGE - 1);

	if (n * size >= 4 * HUGE_PAGE && e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE);
	if (n)
		memcpy(p, src, n * size);
	return p;
}

/* The clone's copy of a file name of the original (cache: locs come in
 * runs). Names the original does not own are interned by content. */
struct remap {
	const struct fwd_ir *from;
	struct fwd_ir *to;
	const char *last_in, *last_out;
};

static const char *intern(struct fwd_ir *ir, const char *file)
{
	size_t i;

	for (i = 0; i < ir->nfiles; i++)
		if (strcmp(ir->files[i], file) == 0)
			return ir->files[i];
	ir->files = fwd_xreallocarray(ir->files, ir->nfiles + 1,
				      sizeof(*ir->files));
	ir->files[ir->nfiles] = fwd_xstrdup(file);
	return ir->files[ir->nfiles++];
}

static void remap_loc(struct remap *m, struct fwd_loc *l)
{
	const char *in = l->file;

	if (!in)
		return;
	if (in != m->last_in) {
		size_t i;

		for (i = 0; i < m->from->nfiles; i++)
			if (m->from->files[i] == in)
				break;
		m->last_out = i < m->from->nfiles ? m->to->files[i] :
			      intern(m->to, in);
		m->last_in = in;
	}
	l->file = m->last_out;
}

struct fwd_ir *fwd_ir_clone(const struct fwd_ir *ir)
{
	struct fwd_ir *c = fwd_xcalloc(1, sizeof(*c));
	struct remap m = { .from = ir, .to = c };

	c->recompile_at = ir->recompile_at;
	c->queue = ir->queue;
	c->prog = ir->prog;
	c->prog_text = ir->prog_text ? fwd_xstrdup(ir->prog_text) : NULL;
	/* The file names first: remap_loc points into them. */
	c->files = fwd_xreallocarray(NULL, ir->nfiles + 1, sizeof(*c->files));
	for (size_t i = 0; i < ir->nfiles; i++)
		c->files[i] = fwd_xstrdup(ir->files[i]);
	c->nfiles = ir->nfiles;
	if (ir->nclasses) {
		c->classes = fwd_xreallocarray(NULL, ir->nclasses,
					       sizeof(*c->classes));
		memcpy(c->classes, ir->classes, ir->nclasses * sizeof(*c->classes));
		c->nclasses = ir->nclasses;
		for (size_t i = 0; i < c->nclasses; i++)
			remap_loc(&m, &c->classes[i].loc);
	}

	c->sets = fwd_xreallocarray(NULL, ir->nsets + 1, sizeof(*c->sets));
	c->nsets = ir->nsets;
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];
		struct fwd_ir_set *t = &c->sets[i];

		*t = *s;
		t->elems = NULL;
		/* Headroom for live additions, as the compiler leaves (never
		 * touched, it costs no page). */
		t->cap = s->n ? s->n + s->n / 4 + 64 : 0;
		if (s->n)
			t->elems = big_copy(s->elems, s->n, t->cap,
					    sizeof(*t->elems));
		for (size_t k = 0; k < t->n; k++)
			remap_loc(&m, &t->elems[k].loc);
	}

	c->chains = fwd_xreallocarray(NULL, ir->nchains + 1,
				      sizeof(*c->chains));
	c->nchains = ir->nchains;
	for (size_t i = 0; i < ir->nchains; i++) {
		const struct fwd_ir_chain *s = &ir->chains[i];
		struct fwd_ir_chain *t = &c->chains[i];

		*t = *s;
		t->rules = NULL;
		t->cap = s->n;
		if (s->n) {
			t->rules = fwd_xreallocarray(NULL, s->n,
						     sizeof(*t->rules));
			memcpy(t->rules, s->rules, s->n * sizeof(*t->rules));
		}
		for (size_t k = 0; k < t->n; k++)
			remap_loc(&m, &t->rules[k].loc);
	}
	return c;
}

/* ---- the fast path of live additions ---- */

/* One change, to take back when a later edit needs the compiler. */
struct undo {
	unsigned set;
	size_t idx;
	bool inserted;			/* else removed: old is what was there */
	struct fwd_ir_elem old;
};

struct fast {
	struct fwd_ir *ir;
	const struct fwd_policy *p;
	uint64_t now;
	size_t nfiles0;			/* file names interned before */
	struct undo *undo;
	size_t nundo, undo_cap;
	struct elems *add, *del;	/* per set: the delta so far */
	struct list_ix *lix;		/* built by the first list-add of a batch */
};

static bool addr_ok(const struct fwd_addr *a)
{
	return (a->family == AF_INET && a->prefix <= 32) ||
	       (a->family == AF_INET6 && a->prefix <= 128);
}

static bool is_host(const struct fwd_addr *a)
{
	return (a->family == AF_INET && a->prefix == 32) ||
	       (a->family == AF_INET6 && a->prefix == 128);
}

static bool ports_ok(const struct fwd_ports *pr)
{
	return pr->lo != 0 && pr->lo <= pr->hi &&
	       (pr->proto == IPPROTO_TCP || pr->proto == IPPROTO_UDP);
}

static bool edit_live(const struct fwd_edit *e, uint64_t now)
{
	return e->expires == 0 || e->expires > now;
}

static bool expired(const struct fast *f, const struct fwd_ir_elem *e)
{
	return e->expires && e->expires <= f->now;
}

static bool loc_eq(const struct fwd_loc *a, const struct fwd_loc *b)
{
	if (a->line != b->line)
		return false;
	if (a->file == b->file)
		return true;
	return a->file && b->file && strcmp(a->file, b->file) == 0;
}

static u128 addr_u128(const uint8_t *a, unsigned len)
{
	u128 v = 0;

	for (unsigned i = 0; i < len; i++)
		v = (v << 8) | a[i];
	return v;
}

static void u128_bytes(u128 v, uint8_t *a, unsigned len)
{
	for (unsigned i = len; i-- > 0;) {
		a[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void fast_log(struct fast *f, unsigned set, size_t idx, bool inserted,
		     const struct fwd_ir_elem *old)
{
	struct undo *u;

	FWD_GROW(f->undo, f->undo_cap, f->nundo + 1);
	u = &f->undo[f->nundo++];
	memset(u, 0, sizeof(*u));
	u->set = set;
	u->idx = idx;
	u->inserted = inserted;
	if (old)
		u->old = *old;
}

static void raw_insert(struct fwd_ir_set *s, size_t idx,
		       const struct fwd_ir_elem *e)
{
	FWD_GROW(s->elems, s->cap, s->n + 1);
	memmove(&s->elems[idx + 1], &s->elems[idx],
		(s->n - idx) * sizeof(*s->elems));
	s->elems[idx] = *e;
	s->n++;
}

static void raw_remove(struct fwd_ir_set *s, size_t idx)
{
	memmove(&s->elems[idx], &s->elems[idx + 1],
		(s->n - idx - 1) * sizeof(*s->elems));
	s->n--;
}

static void fast_insert(struct fast *f, unsigned set, size_t idx,
			const struct fwd_ir_elem *e)
{
	raw_insert(&f->ir->sets[set], idx, e);
	fast_log(f, set, idx, true, NULL);
	elems_push(&f->add[set], e);
}

/* Take out element idx: a del, unless this batch added it (then the add
 * is dropped: the kernel never sees it). */
static void fast_remove(struct fast *f, unsigned set, size_t idx)
{
	struct fwd_ir_set *s = &f->ir->sets[set];
	const struct fwd_ir_elem *e = &s->elems[idx];
	struct elems *add = &f->add[set];
	size_t k;

	for (k = 0; k < add->n; k++)
		if (key_cmp(&add->v[k], e) == 0 &&
		    add->v[k].expires == e->expires)
			break;
	if (k < add->n)
		add->v[k] = add->v[--add->n];
	else
		elems_push(&f->del[set], e);
	fast_log(f, set, idx, false, e);
	raw_remove(s, idx);
}

static void fast_rollback(struct fast *f)
{
	while (f->nundo) {
		const struct undo *u = &f->undo[--f->nundo];
		struct fwd_ir_set *s = &f->ir->sets[u->set];

		if (u->inserted)
			raw_remove(s, u->idx);
		else
			raw_insert(s, u->idx, &u->old);
	}
	while (f->ir->nfiles > f->nfiles0)
		free(f->ir->files[--f->ir->nfiles]);
}

/* The first element not before e in set order. */
static size_t lower_bound(const struct fwd_ir_set *s,
			  const struct fwd_ir_elem *e)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (elem_cmp(&s->elems[mid], e) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * A word (new element e, its `expires`, its loc) meets an element that
 * already holds all of it: nothing changes when the old one expires later,
 * or as late and names the same word or one earlier in policy order. A
 * word last in policy order (an edit at the end) never names an element
 * it shares; a list member's word sits among the services, so with equal
 * expiry its loc might win: then the compiler decides.
 */
static int covered(const struct fwd_ir_elem *old, const struct fwd_ir_elem *e,
		   bool last)
{
	if (exp_inf(old->expires) > exp_inf(e->expires))
		return 0;
	if (old->expires == e->expires && (last || loc_eq(&old->loc, &e->loc)))
		return 0;
	return -EAGAIN;
}

/* A single key into a hash set: new, or a later expiry for it. */
static int fast_hash(struct fast *f, unsigned set, const struct fwd_ir_elem *e,
		     bool last)
{
	struct fwd_ir_set *s = &f->ir->sets[set];
	size_t idx = lower_bound(s, e);

	if (idx < s->n && elem_cmp(&s->elems[idx], e) == 0) {
		int ret;

		if (!expired(f, &s->elems[idx])) {
			ret = covered(&s->elems[idx], e, last);
			if (ret != -EAGAIN || s->elems[idx].expires == e->expires)
				return ret;
		}
		/* Gone already, or expiring sooner: the new word decides. */
		fast_remove(f, set, idx);
	}
	fast_insert(f, set, idx, e);
	return 0;
}

/*
 * One point (a host on one port) into an address . proto . port interval
 * set (the deny sets: few elements, so a linear look at all of them).
 * The sweep would add it as an element of its own unless an element holds
 * it, or an element of that port holds a neighbouring address with the
 * same expiry (the runs would unite), or the same single address on a
 * neighbouring port with the same expiry (the rectangle would grow).
 */
static int fast_point(struct fast *f, unsigned set, const struct fwd_ir_elem *e,
		      bool last)
{
	struct fwd_ir_set *s = &f->ir->sets[set];
	unsigned alen = fwd_ir_key_addr_len(s->key);
	u128 x = addr_u128(e->lo, alen);
	bool touch = false;

	for (size_t i = 0; i < s->n; i++) {
		const struct fwd_ir_elem *o = &s->elems[i];
		u128 lo = addr_u128(o->lo, alen), hi = addr_u128(o->hi, alen);
		bool port_in = o->plo <= e->plo && e->plo <= o->phi;

		if (o->proto != e->proto)
			continue;
		if (port_in && lo <= x && x <= hi)
			return expired(f, o) ? -EAGAIN : covered(o, e, last);
		if (expired(f, o) || o->expires != e->expires)
			continue;	/* gone, or a run of its own */
		if (port_in && (hi + 1 == x || x + 1 == lo))
			touch = true;
		if (lo == x && hi == x &&
		    ((uint32_t)o->phi + 1 == e->plo ||
		     (uint32_t)e->plo + 1 == o->plo))
			touch = true;
	}
	if (touch)
		return -EAGAIN;
	fast_insert(f, set, lower_bound(s, e), e);
	return 0;
}

/* An element's extent on the one axis of a block or open set: addresses,
 * or (proto << 16 | port) so that tcp and udp never touch. */
static u128 axis_lo(const struct fwd_ir_set *s, const struct fwd_ir_elem *e)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);

	return alen ? addr_u128(e->lo, alen) : (u128)e->proto << 16 | e->plo;
}

static u128 axis_hi(const struct fwd_ir_set *s, const struct fwd_ir_elem *e)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);

	return alen ? addr_u128(e->hi, alen) : (u128)e->proto << 16 | e->phi;
}

/*
 * A range into a one-axis interval set (block4/6, the open sets). The
 * elements are disjoint and sorted, so only the one before the range and
 * the first at or after its start can hold, cross or touch it. Touching
 * matters only with the same expiry (the runs would join).
 */
static int fast_range(struct fast *f, unsigned set, const struct fwd_ir_elem *e,
		      bool last)
{
	struct fwd_ir_set *s = &f->ir->sets[set];
	u128 a = axis_lo(s, e), b = axis_hi(s, e);
	size_t k = lower_bound(s, e);

	if (k > 0) {
		const struct fwd_ir_elem *o = &s->elems[k - 1];
		u128 hi = axis_hi(s, o);

		if (hi >= a) {
			if (hi < b || expired(f, o))
				return -EAGAIN;
			return covered(o, e, last);
		}
		if (hi + 1 == a && !expired(f, o) && o->expires == e->expires)
			return -EAGAIN;
	}
	if (k < s->n) {
		const struct fwd_ir_elem *o = &s->elems[k];
		u128 lo = axis_lo(s, o);

		if (lo <= b) {
			if (lo != a || axis_hi(s, o) < b || expired(f, o))
				return -EAGAIN;
			/* Exactly this range, ending sooner: a later word
			 * (a repeat offender's block, a longer timed open)
			 * raises its expiry, which is one element out and
			 * in again, as the compiler would have it, unless
			 * the raised one now meets its right neighbour's
			 * expiry (the left one was checked above). */
			if (last && axis_hi(s, o) == b &&
			    exp_inf(o->expires) < exp_inf(e->expires)) {
				const struct fwd_ir_elem *r = k + 1 < s->n ?
							      &s->elems[k + 1] : NULL;

				if (r && axis_lo(s, r) == b + 1 && !expired(f, r) &&
				    r->expires == e->expires)
					return -EAGAIN;
				fast_remove(f, set, k);
				fast_insert(f, set, k, e);
				return 0;
			}
			return covered(o, e, last);
		}
		if (lo == b + 1 && !expired(f, o) && o->expires == e->expires)
			return -EAGAIN;
	}
	fast_insert(f, set, k, e);
	return 0;
}

/* The element of a word, its loc pointing into the IR's own names. */
static struct fwd_ir_elem word_elem(struct fast *f, const struct fwd_loc *loc,
				    uint64_t expires)
{
	struct fwd_ir_elem e = { .expires = expires, .loc = *loc };

	if (loc->file)
		e.loc.file = intern(f->ir, loc->file);
	return e;
}

/* Host sets (hash) and deny sets (interval) per direction and family. */
static unsigned host_set(enum fwd_edit_kind k, enum fwd_dir dir, int family)
{
	bool out = dir == FWD_DIR_OUT, v4 = family == AF_INET;

	if (k == FWD_EDIT_DENY)
		return v4 ? (out ? FWD_SET_OUT_DENY4 : FWD_SET_DENY4) :
			    (out ? FWD_SET_OUT_DENY6 : FWD_SET_DENY6);
	return v4 ? (out ? FWD_SET_OUT_ALLOW4 : FWD_SET_ALLOW4) :
		    (out ? FWD_SET_OUT_ALLOW6 : FWD_SET_ALLOW6);
}

/* A host on a single port, allowed (hash set) or denied (interval set). */
static int fast_host(struct fast *f, enum fwd_edit_kind kind,
		     enum fwd_dir dir, const struct fwd_addr *a,
		     const struct fwd_ports *pr, const struct fwd_loc *loc,
		     uint64_t expires, bool last)
{
	unsigned set = host_set(kind, dir, a->family);
	unsigned alen = a->family == AF_INET ? 4 : 16;
	struct fwd_ir_elem e;

	if (!ports_ok(pr) || pr->lo != pr->hi)
		return -EAGAIN;
	e = word_elem(f, loc, expires);
	memcpy(e.lo, a->a, alen);
	memcpy(e.hi, a->a, alen);
	e.proto = pr->proto;
	e.plo = e.phi = pr->lo;
	if (kind == FWD_EDIT_DENY)
		return fast_point(f, set, &e, last);
	return fast_hash(f, set, &e, last);
}

static uint64_t exp_min(uint64_t a, uint64_t b)
{
	uint64_t m = exp_inf(a) < exp_inf(b) ? exp_inf(a) : exp_inf(b);

	return m == UINT64_MAX ? 0 : m;
}

static bool same_addr(const struct fwd_addr *a, const struct fwd_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/*
 * What a list-add asks of the other edits, looked up by hash once a batch
 * is big: the list edits in force by (list, address), and the allow/deny
 * edits in force that name a list. Scanning p->edits for every list-add
 * instead made a batch of n members into a policy with n edits O(n^2):
 * 100k IPv6 addresses in one `fwctl list add NAME -` took minutes.
 */
struct list_ix {
	size_t *slot;			/* edit index + 1; 0 empty */
	size_t mask;
	size_t *users;			/* allow/deny edits @list, policy order */
	size_t nusers;
};

/* Below this many added edits a scan is cheaper than building the index
 * (a single `fwctl list add` into a policy of 100k edits stays a scan). */
#define LIST_IX_MIN 16

static bool list_edit(const struct fwd_edit *o, uint64_t now)
{
	return (o->kind == FWD_EDIT_LIST_ADD || o->kind == FWD_EDIT_LIST_DEL) &&
	       edit_live(o, now);
}

static bool list_user(const struct fwd_edit *o, uint64_t now)
{
	return (o->kind == FWD_EDIT_ALLOW || o->kind == FWD_EDIT_DENY) &&
	       o->peer == FWD_PEER_LIST && edit_live(o, now);
}

/* The hash of (list, address) alone: add and del of a member collide. */
static size_t member_hash(const struct fwd_edit *e)
{
	struct fwd_edit k = { .kind = FWD_EDIT_LIST_ADD, .addr = e->addr };

	memcpy(k.list, e->list, sizeof(k.list));
	return (size_t)fwd_edit_hash(&k);
}

static bool same_member(const struct fwd_edit *a, const struct fwd_edit *b)
{
	return strncmp(a->list, b->list, sizeof(a->list)) == 0 &&
	       same_addr(&a->addr, &b->addr);
}

static struct list_ix *list_ix_build(const struct fwd_policy *p, uint64_t now)
{
	struct list_ix *x = fwd_xcalloc(1, sizeof(*x));
	size_t cap = 64, ucap = 0;

	while (cap < 2 * p->nedits)
		cap *= 2;
	x->slot = fwd_xcalloc(cap, sizeof(*x->slot));
	x->mask = cap - 1;
	for (size_t j = 0; j < p->nedits; j++) {
		const struct fwd_edit *o = &p->edits[j];
		size_t h;

		if (list_user(o, now)) {
			FWD_GROW(x->users, ucap, x->nusers + 1);
			x->users[x->nusers++] = j;
		}
		if (!list_edit(o, now))
			continue;
		for (h = member_hash(o) & x->mask; x->slot[h]; h = (h + 1) & x->mask)
			;
		x->slot[h] = j + 1;
	}
	return x;
}

static void list_ix_free(struct list_ix *x)
{
	if (!x)
		return;
	free(x->slot);
	free(x->users);
	free(x);
}

/* Another list edit in force names e's host for e's list. */
static bool member_named(const struct fast *f, size_t ei)
{
	const struct fwd_policy *p = f->p;
	const struct fwd_edit *e = &p->edits[ei];

	if (f->lix) {
		for (size_t h = member_hash(e) & f->lix->mask; f->lix->slot[h];
		     h = (h + 1) & f->lix->mask) {
			size_t j = f->lix->slot[h] - 1;

			if (j != ei && same_member(&p->edits[j], e))
				return true;
		}
		return false;
	}
	for (size_t j = 0; j < p->nedits; j++)
		if (j != ei && list_edit(&p->edits[j], f->now) &&
		    same_member(&p->edits[j], e))
			return true;
	return false;
}

/* The j-th allow/deny edit in force naming a list (any list), from
 * position *pos on; SIZE_MAX past the last. */
static size_t next_user(const struct fast *f, size_t *pos)
{
	const struct fwd_policy *p = f->p;

	if (f->lix)
		return *pos < f->lix->nusers ? f->lix->users[(*pos)++] : SIZE_MAX;
	while (*pos < p->nedits)
		if (list_user(&p->edits[(*pos)++], f->now))
			return *pos - 1;
	return SIZE_MAX;
}

/*
 * list-add NAME HOST: the host becomes a member of NAME wherever the list
 * is used. When no other edit in force names that host for that list, its
 * membership lasts until the edit expires, or for ever if it was a member
 * already (then its elements are permanent and stay as they are), so each
 * use of the list gains one word with the edit's expiry. Uses on port
 * ranges, and the member's own original words (which the compiler might
 * name first), are the compiler's business.
 */
static int fast_list_add(struct fast *f, size_t ei)
{
	const struct fwd_policy *p = f->p;
	const struct fwd_edit *e = &p->edits[ei];
	size_t li, pos = 0, j;
	int ret;

	if (!addr_ok(&e->addr) || !is_host(&e->addr))
		return -EAGAIN;
	if (member_named(f, ei))
		return -EAGAIN;
	/* The compiler's list by that name: the first (a new one when none). */
	for (li = 0; li < p->nlists; li++)
		if (strcmp(p->lists[li].name, e->list) == 0)
			break;
	for (size_t i = 0; li < p->nlists && i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t k = 0; k < sv->nallow; k++) {
			if (sv->allow[k].kind != FWD_PEER_LIST ||
			    sv->allow[k].list != li)
				continue;
			for (size_t pi = 0; pi < sv->nports; pi++) {
				ret = fast_host(f, FWD_EDIT_ALLOW, sv->dir,
						&e->addr, &sv->ports[pi], &e->loc,
						e->expires, false);
				if (ret)
					return ret;
			}
		}
	}
	while ((j = next_user(f, &pos)) != SIZE_MAX) {
		const struct fwd_edit *o = &p->edits[j];

		if (strcmp(o->list, e->list) != 0)
			continue;
		ret = fast_host(f, o->kind, o->dir, &e->addr, &o->ports,
				&e->loc, exp_min(o->expires, e->expires), false);
		if (ret)
			return ret;
	}
	return 0;
}

/* allow/deny from any: one proto . port range into an open set. */
static int fast_any(struct fast *f, const struct fwd_edit *e)
{
	bool out = e->dir == FWD_DIR_OUT;
	unsigned set = e->kind == FWD_EDIT_DENY ?
		       (out ? FWD_SET_OUT_DENY_OPEN : FWD_SET_DENY_OPEN) :
		       (out ? FWD_SET_OUT_OPEN : FWD_SET_OPEN);
	struct fwd_ir_elem x;

	if (!ports_ok(&e->ports))
		return -EAGAIN;
	x = word_elem(f, &e->loc, e->expires);
	x.proto = e->ports.proto;
	x.plo = e->ports.lo;
	x.phi = e->ports.hi;
	return fast_range(f, set, &x, true);
}

/* block ADDR|CIDR: one address range into block4/6. */
static int fast_block(struct fast *f, const struct fwd_edit *e)
{
	unsigned bits = e->addr.family == AF_INET ? 32 : 128, alen = bits / 8;
	u128 mask, net;
	struct fwd_ir_elem x;

	if (!addr_ok(&e->addr))
		return -EAGAIN;
	mask = e->addr.prefix == 0 ? (bits == 128 ? ~(u128)0 : (u128)UINT32_MAX) :
	       e->addr.prefix == bits ? 0 :
	       ((u128)1 << (bits - e->addr.prefix)) - 1;
	net = addr_u128(e->addr.a, alen) & ~mask;
	x = word_elem(f, &e->loc, e->expires);
	u128_bytes(net, x.lo, alen);
	u128_bytes(net | mask, x.hi, alen);
	return fast_range(f, e->addr.family == AF_INET ? FWD_SET_BLOCK4 :
			  FWD_SET_BLOCK6, &x, true);
}

static int fast_edit(struct fast *f, size_t ei)
{
	const struct fwd_edit *e = &f->p->edits[ei];

	if (!edit_live(e, f->now))
		return 0;	/* the compiler leaves it out too */
	/* A restricted allow goes to its class's sets (a new class: new
	 * sets and rules); the compiler knows where. */
	if (fwd_restrict_on(&e->rs))
		return -EAGAIN;
	switch (e->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		if (e->dir != FWD_DIR_IN && e->dir != FWD_DIR_OUT)
			return -EAGAIN;
		if (e->peer == FWD_PEER_ANY)
			return fast_any(f, e);
		if (e->peer != FWD_PEER_ADDR || !addr_ok(&e->addr) ||
		    !is_host(&e->addr))
			return -EAGAIN;
		return fast_host(f, e->kind, e->dir, &e->addr, &e->ports,
				 &e->loc, e->expires, true);
	case FWD_EDIT_BLOCK:
		return fast_block(f, e);
	case FWD_EDIT_LIST_ADD:
		return fast_list_add(f, ei);
	case FWD_EDIT_LIST_DEL:
		break;
	}
	return -EAGAIN;
}

/* Where e is in s (key and expiry), or s->n. */
static size_t find_exact(const struct fwd_ir_set *s, const struct fwd_ir_elem *e)
{
	size_t i = lower_bound(s, e);

	return i < s->n && key_cmp(&s->elems[i], e) == 0 &&
	       s->elems[i].expires == e->expires ? i : s->n;
}

static int undo_delta(struct fwd_ir *ir, const struct fwd_ir_delta *d,
		      const struct fwd_ir_shift *sh, size_t nsh);

int fwd_ir_delta_undo(struct fwd_ir *ir, const struct fwd_ir_delta *d)
{
	return undo_delta(ir, d, NULL, 0);
}

/* The same edit, field by field (a copy of the tail of p->edits). */
static bool edit_eq(const struct fwd_edit *a, const struct fwd_edit *b)
{
	return a->kind == b->kind && a->dir == b->dir &&
	       a->ports.proto == b->ports.proto && a->ports.lo == b->ports.lo &&
	       a->ports.hi == b->ports.hi && a->peer == b->peer &&
	       same_addr(&a->addr, &b->addr) &&
	       strncmp(a->list, b->list, sizeof(a->list)) == 0 &&
	       a->expires == b->expires && loc_eq(&a->loc, &b->loc) &&
	       fwd_restrict_eq(&a->rs, &b->rs);
}

/* The end of a fast path: its per-set changes, sorted, into `delta`
 * (NULL: dropped, after a rollback), and its scratch freed. */
static void fast_finish(struct fast *f, struct fwd_ir_delta *delta)
{
	for (size_t i = 0; i < f->ir->nsets; i++) {
		if (!delta) {
			free(f->add[i].v);
			free(f->del[i].v);
			continue;
		}
		if (f->add[i].n > 1)
			qsort(f->add[i].v, f->add[i].n, sizeof(*f->add[i].v), key_qcmp);
		if (f->del[i].n > 1)
			qsort(f->del[i].v, f->del[i].n, sizeof(*f->del[i].v), key_qcmp);
		delta_take(delta, (unsigned)i, &f->add[i], &f->del[i]);
	}
	free(f->add);
	free(f->del);
	free(f->undo);
}

int fwd_ir_fast_add(struct fwd_ir *ir, const struct fwd_policy *p,
		    const struct fwd_edit *added, size_t n, uint64_t now,
		    struct fwd_ir_delta *delta)
{
	struct fast f = { .ir = ir, .p = p, .now = now };
	size_t first;
	int ret = 0;

	memset(delta, 0, sizeof(*delta));
	if (!ir || !p || n > p->nedits || ir->nsets != FWD_SET_COUNT)
		return -EAGAIN;
	/* Something the timeouts cannot bring back is due: recompile. */
	if (ir->recompile_at && ir->recompile_at <= now)
		return -EAGAIN;
	/* The added edits must be the last in policy order. */
	first = p->nedits - n;
	if (added != p->edits + first)
		for (size_t i = 0; i < n; i++)
			if (!edit_eq(&added[i], &p->edits[first + i]))
				return -EAGAIN;

	f.nfiles0 = ir->nfiles;
	f.add = fwd_xcalloc(ir->nsets, sizeof(*f.add));
	f.del = fwd_xcalloc(ir->nsets, sizeof(*f.del));
	if (n >= LIST_IX_MIN)
		for (size_t i = first; i < p->nedits; i++)
			if (p->edits[i].kind == FWD_EDIT_LIST_ADD) {
				f.lix = list_ix_build(p, now);
				break;
			}
	for (size_t i = 0; i < n && !ret; i++)
		ret = fast_edit(&f, first + i);
	list_ix_free(f.lix);
	if (ret)
		fast_rollback(&f);
	fast_finish(&f, ret ? NULL : delta);
	return ret;
}

/* ---- the fast path of a reload ---- */

/*
 * fwctl reload after a list file changed: the policy is the same but for
 * some members of some lists, so the IR can be patched like a live edit
 * instead of being compiled again. Steps, each refusing (-EAGAIN, nothing
 * changed) what it cannot do exactly as the compiler would:
 *
 * 1. everything but list members is equal, locs included (a line added
 *    to the main file moves every loc after it: that is the compiler's);
 * 2. per list, the members that changed: a common head (same address and
 *    loc) and a common tail (same address and file, lines moved by one
 *    amount per file), the middle between them changed;
 * 3. words of removed members come out: an element named by a removed
 *    word goes, unless another word (a member outside the middles, an
 *    address peer, an edit) makes the same key, which only the compiler
 *    can name;
 * 4. the locs of the tail's members move with their lines;
 * 5. words of added members go in, each key new to its set.
 * Only host members used on single ports by allows (the hash sets) are
 * done so; a CIDR, a port range, a deny, a list edit on the same address,
 * an element already expired, or more than FAST_RELOAD_MAX changed
 * words, and the compiler does it.
 */

/* The patch is two passes over each set it touches, whatever the number
 * of changes, plus a sort of the words and a scan of the members; at 100k
 * elements it matched the compiler (warm memory) near 10k words. */
#define FAST_RELOAD_MAX 4096

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool ports_eq(const struct fwd_ports *a, const struct fwd_ports *b)
{
	return a->proto == b->proto && a->lo == b->lo && a->hi == b->hi &&
	       loc_eq(&a->loc, &b->loc);
}

static bool peer_eq(const struct fwd_peer *a, const struct fwd_peer *b)
{
	if (a->kind != b->kind || !loc_eq(&a->loc, &b->loc))
		return false;
	if (a->kind == FWD_PEER_ADDR)
		return same_addr(&a->addr, &b->addr);
	return a->kind != FWD_PEER_LIST || a->list == b->list;
}

/* [guard] and [defaults] queues decide whether and how packets are
 * queued: a change of either is a new table, never a member patch. */
static bool same_guard(const struct fwd_policy *a, const struct fwd_policy *b)
{
	const struct fwd_guard_conf *x = &a->guard, *y = &b->guard;

	if (a->queues != b->queues || x->on != y->on ||
	    x->scan_ports != y->scan_ports || x->scan_window != y->scan_window ||
	    x->flood_rate != y->flood_rate || x->flood_window != y->flood_window ||
	    x->block != y->block || x->prefix6 != y->prefix6 ||
	    x->max_blocked != y->max_blocked || x->nnever != y->nnever)
		return false;
	for (size_t i = 0; i < x->nnever; i++)
		if (!peer_eq(&x->never[i], &y->never[i]))
			return false;
	return true;
}

/* Everything the compiler reads but the lists' members. */
static bool same_frame(const struct fwd_policy *a, const struct fwd_policy *b)
{
	if (a->inbound != b->inbound || a->outbound != b->outbound ||
	    a->log != b->log || a->icmp != b->icmp ||
	    a->counters != b->counters ||
	    !loc_eq(&a->counters_loc, &b->counters_loc) ||
	    a->rpfilter != b->rpfilter ||
	    !loc_eq(&a->rpfilter_loc, &b->rpfilter_loc) ||
	    !loc_eq(&a->defaults_loc, &b->defaults_loc) ||
	    !loc_eq(&a->inbound_loc, &b->inbound_loc) ||
	    !loc_eq(&a->outbound_loc, &b->outbound_loc) ||
	    !loc_eq(&a->log_loc, &b->log_loc) ||
	    !loc_eq(&a->icmp_loc, &b->icmp_loc) ||
	    a->nlists != b->nlists || a->nservices != b->nservices ||
	    a->nedits != b->nedits || !same_guard(a, b))
		return false;
	for (size_t i = 0; i < a->nlists; i++)
		if (!str_eq(a->lists[i].name, b->lists[i].name) ||
		    !loc_eq(&a->lists[i].loc, &b->lists[i].loc))
			return false;
	for (size_t i = 0; i < a->nservices; i++) {
		const struct fwd_service *x = &a->services[i], *y = &b->services[i];

		if (!str_eq(x->name, y->name) || x->dir != y->dir ||
		    x->nports != y->nports || x->nallow != y->nallow ||
		    !loc_eq(&x->loc, &y->loc) || !fwd_restrict_eq(&x->rs, &y->rs) ||
		    !fwd_owners_eq(x, y))
			return false;
		for (size_t k = 0; k < x->nports; k++)
			if (!ports_eq(&x->ports[k], &y->ports[k]))
				return false;
		for (size_t k = 0; k < x->nallow; k++)
			if (!peer_eq(&x->allow[k], &y->allow[k]))
				return false;
	}
	for (size_t i = 0; i < a->nedits; i++)
		if (!edit_eq(&a->edits[i], &b->edits[i]))
			return false;
	return true;
}

/* The members of one list that changed: old [head, oend), new [head, nend). */
struct mdiff {
	size_t head, oend, nend;
};

/* Lines of a list file that moved: loc.line >= from (old numbering) in
 * `file` (the IR's name) becomes loc.line + by. */
struct shift_rule {
	const char *file;	/* the policy's, until interned */
	unsigned from;
	int by;
};

static bool add_shift(struct shift_rule *v, size_t *n, size_t cap,
		      const char *file, unsigned from, int by)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp(v[i].file, file) == 0)
			return v[i].from == from && v[i].by == by;
	if (*n == cap)
		return false;
	v[(*n)++] = (struct shift_rule){ file, from, by };
	return true;
}

/* a and b name the same file; (*la, *lb) is the last pair found equal. */
static bool same_file(const char *a, const char *b, const char **la,
		      const char **lb)
{
	if (a == *la && b == *lb)
		return true;
	if (!str_eq(a, b))
		return false;
	*la = a;
	*lb = b;
	return true;
}

/*
 * The head and the tail, and the tail's moves per file. false: the moves
 * disagree with another list's (the compiler then).
 */
#define MAX_SHIFTS 16

static bool list_diff(const struct fwd_list *o, const struct fwd_list *n,
		      struct mdiff *md, struct shift_rule *sh, size_t *nsh)
{
	struct { const char *file; int by; unsigned from; } seen[MAX_SHIFTS];
	size_t nseen = 0, h = 0, i = o->n, j = n->n;
	size_t min = o->n < n->n ? o->n : n->n;

	/* Names are compared once per pair of pointers (each policy interns
	 * its own), not once per member. */
	const char *fa = NULL, *fb = NULL;

	while (h < min && same_addr(&o->addrs[h], &n->addrs[h]) &&
	       o->locs[h].line == n->locs[h].line &&
	       same_file(o->locs[h].file, n->locs[h].file, &fa, &fb))
		h++;
	while (i > h && j > h) {
		const struct fwd_loc *a = &o->locs[i - 1], *b = &n->locs[j - 1];
		int by = (int)b->line - (int)a->line;
		size_t s;

		if (!same_addr(&o->addrs[i - 1], &n->addrs[j - 1]) || !a->file ||
		    !same_file(a->file, b->file, &fa, &fb))
			break;
		for (s = 0; s < nseen; s++)
			if (strcmp(seen[s].file, a->file) == 0)
				break;
		if (s == nseen) {
			if (nseen == MAX_SHIFTS)
				break;
			seen[nseen].file = a->file;
			seen[nseen++].by = by;
		} else if (seen[s].by != by) {
			break;
		}
		seen[s].from = a->line;
		i--;
		j--;
	}
	*md = (struct mdiff){ h, i, j };
	for (size_t s = 0; s < nseen; s++)
		if (seen[s].by && !add_shift(sh, nsh, MAX_SHIFTS, seen[s].file,
					     seen[s].from, seen[s].by))
			return false;
	return true;
}

/* One use of a list: a service's single port, or an edit's. */
struct use {
	unsigned set;
	uint8_t proto;
	uint16_t port;
	uint64_t expires;
	size_t o1, o2, o3;		/* policy order, as the compiler collects */
};

/* Where list li's members go (allow4/6 of a direction, single ports);
 * -EAGAIN when a use is anything else. The set is the v4 one: +family
 * picks the v6 set (host_set). */
static int list_uses(const struct fwd_policy *p, size_t li, uint64_t now,
		     struct use **out, size_t *nout)
{
	struct use *v = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t pi = 0; pi < sv->nports; pi++) {
			const struct fwd_ports *pr = &sv->ports[pi];

			for (size_t k = 0; k < sv->nallow; k++) {
				if (sv->allow[k].kind != FWD_PEER_LIST ||
				    sv->allow[k].list != li)
					continue;
				if (!ports_ok(pr) || pr->lo != pr->hi ||
				    (sv->dir != FWD_DIR_IN && sv->dir != FWD_DIR_OUT))
					goto again;
				FWD_GROW(v, cap, n + 1);
				v[n++] = (struct use){
					.set = host_set(FWD_EDIT_ALLOW, sv->dir, AF_INET),
					.proto = pr->proto, .port = pr->lo,
					.o1 = i, .o2 = pi, .o3 = k,
				};
			}
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind != FWD_EDIT_ALLOW && e->kind != FWD_EDIT_DENY) ||
		    e->peer != FWD_PEER_LIST || !edit_live(e, now) ||
		    strcmp(e->list, p->lists[li].name) != 0)
			continue;
		if (e->kind != FWD_EDIT_ALLOW || !ports_ok(&e->ports) ||
		    e->ports.lo != e->ports.hi ||
		    (e->dir != FWD_DIR_IN && e->dir != FWD_DIR_OUT))
			goto again;
		FWD_GROW(v, cap, n + 1);
		v[n++] = (struct use){
			.set = host_set(FWD_EDIT_ALLOW, e->dir, AF_INET),
			.proto = e->ports.proto, .port = e->ports.lo,
			.expires = e->expires, .o1 = p->nservices + i,
		};
	}
	*out = v;
	*nout = n;
	return 0;
again:
	free(v);
	return -EAGAIN;
}

static unsigned use_set(const struct use *u, const struct fwd_addr *a)
{
	/* host_set's v6 twin of a v4 allow set */
	if (a->family == AF_INET)
		return u->set;
	return u->set == FWD_SET_ALLOW4 ? FWD_SET_ALLOW6 : FWD_SET_OUT_ALLOW6;
}

/* One word of a changed member: where it goes and how it ranks. */
struct word {
	unsigned set;
	struct fwd_ir_elem e;
	size_t o1, o2, o3, o4;		/* policy order */
};

static int word_key_cmp(const void *pa, const void *pb)
{
	const struct word *a = pa, *b = pb;

	if (a->set != b->set)
		return a->set < b->set ? -1 : 1;
	return elem_cmp(&a->e, &b->e);
}

/* Better: expires later, then first in policy order. */
static bool word_better(const struct word *a, const struct word *b)
{
	if (exp_inf(a->e.expires) != exp_inf(b->e.expires))
		return exp_inf(a->e.expires) > exp_inf(b->e.expires);
	if (a->o1 != b->o1)
		return a->o1 < b->o1;
	if (a->o2 != b->o2)
		return a->o2 < b->o2;
	if (a->o3 != b->o3)
		return a->o3 < b->o3;
	return a->o4 < b->o4;
}

/* The words of members [from, to) of list li (hosts only). */
static int member_words(const struct fwd_list *l, size_t from, size_t to,
			const struct use *u, size_t nu, struct word **v,
			size_t *n, size_t *cap)
{
	for (size_t m = from; m < to; m++) {
		const struct fwd_addr *a = &l->addrs[m];
		unsigned alen = a->family == AF_INET ? 4 : 16;

		if (!addr_ok(a) || !is_host(a))
			return -EAGAIN;
		for (size_t k = 0; k < nu; k++) {
			struct word *w;

			FWD_GROW(*v, *cap, *n + 1);
			w = &(*v)[(*n)++];
			memset(w, 0, sizeof(*w));
			w->set = use_set(&u[k], a);
			memcpy(w->e.lo, a->a, alen);
			memcpy(w->e.hi, a->a, alen);
			w->e.proto = u[k].proto;
			w->e.plo = w->e.phi = u[k].port;
			w->e.expires = u[k].expires;
			w->e.loc = l->locs[m];
			w->o1 = u[k].o1;
			w->o2 = u[k].o2;
			w->o3 = u[k].o3;
			w->o4 = m;
		}
	}
	return 0;
}

/* ---- an address set, for "is this host anywhere else" ---- */

struct hostset {
	struct fwd_addr *v;		/* family 0: empty slot */
	size_t mask;
};

static size_t host_hash(const struct fwd_addr *a)
{
	uint64_t h = 1469598103934665603ull ^ a->family;
	unsigned len = a->family == AF_INET ? 4 : 16;

	for (unsigned i = 0; i < len; i++)
		h = (h ^ a->a[i]) * 1099511628211ull;
	return (size_t)(h ^ (h >> 29));
}

static void hostset_init(struct hostset *hs, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	hs->v = fwd_xcalloc(cap, sizeof(*hs->v));
	hs->mask = cap - 1;
}

/* Insert (true if new) or look up (insert false). */
static bool hostset_has(struct hostset *hs, const struct fwd_addr *a,
			bool insert)
{
	for (size_t i = host_hash(a) & hs->mask;; i = (i + 1) & hs->mask) {
		if (!hs->v[i].family) {
			if (insert)
				hs->v[i] = *a;
			return false;
		}
		if (same_addr(&hs->v[i], a))
			return !insert;
	}
}

/*
 * Does a word outside the changed members make key (set, host, proto,
 * port)? `elsewhere` holds the candidate hosts found in a list outside
 * its middle, per list (bit i of lists[]).
 */
struct others {
	const struct fwd_policy *p;
	const struct mdiff *md;
	uint64_t now;
	struct hostset cand;		/* the hosts asked about */
	struct fwd_addr *hit_addr;	/* (list, host) found outside middles */
	size_t *hit_list;
	size_t nhit, hit_cap;
};

static void others_scan(struct others *o)
{
	const struct fwd_policy *p = o->p;

	for (size_t li = 0; li < p->nlists; li++) {
		const struct fwd_list *l = &p->lists[li];

		for (size_t m = 0; m < l->n; m++) {
			if (m == o->md[li].head && o->md[li].nend > m)
				m = o->md[li].nend;
			if (m >= l->n)
				break;
			if (!is_host(&l->addrs[m]) ||
			    !hostset_has(&o->cand, &l->addrs[m], false))
				continue;
			FWD_GROW(o->hit_addr, o->hit_cap, o->nhit + 1);
			o->hit_list = fwd_xreallocarray(o->hit_list, o->hit_cap,
							sizeof(*o->hit_list));
			o->hit_addr[o->nhit] = l->addrs[m];
			o->hit_list[o->nhit++] = li;
		}
	}
}

static bool list_has(const struct others *o, size_t li, const struct fwd_addr *a)
{
	for (size_t i = 0; i < o->nhit; i++)
		if (o->hit_list[i] == li && same_addr(&o->hit_addr[i], a))
			return true;
	return false;
}

static size_t list_index(const struct fwd_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nlists; i++)
		if (strcmp(p->lists[i].name, name) == 0)
			return i;
	return p->nlists;
}

static bool word_elsewhere(const struct others *o, const struct word *w,
			   const struct fwd_addr *a)
{
	const struct fwd_policy *p = o->p;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t pi = 0; pi < sv->nports; pi++) {
			const struct fwd_ports *pr = &sv->ports[pi];

			if (pr->proto != w->e.proto || pr->lo != w->e.plo ||
			    pr->hi != w->e.plo ||
			    host_set(FWD_EDIT_ALLOW, sv->dir, a->family) != w->set)
				continue;
			for (size_t k = 0; k < sv->nallow; k++) {
				const struct fwd_peer *pe = &sv->allow[k];

				if ((pe->kind == FWD_PEER_ADDR && same_addr(&pe->addr, a)) ||
				    (pe->kind == FWD_PEER_LIST && list_has(o, pe->list, a)))
					return true;
			}
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind != FWD_EDIT_ALLOW || !edit_live(e, o->now) ||
		    e->ports.proto != w->e.proto || e->ports.lo != w->e.plo ||
		    e->ports.hi != w->e.plo ||
		    host_set(FWD_EDIT_ALLOW, e->dir, a->family) != w->set)
			continue;
		if ((e->peer == FWD_PEER_ADDR && same_addr(&e->addr, a)) ||
		    (e->peer == FWD_PEER_LIST &&
		     list_has(o, list_index(p, e->list), a)))
			return true;
	}
	return false;
}

static struct fwd_addr word_addr(const struct word *w)
{
	struct fwd_addr a = { 0 };
	bool v6 = w->set == FWD_SET_ALLOW6 || w->set == FWD_SET_OUT_ALLOW6;

	a.family = v6 ? AF_INET6 : AF_INET;
	a.prefix = v6 ? 128 : 32;
	memcpy(a.a, w->e.lo, v6 ? 16 : 4);
	return a;
}

static void shift_apply(struct fwd_ir *ir, const struct fwd_ir_shift *sh,
			size_t nsh, bool back)
{
	for (size_t r = 0; r < nsh; r++) {
		const char *f = sh[r].file;
		unsigned from = back ? (unsigned)((int)sh[r].from + sh[r].by) :
				       sh[r].from;
		int by = back ? -sh[r].by : sh[r].by;

		for (size_t i = 0; i < ir->nsets; i++) {
			struct fwd_ir_set *s = &ir->sets[i];

			for (size_t k = 0; k < s->n; k++)
				if (s->elems[k].loc.file == f &&
				    s->elems[k].loc.line >= from)
					s->elems[k].loc.line =
						(unsigned)((int)s->elems[k].loc.line + by);
		}
	}
}

void fwd_ir_reload_free(struct fwd_ir_reload *r)
{
	if (!r)
		return;
	fwd_ir_delta_free(&r->delta);
	free(r->shifts);
	memset(r, 0, sizeof(*r));
}

/* A live list edit names this host (its membership is theirs). */
static bool list_edit_names(const struct fwd_policy *p, const struct fwd_addr *a,
			    uint64_t now)
{
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind == FWD_EDIT_LIST_ADD || e->kind == FWD_EDIT_LIST_DEL) &&
		    edit_live(e, now) && same_addr(&e->addr, a))
			return true;
	}
	return false;
}

static int reload_words(const struct fwd_policy *op, const struct fwd_policy *np,
			const struct mdiff *md, uint64_t now, struct word **ow,
			size_t *now_n, struct word **nw, size_t *nnw)
{
	size_t ocap = 0, ncap = 0;
	int ret = 0;

	*ow = *nw = NULL;
	*now_n = *nnw = 0;
	for (size_t li = 0; li < np->nlists && !ret; li++) {
		struct use *u;
		size_t nu;

		if (md[li].oend == md[li].head && md[li].nend == md[li].head)
			continue;
		ret = list_uses(np, li, now, &u, &nu);
		if (ret)
			break;
		for (size_t m = md[li].head; m < md[li].oend && !ret; m++)
			if (list_edit_names(np, &op->lists[li].addrs[m], now))
				ret = -EAGAIN;
		for (size_t m = md[li].head; m < md[li].nend && !ret; m++)
			if (list_edit_names(np, &np->lists[li].addrs[m], now))
				ret = -EAGAIN;
		if (!ret)
			ret = member_words(&op->lists[li], md[li].head, md[li].oend,
					   u, nu, ow, now_n, &ocap);
		if (!ret)
			ret = member_words(&np->lists[li], md[li].head, md[li].nend,
					   u, nu, nw, nnw, &ncap);
		free(u);
	}
	if (!ret && (*now_n > FAST_RELOAD_MAX || *nnw > FAST_RELOAD_MAX))
		ret = -EAGAIN;
	return ret;
}

/*
 * What a fast reload does to one set, decided before anything changes:
 * the indices of the elements that go (ascending) and the elements that
 * come (in set order). Applied in two passes over the set, whatever the
 * number of changes: one compacting out, one merging in from the end.
 */
struct patch {
	size_t *out;
	size_t nout, out_cap;
	struct fwd_ir_elem *in;
	size_t nin, in_cap;
};

static bool patch_takes(const struct patch *pt, size_t idx)
{
	size_t lo = 0, hi = pt->nout;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (pt->out[mid] < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < pt->nout && pt->out[lo] == idx;
}

/* Which elements the removed words take out (step 3). */
static int plan_remove(const struct fwd_ir *ir, const struct fwd_policy *np,
		       const struct mdiff *md, uint64_t now, struct word *ow,
		       size_t now_n, struct patch *pt)
{
	struct others o = { .p = np, .md = md, .now = now };
	bool scanned = false;
	int ret = 0;

	if (now_n > 1)
		qsort(ow, now_n, sizeof(*ow), word_key_cmp);
	hostset_init(&o.cand, now_n);
	for (size_t i = 0; i < now_n; i++) {
		struct fwd_addr a = word_addr(&ow[i]);

		hostset_has(&o.cand, &a, true);
	}
	for (size_t i = 0, j; i < now_n && !ret; i = j) {
		const struct fwd_ir_set *s = &ir->sets[ow[i].set];
		struct patch *p = &pt[ow[i].set];
		size_t idx = lower_bound(s, &ow[i].e);
		bool named = false;
		struct fwd_addr a;

		for (j = i + 1; j < now_n && word_key_cmp(&ow[i], &ow[j]) == 0; j++)
			;
		if (idx == s->n || elem_cmp(&s->elems[idx], &ow[i].e) != 0) {
			ret = -EAGAIN;	/* not what the compiler built */
			break;
		}
		for (size_t k = i; k < j; k++)
			named |= loc_eq(&s->elems[idx].loc, &ow[k].e.loc);
		if (!named)
			continue;	/* another word names it: it stays */
		if (!scanned) {
			others_scan(&o);
			scanned = true;
		}
		a = word_addr(&ow[i]);
		if (word_elsewhere(&o, &ow[i], &a)) {
			ret = -EAGAIN;	/* which one names it: the compiler's */
			break;
		}
		FWD_GROW(p->out, p->out_cap, p->nout + 1);
		p->out[p->nout++] = idx;	/* ascending: words are in key order */
	}
	free(o.cand.v);
	free(o.hit_addr);
	free(o.hit_list);
	return ret;
}

/* Which elements the added words bring (step 5): each key new to its set
 * once the planned removals are out. */
static int plan_add(struct fwd_ir *ir, struct word *nw, size_t nnw,
		    struct patch *pt)
{
	struct fast f = { .ir = ir };

	if (nnw > 1)
		qsort(nw, nnw, sizeof(*nw), word_key_cmp);
	for (size_t i = 0, j; i < nnw; i = j) {
		const struct word *best = &nw[i];
		const struct fwd_ir_set *s = &ir->sets[nw[i].set];
		struct patch *p = &pt[nw[i].set];
		struct fwd_ir_elem e;
		size_t idx;

		for (j = i + 1; j < nnw && word_key_cmp(&nw[i], &nw[j]) == 0; j++)
			if (word_better(&nw[j], best))
				best = &nw[j];
		idx = lower_bound(s, &best->e);
		if (idx < s->n && elem_cmp(&s->elems[idx], &best->e) == 0 &&
		    !patch_takes(p, idx))
			return -EAGAIN;
		e = word_elem(&f, &best->e.loc, best->e.expires);
		memcpy(e.lo, best->e.lo, sizeof(e.lo));
		memcpy(e.hi, best->e.hi, sizeof(e.hi));
		e.proto = best->e.proto;
		e.plo = e.phi = best->e.plo;
		FWD_GROW(p->in, p->in_cap, p->nin + 1);
		p->in[p->nin++] = e;
	}
	return 0;
}

/* The planned removals out of s (kept, in order, in *gone). */
static void patch_out(struct fwd_ir_set *s, const struct patch *p,
		      struct fwd_ir_elem **gone)
{
	size_t w = 0, from = 0;

	*gone = fwd_xreallocarray(NULL, p->nout + 1, sizeof(**gone));
	for (size_t r = 0; r <= p->nout; r++) {
		size_t until = r < p->nout ? p->out[r] : s->n;

		if (w != from && until > from)
			memmove(&s->elems[w], &s->elems[from],
				(until - from) * sizeof(*s->elems));
		w += until - from;
		if (r < p->nout)
			(*gone)[r] = s->elems[until];
		from = until + 1;
	}
	s->n = w;
}

/* The planned additions into s, merged from the end (each moves once). */
static void patch_in(struct fwd_ir_set *s, const struct patch *p)
{
	size_t i = s->n, w = s->n + p->nin, k = p->nin;

	if (s->cap < w) {
		s->cap = w + w / 4 + 64;
		s->elems = fwd_xreallocarray(s->elems, s->cap, sizeof(*s->elems));
	}
	while (k > 0) {
		if (i > 0 && elem_cmp(&s->elems[i - 1], &p->in[k - 1]) > 0)
			s->elems[--w] = s->elems[--i];
		else
			s->elems[--w] = p->in[--k];
	}
	s->n += p->nin;
}

int fwd_ir_fast_reload(struct fwd_ir *ir, const struct fwd_policy *op,
		       const struct fwd_policy *np, uint64_t now,
		       struct fwd_ir_reload *r)
{
	struct fast f = { .ir = ir, .p = np, .now = now };
	struct shift_rule sh[MAX_SHIFTS];
	struct word *ow = NULL, *nw = NULL;
	size_t nsh = 0, now_n = 0, nnw = 0, nfiles0 = ir ? ir->nfiles : 0;
	struct patch *pt = NULL;
	struct mdiff *md = NULL;
	bool changed = false;
	int ret = -EAGAIN;

	memset(r, 0, sizeof(*r));
	if (!ir || !op || !np || ir->nsets != FWD_SET_COUNT ||
	    (ir->recompile_at && ir->recompile_at <= now) || !same_frame(op, np))
		return -EAGAIN;
	md = fwd_xcalloc(np->nlists + 1, sizeof(*md));
	for (size_t i = 0; i < np->nlists; i++) {
		if (!list_diff(&op->lists[i], &np->lists[i], &md[i], sh, &nsh))
			goto out;
		changed |= md[i].oend > md[i].head || md[i].nend > md[i].head;
	}
	if (!changed && !nsh) {
		ret = 0;	/* the same policy: nothing to do */
		goto out;
	}
	/* An element gone by now: the compiler leaves it out, this would
	 * not (and a key in the way might be one). */
	for (size_t i = 0; i < ir->nsets; i++)
		for (size_t k = 0; k < ir->sets[i].n; k++)
			if (expired(&f, &ir->sets[i].elems[k]))
				goto out;
	ret = reload_words(op, np, md, now, &ow, &now_n, &nw, &nnw);
	if (ret)
		goto out;

	/* Decide everything, change nothing... */
	pt = fwd_xcalloc(ir->nsets, sizeof(*pt));
	ret = plan_remove(ir, np, md, now, ow, now_n, pt);
	if (!ret)
		ret = plan_add(ir, nw, nnw, pt);
	if (ret) {
		while (ir->nfiles > nfiles0)
			free(ir->files[--ir->nfiles]);
		goto out;
	}
	/* ... then do it: out (the dels keep their old lines), lines moved,
	 * in (the adds have their new ones). */
	for (size_t i = 0; i < ir->nsets; i++) {
		struct elems add = { 0 }, del = { 0 };

		if (pt[i].nout)
			patch_out(&ir->sets[i], &pt[i], &del.v);
		del.n = pt[i].nout;
		if (pt[i].nin) {
			add.v = fwd_xreallocarray(NULL, pt[i].nin, sizeof(*add.v));
			memcpy(add.v, pt[i].in, pt[i].nin * sizeof(*add.v));
			add.n = pt[i].nin;
		}
		delta_take(&r->delta, (unsigned)i, &add, &del);
	}
	if (nsh) {
		r->shifts = fwd_xcalloc(nsh, sizeof(*r->shifts));
		for (size_t i = 0; i < nsh; i++)
			r->shifts[i] = (struct fwd_ir_shift){
				intern(ir, sh[i].file), sh[i].from, sh[i].by };
		r->nshifts = nsh;
		shift_apply(ir, r->shifts, nsh, false);
	}
	for (size_t i = 0; i < ir->nsets; i++)
		if (pt[i].nin)
			patch_in(&ir->sets[i], &pt[i]);
	r->words_removed = now_n;
	r->words_added = nnw;
out:
	for (size_t i = 0; pt && i < ir->nsets; i++) {
		free(pt[i].out);
		free(pt[i].in);
	}
	free(pt);
	free(ow);
	free(nw);
	free(md);
	return ret;
}

/*
 * Take a delta back from ir (and the loc moves that came with it): check
 * first (all or nothing), then adds out (a reshaped range and its old
 * piece may share a lower corner), then the moved lines back before the
 * removed elements return (their old lines may be at or past a tail's new
 * start), then dels in. Two passes per set, like the patch itself.
 */
static int undo_delta(struct fwd_ir *ir, const struct fwd_ir_delta *d,
		      const struct fwd_ir_shift *sh, size_t nsh)
{
	struct patch *pt;

	for (size_t k = 0; k < d->nsets; k++) {
		const struct fwd_ir_delta_set *ds = &d->sets[k];

		if (ds->set >= ir->nsets)
			return -EINVAL;
		for (size_t i = 0; i < ds->nadd; i++)
			if (find_exact(&ir->sets[ds->set], &ds->add[i]) ==
			    ir->sets[ds->set].n)
				return -EINVAL;
	}
	pt = fwd_xcalloc(d->nsets + 1, sizeof(*pt));
	for (size_t k = 0; k < d->nsets; k++) {
		const struct fwd_ir_delta_set *ds = &d->sets[k];
		struct fwd_ir_set *s = &ir->sets[ds->set];
		struct fwd_ir_elem *gone;

		if (!ds->nadd)
			continue;
		pt[k].out = fwd_xreallocarray(NULL, ds->nadd, sizeof(*pt[k].out));
		for (size_t i = 0; i < ds->nadd; i++)
			pt[k].out[i] = find_exact(s, &ds->add[i]);
		pt[k].nout = ds->nadd;	/* adds are in set order: so are these */
		patch_out(s, &pt[k], &gone);
		free(gone);
	}
	shift_apply(ir, sh, nsh, true);
	for (size_t k = 0; k < d->nsets; k++) {
		const struct fwd_ir_delta_set *ds = &d->sets[k];

		pt[k].in = ds->del;
		pt[k].nin = ds->ndel;
		if (ds->ndel)
			patch_in(&ir->sets[ds->set], &pt[k]);
		free(pt[k].out);
	}
	free(pt);
	return 0;
}

int fwd_ir_reload_undo(struct fwd_ir *ir, const struct fwd_ir_reload *r)
{
	return undo_delta(ir, &r->delta, r->shifts, r->nshifts);
}
