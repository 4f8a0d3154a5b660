// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the edit parser (outside input: the words any
 * member of fwd's admin group sends through the control socket, and the
 * [edits] lines of the owned file). The input is read whole as a batch
 * on stdin, and split into words at spaces, newlines and NULs; tabs and commas stay inside words, where the
 * parser splits them itself. Beyond "no crash, no leak, no UB under
 * ASan/UBSan", it checks what the daemon relies on:
 *
 *  - on failure: -EINVAL, nothing appended, *out untouched, and one
 *    printable line of message;
 *  - on success: at least one edit, at most FWD_EDIT_MAX, each valid for
 *    its kind with the fields it does not use zero, and its canonical
 *    words (fwd_edit_format) parsing back to exactly that edit, which
 *    the owned file's correctness depends on.
 */
#include "edit.h"
#include "policy.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#ifndef FUZZ_SERVICES
#define FUZZ_SERVICES "/etc/services"
#endif

#define NOW 1000000000ULL
#define MAX_WORDS 4096

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-edit: invariant broken: %s\n", what);
		abort();
	}
}

static void check_addr(const struct fwd_addr *a)
{
	char buf[FWD_ADDR_STRLEN];
	struct fwd_addr b;

	check(a->family == AF_INET || a->family == AF_INET6, "address family");
	check(a->prefix <= fwd_addr_bits(a), "prefix length");
	fwd_addr_format(a, buf, sizeof(buf));
	check(fwd_addr_parse(buf, &b, NULL, 0) == 0, "formatted address parses");
	check(b.family == a->family && b.prefix == a->prefix &&
	      memcmp(b.a, a->a, 16) == 0, "address round trip, zero tail");
}

static int all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return 0;
	return 1;
}

static void check_edit(const struct fwd_edit *e)
{
	size_t nl = strnlen(e->list, sizeof(e->list));

	check(!e->runtime && !e->loc.file && !e->loc.line, "no runtime, no loc");
	check(e->expires <= 253402300799ULL, "expiry: an epoch up to the year 9999");
	switch (e->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		check(e->dir == FWD_DIR_IN || e->dir == FWD_DIR_OUT, "direction");
		check(e->ports.proto == IPPROTO_TCP || e->ports.proto == IPPROTO_UDP,
		      "protocol");
		check(e->ports.lo >= 1 && e->ports.lo <= e->ports.hi, "port range");
		check(!e->ports.loc.file && !e->ports.loc.line, "ports loc");
		if (e->peer == FWD_PEER_ADDR) {
			check_addr(&e->addr);
			check(nl == 0, "no list for an address peer");
		} else if (e->peer == FWD_PEER_LIST) {
			check(fwd_name_valid(e->list, nl), "list name");
			check(all_zero(&e->addr, sizeof(e->addr)), "no address for a list");
		} else {
			check(e->peer == FWD_PEER_ANY, "peer kind");
			check(nl == 0 && all_zero(&e->addr, sizeof(e->addr)), "any is bare");
		}
		break;
	case FWD_EDIT_BLOCK:
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		check_addr(&e->addr);
		check(e->dir == FWD_DIR_IN && e->peer == FWD_PEER_ANY, "unused zero");
		check(all_zero(&e->ports, sizeof(e->ports)), "no ports");
		if (e->kind == FWD_EDIT_BLOCK)
			check(nl == 0, "block has no list");
		else
			check(fwd_name_valid(e->list, nl), "list name");
		break;
	default:
		check(0, "edit kind");
	}
}

/* The canonical words parse back to the same edit. */
static void check_round_trip(const struct fwd_edit *e)
{
	char buf[FWD_EDIT_STRLEN + 8], err[256], *argv[16], *save = NULL;
	struct fwd_edit *back = NULL;
	size_t n = 0;
	int len, argc = 0;

	len = fwd_edit_format(e, buf, sizeof(buf));
	check(len > 0 && len < FWD_EDIT_STRLEN, "format length");
	check((size_t)len == strlen(buf), "format return value");
	for (char *t = strtok_r(buf, " ", &save); t && argc < 16;
	     t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	check(fwd_edit_parse(argc, (const char *const *)argv, NOW, NULL, &back,
			     &n, err, sizeof(err)) == 0, "canonical words parse");
	check(n == 1, "canonical words are one edit");
	check(fwd_edit_same(e, back) && e->expires == back->expires,
	      "canonical words are the same edit");
	check(fwd_edit_hash(e) == fwd_edit_hash(back), "hash agrees");
	free(back);
}

/* The same bytes as a batch on stdin (`fwctl list add NAME -`), the
 * other way these words reach the daemon: the same invariants, and a NUL
 * byte is an error that names its line ("stdin:LINE: ..."). */
static void batch(const uint8_t *data, size_t size, const struct fwd_load_opts *opts)
{
	const char *argv[] = { "list-add", "office", "-" };
	struct fwd_edit *out = NULL;
	char err[600];
	size_t n = 0;
	int ret;

	memset(err, 'x', sizeof(err));
	ret = fwd_edit_parse_batch(3, argv, data, size, NOW, opts, &out, &n, err,
				   sizeof(err));
	if (ret) {
		check(ret == -EINVAL, "batch: -EINVAL");
		check(n == 0 && out == NULL, "batch: nothing appended");
		check(err[0] != '\0' && memchr(err, '\0', sizeof(err)), "batch: a message");
		for (const char *c = err; *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f,
			      "batch: message is one printable line");
		check(!memchr(data, '\0', size) || (!strncmp(err, "stdin:", 6) &&
						    strstr(err, ": NUL byte in line")),
		      "batch: a NUL byte is reported with its line");
	} else {
		check(!memchr(data, '\0', size), "batch: a NUL byte is never taken");
		check(n >= 1 && n <= FWD_EDIT_MAX, "batch: edit count");
		for (size_t i = 0; i < n; i++) {
			check(out[i].kind == FWD_EDIT_LIST_ADD, "batch: list-add");
			check_edit(&out[i]);
		}
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fwd_load_opts opts = { .services_path = FUZZ_SERVICES };
	char *text = malloc(size + 1), err[512];
	const char *argv[MAX_WORDS];
	struct fwd_edit *out = NULL;
	size_t n = 0;
	int argc = 0, ret;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (size_t i = 0; i <= size && argc < MAX_WORDS;) {
		size_t j = i;

		while (j < size && text[j] != ' ' && text[j] != '\n' && text[j] != '\0')
			j++;
		text[j] = '\0';
		if (j > i)
			argv[argc++] = text + i;
		i = j + 1;
	}
	memset(err, 'x', sizeof(err));
	ret = fwd_edit_parse(argc, argv, NOW, &opts, &out, &n, err, sizeof(err));
	if (ret) {
		check(ret == -EINVAL, "-EINVAL");
		check(n == 0 && out == NULL, "nothing appended");
		check(err[0] != '\0' && memchr(err, '\0', sizeof(err)), "a message");
		for (const char *c = err; *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f,
			      "message is one printable line");
	} else {
		check(n >= 1 && n <= FWD_EDIT_MAX, "edit count");
		check(err[0] == '\0', "no message on success");
		for (size_t i = 0; i < n; i++)
			check_edit(&out[i]);
		/* Round trips cost a parse each: a sample is enough. */
		for (size_t i = 0; i < n; i += 1 + n / 16)
			check_round_trip(&out[i]);
	}
	free(out);
	batch(data, size, &opts);
	free(text);
	return 0;
}
