// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Two IRs compared as a state file keeps them (ir-same.h): used by the
 * state file fuzzer and by the state unit suite.
 */
#include "ir-same.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

__attribute__((format(printf, 3, 4)))
static bool differ(char *what, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, len, fmt, ap);
	va_end(ap);
	return false;
}

static bool same_elem(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b)
{
	return memcmp(a->lo, b->lo, sizeof(a->lo)) == 0 &&
	       memcmp(a->hi, b->hi, sizeof(a->hi)) == 0 && a->proto == b->proto &&
	       a->plo == b->plo && a->phi == b->phi && a->loc.line == b->loc.line &&
	       a->expires == b->expires && a->id == b->id;
}

static bool same_sets(const struct fwd_ir *a, const struct fwd_ir *b,
		      char *what, size_t len)
{
	for (size_t i = 0; i < a->nsets; i++) {
		const struct fwd_ir_set *x = &a->sets[i], *y = &b->sets[i];

		if (strncmp(x->name, y->name, sizeof(x->name)) != 0 ||
		    x->key != y->key || x->interval != y->interval ||
		    x->timeout != y->timeout || x->counter != y->counter ||
		    x->n != y->n)
			return differ(what, len, "set %s (%zu)", x->name, i);
		for (size_t j = 0; j < x->n; j++)
			if (!same_elem(&x->elems[j], &y->elems[j]))
				return differ(what, len, "set %s element %zu", x->name, j);
	}
	return true;
}

static bool same_match(const struct fwd_ir_match *x, const struct fwd_ir_match *y)
{
	return x->kind == y->kind && x->u32 == y->u32 && x->u32b == y->u32b &&
	       x->set == y->set && x->ntypes == y->ntypes &&
	       memcmp(x->types, y->types, sizeof(x->types)) == 0;
}

static bool same_rule(const struct fwd_ir_rule *x, const struct fwd_ir_rule *y)
{
	if (x->nm != y->nm || x->counter != y->counter || x->log != y->log ||
	    strncmp(x->log_prefix, y->log_prefix, sizeof(x->log_prefix)) != 0 ||
	    x->verdict != y->verdict || x->loc.line != y->loc.line ||
	    x->nm > FWD_IR_MAX_MATCH)
		return false;
	for (unsigned k = 0; k < x->nm; k++)
		if (!same_match(&x->m[k], &y->m[k]))
			return false;
	return true;
}

static bool same_chains(const struct fwd_ir *a, const struct fwd_ir *b,
			char *what, size_t len)
{
	for (size_t i = 0; i < a->nchains; i++) {
		const struct fwd_ir_chain *x = &a->chains[i], *y = &b->chains[i];

		if (strncmp(x->name, y->name, sizeof(x->name)) != 0 ||
		    x->hook != y->hook || x->prio != y->prio ||
		    x->policy_accept != y->policy_accept || x->n != y->n)
			return differ(what, len, "chain %s (%zu)", x->name, i);
		for (size_t j = 0; j < x->n; j++)
			if (!same_rule(&x->rules[j], &y->rules[j]))
				return differ(what, len, "chain %s rule %zu", x->name, j);
	}
	return true;
}

static bool same_class(const struct fwd_ir_class *x, const struct fwd_ir_class *y)
{
	return strncmp(x->name, y->name, sizeof(x->name)) == 0 && x->out == y->out &&
	       strncmp(x->ifname, y->ifname, sizeof(x->ifname)) == 0 &&
	       x->limit_n == y->limit_n && x->limit_w == y->limit_w &&
	       x->rate == y->rate && x->period_s == y->period_s &&
	       x->burst == y->burst && x->set4 == y->set4 && x->set6 == y->set6 &&
	       x->loc.line == y->loc.line;
}

static bool same_queue(const struct fwd_ir_queue *x, const struct fwd_ir_queue *y)
{
	return x->on == y->on && x->native == y->native && x->num == y->num &&
	       x->total == y->total && x->meter == y->meter && x->fanout == y->fanout &&
	       x->rate == y->rate &&
	       x->period_s == y->period_s && x->burst == y->burst;
}

bool fwd_test_ir_same(const struct fwd_ir *a, const struct fwd_ir *b,
		      char *what, size_t len)
{
	struct fwd_ir_delta d;
	bool kernel_same;

	if (a->nsets != b->nsets || a->nchains != b->nchains ||
	    a->nclasses != b->nclasses)
		return differ(what, len, "the number of sets, chains or classes");
	fwd_ir_diff(a, b, &d);
	kernel_same = !d.shape_changed && d.nadd == 0 && d.ndel == 0;
	fwd_ir_delta_free(&d);
	if (!kernel_same)
		return differ(what, len, "what the kernel sees (fwd_ir_diff)");
	if (!same_sets(a, b, what, len) || !same_chains(a, b, what, len))
		return false;
	for (size_t i = 0; i < a->nclasses; i++)
		if (!same_class(&a->classes[i], &b->classes[i]))
			return differ(what, len, "class %s (%zu)", a->classes[i].name, i);
	if (!same_queue(&a->queue, &b->queue))
		return differ(what, len, "the guard's queue step");
	if (!same_queue(&a->prog, &b->prog) ||
	    (a->prog.on && strcmp(a->prog_text ? a->prog_text : "",
				  b->prog_text ? b->prog_text : "") != 0))
		return differ(what, len, "the program queue or its rules");
	return true;
}
