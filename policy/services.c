// SPDX-License-Identifier: GPL-2.0-or-later
/* services(5) lookup from an explicit path. */
#include "services.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
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
