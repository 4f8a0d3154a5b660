// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * firewalld zone XML -> imported rules (import.h). Parsed with expat
 * (no external entities, no DTD loading: expat reads neither unless told).
 * The order firewalld's own nftables backend gives a zone: rich rules that
 * refuse, rich rules that accept, then the zone's services and ports, then
 * the zone's target. Service names are resolved through the caller's
 * callback (firewalld's service XML files), includes followed.
 */
#include "import.h"
#include "util.h"

#include <expat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define QMAX 40
#define MAX_INCLUDE 8

/* What a zone or service grants: ports with their line. */
struct fw_port {
	enum fwd_imp_proto proto;
	uint16_t lo, hi;
	unsigned line;
};

/* A rich rule as read so far. */
struct fw_rich {
	bool open;
	unsigned line;
	uint8_t family;			/* 0: both */
	struct fwd_addr src;
	bool src_set;
	struct fw_port *ports;
	size_t nports, cap;
	enum fwd_imp_verdict verdict;
	bool verdict_set;
	const char *why;		/* not importable */
	char whybuf[160];
};

struct fw_zone {
	struct fwd_import *imp;
	const char *name;
	XML_Parser xp;
	fwd_imp_service_fn svc;
	void *arg;
	unsigned depth;
	bool in_zone, seen_zone;
	char target[24];
	unsigned target_line;
	struct fwd_addr *sources;
	size_t nsources, scap;
	bool source_failed;		/* a <source> fwd cannot name */
	struct fw_port *ports;		/* services' and <port>s, in order */
	size_t nports, pcap;
	struct fw_rich *rich;
	size_t nrich, rcap;
	struct fw_rich *cur;		/* inside <rule> */
};

static unsigned line_of(struct fw_zone *z)
{
	return (unsigned)XML_GetCurrentLineNumber(z->xp);
}

static const char *attr(const char **a, const char *name)
{
	for (size_t i = 0; a[i]; i += 2)
		if (!strcmp(a[i], name))
			return a[i + 1];
	return NULL;
}

/* The word of a message, quoted (escaped, cut); NULL reads as "". */
static const char *qw(char *q, const char *w)
{
	return fwd_quote(q, w ? w : "", w ? strlen(w) : 0, QMAX);
}

#define skip(z, line, fmt, w) do { \
	char q_[FWD_QUOTE_BUF(QMAX)]; \
	fwd_import_skip((z)->imp, (z)->name, (line), fmt, qw(q_, (w))); \
} while (0)

static void whyf(const char **why, char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void whyf(const char **why, char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (*why)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	*why = buf;
}

/* port="22" or "1000-2000", protocol="tcp"|"udp". */
static bool read_port(const char *port, const char *proto, struct fw_port *p)
{
	char *end;
	unsigned long a, b;

	if (!port || !proto)
		return false;
	if (!strcmp(proto, "tcp"))
		p->proto = FWD_IMP_TCP;
	else if (!strcmp(proto, "udp"))
		p->proto = FWD_IMP_UDP;
	else
		return false;
	a = strtoul(port, &end, 10);
	if (end == port || a < 1 || a > 65535)
		return false;
	b = a;
	if (*end == '-') {
		const char *t = end + 1;

		b = strtoul(t, &end, 10);
		if (end == t || b < a || b > 65535)
			return false;
	}
	if (*end)
		return false;
	p->lo = (uint16_t)a;
	p->hi = (uint16_t)b;
	return true;
}

static void add_port(struct fw_port **v, size_t *n, size_t *cap, const struct fw_port *p)
{
	FWD_GROW(*v, *cap, *n + 1);
	(*v)[(*n)++] = *p;
}

/* ---- service files ---------------------------------------------------- */

struct fw_svc {
	struct fw_zone *z;
	XML_Parser xp;
	unsigned zone_line;		/* the zone's <service> line */
	const char *svcname;
	struct fw_port *ports;
	size_t nports, cap;
	const char *why;
	char whybuf[160];
	char **includes;
	size_t nincludes, icap;
};

#define svc_why(s, fmt, w) do { \
	char q_[FWD_QUOTE_BUF(QMAX)]; \
	whyf(&(s)->why, (s)->whybuf, sizeof((s)->whybuf), fmt, qw(q_, (w))); \
} while (0)

static void XMLCALL svc_start(void *ud, const char *el, const char **a)
{
	struct fw_svc *s = ud;

	if (!strcmp(el, "port")) {
		struct fw_port p = { .line = s->zone_line };

		if (read_port(attr(a, "port"), attr(a, "protocol"), &p))
			add_port(&s->ports, &s->nports, &s->cap, &p);
		else
			svc_why(s, "a port fwd cannot allow ('%s')", attr(a, "port"));
	} else if (!strcmp(el, "protocol")) {
		svc_why(s, "the protocol '%s' (fwd allows TCP and UDP ports)",
			attr(a, "value"));
	} else if (!strcmp(el, "source-port")) {
		svc_why(s, "a source port ('%s')", attr(a, "port"));
	} else if (!strcmp(el, "destination")) {
		svc_why(s, "a destination address ('%s': fwd's rules do not name "
			"this host's addresses)", attr(a, "ipv4") ? attr(a, "ipv4") :
			attr(a, "ipv6"));
	} else if (!strcmp(el, "include")) {
		const char *n = attr(a, "service");

		if (n) {
			FWD_GROW(s->includes, s->icap, s->nincludes + 1);
			s->includes[s->nincludes++] = fwd_xstrdup(n);
		}
	}
}

/* The ports of service `name` (and of those it includes) appended to the
 * zone's; *why when any part of it cannot be expressed (then nothing of it
 * is added: a service is opened whole or not at all). */
static bool service_ports(struct fw_zone *z, const char *name, unsigned line,
			  unsigned depth, struct fw_port **out, size_t *nout,
			  size_t *cap, char *why, size_t whylen)
{
	struct fw_svc s = { .z = z, .zone_line = line, .svcname = name };
	char *path = NULL, *text;
	size_t len = 0;
	bool ok = true;
	char q[FWD_QUOTE_BUF(QMAX)];

	if (depth > MAX_INCLUDE) {
		snprintf(why, whylen, "service includes nested too deep");
		return false;
	}
	text = z->svc ? z->svc(z->arg, name, &len, &path) : NULL;
	if (!text) {
		snprintf(why, whylen, "service '%s' is not defined in the services "
			 "directories", fwd_quote(q, name, strlen(name), QMAX));
		free(path);
		return false;
	}
	s.xp = XML_ParserCreate(NULL);
	if (!s.xp)
		abort();
	XML_SetUserData(s.xp, &s);
	XML_SetElementHandler(s.xp, svc_start, NULL);
	if (len > (size_t)0x7fffffff ||
	    XML_Parse(s.xp, text, (int)len, 1) == XML_STATUS_ERROR) {
		snprintf(why, whylen, "service '%s': %s:%lu: %s",
			 fwd_quote(q, name, strlen(name), QMAX), path ? path : name,
			 (unsigned long)XML_GetCurrentLineNumber(s.xp),
			 XML_ErrorString(XML_GetErrorCode(s.xp)));
		ok = false;
	} else if (s.why) {
		snprintf(why, whylen, "service '%s': %s",
			 fwd_quote(q, name, strlen(name), QMAX), s.why);
		ok = false;
	}
	for (size_t i = 0; ok && i < s.nincludes; i++)
		ok = service_ports(z, s.includes[i], line, depth + 1, &s.ports,
				   &s.nports, &s.cap, why, whylen);
	for (size_t i = 0; ok && i < s.nports; i++)
		add_port(out, nout, cap, &s.ports[i]);
	for (size_t i = 0; i < s.nincludes; i++)
		free(s.includes[i]);
	free(s.includes);
	free(s.ports);
	XML_ParserFree(s.xp);
	free(text);
	free(path);
	return ok;
}

/* ---- the zone --------------------------------------------------------- */

#define rich_why(r, fmt, w) do { \
	char q_[FWD_QUOTE_BUF(QMAX)]; \
	whyf(&(r)->why, (r)->whybuf, sizeof((r)->whybuf), fmt, qw(q_, (w))); \
} while (0)

static void rich_start(struct fw_zone *z, const char *el, const char **a)
{
	struct fw_rich *r = z->cur;
	unsigned line = line_of(z);

	if (!strcmp(el, "source")) {
		const char *addr = attr(a, "address");

		if (attr(a, "invert") && strcmp(attr(a, "invert"), "false"))
			rich_why(r, "an inverted source ('%s')", addr);
		else if (!addr || fwd_addr_parse(addr, &r->src, NULL, 0) != 0)
			rich_why(r, "a source that is not an address or CIDR ('%s')",
				 addr ? addr : attr(a, "ipset"));
		else
			r->src_set = true;
	} else if (!strcmp(el, "port")) {
		struct fw_port p = { .line = r->line };

		if (read_port(attr(a, "port"), attr(a, "protocol"), &p))
			add_port(&r->ports, &r->nports, &r->cap, &p);
		else
			rich_why(r, "a port fwd cannot name ('%s')", attr(a, "port"));
	} else if (!strcmp(el, "service")) {
		char why[200];

		if (!service_ports(z, attr(a, "name") ? attr(a, "name") : "", line, 0,
				   &r->ports, &r->nports, &r->cap, why, sizeof(why)))
			rich_why(r, "%s", why);
	} else if (!strcmp(el, "accept") || !strcmp(el, "drop") || !strcmp(el, "reject")) {
		r->verdict = el[0] == 'a' ? FWD_IMP_ACCEPT : el[0] == 'd' ?
			     FWD_IMP_DROP : FWD_IMP_REJECT;
		r->verdict_set = true;
	} else if (!strcmp(el, "log") || !strcmp(el, "audit") || !strcmp(el, "nflog")) {
		rich_why(r, "logging ('%s'; fwd logs what it refuses itself)", el);
	} else if (!strcmp(el, "limit")) {
		/* Inside <log>/<accept>: a rate limit fwd does not have. */
		rich_why(r, "a rate limit ('%s')", attr(a, "value"));
	} else {
		rich_why(r, "the rich rule element '%s'", el);
	}
}

static void zone_start(struct fw_zone *z, const char *el, const char **a)
{
	unsigned line = line_of(z);

	if (!strcmp(el, "service")) {
		char why[200];
		const char *n = attr(a, "name");

		if (!service_ports(z, n ? n : "", line, 0, &z->ports, &z->nports,
				   &z->pcap, why, sizeof(why)))
			fwd_import_skip(z->imp, z->name, line, "%s", why);
	} else if (!strcmp(el, "port")) {
		struct fw_port p = { .line = line };

		if (read_port(attr(a, "port"), attr(a, "protocol"), &p))
			add_port(&z->ports, &z->nports, &z->pcap, &p);
		else
			skip(z, line, "a port fwd cannot allow ('%s')", attr(a, "port"));
	} else if (!strcmp(el, "source")) {
		const char *addr = attr(a, "address");
		struct fwd_addr s;

		if (!addr || fwd_addr_parse(addr, &s, NULL, 0) != 0) {
			skip(z, line, "a source that is not an address or CIDR ('%s'); the "
			     "zone's services are imported only for the sources fwd can "
			     "name", addr ? addr : attr(a, "ipset") ? attr(a, "ipset") :
			     attr(a, "mac"));
			z->source_failed = true;
			return;
		}
		FWD_GROW(z->sources, z->scap, z->nsources + 1);
		z->sources[z->nsources++] = s;
	} else if (!strcmp(el, "rule")) {
		const char *fam = attr(a, "family"), *prio = attr(a, "priority");

		FWD_GROW(z->rich, z->rcap, z->nrich + 1);
		z->cur = &z->rich[z->nrich++];
		memset(z->cur, 0, sizeof(*z->cur));
		z->cur->open = true;
		z->cur->line = line;
		if (fam && !strcmp(fam, "ipv4"))
			z->cur->family = AF_INET;
		else if (fam && !strcmp(fam, "ipv6"))
			z->cur->family = AF_INET6;
		else if (fam)
			rich_why(z->cur, "the family '%s'", fam);
		if (prio && strcmp(prio, "0"))
			rich_why(z->cur, "a priority ('%s'; imported rich rules keep "
				 "firewalld's default order)", prio);
	} else if (!strcmp(el, "interface")) {
		skip(z, line, "the interface binding '%s': the zone's services are "
		     "imported for every interface (fwd's rules hold on all)",
		     attr(a, "name"));
	} else if (!strcmp(el, "icmp-block") || !strcmp(el, "icmp-block-inversion")) {
		skip(z, line, "an ICMP block ('%s'; fwd's [defaults] icmp decides ICMP)",
		     attr(a, "name") ? attr(a, "name") : el);
	} else if (!strcmp(el, "short") || !strcmp(el, "description") ||
		   !strcmp(el, "forward")) {
		;
	} else {
		skip(z, line, "the element '%s'", el);
	}
}

static void XMLCALL on_start(void *ud, const char *el, const char **a)
{
	struct fw_zone *z = ud;

	z->depth++;
	if (z->depth == 1) {
		const char *t = attr(a, "target");

		if (strcmp(el, "zone")) {
			skip(z, line_of(z), "'%s' is not a firewalld zone", el);
			return;
		}
		z->in_zone = z->seen_zone = true;
		snprintf(z->target, sizeof(z->target), "%s", t ? t : "default");
		z->target_line = line_of(z);
		return;
	}
	if (!z->in_zone)
		return;
	if (z->cur && z->depth >= 3)
		rich_start(z, el, a);
	else if (z->depth == 2)
		zone_start(z, el, a);
}

static void XMLCALL on_end(void *ud, const char *el)
{
	struct fw_zone *z = ud;

	if (z->depth == 2 && z->cur && !strcmp(el, "rule"))
		z->cur = NULL;
	z->depth--;
}

/* ---- zone -> rules ---------------------------------------------------- */

static void emit(struct fw_zone *z, enum fwd_imp_verdict v, const struct fw_port *p,
		 const struct fwd_addr *peer, unsigned line)
{
	struct fwd_imp_rule r = {
		.dir = FWD_DIR_IN, .proto = p ? p->proto : FWD_IMP_ALL,
		.lo = p ? p->lo : 0, .hi = p ? p->hi : 0, .peer = *peer,
		.verdict = v, .file = (char *)z->name, .line = line,
	};

	fwd_import_add(z->imp, &r);
}

/* Every peer a zone part applies to: its sources, or everyone. */
static size_t peers_of(struct fw_zone *z, uint8_t family, struct fwd_addr *out, size_t max)
{
	size_t n = 0;

	if (!z->nsources) {
		if (family != AF_INET6 && n < max)
			out[n++] = (struct fwd_addr){ .family = AF_INET };
		if (family != AF_INET && n < max)
			out[n++] = (struct fwd_addr){ .family = AF_INET6 };
		return n;
	}
	for (size_t i = 0; i < z->nsources && n < max; i++)
		if (!family || z->sources[i].family == family)
			out[n++] = z->sources[i];
	return n;
}

/* Whether network n holds all of a. */
static bool addr_in(const struct fwd_addr *n, const struct fwd_addr *a)
{
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != a->family || n->prefix > a->prefix ||
	    memcmp(n->a, a->a, full) != 0)
		return false;
	return !rest || !((n->a[full] ^ a->a[full]) & (uint8_t)(0xff << (8 - rest)));
}

static void emit_rich(struct fw_zone *z, struct fw_rich *r)
{
	struct fwd_addr peers[64];
	size_t np;

	if (!r->verdict_set)
		rich_why(r, "%s", "a rule without accept, drop or reject");
	if (r->src_set && r->family && r->src.family != r->family)
		rich_why(r, "%s", "a source of the other family");
	if (r->src_set && z->nsources) {
		bool inside = false;

		for (size_t i = 0; i < z->nsources; i++)
			inside |= addr_in(&z->sources[i], &r->src);
		if (!inside)
			rich_why(r, "%s", "a source outside the zone's sources");
	}
	if (r->why) {
		fwd_import_skip(z->imp, z->name, r->line, "%s", r->why);
		return;
	}
	if (r->src_set) {
		peers[0] = r->src;
		np = 1;
	} else {
		np = peers_of(z, r->family, peers, 64);
	}
	for (size_t k = 0; k < np; k++) {
		if (!r->nports)
			emit(z, r->verdict, NULL, &peers[k], r->line);
		for (size_t i = 0; i < r->nports; i++)
			emit(z, r->verdict, &r->ports[i], &peers[k], r->line);
	}
}

static void finish(struct fw_zone *z)
{
	struct fwd_addr peers[64];
	size_t np = peers_of(z, 0, peers, 64);
	enum fwd_imp_verdict tv;
	bool closed_target;

	if (z->source_failed && !z->nsources) {
		/* Its services are for sources fwd cannot name: opening them
		 * to everyone would be more open than firewalld was. */
		fwd_import_skip(z->imp, z->name, z->target_line, "the zone: every one "
				"of its sources is one fwd cannot name");
		return;
	}
	/* firewalld's order: refusing rich rules, accepting ones, then the
	 * zone's services and ports, then its target. */
	for (size_t i = 0; i < z->nrich; i++)
		if (z->rich[i].verdict_set && z->rich[i].verdict != FWD_IMP_ACCEPT)
			emit_rich(z, &z->rich[i]);
	for (size_t i = 0; i < z->nrich; i++)
		if (!z->rich[i].verdict_set || z->rich[i].verdict == FWD_IMP_ACCEPT)
			emit_rich(z, &z->rich[i]);
	for (size_t k = 0; k < np; k++)
		for (size_t i = 0; i < z->nports; i++)
			emit(z, FWD_IMP_ACCEPT, &z->ports[i], &peers[k], z->ports[i].line);
	closed_target = strcmp(z->target, "ACCEPT") != 0;
	tv = !strcmp(z->target, "DROP") ? FWD_IMP_DROP :
	     closed_target ? FWD_IMP_REJECT : FWD_IMP_ACCEPT;
	if (strcmp(z->target, "default") && strcmp(z->target, "%%REJECT%%") &&
	    strcmp(z->target, "DROP") && strcmp(z->target, "ACCEPT")) {
		skip(z, z->target_line, "the target '%s'", z->target);
		return;
	}
	if (z->nsources) {
		for (size_t k = 0; k < np; k++)
			emit(z, tv, NULL, &peers[k], z->target_line);
		return;
	}
	/* The zone for everyone: its target is the inbound default, and
	 * firewalld accepts ICMP unless blocked. */
	z->imp->inbound = tv == FWD_IMP_ACCEPT ? FWD_ALLOW : tv == FWD_IMP_DROP ?
			  FWD_DENY : FWD_REJECT;
	z->imp->inbound_set = true;
	free((char *)z->imp->inbound_from.file);
	z->imp->inbound_from = (struct fwd_loc){ fwd_xstrdup(z->name), z->target_line };
	fwd_import_icmp_all(z->imp, FWD_IMP_V4 | FWD_IMP_V6, z->name, z->target_line);
}

int fwd_import_firewalld(struct fwd_import *imp, const char *name,
			 const char *buf, size_t len,
			 fwd_imp_service_fn svc, void *arg)
{
	struct fw_zone z = { .imp = imp, .name = name, .svc = svc, .arg = arg };

	z.xp = XML_ParserCreate(NULL);
	if (!z.xp)
		abort();
	XML_SetUserData(z.xp, &z);
	XML_SetElementHandler(z.xp, on_start, on_end);
	if (len > (size_t)0x7fffffff ||
	    XML_Parse(z.xp, buf, (int)len, 1) == XML_STATUS_ERROR) {
		fwd_import_skip(imp, name, line_of(&z), "the whole zone: the XML is "
				"malformed (%s)", XML_ErrorString(XML_GetErrorCode(z.xp)));
	} else if (!z.seen_zone) {
		fwd_import_skip(imp, name, 1, "the whole file: no <zone> in it");
	} else {
		finish(&z);
	}
	for (size_t i = 0; i < z.nrich; i++)
		free(z.rich[i].ports);
	free(z.rich);
	free(z.ports);
	free(z.sources);
	XML_ParserFree(z.xp);
	return 0;
}
