/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CTLABEL_H
#define FWD_CTLABEL_H

/*
 * Setting fwd's conntrack label (policy/ir.h, FWD_CT_LABEL_BIT) on flows
 * the verdict loop accepted, through ctnetlink. The program rules' label
 * accept (FWD_M_CT_LABEL) then lets the flow's later packets out in the
 * kernel.
 *
 * Why ctnetlink and not the verdict: an NFQA_CT attribute in the verdict
 * would set the label with the verdict itself, but only on a kernel with
 * CONFIG_NETFILTER_NETLINK_GLUE_CT, and a kernel without it ignores the
 * attribute without a word. An IPCTNL_MSG_CT_NEW without NLM_F_CREATE
 * only updates an entry that exists (else ENOENT): a flow is never
 * created here. The entry is found by its original tuple, which is the
 * queued packet's own addresses and ports; it is in the table once the
 * accept verdict was sent, because the packet's reinjection runs in that
 * send and conntrack confirms the entry at the end of the output path.
 * CTA_LABELS_MASK names the one bit: other labels on the entry stay.
 *
 * The kernel keeps labels only on entries created while a `ct label`
 * user exists in the namespace (the program rules' own match is one):
 * otherwise the update fails with ENOSPC. Every failure only leaves the
 * flow as it was (its next packet is queued and decided again); the
 * caller counts them.
 *
 * One labeller per thread (it owns its socket).
 */

#include <stddef.h>
#include <stdint.h>

struct fwd_ct_flow {
	uint8_t family;			/* AF_INET / AF_INET6 */
	uint8_t proto;			/* IPPROTO_UDP, ... */
	uint8_t src[16], dst[16];	/* network order, 4 or 16 bytes used */
	uint16_t sport, dport;		/* host order */
};

struct fwd_ct_labeller;

/* 0 or -errno (no NETLINK_NETFILTER socket). */
int fwd_ct_labeller_new(struct fwd_ct_labeller **out);
void fwd_ct_labeller_free(struct fwd_ct_labeller *l);	/* accepts NULL */

/*
 * Set label `bit` (0..127) on the entries of flows f[0..n) (their
 * original tuples, default zone), in one datagram, and read every
 * answer. *done counts the entries labelled; err[i] (when err is not
 * NULL) gets 0 or the kernel's -errno for flow i (-ENOENT: no such
 * entry, e.g. it was NATed in the output path; -ENOSPC: the entry has no
 * labels). Returns 0, or -errno when the socket itself failed (then
 * *done may be short and err[] not filled for the rest: -EIO).
 */
int fwd_ct_label_flows(struct fwd_ct_labeller *l, const struct fwd_ct_flow *f,
		       size_t n, unsigned bit, unsigned *done, int *err);

/* How many flows fwd_ct_label_flows takes at once. */
#define FWD_CT_LABEL_MAX 64

#endif
