// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's commands: fwctl sends its words, fwd finds the
 * command's row, checks its options and word count against the row's usage
 * line, and runs it. The commands themselves live by family in cmd-*.c
 * (cmd.h); what they share to answer (quoted words, JSON into the
 * response, locations, time left) is here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "state.h"
#include "util.h"

const char *qword(char *buf, const char *w)
{
	return fwd_quote(buf, w, strlen(w), QWORD_MAX);
}

void jbuf_open(struct jbuf *b)
{
	b->text = NULL;
	b->len = 0;
	b->f = open_memstream(&b->text, &b->len);
	if (!b->f)
		abort();	/* OOM policy: abort */
	json_init(&b->j, b->f);
}

void jbuf_close(struct jbuf *b, struct fwd_response *resp)
{
	json_finish(&b->j);
	fclose(b->f);
	fwd_response_write(resp, b->text, b->len);
	free(b->text);
}

uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* Where a policy element comes from: FILE:LINE; no file and no line is an
 * edit made live with fwctl (not yet read back from the edits file). */
void fmt_loc(const struct fwd_loc *l, char *buf, size_t len)
{
	if (l->file)
		snprintf(buf, len, "%s:%u", l->file, l->line);
	else if (l->line)
		snprintf(buf, len, "built-in:%u", l->line);
	else
		snprintf(buf, len, "fwctl");
}

void fmt_left(uint64_t expires, char *buf, size_t len)
{
	uint64_t now = now_s(), left = expires > now ? expires - now : 0;

	if (!expires)
		snprintf(buf, len, "permanent");
	else if (left >= 86400)
		snprintf(buf, len, "%llud%lluh left", (unsigned long long)(left / 86400),
			 (unsigned long long)(left % 86400 / 3600));
	else if (left >= 3600)
		snprintf(buf, len, "%lluh%llum left", (unsigned long long)(left / 3600),
			 (unsigned long long)(left % 3600 / 60));
	else
		snprintf(buf, len, "%llum%llus left", (unsigned long long)(left / 60),
			 (unsigned long long)(left % 60));
}

void fmt_until(uint64_t expires, char *buf, size_t len)
{
	char when[48], left[32];
	time_t t = (time_t)expires;
	struct tm tm;

	if (!expires) {
		snprintf(buf, len, "permanent");
		return;
	}
	if (!localtime_r(&t, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%d %H:%M %Z", &tm))
		snprintf(when, sizeof(when), "%llu", (unsigned long long)expires);
	fmt_left(expires, left, sizeof(left));
	snprintf(buf, len, "until %s (%s)", when, left);
}

void fmt_edit_human(const struct fwd_edit *e, char *buf, size_t len)
{
	struct fwd_edit plain = *e;
	char words[FWD_EDIT_STRLEN], until[96] = "";

	/* The canonical words end in "until EPOCH": say the time instead. */
	plain.expires = 0;
	fwd_edit_format(&plain, words, sizeof(words));
	if (e->expires) {
		until[0] = ' ';
		fmt_until(e->expires, until + 1, sizeof(until) - 1);
	}
	if (!strncmp(words, "list-add ", 9) || !strncmp(words, "list-del ", 9))
		snprintf(buf, len, "list %s %s%s", words[5] == 'a' ? "add" : "del",
			 words + 9, until);
	else
		snprintf(buf, len, "%s%s", words, until);
}

void fmt_duration(uint64_t secs, char *buf, size_t len)
{
	static const struct { char unit; uint64_t s; } u[] = {
		{ 'd', 86400 }, { 'h', 3600 }, { 'm', 60 }, { 's', 1 },
	};
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(u) / sizeof(u[0]) && n < len; i++) {
		if (secs >= u[i].s || (i == 3 && n == 0)) {
			int w = snprintf(buf + n, len - n, "%llu%c",
					 (unsigned long long)(secs / u[i].s), u[i].unit);

			n += w > 0 ? (size_t)w : 0;
			secs %= u[i].s;
		}
	}
}

/* ---- dispatch ---------------------------------------------------------- */

/* A command takes the options its usage line names (--json: every one). */
static bool option_allowed(const struct fwd_cmdinfo *info, const char *opt)
{
	char name[32];
	size_t n = strcspn(opt, "=");
	const char *u;

	if (n >= sizeof(name))
		return false;
	memcpy(name, opt, n);
	name[n] = '\0';
	for (u = strstr(info->usage, name); u; u = strstr(u + 1, name)) {
		char after = u[n];

		if (after == '\0' || after == ' ' || after == ']' || after == '|')
			return true;
	}
	return false;
}

/* Option words are taken out wherever they stand; the rest stay in order. */
static int take_options(struct cmdreq *cr)
{
	int out = 0;

	char q[QWORD_BUF];

	for (int i = 0; i < cr->argc; i++) {
		const char *a = cr->argv[i];

		if (a[0] == '-' && a[1] == '-' && strcmp(a, "--json") != 0 &&
		    !option_allowed(cr->info, a)) {
			fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' does not apply to "
					  "fwctl %s; usage: fwctl %s", qword(q, a), cr->info->name,
					  cr->info->usage);
			return -EINVAL;
		}
		if (strcmp(a, "--json") == 0) {
			cr->json = true;
		} else if (strcmp(a, "--force") == 0) {
			cr->force = true;
		} else if (strcmp(a, "--runtime") == 0) {
			cr->runtime = true;
		} else if (strcmp(a, "--kill-states") == 0) {
			cr->kill_states = true;
		} else if (strcmp(a, "--nft") == 0) {
			cr->nft = true;
		} else if (strcmp(a, "--yes") == 0) {
			cr->yes = true;
		} else if (strcmp(a, "--prometheus") == 0) {
			cr->prometheus = true;
		} else if (strcmp(a, "--allow") == 0) {
			cr->only_allow = true;
		} else if (strcmp(a, "--deny") == 0) {
			cr->only_deny = true;
		} else if (strcmp(a, "--verbose") == 0) {
			cr->verbose = true;
		} else if (strcmp(a, "--generation") == 0 || strncmp(a, "--generation=", 13) == 0) {
			const char *v = a[12] == '=' ? a + 13 : (i + 1 < cr->argc ? cr->argv[++i] : NULL);
			char *end;

			cr->generation = v ? strtoll(v, &end, 10) : -1;
			if (!v || *end || !*v || cr->generation < 0 || cr->generation > UINT32_MAX) {
				fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "--generation takes "
						  "the number `fwctl show` printed");
				return -EINVAL;
			}
		} else if (strcmp(a, "--confirm") == 0 || strncmp(a, "--confirm=", 10) == 0) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < cr->argc ? cr->argv[++i] : NULL);
			uint64_t secs = 0;

			/* The DURATION of `for` (5m, 1h30m); a bare number is
			 * seconds, as --confirm always took. */
			if (v && *v && strspn(v, "0123456789") == strlen(v) && strlen(v) <= 6)
				secs = strtoull(v, NULL, 10);
			else if (!v || fwd_duration_parse(v, strlen(v), &secs) != 0)
				secs = 0;
			if (secs < 1 || secs > 86400) {
				fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "--confirm takes "
						  "a DURATION from 1s to 1d, like 30s, 5m or "
						  "1h30m (a bare number is seconds)");
				return -EINVAL;
			}
			cr->confirm = (long)secs;
		} else if (a[0] == '-' && a[1] == '-') {
			fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "unknown option '%s'; "
					  "usage: fwctl %s", qword(q, a), cr->info->usage);
			return -EINVAL;
		} else {
			cr->argv[out++] = cr->argv[i];
		}
	}
	cr->argc = out;
	return 0;
}

/* More words than the usage line has room for: say so with the usage,
 * rather than run the command as if they were not there. */
static int check_word_count(struct cmdreq *cr)
{
	int max = fwd_cmd_max_words(cr->info);
	char q[QWORD_BUF];

	if (max < 0 || cr->argc <= max)
		return 0;
	fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "unexpected word '%s' after "
			  "fwctl %s; usage: fwctl %s", qword(q, cr->argv[max]),
			  cr->info->name, cr->info->usage);
	return -EINVAL;
}

int fwd_handle_request(void *vctx, const struct fwd_ctl_peer *peer,
		       const struct fwd_request *req, struct fwd_response *resp)
{
	struct cmdreq cr = { .ctx = vctx, .peer = peer, .req = req, .resp = resp,
			     .generation = -1 };
	char **words, q[QWORD_BUF];
	int nw, ret = 0;

	if (req->argc == 0) {
		fwd_response_fail(resp, FWD_EXIT_USAGE, "no command; try `fwctl help`");
		return 0;
	}
	cr.info = fwd_cmd_find((int)req->argc, req->argv, &nw);
	/* A row without fwd's function is one fwctl runs itself. */
	if (!cr.info || cr.info->local || !cr.info->run) {
		fwd_response_fail(resp, FWD_EXIT_USAGE, "unknown command '%s'; try "
				  "`fwctl help`", qword(q, req->argv[0]));
		return 0;
	}
	if (!fwd_ctl_require(resp, peer, cr.info->name, cr.info->role))
		return 0;
	/* A private copy of the words: options are taken out in place. */
	words = calloc(req->argc + 1, sizeof(*words));
	if (!words)
		abort();
	for (size_t i = (size_t)nw; i < req->argc; i++)
		words[i - nw] = req->argv[i];
	cr.argv = words;
	cr.argc = (int)req->argc - nw;
	cr.json = req->flags & FWD_REQ_F_JSON;
	cr.force = req->flags & FWD_REQ_F_FORCE;
	if (cr.info->own_options)
		ret = cr.info->run(&cr);	/* it reads its own options */
	else if (take_options(&cr) == 0 && check_word_count(&cr) == 0)
		ret = cr.info->run(&cr);
	free(words);
	(void)ret;	/* the response carries the outcome */
	return 0;
}

/*
 * The queries whose cost grows with the table (100k elements read back
 * with their counters and rendered, the files compiled for a diff, a big
 * list printed, a port range explained against 100k-entry sets, every
 * socket of the namespace judged by audit) are answered by a forked
 * child, off the event loop (control.h): `fwctl status`, the edits and
 * the table guard never wait behind them. The child runs the same handler
 * on a copy of this state taken when it is forked, so the answer is the
 * one the loop would have given at that moment: explain judges the IR in
 * force then (the kernel's copy of it, by ctx.h's invariant), whatever
 * commit lands while the child works. A request the peer may not make is
 * refused in the loop, where a refusal costs nothing.
 */
bool fwd_handle_offload(void *vctx, const struct fwd_ctl_peer *peer,
			const struct fwd_request *req)
{
	static const char *const slow[] = { "stats", "diff", "list show", "list blocked",
					    "audit" };
	const struct fwd_cmdinfo *info;
	int nw;

	if (req->argc == 0)
		return false;
	info = fwd_cmd_find((int)req->argc, req->argv, &nw);
	if (!info || info->local || peer->role < info->role)
		return false;
	if (strcmp(info->name, "show") == 0 || strcmp(info->name, "status") == 0) {
		/* show --nft and status --verbose read the table back */
		for (size_t i = (size_t)nw; i < req->argc; i++)
			if (strcmp(req->argv[i], "--nft") == 0 ||
			    strcmp(req->argv[i], "--verbose") == 0)
				return true;
		return false;
	}
	/* explain by its cost: a port or two against hash sets is cheaper in
	 * the loop than a fork */
	if (strcmp(info->name, "explain") == 0)
		return fwd_explain_offload(vctx, req->argc - (size_t)nw, req->argv + nw);
	/* audit --save-baseline is the admins': a reader's is refused here */
	if (strcmp(info->name, "audit") == 0 && peer->role < FWD_ROLE_ADMIN)
		for (size_t i = (size_t)nw; i < req->argc; i++)
			if (strcmp(req->argv[i], "--save-baseline") == 0)
				return false;
	for (size_t i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		if (strcmp(info->name, slow[i]) == 0)
			return true;
	return false;
}

/*
 * In the child, before the handler. The parent's netlink socket carries
 * the parent's commits and their acknowledgements: a dump sent through it
 * from here would take answers meant for the parent. The child reads the
 * table through a socket of its own (the parent's is left open: closing
 * it is no business of the child's).
 */
int fwd_handle_child_init(void *vctx)
{
	struct fwd_ctx *ctx = vctx;

	ctx->nl = NULL;
	ctx->mon = NULL;
	return fwd_nl_open(&ctx->nl);
}
