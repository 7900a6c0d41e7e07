// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The benchmark workload: cheap syscalls (getppid) in a loop.
 *
 *   workload N [RATE [MAX_MS]]
 *
 * Waits for one byte on stdin (so a tracer can attach to this pid first),
 * then makes N getppid(2) calls: back to back (RATE 0), or paced at RATE
 * calls per second (spinning on CLOCK_MONOTONIC, no sleeps); either way it
 * stops early after MAX_MS milliseconds (0: no limit). Prints "calls=C ns=T"
 * (T: wall time of the loop).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	uint64_t n, rate = 0, max_ns = 0, i, t0, t1;
	char go;

	if (argc < 2) {
		fprintf(stderr, "usage: workload N [RATE [MAX_MS]]\n");
		return 2;
	}
	n = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		rate = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		max_ns = strtoull(argv[3], NULL, 10) * 1000000ull;
	if (read(0, &go, 1) < 0)
		return 1;

	t0 = now_ns();
	if (rate == 0) {
		for (i = 0; i < n; i++) {
			/* one clock read per 1024 calls: negligible */
			if (max_ns && (i & 1023) == 0 && now_ns() - t0 >= max_ns)
				break;
			syscall(SYS_getppid);
		}
	} else {
		double step = 1e9 / (double)rate;

		for (i = 0; i < n; i++) {
			uint64_t due = t0 + (uint64_t)(step * (double)i), t;

			while ((t = now_ns()) < due)
				;
			if (max_ns && t - t0 >= max_ns)
				break;
			syscall(SYS_getppid);
		}
	}
	t1 = now_ns();
	printf("calls=%llu ns=%llu\n", (unsigned long long)i, (unsigned long long)(t1 - t0));
	return 0;
}
