// SPDX-License-Identifier: GPL-2.0-or-later
/* Addresses and networks: parse, format, range. */
#include "addr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * The longest valid input is an IPv6 address in its longest textual form
 * (45 bytes, with an embedded IPv4 tail) plus "/128": anything longer is
 * rejected before inet_pton sees it, which also bounds the stack copy.
 */
#define ADDR_MAX_INPUT 50

static int fail(char *why_buf, size_t why_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *why_buf, size_t why_len, const char *fmt, ...)
{
	va_list ap;

	if (why_buf && why_len) {
		va_start(ap, fmt);
		vsnprintf(why_buf, why_len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* True if any bit at or after `prefix` is set in the first `len` bytes. */
static bool host_bits_set(const uint8_t *a, size_t len, unsigned prefix)
{
	for (size_t i = prefix / 8; i < len; i++) {
		uint8_t keep = i == prefix / 8 ? (uint8_t)(0xff00 >> (prefix % 8)) : 0;

		if (a[i] & ~keep)
			return true;
	}
	return false;
}

static void clear_host_bits(uint8_t *a, size_t len, unsigned prefix)
{
	for (size_t i = prefix / 8; i < len; i++)
		a[i] &= i == prefix / 8 ? (uint8_t)(0xff00 >> (prefix % 8)) : 0;
}

int fwd_addr_parsen(const char *s, size_t n, struct fwd_addr *out,
		    char *why_buf, size_t why_len)
{
	char buf[ADDR_MAX_INPUT + 1];
	struct fwd_addr a = { 0 };
	const char *slash;
	bool colon;
	unsigned bits, prefix;
	size_t alen;

	if (n == 0)
		return fail(why_buf, why_len, "empty address");
	if (n > ADDR_MAX_INPUT || memchr(s, '\0', n))
		return fail(why_buf, why_len, "not an IPv4 or IPv6 address");
	/* One pass: copy, and note the first '/' and any ':' before it
	 * (this runs once per line of a list file of a million lines). */
	slash = NULL;
	colon = false;
	for (size_t i = 0; i < n; i++) {
		buf[i] = s[i];
		if (s[i] == '/' && !slash)
			slash = buf + i;
		else if (s[i] == ':' && !slash)
			colon = true;
	}
	buf[n] = '\0';
	alen = slash ? (size_t)(slash - buf) : n;
	buf[alen] = '\0';
	if (colon) {
		a.family = AF_INET6;
		bits = 128;
	} else {
		a.family = AF_INET;
		bits = 32;
	}
	if (inet_pton(a.family, buf, a.a) != 1) {
		/* A word that looks like a host name gets told why it fails,
		 * once, here, rather than left to guess. */
		if (strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789.-") == alen &&
		    strspn(buf, "0123456789.-") != alen)
			return fail(why_buf, why_len, "not an IPv4 or IPv6 address "
				    "(host names are not resolved)");
		return fail(why_buf, why_len, "not an IPv4 or IPv6 address");
	}

	prefix = bits;
	if (slash) {
		const char *p = slash + 1;
		size_t digits = strspn(p, "0123456789");

		if (*p == '\0')
			return fail(why_buf, why_len,
				    "missing prefix length after '/'");
		/* Not quoted here: the caller shows the whole word, escaped. */
		if (digits != strlen(p))
			return fail(why_buf, why_len,
				    "the prefix length after '/' is not a number");
		/* Saturate rather than overflow: "/0008" is 8, "/99999" is
		 * reported as written. */
		prefix = 0;
		for (size_t i = 0; i < digits; i++)
			if (prefix <= 128)
				prefix = prefix * 10 + (unsigned)(p[i] - '0');
		if (prefix > bits)
			return fail(why_buf, why_len,
				    "prefix length %s is out of range for %s (0-%u)",
				    p, bits == 32 ? "IPv4" : "IPv6", bits);
	}
	a.prefix = (uint8_t)prefix;
	if (host_bits_set(a.a, bits / 8, prefix)) {
		char fix[FWD_ADDR_STRLEN];

		clear_host_bits(a.a, bits / 8, prefix);
		fwd_addr_format(&a, fix, sizeof(fix));
		return fail(why_buf, why_len,
			    "host bits set in %.*s (did you mean %s?)",
			    (int)n, s, fix);
	}
	/* ::ffff:a.b.c.d never matches: IPv4 packets reach the IPv4 sets,
	 * as IPv4. Say how to write it instead of accepting a dead rule. */
	if (a.family == AF_INET6 && prefix >= 96 &&
	    !memcmp(a.a, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		struct fwd_addr v4 = { .family = AF_INET, .prefix = (uint8_t)(prefix - 96) };
		char fix[FWD_ADDR_STRLEN];

		memcpy(v4.a, a.a + 12, 4);
		fwd_addr_format(&v4, fix, sizeof(fix));
		return fail(why_buf, why_len, "IPv4-mapped IPv6 address never matches "
			    "(IPv4 traffic is matched as IPv4): write %s", fix);
	}
	*out = a;
	return 0;
}

int fwd_addr_parse(const char *s, struct fwd_addr *out, char *why_buf,
		   size_t why_len)
{
	return fwd_addr_parsen(s, strlen(s), out, why_buf, why_len);
}

void fwd_addr_format(const struct fwd_addr *a, char *buf, size_t len)
{
	char tmp[INET6_ADDRSTRLEN];

	if (!len)
		return;
	if ((a->family != AF_INET && a->family != AF_INET6) ||
	    !inet_ntop(a->family, a->a, tmp, sizeof(tmp))) {
		snprintf(buf, len, "?");
		return;
	}
	if (fwd_addr_is_host(a))
		snprintf(buf, len, "%s", tmp);
	else
		snprintf(buf, len, "%s/%u", tmp, a->prefix);
}

void fwd_addr_range(const struct fwd_addr *a, uint8_t lo[16], uint8_t hi[16])
{
	size_t len = fwd_addr_len(a);
	unsigned prefix = a->prefix;

	memset(lo, 0, 16);
	memset(hi, 0, 16);
	memcpy(lo, a->a, len);
	memcpy(hi, a->a, len);
	clear_host_bits(lo, len, prefix);
	for (size_t i = prefix / 8; i < len; i++)
		hi[i] |= i == prefix / 8 ? (uint8_t)~(0xff00 >> (prefix % 8)) : 0xff;
}

/* Whether a (len bytes) is all ones: the last address of the family. */
static bool all_ones(const uint8_t *a, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (a[i] != 0xff)
			return false;
	return true;
}

/* a + 1, big endian, len bytes; the caller knows a is not all ones. */
static void inc(uint8_t *a, size_t len)
{
	for (size_t i = len; i-- > 0; )
		if (++a[i] != 0)
			return;
}

struct span {
	uint8_t lo[16], hi[16];
};

static int span_cmp(const void *a, const void *b)
{
	return memcmp(((const struct span *)a)->lo, ((const struct span *)b)->lo, 16);
}

/* Whether the family's entries among v[0..n) cover it: sorted by their
 * first address, each must start at or below the lowest address not yet
 * covered, until one reaches the last address. sp has room for n. */
static bool covers(const struct fwd_addr *v, size_t n, uint8_t family,
		   struct span *sp)
{
	const size_t len = family == AF_INET ? 4 : 16;
	uint8_t need[16] = { 0 };
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (v[i].family != family)
			continue;
		fwd_addr_range(&v[i], sp[k].lo, sp[k].hi);
		k++;
	}
	qsort(sp, k, sizeof(*sp), span_cmp);
	for (size_t i = 0; i < k; i++) {
		if (memcmp(sp[i].lo, need, len) > 0)
			return false;
		if (memcmp(sp[i].hi, need, len) < 0)
			continue;
		if (all_ones(sp[i].hi, len))
			return true;
		memcpy(need, sp[i].hi, len);
		inc(need, len);
	}
	return false;
}

bool fwd_addr_cover_all(const struct fwd_addr *v, size_t n, uint8_t family,
			size_t *last)
{
	struct span *sp;
	size_t lo = 1, hi = n;
	bool all;

	if (n == 0)
		return false;
	sp = malloc(n * sizeof(*sp));
	if (!sp)
		abort();	/* the project's OOM policy (util.h) */
	all = covers(v, n, family, sp);
	/* More entries never cover less: the shortest prefix of v that
	 * covers ends with the entry that completed the cover. */
	while (all && lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (covers(v, mid, family, sp))
			hi = mid;
		else
			lo = mid + 1;
	}
	if (all && last)
		*last = lo - 1;
	free(sp);
	return all;
}
