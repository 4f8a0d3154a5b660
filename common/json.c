// SPDX-License-Identifier: GPL-2.0-or-later
#include "json.h"

#include <inttypes.h>

void json_init(struct json_out *j, FILE *f)
{
	*j = (struct json_out){ .f = f };
}

/* Called before every value or key: a comma unless first in its container. */
static void sep(struct json_out *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->depth && j->need_comma[j->depth])
		fputc(',', j->f);
	if (j->depth)
		j->need_comma[j->depth] = true;
}

static void open_c(struct json_out *j, char c)
{
	sep(j);
	fputc(c, j->f);
	if (j->depth + 1 < sizeof(j->need_comma) / sizeof(j->need_comma[0]))
		j->depth++;
	j->need_comma[j->depth] = false;
}

static void close_c(struct json_out *j, char c)
{
	if (j->depth)
		j->depth--;
	fputc(c, j->f);
}

void json_obj_begin(struct json_out *j) { open_c(j, '{'); }
void json_obj_end(struct json_out *j) { close_c(j, '}'); }
void json_arr_begin(struct json_out *j) { open_c(j, '['); }
void json_arr_end(struct json_out *j) { close_c(j, ']'); }

static void raw_str(struct json_out *j, const char *s)
{
	fputc('"', j->f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': fputs("\\\"", j->f); break;
		case '\\': fputs("\\\\", j->f); break;
		case '\n': fputs("\\n", j->f); break;
		case '\r': fputs("\\r", j->f); break;
		case '\t': fputs("\\t", j->f); break;
		default:
			if (*p < 0x20)
				fprintf(j->f, "\\u%04x", *p);
			else
				fputc(*p, j->f);
		}
	}
	fputc('"', j->f);
}

void json_key(struct json_out *j, const char *k)
{
	sep(j);
	raw_str(j, k);
	fputc(':', j->f);
	j->after_key = true;
}

void json_str(struct json_out *j, const char *s)
{
	sep(j);
	raw_str(j, s);
}

void json_uint(struct json_out *j, uint64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRIu64, v);
}

void json_int(struct json_out *j, int64_t v)
{
	sep(j);
	fprintf(j->f, "%" PRId64, v);
}

void json_bool(struct json_out *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void json_null(struct json_out *j)
{
	sep(j);
	fputs("null", j->f);
}

void json_finish(struct json_out *j)
{
	fputc('\n', j->f);
	fflush(j->f);
}
