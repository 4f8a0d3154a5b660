// SPDX-License-Identifier: GPL-2.0-or-later
/* Addresses: parse (with the exact reasons users read), format, range. */
#include "testutil.h"

#include "addr.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

struct good_case {
	const char *in, *out;	/* out: fwd_addr_format of the result */
	int family;
	unsigned prefix;
};

static const struct good_case good[] = {
	{ "192.0.2.7", "192.0.2.7", AF_INET, 32 },
	{ "192.0.2.7/32", "192.0.2.7", AF_INET, 32 },
	{ "198.51.100.0/24", "198.51.100.0/24", AF_INET, 24 },
	{ "10.0.0.0/8", "10.0.0.0/8", AF_INET, 8 },
	{ "0.0.0.0/0", "0.0.0.0/0", AF_INET, 0 },
	{ "255.255.255.255", "255.255.255.255", AF_INET, 32 },
	{ "192.0.2.128/25", "192.0.2.128/25", AF_INET, 25 },
	{ "10.0.0.0/008", "10.0.0.0/8", AF_INET, 8 },
	{ "2001:db8::1", "2001:db8::1", AF_INET6, 128 },
	{ "2001:DB8::1", "2001:db8::1", AF_INET6, 128 },
	{ "2001:db8::/32", "2001:db8::/32", AF_INET6, 32 },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001/128", "2001:db8::1", AF_INET6, 128 },
	{ "::/0", "::/0", AF_INET6, 0 },
	{ "::", "::", AF_INET6, 128 },
	{ "::1", "::1", AF_INET6, 128 },
	{ "fe80::/10", "fe80::/10", AF_INET6, 10 },
	{ "2001:db8:8000::/33", "2001:db8:8000::/33", AF_INET6, 33 },
	/* Around the IPv4-mapped space (refused, below): fine. */
	{ "::/80", "::/80", AF_INET6, 80 },
	{ "::fffe:192.0.2.1", "::fffe:c000:201", AF_INET6, 128 },
	{ "::1:ffff:192.0.2.1", "::1:ffff:c000:201", AF_INET6, 128 },
};

START_TEST(test_parse_good)
{
	const struct good_case *c = &good[_i];
	char why[128] = "", buf[FWD_ADDR_STRLEN];
	struct fwd_addr a;

	ck_assert_msg(fwd_addr_parse(c->in, &a, why, sizeof(why)) == 0,
		      "%s: %s", c->in, why);
	ck_assert_int_eq(a.family, c->family);
	ck_assert_uint_eq(a.prefix, c->prefix);
	fwd_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, c->out);
	/* What format prints parses back to the same value. */
	{
		struct fwd_addr b;

		ck_assert_int_eq(fwd_addr_parse(buf, &b, NULL, 0), 0);
		ck_assert_mem_eq(&a, &b, sizeof(a));
	}
}
END_TEST

struct bad_case {
	const char *in, *why;
};

static const struct bad_case bad[] = {
	{ "", "empty address" },
	{ "192.0.2.0/33", "prefix length 33 is out of range for IPv4 (0-32)" },
	{ "2001:db8::/129", "prefix length 129 is out of range for IPv6 (0-128)" },
	{ "10.0.0.0/1000", "prefix length 1000 is out of range for IPv4 (0-32)" },
	{ "192.0.2.1/24", "host bits set in 192.0.2.1/24 (did you mean 192.0.2.0/24?)" },
	{ "192.0.2.129/25", "host bits set in 192.0.2.129/25 (did you mean 192.0.2.128/25?)" },
	{ "0.0.0.1/0", "host bits set in 0.0.0.1/0 (did you mean 0.0.0.0/0?)" },
	{ "2001:db8::1/64", "host bits set in 2001:db8::1/64 (did you mean 2001:db8::/64?)" },
	{ "2001:db8:8000::/32", "host bits set in 2001:db8:8000::/32 (did you mean 2001:db8::/32?)" },
	{ "10.0.0.0/", "missing prefix length after '/'" },
	{ "10.0.0.0/x8", "the prefix length after '/' is not a number" },
	{ "10.0.0.0/-1", "the prefix length after '/' is not a number" },
	{ "10.0.0.0/8/8", "the prefix length after '/' is not a number" },
	{ "10.0.0.0/ 8", "the prefix length after '/' is not a number" },
	{ "host.example.com", "not an IPv4 or IPv6 address (host names are not resolved)" },
	{ "localhost", "not an IPv4 or IPv6 address (host names are not resolved)" },
	{ "10/8", "not an IPv4 or IPv6 address" },
	{ "300.1.1.1", "not an IPv4 or IPv6 address" },
	{ "1.2.3", "not an IPv4 or IPv6 address" },
	{ "1.2.3.4.5", "not an IPv4 or IPv6 address" },
	{ " 1.2.3.4", "not an IPv4 or IPv6 address" },
	{ "@list", "not an IPv4 or IPv6 address" },
	/* Found by fuzz-listfile: the reason never echoes raw bytes. */
	{ "18::1/3ov6\x1d", "the prefix length after '/' is not a number" },
	{ "fe80::1%eth0", "not an IPv4 or IPv6 address" },
	{ "::ffff:192.0.2.1", "IPv4-mapped IPv6 address never matches (IPv4 traffic is "
	  "matched as IPv4): write 192.0.2.1" },
	{ "::ffff:c000:200/120", "IPv4-mapped IPv6 address never matches (IPv4 traffic is "
	  "matched as IPv4): write 192.0.2.0/24" },
	{ "::ffff:0:0/96", "IPv4-mapped IPv6 address never matches (IPv4 traffic is "
	  "matched as IPv4): write 0.0.0.0/0" },
	{ "2001:db8:::1", "not an IPv4 or IPv6 address" },
	{ "[2001:db8::1]", "not an IPv4 or IPv6 address" },
	{ "/24", "not an IPv4 or IPv6 address" },
	{ "any", "not an IPv4 or IPv6 address (host names are not resolved)" },
	{ "1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb/64", "not an IPv4 or IPv6 address" },
};

START_TEST(test_parse_bad)
{
	const struct bad_case *c = &bad[_i];
	struct fwd_addr a = { .family = 99 }, before = a;
	char why[128] = "";

	ck_assert_int_eq(fwd_addr_parse(c->in, &a, why, sizeof(why)), -EINVAL);
	ck_assert_str_eq(why, c->why);
	/* The output is untouched on failure. */
	ck_assert_mem_eq(&a, &before, sizeof(a));
	/* No reason wanted, or a short buffer: still just -EINVAL. */
	ck_assert_int_eq(fwd_addr_parse(c->in, &a, NULL, 0), -EINVAL);
	ck_assert_int_eq(fwd_addr_parse(c->in, &a, why, 4), -EINVAL);
	ck_assert_uint_le(strlen(why), 3);
}
END_TEST

START_TEST(test_parsen)
{
	const char s[] = "192.0.2.7, 2001:db8::/48 junk";
	struct fwd_addr a;
	char buf[FWD_ADDR_STRLEN];

	ck_assert_int_eq(fwd_addr_parsen(s, 9, &a, NULL, 0), 0);
	fwd_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "192.0.2.7");
	ck_assert_int_eq(fwd_addr_parsen(s + 11, 13, &a, NULL, 0), 0);
	fwd_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2001:db8::/48");
	/* An embedded NUL is not the end of the word. */
	ck_assert_int_eq(fwd_addr_parsen("1.2.3.4\0x", 9, &a, NULL, 0), -EINVAL);
	ck_assert_int_eq(fwd_addr_parsen("1.2.3.4", 0, &a, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(test_format_small_buffer)
{
	struct fwd_addr a;
	char buf[8];

	ck_assert_int_eq(fwd_addr_parse("2001:db8::/32", &a, NULL, 0), 0);
	fwd_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "2001:db");
	fwd_addr_format(&a, buf, 0);	/* no write at all */
	a.family = 7;
	fwd_addr_format(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "?");
}
END_TEST

static void ck_range(const char *in, const char *lo_s, const char *hi_s)
{
	struct fwd_addr a, lo_a, hi_a;
	uint8_t lo[16], hi[16], zero[16] = { 0 };
	size_t len;

	ck_assert_int_eq(fwd_addr_parse(in, &a, NULL, 0), 0);
	ck_assert_int_eq(fwd_addr_parse(lo_s, &lo_a, NULL, 0), 0);
	ck_assert_int_eq(fwd_addr_parse(hi_s, &hi_a, NULL, 0), 0);
	fwd_addr_range(&a, lo, hi);
	len = fwd_addr_len(&a);
	ck_assert_mem_eq(lo, lo_a.a, len);
	ck_assert_mem_eq(hi, hi_a.a, len);
	/* Bytes past the family's length are zero. */
	ck_assert_mem_eq(lo + len, zero, 16 - len);
	ck_assert_mem_eq(hi + len, zero, 16 - len);
}

START_TEST(test_range)
{
	ck_range("192.0.2.7", "192.0.2.7", "192.0.2.7");
	ck_range("192.0.2.0/24", "192.0.2.0", "192.0.2.255");
	ck_range("192.0.2.128/25", "192.0.2.128", "192.0.2.255");
	ck_range("10.0.0.0/9", "10.0.0.0", "10.127.255.255");
	ck_range("0.0.0.0/0", "0.0.0.0", "255.255.255.255");
	ck_range("2001:db8::/32", "2001:db8::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_range("2001:db8:8000::/33", "2001:db8:8000::", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_range("::/0", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
	ck_range("2001:db8::1", "2001:db8::1", "2001:db8::1");
}
END_TEST

START_TEST(test_inline_helpers)
{
	struct fwd_addr a;

	ck_assert_int_eq(fwd_addr_parse("192.0.2.0/24", &a, NULL, 0), 0);
	ck_assert_uint_eq(fwd_addr_bits(&a), 32);
	ck_assert_uint_eq(fwd_addr_len(&a), 4);
	ck_assert(!fwd_addr_is_host(&a));
	ck_assert_int_eq(fwd_addr_parse("::1", &a, NULL, 0), 0);
	ck_assert_uint_eq(fwd_addr_bits(&a), 128);
	ck_assert_uint_eq(fwd_addr_len(&a), 16);
	ck_assert(fwd_addr_is_host(&a));
}
END_TEST

static Suite *addr_suite(void)
{
	Suite *s = suite_create("addr");
	TCase *tc = tcase_create("addr");

	tcase_add_loop_test(tc, test_parse_good, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_loop_test(tc, test_parse_bad, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_parsen);
	tcase_add_test(tc, test_format_small_buffer);
	tcase_add_test(tc, test_range);
	tcase_add_test(tc, test_inline_helpers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(addr_suite());
}
