// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * outbound services' owners (user =, unit =) -> the owner sets and their
 * rules in the IR (outbound.h).
 *
 * Each (owner, port range, destination) is a box in (owner id, address,
 * proto, port) space. The kernel's pipapo sets want no two elements to
 * overlap, so per owner id and protocol the port axis is cut at every
 * range's start and end; in each elementary segment the destinations
 * covering it are united (overlapping and touching ranges merged). The
 * elements are few (owner rules name a handful of ports), so this plain
 * O(cuts x boxes) sweep is enough; the big lists stay in the plain sets.
 */
#include "outbound.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>

#include "util.h"

typedef unsigned __int128 u128;

struct box {
	uint64_t id;
	u128 lo, hi;
	uint8_t proto;
	uint16_t plo, phi;
	const struct fwd_loc *loc;
	size_t ord;
};

struct boxes {
	struct box *v;
	size_t n, cap;
};

static u128 from_bytes(const uint8_t *b, unsigned len)
{
	u128 v = 0;

	for (unsigned i = 0; i < len; i++)
		v = v << 8 | b[i];
	return v;
}

static void to_bytes(u128 v, uint8_t *b, unsigned len)
{
	for (unsigned i = len; i-- > 0; v >>= 8)
		b[i] = (uint8_t)v;
}

bool fwd_policy_has_owners(const struct fwd_policy *p)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		if (p->services[i].nowners)
			return true;
	return false;
}

bool fwd_policy_has_programs(const struct fwd_policy *p)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++)
			if (p->services[i].owners[k].kind == FWD_OWNER_PROGRAM)
				return true;
	return false;
}

bool fwd_policy_has_units(const struct fwd_policy *p)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++)
			if (p->services[i].owners[k].kind == FWD_OWNER_UNIT)
				return true;
	return false;
}

static bool str_same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

bool fwd_owners_eq(const struct fwd_service *a, const struct fwd_service *b)
{
	if (a->nowners != b->nowners)
		return false;
	for (size_t k = 0; k < a->nowners; k++) {
		const struct fwd_owner *x = &a->owners[k], *y = &b->owners[k];

		if (x->kind != y->kind || x->uid != y->uid ||
		    !str_same(x->name, y->name) || x->loc.line != y->loc.line ||
		    !str_same(x->loc.file, y->loc.file))
			return false;
	}
	return true;
}

bool fwd_policy_has_user_names(const struct fwd_policy *p)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++) {
			const struct fwd_owner *o = &p->services[i].owners[k];

			if (o->kind == FWD_OWNER_USER &&
			    strspn(o->name, "0123456789") != strlen(o->name))
				return true;
		}
	return false;
}

void fwd_owner_warnings(const struct fwd_policy *p, struct fwd_diags *w)
{
	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++) {
			const struct fwd_owner *o = &p->services[i].owners[k];
			char q[FWD_QUOTE_BUF(64)];

			if (o->kind != FWD_OWNER_USER || o->uid != FWD_UID_NONE)
				continue;
			fwd_diags_add(w, o->loc.file, o->loc.line, "warning: user '%s' does "
				      "not exist (yet): service '%s' lets nobody out "
				      "for it until it does (fwd looks it up again "
				      "when /etc/passwd changes)",
				      fwd_quote(q, o->name, strlen(o->name), 64),
				      p->services[i].name);
		}
}

/* ---- units' cgroups (the paths: unitpath.c) ---- */

bool fwd_policy_unit_component(const struct fwd_policy *p, const char *name)
{
	size_t nl = strlen(name);

	for (size_t i = 0; p && i < p->nservices; i++)
		for (size_t k = 0; k < p->services[i].nowners; k++) {
			const struct fwd_owner *o = &p->services[i].owners[k];
			char path[FWD_UNIT_PATH_MAX];
			unsigned lv;

			if (o->kind != FWD_OWNER_UNIT ||
			    fwd_unit_cgroup_path(o->name, strlen(o->name), path,
						 sizeof(path), &lv, NULL, 0) != 0)
				continue;
			for (const char *c = path; c;) {
				const char *e = strchr(c, '/');
				size_t cn = e ? (size_t)(e - c) : strlen(c);

				if (cn == nl && memcmp(c, name, nl) == 0)
					return true;
				c = e ? e + 1 : NULL;
			}
		}
	return false;
}

/* ---- collecting boxes ---- */

static void box_add(struct boxes *b, uint64_t id, const struct fwd_addr *a,
		    const struct fwd_ports *pr, const struct fwd_loc *loc)
{
	unsigned bits = a->family == AF_INET ? 32 : 128;
	u128 net = from_bytes(a->a, bits / 8), mask;

	mask = a->prefix >= bits ? 0 :
	       a->prefix == 0 ? (bits == 128 ? ~(u128)0 : (u128)UINT32_MAX) :
	       ((u128)1 << (bits - a->prefix)) - 1;
	FWD_GROW(b->v, b->cap, b->n + 1);
	b->v[b->n] = (struct box){
		.id = id, .lo = net & ~mask, .hi = (net & ~mask) | mask,
		.proto = pr->proto, .plo = pr->lo, .phi = pr->hi, .loc = loc,
		.ord = b->n,
	};
	b->n++;
}

/* Every destination of one service, for one owner, into the v4/v6 boxes. */
static void service_boxes(const struct fwd_policy *p,
			  const struct fwd_service *sv, uint64_t id,
			  const struct fwd_loc *oloc, struct boxes bx[2])
{
	static const struct fwd_addr any4 = { .family = AF_INET };
	static const struct fwd_addr any6 = { .family = AF_INET6 };

	for (size_t pi = 0; pi < sv->nports; pi++) {
		const struct fwd_ports *pr = &sv->ports[pi];

		for (size_t ai = 0; ai < sv->nallow; ai++) {
			const struct fwd_peer *pe = &sv->allow[ai];
			const struct fwd_list *l;

			switch (pe->kind) {
			case FWD_PEER_ANY:
				/* The element names the owner's line. */
				box_add(&bx[0], id, &any4, pr, oloc);
				box_add(&bx[1], id, &any6, pr, oloc);
				break;
			case FWD_PEER_ADDR:
				box_add(&bx[pe->addr.family == AF_INET6], id,
					&pe->addr, pr, &pe->loc);
				break;
			case FWD_PEER_LIST:
				if (pe->list >= p->nlists)
					break;
				l = &p->lists[pe->list];
				for (size_t i = 0; i < l->n; i++)
					box_add(&bx[l->addrs[i].family == AF_INET6],
						id, &l->addrs[i], pr, &l->locs[i]);
				break;
			}
		}
	}
}

/* ---- normalising: disjoint elements ---- */

static int box_cmp(const void *pa, const void *pb)
{
	const struct box *a = pa, *b = pb;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->lo != b->lo)
		return a->lo < b->lo ? -1 : 1;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int u32_cmp(const void *pa, const void *pb)
{
	uint32_t a = *(const uint32_t *)pa, b = *(const uint32_t *)pb;

	return a < b ? -1 : a > b;
}

static int elem_qcmp(const void *a, const void *b)
{
	return fwd_ir_elem_cmp(a, b);
}

/* The IR's own copy of a file name (ir.h: locs point into ir->files). */
static struct fwd_loc ir_loc(struct fwd_ir *ir, const struct fwd_loc *l)
{
	size_t i;

	if (!l->file)
		return *l;
	for (i = 0; i < ir->nfiles; i++)
		if (strcmp(ir->files[i], l->file) == 0)
			return (struct fwd_loc){ ir->files[i], l->line };
	ir->files = fwd_xreallocarray(ir->files, ir->nfiles + 1,
				      sizeof(*ir->files));
	ir->files[ir->nfiles] = fwd_xstrdup(l->file);
	return (struct fwd_loc){ ir->files[ir->nfiles++], l->line };
}

static void elem_push(struct fwd_ir *ir, struct fwd_ir_set *s, const struct box *b,
		      u128 lo, u128 hi, uint16_t plo, uint16_t phi)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	struct fwd_ir_elem *e;

	FWD_GROW(s->elems, s->cap, s->n + 1);
	e = &s->elems[s->n++];
	memset(e, 0, sizeof(*e));
	e->id = b->id;
	to_bytes(lo, e->lo, alen);
	to_bytes(hi, e->hi, alen);
	e->proto = b->proto;
	e->plo = plo;
	e->phi = phi;
	e->loc = ir_loc(ir, b->loc);
}

/* One (id, proto) group [g0, g1) of sorted boxes: segment by segment, the
 * address ranges covering it united. */
static void norm_group(struct fwd_ir *ir, struct fwd_ir_set *s,
		       const struct box *v, size_t g0, size_t g1)
{
	size_t ncut = 0;
	uint32_t *cut = fwd_xreallocarray(NULL, 2 * (g1 - g0), sizeof(*cut));

	for (size_t i = g0; i < g1; i++) {
		cut[ncut++] = v[i].plo;
		cut[ncut++] = (uint32_t)v[i].phi + 1;
	}
	qsort(cut, ncut, sizeof(*cut), u32_cmp);
	for (size_t c = 0; c + 1 < ncut; c++) {
		uint32_t lo = cut[c], hi = cut[c + 1] - 1;
		const struct box *run = NULL;
		u128 rlo = 0, rhi = 0;

		if (cut[c] == cut[c + 1])
			continue;
		/* Boxes are sorted by address: a linear union. */
		for (size_t i = g0; i < g1; i++) {
			const struct box *b = &v[i];

			if (b->plo > lo || b->phi < hi)
				continue;
			if (run && (rhi == ~(u128)0 || b->lo <= rhi + 1)) {
				if (b->hi > rhi)
					rhi = b->hi;
				if (b->ord < run->ord)
					run = b;
				continue;
			}
			if (run)
				elem_push(ir, s, run, rlo, rhi, (uint16_t)lo,
					  (uint16_t)hi);
			run = b;
			rlo = b->lo;
			rhi = b->hi;
		}
		if (run)
			elem_push(ir, s, run, rlo, rhi, (uint16_t)lo, (uint16_t)hi);
	}
	free(cut);
}

static void fill_set(struct fwd_ir *ir, struct fwd_ir_set *s, struct boxes *b)
{
	size_t g0 = 0;

	/* No qsort of an empty (NULL) array: UBSan calls that an error. */
	if (b->n > 1)
		qsort(b->v, b->n, sizeof(*b->v), box_cmp);
	while (g0 < b->n) {
		size_t g1 = g0;

		while (g1 < b->n && b->v[g1].id == b->v[g0].id &&
		       b->v[g1].proto == b->v[g0].proto)
			g1++;
		norm_group(ir, s, b->v, g0, g1);
		g0 = g1;
	}
	if (s->n > 1)
		qsort(s->elems, s->n, sizeof(*s->elems), elem_qcmp);
}

/* ---- the sets and rules ---- */

static const struct {
	const char *name;
	enum fwd_ir_key key;
} owner_sets[] = {
	[FWD_SET_OUT_USER4 - FWD_SET_COUNT] = { "out_user4", FWD_KEY_UID_ADDR4_PROTO_PORT },
	[FWD_SET_OUT_USER6 - FWD_SET_COUNT] = { "out_user6", FWD_KEY_UID_ADDR6_PROTO_PORT },
	[FWD_SET_OUT_UNIT4 - FWD_SET_COUNT] = { "out_unit4", FWD_KEY_CG_ADDR4_PROTO_PORT },
	[FWD_SET_OUT_UNIT6 - FWD_SET_COUNT] = { "out_unit6", FWD_KEY_CG_ADDR6_PROTO_PORT },
	[FWD_SET_OUT_PROG4 - FWD_SET_COUNT] = { "out_prog4", FWD_KEY_ADDR4_PROTO_PORT },
	[FWD_SET_OUT_PROG6 - FWD_SET_COUNT] = { "out_prog6", FWD_KEY_ADDR6_PROTO_PORT },
};

const char *fwd_ir_owner_set(unsigned i, enum fwd_ir_key *key)
{
	if (i < FWD_SET_COUNT || i >= FWD_SET_COUNT_OWNERS)
		return NULL;
	*key = owner_sets[i - FWD_SET_COUNT].key;
	return owner_sets[i - FWD_SET_COUNT].name;
}

/*
 * The four lookups go after the last accepting lookup of the output chain
 * (the plain out_allow sets), so fwctl's `deny ... to` (earlier) still
 * wins and the log + drop (later) still ends the chain.
 */
/*
 * The program rules (outbound.h): right after the user and unit lookups,
 * a new flow to a program service's destinations goes to the program
 * queue. `ct state new` as in the guard's queue step: established and
 * invalid packets are gone by now, untracked ones must not be queued.
 * In front of each queue rule the same match through the per-owner meter
 * (ir.h, FWD_M_PROG_METER): a user opening more new program flows than
 * [defaults] program_limit has them dropped (and counted) in the kernel,
 * so the queue keeps room for everybody else's. Only flows the queue
 * would get spend the user's budget.
 * In front of both, the same match on flows carrying fwd's conntrack
 * label (ir.h, FWD_M_CT_LABEL), accepted: the verdict loop labels a UDP
 * flow once it accepted its first datagram, and a UDP flow stays `new`
 * until the peer answers, so without this every datagram of a one-way
 * client (syslog, statsd, a DNS retransmit) would be queued, decided
 * again and, past program_limit, dropped. The label is tested before the
 * lookup: a packet without it (every TCP SYN) pays a conntrack load and
 * a compare, no lookup. Labelled flows neither spend the meter nor reach
 * the queue.
 */
#define PROG_RULES 3	/* per family: label accept, meter drop, queue */

static void prog_rules(struct fwd_ir_chain *ch, size_t set, size_t at)
{
	FWD_GROW(ch->rules, ch->cap, ch->n + 2 * PROG_RULES);
	memmove(&ch->rules[at + 2 * PROG_RULES], &ch->rules[at],
		(ch->n - at) * sizeof(*ch->rules));
	for (unsigned k = 0; k < 2 * PROG_RULES; k++) {
		struct fwd_ir_rule *r = &ch->rules[at + k];
		unsigned step = k % PROG_RULES;

		memset(r, 0, sizeof(*r));
		r->m[r->nm].kind = FWD_M_CT_STATE;
		r->m[r->nm++].u32 = NF_CT_STATE_BIT(IP_CT_NEW);
		if (step == 0) {
			r->m[r->nm].kind = FWD_M_CT_LABEL;
			r->m[r->nm++].u32 = FWD_CT_LABEL_BIT;
		}
		r->m[r->nm].kind = FWD_M_LOOKUP_DST;
		r->m[r->nm++].set = (unsigned)(set + k / PROG_RULES);
		r->counter = true;
		r->verdict = FWD_V_QUEUE_PROG;
		if (step == 0)
			r->verdict = FWD_V_ACCEPT;
		if (step == 1) {
			r->m[r->nm++].kind = FWD_M_PROG_METER;
			r->verdict = FWD_V_DROP;
		}
	}
	ch->n += 2 * PROG_RULES;
}

/*
 * user4, user6, then unit4 and unit6 at each level in `levels` (bit L:
 * a unit's cgroup at level L; ascending, so the common system.slice
 * units come first; level 2 alone when the policy names no unit, the
 * table's shape without units).
 */
static void owner_rules(struct fwd_ir *ir, size_t base, size_t nsets,
			uint64_t levels)
{
	struct fwd_ir_chain *ch = &ir->chains[FWD_CHAIN_OUTPUT];
	size_t at = ch->n, nr = 2, k = 0;

	if (!levels)
		levels = 1ull << FWD_UNIT_CGROUP_LEVEL;
	nr += 2 * (size_t)__builtin_popcountll(levels);
	for (size_t i = 0; i < ch->n; i++) {
		const struct fwd_ir_rule *r = &ch->rules[i];

		if (r->verdict == FWD_V_ACCEPT && r->nm == 1 &&
		    r->m[0].kind == FWD_M_LOOKUP_DST)
			at = i + 1;
	}
	FWD_GROW(ch->rules, ch->cap, ch->n + nr);
	memmove(&ch->rules[at + nr], &ch->rules[at],
		(ch->n - at) * sizeof(*ch->rules));
	for (unsigned lv = 0; k < nr; lv++) {
		if (k >= 2 && !(levels & (1ull << lv)))
			continue;
		for (unsigned f = 0; f < 2; f++, k++) {
			struct fwd_ir_rule *r = &ch->rules[at + k];
			unsigned set = (unsigned)(base + (k < 2 ? k : 2 + f));

			memset(r, 0, sizeof(*r));
			r->nm = 1;
			r->m[0].kind = FWD_M_LOOKUP_DST;
			r->m[0].set = set;
			if (k >= 2)
				r->m[0].u32 = lv;
			r->counter = true;
			r->verdict = FWD_V_ACCEPT;
		}
	}
	ch->n += nr;
	if (nsets > 4)
		prog_rules(ch, base + 4, at + nr);
}

static int unit_error(struct fwd_diags *d, const struct fwd_owner *o, int ret)
{
	if (ret == -EOPNOTSUPP)
		fwd_diags_add(d, o->loc.file, o->loc.line, "unit '%s': this host "
			      "has no cgroup2 hierarchy mounted (cgroup v1), so "
			      "the kernel cannot match units; use user = instead",
			      o->name);
	else
		fwd_diags_add(d, o->loc.file, o->loc.line, "unit '%s': cannot "
			      "find its cgroup: %s", o->name, strerror(-ret));
	return ret;
}

int fwd_outbound_compile(const struct fwd_policy *p, struct fwd_ir *ir,
			 fwd_unit_id_fn unit_id, void *unit_arg,
			 struct fwd_diags *d)
{
	/* user4, user6, unit4, unit6, prog4, prog6 */
	struct boxes bx[6] = { { 0 } };
	size_t nsets = fwd_policy_has_programs(p) ? 6 : 4;
	uint64_t levels = 0;	/* bit L: a unit at cgroup level L */
	int ret = 0;

	if (!fwd_policy_has_owners(p))
		return 0;
	/* The owner sets go after every other set: the fixed ones and the
	 * restricted classes' (compile.c), which are numbered before them. */
	if (ir->nsets < FWD_SET_COUNT || ir->nchains != FWD_CHAIN_COUNT)
		return -EINVAL;
	for (size_t i = 0; i < p->nservices && !ret; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t k = 0; k < sv->nowners && !ret; k++) {
			const struct fwd_owner *o = &sv->owners[k];
			uint64_t id = o->uid;

			if (o->kind == FWD_OWNER_PROGRAM) {
				/* The kernel cannot tell the program: the
				 * destinations go to the queue (id 0). */
				service_boxes(p, sv, 0, &o->loc, &bx[4]);
				continue;
			}
			if (o->kind == FWD_OWNER_UNIT) {
				char path[FWD_UNIT_PATH_MAX];
				unsigned lv;

				/* The parser checked the word: a level. */
				if (fwd_unit_cgroup_path(o->name, strlen(o->name),
							 path, sizeof(path), &lv,
							 NULL, 0) == 0)
					levels |= 1ull << lv;
				id = 0;
				if (unit_id)
					ret = unit_id(unit_arg, o->name, &id);
				if (ret) {
					unit_error(d, o, ret);
					break;
				}
				if (id == 0)
					continue;	/* not running: no element */
			} else if (o->kind == FWD_OWNER_USER && id == FWD_UID_NONE) {
				continue;	/* no such user yet: no element */
			} else if (o->kind != FWD_OWNER_USER) {
				fwd_diags_add(d, o->loc.file, o->loc.line,
					      "service %s: owner not supported",
					      sv->name);
				ret = -EINVAL;
				break;
			}
			service_boxes(p, sv, id, &o->loc,
				      &bx[o->kind == FWD_OWNER_UNIT ? 2 : 0]);
		}
	}
	if (!ret) {
		size_t base = ir->nsets;

		ir->sets = fwd_xreallocarray(ir->sets, base + nsets,
					     sizeof(*ir->sets));
		for (unsigned k = 0; k < nsets; k++) {
			struct fwd_ir_set *s = &ir->sets[base + k];

			memset(s, 0, sizeof(*s));
			snprintf(s->name, sizeof(s->name), "%s", owner_sets[k].name);
			s->key = owner_sets[k].key;
			s->interval = true;
			s->timeout = true;	/* as every set: ir.h */
			s->counter = p->counters;
			fill_set(ir, s, &bx[k]);
		}
		ir->nsets = base + nsets;
		if (p->outbound != FWD_ALLOW)
			owner_rules(ir, base, nsets, levels);
	}
	for (unsigned k = 0; k < 6; k++)
		free(bx[k].v);
	return ret;
}

const struct fwd_ir_elem *fwd_owner_lookup(const struct fwd_ir_set *s,
					   const struct fwd_explain_who *who,
					   const uint8_t *addr, uint8_t proto,
					   uint16_t port)
{
	unsigned idl = fwd_ir_key_id_len(s->key);
	uint64_t id;

	if (!who || (idl == 4 && !who->has_uid) || (idl == 8 && !who->cgroup))
		return NULL;
	id = idl == 4 ? who->uid : who->cgroup;
	for (size_t i = 0; i < s->n; i++)
		if (s->elems[i].id == id &&
		    fwd_ir_elem_has(s, &s->elems[i], addr, proto, port))
			return &s->elems[i];
	return NULL;
}

const struct fwd_ir_elem *fwd_owner_lookup_at(const struct fwd_ir_set *s,
					      unsigned level,
					      const struct fwd_explain_who *who,
					      const uint8_t *addr, uint8_t proto,
					      uint16_t port)
{
	if (who && who->cglevel && fwd_ir_key_id_len(s->key) == 8 &&
	    level != who->cglevel)
		return NULL;
	return fwd_owner_lookup(s, who, addr, proto, port);
}
