// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * `fwctl doctor`: who else filters packets on this host, and what that
 * means for fwd. Every nftables table of every family and every base chain
 * is listed (hook, priority, policy, rules, how many of them drop), then a
 * pure function turns the listing into findings. The facts behind them:
 *
 * - a packet passes every base chain on its hook, in priority order; an
 *   accept ends only its own chain, a drop anywhere is final. So a drop
 *   in another table's input chain wins over fwd's accept, whatever the
 *   priorities, and another table's accept never overrides fwd's drop;
 * - fwd filters the host's own input and output. Routed traffic (forward),
 *   including containers and VMs behind a bridge, and connections DNATed
 *   to another address in prerouting (Docker's published ports) never go
 *   through fwd's input chain;
 * - legacy iptables (x_tables, not nftables) filters on the same hooks but
 *   nftables cannot list it: its table names are in /proc/net.
 */
#include "kmod.h"
#include "nlsock.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "json.h"
#include "util.h"

struct doc_ctx {
	struct fwd_doctor *doc;
	size_t tcap, ccap;
};

static struct fwd_doctor_table *table_of(struct fwd_doctor *doc,
					 uint8_t family, const char *name)
{
	for (size_t i = 0; i < doc->ntables; i++)
		if (doc->tables[i].family == family &&
		    strcmp(doc->tables[i].name, name) == 0)
			return &doc->tables[i];
	return NULL;
}

static int table_cb(const struct nlmsghdr *nlh, void *data)
{
	struct doc_ctx *c = data;
	struct nftnl_table *t = fwd_nn(nftnl_table_alloc());
	struct fwd_doctor_table *dt;

	if (nftnl_table_nlmsg_parse(nlh, t) < 0)
		goto out;
	FWD_GROW(c->doc->tables, c->tcap, c->doc->ntables + 1);
	dt = &c->doc->tables[c->doc->ntables++];
	memset(dt, 0, sizeof(*dt));
	dt->family = (uint8_t)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY);
	snprintf(dt->name, sizeof(dt->name), "%s",
		 nftnl_table_get_str(t, NFTNL_TABLE_NAME) ?: "");
	dt->flags = nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS);
	if (nftnl_table_is_set(t, NFTNL_TABLE_OWNER))
		dt->owner = nftnl_table_get_u32(t, NFTNL_TABLE_OWNER);
	dt->ours = dt->family == NFPROTO_INET &&
		   strcmp(dt->name, FWD_TABLE_NAME) == 0;
	dt->docker = strncasecmp(dt->name, "docker", 6) == 0;
out:
	nftnl_table_free(t);
	return MNL_CB_OK;
}

static int chain_cb(const struct nlmsghdr *nlh, void *data)
{
	struct doc_ctx *c = data;
	struct nftnl_chain *ch = fwd_nn(nftnl_chain_alloc());
	struct fwd_doctor_table *t;
	struct fwd_doctor_chain *dc;
	uint8_t family;
	const char *table;

	if (nftnl_chain_nlmsg_parse(nlh, ch) < 0)
		goto out;
	family = (uint8_t)nftnl_chain_get_u32(ch, NFTNL_CHAIN_FAMILY);
	table = nftnl_chain_get_str(ch, NFTNL_CHAIN_TABLE) ?: "";
	t = table_of(c->doc, family, table);
	if (t) {
		t->nchains++;
		if (strncmp(nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME) ?: "",
			    "DOCKER", 6) == 0)
			t->docker = true;
	}
	if (!nftnl_chain_is_set(ch, NFTNL_CHAIN_HOOKNUM))
		goto out;
	FWD_GROW(c->doc->chains, c->ccap, c->doc->nchains + 1);
	dc = &c->doc->chains[c->doc->nchains++];
	memset(dc, 0, sizeof(*dc));
	dc->family = family;
	snprintf(dc->table, sizeof(dc->table), "%s", table);
	snprintf(dc->name, sizeof(dc->name), "%s",
		 nftnl_chain_get_str(ch, NFTNL_CHAIN_NAME) ?: "");
	snprintf(dc->type, sizeof(dc->type), "%s",
		 nftnl_chain_get_str(ch, NFTNL_CHAIN_TYPE) ?: "");
	dc->hook = nftnl_chain_get_u32(ch, NFTNL_CHAIN_HOOKNUM);
	dc->prio = nftnl_chain_get_s32(ch, NFTNL_CHAIN_PRIO);
	dc->policy_accept = !nftnl_chain_is_set(ch, NFTNL_CHAIN_POLICY) ||
			    nftnl_chain_get_u32(ch, NFTNL_CHAIN_POLICY) == NF_ACCEPT;
	if (nftnl_chain_is_set(ch, NFTNL_CHAIN_DEV))
		snprintf(dc->dev, sizeof(dc->dev), "%s",
			 nftnl_chain_get_str(ch, NFTNL_CHAIN_DEV));
	dc->ours = family == NFPROTO_INET && strcmp(table, FWD_TABLE_NAME) == 0;
out:
	nftnl_chain_free(ch);
	return MNL_CB_OK;
}

struct rule_scan {
	bool drop, xt;
};

static int expr_cb(struct nftnl_expr *e, void *data)
{
	struct rule_scan *r = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!name)
		return MNL_CB_OK;
	if (strcmp(name, "reject") == 0)
		r->drop = true;
	else if (strcmp(name, "immediate") == 0 &&
		 nftnl_expr_is_set(e, NFTNL_EXPR_IMM_VERDICT) &&
		 nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_VERDICT) == NF_DROP)
		r->drop = true;
	else if (strcmp(name, "match") == 0 || strcmp(name, "target") == 0)
		r->xt = true;
	return MNL_CB_OK;
}

static int rule_cb(const struct nlmsghdr *nlh, void *data)
{
	struct doc_ctx *c = data;
	struct nftnl_rule *r = fwd_nn(nftnl_rule_alloc());
	struct rule_scan rs = { 0 };
	struct fwd_doctor_table *t;
	const char *table, *chain;
	uint8_t family;

	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	family = (uint8_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE) ?: "";
	chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN) ?: "";
	nftnl_expr_foreach(r, expr_cb, &rs);
	t = table_of(c->doc, family, table);
	if (t) {
		t->nrules++;
		t->xt |= rs.xt;
	}
	for (size_t i = 0; i < c->doc->nchains; i++) {
		struct fwd_doctor_chain *dc = &c->doc->chains[i];

		if (dc->family == family && strcmp(dc->table, table) == 0 &&
		    strcmp(dc->name, chain) == 0) {
			dc->nrules++;
			dc->ndrop += rs.drop;
			break;
		}
	}
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

static int set_cb(const struct nlmsghdr *nlh, void *data)
{
	struct doc_ctx *c = data;
	struct nftnl_set *s = fwd_nn(nftnl_set_alloc());
	struct fwd_doctor_table *t;

	if (nftnl_set_nlmsg_parse(nlh, s) == 0) {
		t = table_of(c->doc, (uint8_t)nftnl_set_get_u32(s, NFTNL_SET_FAMILY),
			     nftnl_set_get_str(s, NFTNL_SET_TABLE) ?: "");
		if (t && !(nftnl_set_get_u32(s, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS))
			t->nsets++;
	}
	nftnl_set_free(s);
	return MNL_CB_OK;
}

static void legacy_tables(struct fwd_doctor *doc)
{
	static const char *const files[] = {
		"/proc/net/ip_tables_names", "/proc/net/ip6_tables_names",
	};
	size_t len = 0;

	doc->legacy[0] = '\0';
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");
		char line[64];

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, "\n")] = '\0';
			if (!line[0] || len + strlen(line) + 8 >= sizeof(doc->legacy))
				continue;
			len += (size_t)snprintf(doc->legacy + len,
						sizeof(doc->legacy) - len, "%s%s%s",
						len ? ", " : "", i ? "ip6 " : "ip ",
						line);
		}
		fclose(f);
	}
}

int fwd_doctor_read(struct fwd_nl *nl, struct fwd_doctor **out)
{
	static const struct {
		uint16_t type;
		int (*cb)(const struct nlmsghdr *, void *);
	} dumps[] = {
		{ NFT_MSG_GETTABLE, table_cb },
		{ NFT_MSG_GETCHAIN, chain_cb },
		{ NFT_MSG_GETSET, set_cb },
		{ NFT_MSG_GETRULE, rule_cb },
	};
	struct doc_ctx c = { .doc = fwd_xcalloc(1, sizeof(*c.doc)) };
	char *buf = fwd_xmalloc(FWD_RBUF_SIZE);
	int ret = 0;

	*out = NULL;
	/* Tables first: chains, sets and rules are counted into them. A
	 * commit in between may make a count stale; it is advice, not state. */
	for (size_t i = 0; ret == 0 && i < sizeof(dumps) / sizeof(dumps[0]); i++) {
		struct nlmsghdr *nlh = fwd_nl_hdr(buf, dumps[i].type, NLM_F_DUMP,
						  NFPROTO_UNSPEC);

		ret = fwd_nl_request(nl, nlh, buf, dumps[i].cb, &c);
	}
	free(buf);
	if (ret) {
		fwd_doctor_free(c.doc);
		return ret;
	}
	legacy_tables(c.doc);
	*out = c.doc;
	return 0;
}

void fwd_doctor_free(struct fwd_doctor *doc)
{
	if (!doc)
		return;
	free(doc->tables);
	free(doc->chains);
	free(doc);
}

/* ---------------------------------------------------------------- findings */

static const char *family_name(uint8_t f)
{
	switch (f) {
	case NFPROTO_INET: return "inet";
	case NFPROTO_IPV4: return "ip";
	case NFPROTO_IPV6: return "ip6";
	case NFPROTO_ARP: return "arp";
	case NFPROTO_BRIDGE: return "bridge";
	case NFPROTO_NETDEV: return "netdev";
	}
	return "unknown";
}

static const char *hook_name(uint8_t family, unsigned hook)
{
	static const char *const inet[] = {
		"prerouting", "input", "forward", "output", "postrouting", "ingress",
	};

	if (family == NFPROTO_NETDEV)
		return hook == NF_NETDEV_INGRESS ? "ingress" :
		       hook == NF_NETDEV_EGRESS ? "egress" : "?";
	if (family == NFPROTO_ARP)
		return hook == 0 ? "input" : hook == 1 ? "output" :
		       hook == 2 ? "forward" : "?";
	return hook < 6 ? inet[hook] : "?";
}

static bool ci_has(const char *s, const char *needle)
{
	size_t n = strlen(needle);

	for (; *s; s++)
		if (strncasecmp(s, needle, n) == 0)
			return true;
	return false;
}

static bool table_has_chain_prefix(const struct fwd_doctor *doc,
				   const struct fwd_doctor_table *t,
				   const char *prefix)
{
	for (size_t i = 0; i < doc->nchains; i++)
		if (doc->chains[i].family == t->family &&
		    strcmp(doc->chains[i].table, t->name) == 0 &&
		    strncmp(doc->chains[i].name, prefix, strlen(prefix)) == 0)
			return true;
	return false;
}


/* iptables-nft makes its standard tables with upper-case chains. */
static bool is_iptables_nft(const struct fwd_doctor *doc,
			    const struct fwd_doctor_table *t)
{
	static const char *const names[] = { "filter", "nat", "mangle", "raw",
					     "security" };

	if (t->xt)
		return true;
	if (t->family != NFPROTO_IPV4 && t->family != NFPROTO_IPV6 &&
	    t->family != NFPROTO_ARP && t->family != NFPROTO_BRIDGE)
		return false;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(t->name, names[i]) == 0)
			return table_has_chain_prefix(doc, t, "INPUT") ||
			       table_has_chain_prefix(doc, t, "OUTPUT") ||
			       table_has_chain_prefix(doc, t, "FORWARD") ||
			       table_has_chain_prefix(doc, t, "PREROUTING") ||
			       table_has_chain_prefix(doc, t, "POSTROUTING");
	return false;
}

/* "table ip filter (iptables-nft, Docker)" */
static void table_label(const struct fwd_doctor *doc, uint8_t family,
			const char *name, char *buf, size_t len)
{
	const struct fwd_doctor_table *t = NULL;
	const char *who[3];
	unsigned n = 0;
	int w;

	for (size_t i = 0; i < doc->ntables; i++)
		if (doc->tables[i].family == family &&
		    strcmp(doc->tables[i].name, name) == 0)
			t = &doc->tables[i];
	if (t && t->ours)
		who[n++] = "fwd";
	if (t && is_iptables_nft(doc, t))
		who[n++] = "iptables-nft";
	if (t && t->docker)
		who[n++] = "Docker";
	else if (t && ci_has(t->name, "firewalld"))
		who[n++] = "firewalld";
	w = snprintf(buf, len, "table %s %s", family_name(family), name);
	for (unsigned i = 0; i < n && w > 0 && (size_t)w < len; i++)
		w += snprintf(buf + w, len - (size_t)w, "%s%s%s", i ? ", " : " (",
			      who[i], i + 1 == n ? ")" : "");
}

struct findings {
	struct fwd_finding *v;
	size_t n, cap;
};

static void __attribute__((format(printf, 3, 4)))
add(struct findings *f, enum fwd_finding_level level, const char *fmt, ...)
{
	va_list ap;

	FWD_GROW(f->v, f->cap, f->n + 1);
	f->v[f->n].level = level;
	va_start(ap, fmt);
	vsnprintf(f->v[f->n].text, sizeof(f->v[f->n].text), fmt, ap);
	va_end(ap);
	f->n++;
}

static bool ip_family(uint8_t f)
{
	return f == NFPROTO_INET || f == NFPROTO_IPV4 || f == NFPROTO_IPV6;
}

/* The facts chain_findings and fwd_doctor_overrides share: what a base
 * chain of another table can do to a packet fwd's input chain accepts. */
static bool local_hook(const struct fwd_doctor_chain *c)
{
	return ip_family(c->family) && (c->hook == NF_INET_LOCAL_IN ||
					c->hook == NF_INET_LOCAL_OUT);
}

static bool filter_policy_drop(const struct fwd_doctor_chain *c)
{
	return strcmp(c->type, "filter") == 0 && !c->policy_accept;
}

static bool prerouting_redirects(const struct fwd_doctor_chain *c)
{
	return strcmp(c->type, "nat") == 0 && c->nrules;
}

static bool is_ingress(const struct fwd_doctor_chain *c)
{
	return c->family == NFPROTO_NETDEV || (c->family == NFPROTO_INET &&
					       c->hook == NF_INET_INGRESS);
}

static void chain_findings(const struct fwd_doctor *doc,
			   const struct fwd_doctor_chain *c,
			   const struct fwd_doctor_chain *fwd_in,
			   struct findings *f)
{
	char t[160];
	const char *hook = hook_name(c->family, c->hook);

	table_label(doc, c->family, c->table, t, sizeof(t));
	if (local_hook(c)) {
		if (filter_policy_drop(c))
			add(f, FWD_FIND_WARN, "%s has an %s chain %s at priority %d "
			    "with policy drop: a packet fwd accepts can still be "
			    "dropped there", t, hook, c->name, c->prio);
		if (c->ndrop)
			add(f, FWD_FIND_WARN, "%s has an %s chain %s at priority %d "
			    "with %zu rule%s that drop%s or reject%s: fwd's accept "
			    "does not override %s", t, hook, c->name, c->prio,
			    c->ndrop, c->ndrop == 1 ? "" : "s",
			    c->ndrop == 1 ? "s" : "", c->ndrop == 1 ? "s" : "",
			    c->ndrop == 1 ? "it" : "them");
		if (c->policy_accept && !c->ndrop)
			add(f, FWD_FIND_INFO, "%s has an %s chain %s at priority %d "
			    "that drops nothing: harmless next to fwd (its "
			    "accept does not skip fwd's chain)", t, hook, c->name,
			    c->prio);
		if (fwd_in && c->hook == fwd_in->hook && c->prio == fwd_in->prio)
			add(f, FWD_FIND_INFO, "%s chain %s hooks %s at fwd's "
			    "priority %d: which of the two runs first is not "
			    "defined", t, c->name, hook, c->prio);
		return;
	}
	if (ip_family(c->family) && c->hook == NF_INET_FORWARD) {
		add(f, c->nrules || !c->policy_accept ? FWD_FIND_WARN : FWD_FIND_INFO,
		    "%s has a forward chain %s (policy %s, %zu rule%s): routed "
		    "traffic (containers, VMs, a router's clients) is filtered "
		    "there; fwd filters only this host's own input and output",
		    t, c->name, c->policy_accept ? "accept" : "drop", c->nrules,
		    c->nrules == 1 ? "" : "s");
		return;
	}
	if (ip_family(c->family) && c->hook == NF_INET_PRE_ROUTING) {
		if (prerouting_redirects(c))
			add(f, FWD_FIND_WARN, "%s has a prerouting nat chain %s "
			    "with %zu rule%s: a connection it redirects to another "
			    "address (DNAT) goes through forward and never "
			    "reaches fwd's input chain", t, c->name, c->nrules,
			    c->nrules == 1 ? "" : "s");
		else if (c->ndrop || !c->policy_accept)
			add(f, FWD_FIND_WARN, "%s drops in prerouting (chain %s, "
			    "priority %d), before fwd sees the packet", t,
			    c->name, c->prio);
		return;
	}
	if (is_ingress(c)) {
		if (c->ndrop || !c->policy_accept)
			add(f, FWD_FIND_WARN, "%s has an ingress chain %s%s%s that "
			    "drops: it sees packets before fwd, and its drops win",
			    t, c->name, c->dev[0] ? " on " : "", c->dev);
		return;
	}
}

size_t fwd_doctor_findings(const struct fwd_doctor *doc,
			   struct fwd_finding **out)
{
	struct findings f = { 0 };
	const struct fwd_doctor_table *ours = NULL;
	const struct fwd_doctor_chain *fwd_in = NULL;
	bool docker = false, firewalld = false;

	for (size_t i = 0; i < doc->ntables; i++)
		if (doc->tables[i].ours)
			ours = &doc->tables[i];
	for (size_t i = 0; i < doc->nchains; i++)
		if (doc->chains[i].ours && doc->chains[i].hook == NF_INET_LOCAL_IN)
			fwd_in = &doc->chains[i];
	if (!ours)
		add(&f, FWD_FIND_WARN, "fwd's table inet %s is not loaded: fwd "
		    "filters nothing", FWD_TABLE_NAME);
	else if (!(ours->flags & NFT_TABLE_F_OWNER) &&
		 (ours->flags & NFT_TABLE_F_PERSIST))
		add(&f, FWD_FIND_WARN, "fwd's table inet %s has no owner: fwd is "
		    "not running; its rules stay in force (persist), but "
		    "nothing guards or updates them", FWD_TABLE_NAME);
	else if (!(ours->flags & NFT_TABLE_F_OWNER))
		add(&f, FWD_FIND_WARN, "fwd's table inet %s has no owner flag: "
		    "`nft flush ruleset` or another program can remove it",
		    FWD_TABLE_NAME);
	for (size_t i = 0; i < doc->ntables; i++) {
		const struct fwd_doctor_table *t = &doc->tables[i];
		char label[160];

		if (t->ours)
			continue;
		table_label(doc, t->family, t->name, label, sizeof(label));
		if (t->docker && !docker) {
			docker = true;
			add(&f, FWD_FIND_WARN, "%s: a table named docker or with "
			    "DOCKER chains: published container ports are DNATed "
			    "in prerouting and go through forward, bypassing fwd's "
			    "input chain; filter them in Docker's DOCKER-USER "
			    "chain", label);
		}
		if (ci_has(t->name, "firewalld") && !firewalld) {
			firewalld = true;
			add(&f, FWD_FIND_WARN, "%s: firewalld is running its own "
			    "rules on the same hooks; a packet must pass both "
			    "firewalls", label);
		}
		if (t->owner)
			add(&f, FWD_FIND_INFO, "%s is owned by another program "
			    "(netlink port %u)", label, t->owner);
	}
	for (size_t i = 0; i < doc->nchains; i++)
		if (!doc->chains[i].ours)
			chain_findings(doc, &doc->chains[i], fwd_in, &f);
	if (doc->legacy[0])
		add(&f, FWD_FIND_WARN, "legacy iptables tables are in use (%s): "
		    "nftables cannot list them, and their drops win over fwd's "
		    "accept (see iptables-legacy -L)", doc->legacy);
	if (f.n == 0)
		add(&f, FWD_FIND_INFO, "no other table filters on fwd's hooks");
	*out = f.v;
	return f.n;
}

static bool family_sees(uint8_t family, int af)
{
	return family == NFPROTO_INET || family == NFPROTO_NETDEV ||
	       (af == AF_INET && family == NFPROTO_IPV4) ||
	       (af == AF_INET6 && family == NFPROTO_IPV6);
}

size_t fwd_doctor_overrides(const struct fwd_doctor *doc, int af,
			    struct fwd_doctor_override **out)
{
	struct fwd_doctor_override *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < doc->nchains; i++) {
		const struct fwd_doctor_chain *c = &doc->chains[i];
		const char *why = NULL;

		if (c->ours || !family_sees(c->family, af))
			continue;
		if (ip_family(c->family) && c->hook == NF_INET_LOCAL_IN) {
			if (filter_policy_drop(c))
				why = "policy drop";
			else if (c->ndrop)
				why = "rules that drop or reject";
		} else if (ip_family(c->family) && c->hook == NF_INET_PRE_ROUTING) {
			if (prerouting_redirects(c))
				why = "nat rules: a connection it redirects (DNAT) never "
				      "reaches fwd's input chain";
			else if (c->ndrop || !c->policy_accept)
				why = "drops before fwd sees the packet";
		} else if (is_ingress(c) && (c->ndrop || !c->policy_accept)) {
			why = "drops at ingress, before fwd sees the packet";
		}
		if (!why)
			continue;
		v = fwd_xreallocarray(v, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		table_label(doc, c->family, c->table, v[n].table, sizeof(v[n].table));
		snprintf(v[n].chain, sizeof(v[n].chain), "%s", c->name);
		v[n].hook = hook_name(c->family, c->hook);
		v[n].prio = c->prio;
		snprintf(v[n].why, sizeof(v[n].why), "%s", why);
		n++;
	}
	if (doc->legacy[0]) {
		v = fwd_xreallocarray(v, n + 1, sizeof(*v));
		memset(&v[n], 0, sizeof(v[n]));
		snprintf(v[n].table, sizeof(v[n].table), "legacy iptables (%.120s)",
			 doc->legacy);
		v[n].hook = "input";
		snprintf(v[n].why, sizeof(v[n].why), "nftables cannot list it; its "
			 "drops win");
		n++;
	}
	*out = v;
	return n;
}

/* The same as one JSON object: tables, base chains, legacy iptables
 * tables and findings, in the shared writer (common/json.c). */
static void doctor_json(const struct fwd_doctor *doc, const struct fwd_finding *fs,
			size_t n, FILE *out)
{
	struct json_out j;

	json_init(&j, out);
	json_obj_begin(&j);
	json_key(&j, "tables");
	json_arr_begin(&j);
	for (size_t i = 0; i < doc->ntables; i++) {
		const struct fwd_doctor_table *t = &doc->tables[i];

		json_obj_begin(&j);
		json_key(&j, "family"); json_str(&j, family_name(t->family));
		json_key(&j, "name"); json_str(&j, t->name);
		json_key(&j, "flags"); json_uint(&j, t->flags);
		json_key(&j, "owner"); json_uint(&j, t->owner);
		json_key(&j, "fwd"); json_bool(&j, t->ours);
		json_key(&j, "chains"); json_uint(&j, t->nchains);
		json_key(&j, "sets"); json_uint(&j, t->nsets);
		json_key(&j, "rules"); json_uint(&j, t->nrules);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "base_chains");
	json_arr_begin(&j);
	for (size_t i = 0; i < doc->nchains; i++) {
		const struct fwd_doctor_chain *c = &doc->chains[i];

		json_obj_begin(&j);
		json_key(&j, "family"); json_str(&j, family_name(c->family));
		json_key(&j, "table"); json_str(&j, c->table);
		json_key(&j, "name"); json_str(&j, c->name);
		json_key(&j, "type"); json_str(&j, c->type);
		json_key(&j, "hook"); json_str(&j, hook_name(c->family, c->hook));
		json_key(&j, "priority"); json_int(&j, c->prio);
		json_key(&j, "policy"); json_str(&j, c->policy_accept ? "accept" : "drop");
		json_key(&j, "rules"); json_uint(&j, c->nrules);
		json_key(&j, "dropping_rules"); json_uint(&j, c->ndrop);
		json_key(&j, "fwd"); json_bool(&j, c->ours);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_key(&j, "legacy_iptables"); json_str(&j, doc->legacy);
	json_key(&j, "findings");
	json_arr_begin(&j);
	for (size_t i = 0; i < n; i++) {
		json_obj_begin(&j);
		json_key(&j, "level");
		json_str(&j, fs[i].level == FWD_FIND_WARN ? "warning" : "info");
		json_key(&j, "text"); json_str(&j, fs[i].text);
		json_obj_end(&j);
	}
	json_arr_end(&j);
	json_obj_end(&j);
	json_finish(&j);
}

void fwd_doctor_print(const struct fwd_doctor *doc, FILE *out, bool json)
{
	struct fwd_finding *fs = NULL;
	size_t n = fwd_doctor_findings(doc, &fs);

	if (json) {
		doctor_json(doc, fs, n, out);
		free(fs);
		return;
	}
	fputs("tables:\n", out);
	for (size_t i = 0; i < doc->ntables; i++) {
		const struct fwd_doctor_table *t = &doc->tables[i];
		char label[160];

		table_label(doc, t->family, t->name, label, sizeof(label));
		fprintf(out, "  %s%s: %zu chains, %zu sets, %zu rules%s%s\n", label,
			t->ours ? " *" : "", t->nchains, t->nsets, t->nrules,
			t->flags & NFT_TABLE_F_OWNER ? ", owned" : "",
			t->flags & NFT_TABLE_F_PERSIST ? ", persist" : "");
	}
	fputs("base chains:\n", out);
	for (size_t i = 0; i < doc->nchains; i++) {
		const struct fwd_doctor_chain *c = &doc->chains[i];

		fprintf(out, "  %s %s %s%s: %s hook %s%s%s priority %d policy %s, "
			"%zu rules (%zu drop)\n", family_name(c->family), c->table,
			c->name, c->ours ? " *" : "", c->type,
			hook_name(c->family, c->hook), c->dev[0] ? " device " : "",
			c->dev, c->prio, c->policy_accept ? "accept" : "drop",
			c->nrules, c->ndrop);
	}
	if (doc->legacy[0])
		fprintf(out, "legacy iptables tables: %s\n", doc->legacy);
	fputs("findings:\n", out);
	for (size_t i = 0; i < n; i++)
		fprintf(out, "  %s: %s\n", fs[i].level == FWD_FIND_WARN ?
			"warning" : "info", fs[i].text);
	free(fs);
}
