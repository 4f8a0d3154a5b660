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

/* Into one accept's own short list: nothing covered twice. */
static void deny_add(struct denies *dn, const struct fwd_imp_rule *r, size_t from)
{
	for (size_t i = 0; i < dn->n; i++)
		if (covers(&dn->v[i], r))
			return;
	deny_push(dn, r, from);
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
static void resolve_accept(struct fwd_import *imp, size_t i, enum fate *fate,
			   struct denies *dn)
{
	const struct fwd_imp_rule *r = &imp->rules[i];
	struct denies mine = { 0 };

	for (size_t j = 0; j < i; j++) {
		const struct fwd_imp_rule *d = &imp->rules[j];
		struct fwd_imp_rule x;

		if (d->verdict == FWD_IMP_ACCEPT || !overlaps(d, r))
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
		for (size_t k = 0; k < j; k++) {
			const struct fwd_imp_rule *a = &imp->rules[k];

			if (a->verdict == FWD_IMP_ACCEPT && fate[k] == F_ALLOW &&
			    overlaps(a, &x)) {
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
		}
		deny_add(&mine, &x, j);
	}
	for (size_t k = 0; k < mine.n; k++)
		deny_push(dn, &mine.v[k], mine.from[k]);
	free(mine.v);
	free(mine.from);
	fate[i] = F_ALLOW;
	if (r->proto == FWD_IMP_ALL)
		fwd_import_skip(imp, r->file, r->line,
				"its protocols other than TCP and UDP (fwd allows "
				"TCP and UDP ports; ICMP follows [defaults] icmp)");
}

/* A drop under an open default: always a deny (closed), reported when an
 * earlier accept of the original overlaps it. */
static void resolve_drop_open(struct fwd_import *imp, size_t i, enum fate *fate,
			      struct denies *dn)
{
	const struct fwd_imp_rule *r = &imp->rules[i];

	for (size_t k = 0; k < i; k++) {
		const struct fwd_imp_rule *a = &imp->rules[k];

		if (a->verdict != FWD_IMP_ACCEPT || !overlaps(a, r))
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
	fate[i] = F_DENY;
	deny_push(dn, r, i);
	if (r->proto == FWD_IMP_ALL)
		fwd_import_skip(imp, r->file, r->line,
				"its protocols other than TCP and UDP (fwd's deny "
				"takes TCP and UDP ports)");
}

/* Whether an accept before rule i, imported, overlaps it. */
static bool overlaps_allowed(const struct fwd_import *imp, size_t i, const enum fate *fate)
{
	for (size_t k = 0; k < i; k++)
		if (fate[k] == F_ALLOW && overlaps(&imp->rules[k], &imp->rules[i]))
			return true;
	return false;
}

static void resolve(struct fwd_import *imp, enum fate *fate, struct denies *dn)
{
	for (size_t i = 0; i < imp->nrules; i++) {
		const struct fwd_imp_rule *r = &imp->rules[i];
		bool open = default_of(imp, r->dir) == FWD_ALLOW;

		if (r->verdict == FWD_IMP_ACCEPT && !open)
			resolve_accept(imp, i, fate, dn);
		else if (r->verdict != FWD_IMP_ACCEPT && open)
			resolve_drop_open(imp, i, fate, dn);
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
		    !overlaps_allowed(imp, i, fate)) {
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
};

static void svc_add(struct svc **v, size_t *n, size_t *cap,
		    const struct fwd_imp_rule *r, uint8_t proto)
{
	uint16_t lo = r->lo ? r->lo : 1, hi = r->lo ? r->hi : 65535;
	struct svc *s = NULL;

	for (size_t i = 0; i < *n && !s; i++)
		if ((*v)[i].dir == r->dir && (*v)[i].proto == proto &&
		    (*v)[i].lo == lo && (*v)[i].hi == hi)
			s = &(*v)[i];
	if (!s) {
		FWD_GROW(*v, *cap, *n + 1);
		s = &(*v)[(*n)++];
		memset(s, 0, sizeof(*s));
		s->dir = r->dir;
		s->proto = proto;
		s->lo = lo;
		s->hi = hi;
	}
	FWD_GROW(s->from, s->fcap, s->nfrom + 1);
	s->from[s->nfrom++] = r;
	/* A peer inside one already there adds nothing; one holding those
	 * there replaces them. */
	for (size_t i = 0; i < s->npeers; i++)
		if (peer_covers(&s->peers[i], &r->peer))
			return;
	for (size_t i = 0; i < s->npeers;) {
		if (peer_covers(&r->peer, &s->peers[i]))
			s->peers[i] = s->peers[--s->npeers];
		else
			i++;
	}
	FWD_GROW(s->peers, s->cap, s->npeers + 1);
	s->peers[s->npeers++] = r->peer;
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

/* The skipped list in the order of the files and their lines, whichever
 * pass found each (a stable insertion sort: the lists are short). */
static void sort_skipped(struct fwd_diags *d)
{
	char **files = fwd_xcalloc(d->n + 1, sizeof(*files));
	size_t nfiles = 0;
	size_t *rank = fwd_xcalloc(d->n + 1, sizeof(*rank));

	for (size_t i = 0; i < d->n; i++) {
		const char *f = d->v[i].file ? d->v[i].file : "";
		size_t k = 0;

		while (k < nfiles && strcmp(files[k], f))
			k++;
		if (k == nfiles)
			files[nfiles++] = (char *)f;
		rank[i] = k;
	}
	for (size_t i = 1; i < d->n; i++) {
		struct fwd_diag g = d->v[i];
		size_t r = rank[i], j = i;

		while (j > 0 && (rank[j - 1] > r ||
				 (rank[j - 1] == r && d->v[j - 1].line > g.line))) {
			d->v[j] = d->v[j - 1];
			rank[j] = rank[j - 1];
			j--;
		}
		d->v[j] = g;
		rank[j] = r;
	}
	free(rank);
	free(files);
}

char *fwd_import_render(struct fwd_import *imp,
			const struct fwd_import_render_opts *o)
{
	enum fate *fate = fwd_xcalloc(imp->nrules ? imp->nrules : 1, sizeof(*fate));
	struct svc *svcs = NULL;
	size_t nsvcs = 0, scap = 0, ndeny = 0;
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
				svc_add(&svcs, &nsvcs, &scap, r, IPPROTO_TCP);
			if (r->proto != FWD_IMP_TCP)
				svc_add(&svcs, &nsvcs, &scap, r, IPPROTO_UDP);
		}
	}
	ndeny = dn.n;
	for (size_t i = 0; i < nsvcs; i++)
		put_service(&b, imp->tool, &svcs[i]);
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
	for (size_t i = 0; i < nsvcs; i++) {
		free(svcs[i].peers);
		free(svcs[i].from);
	}
	free(svcs);
	free(dn.v);
	free(dn.from);
	free(fate);
	sort_skipped(&imp->skipped);
	return b.s;
}
