// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control socket's commands: fwctl sends its words, fwd parses them
 * here and answers in human text or JSON. Every edit goes the same way:
 * change the model, compile, check the SSH session is not cut off, commit
 * the element delta to the kernel, then persist; any failure puts the
 * model and the kernel back as they were and tells the client why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ctl/json.h"
#include "cmdtab.h"
#include "edit.h"
#include "fwd.h"
#include "log.h"
#include "state.h"
#include "util.h"

struct cmdreq {
	struct fwd_ctx *ctx;
	const struct fwd_ctl_peer *peer;
	const struct fwd_request *req;
	struct fwd_response *resp;
	const struct fwd_cmdinfo *info;
	int argc;			/* positional words after the command name */
	char **argv;
	bool json, force, runtime, kill_states, nft, yes;
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

static const char *qword(char *buf, const char *w)
{
	return fwd_quote(buf, w, strlen(w), QWORD_MAX);
}

static void jbuf_open(struct jbuf *b)
{
	b->text = NULL;
	b->len = 0;
	b->f = open_memstream(&b->text, &b->len);
	if (!b->f)
		abort();	/* OOM policy: abort */
	json_init(&b->j, b->f);
}

static void jbuf_close(struct jbuf *b, struct fwd_response *resp)
{
	json_finish(&b->j);
	fclose(b->f);
	fwd_response_write(resp, b->text, b->len);
	free(b->text);
}

static uint64_t now_s(void)
{
	return (uint64_t)time(NULL);
}

/* Where a policy element comes from: FILE:LINE; no file and no line is an
 * edit made live with fwctl (not yet read back from the edits file). */
static void fmt_loc(const struct fwd_loc *l, char *buf, size_t len)
{
	if (l->file)
		snprintf(buf, len, "%s:%u", l->file, l->line);
	else if (l->line)
		snprintf(buf, len, "built-in:%u", l->line);
	else
		snprintf(buf, len, "fwctl");
}

static void fmt_left(uint64_t expires, char *buf, size_t len)
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
	ret = fwd_edit_parse_batch(cr->argc + 1, w,
				   cr->req->has_stdin ? cr->req->stdin_data : NULL,
				   cr->req->stdin_len, now_s() + 1, NULL, edits, n,
				   err, sizeof(err));
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

static int cmd_allow(struct cmdreq *cr) { return cmd_add_kind(cr, "allow", "allowed"); }
static int cmd_deny(struct cmdreq *cr) { return cmd_add_kind(cr, "deny", "denied"); }
static int cmd_block(struct cmdreq *cr) { return cmd_add_kind(cr, "block", "blocked"); }
static int cmd_list_add(struct cmdreq *cr) { return cmd_add_kind(cr, "list-add", "added"); }

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
		print_edits(cr, verb, want, n);
	}
	free(a.matched);
	free(want);
	return ret;
}

static int cmd_remove(struct cmdreq *cr) { return cmd_del_kind(cr, "allow", "removed", false); }
static int cmd_unblock(struct cmdreq *cr) { return cmd_del_kind(cr, "block", "unblocked", false); }
static int cmd_list_del(struct cmdreq *cr) { return cmd_del_kind(cr, "list-del", "removed", true); }

/* ---- queries ---------------------------------------------------------- */

static size_t count_elems(const struct fwd_ir *ir)
{
	size_t n = 0;

	for (size_t i = 0; ir && i < ir->nsets; i++)
		n += ir->sets[i].n;
	return n;
}

static size_t count_edits(const struct fwd_policy *p, int kind, bool runtime_only)
{
	size_t n = 0;
	uint64_t now = now_s();

	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->expires && e->expires <= now)
			continue;
		if ((kind < 0 || (int)e->kind == kind) && (!runtime_only || e->runtime))
			n++;
	}
	return n;
}

static int cmd_status(struct cmdreq *cr)
{
	struct fwd_ctx *ctx = cr->ctx;
	const struct fwd_policy *p = ctx->policy;
	struct fwd_ctl_stats cs = { 0 };
	time_t now = time(NULL);
	char when[64];

	fwd_ctl_server_stats(ctx->ctl, &cs);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&ctx->applied));
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "running"); json_bool(&b.j, true);
		json_key(&b.j, "version"); json_str(&b.j, FWD_VERSION);
		json_key(&b.j, "pid"); json_uint(&b.j, (uint64_t)getpid());
		json_key(&b.j, "uptime"); json_uint(&b.j, (uint64_t)(now - ctx->started));
		json_key(&b.j, "config"); json_str(&b.j, ctx->config);
		json_key(&b.j, "builtin_default"); json_bool(&b.j, ctx->builtin);
		json_key(&b.j, "files");
		json_arr_begin(&b.j);
		for (size_t i = 0; p && i < p->nfiles; i++)
			json_str(&b.j, p->files[i]);
		json_arr_end(&b.j);
		json_key(&b.j, "generation"); json_uint(&b.j, ctx->generation);
		json_key(&b.j, "applied"); json_int(&b.j, (int64_t)ctx->applied);
		json_key(&b.j, "disabled"); json_bool(&b.j, ctx->disabled);
		json_key(&b.j, "guard_restores"); json_uint(&b.j, ctx->restores);
		json_key(&b.j, "degraded");
		if (ctx->degraded)
			json_str(&b.j, ctx->degraded);
		else
			json_null(&b.j);
		json_key(&b.j, "services"); json_uint(&b.j, p ? p->nservices : 0);
		json_key(&b.j, "lists"); json_uint(&b.j, p ? p->nlists : 0);
		json_key(&b.j, "edits"); json_uint(&b.j, p ? count_edits(p, -1, false) : 0);
		json_key(&b.j, "runtime_edits"); json_uint(&b.j, p ? count_edits(p, -1, true) : 0);
		json_key(&b.j, "blocked"); json_uint(&b.j, p ? count_edits(p, FWD_EDIT_BLOCK, false) : 0);
		json_key(&b.j, "sets"); json_uint(&b.j, ctx->ir ? ctx->ir->nsets : 0);
		json_key(&b.j, "elements"); json_uint(&b.j, count_elems(ctx->ir));
		json_key(&b.j, "confirm_pending");
		if (ctx->confirm_deadline)
			json_int(&b.j, (int64_t)(ctx->confirm_deadline - now));
		else
			json_null(&b.j);
		json_key(&b.j, "kernel");
		json_obj_begin(&b.j);
		json_key(&b.j, "concat_interval"); json_bool(&b.j, ctx->feat.concat_interval);
		json_key(&b.j, "set_timeout"); json_bool(&b.j, ctx->feat.set_timeout);
		json_key(&b.j, "native_queue"); json_bool(&b.j, ctx->feat.native_queue);
		json_key(&b.j, "xt_nfqueue"); json_bool(&b.j, ctx->feat.xt_nfqueue);
		json_key(&b.j, "table_owner"); json_bool(&b.j, ctx->feat.table_owner);
		json_key(&b.j, "table_persist"); json_bool(&b.j, ctx->feat.table_persist);
		json_obj_end(&b.j);
		json_key(&b.j, "queue"); json_null(&b.j);
		json_key(&b.j, "control");
		json_obj_begin(&b.j);
		json_key(&b.j, "served"); json_uint(&b.j, cs.served);
		json_key(&b.j, "busy"); json_uint(&b.j, cs.busy);
		json_key(&b.j, "timeouts"); json_uint(&b.j, cs.timeouts);
		json_key(&b.j, "malformed"); json_uint(&b.j, cs.malformed);
		json_obj_end(&b.j);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
		return 0;
	}
	fwd_response_printf(cr->resp, "fwd %s running, pid %d, up %lds\n", FWD_VERSION,
			    (int)getpid(), (long)(now - ctx->started));
	if (ctx->builtin)
		fwd_response_printf(cr->resp, "policy:     built-in default (no file at %s)\n",
				    ctx->config);
	else
		fwd_response_printf(cr->resp, "policy:     %s (%zu file%s)\n", ctx->config,
				    p ? p->nfiles : 0, p && p->nfiles == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "state:      %s\n",
			    ctx->disabled ? "DISABLED: no table, the host is open "
			    "(fwctl enable)" :
			    ctx->degraded ? ctx->degraded : "ok, running the policy files");
	if (ctx->restores)
		fwd_response_printf(cr->resp, "guard:      the table was changed by "
				    "others and restored %llu time%s (see the log)\n",
				    ctx->restores, ctx->restores == 1 ? "" : "s");
	fwd_response_printf(cr->resp, "generation: %u, applied %s\n", ctx->generation, when);
	if (p)
		fwd_response_printf(cr->resp, "policy:     %zu services, %zu lists, %zu "
				    "fwctl edits (%zu runtime only), %zu blocked\n",
				    p->nservices, p->nlists, count_edits(p, -1, false),
				    count_edits(p, -1, true), count_edits(p, FWD_EDIT_BLOCK, false));
	fwd_response_printf(cr->resp, "kernel:     table inet %s, %zu sets, %zu elements\n",
			    FWD_TABLE_NAME, ctx->ir ? ctx->ir->nsets : 0, count_elems(ctx->ir));
	fwd_response_printf(cr->resp, "features:   concat-interval %s, timeouts %s, "
			    "queue %s, owner %s, persist %s\n",
			    ctx->feat.concat_interval ? "yes" : "no",
			    ctx->feat.set_timeout ? "yes" : "no",
			    ctx->feat.native_queue ? "native" :
			    ctx->feat.xt_nfqueue ? "xt NFQUEUE" : "none",
			    ctx->feat.table_owner ? "yes" : "no",
			    ctx->feat.table_persist ? "yes" : "no");
	fwd_response_printf(cr->resp, "queue:      not in use (no rule hands packets up)\n");
	if (ctx->confirm_deadline)
		fwd_response_printf(cr->resp, "confirm:    pending, reverts in %lds unless "
				    "`fwctl confirm`\n", (long)(ctx->confirm_deadline - now));
	fwd_response_printf(cr->resp, "control:    %llu requests served, %llu busy, "
			    "%llu timed out, %llu malformed\n", cs.served, cs.busy,
			    cs.timeouts, cs.malformed);
	return 0;
}

static void ports_text(const struct fwd_ports *pr, char *buf, size_t len)
{
	if (pr->lo == pr->hi)
		snprintf(buf, len, "%u/%s", pr->lo, fwd_proto_name(pr->proto));
	else
		snprintf(buf, len, "%u-%u/%s", pr->lo, pr->hi, fwd_proto_name(pr->proto));
}

static void peer_text(const struct fwd_policy *p, const struct fwd_peer *pe,
		      char *buf, size_t len)
{
	switch (pe->kind) {
	case FWD_PEER_ANY: snprintf(buf, len, "any"); break;
	case FWD_PEER_ADDR: fwd_addr_format(&pe->addr, buf, len); break;
	case FWD_PEER_LIST: snprintf(buf, len, "@%s", p->lists[pe->list].name); break;
	}
}

static int cmd_show_nft(struct cmdreq *cr)
{
	struct fwd_render_opts ro = { .table_flags = fwd_table_flags(&cr->ctx->feat, NULL) };
	struct fwd_live_table *live = NULL;
	struct fwd_ir *ir = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	/* What the kernel holds, read back, not what fwd believes it sent. */
	ret = fwd_live_read(cr->ctx->nl, NULL, &live);
	if (ret == 0)
		ret = fwd_live_to_ir(live, cr->ctx->ir, &ir);
	if (ret) {
		fwd_live_free(live);
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read table inet %s "
				  "back from the kernel: %s", FWD_TABLE_NAME, strerror(-ret));
		return ret;
	}
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fwd_ir_render(ir, &ro, f);
	fclose(f);
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "table"); json_str(&b.j, "inet " FWD_TABLE_NAME);
		json_key(&b.j, "flags"); json_uint(&b.j, live->flags);
		json_key(&b.j, "nft"); json_str(&b.j, text);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
	} else {
		fwd_response_write(cr->resp, text, len);
	}
	free(text);
	fwd_ir_free(ir);
	fwd_live_free(live);
	return 0;
}

static int cmd_show(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	char a[128], b[128];

	if (cr->nft)
		return cmd_show_nft(cr);
	if (cr->json) {
		struct jbuf jb;

		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "defaults");
		json_obj_begin(&jb.j);
		json_key(&jb.j, "inbound"); json_str(&jb.j, fwd_action_name(p->inbound));
		json_key(&jb.j, "outbound"); json_str(&jb.j, fwd_action_name(p->outbound));
		json_key(&jb.j, "log"); json_str(&jb.j, fwd_log_name(p->log));
		json_key(&jb.j, "icmp"); json_str(&jb.j, fwd_icmp_name(p->icmp));
		json_key(&jb.j, "counters"); json_bool(&jb.j, p->counters);
		json_obj_end(&jb.j);
		json_key(&jb.j, "lists");
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < p->nlists; i++) {
			json_obj_begin(&jb.j);
			json_key(&jb.j, "name"); json_str(&jb.j, p->lists[i].name);
			json_key(&jb.j, "members"); json_uint(&jb.j, p->lists[i].n);
			fmt_loc(&p->lists[i].loc, a, sizeof(a));
			json_key(&jb.j, "source"); json_str(&jb.j, a);
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
		json_key(&jb.j, "services");
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < p->nservices; i++) {
			const struct fwd_service *s = &p->services[i];

			json_obj_begin(&jb.j);
			json_key(&jb.j, "name"); json_str(&jb.j, s->name);
			json_key(&jb.j, "direction"); json_str(&jb.j, s->dir == FWD_DIR_OUT ? "out" : "in");
			json_key(&jb.j, "ports");
			json_arr_begin(&jb.j);
			for (size_t k = 0; k < s->nports; k++) {
				ports_text(&s->ports[k], a, sizeof(a));
				json_str(&jb.j, a);
			}
			json_arr_end(&jb.j);
			json_key(&jb.j, "allow");
			json_arr_begin(&jb.j);
			for (size_t k = 0; k < s->nallow; k++) {
				peer_text(p, &s->allow[k], a, sizeof(a));
				json_str(&jb.j, a);
			}
			json_arr_end(&jb.j);
			fmt_loc(&s->loc, a, sizeof(a));
			json_key(&jb.j, "source"); json_str(&jb.j, a);
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
		json_key(&jb.j, "edits");
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];
			char w[256];

			if (e->expires && e->expires <= now_s())
				continue;
			json_obj_begin(&jb.j);
			fwd_edit_format(e, w, sizeof(w));
			json_key(&jb.j, "edit"); json_str(&jb.j, w);
			json_key(&jb.j, "runtime"); json_bool(&jb.j, e->runtime);
			json_key(&jb.j, "expires");
			if (e->expires)
				json_uint(&jb.j, e->expires);
			else
				json_null(&jb.j);
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
		return 0;
	}
	fwd_response_printf(cr->resp, "[defaults] inbound %s, outbound %s, log %s, icmp %s, "
			    "counters %s\n",
			    fwd_action_name(p->inbound), fwd_action_name(p->outbound),
			    fwd_log_name(p->log), fwd_icmp_name(p->icmp),
			    p->counters ? "yes" : "no");
	for (size_t i = 0; i < p->nlists; i++) {
		fmt_loc(&p->lists[i].loc, a, sizeof(a));
		fwd_response_printf(cr->resp, "list %-16s %zu member%s  (%s)\n",
				    p->lists[i].name, p->lists[i].n,
				    p->lists[i].n == 1 ? "" : "s", a);
	}
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *s = &p->services[i];

		fwd_response_printf(cr->resp, "service %-13s %s ", s->name,
				    s->dir == FWD_DIR_OUT ? "out" : "in ");
		for (size_t k = 0; k < s->nports; k++) {
			ports_text(&s->ports[k], a, sizeof(a));
			fwd_response_printf(cr->resp, "%s%s", k ? "," : "", a);
		}
		fwd_response_printf(cr->resp, " %s ", s->dir == FWD_DIR_OUT ? "to" : "from");
		for (size_t k = 0; k < s->nallow && k < 8; k++) {
			peer_text(p, &s->allow[k], a, sizeof(a));
			fwd_response_printf(cr->resp, "%s%s", k ? "," : "", a);
		}
		if (s->nallow > 8)
			fwd_response_printf(cr->resp, ",... (%zu in all)", s->nallow);
		fmt_loc(&s->loc, b, sizeof(b));
		fwd_response_printf(cr->resp, "  (%s)\n", b);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		char w[256];

		if (e->expires && e->expires <= now_s())
			continue;
		fwd_edit_format(e, w, sizeof(w));
		fmt_left(e->expires, a, sizeof(a));
		fwd_response_printf(cr->resp, "edit    %s  (%s%s)\n", w, a,
				    e->runtime ? ", runtime only" : "");
	}
	return 0;
}

static int cmd_list_show(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	const struct fwd_list *l = NULL;
	char a[128], b[128];

	if (cr->argc == 0) {
		if (cr->json) {
			struct jbuf jb;

			jbuf_open(&jb);
			json_arr_begin(&jb.j);
			for (size_t i = 0; i < p->nlists; i++) {
				json_obj_begin(&jb.j);
				json_key(&jb.j, "name"); json_str(&jb.j, p->lists[i].name);
				json_key(&jb.j, "members"); json_uint(&jb.j, p->lists[i].n);
				json_obj_end(&jb.j);
			}
			json_arr_end(&jb.j);
			jbuf_close(&jb, cr->resp);
			return 0;
		}
		for (size_t i = 0; i < p->nlists; i++)
			fwd_response_printf(cr->resp, "%s\t%zu\n", p->lists[i].name,
					    p->lists[i].n);
		return 0;
	}
	for (size_t i = 0; i < p->nlists; i++)
		if (strcmp(p->lists[i].name, cr->argv[0]) == 0)
			l = &p->lists[i];
	if (!l && count_edits(p, FWD_EDIT_LIST_ADD, false) == 0) {
		char q[QWORD_BUF];

		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no list named '%s'",
				  qword(q, cr->argv[0]));
		return -ENOENT;
	}
	if (cr->json) {
		struct jbuf jb;

		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "name"); json_str(&jb.j, cr->argv[0]);
		json_key(&jb.j, "members");
		json_arr_begin(&jb.j);
		for (size_t i = 0; l && i < l->n; i++) {
			json_obj_begin(&jb.j);
			fwd_addr_format(&l->addrs[i], a, sizeof(a));
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			fmt_loc(&l->locs[i], b, sizeof(b));
			json_key(&jb.j, "source"); json_str(&jb.j, b);
			json_obj_end(&jb.j);
		}
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];

			if (e->kind != FWD_EDIT_LIST_ADD || strcmp(e->list, cr->argv[0]))
				continue;
			json_obj_begin(&jb.j);
			fwd_addr_format(&e->addr, a, sizeof(a));
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			json_key(&jb.j, "source"); json_str(&jb.j, e->runtime ? "fwctl (runtime)" : "fwctl");
			json_obj_end(&jb.j);
		}
		json_arr_end(&jb.j);
		json_key(&jb.j, "removed");
		json_arr_begin(&jb.j);
		for (size_t i = 0; i < p->nedits; i++) {
			const struct fwd_edit *e = &p->edits[i];

			if (e->kind != FWD_EDIT_LIST_DEL || strcmp(e->list, cr->argv[0]))
				continue;
			fwd_addr_format(&e->addr, a, sizeof(a));
			json_str(&jb.j, a);
		}
		json_arr_end(&jb.j);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
		return 0;
	}
	for (size_t i = 0; l && i < l->n; i++) {
		fwd_addr_format(&l->addrs[i], a, sizeof(a));
		fmt_loc(&l->locs[i], b, sizeof(b));
		fwd_response_printf(cr->resp, "%-44s %s\n", a, b);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind != FWD_EDIT_LIST_ADD && e->kind != FWD_EDIT_LIST_DEL) ||
		    strcmp(e->list, cr->argv[0]))
			continue;
		fwd_addr_format(&e->addr, a, sizeof(a));
		fwd_response_printf(cr->resp, "%-44s %s%s\n", a,
				    e->kind == FWD_EDIT_LIST_DEL ? "removed by fwctl" : "fwctl",
				    e->runtime ? " (runtime)" : "");
	}
	return 0;
}

static int cmd_list_blocked(struct cmdreq *cr)
{
	const struct fwd_policy *p = cr->ctx->policy;
	uint64_t now = now_s();
	struct jbuf jb;
	char a[128], t[64];

	if (cr->json) {
		jbuf_open(&jb);
		json_arr_begin(&jb.j);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind != FWD_EDIT_BLOCK || (e->expires && e->expires <= now))
			continue;
		fwd_addr_format(&e->addr, a, sizeof(a));
		if (cr->json) {
			json_obj_begin(&jb.j);
			json_key(&jb.j, "address"); json_str(&jb.j, a);
			json_key(&jb.j, "expires");
			if (e->expires)
				json_uint(&jb.j, e->expires);
			else
				json_null(&jb.j);
			json_key(&jb.j, "seconds_left");
			if (e->expires)
				json_uint(&jb.j, e->expires - now);
			else
				json_null(&jb.j);
			json_key(&jb.j, "runtime"); json_bool(&jb.j, e->runtime);
			json_obj_end(&jb.j);
		} else {
			fmt_left(e->expires, t, sizeof(t));
			fwd_response_printf(cr->resp, "%-44s %s%s\n", a, t,
					    e->runtime ? " (runtime only)" : "");
		}
	}
	if (cr->json) {
		json_arr_end(&jb.j);
		jbuf_close(&jb, cr->resp);
	}
	return 0;
}

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
static int cmd_reload(struct cmdreq *cr)
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
		fwd_response_printf(cr->resp, "reloaded: generation %u\n", ctx->generation);
		if (cr->confirm > 0)
			fwd_response_printf(cr->resp, "run `fwctl confirm` within %lds "
					    "or the previous rules come back\n", cr->confirm);
	}
	fwd_log(LOG_INFO, "%s: uid %u: reloaded (generation %u%s)", __func__,
		(unsigned)cr->peer->uid, ctx->generation,
		cr->confirm > 0 ? ", confirm pending" : "");
out:
	fwd_diags_free(&d);
	return ret;
}

static int cmd_confirm(struct cmdreq *cr)
{
	if (!cr->ctx->confirm_deadline) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "nothing to confirm");
		return -ENOENT;
	}
	fwd_confirm_disarm(cr->ctx);
	fwd_log(LOG_INFO, "%s: uid %u confirmed generation %u", __func__,
		(unsigned)cr->peer->uid, cr->ctx->generation);
	fwd_response_printf(cr->resp, "confirmed: generation %u stays\n",
			    cr->ctx->generation);
	return 0;
}

static int cmd_diff(struct cmdreq *cr)
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
		goto out;
	}
	ret = fwd_ir_diff(cr->ctx->ir, newir, &delta);
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "diff: %s", strerror(-ret));
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
	fwd_ir_delta_free(&delta);
out:
	fwd_ir_free(newir);
	fwd_diags_free(&d);
	return ret;
}

/* ---- explain / stats ------------------------------------------------- */

static const char *verdict_name(enum fwd_ir_verdict v)
{
	switch (v) {
	case FWD_V_ACCEPT: return "accept";
	case FWD_V_DROP: return "drop";
	case FWD_V_REJECT_TCP_RST: return "reject (tcp reset)";
	case FWD_V_REJECT_ICMPX: return "reject (icmp admin-prohibited)";
	default: return "continue";
	}
}

static int cmd_explain(struct cmdreq *cr)
{
	uint8_t addr[16] = { 0 };
	struct fwd_ports pr;
	struct fwd_explain ex;
	int family;
	char pbuf[32], elem[256] = "", loc[128] = "";
	unsigned lo, hi;
	char proto[8] = "tcp", q[QWORD_BUF];

	if (cr->argc != 2) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "usage: fwctl explain SRC PORT/PROTO");
		return -EINVAL;
	}
	if (inet_pton(AF_INET, cr->argv[0], addr) == 1)
		family = AF_INET;
	else if (inet_pton(AF_INET6, cr->argv[0], addr) == 1)
		family = AF_INET6;
	else {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' is not an IPv4 or IPv6 "
				  "address", qword(q, cr->argv[0]));
		return -EINVAL;
	}
	if (sscanf(cr->argv[1], "%u/%7s", &lo, proto) < 1 || lo == 0 || lo > 65535 ||
	    (strcmp(proto, "tcp") && strcmp(proto, "udp"))) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "'%s' is not PORT/PROTO "
				  "(22/tcp, 53/udp)", qword(q, cr->argv[1]));
		return -EINVAL;
	}
	hi = lo;
	pr = (struct fwd_ports){ .proto = strcmp(proto, "udp") ? 6 : 17,
				 .lo = (uint16_t)lo, .hi = (uint16_t)hi };
	if (fwd_ir_explain(cr->ctx->ir, FWD_CHAIN_INPUT, family, addr, pr.proto,
			   pr.lo, &ex) != 0) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot evaluate the running rules");
		return -EINVAL;
	}
	ports_text(&pr, pbuf, sizeof(pbuf));
	if (ex.set >= 0 && ex.elem) {
		fwd_ir_elem_format(&cr->ctx->ir->sets[ex.set], ex.elem, elem, sizeof(elem));
		fmt_loc(&ex.loc, loc, sizeof(loc));
	} else if (!ex.by_policy && ex.loc.file) {
		fmt_loc(&ex.loc, loc, sizeof(loc));
	}
	if (cr->json) {
		struct jbuf b;

		jbuf_open(&b);
		json_obj_begin(&b.j);
		json_key(&b.j, "source"); json_str(&b.j, cr->argv[0]);
		json_key(&b.j, "port"); json_str(&b.j, pbuf);
		json_key(&b.j, "verdict"); json_str(&b.j, verdict_name(ex.verdict));
		json_key(&b.j, "by_policy"); json_bool(&b.j, ex.by_policy);
		json_key(&b.j, "rule");
		if (ex.by_policy)
			json_null(&b.j);
		else
			json_uint(&b.j, ex.rule);
		json_key(&b.j, "chain");
		if (ex.by_policy || !ex.chain)
			json_null(&b.j);
		else
			json_str(&b.j, ex.chain);
		json_key(&b.j, "set");
		if (ex.set >= 0)
			json_str(&b.j, cr->ctx->ir->sets[ex.set].name);
		else
			json_null(&b.j);
		json_key(&b.j, "element");
		if (*elem)
			json_str(&b.j, elem);
		else
			json_null(&b.j);
		json_key(&b.j, "policy_source");
		if (*loc)
			json_str(&b.j, loc);
		else
			json_null(&b.j);
		json_obj_end(&b.j);
		jbuf_close(&b, cr->resp);
		return 0;
	}
	fwd_response_printf(cr->resp, "%s -> %s: %s\n", cr->argv[0], pbuf,
			    verdict_name(ex.verdict));
	if (ex.by_policy)
		fwd_response_printf(cr->resp, "  decided by: the input chain's policy "
				    "(no rule matched; [defaults] inbound)\n");
	else if (ex.set >= 0)
		fwd_response_printf(cr->resp, "  decided by: rule %zu, set %s, element %s\n"
				    "  from:       %s\n", ex.rule,
				    cr->ctx->ir->sets[ex.set].name, elem, loc);
	else
		fwd_response_printf(cr->resp, "  decided by: rule %zu of chain %s%s%s\n",
				    ex.rule, ex.chain ? ex.chain : "input",
				    *loc ? ", from " : "", loc);
	return 0;
}


/*
 * Element counters by who the element came from. An element's loc (ir.h)
 * names the policy word it came from: a service's ports or allow line, a
 * list member (inline or in a list file), an [edits] line; elements of
 * edits made at run time have no file and are matched to the edit by key.
 * A list member's element counts for the list and for the service (or
 * allow edit) that uses the list on that port. When normalisation merged
 * several words into one element, it counts for the one its loc names.
 */
enum own_kind { OWN_SERVICE, OWN_LIST, OWN_EDIT, OWN_OTHER };

struct own_ref {
	const char *file;
	unsigned line;
	enum own_kind kind;
	size_t idx;
};

struct own_acc {
	enum own_kind kind;
	char name[FWD_EDIT_STRLEN];
	uint64_t packets, bytes;
};

struct own_map {
	const struct fwd_policy *p;
	struct own_ref *refs;
	size_t nrefs, refcap;
	struct own_acc *acc;
	size_t nacc, acccap;
};

static int own_ref_cmp(const void *a, const void *b)
{
	const struct own_ref *x = a, *y = b;
	int r = strcmp(x->file, y->file);

	if (r)
		return r;
	return x->line < y->line ? -1 : x->line > y->line;
}

static void own_ref_add(struct own_map *m, const struct fwd_loc *l,
			enum own_kind kind, size_t idx)
{
	if (!l->file)
		return;
	FWD_GROW(m->refs, m->refcap, m->nrefs + 1);
	m->refs[m->nrefs++] = (struct own_ref){ l->file, l->line, kind, idx };
}

static struct own_acc *own_acc(struct own_map *m, enum own_kind kind,
			       const char *name)
{
	for (size_t i = 0; i < m->nacc; i++)
		if (m->acc[i].kind == kind && strcmp(m->acc[i].name, name) == 0)
			return &m->acc[i];
	FWD_GROW(m->acc, m->acccap, m->nacc + 1);
	memset(&m->acc[m->nacc], 0, sizeof(m->acc[0]));
	m->acc[m->nacc].kind = kind;
	snprintf(m->acc[m->nacc].name, sizeof(m->acc[0].name), "%s", name);
	return &m->acc[m->nacc++];
}

static const char *edit_name(const struct fwd_edit *e, char *buf, size_t len)
{
	fwd_edit_format(e, buf, len);
	return buf;
}

static void own_map_init(struct own_map *m, const struct fwd_policy *p)
{
	char buf[FWD_EDIT_STRLEN];

	memset(m, 0, sizeof(*m));
	m->p = p;
	/* Every service, list and allow/deny edit shows, hit or not. */
	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];

		own_acc(m, OWN_SERVICE, sv->name);
		for (size_t k = 0; k < sv->nports; k++)
			own_ref_add(m, &sv->ports[k].loc, OWN_SERVICE, i);
		for (size_t k = 0; k < sv->nallow; k++)
			own_ref_add(m, &sv->allow[k].loc, OWN_SERVICE, i);
	}
	for (size_t i = 0; i < p->nlists; i++) {
		const struct fwd_list *l = &p->lists[i];

		own_acc(m, OWN_LIST, l->name);
		for (size_t k = 0; k < l->n; k++)
			own_ref_add(m, l->locs ? &l->locs[k] : &l->loc, OWN_LIST, i);
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if (e->kind == FWD_EDIT_ALLOW || e->kind == FWD_EDIT_DENY)
			own_acc(m, OWN_EDIT, edit_name(e, buf, sizeof(buf)));
		own_ref_add(m, &e->loc, OWN_EDIT, i);
	}
	if (m->nrefs)
		qsort(m->refs, m->nrefs, sizeof(*m->refs), own_ref_cmp);
}

static bool ports_have(const struct fwd_ports *pr, const struct fwd_ir_elem *e)
{
	return pr->proto == e->proto && pr->lo <= e->plo && e->plo <= pr->hi;
}

static bool addr_has(const struct fwd_addr *a, unsigned alen,
		     const struct fwd_ir_elem *e)
{
	uint8_t lo[16], hi[16];

	if (fwd_addr_len(a) != alen)
		return false;
	fwd_addr_range(a, lo, hi);
	return memcmp(lo, e->lo, alen) <= 0 && memcmp(e->lo, hi, alen) <= 0;
}

/* The service, else the allow/deny edit, that uses list `name` for e. */
static void own_list_user(struct own_map *m, const char *name, bool out,
			  const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	char buf[FWD_EDIT_STRLEN];
	struct own_acc *a;

	for (size_t i = 0; i < p->nservices; i++) {
		const struct fwd_service *sv = &p->services[i];
		bool uses = false, port = false;

		if ((sv->dir == FWD_DIR_OUT) != out)
			continue;
		for (size_t k = 0; k < sv->nallow; k++)
			uses |= sv->allow[k].kind == FWD_PEER_LIST &&
				strcmp(p->lists[sv->allow[k].list].name, name) == 0;
		for (size_t k = 0; k < sv->nports; k++)
			port |= ports_have(&sv->ports[k], e);
		if (uses && port) {
			a = own_acc(m, OWN_SERVICE, sv->name);
			a->packets += pk;
			a->bytes += by;
			return;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *ed = &p->edits[i];

		if ((ed->kind == FWD_EDIT_ALLOW || ed->kind == FWD_EDIT_DENY) &&
		    (ed->dir == FWD_DIR_OUT) == out && ed->peer == FWD_PEER_LIST &&
		    strcmp(ed->list, name) == 0 && ports_have(&ed->ports, e)) {
			a = own_acc(m, OWN_EDIT, edit_name(ed, buf, sizeof(buf)));
			a->packets += pk;
			a->bytes += by;
			return;
		}
	}
}

static void own_count(struct own_map *m, const struct fwd_ir_set *s,
		      const struct fwd_ir_elem *e, uint64_t pk, uint64_t by)
{
	const struct fwd_policy *p = m->p;
	unsigned alen = fwd_ir_key_addr_len(s->key);
	bool out = strncmp(s->name, "out_", 4) == 0;
	const struct fwd_edit *ed = NULL;
	const char *list = NULL;
	char buf[FWD_EDIT_STRLEN];
	struct own_acc *a;

	if (e->loc.file) {
		struct own_ref key = { e->loc.file, e->loc.line, 0, 0 }, *r;

		r = m->nrefs ? bsearch(&key, m->refs, m->nrefs, sizeof(key),
				       own_ref_cmp) : NULL;
		if (r && r->kind == OWN_SERVICE) {
			a = own_acc(m, OWN_SERVICE, p->services[r->idx].name);
			a->packets += pk;
			a->bytes += by;
			return;
		}
		if (r && r->kind == OWN_LIST)
			list = p->lists[r->idx].name;
		if (r && r->kind == OWN_EDIT)
			ed = &p->edits[r->idx];
	} else {
		/* an edit made at run time: the first that holds e */
		for (size_t i = 0; i < p->nedits && !ed; i++) {
			const struct fwd_edit *x = &p->edits[i];

			if (x->loc.file)
				continue;
			if (x->kind == FWD_EDIT_LIST_ADD && alen &&
			    addr_has(&x->addr, alen, e))
				ed = x;
			if ((x->kind == FWD_EDIT_ALLOW || x->kind == FWD_EDIT_DENY) &&
			    (x->dir == FWD_DIR_OUT) == out &&
			    ports_have(&x->ports, e) &&
			    (x->peer == FWD_PEER_LIST ||
			     (x->peer == FWD_PEER_ANY && !alen) ||
			     (x->peer == FWD_PEER_ADDR && alen &&
			      addr_has(&x->addr, alen, e))))
				ed = x;
		}
	}
	if (ed && ed->kind == FWD_EDIT_LIST_ADD) {
		list = ed->list;
		ed = NULL;
	} else if (ed && ed->peer == FWD_PEER_LIST) {
		list = ed->list;
	}
	if (list) {
		a = own_acc(m, OWN_LIST, list);
		a->packets += pk;
		a->bytes += by;
		if (!ed) {
			own_list_user(m, list, out, e, pk, by);
			return;
		}
	}
	a = ed ? own_acc(m, OWN_EDIT, edit_name(ed, buf, sizeof(buf))) :
		 own_acc(m, OWN_OTHER, "other");
	a->packets += pk;
	a->bytes += by;
}

/* Live elements (with counters) matched by key to the running IR's. */
static void own_count_table(struct own_map *m, const struct fwd_ir *ir,
			    const struct fwd_live_table *live)
{
	for (size_t i = 0; i < ir->nsets; i++) {
		const struct fwd_ir_set *s = &ir->sets[i];
		const struct fwd_live_set *ls = fwd_live_set_find(live, s->name);
		size_t j = 0;

		if (!s->counter || !ls || !ls->counters)
			continue;
		for (size_t k = 0; k < ls->n; k++) {
			const struct fwd_live_elem_counter *c = &ls->counters[k];
			int r = 1;

			if (!c->packets && !c->bytes)
				continue;
			while (j < s->n &&
			       (r = fwd_ir_elem_cmp(&s->elems[j], &ls->elems[k])) < 0)
				j++;
			if (j < s->n && r == 0)
				own_count(m, s, &s->elems[j], c->packets, c->bytes);
			else
				own_count(m, s, &(struct fwd_ir_elem){ .proto = 0 },
					  c->packets, c->bytes);
		}
	}
}

static const char *const own_kind_name[] = {
	[OWN_SERVICE] = "service", [OWN_LIST] = "list", [OWN_EDIT] = "edit",
	[OWN_OTHER] = "other",
};

static const char *const own_kind_json[] = {
	[OWN_SERVICE] = "services", [OWN_LIST] = "lists", [OWN_EDIT] = "edits",
	[OWN_OTHER] = "other",
};

static int cmd_stats(struct cmdreq *cr)
{
	struct fwd_live_table *live = NULL;
	struct fwd_ctl_stats cs;
	struct own_map om = { 0 };
	struct jbuf jb;
	int ret;

	ret = fwd_live_read(cr->ctx->nl, NULL, &live);
	if (ret) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "cannot read the table "
				  "back: %s", strerror(-ret));
		return ret;
	}
	fwd_ctl_server_stats(cr->ctx->ctl, &cs);
	/* Without element counters there is nothing to sum per owner (no
	 * rows of zeros that look like "no traffic"). */
	if (cr->ctx->policy && cr->ctx->ir && cr->ctx->policy->counters) {
		own_map_init(&om, cr->ctx->policy);
		own_count_table(&om, cr->ctx->ir, live);
	}
	if (cr->json) {
		jbuf_open(&jb);
		json_obj_begin(&jb.j);
		json_key(&jb.j, "element_counters");
		json_bool(&jb.j, !cr->ctx->policy || cr->ctx->policy->counters);
		for (int kind = OWN_SERVICE; kind <= OWN_OTHER; kind++) {
			json_key(&jb.j, own_kind_json[kind]);
			json_arr_begin(&jb.j);
			for (size_t i = 0; i < om.nacc; i++) {
				const struct own_acc *a = &om.acc[i];

				if ((int)a->kind != kind)
					continue;
				json_obj_begin(&jb.j);
				json_key(&jb.j, "name"); json_str(&jb.j, a->name);
				json_key(&jb.j, "packets"); json_uint(&jb.j, a->packets);
				json_key(&jb.j, "bytes"); json_uint(&jb.j, a->bytes);
				json_obj_end(&jb.j);
			}
			json_arr_end(&jb.j);
		}
		json_key(&jb.j, "rules");
		json_arr_begin(&jb.j);
	} else {
		if (cr->ctx->policy && !cr->ctx->policy->counters)
			fwd_response_printf(cr->resp, "per-service and per-list counts are off "
					    "([defaults] counters = no); the rules' own "
					    "counters:\n");
		for (size_t i = 0; i < om.nacc; i++) {
			const struct own_acc *a = &om.acc[i];

			fwd_response_printf(cr->resp, "%-7s %-24s %12llu packets %14llu bytes\n",
					    own_kind_name[a->kind], a->name,
					    (unsigned long long)a->packets,
					    (unsigned long long)a->bytes);
		}
	}
	for (size_t c = 0; c < live->nchains; c++) {
		const struct fwd_live_chain *ch = &live->chains[c];

		for (size_t r = 0; r < ch->ncounters; r++) {
			const struct fwd_live_counter *k = &ch->counters[r];

			if (cr->json) {
				json_obj_begin(&jb.j);
				json_key(&jb.j, "chain"); json_str(&jb.j, ch->name);
				json_key(&jb.j, "set"); json_str(&jb.j, k->set);
				json_key(&jb.j, "packets"); json_uint(&jb.j, k->packets);
				json_key(&jb.j, "bytes"); json_uint(&jb.j, k->bytes);
				json_obj_end(&jb.j);
			} else {
				fwd_response_printf(cr->resp, "%-7s @%-15s %12llu packets %14llu bytes\n",
						    ch->name, k->set,
						    (unsigned long long)k->packets,
						    (unsigned long long)k->bytes);
			}
		}
	}
	if (cr->json) {
		json_arr_end(&jb.j);
		json_key(&jb.j, "control_requests"); json_uint(&jb.j, cs.served);
		json_key(&jb.j, "edits_applied"); json_uint(&jb.j, cr->ctx->edits_applied);
		json_obj_end(&jb.j);
		jbuf_close(&jb, cr->resp);
	} else {
		fwd_response_printf(cr->resp, "control: %llu requests served, %llu edits applied\n",
				    cs.served, cr->ctx->edits_applied);
	}
	free(om.refs);
	free(om.acc);
	fwd_live_free(live);
	return 0;
}

/* ---- disable / enable ------------------------------------------------ */

static int cmd_disable(struct cmdreq *cr)
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
		fwd_log(LOG_WARNING, "%s: uid %u disabled the firewall: table inet %s "
			"deleted, the host is open", __func__, (unsigned)cr->peer->uid,
			FWD_TABLE_NAME);
		fwd_response_printf(cr->resp, "disabled: table inet %s deleted; the host "
				    "is OPEN until `fwctl enable` or `fwctl reload`\n",
				    FWD_TABLE_NAME);
	}
	fwd_diags_free(&d);
	return ret;
}

static int cmd_enable(struct cmdreq *cr)
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
		fwd_log(LOG_INFO, "%s: uid %u enabled the firewall again", __func__,
			(unsigned)cr->peer->uid);
		fwd_response_printf(cr->resp, "enabled: generation %u\n",
				    cr->ctx->generation);
	}
	fwd_diags_free(&d);
	return ret;
}

/* ---- dispatch ---------------------------------------------------------- */

struct handler {
	const char *name;
	int (*fn)(struct cmdreq *cr);
};

static const struct handler handlers[] = {
	{ "status", cmd_status }, { "show", cmd_show },
	{ "allow", cmd_allow }, { "deny", cmd_deny }, { "remove", cmd_remove },
	{ "block", cmd_block }, { "unblock", cmd_unblock },
	{ "list blocked", cmd_list_blocked }, { "list add", cmd_list_add },
	{ "list del", cmd_list_del }, { "list show", cmd_list_show },
	{ "reload", cmd_reload }, { "confirm", cmd_confirm }, { "diff", cmd_diff },
	{ "explain", cmd_explain }, { "stats", cmd_stats },
	{ "disable", cmd_disable }, { "enable", cmd_enable },
};

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
		} else if (strcmp(a, "--confirm") == 0 || strncmp(a, "--confirm=", 10) == 0) {
			const char *v = a[9] == '=' ? a + 10 : (i + 1 < cr->argc ? cr->argv[++i] : NULL);
			char *end;

			cr->confirm = v ? strtol(v, &end, 10) : 0;
			if (!v || *end || cr->confirm <= 0 || cr->confirm > 86400) {
				fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "--confirm takes "
						  "SECONDS (1-86400)");
				return -EINVAL;
			}
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
	struct cmdreq cr = { .ctx = vctx, .peer = peer, .req = req, .resp = resp };
	char **words, q[QWORD_BUF];
	int nw, ret = 0;

	if (req->argc == 0) {
		fwd_response_fail(resp, FWD_EXIT_USAGE, "no command; try `fwctl help`");
		return 0;
	}
	cr.info = fwd_cmd_find((int)req->argc, req->argv, &nw);
	if (!cr.info || cr.info->local) {
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
	if (take_options(&cr) == 0 && check_word_count(&cr) == 0) {
		for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
			if (strcmp(handlers[i].name, cr.info->name) == 0) {
				ret = handlers[i].fn(&cr);
				break;
			}
		}
	}
	free(words);
	(void)ret;	/* the response carries the outcome */
	return 0;
}
