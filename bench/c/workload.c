// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The benchmark workload: cheap syscalls in a loop.
 *
 *   workload N [RATE [MAX_MS [THREADS [KEYS]]]]
 *
 * Waits for one byte on stdin (so a tracer can attach to this pid first),
 * then makes N system calls: back to back (RATE 0), or paced at RATE calls
 * per second (spinning on CLOCK_MONOTONIC, no sleeps); either way it stops
 * early after MAX_MS milliseconds (0: no limit).
 *
 * THREADS (default 1): that many threads of this process (same pid, same
 * comm) each make the N calls; with more than one, thread t pins itself to
 * CPU t modulo the CPUs this process may use, so every CPU hammers the same
 * tracepoint (and, for an aggregation keyed by comm, the same key).
 *
 * KEYS (default 0): 0 calls getppid(2); K > 0 calls
 * sched_get_priority_max(i % K) instead, an equally cheap system call whose
 * argument (the tracepoint's `policy` field) takes K distinct values
 * 0 .. K-1 in turn (valid policies return their maximum, the rest EINVAL).
 *
 * Prints "calls=C ns=T threads=H": C the calls of all threads, T the time
 * their loops took, summed over threads (so T / C is the time of one call
 * on one CPU).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64

static uint64_t n, rate, max_ns, keys;
static pthread_barrier_t start;

struct worker {
	pthread_t th;
	int cpu; /* -1: keep the process's affinity */
	uint64_t calls, ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void one_call(uint64_t i)
{
	if (keys)
		syscall(SYS_sched_get_priority_max, (long)(i % keys));
	else
		syscall(SYS_getppid);
}

static void *loop(void *arg)
{
	struct worker *w = arg;
	uint64_t i, t0, t1;

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) != 0) {
			perror("sched_setaffinity");
			exit(1);
		}
	}
	pthread_barrier_wait(&start);

	t0 = now_ns();
	if (rate == 0) {
		for (i = 0; i < n; i++) {
			/* one clock read per 1024 calls: negligible */
			if (max_ns && (i & 1023) == 0 && now_ns() - t0 >= max_ns)
				break;
			one_call(i);
		}
	} else {
		double step = 1e9 / (double)rate;

		for (i = 0; i < n; i++) {
			uint64_t due = t0 + (uint64_t)(step * (double)i), t;

			while ((t = now_ns()) < due)
				;
			if (max_ns && t - t0 >= max_ns)
				break;
			one_call(i);
		}
	}
	t1 = now_ns();
	w->calls = i;
	w->ns = t1 - t0;
	return NULL;
}

int main(int argc, char **argv)
{
	static struct worker w[MAX_THREADS];
	uint64_t threads = 1, calls = 0, ns = 0, t;
	int cpus[CPU_SETSIZE], ncpus = 0, c;
	cpu_set_t allowed;
	char go;

	if (argc < 2) {
		fprintf(stderr, "usage: workload N [RATE [MAX_MS [THREADS [KEYS]]]]\n");
		return 2;
	}
	n = strtoull(argv[1], NULL, 10);
	if (argc > 2)
		rate = strtoull(argv[2], NULL, 10);
	if (argc > 3)
		max_ns = strtoull(argv[3], NULL, 10) * 1000000ull;
	if (argc > 4)
		threads = strtoull(argv[4], NULL, 10);
	if (argc > 5)
		keys = strtoull(argv[5], NULL, 10);
	if (threads < 1 || threads > MAX_THREADS) {
		fprintf(stderr, "workload: THREADS must be 1..%d\n", MAX_THREADS);
		return 2;
	}
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) {
		perror("sched_getaffinity");
		return 1;
	}
	for (c = 0; c < CPU_SETSIZE; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpus++] = c;
	if (threads > 1 && ncpus < 2) {
		/* Pinned to one CPU by the caller: spread over all of them. */
		ncpus = 0;
		for (c = 0; c < CPU_SETSIZE && c < sysconf(_SC_NPROCESSORS_ONLN); c++)
			cpus[ncpus++] = c;
	}
	pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
	for (t = 0; t < threads; t++) {
		w[t].cpu = threads > 1 && ncpus > 0 ? cpus[t % (uint64_t)ncpus] : -1;
		if (pthread_create(&w[t].th, NULL, loop, &w[t]) != 0) {
			fprintf(stderr, "workload: cannot create thread %llu\n",
				(unsigned long long)t);
			return 1;
		}
	}
	if (read(0, &go, 1) < 0)
		return 1;
	pthread_barrier_wait(&start);
	for (t = 0; t < threads; t++) {
		pthread_join(w[t].th, NULL);
		calls += w[t].calls;
		ns += w[t].ns;
	}
	printf("calls=%llu ns=%llu threads=%llu\n", (unsigned long long)calls,
	       (unsigned long long)ns, (unsigned long long)threads);
	return 0;
}
