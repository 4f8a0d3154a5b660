// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwd_ir <-> state file bytes (the codec: pure, fuzzed by
 * tests/fuzz/fuzz-state.c), and the state directory those bytes live in
 * (trust checks and atomic writes).
 */
#include "state.h"

#include "progrule.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Format: "FWDIR\0\0\1" magic, u64 payload length, u64 FNV-1a of the
 * payload, then the payload: every IR field written explicitly in host
 * order (the file never leaves the machine). Locations keep their line
 * numbers only; the file names they pointed to belong to a policy that may
 * be gone. Restricted classes (ir.h, fwd_ir_class), when there are any,
 * follow the chains as a trailing section, so a file without them is what
 * this format was before they existed, and such files still load. The
 * program queue (fwd_ir.prog: its queue expression and its per-owner
 * meter; and fwd_ir.prog_text, the program rules the loop decides by),
 * when on, follows the classes (their count then written even when it
 * is 0), so that a last good policy queues, meters and decides program
 * flows as it did when it was saved.
 * Version 4 writes those trailing sections always, each behind a flag,
 * and adds the guard's queue step (fwd_ir.queue: its queues and its
 * per-source meter) after the program queue: before it, a last good
 * policy with [guard] named meter sets it did not make and fell to the
 * lockdown ruleset. Version 3 files (optional trailing sections, no
 * guard queue) still load.
 * A match kind is written as its number with the same fields as every
 * other, so a new kind (FWD_M_CT_LABEL, the program rules' label accept)
 * needed no new version: files written before it still mean what they
 * meant (their program rules just lack the label rule), and an older fwd
 * refuses a newer file by its unknown kind as it would by its version.
 */
static const char state_magic[8] = { 'F', 'W', 'D', 'I', 'R', 0, 0, 4 };
static const char state_magic_v3[8] = { 'F', 'W', 'D', 'I', 'R', 0, 0, 3 };
#define STATE_HEADER 24	/* magic, length, checksum */

/* ---- encoding ----------------------------------------------------------- */

struct buf {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *v, size_t len)
{
	if (b->cap - b->n < len) {
		size_t cap = b->cap ? b->cap : 4096;

		while (cap - b->n < len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();	/* the project's OOM policy: abort */
		b->cap = cap;
	}
	memcpy(b->p + b->n, v, len);
	b->n += len;
}

static void put32(struct buf *b, uint32_t v) { put(b, &v, sizeof(v)); }
static void put64(struct buf *b, uint64_t v) { put(b, &v, sizeof(v)); }

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The owner sets' elements (outbound.h) also carry their owner id; no
 * other set has one, so files written before them read the same. */
static void put_elem(struct buf *b, const struct fwd_ir_set *s,
		     const struct fwd_ir_elem *e)
{
	put(b, e->lo, 16);
	put(b, e->hi, 16);
	put(b, &e->proto, 1);
	put(b, &e->plo, 2);
	put(b, &e->phi, 2);
	put32(b, e->loc.line);
	put64(b, e->expires);
	if (fwd_ir_key_id_len(s->key))
		put64(b, e->id);
}

static void put_set(struct buf *b, const struct fwd_ir_set *s)
{
	uint8_t fl = (s->interval ? 1 : 0) | (s->timeout ? 2 : 0) |
		     (s->counter ? 4 : 0);

	put(b, s->name, sizeof(s->name));
	put32(b, s->key);
	put(b, &fl, 1);
	put64(b, s->n);
	for (size_t j = 0; j < s->n; j++)
		put_elem(b, s, &s->elems[j]);
}

static void put_rule(struct buf *b, const struct fwd_ir_rule *r)
{
	uint8_t fl = (r->counter ? 1 : 0) | (r->log ? 2 : 0);

	put32(b, r->nm);
	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &r->m[i];

		put32(b, m->kind);
		put32(b, m->u32);
		put32(b, m->u32b);
		put32(b, m->set);
		put(b, m->types, sizeof(m->types));
		put32(b, m->ntypes);
	}
	put(b, &fl, 1);
	put(b, r->log_prefix, sizeof(r->log_prefix));
	put32(b, r->verdict);
	put32(b, r->loc.line);
}

static void put_chain(struct buf *b, const struct fwd_ir_chain *c)
{
	uint8_t pol = c->policy_accept;

	put(b, c->name, sizeof(c->name));
	put32(b, c->hook);
	put32(b, (uint32_t)c->prio);
	put(b, &pol, 1);
	put64(b, c->n);
	for (size_t j = 0; j < c->n; j++)
		put_rule(b, &c->rules[j]);
}

/* The restricted classes: a count, then each class's fields. */
static void put_classes(struct buf *b, const struct fwd_ir *ir)
{
	put64(b, ir->nclasses);
	for (size_t i = 0; i < ir->nclasses; i++) {
		const struct fwd_ir_class *k = &ir->classes[i];
		uint8_t out = k->out;

		put(b, k->name, sizeof(k->name));
		put(b, &out, 1);
		put(b, k->ifname, sizeof(k->ifname));
		put32(b, k->limit_n);
		put32(b, k->limit_w);
		put32(b, k->rate);
		put32(b, k->period_s);
		put32(b, k->burst);
		put32(b, k->set4);
		put32(b, k->set6);
		put32(b, k->loc.line);
	}
}

/* A queue (ir.h, fwd_ir_queue) behind its flag: on, then, when on, its
 * flags, first queue, count and meter. The program queue and the guard's
 * queue step are both written so. */
static void put_queue_at(struct buf *b, const struct fwd_ir_queue *q)
{
	uint8_t fl = (q->native ? 1 : 0) | (q->meter ? 2 : 0) |
		     (q->fanout ? 4 : 0);
	uint8_t on = q->on;

	put(b, &on, 1);
	if (!q->on)
		return;
	put(b, &fl, 1);
	put32(b, q->num);
	put32(b, q->total);
	put32(b, q->rate);
	put32(b, q->period_s);
	put32(b, q->burst);
}

/* The program queue, after the classes, with the program rules' text
 * (ir.h, prog_text; its length, 0 for none) when it is on. */
static void put_prog(struct buf *b, const struct fwd_ir *ir)
{
	put_queue_at(b, &ir->prog);
	if (!ir->prog.on)
		return;
	put32(b, ir->prog_text ? (uint32_t)strlen(ir->prog_text) : 0);
	if (ir->prog_text)
		put(b, ir->prog_text, strlen(ir->prog_text));
}

int fwd_state_encode_ir(const struct fwd_ir *ir, void **out, size_t *len)
{
	struct buf b = { 0 };
	uint64_t plen, sum;

	put(&b, state_magic, sizeof(state_magic));
	put64(&b, 0);	/* length and checksum, filled below */
	put64(&b, 0);
	put64(&b, ir->nsets);
	for (size_t i = 0; i < ir->nsets; i++)
		put_set(&b, &ir->sets[i]);
	put64(&b, ir->nchains);
	for (size_t i = 0; i < ir->nchains; i++)
		put_chain(&b, &ir->chains[i]);
	put_classes(&b, ir);
	put_prog(&b, ir);
	put_queue_at(&b, &ir->queue);
	plen = b.n - STATE_HEADER;
	sum = fnv1a(b.p + STATE_HEADER, plen);
	memcpy(b.p + 8, &plen, 8);
	memcpy(b.p + 16, &sum, 8);
	*out = b.p;
	*len = b.n;
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

/*
 * A decode in progress: the bytes, how far it got, whether a read ran
 * past the end (reads then give zeros: one check at the end of each
 * section instead of one per field), and the first reason it refused.
 */
struct dec {
	const uint8_t *p;
	size_t n, off;
	bool bad;
	char *why;
	size_t whylen;
};

static void get(struct dec *d, void *v, size_t len)
{
	if (d->bad || d->n - d->off < len) {
		d->bad = true;
		memset(v, 0, len);
		return;
	}
	memcpy(v, d->p + d->off, len);
	d->off += len;
}

static uint32_t get32(struct dec *d) { uint32_t v; get(d, &v, sizeof(v)); return v; }
static uint64_t get64(struct dec *d) { uint64_t v; get(d, &v, sizeof(v)); return v; }

/* Say why (the first reason only: later ones follow from it); false. */
__attribute__((format(printf, 2, 3)))
static bool refuse(struct dec *d, const char *fmt, ...)
{
	va_list ap;

	if (*d->why)
		return false;
	va_start(ap, fmt);
	vsnprintf(d->why, d->whylen, fmt, ap);
	va_end(ap);
	return false;
}

/* A section read whole: false (and why) when it ran past the end. */
static bool whole(struct dec *d, const char *what)
{
	return !d->bad || refuse(d, "truncated in %s", what);
}

/* Every count read from the file is checked against what is left of it. */
static bool fits(struct dec *d, uint64_t count, size_t each, const char *what)
{
	if (!d->bad && count <= (d->n - d->off) / each)
		return true;
	return refuse(d, "%s: a count of %llu does not fit the file", what,
		      (unsigned long long)count);
}

#define SET_BYTES (32 + 4 + 1 + 8)
#define ELEM_BYTES (16 + 16 + 1 + 2 + 2 + 4 + 8)
#define CHAIN_BYTES (32 + 4 + 4 + 1 + 8)
#define RULE_BYTES (4 + 1 + 32 + 4 + 4)
#define CLASS_BYTES (24 + 1 + 16 + 8 * 4)

static bool zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A name for a message: what is printable of it (a name that is not
 * fwd's may hold anything). */
static const char *printable(const char *in, char *buf, size_t len)
{
	size_t i = 0;

	for (; in[i] && i + 1 < len; i++)
		buf[i] = in[i] > ' ' && in[i] < 0x7f ? in[i] : '?';
	buf[i] = '\0';
	return buf;
}

/*
 * Element j of s in the form the kernel side writes and reads back (ir.h,
 * fwd_ir_elem and the set invariants): what the key does not have is
 * zero (it would not reach the kernel, and the read-back would not match
 * the IR), an owner id fits its field, a hash set holds single keys, a
 * range does not run backwards, a timeout fits in milliseconds.
 */
static bool elem_ok(struct dec *d, const struct fwd_ir_set *s, size_t j)
{
	const struct fwd_ir_elem *e = &s->elems[j];
	unsigned alen = fwd_ir_key_addr_len(s->key);

	if (!zero(e->lo + alen, 16 - alen) || !zero(e->hi + alen, 16 - alen) ||
	    (!fwd_ir_key_has_port(s->key) && (e->proto || e->plo || e->phi)) ||
	    (fwd_ir_key_id_len(s->key) == 4 && e->id > UINT32_MAX))
		return refuse(d, "set %s element %zu: a field its key does not have",
			      s->name, j);
	if (memcmp(e->lo, e->hi, alen) > 0 || e->plo > e->phi)
		return refuse(d, "set %s element %zu: a range that runs backwards",
			      s->name, j);
	if (!s->interval && (memcmp(e->lo, e->hi, alen) != 0 || e->plo != e->phi))
		return refuse(d, "set %s element %zu: a range in a hash set", s->name, j);
	if (e->expires > UINT64_MAX / 1000)
		return refuse(d, "set %s element %zu: expires at %llu", s->name, j,
			      (unsigned long long)e->expires);
	/* The kernel takes an element timeout only into a set with the
	 * timeout flag (the compiler gives it to every set): the whole
	 * apply would fail. */
	if (e->expires && !s->timeout)
		return refuse(d, "set %s element %zu: a timeout in a set without "
			      "the timeout flag", s->name, j);
	return true;
}

/*
 * Overlaps in an interval set of a concatenated key (ir.h: "no two
 * elements of a set overlap in any way"). The kernel is no referee here:
 * pipapo refuses an element whose start or end falls inside another, so
 * such a file fails the whole apply, and loads one whose ranges cross
 * (192.0.2.0/24 . tcp . 25 beside 192.0.2.128 . tcp . 20-30) without a
 * word; a lookup then finds one of the two (`nft get element` names only
 * the first), whose counter counts the traffic while explain, stats and
 * the live paths' binary searches believe in one element per point.
 *
 * Two elements overlap when their owner id and protocol are the same and
 * both their address and their port ranges meet. The elements are sorted
 * by (id, proto, port range, set order), which groups them by id and
 * protocol, and within a group by port range and then by address (the
 * set order is the address order there). What the compiler makes has
 * port ranges that are the same or apart (it cuts them where they cross):
 * then one pass decides, each port range's addresses apart from the next.
 * A group whose port ranges overlap otherwise gets the general sweep
 * (ov_sweep).
 */
struct ov_key {
	uint32_t idx;		/* element index in the set (fits: see below) */
	uint16_t plo, phi;
	uint8_t proto;
};

static int ov_key_cmp(const void *a, const void *b)
{
	const struct ov_key *x = a, *y = b;

	if (x->proto != y->proto)
		return x->proto < y->proto ? -1 : 1;
	if (x->plo != y->plo)
		return x->plo < y->plo ? -1 : 1;
	if (x->phi != y->phi)
		return x->phi < y->phi ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

struct ov_port {
	uint16_t port;
	size_t rank;		/* address order in the group */
};

static int ov_port_cmp(const void *a, const void *b)
{
	const struct ov_port *x = a, *y = b;

	return x->port < y->port ? -1 : x->port > y->port;
}

static int size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The Fenwick tree t[1..n] of which ranks are held. */
static void fw_add(uint32_t *t, size_t n, size_t i, int v)
{
	for (i++; i <= n; i += i & -i)
		t[i] += (uint32_t)v;
}

static size_t fw_sum(const uint32_t *t, size_t i)	/* ranks below i held */
{
	size_t s = 0;

	for (; i; i -= i & -i)
		s += t[i];
	return s;
}

static size_t fw_kth(const uint32_t *t, size_t n, size_t k)	/* k >= 1 */
{
	size_t pos = 0, step = 1;

	while (step * 2 <= n)
		step *= 2;
	for (; step; step /= 2)
		if (pos + step <= n && t[pos + step] < k) {
			pos += step;
			k -= t[pos];
		}
	return pos;	/* the rank of the k-th held one */
}

/*
 * The general case for one group of g elements (keys, in port order): a
 * sweep over the ports keeps the elements whose port range holds the
 * current port. Those must be apart in address, so ordered by address
 * (their rank) a new one need only be compared with its neighbours among
 * them, found in a Fenwick tree over the ranks. O(g log g). false and
 * the two that overlap in *a, *b.
 */
static bool ov_sweep(const struct fwd_ir_set *s, const struct ov_key *keys,
		     size_t g, size_t *a, size_t *b)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	size_t *byaddr = calloc(g, sizeof(*byaddr)), *rank = calloc(g, sizeof(*rank));
	struct ov_port *hi = calloc(g, sizeof(*hi));
	uint32_t *t = calloc(g + 1, sizeof(*t));
	size_t out = 0, held = 0;
	bool ok = true;

	if (!byaddr || !rank || !hi || !t)
		abort();	/* the project's OOM policy: abort */
	for (size_t i = 0; i < g; i++)
		byaddr[i] = keys[i].idx;
	qsort(byaddr, g, sizeof(*byaddr), size_cmp);
	/* rank[i]: key i's place in address order (bsearch by index). */
	for (size_t i = 0; i < g; i++) {
		size_t idx = keys[i].idx;

		rank[i] = (size_t)((size_t *)bsearch(&idx, byaddr, g, sizeof(*byaddr),
						      size_cmp) - byaddr);
	}
	for (size_t i = 0; i < g; i++)
		hi[i] = (struct ov_port){ keys[i].phi, rank[i] };
	qsort(hi, g, sizeof(*hi), ov_port_cmp);
	for (size_t i = 0; ok && i < g; i++) {
		const struct fwd_ir_elem *e = &s->elems[keys[i].idx];
		size_t r = rank[i], below;

		for (; hi[out].port < keys[i].plo; out++, held--)
			fw_add(t, g, hi[out].rank, -1);
		below = fw_sum(t, r);
		if (below) {
			size_t p = byaddr[fw_kth(t, g, below)];

			if (memcmp(s->elems[p].hi, e->lo, alen) >= 0) {
				*a = p;
				*b = keys[i].idx;
				ok = false;
			}
		}
		if (ok && below < held) {
			size_t q = byaddr[fw_kth(t, g, below + 1)];

			if (memcmp(s->elems[q].lo, e->hi, alen) <= 0) {
				*a = keys[i].idx;
				*b = q;
				ok = false;
			}
		}
		fw_add(t, g, r, 1);
		held++;
	}
	free(byaddr);
	free(rank);
	free(hi);
	free(t);
	return ok;
}

/* One group (keys[0..g), one id and protocol, in port order): the pass
 * for port ranges that are the same or apart, else the sweep. */
static bool ov_group(const struct fwd_ir_set *s, const struct ov_key *keys,
		     size_t g, size_t *a, size_t *b)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	uint32_t reach = keys[0].phi;	/* the highest port seen so far */

	for (size_t i = 1; i < g; i++) {
		const struct ov_key *x = &keys[i - 1], *y = &keys[i];

		if (x->plo == y->plo && x->phi == y->phi) {
			/* The same ports: the addresses, in order, apart. */
			if (memcmp(s->elems[x->idx].hi, s->elems[y->idx].lo, alen) >= 0) {
				*a = x->idx;
				*b = y->idx;
				return false;
			}
			continue;
		}
		if (y->plo <= reach)
			return ov_sweep(s, keys, g, a, b);
		reach = y->phi;
	}
	return true;
}

/* Byte `b` of the sort key below the id: proto, plo, phi (b 0: phi's
 * low byte). */
static unsigned ov_byte(const struct ov_key *k, unsigned b)
{
	switch (b) {
	case 0: return k->phi & 0xff;
	case 1: return k->phi >> 8;
	case 2: return k->plo & 0xff;
	case 3: return k->plo >> 8;
	}
	return k->proto;
}

/*
 * The keys of one owner id (made in the set order, so by index) into
 * ov_key_cmp's order: a stable radix sort by phi, plo and proto, a byte
 * at a time, keeps the index order among equals. Five passes instead of
 * a comparison sort (the check's own cost is mostly this sort, and the
 * page faults of its two arrays: hence 12-byte keys). The result is in
 * keys; tmp has room for n.
 */
static void ov_sort(struct ov_key *keys, struct ov_key *tmp, size_t n)
{
	struct ov_key *from = keys, *to = tmp, *x;

	if (n < 256) {
		qsort(keys, n, sizeof(*keys), ov_key_cmp);
		return;
	}
	for (unsigned b = 0; b < 5; b++) {
		size_t at[257] = { 0 };

		for (size_t i = 0; i < n; i++)
			at[ov_byte(&from[i], b) + 1]++;
		for (unsigned v = 1; v <= 256; v++)
			at[v] += at[v - 1];
		for (size_t i = 0; i < n; i++)
			to[at[ov_byte(&from[i], b)]++] = from[i];
		x = from;
		from = to;
		to = x;
	}
	/* An odd number of passes ends in tmp. */
	memcpy(keys, from, n * sizeof(*keys));
}

static bool no_crossing(struct dec *d, const struct fwd_ir_set *s)
{
	struct ov_key *keys, *tmp;
	size_t a = 0, b = 0;
	bool ok = true;

	if (!s->interval || !fwd_ir_key_has_port(s->key) || s->n < 2)
		return true;
#ifdef FWD_STATE_BENCH_NO_OVERLAP
	/* bench/statedec.sh's baseline: the decoder without this check. */
	return true;
#endif
	/* A file of at most 4 GiB (read_state) holds far fewer. */
	if (s->n > UINT32_MAX)
		return refuse(d, "set %s: %zu elements", s->name, s->n);
	keys = malloc(s->n * sizeof(*keys));
	tmp = malloc(s->n * sizeof(*tmp));
	if (!keys || !tmp)
		abort();	/* the project's OOM policy: abort */
	/* The set order is by owner id first: each id's run in turn. */
	for (size_t r0 = 0, r1; ok && r0 < s->n; r0 = r1) {
		size_t m = 0;

		for (r1 = r0; r1 < s->n && s->elems[r1].id == s->elems[r0].id; r1++)
			keys[m++] = (struct ov_key){ .idx = (uint32_t)r1,
						     .plo = s->elems[r1].plo,
						     .phi = s->elems[r1].phi,
						     .proto = s->elems[r1].proto };
		ov_sort(keys, tmp, m);
		for (size_t g0 = 0, g1; ok && g0 < m; g0 = g1) {
			for (g1 = g0 + 1; g1 < m && keys[g1].proto == keys[g0].proto; g1++)
				;
			ok = ov_group(s, keys + g0, g1 - g0, &a, &b);
		}
	}
	free(keys);
	free(tmp);
	if (!ok)
		return refuse(d, "set %s elements %zu and %zu overlap", s->name,
			      a < b ? a : b, a < b ? b : a);
	return true;
}

/*
 * The elements of s, each in the kernel's form and all in the set order
 * (ir.h): strictly increasing, so no key twice (the kernel refuses it;
 * the delta and explain's binary search rely on the order), in a
 * one-field interval set (an rbtree in the kernel) no range reaching into
 * the next, and in a concatenated one no two that meet (no_crossing).
 */
static bool elems_ok(struct dec *d, const struct fwd_ir_set *s)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);

	for (size_t j = 0; j < s->n; j++) {
		const struct fwd_ir_elem *e = &s->elems[j];

		if (!elem_ok(d, s, j))
			return false;
		if (j && fwd_ir_elem_cmp(&s->elems[j - 1], e) >= 0)
			return refuse(d, "set %s element %zu: out of order or "
				      "a key twice", s->name, j);
		if (j && s->interval && !fwd_ir_key_has_port(s->key) &&
		    memcmp(s->elems[j - 1].hi, e->lo, alen) >= 0)
			return refuse(d, "set %s element %zu: overlaps the one "
				      "before", s->name, j);
	}
	return no_crossing(d, s);
}

/*
 * A name as fwd makes them (sets "allow4_net", "cls0_4"; chains): a-z,
 * 0-9 and _, and its NUL within its field (the old decoder cut a longer
 * one short into another name; the renderer prints it as it is, so a
 * blank or a brace would make another nft text). What follows the NUL
 * is nobody's name (names are strings everywhere), and empty is left to
 * the caller.
 */
static bool word_ok(const uint8_t *raw, size_t len)
{
	const uint8_t *nul = memchr(raw, 0, len);

	if (!nul)
		return false;
	for (const uint8_t *c = raw; c < nul; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

static bool get_set(struct dec *d, struct fwd_ir_set *s, size_t i)
{
	uint8_t raw[sizeof(s->name)], fl;
	char pr[sizeof(s->name) + 1];
	uint64_t n;

	get(d, raw, sizeof(raw));
	memcpy(s->name, raw, sizeof(s->name));
	s->name[sizeof(s->name) - 1] = '\0';
	s->key = get32(d);
	get(d, &fl, 1);
	s->interval = fl & 1;
	s->timeout = fl & 2;
	s->counter = fl & 4;
	n = get64(d);
	if (!whole(d, "the sets"))
		return false;
	if (!word_ok(raw, sizeof(raw)))
		return refuse(d, "set %zu: name \"%s\" (fwd's are a-z, 0-9 and _)", i,
			      printable(s->name, pr, sizeof(pr)));
	if (fl > 7)
		return refuse(d, "set %s: flags %#x", s->name, fl);
	/* A key the kernel side has no layout for: no key bytes at all,
	 * and a set the read-back never recognises. */
	if (s->key > FWD_KEY_CG_ADDR6_PROTO_PORT)
		return refuse(d, "set %s: key type %u unknown", s->name,
			      (unsigned)s->key);
	if (!fits(d, n, ELEM_BYTES, "a set's elements"))
		return false;
	s->elems = calloc(n ? n : 1, sizeof(*s->elems));
	if (!s->elems)
		abort();
	s->n = s->cap = n;
	for (size_t j = 0; j < s->n; j++) {
		struct fwd_ir_elem *e = &s->elems[j];

		get(d, e->lo, 16);
		get(d, e->hi, 16);
		get(d, &e->proto, 1);
		get(d, &e->plo, 2);
		get(d, &e->phi, 2);
		e->loc.line = get32(d);
		e->expires = get64(d);
		if (fwd_ir_key_id_len(s->key))
			e->id = get64(d);
	}
	return whole(d, "a set's elements") && elems_ok(d, s);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every set has a name of its own: the kernel and the read-back know
 * sets by name (a second of one name is EEXIST, and fwd_ir_set_find
 * and the delta would only ever see the first). */
static bool names_ok(struct dec *d, const struct fwd_ir *ir)
{
	const char **names;
	bool ok = true;

	if (!ir->nsets)
		return true;
	names = calloc(ir->nsets, sizeof(*names));
	if (!names)
		abort();
	for (size_t i = 0; i < ir->nsets; i++)
		names[i] = ir->sets[i].name;
	qsort(names, ir->nsets, sizeof(*names), name_cmp);
	if (!names[0][0])
		ok = refuse(d, "a set without a name");
	for (size_t i = 1; ok && i < ir->nsets; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			ok = refuse(d, "two sets called %s", names[i]);
	free(names);
	return ok;
}

static bool get_sets(struct dec *d, struct fwd_ir *ir)
{
	uint64_t n = get64(d);

	if (!fits(d, n, SET_BYTES, "the sets"))
		return false;
	ir->sets = calloc(n ? n : 1, sizeof(*ir->sets));
	if (!ir->sets)
		abort();
	ir->nsets = n;
	for (size_t i = 0; i < ir->nsets; i++)
		if (!get_set(d, &ir->sets[i], i))
			return false;
	/* The fixed sets (ir.h, fwd_ir_set_id) are in every table fwd
	 * makes, so index 0 is always a set. */
	if (ir->nsets < FWD_SET_COUNT)
		return refuse(d, "%zu sets, fewer than fwd always makes", ir->nsets);
	return names_ok(d, ir);
}

/* An ICMP match's types as ir.h has them: at least one, sorted, none
 * twice (they become an anonymous set: a type twice is EEXIST, none at
 * all a set nft could not even print). */
static bool types_ok(const struct fwd_ir_match *m)
{
	if (m->ntypes < 1)
		return false;
	for (unsigned t = 1; t < m->ntypes; t++)
		if (m->types[t - 1] >= m->types[t])
			return false;
	return true;
}

/* The reverse-path check's fib keys as fwd makes them (ir.h,
 * FWD_M_RPF_MISSING): saddr, with mark and perhaps iif, nothing else
 * (the renderer refuses any other, the kernel reads them as asked). */
static bool rpf_flags_ok(uint32_t f)
{
	return (f & NFTA_FIB_F_SADDR) &&
	       !(f & ~(uint32_t)(NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK | NFTA_FIB_F_IIF));
}

/* A log prefix: printable, no quote or backslash (the renderer prints
 * it between quotes), its NUL within its 32 bytes (the old decoder cut
 * a longer one short). */
static bool prefix_ok(const uint8_t *raw, size_t len)
{
	const uint8_t *nul = memchr(raw, 0, len);

	if (!nul)
		return false;
	for (const uint8_t *c = raw; c < nul; c++)
		if (*c < ' ' || *c >= 0x7f || *c == '"' || *c == '\\')
			return false;
	return true;
}

static bool get_rule(struct dec *d, const struct fwd_ir *ir,
		     const struct fwd_ir_chain *c, struct fwd_ir_rule *r, size_t j)
{
	uint8_t fl, prefix[sizeof(r->log_prefix)];

	r->nm = get32(d);
	if (r->nm > FWD_IR_MAX_MATCH)
		return refuse(d, "chain %s rule %zu: %u matches (at most %d)",
			      c->name, j, r->nm, FWD_IR_MAX_MATCH);
	for (unsigned k = 0; k < r->nm; k++) {
		struct fwd_ir_match *m = &r->m[k];

		m->kind = get32(d);
		m->u32 = get32(d);
		m->u32b = get32(d);
		m->set = get32(d);
		get(d, m->types, sizeof(m->types));
		m->ntypes = get32(d);
		if (m->set >= ir->nsets && (m->kind == FWD_M_LOOKUP_SRC ||
					   m->kind == FWD_M_LOOKUP_DST))
			return refuse(d, "chain %s rule %zu: a lookup into set %u "
				      "of %zu", c->name, j, m->set, ir->nsets);
		if (m->ntypes > sizeof(m->types))
			return refuse(d, "chain %s rule %zu: %u ICMP types", c->name,
				      j, m->ntypes);
		/* A set index only where the kind has one (0 elsewhere, as
		 * the compiler leaves it): the daemon's explain --program
		 * reads the set of a program queue rule's second match
		 * without asking its kind. */
		if (m->set && m->kind != FWD_M_LOOKUP_SRC &&
		    m->kind != FWD_M_LOOKUP_DST && m->kind != FWD_M_CLASS_METER)
			return refuse(d, "chain %s rule %zu: a set index on a match "
				      "without one", c->name, j);
		/* Linearize has no default case: a match it does not know
		 * would be left out, the rule matching more than it says
		 * (an unknown match + accept would accept everything). */
		if (m->kind > FWD_M_LAST)
			return refuse(d, "chain %s rule %zu: match kind %u unknown",
				      c->name, j, (unsigned)m->kind);
		/* Only fwd's own label bit: another would be past the 16
		 * bytes linearize masks (bit > 127), or accept flows some
		 * other tool labelled, which fwd never decided. */
		if (m->kind == FWD_M_CT_LABEL && m->u32 != FWD_CT_LABEL_BIT)
			return refuse(d, "chain %s rule %zu: ct label %u is not "
				      "the one fwd owns (%u)", c->name, j, m->u32,
				      FWD_CT_LABEL_BIT);
		if ((m->kind == FWD_M_ICMP_TYPES || m->kind == FWD_M_ICMPV6_TYPES) &&
		    !types_ok(m))
			return refuse(d, "chain %s rule %zu: ICMP types none, "
				      "repeated or out of order", c->name, j);
		if (m->kind == FWD_M_RPF_MISSING && !rpf_flags_ok(m->u32))
			return refuse(d, "chain %s rule %zu: fib flags %#x", c->name,
				      j, m->u32);
		/* A meter is per family: linearize and the renderer read
		 * anything but IPv6 as IPv4, the file saying otherwise. */
		if ((m->kind == FWD_M_METER || m->kind == FWD_M_CLASS_METER) &&
		    m->u32 != NFPROTO_IPV4 && m->u32 != NFPROTO_IPV6)
			return refuse(d, "chain %s rule %zu: a meter for family %u",
				      c->name, j, m->u32);
		/* `limit rate 0/second` is no limit nft can say (the
		 * compiler's log limit is 10/second burst 20). */
		if (m->kind == FWD_M_LIMIT && (!m->u32 || !m->u32b))
			return refuse(d, "chain %s rule %zu: limit %u/second burst %u",
				      c->name, j, m->u32, m->u32b);
	}
	get(d, &fl, 1);
	r->counter = fl & 1;
	r->log = fl & 2;
	get(d, prefix, sizeof(prefix));
	memcpy(r->log_prefix, prefix, sizeof(r->log_prefix));
	r->log_prefix[sizeof(r->log_prefix) - 1] = '\0';
	r->verdict = get32(d);
	r->loc.line = get32(d);
	if (!whole(d, "the rules"))
		return false;
	if (fl > 3)
		return refuse(d, "chain %s rule %zu: flags %#x", c->name, j, fl);
	if (!prefix_ok(prefix, sizeof(prefix)))
		return refuse(d, "chain %s rule %zu: a log prefix fwd does not make",
			      c->name, j);
	/* The same for a verdict: none at all, the packet going on. */
	if (r->verdict > FWD_V_QUEUE_PROG)
		return refuse(d, "chain %s rule %zu: verdict %u unknown", c->name, j,
			      (unsigned)r->verdict);
	return true;
}

static bool get_chain(struct dec *d, struct fwd_ir *ir, struct fwd_ir_chain *c)
{
	uint8_t raw[sizeof(c->name)], pol;
	uint64_t n;

	get(d, raw, sizeof(raw));
	memcpy(c->name, raw, sizeof(c->name));
	c->name[sizeof(c->name) - 1] = '\0';
	c->hook = get32(d);
	c->prio = (int)get32(d);
	get(d, &pol, 1);
	c->policy_accept = pol;
	n = get64(d);
	if (!whole(d, "the chains"))
		return false;
	/* The name is checked with the chains' shape (get_chains); here
	 * only that it is all of its field. */
	if (!word_ok(raw, sizeof(raw)))
		return refuse(d, "not the input and output chains fwd makes");
	if (pol > 1)
		return refuse(d, "chain %s: policy %u", c->name, pol);
	if (!fits(d, n, RULE_BYTES, "a chain's rules"))
		return false;
	c->rules = calloc(n ? n : 1, sizeof(*c->rules));
	if (!c->rules)
		abort();
	c->n = c->cap = n;
	for (size_t j = 0; j < c->n; j++)
		if (!get_rule(d, ir, c, &c->rules[j], j))
			return false;
	return true;
}

static bool get_chains(struct dec *d, struct fwd_ir *ir)
{
	uint64_t n = get64(d);

	if (!fits(d, n, CHAIN_BYTES, "the chains"))
		return false;
	ir->chains = calloc(n ? n : 1, sizeof(*ir->chains));
	if (!ir->chains)
		abort();
	ir->nchains = n;
	for (size_t i = 0; i < ir->nchains; i++)
		if (!get_chain(d, ir, &ir->chains[i]))
			return false;
	/* The fixed shape (ir.h, fwd_ir_chain_id): the daemon looks its
	 * chains up by index (explain, the lockout guard), the kernel side
	 * names their parts after them (in4, out6). */
	if (ir->nchains != FWD_CHAIN_COUNT ||
	    strcmp(ir->chains[FWD_CHAIN_INPUT].name, "input") != 0 ||
	    ir->chains[FWD_CHAIN_INPUT].hook != NF_INET_LOCAL_IN ||
	    strcmp(ir->chains[FWD_CHAIN_OUTPUT].name, "output") != 0 ||
	    ir->chains[FWD_CHAIN_OUTPUT].hook != NF_INET_LOCAL_OUT)
		return refuse(d, "not the input and output chains fwd makes");
	/* ... at the priority fwd gives them (filter): the renderer
	 * negates a negative one, which INT_MIN does not survive. */
	for (size_t i = 0; i < ir->nchains; i++)
		if (ir->chains[i].prio != 0)
			return refuse(d, "chain %s at priority %d, not filter (0)",
				      ir->chains[i].name, ir->chains[i].prio);
	return true;
}

/* A period nft has a unit for (ir.h, fwd_ir_queue.period_s): the
 * renderer prints another as "?", and the kernel would take it as
 * seconds that no policy said. */
static bool period_ok(uint32_t s)
{
	return s == 1 || s == 60 || s == 3600 || s == 86400 || s == 604800;
}

/*
 * Class i's name, as the compiler gives it: "cls<i>", NUL-padded. The
 * kernel knows its meter sets by it ("cls0_m4"), stats and explain find
 * a class by it, and a second class of one name would send two classes'
 * limits into one meter set, or fail the apply with EEXIST.
 */
static bool class_name_ok(struct dec *d, const uint8_t raw[24], size_t i)
{
	char want[24] = { 0 }, got[25], pr[25];
	unsigned long long j;
	int end = 0;

	snprintf(want, sizeof(want), "cls%zu", i);
	if (memcmp(raw, want, sizeof(want)) == 0)
		return true;
	memcpy(got, raw, 24);
	got[24] = '\0';
	/* An earlier class's name again: say so (a later one's is
	 * refused at that class). */
	if (got[3] >= '0' && got[3] <= '9' &&
	    sscanf(got, "cls%llu%n", &j, &end) == 1 && got[end] == '\0' && j < i &&
	    memchr(raw, 0, 24) && zero(raw + strlen(got), 24 - strlen(got)))
		return refuse(d, "two classes called %s", got);
	return refuse(d, "class %zu is called %s, not cls%zu", i,
		      printable(got, pr, sizeof(pr)), i);
}

/* Its interface: "" or a name fwd_ifname_check takes, NUL-padded to 16
 * bytes. Linearize compares all 16 bytes with the kernel's name, so a
 * byte after the NUL would make a rule that never matches, and a name
 * without a NUL was cut short by the old decoder into another name. */
static bool class_ifname_ok(struct dec *d, const uint8_t raw[16], size_t i)
{
	const uint8_t *nul = memchr(raw, 0, 16);
	const char *why;
	char pr[17];

	if (!nul)
		return refuse(d, "class %zu: an interface name of 16 bytes "
			      "without its end", i);
	if (!zero(nul, (size_t)(raw + 16 - nul)))
		return refuse(d, "class %zu: bytes after its interface name", i);
	if (nul == raw)
		return true;
	why = fwd_ifname_check((const char *)raw, (size_t)(nul - raw));
	if (why)
		return refuse(d, "class %zu: interface \"%s\": %s", i,
			      printable((const char *)raw, pr, sizeof(pr)), why);
	return true;
}

/* Its limit: none (all zero), or the policy's N / WINDOW in range and
 * the kernel's rate, period and burst the compiler makes of them: show
 * and explain print the words, the kernel enforces the rate. */
static bool class_limit_ok(struct dec *d, const struct fwd_ir_class *k, size_t i)
{
	uint32_t rate, period_s, burst;

	if (!k->limit_n) {
		if (k->limit_w || k->rate || k->period_s || k->burst)
			return refuse(d, "class %zu: a rate without a limit", i);
		if (!k->ifname[0])
			return refuse(d, "class %zu: neither an interface nor a limit", i);
		return true;
	}
	if (!k->rate || !k->period_s)
		return refuse(d, "class %zu: a limit without a rate", i);
	if (k->limit_n > FWD_LIMIT_N_MAX || !k->limit_w || k->limit_w > FWD_LIMIT_W_MAX)
		return refuse(d, "class %zu: limit %u/%us (N is 1-%u, WINDOW 1-%us)",
			      i, k->limit_n, k->limit_w, FWD_LIMIT_N_MAX, FWD_LIMIT_W_MAX);
	if (!period_ok(k->period_s))
		return refuse(d, "class %zu: a limit period of %u s (nft has second, "
			      "minute, hour, day and week)", i, k->period_s);
	fwd_ir_limit_rate(k->limit_n, k->limit_w, &rate, &period_s, &burst);
	if (k->rate != rate || k->period_s != period_s || k->burst != burst)
		return refuse(d, "class %zu: rate %u per %u s burst %u, but limit "
			      "%u/%us is %u per %u s burst %u", i, k->rate,
			      k->period_s, k->burst, k->limit_n, k->limit_w, rate,
			      period_s, burst);
	return true;
}

/* Its sets: the pair the compiler adds for it, "<name>_4" and
 * "<name>_6", interval sets of the class's address . proto . port keys
 * (stats and explain name a class by its sets). */
static bool class_sets_ok(struct dec *d, const struct fwd_ir *ir,
			  const struct fwd_ir_class *k, size_t i)
{
	char n4[32], n6[32];

	if (k->set4 >= ir->nsets || k->set6 >= ir->nsets)
		return refuse(d, "class %zu names a set it does not have", i);
	snprintf(n4, sizeof(n4), "%s_4", k->name);
	snprintf(n6, sizeof(n6), "%s_6", k->name);
	if (strcmp(ir->sets[k->set4].name, n4) != 0 ||
	    strcmp(ir->sets[k->set6].name, n6) != 0 ||
	    ir->sets[k->set4].key != FWD_KEY_ADDR4_PROTO_PORT ||
	    ir->sets[k->set6].key != FWD_KEY_ADDR6_PROTO_PORT ||
	    !ir->sets[k->set4].interval || !ir->sets[k->set6].interval)
		return refuse(d, "class %zu: its sets are not %s and %s", i, n4, n6);
	return true;
}

/* The classes, if the file has them; false when they are not what the
 * compiler makes (class_*_ok above). */
static bool get_classes(struct dec *d, struct fwd_ir *ir)
{
	uint64_t n;

	if (d->off == d->n)
		return true;
	n = get64(d);
	if (n == 0)
		return whole(d, "the classes");	/* none, but the program queue follows */
	if (!fits(d, n, CLASS_BYTES, "the classes"))
		return false;
	ir->classes = calloc(n, sizeof(*ir->classes));
	if (!ir->classes)
		abort();
	ir->nclasses = n;
	for (size_t i = 0; i < n; i++) {
		struct fwd_ir_class *k = &ir->classes[i];
		uint8_t out, name[24], ifname[16];

		get(d, name, sizeof(name));
		get(d, &out, 1);
		get(d, ifname, sizeof(ifname));
		memcpy(k->name, name, sizeof(k->name));
		k->name[sizeof(k->name) - 1] = '\0';
		k->out = out;
		memcpy(k->ifname, ifname, sizeof(k->ifname));
		k->ifname[sizeof(k->ifname) - 1] = '\0';
		k->limit_n = get32(d);
		k->limit_w = get32(d);
		k->rate = get32(d);
		k->period_s = get32(d);
		k->burst = get32(d);
		k->set4 = get32(d);
		k->set6 = get32(d);
		k->loc.line = get32(d);
		if (!whole(d, "the classes"))
			return false;
		if (!class_name_ok(d, name, i))
			return false;
		if (out > 1)
			return refuse(d, "class %zu: direction %u", i, out);
		if (!class_ifname_ok(d, ifname, i) || !class_sets_ok(d, ir, k, i) ||
		    !class_limit_ok(d, k, i))
			return false;
	}
	return true;
}

/* What put_queue_at writes after the on byte: flags, first queue, count
 * (whole, for the caller's bounds check) and meter. Returns the flags. */
static uint8_t get_queue_body(struct dec *d, struct fwd_ir_queue *q,
			      uint32_t *num, uint32_t *total)
{
	uint8_t fl = 0;

	get(d, &fl, 1);
	*q = (struct fwd_ir_queue){ .on = true, .native = fl & 1,
				    .meter = (fl & 2) != 0, .fanout = (fl & 4) != 0 };
	*num = get32(d);
	*total = get32(d);
	q->rate = get32(d);
	q->period_s = get32(d);
	q->burst = get32(d);
	return fl;
}

/*
 * The sets in the places the compiler puts them (ir.h): the fixed ones
 * by index (stats tells a block from a deny by index, the live paths
 * find allow4 by index), two per class right after them (class_sets_ok
 * has their names), then none, the four owner sets, or six with the
 * program's. A file with sets shuffled, renamed or re-keyed would have
 * fwd count, explain and edit one set as another.
 */
static bool sets_placed_ok(struct dec *d, const struct fwd_ir *ir)
{
	size_t owners = FWD_SET_COUNT + 2 * ir->nclasses;
	size_t extra = ir->nsets - owners;
	enum fwd_ir_key key;
	bool interval;
	const char *name;

	for (unsigned i = 0; i < FWD_SET_COUNT; i++) {
		name = fwd_ir_fixed_set(i, &key, &interval);
		if (strcmp(ir->sets[i].name, name) != 0 || ir->sets[i].key != key ||
		    ir->sets[i].interval != interval)
			return refuse(d, "set %u is not the %s fwd makes there", i, name);
	}
	for (size_t k = 0; k < ir->nclasses; k++)
		if (ir->classes[k].set4 != FWD_SET_COUNT + 2 * k ||
		    ir->classes[k].set6 != FWD_SET_COUNT + 2 * k + 1)
			return refuse(d, "class %zu: its sets are not at %zu and %zu", k,
				      FWD_SET_COUNT + 2 * k, FWD_SET_COUNT + 2 * k + 1);
	if (ir->nsets < owners || (extra != 0 && extra != 4 && extra != 6))
		return refuse(d, "%zu sets after the fixed ones and the classes' "
			      "(fwd makes 0, 4 or 6 owner sets)", ir->nsets < owners ?
			      0 : extra);
	for (size_t i = 0; i < extra; i++) {
		const struct fwd_ir_set *s = &ir->sets[owners + i];

		name = fwd_ir_owner_set(FWD_SET_COUNT + (unsigned)i, &key);
		if (strcmp(s->name, name) != 0 || s->key != key || !s->interval)
			return refuse(d, "set %zu is not the %s fwd makes there",
				      owners + i, name);
	}
	return true;
}

/* A queue's meter as the compiler makes it: a period nft has a unit for
 * (the renderer prints another as "?"), and no rate without a meter. */
static bool meter_ok(struct dec *d, const struct fwd_ir_queue *q, const char *what)
{
	if (q->meter && !period_ok(q->period_s))
		return refuse(d, "%s: a meter period of %u s (nft has second, minute, "
			      "hour, day and week)", what, q->period_s);
	if (!q->meter && (q->rate || q->period_s || q->burst))
		return refuse(d, "%s: a rate without a meter", what);
	return true;
}

/*
 * The program rules' text as fwd_progrules_text writes it: the verdict
 * loop builds its rules from it (vloop.c) and refuses text it cannot
 * read whole, then drops every program flow; a program queue without
 * any text (which the compiler never makes: a program queue comes with
 * the rules that asked for it) decides nothing either. Paths are not
 * looked up here (the decoder is pure): a program gone is the loop's
 * business.
 */
static bool prog_text_ok(struct dec *d, const struct fwd_ir *ir, bool v4)
{
	struct fwd_progrules *rs = NULL;
	unsigned bad = 0;

	if (!ir->prog_text)
		return !v4 || refuse(d, "the program queue without its rules");
	if (fwd_progrules_from_text(ir->prog_text, NULL, NULL, &rs, &bad) != 0)
		return refuse(d, "the program rules: line %u is not one fwd writes", bad);
	fwd_progrules_free(rs);
	return true;
}

/* The program queue, if the file has it; false when it is not the one
 * fwd makes (FWD_PROG_QUEUE, one queue or up to FWD_PROG_QUEUES_MAX by
 * CPU (flag 4), a meter with a rate). */
static bool get_prog(struct dec *d, struct fwd_ir *ir, bool v4)
{
	struct fwd_ir_queue *q = &ir->prog;
	uint32_t n, num, total;
	uint8_t fl, on = 1;

	if (!v4 && d->off == d->n)
		return true;
	if (v4) {
		get(d, &on, 1);
		if (!whole(d, "the program queue"))
			return false;
		if (on > 1)
			return refuse(d, "the program queue's flag is %u", on);
		if (!on)
			return true;
	}
	fl = get_queue_body(d, q, &num, &total);
	q->num = (uint16_t)num;
	q->total = (uint16_t)total;
	n = get32(d);
	if (!whole(d, "the program queue"))
		return false;
	if (n) {
		if (!fits(d, n, 1, "the program rules"))
			return false;
		ir->prog_text = calloc(1, (size_t)n + 1);
		if (!ir->prog_text)
			abort();
		get(d, ir->prog_text, n);
		if (strlen(ir->prog_text) != n)
			return refuse(d, "the program rules hold a NUL byte");
	}
	if (num != FWD_PROG_QUEUE || fl > 7 ||
	    (q->fanout ? total < 2 || total > FWD_PROG_QUEUES_MAX : total != 1) ||
	    (q->meter && (!q->rate || !q->period_s)))
		return refuse(d, "not the program queue fwd makes");
	return meter_ok(d, q, "the program queue") && prog_text_ok(d, ir, v4);
}

/* The guard's queue step (version 4); false when it is not one fwd
 * makes: 1-16 queues ([defaults] queues) below the program queue (the
 * loop tells a program decision by the queue it arrives on, so a guard
 * queue of 16 or more would have inbound packets decided as outbound
 * program flows), balanced by flow hash (cpu fanout is the program
 * queue's), a meter with a rate. */
static bool get_queue(struct dec *d, struct fwd_ir *ir)
{
	struct fwd_ir_queue *q = &ir->queue;
	uint32_t num, total;
	uint8_t on;

	get(d, &on, 1);
	if (!whole(d, "the guard's queue step"))
		return false;
	if (on > 1)
		return refuse(d, "the guard's queue step's flag is %u", on);
	if (!on)
		return true;
	if (get_queue_body(d, q, &num, &total) > 7)
		return refuse(d, "the guard's queue step has flags fwd does not know");
	q->num = (uint16_t)num;
	q->total = (uint16_t)total;
	if (!whole(d, "the guard's queue step"))
		return false;
	if (total < 1 || total > 16 || num >= 65536 || num + total > 65536 ||
	    (q->meter && (!q->rate || !q->period_s)))
		return refuse(d, "not a queue step fwd makes");
	if (num + total > FWD_PROG_QUEUE)
		return refuse(d, "the guard's queue step: queues %u-%u reach the "
			      "program queue's (%u-%u)", num, num + total - 1,
			      FWD_PROG_QUEUE, FWD_PROG_QUEUE + FWD_PROG_QUEUES_MAX - 1);
	if (q->fanout)
		return refuse(d, "the guard's queue step: by CPU (only the program "
			      "queue is)");
	return meter_ok(d, q, "the guard's queue step");
}

/* A queue verdict goes to the guard's queue step, which the file must
 * have: without it linearize would queue to "queue 0 of 0" and the
 * renderer refuses the IR. */
static bool queue_verdicts_ok(struct dec *d, const struct fwd_ir *ir)
{
	for (size_t i = 0; i < ir->nchains; i++)
		for (size_t j = 0; j < ir->chains[i].n; j++)
			if (ir->chains[i].rules[j].verdict == FWD_V_QUEUE && !ir->queue.on)
				return refuse(d, "chain %s rule %zu: a queue verdict "
					      "without a queue step", ir->chains[i].name, j);
	return true;
}

/* Every rule's reference to a class or a meter names one there is; an
 * interface match is the input chain's iifname of an inbound class or
 * the output chain's oifname of an outbound one, as the compiler puts
 * them. */
static bool classes_referenced_ok(struct dec *d, const struct fwd_ir *ir)
{
	for (size_t i = 0; i < ir->nchains; i++)
		for (size_t j = 0; j < ir->chains[i].n; j++)
			for (unsigned k = 0; k < ir->chains[i].rules[j].nm; k++) {
				const struct fwd_ir_match *m = &ir->chains[i].rules[j].m[k];
				bool out = i == FWD_CHAIN_OUTPUT;

				if (((m->kind == FWD_M_IIFNAME && out) ||
				     (m->kind == FWD_M_OIFNAME && !out) ||
				     ((m->kind == FWD_M_IIFNAME || m->kind == FWD_M_OIFNAME) &&
				      m->u32 < ir->nclasses && ir->classes[m->u32].out != out)))
					return refuse(d, "chain %s rule %zu: an interface "
						      "match of the other direction",
						      ir->chains[i].name, j);

				if (((m->kind == FWD_M_IIFNAME || m->kind == FWD_M_OIFNAME) &&
				     (m->u32 >= ir->nclasses || !ir->classes[m->u32].ifname[0])) ||
				    (m->kind == FWD_M_CLASS_METER &&
				     (m->set >= ir->nclasses || !ir->classes[m->set].limit_n)) ||
				    (m->kind == FWD_M_PROG_METER && !fwd_ir_prog_meter_sets(ir)) ||
				    (m->kind == FWD_M_METER && !fwd_ir_meter_sets(ir)))
					return refuse(d, "chain %s rule %zu: a class or meter "
						      "the file does not have",
						      ir->chains[i].name, j);
			}
	return true;
}

/* Magic, version, length and checksum; *v4: the version is 4. */
static bool get_header(struct dec *d, bool *v4)
{
	char magic[8];
	uint64_t len, sum;

	if (d->n < STATE_HEADER)
		return refuse(d, "%zu bytes, shorter than a header", d->n);
	get(d, magic, 8);
	len = get64(d);
	sum = get64(d);
	if (memcmp(magic, state_magic, 7) != 0)
		return refuse(d, "not a fwd state file");
	*v4 = memcmp(magic, state_magic, 8) == 0;
	if (!*v4 && memcmp(magic, state_magic_v3, 8) != 0)
		return refuse(d, "format version %u (this fwd reads 3 and 4)",
			      (unsigned)(uint8_t)magic[7]);
	if (len != d->n - STATE_HEADER)
		return refuse(d, "its length field says %llu bytes, %zu follow",
			      (unsigned long long)len, d->n - STATE_HEADER);
	if (sum != fnv1a(d->p + STATE_HEADER, len))
		return refuse(d, "checksum mismatch");
	return true;
}

int fwd_state_decode_ir(const void *buf, size_t n, struct fwd_ir **out,
			char *why, size_t whylen)
{
	char none[1];
	struct dec d = { .p = buf, .n = n, .why = why, .whylen = whylen };
	struct fwd_ir *ir;
	bool v4 = false;

	if (!whylen) {
		d.why = none;
		d.whylen = sizeof(none);
	}
	*d.why = '\0';
	*out = NULL;
	if (!get_header(&d, &v4))
		return -EBADMSG;
	ir = calloc(1, sizeof(*ir));
	if (!ir)
		abort();
	/* Version 4 always has the trailing sections: a file that ends
	 * after the chains lost them. */
	if (!get_sets(&d, ir) || !get_chains(&d, ir) ||
	    (v4 && d.off == d.n && !refuse(&d, "truncated after the chains")) ||
	    !get_classes(&d, ir) || !get_prog(&d, ir, v4) ||
	    (v4 && !get_queue(&d, ir)) || !sets_placed_ok(&d, ir) ||
	    !classes_referenced_ok(&d, ir) ||
	    !queue_verdicts_ok(&d, ir) ||
	    (d.off != d.n && !refuse(&d, "%zu bytes after the end", d.n - d.off))) {
		fwd_ir_free(ir);
		if (!*d.why)
			refuse(&d, "malformed");
		return -EBADMSG;
	}
	*out = ir;
	return 0;
}

/* ---- trust and I/O ------------------------------------------------------ */

int fwd_state_dir_open(const char *dir, bool create, char *why, size_t whylen)
{
	struct stat st;
	int dfd;

	*why = '\0';
	/* mkdir's 0700 is narrowed by the umask only, never widened. */
	if (create && mkdir(dir, 0700) != 0 && errno != EEXIST) {
		int err = errno;

		snprintf(why, whylen, "cannot create %s: %s", dir, strerror(err));
		return -err;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		int err = errno;

		/* O_DIRECTORY | O_NOFOLLOW on a symlink fails with ENOTDIR
		 * (or ELOOP), the same as on a file: lstat tells them apart. */
		if (err == ELOOP || err == ENOTDIR) {
			snprintf(why, whylen, "%s is %s", dir,
				 lstat(dir, &st) == 0 && S_ISLNK(st.st_mode) ?
				 "a symlink, not the directory itself" : "not a directory");
			return -EPERM;
		}
		snprintf(why, whylen, "cannot open %s: %s", dir, strerror(err));
		return -err;
	}
	if (fstat(dfd, &st) != 0) {
		int err = errno;

		snprintf(why, whylen, "cannot stat %s: %s", dir, strerror(err));
		close(dfd);
		return -err;
	}
	if (st.st_uid != geteuid() || (st.st_mode & 077) != 0) {
		if (st.st_uid != geteuid())
			snprintf(why, whylen, "%s is owned by uid %u, not by fwd's uid %u",
				 dir, (unsigned)st.st_uid, (unsigned)geteuid());
		else
			snprintf(why, whylen, "%s has mode %04o; it must be 0700 (no access "
				 "for group and others)", dir, (unsigned)(st.st_mode & 07777));
		close(dfd);
		return -EPERM;
	}
	return dfd;
}

/* dir/name for reading, checked as state.h says: an fd or -errno + why. */
static int state_file_open(int dfd, const char *dir, const char *name,
			   char *why, size_t whylen)
{
	struct stat st;
	int fd;

	fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int err = errno;

		if (err == ELOOP) {
			snprintf(why, whylen, "%s/%s is a symlink", dir, name);
			return -EPERM;
		}
		snprintf(why, whylen, "cannot open %s/%s: %s", dir, name, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) != 0) {
		int err = errno;

		snprintf(why, whylen, "cannot stat %s/%s: %s", dir, name, strerror(err));
		close(fd);
		return -err;
	}
	if (!S_ISREG(st.st_mode))
		snprintf(why, whylen, "%s/%s is not a regular file", dir, name);
	else if (st.st_uid != geteuid())
		snprintf(why, whylen, "%s/%s is owned by uid %u, not by fwd's uid %u",
			 dir, name, (unsigned)st.st_uid, (unsigned)geteuid());
	else if (st.st_mode & 022)
		snprintf(why, whylen, "%s/%s has mode %04o: writable by others",
			 dir, name, (unsigned)(st.st_mode & 07777));
	else
		return fd;
	close(fd);
	return -EPERM;
}

/* The whole of a trusted state file, between min and max bytes long. */
static int read_state(const char *dir, const char *name, size_t min, uint64_t max,
		      struct buf *b, char *why, size_t whylen)
{
	struct stat st;
	int dfd, fd, ret = 0;

	dfd = fwd_state_dir_open(dir, false, why, whylen);
	if (dfd == -EPERM) {
		char path[4096];

		/* Nothing there is nothing to refuse (and nothing to shout
		 * about); the save will refuse the directory in its turn. */
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (lstat(path, &st) != 0 && errno == ENOENT)
			return -ENOENT;
	}
	if (dfd < 0)
		return dfd;
	fd = state_file_open(dfd, dir, name, why, whylen);
	close(dfd);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size < min || (uint64_t)st.st_size > max) {
		snprintf(why, whylen, "%s/%s has an impossible size", dir, name);
		close(fd);
		return -EBADMSG;
	}
	b->n = b->cap = (size_t)st.st_size;
	b->p = malloc(b->n ? b->n : 1);
	if (!b->p)
		abort();	/* the project's OOM policy: abort */
	for (size_t got = 0; got < b->n;) {
		ssize_t r = read(fd, b->p + got, b->n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r < 0 ? -errno : -EBADMSG;
			snprintf(why, whylen, "reading %s/%s: %s", dir, name,
				 r < 0 ? strerror(-ret) : "shorter than it was");
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (ret) {
		free(b->p);
		b->p = NULL;
	}
	return ret;
}

static int write_atomic_at(int dfd, const char *name, const void *buf, size_t len,
			   unsigned mode);

/* A state file: only into a directory fwd can trust (see state.h). */
static int write_state(const char *dir, const char *name, const void *buf, size_t len)
{
	char why[256];
	int dfd, ret;

	dfd = fwd_state_dir_open(dir, true, why, sizeof(why));
	if (dfd < 0)
		return dfd;
	ret = write_atomic_at(dfd, name, buf, len, 0600);
	close(dfd);
	return ret;
}

int fwd_state_load_deadline(const char *dir, long long now, long long *deadline,
			    char *why, size_t whylen)
{
	struct buf b = { 0 };
	unsigned long long v = 0;
	size_t n;
	int ret;

	*deadline = 0;
	ret = read_state(dir, FWD_STATE_DEADLINE, 0, 64, &b, why, whylen);
	if (ret)
		return ret;
	/* Digits, then at most one newline: what write_deadline writes.
	 * Anything else (a sign, spaces, "garbage", nothing) is not a time,
	 * and must not read as 0, "long expired". */
	n = b.n;
	if (n && b.p[n - 1] == '\n')
		n--;
	ret = n && n <= 19 ? 0 : -EBADMSG;
	for (size_t i = 0; ret == 0 && i < n; i++) {
		if (b.p[i] < '0' || b.p[i] > '9')
			ret = -EBADMSG;
		else
			v = v * 10 + (unsigned)(b.p[i] - '0');
	}
	if (ret == 0 && (v == 0 || v > (unsigned long long)now + FWD_STATE_DEADLINE_AHEAD_MAX))
		ret = -ERANGE;
	if (ret == -EBADMSG)
		snprintf(why, whylen, "%s/%s does not hold a time (decimal seconds "
			 "since the epoch)", dir, FWD_STATE_DEADLINE);
	else if (ret == -ERANGE)
		snprintf(why, whylen, "%s/%s holds %llu, %s", dir, FWD_STATE_DEADLINE, v,
			 v ? "further ahead than any reload --confirm reaches" : "not a time");
	else
		*deadline = (long long)v;
	free(b.p);
	return ret == -ERANGE ? -EBADMSG : ret;
}

bool fwd_state_ir_input_open(const struct fwd_ir *ir)
{
	for (size_t i = 0; ir && i < ir->nchains; i++) {
		const struct fwd_ir_chain *c = &ir->chains[i];

		if (c->hook != NF_INET_LOCAL_IN)
			continue;
		if (c->policy_accept)
			return true;
		for (size_t j = 0; j < c->n; j++)
			if (c->rules[j].nm == 0 && c->rules[j].verdict == FWD_V_ACCEPT)
				return true;
	}
	return false;
}

int fwd_state_save_ir(const char *dir, const struct fwd_ir *ir)
{
	return fwd_state_save_ir_as(dir, FWD_STATE_LAST_GOOD, ir);
}

int fwd_state_load_ir(const char *dir, struct fwd_ir **out)
{
	return fwd_state_load_ir_from(dir, FWD_STATE_LAST_GOOD, out);
}

int fwd_state_save_ir_as(const char *dir, const char *name, const struct fwd_ir *ir)
{
	size_t len;
	void *buf;
	int ret;

	ret = fwd_state_encode_ir(ir, &buf, &len);
	if (ret)
		return ret;
	ret = write_state(dir, name, buf, len);
	free(buf);
	return ret;
}

int fwd_state_load_ir_from(const char *dir, const char *name, struct fwd_ir **out)
{
	char why[256];

	return fwd_state_load_ir_why(dir, name, out, why, sizeof(why));
}

int fwd_state_load_ir_why(const char *dir, const char *name, struct fwd_ir **out,
			  char *why, size_t whylen)
{
	struct buf b = { 0 };
	char reason[160];
	int ret;

	*out = NULL;
	ret = read_state(dir, name, STATE_HEADER, 1ULL << 32, &b, why, whylen);
	if (ret)
		return ret;
	ret = fwd_state_decode_ir(b.p, b.n, out, reason, sizeof(reason));
	if (ret)
		snprintf(why, whylen, "%s/%s is damaged: %s", dir, name, reason);
	else
		*why = '\0';
	free(b.p);
	return ret;
}

/*
 * The atomic write, relative to an open directory. The temp name is
 * random (a predictable one could be planted as a symlink first) and
 * created O_EXCL | O_NOFOLLOW, so it is always a new file of ours.
 */
static int write_atomic_at(int dfd, const char *name, const void *buf, size_t len,
			   unsigned mode)
{
	const uint8_t *p = buf;
	char tmp[300];
	int fd = -1, ret = 0;

	for (int tries = 0; fd < 0 && tries < 16; tries++) {
		uint64_t r;

		if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
			return errno ? -errno : -EIO;
		if (snprintf(tmp, sizeof(tmp), ".%s.tmp.%016llx", name,
			     (unsigned long long)r) >= (int)sizeof(tmp))
			return -ENAMETOOLONG;
		fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	if (fd < 0)
		return -EEXIST;
	/* The mode is narrowed by the umask, as for any created file
	 * (fwd.service sets UMask=0077). */
	for (size_t off = 0; off < len;) {
		ssize_t w = write(fd, p + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			break;
		}
		off += (size_t)w;
	}
	if (ret == 0 && fsync(fd) != 0)
		ret = -errno;
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	/* rename replaces the name itself: a symlink there is gone, its
	 * target never written. */
	if (ret == 0 && renameat(dfd, tmp, dfd, name) != 0)
		ret = -errno;
	if (ret) {
		unlinkat(dfd, tmp, 0);
		return ret;
	}
	/* The rename itself must reach the disk too. */
	if (fsync(dfd) != 0)
		ret = -errno;
	return ret;
}

int fwd_write_atomic_at(int dfd, const char *name, const void *buf, size_t len,
			unsigned mode)
{
	return write_atomic_at(dfd, name, buf, len, mode);
}

int fwd_write_atomic(const char *dir, const char *name, const void *buf,
		     size_t len, unsigned mode)
{
	int dfd, ret;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	ret = write_atomic_at(dfd, name, buf, len, mode);
	close(dfd);
	return ret;
}

int fwd_state_read_file(const char *dir, const char *name, size_t max,
			char **text, size_t *len, char *why, size_t whylen)
{
	struct buf b = { 0 };
	int ret = read_state(dir, name, 0, max, &b, why, whylen);

	*text = NULL;
	*len = 0;
	if (ret)
		return ret;
	*text = realloc(b.p, b.n + 1);
	if (!*text)
		abort();	/* the project's OOM policy: abort */
	(*text)[b.n] = '\0';
	*len = b.n;
	return 0;
}
