// SPDX-License-Identifier: GPL-2.0-or-later
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *log_ident = "fwd";
static bool log_prio_prefix;

void fwd_log_init(const char *ident)
{
	log_ident = ident;
	/* Under systemd, stderr is the journal: "<N>" prefixes carry the level. */
	log_prio_prefix = getenv("JOURNAL_STREAM") != NULL;
}

/*
 * One write(2) per line, not stdio: a query's child (worker.h) may log,
 * and a stream lock held by another thread at fork would stay locked in
 * the child; one write also keeps lines of several processes whole.
 */
static void __attribute__((format(printf, 2, 0))) vlog(int prio, const char *fmt, va_list ap)
{
	char msg[2048], line[2200];
	int n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (log_prio_prefix)
		n = snprintf(line, sizeof(line), "<%d>%s: %s\n", prio, log_ident, msg);
	else
		n = snprintf(line, sizeof(line), "%s: %s\n", log_ident, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = (int)sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		(void)0;	/* nowhere left to say it */
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
