/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_NOTIFY_H
#define FWD_NOTIFY_H

/*
 * The systemd notify protocol is one datagram on the socket named by
 * NOTIFY_SOCKET; the few lines here avoid a libsystemd dependency in a
 * program that must start before almost everything else. No-op (returns 0)
 * when NOTIFY_SOCKET is unset. Returns 0 or -errno.
 */
int fwd_notify(const char *state);

#endif
