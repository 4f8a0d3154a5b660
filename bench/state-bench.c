// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The state file's decoder on a big last good policy: bench/statedec.sh
 * runs this (built with the whole decoder) and state-bench-base (the
 * same decoder built without its overlap check,
 * FWD_STATE_BENCH_NO_OVERLAP) in alternating rounds and divides.
 *
 *   state-bench HOSTS PORTS SHAPE DECODES
 *
 * allow4_net gets HOSTS addresses (198.18.0.0 up) times PORTS port
 * ranges each: SHAPE "cut" as the compiler makes them (ranges the same
 * for every host: the check's one pass), "cross" with every other
 * host's ranges moved by 2 (apart in address, crossing in ports: the
 * check's sweep). Prints the median CPU seconds of DECODES decodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "policy.h"
#include "state.h"

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void fill(struct fwd_ir_set *s, size_t hosts, size_t ports, int cross)
{
	free(s->elems);
	s->n = s->cap = hosts * ports;
	s->elems = calloc(s->n, sizeof(*s->elems));
	if (!s->elems)
		abort();
	for (size_t i = 0; i < hosts; i++)
		for (size_t k = 0; k < ports; k++) {
			struct fwd_ir_elem *e = &s->elems[i * ports + k];
			uint32_t a = (198u << 24 | 18u << 16) + (uint32_t)i;

			for (int b = 0; b < 4; b++)
				e->lo[b] = e->hi[b] = (uint8_t)(a >> (24 - 8 * b));
			e->proto = 6;
			e->plo = (uint16_t)(1000 + k * 10 + (cross && i % 2 ? 2 : 0));
			e->phi = (uint16_t)(e->plo + 4);
		}
}

int main(int argc, char **argv)
{
	struct fwd_policy *p = NULL;
	struct fwd_ir *ir = NULL, *back;
	struct fwd_diags d;
	size_t hosts, ports, len, rounds;
	double *t;
	char why[256];
	void *buf;

	if (argc != 5) {
		fprintf(stderr, "usage: state-bench HOSTS PORTS cut|cross DECODES\n");
		return 2;
	}
	hosts = strtoul(argv[1], NULL, 10);
	ports = strtoul(argv[2], NULL, 10);
	rounds = strtoul(argv[4], NULL, 10);
	fwd_diags_init(&d);
	if (!rounds || fwd_policy_builtin(&p) || fwd_compile(p, &ir, &d))
		return 1;
	fill(fwd_ir_set_find(ir, "allow4_net"), hosts, ports, strcmp(argv[3], "cross") == 0);
	fwd_state_encode_ir(ir, &buf, &len);
	t = calloc(rounds, sizeof(*t));
	for (size_t r = 0; r < rounds; r++) {
		double t0 = cpu_s();

		if (fwd_state_decode_ir(buf, len, &back, why, sizeof(why)) != 0) {
			fprintf(stderr, "state-bench: refused: %s\n", why);
			return 1;
		}
		t[r] = cpu_s() - t0;
		fwd_ir_free(back);
	}
	qsort(t, rounds, sizeof(*t), dbl_cmp);
	printf("%.4f\n", t[rounds / 2]);
	free(t);
	free(buf);
	fwd_ir_free(ir);
	fwd_policy_free(p);
	return 0;
}
