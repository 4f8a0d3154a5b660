// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the state file reader (daemon/state.c,
 * fwd_state_decode_ir): what decides the kernel's rules at boot when the
 * policy files are broken. A damaged file (disk error, truncation, an
 * older or newer fwd) must be refused whole, never crash fwd, never give
 * an IR the kernel side cannot apply or would apply as something else.
 *
 * Each input is decoded twice: as a whole file, and as a payload with a
 * version 4 and a version 3 header (magic, length, checksum) put around
 * it, so the fuzzer gets past the checksum. For every IR that decodes:
 *
 *  - encoded again and decoded, it is the same IR (tests/fuzz/ir-same.c:
 *    fwd_ir_diff, then field by field), and encoding that gives the same
 *    bytes;
 *  - what the kernel side relies on holds (ir.h): known set keys whose
 *    elements survive the trip through kernel key bytes and back as the
 *    read-back does it (keys.c), set order, no duplicate keys, ranges
 *    that do not run backwards or overlap (in any interval set),
 *    timeouts that fit in milliseconds, unique set names; the two fixed
 *    chains; known match kinds and verdicts (linearize has no default
 *    case: an unknown one would be left out, the rule matching more than
 *    it says), sorted ICMP types, a queue verdict with a queue; classes
 *    named cls<i> with whole interface names and the rate their limit
 *    makes, meter periods nft has a unit for, guard queues below the
 *    program queue;
 *  - the renderer takes it (it refuses a malformed IR with -EINVAL), the
 *    linearizer builds fwd_apply's whole transaction from it (under
 *    ASan/UBSan) into well-formed netlink messages, and the daemon's
 *    uses run (fwd_ir_explain, fwd_ir_diff, fwd_state_ir_input_open, the
 *    verdict loop's program rules from fwd_ir.prog_text).
 */
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>

#include "batch.h"
#include "ir-same.h"
#include "ir.h"
#include "keys.h"
#include "lin.h"
#include "nlsock.h"
#include "progrule.h"
#include "state.h"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-state: invariant broken: %s\n", what);
		abort();
	}
}

/* ---- what the kernel side relies on (ir.h) ---- */

/* e's key (lo or hi) through the kernel's key bytes and back, as the
 * read-back turns them into IR elements (keys.c). */
static void key_trip(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		     int hi)
{
	uint8_t key[FWD_KEY_MAX];
	struct fwd_ir_elem back = { 0 };

	fwd_elem_key(s->key, e, hi, key);
	fwd_elem_from_key(s->key, key, hi, &back);
	check(back.id == e->id, "an owner id the kernel key does not hold");
	check(memcmp(hi ? back.hi : back.lo, hi ? e->hi : e->lo, 16) == 0,
	      "address bytes the kernel key does not hold");
	if (fwd_ir_key_has_port(s->key))
		check(back.proto == e->proto &&
		      (hi ? back.phi == e->phi : back.plo == e->plo),
		      "a port the kernel key does not hold");
	else
		check(!e->proto && !e->plo && !e->phi, "a port in a set without ports");
}

static void check_set(const struct fwd_ir_set *s)
{
	struct fwd_key_layout l;
	unsigned alen = fwd_ir_key_addr_len(s->key);

	fwd_key_layout(s->key, &l);
	check(l.key_len > 0, "a set key the kernel side does not know");
	check(s->name[0] != '\0', "a set without a name");
	for (size_t j = 0; j < s->n; j++) {
		const struct fwd_ir_elem *e = &s->elems[j];

		key_trip(s, e, 0);
		key_trip(s, e, 1);
		check(memcmp(e->lo, e->hi, alen) <= 0 && e->plo <= e->phi,
		      "a range that runs backwards");
		if (!s->interval)
			check(memcmp(e->lo, e->hi, 16) == 0 && e->plo == e->phi,
			      "a range in a hash set");
		check(e->expires <= UINT64_MAX / 1000, "a timeout beyond milliseconds");
		check(!e->expires || s->timeout, "a timeout in a set without the flag");
		if (j == 0)
			continue;
		check(fwd_ir_elem_cmp(&s->elems[j - 1], e) < 0,
		      "elements out of order or a duplicate key");
		if (fwd_set_rbtree(s))
			check(memcmp(s->elems[j - 1].hi, e->lo, alen) < 0,
			      "overlapping ranges in a one-field interval set");
	}
	/* A concatenation (pipapo): no two elements meet, every pair
	 * compared the slow way (the decoder sweeps). */
	for (size_t i = 0; s->interval && fwd_ir_key_has_port(s->key) && i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++) {
			const struct fwd_ir_elem *a = &s->elems[i], *b = &s->elems[j];

			check(a->id != b->id || a->proto != b->proto ||
			      memcmp(a->lo, b->hi, 16) > 0 || memcmp(b->lo, a->hi, 16) > 0 ||
			      a->plo > b->phi || b->plo > a->phi,
			      "overlapping ranges in a concatenated interval set");
		}
}

static void check_rule(const struct fwd_ir *ir, const struct fwd_ir_rule *r)
{
	check(r->nm <= FWD_IR_MAX_MATCH, "too many matches");
	for (unsigned k = 0; k < r->nm; k++) {
		const struct fwd_ir_match *m = &r->m[k];

		check(m->kind <= FWD_M_LAST, "a match kind linearize does not know");
		if (m->kind == FWD_M_ICMP_TYPES || m->kind == FWD_M_ICMPV6_TYPES) {
			check(m->ntypes >= 1 && m->ntypes <= sizeof(m->types),
			      "an ICMP match without types");
			for (unsigned t = 1; t < m->ntypes; t++)
				check(m->types[t - 1] < m->types[t],
				      "ICMP types not sorted or repeated");
		}
		if (m->kind == FWD_M_LOOKUP_SRC || m->kind == FWD_M_LOOKUP_DST)
			check(m->set < ir->nsets, "a lookup into a set there is not");
		/* linearize masks 16 bytes at byte u32 / 8. */
		if (m->kind == FWD_M_CT_LABEL)
			check(m->u32 == FWD_CT_LABEL_BIT, "a label bit fwd does not own");
		/* explain --program (daemon/cmd-query.c) reads sets[m[1].set]
		 * of a program queue rule without asking m[1]'s kind. */
		check(m->set < ir->nsets, "a set index past the sets");
	}
	check(r->verdict <= FWD_V_QUEUE_PROG, "a verdict linearize does not know");
	check(r->verdict != FWD_V_QUEUE || ir->queue.on, "a queue verdict without a queue");
	check(memchr(r->log_prefix, 0, sizeof(r->log_prefix)) != NULL,
	      "a log prefix without its end");
}

static int nft_period(uint32_t s)
{
	return s == 1 || s == 60 || s == 3600 || s == 86400 || s == 604800;
}

/* The classes and queues as the compiler makes them: the kernel's meter
 * sets are named after the class, linearize compares all 16 bytes of
 * the interface name, show prints the words and the kernel the rate. */
static void check_classes_queues(const struct fwd_ir *ir)
{
	for (size_t i = 0; i < ir->nclasses; i++) {
		const struct fwd_ir_class *k = &ir->classes[i];
		char want[24] = { 0 };
		const char *nul = memchr(k->ifname, 0, sizeof(k->ifname));
		uint32_t rate, period_s, burst;

		snprintf(want, sizeof(want), "cls%zu", i);
		check(memcmp(k->name, want, sizeof(want)) == 0, "a class not named cls<i>");
		check(nul != NULL, "an interface name without its end");
		for (const char *c = nul; c < k->ifname + sizeof(k->ifname); c++)
			check(*c == 0, "bytes after an interface name");
		check(k->limit_n || k->ifname[0], "a class of nothing");
		if (k->limit_n) {
			fwd_ir_limit_rate(k->limit_n, k->limit_w, &rate, &period_s, &burst);
			check(nft_period(k->period_s), "a class period nft has no unit for");
			check(k->rate == rate && k->period_s == period_s && k->burst == burst,
			      "a class rate its limit does not make");
			check(k->limit_w >= 1 && k->limit_w <= 86400, "a class window out of range");
		}
	}
	if (ir->queue.on) {
		check(ir->queue.num + ir->queue.total <= FWD_PROG_QUEUE,
		      "guard queues reaching the program queue");
		check(!ir->queue.meter || nft_period(ir->queue.period_s),
		      "a flood meter period nft has no unit for");
	}
	if (ir->prog.on)
		check(nft_period(ir->prog.period_s), "a program meter period nft has no unit for");
}

static void check_ir(const struct fwd_ir *ir)
{
	check_classes_queues(ir);
	for (size_t i = 0; i < ir->nsets; i++) {
		check_set(&ir->sets[i]);
		for (size_t k = 0; k < i; k++)
			check(strcmp(ir->sets[k].name, ir->sets[i].name) != 0,
			      "two sets of one name");
	}
	/* The daemon looks its chains up by index (FWD_CHAIN_INPUT/OUTPUT). */
	check(ir->nchains == FWD_CHAIN_COUNT, "not the two chains fwd makes");
	check(strcmp(ir->chains[FWD_CHAIN_INPUT].name, "input") == 0 &&
	      ir->chains[FWD_CHAIN_INPUT].hook == NF_INET_LOCAL_IN,
	      "chain 0 is not the input chain");
	check(strcmp(ir->chains[FWD_CHAIN_OUTPUT].name, "output") == 0 &&
	      ir->chains[FWD_CHAIN_OUTPUT].hook == NF_INET_LOCAL_OUT,
	      "chain 1 is not the output chain");
	for (size_t i = 0; i < ir->nchains; i++)
		for (size_t j = 0; j < ir->chains[i].n; j++)
			check_rule(ir, &ir->chains[i].rules[j]);
}

/* ---- the kernel side and the daemon run on it ---- */

static void render(const struct fwd_ir *ir)
{
	struct fwd_render_opts o = { .now = 1000000 };
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	check(f != NULL, "open_memstream");
	check(fwd_ir_render(ir, &o, f) == 0, "the renderer refuses it");
	fclose(f);
	free(text);
}

/* fwd_apply's transaction (fwd_lin_whole_table, the one apply.c sends),
 * built and walked message by message, never sent. */
static void linearize(const struct fwd_ir *ir)
{
	struct fwd_nl nl = { 0 };
	struct fwd_batch b;
	const struct nlmsghdr *nlh;
	size_t n = 0;
	int left;

	fwd_batch_init(&b, &nl);
	fwd_lin_whole_table(&b, FWD_TABLE_NAME, ir, 0, NULL);
	nlh = (const struct nlmsghdr *)b.buf;
	left = (int)b.len;
	while (mnl_nlmsg_ok(nlh, left)) {
		n++;
		nlh = mnl_nlmsg_next(nlh, &left);
	}
	check(left == 0 && n == b.n, "the batch is not whole netlink messages");
	fwd_batch_free(&b);
}

/* The verdict loop resolves every program rule's path; here none is
 * there (the rules then match nothing, as for a program gone). */
static int no_program(void *arg, const char *path, struct fwd_prog_id *id)
{
	(void)arg;
	(void)path;
	(void)id;
	return -ENOENT;
}

static void daemon_uses(const struct fwd_ir *ir)
{
	static const uint8_t a4[16] = { 192, 0, 2, 1 };
	static const uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	struct fwd_explain ex;
	struct fwd_ir_delta d;

	for (unsigned c = 0; c < FWD_CHAIN_COUNT; c++) {
		fwd_ir_explain(ir, c, 2, a4, 6, 22, &ex);
		fwd_ir_explain(ir, c, 10, a6, 17, 53, &ex);
	}
	check(fwd_ir_diff(ir, ir, &d) == 0 && !d.shape_changed && !d.nadd && !d.ndel,
	      "an IR differs from itself");
	fwd_ir_delta_free(&d);
	check(fwd_ir_diff(NULL, ir, &d) == 0, "diff from nothing");
	fwd_ir_delta_free(&d);
	(void)fwd_state_ir_input_open(ir);
	/* The verdict loop builds its program rules from the text the IR
	 * carries (daemon/vloop.c, prog_renew): refused text is fine (it
	 * fails closed), a crash is not. */
	{
		struct fwd_progrules *rs = NULL;
		unsigned bad = 0;

		if (fwd_progrules_from_text(ir->prog_text, no_program, NULL, &rs,
					    &bad) == 0)
			fwd_progrules_free(rs);
	}
}

/* ---- the round trip ---- */

static void roundtrip(const struct fwd_ir *ir)
{
	void *b1 = NULL, *b2 = NULL;
	size_t n1, n2;
	struct fwd_ir *back = NULL;
	char why[256], diff[200];

	check(fwd_state_encode_ir(ir, &b1, &n1) == 0, "encode");
	check(fwd_state_decode_ir(b1, n1, &back, why, sizeof(why)) == 0,
	      "what decoded does not decode once encoded again");
	check(fwd_test_ir_same(ir, back, diff, sizeof(diff)), "decoded again, another IR");
	check(fwd_state_encode_ir(back, &b2, &n2) == 0, "encode");
	check(n1 == n2 && memcmp(b1, b2, n1) == 0, "encoded again, other bytes");
	free(b1);
	free(b2);
	fwd_ir_free(back);
}

static void one(const uint8_t *data, size_t size)
{
	struct fwd_ir *ir = (struct fwd_ir *)1;
	char why[256];
	int ret = fwd_state_decode_ir(data, size, &ir, why, sizeof(why));

	if (ret) {
		check(ret == -EBADMSG && ir == NULL && why[0] != '\0',
		      "a refusal without -EBADMSG, with an IR or without a reason");
		return;
	}
	check(ir != NULL && why[0] == '\0', "a decode without an IR");
	check_ir(ir);
	roundtrip(ir);
	render(ir);
	linearize(ir);
	daemon_uses(ir);
	fwd_ir_free(ir);
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

/* data as the payload of a file of version `version`. */
static void wrapped(const uint8_t *data, size_t size, uint8_t version)
{
	uint8_t *buf = malloc(24 + size);
	uint64_t len = size, sum = fnv1a(data, size);

	check(buf != NULL, "malloc");
	memcpy(buf, "FWDIR\0\0", 7);
	buf[7] = version;
	memcpy(buf + 8, &len, 8);
	memcpy(buf + 16, &sum, 8);
	memcpy(buf + 24, data, size);
	one(buf, 24 + size);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one(data, size);
	/* A whole file as the seeds are: its payload, wrapped again. */
	if (size >= 24 && memcmp(data, "FWDIR\0\0", 7) == 0) {
		wrapped(data + 24, size - 24, 4);
		wrapped(data + 24, size - 24, 3);
	} else {
		wrapped(data, size, 4);
		wrapped(data, size, 3);
	}
	return 0;
}
