// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for list files (file = PATH: one address or CIDR per
 * line, often generated or downloaded). The input becomes the content of a
 * memfd that a fixed policy names, so the real reading path runs. Checks:
 * success iff no diagnostics, every member canonical, every location a line
 * of the input, every message one printable line.
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
		fprintf(stderr, "fuzz-listfile: invariant broken: %s\n", what);
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fwd_load_opts opts = { .services_path = "/dev/null" };
	char path[64], text[128];
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	unsigned lines = 1;
	int fd, ret;

	fd = memfd_create("fuzz-list", MFD_CLOEXEC);
	check(fd >= 0, "memfd_create");
	check(write(fd, data, size) == (ssize_t)size, "write");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	snprintf(text, sizeof(text), "[list l]\nfile = %s\n", path);
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';

	fwd_diags_init(&d);
	ret = fwd_policy_load_buffer("fuzz.conf", text, strlen(text), &opts, &p, &d);
	close(fd);
	check((ret == 0) == (d.n == 0) && (ret == 0) == (p != NULL), "verdict");
	for (size_t i = 0; i < d.n; i++) {
		check(d.v[i].file && strcmp(d.v[i].file, path) == 0, "diag file");
		check(d.v[i].line <= lines, "diag line");
		for (const char *c = d.v[i].msg; *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f, "printable");
	}
	if (p) {
		const struct fwd_list *l = &p->lists[0];

		for (size_t i = 0; i < l->n; i++) {
			char buf[FWD_ADDR_STRLEN];
			struct fwd_addr b;

			check(strcmp(l->locs[i].file, path) == 0, "member file");
			check(l->locs[i].line >= 1 && l->locs[i].line <= lines,
			      "member line");
			check(i == 0 || l->locs[i].line > l->locs[i - 1].line,
			      "one member per line, in order");
			fwd_addr_format(&l->addrs[i], buf, sizeof(buf));
			check(fwd_addr_parse(buf, &b, NULL, 0) == 0 &&
			      memcmp(&b, &l->addrs[i], sizeof(b)) == 0,
			      "canonical member");
		}
	}
	fwd_policy_free(p);
	fwd_diags_free(&d);
	return 0;
}
