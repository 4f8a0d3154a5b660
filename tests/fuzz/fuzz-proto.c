// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer target for the control protocol decoder: the bytes any local
 * user can write to fwd's socket. Beyond "no crash, no leak, no UB under
 * ASan/UBSan", it checks what the server relies on:
 *
 *  - a decode either fails with a reason and an empty request, or
 *    succeeds with one that respects every limit (argument count, NUL-free
 *    NUL-terminated strings, valid environment names, known flags, stdin
 *    size);
 *  - what decodes re-encodes, and the re-encoding decodes to the same
 *    request and encodes to the same bytes (a fixed point after one step:
 *    the first step may drop unknown optional fields and reorder);
 *  - the header check agrees with the decoder about the frame length;
 *  - the same bytes read as a response obey the same rules.
 */
#include "proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz-proto: invariant broken: %s\n", what);
		abort();
	}
}

static int req_equal(const struct fwd_request *a, const struct fwd_request *b)
{
	if (a->flags != b->flags || a->argc != b->argc || a->nenv != b->nenv ||
	    a->has_stdin != b->has_stdin || a->stdin_len != b->stdin_len)
		return 0;
	for (size_t i = 0; i < a->argc; i++)
		if (strcmp(a->argv[i], b->argv[i]) != 0)
			return 0;
	for (size_t i = 0; i < a->nenv; i++)
		if (strcmp(a->env[i].name, b->env[i].name) != 0 ||
		    strcmp(a->env[i].value, b->env[i].value) != 0)
			return 0;
	return !a->stdin_len || memcmp(a->stdin_data, b->stdin_data, a->stdin_len) == 0;
}

static void check_request(const struct fwd_request *r)
{
	check((r->flags & ~FWD_REQ_F_KNOWN) == 0, "unknown flags accepted");
	check(r->argc <= FWD_PROTO_MAX_ARGS, "too many arguments");
	check(r->argc == 0 || r->argv[r->argc] == NULL, "argv not NULL-terminated");
	check(r->nenv <= FWD_PROTO_MAX_ENV, "too many env values");
	for (size_t i = 0; i < r->nenv; i++) {
		const char *n = r->env[i].name;

		check(*n && strlen(n) <= FWD_PROTO_MAX_ENV_NAME, "env name length");
		check(strspn(n, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			     "0123456789_") == strlen(n), "env name characters");
		check(strlen(r->env[i].value) <= FWD_PROTO_MAX_ENV_VALUE, "env value length");
	}
	check(r->stdin_len <= FWD_PROTO_MAX_STDIN, "stdin too large");
	check(r->has_stdin || (r->stdin_len == 0 && !r->stdin_data), "stdin without flag");
	check(!r->has_stdin || r->stdin_data[r->stdin_len] == '\0', "stdin not terminated");
}

static void fuzz_request(const uint8_t *data, size_t size)
{
	struct fwd_request r, r2;
	uint8_t *enc = NULL, *enc2 = NULL;
	size_t elen, elen2, flen;
	char why[256] = "";
	int ret, hret;

	hret = fwd_frame_check(data, size, FWD_FRAME_REQUEST, &flen, NULL, 0);
	ret = fwd_request_decode(data, size, &r, why, sizeof(why));
	if (ret < 0) {
		check(why[0] != '\0', "rejected without a reason");
		check(strchr(why, '\n') == NULL, "reason spans lines");
		check(r.argc == 0 && !r.argv && r.nenv == 0 && !r.env && !r.has_stdin &&
		      !r.stdin_data, "rejected request not empty");
		return;
	}
	check(hret == 0 && flen == size, "header check disagrees with decode");
	check_request(&r);
	check(fwd_request_encode(&r, &enc, &elen) == 0, "decoded request does not encode");
	check(elen <= size, "re-encoding grew");
	check(fwd_request_decode(enc, elen, &r2, NULL, 0) == 0, "re-encoding does not decode");
	check(req_equal(&r, &r2), "round trip changed the request");
	check(fwd_request_encode(&r2, &enc2, &elen2) == 0 && elen2 == elen &&
	      memcmp(enc, enc2, elen) == 0, "encoding is not a fixed point");
	fwd_request_free(&r2);
	fwd_request_free(&r);
	free(enc);
	free(enc2);
}

static void fuzz_response(const uint8_t *data, size_t size)
{
	struct fwd_response r, r2;
	uint8_t *copy, *enc = NULL;
	size_t elen;

	if (size < FWD_PROTO_HDR_LEN)
		return;
	copy = malloc(size);
	if (!copy)
		return;
	memcpy(copy, data, size);
	copy[5] = FWD_FRAME_RESPONSE;
	if (fwd_response_decode(copy, size, &r, NULL, 0) == 0) {
		check(fwd_response_encode(&r, &enc, &elen) == 0, "response does not encode");
		check(fwd_response_decode(enc, elen, &r2, NULL, 0) == 0,
		      "response re-encoding does not decode");
		check(r.status == r2.status && r.out.len == r2.out.len &&
		      r.err.len == r2.err.len &&
		      (!r.out.len || memcmp(r.out.data, r2.out.data, r.out.len) == 0) &&
		      (!r.err.len || memcmp(r.err.data, r2.err.data, r.err.len) == 0),
		      "response round trip changed it");
		fwd_response_free(&r2);
		fwd_response_free(&r);
		free(enc);
	} else {
		check(!r.out.data && !r.err.data, "rejected response not empty");
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_request(data, size);
	fuzz_response(data, size);
	return 0;
}
