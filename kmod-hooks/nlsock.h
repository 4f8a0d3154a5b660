/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_NLSOCK_H
#define FWD_KMOD_NLSOCK_H

/*
 * Internal to kmod-hooks: the nf_tables netlink socket (nlsock.c), what
 * every other file of kmod-hooks that talks to the kernel builds on. It
 * depends on nothing else here.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmod.h"

struct mnl_socket;
struct nlmsghdr;

/* Not in every distribution's uapi headers yet (kernel 6.9). */
#ifndef NFT_TABLE_F_PERSIST
#define NFT_TABLE_F_PERSIST 4
#endif
/* Linux 6.3: delete a set element, and say nothing if it is not there
 * (the uapi headers of older distributions stop at NFT_MSG_DELFLOWTABLE). */
#define FWD_NFT_MSG_DESTROYSETELEM 30

struct fwd_nl {
	struct mnl_socket *sk;
	uint32_t portid;
	uint32_t seq;		/* next sequence number */
	int sndbuf, rcvbuf;	/* sizes asked for so far (0: kernel default) */
	bool pinned;		/* fwd_nl_pin_bufs: never grow the buffers */
	struct fwd_nl_stats stats;
	/* The generations our last commits made (exact: each batch names
	 * the generation it expects, NFNL_BATCH_GENID), newest at
	 * own_gen[(own_n - 1) % FWD_OWN_GENS]. */
#define FWD_OWN_GENS 64
	uint32_t own_gen[FWD_OWN_GENS];
	unsigned own_n;
	struct fwd_monitor *mon;	/* fwd_monitor_attach: paused around big batches */
};

/* Whether generation `gen` was made by one of our recent commits. */
bool fwd_nl_own_gen(const struct fwd_nl *nl, uint32_t gen);

int fwd_nl_socket(struct fwd_nl *nl);	/* open + bind, 0 or -errno */
void fwd_nl_socket_close(struct fwd_nl *nl);

/*
 * The project's OOM policy (policy/util.h) for allocators that return NULL,
 * such as libnftnl's: print and abort.
 */
void *fwd_nn(void *p);

/* A request header (nf_tables, NLM_F_REQUEST | NLM_F_ACK | flags; buf
 * zeroed for 512 bytes), and one request (a GET or a dump) with every
 * answer through cb. buf holds FWD_RBUF_SIZE bytes. */
#define FWD_RBUF_SIZE (64 * 1024)
struct nlmsghdr *fwd_nl_hdr(char *buf, uint16_t type, uint16_t flags,
			    uint8_t family);
int fwd_nl_request(struct fwd_nl *nl, struct nlmsghdr *nlh, char *buf,
		   int (*cb)(const struct nlmsghdr *nlh, void *data),
		   void *data);

/*
 * A quiet point at generation `gen`: a transaction of nothing (BEGIN
 * carrying NFNL_BATCH_GENID = gen, END). The kernel takes its commit lock
 * for it, so it waits for a commit in flight to finish, and refuses it
 * (ERESTART) when the generation is no longer gen; an empty commit moves
 * nothing and sends no event. 0: at that moment no commit was under way
 * and the generation was gen; -EAGAIN: it was not; else -errno.
 */
int fwd_nl_quiet(struct fwd_nl *nl, uint32_t gen);

/* The current wall clock in milliseconds since the epoch. */
uint64_t fwd_now_ms(void);

#endif
