/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_POLICY_H
#define FWD_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "diag.h"

/*
 * The validated policy model: what the INI files say, with every name
 * resolved and every value checked. Pure data, no kernel notions. Every
 * element remembers where it was written so that an error found later (by
 * the compiler or by the kernel) can still name FILE:LINE.
 */

struct fwd_loc {
	/* Interned in fwd_policy.files. NULL: fwd_policy_builtin's text, or
	 * an edit made at run time. FWD_BUILTIN_NAME when the built-in text
	 * stood in for a missing main file (fwd_load_opts.builtin_if_missing). */
	const char *file;
	unsigned line;
};

enum fwd_action { FWD_DENY, FWD_REJECT, FWD_ALLOW };
enum fwd_log { FWD_LOG_OFF, FWD_LOG_DENIED, FWD_LOG_ALL };
enum fwd_icmp { FWD_ICMP_ESSENTIAL, FWD_ICMP_ALL, FWD_ICMP_NONE };
enum fwd_dir { FWD_DIR_IN, FWD_DIR_OUT };
/*
 * The reverse-path check on inbound packets ([defaults] rpfilter): a source
 * address is believed only when the route back to it leaves through the
 * interface the packet came in on (strict), or through any interface
 * (loose). Strict is 0 so that a zeroed policy has the default.
 */
enum fwd_rpfilter { FWD_RPF_STRICT, FWD_RPF_LOOSE, FWD_RPF_NO };

/* lo..hi inclusive, 1..65535; proto is IPPROTO_TCP or IPPROTO_UDP. */
struct fwd_ports {
	uint8_t proto;
	uint16_t lo, hi;
	struct fwd_loc loc;
};

/* An address list ([list NAME]): members inline and from list files. */
struct fwd_list {
	char *name;
	struct fwd_addr *addrs;
	struct fwd_loc *locs;	/* locs[i] is where addrs[i] was written */
	size_t n, cap;
	struct fwd_loc loc;	/* the [list NAME] header */
};

enum fwd_peer_kind { FWD_PEER_ANY, FWD_PEER_ADDR, FWD_PEER_LIST };

/* One word of an allow = line. */
struct fwd_peer {
	enum fwd_peer_kind kind;
	struct fwd_addr addr;		/* FWD_PEER_ADDR */
	size_t list;			/* FWD_PEER_LIST: index in fwd_policy.lists */
	struct fwd_loc loc;
};

/*
 * Where and how fast a service is open: [service] interface = / limit =,
 * and `fwctl allow ... on IFACE limit N/WINDOW`. All zero: everywhere, no
 * limit (the shared allow sets). Otherwise the compiler gives every
 * distinct (direction, restriction) its own sets and rules (ir.h,
 * fwd_ir_class). The limit counts new connections per source address
 * (IPv6 per /64), kernel-side; a source above it is dropped until its
 * rate falls back under N per WINDOW.
 */
#define FWD_IFNAME_MAX 15		/* IFNAMSIZ - 1 */
#define FWD_LIMIT_N_MAX 1000000u
#define FWD_LIMIT_W_MAX 86400u		/* a day */
/* [defaults] program_limit's default: 1000 new program flows a second
 * per user. One client making connection after connection stays under
 * it, and the loop (about 10k decisions a second on a small machine)
 * keeps room for other users while one floods. */
#define FWD_PROG_LIMIT_N 1000u
#define FWD_PROG_LIMIT_W 1u
struct fwd_restrict {
	char ifname[FWD_IFNAME_MAX + 1];	/* "" = every interface */
	uint32_t limit_n;		/* N new connections ... (0 = no limit) */
	uint32_t limit_w;		/* ... per limit_w seconds */
};

static inline bool fwd_restrict_on(const struct fwd_restrict *r)
{
	return r->ifname[0] || r->limit_n;
}
bool fwd_restrict_eq(const struct fwd_restrict *a, const struct fwd_restrict *b);
/* An interface name the kernel would take (1-15 bytes, not . or .., no
 * '/', ':', blanks) and nft can print (no '*', '"', '\\', control bytes).
 * NULL when good, else why not. */
const char *fwd_ifname_check(const char *s, size_t n);
/* "N/WINDOW" (6/30s, 100/1m, 10/1h30m; blanks around '/' allowed): N
 * 1..FWD_LIMIT_N_MAX, WINDOW a duration of 1s to 1d. NULL when good,
 * else why not. */
const char *fwd_limit_parse(const char *s, size_t n, uint32_t *num,
			    uint32_t *win);
/* "6/30s", the window in the largest units that divide it ("6/1m"). */
int fwd_limit_format(uint32_t num, uint32_t win, char *buf, size_t len);
/* " on eth1 limit 6/30s" (each part only when set; "" for none). */
int fwd_restrict_format(const struct fwd_restrict *r, char *buf, size_t len);

/*
 * Who may open an outbound service's flows (`user =`, `unit =`,
 * `program =` in a direction = out service; outbound.c). A user is a uid,
 * resolved from the user database when the policy is read (FWD_UID_NONE,
 * outbound.h, while the name is not there); a unit is a
 * systemd unit name or cgroup path, whose cgroup the kernel matches once
 * it exists (socket cgroupv2 at the cgroup's level: fwd_unit_cgroup_path);
 * a program is an absolute path.
 */
enum fwd_owner_kind { FWD_OWNER_USER, FWD_OWNER_UNIT, FWD_OWNER_PROGRAM };

struct fwd_owner {
	enum fwd_owner_kind kind;
	uint32_t uid;		/* FWD_OWNER_USER; FWD_UID_NONE: no such user */
	char *name;		/* the word as written (user, unit, path) */
	struct fwd_loc loc;
};

struct fwd_service {
	char *name;
	enum fwd_dir dir;	/* in: allow names sources; out: destinations */
	struct fwd_ports *ports;
	size_t nports;
	struct fwd_peer *allow;
	size_t nallow;
	struct fwd_loc loc;	/* the [service NAME] header */
	struct fwd_restrict rs;	/* interface = / limit = */
	struct fwd_loc iface_loc, limit_loc;
	/* direction = out: the flows are allowed only to these owners (any
	 * one of them); none: to every local process. */
	struct fwd_owner *owners;
	size_t nowners;
};

/*
 * [guard]: the verdict loop's scan and flood detection (policy/guard.h).
 * No [guard] section: on is false, nothing is queued, and the compiled
 * table is what it was before the guard existed. Every value has its
 * default when the key is absent.
 */
struct fwd_guard_conf {
	bool on;			/* a [guard] section was read */
	unsigned scan_ports;		/* scan = N ports / WINDOW: 1..64, default 10 */
	uint32_t scan_window;		/* seconds, 1..3600, default 5 */
	uint32_t flood_rate;		/* flood = N / WINDOW: 1..1000000, 0 = off; default 100 */
	uint32_t flood_window;		/* seconds, 1..3600, default 1 */
	uint32_t block;			/* block = DURATION in seconds, 1s..365d, default 1h */
	struct fwd_peer *never;		/* never = ADDR|CIDR|@list...: never blocked */
	size_t nnever;
	unsigned prefix6;		/* prefix6 = 1..128, default 64 */
	uint32_t max_blocked;		/* 1..1000000, default 100000 */
	/* Where each was written ({NULL, 0}: the default stands). */
	struct fwd_loc loc, scan_loc, flood_loc, block_loc, prefix6_loc,
		       max_blocked_loc;
};

/*
 * [audit]: fwd runs the exposure audit (policy/audit.h) every `interval`
 * and logs each listener newly exposed since the last run. No [audit]
 * section: on is false and fwd audits only when asked (`fwctl audit`).
 */
struct fwd_audit_conf {
	bool on;			/* an [audit] section was read */
	uint32_t interval;		/* seconds, 10s..1d, default 5m */
	struct fwd_loc loc, interval_loc;
};

/*
 * [metrics]: fwd writes its metrics (`fwctl stats --prometheus`) to
 * `textfile` every `interval`, for node_exporter's textfile collector.
 * No [metrics] section: on is false and nothing is written.
 */
struct fwd_metrics_conf {
	bool on;			/* a [metrics] section was read */
	char *textfile;			/* absolute, *.prom; required with on */
	uint32_t interval;		/* seconds, 5s..1h, default 1m */
	struct fwd_loc loc, textfile_loc, interval_loc;
};

struct fwd_policy {
	enum fwd_action inbound;	/* default FWD_DENY */
	enum fwd_action outbound;	/* default FWD_ALLOW */
	enum fwd_log log;		/* default FWD_LOG_DENIED */
	enum fwd_icmp icmp;		/* default FWD_ICMP_ESSENTIAL */
	/* A packet/byte counter on every allow and deny element (what
	 * `fwctl stats` reads per service and list); default true. Off
	 * saves about a quarter of a cold apply at 100k elements. */
	bool counters;
	/* Anti-spoofing on input, IPv4 and IPv6 alike; default strict. */
	enum fwd_rpfilter rpfilter;
	/* Where each was set, so a rule the compiler derives from [defaults]
	 * can name its line; {NULL, 0} when the default stands. */
	struct fwd_loc defaults_loc;	/* the [defaults] header */
	struct fwd_loc inbound_loc, outbound_loc, log_loc, icmp_loc, counters_loc;
	struct fwd_loc rpfilter_loc;

	struct fwd_list *lists;
	size_t nlists;
	struct fwd_service *services;
	size_t nservices;

	char **files;			/* every file read, in order */
	size_t nfiles;

	/* Live edits (edit.h): from the [edits] section of the owned conf.d
	 * file, plus those the daemon adds at run time. Compiled with the
	 * rest; expired ones are skipped. */
	struct fwd_edit *edits;
	size_t nedits, edits_cap;

	/* [defaults] rescue = ADDR/CIDR...: sources that may still reach SSH
	 * (22/tcp) in the lockdown table fwd falls back to. */
	struct fwd_addr *rescue;
	struct fwd_loc *rescue_locs;	/* rescue_locs[i]: where rescue[i] was written */
	size_t nrescue;

	/* [control] admin_group / read_group: who may edit / query through
	 * the control socket besides root. NULL = nobody. */
	char *admin_group;
	char *read_group;

	/* The main file was missing and the built-in default stood in (its
	 * locations then name the file FWD_BUILTIN_NAME). */
	bool builtin;

	/* [guard] (above), and the verdict loop's [defaults]: queues = N
	 * NFQUEUE queues with one worker each (1..16, default 1), and the
	 * DShield user id its --dshield log lines carry (default 0, which
	 * DShield takes as anonymous). */
	struct fwd_guard_conf guard;
	unsigned queues;
	uint32_t dshield_userid;
	struct fwd_loc queues_loc, dshield_userid_loc;
	/* [defaults] program_limit = N/WINDOW: the new flows one local user
	 * (socket uid) may hand the program queue per WINDOW (a kernel meter
	 * in front of queue 16; over it: dropped and counted), so that one
	 * user's flood cannot fill the queue the others' program rules need.
	 * Default FWD_PROG_LIMIT_N / FWD_PROG_LIMIT_W. */
	uint32_t prog_limit_n, prog_limit_w;
	struct fwd_loc prog_limit_loc;

	/* [audit] (above). */
	struct fwd_audit_conf audit;
	/* [metrics] (above). */
	struct fwd_metrics_conf metrics;

	/* The conf.d directory that was read (NULL if includes were off), so
	 * the daemon knows where its own FWD_EDITS_FILE goes. */
	char *confd_dir;
};

struct fwd_edit;
struct fwd_list_cache;

struct fwd_load_opts {
	/* NULL: /etc/services. Used for service names in ports = (https). */
	const char *services_path;
	/* NULL: "conf.d" beside the main file. "" disables includes. */
	const char *confd_path;
	/* A missing main file means the built-in default policy (conf.d is
	 * still read): how fwd comes up on a fresh install. */
	bool builtin_if_missing;
	/* Optional: list files read before (same path) are compared with
	 * the text they had, and only the lines that changed are parsed
	 * (fwd_list_cache_new). The policy is the same as without it. */
	struct fwd_list_cache *list_cache;
};

/*
 * A daemon's memory of its list files, kept between loads so that a reload
 * after an edit of one line of a 100k-line list parses that line, not the
 * file: per file (by path) the text and the members parsed from it. It
 * holds the files of the last load only, and those that parsed cleanly.
 * Not thread-safe; one cache per loader at a time.
 */
struct fwd_list_cache *fwd_list_cache_new(void);	/* OOM aborts */
void fwd_list_cache_free(struct fwd_list_cache *c);	/* accepts NULL */

struct fwd_list_cache_stats {
	size_t whole;		/* files found unchanged: no line parsed */
	size_t spliced;		/* files changed in part: those lines parsed */
	size_t parsed;		/* files parsed whole (new, or not spliceable) */
	size_t lines_parsed;	/* lines parsed, over all loads */
};
void fwd_list_cache_stats(const struct fwd_list_cache *c,
			  struct fwd_list_cache_stats *out);

/* The file name locations carry when the built-in text stood in for a
 * missing main file (builtin_if_missing): "<built-in>:10: ...". */
#define FWD_BUILTIN_NAME "<built-in>"

/* List and service names: 1-32 characters from A-Z a-z 0-9 _ . - */
#define FWD_NAME_MAX 32
bool fwd_name_valid(const char *s, size_t n);

struct fwd_policy *fwd_policy_new(void);	/* defaults set; NULL on ENOMEM */
void fwd_policy_free(struct fwd_policy *p);	/* accepts NULL */

/*
 * Read the main file, then every conf.d/NAME.conf in lexical order, then the
 * list files they name, and validate the whole. Returns 0 with *out set, or a
 * negative errno with every problem appended to d (as FILE:LINE: message) and
 * *out NULL. Nothing is half-loaded: on error there is no policy at all.
 */
int fwd_policy_load(const char *path, const struct fwd_load_opts *opts,
		    struct fwd_policy **out, struct fwd_diags *d);

/*
 * The same from memory, for tests and fuzzers: `name` is used in messages.
 * No includes are read; list files named by `file =` are read from disk
 * unless opts->confd_path is "" (then they are an error).
 */
int fwd_policy_load_buffer(const char *name, const char *buf, size_t len,
			   const struct fwd_load_opts *opts,
			   struct fwd_policy **out, struct fwd_diags *d);

/* The built-in policy used when no file exists: inbound deny except 22/tcp
 * from any, essential ICMP, outbound allow. */
int fwd_policy_builtin(struct fwd_policy **out);

/* The built-in policy as INI text (what `fwd --print-default` shows). */
extern const char fwd_policy_builtin_text[];

/*
 * The model fwd falls back to when the policy files are broken and there is
 * no last good state: inbound deny, outbound allow, essential ICMP, denied
 * packets logged, no services, except 22/tcp (service "rescue") from every
 * `rescue =` source that can still be read from the [defaults] section of
 * config_path. That scan is lenient: everything else in the file and every
 * error is ignored, a bad rescue word is skipped, an unreadable file gives
 * no rescue sources. p->rescue is filled. Always 0 (OOM aborts, util.h).
 */
int fwd_policy_lockdown(const char *config_path, struct fwd_policy **out);

/*
 * What the (broken) files still say about `[defaults] inbound`, read as
 * leniently as rescue: the main file and the *.conf files of conf.d beside it.
 * FWD_ALLOW only if every readable `inbound =` says allow; FWD_DENY or
 * FWD_REJECT if any says so (or a word that is none of the three); -ENOENT
 * if none can be read. fwd uses it before applying a last good policy that
 * accepts all inbound traffic.
 */
int fwd_policy_scan_inbound(const char *config_path);

/* What `fwctl check` counts as addresses: list members, address words of
 * services' allow = and the addresses of edits (allow/deny address peers,
 * block, list-add). Lists, "any" and list-del are not addresses. */
size_t fwd_policy_count_addresses(const struct fwd_policy *p);

const char *fwd_action_name(enum fwd_action a);	/* "deny", ... */
const char *fwd_log_name(enum fwd_log l);
const char *fwd_icmp_name(enum fwd_icmp i);
const char *fwd_rpfilter_name(enum fwd_rpfilter r);	/* "strict", ... */
const char *fwd_proto_name(uint8_t proto);		/* "tcp", "udp" */

#endif
