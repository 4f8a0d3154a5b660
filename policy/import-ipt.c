// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * iptables-save / ip6tables-save text -> imported rules (import.h). The
 * filter table's INPUT and OUTPUT chains in their order, jumps without
 * matches into user chains followed in place; everything else is listed
 * as not imported with its line.
 */
#include "import.h"
#include "util.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define QMAX 40

/* One -A line, kept until every chain is known. */
struct ipt_line {
	char *chain;
	char **w;		/* the words after "-A CHAIN" */
	size_t nw;
	unsigned line;
};

struct ipt_chain {
	char *name;
	char policy[16];	/* ACCEPT, DROP, or "-" for a user chain */
	unsigned line;
	bool reached;
	bool walking;		/* on the way down: a jump to it is a loop */
};

struct ipt {
	struct fwd_import *imp;
	const char *name;
	uint8_t family;
	struct ipt_line *lines;
	size_t nlines, lcap;
	struct ipt_chain *chains;
	size_t nchains, ccap;
	size_t visits;		/* rules walked: jumps fan out, this bounds them */
};

#define MAX_VISITS 200000

/* Split a line into words: blanks separate, "..." quotes (as iptables-save
 * writes --comment), backslash escapes inside quotes. */
static size_t split(const char *s, size_t n, char ***out)
{
	char **w = NULL;
	size_t nw = 0, cap = 0, i = 0;

	while (i < n) {
		char *word = fwd_xmalloc(n - i + 1);
		size_t k = 0;
		bool quoted = false;

		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= n) {
			free(word);
			break;
		}
		while (i < n && (quoted || (s[i] != ' ' && s[i] != '\t'))) {
			if (s[i] == '"') {
				quoted = !quoted;
			} else if (quoted && s[i] == '\\' && i + 1 < n) {
				word[k++] = s[++i];
			} else {
				word[k++] = s[i];
			}
			i++;
		}
		word[k] = '\0';
		FWD_GROW(w, cap, nw + 1);
		w[nw++] = word;
	}
	*out = w;
	return nw;
}

static void free_words(char **w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i]);
	free(w);
}

static struct ipt_chain *chain_find(struct ipt *t, const char *name)
{
	for (size_t i = 0; i < t->nchains; i++)
		if (strcmp(t->chains[i].name, name) == 0)
			return &t->chains[i];
	return NULL;
}

/* What one rule says, as far as fwd can say it too. */
struct ipt_match {
	struct fwd_imp_rule r;
	bool any_match;			/* anything but the target was given */
	bool proto_set, icmp;
	char *icmp_type;
	bool lo_in;			/* -i lo (INPUT) or -o lo (OUTPUT) */
	bool has_state;
	bool st_new, st_est, st_inval, st_other;
	bool ports_set;
	uint16_t ports[2][16];		/* multiport: up to 15 ranges */
	size_t nports;
	const char *target;
	const char *why;		/* not importable, and why */
	char whybuf[160];
};

static bool parse_port(const char *s, uint16_t *lo, uint16_t *hi)
{
	char *end;
	unsigned long a = strtoul(s, &end, 10), b = a;

	if (end == s || a > 65535)
		return false;
	if (*end == ':' || *end == '-') {
		const char *t = end + 1;

		b = strtoul(t, &end, 10);
		if (end == t || b > 65535 || b < a)
			return false;
	}
	if (*end)
		return false;
	*lo = (uint16_t)a;
	*hi = (uint16_t)b;
	return true;
}

static bool parse_ports(struct ipt_match *m, const char *s)
{
	char *copy = fwd_xstrdup(s), *save = NULL;
	bool ok = true;

	m->nports = 0;
	for (char *p = strtok_r(copy, ",", &save); p && ok; p = strtok_r(NULL, ",", &save)) {
		if (m->nports == 16 ||
		    !parse_port(p, &m->ports[0][m->nports], &m->ports[1][m->nports]))
			ok = false;
		else
			m->nports++;
	}
	free(copy);
	m->ports_set = ok && m->nports;
	return m->ports_set;
}

static void parse_states(struct ipt_match *m, const char *s)
{
	char *copy = fwd_xstrdup(s), *save = NULL;

	m->has_state = true;
	for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (strcasecmp(p, "NEW") == 0)
			m->st_new = true;
		else if (strcasecmp(p, "ESTABLISHED") == 0 || strcasecmp(p, "RELATED") == 0)
			m->st_est = true;
		else if (strcasecmp(p, "INVALID") == 0)
			m->st_inval = true;
		else
			m->st_other = true;
	}
	free(copy);
}

static void unsupportedf(struct ipt_match *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void unsupportedf(struct ipt_match *m, const char *fmt, ...)
{
	va_list ap;

	if (m->why)
		return;
	va_start(ap, fmt);
	vsnprintf(m->whybuf, sizeof(m->whybuf), fmt, ap);
	va_end(ap);
	m->why = m->whybuf;
}

/* The first reason a rule cannot be imported, its word quoted. */
#define unsupported(m, fmt, w) do { \
	char q_[FWD_QUOTE_BUF(QMAX)]; \
	const char *w_ = (w); \
	unsupportedf((m), fmt, fwd_quote(q_, w_ ? w_ : "", w_ ? strlen(w_) : 0, QMAX)); \
} while (0)

static void parse_addr(struct ipt *t, struct ipt_match *m, const char *s,
		       struct fwd_addr *out, bool *set)
{
	char why[128];
	struct fwd_addr a;

	if (fwd_addr_parse(s, &a, why, sizeof(why)) != 0 || a.family != t->family) {
		unsupported(m, "address '%s' (not a CIDR of this file's family)", s);
		return;
	}
	*out = a;
	*set = true;
	m->any_match = true;
}

static bool proto_word(struct ipt *t, struct ipt_match *m, const char *p)
{
	m->proto_set = true;
	m->any_match = true;
	if (!strcmp(p, "tcp") || !strcmp(p, "6"))
		m->r.proto = FWD_IMP_TCP;
	else if (!strcmp(p, "udp") || !strcmp(p, "17"))
		m->r.proto = FWD_IMP_UDP;
	else if (!strcmp(p, "all") || !strcmp(p, "0"))
		m->proto_set = false;
	else if ((t->family == AF_INET && (!strcmp(p, "icmp") || !strcmp(p, "1"))) ||
		 (t->family == AF_INET6 && (!strcmp(p, "ipv6-icmp") || !strcmp(p, "icmpv6") ||
					    !strcmp(p, "58"))))
		m->icmp = true;
	else
		return false;
	return true;
}

/* The words of one rule into m; m->why says what fwd cannot express. */
static void parse_rule(struct ipt *t, char **w, size_t nw, struct ipt_match *m)
{
	struct fwd_addr src = { .family = t->family }, dst = { .family = t->family };
	bool src_set = false, dst_set = false;

	for (size_t i = 0; i < nw; i++) {
		const char *o = w[i], *v = i + 1 < nw ? w[i + 1] : NULL;

		if (!strcmp(o, "!")) {
			unsupported(m, "a negated match ('! %s')", v ? v : "");
		} else if (!strcmp(o, "-m") || !strcmp(o, "--match")) {
			if (v && strcmp(v, "tcp") && strcmp(v, "udp") && strcmp(v, "multiport") &&
			    strcmp(v, "state") && strcmp(v, "conntrack") && strcmp(v, "comment") &&
			    strcmp(v, "icmp") && strcmp(v, "icmp6") && strcmp(v, "ipv6-icmp"))
				unsupported(m, "the '%s' match", v);
			i++;
		} else if (!v) {
			unsupported(m, "option '%s' without a value", o);
		} else if (!strcmp(o, "-s") || !strcmp(o, "--source")) {
			parse_addr(t, m, v, &src, &src_set);
			i++;
		} else if (!strcmp(o, "-d") || !strcmp(o, "--destination")) {
			parse_addr(t, m, v, &dst, &dst_set);
			i++;
		} else if (!strcmp(o, "-p") || !strcmp(o, "--protocol")) {
			if (!proto_word(t, m, v))
				unsupported(m, "protocol '%s' (fwd allows TCP and UDP ports)", v);
			i++;
		} else if (!strcmp(o, "-i") || !strcmp(o, "--in-interface") ||
			   !strcmp(o, "-o") || !strcmp(o, "--out-interface")) {
			if (!strcmp(v, "lo"))
				m->lo_in = true;
			else
				unsupported(m, "interface '%s' (fwd's rules hold on every "
					    "interface)", v);
			m->any_match = true;
			i++;
		} else if (!strcmp(o, "--dport") || !strcmp(o, "--destination-port") ||
			   !strcmp(o, "--dports") || !strcmp(o, "--destination-ports")) {
			if (!parse_ports(m, v))
				unsupported(m, "ports '%s'", v);
			m->any_match = true;
			i++;
		} else if (!strcmp(o, "--state") || !strcmp(o, "--ctstate")) {
			parse_states(m, v);
			i++;
		} else if (!strcmp(o, "--comment") || !strcmp(o, "--reject-with")) {
			i++;
		} else if (!strcmp(o, "--icmp-type") || !strcmp(o, "--icmpv6-type")) {
			m->icmp_type = w[i + 1];
			m->any_match = true;
			i++;
		} else if (!strcmp(o, "-j") || !strcmp(o, "--jump") || !strcmp(o, "-g") ||
			   !strcmp(o, "--goto")) {
			m->target = v;
			i++;
		} else {
			unsupported(m, "option '%s'", o);
			i++;
		}
	}
	m->r.peer = m->r.dir == FWD_DIR_IN ? src : dst;
	if ((m->r.dir == FWD_DIR_IN ? dst_set : src_set) &&
	    (m->r.dir == FWD_DIR_IN ? dst.prefix : src.prefix))
		unsupported(m, "%s", m->r.dir == FWD_DIR_IN ?
			    "a destination address (fwd's rules do not name this host's addresses)" :
			    "a source address in OUTPUT (fwd's rules do not name this host's "
			    "addresses)");
	if (m->ports_set && !m->proto_set)
		unsupported(m, "%s", "ports without -p tcp or -p udp");
	if (m->has_state)
		m->any_match = true;
}

/* ICMP types fwd's `icmp = essential` accepts anyway (and ND, always). */
static bool icmp_essential(const char *type)
{
	static const char *const ok[] = {
		"echo-request", "8", "128", "destination-unreachable", "3", "1",
		"time-exceeded", "11", "3", "parameter-problem", "12", "4",
		"packet-too-big", "2", "router-solicitation", "router-advertisement",
		"neighbour-solicitation", "neighbour-advertisement",
		"neighbor-solicitation", "neighbor-advertisement", "133", "134",
		"135", "136", "echo-reply", "0", "129",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(type, ok[i]))
			return true;
	return false;
}

static void note(struct ipt *t, unsigned line, const char *msg)
{
	fwd_diags_add(&t->imp->notes, t->name, line, "%s", msg);
}

static void walk(struct ipt *t, const char *chain, enum fwd_dir dir,
		 unsigned depth, bool *ended);

/* One rule of a chain walked from INPUT/OUTPUT. *ended: an unconditional
 * verdict (or RETURN) ends the chain here. */
static void rule(struct ipt *t, const struct ipt_line *l, enum fwd_dir dir,
		 unsigned depth, bool *ended)
{
	struct ipt_match m = { 0 };
	const char *tg;
	char q[FWD_QUOTE_BUF(QMAX)];

	m.r.dir = dir;
	m.r.proto = FWD_IMP_ALL;
	m.r.file = (char *)t->name;
	m.r.line = l->line;
	parse_rule(t, l->w, l->nw, &m);
	tg = m.target;
	if (m.why) {
		fwd_import_skip(t->imp, t->name, l->line, "%s", m.why);
		return;
	}
	if (!tg) {
		note(t, l->line, "nothing to import: a rule without a target only counts");
		return;
	}
	if (!strcmp(tg, "LOG") || !strcmp(tg, "NFLOG") || !strcmp(tg, "ULOG")) {
		fwd_import_skip(t->imp, t->name, l->line, "logging (fwd logs what it "
				"refuses itself: [defaults] log)");
		return;
	}
	if (strcmp(tg, "ACCEPT") && strcmp(tg, "DROP") && strcmp(tg, "REJECT") &&
	    strcmp(tg, "RETURN")) {
		if (!chain_find(t, tg)) {
			fwd_import_skip(t->imp, t->name, l->line, "the target '%s'",
					fwd_quote(q, tg, strlen(tg), QMAX));
		} else if (m.any_match) {
			fwd_import_skip(t->imp, t->name, l->line, "a jump with matches into "
					"chain '%s' (only unconditional jumps are "
					"followed)", fwd_quote(q, tg, strlen(tg), QMAX));
		} else if (depth > 16 || chain_find(t, tg)->walking ||
			   t->visits > MAX_VISITS) {
			fwd_import_skip(t->imp, t->name, l->line, "a jump into '%s' that "
					"loops or nests too deep",
					fwd_quote(q, tg, strlen(tg), QMAX));
		} else {
			bool sub_end = false;

			walk(t, tg, dir, depth + 1, &sub_end);
		}
		return;
	}
	if (!strcmp(tg, "RETURN")) {
		if (m.any_match)
			fwd_import_skip(t->imp, t->name, l->line, "a RETURN with matches");
		else
			*ended = true;
		return;
	}
	/* Loopback and connection state: fwd's fixed chain shape has them. */
	if (m.lo_in) {
		if (!strcmp(tg, "ACCEPT"))
			note(t, l->line, "nothing to import: fwd accepts loopback itself");
		else
			fwd_import_skip(t->imp, t->name, l->line, "refusing loopback "
					"(fwd always accepts it)");
		return;
	}
	if (m.has_state && !m.st_new) {
		if (m.st_est && !m.st_inval && !m.st_other && !strcmp(tg, "ACCEPT"))
			note(t, l->line, "nothing to import: fwd accepts established and "
			     "related traffic itself");
		else if (m.st_inval && !m.st_est && !m.st_other && strcmp(tg, "ACCEPT"))
			note(t, l->line, "nothing to import: fwd drops invalid packets itself");
		else
			fwd_import_skip(t->imp, t->name, l->line, "a connection-state "
					"match fwd does not make (it accepts established "
					"and related, drops invalid, and judges new)");
		return;
	}
	if (m.icmp) {
		if (strcmp(tg, "ACCEPT")) {
			if ((dir == FWD_DIR_IN ? t->imp->inbound : t->imp->outbound) == FWD_ALLOW ||
			    m.r.peer.prefix)
				fwd_import_skip(t->imp, t->name, l->line, "refusing ICMP "
						"(fwd's [defaults] icmp decides ICMP)");
			else
				note(t, l->line, "nothing to import: refusing ICMP");
		} else if (m.r.peer.prefix) {
			fwd_import_skip(t->imp, t->name, l->line, "ICMP from some sources "
					"(fwd's [defaults] icmp holds for all)");
		} else if (!m.icmp_type) {
			if (dir == FWD_DIR_IN)
				fwd_import_icmp_all(t->imp, t->family == AF_INET ?
						    FWD_IMP_V4 : FWD_IMP_V6, t->name, l->line);
			note(t, l->line, "imported as [defaults] icmp = all");
		} else if (icmp_essential(m.icmp_type)) {
			note(t, l->line, "nothing to import: fwd's icmp = essential "
			     "accepts this type");
		} else {
			fwd_import_skip(t->imp, t->name, l->line, "ICMP type '%s' (fwd's "
					"[defaults] icmp is essential, all or none)",
					fwd_quote(q, m.icmp_type, strlen(m.icmp_type), QMAX));
		}
		return;
	}
	m.r.verdict = !strcmp(tg, "ACCEPT") ? FWD_IMP_ACCEPT :
		      !strcmp(tg, "DROP") ? FWD_IMP_DROP : FWD_IMP_REJECT;
	if (!m.any_match) {
		/* A catch-all verdict is the chain's real default. */
		enum fwd_action a = m.r.verdict == FWD_IMP_ACCEPT ? FWD_ALLOW :
				    m.r.verdict == FWD_IMP_DROP ? FWD_DENY : FWD_REJECT;

		if (dir == FWD_DIR_IN) {
			t->imp->inbound = a;
			t->imp->inbound_set = true;
		} else {
			t->imp->outbound = a;
			t->imp->outbound_set = true;
		}
		note(t, l->line, "imported as the default verdict");
		*ended = true;
		return;
	}
	if (!m.ports_set) {
		fwd_import_add(t->imp, &m.r);
		return;
	}
	for (size_t i = 0; i < m.nports; i++) {
		m.r.lo = m.ports[0][i];
		m.r.hi = m.ports[1][i];
		if (m.r.lo == 0) {
			/* Port 0 is nobody's port: fwd's ranges start at 1. */
			if (m.r.hi == 0)
				continue;
			m.r.lo = 1;
		}
		fwd_import_add(t->imp, &m.r);
	}
}

static void walk(struct ipt *t, const char *chain, enum fwd_dir dir,
		 unsigned depth, bool *ended)
{
	struct ipt_chain *c = chain_find(t, chain);

	if (c) {
		c->reached = true;
		c->walking = true;
	}
	for (size_t i = 0; i < t->nlines; i++) {
		const struct ipt_line *l = &t->lines[i];

		if (strcmp(l->chain, chain) != 0)
			continue;
		t->visits++;
		if (*ended) {
			note(t, l->line, "never matches: an earlier rule of this chain "
			     "decides every packet");
			continue;
		}
		rule(t, l, dir, depth, ended);
	}
	if (c)
		c->walking = false;
}

static void set_default(struct ipt *t, const struct ipt_chain *c, enum fwd_dir dir)
{
	struct fwd_import *imp = t->imp;
	enum fwd_action a;
	struct fwd_loc *from = dir == FWD_DIR_IN ? &imp->inbound_from : &imp->outbound_from;

	if (!strcmp(c->policy, "ACCEPT"))
		a = FWD_ALLOW;
	else if (!strcmp(c->policy, "DROP"))
		a = FWD_DENY;
	else
		return;
	if (dir == FWD_DIR_IN) {
		imp->inbound = a;
		imp->inbound_set = true;
	} else {
		imp->outbound = a;
		imp->outbound_set = true;
	}
	if (!from->file) {
		from->file = fwd_xstrdup(t->name);
		from->line = c->line;
	}
}

static uint8_t guess_family(const char *buf, size_t len)
{
	const char *hdr = memmem(buf, len, "# Generated by ip6tables", 24);

	if (hdr)
		return AF_INET6;
	if (memmem(buf, len, "# Generated by iptables", 23))
		return AF_INET;
	for (size_t i = 1; i + 3 < len; i++)
		if ((buf[i] == 's' || buf[i] == 'd') && buf[i + 1] == ' ' && buf[i - 1] == '-') {
			size_t k = i + 2;

			while (k < len && buf[k] != ' ' && buf[k] != '\n') {
				if (buf[k] == ':')
					return AF_INET6;
				k++;
			}
		}
	return AF_INET;
}

/* Pass 1: the table's chains and rules; other tables are listed. */
static void read_lines(struct ipt *t, const char *buf, size_t len)
{
	char table[32] = "";
	unsigned line = 0;
	size_t pos = 0;

	while (pos < len) {
		const char *s = buf + pos, *e = memchr(s, '\n', len - pos);
		size_t n = e ? (size_t)(e - s) : len - pos;
		char **w;
		size_t nw, first = 0;

		pos += n + 1;
		line++;
		if (n && s[n - 1] == '\r')
			n--;
		nw = split(s, n, &w);
		if (nw && w[0][0] == '[')	/* iptables-save -c counters */
			first = 1;
		if (nw <= first || w[first][0] == '#') {
			;
		} else if (w[first][0] == '*') {
			snprintf(table, sizeof(table), "%s", w[first] + 1);
		} else if (!strcmp(w[first], "COMMIT")) {
			table[0] = '\0';
		} else if (w[first][0] == ':' && !strcmp(table, "filter")) {
			struct ipt_chain *c;

			FWD_GROW(t->chains, t->ccap, t->nchains + 1);
			c = &t->chains[t->nchains++];
			memset(c, 0, sizeof(*c));
			c->name = fwd_xstrdup(w[first] + 1);
			snprintf(c->policy, sizeof(c->policy), "%s", nw > first + 1 ? w[first + 1] : "-");
			c->line = line;
		} else if (w[first][0] == ':') {
			;
		} else if (!strcmp(w[first], "-A") && nw > first + 1 && !strcmp(table, "filter")) {
			struct ipt_line *l;

			FWD_GROW(t->lines, t->lcap, t->nlines + 1);
			l = &t->lines[t->nlines++];
			l->chain = fwd_xstrdup(w[first + 1]);
			l->nw = nw - first - 2;
			l->w = fwd_xcalloc(l->nw + 1, sizeof(*l->w));
			for (size_t i = 0; i < l->nw; i++)
				l->w[i] = fwd_xstrdup(w[first + 2 + i]);
			l->line = line;
		} else if (!strcmp(w[first], "-A") && table[0]) {
			char q[FWD_QUOTE_BUF(QMAX)];

			fwd_import_skip(t->imp, t->name, line, "a rule of the %s table (fwd "
					"imports the filter table's INPUT and OUTPUT)",
					fwd_quote(q, table, strlen(table), QMAX));
		} else {
			char q[FWD_QUOTE_BUF(QMAX)];

			fwd_import_skip(t->imp, t->name, line, "'%s' is not iptables-save "
					"output", fwd_quote(q, s, n, QMAX));
		}
		free_words(w, nw);
	}
}

int fwd_import_iptables(struct fwd_import *imp, const char *name,
			const char *buf, size_t len)
{
	struct ipt t = { .imp = imp, .name = name, .family = guess_family(buf, len) };
	static const struct { const char *chain; enum fwd_dir dir; } roots[] = {
		{ "INPUT", FWD_DIR_IN }, { "OUTPUT", FWD_DIR_OUT },
	};

	read_lines(&t, buf, len);
	for (size_t k = 0; k < 2; k++) {
		struct ipt_chain *c = chain_find(&t, roots[k].chain);
		bool ended = false;

		if (c)
			set_default(&t, c, roots[k].dir);
		walk(&t, roots[k].chain, roots[k].dir, 0, &ended);
	}
	for (size_t i = 0; i < t.nlines; i++) {
		const struct ipt_chain *c = chain_find(&t, t.lines[i].chain);
		char q[FWD_QUOTE_BUF(QMAX)];

		if (c && c->reached)
			continue;
		if (!strcmp(t.lines[i].chain, "FORWARD"))
			fwd_import_skip(imp, name, t.lines[i].line, "a FORWARD rule (fwd "
					"filters this host's own input and output)");
		else
			fwd_import_skip(imp, name, t.lines[i].line, "chain '%s' is not "
					"reached from INPUT or OUTPUT by an unconditional jump",
					fwd_quote(q, t.lines[i].chain, strlen(t.lines[i].chain),
						  QMAX));
	}
	for (size_t i = 0; i < t.nlines; i++) {
		free(t.lines[i].chain);
		free_words(t.lines[i].w, t.lines[i].nw);
	}
	free(t.lines);
	for (size_t i = 0; i < t.nchains; i++)
		free(t.chains[i].name);
	free(t.chains);
	return 0;
}
