// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The compiler and the renderer: policy model -> IR -> nft text.
 *
 * - golden files: tests/golden/NAME.conf is loaded, compiled, rendered and
 *   compared byte for byte with tests/golden/NAME.nft (FWD_UPDATE_GOLDEN=1
 *   rewrites the .nft files);
 * - properties on random policies (fixed seeds): interval sets never hold
 *   overlapping elements, hash sets no duplicates, elements are sorted, and
 *   "the policy allows it" == "some element matches it" at every probe,
 *   at every moment an edit expires (the elements' expires against the
 *   policy read at that moment);
 * - deltas between IRs replayed on a model of the old table give the new
 *   one; the fast path of live additions equals the compiler's result,
 *   and its delta taken back gives the IR before;
 * - with root and nft: rendered tables load into a private network
 *   namespace (the kernel's pipapo set rejects any overlap) and
 *   `nft list table` prints exactly what fwd_ir_render printed;
 * - timing of 100k / 1M entries (printed; bounds are generous).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include "edit.h"
#include "ir.h"
#include "policy.h"
#include "testutil.h"
#include "util.h"

typedef unsigned __int128 u128;

/* The clock the tests compile at: edits expiring at or before it are out. */
#define TEST_NOW 1000000u

/* ---- policies built by hand ---- */

static struct fwd_loc L(unsigned line)
{
	return (struct fwd_loc){ "test.conf", line };
}

static struct fwd_addr A(const char *s)
{
	struct fwd_addr a = { 0 };
	char buf[80], *slash;

	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, a.a) == 1) {
		a.family = AF_INET;
		a.prefix = slash ? (uint8_t)atoi(slash) : 32;
	} else if (inet_pton(AF_INET6, buf, a.a) == 1) {
		a.family = AF_INET6;
		a.prefix = slash ? (uint8_t)atoi(slash) : 128;
	} else {
		ck_abort_msg("bad test address %s", s);
	}
	return a;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		abort();
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p)
		abort();
	return p;
}

static struct fwd_policy *pol_new(void)
{
	struct fwd_policy *p = xcalloc(1, sizeof(*p));

	p->inbound = FWD_DENY;
	p->outbound = FWD_ALLOW;
	p->log = FWD_LOG_DENIED;
	p->icmp = FWD_ICMP_ESSENTIAL;
	return p;
}

static void pol_free(struct fwd_policy *p)
{
	for (size_t i = 0; i < p->nlists; i++) {
		free(p->lists[i].name);
		free(p->lists[i].addrs);
		free(p->lists[i].locs);
	}
	for (size_t i = 0; i < p->nservices; i++) {
		free(p->services[i].name);
		free(p->services[i].ports);
		free(p->services[i].allow);
	}
	free(p->lists);
	free(p->services);
	free(p->edits);
	free(p);
}

static struct fwd_list *pol_list(struct fwd_policy *p, const char *name)
{
	struct fwd_list *l;

	p->lists = xrealloc(p->lists, (p->nlists + 1) * sizeof(*p->lists));
	l = &p->lists[p->nlists++];
	memset(l, 0, sizeof(*l));
	l->name = strdup(name);
	l->loc = L(1);
	return l;
}

static void list_add(struct fwd_list *l, struct fwd_addr a, unsigned line)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->addrs = xrealloc(l->addrs, l->cap * sizeof(*l->addrs));
		l->locs = xrealloc(l->locs, l->cap * sizeof(*l->locs));
	}
	l->addrs[l->n] = a;
	l->locs[l->n++] = L(line);
}

static struct fwd_service *pol_service(struct fwd_policy *p, const char *name,
				       enum fwd_dir dir)
{
	struct fwd_service *s;

	p->services = xrealloc(p->services,
			       (p->nservices + 1) * sizeof(*p->services));
	s = &p->services[p->nservices++];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->dir = dir;
	s->loc = L(1);
	return s;
}

static void svc_port(struct fwd_service *s, uint8_t proto, uint16_t lo,
		     uint16_t hi, unsigned line)
{
	s->ports = xrealloc(s->ports, (s->nports + 1) * sizeof(*s->ports));
	s->ports[s->nports++] = (struct fwd_ports){ proto, lo, hi, L(line) };
}

static void svc_peer(struct fwd_service *s, struct fwd_peer pe)
{
	s->allow = xrealloc(s->allow, (s->nallow + 1) * sizeof(*s->allow));
	s->allow[s->nallow++] = pe;
}

static void svc_any(struct fwd_service *s, unsigned line)
{
	svc_peer(s, (struct fwd_peer){ .kind = FWD_PEER_ANY, .loc = L(line) });
}

static void svc_addr(struct fwd_service *s, const char *a, unsigned line)
{
	svc_peer(s, (struct fwd_peer){ .kind = FWD_PEER_ADDR, .addr = A(a),
				       .loc = L(line) });
}

static void svc_list(struct fwd_service *s, size_t list, unsigned line)
{
	svc_peer(s, (struct fwd_peer){ .kind = FWD_PEER_LIST, .list = list,
				       .loc = L(line) });
}

static struct fwd_ir *compile_ok(const struct fwd_policy *p)
{
	struct fwd_diags d;
	struct fwd_ir *ir = NULL;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_compile_at(p, TEST_NOW, &ir, &d);
	if (ret) {
		fwd_diags_print(&d, stderr);
		ck_abort_msg("fwd_compile: %s", strerror(-ret));
	}
	ck_assert_uint_eq(d.n, 0);
	fwd_diags_free(&d);
	return ir;
}

static char *render_str(const struct fwd_ir *ir, unsigned flags)
{
	struct fwd_render_opts o = { .table_flags = flags, .now = TEST_NOW };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwd_ir_render(ir, &o, f), 0);
	fclose(f);
	return buf;
}

/* ---- invariants and membership ---- */

static u128 addr_u128(const uint8_t *a, unsigned len)
{
	u128 v = 0;

	for (unsigned i = 0; i < len; i++)
		v = (v << 8) | a[i];
	return v;
}

struct box {
	u128 lo, hi;
	unsigned plo, phi;	/* proto folded in: proto << 16 | port */
};

static struct box elem_box(const struct fwd_ir_set *s,
			   const struct fwd_ir_elem *e)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	struct box b = { 0, 0, 0, 0 };

	if (alen) {
		b.lo = addr_u128(e->lo, alen);
		b.hi = addr_u128(e->hi, alen);
	}
	if (fwd_ir_key_has_port(s->key)) {
		b.plo = (unsigned)e->proto << 16 | e->plo;
		b.phi = (unsigned)e->proto << 16 | e->phi;
	}
	return b;
}

/* Sorted, well-formed, and no two elements overlap (boxes sweep). */
static void check_set(const struct fwd_ir_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct box b = elem_box(s, &s->elems[i]);

		/* Plain ifs: every ck_assert costs check a write(2). */
		if (b.lo > b.hi || b.plo > b.phi)
			ck_abort_msg("%s: element %zu inverted", s->name, i);
		if (fwd_ir_key_has_port(s->key) &&
		    s->elems[i].proto != IPPROTO_TCP &&
		    s->elems[i].proto != IPPROTO_UDP)
			ck_abort_msg("%s: element %zu: proto %u", s->name, i,
				     s->elems[i].proto);
		if (!s->interval && (b.lo != b.hi || b.plo != b.phi))
			ck_abort_msg("%s: range in a hash set", s->name);
		if (s->elems[i].loc.line == 0)
			ck_abort_msg("%s: element %zu without a location",
				     s->name, i);
		if (i > 0) {
			struct box a = elem_box(s, &s->elems[i - 1]);

			if (!(a.lo < b.lo || (a.lo == b.lo && a.plo < b.plo)))
				ck_abort_msg("%s: elements %zu/%zu out of order",
					     s->name, i - 1, i);
		}
	}
	/*
	 * Overlap: sorted by address lo, element j can only overlap i < j if
	 * some earlier element still reaches j's lo. Small sets in tests, so
	 * compare against all earlier elements whose hi >= lo.
	 */
	for (size_t j = 0; j < s->n; j++) {
		struct box b = elem_box(s, &s->elems[j]);

		for (size_t i = 0; i < j; i++) {
			struct box a = elem_box(s, &s->elems[i]);

			if (a.hi < b.lo || b.hi < a.lo)
				continue;
			if (!(a.phi < b.plo || b.phi < a.plo))
				ck_abort_msg("%s: elements %zu and %zu overlap",
					     s->name, i, j);
		}
	}
}

static void check_ir(const struct fwd_ir *ir)
{
	/* The fixed sets, then two per restricted class (ir.h). */
	ck_assert_uint_eq(ir->nsets, FWD_SET_COUNT + 2 * ir->nclasses);
	ck_assert_uint_eq(ir->nchains, FWD_CHAIN_COUNT);
	for (size_t i = 0; i < ir->nsets; i++)
		check_set(&ir->sets[i]);
}

static uint64_t exp_inf(uint64_t x)
{
	return x ? x : UINT64_MAX;
}

/* Whether an element of s holds the key; *until: the latest expires of
 * those that do, so far (UINT64_MAX = permanent). */
static bool set_has(const struct fwd_ir_set *s, u128 addr, uint8_t proto,
		    uint16_t port, uint64_t *until)
{
	unsigned key = (unsigned)proto << 16 | port;
	bool found = false;

	for (size_t i = 0; i < s->n; i++) {
		struct box b = elem_box(s, &s->elems[i]);

		if (fwd_ir_key_addr_len(s->key) && (addr < b.lo || addr > b.hi))
			continue;
		if (fwd_ir_key_has_port(s->key) && (key < b.plo || key > b.phi))
			continue;
		if (found)
			ck_abort_msg("%s: two elements hold one key", s->name);
		found = true;
		if (exp_inf(s->elems[i].expires) > *until)
			*until = exp_inf(s->elems[i].expires);
	}
	return found;
}

/* What the IR says about a probe, by set family (allow / deny / block). */
enum verdict_kind { K_ALLOW, K_DENY, K_BLOCK, K_COUNT };

/*
 * Whether the IR holds the probe now, and until when: the latest expires
 * among the elements of the family's sets that hold it (UINT64_MAX =
 * permanent). At a later moment t the kernel holds it iff *until > t.
 */
static bool ir_says_until(const struct fwd_ir *ir, enum verdict_kind k,
			  enum fwd_dir dir, int family, u128 addr,
			  uint8_t proto, uint16_t port, uint64_t *until)
{
	bool out = dir == FWD_DIR_OUT, v4 = family == AF_INET;
	bool r = false;

	*until = 0;
	switch (k) {
	case K_ALLOW: {
		int host = v4 ? (out ? FWD_SET_OUT_ALLOW4 : FWD_SET_ALLOW4) :
				(out ? FWD_SET_OUT_ALLOW6 : FWD_SET_ALLOW6);

		r |= set_has(&ir->sets[host], addr, proto, port, until);
		r |= set_has(&ir->sets[host + 1], addr, proto, port, until);
		r |= set_has(&ir->sets[out ? FWD_SET_OUT_OPEN : FWD_SET_OPEN],
			     0, proto, port, until);
		break;
	}
	case K_DENY:
		r |= set_has(&ir->sets[v4 ? (out ? FWD_SET_OUT_DENY4 :
						  FWD_SET_DENY4) :
					   (out ? FWD_SET_OUT_DENY6 :
						  FWD_SET_DENY6)],
			     addr, proto, port, until);
		r |= set_has(&ir->sets[out ? FWD_SET_OUT_DENY_OPEN :
				       FWD_SET_DENY_OPEN], 0, proto, port, until);
		break;
	case K_BLOCK:
		r |= set_has(&ir->sets[v4 ? FWD_SET_BLOCK4 : FWD_SET_BLOCK6],
			     addr, 0, 0, until);
		break;
	default:
		break;
	}
	return r;
}

static bool addr_covers(const struct fwd_addr *a, int family, u128 addr)
{
	unsigned bits = family == AF_INET ? 32 : 128;
	u128 base, mask;

	if (a->family != family)
		return false;
	base = addr_u128(a->a, bits / 8);
	if (a->prefix == 0)
		return true;
	mask = ~(((u128)1 << (bits - a->prefix)) - 1);
	if (bits == 32)
		mask &= 0xffffffffu;
	return (addr & mask) == (base & mask);
}

/* The moment the oracle reads the policy at. */
static uint64_t oracle_now = TEST_NOW;

static bool live(const struct fwd_edit *e)
{
	return e->expires == 0 || e->expires > oracle_now;
}

static bool same_addr(const struct fwd_addr *a, const struct fwd_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16) == 0;
}

/* The last live list edit of list `name` naming exactly `a`, or NULL. */
static const struct fwd_edit *last_list_edit(const struct fwd_policy *p,
					     const char *name,
					     const struct fwd_addr *a)
{
	const struct fwd_edit *last = NULL;

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind == FWD_EDIT_LIST_ADD ||
		     e->kind == FWD_EDIT_LIST_DEL) && live(e) &&
		    strcmp(e->list, name) == 0 && same_addr(&e->addr, a))
			last = e;
	}
	return last;
}

/*
 * Oracle for list membership after edits, written the slow obvious way:
 * a member stays unless the last edit naming it is a list-del; a list-add
 * counts when it is the last edit naming its address.
 */
static bool list_covers(const struct fwd_policy *p, const char *name,
			int family, u128 addr)
{
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		if (strcmp(l->name, name) != 0)
			continue;
		for (size_t k = 0; k < l->n; k++) {
			const struct fwd_edit *e =
				last_list_edit(p, name, &l->addrs[k]);

			if ((!e || e->kind == FWD_EDIT_LIST_ADD) &&
			    addr_covers(&l->addrs[k], family, addr))
				return true;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_LIST_ADD && live(e) &&
		    strcmp(e->list, name) == 0 &&
		    last_list_edit(p, name, &e->addr) == e &&
		    addr_covers(&e->addr, family, addr))
			return true;
	}
	return false;
}

static bool ports_cover(const struct fwd_ports *pr, uint8_t proto,
			uint16_t port)
{
	return pr->proto == proto && pr->lo <= port && port <= pr->hi;
}

static bool model_says(const struct fwd_policy *p, enum verdict_kind k,
		       enum fwd_dir dir, int family, u128 addr, uint8_t proto,
		       uint16_t port)
{
	for (size_t i = 0; k == K_ALLOW && i < p->nservices; i++) {
		const struct fwd_service *s = &p->services[i];
		bool port_ok = false;

		if (s->dir != dir)
			continue;
		for (size_t j = 0; j < s->nports; j++)
			port_ok |= ports_cover(&s->ports[j], proto, port);
		if (!port_ok)
			continue;
		for (size_t j = 0; j < s->nallow; j++) {
			const struct fwd_peer *pe = &s->allow[j];

			if (pe->kind == FWD_PEER_ANY)
				return true;
			if (pe->kind == FWD_PEER_ADDR &&
			    addr_covers(&pe->addr, family, addr))
				return true;
			if (pe->kind == FWD_PEER_LIST &&
			    list_covers(p, p->lists[pe->list].name, family,
					addr))
				return true;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (!live(e))
			continue;
		if (k == K_BLOCK && e->kind == FWD_EDIT_BLOCK &&
		    addr_covers(&e->addr, family, addr))
			return true;
		if ((k == K_ALLOW && e->kind != FWD_EDIT_ALLOW) ||
		    (k == K_DENY && e->kind != FWD_EDIT_DENY) || k == K_BLOCK ||
		    e->dir != dir || !ports_cover(&e->ports, proto, port))
			continue;
		if (e->peer == FWD_PEER_ANY ||
		    (e->peer == FWD_PEER_ADDR &&
		     addr_covers(&e->addr, family, addr)) ||
		    (e->peer == FWD_PEER_LIST &&
		     list_covers(p, e->list, family, addr)))
			return true;
	}
	return false;
}

/* ---- random policies ---- */

static uint64_t rng_state;

static uint32_t rnd(void)
{
	/* xorshift64*: fixed seeds, same policies on every machine */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 2685821657736338717ULL) >> 32);
}

static unsigned rnd_below(unsigned n)
{
	return rnd() % n;
}

/*
 * Addresses from a small universe so that ranges collide often:
 * 10.0.0.0/26 and 2001:db8::/122, prefixes near the host end, a few /0.
 */
static struct fwd_addr rnd_addr(void)
{
	struct fwd_addr a = { 0 };
	unsigned r = rnd_below(100);

	if (rnd_below(2)) {
		a.family = AF_INET;
		a.a[0] = 10;
		a.a[3] = (uint8_t)rnd_below(64);
		a.prefix = r < 3 ? 0 : r < 50 ? 32 : (uint8_t)(26 + rnd_below(7));
	} else {
		static const uint8_t pfx[] = { 0x20, 0x01, 0x0d, 0xb8 };

		a.family = AF_INET6;
		memcpy(a.a, pfx, 4);
		a.a[15] = (uint8_t)rnd_below(64);
		a.prefix = r < 3 ? 0 : r < 50 ? 128 : (uint8_t)(122 + rnd_below(7));
	}
	/* Host bits off, as the parser guarantees. */
	{
		unsigned bits = a.family == AF_INET ? 32 : 128;

		for (unsigned b = a.prefix; b < bits; b++)
			a.a[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	}
	return a;
}

static void rnd_ports(uint16_t *lo, uint16_t *hi)
{
	unsigned r = rnd_below(100);

	if (r < 2) {
		*lo = 1;
		*hi = 65535;
	} else if (r < 5) {
		*lo = (uint16_t)(65530 + rnd_below(6));
		*hi = 65535;
	} else {
		*lo = (uint16_t)(1 + rnd_below(40));
		*hi = r < 55 ? *lo : (uint16_t)(*lo + rnd_below(12));
	}
}

static void pol_edit(struct fwd_policy *p, const struct fwd_edit *e)
{
	p->edits = xrealloc(p->edits, (p->nedits + 1) * sizeof(*p->edits));
	p->edits[p->nedits++] = *e;
	p->edits_cap = p->nedits;
}

/* A list name for an edit: an existing list, or one only edits know. */
static void rnd_list_name(const struct fwd_policy *p, char *name, size_t len)
{
	unsigned r = rnd_below(p->nlists + 2);

	if (r < p->nlists)
		snprintf(name, len, "%s", p->lists[r].name);
	else
		snprintf(name, len, "new%u", r - (unsigned)p->nlists);
}

/* Timed edits expire far enough ahead to stay in the kernel while a test
 * lists them (render's now is TEST_NOW). */
static uint64_t rnd_expiry(void)
{
	static const uint64_t expiry[] = { 0, 0, 0, 0, TEST_NOW - 1, TEST_NOW,
					   TEST_NOW + 100, TEST_NOW + 200,
					   TEST_NOW + 300 };

	return expiry[rnd_below(sizeof(expiry) / sizeof(expiry[0]))];
}

/*
 * An edit saying again what a service says: same direction, port, peer
 * (keys collide, so expiries meet on one key). Returns false when the
 * service has no peer.
 */
static bool rnd_echo_service(const struct fwd_policy *p, struct fwd_edit *e)
{
	const struct fwd_service *s = &p->services[rnd_below((unsigned)p->nservices)];
	const struct fwd_peer *pe;

	if (!s->nallow || !s->nports)
		return false;
	pe = &s->allow[rnd_below((unsigned)s->nallow)];
	e->kind = rnd_below(5) ? FWD_EDIT_ALLOW : FWD_EDIT_DENY;
	e->dir = s->dir;
	e->ports = s->ports[rnd_below((unsigned)s->nports)];
	e->ports.loc = e->loc;
	e->peer = pe->kind;
	if (pe->kind == FWD_PEER_ADDR)
		e->addr = pe->addr;
	else if (pe->kind == FWD_PEER_LIST)
		snprintf(e->list, sizeof(e->list), "%s", p->lists[pe->list].name);
	return true;
}

/* One random edit (the policy's lists and services already there). */
static struct fwd_edit rnd_edit(const struct fwd_policy *p, unsigned *line)
{
	struct fwd_edit e = { 0 };
	uint16_t lo, hi;
	unsigned r = rnd_below(100);

	e.expires = rnd_expiry();
	e.loc = L((*line)++);
	if (r < 10 && p->nedits) {
		/* An earlier edit again, with its own expiry and line. */
		struct fwd_loc loc = e.loc;
		uint64_t x = e.expires;

		e = p->edits[rnd_below((unsigned)p->nedits)];
		e.loc = e.ports.loc = loc;
		e.expires = x;
		return e;
	}
	if (r < 20 && p->nservices && rnd_echo_service(p, &e))
		return e;
	r = rnd_below(100);
	if (r < 30) {
		e.kind = rnd_below(3) ? FWD_EDIT_ALLOW : FWD_EDIT_DENY;
		e.dir = rnd_below(3) ? FWD_DIR_IN : FWD_DIR_OUT;
		rnd_ports(&lo, &hi);
		e.ports = (struct fwd_ports){
			rnd_below(2) ? IPPROTO_TCP : IPPROTO_UDP, lo, hi,
			e.loc };
		r = rnd_below(10);
		if (r < 2) {
			e.peer = FWD_PEER_ANY;
		} else if (r < 5) {
			e.peer = FWD_PEER_LIST;
			rnd_list_name(p, e.list, sizeof(e.list));
		} else {
			e.peer = FWD_PEER_ADDR;
			e.addr = rnd_addr();
		}
	} else if (r < 45) {
		e.kind = FWD_EDIT_BLOCK;
		e.addr = rnd_addr();
	} else {
		e.kind = r < 75 ? FWD_EDIT_LIST_ADD : FWD_EDIT_LIST_DEL;
		rnd_list_name(p, e.list, sizeof(e.list));
		/* A real member half of the time. */
		if (rnd_below(2) && p->nlists && p->lists[0].n &&
		    strcmp(e.list, p->lists[0].name) == 0)
			e.addr = p->lists[0].addrs[rnd_below(
				(unsigned)p->lists[0].n)];
		else
			e.addr = rnd_addr();
	}
	return e;
}

static void rnd_edits(struct fwd_policy *p, unsigned *line)
{
	unsigned n = rnd_below(12);

	for (unsigned i = 0; i < n; i++) {
		struct fwd_edit e = rnd_edit(p, line);

		pol_edit(p, &e);
	}
}

static struct fwd_policy *rnd_policy(uint64_t seed)
{
	struct fwd_policy *p = pol_new();
	unsigned nl, ns, line = 1;

	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
	nl = rnd_below(4);
	ns = 1 + rnd_below(8);
	for (unsigned i = 0; i < nl; i++) {
		char name[16];
		struct fwd_list *l;
		unsigned n = rnd_below(30);

		snprintf(name, sizeof(name), "l%u", i);
		l = pol_list(p, name);
		for (unsigned k = 0; k < n; k++)
			list_add(l, rnd_addr(), line++);
	}
	for (unsigned i = 0; i < ns; i++) {
		char name[16];
		struct fwd_service *s;
		unsigned np = 1 + rnd_below(4), na = 1 + rnd_below(6);

		snprintf(name, sizeof(name), "s%u", i);
		s = pol_service(p, name, rnd_below(4) ? FWD_DIR_IN : FWD_DIR_OUT);
		for (unsigned k = 0; k < np; k++) {
			uint16_t lo, hi;

			rnd_ports(&lo, &hi);
			svc_port(s, rnd_below(3) ? IPPROTO_TCP : IPPROTO_UDP,
				 lo, hi, line++);
		}
		for (unsigned k = 0; k < na; k++) {
			unsigned r = rnd_below(100);

			if (r < 5) {
				svc_any(s, line++);
			} else if (r < 40 && p->nlists) {
				svc_list(s, rnd_below((unsigned)p->nlists),
					 line++);
			} else {
				svc_peer(s, (struct fwd_peer){
					.kind = FWD_PEER_ADDR,
					.addr = rnd_addr(), .loc = L(line++) });
			}
		}
	}
	rnd_edits(p, &line);
	return p;
}

/* What the chain must decide for a new connection, from the oracle. */
static enum fwd_ir_verdict expect_verdict(const struct fwd_policy *p,
					  enum fwd_dir dir, int family,
					  u128 addr, uint8_t proto,
					  uint16_t port)
{
	enum fwd_action act = dir == FWD_DIR_OUT ? p->outbound : p->inbound;

	if (model_says(p, K_BLOCK, dir, family, addr, proto, port))
		return FWD_V_DROP;
	if (model_says(p, K_DENY, dir, family, addr, proto, port))
		return proto == IPPROTO_TCP ? FWD_V_REJECT_TCP_RST :
					      FWD_V_REJECT_ICMPX;
	if (model_says(p, K_ALLOW, dir, family, addr, proto, port) ||
	    act == FWD_ALLOW)
		return FWD_V_ACCEPT;
	if (act == FWD_DENY)
		return FWD_V_DROP;
	return proto == IPPROTO_TCP ? FWD_V_REJECT_TCP_RST : FWD_V_REJECT_ICMPX;
}

/*
 * The moments the policy can change after TEST_NOW on its own: TEST_NOW
 * and every later expiry of an edit, sorted. Between two of them nothing
 * expires, so checking at each is checking at all.
 */
static size_t policy_moments(const struct fwd_policy *p, uint64_t *t,
			     size_t max)
{
	size_t n = 0;

	t[n++] = TEST_NOW;
	for (size_t i = 0; i < p->nedits && n < max; i++) {
		uint64_t x = p->edits[i].expires;
		size_t k;

		if (x <= TEST_NOW)
			continue;
		for (k = 0; k < n && t[k] != x; k++)
			;
		if (k == n)
			t[n++] = x;
	}
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && t[k - 1] > t[k]; k--) {
			uint64_t x = t[k];

			t[k] = t[k - 1];
			t[k - 1] = x;
		}
	return n;
}

static void probe_all(const struct fwd_policy *p, const struct fwd_ir *ir)
{
	static const uint16_t ports[] = { 1, 2, 3, 5, 8, 13, 20, 21, 30, 39,
					  40, 41, 50, 51, 52, 1000, 65529,
					  65530, 65533, 65535 };
	static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP };
	uint64_t moments[64];
	size_t nm = policy_moments(p, moments, 64);

	/*
	 * The IR is exact until recompile_at (a timed list-del ending brings
	 * a member back): check only the moments before it.
	 */
	while (ir->recompile_at && nm > 1 && moments[nm - 1] >= ir->recompile_at)
		nm--;
	for (int fam = 0; fam < 2; fam++) {
		int family = fam ? AF_INET6 : AF_INET;
		u128 base = fam ? (u128)0x20010db8 << 96 : 0x0a000000;

		/* Every address of the universe, its two neighbours and
		 * two far addresses; a spread of ports. */
		for (int k = -2; k < 66; k++) {
			u128 addr = k == -2 ? 0 : k == -1 ? base - 1 :
				    base + (unsigned)k;
			uint8_t bytes[16] = { 0 };

			if (k == 65)
				addr = fam ? ~(u128)0 : 0xffffffffu;
			for (int b = fam ? 15 : 3, sh = 0; b >= 0; b--, sh += 8)
				bytes[b] = (uint8_t)(addr >> sh);
			for (int d = 0; d < 2; d++)
			for (size_t pi = 0; pi < sizeof(protos); pi++)
			for (size_t j = 0; j < sizeof(ports) / sizeof(ports[0]); j++) {
				uint8_t pr = protos[pi];
				uint16_t po = ports[j];
				struct fwd_explain ex;

				for (int kind = 0; kind < K_COUNT; kind++) {
					uint64_t until;
					bool r = ir_says_until(ir, kind, d, family,
							       addr, pr, po, &until);

					/* The kernel holds it at t iff it is
					 * held until after t. */
					for (size_t ti = 0; ti < nm; ti++) {
						bool m;

						oracle_now = moments[ti];
						m = model_says(p, kind, d, family,
							       addr, pr, po);
						if (m != (r && until > moments[ti]))
							ck_abort_msg("kind %d dir %d fam %d "
								     "addr #%d proto %u port %u "
								     "at now+%lld: model %d ir %d "
								     "(until now+%lld)", kind, d,
								     family, k, pr, po,
								     (long long)(moments[ti] - TEST_NOW),
								     m, r, (long long)(until - TEST_NOW));
					}
					oracle_now = TEST_NOW;
				}
				if (fwd_ir_explain(ir, d ? FWD_CHAIN_OUTPUT :
						   FWD_CHAIN_INPUT, family, bytes,
						   pr, po, &ex) != 0)
					ck_abort_msg("explain failed");
				if (ex.verdict != expect_verdict(p, d, family,
								 addr, pr, po))
					ck_abort_msg("explain dir %d fam %d addr #%d "
						     "proto %u port %u: verdict %d, "
						     "want %d", d, family, k, pr, po,
						     ex.verdict, expect_verdict(
							p, d, family, addr, pr, po));
				/* The deciding element says how long. */
				if (ex.elem && ex.set >= 0 &&
				    !fwd_ir_elem_has(&ir->sets[ex.set], ex.elem,
						     bytes, pr, po))
					ck_abort_msg("explain: element does not hold it");
			}
		}
	}
}

START_TEST(random_policies)
{
	for (uint64_t seed = 1; seed <= 300; seed++) {
		struct fwd_policy *p = rnd_policy(seed);
		struct fwd_ir *ir;

		p->inbound = (enum fwd_action)(seed % 3);
		p->outbound = (enum fwd_action)(seed / 3 % 3);
		ir = compile_ok(p);
		check_ir(ir);
		probe_all(p, ir);
		fwd_ir_free(ir);
		pol_free(p);
	}
}
END_TEST

/* ---- specific normalisation cases ---- */

static const struct fwd_ir_set *S(const struct fwd_ir *ir, const char *name)
{
	const struct fwd_ir_set *s = fwd_ir_set_find(ir, name);

	ck_assert_msg(s != NULL, "no set %s", name);
	return s;
}

static char *elems_str(const struct fwd_ir_set *s)
{
	char *buf = NULL, e[200];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (size_t i = 0; i < s->n; i++) {
		fwd_ir_elem_format(s, &s->elems[i], e, sizeof(e));
		fprintf(f, "%s%s@%u", i ? ", " : "", e, s->elems[i].loc.line);
		if (s->elems[i].expires)
			fprintf(f, "~%lld", (long long)s->elems[i].expires -
				TEST_NOW);
	}
	fclose(f);
	return buf;
}

#define ASSERT_ELEMS(ir, name, want) do {				\
		char *got_ = elems_str(S(ir, name));			\
		ck_assert_msg(strcmp(got_, want) == 0,			\
			      "%s:\n got: %s\nwant: %s", name, got_, want); \
		free(got_);						\
	} while (0)

START_TEST(normalise_cases)
{
	struct fwd_policy *p = pol_new();
	struct fwd_service *s;
	struct fwd_list *l;
	struct fwd_ir *ir;

	l = pol_list(p, "office");
	list_add(l, A("192.0.2.0/24"), 10);
	list_add(l, A("192.0.2.7"), 11);		/* inside the /24 */
	list_add(l, A("192.0.3.0/24"), 12);		/* touches it */
	list_add(l, A("2001:db8:a::/64"), 13);
	list_add(l, A("198.51.100.9"), 14);

	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 20);
	svc_list(s, 0, 21);
	svc_addr(s, "203.0.113.9", 21);
	svc_addr(s, "203.0.113.9", 21);		/* duplicate */

	s = pol_service(p, "range", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 20, 30, 30);		/* covers 22 */
	svc_addr(s, "192.0.2.0/25", 31);		/* inside office */
	svc_addr(s, "10.0.0.0/8", 31);

	s = pol_service(p, "web", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 80, 80, 40);
	svc_port(s, IPPROTO_TCP, 443, 443, 40);
	svc_port(s, IPPROTO_UDP, 443, 443, 40);
	svc_port(s, IPPROTO_TCP, 81, 90, 41);		/* touches 80 */
	svc_any(s, 42);

	s = pol_service(p, "dns", FWD_DIR_OUT);
	svc_port(s, IPPROTO_UDP, 53, 53, 50);
	svc_addr(s, "0.0.0.0/0", 51);
	svc_addr(s, "2001:db8::53", 51);

	ir = compile_ok(p);
	check_ir(ir);
	/*
	 * 192.0.2.7 stays in the hash set although the /24 covers it: each
	 * policy word keeps its own element, so a live edit removing the /24
	 * leaves the host allowed. Sets are separate, so no overlap.
	 */
	ASSERT_ELEMS(ir, "allow4",
		     "192.0.2.7 . tcp . 22@11, 198.51.100.9 . tcp . 22@14, "
		     "203.0.113.9 . tcp . 22@21");
	/*
	 * Port axis cut at 20, 22, 23, 31: in 20-21 and 23-30 only the "range"
	 * service, in 22 both; 192.0.2.0/24 + 192.0.3.0/24 merge to a /23 that
	 * swallows the /25; 10.0.0.0/8 is the same run in all three segments
	 * and stays one element.
	 */
	ASSERT_ELEMS(ir, "allow4_net",
		     "10.0.0.0/8 . tcp . 20-30@31, "
		     "192.0.2.0/25 . tcp . 20-21@31, "
		     "192.0.2.0/23 . tcp . 22@10, "
		     "192.0.2.0/25 . tcp . 23-30@31");
	ASSERT_ELEMS(ir, "allow6", "");
	ASSERT_ELEMS(ir, "allow6_net", "2001:db8:a::/64 . tcp . 22@13");
	ASSERT_ELEMS(ir, "open", "tcp . 80-90@40, tcp . 443@40, udp . 443@40");
	ASSERT_ELEMS(ir, "out_allow4_net", "0.0.0.0/0 . udp . 53@51");
	ASSERT_ELEMS(ir, "out_allow6", "2001:db8::53 . udp . 53@51");
	ASSERT_ELEMS(ir, "block4", "");
	probe_all(p, ir);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/* Neighbouring segments with the same address sets become one element. */
START_TEST(normalise_join_segments)
{
	struct fwd_policy *p = pol_new();
	struct fwd_service *s;
	struct fwd_ir *ir;

	s = pol_service(p, "a", FWD_DIR_IN);
	svc_port(s, IPPROTO_UDP, 1000, 2000, 1);
	svc_addr(s, "10.0.0.0/24", 2);
	s = pol_service(p, "b", FWD_DIR_IN);
	svc_port(s, IPPROTO_UDP, 1500, 1600, 3);
	svc_addr(s, "10.0.0.0/25", 4);		/* no new address */
	svc_port(s, IPPROTO_UDP, 2001, 3000, 5);
	svc_addr(s, "10.0.0.0/24", 6);		/* touches: joins */
	ir = compile_ok(p);
	check_ir(ir);
	ASSERT_ELEMS(ir, "allow4_net", "10.0.0.0/24 . udp . 1000-3000@2");
	probe_all(p, ir);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

static struct fwd_explain explain(const struct fwd_ir *ir, unsigned chain,
				  const char *addr, uint8_t proto,
				  uint16_t port)
{
	struct fwd_addr a = A(addr);
	struct fwd_explain ex;

	ck_assert_int_eq(fwd_ir_explain(ir, chain, a.family, a.a, proto, port,
					&ex), 0);
	return ex;
}

#define ASSERT_EXPLAIN(ir, chain, addr, proto, port, v, set_, line_) do {	\
		struct fwd_explain ex_ = explain(ir, chain, addr, proto, port);	\
		ck_assert_msg(ex_.verdict == (v) && ex_.set == (set_) &&	\
			      ex_.loc.line == (line_),				\
			      "%s %u/%u: verdict %d set %d line %u",		\
			      addr, port, proto, ex_.verdict, ex_.set,		\
			      ex_.loc.line);					\
	} while (0)

/* Live edits: block, deny, allow with and without expiry, list edits. */
START_TEST(edits_and_explain)
{
	struct fwd_policy *p = pol_new();
	struct fwd_service *s;
	struct fwd_list *l;
	struct fwd_ir *ir;
	struct fwd_edit e;

	l = pol_list(p, "office");
	list_add(l, A("192.0.2.0/24"), 5);
	list_add(l, A("198.51.100.7"), 6);
	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 10);
	svc_list(s, 0, 11);
	s = pol_service(p, "web", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 80, 80, 20);
	svc_any(s, 21);

	e = (struct fwd_edit){ .kind = FWD_EDIT_BLOCK, .addr = A("192.0.2.66"),
			       .loc = L(30) };
	pol_edit(p, &e);
	e = (struct fwd_edit){ .kind = FWD_EDIT_DENY, .addr = A("192.0.2.128/25"),
			       .peer = FWD_PEER_ADDR, .loc = L(31),
			       .ports = { IPPROTO_TCP, 22, 22, L(31) } };
	pol_edit(p, &e);
	e = (struct fwd_edit){ .kind = FWD_EDIT_ALLOW, .addr = A("203.0.113.1"),
			       .peer = FWD_PEER_ADDR, .loc = L(32),
			       .expires = TEST_NOW + 10,
			       .ports = { IPPROTO_TCP, 2222, 2222, L(32) } };
	pol_edit(p, &e);
	e.expires = TEST_NOW;		/* expired: left out */
	e.ports.lo = e.ports.hi = 3333;
	e.loc = L(33);
	pol_edit(p, &e);
	e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_DEL, .addr = A("198.51.100.7"),
			       .loc = L(34) };
	snprintf(e.list, sizeof(e.list), "office");
	pol_edit(p, &e);
	e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_ADD, .addr = A("2001:db8::9"),
			       .loc = L(35) };
	snprintf(e.list, sizeof(e.list), "office");
	pol_edit(p, &e);
	/* A list only an edit creates, used by an allow edit going out. */
	e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_ADD, .addr = A("192.0.2.53"),
			       .loc = L(36) };
	snprintf(e.list, sizeof(e.list), "resolvers");
	pol_edit(p, &e);
	e = (struct fwd_edit){ .kind = FWD_EDIT_DENY, .dir = FWD_DIR_OUT,
			       .peer = FWD_PEER_LIST, .loc = L(37),
			       .ports = { IPPROTO_UDP, 53, 53, L(37) } };
	snprintf(e.list, sizeof(e.list), "resolvers");
	pol_edit(p, &e);

	ir = compile_ok(p);
	check_ir(ir);
	ASSERT_ELEMS(ir, "block4", "192.0.2.66@30");
	ASSERT_ELEMS(ir, "deny4", "192.0.2.128/25 . tcp . 22@31");
	ASSERT_ELEMS(ir, "out_deny4", "192.0.2.53 . udp . 53@36");
	ASSERT_ELEMS(ir, "allow4", "203.0.113.1 . tcp . 2222@32~10");
	ASSERT_ELEMS(ir, "allow4_net", "192.0.2.0/24 . tcp . 22@5");
	ASSERT_ELEMS(ir, "allow6", "2001:db8::9 . tcp . 22@35");
	ck_assert_uint_eq(fwd_ir_next_expiry(p, TEST_NOW), TEST_NOW + 10);
	ck_assert_uint_eq(fwd_ir_next_expiry(p, TEST_NOW + 10), 0);

	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "192.0.2.1", IPPROTO_TCP, 22,
		       FWD_V_ACCEPT, FWD_SET_ALLOW4_NET, 5);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "192.0.2.66", IPPROTO_TCP, 22,
		       FWD_V_DROP, FWD_SET_BLOCK4, 30);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "192.0.2.200", IPPROTO_TCP, 22,
		       FWD_V_REJECT_TCP_RST, FWD_SET_DENY4, 31);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "192.0.2.1", IPPROTO_UDP, 22,
		       FWD_V_DROP, -1, 0);
	ck_assert(explain(ir, FWD_CHAIN_INPUT, "192.0.2.1", IPPROTO_UDP,
			  22).by_policy);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "198.51.100.7", IPPROTO_TCP, 22,
		       FWD_V_DROP, -1, 0);	/* list-del took it out */
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "2001:db8::9", IPPROTO_TCP, 22,
		       FWD_V_ACCEPT, FWD_SET_ALLOW6, 35);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "2001:db8::8", IPPROTO_TCP, 22,
		       FWD_V_DROP, -1, 0);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "203.0.113.5", IPPROTO_TCP, 80,
		       FWD_V_ACCEPT, FWD_SET_OPEN, 20);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "203.0.113.1", IPPROTO_TCP, 2222,
		       FWD_V_ACCEPT, FWD_SET_ALLOW4, 32);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_INPUT, "203.0.113.1", IPPROTO_TCP, 3333,
		       FWD_V_DROP, -1, 0);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_OUTPUT, "192.0.2.66", IPPROTO_TCP, 443,
		       FWD_V_DROP, FWD_SET_BLOCK4, 30);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_OUTPUT, "192.0.2.53", IPPROTO_UDP, 53,
		       FWD_V_REJECT_ICMPX, FWD_SET_OUT_DENY4, 36);
	ASSERT_EXPLAIN(ir, FWD_CHAIN_OUTPUT, "192.0.2.54", IPPROTO_UDP, 53,
		       FWD_V_ACCEPT, -1, 0);
	{
		struct fwd_explain ex;
		uint8_t a[16] = { 0 };

		ck_assert_int_eq(fwd_ir_explain(ir, 7, AF_INET, a, 6, 22, &ex),
				 -EINVAL);
		ck_assert_int_eq(fwd_ir_explain(ir, 0, 99, a, 6, 22, &ex),
				 -EINVAL);
	}
	fwd_ir_free(ir);

	/* Unknown list in an edit (its list-add expired): empty, no error. */
	p->edits[6].expires = TEST_NOW;
	ir = compile_ok(p);
	ASSERT_ELEMS(ir, "out_deny4", "");
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/* ---- expiry ---- */

/* An allow/deny edit from a host or network (NULL: any), or a block. */
static void ed(struct fwd_policy *p, enum fwd_edit_kind k, const char *addr,
	       uint8_t proto, uint16_t lo, uint16_t hi, uint64_t expires,
	       unsigned line)
{
	struct fwd_edit e = { .kind = k, .loc = L(line), .expires = expires };

	if (addr) {
		e.addr = A(addr);
		e.peer = FWD_PEER_ADDR;
	}
	e.ports = (struct fwd_ports){ proto, lo, hi, L(line) };
	pol_edit(p, &e);
}

/* list-add / list-del NAME ADDR, or (addr NULL) an allow edit from @NAME. */
static void ed_list(struct fwd_policy *p, enum fwd_edit_kind k,
		    const char *name, const char *addr, uint16_t port,
		    uint64_t expires, unsigned line)
{
	struct fwd_edit e = { .kind = k, .loc = L(line), .expires = expires };

	snprintf(e.list, sizeof(e.list), "%s", name);
	if (addr) {
		e.addr = A(addr);
	} else {
		e.peer = FWD_PEER_LIST;
		e.ports = (struct fwd_ports){ IPPROTO_TCP, port, port, L(line) };
	}
	pol_edit(p, &e);
}

#define NOW_PLUS(s) (TEST_NOW + (s))

/*
 * Each point gets the latest expiry of the words covering it (permanent
 * wins); pieces join only when their expiry is equal; a key of a hash set
 * keeps its latest expiry and, of the words with it, the first one's line.
 */
START_TEST(normalise_expiry)
{
	struct fwd_policy *p = pol_new();
	struct fwd_service *s;
	struct fwd_list *l;
	struct fwd_ir *ir;
	char *txt;

	l = pol_list(p, "office");
	list_add(l, A("10.0.0.0/24"), 10);
	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 20);
	svc_list(s, 0, 21);
	svc_addr(s, "192.0.2.1", 22);
	s = pol_service(p, "web", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 80, 90, 30);
	svc_any(s, 31);

	/* Hash set: permanent wins; the later expiry wins; equal: first. */
	ed(p, FWD_EDIT_ALLOW, "192.0.2.1", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 40);
	ed(p, FWD_EDIT_ALLOW, "192.0.2.2", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 41);
	ed(p, FWD_EDIT_ALLOW, "192.0.2.2", IPPROTO_TCP, 22, 22, NOW_PLUS(200), 42);
	ed(p, FWD_EDIT_ALLOW, "192.0.2.3", IPPROTO_TCP, 22, 22, NOW_PLUS(200), 43);
	ed(p, FWD_EDIT_ALLOW, "192.0.2.3", IPPROTO_TCP, 22, 22, NOW_PLUS(200), 44);
	/* Inside a permanent network: nothing of it shows. */
	ed(p, FWD_EDIT_ALLOW, "10.0.0.128/25", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 45);
	/* Port axis: 22 and 23 differ in what covers 10.0.1.0/25. */
	ed(p, FWD_EDIT_ALLOW, "10.0.1.0/25", IPPROTO_TCP, 22, 23, NOW_PLUS(100), 46);
	ed(p, FWD_EDIT_ALLOW, "10.0.1.0/24", IPPROTO_TCP, 22, 22, NOW_PLUS(200), 47);
	/* Address axis: a later /26 cuts a /24 in three; an equal neighbour
	 * joins the last piece. */
	ed(p, FWD_EDIT_ALLOW, "10.0.2.0/24", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 48);
	ed(p, FWD_EDIT_ALLOW, "10.0.2.64/26", IPPROTO_TCP, 22, 22, NOW_PLUS(200), 49);
	ed(p, FWD_EDIT_ALLOW, "10.0.3.0/24", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 50);
	/* Open: inside a permanent range; touching it; a later overlap. */
	ed(p, FWD_EDIT_ALLOW, NULL, IPPROTO_TCP, 85, 85, NOW_PLUS(100), 51);
	ed(p, FWD_EDIT_ALLOW, NULL, IPPROTO_TCP, 91, 95, NOW_PLUS(100), 52);
	ed(p, FWD_EDIT_ALLOW, NULL, IPPROTO_TCP, 93, 99, NOW_PLUS(300), 53);
	/* Block: a permanent host inside a timed network. */
	ed(p, FWD_EDIT_BLOCK, "198.51.100.0/24", 0, 0, 0, NOW_PLUS(100), 54);
	ed(p, FWD_EDIT_BLOCK, "198.51.100.7", 0, 0, 0, 0, 55);
	/* A timed member, and a timed allow from the list: the earlier. */
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "203.0.113.5", 0, NOW_PLUS(100), 56);
	ed_list(p, FWD_EDIT_ALLOW, "office", NULL, 8080, NOW_PLUS(300), 57);
	/* A timed deny, single host. */
	ed(p, FWD_EDIT_DENY, "192.0.2.9", IPPROTO_UDP, 53, 53, NOW_PLUS(300), 58);

	ir = compile_ok(p);
	check_ir(ir);
	ck_assert_uint_eq(ir->recompile_at, 0);
	ASSERT_ELEMS(ir, "allow4",
		     "192.0.2.1 . tcp . 22@22, "
		     "192.0.2.2 . tcp . 22@42~200, "
		     "192.0.2.3 . tcp . 22@43~200, "
		     "203.0.113.5 . tcp . 22@56~100, "
		     "203.0.113.5 . tcp . 8080@56~100");
	ASSERT_ELEMS(ir, "allow4_net",
		     "10.0.0.0/24 . tcp . 22@10, "
		     "10.0.0.0/24 . tcp . 8080@10~300, "
		     "10.0.1.0/24 . tcp . 22@47~200, "
		     "10.0.1.0/25 . tcp . 23@46~100, "
		     "10.0.2.0/26 . tcp . 22@48~100, "
		     "10.0.2.64/26 . tcp . 22@49~200, "
		     "10.0.2.128-10.0.3.255 . tcp . 22@48~100");
	ASSERT_ELEMS(ir, "open",
		     "tcp . 80-90@30, tcp . 91-92@52~100, tcp . 93-99@53~300");
	ASSERT_ELEMS(ir, "block4",
		     "198.51.100.0-198.51.100.6@54~100, 198.51.100.7@55, "
		     "198.51.100.8-198.51.100.255@54~100");
	ASSERT_ELEMS(ir, "deny4", "192.0.2.9 . udp . 53@58~300");
	probe_all(p, ir);
	/* explain hands out the element, and with it its expiry. */
	{
		struct fwd_explain ex = explain(ir, FWD_CHAIN_INPUT,
						"10.0.2.70", IPPROTO_TCP, 22);

		ck_assert_ptr_nonnull(ex.elem);
		ck_assert_uint_eq(ex.elem->expires, NOW_PLUS(200));
		ck_assert_uint_eq(ex.loc.line, 49);
	}

	/* Render: seconds left at the render's now, at least 1. */
	txt = render_str(ir, 0);
	ck_assert_ptr_nonnull(strstr(txt,
		"192.0.2.2 . tcp . 22 timeout 200s,\n"));
	ck_assert_ptr_nonnull(strstr(txt,
		"elements = { 198.51.100.0-198.51.100.6 timeout 100s, "
		"198.51.100.7,\n"));
	ck_assert_ptr_nonnull(strstr(txt, "tcp . 80-90,\n"));
	free(txt);
	{
		struct fwd_render_opts o = { .now = NOW_PLUS(250) };
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);

		ck_assert_int_eq(fwd_ir_render(ir, &o, f), 0);
		fclose(f);
		ck_assert_ptr_nonnull(strstr(buf, "192.0.2.2 . tcp . 22 timeout 1s"));
		ck_assert_ptr_nonnull(strstr(buf, "tcp . 93-99 timeout 50s }"));
		free(buf);
	}
	fwd_ir_free(ir);

	/*
	 * A timed list-del: the member is out now and comes back when the
	 * edit ends, which no timeout can do: recompile_at says when.
	 */
	ed_list(p, FWD_EDIT_LIST_DEL, "office", "10.0.0.0/24", 0, NOW_PLUS(200), 59);
	ir = compile_ok(p);
	check_ir(ir);
	ck_assert_uint_eq(ir->recompile_at, NOW_PLUS(200));
	ASSERT_ELEMS(ir, "allow4_net",
		     "10.0.0.128/25 . tcp . 22@45~100, "
		     "10.0.1.0/24 . tcp . 22@47~200, "
		     "10.0.1.0/25 . tcp . 23@46~100, "
		     "10.0.2.0/26 . tcp . 22@48~100, "
		     "10.0.2.64/26 . tcp . 22@49~200, "
		     "10.0.2.128-10.0.3.255 . tcp . 22@48~100");
	probe_all(p, ir);
	fwd_ir_free(ir);

	/*
	 * Re-added for a while after the del: in until the add ends, then the
	 * del (still in force) keeps it out; the original comes back at +200.
	 */
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "10.0.0.0/24", 0, NOW_PLUS(100), 60);
	ir = compile_ok(p);
	ck_assert_uint_eq(ir->recompile_at, NOW_PLUS(200));
	ASSERT_ELEMS(ir, "allow4_net",
		     "10.0.0.0/24 . tcp . 22@60~100, "
		     "10.0.0.0/24 . tcp . 8080@60~100, "
		     "10.0.1.0/24 . tcp . 22@47~200, "
		     "10.0.1.0/25 . tcp . 23@46~100, "
		     "10.0.2.0/26 . tcp . 22@48~100, "
		     "10.0.2.64/26 . tcp . 22@49~200, "
		     "10.0.2.128-10.0.3.255 . tcp . 22@48~100");
	probe_all(p, ir);
	fwd_ir_free(ir);

	/* A permanent add after it all: a member for good, originals too. */
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "10.0.0.0/24", 0, 0, 61);
	ir = compile_ok(p);
	ck_assert_uint_eq(ir->recompile_at, 0);
	ASSERT_ELEMS(ir, "allow4_net",
		     "10.0.0.0/24 . tcp . 22@10, "
		     "10.0.0.0/24 . tcp . 8080@10~300, "
		     "10.0.1.0/24 . tcp . 22@47~200, "
		     "10.0.1.0/25 . tcp . 23@46~100, "
		     "10.0.2.0/26 . tcp . 22@48~100, "
		     "10.0.2.64/26 . tcp . 22@49~200, "
		     "10.0.2.128-10.0.3.255 . tcp . 22@48~100");
	probe_all(p, ir);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/* ---- deltas, clones, the fast path ---- */

/* Key and expiry equal; with `locs` the loc's line and file name too. */
static bool elem_same(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b,
		      bool locs)
{
	if (memcmp(a->lo, b->lo, 16) != 0 || memcmp(a->hi, b->hi, 16) != 0 ||
	    a->proto != b->proto || a->plo != b->plo || a->phi != b->phi ||
	    a->expires != b->expires)
		return false;
	if (!locs)
		return true;
	if (a->loc.line != b->loc.line)
		return false;
	if (!a->loc.file || !b->loc.file)
		return a->loc.file == b->loc.file;
	return strcmp(a->loc.file, b->loc.file) == 0;
}

static int elem_key_cmp(const void *pa, const void *pb)
{
	const struct fwd_ir_elem *a = pa, *b = pb;
	int c = memcmp(a->lo, b->lo, 16);

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->plo != b->plo)
		return a->plo < b->plo ? -1 : 1;
	c = memcmp(a->hi, b->hi, 16);
	if (c)
		return c;
	return a->phi < b->phi ? -1 : a->phi > b->phi;
}

/* got's elements not expired at `now` (0: all) are want's, in order. */
static void assert_same_sets(const struct fwd_ir *got,
			     const struct fwd_ir *want, uint64_t now,
			     bool locs, const char *what)
{
	ck_assert_uint_eq(got->nsets, want->nsets);
	for (size_t i = 0; i < want->nsets; i++) {
		const struct fwd_ir_set *g = &got->sets[i], *w = &want->sets[i];
		size_t j = 0, k = 0;
		bool ok = true;

		for (; ok && j < g->n; j++) {
			if (now && g->elems[j].expires &&
			    g->elems[j].expires <= now)
				continue;
			ok = k < w->n && elem_same(&g->elems[j], &w->elems[k++],
						   locs);
		}
		if (!ok || k != w->n) {
			char *sg = elems_str(g), *sw = elems_str(w);

			ck_abort_msg("%s: set %s:\n got: %s\nwant: %s", what,
				     w->name, sg, sw);
		}
	}
}

/*
 * Replay a delta on a model of the old table: each set's dels first
 * (every one must be there, key and expiry), then its adds (none may be
 * there any more); the result must be the new table. Also: only sets with
 * changes, in index order, each list sorted, the totals right.
 */
static void check_delta(const struct fwd_ir *old, const struct fwd_ir *new,
			const struct fwd_ir_delta *d)
{
	size_t tadd = 0, tdel = 0;

	for (size_t k = 0; k < d->nsets; k++) {
		const struct fwd_ir_delta_set *ds = &d->sets[k];

		ck_assert_uint_lt(ds->set, new->nsets);
		ck_assert(ds->nadd + ds->ndel > 0);
		if (k > 0)
			ck_assert_uint_gt(ds->set, d->sets[k - 1].set);
		for (size_t i = 1; i < ds->nadd; i++)
			ck_assert_int_lt(elem_key_cmp(&ds->add[i - 1], &ds->add[i]), 0);
		for (size_t i = 1; i < ds->ndel; i++)
			ck_assert_int_lt(elem_key_cmp(&ds->del[i - 1], &ds->del[i]), 0);
		tadd += ds->nadd;
		tdel += ds->ndel;
	}
	ck_assert_uint_eq(tadd, d->nadd);
	ck_assert_uint_eq(tdel, d->ndel);

	for (size_t i = 0; i < new->nsets; i++) {
		const struct fwd_ir_set *ns = &new->sets[i];
		const struct fwd_ir_set *os = old ? fwd_ir_set_find(old, ns->name) :
						    NULL;
		const struct fwd_ir_delta_set *ds = NULL;
		struct fwd_ir_elem *m;
		size_t n = 0, on = os ? os->n : 0;

		for (size_t k = 0; k < d->nsets; k++)
			if (d->sets[k].set == i)
				ds = &d->sets[k];
		m = xcalloc(on + (ds ? ds->nadd : 0) + 1, sizeof(*m));
		if (on)
			memcpy(m, os->elems, on * sizeof(*m));
		n = on;
		for (size_t k = 0; ds && k < ds->ndel; k++) {
			size_t x;

			for (x = 0; x < n && !elem_same(&m[x], &ds->del[k], false); x++)
				;
			if (x == n)
				ck_abort_msg("%s: del of an element not there", ns->name);
			m[x] = m[--n];
		}
		for (size_t k = 0; ds && k < ds->nadd; k++) {
			for (size_t x = 0; x < n; x++)
				if (elem_key_cmp(&m[x], &ds->add[k]) == 0)
					ck_abort_msg("%s: add of a key still there",
						     ns->name);
			m[n++] = ds->add[k];
		}
		qsort(m, n, sizeof(*m), elem_key_cmp);
		ck_assert_msg(n == ns->n, "%s: %zu elements after the delta, "
			      "want %zu", ns->name, n, ns->n);
		for (size_t k = 0; k < n; k++)
			if (!elem_same(&m[k], &ns->elems[k], false))
				ck_abort_msg("%s: element %zu differs after the delta",
					     ns->name, k);
		free(m);
	}
}

static struct fwd_ir *compile_ok_at(const struct fwd_policy *p, uint64_t now)
{
	struct fwd_diags d;
	struct fwd_ir *ir = NULL;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_compile_at(p, now, &ir, &d), 0);
	fwd_diags_free(&d);
	return ir;
}

static bool same_defaults(const struct fwd_policy *a, const struct fwd_policy *b)
{
	return a->inbound == b->inbound && a->outbound == b->outbound &&
	       a->log == b->log && a->icmp == b->icmp &&
	       a->rpfilter == b->rpfilter;
}

/* A copy shares nothing and says the same, locs included. */
static void check_clone(const struct fwd_ir *ir)
{
	struct fwd_ir *c = fwd_ir_clone(ir);
	struct fwd_ir_delta d;

	ck_assert_int_eq(fwd_ir_diff(ir, c, &d), 0);
	ck_assert(!d.shape_changed);
	ck_assert_uint_eq(d.nsets, 0);
	fwd_ir_delta_free(&d);
	assert_same_sets(c, ir, 0, true, "clone");
	ck_assert_uint_eq(c->nfiles, ir->nfiles);
	ck_assert_uint_eq(c->recompile_at, ir->recompile_at);
	for (size_t i = 0; i < c->nsets; i++) {
		if (c->sets[i].n)
			ck_assert_ptr_ne(c->sets[i].elems, ir->sets[i].elems);
		for (size_t k = 0; k < c->sets[i].n; k++) {
			const char *f = c->sets[i].elems[k].loc.file;
			size_t x;

			for (x = 0; f && x < c->nfiles && c->files[x] != f; x++)
				;
			ck_assert_msg(!f || x < c->nfiles,
				      "clone: a loc outside the clone's files");
		}
	}
	for (size_t i = 0; i < c->nchains; i++) {
		ck_assert_uint_eq(c->chains[i].n, ir->chains[i].n);
		if (c->chains[i].n)
			ck_assert_ptr_ne(c->chains[i].rules, ir->chains[i].rules);
	}
	fwd_ir_free(c);
}

/*
 * Random pairs: a policy, and the same with more edits, some expiries
 * changed, sometimes other [defaults]; the old one compiled now or 150 s
 * ago (elements expired since). The delta turns one into the other.
 */
START_TEST(diff_random)
{
	size_t changes = 0;

	for (uint64_t seed = 1; seed <= 150; seed++) {
		struct fwd_policy *p1 = rnd_policy(seed), *p2 = rnd_policy(seed);
		uint64_t t1 = seed % 3 == 0 ? TEST_NOW - 150 : TEST_NOW;
		struct fwd_ir *ir1, *ir2;
		struct fwd_ir_delta d;
		unsigned line = 5000, n = rnd_below(6);

		for (unsigned i = 0; i < n; i++) {
			struct fwd_edit e = rnd_edit(p2, &line);

			pol_edit(p2, &e);
		}
		for (size_t i = 0; i < p2->nedits; i++)
			if (rnd_below(4) == 0)
				p2->edits[i].expires = rnd_expiry();
		if (seed % 7 == 0)
			p2->inbound = (enum fwd_action)((p2->inbound + 1) % 3);
		if (seed % 11 == 0)
			p2->log = (enum fwd_log)((p2->log + 1) % 3);
		if (seed % 13 == 0)
			p2->rpfilter = (enum fwd_rpfilter)((p2->rpfilter + 1) % 3);
		ir1 = compile_ok_at(p1, t1);
		ir2 = compile_ok(p2);

		ck_assert_int_eq(fwd_ir_diff(ir1, ir2, &d), 0);
		ck_assert_int_eq(d.shape_changed, !same_defaults(p1, p2));
		check_delta(ir1, ir2, &d);
		changes += d.nadd + d.ndel;
		fwd_ir_delta_free(&d);
		ck_assert_uint_eq(d.nsets, 0);

		/* Backwards too, and nothing against itself. */
		ck_assert_int_eq(fwd_ir_diff(ir2, ir1, &d), 0);
		check_delta(ir2, ir1, &d);
		fwd_ir_delta_free(&d);
		ck_assert_int_eq(fwd_ir_diff(ir2, ir2, &d), 0);
		ck_assert(!d.shape_changed);
		ck_assert_uint_eq(d.nadd + d.ndel, 0);
		fwd_ir_delta_free(&d);
		/* From nothing: every element an add. */
		ck_assert_int_eq(fwd_ir_diff(NULL, ir2, &d), 0);
		ck_assert(d.shape_changed);
		check_delta(NULL, ir2, &d);
		fwd_ir_delta_free(&d);
		check_clone(ir2);

		fwd_ir_free(ir1);
		fwd_ir_free(ir2);
		pol_free(p1);
		pol_free(p2);
	}
	ck_assert_uint_gt(changes, 300);
	ck_assert_int_eq(fwd_ir_diff(NULL, NULL, &(struct fwd_ir_delta){ 0 }),
			 -EINVAL);
	fwd_ir_delta_free(NULL);
}
END_TEST

/* The same key, another expiry: a del and an add (no timeout changes in
 * place in the kernel); a reshaped range: the old piece out, the new in. */
START_TEST(diff_cases)
{
	struct fwd_policy *p = pol_new();
	struct fwd_ir *a, *b;
	struct fwd_ir_delta d;
	char buf[200];

	ed(p, FWD_EDIT_ALLOW, "192.0.2.1", IPPROTO_TCP, 22, 22, NOW_PLUS(100), 1);
	ed(p, FWD_EDIT_BLOCK, "198.51.100.0/25", 0, 0, 0, 0, 2);
	a = compile_ok(p);
	p->edits[0].expires = NOW_PLUS(200);
	ed(p, FWD_EDIT_BLOCK, "198.51.100.128/25", 0, 0, 0, 0, 3);
	b = compile_ok(p);
	ck_assert_int_eq(fwd_ir_diff(a, b, &d), 0);
	ck_assert(!d.shape_changed);
	ck_assert_uint_eq(d.nsets, 2);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_ALLOW4);
	ck_assert_uint_eq(d.sets[0].nadd, 1);
	ck_assert_uint_eq(d.sets[0].ndel, 1);
	ck_assert_uint_eq(d.sets[0].del[0].expires, NOW_PLUS(100));
	ck_assert_uint_eq(d.sets[0].add[0].expires, NOW_PLUS(200));
	ck_assert_uint_eq(d.sets[1].set, FWD_SET_BLOCK4);
	fwd_ir_elem_format(&b->sets[FWD_SET_BLOCK4], &d.sets[1].del[0], buf,
			   sizeof(buf));
	ck_assert_str_eq(buf, "198.51.100.0/25");
	fwd_ir_elem_format(&b->sets[FWD_SET_BLOCK4], &d.sets[1].add[0], buf,
			   sizeof(buf));
	ck_assert_str_eq(buf, "198.51.100.0/24");
	ck_assert_uint_eq(d.nadd, 2);
	ck_assert_uint_eq(d.ndel, 2);
	check_delta(a, b, &d);
	fwd_ir_delta_free(&d);
	fwd_ir_free(a);
	fwd_ir_free(b);
	pol_free(p);
}
END_TEST

static struct fwd_addr rnd_host(void)
{
	struct fwd_addr a = rnd_addr();

	a.prefix = a.family == AF_INET ? 32 : 128;
	return a;
}

/* A single port, often one a service names (keys then collide). */
static uint16_t rnd_port(const struct fwd_policy *p, uint8_t *proto)
{
	if (p->nservices && rnd_below(2)) {
		const struct fwd_service *s =
			&p->services[rnd_below((unsigned)p->nservices)];
		const struct fwd_ports *pr = &s->ports[rnd_below((unsigned)s->nports)];

		*proto = pr->proto;
		return pr->lo;
	}
	*proto = rnd_below(2) ? IPPROTO_TCP : IPPROTO_UDP;
	return (uint16_t)(1 + rnd_below(41));
}

/* Mostly what the fast path is for, now and then anything. Edits at run
 * time have no file; some come from another file than the policy's. */
static struct fwd_edit rnd_fast_edit(const struct fwd_policy *p, unsigned *line)
{
	static const char *const files[] = { "test.conf", NULL, "99-fwctl.conf" };
	struct fwd_edit e = { 0 };
	unsigned r = rnd_below(100);
	uint16_t lo, hi;

	e.expires = rnd_expiry();
	e.loc = (struct fwd_loc){ files[rnd_below(3)], (*line)++ };
	if (r < 40) {
		e.kind = rnd_below(5) ? FWD_EDIT_ALLOW : FWD_EDIT_DENY;
		e.dir = rnd_below(4) ? FWD_DIR_IN : FWD_DIR_OUT;
		e.peer = FWD_PEER_ADDR;
		e.addr = rnd_host();
		e.ports.lo = e.ports.hi = rnd_port(p, &e.ports.proto);
	} else if (r < 50) {
		e.kind = rnd_below(4) ? FWD_EDIT_ALLOW : FWD_EDIT_DENY;
		e.dir = rnd_below(4) ? FWD_DIR_IN : FWD_DIR_OUT;
		e.peer = FWD_PEER_ANY;
		rnd_ports(&lo, &hi);
		e.ports = (struct fwd_ports){
			rnd_below(2) ? IPPROTO_TCP : IPPROTO_UDP, lo, hi, e.loc };
	} else if (r < 65) {
		e.kind = FWD_EDIT_BLOCK;
		e.addr = rnd_below(2) ? rnd_host() : rnd_addr();
	} else if (r < 85) {
		e.kind = FWD_EDIT_LIST_ADD;
		rnd_list_name(p, e.list, sizeof(e.list));
		e.addr = rnd_below(5) ? rnd_host() : rnd_addr();
	} else {
		struct fwd_loc loc = e.loc;

		e = rnd_edit(p, line);
		e.loc = loc;
	}
	e.ports.loc = e.loc;
	return e;
}

/*
 * The fast path against the compiler: random policies compiled now or
 * 150 s ago, then rounds of additions; each one either goes fast and
 * equals fwd_compile_at to the loc (apart from elements expired in the
 * meantime), with a delta that replays, or is refused having touched
 * nothing (and the IR is recompiled, as the daemon does).
 */
START_TEST(fast_add_random)
{
	size_t nfast = 0, nslow = 0, nchanged = 0;

	for (uint64_t seed = 1; seed <= 250; seed++) {
		struct fwd_policy *p = rnd_policy(seed);
		uint64_t then = seed % 3 == 0 ? TEST_NOW - 150 : TEST_NOW;
		struct fwd_ir *ir = compile_ok_at(p, then);
		unsigned line = 5000;

		for (int round = 0; round < 6; round++) {
			unsigned n = 1 + rnd_below(seed % 4 == 0 ? 4 : 1);
			struct fwd_ir *before, *want;
			struct fwd_ir_delta d;
			int ret;

			for (unsigned i = 0; i < n; i++) {
				struct fwd_edit e = rnd_fast_edit(p, &line);

				pol_edit(p, &e);
			}
			before = fwd_ir_clone(ir);
			ret = fwd_ir_fast_add(ir, p, &p->edits[p->nedits - n], n,
					      TEST_NOW, &d);
			if (ret == 0) {
				nfast++;
				nchanged += d.nadd + d.ndel > 0;
				want = compile_ok(p);
				check_ir(ir);
				assert_same_sets(ir, want, TEST_NOW, true, "fast add");
				check_delta(before, ir, &d);
				if (round % 2) {
					/* The kernel said no: take it back, then
					 * again (all of it, or nothing). */
					ck_assert_int_eq(fwd_ir_delta_undo(ir, &d), 0);
					assert_same_sets(ir, before, 0, true, "undo");
					if (d.nadd) {
						ck_assert_int_eq(fwd_ir_delta_undo(ir, &d),
								 -EINVAL);
						assert_same_sets(ir, before, 0, true,
								 "undo twice");
					}
					fwd_ir_delta_free(&d);
					ck_assert_int_eq(fwd_ir_fast_add(ir, p,
						&p->edits[p->nedits - n], n, TEST_NOW,
						&d), 0);
					assert_same_sets(ir, want, TEST_NOW, true,
							 "fast add again");
				}
				fwd_ir_free(want);
			} else {
				ck_assert_int_eq(ret, -EAGAIN);
				nslow++;
				ck_assert_uint_eq(d.nsets + d.nadd + d.ndel, 0);
				ck_assert_ptr_null(d.sets);
				assert_same_sets(ir, before, 0, true, "refused");
				ck_assert_uint_eq(ir->nfiles, before->nfiles);
				fwd_ir_free(ir);
				ir = compile_ok(p);
			}
			fwd_ir_delta_free(&d);
			fwd_ir_free(before);
		}
		fwd_ir_free(ir);
		pol_free(p);
	}
	fprintf(stderr, "fast add: %zu fast (%zu changing the table), "
		"%zu to the compiler\n", nfast, nchanged, nslow);
	ck_assert_uint_gt(nchanged, 300);
	ck_assert_uint_gt(nslow, 100);
}
END_TEST

/* A host from a space wide enough that a batch rarely meets a word of
 * the random policy (rnd_addr draws from 64 addresses a family), though
 * now and then it does: 10.0.0.x and 2001:db8::x are in both. */
static struct fwd_addr wide_host(void)
{
	struct fwd_addr a = rnd_host();
	uint32_t r = rnd();

	if (a.family == AF_INET) {
		a.a[1] = (uint8_t)(r >> 8);
		a.a[2] = (uint8_t)r;
	} else {
		memcpy(&a.a[8], &r, sizeof(r));
	}
	return a;
}

/*
 * Big batches of list-adds (`fwctl list add NAME -`), against the
 * compiler: from 16 added edits on, the fast path looks the other list
 * edits and the list's users up in an index instead of scanning the
 * policy per member (that scan made 100k members take minutes). Some
 * batches name a member twice, or one an earlier batch named, which only
 * the compiler may decide; some carry other edits.
 */
START_TEST(fast_add_batch_random)
{
	size_t nfast = 0, nslow = 0, nadd = 0;

	for (uint64_t seed = 1; seed <= 120; seed++) {
		struct fwd_policy *p = rnd_policy(seed);
		struct fwd_ir *ir = compile_ok(p);
		unsigned line = 5000;

		for (int round = 0; round < 4; round++) {
			unsigned n = 16 + rnd_below(48);
			struct fwd_ir *before, *want;
			struct fwd_ir_delta d;
			char list[33];
			int ret;

			/* one list a batch, as `list add NAME -` */
			rnd_list_name(p, list, sizeof(list));
			for (unsigned i = 0; i < n; i++) {
				unsigned r = rnd_below(200);
				struct fwd_edit e;

				if (r < 2 && p->nedits) {
					/* a member named again, in this batch
					 * or an earlier one */
					e = p->edits[p->nedits - 1 - rnd_below(
						(unsigned)(p->nedits < 80 ? p->nedits : 80))];
					e.loc = (struct fwd_loc){ NULL, line++ };
					e.ports.loc = e.loc;
				} else if (r < 190) {
					e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_ADD,
						.expires = rnd_below(3) ? 0 : rnd_expiry(),
						.loc = { NULL, line++ } };
					memcpy(e.list, list, sizeof(e.list));
					e.addr = wide_host();
					e.ports.loc = e.loc;
				} else {
					e = rnd_fast_edit(p, &line);
				}
				pol_edit(p, &e);
			}
			before = fwd_ir_clone(ir);
			ret = fwd_ir_fast_add(ir, p, &p->edits[p->nedits - n], n,
					      TEST_NOW, &d);
			if (ret == 0) {
				nfast++;
				nadd += d.nadd;
				want = compile_ok(p);
				check_ir(ir);
				assert_same_sets(ir, want, TEST_NOW, true, "batch");
				check_delta(before, ir, &d);
				fwd_ir_free(want);
			} else {
				ck_assert_int_eq(ret, -EAGAIN);
				nslow++;
				ck_assert_uint_eq(d.nsets + d.nadd + d.ndel, 0);
				assert_same_sets(ir, before, 0, true, "refused batch");
				fwd_ir_free(ir);
				ir = compile_ok(p);
			}
			fwd_ir_delta_free(&d);
			fwd_ir_free(before);
		}
		fwd_ir_free(ir);
		pol_free(p);
	}
	fprintf(stderr, "batch add: %zu fast (%zu elements added), %zu to the "
		"compiler\n", nfast, nadd, nslow);
	ck_assert_uint_gt(nfast, 40);
	ck_assert_uint_gt(nslow, 40);
	ck_assert_uint_gt(nadd, 500);
}
END_TEST

/*
 * One member named twice in a batch of 16 or more (the index's case), or
 * a list-del of it in force: the compiler decides; without either the
 * batch goes fast and lands in every use of the list.
 */
START_TEST(fast_add_batch_dup)
{
	struct fwd_policy *p = rnd_policy(3);
	struct fwd_ir *ir, *want;
	struct fwd_ir_delta d;
	struct fwd_edit e = { .kind = FWD_EDIT_LIST_ADD, .peer = FWD_PEER_ANY };
	size_t n0;

	snprintf(e.list, sizeof(e.list), "newx");
	e.ports = (struct fwd_ports){ IPPROTO_TCP, 8080, 8080, { NULL, 1 } };
	/* allow 8080/tcp from @newx: the list's one user */
	{
		struct fwd_edit u = { .kind = FWD_EDIT_ALLOW, .peer = FWD_PEER_LIST,
				      .ports = e.ports, .loc = { NULL, 1 } };

		snprintf(u.list, sizeof(u.list), "newx");
		pol_edit(p, &u);
	}
	ir = compile_ok(p);
	n0 = p->nedits;
	for (unsigned i = 0; i < 20; i++) {
		e.addr = (struct fwd_addr){ .family = AF_INET6, .prefix = 128 };
		e.addr.a[0] = 0x20;
		e.addr.a[1] = 0x01;
		e.addr.a[2] = 0x0d;
		e.addr.a[3] = 0xb8;
		e.addr.a[15] = (uint8_t)(i == 19 ? 3 : i);	/* 19 repeats 3 */
		e.loc = (struct fwd_loc){ NULL, 10 + i };
		pol_edit(p, &e);
	}
	ck_assert_int_eq(fwd_ir_fast_add(ir, p, &p->edits[n0], 20, TEST_NOW, &d),
			 -EAGAIN);
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	/* the last one names ::13 instead: all 20 new, fast */
	p->edits[p->nedits - 1].addr.a[15] = 19;
	ck_assert_int_eq(fwd_ir_fast_add(ir, p, &p->edits[n0], 20, TEST_NOW, &d), 0);
	ck_assert_uint_eq(d.nadd, 20);
	want = compile_ok(p);
	assert_same_sets(ir, want, TEST_NOW, true, "batch of 20");
	fwd_ir_free(want);
	fwd_ir_delta_free(&d);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/* [defaults] counters = no: no set counts its elements (and a reload
 * that turns them on or off is a new table shape, never a fast patch). */
START_TEST(counters_off)
{
	static const char text[] = "[defaults]\ncounters = no\n[list l]\n"
				   "members = 192.0.2.1\n[service s]\nports = 22/tcp\n"
				   "allow = @l, 198.51.100.0/24\n";
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p, *q;
	struct fwd_ir *ir, *iq;
	struct fwd_ir_delta d;
	struct fwd_ir_reload r;
	size_t with = 0;

	ck_assert_int_eq(fwd_policy_load_buffer("c.conf", text, sizeof(text) - 1, &o,
						&p, NULL), 0);
	ck_assert(!p->counters);
	ir = compile_ok(p);
	for (size_t i = 0; i < ir->nsets; i++)
		ck_assert_msg(!ir->sets[i].counter, "set %s counts", ir->sets[i].name);
	ck_assert_uint_eq(ir->sets[FWD_SET_ALLOW4].n, 1);

	/* The same lines with counters = yes: only that differs. */
	{
		char *yes = fwd_xstrdup(text);

		memcpy(strstr(yes, "= no\n"), "= on\n", 5);	/* same length */
		ck_assert_int_eq(fwd_policy_load_buffer("c.conf", yes, strlen(yes), &o,
							&q, NULL), -EINVAL);
		free(yes);
		yes = fwd_xasprintf("[defaults]\ncounters = yes\n%s", text + 25);
		ck_assert_int_eq(fwd_policy_load_buffer("c.conf", yes, strlen(yes), &o,
							&q, NULL), 0);
		free(yes);
	}
	ck_assert(q->counters);
	iq = compile_ok(q);
	for (size_t i = 0; i < iq->nsets; i++)
		with += iq->sets[i].counter;
	ck_assert_uint_gt(with, 4);
	ck_assert_int_eq(fwd_ir_diff(ir, iq, &d), 0);
	ck_assert(d.shape_changed);
	fwd_ir_delta_free(&d);
	ck_assert_int_eq(fwd_ir_fast_reload(ir, p, q, TEST_NOW, &r), -EAGAIN);
	fwd_ir_free(ir);
	fwd_ir_free(iq);
	fwd_policy_free(p);
	fwd_policy_free(q);
}
END_TEST

/* ---- rpfilter ---- */

#define CT_EST_REL_BITS (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | \
			 NF_CT_STATE_BIT(IP_CT_RELATED))

/* The index of the first rule of ch with a match of kind k, or ch->n. */
static size_t rule_with(const struct fwd_ir_chain *ch, enum fwd_ir_match_kind k,
			uint32_t u32)
{
	for (size_t i = 0; i < ch->n; i++)
		for (unsigned j = 0; j < ch->rules[i].nm; j++)
			if (ch->rules[i].m[j].kind == k &&
			    (k != FWD_M_CT_STATE || ch->rules[i].m[j].u32 == u32))
				return i;
	return ch->n;
}

static struct fwd_policy *rpf_policy(const char *rpfilter)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	char *text = fwd_xasprintf("[defaults]\ninbound = deny\n%s%s%s"
				   "[service ssh]\nports = 22/tcp\n"
				   "allow = 192.0.2.10, 2001:db8::10\n",
				   rpfilter ? "rpfilter = " : "",
				   rpfilter ? rpfilter : "", rpfilter ? "\n" : "");

	ck_assert_int_eq(fwd_policy_load_buffer("r.conf", text, strlen(text), &o,
						&p, NULL), 0);
	free(text);
	return p;
}

/*
 * [defaults] rpfilter: one drop rule on input, after loopback, the
 * blocklists and ND/MLD (DAD speaks from `::`), before the conntrack
 * accept (a spoofed packet of a known flow is no exception); none on
 * output (no iif there); its loc names the line, else [defaults]. explain
 * is not confused: the allowed source is accepted by its set, the others
 * by the policy, whatever the mode. A change of mode is a new table shape,
 * never a fast reload.
 */
START_TEST(rpfilter_chain)
{
	static const struct {
		const char *word;
		uint32_t flags;		/* 0: no rule */
		unsigned line;
	} modes[] = {
		{ "strict", NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK | NFTA_FIB_F_IIF, 3 },
		{ "loose", NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK, 3 },
		{ "no", 0, 0 },
		{ NULL, NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK | NFTA_FIB_F_IIF, 1 },
	};
	static const char *const txt_of[] = {
		"\t\tfib saddr . mark . iif oif missing drop\n",
		"\t\tfib saddr . mark oif missing drop\n",
		NULL,
		"\t\tfib saddr . mark . iif oif missing drop\n",
	};
	struct fwd_ir *irs[4];
	struct fwd_policy *ps[4];

	for (size_t k = 0; k < 4; k++) {
		struct fwd_policy *p = rpf_policy(modes[k].word);
		struct fwd_ir *ir = compile_ok(p);
		const struct fwd_ir_chain *in = &ir->chains[FWD_CHAIN_INPUT];
		const struct fwd_ir_chain *out = &ir->chains[FWD_CHAIN_OUTPUT];
		size_t rpf = rule_with(in, FWD_M_RPF_MISSING, 0);
		size_t nd = rule_with(in, FWD_M_ICMPV6_TYPES, 0);
		size_t est = rule_with(in, FWD_M_CT_STATE, CT_EST_REL_BITS);
		uint8_t a4[16] = { 192, 0, 2, 10 }, b4[16] = { 198, 51, 100, 1 };
		struct fwd_explain ex;
		char *txt = render_str(ir, 0);

		ck_assert_uint_eq(rule_with(out, FWD_M_RPF_MISSING, 0), out->n);
		ck_assert_uint_lt(nd, est);
		if (!modes[k].flags) {
			ck_assert_uint_eq(rpf, in->n);
			ck_assert_ptr_null(strstr(txt, "fib "));
		} else {
			const struct fwd_ir_rule *r = &in->rules[rpf];

			ck_assert_uint_eq(r->nm, 1);
			ck_assert_uint_eq(r->m[0].u32, modes[k].flags);
			ck_assert_int_eq(r->verdict, FWD_V_DROP);
			ck_assert(!r->counter && !r->log);
			ck_assert_uint_eq(rpf, nd + 1);
			ck_assert_uint_eq(est, rpf + 1);
			/* loopback first, the blocklists before it too */
			ck_assert_int_eq(in->rules[0].m[0].kind, FWD_M_IIF_LO);
			ck_assert_uint_lt(rule_with(in, FWD_M_LOOKUP_SRC, 0), rpf);
			ck_assert_ptr_nonnull(r->loc.file);
			ck_assert_str_eq(r->loc.file, "r.conf");
			ck_assert_uint_eq(r->loc.line, modes[k].line);
			ck_assert_ptr_nonnull(strstr(txt, txt_of[k]));
		}
		ck_assert_int_eq(fwd_ir_explain(ir, FWD_CHAIN_INPUT, AF_INET, a4,
						IPPROTO_TCP, 22, &ex), 0);
		ck_assert_int_eq(ex.verdict, FWD_V_ACCEPT);
		ck_assert_int_eq(ex.set, FWD_SET_ALLOW4);
		ck_assert_int_eq(fwd_ir_explain(ir, FWD_CHAIN_INPUT, AF_INET, b4,
						IPPROTO_TCP, 22, &ex), 0);
		ck_assert_int_eq(ex.verdict, FWD_V_DROP);
		ck_assert(ex.by_policy);
		check_clone(ir);
		free(txt);
		irs[k] = ir;
		ps[k] = p;
	}
	/* Any change of mode is a new shape, and no fast reload takes it. */
	for (size_t i = 0; i < 3; i++)
		for (size_t j = 0; j < 3; j++) {
			struct fwd_ir_delta d;
			struct fwd_ir_reload r;

			ck_assert_int_eq(fwd_ir_diff(irs[i], irs[j], &d), 0);
			ck_assert_int_eq(d.shape_changed, i != j);
			fwd_ir_delta_free(&d);
			if (i != j)
				ck_assert_int_eq(fwd_ir_fast_reload(irs[i], ps[i], ps[j],
								    TEST_NOW, &r),
						 -EAGAIN);
		}
	for (size_t k = 0; k < 4; k++) {
		fwd_ir_free(irs[k]);
		fwd_policy_free(ps[k]);
	}
}
END_TEST

/* A reload that adds [guard], or changes it or [defaults] queues, is not
 * a member patch (the queue rule and meter follow them); one that changes
 * only a list member beside an unchanged [guard] still is. */
START_TEST(guard_not_fast)
{
	static const char base[] = "[list l]\nmembers = %s\n[service s]\n"
				   "ports = 22/tcp\nallow = @l\n%s";
	static const char *const pairs[][4] = {
		/* old member, old tail, new member, new tail, */
		{ "192.0.2.1", "", "192.0.2.1", "[guard]\n" },
		{ "192.0.2.1", "[guard]\n", "192.0.2.1", "" },
		{ "192.0.2.1", "[guard]\n", "192.0.2.1", "[guard]\nflood = off\n" },
		{ "192.0.2.1", "[guard]\n", "192.0.2.1", "[guard]\nnever = @l\n" },
		{ "192.0.2.1", "[guard]\n", "192.0.2.1", "[guard]\nscan = 9 ports / 5s\n" },
		{ "192.0.2.1", "[guard]\n", "192.0.2.1", "[defaults]\nqueues = 2\n[guard]\n" },
	};
	struct fwd_load_opts o = { .confd_path = "" };

	for (size_t i = 0; i <= sizeof(pairs) / sizeof(pairs[0]); i++) {
		/* The last round: only the member changes, [guard] stays. */
		bool last = i == sizeof(pairs) / sizeof(pairs[0]);
		char *t0 = last ? fwd_xasprintf(base, "192.0.2.1", "[guard]\nnever = @l\n") :
				  fwd_xasprintf(base, pairs[i][0], pairs[i][1]);
		char *t1 = last ? fwd_xasprintf(base, "192.0.2.2", "[guard]\nnever = @l\n") :
				  fwd_xasprintf(base, pairs[i][2], pairs[i][3]);
		struct fwd_policy *p, *q;
		struct fwd_ir_reload r;
		struct fwd_ir *ir;

		ck_assert_int_eq(fwd_policy_load_buffer("g.conf", t0, strlen(t0), &o,
							&p, NULL), 0);
		ck_assert_int_eq(fwd_policy_load_buffer("g.conf", t1, strlen(t1), &o,
							&q, NULL), 0);
		ir = compile_ok(p);
		if (last) {
			ck_assert_int_eq(fwd_ir_fast_reload(ir, p, q, TEST_NOW, &r), 0);
			fwd_ir_reload_free(&r);
		} else {
			ck_assert_msg(fwd_ir_fast_reload(ir, p, q, TEST_NOW, &r) == -EAGAIN,
				      "pair %zu patched", i);
		}
		fwd_ir_free(ir);
		fwd_policy_free(p);
		fwd_policy_free(q);
		free(t0);
		free(t1);
	}
}
END_TEST

/* ---- the fast path of a reload ---- */

/* A line of a list file: hosts from small pools (keys collide across
 * lists and lines), now and then a network, a comment or a blank. */
static bool fr_unique;	/* big edits: hosts from the big pools only */
static bool fr_nonets;	/* this seed's files hold no network */

static void fr_line(FILE *f)
{
	unsigned r = rnd_below(100), x = rnd_below(24), y = rnd_below(65536);

	if (r < 60 && rnd_below(3) == 0 && !fr_unique)
		fprintf(f, "192.0.2.%u\n", x);
	else if (r < 60)
		fprintf(f, "198.18.%u.%u\n", y >> 8, y & 255);
	else if (r < 78)
		fprintf(f, "2001:db8::%x\n", rnd_below(3) || fr_unique ? y : x);
	else if (r < 84 && !fr_nonets)
		fprintf(f, "198.51.100.%u/30\n", x * 4);
	else if (r < 84)
		fprintf(f, "198.19.%u.%u\n", y >> 8, y & 255);
	else if (r < 92)
		fprintf(f, "# note %u\n", x);
	else
		fprintf(f, "\n");
}

/* A list file of `lines` lines, or the old one with lines [a, a + del)
 * replaced by `add` new ones. */
static char **fr_lines;
static size_t fr_n[2];

static void fr_write(const char *path, int which, bool mutate)
{
	char **v = &fr_lines[which * 4096];
	size_t n = fr_n[which], a = 0, del = 0, add = 0;
	FILE *f;

	fr_unique = mutate && rnd_below(6) == 0;
	if (mutate) {
		a = rnd_below((unsigned)n + 1);
		del = rnd_below(4) ? rnd_below(2) : rnd_below(5);
		add = rnd_below(4) ? rnd_below(2) : rnd_below(5);
		if (fr_unique) {
			/* Many lines at once: a generated file rewritten. */
			del = rnd_below((unsigned)(n - a) + 1);
			add = rnd_below(300);
		}
		if (!del && !add)
			add = 1;
		if (a + del > n)
			del = n - a;
		if (n - del + add >= 4096)
			add = 0;
		for (size_t i = a; i < a + del; i++)
			free(v[i]);
		memmove(&v[a + add], &v[a + del], (n - a - del) * sizeof(*v));
		n = n - del + add;
	} else {
		a = 0;
		add = n;
	}
	for (size_t i = a; i < a + add; i++) {
		char *buf = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&buf, &len);

		fr_line(m);
		fclose(m);
		v[i] = buf;
	}
	fr_n[which] = n;
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++)
		fputs(v[i], f);
	ck_assert_int_eq(fclose(f), 0);
}

/* The same random edits in force on both sides of a reload. */
static void fr_edits(struct fwd_policy *p, uint64_t seed)
{
	struct fwd_edit e;

	if (seed % 3 == 0) {
		e = (struct fwd_edit){ .kind = FWD_EDIT_ALLOW, .peer = FWD_PEER_LIST,
				       .loc = { NULL, 1 },
				       .expires = seed % 2 ? TEST_NOW + 100 : 0 };
		snprintf(e.list, sizeof(e.list), "A");
		e.ports = (struct fwd_ports){ IPPROTO_TCP, 443, 443, e.loc };
		pol_edit(p, &e);
	}
	if (seed % 4 == 1) {
		e = (struct fwd_edit){ .kind = FWD_EDIT_ALLOW, .peer = FWD_PEER_ADDR,
				       .loc = { NULL, 2 } };
		e.addr = (struct fwd_addr){ AF_INET, 32, { 192, 0, 2, 5 } };
		e.ports = (struct fwd_ports){ IPPROTO_TCP, 22, 22, e.loc };
		pol_edit(p, &e);
	}
	if (seed % 5 == 2) {
		e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_ADD, .loc = { NULL, 3 } };
		snprintf(e.list, sizeof(e.list), "B");
		e.addr = (struct fwd_addr){ AF_INET, 32, { 192, 0, 2, 7 } };
		pol_edit(p, &e);
	}
	if (seed % 7 == 3) {
		e = (struct fwd_edit){ .kind = FWD_EDIT_DENY, .peer = FWD_PEER_LIST,
				       .loc = { NULL, 4 } };
		snprintf(e.list, sizeof(e.list), "B");
		e.ports = (struct fwd_ports){ IPPROTO_TCP, 25, 25, e.loc };
		pol_edit(p, &e);
	}
}

static struct fwd_policy *fr_load(const char *conf, struct fwd_list_cache *c,
				  uint64_t seed)
{
	struct fwd_load_opts o = { .confd_path = "", .list_cache = c };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;

	fwd_diags_init(&d);
	ck_assert_msg(fwd_policy_load(conf, &o, &p, &d) == 0, "%s: %s", conf,
		      d.n ? d.v[0].msg : "?");
	fwd_diags_free(&d);
	fr_edits(p, seed);
	return p;
}

/*
 * Reloads after random edits of list files (loaded through the list
 * cache, as the daemon does), against the compiler: the fast path either
 * gives exactly fwd_compile_at's IR (locs included, moved lines too), with
 * a delta that replays and an undo that restores, or refuses having
 * changed nothing.
 */
START_TEST(fast_reload_random)
{
	char dir[256];
	char *a, *b, *conf;
	size_t nfast = 0, nslow = 0, nmoved = 0, nbig = 0;

	ck_assert_ptr_nonnull(mkdtemp(tu_tmp(dir, sizeof(dir), "fwd-check-XXXXXX")));
	a = fwd_xasprintf("%s/a.txt", dir);
	b = fwd_xasprintf("%s/b.txt", dir);
	conf = fwd_xasprintf("%s/fwd.conf", dir);
	fr_lines = fwd_xcalloc(2 * 4096, sizeof(*fr_lines));
	for (uint64_t seed = 1; seed <= 120; seed++) {
		struct fwd_list_cache *c = fwd_list_cache_new();
		struct fwd_policy *p0, *p1;
		struct fwd_ir *ir;
		FILE *f;

		rng_state = seed * 7919;
		fr_nonets = seed % 3 == 0;
		fr_n[0] = 20 + rnd_below(200);
		fr_n[1] = 5 + rnd_below(40);
		fr_write(a, 0, false);
		fr_write(b, 1, false);
		f = fopen(conf, "w");
		fprintf(f, "[defaults]\ninbound = deny\n[list A]\nfile = a.txt\n"
			"[list B]\n%sfile = b.txt\n%s"
			"[service s1]\nports = 22/tcp%s\nallow = @A\n"
			"[service s2]\nports = 80/tcp, 53/udp\nallow = @B, 198.51.100.9%s\n"
			"%s",
			seed % 2 ? "members = 192.0.2.3, 2001:db8::3\n" : "",
			seed % 3 == 1 ? "file = a.txt\n" : "",
			seed % 8 == 5 ? ", 8000-8010/tcp" : "",
			seed % 4 == 0 ? ", @A" : "",
			seed % 5 == 0 ? "[service out]\ndirection = out\nports = 53/udp\n"
					"allow = @B\n" : "");
		ck_assert_int_eq(fclose(f), 0);
		p0 = fr_load(conf, c, seed);
		ir = compile_ok_at(p0, TEST_NOW);
		for (int round = 0; round < 12; round++) {
			struct fwd_ir *before, *want;
			struct fwd_ir_reload r;
			int ret, w = rnd_below(3) ? 0 : 1;

			fr_write(w ? b : a, w, true);
			p1 = fr_load(conf, c, seed);
			before = fwd_ir_clone(ir);
			ret = fwd_ir_fast_reload(ir, p0, p1, TEST_NOW, &r);
			want = compile_ok_at(p1, TEST_NOW);
			if (ret == 0) {
				nfast++;
				nmoved += r.nshifts > 0;
				nbig += r.words_removed + r.words_added >= 64;
				check_ir(ir);
				assert_same_sets(ir, want, 0, true, "fast reload");
				check_delta(before, ir, &r.delta);
				if (round % 3 == 1) {
					/* The kernel said no: back, then again. */
					ck_assert_int_eq(fwd_ir_reload_undo(ir, &r), 0);
					assert_same_sets(ir, before, 0, true, "undo");
					fwd_ir_reload_free(&r);
					ck_assert_int_eq(fwd_ir_fast_reload(ir, p0, p1,
							 TEST_NOW, &r), 0);
					assert_same_sets(ir, want, 0, true, "again");
				}
				fwd_ir_free(want);
			} else {
				ck_assert_int_eq(ret, -EAGAIN);
				nslow++;
				ck_assert_uint_eq(r.delta.nsets + r.nshifts, 0);
				assert_same_sets(ir, before, 0, true, "refused");
				fwd_ir_free(ir);
				ir = want;
			}
			fwd_ir_reload_free(&r);
			fwd_ir_free(before);
			fwd_policy_free(p0);
			p0 = p1;
		}
		fwd_ir_free(ir);
		fwd_policy_free(p0);
		fwd_list_cache_free(c);
		for (int w = 0; w < 2; w++)
			for (size_t i = 0; i < fr_n[w]; i++)
				free(fr_lines[w * 4096 + i]);
	}
	fprintf(stderr, "fast reload: %zu fast (%zu with moved lines, %zu with 64 "
		"words or more), %zu to the compiler\n", nfast, nmoved, nbig, nslow);
	ck_assert_uint_gt(nbig, 30);
	ck_assert_uint_gt(nfast, 600);
	ck_assert_uint_gt(nmoved, 200);
	ck_assert_uint_gt(nslow, 100);
	unlink(a);
	unlink(b);
	unlink(conf);
	ck_assert_int_eq(rmdir(dir), 0);
	free(fr_lines);
	free(a);
	free(b);
	free(conf);
}
END_TEST

/* The cases one by one, with the delta each gives. */
START_TEST(fast_add_cases)
{
	struct fwd_policy *p = pol_new();
	struct fwd_service *s;
	struct fwd_list *l;
	struct fwd_ir *ir, *want;
	struct fwd_ir_delta d;

	l = pol_list(p, "office");
	list_add(l, A("192.0.2.7"), 10);
	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 20);
	svc_list(s, 0, 21);
	svc_addr(s, "192.0.2.50", 22);
	s = pol_service(p, "web", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 80, 90, 30);
	svc_list(s, 0, 31);
	pol_list(p, "team");
	s = pol_service(p, "team", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 32);
	svc_list(s, 1, 33);
	ed(p, FWD_EDIT_BLOCK, "198.51.100.0/24", 0, 0, 0, NOW_PLUS(100), 40);
	ir = compile_ok(p);

#define FAST(want_ret) do {						\
		int r_ = fwd_ir_fast_add(ir, p, &p->edits[p->nedits - 1], 1, \
					 TEST_NOW, &d);			\
		ck_assert_int_eq(r_, want_ret);				\
		if (r_ == 0) {						\
			want = compile_ok(p);				\
			assert_same_sets(ir, want, TEST_NOW, true, "case"); \
			fwd_ir_free(want);				\
		} else {						\
			fwd_ir_free(ir);				\
			ir = compile_ok(p);				\
		}							\
	} while (0)

	/* A new host: one add. */
	ed(p, FWD_EDIT_ALLOW, "203.0.113.1", IPPROTO_TCP, 22, 22, 0, 50);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	ck_assert_uint_eq(d.ndel, 0);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_ALLOW4);
	fwd_ir_delta_free(&d);
	/* The same again, timed: the permanent one stays, nothing to do. */
	ed(p, FWD_EDIT_ALLOW, "203.0.113.1", IPPROTO_TCP, 22, 22, NOW_PLUS(10), 51);
	FAST(0);
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	fwd_ir_delta_free(&d);
	/* A timed host, then longer: a del and an add. */
	ed(p, FWD_EDIT_ALLOW, "203.0.113.2", IPPROTO_TCP, 22, 22, NOW_PLUS(10), 52);
	FAST(0);
	fwd_ir_delta_free(&d);
	ed(p, FWD_EDIT_ALLOW, "203.0.113.2", IPPROTO_TCP, 22, 22, NOW_PLUS(20), 53);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	ck_assert_uint_eq(d.ndel, 1);
	ck_assert_uint_eq(d.sets[0].del[0].expires, NOW_PLUS(10));
	ck_assert_uint_eq(d.sets[0].add[0].expires, NOW_PLUS(20));
	ck_assert_uint_eq(d.sets[0].add[0].loc.line, 53);
	fwd_ir_delta_free(&d);
	/* A port range, a network: the compiler. */
	ed(p, FWD_EDIT_ALLOW, "203.0.113.3", IPPROTO_TCP, 22, 23, 0, 54);
	FAST(-EAGAIN);
	ed(p, FWD_EDIT_ALLOW, "203.0.113.0/28", IPPROTO_TCP, 22, 22, 0, 55);
	FAST(-EAGAIN);
	/* Block inside the timed /24 with an earlier expiry: nothing. */
	ed(p, FWD_EDIT_BLOCK, "198.51.100.9", 0, 0, 0, NOW_PLUS(50), 56);
	FAST(0);
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	fwd_ir_delta_free(&d);
	/* ... with a later one: it would cut the /24, the compiler. */
	ed(p, FWD_EDIT_BLOCK, "198.51.100.9", 0, 0, 0, NOW_PLUS(500), 57);
	FAST(-EAGAIN);
	/* Touching with an equal expiry would join: the compiler; touching
	 * with another expiry: an element of its own. */
	ed(p, FWD_EDIT_BLOCK, "198.51.101.0/24", 0, 0, 0, NOW_PLUS(100), 58);
	FAST(-EAGAIN);
	ed(p, FWD_EDIT_BLOCK, "198.51.99.255", 0, 0, 0, 0, 59);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	fwd_ir_delta_free(&d);
	ed(p, FWD_EDIT_BLOCK, "2001:db8::/64", 0, 0, 0, 0, 60);
	FAST(0);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_BLOCK6);
	fwd_ir_delta_free(&d);
	/* A repeat offender (the verdict loop's guard): the same host
	 * blocked again for longer raises its element's expiry, one out and
	 * one in, no compiler... */
	ed(p, FWD_EDIT_BLOCK, "203.0.113.77", 0, 0, 0, NOW_PLUS(100), 160);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	fwd_ir_delta_free(&d);
	ed(p, FWD_EDIT_BLOCK, "203.0.113.77", 0, 0, 0, NOW_PLUS(400), 161);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	ck_assert_uint_eq(d.ndel, 1);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_BLOCK4);
	ck_assert_uint_eq(d.sets[0].add[0].expires, NOW_PLUS(400));
	fwd_ir_delta_free(&d);
	/* ...unless the raised one would then join its neighbour. */
	ed(p, FWD_EDIT_BLOCK, "203.0.113.78", 0, 0, 0, NOW_PLUS(900), 162);
	FAST(0);
	fwd_ir_delta_free(&d);
	ed(p, FWD_EDIT_BLOCK, "203.0.113.77", 0, 0, 0, NOW_PLUS(900), 163);
	FAST(-EAGAIN);
	/* list-add of a host: every single-port use of the list... */
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "192.0.2.8", 0, NOW_PLUS(30), 61);
	FAST(-EAGAIN);		/* web names 80-90: a range */
	p->services[1].ports[0].hi = 80;
	fwd_ir_free(ir);
	ir = compile_ok(p);
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "192.0.2.9", 0, NOW_PLUS(30), 62);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 2);	/* 22 and 80 */
	fwd_ir_delta_free(&d);
	/* ... but not a host other edits already name for that list. */
	ed_list(p, FWD_EDIT_LIST_ADD, "office", "192.0.2.9", 0, 0, 63);
	FAST(-EAGAIN);
	/* list-del: the compiler. */
	ed_list(p, FWD_EDIT_LIST_DEL, "office", "192.0.2.7", 0, 0, 64);
	FAST(-EAGAIN);
	/* From any: the open set, away from what is there. */
	ed(p, FWD_EDIT_ALLOW, NULL, IPPROTO_UDP, 53, 53, 0, 65);
	FAST(0);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_OPEN);
	fwd_ir_delta_free(&d);
	/* Deny from a host: the deny set (interval). */
	ed(p, FWD_EDIT_DENY, "192.0.2.7", IPPROTO_TCP, 22, 22, 0, 66);
	FAST(0);
	ck_assert_uint_eq(d.sets[0].set, FWD_SET_DENY4);
	fwd_ir_delta_free(&d);
	/* Its neighbour on the same port would join it: the compiler. */
	ed(p, FWD_EDIT_DENY, "192.0.2.8", IPPROTO_TCP, 22, 22, 0, 67);
	FAST(-EAGAIN);
	/* An expired edit changes nothing. */
	ed(p, FWD_EDIT_ALLOW, "203.0.113.9", IPPROTO_TCP, 22, 22, TEST_NOW, 68);
	FAST(0);
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	fwd_ir_delta_free(&d);
	/*
	 * A list member's word sits among the services: on a key a service
	 * names too, with the same expiry, which word names the element is
	 * a question of policy order: the compiler's.
	 */
	ed_list(p, FWD_EDIT_LIST_ADD, "team", "192.0.2.50", 0, 0, 69);
	FAST(-EAGAIN);
	/* A new member, then an allow edit (last) on its key, as long: the
	 * member's word keeps naming it. */
	ed_list(p, FWD_EDIT_LIST_ADD, "team", "192.0.2.60", 0, NOW_PLUS(10), 70);
	FAST(0);
	ck_assert_uint_eq(d.nadd, 1);
	fwd_ir_delta_free(&d);
	ed(p, FWD_EDIT_ALLOW, "192.0.2.60", IPPROTO_TCP, 22, 22, NOW_PLUS(10), 71);
	FAST(0);
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	fwd_ir_delta_free(&d);
	/* Not the tail of p->edits: refused. */
	ck_assert_int_eq(fwd_ir_fast_add(ir, p, &p->edits[0], 1, TEST_NOW, &d),
			 -EAGAIN);
	/* Due for a recompile (a timed list-del ended): refused. */
	ir->recompile_at = TEST_NOW;
	ck_assert_int_eq(fwd_ir_fast_add(ir, p, &p->edits[p->nedits - 1], 1,
					 TEST_NOW, &d), -EAGAIN);
#undef FAST
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

START_TEST(chains_shape)
{
	struct fwd_policy *p = pol_new();
	struct fwd_ir *ir;
	char *txt;

	ir = compile_ok(p);
	ck_assert(!ir->chains[FWD_CHAIN_INPUT].policy_accept);
	ck_assert(ir->chains[FWD_CHAIN_OUTPUT].policy_accept);
	/* outbound = allow: block drops, established, the deny rules. */
	ck_assert_uint_eq(ir->chains[FWD_CHAIN_OUTPUT].n, 9);
	ck_assert_ptr_eq(fwd_ir_chain_find(ir, "input"),
			 &ir->chains[FWD_CHAIN_INPUT]);
	ck_assert_ptr_null(fwd_ir_set_find(ir, "nope"));
	txt = render_str(ir, 0);
	ck_assert_ptr_nonnull(strstr(txt, "\t\tct state invalid drop\n"));
	/* ND must come before the invalid drop (in the IPv6 chain). */
	ck_assert_ptr_nonnull(strstr(txt, "\tchain in6 {\n"));
	ck_assert(strstr(strstr(txt, "\tchain in6 {\n"), "nd-neighbor-solicit") <
		  strstr(strstr(txt, "\tchain in6 {\n"), "ct state invalid drop"));
	ck_assert_ptr_nonnull(strstr(txt, "log prefix \"fwd drop in: \""));
	/* No final reject rules (the deny rules reject only their sets). */
	ck_assert_ptr_null(strstr(txt, "\t\tmeta l4proto tcp reject"));
	ck_assert_ptr_null(strstr(txt, "\t\treject with icmpx"));
	ck_assert_ptr_null(strstr(txt, "flags owner"));
	free(txt);
	fwd_ir_free(ir);

	p->inbound = FWD_REJECT;
	p->outbound = FWD_DENY;
	p->log = FWD_LOG_OFF;
	p->icmp = FWD_ICMP_NONE;
	ir = compile_ok(p);
	txt = render_str(ir, 6);
	ck_assert_ptr_nonnull(strstr(txt, "\t# flags owner,persist"));
	/* The default's rules count what they refuse (fwctl stats). */
	ck_assert_ptr_nonnull(strstr(txt,
		"\t\tmeta l4proto tcp counter packets 0 bytes 0 reject with tcp reset\n"
		"\t\tcounter packets 0 bytes 0 reject with icmpx admin-prohibited\n\t}\n"));
	ck_assert_ptr_null(strstr(txt, "log prefix"));
	ck_assert_ptr_null(strstr(txt, "echo-request"));
	ck_assert_ptr_nonnull(strstr(txt, "policy drop;\n\t\toif \"lo\" accept"));
	/* out_allow4 is empty: its lookup is in the IR's output chain but
	 * not in the kernel's (ir.h, "The chains in the kernel"). */
	ck_assert_ptr_null(strstr(txt, "@out_allow4"));
	{
		const struct fwd_ir_chain *oc = &ir->chains[FWD_CHAIN_OUTPUT];
		bool found = false;

		for (size_t i = 0; i < oc->n; i++)
			found |= oc->rules[i].nm == 1 &&
				 oc->rules[i].m[0].kind == FWD_M_LOOKUP_DST &&
				 oc->rules[i].m[0].set == FWD_SET_OUT_ALLOW4;
		ck_assert(found);
	}
	free(txt);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/* ---- the kernel as referee (root + nft) ---- */

static bool have_nft(void)
{
	return tu_need_prog("nft", "nftables");
}

static char *write_tmp(const char *text)
{
	char buf[256];
	char *path = strdup(tu_tmp(buf, sizeof(buf), "fwd-compile-XXXXXX"));
	int fd = mkstemp(path);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The text with every set's elements one per line and sorted: nft lists a
 * hash set in its own order (the key read as a little-endian number), the
 * render in key order. A timeout becomes the bare word: the render says
 * "timeout 100s", nft "timeout 1m40s expires 1m39s968ms"; nft's element
 * counters ("counter packets 0 bytes 0") go. Everything else
 * must match as is.
 */
static char *canon(const char *txt)
{
	char *copy = strdup(txt), *save = NULL, *line, *buf = NULL;
	char **el = NULL;
	size_t nel = 0, len = 0;
	bool in_el = false;
	FILE *f = open_memstream(&buf, &len);

	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = line, *tok, *tsave = NULL;
		bool last;

		if (!in_el) {
			p = strstr(line, "elements = { ");
			if (!p) {
				fprintf(f, "%s\n", line);
				continue;
			}
			fprintf(f, "\t\telements = {\n");
			p += strlen("elements = { ");
			in_el = true;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		last = strlen(p) >= 2 && strcmp(p + strlen(p) - 2, " }") == 0;
		if (last)
			p[strlen(p) - 2] = '\0';
		for (tok = strtok_r(p, ",", &tsave); tok;
		     tok = strtok_r(NULL, ",", &tsave)) {
			char *to;

			while (*tok == ' ')
				tok++;
			if (!*tok)
				continue;
			/* nft lists each element's own counter (the set's
			 * `counter`); the render does not: a fresh load
			 * has counted nothing. */
			to = strstr(tok, " counter packets 0 bytes 0");
			if (to)
				memmove(to, to + 26, strlen(to + 26) + 1);
			to = strstr(tok, " timeout ");
			if (to)
				strcpy(to, " timeout");
			el = xrealloc(el, (nel + 1) * sizeof(*el));
			el[nel++] = tok;
		}
		if (last) {
			qsort(el, nel, sizeof(*el), cmp_str);
			for (size_t i = 0; i < nel; i++)
				fprintf(f, "\t\t\t%s\n", el[i]);
			fprintf(f, "\t\t}\n");
			nel = 0;
			in_el = false;
		}
	}
	fclose(f);
	free(el);
	free(copy);
	return buf;
}

/* A unified diff of two files on stderr (check messages are short). */
static void show_diff(const char *want, const char *got)
{
	char *out = NULL;

	tu_sh(&out, "diff -u %s %s | head -200", want, got);
	fprintf(stderr, "%s", out);
	free(out);
}

/*
 * Load the text in a fresh network namespace and list it back: the kernel
 * refuses overlapping interval elements, and the listing must be the text.
 */
static void kernel_roundtrip(const char *txt)
{
	char *path = write_tmp(txt), *out = NULL, *cw, *cg;
	int st;

	st = tu_sh(&out, "unshare -n sh -c 'nft -f %s && "
		   "nft list table inet " FWD_TABLE_NAME "'", path);
	if (st != 0)
		fprintf(stderr, "%s\n", out);
	ck_assert_msg(st == 0, "nft -f %s failed (%d)", path, st);
	cw = canon(txt);
	cg = canon(out);
	if (strcmp(cw, cg) != 0) {
		char *pw = write_tmp(cw), *pg = write_tmp(cg);

		show_diff(pw, pg);
		ck_abort_msg("nft list of %s differs from the render", path);
	}
	free(cw);
	free(cg);
	unlink(path);
	free(path);
	free(out);
}

START_TEST(kernel_random_roundtrip)
{
	if (!have_nft())
		return;
	if (!tu_need_root())
		return;
	for (uint64_t seed = 1000; seed < 1018; seed++) {
		struct fwd_policy *p = rnd_policy(seed);
		struct fwd_ir *ir = compile_ok(p);
		char *txt;

		p->inbound = (enum fwd_action)(seed % 3);
		p->outbound = (enum fwd_action)(seed / 3 % 3);
		p->log = (enum fwd_log)(seed / 9 % 3);
		p->icmp = (enum fwd_icmp)(seed / 27 % 3);
		p->rpfilter = (enum fwd_rpfilter)(seed / 2 % 3);
		fwd_ir_free(ir);
		ir = compile_ok(p);
		txt = render_str(ir, 0);
		kernel_roundtrip(txt);
		free(txt);
		fwd_ir_free(ir);
		pol_free(p);
	}
}
END_TEST

/* ---- golden files ---- */

/*
 * Each tests/golden/NAME.conf (or the built-in policy) compiled and
 * rendered must equal tests/golden/NAME.nft byte for byte. With root and
 * nft, the text must also pass `nft -c -f` and load and list back.
 */
/* The queue golden's compile options (what [guard] will set). */
static const struct fwd_compile_opts queue_opts = {
	.queue = { .on = true, .num = 0, .total = 2, .meter = true,
		   .rate = 100, .period_s = 1, .burst = 100 },
};

static const struct golden {
	const char *name;
	unsigned table_flags;
	const struct fwd_compile_opts *opts;	/* NULL: none */
} goldens[] = {
	{ "builtin", 0, NULL },		/* fwd_policy_builtin(), no .conf */
	{ "defaults-reject", 0, NULL },
	{ "defaults-allow", 0, NULL },
	{ "log-all", 0, NULL },
	{ "outbound-reject", 0, NULL },
	{ "lists", 0, NULL },
	{ "overlap", 0, NULL },
	{ "owner", 6, NULL },			/* NFT_TABLE_F_OWNER | _PERSIST */
	{ "edits", 0, NULL },			/* [edits], timed ones at TEST_NOW */
	{ "queue", 0, &queue_opts },	/* the queue step and its meters */
	{ "guard", 0, NULL },		/* the same, derived from [guard] */
	{ "rpfilter-loose", 0, NULL },	/* fib saddr . mark oif missing */
	{ "rpfilter-no", 0, NULL },		/* no fib rule */
	{ "limits-iface", 0, NULL },	/* interface = / limit = classes */
};

static struct fwd_ir *compile_golden(const struct golden *g,
				     const struct fwd_policy *p)
{
	struct fwd_diags d;
	struct fwd_ir *ir = NULL;
	int ret;

	if (!g->opts)
		return compile_ok(p);
	fwd_diags_init(&d);
	ret = fwd_compile_opts_at(p, TEST_NOW, g->opts, &ir, &d);
	if (ret)
		fwd_diags_print(&d, stderr);
	ck_assert_int_eq(ret, 0);
	fwd_diags_free(&d);
	return ir;
}

static struct fwd_policy *load_golden(const char *name)
{
	struct fwd_load_opts opts = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	char *rel, *path;
	int ret;

	if (strcmp(name, "builtin") == 0) {
		ck_assert_int_eq(fwd_policy_builtin(&p), 0);
		return p;
	}
	opts.services_path = tu_src("tests/golden/services");
	if (asprintf(&rel, "tests/golden/%s.conf", name) < 0)
		abort();
	path = tu_src(rel);
	fwd_diags_init(&d);
	ret = fwd_policy_load(path, &opts, &p, &d);
	if (ret)
		fwd_diags_print(&d, stderr);
	ck_assert_msg(ret == 0, "%s does not load", path);
	fwd_diags_free(&d);
	free(rel);
	free(path);
	free((char *)opts.services_path);
	return p;
}


/*
 * Restricted classes (ir.h, fwd_ir_class) from tests/golden/limits-iface:
 * one class per (direction, interface, limit), shared by a service and an
 * edit that say the same; the limit in nft's words; the class rules after
 * the shared lookups, so that an unlimited allow of the same port wins;
 * explain names the class; the fast path leaves restricted edits to the
 * compiler, and a new class is a new table shape.
 */
START_TEST(restrict_classes)
{
	struct fwd_policy *p = load_golden("limits-iface");
	struct fwd_ir *ir = compile_ok(p), *ir2;
	const struct fwd_ir_chain *in = &ir->chains[FWD_CHAIN_INPUT];
	const struct fwd_ir_class *k;
	struct fwd_explain ex;
	struct fwd_ir_delta d;
	struct fwd_edit e;
	uint8_t a[16] = { 0 };
	size_t open_rule = SIZE_MAX, first_class = SIZE_MAX, first_meter = SIZE_MAX;
	size_t last_unlimited = 0;
	char err[256];

	check_ir(ir);
	ck_assert_uint_eq(ir->nclasses, 5);
	k = &ir->classes[0];		/* ssh: limit = 6/30s, any interface */
	ck_assert_str_eq(k->ifname, "");
	ck_assert(!k->out);
	ck_assert_uint_eq(k->limit_n, 6);
	ck_assert_uint_eq(k->rate, 12);
	ck_assert_uint_eq(k->period_s, 60);
	ck_assert_uint_eq(k->burst, 6);
	ck_assert_uint_eq(k->loc.line, 13);
	k = &ir->classes[1];		/* db and the 5433 edit: eth1, no limit */
	ck_assert_str_eq(k->ifname, "eth1");
	ck_assert_uint_eq(k->limit_n, 0);
	ck_assert_uint_eq(ir->sets[k->set4].n, 1);	/* 5432-5433 joined */
	ck_assert_uint_eq(ir->sets[k->set4].elems[0].plo, 5432);
	ck_assert_uint_eq(ir->sets[k->set4].elems[0].phi, 5433);
	ck_assert_uint_eq(ir->classes[2].rate, 100);	/* 100/1h: 100/hour */
	ck_assert_uint_eq(ir->classes[2].period_s, 3600);
	ck_assert(ir->classes[3].out);			/* backup: oifname */
	ck_assert_uint_eq(ir->classes[4].rate, 90);	/* 3/2s: 90/minute */
	ck_assert_uint_eq(ir->classes[4].period_s, 60);
	ck_assert_uint_eq(ir->classes[4].burst, 3);
	ck_assert_uint_eq(fwd_ir_class_meter_sets(ir), 6);

	for (size_t i = 0; i < in->n; i++) {
		const struct fwd_ir_rule *r = &in->rules[i];

		for (unsigned m = 0; m < r->nm; m++) {
			if (r->m[m].kind == FWD_M_LOOKUP_SRC &&
			    r->m[m].set == FWD_SET_OPEN)
				open_rule = i;
			if ((r->m[m].kind == FWD_M_CLASS_METER ||
			     r->m[m].kind == FWD_M_IIFNAME) && first_class == SIZE_MAX)
				first_class = i;
			if (r->m[m].kind == FWD_M_CLASS_METER && first_meter == SIZE_MAX)
				first_meter = i;
			if (r->m[m].kind == FWD_M_IIFNAME && r->m[m].u32 == 1)
				last_unlimited = i;	/* db's class: eth1, no limit */
			ck_assert(r->m[m].kind != FWD_M_OIFNAME);
		}
	}
	ck_assert_uint_lt(open_rule, first_class);
	/* An unlimited class accepts before any limit drops: a host it
	 * allows is not held to a limit meant for others. */
	ck_assert_uint_lt(last_unlimited, first_meter);

	/* 198.51.100.7 has an unlimited ssh of its own: the shared set. */
	ck_assert_int_eq(inet_pton(AF_INET, "198.51.100.7", a), 1);
	ck_assert_int_eq(fwd_ir_explain(ir, FWD_CHAIN_INPUT, AF_INET, a,
					IPPROTO_TCP, 22, &ex), 0);
	ck_assert_int_eq(ex.verdict, FWD_V_ACCEPT);
	ck_assert_int_eq(ex.set, FWD_SET_ALLOW4);
	ck_assert_ptr_null(fwd_ir_class_of_set(ir, (unsigned)ex.set));
	/* Anyone else: the limited class (a first connection is under it). */
	ck_assert_int_eq(inet_pton(AF_INET, "203.0.113.50", a), 1);
	ck_assert_int_eq(fwd_ir_explain(ir, FWD_CHAIN_INPUT, AF_INET, a,
					IPPROTO_TCP, 22, &ex), 0);
	ck_assert_int_eq(ex.verdict, FWD_V_ACCEPT);
	ck_assert_ptr_eq(fwd_ir_class_of_set(ir, (unsigned)ex.set), &ir->classes[0]);
	ck_assert_uint_eq(ex.loc.line, 11);	/* `any` is named by its ports line */
	ck_assert_int_eq(inet_pton(AF_INET, "192.0.2.5", a), 1);
	ck_assert_int_eq(fwd_ir_explain(ir, FWD_CHAIN_INPUT, AF_INET, a,
					IPPROTO_TCP, 5432, &ex), 0);
	ck_assert_int_eq(ex.verdict, FWD_V_ACCEPT);
	ck_assert_ptr_eq(fwd_ir_class_of_set(ir, (unsigned)ex.set), &ir->classes[1]);

	/* A restricted edit is never the fast path's, even into a class
	 * that exists; a new class changes the table's shape. */
	memset(&e, 0, sizeof(e));
	e.kind = FWD_EDIT_ALLOW;
	e.ports = (struct fwd_ports){ .proto = IPPROTO_TCP, .lo = 7000, .hi = 7000 };
	e.peer = FWD_PEER_ADDR;
	e.addr = A("192.0.2.77");
	snprintf(e.rs.ifname, sizeof(e.rs.ifname), "eth9");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(fwd_ir_fast_add(ir, p, &p->edits[p->nedits - 1], 1,
					 TEST_NOW, &d), -EAGAIN);
	ir2 = compile_ok(p);
	ck_assert_uint_eq(ir2->nclasses, 6);
	ck_assert_str_eq(ir2->classes[5].ifname, "eth9");
	ck_assert_int_eq(fwd_ir_diff(ir, ir2, &d), 0);
	ck_assert(d.shape_changed);
	fwd_ir_delta_free(&d);
	fwd_ir_free(ir2);
	/* Another rate for the same class index: also a new shape. */
	p->edits[p->nedits - 1].rs.ifname[0] = '\0';
	p->edits[p->nedits - 1].rs.limit_n = 3;
	p->edits[p->nedits - 1].rs.limit_w = 3;
	ir2 = compile_ok(p);
	ck_assert_uint_eq(ir2->nclasses, 6);
	ck_assert_int_eq(fwd_ir_diff(ir, ir2, &d), 0);
	ck_assert(d.shape_changed);
	fwd_ir_delta_free(&d);
	fwd_ir_free(ir2);
	fwd_ir_free(ir);
	fwd_policy_free(p);
}
END_TEST

START_TEST(golden)
{
	const struct golden *g = &goldens[_i];
	const char *update = getenv("FWD_UPDATE_GOLDEN");
	struct fwd_policy *p = load_golden(g->name);
	struct fwd_ir *ir = compile_golden(g, p);
	char *rel, *path, *want, *got;

	check_ir(ir);
	got = render_str(ir, g->table_flags);
	if (asprintf(&rel, "tests/golden/%s.nft", g->name) < 0)
		abort();
	path = tu_src(rel);
	if (update && strcmp(update, "1") == 0) {
		FILE *f = fopen(path, "w");

		ck_assert_msg(f != NULL, "cannot write %s", path);
		fputs(got, f);
		fclose(f);
		fprintf(stderr, "updated %s\n", path);
	}
	want = tu_slurp(path, NULL);
	ck_assert_msg(want != NULL, "%s missing (FWD_UPDATE_GOLDEN=1 makes it)",
		      path);
	if (strcmp(want, got) != 0) {
		char *tmp = write_tmp(got);

		show_diff(path, tmp);
		ck_abort_msg("%s: render differs from %s (diff above; "
			     "FWD_UPDATE_GOLDEN=1 rewrites it)", g->name, path);
	}
	free(want);
	free(got);
	free(rel);
	free(path);
	fwd_ir_free(ir);
	fwd_policy_free(p);
}
END_TEST

/*
 * The edits golden built the way the daemon builds it live: the policy
 * without its [edits], then each edit added on its own, by the fast path
 * when it can, by the compiler when it refuses; the render must still be
 * the golden file, and the deltas chained must lead there too.
 */
START_TEST(golden_edits_live)
{
	struct fwd_policy *p = load_golden("edits");
	struct fwd_edit *all = p->edits;
	size_t n = p->nedits, nfast = 0;
	struct fwd_ir *ir, *start;
	char *path = tu_src("tests/golden/edits.nft"), *want, *got;

	ck_assert_uint_gt(n, 10);
	p->edits = xcalloc(n, sizeof(*p->edits));
	p->edits_cap = n;
	p->nedits = 0;
	ir = compile_ok(p);
	start = fwd_ir_clone(ir);
	for (size_t i = 0; i < n; i++) {
		struct fwd_ir_delta d;

		p->edits[p->nedits++] = all[i];
		if (fwd_ir_fast_add(ir, p, &p->edits[i], 1, TEST_NOW, &d) == 0) {
			nfast++;
		} else {
			fwd_ir_free(ir);
			ir = compile_ok(p);
		}
		fwd_ir_delta_free(&d);
	}
	got = render_str(ir, 0);
	want = tu_slurp(path, NULL);
	ck_assert_ptr_nonnull(want);
	ck_assert_str_eq(got, want);
	fprintf(stderr, "golden edits live: %zu of %zu edits by the fast path\n",
		nfast, n);
	ck_assert_uint_ge(nfast, n / 2);
	{
		struct fwd_ir_delta d;

		ck_assert_int_eq(fwd_ir_diff(start, ir, &d), 0);
		ck_assert(!d.shape_changed);
		check_delta(start, ir, &d);
		fwd_ir_delta_free(&d);
	}
	free(all);
	free(got);
	free(want);
	free(path);
	fwd_ir_free(start);
	fwd_ir_free(ir);
	fwd_policy_free(p);
}
END_TEST

/* Whether nft can load the native queue expression here (this test
 * suite links no kmod-hooks, so nft itself is asked). */
static bool native_queue_here(void)
{
	return tu_sh(NULL, "unshare -n nft 'add table inet t; add chain inet t "
		     "c; add rule inet t c queue num 0' 2>/dev/null") == 0;
}

/*
 * Without nft_queue (this kernel), nft cannot load `queue num ...`, and a
 * table with the xt target lists as xt: the queue statements become
 * `drop` so that the rest of the text (the meter sets and rules) is still
 * loaded and listed back.
 */
static char *queue_as_drop(char *txt)
{
	char *out = fwd_xmalloc(strlen(txt) + 1), *o = out;

	for (char *line = txt; *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line + 1) : strlen(line);
		char *q = strstr(line, "queue num ");

		if (q && q < line + len) {
			memcpy(o, line, (size_t)(q - line));
			o += q - line;
			o += sprintf(o, "drop\n");
		} else {
			memcpy(o, line, len);
			o += len;
		}
		line += len;
	}
	*o = '\0';
	fprintf(stderr, "NOTE: no native queue in this kernel: the queue "
		"golden's queue statements were loaded as drop\n");
	free(txt);
	return out;
}

/*
 * The queue option: off is the old table exactly; on adds the step at the
 * end of the input chain only (meter rules, then the queue, before the
 * log + drop), changes the shape for the diff, not explain's answers;
 * bad options are refused with a message; a policy that accepts all
 * inbound gets no queue step.
 */
START_TEST(queue_option)
{
	struct fwd_policy *p = load_golden("queue");
	struct fwd_compile_opts o = { 0 };
	struct fwd_ir *plain = compile_ok(p), *off, *on;
	const struct fwd_ir_chain *ci, *cp;
	struct fwd_ir_delta delta;
	struct fwd_explain e1, e2;
	static const uint8_t a[16] = { 203, 0, 113, 9 };
	struct fwd_diags d;
	size_t k;
	char *t1, *t2;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_compile_opts_at(p, TEST_NOW, &o, &off, &d), 0);
	t1 = render_str(plain, 0);
	t2 = render_str(off, 0);
	ck_assert_str_eq(t1, t2);
	free(t2);
	ck_assert_int_eq(fwd_ir_diff(plain, off, &delta), 0);
	ck_assert(!delta.shape_changed);
	fwd_ir_delta_free(&delta);

	o = queue_opts;
	o.queue.burst = 0;	/* made explicit: nft's 5 */
	ck_assert_int_eq(fwd_compile_opts_at(p, TEST_NOW, &o, &on, &d), 0);
	ck_assert_uint_eq(on->queue.burst, 5);
	ck_assert_uint_eq(fwd_ir_meter_sets(on), 2);
	ci = &on->chains[FWD_CHAIN_INPUT];
	cp = &plain->chains[FWD_CHAIN_INPUT];
	ck_assert_uint_eq(ci->n, cp->n + 3);
	/* The same rules up to the log rule, which stays in front of the
	 * step (a queue verdict is final: after it, the rule would never see
	 * a packet); the final drop moves three down. */
	k = cp->n - 1;
	ck_assert(ci->rules[k - 1].log);
	ck_assert(cp->rules[k - 1].log);
	ck_assert_int_eq(ci->rules[k].m[1].kind, FWD_M_METER);
	ck_assert_uint_eq(ci->rules[k].m[1].u32, NFPROTO_IPV4);
	ck_assert_int_eq(ci->rules[k].verdict, FWD_V_DROP);
	ck_assert(ci->rules[k].counter);
	ck_assert_uint_eq(ci->rules[k + 1].m[1].u32, NFPROTO_IPV6);
	ck_assert_int_eq(ci->rules[k + 2].verdict, FWD_V_QUEUE);
	ck_assert_uint_eq(ci->rules[k + 2].m[0].u32, NF_CT_STATE_BIT(IP_CT_NEW));
	ck_assert_int_eq(ci->rules[k + 3].verdict, FWD_V_DROP);
	ck_assert_uint_eq(ci->rules[k + 3].nm, 0);
	ck_assert_uint_eq(k + 4, ci->n);
	ck_assert_uint_eq(on->chains[FWD_CHAIN_OUTPUT].n,
			  plain->chains[FWD_CHAIN_OUTPUT].n);
	ck_assert_int_eq(fwd_ir_diff(plain, on, &delta), 0);
	ck_assert(delta.shape_changed);
	fwd_ir_delta_free(&delta);
	/* A clone keeps the step: no shape change against the original. */
	{
		struct fwd_ir *c = fwd_ir_clone(on);

		ck_assert_int_eq(fwd_ir_diff(on, c, &delta), 0);
		ck_assert(!delta.shape_changed);
		fwd_ir_delta_free(&delta);
		fwd_ir_free(c);
	}
	for (uint16_t port = 21; port <= 23; port++) {
		ck_assert_int_eq(fwd_ir_explain(plain, FWD_CHAIN_INPUT, AF_INET, a,
						IPPROTO_TCP, port, &e1), 0);
		ck_assert_int_eq(fwd_ir_explain(on, FWD_CHAIN_INPUT, AF_INET, a,
						IPPROTO_TCP, port, &e2), 0);
		ck_assert_int_eq(e1.verdict, e2.verdict);
		ck_assert_int_eq(e1.by_policy, e2.by_policy);
	}
	fwd_ir_free(on);
	ck_assert_uint_eq(d.n, 0);

	/* Refused, each with a message, nothing built. */
	{
		static const struct fwd_ir_queue bad[] = {
			{ .on = true, .total = 0 },
			{ .on = true, .num = 65535, .total = 2 },
			{ .on = true, .total = 1, .meter = true, .rate = 0,
			  .period_s = 1 },
			{ .on = true, .total = 1, .meter = true, .rate = 10,
			  .period_s = 5 },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			o.queue = bad[i];
			on = (struct fwd_ir *)1;
			ck_assert_int_eq(fwd_compile_opts_at(p, TEST_NOW, &o, &on,
							     &d), -EINVAL);
			ck_assert_ptr_null(on);
			ck_assert_uint_eq(d.n, i + 1);
		}
	}
	/* inbound = allow: nothing is dropped, nothing to queue. */
	p->inbound = FWD_ALLOW;
	o = queue_opts;
	ck_assert_int_eq(fwd_compile_opts_at(p, TEST_NOW, &o, &on, &d), 0);
	for (size_t i = 0; i < on->chains[FWD_CHAIN_INPUT].n; i++)
		ck_assert_int_ne(on->chains[FWD_CHAIN_INPUT].rules[i].verdict,
				 FWD_V_QUEUE);
	fwd_ir_free(on);
	fwd_diags_free(&d);
	free(t1);
	fwd_ir_free(off);
	fwd_ir_free(plain);
	fwd_policy_free(p);
}
END_TEST


/* A policy text with the ssh service and `extra` in front of it. */
static struct fwd_policy *guard_policy(const char *extra)
{
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	char *text = fwd_xasprintf("%s[service ssh]\nports = 22/tcp\n"
				   "allow = 192.0.2.10\n", extra);

	ck_assert_int_eq(fwd_policy_load_buffer("g.conf", text, strlen(text), &o,
						&p, NULL), 0);
	free(text);
	return p;
}

static const struct fwd_ir_rule *queue_rule(const struct fwd_ir *ir)
{
	const struct fwd_ir_chain *ch = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t i = 0; i < ch->n; i++)
		if (ch->rules[i].verdict == FWD_V_QUEUE)
			return &ch->rules[i];
	return NULL;
}

/*
 * [guard] compiles the queue step by itself (fwd_compile_at, no options):
 * total = [defaults] queues, the meter from `flood` at twice its count
 * (none when off, the window turned into an nft unit), native only when the caller says the
 * kernel has it; no [guard], no step: the table of before.
 */
START_TEST(guard_queue_step)
{
	static const struct {
		const char *extra;
		bool on, meter;
		uint16_t total;
		uint32_t rate, period, burst;
	} cases[] = {
		{ "", false, false, 0, 0, 0, 0 },
		{ "[guard]\n", true, true, 1, 200, 1, 200 },
		{ "[defaults]\nqueues = 3\n[guard]\nflood = off\n", true, false,
		  3, 0, 0, 0 },
		{ "[guard]\nflood = 100 / 5s\n", true, true, 1, 40, 1, 200 },
		{ "[guard]\nflood = 1 / 10s\n", true, true, 1, 12, 60, 2 },
		{ "[guard]\nflood = 7 / 1h\n", true, true, 1, 14, 3600, 14 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fwd_policy *p = guard_policy(cases[i].extra);
		struct fwd_compile_opts co = { .native_queue = true };
		struct fwd_ir *ir = compile_ok(p), *nat;
		struct fwd_diags d;

		ck_assert_msg(ir->queue.on == cases[i].on, "case %zu", i);
		ck_assert_msg((queue_rule(ir) != NULL) == cases[i].on, "case %zu", i);
		ck_assert(!ir->queue.native);
		ck_assert_uint_eq(ir->queue.total, cases[i].total);
		ck_assert_uint_eq(ir->queue.num, 0);
		ck_assert(ir->queue.meter == cases[i].meter);
		ck_assert_uint_eq(fwd_ir_meter_sets(ir), cases[i].meter ? 2 : 0);
		ck_assert_uint_eq(ir->queue.rate, cases[i].rate);
		ck_assert_uint_eq(ir->queue.period_s, cases[i].period);
		ck_assert_uint_eq(ir->queue.burst, cases[i].burst);
		fwd_diags_init(&d);
		ck_assert_int_eq(fwd_compile_opts_at(p, TEST_NOW, &co, &nat, &d), 0);
		ck_assert(nat->queue.native == cases[i].on);
		fwd_diags_free(&d);
		fwd_ir_free(nat);
		fwd_ir_free(ir);
		fwd_policy_free(p);
	}
}
END_TEST

/* The goldens through nft: `nft -c -f`, then load and list back. */
START_TEST(golden_nft)
{
	const struct golden *g = &goldens[_i];
	struct fwd_policy *p;
	struct fwd_ir *ir;
	char *out = NULL, *txt, *tmp;
	int st;

	if (!have_nft())
		return;
	if (!tu_need_root())
		return;
	p = load_golden(g->name);
	ir = compile_golden(g, p);
	txt = render_str(ir, g->table_flags);
	if (ir->queue.on && !native_queue_here())
		txt = queue_as_drop(txt);
	tmp = write_tmp(txt);
	st = tu_sh(&out, "unshare -n nft -c -f %s", tmp);
	ck_assert_msg(st == 0, "nft -c -f (%s): %s", g->name, out);
	/* The owner comment is not something nft list prints. */
	if (!g->table_flags)
		kernel_roundtrip(txt);
	unlink(tmp);
	free(tmp);
	free(out);
	free(txt);
	fwd_ir_free(ir);
	fwd_policy_free(p);
}
END_TEST

/* ---- scale ---- */

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double now(void)
{
	return clock_s(CLOCK_MONOTONIC);
}

/*
 * n entries: mostly single hosts on 22/tcp (a big list), one in 16 a
 * CIDR, one in 64 on a port range, some duplicates: all set kinds busy.
 */
static struct fwd_policy *big_policy(size_t n)
{
	struct fwd_policy *p = pol_new();
	struct fwd_list *l4, *l6;
	struct fwd_service *s;

	pol_list(p, "big4");
	pol_list(p, "big6");
	l4 = &p->lists[0];	/* after both: pol_list moves the array */
	l6 = &p->lists[1];

	rng_state = 42;
	for (size_t i = 0; i < n; i++) {
		struct fwd_addr a = { 0 };
		uint32_t r = rnd();

		if (i % 8 == 7) {
			a.family = AF_INET6;
			a.a[0] = 0x20;
			a.a[1] = 0x01;
			a.a[2] = 0x0d;
			a.a[3] = 0xb8;
			memcpy(a.a + 12, &r, 4);
			a.prefix = 128;
			if (i % 16 == 15) {
				a.prefix = 120;
				a.a[15] = 0;
			}
			list_add(l6, a, (unsigned)i + 1);
			continue;
		}
		a.family = AF_INET;
		a.a[0] = 10 + (uint8_t)(r >> 24) % 100;
		a.a[1] = (uint8_t)(r >> 16);
		a.a[2] = (uint8_t)(r >> 8);
		a.a[3] = (uint8_t)r;
		a.prefix = 32;
		if (i % 16 == 3) {
			a.prefix = 24;
			a.a[3] = 0;
		}
		list_add(l4, a, (unsigned)i + 1);
	}
	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 1);
	svc_list(s, 0, 2);
	svc_list(s, 1, 2);
	s = pol_service(p, "media", FWD_DIR_IN);
	svc_port(s, IPPROTO_UDP, 60000, 61000, 3);
	svc_port(s, IPPROTO_TCP, 20, 30, 3);
	for (size_t i = 0; i < n / 16384 + 1; i++) {
		char buf[32];

		snprintf(buf, sizeof(buf), "172.16.%zu.0/24", i % 256);
		svc_addr(s, buf, 4);
	}
	svc_list(s, 1, 4);
	return p;
}

static void time_scale(size_t n, double bound)
{
	struct fwd_policy *p = big_policy(n);
	struct fwd_ir *ir;
	size_t total = 0;
	double t0, t1, t2, c0, c1;
	FILE *null = fopen("/dev/null", "w");

	/* Wall time on a busy machine says little: print CPU time too. */
	c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	t0 = now();
	ir = compile_ok(p);
	t1 = now();
	c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	ck_assert_int_eq(fwd_ir_render(ir, NULL, null), 0);
	t2 = now();
	for (size_t i = 0; i < ir->nsets; i++)
		total += ir->sets[i].n;
	fprintf(stderr, "compile: %zu entries -> %zu elements in %.3f s "
		"(%.3f s CPU), render %.3f s\n", n, total, t1 - t0, c1 - c0,
		t2 - t1);
	(void)bound;	/* times are printed, not asserted: bench/ measures */
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];

		/* Sorted and disjoint, checked in linear time where the
		 * set has no port ranges crossing address order. */
		for (size_t j = 1; j < s->n; j++)
			if (elem_box(s, &s->elems[j - 1]).lo >
			    elem_box(s, &s->elems[j]).lo)
				ck_abort_msg("%s: unsorted at %zu", s->name, j);
	}
	fclose(null);
	fwd_ir_free(ir);
	pol_free(p);
}

START_TEST(scale_100k)
{
	time_scale(100000, 5.0);
}
END_TEST

START_TEST(scale_1m)
{
	time_scale(1000000, 30.0);
}
END_TEST

/*
 * 100k entries plus 20k timed edits with 16 different expiries, networks
 * and hosts on the big list's port and on ranges: the skyline cuts by
 * expiry everywhere. Printed; the bound only catches a blow-up.
 */
START_TEST(scale_timed)
{
	struct fwd_policy *p = big_policy(100000);
	struct fwd_ir *ir;
	size_t total = 0, timed = 0;
	double t0, t1;

	rng_state = 99;
	for (unsigned i = 0; i < 20000; i++) {
		struct fwd_edit e = { .kind = FWD_EDIT_ALLOW, .peer = FWD_PEER_ADDR,
				      .loc = L(i + 1),
				      .expires = TEST_NOW + 60 * (1 + i % 16) };
		uint32_t r = rnd();

		e.addr.family = AF_INET;
		e.addr.a[0] = 10 + (uint8_t)(r >> 24) % 100;
		e.addr.a[1] = (uint8_t)(r >> 16);
		e.addr.a[2] = (uint8_t)(r >> 8);
		e.addr.prefix = i % 3 ? 24 : 32;
		if (e.addr.prefix == 32)
			e.addr.a[3] = (uint8_t)r;
		e.ports = (struct fwd_ports){ IPPROTO_TCP, 22, i % 5 ? 22 : 30,
					      e.loc };
		pol_edit(p, &e);
	}
	t0 = now();
	ir = compile_ok(p);
	t1 = now();
	for (size_t i = 0; i < ir->nsets; i++) {
		total += ir->sets[i].n;
		for (size_t k = 0; k < ir->sets[i].n; k++)
			timed += ir->sets[i].elems[k].expires != 0;
	}
	fprintf(stderr, "compile: 100k entries + 20k timed edits -> %zu "
		"elements (%zu timed) in %.3f s\n", total, timed, t1 - t0);
	ck_assert_uint_gt(timed, 10000);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * A live addition with 100k entries loaded: the fast path against a full
 * compile of the same policy (what a live edit cost before), plus what
 * the daemon may pay around it (clone, diff of two 100k IRs). Each fast
 * add is one call for one edit on the IR the previous ones left. Printed;
 * the bound only catches a fast path that stopped being one.
 */
START_TEST(scale_fast_add)
{
	enum { K = 200 };
	struct fwd_policy *p = big_policy(100000);
	struct fwd_ir *ir, *full, *c;
	struct fwd_ir_delta d;
	double t[K], tl[K], t0, tc, tclone, tdiff;
	size_t nelem = 0;

	t0 = now();
	ir = compile_ok(p);
	tc = now() - t0;
	for (size_t i = 0; i < ir->nsets; i++)
		nelem += ir->sets[i].n;
	rng_state = 7;
	for (int k = 0; k < K; k++) {
		struct fwd_edit e = { .kind = FWD_EDIT_ALLOW, .peer = FWD_PEER_ADDR,
				      .loc = { NULL, (unsigned)k + 1 } };
		uint32_t r = rnd();
		int ret;

		e.addr.family = AF_INET;
		e.addr.prefix = 32;
		e.addr.a[0] = 10 + (uint8_t)(r >> 24) % 100;
		e.addr.a[1] = (uint8_t)(r >> 16);
		e.addr.a[2] = (uint8_t)(r >> 8);
		e.addr.a[3] = (uint8_t)r;
		e.ports = (struct fwd_ports){ IPPROTO_TCP, 22, 22, e.loc };
		pol_edit(p, &e);
		t0 = now();
		ret = fwd_ir_fast_add(ir, p, &p->edits[p->nedits - 1], 1,
				      TEST_NOW, &d);
		t[k] = now() - t0;
		if (getenv("FWD_DEBUG_FAST") && t[k] > 0.001)
			fprintf(stderr, "fast add %d: %.3f ms\n", k, t[k] * 1e3);
		ck_assert_int_eq(ret, 0);
		ck_assert_uint_eq(d.nadd, 1);
		fwd_ir_delta_free(&d);

		/* list add big4 HOST: the same through the list's users. */
		e = (struct fwd_edit){ .kind = FWD_EDIT_LIST_ADD,
				       .loc = { NULL, (unsigned)k + 1 } };
		snprintf(e.list, sizeof(e.list), "big4");
		e.addr.family = AF_INET;
		e.addr.prefix = 32;
		e.addr.a[0] = 192;
		e.addr.a[1] = 0;
		e.addr.a[2] = 2;
		e.addr.a[3] = (uint8_t)k;
		pol_edit(p, &e);
		t0 = now();
		ret = fwd_ir_fast_add(ir, p, &p->edits[p->nedits - 1], 1,
				      TEST_NOW, &d);
		tl[k] = now() - t0;
		ck_assert_int_eq(ret, 0);
		fwd_ir_delta_free(&d);
	}
	t0 = now();
	full = compile_ok(p);
	tc = (tc + now() - t0) / 2;
	assert_same_sets(ir, full, TEST_NOW, true, "after 400 fast adds");
	t0 = now();
	c = fwd_ir_clone(ir);
	tclone = now() - t0;
	t0 = now();
	ck_assert_int_eq(fwd_ir_diff(full, c, &d), 0);
	tdiff = now() - t0;
	ck_assert_uint_eq(d.nadd + d.ndel, 0);
	fwd_ir_delta_free(&d);
	qsort(t, K, sizeof(t[0]), cmp_double);
	qsort(tl, K, sizeof(tl[0]), cmp_double);
	fprintf(stderr, "live add with 100k entries (%zu elements): fast path "
		"median %.1f us (max %.1f us), list add median %.1f us; "
		"full compile %.1f ms (%.0fx); clone %.2f ms, diff %.2f ms\n",
		nelem, t[K / 2] * 1e6, t[K - 1] * 1e6, tl[K / 2] * 1e6,
		tc * 1e3, tc / t[K / 2], tclone * 1e3, tdiff * 1e3);
	{
		/* The same allow edits from an empty allowlist. */
		struct fwd_policy *e0 = pol_new();
		struct fwd_ir *ir0 = compile_ok(e0);
		double t0s[K];

		for (int k = 0; k < K; k++) {
			struct fwd_edit e = p->edits[2 * k];

			pol_edit(e0, &e);
			t0 = now();
			ck_assert_int_eq(fwd_ir_fast_add(ir0, e0,
				&e0->edits[e0->nedits - 1], 1, TEST_NOW, &d), 0);
			t0s[k] = now() - t0;
			fwd_ir_delta_free(&d);
		}
		qsort(t0s, K, sizeof(t0s[0]), cmp_double);
		fprintf(stderr, "live add from 0 entries: fast path median "
			"%.1f us (100k: %.1fx that)\n", t0s[K / 2] * 1e6,
			t[K / 2] / t0s[K / 2]);
		fwd_ir_free(ir0);
		pol_free(e0);
	}
	fwd_ir_free(c);
	fwd_ir_free(full);
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

/*
 * Hash sets past the radix sort's threshold, whose entries the compiler
 * keeps inside the set's own element array while it sorts and writes the
 * elements over them (bucket_in_set): every key once, in key order, with
 * the latest expiry of its duplicates and the first line of those. The
 * list is written in descending order (IPv4 twice), so the sort and the
 * duplicate pass both have work; timed edits tie and differ in expiry.
 */
#define BIG_HOSTS 3000
#define BIG_TIMED 300

START_TEST(normalise_hash_big)
{
	struct fwd_policy *p = pol_new();
	const struct fwd_ir_set *s4, *s6;
	struct fwd_service *s;
	struct fwd_list *l;
	struct fwd_ir *ir;
	char a[64];

	l = pol_list(p, "big");
	for (unsigned copy = 0; copy < 2; copy++) {
		for (unsigned i = BIG_HOSTS; i-- > 0;) {
			unsigned line = 1000 + copy * 10000 + i;

			snprintf(a, sizeof(a), "198.18.%u.%u", i / 256, i % 256);
			list_add(l, A(a), line);
			if (copy)
				continue;
			/* IPv6 once: element k is written right below
			 * entry k + 1, with no duplicate to make room. */
			snprintf(a, sizeof(a), "2001:db8::%x", i);
			list_add(l, A(a), line);
		}
	}
	s = pol_service(p, "ssh", FWD_DIR_IN);
	svc_port(s, IPPROTO_TCP, 22, 22, 20);
	svc_list(s, 0, 21);
	/* 198.19.0.k: (100, 200, 300)[k % 3] at line 50000 + 2k, then 200
	 * at line 50001 + 2k, in descending k. */
	for (unsigned k = BIG_TIMED; k-- > 0;) {
		snprintf(a, sizeof(a), "198.19.%u.%u", k / 256, k % 256);
		ed(p, FWD_EDIT_ALLOW, a, IPPROTO_TCP, 22, 22,
		   NOW_PLUS(100 + (k % 3) * 100), 50000 + 2 * k);
		ed(p, FWD_EDIT_ALLOW, a, IPPROTO_TCP, 22, 22, NOW_PLUS(200),
		   50001 + 2 * k);
	}

	ir = compile_ok(p);
	check_ir(ir);
	s4 = S(ir, "allow4");
	s6 = S(ir, "allow6");
	ck_assert_uint_eq(s4->n, BIG_HOSTS + BIG_TIMED);
	ck_assert_uint_eq(s6->n, BIG_HOSTS);
	for (unsigned i = 0; i < BIG_HOSTS; i++) {
		const struct fwd_ir_elem *e4 = &s4->elems[i], *e6 = &s6->elems[i];
		uint8_t w4[4] = { 198, 18, (uint8_t)(i / 256), (uint8_t)i };
		uint8_t w6[16] = { 0x20, 0x01, 0x0d, 0xb8 };

		w6[14] = (uint8_t)(i >> 8);
		w6[15] = (uint8_t)i;
		ck_assert_msg(!memcmp(e4->lo, w4, 4) && !memcmp(e6->lo, w6, 16),
			      "element %u out of place", i);
		ck_assert_uint_eq(e4->proto, IPPROTO_TCP);
		ck_assert_uint_eq(e4->plo, 22);
		ck_assert_uint_eq(e4->loc.line, 1000 + i);
		ck_assert_uint_eq(e6->loc.line, 1000 + i);
		ck_assert_uint_eq(e4->expires, 0);
		ck_assert_uint_eq(e6->expires, 0);
	}
	for (unsigned k = 0; k < BIG_TIMED; k++) {
		const struct fwd_ir_elem *e = &s4->elems[BIG_HOSTS + k];
		uint8_t w[4] = { 198, 19, (uint8_t)(k / 256), (uint8_t)k };
		/* 100 < 200: the second; 200 = 200: the first; 300 > 200. */
		unsigned line = 50000 + 2 * k + (k % 3 == 0);
		uint64_t exp = NOW_PLUS(k % 3 == 2 ? 300 : 200);

		ck_assert_msg(!memcmp(e->lo, w, 4), "timed %u out of place", k);
		ck_assert_uint_eq(e->loc.line, line);
		ck_assert_uint_eq(e->expires, exp);
	}
	fwd_ir_free(ir);
	pol_free(p);
}
END_TEST

static Suite *compile_suite(void)
{
	Suite *s = suite_create("compile");
	TCase *tc = tcase_create("model");

	/* Explicit: the check default (4 s) is too tight on a busy machine
	 * when the binary runs without meson's CK_DEFAULT_TIMEOUT. */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, normalise_cases);
	tcase_add_test(tc, normalise_join_segments);
	tcase_add_test(tc, chains_shape);
	tcase_add_test(tc, edits_and_explain);
	tcase_add_test(tc, normalise_expiry);
	tcase_add_test(tc, normalise_hash_big);
	tcase_add_test(tc, diff_cases);
	tcase_add_test(tc, diff_random);
	tcase_add_test(tc, fast_add_cases);
	tcase_add_test(tc, fast_add_random);
	tcase_add_test(tc, fast_add_batch_random);
	tcase_add_test(tc, fast_add_batch_dup);
	tcase_add_test(tc, fast_reload_random);
	tcase_add_test(tc, guard_not_fast);
	tcase_add_test(tc, counters_off);
	tcase_add_test(tc, rpfilter_chain);
	tcase_add_test(tc, random_policies);
	suite_add_tcase(s, tc);

	tc = tcase_create("golden");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, golden, 0,
			    (int)(sizeof(goldens) / sizeof(goldens[0])));
	tcase_add_test(tc, golden_edits_live);
	tcase_add_test(tc, queue_option);
	tcase_add_test(tc, guard_queue_step);
	tcase_add_test(tc, restrict_classes);
	suite_add_tcase(s, tc);

	tc = tcase_create("kernel");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, kernel_random_roundtrip);
	tcase_add_loop_test(tc, golden_nft, 0,
			    (int)(sizeof(goldens) / sizeof(goldens[0])));
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, scale_100k);
	tcase_add_test(tc, scale_1m);
	tcase_add_test(tc, scale_fast_add);
	tcase_add_test(tc, scale_timed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(compile_suite());
}
