/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_AUDIT_H
#define FWD_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fwd_ir;

/*
 * The exposure audit (`fwctl audit`): listening sockets -> what the running
 * IR makes of each. Pure: the sockets come from kmod-hooks/sockets.c (the
 * kernel's sock_diag and /proc), the verdicts from the IR's input sets, and
 * the baseline is text in, text out. No sockets, no root, unit tested.
 */

enum fwd_audit_verdict {
	FWD_AUDIT_EXPOSED,	/* allowed from any source */
	FWD_AUDIT_RESTRICTED,	/* allowed from some sources (allowed_from) */
	FWD_AUDIT_SHIELDED,	/* listening, but the policy lets nobody in */
	FWD_AUDIT_LOCAL,	/* bound to loopback only */
};

const char *fwd_audit_verdict_name(enum fwd_audit_verdict v);

#define FWD_AUDIT_COMM 32
#define FWD_AUDIT_EXE 256
#define FWD_AUDIT_USER 64
#define FWD_AUDIT_UNIT 128
#define FWD_AUDIT_ADDR 48

/* One listening TCP socket or bound (unconnected) UDP socket. */
struct fwd_audit_sock {
	uint8_t family;			/* AF_INET or AF_INET6 */
	uint8_t proto;			/* 6 tcp, 17 udp */
	bool v6only;			/* IPV6_V6ONLY: no v4-mapped traffic */
	uint8_t addr[16];		/* bound address, network order */
	uint16_t port;			/* host order */
	uint32_t uid;			/* the socket's owner (sock_diag) */
	uint64_t inode;
	/* Owner, from /proc: pid 0 when no process holding it was found
	 * (another namespace's process, or it went away mid-scan). */
	int pid;
	char comm[FWD_AUDIT_COMM];
	char exe[FWD_AUDIT_EXE];
	char user[FWD_AUDIT_USER];	/* "" when the uid has no name */
	char unit[FWD_AUDIT_UNIT];	/* "" when not in a .service/.scope */
	/* Filled by fwd_audit_judge: */
	enum fwd_audit_verdict verdict;
	char **from;			/* allowed sources, "any" for exposed */
	size_t nfrom;
};

/* A port range the policy allows with nothing (but loopback) listening. */
struct fwd_audit_unused {
	uint8_t proto;
	uint16_t plo, phi;
	char **from;
	size_t nfrom;
};

struct fwd_audit {
	struct fwd_audit_sock *socks;	/* sorted: proto, port, family, address */
	size_t n, cap;
	struct fwd_audit_unused *unused;	/* sorted: proto, port */
	size_t nunused;
};

/* Room for one more socket (zeroed); OOM aborts. */
struct fwd_audit_sock *fwd_audit_add(struct fwd_audit *a);
/* Accepts NULL members; leaves *a empty. */
void fwd_audit_free(struct fwd_audit *a);

/*
 * Sort the sockets, drop duplicates (a socket seen twice in a dump), and
 * judge each against the IR's input chain: loopback binds are local; a
 * port in the open set (and not in deny_open), an input chain that
 * accepts by policy or without a lookup, or allowed sources that cover a
 * whole family the socket receives are exposed; allowed sources
 * (allow4/6 and their _net sets, as the socket's family and dual-stack
 * binding receive them) are restricted; nothing is shielded. Then the
 * unused port ranges. 0 or -errno.
 */
int fwd_audit_judge(struct fwd_audit *a, const struct fwd_ir *ir);

/*
 * The systemd unit of a process from the text of /proc/PID/cgroup: the
 * deepest .service or .scope in its cgroup v2 path ("0::/system.slice/
 * ssh.service" is ssh.service; a user's service under user@1000.service
 * is that service), or "" when there is none (cgroup v1, no systemd).
 */
void fwd_audit_unit_of(const char *cgroup, char *out, size_t len);

/* "0.0.0.0", "::", "::ffff:192.0.2.1" */
void fwd_audit_addr(const struct fwd_audit_sock *s, char *buf, size_t len);

/*
 * The baseline: one line per socket, tab separated, the first line a
 * version header. Fields cannot hold tabs or newlines (such bytes become
 * '?', an empty field '-'). Text is malloc'd, *len its length.
 */
char *fwd_audit_baseline_format(const struct fwd_audit *a, size_t *len);

/* One listener as the baseline keeps it. */
struct fwd_audit_entry {
	char proto[4];
	char addr[FWD_AUDIT_ADDR];
	unsigned port;
	char verdict[12];
	unsigned uid;
	char user[FWD_AUDIT_USER];
	char comm[FWD_AUDIT_COMM];
	char exe[FWD_AUDIT_EXE];
	char unit[FWD_AUDIT_UNIT];
};

/*
 * Parse a baseline. 0, or -EINVAL with "LINE N: what" in why (the file is
 * not used at all then: a damaged baseline must not make every listener
 * look new, nor hide one).
 */
int fwd_audit_baseline_parse(const char *text, size_t len,
			     struct fwd_audit_entry **out, size_t *n,
			     char *why, size_t whylen);
void fwd_audit_entry_of(const struct fwd_audit_sock *s, struct fwd_audit_entry *e);

enum fwd_audit_change {
	FWD_AUDIT_NEW,		/* listening now, not in the baseline */
	FWD_AUDIT_GONE,		/* in the baseline, not listening now */
	FWD_AUDIT_CHANGED,	/* same proto/address/port, other owner or verdict */
};

struct fwd_audit_diff {
	enum fwd_audit_change change;
	struct fwd_audit_entry was, now;	/* was: not for NEW; now: not for GONE */
	bool owner_changed, verdict_changed;
	/* NEW and exposed, or CHANGED into exposed: what `--diff` exits 1 for
	 * and what fwd's [audit] interval logs. */
	bool newly_exposed;
};

/* The differences, sorted by proto, port, address; malloc'd. */
void fwd_audit_diff(const struct fwd_audit_entry *base, size_t nbase,
		    const struct fwd_audit_entry *now, size_t nnow,
		    struct fwd_audit_diff **out, size_t *n);

#endif
