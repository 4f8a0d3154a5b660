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

/*
 * The owner of one outbound flow's socket, for the verdict loop's program
 * decision (policy/progrule.h): sock_diag asked for exactly the flow's
 * 5-tuple (no dump: the kernel looks the socket up in its hash tables;
 * IPv4 and IPv6, TCP and UDP; a UDP socket also when it is unconnected,
 * by its local end, as a reply would find it), which gives the socket's
 * uid and inode;
 * then the process holding that inode (the pids found last are looked at
 * first, through their /proc/PID kept open, so a pid that was given to a
 * new process never passes for the old one; /proc/PID/fd of every process
 * last); then stat of that same process's exe, the executable's (st_dev,
 * st_ino). The lowest pid is not sought: any
 * process holding the socket owns it (after fork both do).
 *
 * One finder per thread: it keeps its sock_diag socket and pid cache.
 */
struct fwd_sock_owner {
	uint32_t uid;
	uint64_t inode;
	uint32_t pid;
	uint64_t exe_dev, exe_ino;
};
struct fwd_owner_finder;

/* 0 or -errno (the sock_diag socket could not be opened). */
int fwd_owner_finder_new(struct fwd_owner_finder **out);
void fwd_owner_finder_free(struct fwd_owner_finder *f);	/* accepts NULL */

/*
 * The owner of the socket whose local end is (src, sport) and remote end
 * (dst, dport), family AF_INET/AF_INET6 (addresses in network order, 4 or
 * 16 bytes), proto IPPROTO_TCP/UDP, ports in host order. 0 with *out
 * filled; -ENOENT when the socket or a process holding it is not found
 * (it closed, the process exited: a short-lived client), another -errno
 * when sock_diag failed. Never a guess: no owner is -ENOENT.
 */
int fwd_owner_find(struct fwd_owner_finder *f, int family, uint8_t proto,
		   const uint8_t *src, uint16_t sport, const uint8_t *dst,
		   uint16_t dport, struct fwd_sock_owner *out);

#endif
