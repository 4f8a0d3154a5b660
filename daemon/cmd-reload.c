// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl's commands on the policy as a whole: reload (with --confirm),
 * confirm, diff (a dry run of reload), disable and enable. Each goes
 * through the one commit path (commit.c); diff stops before the kernel.
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

/* ---- reload / confirm / diff --------------------------------------- */

static void respond_diags(struct cmdreq *cr, const char *what, const struct fwd_diags *d)
{
	/* A read-role peer learns where the files are wrong, not what root-only
	 * files say: the quoted words stay out of its answer. */
	unsigned flags = cr->peer->role < FWD_ROLE_ADMIN ? FWD_DIAG_NO_SOURCE : 0;

	fwd_response_clear(cr->resp);
	cr->resp->status = FWD_EXIT_FAIL;
	for (size_t i = 0; i < d->n; i++) {
		char *s = fwd_diag_format_opts(&d->v[i], flags);

		fwd_response_eprintf(cr->resp, "%s\n", s ? s : "(out of memory)");
		free(s);
	}
	fwd_response_eprintf(cr->resp, "fwd: %s failed; the running rules are unchanged\n",
			     what);
}

/*
 * Re-read the files and apply only the difference, by the commit path: a
 * fast reload when only list members changed (a line of a list file), else
 * the compiler and an element delta, or a replace when chains changed.
 */
int cmd_reload(struct cmdreq *cr)
{
	struct fwd_ctx *ctx = cr->ctx;
	struct fwd_change ch = { .src = FWD_SRC_RELOAD, .force = cr->force,
				 .confirm = cr->confirm,
				 .ssh = fwd_request_getenv(cr->req, "SSH_CONNECTION") };
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret) {
		if (ch.stage == FWD_STAGE_GUARD || ch.stage == FWD_STAGE_EMPTY ||
		    ch.stage == FWD_STAGE_STATE)
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "reload refused: %s",
					  ch.why);
		else if (ch.stage == FWD_STAGE_CONFIRM)
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot save the "
					  "rollback point: %s", strerror(-ret));
		else
			respond_diags(cr, "reload", &d);
		goto out;
	}
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "ok"); json_bool(&b.j, true);
		json_key(&b.j, "generation"); json_uint(&b.j, ctx->generation);
		json_key(&b.j, "confirm_seconds");
		if (cr->confirm > 0)
			json_int(&b.j, cr->confirm);
		else
			json_null(&b.j);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
	} else {
		char dur[32];

		fmt_duration((uint64_t)cr->confirm, dur, sizeof(dur));
		fwd_response_printf(cr->resp, "reloaded: generation %u\n", ctx->generation);
		if (cr->confirm > 0)
			fwd_response_printf(cr->resp, "run `fwctl confirm` within %s "
					    "or the previous rules come back\n", dur);
	}
	fwd_log(LOG_INFO, "fwctl reload by uid %u: generation %u%s",
		(unsigned)cr->peer->uid, ctx->generation,
		cr->confirm > 0 ? ", confirm pending" : "");
out:
	fwd_diags_free(&d);
	return ret;
}

int cmd_confirm(struct cmdreq *cr)
{
	if (!cr->ctx->confirm_deadline) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "nothing to confirm");
		return -ENOENT;
	}
	fwd_confirm_disarm(cr->ctx);
	fwd_log(LOG_INFO, "fwctl confirm by uid %u: generation %u stays",
		(unsigned)cr->peer->uid, cr->ctx->generation);
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "ok"); json_bool(&b.j, true);
		json_key(&b.j, "generation"); json_uint(&b.j, cr->ctx->generation);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
	} else {
		fwd_response_printf(cr->resp, "confirmed: generation %u stays\n",
				    cr->ctx->generation);
	}
	return 0;
}

/*
 * diff exits as diff(1) does: 0 when a reload would change nothing, 1 when
 * it would change something (the changes on stdout, as with 0), 2 when
 * there is trouble (the files do not compile); 3-6 keep fwctl's meanings.
 */
#define DIFF_CHANGES FWD_EXIT_FAIL
#define DIFF_TROUBLE FWD_EXIT_USAGE

int cmd_diff(struct cmdreq *cr)
{
	/* The files read and compiled by the commit path, as a reload would
	 * (with the running --runtime edits), and nothing committed. */
	struct fwd_change ch = { .src = FWD_SRC_RELOAD, .dry_run = true, .force = true };
	struct fwd_ir *newir = NULL;
	struct fwd_ir_delta delta;
	struct fwd_diags d;
	struct jbuf jb;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_change_commit(cr->ctx, &ch, &d);
	newir = ch.out;
	if (ret) {
		respond_diags(cr, "diff", &d);
		cr->resp->status = DIFF_TROUBLE;
		goto out;
	}
	ret = fwd_ir_diff(cr->ctx->ir, newir, &delta);
	if (ret) {
		fwd_response_fail(cr->resp, DIFF_TROUBLE, "diff: %s", strerror(-ret));
		goto out;
	}
	if (cr->json) {
		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "rules_changed"); json_bool(&jb.j, delta.shape_changed);
		json_key(&jb.j, "changes");
		json_arr_begin(&jb.j);
	} else if (delta.shape_changed) {
		fwd_response_printf(cr->resp, "~ chains: [defaults] differ "
				    "(reload replaces the whole table atomically)\n");
	}
	for (size_t i = 0; i < delta.nsets; i++) {
		const struct fwd_ir_delta_set *ds = &delta.sets[i];
		const struct fwd_ir_set *s = &newir->sets[ds->set];

		for (int pass = 0; pass < 2; pass++) {
			const struct fwd_ir_elem *v = pass ? ds->add : ds->del;
			size_t n = pass ? ds->nadd : ds->ndel;

			for (size_t k = 0; k < n; k++) {
				char e[256], l[128];

				fwd_ir_elem_format(s, &v[k], e, sizeof(e));
				fmt_loc(&v[k].loc, l, sizeof(l));
				if (cr->json) {
					json_obj_begin(&jb.j);
					json_key(&jb.j, "op"); json_str(&jb.j, pass ? "add" : "delete");
					json_key(&jb.j, "set"); json_str(&jb.j, s->name);
					json_key(&jb.j, "element"); json_str(&jb.j, e);
					json_key(&jb.j, "source"); json_str(&jb.j, pass ? l : "running");
					json_obj_end(&jb.j);
				} else {
					fwd_response_printf(cr->resp, "%c %-14s %s%s%s\n",
							    pass ? '+' : '-', s->name, e,
							    pass ? "  " : "", pass ? l : "");
				}
			}
		}
	}
	if (cr->json) {
		json_arr_end(&jb.j);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
	} else if (!delta.shape_changed && delta.nadd + delta.ndel == 0) {
		fwd_response_printf(cr->resp, "no difference: the running rules are the files'\n");
	}
	if (delta.shape_changed || delta.nadd + delta.ndel)
		cr->resp->status = DIFF_CHANGES;
	fwd_ir_delta_free(&delta);
out:
	fwd_ir_free(newir);
	fwd_diags_free(&d);
	return ret;
}

/* ---- disable / enable ------------------------------------------------ */

int cmd_disable(struct cmdreq *cr)
{
	struct fwd_diags d;
	int ret;

	if (!cr->yes) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "disable opens the host: "
				  "confirm with `fwctl disable --yes`");
		return -EINVAL;
	}
	fwd_diags_init(&d);
	ret = fwd_table_delete(cr->ctx->nl, &d);
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "disable failed, the rules "
				  "stay: %s", d.n ? d.v[0].msg : strerror(-ret));
	} else {
		cr->ctx->disabled = true;
		fwd_log(LOG_WARNING, "fwctl disable by uid %u: table inet %s "
			"deleted, the host is open", (unsigned)cr->peer->uid,
			FWD_TABLE_NAME);
		if (cr->json) {
			struct jbuf b;

			jbuf_open(&b);
			json_obj_begin(&b.j);
			json_key(&b.j, "ok"); json_bool(&b.j, true);
			json_key(&b.j, "disabled"); json_bool(&b.j, true);
			json_key(&b.j, "table"); json_str(&b.j, "inet " FWD_TABLE_NAME);
			json_obj_end(&b.j);
			jbuf_close(&b, cr->resp);
		} else {
			fwd_response_printf(cr->resp, "disabled: table inet %s deleted; the "
					    "host is OPEN until `fwctl enable` or `fwctl "
					    "reload`\n", FWD_TABLE_NAME);
		}
	}
	fwd_diags_free(&d);
	return ret;
}

int cmd_enable(struct cmdreq *cr)
{
	struct fwd_change ch = { .src = FWD_SRC_ENABLE };
	struct fwd_diags d;
	int ret;

	if (!cr->ctx->ir) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no policy to enable");
		return -ENOENT;
	}
	fwd_diags_init(&d);
	ret = fwd_change_commit(cr->ctx, &ch, &d);
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "enable failed: %s",
				  d.n ? d.v[0].msg : strerror(-ret));
	} else {
		fwd_log(LOG_INFO, "fwctl enable by uid %u: the firewall is back",
			(unsigned)cr->peer->uid);
		if (cr->json) {
			struct jbuf b;

			jbuf_open(&b);
			json_obj_begin(&b.j);
			json_key(&b.j, "ok"); json_bool(&b.j, true);
			json_key(&b.j, "generation"); json_uint(&b.j, cr->ctx->generation);
			json_obj_end(&b.j);
			jbuf_close(&b, cr->resp);
		} else {
			fwd_response_printf(cr->resp, "enabled: generation %u\n",
					    cr->ctx->generation);
		}
	}
	fwd_diags_free(&d);
	return ret;
}
