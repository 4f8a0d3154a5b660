/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_BATCH_H
#define FWD_KMOD_BATCH_H

/*
 * Internal to kmod-hooks: the batch (batch.c), ONE transaction on the
 * nf_tables socket.
 *
 * A batch is one contiguous buffer of netlink messages, BEGIN .. END, every
 * message with NLM_F_ACK. Next to the buffer each message has a record
 * saying what it was built from (which set, which elements, which rule), so
 * that an error the kernel returns for a sequence number can be turned
 * back into a policy location.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "ir.h"
#include "nlsock.h"

struct nlmsghdr;

enum fwd_msg_kind {
	FWD_MSG_BEGIN,
	FWD_MSG_END,
	FWD_MSG_TABLE,		/* NEWTABLE / DELTABLE */
	FWD_MSG_SET,
	FWD_MSG_ELEMS,
	FWD_MSG_CHAIN,
	FWD_MSG_RULE,
	FWD_MSG_PROBE,		/* one probe test; `probe` says which */
};

struct fwd_msg {
	uint32_t seq;
	size_t off;			/* offset of the message in the buffer */
	uint16_t type;			/* NFT_MSG_* (without the subsystem) */
	enum fwd_msg_kind kind;
	const struct fwd_ir_set *set;	/* SET, ELEMS, and the anonymous set of a RULE */
	size_t first, count;		/* ELEMS: IR elements [first, first+count) */
	bool lead_end;			/* ELEMS: starts with the interval-end at 0 */
	uint64_t skip_ms;		/* ELEMS: elements with 0 < expires*1000 <=
					 * skip_ms are not in the message */
	const struct fwd_ir_chain *chain; /* CHAIN, RULE */
	size_t rule;			/* RULE: index in chain->rules */
	/* CHAIN, RULE: the kernel chain of `chain` the message is about
	 * (ir.h, "The chains in the kernel": input, in4, in6, ...), and
	 * for RULE the rule's place in it, from 1, as `nft list` lists it
	 * (0: unknown); jump: 4 or 6 for the base chain's jump to that
	 * family chain (then `rule` names no IR rule), else 0. Errors name
	 * these, never the IR's own numbering. */
	enum fwd_ir_part part;
	size_t kpos;
	int jump;
	unsigned probe;			/* PROBE */
	/* filled in from the kernel's answer */
	bool acked;
	int err;			/* positive errno, 0 = accepted */
	uint32_t bad_off;		/* extack: offset of the bad attribute, 0 = none */
	char *ext_msg;			/* extack text (malloc'd) or NULL */
};

struct fwd_batch {
	char *buf;
	size_t len, cap;
	struct fwd_msg *msgs;
	size_t n, mcap;
	uint32_t seq0;
	uint32_t genid;		/* BEGIN carries NFNL_BATCH_GENID (0: none) */
	uint64_t now_ms;	/* wall clock (ms) the timeouts are computed from */
	bool ack_end_only;	/* NLM_F_ACK on END only: errors still come */
	/* results of fwd_batch_talk */
	bool begin_acked;	/* the kernel acks BEGIN/END (6.10+) */
	bool end_acked;		/* ... and acked END: the commit happened */
	size_t nerr;		/* messages answered with an error */
	int first_err;		/* errno of the first of them */
};

/* The largest single message we ever build, reserved before each one. */
#define FWD_MSG_RESERVE (128u * 1024)
/* NFTA_SET_ELEM_LIST_ELEMENTS is one attribute: its length is 16 bits. */
#define FWD_ELEMS_MAX_BYTES 60000u
#define FWD_ELEMS_PER_MSG 1000u

void fwd_batch_init(struct fwd_batch *b, const struct fwd_nl *nl);
void fwd_batch_free(struct fwd_batch *b);	/* accepts NULL */

/*
 * Start a message of type NFT_MSG_* in `family` with NLM_F_REQUEST |
 * NLM_F_ACK | flags. *rec is the record to describe it (valid until the next
 * fwd_batch_put). The header stays valid until the next fwd_batch_put too;
 * add attributes (at most FWD_MSG_RESERVE bytes), then fwd_batch_close.
 */
struct nlmsghdr *fwd_batch_put(struct fwd_batch *b, uint16_t type,
			       uint16_t family, uint16_t flags,
			       enum fwd_msg_kind kind, struct fwd_msg **rec);
void fwd_batch_close(struct fwd_batch *b, struct nlmsghdr *nlh);
void fwd_batch_begin(struct fwd_batch *b);
void fwd_batch_end(struct fwd_batch *b);

/*
 * Send the whole batch as ONE datagram (nfnetlink only treats BEGIN..END
 * as a transaction when it arrives in one skb) and read every answer.
 * Returns 0 when every message got its answer, -errno when the socket
 * failed (then the outcome is unknown only if the send itself went out).
 * Per-message results are in b->msgs[].
 */
int fwd_batch_talk(struct fwd_nl *nl, struct fwd_batch *b);

/* Whether the kernel committed the batch talk just sent. */
bool fwd_batch_committed(const struct fwd_batch *b);

/*
 * A transaction to run: `build` appends BEGIN .. END to an initialised
 * batch (it may be called twice: the second time with b->ack_end_only);
 * ir and delta say what the kernel holds once it committed (for
 * fwd_live_check when answers were lost).
 */
struct fwd_batch_job {
	void (*build)(struct fwd_batch *b, const void *arg);
	const void *arg;
	const struct fwd_ir *ir;
	const struct fwd_ir_delta *delta;	/* NULL: a full apply */
};

/* Build, send, read every answer, map errors to d; on lost answers read
 * back and, when the kernel does not hold the result, send once more with
 * one answer asked for. 0 once committed, else -errno and d says why. */
int fwd_batch_run(struct fwd_nl *nl, const struct fwd_batch_job *job,
		  struct fwd_diags *d);

#endif
