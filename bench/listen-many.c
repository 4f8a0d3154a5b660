// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * bench/audit.sh's listeners: N sockets in one process, as a busy host has
 * them: TCP listeners (every fourth an IPv4 wildcard, the rest dual-stack
 * IPv6) and every tenth a bound UDP socket, on ports FIRST..FIRST+N-1.
 * Prints "ready N" once all are bound, then waits to be killed.
 *
 *   listen-many N FIRST
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

static int bound(unsigned i, unsigned port)
{
	bool v4 = i % 4 == 0, udp = i % 10 == 9;
	int one = 1, fd = socket(v4 ? AF_INET : AF_INET6, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((v4 ? bind(fd, (struct sockaddr *)&a4, sizeof(a4)) :
		  bind(fd, (struct sockaddr *)&a6, sizeof(a6))) != 0 ||
	    (!udp && listen(fd, 8) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	unsigned n, first;
	struct rlimit rl;

	if (argc != 3) {
		fprintf(stderr, "usage: listen-many N FIRST\n");
		return 64;
	}
	n = (unsigned)strtoul(argv[1], NULL, 10);
	first = (unsigned)strtoul(argv[2], NULL, 10);
	if (n == 0 || first == 0 || first + n > 65536) {
		fprintf(stderr, "listen-many: ports %u..%u out of range\n", first, first + n - 1);
		return 64;
	}
	rl.rlim_cur = rl.rlim_max = n + 64;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		fprintf(stderr, "listen-many: RLIMIT_NOFILE %u: %s\n", n + 64, strerror(errno));
		return 1;
	}
	for (unsigned i = 0; i < n; i++)
		if (bound(i, first + i) < 0) {
			fprintf(stderr, "listen-many: port %u: %s\n", first + i, strerror(errno));
			return 1;
		}
	printf("ready %u\n", n);
	fflush(stdout);
	for (;;)
		pause();
}
