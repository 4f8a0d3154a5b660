/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_SERVICES_H
#define FWD_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A services(5) database read from a path, so that tests and chroots choose
 * the file and results never depend on NSS configuration (no getservbyname).
 * Only tcp and udp entries are kept: those are the protocols ports = knows.
 */
struct fwd_services;

/* 0 with *out set, or -errno if the file cannot be read. */
int fwd_services_load(const char *path, struct fwd_services **out);
void fwd_services_free(struct fwd_services *s);	/* accepts NULL */

/*
 * Look a name or alias up. *tcp and *udp get the port for that protocol, or
 * 0 when the name has no entry for it; the first entry of a file wins, as
 * with getservbyname. Returns true if either was found.
 */
bool fwd_services_lookup(const struct fwd_services *s, const char *name,
			 uint16_t *tcp, uint16_t *udp);

/*
 * One word of PORTS, as a policy's ports = and fwctl allow/deny write it:
 * 22/tcp, 53 (tcp and udp), 60000-61000/udp, https, https/tcp. Shared by
 * the policy loader and the edit parser so both read PORTS alike and say
 * the same about the same mistake.
 */
struct fwd_port_range {
	uint8_t proto;		/* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t lo, hi;	/* 1..65535, lo <= hi */
};

struct fwd_ports_parser {
	const char *services_path;	/* NULL: /etc/services */
	/* Every problem found: a word may have two (both ends of a range).
	 * msg is a complete sentence without location. */
	void (*error)(void *arg, const char *msg);
	void *arg;
	/* The services database, read at the first name, kept until
	 * fwd_ports_parser_done(). */
	struct fwd_services *db;
	int db_err;			/* 0, or -errno once reading failed */
};

/*
 * Parse w[0..n) into out[0..2): returns the number of ranges (1 or 2), or
 * 0 after reporting every problem through pp->error.
 */
size_t fwd_ports_word(struct fwd_ports_parser *pp, const char *w, size_t n,
		      struct fwd_port_range out[2]);
/* Free the services database; pp may be used again. */
void fwd_ports_parser_done(struct fwd_ports_parser *pp);

#endif
