// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Live edits (edit.h): fwctl's words -> atomic edits, the canonical words
 * back, matching, and the one file fwd owns in conf.d.
 *
 * The word parser is a small state machine over tokens. Tokens are the
 * words split further at commas and white space, each remembering whether
 * a comma came before it: that is how PORTS may be split across shell
 * words ("22/tcp, 80/tcp") while a stray word after them ("form") is still
 * reported as the misspelt keyword it is. Everything is checked before
 * anything is appended, and the output is allocated once, so a batch of
 * 100k addresses costs one pass and one allocation.
 */
#include "edit.h"
#include "services.h"
#include "util.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define QUOTE_MAX 60
#define QBUF FWD_QUOTE_BUF(QUOTE_MAX)

#define EPOCH_MAX FWD_EDIT_EPOCH_MAX

static const char *const kind_words[] = {
	[FWD_EDIT_ALLOW] = "allow",
	[FWD_EDIT_DENY] = "deny",
	[FWD_EDIT_BLOCK] = "block",
	[FWD_EDIT_LIST_ADD] = "list-add",
	[FWD_EDIT_LIST_DEL] = "list-del",
};

#define NKINDS (sizeof(kind_words) / sizeof(kind_words[0]))

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static bool kind_ok(int k)
{
	return k >= 0 && (size_t)k < NKINDS;
}

/* ---- tokens ---- */

struct tok {
	const char *s;
	size_t n;
	bool comma;		/* a comma stands between it and the previous */
	int word;		/* the argv index it is in */
};

struct lexer {
	int argc;
	const char *const *argv;
	int i;			/* the word being read */
	const char *p;		/* where in it; NULL before its start */
	struct tok peeked;
	bool has_peek;
	int at;			/* word of the last token taken, -1 before */
};

static bool is_sep(char c)
{
	return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	       c == '\v' || c == '\f';
}

static bool lex_next(struct lexer *x, struct tok *t)
{
	bool comma = false;

	if (x->has_peek) {
		*t = x->peeked;
		x->has_peek = false;
		x->at = t->word;
		return true;
	}
	while (x->i < x->argc) {
		if (!x->p)
			x->p = x->argv[x->i] ? x->argv[x->i] : "";
		while (is_sep(*x->p))
			comma |= *x->p++ == ',';
		if (!*x->p) {
			x->i++;
			x->p = NULL;
			continue;
		}
		t->s = x->p;
		while (*x->p && !is_sep(*x->p))
			x->p++;
		t->n = (size_t)(x->p - t->s);
		t->comma = comma;
		t->word = x->i;
		x->at = t->word;
		return true;
	}
	return false;
}

static bool lex_peek(struct lexer *x, struct tok *t)
{
	int at = x->at;

	/* A look ahead is not taken: the error stays with the word before. */
	if (!x->has_peek && !lex_next(x, &x->peeked))
		return false;
	x->at = at;
	x->has_peek = true;
	*t = x->peeked;
	return true;
}

static bool tok_is(const struct tok *t, const char *w)
{
	size_t n = strlen(w);

	return t->n == n && !memcmp(t->s, w, n);
}

enum kw { KW_NONE, KW_FROM, KW_TO, KW_FOR, KW_UNTIL, KW_OUT, KW_ON, KW_LIMIT };

static enum kw keyword(const struct tok *t)
{
	if (tok_is(t, "from"))
		return KW_FROM;
	if (tok_is(t, "to"))
		return KW_TO;
	if (tok_is(t, "for"))
		return KW_FOR;
	if (tok_is(t, "until"))
		return KW_UNTIL;
	if (tok_is(t, "out"))
		return KW_OUT;
	if (tok_is(t, "on"))
		return KW_ON;
	if (tok_is(t, "limit"))
		return KW_LIMIT;
	return KW_NONE;
}

/* ---- the parse ---- */

/* Kept small: a batch of 100k addresses holds 100k of these. */
struct peer {
	struct fwd_addr addr;
	uint8_t kind;			/* enum fwd_peer_kind */
	uint32_t list;			/* FWD_PEER_LIST: index in parse.lists */
};

struct parse {
	enum fwd_edit_kind kind;
	struct fwd_ports_parser *pp;
	const struct fwd_policy *hints;	/* names for "did you mean", or NULL */
	uint64_t now;
	char *err;
	size_t errlen;
	bool failed;
	const struct lexer *x;	/* NULL while no word is being read */
	int fail_word;		/* the word the error is about, or -1 */

	struct fwd_port_range *ports;
	size_t nports, ports_cap;
	struct peer *peers;
	size_t npeers, peers_cap;
	char (*lists)[FWD_NAME_MAX + 1];	/* @list names of peers */
	size_t nlists, lists_cap;
	char list[FWD_NAME_MAX + 1];	/* LIST_ADD/DEL */
	enum fwd_dir dir;
	uint64_t expires;
	struct fwd_restrict rs;		/* on IFACE / limit N/WINDOW (allow) */
};

static bool fail(struct parse *P, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The first problem is the one reported. */
static bool fail(struct parse *P, const char *fmt, ...)
{
	va_list ap;

	if (!P->failed && P->errlen) {
		va_start(ap, fmt);
		vsnprintf(P->err, P->errlen, fmt, ap);
		va_end(ap);
	}
	if (!P->failed)
		P->fail_word = P->x ? P->x->at : -1;
	P->failed = true;
	return false;
}

static void ports_error(void *arg, const char *msg)
{
	fail(arg, "%s", msg);
}

static const char *q(char *buf, const struct tok *t)
{
	return fwd_quote(buf, t->s, t->n, QUOTE_MAX);
}

static bool port_tok(struct parse *P, const struct tok *t)
{
	struct fwd_port_range r[2];
	size_t k;

	k = fwd_ports_word(P->pp, t->s, t->n, r);
	if (!k)
		return false;
	FWD_GROW(P->ports, P->ports_cap, P->nports + k);
	memcpy(P->ports + P->nports, r, k * sizeof(*r));
	P->nports += k;
	return true;
}

static bool name_ok(struct parse *P, const char *s, size_t n)
{
	char b[QBUF];

	if (fwd_name_valid(s, n))
		return true;
	return fail(P, "invalid list name '%s'; names are 1-32 characters "
		    "from A-Z a-z 0-9 _ . -", fwd_quote(b, s, n, QUOTE_MAX));
}

static struct peer *new_peer(struct parse *P, enum fwd_peer_kind kind)
{
	struct peer *pe;

	FWD_GROW(P->peers, P->peers_cap, P->npeers + 1);
	pe = &P->peers[P->npeers++];
	memset(pe, 0, sizeof(*pe));
	pe->kind = (uint8_t)kind;
	return pe;
}

/* A PEER of allow/deny, or an ADDR of block and the list edits. */
static bool peer_tok(struct parse *P, const struct tok *t)
{
	bool addr_only = P->kind != FWD_EDIT_ALLOW && P->kind != FWD_EDIT_DENY;
	const char *what = P->kind == FWD_EDIT_BLOCK ? "block takes" :
			   "list members are";
	struct fwd_addr a;
	char b[QBUF], why[160];

	if (tok_is(t, "any")) {
		if (addr_only)
			return fail(P, "%s addresses and CIDRs, not 'any'", what);
		new_peer(P, FWD_PEER_ANY);
		return true;
	}
	if (t->s[0] == '@') {
		if (addr_only)
			return fail(P, "%s addresses and CIDRs, not lists ('%s')",
				    what, q(b, t));
		if (t->n == 1)
			return fail(P, "'@' needs a list name: @NAME");
		if (!name_ok(P, t->s + 1, t->n - 1))
			return false;
		FWD_GROW(P->lists, P->lists_cap, P->nlists + 1);
		memset(P->lists[P->nlists], 0, sizeof(P->lists[0]));
		memcpy(P->lists[P->nlists], t->s + 1, t->n - 1);
		new_peer(P, FWD_PEER_LIST)->list = (uint32_t)P->nlists++;
		return true;
	}
	if (fwd_addr_parsen(t->s, t->n, &a, why, sizeof(why)) == 0) {
		new_peer(P, FWD_PEER_ADDR)->addr = a;
		return true;
	}
	if (!addr_only && P->hints) {
		/* "from office": a list written without its '@'. */
		const char *l = fwd_policy_suggest_list(P->hints, t->s, t->n);

		if (l)
			return fail(P, "'%s' is not an address (did you mean '@%s'?)",
				    q(b, t), l);
	}
	return fail(P, "'%s' is not an address: %s", q(b, t), why);
}

static bool duration_tok(struct parse *P, const struct tok *t)
{
	uint64_t total;
	char b[QBUF];
	int r = fwd_duration_parse(t->s, t->n, &total);

	if (r == -EINVAL)
		return fail(P, "'for' needs a DURATION like 30s, 10m, 2h "
			    "or 7d, got '%s'", q(b, t));
	if (r < 0)
		return fail(P, "duration '%s' is out of range (1s to 365d)", q(b, t));
	/* Kept to what `until` accepts, so the words always read back. */
	P->expires = P->now >= EPOCH_MAX - total ? EPOCH_MAX : P->now + total;
	return true;
}

static bool epoch_tok(struct parse *P, const struct tok *t)
{
	uint64_t v = 0;
	char b[QBUF];

	for (size_t i = 0; i < t->n; i++) {
		if (t->s[i] < '0' || t->s[i] > '9') {
			v = 0;
			break;
		}
		if (v <= EPOCH_MAX)
			v = v * 10 + (uint64_t)(t->s[i] - '0');
	}
	if (v < 1 || v > EPOCH_MAX)
		return fail(P, "'until' needs a time in unix seconds (1 to %llu, "
			    "the kernel's limit for element timeouts), like "
			    "1764412345, got '%s'",
			    (unsigned long long)EPOCH_MAX, q(b, t));
	P->expires = v;
	return true;
}

/* for DURATION / until EPOCH: the keyword was taken, its value follows. */
static bool time_clause(struct parse *P, struct lexer *x, enum kw k,
			bool *seen)
{
	const char *w = k == KW_FOR ? "for" : "until";
	struct tok t;

	if (*seen)
		return fail(P, "one 'for' or 'until' per edit, got a second '%s'", w);
	*seen = true;
	if (!lex_next(x, &t) || keyword(&t) != KW_NONE) {
		if (k == KW_FOR)
			return fail(P, "'for' needs a DURATION like 30s, 10m, 2h or 7d");
		return fail(P, "'until' needs a time in unix seconds, like 1764412345");
	}
	return k == KW_FOR ? duration_tok(P, &t) : epoch_tok(P, &t);
}

/* PORTS: the first token, then more only across a comma. */
static bool ports_clause(struct parse *P, struct lexer *x)
{
	const char *kw = kind_words[P->kind];
	struct tok t;

	if (!lex_peek(x, &t))
		return fail(P, "'%s' needs PORTS, like 22/tcp, 53 or "
			    "60000-61000/udp", kw);
	if (keyword(&t) != KW_NONE) {
		char b[QBUF];

		return fail(P, "'%s' needs PORTS before '%s', like %s 22/tcp %s",
			    kw, q(b, &t), kw, q(b, &t));
	}
	do {
		lex_next(x, &t);
		if (!port_tok(P, &t))
			return false;
	} while (lex_peek(x, &t) && t.comma && keyword(&t) == KW_NONE);
	return true;
}

/*
 * on IFACE / limit N/WINDOW: the keyword was taken, its value follows.
 * Only allow takes them: a deny refuses everyone it names, everywhere.
 */
static bool restrict_clause(struct parse *P, struct lexer *x, enum kw k)
{
	const char *w = k == KW_ON ? "on" : "limit";
	const char *why;
	struct tok t;
	char b[QBUF];

	if (P->kind != FWD_EDIT_ALLOW)
		return fail(P, "'%s' applies to allow only (a deny refuses its "
			    "PEERs on every interface, at any rate)", w);
	if (k == KW_ON ? P->rs.ifname[0] != '\0' : P->rs.limit_n != 0)
		return fail(P, "'%s' given twice", w);
	if (!lex_next(x, &t) || keyword(&t) != KW_NONE)
		return fail(P, k == KW_ON ? "'on' needs an interface name, like eth1" :
			    "'limit' needs N/WINDOW, like 6/30s");
	if (k == KW_ON) {
		why = fwd_ifname_check(t.s, t.n);
		if (why)
			return fail(P, "interface '%s': %s", q(b, &t), why);
		memcpy(P->rs.ifname, t.s, t.n);
		P->rs.ifname[t.n] = '\0';
		return true;
	}
	why = fwd_limit_parse(t.s, t.n, &P->rs.limit_n, &P->rs.limit_w);
	if (why)
		return fail(P, "limit '%s': %s", q(b, &t), why);
	return true;
}

static bool parse_allow(struct parse *P, struct lexer *x)
{
	enum kw peers_kw = KW_NONE;
	bool in_peers = false, timed = false, out = false, first = true;
	struct tok t;
	char b[QBUF];

	if (!ports_clause(P, x))
		return false;
	while (lex_next(x, &t)) {
		enum kw k = keyword(&t);

		switch (k) {
		case KW_FROM:
		case KW_TO:
			if (peers_kw == k)
				return fail(P, "'%s' given twice; name every PEER "
					    "after one '%s'", q(b, &t), q(b, &t));
			if (peers_kw != KW_NONE)
				return fail(P, "'from' (sources, inbound) and 'to' "
					    "(destinations, outbound) cannot be "
					    "mixed in one edit");
			peers_kw = k;
			first = false;
			if (!lex_peek(x, &t) || keyword(&t) != KW_NONE)
				return fail(P, "'%s' needs a PEER: any, an "
					    "address, a CIDR or @list",
					    k == KW_FROM ? "from" : "to");
			in_peers = true;
			continue;
		case KW_FOR:
		case KW_UNTIL:
			if (!time_clause(P, x, k, &timed))
				return false;
			break;
		case KW_OUT:
			if (out)
				return fail(P, "'out' given twice");
			out = true;
			break;
		case KW_ON:
		case KW_LIMIT:
			if (!restrict_clause(P, x, k))
				return false;
			break;
		case KW_NONE:
			if (in_peers) {
				if (!peer_tok(P, &t))
					return false;
				continue;
			}
			if (first && t.s[0] >= '0' && t.s[0] <= '9')
				return fail(P, "expected 'from', 'to', 'for' or "
					    "'until', got '%s' (separate PORTS "
					    "with commas: 22/tcp,80/tcp)", q(b, &t));
			return fail(P, "expected 'from', 'to', 'for' or 'until', "
				    "got '%s'", q(b, &t));
		}
		in_peers = false;
		first = false;
	}
	P->dir = peers_kw == KW_TO || out ? FWD_DIR_OUT : FWD_DIR_IN;
	if (P->rs.limit_n && P->dir == FWD_DIR_OUT)
		return fail(P, "'limit' counts new connections per source and "
			    "applies to inbound allows only");
	if (!P->npeers)
		new_peer(P, FWD_PEER_ANY);
	return true;
}

/* block ADDR... / list-add NAME ADDR...: addresses until for/until. */
static bool parse_addrs(struct parse *P, struct lexer *x)
{
	const char *kw = kind_words[P->kind];
	bool timed = false;
	struct tok t;
	char b[QBUF];

	if (P->kind != FWD_EDIT_BLOCK) {
		if (!lex_next(x, &t))
			return fail(P, "'%s' needs a list NAME and at least one "
				    "ADDR", kw);
		if (t.s[0] == '@')
			return fail(P, "write the list name without '@': '%s'",
				    q(b, &(struct tok){ t.s + 1, t.n - 1, false, t.word }));
		if (!name_ok(P, t.s, t.n))
			return false;
		memcpy(P->list, t.s, t.n);
		P->list[t.n] = '\0';
	}
	while (lex_next(x, &t)) {
		enum kw k = keyword(&t);

		if (k == KW_FOR || k == KW_UNTIL) {
			if (!time_clause(P, x, k, &timed))
				return false;
		} else if (k != KW_NONE) {
			return fail(P, "'%s' applies to allow and deny only",
				    q(b, &t));
		} else if (timed) {
			return fail(P, "unexpected '%s' after the time; put every "
				    "ADDR before 'for' or 'until'", q(b, &t));
		} else if (!peer_tok(P, &t)) {
			return false;
		}
	}
	if (!P->npeers)
		return fail(P, P->kind == FWD_EDIT_BLOCK ?
			    "'%s' needs at least one ADDR or CIDR" :
			    "'%s' needs at least one ADDR after the list name", kw);
	return true;
}

/* The kind word(s): "list-add" or "list" "add". Returns words used. */
static int parse_kind(struct parse *P, int argc, const char *const *argv)
{
	char b[QBUF];
	const char *w;

	if (argc < 1 || !argv[0] || !argv[0][0]) {
		fail(P, "nothing to do: expected allow, deny, block, list-add "
		     "or list-del");
		return -1;
	}
	w = argv[0];
	if (!strcmp(w, "list") && argc >= 2 && argv[1]) {
		if (!strcmp(argv[1], "add")) {
			P->kind = FWD_EDIT_LIST_ADD;
			return 2;
		}
		if (!strcmp(argv[1], "del")) {
			P->kind = FWD_EDIT_LIST_DEL;
			return 2;
		}
	}
	for (size_t k = 0; k < NKINDS; k++) {
		if (!strcmp(w, kind_words[k])) {
			P->kind = (enum fwd_edit_kind)k;
			return 1;
		}
	}
	fail(P, "unknown edit '%s'; expected allow, deny, block, list-add or "
	     "list-del", fwd_quote(b, w, strlen(w), QUOTE_MAX));
	return -1;
}

static void expand(const struct parse *P, struct fwd_edit *o)
{
	size_t k = 0;

	if (P->kind == FWD_EDIT_ALLOW || P->kind == FWD_EDIT_DENY) {
		for (size_t i = 0; i < P->nports; i++) {
			for (size_t j = 0; j < P->npeers; j++, k++) {
				struct fwd_edit *e = &o[k];

				memset(e, 0, sizeof(*e));
				e->kind = P->kind;
				e->dir = P->dir;
				e->ports.proto = P->ports[i].proto;
				e->ports.lo = P->ports[i].lo;
				e->ports.hi = P->ports[i].hi;
				e->peer = (enum fwd_peer_kind)P->peers[j].kind;
				e->addr = P->peers[j].addr;
				if (e->peer == FWD_PEER_LIST)
					memcpy(e->list, P->lists[P->peers[j].list],
					       sizeof(e->list));
				e->expires = P->expires;
				e->rs = P->rs;
			}
		}
		return;
	}
	for (size_t j = 0; j < P->npeers; j++) {
		struct fwd_edit *e = &o[j];

		memset(e, 0, sizeof(*e));
		e->kind = P->kind;
		e->addr = P->peers[j].addr;
		if (P->kind != FWD_EDIT_BLOCK)
			memcpy(e->list, P->list, sizeof(e->list));
		e->expires = P->expires;
	}
}

static int parse_with(int argc, const char *const *argv, uint64_t now,
		      struct fwd_ports_parser *pp, const struct fwd_policy *hints,
		      struct fwd_edit **out, size_t *n, char *err, size_t errlen,
		      int *err_word)
{
	struct fwd_ports_parser saved = *pp;
	struct parse P = {
		.pp = pp, .hints = hints, .now = now, .err = err, .errlen = errlen,
		.fail_word = -1,
	};
	struct lexer x = { .at = -1 };
	size_t total = 0;
	bool ok;
	int used;

	if (errlen)
		err[0] = '\0';
	pp->error = ports_error;
	pp->arg = &P;
	/* About one peer per word: one allocation, no doublings. */
	FWD_GROW(P.peers, P.peers_cap, argc > 0 ? (size_t)argc : 1);
	used = parse_kind(&P, argc, argv);
	ok = used > 0;
	if (ok) {
		x.argc = argc;
		x.argv = argv;
		x.i = used;
		P.x = &x;
		if (P.kind == FWD_EDIT_ALLOW || P.kind == FWD_EDIT_DENY)
			ok = parse_allow(&P, &x);
		else
			ok = parse_addrs(&P, &x);
		P.x = NULL;
	}
	if (ok) {
		total = P.kind == FWD_EDIT_ALLOW || P.kind == FWD_EDIT_DENY ?
			P.nports * P.npeers : P.npeers;
		if (P.nports && total / P.nports != P.npeers)
			total = SIZE_MAX;
		if (total > FWD_EDIT_MAX)
			ok = fail(&P, "this expands to %zu%s rules (PORTS x PEERs); "
				  "one command makes at most %d",
				  total == SIZE_MAX ? (size_t)FWD_EDIT_MAX : total,
				  total == SIZE_MAX ? "+" : "", FWD_EDIT_MAX);
	}
	if (ok) {
		*out = fwd_xreallocarray(*out, *n + total, sizeof(**out));
		expand(&P, *out + *n);
		*n += total;
	}
	pp->error = saved.error;
	pp->arg = saved.arg;
	free(P.ports);
	free(P.peers);
	free(P.lists);
	if (err_word)
		*err_word = ok ? -1 : P.fail_word;
	return ok ? 0 : -EINVAL;
}

int fwd_edit_parse_with(int argc, const char *const *argv, uint64_t now,
			struct fwd_ports_parser *pp, struct fwd_edit **out,
			size_t *n, char *err, size_t errlen)
{
	return parse_with(argc, argv, now, pp, NULL, out, n, err, errlen, NULL);
}

static int parse_at(int argc, const char *const *argv, uint64_t now,
		    const struct fwd_load_opts *opts, const struct fwd_policy *hints,
		    struct fwd_edit **out, size_t *n, char *err, size_t errlen,
		    int *err_word)
{
	struct fwd_ports_parser pp = {
		.services_path = opts ? opts->services_path : NULL,
	};
	int ret;

	ret = parse_with(argc, argv, now, &pp, hints, out, n, err, errlen, err_word);
	fwd_ports_parser_done(&pp);
	return ret;
}

int fwd_edit_parse_at(int argc, const char *const *argv, uint64_t now,
		      const struct fwd_load_opts *opts, struct fwd_edit **out,
		      size_t *n, char *err, size_t errlen, int *err_word)
{
	return parse_at(argc, argv, now, opts, NULL, out, n, err, errlen, err_word);
}

int fwd_edit_parse(int argc, const char *const *argv, uint64_t now,
		   const struct fwd_load_opts *opts, struct fwd_edit **out,
		   size_t *n, char *err, size_t errlen)
{
	return fwd_edit_parse_at(argc, argv, now, opts, out, n, err, errlen, NULL);
}

int fwd_edit_parse_ports(const char *word, const struct fwd_load_opts *opts,
			 struct fwd_ports **out, size_t *n, char *err, size_t errlen)
{
	const char *argv[] = { "allow", word };
	struct fwd_edit *e = NULL;
	size_t ne = 0;
	char b[QBUF];
	int ret;

	*out = NULL;
	*n = 0;
	/* The words of `allow PORTS`, so both read PORTS alike; anything
	 * beyond PORTS in the word (a peer, a time) is not PORTS. */
	ret = fwd_edit_parse(2, argv, 0, opts, &e, &ne, err, errlen);
	for (size_t i = 0; ret == 0 && i < ne; i++)
		if (e[i].peer != FWD_PEER_ANY || e[i].expires || e[i].dir != FWD_DIR_IN)
			ret = bad(err, errlen, "'%s' is not PORTS (like 22/tcp, 53, "
				  "https or 60000-61000/udp)",
				  fwd_quote(b, word, strlen(word), QUOTE_MAX));
	if (ret == 0) {
		*out = fwd_xreallocarray(NULL, ne + 1, sizeof(**out));
		for (size_t i = 0; i < ne; i++)
			(*out)[i] = e[i].ports;
		*n = ne;
	}
	free(e);
	return ret;
}

/* ---- a batch on stdin ---- */

struct batch {
	const char **w;		/* argv for the parser */
	unsigned *line;		/* per word: its line of stdin, 0 = argv */
	size_t n, cap;
	char *text;		/* the copy of stdin, cut in place */
};

static void batch_push(struct batch *b, const char *w, unsigned line)
{
	size_t cap = b->cap;

	FWD_GROW(b->w, cap, b->n + 2);
	b->line = fwd_xreallocarray(b->line, cap, sizeof(*b->line));
	b->cap = cap;
	b->line[b->n] = line;
	b->w[b->n++] = w;
	b->w[b->n] = NULL;
}

/*
 * stdin, line by line, each line one word (the lexer splits it further at
 * blanks and commas). '#' or ';' cuts a line where it stands: the rest is
 * a comment, never an address. A NUL byte is an error, not the end of the
 * input. 0, or -EINVAL with the message in err.
 */
static int batch_lines(struct batch *b, const char *in, size_t len, char *err,
		       size_t errlen)
{
	char *p, *end;
	unsigned line = 0;

	b->text = fwd_xmalloc(len + 1);
	if (len)
		memcpy(b->text, in, len);
	b->text[len] = '\0';
	for (p = b->text, end = b->text + len; p < end; ) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;

		line++;
		if (memchr(p, '\0', (size_t)(le - p))) {
			snprintf(err, errlen, "stdin:%u: NUL byte in line (is this a "
				 "text file?)", line);
			return -EINVAL;
		}
		*le = '\0';
		p[strcspn(p, "#;")] = '\0';
		if (p[strspn(p, " \t\r\v\f,")])
			batch_push(b, p, line);
		p = le + 1;
	}
	return 0;
}

int fwd_edit_parse_batch(int argc, const char *const *argv, const void *in,
			 size_t inlen, uint64_t now, const struct fwd_load_opts *opts,
			 struct fwd_edit **out, size_t *n, char *err, size_t errlen)
{
	return fwd_edit_parse_batch_hints(argc, argv, in, inlen, now, opts, NULL,
					  out, n, err, errlen);
}

int fwd_edit_parse_batch_hints(int argc, const char *const *argv, const void *in,
			       size_t inlen, uint64_t now,
			       const struct fwd_load_opts *opts,
			       const struct fwd_policy *hints, struct fwd_edit **out,
			       size_t *n, char *err, size_t errlen)
{
	struct batch b = { 0 };
	bool taken = false;
	char msg[512];
	int ret = 0, at = -1;

	if (errlen)
		err[0] = '\0';
	for (int i = 0; i < argc && ret == 0; i++) {
		if (in && !taken && argv[i] && !strcmp(argv[i], "-")) {
			taken = true;
			ret = batch_lines(&b, in, inlen, msg, sizeof(msg));
			continue;
		}
		batch_push(&b, argv[i], 0);
	}
	if (ret == 0) {
		ret = parse_at((int)b.n, b.w, now, opts, hints, out, n, msg,
			       sizeof(msg), &at);
		if (ret && at >= 0 && b.line[at])
			snprintf(err, errlen, "stdin:%u: %s", b.line[at], msg);
		else if (ret)
			snprintf(err, errlen, "%s", msg);
	} else {
		snprintf(err, errlen, "%s", msg);
	}
	free(b.w);
	free(b.line);
	free(b.text);
	return ret;
}

/* ---- canonical words ---- */

static size_t fmt_ports(const struct fwd_ports *p, char *buf, size_t len)
{
	int r;

	if (p->lo == p->hi)
		r = snprintf(buf, len, "%u/%s", p->lo, fwd_proto_name(p->proto));
	else
		r = snprintf(buf, len, "%u-%u/%s", p->lo, p->hi,
			     fwd_proto_name(p->proto));
	return r < 0 ? 0 : (size_t)r;
}

/* Everything after the kind: the value of an [edits] line. */
static int format_rest(const struct fwd_edit *e, char *buf, size_t len)
{
	char a[FWD_ADDR_STRLEN], pt[32], peer[FWD_ADDR_STRLEN + FWD_NAME_MAX + 2];
	char until[32] = "", rs[48] = "";
	size_t nl = strnlen(e->list, sizeof(e->list) - 1);

	if (e->expires)
		snprintf(until, sizeof(until), " until %llu",
			 (unsigned long long)e->expires);
	fwd_addr_format(&e->addr, a, sizeof(a));
	switch (e->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		fmt_ports(&e->ports, pt, sizeof(pt));
		if (e->peer == FWD_PEER_LIST)
			snprintf(peer, sizeof(peer), "@%.*s", (int)nl, e->list);
		else if (e->peer == FWD_PEER_ADDR)
			snprintf(peer, sizeof(peer), "%s", a);
		else
			snprintf(peer, sizeof(peer), "any");
		fwd_restrict_format(&e->rs, rs, sizeof(rs));
		return snprintf(buf, len, "%s %s %s%s%s", pt,
				e->dir == FWD_DIR_OUT ? "to" : "from", peer, rs,
				until);
	case FWD_EDIT_BLOCK:
		return snprintf(buf, len, "%s%s", a, until);
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		return snprintf(buf, len, "%.*s %s%s", (int)nl, e->list, a, until);
	}
	return snprintf(buf, len, "?");
}

int fwd_edit_format(const struct fwd_edit *e, char *buf, size_t len)
{
	const char *kind = kind_ok((int)e->kind) ? kind_words[e->kind] : "?";
	char rest[FWD_EDIT_STRLEN];

	format_rest(e, rest, sizeof(rest));
	return snprintf(buf, len, "%s %s", kind, rest);
}

/* ---- matching ---- */

static bool addr_eq(const struct fwd_addr *a, const struct fwd_addr *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       (a->family != AF_INET && a->family != AF_INET6 ?
		!memcmp(a->a, b->a, sizeof(a->a)) :
		!memcmp(a->a, b->a, fwd_addr_len(a)));
}

static bool list_eq(const char *a, const char *b)
{
	return strncmp(a, b, FWD_NAME_MAX + 1) == 0;
}

bool fwd_edit_same(const struct fwd_edit *a, const struct fwd_edit *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		if (a->dir != b->dir || a->ports.proto != b->ports.proto ||
		    a->ports.lo != b->ports.lo || a->ports.hi != b->ports.hi ||
		    a->peer != b->peer || !fwd_restrict_eq(&a->rs, &b->rs))
			return false;
		if (a->peer == FWD_PEER_ADDR)
			return addr_eq(&a->addr, &b->addr);
		if (a->peer == FWD_PEER_LIST)
			return list_eq(a->list, b->list);
		return true;
	case FWD_EDIT_BLOCK:
		return addr_eq(&a->addr, &b->addr);
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		return list_eq(a->list, b->list) && addr_eq(&a->addr, &b->addr);
	}
	return false;
}

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;	/* FNV-1a */
	return h;
}

static uint64_t mix_addr(uint64_t h, const struct fwd_addr *a)
{
	h = mix(h, &a->family, 1);
	h = mix(h, &a->prefix, 1);
	return mix(h, a->a, a->family != AF_INET && a->family != AF_INET6 ?
		   sizeof(a->a) : fwd_addr_len(a));
}

uint64_t fwd_edit_hash(const struct fwd_edit *e)
{
	uint64_t h = 1469598103934665603ULL;
	uint32_t k = (uint32_t)e->kind;

	h = mix(h, &k, sizeof(k));
	switch (e->kind) {
	case FWD_EDIT_ALLOW:
	case FWD_EDIT_DENY:
		k = (uint32_t)e->dir << 16 | (uint32_t)e->peer << 8 | e->ports.proto;
		h = mix(h, &k, sizeof(k));
		h = mix(h, &e->ports.lo, sizeof(e->ports.lo));
		h = mix(h, &e->ports.hi, sizeof(e->ports.hi));
		if (e->peer == FWD_PEER_ADDR)
			h = mix_addr(h, &e->addr);
		else if (e->peer == FWD_PEER_LIST)
			h = mix(h, e->list, strnlen(e->list, FWD_NAME_MAX + 1));
		break;
	case FWD_EDIT_BLOCK:
		h = mix_addr(h, &e->addr);
		break;
	case FWD_EDIT_LIST_ADD:
	case FWD_EDIT_LIST_DEL:
		h = mix(h, e->list, strnlen(e->list, FWD_NAME_MAX + 1));
		h = mix_addr(h, &e->addr);
		break;
	}
	return h;
}

/* ---- the model ---- */

static int bad(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A parsed address: family, prefix in range, no host bits. */
static bool addr_valid(const struct fwd_addr *a)
{
	uint8_t lo[16], hi[16];

	if (a->family != AF_INET && a->family != AF_INET6)
		return false;
	if (a->prefix > fwd_addr_bits(a))
		return false;
	fwd_addr_range(a, lo, hi);
	return !memcmp(lo, a->a, fwd_addr_len(a));
}

static bool list_name_valid(const char *s)
{
	size_t n = strnlen(s, FWD_NAME_MAX + 1);

	return n <= FWD_NAME_MAX && fwd_name_valid(s, n);
}

static bool list_known(const struct fwd_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nlists; i++)
		if (!strcmp(p->lists[i].name, name))
			return true;
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].kind == FWD_EDIT_LIST_ADD &&
		    list_eq(p->edits[i].list, name))
			return true;
	return false;
}

const char *fwd_policy_suggest_list(const struct fwd_policy *p, const char *s,
				    size_t n)
{
	struct fwd_suggest sg;

	fwd_suggest_init(&sg, s, n);
	for (size_t i = 0; i < p->nlists; i++)
		fwd_suggest_offer(&sg, p->lists[i].name);
	for (size_t i = 0; i < p->nedits; i++)
		if (p->edits[i].kind == FWD_EDIT_LIST_ADD)
			fwd_suggest_offer(&sg, p->edits[i].list);
	return sg.best;
}

/* on / limit as the parser would have let them through, else why not. */
static const char *restrict_check(const struct fwd_edit *e)
{
	const struct fwd_restrict *r = &e->rs;
	size_t n = strnlen(r->ifname, sizeof(r->ifname));

	if (!fwd_restrict_on(r))
		return NULL;
	if (e->kind != FWD_EDIT_ALLOW)
		return "'on' and 'limit' apply to allow only";
	if (n == sizeof(r->ifname) || (n && fwd_ifname_check(r->ifname, n)))
		return "bad interface name";
	if (r->limit_n && (e->dir != FWD_DIR_IN || r->limit_n > FWD_LIMIT_N_MAX ||
			   r->limit_w < 1 || r->limit_w > FWD_LIMIT_W_MAX))
		return "bad limit";
	return NULL;
}

static int edit_check(const struct fwd_policy *p, const struct fwd_edit *e,
		      char *err, size_t errlen)
{
	const struct fwd_ports *pt = &e->ports;

	if (!kind_ok((int)e->kind))
		return bad(err, errlen, "malformed edit: kind %d", (int)e->kind);
	/* The owned file writes it as "until EPOCH": it must read back. */
	if (e->expires > EPOCH_MAX)
		return bad(err, errlen, "malformed edit: expiry %llu is past %llu, "
			   "the kernel's limit for element timeouts",
			   (unsigned long long)e->expires,
			   (unsigned long long)EPOCH_MAX);
	if (e->kind == FWD_EDIT_BLOCK)
		return addr_valid(&e->addr) ? 0 :
		       bad(err, errlen, "malformed edit: bad address");
	if (e->kind == FWD_EDIT_LIST_ADD || e->kind == FWD_EDIT_LIST_DEL) {
		if (!list_name_valid(e->list))
			return bad(err, errlen, "malformed edit: bad list name");
		return addr_valid(&e->addr) ? 0 :
		       bad(err, errlen, "malformed edit: bad address");
	}
	if (e->dir != FWD_DIR_IN && e->dir != FWD_DIR_OUT)
		return bad(err, errlen, "malformed edit: direction %d", (int)e->dir);
	if (restrict_check(e))
		return bad(err, errlen, "malformed edit: %s", restrict_check(e));
	if ((pt->proto != IPPROTO_TCP && pt->proto != IPPROTO_UDP) ||
	    pt->lo < 1 || pt->lo > pt->hi)
		return bad(err, errlen, "malformed edit: bad port range");
	switch (e->peer) {
	case FWD_PEER_ANY:
		return 0;
	case FWD_PEER_ADDR:
		return addr_valid(&e->addr) ? 0 :
		       bad(err, errlen, "malformed edit: bad address");
	case FWD_PEER_LIST:
		if (!list_name_valid(e->list))
			return bad(err, errlen, "malformed edit: bad list name");
		if (!list_known(p, e->list)) {
			const char *l = fwd_policy_suggest_list(p, e->list,
								strlen(e->list));

			if (l)
				return bad(err, errlen, "unknown list '@%s' (no [list "
					   "%s] in the policy and no list add for "
					   "it; did you mean '@%s'?)", e->list,
					   e->list, l);
			return bad(err, errlen, "unknown list '@%s' (no [list %s] "
				   "in the policy and no list add for it)",
				   e->list, e->list);
		}
		return 0;
	}
	return bad(err, errlen, "malformed edit: peer kind %d", (int)e->peer);
}

/* p->files holds every file a location names; a foreign one is copied in. */
static const char *intern_file(struct fwd_policy *p, const char *file)
{
	size_t cap = p->nfiles;

	for (size_t i = p->nfiles; i-- > 0;)
		if (p->files[i] == file)
			return file;
	for (size_t i = p->nfiles; i-- > 0;)
		if (!strcmp(p->files[i], file))
			return p->files[i];
	/* files has no capacity field: it grows one at a time, as rarely as
	 * a foreign location appears. */
	p->files = fwd_xreallocarray(p->files, cap + 1, sizeof(*p->files));
	p->files[p->nfiles] = fwd_xstrdup(file);
	return p->files[p->nfiles++];
}

int fwd_policy_add_edit(struct fwd_policy *p, const struct fwd_edit *e,
			char *err, size_t errlen)
{
	struct fwd_edit *c;
	int ret;

	ret = edit_check(p, e, err, errlen);
	if (ret)
		return ret;
	FWD_GROW(p->edits, p->edits_cap, p->nedits + 1);
	c = &p->edits[p->nedits++];
	*c = *e;
	c->ports.loc = e->ports.loc.file || e->ports.loc.line ? e->ports.loc : e->loc;
	if (c->loc.file)
		c->loc.file = intern_file(p, c->loc.file);
	if (c->ports.loc.file)
		c->ports.loc.file = intern_file(p, c->ports.loc.file);
	return 0;
}

void fwd_policy_del_edit(struct fwd_policy *p, size_t i)
{
	if (i >= p->nedits)
		return;
	memmove(&p->edits[i], &p->edits[i + 1],
		(p->nedits - i - 1) * sizeof(*p->edits));
	p->nedits--;
}

/* ---- broad edits ---- */

static bool edit_live(const struct fwd_edit *e, uint64_t now)
{
	return !e->expires || e->expires > now;
}

/* A deny that names every source (or destination): any, or a /0. */
static bool deny_everyone(const struct fwd_edit *e)
{
	return e->kind == FWD_EDIT_DENY &&
	       (e->peer == FWD_PEER_ANY ||
		(e->peer == FWD_PEER_ADDR && e->addr.prefix == 0));
}

/* Whether the live blocks of edits[0..n) cover all of `family`. */
static bool blocks_cover(const struct fwd_edit *edits, size_t n, uint8_t family,
			 uint64_t now)
{
	struct fwd_addr *v;
	size_t k = 0, last;
	bool all;

	/* Counted first: an edit request with 100k list edits and no block
	 * pays a scan, not an allocation of 100k addresses. */
	for (size_t i = 0; i < n; i++)
		k += edits[i].kind == FWD_EDIT_BLOCK && edit_live(&edits[i], now) &&
		     edits[i].addr.family == family;
	if (!k)
		return false;
	v = fwd_xreallocarray(NULL, k, sizeof(*v));
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (edits[i].kind == FWD_EDIT_BLOCK && edit_live(&edits[i], now) &&
		    edits[i].addr.family == family)
			v[k++] = edits[i].addr;
	all = k && fwd_addr_cover_all(v, k, family, &last);
	free(v);
	return all;
}

/* Some way in for a new inbound connection: [defaults] inbound = allow, an
 * inbound [service] with sources, or a live fwctl allow (inbound). */
static bool inbound_open(const struct fwd_policy *p, const struct fwd_edit *edits,
			 size_t n, uint64_t now)
{
	if (p->inbound == FWD_ALLOW)
		return true;
	for (size_t i = 0; i < p->nservices; i++)
		if (p->services[i].dir == FWD_DIR_IN && p->services[i].nallow)
			return true;
	for (size_t i = 0; i < n; i++)
		if (edits[i].kind == FWD_EDIT_ALLOW && edits[i].dir == FWD_DIR_IN &&
		    edit_live(&edits[i], now))
			return true;
	return false;
}

static bool has_same(const struct fwd_edit *edits, size_t n,
		     const struct fwd_edit *e)
{
	for (size_t i = 0; i < n; i++)
		if (fwd_edit_same(&edits[i], e))
			return true;
	return false;
}

bool fwd_edits_broad(const struct fwd_policy *p, const struct fwd_edit *before,
		     size_t nbefore, uint64_t now, char *why, size_t len)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };

	for (size_t f = 0; f < 2; f++) {
		if (blocks_cover(p->edits, p->nedits, fams[f], now) &&
		    !blocks_cover(before, nbefore, fams[f], now)) {
			snprintf(why, len, "the blocks would then cover every %s "
				 "address: all %s traffic to and from this host "
				 "would be dropped, established connections "
				 "included", fams[f] == AF_INET ? "IPv4" : "IPv6",
				 fams[f] == AF_INET ? "IPv4" : "IPv6");
			return true;
		}
	}
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		char w[FWD_EDIT_STRLEN];

		if (!deny_everyone(e) || !edit_live(e, now) ||
		    has_same(before, nbefore, e))
			continue;
		fwd_edit_format(e, w, sizeof(w));
		snprintf(why, len, "'%s' refuses that port to every %s, wherever "
			 "the policy allows it", w,
			 e->dir == FWD_DIR_OUT ? "destination" : "source");
		return true;
	}
	if (inbound_open(p, before, nbefore, now) &&
	    !inbound_open(p, p->edits, p->nedits, now)) {
		snprintf(why, len, "this removes the last inbound allow: no new "
			 "inbound connection would be accepted, SSH included");
		return true;
	}
	return false;
}

/* ---- the owned file ---- */

static const char edits_header[] =
	"; Written by fwd for fwctl edits. Do not edit: fwd rewrites this file.\n"
	"; One edit per line; \"until\" is unix time. See fwctl(8).\n"
	"[edits]\n";

/*
 * Only edits made live (no file yet) or read from fwd's own file belong in
 * it: an [edits] line somebody wrote into another file stays there, and
 * copying it here would resurrect it after a `fwctl remove`.
 */
static bool owned_edit(const struct fwd_edit *e)
{
	const char *f = e->loc.file, *slash;

	if (!f)
		return true;
	slash = strrchr(f, '/');
	return strcmp(slash ? slash + 1 : f, FWD_EDITS_FILE) == 0;
}

char *fwd_edits_render_file(const struct fwd_policy *p, uint64_t now)
{
	size_t len = sizeof(edits_header) - 1, cap = len + 1 + p->nedits * 64;
	char *buf = fwd_xmalloc(cap);

	memcpy(buf, edits_header, len);
	for (size_t i = 0; i < p->nedits; i++) {
		const struct fwd_edit *e = &p->edits[i];
		const char *kind;
		int r;

		if (e->runtime || (e->expires && e->expires <= now) ||
		    !kind_ok((int)e->kind) || !owned_edit(e))
			continue;
		kind = kind_words[e->kind];
		if (cap - len < FWD_EDIT_STRLEN + 16) {
			cap = cap * 2 + FWD_EDIT_STRLEN + 16;
			buf = fwd_xrealloc(buf, cap);
		}
		r = snprintf(buf + len, cap - len, "%s = ", kind);
		len += (size_t)r;
		r = format_rest(e, buf + len, cap - len);
		len += (size_t)r;
		buf[len++] = '\n';
	}
	buf[len] = '\0';
	return buf;
}
