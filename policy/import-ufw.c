// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * ufw's words -> imported rules (import.h). Three texts say them: the rule
 * files (user.rules, user6.rules), whose "### tuple ###" lines are ufw's
 * own record of each rule (the iptables lines under them are derived);
 * /etc/default/ufw with the default policies; and `ufw status verbose`.
 * ufw decides first match, like iptables, in the order written.
 */
#include "import.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#define QMAX 40

struct ufw {
	struct fwd_import *imp;
	const char *name;
	unsigned line;
	uint8_t family;		/* of the file: user6.rules is IPv6 */
};

/* One rule as ufw states it, before it is checked. */
struct ufw_rule {
	const char *action;		/* allow, deny, reject, limit */
	bool log;			/* _log, _log-all, (log) */
	enum fwd_dir dir;
	enum fwd_imp_proto proto;
	const char *ports;		/* "22", "80,443", "6000:6007", NULL = any */
	struct fwd_addr peer;
	bool peer_set;
	uint8_t family;
};

static void skipf(struct ufw *u, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void skipf(struct ufw *u, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	fwd_import_skip(u->imp, u->name, u->line, "%s", msg);
	free(msg);
}

/* skip(u, "... '%s' ...", word): the word quoted (escaped, cut) first. */
#define skip(u, fmt, w) do { \
	char q_[FWD_QUOTE_BUF(QMAX)]; \
	const char *w_ = (w); \
	skipf((u), fmt, fwd_quote(q_, w_ ? w_ : "", w_ ? strlen(w_) : 0, QMAX)); \
} while (0)

static bool parse_ports(const char *s, uint16_t lo[16], uint16_t hi[16], size_t *n)
{
	const char *p = s;

	*n = 0;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b;

		if (end == p || a < 1 || a > 65535 || *n == 16)
			return false;
		b = a;
		if (*end == ':') {
			p = end + 1;
			b = strtoul(p, &end, 10);
			if (end == p || b > 65535 || b < a)
				return false;
		}
		lo[*n] = (uint16_t)a;
		hi[(*n)++] = (uint16_t)b;
		if (*end == ',')
			end++;
		else if (*end)
			return false;
		p = end;
	}
	return *n > 0;
}

static enum fwd_imp_verdict verdict_of(const char *a)
{
	return !strcmp(a, "allow") ? FWD_IMP_ACCEPT :
	       !strcmp(a, "reject") ? FWD_IMP_REJECT : FWD_IMP_DROP;
}

/* A rule fwd can express, into rules; anything else is listed. */
static void add_rule(struct ufw *u, const struct ufw_rule *ur)
{
	struct fwd_imp_rule r = {
		.dir = ur->dir, .proto = ur->proto, .file = (char *)u->name,
		.line = u->line,
	};
	uint16_t lo[16], hi[16];
	size_t n = 0;

	if (!strcmp(ur->action, "limit")) {
		skip(u, "'%s': a rate limit per source (fwd has no such rule; the "
		     "port stays closed)", ur->action);
		return;
	}
	if (strcmp(ur->action, "allow") && strcmp(ur->action, "deny") &&
	    strcmp(ur->action, "reject")) {
		skip(u, "the action '%s'", ur->action);
		return;
	}
	if (ur->ports && !parse_ports(ur->ports, lo, hi, &n)) {
		skip(u, "the ports '%s'", ur->ports);
		return;
	}
	if (ur->log)
		fwd_import_skip(u->imp, u->name, u->line, "its logging (fwd logs what "
				"it refuses itself: [defaults] log); the rule is imported");
	r.verdict = verdict_of(ur->action);
	if (ur->peer_set)
		r.peer = ur->peer;
	else
		r.peer = (struct fwd_addr){ .family = ur->family };
	if (!n) {
		fwd_import_add(u->imp, &r);
		return;
	}
	/* "any" with ports is ufw's word for tcp and udp (it writes one
	 * iptables rule for each); without ports it is every protocol. */
	for (size_t i = 0; i < n; i++) {
		r.lo = lo[i];
		r.hi = hi[i];
		if (ur->proto == FWD_IMP_ALL) {
			r.proto = FWD_IMP_TCP;
			fwd_import_add(u->imp, &r);
			r.proto = FWD_IMP_UDP;
		}
		fwd_import_add(u->imp, &r);
	}
}

static bool addr_word(const char *w, struct fwd_addr *a)
{
	return fwd_addr_parse(w, a, NULL, 0) == 0;
}

/* "### tuple ### ACTION PROTO DPORT DST SPORT SRC [DAPP SAPP] DIR[_IFACE]
 * [comment=HEX]", as ufw's backend_iptables.py writes and reads it. */
static void tuple(struct ufw *u, char *s)
{
	char *w[10], *save = NULL, *c;
	size_t n = 0;
	struct ufw_rule ur = { .family = u->family };
	struct fwd_addr dst, src;
	const char *dir;

	if ((c = strstr(s, " comment=")))
		*c = '\0';
	for (char *p = strtok_r(s, " \t", &save); p; p = strtok_r(NULL, " \t", &save)) {
		if (n == 10)
			break;
		w[n++] = p;
	}
	if (n < 6 || n > 9) {
		skip(u, "a tuple line ufw itself would skip ('%s')", n ? w[0] : "");
		return;
	}
	ur.action = w[0];
	if ((c = strchr(w[0], '_'))) {
		*c = '\0';
		ur.log = true;
	}
	if (strchr(w[0], ':')) {
		skip(u, "a route rule ('%s': fwd filters this host's own input and "
		     "output)", w[0]);
		return;
	}
	dir = n == 7 || n == 9 ? w[n - 1] : "in";
	if (!strcmp(w[1], "tcp"))
		ur.proto = FWD_IMP_TCP;
	else if (!strcmp(w[1], "udp"))
		ur.proto = FWD_IMP_UDP;
	else if (!strcmp(w[1], "any"))
		ur.proto = FWD_IMP_ALL;
	else {
		skip(u, "the protocol '%s' (fwd allows TCP and UDP ports)", w[1]);
		return;
	}
	if (strcmp(dir, "in") && strcmp(dir, "out")) {
		skip(u, "an interface ('%s': fwd's rules hold on every interface)", dir);
		return;
	}
	ur.dir = !strcmp(dir, "out") ? FWD_DIR_OUT : FWD_DIR_IN;
	if (!addr_word(w[3], &dst) || !addr_word(w[5], &src)) {
		skip(u, "an address that is not a CIDR ('%s')", w[3]);
		return;
	}
	if (strcmp(w[4], "any")) {
		skip(u, "a source port ('%s')", w[4]);
		return;
	}
	if (ur.dir == FWD_DIR_IN ? dst.prefix : src.prefix) {
		skip(u, "this host's address ('%s': fwd's rules do not name it)",
		     ur.dir == FWD_DIR_IN ? w[3] : w[5]);
		return;
	}
	ur.peer = ur.dir == FWD_DIR_IN ? src : dst;
	ur.peer_set = true;
	ur.family = ur.peer.family;
	ur.ports = strcmp(w[2], "any") ? w[2] : NULL;
	add_rule(u, &ur);
}

/* DEFAULT_INPUT_POLICY="DROP" and its kin (/etc/default/ufw). */
static void default_line(struct ufw *u, const char *s)
{
	const char *eq = strchr(s, '='), *v;
	enum fwd_action a;
	bool in;
	char val[16];
	size_t k = 0;

	if (!eq)
		return;
	in = !strncmp(s, "DEFAULT_INPUT_POLICY", 20);
	if (!in && strncmp(s, "DEFAULT_OUTPUT_POLICY", 21))
		return;
	for (v = eq + 1; *v && k + 1 < sizeof(val); v++)
		if (*v != '"' && *v != '\'' && *v != ' ')
			val[k++] = *v;
	val[k] = '\0';
	if (!strcmp(val, "DROP"))
		a = FWD_DENY;
	else if (!strcmp(val, "REJECT"))
		a = FWD_REJECT;
	else if (!strcmp(val, "ACCEPT"))
		a = FWD_ALLOW;
	else {
		skip(u, "the default policy '%s'", val);
		return;
	}
	if (in) {
		u->imp->inbound = a;
		u->imp->inbound_set = true;
		free((char *)u->imp->inbound_from.file);
		u->imp->inbound_from = (struct fwd_loc){ fwd_xstrdup(u->name), u->line };
	} else {
		u->imp->outbound = a;
		u->imp->outbound_set = true;
		free((char *)u->imp->outbound_from.file);
		u->imp->outbound_from = (struct fwd_loc){ fwd_xstrdup(u->name), u->line };
	}
}

/* "Default: deny (incoming), allow (outgoing), disabled (routed)" */
static void status_defaults(struct ufw *u, const char *s)
{
	static const struct { const char *w; enum fwd_action a; } words[] = {
		{ "deny", FWD_DENY }, { "reject", FWD_REJECT }, { "allow", FWD_ALLOW },
	};

	for (size_t i = 0; i < 3; i++) {
		for (int d = 0; d < 2; d++) {
			char pat[32];

			snprintf(pat, sizeof(pat), "%s (%s)", words[i].w,
				 d ? "outgoing" : "incoming");
			if (!strstr(s, pat))
				continue;
			if (d) {
				u->imp->outbound = words[i].a;
				u->imp->outbound_set = true;
				free((char *)u->imp->outbound_from.file);
				u->imp->outbound_from = (struct fwd_loc){ fwd_xstrdup(u->name), u->line };
			} else {
				u->imp->inbound = words[i].a;
				u->imp->inbound_set = true;
				free((char *)u->imp->inbound_from.file);
				u->imp->inbound_from = (struct fwd_loc){ fwd_xstrdup(u->name), u->line };
			}
		}
	}
}

/* One column of a status row: [ADDR|Anywhere] [PORTS[/PROTO]] [(v6)]. */
struct status_col {
	bool any, v6, addr_set;
	struct fwd_addr addr;
	char ports[64];
	enum fwd_imp_proto proto;
	const char *bad;		/* a word fwd cannot take */
};

static void status_col(char *s, struct status_col *c)
{
	char *save = NULL;

	memset(c, 0, sizeof(*c));
	c->proto = FWD_IMP_ALL;
	for (char *w = strtok_r(s, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		char *slash;

		if (!strcmp(w, "Anywhere")) {
			c->any = true;
		} else if (!strcmp(w, "(v6)")) {
			c->v6 = true;
		} else if (!c->addr_set && !c->ports[0] && addr_word(w, &c->addr)) {
			c->addr_set = true;
		} else if (!c->ports[0] && ((w[0] >= '0' && w[0] <= '9'))) {
			slash = strchr(w, '/');
			if (slash) {
				*slash = '\0';
				if (!strcmp(slash + 1, "tcp"))
					c->proto = FWD_IMP_TCP;
				else if (!strcmp(slash + 1, "udp"))
					c->proto = FWD_IMP_UDP;
				else if (!c->bad)
					c->bad = slash + 1;
			}
			snprintf(c->ports, sizeof(c->ports), "%s", w);
		} else if (!c->bad) {
			c->bad = w;
		}
	}
}

/* A row of the table under "To  Action  From": columns apart by two or
 * more blanks. */
static void status_row(struct ufw *u, char *s)
{
	char *col[4] = { 0 }, *p = s, *hash;
	size_t n = 0;
	struct status_col to, from;
	struct ufw_rule ur = { 0 };
	char action[32];
	char *sp;

	if ((hash = strstr(s, " # ")))
		*hash = '\0';
	/* `ufw status numbered`: "[ 1] 22/tcp ..." */
	if (*p == '[' && (hash = strchr(p, ']'))) {
		p = hash + 1;
		while (*p == ' ')
			p++;
	}
	while (*p && n < 4) {
		char *e = strstr(p, "  ");

		col[n++] = p;
		if (!e)
			break;
		*e = '\0';
		p = e + 2;
		while (*p == ' ')
			p++;
	}
	if (n < 3 || !*col[2]) {
		skip(u, "a status row with fewer than three columns ('%s')", s);
		return;
	}
	/* `ufw status` without verbose says ALLOW for ALLOW IN. */
	snprintf(action, sizeof(action), "%s%s", col[1], strchr(col[1], ' ') ? "" : " IN");
	sp = strchr(action, ' ');
	if (!sp || (strcmp(sp + 1, "IN") && strcmp(sp + 1, "OUT"))) {
		skip(u, "the action '%s' (fwd filters this host's own input and output)",
		     col[1]);
		return;
	}
	*sp = '\0';
	for (char *a = action; *a; a++)
		if (*a >= 'A' && *a <= 'Z')
			*a = (char)(*a + ('a' - 'A'));
	ur.dir = !strcmp(sp + 1, "OUT") ? FWD_DIR_OUT : FWD_DIR_IN;
	ur.action = action;
	if (n > 3 && strstr(col[3], "(log"))
		ur.log = true;
	status_col(col[0], &to);
	status_col(col[2], &from);
	{
		struct status_col *peer = ur.dir == FWD_DIR_IN ? &from : &to;
		struct status_col *self = ur.dir == FWD_DIR_IN ? &to : &from;

		if (to.bad || from.bad) {
			skip(u, "'%s' (an application profile, interface or protocol "
			     "fwd cannot name)", to.bad ? to.bad : from.bad);
			return;
		}
		if (self->addr_set) {
			skip(u, "this host's address ('%s': fwd's rules do not name it)",
			     ur.dir == FWD_DIR_IN ? col[0] : col[2]);
			return;
		}
		if (from.ports[0]) {
			skip(u, "a source port ('%s')", col[2]);
			return;
		}
		ur.family = peer->v6 || self->v6 ? AF_INET6 : AF_INET;
		if (peer->addr_set) {
			ur.peer = peer->addr;
			ur.peer_set = true;
			ur.family = peer->addr.family;
		}
		ur.ports = to.ports[0] ? to.ports : NULL;
		ur.proto = to.proto;
	}
	add_rule(u, &ur);
}

enum ufw_kind { UFW_UNKNOWN, UFW_RULES, UFW_DEFAULTS, UFW_STATUS };

static enum ufw_kind kind_of(const char *buf, size_t len)
{
	if (memmem(buf, len, "### tuple ###", 13) || memmem(buf, len, "*filter", 7))
		return UFW_RULES;
	if (memmem(buf, len, "Status: ", 8))
		return UFW_STATUS;
	if (memmem(buf, len, "DEFAULT_INPUT_POLICY", 20))
		return UFW_DEFAULTS;
	return UFW_UNKNOWN;
}

int fwd_import_ufw(struct fwd_import *imp, const char *name,
		   const char *buf, size_t len)
{
	struct ufw u = { .imp = imp, .name = name, .family = AF_INET };
	enum ufw_kind kind = kind_of(buf, len);
	bool table = false, active = true;
	size_t pos = 0;

	if (kind == UFW_UNKNOWN) {
		fwd_import_skip(imp, name, 0, "not ufw's rule file, /etc/default/ufw "
				"or `ufw status verbose` output");
		return -EINVAL;
	}
	if (memmem(buf, len, "ufw6-user-input", 15))
		u.family = AF_INET6;
	while (pos < len) {
		const char *s = buf + pos, *e = memchr(s, '\n', len - pos);
		size_t n = e ? (size_t)(e - s) : len - pos;
		char *line;

		pos += n + 1;
		u.line++;
		if (n && s[n - 1] == '\r')
			n--;
		line = fwd_xstrndup(s, n);
		if (memchr(s, '\0', n)) {
			skip(&u, "a line with a NUL byte ('%s')", line);
		} else if (kind == UFW_RULES && !strncmp(line, "### tuple ###", 13)) {
			tuple(&u, line + 13);
		} else if (kind == UFW_DEFAULTS) {
			default_line(&u, line);
		} else if (kind == UFW_STATUS) {
			if (!strncmp(line, "Status: ", 8))
				active = strstr(line, "inactive") == NULL;
			else if (!strncmp(line, "Default: ", 9))
				status_defaults(&u, line);
			else if (!strncmp(line, "--", 2))
				table = true;
			else if (table && line[0])
				status_row(&u, line);
		}
		free(line);
	}
	if (!active)
		fwd_import_skip(imp, name, 0, "ufw is inactive there: its rules are "
				"imported as if it were enabled");
	return 0;
}
