/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_KEYS_H
#define FWD_KMOD_KEYS_H

/*
 * Internal to kmod-hooks: the element key layout (keys.c). Pure byte
 * work: no socket, no libnftnl.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

struct fwd_msg;

/* nft's datatype ids (src/datatype.h), as the kernel stores them. */
enum {
	DT_IPADDR = 7,
	DT_IP6ADDR = 8,
	DT_INET_PROTOCOL = 12,
	DT_INET_SERVICE = 13,
	DT_ICMP_TYPE = 14,
	DT_ICMP6_TYPE = 29,
	DT_UID = 24,
	DT_CGROUPV2 = 46,
};
#define DT_CONCAT_BITS 6

/* The longest key: cgroupsv2 (8) . ipv6_addr (16) . proto (4) . port (4)
 * (an owner set, outbound.h); every key buffer is this big. */
#define FWD_KEY_MAX 32

/* Key layout of a set as the kernel sees it. */
struct fwd_key_layout {
	unsigned nfields;
	uint8_t field_len[4];	/* unpadded bytes per field (DESC_CONCAT) */
	unsigned key_len;	/* total, each field padded to 4 bytes */
	uint32_t key_type;	/* nft datatype id, concatenations folded */
};
void fwd_key_layout(enum fwd_ir_key k, struct fwd_key_layout *l);
/* The kernel key bytes of elem e (lo, or hi when `hi`); returns key_len. */
unsigned fwd_elem_key(enum fwd_ir_key k, const struct fwd_ir_elem *e,
		      bool hi, uint8_t *out);
/* The inverse: fill lo or hi fields of e from kernel key bytes. */
void fwd_elem_from_key(enum fwd_ir_key k, const uint8_t *key, bool hi,
		       struct fwd_ir_elem *e);

/* Address bytes of a key (0: none), whether it has proto . port. */
unsigned fwd_key_addr_len(enum fwd_ir_key k);
bool fwd_key_has_port(enum fwd_ir_key k);
/* Big-endian key bytes: all 0xff; + 1 (the caller knows it does not
 * overflow). */
bool fwd_key_is_max(const uint8_t *k, unsigned n);
void fwd_key_inc(uint8_t *k, unsigned n);

/*
 * Elements in element messages, per set kind (see keys.c): an interval
 * set of one field is an rbtree, whose ranges are a start and (but at the
 * top of the key space) an end element, and which opens with an end at 0
 * when its first range does not start there.
 */
bool fwd_set_rbtree(const struct fwd_ir_set *s);
bool fwd_rb_lead_end(const struct fwd_ir_set *s);
bool fwd_rb_has_end(const struct fwd_ir_set *s, size_t i);

/* Whether message m carries IR element e (expiry rules above). */
bool fwd_lin_elem_sent(const struct fwd_msg *m, const struct fwd_ir_elem *e);
/* Index of the IR element that kernel element number `k` of message m
 * encodes (see fwd_lin_elems for the layout), or (size_t)-1. */
size_t fwd_lin_elem_index(const struct fwd_msg *m, size_t k);

#endif
