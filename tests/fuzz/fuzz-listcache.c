// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the list file cache (a reload parses only the lines
 * that changed). The input is two versions of one list file: the first two
 * bytes say where the first ends. The first is loaded through a cache, then
 * the second through the same cache (spliced against the first), then the
 * second without a cache: both loads of the second must agree exactly, in
 * verdict, messages, members and lines.
 */
#include "policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-listcache: invariant broken: %s\n", what);
		abort();
	}
}

static int load(int fd, const uint8_t *t, size_t n, struct fwd_list_cache *c,
		struct fwd_policy **p, struct fwd_diags *d)
{
	struct fwd_load_opts o = { .services_path = "/dev/null", .list_cache = c };
	char text[128];

	check(ftruncate(fd, 0) == 0 && pwrite(fd, t, n, 0) == (ssize_t)n, "write");
	snprintf(text, sizeof(text), "[list l]\nfile = /proc/self/fd/%d\n", fd);
	fwd_diags_init(d);
	return fwd_policy_load_buffer("fuzz.conf", text, strlen(text), &o, p, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fwd_list_cache *c;
	struct fwd_policy *p0 = NULL, *p1 = NULL, *p2 = NULL;
	struct fwd_diags d0, d1, d2;
	size_t k;
	int fd, r1, r2;

	if (size < 2)
		return 0;
	k = ((size_t)data[0] | (size_t)data[1] << 8) % (size - 1);
	data += 2;
	size -= 2;
	fd = memfd_create("fuzz-list", MFD_CLOEXEC);
	check(fd >= 0, "memfd_create");
	c = fwd_list_cache_new();
	load(fd, data, k, c, &p0, &d0);
	r1 = load(fd, data + k, size - k, c, &p1, &d1);
	r2 = load(fd, data + k, size - k, NULL, &p2, &d2);
	close(fd);

	check(r1 == r2, "verdict");
	check(d1.n == d2.n, "number of messages");
	for (size_t i = 0; i < d1.n; i++)
		check(d1.v[i].line == d2.v[i].line && strcmp(d1.v[i].msg, d2.v[i].msg) == 0,
		      "messages");
	if (r1 == 0) {
		const struct fwd_list *a = &p1->lists[0], *b = &p2->lists[0];

		check(a->n == b->n, "member count");
		for (size_t i = 0; i < a->n; i++)
			check(memcmp(&a->addrs[i], &b->addrs[i], sizeof(a->addrs[i])) == 0 &&
			      a->locs[i].line == b->locs[i].line, "members and lines");
	}
	fwd_policy_free(p0);
	fwd_policy_free(p1);
	fwd_policy_free(p2);
	fwd_diags_free(&d0);
	fwd_diags_free(&d1);
	fwd_diags_free(&d2);
	fwd_list_cache_free(c);
	return 0;
}
