// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * owners-bench: what `fwctl stats --prometheus` costs per fwctl edit once
 * the counters are read back: the owners made (policy/attrib.c,
 * fwd_own_init), every element of the compiled IR counted once as if each
 * had been hit (fwd_own_count: each live edit's element found its owner),
 * and the series rendered (daemon/metrics.c), for a policy holding N live
 * allow edits, against the same for N/10 edits, measured in the same run,
 * interleaved. Linear work gives a ratio near 10; work that compares every
 * owner or element with every edit gives near 100. No kernel, no root:
 * the view has no live table (the read-back is metrics.sh's).
 *
 *   owners-bench [N [ROUNDS]]      (default 100000 edits, 5 rounds)
 *
 * Prints the seconds of each (median over rounds) and the median of the
 * per-round ratios t(N) / t(N/10).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attrib.h"
#include "edit.h"
#include "ir.h"
#include "metrics.h"
#include "policy.h"

#define NOW 1000000u

static const char base[] =
	"[defaults]\n"
	"inbound = deny\n"
	"[service ssh]\n"
	"ports = 22/tcp\n"
	"allow = 192.0.2.1\n";

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct input {
	struct fwd_policy *p;
	struct fwd_ir *ir;
};

/* The base policy with n live allow edits, each from its own address
 * (198.18.0.0/15, then 2001:db8::/32 past 128k), as fwctl adds them, and
 * its IR. */
static struct input policy_with(size_t n)
{
	struct input in;
	struct fwd_load_opts o = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	char err[256] = "";

	if (fwd_policy_load_buffer("bench.conf", base, sizeof(base) - 1, &o, &p,
				   NULL)) {
		fprintf(stderr, "owners-bench: the base policy does not load\n");
		exit(1);
	}
	for (size_t i = 0; i < n; i++) {
		char addr[64];
		const char *argv[] = { "allow", "9000/tcp", "from", addr };
		struct fwd_edit *e = NULL;
		size_t ne = 0;

		if (i < 128000)
			snprintf(addr, sizeof(addr), "198.%zu.%zu.%zu", 18 + i / 64000,
				 i % 64000 / 250, i % 250 + 1);
		else
			snprintf(addr, sizeof(addr), "2001:db8::%zx", i);
		if (fwd_edit_parse(4, argv, NOW, NULL, &e, &ne, err, sizeof(err)) ||
		    fwd_policy_add_edit(p, &e[0], err, sizeof(err))) {
			fprintf(stderr, "owners-bench: edit %zu: %s\n", i, err);
			exit(1);
		}
		free(e);
	}
	in.p = p;
	if (fwd_compile_at(p, NOW, &in.ir, NULL)) {
		fprintf(stderr, "owners-bench: the policy does not compile\n");
		exit(1);
	}
	return in;
}

/* One measured run: the owners made, every counted element hit once,
 * every family rendered. */
static double run(const struct input *in)
{
	struct fwd_stats_view v;
	char *text = NULL;
	size_t len = 0;
	double t0 = now_s(), t;
	FILE *f;

	memset(&v, 0, sizeof(v));
	v.counters = true;
	fwd_own_init(&v.om, in->p, in->ir);
	for (size_t i = 0; i < in->ir->nsets; i++) {
		const struct fwd_ir_set *s = &in->ir->sets[i];

		for (size_t k = 0; s->counter && k < s->n; k++)
			fwd_own_count(&v.om, s, &s->elems[k], 1, 60);
	}
	f = open_memstream(&text, &len);
	if (!f)
		abort();
	fwd_metrics_render(&v, f);
	fclose(f);
	t = now_s() - t0;
	fwd_own_free(&v.om);
	free(text);
	return t;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	size_t rounds = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	struct input big, small;
	double *tb, *ts, *ratio;

	if (n < 10 || rounds < 1) {
		fprintf(stderr, "usage: owners-bench [N>=10 [ROUNDS>=1]]\n");
		return 2;
	}
	big = policy_with(n);
	small = policy_with(n / 10);
	tb = calloc(rounds, sizeof(*tb));
	ts = calloc(rounds, sizeof(*ts));
	ratio = calloc(rounds, sizeof(*ratio));
	if (!tb || !ts || !ratio)
		abort();
	for (size_t r = 0; r < rounds; r++) {
		ts[r] = run(&small);
		tb[r] = run(&big);
		ratio[r] = tb[r] / ts[r];
	}
	printf("# owners made, every element counted, metrics rendered, %zu rounds "
	       "(medians)\n", rounds);
	printf("%-24s %12s\n", "live allow edits", "seconds");
	printf("%-24zu %12.6f\n", n / 10, median(ts, rounds));
	printf("%-24zu %12.6f\n", n, median(tb, rounds));
	printf("t(%zu) / t(%zu): %.1f (linear: ~10, quadratic: ~100)\n", n, n / 10,
	       median(ratio, rounds));
	free(tb);
	free(ts);
	free(ratio);
	fwd_ir_free(big.ir);
	fwd_ir_free(small.ir);
	fwd_policy_free(big.p);
	fwd_policy_free(small.p);
	return 0;
}
