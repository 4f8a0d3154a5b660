// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl stats: the live table's counters read back, summed per owner
 * (service, list, edit) of each element, and the control socket's counts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "util.h"

/*
 * Element counters by who the element came from. An element's loc (ir.h)
 * names the policy word it came from: a service's ports or allow line, a
 * list member (inline or in a list file), an [edits] line; elements of
 * edits made at run time have no file and are matched to the edit by key.
 * A list member's element counts for the list and for the service (or
 * allow edit) that uses the list on that port. When normalisation merged
 * several words into one element, it counts for the one its loc names.
 */
enum own_kind { OWN_SERVICE, OWN_LIST, OWN_EDIT, OWN_OTHER };

struct own_ref {
	const char *file;
	unsigned line;
	enum own_kind kind;
	size_t idx;
};

struct own_acc {
	enum own_kind kind;
	char name[FWD_EDIT_STRLEN];
	uint64_t packets, bytes;
};

struct own_map {
	const struct fwd_policy *p;
	struct own_ref *refs;
	size_t nrefs, refcap;
	struct own_acc *acc;
	size_t nacc, acccap;
};

static int own_ref_cmp(const void *a, const void *b)
{
	const struct own_ref *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void own_ref_add(struct own_map *m, const struct fwd_loc *l,
			enum own_kind kind, size_t idx)
{
	if (!l->file)
		return;
	FWD_GROW(m->refs, m->refcap, m->nrefs + 1);
	m->refs[m->nrefs++] = (struct own_ref){ l->file, l->line, kind, idx };
}

static struct own_acc *own_acc(struct own_map *m, enum own_kind kind,
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

static void own_map_init(struct own_map *m, const struct fwd_policy *p)
{
	char buf[FWD_EDIT_STRLEN];

	memset(m, 0, sizeof(*m));
	m->p = p;
	/* Every service, list and allow/deny edit shows, hit or not. */
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		own_acc(m, OWN_SERVICE, sv->name);
		for (size_t k = 0; k < sv->nports; k++)
			own_ref_add(m, &sv->ports[k].loc, OWN_SERVICE, i);
		for (size_t k = 0; k < sv->nallow; k++)
			own_ref_add(m, &sv->allow[k].loc, OWN_SERVICE, i);
	}
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		own_acc(m, OWN_LIST, l->name);
		for (size_t k = 0; k < l->n; k++)
			own_ref_add(m, l->locs ? &l->locs[k] : &l->loc, OWN_LIST, i);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_ALLOW || e->kind == FWD_EDIT_DENY)
			own_acc(m, OWN_EDIT, edit_name(e, buf, sizeof(buf)));
		own_ref_add(m, &e->loc, OWN_EDIT, i);
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
static void own_list_user(struct own_map *m, const char *name, bool out,
			  const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	char buf[FWD_EDIT_STRLEN];
	struct own_acc *a;

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
			a = own_acc(m, OWN_SERVICE, sv->name);
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
			a = own_acc(m, OWN_EDIT, edit_name(ed, buf, sizeof(buf)));
			a->packets += pk;
			a->bytes += by;
			return;
		}
	}
}

static void own_count(struct own_map *m, const struct fwd_ir_set *s,
		      const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	unsigned alen = fwd_ir_key_addr_len(s->key);
	bool out = strncmp(s->name, "out_", 4) == 0;
	const struct fwd_edit *ed = NULL;
	const char *list = NULL;
	char buf[FWD_EDIT_STRLEN];
	struct own_acc *a;

	if (e->loc.file) {
		struct own_ref key = { e->loc.file, e->loc.line, 0, 0 }, *r;

		r = m->nrefs ? bsearch(&key, m->refs, m->nrefs, sizeof(key),
				       own_ref_cmp) : NULL;
		if (r && r->kind == OWN_SERVICE) {
			a = own_acc(m, OWN_SERVICE, p->services[r->idx].name);
			a->packets += pk;
			a->bytes += by;
			return;
		}
		if (r && r->kind == OWN_LIST)
			list = p->lists[r->idx].name;
		if (r && r->kind == OWN_EDIT)
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
		a = own_acc(m, OWN_LIST, list);
		a->packets += pk;
		a->bytes += by;
		if (!ed) {
			own_list_user(m, list, out, e, pk, by);
			return;
		}
	}
	a = ed ? own_acc(m, OWN_EDIT, edit_name(ed, buf, sizeof(buf))) :
		 own_acc(m, OWN_OTHER, "other");
	a->packets += pk;
	a->bytes += by;
}

/* Live elements (with counters) matched by key to the running IR's. */
static void own_count_table(struct own_map *m, const struct fwd_ir *ir,
			    const struct fwd_live_table *live)
{
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];
		const struct fwd_live_set *ls = fwd_live_set_find(live, s->name);
		size_t j = 0;

		if (!s->counter || !ls || !ls->counters)
			continue;
		for (size_t k = 0; k < ls->n; k++) {
			const struct fwd_live_elem_counter *c = &ls->counters[k];
			int r = 1;

			if (!c->packets && !c->bytes)
				continue;
			while (j < s->n &&
			       (r = fwd_ir_elem_cmp(&s->elems[j], &ls->elems[k])) < 0)
				j++;
			if (j < s->n && r == 0)
				own_count(m, s, &s->elems[j], c->packets, c->bytes);
			else
				own_count(m, s, &(struct fwd_ir_elem){ .proto = 0 },
					  c->packets, c->bytes);
		}
	}
}

static const char *const own_kind_name[] = {
	[OWN_SERVICE] = "service", [OWN_LIST] = "list", [OWN_EDIT] = "edit",
	[OWN_OTHER] = "other",
};

static const char *const own_kind_json[] = {
	[OWN_SERVICE] = "services", [OWN_LIST] = "lists", [OWN_EDIT] = "edits",
	[OWN_OTHER] = "other",
};

int cmd_stats(struct cmdreq *cr)
{
	struct fwd_live_table *live = NULL;
	struct fwd_ctl_stats cs;
	struct own_map om = { 0 };
	struct jbuf jb;
	int ret;

	ret = fwd_live_read(cr->ctx->nl, NULL, &live);
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read the table "
				  "back: %s", strerror(-ret));
		return ret;
	}
	fwd_ctl_server_stats(cr->ctx->ctl, &cs);
	/* Without element counters there is nothing to sum per owner (no
	 * rows of zeros that look like "no traffic"). */
	if (cr->ctx->policy && cr->ctx->ir && cr->ctx->policy->counters) {
		own_map_init(&om, cr->ctx->policy);
		own_count_table(&om, cr->ctx->ir, live);
	}
	if (cr->json) {
		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "element_counters");
		json_bool(&jb.j, !cr->ctx->policy || cr->ctx->policy->counters);
		for (int kind = OWN_SERVICE; kind <= OWN_OTHER; kind++) {
			json_key(&jb.j, own_kind_json[kind]);
			json_arr_begin(&jb.j);
			for (size_t i = 0; i < om.nacc; i++) {
				const struct own_acc *a = &om.acc[i];

				if ((int)a->kind != kind)
					continue;
				json_obj_begin(&jb.j);
				json_key(&jb.j, "name"); json_str(&jb.j, a->name);
				json_key(&jb.j, "packets"); json_uint(&jb.j, a->packets);
				json_key(&jb.j, "bytes"); json_uint(&jb.j, a->bytes);
				json_obj_end(&jb.j);
			}
			json_arr_end(&jb.j);
		}
		json_key(&jb.j, "rules");
		json_arr_begin(&jb.j);
	} else {
		if (cr->ctx->policy && !cr->ctx->policy->counters)
			fwd_response_printf(cr->resp, "per-service and per-list counts are off "
					    "([defaults] counters = no); the rules' own "
					    "counters:\n");
		for (size_t i = 0; i < om.nacc; i++) {
			const struct own_acc *a = &om.acc[i];

			fwd_response_printf(cr->resp, "%-7s %-24s %12llu packets %14llu bytes\n",
					    own_kind_name[a->kind], a->name,
					    (unsigned long long)a->packets,
					    (unsigned long long)a->bytes);
		}
	}
	for (size_t c = 0; c < live->nchains; c++) {
		const struct fwd_live_chain *ch = &live->chains[c];

		for (size_t r = 0; r < ch->ncounters; r++) {
			const struct fwd_live_counter *k = &ch->counters[r];

			if (cr->json) {
				json_obj_begin(&jb.j);
				json_key(&jb.j, "chain"); json_str(&jb.j, ch->name);
				json_key(&jb.j, "set"); json_str(&jb.j, k->set);
				json_key(&jb.j, "packets"); json_uint(&jb.j, k->packets);
				json_key(&jb.j, "bytes"); json_uint(&jb.j, k->bytes);
				json_obj_end(&jb.j);
			} else {
				fwd_response_printf(cr->resp, "%-7s @%-15s %12llu packets %14llu bytes\n",
						    ch->name, k->set,
						    (unsigned long long)k->packets,
						    (unsigned long long)k->bytes);
			}
		}
	}
	if (cr->json) {
		json_arr_end(&jb.j);
		json_key(&jb.j, "control_requests"); json_uint(&jb.j, cs.served);
		json_key(&jb.j, "edits_applied"); json_uint(&jb.j, cr->ctx->edits_applied);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
	} else {
		fwd_response_printf(cr->resp, "control: %llu requests served, %llu edits applied\n",
				    cs.served, cr->ctx->edits_applied);
	}
	free(om.refs);
	free(om.acc);
	fwd_live_free(live);
	return 0;
}
