/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMDTAB_H
#define FWD_CMDTAB_H

#include <stdbool.h>

#include "proto.h"

/*
 * The fwctl command set, shared by fwctl (usage, `fwctl help CMD`, which
 * works without a daemon) and fwd (which parses and runs them). One row a
 * command; `name` may be two words ("list add").
 */
/* One request to fwd as its command function sees it (daemon/cmd.h). */
struct cmdreq;

struct fwd_cmdinfo {
	const char *name;
	const char *usage;		/* after "fwctl " */
	const char *help;		/* paragraphs, no trailing newline */
	enum fwd_ctl_role role;		/* least role that may run it */
	bool local;			/* run by fwctl itself, not sent to fwd */
	/* fwd's function for it (daemon/cmd-*.c); NULL in fwctl's build of
	 * the table and for local commands. */
	int (*run)(struct cmdreq *cr);
	/* fwd passes every word to `run`, options included, and checks no
	 * option or word count itself (audit reads its own options). */
	bool own_options;
	/* One line for `fwctl help`'s list of commands: what it is for,
	 * in the words of someone who has not read the man page. */
	const char *summary;
};

/* fwd's command functions, by family. */
/* cmd-edit.c */
int cmd_allow(struct cmdreq *cr);
int cmd_deny(struct cmdreq *cr);
int cmd_block(struct cmdreq *cr);
int cmd_list_add(struct cmdreq *cr);
int cmd_remove(struct cmdreq *cr);
int cmd_unblock(struct cmdreq *cr);
int cmd_list_del(struct cmdreq *cr);

/* cmd-query.c */
int cmd_status(struct cmdreq *cr);
int cmd_show(struct cmdreq *cr);
int cmd_list_show(struct cmdreq *cr);
int cmd_list_blocked(struct cmdreq *cr);
int cmd_explain(struct cmdreq *cr);

/* cmd-reload.c */
int cmd_reload(struct cmdreq *cr);
int cmd_confirm(struct cmdreq *cr);
int cmd_diff(struct cmdreq *cr);
int cmd_disable(struct cmdreq *cr);
int cmd_enable(struct cmdreq *cr);

/* cmd-stats.c */
int cmd_stats(struct cmdreq *cr);

/* cmd-audit.c */
int cmd_audit(struct cmdreq *cr);

/* cmd-log.c */
int cmd_log(struct cmdreq *cr);

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
