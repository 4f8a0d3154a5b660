// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ruleset IR's own helpers (ir.h): what its keys are, finding a set or
 * chain by name, freeing an IR, and comparing elements (the order every
 * set is sorted in, whether an element holds a packet), and the kernel's
 * layout of a chain (which rules go into which kernel chain, which are
 * left out while their set is empty). The compiler
 * (compile.c), the fast paths (live.c), the renderer (render.c) and
 * kmod-hooks build on them; this file calls none of them.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include <linux/netfilter.h>

const char *fwd_ir_key_type(enum fwd_ir_key k)
{
	switch (k) {
	case FWD_KEY_ADDR4_PROTO_PORT:
		return "ipv4_addr . inet_proto . inet_service";
	case FWD_KEY_ADDR6_PROTO_PORT:
		return "ipv6_addr . inet_proto . inet_service";
	case FWD_KEY_PROTO_PORT:
		return "inet_proto . inet_service";
	case FWD_KEY_ADDR4:
		return "ipv4_addr";
	case FWD_KEY_ADDR6:
		return "ipv6_addr";
	case FWD_KEY_UID_ADDR4_PROTO_PORT:
		return "uid . ipv4_addr . inet_proto . inet_service";
	case FWD_KEY_UID_ADDR6_PROTO_PORT:
		return "uid . ipv6_addr . inet_proto . inet_service";
	case FWD_KEY_CG_ADDR4_PROTO_PORT:
		return "cgroupsv2 . ipv4_addr . inet_proto . inet_service";
	case FWD_KEY_CG_ADDR6_PROTO_PORT:
		return "cgroupsv2 . ipv6_addr . inet_proto . inet_service";
	}
	return "?";
}

unsigned fwd_ir_key_addr_len(enum fwd_ir_key k)
{
	switch (k) {
	case FWD_KEY_ADDR4_PROTO_PORT:
	case FWD_KEY_ADDR4:
	case FWD_KEY_UID_ADDR4_PROTO_PORT:
	case FWD_KEY_CG_ADDR4_PROTO_PORT:
		return 4;
	case FWD_KEY_ADDR6_PROTO_PORT:
	case FWD_KEY_ADDR6:
	case FWD_KEY_UID_ADDR6_PROTO_PORT:
	case FWD_KEY_CG_ADDR6_PROTO_PORT:
		return 16;
	case FWD_KEY_PROTO_PORT:
		break;
	}
	return 0;
}

bool fwd_ir_key_has_port(enum fwd_ir_key k)
{
	return k != FWD_KEY_ADDR4 && k != FWD_KEY_ADDR6;
}

unsigned fwd_ir_key_id_len(enum fwd_ir_key k)
{
	switch (k) {
	case FWD_KEY_UID_ADDR4_PROTO_PORT:
	case FWD_KEY_UID_ADDR6_PROTO_PORT:
		return 4;
	case FWD_KEY_CG_ADDR4_PROTO_PORT:
	case FWD_KEY_CG_ADDR6_PROTO_PORT:
		return 8;
	default:
		return 0;
	}
}

struct fwd_ir_set *fwd_ir_set_find(const struct fwd_ir *ir, const char *name)
{
	for (size_t i = 0; ir && i < ir->nsets; i++)
		if (strcmp(ir->sets[i].name, name) == 0)
			return &ir->sets[i];
	return NULL;
}

struct fwd_ir_chain *fwd_ir_chain_find(const struct fwd_ir *ir,
				       const char *name)
{
	for (size_t i = 0; ir && i < ir->nchains; i++)
		if (strcmp(ir->chains[i].name, name) == 0)
			return &ir->chains[i];
	return NULL;
}

void fwd_ir_free(struct fwd_ir *ir)
{
	if (!ir)
		return;
	for (size_t i = 0; i < ir->nsets; i++)
		free(ir->sets[i].elems);
	for (size_t i = 0; i < ir->nchains; i++)
		free(ir->chains[i].rules);
	for (size_t i = 0; i < ir->nfiles; i++)
		free(ir->files[i]);
	free(ir->files);
	free(ir->sets);
	free(ir->chains);
	free(ir->classes);
	free(ir->prog_text);
	free(ir);
}

const struct fwd_ir_class *fwd_ir_class_of_set(const struct fwd_ir *ir,
					       unsigned i)
{
	for (size_t k = 0; k < ir->nclasses; k++)
		if (ir->classes[k].set4 == i || ir->classes[k].set6 == i)
			return &ir->classes[k];
	return NULL;
}

int fwd_ir_class_format(const struct fwd_ir_class *k, char *buf, size_t len)
{
	struct fwd_restrict r = { .limit_n = k->limit_n, .limit_w = k->limit_w };

	snprintf(r.ifname, sizeof(r.ifname), "%s", k->ifname);
	return fwd_restrict_format(&r, buf, len);
}

int fwd_ir_elem_cmp(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b)
{
	int c;

	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	c = memcmp(a->lo, b->lo, sizeof(a->lo));

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	return a->plo < b->plo ? -1 : a->plo > b->plo;
}

bool fwd_ir_elem_has(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		     const uint8_t addr[16], uint8_t proto, uint16_t port)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);

	if (alen && (memcmp(addr, e->lo, alen) < 0 ||
		     memcmp(addr, e->hi, alen) > 0))
		return false;
	if (fwd_ir_key_has_port(s->key) &&
	    (proto != e->proto || port < e->plo || port > e->phi))
		return false;
	return true;
}

/* ---- the kernel's layout of a chain (ir.h, "The chains in the kernel") ---- */

static bool head_rule(const struct fwd_ir_rule *r)
{
	return r->nm == 1 && (r->m[0].kind == FWD_M_IIF_LO ||
			      r->m[0].kind == FWD_M_OIF_LO);
}

static bool has_lookup(const struct fwd_ir_rule *r)
{
	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++)
		if (r->m[i].kind == FWD_M_LOOKUP_SRC ||
		    r->m[i].kind == FWD_M_LOOKUP_DST)
			return true;
	return false;
}

bool fwd_ir_chain_split(const struct fwd_ir_chain *c, size_t *head,
			size_t *tail)
{
	size_t h = 0, t = c->n;

	while (h < c->n && head_rule(&c->rules[h]))
		h++;
	while (t > h && !has_lookup(&c->rules[t - 1]))
		t--;
	if (head)
		*head = h;
	if (tail)
		*tail = t;
	return h < t;
}

int fwd_ir_part_name(const struct fwd_ir_chain *c, enum fwd_ir_part p,
		     char *buf, size_t len)
{
	const char *stem = c->name;

	if (p == FWD_PART_BASE)
		return snprintf(buf, len, "%s", c->name);
	if (strcmp(c->name, "input") == 0)
		stem = "in";
	else if (strcmp(c->name, "output") == 0)
		stem = "out";
	return snprintf(buf, len, "%s%c", stem, p == FWD_PART_V4 ? '4' : '6');
}

unsigned fwd_ir_rule_families(const struct fwd_ir *ir,
			      const struct fwd_ir_rule *r)
{
	unsigned fam = FWD_FAM_V4 | FWD_FAM_V6;

	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &r->m[i];
		unsigned alen;

		switch (m->kind) {
		case FWD_M_NFPROTO:
		case FWD_M_METER:
		case FWD_M_CLASS_METER:
			fam &= m->u32 == NFPROTO_IPV4 ? FWD_FAM_V4 :
			       m->u32 == NFPROTO_IPV6 ? FWD_FAM_V6 : 0;
			break;
		case FWD_M_ICMP_TYPES:
			fam &= FWD_FAM_V4;
			break;
		case FWD_M_ICMPV6_TYPES:
			fam &= FWD_FAM_V6;
			break;
		case FWD_M_LOOKUP_SRC:
		case FWD_M_LOOKUP_DST:
			if (m->set >= ir->nsets)
				break;
			alen = fwd_ir_key_addr_len(ir->sets[m->set].key);
			if (alen)
				fam &= alen == 4 ? FWD_FAM_V4 : FWD_FAM_V6;
			break;
		default:
			break;
		}
	}
	/* A rule no packet of either family can match (never built): keep
	 * it in both rather than lose it. */
	return fam ? fam : FWD_FAM_V4 | FWD_FAM_V6;
}

bool fwd_ir_rule_live(const struct fwd_ir *ir, const struct fwd_ir_rule *r,
		      const bool *empty)
{
	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &r->m[i];

		if ((m->kind != FWD_M_LOOKUP_SRC && m->kind != FWD_M_LOOKUP_DST) ||
		    m->set >= ir->nsets)
			continue;
		if (empty ? empty[m->set] : ir->sets[m->set].n == 0)
			return false;
	}
	return true;
}

size_t fwd_ir_part_rules(const struct fwd_ir *ir, const struct fwd_ir_chain *c,
			 enum fwd_ir_part p, const bool *empty, long *out)
{
	size_t head, tail, n = 0;
	bool split = fwd_ir_chain_split(c, &head, &tail);

	if (!split) {
		if (p != FWD_PART_BASE)
			return 0;
		head = tail = c->n;
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct fwd_ir_rule *r = &c->rules[i];
		bool mid = i >= head && i < tail;

		if (p == FWD_PART_BASE && split && i == head) {
			if (out) {
				out[n] = FWD_KJUMP4;
				out[n + 1] = FWD_KJUMP6;
			}
			n += 2;
		}
		if (mid != (p != FWD_PART_BASE))
			continue;
		if (mid && !(fwd_ir_rule_families(ir, r) &
			     (p == FWD_PART_V4 ? FWD_FAM_V4 : FWD_FAM_V6)))
			continue;
		if (!fwd_ir_rule_live(ir, r, empty))
			continue;
		if (out)
			out[n] = (long)i;
		n++;
	}
	return n;
}

bool fwd_ir_rule_first_copy(const struct fwd_ir *ir,
			    const struct fwd_ir_chain *c, size_t ri,
			    enum fwd_ir_part p)
{
	size_t head, tail;

	if (p != FWD_PART_V6 || !fwd_ir_chain_split(c, &head, &tail) ||
	    ri < head || ri >= tail)
		return true;
	return !(fwd_ir_rule_families(ir, &c->rules[ri]) & FWD_FAM_V4);
}

const struct fwd_ir_count *fwd_ir_counts_part(const struct fwd_ir_counts *cn,
					      const struct fwd_ir *ir, size_t c,
					      enum fwd_ir_part p, size_t i)
{
	const struct fwd_ir_chain *ch;

	if (!cn || c >= cn->nchains || c >= ir->nchains)
		return NULL;
	ch = &ir->chains[c];
	if (i >= ch->n)
		return NULL;
	if (cn->part[p] && cn->part[p][c])
		return &cn->part[p][c][i];
	if (cn->rule && cn->rule[c] && fwd_ir_rule_first_copy(ir, ch, i, p))
		return &cn->rule[c][i];
	return NULL;
}
