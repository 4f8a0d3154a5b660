// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Imported first-match rules -> fwd policy text: the one writer behind
 * `fwctl import` (the parsers are import-ipt.c, import-ufw.c and
 * import-fwd.c). fwd's allowlists have no order, so the order of the
 * original is resolved here: an accept that an earlier drop covers never
 * matched; a drop that a later accept would otherwise override becomes a
 * deny edit (fwd checks deny before allow), unless an earlier accept of
 * the original overlaps that drop, in which case the later accept is left
 * out (closed) and said so.
 */
#include "import.h"
#include "util.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

void fwd_import_init(struct fwd_import *imp, const char *tool)
{
	memset(imp, 0, sizeof(*imp));
	imp->tool = tool;
	imp->inbound = FWD_DENY;
	imp->outbound = FWD_ALLOW;
	fwd_diags_init(&imp->skipped);
	fwd_diags_init(&imp->notes);
}

void fwd_import_free(struct fwd_import *imp)
{
	if (!imp)
		return;
	for (size_t i = 0; i < imp->nrules; i++)
		free(imp->rules[i].file);
	free(imp->rules);
	free((char *)imp->inbound_from.file);
	free((char *)imp->outbound_from.file);
	free((char *)imp->icmp_from.file);
	fwd_diags_free(&imp->skipped);
	fwd_diags_free(&imp->notes);
	imp->rules = NULL;
	imp->nrules = imp->cap = 0;
	imp->inbound_from.file = imp->outbound_from.file = NULL;
	imp->icmp_from.file = NULL;
}

void fwd_import_icmp_all(struct fwd_import *imp, unsigned fam,
			 const char *file, unsigned line)
{
	imp->icmp_all |= fam;
	if (!imp->icmp_from.file)
		imp->icmp_from = (struct fwd_loc){ fwd_xstrdup(file ? file : "-"), line };
}

void fwd_import_add(struct fwd_import *imp, const struct fwd_imp_rule *r)
{
	struct fwd_imp_rule *n;

	FWD_GROW(imp->rules, imp->cap, imp->nrules + 1);
	n = &imp->rules[imp->nrules++];
	*n = *r;
	n->file = fwd_xstrdup(r->file ? r->file : "-");
}

void fwd_import_skip(struct fwd_import *imp, const char *file, unsigned line,
		     const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	fwd_diags_add(&imp->skipped, file, line, "not imported: %s", msg);
	free(msg);
}

/* ---- overlap of two rules' matches ---------------------------------- */

/* Whether the first `bits` bits of a and b are equal. */
static bool same_prefix(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	/* A loop, not memcmp: at most 16 bytes, called O(n^2) times when
	 * thousands of drops meet their accepts. */
	for (unsigned i = 0; i < full; i++)
		if (a[i] != b[i])
			return false;
	if (!rest)
		return true;
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

static bool peer_overlaps(const struct fwd_addr *a, const struct fwd_addr *b)
{
	if (a->family != b->family)
		return false;
	return same_prefix(a->a, b->a, a->prefix < b->prefix ? a->prefix : b->prefix);
}

/* Whether network a holds all of b. */
static bool peer_covers(const struct fwd_addr *a, const struct fwd_addr *b)
{
	return a->family == b->family && a->prefix <= b->prefix &&
	       same_prefix(a->a, b->a, a->prefix);
}

static void port_span(const struct fwd_imp_rule *r, unsigned *lo, unsigned *hi)
{
	*lo = r->lo ? r->lo : 0;
	*hi = r->lo ? r->hi : 65535;
}

static bool overlaps(const struct fwd_imp_rule *a, const struct fwd_imp_rule *b)
{
	unsigned alo, ahi, blo, bhi;

	if (a->dir != b->dir || !peer_overlaps(&a->peer, &b->peer))
		return false;
	if (a->proto != FWD_IMP_ALL && b->proto != FWD_IMP_ALL && a->proto != b->proto)
		return false;
	port_span(a, &alo, &ahi);
	port_span(b, &blo, &bhi);
	return alo <= bhi && blo <= ahi;
}

static bool covers(const struct fwd_imp_rule *a, const struct fwd_imp_rule *b)
{
	unsigned alo, ahi, blo, bhi;

	/* The cheap fields first: the addresses decide last. */
	if (a->dir != b->dir || (a->proto != FWD_IMP_ALL && a->proto != b->proto))
		return false;
	port_span(a, &alo, &ahi);
	port_span(b, &blo, &bhi);
	return alo <= blo && bhi <= ahi && peer_covers(&a->peer, &b->peer);
}

/* ---- an index of rules by peer -------------------------------------- */

/*
 * Which rules of a kind (the drops, the accepts) overlap a given one: the
 * resolution asks that for every rule, and a scan of all earlier rules
 * per rule made the import O(n^2). Two peers overlap when one holds the
 * other. The rules holding peer P are P's network at each prefix length
 * in use, found by binary search among (family, prefix, network) keys;
 * those inside P are a run of the same entries sorted by (family,
 * address). So a lookup costs O(log n) per prefix length in use plus the
 * rules it finds; only the addresses are indexed (rules that differ only
 * in their ports are still compared one by one).
 */
struct pidx_ent {
	uint8_t family, prefix;
	uint8_t a[16];			/* masked to prefix */
	size_t rule;
};

struct pidx {
	struct pidx_ent *byprefix;	/* by family, prefix, a, rule */
	struct pidx_ent *byaddr;	/* by family, a, prefix, rule */
	size_t n;
	bool used[2][129];		/* prefix lengths present, per family */
};

static unsigned addr_bytes(uint8_t family)
{
	return family == AF_INET ? 4 : 16;
}

static void mask_to(uint8_t *out, const struct fwd_addr *p, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	memset(out, 0, 16);
	memcpy(out, p->a, full);
	if (rest)
		out[full] = p->a[full] & (uint8_t)(0xff << (8 - rest));
}

static int cmp_byprefix(const void *x, const void *y)
{
	const struct pidx_ent *a = x, *b = y;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	c = memcmp(a->a, b->a, 16);
	if (c)
		return c;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

static int cmp_byaddr(const void *x, const void *y)
{
	const struct pidx_ent *a = x, *b = y;
	int c;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	c = memcmp(a->a, b->a, 16);
	if (c)
		return c;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return a->rule < b->rule ? -1 : a->rule > b->rule;
}

/* The rules with verdict accept (accepts true) or not, indexed. */
static void pidx_build(struct pidx *x, const struct fwd_import *imp, bool accepts)
{
	memset(x, 0, sizeof(*x));
	x->byprefix = fwd_xcalloc(imp->nrules + 1, sizeof(*x->byprefix));
	for (size_t i = 0; i < imp->nrules; i++) {
		const struct fwd_imp_rule *r = &imp->rules[i];
		struct pidx_ent *e;

		if ((r->verdict == FWD_IMP_ACCEPT) != accepts)
			continue;
		e = &x->byprefix[x->n++];
		e->family = r->peer.family;
		e->prefix = r->peer.prefix;
		mask_to(e->a, &r->peer, r->peer.prefix);
		e->rule = i;
		x->used[r->peer.family == AF_INET6][r->peer.prefix] = true;
	}
	x->byaddr = fwd_xcalloc(x->n + 1, sizeof(*x->byaddr));
	memcpy(x->byaddr, x->byprefix, x->n * sizeof(*x->byaddr));
	qsort(x->byprefix, x->n, sizeof(*x->byprefix), cmp_byprefix);
	qsort(x->byaddr, x->n, sizeof(*x->byaddr), cmp_byaddr);
}

static void pidx_free(struct pidx *x)
{
	free(x->byprefix);
	free(x->byaddr);
}

/* The first entry of v (n, sorted by cmp) not before key. */
static size_t lower_bound(const struct pidx_ent *v, size_t n, const struct pidx_ent *key,
			  int (*cmp)(const void *, const void *))
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cmp(&v[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* A list of rule numbers (a lookup's answer). */
struct rulev {
	size_t *v;
	size_t n, cap;
};

static int cmp_size(const void *x, const void *y)
{
	size_t a = *(const size_t *)x, b = *(const size_t *)y;

	return a < b ? -1 : a > b;
}

/*
 * Into out, in ascending order: the indexed rules before rule `before`
 * whose peer overlaps p (each once). The caller checks the rest of
 * overlaps() (direction, protocol, ports).
 */
static void pidx_find(const struct pidx *x, const struct fwd_addr *p, size_t before,
		      struct rulev *out)
{
	bool v6 = p->family == AF_INET6;
	unsigned max = addr_bytes(p->family) * 8;
	struct pidx_ent key = { .family = p->family };

	out->n = 0;
	/* Those holding p (p itself included): p's network at each length. */
	for (unsigned l = 0; l <= p->prefix; l++) {
		size_t i;

		if (!x->used[v6][l])
			continue;
		key.prefix = (uint8_t)l;
		mask_to(key.a, p, l);
		key.rule = 0;
		for (i = lower_bound(x->byprefix, x->n, &key, cmp_byprefix);
		     i < x->n && x->byprefix[i].family == key.family &&
		     x->byprefix[i].prefix == l && !memcmp(x->byprefix[i].a, key.a, 16) &&
		     x->byprefix[i].rule < before; i++) {
			FWD_GROW(out->v, out->cap, out->n + 1);
			out->v[out->n++] = x->byprefix[i].rule;
		}
	}
	/* Those inside p: the run of addresses p holds, longer prefixes. */
	if (p->prefix < max) {
		key.prefix = 0;
		mask_to(key.a, p, p->prefix);
		key.rule = 0;
		for (size_t i = lower_bound(x->byaddr, x->n, &key, cmp_byaddr);
		     i < x->n && x->byaddr[i].family == key.family &&
		     same_prefix(x->byaddr[i].a, key.a, p->prefix); i++) {
			if (x->byaddr[i].prefix <= p->prefix || x->byaddr[i].rule >= before)
				continue;
			FWD_GROW(out->v, out->cap, out->n + 1);
			out->v[out->n++] = x->byaddr[i].rule;
		}
	}
	/* out->v is NULL while nothing was found: qsort wants a pointer. */
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_size);
}

/* FNV-1a over a peer's key: family, prefix, the network's bytes. */
static size_t peer_hash(uint8_t family, uint8_t prefix, const uint8_t *net)
{
	uint64_t h = 14695981039346656037ull;

	h = (h ^ family) * 1099511628211ull;
	h = (h ^ prefix) * 1099511628211ull;
	for (unsigned i = 0; i < addr_bytes(family); i++)
		h = (h ^ net[i]) * 1099511628211ull;
	return (size_t)h;
}

/*
 * A growing list of peers, several per network allowed: which of them hold
 * a given peer (peer_covers), by that peer's network at each prefix
 * length in the list (a hash table of (family, prefix, network)).
 * Entries are numbered in the order they were put.
 */
struct pkey {
	uint8_t family, prefix;
	uint8_t net[16];
};

struct peerset {
	struct pkey *k;
	size_t n, kcap;
	size_t *tab, tcap;		/* slot: entry + 1, 0 empty */
	uint64_t lens[2][3];		/* prefix lengths present, per family */
};

static void peerset_slot(struct peerset *ps, size_t e)
{
	const struct pkey *k = &ps->k[e];
	size_t h = peer_hash(k->family, k->prefix, k->net) & (ps->tcap - 1);

	while (ps->tab[h])
		h = (h + 1) & (ps->tcap - 1);
	ps->tab[h] = e + 1;
}

static void peerset_put(struct peerset *ps, const struct fwd_addr *p)
{
	struct pkey *k;

	if (2 * (ps->n + 1) > ps->tcap) {
		ps->tcap = ps->tcap ? 2 * ps->tcap : 16;
		free(ps->tab);
		ps->tab = fwd_xcalloc(ps->tcap, sizeof(*ps->tab));
		for (size_t e = 0; e < ps->n; e++)
			peerset_slot(ps, e);
	}
	FWD_GROW(ps->k, ps->kcap, ps->n + 1);
	k = &ps->k[ps->n];
	k->family = p->family;
	k->prefix = p->prefix;
	mask_to(k->net, p, p->prefix);
	ps->lens[p->family == AF_INET6][p->prefix / 64] |= 1ull << (p->prefix % 64);
	peerset_slot(ps, ps->n++);
}

/* Into out, in ascending order: the entries whose peer holds p. */
static void peerset_holders(const struct peerset *ps, const struct fwd_addr *p,
			    struct rulev *out)
{
	uint8_t net[16];

	out->n = 0;
	for (unsigned l = 0; l <= p->prefix && ps->tcap; l++) {
		if (!(ps->lens[p->family == AF_INET6][l / 64] >> (l % 64) & 1))
			continue;
		mask_to(net, p, l);
		for (size_t h = peer_hash(p->family, (uint8_t)l, net) & (ps->tcap - 1);
		     ps->tab[h]; h = (h + 1) & (ps->tcap - 1)) {
			const struct pkey *k = &ps->k[ps->tab[h] - 1];

			if (k->family == p->family && k->prefix == l &&
			    !memcmp(k->net, net, 16)) {
				FWD_GROW(out->v, out->cap, out->n + 1);
				out->v[out->n++] = ps->tab[h] - 1;
			}
		}
	}
	/* out->v is NULL while nothing was found: qsort wants a pointer. */
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), cmp_size);
}

static void peerset_free(struct peerset *ps)
{
	free(ps->k);
	free(ps->tab);
}

/* ---- resolution: which rules become what ---------------------------- */

/* A note once per line and text (a rule made of a tcp and a udp half
 * says the same thing twice). */
static void note(struct fwd_import *imp, const char *file, unsigned line,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void note(struct fwd_import *imp, const char *file, unsigned line,
		 const char *fmt, ...)
{
	struct fwd_diags *d = &imp->notes;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	if (!d->n || d->v[d->n - 1].line != line || strcmp(d->v[d->n - 1].msg, msg) ||
	    strcmp(d->v[d->n - 1].file ? d->v[d->n - 1].file : "", file ? file : ""))
		fwd_diags_add(d, file, line, "%s", msg);
	free(msg);
}

enum fate { F_NONE, F_ALLOW, F_DENY };

/* What the resolution of every rule shares: the indexes and two lists. */
struct res {
	struct fwd_import *imp;
	enum fate *fate;
	struct denies *dn;
	struct pidx drops, accepts;	/* verdict drop/reject; accept */
	struct rulev found, found2, found3;
	struct peerset mine;		/* resolve_accept's denies' peers */
};

/* The packets both rules match (they overlap): the narrower of each. */
static struct fwd_imp_rule intersect(const struct fwd_imp_rule *d,
				     const struct fwd_imp_rule *a)
{
	struct fwd_imp_rule x = *d;
	unsigned dlo, dhi, alo, ahi;

	x.proto = d->proto == FWD_IMP_ALL ? a->proto : d->proto;
	x.peer = d->peer.prefix >= a->peer.prefix ? d->peer : a->peer;
	port_span(d, &dlo, &dhi);
	port_span(a, &alo, &ahi);
	x.lo = (uint16_t)(dlo > alo ? dlo : alo);
	x.hi = (uint16_t)(dhi < ahi ? dhi : ahi);
	if (x.lo == 0 && x.hi == 65535 && x.proto == FWD_IMP_ALL)
		x.hi = 0;	/* every port, as a rule without ports says it */
	else if (x.lo == 0)
		x.lo = 1;
	return x;
}

/* The deny lines the writer emits: parts of drops, kept in order, each
 * with the index of the rule it comes from. */
struct denies {
	struct fwd_imp_rule *v;
	size_t *from;
	size_t n, cap, fcap;
};

static void deny_push(struct denies *dn, const struct fwd_imp_rule *r, size_t from)
{
	FWD_GROW(dn->v, dn->cap, dn->n + 1);
	FWD_GROW(dn->from, dn->fcap, dn->n + 1);
	dn->from[dn->n] = from;
	dn->v[dn->n++] = *r;
}

/*
 * Into one accept's own list: nothing covered twice. Only the entries
 * whose peer holds r's can cover it (ps: dn's peers; found: room for the
 * lookup), so a list of thousands (a blocklist before an open port) is
 * not scanned for each of them.
 */
static void deny_add(struct denies *dn, struct peerset *ps, struct rulev *found,
		     const struct fwd_imp_rule *r, size_t from)
{
	peerset_holders(ps, &r->peer, found);
	for (size_t f = 0; f < found->n; f++)
		if (covers(&dn->v[found->v[f]], r))
			return;
	deny_push(dn, r, from);
	peerset_put(ps, &r->peer);
}

struct deny_ref {
	const struct fwd_imp_rule *r;
	size_t from, pos;
};

static int deny_cmp(const void *x, const void *y)
{
	const struct deny_ref *a = x, *b = y;

	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/*
 * The denies of all accepts, grouped by the rule they come from (in the
 * original's order) and, within a group, without those another of the
 * group covers: sorting keeps this O(n log n) where thousands of drops
 * meet their accepts (a redundant deny from two equal drops is harmless:
 * the compiler normalises the sets).
 */
static void deny_tidy(struct denies *dn)
{
	struct deny_ref *ref = fwd_xcalloc(dn->n + 1, sizeof(*ref));
	struct fwd_imp_rule *v = fwd_xcalloc(dn->n + 1, sizeof(*v));
	size_t *from = fwd_xcalloc(dn->n + 1, sizeof(*from)), n = 0;

	for (size_t i = 0; i < dn->n; i++)
		ref[i] = (struct deny_ref){ &dn->v[i], dn->from[i], i };
	qsort(ref, dn->n, sizeof(*ref), deny_cmp);
	for (size_t g = 0; g < dn->n;) {
		size_t e = g;

		while (e < dn->n && ref[e].from == ref[g].from)
			e++;
		for (size_t i = g; i < e; i++) {
			bool covered = false;

			for (size_t k = g; k < e && !covered; k++)
				covered = k != i && covers(ref[k].r, ref[i].r) &&
					  (!covers(ref[i].r, ref[k].r) || k < i);
			if (!covered) {
				v[n] = *ref[i].r;
				from[n++] = ref[i].from;
			}
		}
		g = e;
	}
	free(ref);
	free(dn->v);
	free(dn->from);
	dn->v = v;
	dn->from = from;
	dn->n = n;
	dn->cap = dn->fcap = n + 1;
}

static enum fwd_action default_of(const struct fwd_import *imp, enum fwd_dir d)
{
	return d == FWD_DIR_IN ? imp->inbound : imp->outbound;
}

static const char *verdict_word(enum fwd_imp_verdict v)
{
	return v == FWD_IMP_ACCEPT ? "accept" : v == FWD_IMP_DROP ? "drop" : "reject";
}

/*
 * An accept under a closed default: imported, with the part of each
 * earlier drop that overlaps it as a deny, unless that part also overlaps
 * an accept before the drop (fwd's deny would refuse it there too; then
 * this accept is left out, closed) or the drop covers it whole (it never
 * matched).
 */
/* The first accept before rule `before`, imported, that overlaps x. */
static const struct fwd_imp_rule *first_allowed(struct res *rs, const struct fwd_imp_rule *x,
						size_t before)
{
	pidx_find(&rs->accepts, &x->peer, before, &rs->found2);
	for (size_t f = 0; f < rs->found2.n; f++) {
		size_t k = rs->found2.v[f];

		if (rs->fate[k] == F_ALLOW && overlaps(&rs->imp->rules[k], x))
			return &rs->imp->rules[k];
	}
	return NULL;
}

static void resolve_accept(struct res *rs, size_t i)
{
	struct fwd_import *imp = rs->imp;
	const struct fwd_imp_rule *r = &imp->rules[i];
	struct denies mine = { 0 };

	/* Emptied: a small table is cleared, a big one (an earlier accept's
	 * thousands of denies) let go, so each accept pays for its own. */
	rs->mine.n = 0;
	memset(rs->mine.lens, 0, sizeof(rs->mine.lens));
	if (rs->mine.tcap > 64) {
		free(rs->mine.tab);
		rs->mine.tab = NULL;
		rs->mine.tcap = 0;
	} else if (rs->mine.tab) {
		memset(rs->mine.tab, 0, rs->mine.tcap * sizeof(*rs->mine.tab));
	}
	/* The earlier drops that overlap it, in the original's order. */
	pidx_find(&rs->drops, &r->peer, i, &rs->found);
	for (size_t f = 0; f < rs->found.n; f++) {
		size_t j = rs->found.v[f];
		const struct fwd_imp_rule *d = &imp->rules[j], *a;
		struct fwd_imp_rule x;

		if (!overlaps(d, r))
			continue;
		if (covers(d, r)) {
			note(imp, r->file, r->line,
				      "never matches: %s:%u %ss all of it first",
				      d->file, d->line, verdict_word(d->verdict));
			free(mine.v);
			free(mine.from);
			return;
		}
		x = intersect(d, r);
		a = first_allowed(rs, &x, j);
		if (a) {
			fwd_import_skip(imp, r->file, r->line,
					"%s:%u %ss part of it first, and fwd's deny "
					"(checked before every allow) would also "
					"refuse what %s:%u accepts",
					d->file, d->line, verdict_word(d->verdict),
					a->file, a->line);
			free(mine.v);
			free(mine.from);
			return;
		}
		deny_add(&mine, &rs->mine, &rs->found3, &x, j);
	}
	for (size_t k = 0; k < mine.n; k++)
		deny_push(rs->dn, &mine.v[k], mine.from[k]);
	free(mine.v);
	free(mine.from);
	rs->fate[i] = F_ALLOW;
	if (r->proto == FWD_IMP_ALL)
		fwd_import_skip(imp, r->file, r->line,
				"its protocols other than TCP and UDP (fwd allows "
				"TCP and UDP ports; ICMP follows [defaults] icmp)");
}

/* A drop under an open default: always a deny (closed), reported when an
 * earlier accept of the original overlaps it. */
static void resolve_drop_open(struct res *rs, size_t i)
{
	struct fwd_import *imp = rs->imp;
	const struct fwd_imp_rule *r = &imp->rules[i];

	pidx_find(&rs->accepts, &r->peer, i, &rs->found);
	for (size_t f = 0; f < rs->found.n; f++) {
		const struct fwd_imp_rule *a = &imp->rules[rs->found.v[f]];

		if (!overlaps(a, r))
			continue;
		if (covers(a, r)) {
			note(imp, r->file, r->line,
				      "never matches: %s:%u accepts all of it first",
				      a->file, a->line);
			return;
		}
		fwd_import_skip(imp, r->file, r->line,
				"as written: %s:%u accepts part of it first; imported "
				"as a deny, which fwd checks before every allow",
				a->file, a->line);
		break;
	}
	rs->fate[i] = F_DENY;
	deny_push(rs->dn, r, i);
	if (r->proto == FWD_IMP_ALL)
		fwd_import_skip(imp, r->file, r->line,
				"its protocols other than TCP and UDP (fwd's deny "
				"takes TCP and UDP ports)");
}

/* Whether an accept before rule i, imported, overlaps it. */
static bool overlaps_allowed(struct res *rs, size_t i)
{
	return first_allowed(rs, &rs->imp->rules[i], i) != NULL;
}

static void resolve(struct fwd_import *imp, enum fate *fate, struct denies *dn)
{
	struct res rs = { .imp = imp, .fate = fate, .dn = dn };

	pidx_build(&rs.drops, imp, false);
	pidx_build(&rs.accepts, imp, true);
	for (size_t i = 0; i < imp->nrules; i++) {
		const struct fwd_imp_rule *r = &imp->rules[i];
		bool open = default_of(imp, r->dir) == FWD_ALLOW;

		if (r->verdict == FWD_IMP_ACCEPT && !open)
			resolve_accept(&rs, i);
		else if (r->verdict != FWD_IMP_ACCEPT && open)
			resolve_drop_open(&rs, i);
	}
	/* Under a closed default a drop nothing later overrides is the
	 * default's own; under an open one an accept is. */
	deny_tidy(dn);
	for (size_t k = 0; k < dn->n; k++)
		fate[dn->from[k]] = F_DENY;
	for (size_t i = 0; i < imp->nrules; i++) {
		const struct fwd_imp_rule *r = &imp->rules[i];
		bool open = default_of(imp, r->dir) == FWD_ALLOW;

		if (fate[i] != F_NONE)
			continue;
		if (r->verdict == FWD_IMP_REJECT && default_of(imp, r->dir) == FWD_DENY &&
		    !overlaps_allowed(&rs, i)) {
			/* fwd's deny rejects: the original's answer, kept. */
			fate[i] = F_DENY;
			deny_push(dn, r, i);
			continue;
		}
		if (r->verdict != FWD_IMP_ACCEPT && !open)
			note(imp, r->file, r->line,
				      "nothing to import: the default %s already "
				      "refuses it%s", r->dir == FWD_DIR_IN ?
				      "inbound" : "outbound",
				      r->verdict == FWD_IMP_REJECT &&
				      default_of(imp, r->dir) == FWD_DENY ?
				      " (by dropping, not rejecting)" : "");
		else if (r->verdict == FWD_IMP_ACCEPT && open)
			note(imp, r->file, r->line,
				      "nothing to import: the default %s already "
				      "accepts it", r->dir == FWD_DIR_IN ?
				      "inbound" : "outbound");
	}
	pidx_free(&rs.drops);
	pidx_free(&rs.accepts);
	free(rs.found.v);
	free(rs.found2.v);
	free(rs.found3.v);
	peerset_free(&rs.mine);
}

/* ---- the writer ----------------------------------------------------- */

struct buf {
	char *s;
	size_t n, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	size_t n;

	va_start(ap, fmt);
	s = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	n = strlen(s);
	FWD_GROW(b->s, b->cap, b->n + n + 1);
	memcpy(b->s + b->n, s, n + 1);
	b->n += n;
	free(s);
}

/* One port range of one protocol in one direction, and who may use it. */
struct svc {
	enum fwd_dir dir;
	uint8_t proto;
	uint16_t lo, hi;
	struct fwd_addr *peers;
	size_t npeers, cap;
	const struct fwd_imp_rule **from;
	size_t nfrom, fcap;
	/* The peers by (family, prefix, network): slot = position + 1, 0
	 * empty; and the prefix lengths among them, per family (a length
	 * stays marked until the table is rebuilt: a stale mark costs one
	 * lookup, never a wrong answer). */
	size_t *ptab, pcap;
	uint64_t plens[2][3];
};

/* The services by (direction, protocol, ports): slot = index + 1, 0 empty. */
struct svcs {
	struct svc *v;
	size_t n, cap;
	size_t *tab, tcap;
};

static size_t svc_peer_hash(const struct fwd_addr *p)
{
	uint8_t net[16];

	mask_to(net, p, p->prefix);
	return peer_hash(p->family, p->prefix, net);
}

static void svc_ptab_put(struct svc *s, size_t pos)
{
	const struct fwd_addr *p = &s->peers[pos];
	size_t h = svc_peer_hash(p) & (s->pcap - 1);

	while (s->ptab[h])
		h = (h + 1) & (s->pcap - 1);
	s->ptab[h] = pos + 1;
	s->plens[p->family == AF_INET6][p->prefix / 64] |= 1ull << (p->prefix % 64);
}

/* The table made again for the peers there, at least twice their number. */
static void svc_ptab_rebuild(struct svc *s)
{
	size_t cap = 16;

	while (cap < 2 * (s->npeers + 1))
		cap *= 2;
	free(s->ptab);
	s->ptab = fwd_xcalloc(cap, sizeof(*s->ptab));
	s->pcap = cap;
	memset(s->plens, 0, sizeof(s->plens));
	for (size_t i = 0; i < s->npeers; i++)
		svc_ptab_put(s, i);
}

static bool svc_len_used(const struct svc *s, uint8_t family, unsigned l)
{
	return s->plens[family == AF_INET6][l / 64] >> (l % 64) & 1;
}

/* Whether a peer there holds p (peer_covers), by p's network at each
 * prefix length there. */
static bool svc_holds(const struct svc *s, const struct fwd_addr *p)
{
	uint8_t net[16];

	for (unsigned l = 0; l <= p->prefix; l++) {
		size_t h;

		if (!svc_len_used(s, p->family, l))
			continue;
		mask_to(net, p, l);
		for (h = peer_hash(p->family, (uint8_t)l, net) & (s->pcap - 1); s->ptab[h];
		     h = (h + 1) & (s->pcap - 1)) {
			const struct fwd_addr *q = &s->peers[s->ptab[h] - 1];

			if (q->family == p->family && q->prefix == l &&
			    same_prefix(q->a, net, l))
				return true;
		}
	}
	return false;
}

/* Whether a peer there has a longer prefix than p in p's family: only
 * such a peer can lie inside p. */
static bool svc_longer(const struct svc *s, const struct fwd_addr *p)
{
	for (unsigned l = p->prefix + 1u; l <= addr_bytes(p->family) * 8; l++)
		if (svc_len_used(s, p->family, l))
			return true;
	return false;
}

static size_t svc_key_hash(enum fwd_dir dir, uint8_t proto, uint16_t lo, uint16_t hi)
{
	uint64_t k = (uint64_t)dir << 40 | (uint64_t)proto << 32 | (uint64_t)lo << 16 | hi;

	k *= 0x9e3779b97f4a7c15ull;
	return (size_t)(k ^ k >> 29);
}

/* The service of (dir, proto, lo, hi), made (in order of first use) when
 * there is none. */
static struct svc *svc_get(struct svcs *ss, enum fwd_dir dir, uint8_t proto,
			   uint16_t lo, uint16_t hi)
{
	size_t h;
	struct svc *s;

	if (2 * (ss->n + 1) > ss->tcap) {
		ss->tcap = ss->tcap ? 2 * ss->tcap : 16;
		free(ss->tab);
		ss->tab = fwd_xcalloc(ss->tcap, sizeof(*ss->tab));
		for (size_t i = 0; i < ss->n; i++) {
			s = &ss->v[i];
			h = svc_key_hash(s->dir, s->proto, s->lo, s->hi) & (ss->tcap - 1);
			while (ss->tab[h])
				h = (h + 1) & (ss->tcap - 1);
			ss->tab[h] = i + 1;
		}
	}
	for (h = svc_key_hash(dir, proto, lo, hi) & (ss->tcap - 1); ss->tab[h];
	     h = (h + 1) & (ss->tcap - 1)) {
		s = &ss->v[ss->tab[h] - 1];
		if (s->dir == dir && s->proto == proto && s->lo == lo && s->hi == hi)
			return s;
	}
	FWD_GROW(ss->v, ss->cap, ss->n + 1);
	ss->tab[h] = ss->n + 1;
	s = &ss->v[ss->n++];
	memset(s, 0, sizeof(*s));
	s->dir = dir;
	s->proto = proto;
	s->lo = lo;
	s->hi = hi;
	svc_ptab_rebuild(s);
	return s;
}

static void svc_add(struct svcs *ss, const struct fwd_imp_rule *r, uint8_t proto)
{
	uint16_t lo = r->lo ? r->lo : 1, hi = r->lo ? r->hi : 65535;
	struct svc *s = svc_get(ss, r->dir, proto, lo, hi);
	size_t had;

	FWD_GROW(s->from, s->fcap, s->nfrom + 1);
	s->from[s->nfrom++] = r;
	/* A peer inside one already there adds nothing; one holding those
	 * there replaces them (in place of each, the last one: the order
	 * the text is written in). The lookups keep this linear in the
	 * peers where a scan of them per peer was quadratic (50k sources
	 * of one port took 10 s). */
	if (svc_holds(s, &r->peer))
		return;
	had = s->npeers;
	if (svc_longer(s, &r->peer)) {
		for (size_t i = 0; i < s->npeers;) {
			if (peer_covers(&r->peer, &s->peers[i]))
				s->peers[i] = s->peers[--s->npeers];
			else
				i++;
		}
	}
	FWD_GROW(s->peers, s->cap, s->npeers + 1);
	s->peers[s->npeers++] = r->peer;
	if (s->npeers != had + 1 || 2 * (s->npeers + 1) > s->pcap)
		svc_ptab_rebuild(s);	/* peers moved, or the table is full */
	else
		svc_ptab_put(s, s->npeers - 1);
}

static void put_ports(struct buf *b, uint8_t proto, uint16_t lo, uint16_t hi)
{
	if (lo == hi)
		put(b, "%u/%s", lo, fwd_proto_name(proto));
	else
		put(b, "%u-%u/%s", lo, hi, fwd_proto_name(proto));
}

static bool is_everyone(const struct svc *s, uint8_t family)
{
	for (size_t i = 0; i < s->npeers; i++)
		if (s->peers[i].family == family && s->peers[i].prefix == 0)
			return true;
	return false;
}

/* allow = A, B, C with continuation lines, each well within inih's 200. */
static void put_peers(struct buf *b, const struct svc *s)
{
	size_t col = 0;

	put(b, "allow =");
	if (is_everyone(s, AF_INET) && is_everyone(s, AF_INET6)) {
		put(b, " any\n");
		return;
	}
	for (size_t i = 0; i < s->npeers; i++) {
		char a[FWD_ADDR_STRLEN];

		fwd_addr_format(&s->peers[i], a, sizeof(a));
		if (col > 100) {
			put(b, "\n       ");
			col = 0;
		} else if (i) {
			put(b, ",");
		}
		put(b, " %s", a);
		col += strlen(a) + 2;
	}
	put(b, "\n");
}

/* A file's base name in a comment: control bytes escaped (a newline would end
 * the comment), short enough that the line stays far below 198 bytes. */
static const char *qfile(char *q, const char *file)
{
	const char *base = strrchr(file, '/');

	base = base && base[1] ? base + 1 : file;
	return fwd_quote(q, base, strlen(base), 30);
}

static void put_service(struct buf *b, const char *tool, const struct svc *s)
{
	char q[FWD_QUOTE_BUF(30)];

	put(b, "\n; from");
	for (size_t i = 0; i < s->nfrom && i < 1; i++)
		put(b, " %s:%u", qfile(q, s->from[i]->file), s->from[i]->line);
	if (s->nfrom > 1)
		put(b, " and %zu more", s->nfrom - 1);
	put(b, "\n[service %s-%u", tool, s->lo);
	if (s->hi != s->lo)
		put(b, "-%u", s->hi);
	put(b, "-%s%s]\nports = ", fwd_proto_name(s->proto),
	    s->dir == FWD_DIR_OUT ? "-out" : "");
	put_ports(b, s->proto, s->lo, s->hi);
	put(b, "\n");
	if (s->dir == FWD_DIR_OUT)
		put(b, "direction = out\n");
	put_peers(b, s);
}

static void put_deny(struct buf *b, const struct fwd_imp_rule *r, uint8_t proto)
{
	char a[FWD_ADDR_STRLEN], q[FWD_QUOTE_BUF(30)];

	fwd_addr_format(&r->peer, a, sizeof(a));
	put(b, "; from %s:%u\ndeny = ", qfile(q, r->file), r->line);
	put_ports(b, proto, r->lo ? r->lo : 1, r->lo ? r->hi : 65535);
	put(b, " %s %s\n", r->dir == FWD_DIR_OUT ? "to" : "from", a);
}

/* The original's defaults against the main file's, when those stand. */
static void check_defaults(struct fwd_import *imp, const struct fwd_policy *m)
{
	if (imp->inbound_set && imp->inbound != m->inbound)
		fwd_import_skip(imp, imp->inbound_from.file, imp->inbound_from.line,
				"the default inbound verdict %s: %s:%u says inbound = "
				"%s; change it there", fwd_action_name(imp->inbound),
				m->inbound_loc.file ? m->inbound_loc.file :
				m->defaults_loc.file, m->inbound_loc.file ?
				m->inbound_loc.line : m->defaults_loc.line,
				fwd_action_name(m->inbound));
	if (imp->outbound_set && imp->outbound != m->outbound)
		fwd_import_skip(imp, imp->outbound_from.file, imp->outbound_from.line,
				"the default outbound verdict %s: %s:%u says outbound = "
				"%s; change it there", fwd_action_name(imp->outbound),
				m->outbound_loc.file ? m->outbound_loc.file :
				m->defaults_loc.file, m->outbound_loc.file ?
				m->outbound_loc.line : m->defaults_loc.line,
				fwd_action_name(m->outbound));
	if (imp->icmp_all == (FWD_IMP_V4 | FWD_IMP_V6) && m->icmp != FWD_ICMP_ALL)
		fwd_import_skip(imp, m->defaults_loc.file, m->defaults_loc.line,
				"every ICMP type accepted: this [defaults] says icmp = "
				"%s; write icmp = all there", fwd_icmp_name(m->icmp));
}

/* A skipped line's place: its file's rank (first seen first), its line,
 * and where it was in the list (ties keep their order). */
struct skip_ref {
	size_t rank;
	unsigned line;
	size_t pos;
};

static int skip_cmp(const void *x, const void *y)
{
	const struct skip_ref *a = x, *b = y;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->pos < b->pos ? -1 : a->pos > b->pos;
}

/* The skipped list in the order of the files and their lines, whichever
 * pass found each: a stable sort (qsort with the position as the last
 * key; the insertion sort before was quadratic when a big import had
 * thousands of lines skipped by both the parser and the resolution). */
static void sort_skipped(struct fwd_diags *d)
{
	char **files = fwd_xcalloc(d->n + 1, sizeof(*files));
	struct skip_ref *ref = fwd_xcalloc(d->n + 1, sizeof(*ref));
	struct fwd_diag *v = fwd_xcalloc(d->n + 1, sizeof(*v));
	size_t nfiles = 0;

	for (size_t i = 0; i < d->n; i++) {
		const char *f = d->v[i].file ? d->v[i].file : "";
		size_t k = 0;

		/* The files are few (one per input): a scan. */
		while (k < nfiles && strcmp(files[k], f))
			k++;
		if (k == nfiles)
			files[nfiles++] = (char *)f;
		ref[i] = (struct skip_ref){ k, d->v[i].line, i };
	}
	qsort(ref, d->n, sizeof(*ref), skip_cmp);
	for (size_t i = 0; i < d->n; i++)
		v[i] = d->v[ref[i].pos];
	if (d->n)
		memcpy(d->v, v, d->n * sizeof(*v));
	free(v);
	free(ref);
	free(files);
}

char *fwd_import_render(struct fwd_import *imp,
			const struct fwd_import_render_opts *o)
{
	enum fate *fate = fwd_xcalloc(imp->nrules ? imp->nrules : 1, sizeof(*fate));
	struct svcs ss = { 0 };
	size_t ndeny = 0;
	struct buf b = { 0 };
	struct denies dn = { 0 };
	char q[FWD_QUOTE_BUF(30)];

	resolve(imp, fate, &dn);
	if (imp->icmp_all && imp->icmp_all != (FWD_IMP_V4 | FWD_IMP_V6))
		fwd_import_skip(imp, imp->icmp_from.file, imp->icmp_from.line,
				"every ICMP type for IPv%c only (fwd's [defaults] icmp "
				"holds for both families; essential stays)",
				imp->icmp_all == FWD_IMP_V4 ? '4' : '6');
	if (!o->defaults && o->main)
		check_defaults(imp, o->main);
	put(&b, "; fwd policy written by `fwctl import %s`%s%s.\n", imp->tool,
	    o->source ? " from " : "",
	    o->source ? qfile(q, o->source) : "");
	put(&b, "; The original's order is resolved: fwd checks deny lines before any\n"
		"; allow. What could not be expressed was listed by fwctl as\n"
		"; FILE:LINE: not imported (%zu here); such ports stay closed.\n",
	    imp->skipped.n);
	if (o->defaults) {
		put(&b, "\n[defaults]\ninbound = %s\noutbound = %s\n",
		    fwd_action_name(imp->inbound), fwd_action_name(imp->outbound));
		if (imp->icmp_all == (FWD_IMP_V4 | FWD_IMP_V6))
			put(&b, "icmp = all\n");
	}
	for (size_t i = 0; i < imp->nrules; i++) {
		const struct fwd_imp_rule *r = &imp->rules[i];

		if (fate[i] == F_ALLOW) {
			if (r->proto != FWD_IMP_UDP)
				svc_add(&ss, r, IPPROTO_TCP);
			if (r->proto != FWD_IMP_TCP)
				svc_add(&ss, r, IPPROTO_UDP);
		}
	}
	ndeny = dn.n;
	for (size_t i = 0; i < ss.n; i++)
		put_service(&b, imp->tool, &ss.v[i]);
	if (ndeny) {
		put(&b, "\n; drops of the original that a later accept would override\n"
			"[edits]\n");
		for (size_t i = 0; i < dn.n; i++) {
			const struct fwd_imp_rule *r = &dn.v[i];

			if (r->proto != FWD_IMP_UDP)
				put_deny(&b, r, IPPROTO_TCP);
			if (r->proto != FWD_IMP_TCP)
				put_deny(&b, r, IPPROTO_UDP);
		}
	}
	for (size_t i = 0; i < ss.n; i++) {
		free(ss.v[i].peers);
		free(ss.v[i].from);
		free(ss.v[i].ptab);
	}
	free(ss.v);
	free(ss.tab);
	free(dn.v);
	free(dn.from);
	free(fate);
	sort_skipped(&imp->skipped);
	return b.s;
}
