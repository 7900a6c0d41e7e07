// SPDX-License-Identifier: MIT OR Apache-2.0
/*
 * The hand-written floor's user space: load floor.bpf.o (skeleton), attach,
 * print each record as a JSON line ({"pid":N,"comm":"..."}) on stdout.
 *
 *   floor [--pid P] [-n MAX_EVENTS] [-d SECONDS]
 *
 * stderr: "floor: attached 1 probe" once attached, and at the end
 * "floor: N events in S s, L lost".
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "floor.skel.h"

struct event {
	uint32_t pid;
	char comm[16];
};

static volatile sig_atomic_t stop;
static uint64_t events, max_events = UINT64_MAX;
static char out[1 << 16];
static size_t out_len;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void flush_out(void)
{
	size_t off = 0;

	while (off < out_len) {
		ssize_t w = write(1, out + off, out_len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	out_len = 0;
}

static char *put_u32(char *p, uint32_t v)
{
	char tmp[10];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static int on_event(void *ctx, void *data, size_t size)
{
	const struct event *e = data;
	static const char hex[] = "0123456789abcdef";
	char *p;
	int i;

	(void)ctx;
	if (size < sizeof(*e) || events >= max_events)
		return 0;
	if (out_len + 128 > sizeof(out))
		flush_out();
	p = out + out_len;
	memcpy(p, "{\"pid\":", 7);
	p = put_u32(p + 7, e->pid);
	memcpy(p, ",\"comm\":\"", 9);
	p += 9;
	for (i = 0; i < 16 && e->comm[i]; i++) {
		unsigned char c = (unsigned char)e->comm[i];

		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	memcpy(p, "\"}\n", 3);
	out_len = (size_t)(p + 3 - out);
	events++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct floor_bpf *skel;
	struct ring_buffer *rb;
	double t0, deadline = 0;
	uint64_t lost = 0;
	int i, ncpu, err;
	uint32_t zero = 0;
	uint64_t *vals;
	uint32_t pid = 0;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--pid") && i + 1 < argc)
			pid = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			max_events = strtoull(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			deadline = strtod(argv[++i], NULL);
		else {
			fprintf(stderr, "usage: floor [--pid P] [-n MAX_EVENTS] [-d SECONDS]\n");
			return 2;
		}
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	skel = floor_bpf__open();
	if (!skel) {
		fprintf(stderr, "floor: open failed\n");
		return 1;
	}
	skel->rodata->target_tgid = pid;
	skel->rodata->wakeup_bytes = bpf_map__max_entries(skel->maps.events) / 4;
	err = floor_bpf__load(skel);
	if (!err)
		err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor: load/attach failed: %d\n", err);
		return 1;
	}
	rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, NULL, NULL);
	if (!rb) {
		fprintf(stderr, "floor: ring_buffer__new failed\n");
		return 1;
	}
	fprintf(stderr, "floor: attached 1 probe\n");
	t0 = now_s();
	if (deadline > 0)
		deadline += t0;
	while (!stop && events < max_events) {
		/* Records below the wakeup threshold raise no wakeup: poll with a
		 * timeout, then consume whatever is there (as tracectl does). */
		err = ring_buffer__poll(rb, 100);
		if (err < 0 && err != -EINTR)
			break;
		err = ring_buffer__consume(rb);
		if (err < 0 && err != -EINTR)
			break;
		flush_out();
		if (deadline > 0 && now_s() >= deadline)
			break;
	}
	flush_out();
	ncpu = libbpf_num_possible_cpus();
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (vals && !bpf_map_lookup_elem(bpf_map__fd(skel->maps.lost), &zero, vals))
		for (i = 0; i < ncpu; i++)
			lost += vals[i];
	fprintf(stderr, "floor: %llu events in %.1f s, %llu lost\n", (unsigned long long)events,
		now_s() - t0, (unsigned long long)lost);
	ring_buffer__free(rb);
	floor_bpf__destroy(skel);
	free(vals);
	return 0;
}
