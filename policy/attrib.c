// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Element counters -> the policy words they came from (attrib.h): what
 * `fwctl stats` sums per service, list and edit. Pure: the daemon reads
 * the counters back from the kernel and hands them here element by element.
 */
#include "attrib.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edit.h"
#include "util.h"

struct own_ref {
	const char *file;
	unsigned line;
	enum fwd_own_kind kind;
	size_t idx;
};

const char *const fwd_own_kind_name[] = {
	[FWD_OWN_SERVICE] = "service", [FWD_OWN_LIST] = "list", [FWD_OWN_EDIT] = "edit",
	[FWD_OWN_OTHER] = "other",
};

const char *const fwd_own_kind_json[] = {
	[FWD_OWN_SERVICE] = "services", [FWD_OWN_LIST] = "lists", [FWD_OWN_EDIT] = "edits",
	[FWD_OWN_OTHER] = "other",
};

static int own_ref_cmp(const void *a, const void *b)
{
	const struct own_ref *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void own_ref_add(struct fwd_own_map *m, const struct fwd_loc *l,
			enum fwd_own_kind kind, size_t idx)
{
	if (!l->file)
		return;
	FWD_GROW(m->refs, m->refcap, m->nrefs + 1);
	m->refs[m->nrefs++] = (struct own_ref){ l->file, l->line, kind, idx };
}

static struct fwd_own_acc *own_acc(struct fwd_own_map *m, enum fwd_own_kind kind,
				   const char *name)
{
	for (size_t i = 0; i < m->nacc; i++)
		if (m->acc[i].kind == kind && strcmp(m->acc[i].name, name) == 0)
			return &m->acc[i];
	FWD_GROW(m->acc, m->acccap, m->nacc + 1);
	memset(&m->acc[m->nacc], 0, sizeof(m->acc[0]));
	m->acc[m->nacc].kind = kind;
	snprintf(m->acc[m->nacc].name, sizeof(m->acc[0].name), "%s", name);
	return &m->acc[m->nacc++];
}

static const char *edit_name(const struct fwd_edit *e, char *buf, size_t len)
{
	fwd_edit_format(e, buf, len);
	return buf;
}

void fwd_own_init(struct fwd_own_map *m, const struct fwd_policy *p)
{
	char buf[FWD_EDIT_STRLEN];

	memset(m, 0, sizeof(*m));
	m->p = p;
	/* Every service, list and allow/deny edit shows, hit or not. */
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		own_acc(m, FWD_OWN_SERVICE, sv->name);
		for (size_t k = 0; k < sv->nports; k++)
			own_ref_add(m, &sv->ports[k].loc, FWD_OWN_SERVICE, i);
		for (size_t k = 0; k < sv->nallow; k++)
			own_ref_add(m, &sv->allow[k].loc, FWD_OWN_SERVICE, i);
	}
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		own_acc(m, FWD_OWN_LIST, l->name);
		for (size_t k = 0; k < l->n; k++)
			own_ref_add(m, l->locs ? &l->locs[k] : &l->loc, FWD_OWN_LIST, i);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_ALLOW || e->kind == FWD_EDIT_DENY)
			own_acc(m, FWD_OWN_EDIT, edit_name(e, buf, sizeof(buf)));
		own_ref_add(m, &e->loc, FWD_OWN_EDIT, i);
	}
	if (m->nrefs)
		qsort(m->refs, m->nrefs, sizeof(*m->refs), own_ref_cmp);
}

static bool ports_have(const struct fwd_ports *pr, const struct fwd_ir_elem *e)
{
	return pr->proto == e->proto && pr->lo <= e->plo && e->plo <= pr->hi;
}

static bool addr_has(const struct fwd_addr *a, unsigned alen,
		     const struct fwd_ir_elem *e)
{
	uint8_t lo[16], hi[16];

	if (fwd_addr_len(a) != alen)
		return false;
	fwd_addr_range(a, lo, hi);
	return memcmp(lo, e->lo, alen) <= 0 && memcmp(e->lo, hi, alen) <= 0;
}

/* The service, else the allow/deny edit, that uses list `name` for e. */
static void own_list_user(struct fwd_own_map *m, const char *name, bool out,
			  const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	char buf[FWD_EDIT_STRLEN];
	struct fwd_own_acc *a;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];
		bool uses = false, port = false;

		if ((sv->dir == FWD_DIR_OUT) != out)
			continue;
		for (size_t k = 0; k < sv->nallow; k++)
			uses |= sv->allow[k].kind == FWD_PEER_LIST &&
				strcmp(p->lists[sv->allow[k].list].name, name) == 0;
		for (size_t k = 0; k < sv->nports; k++)
			port |= ports_have(&sv->ports[k], e);
		if (uses && port) {
			a = own_acc(m, FWD_OWN_SERVICE, sv->name);
			a->packets += pk;
			a->bytes += by;
			return;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *ed = &p->edits[i];

		if ((ed->kind == FWD_EDIT_ALLOW || ed->kind == FWD_EDIT_DENY) &&
		    (ed->dir == FWD_DIR_OUT) == out && ed->peer == FWD_PEER_LIST &&
		    strcmp(ed->list, name) == 0 && ports_have(&ed->ports, e)) {
			a = own_acc(m, FWD_OWN_EDIT, edit_name(ed, buf, sizeof(buf)));
			a->packets += pk;
			a->bytes += by;
			return;
		}
	}
}

void fwd_own_count(struct fwd_own_map *m, const struct fwd_ir_set *s,
		   const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	unsigned alen = fwd_ir_key_addr_len(s->key);
	bool out = strncmp(s->name, "out_", 4) == 0;
	const struct fwd_edit *ed = NULL;
	const char *list = NULL;
	char buf[FWD_EDIT_STRLEN];
	struct fwd_own_acc *a;

	if (e->loc.file) {
		struct own_ref key = { e->loc.file, e->loc.line, 0, 0 }, *r;

		r = m->nrefs ? bsearch(&key, m->refs, m->nrefs, sizeof(key),
				       own_ref_cmp) : NULL;
		if (r && r->kind == FWD_OWN_SERVICE) {
			a = own_acc(m, FWD_OWN_SERVICE, p->services[r->idx].name);
			a->packets += pk;
			a->bytes += by;
			return;
		}
		if (r && r->kind == FWD_OWN_LIST)
			list = p->lists[r->idx].name;
		if (r && r->kind == FWD_OWN_EDIT)
			ed = &p->edits[r->idx];
	} else {
		/* an edit made at run time: the first that holds e */
		for (size_t i = 0; i < p->nedits && !ed; i++) {
			const struct fwd_edit *x = &p->edits[i];

			if (x->loc.file)
				continue;
			if (x->kind == FWD_EDIT_LIST_ADD && alen &&
			    addr_has(&x->addr, alen, e))
				ed = x;
			if ((x->kind == FWD_EDIT_ALLOW || x->kind == FWD_EDIT_DENY) &&
			    (x->dir == FWD_DIR_OUT) == out &&
			    ports_have(&x->ports, e) &&
			    (x->peer == FWD_PEER_LIST ||
			     (x->peer == FWD_PEER_ANY && !alen) ||
			     (x->peer == FWD_PEER_ADDR && alen &&
			      addr_has(&x->addr, alen, e))))
				ed = x;
		}
	}
	if (ed && ed->kind == FWD_EDIT_LIST_ADD) {
		list = ed->list;
		ed = NULL;
	} else if (ed && ed->peer == FWD_PEER_LIST) {
		list = ed->list;
	}
	if (list) {
		a = own_acc(m, FWD_OWN_LIST, list);
		a->packets += pk;
		a->bytes += by;
		if (!ed) {
			own_list_user(m, list, out, e, pk, by);
			return;
		}
	}
	a = ed ? own_acc(m, FWD_OWN_EDIT, edit_name(ed, buf, sizeof(buf))) :
		 own_acc(m, FWD_OWN_OTHER, "other");
	a->packets += pk;
	a->bytes += by;
}

void fwd_own_free(struct fwd_own_map *m)
{
	if (!m)
		return;
	free(m->refs);
	free(m->acc);
	memset(m, 0, sizeof(*m));
}
