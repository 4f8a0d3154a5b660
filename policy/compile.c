// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * policy model -> ruleset IR.
 *
 * The chains are fixed by [defaults]; the work is in the set elements. Every
 * (port range, peer address) pair of every service becomes one raw entry in
 * a bucket per target set; then each bucket is normalised:
 *
 *  - hash sets (single host, single port): sort, keep one element per key
 *    with the latest expiry of its duplicates;
 *  - the open sets (proto . port): per protocol, the port axis is cut into
 *    maximal runs of one expiry (the latest of the ranges covering each
 *    port), touching runs of equal expiry joined;
 *  - the address interval sets: per protocol, sweep the port axis. The
 *    starts and ends of all port ranges cut it into elementary segments; in
 *    each segment the active address ranges become disjoint runs: united
 *    (overlapping and touching ones merged) when they all expire alike,
 *    else cut where the latest expiry covering an address changes (a
 *    skyline, with a heap); a run that is also a run of the neighbouring
 *    segment on the left (same addresses, same expiry) extends that one's
 *    rectangle. Runs of one segment are disjoint and segments are
 *    disjoint, so the rectangles (address run x port range) never overlap,
 *    which the pipapo set backend requires (and only partly checks).
 *
 * Expiry: a timed edit's elements carry its `expires`, and each point of
 * key space gets the latest expiry among the words covering it, so the
 * kernel, dropping elements as they time out, keeps the table equal to the
 * policy at every later moment. Entries carry an expiry as a rank into the
 * sorted expiries of the edits in force (4 bytes, and max() stays an
 * integer compare); permanent is the highest rank.
 *
 * Cost: a radix sort, plus for each segment the entries active in it. That
 * is O(n) for the usual shapes (lists on a few ports); a policy with many
 * distinct port boundaries inside a port range that a big list holds pays
 * (boundaries x list size), which is also the size of the answer when the
 * addresses differ.
 *
 * Addresses are handled as unsigned 128-bit integers (IPv4 in the low 32
 * bits) so that ranges compare and touch with plain arithmetic.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include "edit.h"
#include "ir.h"
#include "outbound.h"
#include "progrule.h"
#include "util.h"

typedef unsigned __int128 u128;

/*
 * One (address network, proto, port range) pair before normalisation.
 * 40 bytes, not 64: at 1M entries the memory first touched costs more
 * than the sort, so the address is two u64 (no 16-byte alignment) and
 * the range end is kept as a count of host bits.
 */
struct raw {
	uint64_t ah, al;	/* network address, high and low half */
	const struct fwd_loc *loc;
	uint32_t ord;		/* policy order: merged elements keep the first */
	uint32_t xr;		/* expiry rank (collect.xv), XR_PERM = never */
	uint16_t plo, phi;
	uint8_t proto;
	uint8_t hbits;		/* host bits: the range is lo .. lo | (2^hbits - 1) */
};

#define XR_PERM UINT32_MAX

static inline u128 raw_lo(const struct raw *r)
{
	return (u128)r->ah << 64 | r->al;
}

static inline u128 raw_hi(const struct raw *r)
{
	u128 mask = r->hbits >= 128 ? ~(u128)0 : ((u128)1 << r->hbits) - 1;

	return raw_lo(r) | mask;
}

struct bucket {
	struct raw *v;
	size_t n, cap;
	bool in_set;		/* v lies in its set's elems (bucket_in_set) */
};

/* Where each kind of entry goes, for allowing or denying one direction. */
struct dir_sets {
	int host4, net4, host6, net6, open;
};

static const struct dir_sets allow_in = {
	FWD_SET_ALLOW4, FWD_SET_ALLOW4_NET, FWD_SET_ALLOW6, FWD_SET_ALLOW6_NET,
	FWD_SET_OPEN,
};
static const struct dir_sets allow_out = {
	FWD_SET_OUT_ALLOW4, FWD_SET_OUT_ALLOW4_NET, FWD_SET_OUT_ALLOW6,
	FWD_SET_OUT_ALLOW6_NET, FWD_SET_OUT_OPEN,
};
/* Deny sets are interval sets only: hosts and networks share one. */
static const struct dir_sets deny_in = {
	FWD_SET_DENY4, FWD_SET_DENY4, FWD_SET_DENY6, FWD_SET_DENY6,
	FWD_SET_DENY_OPEN,
};
static const struct dir_sets deny_out = {
	FWD_SET_OUT_DENY4, FWD_SET_OUT_DENY4, FWD_SET_OUT_DENY6,
	FWD_SET_OUT_DENY6, FWD_SET_OUT_DENY_OPEN,
};

static const struct {
	const char *name;
	enum fwd_ir_key key;
	bool interval;
	bool counter;			/* all but the blocklists */
} set_shape[FWD_SET_COUNT] = {
	[FWD_SET_ALLOW4] = { "allow4", FWD_KEY_ADDR4_PROTO_PORT, false, true },
	[FWD_SET_ALLOW4_NET] = { "allow4_net", FWD_KEY_ADDR4_PROTO_PORT, true, true },
	[FWD_SET_ALLOW6] = { "allow6", FWD_KEY_ADDR6_PROTO_PORT, false, true },
	[FWD_SET_ALLOW6_NET] = { "allow6_net", FWD_KEY_ADDR6_PROTO_PORT, true, true },
	[FWD_SET_OPEN] = { "open", FWD_KEY_PROTO_PORT, true, true },
	[FWD_SET_OUT_ALLOW4] = { "out_allow4", FWD_KEY_ADDR4_PROTO_PORT, false, true },
	[FWD_SET_OUT_ALLOW4_NET] = { "out_allow4_net", FWD_KEY_ADDR4_PROTO_PORT, true, true },
	[FWD_SET_OUT_ALLOW6] = { "out_allow6", FWD_KEY_ADDR6_PROTO_PORT, false, true },
	[FWD_SET_OUT_ALLOW6_NET] = { "out_allow6_net", FWD_KEY_ADDR6_PROTO_PORT, true, true },
	[FWD_SET_OUT_OPEN] = { "out_open", FWD_KEY_PROTO_PORT, true, true },
	[FWD_SET_BLOCK4] = { "block4", FWD_KEY_ADDR4, true, false },
	[FWD_SET_BLOCK6] = { "block6", FWD_KEY_ADDR6, true, false },
	[FWD_SET_DENY4] = { "deny4", FWD_KEY_ADDR4_PROTO_PORT, true, true },
	[FWD_SET_DENY6] = { "deny6", FWD_KEY_ADDR6_PROTO_PORT, true, true },
	[FWD_SET_DENY_OPEN] = { "deny_open", FWD_KEY_PROTO_PORT, true, true },
	[FWD_SET_OUT_DENY4] = { "out_deny4", FWD_KEY_ADDR4_PROTO_PORT, true, true },
	[FWD_SET_OUT_DENY6] = { "out_deny6", FWD_KEY_ADDR6_PROTO_PORT, true, true },
	[FWD_SET_OUT_DENY_OPEN] = { "out_deny_open", FWD_KEY_PROTO_PORT, true, true },
};

/* ---- addresses as integers ---- */

static u128 bytes_to_u128(const uint8_t *a, unsigned len)
{
	uint64_t h, l;
	uint32_t w;

	if (len == 4) {
		memcpy(&w, a, 4);
		return be32toh(w);
	}
	memcpy(&h, a, 8);
	memcpy(&l, a + 8, 8);
	return (u128)be64toh(h) << 64 | be64toh(l);
}

static void u128_to_bytes(u128 v, uint8_t *a, unsigned len)
{
	uint64_t h, l;
	uint32_t w;

	if (len == 4) {
		w = htobe32((uint32_t)v);
		memcpy(a, &w, 4);
		return;
	}
	h = htobe64((uint64_t)(v >> 64));
	l = htobe64((uint64_t)v);
	memcpy(a, &h, 8);
	memcpy(a + 8, &l, 8);
}

/* ---- file name interning: the IR must outlive the policy ---- */

struct file_map {
	struct fwd_ir *ir;
	const char *last_in;	/* one-entry cache: locs come in runs */
	const char *last_out;
};

static const char *intern_file(struct file_map *fm, const char *file)
{
	struct fwd_ir *ir = fm->ir;
	size_t i;

	if (!file)
		return NULL;
	if (file == fm->last_in)
		return fm->last_out;
	for (i = 0; i < ir->nfiles; i++)
		if (strcmp(ir->files[i], file) == 0)
			break;
	if (i == ir->nfiles) {
		ir->files = fwd_xreallocarray(ir->files, ir->nfiles + 1,
					      sizeof(*ir->files));
		ir->files[ir->nfiles++] = fwd_xstrdup(file);
	}
	fm->last_in = file;
	fm->last_out = ir->files[i];
	return fm->last_out;
}

static struct fwd_loc map_loc(struct file_map *fm, const struct fwd_loc *in)
{
	return (struct fwd_loc){ intern_file(fm, in->file), in->line };
}

/* ---- growing arrays (allocation failure aborts: see util.h) ---- */

/*
 * Ask for transparent huge pages on a big array before it is first
 * touched. At 1M entries the compile touches ~200 MB of fresh memory, and
 * on our (paravirtualised) machines the 4 KiB page faults cost more than
 * all the sorting: with 2 MiB pages the compile ran 3-4x faster. Purely
 * advisory; nothing changes where THP is off.
 */
#define HUGE_PAGE ((uintptr_t)2 << 20)

static void want_huge(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
	uintptr_t e = ((uintptr_t)p + len) & ~(HUGE_PAGE - 1);

	if (len >= 4 * HUGE_PAGE && e > a)
		madvise((void *)a, e - a, MADV_HUGEPAGE);
}

static void *big_array(size_t n, size_t size)
{
	void *p = fwd_xreallocarray(NULL, n, size);

	want_huge(p, n * size);
	return p;
}

static void bucket_free(struct bucket *b)
{
	if (!b->in_set)
		free(b->v);
	*b = (struct bucket){ 0 };
}

static void bucket_push(struct bucket *b, const struct raw *r)
{
	if (b->in_set && b->n == b->cap) {
		/* More than the counting pass saw (it never is): the set's
		 * array cannot grow under its entries, so they move out. */
		struct raw *v = fwd_xreallocarray(NULL, b->cap + 1, sizeof(*v));

		memcpy(v, b->v, b->n * sizeof(*v));
		b->v = v;
		b->cap++;
		b->in_set = false;
	}
	FWD_GROW(b->v, b->cap, b->n + 1);
	b->v[b->n++] = *r;
}

static void set_push(struct fwd_ir_set *s, struct file_map *fm, u128 lo,
		    u128 hi, uint8_t proto, uint16_t plo, uint16_t phi,
		    const struct fwd_loc *loc, uint64_t expires)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	struct fwd_ir_elem *e;

	if (s->n == s->cap) {
		FWD_GROW(s->elems, s->cap, s->n + 1);
		want_huge(s->elems + s->n, (s->cap - s->n) * sizeof(*e));
	}
	e = &s->elems[s->n++];
	memset(e, 0, sizeof(*e));
	if (alen) {
		u128_to_bytes(lo, e->lo, alen);
		u128_to_bytes(hi, e->hi, alen);
	}
	e->proto = proto;
	e->plo = plo;
	e->phi = phi;
	e->loc = map_loc(fm, loc);
	e->expires = expires;
}

/*
 * Room for the elements of a set: n, plus headroom for live additions
 * (fwd_ir_fast_add inserts in place). Pages never touched cost nothing,
 * whereas growing a 6 MB array later copies it into fresh memory, whose
 * page faults made the first live edit after a load take 20-30 ms here.
 */
static void set_reserve(struct fwd_ir_set *s, size_t n)
{
	s->cap = n + n / 4 + 64;
	s->elems = big_array(s->cap, sizeof(*s->elems));
}

/*
 * A hash set's raw entries inside its own element array, reserved as soon
 * as the counting pass knows n: the radix sort's second buffer is the
 * array's head, the entries lie right above it, and norm_hash writes
 * element k (k <= i) while it reads entry i. So the entries, the sort and
 * the elements share one array's pages (n x 80 bytes touched) instead of
 * three arrays' (n x 40 + n x 40 + n x 72: most of a 100k apply's page
 * faults). Safe when the head holds the sort's n entries and element k
 * ends before entry k starts: head >= n x 40 and head + 40k >= 72(k + 1)
 * for k < n; the reserve's headroom (n / 4 + 64) leaves room for both,
 * checked, else a bucket of its own.
 */
static void bucket_in_set(struct bucket *b, struct fwd_ir_set *s, size_t n)
{
	size_t rsz = sizeof(*b->v), esz = sizeof(*s->elems);
	size_t head = n * rsz, least = n * (esz - rsz) + rsz;

	_Static_assert(sizeof(struct raw) < sizeof(struct fwd_ir_elem),
		       "entries must be smaller than elements");
	set_reserve(s, n);
	if (head < least)
		head = least;
	head = (head + rsz - 1) / rsz * rsz;
	if (head + n * rsz > s->cap * esz) {
		b->v = big_array(n, rsz);
	} else {
		b->v = (struct raw *)((char *)s->elems + head);
		b->in_set = true;
	}
	b->cap = n;
}

/* ---- sorting ---- */

static int cmp_u128(u128 a, u128 b)
{
	return a < b ? -1 : a > b;
}

/* Address, then proto, then port, then policy order. */
static int raw_cmp_addr(const void *pa, const void *pb)
{
	const struct raw *a = pa, *b = pb;
	int c = cmp_u128(raw_lo(a), raw_lo(b));

	if (c)
		return c;
	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->plo != b->plo)
		return a->plo < b->plo ? -1 : 1;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

/* Proto, then port start, then address, then policy order. */
static int raw_cmp_port(const void *pa, const void *pb)
{
	const struct raw *a = pa, *b = pb;
	int c;

	if (a->proto != b->proto)
		return a->proto < b->proto ? -1 : 1;
	if (a->plo != b->plo)
		return a->plo < b->plo ? -1 : 1;
	c = cmp_u128(raw_lo(a), raw_lo(b));
	if (c)
		return c;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int elem_cmp(const void *a, const void *b)
{
	return fwd_ir_elem_cmp(a, b);
}

/*
 * Stable LSD radix sort of raw entries, by address then proto then port
 * (by_port: proto, port, address). Buckets hold their entries in policy
 * order, so stability gives the "first word wins" tie-break for free. One
 * pass counts every digit; digits that are equal in all entries (the
 * 2001:db8 of a list, the one protocol, the one port) cost no pass.
 * qsort with a callback over 64-byte records took half of a 1M compile.
 *
 * The passes need a second buffer of n entries. A fresh one is n * 40
 * bytes of pages first touched here (a quarter of the page faults of a
 * 100k apply, each dear on a paravirtualised guest), so the callers lend
 * the set's own element array, reserved already and written only after
 * the sort: those pages are faulted in once, for both. Without a loan
 * (or one too small) the buffer is allocated.
 */
static unsigned raw_digit(const struct raw *r, unsigned alen, bool by_port,
			  unsigned i)
{
	if (by_port) {
		if (i < 3)
			return i == 0 ? r->proto : i == 1 ? r->plo >> 8 :
			       (r->plo & 0xffu);
		i -= 3;
	} else if (i >= alen) {
		i -= alen;
		return i == 0 ? r->proto : i == 1 ? r->plo >> 8 :
		       (r->plo & 0xffu);
	}
	/* Address byte i of alen, most significant first. */
	i = alen - 1 - i;
	return (unsigned)((i < 8 ? r->al >> (8 * i) : r->ah >> (8 * (i - 8))) &
			  0xffu);
}

static void raw_sort(struct raw *v, size_t n, unsigned alen, bool by_port,
		     void *scratch, size_t scratch_len)
{
	unsigned nd = alen + 3;
	size_t (*cnt)[256];
	struct raw *src = v, *dst, *t, *own = NULL;

	if (n < 64) {
		qsort(v, n, sizeof(*v), by_port ? raw_cmp_port : raw_cmp_addr);
		return;
	}
	cnt = fwd_xcalloc(nd, sizeof(*cnt));
	for (size_t k = 0; k < n; k++)
		for (unsigned i = 0; i < nd; i++)
			cnt[i][raw_digit(&v[k], alen, by_port, i)]++;
	if (scratch && scratch_len / sizeof(*dst) >= n)
		dst = scratch;
	else
		dst = own = big_array(n, sizeof(*dst));
	for (unsigned i = nd; i-- > 0;) {
		size_t off = 0;

		/* All buffers hold the same entries: any one tells. */
		if (cnt[i][raw_digit(&v[0], alen, by_port, i)] == n)
			continue;
		for (unsigned b = 0; b < 256; b++) {
			size_t c = cnt[i][b];

			cnt[i][b] = off;
			off += c;
		}
		for (size_t k = 0; k < n; k++)
			dst[cnt[i][raw_digit(&src[k], alen, by_port, i)]++] =
				src[k];
		t = src;
		src = dst;
		dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof(*v));
	free(own);
	free(cnt);
}

/* ---- normalisation ---- */

static uint64_t xr_expires(const uint64_t *xv, uint32_t xr)
{
	return xr == XR_PERM ? 0 : xv[xr];
}

/*
 * Single host, single port: sort and keep one element per key, with the
 * latest expiry among its duplicates and the loc of the first of those in
 * policy order (the sort is stable, so a key's entries come in policy
 * order).
 */
static void norm_hash(struct bucket *b, struct fwd_ir_set *s,
		      struct file_map *fm, unsigned alen, const uint64_t *xv)
{
	size_t head;

	if (!s->elems)		/* else reserved by bucket_in_set */
		set_reserve(s, b->n);
	/* in_set: the array's head, below the entries, is the sort's. */
	head = b->in_set ? (size_t)((char *)b->v - (char *)s->elems) :
			   s->cap * sizeof(*s->elems);
	raw_sort(b->v, b->n, alen, false, s->elems, head);
	for (size_t i = 0, j; i < b->n; i = j) {
		const struct raw *r = &b->v[i], *best = r;

		for (j = i + 1; j < b->n && b->v[j].al == r->al &&
				b->v[j].ah == r->ah && b->v[j].proto == r->proto &&
				b->v[j].plo == r->plo; j++)
			if (b->v[j].xr > best->xr)
				best = &b->v[j];
		set_push(s, fm, raw_lo(r), raw_lo(r), r->proto, r->plo, r->plo,
			 best->loc, xr_expires(xv, best->xr));
	}
}

/*
 * A disjoint run of one segment (addresses; ports in the open sets). src
 * is the entry that names it: of the entries with the run's expiry that
 * form it, the first in policy order; the run's expiry is src->xr.
 */
struct run {
	u128 lo, hi;
	const struct raw *src;
	uint32_t plo;		/* while open in the sweep: where it started */
};

struct runs {
	struct run *v;
	size_t n, cap;
};

/* Room for n runs; the old content is not kept (callers start empty). */
static void runs_reserve(struct runs *r, size_t n)
{
	if (n <= r->cap)
		return;
	free(r->v);
	r->v = big_array(n, sizeof(*r->v));
	r->cap = n;
}

/*
 * Unite the active ranges (sorted by lo), all of one expiry, into disjoint
 * runs, joining runs that touch: the kernel would take touching runs too,
 * but one element is cheaper than two and the output is canonical.
 */
static void unite(const struct raw *const *act, size_t n, struct runs *out,
		 u128 amax)
{
	out->n = 0;
	runs_reserve(out, n);
	for (size_t i = 0; i < n; i++) {
		const struct raw *r = act[i];
		struct run *cur = out->n ? &out->v[out->n - 1] : NULL;
		u128 lo = raw_lo(r), hi = raw_hi(r);

		if (cur && (cur->hi == amax || lo <= cur->hi + 1)) {
			if (hi > cur->hi)
				cur->hi = hi;
			if (r->ord < cur->src->ord)
				cur->src = r;
			continue;
		}
		out->v[out->n++] = (struct run){ lo, hi, r, 0 };
	}
}

/* The entries covering the skyline's current point, best on top. */
struct heap {
	const struct raw **v;
	size_t n, cap;
};

/* Later expiry first; of equal ones, the first in policy order. */
static bool sky_before(const struct raw *a, const struct raw *b)
{
	return a->xr != b->xr ? a->xr > b->xr : a->ord < b->ord;
}

static void heap_push(struct heap *h, const struct raw *r)
{
	size_t i = h->n++;

	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (!sky_before(r, h->v[up]))
			break;
		h->v[i] = h->v[up];
		i = up;
	}
	h->v[i] = r;
}

static void heap_pop(struct heap *h)
{
	const struct raw *last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && sky_before(h->v[c + 1], h->v[c]))
			c++;
		if (!sky_before(h->v[c], last))
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n)
		h->v[i] = last;
}

/* An entry's extent on the axis being cut: addresses, or ports. */
static inline u128 co_lo(const struct raw *r, bool by_port)
{
	return by_port ? r->plo : raw_lo(r);
}

static inline u128 co_hi(const struct raw *r, bool by_port)
{
	return by_port ? r->phi : raw_hi(r);
}

/*
 * Cut the entries (sorted by lo on the axis) into disjoint runs over which
 * the latest expiry covering each point is constant, joining touching runs
 * of equal expiry. A heap holds the entries that started, the one expiring
 * last on top; a run ends where the top ends or where a new entry starts.
 * Each entry starts and ends at most one run: at most 2n runs, O(n log n).
 */
static void skyline(const struct raw *const *act, size_t n, struct runs *out,
		    struct heap *h, u128 amax, bool by_port)
{
	size_t i = 0;
	u128 pos = 0;

	out->n = 0;
	runs_reserve(out, 2 * n);
	if (h->cap < n) {
		free(h->v);
		h->v = big_array(n, sizeof(*h->v));
		h->cap = n;
	}
	h->n = 0;
	while (i < n || h->n) {
		const struct raw *t;
		struct run *cur;
		u128 end;

		if (h->n == 0)
			pos = co_lo(act[i], by_port);
		while (i < n && co_lo(act[i], by_port) <= pos)
			heap_push(h, act[i++]);
		while (h->n && co_hi(h->v[0], by_port) < pos)
			heap_pop(h);
		if (h->n == 0)
			continue;
		t = h->v[0];
		end = co_hi(t, by_port);
		/* Not yet started entries start after pos, so lo - 1 >= pos. */
		if (i < n && co_lo(act[i], by_port) - 1 < end)
			end = co_lo(act[i], by_port) - 1;
		cur = out->n ? &out->v[out->n - 1] : NULL;
		if (cur && cur->src->xr == t->xr && cur->hi + 1 == pos) {
			cur->hi = end;
			if (t->ord < cur->src->ord)
				cur->src = t;
		} else {
			out->v[out->n++] = (struct run){ pos, end, t, 0 };
		}
		if (end == amax)
			break;
		pos = end + 1;
	}
}

/* proto . port ranges: per proto, the port axis cut by expiry. */
static void norm_open(struct bucket *b, struct fwd_ir_set *s,
		      struct file_map *fm, const uint64_t *xv)
{
	const struct raw **act = big_array(b->n, sizeof(*act));
	struct runs out = { 0 };
	struct heap h = { 0 };

	/* Proto, port start, policy order. */
	raw_sort(b->v, b->n, 0, true, NULL, 0);
	for (size_t i = 0, j; i < b->n; i = j) {
		uint8_t proto = b->v[i].proto;
		size_t k = 0;

		for (j = i; j < b->n && b->v[j].proto == proto; j++)
			act[k++] = &b->v[j];
		skyline(act, k, &out, &h, UINT16_MAX, true);
		for (size_t r = 0; r < out.n; r++)
			set_push(s, fm, 0, 0, proto, (uint16_t)out.v[r].lo,
				 (uint16_t)out.v[r].hi, out.v[r].src->loc,
				 xr_expires(xv, out.v[r].src->xr));
	}
	free(act);
	free(out.v);
	free(h.v);
}

/* Runs in a segment are disjoint: lo decides, then hi and expiry tell
 * equal runs of two segments from different ones. */
static int run_cmp(const struct run *a, const struct run *b)
{
	int c = cmp_u128(a->lo, b->lo);

	if (!c)
		c = cmp_u128(a->hi, b->hi);
	if (!c && a->src->xr != b->src->xr)
		c = a->src->xr < b->src->xr ? -1 : 1;
	return c;
}

/*
 * The sweep's state: address runs still growing along the port axis, each
 * with the port where it started; all reach up to the current segment.
 */
struct sweep {
	struct runs open, next, cur;
	struct heap heap;
	uint32_t phi;		/* last port of the previous segment */
	uint8_t proto;
	struct fwd_ir_set *s;
	struct file_map *fm;
	const uint64_t *xv;
};

static void emit(struct sweep *w, const struct run *r)
{
	set_push(w->s, w->fm, r->lo, r->hi, w->proto, (uint16_t)r->plo,
		 (uint16_t)w->phi, r->src->loc, xr_expires(w->xv, r->src->xr));
}

static void close_all(struct sweep *w)
{
	for (size_t i = 0; i < w->open.n; i++)
		emit(w, &w->open.v[i]);
	w->open.n = 0;
}

/*
 * Next segment [c, seg_hi] with its runs in w->cur: a run equal to an open
 * one (addresses and expiry) extends it; open runs not seen again end at
 * the previous segment; new runs start at c. Runs of one segment are
 * disjoint, so rectangles built this way never overlap. Linear merge of
 * two lists sorted by lo.
 */
static void advance(struct sweep *w, uint32_t c, uint32_t seg_hi)
{
	const struct runs *o = &w->open, *n = &w->cur;
	size_t i = 0, j = 0;

	w->next.n = 0;
	runs_reserve(&w->next, n->n);	/* it only takes runs of cur */
	while (i < o->n || j < n->n) {
		int d = i >= o->n ? 1 : j >= n->n ? -1 :
			run_cmp(&o->v[i], &n->v[j]);
		struct run r;

		if (d < 0) {
			emit(w, &o->v[i++]);
			continue;
		}
		r = n->v[j++];
		if (d == 0) {
			/* Extend; the element names the first word in policy. */
			if (o->v[i].src->ord < r.src->ord)
				r.src = o->v[i].src;
			r.plo = o->v[i++].plo;
		} else {
			r.plo = c;
		}
		w->next.v[w->next.n++] = r;
	}
	{
		struct runs t = w->open;

		w->open = w->next;
		w->next = t;
	}
	w->phi = seg_hi;
}

/* The runs of one segment: united when all expire alike (the usual case,
 * linear), else cut by expiry. */
static void segment_runs(struct sweep *w, const struct raw *const *act,
			 size_t n, u128 amax)
{
	for (size_t i = 1; i < n; i++) {
		if (act[i]->xr != act[0]->xr) {
			skyline(act, n, &w->cur, &w->heap, amax, false);
			return;
		}
	}
	unite(act, n, &w->cur, amax);
}

/* 65536 possible cut points per protocol (port 65535 + 1 included). */
#define NCUTS 65537

static void norm_net(struct bucket *b, struct fwd_ir_set *s,
		     struct file_map *fm, unsigned alen, const uint64_t *xv)
{
	u128 amax = alen == 4 ? (u128)UINT32_MAX : ~(u128)0;
	size_t nalloc = b->n ? b->n : 1, g0 = 0;
	const struct raw **act = big_array(nalloc, sizeof(*act));
	const struct raw **nact = big_array(nalloc, sizeof(*nact));
	uint8_t *cut = fwd_xmalloc(NCUTS);
	struct sweep w = { .s = s, .fm = fm, .xv = xv };

	/* Merging makes elements fewer than entries, unless port cuts split
	 * them: start at n and let set_push grow past it when that happens. */
	set_reserve(s, b->n);
	/* Port start, then address: each segment's new ranges come sorted. */
	raw_sort(b->v, b->n, alen, true, s->elems, s->cap * sizeof(*s->elems));

	while (g0 < b->n) {
		size_t g1 = g0, next = g0, nactive = 0;

		w.proto = b->v[g0].proto;
		while (g1 < b->n && b->v[g1].proto == w.proto)
			g1++;
		memset(cut, 0, NCUTS);
		for (size_t i = g0; i < g1; i++) {
			cut[b->v[i].plo] = 1;
			cut[(uint32_t)b->v[i].phi + 1] = 1;
		}

		for (uint32_t c = 0; c < NCUTS; c++) {
			const struct raw **tmp;
			size_t k = 0, j, n = 0;
			uint32_t seg_hi;

			if (!cut[c])
				continue;
			/* Drop ranges that ended before c (keeps lo order). */
			for (size_t i = 0; i < nactive; i++)
				if (act[i]->phi >= c)
					act[k++] = act[i];
			nactive = k;
			/* Merge in the ranges that start at c, sorted by lo. */
			j = next;
			while (next < g1 && b->v[next].plo == c)
				next++;
			k = 0;
			while (k < nactive || j < next) {
				if (j >= next ||
				    (k < nactive &&
				     raw_cmp_addr(act[k], &b->v[j]) <= 0))
					nact[n++] = act[k++];
				else
					nact[n++] = &b->v[j++];
			}
			tmp = act;
			act = nact;
			nact = tmp;
			nactive = n;

			if (nactive == 0) {
				close_all(&w);
				continue;
			}
			/* This segment runs up to the next cut point. */
			seg_hi = c + 1;
			while (seg_hi < NCUTS && !cut[seg_hi])
				seg_hi++;
			segment_runs(&w, act, nactive, amax);
			advance(&w, c, seg_hi - 1);
		}
		close_all(&w);
		g0 = g1;
	}
	/*
	 * Rectangles came out per proto and port; the set wants key order.
	 * With one port range per proto (a big list on one port) they are in
	 * order already: check in O(n) before paying for a sort.
	 */
	for (size_t i = 1; i < s->n; i++) {
		if (fwd_ir_elem_cmp(&s->elems[i - 1], &s->elems[i]) > 0) {
			qsort(s->elems, s->n, sizeof(*s->elems), elem_cmp);
			break;
		}
	}
	free(act);
	free(nact);
	free(cut);
	free(w.open.v);
	free(w.next.v);
	free(w.cur.v);
	free(w.heap.v);
}

/* ---- collecting entries from the model ---- */

/*
 * A list as the compiler sees it: its members after the live list-add and
 * list-del edits in force. Lists no edit touches lend the model's arrays.
 */
struct eff_list {
	const char *name;
	const struct fwd_addr *addrs;
	const struct fwd_loc *locs;	/* NULL: every member at *loc */
	const uint32_t *xrs;		/* expiry ranks; NULL: all permanent */
	const struct fwd_loc *loc;
	size_t n;
	struct fwd_addr *own_addrs;	/* set when edits changed the list */
	struct fwd_loc *own_locs;
	uint32_t *own_xrs;
};

struct collect {
	struct bucket *b;		/* per set of the IR (fixed, then classes) */
	size_t *need;			/* counting pass */
	const struct fwd_ir *ir;	/* its restricted classes */
	struct fwd_ir_set *sets;	/* ir's: hash sets hold their buckets */
	struct dir_sets *cds;		/* per class: where its allows go */
	bool counting;
	uint32_t ord;
	struct eff_list *lists;
	size_t nlists;
	uint64_t now;
	uint64_t *xv;			/* expiries of edits in force, sorted */
	size_t nxv;
	uint64_t recompile_at;		/* fwd_ir.recompile_at */
	struct fwd_diags *d;
};

static bool edit_live(const struct fwd_edit *e, uint64_t now)
{
	return e->expires == 0 || e->expires > now;
}

static int cmp_u64(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

/* The sorted, distinct expiries of the edits in force: the ranks. */
static void build_expiries(struct collect *c, const struct fwd_policy *p)
{
	size_t n = 0;

	c->xv = fwd_xreallocarray(NULL, p->nedits + 1, sizeof(*c->xv));
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].expires && edit_live(&p->edits[i], c->now))
			c->xv[n++] = p->edits[i].expires;
	qsort(c->xv, n, sizeof(*c->xv), cmp_u64);
	c->nxv = 0;
	for (size_t i = 0; i < n; i++)
		if (c->nxv == 0 || c->xv[c->nxv - 1] != c->xv[i])
			c->xv[c->nxv++] = c->xv[i];
}

/* The rank of an expiry of an edit in force (0 = permanent). */
static uint32_t xr_of(const struct collect *c, uint64_t expires)
{
	size_t lo = 0, hi = c->nxv;

	if (!expires)
		return XR_PERM;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->xv[mid] < expires)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

static uint32_t xr_min(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static void push(struct collect *c, int set, const struct raw *r)
{
	if (c->counting)
		c->need[set]++;
	else
		bucket_push(&c->b[set], r);
}

static void push_addr(struct collect *c, const struct dir_sets *ds,
		      const struct fwd_addr *a, const struct fwd_ports *pr,
		      const struct fwd_loc *loc, uint32_t xr)
{
	unsigned bits = a->family == AF_INET ? 32 : 128;
	bool host = a->prefix == bits && pr->lo == pr->hi;
	u128 mask = 0, net;
	struct raw r;
	int set;

	if (a->family == AF_INET)
		set = host ? ds->host4 : ds->net4;
	else
		set = host ? ds->host6 : ds->net6;
	if (c->counting) {
		c->need[set]++;
		return;
	}
	if (a->prefix == 0)
		mask = bits == 128 ? ~(u128)0 : (u128)UINT32_MAX;
	else if (a->prefix < bits)
		mask = ((u128)1 << (bits - a->prefix)) - 1;
	net = bytes_to_u128(a->a, bits / 8) & ~mask;
	r.ah = (uint64_t)(net >> 64);
	r.al = (uint64_t)net;
	r.hbits = (uint8_t)(bits - a->prefix);
	r.proto = pr->proto;
	r.plo = pr->lo;
	r.phi = pr->hi;
	r.loc = loc;
	r.ord = c->ord++;
	r.xr = xr;
	bucket_push(&c->b[set], &r);
}

/* `any` in a restricted class, whose sets are keyed by address too: the
 * whole of both families. */
static void push_any_class(struct collect *c, const struct dir_sets *ds,
			   const struct fwd_ports *pr,
			   const struct fwd_loc *loc, uint32_t xr)
{
	const struct fwd_addr all4 = { .family = AF_INET, .prefix = 0 };
	const struct fwd_addr all6 = { .family = AF_INET6, .prefix = 0 };

	push_addr(c, ds, &all4, pr, loc, xr);
	push_addr(c, ds, &all6, pr, loc, xr);
}

static void push_open(struct collect *c, const struct dir_sets *ds,
		      const struct fwd_ports *pr, const struct fwd_loc *loc,
		      uint32_t xr)
{
	struct raw r = {
		.proto = pr->proto, .plo = pr->lo, .phi = pr->hi, .loc = loc,
		.ord = c->ord++, .xr = xr,
	};

	if (ds->open < 0) {
		c->ord--;
		push_any_class(c, ds, pr, loc, xr);
		return;
	}
	push(c, ds->open, &r);
}

/* A blocked address: block4/block6, no proto, no port. */
static void push_block(struct collect *c, const struct fwd_addr *a,
		       const struct fwd_loc *loc, uint32_t xr)
{
	static const struct dir_sets block = {
		FWD_SET_BLOCK4, FWD_SET_BLOCK4, FWD_SET_BLOCK6, FWD_SET_BLOCK6, -1,
	};
	static const struct fwd_ports none = { 0 };

	push_addr(c, &block, a, &none, loc, xr);
}

static bool addr_ok(const struct fwd_addr *a)
{
	return (a->family == AF_INET && a->prefix <= 32) ||
	       (a->family == AF_INET6 && a->prefix <= 128);
}

static bool ports_ok(const struct fwd_ports *pr)
{
	return pr->lo != 0 && pr->lo <= pr->hi &&
	       (pr->proto == IPPROTO_TCP || pr->proto == IPPROTO_UDP);
}

/* Every member of a list on one port range; a member lasts no longer than
 * the word naming the list (xr). */
static int push_list(struct collect *c, const struct dir_sets *ds,
		     const struct eff_list *l, const struct fwd_ports *pr,
		     uint32_t xr)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct fwd_loc *loc = l->locs ? &l->locs[i] : l->loc;

		if (!addr_ok(&l->addrs[i])) {
			fwd_diags_add(c->d, loc->file, loc->line,
				      "list %s: bad address", l->name);
			return -EINVAL;
		}
		push_addr(c, ds, &l->addrs[i], pr, loc,
			  l->xrs ? xr_min(xr, l->xrs[i]) : xr);
	}
	return 0;
}

static const struct eff_list *find_list(const struct collect *c,
					const char *name)
{
	for (size_t i = 0; i < c->nlists; i++)
		if (strcmp(c->lists[i].name, name) == 0)
			return &c->lists[i];
	return NULL;
}

/* The class of a restricted allow (built before collecting), or -1. */
static int class_find(const struct fwd_ir *ir, enum fwd_dir dir,
		      const struct fwd_restrict *rs)
{
	for (size_t k = 0; k < ir->nclasses; k++) {
		const struct fwd_ir_class *x = &ir->classes[k];

		if (x->out == (dir == FWD_DIR_OUT) &&
		    strncmp(x->ifname, rs->ifname, sizeof(x->ifname)) == 0 &&
		    x->limit_n == rs->limit_n &&
		    (!rs->limit_n || x->limit_w == rs->limit_w))
			return (int)k;
	}
	return -1;
}

/* Where an allow goes: the shared sets, or its class's. */
static const struct dir_sets *allow_sets(const struct collect *c,
					 enum fwd_dir dir,
					 const struct fwd_restrict *rs)
{
	int k = fwd_restrict_on(rs) ? class_find(c->ir, dir, rs) : -1;

	if (k >= 0)
		return &c->cds[k];
	return dir == FWD_DIR_OUT ? &allow_out : &allow_in;
}

/*
 * A validated policy never fails the checks below; they keep a bad model
 * (a bug elsewhere) from turning into a wrong table, and name the line.
 */
static int collect_service(struct collect *c, const struct fwd_service *sv)
{
	const struct dir_sets *ds = allow_sets(c, sv->dir, &sv->rs);

	/* A service with owners allows its owners only: outbound.c. */
	if (sv->nowners)
		return 0;
	for (size_t pi = 0; pi < sv->nports; pi++) {
		const struct fwd_ports *pr = &sv->ports[pi];

		if (!ports_ok(pr)) {
			fwd_diags_add(c->d, pr->loc.file, pr->loc.line,
				      "service %s: bad port range %u-%u/%u",
				      sv->name, pr->lo, pr->hi, pr->proto);
			return -EINVAL;
		}
		for (size_t ai = 0; ai < sv->nallow; ai++) {
			const struct fwd_peer *pe = &sv->allow[ai];
			int ret;

			switch (pe->kind) {
			case FWD_PEER_ANY:
				/* The open set is keyed by port: name it. */
				push_open(c, ds, pr, &pr->loc, XR_PERM);
				break;
			case FWD_PEER_ADDR:
				if (!addr_ok(&pe->addr)) {
					fwd_diags_add(c->d, pe->loc.file,
						      pe->loc.line,
						      "service %s: bad address",
						      sv->name);
					return -EINVAL;
				}
				push_addr(c, ds, &pe->addr, pr, &pe->loc,
					  XR_PERM);
				break;
			case FWD_PEER_LIST:
				if (pe->list >= c->nlists) {
					fwd_diags_add(c->d, pe->loc.file,
						      pe->loc.line,
						      "service %s: no such list",
						      sv->name);
					return -EINVAL;
				}
				ret = push_list(c, ds, &c->lists[pe->list], pr,
						XR_PERM);
				if (ret)
					return ret;
				break;
			default:
				fwd_diags_add(c->d, pe->loc.file, pe->loc.line,
					      "service %s: bad peer", sv->name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/* Live edits in force, in order, after every service (policy order). */
static int collect_edits(struct collect *c, const struct fwd_policy *p)
{
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		const struct dir_sets *ds;
		const struct eff_list *l;
		uint32_t xr;

		if (!edit_live(e, c->now))
			continue;
		xr = xr_of(c, e->expires);
		switch (e->kind) {
		case FWD_EDIT_ALLOW:
		case FWD_EDIT_DENY:
			if (e->kind == FWD_EDIT_ALLOW)
				ds = allow_sets(c, e->dir, &e->rs);
			else
				ds = e->dir == FWD_DIR_OUT ? &deny_out : &deny_in;
			if (!ports_ok(&e->ports))
				goto bad;
			if (e->peer == FWD_PEER_ANY) {
				push_open(c, ds, &e->ports, &e->loc, xr);
			} else if (e->peer == FWD_PEER_ADDR) {
				if (!addr_ok(&e->addr))
					goto bad;
				push_addr(c, ds, &e->addr, &e->ports, &e->loc,
					  xr);
			} else if (e->peer == FWD_PEER_LIST) {
				/*
				 * A list only edits created may be gone (its
				 * list-add expired): it is empty then, not an
				 * error that would stop every later compile.
				 */
				l = find_list(c, e->list);
				if (l && push_list(c, ds, l, &e->ports, xr))
					return -EINVAL;
			} else {
				goto bad;
			}
			break;
		case FWD_EDIT_BLOCK:
			if (!addr_ok(&e->addr))
				goto bad;
			push_block(c, &e->addr, &e->loc, xr);
			break;
		case FWD_EDIT_LIST_ADD:
		case FWD_EDIT_LIST_DEL:
			break;	/* folded into the lists already */
		default:
			goto bad;
		}
		continue;
bad:
		fwd_diags_add(c->d, e->loc.file, e->loc.line,
			      "edit %zu: malformed", i + 1);
		return -EINVAL;
	}
	return 0;
}

/* ---- lists after live edits ---- */

static int addr_cmp(const struct fwd_addr *a, const struct fwd_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return memcmp(a->a, b->a, a->family == AF_INET ? 4 : 16);
}

/* One list-add / list-del in force. */
struct list_op {
	size_t list;		/* index into collect.lists */
	size_t idx;		/* edit index: later edits win */
	const struct fwd_edit *e;
};

static int list_op_cmp(const void *pa, const void *pb)
{
	const struct list_op *a = pa, *b = pb;
	int c;

	if (a->list != b->list)
		return a->list < b->list ? -1 : 1;
	c = addr_cmp(&a->e->addr, &b->e->addr);
	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* One address's list edits in force (sorted by edit order), and what they
 * make of it. */
struct addr_ops {
	const struct list_op *ops;
	size_t n;
	bool orig;		/* an original member of the list */
	bool keep_orig;		/* the original members stay */
	bool add;		/* a member at the last edit's line */
	uint64_t until;		/* ... expiring then (0 = never) */
};

static int bsearch_group(const void *key, const void *elem)
{
	const struct addr_ops *g = elem;

	return addr_cmp(key, &g->ops[0].e->addr);
}

static uint64_t exp_inf(uint64_t x)
{
	return x ? x : UINT64_MAX;
}

/*
 * An address's membership over time. At a moment t the last of its edits
 * still in force at t decides (add: in, del: out); with none left the
 * original list does. So the deciding edits, in time order, are those that
 * expire after every later edit, each from the previous one's expiry to
 * its own. Returns whether the address is in now; *until: when that first
 * stretch ends (0 = never); *back: when it comes in again after a gap
 * (0 = never), which no element timeout can do.
 */
static bool addr_timeline(const struct addr_ops *g, uint64_t now,
			  uint64_t *until, uint64_t *back)
{
	bool now_in = g->ops[g->n - 1].e->kind == FWD_EDIT_LIST_ADD, in = now_in;
	uint64_t from = now;

	*until = 0;
	*back = 0;
	for (size_t k = g->n; k-- > 0;) {
		uint64_t x = exp_inf(g->ops[k].e->expires);
		bool add = g->ops[k].e->kind == FWD_EDIT_LIST_ADD;

		if (x <= from)
			continue;	/* a later edit outlives it */
		if (in && !add) {
			*until = from;
			in = false;
		} else if (!in && add) {
			*back = from;
			return now_in;
		}
		from = x;
		if (x == UINT64_MAX)
			return now_in;
	}
	/* From `from` on no edit is left: the original list decides. */
	if (in && !g->orig)
		*until = from;
	else if (!in && g->orig)
		*back = from;
	return now_in;
}

/*
 * Apply one list's ops (sorted by address, then edit order). An address
 * in the list now becomes one member at its last edit's line, expiring
 * when its first stretch of membership ends; originals of that address
 * stay only when the stretch never ends (they are permanent). An address
 * out now loses its originals, wherever they came from (inline, list file
 * or an earlier add).
 */
static void apply_list_ops(struct collect *c, struct eff_list *l,
			   const struct list_op *ops, size_t nops)
{
	struct addr_ops *g = fwd_xreallocarray(NULL, nops, sizeof(*g));
	size_t ng = 0, nadds = 0, n = 0;

	for (size_t i = 0, j; i < nops; i = j) {
		for (j = i + 1; j < nops && addr_cmp(&ops[j].e->addr,
						     &ops[i].e->addr) == 0; j++)
			;
		g[ng++] = (struct addr_ops){ .ops = ops + i, .n = j - i };
	}
	for (size_t i = 0; i < l->n; i++) {
		struct addr_ops *hit = bsearch(&l->addrs[i], g, ng, sizeof(*g),
					       bsearch_group);

		if (hit)
			hit->orig = true;
	}
	for (size_t k = 0; k < ng; k++) {
		uint64_t back;

		g[k].add = addr_timeline(&g[k], c->now, &g[k].until, &back);
		g[k].keep_orig = g[k].add && g[k].until == 0;
		nadds += g[k].add;
		if (back && (!c->recompile_at || back < c->recompile_at))
			c->recompile_at = back;
	}
	l->own_addrs = fwd_xreallocarray(NULL, l->n + nadds + 1,
					 sizeof(*l->own_addrs));
	l->own_locs = fwd_xreallocarray(NULL, l->n + nadds + 1,
					sizeof(*l->own_locs));
	l->own_xrs = fwd_xreallocarray(NULL, l->n + nadds + 1,
				       sizeof(*l->own_xrs));
	for (size_t i = 0; i < l->n; i++) {
		const struct addr_ops *hit = bsearch(&l->addrs[i], g, ng,
						     sizeof(*g), bsearch_group);

		if (hit && !hit->keep_orig)
			continue;
		l->own_addrs[n] = l->addrs[i];
		l->own_xrs[n] = l->xrs ? l->xrs[i] : XR_PERM;
		l->own_locs[n++] = l->locs ? l->locs[i] : *l->loc;
	}
	for (size_t k = 0; k < ng; k++) {
		const struct fwd_edit *last = g[k].ops[g[k].n - 1].e;

		if (!g[k].add)
			continue;
		l->own_addrs[n] = last->addr;
		l->own_xrs[n] = xr_of(c, g[k].until);
		l->own_locs[n++] = last->loc;
	}
	l->addrs = l->own_addrs;
	l->locs = l->own_locs;
	l->xrs = l->own_xrs;
	l->n = n;
	free(g);
}

static void build_lists(struct collect *c, const struct fwd_policy *p)
{
	struct list_op *ops = NULL;
	size_t nops = 0, cap = 0;

	/* At most one new list per list-add edit. */
	c->lists = fwd_xcalloc(p->nlists + p->nedits + 1, sizeof(*c->lists));
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *src = &p->lists[i];

		c->lists[i] = (struct eff_list){
			.name = src->name, .addrs = src->addrs,
			.locs = src->locs, .loc = &src->loc, .n = src->n,
		};
	}
	c->nlists = p->nlists;

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		const struct eff_list *l;

		if ((e->kind != FWD_EDIT_LIST_ADD &&
		     e->kind != FWD_EDIT_LIST_DEL) || !edit_live(e, c->now) ||
		    !addr_ok(&e->addr))
			continue;
		l = find_list(c, e->list);
		if (!l && e->kind == FWD_EDIT_LIST_DEL)
			continue;	/* nothing to take away */
		if (!l) {
			/* list add NAME creates the list. */
			c->lists[c->nlists] = (struct eff_list){
				.name = e->list, .loc = &e->loc,
			};
			l = &c->lists[c->nlists++];
		}
		FWD_GROW(ops, cap, nops + 1);
		ops[nops++] = (struct list_op){
			(size_t)(l - c->lists), i, e,
		};
	}
	if (nops)
		qsort(ops, nops, sizeof(*ops), list_op_cmp);
	for (size_t i = 0, j; i < nops; i = j) {
		for (j = i; j < nops && ops[j].list == ops[i].list; j++)
			;
		apply_list_ops(c, &c->lists[ops[i].list], ops + i, j - i);
	}
	free(ops);
}

static void free_lists(struct collect *c)
{
	for (size_t i = 0; i < c->nlists; i++) {
		free(c->lists[i].own_addrs);
		free(c->lists[i].own_locs);
		free(c->lists[i].own_xrs);
	}
	free(c->lists);
}

/*
 * Everything the policy asks for, in policy order. Run twice: once
 * counting (to size every bucket exactly: at 1M entries, growing by
 * doubling copied more bytes than the sort moved), once filling.
 */
static int collect_all(struct collect *c, const struct fwd_policy *p)
{
	for (size_t i = 0; i < p->nservices; i++) {
		int ret = collect_service(c, &p->services[i]);

		if (ret)
			return ret;
	}
	return collect_edits(c, p);
}

static int collect(struct collect *c, const struct fwd_policy *p)
{
	int ret;

	build_expiries(c, p);
	build_lists(c, p);
	c->counting = true;
	ret = collect_all(c, p);
	if (ret)
		return ret;
	for (size_t i = 0; i < c->ir->nsets; i++) {
		struct fwd_ir_set *s = &c->sets[i];

		if (!c->need[i])
			continue;
		if (!s->interval && !s->elems) {
			bucket_in_set(&c->b[i], s, c->need[i]);
			continue;
		}
		c->b[i].v = big_array(c->need[i], sizeof(*c->b[i].v));
		c->b[i].cap = c->need[i];
	}
	c->counting = false;
	c->ord = 0;
	return collect_all(c, p);
}

uint64_t fwd_ir_next_expiry(const struct fwd_policy *p, uint64_t now)
{
	uint64_t next = 0;

	for (size_t i = 0; i < p->nedits; i++) {
		uint64_t x = p->edits[i].expires;

		if (x > now && (next == 0 || x < next))
			next = x;
	}
	return next;
}

/* ---- lists as fwctl shows them ---- */

static int member_cmp(const void *pa, const void *pb)
{
	return addr_cmp(pa, pb);
}

/* The list del edits in force on l whose address is no member now. */
static void view_removed(const struct fwd_policy *p, uint64_t now,
			 struct fwd_list_view *v)
{
	struct fwd_addr *in = fwd_xreallocarray(NULL, v->n + 1, sizeof(*in));

	for (size_t i = 0; i < v->n; i++)
		in[i] = v->m[i].addr;
	qsort(in, v->n, sizeof(*in), member_cmp);
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind != FWD_EDIT_LIST_DEL || !edit_live(e, now) ||
		    strcmp(e->list, v->name) ||
		    bsearch(&e->addr, in, v->n, sizeof(*in), member_cmp))
			continue;
		v->removed = fwd_xreallocarray(v->removed, v->nremoved + 1,
					       sizeof(*v->removed));
		v->removed[v->nremoved++] = (struct fwd_list_member){
			.addr = e->addr, .loc = e->loc, .expires = e->expires,
			.runtime = e->runtime,
		};
	}
	free(in);
}

/*
 * Which members made live come from a --runtime edit (not saved: gone when
 * fwd restarts). A member made by edits has the loc of the last list add
 * or del in force naming its address (apply_list_ops), so that edit's
 * runtime is the member's; a member a file holds (loc.file set) never is.
 * The list's edits sorted once, a binary search per member made live.
 */
static void view_runtime(const struct fwd_policy *p, uint64_t now,
			 struct fwd_list_view *v)
{
	struct list_op *ops = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind != FWD_EDIT_LIST_ADD && e->kind != FWD_EDIT_LIST_DEL) ||
		    !edit_live(e, now) || strcmp(e->list, v->name))
			continue;
		FWD_GROW(ops, cap, n + 1);
		ops[n++] = (struct list_op){ 0, i, e };
	}
	if (n > 1)
		qsort(ops, n, sizeof(*ops), list_op_cmp);
	for (size_t k = 0; k < v->n && n; k++) {
		struct fwd_list_member *m = &v->m[k];
		size_t lo = 0, hi = n;

		if (m->loc.file)
			continue;
		/* The first op past the address: the one before it is the
		 * address's last edit, if it names the address at all. */
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (addr_cmp(&ops[mid].e->addr, &m->addr) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		m->runtime = lo > 0 && addr_cmp(&ops[lo - 1].e->addr, &m->addr) == 0 &&
			     ops[lo - 1].e->runtime;
	}
	free(ops);
}

size_t fwd_lists_view(const struct fwd_policy *p, uint64_t now,
		      struct fwd_list_view **out)
{
	struct collect c = { .now = now };
	struct fwd_list_view *v;
	size_t n;

	/* The compiler's own fold of the edits into the lists, so that
	 * what fwctl shows is what the kernel was given. */
	build_expiries(&c, p);
	build_lists(&c, p);
	v = fwd_xcalloc(c.nlists + 1, sizeof(*v));
	for (size_t i = 0; i < c.nlists; i++) {
		const struct eff_list *l = &c.lists[i];

		v[i].name = l->name;
		v[i].n = l->n;
		v[i].m = fwd_xreallocarray(NULL, l->n + 1, sizeof(*v[i].m));
		for (size_t k = 0; k < l->n; k++)
			v[i].m[k] = (struct fwd_list_member){
				.addr = l->addrs[k],
				.loc = l->locs ? l->locs[k] : *l->loc,
				.expires = l->xrs ? xr_expires(c.xv, l->xrs[k]) : 0,
			};
		view_runtime(p, now, &v[i]);
		view_removed(p, now, &v[i]);
	}
	*out = v;
	n = c.nlists;
	free(c.xv);
	free_lists(&c);
	return n;
}

void fwd_lists_view_free(struct fwd_list_view *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].m);
		free(v[i].removed);
	}
	free(v);
}

/* ---- chains ---- */

#define CT_EST_REL (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | \
		    NF_CT_STATE_BIT(IP_CT_RELATED))

static const uint8_t icmp4_essential[] = { 3, 8, 11, 12 };
static const uint8_t icmp6_essential[] = { 1, 2, 3, 4, 128 };
/* MLD query/report/done, RS, RA, NS, NA, MLDv2 report. */
static const uint8_t icmp6_nd[] = { 130, 131, 132, 133, 134, 135, 136, 143 };

static struct fwd_ir_rule *rule_add(struct fwd_ir_chain *ch,
				    enum fwd_ir_verdict v)
{
	struct fwd_ir_rule *r;

	FWD_GROW(ch->rules, ch->cap, ch->n + 1);
	r = &ch->rules[ch->n++];
	memset(r, 0, sizeof(*r));
	r->verdict = v;
	return r;
}

static struct fwd_ir_match *match_add(struct fwd_ir_rule *r,
				      enum fwd_ir_match_kind k)
{
	struct fwd_ir_match *m = &r->m[r->nm++];

	m->kind = k;
	return m;
}

static void rule_simple(struct fwd_ir_chain *ch, enum fwd_ir_match_kind k,
			uint32_t u32, enum fwd_ir_verdict v)
{
	match_add(rule_add(ch, v), k)->u32 = u32;
}

static void rule_lookup(struct fwd_ir_chain *ch, enum fwd_ir_match_kind k,
			unsigned set, enum fwd_ir_verdict v, bool counter)
{
	struct fwd_ir_rule *r = rule_add(ch, v);

	match_add(r, k)->set = set;
	r->counter = counter;
}

static void rule_types(struct fwd_ir_chain *ch, enum fwd_ir_match_kind k,
		       const uint8_t *t, unsigned n)
{
	struct fwd_ir_match *m = match_add(rule_add(ch, FWD_V_ACCEPT), k);

	memcpy(m->types, t, n);
	m->ntypes = n;
}

/* A rate-limited log rule, optionally behind a set lookup; no verdict. */
static void rule_log(struct fwd_ir_chain *ch, const char *prefix,
		     enum fwd_ir_match_kind lk, int set)
{
	struct fwd_ir_rule *r = rule_add(ch, FWD_V_CONTINUE);
	struct fwd_ir_match *m;

	if (set >= 0)
		match_add(r, lk)->set = (unsigned)set;
	m = match_add(r, FWD_M_LIMIT);
	m->u32 = 10;
	m->u32b = 20;
	r->log = true;
	snprintf(r->log_prefix, sizeof(r->log_prefix), "%s", prefix);
}

/*
 * `fwctl deny`: reject what the deny sets hold, before the allowlists and
 * whatever the chain policy. TCP gets a reset, the rest ICMP(v6)
 * admin-prohibited, so a client learns at once that it is refused.
 */
static void deny_rules(struct fwd_ir_chain *ch, const struct dir_sets *ds,
		       enum fwd_ir_match_kind lk)
{
	const int sets[] = { ds->host4, ds->host6, ds->open };

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		struct fwd_ir_rule *r = rule_add(ch, FWD_V_REJECT_TCP_RST);

		/*
		 * Lookup first: with `meta l4proto tcp` in front nft takes it
		 * for the dependency of th dport and lists `tcp dport`, so
		 * the table would no longer list as it renders.
		 */
		match_add(r, lk)->set = (unsigned)sets[i];
		match_add(r, FWD_M_L4PROTO)->u32 = IPPROTO_TCP;
		/* Counted per rule, after the protocol match: the deny
		 * sets' element counters count a UDP packet twice (both
		 * lookups match), these count each refused packet once
		 * (`fwctl stats`: refused by deny). */
		r->counter = true;
		rule_lookup(ch, lk, (unsigned)sets[i], FWD_V_REJECT_ICMPX, true);
	}
}

/*
 * Anti-spoofing ([defaults] rpfilter): drop a packet whose source address
 * has no route back through the interface it came in on (strict), or no
 * route back at all (loose), before anything believes that address. The
 * lookup takes the packet mark into account, as firewalld's does, so that
 * fwmark policy routing (wg-quick restores its tunnel's mark on replies)
 * finds the route back it really uses.
 *
 * In the input chain rather than a new prerouting one: fwd guards what is
 * delivered to this host, and a prerouting check would also judge traffic
 * the host only forwards (containers, VMs, a router's transit), which no
 * fwd policy speaks about. The table keeps its two base chains, which
 * readback, doctor and the state file know. The kernel allows `fib ... iif`
 * in the input hook; what older kernels' fib does by itself only in
 * prerouting (let DAD's `::` sources through) the ND/MLD accept in front
 * of this rule does here, on every kernel.
 * Before `ct state established,related accept`: a packet that claims to
 * belong to a known connection gets no pass either (the e2e test's spoofer
 * tries to take over an established flow), as with the kernel's own
 * rp_filter, which checks every packet.
 */
static void rpfilter_rule(struct fwd_ir_chain *ch, const struct fwd_policy *p,
			  struct file_map *fm)
{
	uint32_t flags = NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK;
	struct fwd_ir_rule *r;

	if (p->rpfilter == FWD_RPF_NO)
		return;
	if (p->rpfilter == FWD_RPF_STRICT)
		flags |= NFTA_FIB_F_IIF;
	r = rule_add(ch, FWD_V_DROP);
	match_add(r, FWD_M_RPF_MISSING)->u32 = flags;
	/* A kernel without nft_fib refuses this rule: the error then names
	 * the rpfilter line, else the [defaults] header, if there is one. */
	r->loc = map_loc(fm, p->rpfilter_loc.file || p->rpfilter_loc.line ?
			 &p->rpfilter_loc : &p->defaults_loc);
}

/*
 * The queue step (ir.h, fwd_ir_queue): what no rule decided, if it opens
 * a connection, first through the per-source meter, then to the loop.
 * `ct state new` is explicit although established, related and invalid
 * packets are gone by now: untracked packets must not be queued.
 */
static void queue_rules(struct fwd_ir_chain *ch, const struct fwd_ir_queue *q)
{
	const uint32_t fam[] = { NFPROTO_IPV4, NFPROTO_IPV6 };
	struct fwd_ir_rule *r;

	for (size_t i = 0; q->meter && i < 2; i++) {
		r = rule_add(ch, FWD_V_DROP);
		match_add(r, FWD_M_CT_STATE)->u32 = NF_CT_STATE_BIT(IP_CT_NEW);
		match_add(r, FWD_M_METER)->u32 = fam[i];
		r->counter = true;
	}
	rule_simple(ch, FWD_M_CT_STATE, NF_CT_STATE_BIT(IP_CT_NEW),
		    FWD_V_QUEUE);
}

static void class_rules(struct fwd_ir_chain *ch, const struct fwd_ir *ir,
			bool out);

static void build_chain(struct fwd_ir_chain *ch, const struct fwd_policy *p,
			struct file_map *fm, const struct fwd_ir *ir, bool out)
{
	const struct fwd_ir_queue *q = &ir->queue;
	enum fwd_action act = out ? p->outbound : p->inbound;
	enum fwd_ir_match_kind lk = out ? FWD_M_LOOKUP_DST : FWD_M_LOOKUP_SRC;
	const struct dir_sets *ds = out ? &allow_out : &allow_in;
	const int lookups[] = { ds->host4, ds->net4, ds->host6, ds->net6,
				ds->open };

	snprintf(ch->name, sizeof(ch->name), "%s", out ? "output" : "input");
	ch->hook = out ? NF_INET_LOCAL_OUT : NF_INET_LOCAL_IN;
	ch->prio = 0;
	ch->policy_accept = act == FWD_ALLOW;

	/*
	 * With outbound = allow the output chain only enforces the blocklist
	 * and `fwctl deny ... to`: every further rule would cost each packet
	 * the host sends and accept what the policy accepts anyway. Packets
	 * of established flows skip the deny lookups (cheaper, and a deny
	 * acts on new connections, as on input).
	 */
	/* The block rules count what they drop (`fwctl stats`); the block
	 * sets have no element counters (guard blocks come and go). */
	if (out && act == FWD_ALLOW) {
		rule_lookup(ch, lk, FWD_SET_BLOCK4, FWD_V_DROP, true);
		rule_lookup(ch, lk, FWD_SET_BLOCK6, FWD_V_DROP, true);
		rule_simple(ch, FWD_M_CT_STATE, CT_EST_REL, FWD_V_ACCEPT);
		deny_rules(ch, &deny_out, lk);
		return;
	}

	rule_simple(ch, out ? FWD_M_OIF_LO : FWD_M_IIF_LO, 0, FWD_V_ACCEPT);
	rule_lookup(ch, lk, FWD_SET_BLOCK4, FWD_V_DROP, true);
	rule_lookup(ch, lk, FWD_SET_BLOCK6, FWD_V_DROP, true);
	/*
	 * Neighbour discovery and MLD before the reverse-path check and the
	 * invalid drop, whatever the icmp setting: DAD and MLD speak from
	 * the unspecified address `::`, which has no route back, and a host
	 * solicits from the source of the packet it wants to send, whatever
	 * the route back to that is; conntrack does not track them as
	 * connections; and IPv6 stops working without them. The kernel keeps
	 * them on the link (hop limit 255). The output chain has them in the
	 * same place, so both read alike.
	 */
	rule_types(ch, FWD_M_ICMPV6_TYPES, icmp6_nd, sizeof(icmp6_nd));
	if (!out)
		rpfilter_rule(ch, p, fm);
	rule_simple(ch, FWD_M_CT_STATE, CT_EST_REL, FWD_V_ACCEPT);
	rule_simple(ch, FWD_M_CT_STATE, NF_CT_STATE_INVALID_BIT, FWD_V_DROP);

	switch (p->icmp) {
	case FWD_ICMP_ESSENTIAL:
		rule_types(ch, FWD_M_ICMP_TYPES, icmp4_essential,
			   sizeof(icmp4_essential));
		rule_types(ch, FWD_M_ICMPV6_TYPES, icmp6_essential,
			   sizeof(icmp6_essential));
		break;
	case FWD_ICMP_ALL:
		rule_simple(ch, FWD_M_L4PROTO, IPPROTO_ICMP, FWD_V_ACCEPT);
		rule_simple(ch, FWD_M_L4PROTO, IPPROTO_ICMPV6, FWD_V_ACCEPT);
		break;
	case FWD_ICMP_NONE:
		break;
	}

	deny_rules(ch, out ? &deny_out : &deny_in, lk);

	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
		/*
		 * log = all: a rate-limited log twin in front of each accept.
		 * Established flows were accepted above, so only the first
		 * packet of a flow pays the second lookup.
		 */
		if (p->log == FWD_LOG_ALL)
			rule_log(ch, out ? "fwd accept out: " : "fwd accept in: ",
				 lk, lookups[i]);
		rule_lookup(ch, lk, (unsigned)lookups[i], FWD_V_ACCEPT, true);
	}
	class_rules(ch, ir, out);

	/*
	 * A chain whose policy is accept drops nothing: nothing to log. The
	 * log rule comes before the queue step: a queue verdict is final, so
	 * after it the rule would never see a packet, and `log = denied` must
	 * keep working while the verdict loop is not running. It is
	 * rate-limited; while the loop runs, both it and the loop's records
	 * see a denied packet.
	 */
	if (act != FWD_ALLOW && p->log != FWD_LOG_OFF)
		rule_log(ch, out ? "fwd drop out: " : "fwd drop in: ", lk, -1);
	if (!out && act != FWD_ALLOW && q->on)
		queue_rules(ch, q);

	/* The default's rules are counted: what the policy refused
	 * (`fwctl stats`: dropped by default-deny). The chain policy
	 * itself has no counter; nothing reaches it past these rules. */
	if (act == FWD_REJECT) {
		rule_simple(ch, FWD_M_L4PROTO, IPPROTO_TCP,
			    FWD_V_REJECT_TCP_RST);
		ch->rules[ch->n - 1].counter = true;
		rule_add(ch, FWD_V_REJECT_ICMPX)->counter = true;
	} else if (act == FWD_DENY) {
		/*
		 * An explicit final drop, although the policy says drop too:
		 * when a transaction deletes and re-creates the table, the
		 * new base chain is hooked before its drop policy is in force
		 * (the kernel sets the policy late in the commit), and for
		 * that moment it would end in accept. Measured: without this
		 * rule a denied host got packets in during re-applies.
		 */
		rule_add(ch, FWD_V_DROP)->counter = true;
	}
}

/* ---- restricted classes (ir.h, fwd_ir_class) ---- */

/*
 * `limit = N / WINDOW` as nft can say it: the smallest unit (second,
 * minute, hour, day) in which the rate is a whole number (3/2s is
 * 90/minute, 6/30s 12/minute); failing that, per day rounded up (5/7s:
 * 61715/day). The burst is N, so N connections at once pass and the
 * N+1st is dropped.
 */
static void limit_rate(uint32_t limit_n, uint32_t limit_w, uint32_t *rate,
		       uint32_t *period_s, uint32_t *burst)
{
	static const uint32_t units[] = { 1, 60, 3600, 86400 };
	uint64_t n = limit_n, w = limit_w ? limit_w : 1;

	*burst = limit_n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t r = (n * units[i] + w - 1) / w;

		*period_s = units[i];
		*rate = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
		if (n * units[i] % w == 0)
			break;
	}
}

const char *fwd_ir_fixed_set(unsigned i, enum fwd_ir_key *key, bool *interval)
{
	if (i >= FWD_SET_COUNT)
		return NULL;
	*key = set_shape[i].key;
	*interval = set_shape[i].interval;
	return set_shape[i].name;
}

void fwd_ir_limit_rate(uint32_t limit_n, uint32_t limit_w, uint32_t *rate,
		       uint32_t *period_s, uint32_t *burst)
{
	limit_rate(limit_n, limit_w, rate, period_s, burst);
}

static void class_limit(struct fwd_ir_class *k)
{
	limit_rate(k->limit_n, k->limit_w, &k->rate, &k->period_s, &k->burst);
}

static void set_init(struct fwd_ir_set *s, const char *name, const char *sfx,
		     enum fwd_ir_key key, bool counter)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s%s", name, sfx);
	s->key = key;
	s->interval = true;
	s->timeout = true;
	s->counter = counter;
}

static void class_add(struct fwd_ir *ir, const struct fwd_policy *p,
		      enum fwd_dir dir, const struct fwd_restrict *rs,
		      const struct fwd_loc *loc, struct file_map *fm)
{
	struct fwd_ir_class *k;

	if (!fwd_restrict_on(rs) || class_find(ir, dir, rs) >= 0)
		return;
	ir->classes = fwd_xreallocarray(ir->classes, ir->nclasses + 1,
					sizeof(*ir->classes));
	k = &ir->classes[ir->nclasses];
	memset(k, 0, sizeof(*k));
	snprintf(k->name, sizeof(k->name), "cls%zu", ir->nclasses);
	k->out = dir == FWD_DIR_OUT;
	memcpy(k->ifname, rs->ifname, sizeof(k->ifname));
	k->ifname[sizeof(k->ifname) - 1] = '\0';
	if (rs->limit_n) {
		k->limit_n = rs->limit_n;
		k->limit_w = rs->limit_w;
		class_limit(k);
	}
	k->loc = map_loc(fm, loc);
	ir->sets = fwd_xreallocarray(ir->sets, ir->nsets + 2, sizeof(*ir->sets));
	k->set4 = (unsigned)ir->nsets;
	k->set6 = (unsigned)ir->nsets + 1;
	set_init(&ir->sets[k->set4], k->name, "_4", FWD_KEY_ADDR4_PROTO_PORT,
		 p->counters);
	set_init(&ir->sets[k->set6], k->name, "_6", FWD_KEY_ADDR6_PROTO_PORT,
		 p->counters);
	ir->nsets += 2;
	ir->nclasses++;
}

/* Every class the services and the allow edits in force name, in policy
 * order, with its two sets appended after the fixed ones. */
static void build_classes(struct fwd_ir *ir, const struct fwd_policy *p,
			  uint64_t now, struct file_map *fm)
{
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		class_add(ir, p, sv->dir, &sv->rs,
			  sv->iface_loc.line ? &sv->iface_loc : &sv->limit_loc, fm);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_ALLOW && edit_live(e, now))
			class_add(ir, p, e->dir, &e->rs, &e->loc, fm);
	}
}

static struct dir_sets *class_sets(const struct fwd_ir *ir)
{
	struct dir_sets *v = fwd_xcalloc(ir->nclasses + 1, sizeof(*v));

	for (size_t k = 0; k < ir->nclasses; k++) {
		int s4 = (int)ir->classes[k].set4, s6 = (int)ir->classes[k].set6;

		v[k] = (struct dir_sets){ s4, s4, s6, s6, -1 };
	}
	return v;
}

/* One class's rules, per family: [meter drop,] accept. */
static void class_rules_one(struct fwd_ir_chain *ch, const struct fwd_ir *ir,
			    size_t k)
{
	const struct fwd_ir_class *x = &ir->classes[k];
	enum fwd_ir_match_kind lk = x->out ? FWD_M_LOOKUP_DST : FWD_M_LOOKUP_SRC;
	enum fwd_ir_match_kind ik = x->out ? FWD_M_OIFNAME : FWD_M_IIFNAME;

	for (int v6 = 0; v6 < 2; v6++) {
		unsigned set = v6 ? x->set6 : x->set4;
		struct fwd_ir_rule *r;
		struct fwd_ir_match *m;

		if (x->limit_n) {
			r = rule_add(ch, FWD_V_DROP);
			if (x->ifname[0])
				match_add(r, ik)->u32 = (uint32_t)k;
			match_add(r, lk)->set = set;
			m = match_add(r, FWD_M_CLASS_METER);
			m->u32 = v6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
			m->set = (unsigned)k;
			r->counter = true;
			r->loc = x->loc;
		}
		r = rule_add(ch, FWD_V_ACCEPT);
		if (x->ifname[0])
			match_add(r, ik)->u32 = (uint32_t)k;
		match_add(r, lk)->set = set;
		r->counter = true;
		r->loc = x->loc;
	}
}

/*
 * After the shared allowlists: a source they accept is accepted whatever a
 * class says, so an unlimited `allow = @admins` beside a limited `allow =
 * any` on the same port keeps the admins unlimited. For the same reason
 * the classes without a limit (interface only) come before the limited
 * ones: a host on the inside interface that an unlimited class accepts is
 * not dropped by a limit meant for everyone. Per limited class and
 * family, the meter's drop (counted: what `fwctl stats` reads as
 * @clsK_m4) before the accept.
 */
static void class_rules(struct fwd_ir_chain *ch, const struct fwd_ir *ir,
			bool out)
{
	for (int limited = 0; limited < 2; limited++)
		for (size_t k = 0; k < ir->nclasses; k++)
			if (ir->classes[k].out == out &&
			    (ir->classes[k].limit_n != 0) == limited)
				class_rules_one(ch, ir, k);
}

/* ---- the whole ---- */

static void fill_sets(struct fwd_ir *ir, struct collect *c,
		      struct file_map *fm)
{
	for (size_t i = 0; i < ir->nsets; i++) {
		struct fwd_ir_set *s = &ir->sets[i];
		struct bucket *b = &c->b[i];

		if (b->n == 0)
			continue;
		if (!s->interval)
			norm_hash(b, s, fm, fwd_ir_key_addr_len(s->key), c->xv);
		else if (s->key == FWD_KEY_PROTO_PORT)
			norm_open(b, s, fm, c->xv);
		else
			norm_net(b, s, fm, fwd_ir_key_addr_len(s->key), c->xv);
		/* The raw entries are done with: give the memory back early. */
		bucket_free(b);
	}
}

static bool period_ok(uint32_t s)
{
	return s == 1 || s == 60 || s == 3600 || s == 86400 || s == 604800;
}

static int check_queue(const struct fwd_ir_queue *q, struct fwd_diags *d)
{
	const char *why = NULL;

	if (!q->on)
		return 0;
	if (q->total == 0 || (uint32_t)q->num + q->total > 65536u)
		why = "queue numbers out of range (total must be 1 or more, "
		      "and the last queue 65535 at most)";
	else if (q->meter && (q->rate == 0 || !period_ok(q->period_s)))
		why = "flood meter: the rate must be 1 or more per second, "
		      "minute, hour, day or week";
	if (!why)
		return 0;
	fwd_diags_add(d, NULL, 0, "%s", why);
	return -EINVAL;
}

/*
 * The per-second, -minute or -hour rate nft can say for `flood = N /
 * WINDOW`, at TWICE the guard's count: the smallest unit in which the rate
 * is at least 1 (rounded up), with a burst of 2N. The guard must see a
 * flood cross its own threshold (N+1 new flows in a window) to block the
 * source; a meter at exactly N would hand it at most N, and the source
 * would never be blocked, only metered. At 2N the kernel still keeps the
 * rest of a flood out of userspace.
 */
static void flood_meter(const struct fwd_guard_conf *g, struct fwd_ir_queue *q)
{
	static const uint32_t units[] = { 1, 60, 3600, 86400 };
	uint64_t w = g->flood_window ? g->flood_window : 1;
	uint64_t n = 2 * (uint64_t)g->flood_rate;

	q->meter = true;
	q->burst = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		uint64_t r = (n * units[i] + w - 1) / w;

		q->period_s = units[i];
		q->rate = r > UINT32_MAX ? UINT32_MAX : (uint32_t)r;
		if (n * units[i] >= w)
			break;
	}
}

void fwd_queue_from_policy(const struct fwd_policy *p, bool native,
			   struct fwd_ir_queue *q)
{
	memset(q, 0, sizeof(*q));
	if (!p->guard.on)
		return;
	q->on = true;
	q->native = native;
	q->num = 0;
	q->total = (uint16_t)(p->queues ? p->queues : 1);
	if (p->guard.flood_rate)
		flood_meter(&p->guard, q);
}

int fwd_compile_at(const struct fwd_policy *p, uint64_t now,
		   struct fwd_ir **out, struct fwd_diags *d)
{
	return fwd_compile_opts_at(p, now, NULL, out, d);
}

int fwd_compile_opts_at(const struct fwd_policy *p, uint64_t now,
			const struct fwd_compile_opts *o, struct fwd_ir **out,
			struct fwd_diags *d)
{
	static const struct fwd_compile_opts none = { 0 };
	struct collect c = { .now = now, .d = d };
	struct fwd_ir *ir = fwd_xcalloc(1, sizeof(*ir));
	struct file_map fm = { .ir = ir };
	struct fwd_ir_queue q;
	int ret;

	*out = NULL;
	if (!o)
		o = &none;
	/* An explicit queue step (tests, bench) stands; else [guard] says. */
	if (o->queue.on)
		q = o->queue;
	else
		fwd_queue_from_policy(p, o->native_queue, &q);
	ret = check_queue(&q, d);
	if (ret) {
		free(ir);
		return ret;
	}
	ir->queue = q;
	if (!ir->queue.on)
		memset(&ir->queue, 0, sizeof(ir->queue));
	else if (!ir->queue.meter)
		ir->queue.rate = ir->queue.period_s = ir->queue.burst = 0;
	else if (!ir->queue.burst)
		ir->queue.burst = 5;	/* nft's default, made explicit */
	ir->sets = fwd_xcalloc(FWD_SET_COUNT, sizeof(*ir->sets));
	ir->chains = fwd_xcalloc(FWD_CHAIN_COUNT, sizeof(*ir->chains));
	ir->nsets = FWD_SET_COUNT;
	ir->nchains = FWD_CHAIN_COUNT;
	for (int i = 0; i < FWD_SET_COUNT; i++) {
		snprintf(ir->sets[i].name, sizeof(ir->sets[i].name), "%s",
			 set_shape[i].name);
		ir->sets[i].key = set_shape[i].key;
		ir->sets[i].interval = set_shape[i].interval;
		ir->sets[i].timeout = true;
		ir->sets[i].counter = set_shape[i].counter && p->counters;
	}

	build_classes(ir, p, now, &fm);
	c.ir = ir;
	c.sets = ir->sets;
	c.cds = class_sets(ir);
	c.b = fwd_xcalloc(ir->nsets, sizeof(*c.b));
	c.need = fwd_xcalloc(ir->nsets, sizeof(*c.need));
	ret = collect(&c, p);
	if (ret == 0)
		fill_sets(ir, &c, &fm);	/* needs c.lists: locs point there */
	for (size_t i = 0; i < ir->nsets; i++)
		bucket_free(&c.b[i]);
	free(c.b);
	free(c.need);
	free(c.cds);
	free_lists(&c);
	free(c.xv);
	ir->recompile_at = c.recompile_at;
	if (ret) {
		fwd_ir_free(ir);
		return ret;
	}
	build_chain(&ir->chains[FWD_CHAIN_INPUT], p, &fm, ir, false);
	build_chain(&ir->chains[FWD_CHAIN_OUTPUT], p, &fm, ir, true);
	ret = fwd_outbound_compile(p, ir, o->unit_id, o->unit_arg, d);
	if (ret) {
		fwd_ir_free(ir);
		return ret;
	}
	if (fwd_policy_has_programs(p) && p->outbound != FWD_ALLOW) {
		/* The per-owner meter (program_limit) is always there: a
		 * local user can always try to flood the queue. */
		uint16_t nq = o->prog_queues > FWD_PROG_QUEUES_MAX ?
			      FWD_PROG_QUEUES_MAX : o->prog_queues;

		ir->prog = (struct fwd_ir_queue){ .on = true,
			.native = o->native_queue, .num = FWD_PROG_QUEUE,
			.total = nq > 1 ? nq : 1, .fanout = nq > 1,
			.meter = true };
		limit_rate(p->prog_limit_n, p->prog_limit_w, &ir->prog.rate,
			   &ir->prog.period_s, &ir->prog.burst);
		ir->prog_text = fwd_progrules_text(p);
	}
	*out = ir;
	return 0;
}

int fwd_compile(const struct fwd_policy *p, struct fwd_ir **out,
		struct fwd_diags *d)
{
	return fwd_compile_at(p, (uint64_t)time(NULL), out, d);
}

/* ---- evaluation: what a chain does with a new connection ---- */

/* Order of a probe against an element's lower corner, as elem_cmp. */
static int probe_cmp(const struct fwd_ir_elem *e, const uint8_t *addr,
		     unsigned alen, uint8_t proto, uint16_t port)
{
	int c = alen ? memcmp(addr, e->lo, alen) : 0;

	if (c)
		return c;
	if (proto != e->proto)
		return proto < e->proto ? -1 : 1;
	return port < e->plo ? -1 : port > e->plo;
}

static const struct fwd_ir_elem *set_lookup(const struct fwd_ir_set *s,
					    const uint8_t *addr, uint8_t proto,
					    uint16_t port)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	size_t lo = 0, hi = s->n;

	/* Elements are sorted by lower corner: the first one past the probe
	 * and everything after it cannot hold it. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (probe_cmp(&s->elems[mid], addr, alen, proto, port) < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (!s->interval)
		return lo > 0 && fwd_ir_elem_has(s, &s->elems[lo - 1], addr,
						 proto, port) ?
		       &s->elems[lo - 1] : NULL;
	/* An interval element with a lower corner before the probe may
	 * still reach it: look back over all of them. */
	for (size_t i = lo; i-- > 0;)
		if (fwd_ir_elem_has(s, &s->elems[i], addr, proto, port))
			return &s->elems[i];
	return NULL;
}

static bool match_one(const struct fwd_ir *ir, const struct fwd_ir_match *m,
		      int family, const uint8_t *addr, uint8_t proto,
		      uint16_t port, const struct fwd_explain_who *who,
		      int *set, const struct fwd_ir_elem **elem)
{
	const struct fwd_ir_set *s;
	unsigned alen;

	switch (m->kind) {
	case FWD_M_IIF_LO:
	case FWD_M_OIF_LO:
		return false;			/* not on loopback */
	case FWD_M_CT_STATE:
		return (m->u32 & NF_CT_STATE_BIT(IP_CT_NEW)) != 0;
	case FWD_M_NFPROTO:
		return m->u32 == (family == AF_INET ? NFPROTO_IPV4 :
				  NFPROTO_IPV6);
	case FWD_M_L4PROTO:
		return m->u32 == proto;
	case FWD_M_ICMP_TYPES:
	case FWD_M_ICMPV6_TYPES:
		return false;			/* no ICMP type in a probe */
	case FWD_M_LIMIT:
		return true;			/* under the rate */
	case FWD_M_RPF_MISSING:
		return false;			/* came in where its route back is */
	case FWD_M_METER:
	case FWD_M_CLASS_METER:
	case FWD_M_PROG_METER:
		return false;			/* a first packet: under it */
	case FWD_M_CT_LABEL:
		return false;			/* a first packet: no label yet */
	case FWD_M_IIFNAME:
	case FWD_M_OIFNAME:
		/* A probe names no interface: taken to come in (go out)
		 * where the class allows; explain says which one. */
		return m->u32 < ir->nclasses;
	case FWD_M_LOOKUP_SRC:
	case FWD_M_LOOKUP_DST:
		if (m->set >= ir->nsets)
			return false;
		s = &ir->sets[m->set];
		alen = fwd_ir_key_addr_len(s->key);
		if (alen && alen != (family == AF_INET ? 4u : 16u))
			return false;		/* the other family's set */
		*elem = fwd_ir_key_id_len(s->key) ?
			fwd_owner_lookup_at(s, m->u32, who, addr, proto, port) :
			set_lookup(s, addr, proto, port);
		*set = *elem ? (int)m->set : -1;
		return *elem != NULL;
	}
	return false;
}

int fwd_ir_explain(const struct fwd_ir *ir, unsigned chain, int family,
		   const uint8_t addr[16], uint8_t proto, uint16_t port,
		   struct fwd_explain *out)
{
	return fwd_ir_explain_who(ir, chain, family, addr, proto, port, NULL,
				  out);
}

int fwd_ir_explain_who(const struct fwd_ir *ir, unsigned chain, int family,
		       const uint8_t addr[16], uint8_t proto, uint16_t port,
		       const struct fwd_explain_who *who,
		       struct fwd_explain *out)
{
	const struct fwd_ir_chain *ch;

	if (!ir || chain >= ir->nchains ||
	    (family != AF_INET && family != AF_INET6))
		return -EINVAL;
	ch = &ir->chains[chain];
	for (size_t i = 0; i < ch->n; i++) {
		const struct fwd_ir_rule *r = &ch->rules[i];
		const struct fwd_ir_elem *elem = NULL;
		int set = -1;
		bool all = true;

		/* Log rules decide nothing; the queue step decides nothing
		 * the policy says: the loop drops unless it knows better,
		 * and without it the kernel drops. */
		if (r->verdict == FWD_V_CONTINUE || r->verdict == FWD_V_QUEUE ||
		    r->verdict == FWD_V_QUEUE_PROG)
			continue;
		for (unsigned k = 0; k < r->nm && all; k++)
			all = match_one(ir, &r->m[k], family, addr, proto, port,
					who, &set, &elem);
		if (!all)
			continue;
		/* The closing catch-all drop stands for the chain policy
		 * (see build_chain): report it as the policy deciding. */
		if (r->nm == 0 && r->verdict == FWD_V_DROP && i + 1 == ch->n &&
		    !ch->policy_accept)
			break;
		*out = (struct fwd_explain){
			.verdict = r->verdict, .rule = i, .set = set,
			.elem = elem, .loc = elem ? elem->loc : r->loc,
		};
		return 0;
	}
	*out = (struct fwd_explain){
		.verdict = ch->policy_accept ? FWD_V_ACCEPT : FWD_V_DROP,
		.by_policy = true, .set = -1,
	};
	return 0;
}
