/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_SERVICES_H
#define FWD_SERVICES_H

#include <stdbool.h>
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

#endif
