/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_DIAG_H
#define FWD_DIAG_H

#include <stddef.h>
#include <stdio.h>

/*
 * A list of located error messages. Everything that reads outside input
 * appends here and carries on, so one run reports every error at once;
 * callers apply nothing while the list is non-empty.
 */
struct fwd_diag {
	char *file;		/* NULL when no file is involved */
	unsigned line;		/* 0 when the whole file (or nothing) is meant */
	char *msg;
};

struct fwd_diags {
	struct fwd_diag *v;
	size_t n, cap;
};

void fwd_diags_init(struct fwd_diags *d);
void fwd_diags_free(struct fwd_diags *d);	/* accepts NULL */
/* printf-style; prints as "FILE:LINE: msg", "FILE: msg" or "msg". */
void fwd_diags_add(struct fwd_diags *d, const char *file, unsigned line,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void fwd_diags_print(const struct fwd_diags *d, FILE *out);
/* One diagnostic as text ("FILE:LINE: msg"), malloc'd; NULL on ENOMEM. */
char *fwd_diag_format(const struct fwd_diag *g);
/*
 * The same, for a reader who may not see the files' contents (fwctl's
 * read role): FWD_DIAG_NO_SOURCE keeps FILE:LINE and the message but
 * replaces every quoted word ('...') and every address or number outside
 * quotes with "...". Messages quote the user's words with fwd_quote, which
 * never lets a quote character through, so a quoted word cannot end early.
 */
#define FWD_DIAG_NO_SOURCE	1u
char *fwd_diag_format_opts(const struct fwd_diag *g, unsigned flags);

/*
 * A user's word, fit for a message: control bytes, backslashes, single
 * quotes (the words sit between them) and invalid UTF-8 escaped as \xNN,
 * words longer than `max` characters cut with "...", so one message stays
 * one printable line whatever the input
 * (messages end up in terminals and the journal). buf must hold
 * FWD_QUOTE_BUF(max) bytes; returns buf.
 */
#define FWD_QUOTE_BUF(max) ((size_t)(max) * 4 + 8)
const char *fwd_quote(char *buf, const char *s, size_t n, size_t max);

/*
 * "Did you mean": the candidate closest to a misspelt word, by edit
 * distance (insertions, deletions, substitutions and swaps of two
 * neighbouring letters each cost one; case is ignored), so that every
 * "unknown X" message of fwd and fwctl suggests the same way. A candidate
 * counts only when it is close for the word's length: at most 1 edit for
 * words of up to 4 characters, 2 up to 8, 3 beyond; the first of equally
 * close candidates wins. Words and candidates past FWD_SUGGEST_MAX
 * characters are never suggested (the work stays bounded per candidate).
 *
 *   struct fwd_suggest s;
 *   fwd_suggest_init(&s, word, len);
 *   for (...) fwd_suggest_offer(&s, name);
 *   if (s.best) ... "(did you mean '%s'?)", s.best
 */
#define FWD_SUGGEST_MAX 64
struct fwd_suggest {
	const char *word;
	size_t n;
	const char *best;	/* NULL while nothing is close enough */
	size_t dist;		/* best's distance */
};
void fwd_suggest_init(struct fwd_suggest *s, const char *word, size_t n);
void fwd_suggest_offer(struct fwd_suggest *s, const char *cand);
/* The distance itself (SIZE_MAX past FWD_SUGGEST_MAX characters). */
size_t fwd_edit_distance(const char *a, size_t an, const char *b, size_t bn);

#endif
