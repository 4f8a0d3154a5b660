// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Control protocol codec (see proto.h for the wire format). Everything
 * here reads lengths from untrusted bytes, so every read goes through
 * struct cursor, which checks the bytes are there before it hands them out.
 */
#include "proto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fwd_ctl_socket_path(const char *path)
{
	const char *env;

	if (path && *path)
		return path;
	env = getenv(FWD_CTL_PATH_ENV);
	if (env && *env)
		return env;
	return FWD_CTL_DEFAULT_PATH;
}

/* ---- buffers ---- */

static int buf_reserve(struct fwd_buf *b, size_t more, size_t limit)
{
	size_t need, cap;
	char *p;

	if (more > limit || b->len > limit - more)
		return -EMSGSIZE;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int buf_append(struct fwd_buf *b, const void *data, size_t len, size_t limit)
{
	int ret = buf_reserve(b, len, limit);

	if (ret < 0)
		return ret;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static int buf_vprintf(struct fwd_buf *b, size_t limit, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int buf_vprintf(struct fwd_buf *b, size_t limit, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, ret;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -EINVAL;
	ret = buf_reserve(b, (size_t)n, limit);
	if (ret < 0)
		return ret;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

static void buf_free(struct fwd_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

/* ---- requests ---- */

void fwd_request_init(struct fwd_request *req)
{
	memset(req, 0, sizeof(*req));
}

void fwd_request_free(struct fwd_request *req)
{
	if (!req)
		return;
	for (size_t i = 0; i < req->argc; i++)
		free(req->argv[i]);
	free(req->argv);
	for (size_t i = 0; i < req->nenv; i++) {
		free(req->env[i].name);
		free(req->env[i].value);
	}
	free(req->env);
	free(req->stdin_data);
	fwd_request_init(req);
}

/* Appends a string of len bytes (no NUL inside) as an argument, copying it. */
static int request_push_arg(struct fwd_request *req, const char *s, size_t len)
{
	char **v;
	char *copy;

	if (req->argc >= FWD_PROTO_MAX_ARGS)
		return -E2BIG;
	/* argv keeps a NULL after the last argument, like main's. */
	if (req->argc + 2 > req->argv_cap) {
		size_t cap = req->argv_cap ? req->argv_cap * 2 : 8;

		v = realloc(req->argv, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		req->argv = v;
		req->argv_cap = cap;
	}
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	req->argv[req->argc++] = copy;
	req->argv[req->argc] = NULL;
	return 0;
}

int fwd_request_add_arg(struct fwd_request *req, const char *arg)
{
	return request_push_arg(req, arg, strlen(arg));
}

int fwd_request_add_args(struct fwd_request *req, int argc, char *const argv[])
{
	for (int i = 0; i < argc; i++) {
		int ret = fwd_request_add_arg(req, argv[i]);

		if (ret < 0)
			return ret;
	}
	return 0;
}

static bool env_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > FWD_PROTO_MAX_ENV_NAME)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

/* n bytes (not NUL-terminated in a frame) as a C string. */
static char *memdup0(const char *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

static int request_push_env(struct fwd_request *req, const char *name, size_t nlen,
			    const char *value, size_t vlen)
{
	struct fwd_env *v, *e;

	if (!env_name_ok(name, nlen) || vlen > FWD_PROTO_MAX_ENV_VALUE ||
	    memchr(value, '\0', vlen))
		return -EINVAL;
	if (req->nenv >= FWD_PROTO_MAX_ENV)
		return -E2BIG;
	v = realloc(req->env, (req->nenv + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	req->env = v;
	e = &v[req->nenv];
	e->name = memdup0(name, nlen);
	e->value = memdup0(value, vlen);
	if (!e->name || !e->value) {
		free(e->name);
		free(e->value);
		return -ENOMEM;
	}
	req->nenv++;
	return 0;
}

int fwd_request_add_env(struct fwd_request *req, const char *name, const char *value)
{
	return request_push_env(req, name, strlen(name), value, strlen(value));
}

const char *fwd_request_getenv(const struct fwd_request *req, const char *name)
{
	/* The last one wins, as with a shell's repeated assignment. */
	for (size_t i = req->nenv; i-- > 0;)
		if (strcmp(req->env[i].name, name) == 0)
			return req->env[i].value;
	return NULL;
}

int fwd_request_set_stdin(struct fwd_request *req, const void *data, size_t len)
{
	uint8_t *copy;

	if (len > FWD_PROTO_MAX_STDIN)
		return -EFBIG;
	copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	copy[len] = '\0';
	free(req->stdin_data);
	req->stdin_data = copy;
	req->stdin_len = len;
	req->has_stdin = true;
	return 0;
}

/* ---- responses ---- */

void fwd_response_init(struct fwd_response *resp)
{
	memset(resp, 0, sizeof(*resp));
}

void fwd_response_free(struct fwd_response *resp)
{
	if (!resp)
		return;
	buf_free(&resp->out);
	buf_free(&resp->err);
	fwd_response_init(resp);
}

void fwd_response_clear(struct fwd_response *resp)
{
	uint8_t status = resp->status;

	fwd_response_free(resp);
	resp->status = status;
}

/*
 * Both streams share one limit: the encoded response must fit, so each
 * append checks the sum (field headers and the status are small and
 * covered by the slack kept below the limit).
 */
#define RESP_TEXT_LIMIT	(FWD_PROTO_MAX_RESPONSE - 64)

static size_t resp_room(const struct fwd_response *resp, const struct fwd_buf *self)
{
	const struct fwd_buf *other = self == &resp->out ? &resp->err : &resp->out;

	return other->len >= RESP_TEXT_LIMIT ? 0 : RESP_TEXT_LIMIT - other->len;
}

static int resp_append(struct fwd_response *resp, struct fwd_buf *b,
		       const void *data, size_t len)
{
	int ret;

	if (resp->error)
		return resp->error;
	ret = buf_append(b, data, len, resp_room(resp, b));
	if (ret < 0)
		resp->error = ret;
	return ret;
}

static int resp_vprintf(struct fwd_response *resp, struct fwd_buf *b,
			const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int resp_vprintf(struct fwd_response *resp, struct fwd_buf *b,
			const char *fmt, va_list ap)
{
	int ret;

	if (resp->error)
		return resp->error;
	ret = buf_vprintf(b, resp_room(resp, b), fmt, ap);
	if (ret < 0)
		resp->error = ret;
	return ret;
}

int fwd_response_write(struct fwd_response *resp, const void *data, size_t len)
{
	return resp_append(resp, &resp->out, data, len);
}

int fwd_response_ewrite(struct fwd_response *resp, const void *data, size_t len)
{
	return resp_append(resp, &resp->err, data, len);
}

int fwd_response_printf(struct fwd_response *resp, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = resp_vprintf(resp, &resp->out, fmt, ap);
	va_end(ap);
	return ret;
}

int fwd_response_eprintf(struct fwd_response *resp, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = resp_vprintf(resp, &resp->err, fmt, ap);
	va_end(ap);
	return ret;
}

void fwd_response_fail(struct fwd_response *resp, uint8_t status, const char *fmt, ...)
{
	va_list ap;

	fwd_response_free(resp);
	resp->status = status;
	fwd_response_eprintf(resp, "fwd: ");
	va_start(ap, fmt);
	resp_vprintf(resp, &resp->err, fmt, ap);
	va_end(ap);
	fwd_response_eprintf(resp, "\n");
	/*
	 * A failed allocation here leaves a response without text; the exit
	 * code still tells fwctl what happened, so do not mark it failed.
	 */
	resp->error = 0;
}

/* ---- encoding ---- */

static void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint16_t get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * Encoding runs twice over the same fields: once with out == NULL to
 * size the frame, once to write it. One function keeps the two in step.
 */
struct writer {
	uint8_t *out;
	size_t pos;
};

/* One field whose value is the concatenation of up to three pieces. */
static void w_field(struct writer *w, uint16_t tag, const void *a, size_t alen,
		    const void *b, size_t blen, const void *c, size_t clen)
{
	if (w->out) {
		uint8_t *p = w->out + w->pos;

		put_u16(p, tag);
		put_u32(p + 2, (uint32_t)(alen + blen + clen));
		p += FWD_PROTO_FIELD_HDR_LEN;
		if (alen)
			memcpy(p, a, alen);
		if (blen)
			memcpy(p + alen, b, blen);
		if (clen)
			memcpy(p + alen + blen, c, clen);
	}
	w->pos += FWD_PROTO_FIELD_HDR_LEN + alen + blen + clen;
}

static void w_header(uint8_t *out, enum fwd_frame_type type, size_t body)
{
	memcpy(out, FWD_PROTO_MAGIC, 4);
	out[4] = FWD_PROTO_VERSION;
	out[5] = (uint8_t)type;
	put_u16(out + 6, 0);
	put_u32(out + 8, (uint32_t)body);
}

static void request_fields(struct writer *w, const struct fwd_request *req)
{
	uint8_t flags[4];

	put_u32(flags, req->flags);
	if (req->flags)
		w_field(w, FWD_REQ_FLAGS, flags, 4, NULL, 0, NULL, 0);
	for (size_t i = 0; i < req->argc; i++)
		w_field(w, FWD_REQ_ARG, req->argv[i], strlen(req->argv[i]),
			NULL, 0, NULL, 0);
	for (size_t i = 0; i < req->nenv; i++) {
		const struct fwd_env *e = &req->env[i];

		w_field(w, FWD_REQ_ENV, e->name, strlen(e->name), "=", 1,
			e->value, strlen(e->value));
	}
	if (req->has_stdin)
		w_field(w, FWD_REQ_STDIN, req->stdin_data, req->stdin_len, NULL, 0, NULL, 0);
}

static int request_valid(const struct fwd_request *req)
{
	if (req->flags & ~FWD_REQ_F_KNOWN)
		return -EINVAL;
	if (req->argc > FWD_PROTO_MAX_ARGS || req->nenv > FWD_PROTO_MAX_ENV)
		return -E2BIG;
	if (req->has_stdin && req->stdin_len > FWD_PROTO_MAX_STDIN)
		return -EMSGSIZE;
	for (size_t i = 0; i < req->nenv; i++) {
		const char *n = req->env[i].name, *v = req->env[i].value;

		if (!env_name_ok(n, strlen(n)) || strlen(v) > FWD_PROTO_MAX_ENV_VALUE)
			return -EINVAL;
	}
	return 0;
}

int fwd_request_encode(const struct fwd_request *req, uint8_t **buf, size_t *len)
{
	struct writer w = { NULL, 0 };
	uint8_t *out;
	int ret;

	*buf = NULL;
	*len = 0;
	ret = request_valid(req);
	if (ret < 0)
		return ret;
	request_fields(&w, req);
	if (w.pos > FWD_PROTO_MAX_REQUEST)
		return -EMSGSIZE;
	out = malloc(FWD_PROTO_HDR_LEN + w.pos);
	if (!out)
		return -ENOMEM;
	w_header(out, FWD_FRAME_REQUEST, w.pos);
	w.out = out;
	w.pos = FWD_PROTO_HDR_LEN;
	request_fields(&w, req);
	*buf = out;
	*len = w.pos;
	return 0;
}

static void response_fields(struct writer *w, const struct fwd_response *resp)
{
	w_field(w, FWD_RESP_STATUS, &resp->status, 1, NULL, 0, NULL, 0);
	if (resp->out.len)
		w_field(w, FWD_RESP_STDOUT, resp->out.data, resp->out.len, NULL, 0, NULL, 0);
	if (resp->err.len)
		w_field(w, FWD_RESP_STDERR, resp->err.data, resp->err.len, NULL, 0, NULL, 0);
	if (resp->flags) {
		uint8_t flags[4];

		put_u32(flags, resp->flags);
		w_field(w, FWD_RESP_FLAGS, flags, 4, NULL, 0, NULL, 0);
	}
}

int fwd_response_encode(const struct fwd_response *resp, uint8_t **buf, size_t *len)
{
	struct writer w = { NULL, 0 };
	uint8_t *out;

	*buf = NULL;
	*len = 0;
	if (resp->out.len > FWD_PROTO_MAX_RESPONSE || resp->err.len > FWD_PROTO_MAX_RESPONSE)
		return -EMSGSIZE;
	response_fields(&w, resp);
	if (w.pos > FWD_PROTO_MAX_RESPONSE)
		return -EMSGSIZE;
	out = malloc(FWD_PROTO_HDR_LEN + w.pos);
	if (!out)
		return -ENOMEM;
	w_header(out, FWD_FRAME_RESPONSE, w.pos);
	w.out = out;
	w.pos = FWD_PROTO_HDR_LEN;
	response_fields(&w, resp);
	*buf = out;
	*len = w.pos;
	return 0;
}

/* ---- decoding ---- */

static void say(char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (!why || whylen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

static const char *type_name(enum fwd_frame_type type)
{
	return type == FWD_FRAME_REQUEST ? "request" : "response";
}

int fwd_frame_check(const uint8_t *buf, size_t len, enum fwd_frame_type type,
		    size_t *frame_len, char *why, size_t whylen)
{
	size_t limit = type == FWD_FRAME_REQUEST ? FWD_PROTO_MAX_REQUEST
						 : FWD_PROTO_MAX_RESPONSE;
	uint32_t body;

	*frame_len = 0;
	if (len < FWD_PROTO_HDR_LEN) {
		say(why, whylen, "truncated header: %zu of %d bytes", len, FWD_PROTO_HDR_LEN);
		return -EAGAIN;
	}
	if (memcmp(buf, FWD_PROTO_MAGIC, 4) != 0) {
		say(why, whylen, "not an fwd control %s (bad magic)", type_name(type));
		return -EBADMSG;
	}
	if (buf[4] != FWD_PROTO_VERSION) {
		say(why, whylen, "protocol version %u not supported (this side speaks %d;"
		    " are fwd and fwctl from the same release?)", buf[4], FWD_PROTO_VERSION);
		return -EPROTONOSUPPORT;
	}
	if (buf[5] != type) {
		say(why, whylen, "expected a %s, got frame type %u", type_name(type), buf[5]);
		return -EBADMSG;
	}
	if (get_u16(buf + 6) != 0) {
		say(why, whylen, "reserved header bits set");
		return -EBADMSG;
	}
	body = get_u32(buf + 8);
	if (body > limit) {
		say(why, whylen, "%s too large: %u bytes (limit %zu)", type_name(type),
		    body, limit);
		return -EMSGSIZE;
	}
	*frame_len = FWD_PROTO_HDR_LEN + (size_t)body;
	return 0;
}

/*
 * Walks the fields of a checked frame. next() returns 1 with the field in
 * tag/val/vlen, 0 at the clean end of the body, -EBADMSG when a field
 * header or value runs past the end.
 */
struct cursor {
	const uint8_t *p;
	size_t len, pos;
	size_t field_off;		/* offset of the current field, for messages */
};

static int cursor_next(struct cursor *c, uint16_t *tag, const uint8_t **val,
		       size_t *vlen, char *why, size_t whylen)
{
	uint32_t flen;

	if (c->pos == c->len)
		return 0;
	c->field_off = c->pos;
	if (c->len - c->pos < FWD_PROTO_FIELD_HDR_LEN) {
		say(why, whylen, "truncated field header at offset %zu", c->pos);
		return -EBADMSG;
	}
	*tag = get_u16(c->p + c->pos);
	flen = get_u32(c->p + c->pos + 2);
	c->pos += FWD_PROTO_FIELD_HDR_LEN;
	if (flen > c->len - c->pos) {
		say(why, whylen, "field %u at offset %zu: length %u runs past the end"
		    " (%zu bytes left)", *tag, c->field_off, flen, c->len - c->pos);
		return -EBADMSG;
	}
	*val = c->p + c->pos;
	*vlen = flen;
	c->pos += flen;
	return 1;
}

static int frame_body(const uint8_t *buf, size_t len, enum fwd_frame_type type,
		      struct cursor *c, char *why, size_t whylen)
{
	size_t frame_len;
	int ret;

	ret = fwd_frame_check(buf, len, type, &frame_len, why, whylen);
	if (ret == -EAGAIN)
		return -EBADMSG;
	if (ret < 0)
		return ret;
	if (len != frame_len) {
		say(why, whylen, "frame is %zu bytes, header says %zu", len, frame_len);
		return -EBADMSG;
	}
	c->p = buf + FWD_PROTO_HDR_LEN;
	c->len = frame_len - FWD_PROTO_HDR_LEN;
	c->pos = 0;
	c->field_off = 0;
	return 0;
}

static int decode_request_field(struct fwd_request *req, uint16_t tag,
				const uint8_t *val, size_t vlen, bool *seen_flags,
				size_t off, char *why, size_t whylen)
{
	const char *eq;
	int ret;

	switch (tag) {
	case FWD_REQ_FLAGS:
		if (*seen_flags || vlen != 4) {
			say(why, whylen, "field FLAGS at offset %zu: %s", off,
			    *seen_flags ? "repeated" : "length is not 4");
			return -EBADMSG;
		}
		*seen_flags = true;
		req->flags = get_u32(val);
		if (req->flags & ~FWD_REQ_F_KNOWN) {
			say(why, whylen, "unknown request flags 0x%x (fwd is older than fwctl?)",
			    req->flags & ~FWD_REQ_F_KNOWN);
			return -EBADMSG;
		}
		return 0;
	case FWD_REQ_ARG:
		if (memchr(val, '\0', vlen)) {
			say(why, whylen, "field ARG at offset %zu: NUL byte in argument", off);
			return -EBADMSG;
		}
		ret = request_push_arg(req, (const char *)val, vlen);
		if (ret == -E2BIG)
			say(why, whylen, "more than %d arguments", FWD_PROTO_MAX_ARGS);
		return ret == -E2BIG ? -EBADMSG : ret;
	case FWD_REQ_ENV:
		eq = memchr(val, '=', vlen);
		if (!eq) {
			say(why, whylen, "field ENV at offset %zu: no '=' in it", off);
			return -EBADMSG;
		}
		ret = request_push_env(req, (const char *)val, (size_t)(eq - (const char *)val),
				       eq + 1, vlen - (size_t)(eq - (const char *)val) - 1);
		if (ret == -EINVAL)
			say(why, whylen, "field ENV at offset %zu: bad name or value", off);
		else if (ret == -E2BIG)
			say(why, whylen, "more than %d environment values", FWD_PROTO_MAX_ENV);
		return ret == -EINVAL || ret == -E2BIG ? -EBADMSG : ret;
	case FWD_REQ_STDIN:
		if (req->has_stdin) {
			say(why, whylen, "field STDIN at offset %zu: repeated", off);
			return -EBADMSG;
		}
		ret = fwd_request_set_stdin(req, val, vlen);
		if (ret == -EFBIG)
			say(why, whylen, "stdin too large: %zu bytes (limit %u)", vlen,
			    FWD_PROTO_MAX_STDIN);
		return ret == -EFBIG ? -EBADMSG : ret;
	default:
		if (tag & FWD_PROTO_TAG_OPTIONAL)
			return 0;
		say(why, whylen, "unknown field %u at offset %zu (fwd is older than fwctl?)",
		    tag, off);
		return -EBADMSG;
	}
}

int fwd_request_decode(const uint8_t *buf, size_t len, struct fwd_request *req,
		       char *why, size_t whylen)
{
	struct cursor c;
	bool seen_flags = false;
	const uint8_t *val = NULL;
	size_t vlen = 0;
	uint16_t tag = 0;
	int ret;

	fwd_request_init(req);
	ret = frame_body(buf, len, FWD_FRAME_REQUEST, &c, why, whylen);
	if (ret < 0)
		return ret;
	while ((ret = cursor_next(&c, &tag, &val, &vlen, why, whylen)) > 0) {
		ret = decode_request_field(req, tag, val, vlen, &seen_flags,
					   c.field_off, why, whylen);
		if (ret < 0)
			break;
	}
	if (ret == -ENOMEM)
		say(why, whylen, "out of memory");
	if (ret < 0)
		fwd_request_free(req);
	return ret;
}

int fwd_response_decode(const uint8_t *buf, size_t len, struct fwd_response *resp,
			char *why, size_t whylen)
{
	struct cursor c;
	bool seen_status = false, seen_out = false, seen_err = false;
	bool seen_flags = false;
	const uint8_t *val = NULL;
	size_t vlen = 0;
	uint16_t tag = 0;
	int ret;

	fwd_response_init(resp);
	ret = frame_body(buf, len, FWD_FRAME_RESPONSE, &c, why, whylen);
	if (ret < 0)
		return ret;
	while ((ret = cursor_next(&c, &tag, &val, &vlen, why, whylen)) > 0) {
		bool *seen;
		struct fwd_buf *b;

		switch (tag) {
		case FWD_RESP_STATUS:
			if (seen_status || vlen != 1) {
				say(why, whylen, "field STATUS at offset %zu: %s", c.field_off,
				    seen_status ? "repeated" : "length is not 1");
				ret = -EBADMSG;
				goto out;
			}
			seen_status = true;
			resp->status = val[0];
			continue;
		case FWD_RESP_STDOUT:
			seen = &seen_out;
			b = &resp->out;
			break;
		case FWD_RESP_STDERR:
			seen = &seen_err;
			b = &resp->err;
			break;
		case FWD_RESP_FLAGS:
			if (seen_flags || vlen != 4) {
				say(why, whylen, "field FLAGS at offset %zu: %s", c.field_off,
				    seen_flags ? "repeated" : "length is not 4");
				ret = -EBADMSG;
				goto out;
			}
			seen_flags = true;
			/* Bits this fwctl does not know ask nothing of it. */
			resp->flags = get_u32(val);
			continue;
		default:
			if (tag & FWD_PROTO_TAG_OPTIONAL)
				continue;
			say(why, whylen, "unknown field %u at offset %zu", tag, c.field_off);
			ret = -EBADMSG;
			goto out;
		}
		if (*seen) {
			say(why, whylen, "field %u at offset %zu: repeated", tag, c.field_off);
			ret = -EBADMSG;
			goto out;
		}
		*seen = true;
		/* The frame check bounded vlen already. */
		ret = buf_append(b, val, vlen, FWD_PROTO_MAX_RESPONSE);
		if (ret < 0) {
			say(why, whylen, "out of memory");
			goto out;
		}
	}
	if (ret == 0 && !seen_status) {
		say(why, whylen, "response without a status");
		ret = -EBADMSG;
	}
out:
	if (ret < 0)
		fwd_response_free(resp);
	return ret;
}
