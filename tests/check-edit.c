// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live edits (edit.h): fwctl's words -> atomic edits with the exact
 * messages users read, the canonical words, matching, the model checks,
 * the owned file and its [edits] section read back by the policy loader
 * (a round trip over random edits), and the 100k-word batch in linear time.
 *
 * Tests run in the policy fixture directory and use its services file, as
 * check-policy does.
 */
#include "testutil.h"

#include "edit.h"
#include "ir.h"
#include "policy.h"
#include "util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define NOW 1000000000ULL

static const struct fwd_load_opts opts = { .services_path = "services" };

/* ---- helpers ---- */

/* Split `line` at single spaces into argv (words may hold commas). */
static int split(char *line, const char **argv, int max)
{
	int argc = 0;

	for (char *t = strtok(line, " "); t && argc < max; t = strtok(NULL, " "))
		argv[argc++] = t;
	return argc;
}

static int parse_line(const char *words, struct fwd_edit **out, size_t *n,
		      char *err, size_t errlen)
{
	char *copy = fwd_xstrdup(words);
	const char *argv[64];
	int argc = split(copy, argv, 64), ret;

	ret = fwd_edit_parse(argc, argv, NOW, &opts, out, n, err, errlen);
	free(copy);
	return ret;
}

/* Every edit's canonical words, one per line. */
static char *formatted(const struct fwd_edit *e, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	char w[FWD_EDIT_STRLEN];

	ck_assert_ptr_nonnull(f);
	for (size_t i = 0; i < n; i++) {
		fwd_edit_format(&e[i], w, sizeof(w));
		fprintf(f, "%s\n", w);
	}
	fclose(f);
	return buf;
}

static struct fwd_addr A(const char *s)
{
	struct fwd_addr a;

	ck_assert_int_eq(fwd_addr_parse(s, &a, NULL, 0), 0);
	return a;
}

/* ---- parse: good ---- */

struct good_case {
	const char *words;
	const char *want;	/* canonical words of every edit */
};

static const struct good_case goods[] = {
	{ "allow 22/tcp", "allow 22/tcp from any\n" },
	{ "allow 22/tcp from 203.0.113.7", "allow 22/tcp from 203.0.113.7\n" },
	/* PORTS x PEERs, port-major. */
	{ "allow 22/tcp,80/tcp from 192.0.2.1 192.0.2.2",
	  "allow 22/tcp from 192.0.2.1\nallow 22/tcp from 192.0.2.2\n"
	  "allow 80/tcp from 192.0.2.1\nallow 80/tcp from 192.0.2.2\n" },
	/* PORTS split across words at a comma, every way a shell splits. */
	{ "allow 22/tcp, 80/tcp from 192.0.2.1",
	  "allow 22/tcp from 192.0.2.1\nallow 80/tcp from 192.0.2.1\n" },
	{ "allow 22/tcp ,80/tcp", "allow 22/tcp from any\nallow 80/tcp from any\n" },
	{ "allow 22/tcp , 80/tcp,", "allow 22/tcp from any\nallow 80/tcp from any\n" },
	{ "allow 22/tcp, from 192.0.2.1", "allow 22/tcp from 192.0.2.1\n" },
	/* 53 is tcp and udp; peers by comma as well. */
	{ "allow 53 from 2001:db8::/32,192.0.2.53",
	  "allow 53/tcp from 2001:db8::/32\nallow 53/tcp from 192.0.2.53\n"
	  "allow 53/udp from 2001:db8::/32\nallow 53/udp from 192.0.2.53\n" },
	{ "allow 60000-61000/udp to any", "allow 60000-61000/udp to any\n" },
	/* "out" is "to": one canonical form. */
	{ "allow 53/udp from any out", "allow 53/udp to any\n" },
	{ "allow 53/udp out", "allow 53/udp to any\n" },
	{ "deny 25/tcp to 198.51.100.0/24 out", "deny 25/tcp to 198.51.100.0/24\n" },
	/* Service names from the services file. */
	{ "allow https from @office",
	  "allow 443/tcp from @office\nallow 443/udp from @office\n" },
	{ "allow www,ssh/tcp", "allow 80/tcp from any\nallow 22/tcp from any\n" },
	{ "allow 1-65535/tcp from ::/0", "allow 1-65535/tcp from ::/0\n" },
	{ "allow 22/tcp from any 192.0.2.1",
	  "allow 22/tcp from any\nallow 22/tcp from 192.0.2.1\n" },
	/* Durations from NOW; clauses in any order. */
	{ "deny 80/tcp from 198.51.100.0/24 for 2h",
	  "deny 80/tcp from 198.51.100.0/24 until 1000007200\n" },
	{ "allow 22/tcp for 1h30m from 192.0.2.1",
	  "allow 22/tcp from 192.0.2.1 until 1000005400\n" },
	{ "allow 22/tcp for 30s", "allow 22/tcp from any until 1000000030\n" },
	{ "allow 22/tcp for 10m", "allow 22/tcp from any until 1000000600\n" },
	{ "allow 22/tcp for 7d", "allow 22/tcp from any until 1000604800\n" },
	{ "allow 22/tcp for 1d12h", "allow 22/tcp from any until 1000129600\n" },
	{ "allow 22/tcp for 1s", "allow 22/tcp from any until 1000000001\n" },
	{ "allow 22/tcp for 365d", "allow 22/tcp from any until 1031536000\n" },
	{ "allow 22/tcp for 0001m", "allow 22/tcp from any until 1000000060\n" },
	{ "allow 22/tcp until 1764412345 from 192.0.2.1",
	  "allow 22/tcp from 192.0.2.1 until 1764412345\n" },
	/* An `until` in the past is kept: the compiler skips it. */
	{ "allow 22/tcp until 5", "allow 22/tcp from any until 5\n" },
	{ "block 198.51.100.9 2001:db8::1 until 1764412345",
	  "block 198.51.100.9 until 1764412345\nblock 2001:db8::1 until 1764412345\n" },
	{ "block 198.51.100.0/24,192.0.2.1 for 1h",
	  "block 198.51.100.0/24 until 1000003600\nblock 192.0.2.1 until 1000003600\n" },
	{ "list-add office 192.0.2.99,192.0.2.100",
	  "list-add office 192.0.2.99\nlist-add office 192.0.2.100\n" },
	{ "list add office 192.0.2.99", "list-add office 192.0.2.99\n" },
	{ "list del office 2001:DB8::7", "list-del office 2001:db8::7\n" },
	{ "list-del office 192.0.2.7 for 10m",
	  "list-del office 192.0.2.7 until 1000000600\n" },
	/* A list may be called like a keyword: the name is positional. */
	{ "list-add for 192.0.2.1", "list-add for 192.0.2.1\n" },
	/* Interfaces and limits (allow only), in any order; the window in
	 * its largest whole unit. */
	{ "allow 22/tcp from any limit 6/30s", "allow 22/tcp from any limit 6/30s\n" },
	{ "allow 22/tcp limit 6/60s", "allow 22/tcp from any limit 6/1m\n" },
	{ "allow 5432/tcp on eth1 from @app",
	  "allow 5432/tcp from @app on eth1\n" },
	{ "allow 22/tcp,80/tcp limit 3/2s on wg0 from 192.0.2.1 for 1h",
	  "allow 22/tcp from 192.0.2.1 on wg0 limit 3/2s until 1000003600\n"
	  "allow 80/tcp from 192.0.2.1 on wg0 limit 3/2s until 1000003600\n" },
	{ "allow 873/tcp to 203.0.113.9 on eth1", "allow 873/tcp to 203.0.113.9 on eth1\n" },
	{ "allow 22/tcp on abcdefghijklmno", "allow 22/tcp from any on abcdefghijklmno\n" },
	{ "allow 22/tcp limit 1000000/1d", "allow 22/tcp from any limit 1000000/1d\n" },
};

START_TEST(test_parse_good)
{
	const struct good_case *c = &goods[_i];
	struct fwd_edit *e = NULL;
	char err[256] = "x";
	size_t n = 0;
	char *got;
	int ret;

	ret = parse_line(c->words, &e, &n, err, sizeof(err));
	ck_assert_msg(ret == 0, "'%s': %s", c->words, err);
	ck_assert_str_eq(err, "");
	got = formatted(e, n);
	ck_assert_msg(!strcmp(got, c->want), "'%s':\n--- want\n%s--- got\n%s",
		      c->words, c->want, got);
	for (size_t i = 0; i < n; i++) {
		ck_assert(!e[i].runtime);
		ck_assert_ptr_null(e[i].loc.file);
		ck_assert_uint_eq(e[i].loc.line, 0);
	}
	free(got);
	free(e);
}
END_TEST

/* The fields a kind does not use are zero (callers compare and hash). */
START_TEST(test_parse_fields)
{
	struct fwd_edit *e = NULL, z;
	char err[256];
	size_t n = 0;

	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(parse_line("block 192.0.2.1", &e, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(parse_line("list-add office 2001:db8::/64", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/tcp from @office", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_int_eq(e[0].kind, FWD_EDIT_BLOCK);
	ck_assert_mem_eq(&e[0].ports, &z.ports, sizeof(z.ports));
	ck_assert_str_eq(e[0].list, "");
	ck_assert_uint_eq(e[0].expires, 0);
	ck_assert_int_eq(e[1].kind, FWD_EDIT_LIST_ADD);
	ck_assert_str_eq(e[1].list, "office");
	ck_assert_uint_eq(e[1].addr.family, AF_INET6);
	ck_assert_uint_eq(e[1].addr.prefix, 64);
	ck_assert_int_eq(e[2].kind, FWD_EDIT_ALLOW);
	ck_assert_int_eq(e[2].dir, FWD_DIR_IN);
	ck_assert_int_eq(e[2].peer, FWD_PEER_LIST);
	ck_assert_mem_eq(&e[2].addr, &z.addr, sizeof(z.addr));
	ck_assert_uint_eq(e[2].ports.proto, IPPROTO_TCP);
	ck_assert_uint_eq(e[2].ports.lo, 22);
	ck_assert_uint_eq(e[2].ports.hi, 22);
	free(e);
}
END_TEST

/* Explicit argv: words with spaces inside, empty words, NULL opts. */
START_TEST(test_parse_argv)
{
	const char *argv[] = { "allow", "22/tcp, 80/tcp", "", "from", " 192.0.2.1 ", NULL };
	const char *argv2[] = { "block", "192.0.2.1" };
	struct fwd_edit *e = NULL;
	char err[256];
	size_t n = 0;
	char *got;

	ck_assert_int_eq(fwd_edit_parse(5, argv, NOW, &opts, &e, &n, err,
					sizeof(err)), 0);
	got = formatted(e, n);
	ck_assert_str_eq(got, "allow 22/tcp from 192.0.2.1\nallow 80/tcp from 192.0.2.1\n");
	free(got);
	/* No opts: numbers never need a services file. */
	ck_assert_int_eq(fwd_edit_parse(2, argv2, NOW, NULL, &e, &n, err,
					sizeof(err)), 0);
	ck_assert_uint_eq(n, 3);
	/* Appending keeps what was there. */
	ck_assert_int_eq(e[0].ports.lo, 22);
	ck_assert_int_eq(e[2].kind, FWD_EDIT_BLOCK);
	free(e);

	/* "for" at the end of time stops at what "until" can say. */
	{
		const char *argv3[] = { "block", "192.0.2.1", "for", "1h" };

		e = NULL;
		n = 0;
		ck_assert_int_eq(fwd_edit_parse(4, argv3, FWD_EDIT_EPOCH_MAX - 10, NULL,
						&e, &n, err, sizeof(err)), 0);
		ck_assert_uint_eq(e[0].expires, FWD_EDIT_EPOCH_MAX);
		free(e);
	}
}
END_TEST

/* ---- parse: bad ---- */

struct bad_case {
	const char *words;
	const char *want;
};

static const struct bad_case bads[] = {
	{ "deny 22/tcp from any limit 6/30s", "'limit' applies to allow only (a "
	  "deny refuses its PEERs on every interface, at any rate)" },
	{ "deny 22/tcp on eth0", "'on' applies to allow only (a deny refuses its "
	  "PEERs on every interface, at any rate)" },
	{ "allow 22/tcp on", "'on' needs an interface name, like eth1" },
	{ "allow 22/tcp limit from any", "'limit' needs N/WINDOW, like 6/30s" },
	{ "allow 22/tcp on eth0 on eth1", "'on' given twice" },
	{ "allow 22/tcp limit 1/1s limit 2/1s", "'limit' given twice" },
	{ "allow 22/tcp on abcdefghijklmnop", "interface 'abcdefghijklmnop': an "
	  "interface name has at most 15 characters (IFNAMSIZ - 1)" },
	{ "allow 22/tcp on eth/0", "interface 'eth/0': an interface name has no "
	  "blanks, '/', ':', '*', quotes or backslashes" },
	{ "allow 22/tcp on ..", "interface '..': '.' and '..' are not interface names" },
	{ "allow 22/tcp limit 6", "limit '6': a limit is N/WINDOW, like 6/30s or "
	  "100/1m (N 1-1000000, WINDOW 1s-1d)" },
	{ "allow 22/tcp limit 0/1s", "limit '0/1s': a limit's N is 1 to 1000000" },
	{ "allow 22/tcp limit 1000001/1s", "limit '1000001/1s': a limit's N is 1 to 1000000" },
	{ "allow 22/tcp limit 6/25h", "limit '6/25h': a limit's WINDOW is 1s to 1d" },
	{ "allow 22/tcp limit 6/30x", "limit '6/30x': a limit is N/WINDOW, like 6/30s or "
	  "100/1m (N 1-1000000, WINDOW 1s-1d)" },
	{ "allow 53/udp to any limit 6/30s", "'limit' counts new connections per "
	  "source and applies to inbound allows only" },
	{ "block 192.0.2.1 on eth0", "'on' applies to allow and deny only" },
	{ "", "nothing to do: expected allow, deny, block, list-add or list-del" },
	{ "frobnicate 1", "unknown edit 'frobnicate'; expected allow, deny, "
	  "block, list-add or list-del" },
	{ "list show office", "unknown edit 'list'; expected allow, deny, "
	  "block, list-add or list-del" },
	/* PORTS, with the policy's wording for the same mistakes. */
	{ "allow", "'allow' needs PORTS, like 22/tcp, 53 or 60000-61000/udp" },
	{ "deny from 192.0.2.1", "'deny' needs PORTS before 'from', like "
	  "deny 22/tcp from" },
	{ "allow 70000", "port 70000 is out of range (1-65535)" },
	{ "allow 0-70000/tcp", "port 0 is out of range (1-65535)" },
	{ "allow 2000-1000/udp", "bad port range '2000-1000': 2000 is greater than 1000" },
	{ "allow 22/sctp", "unknown protocol 'sctp' in '22/sctp'; valid protocols "
	  "are tcp, udp" },
	{ "allow 22/", "missing protocol after '/' in '22/'; valid protocols are tcp, udp" },
	{ "allow 22,/tcp", "missing port before '/' in '/tcp'" },
	{ "allow 1.5", "invalid port '1.5'; expected a number (1-65535), a range "
	  "LO-HI or a service name" },
	{ "allow htps", "unknown service name 'htps' (not in services; did you mean 'https'?)" },
	{ "allow ntp/tcp", "service 'ntp' has no tcp port in services (it has 123/udp)" },
	{ "allow 22/tcp 80/tcp", "expected 'from', 'to', 'for' or 'until', got "
	  "'80/tcp' (separate PORTS with commas: 22/tcp,80/tcp)" },
	/* The clauses. */
	{ "allow 22/tcp form 192.0.2.1",
	  "expected 'from', 'to', 'for' or 'until', got 'form'" },
	{ "allow 22/tcp from", "'from' needs a PEER: any, an address, a CIDR or @list" },
	{ "allow 22/tcp to for 1h", "'to' needs a PEER: any, an address, a CIDR or @list" },
	{ "allow 22/tcp from 192.0.2.1 from 192.0.2.2",
	  "'from' given twice; name every PEER after one 'from'" },
	{ "allow 22/tcp from 192.0.2.1 to 192.0.2.2", "'from' (sources, inbound) "
	  "and 'to' (destinations, outbound) cannot be mixed in one edit" },
	{ "allow 22/tcp out out", "'out' given twice" },
	{ "allow 22/tcp from 192.0.2.1 out 192.0.2.2",
	  "expected 'from', 'to', 'for' or 'until', got '192.0.2.2'" },
	{ "allow 22/tcp for 1h 192.0.2.1",
	  "expected 'from', 'to', 'for' or 'until', got '192.0.2.1'" },
	/* PEERs. */
	{ "allow 22/tcp from 2001:db8::/129", "'2001:db8::/129' is not an address: "
	  "prefix length 129 is out of range for IPv6 (0-128)" },
	{ "allow 22/tcp from 192.0.2.1/24", "'192.0.2.1/24' is not an address: "
	  "host bits set in 192.0.2.1/24 (did you mean 192.0.2.0/24?)" },
	{ "allow 22/tcp from bastion.example.com", "'bastion.example.com' is not "
	  "an address: not an IPv4 or IPv6 address (host names are not resolved)" },
	{ "allow 22/tcp from @", "'@' needs a list name: @NAME" },
	{ "allow 22/tcp from @a/b", "invalid list name 'a/b'; names are 1-32 "
	  "characters from A-Z a-z 0-9 _ . -" },
	{ "allow 22/tcp from @abcdefghijklmnopqrstuvwxyz0123456",
	  "invalid list name 'abcdefghijklmnopqrstuvwxyz0123456'; names are 1-32 "
	  "characters from A-Z a-z 0-9 _ . -" },
	/* Time. */
	{ "allow 22/tcp for", "'for' needs a DURATION like 30s, 10m, 2h or 7d" },
	{ "allow 22/tcp for from", "'for' needs a DURATION like 30s, 10m, 2h or 7d" },
	{ "allow 22/tcp for 30", "'for' needs a DURATION like 30s, 10m, 2h or 7d, got '30'" },
	{ "allow 22/tcp for 10x", "'for' needs a DURATION like 30s, 10m, 2h or 7d, got '10x'" },
	{ "allow 22/tcp for h", "'for' needs a DURATION like 30s, 10m, 2h or 7d, got 'h'" },
	{ "allow 22/tcp for 10m1h", "'for' needs a DURATION like 30s, 10m, 2h or 7d, "
	  "got '10m1h'" },
	{ "allow 22/tcp for 1h1h", "'for' needs a DURATION like 30s, 10m, 2h or 7d, "
	  "got '1h1h'" },
	{ "allow 22/tcp for 1H", "'for' needs a DURATION like 30s, 10m, 2h or 7d, got '1H'" },
	{ "allow 22/tcp for 0s", "duration '0s' is out of range (1s to 365d)" },
	{ "allow 22/tcp for 365d1s", "duration '365d1s' is out of range (1s to 365d)" },
	{ "allow 22/tcp for 99999999999999999999999d",
	  "duration '99999999999999999999999d' is out of range (1s to 365d)" },
	{ "allow 22/tcp until", "'until' needs a time in unix seconds, like 1764412345" },
	{ "allow 22/tcp until 0", "'until' needs a time in unix seconds (1 to "
	  "18446744073, the kernel's limit for element timeouts), like "
	  "1764412345, got '0'" },
	{ "allow 22/tcp until 2h", "'until' needs a time in unix seconds (1 to "
	  "18446744073, the kernel's limit for element timeouts), like "
	  "1764412345, got '2h'" },
	/* The year 9999 was accepted once, and the kernel refused it (ERANGE):
	 * the limit is the kernel's (edit.h, FWD_EDIT_EPOCH_MAX). */
	{ "allow 22/tcp until 253402300799", "'until' needs a time in unix seconds "
	  "(1 to 18446744073, the kernel's limit for element timeouts), like "
	  "1764412345, got '253402300799'" },
	{ "block 192.0.2.1 until 18446744074", "'until' needs a time in unix "
	  "seconds (1 to 18446744073, the kernel's limit for element timeouts), "
	  "like 1764412345, got '18446744074'" },
	{ "allow 22/tcp for 1h until 5",
	  "one 'for' or 'until' per edit, got a second 'until'" },
	/* block and the lists. */
	{ "block", "'block' needs at least one ADDR or CIDR" },
	{ "block for 1h", "'block' needs at least one ADDR or CIDR" },
	{ "block any", "block takes addresses and CIDRs, not 'any'" },
	{ "block @office", "block takes addresses and CIDRs, not lists ('@office')" },
	{ "block 192.0.2.1 from 192.0.2.2", "'from' applies to allow and deny only" },
	{ "block 192.0.2.1 out", "'out' applies to allow and deny only" },
	{ "block 192.0.2.1 for 1h 192.0.2.2", "unexpected '192.0.2.2' after the "
	  "time; put every ADDR before 'for' or 'until'" },
	{ "block 192.0.2.300", "'192.0.2.300' is not an address: not an IPv4 or "
	  "IPv6 address" },
	{ "list-add", "'list-add' needs a list NAME and at least one ADDR" },
	{ "list-add office", "'list-add' needs at least one ADDR after the list name" },
	{ "list del office", "'list-del' needs at least one ADDR after the list name" },
	{ "list-add @office 192.0.2.1", "write the list name without '@': 'office'" },
	{ "list-add bad/name 192.0.2.1", "invalid list name 'bad/name'; names are "
	  "1-32 characters from A-Z a-z 0-9 _ . -" },
	{ "list-add office any", "list members are addresses and CIDRs, not 'any'" },
	{ "list-add office @other", "list members are addresses and CIDRs, not "
	  "lists ('@other')" },
	/* The first problem is the one reported. */
	{ "allow 70000 from 2001:db8::/129", "port 70000 is out of range (1-65535)" },
	/* Words are escaped in messages. */
	{ "allow 22/tcp from \x1b[31m\\", "'\\x1b[31m\\x5c' is not an address: "
	  "not an IPv4 or IPv6 address" },
};

/* fwd_edit_parse_at names the word an error is about: the daemon turns it
 * into the line of a batch on stdin ("stdin:3: ..."). */
static const struct {
	const char *argv[8];
	int want;		/* the word, -1 for none */
} err_words[] = {
	{ { "list-add", "office", "192.0.2.1", "bad", "192.0.2.3" }, 3 },
	{ { "list-add", "office", "192.0.2.1", "192.0.2.2 198.51.100.300" }, 3 },
	{ { "allow", "22/tcp", "from", "192.0.2.1", "192.0.2.1/33" }, 4 },
	{ { "allow", "70000/tcp", "from", "192.0.2.1" }, 1 },
	{ { "allow", "22/tcp,", "99999/udp", "from", "192.0.2.1" }, 2 },
	{ { "block", "192.0.2.1", "for" }, 2 },
	{ { "block", "192.0.2.1", "until", "2h" }, 3 },
	{ { "list-add", "office" }, 1 },
	{ { "frobnicate", "192.0.2.1" }, -1 },
	{ { "list-add", "office", "192.0.2.1" }, -1 },	/* no error */
};

START_TEST(test_parse_err_word)
{
	struct fwd_edit *e = NULL;
	char err[512];
	size_t n = 0;
	int argc = 0, at = 42, ret;

	while (err_words[_i].argv[argc])
		argc++;
	ret = fwd_edit_parse_at(argc, err_words[_i].argv, NOW, &opts, &e, &n, err,
				sizeof(err), &at);
	/* Only the last case parses. */
	ck_assert_int_eq(ret, _i + 1 == (int)(sizeof(err_words) / sizeof(err_words[0])) ?
			 0 : -EINVAL);
	ck_assert_msg(at == err_words[_i].want, "case %d (%s): error word %d, want %d",
		      _i, ret ? err : "parsed", at, err_words[_i].want);
	free(e);
}
END_TEST

START_TEST(test_parse_bad)
{
	const struct bad_case *c = &bads[_i];
	struct fwd_edit *e = fwd_xcalloc(1, sizeof(*e)), *before = e;
	char err[512];
	size_t n = 1;
	int ret;

	e->kind = FWD_EDIT_BLOCK;
	ret = parse_line(c->words, &e, &n, err, sizeof(err));
	ck_assert_msg(ret == -EINVAL, "'%s' parsed", c->words);
	ck_assert_msg(!strcmp(err, c->want), "'%s':\n want '%s'\n  got '%s'",
		      c->words, c->want, err);
	/* Nothing appended, nothing reallocated. */
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_eq(e, before);
	ck_assert_int_eq(e->kind, FWD_EDIT_BLOCK);
	free(e);
}
END_TEST

/* A small err buffer is cut, never overrun; errlen 0 is allowed. */
START_TEST(test_parse_err_buffer)
{
	struct fwd_edit *e = NULL;
	char err[8];
	size_t n = 0;

	memset(err, 'x', sizeof(err));
	ck_assert_int_eq(parse_line("allow 70000", &e, &n, err, 5), -EINVAL);
	ck_assert_str_eq(err, "port");
	ck_assert_int_eq(err[5], 'x');
	ck_assert_int_eq(parse_line("allow 70000", &e, &n, NULL, 0), -EINVAL);
	ck_assert_int_eq(fwd_edit_parse(0, NULL, NOW, NULL, &e, &n, err,
					sizeof(err)), -EINVAL);
	ck_assert_ptr_null(e);
}
END_TEST

/* The expansion cap: a command cannot make the daemon allocate without
 * bound (OOM aborts). */
START_TEST(test_parse_cap)
{
	char *ports = fwd_xmalloc(1 << 16), *p = ports;
	char (*peers)[32] = fwd_xcalloc(1001, sizeof(*peers));
	const char **argv = fwd_xcalloc(1004, sizeof(*argv));
	struct fwd_edit *e = NULL;
	char err[256];
	size_t n = 0;

	/* 1001 ports (tcp and udp) x 1001 peers = 2004002 edits. */
	p += sprintf(p, "1");
	for (int i = 2; i <= 1001; i++)
		p += sprintf(p, ",%d", i);
	argv[0] = "allow";
	argv[1] = ports;
	argv[2] = "from";
	for (int i = 0; i <= 1000; i++) {
		sprintf(peers[i], "10.0.%d.%d", i / 256, i % 256);
		argv[3 + i] = peers[i];
	}
	ck_assert_int_eq(fwd_edit_parse(1004, argv, NOW, &opts, &e, &n, err,
					sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "this expands to 2004002 rules (PORTS x PEERs); "
			 "one command makes at most 1000000");
	ck_assert_ptr_null(e);
	/* At the cap it is fine. */
	argv[1] = "1-2/tcp,3/tcp";	/* 2 ranges */
	ck_assert_int_eq(fwd_edit_parse(1004, argv, NOW, &opts, &e, &n, err,
					sizeof(err)), 0);
	ck_assert_uint_eq(n, 2002);
	free(e);
	free(argv);
	free(peers);
	free(ports);
}
END_TEST

/* ---- format ---- */

START_TEST(test_format)
{
	struct fwd_edit e;
	char buf[FWD_EDIT_STRLEN];
	int r;

	memset(&e, 0, sizeof(e));
	e.kind = FWD_EDIT_DENY;
	e.dir = FWD_DIR_OUT;
	e.ports = (struct fwd_ports){ .proto = IPPROTO_UDP, .lo = 60000, .hi = 61000 };
	e.peer = FWD_PEER_LIST;
	strcpy(e.list, "office");
	e.expires = 1764412345;
	r = fwd_edit_format(&e, buf, sizeof(buf));
	ck_assert_str_eq(buf, "deny 60000-61000/udp to @office until 1764412345");
	ck_assert_int_eq(r, (int)strlen(buf));
	/* snprintf-like: the length of the whole, what fits written. */
	ck_assert_int_eq(fwd_edit_format(&e, buf, 10), r);
	ck_assert_str_eq(buf, "deny 6000");
	ck_assert_int_eq(fwd_edit_format(&e, NULL, 0), r);

	/* The longest edit fits FWD_EDIT_STRLEN. */
	memset(&e, 0, sizeof(e));
	e.kind = FWD_EDIT_LIST_DEL;
	strcpy(e.list, "abcdefghijklmnopqrstuvwxyz012345");
	e.addr = A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127");
	e.expires = UINT64_MAX;
	r = fwd_edit_format(&e, buf, sizeof(buf));
	ck_assert_int_lt(r, FWD_EDIT_STRLEN);
	ck_assert_str_eq(buf, "list-del abcdefghijklmnopqrstuvwxyz012345 "
			 "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127 until "
			 "18446744073709551615");
}
END_TEST

/* ---- same / hash ---- */

static struct fwd_edit one(const char *words);

/* An interface or a limit is part of what remove matches. */
START_TEST(test_same_restrict)
{
	struct fwd_edit a = one("allow 22/tcp from any limit 6/30s");
	struct fwd_edit b = one("allow 22/tcp from any limit 6/30s");
	struct fwd_edit c = one("allow 22/tcp from any");
	struct fwd_edit d = one("allow 22/tcp from any limit 6/31s");
	struct fwd_edit e = one("allow 22/tcp from any on eth0 limit 6/30s");
	struct fwd_edit f = one("allow 22/tcp from any limit 6/30s on eth0");

	ck_assert(fwd_edit_same(&a, &b));
	ck_assert(!fwd_edit_same(&a, &c));
	ck_assert(!fwd_edit_same(&c, &a));
	ck_assert(!fwd_edit_same(&a, &d));
	ck_assert(!fwd_edit_same(&a, &e));
	ck_assert(fwd_edit_same(&e, &f));
	ck_assert_uint_eq(fwd_edit_hash(&e), fwd_edit_hash(&f));
	ck_assert_str_eq(e.rs.ifname, "eth0");
	ck_assert_uint_eq(e.rs.limit_n, 6);
	ck_assert_uint_eq(e.rs.limit_w, 30);
}
END_TEST

START_TEST(test_same)
{
	struct fwd_edit *e = NULL, a, b;
	char err[256];
	size_t n = 0;

	ck_assert_int_eq(parse_line("allow 22/tcp from 192.0.2.1", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/tcp from 192.0.2.1 for 1h", &e, &n,
				    err, sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/tcp from 192.0.2.2", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("deny 22/tcp from 192.0.2.1", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/tcp to 192.0.2.1", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/udp from 192.0.2.1", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22-23/tcp from 192.0.2.1", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_int_eq(parse_line("allow 22/tcp from 192.0.2.1/32", &e, &n, err,
				    sizeof(err)), 0);
	ck_assert_uint_eq(n, 8);
	/* Expiry, runtime and location do not matter. */
	e[1].runtime = true;
	e[1].loc.line = 7;
	ck_assert(fwd_edit_same(&e[0], &e[1]));
	ck_assert_uint_eq(fwd_edit_hash(&e[0]), fwd_edit_hash(&e[1]));
	ck_assert(fwd_edit_same(&e[0], &e[7]));
	for (size_t i = 2; i < 7; i++) {
		ck_assert_msg(!fwd_edit_same(&e[0], &e[i]), "edit %zu", i);
		ck_assert_msg(fwd_edit_hash(&e[0]) != fwd_edit_hash(&e[i]), "edit %zu", i);
	}

	/* Fields the kind does not use are not compared. */
	memset(&a, 0, sizeof(a));
	a.kind = FWD_EDIT_BLOCK;
	a.addr = A("2001:db8::/48");
	b = a;
	b.ports.lo = 9;
	b.dir = FWD_DIR_OUT;
	strcpy(b.list, "junk");
	b.addr.a[15] = 0;
	ck_assert(fwd_edit_same(&a, &b));
	ck_assert_uint_eq(fwd_edit_hash(&a), fwd_edit_hash(&b));
	a.kind = b.kind = FWD_EDIT_ALLOW;
	a.peer = b.peer = FWD_PEER_ANY;
	ck_assert(!fwd_edit_same(&a, &b));	/* the ports differ */
	b.ports.lo = 0;
	b.dir = FWD_DIR_IN;
	ck_assert(fwd_edit_same(&a, &b));	/* the address is not used */
	ck_assert_uint_eq(fwd_edit_hash(&a), fwd_edit_hash(&b));
	a.kind = b.kind = FWD_EDIT_LIST_ADD;
	ck_assert(!fwd_edit_same(&a, &b));	/* the list names differ */
	strcpy(a.list, "junk");
	ck_assert(fwd_edit_same(&a, &b));
	free(e);
}
END_TEST

/* ---- the model ---- */

static struct fwd_policy *policy_text(const char *text)
{
	struct fwd_load_opts o = { .services_path = "services", .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_policy_load_buffer("p.conf", text, strlen(text), &o, &p, &d);
	if (ret) {
		fwd_diags_print(&d, stderr);
		ck_abort_msg("policy text did not load");
	}
	fwd_diags_free(&d);
	return p;
}

static struct fwd_edit one(const char *words)
{
	struct fwd_edit *e = NULL, r;
	char err[256];
	size_t n = 0;

	ck_assert_msg(parse_line(words, &e, &n, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(n, 1);
	r = e[0];
	free(e);
	return r;
}

START_TEST(test_add_del)
{
	struct fwd_policy *p = policy_text("[list office]\nmembers = 192.0.2.0/24\n");
	struct fwd_edit e;
	char err[256];

	/* A list of the files, or one a list-add creates. */
	e = one("allow 22/tcp from @office");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("allow 22/tcp from @lab");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown list '@lab' (no [list lab] in the policy "
			 "and no list add for it)");
	e = one("list-add lab 2001:db8::1");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("deny 80/tcp to @lab");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	/* A list-del of a list nobody has is harmless (nothing to remove). */
	e = one("list-del gone 192.0.2.1");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	ck_assert_uint_eq(p->nedits, 4);
	ck_assert_uint_ge(p->edits_cap, p->nedits);

	/* Malformed structs are refused, whoever built them. */
	e = one("block 192.0.2.1");
	e.addr.prefix = 33;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed edit: bad address");
	e.addr = A("192.0.2.0/24");
	e.addr.a[3] = 1;	/* host bits */
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	e = one("allow 22/tcp");
	e.ports.lo = 0;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed edit: bad port range");
	e = one("allow 22/tcp");
	e.ports.proto = IPPROTO_ICMP;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	e = one("allow 22/tcp");
	e.dir = (enum fwd_dir)7;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	e = one("allow 22/tcp");
	e.peer = (enum fwd_peer_kind)9;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	e = one("list-add x 192.0.2.1");
	memset(e.list, 'a', sizeof(e.list));	/* not terminated */
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed edit: bad list name");
	e = one("block 192.0.2.1");
	e.expires = FWD_EDIT_EPOCH_MAX + 1;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed edit: expiry 18446744074 is past "
			 "18446744073, the kernel's limit for element timeouts");
	e = one("list-add x 192.0.2.1");
	e.kind = (enum fwd_edit_kind)42;
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "malformed edit: kind 42");
	ck_assert_uint_eq(p->nedits, 4);

	/* A location in a file the policy does not hold is copied in. */
	{
		char *file = fwd_xstrdup("elsewhere.conf");

		e = one("block 192.0.2.9");
		e.loc = (struct fwd_loc){ file, 3 };
		ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
		free(file);
		ck_assert_str_eq(p->edits[4].loc.file, "elsewhere.conf");
		ck_assert_ptr_eq(p->edits[4].loc.file, p->files[p->nfiles - 1]);
		/* Its own file's name is kept as the same pointer. */
		e.loc.file = p->files[0];
		ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
		ck_assert_ptr_eq(p->edits[5].loc.file, p->files[0]);
	}

	/* Delete keeps order; out of range is ignored. */
	fwd_policy_del_edit(p, 1);
	ck_assert_uint_eq(p->nedits, 5);
	ck_assert_int_eq(p->edits[0].kind, FWD_EDIT_ALLOW);
	ck_assert_int_eq(p->edits[1].kind, FWD_EDIT_DENY);
	ck_assert_int_eq(p->edits[2].kind, FWD_EDIT_LIST_DEL);
	fwd_policy_del_edit(p, 5);
	ck_assert_uint_eq(p->nedits, 5);
	fwd_policy_del_edit(p, 4);
	ck_assert_uint_eq(p->nedits, 4);
	fwd_policy_free(p);
}
END_TEST

/* ---- the owned file ---- */

START_TEST(test_render_file)
{
	struct fwd_policy *p = fwd_policy_new();
	struct fwd_edit e;
	char err[256], *text;

	e = one("allow 22/tcp from 203.0.113.7");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("allow 22/tcp from 203.0.113.8 until 1764412345");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("block 198.51.100.9 until 999");	/* expired at NOW */
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("block 198.51.100.10");
	e.runtime = true;				/* --runtime */
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-add office 192.0.2.99");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-del office 192.0.2.7");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("allow 53/udp from any out");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("deny 80/tcp from @office until 1000000001");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	text = fwd_edits_render_file(p, NOW);
	ck_assert_str_eq(text,
		"; Written by fwd for fwctl edits. Do not edit: fwd rewrites this file.\n"
		"; One edit per line; \"until\" is unix time. See fwctl(8).\n"
		"[edits]\n"
		"allow = 22/tcp from 203.0.113.7\n"
		"allow = 22/tcp from 203.0.113.8 until 1764412345\n"
		"list-add = office 192.0.2.99\n"
		"list-del = office 192.0.2.7\n"
		"allow = 53/udp to any\n"
		"deny = 80/tcp from @office until 1000000001\n");
	free(text);
	/* At its expiry an edit is gone. */
	text = fwd_edits_render_file(p, 1000000001);
	ck_assert_ptr_null(strstr(text, "deny"));
	free(text);
	fwd_policy_free(p);

	/* No edits: the header and an empty section. */
	p = fwd_policy_new();
	text = fwd_edits_render_file(p, NOW);
	ck_assert_str_eq(text,
		"; Written by fwd for fwctl edits. Do not edit: fwd rewrites this file.\n"
		"; One edit per line; \"until\" is unix time. See fwctl(8).\n"
		"[edits]\n");
	free(text);
	fwd_policy_free(p);
}
END_TEST

/* ---- [edits] read by the policy loader ---- */

static char *load_err(const char *text)
{
	struct fwd_load_opts o = { .services_path = "services", .confd_path = "" };
	struct fwd_policy *p = NULL;
	char *buf = NULL;
	size_t len = 0;
	struct fwd_diags d;
	FILE *f;

	fwd_diags_init(&d);
	ck_assert_int_eq(fwd_policy_load_buffer("e.conf", text, strlen(text), &o,
						&p, &d), -EINVAL);
	ck_assert_ptr_null(p);
	f = open_memstream(&buf, &len);
	fwd_diags_print(&d, f);
	fclose(f);
	fwd_diags_free(&d);
	return buf;
}

START_TEST(test_section)
{
	struct fwd_policy *p;
	char *got;

	p = policy_text(
		"[list office]\n"
		"members = 192.0.2.0/24\n"
		"[edits]\n"
		"allow = 22/tcp from 203.0.113.7\n"
		"allow = 22/tcp,80/tcp from @office until 5 ; expired, still read\n"
		"deny = 53 to 2001:db8::53\n"
		"  198.51.100.53\n"
		"\n"
		"block = 198.51.100.9\n"
		"[edits]\n"
		"list-add = lab 192.0.2.99\n"
		"list-del = office 192.0.2.7\n"
		"allow = https from @lab for 1h\n");
	ck_assert_uint_eq(p->nedits, 1 + 2 + 4 + 1 + 1 + 1 + 2);
	got = formatted(p->edits, 10);
	ck_assert_str_eq(got,
		"allow 22/tcp from 203.0.113.7\n"
		"allow 22/tcp from @office until 5\n"
		"allow 80/tcp from @office until 5\n"
		"deny 53/tcp to 2001:db8::53\n"
		"deny 53/tcp to 198.51.100.53\n"
		"deny 53/udp to 2001:db8::53\n"
		"deny 53/udp to 198.51.100.53\n"
		"block 198.51.100.9\n"
		"list-add lab 192.0.2.99\n"
		"list-del office 192.0.2.7\n");
	free(got);
	ck_assert_uint_eq(p->edits[10].ports.lo, 443);
	ck_assert_uint_eq(p->edits[11].ports.proto, IPPROTO_UDP);
	ck_assert_str_eq(p->edits[11].list, "lab");
	{
		static const unsigned lines[] = { 4, 5, 5, 6, 6, 6, 6, 9, 11, 12, 13, 13 };

		for (size_t i = 0; i < p->nedits; i++) {
			ck_assert_str_eq(p->edits[i].loc.file, "p.conf");
			ck_assert_ptr_eq(p->edits[i].loc.file, p->files[0]);
			ck_assert_uint_eq(p->edits[i].loc.line, lines[i]);
			ck_assert_uint_eq(p->edits[i].ports.loc.line, lines[i]);
			ck_assert(!p->edits[i].runtime);
		}
	}
	/* "for" in a file counts from the load. */
	ck_assert_uint_ge(p->edits[10].expires, (uint64_t)time(NULL) + 3599);
	ck_assert_uint_le(p->edits[10].expires, (uint64_t)time(NULL) + 3600);
	fwd_policy_free(p);

	/* Located errors, every one, nothing loaded. */
	got = load_err(
		"[edits]\n"
		"allow = 70000\n"
		"allow = 22/tcp form 192.0.2.1\n"
		"block = any\n"
		"list-add = office\n"
		"frob = 1\n"
		"allow =\n"
		"allow = 22/tcp from @bad!\n"
		"deny = 22/tcp # a comment\n"
		"[edits x]\n"
		"block = 192.0.2.1/24\n");
	ck_assert_str_eq(got,
		"e.conf:2: port 70000 is out of range (1-65535)\n"
		"e.conf:3: expected 'from', 'to', 'for' or 'until', got 'form'\n"
		"e.conf:4: block takes addresses and CIDRs, not 'any'\n"
		"e.conf:5: 'list-add' needs at least one ADDR after the list name\n"
		"e.conf:6: unknown key 'frob' in [edits]; valid keys are allow, deny, "
		"block, list-add, list-del\n"
		"e.conf:7: 'allow' needs PORTS, like 22/tcp, 53 or 60000-61000/udp\n"
		"e.conf:8: invalid list name 'bad!'; names are 1-32 characters from "
		"A-Z a-z 0-9 _ . -\n"
		"e.conf:9: '#' starts a comment only at the start of a line; inline "
		"comments start with ';'\n"
		"e.conf:10: [edits] takes no name\n"
		"e.conf:11: '192.0.2.1/24' is not an address: host bits set in "
		"192.0.2.1/24 (did you mean 192.0.2.0/24?)\n");
	free(got);

	/*
	 * An @list nobody declares loads: a list made by `list add` is gone
	 * once its last member expired or was deleted, and the file fwd
	 * wrote before must still load (the allow then matches nobody).
	 */
	p = policy_text("[edits]\n"
			"allow = 22/tcp from @lab\n"
			"list-add = lab 192.0.2.1 until 5\n");
	ck_assert_uint_eq(p->nedits, 2);
	fwd_policy_free(p);
	p = policy_text("[edits]\nallow = 22/tcp from @gone\n");
	ck_assert_uint_eq(p->nedits, 1);
	ck_assert_str_eq(p->edits[0].list, "gone");
	fwd_policy_free(p);
}
END_TEST

/* A list-add in a later file makes an earlier @list good; the owned
 * file is read from conf.d like any include. */
START_TEST(test_section_includes)
{
	struct fwd_load_opts o = { .services_path = "services" };
	struct fwd_policy *p = NULL;
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_policy_load("edits/fwd.conf", &o, &p, &d);
	if (ret)
		fwd_diags_print(&d, stderr);
	ck_assert_int_eq(ret, 0);
	ck_assert_str_eq(p->confd_dir, "edits/conf.d");
	ck_assert_uint_eq(p->nedits, 3);
	ck_assert_str_eq(p->edits[0].loc.file, "edits/conf.d/50-lab.conf");
	ck_assert_int_eq(p->edits[0].peer, FWD_PEER_LIST);
	ck_assert_str_eq(p->edits[1].loc.file, "edits/conf.d/" FWD_EDITS_FILE);
	ck_assert_int_eq(p->edits[1].kind, FWD_EDIT_LIST_ADD);
	ck_assert_str_eq(p->edits[1].list, "lab");
	ck_assert_uint_eq(p->edits[2].loc.line, 5);
	ck_assert_uint_eq(fwd_policy_count_addresses(p), 1 + 1 + 1);
	fwd_policy_free(p);
	fwd_diags_free(&d);
}
END_TEST

/* ---- round trip: random edits -> file -> loader -> the same edits ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: reproducible from the printed seed. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned rn(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static struct fwd_addr rnd_addr(void)
{
	struct fwd_addr a;
	uint8_t lo[16], hi[16];

	memset(&a, 0, sizeof(a));
	a.family = rn(2) ? AF_INET : AF_INET6;
	for (size_t i = 0; i < 16; i++)
		a.a[i] = (uint8_t)rnd();
	a.prefix = (uint8_t)(rn(3) ? fwd_addr_bits(&a) : rn(fwd_addr_bits(&a) + 1));
	if (a.family == AF_INET)
		memset(a.a + 4, 0, 12);
	fwd_addr_range(&a, lo, hi);
	memcpy(a.a, lo, 16);
	return a;
}

static void rnd_name(char *out)
{
	static const char chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789_.-";
	size_t n = rn(3) ? 1 + rn(8) : 1 + rn(FWD_NAME_MAX);

	for (size_t i = 0; i < n; i++)
		out[i] = chars[rn(sizeof(chars) - 1)];
	out[n] = '\0';
}

static struct fwd_edit rnd_edit(void)
{
	struct fwd_edit e;

	memset(&e, 0, sizeof(e));
	e.kind = (enum fwd_edit_kind)rn(5);
	switch (e.kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		e.dir = rn(4) ? FWD_DIR_IN : FWD_DIR_OUT;
		e.ports.proto = rn(2) ? IPPROTO_TCP : IPPROTO_UDP;
		e.ports.lo = (uint16_t)(1 + rn(65535));
		e.ports.hi = rn(2) ? e.ports.lo :
			     (uint16_t)(e.ports.lo + rn(65536 - e.ports.lo));
		e.peer = (enum fwd_peer_kind)rn(3);
		if (e.peer == FWD_PEER_ADDR)
			e.addr = rnd_addr();
		else if (e.peer == FWD_PEER_LIST)
			rnd_name(e.list);
		/* Restricted allows: on IFACE (1-15 bytes), limit inbound. */
		if (e.kind == FWD_EDIT_ALLOW && rn(4) == 0) {
			unsigned len = 1 + rn(FWD_IFNAME_MAX);

			for (unsigned i = 0; i < len; i++)
				e.rs.ifname[i] = "abcxyz019_-."[rn(12)];
			if (!strcmp(e.rs.ifname, ".") || !strcmp(e.rs.ifname, ".."))
				e.rs.ifname[0] = 'e';
		}
		if (e.kind == FWD_EDIT_ALLOW && e.dir == FWD_DIR_IN && rn(4) == 0) {
			e.rs.limit_n = 1 + rn(FWD_LIMIT_N_MAX);
			e.rs.limit_w = 1 + rn(FWD_LIMIT_W_MAX);
		}
		break;
	case FWD_EDIT_BLOCK:
		e.addr = rnd_addr();
		break;
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		rnd_name(e.list);
		e.addr = rnd_addr();
		break;
	}
	if (rn(3) == 0)
		e.expires = rn(2) ? NOW + 1 + rn(1000000) : 1 + rnd() % FWD_EDIT_EPOCH_MAX;
	return e;
}

/* ---- a batch on stdin (fwctl list add NAME -) ---- */

static const struct {
	const char *in;
	size_t len;		/* 0: strlen(in) */
	const char *want;	/* the edits' words, one line each, or the error */
	bool ok;
} batches[] = {
	/* The report: the commented-out address was added and let in. */
	{ "198.51.100.7\n# 198.51.100.2\n", 0,
	  "list-add office 198.51.100.7\n", true },
	{ "192.0.2.1 # 192.0.2.2 192.0.2.3\n192.0.2.4;192.0.2.5\n  ; 192.0.2.6\n"
	  "\n\n192.0.2.7, 192.0.2.8 192.0.2.9\r\n#\n;\n192.0.2.10", 0,
	  "list-add office 192.0.2.1\nlist-add office 192.0.2.4\n"
	  "list-add office 192.0.2.7\nlist-add office 192.0.2.8\n"
	  "list-add office 192.0.2.9\nlist-add office 192.0.2.10\n", true },
	/* A '#' inside a word cuts there too, as in list files. */
	{ "192.0.2.1#192.0.2.2\n", 0, "list-add office 192.0.2.1\n", true },
	/* Errors name their line of stdin... */
	{ "192.0.2.1\n\n# c\n192.0.2.300\n192.0.2.5\n", 0,
	  "stdin:4: '192.0.2.300' is not an address: not an IPv4 or IPv6 address",
	  false },
	{ "192.0.2.1\n192.0.2.0/33 # x\n", 0, "stdin:2: '192.0.2.0/33' is not an "
	  "address: prefix length 33 is out of range for IPv4 (0-32)", false },
	{ "192.0.2.1 any\n", 0, "stdin:1: list members are addresses and CIDRs, "
	  "not 'any'", false },
	/* ...and the control bytes in them are escaped. */
	{ "\x1b[2J\n", 0, "stdin:1: '\\x1b[2J' is not an address: not an IPv4 or "
	  "IPv6 address", false },
	/* A NUL byte is an error, not the end of the batch. */
#define NUL_BATCH "192.0.2.1\n192.0.2.2\0" "192.0.2.3\n192.0.2.4\n"
	{ NUL_BATCH, sizeof(NUL_BATCH) - 1,
	  "stdin:2: NUL byte in line (is this a text file?)", false },
	{ "\0", 1, "stdin:1: NUL byte in line (is this a text file?)", false },
	{ "# 192.0.2.1\n# \0\n", sizeof("# 192.0.2.1\n# \0\n") - 1, "stdin:2: NUL byte in line (is this a text "
	  "file?)", false },
	/* Nothing but comments: no address at all. */
	{ "# 192.0.2.1\n\n", 0, "'list-add' needs at least one ADDR after the list "
	  "name", false },
	{ "", 0, "'list-add' needs at least one ADDR after the list name", false },
};

START_TEST(test_batch)
{
	const char *argv[] = { "list-add", "office", "-" };
	size_t len = batches[_i].len ? batches[_i].len : strlen(batches[_i].in);
	struct fwd_edit *e = NULL;
	char err[600], *got = fwd_xstrdup("");
	size_t n = 0;
	int ret;

	ret = fwd_edit_parse_batch(3, argv, batches[_i].in, len, NOW, &opts, &e, &n,
				   err, sizeof(err));
	if (ret == 0) {
		for (size_t i = 0; i < n; i++) {
			char w[FWD_EDIT_STRLEN], *t;

			fwd_edit_format(&e[i], w, sizeof(w));
			t = fwd_xasprintf("%s%s\n", got, w);
			free(got);
			got = t;
		}
	}
	ck_assert_msg(batches[_i].ok ? ret == 0 : ret == -EINVAL, "batch %d: ret %d (%s)",
		      _i, ret, ret ? err : got);
	ck_assert_msg(!strcmp(batches[_i].ok ? got : err, batches[_i].want),
		      "batch %d:\n want '%s'\n  got '%s'", _i, batches[_i].want,
		      batches[_i].ok ? got : err);
	if (!batches[_i].ok)
		ck_assert(n == 0 && e == NULL);
	free(got);
	free(e);
}
END_TEST

/* Where "-" is, and when there is no stdin. */
START_TEST(test_batch_words)
{
	static const char in[] = "192.0.2.5\n192.0.2.300\n";
	struct fwd_edit *e = NULL;
	char err[600];
	size_t n = 0;

	/* Words before and after "-" keep their place; an error in a word of
	 * the command line names no line. */
	ck_assert_int_eq(fwd_edit_parse_batch(5, (const char *[]){ "allow", "22/tcp",
		"from", "-", "192.0.2.9" }, "192.0.2.7\n", 10, NOW, &opts, &e, &n, err,
		sizeof(err)), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(e[0].addr.a[3], 7);
	ck_assert_int_eq(e[1].addr.a[3], 9);
	free(e);
	e = NULL;
	n = 0;
	ck_assert_int_eq(fwd_edit_parse_batch(4, (const char *[]){ "list-add", "office",
		"192.0.2.300", "-" }, "192.0.2.1\n", 10, NOW, &opts, &e, &n, err,
		sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'192.0.2.300' is not an address: not an IPv4 or IPv6 address");
	ck_assert_int_eq(fwd_edit_parse_batch(3, (const char *[]){ "list-add", "office",
		"-" }, in, sizeof(in) - 1, NOW, &opts, &e, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "stdin:2: '192.0.2.300' is not an address: not an IPv4 or "
			 "IPv6 address");
	/* No stdin: "-" is a word like any other. */
	ck_assert_int_eq(fwd_edit_parse_batch(3, (const char *[]){ "list-add", "office",
		"-" }, NULL, 0, NOW, &opts, &e, &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'-' is not an address: not an IPv4 or IPv6 address");
	/* Only the first "-" is stdin. */
	ck_assert_int_eq(fwd_edit_parse_batch(4, (const char *[]){ "list-add", "office",
		"-", "-" }, "192.0.2.1\n", 10, NOW, &opts, &e, &n, err, sizeof(err)),
		-EINVAL);
	ck_assert_str_eq(err, "'-' is not an address: not an IPv4 or IPv6 address");
	ck_assert_ptr_null(e);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Random batches: addresses spread over lines with blanks, commas, CR LF
 * and comments that hold other addresses; what is parsed is exactly the
 * uncommented addresses, in order. */
START_TEST(test_batch_random)
{
	const char *seed_env = getenv("FWD_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);
	const char *argv[] = { "list-add", "office", "-" };

	rng_state = seed;
	for (int round = 0; round < 300; round++) {
		size_t cap = 1 << 16, len = 0, nwant = 0, n = 0;
		char *text = fwd_xmalloc(cap), err[600];
		unsigned want[400];
		struct fwd_edit *e = NULL;
		unsigned lines = 1 + rn(60);

		for (unsigned l = 0; l < lines; l++) {
			unsigned words = rn(4);

			if (rn(5) == 0)
				len += (size_t)sprintf(text + len, "%*s", (int)rn(3), "");
			for (unsigned w = 0; w < words && nwant < 400; w++) {
				unsigned v = rn(65536);

				want[nwant++] = v;
				len += (size_t)sprintf(text + len, "%s198.18.%u.%u",
						       w ? (rn(2) ? ", " : " ") : "",
						       v >> 8, v & 255);
			}
			if (rn(3) == 0)	/* a comment with addresses in it */
				len += (size_t)sprintf(text + len, "%s%c 203.0.113.%u, 203.0.113.%u",
						       rn(2) ? " " : "", rn(2) ? '#' : ';',
						       rn(256), rn(256));
			len += (size_t)sprintf(text + len, "%s", rn(4) ? "\n" : "\r\n");
		}
		if (fwd_edit_parse_batch(3, argv, text, len, NOW, &opts, &e, &n, err,
					 sizeof(err)) != 0) {
			ck_assert_msg(nwant == 0, "seed %llu round %d: %s\n%s",
				      (unsigned long long)seed, round, err, text);
			ck_assert_str_eq(err, "'list-add' needs at least one ADDR after "
					 "the list name");
		}
		ck_assert_msg(n == nwant, "seed %llu round %d: %zu edits, want %zu\n%.*s",
			      (unsigned long long)seed, round, n, nwant, (int)len, text);
		for (size_t i = 0; i < n; i++)
			ck_assert_msg(e[i].addr.a[0] == 198 && e[i].addr.a[1] == 18 &&
				      e[i].addr.a[2] == want[i] >> 8 &&
				      e[i].addr.a[3] == (want[i] & 255),
				      "seed %llu round %d: edit %zu", (unsigned long long)seed,
				      round, i);
		free(e);
		free(text);
	}
}
END_TEST

START_TEST(test_round_trip)
{
	const char *seed_env = getenv("FWD_SEED");
	uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : (uint64_t)time(NULL);

	rng_state = seed;
	for (int round = 0; round < 200; round++) {
		struct fwd_load_opts o = { .services_path = "services", .confd_path = "" };
		struct fwd_policy *p = fwd_policy_new(), *q = NULL;
		size_t want = 0, n = 1 + rn(round < 190 ? 40 : 3000);
		struct fwd_edit *kept;
		struct fwd_diags d;
		char err[256], *text;
		uint64_t now = NOW;

		for (size_t i = 0; i < n; i++) {
			struct fwd_edit e = rnd_edit();

			/* A LIST peer needs its list (fwd_policy_add_edit). */
			if ((e.kind == FWD_EDIT_ALLOW || e.kind == FWD_EDIT_DENY) &&
			    e.peer == FWD_PEER_LIST && rn(2)) {
				struct fwd_edit c = rnd_edit();

				c.kind = FWD_EDIT_LIST_ADD;
				memcpy(c.list, e.list, sizeof(c.list));
				c.addr = rnd_addr();
				c.runtime = rn(8) == 0;
				ck_assert_int_eq(fwd_policy_add_edit(p, &c, err, sizeof(err)), 0);
			}
			e.runtime = rn(8) == 0;
			if (fwd_policy_add_edit(p, &e, err, sizeof(err)) != 0) {
				ck_assert_msg(e.peer == FWD_PEER_LIST, "seed %llu: %s",
					      (unsigned long long)seed, err);
				ck_assert_ptr_nonnull(strstr(err, "unknown list"));
			}
		}
		kept = fwd_xcalloc(p->nedits + 1, sizeof(*kept));
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];

			if (!e->runtime && (!e->expires || e->expires > now))
				kept[want++] = *e;
		}
		text = fwd_edits_render_file(p, now);
		for (const char *l = text, *nl; *l; l = nl + 1) {
			nl = strchr(l, '\n');
			ck_assert_ptr_nonnull(nl);
			ck_assert_msg(nl - l < 199, "line of %td bytes", nl - l);
		}
		fwd_diags_init(&d);
		if (fwd_policy_load_buffer(FWD_EDITS_FILE, text, strlen(text), &o,
					   &q, &d) != 0) {
			fwd_diags_print(&d, stderr);
			ck_abort_msg("seed %llu round %d: the rendered file does not "
				     "load:\n%s", (unsigned long long)seed, round, text);
		}
		ck_assert_uint_eq(q->nedits, want);
		for (size_t i = 0; i < want; i++) {
			const struct fwd_edit *a = &kept[i], *b = &q->edits[i];
			char wa[FWD_EDIT_STRLEN], wb[FWD_EDIT_STRLEN];

			fwd_edit_format(a, wa, sizeof(wa));
			fwd_edit_format(b, wb, sizeof(wb));
			ck_assert_msg(fwd_edit_same(a, b) && a->expires == b->expires,
				      "seed %llu round %d edit %zu: '%s' came back as "
				      "'%s'", (unsigned long long)seed, round, i, wa, wb);
			ck_assert_str_eq(wa, wb);
			ck_assert_uint_eq(b->loc.line, i + 4);
			ck_assert(!b->runtime);
		}
		/* Render -> load -> render is a fixed point. */
		{
			char *again = fwd_edits_render_file(q, now);

			ck_assert_str_eq(again, text);
			free(again);
		}
		fwd_diags_free(&d);
		fwd_policy_free(q);
		fwd_policy_free(p);
		free(text);
		free(kept);
	}
}
END_TEST

/* ---- scale ---- */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * `fwctl list add NAME -` with 100k addresses: one call, linear time.
 * Judged against the least any parser must do with the same words,
 * measured in the same run: inet_pton each into a fresh array of edits
 * (on these VMs first-touch page faults of the 12 MB result are most of
 * the cost, so leaving them out of the baseline would measure the VM).
 * The 1k run shows the growth is linear (100x the words, ~100x the time).
 */
static double batch(size_t n, const char **argv, double *base)
{
	struct fwd_edit *e = NULL;
	char err[256];
	size_t k = 0;
	struct fwd_edit *b;
	char w[64];
	double t, tb;
	size_t ok = 0;

	tb = mono();
	b = malloc(n * sizeof(*b));
	for (size_t i = 2; i < n + 2; i++) {
		size_t l = strcspn(argv[i], "/");

		memcpy(w, argv[i], l);
		w[l] = '\0';
		memset(&b[i - 2], 0, sizeof(*b));
		ok += inet_pton(strchr(w, ':') ? AF_INET6 : AF_INET, w,
				b[i - 2].addr.a) == 1;
	}
	*base = mono() - tb;
	free(b);
	ck_assert_uint_eq(ok, n);
	t = mono();
	ck_assert_int_eq(fwd_edit_parse((int)n + 2, argv, NOW, &opts, &e, &k, err,
					sizeof(err)), 0);
	t = mono() - t;
	ck_assert_uint_eq(k, n);
	ck_assert_str_eq(e[n - 1].list, "big");
	free(e);
	return t;
}

START_TEST(test_100k_words)
{
	size_t n = 100000;
	const char **argv = fwd_xcalloc(n + 2, sizeof(*argv));
	char *store = fwd_xmalloc(n * 48), *s = store;
	double t, tb, t1, tb1;

	argv[0] = "list-add";
	argv[1] = "big";
	for (size_t i = 0; i < n; i++) {
		argv[i + 2] = s;
		if (i % 4 == 3)
			s += sprintf(s, "2001:db8:%zx:%zx::/64", i >> 16, i & 0xffff) + 1;
		else
			s += sprintf(s, "10.%zu.%zu.%zu", (i >> 16) & 0xff,
				     (i >> 8) & 0xff, i & 0xff) + 1;
	}
	t1 = batch(1000, argv, &tb1);
	t = batch(n, argv, &tb);
	fprintf(stderr, "edit: %zu words parsed in %.4f s (inet_pton+store baseline "
		"%.4f s, ratio %.2f); 1000 words in %.5f s (x%.0f for 100x the "
		"words)\n", n, t, tb, t / tb, t1, t / t1);
	free(store);
	free(argv);
}
END_TEST

/*
 * The owned file after that batch: 100k list-add lines written and read
 * back (what a restart costs). Judged against the same addresses in a
 * list file, the loader's fastest path, in the same run.
 */
START_TEST(test_100k_lines)
{
	struct fwd_load_opts o = { .services_path = "services", .confd_path = "" };
	struct fwd_policy *p = fwd_policy_new(), *q = NULL;
	size_t n = 100000, len;
	char *text, *list, *ltext;
	double tr, tl, tb;
	FILE *f;

	for (size_t i = 0; i < n; i++) {
		struct fwd_edit e;
		char err[128];

		memset(&e, 0, sizeof(e));
		e.kind = FWD_EDIT_LIST_ADD;
		strcpy(e.list, "big");
		e.addr.family = AF_INET;
		e.addr.prefix = 32;
		e.addr.a[0] = 10;
		e.addr.a[1] = (uint8_t)(i >> 16);
		e.addr.a[2] = (uint8_t)(i >> 8);
		e.addr.a[3] = (uint8_t)i;
		e.expires = i % 2 ? 2000000000 : 0;
		ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	}
	tr = mono();
	text = fwd_edits_render_file(p, NOW);
	tr = mono() - tr;
	len = strlen(text);

	{
		char buf[256];

		int fd;

		list = fwd_xasprintf("%s", tu_tmp(buf, sizeof(buf), "fwd-check-edit-XXXXXX"));
		fd = mkstemp(list);
		ck_assert_int_ge(fd, 0);
		close(fd);
	}
	f = fopen(list, "w");
	for (size_t i = 0; i < n; i++)
		fprintf(f, "10.%zu.%zu.%zu\n", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff);
	fclose(f);
	ltext = fwd_xasprintf("[list big]\nfile = %s\n", list);
	tb = mono();
	ck_assert_int_eq(fwd_policy_load_buffer("l.conf", ltext, strlen(ltext), NULL,
						&q, NULL), 0);
	tb = mono() - tb;
	ck_assert_uint_eq(q->lists[0].n, n);
	fwd_policy_free(q);

	tl = mono();
	ck_assert_int_eq(fwd_policy_load_buffer(FWD_EDITS_FILE, text, len, &o, &q,
						NULL), 0);
	tl = mono() - tl;
	ck_assert_uint_eq(q->nedits, n);
	ck_assert(fwd_edit_same(&q->edits[n - 1], &p->edits[n - 1]));
	fprintf(stderr, "edit: %zu-line edits file (%zu bytes) rendered in %.3f s, "
		"loaded in %.3f s (the same addresses as a list file: %.3f s, "
		"ratio %.1f)\n", n, len, tr, tl, tb, tl / tb);
	unlink(list);
	free(list);
	free(ltext);
	free(text);
	fwd_policy_free(q);
	fwd_policy_free(p);
}
END_TEST

/* ---- friendlier input: did you mean, PORTS for explain, broad edits ---- */

START_TEST(test_suggest)
{
	struct fwd_suggest sg;

	ck_assert_uint_eq(fwd_edit_distance("ofice", 5, "office", 6), 1);
	ck_assert_uint_eq(fwd_edit_distance("htps", 4, "https", 5), 1);
	/* a swap of neighbours is one mistake, case is no mistake */
	ck_assert_uint_eq(fwd_edit_distance("offcie", 6, "office", 6), 1);
	ck_assert_uint_eq(fwd_edit_distance("OFFICE", 6, "office", 6), 0);
	ck_assert_uint_eq(fwd_edit_distance("", 0, "abc", 3), 3);

	fwd_suggest_init(&sg, "ofice", 5);
	fwd_suggest_offer(&sg, "lab");
	fwd_suggest_offer(&sg, "offices");	/* 2 edits */
	fwd_suggest_offer(&sg, "office");	/* 1 edit: the closer wins */
	fwd_suggest_offer(&sg, "offic");	/* also 1: the first stays */
	ck_assert_str_eq(sg.best, "office");

	/* too far for the word's length: nothing */
	fwd_suggest_init(&sg, "ssh", 3);
	fwd_suggest_offer(&sg, "office");
	fwd_suggest_offer(&sg, "http");
	ck_assert_ptr_null(sg.best);
	/* a one-letter word is not "meant" as another one-letter word */
	fwd_suggest_init(&sg, "a", 1);
	fwd_suggest_offer(&sg, "b");
	ck_assert_ptr_null(sg.best);
}
END_TEST

START_TEST(test_suggest_lists)
{
	struct fwd_policy *p = policy_text("[list office]\nmembers = 192.0.2.0/24\n");
	const char *argv[] = { "allow", "22/tcp", "from", "office" };
	const char *argv2[] = { "allow", "22/tcp", "from", "198.51.100.300" };
	struct fwd_edit e, *out = NULL;
	size_t n = 0;
	char err[256];

	e = one("allow 22/tcp from @ofice");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown list '@ofice' (no [list ofice] in the policy "
			 "and no list add for it; did you mean '@office'?)");
	/* a list made by list-add is a candidate too */
	e = one("list-add lab 2001:db8::1");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	ck_assert_str_eq(fwd_policy_suggest_list(p, "lba", 3), "lab");
	ck_assert_ptr_null(fwd_policy_suggest_list(p, "webservers", 10));

	/* a list without its '@', told only when the policy is given */
	ck_assert_int_eq(fwd_edit_parse_batch_hints(4, argv, NULL, 0, 1, &opts, p, &out,
						    &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'office' is not an address (did you mean '@office'?)");
	ck_assert_int_eq(fwd_edit_parse_batch(4, argv, NULL, 0, 1, &opts, &out, &n,
					      err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(strstr(err, "did you mean"));
	/* an address that is wrong stays an address error */
	ck_assert_int_eq(fwd_edit_parse_batch_hints(4, argv2, NULL, 0, 1, &opts, p, &out,
						    &n, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(strstr(err, "did you mean"));
	ck_assert_uint_eq(n, 0);
	fwd_policy_free(p);
}
END_TEST

static void expect_ports(const char *word, const char *want)
{
	struct fwd_ports *pr = NULL;
	size_t n = 0;
	char err[256], got[256] = "";

	ck_assert_msg(fwd_edit_parse_ports(word, &opts, &pr, &n, err, sizeof(err)) == 0,
		      "%s: %s", word, err);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%u-%u/%s",
			 i ? " " : "", pr[i].lo, pr[i].hi, fwd_proto_name(pr[i].proto));
	ck_assert_msg(strcmp(got, want) == 0, "%s: want '%s', got '%s'", word, want, got);
	free(pr);
}

START_TEST(test_parse_ports)
{
	struct fwd_ports *pr = NULL;
	size_t n = 0;
	char err[256];

	expect_ports("22/tcp", "22-22/tcp");
	expect_ports("53", "53-53/tcp 53-53/udp");
	expect_ports("https", "443-443/tcp 443-443/udp");
	expect_ports("ssh", "22-22/tcp");
	expect_ports("60000-61000/udp,443/tcp", "60000-61000/udp 443-443/tcp");
	ck_assert_int_eq(fwd_edit_parse_ports("22/sctp", &opts, &pr, &n, err,
					      sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown protocol 'sctp' in '22/sctp'; valid protocols "
			 "are tcp, udp");
	ck_assert_int_eq(fwd_edit_parse_ports("htps", &opts, &pr, &n, err,
					      sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "unknown service name 'htps' (not in services; did you "
			 "mean 'https'?)");
	/* PORTS only: a peer or a time in the word is not PORTS */
	ck_assert_int_eq(fwd_edit_parse_ports("22/tcp from 192.0.2.1", &opts, &pr, &n,
					      err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "'22/tcp from 192.0.2.1' is not PORTS (like 22/tcp, 53, "
			 "https or 60000-61000/udp)");
	ck_assert_int_eq(fwd_edit_parse_ports("22/tcp for 1h", &opts, &pr, &n, err,
					      sizeof(err)), -EINVAL);
	ck_assert_ptr_null(pr);
	ck_assert_uint_eq(n, 0);
}
END_TEST

/* Is adding `words` to p broad? (p gets the edits, as the daemon's mutate
 * would; they stay.) */
static bool broad_after_add(struct fwd_policy *p, const char *words, char *why,
			    size_t len)
{
	struct fwd_edit *snap = NULL, *e = NULL;
	size_t nsnap = p->nedits, n = 0;
	char err[256];
	bool b;

	snap = malloc((nsnap + 1) * sizeof(*snap));
	if (nsnap)
		memcpy(snap, p->edits, nsnap * sizeof(*snap));
	ck_assert_msg(parse_line(words, &e, &n, err, sizeof(err)) == 0, "%s", err);
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fwd_policy_add_edit(p, &e[i], err, sizeof(err)) == 0, "%s", err);
	b = fwd_edits_broad(p, snap, nsnap, 1, why, len);
	free(snap);
	free(e);
	return b;
}

START_TEST(test_broad)
{
	struct fwd_policy *p = policy_text("[defaults]\ninbound = deny\n");
	struct fwd_policy *q = policy_text("[service ssh]\nports = 22/tcp\n"
					   "allow = 192.0.2.0/24\n");
	struct fwd_edit *snap;
	size_t nsnap;
	char why[512];

	ck_assert(!broad_after_add(p, "block 192.0.2.0/24", why, sizeof(why)));
	ck_assert(broad_after_add(p, "block 0.0.0.0/0", why, sizeof(why)));
	ck_assert_str_eq(why, "the blocks would then cover every IPv4 address: all "
			 "IPv4 traffic to and from this host would be dropped, "
			 "established connections included");
	fwd_policy_del_edit(p, p->nedits - 1);
	/* two halves together are the whole */
	ck_assert(!broad_after_add(p, "block 0.0.0.0/1", why, sizeof(why)));
	ck_assert(broad_after_add(p, "block 128.0.0.0/1", why, sizeof(why)));
	ck_assert(broad_after_add(p, "block ::/0", why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "every IPv6 address"));
	/* already covered before: nothing newly broad */
	ck_assert(!broad_after_add(p, "block 2001:db8::/32", why, sizeof(why)));

	ck_assert(!broad_after_add(p, "deny 22/tcp from 198.51.100.0/24", why, sizeof(why)));
	ck_assert(broad_after_add(p, "deny 22/tcp from any", why, sizeof(why)));
	ck_assert_str_eq(why, "'deny 22/tcp from any' refuses that port to every "
			 "source, wherever the policy allows it");
	/* the same deny again (from any is the default) is not new */
	ck_assert(!broad_after_add(p, "deny 22/tcp", why, sizeof(why)));
	ck_assert(broad_after_add(p, "deny 25/tcp to ::/0", why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "every destination"));

	/* the last inbound allow removed: broad; with a [service] left: not */
	ck_assert(!broad_after_add(p, "allow 8080/tcp from 203.0.113.7", why, sizeof(why)));
	nsnap = p->nedits;
	snap = malloc(nsnap * sizeof(*snap));
	memcpy(snap, p->edits, nsnap * sizeof(*snap));
	fwd_policy_del_edit(p, p->nedits - 1);
	ck_assert(fwd_edits_broad(p, snap, nsnap, 1, why, sizeof(why)));
	ck_assert_str_eq(why, "this removes the last inbound allow: no new inbound "
			 "connection would be accepted, SSH included");
	free(snap);

	ck_assert(!broad_after_add(q, "allow 8080/tcp from 203.0.113.7", why, sizeof(why)));
	nsnap = q->nedits;
	snap = malloc(nsnap * sizeof(*snap));
	memcpy(snap, q->edits, nsnap * sizeof(*snap));
	fwd_policy_del_edit(q, q->nedits - 1);
	ck_assert(!fwd_edits_broad(q, snap, nsnap, 1, why, sizeof(why)));
	free(snap);
	fwd_policy_free(p);
	fwd_policy_free(q);
}
END_TEST

/* What `fwctl list show` prints: the compiler's own fold of list edits. */
START_TEST(test_lists_view)
{
	struct fwd_policy *p = policy_text("[list app]\nmembers = 192.0.2.10, 192.0.2.11\n"
					   "[list empty]\nmembers = 192.0.2.99\n");
	struct fwd_list_view *v = NULL;
	struct fwd_edit e;
	char err[256], a[64];
	size_t n;

	e = one("list-add app 198.51.100.7");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-add app 198.51.100.8 until 2000");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-add app 198.51.100.9 until 500");	/* expired at 1000 */
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-del app 192.0.2.11");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-del empty 192.0.2.99 until 3000");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);
	e = one("list-add lab 2001:db8::1");
	ck_assert_int_eq(fwd_policy_add_edit(p, &e, err, sizeof(err)), 0);

	n = fwd_lists_view(p, 1000, &v);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(v[0].name, "app");
	ck_assert_uint_eq(v[0].n, 3);		/* .10, .7, .8 */
	fwd_addr_format(&v[0].m[0].addr, a, sizeof(a));
	ck_assert_str_eq(a, "192.0.2.10");
	ck_assert_str_eq(v[0].m[0].loc.file, "p.conf");
	ck_assert_uint_eq(v[0].m[0].loc.line, 2);
	ck_assert_uint_eq(v[0].m[0].expires, 0);
	for (size_t i = 1; i < v[0].n; i++) {
		fwd_addr_format(&v[0].m[i].addr, a, sizeof(a));
		ck_assert_msg(strcmp(a, "198.51.100.7") == 0 || strcmp(a, "198.51.100.8") == 0,
			      "member %s", a);
		ck_assert_uint_eq(v[0].m[i].expires, strcmp(a, "198.51.100.8") ? 0 : 2000);
		ck_assert_ptr_null(v[0].m[i].loc.file);	/* a live edit */
	}
	ck_assert_uint_eq(v[0].nremoved, 1);
	fwd_addr_format(&v[0].removed[0].addr, a, sizeof(a));
	ck_assert_str_eq(a, "192.0.2.11");
	ck_assert_str_eq(v[1].name, "empty");
	ck_assert_uint_eq(v[1].n, 0);
	ck_assert_uint_eq(v[1].nremoved, 1);
	ck_assert_uint_eq(v[1].removed[0].expires, 3000);
	ck_assert_str_eq(v[2].name, "lab");
	ck_assert_uint_eq(v[2].n, 1);
	fwd_lists_view_free(v, n);

	/* after the timed list del ends, the member is back */
	n = fwd_lists_view(p, 3000, &v);
	ck_assert_uint_eq(v[1].n, 1);
	ck_assert_uint_eq(v[1].nremoved, 0);
	ck_assert_uint_eq(v[0].n, 2);		/* .8 expired at 2000 */
	fwd_lists_view_free(v, n);
	fwd_lists_view_free(NULL, 0);
	fwd_policy_free(p);
}
END_TEST

static Suite *edit_suite(void)
{
	Suite *s = suite_create("edit");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_loop_test(tc, test_parse_good, 0, sizeof(goods) / sizeof(goods[0]));
	tcase_add_test(tc, test_parse_fields);
	tcase_add_test(tc, test_parse_argv);
	tcase_add_loop_test(tc, test_parse_bad, 0, sizeof(bads) / sizeof(bads[0]));
	tcase_add_loop_test(tc, test_parse_err_word, 0,
			    sizeof(err_words) / sizeof(err_words[0]));
	tcase_add_loop_test(tc, test_batch, 0, sizeof(batches) / sizeof(batches[0]));
	tcase_add_test(tc, test_batch_words);
	tcase_add_test(tc, test_batch_random);
	tcase_add_test(tc, test_parse_err_buffer);
	tcase_add_test(tc, test_parse_cap);
	suite_add_tcase(s, tc);

	tc = tcase_create("model");
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_same);
	tcase_add_test(tc, test_same_restrict);
	tcase_add_test(tc, test_add_del);
	tcase_add_test(tc, test_render_file);
	tcase_add_test(tc, test_section);
	tcase_add_test(tc, test_section_includes);
	tcase_add_test(tc, test_round_trip);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_suggest);
	tcase_add_test(tc, test_suggest_lists);
	tcase_add_test(tc, test_parse_ports);
	tcase_add_test(tc, test_broad);
	tcase_add_test(tc, test_lists_view);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_100k_words);
	tcase_add_test(tc, test_100k_lines);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	char *dir = tu_src("tests/fixtures/policy");

	if (chdir(dir) != 0) {
		fprintf(stderr, "%s: %s (set FWD_SRCDIR)\n", dir, strerror(errno));
		return 1;
	}
	free(dir);
	return tu_run(edit_suite());
}
