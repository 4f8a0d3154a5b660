// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * conn-rate: new TCP connections per second, for bench/outbound.sh.
 *
 *   conn-rate serve ADDR PORT SECS     accept and close, for SECS seconds
 *   conn-rate connect ADDR PORT SECS   connect, close (RST: no TIME_WAIT
 *                                      piles up), again, for SECS seconds;
 *                                      prints "conns N secs T rate R fails F
 *                                      cpu_us C": C is the process's CPU
 *                                      time (user + system) per connection
 *
 * Each connection is a new flow: the first packet (the SYN) of every one
 * goes through the output chain's rules, which is what the benchmark
 * measures. One connection at a time, so the rate is a latency. The SYN
 * leaves in the connect() call, so the output hook's work is system time
 * of this process: its CPU per connection counts the rules' cost and,
 * unlike the rate, hardly what other processes do to the machine.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int addr_of(const char *a, const char *port, struct sockaddr_storage *ss,
		   socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)atoi(port));
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)atoi(port));
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

static int serve(const struct sockaddr_storage *ss, socklen_t len, double secs)
{
	int one = 1, fd = socket(ss->ss_family, SOCK_STREAM, 0);
	double end = now() + secs;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (const struct sockaddr *)ss, len) != 0 ||
	    listen(fd, 4096) != 0) {
		perror("conn-rate: serve");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (now() < end) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int c;

		if (poll(&p, 1, 200) <= 0)
			continue;
		c = accept(fd, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return 0;
}

static int client(const struct sockaddr_storage *ss, socklen_t len, double secs)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	unsigned long n = 0, fails = 0;
	double t0 = now(), t;

	while ((t = now()) - t0 < secs) {
		int fd = socket(ss->ss_family, SOCK_STREAM, 0);

		if (fd < 0) {
			perror("conn-rate: socket");
			return 1;
		}
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		if (connect(fd, (const struct sockaddr *)ss, len) == 0)
			n++;
		else
			fails++;
		close(fd);
	}
	{
		struct rusage ru;
		double cpu;

		getrusage(RUSAGE_SELF, &ru);
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		      (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
		printf("conns %lu secs %.3f rate %.1f fails %lu cpu_us %.2f\n", n,
		       t - t0, (double)n / (t - t0), fails, n ? cpu * 1e6 / (double)n : 0);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (argc != 5 || addr_of(argv[2], argv[3], &ss, &len) != 0) {
		fprintf(stderr, "usage: conn-rate serve|connect ADDR PORT SECS\n");
		return 64;
	}
	if (strcmp(argv[1], "serve") == 0)
		return serve(&ss, len, atof(argv[4]));
	if (strcmp(argv[1], "connect") == 0)
		return client(&ss, len, atof(argv[4]));
	fprintf(stderr, "usage: conn-rate serve|connect ADDR PORT SECS\n");
	return 64;
}
