// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ruleset IR's own helpers (ir.h): what its keys are, finding a set or
 * chain by name, freeing an IR, and comparing elements (the order every
 * set is sorted in, whether an element holds a packet). The compiler
 * (compile.c), the fast paths (live.c), the renderer (render.c) and
 * kmod-hooks build on them; this file calls none of them.
 */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

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
