// SPDX-License-Identifier: GPL-2.0-or-later
/* Located diagnostics: collected, never printed as they happen. */
#include "diag.h"
#include "util.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fwd_diags_init(struct fwd_diags *d)
{
	d->v = NULL;
	d->n = d->cap = 0;
}

void fwd_diags_free(struct fwd_diags *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].file);
		free(d->v[i].msg);
	}
	free(d->v);
	fwd_diags_init(d);
}

void fwd_diags_add(struct fwd_diags *d, const char *file, unsigned line,
		   const char *fmt, ...)
{
	struct fwd_diag *g;
	va_list ap;

	FWD_GROW(d->v, d->cap, d->n + 1);
	g = &d->v[d->n++];
	g->file = file ? fwd_xstrdup(file) : NULL;
	g->line = line;
	va_start(ap, fmt);
	g->msg = fwd_xvasprintf(fmt, ap);
	va_end(ap);
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* An address, a CIDR, a number (0x1b too): what a file's line says, unquoted. */
static bool is_source_token(const char *s, size_t n)
{
	bool digit = false;

	for (size_t i = 0; i < n; i++) {
		if (s[i] >= '0' && s[i] <= '9')
			digit = true;
		else if (!strchr("abcdefxABCDEF.:/%", s[i]))
			return false;
	}
	return digit;
}

/*
 * msg without what came from a file: quoted words become '...', and so do
 * tokens that are addresses or numbers (addr.c says "host bits set in
 * 192.0.2.1/24" without quotes). A quote between two letters is an
 * apostrophe ("service's"); an opening quote without its closing one hides
 * the rest of the message rather than guess.
 */
static char *redact(const char *msg)
{
	size_t len = strlen(msg);
	char *out = malloc(len * 2 + 8), *o = out;
	const char *p = msg;

	if (!out)
		return NULL;
	while (*p) {
		if (*p == '\'' && !(p > msg && is_alpha(p[-1]) && is_alpha(p[1]))) {
			const char *close = strchr(p + 1, '\'');

			memcpy(o, "'...'", 5);
			o += 5;
			if (!close)
				break;
			p = close + 1;
			continue;
		}
		if (p == msg || p[-1] == ' ' || p[-1] == '(' || p[-1] == '[') {
			size_t n = strcspn(p, " ,;)?]'");

			if (n && is_source_token(p, n)) {
				memcpy(o, "...", 3);
				o += 3;
				p += n;
				continue;
			}
		}
		*o++ = *p++;
	}
	*o = '\0';
	return out;
}

char *fwd_diag_format_opts(const struct fwd_diag *g, unsigned flags)
{
	char *hidden = NULL, *s;
	const char *msg = g->msg;

	if (flags & FWD_DIAG_NO_SOURCE) {
		hidden = redact(g->msg);
		if (!hidden)
			return NULL;
		msg = hidden;
	}
	if (g->file && g->line)
		s = fwd_xasprintf("%s:%u: %s", g->file, g->line, msg);
	else if (g->file)
		s = fwd_xasprintf("%s: %s", g->file, msg);
	else
		s = fwd_xstrdup(msg);
	free(hidden);
	return s;
}

char *fwd_diag_format(const struct fwd_diag *g)
{
	return fwd_diag_format_opts(g, 0);
}

void fwd_diags_print(const struct fwd_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct fwd_diag *g = &d->v[i];

		if (g->file && g->line)
			fprintf(out, "%s:%u: %s\n", g->file, g->line, g->msg);
		else if (g->file)
			fprintf(out, "%s: %s\n", g->file, g->msg);
		else
			fprintf(out, "%s\n", g->msg);
	}
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

const char *fwd_quote(char *buf, const char *s, size_t n, size_t max)
{
	const unsigned char *u = (const unsigned char *)s;
	char *o = buf;
	size_t i = 0, shown = 0, ulen;

	while (i < n) {
		unsigned char c = u[i];

		if (shown++ == max) {
			memcpy(o, "...", 3);
			o += 3;
			break;
		}
		if (c >= 0x80 && (ulen = utf8_len(u + i, n - i)) > 0) {
			memcpy(o, u + i, ulen);
			o += ulen;
			i += ulen;
			continue;
		}
		if (c < 0x20 || c >= 0x7f || c == '\\' || c == '\'')
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
		i++;
	}
	*o = '\0';
	return buf;
}

/* ---- did you mean ---- */

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/*
 * Optimal string alignment distance over three rows of the table: a
 * swap of two neighbouring characters ("ofifce") is one mistake, as a
 * person counts it, not two.
 */
size_t fwd_edit_distance(const char *a, size_t an, const char *b, size_t bn)
{
	size_t rows[3][FWD_SUGGEST_MAX + 1], *pp, *prev, *cur;

	if (an > FWD_SUGGEST_MAX || bn > FWD_SUGGEST_MAX)
		return SIZE_MAX;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (size_t j = 0; j <= bn; j++)
		prev[j] = j;
	for (size_t i = 1; i <= an; i++) {
		size_t *t;

		cur[0] = i;
		for (size_t j = 1; j <= bn; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
			size_t v = prev[j - 1] + cost;

			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[bn];
}

void fwd_suggest_init(struct fwd_suggest *s, const char *word, size_t n)
{
	s->word = word;
	s->n = n;
	s->best = NULL;
	s->dist = SIZE_MAX;
}

/* How many mistakes a word of n characters may carry and still be meant. */
static size_t suggest_limit(size_t n)
{
	return n <= 4 ? 1 : n <= 8 ? 2 : 3;
}

void fwd_suggest_offer(struct fwd_suggest *s, const char *cand)
{
	size_t d;

	if (!cand || !*cand)
		return;
	d = fwd_edit_distance(s->word, s->n, cand, strlen(cand));
	if (d == SIZE_MAX || d > suggest_limit(s->n) || (d && d >= s->n) ||
	    d >= s->dist)
		return;
	s->best = cand;
	s->dist = d;
}
