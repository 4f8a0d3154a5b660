// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

static const char *log_ident = "fwd";
static bool log_prio_prefix;

void fwd_log_init(const char *ident)
{
	log_ident = ident;
	/* Under systemd, stderr is the journal: "<N>" prefixes carry the level. */
	log_prio_prefix = getenv("JOURNAL_STREAM") != NULL;
}

static void vlog(int prio, const char *fmt, va_list ap)
{
	char line[2048];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_prio_prefix)
		fprintf(stderr, "<%d>%s: %s\n", prio, log_ident, line);
	else
		fprintf(stderr, "%s: %s\n", log_ident, line);
	fflush(stderr);
}

void fwd_log(int prio, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(prio, fmt, ap);
	va_end(ap);
}

void fwd_log_diags(int prio, const struct fwd_diags *d)
{
	for (size_t i = 0; i < d->n; i++) {
		char *s = fwd_diag_format(&d->v[i]);

		fwd_log(prio, "%s", s ? s : d->v[i].msg);
		free(s);
	}
}
