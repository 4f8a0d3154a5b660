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

/* FNV-1a of the kind and the name: the owners' index. */
static size_t own_hash(enum fwd_own_kind kind, const char *name)
{
	uint64_t h = 14695981039346656037ULL ^ (uint64_t)kind;

	for (; *name; name++)
		h = (h ^ (uint8_t)*name) * 1099511628211ULL;
	return (size_t)h;
}

/* The index slot of (kind, name): its owner's, or the empty one where it
 * would go. */
static size_t *own_slot(const struct fwd_own_map *m, enum fwd_own_kind kind,
			const char *name)
{
	size_t i = own_hash(kind, name) & (m->icap - 1);

	for (;; i = (i + 1) & (m->icap - 1)) {
		const struct fwd_own_acc *a;

		if (!m->index[i])
			return &m->index[i];
		a = &m->acc[m->index[i] - 1];
		if (a->kind == kind && strcmp(a->name, name) == 0)
			return &m->index[i];
	}
}

/* Keep the index at most half full, so that a lookup stays short. */
static void own_index_grow(struct fwd_own_map *m)
{
	if (2 * (m->nacc + 1) <= m->icap)
		return;
	free(m->index);
	m->icap = m->icap ? 2 * m->icap : 64;
	while (2 * (m->nacc + 1) > m->icap)
		m->icap *= 2;
	m->index = fwd_xcalloc(m->icap, sizeof(*m->index));
	for (size_t i = 0; i < m->nacc; i++)
		*own_slot(m, m->acc[i].kind, m->acc[i].name) = i + 1;
}

/* The owner (kind, name), made at zero the first time: its acc index. */
static size_t own_acc(struct fwd_own_map *m, enum fwd_own_kind kind,
		      const char *name)
{
	struct fwd_own_acc *a;
	size_t *slot;

	own_index_grow(m);
	slot = own_slot(m, kind, name);
	if (*slot)
		return *slot - 1;
	FWD_GROW(m->acc, m->acccap, m->nacc + 1);
	a = &m->acc[m->nacc];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	snprintf(a->name, sizeof(a->name), "%s", name);
	*slot = ++m->nacc;
	return m->nacc - 1;
}

static void own_add(struct fwd_own_map *m, size_t i, uint64_t pk, uint64_t by)
{
	m->acc[i].packets += pk;
	m->acc[i].bytes += by;
}

/* The owner of a service, recorded with its direction: a service's
 * elements accept. */
static size_t own_service(struct fwd_own_map *m, const struct fwd_service *sv)
{
	size_t i = own_acc(m, FWD_OWN_SERVICE, sv->name);

	m->acc[i].directed = true;
	m->acc[i].dir = sv->dir;
	m->acc[i].verdict = FWD_OWN_V_ACCEPT;
	return i;
}

/* The owner of an allow/deny edit: its words, direction and verdict. Two
 * edits that print the same share one owner (the first one's). */
static size_t own_edit(struct fwd_own_map *m, const struct fwd_edit *e)
{
	char buf[FWD_EDIT_STRLEN];
	size_t before = m->nacc, i;

	fwd_edit_format(e, buf, sizeof(buf));
	i = own_acc(m, FWD_OWN_EDIT, buf);
	if (m->nacc > before) {
		m->acc[i].directed = true;
		m->acc[i].dir = e->dir;
		m->acc[i].verdict = e->kind == FWD_EDIT_DENY ? FWD_OWN_V_REJECT :
							       FWD_OWN_V_ACCEPT;
	}
	return i;
}

static bool edit_owned(const struct fwd_edit *e)
{
	return e->kind == FWD_EDIT_ALLOW || e->kind == FWD_EDIT_DENY;
}

/* An edit made at run time that names one address: found by it. */
static bool edit_by_host(const struct fwd_edit *e)
{
	return !e->loc.file && fwd_addr_is_host(&e->addr) &&
	       (e->kind == FWD_EDIT_LIST_ADD ||
		(edit_owned(e) && e->peer == FWD_PEER_ADDR));
}

static size_t host_hash(const uint8_t *a, unsigned alen)
{
	uint64_t h = 14695981039346656037ULL ^ alen;

	for (unsigned i = 0; i < alen; i++)
		h = (h ^ a[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of the chain of run-time edits naming address a (alen bytes):
 * its head, or the empty slot where it would go. */
static size_t *host_slot(const struct fwd_own_map *m, const uint8_t *a,
			 unsigned alen)
{
	size_t i = host_hash(a, alen) & (m->hcap - 1);

	for (;; i = (i + 1) & (m->hcap - 1)) {
		const struct fwd_addr *x;

		if (!m->host_head[i])
			return &m->host_head[i];
		x = &m->p->edits[m->host_head[i] - 1].addr;
		if (fwd_addr_len(x) == alen && memcmp(x->a, a, alen) == 0)
			return &m->host_head[i];
	}
}

/* The run-time edits by address and the rest, and the edits naming a
 * list (attrib.h). Edits are taken last to first, so that each chain is
 * in edit order. */
static void edits_index(struct fwd_own_map *m)
{
	const struct fwd_policy *p = m->p;
	size_t nhost = 0;

	for (size_t i = 0; i < p->nedits; i++)
		nhost += edit_by_host(&p->edits[i]);
	for (m->hcap = 64; m->hcap < 2 * nhost + 2; m->hcap *= 2)
		;
	m->host_head = fwd_xcalloc(m->hcap, sizeof(*m->host_head));
	m->host_next = fwd_xcalloc(p->nedits + 1, sizeof(*m->host_next));
	m->rt_rest = fwd_xcalloc(p->nedits + 1, sizeof(*m->rt_rest));
	m->list_edits = fwd_xcalloc(p->nedits + 1, sizeof(*m->list_edits));
	for (size_t i = p->nedits; i-- > 0;) {
		const struct fwd_edit *e = &p->edits[i];

		if (edit_by_host(e)) {
			size_t *slot = host_slot(m, e->addr.a,
						 (unsigned)fwd_addr_len(&e->addr));

			m->host_next[i] = *slot;
			*slot = i + 1;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (!e->loc.file && !edit_by_host(e))
			m->rt_rest[m->nrt_rest++] = i;
		if (edit_owned(e) && e->peer == FWD_PEER_LIST)
			m->list_edits[m->nlist_edits++] = i;
	}
}

void fwd_own_init(struct fwd_own_map *m, const struct fwd_policy *p,
		  const struct fwd_ir *ir)
{
	memset(m, 0, sizeof(*m));
	m->p = p;
	m->ir = ir;
	m->sv_acc = fwd_xcalloc(p->nservices + 1, sizeof(*m->sv_acc));
	m->list_acc = fwd_xcalloc(p->nlists + 1, sizeof(*m->list_acc));
	m->edit_acc = fwd_xcalloc(p->nedits + 1, sizeof(*m->edit_acc));
	/* Every service, list and allow/deny edit shows, hit or not. */
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		m->sv_acc[i] = own_service(m, sv);
		for (size_t k = 0; k < sv->nports; k++)
			own_ref_add(m, &sv->ports[k].loc, FWD_OWN_SERVICE, i);
		for (size_t k = 0; k < sv->nallow; k++)
			own_ref_add(m, &sv->allow[k].loc, FWD_OWN_SERVICE, i);
	}
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		m->list_acc[i] = own_acc(m, FWD_OWN_LIST, l->name);
		for (size_t k = 0; k < l->n; k++)
			own_ref_add(m, l->locs ? &l->locs[k] : &l->loc, FWD_OWN_LIST, i);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		m->edit_acc[i] = edit_owned(e) ? own_edit(m, e) : SIZE_MAX;
		own_ref_add(m, &e->loc, FWD_OWN_EDIT, i);
	}
	edits_index(m);
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

/* What the set an element sits in says of its owners: the direction, the
 * restricted class (NULL for the shared sets), the address length. */
struct set_ctx {
	bool out;
	const struct fwd_ir_class *cls;
	unsigned alen;
};

static struct set_ctx set_ctx(const struct fwd_own_map *m,
			      const struct fwd_ir_set *s)
{
	struct set_ctx c = { .alen = fwd_ir_key_addr_len(s->key) };
	const struct fwd_ir *ir = m->ir;

	/* A class's sets are named after it ("cls0_4"), not after their
	 * direction: the class says which. */
	for (size_t k = 0; ir && k < ir->nclasses && !c.cls; k++)
		if (strcmp(ir->sets[ir->classes[k].set4].name, s->name) == 0 ||
		    strcmp(ir->sets[ir->classes[k].set6].name, s->name) == 0)
			c.cls = &ir->classes[k];
	c.out = c.cls ? c.cls->out : strncmp(s->name, "out_", 4) == 0;
	return c;
}

/* Whether an owner with this direction and restriction puts its
 * elements into the set: its class's, or the shared ones. */
static bool owner_in(const struct set_ctx *c, enum fwd_dir dir,
		     const struct fwd_restrict *rs)
{
	const struct fwd_ir_class *k = c->cls;

	if ((dir == FWD_DIR_OUT) != c->out)
		return false;
	if (!k)
		return !fwd_restrict_on(rs);
	return fwd_restrict_on(rs) &&
	       strncmp(rs->ifname, k->ifname, sizeof(k->ifname)) == 0 &&
	       rs->limit_n == k->limit_n &&
	       (!rs->limit_n || rs->limit_w == k->limit_w);
}

/* The service, else the allow/deny edit, that uses list `name` for e. */
static void own_list_user(struct fwd_own_map *m, const char *name,
			  const struct set_ctx *c, const struct fwd_ir_elem *e,
			  uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];
		bool uses = false, port = false;

		if (!owner_in(c, sv->dir, &sv->rs))
			continue;
		for (size_t k = 0; k < sv->nallow; k++)
			uses |= sv->allow[k].kind == FWD_PEER_LIST &&
				strcmp(p->lists[sv->allow[k].list].name, name) == 0;
		for (size_t k = 0; k < sv->nports; k++)
			port |= ports_have(&sv->ports[k], e);
		if (uses && port) {
			own_add(m, m->sv_acc[i], pk, by);
			return;
		}
	}
	for (size_t k = 0; k < m->nlist_edits; k++) {
		size_t i = m->list_edits[k];
		const struct fwd_edit *ed = &p->edits[i];

		if (owner_in(c, ed->dir, &ed->rs) && strcmp(ed->list, name) == 0 &&
		    ports_have(&ed->ports, e)) {
			own_add(m, m->edit_acc[i], pk, by);
			return;
		}
	}
}

/*
 * How well an edit made at run time explains element e of a set: 2 when
 * it names e's address (or list, or adds e's member to a list), 1 when it
 * is from (to) any and e is an address element of its class (`any` in a
 * class is the whole family, and a more precise edit comes first), 0 not.
 */
static int runtime_match(const struct fwd_edit *x, const struct set_ctx *c,
			 const struct fwd_ir_elem *e)
{
	if (x->kind == FWD_EDIT_LIST_ADD)
		return c->alen && addr_has(&x->addr, c->alen, e) ? 2 : 0;
	if (!edit_owned(x) || !owner_in(c, x->dir, &x->rs) ||
	    !ports_have(&x->ports, e))
		return 0;
	if (x->peer == FWD_PEER_LIST)
		return 2;
	if (x->peer == FWD_PEER_ADDR)
		return c->alen && addr_has(&x->addr, c->alen, e) ? 2 : 0;
	if (!c->alen)
		return 2;
	return c->cls ? 1 : 0;
}

/* The edit made at run time (no file) that holds e: the first that
 * names it, else the first from any; as a scan of every edit in order
 * would find, from the edits of e's own address and the few others. */
static const struct fwd_edit *runtime_edit(const struct fwd_own_map *m,
					   const struct set_ctx *c,
					   const struct fwd_ir_elem *e,
					   size_t *idx)
{
	const struct fwd_policy *p = m->p;
	size_t named = SIZE_MAX, any = SIZE_MAX;

	for (size_t i = c->alen ? *host_slot(m, e->lo, c->alen) : 0; i;
	     i = m->host_next[i - 1]) {
		if (runtime_match(&p->edits[i - 1], c, e) == 2) {
			named = i - 1;
			break;
		}
	}
	for (size_t k = 0; k < m->nrt_rest && m->rt_rest[k] < named; k++) {
		size_t i = m->rt_rest[k];
		int r = runtime_match(&p->edits[i], c, e);

		if (r == 2) {
			named = i;
			break;
		}
		if (r == 1 && any == SIZE_MAX)
			any = i;
	}
	*idx = named != SIZE_MAX ? named : any;
	return *idx != SIZE_MAX ? &p->edits[*idx] : NULL;
}

void fwd_own_count(struct fwd_own_map *m, const struct fwd_ir_set *s,
		   const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	struct set_ctx c = set_ctx(m, s);
	const struct fwd_edit *ed = NULL;
	const char *list = NULL;
	size_t ei = 0;

	if (e->loc.file) {
		struct own_ref key = { e->loc.file, e->loc.line, 0, 0 }, *r;

		r = m->nrefs ? bsearch(&key, m->refs, m->nrefs, sizeof(key),
				       own_ref_cmp) : NULL;
		if (r && r->kind == FWD_OWN_SERVICE) {
			own_add(m, m->sv_acc[r->idx], pk, by);
			return;
		}
		if (r && r->kind == FWD_OWN_LIST)
			list = p->lists[r->idx].name;
		if (r && r->kind == FWD_OWN_EDIT) {
			ed = &p->edits[r->idx];
			ei = r->idx;
		}
	} else {
		ed = runtime_edit(m, &c, e, &ei);
	}
	if (ed && ed->kind == FWD_EDIT_LIST_ADD) {
		list = ed->list;
		ed = NULL;
	} else if (ed && ed->peer == FWD_PEER_LIST) {
		list = ed->list;
	}
	if (list) {
		own_add(m, own_acc(m, FWD_OWN_LIST, list), pk, by);
		if (!ed) {
			own_list_user(m, list, &c, e, pk, by);
			return;
		}
	}
	if (ed && m->edit_acc[ei] != SIZE_MAX)
		own_add(m, m->edit_acc[ei], pk, by);
	else
		own_add(m, own_acc(m, FWD_OWN_OTHER, "other"), pk, by);
}

const struct fwd_own_acc *fwd_own_of_service(const struct fwd_own_map *m, size_t i)
{
	if (!m->sv_acc || !m->p || i >= m->p->nservices)
		return NULL;
	return &m->acc[m->sv_acc[i]];
}

const struct fwd_own_acc *fwd_own_of_edit(const struct fwd_own_map *m, size_t i)
{
	if (!m->edit_acc || !m->p || i >= m->p->nedits || m->edit_acc[i] == SIZE_MAX)
		return NULL;
	return &m->acc[m->edit_acc[i]];
}

void fwd_own_free(struct fwd_own_map *m)
{
	if (!m)
		return;
	free(m->refs);
	free(m->acc);
	free(m->sv_acc);
	free(m->list_acc);
	free(m->edit_acc);
	free(m->index);
	free(m->host_head);
	free(m->host_next);
	free(m->rt_rest);
	free(m->list_edits);
	memset(m, 0, sizeof(*m));
}
