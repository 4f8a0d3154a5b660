// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * warm-mem: touch most of the machine's free memory once, then exit
 * (DESIGN.md, benchmark hygiene: a fresh VM pays for the first touch of
 * every guest page, which would land in whichever benchmark run comes
 * first). The pages must all be held at once, or the kernel would hand
 * the same few back again; so it takes 64 MiB chunks and writes them,
 * and before each chunk reads MemAvailable again and stops while MARGIN
 * MiB are still left, so that other work on the machine (which may grow
 * meanwhile) is never pushed towards the OOM killer.
 *
 *   warm-mem MAX_MIB MARGIN_MIB     # prints "warmed N MiB"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK_MIB 64

/* MemAvailable in MiB, or 0 when it cannot be read (then stop). */
static unsigned long avail_mib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long kib = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib / 1024;
}

int main(int argc, char **argv)
{
	unsigned long max, margin, done = 0;
	void **chunks;
	size_t n = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: warm-mem MAX_MIB MARGIN_MIB\n");
		return 2;
	}
	max = strtoul(argv[1], NULL, 10);
	margin = strtoul(argv[2], NULL, 10);
	chunks = calloc(max / CHUNK_MIB + 1, sizeof(*chunks));
	if (!chunks)
		return 1;
	while (done + CHUNK_MIB <= max && avail_mib() > margin + CHUNK_MIB) {
		void *p = malloc((size_t)CHUNK_MIB << 20);

		if (!p)
			break;
		memset(p, 0x5a, (size_t)CHUNK_MIB << 20);
		chunks[n++] = p;
		done += CHUNK_MIB;
	}
	printf("warmed %lu MiB\n", done);
	while (n)
		free(chunks[--n]);
	free(chunks);
	return 0;
}
