// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * fwctl's edits: allow, deny, block, list add (cmd_add_kind) and remove,
 * unblock, list del (cmd_del_kind). Every answer and error names the
 * command as the user typed it (`list add`, `remove`), never the [edits]
 * file's kind words or a function. Every edit goes the same way: change
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

/*
 * The parser speaks the [edits] file's words ('list-add' needs ...), which
 * are right for that file; a fwctl user typed `fwctl list add` or `fwctl
 * remove`, so the kind word becomes the command in the message.
 */
static void say_as_typed(char *msg, size_t len, const char *kind, const char *typed)
{
	char out[700], pat[2][48];
	size_t o = 0, k = strlen(kind);

	snprintf(pat[0], sizeof(pat[0]), "'%s'", kind);
	snprintf(pat[1], sizeof(pat[1]), "like %s ", kind);
	for (const char *p = msg; *p && o + 1 < sizeof(out); ) {
		/* The kind opens the parser's sentences ("'allow' needs
		 * PORTS") and its examples ("like allow 22/tcp"); anywhere
		 * else a quoted word is the user's own (a list named allow). */
		int hit = p == msg && !strncmp(p, pat[0], k + 2) ? 0 :
			  !strncmp(p, pat[1], k + 6) ? 1 : -1;

		if (hit < 0) {
			out[o++] = *p++;
			continue;
		}
		o += (size_t)snprintf(out + o, sizeof(out) - o, hit ? "like fwctl %s " : "'%s'",
				      typed);
		if (o >= sizeof(out))
			o = sizeof(out) - 1;
		p += strlen(pat[hit]);
	}
	if (o >= len)
		o = len - 1;
	memcpy(msg, out, o);
	msg[o] = '\0';
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
	if (ret) {
		say_as_typed(err, sizeof(err), kind, cr->info->name);
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "%s", err);
	}
	free(w);
	return ret;
}

/* What an edit command did, for the answer. */
struct edit_result {
	const char *verb;		/* "allowed", "removed", ... */
	const struct fwd_edit *e;	/* what was added / removed */
	size_t n;
	const bool *present;		/* list add: per edit, already a member */
	size_t npresent;
	bool summary;			/* list add NAME -: one line, not one a member */
	bool killed_set;		/* --kill-states ran */
	unsigned killed;
};

static const char *runtime_note(const struct cmdreq *cr)
{
	/* Not "permanent": a runtime edit has no expiry but is not saved. */
	return cr->runtime ? " (runtime only: not saved, gone when fwd restarts)" : "";
}

static void print_edits_json(struct cmdreq *cr, const struct edit_result *r)
{
	struct jbuf b;

	jbuf_open(&b);
	json_obj_begin(&b.j);
	json_key(&b.j, "ok"); json_bool(&b.j, true);
	json_key(&b.j, "generation"); json_uint(&b.j, cr->ctx->generation);
	json_key(&b.j, "already_in_force"); json_bool(&b.j, cr->unchanged);
	json_key(&b.j, r->verb);
	json_arr_begin(&b.j);
	for (size_t i = 0; i < r->n; i++) {
		char buf[256];

		fwd_edit_format(&r->e[i], buf, sizeof(buf));
		json_str(&b.j, buf);
	}
	json_arr_end(&b.j);
	json_key(&b.j, "count"); json_uint(&b.j, r->n);
	if (r->present) {
		json_key(&b.j, "already_present"); json_uint(&b.j, r->npresent);
	}
	if (r->killed_set) {
		json_key(&b.j, "connections_ended"); json_uint(&b.j, r->killed);
	}
	json_obj_end(&b.j);
	jbuf_close(&b, cr->resp);
}

/* One edit of an answer: "allow 80/tcp from X until ...", and a list
 * member as "192.0.2.9 in list office" (list add and list del both). */
static void edit_words(const struct fwd_edit *e, char *buf, size_t len)
{
	char a[FWD_ADDR_STRLEN], until[100] = "";

	if (e->kind != FWD_EDIT_LIST_ADD && e->kind != FWD_EDIT_LIST_DEL) {
		fmt_edit_human(e, buf, len);
		return;
	}
	fwd_addr_format(&e->addr, a, sizeof(a));
	if (e->expires) {
		until[0] = ' ';
		fmt_until(e->expires, until + 1, sizeof(until) - 1);
	}
	snprintf(buf, len, "%s in list %s%s", a, e->list, until);
}

static void print_edits(struct cmdreq *cr, const struct edit_result *r)
{
	if (cr->json) {
		print_edits_json(cr, r);
		return;
	}
	if (r->summary && r->present) {
		fwd_response_printf(cr->resp, "%s %zu, already present %zu%s\n", r->verb,
				    r->n - r->npresent, r->npresent, runtime_note(cr));
	} else {
		for (size_t i = 0; i < r->n; i++) {
			char buf[300];
			bool present = r->present && r->present[i];

			edit_words(&r->e[i], buf, sizeof(buf));
			/* Nothing was compiled, sent or written: say so. */
			fwd_response_printf(cr->resp, "%s: %s%s\n",
					    cr->unchanged ? "already in force" :
					    present ? "already present" : r->verb,
					    buf, runtime_note(cr));
		}
	}
	if (r->killed_set)
		fwd_response_printf(cr->resp, "ended %u tracked connection%s\n",
				    r->killed, r->killed == 1 ? "" : "s");
}

static int addr_cmp(const void *x, const void *y)
{
	const struct fwd_addr *a = x, *b = y;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefix != b->prefix)
		return a->prefix < b->prefix ? -1 : 1;
	return memcmp(a->a, b->a, fwd_addr_len(a));
}

/*
 * Which members of a list add the list had before it: in the list's
 * files (and not taken out by a list del since), added with fwctl
 * already, or earlier in the same batch. Hash lookups and one sorted
 * copy of the file's members, so a big batch into a big list stays
 * linear-ish (the batch path is measured: bench/edit.sh).
 */
static size_t mark_present(const struct fwd_policy *p, const struct fwd_edit *e, size_t n,
			   bool *present)
{
	struct fwd_policy batch = { .edits = (struct fwd_edit *)e, .nedits = n };
	struct edit_index ix, bx;
	struct fwd_addr *base = NULL;
	size_t nbase = 0, count = 0;

	for (size_t i = 0; n && i < p->nlists; i++) {
		if (strcmp(p->lists[i].name, e[0].list) != 0)
			continue;
		base = realloc(base, (nbase + p->lists[i].n + 1) * sizeof(*base));
		if (!base)
			abort();
		memcpy(base + nbase, p->lists[i].addrs, p->lists[i].n * sizeof(*base));
		nbase += p->lists[i].n;
	}
	if (nbase)
		qsort(base, nbase, sizeof(*base), addr_cmp);
	index_build(&ix, p, 0);
	index_build(&bx, &batch, 0);
	for (size_t i = 0; i < n; i++) {
		struct fwd_edit del = e[i];
		ssize_t j = index_find(&ix, p, &e[i]), d;

		del.kind = FWD_EDIT_LIST_DEL;
		d = index_find(&ix, p, &del);
		present[i] = (j >= 0 && (!p->edits[j].expires || p->edits[j].expires > now_s())) ||
			     (d < 0 && strcmp(e[i].list, e[0].list) == 0 && nbase &&
			      bsearch(&e[i].addr, base, nbase, sizeof(*base), addr_cmp));
		/* The first of equal batch entries is the one found. */
		present[i] |= index_find(&bx, &batch, &e[i]) != (ssize_t)i;
		count += present[i];
	}
	free(ix.slot);
	free(bx.slot);
	free(base);
	return count;
}

static int cmd_add_kind(struct cmdreq *cr, const char *kind, const char *verb)
{
	struct fwd_edit *edits = NULL;
	struct edit_result r = { .verb = verb };
	bool *present = NULL, verbose = false;
	struct add_arg a;
	size_t n = 0;
	int ret;

	/* list add -v: one line a member also for a batch. */
	for (int i = 0; i < cr->argc; i++) {
		if (strcmp(cr->argv[i], "-v") == 0 && !strcmp(kind, "list-add")) {
			verbose = true;
			memmove(&cr->argv[i], &cr->argv[i + 1],
				(size_t)(cr->argc - i) * sizeof(*cr->argv));
			cr->argc--;
			i--;
		}
	}
	ret = parse_edit_words(cr, kind, &edits, &n);
	if (ret)
		return ret;
	if (!strcmp(kind, "list-add")) {
		/* Said before the change: afterwards every member is in. */
		present = calloc(n ? n : 1, sizeof(*present));
		if (!present)
			abort();
		r.npresent = mark_present(cr->ctx->policy, edits, n, present);
		r.present = present;
		r.summary = cr->req->has_stdin && !verbose;
	}
	a.edits = edits;
	a.n = n;
	a.fast = true;
	ret = change_policy(cr, mutate_add, &a, !cr->runtime, &a.fast, cr->info->name);
	if (ret == 0) {
		fwd_log(LOG_INFO, "fwctl %s by uid %u: %zu entr%s%s", cr->info->name,
			(unsigned)cr->peer->uid, n, n == 1 ? "y" : "ies",
			cr->unchanged ? ", already in force" : "");
		r.e = edits;
		r.n = n;
		print_edits(cr, &r);
	}
	free(present);
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
	bool *matched;			/* per want */
	bool list_del;			/* unmatched list members get a list-del edit */
	bool allow, deny;		/* remove: which kinds it takes out */
	struct fwd_edit *gone;		/* what was taken out (or recorded) */
	size_t ngone, gone_cap;
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

/* A copy of what the edit removed or recorded, for the answer. */
static void note_gone(struct del_arg *a, const struct fwd_edit *e)
{
	/* Doubling: a list del of a thousand members is one request. */
	FWD_GROW(a->gone, a->gone_cap, a->ngone + 1);
	a->gone[a->ngone++] = *e;
}

/*
 * The edit kinds one wanted edit takes out: remove names an allow and
 * takes out the allow and the deny of the same ports and peer (both, and
 * says so), or the one --allow / --deny picks; list del takes out a list
 * add; unblock a block.
 */
static int del_kinds(const struct del_arg *a, enum fwd_edit_kind k, int kinds[2])
{
	kinds[0] = kinds[1] = -1;
	if (k == FWD_EDIT_ALLOW) {
		int n = 0;

		if (a->allow)
			kinds[n++] = FWD_EDIT_ALLOW;
		if (a->deny)
			kinds[n++] = FWD_EDIT_DENY;
		return n;
	}
	kinds[0] = (int)k;
	if (k == FWD_EDIT_LIST_DEL)
		kinds[1] = FWD_EDIT_LIST_ADD;
	return kinds[1] >= 0 ? 2 : 1;
}

/* No fwctl rule of the kinds asked for: say what there is instead. */
static void respond_unmatched(struct cmdreq *cr, const struct fwd_policy *p,
			      const struct del_arg *a, const struct fwd_edit *w,
			      const bool *other)
{
	char buf[300], where[4200];
	struct fwd_edit plain = *w;

	plain.expires = 0;
	fmt_edit_human(&plain, buf, sizeof(buf));
	if (w->kind == FWD_EDIT_ALLOW) {
		/* "allow 80/tcp from X" -> "80/tcp from X": remove names
		 * ports and peers, the kind is what --allow/--deny pick. */
		memmove(buf, buf + 6, strlen(buf + 6) + 1);
		if (*other) {
			fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no fwctl %s matches "
					  "'%s', but %s does: `fwctl remove %s%s`",
					  a->allow ? "allow" : "deny", buf,
					  a->allow ? "a deny" : "an allow", buf,
					  a->allow ? " --deny" : " --allow");
			return;
		}
	}
	where_written(cr, w, where, sizeof(where));
	if (a->list_del) {
		/* `list del ofice ADDR`: the list's name misspelt. */
		const char *l = fwd_policy_suggest_list(p, w->list, strlen(w->list));

		if (l && strcmp(l, w->list))
			snprintf(where, sizeof(where), "; did you mean list '%s'?", l);
	}
	fwd_response_fail(cr->resp, FWD_EXIT_FAIL,
			  "no fwctl rule matches '%s' (rules written in the "
			  "policy files are changed there; see `fwctl show`)%s",
			  buf, where);
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
	a->ngone = 0;
	/* Mark every edit a wanted one names, then compact the array once. */
	index_build(&ix, p, 0);
	for (size_t i = 0; i < a->n; i++) {
		struct fwd_edit w = a->want[i];
		int kinds[2], nk = del_kinds(a, w.kind, kinds);

		for (int k = 0; k < nk; k++) {
			ssize_t j;

			w.kind = (enum fwd_edit_kind)kinds[k];
			j = index_find(&ix, p, &w);
			if (j >= 0 && !gone[j]) {
				gone[j] = true;
				a->matched[i] = true;
				note_gone(a, &p->edits[j]);
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
			note_gone(a, &a->want[i]);
			continue;
		}
		if (a->matched[i])
			continue;
		{
			/* Is there one of the other kind (remove --allow
			 * when only a deny exists)? */
			struct fwd_edit o = a->want[i];
			bool other = false;

			for (size_t j = 0; o.kind == FWD_EDIT_ALLOW && j < p->nedits && !other;
			     j++) {
				o.kind = a->allow ? FWD_EDIT_DENY : FWD_EDIT_ALLOW;
				other = !(a->allow && a->deny) && fwd_edit_same(&p->edits[j], &o);
				o.kind = FWD_EDIT_ALLOW;
			}
			respond_unmatched(cr, p, a, &a->want[i], &other);
		}
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
	struct edit_result r = { .verb = verb };
	size_t n = 0;
	int ret;

	if ((cr->only_allow || cr->only_deny) && strcmp(kind, "allow") != 0) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "--allow and --deny go "
				  "with fwctl remove only");
		return -EINVAL;
	}
	ret = parse_edit_words(cr, kind, &want, &n);
	if (ret)
		return ret;
	a.want = want;
	a.n = n;
	a.list_del = list_del;
	/* Neither flag (or both): the allow and the deny alike. */
	a.allow = cr->only_allow || !cr->only_deny;
	a.deny = cr->only_deny || !cr->only_allow;
	a.matched = calloc(n ? n : 1, sizeof(bool));
	if (!a.matched)
		abort();
	ret = change_policy(cr, mutate_del, &a, !cr->runtime, NULL, cr->info->name);
	if (ret == 0) {
		if (cr->kill_states) {
			r.killed_set = true;
			for (size_t i = 0; i < n; i++) {
				unsigned k = 0;

				if (fwd_ct_kill_edit(&want[i], &k) == 0)
					r.killed += k;
			}
		}
		/* A guard block lifted: the verdict loop forgets it too. */
		for (size_t i = 0; i < n; i++)
			if (want[i].kind == FWD_EDIT_BLOCK)
				fwd_vloop_unblocked(cr->ctx, &want[i].addr);
		fwd_log(LOG_INFO, "fwctl %s by uid %u: %zu entr%s", cr->info->name,
			(unsigned)cr->peer->uid, a.ngone, a.ngone == 1 ? "y" : "ies");
		/* What was taken out, not what was asked: one remove can
		 * take an allow and a deny. */
		r.e = a.gone;
		r.n = a.ngone;
		print_edits(cr, &r);
	}
	free(a.gone);
	free(a.matched);
	free(want);
	return ret;
}

/* ---- remove N ------------------------------------------------------- */

/* remove N: the edit numbered N in `fwctl show` (cmd.h: rule numbers). */
struct num_arg {
	unsigned long n;
	struct fwd_edit removed;
};

static int mutate_del_number(struct cmdreq *cr, struct fwd_policy *p, void *arg)
{
	struct num_arg *a = arg;
	size_t i = a->n - p->nservices - 1;

	(void)cr;
	a->removed = p->edits[i];
	memmove(&p->edits[i], &p->edits[i + 1], (p->nedits - i - 1) * sizeof(*p->edits));
	p->nedits--;
	return 0;
}

/* Whether a live allow/deny edit from anyone names exactly port `n`:
 * what `remove N` meant before rule numbers (PORTS without a protocol). */
static bool port_edit(const struct fwd_policy *p, unsigned long n)
{
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];

		if ((e->kind == FWD_EDIT_ALLOW || e->kind == FWD_EDIT_DENY) &&
		    e->peer == FWD_PEER_ANY && e->ports.lo == n && e->ports.hi == n &&
		    !(e->expires && e->expires <= now_s()))
			return true;
	}
	return false;
}

/*
 * Whether the words are one rule number, and which: "#N" always; a bare
 * "N" when there is a rule N. A bare number past the last rule is PORTS
 * as before (`remove 8080`: the allow/deny of port 8080 from anyone).
 * One that could be both is refused rather than guessed: 1 with
 * *ambiguous set.
 */
static bool rule_number(const struct cmdreq *cr, unsigned long *n, bool *ambiguous)
{
	const struct fwd_policy *p = cr->ctx->policy;
	const char *w = cr->argc == 1 ? cr->argv[0] : NULL;
	bool hash = w && *w == '#';
	char *end;

	*ambiguous = false;
	if (hash)
		w++;
	if (!w || *w < '0' || *w > '9')
		return false;
	*n = strtoul(w, &end, 10);
	if (*end != '\0')
		return false;
	if (hash || !p)
		return true;
	if (*n > p->nservices + p->nedits)
		return false;
	*ambiguous = port_edit(p, *n);
	return true;
}

/*
 * Refuse a number that does not name a live fwctl edit, saying what it
 * names: a policy file's rule (its FILE:LINE), nothing, or a rule of
 * another generation than the one the caller saw. 0 or -errno.
 */
static int check_number(struct cmdreq *cr, const struct fwd_policy *p, unsigned long n)
{
	const struct fwd_edit *e;
	char where[256];

	if (cr->generation >= 0 && (unsigned long long)cr->generation != cr->ctx->generation) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "remove %lu refused: the policy "
				  "changed since generation %lld (it is at %u now), so the "
				  "numbers may name other rules; see `fwctl show` again", n,
				  cr->generation, cr->ctx->generation);
		return -ESTALE;
	}
	if (n >= 1 && n <= p->nservices) {
		const struct fwd_service *s = &p->services[n - 1];

		fmt_loc(&s->loc, where, sizeof(where));
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "rule %lu is service %s of the "
				  "policy files (%s): fwctl removes only its own edits; "
				  "change it there", n, s->name, where);
		return -EPERM;
	}
	e = n > p->nservices && n - p->nservices <= p->nedits ?
	    &p->edits[n - p->nservices - 1] : NULL;
	if (!e || (e->expires && e->expires <= now_s())) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no rule numbered %lu%s (see "
				  "`fwctl show`)", n, e ? ": it has expired" : "");
		return -ENOENT;
	}
	return 0;
}

/* A separate small path from `remove PORTS from PEER`: the words name one
 * edit by number, whatever its kind, and nothing is matched by key. */
static int cmd_remove_number(struct cmdreq *cr, unsigned long n)
{
	struct num_arg a = { .n = n };
	struct edit_result r = { .verb = "removed", .e = &a.removed, .n = 1 };
	int ret;

	if (!cr->ctx->policy) {
		fwd_response_fail(cr->resp, FWD_EXIT_FAIL, "no policy is running");
		return -ENOENT;
	}
	ret = check_number(cr, cr->ctx->policy, n);
	if (ret == 0)
		ret = change_policy(cr, mutate_del_number, &a, !cr->runtime, NULL, "remove");
	if (ret)
		return ret;
	fwd_log(LOG_INFO, "fwctl remove by uid %u: rule %lu", (unsigned)cr->peer->uid, n);
	if (a.removed.kind == FWD_EDIT_BLOCK)
		fwd_vloop_unblocked(cr->ctx, &a.removed.addr);
	if (cr->kill_states && a.removed.peer != FWD_PEER_LIST) {
		/* In the answer (JSON's connections_ended), not a line before it. */
		r.killed_set = true;
		fwd_ct_kill_edit(&a.removed, &r.killed);
	}
	print_edits(cr, &r);
	return 0;
}

int cmd_remove(struct cmdreq *cr)
{
	unsigned long n;
	bool ambiguous;

	if (rule_number(cr, &n, &ambiguous)) {
		if (!ambiguous)
			return cmd_remove_number(cr, n);
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "remove %lu: rule %lu or port "
				  "%lu? Say `remove '#%lu'` for the rule, `remove %lu/tcp` "
				  "(or /udp) for the port", n, n, n, n, n);
		return -EINVAL;
	}
	if (cr->generation >= 0) {
		fwd_response_fail(cr->resp, FWD_EXIT_USAGE, "--generation goes with "
				  "remove N (a rule number from `fwctl show`)");
		return -EINVAL;
	}
	return cmd_del_kind(cr, "allow", "removed", false);
}
int cmd_unblock(struct cmdreq *cr) { return cmd_del_kind(cr, "block", "unblocked", false); }
int cmd_list_del(struct cmdreq *cr) { return cmd_del_kind(cr, "list-del", "removed", true); }
