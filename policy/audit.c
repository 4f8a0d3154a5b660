// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Listening sockets + running IR -> the exposure audit: a verdict per
 * socket, the allowed ports nobody listens on, and the baseline that
 * `fwctl audit --diff` and fwd's [audit] interval compare with.
 *
 * The verdict comes from the sets the input chain looks into, not from
 * probing addresses: the allow sets say from whom a port is open, and a
 * listener sees only the families its binding receives (an AF_INET6
 * socket on :: without IPV6_V6ONLY also gets IPv4, as ::ffff:a.b.c.d).
 * What the sets cannot say (an input chain that accepts by policy or with
 * a rule that looks nothing up) fwd_ir_explain says, once per family and
 * protocol, for a port no set holds.
 */
#include "audit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "ir.h"
#include "util.h"

const char *fwd_audit_verdict_name(enum fwd_audit_verdict v)
{
	switch (v) {
	case FWD_AUDIT_EXPOSED: return "exposed";
	case FWD_AUDIT_RESTRICTED: return "restricted";
	case FWD_AUDIT_SHIELDED: return "shielded";
	default: return "local";
	}
}

struct fwd_audit_sock *fwd_audit_add(struct fwd_audit *a)
{
	FWD_GROW(a->socks, a->cap, a->n + 1);
	memset(&a->socks[a->n], 0, sizeof(a->socks[0]));
	return &a->socks[a->n++];
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void fwd_audit_free(struct fwd_audit *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		strv_free(a->socks[i].from, a->socks[i].nfrom);
	for (size_t i = 0; i < a->nunused; i++)
		strv_free(a->unused[i].from, a->unused[i].nfrom);
	free(a->socks);
	free(a->unused);
	memset(a, 0, sizeof(*a));
}

static const uint8_t mapped_pfx[12] = { [10] = 0xff, [11] = 0xff };

static bool is_mapped(const uint8_t *a)
{
	return memcmp(a, mapped_pfx, 12) == 0;
}

static bool is_zero(const uint8_t *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i])
			return false;
	return true;
}

static bool is_loopback(const struct fwd_audit_sock *s)
{
	static const uint8_t lo6[16] = { [15] = 1 };

	if (s->family == AF_INET)
		return s->addr[0] == 127;
	return memcmp(s->addr, lo6, 16) == 0 ||
	       (is_mapped(s->addr) && s->addr[12] == 127);
}

/* Which families' packets the socket receives. */
static void receives(const struct fwd_audit_sock *s, bool *v4, bool *v6)
{
	if (s->family == AF_INET) {
		*v4 = true;
		*v6 = false;
		return;
	}
	*v6 = !is_mapped(s->addr);
	*v4 = !s->v6only && (is_zero(s->addr, 16) || is_mapped(s->addr));
}

void fwd_audit_addr(const struct fwd_audit_sock *s, char *buf, size_t len)
{
	char t[INET6_ADDRSTRLEN];

	if (!inet_ntop(s->family, s->addr, t, sizeof(t)))
		snprintf(t, sizeof(t), "?");
	snprintf(buf, len, "%s", t);
}

void fwd_audit_unit_of(const char *cgroup, char *out, size_t len)
{
	const char *line = cgroup;

	*out = '\0';
	while (*line) {
		size_t n = strcspn(line, "\n");

		/* cgroup v2: "0::/system.slice/ssh.service". */
		if (n > 3 && !memcmp(line, "0::", 3)) {
			const char *c = line + 3, *end = line + n;

			while (c < end) {
				size_t cn;

				while (c < end && *c == '/')
					c++;
				cn = strcspn(c, "/\n");
				if ((cn > 8 && !memcmp(c + cn - 8, ".service", 8)) ||
				    (cn > 6 && !memcmp(c + cn - 6, ".scope", 6)))
					snprintf(out, len, "%.*s", (int)cn, c);
				c += cn;
			}
		}
		line += n;
		if (*line)
			line++;
	}
}

static int sock_cmp(const void *x, const void *y)
{
	const struct fwd_audit_sock *a = x, *b = y;
	int r;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, 16);
	if (r)
		return r;
	return a->inode < b->inode ? -1 : a->inode > b->inode;
}

/* ---- the input sets, indexed by port ---- */

enum ent_kind { ENT_ALLOW4, ENT_ALLOW6, ENT_OPEN, ENT_DENY_OPEN, ENT_DENY4, ENT_DENY6 };

struct ent {
	uint8_t proto;
	uint16_t plo, phi;
	enum ent_kind kind;
	const struct fwd_ir_elem *e;
};

/*
 * All entries sorted by (proto, plo) for the unused ports; for the
 * lookup by port the narrow ones (at most WIDE ports) in the same order,
 * so that a port's candidates start at most maxspan before it, and the
 * wide ones apart, walked whole: few policies open port ranges wider
 * than that, and one 1-65535 range must not make every socket walk a
 * 100k-source allowlist of port 22.
 */
#define WIDE 256u

struct index {
	struct ent *v, *narrow, *wide;
	size_t n, cap, nnarrow, nwide;
	unsigned maxspan[256];		/* longest phi - plo per proto, narrow */
};

static int ent_cmp(const void *x, const void *y)
{
	const struct ent *a = x, *b = y;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->plo != b->plo)
		return a->plo < b->plo ? -1 : 1;
	return a->phi < b->phi ? -1 : a->phi > b->phi;
}

static void index_set(struct index *x, const struct fwd_ir *ir, unsigned id,
		      enum ent_kind kind)
{
	const struct fwd_ir_set *s;

	if (id >= ir->nsets)
		return;
	s = &ir->sets[id];
	for (size_t i = 0; i < s->n; i++) {
		const struct fwd_ir_elem *e = &s->elems[i];

		FWD_GROW(x->v, x->cap, x->n + 1);
		x->v[x->n++] = (struct ent){ .proto = e->proto, .plo = e->plo,
					     .phi = e->phi, .kind = kind, .e = e };
	}
}

static void index_build(struct index *x, const struct fwd_ir *ir)
{
	memset(x, 0, sizeof(*x));
	index_set(x, ir, FWD_SET_ALLOW4, ENT_ALLOW4);
	index_set(x, ir, FWD_SET_ALLOW4_NET, ENT_ALLOW4);
	index_set(x, ir, FWD_SET_ALLOW6, ENT_ALLOW6);
	index_set(x, ir, FWD_SET_ALLOW6_NET, ENT_ALLOW6);
	index_set(x, ir, FWD_SET_OPEN, ENT_OPEN);
	index_set(x, ir, FWD_SET_DENY_OPEN, ENT_DENY_OPEN);
	/* Inbound services with an interface or a limit (ir.h classes):
	 * open from their sources too, on one interface or at a rate, which
	 * the audit does not weigh (it errs towards "exposed"). */
	for (size_t k = 0; k < ir->nclasses; k++) {
		if (ir->classes[k].out)
			continue;
		index_set(x, ir, ir->classes[k].set4, ENT_ALLOW4);
		index_set(x, ir, ir->classes[k].set6, ENT_ALLOW6);
	}
	index_set(x, ir, FWD_SET_DENY4, ENT_DENY4);
	index_set(x, ir, FWD_SET_DENY6, ENT_DENY6);
	if (x->n)
		qsort(x->v, x->n, sizeof(*x->v), ent_cmp);
	x->narrow = fwd_xcalloc(x->n ? x->n : 1, sizeof(*x->narrow));
	x->wide = fwd_xcalloc(x->n ? x->n : 1, sizeof(*x->wide));
	for (size_t i = 0; i < x->n; i++) {
		const struct ent *t = &x->v[i];
		unsigned span = (unsigned)(t->phi - t->plo);

		if (span > WIDE) {
			x->wide[x->nwide++] = *t;
		} else {
			x->narrow[x->nnarrow++] = *t;
			if (span > x->maxspan[t->proto])
				x->maxspan[t->proto] = span;
		}
	}
}

static void index_free(struct index *x)
{
	free(x->v);
	free(x->narrow);
	free(x->wide);
}

/* First narrow entry with (proto, plo) >= (proto, lo). */
static size_t index_lower(const struct index *x, uint8_t proto, unsigned lo)
{
	size_t a = 0, b = x->nnarrow;

	while (a < b) {
		size_t m = a + (b - a) / 2;

		if (x->narrow[m].proto < proto ||
		    (x->narrow[m].proto == proto && x->narrow[m].plo < lo))
			a = m + 1;
		else
			b = m;
	}
	return a;
}

/* ---- address ranges as words ---- */

/* "192.0.2.0/24", "192.0.2.7", else "192.0.2.7-192.0.2.9". */
static char *range_word(const uint8_t *lo, const uint8_t *hi, size_t alen)
{
	struct fwd_addr a = { .family = alen == 4 ? AF_INET : AF_INET6 };
	char b1[FWD_ADDR_STRLEN], b2[INET6_ADDRSTRLEN];
	unsigned bits = (unsigned)alen * 8, p;

	/* The prefix: the longest run of equal leading bits, then lo must
	 * have only zeros after it and hi only ones. */
	for (p = 0; p < bits; p++) {
		unsigned byte = p / 8, bit = 7 - p % 8;

		if (((lo[byte] >> bit) & 1) != ((hi[byte] >> bit) & 1))
			break;
	}
	for (unsigned q = p; q < bits; q++) {
		unsigned byte = q / 8, bit = 7 - q % 8;

		if (((lo[byte] >> bit) & 1) != 0 || ((hi[byte] >> bit) & 1) != 1) {
			memcpy(a.a, lo, alen);
			a.prefix = (uint8_t)bits;
			fwd_addr_format(&a, b1, sizeof(b1));
			inet_ntop(a.family, hi, b2, sizeof(b2));
			return fwd_xasprintf("%s-%s", b1, b2);
		}
	}
	memcpy(a.a, lo, alen);
	a.prefix = (uint8_t)p;
	fwd_addr_format(&a, b1, sizeof(b1));
	return fwd_xstrdup(b1);
}

/* a + 1 over len bytes; false when it wraps (a was all ones). */
static bool addr_inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (++a[i] != 0)
			return true;
	return false;
}

struct range {
	uint8_t lo[16], hi[16];
};

static int range_cmp(const void *x, const void *y)
{
	const struct range *a = x, *b = y;
	int r = memcmp(a->lo, b->lo, 16);

	return r ? r : memcmp(a->hi, b->hi, 16);
}

static void strv_push(char ***v, size_t *n, size_t *cap, char *w)
{
	FWD_GROW(*v, *cap, *n + 1);
	(*v)[(*n)++] = w;
}

/* The ranges as words, sorted, each once (a source allowed on several
 * port pieces is one element per piece): O(n log n), so a list of 100k
 * sources stays cheap. */
static void range_words(struct range *r, size_t n, size_t alen, char ***v, size_t *nv,
			size_t *cap)
{
	if (n)
		qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || range_cmp(&r[i - 1], &r[i]) != 0)
			strv_push(v, nv, cap, range_word(r[i].lo, r[i].hi, alen));
}

/* a - 1 over len bytes; false when it wraps (a was all zeros). */
static bool addr_dec(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0;)
		if (a[i]-- != 0)
			return true;
	return false;
}

static void range_push(struct range **v, size_t *n, size_t *cap,
		       const uint8_t *lo, const uint8_t *hi)
{
	FWD_GROW(*v, *cap, *n + 1);
	memset(&(*v)[*n], 0, sizeof(**v));
	memcpy((*v)[*n].lo, lo, 16);
	memcpy((*v)[*n].hi, hi, 16);
	(*n)++;
}

/*
 * The allowed ranges r[0..*n) minus the denied ones d[0..nd) (a `fwctl
 * deny PORT from X` rejects X before any allow lookup): what is left of
 * each, in place of r. Denies are few (edits), so each allowed range is
 * cut by each deny in turn: O(n x nd).
 */
static void ranges_minus(struct range **r, size_t *n, const struct range *d,
			 size_t nd, size_t alen)
{
	for (size_t k = 0; k < nd; k++) {
		struct range *out = NULL;
		size_t nout = 0, cap = 0;

		for (size_t i = 0; i < *n; i++) {
			const struct range *a = &(*r)[i];
			uint8_t edge[16];

			if (memcmp(d[k].hi, a->lo, 16) < 0 || memcmp(d[k].lo, a->hi, 16) > 0) {
				range_push(&out, &nout, &cap, a->lo, a->hi);
				continue;
			}
			/* The part below the deny, then the part above it. */
			memcpy(edge, d[k].lo, 16);
			if (memcmp(d[k].lo, a->lo, 16) > 0 && addr_dec(edge, alen))
				range_push(&out, &nout, &cap, a->lo, edge);
			memcpy(edge, d[k].hi, 16);
			if (memcmp(d[k].hi, a->hi, 16) < 0 && addr_inc(edge, alen))
				range_push(&out, &nout, &cap, edge, a->hi);
		}
		free(*r);
		*r = out;
		*n = nout;
	}
}

/* Do the ranges together cover every address of alen bytes? */
static bool ranges_cover_all(struct range *r, size_t n, size_t alen)
{
	uint8_t next[16] = { 0 };

	if (n == 0)
		return false;
	qsort(r, n, sizeof(*r), range_cmp);
	for (size_t i = 0; i < n; i++) {
		if (memcmp(r[i].lo, next, alen) > 0)
			return false;
		if (memcmp(r[i].hi, next, alen) >= 0) {
			memcpy(next, r[i].hi, alen);
			if (!addr_inc(next, alen))
				return true;
		}
	}
	return false;
}

/* ---- judging ---- */

struct judge {
	const struct fwd_ir *ir;
	struct index x;
	bool chain_open[2][2];		/* [v6][udp]: accepts without a lookup */
};

/* Does the input chain accept a new packet from nowhere in particular to
 * a port no set holds? Then it accepts everything (inbound = allow). */
static bool chain_accepts_all(const struct fwd_ir *ir, int family, uint8_t proto)
{
	uint8_t zero[16] = { 0 };
	struct fwd_explain ex;

	if (fwd_ir_explain(ir, FWD_CHAIN_INPUT, family, zero, proto, 0, &ex) != 0)
		return false;
	return ex.verdict == FWD_V_ACCEPT && ex.set < 0;
}

static void judge_one(struct judge *J, struct fwd_audit_sock *s)
{
	bool v4, v6, open = false, deny = false;
	struct range *r4 = NULL, *r6 = NULL, *d4 = NULL, *d6 = NULL;
	size_t n4 = 0, n6 = 0, c4 = 0, c6 = 0, nd4 = 0, nd6 = 0, cd4 = 0, cd6 = 0;
	char **from = NULL;
	size_t nfrom = 0;
	unsigned span = J->x.maxspan[s->proto];
	size_t i = index_lower(&J->x, s->proto, s->port > span ? s->port - span : 0);

	if (is_loopback(s)) {
		s->verdict = FWD_AUDIT_LOCAL;
		return;
	}
	receives(s, &v4, &v6);
	for (size_t w = 0; w < J->x.nwide + J->x.nnarrow; w++) {
		const struct ent *t;

		if (w < J->x.nwide) {
			t = &J->x.wide[w];
			if (t->proto != s->proto || t->plo > s->port)
				continue;
		} else {
			/* The narrow ones from i on, while they can hold the port. */
			size_t k = i + (w - J->x.nwide);

			if (k >= J->x.nnarrow || J->x.narrow[k].proto != s->proto ||
			    J->x.narrow[k].plo > s->port)
				break;
			t = &J->x.narrow[k];
		}
		if (t->phi < s->port)
			continue;
		if (t->kind == ENT_OPEN)
			open = true;
		else if (t->kind == ENT_DENY_OPEN)
			deny = true;
		else if (t->kind == ENT_DENY4 && v4)
			range_push(&d4, &nd4, &cd4, t->e->lo, t->e->hi);
		else if (t->kind == ENT_DENY6 && v6)
			range_push(&d6, &nd6, &cd6, t->e->lo, t->e->hi);
		else if (t->kind == ENT_ALLOW4 && v4) {
			FWD_GROW(r4, c4, n4 + 1);
			memcpy(r4[n4].lo, t->e->lo, 16);
			memcpy(r4[n4++].hi, t->e->hi, 16);
		} else if (t->kind == ENT_ALLOW6 && v6) {
			FWD_GROW(r6, c6, n6 + 1);
			memcpy(r6[n6].lo, t->e->lo, 16);
			memcpy(r6[n6++].hi, t->e->hi, 16);
		}
	}
	if ((v4 && J->chain_open[0][s->proto == 17]) ||
	    (v6 && J->chain_open[1][s->proto == 17]))
		open = true;
	if (deny) {
		s->verdict = FWD_AUDIT_SHIELDED;
	} else if (open || (n4 && ranges_cover_all(r4, n4, 4)) ||
		   (n6 && ranges_cover_all(r6, n6, 16))) {
		size_t cap = 0;

		s->verdict = FWD_AUDIT_EXPOSED;
		strv_push(&from, &nfrom, &cap, fwd_xstrdup("any"));
	} else {
		size_t cap = 0;

		/* The sources a deny rejects are not allowed: not listed, and
		 * with none left the socket is shielded. */
		ranges_minus(&r4, &n4, d4, nd4, 4);
		ranges_minus(&r6, &n6, d6, nd6, 16);
		s->verdict = n4 + n6 ? FWD_AUDIT_RESTRICTED : FWD_AUDIT_SHIELDED;
		range_words(r4, n4, 4, &from, &nfrom, &cap);
		range_words(r6, n6, 16, &from, &nfrom, &cap);
	}
	s->from = from;
	s->nfrom = nfrom;
	free(r4);
	free(r6);
	free(d4);
	free(d6);
}

/* Does a socket other than a loopback one listen on proto lo..hi? */
static bool someone_listens(const struct fwd_audit *a, uint8_t proto,
			    uint16_t lo, uint16_t hi)
{
	size_t x = 0, y = a->n;

	while (x < y) {
		size_t m = x + (y - x) / 2;
		const struct fwd_audit_sock *s = &a->socks[m];

		if (s->proto < proto || (s->proto == proto && s->port < lo))
			x = m + 1;
		else
			y = m;
	}
	for (; x < a->n && a->socks[x].proto == proto && a->socks[x].port <= hi; x++)
		if (a->socks[x].verdict != FWD_AUDIT_LOCAL)
			return true;
	return false;
}

/* Is some of proto lo..hi refused from any source (a `fwctl deny` of the
 * port without a source)? Then it is not an allowed port. Deny edits are
 * few: a walk over them is enough. */
static bool denied_from_any(const struct index *x, uint8_t proto, uint16_t lo, uint16_t hi)
{
	for (size_t i = 0; i < x->n; i++)
		if (x->v[i].kind == ENT_DENY_OPEN && x->v[i].proto == proto &&
		    x->v[i].plo <= hi && x->v[i].phi >= lo)
			return true;
	return false;
}

static void find_unused(struct fwd_audit *a, struct judge *J)
{
	size_t cap = 0;

	for (size_t i = 0; i < J->x.n;) {
		const struct ent *t = &J->x.v[i];
		struct fwd_audit_unused u = { .proto = t->proto, .plo = t->plo,
					      .phi = t->phi };
		struct range *r4 = NULL, *r6 = NULL;
		size_t j, n4 = 0, n6 = 0, c4 = 0, c6 = 0, fcap = 0;
		bool any = false, allowed = false;

		for (j = i; j < J->x.n && J->x.v[j].proto == t->proto &&
		     J->x.v[j].plo == t->plo && J->x.v[j].phi == t->phi; j++) {
			const struct ent *e = &J->x.v[j];

			if (e->kind == ENT_DENY_OPEN)
				continue;
			allowed = true;
			if (e->kind == ENT_OPEN) {
				any = true;
			} else if (e->kind == ENT_ALLOW4) {
				FWD_GROW(r4, c4, n4 + 1);
				memcpy(r4[n4].lo, e->e->lo, 16);
				memcpy(r4[n4++].hi, e->e->hi, 16);
			} else {
				FWD_GROW(r6, c6, n6 + 1);
				memcpy(r6[n6].lo, e->e->lo, 16);
				memcpy(r6[n6++].hi, e->e->hi, 16);
			}
		}
		i = j;
		if (allowed && !someone_listens(a, u.proto, u.plo, u.phi) &&
		    !denied_from_any(&J->x, u.proto, u.plo, u.phi)) {
			if (any) {
				strv_push(&u.from, &u.nfrom, &fcap, fwd_xstrdup("any"));
			} else {
				range_words(r4, n4, 4, &u.from, &u.nfrom, &fcap);
				range_words(r6, n6, 16, &u.from, &u.nfrom, &fcap);
			}
		}
		free(r4);
		free(r6);
		if (!u.nfrom)
			continue;
		FWD_GROW(a->unused, cap, a->nunused + 1);
		a->unused[a->nunused++] = u;
	}
}

int fwd_audit_judge(struct fwd_audit *a, const struct fwd_ir *ir)
{
	struct judge J = { .ir = ir };
	size_t out = 0;

	if (!ir)
		return -EINVAL;
	if (a->n)
		qsort(a->socks, a->n, sizeof(*a->socks), sock_cmp);
	for (size_t i = 0; i < a->n; i++) {
		if (out && a->socks[out - 1].inode == a->socks[i].inode &&
		    sock_cmp(&a->socks[out - 1], &a->socks[i]) == 0)
			continue;
		a->socks[out++] = a->socks[i];
	}
	a->n = out;
	index_build(&J.x, ir);
	for (int f = 0; f < 2; f++)
		for (int u = 0; u < 2; u++)
			J.chain_open[f][u] = chain_accepts_all(ir, f ? AF_INET6 : AF_INET,
							       u ? 17 : 6);
	for (size_t i = 0; i < a->n; i++)
		judge_one(&J, &a->socks[i]);
	find_unused(a, &J);
	index_free(&J.x);
	return 0;
}

/* ---- baseline ---- */

#define BASELINE_HEADER "# fwd audit baseline 1"

static void field(FILE *f, const char *s, bool last)
{
	if (!*s)
		fputc('-', f);
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
	fputc(last ? '\n' : '\t', f);
}

void fwd_audit_entry_of(const struct fwd_audit_sock *s, struct fwd_audit_entry *e)
{
	memset(e, 0, sizeof(*e));
	snprintf(e->proto, sizeof(e->proto), "%s", s->proto == 17 ? "udp" : "tcp");
	fwd_audit_addr(s, e->addr, sizeof(e->addr));
	e->port = s->port;
	snprintf(e->verdict, sizeof(e->verdict), "%s", fwd_audit_verdict_name(s->verdict));
	e->uid = s->uid;
	snprintf(e->user, sizeof(e->user), "%s", s->user);
	snprintf(e->comm, sizeof(e->comm), "%s", s->comm);
	snprintf(e->exe, sizeof(e->exe), "%s", s->exe);
	snprintf(e->unit, sizeof(e->unit), "%s", s->unit);
}

char *fwd_audit_baseline_format(const struct fwd_audit *a, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);

	if (!f)
		abort();	/* OOM policy: abort */
	fprintf(f, "%s\n", BASELINE_HEADER);
	for (size_t i = 0; i < a->n; i++) {
		struct fwd_audit_entry e;
		char num[16];

		fwd_audit_entry_of(&a->socks[i], &e);
		field(f, e.proto, false);
		field(f, e.addr, false);
		snprintf(num, sizeof(num), "%u", e.port);
		field(f, num, false);
		field(f, e.verdict, false);
		snprintf(num, sizeof(num), "%u", e.uid);
		field(f, num, false);
		field(f, e.user, false);
		field(f, e.comm, false);
		field(f, e.exe, false);
		field(f, e.unit, true);
	}
	if (fclose(f) != 0)
		abort();
	return text;
}

/* Field k of a line into buf: '-' stands for empty. False when too long. */
static bool take(const char *s, size_t n, char *buf, size_t len)
{
	if (n >= len)
		return false;
	if (n == 1 && s[0] == '-')
		n = 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return true;
}

static bool number(const char *s, unsigned long max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static bool parse_line(const char *s, size_t n, struct fwd_audit_entry *e)
{
	const char *f[9];
	size_t fl[9], k = 0;
	char num[16];
	const char *p = s;

	memset(e, 0, sizeof(*e));
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '\t') {
			if (k == 9)
				return false;
			f[k] = p;
			fl[k++] = (size_t)(s + i - p);
			p = s + i + 1;
		}
	}
	if (k != 9 || !take(f[0], fl[0], e->proto, sizeof(e->proto)) ||
	    (strcmp(e->proto, "tcp") && strcmp(e->proto, "udp")) ||
	    !take(f[1], fl[1], e->addr, sizeof(e->addr)) ||
	    !take(f[2], fl[2], num, sizeof(num)) || !number(num, 65535, &e->port) ||
	    !take(f[3], fl[3], e->verdict, sizeof(e->verdict)) ||
	    !take(f[4], fl[4], num, sizeof(num)) || !number(num, UINT32_MAX, &e->uid) ||
	    !take(f[5], fl[5], e->user, sizeof(e->user)) ||
	    !take(f[6], fl[6], e->comm, sizeof(e->comm)) ||
	    !take(f[7], fl[7], e->exe, sizeof(e->exe)) ||
	    !take(f[8], fl[8], e->unit, sizeof(e->unit)))
		return false;
	for (int v = FWD_AUDIT_EXPOSED; v <= FWD_AUDIT_LOCAL; v++)
		if (strcmp(e->verdict, fwd_audit_verdict_name((enum fwd_audit_verdict)v)) == 0)
			return true;
	return false;
}

int fwd_audit_baseline_parse(const char *text, size_t len,
			     struct fwd_audit_entry **out, size_t *n,
			     char *why, size_t whylen)
{
	struct fwd_audit_entry *v = NULL;
	size_t nv = 0, cap = 0, line = 0, hl = strlen(BASELINE_HEADER);
	const char *p = text, *end = text + len;

	*out = NULL;
	*n = 0;
	if (len < hl + 1 || memcmp(text, BASELINE_HEADER "\n", hl + 1) != 0) {
		snprintf(why, whylen, "line 1: not an fwd audit baseline "
			 "(expected '%s')", BASELINE_HEADER);
		return -EINVAL;
	}
	p += hl + 1;
	line = 1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		line++;
		if (!nl) {
			snprintf(why, whylen, "line %zu: cut short (no newline)", line);
			goto bad;
		}
		FWD_GROW(v, cap, nv + 1);
		if (memchr(p, '\0', (size_t)(nl - p)) ||
		    !parse_line(p, (size_t)(nl - p), &v[nv])) {
			snprintf(why, whylen, "line %zu: not PROTO ADDRESS PORT VERDICT "
				 "UID USER COMMAND EXE UNIT", line);
			goto bad;
		}
		nv++;
		p = nl + 1;
	}
	*out = v;
	*n = nv;
	return 0;
bad:
	free(v);
	return -EINVAL;
}

/* ---- diff ---- */

static int entry_key_cmp(const struct fwd_audit_entry *a, const struct fwd_audit_entry *b)
{
	int r = strcmp(a->proto, b->proto);

	if (r)
		return r;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return strcmp(a->addr, b->addr);
}

static int entry_qcmp(const void *x, const void *y)
{
	return entry_key_cmp(x, y);
}

static bool same_owner(const struct fwd_audit_entry *a, const struct fwd_audit_entry *b)
{
	return a->uid == b->uid && !strcmp(a->comm, b->comm) &&
	       !strcmp(a->exe, b->exe) && !strcmp(a->unit, b->unit);
}

static struct fwd_audit_entry *sorted_copy(const struct fwd_audit_entry *v, size_t n)
{
	struct fwd_audit_entry *c = fwd_xcalloc(n ? n : 1, sizeof(*c));

	/* No memcpy/qsort of an empty (possibly NULL) array: UBSan. */
	if (n) {
		memcpy(c, v, n * sizeof(*c));
		qsort(c, n, sizeof(*c), entry_qcmp);
	}
	return c;
}

static void diff_add(struct fwd_audit_diff **out, size_t *n, size_t *cap,
		     const struct fwd_audit_diff *d)
{
	FWD_GROW(*out, *cap, *n + 1);
	(*out)[(*n)++] = *d;
}

void fwd_audit_diff(const struct fwd_audit_entry *base, size_t nbase,
		    const struct fwd_audit_entry *now, size_t nnow,
		    struct fwd_audit_diff **out, size_t *n)
{
	struct fwd_audit_entry *b = sorted_copy(base, nbase), *c = sorted_copy(now, nnow);
	size_t i = 0, j = 0, cap = 0;

	/* Several sockets on one key (SO_REUSEPORT) are one listener here:
	 * the first of each key in sorted order stands for it. */
	*out = NULL;
	*n = 0;
	while (i < nbase || j < nnow) {
		int r = i == nbase ? 1 : j == nnow ? -1 : entry_key_cmp(&b[i], &c[j]);
		struct fwd_audit_diff d = { 0 };

		if (r < 0) {
			d.change = FWD_AUDIT_GONE;
			d.was = b[i];
			diff_add(out, n, &cap, &d);
		} else if (r > 0) {
			d.change = FWD_AUDIT_NEW;
			d.now = c[j];
			d.newly_exposed = !strcmp(c[j].verdict, "exposed");
			diff_add(out, n, &cap, &d);
		} else {
			d.change = FWD_AUDIT_CHANGED;
			d.was = b[i];
			d.now = c[j];
			d.owner_changed = !same_owner(&b[i], &c[j]);
			d.verdict_changed = strcmp(b[i].verdict, c[j].verdict) != 0;
			d.newly_exposed = d.verdict_changed &&
					  !strcmp(c[j].verdict, "exposed");
			if (d.owner_changed || d.verdict_changed)
				diff_add(out, n, &cap, &d);
		}
		if (r <= 0) {
			const struct fwd_audit_entry *k = &b[i];

			while (i < nbase && entry_key_cmp(&b[i], k) == 0)
				i++;
		}
		if (r >= 0) {
			const struct fwd_audit_entry *k = &c[j];

			while (j < nnow && entry_key_cmp(&c[j], k) == 0)
				j++;
		}
	}
	free(b);
	free(c);
}
