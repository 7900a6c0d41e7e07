// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * Measures the four map designs of mapdesign.bpf.c: for each, attach it,
 * run THREADS threads of one process (one comm: one hot key) each making
 * CALLS getppid(2) calls, and report the program's mean run time per event
 * from the kernel's BPF statistics (kernel.bpf_stats_enabled), plus the
 * counts the map holds (which must equal THREADS * CALLS: an update design
 * that loses increments under contention shows here).
 *
 *   mapdesign THREADS CALLS
 *
 * Output: one line per design: name, ns per event, counted, expected.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "mapdesign.skel.h"

static long calls;

static void *worker(void *arg)
{
	(void)arg;
	for (long i = 0; i < calls; i++)
		syscall(SYS_getppid);
	return NULL;
}

/* Sum of the map's values over CPUs (per-CPU maps) for every key. */
static uint64_t total(struct bpf_map *map, int percpu)
{
	int fd = bpf_map__fd(map), ncpu = libbpf_num_possible_cpus();
	char key[16], next[16];
	uint64_t sum = 0, vals[1024];
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, sizeof(key));
		prev = key;
		if (bpf_map_lookup_elem(fd, key, vals))
			continue;
		for (int c = 0; c < (percpu ? ncpu : 1); c++)
			sum += vals[c];
	}
	return sum;
}

int main(int argc, char **argv)
{
	int threads = argc > 1 ? atoi(argv[1]) : 1;
	calls = argc > 2 ? atol(argv[2]) : 2000000;
	struct mapdesign_bpf *skel = mapdesign_bpf__open();

	if (!skel || threads < 1 || threads > 64)
		return 1;
	skel->rodata->target_tgid = getpid();
	if (mapdesign_bpf__load(skel)) {
		fprintf(stderr, "mapdesign: load failed: %s\n", strerror(errno));
		return 1;
	}
	struct {
		const char *name;
		struct bpf_program *prog;
		struct bpf_map *map;
		int percpu;
	} d[] = {
		{ "percpu_inplace", skel->progs.percpu_inplace, skel->maps.pc_a, 1 },
		{ "shared_atomic", skel->progs.shared_atomic, skel->maps.sh_b, 0 },
		{ "shared_update", skel->progs.shared_update, skel->maps.sh_c, 0 },
		{ "percpu_update", skel->progs.percpu_update, skel->maps.pc_d, 1 },
	};
	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++) {
		struct bpf_link *link = bpf_program__attach(d[i].prog);
		struct bpf_prog_info before = { 0 }, after = { 0 };
		__u32 len = sizeof(before);
		pthread_t t[64];

		if (!link) {
			fprintf(stderr, "mapdesign: attach %s failed\n", d[i].name);
			return 1;
		}
		bpf_obj_get_info_by_fd(bpf_program__fd(d[i].prog), &before, &len);
		for (int k = 0; k < threads; k++)
			pthread_create(&t[k], NULL, worker, NULL);
		for (int k = 0; k < threads; k++)
			pthread_join(t[k], NULL);
		len = sizeof(after);
		bpf_obj_get_info_by_fd(bpf_program__fd(d[i].prog), &after, &len);
		bpf_link__destroy(link);
		uint64_t runs = after.run_cnt - before.run_cnt;
		double ns = runs ? (double)(after.run_time_ns - before.run_time_ns) / runs : 0;
		printf("%s %.1f %llu %llu\n", d[i].name, ns,
		       (unsigned long long)total(d[i].map, d[i].percpu),
		       (unsigned long long)threads * calls);
	}
	mapdesign_bpf__destroy(skel);
	return 0;
}
