// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * carry-gap: how long a whole-table replace that carries counters over
 * lets the old table count after its counters were read (bench/carry-gap.sh).
 *
 *   carry-gap POLICY ROUNDS
 *       compile POLICY, apply it in the current network namespace (no
 *       owner flag), then ROUNDS pairs of replaces of the same table in
 *       alternating order: one with fresh counters (no read: the
 *       baseline) and one that carries them (fwd_apply as the daemon
 *       calls it on SIGHUP). Prints per round
 *       "fresh_s F keep_s K read_us R rules_us U build_us B commit_us C"
 *       (kmod.h, fwd_nl_stats: the read, the rules' part of it (read
 *       last), the build of the transaction, its send up to the
 *       commit's answer).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ir.h"
#include "kmod.h"
#include "policy.h"

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One replace; its wall time in seconds, or a negative value on error. */
static double replace(struct fwd_nl *nl, const struct fwd_ir *ir,
		      const struct fwd_features *f, bool fresh)
{
	struct fwd_apply_opts ao = { .no_flags = true, .fresh_counters = fresh };
	struct fwd_diags d;
	double t0 = mono();
	int ret;

	fwd_diags_init(&d);
	ret = fwd_apply(nl, ir, f, &ao, &d);
	fwd_diags_print(&d, stderr);
	fwd_diags_free(&d);
	if (ret) {
		fprintf(stderr, "carry-gap: apply: %s\n", strerror(-ret));
		return -1;
	}
	return mono() - t0;
}

int main(int argc, char **argv)
{
	struct fwd_load_opts lo = { .confd_path = "" };
	struct fwd_policy *p = NULL;
	struct fwd_features f;
	struct fwd_ir *ir = NULL;
	struct fwd_nl *nl = NULL;
	struct fwd_diags d;
	int ret, rounds;

	if (argc != 3 || (rounds = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: carry-gap POLICY ROUNDS\n");
		return 2;
	}
	fwd_diags_init(&d);
	ret = fwd_policy_load(argv[1], &lo, &p, &d);
	if (!ret)
		ret = fwd_probe(&f);
	if (!ret)
		ret = fwd_compile(p, &ir, &d);
	if (!ret)
		ret = fwd_nl_open(&nl);
	fwd_diags_print(&d, stderr);
	fwd_diags_free(&d);
	if (ret || replace(nl, ir, &f, true) < 0) {
		fprintf(stderr, "carry-gap: %s\n", strerror(ret ? -ret : EIO));
		return 1;
	}
	for (int r = 0; r < rounds; r++) {
		struct fwd_nl_stats st;
		double fresh, keep;

		if (r % 2) {
			keep = replace(nl, ir, &f, false);
			fwd_nl_get_stats(nl, &st);
			fresh = replace(nl, ir, &f, true);
		} else {
			fresh = replace(nl, ir, &f, true);
			keep = replace(nl, ir, &f, false);
			fwd_nl_get_stats(nl, &st);
		}
		if (fresh < 0 || keep < 0)
			return 1;
		printf("fresh_s %.4f keep_s %.4f read_us %llu rules_us %llu build_us %llu "
		       "commit_us %llu\n", fresh, keep, (unsigned long long)st.carry_read_us,
		       (unsigned long long)st.carry_rules_us,
		       (unsigned long long)st.carry_build_us,
		       (unsigned long long)st.carry_commit_us);
		fflush(stdout);
	}
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_policy_free(p);
	return 0;
}
