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

struct cmdreq {
	struct fwd_ctx *ctx;
	const struct fwd_ctl_peer *peer;
	const struct fwd_request *req;
	struct fwd_response *resp;
	const struct fwd_cmdinfo *info;
	int argc;			/* positional words after the command name */
	char **argv;
	bool json, force, runtime, kill_states, nft, yes;
	bool prometheus;		/* stats --prometheus (metrics.h) */
	long confirm;			/* reload --confirm SECONDS, 0 = none */
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

const char *qword(char *buf, const char *w);
void jbuf_open(struct jbuf *b);
void jbuf_close(struct jbuf *b, struct fwd_response *resp);
uint64_t now_s(void);
void fmt_loc(const struct fwd_loc *l, char *buf, size_t len);
void fmt_left(uint64_t expires, char *buf, size_t len);

#endif
