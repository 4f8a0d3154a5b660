// SPDX-License-Identifier: GPL-2.0-or-later
#include "testutil.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char *join(const char *env, const char *fallback, const char *rel)
{
	const char *base = getenv(env);
	char *p;

	if (!base)
		base = fallback;
	if (asprintf(&p, "%s/%s", base, rel) < 0)
		abort();
	return p;
}

char *tu_src(const char *rel)
{
	return join("FWD_SRCDIR", ".", rel);
}

char *tu_build(const char *rel)
{
	return join("FWD_BUILDDIR", ".", rel);
}

char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0, r;

	if (!f)
		return NULL;
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			buf = realloc(buf, cap + 1);
			if (!buf)
				abort();
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int tu_sh(char **output, const char *fmt, ...)
{
	char *cmd, *full, *out = NULL;
	size_t n = 0, cap = 0, r;
	va_list ap;
	FILE *p;
	int st;

	va_start(ap, fmt);
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (asprintf(&full, "( %s ) 2>&1", cmd) < 0)
		abort();
	p = popen(full, "r");
	if (!p)
		abort();
	do {
		if (cap - n < 4096) {
			cap = cap ? cap * 2 : 8192;
			out = realloc(out, cap + 1);
			if (!out)
				abort();
		}
		r = fread(out + n, 1, cap - n, p);
		n += r;
	} while (r > 0);
	out[n] = '\0';
	st = pclose(p);
	free(cmd);
	free(full);
	if (output)
		*output = out;
	else
		free(out);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

bool tu_need_root(void)
{
	const char *ci = getenv("CI");
	bool in_ci = ci && *ci && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;

	if (geteuid() == 0)
		return true;
	if (in_ci)
		ck_abort_msg("this test needs root (CI=true: failing, not skipping)");
	fprintf(stderr, "SKIP: needs root\n");
	return false;
}

void tu_enter_netns(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		ck_abort_msg("unshare(CLONE_NEWNET): %s", strerror(errno));
	if (tu_sh(NULL, "ip link set lo up") != 0)
		ck_abort_msg("cannot bring lo up in the test namespace");
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
