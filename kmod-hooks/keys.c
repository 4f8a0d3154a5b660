// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The element key layout (keys.h): an IR element <-> the key bytes the
 * kernel stores (nft's datatypes, each field padded to 4 bytes), and how
 * the elements of one set are laid out in element messages. The
 * linearizer writes by it, the batch maps an error back to an element by
 * it, the read-back turns kernel keys into IR elements by it.
 */
#include "keys.h"

#include <arpa/inet.h>
#include <string.h>

#include "batch.h"	/* struct fwd_msg */

/* The owner sets: owner . daddr . inet_proto . inet_service. */
static void owner_layout(enum fwd_ir_key k, struct fwd_key_layout *l)
{
	unsigned id = fwd_ir_key_id_len(k), alen = fwd_ir_key_addr_len(k);

	l->nfields = 4;
	l->field_len[0] = id;
	l->field_len[1] = alen;
	l->field_len[2] = 1;
	l->field_len[3] = 2;
	l->key_len = id + alen + 8;
	l->key_type = (uint32_t)(id == 4 ? DT_UID : DT_CGROUPV2) << (3 * DT_CONCAT_BITS) |
		      (uint32_t)(alen == 4 ? DT_IPADDR : DT_IP6ADDR) << (2 * DT_CONCAT_BITS) |
		      DT_INET_PROTOCOL << DT_CONCAT_BITS | DT_INET_SERVICE;
}

void fwd_key_layout(enum fwd_ir_key k, struct fwd_key_layout *l)
{
	memset(l, 0, sizeof(*l));
	switch (k) {
	case FWD_KEY_ADDR4_PROTO_PORT:
		l->nfields = 3;
		l->field_len[0] = 4;
		l->field_len[1] = 1;
		l->field_len[2] = 2;
		l->key_len = 12;
		l->key_type = DT_IPADDR << (2 * DT_CONCAT_BITS) |
			      DT_INET_PROTOCOL << DT_CONCAT_BITS | DT_INET_SERVICE;
		break;
	case FWD_KEY_ADDR6_PROTO_PORT:
		l->nfields = 3;
		l->field_len[0] = 16;
		l->field_len[1] = 1;
		l->field_len[2] = 2;
		l->key_len = 24;
		l->key_type = DT_IP6ADDR << (2 * DT_CONCAT_BITS) |
			      DT_INET_PROTOCOL << DT_CONCAT_BITS | DT_INET_SERVICE;
		break;
	case FWD_KEY_PROTO_PORT:
		l->nfields = 2;
		l->field_len[0] = 1;
		l->field_len[1] = 2;
		l->key_len = 8;
		l->key_type = DT_INET_PROTOCOL << DT_CONCAT_BITS | DT_INET_SERVICE;
		break;
	case FWD_KEY_ADDR4:
		l->nfields = 1;
		l->field_len[0] = 4;
		l->key_len = 4;
		l->key_type = DT_IPADDR;
		break;
	case FWD_KEY_ADDR6:
		l->nfields = 1;
		l->field_len[0] = 16;
		l->key_len = 16;
		l->key_type = DT_IP6ADDR;
		break;
	case FWD_KEY_UID_ADDR4_PROTO_PORT:
	case FWD_KEY_UID_ADDR6_PROTO_PORT:
	case FWD_KEY_CG_ADDR4_PROTO_PORT:
	case FWD_KEY_CG_ADDR6_PROTO_PORT:
		owner_layout(k, l);
		break;
	}
}

unsigned fwd_key_addr_len(enum fwd_ir_key k)
{
	return fwd_ir_key_addr_len(k);
}

bool fwd_key_has_port(enum fwd_ir_key k)
{
	return fwd_ir_key_has_port(k);
}

/* The owner field, big-endian (the rule's byteorder turns the register
 * so, as nft does for an interval set). */
static void id_to_key(uint64_t id, unsigned len, uint8_t *out)
{
	for (unsigned i = len; i-- > 0; id >>= 8)
		out[i] = (uint8_t)id;
}

static uint64_t id_from_key(const uint8_t *key, unsigned len)
{
	uint64_t id = 0;

	for (unsigned i = 0; i < len; i++)
		id = id << 8 | key[i];
	return id;
}

unsigned fwd_elem_key(enum fwd_ir_key k, const struct fwd_ir_elem *e,
		      bool hi, uint8_t *out)
{
	struct fwd_key_layout l;
	unsigned alen = fwd_key_addr_len(k);

	unsigned id = fwd_ir_key_id_len(k);

	fwd_key_layout(k, &l);
	memset(out, 0, l.key_len);
	id_to_key(e->id, id, out);
	out += id;
	memcpy(out, hi ? e->hi : e->lo, alen);
	if (fwd_key_has_port(k)) {
		uint16_t port = htons(hi ? e->phi : e->plo);

		out[alen] = e->proto;
		memcpy(out + alen + 4, &port, 2);
	}
	return l.key_len;
}

void fwd_elem_from_key(enum fwd_ir_key k, const uint8_t *key, bool hi,
		       struct fwd_ir_elem *e)
{
	unsigned alen = fwd_key_addr_len(k), id = fwd_ir_key_id_len(k);

	e->id = id_from_key(key, id);
	key += id;
	memcpy(hi ? e->hi : e->lo, key, alen);
	if (fwd_key_has_port(k)) {
		uint16_t port;

		e->proto = key[alen];
		memcpy(&port, key + alen + 4, 2);
		if (hi)
			e->phi = ntohs(port);
		else
			e->plo = ntohs(port);
	}
}

/*
 * How elements look in the kernel, per set kind (as nft sends them):
 * - hash sets: one element per IR element, KEY = lo;
 * - interval concatenations (pipapo): KEY = lo, KEY_END = hi;
 * - interval sets of one field (rbtree): a start element KEY = lo and, unless
 *   the range runs to the top of the key space, an end element
 *   KEY = hi + 1 flagged INTERVAL_END; nft
 *   also opens the set with an INTERVAL_END at key 0 when the first range
 *   does not start there. A range open to the top carries nft's
 *   "interval open" element userdata so that `nft list` prints it right.
 */
bool fwd_set_rbtree(const struct fwd_ir_set *s)
{
	return s->interval && !fwd_key_has_port(s->key);
}

static bool key_is_zero(const uint8_t *k, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (k[i])
			return false;
	return true;
}

bool fwd_key_is_max(const uint8_t *k, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (k[i] != 0xff)
			return false;
	return true;
}

/* Big-endian increment; the caller knows it does not overflow. */
void fwd_key_inc(uint8_t *k, unsigned n)
{
	for (unsigned i = n; i-- > 0;)
		if (++k[i] != 0)
			break;
}

bool fwd_rb_lead_end(const struct fwd_ir_set *s)
{
	return s->n > 0 && !key_is_zero(s->elems[0].lo, fwd_key_addr_len(s->key));
}

/* Whether IR element i of an rbtree set has an end element: always but at
 * the top of the key space (nft sends one even when the next range starts
 * right there; the kernel refuses two starts in a row as an overlap). */
bool fwd_rb_has_end(const struct fwd_ir_set *s, size_t i)
{
	return !fwd_key_is_max(s->elems[i].hi, fwd_key_addr_len(s->key));
}

bool fwd_lin_elem_sent(const struct fwd_msg *m, const struct fwd_ir_elem *e)
{
	return !e->expires || !m->skip_ms || e->expires * 1000 > m->skip_ms;
}

size_t fwd_lin_elem_index(const struct fwd_msg *m, size_t k)
{
	const struct fwd_ir_set *s = m->set;

	if (!s)
		return (size_t)-1;
	if (m->lead_end) {
		if (k == 0)
			return m->first;
		k--;
	}
	for (size_t i = m->first; i < m->first + m->count && i < s->n; i++) {
		if (!fwd_lin_elem_sent(m, &s->elems[i]))
			continue;
		if (k-- == 0)
			return i;
		if (fwd_set_rbtree(s) && fwd_rb_has_end(s, i) && k-- == 0)
			return i;
	}
	return (size_t)-1;
}
