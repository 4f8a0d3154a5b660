/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_INWATCH_H
#define FWD_INWATCH_H

/*
 * One inotify descriptor for fwd's event loop (inwatch.c): what the
 * watchers of the user database (pwwatch.c) and of unit cgroups
 * (cgwatch.c) share. Non-blocking and close-on-exec; its events are read
 * to the last one and each named one is put to the watcher's question.
 */

#include <stdbool.h>
#include <stdint.h>

struct fwd_inwatch {
	int fd;			/* -1 when closed */
};

/* inotify_init1 and a first watch on path; 0, or -errno with w->fd -1. */
int fwd_inwatch_open(struct fwd_inwatch *w, const char *path, uint32_t mask);

/* One more watch (or the same one again: inotify gives its number back);
 * the watch descriptor, or -errno. */
int fwd_inwatch_add(struct fwd_inwatch *w, const char *path, uint32_t mask);

void fwd_inwatch_close(struct fwd_inwatch *w);	/* accepts a closed one */

/*
 * Read every pending event. True when events were lost (IN_Q_OVERFLOW:
 * the watcher must look again) or when `named` said yes for the name of
 * one (an entry of a watched directory); every event is read either way,
 * so the descriptor is quiet again.
 */
bool fwd_inwatch_drain(struct fwd_inwatch *w,
		       bool (*named)(const char *name, const void *arg),
		       const void *arg);

#endif
