// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kmod-hooks against the real kernel. Every test runs in a forked child
 * (check's CK_FORK) that first moves into a network namespace of its own,
 * so nothing here can touch the host's firewall or another test.
 *
 * - the probe answers and leaves no trace;
 * - an IR applied and read back over netlink is the same IR (sets,
 *   elements, chain policies, rule counts), for hand-built IRs and for the
 *   compiled fixture policies;
 * - the kernel holds exactly what nft builds from the rendered text (the
 *   rules' expressions and the elements, compared in nft's debug listing);
 * - `nft list` of the table loads back with `nft -c -f`;
 * - re-applying replaces atomically (a concurrent reader never sees the
 *   table missing) and leaves other tables byte for byte alone;
 * - owner and persist flags behave as DESIGN.md says;
 * - a kernel error names the policy line, and nothing is half applied;
 * - 100k and 1M elements apply.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "ir.h"
#include "kmod.h"
#include "nlsock.h"
#include "policy.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 4
#endif

/* ---- a hand-built IR ------------------------------------------------ */

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (!p)
		abort();
	return p;
}

static struct fwd_ir_set *ir_set(struct fwd_ir *ir, const char *name,
				 enum fwd_ir_key key, bool interval, bool timeout)
{
	struct fwd_ir_set *s;

	ir->sets = xrealloc(ir->sets, (ir->nsets + 1) * sizeof(*ir->sets));
	s = &ir->sets[ir->nsets++];
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->key = key;
	s->interval = interval;
	s->timeout = timeout;
	return s;
}

static struct fwd_ir_elem *ir_elem(struct fwd_ir_set *s, unsigned line)
{
	struct fwd_ir_elem *e;

	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->elems = xrealloc(s->elems, s->cap * sizeof(*s->elems));
	}
	e = &s->elems[s->n++];
	memset(e, 0, sizeof(*e));
	e->loc.file = "hand.conf";
	e->loc.line = line;
	return e;
}

/* An element; lo/hi are addresses (either family) or NULL for proto.port. */
static void el(struct fwd_ir_set *s, unsigned line, const char *lo,
	       const char *hi, uint8_t proto, uint16_t plo, uint16_t phi)
{
	struct fwd_ir_elem *e = ir_elem(s, line);

	if (lo) {
		int af = strchr(lo, ':') ? AF_INET6 : AF_INET;

		ck_assert_int_eq(inet_pton(af, lo, e->lo), 1);
		ck_assert_int_eq(inet_pton(af, hi ? hi : lo, e->hi), 1);
	}
	e->proto = proto;
	e->plo = plo;
	e->phi = phi;
}

static struct fwd_ir_chain *ir_chain(struct fwd_ir *ir, const char *name,
				     unsigned hook, bool accept)
{
	struct fwd_ir_chain *c;

	ir->chains = xrealloc(ir->chains, (ir->nchains + 1) * sizeof(*ir->chains));
	c = &ir->chains[ir->nchains++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->hook = hook;
	c->policy_accept = accept;
	return c;
}

static struct fwd_ir_rule *ir_rule(struct fwd_ir_chain *c,
				   enum fwd_ir_verdict v, unsigned line)
{
	struct fwd_ir_rule *r;

	c->rules = xrealloc(c->rules, (c->n + 1) * sizeof(*c->rules));
	r = &c->rules[c->n++];
	memset(r, 0, sizeof(*r));
	r->verdict = v;
	if (line) {
		r->loc.file = "hand.conf";
		r->loc.line = line;
	}
	return r;
}

static struct fwd_ir_match *ir_match(struct fwd_ir_rule *r,
				     enum fwd_ir_match_kind k, uint32_t u,
				     unsigned set)
{
	struct fwd_ir_match *m = &r->m[r->nm++];

	m->kind = k;
	m->u32 = u;
	m->set = set;
	return m;
}

static void ir_icmp(struct fwd_ir_rule *r, bool v6, const uint8_t *types,
		    unsigned n)
{
	struct fwd_ir_match *m = ir_match(r, v6 ? FWD_M_ICMPV6_TYPES :
					  FWD_M_ICMP_TYPES, 0, 0);

	memcpy(m->types, types, n);
	m->ntypes = n;
}

#define RPF_STRICT (NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK | NFTA_FIB_F_IIF)

/* Set indices of the hand IR. */
enum { H_ALLOW4, H_ALLOW4_NET, H_ALLOW6_NET, H_OPEN, H_BLOCK4, H_BLOCK6 };

/*
 * A table in the shape fwd compiles (every set kind, every match kind);
 * `variant` changes the elements and the input policy, not the shape.
 */
static struct fwd_ir *hand_ir(int variant)
{
	static const uint8_t icmp4[] = { 0, 3, 8, 11 };
	static const uint8_t icmp6[] = { 1, 2, 128, 135, 136 };
	struct fwd_ir *ir = calloc(1, sizeof(*ir));
	struct fwd_ir_chain *c;
	struct fwd_ir_rule *r;
	struct fwd_ir_set *s;

	s = ir_set(ir, "allow4", FWD_KEY_ADDR4_PROTO_PORT, false, true);
	if (variant == 0) {
		el(s, 10, "192.0.2.1", NULL, IPPROTO_TCP, 22, 22);
		el(s, 11, "192.0.2.2", NULL, IPPROTO_TCP, 22, 22);
		el(s, 11, "192.0.2.2", NULL, IPPROTO_UDP, 53, 53);
	} else {
		el(s, 20, "198.51.100.9", NULL, IPPROTO_TCP, 443, 443);
	}
	s = ir_set(ir, "allow4_net", FWD_KEY_ADDR4_PROTO_PORT, true, true);
	if (variant == 0) {
		el(s, 12, "192.0.2.64", "192.0.2.127", IPPROTO_TCP, 22, 22);
		el(s, 13, "198.51.100.0", "198.51.100.255", IPPROTO_UDP, 60000, 61000);
	} else {
		el(s, 21, "203.0.113.0", "203.0.113.15", IPPROTO_TCP, 1, 1023);
	}
	s = ir_set(ir, "allow6_net", FWD_KEY_ADDR6_PROTO_PORT, true, true);
	if (variant == 0)
		el(s, 14, "2001:db8:a::", "2001:db8:a::ffff:ffff:ffff:ffff",
		   IPPROTO_TCP, 22, 22);
	else
		el(s, 22, "2001:db8::1", NULL, IPPROTO_TCP, 80, 80);
	s = ir_set(ir, "open", FWD_KEY_PROTO_PORT, true, true);
	el(s, 15, NULL, NULL, IPPROTO_TCP, 80, 80);
	if (variant == 0)
		el(s, 16, NULL, NULL, IPPROTO_UDP, 1000, 2000);
	s = ir_set(ir, "block4", FWD_KEY_ADDR4, true, true);
	if (variant == 0) {
		el(s, 17, "203.0.113.0", "203.0.113.127", 0, 0, 0);
		el(s, 17, "203.0.113.128", "203.0.113.128", 0, 0, 0);
		el(s, 18, "203.0.113.255", NULL, 0, 0, 0);
	} else {
		el(s, 23, "0.0.0.0", "0.255.255.255", 0, 0, 0);
		el(s, 24, "255.255.255.255", NULL, 0, 0, 0);
	}
	s = ir_set(ir, "block6", FWD_KEY_ADDR6, true, true);
	if (variant == 0)
		el(s, 19, "2001:db8:dead::", "2001:db8:dead::ffff", 0, 0, 0);

	c = ir_chain(ir, "input", NF_INET_LOCAL_IN, variant != 0);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_IIF_LO, 0, 0);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_CT_STATE, 6, 0);
	ir_match(ir_rule(c, FWD_V_DROP, 0), FWD_M_CT_STATE, 1, 0);
	ir_match(ir_rule(c, FWD_V_DROP, 0), FWD_M_LOOKUP_SRC, 0, H_BLOCK4);
	ir_match(ir_rule(c, FWD_V_DROP, 0), FWD_M_LOOKUP_SRC, 0, H_BLOCK6);
	r = ir_rule(c, FWD_V_ACCEPT, 3);
	ir_icmp(r, false, icmp4, sizeof(icmp4));
	ir_match(r, FWD_M_LIMIT, 10, 0)->u32b = 20;
	ir_icmp(ir_rule(c, FWD_V_ACCEPT, 3), true, icmp6, sizeof(icmp6));
	ir_icmp(ir_rule(c, FWD_V_ACCEPT, 3), true, icmp6 + 2, 1);
	/* rpfilter strict and loose: fib saddr . mark [. iif] oif missing */
	ir_match(ir_rule(c, FWD_V_DROP, 5), FWD_M_RPF_MISSING,
		 RPF_STRICT, 0);
	ir_match(ir_rule(c, FWD_V_DROP, 5), FWD_M_RPF_MISSING,
		 RPF_STRICT & ~(uint32_t)NFTA_FIB_F_IIF, 0);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_LOOKUP_SRC, 0, H_ALLOW4);
	r = ir_rule(c, FWD_V_ACCEPT, 0);
	ir_match(r, FWD_M_LOOKUP_SRC, 0, H_ALLOW4_NET);
	r->counter = true;
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_LOOKUP_SRC, 0, H_ALLOW6_NET);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_LOOKUP_SRC, 0, H_OPEN);
	r = ir_rule(c, FWD_V_CONTINUE, 4);
	r->log = true;
	snprintf(r->log_prefix, sizeof(r->log_prefix), "fwd-in-deny ");
	ir_match(r, FWD_M_LIMIT, 5, 0)->u32b = 10;
	r = ir_rule(c, FWD_V_REJECT_TCP_RST, 2);
	ir_match(r, FWD_M_L4PROTO, IPPROTO_TCP, 0);
	r->counter = true;
	ir_rule(c, FWD_V_REJECT_ICMPX, 2);

	c = ir_chain(ir, "output", NF_INET_LOCAL_OUT, true);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_OIF_LO, 0, 0);
	ir_match(ir_rule(c, FWD_V_ACCEPT, 0), FWD_M_LOOKUP_DST, 0, H_ALLOW4_NET);
	r = ir_rule(c, FWD_V_DROP, 0);
	ir_match(r, FWD_M_NFPROTO, NFPROTO_IPV6, 0);
	ir_match(r, FWD_M_LOOKUP_DST, 0, H_BLOCK6);
	ir_rule(c, FWD_V_REJECT_TCP_RST, 2);
	return ir;
}

static void hand_free(struct fwd_ir *ir)
{
	/* hand IRs own no file names: fwd_ir_free frees what they have */
	fwd_ir_free(ir);
}

/* ---- helpers -------------------------------------------------------- */

static void probe_ok(struct fwd_features *f)
{
	int ret = fwd_probe(f);

	ck_assert_msg(ret == 0, "fwd_probe: %s (%s)", strerror(-ret), f->detail);
	ck_assert_msg(f->nf_tables && f->inet_family, "probe: %s", f->detail);
}

static struct fwd_nl *nl_open(void)
{
	struct fwd_nl *nl = NULL;
	int ret = fwd_nl_open(&nl);

	ck_assert_msg(ret == 0, "fwd_nl_open: %s", strerror(-ret));
	return nl;
}

static char *diags_text(const struct fwd_diags *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fwd_diags_print(d, f);
	fclose(f);
	return buf;
}

static void apply_ok(struct fwd_nl *nl, const struct fwd_ir *ir,
		     const struct fwd_features *f, const struct fwd_apply_opts *o)
{
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_apply(nl, ir, f, o, &d);
	if (ret) {
		char *t = diags_text(&d);

		ck_abort_msg("fwd_apply: %s\n%s", strerror(-ret), t);
	}
	ck_assert_uint_eq(d.n, 0);
	fwd_diags_free(&d);
}

static unsigned addr_len(enum fwd_ir_key k)
{
	return k == FWD_KEY_ADDR4 || k == FWD_KEY_ADDR4_PROTO_PORT ? 4 :
	       k == FWD_KEY_PROTO_PORT ? 0 : 16;
}

static bool elem_eq(enum fwd_ir_key k, const struct fwd_ir_elem *a,
		    const struct fwd_ir_elem *b)
{
	unsigned n = addr_len(k);

	return memcmp(a->lo, b->lo, n) == 0 && memcmp(a->hi, b->hi, n) == 0 &&
	       a->proto == b->proto && a->plo == b->plo && a->phi == b->phi;
}

/* The live table is the IR: same sets and elements, same chains. */
static void assert_live_is(struct fwd_nl *nl, const struct fwd_ir *ir)
{
	struct fwd_live_table *t = NULL;
	size_t nrules = 0, nchains = 0;
	int ret = fwd_live_read(nl, NULL, &t);

	ck_assert_msg(ret == 0, "fwd_live_read: %s", strerror(-ret));
	/* A [guard] fixture's queue step brings its meter sets (ir.h). */
	ck_assert_uint_eq(t->nsets, ir->nsets + fwd_ir_meter_sets(ir) +
			  fwd_ir_class_meter_sets(ir));
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];
		const struct fwd_live_set *ls = fwd_live_set_find(t, s->name);

		ck_assert_msg(ls, "set %s missing", s->name);
		ck_assert_msg(ls->key_known && ls->key == s->key,
			      "set %s: key type %#x len %u", s->name,
			      ls->key_type, ls->key_len);
		ck_assert_int_eq(ls->interval, s->interval);
		ck_assert_int_eq(ls->timeout, s->timeout);
		ck_assert_msg(ls->n == s->n, "set %s: %zu elements live, %zu in "
			      "the IR", s->name, ls->n, s->n);
		for (size_t j = 0; j < s->n; j++) {
			char a[128], b[128];

			fwd_ir_elem_format(s, &s->elems[j], a, sizeof(a));
			fwd_ir_elem_format(s, &ls->elems[j], b, sizeof(b));
			ck_assert_msg(elem_eq(s->key, &s->elems[j], &ls->elems[j]),
				      "set %s element %zu: IR %s, kernel %s",
				      s->name, j, a, b);
		}
	}
	/* The kernel's chains are the IR's as ir.h lays them out: each base
	 * chain, and the family chains of a split one. */
	for (size_t i = 0; i < ir->nchains; i++) {
		const struct fwd_ir_chain *c = &ir->chains[i];
		const struct fwd_live_chain *lc = fwd_live_chain_find(t, c->name);
		bool split = fwd_ir_chain_split(c, NULL, NULL);

		ck_assert_msg(lc, "chain %s missing", c->name);
		ck_assert(lc->base);
		ck_assert_str_eq(lc->type, "filter");
		ck_assert_uint_eq(lc->hook, c->hook);
		ck_assert_int_eq(lc->prio, c->prio);
		ck_assert_int_eq(lc->policy_accept, c->policy_accept);
		for (int p = FWD_PART_BASE; p <= (split ? FWD_PART_V6 : FWD_PART_BASE); p++) {
			char name[40];
			size_t n = fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p,
						     NULL, NULL);

			fwd_ir_part_name(c, (enum fwd_ir_part)p, name, sizeof(name));
			lc = fwd_live_chain_find(t, name);
			ck_assert_msg(lc, "chain %s missing", name);
			ck_assert_int_eq(lc->base, p == FWD_PART_BASE);
			ck_assert_msg(lc->nrules == n, "chain %s: %zu rules live, "
				      "%zu laid out", name, lc->nrules, n);
			nrules += n;
			nchains++;
		}
	}
	ck_assert_uint_eq(t->nchains, nchains);
	ck_assert_uint_eq(t->nrules, nrules);
	fwd_live_free(t);
}

static char *sh_ok(const char *cmd)
{
	char *out = NULL;
	int st = tu_sh(&out, "%s", cmd);

	ck_assert_msg(st == 0, "%s: exit %d\n%s", cmd, st, out);
	return out;
}

static char *write_tmp(const char *text)
{
	char buf[256];
	char *path = strdup(tu_tmp(buf, sizeof(buf), "fwd-kernel-XXXXXX"));
	int fd = mkstemp(path);
	size_t len = strlen(text);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

static bool have_nft(void)
{
	return tu_need_prog("nft", "nftables");
}

static struct fwd_ir_set *find_set(struct fwd_ir *ir, const char *name)
{
	for (size_t i = 0; i < ir->nsets; i++)
		if (strcmp(ir->sets[i].name, name) == 0)
			return &ir->sets[i];
	ck_abort_msg("no set %s", name);
	return NULL;
}

/* ---- probe ---------------------------------------------------------- */

START_TEST(probe_leaves_no_trace)
{
	struct fwd_features f;
	char *before, *after, *buf = NULL;
	size_t len = 0;
	FILE *mem;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	after = sh_ok("nft list ruleset");
	ck_assert_msg(after[0] == '\0', "probe left:\n%s", after);
	free(after);

	/* Beside other tables (and fwd's own), nothing changes either. */
	free(sh_ok("nft add table inet docker_like && "
		   "nft add chain inet docker_like c '{ type filter hook forward priority 0; }' && "
		   "nft add rule inet docker_like c ip saddr 192.0.2.1 counter accept"));
	before = sh_ok("nft -a list ruleset");
	for (int i = 0; i < 3; i++)
		probe_ok(&f);
	after = sh_ok("nft -a list ruleset");
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	/* The probe's answer on fib (rpfilter) is the kernel's: nft agrees
	 * when it puts the same expression in an input chain. */
	{
		int st = tu_sh(NULL, "unshare -n sh -c \"nft add table inet t && "
			       "nft add chain inet t c '{ type filter hook input "
			       "priority 0; }' && nft add rule inet t c fib saddr . "
			       "mark . iif oif missing drop\" 2>/dev/null");

		ck_assert_msg(f.fib == (st == 0), "probe says fib %d, nft %d",
			      f.fib, st);
	}
	/* And on conntrack labels (the program rules' label accept). */
	{
		int st = tu_sh(NULL, "unshare -n sh -c \"nft add table inet t && "
			       "nft add chain inet t c '{ type filter hook output "
			       "priority 0; }' && nft add rule inet t c ct label "
			       "127 accept\" 2>/dev/null");

		ck_assert_msg(f.ct_label == (st == 0), "probe says ct_label %d, "
			      "nft %d", f.ct_label, st);
	}

	/* Both printed forms. */
	mem = open_memstream(&buf, &len);
	fwd_features_print(&f, mem, true);
	fclose(mem);
	ck_assert_ptr_nonnull(strstr(buf, "\"nf_tables\":true"));
	ck_assert_ptr_nonnull(strstr(buf, f.fib ? "\"fib\":true" : "\"fib\":false"));
	ck_assert_ptr_nonnull(strstr(buf, f.ct_label ? "\"ct_label\":true" :
				     "\"ct_label\":false"));
	ck_assert_ptr_nonnull(strstr(buf, "\"detail\":\""));
	free(buf);
	mem = open_memstream(&buf, &len);
	fwd_features_print(&f, mem, false);
	fclose(mem);
	ck_assert_ptr_nonnull(strstr(buf, "nf_tables"));
	fprintf(stderr, "probe on this kernel:\n%s", buf);
	free(buf);
}
END_TEST

/* ---- apply + read back ---------------------------------------------- */

START_TEST(apply_reads_back)
{
	struct fwd_features f;
	struct fwd_live_table *t;
	struct fwd_ir *ir = hand_ir(0);
	struct fwd_nl *nl;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, ir, &f, NULL);
	assert_live_is(nl, ir);

	ck_assert_int_eq(fwd_live_read(nl, NULL, &t), 0);
	ck_assert_uint_eq(t->flags, fwd_table_flags(&f, NULL));
	if (f.table_owner)
		ck_assert_uint_eq(t->owner, fwd_nl_portid(nl));
	ck_assert_uint_eq(t->nanon, 2);	/* the two multi-type ICMP sets */
	/* counters: the allow4_net rule (in the IPv4 chain) and the tcp
	 * reset rule (the base chain's tail) */
	ck_assert_uint_eq(fwd_live_chain_find(t, "in4")->ncounters, 1);
	ck_assert_str_eq(fwd_live_chain_find(t, "in4")->counters[0].set,
			 "allow4_net");
	ck_assert_uint_eq(fwd_live_chain_find(t, "in6")->ncounters, 0);
	ck_assert_uint_eq(fwd_live_chain_find(t, "input")->ncounters, 1);
	ck_assert_str_eq(fwd_live_chain_find(t, "input")->counters[0].set, "");
	fwd_live_free(t);

	/* The table as an IR again, shaped by the applied one. */
	{
		struct fwd_ir *back = NULL;

		ck_assert_int_eq(fwd_live_read(nl, NULL, &t), 0);
		ck_assert_int_eq(fwd_live_to_ir(t, ir, &back), 0);
		for (size_t i = 0; i < ir->nsets; i++) {
			ck_assert_uint_eq(back->sets[i].n, ir->sets[i].n);
			for (size_t j = 0; j < ir->sets[i].n; j++)
				ck_assert(elem_eq(ir->sets[i].key,
						  &ir->sets[i].elems[j],
						  &back->sets[i].elems[j]));
		}
		fwd_ir_free(back);
		fwd_live_free(t);
	}
	fwd_nl_close(nl);
	hand_free(ir);
}
END_TEST

START_TEST(absent_table)
{
	struct fwd_live_table *t = (void *)1;
	struct fwd_nl *nl;
	uint32_t flags = 1, owner = 1;
	bool exists = true;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	nl = nl_open();
	ck_assert_int_eq(fwd_live_read(nl, NULL, &t), -ENOENT);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(fwd_live_table_info(nl, NULL, &exists, &flags, &owner), 0);
	ck_assert(!exists);
	fwd_nl_close(nl);
}
END_TEST

/* ---- the nft twin --------------------------------------------------- */

static int cmp_line(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * `nft --debug=netlink list table` made comparable: rule headers lose their
 * handles, the element lines of each set are sorted (a hash set dumps in
 * the order of its per-set random hash seed), the table flags line goes.
 */
static char *canon_debug(const char *txt)
{
	char *copy = strdup(txt), *save = NULL, *line, *buf = NULL;
	char **run = NULL;
	size_t nrun = 0, len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (line = strtok_r(copy, "\n", &save);; line = strtok_r(NULL, "\n", &save)) {
		if (line && strncmp(line, "\telement ", 9) == 0) {
			run = xrealloc(run, (nrun + 1) * sizeof(*run));
			run[nrun++] = line;
			continue;
		}
		if (nrun > 1)
			qsort(run, nrun, sizeof(*run), cmp_line);
		for (size_t i = 0; i < nrun; i++)
			fprintf(f, "%s\n", run[i]);
		nrun = 0;
		if (!line)
			break;
		if (strncmp(line, "\tflags", 6) == 0)
			continue;
		/* an owned table names its owner: "{ # progname check-kernel" */
		if (strstr(line, " { # progname "))
			strstr(line, " # progname ")[0] = '\0';
		if (strncmp(line, "inet " FWD_TABLE_NAME " ", 16) == 0 &&
		    line[16] != '@') {
			char *end = line + strlen(line);

			/* "inet fwd_filter input 12 11" -> "... input" */
			while (end > line && (end[-1] == ' ' ||
					      (end[-1] >= '0' && end[-1] <= '9')))
				end--;
			*end = '\0';
		}
		fprintf(f, "%s\n", line);
	}
	fclose(f);
	free(run);
	free(copy);
	return buf;
}

/* fwd's table in this namespace vs nft's load of the render in a fresh one. */
static void assert_twin(const struct fwd_ir *ir)
{
	struct fwd_render_opts ro = { 0 };
	char *txt = NULL, *path, *mine, *theirs, *a, *b;
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);

	ck_assert_int_eq(fwd_ir_render(ir, &ro, f), 0);
	fclose(f);
	path = write_tmp(txt);
	mine = sh_ok("nft --debug=netlink list table inet " FWD_TABLE_NAME);
	{
		char cmd[256];

		snprintf(cmd, sizeof(cmd), "unshare -n sh -c 'nft -f %s && "
			 "nft --debug=netlink list table inet " FWD_TABLE_NAME "'",
			 path);
		theirs = sh_ok(cmd);
	}
	a = canon_debug(theirs);
	b = canon_debug(mine);
	if (strcmp(a, b) != 0) {
		char *pa = write_tmp(a), *pb = write_tmp(b), *diff = NULL;

		tu_sh(&diff, "diff -u %s %s | head -120", pa, pb);
		fprintf(stderr, "nft (render) vs fwd:\n%s", diff);
		ck_abort_msg("the kernel holds something else than nft builds "
			     "from the render");
	}
	unlink(path);
	free(path);
	free(txt);
	free(mine);
	free(theirs);
	free(a);
	free(b);
}

START_TEST(same_as_nft_of_render)
{
	struct fwd_features f;
	struct fwd_nl *nl;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	for (int v = 0; v < 2; v++) {
		struct fwd_ir *ir = hand_ir(v);

		apply_ok(nl, ir, &f, NULL);
		assert_twin(ir);
		hand_free(ir);
	}
	fwd_nl_close(nl);
}
END_TEST

/* ---- nft list loads back -------------------------------------------- */

START_TEST(nft_list_reloads)
{
	struct fwd_features f;
	struct fwd_nl *nl;
	struct fwd_ir *ir = hand_ir(0);
	char *out, *path, cmd[256];
	int st;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();

	/* Owner only: nft prints `flags owner`, which it reads back. */
	f.table_persist = false;
	apply_ok(nl, ir, &f, NULL);
	out = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_ptr_nonnull(strstr(out, "set allow4_net"));
	path = write_tmp(out);
	snprintf(cmd, sizeof(cmd), "unshare -n nft -c -f %s", path);
	free(sh_ok(cmd));
	unlink(path);
	free(path);
	free(out);

	/* owner|persist: nft 1.0.6 does not know the persist flag and prints
	 * an empty `flags` line that it cannot read back; the rest can. */
	probe_ok(&f);
	if (f.table_persist) {
		apply_ok(nl, ir, &f, NULL);
		out = sh_ok("nft list table inet " FWD_TABLE_NAME
			    " | grep -v '^[[:space:]]*flags[[:space:]]*$'");
		path = write_tmp(out);
		snprintf(cmd, sizeof(cmd), "unshare -n nft -c -f %s", path);
		st = tu_sh(NULL, "%s", cmd);
		ck_assert_msg(st == 0, "%s", cmd);
		unlink(path);
		free(path);
		free(out);
	}
	fwd_nl_close(nl);
	hand_free(ir);
}
END_TEST

/* ---- atomic re-apply ------------------------------------------------ */

/* The monotonic clock in seconds (bounds on waits, the scale tests' times). */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* What the reader of reapply_is_atomic has seen so far: shared memory the
 * parent watches while it re-applies. */
struct reapply_reads {
	unsigned long reads;		/* whole reads (the table there or not) */
	unsigned long missing;		/* ... without the table */
	unsigned long torn;		/* ... with a chain twice or short */
	unsigned long busy;		/* fwd_live_read gave up: -EAGAIN */
	unsigned long failed;		/* any other error */
	int last_err;
};

/* One read's verdict: a chain listed twice, or input/in4 without all of
 * their rules, is a read that mixed two rulesets. */
static bool reapply_read_torn(const struct fwd_live_table *t, const struct fwd_ir *ir)
{
	const struct fwd_live_chain *in = fwd_live_chain_find(t, "input");
	const struct fwd_live_chain *in4 = fwd_live_chain_find(t, "in4");

	for (size_t i = 0; i < t->nchains; i++)
		for (size_t j = i + 1; j < t->nchains; j++)
			if (strcmp(t->chains[i].name, t->chains[j].name) == 0)
				return true;
	/* The base chain and the IPv4 chain have the same rules in both
	 * IRs (asserted by the test). */
	return !in || in->nrules != fwd_ir_part_rules(ir, &ir->chains[0], FWD_PART_BASE,
						       NULL, NULL) ||
	       !in4 || in4->nrules != fwd_ir_part_rules(ir, &ir->chains[0], FWD_PART_V4,
							 NULL, NULL);
}

/* The reader: reads the table back until told to stop (stop pipe closed),
 * counting into r; one byte on `ready` once its first read is done. */
static void reapply_reader(int stop, int ready, struct reapply_reads *r,
			   const struct fwd_ir *ir)
{
	struct fwd_nl *cnl = NULL;
	char c;

	fcntl(stop, F_SETFL, O_NONBLOCK);
	if (fwd_nl_open(&cnl) != 0)
		_exit(3);
	do {
		struct fwd_live_table *t = NULL;
		int ret = fwd_live_read(cnl, NULL, &t);

		if (ret == -ENOENT) {
			r->missing++;
		} else if (ret == 0) {
			if (reapply_read_torn(t, ir))
				r->torn++;
		} else if (ret == -EAGAIN) {
			r->busy++;
		} else {
			r->failed++;
			r->last_err = ret;
		}
		if (ret == 0 || ret == -ENOENT)
			__atomic_add_fetch(&r->reads, 1, __ATOMIC_SEQ_CST);
		fwd_live_free(t);
		if (ready >= 0) {
			if (write(ready, "r", 1) != 1)
				_exit(4);
			close(ready);
			ready = -1;
		}
	} while (read(stop, &c, 1) < 0 && errno == EAGAIN);
	fwd_nl_close(cnl);
}

/*
 * A second process reads the whole table back (fwd_live_read, what
 * `fwctl show --nft`, stats and fwd's own checks use) as fast as it can
 * while the test re-applies it, table deleted and made again in each
 * transaction. It must never find the table missing, and never a read
 * that mixes two rulesets: a chain listed twice, or a chain without its
 * rules. A listener of nf_tables events is open, as fwd's own table guard
 * is: the kernel then builds an event per object inside each commit, which
 * is where a reader of the old code found two tables under one name.
 *
 * The re-applies run until the reader has finished READS_WANTED reads
 * during them (at least 200 re-applies), whatever the load: the reader
 * starts first and the test waits for its first read rather than
 * sleeping and hoping it was scheduled.
 */
#define REAPPLY_MIN 200
#define READS_WANTED 300UL
START_TEST(reapply_is_atomic)
{
	struct fwd_ir *ir0 = hand_ir(0), *ir1 = hand_ir(1);
	struct fwd_features f;
	struct fwd_monitor *mon = NULL;
	struct reapply_reads *r;
	struct fwd_nl *nl;
	struct pollfd pf;
	int stop[2], ready[2], st, applies = 0;
	unsigned long reads0;
	double deadline;
	pid_t pid;
	char c;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	nl = nl_open();
	for (int p = FWD_PART_BASE; p <= FWD_PART_V4; p++)
		ck_assert_uint_eq(fwd_ir_part_rules(ir0, &ir0->chains[0], p, NULL, NULL),
				  fwd_ir_part_rules(ir1, &ir1->chains[0], p, NULL, NULL));
	apply_ok(nl, ir0, &f, NULL);
	ck_assert_int_eq(fwd_monitor_open(&mon, fwd_nl_portid(nl)), 0);
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
	ck_assert(r != MAP_FAILED);
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pipe(stop), 0);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(stop[1]);
		close(ready[0]);
		reapply_reader(stop[0], ready[1], r, ir0);
		/* the child's copies, freed so that valgrind sees no leak */
		fwd_monitor_close(mon);
		fwd_nl_close(nl);
		hand_free(ir0);
		hand_free(ir1);
		_exit(0);
	}
	close(stop[0]);
	close(ready[1]);
	pf = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	ck_assert_msg(poll(&pf, 1, 60000) == 1 && read(ready[0], &c, 1) == 1,
		      "the reader did not finish a first read within 60 s");
	close(ready[0]);
	reads0 = __atomic_load_n(&r->reads, __ATOMIC_SEQ_CST);
	/* A bound for a machine too busy to let the reader run, not a
	 * measurement: the reads needed take well under a second idle. */
	deadline = now() + 120;
	while (applies < REAPPLY_MIN ||
	       __atomic_load_n(&r->reads, __ATOMIC_SEQ_CST) - reads0 < READS_WANTED) {
		ck_assert_msg(now() < deadline, "%lu reads during %d re-applies in 120 s",
			      __atomic_load_n(&r->reads, __ATOMIC_SEQ_CST) - reads0,
			      applies);
		apply_ok(nl, applies % 2 ? ir0 : ir1, &f, NULL);
		applies++;
	}
	/* End on ir0 (what the reader compares with): an odd count. */
	if (applies % 2) {
		apply_ok(nl, ir0, &f, NULL);
		applies++;
	}
	close(stop[1]);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fprintf(stderr, "reapply: %lu reads during %d re-applies (%lu before), %lu "
		"without the table, %lu mixing two rulesets, %lu gave up (EAGAIN), "
		"%lu failed\n", r->reads - reads0, applies, reads0, r->missing,
		r->torn, r->busy, r->failed);
	ck_assert_uint_eq(r->missing, 0);
	ck_assert_msg(r->torn == 0, "%lu of %lu reads mixed two rulesets", r->torn,
		      r->reads);
	ck_assert_msg(r->failed == 0, "%lu reads failed, the last with %s", r->failed,
		      strerror(-r->last_err));
	/* The last apply was ir0: ir1's elements are gone, ir0's are there. */
	assert_live_is(nl, ir0);
	apply_ok(nl, ir1, &f, NULL);
	assert_live_is(nl, ir1);
	munmap(r, sizeof(*r));
	fwd_monitor_close(mon);
	fwd_nl_close(nl);
	hand_free(ir0);
	hand_free(ir1);
}
END_TEST

/* ---- other tables --------------------------------------------------- */

static const char others_nft[] =
	"table inet docker_like {\n"
	"  set peers {\n"
	"    type ipv4_addr; flags interval\n"
	"    elements = { 192.0.2.0/25, 198.51.100.7 }\n"
	"  }\n"
	"  chain forward_c {\n"
	"    type filter hook forward priority 0; policy drop;\n"
	"    ip saddr @peers counter accept\n"
	"    ct state established,related accept\n"
	"  }\n"
	"  chain out {\n"
	"    type filter hook output priority 10; policy accept;\n"
	"    ip daddr 198.51.100.0/24 tcp dport { 80, 443 } counter accept\n"
	"  }\n"
	"}\n"
	"table ip filter {\n"
	"  chain INPUT {\n"
	"    type filter hook input priority 0; policy accept;\n"
	"    ip saddr 203.0.113.0/24 tcp dport 22 counter drop\n"
	"  }\n"
	"  chain DOCKER {\n"
	"  }\n"
	"}\n";

START_TEST(other_tables_untouched)
{
	struct fwd_ir *ir0 = hand_ir(0), *ir1 = hand_ir(1);
	struct fwd_features f;
	struct fwd_nl *nl;
	char *path, cmd[128], *before, *after;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	path = write_tmp(others_nft);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	free(sh_ok(cmd));
	before = sh_ok("nft -a -s list table inet docker_like && "
		       "nft -a -s list table ip filter && "
		       "nft --debug=netlink list table ip filter");
	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, ir0, &f, NULL);
	apply_ok(nl, ir1, &f, NULL);
	apply_ok(nl, ir0, &f, NULL);
	after = sh_ok("nft -a -s list table inet docker_like && "
		      "nft -a -s list table ip filter && "
		      "nft --debug=netlink list table ip filter");
	ck_assert_str_eq(before, after);
	assert_live_is(nl, ir0);
	fwd_nl_close(nl);
	unlink(path);
	free(path);
	free(before);
	free(after);
	hand_free(ir0);
	hand_free(ir1);
}
END_TEST

/* ---- owner and persist ---------------------------------------------- */

START_TEST(owner_flag_guards)
{
	struct fwd_ir *ir0 = hand_ir(0), *ir1 = hand_ir(1);
	struct fwd_features f;
	struct fwd_nl *nl, *other;
	struct fwd_diags d;
	char *text;
	int ret;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	if (!f.table_owner) {
		tu_skip_kernel("no table owner flag (NFT_TABLE_F_OWNER, Linux 5.12)");
		return;
	}
	nl = nl_open();
	apply_ok(nl, ir0, &f, NULL);
	ck_assert_int_ne(tu_sh(NULL, "nft delete table inet " FWD_TABLE_NAME), 0);
	ck_assert_int_ne(tu_sh(NULL, "nft add rule inet " FWD_TABLE_NAME
			       " input accept"), 0);
	ck_assert_int_eq(tu_sh(NULL, "nft flush ruleset"), 0);
	assert_live_is(nl, ir0);

	/* Another socket (another fwd) may not replace it... */
	other = nl_open();
	fwd_diags_init(&d);
	ret = fwd_apply(other, ir1, &f, NULL, &d);
	ck_assert_int_eq(ret, -EPERM);
	text = diags_text(&d);
	ck_assert_msg(strstr(text, "table inet fwd_filter is owned by another "
			     "process (is another fwd running?)"), "%s", text);
	free(text);
	fwd_diags_free(&d);
	/* ...and nothing changed. */
	assert_live_is(nl, ir0);
	fwd_nl_close(other);
	fwd_nl_close(nl);
	hand_free(ir0);
	hand_free(ir1);
}
END_TEST

START_TEST(persist_and_adopt)
{
	struct fwd_ir *ir0 = hand_ir(0), *ir1 = hand_ir(1);
	struct fwd_features f;
	struct fwd_nl *nl;
	uint32_t flags, owner;
	bool exists;
	pid_t pid;
	int st;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	if (!f.table_persist) {
		tu_skip_kernel("no table persist flag (NFT_TABLE_F_PERSIST, Linux 6.9)");
		return;
	}
	nl = nl_open();
	apply_ok(nl, ir0, &f, NULL);
	fwd_nl_close(nl);

	/* The owner is gone; the table (policy drop and all) stays. */
	nl = nl_open();
	ck_assert_int_eq(fwd_live_table_info(nl, NULL, &exists, &flags, &owner), 0);
	ck_assert(exists);
	ck_assert(flags & NFT_TABLE_F_PERSIST);
	ck_assert_uint_eq(owner, 0);
	assert_live_is(nl, ir0);

	/* A fresh process (a restarted fwd) takes it over and replaces it. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct fwd_nl *cnl = NULL;
		struct fwd_diags d;

		int code = 0;

		fwd_diags_init(&d);
		if (fwd_nl_open(&cnl) || fwd_apply(cnl, ir1, &f, NULL, &d))
			code = 1;
		else if (fwd_live_table_info(cnl, NULL, &exists, &flags, &owner) ||
			 owner != fwd_nl_portid(cnl) || !(flags & NFT_TABLE_F_OWNER))
			code = 2;
		/* the child's copies, freed so that valgrind sees no leak */
		fwd_diags_free(&d);
		fwd_nl_close(cnl);
		fwd_nl_close(nl);
		hand_free(ir0);
		hand_free(ir1);
		_exit(code);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child: %d", st);
	assert_live_is(nl, ir1);

	/* And this socket may adopt the orphan again. */
	apply_ok(nl, ir0, &f, NULL);
	ck_assert_int_eq(fwd_live_table_info(nl, NULL, &exists, &flags, &owner), 0);
	ck_assert_uint_eq(owner, fwd_nl_portid(nl));
	assert_live_is(nl, ir0);
	fwd_nl_close(nl);
	hand_free(ir0);
	hand_free(ir1);
}
END_TEST

START_TEST(no_owner_without_persist)
{
	struct fwd_features f = { .nf_tables = true, .inet_family = true,
				  .table_owner = true };
	struct fwd_apply_opts o = { .no_owner = true };

	ck_assert_uint_eq(fwd_table_flags(&f, NULL), NFT_TABLE_F_OWNER);
	ck_assert_uint_eq(fwd_table_flags(&f, &o), 0);
	f.table_persist = true;
	ck_assert_uint_eq(fwd_table_flags(&f, &o),
			  NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	f.table_owner = false;
	ck_assert_uint_eq(fwd_table_flags(&f, NULL), 0);
	ck_assert_uint_eq(fwd_table_flags(NULL, NULL), 0);
}
END_TEST

/* ---- kernel errors -------------------------------------------------- */

static char *apply_fails(struct fwd_nl *nl, const struct fwd_ir *ir,
			 const struct fwd_features *f, int *ret)
{
	struct fwd_diags d;
	char *text;

	fwd_diags_init(&d);
	*ret = fwd_apply(nl, ir, f, NULL, &d);
	text = diags_text(&d);
	ck_assert_msg(*ret < 0, "the kernel accepted a bad IR");
	ck_assert_uint_gt(d.n, 0);
	fwd_diags_free(&d);
	return text;
}

/* Rule k (from 1) of chain `chain` in the text of `nft list table`
 * holds `want`: the place an error named is the rule nft lists there. */
static void assert_kernel_rule(const char *list, const char *chain, size_t k,
			       const char *want)
{
	char head[64];
	const char *c, *end, *l;
	size_t n = 0;

	snprintf(head, sizeof(head), "\tchain %s {\n", chain);
	c = strstr(list, head);
	ck_assert_msg(c, "no chain %s in:\n%s", chain, list);
	end = strstr(c, "\n\t}");
	for (l = strchr(c, '\n'); l && l < end; l = strchr(l + 1, '\n')) {
		/* rules sit two tabs in, the base chain's hook line too */
		if (strncmp(l + 1, "\t\t", 2) != 0 || strncmp(l + 3, "type ", 5) == 0)
			continue;
		if (++n == k)
			break;
	}
	ck_assert_msg(l && l < end, "chain %s has fewer than %zu rules:\n%s", chain, k, list);
	ck_assert_msg(strncmp(l + 3, want, strlen(want)) == 0 ||
		      (strstr(l + 3, want) && strstr(l + 3, want) < strchr(l + 1, '\n')),
		      "rule %zu of chain %s is not '%s':\n%s", k, chain, want, list);
}

START_TEST(kernel_error_names_the_line)
{
	struct fwd_ir *good = hand_ir(0), *bad;
	char *good_list;
	struct fwd_features f;
	struct fwd_nl *nl;
	struct fwd_ir_set *s;
	char *text;
	int ret;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, good, &f, NULL);
	good_list = sh_ok("nft list table inet " FWD_TABLE_NAME);

	/* An element inside another one of a concatenated interval set. */
	bad = hand_ir(0);
	s = find_set(bad, "allow4_net");
	el(s, 42, "198.51.100.77", NULL, IPPROTO_UDP, 60500, 60500);
	s->elems[s->n - 1].loc.file = "bad.conf";
	text = apply_fails(nl, bad, &f, &ret);
	ck_assert_msg(strstr(text, "bad.conf:42: kernel rejected element "
			     "198.51.100.77 . udp . 60500 of set allow4_net: "),
		      "%s", text);
	ck_assert_msg(strstr(text, "overlaps"), "%s", text);
	free(text);
	hand_free(bad);
	assert_live_is(nl, good);

	/* Far into a big element message: the extack offset still finds it. */
	bad = hand_ir(0);
	s = find_set(bad, "allow4_net");
	s->n = 0;
	for (unsigned i = 0; i < 3000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.18.%u.%u", i / 256, i % 256);
		el(s, 100 + i, a, NULL, IPPROTO_TCP, 22, 22);
	}
	/* 198.18.7.0 - 198.18.7.255 . tcp . 22 swallows 1792..2047 */
	el(s, 9000, "198.18.7.0", "198.18.7.255", IPPROTO_TCP, 22, 22);
	{
		/* keep the IR sorted: move it before 198.18.7.0 (index 1792) */
		struct fwd_ir_elem big = s->elems[s->n - 1];

		memmove(&s->elems[1793], &s->elems[1792],
			(s->n - 1 - 1792) * sizeof(big));
		s->elems[1792] = big;
	}
	text = apply_fails(nl, bad, &f, &ret);
	/* The second message (elements 1000..1999) stops at its first bad
	 * element; the third (from 2000 = 198.18.7.207 on) at its own. */
	ck_assert_msg(strstr(text, "hand.conf:1892: kernel rejected element "
			     "198.18.7.0 . tcp . 22 of set allow4_net: ") &&
		      strstr(text, "hand.conf:2099: kernel rejected element "
			     "198.18.7.207 . tcp . 22 of set allow4_net: "),
		      "%s", text);
	free(text);
	hand_free(bad);
	assert_live_is(nl, good);

	/* A rule the kernel refuses carries its rule's location, and is
	 * named by its kernel chain and its place there as `nft list`
	 * lists the good table: the IPv4 ICMP rule (IR input rule 6) is
	 * in4's 4th, after the two ct state rules and the block4 lookup. */
	bad = hand_ir(0);
	bad->chains[0].rules[5].m[1].u32 = 0;	/* limit rate 0/second */
	bad->chains[0].rules[5].loc.file = "bad.conf";
	bad->chains[0].rules[5].loc.line = 7;
	text = apply_fails(nl, bad, &f, &ret);
	ck_assert_msg(strstr(text, "bad.conf:7: kernel rejected rule 4 of chain "
			     "in4 (add rule): "), "%s", text);
	ck_assert_msg(!strstr(text, "chain input") && !strstr(text, "chain in6"),
		      "%s", text);
	assert_kernel_rule(good_list, "in4", 4, "icmp type { ");
	free(text);
	hand_free(bad);
	assert_live_is(nl, good);

	/* A rule in both family chains (the strict reverse-path check, IR
	 * input rule 9) fails in each: in4's 5th and in6's 6th (the ICMPv6
	 * rules and block6 come before it there). */
	bad = hand_ir(0);
	ir_match(&bad->chains[0].rules[8], FWD_M_LIMIT, 0, 0);
	text = apply_fails(nl, bad, &f, &ret);
	ck_assert_msg(strstr(text, "hand.conf:5: kernel rejected rule 5 of chain "
			     "in4 (add rule): ") &&
		      strstr(text, "hand.conf:5: kernel rejected rule 6 of chain "
			     "in6 (add rule): "), "%s", text);
	assert_kernel_rule(good_list, "in4", 5, "fib saddr . mark . iif oif missing");
	assert_kernel_rule(good_list, "in6", 6, "fib saddr . mark . iif oif missing");
	free(text);
	hand_free(bad);
	assert_live_is(nl, good);

	/* A reverse-path rule the kernel refuses (in the output hook, where
	 * there is no iif: as a kernel without nft_fib would refuse it)
	 * names the rpfilter line and the way out; nothing changes. */
	bad = hand_ir(0);
	{
		struct fwd_ir_rule *r = ir_rule(&bad->chains[1], FWD_V_DROP, 0);

		ir_match(r, FWD_M_RPF_MISSING, RPF_STRICT, 0);
		r->loc.file = "bad.conf";
		r->loc.line = 3;
	}
	text = apply_fails(nl, bad, &f, &ret);
	ck_assert_msg(strstr(text, "bad.conf:3: kernel rejected rule 5 of chain "
			     "output") && strstr(text, "[defaults] rpfilter") &&
		      strstr(text, "rpfilter = no does without it"), "%s", text);
	free(text);
	hand_free(bad);
	assert_live_is(nl, good);

	fwd_nl_close(nl);
	hand_free(good);
	free(good_list);
}
END_TEST

/* ---- counters over a whole-table replace ------------------------------ */

/* The counter of the rule looking up `set` in chain `chain` of the text
 * of `nft list table` (false: none). */
static bool listed_counter(const char *list, const char *chain, const char *set,
			   unsigned long long *pk, unsigned long long *by)
{
	char head[64], needle[64];
	const char *c, *end, *p;

	snprintf(head, sizeof(head), "\tchain %s {\n", chain);
	snprintf(needle, sizeof(needle), "%s counter packets ", set);
	c = strstr(list, head);
	end = c ? strstr(c, "\n\t}") : NULL;
	p = c ? strstr(c, needle) : NULL;
	return p && p < end &&
	       sscanf(p + strlen(needle), "%llu bytes %llu", pk, by) == 2;
}

/* The packets right after `needle` in chain `chain` of a listing. */
static bool counter_in(const char *list, const char *chain, const char *needle,
		       unsigned long long *pk)
{
	char head[64];
	const char *c, *end, *p;

	snprintf(head, sizeof(head), "\tchain %s {\n", chain);
	c = strstr(list, head);
	end = c ? strstr(c, "\n\t}") : NULL;
	p = c ? strstr(c, needle) : NULL;
	return p && p < end && sscanf(p + strlen(needle), "%llu", pk) == 1;
}

/* Counts of zero for every rule copy and set of ir, on the heap (free
 * with fwd_ir_counts_free), for a test to fill in. */
static struct fwd_ir_counts *counts_zero(const struct fwd_ir *ir)
{
	struct fwd_ir_counts *cn = calloc(1, sizeof(*cn));

	cn->nsets = ir->nsets;
	cn->nchains = ir->nchains;
	cn->elem = calloc(ir->nsets, sizeof(*cn->elem));
	cn->rule = calloc(ir->nchains, sizeof(*cn->rule));
	for (int p = 0; p < FWD_PART_COUNT; p++)
		cn->part[p] = calloc(ir->nchains, sizeof(*cn->part[p]));
	for (size_t c = 0; c < ir->nchains; c++) {
		cn->rule[c] = calloc(ir->chains[c].n, sizeof(**cn->rule));
		for (int p = 0; p < FWD_PART_COUNT; p++)
			cn->part[p][c] = calloc(ir->chains[c].n, sizeof(**cn->part[p]));
	}
	return cn;
}

/* fwd's render of ir with counts cn, loaded with nft -f: a table with
 * chosen counters, no traffic needed. */
static void load_with_counts(const struct fwd_ir *ir, struct fwd_ir_counts *cn)
{
	struct fwd_render_opts ro = { .counts = cn };
	char *text = NULL, *path, cmd[256];
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);

	ck_assert_int_eq(fwd_ir_render(ir, &ro, mem), 0);
	fclose(mem);
	path = write_tmp(text);
	snprintf(cmd, sizeof(cmd), "nft -f %s", path);
	free(sh_ok(cmd));
	unlink(path);
	free(path);
	free(text);
}

/*
 * fwd_apply (a replace that keeps counters) starts each copy of a rule in
 * both family chains from that copy's own count: in4 from in4's, in6 from
 * in6's, and out4/out6 the same. The table it replaces is loaded with
 * `nft -f` from fwd's own render with chosen counts (no traffic needed:
 * the counts are exact). It used to start in4/out4 from the sum and
 * in6/out6 from zero.
 */
START_TEST(replace_keeps_copy_counters)
{
	struct fwd_ir *ir = hand_ir(0);
	struct fwd_ir_counts *cn;
	struct fwd_features f;
	struct fwd_ir_chain *out;
	struct fwd_ir_rule *r;
	unsigned long long pk, by;
	struct fwd_nl *nl;
	char *list;
	size_t c_open[2];

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	/* input's open-port lookup counts; output gets one too, in its
	 * middle (both families: out4 and out6) */
	ir->chains[0].rules[13].counter = true;
	out = &ir->chains[1];
	r = ir_rule(out, FWD_V_ACCEPT, 0);
	ir_match(r, FWD_M_LOOKUP_DST, 0, H_OPEN);
	r->counter = true;
	{
		struct fwd_ir_rule keep = *r;

		memmove(&out->rules[2], &out->rules[1], (out->n - 2) * sizeof(keep));
		out->rules[1] = keep;
	}
	c_open[0] = 13;
	c_open[1] = 1;

	/* counts per copy: in4 5/500, in6 7/700; out4 11/1100, out6 13/1300 */
	cn = counts_zero(ir);
	for (size_t c = 0; c < ir->nchains; c++) {
		uint64_t v4 = c ? 11 : 5, v6 = c ? 13 : 7;

		cn->part[FWD_PART_V4][c][c_open[c]] = (struct fwd_ir_count){ v4, v4 * 100 };
		cn->part[FWD_PART_V6][c][c_open[c]] = (struct fwd_ir_count){ v6, v6 * 100 };
		cn->rule[c][c_open[c]] = (struct fwd_ir_count){ v4 + v6, (v4 + v6) * 100 };
	}
	load_with_counts(ir, cn);
	list = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(listed_counter(list, "in4", "@open", &pk, &by) && pk == 5 &&
		      listed_counter(list, "in6", "@open", &pk, &by) && pk == 7 &&
		      listed_counter(list, "out4", "@open", &pk, &by) && pk == 11 &&
		      listed_counter(list, "out6", "@open", &pk, &by) && pk == 13,
		      "nft -f did not load the counts:\n%s", list);
	free(list);

	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, ir, &f, NULL);	/* the replace, counters kept */
	list = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(listed_counter(list, "in4", "@open", &pk, &by) && pk == 5 && by == 500 &&
		      listed_counter(list, "in6", "@open", &pk, &by) && pk == 7 && by == 700,
		      "after the replace, in4/in6 @open are not 5/500 and 7/700:\n%s", list);
	ck_assert_msg(listed_counter(list, "out4", "@open", &pk, &by) && pk == 11 &&
		      by == 1100 &&
		      listed_counter(list, "out6", "@open", &pk, &by) && pk == 13 && by == 1300,
		      "after the replace, out4/out6 @open are not 11/1100 and 13/1300:\n%s", list);
	free(list);

	/* and again: the second replace reads what the first carried */
	apply_ok(nl, ir, &f, NULL);
	list = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(listed_counter(list, "in6", "@open", &pk, &by) && pk == 7 &&
		      listed_counter(list, "out6", "@open", &pk, &by) && pk == 13,
		      "after a second replace:\n%s", list);
	free(list);
	fwd_nl_close(nl);
	fwd_ir_counts_free(cn);
	hand_free(ir);
}
END_TEST

/*
 * A replace whose table gains a rule in a family chain (a set that was
 * empty, so its rule was left out, now has elements) keeps the counts of
 * the chain's other rules: they are matched by the set they look up, not
 * by place in a chain of the same length. They used to start from zero
 * whenever the chain's length changed.
 */
START_TEST(replace_keeps_counters_new_rule)
{
	struct fwd_ir *a = hand_ir(0), *b = hand_ir(0);
	struct fwd_ir_counts *cn;
	struct fwd_features f;
	unsigned long long pk, by;
	struct fwd_nl *nl;
	char *list;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	/* a: allow4 empty (its rule not in in4); b: as hand_ir has it */
	find_set(a, "allow4")->n = 0;
	a->chains[0].rules[13].counter = b->chains[0].rules[13].counter = true;
	cn = counts_zero(a);
	/* in4: allow4_net 3/300, open 5/500; in6: open 7/700; input's
	 * closing tcp reject 9/900 */
	cn->part[FWD_PART_V4][0][11] = (struct fwd_ir_count){ 3, 300 };
	cn->part[FWD_PART_V4][0][13] = (struct fwd_ir_count){ 5, 500 };
	cn->part[FWD_PART_V6][0][13] = (struct fwd_ir_count){ 7, 700 };
	cn->part[FWD_PART_BASE][0][15] = (struct fwd_ir_count){ 9, 900 };
	load_with_counts(a, cn);
	list = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(!strstr(list, "@allow4 ") &&
		      listed_counter(list, "in4", "@allow4_net", &pk, &by) && pk == 3 &&
		      listed_counter(list, "in4", "@open", &pk, &by) && pk == 5,
		      "nft -f did not load table a:\n%s", list);
	free(list);

	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, b, &f, NULL);	/* in4 gains the allow4 rule */
	list = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(strstr(list, "@allow4 accept"), "no allow4 rule:\n%s", list);
	ck_assert_msg(listed_counter(list, "in4", "@allow4_net", &pk, &by) && pk == 3 &&
		      by == 300 &&
		      listed_counter(list, "in4", "@open", &pk, &by) && pk == 5 && by == 500 &&
		      listed_counter(list, "in6", "@open", &pk, &by) && pk == 7 && by == 700,
		      "after the replace that added in4's allow4 rule, the other counts are "
		      "not 3, 5 and 7:\n%s", list);
	ck_assert_msg(strstr(list, "reject with tcp reset") &&
		      counter_in(list, "input", "meta l4proto tcp counter packets ", &pk) &&
		      pk == 9, "input's closing reject lost its count:\n%s", list);
	free(list);
	fwd_nl_close(nl);
	fwd_ir_counts_free(cn);
	hand_free(a);
	hand_free(b);
}
END_TEST

/* ---- live edits: element deltas -------------------------------------- */

static uint64_t wall(void)
{
	return (uint64_t)time(NULL);
}

/* Insert an element into s keeping key order (the IR's invariant). */
static struct fwd_ir_elem *el_sorted(struct fwd_ir_set *s, unsigned line,
				     const char *lo, const char *hi,
				     uint8_t proto, uint16_t plo, uint16_t phi,
				     uint64_t expires)
{
	struct fwd_ir_elem e;
	size_t i;

	el(s, line, lo, hi, proto, plo, phi);
	e = s->elems[--s->n];
	e.expires = expires;
	for (i = 0; i < s->n; i++) {
		int c = memcmp(s->elems[i].lo, e.lo, sizeof(e.lo));

		if (c > 0 || (c == 0 && (s->elems[i].proto > e.proto ||
					 (s->elems[i].proto == e.proto &&
					  s->elems[i].plo > e.plo))))
			break;
	}
	memmove(&s->elems[i + 1], &s->elems[i], (s->n - i) * sizeof(e));
	s->elems[i] = e;
	s->n++;
	return &s->elems[i];
}

static void el_remove(struct fwd_ir_set *s, size_t i)
{
	memmove(&s->elems[i], &s->elems[i + 1], (s->n - i - 1) * sizeof(*s->elems));
	s->n--;
}

/* old -> new as a delta, committed; the delta must not change the shape. */
static int delta_apply(struct fwd_nl *nl, const struct fwd_ir *old,
		       const struct fwd_ir *new, const struct fwd_features *f,
		       char **text)
{
	struct fwd_ir_delta delta;
	struct fwd_diags d;
	int ret;

	ck_assert_int_eq(fwd_ir_diff(old, new, &delta), 0);
	ck_assert_msg(!delta.shape_changed, "test IRs differ in shape");
	fwd_diags_init(&d);
	ret = fwd_apply_delta(nl, new, &delta, f, &d);
	if (text)
		*text = diags_text(&d);
	else if (ret)
		ck_abort_msg("fwd_apply_delta: %s\n%s", strerror(-ret),
			     diags_text(&d));
	if (ret == 0)
		ck_assert_uint_eq(d.n, 0);
	fwd_diags_free(&d);
	fwd_ir_delta_free(&delta);
	return ret;
}

/*
 * A live edit that gives a set its first element rebuilds the family chain
 * that gains the set's rule (delta.c: flush + add); a rule the kernel
 * refuses there is named by that chain and its place in the rebuilt chain,
 * as in a full apply, and nothing changes. The refusal is forced by a
 * delta built against a twin IR without the bad match (fwd_ir_diff would
 * call a changed rule a new shape): allow4's first element rebuilds in4,
 * whose 5th rule, the strict reverse-path check, carries a limit of 0.
 */
START_TEST(delta_error_names_the_place)
{
	struct fwd_ir *old = hand_ir(0), *twin = hand_ir(0), *bad = hand_ir(0);
	struct fwd_ir_delta delta;
	struct fwd_features f;
	struct fwd_diags d;
	struct fwd_nl *nl;
	char *text, *before, *after;
	int ret;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	find_set(old, "allow4")->n = 0;
	apply_ok(nl, old, &f, NULL);
	before = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ir_match(&bad->chains[0].rules[8], FWD_M_LIMIT, 0, 0);
	bad->chains[0].rules[8].loc.line = 41;
	ck_assert_int_eq(fwd_ir_diff(old, twin, &delta), 0);
	ck_assert_msg(!delta.shape_changed && delta.nadd == 3, "delta: %zu adds",
		      delta.nadd);
	fwd_diags_init(&d);
	ret = fwd_apply_delta(nl, bad, &delta, &f, &d);
	text = diags_text(&d);
	ck_assert_msg(ret < 0, "the kernel accepted the bad rule:\n%s", text);
	ck_assert_msg(strstr(text, "hand.conf:41: kernel rejected rule 5 of chain in4 "
			     "(add rule): ") && !strstr(text, "chain input") &&
		      !strstr(text, "chain in6"), "%s", text);
	after = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(strcmp(before, after) == 0, "the table changed:\n%s\n%s", before, after);
	/* the place named is the rule nft lists there once the good delta is in */
	fwd_diags_free(&d);
	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_apply_delta(nl, twin, &delta, &f, &d), 0);
	free(after);
	after = sh_ok("nft list table inet " FWD_TABLE_NAME);
	assert_kernel_rule(after, "in4", 5, "fib saddr . mark . iif oif missing");
	fwd_diags_free(&d);
	fwd_ir_delta_free(&delta);
	free(text);
	free(before);
	free(after);
	fwd_nl_close(nl);
	hand_free(old);
	hand_free(twin);
	hand_free(bad);
}
END_TEST

/* The hand IR changed in every kind of set: hash add/del, a concatenated
 * range that grows over its old self, adjacent rbtree ranges merged, an
 * open port added, a set emptied. */
static struct fwd_ir *hand_edited(void)
{
	struct fwd_ir *ir = hand_ir(0);
	struct fwd_ir_set *s;

	s = find_set(ir, "allow4");
	el_remove(s, 0);				/* 192.0.2.1 . tcp . 22 */
	el_sorted(s, 30, "192.0.2.3", NULL, IPPROTO_TCP, 22, 22, 0);
	s = find_set(ir, "allow4_net");
	s->elems[0].lo[3] = 0;				/* .64-.127 -> .0-.127 */
	s->elems[0].loc.line = 31;
	s = find_set(ir, "block4");
	el_remove(s, 1);				/* 203.0.113.128 */
	s->elems[0].hi[3] = 128;			/* .0-.127 -> .0-.128 */
	s = find_set(ir, "open");
	el_sorted(s, 32, NULL, NULL, IPPROTO_UDP, 5353, 5353, 0);
	s = find_set(ir, "block6");
	s->n = 0;
	return ir;
}

START_TEST(delta_edits_every_set_kind)
{
	struct fwd_ir *old = hand_ir(0), *new = hand_edited();
	struct fwd_features f;
	struct fwd_nl *nl;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	ck_assert_msg(f.destroy_setelem, "kernel 6.3+ should have destroy: %s",
		      f.detail);
	nl = nl_open();
	for (int destroy = 1; destroy >= 0; destroy--) {
		f.destroy_setelem = destroy;
		apply_ok(nl, old, &f, NULL);
		delta_apply(nl, old, new, &f, NULL);
		assert_live_is(nl, new);
		delta_apply(nl, new, old, &f, NULL);
		assert_live_is(nl, old);
		/* and with nothing to do */
		delta_apply(nl, old, old, &f, NULL);
		assert_live_is(nl, old);
	}
	if (have_nft()) {
		/* nft reads the edited table and loads its listing back (the
		 * listing is not the render's byte for byte: a concatenated
		 * interval set lists in insertion order, and an emptied
		 * interval set keeps nft's interval end at 0). */
		char *out, *path, cmd[160];

		delta_apply(nl, old, new, &f, NULL);
		out = sh_ok("nft list table inet " FWD_TABLE_NAME
			    " | grep -v '^[[:space:]]*flags[[:space:]]*$'");
		ck_assert_ptr_nonnull(strstr(out, "udp . 5353"));
		path = write_tmp(out);
		snprintf(cmd, sizeof(cmd), "unshare -n nft -c -f %s", path);
		free(sh_ok(cmd));
		unlink(path);
		free(path);
		free(out);
	}
	fwd_nl_close(nl);
	hand_free(old);
	hand_free(new);
}
END_TEST

START_TEST(delta_error_names_the_line)
{
	struct fwd_ir *old = hand_ir(0), *new = hand_ir(0);
	struct fwd_features f;
	struct fwd_nl *nl;
	struct fwd_ir_set *s;
	char *text;
	int ret;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, old, &f, NULL);
	/* Crosses 198.51.100.0/24 . udp . 60000-61000: pipapo refuses it. An
	 * allowed add in the same transaction does not happen either. */
	s = find_set(new, "allow4_net");
	el_sorted(s, 77, "198.51.100.200", "198.51.101.5", IPPROTO_UDP, 60500,
		  60500, 0)->loc.file = "edits.conf";
	el_sorted(find_set(new, "allow4"), 78, "192.0.2.9", NULL, IPPROTO_TCP,
		  22, 22, 0);
	ret = delta_apply(nl, old, new, &f, &text);
	ck_assert_int_lt(ret, 0);
	ck_assert_msg(strstr(text, "edits.conf:77: kernel rejected element "
			     "198.51.100.200-198.51.101.5 . udp . 60500 of set "
			     "allow4_net: "), "%s", text);
	free(text);
	assert_live_is(nl, old);

	/* A delete of what the kernel does not hold, without destroy. */
	hand_free(new);
	new = hand_ir(0);
	s = find_set(old, "allow4");
	el_sorted(s, 79, "192.0.2.77", NULL, IPPROTO_TCP, 22, 22,
		  0)->loc.file = "edits.conf";
	f.destroy_setelem = false;
	ret = delta_apply(nl, old, new, &f, &text);
	ck_assert_int_eq(ret, -ENOENT);
	ck_assert_msg(strstr(text, "edits.conf:79: kernel rejected deleting "
			     "element 192.0.2.77 . tcp . 22 of set allow4: ") &&
		      strstr(text, "does not hold it"), "%s", text);
	free(text);
	/* With destroy the same delta goes through. */
	f.destroy_setelem = true;
	ck_assert_int_eq(delta_apply(nl, old, new, &f, NULL), 0);
	assert_live_is(nl, new);
	fwd_nl_close(nl);
	hand_free(old);
	hand_free(new);
}
END_TEST

/* The live element's expiry, or 0 when the kernel does not hold it. */
static uint64_t live_expires(struct fwd_nl *nl, const char *set,
			     const struct fwd_ir_elem *e, bool *found)
{
	struct fwd_live_table *t = NULL;
	const struct fwd_live_set *ls;
	uint64_t x = 0;

	*found = false;
	ck_assert_int_eq(fwd_live_read(nl, NULL, &t), 0);
	ls = fwd_live_set_find(t, set);
	ck_assert_ptr_nonnull(ls);
	for (size_t i = 0; i < ls->n; i++)
		if (elem_eq(ls->key, &ls->elems[i], e)) {
			*found = true;
			x = ls->elems[i].expires;
		}
	fwd_live_free(t);
	return x;
}

/* The wall clock in milliseconds: what element expiries are set against. */
static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* element_timeouts' elements: one timed per backend (hash, pipapo,
 * rbtree), one that stays a while, one that expired before it was sent. */
struct timed_elem {
	const char *set;
	struct fwd_ir_elem e;
	uint64_t exp;		/* 0: expired before it was sent */
	bool found;		/* by the last timed_read */
	uint64_t x;		/* its expiry read back */
};
#define TIMED_SHORT 3		/* w[0..2] live `life` seconds */
#define TIMED_N 5

/* new: hand_ir(0) with the five elements, the short ones living until
 * t0 + life, the long one until t0 + 600. */
static struct fwd_ir *timed_ir(struct timed_elem *w, uint64_t t0, uint64_t life)
{
	struct fwd_ir *ir = hand_ir(0);

	w[0] = (struct timed_elem){ .set = "allow4", .exp = t0 + life };
	w[0].e = *el_sorted(find_set(ir, "allow4"), 40, "192.0.2.9", NULL,
			    IPPROTO_TCP, 22, 22, w[0].exp);
	w[1] = (struct timed_elem){ .set = "allow4_net", .exp = t0 + life };
	w[1].e = *el_sorted(find_set(ir, "allow4_net"), 41, "198.18.0.0",
			    "198.18.0.255", IPPROTO_TCP, 443, 443, w[1].exp);
	w[2] = (struct timed_elem){ .set = "block4", .exp = t0 + life };
	w[2].e = *el_sorted(find_set(ir, "block4"), 42, "198.51.100.0",
			    "198.51.100.255", 0, 0, 0, w[2].exp);
	w[3] = (struct timed_elem){ .set = "block6", .exp = t0 + 600 };
	w[3].e = *el_sorted(find_set(ir, "block6"), 43, "2001:db8:beef::",
			    "2001:db8:beef::ff", 0, 0, 0, w[3].exp);
	w[4] = (struct timed_elem){ .set = "allow4", .exp = 0 };
	w[4].e = *el_sorted(find_set(ir, "allow4"), 44, "192.0.2.10", NULL,
			    IPPROTO_TCP, 22, 22, t0 - 5);
	return ir;
}

/* Read the five back; how many of the short ones the kernel holds, and
 * in *after the wall clock once the reads were done. */
static int timed_read(struct fwd_nl *nl, struct timed_elem *w, uint64_t *after)
{
	int held = 0;

	for (int i = 0; i < TIMED_N; i++) {
		w[i].x = live_expires(nl, w[i].set, &w[i].e, &w[i].found);
		held += i < TIMED_SHORT && w[i].found;
	}
	*after = wall_ms();
	return held;
}

/* The short ones gone by the kernel's own expiry: polled (bounded), and
 * never missing from a read that was over before their expiry. */
static void timed_wait_gone(struct fwd_nl *nl, struct timed_elem *w)
{
	uint64_t end = w[0].exp * 1000 + 30000, after;
	int held;

	do {
		held = timed_read(nl, w, &after);
		for (int i = 0; i < TIMED_SHORT; i++)
			/* 50 ms: the kernel counts in jiffies */
			ck_assert_msg(w[i].found || after + 50 >= w[i].exp * 1000,
				      "element %d gone from the kernel %llu ms before its "
				      "expiry", i,
				      (unsigned long long)(w[i].exp * 1000 - after));
		if (held)
			usleep(50000);
	} while (held && after < end);
	ck_assert_msg(held == 0, "%d short elements still in the kernel 30 s after their "
		      "expiry", held);
}

/*
 * Element timeouts, kernel side: each backend expires its elements by
 * itself (no daemon timer), a full apply sends what is left of a time, and
 * deltas deleting what expired meanwhile go through.
 *
 * Nothing here races the elements' life: it starts when the delta is
 * built, not before the probe and the first apply, and whether the first
 * read came before the expiry is the wall clock's word once the reads
 * are done. When a loaded machine read after it, the step runs again with
 * elements living twice as long (2, 4, 8, 16 s). That they are gone is
 * polled for, bounded, not read after a fixed wait.
 */
START_TEST(element_timeouts)
{
	struct fwd_ir *old = hand_ir(0), *new;
	struct timed_elem w[TIMED_N];
	struct fwd_features f;
	struct fwd_nl *nl;
	uint64_t t0, life, after;
	char *out;
	bool found;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	ck_assert(f.set_timeout);
	nl = nl_open();
	apply_ok(nl, old, &f, NULL);

	for (life = 2;; life *= 2) {
		t0 = wall();
		new = timed_ir(w, t0, life);
		delta_apply(nl, old, new, &f, NULL);
		if (timed_read(nl, w, &after) == TIMED_SHORT ||
		    after < w[0].exp * 1000)
			break;
		ck_assert_msg(life < 16, "the elements' first read came after their "
			      "expiry (%llu s), four times", (unsigned long long)life);
		fprintf(stderr, "element_timeouts: read %llu ms after the expiry of "
			"%llu s elements; again, twice as long\n",
			(unsigned long long)(after - w[0].exp * 1000),
			(unsigned long long)life);
		apply_ok(nl, old, &f, NULL);
		hand_free(new);
	}
	for (int i = 0; i < TIMED_N; i++) {
		ck_assert_msg(w[i].found == (w[i].exp != 0), "element %d: %s", i,
			      w[i].found ? "present" : "absent");
		if (w[i].found)
			ck_assert_msg(w[i].x + 1 >= w[i].exp && w[i].x <= w[i].exp + 1,
				      "element %d: expires %llu, want %llu", i,
				      (unsigned long long)w[i].x,
				      (unsigned long long)w[i].exp);
	}
	if (have_nft()) {
		out = sh_ok("nft list set inet " FWD_TABLE_NAME " block6");
		ck_assert_msg(strstr(out, "expires"), "%s", out);
		free(out);
	}
	/* The kernel drops them by itself: no daemon timer. */
	timed_wait_gone(nl, w);
	for (int i = TIMED_SHORT; i < TIMED_N; i++) {
		ck_assert_msg(w[i].found == (w[i].exp == t0 + 600),
			      "element %d %s after the short ones' expiry", i,
			      w[i].found ? "present" : "absent");
		if (w[i].found)
			ck_assert(w[i].x + 1 >= w[i].exp && w[i].x <= w[i].exp + 1);
	}
	/* A full apply of the same IR sends what is left, with what is left
	 * of its time. */
	apply_ok(nl, new, &f, NULL);
	ck_assert_uint_eq(live_expires(nl, "block6", &w[3].e, &found), t0 + 600);
	ck_assert(found);
	ck_assert_uint_eq(live_expires(nl, "allow4", &w[0].e, &found), 0);
	ck_assert(!found);
	hand_free(new);
	/* And a delta deleting what expired meanwhile (in the kernel, and
	 * before it was sent) goes through, with and without destroy (then
	 * the expired deletes are left out). */
	for (int destroy = 0; destroy < 2; destroy++) {
		f.destroy_setelem = destroy;
		apply_ok(nl, old, &f, NULL);
		new = timed_ir(w, wall(), 2);
		delta_apply(nl, old, new, &f, NULL);
		timed_wait_gone(nl, w);
		delta_apply(nl, new, old, &f, NULL);
		assert_live_is(nl, old);
		hand_free(new);
	}
	fwd_nl_close(nl);
	hand_free(old);
}
END_TEST

/* ---- scale ---------------------------------------------------------- */

/* n single sources . tcp . port into the allow4 hash set (198.18.0.0/15
 * holds 131072 addresses; beyond that the port changes). */
static struct fwd_ir *big_ir(size_t n)
{
	struct fwd_ir *ir = hand_ir(0);
	struct fwd_ir_set *s = find_set(ir, "allow4");

	free(s->elems);
	s->elems = calloc(n, sizeof(*s->elems));
	ck_assert_ptr_nonnull(s->elems);
	s->n = s->cap = n;
	for (size_t i = 0; i < n; i++) {
		struct fwd_ir_elem *e = &s->elems[i];
		size_t port = i / 131072, host = i % 131072;
		uint32_t a = htonl(0xc6120000u | (uint32_t)host);

		/* key order: address, then port */
		(void)port;
		memcpy(e->lo, &a, 4);
		memcpy(e->hi, &a, 4);
		e->proto = IPPROTO_TCP;
		e->plo = e->phi = (uint16_t)(22 + i / 131072);
		e->loc.file = "big.txt";
		e->loc.line = (unsigned)i + 1;
	}
	return ir;
}

static void scale(size_t n)
{
	struct fwd_ir *ir = big_ir(n), *small = hand_ir(1);
	struct fwd_features f;
	struct fwd_nl *nl;
	struct fwd_diags d;
	double t0, t1;
	int ret;

	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, small, &f, NULL);
	fwd_diags_init(&d);
	t0 = now();
	ret = fwd_apply(nl, ir, &f, NULL, &d);
	t1 = now();
	if (ret == 0) {
		struct fwd_live_table *t;
		struct fwd_nl_stats st;

		fwd_nl_get_stats(nl, &st);
		fprintf(stderr, "apply of %zu elements: %.3f s (answers lost %u, "
			"read back %u)\n", n, t1 - t0, st.lost, st.checked);
		ck_assert_int_eq(fwd_live_read(nl, NULL, &t), 0);
		ck_assert_uint_eq(fwd_live_set_find(t, "allow4")->n, n);
		fwd_live_free(t);
	} else {
		/* Refused as a whole: the previous table is intact. */
		char *text = diags_text(&d);

		fprintf(stderr, "apply of %zu elements refused (%.3f s): %s\n",
			n, t1 - t0, text);
		free(text);
		assert_live_is(nl, small);
	}
	fwd_diags_free(&d);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_ir_free(small);
}

/*
 * The batch buffer (kmod-hooks/batch.c) gives the kernel zeroed padding:
 * libmnl does not clear the bytes between an attribute and the next
 * 4-byte boundary, so the buffer itself must start out zeroed, also where
 * it grew past its first MiB, and also when the allocator has dirty memory
 * to hand out again. No kernel needed: the messages are only built.
 */
START_TEST(batch_padding_zero)
{
	struct fwd_nl nl;
	struct fwd_batch b;
	size_t checked = 0, dirty = 0;

	for (int i = 0; i < 8; i++) {
		size_t n = (size_t)(i + 1) << 19;
		char *p = malloc(n);

		ck_assert_ptr_nonnull(p);
		memset(p, 0xa5, n);
		free(p);
	}
	memset(&nl, 0, sizeof(nl));
	fwd_batch_init(&b, &nl);
	while (b.len < (3u << 20)) {	/* grows twice past the first MiB */
		struct nlmsghdr *nlh = fwd_batch_put(&b, NFT_MSG_NEWSET,
						     NFPROTO_INET, 0,
						     FWD_MSG_SET, NULL);

		mnl_attr_put_strz(nlh, NFTA_SET_NAME, "abcde");	/* 2 pad */
		mnl_attr_put(nlh, NFTA_SET_USERDATA, 3, "xyz");	/* 1 pad */
		fwd_batch_close(&b, nlh);
	}
	for (size_t i = 0; i < b.n; i++) {
		const struct nlmsghdr *nlh = (const void *)(b.buf + b.msgs[i].off);
		const struct nlattr *a;

		mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg))
			for (size_t k = a->nla_len; k < (size_t)MNL_ALIGN(a->nla_len); k++) {
				checked++;
				dirty += ((const uint8_t *)a)[k] != 0;
			}
	}
	ck_assert_uint_gt(checked, 3u * 50000);
	ck_assert_msg(dirty == 0, "%zu of %zu padding bytes not zero", dirty, checked);
	fwd_batch_free(&b);
}
END_TEST

START_TEST(hundred_thousand)
{
	if (!tu_need_root())
		return;
	tu_enter_netns();
	scale(100000);
}
END_TEST

START_TEST(one_million)
{
	if (!tu_need_root())
		return;
	tu_enter_netns();
	scale(1000000);
}
END_TEST

/* A child runs a command: the whole process, as a user would. */
static double run_cmd_time(char *const argv[])
{
	double t0 = now(), t1;
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execvp(argv[0], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	t1 = now();
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %d", argv[0], st);
	return t1 - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#define EDIT_ROUNDS 25

/*
 * One element added to a set holding n elements: the whole fwd_apply_delta
 * call against an `nft add element` process doing the same, medians of
 * paired rounds. The table is applied without the owner flag so that nft
 * may edit it too.
 */
static void edit_speed(size_t n, const char *set)
{
	struct fwd_ir *ir = big_ir(n);
	struct fwd_features f;
	struct fwd_nl *nl;
	double tf[EDIT_ROUNDS], tn[EDIT_ROUNDS], td[EDIT_ROUNDS];
	bool net = strcmp(set, "allow4_net") == 0;

	probe_ok(&f);
	f.table_owner = f.table_persist = false;
	nl = nl_open();
	if (net) {
		/* the same n elements in the concatenated interval set */
		struct fwd_ir_set *a = find_set(ir, "allow4"), *b = find_set(ir, "allow4_net");

		free(b->elems);
		b->elems = a->elems;
		b->n = a->n;
		b->cap = a->cap;
		a->elems = NULL;
		a->n = a->cap = 0;
	}
	apply_ok(nl, ir, &f, NULL);
	for (int r = 0; r < EDIT_ROUNDS; r++) {
		struct fwd_ir_delta delta = { 0 };
		struct fwd_ir_delta_set ds = { 0 };
		struct fwd_ir_elem e = { 0 };
		struct fwd_diags d;
		char addr[32], elem[96];
		double t0;
		char *argv[] = { "nft", "add", "element", "inet", FWD_TABLE_NAME,
				 (char *)set, elem, NULL };

		/* fwd: 203.0.113.r . tcp . 22 (after every 198.18.x.y) */
		snprintf(addr, sizeof(addr), "203.0.113.%d", r);
		ck_assert_int_eq(inet_pton(AF_INET, addr, e.lo), 1);
		memcpy(e.hi, e.lo, 4);
		e.proto = IPPROTO_TCP;
		e.plo = e.phi = 22;
		ds.set = (unsigned)(find_set(ir, set) - ir->sets);
		ds.add = &e;
		ds.nadd = 1;
		delta.sets = &ds;
		delta.nsets = 1;
		delta.nadd = 1;
		fwd_diags_init(&d);
		t0 = now();
		ck_assert_int_eq(fwd_apply_delta(nl, ir, &delta, &f, &d), 0);
		tf[r] = now() - t0;
		fwd_diags_free(&d);
		/* nft: the same element on port 23 */
		snprintf(elem, sizeof(elem), "{ %s . tcp . 23 }", addr);
		tn[r] = run_cmd_time(argv);
		td[r] = tf[r] / tn[r];
	}
	qsort(tf, EDIT_ROUNDS, sizeof(double), cmp_double);
	qsort(tn, EDIT_ROUNDS, sizeof(double), cmp_double);
	qsort(td, EDIT_ROUNDS, sizeof(double), cmp_double);
	fprintf(stderr, "one element into %s holding %zu: fwd_apply_delta %.2f ms, "
		"nft add element (process) %.2f ms, ratio %.3f (medians of %d "
		"paired rounds)\n", set, n, tf[EDIT_ROUNDS / 2] * 1e3,
		tn[EDIT_ROUNDS / 2] * 1e3, td[EDIT_ROUNDS / 2], EDIT_ROUNDS);
	fwd_nl_close(nl);
	fwd_ir_free(ir);
}

START_TEST(edit_speed_hash)
{
	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	edit_speed(0, "allow4");
	edit_speed(100000, "allow4");
}
END_TEST

START_TEST(edit_speed_interval)
{
	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	edit_speed(0, "allow4_net");
	edit_speed(100000, "allow4_net");
}
END_TEST

/* ---- netlink trouble ------------------------------------------------- */

/*
 * A receive buffer too small for one answer per message (ENOBUFS while
 * the answers of a big batch queue up): the transaction is applied whole
 * or not at all, fwd finds out which by reading back, and sends again
 * asking for one answer. Errors still name their lines. A batch larger
 * than the send buffer (EMSGSIZE) is a clear error with nothing changed.
 * Nothing hangs: every call here returns within seconds.
 */
START_TEST(netlink_trouble)
{
	struct fwd_ir *small = hand_ir(1), *big = big_ir(20000), *bad = big_ir(20000);
	struct fwd_ir *edited = big_ir(20000);
	struct fwd_features f;
	struct fwd_nl_stats st;
	struct fwd_nl *nl;
	struct fwd_diags d;
	struct fwd_ir_set *s;
	char *text;
	double t0;
	int ret;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	probe_ok(&f);
	nl = nl_open();
	apply_ok(nl, small, &f, NULL);

	/* ENOBUFS: 20 element messages and the rest, one answer each, into
	 * the smallest receive buffer the kernel allows. */
	fwd_nl_pin_bufs(nl, 64 << 20, 1);
	t0 = now();
	apply_ok(nl, big, &f, NULL);
	fwd_nl_get_stats(nl, &st);
	fprintf(stderr, "ENOBUFS: applied in %.3f s (lost %u, read back %u, "
		"sent again %u)\n", now() - t0, st.lost, st.checked, st.resent);
	/* It was applied: reading back says so, nothing is sent again. */
	ck_assert_uint_eq(st.lost, 1);
	ck_assert_uint_eq(st.checked, 1);
	ck_assert_uint_eq(st.resent, 0);
	assert_live_is(nl, big);

	/* A refused batch under ENOBUFS: its error still comes, by line. */
	el_sorted(find_set(bad, "allow4_net"), 4242, "198.51.100.77", NULL,
		  IPPROTO_UDP, 60500, 60500, 0)->loc.file = "bad.conf";
	fwd_diags_init(&d);
	ret = fwd_apply(nl, bad, &f, NULL, &d);
	text = diags_text(&d);
	ck_assert_msg(ret == -EEXIST && strstr(text, "bad.conf:4242: kernel "
			     "rejected element 198.51.100.77 . udp . 60500 of set "
			     "allow4_net"), "%d %s", ret, text);
	free(text);
	fwd_diags_free(&d);
	assert_live_is(nl, big);
	/* Refused, so not what the batch meant: sent again for the error. */
	fwd_nl_get_stats(nl, &st);
	ck_assert_uint_eq(st.lost, 2);
	ck_assert_uint_eq(st.resent, 1);

	/* A delta of 3000 adds and 3000 deletes (6+ messages) under ENOBUFS. */
	s = find_set(edited, "allow4");
	for (size_t i = 0; i < 3000; i++)
		s->elems[i].plo = s->elems[i].phi = 2222;
	delta_apply(nl, big, edited, &f, NULL);
	assert_live_is(nl, edited);
	fwd_nl_get_stats(nl, &st);
	ck_assert_uint_ge(st.lost, 3);

	/* EMSGSIZE: a send buffer smaller than the transaction. */
	fwd_nl_pin_bufs(nl, 65536, 0);
	fwd_diags_init(&d);
	t0 = now();
	ret = fwd_apply(nl, big, &f, NULL, &d);
	text = diags_text(&d);
	ck_assert_msg(ret == -EMSGSIZE && strstr(text, "does not fit in one "
			     "netlink message") && strstr(text, "nothing was "
			     "changed"), "%d %s", ret, text);
	fprintf(stderr, "EMSGSIZE in %.3f s: %s", now() - t0, text);
	free(text);
	fwd_diags_free(&d);
	assert_live_is(nl, edited);
	/* Small changes still fit and go. */
	{
		struct fwd_ir_delta delta = { 0 };
		struct fwd_ir_delta_set ds = { 0 };
		struct fwd_ir_elem e = { 0 };
		bool found;

		ck_assert_int_eq(inet_pton(AF_INET, "203.0.113.1", e.lo), 1);
		memcpy(e.hi, e.lo, 4);
		e.proto = IPPROTO_TCP;
		e.plo = e.phi = 22;
		ds.set = (unsigned)(find_set(edited, "allow4") - edited->sets);
		ds.add = &e;
		ds.nadd = 1;
		delta.sets = &ds;
		delta.nsets = delta.nadd = 1;
		fwd_diags_init(&d);
		ck_assert_int_eq(fwd_apply_delta(nl, edited, &delta, &f, &d), 0);
		fwd_diags_free(&d);
		live_expires(nl, "allow4", &e, &found);
		ck_assert(found);
	}
	fwd_nl_close(nl);
	fwd_ir_free(small);
	fwd_ir_free(big);
	fwd_ir_free(bad);
	fwd_ir_free(edited);
}
END_TEST

/* ---- compiled fixture policies ------------------------------------- */

/* A fixture as check-policy loads it: NAME.d beside it is its conf.d. */
static int load_fixture(const char *path, const char *services,
			struct fwd_policy **p, struct fwd_diags *d)
{
	struct fwd_load_opts o = { .services_path = services, .confd_path = "" };
	char *inc = NULL;
	struct stat st;
	int ret;

	if (asprintf(&inc, "%.*s.d", (int)(strlen(path) - 5), path) < 0)
		abort();
	if (stat(inc, &st) == 0 && S_ISDIR(st.st_mode))
		o.confd_path = inc;
	ret = fwd_policy_load(path, &o, p, d);
	free(inc);
	return ret;
}

START_TEST(fixture_policies)
{
	const char *dirs[][2] = {
		{ "tests/golden/*.conf", "tests/golden/services" },
		{ "tests/fixtures/policy/good/*.conf", "tests/fixtures/policy/services" },
	};
	struct fwd_features f;
	struct fwd_nl *nl;
	size_t count = 0;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
		char *pattern = tu_src(dirs[k][0]), *services = tu_src(dirs[k][1]);
		glob_t g;

		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc; i++) {
			struct fwd_policy *p = NULL;
			struct fwd_ir *ir = NULL;
			struct fwd_diags d;

			fwd_diags_init(&d);
			if (load_fixture(g.gl_pathv[i], services, &p, &d) != 0 ||
			    fwd_compile(p, &ir, &d) != 0) {
				char *t = diags_text(&d);

				ck_abort_msg("%s: %s", g.gl_pathv[i], t);
			}
			apply_ok(nl, ir, &f, NULL);
			assert_live_is(nl, ir);
			/* A [guard] fixture's queue step is the xt target,
			 * which nft renders but cannot load as such (nor
			 * `queue` without nft_queue): its twin is not nft's.
			 * check-queue reads that table back instead. */
			if (!ir->queue.on)
				assert_twin(ir);
			count++;
			fwd_ir_free(ir);
			fwd_policy_free(p);
			fwd_diags_free(&d);
		}
		globfree(&g);
		free(pattern);
		free(services);
	}
	fprintf(stderr, "fixtures: %zu compiled policies applied, read back "
		"and compared with nft's load of their render\n", count);
	ck_assert_uint_gt(count, 5);
	fwd_nl_close(nl);
}
END_TEST


/*
 * The kernel's lean chains (policy/ir.h, "The chains in the kernel"): a
 * compiled table (lists, and limits-iface with its class meters) holds no
 * rule on its empty sets; a delta that gives
 * deny4 and deny6 their first elements brings their rules into in4 and
 * in6 in the same transaction (the kernel's chains then hold exactly what
 * nft builds from the render), and the delta back takes them out again.
 * Without the rebuild in kmod-hooks/delta.c the elements land and no rule
 * looks at them: the rule counts and the twin check fail.
 */
/* "\tchain NAME {" .. "\t}\n" of text, copied (NULL if none). */
static char *chain_block(const char *text, const char *name)
{
	char head[64];
	const char *a, *b;

	snprintf(head, sizeof(head), "\tchain %s {\n", name);
	a = strstr(text, head);
	b = a ? strstr(a, "\n\t}\n") : NULL;
	return b ? strndup(a, (size_t)(b + 4 - a)) : NULL;
}

/*
 * After a delta: every kernel chain as `nft list chain` prints it is the
 * render's block of that chain, rule for rule. (Not assert_twin: the
 * anonymous ICMP sets of rebuilt chains get other numbers than nft gives
 * them in a fresh load; nft list prints them inline, without names.)
 */
static void assert_chains_twin(const struct fwd_ir *ir)
{
	struct fwd_render_opts ro = { 0 };
	char *txt = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&txt, &len);

	ck_assert_int_eq(fwd_ir_render(ir, &ro, f), 0);
	fclose(f);
	for (size_t i = 0; i < ir->nchains; i++) {
		const struct fwd_ir_chain *c = &ir->chains[i];
		bool split = fwd_ir_chain_split(c, NULL, NULL);

		for (int p = FWD_PART_BASE; p <= (split ? FWD_PART_V6 : FWD_PART_BASE); p++) {
			char name[40], cmd[160], *live, *a, *b;

			fwd_ir_part_name(c, (enum fwd_ir_part)p, name, sizeof(name));
			snprintf(cmd, sizeof(cmd), "nft list chain inet " FWD_TABLE_NAME
				 " %s", name);
			live = sh_ok(cmd);
			a = chain_block(txt, name);
			b = chain_block(live, name);
			ck_assert_msg(a && b && strcmp(a, b) == 0,
				      "chain %s: render\n%s\nkernel\n%s", name,
				      a ? a : "(none)", b ? b : live);
			free(a);
			free(b);
			free(live);
		}
	}
	free(txt);
}

/* One fixture's run of delta_first_element_brings_its_rules. */
static void first_element_round(struct fwd_nl *nl, const struct fwd_features *f,
				const char *fixture)
{
	struct fwd_policy *p = NULL;
	struct fwd_ir *old = NULL, *new;
	const struct fwd_ir_chain *in;
	struct fwd_diags d;
	char *path, *services, *k;

	path = tu_src(fixture);
	services = tu_src("tests/golden/services");
	fwd_diags_init(&d);
	ck_assert_int_eq(load_fixture(path, services, &p, &d), 0);
	ck_assert_int_eq(fwd_compile(p, &old, &d), 0);
	ck_assert_uint_eq(find_set(old, "deny4")->n, 0);
	ck_assert_uint_eq(find_set(old, "deny6")->n, 0);
	apply_ok(nl, old, f, NULL);
	assert_live_is(nl, old);
	k = sh_ok("nft list table inet " FWD_TABLE_NAME);
	ck_assert_msg(!strstr(k, "@deny4") && !strstr(k, "@deny6") &&
		      strstr(k, "@allow4"), "%s", k);
	free(k);

	new = fwd_ir_clone(old);
	el_sorted(find_set(new, "deny4"), 90, "203.0.113.9", NULL, IPPROTO_TCP,
		  22, 22, 0);
	/* (a concatenated set: an rbtree one, block6, would list nft's
	 * leading interval end, which only a set made in one batch gets) */
	el_sorted(find_set(new, "deny6"), 91, "2001:db8:dead::1", NULL,
		  IPPROTO_UDP, 53, 53, 0);
	in = &new->chains[FWD_CHAIN_INPUT];
	ck_assert_uint_eq(fwd_ir_part_rules(new, in, FWD_PART_V4, NULL, NULL),
			  fwd_ir_part_rules(old, &old->chains[FWD_CHAIN_INPUT],
					    FWD_PART_V4, NULL, NULL) + 2);
	ck_assert_uint_eq(fwd_ir_part_rules(new, in, FWD_PART_V6, NULL, NULL),
			  fwd_ir_part_rules(old, &old->chains[FWD_CHAIN_INPUT],
					    FWD_PART_V6, NULL, NULL) + 2);
	assert_twin(old);
	delta_apply(nl, old, new, f, NULL);
	assert_live_is(nl, new);
	assert_chains_twin(new);
	k = sh_ok("nft list chain inet " FWD_TABLE_NAME " in4");
	ck_assert_msg(strstr(k, "@deny4 meta l4proto tcp") && !strstr(k, "@deny6"),
		      "%s", k);
	free(k);
	k = sh_ok("nft list chain inet " FWD_TABLE_NAME " in6");
	ck_assert_msg(strstr(k, "@deny6 meta l4proto tcp") && !strstr(k, "@deny4"), "%s", k);
	free(k);
	/* and back: the last elements take their rules along */
	delta_apply(nl, new, old, f, NULL);
	assert_live_is(nl, old);
	assert_chains_twin(old);
	fwd_ir_free(new);
	fwd_ir_free(old);
	fwd_policy_free(p);
	fwd_diags_free(&d);
	free(path);
	free(services);
}

START_TEST(delta_first_element_brings_its_rules)
{
	struct fwd_features f;
	struct fwd_nl *nl;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	first_element_round(nl, &f, "tests/golden/lists.conf");
	/* rebuilt chains with the classes' meter rules (named sets found
	 * by name in a running table) */
	first_element_round(nl, &f, "tests/golden/limits-iface.conf");
	fwd_nl_close(nl);
}
END_TEST

/*
 * Restricted classes in the kernel (tests/golden/limits-iface): the meter
 * sets are there (dynamic, timeout) beside the class sets, the table reads
 * back as the IR (fwd_live_matches), and a limit's drop rule has its
 * counter named by its meter set, which is how `fwctl stats` shows the
 * drops (check-fwctl's limit_per_source sends the packets).
 */
START_TEST(restrict_readback)
{
	struct fwd_features f;
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL;
	struct fwd_live_table *t = NULL;
	const struct fwd_live_chain *in;
	struct fwd_diags d;
	struct fwd_nl *nl;
	char *path, *services;
	size_t named = 0;
	bool same = false;

	if (!tu_need_root())
		return;
	tu_enter_netns();
	if (!have_nft())
		return;
	probe_ok(&f);
	nl = nl_open();
	path = tu_src("tests/golden/limits-iface.conf");
	services = tu_src("tests/golden/services");
	fwd_diags_init(&d);
	ck_assert_int_eq(load_fixture(path, services, &p, &d), 0);
	ck_assert_int_eq(fwd_compile(p, &ir, &d), 0);
	apply_ok(nl, ir, &f, NULL);
	ck_assert_int_eq(fwd_live_matches(nl, ir, &same), 0);
	ck_assert(same);
	ck_assert_int_eq(fwd_live_read(nl, NULL, &t), 0);
	for (size_t k = 0; k < ir->nclasses; k++) {
		char name[32];

		for (int v6 = 0; v6 < 2; v6++) {
			snprintf(name, sizeof(name), "%s_m%d", ir->classes[k].name,
				 v6 ? 6 : 4);
			ck_assert_msg(!fwd_live_set_find(t, name) == !ir->classes[k].limit_n,
				      "meter set %s", name);
		}
	}
	/* The class rules are in the family chains (ir.h). */
	for (int v6 = 0; v6 < 2; v6++) {
		in = fwd_live_chain_find(t, v6 ? "in6" : "in4");
		ck_assert_ptr_nonnull(in);
		for (size_t i = 0; i < in->ncounters; i++)
			named += strncmp(in->counters[i].set, "cls", 3) == 0 &&
				 strstr(in->counters[i].set, "_m") != NULL;
	}
	ck_assert_uint_eq(named, 6);	/* 3 limited classes x 2 families */
	fwd_live_free(t);
	fwd_ir_free(ir);
	fwd_policy_free(p);
	fwd_diags_free(&d);
	free(path);
	free(services);
	fwd_nl_close(nl);
}
END_TEST

static Suite *kernel_suite(void)
{
	Suite *s = suite_create("kernel");
	TCase *tc = tcase_create("kmod");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, no_owner_without_persist);
	tcase_add_test(tc, probe_leaves_no_trace);
	tcase_add_test(tc, apply_reads_back);
	tcase_add_test(tc, absent_table);
	tcase_add_test(tc, same_as_nft_of_render);
	tcase_add_test(tc, nft_list_reloads);
	tcase_add_test(tc, reapply_is_atomic);
	tcase_add_test(tc, other_tables_untouched);
	tcase_add_test(tc, owner_flag_guards);
	tcase_add_test(tc, persist_and_adopt);
	tcase_add_test(tc, kernel_error_names_the_line);
	tcase_add_test(tc, replace_keeps_copy_counters);
	tcase_add_test(tc, replace_keeps_counters_new_rule);
	tcase_add_test(tc, delta_error_names_the_place);
	tcase_add_test(tc, fixture_policies);
	tcase_add_test(tc, restrict_readback);
	tcase_add_test(tc, delta_edits_every_set_kind);
	tcase_add_test(tc, delta_error_names_the_line);
	tcase_add_test(tc, delta_first_element_brings_its_rules);
	tcase_add_test(tc, netlink_trouble);
	suite_add_tcase(s, tc);

	/* Element expiry against the wall clock, alone with
	 * CK_RUN_CASE=timeouts (e.g. many times over, under load). */
	tc = tcase_create("timeouts");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, element_timeouts);
	suite_add_tcase(s, tc);

	/* The batch buffer alone (no kernel): CK_RUN_CASE=batch. */
	tc = tcase_create("batch");
	tcase_add_test(tc, batch_padding_zero);
	suite_add_tcase(s, tc);

	/* CK_RUN_CASE=kmod skips these (e.g. under valgrind). */
	tc = tcase_create("scale");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, hundred_thousand);
	tcase_add_test(tc, one_million);
	tcase_add_test(tc, edit_speed_hash);
	tcase_add_test(tc, edit_speed_interval);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(kernel_suite());
}
