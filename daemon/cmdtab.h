/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMDTAB_H
#define FWD_CMDTAB_H

#include "control.h"

/*
 * The fwctl command set, shared by fwctl (usage, `fwctl help CMD`, which
 * works without a daemon) and fwd (which parses and runs them). One row a
 * command; `name` may be two words ("list add").
 */
struct fwd_cmdinfo {
	const char *name;
	const char *usage;		/* after "fwctl " */
	const char *help;		/* paragraphs, no trailing newline */
	enum fwd_ctl_role role;		/* least role that may run it */
	bool local;			/* run by fwctl itself, not sent to fwd */
};

extern const struct fwd_cmdinfo fwd_cmdtab[];
extern const unsigned fwd_ncmdtab;

/* The row for argv (matching one or two words), or NULL. *words gets how
 * many words the name used. */
const struct fwd_cmdinfo *fwd_cmd_find(int argc, char *const *argv, int *words);

/* How many words (not options) may follow the name, read from its usage
 * line: 0 for "status [--json]", 1 for "list show [NAME] [--json]", -1
 * when the command counts its words itself (allow PORTS ..., explain). */
int fwd_cmd_max_words(const struct fwd_cmdinfo *ci);

#endif
