// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The control protocol codec: round trips of everything a request and a
 * response can hold, up to the limits, and every way a frame can be
 * broken (each truncation, each corrupted length, wrong magic, version,
 * type) rejected with a reason and nothing leaked or half-filled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmdtab.h"
#include "proto.h"
#include "testutil.h"

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Builds a raw frame from a body, for frames the encoder would never make. */
static uint8_t *raw_frame(uint8_t type, const void *body, size_t blen, size_t *len)
{
	uint8_t *f = malloc(FWD_PROTO_HDR_LEN + blen + 1);

	ck_assert_ptr_nonnull(f);
	memcpy(f, FWD_PROTO_MAGIC, 4);
	f[4] = FWD_PROTO_VERSION;
	f[5] = type;
	f[6] = f[7] = 0;
	put32(f + 8, (uint32_t)blen);
	if (blen)
		memcpy(f + FWD_PROTO_HDR_LEN, body, blen);
	*len = FWD_PROTO_HDR_LEN + blen;
	return f;
}

/* Appends one field to a body under construction. */
static size_t field(uint8_t *body, size_t pos, uint16_t tag, const void *v, size_t vlen)
{
	body[pos] = (uint8_t)(tag >> 8);
	body[pos + 1] = (uint8_t)tag;
	put32(body + pos + 2, (uint32_t)vlen);
	if (vlen)
		memcpy(body + pos + 6, v, vlen);
	return pos + 6 + vlen;
}

static void assert_req_eq(const struct fwd_request *a, const struct fwd_request *b)
{
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->argc, b->argc);
	for (size_t i = 0; i < a->argc; i++)
		ck_assert_str_eq(a->argv[i], b->argv[i]);
	ck_assert_ptr_null(b->argv ? b->argv[b->argc] : NULL);
	ck_assert_uint_eq(a->nenv, b->nenv);
	for (size_t i = 0; i < a->nenv; i++) {
		ck_assert_str_eq(a->env[i].name, b->env[i].name);
		ck_assert_str_eq(a->env[i].value, b->env[i].value);
	}
	ck_assert_int_eq(a->has_stdin, b->has_stdin);
	ck_assert_uint_eq(a->stdin_len, b->stdin_len);
	if (a->stdin_len)
		ck_assert(memcmp(a->stdin_data, b->stdin_data, a->stdin_len) == 0);
}

/* encode -> decode -> equal -> encode again -> same bytes. */
static void req_round_trip(const struct fwd_request *req)
{
	struct fwd_request back;
	uint8_t *buf, *buf2;
	size_t len, len2;
	char why[256] = "";

	ck_assert_int_eq(fwd_request_encode(req, &buf, &len), 0);
	ck_assert_int_eq(fwd_request_decode(buf, len, &back, why, sizeof(why)), 0);
	assert_req_eq(req, &back);
	ck_assert_int_eq(fwd_request_encode(&back, &buf2, &len2), 0);
	ck_assert_uint_eq(len, len2);
	ck_assert(memcmp(buf, buf2, len) == 0);
	fwd_request_free(&back);
	free(buf);
	free(buf2);
}

static void assert_req_empty(const struct fwd_request *r)
{
	ck_assert_uint_eq(r->argc, 0);
	ck_assert_ptr_null(r->argv);
	ck_assert_uint_eq(r->nenv, 0);
	ck_assert_ptr_null(r->env);
	ck_assert(!r->has_stdin);
	ck_assert_ptr_null(r->stdin_data);
}

/* Decoding must fail with ret and leave the request empty. */
static void req_rejects(const uint8_t *buf, size_t len, int ret, const char *why_has)
{
	struct fwd_request r;
	char why[256] = "";

	ck_assert_int_eq(fwd_request_decode(buf, len, &r, why, sizeof(why)), ret);
	assert_req_empty(&r);
	ck_assert_msg(why[0], "no reason given");
	if (why_has)
		ck_assert_msg(strstr(why, why_has), "reason '%s' lacks '%s'", why, why_has);
}

START_TEST(req_empty)
{
	struct fwd_request req;
	uint8_t *buf;
	size_t len;

	fwd_request_init(&req);
	req_round_trip(&req);
	/* An empty request is just the header. */
	ck_assert_int_eq(fwd_request_encode(&req, &buf, &len), 0);
	ck_assert_uint_eq(len, FWD_PROTO_HDR_LEN);
	ck_assert(memcmp(buf, "FWDC\x01\x01\0\0\0\0\0\0", 12) == 0);
	free(buf);
	fwd_request_free(&req);
	fwd_request_free(NULL);
}
END_TEST

START_TEST(req_typical)
{
	char *argv[] = { "--json", "allow", "22/tcp", "from", "192.0.2.0/24", "" };
	struct fwd_request req;

	fwd_request_init(&req);
	req.flags = FWD_REQ_F_JSON | FWD_REQ_F_FORCE | FWD_REQ_F_TTY;
	ck_assert_int_eq(fwd_request_add_args(&req, 6, argv), 0);
	ck_assert_int_eq(fwd_request_add_env(&req, "SSH_CONNECTION",
					     "198.51.100.7 51234 192.0.2.1 22"), 0);
	ck_assert_int_eq(fwd_request_add_env(&req, "EMPTY", ""), 0);
	ck_assert_int_eq(fwd_request_set_stdin(&req, "", 0), 0);
	req_round_trip(&req);
	ck_assert_str_eq(fwd_request_getenv(&req, "EMPTY"), "");
	ck_assert_ptr_null(fwd_request_getenv(&req, "SSH_CLIENT"));
	ck_assert_int_eq(fwd_request_add_env(&req, "EMPTY", "again"), 0);
	ck_assert_str_eq(fwd_request_getenv(&req, "EMPTY"), "again");
	fwd_request_free(&req);
}
END_TEST

START_TEST(req_binary_and_many)
{
	struct fwd_request req;
	char arg[256];
	uint8_t blob[1024];

	fwd_request_init(&req);
	/* Every byte but NUL in an argument; UTF-8; empty arguments. */
	for (int i = 1; i < 256; i++)
		arg[i - 1] = (char)i;
	arg[255] = '\0';
	ck_assert_int_eq(fwd_request_add_arg(&req, arg), 0);
	ck_assert_int_eq(fwd_request_add_arg(&req, "h\xc3\xa9t\xc3\xa9rog\xc3\xa8ne"), 0);
	for (int i = 0; i < 5000; i++) {
		char a[32];

		if (i % 7)
			snprintf(a, sizeof(a), "10.%d.%d.0/24", i / 256, i % 256);
		else
			a[0] = '\0';
		ck_assert_int_eq(fwd_request_add_arg(&req, a), 0);
	}
	for (size_t i = 0; i < sizeof(blob); i++)
		blob[i] = (uint8_t)(i * 7);		/* NULs included */
	ck_assert_int_eq(fwd_request_set_stdin(&req, blob, sizeof(blob)), 0);
	ck_assert_uint_eq(req.stdin_data[req.stdin_len], 0);
	req_round_trip(&req);
	fwd_request_free(&req);
}
END_TEST

START_TEST(req_max_sizes)
{
	struct fwd_request req;
	uint8_t *big = malloc(FWD_PROTO_MAX_STDIN + 1), *buf;
	char name[FWD_PROTO_MAX_ENV_NAME + 2], value[FWD_PROTO_MAX_ENV_VALUE + 2];
	size_t len;

	ck_assert_ptr_nonnull(big);
	for (size_t i = 0; i <= FWD_PROTO_MAX_STDIN; i++)
		big[i] = (uint8_t)(i ^ (i >> 9));
	fwd_request_init(&req);
	ck_assert_int_eq(fwd_request_set_stdin(&req, big, FWD_PROTO_MAX_STDIN + 1), -EFBIG);
	ck_assert(!req.has_stdin);
	ck_assert_int_eq(fwd_request_set_stdin(&req, big, FWD_PROTO_MAX_STDIN), 0);

	/* The most environment values, the longest name and value. */
	memset(name, 'N', sizeof(name));
	name[FWD_PROTO_MAX_ENV_NAME] = '\0';
	memset(value, 'v', sizeof(value));
	value[FWD_PROTO_MAX_ENV_VALUE] = '\0';
	for (int i = 0; i < FWD_PROTO_MAX_ENV; i++)
		ck_assert_int_eq(fwd_request_add_env(&req, name, value), 0);
	ck_assert_int_eq(fwd_request_add_env(&req, "X", "y"), -E2BIG);
	req_round_trip(&req);

	/* The most arguments. */
	for (int i = 0; i < FWD_PROTO_MAX_ARGS; i++)
		ck_assert_int_eq(fwd_request_add_arg(&req, "a"), 0);
	ck_assert_int_eq(fwd_request_add_arg(&req, "a"), -E2BIG);
	req_round_trip(&req);
	fwd_request_free(&req);

	/* Past the frame limit with arguments on top of a full stdin. */
	fwd_request_init(&req);
	ck_assert_int_eq(fwd_request_set_stdin(&req, big, FWD_PROTO_MAX_STDIN), 0);
	memset(big, 'x', 65536);
	big[65536] = '\0';
	for (int i = 0; i < 17; i++)
		ck_assert_int_eq(fwd_request_add_arg(&req, (char *)big), 0);
	ck_assert_int_eq(fwd_request_encode(&req, &buf, &len), -EMSGSIZE);
	ck_assert_ptr_null(buf);
	fwd_request_free(&req);
	free(big);
}
END_TEST

START_TEST(req_bad_builders)
{
	struct fwd_request req;
	char longname[FWD_PROTO_MAX_ENV_NAME + 2];
	uint8_t *buf;
	size_t len;

	fwd_request_init(&req);
	ck_assert_int_eq(fwd_request_add_env(&req, "", "x"), -EINVAL);
	ck_assert_int_eq(fwd_request_add_env(&req, "A=B", "x"), -EINVAL);
	ck_assert_int_eq(fwd_request_add_env(&req, "A B", "x"), -EINVAL);
	memset(longname, 'N', sizeof(longname));
	longname[FWD_PROTO_MAX_ENV_NAME + 1] = '\0';
	ck_assert_int_eq(fwd_request_add_env(&req, longname, "x"), -EINVAL);
	ck_assert_uint_eq(req.nenv, 0);
	req.flags = 1u << 31;
	ck_assert_int_eq(fwd_request_encode(&req, &buf, &len), -EINVAL);
	fwd_request_free(&req);
}
END_TEST

/* A frame with one of every request field, for the breaking tests. */
static uint8_t *sample_request(size_t *len, size_t *bounds, size_t *nbounds)
{
	struct fwd_request req;
	uint8_t *buf;
	size_t pos;

	fwd_request_init(&req);
	req.flags = FWD_REQ_F_JSON;
	ck_assert_int_eq(fwd_request_add_arg(&req, "list"), 0);
	ck_assert_int_eq(fwd_request_add_arg(&req, "add"), 0);
	ck_assert_int_eq(fwd_request_add_arg(&req, ""), 0);
	ck_assert_int_eq(fwd_request_add_env(&req, "SSH_CONNECTION", "a b c d"), 0);
	ck_assert_int_eq(fwd_request_set_stdin(&req, "192.0.2.1\n\0\xff", 12), 0);
	ck_assert_int_eq(fwd_request_encode(&req, &buf, len), 0);
	fwd_request_free(&req);
	/* Field boundaries, walked from the bytes. */
	*nbounds = 0;
	for (pos = FWD_PROTO_HDR_LEN; pos < *len;) {
		uint32_t flen = (uint32_t)buf[pos + 2] << 24 | (uint32_t)buf[pos + 3] << 16 |
				(uint32_t)buf[pos + 4] << 8 | buf[pos + 5];

		bounds[(*nbounds)++] = pos;
		pos += 6 + flen;
	}
	ck_assert_uint_eq(pos, *len);
	bounds[(*nbounds)++] = pos;
	return buf;
}

START_TEST(req_every_truncation)
{
	size_t len, bounds[16], nb;
	uint8_t *buf = sample_request(&len, bounds, &nb);

	ck_assert_uint_eq(nb, 7);	/* FLAGS, 3 ARG, ENV, STDIN, end */
	for (size_t cut = 0; cut < len; cut++) {
		uint8_t *copy = malloc(cut ? cut : 1);

		memcpy(copy, buf, cut);
		/* As received: the header promises more than there is. */
		req_rejects(copy, cut, -EBADMSG, NULL);
		free(copy);
	}
	/*
	 * Self-consistent truncations: the header length patched to the cut.
	 * A cut on a field boundary is a valid shorter request; any other
	 * cut leaves a field header or value short and must be refused.
	 */
	for (size_t cut = FWD_PROTO_HDR_LEN; cut < len; cut++) {
		uint8_t *copy = malloc(cut);
		bool boundary = false;
		struct fwd_request r;

		memcpy(copy, buf, cut);
		put32(copy + 8, (uint32_t)(cut - FWD_PROTO_HDR_LEN));
		for (size_t i = 0; i < nb; i++)
			boundary |= bounds[i] == cut;
		if (boundary) {
			ck_assert_int_eq(fwd_request_decode(copy, cut, &r, NULL, 0), 0);
			fwd_request_free(&r);
		} else {
			req_rejects(copy, cut, -EBADMSG, "offset");
		}
		free(copy);
	}
	free(buf);
}
END_TEST

START_TEST(req_corrupt_lengths)
{
	size_t len, bounds[16], nb;
	uint8_t *buf = sample_request(&len, bounds, &nb), *copy = malloc(len + 8);

	/* Every field length set to every interesting wrong value. */
	static const uint32_t bad[] = { 0xffffffffu, 0x80000000u, 0x7fffffffu, 0x01000000u };
	for (size_t i = 0; i + 1 < nb; i++) {
		for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
			memcpy(copy, buf, len);
			put32(copy + bounds[i] + 2, bad[k]);
			req_rejects(copy, len, -EBADMSG, "runs past the end");
		}
		/* One more than the value has. */
		memcpy(copy, buf, len);
		put32(copy + bounds[i] + 2, (uint32_t)(bounds[i + 1] - bounds[i] - 6 + 1));
		req_rejects(copy, len, -EBADMSG, NULL);
	}
	/* Header length: longer or shorter than the bytes, or trailing garbage. */
	memcpy(copy, buf, len);
	put32(copy + 8, (uint32_t)(len - FWD_PROTO_HDR_LEN + 1));
	req_rejects(copy, len, -EBADMSG, "header says");
	put32(copy + 8, (uint32_t)(len - FWD_PROTO_HDR_LEN - 1));
	req_rejects(copy, len, -EBADMSG, "header says");
	memcpy(copy, buf, len);
	memset(copy + len, 0, 8);
	req_rejects(copy, len + 8, -EBADMSG, "header says");
	put32(copy + 8, (uint32_t)(len + 8 - FWD_PROTO_HDR_LEN));
	req_rejects(copy, len + 8, -EBADMSG, NULL);
	free(copy);
	free(buf);
}
END_TEST

START_TEST(req_bad_header)
{
	size_t len, bounds[16], nb, flen;
	uint8_t *buf = sample_request(&len, bounds, &nb), *copy = malloc(len);
	char why[256];

	memcpy(copy, buf, len);
	copy[0] = 'G';
	req_rejects(copy, len, -EBADMSG, "magic");
	memcpy(copy, "GET / HTTP/1.0\r\n", 12);
	req_rejects(copy, len, -EBADMSG, "magic");
	memcpy(copy, buf, len);
	copy[4] = 2;
	req_rejects(copy, len, -EPROTONOSUPPORT, "version 2");
	copy[4] = 0;
	req_rejects(copy, len, -EPROTONOSUPPORT, "version 0");
	memcpy(copy, buf, len);
	copy[5] = FWD_FRAME_RESPONSE;
	req_rejects(copy, len, -EBADMSG, "frame type");
	copy[5] = 0;
	req_rejects(copy, len, -EBADMSG, "frame type");
	memcpy(copy, buf, len);
	copy[7] = 1;
	req_rejects(copy, len, -EBADMSG, "reserved");

	/* The header check alone, as a stream reader uses it. */
	for (size_t n = 0; n < FWD_PROTO_HDR_LEN; n++)
		ck_assert_int_eq(fwd_frame_check(buf, n, FWD_FRAME_REQUEST, &flen, NULL, 0),
				 -EAGAIN);
	ck_assert_int_eq(fwd_frame_check(buf, FWD_PROTO_HDR_LEN, FWD_FRAME_REQUEST, &flen,
					 NULL, 0), 0);
	ck_assert_uint_eq(flen, len);
	memcpy(copy, buf, len);
	put32(copy + 8, FWD_PROTO_MAX_REQUEST);
	ck_assert_int_eq(fwd_frame_check(copy, FWD_PROTO_HDR_LEN, FWD_FRAME_REQUEST, &flen,
					 NULL, 0), 0);
	put32(copy + 8, FWD_PROTO_MAX_REQUEST + 1);
	ck_assert_int_eq(fwd_frame_check(copy, FWD_PROTO_HDR_LEN, FWD_FRAME_REQUEST, &flen,
					 why, sizeof(why)), -EMSGSIZE);
	ck_assert_ptr_nonnull(strstr(why, "too large"));
	put32(copy + 8, 0xffffffffu);
	ck_assert_int_eq(fwd_frame_check(copy, FWD_PROTO_HDR_LEN, FWD_FRAME_REQUEST, &flen,
					 NULL, 0), -EMSGSIZE);
	req_rejects(copy, len, -EMSGSIZE, "too large");
	/* The response limit is larger; the same header passes as a response. */
	copy[5] = FWD_FRAME_RESPONSE;
	put32(copy + 8, FWD_PROTO_MAX_REQUEST + 1);
	ck_assert_int_eq(fwd_frame_check(copy, FWD_PROTO_HDR_LEN, FWD_FRAME_RESPONSE, &flen,
					 NULL, 0), 0);
	free(copy);
	free(buf);
}
END_TEST

START_TEST(req_bad_fields)
{
	uint8_t body[512], *f;
	uint8_t four[4] = { 0, 0, 0, 1 };
	size_t p, len;
	struct fwd_request r;

	/* FLAGS: wrong length, repeated, unknown bits. */
	p = field(body, 0, FWD_REQ_FLAGS, four, 3);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "FLAGS");
	free(f);
	p = field(body, 0, FWD_REQ_FLAGS, four, 4);
	p = field(body, p, FWD_REQ_FLAGS, four, 4);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "repeated");
	free(f);
	four[0] = 0x80;
	p = field(body, 0, FWD_REQ_FLAGS, four, 4);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "unknown request flags");
	free(f);
	/* ARG with a NUL. */
	p = field(body, 0, FWD_REQ_ARG, "ab\0c", 4);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "NUL");
	free(f);
	/* ENV: no '=', empty name, bad name, NUL in value, value too long. */
	static const char *const envs[] = { "NOEQUALS", "=x", "A-B=x", "A=b\0c" };
	static const size_t envlen[] = { 8, 2, 5, 5 };
	for (size_t i = 0; i < 4; i++) {
		p = field(body, 0, FWD_REQ_ENV, envs[i], envlen[i]);
		f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
		req_rejects(f, len, -EBADMSG, "ENV");
		free(f);
	}
	{
		size_t vl = FWD_PROTO_MAX_ENV_VALUE + 3;
		char *v = malloc(vl);
		uint8_t *big = malloc(vl + 6);

		memset(v, 'v', vl);
		memcpy(v, "A=", 2);
		p = field(big, 0, FWD_REQ_ENV, v, vl);
		f = raw_frame(FWD_FRAME_REQUEST, big, p, &len);
		req_rejects(f, len, -EBADMSG, "ENV");
		free(f);
		free(v);
		free(big);
	}
	/* Too many ENV. */
	p = 0;
	for (int i = 0; i <= FWD_PROTO_MAX_ENV; i++)
		p = field(body, p, FWD_REQ_ENV, "A=b", 3);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "environment");
	free(f);
	/* STDIN twice. */
	p = field(body, 0, FWD_REQ_STDIN, "x", 1);
	p = field(body, p, FWD_REQ_STDIN, "", 0);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "STDIN");
	free(f);
	/* An unknown mandatory field is refused, an unknown optional one skipped. */
	p = field(body, 0, 77, "x", 1);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "unknown field 77");
	free(f);
	p = field(body, 0, FWD_REQ_ARG, "status", 6);
	p = field(body, p, FWD_PROTO_TAG_OPTIONAL | 77, "whatever", 8);
	p = field(body, p, FWD_REQ_ARG, "--json", 6);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	ck_assert_int_eq(fwd_request_decode(f, len, &r, NULL, 0), 0);
	ck_assert_uint_eq(r.argc, 2);
	ck_assert_str_eq(r.argv[1], "--json");
	fwd_request_free(&r);
	free(f);
	/* Empty stdin is present, not absent. */
	p = field(body, 0, FWD_REQ_STDIN, "", 0);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	ck_assert_int_eq(fwd_request_decode(f, len, &r, NULL, 0), 0);
	ck_assert(r.has_stdin);
	ck_assert_uint_eq(r.stdin_len, 0);
	fwd_request_free(&r);
	free(f);
}
END_TEST

START_TEST(req_too_many_args_on_wire)
{
	size_t n = FWD_PROTO_MAX_ARGS + 1, len;
	uint8_t *body = malloc(n * 6), *f;
	size_t p = 0;

	for (size_t i = 0; i < n; i++)
		p = field(body, p, FWD_REQ_ARG, NULL, 0);
	f = raw_frame(FWD_FRAME_REQUEST, body, p, &len);
	req_rejects(f, len, -EBADMSG, "arguments");
	free(f);
	free(body);
}
END_TEST

/* ---- responses ---- */

static void resp_round_trip(const struct fwd_response *resp)
{
	struct fwd_response back;
	uint8_t *buf;
	size_t len;
	char why[256] = "";

	ck_assert_int_eq(fwd_response_encode(resp, &buf, &len), 0);
	ck_assert_int_eq(fwd_response_decode(buf, len, &back, why, sizeof(why)), 0);
	ck_assert_uint_eq(back.status, resp->status);
	ck_assert_uint_eq(back.out.len, resp->out.len);
	ck_assert_uint_eq(back.err.len, resp->err.len);
	ck_assert_uint_eq(back.flags, resp->flags);
	if (resp->out.len)
		ck_assert(memcmp(back.out.data, resp->out.data, resp->out.len) == 0);
	if (resp->err.len)
		ck_assert(memcmp(back.err.data, resp->err.data, resp->err.len) == 0);
	fwd_response_free(&back);
	free(buf);
}

START_TEST(resp_round_trips)
{
	struct fwd_response r;
	char bin[300];

	fwd_response_init(&r);
	resp_round_trip(&r);
	for (int st = 0; st < 256; st += 51) {
		r.status = (uint8_t)st;
		resp_round_trip(&r);
	}
	r.status = FWD_EXIT_FAIL;
	ck_assert_int_eq(fwd_response_printf(&r, "%s %d\n", "generation", 42), 0);
	ck_assert_int_eq(fwd_response_eprintf(&r, "warning: %s\n", "x"), 0);
	for (size_t i = 0; i < sizeof(bin); i++)
		bin[i] = (char)i;
	ck_assert_int_eq(fwd_response_write(&r, bin, sizeof(bin)), 0);
	ck_assert_int_eq(fwd_response_ewrite(&r, bin, sizeof(bin)), 0);
	ck_assert_uint_eq(r.out.len, 14 + sizeof(bin));
	ck_assert_str_eq(r.out.data, "generation 42\n");	/* NUL from bin[0] */
	resp_round_trip(&r);
	fwd_response_clear(&r);
	ck_assert_uint_eq(r.status, FWD_EXIT_FAIL);
	ck_assert_uint_eq(r.out.len, 0);
	fwd_response_fail(&r, FWD_EXIT_PROTO, "bad request: %s", "why");
	ck_assert_uint_eq(r.status, FWD_EXIT_PROTO);
	ck_assert_str_eq(r.err.data, "fwd: bad request: why\n");
	resp_round_trip(&r);
	/* A broad edit refused for want of --yes: the flag travels. */
	r.flags = FWD_RESP_F_CONFIRM;
	resp_round_trip(&r);
	fwd_response_free(&r);
	fwd_response_free(NULL);
}
END_TEST

/* FLAGS is optional: a decoder that does not know it (an older fwctl) skips
 * it; this one takes it once, 4 bytes, and refuses it twice or mis-sized. */
START_TEST(resp_flags)
{
	uint8_t body[64], *f;
	size_t p, len;
	struct fwd_response r;

	ck_assert_uint_eq(FWD_RESP_FLAGS & FWD_PROTO_TAG_OPTIONAL, FWD_PROTO_TAG_OPTIONAL);
	p = field(body, 0, FWD_RESP_STATUS, "\1", 1);
	p = field(body, p, FWD_RESP_FLAGS, "\0\0\0\1", 4);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), 0);
	ck_assert_uint_eq(r.flags, FWD_RESP_F_CONFIRM);
	ck_assert_uint_eq(r.status, 1);
	fwd_response_free(&r);
	free(f);
	p = field(body, 0, FWD_RESP_STATUS, "\1", 1);
	p = field(body, p, FWD_RESP_FLAGS, "\0\0\1", 3);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);
	p = field(body, 0, FWD_RESP_STATUS, "\1", 1);
	p = field(body, p, FWD_RESP_FLAGS, "\0\0\0\1", 4);
	p = field(body, p, FWD_RESP_FLAGS, "\0\0\0\1", 4);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);
	/* without it: 0 */
	p = field(body, 0, FWD_RESP_STATUS, "\1", 1);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), 0);
	ck_assert_uint_eq(r.flags, 0);
	fwd_response_free(&r);
	free(f);
}
END_TEST

START_TEST(resp_limit)
{
	struct fwd_response r;
	size_t half = FWD_PROTO_MAX_RESPONSE / 2;
	char *big = calloc(1, half + 1);

	ck_assert_ptr_nonnull(big);
	fwd_response_init(&r);
	ck_assert_int_eq(fwd_response_write(&r, big, half), 0);
	ck_assert_int_eq(fwd_response_ewrite(&r, big, half - 1024), 0);
	/* Together past the limit: refused, and sticky. */
	ck_assert_int_eq(fwd_response_ewrite(&r, big, 2048), -EMSGSIZE);
	ck_assert_int_eq(r.error, -EMSGSIZE);
	ck_assert_int_eq(fwd_response_printf(&r, "x"), -EMSGSIZE);
	r.error = 0;
	/* What was accepted fits in a frame. */
	{
		uint8_t *buf;
		size_t len;

		ck_assert_int_eq(fwd_response_encode(&r, &buf, &len), 0);
		ck_assert_uint_le(len, FWD_PROTO_HDR_LEN + FWD_PROTO_MAX_RESPONSE);
		free(buf);
	}
	fwd_response_free(&r);
	free(big);
}
END_TEST

START_TEST(resp_broken)
{
	uint8_t body[64], *f, *good;
	size_t p, len, glen;
	struct fwd_response r, src;
	char why[256];

	/* No status. */
	p = field(body, 0, FWD_RESP_STDOUT, "x", 1);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, why, sizeof(why)), -EBADMSG);
	ck_assert_ptr_nonnull(strstr(why, "without a status"));
	ck_assert_ptr_null(r.out.data);
	free(f);
	/* Status of two bytes; twice; stdout twice; unknown mandatory field. */
	p = field(body, 0, FWD_RESP_STATUS, "\0\0", 2);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);
	p = field(body, 0, FWD_RESP_STATUS, "\0", 1);
	p = field(body, p, FWD_RESP_STATUS, "\0", 1);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);
	p = field(body, 0, FWD_RESP_STATUS, "\0", 1);
	p = field(body, p, FWD_RESP_STDOUT, "a", 1);
	p = field(body, p, FWD_RESP_STDOUT, "b", 1);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	ck_assert_ptr_null(r.out.data);
	free(f);
	p = field(body, 0, FWD_RESP_STATUS, "\0", 1);
	p = field(body, p, 9, "a", 1);
	f = raw_frame(FWD_FRAME_RESPONSE, body, p, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);
	/* A request is not a response. */
	f = raw_frame(FWD_FRAME_REQUEST, NULL, 0, &len);
	ck_assert_int_eq(fwd_response_decode(f, len, &r, NULL, 0), -EBADMSG);
	free(f);

	/* Every truncation of a real response. */
	fwd_response_init(&src);
	src.status = 3;
	fwd_response_printf(&src, "out");
	fwd_response_eprintf(&src, "err");
	ck_assert_int_eq(fwd_response_encode(&src, &good, &glen), 0);
	for (size_t cut = 0; cut < glen; cut++) {
		ck_assert_int_eq(fwd_response_decode(good, cut, &r, why, sizeof(why)), -EBADMSG);
		ck_assert_ptr_null(r.out.data);
		ck_assert_ptr_null(r.err.data);
	}
	ck_assert_int_eq(fwd_response_decode(good, glen, &r, NULL, 0), 0);
	ck_assert_uint_eq(r.status, 3);
	ck_assert_str_eq(r.out.data, "out");
	ck_assert_str_eq(r.err.data, "err");
	fwd_response_free(&r);
	fwd_response_free(&src);
	free(good);
}
END_TEST

START_TEST(socket_path_choice)
{
	unsetenv(FWD_CTL_PATH_ENV);
	ck_assert_str_eq(fwd_ctl_socket_path(NULL), FWD_CTL_DEFAULT_PATH);
	ck_assert_str_eq(fwd_ctl_socket_path(""), FWD_CTL_DEFAULT_PATH);
	setenv(FWD_CTL_PATH_ENV, "/tmp/x.sock", 1);
	ck_assert_str_eq(fwd_ctl_socket_path(NULL), "/tmp/x.sock");
	ck_assert_str_eq(fwd_ctl_socket_path("/run/a.sock"), "/run/a.sock");
	setenv(FWD_CTL_PATH_ENV, "", 1);
	ck_assert_str_eq(fwd_ctl_socket_path(NULL), FWD_CTL_DEFAULT_PATH);
	unsetenv(FWD_CTL_PATH_ENV);
}
END_TEST

/* The command table lookup (fwctl and fwd both use it): a long word after
 * a one-word name must still find that name, so that its own usage error
 * comes back instead of "unknown command" (a 64-byte name buffer once
 * failed the whole lookup when the two-word try did not fit). */
START_TEST(cmd_lookup)
{
	char long_word[300];
	const struct fwd_cmdinfo *ci;
	int words = 0;

	for (size_t len = 1; len < sizeof(long_word); len += 7) {
		memset(long_word, 'a', len);
		long_word[len] = '\0';
		{
			char *argv[] = { "allow", long_word, NULL };

			ci = fwd_cmd_find(2, argv, &words);
			ck_assert_msg(ci && !strcmp(ci->name, "allow") && words == 1,
				      "allow + %zu-byte word: %s", len, ci ? ci->name : "none");
		}
		{
			char *argv[] = { "status", long_word, NULL };

			ci = fwd_cmd_find(2, argv, &words);
			ck_assert_msg(ci && !strcmp(ci->name, "status") && words == 1,
				      "status + %zu-byte word: %s", len, ci ? ci->name : "none");
		}
		{
			char *argv[] = { "list", "add", long_word, NULL };

			ci = fwd_cmd_find(3, argv, &words);
			ck_assert(ci && !strcmp(ci->name, "list add") && words == 2);
		}
		{
			char *argv[] = { "list", long_word, NULL };

			ck_assert_ptr_null(fwd_cmd_find(2, argv, &words));
		}
	}
	{
		char *argv[] = { "list", "show", NULL };

		ci = fwd_cmd_find(2, argv, &words);
		ck_assert(ci && !strcmp(ci->name, "list show") && words == 2);
	}
	{
		/* Prefixes and run-together words are not names. */
		char *a1[] = { "lis", NULL }, *a2[] = { "list", "ad", NULL };
		char *a3[] = { "statusx", NULL }, *a4[] = { "list add", NULL };

		ck_assert_ptr_null(fwd_cmd_find(1, a1, &words));
		ck_assert_ptr_null(fwd_cmd_find(2, a2, &words));
		ck_assert_ptr_null(fwd_cmd_find(1, a3, &words));
		ci = fwd_cmd_find(1, a4, &words);
		ck_assert(ci && !strcmp(ci->name, "list add") && words == 1);
	}
}
END_TEST

/* How many words a command takes, read from its usage line. */
START_TEST(cmd_max_words)
{
	static const struct {
		const char *name;
		int max;
	} want[] = {
		{ "status", 0 }, { "show", 0 }, { "reload", 0 }, { "disable", 0 },
		{ "confirm", 0 }, { "list blocked", 0 }, { "list show", 1 },
		{ "allow", -1 }, { "list add", -1 }, { "explain", -1 },
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct fwd_cmdinfo *ci = NULL;

		for (unsigned k = 0; k < fwd_ncmdtab; k++)
			if (!strcmp(fwd_cmdtab[k].name, want[i].name))
				ci = &fwd_cmdtab[k];
		ck_assert_msg(ci != NULL, "no command %s", want[i].name);
		ck_assert_msg(fwd_cmd_max_words(ci) == want[i].max, "%s: %d, want %d",
			      want[i].name, fwd_cmd_max_words(ci), want[i].max);
	}
}
END_TEST

static Suite *proto_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("request");

	/* The limit tests move tens of MiB: give them time on a loaded machine. */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, req_empty);
	tcase_add_test(tc, req_typical);
	tcase_add_test(tc, req_binary_and_many);
	tcase_add_test(tc, req_max_sizes);
	tcase_add_test(tc, req_bad_builders);
	tcase_add_test(tc, req_every_truncation);
	tcase_add_test(tc, req_corrupt_lengths);
	tcase_add_test(tc, req_bad_header);
	tcase_add_test(tc, req_bad_fields);
	tcase_add_test(tc, req_too_many_args_on_wire);
	suite_add_tcase(s, tc);
	tc = tcase_create("response");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, resp_round_trips);
	tcase_add_test(tc, resp_limit);
	tcase_add_test(tc, resp_broken);
	tcase_add_test(tc, resp_flags);
	tcase_add_test(tc, socket_path_choice);
	suite_add_tcase(s, tc);
	tc = tcase_create("commands");
	tcase_add_test(tc, cmd_lookup);
	tcase_add_test(tc, cmd_max_words);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(proto_suite());
}
