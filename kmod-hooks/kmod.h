/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_H
#define FWD_KMOD_H

#include <stdbool.h>
#include <stdio.h>

#include "diag.h"
#include "ir.h"

/* What the running kernel can do, found by one probe transaction that is
 * always rolled back (the probe never leaves anything in the kernel). */
struct fwd_features {
	bool nf_tables;		/* nfnetlink + nf_tables answer at all */
	bool inet_family;
	bool concat_interval;	/* concatenated interval (pipapo) sets */
	bool set_timeout;	/* element timeouts */
	bool native_queue;	/* nft "queue" expression (nft_queue) */
	bool xt_nfqueue;	/* xt NFQUEUE target rev 3 via nft_compat */
	bool conntrack;		/* ct expression */
	bool reject;		/* reject expression (inet) */
	bool log;		/* log expression */
	bool table_owner;	/* NFT_TABLE_F_OWNER */
	bool table_persist;	/* NFT_TABLE_F_PERSIST */
	char detail[512];	/* what failed and how, for humans */
};

int fwd_probe(struct fwd_features *f);
void fwd_features_print(const struct fwd_features *f, FILE *out, bool json);

/* A netlink socket to nf_tables. The daemon keeps one open for its whole
 * life: with the owner flag the table belongs to this socket. */
struct fwd_nl;
int fwd_nl_open(struct fwd_nl **out);
void fwd_nl_close(struct fwd_nl *nl);	/* accepts NULL */

/*
 * Replace the fwd table with the IR in ONE transaction (add table, delete
 * table, create table + sets + elements + chains + rules), drain every ACK,
 * and map a failing message back to the policy line it came from (appended
 * to d). Returns 0 once the kernel committed, -errno otherwise; on error the
 * kernel still holds whatever it held before.
 * Table flags: owner (+ persist) when the probe found them, unless
 * `no_owner` (used by --oneshot on kernels without persist).
 */
struct fwd_apply_opts {
	bool no_owner;
};
int fwd_apply(struct fwd_nl *nl, const struct fwd_ir *ir,
	      const struct fwd_features *f, const struct fwd_apply_opts *o,
	      struct fwd_diags *d);

/* Table flags fwd_apply would use with these features/options. */
unsigned fwd_table_flags(const struct fwd_features *f,
			 const struct fwd_apply_opts *o);

#endif
