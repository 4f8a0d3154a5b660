/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_PROTO_H
#define FWD_PROTO_H

/*
 * The control protocol between fwctl and fwd: one request, one response,
 * one connection. fwctl sends the user's words (argv after "fwctl", options
 * included), a few environment values and optionally a stdin blob; the
 * daemon parses the command and sends back the exit code and the exact
 * stdout and stderr text fwctl prints. This file is the codec only: pure
 * functions between structs and byte buffers, no sockets, so it is unit
 * tested and fuzzed on its own.
 *
 * Wire format (all integers big-endian):
 *
 *   frame  = header body
 *   header = magic "FWDC" (4 bytes)
 *            version  u8   FWD_PROTO_VERSION
 *            type     u8   1 request, 2 response
 *            reserved u16  must be 0
 *            length   u32  bytes of body that follow
 *   body   = field*
 *   field  = tag u16, length u32, value (length bytes)
 *
 * Request fields:
 *   FLAGS  (1) u32 bitmask of FWD_REQ_F_*; at most once, absent = 0.
 *              Unknown bits are an error: a client asking for something
 *              this daemon does not know must not be half-served.
 *   ARG    (2) one argument string, in order; no NUL bytes; may be empty.
 *   ENV    (3) "NAME=VALUE", NAME of [A-Za-z0-9_], value may be empty.
 *   STDIN  (4) the stdin blob, any bytes; at most once. Absent and empty
 *              are different: absent means fwctl was not asked to read it.
 * Response fields:
 *   STATUS (1) u8 exit code (FWD_EXIT_*); exactly once.
 *   STDOUT (2) text for fwctl's stdout; at most once, absent = empty.
 *   STDERR (3) text for fwctl's stderr; at most once, absent = empty.
 *   FLAGS  (0x8004, optional) u32 bitmask of FWD_RESP_F_*; at most once,
 *              absent = 0. Optional: an older fwctl skips it and prints
 *              the refusal as it is.
 *
 * A tag with bit 15 set is optional: a decoder that does not know it skips
 * it. An unknown tag without that bit is an error. A change old peers cannot
 * ignore bumps the version; the header layout and the response fields
 * STATUS/STDERR never change, so any daemon can tell any fwctl why it
 * refuses a request, in a frame that fwctl can read.
 *
 * Limits: a request body is at most FWD_PROTO_MAX_REQUEST bytes (16 MiB of
 * stdin plus room for the arguments); a response body at most
 * FWD_PROTO_MAX_RESPONSE (a "show" of a very large list is bigger than its
 * stdin form). Decoders check every length against the bytes actually
 * present before using it, never trust a count, and reject trailing bytes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a peer of the control socket may do, from least to most: decided by
 * the server (control.h) from SO_PEERCRED, named per command by the
 * command table (cmdtab.h). */
enum fwd_ctl_role {
	FWD_ROLE_NONE = 0,
	FWD_ROLE_READ = 1,
	FWD_ROLE_ADMIN = 2,
};

#define FWD_PROTO_MAGIC		"FWDC"
#define FWD_PROTO_VERSION	1
#define FWD_PROTO_HDR_LEN	12
#define FWD_PROTO_FIELD_HDR_LEN	6

#define FWD_PROTO_MAX_STDIN	(16u << 20)
#define FWD_PROTO_MAX_REQUEST	(FWD_PROTO_MAX_STDIN + (1u << 20))
#define FWD_PROTO_MAX_RESPONSE	(64u << 20)
#define FWD_PROTO_MAX_ARGS	65536
#define FWD_PROTO_MAX_ENV	32
#define FWD_PROTO_MAX_ENV_NAME	64
#define FWD_PROTO_MAX_ENV_VALUE	4096

/* Where fwd listens unless -S PATH or $FWD_SOCKET say otherwise. */
#define FWD_CTL_DEFAULT_PATH	"/run/fwd/fwd.sock"
#define FWD_CTL_PATH_ENV	"FWD_SOCKET"

enum fwd_frame_type {
	FWD_FRAME_REQUEST = 1,
	FWD_FRAME_RESPONSE = 2,
};

enum fwd_req_tag {
	FWD_REQ_FLAGS = 1,
	FWD_REQ_ARG = 2,
	FWD_REQ_ENV = 3,
	FWD_REQ_STDIN = 4,
};

enum fwd_resp_tag {
	FWD_RESP_STATUS = 1,
	FWD_RESP_STDOUT = 2,
	FWD_RESP_STDERR = 3,
	FWD_RESP_FLAGS = 0x8004,	/* FWD_PROTO_TAG_OPTIONAL | 4 */
};

/*
 * Response flags: what fwctl may do about an answer besides print it.
 * CONFIRM: the request was refused only because it is broad (it would
 * cut off a whole family, a port for everyone, the last way in) and
 * carried no --yes; nothing changed. On a terminal fwctl shows the
 * refusal, asks, and sends the same words again with --yes; a script
 * gets the refusal. The daemon decides, so a client that skips fwctl
 * still has to say --yes.
 */
enum fwd_resp_flag {
	FWD_RESP_F_CONFIRM = 1u << 0,
};

#define FWD_PROTO_TAG_OPTIONAL	0x8000u

/*
 * Request flags: what fwctl knows and the daemon cannot see. The argument
 * words stay the authority for options; a flag means the same as the
 * option word (fwctl may have consumed "--json" before the command word).
 */
enum fwd_req_flag {
	FWD_REQ_F_JSON = 1u << 0,	/* answer in JSON */
	FWD_REQ_F_FORCE = 1u << 1,	/* --force: skip the lockout guard */
	FWD_REQ_F_TTY = 1u << 2,	/* fwctl's stdout is a terminal */
};
#define FWD_REQ_F_KNOWN	(FWD_REQ_F_JSON | FWD_REQ_F_FORCE | FWD_REQ_F_TTY)

/*
 * Exit codes of fwctl, carried in STATUS. The daemon sends 0-3 and 5-6;
 * 4 is made by fwctl itself when it cannot get an answer.
 */
enum fwd_exit {
	FWD_EXIT_OK = 0,
	FWD_EXIT_FAIL = 1,		/* the request failed (bad address, rejected edit) */
	FWD_EXIT_USAGE = 2,		/* bad command line */
	FWD_EXIT_DENIED = 3,		/* the peer may not do this */
	FWD_EXIT_UNREACHABLE = 4,	/* no answer from fwd (client side only) */
	FWD_EXIT_PROTO = 5,		/* malformed request/response, version mismatch */
	FWD_EXIT_BUSY = 6,		/* fwd refused for load: too many clients, timeout */
};

/* A growable byte buffer, always NUL-terminated when data != NULL. */
struct fwd_buf {
	char *data;
	size_t len, cap;
};

struct fwd_env {
	char *name;
	char *value;
};

struct fwd_request {
	uint32_t flags;			/* FWD_REQ_F_* */
	char **argv;			/* argc strings, then a NULL */
	size_t argc;
	size_t argv_cap;		/* slots allocated in argv (internal) */
	struct fwd_env *env;
	size_t nenv;
	bool has_stdin;
	uint8_t *stdin_data;		/* NUL-terminated for convenience */
	size_t stdin_len;
};

struct fwd_response {
	uint8_t status;			/* FWD_EXIT_* */
	struct fwd_buf out;		/* stdout text */
	struct fwd_buf err;		/* stderr text */
	uint32_t flags;			/* FWD_RESP_F_* */
	/*
	 * Sticky: an append failed (-ENOMEM) or would pass
	 * FWD_PROTO_MAX_RESPONSE (-EMSGSIZE). The server then sends an
	 * error instead of a silently truncated answer.
	 */
	int error;
};

/* Socket path: path if non-NULL and non-empty, else $FWD_SOCKET, else the default. */
const char *fwd_ctl_socket_path(const char *path);

/* Requests. Every setter copies; all return 0 or -errno. */
void fwd_request_init(struct fwd_request *req);
void fwd_request_free(struct fwd_request *req);		/* accepts NULL; leaves it init'd */
int fwd_request_add_arg(struct fwd_request *req, const char *arg);
int fwd_request_add_args(struct fwd_request *req, int argc, char *const argv[]);
/* -EINVAL for a name outside [A-Za-z0-9_]{1,64} or a value over 4096 bytes. */
int fwd_request_add_env(struct fwd_request *req, const char *name, const char *value);
/* The value of name, or NULL when the client did not send it. */
const char *fwd_request_getenv(const struct fwd_request *req, const char *name);
/* -EFBIG over FWD_PROTO_MAX_STDIN. */
int fwd_request_set_stdin(struct fwd_request *req, const void *data, size_t len);

/* Responses. */
void fwd_response_init(struct fwd_response *resp);
void fwd_response_free(struct fwd_response *resp);	/* accepts NULL; leaves it init'd */
/* Empties stdout and stderr, clears error; status is kept. */
void fwd_response_clear(struct fwd_response *resp);
int fwd_response_write(struct fwd_response *resp, const void *data, size_t len);
int fwd_response_printf(struct fwd_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int fwd_response_ewrite(struct fwd_response *resp, const void *data, size_t len);
int fwd_response_eprintf(struct fwd_response *resp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Replaces everything with status and one stderr line "fwd: <fmt>\n". */
void fwd_response_fail(struct fwd_response *resp, uint8_t status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Encoding: *buf is malloc'd, *len its size (header included).
 * -EMSGSIZE when the body would pass the type's limit, -EINVAL for a
 * request that could not be decoded (NUL in an argument, bad env name,
 * unknown flag), -ENOMEM.
 */
int fwd_request_encode(const struct fwd_request *req, uint8_t **buf, size_t *len);
int fwd_response_encode(const struct fwd_response *resp, uint8_t **buf, size_t *len);

/*
 * Reads a frame header from buf (len bytes available) and checks it for
 * the expected type. Returns 0 with *frame_len = header + body length;
 * -EAGAIN when fewer than FWD_PROTO_HDR_LEN bytes are given; -EBADMSG for a
 * wrong magic, type or reserved bits; -EPROTONOSUPPORT for another
 * version; -EMSGSIZE for a body over the type's limit. On error, why (if
 * non-NULL, whylen > 0) gets a one-line reason without a newline.
 */
int fwd_frame_check(const uint8_t *buf, size_t len, enum fwd_frame_type type,
		    size_t *frame_len, char *why, size_t whylen);

/*
 * Decoding a whole frame (exactly len bytes). On success the struct owns
 * copies of everything; on error it is left empty (init'd), the return is
 * -errno as above (-EBADMSG for any malformed body) and why says what and
 * where ("field 3 at offset 40: ...").
 */
int fwd_request_decode(const uint8_t *buf, size_t len, struct fwd_request *req,
		       char *why, size_t whylen);
int fwd_response_decode(const uint8_t *buf, size_t len, struct fwd_response *resp,
			char *why, size_t whylen);

#endif
