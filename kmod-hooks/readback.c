// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The live table read back over netlink: table flags and owner, chains with
 * their hooks and policies, rule counts, sets with every element turned back
 * into the IR's element format. Used by the kernel tests to compare what the
 * kernel holds with the IR that was applied, and by `fwctl show`.
 */
#include "kmod.h"
#include "readback.h"
#include "keys.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include "util.h"


static struct nlmsghdr *hdr(char *buf, uint16_t type, uint16_t flags)
{
	return fwd_nl_hdr(buf, type, flags, NFPROTO_INET);
}

/* Attributes of one nf_tables message, indexed by type. */
static void attrs(const struct nlmsghdr *nlh, const struct nlattr **tb,
		  unsigned max)
{
	const struct nlattr *a;

	memset(tb, 0, sizeof(*tb) * (max + 1));
	mnl_attr_for_each(a, nlh, sizeof(struct nfgenmsg)) {
		unsigned t = mnl_attr_get_type(a);

		if (t <= max)
			tb[t] = a;
	}
}

static uint32_t be32(const struct nlattr *a)
{
	return a && mnl_attr_get_payload_len(a) >= 4 ?
	       ntohl(mnl_attr_get_u32(a)) : 0;
}

/* ---------------------------------------------------------------- table */

struct table_q {
	bool exists;
	uint32_t flags, owner;
};

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct table_q *q = data;
	const struct nlattr *tb[NFTA_TABLE_MAX + 1];

	attrs(nlh, tb, NFTA_TABLE_MAX);
	q->exists = true;
	q->flags = be32(tb[NFTA_TABLE_FLAGS]);
	q->owner = be32(tb[NFTA_TABLE_OWNER]);
	return MNL_CB_OK;
}

int fwd_live_table_info(struct fwd_nl *nl, const char *name, bool *exists,
			uint32_t *flags, uint32_t *owner)
{
	char *buf = fwd_xmalloc(FWD_RBUF_SIZE);
	struct nlmsghdr *nlh = hdr(buf, NFT_MSG_GETTABLE, 0);
	struct table_q q = { 0 };
	int ret;

	mnl_attr_put_strz(nlh, NFTA_TABLE_NAME, name ? name : FWD_TABLE_NAME);
	ret = fwd_nl_request(nl, nlh, buf, table_cb, &q);
	free(buf);
	if (ret == -ENOENT)
		ret = 0;
	if (exists)
		*exists = q.exists;
	if (flags)
		*flags = q.flags;
	if (owner)
		*owner = q.owner;
	return ret;
}

/* ---------------------------------------------------------------- chains */

struct raw_elem {
	uint8_t key[FWD_KEY_MAX];	/* first: raw_cmp sorts by it */
	uint8_t key_end[FWD_KEY_MAX];
	uint32_t flags;
	bool has_end;
	bool has_exp;
	uint64_t exp_ms;		/* NFTA_SET_ELEM_EXPIRATION: time left */
	struct fwd_live_elem_counter ctr;	/* its counter expression */
};

struct rb_ctx {
	const char *table;
	struct fwd_live_table *t;
	struct fwd_live_set *set;	/* element dumps */
	size_t chain_cap, set_cap;
	struct raw_elem *raw;		/* one set's elements as the kernel has them */
	size_t nraw, rawcap;
	uint64_t now_ms;		/* when the element dump started */
	/* A key seen twice in one set's dump: a hash set's walk crossed a
	 * resize of its table (the kernel grows it in the background after
	 * a big insert) and may have missed others too: read again. */
	bool torn;
	/* Elements only of the sets with counters (fwd_live_read_counters). */
	bool counters_only;
	/* Chains and rules only, no sets (fwd_live_read_rules). */
	bool rules_only;
};

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_chain *ch = fwd_nn(nftnl_chain_alloc());
	struct fwd_live_chain *lc;

	if (nftnl_chain_nlmsg_parse(nlh, ch) < 0)
		goto out;
	if (strcmp(nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE) ?: "", c->table))
		goto out;
	FWD_GROW(c->t->chains, c->chain_cap, c->t->nchains + 1);
	lc = &c->t->chains[c->t->nchains++];
	memset(lc, 0, sizeof(*lc));
	snprintf(lc->name, sizeof(lc->name), "%s",
		 nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME) ?: "");
	lc->base = nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM);
	if (lc->base) {
		lc->hook = nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM);
		lc->prio = nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO);
		lc->policy_accept = nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) ==
				    NF_ACCEPT;
		snprintf(lc->type, sizeof(lc->type), "%s",
			 nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE) ?: "");
	}
out:
	nftnl_chain_free(ch);
	return MNL_CB_OK;
}

struct rule_info {
	const char *set;
	bool counter;
	uint64_t packets, bytes;
};

static int rule_expr_cb(struct nftnl_expr *e, void *data)
{
	struct rule_info *ri = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!name)
		return MNL_CB_OK;
	if (strcmp(name, "lookup") == 0 && !ri->set) {
		ri->set = nftnl_expr_get_str(e, NFTNL_EXPR_LOOKUP_SET);
	} else if (strcmp(name, "dynset") == 0) {
		/* A meter's drop rule: its counter counts the meter's drops,
		 * so it is named by the meter set (@cls0_m4), not by the
		 * allow set it looked into first. */
		ri->set = nftnl_expr_get_str(e, NFTNL_EXPR_DYNSET_SET_NAME);
	} else if (strcmp(name, "counter") == 0) {
		ri->counter = true;
		ri->packets = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		ri->bytes = nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct rule_info ri = { 0 };
	struct fwd_live_chain *ch = NULL;
	const char *table, *chain;

	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	if (!table || !chain || strcmp(table, c->table))
		goto out;
	c->t->nrules++;
	for (size_t i = 0; i < c->t->nchains; i++)
		if (strcmp(c->t->chains[i].name, chain) == 0)
			ch = &c->t->chains[i];
	if (!ch)
		goto out;
	nftnl_expr_foreach(r, rule_expr_cb, &ri);
	if (ri.counter) {
		struct fwd_live_counter *k;

		FWD_GROW(ch->counters, ch->ccap, ch->ncounters + 1);
		k = &ch->counters[ch->ncounters++];
		memset(k, 0, sizeof(*k));
		snprintf(k->set, sizeof(k->set), "%s", ri.set ? ri.set : "");
		k->rule = ch->nrules;
		k->packets = ri.packets;
		k->bytes = ri.bytes;
	}
	ch->nrules++;
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* ---------------------------------------------------------------- sets */

static bool key_of(uint32_t type, uint32_t len, enum fwd_ir_key *k)
{
	static const enum fwd_ir_key all[] = {
		FWD_KEY_ADDR4_PROTO_PORT, FWD_KEY_ADDR6_PROTO_PORT,
		FWD_KEY_PROTO_PORT, FWD_KEY_ADDR4, FWD_KEY_ADDR6,
		FWD_KEY_UID_ADDR4_PROTO_PORT, FWD_KEY_UID_ADDR6_PROTO_PORT,
		FWD_KEY_CG_ADDR4_PROTO_PORT, FWD_KEY_CG_ADDR6_PROTO_PORT,
	};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		struct fwd_key_layout l;

		fwd_key_layout(all[i], &l);
		if (l.key_type == type && l.key_len == len) {
			*k = all[i];
			return true;
		}
	}
	return false;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	struct nftnl_set *s = fwd_nn(nftnl_set_alloc());
	struct fwd_live_set *ls;
	uint32_t flags;

	if (nftnl_set_nlmsg_parse(nlh, s) < 0)
		goto out;
	if (strcmp(nftnl_set_get_str(s, NFTNL_SET_TABLE) ?: "", c->table))
		goto out;
	flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
	if (flags & NFT_SET_ANONYMOUS) {
		c->t->nanon++;
		goto out;
	}
	FWD_GROW(c->t->sets, c->set_cap, c->t->nsets + 1);
	ls = &c->t->sets[c->t->nsets++];
	memset(ls, 0, sizeof(*ls));
	snprintf(ls->name, sizeof(ls->name), "%s",
		 nftnl_set_get_str(s, NFTNL_SET_NAME) ?: "");
	ls->flags = flags;
	ls->key_type = nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE);
	ls->key_len = nftnl_set_get_u32(s, NFTNL_SET_KEY_LEN);
	ls->key_known = key_of(ls->key_type, ls->key_len, &ls->key);
	ls->interval = flags & NFT_SET_INTERVAL;
	ls->timeout = flags & NFT_SET_TIMEOUT;
	ls->counter = nftnl_set_is_set(s, NFTNL_SET_EXPR) ||
		      nftnl_set_is_set(s, NFTNL_SET_EXPRESSIONS);
out:
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static unsigned data_value(const struct nlattr *nest, uint8_t *out)
{
	const struct nlattr *a;

	if (!nest)
		return 0;
	mnl_attr_for_each_nested(a, nest) {
		unsigned len = mnl_attr_get_payload_len(a);

		if (mnl_attr_get_type(a) == NFTA_DATA_VALUE && len <= FWD_KEY_MAX) {
			memcpy(out, mnl_attr_get_payload(a), len);
			return len;
		}
	}
	return 0;
}

/* One expression (NFTA_EXPR_NAME, NFTA_EXPR_DATA): a counter's values. */
static void expr_counter(const struct nlattr *expr,
			 struct fwd_live_elem_counter *ctr)
{
	const struct nlattr *a, *d = NULL;
	const char *name = NULL;

	mnl_attr_for_each_nested(a, expr) {
		if (mnl_attr_get_type(a) == NFTA_EXPR_NAME)
			name = mnl_attr_get_str(a);
		else if (mnl_attr_get_type(a) == NFTA_EXPR_DATA)
			d = a;
	}
	if (!name || !d || strcmp(name, "counter") != 0)
		return;
	mnl_attr_for_each_nested(a, d) {
		if (mnl_attr_get_payload_len(a) != 8)
			continue;
		if (mnl_attr_get_type(a) == NFTA_COUNTER_PACKETS)
			ctr->packets = be64toh(mnl_attr_get_u64(a));
		else if (mnl_attr_get_type(a) == NFTA_COUNTER_BYTES)
			ctr->bytes = be64toh(mnl_attr_get_u64(a));
	}
}

static int elem_cb(const struct nlmsghdr *nlh, void *data)
{
	struct rb_ctx *c = data;
	const struct nlattr *tb[NFTA_SET_ELEM_LIST_MAX + 1], *e;

	attrs(nlh, tb, NFTA_SET_ELEM_LIST_MAX);
	if (!tb[NFTA_SET_ELEM_LIST_ELEMENTS])
		return MNL_CB_OK;
	mnl_attr_for_each_nested(e, tb[NFTA_SET_ELEM_LIST_ELEMENTS]) {
		const struct nlattr *key = NULL, *end = NULL, *fl = NULL, *a;
		const struct nlattr *exp = NULL, *ex = NULL, *exs = NULL;
		struct raw_elem *r;

		mnl_attr_for_each_nested(a, e) {
			switch (mnl_attr_get_type(a)) {
			case NFTA_SET_ELEM_KEY: key = a; break;
			case NFTA_SET_ELEM_KEY_END: end = a; break;
			case NFTA_SET_ELEM_FLAGS: fl = a; break;
			case NFTA_SET_ELEM_EXPIRATION: exp = a; break;
			case NFTA_SET_ELEM_EXPR: ex = a; break;
			case NFTA_SET_ELEM_EXPRESSIONS: exs = a; break;
			}
		}
		if (!key)
			continue;
		FWD_GROW(c->raw, c->rawcap, c->nraw + 1);
		r = &c->raw[c->nraw++];
		memset(r, 0, sizeof(*r));
		data_value(key, r->key);
		r->has_end = data_value(end, r->key_end) > 0;
		r->flags = be32(fl);
		if (exp && mnl_attr_get_payload_len(exp) == 8) {
			r->has_exp = true;
			r->exp_ms = be64toh(mnl_attr_get_u64(exp));
		}
		/* One expression comes as NFTA_SET_ELEM_EXPR, several as a
		 * list of NFTA_LIST_ELEM. */
		if (ex)
			expr_counter(ex, &r->ctr);
		if (exs)
			mnl_attr_for_each_nested(a, exs)
				expr_counter(a, &r->ctr);
	}
	return MNL_CB_OK;
}

static int cmp_key_len;

/* Key order; on equal keys an interval end before a start (a range that
 * ends where the next one begins). */
static int raw_cmp(const void *a, const void *b)
{
	const struct raw_elem *x = a, *y = b;
	int r = memcmp(x->key, y->key, (size_t)cmp_key_len);

	if (r)
		return r;
	return (int)(y->flags & NFT_SET_ELEM_INTERVAL_END) -
	       (int)(x->flags & NFT_SET_ELEM_INTERVAL_END);
}

/* Remaining milliseconds -> absolute unix seconds, to the nearest. */
static uint64_t expires_at(const struct rb_ctx *c, const struct raw_elem *r)
{
	return r->has_exp ? (c->now_ms + r->exp_ms + 500) / 1000 : 0;
}

static void push_elem(struct fwd_live_set *s, const struct fwd_ir_elem *e,
		      const struct fwd_live_elem_counter *ctr)
{
	size_t cap = s->cap;

	FWD_GROW(s->elems, s->cap, s->n + 1);
	if (s->cap != cap || !s->counters)
		s->counters = fwd_xreallocarray(s->counters, s->cap,
						sizeof(*s->counters));
	s->counters[s->n] = *ctr;
	s->elems[s->n++] = *e;
}

/* Kernel elements -> IR elements, sorted by key. */
static void pair_up(struct rb_ctx *c, struct fwd_live_set *s)
{
	struct raw_elem *v = c->raw;
	struct fwd_key_layout l;
	size_t n = c->nraw;

	s->nkernel = n;
	if (!s->key_known || n == 0)
		return;
	fwd_key_layout(s->key, &l);
	/* The key byte order is the IR's element order. */
	cmp_key_len = (int)l.key_len;
	qsort(v, n, sizeof(*v), raw_cmp);
	for (size_t i = 1; i < n && !s->interval; i++)
		if (raw_cmp(&v[i - 1], &v[i]) == 0)
			c->torn = true;

	for (size_t i = 0; i < n; i++) {
		struct fwd_ir_elem e;

		memset(&e, 0, sizeof(e));
		if (!s->interval || l.nfields > 1) {
			fwd_elem_from_key(s->key, v[i].key, false, &e);
			fwd_elem_from_key(s->key, v[i].has_end ? v[i].key_end :
					  v[i].key, true, &e);
			e.expires = expires_at(c, &v[i]);
			push_elem(s, &e, &v[i].ctr);
			continue;
		}
		/* rbtree: a start element runs to just before the next
		 * element (an end, or an adjacent start), or to the top. */
		if (v[i].flags & NFT_SET_ELEM_INTERVAL_END)
			continue;
		fwd_elem_from_key(s->key, v[i].key, false, &e);
		e.expires = expires_at(c, &v[i]);
		if (i + 1 < n) {
			uint8_t hi[FWD_KEY_MAX];

			memcpy(hi, v[i + 1].key, l.key_len);
			for (unsigned j = l.key_len; j-- > 0;)
				if (hi[j]-- != 0)
					break;
			fwd_elem_from_key(s->key, hi, true, &e);
		} else {
			uint8_t hi[FWD_KEY_MAX];

			memset(hi, 0xff, l.key_len);
			fwd_elem_from_key(s->key, hi, true, &e);
		}
		push_elem(s, &e, &v[i].ctr);
	}
}

static int read_elems(struct fwd_nl *nl, struct rb_ctx *c, char *buf,
		      struct fwd_live_set *s)
{
	struct nlmsghdr *nlh = hdr(buf, NFT_MSG_GETSETELEM, NLM_F_DUMP);
	int ret;

	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_TABLE, c->table);
	mnl_attr_put_strz(nlh, NFTA_SET_ELEM_LIST_SET, s->name);
	c->nraw = 0;
	c->now_ms = fwd_now_ms();
	ret = fwd_nl_request(nl, nlh, buf, elem_cb, c);
	if (ret == 0)
		pair_up(c, s);
	return ret;
}

static int dump(struct fwd_nl *nl, struct rb_ctx *c, char *buf, uint16_t type,
		uint16_t table_attr, mnl_cb_t cb)
{
	struct nlmsghdr *nlh = hdr(buf, type, NLM_F_DUMP);

	mnl_attr_put_strz(nlh, table_attr, c->table);
	return fwd_nl_request(nl, nlh, buf, cb, c);
}

static int gen_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[NFTA_GEN_MAX + 1];

	attrs(nlh, tb, NFTA_GEN_MAX);
	*(uint32_t *)data = be32(tb[NFTA_GEN_ID]);
	return MNL_CB_OK;
}

int fwd_nl_getgen(struct fwd_nl *nl, uint32_t *gen)
{
	char *buf = fwd_xmalloc(FWD_RBUF_SIZE);
	int ret = fwd_nl_request(nl, fwd_nl_hdr(buf, NFT_MSG_GETGEN, 0,
						NFPROTO_UNSPEC), buf, gen_cb, gen);

	free(buf);
	return ret;
}

/* The ruleset generation: it changes with every commit. */
static int generation(struct fwd_nl *nl, char *buf, uint32_t *gen)
{
	struct nlmsghdr *nlh = hdr(buf, NFT_MSG_GETGEN, 0);

	*gen = 0;
	return fwd_nl_request(nl, nlh, buf, gen_cb, gen);
}

/* One pass over the table: several requests, each consistent alone. */
static int read_once(struct fwd_nl *nl, struct rb_ctx *c, char *buf)
{
	bool exists;
	int ret;

	ret = fwd_live_table_info(nl, c->table, &exists, &c->t->flags,
				  &c->t->owner);
	if (ret == 0 && !exists)
		ret = -ENOENT;
	if (ret == 0)
		ret = dump(nl, c, buf, NFT_MSG_GETCHAIN, NFTA_CHAIN_TABLE, chain_cb);
	if (ret == 0)
		ret = dump(nl, c, buf, NFT_MSG_GETRULE, NFTA_RULE_TABLE, rule_cb);
	if (c->rules_only)
		return ret;
	if (ret == 0)
		ret = dump(nl, c, buf, NFT_MSG_GETSET, NFTA_SET_TABLE, set_cb);
	for (size_t i = 0; ret == 0 && i < c->t->nsets; i++)
		if (!c->counters_only || c->t->sets[i].counter)
			ret = read_elems(nl, c, buf, &c->t->sets[i]);
	return ret;
}

#define READ_TRIES 20

static int read_table(struct fwd_nl *nl, const char *name, bool counters_only,
		      bool rules_only, struct fwd_live_table **out)
{
	struct rb_ctx c = { .table = name ? name : FWD_TABLE_NAME,
			    .counters_only = counters_only,
			    .rules_only = rules_only };
	char *buf = fwd_xmalloc(FWD_RBUF_SIZE);
	uint32_t g0;
	int ret = -EAGAIN;

	*out = NULL;
	/*
	 * The table comes in several requests and dumps of several parts,
	 * each consistent alone; a commit in between (fwd's own, another
	 * fwd, nft) would mix two rulesets, and a dump cut by one may end
	 * short without saying so. Reading the generation before and after
	 * (what nft does) is not enough: the kernel moves it when a commit
	 * begins its work, and a read that falls inside a commit replacing
	 * the table saw the old and the new table's chains under one name,
	 * or the chains without their rules, with one generation before and
	 * after (up to 15 of ~900 reads racing 200 re-applies with a listener
	 * of nf_tables events open; check-kernel reapply_is_atomic). So the
	 * read sits between two quiet points at the generation it started
	 * from (fwd_nl_quiet: the kernel's commit lock taken, no commit in
	 * flight, the generation unchanged): no commit ran in between,
	 * and every object the read saw belongs to one ruleset.
	 */
	for (int i = 0; i < READ_TRIES && ret == -EAGAIN; i++) {
		c.t = fwd_xcalloc(1, sizeof(*c.t));
		c.chain_cap = c.set_cap = 0;
		ret = generation(nl, buf, &g0);
		if (ret == 0)
			ret = fwd_nl_quiet(nl, g0);
		if (ret == 0)
			ret = read_once(nl, &c, buf);
		if (ret == -EINTR || (ret == 0 && c.torn))	/* NLM_F_DUMP_INTR */
			ret = -EAGAIN;
		c.torn = false;
		if (ret == 0 || ret == -ENOENT) {
			int q = fwd_nl_quiet(nl, g0);

			if (q)
				ret = q;
		}
		if (ret) {
			fwd_live_free(c.t);
			c.t = NULL;
		}
	}
	free(buf);
	free(c.raw);
	if (ret)
		return ret;
	*out = c.t;
	return 0;
}

int fwd_live_read(struct fwd_nl *nl, const char *name,
		  struct fwd_live_table **out)
{
	return read_table(nl, name, false, false, out);
}

int fwd_live_read_counters(struct fwd_nl *nl, struct fwd_live_table **out)
{
	return read_table(nl, NULL, true, false, out);
}

int fwd_live_read_rules(struct fwd_nl *nl, struct fwd_live_table **out)
{
	return read_table(nl, NULL, false, true, out);
}

void fwd_live_free(struct fwd_live_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nsets; i++) {
		free(t->sets[i].elems);
		free(t->sets[i].counters);
	}
	free(t->sets);
	for (size_t i = 0; i < t->nchains; i++)
		free(t->chains[i].counters);
	free(t->chains);
	free(t);
}

const struct fwd_live_set *fwd_live_set_find(const struct fwd_live_table *t,
					     const char *name)
{
	for (size_t i = 0; i < t->nsets; i++)
		if (strcmp(t->sets[i].name, name) == 0)
			return &t->sets[i];
	return NULL;
}

const struct fwd_live_chain *fwd_live_chain_find(const struct fwd_live_table *t,
						 const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return &t->chains[i];
	return NULL;
}

int fwd_live_to_ir(const struct fwd_live_table *t, const struct fwd_ir *tmpl,
		   struct fwd_ir **out)
{
	struct fwd_ir *ir = fwd_xcalloc(1, sizeof(*ir));
	int ret = 0;

	*out = NULL;
	/* The template's rules may hold the queue step: they need its
	 * parameters to render. */
	ir->queue = tmpl->queue;
	ir->prog = tmpl->prog;
	if (tmpl->nclasses) {
		ir->classes = fwd_xreallocarray(NULL, tmpl->nclasses,
						sizeof(*ir->classes));
		memcpy(ir->classes, tmpl->classes,
		       tmpl->nclasses * sizeof(*ir->classes));
		ir->nclasses = tmpl->nclasses;
	}
	ir->sets = fwd_xcalloc(tmpl->nsets, sizeof(*ir->sets));
	ir->chains = fwd_xcalloc(tmpl->nchains, sizeof(*ir->chains));
	for (size_t i = 0; i < tmpl->nsets; i++) {
		const struct fwd_live_set *ls = fwd_live_set_find(t, tmpl->sets[i].name);
		struct fwd_ir_set *s = &ir->sets[ir->nsets++];

		*s = tmpl->sets[i];
		s->elems = NULL;
		s->n = s->cap = 0;
		if (!ls || !ls->key_known || ls->key != s->key) {
			ret = -EPROTO;
			continue;
		}
		s->interval = ls->interval;
		s->timeout = ls->timeout;
		s->counter = ls->counter;
		if (ls->n) {
			s->elems = fwd_xreallocarray(NULL, ls->n, sizeof(*s->elems));
			memcpy(s->elems, ls->elems, ls->n * sizeof(*s->elems));
			s->n = s->cap = ls->n;
		}
	}
	for (size_t i = 0; i < tmpl->nchains; i++) {
		const struct fwd_live_chain *lc = fwd_live_chain_find(t, tmpl->chains[i].name);
		struct fwd_ir_chain *c = &ir->chains[ir->nchains++];

		*c = tmpl->chains[i];
		c->rules = NULL;
		c->n = c->cap = 0;
		if (!lc || !lc->base) {
			ret = -EPROTO;
			continue;
		}
		c->policy_accept = lc->policy_accept;
		if (tmpl->chains[i].n) {
			c->rules = fwd_xreallocarray(NULL, tmpl->chains[i].n,
						     sizeof(*c->rules));
			memcpy(c->rules, tmpl->chains[i].rules,
			       tmpl->chains[i].n * sizeof(*c->rules));
			c->n = c->cap = tmpl->chains[i].n;
		}
	}
	if (ret) {
		fwd_ir_free(ir);
		return ret;
	}
	*out = ir;
	return 0;
}

/* ---------------------------------------------------------------- checks */

static bool key_eq(unsigned alen, const struct fwd_ir_elem *a,
		   const struct fwd_ir_elem *b)
{
	return memcmp(a->lo, b->lo, alen) == 0 && memcmp(a->hi, b->hi, alen) == 0 &&
	       a->proto == b->proto && a->plo == b->plo && a->phi == b->phi;
}

static bool expired(const struct fwd_ir_elem *e, uint64_t now_ms)
{
	return e->expires && e->expires * 1000 <= now_ms;
}

static bool live_has(const struct fwd_live_set *ls, unsigned alen,
		     const struct fwd_ir_elem *e)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = fwd_ir_elem_cmp(&ls->elems[mid], e);	/* live: set order */

		if (r == 0)
			return key_eq(alen, &ls->elems[mid], e);
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* Sets: the same keys and, but for what expired, the same elements. */
static bool set_is(const struct fwd_live_set *ls, const struct fwd_ir_set *s,
		   uint64_t now_ms)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	size_t j = 0;

	if (!ls || !ls->key_known || ls->key != s->key ||
	    ls->interval != s->interval || ls->timeout != s->timeout ||
	    ls->counter != s->counter)
		return false;
	for (size_t i = 0; i < s->n; i++) {
		if (expired(&s->elems[i], now_ms))
			continue;
		if (j >= ls->n || !key_eq(alen, &ls->elems[j], &s->elems[i]))
			return false;
		j++;
	}
	return j == ls->n;
}

/* How many chains the kernel holds for ir: the base chains and the
 * family chains of those that are split (ir.h). */
static size_t live_chains(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t i = 0; i < ir->nchains; i++)
		n += fwd_ir_chain_split(&ir->chains[i], NULL, NULL) ? 3 : 1;
	return n;
}

/* A base chain as c says (hook, priority, policy) with as many rules as
 * its layout has, and so its family chains. */
static bool chain_is(const struct fwd_live_table *t, const struct fwd_ir *ir,
		     const struct fwd_ir_chain *c)
{
	const struct fwd_live_chain *lc = fwd_live_chain_find(t, c->name);

	if (!lc || !lc->base || lc->hook != c->hook || lc->prio != c->prio ||
	    lc->policy_accept != c->policy_accept ||
	    lc->nrules != fwd_ir_part_rules(ir, c, FWD_PART_BASE, NULL, NULL))
		return false;
	for (int p = FWD_PART_V4; p <= FWD_PART_V6 &&
	     fwd_ir_chain_split(c, NULL, NULL); p++) {
		char name[40];

		fwd_ir_part_name(c, (enum fwd_ir_part)p, name, sizeof(name));
		lc = fwd_live_chain_find(t, name);
		if (!lc || lc->base ||
		    lc->nrules != fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p,
						    NULL, NULL))
			return false;
	}
	return true;
}

int fwd_live_check(struct fwd_nl *nl, const struct fwd_ir *ir,
		   const struct fwd_ir_delta *delta, bool *same)
{
	struct fwd_live_table *t = NULL;
	uint64_t now_ms;
	int ret;

	*same = false;
	ret = fwd_live_read(nl, NULL, &t);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	now_ms = fwd_now_ms();
	*same = true;
	if (delta) {
		for (size_t i = 0; i < delta->nsets && *same; i++) {
			const struct fwd_ir_delta_set *ds = &delta->sets[i];
			const struct fwd_ir_set *s = &ir->sets[ds->set];
			const struct fwd_live_set *ls = fwd_live_set_find(t, s->name);
			unsigned alen = fwd_ir_key_addr_len(s->key);

			if (!ls || !ls->key_known || ls->key != s->key) {
				*same = false;
				break;
			}
			for (size_t k = 0; k < ds->nadd && *same; k++)
				if (!expired(&ds->add[k], now_ms) &&
				    !live_has(ls, alen, &ds->add[k]))
					*same = false;
			for (size_t k = 0; k < ds->ndel && *same; k++) {
				bool readded = false;

				for (size_t a = 0; a < ds->nadd && !readded; a++)
					readded = key_eq(alen, &ds->add[a],
							 &ds->del[k]);
				if (!readded && live_has(ls, alen, &ds->del[k]))
					*same = false;
			}
		}
		fwd_live_free(t);
		return 0;
	}
	/* The queue step's meter sets are the kernel's to fill: only their
	 * presence counts. */
	if (t->nsets != ir->nsets + fwd_ir_meter_sets(ir) +
			fwd_ir_class_meter_sets(ir) + fwd_ir_prog_meter_sets(ir) ||
	    t->nchains != live_chains(ir))
		*same = false;
	for (size_t i = 0; i < ir->nsets && *same; i++)
		*same = set_is(fwd_live_set_find(t, ir->sets[i].name),
			       &ir->sets[i], now_ms);
	for (size_t i = 0; i < ir->nchains && *same; i++)
		*same = chain_is(t, ir, &ir->chains[i]);
	fwd_live_free(t);
	return 0;
}

int fwd_live_matches(struct fwd_nl *nl, const struct fwd_ir *ir, bool *same)
{
	return fwd_live_check(nl, ir, NULL, same);
}

/* ---------------------------------------------------------------- counters */

/*
 * The set a rule's counter is known by, as readback.c names a live rule's
 * (rule_expr_cb): a meter rule's meter set (meter4/6, clsK_m4/6,
 * prog_meter: its counter counts the meter's drops), else the set its
 * first lookup names, else "" (none, or an anonymous set of ICMP types).
 */
static void rule_key(const struct fwd_ir *ir, const struct fwd_ir_rule *r,
		     char *buf, size_t len)
{
	const char *set = "";

	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		const struct fwd_ir_match *m = &r->m[i];
		char fam = m->u32 == NFPROTO_IPV6 ? '6' : '4';

		switch (m->kind) {
		case FWD_M_METER:
			snprintf(buf, len, "meter%c", fam);
			return;
		case FWD_M_CLASS_METER:
			if (m->set < ir->nclasses) {
				snprintf(buf, len, "%s_m%c",
					 ir->classes[m->set].name, fam);
				return;
			}
			break;
		case FWD_M_PROG_METER:
			snprintf(buf, len, "prog_meter");
			return;
		case FWD_M_LOOKUP_SRC:
		case FWD_M_LOOKUP_DST:
			if (!*set && m->set < ir->nsets)
				set = ir->sets[m->set].name;
			break;
		default:
			break;
		}
	}
	snprintf(buf, len, "%s", set);
}

/* A live rule's key: anonymous sets (ICMP types) count as none. */
static const char *live_key(const struct fwd_live_counter *lk)
{
	return strncmp(lk->set, "__set", 5) == 0 ? "" : lk->set;
}

/* The live element with e's key (binary search: both in set order). */
static const struct fwd_live_elem_counter *
live_counter(const struct fwd_live_set *ls, unsigned alen,
	     const struct fwd_ir_elem *e)
{
	size_t lo = 0, hi = ls->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = fwd_ir_elem_cmp(&ls->elems[mid], e);

		if (r == 0)
			return key_eq(alen, &ls->elems[mid], e) ?
			       &ls->counters[mid] : NULL;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static struct fwd_ir_count *set_counts(const struct fwd_live_set *ls,
				       const struct fwd_ir_set *s)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	struct fwd_ir_count *out;

	if (!s->counter || s->n == 0)
		return NULL;
	out = fwd_xcalloc(s->n, sizeof(*out));
	if (!ls || !ls->counters || !ls->key_known || ls->key != s->key)
		return out;
	for (size_t j = 0; j < s->n; j++) {
		const struct fwd_live_elem_counter *k =
			live_counter(ls, alen, &s->elems[j]);

		if (k) {
			out[j].packets = k->packets;
			out[j].bytes = k->bytes;
		}
	}
	return out;
}

/*
 * The live counters of one kernel chain lc matched to the IR rules that
 * part p of c may hold (rules[0..n): every rule of the part, those into
 * empty sets too). Rules have no key of their own, so a counter is known
 * by its set (rule_key) and its order among the counters of the same set
 * in the chain: the k-th live counter of set S is the k-th IR counter
 * rule of S, when the chain and the IR have as many of them (else the
 * group changed and starts from zero). Which rules the running table left
 * out (their set was empty then) does not matter: a set that gained its
 * first element keeps the counts of every other rule of the chain.
 */
static void part_counts(const struct fwd_live_chain *lc, const struct fwd_ir *ir,
			const struct fwd_ir_chain *c, const long *rules, size_t n,
			struct fwd_ir_count *sum, struct fwd_ir_count *part)
{
	char key[40];

	for (size_t k = 0; k < lc->ncounters; k++) {
		const struct fwd_live_counter *lk = &lc->counters[k];
		const char *want = live_key(lk);
		size_t ord = 0, nlive = 0, nir = 0;
		long hit = -1;

		for (size_t j = 0; j < lc->ncounters; j++)
			if (strcmp(live_key(&lc->counters[j]), want) == 0) {
				ord += j < k;
				nlive++;
			}
		for (size_t i = 0; i < n; i++) {
			if (rules[i] < 0 || !c->rules[rules[i]].counter)
				continue;
			rule_key(ir, &c->rules[rules[i]], key, sizeof(key));
			if (strcmp(key, want) != 0)
				continue;
			if (nir++ == ord)
				hit = rules[i];
		}
		if (hit < 0 || nir != nlive)
			continue;
		sum[hit].packets += lk->packets;
		sum[hit].bytes += lk->bytes;
		part[hit].packets = lk->packets;
		part[hit].bytes = lk->bytes;
	}
}

/*
 * The counters of IR chain c from the kernel chains it is made of (ir.h,
 * "The chains in the kernel"): the base chain and its family chains. A
 * rule in both family chains gets the sum of its copies; part[p] (beside
 * c's rules too) gets each kernel chain's own.
 */
static struct fwd_ir_count *chain_counts(const struct fwd_live_table *t,
					 const struct fwd_ir *ir,
					 const struct fwd_ir_chain *c,
					 struct fwd_ir_count *part[FWD_PART_COUNT])
{
	struct fwd_ir_count *out = fwd_xcalloc(c->n ? c->n : 1, sizeof(*out));
	long *rules = fwd_xcalloc(c->n + 2, sizeof(*rules));
	/* every set taken as holding elements: every rule of the part */
	bool *full = fwd_xcalloc(ir->nsets ? ir->nsets : 1, sizeof(*full));

	for (int p = FWD_PART_BASE; p < FWD_PART_COUNT; p++) {
		size_t n = fwd_ir_part_rules(ir, c, (enum fwd_ir_part)p, full,
					     rules);
		const struct fwd_live_chain *lc;
		char name[40];

		part[p] = fwd_xcalloc(c->n ? c->n : 1, sizeof(*part[p]));
		if (p != FWD_PART_BASE && !fwd_ir_chain_split(c, NULL, NULL))
			continue;
		fwd_ir_part_name(c, (enum fwd_ir_part)p, name, sizeof(name));
		lc = fwd_live_chain_find(t, name);
		if (lc)
			part_counts(lc, ir, c, rules, n, out, part[p]);
	}
	free(full);
	free(rules);
	return out;
}

struct fwd_ir_counts *fwd_live_counts(const struct fwd_live_table *t,
				      const struct fwd_ir *ir)
{
	struct fwd_ir_counts *c = fwd_xcalloc(1, sizeof(*c));

	c->nsets = ir->nsets;
	c->nchains = ir->nchains;
	c->elem = fwd_xcalloc(ir->nsets ? ir->nsets : 1, sizeof(*c->elem));
	c->rule = fwd_xcalloc(ir->nchains ? ir->nchains : 1, sizeof(*c->rule));
	for (int p = 0; p < FWD_PART_COUNT; p++)
		c->part[p] = fwd_xcalloc(ir->nchains ? ir->nchains : 1,
					 sizeof(*c->part[p]));
	for (size_t i = 0; i < ir->nsets; i++)
		c->elem[i] = set_counts(fwd_live_set_find(t, ir->sets[i].name),
					&ir->sets[i]);
	for (size_t i = 0; i < ir->nchains; i++) {
		struct fwd_ir_count *part[FWD_PART_COUNT];

		c->rule[i] = chain_counts(t, ir, &ir->chains[i], part);
		for (int p = 0; p < FWD_PART_COUNT; p++)
			c->part[p][i] = part[p];
	}
	return c;
}

void fwd_ir_counts_free(struct fwd_ir_counts *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nsets; i++)
		free(c->elem[i]);
	for (size_t i = 0; i < c->nchains; i++) {
		free(c->rule[i]);
		for (int p = 0; p < FWD_PART_COUNT; p++)
			free(c->part[p] ? c->part[p][i] : NULL);
	}
	for (int p = 0; p < FWD_PART_COUNT; p++)
		free(c->part[p]);
	free(c->elem);
	free(c->rule);
	free(c);
}
