// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * nfq-fwd: fwd's queue module (kmod-hooks/queue.c) driven as the verdict
 * loop will drive it, for bench/queue.sh, until the daemon has its loop.
 *
 *   nfq-fwd apply POLICY QUEUES [RATE]
 *       compile POLICY with the queue step (queues 0..QUEUES-1; a flood
 *       meter of RATE/second when given, else none) and apply it in the
 *       current network namespace (no owner flag: it stays after exit);
 *   nfq-fwd loop QUEUE SECONDS [drop]
 *       bind QUEUE, then: wait (epoll), read up to 256 summaries, decide
 *       each (NF_ACCEPT, or NF_DROP with "drop"), flush; prints
 *       "packets P cpu_s C busy_s B verdict_errors E parse_failures F
 *       batches M" like nfq-min.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>

#include <linux/netfilter.h>

#include "ir.h"
#include "kmod.h"
#include "policy.h"
#include "queue.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int apply(const char *path, unsigned queues, unsigned rate)
{
	struct fwd_load_opts lo = { .confd_path = "" };
	struct fwd_compile_opts co = {
		.queue = { .on = true, .total = (uint16_t)queues,
			   .meter = rate > 0, .rate = rate, .period_s = 1,
			   .burst = rate },
	};
	struct fwd_apply_opts ao = { .no_flags = true };
	struct fwd_policy *p = NULL;
	struct fwd_features f;
	struct fwd_ir *ir = NULL;
	struct fwd_nl *nl = NULL;
	struct fwd_diags d;
	int ret;

	fwd_diags_init(&d);
	ret = fwd_policy_load(path, &lo, &p, &d);
	if (!ret)
		ret = fwd_probe(&f);
	co.queue.native = f.native_queue;
	if (!ret)
		ret = fwd_compile_opts_at(p, 0, &co, &ir, &d);
	if (!ret)
		ret = fwd_nl_open(&nl);
	if (!ret)
		ret = fwd_apply(nl, ir, &f, &ao, &d);
	fwd_diags_print(&d, stderr);
	if (ret)
		fprintf(stderr, "nfq-fwd: apply: %s\n", strerror(-ret));
	fwd_nl_close(nl);
	fwd_ir_free(ir);
	fwd_policy_free(p);
	fwd_diags_free(&d);
	return ret ? 1 : 0;
}

static int loop(unsigned num, double secs, uint32_t verdict)
{
	static struct fwd_pkt pk[256];
	struct fwd_queue_opts o = { .maxlen = 8192 };
	struct sigaction sa = { .sa_handler = on_signal };
	struct epoll_event ev = { .events = EPOLLIN };
	unsigned long long packets = 0;
	double end = mono() + secs, first = 0, last = 0, cpu0;
	struct fwd_queue_stats st;
	struct fwd_queue *q;
	int ep, ret;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	ret = fwd_queue_open(&q, (uint16_t)num, &o);
	if (ret) {
		fprintf(stderr, "nfq-fwd: queue %u: %s\n", num, strerror(-ret));
		return 1;
	}
	ep = epoll_create1(EPOLL_CLOEXEC);
	epoll_ctl(ep, EPOLL_CTL_ADD, fwd_queue_fd(q), &ev);
	printf("ready\n");
	fflush(stdout);
	cpu0 = cpu_s();
	while (!stop && mono() < end) {
		size_t n = 0;

		if (epoll_wait(ep, &ev, 1, 200) <= 0)
			continue;
		if (fwd_queue_recv(q, pk, 256, &n) < 0)
			break;
		for (size_t i = 0; i < n; i++)
			fwd_queue_verdict(q, pk[i].id, verdict);
		if (fwd_queue_flush(q) < 0)
			break;
		if (n) {
			last = mono();
			if (!packets)
				first = last;
			packets += n;
		}
	}
	fwd_queue_get_stats(q, &st);
	printf("packets %llu cpu_s %.6f busy_s %.6f verdict_errors %llu "
	       "parse_failures %llu batches %llu\n", packets, cpu_s() - cpu0,
	       packets > 1 ? last - first : 0.0,
	       (unsigned long long)st.verdict_errors,
	       (unsigned long long)st.parse_failures,
	       (unsigned long long)st.batch_msgs);
	fwd_queue_close(q);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "apply") == 0)
		return apply(argv[2], (unsigned)atoi(argv[3]),
			     argc > 4 ? (unsigned)atoi(argv[4]) : 0);
	if (argc >= 4 && strcmp(argv[1], "loop") == 0)
		return loop((unsigned)atoi(argv[2]), atof(argv[3]),
			    argc > 4 && strcmp(argv[4], "drop") == 0 ?
			    NF_DROP : NF_ACCEPT);
	fprintf(stderr, "usage: nfq-fwd apply POLICY QUEUES [RATE]\n"
		"       nfq-fwd loop QUEUE SECONDS [drop]\n");
	return 64;
}
