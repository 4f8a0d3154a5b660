/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_QUEUE_H
#define FWD_QUEUE_H

/*
 * NFQUEUE -> packet summaries -> verdicts: the kernel half of the verdict
 * loop (libnetfilter_queue's libmnl API). One struct fwd_queue per queue
 * number, one thread per struct (nothing here is shared or locked).
 *
 * The contract with the kernel, as DESIGN.md asks:
 * - fail closed: never NFQA_CFG_F_FAIL_OPEN, and the rule that queues has
 *   no bypass, so a packet nobody answers is dropped (also when this
 *   process dies: the kernel drops what is queued when the socket closes);
 * - headers only: NFQNL_COPY_PACKET with FWD_QUEUE_COPY_RANGE bytes,
 *   NFQA_CFG_F_GSO (no software segmentation before queueing),
 *   NETLINK_NO_ENOBUFS (an overrun is counted by the kernel as
 *   user_dropped and the packet dropped, never reported as an error that
 *   would lose our place), a large receive buffer (SO_RCVBUFFORCE) and a
 *   queue maxlen sized by the caller;
 * - every packet handed out by fwd_queue_recv gets exactly one verdict:
 *   fwd_queue_verdict refuses an id that is not waiting for one (never
 *   received, or already decided) without sending anything;
 * - verdicts are buffered and go out in one datagram per fwd_queue_flush.
 *   A run of equal verdicts that starts at the oldest undecided packet
 *   goes as ONE NFQNL_MSG_VERDICT_BATCH (the kernel applies it to every
 *   queued id up to the one named, so it is only used when all lower ids
 *   are decided with the same verdict); a packet decided while an older
 *   one still waits gets its own NFQNL_MSG_VERDICT. Ids travel in network
 *   byte order (fwknop's bug: unswapped ids, every verdict ENOENT);
 * - errors the kernel returns for verdict messages are counted
 *   (verdict_errors; ENOENT means an id the kernel does not hold). The
 *   goal is zero.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guard.h"

/*
 * Bytes of each packet copied to userspace: an IPv6 header (40), a chain
 * of extension headers, and a TCP header with options (60). Longer chains
 * are cut; the summary says so (FWD_PKT_F_TRUNC).
 */
#define FWD_QUEUE_COPY_RANGE 256u
/* The parser follows at most this many IPv6 extension headers. */
#define FWD_PKT_MAX_EXTHDR 8u

/*
 * The summary of one queued packet is policy/guard.h's struct fwd_pkt (the
 * decision module's input, filled here): proto after the IPv6 extension
 * headers; for ICMP/ICMPv6 sport = code and dport = type; ifindex the
 * input interface (NFQA_IFINDEX_INDEV); time_ns the kernel's receive time
 * (NFQA_TIMESTAMP) with FWD_PKT_F_TSTAMP, else 0 (see
 * fwd_queue_opts.timestamps); the parser's FWD_PKT_F_TRUNC, _FRAG, _BAD.
 */
/*
 * Parse the copied bytes of a packet (network header first) into the
 * address/port part of *out (family, proto, tcp_flags, flags, src, dst,
 * ports: ICMP code and type as sport and dport; the rest untouched). Pure: no allocation, reads
 * only pkt[0..len), hostile input is fine (truncated headers, bad lengths,
 * IPv6 extension chains: at most FWD_PKT_MAX_EXTHDR followed, fragments:
 * ports only from the first). Returns 0 when the addresses are known
 * (ports may still be missing: flags say why), -EINVAL when even the
 * network header is not there (flags FWD_PKT_F_BAD, family 0).
 */
int fwd_pkt_parse(const void *pkt, size_t len, struct fwd_pkt *out);

struct fwd_queue_opts {
	uint32_t maxlen;	/* NFQA_CFG_QUEUE_MAXLEN; 0: 8192 */
	int rcvbuf;		/* bytes; 0: 16 MiB (SO_RCVBUFFORCE) */
	uint32_t copy_range;	/* 0: FWD_QUEUE_COPY_RANGE */
	/*
	 * Ask the kernel to stamp received packets (SO_TIMESTAMP on the
	 * queue's socket), so that NFQA_TIMESTAMP is there for the
	 * enqueue-to-verdict latency. It turns on the network stack's
	 * global receive timestamping (a clock read per packet, host-wide).
	 */
	bool timestamps;
};

struct fwd_queue_stats {
	uint64_t received;	/* packets handed out by fwd_queue_recv */
	uint64_t verdicts;	/* packets decided and sent */
	uint64_t accepted, dropped;	/* ... of which NF_ACCEPT / NF_DROP */
	uint64_t verdict_msgs;	/* messages (a batch counts once) */
	uint64_t batch_msgs;	/* ... of which NFQNL_MSG_VERDICT_BATCH */
	uint64_t verdict_errors;	/* kernel errors for verdict messages */
	int last_verdict_error;	/* its errno (ENOENT: a wrong id) */
	uint64_t parse_failures;	/* messages without a usable id, and
					 * packets whose headers did not parse */
	uint64_t refused;	/* fwd_queue_verdict of an id not waiting */
	size_t pending;		/* received, not yet flushed */
};

struct fwd_queue;

/*
 * Bind queue `num` in the caller's network namespace. 0 with *out set, or
 * -errno: -EPERM when another socket holds the queue (the kernel's answer;
 * a second fwd cannot steal a running one's queue) or without
 * CAP_NET_ADMIN, the kernel's error when it has no nfnetlink_queue,
 * -ETIMEDOUT when no answer came within 2 s. Packets may already wait
 * when it returns.
 */
int fwd_queue_open(struct fwd_queue **out, uint16_t num,
		   const struct fwd_queue_opts *o);
/* Unbind and close. The kernel drops what is still queued (fail closed).
 * Accepts NULL. */
void fwd_queue_close(struct fwd_queue *q);
/* The socket, for epoll (readable: packets or kernel answers). */
int fwd_queue_fd(const struct fwd_queue *q);
uint16_t fwd_queue_num(const struct fwd_queue *q);

/*
 * Read what the socket holds without blocking, up to `max` packets into
 * out[0..*n). Every packet handed out must later get fwd_queue_verdict
 * (until then it waits in the kernel and counts against maxlen); one
 * whose headers did not parse comes out too, with FWD_PKT_F_BAD or _TRUNC,
 * so that it can be dropped. Error answers to earlier verdicts are
 * counted on the way. 0 (also when nothing was there: *n == 0) or -errno
 * when the socket failed.
 */
int fwd_queue_recv(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
		   size_t *n);
/*
 * The same, waiting up to timeout_ms (> 0) for the first packet inside
 * the receive call itself (recvmmsg MSG_WAITFORONE under SO_RCVTIMEO): a
 * worker that handles one packet per wake-up saves the poll. *n == 0
 * after the timeout.
 */
int fwd_queue_recv_wait(struct fwd_queue *q, struct fwd_pkt *out, size_t max,
			size_t *n, int timeout_ms);

/*
 * Decide packet `id` (NF_ACCEPT or NF_DROP). Buffered until
 * fwd_queue_flush. 0, -ENOENT when the id is not waiting for a verdict
 * (never received or already decided: nothing is sent, `refused` counts
 * it), -EINVAL for another verdict value.
 */
int fwd_queue_verdict(struct fwd_queue *q, uint32_t id, uint32_t verdict);
/* Send every buffered verdict (one datagram). 0 or -errno; on a send
 * error the verdicts stay buffered for the next flush. */
int fwd_queue_flush(struct fwd_queue *q);

void fwd_queue_get_stats(const struct fwd_queue *q, struct fwd_queue_stats *s);

/* One line of /proc/net/netfilter/nfnetlink_queue (the caller's netns). */
struct fwd_queue_proc {
	uint16_t num;
	uint32_t portid;	/* the bound socket */
	uint32_t queued;	/* packets waiting for a verdict now */
	uint32_t copy_mode, copy_range;
	uint64_t queue_dropped;	/* the queue was full (maxlen) */
	uint64_t user_dropped;	/* the socket's buffer was full */
	uint32_t id_sequence;	/* the last id handed out */
};
/* The line of queue `num`: 0, -ENOENT when nobody binds it, -errno when
 * the file cannot be read. Parsing is done by fwd_queue_proc_parse. */
int fwd_queue_proc_read(uint16_t num, struct fwd_queue_proc *out);
/* Find queue `num` in the text of that file (pure). 0 or -ENOENT. */
int fwd_queue_proc_parse(const char *text, uint16_t num,
			 struct fwd_queue_proc *out);

#endif
