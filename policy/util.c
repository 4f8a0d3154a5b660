// SPDX-License-Identifier: GPL-2.0-or-later
/* Allocation helpers (the OOM policy, see util.h) and whole-file reading. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void __attribute__((noreturn)) oom(size_t n)
{
	/* No allocation here: stdio on stderr is unbuffered. */
	fprintf(stderr, "fwd: out of memory (allocating %zu bytes)\n", n);
	abort();
}

void *fwd_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *fwd_xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

void *fwd_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom(n);
	return q;
}

void *fwd_xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		oom(SIZE_MAX);
	return fwd_xrealloc(p, n * size);
}

char *fwd_xstrdup(const char *s)
{
	return fwd_xstrndup(s, strlen(s));
}

char *fwd_xstrndup(const char *s, size_t n)
{
	char *p = fwd_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *fwd_xvasprintf(const char *fmt, va_list ap)
{
	char *s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	return s;
}

char *fwd_xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = fwd_xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void fwd_grow(void **v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap;

	if (need <= c)
		return;
	if (c < 8)
		c = 8;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			oom(SIZE_MAX);
		c *= 2;
	}
	*v = fwd_xreallocarray(*v, c, size);
	*cap = c;
}

const char *fwd_read_strerror(int err)
{
	if (err == FWD_ENOTREG)
		return "not a regular file";
	return strerror(-err);
}

int fwd_read_file(const char *path, char **buf, size_t *len)
{
	size_t n = 0, cap;
	struct stat st;
	char *b;
	int fd;

	*buf = NULL;
	*len = 0;
	/* O_NONBLOCK: opening a FIFO must not hang the daemon until someone
	 * writes to it; only regular files are read at all. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int err = fstat(fd, &st) != 0 ? -errno :
			  S_ISDIR(st.st_mode) ? -EISDIR : FWD_ENOTREG;

		close(fd);
		return err;
	}
	/* One read for a regular file; pipes and /proc files grow. */
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > FWD_READ_MAX) {
		close(fd);
		return -EFBIG;
	}
	cap = S_ISREG(st.st_mode) && st.st_size > 0 ? (size_t)st.st_size + 1 : 4096;
	b = fwd_xmalloc(cap + 1);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			if (cap >= FWD_READ_MAX) {
				free(b);
				close(fd);
				return -EFBIG;
			}
			cap *= 2;
			b = fwd_xrealloc(b, cap + 1);
		}
		r = read(fd, b + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int err = -errno;

			free(b);
			close(fd);
			return err;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	*len = n;
	return 0;
}

#define DURATION_MAX (365ULL * 86400)

/* 30s, 10m, 2h, 7d, 1h30m: units in descending order, each at most once.
 * Shared by the edit grammar (edit.c), the policy's keys (parse.c,
 * restrict.c) and fwctl's options, so both spell a
 * duration the same way. */
int fwd_duration_parse(const char *s, size_t n, uint64_t *secs)
{
	static const char units[] = "dhms";
	static const uint64_t mult[] = { 86400, 3600, 60, 1 };
	uint64_t total = 0, v;
	size_t i = 0, last = 0;
	bool any = false;

	while (i < n) {
		const char *u;
		size_t d = i;

		v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			if (v <= DURATION_MAX)
				v = v * 10 + (uint64_t)(s[i] - '0');
			i++;
		}
		if (i == d || i == n || !s[i] || !(u = strchr(units, s[i])) ||
		    (any && (size_t)(u - units) <= last))
			return -EINVAL;
		last = (size_t)(u - units);
		any = true;
		i++;
		if (v > DURATION_MAX)
			v = DURATION_MAX + 1;
		total += v * mult[last];
		if (total > DURATION_MAX)
			total = DURATION_MAX + 1;
	}
	if (!any)
		return -EINVAL;
	if (total < 1 || total > DURATION_MAX)
		return -ERANGE;
	*secs = total;
	return 0;
}
