// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * program = rules + a queued packet + its socket's owner -> the verdict
 * loop's program decision (progrule.h).
 *
 * A policy names a handful of programs, each with a few ports and
 * destinations, and only the first packet of a flow is asked about, so a
 * linear walk is enough; the big lists stay in the kernel's sets.
 */
#include "progrule.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"
#include "guard.h"
#include "util.h"

static void add_addr(struct fwd_progrule *r, const struct fwd_addr *a)
{
	r->addrs = fwd_xreallocarray(r->addrs, r->naddrs + 1, sizeof(*r->addrs));
	r->addrs[r->naddrs++] = *a;
}

/* The service's destinations, copied: the rules outlive the policy. */
static void copy_dests(struct fwd_progrule *r, const struct fwd_policy *p,
		       const struct fwd_service *sv)
{
	if (sv->nports) {
		r->ports = fwd_xreallocarray(NULL, sv->nports, sizeof(*r->ports));
		memcpy(r->ports, sv->ports, sv->nports * sizeof(*r->ports));
		for (size_t i = 0; i < sv->nports; i++)
			r->ports[i].loc.file = NULL;	/* not needed, not kept */
		r->nports = sv->nports;
	}
	for (size_t i = 0; i < sv->nallow; i++) {
		const struct fwd_peer *pe = &sv->allow[i];

		if (pe->kind == FWD_PEER_ANY)
			r->any = true;
		else if (pe->kind == FWD_PEER_ADDR)
			add_addr(r, &pe->addr);
		else if (pe->list < p->nlists)
			for (size_t k = 0; k < p->lists[pe->list].n; k++)
				add_addr(r, &p->lists[pe->list].addrs[k]);
	}
}

int fwd_progrules_new(const struct fwd_policy *p, fwd_prog_resolve_fn resolve,
		      void *arg, struct fwd_progrules **out)
{
	struct fwd_progrules *rs = fwd_xcalloc(1, sizeof(*rs));

	for (size_t i = 0; p && i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		for (size_t k = 0; k < sv->nowners; k++) {
			const struct fwd_owner *o = &sv->owners[k];
			struct fwd_progrule *r;

			if (o->kind != FWD_OWNER_PROGRAM)
				continue;
			rs->r = fwd_xreallocarray(rs->r, rs->n + 1, sizeof(*rs->r));
			r = &rs->r[rs->n++];
			memset(r, 0, sizeof(*r));
			r->path = fwd_xstrdup(o->name);
			r->service = fwd_xstrdup(sv->name);
			r->loc.line = o->loc.line;
			r->loc.file = o->loc.file ? fwd_xstrdup(o->loc.file) : NULL;
			r->resolved = resolve ? resolve(arg, o->name, &r->id) :
					       -ENOENT;
			copy_dests(r, p, sv);
		}
	}
	*out = rs;
	return 0;
}

/* ---- as text (progrule.h) ---- */

static void put_tok(FILE *f, const char *s)
{
	if (!s || !*s) {
		fputc('%', f);
		return;
	}
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= ' ' || c == '%' || c >= 0x7f)
			fprintf(f, "%%%02X", c);
		else
			fputc(c, f);
	}
}

static void put_rule(FILE *f, const struct fwd_progrule *r)
{
	char a[FWD_ADDR_STRLEN];

	put_tok(f, r->path);
	fputc(' ', f);
	put_tok(f, r->loc.file);
	fprintf(f, " %d ", r->loc.line);
	put_tok(f, r->service);
	fprintf(f, " %d ", r->any ? 1 : 0);
	for (size_t i = 0; i < r->nports; i++)
		fprintf(f, "%s%u:%u-%u", i ? "," : "", r->ports[i].proto,
			r->ports[i].lo, r->ports[i].hi);
	fputs(r->nports ? " " : "% ", f);
	for (size_t i = 0; i < r->naddrs; i++) {
		fwd_addr_format(&r->addrs[i], a, sizeof(a));
		fprintf(f, "%s%s", i ? "," : "", a);
	}
	fputs(r->naddrs ? "\n" : "%\n", f);
}

char *fwd_progrules_text(const struct fwd_policy *p)
{
	struct fwd_progrules *rs = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	fwd_progrules_new(p, NULL, NULL, &rs);
	if (!rs->n) {
		fwd_progrules_free(rs);
		return NULL;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		abort();	/* the project's OOM policy */
	for (size_t i = 0; i < rs->n; i++)
		put_rule(f, &rs->r[i]);
	if (fclose(f) != 0)
		abort();
	fwd_progrules_free(rs);
	return buf;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* One escaped token of n bytes -> a new string (NULL: not a token). */
static char *get_tok(const char *s, size_t n)
{
	char *out, *o;

	if (n == 1 && s[0] == '%')
		return fwd_xstrdup("");
	out = o = fwd_xcalloc(1, n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
			int lo = hi >= 0 ? hexval(s[i + 2]) : -1;

			if (lo < 0 || (hi == 0 && lo == 0)) {
				free(out);
				return NULL;
			}
			*o++ = (char)(hi << 4 | lo);
			i += 2;
		} else {
			*o++ = s[i];
		}
	}
	return out;
}

static bool get_ports(struct fwd_progrule *r, const char *s)
{
	if (!strcmp(s, "%"))
		return true;
	for (const char *p = s; *p; ) {
		unsigned proto, lo, hi;
		int used = 0;

		if (sscanf(p, "%3u:%5u-%5u%n", &proto, &lo, &hi, &used) != 3 ||
		    used == 0 || proto > 255 || lo > hi || hi > 65535)
			return false;
		r->ports = fwd_xreallocarray(r->ports, r->nports + 1,
					     sizeof(*r->ports));
		r->ports[r->nports++] = (struct fwd_ports){ (uint8_t)proto,
			(uint16_t)lo, (uint16_t)hi, { 0 } };
		p += used;
		if (*p == ',')
			p++;
		else if (*p)
			return false;
	}
	return true;
}

static bool get_addrs(struct fwd_progrule *r, char *s)
{
	char why[128], *save = NULL;

	if (!strcmp(s, "%"))
		return true;
	for (char *w = strtok_r(s, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		struct fwd_addr a;

		if (fwd_addr_parse(w, &a, why, sizeof(why)) != 0)
			return false;
		add_addr(r, &a);
	}
	return true;
}

/* One line's rule, into r (zeroed by the caller). */
static bool get_rule(struct fwd_progrule *r, char *line)
{
	char *tok[7], *save = NULL;
	char *end;
	long ln;
	int n = 0;

	for (char *w = strtok_r(line, " ", &save); w && n < 8;
	     w = strtok_r(NULL, " ", &save))
		if (n < 7)
			tok[n++] = w;
		else
			return false;	/* an eighth token */
	if (n != 7)
		return false;
	r->path = get_tok(tok[0], strlen(tok[0]));
	r->loc.file = get_tok(tok[1], strlen(tok[1]));
	r->service = get_tok(tok[3], strlen(tok[3]));
	ln = strtol(tok[2], &end, 10);
	if (!r->path || r->path[0] != '/' || !r->loc.file || !r->service ||
	    *end || ln < 0 || ln > 1000000000 ||
	    (strcmp(tok[4], "0") && strcmp(tok[4], "1")))
		return false;
	if (!r->loc.file[0]) {
		free((char *)r->loc.file);
		r->loc.file = NULL;
	}
	r->loc.line = (int)ln;
	r->any = tok[4][0] == '1';
	return get_ports(r, tok[5]) && get_addrs(r, tok[6]);
}

int fwd_progrules_from_text(const char *text, fwd_prog_resolve_fn resolve,
			    void *arg, struct fwd_progrules **out,
			    unsigned *bad_line)
{
	struct fwd_progrules *rs = fwd_xcalloc(1, sizeof(*rs));
	char *copy = fwd_xstrdup(text ? text : ""), *save = NULL;
	unsigned lineno = 0;

	*out = NULL;
	*bad_line = 0;
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		struct fwd_progrule *r;

		lineno++;
		rs->r = fwd_xreallocarray(rs->r, rs->n + 1, sizeof(*rs->r));
		r = &rs->r[rs->n++];
		memset(r, 0, sizeof(*r));
		if (!get_rule(r, l)) {
			*bad_line = lineno;
			free(copy);
			fwd_progrules_free(rs);
			return -EBADMSG;
		}
		r->resolved = resolve ? resolve(arg, r->path, &r->id) : -ENOENT;
	}
	free(copy);
	*out = rs;
	return 0;
}

void fwd_progrules_free(struct fwd_progrules *rs)
{
	if (!rs)
		return;
	for (size_t i = 0; i < rs->n; i++) {
		free(rs->r[i].path);
		free(rs->r[i].service);
		free((char *)rs->r[i].loc.file);
		free(rs->r[i].ports);
		free(rs->r[i].addrs);
	}
	free(rs->r);
	free(rs);
}

static bool addr_has(const struct fwd_addr *a, uint8_t family,
		     const uint8_t *dst)
{
	unsigned bits = a->prefix, i;

	if (a->family != family)
		return false;
	for (i = 0; i + 8 <= bits; i += 8)
		if (a->a[i / 8] != dst[i / 8])
			return false;
	if (i < bits) {
		uint8_t m = (uint8_t)(0xff00u >> (bits - i));

		if ((a->a[i / 8] & m) != (dst[i / 8] & m))
			return false;
	}
	return true;
}

/* Whether rule r's service covers the packet's destination. */
static bool covers(const struct fwd_progrule *r, const struct fwd_pkt *pkt)
{
	bool port = false, addr = r->any;

	for (size_t i = 0; i < r->nports && !port; i++)
		port = r->ports[i].proto == pkt->proto &&
		       r->ports[i].lo <= pkt->dport && pkt->dport <= r->ports[i].hi;
	for (size_t i = 0; i < r->naddrs && !addr; i++)
		addr = addr_has(&r->addrs[i], pkt->family, pkt->dst);
	return port && addr;
}

void fwd_prog_decide(const struct fwd_progrules *rs, const struct fwd_pkt *pkt,
		     const struct fwd_prog_owner *own,
		     struct fwd_prog_verdict *out)
{
	long cover = -1;

	*out = (struct fwd_prog_verdict){ .accept = false,
					  .reason = FWD_PROG_NOT_ALLOWED,
					  .rule = -1 };
	for (size_t i = 0; rs && i < rs->n; i++) {
		const struct fwd_progrule *r = &rs->r[i];

		if (!covers(r, pkt))
			continue;
		if (cover < 0)
			cover = (long)i;
		/* An unresolved path matches nothing; an unknown owner is
		 * nobody's binary. */
		if (own && own->known && r->resolved == 0 &&
		    r->id.dev == own->exe.dev && r->id.ino == own->exe.ino) {
			out->accept = true;
			out->reason = FWD_PROG_ALLOWED;
			out->rule = (long)i;
			return;
		}
	}
	out->rule = cover;
	if (!own || !own->known)
		out->reason = FWD_PROG_UNKNOWN_OWNER;
}

const char *fwd_prog_reason_name(enum fwd_prog_reason r)
{
	switch (r) {
	case FWD_PROG_ALLOWED: return "allowed";
	case FWD_PROG_UNKNOWN_OWNER: return "unknown_owner";
	case FWD_PROG_NOT_ALLOWED: return "not_allowed";
	}
	return "?";
}
