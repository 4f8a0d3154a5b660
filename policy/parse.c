// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * INI policy files -> validated model (policy.h).
 *
 * Three layers, one pass per file:
 *
 *  1. A line gate: the ini_reader handed to inih. It owns the line count
 *     (Debian's inih does not pass line numbers to handlers), strips a
 *     leading BOM and CRs, and rejects what inih would silently mangle or
 *     drop: over-long lines (inih has a 200-byte buffer), NULs, control
 *     characters, lines that are neither blank, comment, [section],
 *     key = value nor continuation. A rejected line is reported once and
 *     given to inih as an empty line, so inih never sees anything it would
 *     treat as an error and its view of the file stays in step with ours.
 *     Section headers are handled here too: inih has no callback for them
 *     in this build, and an empty section must still be seen.
 *  2. inih splits key = value, drops inline comments and calls the handler
 *     again, with the same key, for every indented continuation line.
 *  3. The handler checks keys and values and appends to the model. The
 *     lines of an [edits] section are fwctl's words (edit.h): a key's
 *     words, continuation lines included, go to fwd_edit_parse when the
 *     key ends.
 *
 * After every file is read, services' @list references are resolved by
 * name, so a list may be defined in any file. Errors never stop the load: each goes
 * to the diagnostics list with FILE:LINE, and the model is discarded at the
 * end if there was any.
 */
#include "edit.h"
#include "outbound.h"
#include "policy.h"
#include "services.h"
#include "util.h"

#include <ctype.h>
#include <pwd.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Errors reported per file before the rest are only counted: a policy that
 * names the wrong list file must not print a million lines. */
#define MAX_ERRORS_PER_FILE 100
/* How much of a user's word an error message quotes. */
#define QUOTE_MAX 60
#define QBUF (QUOTE_MAX * 4 + 8)
/* Paths are quoted whole: a line holds at most ~200 bytes anyway. */
#define PATH_QUOTE_MAX 256
#define PBUF (PATH_QUOTE_MAX * 4 + 8)

static const char default_services[] = "/etc/services";

/* ---- a small string -> index hash table (names, file paths) ---- */

struct name_index {
	const char **keys;	/* borrowed: the strings live in the model */
	size_t *vals;
	size_t n, cap;		/* cap is 0 or a power of two */
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static bool index_get(const struct name_index *x, const char *key, size_t *val)
{
	if (!x->cap)
		return false;
	for (size_t i = hash_str(key) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
		if (!x->keys[i])
			return false;
		if (strcmp(x->keys[i], key) == 0) {
			*val = x->vals[i];
			return true;
		}
	}
}

/* Insert a key that index_get() did not find. */
static void index_put(struct name_index *x, const char *key, size_t val)
{
	size_t i;

	if ((x->n + 1) * 2 > x->cap) {
		struct name_index old = *x;

		x->cap = old.cap ? old.cap * 2 : 16;
		x->keys = fwd_xcalloc(x->cap, sizeof(*x->keys));
		x->vals = fwd_xcalloc(x->cap, sizeof(*x->vals));
		x->n = 0;
		for (i = 0; i < old.cap; i++)
			if (old.keys[i])
				index_put(x, old.keys[i], old.vals[i]);
		free(old.keys);
		free(old.vals);
	}
	for (i = hash_str(key) & (x->cap - 1); x->keys[i]; i = (i + 1) & (x->cap - 1))
		;
	x->keys[i] = key;
	x->vals[i] = val;
	x->n++;
}

static void index_free(struct name_index *x)
{
	free(x->keys);
	free(x->vals);
	memset(x, 0, sizeof(*x));
}

/* ---- loader state ---- */

enum sec_kind {
	SEC_NONE, SEC_SKIP, SEC_DEFAULTS, SEC_CONTROL, SEC_LIST, SEC_SERVICE,
	SEC_EDITS, SEC_GUARD, SEC_AUDIT, SEC_METRICS
};

enum key_id {
	K_NONE,		/* no key open */
	K_SKIP,		/* a key already reported: ignore it and its lines */
	K_INBOUND, K_OUTBOUND, K_LOG, K_ICMP, K_COUNTERS, K_RESCUE,
	K_RPFILTER,
	K_ADMIN_GROUP, K_READ_GROUP,
	K_MEMBERS, K_FILE,
	K_PORTS, K_ALLOW, K_DIRECTION, K_INTERFACE, K_LIMIT,
	K_USER, K_UNIT, K_PROGRAM,
	K_EDIT_ALLOW, K_EDIT_DENY, K_EDIT_BLOCK, K_EDIT_LIST_ADD, K_EDIT_LIST_DEL,
	K_QUEUES, K_DSHIELD_USERID, K_PROG_LIMIT,
	K_SCAN, K_FLOOD, K_BLOCK, K_NEVER, K_PREFIX6, K_MAX_BLOCKED,
	K_INTERVAL,
	K_TEXTFILE, K_METRICS_INTERVAL,
	K_MAX
};

enum line_kind { L_OTHER, L_KV, L_CONT };

struct key_def {
	const char *name;
	enum sec_kind sec;
	enum key_id id;
	bool multi;		/* repeats and continuation lines append */
};

static const struct key_def key_defs[] = {
	{ "inbound",   SEC_DEFAULTS, K_INBOUND,   false },
	{ "outbound",  SEC_DEFAULTS, K_OUTBOUND,  false },
	{ "log",       SEC_DEFAULTS, K_LOG,       false },
	{ "icmp",      SEC_DEFAULTS, K_ICMP,      false },
	{ "counters",  SEC_DEFAULTS, K_COUNTERS,  false },
	{ "rescue",    SEC_DEFAULTS, K_RESCUE,    true },
	{ "rpfilter",  SEC_DEFAULTS, K_RPFILTER,  false },
	{ "admin_group", SEC_CONTROL, K_ADMIN_GROUP, false },
	{ "read_group",  SEC_CONTROL, K_READ_GROUP,  false },
	{ "members",   SEC_LIST,     K_MEMBERS,   true },
	{ "file",      SEC_LIST,     K_FILE,      true },
	{ "ports",     SEC_SERVICE,  K_PORTS,     true },
	{ "allow",     SEC_SERVICE,  K_ALLOW,     true },
	{ "direction", SEC_SERVICE,  K_DIRECTION, false },
	{ "interface", SEC_SERVICE,  K_INTERFACE, false },
	{ "limit",     SEC_SERVICE,  K_LIMIT,     false },
	/* Who may open an outbound service's flows (outbound.c). */
	{ "user",      SEC_SERVICE,  K_USER,      true },
	{ "unit",      SEC_SERVICE,  K_UNIT,      true },
	{ "program",   SEC_SERVICE,  K_PROGRAM,   true },
	/* fwctl's edits (edit.h): each line is one command's words. */
	{ "allow",     SEC_EDITS,    K_EDIT_ALLOW,    true },
	{ "deny",      SEC_EDITS,    K_EDIT_DENY,     true },
	{ "block",     SEC_EDITS,    K_EDIT_BLOCK,    true },
	{ "list-add",  SEC_EDITS,    K_EDIT_LIST_ADD, true },
	{ "list-del",  SEC_EDITS,    K_EDIT_LIST_DEL, true },
	/* The verdict loop (guard.h): its queues and its DShield id... */
	{ "queues",    SEC_DEFAULTS, K_QUEUES,    false },
	{ "dshield_userid", SEC_DEFAULTS, K_DSHIELD_USERID, false },
	/* The kernel meter in front of the program queue (policy.h). */
	{ "program_limit", SEC_DEFAULTS, K_PROG_LIMIT, false },
	/* ...and its scan and flood guard. */
	{ "scan",      SEC_GUARD,    K_SCAN,      false },
	{ "flood",     SEC_GUARD,    K_FLOOD,     false },
	{ "block",     SEC_GUARD,    K_BLOCK,     false },
	{ "never",     SEC_GUARD,    K_NEVER,     true },
	{ "prefix6",   SEC_GUARD,    K_PREFIX6,   false },
	{ "max_blocked", SEC_GUARD,  K_MAX_BLOCKED, false },
	/* The exposure audit fwd runs by itself. */
	{ "interval",  SEC_AUDIT,    K_INTERVAL,  false },
	/* The metrics file fwd writes for node_exporter. */
	{ "textfile",  SEC_METRICS,  K_TEXTFILE,  false },
	{ "interval",  SEC_METRICS,  K_METRICS_INTERVAL, false },
};


/* One file being reported on: errors beyond the cap are only counted. */
struct src {
	const char *name;
	unsigned nerr;
};

/* An @list word waiting for every file to be read: a service's allow peer,
 * or (svc == GUARD_REF) a [guard] never peer. */
#define GUARD_REF SIZE_MAX
struct list_ref {
	size_t svc, peer;
	char *name;
};

struct loader {
	struct fwd_policy *p;
	struct fwd_diags *d;
	size_t d_start;

	struct fwd_ports_parser ports;	/* holds the services file once read */
	bool list_files_ok;
	struct fwd_list_cache *cache;	/* fwd_load_opts.list_cache */

	struct name_index files_idx, lists_idx, services_idx;
	size_t files_cap, lists_cap, services_cap;
	struct list_ref *refs;
	size_t nrefs, refs_cap;

	bool have_defaults, have_control;
	struct fwd_loc defaults_loc, control_loc;
	size_t rescue_cap;
	bool have_guard;
	struct fwd_loc guard_loc;
	bool have_audit;
	struct fwd_loc audit_loc;
	bool have_metrics, metrics_file_seen;	/* textfile = written, valid or not */
	struct fwd_loc metrics_loc;
	size_t never_cap;

	/* [edits]: the words of the open edit key (continuation lines
	 * append), a scratch array for what one line expands to, and the
	 * clock "for DURATION" counts from. */
	char *ewords;
	size_t ewords_len, ewords_cap;
	const char **eargv;
	size_t eargv_cap;
	struct fwd_edit *escratch;
	uint64_t now;

	/* The file being read. */
	struct src *src;
	const char *file;		/* interned */
	char *dir;			/* "" or "path/" for relative list files */
	const char *buf;
	size_t len, pos;
	unsigned line;
	enum line_kind kind;		/* what the gate made of this line */
	bool inih_prev;			/* inih holds a key for continuations */
	/* The first blank or comment line since the last key or value line
	 * (0: none). inih would go on continuing its key after it; we end
	 * the value there instead (see classify). */
	unsigned gap_line;
	bool gap_reported;

	/* The section being read. */
	enum sec_kind sec;
	size_t idx;			/* list or service index */
	unsigned sec_line;
	bool saw_key[K_MAX];		/* this section (or [defaults]) had it */
	unsigned key_first[K_MAX];	/* first line of a single-valued key */
	/* A service is only appended to while its section is open, so the
	 * capacities of its arrays live here, not in the public struct. */
	size_t ports_cap, allow_cap;

	/* The key being read (continuation lines append to it). */
	enum key_id key;
	unsigned key_line;
	size_t key_words;		/* words it has had, good or bad */
	bool cont_reported;
};

static void verr(struct loader *L, struct src *s, unsigned line,
		 const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));

static void verr(struct loader *L, struct src *s, unsigned line,
		 const char *fmt, va_list ap)
{
	char *msg;

	if (s && ++s->nerr > MAX_ERRORS_PER_FILE)
		return;
	msg = fwd_xvasprintf(fmt, ap);
	fwd_diags_add(L->d, s ? s->name : NULL, line, "%s", msg);
	free(msg);
}

static void serr(struct loader *L, struct src *s, unsigned line,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void serr(struct loader *L, struct src *s, unsigned line,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(L, s, line, fmt, ap);
	va_end(ap);
}

/* An error on the current line of the current file. */
static void err(struct loader *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void err(struct loader *L, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verr(L, L->src, L->line, fmt, ap);
	va_end(ap);
}

static void src_done(struct loader *L, struct src *s)
{
	if (s->nerr > MAX_ERRORS_PER_FILE)
		fwd_diags_add(L->d, s->name, 0,
			      "%u more errors not shown (stopped after %u)",
			      s->nerr - MAX_ERRORS_PER_FILE, MAX_ERRORS_PER_FILE);
}

/* A user's word, fit for a message (diag.h). */
static const char *quote_max(char *buf, const char *s, size_t n, size_t max)
{
	return fwd_quote(buf, s, n, max);
}

static const char *quote(char *buf, const char *s, size_t n)
{
	return quote_max(buf, s, n, QUOTE_MAX);
}

/*
 * Files that are plainly not UTF-8 text: say what they are in one message
 * instead of one error per line. NULL if the start looks like text.
 */
static const char *not_text(const char *buf, size_t len)
{
	static const struct {
		const char *magic;
		size_t len;
		const char *what;
	} kinds[] = {
		{ "\xff\xfe\0\0", 4, "UTF-32 text; save it as UTF-8" },
		{ "\0\0\xfe\xff", 4, "UTF-32 text; save it as UTF-8" },
		{ "\xff\xfe", 2, "UTF-16 text; save it as UTF-8" },
		{ "\xfe\xff", 2, "UTF-16 text; save it as UTF-8" },
		{ "\x1f\x8b", 2, "gzip-compressed; decompress it first" },
		{ "\xfd" "7zXZ", 6, "xz-compressed; decompress it first" },
		{ "\x28\xb5\x2f\xfd", 4, "zstd-compressed; decompress it first" },
		{ "BZh", 3, "bzip2-compressed; decompress it first" },
		{ "\x7f" "ELF", 4, "an ELF binary, not a text file" },
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (len >= kinds[i].len && !memcmp(buf, kinds[i].magic, kinds[i].len))
			return kinds[i].what;
	return NULL;
}

static const char *loc_file(const struct fwd_loc *loc)
{
	return loc->file ? loc->file : "<built-in>";
}

static const char *intern_file(struct loader *L, const char *path)
{
	struct fwd_policy *p = L->p;
	size_t i;

	if (index_get(&L->files_idx, path, &i))
		return p->files[i];
	FWD_GROW(p->files, L->files_cap, p->nfiles + 1);
	p->files[p->nfiles] = fwd_xstrdup(path);
	index_put(&L->files_idx, p->files[p->nfiles], p->nfiles);
	return p->files[p->nfiles++];
}

/* "dir/" for "dir/name", "" for "name": relative paths are joined to it. */
static char *dir_prefix(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? fwd_xstrndup(path, (size_t)(slash - path) + 1)
		     : fwd_xstrdup("");
}

static bool valid_name(const char *s, size_t n)
{
	return fwd_name_valid(s, n);
}

#define NAME_RULE "names are 1-32 characters from A-Z a-z 0-9 _ . -"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_word_sep(char c)
{
	return c == ',' || isspace((unsigned char)c);
}

/* ---- the model ---- */

static struct fwd_loc here(const struct loader *L)
{
	return (struct fwd_loc){ .file = L->file, .line = L->line };
}

/* Room for `need` members; addrs and locs share n and cap, so they grow
 * in step (doubling: appends are amortised O(1)). */
static void list_reserve(struct fwd_list *l, size_t need)
{
	size_t cap = l->cap;

	if (need <= cap)
		return;
	FWD_GROW(l->addrs, cap, need);
	l->locs = fwd_xreallocarray(l->locs, cap, sizeof(*l->locs));
	l->cap = cap;
}

static void list_add(struct fwd_list *l, const struct fwd_addr *a,
		     const struct fwd_loc *loc)
{
	if (l->n == l->cap)
		list_reserve(l, l->n + 1);
	l->addrs[l->n] = *a;
	l->locs[l->n] = *loc;
	l->n++;
}

static struct fwd_service *cur_service(struct loader *L)
{
	return &L->p->services[L->idx];
}

static struct fwd_list *cur_list(struct loader *L)
{
	return &L->p->lists[L->idx];
}

static void add_ports(struct loader *L, uint8_t proto, uint16_t lo, uint16_t hi)
{
	struct fwd_service *s = cur_service(L);

	FWD_GROW(s->ports, L->ports_cap, s->nports + 1);
	s->ports[s->nports++] = (struct fwd_ports){
		.proto = proto, .lo = lo, .hi = hi, .loc = here(L),
	};
}

static struct fwd_peer *add_peer(struct loader *L, enum fwd_peer_kind kind)
{
	struct fwd_service *s = cur_service(L);
	struct fwd_peer *pe;

	FWD_GROW(s->allow, L->allow_cap, s->nallow + 1);
	pe = &s->allow[s->nallow++];
	memset(pe, 0, sizeof(*pe));
	pe->kind = kind;
	pe->list = SIZE_MAX;
	pe->loc = here(L);
	return pe;
}

/* ---- values ---- */

struct choice {
	const char *word;
	int val;
};

static const struct choice actions[] = {
	{ "deny", FWD_DENY }, { "reject", FWD_REJECT }, { "allow", FWD_ALLOW },
};
static const struct choice logs[] = {
	{ "off", FWD_LOG_OFF }, { "denied", FWD_LOG_DENIED }, { "all", FWD_LOG_ALL },
};
static const struct choice icmps[] = {
	{ "essential", FWD_ICMP_ESSENTIAL }, { "all", FWD_ICMP_ALL },
	{ "none", FWD_ICMP_NONE },
};
static const struct choice yesno[] = {
	{ "yes", 1 }, { "no", 0 },
};
static const struct choice dirs[] = {
	{ "in", FWD_DIR_IN }, { "out", FWD_DIR_OUT },
};
static const struct choice rpfilters[] = {
	{ "strict", FWD_RPF_STRICT }, { "loose", FWD_RPF_LOOSE },
	{ "no", FWD_RPF_NO },
};

/* Words other firewalls use for the same thing: named in the error, never
 * accepted, so that one policy file has one spelling. */
static const char *action_hint(const char *v)
{
	if (!strcmp(v, "drop") || !strcmp(v, "block"))
		return "deny";
	if (!strcmp(v, "accept") || !strcmp(v, "pass"))
		return "allow";
	return NULL;
}

/* rpfilter in the words of the yes/no keys and of the kernel's rp_filter
 * sysctl (1 strict, 2 loose, 0 off). */
static const char *rpfilter_hint(const char *v)
{
	if (!strcmp(v, "yes") || !strcmp(v, "on") || !strcmp(v, "1") ||
	    !strcmp(v, "true"))
		return "strict";
	if (!strcmp(v, "2"))
		return "loose";
	if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false") ||
	    !strcmp(v, "none"))
		return "no";
	return NULL;
}

static bool choose(struct loader *L, const char *key, const char *v,
		   const struct choice *c, size_t n, int *out)
{
	char valid[128] = "", q[QBUF];
	const char *hint = c == actions ? action_hint(v) :
			   c == rpfilters ? rpfilter_hint(v) : NULL;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v, c[i].word) == 0) {
			*out = c[i].val;
			return true;
		}
		snprintf(valid + strlen(valid), sizeof(valid) - strlen(valid),
			 "%s%s", i ? ", " : "", c[i].word);
	}
	if (!*v)
		err(L, "missing value for '%s'; valid values are %s", key, valid);
	else if (hint)
		err(L, "invalid %s '%s'; valid values are %s (did you mean '%s'?)",
		    key, quote(q, v, strlen(v)), valid, hint);
	else
		err(L, "invalid %s '%s'; valid values are %s", key,
		    quote(q, v, strlen(v)), valid);
	return false;
}

#define CHOOSE(L, key, v, table, out) \
	choose(L, key, v, table, sizeof(table) / sizeof(table[0]), out)

/*
 * A group name for the control socket's SO_PEERCRED check: the portable
 * user/group name set of useradd(8), at most 32 bytes, no leading '-'.
 * Whether the group exists is the daemon's business (it may be created
 * after the policy is written).
 */
static void group_value(struct loader *L, const char *key, const char *v,
			char **out)
{
	size_t n = strlen(v);
	char q[QBUF];

	if (!n) {
		err(L, "missing value for '%s'; name a group", key);
		return;
	}
	if (!valid_name(v, n) || v[0] == '-') {
		err(L, "invalid group name '%s'; " NAME_RULE ", not starting "
		    "with '-'", quote(q, v, n));
		return;
	}
	free(*out);
	*out = fwd_xstrdup(v);
}

static void guard_value(struct loader *L, const char *key, const char *v);

/* [audit] interval = DURATION, 10s to 1d: shorter would have fwd walk
 * /proc for little news, longer is what cron is for. */
static void audit_interval(struct loader *L, const char *v)
{
	char q[QBUF];
	uint64_t x;

	if (fwd_duration_parse(v, strlen(v), &x) == 0 && x >= 10 && x <= 86400) {
		L->p->audit.interval = (uint32_t)x;
		L->p->audit.interval_loc = here(L);
	} else if (!*v) {
		err(L, "missing value for 'interval'; write a DURATION like 30s, "
		    "5m or 1h (10s to 1d)");
	} else {
		err(L, "invalid interval '%s'; write a DURATION like 30s, 5m or 1h "
		    "(10s to 1d)", quote(q, v, strlen(v)));
	}
}

/*
 * [service] interface = IFACE / limit = N/WINDOW (policy.h, fwd_restrict).
 * The value is one word; a limit may have blanks around its '/'.
 */
static void restrict_value(struct loader *L, const char *v)
{
	struct fwd_service *sv = cur_service(L);
	size_t n = strlen(v);
	const char *why;
	char b[QBUF];

	while (n && is_blank(v[n - 1]))
		n--;
	if (L->key == K_INTERFACE) {
		why = fwd_ifname_check(v, n);
		if (why) {
			err(L, "interface '%s': %s", quote(b, v, n), why);
			return;
		}
		memcpy(sv->rs.ifname, v, n);
		sv->rs.ifname[n] = '\0';
		sv->iface_loc = here(L);
		return;
	}
	why = fwd_limit_parse(v, n, &sv->rs.limit_n, &sv->rs.limit_w);
	if (why) {
		err(L, "limit '%s': %s", quote(b, v, n), why);
		return;
	}
	sv->limit_loc = here(L);
}

/* [defaults] program_limit = N/WINDOW (policy.h), as a service's limit. */
static void prog_limit_value(struct loader *L, const char *v)
{
	size_t n = strlen(v);
	const char *why;
	char b[QBUF];

	while (n && is_blank(v[n - 1]))
		n--;
	why = fwd_limit_parse(v, n, &L->p->prog_limit_n, &L->p->prog_limit_w);
	if (why) {
		err(L, "program_limit '%s': %s", quote(b, v, n), why);
		return;
	}
	L->p->prog_limit_loc = here(L);
}

/* What only the whole section can tell: a limit counts sources, and an
 * outbound service names destinations. */
static void restrict_end(struct loader *L, const char *name)
{
	const struct fwd_service *sv = cur_service(L);

	if (sv->rs.limit_n && sv->dir == FWD_DIR_OUT)
		serr(L, L->src, sv->limit_loc.line, "service '%s': 'limit' counts "
		     "new connections per source and applies to direction = in "
		     "only", name);
}

/*
 * [metrics] textfile = PATH: where node_exporter's textfile collector
 * reads (*.prom in its --collector.textfile.directory), absolute, a file
 * name that ends in .prom and does not start with '.' (fwd's temp files
 * in the same directory do, so the collector never reads a half-written
 * one). interval = DURATION, 5s to 1h: node_exporter is scraped every
 * 15s to 1m; a file older than an hour tells nobody anything.
 */
static void metrics_value(struct loader *L, const char *v)
{
	size_t n = strlen(v);
	const char *base = strrchr(v, '/');
	char q[PBUF];
	uint64_t x;

	if (L->key == K_METRICS_INTERVAL) {
		if (fwd_duration_parse(v, n, &x) == 0 && x >= 5 && x <= 3600) {
			L->p->metrics.interval = (uint32_t)x;
			L->p->metrics.interval_loc = here(L);
		} else {
			err(L, "invalid interval '%s'; write a DURATION like 15s, "
			    "1m or 5m (5s to 1h)", quote(q, v, n));
		}
		return;
	}
	L->metrics_file_seen = true;
	if (!n) {
		err(L, "missing value for 'textfile'; write an absolute path "
		    "ending in .prom, e.g. /var/lib/prometheus/node-exporter/fwd.prom");
		return;
	}
	if (v[0] != '/' || n < 7 || strcmp(v + n - 5, ".prom") != 0 ||
	    base[1] == '.' || n >= 4096 || strpbrk(v, " \t\n\r\"\\")) {
		err(L, "invalid textfile '%s'; write an absolute path ending in "
		    ".prom whose file name does not start with '.', e.g. "
		    "/var/lib/prometheus/node-exporter/fwd.prom",
		    quote_max(q, v, n, PATH_QUOTE_MAX));
		return;
	}
	free(L->p->metrics.textfile);
	L->p->metrics.textfile = fwd_xstrdup(v);
	L->p->metrics.textfile_loc = here(L);
}

static void scalar_value(struct loader *L, const char *key, const char *v)
{
	struct fwd_policy *p = L->p;
	int x;

	switch (L->key) {
	case K_INBOUND:
		if (CHOOSE(L, key, v, actions, &x)) {
			p->inbound = (enum fwd_action)x;
			p->inbound_loc = here(L);
		}
		break;
	case K_OUTBOUND:
		if (CHOOSE(L, key, v, actions, &x)) {
			p->outbound = (enum fwd_action)x;
			p->outbound_loc = here(L);
		}
		break;
	case K_LOG:
		if (CHOOSE(L, key, v, logs, &x)) {
			p->log = (enum fwd_log)x;
			p->log_loc = here(L);
		}
		break;
	case K_ICMP:
		if (CHOOSE(L, key, v, icmps, &x)) {
			p->icmp = (enum fwd_icmp)x;
			p->icmp_loc = here(L);
		}
		break;
	case K_COUNTERS:
		if (CHOOSE(L, key, v, yesno, &x)) {
			p->counters = x;
			p->counters_loc = here(L);
		}
		break;
	case K_RPFILTER:
		if (CHOOSE(L, key, v, rpfilters, &x)) {
			p->rpfilter = (enum fwd_rpfilter)x;
			p->rpfilter_loc = here(L);
		}
		break;
	case K_DIRECTION:
		if (CHOOSE(L, key, v, dirs, &x))
			cur_service(L)->dir = (enum fwd_dir)x;
		break;
	case K_INTERFACE:
	case K_LIMIT:
		restrict_value(L, v);
		break;
	case K_PROG_LIMIT:
		prog_limit_value(L, v);
		break;
	case K_ADMIN_GROUP:
		group_value(L, key, v, &p->admin_group);
		break;
	case K_READ_GROUP:
		group_value(L, key, v, &p->read_group);
		break;
	case K_INTERVAL:
		audit_interval(L, v);
		break;
	case K_TEXTFILE:
	case K_METRICS_INTERVAL:
		metrics_value(L, v);
		break;
	default:
		guard_value(L, key, v);
		break;
	}
}

static size_t digits(const char *w, size_t n)
{
	size_t i = 0;

	while (i < n && isdigit((unsigned char)w[i]))
		i++;
	return i;
}

static void port_error(void *arg, const char *msg)
{
	err(arg, "%s", msg);
}

/* 22/tcp, 53 (tcp and udp), 60000-61000/udp, https, https/tcp */
static void port_word(struct loader *L, const char *w, size_t n)
{
	struct fwd_port_range r[2];
	size_t k;

	L->ports.error = port_error;
	L->ports.arg = L;
	k = fwd_ports_word(&L->ports, w, n, r);
	for (size_t i = 0; i < k; i++)
		add_ports(L, r[i].proto, r[i].lo, r[i].hi);
}

static bool addr_word(struct loader *L, const char *w, size_t n,
		      struct fwd_addr *a)
{
	char why[160], q[QBUF];

	if (fwd_addr_parsen(w, n, a, why, sizeof(why)) == 0)
		return true;
	err(L, "invalid address '%s': %s", quote(q, w, n), why);
	return false;
}

static void allow_word(struct loader *L, const char *w, size_t n)
{
	struct list_ref *r;
	struct fwd_addr a;
	char q[QBUF];

	if (n == 3 && !memcmp(w, "any", 3)) {
		add_peer(L, FWD_PEER_ANY);
		return;
	}
	if (w[0] == '@') {
		if (n == 1) {
			err(L, "'@' needs a list name: @NAME");
			return;
		}
		if (!valid_name(w + 1, n - 1)) {
			err(L, "invalid list name '%s'; " NAME_RULE,
			    quote(q, w + 1, n - 1));
			return;
		}
		add_peer(L, FWD_PEER_LIST);
		FWD_GROW(L->refs, L->refs_cap, L->nrefs + 1);
		r = &L->refs[L->nrefs++];
		r->svc = L->idx;
		r->peer = cur_service(L)->nallow - 1;
		r->name = fwd_xstrndup(w + 1, n - 1);
		return;
	}
	if (addr_word(L, w, n, &a))
		add_peer(L, FWD_PEER_ADDR)->addr = a;
}

/* [defaults] rescue = sources that may still reach SSH when fwd falls back
 * to its lockdown table: addresses and networks only, never a list (lists
 * may be what is broken) and never "any" (that would not be a lockdown),
 * nor "any" spelt as a network (0.0.0.0/0, ::/0; several networks that
 * together cover a family are caught once every file is read). */
static void rescue_word(struct loader *L, const char *w, size_t n)
{
	struct fwd_policy *p = L->p;
	struct fwd_addr a;
	char q[QBUF];

	if (n == 3 && !memcmp(w, "any", 3)) {
		err(L, "'any' cannot be a rescue source; name addresses or CIDRs");
		return;
	}
	if (w[0] == '@') {
		err(L, "rescue takes addresses and CIDRs, not lists ('%s')",
		    quote(q, w, n));
		return;
	}
	if (!addr_word(L, w, n, &a))
		return;
	if (a.prefix == 0) {
		err(L, "'%s' cannot be a rescue source: it is every %s address, "
		    "as 'any' is; name addresses or CIDRs", quote(q, w, n),
		    a.family == AF_INET ? "IPv4" : "IPv6");
		return;
	}
	if (p->nrescue == L->rescue_cap) {
		size_t cap = L->rescue_cap;

		/* rescue and rescue_locs share nrescue, so grow in step. */
		FWD_GROW(p->rescue, cap, p->nrescue + 1);
		p->rescue_locs = fwd_xreallocarray(p->rescue_locs, cap,
						   sizeof(*p->rescue_locs));
		L->rescue_cap = cap;
	}
	p->rescue_locs[p->nrescue] = here(L);
	p->rescue[p->nrescue++] = a;
}

static void member_word(struct loader *L, const char *w, size_t n)
{
	struct fwd_loc loc = here(L);
	struct fwd_addr a;
	char q[QBUF];

	if (n == 3 && !memcmp(w, "any", 3)) {
		err(L, "'any' cannot be a list member; write allow = any in the service");
		return;
	}
	if (w[0] == '@') {
		err(L, "a list cannot contain another list ('%s'); name both in the "
		    "service's allow", quote(q, w, n));
		return;
	}
	if (addr_word(L, w, n, &a))
		list_add(cur_list(L), &a, &loc);
}

/* Split a value on commas and white space; empty words are skipped, so a
 * trailing comma before a continuation line is fine. */
/* ---- outbound owners: user =, unit =, program = ---- */

static struct fwd_owner *add_owner(struct loader *L, enum fwd_owner_kind k,
				   const char *w, size_t n)
{
	struct fwd_service *s = cur_service(L);
	struct fwd_owner *o;

	s->owners = fwd_xreallocarray(s->owners, s->nowners + 1,
				      sizeof(*s->owners));
	o = &s->owners[s->nowners++];
	memset(o, 0, sizeof(*o));
	o->kind = k;
	o->name = fwd_xstrndup(w, n);
	o->loc = here(L);
	return o;
}

/*
 * A user name or a uid. Names are looked up when the policy is read (the
 * kernel matches the uid); a name not in the user database is no error:
 * its rules match nothing (FWD_UID_NONE) until the user exists, which the
 * daemon notices (daemon/pwwatch.c), and fwd_owner_warnings says so. A
 * number is taken as it is: a uid nobody has yet is a valid rule.
 */
static void user_word(struct loader *L, const char *w, size_t n)
{
	char q[QBUF], name[256];
	struct passwd pw, *res = NULL;
	char buf[4096];
	uint64_t x = 0;

	if (digits(w, n) == n && n <= 10) {
		for (size_t i = 0; i < n; i++)
			x = x * 10 + (uint64_t)(w[i] - '0');
		if (x < UINT32_MAX) {
			add_owner(L, FWD_OWNER_USER, w, n)->uid = (uint32_t)x;
			return;
		}
	}
	if (n >= sizeof(name) || !valid_name(w, n) || w[0] == '-') {
		err(L, "invalid user '%s'; write a user name or a uid",
		    quote(q, w, n));
		return;
	}
	memcpy(name, w, n);
	name[n] = '\0';
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		add_owner(L, FWD_OWNER_USER, w, n)->uid = FWD_UID_NONE;
	else
		add_owner(L, FWD_OWNER_USER, w, n)->uid = (uint32_t)res->pw_uid;
}

/*
 * A systemd service unit: a name or a cgroup path, whose cgroup the
 * kernel matches at its level (outbound.h: fwd_unit_cgroup_path says
 * which forms there are and where each one's cgroup is).
 */
static void unit_word(struct loader *L, const char *w, size_t n)
{
	char path[FWD_UNIT_PATH_MAX], why[512];
	unsigned level;

	if (fwd_unit_cgroup_path(w, n, path, sizeof(path), &level, why,
				 sizeof(why)) != 0) {
		err(L, "%s", why);
		return;
	}
	add_owner(L, FWD_OWNER_UNIT, w, n);
}

/*
 * program = PATH: a decision by executable, made in the verdict loop (the
 * first packet of a flow to the service's destinations queued, its owner
 * found, the binary compared by device and inode; outbound.h). The path is
 * kept as written: it is resolved to (device, inode) when the policy is
 * applied, not here (the parser touches no file it is not reading).
 */
static void program_word(struct loader *L, const char *w, size_t n)
{
	char q[QBUF];

	if (w[0] != '/' || n > 4095) {
		err(L, "invalid program '%s'; write the absolute path of the "
		    "executable", quote(q, w, n));
		return;
	}
	add_owner(L, FWD_OWNER_PROGRAM, w, n);
}

/* At the end of a [service]: owners only for direction = out. */
static void owners_section_end(struct loader *L)
{
	const struct fwd_service *s = cur_service(L);

	if (s->nowners && s->dir != FWD_DIR_OUT)
		serr(L, L->src, s->owners[0].loc.line, "'%s' applies to "
		     "outbound services only; add direction = out to service "
		     "'%s' (inbound traffic has no local owner)",
		     s->owners[0].kind == FWD_OWNER_UNIT ? "unit" :
		     s->owners[0].kind == FWD_OWNER_PROGRAM ? "program" : "user",
		     s->name);
	/* Owner rules are their own sets (outbound.c), which have no
	 * interface match: refused rather than silently wider. */
	if (s->nowners && s->rs.ifname[0])
		serr(L, L->src, s->iface_loc.line, "service '%s': 'interface' "
		     "cannot be combined with user or unit yet; write two "
		     "services, or drop one of them", s->name);
}

static void words(struct loader *L, const char *v,
		  void (*fn)(struct loader *, const char *, size_t))
{
	const char *w;

	for (;;) {
		while (*v && is_word_sep(*v))
			v++;
		if (!*v)
			return;
		w = v;
		while (*v && !is_word_sep(*v))
			v++;
		L->key_words++;
		if (*w == '#') {
			/* inih only knows ';' as an inline comment: say so
			 * rather than report each word of the comment. */
			err(L, "'#' starts a comment only at the start of a line; "
			    "inline comments start with ';'");
			return;
		}
		fn(L, w, (size_t)(v - w));
	}
}

/* ---- [guard] and the verdict loop's [defaults] ---- */

/* A whole number lo..hi, and nothing else in the value. */
static bool uint_value(struct loader *L, const char *key, const char *v,
		       uint64_t lo, uint64_t hi, uint64_t *out)
{
	size_t n = strlen(v), d = digits(v, n);
	uint64_t x = 0;
	char q[QBUF];

	for (size_t i = 0; i < d && x <= hi; i++)
		x = x * 10 + (uint64_t)(v[i] - '0');
	if (n && d == n && x >= lo && x <= hi) {
		*out = x;
		return true;
	}
	if (!n)
		err(L, "missing value for '%s'; write a whole number from "
		    "%llu to %llu", key, (unsigned long long)lo,
		    (unsigned long long)hi);
	else
		err(L, "invalid %s '%s'; write a whole number from %llu to %llu",
		    key, quote(q, v, n), (unsigned long long)lo,
		    (unsigned long long)hi);
	return false;
}

static const char *skip_blanks(const char *v)
{
	while (is_blank(*v))
		v++;
	return v;
}

/*
 * "N / WINDOW" (flood) or "N ports / WINDOW" (scan, "port" for 1): the
 * count lo..hi, the window a DURATION of 1s to 1h. Blanks around the
 * words are free. False on anything else, with no message: the caller
 * knows what to suggest.
 */
static bool rate_value(const char *v, bool ports, uint64_t hi,
		       uint32_t *n_out, uint32_t *win_out)
{
	size_t d = digits(v, strlen(v)), wn;
	uint64_t n = 0, win;
	const char *w;

	if (!d || d > 7)
		return false;
	for (size_t i = 0; i < d; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	v = skip_blanks(v + d);
	if (ports) {
		if (!strncmp(v, "ports", 5))
			v += 5;
		else if (!strncmp(v, "port", 4))
			v += 4;
		else
			return false;
		v = skip_blanks(v);
	}
	if (*v != '/')
		return false;
	w = skip_blanks(v + 1);
	wn = strlen(w);
	while (wn && is_blank(w[wn - 1]))
		wn--;
	if (n < 1 || n > hi || fwd_duration_parse(w, wn, &win) < 0 ||
	    win > 3600)
		return false;
	*n_out = (uint32_t)n;
	*win_out = (uint32_t)win;
	return true;
}

static void guard_value(struct loader *L, const char *key, const char *v)
{
	struct fwd_guard_conf *g = &L->p->guard;
	char q[QBUF];
	uint64_t x;

	switch (L->key) {
	case K_QUEUES:
		if (uint_value(L, key, v, 1, 16, &x)) {
			L->p->queues = (unsigned)x;
			L->p->queues_loc = here(L);
		}
		break;
	case K_DSHIELD_USERID:
		if (uint_value(L, key, v, 0, UINT32_MAX, &x)) {
			L->p->dshield_userid = (uint32_t)x;
			L->p->dshield_userid_loc = here(L);
		}
		break;
	case K_SCAN:
		if (rate_value(v, true, 64, &g->scan_ports, &g->scan_window))
			g->scan_loc = here(L);
		else
			err(L, "invalid scan '%s'; write N ports / WINDOW, e.g. "
			    "10 ports / 5s (N 1 to 64, WINDOW 1s to 1h)",
			    quote(q, v, strlen(v)));
		break;
	case K_FLOOD:
		if (!strcmp(v, "off")) {
			g->flood_rate = 0;
			g->flood_loc = here(L);
		} else if (rate_value(v, false, 1000000, &g->flood_rate,
				      &g->flood_window)) {
			g->flood_loc = here(L);
		} else {
			err(L, "invalid flood '%s'; write N / WINDOW, e.g. 100 / 1s "
			    "(N 1 to 1000000, WINDOW 1s to 1h), or off",
			    quote(q, v, strlen(v)));
		}
		break;
	case K_BLOCK:
		if (fwd_duration_parse(v, strlen(v), &x) == 0) {
			g->block = (uint32_t)x;
			g->block_loc = here(L);
		} else if (!*v) {
			err(L, "missing value for 'block'; write a DURATION like "
			    "30s, 10m, 1h or 7d (1s to 365d)");
		} else {
			err(L, "invalid block '%s'; write a DURATION like 30s, 10m, "
			    "1h or 7d (1s to 365d)", quote(q, v, strlen(v)));
		}
		break;
	case K_PREFIX6:
		if (uint_value(L, key, v, 1, 128, &x)) {
			g->prefix6 = (unsigned)x;
			g->prefix6_loc = here(L);
		}
		break;
	case K_MAX_BLOCKED:
		if (uint_value(L, key, v, 1, 1000000, &x)) {
			g->max_blocked = (uint32_t)x;
			g->max_blocked_loc = here(L);
		}
		break;
	default:
		break;
	}
}

/* [guard] never = peers the guard never blocks: like allow's, but 'any'
 * would switch the guard off, which is what leaving out [guard] says. */
static void never_word(struct loader *L, const char *w, size_t n)
{
	struct fwd_guard_conf *g = &L->p->guard;
	struct fwd_peer *pe;
	struct list_ref *r;
	struct fwd_addr a;
	char q[QBUF];

	if (n == 3 && !memcmp(w, "any", 3)) {
		err(L, "'any' cannot be a never peer; to turn the guard off, "
		    "leave out the [guard] section");
		return;
	}
	if (w[0] == '@' && n == 1) {
		err(L, "'@' needs a list name: @NAME");
		return;
	}
	if (w[0] == '@' && !valid_name(w + 1, n - 1)) {
		err(L, "invalid list name '%s'; " NAME_RULE,
		    quote(q, w + 1, n - 1));
		return;
	}
	if (w[0] != '@' && !addr_word(L, w, n, &a))
		return;
	FWD_GROW(g->never, L->never_cap, g->nnever + 1);
	pe = &g->never[g->nnever++];
	memset(pe, 0, sizeof(*pe));
	pe->loc = here(L);
	if (w[0] != '@') {
		pe->kind = FWD_PEER_ADDR;
		pe->addr = a;
		return;
	}
	pe->kind = FWD_PEER_LIST;
	FWD_GROW(L->refs, L->refs_cap, L->nrefs + 1);
	r = &L->refs[L->nrefs++];
	r->svc = GUARD_REF;
	r->peer = g->nnever - 1;
	r->name = fwd_xstrndup(w + 1, n - 1);
}

/* ---- [edits] ---- */

static const char *key_name(enum key_id id);

/*
 * An edit key's value, with its continuation lines, is one command: the
 * words are collected here and parsed when the key ends (end_key).
 */
static void edit_words(struct loader *L, const char *v)
{
	size_t n = strlen(v);

	for (const char *w = v; *w; w++) {
		if (*w == '#' && (w == v || isspace((unsigned char)w[-1]))) {
			err(L, "'#' starts a comment only at the start of a line; "
			    "inline comments start with ';'");
			L->key = K_SKIP;
			return;
		}
	}
	FWD_GROW(L->ewords, L->ewords_cap, L->ewords_len + n + 2);
	memcpy(L->ewords + L->ewords_len, v, n);
	L->ewords_len += n;
	L->ewords[L->ewords_len++] = ' ';
	L->ewords[L->ewords_len] = '\0';
}

static void edit_value(struct loader *L)
{
	struct fwd_policy *p = L->p;
	struct fwd_loc loc = { .file = L->file, .line = L->key_line };
	char msg[512], *w = L->ewords_len ? L->ewords : NULL;
	size_t argc = 0, n = 0;

	FWD_GROW(L->eargv, L->eargv_cap, 1);
	L->eargv[argc++] = key_name(L->key);
	while (w && *w) {
		while (*w && isspace((unsigned char)*w))
			w++;
		if (!*w)
			break;
		FWD_GROW(L->eargv, L->eargv_cap, argc + 1);
		L->eargv[argc++] = w;
		while (*w && !isspace((unsigned char)*w))
			w++;
		if (*w)
			*w++ = '\0';
	}
	if (fwd_edit_parse_with((int)argc, L->eargv, L->now, &L->ports,
				&L->escratch, &n, msg, sizeof(msg)) != 0) {
		serr(L, L->src, L->key_line, "%s", msg);
		return;
	}
	FWD_GROW(p->edits, p->edits_cap, p->nedits + n);
	for (size_t i = 0; i < n; i++) {
		struct fwd_edit *e = &p->edits[p->nedits++];

		*e = L->escratch[i];
		e->loc = loc;
		e->ports.loc = loc;
	}
}

/* ---- list files ---- */

static void list_file_line(struct loader *L, struct src *s, struct fwd_list *l,
			   const char *p, const char *end, unsigned line)
{
	const char *w, *we;
	char why[160], q[QBUF];
	struct fwd_addr a;

	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p == end || *p == '#' || *p == ';')
		return;
	w = p;
	while (p < end && !isspace((unsigned char)*p) && *p != '#' && *p != ';')
		p++;
	we = p;
	while (p < end && isspace((unsigned char)*p))
		p++;
	if (p < end && *p != '#' && *p != ';') {
		while (end > p && isspace((unsigned char)end[-1]))
			end--;
		serr(L, s, line, "expected one address or CIDR per line, got '%s'",
		     quote(q, w, (size_t)(end - w)));
		return;
	}
	if (fwd_addr_parsen(w, (size_t)(we - w), &a, why, sizeof(why)) != 0) {
		serr(L, s, line, "invalid address '%s': %s",
		     quote(q, w, (size_t)(we - w)), why);
		return;
	}
	list_add(l, &a, &(struct fwd_loc){ .file = s->name, .line = line });
}

/* Lines [from, to) of a list file's text, the first being line `line`;
 * a UTF-8 byte order mark at the very start is skipped. */
static void list_file_lines(struct loader *L, struct src *s, struct fwd_list *l,
			    const char *buf, size_t from, size_t to,
			    unsigned line)
{
	const char *p = buf + from, *end = buf + to, *nl;

	if (from == 0 && to >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		list_file_line(L, s, l, p, nl, line++);
	}
}

static unsigned count_nl(const char *p, size_t n)
{
	const char *end = p + n;
	unsigned c = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		c++;
		p++;
	}
	return c;
}

/* ---- the list file cache ---- */

/*
 * What a reload needs to skip: per list file, the text it last had and
 * the members parsed from it (each with its line). A file read again is
 * compared with its text: identical, its members are copied; changed, only
 * the lines between the common head and the common tail are parsed, the
 * members after them moving by the difference in lines. The result is
 * what parsing the whole file gives (same members, lines and errors): the
 * lines of a list file do not depend on each other. Only files that
 * parsed without an error are kept.
 */
struct lc_entry {
	char *path;
	char *text;
	size_t len;
	struct fwd_addr *addrs;
	unsigned *lines;
	size_t n;
	bool used;			/* named by the load under way */
};

struct fwd_list_cache {
	struct lc_entry *v;
	size_t n, cap;
	struct fwd_list_cache_stats st;
};

struct fwd_list_cache *fwd_list_cache_new(void)
{
	return fwd_xcalloc(1, sizeof(struct fwd_list_cache));
}

static void lc_entry_free(struct lc_entry *e)
{
	free(e->path);
	free(e->text);
	free(e->addrs);
	free(e->lines);
}

void fwd_list_cache_free(struct fwd_list_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		lc_entry_free(&c->v[i]);
	free(c->v);
	free(c);
}

void fwd_list_cache_stats(const struct fwd_list_cache *c,
			  struct fwd_list_cache_stats *out)
{
	*out = c->st;
}

static struct lc_entry *lc_find(struct fwd_list_cache *c, const char *path)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].path, path) == 0)
			return &c->v[i];
	return NULL;
}

/* Keep what l->addrs[from..] and their lines say of `path` (taking the
 * text): a new entry or the old one refreshed. */
static void lc_store(struct fwd_list_cache *c, struct lc_entry *e,
		     const char *path, char *text, size_t len,
		     const struct fwd_list *l, size_t from)
{
	size_t n = l->n - from;

	if (!e) {
		FWD_GROW(c->v, c->cap, c->n + 1);
		e = &c->v[c->n++];
		memset(e, 0, sizeof(*e));
		e->path = fwd_xstrdup(path);
	}
	free(e->text);
	e->text = text;
	e->len = len;
	if (n > e->n || !e->addrs) {
		free(e->addrs);
		free(e->lines);
		e->addrs = fwd_xreallocarray(NULL, n + 1, sizeof(*e->addrs));
		e->lines = fwd_xreallocarray(NULL, n + 1, sizeof(*e->lines));
	}
	if (n)
		memcpy(e->addrs, l->addrs + from, n * sizeof(*e->addrs));
	for (size_t i = 0; i < n; i++)
		e->lines[i] = l->locs[from + i].line;
	e->n = n;
	e->used = true;
}

/* Drop the entries of files the last load did not name. */
static void lc_prune(struct fwd_list_cache *c)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++) {
		if (c->v[i].used) {
			c->v[i].used = false;
			c->v[k++] = c->v[i];
		} else {
			lc_entry_free(&c->v[i]);
		}
	}
	c->n = k;
}

/* The length of the common head of a and b (n bytes each at most). */
static size_t common_head(const char *a, const char *b, size_t n)
{
	size_t i = 0;

	while (i + 4096 <= n && memcmp(a + i, b + i, 4096) == 0)
		i += 4096;
	while (i < n && a[i] == b[i])
		i++;
	return i;
}

/* The length of the common tail of a[0..alen) and b[0..blen), at most max. */
static size_t common_tail(const char *a, size_t alen, const char *b,
			  size_t blen, size_t max)
{
	size_t i = 0;

	while (i + 4096 <= max &&
	       memcmp(a + alen - i - 4096, b + blen - i - 4096, 4096) == 0)
		i += 4096;
	while (i < max && a[alen - i - 1] == b[blen - i - 1])
		i++;
	return i;
}

static bool at_line_start(const char *t, size_t off)
{
	return off == 0 || t[off - 1] == '\n';
}

/* Lines in t[from, to): to is the text's end or a line start. */
static unsigned lines_in(const char *t, size_t tlen, size_t from, size_t to)
{
	unsigned n = count_nl(t + from, to - from);

	return n + (to == tlen && to > from && t[to - 1] != '\n');
}

static bool has_bom(const char *t, size_t len)
{
	return len >= 3 && !memcmp(t, "\xef\xbb\xbf", 3);
}

enum splice { SPLICE_NO, SPLICE_DONE, SPLICE_SAME };

/*
 * Members of `buf` from the cached entry e of the same file: e's members
 * before the first changed line, the changed lines parsed, e's members
 * after the last changed line renumbered (SPLICE_DONE), or all of e's when
 * the text is e's (SPLICE_SAME). SPLICE_NO: not possible (a byte order
 * mark in the changed part): parse it all.
 */
static enum splice lc_splice(struct loader *L, struct src *s, struct fwd_list *l,
		      const struct lc_entry *e, const char *buf, size_t len)
{
	size_t min = len < e->len ? len : e->len, head, tail, ns, os, k;
	unsigned before, old_n, new_n;

	head = common_head(buf, e->text, min);
	if (head == len && len == e->len) {
		list_reserve(l, l->n + e->n + 1);
		for (k = 0; k < e->n; k++)
			list_add(l, &e->addrs[k], &(struct fwd_loc){
				.file = s->name, .line = e->lines[k] });
		L->cache->st.whole++;
		return SPLICE_SAME;
	}
	while (head > 0 && buf[head - 1] != '\n')
		head--;
	if (head < 3 && (has_bom(buf, len) || has_bom(e->text, e->len)))
		return SPLICE_NO;
	tail = common_tail(buf, len, e->text, e->len, min - head);
	ns = len - tail;
	os = e->len - tail;
	/* Both ends of the changed part must be line starts. */
	if (!at_line_start(buf, ns) || !at_line_start(e->text, os)) {
		const char *nl = tail ? memchr(buf + ns, '\n', tail) : NULL;

		ns = nl ? (size_t)(nl - buf) + 1 : len;
		os = e->len - (len - ns);
	}
	before = count_nl(buf, head);
	old_n = lines_in(e->text, e->len, head, os);
	new_n = lines_in(buf, len, head, ns);

	list_reserve(l, l->n + e->n + new_n + 1);
	for (k = 0; k < e->n && e->lines[k] <= before; k++)
		list_add(l, &e->addrs[k], &(struct fwd_loc){
			.file = s->name, .line = e->lines[k] });
	list_file_lines(L, s, l, buf, head, ns, before + 1);
	for (; k < e->n && e->lines[k] <= before + old_n; k++)
		;
	for (; k < e->n; k++)
		list_add(l, &e->addrs[k], &(struct fwd_loc){
			.file = s->name, .line = e->lines[k] - old_n + new_n });
	L->cache->st.spliced++;
	L->cache->st.lines_parsed += new_n;
	return SPLICE_DONE;
}

/*
 * One address or CIDR per line; '#' or ';' starts a comment anywhere.
 * Parsed in place from one read of the file: a million lines cost one
 * allocation for the text and amortised growth of the list.
 */
static void read_list_file(struct loader *L, const char *path)
{
	struct fwd_list *l = cur_list(L);
	struct lc_entry *ce = NULL;
	enum splice sp = SPLICE_NO;
	size_t len, first = l->n;
	unsigned lines;
	struct src s;
	char *buf;
	int ret;

	ret = fwd_read_file(path, &buf, &len);
	if (ret) {
		char q[PBUF];

		err(L, "cannot read list file '%s': %s",
		    quote_max(q, path, strlen(path), PATH_QUOTE_MAX), fwd_read_strerror(ret));
		return;
	}
	s.name = intern_file(L, path);
	s.nerr = 0;
	if (not_text(buf, len)) {
		serr(L, &s, 1, "this file is %s", not_text(buf, len));
		free(buf);
		return;
	}
	if (L->cache) {
		ce = lc_find(L->cache, path);
		if (ce)
			ce->used = true;
	}
	if (ce)
		sp = lc_splice(L, &s, l, ce, buf, len);
	if (sp == SPLICE_NO) {
		/* One reservation for the whole file (an upper bound: every
		 * line an address) instead of a series of doublings. */
		lines = count_nl(buf, len);
		list_reserve(l, l->n + lines + 1);
		list_file_lines(L, &s, l, buf, 0, len, 1);
		if (L->cache) {
			L->cache->st.parsed++;
			L->cache->st.lines_parsed += lines + 1;
		}
	}
	src_done(L, &s);
	if (L->cache && s.nerr == 0) {
		if (sp == SPLICE_SAME)
			free(buf);	/* the same text: the entry stands */
		else
			lc_store(L->cache, ce, path, buf, len, l, first);
		return;
	}
	free(buf);
}

static void file_value(struct loader *L, const char *v)
{
	char q[PBUF];
	char *path;

	if (!*v)
		return;
	L->key_words++;
	if (!L->list_files_ok) {
		err(L, "list file '%s' not read: list files are disabled here",
		    quote_max(q, v, strlen(v), PATH_QUOTE_MAX));
		return;
	}
	path = v[0] == '/' ? fwd_xstrdup(v) : fwd_xasprintf("%s%s", L->dir, v);
	read_list_file(L, path);
	free(path);
}

/* ---- sections and keys ---- */

static const char *sec_word(enum sec_kind k)
{
	return k == SEC_DEFAULTS ? "defaults" : k == SEC_CONTROL ? "control" :
	       k == SEC_EDITS ? "edits" : k == SEC_LIST ? "list" :
	       k == SEC_GUARD ? "guard" : k == SEC_AUDIT ? "audit" :
	       k == SEC_METRICS ? "metrics" : "service";
}

static const char *key_name(enum key_id id)
{
	for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (key_defs[i].id == id)
			return key_defs[i].name;
	return "?";
}

/* Called when a key can get no more continuation lines. */
static void end_key(struct loader *L)
{
	switch (L->key) {
	case K_ALLOW:
		if (!L->key_words)
			serr(L, L->src, L->key_line, "'allow' is empty; name who may "
			     "connect: any, an address, a CIDR or @list");
		break;
	case K_PORTS:
		if (!L->key_words)
			serr(L, L->src, L->key_line,
			     "'ports' is empty; name at least one port, e.g. 22/tcp");
		break;
	case K_FILE:
		if (!L->key_words)
			serr(L, L->src, L->key_line, "'file' needs a path");
		break;
	case K_USER:
	case K_UNIT:
	case K_PROGRAM:
		if (!L->key_words)
			serr(L, L->src, L->key_line, "'%s' is empty; name who may "
			     "open these flows", key_name(L->key));
		break;
	case K_NEVER:
		if (!L->key_words)
			serr(L, L->src, L->key_line, "'never' is empty; name peers "
			     "never to block: addresses, CIDRs or @lists");
		break;
	case K_EDIT_ALLOW:
	case K_EDIT_DENY:
	case K_EDIT_BLOCK:
	case K_EDIT_LIST_ADD:
	case K_EDIT_LIST_DEL:
		edit_value(L);
		break;
	default:
		break;
	}
	L->key = K_NONE;
}

static void end_section(struct loader *L)
{
	if (L->sec == SEC_SERVICE) {
		const char *n = cur_service(L)->name;
		char name[QBUF];

		quote(name, n, strlen(n));

		if (!L->saw_key[K_PORTS])
			serr(L, L->src, L->sec_line, "service '%s' has no ports; "
			     "add e.g. ports = 22/tcp", name);
		if (!L->saw_key[K_ALLOW])
			serr(L, L->src, L->sec_line, "service '%s' has no allow; "
			     "write allow = any to open it to everyone", name);
		restrict_end(L, name);
		owners_section_end(L);
	}
	L->sec = SEC_NONE;
}

static void begin_named(struct loader *L, enum sec_kind kind, const char *name,
			size_t n)
{
	struct name_index *x = kind == SEC_LIST ? &L->lists_idx : &L->services_idx;
	const char *what = sec_word(kind);
	struct fwd_policy *p = L->p;
	struct fwd_loc *first;
	char q[QBUF];
	bool good;
	char *dup;
	size_t i;

	if (n == 0) {
		err(L, "[%s] needs a name: [%s NAME]", what, what);
		return;
	}
	good = valid_name(name, n);
	if (!good)
		err(L, "invalid %s name '%s'; " NAME_RULE, what, quote(q, name, n));
	dup = fwd_xstrndup(name, n);
	/*
	 * A bad or duplicate section is still read (into a model that will be
	 * discarded), so the errors inside it are reported in the same run.
	 * Only a good first definition is indexed for @list and duplicates.
	 */
	if (kind == SEC_LIST) {
		FWD_GROW(p->lists, L->lists_cap, p->nlists + 1);
		L->idx = p->nlists++;
		memset(&p->lists[L->idx], 0, sizeof(p->lists[0]));
		p->lists[L->idx].name = dup;
		p->lists[L->idx].loc = here(L);
	} else {
		FWD_GROW(p->services, L->services_cap, p->nservices + 1);
		L->idx = p->nservices++;
		memset(&p->services[L->idx], 0, sizeof(p->services[0]));
		p->services[L->idx].name = dup;
		p->services[L->idx].dir = FWD_DIR_IN;
		p->services[L->idx].loc = here(L);
		L->ports_cap = L->allow_cap = 0;
	}
	L->sec = kind;
	if (!good)
		return;
	if (index_get(x, dup, &i)) {
		first = kind == SEC_LIST ? &p->lists[i].loc : &p->services[i].loc;
		err(L, "duplicate %s '%s' (first defined at %s:%u)", what, dup,
		    loc_file(first), first->line);
		return;
	}
	index_put(x, dup, L->idx);
}

/* [defaults], [control], [guard] and [audit]: no name, once in the whole
 * policy. */
static void begin_single(struct loader *L, enum sec_kind kind, bool named,
			 bool *seen, struct fwd_loc *first)
{
	const char *what = sec_word(kind);

	if (named)
		err(L, "[%s] takes no name", what);
	if (*seen) {
		err(L, "duplicate [%s] section (first at %s:%u)", what,
		    loc_file(first), first->line);
		return;
	}
	*seen = true;
	*first = here(L);
	if (kind == SEC_DEFAULTS)
		L->p->defaults_loc = *first;
	L->sec = kind;
}

/* s[0..n) is what stands between [ and ]. */
static void begin_section(struct loader *L, const char *s, size_t n)
{
	const char *end = s + n, *w, *rest;
	size_t wn;
	char q[QBUF];

	memset(L->saw_key, 0, sizeof(L->saw_key));
	L->sec = SEC_SKIP;
	L->sec_line = L->line;
	while (s < end && is_blank(*s))
		s++;
	while (end > s && is_blank(end[-1]))
		end--;
	w = s;
	while (s < end && !is_blank(*s))
		s++;
	wn = (size_t)(s - w);
	rest = s;
	while (rest < end && is_blank(*rest))
		rest++;

	if (wn == 8 && !memcmp(w, "defaults", 8)) {
		begin_single(L, SEC_DEFAULTS, rest < end, &L->have_defaults,
			     &L->defaults_loc);
	} else if (wn == 7 && !memcmp(w, "control", 7)) {
		begin_single(L, SEC_CONTROL, rest < end, &L->have_control,
			     &L->control_loc);
	} else if (wn == 5 && !memcmp(w, "guard", 5)) {
		begin_single(L, SEC_GUARD, rest < end, &L->have_guard,
			     &L->guard_loc);
		if (L->sec == SEC_GUARD) {
			L->p->guard.on = true;
			L->p->guard.loc = L->guard_loc;
		}
	} else if (wn == 5 && !memcmp(w, "audit", 5)) {
		begin_single(L, SEC_AUDIT, rest < end, &L->have_audit,
			     &L->audit_loc);
		if (L->sec == SEC_AUDIT) {
			L->p->audit.on = true;
			L->p->audit.loc = L->audit_loc;
		}
	} else if (wn == 7 && !memcmp(w, "metrics", 7)) {
		begin_single(L, SEC_METRICS, rest < end, &L->have_metrics,
			     &L->metrics_loc);
		if (L->sec == SEC_METRICS) {
			L->p->metrics.on = true;
			L->p->metrics.loc = L->metrics_loc;
		}
	} else if (wn == 5 && !memcmp(w, "edits", 5)) {
		/* fwd's own file has one; any file may, and several. */
		if (rest < end)
			err(L, "[edits] takes no name");
		L->sec = SEC_EDITS;
	} else if (wn == 4 && !memcmp(w, "list", 4)) {
		begin_named(L, SEC_LIST, rest, (size_t)(end - rest));
	} else if (wn == 7 && !memcmp(w, "service", 7)) {
		begin_named(L, SEC_SERVICE, rest, (size_t)(end - rest));
	} else {
		err(L, "unknown section '[%s]'; valid sections are [defaults], "
		    "[control], [guard], [audit], [metrics], [list NAME], "
		    "[service NAME] and [edits]",
		    quote(q, w, (size_t)(end - w)));
	}
}

/* rpfilter under the names other tools give it: the kernel's rp_filter
 * sysctl, firewalld's IPv6_rpfilter. */
static const char *defaults_key_hint(const char *name)
{
	static const char *const rpf[] = {
		"rp_filter", "rp-filter", "ipv6_rpfilter", "rpf",
		"reverse_path", "reverse-path",
	};

	for (size_t i = 0; i < sizeof(rpf) / sizeof(rpf[0]); i++)
		if (strcasecmp(name, rpf[i]) == 0)
			return "rpfilter";
	return NULL;
}

static void start_key(struct loader *L, const char *name)
{
	const struct key_def *def = NULL;
	char valid[128] = "", q[QBUF];

	L->key = K_SKIP;
	L->key_line = L->line;
	L->key_words = 0;
	L->ewords_len = 0;
	L->cont_reported = false;
	if (L->sec == SEC_NONE) {
		err(L, "'%s' is outside any section; put it under [defaults], "
		    "[control], [list NAME] or [service NAME]",
		    quote(q, name, strlen(name)));
		return;
	}
	if (L->sec == SEC_SKIP)
		return;
	for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++) {
		if (key_defs[i].sec != L->sec)
			continue;
		if (strcmp(key_defs[i].name, name) == 0)
			def = &key_defs[i];
		snprintf(valid + strlen(valid), sizeof(valid) - strlen(valid),
			 "%s%s", *valid ? ", " : "", key_defs[i].name);
	}
	if (!def) {
		const char *hint = L->sec == SEC_DEFAULTS ?
				   defaults_key_hint(name) : NULL;

		if (hint)
			err(L, "unknown key '%s' in [%s]; valid keys are %s "
			    "(did you mean '%s'?)", quote(q, name, strlen(name)),
			    sec_word(L->sec), valid, hint);
		else if (L->sec == SEC_DEFAULTS || L->sec == SEC_CONTROL ||
			 L->sec == SEC_EDITS || L->sec == SEC_GUARD ||
			 L->sec == SEC_AUDIT || L->sec == SEC_METRICS)
			err(L, "unknown key '%s' in [%s]; valid keys are %s",
			    quote(q, name, strlen(name)), sec_word(L->sec), valid);
		else {
			const char *sn = L->sec == SEC_LIST ? cur_list(L)->name
							    : cur_service(L)->name;
			char q2[QBUF];

			err(L, "unknown key '%s' in [%s %s]; valid keys are %s",
			    quote(q, name, strlen(name)), sec_word(L->sec),
			    quote(q2, sn, strlen(sn)), valid);
		}
		return;
	}
	if (!def->multi && L->saw_key[def->id]) {
		err(L, "duplicate key '%s' (first set on line %u)", def->name,
		    L->key_first[def->id]);
		return;
	}
	L->saw_key[def->id] = true;
	L->key_first[def->id] = L->line;
	L->key = def->id;
}

static int on_value(void *user, const char *section, const char *name,
		    const char *value)
{
	struct loader *L = user;

	(void)section;	/* ours is tracked by the gate, untruncated */
	if (L->kind == L_KV)
		start_key(L, name);
	else if (L->kind != L_CONT)
		return 1;	/* the gate passes no other line with a value */

	switch (L->key) {
	case K_NONE:
	case K_SKIP:
	case K_MAX:
		break;
	case K_INBOUND:
	case K_OUTBOUND:
	case K_LOG:
	case K_ICMP:
	case K_COUNTERS:
	case K_RPFILTER:
	case K_DIRECTION:
	case K_INTERFACE:
	case K_LIMIT:
	case K_ADMIN_GROUP:
	case K_READ_GROUP:
	case K_QUEUES:
	case K_DSHIELD_USERID:
	case K_PROG_LIMIT:
	case K_SCAN:
	case K_FLOOD:
	case K_BLOCK:
	case K_PREFIX6:
	case K_MAX_BLOCKED:
	case K_INTERVAL:
	case K_TEXTFILE:
	case K_METRICS_INTERVAL:
		if (L->kind == L_KV) {
			scalar_value(L, name, value);
		} else if (!L->cont_reported) {
			err(L, "'%s' takes a single value; this indented line "
			    "would continue it", key_name(L->key));
			L->cont_reported = true;
		}
		break;
	case K_MEMBERS:
		words(L, value, member_word);
		break;
	case K_RESCUE:
		words(L, value, rescue_word);
		break;
	case K_NEVER:
		words(L, value, never_word);
		break;
	case K_PORTS:
		words(L, value, port_word);
		break;
	case K_ALLOW:
		words(L, value, allow_word);
		break;
	case K_USER:
		words(L, value, user_word);
		break;
	case K_UNIT:
		words(L, value, unit_word);
		break;
	case K_PROGRAM:
		words(L, value, program_word);
		break;
	case K_FILE:
		file_value(L, value);
		break;
	case K_EDIT_ALLOW:
	case K_EDIT_DENY:
	case K_EDIT_BLOCK:
	case K_EDIT_LIST_ADD:
	case K_EDIT_LIST_DEL:
		edit_words(L, value);
		break;
	}
	/* Never report failure to inih: errors are ours to collect. */
	return 1;
}

/* ---- the line gate ---- */

static char *pass(char *str, const char *s, size_t n)
{
	memcpy(str, s, n);
	str[n] = '\n';
	str[n + 1] = '\0';
	return str;
}

static char *blank(char *str)
{
	return pass(str, "", 0);
}

/* inih's scan: the first of `chars`, or a ';' after white space (an inline
 * comment), or the end. */
static const char *find_chars(const char *p, const char *end, const char *chars)
{
	bool was_space = false;

	for (; p < end; p++) {
		if (strchr(chars, *p) || (was_space && *p == ';'))
			return p;
		was_space = isspace((unsigned char)*p);
	}
	return end;
}

/*
 * A line that was reported and withheld from inih may still have been
 * meant as "KEY = ..." or "KEY: ...": count KEY as present in the section,
 * so that one slip does not also bring "service has no allow".
 */
static void note_key(struct loader *L, const char *p, const char *e)
{
	const char *q = p;

	while (p < e && is_blank(*p))
		p++;
	for (q = p; q < e && *q != '=' && *q != ':'; q++)
		;
	if (q == e)
		return;
	while (q > p && is_blank(q[-1]))
		q--;
	for (size_t i = 0; i < sizeof(key_defs) / sizeof(key_defs[0]); i++)
		if (key_defs[i].sec == L->sec &&
		    strlen(key_defs[i].name) == (size_t)(q - p) &&
		    !memcmp(key_defs[i].name, p, (size_t)(q - p)))
			L->saw_key[key_defs[i].id] = true;
}

static bool is_comment(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && is_blank(s[i]))
		i++;
	return i < n && (s[i] == ';' || s[i] == '#');
}

/* Bytes inih would misread or that have no place in a policy file. */
static bool line_bytes_ok(struct loader *L, const char *s, size_t n, size_t max)
{
	if (memchr(s, '\0', n)) {
		err(L, "NUL byte in line (is this a text file?)");
		return false;
	}
	/* inih reads only `max` bytes of a line; a long comment is still
	 * nothing at all, since it never reaches inih. */
	if (n > max && !is_comment(s, n)) {
		err(L, "line is %zu bytes long, the limit is %zu; split the value "
		    "over indented continuation lines or use a list file "
		    "(file = PATH)", n, max);
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\r') {
			err(L, "carriage return inside a line (line ends must be "
			    "LF or CR LF)");
			return false;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			err(L, "control character 0x%02x in line", c);
			return false;
		}
	}
	if (memmem(s, n, "\xef\xbb\xbf", 3)) {
		err(L, "UTF-8 byte order mark in the middle of the file "
		    "(it is only allowed at the very start)");
		return false;
	}
	return true;
}

/*
 * An indented line after a blank or comment line: inih would append it to
 * the key above, but whoever commented out a line above (or left a blank
 * one) has ended that value, and reading on would add what was meant to be
 * gone ("# allow = ..." over an indented 0.0.0.0/0). So it is an error,
 * once per gap, saying what to write instead; nothing of it is read.
 */
static void gap_error(struct loader *L, const char *p, size_t n)
{
	char buf[QBUF], buf2[QBUF];
	const char *k = key_name(L->key);

	L->key_words++;	/* the key is not empty, just cut short */
	if (L->gap_reported)
		return;
	L->gap_reported = true;
	switch (L->key) {
	case K_MEMBERS:
	case K_FILE:
	case K_RESCUE:
	case K_PORTS:
	case K_ALLOW:
		err(L, "indented line '%s' follows the blank or comment line %u, "
		    "which ends the value of '%s' (line %u); to add to it, write "
		    "'%s = %s', else comment this line out too",
		    quote(buf, p, n), L->gap_line, k, L->key_line, k,
		    quote(buf2, p, n));
		break;
	case K_NONE:
	case K_SKIP:
		err(L, "indented line '%s' follows the blank or comment line %u "
		    "and continues nothing; start it in the first column as "
		    "'key = value', or comment it out", quote(buf, p, n),
		    L->gap_line);
		break;
	case K_EDIT_ALLOW:
	case K_EDIT_DENY:
	case K_EDIT_BLOCK:
	case K_EDIT_LIST_ADD:
	case K_EDIT_LIST_DEL:
		err(L, "indented line '%s' follows the blank or comment line %u, "
		    "which ends the edit '%s' (line %u); take the line between "
		    "out if it belongs to that edit, else comment this line out "
		    "too", quote(buf, p, n), L->gap_line, k, L->key_line);
		break;
	default:
		err(L, "indented line '%s' follows the blank or comment line %u, "
		    "and '%s' (line %u) takes a single value anyway; comment "
		    "this line out too", quote(buf, p, n), L->gap_line, k,
		    L->key_line);
		break;
	}
}

static char *classify(struct loader *L, char *str, const char *s, size_t n)
{
	const char *p = s, *e = s + n, *q, *r, *k;
	char buf[QBUF];

	while (p < e && is_blank(*p))
		p++;
	while (e > p && is_blank(e[-1]))
		e--;
	if (p == e || *p == ';' || *p == '#') {
		if (!L->gap_line) {
			L->gap_line = L->line;
			L->gap_reported = false;
		}
		return blank(str);
	}

	/* inih: an indented line after a key continues that key's value. */
	if (p > s && L->inih_prev) {
		/* Structure first: these are wrong whatever key is open. */
		q = find_chars(p, e, "");
		if (*p == '[' || memchr(p, '=', (size_t)(q - p))) {
			L->key_words++;	/* the key is not empty, just broken */
			if (*p != '[')
				note_key(L, p, e);
			err(L, "indented line '%s' would continue the value "
			    "above; start %s in the first column",
			    quote(buf, p, (size_t)(e - p)),
			    *p == '[' ? "a section" : "a new key");
			return blank(str);
		}
		if (L->gap_line) {
			gap_error(L, p, (size_t)(e - p));
			return blank(str);
		}
		if (L->key == K_NONE || L->key == K_SKIP)
			return blank(str);
		/*
		 * Older inih (Debian's r55) keeps an inline comment on a
		 * continuation line as part of the value; newer ones strip
		 * it. Strip it here so both read the same.
		 */
		while (q > p && is_blank(q[-1]))
			q--;
		L->kind = L_CONT;
		return pass(str, s, (size_t)(q - s));
	}

	L->gap_line = 0;
	end_key(L);
	if (*p == '[') {
		q = find_chars(p + 1, e, "]");
		if (q == e || *q != ']') {
			err(L, "missing ']' in section header");
			end_section(L);
			/* Keep what follows out of the previous section. */
			L->sec = SEC_SKIP;
			L->key = K_SKIP;
			return blank(str);
		}
		for (r = q + 1; r < e && is_blank(*r); r++)
			;
		if (r < e && *r != ';' && *r != '#')
			err(L, "unexpected text after ']': '%s'",
			    quote(buf, r, (size_t)(e - r)));
		end_section(L);
		begin_section(L, p + 1, (size_t)(q - p - 1));
		L->inih_prev = false;
		return pass(str, "[]", 2);
	}

	q = find_chars(p, e, "=:");
	if (q < e && *q == '=') {
		for (k = q; k > p && is_blank(k[-1]); k--)
			;
		if (k == p) {
			err(L, "missing key name before '='");
			L->key = K_SKIP;
			return blank(str);
		}
		L->kind = L_KV;
		L->inih_prev = true;
		return pass(str, p, (size_t)(e - p));
	}

	/* Neither section nor key: inih would drop it without a word. */
	L->key = K_SKIP;
	note_key(L, p, e);
	for (k = q; k > p && is_blank(k[-1]); k--)
		;
	if (q < e && *q == ':' && valid_name(p, (size_t)(k - p)) &&
	    !digits(p, (size_t)(k - p)))
		err(L, "expected 'key = value', got '%s' (use '=', not ':')",
		    quote(buf, p, (size_t)(e - p)));
	else
		err(L, "expected '[section]', 'key = value' or an indented "
		    "continuation line, got '%s'%s",
		    quote(buf, p, (size_t)(e - p)),
		    L->inih_prev ? " (continuation lines must be indented)" : "");
	return blank(str);
}

/*
 * After a line was reported and withheld from inih: if it was a
 * continuation, the key it continued is not empty; otherwise its own key
 * (if it had one we know) counts as present, so that a too-long "allow ="
 * line does not also bring "service has no allow", and the lines that
 * continue it are dropped rather than added to the key before it.
 */
static void reject_line(struct loader *L, const char *s, size_t n)
{
	if (n && is_blank(*s) && L->inih_prev) {
		L->key_words++;
		return;
	}
	end_key(L);
	L->key = K_SKIP;
	note_key(L, s, s + n);
}

/* The ini_reader: one physical line per call, never more than inih holds. */
static char *gate(char *str, int num, void *stream)
{
	struct loader *L = stream;
	size_t max = num > 2 ? (size_t)num - 2 : 0, n;
	const char *s, *nl;

	L->kind = L_OTHER;
	if (L->pos >= L->len) {
		end_key(L);
		return NULL;
	}
	s = L->buf + L->pos;
	nl = memchr(s, '\n', L->len - L->pos);
	n = nl ? (size_t)(nl - s) : L->len - L->pos;
	L->pos += n + (nl ? 1 : 0);
	L->line++;
	if (L->line == 1 && n >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) {
		s += 3;
		n -= 3;
	}
	if (n && s[n - 1] == '\r')
		n--;
	if (!line_bytes_ok(L, s, n, max)) {
		reject_line(L, s, n);
		return blank(str);
	}
	return classify(L, str, s, n);
}

static void load_text(struct loader *L, const char *name, const char *buf,
		      size_t len)
{
	struct src s = { .name = intern_file(L, name) };
	const char *what = not_text(buf, len);
	int r;

	if (what) {
		serr(L, &s, 1, "this file is %s", what);
		return;
	}
	L->src = &s;
	L->file = s.name;
	L->dir = dir_prefix(name);
	L->buf = buf;
	L->len = len;
	L->pos = 0;
	L->line = 0;
	L->inih_prev = false;
	L->gap_line = 0;
	L->sec = SEC_NONE;
	L->key = K_NONE;
	r = ini_parse_stream(gate, L, on_value, L);
	end_key(L);
	end_section(L);
	/* The gate hands inih only lines it accepts, so this is a bug in the
	 * gate if it happens: still never let such a file through. */
	if (r > 0)
		serr(L, &s, (unsigned)r, "line not understood by the INI parser");
	else if (r < 0)
		serr(L, &s, 0, "INI parser failed (%d)", r);
	src_done(L, &s);
	free(L->dir);
	L->dir = NULL;
	L->src = NULL;
	L->file = NULL;
}

static int load_path(struct loader *L, const char *path, const char *what)
{
	size_t len;
	char *buf;
	int ret;

	ret = fwd_read_file(path, &buf, &len);
	if (ret) {
		fwd_diags_add(L->d, path, 0, "cannot read %s: %s", what,
			      fwd_read_strerror(ret));
		return ret;
	}
	load_text(L, path, buf, len);
	free(buf);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Regular files NAME.conf (not hidden), in strcmp order of NAME. */
static void load_confd(struct loader *L, const char *dir)
{
	size_t n = 0, cap = 0, len;
	char **names = NULL, *path;
	struct dirent *de;
	struct stat st;
	DIR *dp;

	dp = opendir(dir);
	if (!dp) {
		if (errno != ENOENT)
			fwd_diags_add(L->d, dir, 0, "cannot read include directory: %s",
				      strerror(errno));
		return;
	}
	while ((de = readdir(dp))) {
		len = strlen(de->d_name);
		if (de->d_name[0] == '.' || len <= 5 ||
		    strcmp(de->d_name + len - 5, ".conf") != 0)
			continue;
		FWD_GROW(names, cap, n + 1);
		names[n++] = fwd_xstrdup(de->d_name);
	}
	closedir(dp);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	len = strlen(dir);
	for (size_t i = 0; i < n; i++) {
		path = fwd_xasprintf("%s%s%s", dir,
				     len && dir[len - 1] == '/' ? "" : "/", names[i]);
		if (stat(path, &st) != 0)
			fwd_diags_add(L->d, path, 0, "cannot read include: %s",
				      strerror(errno));
		else if (S_ISREG(st.st_mode))
			load_path(L, path, "include");
		free(path);
		free(names[i]);
	}
	free(names);
}

/* ---- putting it together ---- */

static void loader_init(struct loader *L, const struct fwd_load_opts *opts,
			struct fwd_diags *d)
{
	memset(L, 0, sizeof(*L));
	L->p = fwd_policy_new();
	L->d = d;
	L->d_start = d->n;
	L->ports.services_path = opts && opts->services_path ?
				 opts->services_path : default_services;
	L->list_files_ok = true;
	L->cache = opts ? opts->list_cache : NULL;
	L->now = (uint64_t)time(NULL);
}

/* The rescue sources of all lines together must not be "any" either. */
static void check_rescue(struct loader *L)
{
	static const uint8_t fams[] = { AF_INET, AF_INET6 };
	const struct fwd_policy *p = L->p;

	for (size_t f = 0; f < sizeof(fams); f++) {
		const struct fwd_loc *loc;
		size_t last;

		if (!fwd_addr_cover_all(p->rescue, p->nrescue, fams[f], &last))
			continue;
		loc = &p->rescue_locs[last];
		fwd_diags_add(L->d, loc->file, loc->line, "the rescue sources "
			      "together cover every %s address, as 'any' would; "
			      "name only the addresses or CIDRs administrators "
			      "come from", fams[f] == AF_INET ? "IPv4" : "IPv6");
	}
}

/* Resolve @list words now that every file is read. */
static void resolve(struct loader *L)
{
	const struct fwd_metrics_conf *m = &L->p->metrics;

	check_rescue(L);
	if (m->on && !L->metrics_file_seen)
		fwd_diags_add(L->d, m->loc.file, m->loc.line, "[metrics] needs "
			      "'textfile = PATH' (where node_exporter's textfile "
			      "collector reads, e.g. "
			      "/var/lib/prometheus/node-exporter/fwd.prom)");
	for (size_t i = 0; i < L->nrefs; i++) {
		struct list_ref *r = &L->refs[i];
		struct fwd_peer *pe = r->svc == GUARD_REF ?
			&L->p->guard.never[r->peer] :
			&L->p->services[r->svc].allow[r->peer];
		size_t li;

		if (index_get(&L->lists_idx, r->name, &li))
			pe->list = li;
		else
			fwd_diags_add(L->d, pe->loc.file, pe->loc.line,
				      "unknown list '@%s' (no [list %s] in any file)",
				      r->name, r->name);
	}
}

static int loader_finish(struct loader *L, int ret, struct fwd_policy **out)
{
	if (ret == 0) {
		/*
		 * An edit's @list is not resolved: lists made by `list add`
		 * come and go with their members (expiry, `list del`,
		 * --runtime), so an allow naming one that is gone is valid
		 * and matches nobody, as the compiler reads it. A file fwd
		 * wrote must load whatever expired since. Typos are caught
		 * where they are typed: fwd_policy_add_edit refuses a new
		 * edit naming a list that does not exist.
		 */
		resolve(L);
		if (L->d->n > L->d_start)
			ret = -EINVAL;
	}
	if (ret == 0)
		*out = L->p;
	else
		fwd_policy_free(L->p);
	if (L->cache)
		lc_prune(L->cache);
	for (size_t i = 0; i < L->nrefs; i++)
		free(L->refs[i].name);
	free(L->refs);
	index_free(&L->files_idx);
	index_free(&L->lists_idx);
	index_free(&L->services_idx);
	fwd_ports_parser_done(&L->ports);
	free(L->ewords);
	free(L->eargv);
	free(L->escratch);
	return ret;
}

int fwd_policy_load(const char *path, const struct fwd_load_opts *opts,
		    struct fwd_policy **out, struct fwd_diags *d)
{
	struct fwd_diags scratch;
	struct loader L;
	char *confd = NULL;
	struct stat st;
	int ret;

	*out = NULL;
	fwd_diags_init(&scratch);
	if (!d)
		d = &scratch;
	loader_init(&L, opts, d);
	/* lstat, not access/stat: a dangling symlink is a policy file that
	 * cannot be read (an error: last good, else lockdown), not a fresh
	 * install; only a name that is truly absent gets the default. */
	if (opts && opts->builtin_if_missing && lstat(path, &st) != 0 &&
	    errno == ENOENT) {
		/* A fresh install: the built-in text stands in for the main
		 * file, and conf.d beside the missing path is still read, so
		 * that fwctl's edits persist on a host with no policy file. */
		load_text(&L, FWD_BUILTIN_NAME, fwd_policy_builtin_text,
			  strlen(fwd_policy_builtin_text));
		L.p->builtin = true;
		ret = 0;
	} else {
		ret = load_path(&L, path, "policy file");
	}
	if (ret == 0) {
		if (!opts || !opts->confd_path) {
			char *dir = dir_prefix(path);

			confd = fwd_xasprintf("%sconf.d", dir);
			free(dir);
		} else if (*opts->confd_path) {
			confd = fwd_xstrdup(opts->confd_path);
		}
		if (confd) {
			load_confd(&L, confd);
			L.p->confd_dir = confd;
		}
	}
	ret = loader_finish(&L, ret, out);
	fwd_diags_free(&scratch);
	return ret;
}

int fwd_policy_load_buffer(const char *name, const char *buf, size_t len,
			   const struct fwd_load_opts *opts,
			   struct fwd_policy **out, struct fwd_diags *d)
{
	struct fwd_diags scratch;
	struct loader L;
	int ret;

	*out = NULL;
	fwd_diags_init(&scratch);
	if (!d)
		d = &scratch;
	loader_init(&L, opts, d);
	if (opts && opts->confd_path && !*opts->confd_path)
		L.list_files_ok = false;
	load_text(&L, name, buf, len);
	ret = loader_finish(&L, 0, out);
	fwd_diags_free(&scratch);
	return ret;
}
