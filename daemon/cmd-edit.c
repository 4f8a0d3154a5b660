// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl's edits: allow, deny, block, list add (cmd_add_kind) and remove,
 * unblock, list del (cmd_del_kind). Every edit goes the same way: change
 * the model, compile, check the SSH session is not cut off, commit the
 * element delta to the kernel, then persist; any failure puts the model
 * and the kernel back as they were and tells the client why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "vloop.h"

/* ---- changing the running policy ------------------------------------ */

typedef int (*mutate_fn)(struct cmdreq *cr, struct fwd_policy *p, void *arg);

/*
 * Whether the edits after a change are those before it, as a multiset (the
 * same edit, the same expiry, the same --runtime): then the request is
 * already in force and nothing needs compiling, sending or writing. A timed
 * edit issued again ends at a new moment, so it is a change.
 */
static bool edits_unchanged(const struct fwd_edit *snap, size_t nsnap,
			    const struct fwd_policy *p)
{
	size_t cap = 16, *slot;
	bool *used, same = true;

	if (p->nedits != nsnap)
		return false;
	if (nsnap == 0 || memcmp(snap, p->edits, nsnap * sizeof(*snap)) == 0)
		return true;
	/* Same count, another order (a list del that records its list-del
	 * again moves it to the end): match each edit once, by hash. */
	while (cap < 2 * nsnap)
		cap *= 2;
	slot = calloc(cap, sizeof(*slot));
	used = calloc(nsnap, sizeof(*used));
	if (!slot || !used)
		abort();
	for (size_t i = 0; i < nsnap; i++) {
		size_t h = (size_t)fwd_edit_hash(&snap[i]) & (cap - 1);

		while (slot[h])
			h = (h + 1) & (cap - 1);
		slot[h] = i + 1;
	}
	for (size_t i = 0; i < p->nedits && same; i++) {
		const struct fwd_edit *e = &p->edits[i];
		size_t h = (size_t)fwd_edit_hash(e) & (cap - 1);

		same = false;
		for (; slot[h]; h = (h + 1) & (cap - 1)) {
			size_t j = slot[h] - 1;

			if (!used[j] && fwd_edit_same(&snap[j], e) &&
			    snap[j].expires == e->expires && snap[j].runtime == e->runtime) {
				used[j] = same = true;
				break;
			}
		}
	}
	free(slot);
	free(used);
	return same;
}

/* A refused or failed change, in the words of the stage that stopped it. */
static void respond_change(struct cmdreq *cr, const struct fwd_change *ch,
			   const struct fwd_diags *d, int ret, const char *what)
{
	char *first = NULL;

	switch (ch->stage) {
	case FWD_STAGE_STATE:
	case FWD_STAGE_GUARD:
	case FWD_STAGE_EMPTY:
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s refused: %s", what, ch->why);
		break;
	case FWD_STAGE_COMPILE:
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s: cannot compile: %s",
				  what, d->n ? d->v[0].msg : strerror(-ret));
		break;
	default:
		first = d->n ? fwd_diag_format(&d->v[0]) : NULL;
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s: the kernel refused "
				  "the change, nothing changed: %s", what,
				  first ? first : strerror(-ret));
		free(first);
		break;
	}
}

/*
 * Only deny, block and remove can make a broad change (fwd_edits_broad):
 * allow, list add/del and unblock never cut more off than a list's own
 * members. Asking only for those three keeps the check (a few scans of the
 * edits: 13 ms at 100k) off the common edit.
 */
static bool may_be_broad(const struct cmdreq *cr)
{
	return !strcmp(cr->info->name, "deny") || !strcmp(cr->info->name, "block") ||
	       !strcmp(cr->info->name, "remove");
}

/*
 * The one way an edit reaches the kernel: change the model, then the
 * commit path (commit.h) does the rest. The edits array is snapshotted
 * (edits hold no pointers of their own) so any failure restores it, and an
 * edit that changes nothing stops here: "already in force".
 */
static int change_policy(struct cmdreq *cr, mutate_fn mutate, void *arg,
			 bool persist, const bool *fast, const char *what)
{
	struct fwd_ctx *ctx = cr->ctx;
	struct fwd_policy *p = ctx->policy;
	struct fwd_change ch = { .src = FWD_SRC_EDIT, .policy = p, .persist = persist,
				 .force = cr->force, .first_new = p->nedits,
				 .ssh = fwd_request_getenv(cr->req, "SSH_CONNECTION") };
	struct fwd_edit *snap = NULL;
	size_t nsnap = p->nedits;
	struct fwd_diags d;
	char why[512];
	int ret;

	fwd_diags_init(&d);
	if (ctx->disabled) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s refused: fwd is disabled "
				  "(no table in the kernel); `fwctl enable` first", what);
		fwd_diags_free(&d);
		return -EPERM;
	}
	if (ctx->model_unknown) {
		/* Compiling the model fwd has would not give the running
		 * rules plus this edit (commit.h). */
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s refused: %s; `fwctl "
				  "reload` applies the files first (fwctl check says "
				  "what is wrong with them)", what, ctx->model_unknown);
		fwd_diags_free(&d);
		return -ESTALE;
	}
	if (persist && ctx->degraded) {
		/* The running model is not the files' (they have errors):
		 * rewriting the edits file from it would lose its contents. */
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s refused: fwd is degraded "
				  "(%s); fix the policy files (fwctl check) or add "
				  "--runtime for a change that is not saved", what,
				  ctx->degraded);
		fwd_diags_free(&d);
		return -EPERM;
	}
	if (nsnap) {
		snap = malloc(nsnap * sizeof(*snap));
		if (!snap)
			abort();
		memcpy(snap, p->edits, nsnap * sizeof(*snap));
	}
	ret = mutate(cr, p, arg);
	if (ret)
		goto restore;
	if (edits_unchanged(snap, nsnap, p)) {
		/* Put the array back as it was (order included). */
		cr->unchanged = true;
		goto restore;
	}
	if (!cr->yes && may_be_broad(cr) &&
	    fwd_edits_broad(p, snap, nsnap, now_s(), why, sizeof(why))) {
		/* Decided here, not in fwctl: a client that talks to the
		 * socket itself must confirm just the same. */
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s refused without "
				  "confirmation: %s. Nothing changed; add --yes to "
				  "do it (fwctl asks on a terminal)", cr->info->name, why);
		cr->resp->flags |= FWD_RESP_F_CONFIRM;
		ret = -ECANCELED;
		goto restore;
	}
	/* Pure additions usually need no recompile: the commit path patches
	 * the running IR and sends just those elements. */
	ch.additions = fast && *fast && p->nedits > nsnap;
	ret = fwd_change_commit(ctx, &ch, &d);
	if (ret) {
		respond_change(cr, &ch, &d, ret, what);
		goto restore;
	}
	if (ch.persist_err) {
		/* The kernel has it but the disk does not: say so rather
		 * than pretend; the edit stays live. */
		fwd_response_eprintf(cr->resp, "fwd: warning: %s is live but could "
				     "not be saved: %s\n", what, strerror(-ch.persist_err));
	}
	free(snap);
	fwd_diags_free(&d);
	return 0;

restore:
	free(p->edits);
	p->edits = snap;
	p->nedits = p->edits_cap = nsnap;
	fwd_diags_free(&d);
	if (ret && cr->resp->status == FWD_EXIT_OK)
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s failed: %s", what,
				  strerror(-ret));
	return ret;
}

/* ---- allow / deny / block / list add / list del ------------------- */

struct add_arg {
	struct fwd_edit *edits;
	size_t n;
	bool fast;		/* only new edits appended: the fast path may apply */
};

/*
 * An index of p->edits by fwd_edit_hash (open addressing), so that a batch
 * of N additions costs O(N + edits), not O(N x edits).
 */
struct edit_index {
	size_t *slot;			/* edit index + 1; 0 = empty */
	size_t mask;
};

static void index_put(struct edit_index *ix, const struct fwd_policy *p, size_t i)
{
	size_t h = (size_t)fwd_edit_hash(&p->edits[i]) & ix->mask;

	while (ix->slot[h])
		h = (h + 1) & ix->mask;
	ix->slot[h] = i + 1;
}

static void index_build(struct edit_index *ix, const struct fwd_policy *p, size_t extra)
{
	size_t cap = 16;

	while (cap < 2 * (p->nedits + extra))
		cap *= 2;
	ix->slot = calloc(cap, sizeof(*ix->slot));
	if (!ix->slot)
		abort();
	ix->mask = cap - 1;
	for (size_t i = 0; i < p->nedits; i++)
		index_put(ix, p, i);
}

static ssize_t index_find(const struct edit_index *ix, const struct fwd_policy *p,
			  const struct fwd_edit *e)
{
	size_t h = (size_t)fwd_edit_hash(e) & ix->mask;

	for (; ix->slot[h]; h = (h + 1) & ix->mask)
		if (fwd_edit_same(&p->edits[ix->slot[h] - 1], e))
			return (ssize_t)(ix->slot[h] - 1);
	return -1;
}

static int mutate_add(struct cmdreq *cr, struct fwd_policy *p, void *arg)
{
	struct add_arg *a = arg;
	struct edit_index ix;
	char err[512];
	int ret = 0;

	index_build(&ix, p, a->n);
	for (size_t i = 0; i < a->n; i++) {
		ssize_t j;

		a->edits[i].runtime = cr->runtime;
		/* Re-adding the same edit replaces its expiry instead of
		 * stacking a duplicate. */
		j = index_find(&ix, p, &a->edits[i]);
		if (j >= 0) {
			p->edits[j].expires = a->edits[i].expires;
			p->edits[j].runtime = a->edits[i].runtime;
			a->fast = false;
			continue;
		}
		if (fwd_policy_add_edit(p, &a->edits[i], err, sizeof(err)) != 0) {
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s", err);
			ret = -EINVAL;
			break;
		}
		index_put(&ix, p, p->nedits - 1);
	}
	free(ix.slot);
	return ret;
}

/* KIND + the positional words, the first `-` standing for the lines of
 * the request's stdin (fwd_edit_parse_batch: comments, stdin:LINE). */
static int parse_edit_words(struct cmdreq *cr, const char *kind,
			    struct fwd_edit **edits, size_t *n)
{
	const char **w = calloc((size_t)cr->argc + 2, sizeof(*w));
	char err[600];
	int ret;

	if (!w)
		abort();
	w[0] = kind;
	for (int i = 0; i < cr->argc; i++)
		w[i + 1] = cr->argv[i];
	*edits = NULL;
	*n = 0;
	/* Timeouts are whole seconds against a clock already part-way into
	 * its second: count "for 3s" from the next second so an entry never
	 * lasts less than asked (it lasts up to one second more). */
	ret = fwd_edit_parse_batch_hints(cr->argc + 1, w,
					 cr->req->has_stdin ? cr->req->stdin_data : NULL,
					 cr->req->stdin_len, now_s() + 1, NULL,
					 cr->ctx->policy, edits, n, err, sizeof(err));
	if (ret)
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "%s", err);
	free(w);
	return ret;
}

static void print_edits(struct cmdreq *cr, const char *verb,
			const struct fwd_edit *e, size_t n)
{
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "ok"); json_bool(&b.j, true);
		json_key(&b.j, "generation"); json_uint(&b.j, cr->ctx->generation);
		json_key(&b.j, "already_in_force"); json_bool(&b.j, cr->unchanged);
		json_key(&b.j, verb);
		json_arr_begin(&b.j);
		for (size_t i = 0; i < n; i++) {
			char buf[256];

			fwd_edit_format(&e[i], buf, sizeof(buf));
			json_str(&b.j, buf);
		}
		json_arr_end(&b.j);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char buf[256];

		fwd_edit_format(&e[i], buf, sizeof(buf));
		/* Nothing was compiled, sent or written: say so. */
		fwd_response_printf(cr->resp, "%s: %s%s\n",
				    cr->unchanged ? "already in force" : verb, buf,
				    cr->runtime ? " (runtime only)" : "");
	}
}

static int cmd_add_kind(struct cmdreq *cr, const char *kind, const char *verb)
{
	struct fwd_edit *edits = NULL;
	struct add_arg a;
	size_t n = 0;
	int ret;

	ret = parse_edit_words(cr, kind, &edits, &n);
	if (ret)
		return ret;
	a.edits = edits;
	a.n = n;
	a.fast = true;
	ret = change_policy(cr, mutate_add, &a, !cr->runtime, &a.fast, kind);
	if (ret == 0) {
		fwd_log(LOG_INFO, "%s: uid %u: %s (%zu entr%s)", __func__,
			(unsigned)cr->peer->uid, kind, n, n == 1 ? "y" : "ies");
		print_edits(cr, verb, edits, n);
	}
	free(edits);
	return ret;
}

int cmd_allow(struct cmdreq *cr) { return cmd_add_kind(cr, "allow", "allowed"); }
int cmd_deny(struct cmdreq *cr) { return cmd_add_kind(cr, "deny", "denied"); }
int cmd_block(struct cmdreq *cr) { return cmd_add_kind(cr, "block", "blocked"); }
int cmd_list_add(struct cmdreq *cr) { return cmd_add_kind(cr, "list-add", "added"); }

/* ---- remove / unblock / list del ----------------------------------- */

struct del_arg {
	struct fwd_edit *want;		/* parsed from the words */
	size_t n;
	size_t removed;
	bool *matched;			/* per want */
	bool list_del;			/* unmatched list members get a list-del edit */
};

/* Whether list `name` as written in the files holds exactly addr. */
static bool base_list_has(const struct fwd_policy *p, const char *name,
			  const struct fwd_addr *addr)
{
	for (size_t i = 0; i < p->nlists; i++) {
		if (strcmp(p->lists[i].name, name) != 0)
			continue;
		for (size_t j = 0; j < p->lists[i].n; j++) {
			const struct fwd_addr *m = &p->lists[i].addrs[j];

			if (m->family == addr->family && m->prefix == addr->prefix &&
			    memcmp(m->a, addr->a, fwd_addr_len(m)) == 0)
				return true;
		}
	}
	return false;
}

/*
 * For a remove that matches no fwctl rule: the policy line that lets
 * (or denies) that traffic now, as " (it comes from FILE:LINE; change it
 * there)", or "" when the running rules do not name one.
 */
static void where_written(const struct cmdreq *cr, const struct fwd_edit *w,
			  char *buf, size_t len)
{
	struct fwd_explain ex;

	buf[0] = '\0';
	if ((w->kind != FWD_EDIT_ALLOW && w->kind != FWD_EDIT_DENY) ||
	    w->peer != FWD_PEER_ADDR || !fwd_addr_is_host(&w->addr) ||
	    w->ports.lo != w->ports.hi || !cr->ctx->ir)
		return;
	if (fwd_ir_explain(cr->ctx->ir, w->dir == FWD_DIR_OUT ? FWD_CHAIN_OUTPUT :
			   FWD_CHAIN_INPUT, w->addr.family, w->addr.a, w->ports.proto,
			   w->ports.lo, &ex) != 0 || ex.by_policy || !ex.elem ||
	    !ex.loc.file || !ex.loc.line)
		return;
	if ((w->kind == FWD_EDIT_ALLOW) != (ex.verdict == FWD_V_ACCEPT))
		return;
	snprintf(buf, len, "; it comes from %s:%u, change it there", ex.loc.file,
		 ex.loc.line);
}

static int mutate_del(struct cmdreq *cr, struct fwd_policy *p, void *arg)
{
	struct del_arg *a = arg;
	struct edit_index ix;
	bool *gone = calloc(p->nedits ? p->nedits : 1, sizeof(bool));
	size_t out = 0;
	char err[512];
	int ret = 0;

	if (!gone)
		abort();
	/* Mark every edit a wanted one names (allow matches deny too, a
	 * list del matches a list add), then compact the array once. */
	index_build(&ix, p, 0);
	for (size_t i = 0; i < a->n; i++) {
		struct fwd_edit w = a->want[i];
		int kinds[2] = { (int)w.kind, -1 };

		if (w.kind == FWD_EDIT_ALLOW)
			kinds[1] = FWD_EDIT_DENY;
		else if (w.kind == FWD_EDIT_LIST_DEL)
			kinds[1] = FWD_EDIT_LIST_ADD;
		for (int k = 0; k < 2 && kinds[k] >= 0; k++) {
			ssize_t j;

			w.kind = (enum fwd_edit_kind)kinds[k];
			j = index_find(&ix, p, &w);
			if (j >= 0 && !gone[j]) {
				gone[j] = true;
				a->matched[i] = true;
				a->removed++;
			}
		}
	}
	free(ix.slot);
	for (size_t j = 0; j < p->nedits; j++)
		if (!gone[j])
			p->edits[out++] = p->edits[j];
	p->nedits = out;
	free(gone);

	for (size_t i = 0; i < a->n; i++) {
		char buf[256], where[4200];

		if (a->list_del && base_list_has(p, a->want[i].list, &a->want[i].addr)) {
			/* A member from a hand-written file: fwd never rewrites
			 * that file, so record the removal as an edit. */
			a->want[i].runtime = cr->runtime;
			if (fwd_policy_add_edit(p, &a->want[i], err, sizeof(err)) != 0) {
				fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "%s", err);
				ret = -EINVAL;
				break;
			}
			a->matched[i] = true;
			a->removed++;
			continue;
		}
		if (a->matched[i])
			continue;
		fwd_edit_format(&a->want[i], buf, sizeof(buf));
		where_written(cr, &a->want[i], where, sizeof(where));
		if (a->list_del) {
			/* `list del ofice ADDR`: the list's name misspelt. */
			const char *l = fwd_policy_suggest_list(p, a->want[i].list,
								strlen(a->want[i].list));

			if (l && strcmp(l, a->want[i].list))
				snprintf(where, sizeof(where), "; did you mean list '%s'?", l);
		}
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL,
				  "no fwctl rule matches '%s' (rules written in the "
				  "policy files are changed there; see `fwctl show`)%s",
				  buf, where);
		ret = -ENOENT;
		break;
	}
	return ret;
}

static int cmd_del_kind(struct cmdreq *cr, const char *kind, const char *verb,
			bool list_del)
{
	struct fwd_edit *want = NULL;
	struct del_arg a = { 0 };
	size_t n = 0;
	int ret;

	ret = parse_edit_words(cr, kind, &want, &n);
	if (ret)
		return ret;
	a.want = want;
	a.n = n;
	a.list_del = list_del;
	a.matched = calloc(n ? n : 1, sizeof(bool));
	if (!a.matched)
		abort();
	ret = change_policy(cr, mutate_del, &a, !cr->runtime, NULL, kind);
	if (ret == 0) {
		if (cr->kill_states) {
			unsigned killed = 0;

			for (size_t i = 0; i < n; i++) {
				unsigned k = 0;

				if (fwd_ct_kill_edit(&want[i], &k) == 0)
					killed += k;
			}
			fwd_response_printf(cr->resp, "ended %u tracked connection%s\n",
					    killed, killed == 1 ? "" : "s");
		}
		/* A guard block lifted: the verdict loop forgets it too. */
		for (size_t i = 0; i < n; i++)
			if (want[i].kind == FWD_EDIT_BLOCK)
				fwd_vloop_unblocked(cr->ctx, &want[i].addr);
		print_edits(cr, verb, want, n);
	}
	free(a.matched);
	free(want);
	return ret;
}

int cmd_remove(struct cmdreq *cr) { return cmd_del_kind(cr, "allow", "removed", false); }
int cmd_unblock(struct cmdreq *cr) { return cmd_del_kind(cr, "block", "unblocked", false); }
int cmd_list_del(struct cmdreq *cr) { return cmd_del_kind(cr, "list-del", "removed", true); }
