// SPDX-License-Identifier: GPL-2.0-or-later
/* services(5) lookup from an explicit path, and the PORTS words that use it. */
#include "services.h"
#include "diag.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct svc_entry {
	char *name;		/* name or alias */
	uint16_t port;
	bool udp;
};

struct fwd_services {
	struct svc_entry *v;
	size_t n, cap;
};

static void add(struct fwd_services *s, const char *name, size_t len,
		uint16_t port, bool udp)
{
	FWD_GROW(s->v, s->cap, s->n + 1);
	s->v[s->n].name = fwd_xstrndup(name, len);
	s->v[s->n].port = port;
	s->v[s->n].udp = udp;
	s->n++;
}

/* Next whitespace-separated word of [*p, end), or false at the end. */
static bool word(const char **p, const char *end, const char **w, size_t *len)
{
	const char *q = *p;

	while (q < end && isspace((unsigned char)*q))
		q++;
	if (q == end)
		return false;
	*w = q;
	while (q < end && !isspace((unsigned char)*q))
		q++;
	*len = (size_t)(q - *w);
	*p = q;
	return true;
}

/* "name port/proto alias... # comment"; malformed lines are skipped, as
 * the C library does: the file is system data, not the user's policy. */
static void parse_line(struct fwd_services *s, const char *line, size_t len)
{
	const char *end = line + len, *hash = memchr(line, '#', len);
	const char *name, *pp, *w, *slash;
	size_t nlen, pplen, wlen;
	unsigned long port = 0;
	bool udp;

	if (hash)
		end = hash;
	if (!word(&line, end, &name, &nlen) || !word(&line, end, &pp, &pplen))
		return;
	slash = memchr(pp, '/', pplen);
	if (!slash || slash == pp || slash - pp > 5)
		return;
	for (const char *c = pp; c < slash; c++) {
		if (!isdigit((unsigned char)*c))
			return;
		port = port * 10 + (unsigned long)(*c - '0');
	}
	if (port == 0 || port > 65535)
		return;
	if ((size_t)(pp + pplen - slash) == 4 && !memcmp(slash, "/tcp", 4))
		udp = false;
	else if ((size_t)(pp + pplen - slash) == 4 && !memcmp(slash, "/udp", 4))
		udp = true;
	else
		return;
	add(s, name, nlen, (uint16_t)port, udp);
	while (word(&line, end, &w, &wlen))
		add(s, w, wlen, (uint16_t)port, udp);
}

int fwd_services_load(const char *path, struct fwd_services **out)
{
	struct fwd_services *s;
	const char *p, *end, *nl;
	size_t len;
	char *buf;
	int ret;

	*out = NULL;
	ret = fwd_read_file(path, &buf, &len);
	if (ret)
		return ret;
	s = fwd_xcalloc(1, sizeof(*s));
	for (p = buf, end = buf + len; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		parse_line(s, p, (size_t)(nl - p));
	}
	free(buf);
	*out = s;
	return 0;
}

void fwd_services_free(struct fwd_services *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	free(s);
}

bool fwd_services_lookup(const struct fwd_services *s, const char *name,
			 uint16_t *tcp, uint16_t *udp)
{
	*tcp = *udp = 0;
	for (size_t i = 0; i < s->n; i++) {
		const struct svc_entry *e = &s->v[i];
		uint16_t *slot = e->udp ? udp : tcp;

		if (*slot == 0 && strcmp(e->name, name) == 0)
			*slot = e->port;
	}
	return *tcp || *udp;
}

/* ---- PORTS words ---- */

#define QUOTE_MAX 60

static void perr(struct fwd_ports_parser *pp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void perr(struct fwd_ports_parser *pp, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	pp->error(pp->arg, msg);
	free(msg);
}

static const char *services_path(const struct fwd_ports_parser *pp)
{
	return pp->services_path ? pp->services_path : "/etc/services";
}

static size_t digits(const char *w, size_t n)
{
	size_t i = 0;

	while (i < n && w[i] >= '0' && w[i] <= '9')
		i++;
	return i;
}

/*
 * A port number as written: digits only. Out-of-range values are reported
 * with the digits the user wrote (no overflow however many there are).
 */
static bool port_number(struct fwd_ports_parser *pp, const char *w, size_t n,
			uint16_t *out)
{
	char q[FWD_QUOTE_BUF(QUOTE_MAX)];
	unsigned long v = 0;

	for (size_t i = 0; i < n; i++)
		if (v <= 65535)
			v = v * 10 + (unsigned long)(w[i] - '0');
	if (v == 0 || v > 65535) {
		perr(pp, "port %s is out of range (1-65535)",
		     fwd_quote(q, w, n, QUOTE_MAX));
		return false;
	}
	*out = (uint16_t)v;
	return true;
}

/* "htps": the closest name of the database is most likely what was meant. */
static void unknown_name(struct fwd_ports_parser *pp, const char *name,
			 const char *q, const char *path)
{
	struct fwd_suggest sg;
	char q2[FWD_QUOTE_BUF(QUOTE_MAX)];

	fwd_suggest_init(&sg, name, strlen(name));
	for (size_t i = 0; i < pp->db->n; i++)
		fwd_suggest_offer(&sg, pp->db->v[i].name);
	if (sg.best)
		perr(pp, "unknown service name '%s' (not in %s; did you mean '%s'?)",
		     q, path, fwd_quote(q2, sg.best, strlen(sg.best), QUOTE_MAX));
	else
		perr(pp, "unknown service name '%s' (not in %s)", q, path);
}

static size_t port_name(struct fwd_ports_parser *pp, const char *w, size_t n,
			uint8_t proto, struct fwd_port_range out[2])
{
	char *name = fwd_xstrndup(w, n), q[FWD_QUOTE_BUF(QUOTE_MAX)];
	const char *path = services_path(pp);
	uint16_t tcp, udp;
	size_t k = 0;

	fwd_quote(q, w, n, QUOTE_MAX);
	if (!pp->db && !pp->db_err)
		pp->db_err = fwd_services_load(path, &pp->db);
	if (pp->db_err)
		perr(pp, "cannot look up service name '%s': %s: %s", q, path,
		     strerror(-pp->db_err));
	else if (!fwd_services_lookup(pp->db, name, &tcp, &udp))
		unknown_name(pp, name, q, path);
	else if (proto == IPPROTO_TCP && !tcp)
		perr(pp, "service '%s' has no tcp port in %s (it has %u/udp)",
		     q, path, udp);
	else if (proto == IPPROTO_UDP && !udp)
		perr(pp, "service '%s' has no udp port in %s (it has %u/tcp)",
		     q, path, tcp);
	else {
		if (tcp && proto != IPPROTO_UDP)
			out[k++] = (struct fwd_port_range){ IPPROTO_TCP, tcp, tcp };
		if (udp && proto != IPPROTO_TCP)
			out[k++] = (struct fwd_port_range){ IPPROTO_UDP, udp, udp };
	}
	free(name);
	return k;
}

size_t fwd_ports_word(struct fwd_ports_parser *pp, const char *w, size_t n,
		      struct fwd_port_range out[2])
{
	char q[FWD_QUOTE_BUF(QUOTE_MAX)], q2[FWD_QUOTE_BUF(QUOTE_MAX)];
	const char *slash = memchr(w, '/', n);
	size_t pn = slash ? (size_t)(slash - w) : n, d, k = 0;
	uint8_t proto = 0;
	uint16_t lo, hi;

	if (slash) {
		const char *pr = slash + 1;
		size_t prn = (size_t)(w + n - pr);

		if (prn == 0) {
			perr(pp, "missing protocol after '/' in '%s'; valid "
			     "protocols are tcp, udp", fwd_quote(q, w, n, QUOTE_MAX));
			return 0;
		}
		if (prn == 3 && !memcmp(pr, "tcp", 3))
			proto = IPPROTO_TCP;
		else if (prn == 3 && !memcmp(pr, "udp", 3))
			proto = IPPROTO_UDP;
		else {
			perr(pp, "unknown protocol '%s' in '%s'; valid protocols "
			     "are tcp, udp", fwd_quote(q, pr, prn, QUOTE_MAX),
			     fwd_quote(q2, w, n, QUOTE_MAX));
			return 0;
		}
	}
	if (pn == 0) {
		perr(pp, "missing port before '/' in '%s'",
		     fwd_quote(q, w, n, QUOTE_MAX));
		return 0;
	}
	d = digits(w, pn);
	if (d == pn) {
		if (!port_number(pp, w, d, &lo))
			return 0;
		hi = lo;
	} else if (d > 0 && w[d] == '-' && d + 1 < pn &&
		   digits(w + d + 1, pn - d - 1) == pn - d - 1) {
		bool ok = port_number(pp, w, d, &lo);

		/* Both ends are checked: each bad one is reported. */
		ok = port_number(pp, w + d + 1, pn - d - 1, &hi) && ok;
		if (!ok)
			return 0;
		if (hi < lo) {
			perr(pp, "bad port range '%s': %u is greater than %u",
			     fwd_quote(q, w, pn, QUOTE_MAX), lo, hi);
			return 0;
		}
	} else if (d > 0 || w[0] == '-') {
		perr(pp, "invalid port '%s'; expected a number (1-65535), a range "
		     "LO-HI or a service name", fwd_quote(q, w, pn, QUOTE_MAX));
		return 0;
	} else {
		return port_name(pp, w, pn, proto, out);
	}
	if (proto != IPPROTO_UDP)
		out[k++] = (struct fwd_port_range){ IPPROTO_TCP, lo, hi };
	if (proto != IPPROTO_TCP)
		out[k++] = (struct fwd_port_range){ IPPROTO_UDP, lo, hi };
	return k;
}

void fwd_ports_parser_done(struct fwd_ports_parser *pp)
{
	fwd_services_free(pp->db);
	pp->db = NULL;
	pp->db_err = 0;
}
