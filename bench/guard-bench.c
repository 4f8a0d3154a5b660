// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * guard-bench: the cost of fwd_guard_decide per queued packet against a
 * baseline measured in the same run, interleaved with it: a loop that only
 * hashes each packet's source with the guard's own keyed hash (the least
 * any per-source state must do). Both walk the same pre-made packets.
 *
 *   guard-bench [PACKETS [ROUNDS]]      (default 1000000 packets, 7 rounds)
 *
 * The traffic: 60% from a pool of 2000 denied sources knocking on a few
 * ports, 30% spoofed (a new random source each, IPv4 and IPv6), 10% from
 * scanners sweeping ports (they get blocked, then extend), with the default
 * [guard] and log caps, records pushed into a 4096-record ring as the
 * worker will. The decide column includes the ring; the formatting of
 * records (done when `fwctl log` reads them) is not in it.
 *
 * Prints ns/packet for each column (median over rounds) and the median of
 * the per-round ratios decide / hash-only.
 */
#include "guard.h"
#include "vlog.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct fwd_pkt *make_traffic(size_t n)
{
	struct fwd_pkt *v = calloc(n, sizeof(*v));
	uint64_t s = 0x9e3779b97f4a7c15ull;

	if (!v) {
		perror("calloc");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		struct fwd_pkt *p = &v[i];
		uint64_t r = xorshift(&s);
		unsigned kind = (unsigned)(r % 10);

		p->family = AF_INET;
		p->proto = IPPROTO_TCP;
		p->tcp_flags = 0x02;
		p->sport = (uint16_t)(1024 + (r >> 8) % 60000);
		p->dst[0] = 192, p->dst[2] = 2, p->dst[3] = 1;
		memcpy(p->ifname, "eth0", 5);
		p->time_ns = 1764896523000000000ull + i * 1000u;
		if (kind < 6) {			/* the pool */
			uint32_t k = (uint32_t)((r >> 20) % 2000);

			p->src[0] = 198, p->src[1] = 18;
			p->src[2] = (uint8_t)(k >> 8), p->src[3] = (uint8_t)k;
			p->dport = (uint16_t)(22 + (r >> 40) % 4);
		} else if (kind < 9) {		/* spoofed */
			if (r & 0x100) {
				p->family = AF_INET6;
				p->src[0] = 0x20, p->src[1] = 0x01;
				p->src[2] = 0x0d, p->src[3] = 0xb8;
				memcpy(p->src + 4, &r, 8);
				p->dst[0] = 0x20;
			} else {
				memcpy(p->src, &r, 4);
			}
			p->dport = (uint16_t)(r >> 48);
		} else {			/* 50 scanners, sweeping */
			uint32_t k = (uint32_t)((r >> 20) % 50);

			p->src[0] = 203, p->src[2] = 113, p->src[3] = (uint8_t)k;
			p->dport = (uint16_t)(1 + i % 1000);
		}
	}
	return v;
}

static struct fwd_guard *new_guard(void)
{
	struct fwd_guard_params gp;

	fwd_guard_params_default(&gp);
	gp.seed[0] = 0x0123456789abcdefull;
	gp.seed[1] = 0xfedcba9876543210ull;
	return fwd_guard_new(&gp);
}

/* One pass of decide (+ ring) over the traffic; ns per packet. */
static double run_decide(const struct fwd_pkt *v, size_t n, uint64_t *sink)
{
	struct fwd_guard *g = new_guard();
	struct fwd_vlog_ring *ring = fwd_vlog_ring_new(4096);
	uint64_t t0 = now_ns(), t;
	struct fwd_acts a;

	for (size_t i = 0; i < n; i++) {
		a.n = 0;
		/* 1 µs apart on decide's clock: 1M packets/s offered. */
		*sink += fwd_guard_decide(g, &v[i], 5000000000ull + i * 1000u, &a);
		for (size_t k = 0; k < a.n; k++)
			if (a.a[k].kind == FWD_ACT_LOG)
				fwd_vlog_push(ring, &a.a[k].rec);
		*sink += a.n;
	}
	t = now_ns() - t0;
	fwd_vlog_ring_free(ring);
	fwd_guard_free(g);
	return (double)t / (double)n;
}

/* The baseline: the same packets, only the source hashed. */
static double run_hash(const struct fwd_pkt *v, size_t n, uint64_t *sink)
{
	struct fwd_guard *g = new_guard();
	uint64_t t0 = now_ns(), t, h = 0;

	for (size_t i = 0; i < n; i++)
		h ^= fwd_guard_hash(g, v[i].family, v[i].src);
	t = now_ns() - t0;
	*sink += h;
	fwd_guard_free(g);
	return (double)t / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 7;
	double *dec, *hash, *ratio;
	struct fwd_guard_stats st;
	struct fwd_pkt *v;
	uint64_t sink = 0;

	if (!n || !rounds || rounds > 1000) {
		fprintf(stderr, "usage: guard-bench [PACKETS [ROUNDS]]\n");
		return 2;
	}
	v = make_traffic(n);
	dec = calloc(rounds, sizeof(*dec));
	hash = calloc(rounds, sizeof(*hash));
	ratio = calloc(rounds, sizeof(*ratio));
	if (!dec || !hash || !ratio)
		return 1;
	/* Warm the pages and caches once, untimed. */
	run_decide(v, n, &sink);
	for (size_t r = 0; r < rounds; r++) {
		/* Alternate the order so drifting load falls on both. */
		if (r % 2) {
			dec[r] = run_decide(v, n, &sink);
			hash[r] = run_hash(v, n, &sink);
		} else {
			hash[r] = run_hash(v, n, &sink);
			dec[r] = run_decide(v, n, &sink);
		}
		ratio[r] = dec[r] / hash[r];
		printf("round %zu: decide %.1f ns/packet, hash-only %.1f ns/packet, ratio %.2f\n",
		       r + 1, dec[r], hash[r], ratio[r]);
	}
	{
		/* What the traffic did, from one more pass. */
		struct fwd_guard *g = new_guard();
		struct fwd_acts a;

		for (size_t i = 0; i < n; i++) {
			a.n = 0;
			fwd_guard_decide(g, &v[i], 5000000000ull + i * 1000u, &a);
		}
		fwd_guard_stats(g, &st);
		fwd_guard_free(g);
	}
	printf("packets %zu x %zu rounds: blocks %llu, extends %llu, records %llu, "
	       "suppressed %llu, evictions %llu, memory %zu KiB\n", n, rounds,
	       (unsigned long long)st.blocks, (unsigned long long)st.extends,
	       (unsigned long long)st.logged, (unsigned long long)st.suppressed,
	       (unsigned long long)st.evictions, st.memory / 1024);
	printf("median: decide %.1f ns/packet, hash-only %.1f ns/packet, "
	       "decide/hash-only %.2f (sink %llu)\n", median(dec, rounds),
	       median(hash, rounds), median(ratio, rounds),
	       (unsigned long long)(sink & 1));
	free(v);
	free(dec);
	free(hash);
	free(ratio);
	return 0;
}
