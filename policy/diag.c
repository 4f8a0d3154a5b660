// SPDX-License-Identifier: GPL-2.0-or-later
/* Located diagnostics: collected, never printed as they happen. */
#include "diag.h"
#include "util.h"

#include <stdarg.h>
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

char *fwd_diag_format(const struct fwd_diag *g)
{
	if (g->file && g->line)
		return fwd_xasprintf("%s:%u: %s", g->file, g->line, g->msg);
	if (g->file)
		return fwd_xasprintf("%s: %s", g->file, g->msg);
	return fwd_xstrdup(g->msg);
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
