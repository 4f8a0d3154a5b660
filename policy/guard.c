// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Packet summary + state + time -> verdict + actions (guard.h): scan and
 * flood detection, blocks with expiry and a cap, rate-capped log records.
 */
#include "guard.h"
#include "policy.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define NS 1000000000ull
#define WAYS 8			/* ways of a set in the source table */
#define SWEEP_SLICE 1024	/* entries a tick looks at, per table */

/* ---- token buckets ---- */

/*
 * n events per window w (ns), burst n, in integers: an event costs w
 * credits, a nanosecond adds n, the bucket holds n * w. n <= 1e6 and
 * w <= 3600 s keep every sum below 2^63.
 */
struct tbucket {
	uint64_t credit, last;
};

static void tb_fill(struct tbucket *b, uint64_t n, uint64_t w, uint64_t now)
{
	b->credit = n * w;
	b->last = now;
}

static bool tb_take(struct tbucket *b, uint64_t n, uint64_t w, uint64_t now)
{
	uint64_t cap = n * w, el = now > b->last ? now - b->last : 0;

	if (el >= w)
		b->credit = cap;
	else if ((b->credit += el * n) > cap)
		b->credit = cap;
	b->last = now > b->last ? now : b->last;
	if (b->credit < w)
		return false;
	b->credit -= w;
	return true;
}

/* ---- the state ---- */

/* A port seen from a source: (proto << 16 | port), and when, in ms on
 * decide's clock modulo 2^32 (windows are at most an hour). */
struct port_slot {
	uint32_t key, t_ms;
};

struct src_ent {
	uint8_t key[16];	/* the source, IPv6 cut to prefix6 */
	uint8_t family;		/* 0: a free way */
	uint8_t nports;		/* ports[0..nports) are in the window */
	uint8_t pad[2];
	uint32_t log_suppressed;
	uint64_t last_ns;
	struct tbucket flood, log;
	struct port_slot ports[];	/* scan_ports of them */
};

struct blk {
	uint8_t key[16];
	uint8_t family;		/* 0: empty slot */
	uint8_t reason;
	uint64_t until_ns;
};

/* Never peers of one family: sorted, merged [lo, hi] ranges. */
struct ranges {
	uint8_t (*lo)[16], (*hi)[16];
	size_t n;
};

struct fwd_guard {
	struct fwd_guard_params p;
	struct ranges never4, never6;

	uint8_t *tab;		/* nsets * WAYS entries of `stride` bytes */
	size_t nsets, stride, sweep_src;

	struct blk *blk;	/* open addressing, linear probing */
	size_t bcap, bcap_max, nblk, sweep_blk;
	/* No block ends before this (a lower bound: inserts lower it, a
	 * full sweep sets it), so a refusal at the cap under a flood does
	 * not sweep the whole table for every crossing. */
	uint64_t next_end;

	struct tbucket log_total;
	uint64_t suppressed_total;	/* not yet in a summary */
	uint64_t last_summary_ns;
	uint64_t cap_pending, last_cap_ns;
	bool cap_said;
	uint64_t last_now;

	struct fwd_guard_stats st;
};

/* ---- hashing: SipHash-1-3 of (source, family) under the seed ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static uint64_t key_hash(const uint64_t seed[2], uint8_t family,
			 const uint8_t key[16])
{
	uint64_t v[4] = {
		seed[0] ^ 0x736f6d6570736575ull, seed[1] ^ 0x646f72616e646f6dull,
		seed[0] ^ 0x6c7967656e657261ull, seed[1] ^ 0x7465646279746573ull,
	};
	uint64_t m[3];

	memcpy(&m[0], key, 8);
	memcpy(&m[1], key + 8, 8);
	m[2] = (uint64_t)family | (17ull << 56);
	for (int i = 0; i < 3; i++) {
		v[3] ^= m[i];
		sipround(v);
		v[0] ^= m[i];
	}
	v[2] ^= 0xff;
	sipround(v);
	sipround(v);
	sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* The tracked key of a host address: IPv4 as is, IPv6 cut to prefix6. */
static void src_key(const struct fwd_guard *g, uint8_t family,
		    const uint8_t *src, uint8_t key[16])
{
	unsigned bits = family == AF_INET ? 32 : g->p.prefix6;

	memset(key, 0, 16);
	memcpy(key, src, family == AF_INET ? 4 : 16);
	if (bits < 128) {
		if (bits % 8)
			key[bits / 8] &= (uint8_t)(0xff00u >> (bits % 8));
		memset(key + (bits + 7) / 8, 0, 16 - (bits + 7) / 8);
	}
}

uint64_t fwd_guard_hash(const struct fwd_guard *g, uint8_t family,
			const uint8_t *src)
{
	uint8_t key[16];

	src_key(g, family, src, key);
	return key_hash(g->p.seed, family, key);
}

/* ---- knobs ---- */

static uint64_t clamp(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* Out-of-range knobs are brought into range rather than trusted: the
 * arithmetic of the buckets and windows relies on them. */
static void clamp_params(struct fwd_guard_params *p)
{
	p->scan_ports = (unsigned)clamp(p->scan_ports, 1, 64);
	p->scan_window_ns = clamp(p->scan_window_ns, 1000000, 3600 * NS);
	p->flood_rate = (uint32_t)clamp(p->flood_rate, 0, 1000000);
	p->flood_window_ns = clamp(p->flood_window_ns, 1, 3600 * NS);
	p->prefix6 = (unsigned)clamp(p->prefix6, 1, 128);
	p->max_blocked = (uint32_t)clamp(p->max_blocked, 1, 1000000);
	p->log_src_rate = (uint32_t)clamp(p->log_src_rate, 1, 1000000);
	p->log_rate = (uint32_t)clamp(p->log_rate, 1, 1000000);
	p->log_window_ns = clamp(p->log_window_ns, 1, 3600 * NS);
}

/* ---- never peers ---- */

static int range_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/* Is b the address right after a (len bytes, big-endian, the rest of
 * the 16 zero)? */
static bool follows(const uint8_t a[16], const uint8_t b[16], int len)
{
	uint8_t n[16];
	int i;

	memcpy(n, a, 16);
	for (i = len - 1; i >= 0 && ++n[i] == 0; i--)
		;
	return i >= 0 && !memcmp(n, b, 16);
}

static void ranges_build(struct ranges *r, const struct fwd_addr *a, size_t n,
			 uint8_t family)
{
	uint8_t (*pairs)[32] = fwd_xcalloc(n ? n : 1, 32);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (a[i].family != family)
			continue;
		fwd_addr_range(&a[i], pairs[k], pairs[k] + 16);
		if (family == AF_INET) {
			/* fwd_addr_range fills 4 bytes: zero the rest. */
			memset(pairs[k] + 4, 0, 12);
			memset(pairs[k] + 20, 0, 12);
		}
		k++;
	}
	qsort(pairs, k, 32, range_cmp);
	r->lo = fwd_xcalloc(k ? k : 1, 16);
	r->hi = fwd_xcalloc(k ? k : 1, 16);
	r->n = 0;
	for (size_t i = 0; i < k; i++) {
		/* Overlapping or adjacent ranges join: the same peers written
		 * another way (two /25s, one /24) give the same ranges, which
		 * is what fwd_guard_same compares. */
		if (r->n && (memcmp(pairs[i], r->hi[r->n - 1], 16) <= 0 ||
			     follows(r->hi[r->n - 1], pairs[i],
				     family == AF_INET ? 4 : 16))) {
			if (memcmp(pairs[i] + 16, r->hi[r->n - 1], 16) > 0)
				memcpy(r->hi[r->n - 1], pairs[i] + 16, 16);
			continue;
		}
		memcpy(r->lo[r->n], pairs[i], 16);
		memcpy(r->hi[r->n], pairs[i] + 16, 16);
		r->n++;
	}
	free(pairs);
}

static bool ranges_has(const struct ranges *r, const uint8_t x[16])
{
	size_t lo = 0, hi = r->n;

	/* The last range starting at or below x is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (memcmp(r->lo[mid], x, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo && memcmp(x, r->hi[lo - 1], 16) <= 0;
}

static bool ranges_eq(const struct ranges *a, const struct ranges *b)
{
	return a->n == b->n && (!a->n || (!memcmp(a->lo, b->lo, a->n * 16) &&
					  !memcmp(a->hi, b->hi, a->n * 16)));
}

static bool is_never(const struct fwd_guard *g, uint8_t family,
		     const uint8_t *src)
{
	uint8_t x[16] = { 0 };

	memcpy(x, src, family == AF_INET ? 4 : 16);
	return ranges_has(family == AF_INET ? &g->never4 : &g->never6, x);
}

/* ---- the source table ---- */

static struct src_ent *ent(const struct fwd_guard *g, size_t i)
{
	return (struct src_ent *)(void *)(g->tab + i * g->stride);
}

static void ent_init(struct fwd_guard *g, struct src_ent *e, uint8_t family,
		     const uint8_t key[16], uint64_t now)
{
	memcpy(e->key, key, 16);
	e->family = family;
	e->nports = 0;
	e->log_suppressed = 0;
	e->last_ns = now;
	tb_fill(&e->flood, g->p.flood_rate, g->p.flood_window_ns, now);
	tb_fill(&e->log, g->p.log_src_rate, g->p.log_window_ns, now);
}

/* The entry of a source, made if new: a free way of its set, else the
 * least recently seen one, whose pending suppressions go to the total. */
static struct src_ent *src_get(struct fwd_guard *g, uint8_t family,
			       const uint8_t key[16], uint64_t h, uint64_t now)
{
	size_t set = (h & (g->nsets - 1)) * WAYS;
	struct src_ent *victim = NULL;

	for (size_t w = 0; w < WAYS; w++) {
		struct src_ent *e = ent(g, set + w);

		if (e->family == family && !memcmp(e->key, key, 16))
			return e;
		if (!victim || (victim->family && (!e->family ||
						   e->last_ns < victim->last_ns)))
			victim = e;
	}
	if (victim->family) {
		g->st.evictions++;
		g->suppressed_total += victim->log_suppressed;
	} else {
		g->st.tracked++;
	}
	ent_init(g, victim, family, key, now);
	return victim;
}

static bool has_ports(uint8_t proto)
{
	return proto == IPPROTO_TCP || proto == IPPROTO_UDP ||
	       proto == IPPROTO_SCTP || proto == IPPROTO_UDPLITE ||
	       proto == IPPROTO_DCCP;
}

/* Distinct closed ports within the window: true when this one makes
 * scan_ports. Ports that left the window are dropped first. */
static bool scan_step(struct fwd_guard *g, struct src_ent *e,
		      const struct fwd_pkt *pkt, uint64_t now)
{
	uint32_t key = (uint32_t)pkt->proto << 16 | pkt->dport;
	uint32_t now_ms = (uint32_t)(now / 1000000u);
	uint32_t win_ms = (uint32_t)(g->p.scan_window_ns / 1000000u);
	bool found = false;
	size_t j = 0;

	if (!has_ports(pkt->proto))
		return false;
	/* Idle past the window: every slot is stale, whatever the ms say
	 * after their 49-day wrap. */
	if (now - e->last_ns >= g->p.scan_window_ns)
		e->nports = 0;
	for (size_t i = 0; i < e->nports; i++) {
		struct port_slot s = e->ports[i];

		if ((uint32_t)(now_ms - s.t_ms) >= win_ms)
			continue;
		if (s.key == key) {
			s.t_ms = now_ms;
			found = true;
		}
		e->ports[j++] = s;
	}
	if (!found)
		e->ports[j++] = (struct port_slot){ key, now_ms };
	e->nports = (uint8_t)j;
	return j >= g->p.scan_ports;
}

/* ---- the block table ---- */

#define NO_SLOT SIZE_MAX

static size_t blk_home(const struct fwd_guard *g, const struct blk *b)
{
	return key_hash(g->p.seed, b->family, b->key) & (g->bcap - 1);
}

/* Backward-shift deletion: no tombstones, so probes stay short. */
static void blk_delete(struct fwd_guard *g, size_t i)
{
	size_t mask = g->bcap - 1, j = i;

	for (;;) {
		size_t k;

		j = (j + 1) & mask;
		if (!g->blk[j].family)
			break;
		k = blk_home(g, &g->blk[j]);
		/* Move j back to i unless its home lies cyclically in (i, j]. */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			g->blk[i] = g->blk[j];
			i = j;
		}
	}
	g->blk[i].family = 0;
	g->nblk--;
}

/* The slot holding key (h its hash), if its block has not ended (ended
 * ones go). */
static size_t blk_find_h(struct fwd_guard *g, uint8_t family,
			 const uint8_t key[16], uint64_t h, uint64_t now)
{
	size_t mask = g->bcap - 1;
	size_t i = h & mask;

	for (; g->blk[i].family; i = (i + 1) & mask) {
		if (g->blk[i].family != family || memcmp(g->blk[i].key, key, 16))
			continue;
		if (g->blk[i].until_ns > now)
			return i;
		blk_delete(g, i);
		return NO_SLOT;
	}
	return NO_SLOT;
}

static size_t blk_find(struct fwd_guard *g, uint8_t family,
		       const uint8_t key[16], uint64_t now)
{
	return blk_find_h(g, family, key, key_hash(g->p.seed, family, key), now);
}

static void blk_put(struct fwd_guard *g, const struct blk *b)
{
	size_t mask = g->bcap - 1;
	size_t i = blk_home(g, b);

	if (!g->nblk || b->until_ns < g->next_end)
		g->next_end = b->until_ns;
	while (g->blk[i].family)
		i = (i + 1) & mask;
	g->blk[i] = *b;
	g->nblk++;
}

/* Load stays at most one half: at max_blocked the table is bcap_max. */
static void blk_grow(struct fwd_guard *g)
{
	struct blk *old = g->blk;
	size_t ocap = g->bcap;

	if ((g->nblk + 1) * 2 <= g->bcap || g->bcap >= g->bcap_max)
		return;
	g->bcap *= 2;
	g->blk = fwd_xcalloc(g->bcap, sizeof(*g->blk));
	g->nblk = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].family)
			blk_put(g, &old[i]);
	free(old);
}

/* Remove ended blocks: up to `budget` slots from the sweep position. */
static void blk_sweep(struct fwd_guard *g, uint64_t now, size_t budget)
{
	for (size_t n = 0; n < budget && g->nblk; n++) {
		size_t i = g->sweep_blk & (g->bcap - 1);

		/* A deletion may shift a live block into slot i: look again. */
		if (g->blk[i].family && g->blk[i].until_ns <= now)
			blk_delete(g, i);
		else
			g->sweep_blk = i + 1;
	}
}

/* Every ended block, when one can have ended: before refusing at the cap. */
static void blk_sweep_all(struct fwd_guard *g, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (now < g->next_end)
		return;
	for (size_t i = 0; i < g->bcap; i++) {
		/* A deletion may shift a later block into slot i: look again. */
		while (g->blk[i].family && g->blk[i].until_ns <= now)
			blk_delete(g, i);
		if (g->blk[i].family && g->blk[i].until_ns < next)
			next = g->blk[i].until_ns;
	}
	g->next_end = next;
}

/* ---- actions ---- */

static struct fwd_act *act_add(struct fwd_acts *out, enum fwd_act_kind kind)
{
	struct fwd_act *a;

	/* decide and tick never give more than FWD_GUARD_ACTS: a full
	 * array means the caller did not empty it; the newest is lost
	 * rather than memory past the end. */
	if (out->n >= FWD_GUARD_ACTS)
		return NULL;
	a = &out->a[out->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static void cap_notice(struct fwd_guard *g, uint64_t now, struct fwd_acts *out)
{
	struct fwd_act *a;

	if (!g->cap_pending ||
	    (g->cap_said && now - g->last_cap_ns < g->p.cap_interval_ns))
		return;
	if (!(a = act_add(out, FWD_ACT_CAP)))
		return;
	a->blocked = (uint32_t)g->nblk;
	a->refused = g->cap_pending;
	g->cap_pending = 0;
	g->cap_said = true;
	g->last_cap_ns = now;
}

static void block(struct fwd_guard *g, uint8_t family, const uint8_t key[16],
		  uint64_t h, enum fwd_reason reason, uint64_t now,
		  struct fwd_acts *out)
{
	uint64_t until = now + (uint64_t)g->p.block_secs * NS;
	size_t i = blk_find_h(g, family, key, h, now);
	struct fwd_act *a;
	bool extend = i != NO_SLOT;

	if (extend) {
		if (g->blk[i].until_ns < until)
			g->blk[i].until_ns = until;
		g->blk[i].reason = (uint8_t)reason;
		g->st.extends++;
	} else {
		struct blk b = { .family = family, .reason = (uint8_t)reason,
				 .until_ns = until };

		if (g->nblk >= g->p.max_blocked)
			blk_sweep_all(g, now);
		if (g->nblk >= g->p.max_blocked) {
			g->st.cap_refused++;
			g->cap_pending++;
			cap_notice(g, now, out);
			return;
		}
		memcpy(b.key, key, 16);
		blk_grow(g);
		blk_put(g, &b);
		g->st.blocks++;
	}
	if (!(a = act_add(out, FWD_ACT_BLOCK)))
		return;
	a->src.family = family;
	a->src.prefix = (uint8_t)(family == AF_INET ? 32 : g->p.prefix6);
	memcpy(a->src.a, key, 16);
	a->secs = g->p.block_secs;
	a->until_ns = until;
	a->reason = reason;
	a->extend = extend;
}

static void summary_due(struct fwd_guard *g, uint64_t now, uint64_t wall,
			struct fwd_acts *out)
{
	struct fwd_act *a;

	if (!g->suppressed_total ||
	    (g->last_summary_ns && now - g->last_summary_ns < g->p.summary_interval_ns))
		return;
	if (!(a = act_add(out, FWD_ACT_LOG)))
		return;
	a->rec.time_ns = wall;
	a->rec.reason = FWD_REASON_SUPPRESSED;
	a->rec.count = g->suppressed_total > UINT32_MAX ? UINT32_MAX
							: (uint32_t)g->suppressed_total;
	g->suppressed_total -= a->rec.count;
	g->last_summary_ns = now;
	g->st.logged++;
}

static const char *loc_of(const struct fwd_guard *g, enum fwd_reason r)
{
	switch (r) {
	case FWD_REASON_SCAN: return g->p.loc_scan;
	case FWD_REASON_FLOOD: return g->p.loc_flood;
	case FWD_REASON_BLOCKED: return g->p.loc_block;
	default: return g->p.loc_deny;
	}
}

static void rec_fill(const struct fwd_guard *g, const struct fwd_pkt *pkt,
		     enum fwd_reason reason, struct fwd_vlog_rec *rec)
{
	size_t n = strnlen(pkt->ifname, sizeof(pkt->ifname));

	memset(rec, 0, sizeof(*rec));
	rec->time_ns = pkt->time_ns;
	rec->verdict = FWD_VERDICT_DROP;
	rec->reason = (uint8_t)reason;
	rec->family = pkt->family;
	rec->proto = pkt->proto;
	rec->tcp_flags = pkt->proto == IPPROTO_TCP ? pkt->tcp_flags : 0;
	rec->sport = pkt->sport;
	rec->dport = pkt->dport;
	memcpy(rec->src, pkt->src, pkt->family == AF_INET ? 4 : 16);
	memcpy(rec->dst, pkt->dst, pkt->family == AF_INET ? 4 : 16);
	rec->count = 1;
	if (n >= sizeof(rec->in))
		n = sizeof(rec->in) - 1;
	/* Linux takes almost any byte in an interface name; the records go
	 * to JSON (UTF-8), tab-separated and text lines: printable ASCII. */
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)pkt->ifname[i];

		rec->in[i] = c > 0x20 && c < 0x7f ? (char)c : '?';
	}
	snprintf(rec->policy, sizeof(rec->policy), "%s", loc_of(g, reason));
}

/*
 * The record of this packet, through the caps: a source over its own cap
 * is counted in its entry (a summary of it goes in front of its next
 * record), one over the total cap in the total summary. A record that
 * blocks a source passes the per-source cap: a block is never unsaid.
 */
static void log_step(struct fwd_guard *g, struct src_ent *e,
		     const struct fwd_pkt *pkt, enum fwd_reason reason,
		     uint64_t now, struct fwd_acts *out)
{
	bool crossing = reason == FWD_REASON_SCAN || reason == FWD_REASON_FLOOD;
	struct fwd_act *a;

	if (e && !tb_take(&e->log, g->p.log_src_rate, g->p.log_window_ns, now) &&
	    !crossing) {
		/* A count about to wrap goes to the total (64 bits) instead. */
		if (e->log_suppressed == UINT32_MAX) {
			g->suppressed_total += e->log_suppressed;
			e->log_suppressed = 0;
		}
		e->log_suppressed++;
		g->st.suppressed++;
		return;
	}
	if (!tb_take(&g->log_total, g->p.log_rate, g->p.log_window_ns, now)) {
		g->suppressed_total++;
		g->st.suppressed++;
		return;
	}
	if (e && e->log_suppressed && (a = act_add(out, FWD_ACT_LOG))) {
		a->rec.time_ns = pkt->time_ns;
		a->rec.reason = FWD_REASON_SUPPRESSED;
		a->rec.family = e->family;
		memcpy(a->rec.src, e->key, 16);
		a->rec.count = e->log_suppressed;
		e->log_suppressed = 0;
		g->st.logged++;
	}
	if ((a = act_add(out, FWD_ACT_LOG))) {
		rec_fill(g, pkt, reason, &a->rec);
		g->st.logged++;
	}
}

enum fwd_verdict fwd_guard_decide(struct fwd_guard *g, const struct fwd_pkt *pkt,
				  uint64_t now, struct fwd_acts *out)
{
	enum fwd_reason reason = FWD_REASON_DENY;
	struct src_ent *e = NULL;
	uint8_t key[16];

	if (now < g->last_now)
		now = g->last_now;
	g->last_now = now;
	g->st.packets++;
	if (pkt->family == AF_INET || pkt->family == AF_INET6) {
		bool never = is_never(g, pkt->family, pkt->src);
		uint64_t h;

		/* One hash serves both tables. */
		src_key(g, pkt->family, pkt->src, key);
		h = key_hash(g->p.seed, pkt->family, key);
		if (blk_find_h(g, pkt->family, key, h, now) != NO_SLOT)
			reason = FWD_REASON_BLOCKED;
		e = src_get(g, pkt->family, key, h, now);
		if (never) {
			g->st.never++;
		} else {
			bool scan = scan_step(g, e, pkt, now);
			bool flood = g->p.flood_rate &&
				(!tb_take(&e->flood, g->p.flood_rate,
					  g->p.flood_window_ns, now) ||
				 (pkt->flags & FWD_PKT_METER));

			if (scan || flood) {
				reason = scan ? FWD_REASON_SCAN : FWD_REASON_FLOOD;
				block(g, pkt->family, key, h, reason, now, out);
				/* The next block or extension takes a whole
				 * new offence. */
				e->nports = 0;
				tb_fill(&e->flood, g->p.flood_rate,
					g->p.flood_window_ns, now);
			}
		}
		e->last_ns = now;
	}
	g->st.by_reason[reason]++;
	log_step(g, e, pkt, reason, now, out);
	summary_due(g, now, pkt->time_ns, out);
	return FWD_VERDICT_DROP;
}

void fwd_guard_tick(struct fwd_guard *g, uint64_t now, uint64_t wall,
		    struct fwd_acts *out)
{
	size_t total = g->nsets * WAYS;
	/* Every entry is looked at within 16 ticks, whatever the size. */
	size_t slice = total / 16 > SWEEP_SLICE ? total / 16 : SWEEP_SLICE;

	if (now < g->last_now)
		now = g->last_now;
	g->last_now = now;
	/* Sources that went quiet with records held back: their counts go
	 * to the total summary instead of waiting for a record that may
	 * never come. */
	for (size_t n = 0; n < slice && n < total; n++) {
		struct src_ent *e = ent(g, g->sweep_src++ % total);

		if (e->family && e->log_suppressed &&
		    now - e->last_ns >= g->p.log_window_ns) {
			g->suppressed_total += e->log_suppressed;
			e->log_suppressed = 0;
		}
	}
	blk_sweep(g, now, SWEEP_SLICE);
	summary_due(g, now, wall, out);
	cap_notice(g, now, out);
}

bool fwd_guard_same(const struct fwd_guard *g, const struct fwd_guard_params *b)
{
	struct fwd_guard_params n = *b;
	struct ranges r4, r6;
	bool same;

	/* b as fwd_guard_new would take it: knobs clamped alike, the never
	 * peers sorted and merged alike, so equal ranges mean equal peers
	 * however they were written. */
	clamp_params(&n);
	same = n.scan_ports == g->p.scan_ports &&
	       n.scan_window_ns == g->p.scan_window_ns &&
	       n.flood_rate == g->p.flood_rate &&
	       n.flood_window_ns == g->p.flood_window_ns &&
	       n.block_secs == g->p.block_secs && n.prefix6 == g->p.prefix6 &&
	       n.max_blocked == g->p.max_blocked && n.capacity == g->p.capacity &&
	       n.log_src_rate == g->p.log_src_rate && n.log_rate == g->p.log_rate &&
	       n.log_window_ns == g->p.log_window_ns &&
	       n.summary_interval_ns == g->p.summary_interval_ns &&
	       n.cap_interval_ns == g->p.cap_interval_ns;
	if (!same)
		return false;
	ranges_build(&r4, b->never, b->nnever, AF_INET);
	ranges_build(&r6, b->never, b->nnever, AF_INET6);
	same = ranges_eq(&r4, &g->never4) && ranges_eq(&r6, &g->never6);
	free(r4.lo);
	free(r4.hi);
	free(r6.lo);
	free(r6.hi);
	return same;
}

void fwd_guard_set_locs(struct fwd_guard *g, const struct fwd_guard_params *b)
{
	memcpy(g->p.loc_deny, b->loc_deny, sizeof(g->p.loc_deny));
	memcpy(g->p.loc_scan, b->loc_scan, sizeof(g->p.loc_scan));
	memcpy(g->p.loc_flood, b->loc_flood, sizeof(g->p.loc_flood));
	memcpy(g->p.loc_block, b->loc_block, sizeof(g->p.loc_block));
}

int fwd_guard_unblock(struct fwd_guard *g, const struct fwd_addr *src)
{
	uint8_t key[16];
	size_t i;

	if (src->family != AF_INET && src->family != AF_INET6)
		return -EINVAL;
	src_key(g, src->family, src->a, key);
	i = blk_find(g, src->family, key, g->last_now);
	if (i == NO_SLOT)
		return -ENOENT;
	blk_delete(g, i);
	return 0;
}

int fwd_guard_restore(struct fwd_guard *g, const struct fwd_addr *src,
		      enum fwd_reason reason, uint32_t secs_left, uint64_t now)
{
	struct blk b = { .reason = (uint8_t)reason };
	size_t i;

	if ((src->family != AF_INET && src->family != AF_INET6) || !secs_left)
		return -EINVAL;
	b.family = src->family;
	src_key(g, src->family, src->a, b.key);
	b.until_ns = now + (uint64_t)secs_left * NS;
	i = blk_find(g, b.family, b.key, now);
	if (i != NO_SLOT) {
		if (g->blk[i].until_ns < b.until_ns)
			g->blk[i].until_ns = b.until_ns;
		return 0;
	}
	if (g->nblk >= g->p.max_blocked)
		return -ENOSPC;
	blk_grow(g);
	blk_put(g, &b);
	return 0;
}

bool fwd_guard_blocked(struct fwd_guard *g, uint8_t family, const uint8_t *src,
		       uint64_t now)
{
	uint8_t key[16];

	if (family != AF_INET && family != AF_INET6)
		return false;
	src_key(g, family, src, key);
	return blk_find(g, family, key, now) != NO_SLOT;
}

void fwd_guard_stats(const struct fwd_guard *g, struct fwd_guard_stats *st)
{
	*st = g->st;
	st->blocked = (uint32_t)g->nblk;
	st->memory = sizeof(*g) + g->nsets * WAYS * g->stride +
		     g->bcap * sizeof(struct blk) +
		     (g->never4.n + g->never6.n) * 32;
}

/* ---- set-up ---- */

void fwd_guard_params_default(struct fwd_guard_params *gp)
{
	memset(gp, 0, sizeof(*gp));
	gp->scan_ports = 10;
	gp->scan_window_ns = 5 * NS;
	gp->flood_rate = 100;
	gp->flood_window_ns = NS;
	gp->block_secs = 3600;
	gp->prefix6 = 64;
	gp->max_blocked = 100000;
	gp->capacity = 65536;
	gp->log_src_rate = 10;
	gp->log_rate = 1000;
	gp->log_window_ns = NS;
	gp->summary_interval_ns = NS;
	gp->cap_interval_ns = 10 * NS;
}

static void loc_text(char *buf, const struct fwd_loc *loc,
		     const struct fwd_loc *fallback)
{
	if (!loc->line && fallback)
		loc = fallback;
	if (loc->line)
		snprintf(buf, FWD_VLOG_LOCSIZ, "%s:%u",
			 loc->file ? loc->file : FWD_BUILTIN_NAME, loc->line);
	else
		buf[0] = 0;
}

void fwd_guard_params_from_policy(const struct fwd_policy *p,
				  struct fwd_guard_params *gp,
				  struct fwd_addr **never)
{
	const struct fwd_guard_conf *c = &p->guard;
	size_t n = 0, cap = 0;

	gp->scan_ports = c->scan_ports;
	gp->scan_window_ns = (uint64_t)c->scan_window * NS;
	gp->flood_rate = c->flood_rate;
	gp->flood_window_ns = (uint64_t)c->flood_window * NS;
	gp->block_secs = c->block;
	gp->prefix6 = c->prefix6;
	gp->max_blocked = c->max_blocked;
	*never = NULL;
	for (size_t i = 0; i < c->nnever; i++) {
		const struct fwd_peer *pe = &c->never[i];

		if (pe->kind == FWD_PEER_ADDR) {
			FWD_GROW(*never, cap, n + 1);
			(*never)[n++] = pe->addr;
		} else if (pe->kind == FWD_PEER_LIST && pe->list < p->nlists) {
			const struct fwd_list *l = &p->lists[pe->list];

			FWD_GROW(*never, cap, n + l->n);
			memcpy(*never + n, l->addrs, l->n * sizeof(*l->addrs));
			n += l->n;
		}
	}
	gp->never = *never;
	gp->nnever = n;
	loc_text(gp->loc_deny, &p->inbound_loc, NULL);
	loc_text(gp->loc_scan, &c->scan_loc, &c->loc);
	loc_text(gp->loc_flood, &c->flood_loc, &c->loc);
	loc_text(gp->loc_block, &c->block_loc, &c->loc);
}

/*
 * Touch every page of a fresh table, so that it is resident from the
 * start: calloc's pages are mapped on first write, which would make RSS
 * grow with the number of sources a flood brings (up to the table's size)
 * and put page faults on the packet path. The table's size is the memory
 * the guard costs, now or under a flood. (A write, not a read: a read
 * maps the shared zero page.)
 */
static void prefault(void *p, size_t len)
{
	volatile uint8_t *b = p;

	for (size_t i = 0; i < len; i += 4096)
		b[i] = 0;
}

struct fwd_guard *fwd_guard_new(const struct fwd_guard_params *gp)
{
	struct fwd_guard *g = fwd_xcalloc(1, sizeof(*g));
	size_t want, sets = 1;

	g->p = *gp;
	clamp_params(&g->p);
	g->p.never = NULL;
	g->p.nnever = 0;
	ranges_build(&g->never4, gp->never, gp->nnever, AF_INET);
	ranges_build(&g->never6, gp->never, gp->nnever, AF_INET6);

	want = clamp(gp->capacity, WAYS, (size_t)1 << 26) / WAYS;
	while (sets < want)
		sets *= 2;
	g->nsets = sets;
	g->stride = sizeof(struct src_ent) + g->p.scan_ports * sizeof(struct port_slot);
	g->stride = (g->stride + 7) & ~(size_t)7;
	g->tab = fwd_xcalloc(sets * WAYS, g->stride);
	prefault(g->tab, sets * WAYS * g->stride);

	g->bcap_max = 64;
	while (g->bcap_max < (size_t)g->p.max_blocked * 2)
		g->bcap_max *= 2;
	g->bcap = g->bcap_max < 1024 ? g->bcap_max : 1024;
	g->blk = fwd_xcalloc(g->bcap, sizeof(*g->blk));
	tb_fill(&g->log_total, g->p.log_rate, g->p.log_window_ns, 0);
	return g;
}

void fwd_guard_free(struct fwd_guard *g)
{
	if (!g)
		return;
	free(g->never4.lo);
	free(g->never4.hi);
	free(g->never6.lo);
	free(g->never6.hi);
	free(g->tab);
	free(g->blk);
	free(g);
}
