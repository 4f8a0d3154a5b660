// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the verdict loop's decisions (policy/guard.h):
 * packet summaries are what any host on the network controls, and time is
 * whatever the clock says. The input is a small parameter block, then a
 * sequence of steps (a packet, a tick, an unblock, a restore), each after
 * a time step. Beyond "no crash, no leak, no UB under ASan/UBSan", it
 * checks what the daemon will rely on:
 *
 *  - the verdict is always drop, and no call gives more than
 *    FWD_GUARD_ACTS actions;
 *  - a BLOCK names a network with no host bits, /32 or /prefix6, ending
 *    after now, and the source reads as blocked right after it;
 *  - blocks held never exceed max_blocked, sources tracked never exceed
 *    the table, memory never grows past the block table's bound;
 *  - every record formats (JSON, DShield, text) and its strings are
 *    terminated;
 *  - the ring gives records in seq order, at most what was asked.
 */
#include "guard.h"
#include "vlog.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-guard: invariant broken: %s\n", what);
		abort();
	}
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, size_t bytes)
{
	uint64_t v = 0;

	for (size_t i = 0; i < bytes; i++) {
		v = v << 8 | (in->n ? *in->p : 0);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

static FILE *sink;

static void check_acts(struct fwd_guard *g, const struct fwd_guard_params *gp,
		       const struct fwd_acts *a, uint64_t now,
		       struct fwd_vlog_ring *ring)
{
	check(a->n <= FWD_GUARD_ACTS, "too many actions");
	for (size_t i = 0; i < a->n; i++) {
		const struct fwd_act *x = &a->a[i];

		if (x->kind == FWD_ACT_BLOCK) {
			uint8_t lo[16], hi[16];

			check(x->src.family == AF_INET || x->src.family == AF_INET6,
			      "block family");
			check(x->src.prefix == (x->src.family == AF_INET ? 32 :
						gp->prefix6), "block prefix");
			fwd_addr_range(&x->src, lo, hi);
			check(!memcmp(lo, x->src.a, fwd_addr_len(&x->src)),
			      "block has host bits");
			check(x->until_ns > now, "block ends in the past");
			check(x->secs == gp->block_secs, "block length");
			check(fwd_guard_blocked(g, x->src.family, x->src.a, now),
			      "blocked source not blocked");
		} else if (x->kind == FWD_ACT_LOG) {
			check(memchr(x->rec.in, 0, sizeof(x->rec.in)) != NULL,
			      "interface name not terminated");
			for (const char *c = x->rec.in; *c; c++)
				check(*c > 0x20 && *c < 0x7f,
				      "interface name not printable");
			check(memchr(x->rec.policy, 0, sizeof(x->rec.policy)) != NULL,
			      "policy line not terminated");
			check(x->rec.reason < FWD_REASON_MAX, "reason");
			fwd_vlog_json(&x->rec, sink);
			fwd_vlog_dshield(&x->rec, 1, -3600, sink);
			fwd_vlog_text(&x->rec, sink);
			fwd_vlog_push(ring, &x->rec);
		} else {
			check(x->kind == FWD_ACT_CAP, "kind");
			check(x->refused > 0, "cap notice of nothing");
		}
	}
}

static void check_ring(struct fwd_vlog_ring *ring, struct in *in)
{
	struct fwd_vlog_rec out[8];
	struct fwd_vlog_query q = {
		.after_seq = take(in, 1),
		.since_ns = take(in, 1) << 52,
		.last = take(in, 1) % 10,
	};
	uint64_t missed;
	size_t n = fwd_vlog_read(ring, &q, out, 8, &missed);

	check(n <= 8 && (!q.last || n <= q.last), "ring gave too many");
	for (size_t i = 0; i < n; i++) {
		check(out[i].seq > q.after_seq, "ring gave an old seq");
		check(out[i].time_ns >= q.since_ns, "ring ignored since");
		check(!i || out[i].seq > out[i - 1].seq, "ring out of order");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct fwd_guard_params gp;
	struct fwd_guard_stats st0, st;
	struct fwd_addr never[2];
	struct fwd_vlog_ring *ring;
	struct fwd_guard *g;
	uint64_t now = 0;

	if (!sink)
		sink = fopen("/dev/null", "w");
	fwd_guard_params_default(&gp);
	/* Small knobs, so that thresholds, caps and evictions are reached. */
	gp.scan_ports = 1 + take(&in, 1) % 8;
	gp.scan_window_ns = (1 + take(&in, 1) % 8) * 100000000ull;
	gp.flood_rate = take(&in, 1) % 8;
	gp.flood_window_ns = (1 + take(&in, 1) % 8) * 100000000ull;
	gp.block_secs = 1 + take(&in, 1) % 4;
	gp.prefix6 = 1 + take(&in, 1) % 128;
	gp.max_blocked = 1 + take(&in, 1) % 8;
	gp.capacity = 8 + take(&in, 1) % 64;
	gp.log_src_rate = 1 + take(&in, 1) % 4;
	gp.log_rate = 1 + take(&in, 1) % 8;
	gp.log_window_ns = 100000000;
	gp.summary_interval_ns = 100000000;
	gp.cap_interval_ns = 300000000;
	gp.seed[0] = take(&in, 2);
	memset(never, 0, sizeof(never));
	never[0].family = AF_INET;
	never[0].prefix = 24;
	never[0].a[0] = 192;
	never[1].family = AF_INET6;
	never[1].prefix = 16;
	never[1].a[0] = 0x20;
	gp.never = never;
	gp.nnever = take(&in, 1) % 3;
	g = fwd_guard_new(&gp);
	ring = fwd_vlog_ring_new(1 + take(&in, 1) % 16);
	fwd_guard_stats(g, &st0);

	while (in.n) {
		unsigned op = (unsigned)take(&in, 1);
		struct fwd_acts a = { 0 };
		struct fwd_pkt p;

		/* Mostly small steps forward, sometimes a jump, sometimes back. */
		switch (op >> 6) {
		case 0: now += take(&in, 1) * 1000000ull; break;
		case 1: now += take(&in, 2) * 10000000ull; break;
		case 2: now -= now > 1000000000ull ? take(&in, 1) * 1000000ull : 0; break;
		default: break;
		}
		switch (op & 7) {
		case 0: case 1: case 2: case 3: case 4:
			memset(&p, 0, sizeof(p));
			p.family = take(&in, 1) & 1 ? AF_INET6 : AF_INET;
			if ((op & 7) == 4)
				p.family = (uint8_t)take(&in, 1);
			/* A few bytes of the source vary, so sources repeat. */
			p.src[0] = (uint8_t)(take(&in, 1) | 0x80);
			p.src[3] = (uint8_t)take(&in, 1);
			p.src[15] = (uint8_t)take(&in, 1);
			p.dst[0] = 198;
			p.proto = (uint8_t)take(&in, 1);
			p.tcp_flags = (uint8_t)take(&in, 1);
			p.flags = (uint8_t)take(&in, 1);
			p.sport = (uint16_t)take(&in, 2);
			p.dport = (uint16_t)take(&in, 1);
			p.time_ns = take(&in, 1) << 56 | now;
			for (size_t i = 0; i < sizeof(p.ifname); i++)
				p.ifname[i] = (char)take(&in, 1);
			check(fwd_guard_decide(g, &p, now, &a) == FWD_VERDICT_DROP,
			      "verdict");
			break;
		case 5:
			fwd_guard_tick(g, now, now, &a);
			break;
		case 6: {
			struct fwd_addr ad = { .family = AF_INET, .prefix = 32 };

			ad.a[0] = (uint8_t)(take(&in, 1) | 0x80);
			ad.a[3] = (uint8_t)take(&in, 1);
			fwd_guard_unblock(g, &ad);
			break;
		}
		default: {
			struct fwd_addr ad = { .family = AF_INET, .prefix = 32 };

			ad.a[0] = (uint8_t)(take(&in, 1) | 0x80);
			ad.a[3] = (uint8_t)take(&in, 1);
			fwd_guard_restore(g, &ad, FWD_REASON_SCAN,
					  (uint32_t)take(&in, 1), now);
			check_ring(ring, &in);
			break;
		}
		}
		check_acts(g, &gp, &a, now, ring);
		fwd_guard_stats(g, &st);
		check(st.blocked <= gp.max_blocked, "more blocks than max_blocked");
		check(st.tracked <= 8 * 64 * 2, "more sources than the table");
		/* max_blocked <= 8 fits the smallest block table: no growth. */
		check(st.memory == st0.memory, "memory grew");
	}
	fwd_vlog_ring_free(ring);
	fwd_guard_free(g);
	return 0;
}
