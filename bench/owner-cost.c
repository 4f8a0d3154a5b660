// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * owner-cost: what each step of a program decision costs on this machine,
 * as a multiple of a null system call measured in the same run. The steps
 * are the ones the program worker takes per queued SYN (daemon/vloop.c,
 * kmod-hooks/sockets.c): fwd_owner_find as a whole (sock_diag by the
 * 5-tuple, then the pid cache's fd check and the exe check in /proc), and
 * its parts done by hand (the fd check is a readlinkat of
 * /proc/PID/fd/N, the exe check an fstatat of /proc/PID/exe), and the two
 * context switches a queued packet costs (a wake-up of a thread on the
 * same CPU and back, a pipe ping-pong). It explains bench/outbound.sh's
 * prog/nfqmin and nfqmin/none: on a machine where a system call is
 * expensive, the decision is its system calls and switches.
 *
 *   owner-cost [ROUNDS]     (root: it makes a network namespace of its own
 *                            for a TCP connection on its loopback)
 *
 * Each round times every step over N calls, in turn; the report gives each
 * step's median ns per call over the rounds and the median of the
 * per-round ratios to the null call.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sockets.h"

#define N 20000
#define STEPS 5

struct ctx {
	struct fwd_owner_finder *of;
	struct sockaddr_in cli, srv;	/* the client socket's two ends */
	int pfd;			/* O_PATH /proc/self */
	char fdname[32];		/* "fd/N" of the client socket */
	int ping[2], pong[2];		/* the switch pair */
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void pin0(void)
{
	cpu_set_t s;

	CPU_ZERO(&s);
	CPU_SET(0, &s);
	if (sched_setaffinity(0, sizeof(s), &s) != 0)
		perror("owner-cost: sched_setaffinity");
}

/* The other end of the switch pair, on the same CPU: every byte sent is
 * a wake-up of this thread and, when it answers, one of the caller. */
static void *pong_main(void *arg)
{
	struct ctx *c = arg;
	char b;

	pin0();
	while (read(c->ping[0], &b, 1) == 1)
		if (write(c->pong[1], &b, 1) != 1)
			break;
	return NULL;
}

static int setup(struct ctx *c)
{
	struct ifreq ifr = { 0 };
	socklen_t len = sizeof(c->srv);
	int l, s, a, one = 1;
	pthread_t th;

	if (unshare(CLONE_NEWNET) != 0) {
		perror("owner-cost: unshare(CLONE_NEWNET) (needs root)");
		return -1;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	strcpy(ifr.ifr_name, "lo");
	ifr.ifr_flags = IFF_UP;
	if (s < 0 || ioctl(s, SIOCSIFFLAGS, &ifr) != 0) {
		perror("owner-cost: lo up");
		return -1;
	}
	close(s);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	c->srv = (struct sockaddr_in){ .sin_family = AF_INET,
				       .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(l, (struct sockaddr *)&c->srv, sizeof(c->srv)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&c->srv, &len) != 0) {
		perror("owner-cost: listen");
		return -1;
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(s, (struct sockaddr *)&c->srv, sizeof(c->srv)) != 0) {
		perror("owner-cost: connect");
		return -1;
	}
	a = accept(l, NULL, NULL);
	len = sizeof(c->cli);
	if (a < 0 || getsockname(s, (struct sockaddr *)&c->cli, &len) != 0) {
		perror("owner-cost: accept");
		return -1;
	}
	if (fwd_owner_finder_new(&c->of) != 0) {
		fprintf(stderr, "owner-cost: no sock_diag socket\n");
		return -1;
	}
	c->pfd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(c->fdname, sizeof(c->fdname), "fd/%d", s);
	if (c->pfd < 0 || pipe(c->ping) != 0 || pipe(c->pong) != 0 ||
	    pthread_create(&th, NULL, pong_main, c) != 0) {
		perror("owner-cost: setup");
		return -1;
	}
	return 0;
}

static const char *const step_name[STEPS] = {
	"null system call (getppid)",
	"fwd_owner_find (sock_diag + fd check + exe check)",
	"  the fd check: readlinkat /proc/PID/fd/N",
	"  the exe check: fstatat /proc/PID/exe",
	"two context switches (same-CPU wake-up and back)",
};

/* One step, n calls; ns per call, or -1 when a call failed. */
static double run_step(struct ctx *c, int step, int n)
{
	struct fwd_sock_owner o;
	struct stat st;
	char buf[64], b = 'x';
	double t0 = now_ns();

	for (int i = 0; i < n; i++) {
		switch (step) {
		case 0:
			syscall(SYS_getppid);
			break;
		case 1:
			if (fwd_owner_find(c->of, AF_INET, IPPROTO_TCP,
					   (const uint8_t *)&c->cli.sin_addr,
					   ntohs(c->cli.sin_port),
					   (const uint8_t *)&c->srv.sin_addr,
					   ntohs(c->srv.sin_port), &o) != 0 ||
			    o.pid != (uint32_t)getpid())
				return -1;
			break;
		case 2:
			if (readlinkat(c->pfd, c->fdname, buf, sizeof(buf)) <= 0)
				return -1;
			break;
		case 3:
			if (fstatat(c->pfd, "exe", &st, 0) != 0)
				return -1;
			break;
		case 4:
			if (write(c->ping[1], &b, 1) != 1 || read(c->pong[0], &b, 1) != 1)
				return -1;
			break;
		}
	}
	return (now_ns() - t0) / n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	static double ns[STEPS][64], ratio[STEPS][64];
	struct ctx c = { 0 };

	if (rounds < 1 || rounds > 64) {
		fprintf(stderr, "usage: owner-cost [ROUNDS 1-64]\n");
		return 2;
	}
	pin0();
	if (setup(&c) != 0)
		return 1;
	for (int s = 0; s < STEPS; s++)	/* warm: caches, the pid cache */
		if (run_step(&c, s, 200) < 0) {
			fprintf(stderr, "owner-cost: step '%s' failed\n", step_name[s]);
			return 1;
		}
	for (int r = 0; r < rounds; r++)
		for (int s = 0; s < STEPS; s++) {
			int n = s == 4 ? N / 4 : N;

			ns[s][r] = run_step(&c, s, n);
			if (ns[s][r] < 0) {
				fprintf(stderr, "owner-cost: step '%s' failed\n", step_name[s]);
				return 1;
			}
			ratio[s][r] = ns[s][r] / ns[0][r];
		}
	printf("# %d rounds, pinned to CPU 0, load average ", rounds);
	{
		FILE *f = fopen("/proc/loadavg", "r");
		char la[64] = "?\n";

		if (f) {
			if (!fgets(la, sizeof(la), f))
				strcpy(la, "?\n");
			fclose(f);
		}
		printf("%s", la);
	}
	printf("%-52s %10s %10s\n", "step", "ns/call", "x null");
	for (int s = 0; s < STEPS; s++)
		printf("%-52s %10.0f %10.2f\n", step_name[s], median(ns[s], rounds),
		       median(ratio[s], rounds));
	return 0;
}
