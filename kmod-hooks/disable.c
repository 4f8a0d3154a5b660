// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Deleting fwd's table: the one way fwd opens the host, on an explicit
 * `fwctl disable`. One transaction, from the socket that owns the table.
 */
#include <errno.h>
#include <linux/netfilter/nf_tables.h>
#include <string.h>

#include "kmod.h"
#include "batch.h"
#include "lin.h"

int fwd_table_delete(struct fwd_nl *nl, struct fwd_diags *d)
{
	struct fwd_batch b;
	int ret;

	fwd_batch_init(&b, nl);
	fwd_batch_begin(&b);
	fwd_lin_table(&b, NFT_MSG_DELTABLE, FWD_TABLE_NAME, false, 0);
	fwd_batch_end(&b);
	ret = fwd_batch_talk(nl, &b);
	if (ret == 0 && b.nerr)
		ret = -b.first_err;
	else if (ret == 0 && !fwd_batch_committed(&b))
		ret = -EIO;
	if (ret == -ENOENT)
		ret = 0;	/* nothing to delete: the goal holds */
	if (ret)
		fwd_diags_add(d, NULL, 0, "deleting table inet %s: %s",
			      FWD_TABLE_NAME, strerror(-ret));
	fwd_batch_free(&b);
	return ret;
}
