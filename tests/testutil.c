// SPDX-License-Identifier: GPL-2.0-or-later
#include "testutil.h"

#include <errno.h>
#include <pwd.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The pid of the process running the suite (tu_run): names this run's
 * user. Inherited by the forked tests. */
static pid_t runner;

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

static const char *tmpdir(void)
{
	const char *tmp = getenv("TMPDIR");

	return tmp && *tmp ? tmp : "/tmp";
}

char *tu_tmp(char *buf, size_t len, const char *name)
{
	int n = runner ? snprintf(buf, len, "%s/fwdu-%d/%s", tmpdir(), (int)runner, name)
		       : snprintf(buf, len, "%s/%s", tmpdir(), name);

	ck_assert_msg(n > 0 && (size_t)n < len, "TMPDIR too long for %s", name);
	return buf;
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

char *tu_vasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	return s;
}

char *tu_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = tu_vasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t tu_count_str(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

int tu_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
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

static bool in_ci(void)
{
	const char *ci = getenv("CI");

	return ci && *ci && strcmp(ci, "false") != 0 && strcmp(ci, "0") != 0;
}

bool tu_need_root(void)
{
	if (geteuid() == 0)
		return true;
	if (in_ci())
		ck_abort_msg("this test needs root (CI=true: failing, not skipping)");
	fprintf(stderr, "SKIP: needs root\n");
	return false;
}

bool tu_need_prog(const char *prog, const char *pkg)
{
	if (tu_sh(NULL, "command -v '%s' >/dev/null", prog) == 0)
		return true;
	if (in_ci())
		ck_abort_msg("%s not installed (Debian package: %s; CI=true: failing, "
			     "not skipping)", prog, pkg);
	fprintf(stderr, "SKIP: %s not installed (Debian package: %s)\n", prog, pkg);
	return false;
}

void tu_skip_kernel(const char *what)
{
	fprintf(stderr, "SKIP (kernel): %s\n", what);
}

void tu_enter_netns(void)
{
	if (unshare(CLONE_NEWNET) != 0)
		ck_abort_msg("unshare(CLONE_NEWNET): %s", strerror(errno));
	if (tu_sh(NULL, "ip link set lo up") != 0)
		ck_abort_msg("cannot bring lo up in the test namespace");
}

static void user_name(pid_t pid, char *buf, size_t len)
{
	snprintf(buf, len, "fwdt%d", (int)pid);
}

const char *tu_name(const char *role)
{
	static char names[8][40];
	static const char *roles[8];
	size_t i;

	for (i = 0; i < 8 && roles[i]; i++)
		if (strcmp(roles[i], role) == 0)
			return names[i];
	if (i == 8)
		abort();
	roles[i] = role;
	snprintf(names[i], sizeof(names[i]), "fwdt%d-%s", (int)(runner ? runner : getpid()),
		 role);
	return names[i];
}

const char *tu_user(void)
{
	static char name[32];

	user_name(runner ? runner : getpid(), name, sizeof(name));
	if (getpwnam(name))
		return name;
	if (geteuid() != 0 ||
	    tu_sh(NULL, "useradd -r -M -s /usr/sbin/nologin -c '" TU_USER_GECOS "' %s",
		  name) != 0 || !getpwnam(name))
		return NULL;
	return name;
}

/* userdel, and groupdel for the group useradd made (userdel removes it
 * only when USERGROUPS_ENAB is set). */
static void user_remove(const char *name)
{
	if (getpwnam(name))
		tu_sh(NULL, "userdel %s", name);
	if (getgrnam(name))
		tu_sh(NULL, "groupdel %s", name);
}

/* Users (and groups) of runners that died before removing them. */
static void user_sweep(void)
{
	char (*stale)[32] = NULL;
	size_t n = 0;
	struct passwd *pw;
	struct group *gr;
	int pid;
	char end;

	setpwent();
	while ((pw = getpwent()) != NULL) {
		int got = sscanf(pw->pw_name, "fwdt%d%c", &pid, &end);

		/* fwdt<pid> (tu_user) or fwdt<pid>-<role> (tu_name). */
		if (!(got == 1 || (got == 2 && end == '-')) || pid <= 0 ||
		    !pw->pw_gecos || strcmp(pw->pw_gecos, TU_USER_GECOS) != 0 ||
		    kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		stale = realloc(stale, (n + 1) * sizeof(*stale));
		if (!stale)
			abort();
		snprintf(stale[n++], sizeof(*stale), "%s", pw->pw_name);
	}
	endpwent();
	/* A group whose user went first (an older userdel, a crash between
	 * the two): same name, no user, the dead runner's pid. */
	setgrent();
	while ((gr = getgrent()) != NULL) {
		int got = sscanf(gr->gr_name, "fwdt%d%c", &pid, &end);

		/* A tu_name group may hold members: swept with them. */
		if (!(got == 1 || (got == 2 && end == '-')) || pid <= 0 ||
		    getpwnam(gr->gr_name) || (got == 1 && gr->gr_mem && gr->gr_mem[0]) ||
		    kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		stale = realloc(stale, (n + 1) * sizeof(*stale));
		if (!stale)
			abort();
		snprintf(stale[n++], sizeof(*stale), "%s", gr->gr_name);
	}
	endgrent();
	for (size_t i = 0; i < n; i++)
		user_remove(stale[i]);
	free(stale);
}

/* Scratch directories of runners that died (fwdu-<pid>, pid gone). */
static void scratch_sweep(void)
{
	char *out, *line, *save = NULL;

	tu_sh(&out, "ls -d '%s'/fwdu-* 2>/dev/null", tmpdir());
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		const char *base = strrchr(line, '/');
		int pid;
		char end;

		if (base && sscanf(base + 1, "fwdu-%d%c", &pid, &end) == 1 && pid > 0 &&
		    kill(pid, 0) != 0 && errno == ESRCH)
			tu_sh(NULL, "rm -rf '%s'", line);
	}
	free(out);
}

int tu_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	char name[32], *dir;
	int failed;

	runner = getpid();
	if (geteuid() == 0)
		user_sweep();
	scratch_sweep();
	/* Searchable: the unprivileged test user reaches its sockets here. */
	if (asprintf(&dir, "%s/fwdu-%d", tmpdir(), (int)runner) < 0)
		abort();
	if (mkdir(dir, 0755) != 0 || chmod(dir, 0755) != 0) {
		fprintf(stderr, "cannot make the scratch directory %s: %s\n", dir,
			strerror(errno));
		free(dir);
		srunner_free(sr);
		return EXIT_FAILURE;
	}
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	/* Made by the tests (forked), removed here, pass or fail. */
	tu_sh(NULL, "rm -rf '%s'", dir);
	free(dir);
	user_name(runner, name, sizeof(name));
	if (geteuid() == 0)
		user_remove(name);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
