/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_ADDR_H
#define FWD_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * An IPv4 or IPv6 network: address bytes in network order (4 or 16 used)
 * and a prefix length. A single host is a full-length prefix. Host bits past
 * the prefix are always zero in a parsed value (parsing rejects them).
 */
struct fwd_addr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t a[16];
};

#define FWD_ADDR_STRLEN 64	/* enough for any formatted address/prefix */

/*
 * Parse "192.0.2.7", "198.51.100.0/24", "2001:db8::1", "2001:db8::/32".
 * Returns 0, or -EINVAL with *why set to a static English reason such as
 * "prefix length 33 is out of range for IPv4 (0-32)" or
 * "host bits set in 192.0.2.1/24 (did you mean 192.0.2.0/24?)" — the caller
 * adds the location. *why may be NULL if the caller does not want it.
 * For the host-bits message the suggestion is written into why_buf when given.
 */
int fwd_addr_parse(const char *s, struct fwd_addr *out, char *why_buf,
		   size_t why_len);

/* The same for s[0..n), which need not be NUL-terminated (list files are
 * parsed in place). */
int fwd_addr_parsen(const char *s, size_t n, struct fwd_addr *out,
		    char *why_buf, size_t why_len);

/* "192.0.2.7" for a host, "192.0.2.0/24" for a network. */
void fwd_addr_format(const struct fwd_addr *a, char *buf, size_t len);

static inline unsigned fwd_addr_bits(const struct fwd_addr *a)
{
	return a->family == 2 /* AF_INET */ ? 32 : 128;
}
static inline size_t fwd_addr_len(const struct fwd_addr *a)
{
	return a->family == 2 /* AF_INET */ ? 4 : 16;
}
static inline bool fwd_addr_is_host(const struct fwd_addr *a)
{
	return a->prefix == fwd_addr_bits(a);
}
/* First and last address covered (inclusive), as len bytes each. */
void fwd_addr_range(const struct fwd_addr *a, uint8_t lo[16], uint8_t hi[16]);

/*
 * Whether the networks of `family` (AF_INET or AF_INET6) among v[0..n)
 * together cover every address of that family: 0.0.0.0/0 alone, or
 * 0.0.0.0/1 with 128.0.0.0/1, and so on. Entries of the other family are
 * ignored. *last gets the index of the entry, in v's order, at which the
 * cover became complete (the one to blame); untouched when false.
 * O(n log n); n == 0 is false.
 */
bool fwd_addr_cover_all(const struct fwd_addr *v, size_t n, uint8_t family,
			size_t *last);

#endif
