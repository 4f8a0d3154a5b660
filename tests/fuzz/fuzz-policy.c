// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the policy parser (outside input: files written by
 * people and by config management). Beyond "no crash, no leak, no UB under
 * ASan/UBSan", it checks what the rest of fwd relies on:
 *
 *  - a load either fails with diagnostics and no policy, or succeeds with
 *    none;
 *  - every diagnostic is one printable line naming this file and a line
 *    that exists;
 *  - a returned model is valid: ports in 1..65535 with lo <= hi and tcp or
 *    udp, every @list resolved, every service with ports and allow, every
 *    address in canonical form (formats and parses back to itself), every
 *    location inside the input, every [edits] line's edits valid and
 *    written back (fwd_edit_format) as words that parse to the same edit.
 *
 * List files are off (confd_path = ""): the fuzzer must not read the disk
 * beyond the services file of the test fixtures.
 */
#include "edit.h"
#include "policy.h"

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_SERVICES
#define FUZZ_SERVICES "/etc/services"
#endif

#define NAME "fuzz.conf"

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-policy: invariant broken: %s\n", what);
		abort();
	}
}

static void check_loc(const struct fwd_loc *l, unsigned lines)
{
	check(l->file && strcmp(l->file, NAME) == 0, "location names the input");
	check(l->line >= 1 && l->line <= lines, "location line inside the input");
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
	      memcmp(b.a, a->a, fwd_addr_len(a)) == 0, "address round trip");
}

static void check_name(const char *s)
{
	size_t n = strlen(s);

	check(n >= 1 && n <= 32, "name length");
	check(strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		     "0123456789_.-") == n, "name characters");
}

static void check_policy(const struct fwd_policy *p, unsigned lines)
{
	check(p->nfiles == 1 && strcmp(p->files[0], NAME) == 0, "files");
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		check_name(l->name);
		check_loc(&l->loc, lines);
		check(l->n <= l->cap, "list size");
		for (size_t j = 0; j < l->n; j++) {
			check_addr(&l->addrs[j]);
			check_loc(&l->locs[j], lines);
			check(l->locs[j].line > l->loc.line, "member after header");
		}
		for (size_t j = 0; j < i; j++)
			check(strcmp(p->lists[j].name, l->name) != 0, "unique list");
	}
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *s = &p->services[i];

		check_name(s->name);
		check_loc(&s->loc, lines);
		check(s->dir == FWD_DIR_IN || s->dir == FWD_DIR_OUT, "direction");
		check(s->nports > 0 && s->nallow > 0, "service has ports and allow");
		for (size_t j = 0; j < s->nports; j++) {
			const struct fwd_ports *pt = &s->ports[j];

			check(pt->proto == IPPROTO_TCP || pt->proto == IPPROTO_UDP,
			      "port protocol");
			check(pt->lo >= 1 && pt->lo <= pt->hi, "port range");
			check_loc(&pt->loc, lines);
		}
		for (size_t j = 0; j < s->nallow; j++) {
			const struct fwd_peer *pe = &s->allow[j];

			check_loc(&pe->loc, lines);
			if (pe->kind == FWD_PEER_ADDR)
				check_addr(&pe->addr);
			else if (pe->kind == FWD_PEER_LIST)
				check(pe->list < p->nlists, "list resolved");
			else
				check(pe->kind == FWD_PEER_ANY, "peer kind");
		}
		for (size_t j = 0; j < i; j++)
			check(strcmp(p->services[j].name, s->name) != 0,
			      "unique service");
	}
}

static void check_edits(const struct fwd_policy *p, unsigned lines)
{
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		char buf[FWD_EDIT_STRLEN], err[256], *argv[16], *save = NULL;
		struct fwd_edit *back = NULL;
		size_t n = 0;
		int argc = 0;

		check_loc(&e->loc, lines);
		check(!e->runtime, "file edits are persistent");
		check(fwd_edit_format(e, buf, sizeof(buf)) < FWD_EDIT_STRLEN,
		      "edit words fit");
		for (char *t = strtok_r(buf, " ", &save); t && argc < 16;
		     t = strtok_r(NULL, " ", &save))
			argv[argc++] = t;
		check(fwd_edit_parse(argc, (const char *const *)argv, 1, NULL,
				     &back, &n, err, sizeof(err)) == 0 && n == 1,
		      "edit words parse");
		check(fwd_edit_same(e, back) && back->expires == e->expires,
		      "edit words are the same edit");
		if (e->peer == FWD_PEER_ADDR || e->kind == FWD_EDIT_BLOCK ||
		    e->kind == FWD_EDIT_LIST_ADD || e->kind == FWD_EDIT_LIST_DEL)
			check_addr(&e->addr);
		free(back);
	}
}

static void check_diags(const struct fwd_diags *d, unsigned lines)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct fwd_diag *g = &d->v[i];

		check(g->file && strcmp(g->file, NAME) == 0, "diag names the input");
		check(g->line <= lines, "diag line inside the input");
		check(g->msg[0] != '\0', "diag has a message");
		for (const char *c = g->msg; *c; c++)
			check((unsigned char)*c >= 0x20 && *c != 0x7f,
			      "diag is one printable line");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fwd_load_opts opts = {
		.services_path = FUZZ_SERVICES,
		.confd_path = "",
	};
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	unsigned lines = 1;
	int ret;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	fwd_diags_init(&d);
	ret = fwd_policy_load_buffer(NAME, (const char *)data, size, &opts, &p, &d);
	check((ret == 0) == (d.n == 0), "return value matches diagnostics");
	check((ret == 0) == (p != NULL), "a policy only on success");
	check_diags(&d, lines);
	if (p) {
		check_policy(p, lines);
		check_edits(p, lines);
	}
	fwd_policy_free(p);
	fwd_diags_free(&d);
	return 0;
}
