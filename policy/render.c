// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * IR -> nft text, in the layout `nft list table` prints (nft 1.0.6), so the
 * output loads with `nft -f` and a table fwd loaded over netlink lists as
 * the same text. One pass over the IR into a 64 KiB buffer; elements are
 * formatted by hand because printf per element dominates at 100k elements.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>

#include "ir.h"
#include "util.h"

#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 0x4
#endif

typedef unsigned __int128 u128;

struct out {
	FILE *f;
	size_t n;
	bool err;
	char buf[1 << 16];
};

static void out_flush(struct out *o)
{
	if (o->n && fwrite(o->buf, 1, o->n, o->f) != o->n)
		o->err = true;
	o->n = 0;
}

static void put(struct out *o, const char *s, size_t len)
{
	if (len > sizeof(o->buf) - o->n) {
		out_flush(o);
		if (len > sizeof(o->buf)) {
			if (fwrite(s, 1, len, o->f) != len)
				o->err = true;
			return;
		}
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* ---- element formatting ---- */

static char *fmt_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *fmt_addr(char *p, const uint8_t *a, unsigned alen)
{
	if (alen == 4) {
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p = fmt_u32(p, a[i]);
		}
		return p;
	}
	inet_ntop(AF_INET6, a, p, INET6_ADDRSTRLEN);
	return p + strlen(p);
}

static u128 to_u128(const uint8_t *a, unsigned len)
{
	u128 v = 0;

	for (unsigned i = 0; i < len; i++)
		v = (v << 8) | a[i];
	return v;
}

static unsigned popcount128(u128 v)
{
	return (unsigned)(__builtin_popcountll((unsigned long long)v) +
			  __builtin_popcountll((unsigned long long)(v >> 64)));
}

/* A host, an aligned range as a prefix, anything else as lo-hi. */
static char *fmt_range(char *p, const uint8_t *lo, const uint8_t *hi,
		       unsigned alen)
{
	u128 l = to_u128(lo, alen), h = to_u128(hi, alen), d = h - l;

	p = fmt_addr(p, lo, alen);
	if (d == 0)
		return p;
	if ((d & (d + 1)) == 0 && (l & d) == 0) {
		*p++ = '/';
		return fmt_u32(p, alen * 8 - popcount128(d));
	}
	*p++ = '-';
	return fmt_addr(p, hi, alen);
}

static char *fmt_proto(char *p, uint8_t proto)
{
	const char *s = proto == IPPROTO_TCP ? "tcp" :
			proto == IPPROTO_UDP ? "udp" : NULL;

	if (!s)
		return fmt_u32(p, proto);
	memcpy(p, s, 3);
	return p + 3;
}

/* Longest: an owner id, two IPv6 addresses, " . " x3, proto, two ports,
 * a timeout. */
#define ELEM_MAX 224

/* The owner field of an owner set's element (uid, cgroup id): decimal. */
static char *fmt_u64(char *p, uint64_t v)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

/* with_id false: the element without its owner field (render_set puts
 * a cgroup's path there itself: it may not fit ELEM_MAX). */
static size_t fmt_elem_id(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
			  char *buf, bool with_id)
{
	unsigned alen = fwd_ir_key_addr_len(s->key);
	char *p = buf;

	if (with_id && fwd_ir_key_id_len(s->key)) {
		p = fmt_u64(p, e->id);
		memcpy(p, " . ", 3);
		p += 3;
	}
	if (alen) {
		p = fmt_range(p, e->lo, e->hi, alen);
		if (!fwd_ir_key_has_port(s->key))
			goto done;
		memcpy(p, " . ", 3);
		p += 3;
	}
	p = fmt_proto(p, e->proto);
	memcpy(p, " . ", 3);
	p += 3;
	p = fmt_u32(p, e->plo);
	if (e->phi != e->plo) {
		*p++ = '-';
		p = fmt_u32(p, e->phi);
	}
done:
	*p = '\0';
	return (size_t)(p - buf);
}

static size_t fmt_elem(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		       char *buf)
{
	return fmt_elem_id(s, e, buf, true);
}

int fwd_ir_elem_format(const struct fwd_ir_set *s, const struct fwd_ir_elem *e,
		       char *buf, size_t len)
{
	char tmp[ELEM_MAX];

	fmt_elem(s, e, tmp);
	return snprintf(buf, len, "%s", tmp);
}

/* ---- sets ---- */

/*
 * nft puts two IPv4 addresses on a line and one of anything else
 * (calculate_delim() in nftables src/expression.c).
 */
/*
 * " timeout Ns": what is left at `now`, in seconds (nft -f takes "3600s"
 * and lists it back as "1h ... expires ..."). At least 1: an element past
 * its time is gone from the kernel already, and nft refuses "timeout 0s".
 */
static size_t fmt_timeout(char *p, uint64_t expires, uint64_t now)
{
	uint64_t left = expires > now ? expires - now : 1;
	char *q = p;
	char tmp[20];
	int n = 0;

	memcpy(q, " timeout ", 9);
	q += 9;
	do {
		tmp[n++] = (char)('0' + left % 10);
		left /= 10;
	} while (left);
	while (n)
		*q++ = tmp[--n];
	*q++ = 's';
	return (size_t)(q - p);
}

static void put_u32(struct out *o, uint32_t v);
static void put_u64(struct out *o, uint64_t v);

/* " counter packets N bytes M", as nft lists a counter. */
static void put_counter(struct out *o, const struct fwd_ir_count *c)
{
	puts_(o, "counter packets ");
	put_u64(o, c ? c->packets : 0);
	puts_(o, " bytes ");
	put_u64(o, c ? c->bytes : 0);
}

/* The path of cgroup `id` among the render options' names, or NULL. */
static const char *cgroup_path(const struct fwd_render_opts *ro, uint64_t id)
{
	for (size_t i = 0; ro && i < ro->ncgroups; i++)
		if (ro->cgroups[i].id == id && ro->cgroups[i].path)
			return ro->cgroups[i].path;
	return NULL;
}

/* ctr: the elements' counters beside s->elems (show --nft), or NULL. */
static void render_set(struct out *o, const struct fwd_ir_set *s, uint64_t now,
		       const struct fwd_ir_count *ctr,
		       const struct fwd_render_opts *ro)
{
	bool cg = fwd_ir_key_id_len(s->key) == 8;
	static const char newline[] = ",\n\t\t\t     ";
	unsigned per_line = s->key == FWD_KEY_ADDR4 ? 2 : 1;
	char e[ELEM_MAX];

	puts_(o, "\tset ");
	puts_(o, s->name);
	puts_(o, " {\n\t\ttype ");
	puts_(o, fwd_ir_key_type(s->key));
	puts_(o, "\n");
	if (s->interval || s->timeout) {
		puts_(o, "\t\tflags ");
		if (s->interval)
			puts_(o, s->timeout ? "interval,timeout" : "interval");
		else
			puts_(o, "timeout");
		puts_(o, "\n");
	}
	if (s->counter)
		puts_(o, "\t\tcounter\n");
	if (s->n) {
		puts_(o, "\t\telements = { ");
		for (size_t i = 0; i < s->n; i++) {
			const char *path;
			size_t len;

			if (i)
				puts_(o, i % per_line ? ", " : newline);
			path = cg ? cgroup_path(ro, s->elems[i].id) : NULL;
			if (path) {
				/* As nft prints a cgroupsv2 key it finds. */
				puts_(o, "\"");
				puts_(o, path);
				puts_(o, "\" . ");
			}
			len = fmt_elem_id(s, &s->elems[i], e, !path);
			put(o, e, len);
			/* nft lists an element's counter before its timeout. */
			if (ctr && s->counter) {
				puts_(o, " ");
				put_counter(o, &ctr[i]);
			}
			if (s->elems[i].expires)
				put(o, e, fmt_timeout(e, s->elems[i].expires, now));
		}
		puts_(o, " }\n");
	}
	puts_(o, "\t}\n");
}

/* Seconds as nft prints a set timeout: 1m, 2h, 1d2h3m4s. */
static void put_duration(struct out *o, uint32_t s)
{
	static const struct { uint32_t sec; const char *unit; } u[] = {
		{ 86400, "d" }, { 3600, "h" }, { 60, "m" }, { 1, "s" },
	};

	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++) {
		if (s < u[i].sec && !(s == 0 && u[i].sec == 1))
			continue;
		put_u32(o, s / u[i].sec);
		puts_(o, u[i].unit);
		s %= u[i].sec;
		if (!s)
			break;
	}
}

uint32_t fwd_ir_meter_timeout(const struct fwd_ir_queue *q)
{
	return q->period_s * 2 > FWD_METER_TIMEOUT_S ? q->period_s * 2 :
	       FWD_METER_TIMEOUT_S;
}

/* The meter sets of the queue step (ir.h), as nft lists them. */
static void render_meter_set(struct out *o, const struct fwd_ir *ir, bool v6)
{
	puts_(o, v6 ? "\tset meter6 {\n\t\ttype ipv6_addr\n" :
		      "\tset meter4 {\n\t\ttype ipv4_addr\n");
	puts_(o, "\t\tsize ");
	put_u32(o, FWD_METER_SIZE);
	puts_(o, "\n\t\tflags dynamic,timeout\n\t\ttimeout ");
	put_duration(o, fwd_ir_meter_timeout(&ir->queue));
	puts_(o, "\n\t}\n");
}

/* The program queue's per-owner meter (ir.h, FWD_M_PROG_METER). */
static void render_prog_meter_set(struct out *o, const struct fwd_ir *ir)
{
	puts_(o, "\tset prog_meter {\n\t\ttype uid\n\t\tsize ");
	put_u32(o, FWD_METER_SIZE);
	puts_(o, "\n\t\tflags dynamic,timeout\n\t\ttimeout ");
	put_duration(o, fwd_ir_meter_timeout(&ir->prog));
	puts_(o, "\n\t}\n");
}

/* The meter sets of the restricted classes (ir.h), as nft lists them. */
static void render_class_meter_set(struct out *o, const struct fwd_ir_class *k,
				   bool v6)
{
	puts_(o, "\tset ");
	puts_(o, k->name);
	puts_(o, v6 ? "_m6 {\n\t\ttype ipv6_addr\n" :
		      "_m4 {\n\t\ttype ipv4_addr\n");
	puts_(o, "\t\tsize ");
	put_u32(o, FWD_METER_SIZE);
	puts_(o, "\n\t\tflags dynamic,timeout\n\t\ttimeout ");
	put_duration(o, fwd_ir_class_timeout(k));
	puts_(o, "\n\t}\n");
}

/* ---- rules ---- */

static const char *const icmp4_names[] = {
	[0] = "echo-reply", [3] = "destination-unreachable",
	[4] = "source-quench", [5] = "redirect", [8] = "echo-request",
	[9] = "router-advertisement", [10] = "router-solicitation",
	[11] = "time-exceeded", [12] = "parameter-problem",
	[13] = "timestamp-request", [14] = "timestamp-reply",
	[15] = "info-request", [16] = "info-reply",
	[17] = "address-mask-request", [18] = "address-mask-reply",
};

static const char *icmp6_name(uint8_t t)
{
	switch (t) {
	case 1: return "destination-unreachable";
	case 2: return "packet-too-big";
	case 3: return "time-exceeded";
	case 4: return "parameter-problem";
	case 128: return "echo-request";
	case 129: return "echo-reply";
	case 130: return "mld-listener-query";
	case 131: return "mld-listener-report";
	case 132: return "mld-listener-done";
	case 133: return "nd-router-solicit";
	case 134: return "nd-router-advert";
	case 135: return "nd-neighbor-solicit";
	case 136: return "nd-neighbor-advert";
	case 137: return "nd-redirect";
	case 138: return "router-renumbering";
	case 141: return "ind-neighbor-solicit";
	case 142: return "ind-neighbor-advert";
	case 143: return "mld2-listener-report";
	}
	return NULL;
}

static void put_u32(struct out *o, uint32_t v)
{
	char b[12];

	put(o, b, (size_t)(fmt_u32(b, v) - b));
}

static void put_u64(struct out *o, uint64_t v)
{
	char b[21];
	int n = 0;

	do {
		b[sizeof(b) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(o, b + sizeof(b) - n, (size_t)n);
}

static void render_types(struct out *o, const struct fwd_ir_match *m, bool v6)
{
	puts_(o, v6 ? "icmpv6 type " : "icmp type ");
	if (m->ntypes != 1)
		puts_(o, "{ ");
	for (unsigned i = 0; i < m->ntypes; i++) {
		uint8_t t = m->types[i];
		const char *n = v6 ? icmp6_name(t) :
				t < sizeof(icmp4_names) / sizeof(icmp4_names[0]) ?
				icmp4_names[t] : NULL;

		if (i)
			puts_(o, ", ");
		if (n)
			puts_(o, n);
		else
			put_u32(o, t);
	}
	if (m->ntypes != 1)
		puts_(o, " }");
}

static const char *period_name(uint32_t s)
{
	switch (s) {
	case 1: return "second";
	case 60: return "minute";
	case 3600: return "hour";
	case 86400: return "day";
	case 604800: return "week";
	}
	return "?";
}

static void render_meter(struct out *o, const struct fwd_ir *ir,
			 const struct fwd_ir_match *m)
{
	const struct fwd_ir_queue *q = &ir->queue;

	puts_(o, m->u32 == NFPROTO_IPV6 ?
	      "update @meter6 { ip6 saddr & ffff:ffff:ffff:ffff:: " :
	      "update @meter4 { ip saddr ");
	puts_(o, "limit rate over ");
	put_u32(o, q->rate);
	puts_(o, "/");
	puts_(o, period_name(q->period_s));
	puts_(o, " burst ");
	put_u32(o, q->burst);
	puts_(o, " packets }");
}

/* update @prog_meter { meta skuid limit rate over 1000/second burst 1000
 * packets } */
static void render_prog_meter(struct out *o, const struct fwd_ir *ir)
{
	puts_(o, "update @prog_meter { meta skuid limit rate over ");
	put_u32(o, ir->prog.rate);
	puts_(o, "/");
	puts_(o, period_name(ir->prog.period_s));
	puts_(o, " burst ");
	put_u32(o, ir->prog.burst);
	puts_(o, " packets }");
}

/* update @cls0_m4 { ip saddr limit rate over 12/minute burst 6 packets } */
static int render_class_meter(struct out *o, const struct fwd_ir *ir,
			      const struct fwd_ir_match *m)
{
	const struct fwd_ir_class *k;

	if (m->set >= ir->nclasses || !ir->classes[m->set].limit_n)
		return -EINVAL;
	k = &ir->classes[m->set];
	puts_(o, "update @");
	puts_(o, k->name);
	puts_(o, m->u32 == NFPROTO_IPV6 ?
	      "_m6 { ip6 saddr & ffff:ffff:ffff:ffff:: " : "_m4 { ip saddr ");
	puts_(o, "limit rate over ");
	put_u32(o, k->rate);
	puts_(o, "/");
	puts_(o, period_name(k->period_s));
	puts_(o, " burst ");
	put_u32(o, k->burst);
	puts_(o, " packets }");
	return 0;
}

/*
 * `queue num N` or `queue num N-M`: what fwd means with either the native
 * expression or the xt target. For the xt target `nft list` prints
 * something else (an xt statement and a warning that the table is managed
 * by iptables-nft), so the line says which one the kernel got.
 */
static void render_queue(struct out *o, const struct fwd_ir_queue *q)
{
	puts_(o, "queue num ");
	put_u32(o, q->num);
	if (q->total > 1) {
		puts_(o, "-");
		put_u32(o, (uint32_t)q->num + q->total - 1);
		if (q->fanout)
			puts_(o, " fanout");
	}
	if (!q->native)
		puts_(o, " # xt NFQUEUE v3 target (nft_compat), no bypass");
}

static void render_l4proto(struct out *o, uint32_t p)
{
	switch (p) {
	case IPPROTO_TCP: puts_(o, "tcp"); break;
	case IPPROTO_UDP: puts_(o, "udp"); break;
	case IPPROTO_ICMP: puts_(o, "icmp"); break;
	case IPPROTO_ICMPV6: puts_(o, "ipv6-icmp"); break;
	default: put_u32(o, p); break;
	}
}

static void render_ct_state(struct out *o, uint32_t bits)
{
	static const struct { uint32_t bit; const char *name; } st[] = {
		{ NF_CT_STATE_INVALID_BIT, "invalid" },
		{ NF_CT_STATE_BIT(IP_CT_ESTABLISHED), "established" },
		{ NF_CT_STATE_BIT(IP_CT_RELATED), "related" },
		{ NF_CT_STATE_BIT(IP_CT_NEW), "new" },
		{ NF_CT_STATE_UNTRACKED_BIT, "untracked" },
	};
	bool first = true;

	puts_(o, "ct state ");
	for (size_t i = 0; i < sizeof(st) / sizeof(st[0]); i++) {
		if (!(bits & st[i].bit))
			continue;
		if (!first)
			puts_(o, ",");
		puts_(o, st[i].name);
		first = false;
	}
}

static int render_lookup(struct out *o, const struct fwd_ir *ir,
			 const struct fwd_ir_match *m)
{
	bool src = m->kind == FWD_M_LOOKUP_SRC;
	const struct fwd_ir_set *s;

	if (m->set >= ir->nsets)
		return -EINVAL;
	s = &ir->sets[m->set];
	if (fwd_ir_key_id_len(s->key) == 4) {
		puts_(o, "meta skuid . ");
	} else if (fwd_ir_key_id_len(s->key) == 8) {
		puts_(o, "socket cgroupv2 level ");
		put_u32(o, m->u32);
		puts_(o, " . ");
	}
	switch (fwd_ir_key_addr_len(s->key)) {
	case 4:
		puts_(o, src ? "ip saddr " : "ip daddr ");
		break;
	case 16:
		puts_(o, src ? "ip6 saddr " : "ip6 daddr ");
		break;
	default:
		break;
	}
	if (s->key == FWD_KEY_PROTO_PORT)
		puts_(o, "meta l4proto . th dport ");
	else if (fwd_ir_key_has_port(s->key))
		puts_(o, ". meta l4proto . th dport ");
	puts_(o, "@");
	puts_(o, s->name);
	return 0;
}

/* The fib keys in the order nft prints them. */
static int render_rpf(struct out *o, uint32_t flags)
{
	static const struct { uint32_t bit; const char *name; } k[] = {
		{ NFTA_FIB_F_SADDR, "saddr" }, { NFTA_FIB_F_MARK, "mark" },
		{ NFTA_FIB_F_IIF, "iif" },
	};
	bool first = true;

	if (!(flags & NFTA_FIB_F_SADDR) ||
	    (flags & ~(uint32_t)(NFTA_FIB_F_SADDR | NFTA_FIB_F_MARK |
				 NFTA_FIB_F_IIF)))
		return -EINVAL;
	puts_(o, "fib ");
	for (size_t i = 0; i < sizeof(k) / sizeof(k[0]); i++) {
		if (!(flags & k[i].bit))
			continue;
		if (!first)
			puts_(o, " . ");
		puts_(o, k[i].name);
		first = false;
	}
	puts_(o, " oif missing");
	return 0;
}

static int render_match(struct out *o, const struct fwd_ir *ir,
			const struct fwd_ir_match *m)
{
	switch (m->kind) {
	case FWD_M_IIF_LO:
		puts_(o, "iif \"lo\"");
		return 0;
	case FWD_M_OIF_LO:
		puts_(o, "oif \"lo\"");
		return 0;
	case FWD_M_CT_STATE:
		render_ct_state(o, m->u32);
		return 0;
	case FWD_M_NFPROTO:
		puts_(o, "meta nfproto ");
		if (m->u32 == NFPROTO_IPV4)
			puts_(o, "ipv4");
		else if (m->u32 == NFPROTO_IPV6)
			puts_(o, "ipv6");
		else
			put_u32(o, m->u32);
		return 0;
	case FWD_M_L4PROTO:
		puts_(o, "meta l4proto ");
		render_l4proto(o, m->u32);
		return 0;
	case FWD_M_ICMP_TYPES:
	case FWD_M_ICMPV6_TYPES:
		render_types(o, m, m->kind == FWD_M_ICMPV6_TYPES);
		return 0;
	case FWD_M_LOOKUP_SRC:
	case FWD_M_LOOKUP_DST:
		return render_lookup(o, ir, m);
	case FWD_M_LIMIT:
		puts_(o, "limit rate ");
		put_u32(o, m->u32);
		puts_(o, "/second burst ");
		put_u32(o, m->u32b);
		puts_(o, " packets");
		return 0;
	case FWD_M_RPF_MISSING:
		return render_rpf(o, m->u32);
	case FWD_M_METER:
		if (!ir->queue.on || !ir->queue.meter)
			return -EINVAL;
		render_meter(o, ir, m);
		return 0;
	case FWD_M_IIFNAME:
	case FWD_M_OIFNAME:
		if (m->u32 >= ir->nclasses || !ir->classes[m->u32].ifname[0])
			return -EINVAL;
		puts_(o, m->kind == FWD_M_IIFNAME ? "iifname \"" : "oifname \"");
		puts_(o, ir->classes[m->u32].ifname);
		puts_(o, "\"");
		return 0;
	case FWD_M_CLASS_METER:
		return render_class_meter(o, ir, m);
	case FWD_M_PROG_METER:
		if (!fwd_ir_prog_meter_sets(ir))
			return -EINVAL;
		render_prog_meter(o, ir);
		return 0;
	case FWD_M_CT_LABEL:
		/* By number: nft names a label only from a connlabel.conf
		 * that says so, and reads the number back either way. */
		if (m->u32 > 127)
			return -EINVAL;
		puts_(o, "ct label ");
		put_u32(o, m->u32);
		return 0;
	}
	return -EINVAL;
}

/* ctr: the rule's counter values (show --nft), or NULL for zeros. */
static int render_rule(struct out *o, const struct fwd_ir *ir,
		       const struct fwd_ir_rule *r, const struct fwd_ir_count *ctr)
{
	bool sp = false;

	puts_(o, "\t\t");
	for (unsigned i = 0; i < r->nm && i < FWD_IR_MAX_MATCH; i++) {
		if (sp)
			puts_(o, " ");
		if (render_match(o, ir, &r->m[i]))
			return -EINVAL;
		sp = true;
	}
	if (r->counter) {
		puts_(o, sp ? " " : "");
		/* Without values: what nft list prints for a fresh counter. */
		put_counter(o, ctr);
		sp = true;
	}
	if (r->log) {
		puts_(o, sp ? " " : "");
		puts_(o, "log prefix \"");
		puts_(o, r->log_prefix);
		puts_(o, "\"");
		sp = true;
	}
	if (r->verdict != FWD_V_CONTINUE)
		puts_(o, sp ? " " : "");
	switch (r->verdict) {
	case FWD_V_CONTINUE:
		break;
	case FWD_V_ACCEPT:
		puts_(o, "accept");
		break;
	case FWD_V_DROP:
		puts_(o, "drop");
		break;
	case FWD_V_REJECT_TCP_RST:
		puts_(o, "reject with tcp reset");
		break;
	case FWD_V_REJECT_ICMPX:
		puts_(o, "reject with icmpx admin-prohibited");
		break;
	case FWD_V_QUEUE:
		if (!ir->queue.on)
			return -EINVAL;
		render_queue(o, &ir->queue);
		break;
	case FWD_V_QUEUE_PROG: {
		struct fwd_ir_queue q = fwd_ir_prog_queue(ir);

		render_queue(o, &q);
		break;
	}
	}
	puts_(o, "\n");
	return 0;
}

static const char *hook_name(unsigned hook)
{
	switch (hook) {
	case NF_INET_PRE_ROUTING: return "prerouting";
	case NF_INET_LOCAL_IN: return "input";
	case NF_INET_FORWARD: return "forward";
	case NF_INET_LOCAL_OUT: return "output";
	case NF_INET_POST_ROUTING: return "postrouting";
	}
	return "?";
}

/* One part of chain c as the kernel holds it (ir.h, "The chains in the
 * kernel"): the base chain with its jumps, or a family chain. */
static int render_part(struct out *o, const struct fwd_ir *ir, size_t c,
		       enum fwd_ir_part p, const struct fwd_ir_counts *cn)
{
	const struct fwd_ir_chain *ch = &ir->chains[c];
	long *rules = fwd_xcalloc(ch->n + 2, sizeof(*rules));
	size_t n = fwd_ir_part_rules(ir, ch, p, NULL, rules);
	char name[40];
	int ret = 0;

	fwd_ir_part_name(ch, p, name, sizeof(name));
	puts_(o, "\tchain ");
	puts_(o, name);
	if (p == FWD_PART_BASE) {
		puts_(o, " {\n\t\ttype filter hook ");
		puts_(o, hook_name(ch->hook));
		puts_(o, " priority filter");
		if (ch->prio) {
			puts_(o, ch->prio > 0 ? " + " : " - ");
			put_u32(o, (uint32_t)(ch->prio > 0 ? ch->prio : -ch->prio));
		}
		puts_(o, ch->policy_accept ? "; policy accept;\n" :
					     "; policy drop;\n");
	} else {
		puts_(o, " {\n");
	}
	for (size_t k = 0; k < n && !ret; k++) {
		long i = rules[k];

		if (i < 0) {
			fwd_ir_part_name(ch, i == FWD_KJUMP4 ? FWD_PART_V4 :
					 FWD_PART_V6, name, sizeof(name));
			puts_(o, i == FWD_KJUMP4 ? "\t\tmeta nfproto ipv4 jump " :
						   "\t\tmeta nfproto ipv6 jump ");
			puts_(o, name);
			puts_(o, "\n");
			continue;
		}
		ret = render_rule(o, ir, &ch->rules[i],
				  fwd_ir_counts_part(cn, ir, c, p, (size_t)i));
	}
	puts_(o, "\t}\n");
	free(rules);
	return ret ? -EINVAL : 0;
}

static int render_chain(struct out *o, const struct fwd_ir *ir, size_t c,
			const struct fwd_ir_counts *cn)
{
	const struct fwd_ir_chain *ch = &ir->chains[c];
	int ret = render_part(o, ir, c, FWD_PART_BASE, cn);

	/* The family chains follow their base chain, as fwd creates them
	 * and nft lists them. */
	for (int p = FWD_PART_V4; !ret && p <= FWD_PART_V6 &&
	     fwd_ir_chain_split(ch, NULL, NULL); p++) {
		puts_(o, "\n");
		ret = render_part(o, ir, c, (enum fwd_ir_part)p, cn);
	}
	return ret;
}

int fwd_ir_render(const struct fwd_ir *ir, const struct fwd_render_opts *opts,
		  FILE *f)
{
	unsigned flags = opts ? opts->table_flags : 0;
	uint64_t now = opts && opts->now ? opts->now : (uint64_t)time(NULL);
	const struct fwd_ir_counts *cn = opts ? opts->counts : NULL;
	struct out *o;
	bool first = true;
	int ret = 0;

	o = fwd_xmalloc(sizeof(*o));
	o->f = f;
	o->n = 0;
	o->err = false;

	puts_(o, "table inet " FWD_TABLE_NAME " {\n");
	/*
	 * Not printed as `flags owner`: nft -f would make its own short-lived
	 * process the owner, and the table would vanish when nft exits.
	 */
	if (flags & (NFT_TABLE_F_OWNER | NFT_TABLE_F_PERSIST)) {
		puts_(o, "\t# flags ");
		if (flags & NFT_TABLE_F_OWNER)
			puts_(o, (flags & NFT_TABLE_F_PERSIST) ?
				 "owner,persist" : "owner");
		else
			puts_(o, "persist");
		puts_(o, " (set by fwd over netlink; not for nft -f)\n");
		first = false;
	}
	for (size_t i = 0; i < ir->nsets; i++) {
		if (!first)
			puts_(o, "\n");
		render_set(o, &ir->sets[i], now,
			   cn && cn->elem ? cn->elem[i] : NULL, opts);
		first = false;
	}
	for (unsigned i = 0; i < fwd_ir_meter_sets(ir); i++) {
		if (!first)
			puts_(o, "\n");
		render_meter_set(o, ir, i == 1);
		first = false;
	}
	for (size_t i = 0; i < ir->nclasses; i++) {
		for (int v6 = 0; ir->classes[i].limit_n && v6 < 2; v6++) {
			puts_(o, "\n");
			render_class_meter_set(o, &ir->classes[i], v6);
		}
	}
	if (fwd_ir_prog_meter_sets(ir)) {
		puts_(o, "\n");
		render_prog_meter_set(o, ir);
	}
	for (size_t i = 0; i < ir->nchains && !ret; i++) {
		if (!first)
			puts_(o, "\n");
		ret = render_chain(o, ir, i, cn);
		first = false;
	}
	puts_(o, "}\n");
	out_flush(o);
	if (!ret && o->err)
		ret = -EIO;
	free(o);
	return ret;
}
