/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef FWD_JSON_H
#define FWD_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/*
 * A streaming JSON writer: commas and escaping are its job, so output is
 * valid whatever the strings hold (policy names, file paths, kernel text).
 */
struct json_out {
	FILE *f;
	unsigned depth;
	bool need_comma[32];
	bool after_key;
};

void json_init(struct json_out *j, FILE *f);
void json_obj_begin(struct json_out *j);
void json_obj_end(struct json_out *j);
void json_arr_begin(struct json_out *j);
void json_arr_end(struct json_out *j);
void json_key(struct json_out *j, const char *k);
void json_str(struct json_out *j, const char *s);
void json_uint(struct json_out *j, uint64_t v);
void json_int(struct json_out *j, int64_t v);
void json_bool(struct json_out *j, bool v);
void json_null(struct json_out *j);
void json_finish(struct json_out *j);	/* newline + flush */

#endif
