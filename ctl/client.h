/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_CLIENT_H
#define FWD_CLIENT_H

/*
 * fwctl's side of the control socket: one request out, one response back.
 * fwctl builds a struct fwd_request from its words (proto.h), calls
 * fwd_client_call() and prints what comes back. Whatever goes wrong, the
 * caller gets a response it can print and an exit code: the daemon's, or
 * one made here (FWD_EXIT_UNREACHABLE etc.) with a message saying what
 * failed and where.
 */

#include "proto.h"

/* How long fwctl waits for fwd as a whole (connect, send, answer). */
#define FWD_CLIENT_TIMEOUT_MS	60000

/*
 * Sends req to the fwd listening at path (see fwd_ctl_socket_path() for
 * -S / $FWD_SOCKET / default) and waits at most timeout_ms (0: the
 * default) for its answer, which lands in resp (init'd here; free it).
 *
 * Returns 0 when fwd answered; resp is its answer. Otherwise -errno, and
 * resp holds a message made here, e.g.
 *   "fwctl: cannot reach fwd at /run/fwd/fwd.sock: No such file or
 *    directory (is fwd running?)"                     FWD_EXIT_UNREACHABLE
 *   "fwctl: permission denied: cannot connect to ..."  FWD_EXIT_DENIED
 *   "fwctl: no answer from fwd at ... within 60 s"     FWD_EXIT_UNREACHABLE
 *   "fwctl: bad response from fwd at ...: ..."         FWD_EXIT_PROTO
 *
 * A request the daemon rejects while it is still being sent (too large,
 * busy) is not a send error: the daemon's answer is read and returned.
 * SIGPIPE is never raised (MSG_NOSIGNAL); no signal handler is touched.
 */
int fwd_client_call(const char *path, const struct fwd_request *req, int timeout_ms,
		    struct fwd_response *resp);

/*
 * Reads fd to its end into req's stdin blob (batch mode, "-" arguments).
 * fwctl must do this before fwd_client_call(): the daemon gives a client
 * a few seconds to deliver its request, not as long as a pipe takes.
 * -EFBIG past FWD_PROTO_MAX_STDIN.
 */
int fwd_client_read_stdin(struct fwd_request *req, int fd);

/*
 * Adds the environment the daemon needs to protect the caller: today
 * SSH_CONNECTION (the lockout guard refuses to cut the session issuing
 * a change). Under sudo it is usually not in fwctl's own environment
 * (env_reset), so when it is missing here the parent processes' are
 * searched (/proc/PID/environ, up to the first one that has it). Values
 * missing everywhere are simply not sent.
 */
int fwd_client_add_env(struct fwd_request *req);

/* Writes resp's stdout and stderr to outfd and errfd; returns resp->status. */
int fwd_client_print(const struct fwd_response *resp, int outfd, int errfd);

#endif
