// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The verdict loop's pure half: guard decisions (scan, flood, never,
 * prefix6, blocks and their expiry and cap, bounded memory), log caps and
 * summaries, the record ring, and the JSON and DShield lines, exact.
 * No kernel: packet summaries and a clock made up here.
 */
#include "testutil.h"

#include "diag.h"
#include "guard.h"
#include "policy.h"
#include "util.h"
#include "vlog.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NS 1000000000ull
#define MS 1000000ull
#define T0 (1000 * NS)		/* decide's clock at the start of a test */
#define WALL 1764896523123456789ull	/* 2025-12-05T01:02:03.123Z */

static struct fwd_pkt pkt(const char *src, const char *dst, uint8_t proto,
			  uint16_t sport, uint16_t dport)
{
	struct fwd_pkt p;

	memset(&p, 0, sizeof(p));
	p.family = strchr(src, ':') ? AF_INET6 : AF_INET;
	ck_assert_int_eq(inet_pton(p.family, src, p.src), 1);
	ck_assert_int_eq(inet_pton(p.family, dst, p.dst), 1);
	p.proto = proto;
	p.sport = sport;
	p.dport = dport;
	p.tcp_flags = proto == IPPROTO_TCP ? 0x02 : 0;	/* SYN */
	p.time_ns = WALL;
	memcpy(p.ifname, "veth0", 6);
	p.ifindex = 3;
	return p;
}

/* Default parameters with the flood off, so a scan test sees the scan. */
static struct fwd_guard *guard_scan_only(struct fwd_guard_params *gp)
{
	fwd_guard_params_default(gp);
	gp->flood_rate = 0;
	gp->seed[0] = 1;
	gp->seed[1] = 2;
	return fwd_guard_new(gp);
}

static size_t count_kind(const struct fwd_acts *a, enum fwd_act_kind k)
{
	size_t n = 0;

	for (size_t i = 0; i < a->n; i++)
		n += a->a[i].kind == k;
	return n;
}

static const struct fwd_act *find_kind(const struct fwd_acts *a,
				       enum fwd_act_kind k)
{
	for (size_t i = 0; i < a->n; i++)
		if (a->a[i].kind == k)
			return &a->a[i];
	return NULL;
}

/* The packet's own record: the last LOG (a summary may come first). */
static const struct fwd_vlog_rec *last_log(const struct fwd_acts *a)
{
	for (size_t i = a->n; i > 0; i--)
		if (a->a[i - 1].kind == FWD_ACT_LOG)
			return &a->a[i - 1].rec;
	ck_abort_msg("no record");
	return NULL;
}

/* One packet; returns the actions. */
static struct fwd_acts one(struct fwd_guard *g, const struct fwd_pkt *p,
			   uint64_t now)
{
	struct fwd_acts a = { 0 };

	ck_assert_int_eq(fwd_guard_decide(g, p, now, &a), FWD_VERDICT_DROP);
	return a;
}

static void ck_block(const struct fwd_act *b, const char *src,
		     enum fwd_reason reason, uint32_t secs, bool extend)
{
	char buf[FWD_ADDR_STRLEN];

	ck_assert_ptr_nonnull(b);
	fwd_addr_format(&b->src, buf, sizeof(buf));
	ck_assert_str_eq(buf, src);
	ck_assert_int_eq(b->reason, reason);
	ck_assert_uint_eq(b->secs, secs);
	ck_assert_int_eq(b->extend, extend);
}

static void ck_host(const char *s, uint8_t *family, uint8_t a[16])
{
	*family = strchr(s, ':') ? AF_INET6 : AF_INET;
	memset(a, 0, 16);
	ck_assert_int_eq(inet_pton(*family, s, a), 1);
}

static bool blocked(struct fwd_guard *g, const char *s, uint64_t now)
{
	uint8_t fam, a[16];

	ck_host(s, &fam, a);
	return fwd_guard_blocked(g, fam, a, now);
}

/* ---- scan ---- */

/* scan = 10 ports / 5s: nine distinct ports do nothing, the tenth blocks,
 * with the default block (1h), reason scan, the record saying so. */
START_TEST(test_scan_threshold)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);
	struct fwd_pkt p;
	struct fwd_acts a;

	for (uint16_t port = 1; port <= 9; port++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, port);
		a = one(g, &p, T0 + port * MS);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_LOG), 1);
		ck_assert_int_eq(a.a[0].rec.reason, FWD_REASON_DENY);
	}
	/* The same nine again: not new ports. */
	for (uint16_t port = 1; port <= 9; port++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40001, port);
		a = one(g, &p, T0 + 100 * MS);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	ck_assert(!blocked(g, "203.0.113.9", T0 + 100 * MS));
	p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 10);
	a = one(g, &p, T0 + 200 * MS);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.9", FWD_REASON_SCAN,
		 3600, false);
	ck_assert_uint_eq(find_kind(&a, FWD_ACT_BLOCK)->until_ns,
			  T0 + 200 * MS + 3600 * NS);
	ck_assert(blocked(g, "203.0.113.9", T0 + 200 * MS));
	/* The packet that crossed is logged as the scan; the per-source cap
	 * (10 a second, spent by now) does not hide it. */
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_SCAN);
	/* Its next packet is from a blocked source. */
	p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 22);
	one(g, &p, T0 + 300 * MS);
	{
		struct fwd_guard_stats st;

		fwd_guard_stats(g, &st);
		ck_assert_uint_eq(st.blocks, 1);
		ck_assert_uint_eq(st.by_reason[FWD_REASON_SCAN], 1);
		ck_assert_uint_eq(st.by_reason[FWD_REASON_BLOCKED], 1);
		ck_assert_uint_eq(st.by_reason[FWD_REASON_DENY], 18);
		ck_assert_uint_eq(st.packets, 20);
	}
	/* UDP and TCP ports are different ports; ICMP has none. */
	for (uint16_t i = 0; i < 5; i++) {
		p = pkt("198.51.100.20", "192.0.2.1", IPPROTO_TCP, 1, 100 + i);
		ck_assert_uint_eq(count_kind((a = one(g, &p, T0), &a), FWD_ACT_BLOCK), 0);
		p = pkt("198.51.100.20", "192.0.2.1", IPPROTO_UDP, 1, 100 + i);
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), i == 4);
	}
	for (uint16_t i = 0; i < 20; i++) {
		p = pkt("198.51.100.21", "192.0.2.1", IPPROTO_ICMP, 0, i);
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	fwd_guard_free(g);
}
END_TEST

/* The window slides: ports older than 5 s no longer count. */
START_TEST(test_scan_window_slides)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);
	struct fwd_pkt p;
	struct fwd_acts a;

	/* Nine ports, one every 600 ms: 0 .. 4.8 s. */
	for (uint16_t i = 0; i < 9; i++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 1000 + i);
		a = one(g, &p, T0 + i * 600 * MS);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	/* At 5.3 s the first (0 s) has left: eight in the window + this = 9. */
	p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 2000);
	a = one(g, &p, T0 + 5300 * MS);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	/* At 5.4 s the second (0.6 s) is still in: ten. */
	p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 2001);
	a = one(g, &p, T0 + 5400 * MS);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.9", FWD_REASON_SCAN,
		 3600, false);
	fwd_guard_free(g);

	/* A slow scan, one port every 600 ms for a minute, never blocks;
	 * exactly at the window edge a port has left. */
	g = guard_scan_only(&gp);
	for (uint16_t i = 0; i < 100; i++) {
		p = pkt("203.0.113.10", "192.0.2.1", IPPROTO_TCP, 40000, i + 1);
		a = one(g, &p, T0 + i * 600 * MS);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	fwd_guard_free(g);
	g = guard_scan_only(&gp);
	for (uint16_t i = 0; i < 10; i++) {
		p = pkt("203.0.113.11", "192.0.2.1", IPPROTO_TCP, 40000, i + 1);
		/* Ten ports in 0 .. 5.0 s: the first is 5 s old when the
		 * tenth comes, out of a 5 s window. */
		a = one(g, &p, T0 + i * 5000 * MS / 9);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	fwd_guard_free(g);
}
END_TEST

/* ---- flood ---- */

START_TEST(test_flood)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g;
	struct fwd_pkt p;
	struct fwd_acts a;

	fwd_guard_params_default(&gp);	/* flood = 100 / 1s */
	g = fwd_guard_new(&gp);
	/* 100 new flows to one closed port at once: not a flood yet. */
	for (int i = 0; i < 100; i++) {
		p = pkt("203.0.113.50", "192.0.2.1", IPPROTO_UDP,
			(uint16_t)(10000 + i), 53);
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	p = pkt("203.0.113.50", "192.0.2.1", IPPROTO_UDP, 20000, 53);
	a = one(g, &p, T0);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.50",
		 FWD_REASON_FLOOD, 3600, false);
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_FLOOD);

	/* 100 a second, steadily, is the rate allowed: never a flood. */
	for (int i = 0; i < 1000; i++) {
		p = pkt("203.0.113.51", "192.0.2.1", IPPROTO_UDP,
			(uint16_t)(10000 + i), 53);
		a = one(g, &p, T0 + (uint64_t)i * 10 * MS);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	/* The kernel meter's word is a flood at once. */
	p = pkt("203.0.113.52", "192.0.2.1", IPPROTO_UDP, 1, 53);
	p.flags = FWD_PKT_METER;
	a = one(g, &p, T0);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.52",
		 FWD_REASON_FLOOD, 3600, false);
	fwd_guard_free(g);

	/* flood = off: neither counts nor the meter flag block. */
	gp.flood_rate = 0;
	g = fwd_guard_new(&gp);
	for (int i = 0; i < 5000; i++) {
		p = pkt("203.0.113.50", "192.0.2.1", IPPROTO_UDP,
			(uint16_t)(10000 + i), 53);
		p.flags = FWD_PKT_METER;
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	fwd_guard_free(g);
}
END_TEST

/* ---- never, from a policy ---- */

static const char never_conf[] =
	"[defaults]\n"
	"inbound = deny\n"
	"[list office]\n"
	"members = 192.0.2.0/24, 2001:db8:a::/64\n"
	"[guard]\n"
	"scan = 10 ports / 5s\n"
	"never = @office, 198.51.100.7\n"
	"        2001:db8:b::1, 198.51.100.64/26\n";

static struct fwd_guard *guard_from(const char *text, struct fwd_guard_params *gp)
{
	struct fwd_policy *p = NULL;
	struct fwd_addr *never;
	struct fwd_diags d;
	struct fwd_guard *g;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("g.conf", text, strlen(text),
						NULL, &p, &d), 0);
	fwd_diags_free(&d);
	fwd_guard_params_default(gp);
	fwd_guard_params_from_policy(p, gp, &never);
	g = fwd_guard_new(gp);
	free(never);
	fwd_policy_free(p);
	return g;
}

/* Twenty ports from src at once; whether that blocked. */
static bool scan20(struct fwd_guard *g, const char *src)
{
	bool any = false;

	for (uint16_t i = 0; i < 20; i++) {
		struct fwd_pkt p = pkt(src, strchr(src, ':') ? "2001:db8::1" :
				       "192.0.2.1", IPPROTO_TCP, 40000, i + 1);
		struct fwd_acts a = one(g, &p, T0);

		any |= count_kind(&a, FWD_ACT_BLOCK) > 0;
	}
	return any;
}

START_TEST(test_never)
{
	static const char *const never[] = {
		"192.0.2.77",		/* @office, a CIDR member */
		"2001:db8:a::99",	/* @office, IPv6 CIDR member */
		"198.51.100.7",		/* an address */
		"2001:db8:b::1",	/* an IPv6 address, on a continuation line */
		"198.51.100.64", "198.51.100.127",	/* a CIDR's ends */
	};
	static const char *const others[] = {
		"198.51.100.6", "198.51.100.8", "198.51.100.63", "198.51.100.128",
		"192.0.3.1", "2001:db8:a:1::1", "2001:db8:b::2",
	};
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_from(never_conf, &gp);
	struct fwd_guard_stats st;

	ck_assert_uint_eq(gp.nnever, 5);
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		ck_assert_msg(!scan20(g, never[i]), "%s was blocked", never[i]);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		ck_assert_msg(scan20(g, others[i]), "%s was not blocked", others[i]);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.never, 6 * 20);
	ck_assert_uint_eq(st.blocks, 7);
	fwd_guard_free(g);

	/* Overlapping and nested networks merge without losing an end. */
	{
		static const char *const nets[] = {
			"198.51.100.64/26", "198.51.100.0/26", "198.51.100.32/27",
			"198.51.100.60/30", "198.51.100.7",
		};
		struct fwd_addr a[5];

		for (size_t i = 0; i < 5; i++)
			ck_assert_int_eq(fwd_addr_parse(nets[i], &a[i], NULL, 0), 0);
		fwd_guard_params_default(&gp);
		gp.never = a;
		gp.nnever = 5;
		g = fwd_guard_new(&gp);
		ck_assert(!scan20(g, "198.51.100.0"));
		ck_assert(!scan20(g, "198.51.100.20"));
		ck_assert(!scan20(g, "198.51.100.63"));
		ck_assert(!scan20(g, "198.51.100.100"));
		ck_assert(!scan20(g, "198.51.100.127"));
		ck_assert(scan20(g, "198.51.100.128"));
		ck_assert(scan20(g, "198.51.99.255"));
		fwd_guard_free(g);
	}
}
END_TEST

/* Records name the policy line behind them. */
START_TEST(test_policy_lines)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_from(never_conf, &gp);
	struct fwd_pkt p;
	struct fwd_acts a;

	ck_assert_str_eq(gp.loc_deny, "g.conf:2");
	ck_assert_str_eq(gp.loc_scan, "g.conf:6");
	ck_assert_str_eq(gp.loc_flood, "g.conf:5");	/* default: [guard] */
	ck_assert_str_eq(gp.loc_block, "g.conf:5");
	for (uint16_t i = 0; i < 10; i++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, i + 1);
		a = one(g, &p, T0);
	}
	ck_assert_str_eq(last_log(&a)->policy, "g.conf:6");
	a = one(g, &p, T0 + NS);
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_BLOCKED);
	ck_assert_str_eq(last_log(&a)->policy, "g.conf:5");
	p = pkt("203.0.113.10", "192.0.2.1", IPPROTO_TCP, 40000, 1);
	a = one(g, &p, T0);
	ck_assert_str_eq(last_log(&a)->policy, "g.conf:2");
	fwd_guard_free(g);
}
END_TEST

/* ---- prefix6 ---- */

START_TEST(test_prefix6)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);	/* prefix6 = 64 */
	struct fwd_pkt p;
	struct fwd_acts a;
	char src[64];

	/* Ten addresses of one /64, a port each: one source, a scan. */
	for (uint16_t i = 0; i < 10; i++) {
		snprintf(src, sizeof(src), "2001:db8:1:0:%x::%x", i, i + 1);
		p = pkt(src, "2001:db8::1", IPPROTO_TCP, 40000, i + 1);
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), i == 9);
	}
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "2001:db8:1::/64", FWD_REASON_SCAN,
		 3600, false);
	ck_assert(blocked(g, "2001:db8:1::ffff", T0));
	ck_assert(!blocked(g, "2001:db8:1:1::1", T0));
	ck_assert(!blocked(g, "2001:db8:2::1", T0));
	fwd_guard_free(g);

	/* prefix6 = 128: the same ten addresses are ten sources. */
	fwd_guard_params_default(&gp);
	gp.prefix6 = 128;
	g = fwd_guard_new(&gp);
	for (uint16_t i = 0; i < 10; i++) {
		snprintf(src, sizeof(src), "2001:db8:1:0:%x::%x", i, i + 1);
		p = pkt(src, "2001:db8::1", IPPROTO_TCP, 40000, i + 1);
		a = one(g, &p, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	}
	fwd_guard_free(g);

	/* prefix6 = 60: a prefix that ends inside a byte. */
	fwd_guard_params_default(&gp);
	gp.prefix6 = 60;
	g = fwd_guard_new(&gp);
	for (uint16_t i = 0; i < 10; i++) {
		snprintf(src, sizeof(src), "2001:db8:1:%x::1", i);
		p = pkt(src, "2001:db8::1", IPPROTO_TCP, 40000, i + 1);
		a = one(g, &p, T0);
	}
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "2001:db8:1::/60", FWD_REASON_SCAN,
		 3600, false);
	ck_assert(blocked(g, "2001:db8:1:f::1", T0));
	ck_assert(!blocked(g, "2001:db8:1:10::1", T0));
	fwd_guard_free(g);
}
END_TEST

/* ---- blocks: repeat offence, expiry, unblock, restore ---- */

static struct fwd_acts scan10(struct fwd_guard *g, const char *src, uint64_t now)
{
	struct fwd_acts a = { 0 };

	for (uint16_t i = 0; i < 10; i++) {
		struct fwd_pkt p = pkt(src, "192.0.2.1", IPPROTO_TCP, 40000, i + 1);

		a = one(g, &p, now);
	}
	return a;
}

START_TEST(test_repeat_extends)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);
	uint64_t t1 = T0 + 1800 * NS;
	struct fwd_acts a;

	a = scan10(g, "203.0.113.9", T0);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.9", FWD_REASON_SCAN,
		 3600, false);
	/* Half an hour later, still blocked, it scans again (packets queued
	 * before the kernel had the element): the block runs from now. */
	a = scan10(g, "203.0.113.9", t1);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.9", FWD_REASON_SCAN,
		 3600, true);
	ck_assert_uint_eq(find_kind(&a, FWD_ACT_BLOCK)->until_ns, t1 + 3600 * NS);
	ck_assert(blocked(g, "203.0.113.9", T0 + 3600 * NS + 1));
	ck_assert(blocked(g, "203.0.113.9", t1 + 3600 * NS - 1));
	ck_assert(!blocked(g, "203.0.113.9", t1 + 3600 * NS));
	{
		struct fwd_guard_stats st;

		fwd_guard_stats(g, &st);
		ck_assert_uint_eq(st.blocks, 1);
		ck_assert_uint_eq(st.extends, 1);
	}
	fwd_guard_free(g);
}
END_TEST

START_TEST(test_expiry)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g;
	struct fwd_guard_stats st;
	struct fwd_acts a = { 0 };
	struct fwd_addr ad;
	struct fwd_pkt p;

	fwd_guard_params_default(&gp);
	gp.block_secs = 60;
	g = fwd_guard_new(&gp);
	scan10(g, "203.0.113.9", T0);
	ck_assert(blocked(g, "203.0.113.9", T0 + 60 * NS - 1));
	p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 22);
	a = one(g, &p, T0 + 60 * NS - 1);
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_BLOCKED);
	/* At the end of its minute it is a stranger again. */
	a = one(g, &p, T0 + 60 * NS);
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_DENY);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.blocked, 0);

	/* A tick removes ended blocks nobody asks about. */
	scan10(g, "203.0.113.10", T0 + 100 * NS);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.blocked, 1);
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + 160 * NS, WALL, &a);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.blocked, 0);

	/* fwctl unblock, and blocks read back after a restart. */
	scan10(g, "203.0.113.11", T0 + 200 * NS);
	ck_assert_int_eq(fwd_addr_parse("203.0.113.11", &ad, NULL, 0), 0);
	ck_assert_int_eq(fwd_guard_unblock(g, &ad), 0);
	ck_assert_int_eq(fwd_guard_unblock(g, &ad), -ENOENT);
	ck_assert(!blocked(g, "203.0.113.11", T0 + 200 * NS));
	ck_assert_int_eq(fwd_guard_restore(g, &ad, FWD_REASON_FLOOD, 30,
					   T0 + 200 * NS), 0);
	ck_assert(blocked(g, "203.0.113.11", T0 + 230 * NS - 1));
	ck_assert(!blocked(g, "203.0.113.11", T0 + 230 * NS));
	fwd_guard_free(g);
}
END_TEST

/* ---- max_blocked ---- */

START_TEST(test_max_blocked)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g;
	struct fwd_guard_stats st;
	const struct fwd_act *c;
	struct fwd_acts a;
	char src[32];

	fwd_guard_params_default(&gp);
	gp.max_blocked = 3;
	gp.block_secs = 600;
	g = fwd_guard_new(&gp);
	for (int i = 1; i <= 3; i++) {
		snprintf(src, sizeof(src), "203.0.113.%d", i);
		a = scan10(g, src, T0);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 1);
		ck_assert_uint_eq(count_kind(&a, FWD_ACT_CAP), 0);
	}
	/* The fourth is refused, and said so at once... */
	a = scan10(g, "203.0.113.4", T0 + NS);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 0);
	c = find_kind(&a, FWD_ACT_CAP);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->blocked, 3);
	ck_assert_uint_eq(c->refused, 1);
	ck_assert(!blocked(g, "203.0.113.4", T0 + NS));
	ck_assert_int_eq(last_log(&a)->reason, FWD_REASON_SCAN);
	/* ...the fifth and sixth counted, not repeated within 10 s... */
	a = scan10(g, "203.0.113.5", T0 + 2 * NS);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_CAP), 0);
	a = scan10(g, "203.0.113.6", T0 + 3 * NS);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_CAP), 0);
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + 5 * NS, WALL, &a);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_CAP), 0);
	/* ...and the tick says them once the interval is over. */
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + 11 * NS, WALL, &a);
	c = find_kind(&a, FWD_ACT_CAP);
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->refused, 2);
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + 30 * NS, WALL, &a);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_CAP), 0);	/* nothing new */
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.cap_refused, 3);
	ck_assert_uint_eq(st.blocked, 3);
	/* An existing block is never pushed out; once they end, room again. */
	ck_assert(blocked(g, "203.0.113.1", T0 + 599 * NS));
	a = scan10(g, "203.0.113.7", T0 + 600 * NS);
	ck_block(find_kind(&a, FWD_ACT_BLOCK), "203.0.113.7", FWD_REASON_SCAN,
		 600, false);
	fwd_guard_free(g);
}
END_TEST

/* ---- bounded memory ---- */

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * A million random (spoofed) sources, each knocking on a few ports, at a
 * rate no clock could allow them to be forgotten: the table stays the
 * size fwd_guard_new made it, the block table within max_blocked, and a
 * real scanner among them is still caught.
 */
START_TEST(test_memory_bound)
{
	struct fwd_guard_params gp;
	struct fwd_guard_stats st0, st;
	struct fwd_guard *g;
	uint64_t s = 88172645463325252ull;
	struct fwd_pkt p, tmpl;
	struct fwd_acts a;
	size_t bad = 0;

	fwd_guard_params_default(&gp);
	gp.capacity = 4096;
	gp.max_blocked = 1000;
	gp.scan_ports = 3;
	g = fwd_guard_new(&gp);
	fwd_guard_stats(g, &st0);
	/* libcheck records every assertion: the loop counts, then asserts. */
	tmpl = pkt("192.0.2.1", "192.0.2.1", IPPROTO_TCP, 1, 1);
	for (uint32_t i = 0; i < 1000000; i++) {
		uint64_t r = xorshift(&s);

		p = tmpl;
		if (r & 1) {
			p.family = AF_INET6;
			memcpy(p.src, &r, 8);
			memcpy(p.src + 8, &i, 4);
		} else {
			memcpy(p.src, &r, 4);
		}
		p.dport = (uint16_t)(r >> 32);
		a.n = 0;
		bad += fwd_guard_decide(g, &p, T0 + i * 1000ull, &a) != FWD_VERDICT_DROP;
		/* Now and then one scans: three ports at once. */
		if (i % 1000 == 0) {
			p.dport++;
			a.n = 0;
			fwd_guard_decide(g, &p, T0 + i * 1000ull, &a);
			p.dport++;
			a.n = 0;
			fwd_guard_decide(g, &p, T0 + i * 1000ull, &a);
			bad += count_kind(&a, FWD_ACT_BLOCK) != 1;
		}
		bad += a.n > FWD_GUARD_ACTS;
	}
	ck_assert_uint_eq(bad, 0);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.packets, 1000000 + 2000);
	ck_assert_uint_le(st.tracked, 4096);
	ck_assert_uint_ge(st.evictions, 1000000 - 4096);
	ck_assert_uint_eq(st.blocks, 1000);	/* one per scanner, to the cap */
	ck_assert_uint_eq(st.blocked, 1000);
	ck_assert_uint_eq(st.cap_refused, 0);
	/* Memory: the source table is fixed; the block table grew to hold
	 * max_blocked at half load and no further. */
	ck_assert_uint_le(st.memory, st0.memory + 2048 * 32);
	/* 1000 blocked + 1000 more scanners: refused, memory unchanged. */
	for (uint32_t i = 0; i < 1000; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.51.100.%u", i % 250);
		p = pkt(src, "192.0.2.1", IPPROTO_TCP, 1, (uint16_t)(1 + i));
		one(g, &p, T0 + 2000 * NS);
	}
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.blocked, 1000);
	ck_assert_uint_ge(st.cap_refused, 1);
	ck_assert_uint_le(st.memory, st0.memory + 2048 * 32);
	fwd_guard_free(g);
}
END_TEST

/* ---- log caps ---- */

START_TEST(test_log_caps)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);	/* 10/s per source */
	struct fwd_guard_stats st;
	struct fwd_pkt p;
	struct fwd_acts a;
	size_t logged = 0;

	/* 25 packets of one source at once, one port: 10 records. */
	for (int i = 0; i < 25; i++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP,
			(uint16_t)(40000 + i), 23);
		a = one(g, &p, T0);
		logged += count_kind(&a, FWD_ACT_LOG);
	}
	ck_assert_uint_eq(logged, 10);
	/* A second later: a summary of the 15 left out, then the record. */
	a = one(g, &p, T0 + NS);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_int_eq(a.a[0].kind, FWD_ACT_LOG);
	ck_assert_int_eq(a.a[0].rec.reason, FWD_REASON_SUPPRESSED);
	ck_assert_uint_eq(a.a[0].rec.count, 15);
	ck_assert_int_eq(a.a[0].rec.family, AF_INET);
	ck_assert_int_eq(a.a[1].rec.reason, FWD_REASON_DENY);
	ck_assert_uint_eq(a.a[1].rec.count, 1);
	fwd_guard_stats(g, &st);
	ck_assert_uint_eq(st.suppressed, 15);
	ck_assert_uint_eq(st.logged, 12);
	fwd_guard_free(g);

	/* The total cap: 20 a second over 30 sources. */
	fwd_guard_params_default(&gp);
	gp.log_rate = 20;
	g = fwd_guard_new(&gp);
	logged = 0;
	for (int i = 0; i < 30; i++) {
		char src[32];

		snprintf(src, sizeof(src), "198.51.100.%d", i + 1);
		p = pkt(src, "192.0.2.1", IPPROTO_TCP, 40000, 23);
		a = one(g, &p, T0);
		for (size_t k = 0; k < a.n; k++) {
			if (a.a[k].rec.reason == FWD_REASON_SUPPRESSED) {
				/* The first one left out is said at once. */
				ck_assert_int_eq(i, 20);
				ck_assert_uint_eq(a.a[k].rec.count, 1);
				ck_assert_int_eq(a.a[k].rec.family, 0);
			} else {
				logged++;
			}
		}
	}
	ck_assert_uint_eq(logged, 20);
	/* The other 9 wait for the interval, then one summary. */
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + NS / 2, WALL, &a);
	ck_assert_uint_eq(a.n, 0);
	fwd_guard_tick(g, T0 + NS, WALL, &a);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_int_eq(a.a[0].rec.reason, FWD_REASON_SUPPRESSED);
	ck_assert_uint_eq(a.a[0].rec.count, 9);
	ck_assert_uint_eq(a.a[0].rec.time_ns, WALL);
	fwd_guard_free(g);

	/* A source that went quiet: its count goes to the total (a table
	 * small enough for one tick to look at every entry). */
	fwd_guard_params_default(&gp);
	gp.capacity = 1024;
	g = fwd_guard_new(&gp);
	for (int i = 0; i < 12; i++) {
		p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 23);
		one(g, &p, T0);
	}
	memset(&a, 0, sizeof(a));
	fwd_guard_tick(g, T0 + 2 * NS, WALL, &a);
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(a.a[0].rec.count, 2);
	ck_assert_int_eq(a.a[0].rec.family, 0);
	fwd_guard_free(g);
}
END_TEST

/* ---- the ring ---- */

static struct fwd_vlog_rec rec_at(uint64_t t)
{
	struct fwd_vlog_rec r;

	memset(&r, 0, sizeof(r));
	r.time_ns = t;
	r.count = 1;
	return r;
}

static void ck_seqs(const struct fwd_vlog_rec *out, size_t n,
		    const uint64_t *want, size_t nwant)
{
	ck_assert_uint_eq(n, nwant);
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(out[i].seq, want[i]);
}

START_TEST(test_ring)
{
	struct fwd_vlog_ring *r = fwd_vlog_ring_new(4);
	struct fwd_vlog_query q = { 0 };
	struct fwd_vlog_rec out[8];
	uint64_t missed;
	size_t n;

	ck_assert_uint_eq(fwd_vlog_read(r, &q, out, 8, &missed), 0);
	ck_assert_uint_eq(missed, 0);
	for (uint64_t i = 1; i <= 10; i++) {
		struct fwd_vlog_rec x = rec_at(i * 1000);

		ck_assert_uint_eq(fwd_vlog_push(r, &x), i);
	}
	ck_assert_uint_eq(fwd_vlog_next_seq(r), 11);
	/* The oldest kept are 7..10; 1..6 were overwritten. */
	n = fwd_vlog_read(r, &q, out, 8, &missed);
	ck_seqs(out, n, (uint64_t[]){ 7, 8, 9, 10 }, 4);
	ck_assert_uint_eq(out[0].time_ns, 7000);
	ck_assert_uint_eq(missed, 6);
	/* A follower at 8 gets 9 and 10, missing nothing; at 10, nothing;
	 * one that fell behind at 3 is told it missed 4, 5 and 6. */
	q.after_seq = 8;
	n = fwd_vlog_read(r, &q, out, 8, &missed);
	ck_seqs(out, n, (uint64_t[]){ 9, 10 }, 2);
	ck_assert_uint_eq(missed, 0);
	q.after_seq = 10;
	ck_assert_uint_eq(fwd_vlog_read(r, &q, out, 8, &missed), 0);
	q.after_seq = 3;
	n = fwd_vlog_read(r, &q, out, 8, &missed);
	ck_seqs(out, n, (uint64_t[]){ 7, 8, 9, 10 }, 4);
	ck_assert_uint_eq(missed, 3);
	/* --since, last N, both, and a small buffer (the newest win). */
	q = (struct fwd_vlog_query){ .since_ns = 9000 };
	n = fwd_vlog_read(r, &q, out, 8, NULL);
	ck_seqs(out, n, (uint64_t[]){ 9, 10 }, 2);
	q = (struct fwd_vlog_query){ .last = 3 };
	n = fwd_vlog_read(r, &q, out, 8, NULL);
	ck_seqs(out, n, (uint64_t[]){ 8, 9, 10 }, 3);
	q = (struct fwd_vlog_query){ .last = 3, .since_ns = 9500 };
	n = fwd_vlog_read(r, &q, out, 8, NULL);
	ck_seqs(out, n, (uint64_t[]){ 10 }, 1);
	q = (struct fwd_vlog_query){ 0 };
	n = fwd_vlog_read(r, &q, out, 2, NULL);
	ck_seqs(out, n, (uint64_t[]){ 9, 10 }, 2);
	q = (struct fwd_vlog_query){ .since_ns = 100000 };
	ck_assert_uint_eq(fwd_vlog_read(r, &q, out, 8, NULL), 0);
	fwd_vlog_ring_free(r);

	/* Wrapping many times over keeps order and seqs. */
	r = fwd_vlog_ring_new(3);
	for (uint64_t i = 1; i <= 1000; i++) {
		struct fwd_vlog_rec x = rec_at(i);

		fwd_vlog_push(r, &x);
	}
	q = (struct fwd_vlog_query){ .after_seq = 997 };
	n = fwd_vlog_read(r, &q, out, 8, &missed);
	ck_seqs(out, n, (uint64_t[]){ 998, 999, 1000 }, 3);
	ck_assert_uint_eq(missed, 0);
	fwd_vlog_ring_free(r);
}
END_TEST

/* ---- formats ---- */

static char *fmt_json(const struct fwd_vlog_rec *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fwd_vlog_json(r, f);
	fclose(f);
	return buf;
}

static char *fmt_dshield(const struct fwd_vlog_rec *r, uint32_t uid, long tz,
			 int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	*ret = fwd_vlog_dshield(r, uid, tz, f);
	fclose(f);
	return buf;
}

static char *fmt_text(const struct fwd_vlog_rec *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fwd_vlog_text(r, f);
	fclose(f);
	return buf;
}

/* The record decide makes of a known probe: a SYN from 203.0.113.9:40000
 * to 192.0.2.1:23 on veth0, dropped by the default deny of g.conf:2. */
static struct fwd_vlog_rec known_probe(void)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_from(never_conf, &gp);
	struct fwd_pkt p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 40000, 23);
	struct fwd_acts a = one(g, &p, T0);
	struct fwd_vlog_ring *r = fwd_vlog_ring_new(8);
	struct fwd_vlog_query q = { 0 };
	struct fwd_vlog_rec out;

	ck_assert_uint_eq(a.n, 1);
	fwd_vlog_push(r, &a.a[0].rec);
	fwd_vlog_push(r, &a.a[0].rec);
	q.last = 1;
	ck_assert_uint_eq(fwd_vlog_read(r, &q, &out, 1, NULL), 1);
	fwd_vlog_ring_free(r);
	fwd_guard_free(g);
	return out;
}

START_TEST(test_json_exact)
{
	struct fwd_vlog_rec r = known_probe();
	char *s = fmt_json(&r), *out = NULL, *path;
	FILE *f;
	int st;

	ck_assert_str_eq(s,
		"{\"seq\":2,\"time\":\"2025-12-05T01:02:03.123Z\",\"verdict\":\"drop\","
		"\"reason\":\"default deny\",\"in\":\"veth0\",\"proto\":\"tcp\","
		"\"src\":\"203.0.113.9\",\"sport\":40000,\"dst\":\"192.0.2.1\","
		"\"dport\":23,\"flags\":\"syn\",\"count\":1,\"policy\":\"g.conf:2\"}\n");
	free(s);

	/* Lines of every kind parse back, with the keys `fwctl log --json`
	 * promises: a v6 SYN-ACK, ICMP, a source summary, a total summary,
	 * an interface name that needs escaping. */
	path = fwd_xasprintf("/tmp/check-guard-%d.jsonl", (int)getpid());
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	r.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::9", r.src);
	inet_pton(AF_INET6, "2001:db8::1", r.dst);
	r.tcp_flags = 0x12;
	r.reason = FWD_REASON_SCAN;
	fwd_vlog_json(&r, f);
	r.proto = IPPROTO_ICMPV6;
	r.sport = 0;
	r.dport = 128;
	memcpy(r.in, "we\"ird\\", 8);
	r.policy[0] = 0;
	fwd_vlog_json(&r, f);
	r.reason = FWD_REASON_SUPPRESSED;
	r.count = 15;
	fwd_vlog_json(&r, f);
	r.family = 0;
	fwd_vlog_json(&r, f);
	fclose(f);
	st = tu_sh(&out, "python3 -c '"
		"import json,sys\n"
		"for l in open(sys.argv[1]):\n"
		"  o=json.loads(l)\n"
		"  print(\" \".join(str(o[k]) for k in (\"time\",\"verdict\",\"reason\",\"in\",\"proto\",\"src\",\"sport\",\"dst\",\"dport\",\"flags\",\"count\",\"policy\")))\n"
		"' %s", path);
	ck_assert_int_eq(st, 0);
	ck_assert_str_eq(out,
		"2025-12-05T01:02:03.123Z drop guard scan veth0 tcp 2001:db8::9 40000 2001:db8::1 23 syn,ack 1 g.conf:2\n"
		"2025-12-05T01:02:03.123Z drop guard scan we\"ird\\ ipv6-icmp 2001:db8::9 0 2001:db8::1 128  1 None\n"
		"2025-12-05T01:02:03.123Z drop suppressed we\"ird\\ ipv6-icmp 2001:db8::9 0 2001:db8::1 128  15 None\n"
		"2025-12-05T01:02:03.123Z drop suppressed we\"ird\\ ipv6-icmp None None None None  15 None\n");
	unlink(path);
	free(path);
	free(out);
}
END_TEST

START_TEST(test_dshield_exact)
{
	struct fwd_vlog_rec r = known_probe();
	int ret;
	char *s;

	s = fmt_dshield(&r, 123456, 0, &ret);
	ck_assert_int_eq(ret, 0);
	ck_assert_str_eq(s, "2025-12-05 01:02:03 +00:00\t123456\t1\t203.0.113.9\t40000\t"
			 "192.0.2.1\t23\tTCP\tS\n");
	free(s);
	/* Local time with its offset, both ways round. */
	s = fmt_dshield(&r, 0, 3600, &ret);
	ck_assert_str_eq(s, "2025-12-05 02:02:03 +01:00\t0\t1\t203.0.113.9\t40000\t"
			 "192.0.2.1\t23\tTCP\tS\n");
	free(s);
	s = fmt_dshield(&r, 7, -(4 * 3600 + 30 * 60), &ret);
	ck_assert_str_eq(s, "2025-12-04 20:32:03 -04:30\t7\t1\t203.0.113.9\t40000\t"
			 "192.0.2.1\t23\tTCP\tS\n");
	free(s);
	/* Every flag, in DShield's order SFAPRU12. */
	r.tcp_flags = 0xff;
	s = fmt_dshield(&r, 7, 0, &ret);
	ck_assert_str_eq(s, "2025-12-05 01:02:03 +00:00\t7\t1\t203.0.113.9\t40000\t"
			 "192.0.2.1\t23\tTCP\tSFAPRU12\n");
	free(s);
	/* UDP: no flags; IPv6; ICMP: code and type; a source summary. */
	r.proto = IPPROTO_UDP;
	s = fmt_dshield(&r, 7, 0, &ret);
	ck_assert_str_eq(s, "2025-12-05 01:02:03 +00:00\t7\t1\t203.0.113.9\t40000\t"
			 "192.0.2.1\t23\tUDP\t\n");
	free(s);
	r.proto = IPPROTO_ICMP;
	r.sport = 0;
	r.dport = 8;
	r.count = 15;
	r.reason = FWD_REASON_SUPPRESSED;
	s = fmt_dshield(&r, 7, 0, &ret);
	ck_assert_str_eq(s, "2025-12-05 01:02:03 +00:00\t7\t15\t203.0.113.9\t0\t"
			 "192.0.2.1\t8\tICMP\t\n");
	free(s);
	r.family = AF_INET6;
	r.proto = IPPROTO_ICMPV6;
	inet_pton(AF_INET6, "2001:db8::9", r.src);
	inet_pton(AF_INET6, "2001:db8::1", r.dst);
	s = fmt_dshield(&r, 7, 0, &ret);
	ck_assert_str_eq(s, "2025-12-05 01:02:03 +00:00\t7\t15\t2001:db8::9\t0\t"
			 "2001:db8::1\t8\t58\t\n");
	free(s);
	/* A total summary names no source: DShield cannot take it. */
	r.family = 0;
	s = fmt_dshield(&r, 7, 0, &ret);
	ck_assert_int_eq(ret, -ENODATA);
	ck_assert_str_eq(s, "");
	free(s);
}
END_TEST

START_TEST(test_text_exact)
{
	struct fwd_vlog_rec r = known_probe();
	char *s = fmt_text(&r);

	ck_assert_str_eq(s, "2025-12-05T01:02:03.123Z drop default deny in=veth0 "
			 "tcp 203.0.113.9:40000 -> 192.0.2.1:23 flags=syn (g.conf:2)\n");
	free(s);
	r.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::9", r.src);
	inet_pton(AF_INET6, "2001:db8::1", r.dst);
	r.reason = FWD_REASON_BLOCKED;
	r.policy[0] = 0;
	s = fmt_text(&r);
	ck_assert_str_eq(s, "2025-12-05T01:02:03.123Z drop blocked in=veth0 "
			 "tcp [2001:db8::9]:40000 -> [2001:db8::1]:23 flags=syn\n");
	free(s);
	r.reason = FWD_REASON_SUPPRESSED;
	r.count = 4;
	s = fmt_text(&r);
	ck_assert_str_eq(s, "2025-12-05T01:02:03.123Z drop suppressed: 4 records "
			 "from 2001:db8::9 left out\n");
	free(s);
	r.family = 0;
	s = fmt_text(&r);
	ck_assert_str_eq(s, "2025-12-05T01:02:03.123Z drop suppressed: 4 records left out\n");
	free(s);
}
END_TEST

/* A clock that goes back is taken as standing still, and odd summaries
 * (unknown family, unterminated interface name) are dropped and logged. */
START_TEST(test_odd_input)
{
	struct fwd_guard_params gp;
	struct fwd_guard *g = guard_scan_only(&gp);
	struct fwd_pkt p = pkt("203.0.113.9", "192.0.2.1", IPPROTO_TCP, 1, 1);
	struct fwd_acts a;

	memset(p.ifname, 'x', sizeof(p.ifname));
	p.ifname[1] = '\t';
	p.ifname[2] = (char)0xe9;
	a = one(g, &p, T0);
	ck_assert_str_eq(last_log(&a)->in, "x??xxxxxxxxxxxx");
	for (uint16_t i = 2; i <= 10; i++) {
		p.dport = i;
		/* Going back in time: the ports still count at T0. */
		a = one(g, &p, T0 - i * NS);
	}
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_BLOCK), 1);
	p.family = 99;
	a = one(g, &p, T0);
	ck_assert_uint_eq(count_kind(&a, FWD_ACT_LOG), 1);
	ck_assert_int_eq(a.a[0].rec.reason, FWD_REASON_DENY);
	fwd_guard_free(g);
}
END_TEST

/*
 * fwd_guard_same: what a reload compares before keeping the running guard
 * (vloop.c). The seed and the policy lines do not count, the never peers
 * count as a set (order and spelling aside), every knob counts.
 */
START_TEST(test_same_params)
{
	struct fwd_guard_params gp, b;
	struct fwd_addr nv[3], nv2[2];
	struct fwd_guard *g;
	char why[128];

	fwd_guard_params_default(&gp);
	ck_assert_int_eq(fwd_addr_parse("192.0.2.0/25", &nv[0], why, sizeof(why)), 0);
	ck_assert_int_eq(fwd_addr_parse("192.0.2.128/25", &nv[1], why, sizeof(why)), 0);
	ck_assert_int_eq(fwd_addr_parse("2001:db8::/48", &nv[2], why, sizeof(why)), 0);
	gp.never = nv;
	gp.nnever = 3;
	g = fwd_guard_new(&gp);
	b = gp;
	b.seed[0] ^= 1;
	snprintf(b.loc_scan, sizeof(b.loc_scan), "other.conf:9");
	ck_assert(fwd_guard_same(g, &b));
	/* The same peers written another way: one /24, in another order. */
	ck_assert_int_eq(fwd_addr_parse("2001:db8::/48", &nv2[0], why, sizeof(why)), 0);
	ck_assert_int_eq(fwd_addr_parse("192.0.2.0/24", &nv2[1], why, sizeof(why)), 0);
	b.never = nv2;
	b.nnever = 2;
	ck_assert(fwd_guard_same(g, &b));
	b.nnever = 1;
	ck_assert(!fwd_guard_same(g, &b));
	b = gp;
	b.scan_ports++;
	ck_assert(!fwd_guard_same(g, &b));
	b = gp;
	b.block_secs++;
	ck_assert(!fwd_guard_same(g, &b));
	b = gp;
	b.flood_rate = 0;
	ck_assert(!fwd_guard_same(g, &b));
	b = gp;
	b.prefix6 = 56;
	ck_assert(!fwd_guard_same(g, &b));
	/* Out of range is compared as fwd_guard_new would clamp it. */
	gp.scan_ports = 64;
	fwd_guard_free(g);
	g = fwd_guard_new(&gp);
	b = gp;
	b.scan_ports = 1000;
	ck_assert(fwd_guard_same(g, &b));
	/* The locs follow. */
	fwd_guard_set_locs(g, &b);
	fwd_guard_free(g);
}
END_TEST

static Suite *guard_suite(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scan_threshold);
	tcase_add_test(tc, test_scan_window_slides);
	tcase_add_test(tc, test_flood);
	tcase_add_test(tc, test_never);
	tcase_add_test(tc, test_policy_lines);
	tcase_add_test(tc, test_prefix6);
	tcase_add_test(tc, test_repeat_extends);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_max_blocked);
	tcase_add_test(tc, test_memory_bound);
	tcase_add_test(tc, test_log_caps);
	tcase_add_test(tc, test_ring);
	tcase_add_test(tc, test_json_exact);
	tcase_add_test(tc, test_dshield_exact);
	tcase_add_test(tc, test_text_exact);
	tcase_add_test(tc, test_odd_input);
	tcase_add_test(tc, test_same_params);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(guard_suite());
}
