/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_SOCKETS_H
#define FWD_SOCKETS_H

#include "audit.h"

struct mnl_socket;

/*
 * The namespace's listeners, from the kernel: a sock_diag dump (one per
 * family and protocol) of listening TCP and bound, unconnected UDP
 * sockets, IPv4 and IPv6, appended to `a` with their address, port,
 * IPV6_V6ONLY, uid and inode. 0 or -errno (nothing is appended then).
 */
int fwd_sockets_list(struct fwd_audit *a);

/*
 * Their owners, from /proc: every /proc/PID/fd is read once, and each
 * socket gets the lowest pid holding it, that process's command, exe
 * and systemd unit (from /proc/PID/cgroup), and the uid's user name. A
 * process that goes away mid-scan is skipped; a socket nobody in this
 * pid namespace holds keeps pid 0.
 */
void fwd_sockets_owners(struct fwd_audit *a);

/* A NETLINK_SOCK_DIAG socket, bound (conntrack.c's SOCK_DESTROY uses it
 * too). 0 or -errno. */
int fwd_sockdiag_open(struct mnl_socket **out);

#endif
