// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the running kernel can do: one transaction that tries everything fwd
 * may use, each message with its own ACK, and that is sure to be rolled
 * back because it ends with a message that must fail. The kernel answers
 * every message before it aborts, so one round trip says what works, and
 * nothing is ever committed.
 */
#include "kmod.h"
#include "batch.h"
#include "lin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "json.h"
#include "util.h"

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>

enum probe {
	P_TABLE,	/* inet table: nf_tables + inet family */
	P_OWNER,	/* table flag owner */
	P_PERSIST,	/* table flags owner|persist */
	P_CONCAT_SET,	/* concatenated interval set (pipapo) */
	P_CONCAT_ELEM,	/* ... and an element with KEY_END */
	P_TIMEOUT,	/* set with timeouts */
	P_DESTROY,	/* NFT_MSG_DESTROYSETELEM of an absent element (6.3+) */
	P_CHAIN,	/* a regular chain for the rules below */
	P_CT,		/* ct state */
	P_REJECT,	/* reject with icmpx */
	P_LOG,		/* log prefix */
	P_QUEUE,	/* native queue expression */
	P_NFQUEUE,	/* xt NFQUEUE rev 3 via nft_compat */
	P_FIB,		/* fib saddr . mark . iif oif missing (rpfilter) */
	P_CT_LABEL,	/* ct label 127 (program = rules' labelled UDP flows) */
	P_FAIL_DUP,	/* the first table again with EXCL: must fail */
	P_FAIL_DEL,	/* delete a table that does not exist: must fail */
	P_COUNT
};

static const char *const probe_what[P_COUNT] = {
	[P_TABLE] = "inet table",
	[P_OWNER] = "table flag owner",
	[P_PERSIST] = "table flag persist",
	[P_CONCAT_SET] = "concatenated interval set",
	[P_CONCAT_ELEM] = "concatenated interval element",
	[P_TIMEOUT] = "set with timeouts",
	[P_DESTROY] = "destroy of set elements (Linux 6.3)",
	[P_CHAIN] = "chain",
	[P_CT] = "ct expression",
	[P_REJECT] = "reject expression",
	[P_LOG] = "log expression",
	[P_QUEUE] = "native queue expression (nft_queue)",
	[P_NFQUEUE] = "xt NFQUEUE target rev 3 (nft_compat)",
	[P_FIB] = "fib expression (nft_fib_inet)",
	[P_CT_LABEL] = "conntrack labels (ct label)",
};

struct probe_ctx {
	struct fwd_batch *b;
	char table[32], table_o[32], table_p[32], absent[40];
	size_t idx[P_COUNT];	/* message index of each probe */
};

static struct nlmsghdr *put(struct probe_ctx *c, enum probe p, uint16_t type,
			    uint16_t flags)
{
	struct fwd_msg *rec;
	struct nlmsghdr *nlh = fwd_batch_put(c->b, type, NFPROTO_INET, flags,
					     FWD_MSG_PROBE, &rec);

	rec->probe = p;
	c->idx[p] = c->b->n - 1;
	return nlh;
}

static void probe_table(struct probe_ctx *c, enum probe p, const char *name,
			uint16_t type, bool flags, uint32_t f)
{
	struct nftnl_table *t = fwd_nn(nftnl_table_alloc());
	struct nlmsghdr *nlh;

	nftnl_table_set_str(t, NFTNL_TABLE_NAME, name);
	if (flags)
		nftnl_table_set_u32(t, NFTNL_TABLE_FLAGS, f);
	nlh = put(c, p, type, type == NFT_MSG_NEWTABLE ?
		  NLM_F_CREATE | NLM_F_EXCL : 0);
	nftnl_table_nlmsg_build_payload(nlh, t);
	fwd_batch_close(c->b, nlh);
	nftnl_table_free(t);
}

static void probe_sets(struct probe_ctx *c)
{
	static struct fwd_ir_elem e = {
		.lo = { 192, 0, 2, 0 }, .hi = { 192, 0, 2, 255 },
		.proto = IPPROTO_TCP, .plo = 22, .phi = 22,
	};
	static struct fwd_ir_set cs = {
		.name = "c", .key = FWD_KEY_ADDR4_PROTO_PORT, .interval = true,
		.elems = &e, .n = 1, .cap = 1,
	};
	static const struct fwd_ir_set ts = {
		.name = "t", .key = FWD_KEY_ADDR4, .timeout = true,
	};

	fwd_lin_set(c->b, c->table, &cs, 1);
	c->b->msgs[c->b->n - 1].kind = FWD_MSG_PROBE;
	c->b->msgs[c->b->n - 1].probe = P_CONCAT_SET;
	c->idx[P_CONCAT_SET] = c->b->n - 1;
	fwd_lin_elems(c->b, c->table, &cs, 1, NULL);
	c->b->msgs[c->b->n - 1].kind = FWD_MSG_PROBE;
	c->b->msgs[c->b->n - 1].probe = P_CONCAT_ELEM;
	c->idx[P_CONCAT_ELEM] = c->b->n - 1;
	fwd_lin_set(c->b, c->table, &ts, 2);
	c->b->msgs[c->b->n - 1].kind = FWD_MSG_PROBE;
	c->b->msgs[c->b->n - 1].probe = P_TIMEOUT;
	c->idx[P_TIMEOUT] = c->b->n - 1;
	/* Destroy an element the set does not hold: fine where the kernel
	 * knows the message, EOPNOTSUPP or EINVAL before 6.3. */
	{
		static const struct fwd_ir_elem absent = { .lo = { 192, 0, 2, 1 },
							   .hi = { 192, 0, 2, 1 } };
		struct fwd_ir_set ds = ts;
		struct fwd_elems_op op = { .type = FWD_NFT_MSG_DESTROYSETELEM,
					   .set_id = 2 };

		ds.elems = (struct fwd_ir_elem *)&absent;
		ds.n = ds.cap = 1;
		fwd_lin_elems_op(c->b, c->table, &ds, &op);
		c->b->msgs[c->b->n - 1].kind = FWD_MSG_PROBE;
		c->b->msgs[c->b->n - 1].probe = P_DESTROY;
		c->b->msgs[c->b->n - 1].set = NULL;
		c->idx[P_DESTROY] = c->b->n - 1;
	}
}

static void probe_chain(struct probe_ctx *c)
{
	struct nftnl_chain *ch = fwd_nn(nftnl_chain_alloc());
	struct nlmsghdr *nlh;

	/* A regular chain: no hook, so nothing could ever see a packet. */
	nftnl_chain_set_str(ch, NFTNL_CHAIN_TABLE, c->table);
	nftnl_chain_set_str(ch, NFTNL_CHAIN_NAME, "c");
	nlh = put(c, P_CHAIN, NFT_MSG_NEWCHAIN, NLM_F_CREATE | NLM_F_EXCL);
	nftnl_chain_nlmsg_build_payload(nlh, ch);
	fwd_batch_close(c->b, nlh);
	nftnl_chain_free(ch);
}

static struct nftnl_expr *add(struct nftnl_rule *r, const char *name)
{
	struct nftnl_expr *e = fwd_nn(nftnl_expr_alloc(name));

	nftnl_rule_add_expr(r, e);
	return e;
}

static void probe_rule(struct probe_ctx *c, enum probe p)
{
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct nftnl_expr *e;
	struct nlmsghdr *nlh;
	uint32_t zero = 0;

	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(r, NFTNL_RULE_TABLE, c->table);
	nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, "c");
	switch (p) {
	case P_CT:
		e = add(r, "ct");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
		e = add(r, "cmp");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_NEQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &zero, 4);
		break;
	case P_REJECT:
		e = add(r, "reject");
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE,
				  NFT_REJECT_ICMPX_ADMIN_PROHIBITED);
		break;
	case P_LOG:
		e = add(r, "log");
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, "fwd-probe ");
		break;
	case P_QUEUE:
		e = add(r, "queue");
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, 0);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, 1);
		nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, 0);
		break;
	case P_NFQUEUE: {
		/* The payload must be XT_ALIGN(sizeof(info)) = 8 bytes, and
		 * the target refuses queues_total == 0. libnftnl takes the
		 * buffer over (and frees it), so it must come from malloc. */
		struct xt_NFQ_info_v3 *info = fwd_xcalloc(1, 8);

		info->queuenum = 0;
		info->queues_total = 1;
		e = add(r, "target");
		nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
		nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
		nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, 8);
		break;
	}
	case P_FIB:
		/* The expression rpfilter = strict compiles to. The kernel
		 * checks its hooks only once a base chain reaches it, so the
		 * hookless chain "c" probes whether the expression exists. */
		e = add(r, "fib");
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, NFTA_FIB_F_SADDR |
				   NFTA_FIB_F_MARK | NFTA_FIB_F_IIF |
				   NFTA_FIB_F_PRESENT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, NFT_FIB_RESULT_OIF);
		nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
		e = add(r, "cmp");
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, &zero, 4);
		break;
	case P_CT_LABEL:
		/* Exactly what the program rules' label accept loads: the
		 * kernel refuses the key without CONFIG_NF_CONNTRACK_LABELS.
		 * A load only: it takes no label user count, and is rolled
		 * back with the rest. */
		fwd_lin_ct_label(r, FWD_CT_LABEL_BIT);
		break;
	default:
		break;
	}
	nlh = put(c, p, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	fwd_batch_close(c->b, nlh);
	nftnl_rule_free(r);
}

static void build(struct probe_ctx *c)
{
	fwd_batch_begin(c->b);
	probe_table(c, P_TABLE, c->table, NFT_MSG_NEWTABLE, false, 0);
	probe_table(c, P_OWNER, c->table_o, NFT_MSG_NEWTABLE, true,
		    NFT_TABLE_F_OWNER);
	probe_table(c, P_PERSIST, c->table_p, NFT_MSG_NEWTABLE, true,
		    NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST);
	probe_sets(c);
	probe_chain(c);
	probe_rule(c, P_CT);
	probe_rule(c, P_REJECT);
	probe_rule(c, P_LOG);
	probe_rule(c, P_QUEUE);
	probe_rule(c, P_NFQUEUE);
	probe_rule(c, P_FIB);
	probe_rule(c, P_CT_LABEL);
	probe_table(c, P_FAIL_DUP, c->table, NFT_MSG_NEWTABLE, false, 0);
	probe_table(c, P_FAIL_DEL, c->absent, NFT_MSG_DELTABLE, false, 0);
	fwd_batch_end(c->b);
}

static void __attribute__((format(printf, 2, 3)))
detail_add(struct fwd_features *f, const char *fmt, ...)
{
	size_t n = strlen(f->detail);
	va_list ap;

	if (n + 3 >= sizeof(f->detail))
		return;
	if (n) {
		memcpy(f->detail + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(f->detail + n, sizeof(f->detail) - n, fmt, ap);
	va_end(ap);
}

/* Best effort when the impossible happened and the probe committed. */
static void undo(struct fwd_nl *nl, const struct probe_ctx *c)
{
	const char *names[] = { c->table, c->table_o, c->table_p };
	struct fwd_batch b;

	fwd_batch_init(&b, nl);
	fwd_batch_begin(&b);
	for (size_t i = 0; i < 3; i++)
		fwd_lin_table(&b, NFT_MSG_DELTABLE, names[i], false, 0);
	fwd_batch_end(&b);
	fwd_batch_talk(nl, &b);
	fwd_batch_free(&b);
}

int fwd_probe(struct fwd_features *f)
{
	struct fwd_nl nl;
	struct fwd_batch b;
	struct probe_ctx c = { .b = &b };
	int err[P_COUNT];
	int ret;

	memset(f, 0, sizeof(*f));
	ret = fwd_nl_socket(&nl);
	if (ret) {
		snprintf(f->detail, sizeof(f->detail),
			 "cannot open a netfilter netlink socket: %s",
			 strerror(-ret));
		return ret;
	}
	snprintf(c.table, sizeof(c.table), "fwd_probe_%d", (int)getpid());
	snprintf(c.table_o, sizeof(c.table_o), "fwd_probe_o_%d", (int)getpid());
	snprintf(c.table_p, sizeof(c.table_p), "fwd_probe_p_%d", (int)getpid());
	snprintf(c.absent, sizeof(c.absent), "fwd_probe_absent_%d", (int)getpid());

	fwd_batch_init(&b, &nl);
	build(&c);
	ret = fwd_batch_talk(&nl, &b);
	if (ret) {
		snprintf(f->detail, sizeof(f->detail), "probe transaction: %s",
			 strerror(-ret));
		goto out;
	}
	if (b.msgs[0].err) {
		/* BEGIN refused (the only answer then): no permission, or no
		 * nf_tables at all. */
		ret = b.msgs[0].err == EPERM ? -EPERM : 0;
		snprintf(f->detail, sizeof(f->detail), "%s: %s",
			 b.msgs[0].err == EPERM ? "not permitted (fwd needs "
			 "CAP_NET_ADMIN)" : "nf_tables is not available",
			 strerror(b.msgs[0].err));
		goto out;
	}
	if (fwd_batch_committed(&b) || (b.msgs[c.idx[P_FAIL_DEL]].acked &&
					 !b.msgs[c.idx[P_FAIL_DEL]].err)) {
		undo(&nl, &c);
		snprintf(f->detail, sizeof(f->detail), "probe transaction was "
			 "not rolled back as it must be; probe tables removed");
		ret = -EIO;
		goto out;
	}
	for (int p = 0; p < P_COUNT; p++) {
		const struct fwd_msg *m = &b.msgs[c.idx[p]];

		err[p] = m->acked ? m->err : ENODATA;
	}
	f->nf_tables = true;
	f->inet_family = err[P_TABLE] == 0;
	if (!f->inet_family) {
		detail_add(f, "%s: %s (nothing else can be probed)",
			   probe_what[P_TABLE], strerror(err[P_TABLE]));
		goto out;
	}
	f->table_owner = err[P_OWNER] == 0;
	f->table_persist = err[P_PERSIST] == 0;
	f->concat_interval = err[P_CONCAT_SET] == 0 && err[P_CONCAT_ELEM] == 0;
	f->set_timeout = err[P_TIMEOUT] == 0;
	f->destroy_setelem = err[P_DESTROY] == 0;
	f->conntrack = err[P_CT] == 0;
	f->reject = err[P_REJECT] == 0;
	f->log = err[P_LOG] == 0;
	f->native_queue = err[P_QUEUE] == 0;
	f->xt_nfqueue = err[P_NFQUEUE] == 0;
	f->fib = err[P_FIB] == 0;
	f->ct_label = err[P_CT_LABEL] == 0;
	for (int p = P_OWNER; p <= P_CT_LABEL; p++)
		if (err[p])
			detail_add(f, "no %s: %s", probe_what[p], strerror(err[p]));
	if (!f->fib)
		detail_add(f, "[defaults] rpfilter = strict or loose cannot be "
			   "applied (the kernel refuses the table); "
			   "rpfilter = no runs without the reverse-path check");
	if (!f->ct_label)
		detail_add(f, "a policy with program = rules cannot be applied "
			   "(their label accept needs conntrack labels; the "
			   "kernel refuses the table)");
	if (!f->native_queue && f->xt_nfqueue)
		detail_add(f, "NFQUEUE goes through the xt target");
	if (!f->native_queue && !f->xt_nfqueue)
		detail_add(f, "no way to queue packets to userspace");
	if (!f->detail[0])
		detail_add(f, "everything fwd can use is present");
out:
	fwd_batch_free(&b);
	fwd_nl_socket_close(&nl);
	return ret;
}

void fwd_features_print(const struct fwd_features *f, FILE *out, bool json)
{
	const struct {
		const char *key, *label;
		bool v;
	} rows[] = {
		{ "nf_tables", "nf_tables", f->nf_tables },
		{ "inet_family", "inet family", f->inet_family },
		{ "concat_interval", "concatenated interval sets", f->concat_interval },
		{ "set_timeout", "element timeouts", f->set_timeout },
		{ "conntrack", "conntrack (ct)", f->conntrack },
		{ "reject", "reject", f->reject },
		{ "log", "log", f->log },
		{ "native_queue", "queue (native nft_queue)", f->native_queue },
		{ "xt_nfqueue", "NFQUEUE (xt target via nft_compat)", f->xt_nfqueue },
		{ "table_owner", "table flag owner", f->table_owner },
		{ "table_persist", "table flag persist", f->table_persist },
		{ "destroy_setelem", "destroy set elements", f->destroy_setelem },
		{ "fib", "fib (rpfilter)", f->fib },
		{ "ct_label", "conntrack labels (program rules)", f->ct_label },
	};
	struct utsname u;
	const char *rel = uname(&u) == 0 ? u.release : "unknown";

	if (json) {
		struct json_out j;

		json_init(&j, out);
		json_obj_begin(&j);
		json_key(&j, "kernel"); json_str(&j, rel);
		for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			json_key(&j, rows[i].key);
			json_bool(&j, rows[i].v);
		}
		json_key(&j, "detail"); json_str(&j, f->detail);
		json_obj_end(&j);
		json_finish(&j);
		return;
	}
	fprintf(out, "kernel %s\n", rel);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		fprintf(out, "  %-36s %s\n", rows[i].label, rows[i].v ? "yes" : "no");
	if (f->detail[0])
		fprintf(out, "%s\n", f->detail);
}
