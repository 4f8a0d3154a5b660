/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_KMOD_MONITOR_H
#define FWD_KMOD_MONITOR_H

/*
 * Internal to kmod-hooks: what the batch asks of the table guard
 * (monitor.c) attached to its socket.
 */

#include "kmod.h"

/* Stop listening around a big commit of our own (the kernel builds no
 * events while nobody listens), and account for what happened meanwhile
 * when listening again. */
void fwd_monitor_pause(struct fwd_monitor *m);
void fwd_monitor_resume(struct fwd_monitor *m);

#endif
