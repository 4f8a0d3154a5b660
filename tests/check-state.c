// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state file format (daemon/state.c) without a daemon: IRs compiled
 * from the golden fixtures saved, loaded and decoded again.
 *
 * FWD_STATE_SEEDS=DIR: write the fuzzer's seed corpus (tests/fuzz/corpus/
 * state) instead of testing: each fixture's IR saved by the real save path.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ir.h"
#include "ir-same.h"
#include "policy.h"
#include "state.h"
#include "testutil.h"

#define TEST_NOW 1000000u

/* The queue golden's compile options (as check-compile's). */
static const struct fwd_compile_opts queue_opts = {
	.queue = { .on = true, .num = 0, .total = 2, .meter = true,
		   .rate = 100, .period_s = 1, .burst = 100 },
};

/* Owner sets and the program queue, which no golden fixture has. */
static const char outbound_text[] =
	"[defaults]\noutbound = deny\n"
	"[service web]\ndirection = out\nports = 443/tcp, 8000-8010/tcp\n"
	"allow = 203.0.113.7, 2001:db8:5::/48\n"
	"user = root\n"
	"[service dns]\ndirection = out\nports = 53/udp\nallow = any\n"
	"program = /usr/sbin/fwd-test-resolver\n";

static const struct fixture {
	const char *name;			/* tests/golden/NAME.conf */
	const struct fwd_compile_opts *opts;	/* NULL: none */
	const char *text;			/* instead of a file */
} fixtures[] = {
	{ "builtin", NULL, NULL },		/* fwd_policy_builtin() */
	{ "lists", NULL, NULL },
	{ "guard", NULL, NULL },
	{ "owner", NULL, NULL },
	{ "queue", &queue_opts, NULL },
	{ "limits-iface", NULL, NULL },
	{ "edits", NULL, NULL },
	{ "outbound", NULL, outbound_text },
};
#define NFIXTURES (sizeof(fixtures) / sizeof(fixtures[0]))

static struct fwd_policy *load_fixture(const struct fixture *f)
{
	struct fwd_load_opts opts = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	char *rel, *path;
	int ret;

	if (strcmp(f->name, "builtin") == 0) {
		ck_assert_int_eq(fwd_policy_builtin(&p), 0);
		return p;
	}
	opts.services_path = tu_src("tests/golden/services");
	fwd_diags_init(&d);
	if (f->text) {
		ret = fwd_policy_load_buffer(f->name, f->text, strlen(f->text),
					     &opts, &p, &d);
	} else {
		if (asprintf(&rel, "tests/golden/%s.conf", f->name) < 0)
			abort();
		path = tu_src(rel);
		ret = fwd_policy_load(path, &opts, &p, &d);
		free(rel);
		free(path);
	}
	if (ret)
		fwd_diags_print(&d, stderr);
	ck_assert_msg(ret == 0, "fixture %s does not load", f->name);
	fwd_diags_free(&d);
	free((char *)opts.services_path);
	return p;
}

static struct fwd_ir *compile_fixture(const struct fixture *f)
{
	static const struct fwd_compile_opts none;
	struct fwd_policy *p = load_fixture(f);
	struct fwd_ir *ir = NULL;
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_compile_opts_at(p, TEST_NOW, f->opts ? f->opts : &none, &ir, &d);
	if (ret)
		fwd_diags_print(&d, stderr);
	ck_assert_msg(ret == 0, "fixture %s does not compile", f->name);
	fwd_diags_free(&d);
	fwd_policy_free(p);
	return ir;
}

/* A state directory fwd trusts: ours, 0700. */
static void state_dir(char *buf, size_t len, const char *name)
{
	tu_tmp(buf, len, name);
	ck_assert(mkdir(buf, 0700) == 0 || errno == EEXIST);
	ck_assert(chmod(buf, 0700) == 0);
}

/* FWD_STATE_SEEDS=DIR: each fixture's state file, as fwd saves it. */
START_TEST(write_seeds)
{
	const char *dir = getenv("FWD_STATE_SEEDS");

	for (size_t i = 0; i < NFIXTURES; i++) {
		struct fwd_ir *ir = compile_fixture(&fixtures[i]);
		char name[64];
		int ret;

		snprintf(name, sizeof(name), "%s.ir", fixtures[i].name);
		ret = fwd_state_save_ir_as(dir, name, ir);
		ck_assert_msg(ret == 0, "%s/%s: %s", dir, name, strerror(-ret));
		fwd_ir_free(ir);
	}
}
END_TEST

static void encode(const struct fwd_ir *ir, uint8_t **buf, size_t *len)
{
	void *p = NULL;

	ck_assert_int_eq(fwd_state_encode_ir(ir, &p, len), 0);
	*buf = p;
}

static struct fwd_ir *decode_ok(const uint8_t *buf, size_t len, const char *what)
{
	struct fwd_ir *ir = NULL;
	char why[256];
	int ret = fwd_state_decode_ir(buf, len, &ir, why, sizeof(why));

	ck_assert_msg(ret == 0 && ir && !*why, "%s does not decode: %s", what, why);
	return ir;
}

/* Refused whole: -EBADMSG, no IR, and a reason. */
static void decode_refused(const uint8_t *buf, size_t len, const char *what,
			   const char *reason)
{
	struct fwd_ir *ir = (struct fwd_ir *)1;
	char why[256];
	int ret = fwd_state_decode_ir(buf, len, &ir, why, sizeof(why));

	ck_assert_msg(ret == -EBADMSG && !ir && *why,
		      "%s was not refused (%d, why \"%s\")", what, ret, why);
	if (reason)
		ck_assert_msg(strstr(why, reason), "%s: \"%s\" does not say \"%s\"",
			      what, why, reason);
}

static void assert_same(const struct fwd_ir *a, const struct fwd_ir *b,
			const char *what)
{
	char diff[200];

	ck_assert_msg(fwd_test_ir_same(a, b, diff, sizeof(diff)),
		      "%s: %s differs", what, diff);
}

/*
 * Each fixture's IR: encoded and decoded it is the same IR, encoded again
 * the same bytes; saved and loaded through the state directory the same
 * again, the file holding exactly the encoding.
 */
START_TEST(roundtrip)
{
	const struct fixture *f = &fixtures[_i];
	struct fwd_ir *ir = compile_fixture(f), *back, *loaded = NULL;
	uint8_t *buf, *again;
	size_t len, len2, flen;
	char dir[4096], path[4200], why[256];
	char *file;

	encode(ir, &buf, &len);
	back = decode_ok(buf, len, f->name);
	assert_same(ir, back, f->name);
	encode(back, &again, &len2);
	ck_assert_msg(len2 == len && memcmp(buf, again, len) == 0,
		      "%s: decoded and encoded again, other bytes", f->name);

	state_dir(dir, sizeof(dir), "st");
	ck_assert_int_eq(fwd_state_save_ir_as(dir, "x.ir", ir), 0);
	snprintf(path, sizeof(path), "%s/x.ir", dir);
	file = tu_slurp(path, &flen);
	ck_assert_msg(file && flen == len && memcmp(file, buf, len) == 0,
		      "%s: the saved file is not the encoding", f->name);
	ck_assert_int_eq(fwd_state_load_ir_why(dir, "x.ir", &loaded, why, sizeof(why)), 0);
	assert_same(ir, loaded, f->name);
	free(file);
	free(buf);
	free(again);
	fwd_ir_free(ir);
	fwd_ir_free(back);
	fwd_ir_free(loaded);
}
END_TEST

static bool zero_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The header of buf (len bytes) made right again for its payload. */
static void reseal(uint8_t *buf, size_t len)
{
	uint64_t plen = len - 24, sum = fnv1a(buf + 24, plen);

	memcpy(buf + 8, &plen, 8);
	memcpy(buf + 16, &sum, 8);
}

/*
 * A damaged file is refused whole, with a reason: every truncation, every
 * byte flipped, another version, bytes added; and through the state
 * directory, the load names the file.
 */
START_TEST(damaged)
{
	struct fwd_ir *ir = compile_fixture(&fixtures[0]), *loaded = NULL;
	uint8_t *buf, *bad;
	size_t len;
	char dir[4096], path[4200], why[512];
	FILE *fp;

	encode(ir, &buf, &len);
	bad = malloc(len + 1);
	ck_assert_ptr_nonnull(bad);
	for (size_t n = 0; n < len; n++)
		decode_refused(buf, n, "a truncated file", NULL);
	for (size_t i = 0; i < len; i++) {
		memcpy(bad, buf, len);
		bad[i] ^= 0x40;
		decode_refused(bad, len, "a file with a byte flipped", NULL);
	}
	memcpy(bad, buf, len);
	bad[7] = 5;
	decode_refused(bad, len, "version 5", "format version 5");
	bad[7] = 2;
	decode_refused(bad, len, "version 2", "format version 2");
	memcpy(bad, buf, len);
	bad[len] = 0;
	reseal(bad, len + 1);
	decode_refused(bad, len + 1, "a byte added", "after the end");
	memcpy(bad, buf, len);
	bad[len / 2] ^= 1;
	decode_refused(bad, len, "a flipped bit", "checksum");

	state_dir(dir, sizeof(dir), "st");
	snprintf(path, sizeof(path), "%s/last-good.ir", dir);
	fp = fopen(path, "w");
	ck_assert(fp && fwrite(bad, 1, len, fp) == len && fclose(fp) == 0);
	ck_assert_int_eq(fwd_state_load_ir_why(dir, FWD_STATE_LAST_GOOD, &loaded,
					       why, sizeof(why)), -EBADMSG);
	ck_assert_ptr_null(loaded);
	ck_assert_msg(strstr(why, path) && strstr(why, "is damaged: checksum"),
		      "the load's reason: %s", why);
	free(buf);
	free(bad);
	fwd_ir_free(ir);
}
END_TEST

/*
 * Version 3 files still load: version 4's bytes without its trailing
 * flags (no program queue, no guard queue), under version 3's magic,
 * are the same IR; with the classes (limits-iface) as well.
 */
START_TEST(version3)
{
	static const size_t fx[] = { 0, 5 };	/* builtin, limits-iface */

	for (size_t k = 0; k < sizeof(fx) / sizeof(fx[0]); k++) {
		const struct fixture *f = &fixtures[fx[k]];
		struct fwd_ir *ir = compile_fixture(f), *back;
		uint8_t *buf;
		size_t len;

		ck_assert(!ir->prog.on && !ir->queue.on);
		encode(ir, &buf, &len);
		/* The program queue's flag and the guard queue's: off. */
		ck_assert(buf[len - 1] == 0 && buf[len - 2] == 0);
		len -= 2;
		/* A version 3 file without classes ends after the chains. */
		if (!ir->nclasses)
			len -= 8;
		buf[7] = 3;
		reseal(buf, len);
		back = decode_ok(buf, len, f->name);
		assert_same(ir, back, f->name);
		fwd_ir_free(back);
		/* The same bytes as version 4 lack what it always has. */
		buf[7] = 4;
		decode_refused(buf, len, "a version 4 file without its trailer", NULL);
		free(buf);
		fwd_ir_free(ir);
	}
}
END_TEST

/*
 * IRs fwd never makes, encoded as they are: the decoder refuses each
 * whole, saying what (the fuzzer found them: fuzz-state.c's checks of
 * what the kernel side relies on). Each mutation breaks one thing in a
 * fixture's IR (lists: allow4 has hosts, allow4_net networks).
 */
static struct fwd_ir_set *set_named(struct fwd_ir *ir, const char *name)
{
	struct fwd_ir_set *s = fwd_ir_set_find(ir, name);

	ck_assert_msg(s && s->n >= 2, "set %s with two elements", name);
	return s;
}

static void m_addr_tail(struct fwd_ir *ir)
{
	set_named(ir, "allow4")->elems[0].lo[7] = 1;
}

static void m_port_in_addr_set(struct fwd_ir *ir)
{
	struct fwd_ir_set *s = fwd_ir_set_find(ir, "block4");

	/* block4 is empty in the fixture: one element of its own. */
	s->elems = realloc(s->elems, sizeof(*s->elems));
	ck_assert_ptr_nonnull(s->elems);
	memset(s->elems, 0, sizeof(*s->elems));
	s->elems[0].lo[0] = s->elems[0].hi[0] = 192;
	s->elems[0].plo = s->elems[0].phi = 22;
	s->n = s->cap = 1;
}

static void m_backwards(struct fwd_ir *ir)
{
	struct fwd_ir_elem *e = &set_named(ir, "allow4_net")->elems[0];

	e->lo[3] = 9;
	e->hi[3] = 1;
	memcpy(e->hi, e->lo, 3);
}

static void m_hash_range(struct fwd_ir *ir)
{
	set_named(ir, "allow4")->elems[0].phi++;
}

static void m_order(struct fwd_ir *ir)
{
	struct fwd_ir_set *s = set_named(ir, "allow4");
	struct fwd_ir_elem t = s->elems[0];

	s->elems[0] = s->elems[1];
	s->elems[1] = t;
}

static void m_expires(struct fwd_ir *ir)
{
	set_named(ir, "allow4")->elems[0].expires = UINT64_MAX / 999;
}

static void m_same_name(struct fwd_ir *ir)
{
	memcpy(set_named(ir, "allow4_net")->name, "allow4", sizeof("allow4"));
}

static void m_no_name(struct fwd_ir *ir)
{
	set_named(ir, "allow4_net")->name[0] = '\0';
}

/* The input chain's first rule (iif lo accept) with a match kind or a
 * verdict linearize does not know. */
static void m_kind(struct fwd_ir *ir)
{
	ir->chains[FWD_CHAIN_INPUT].rules[0].m[0].kind = FWD_M_LAST + 1;
}

/* A ct label match on a bit fwd does not own (ir.h, FWD_CT_LABEL_BIT). */
static void m_label(struct fwd_ir *ir)
{
	ir->chains[FWD_CHAIN_INPUT].rules[0].m[0].kind = FWD_M_CT_LABEL;
	ir->chains[FWD_CHAIN_INPUT].rules[0].m[0].u32 = 3;
}

static void m_verdict(struct fwd_ir *ir)
{
	ir->chains[FWD_CHAIN_INPUT].rules[0].verdict = FWD_V_QUEUE_PROG + 1;
}

static void m_one_chain(struct fwd_ir *ir)
{
	free(ir->chains[FWD_CHAIN_OUTPUT].rules);
	ir->nchains = 1;
}

static void m_hook(struct fwd_ir *ir)
{
	ir->chains[FWD_CHAIN_OUTPUT].hook = NF_INET_FORWARD;
}

static void m_chain_name(struct fwd_ir *ir)
{
	memcpy(ir->chains[FWD_CHAIN_INPUT].name, "in4", sizeof("in4"));
}

static void m_key(struct fwd_ir *ir)
{
	set_named(ir, "allow4")->key = FWD_KEY_CG_ADDR6_PROTO_PORT + 1;
}

/* The reverse-path rule (rpfilter = strict by default) asking the fib
 * for the destination instead. */
static void m_rpf(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t j = 0; j < c->n; j++)
		if (c->rules[j].nm && c->rules[j].m[0].kind == FWD_M_RPF_MISSING) {
			c->rules[j].m[0].u32 = NFTA_FIB_F_DADDR;
			return;
		}
	ck_abort_msg("no reverse-path rule");
}

/* The essential ICMP rule (the builtin's icmp = essential) with its
 * types emptied, or two of them swapped. */
static struct fwd_ir_match *icmp_match(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t j = 0; j < c->n; j++)
		for (unsigned k = 0; k < c->rules[j].nm; k++)
			if (c->rules[j].m[k].kind == FWD_M_ICMP_TYPES &&
			    c->rules[j].m[k].ntypes >= 2)
				return &c->rules[j].m[k];
	ck_abort_msg("no ICMP rule with two types");
	return NULL;
}

static void m_no_types(struct fwd_ir *ir)
{
	icmp_match(ir)->ntypes = 0;
}

static void m_types_order(struct fwd_ir *ir)
{
	struct fwd_ir_match *m = icmp_match(ir);
	uint8_t t = m->types[0];

	m->types[0] = m->types[1];
	m->types[1] = t;
}

static void m_prio(struct fwd_ir *ir)
{
	ir->chains[FWD_CHAIN_INPUT].prio = INT_MIN;
}

/* The last input rule (the final drop) queueing, with no queue step. */
static void m_queue(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	ck_assert(!ir->queue.on);
	c->rules[c->n - 1].verdict = FWD_V_QUEUE;
}

/* The input chain's first `ct state` rule with a set index it does not
 * have; the fixed sets cut short. */
static void m_stray_set(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t j = 0; j < c->n; j++)
		if (c->rules[j].nm && c->rules[j].m[0].kind == FWD_M_CT_STATE) {
			c->rules[j].m[0].set = 100000;
			return;
		}
	ck_abort_msg("no ct state rule");
}

static void m_few_sets(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c;

	/* No rule may look into the sets that go. */
	for (size_t i = 0; i < ir->nchains; i++) {
		c = &ir->chains[i];
		c->n = 0;
	}
	for (size_t i = 1; i < ir->nsets; i++)
		free(ir->sets[i].elems);
	ir->nsets = 1;
	free(ir->classes);
	ir->classes = NULL;
	ir->nclasses = 0;
}

/* Set `name`'s elements replaced by n given ones (in the set order). */
static void set_elems(struct fwd_ir *ir, const char *name,
		      const struct fwd_ir_elem *e, size_t n)
{
	struct fwd_ir_set *s = fwd_ir_set_find(ir, name);

	ck_assert_msg(s, "no set %s", name);
	free(s->elems);
	s->elems = calloc(n ? n : 1, sizeof(*s->elems));
	ck_assert_ptr_nonnull(s->elems);
	memcpy(s->elems, e, n * sizeof(*e));
	s->n = s->cap = n;
}

/* 192.0.2.LO-192.0.2.HI . tcp . PLO-PHI */
static struct fwd_ir_elem el4(uint8_t lo, uint8_t hi, uint16_t plo, uint16_t phi)
{
	struct fwd_ir_elem e = { .lo = { 192, 0, 2, lo }, .hi = { 192, 0, 2, hi },
				 .proto = 6, .plo = plo, .phi = phi };

	return e;
}

/* Crossing ranges of a concatenation: neither end of one inside the
 * other, so the kernel loads both without a word. */
static void m_crossing(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { el4(0, 255, 25, 25), el4(128, 128, 20, 30) };

	set_elems(ir, "allow4_net", e, 2);
}

static void m_contained(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { el4(0, 255, 20, 30), el4(128, 128, 25, 25) };

	set_elems(ir, "allow4_net", e, 2);
}

static void m_partial(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { el4(0, 200, 20, 30), el4(100, 255, 25, 40) };

	set_elems(ir, "allow4_net", e, 2);
}

/* Two elements apart in the set order, others between them. */
static void m_far_overlap(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { el4(0, 100, 500, 600), el4(10, 10, 1, 2),
					 el4(20, 20, 3, 4), el4(50, 50, 550, 550) };

	set_elems(ir, "allow4_net", e, 4);
}

/* The same start, another end: the set order sees one key twice. */
static void m_same_start(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { el4(0, 10, 22, 22), el4(0, 20, 22, 22) };

	set_elems(ir, "allow4_net", e, 2);
}

/* Port ranges that meet in the open set (no address). */
static void m_open_overlap(struct fwd_ir *ir)
{
	const struct fwd_ir_elem e[] = { { .proto = 6, .plo = 20, .phi = 30 },
					 { .proto = 6, .plo = 25, .phi = 40 } };

	set_elems(ir, "open", e, 2);
}

/* limits-iface's classes: cls0 `limit = 6/30s` (12/minute burst 6),
 * cls1 `interface = eth1`, cls2 eth0 with 100/1h, cls3 outbound eth1,
 * cls4 an edit's 3/2s. */
static struct fwd_ir_class *cls(struct fwd_ir *ir, size_t k)
{
	ck_assert_uint_gt(ir->nclasses, k);
	return &ir->classes[k];
}

static void m_class_twice(struct fwd_ir *ir)
{
	strcpy(cls(ir, 1)->name, "cls0");
}

static void m_class_name(struct fwd_ir *ir)
{
	strcpy(cls(ir, 0)->name, "x y");
}

/* A name the decoder used to cut at 23 bytes and take. */
static void m_class_name_long(struct fwd_ir *ir)
{
	memset(cls(ir, 0)->name, 'c', sizeof(ir->classes[0].name));
}

static void m_class_period(struct fwd_ir *ir)
{
	cls(ir, 0)->period_s = 30;
}

static void m_class_rate(struct fwd_ir *ir)
{
	cls(ir, 0)->rate = 1000;
}

static void m_class_burst(struct fwd_ir *ir)
{
	cls(ir, 0)->burst = 0;
}

/* The window fwd_ir_class_timeout doubles (a uint32_t). */
static void m_class_window(struct fwd_ir *ir)
{
	cls(ir, 0)->limit_w = 0x80000000u;
}

static void m_class_rate_no_limit(struct fwd_ir *ir)
{
	cls(ir, 1)->rate = 5;
}

static void m_class_nothing(struct fwd_ir *ir)
{
	memset(cls(ir, 1)->ifname, 0, sizeof(ir->classes[1].ifname));
}

static void m_ifname_full(struct fwd_ir *ir)
{
	memcpy(cls(ir, 1)->ifname, "eth1eth1eth1eth1", 16);
}

static void m_ifname_tail(struct fwd_ir *ir)
{
	cls(ir, 1)->ifname[10] = 'x';
}

static void m_ifname_bad(struct fwd_ir *ir)
{
	strcpy(cls(ir, 1)->ifname, "eth/1");
}

static void m_class_sets(struct fwd_ir *ir)
{
	unsigned t = cls(ir, 0)->set4;

	ir->classes[0].set4 = ir->classes[0].set6;
	ir->classes[0].set6 = t;
}

/* The outbound class's oifname rule moved into the input chain. */
static void m_ifname_dir(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t j = 0; j < c->n; j++)
		if (c->rules[j].nm && c->rules[j].m[0].kind == FWD_M_IIFNAME) {
			c->rules[j].m[0].u32 = 3;	/* cls3: outbound */
			return;
		}
	ck_abort_msg("no iifname rule");
}

static struct fwd_ir_match *match_of(struct fwd_ir *ir, enum fwd_ir_match_kind kind)
{
	for (size_t i = 0; i < ir->nchains; i++)
		for (size_t j = 0; j < ir->chains[i].n; j++)
			for (unsigned k = 0; k < ir->chains[i].rules[j].nm; k++)
				if (ir->chains[i].rules[j].m[k].kind == kind)
					return &ir->chains[i].rules[j].m[k];
	ck_abort_msg("no match of kind %d", kind);
	return NULL;
}

static void m_meter_family(struct fwd_ir *ir)
{
	match_of(ir, FWD_M_CLASS_METER)->u32 = 7;
}

static void m_log_limit(struct fwd_ir *ir)
{
	match_of(ir, FWD_M_LIMIT)->u32 = 0;
}

/* The queue fixture's step (queues 0-1, meter 100/second). */
static void m_guard_reach(struct fwd_ir *ir)
{
	ir->queue.num = 15;
}

static void m_guard_period(struct fwd_ir *ir)
{
	ir->queue.period_s = 2;
}

static void m_guard_fanout(struct fwd_ir *ir)
{
	ir->queue.fanout = true;
}

static void m_guard_rate_no_meter(struct fwd_ir *ir)
{
	ir->queue.meter = false;
	for (size_t i = 0; i < ir->nchains; i++)	/* its meter rules go */
		for (size_t j = 0; j < ir->chains[i].n; j++)
			for (unsigned k = 0; k < ir->chains[i].rules[j].nm; k++)
				if (ir->chains[i].rules[j].m[k].kind == FWD_M_METER)
					ir->chains[i].rules[j].m[k].kind = FWD_M_CT_STATE;
}

/* The outbound fixture's program queue (its meter per second). */
static void m_prog_period(struct fwd_ir *ir)
{
	ck_assert(ir->prog.on && ir->prog.meter);
	ir->prog.period_s = 7;
}

static void m_set_name_long(struct fwd_ir *ir)
{
	memset(set_named(ir, "allow4_net")->name, 'a', sizeof(ir->sets[0].name));
}

static void m_set_name_chars(struct fwd_ir *ir)
{
	strcpy(set_named(ir, "allow4_net")->name, "allow4{");
}

static struct fwd_ir_rule *log_rule(struct fwd_ir *ir)
{
	struct fwd_ir_chain *c = &ir->chains[FWD_CHAIN_INPUT];

	for (size_t j = 0; j < c->n; j++)
		if (c->rules[j].log)
			return &c->rules[j];
	ck_abort_msg("no log rule");
	return NULL;
}

static void m_prefix_quote(struct fwd_ir *ir)
{
	strcpy(log_rule(ir)->log_prefix, "fwd \" drop");
}

static void m_prefix_long(struct fwd_ir *ir)
{
	memset(log_rule(ir)->log_prefix, 'x', sizeof(ir->chains[0].rules[0].log_prefix));
}

/* block4 and deny4 trading names (each keeps its key and place). */
static void m_sets_renamed(struct fwd_ir *ir)
{
	strcpy(ir->sets[FWD_SET_BLOCK4].name, "x");
	strcpy(ir->sets[FWD_SET_DENY4].name, "block4");
	strcpy(ir->sets[FWD_SET_BLOCK4].name, "deny4");
}

static void m_fixed_key(struct fwd_ir *ir)
{
	ir->sets[FWD_SET_ALLOW4].key = FWD_KEY_ADDR6_PROTO_PORT;
}

static void m_owner_set(struct fwd_ir *ir)
{
	struct fwd_ir_set *s = fwd_ir_set_find(ir, "out_unit4");

	ck_assert_ptr_nonnull(s);
	strcpy(s->name, "out_unitx");
}

/* One set more than the fixed ones (lists has no class, no owner). */
static void m_extra_set(struct fwd_ir *ir)
{
	ck_assert_uint_eq(ir->nsets, FWD_SET_COUNT);
	ir->sets = realloc(ir->sets, (ir->nsets + 1) * sizeof(*ir->sets));
	ck_assert_ptr_nonnull(ir->sets);
	memset(&ir->sets[ir->nsets], 0, sizeof(ir->sets[0]));
	strcpy(ir->sets[ir->nsets].name, "spare");
	ir->sets[ir->nsets].elems = calloc(1, sizeof(struct fwd_ir_elem));
	ir->nsets++;
}

/* The outbound fixture's program rules, a line the loop cannot read
 * added; or gone. */
static void m_prog_text(struct fwd_ir *ir)
{
	char *t = NULL;

	ck_assert_ptr_nonnull(ir->prog_text);
	ck_assert_int_ge(asprintf(&t, "%sgarbage\n", ir->prog_text), 0);
	free(ir->prog_text);
	ir->prog_text = t;
}

static void m_prog_no_text(struct fwd_ir *ir)
{
	free(ir->prog_text);
	ir->prog_text = NULL;
}

/* A timed element in a set that lost its timeout flag. */
static void m_no_timeout(struct fwd_ir *ir)
{
	struct fwd_ir_set *s = set_named(ir, "allow4");

	s->timeout = false;
	s->elems[1].expires = TEST_NOW + 60;
}

static const struct broken {
	const char *what;
	void (*mutate)(struct fwd_ir *ir);
	const char *reason;
	const char *fixture;			/* NULL: lists */
} broken[] = {
	{ "address bytes past the key's", m_addr_tail, "a field its key does not have", NULL },
	{ "a port in an address set", m_port_in_addr_set, "a field its key does not have", NULL },
	{ "a range that runs backwards", m_backwards, "runs backwards", NULL },
	{ "a range in a hash set", m_hash_range, "a range in a hash set", NULL },
	{ "elements out of order", m_order, "out of order", NULL },
	{ "a timeout beyond milliseconds", m_expires, "expires at", NULL },
	{ "two sets of one name", m_same_name, "two sets called allow4", NULL },
	{ "a set without a name", m_no_name, "a set without a name", NULL },
	{ "an unknown match kind", m_kind, "chain input rule 0: match kind 17 unknown", NULL },
	{ "a label bit not fwd's", m_label, "chain input rule 0: ct label 3 is not "
	  "the one fwd owns (127)", NULL },
	{ "an unknown verdict", m_verdict, "chain input rule 0: verdict 7 unknown", NULL },
	{ "an unknown set key", m_key, "set allow4: key type 9 unknown", NULL },
	{ "fib flags fwd never asks", m_rpf, "fib flags 0x2", NULL },
	{ "an ICMP match without types", m_no_types, "ICMP types none", NULL },
	{ "ICMP types out of order", m_types_order, "ICMP types none, repeated or out of order", NULL },
	{ "a chain at priority INT_MIN", m_prio, "chain input at priority -2147483648", NULL },
	{ "a queue verdict without a queue", m_queue, "a queue verdict without a queue step", NULL },
	{ "a set index on a ct state match", m_stray_set, "a set index on a match without one", NULL },
	{ "fewer sets than fwd makes", m_few_sets, "1 sets, fewer than fwd always makes", NULL },
	{ "no output chain", m_one_chain, "not the input and output chains", NULL },
	{ "the output chain on another hook", m_hook, "not the input and output chains", NULL },
	{ "the input chain named otherwise", m_chain_name, "not the input and output chains", NULL },
	{ "crossing ranges in a concatenation", m_crossing,
	  "set allow4_net elements 0 and 1 overlap", NULL },
	{ "a range inside another", m_contained, "set allow4_net elements 0 and 1 overlap", NULL },
	{ "ranges that overlap in part", m_partial, "set allow4_net elements 0 and 1 overlap", NULL },
	{ "an overlap three elements apart", m_far_overlap,
	  "set allow4_net elements 0 and 3 overlap", NULL },
	{ "one start twice", m_same_start, "set allow4_net element 1: out of order or a key twice", NULL },
	{ "port ranges that meet", m_open_overlap, "set open elements 0 and 1 overlap", NULL },
	{ "two classes of one name", m_class_twice, "two classes called cls0", "limits-iface" },
	{ "a class named otherwise", m_class_name, "class 0 is called x?y, not cls0",
	  "limits-iface" },
	{ "a class name without its end", m_class_name_long,
	  "class 0 is called cccccccccccccccccccccccc, not cls0", "limits-iface" },
	{ "a limit period nft has no unit for", m_class_period,
	  "class 0: a limit period of 30 s (nft has second, minute, hour, day and week)",
	  "limits-iface" },
	{ "a rate the limit does not make", m_class_rate,
	  "class 0: rate 1000 per 60 s burst 6, but limit 6/30s is 12 per 60 s burst 6",
	  "limits-iface" },
	{ "a burst the limit does not make", m_class_burst,
	  "class 0: rate 12 per 60 s burst 0, but limit 6/30s is 12 per 60 s burst 6",
	  "limits-iface" },
	{ "a window past a day", m_class_window,
	  "class 0: limit 6/2147483648s (N is 1-1000000, WINDOW 1-86400s)", "limits-iface" },
	{ "a rate without a limit", m_class_rate_no_limit, "class 1: a rate without a limit",
	  "limits-iface" },
	{ "a class of nothing", m_class_nothing, "class 1: neither an interface nor a limit",
	  "limits-iface" },
	{ "an interface name of 16 bytes", m_ifname_full,
	  "class 1: an interface name of 16 bytes without its end", "limits-iface" },
	{ "a byte after the interface name", m_ifname_tail,
	  "class 1: bytes after its interface name", "limits-iface" },
	{ "an interface name the kernel refuses", m_ifname_bad,
	  "class 1: interface \"eth/1\": an interface name has no blanks", "limits-iface" },
	{ "a class's sets swapped", m_class_sets, "class 0: its sets are not cls0_4 and cls0_6",
	  "limits-iface" },
	{ "an outbound class's interface on input", m_ifname_dir,
	  "chain input rule 20: an interface match of the other direction", "limits-iface" },
	{ "a meter of another family", m_meter_family, "a meter for family 7", "limits-iface" },
	{ "a log limit of 0/second", m_log_limit, "limit 0/second burst 20", NULL },
	{ "guard queues reaching the program queue", m_guard_reach,
	  "the guard's queue step: queues 15-16 reach the program queue's (16-31)", "queue" },
	{ "a flood meter period nft has no unit for", m_guard_period,
	  "the guard's queue step: a meter period of 2 s", "queue" },
	{ "guard queues by CPU", m_guard_fanout,
	  "the guard's queue step: by CPU (only the program queue is)", "queue" },
	{ "a flood rate without a meter", m_guard_rate_no_meter,
	  "the guard's queue step: a rate without a meter", "queue" },
	{ "a program meter period nft has no unit for", m_prog_period,
	  "the program queue: a meter period of 7 s", "outbound" },
	{ "a set name without its end", m_set_name_long,
	  "set 1: name \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" (fwd's are a-z, 0-9 and _)", NULL },
	{ "a set name nft text cannot hold", m_set_name_chars,
	  "set 1: name \"allow4{\" (fwd's are a-z, 0-9 and _)", NULL },
	{ "a quote in a log prefix", m_prefix_quote, "a log prefix fwd does not make", NULL },
	{ "a log prefix without its end", m_prefix_long, "a log prefix fwd does not make", NULL },
	{ "two fixed sets trading names", m_sets_renamed,
	  "set 10 is not the block4 fwd makes there", NULL },
	{ "a fixed set with another key", m_fixed_key, "set 0 is not the allow4 fwd makes there",
	  NULL },
	{ "an owner set named otherwise", m_owner_set,
	  "set 20 is not the out_unit4 fwd makes there", "outbound" },
	{ "a set fwd does not make", m_extra_set,
	  "1 sets after the fixed ones and the classes' (fwd makes 0, 4 or 6 owner sets)", NULL },
	{ "program rules the loop cannot read", m_prog_text,
	  "the program rules: line 2 is not one fwd writes", "outbound" },
	{ "a program queue without its rules", m_prog_no_text,
	  "the program queue without its rules", "outbound" },
	{ "a timeout in a set without the flag", m_no_timeout,
	  "set allow4 element 1: a timeout in a set without the timeout flag", NULL },
};
#define NBROKEN (sizeof(broken) / sizeof(broken[0]))

START_TEST(refused)
{
	const struct broken *b = &broken[_i];
	const char *fx = b->fixture ? b->fixture : "lists";
	struct fwd_ir *ir = NULL;

	for (size_t i = 0; i < NFIXTURES; i++)
		if (strcmp(fixtures[i].name, fx) == 0)
			ir = compile_fixture(&fixtures[i]);
	ck_assert_msg(ir, "no fixture %s", fx);
	uint8_t *buf;
	size_t len;

	b->mutate(ir);
	encode(ir, &buf, &len);
	decode_refused(buf, len, b->what, b->reason);
	free(buf);
	fwd_ir_free(ir);
}
END_TEST

static int elem_qcmp(const void *a, const void *b)
{
	return fwd_ir_elem_cmp(a, b);
}

/* Whether two elements of one set meet: same owner and protocol, and
 * both the address and the port ranges overlap (the slow way). */
static bool elems_meet(const struct fwd_ir_elem *a, const struct fwd_ir_elem *b)
{
	return a->id == b->id && a->proto == b->proto &&
	       memcmp(a->lo, b->hi, 16) <= 0 && memcmp(b->lo, a->hi, 16) <= 0 &&
	       a->plo <= b->phi && b->plo <= a->phi;
}

/*
 * BIG_N elements apart (20 address pieces x 15 port ranges, as the
 * compiler cuts them), a few of them then stretched or moved at random:
 * the count made.
 */
#define BIG_N 300
static size_t big_set(struct fwd_ir_elem *e, unsigned alen, unsigned idlen,
		      unsigned *seed)
{
	unsigned stretch = rand_r(seed) % 4;

	for (size_t j = 0; j < BIG_N; j++) {
		uint8_t a = (uint8_t)(j / 15 * 10);
		uint16_t p = (uint16_t)(j % 15 * 10);

		if (alen) {
			e[j].lo[0] = e[j].hi[0] = 192;
			e[j].lo[2] = e[j].hi[2] = 2;
			e[j].lo[3] = a;
			e[j].hi[3] = (uint8_t)(a + 5);
		}
		e[j].proto = 6;
		e[j].plo = p;
		e[j].phi = (uint16_t)(p + 4);
		if (idlen)
			e[j].id = 1000;
	}
	for (unsigned k = 0; k < stretch; k++) {
		struct fwd_ir_elem *x = &e[rand_r(seed) % BIG_N];

		if (rand_r(seed) % 2 && alen)
			x->hi[3] = (uint8_t)(x->hi[3] + rand_r(seed) % 8);
		else
			x->phi = (uint16_t)(x->phi + rand_r(seed) % 30);
		if (rand_r(seed) % 3 == 0)
			x->plo = (uint16_t)(x->plo + rand_r(seed) % 4);
		if (x->plo > x->phi)
			x->plo = x->phi;
	}
	return BIG_N;
}

/*
 * The decoder's overlap check against every pair compared: random
 * elements in a small key space (so that most sets have overlaps and
 * many do not) in a concatenated set, the open set (ports only) and an
 * owner set (two uids). Refused exactly when two elements meet.
 */
START_TEST(overlaps_pairwise)
{
	static const char *const sets[] = { "allow4_net", "open", "out_user4" };
	struct fwd_ir *ir = compile_fixture(&fixtures[7]);	/* outbound */
	unsigned seed = 1, refusals = 0, accepts = 0, big_refusals = 0, big_accepts = 0;

	for (unsigned round = 0; round < 3000; round++) {
		const char *name = sets[round % 3];
		struct fwd_ir_set *s = fwd_ir_set_find(ir, name);
		struct fwd_ir_elem e[BIG_N];
		size_t n = 2 + rand_r(&seed) % 7;
		bool meet = false, twice = false;
		unsigned alen = fwd_ir_key_addr_len(s->key);
		struct fwd_ir *back = NULL;
		uint8_t *buf;
		size_t len;
		char why[256], what[64];
		int ret;

		memset(e, 0, sizeof(e));
		if (round % 10 == 9) {
			/* Big enough for the decoder's radix sort. */
			n = big_set(e, alen, fwd_ir_key_id_len(s->key), &seed);
		} else for (size_t j = 0; j < n; j++) {
			uint8_t a = (uint8_t)(rand_r(&seed) % 16), b = (uint8_t)(rand_r(&seed) % 16);
			uint16_t p = (uint16_t)(rand_r(&seed) % 16), q = (uint16_t)(rand_r(&seed) % 16);

			if (alen) {
				e[j].lo[0] = e[j].hi[0] = 192;
				e[j].lo[2] = e[j].hi[2] = 2;
				e[j].lo[3] = a < b ? a : b;
				e[j].hi[3] = a < b ? b : a;
			}
			e[j].proto = rand_r(&seed) % 4 ? 6 : 17;
			e[j].plo = p < q ? p : q;
			e[j].phi = p < q ? q : p;
			if (fwd_ir_key_id_len(s->key))
				e[j].id = 1000 + rand_r(&seed) % 2;
		}
		qsort(e, n, sizeof(e[0]), elem_qcmp);
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				meet |= elems_meet(&e[i], &e[j]);
				twice |= fwd_ir_elem_cmp(&e[i], &e[j]) == 0;
			}
		set_elems(ir, name, e, n);
		encode(ir, &buf, &len);
		ret = fwd_state_decode_ir(buf, len, &back, why, sizeof(why));
		snprintf(what, sizeof(what), "round %u (set %s)", round, name);
		if (!meet) {
			ck_assert_msg(ret == 0, "%s: refused: %s", what, why);
			accepts++;
			big_accepts += n == BIG_N;
		} else {
			ck_assert_msg(ret == -EBADMSG, "%s: overlapping elements accepted", what);
			ck_assert_msg(strstr(why, twice ? "" : " overlap"), "%s: %s", what, why);
			refusals++;
			big_refusals += n == BIG_N;
		}
		fwd_ir_free(back);
		free(buf);
		set_elems(ir, name, e, 0);	/* the next round's set alone */
	}
	/* Both answers were asked for often, of big sets too. */
	ck_assert_uint_ge(refusals, 300);
	ck_assert_uint_ge(accepts, 300);
	ck_assert_uint_ge(big_refusals, 30);
	ck_assert_uint_ge(big_accepts, 30);
	fwd_ir_free(ir);
}
END_TEST

/*
 * Flag bytes the IR's bools cannot say, set in the encoded bytes: a set's
 * (interval 1, timeout 2, counter 4), a chain's policy (0 or 1), a
 * rule's (counter 1, log 2). The decoder used to keep the bits it knew
 * and drop the rest; encoded again, the file was another one.
 */
START_TEST(flag_bytes)
{
	struct fwd_ir *ir = compile_fixture(&fixtures[1]);	/* lists */
	uint8_t *buf;
	size_t len, at, chain = 0;
	const size_t set0_flags = 24 + 8 + 32 + 4;	/* header, count, name, key */

	encode(ir, &buf, &len);
	buf[set0_flags] |= 8;
	reseal(buf, len);
	decode_refused(buf, len, "a set flag fwd does not know", "set allow4: flags 0xe");
	buf[set0_flags] &= (uint8_t)~8;
	/* The input chain: its name, hook 1, priority 0, policy. */
	for (at = 24; at + 41 <= len && !chain; at++)
		if (memcmp(buf + at, "input\0\0\0", 8) == 0 && zero_bytes(buf + at + 8, 24) &&
		    buf[at + 32] == NF_INET_LOCAL_IN)
			chain = at;
	ck_assert_msg(chain, "no input chain in the bytes");
	buf[chain + 40] = 2;
	reseal(buf, len);
	decode_refused(buf, len, "a chain policy of 2", "chain input: policy 2");
	buf[chain + 40] = 0;
	/* Its first rule (iif lo accept): one match of 44 bytes, flags. */
	ck_assert_uint_eq(ir->chains[FWD_CHAIN_INPUT].rules[0].nm, 1);
	buf[chain + 49 + 4 + 44] |= 4;
	reseal(buf, len);
	decode_refused(buf, len, "a rule flag fwd does not know", "chain input rule 0: flags 0x4");
	buf[chain + 49 + 4 + 44] &= (uint8_t)~4;
	reseal(buf, len);
	fwd_ir_free(decode_ok(buf, len, "the bytes put back"));
	free(buf);
	fwd_ir_free(ir);
}
END_TEST

/*
 * An input the fuzzer found, refused the ways fuzz-state.c decodes it: as
 * a file, and its payload (the whole input when it has no header) inside
 * a valid version 4 and version 3 header.
 */
static void refused_as_fuzzed(const uint8_t *in, size_t len, const char *what)
{
	size_t skip = len >= 24 && memcmp(in, "FWDIR\0\0", 7) == 0 ? 24 : 0;
	uint8_t *buf = malloc(len - skip + 24);

	ck_assert_ptr_nonnull(buf);
	decode_refused(in, len, what, NULL);
	for (uint8_t v = 3; v <= 4; v++) {
		memcpy(buf, "FWDIR\0\0", 7);
		buf[7] = v;
		memcpy(buf + 24, in + skip, len - skip);
		reseal(buf, len - skip + 24);
		decode_refused(buf, len - skip + 24, what, NULL);
	}
	free(buf);
}

/*
 * The fuzzer's corpus (tests/fuzz/corpus/state): the seeds (NAME.ir,
 * real state files written by FWD_STATE_SEEDS) decode and encode back to
 * the same bytes, so the format has not moved under them; the inputs the
 * fuzzer found (crash-*, each named in the commit that fixed it) are
 * refused.
 */
START_TEST(corpus)
{
	char *dirpath = tu_src("tests/fuzz/corpus/state");
	DIR *dir = opendir(dirpath);
	struct dirent *de;
	size_t seeds = 0;

	ck_assert_msg(dir, "no %s", dirpath);
	while ((de = readdir(dir))) {
		char path[4400];
		uint8_t *buf, *again;
		size_t len, len2;
		struct fwd_ir *ir;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dirpath, de->d_name);
		buf = (uint8_t *)tu_slurp(path, &len);
		ck_assert_msg(buf, "cannot read %s", path);
		if (strncmp(de->d_name, "crash-", 6) == 0) {
			refused_as_fuzzed(buf, len, path);
		} else {
			ir = decode_ok(buf, len, path);
			encode(ir, &again, &len2);
			ck_assert_msg(len2 == len && memcmp(buf, again, len) == 0,
				      "%s: encoded again, other bytes", path);
			free(again);
			fwd_ir_free(ir);
			seeds++;
		}
		free(buf);
	}
	closedir(dir);
	ck_assert_uint_ge(seeds, NFIXTURES);
	free(dirpath);
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("format");

	tcase_add_loop_test(tc, roundtrip, 0, NFIXTURES);
	tcase_add_test(tc, damaged);
	tcase_add_test(tc, version3);
	tcase_add_test(tc, corpus);
	tcase_add_loop_test(tc, refused, 0, NBROKEN);
	tcase_add_test(tc, overlaps_pairwise);
	tcase_add_test(tc, flag_bytes);
	suite_add_tcase(s, tc);
	return s;
}

static Suite *seeds_suite(void)
{
	Suite *s = suite_create("state-seeds");
	TCase *tc = tcase_create("seeds");

	tcase_add_test(tc, write_seeds);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *seeds = getenv("FWD_STATE_SEEDS");

	return tu_run(seeds && *seeds ? seeds_suite() : state_suite());
}
