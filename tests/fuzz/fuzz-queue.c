// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the verdict loop's header parser (kmod-hooks/
 * queue-pkt.c): the copied bytes of packets anyone on the network sends.
 * Beyond "no crash, no out-of-bounds read, no UB under ASan/UBSan" (the
 * input is copied to a buffer of exactly its size, so any read past it
 * is caught), it checks what the decision module will rely on:
 *  - a parse either fails (FWD_PKT_F_BAD, family 0, zero addresses) or
 *    gives AF_INET / AF_INET6;
 *  - a non-first fragment has no ports and no TCP flags;
 *  - the fields the parser does not own are left alone;
 *  - the result depends only on the bytes (a second parse is the same),
 *    and bytes past the copied length never matter (a longer buffer with
 *    the same prefix, parsed with the same length, gives the same).
 * The same bytes as /proc/net/netfilter/nfnetlink_queue text go through
 * fwd_queue_proc_parse.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-queue: invariant broken: %s\n", what);
		abort();
	}
}

static int same(const struct fwd_pkt *a, const struct fwd_pkt *b)
{
	return a->family == b->family && a->proto == b->proto &&
	       a->tcp_flags == b->tcp_flags && a->flags == b->flags &&
	       memcmp(a->src, b->src, 16) == 0 &&
	       memcmp(a->dst, b->dst, 16) == 0 && a->sport == b->sport &&
	       a->dport == b->dport;
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const uint8_t zero[16];
	unsigned char *exact = malloc(size ? size : 1);
	unsigned char *longer = malloc(size + 64);
	struct fwd_pkt a, b;
	char *text;
	int ra, rb;

	memcpy(exact, data, size);
	memset(&a, 0xa5, sizeof(a));
	a.id = 42;
	a.ifindex = 7;
	ra = fwd_pkt_parse(exact, size, &a);
	check(a.id == 42 && a.ifindex == 7, "fields not its own changed");
	if (ra) {
		check(a.flags == FWD_PKT_F_BAD && a.family == 0, "failure shape");
		check(!memcmp(a.src, zero, 16) && !memcmp(a.dst, zero, 16),
		      "failure leaves addresses");
	} else {
		check(a.family == AF_INET || a.family == AF_INET6, "family");
		check(!(a.flags & FWD_PKT_F_BAD), "success flagged bad");
		if (a.family == AF_INET)
			check(!memcmp(a.src + 4, zero, 12) &&
			      !memcmp(a.dst + 4, zero, 12), "v4 tail");
	}
	if (a.flags & FWD_PKT_F_FRAG)
		check(!a.sport && !a.dport && !a.tcp_flags, "fragment ports");

	memcpy(longer, data, size);
	memset(longer + size, 0x45, 64);
	memset(&b, 0, sizeof(b));
	rb = fwd_pkt_parse(longer, size, &b);
	check(ra == rb && same(&a, &b), "depends on bytes past the length");

	text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	for (unsigned q = 0; q < 3; q++) {
		struct fwd_queue_proc pr;

		if (fwd_queue_proc_parse(text, (uint16_t)q, &pr) == 0)
			check(pr.num == q, "proc line of another queue");
	}
	free(text);
	free(exact);
	free(longer);
	return 0;
}
