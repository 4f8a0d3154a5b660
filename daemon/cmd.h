/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CMD_H
#define FWD_CMD_H

/*
 * What the control socket's command files share: one request as the
 * dispatcher (commands.c) hands it to a command, and the few helpers every
 * family uses to answer. One file per command family, as wireguard-tools
 * has one per subcommand: cmd-edit.c (allow, deny, block, list add/del,
 * remove, unblock), cmd-query.c (status, show, list show/blocked,
 * explain), cmd-reload.c (reload, confirm, diff, disable, enable),
 * cmd-stats.c (stats). The command table (common/cmdtab.c) names each
 * command's function. status and stats gather what they report into a
 * view first and render it as text or JSON second, as `ip -j` does.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "json.h"
#include "cmdtab.h"
#include "diag.h"

struct fwd_ctx;
struct fwd_ctl_peer;
struct fwd_request;
struct fwd_response;
struct fwd_cmdinfo;
struct fwd_loc;
struct fwd_edit;

struct cmdreq {
	struct fwd_ctx *ctx;
	const struct fwd_ctl_peer *peer;
	const struct fwd_request *req;
	struct fwd_response *resp;
	const struct fwd_cmdinfo *info;
	int argc;			/* positional words after the command name */
	char **argv;
	bool json, force, runtime, kill_states, nft, yes;
	bool only_allow, only_deny;	/* remove --allow / --deny */
	long confirm;			/* reload --confirm DURATION (seconds), 0 = none */
	bool verbose;			/* status --verbose */
	/* remove N --generation G: refuse unless the policy is still at
	 * generation G (-1: not given). */
	long long generation;
	bool prometheus;		/* stats --prometheus (metrics.h) */
	bool unchanged;			/* the edit was already in force */
};

/* JSON into the response: build in a memory stream, then copy. */
struct jbuf {
	char *text;
	size_t len;
	FILE *f;
	struct json_out j;
};

/* A user's word in an error message: control bytes escaped (\x1b), long
 * words cut, so a request cannot write to the admin's terminal or the
 * journal through fwd's answer. */
#define QWORD_MAX 60
#define QWORD_BUF FWD_QUOTE_BUF(QWORD_MAX)

/*
 * Rule numbers (`fwctl show`, `status --verbose`, `remove N`): the policy
 * files' services are 1..S in policy order, then fwctl's edits S+1.. in
 * the order fwd holds them. An edit past its time keeps its number (it is
 * not shown) until fwd tidies it away; every change of the policy moves
 * the generation, which `remove N --generation G` checks.
 */
#define FWD_RULE_NO_SERVICE(i) ((i) + 1)
#define FWD_RULE_NO_EDIT(p, i) ((p)->nservices + (i) + 1)

struct fwd_own_map;
/* Hits per service and allow/deny edit from the live table (cmd-stats.c):
 * om is initialised here (left empty when counters = no); free it with
 * fwd_own_free, also after an error. 0 or -errno. */
int fwd_stats_owners(struct cmdreq *cr, struct fwd_own_map *om);
/* Whether `explain` with these words (after the command's own) is worth
 * a forked worker: many ports, or ports times interval elements
 * (cmd-query.c; fwd_handle_offload asks). */
bool fwd_explain_offload(const struct fwd_ctx *ctx, size_t argc, char *const *argv);

const char *qword(char *buf, const char *w);
void jbuf_open(struct jbuf *b);
void jbuf_close(struct jbuf *b, struct fwd_response *resp);
uint64_t now_s(void);
void fmt_loc(const struct fwd_loc *l, char *buf, size_t len);
void fmt_left(uint64_t expires, char *buf, size_t len);
/* "until 2026-12-05 14:03 UTC (58m0s left)" in fwd's local time, or
 * "permanent": what people read; epoch seconds are for JSON. A runtime
 * edit without expiry is not permanent (it is gone when fwd restarts):
 * callers say "no expiry" for those. */
void fmt_until(uint64_t expires, char *buf, size_t len);
/* An edit in the words a user types ("list add office 192.0.2.9", not the
 * [edits] file's "list-add"), its end as fmt_until says it. */
void fmt_edit_human(const struct fwd_edit *e, char *buf, size_t len);
/* A duration as people write it back: "5m", "1h30m", "2d". */
void fmt_duration(uint64_t secs, char *buf, size_t len);

#endif
