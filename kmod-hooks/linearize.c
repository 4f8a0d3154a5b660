// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IR -> nf_tables netlink messages, appended to a batch.
 *
 * Every expression sequence here is the one nft 1.0.6 generates for the
 * text policy/render.c prints for the same IR (checked with
 * `nft --debug=netlink` and by comparing the kernel's dump of both), so that
 * `nft list` of a table fwd loaded reads like the rendered text and loads
 * back. Tables, sets, chains and rules go through libnftnl objects; set
 * elements are written straight into the batch buffer with libmnl, because
 * there can be a million of them and one libnftnl object per element costs
 * a malloc and a list walk each.
 */
#include "lin.h"
#include "keys.h"

#include <arpa/inet.h>
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include "util.h"

/* nft's set userdata values (enum byteorder, enum expr_types, proto descs). */
enum { BYTEORDER_INVALID = 0, BYTEORDER_BIG_ENDIAN = 2 };
enum { EXPR_PAYLOAD = 7, EXPR_CONCAT = 13 };
enum { PROTO_DESC_ICMP = 4, PROTO_DESC_ICMPV6 = 14, ICMP_TYPE_FIELD = 1 };
/* nftnl_udata payload key attributes inside NFTNL_UDATA_SET_TYPEOF_DATA. */
enum { UDATA_PAYLOAD_DESC = 0, UDATA_PAYLOAD_TYPE = 1 };


/* ---------------------------------------------------------------- table */

void fwd_lin_table(struct fwd_batch *b, uint16_t type, const char *name,
		   bool with_flags, uint32_t flags)
{
	struct nftnl_table *t = fwd_nn(nftnl_table_alloc());
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (with_flags)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, flags);
	nlh = fwd_batch_put(b, type, NFPROTO_INET,
			    type == NFT_MSG_NEWTABLE ? NLM_F_CREATE : 0,
			    FWD_MSG_TABLE, &rec);
	nftnl_table_nlmsg_build_payload(nlh, t);
	fwd_batch_close(b, nlh);
	nftnl_table_free(t);
}

/* ---------------------------------------------------------------- sets */

static void set_udata(struct nftnl_set *s, bool concat)
{
	struct nftnl_udata_buf *u = fwd_nn(nftnl_udata_buf_alloc(64));

	/* What nft stores, so that `nft list` prints our sets as its own. */
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER,
			    concat ? BYTEORDER_INVALID : BYTEORDER_BIG_ENDIAN);
	if (concat) {
		struct nftnl_udata *n1, *n2;

		n1 = nftnl_udata_nest_start(u, NFTNL_UDATA_SET_KEY_TYPEOF);
		nftnl_udata_put_u32(u, NFTNL_UDATA_SET_TYPEOF_EXPR, EXPR_CONCAT);
		n2 = nftnl_udata_nest_start(u, NFTNL_UDATA_SET_TYPEOF_DATA);
		nftnl_udata_nest_end(u, n2);
		nftnl_udata_nest_end(u, n1);
	}
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
			   nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);
}

void fwd_lin_set(struct fwd_batch *b, const char *table,
		 const struct fwd_ir_set *set, uint32_t set_id)
{
	struct nftnl_set *s = fwd_nn(nftnl_set_alloc());
	struct fwd_key_layout l;
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;
	uint32_t flags = 0;

	fwd_key_layout(set->key, &l);
	if (set->interval) {
		flags |= NFT_SET_INTERVAL;
		if (l.nfields > 1)
			flags |= NFT_SET_CONCAT;
	}
	if (set->timeout)
		flags |= NFT_SET_TIMEOUT;

	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set->name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, l.key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, l.key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
	if (set->interval && l.nfields > 1)
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, l.field_len,
				   l.nfields);
	set_udata(s, l.nfields > 1);
	/* `counter;` in a set: nft sends one NFTA_SET_EXPR (libnftnl uses
	 * it for a single expression); the kernel gives every element its
	 * own copy. */
	if (set->counter)
		nftnl_set_add_expr(s, fwd_nn(nftnl_expr_alloc("counter")));

	nlh = fwd_batch_put(b, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
			    FWD_MSG_SET, &rec);
	rec->set = set;
	nftnl_set_nlmsg_build_payload(nlh, s);
	fwd_batch_close(b, nlh);
	nftnl_set_free(s);
}

/*
 * A meter set of the queue step (ir.h, fwd_ir_queue), as nft sends
 * `set meter4 { type ipv4_addr; size 65535; flags dynamic,timeout;
 * timeout 1m; }`: flags EVAL|TIMEOUT (0x30), a default element timeout
 * the dynset's update refreshes, and a size (dynamic sets need one).
 */
static void meter_set_key(struct fwd_batch *b, const char *table,
			  const char *name, uint32_t timeout_s, uint32_t key_type,
			  uint32_t key_len, uint32_t set_id);

static void meter_set(struct fwd_batch *b, const char *table,
		      const char *name, uint32_t timeout_s, bool v6,
		      uint32_t set_id)
{
	meter_set_key(b, table, name, timeout_s, v6 ? DT_IP6ADDR : DT_IPADDR,
		      v6 ? 16 : 4, set_id);
}

/* The program queue's per-owner meter: keyed by uid (ir.h). */
void fwd_lin_prog_meter_set(struct fwd_batch *b, const char *table,
			    const struct fwd_ir *ir)
{
	if (fwd_ir_prog_meter_sets(ir))
		meter_set_key(b, table, "prog_meter",
			      fwd_ir_meter_timeout(&ir->prog), DT_UID, 4,
			      fwd_ir_prog_meter_id(ir));
}

static void meter_set_key(struct fwd_batch *b, const char *table,
			  const char *name, uint32_t timeout_s, uint32_t key_type,
			  uint32_t key_len, uint32_t set_id)
{
	struct nftnl_set *s = fwd_nn(nftnl_set_alloc());
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;

	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_EVAL | NFT_SET_TIMEOUT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, key_type);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, key_len);
	nftnl_set_set_u32(s, NFTNL_SET_ID, set_id);
	nftnl_set_set_u64(s, NFTNL_SET_TIMEOUT, (uint64_t)timeout_s * 1000);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, FWD_METER_SIZE);
	set_udata(s, false);
	nlh = fwd_batch_put(b, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
			    FWD_MSG_SET, &rec);
	nftnl_set_nlmsg_build_payload(nlh, s);
	fwd_batch_close(b, nlh);
	nftnl_set_free(s);
}

void fwd_lin_meter_set(struct fwd_batch *b, const char *table,
		       const struct fwd_ir *ir, bool v6, uint32_t set_id)
{
	meter_set(b, table, v6 ? "meter6" : "meter4",
		  fwd_ir_meter_timeout(&ir->queue), v6, set_id);
}

void fwd_lin_class_meter_sets(struct fwd_batch *b, const char *table,
			      const struct fwd_ir *ir)
{
	for (size_t k = 0; k < ir->nclasses; k++) {
		const struct fwd_ir_class *c = &ir->classes[k];
		char name[32];

		for (int v6 = 0; c->limit_n && v6 < 2; v6++) {
			snprintf(name, sizeof(name), "%s_m%c", c->name,
				 v6 ? '6' : '4');
			meter_set(b, table, name, fwd_ir_class_timeout(c), v6,
				  fwd_ir_class_meter_id(ir, k, v6));
		}
	}
}

/* ---------------------------------------------------------------- elements */

static void put_key(struct nlmsghdr *nlh, uint16_t type, const uint8_t *key,
		    unsigned len)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, type);

	mnl_attr_put(nlh, NFTA_DATA_VALUE, len, key);
	mnl_attr_nest_end(nlh, n);
}

/*
 * An element's own counter with its starting values (NFTA_SET_ELEM_EXPR:
 * the one expression of the set's kind, as `nft add element ... { K
 * counter packets N bytes M }` sends it): a replace carries the old
 * table's counts into the new one. Bytes it takes: ELEM_CTR_BYTES.
 */
#define ELEM_CTR_BYTES (4u + 12u + 4u + 2u * 12u)
static void put_elem_counter(struct nlmsghdr *nlh, const struct fwd_ir_count *c)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_EXPR);
	struct nlattr *d;

	mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
	d = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
	mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(c->bytes));
	mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(c->packets));
	mnl_attr_nest_end(nlh, d);
	mnl_attr_nest_end(nlh, n);
}

/* timeout_ms: NFTA_SET_ELEM_TIMEOUT, 0 = none (as nft: after the flags,
 * before the key, and on the start element of a range only). ctr: the
 * element's counter values to start from, or NULL (the set's counter
 * starts at zero, as always). */
static void put_elem(struct nlmsghdr *nlh, uint16_t idx, const uint8_t *key,
		     const uint8_t *key_end, unsigned len, uint32_t flags,
		     bool open, uint64_t timeout_ms, const struct fwd_ir_count *ctr)
{
	struct nlattr *n = mnl_attr_nest_start(nlh, idx);

	if (flags)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_FLAGS, htonl(flags));
	if (timeout_ms)
		mnl_attr_put_u64(nlh, NFTA_SET_ELEM_TIMEOUT, htobe64(timeout_ms));
	put_key(nlh, NFTA_SET_ELEM_KEY, key, len);
	if (key_end)
		put_key(nlh, NFTA_SET_ELEM_KEY_END, key_end, len);
	if (open) {
		/* nftnl_udata: NFTNL_UDATA_SET_ELEM_FLAGS, 4 bytes, host u32 */
		uint8_t ud[6] = { NFTNL_UDATA_SET_ELEM_FLAGS, 4 };
		uint32_t v = NFTNL_SET_ELEM_F_INTERVAL_OPEN;

		memcpy(ud + 2, &v, 4);
		mnl_attr_put(nlh, NFTA_SET_ELEM_USERDATA, sizeof(ud), ud);
	}
	if (ctr && (ctr->packets || ctr->bytes))
		put_elem_counter(nlh, ctr);
	mnl_attr_nest_end(nlh, n);
}

/* Upper bound of the bytes one IR element takes in a message. */
static unsigned elem_bytes(const struct fwd_ir_set *s, bool ctr)
{
	struct fwd_key_layout l;
	unsigned key, timeout = 12 + (ctr ? ELEM_CTR_BYTES : 0);

	fwd_key_layout(s->key, &l);
	key = 4 + 4 + l.key_len;	/* KEY nest + VALUE attribute */
	if (fwd_set_rbtree(s))	/* start + end, each with flags, plus userdata */
		return 2 * (4 + 8 + key) + 12 + timeout;
	return 4 + key + (s->interval ? key : 0) + timeout;
}

static struct nlmsghdr *elems_msg(struct fwd_batch *b, const char *table,
				  const struct fwd_ir_set *s,
				  const struct fwd_elems_op *op,
				  struct nlattr **list)
{
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;

	nlh = fwd_batch_put(b, op->type, NFPROTO_INET,
			    op->type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0,
			    FWD_MSG_ELEMS, &rec);
	rec->set = s;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
	if (op->set_id)
		mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(op->set_id));
	*list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	return nlh;
}

void fwd_lin_elems_op(struct fwd_batch *b, const char *table,
		      const struct fwd_ir_set *s, const struct fwd_elems_op *op)
{
	unsigned per = FWD_ELEMS_MAX_BYTES / elem_bytes(s, op->ctr != NULL);
	bool add = op->type == NFT_MSG_NEWSETELEM;
	uint64_t skip = add ? b->now_ms : op->skip_ms;
	struct fwd_msg probe = { .skip_ms = skip };
	struct fwd_key_layout l;
	uint8_t lo[FWD_KEY_MAX], hi[FWD_KEY_MAX];
	bool lead = add && op->set_id && fwd_set_rbtree(s) && fwd_rb_lead_end(s);
	size_t i = 0;

	if (per > FWD_ELEMS_PER_MSG)
		per = FWD_ELEMS_PER_MSG;
	fwd_key_layout(s->key, &l);
	for (;;) {
		struct nlattr *list;
		struct nlmsghdr *nlh;
		struct fwd_msg *rec;
		uint16_t idx = 0;
		unsigned sent = 0;

		/* Elements the kernel already dropped (or is about to) are
		 * left out, and a message is only started for one to send. */
		while (i < s->n && !fwd_lin_elem_sent(&probe, &s->elems[i]))
			i++;
		if (i == s->n)
			break;
		nlh = elems_msg(b, table, s, op, &list);
		rec = &b->msgs[b->n - 1];
		rec->first = i;
		rec->skip_ms = skip;
		if (lead) {
			memset(lo, 0, l.key_len);
			put_elem(nlh, ++idx, lo, NULL, l.key_len,
				 NFT_SET_ELEM_INTERVAL_END, false, 0, NULL);
			rec->lead_end = true;
			lead = false;
		}
		for (; i < s->n && sent < per; i++) {
			const struct fwd_ir_elem *e = &s->elems[i];
			const struct fwd_ir_count *ctr =
				add && op->ctr && s->counter ? &op->ctr[i] : NULL;
			uint64_t tmo = 0;

			if (!fwd_lin_elem_sent(rec, e))
				continue;
			sent++;
			if (add && e->expires)
				tmo = e->expires * 1000 - b->now_ms;
			fwd_elem_key(s->key, e, false, lo);
			if (!s->interval) {
				put_elem(nlh, ++idx, lo, NULL, l.key_len, 0,
					 false, tmo, ctr);
			} else if (!fwd_set_rbtree(s)) {
				fwd_elem_key(s->key, e, true, hi);
				put_elem(nlh, ++idx, lo, hi, l.key_len, 0, false,
					 tmo, ctr);
			} else {
				bool open = fwd_key_is_max(e->hi, l.key_len);

				put_elem(nlh, ++idx, lo, NULL, l.key_len, 0, open,
					 tmo, ctr);
				if (fwd_rb_has_end(s, i)) {
					fwd_elem_key(s->key, e, true, hi);
					fwd_key_inc(hi, l.key_len);
					put_elem(nlh, ++idx, hi, NULL, l.key_len,
						 NFT_SET_ELEM_INTERVAL_END, false, 0,
						 NULL);
				}
			}
		}
		rec->count = i - rec->first;
		mnl_attr_nest_end(nlh, list);
		fwd_batch_close(b, nlh);
	}
}

void fwd_lin_elems(struct fwd_batch *b, const char *table,
		   const struct fwd_ir_set *s, uint32_t set_id,
		   const struct fwd_ir_count *ctr)
{
	struct fwd_elems_op op = { .type = NFT_MSG_NEWSETELEM, .set_id = set_id,
				   .ctr = ctr };

	fwd_lin_elems_op(b, table, s, &op);
}

/* ---------------------------------------------------------------- chains */

/* One kernel chain: the base chain c itself (hook, priority, policy), or
 * one of its family chains (a regular chain: a name only). */
static void lin_chain_part(struct fwd_batch *b, const char *table,
			   const struct fwd_ir_chain *c, enum fwd_ir_part p)
{
	struct nftnl_chain *ch = fwd_nn(nftnl_chain_alloc());
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;
	char name[40];

	fwd_ir_part_name(c, p, name, sizeof(name));
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, name);
	if (p == FWD_PART_BASE) {
		nftnl_chain_set_str(ch, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_HOOKNUM, c->hook);
		nftnl_chain_set_s32(ch, NFTNL_CHAIN_PRIO, c->prio);
		nftnl_chain_set_u32(ch, NFTNL_CHAIN_POLICY,
				    c->policy_accept ? NF_ACCEPT : NF_DROP);
	}
	nlh = fwd_batch_put(b, NFT_MSG_NEWCHAIN, NFPROTO_INET, NLM_F_CREATE,
			    FWD_MSG_CHAIN, &rec);
	rec->chain = c;
	rec->part = p;
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	fwd_batch_close(b, nlh);
	nftnl_chain_free(ch);
}

void fwd_lin_chain(struct fwd_batch *b, const char *table,
		   const struct fwd_ir_chain *c)
{
	lin_chain_part(b, table, c, FWD_PART_BASE);
	if (fwd_ir_chain_split(c, NULL, NULL)) {
		lin_chain_part(b, table, c, FWD_PART_V4);
		lin_chain_part(b, table, c, FWD_PART_V6);
	}
}

/* ---------------------------------------------------------------- rules */

/*
 * nft numbers registers in 32-bit words from the start of NFT_REG_1 and
 * names a word by its 128-bit register when it starts one (compatibility
 * with old kernels): word 0 -> reg 1, word 1 -> reg 9 (NFT_REG32_01), ...,
 * word 4 -> reg 2.
 */
static uint32_t reg_word(unsigned w)
{
	return w % 4 == 0 ? NFT_REG_1 + w / 4 : NFT_REG32_00 + w;
}

static struct nftnl_expr *expr(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = fwd_nn(nftnl_expr_alloc(name));

	nftnl_rule_add_expr(r, e);
	return e;
}

static void e_meta(struct nftnl_rule *r, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "meta");

	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
}

static void e_cmp(struct nftnl_rule *r, uint32_t op, const void *data,
		  uint32_t len)
{
	struct nftnl_expr *e = expr(r, "cmp");

	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
}

static void e_payload(struct nftnl_rule *r, uint32_t base, uint32_t off,
		      uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = expr(r, "payload");

	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
}

static void e_lookup(struct nftnl_rule *r, const char *set, uint32_t id)
{
	struct nftnl_expr *e = expr(r, "lookup");

	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
}

/* meta KEY == value, one byte (nfproto, l4proto) or four (iif, oif). */
static void m_meta_eq(struct nftnl_rule *r, uint32_t key, uint32_t v)
{
	e_meta(r, key, NFT_REG_1);
	if (key == NFT_META_IIF || key == NFT_META_OIF) {
		e_cmp(r, NFT_CMP_EQ, &v, 4);
	} else {
		uint8_t b = (uint8_t)v;

		e_cmp(r, NFT_CMP_EQ, &b, 1);
	}
}

/* The dependencies nft has already emitted in this rule. */
struct deps {
	int nfproto;	/* -1 none */
	int l4proto;
};

static void dep_nfproto(struct nftnl_rule *r, struct deps *d, int v)
{
	if (d->nfproto == v)
		return;
	m_meta_eq(r, NFT_META_NFPROTO, (uint32_t)v);
	d->nfproto = v;
}

static void dep_l4proto(struct nftnl_rule *r, struct deps *d, int v)
{
	if (d->l4proto == v)
		return;
	m_meta_eq(r, NFT_META_L4PROTO, (uint32_t)v);
	d->l4proto = v;
}

/* An anonymous constant set of ICMP types, as nft builds it for
 * `icmp type { a, b }`, followed by its elements. */
static void anon_icmp_set(struct fwd_batch *b, const char *table, bool v6,
			  const struct fwd_ir_match *m, uint32_t id,
			  const struct fwd_ir_chain *c, size_t ri)
{
	struct nftnl_set *s = fwd_nn(nftnl_set_alloc());
	struct nftnl_udata_buf *u = fwd_nn(nftnl_udata_buf_alloc(64));
	struct nftnl_udata *n1, *n2;
	struct nlmsghdr *nlh;
	struct nlattr *list;
	struct fwd_msg *rec;

	nftnl_set_set_str(s, NFTNL_SET_TABLE, table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, "__set%d");
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_ANONYMOUS | NFT_SET_CONSTANT);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, v6 ? DT_ICMP6_TYPE : DT_ICMP_TYPE);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, 1);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, m->ntypes);
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_KEYBYTEORDER, BYTEORDER_BIG_ENDIAN);
	n1 = nftnl_udata_nest_start(u, NFTNL_UDATA_SET_KEY_TYPEOF);
	nftnl_udata_put_u32(u, NFTNL_UDATA_SET_TYPEOF_EXPR, EXPR_PAYLOAD);
	n2 = nftnl_udata_nest_start(u, NFTNL_UDATA_SET_TYPEOF_DATA);
	nftnl_udata_put_u32(u, UDATA_PAYLOAD_DESC,
			    v6 ? PROTO_DESC_ICMPV6 : PROTO_DESC_ICMP);
	nftnl_udata_put_u32(u, UDATA_PAYLOAD_TYPE, ICMP_TYPE_FIELD);
	nftnl_udata_nest_end(u, n2);
	nftnl_udata_nest_end(u, n1);
	nftnl_set_set_data(s, NFTNL_SET_USERDATA, nftnl_udata_buf_data(u),
			   nftnl_udata_buf_len(u));
	nftnl_udata_buf_free(u);

	nlh = fwd_batch_put(b, NFT_MSG_NEWSET, NFPROTO_INET, NLM_F_CREATE,
			    FWD_MSG_RULE, &rec);
	rec->chain = c;
	rec->rule = ri;
	nftnl_set_nlmsg_build_payload(nlh, s);
	fwd_batch_close(b, nlh);
	nftnl_set_free(s);

	nlh = fwd_batch_put(b, NFT_MSG_NEWSETELEM, NFPROTO_INET, NLM_F_CREATE,
			    FWD_MSG_RULE, &rec);
	rec->chain = c;
	rec->rule = ri;
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, "__set%d");
	mnl_attr_put_u32(nlh, NFTA_SET_ELEM_LIST_SET_ID, htonl(id));
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	for (unsigned i = 0; i < m->ntypes && i < sizeof(m->types); i++)
		put_elem(nlh, (uint16_t)(i + 1), &m->types[i], NULL, 1, 0, false,
			 0, NULL);
	mnl_attr_nest_end(nlh, list);
	fwd_batch_close(b, nlh);
}

static void m_icmp(struct fwd_batch *b, const char *table,
		   struct nftnl_rule *r, struct deps *d,
		   const struct fwd_ir_match *m, bool v6, uint32_t *next_id,
		   const struct fwd_ir_chain *c, size_t ri)
{
	dep_nfproto(r, d, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	dep_l4proto(r, d, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP);
	e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1, NFT_REG_1);
	if (m->ntypes == 1) {
		e_cmp(r, NFT_CMP_EQ, &m->types[0], 1);
		return;
	}
	anon_icmp_set(b, table, v6, m, *next_id, c, ri);
	e_lookup(r, "__set%d", (*next_id)++);
}

/* hton of a host-order register, as nft puts in front of an interval
 * set's lookup (the elements' keys are big-endian to compare as bytes). */
static void e_hton(struct nftnl_rule *r, uint32_t reg, uint32_t len,
		   uint32_t size)
{
	struct nftnl_expr *e = expr(r, "byteorder");

	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, size);
}

/*
 * The owner field of an owner set's lookup (ir.h: UID_ADDR*, CG_ADDR*),
 * as nft emits it: `meta skuid` or `socket cgroupv2 level N`, turned to
 * network order. The socket the kernel looks at is the packet's own
 * (skb->sk) in the output hook. Returns the words it used.
 */
static unsigned owner_key(struct nftnl_rule *r, const struct fwd_ir_set *s,
			  const struct fwd_ir_match *m)
{
	unsigned id = fwd_ir_key_id_len(s->key);
	struct nftnl_expr *e;

	if (id == 4) {
		e_meta(r, NFT_META_SKUID, reg_word(0));
		e_hton(r, reg_word(0), 4, 4);
		return 1;
	}
	if (id == 8) {
		e = expr(r, "socket");
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, NFT_SOCKET_CGROUPV2);
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, reg_word(0));
		nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_LEVEL, m->u32);
		e_hton(r, reg_word(0), 8, 8);
		return 2;
	}
	return 0;
}

static void m_lookup(struct nftnl_rule *r, struct deps *d,
		     const struct fwd_ir *ir, const struct fwd_ir_match *m)
{
	const struct fwd_ir_set *s = &ir->sets[m->set];
	bool src = m->kind == FWD_M_LOOKUP_SRC;
	unsigned alen = fwd_key_addr_len(s->key), w = 0;

	/* nft puts the family dependency first, the owner after it. */
	if (fwd_ir_key_id_len(s->key)) {
		dep_nfproto(r, d, alen == 4 ? NFPROTO_IPV4 : NFPROTO_IPV6);
		w = owner_key(r, s, m);
	}

	if (alen == 4) {
		dep_nfproto(r, d, NFPROTO_IPV4);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, src ? 12 : 16, 4,
			  reg_word(w));
		w += 1;
	} else if (alen == 16) {
		dep_nfproto(r, d, NFPROTO_IPV6);
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, src ? 8 : 24, 16,
			  reg_word(w));
		w += 4;
	}
	if (fwd_key_has_port(s->key)) {
		struct nftnl_expr *e;

		e_meta(r, NFT_META_L4PROTO, reg_word(w));
		if (s->interval) {
			/* For an interval set nft converts the host-order
			 * inet_proto to network order so that ranges compare
			 * as bytes; for one byte it is a no-op, but it is what
			 * nft emits (and hash sets get none). */
			e = expr(r, "byteorder");
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg_word(w));
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg_word(w));
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP,
					   NFT_BYTEORDER_HTON);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
			nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
		}
		w += 1;
		e_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, reg_word(w));
	}
	e_lookup(r, s->name, (uint32_t)(m->set + 1));
}

static void m_ct_state(struct nftnl_rule *r, uint32_t mask)
{
	struct nftnl_expr *e;
	uint32_t zero = 0;

	e = expr(r, "ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	e = expr(r, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	e_cmp(r, NFT_CMP_NEQ, &zero, 4);
}

/* ct label BIT: the 16 bytes of labels masked to the one bit (the
 * kernel's bitmap, byte BIT / 8), compared with zero, as nft emits it.
 * Also what the probe (probe.c) asks the kernel for. */
void fwd_lin_ct_label(struct nftnl_rule *r, uint32_t bit)
{
	uint8_t mask[16] = { 0 }, zero[16] = { 0 };
	struct nftnl_expr *e;

	mask[(bit / 8) % sizeof(mask)] = (uint8_t)(1u << (bit % 8));
	e = expr(r, "ct");
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_LABELS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	e = expr(r, "bitwise");
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, sizeof(mask));
	nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, sizeof(zero));
	e_cmp(r, NFT_CMP_NEQ, zero, sizeof(zero));
}

static void m_limit(struct nftnl_rule *r, uint32_t rate, uint32_t burst)
{
	struct nftnl_expr *e = expr(r, "limit");

	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
	nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, 0);
}

/* `fib saddr . mark [. iif] oif missing`: nft asks the kernel only whether
 * there is a route back (NFTA_FIB_F_PRESENT) and compares 4 bytes. */
static void m_rpf_missing(struct nftnl_rule *r, uint32_t flags)
{
	struct nftnl_expr *e = expr(r, "fib");
	uint32_t zero = 0;

	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags | NFTA_FIB_F_PRESENT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	e_cmp(r, NFT_CMP_EQ, &zero, 4);
}

/* update @meter4 { ip saddr limit rate over R/P burst B packets }, and
 * the /64 of ip6 saddr for meter6 (nft's expressions, in its order). */
struct meter_args {
	const char *set;
	uint32_t set_id, rate, period_s, burst;
};

static void m_meter_on(struct nftnl_rule *r, struct deps *d, bool v6,
		       const struct meter_args *a);

static void m_meter(struct nftnl_rule *r, struct deps *d,
		    const struct fwd_ir *ir, const struct fwd_ir_match *m)
{
	const struct fwd_ir_queue *q = &ir->queue;
	bool v6 = m->u32 == NFPROTO_IPV6;
	struct meter_args a = {
		v6 ? "meter6" : "meter4", (uint32_t)ir->nsets + (v6 ? 2 : 1),
		q->rate, q->period_s, q->burst,
	};

	m_meter_on(r, d, v6, &a);
}

/* A restricted class's meter (ir.h, fwd_ir_class). */
static void m_class_meter(struct nftnl_rule *r, struct deps *d,
			  const struct fwd_ir *ir, const struct fwd_ir_match *m)
{
	const struct fwd_ir_class *c = &ir->classes[m->set];
	bool v6 = m->u32 == NFPROTO_IPV6;
	char name[32];
	struct meter_args a = {
		name, fwd_ir_class_meter_id(ir, m->set, v6), c->rate,
		c->period_s, c->burst,
	};

	snprintf(name, sizeof(name), "%s_m%c", c->name, v6 ? '6' : '4');
	m_meter_on(r, d, v6, &a);
}

/* meta iifname / oifname == NAME: nft compares all 16 bytes, NUL-padded,
 * for a name without a wildcard. */
static void m_ifname(struct nftnl_rule *r, const struct fwd_ir *ir,
		     const struct fwd_ir_match *m)
{
	char name[16] = { 0 };

	memcpy(name, ir->classes[m->u32].ifname, sizeof(name) - 1);
	e_meta(r, m->kind == FWD_M_IIFNAME ? NFT_META_IIFNAME : NFT_META_OIFNAME,
	       NFT_REG_1);
	e_cmp(r, NFT_CMP_EQ, name, sizeof(name));
}

static void meter_update(struct nftnl_rule *r, const struct meter_args *a);

/* update @prog_meter { meta skuid limit rate over R/P burst B packets }
 * (ir.h, FWD_M_PROG_METER). */
static void m_prog_meter(struct nftnl_rule *r, const struct fwd_ir *ir)
{
	const struct fwd_ir_queue *q = &ir->prog;
	struct meter_args a = {
		"prog_meter", fwd_ir_prog_meter_id(ir), q->rate, q->period_s,
		q->burst,
	};

	e_meta(r, NFT_META_SKUID, NFT_REG_1);
	meter_update(r, &a);
}

static void m_meter_on(struct nftnl_rule *r, struct deps *d, bool v6,
		       const struct meter_args *a)
{
	static const uint8_t mask64[16] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t zero16[16];
	struct nftnl_expr *e;

	dep_nfproto(r, d, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	if (v6) {
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 8, 16, NFT_REG_1);
		e = expr(r, "bitwise");
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 16);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask64, 16);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero16, 16);
	} else {
		e_payload(r, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1);
	}
	meter_update(r, a);
}

/* The dynset update of a meter whose key is in reg 1. */
static void meter_update(struct nftnl_rule *r, const struct meter_args *a)
{
	struct nftnl_expr *e, *lim;

	lim = fwd_nn(nftnl_expr_alloc("limit"));
	nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_RATE, a->rate);
	nftnl_expr_set_u64(lim, NFTNL_EXPR_LIMIT_UNIT, a->period_s);
	nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_BURST, a->burst);
	nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
	nftnl_expr_set_u32(lim, NFTNL_EXPR_LIMIT_FLAGS, NFT_LIMIT_F_INV);
	e = expr(r, "dynset");
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
	nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, a->set);
	nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, a->set_id);
	/* One expression: nft sends it as NFTA_DYNSET_EXPR (libnftnl takes
	 * it over). */
	nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, lim, 0);
}

/*
 * To the verdict loop: the native queue expression, or the xt NFQUEUE
 * target rev 3 through nft_compat where the kernel has no nft_queue.
 * Never a bypass flag: a packet nobody takes is dropped. queues_total
 * balances by flow hash, or with q->fanout (the program queues) by the
 * CPU that queues the packet.
 */
static void v_queue(struct nftnl_rule *r, const struct fwd_ir_queue *q)
{
	struct nftnl_expr *e;

	if (q->native) {
		e = expr(r, "queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, q->num);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, q->total);
		if (q->fanout)
			nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS,
					   NFT_QUEUE_FLAG_CPU_FANOUT);
		return;
	}
	{
		/* XT_ALIGN(sizeof(info)) = 8 bytes; libnftnl takes the
		 * buffer over, so it comes from malloc. */
		struct xt_NFQ_info_v3 *info = fwd_xcalloc(1, 8);

		info->queuenum = q->num;
		info->queues_total = q->total;
		info->flags = q->fanout ? NFQ_FLAG_CPU_FANOUT : 0;
		e = expr(r, "target");
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, 8);
	}
}

static void v_verdict(struct nftnl_rule *r, uint32_t verdict)
{
	struct nftnl_expr *e = expr(r, "immediate");

	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, verdict);
}

static void v_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = expr(r, "reject");

	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
}

/* Where a rule goes in the kernel: part p of c, place kpos (from 1). */
struct kplace {
	enum fwd_ir_part p;
	size_t kpos;
};

/* The messages from `first` on (a rule and the anonymous set it built)
 * name the rule's kernel chain and place, for errors (batch.c). */
static void mark_place(struct fwd_batch *b, size_t first,
		       const struct kplace *at)
{
	for (size_t i = first; i < b->n; i++) {
		b->msgs[i].part = at->p;
		b->msgs[i].kpos = at->kpos;
	}
}

/* Rule ri of c into part at->p of c (its base chain or one of its
 * family chains), at place at->kpos. */
static void lin_rule_into(struct fwd_batch *b, const char *table,
			  const struct fwd_ir *ir, const struct fwd_ir_chain *c,
			  size_t ri, const struct kplace *at,
			  uint32_t *next_set_id, const struct fwd_ir_count *ctr)
{
	const struct fwd_ir_rule *rule = &c->rules[ri];
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct deps d = { .nfproto = -1, .l4proto = -1 };
	size_t first = b->n;
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;
	char chain[40];

	fwd_ir_part_name(c, at->p, chain, sizeof(chain));

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);

	/* `reject with tcp reset` needs meta l4proto tcp; nft puts the
	 * dependency first in the rule when the rule does not say it. */
	if (rule->verdict == FWD_V_REJECT_TCP_RST) {
		bool have = false;

		for (unsigned i = 0; i < rule->nm; i++)
			if (rule->m[i].kind == FWD_M_L4PROTO &&
			    rule->m[i].u32 == IPPROTO_TCP)
				have = true;
		if (!have)
			dep_l4proto(r, &d, IPPROTO_TCP);
	}

	for (unsigned i = 0; i < rule->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &rule->m[i];

		switch (m->kind) {
		case FWD_M_IIF_LO:
			m_meta_eq(r, NFT_META_IIF, 1);
			break;
		case FWD_M_OIF_LO:
			m_meta_eq(r, NFT_META_OIF, 1);
			break;
		case FWD_M_CT_STATE:
			m_ct_state(r, m->u32);
			break;
		case FWD_M_NFPROTO:
			m_meta_eq(r, NFT_META_NFPROTO, m->u32);
			d.nfproto = (int)m->u32;
			break;
		case FWD_M_L4PROTO:
			m_meta_eq(r, NFT_META_L4PROTO, m->u32);
			d.l4proto = (int)m->u32;
			break;
		case FWD_M_ICMP_TYPES:
		case FWD_M_ICMPV6_TYPES:
			m_icmp(b, table, r, &d, m, m->kind == FWD_M_ICMPV6_TYPES,
			       next_set_id, c, ri);
			break;
		case FWD_M_LOOKUP_SRC:
		case FWD_M_LOOKUP_DST:
			m_lookup(r, &d, ir, m);
			break;
		case FWD_M_LIMIT:
			m_limit(r, m->u32, m->u32b);
			break;
		case FWD_M_RPF_MISSING:
			m_rpf_missing(r, m->u32);
			break;
		case FWD_M_METER:
			m_meter(r, &d, ir, m);
			break;
		case FWD_M_IIFNAME:
		case FWD_M_OIFNAME:
			m_ifname(r, ir, m);
			break;
		case FWD_M_CLASS_METER:
			m_class_meter(r, &d, ir, m);
			break;
		case FWD_M_PROG_METER:
			m_prog_meter(r, ir);
			break;
		case FWD_M_CT_LABEL:
			fwd_lin_ct_label(r, m->u32);
			break;
		}
	}
	if (rule->counter) {
		struct nftnl_expr *e = expr(r, "counter");

		/* A replace carries the old rule's counts (nft list | nft -f
		 * does the same with `counter packets N bytes M`). */
		if (ctr && (ctr->packets || ctr->bytes)) {
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_PACKETS, ctr->packets);
			nftnl_expr_set_u64(e, NFTNL_EXPR_CTR_BYTES, ctr->bytes);
		}
	}
	if (rule->log) {
		struct nftnl_expr *e = expr(r, "log");

		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, rule->log_prefix);
	}
	switch (rule->verdict) {
	case FWD_V_CONTINUE:
		break;
	case FWD_V_ACCEPT:
		v_verdict(r, NF_ACCEPT);
		break;
	case FWD_V_DROP:
		v_verdict(r, NF_DROP);
		break;
	case FWD_V_REJECT_TCP_RST:
		v_reject(r, NFT_REJECT_TCP_RST, 0);
		break;
	case FWD_V_REJECT_ICMPX:
		v_reject(r, NFT_REJECT_ICMPX_UNREACH,
			 NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	case FWD_V_QUEUE:
		v_queue(r, &ir->queue);
		break;
	case FWD_V_QUEUE_PROG: {
		struct fwd_ir_queue q = fwd_ir_prog_queue(ir);

		v_queue(r, &q);
		break;
	}
	}

	nlh = fwd_batch_put(b, NFT_MSG_NEWRULE, NFPROTO_INET,
			    NLM_F_CREATE | NLM_F_APPEND, FWD_MSG_RULE, &rec);
	rec->chain = c;
	rec->rule = ri;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	fwd_batch_close(b, nlh);
	nftnl_rule_free(r);
	mark_place(b, first, at);
}

/* `meta nfproto ipv4 jump in4` (ipv6 / in6) in c's base chain, at place
 * kpos there. The record says it is the jump (no IR rule of its own). */
static void lin_jump(struct fwd_batch *b, const char *table,
		     const struct fwd_ir_chain *c, size_t kpos, bool v6)
{
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;
	char to[40];

	fwd_ir_part_name(c, v6 ? FWD_PART_V6 : FWD_PART_V4, to, sizeof(to));
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, c->name);
	m_meta_eq(r, NFT_META_NFPROTO, v6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	e = expr(r, "immediate");
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, NFT_JUMP);
	nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, to);
	nlh = fwd_batch_put(b, NFT_MSG_NEWRULE, NFPROTO_INET,
			    NLM_F_CREATE | NLM_F_APPEND, FWD_MSG_RULE, &rec);
	rec->chain = c;
	rec->part = FWD_PART_BASE;
	rec->kpos = kpos;
	rec->jump = v6 ? 6 : 4;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	fwd_batch_close(b, nlh);
	nftnl_rule_free(r);
}

/*
 * c (ir->chains[ci]) with its rules as the kernel holds them (ir.h, "The
 * chains in the kernel"): the base chain's (its jumps among them), then
 * each family chain's, each in order, as nft adds the rules of a text that
 * lists the chains so (the anonymous ICMP sets get the same numbers).
 * Each copy of a rule starts from its own kernel chain's count in cn
 * (fwd_ir_counts_part): a rule in both family chains keeps in4's count in
 * in4 and in6's in in6.
 */
void fwd_lin_rules(struct fwd_batch *b, const char *table,
		   const struct fwd_ir *ir, size_t ci, uint32_t *next_set_id,
		   const struct fwd_ir_counts *cn)
{
	const struct fwd_ir_chain *c = &ir->chains[ci];
	long *rules = fwd_xcalloc(c->n + 2, sizeof(*rules));

	for (int p = FWD_PART_BASE; p < FWD_PART_COUNT; p++) {
		size_t n = fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p, NULL,
					     rules);

		for (size_t k = 0; k < n; k++) {
			struct kplace at = { (enum fwd_ir_part)p, k + 1 };
			size_t ri = (size_t)rules[k];

			if (rules[k] < 0) {
				lin_jump(b, table, c, k + 1, rules[k] == FWD_KJUMP6);
				continue;
			}
			lin_rule_into(b, table, ir, c, ri, &at, next_set_id,
				      fwd_ir_counts_part(cn, ir, ci, at.p, ri));
		}
	}
	free(rules);
}

void fwd_lin_whole_table(struct fwd_batch *b, const char *table,
			 const struct fwd_ir *ir, unsigned table_flags,
			 const struct fwd_ir_counts *cn)
{
	uint32_t next_id = fwd_ir_prog_meter_id(ir) + 1;

	fwd_batch_begin(b);
	/* Make sure the table exists so that the delete cannot fail, then
	 * delete it with everything in it and build it anew: the old table
	 * stays in force until the commit swaps in the new one. */
	fwd_lin_table(b, NFT_MSG_NEWTABLE, table, false, 0);
	fwd_lin_table(b, NFT_MSG_DELTABLE, table, false, 0);
	fwd_lin_table(b, NFT_MSG_NEWTABLE, table, true, table_flags);
	for (size_t i = 0; i < ir->nchains; i++)
		fwd_lin_chain(b, table, &ir->chains[i]);
	for (size_t i = 0; i < ir->nsets; i++) {
		fwd_lin_set(b, table, &ir->sets[i], (uint32_t)i + 1);
		fwd_lin_elems(b, table, &ir->sets[i], (uint32_t)i + 1,
			      cn ? cn->elem[i] : NULL);
	}
	for (unsigned i = 0; i < fwd_ir_meter_sets(ir); i++)
		fwd_lin_meter_set(b, table, ir, i == 1,
				  (uint32_t)(ir->nsets + 1 + i));
	fwd_lin_class_meter_sets(b, table, ir);
	fwd_lin_prog_meter_set(b, table, ir);
	for (size_t i = 0; i < ir->nchains; i++)
		fwd_lin_rules(b, table, ir, i, &next_id, cn);
	fwd_batch_end(b);
}

void fwd_lin_part(struct fwd_batch *b, const char *table,
		  const struct fwd_ir *ir, const struct fwd_ir_chain *c,
		  enum fwd_ir_part p, uint32_t *next_set_id,
		  const struct fwd_ir_count *ctr)
{
	long *rules = fwd_xcalloc(c->n + 2, sizeof(*rules));
	size_t n = fwd_ir_part_rules(ir, c, p, NULL, rules);
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct nlmsghdr *nlh;
	struct fwd_msg *rec;
	char name[40];

	fwd_ir_part_name(c, p, name, sizeof(name));
	/* A DELRULE naming only the chain flushes it: in the same
	 * transaction as the rules added after it, so no packet ever sees
	 * the chain empty. */
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, name);
	nlh = fwd_batch_put(b, NFT_MSG_DELRULE, NFPROTO_INET, 0, FWD_MSG_CHAIN,
			    &rec);
	rec->chain = c;
	rec->part = p;
	nftnl_rule_nlmsg_build_payload(nlh, r);
	fwd_batch_close(b, nlh);
	nftnl_rule_free(r);
	for (size_t k = 0; k < n; k++) {
		struct kplace at = { p, k + 1 };

		if (rules[k] < 0) {
			lin_jump(b, table, c, k + 1, rules[k] == FWD_KJUMP6);
			continue;
		}
		lin_rule_into(b, table, ir, c, (size_t)rules[k], &at,
			      next_set_id, ctr ? &ctr[k] : NULL);
	}
	free(rules);
}
