// SPDX-License-Identifier: GPL-2.0
/*
 * Four ways to keep `count() by comm` in the kernel, one program each, on
 * sys_enter_getppid of the processes named by `target_comm_len > 0`:
 *
 *   percpu_inplace   per-CPU hash; lookup, insert once, then `*v += 1`
 *                    (tracectl's agg.h)
 *   shared_atomic    one hash; lookup, insert once, then an atomic add
 *   shared_update    one hash; lookup, then bpf_map_update_elem(v + 1)
 *                    per event (a read-modify-update through the map)
 *   percpu_update    per-CPU hash; lookup, then bpf_map_update_elem(v + 1)
 *                    per event
 *
 * The user space (mapdesign.c) attaches one at a time and reads the
 * program's run time from the kernel's BPF statistics.
 */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct key {
	char comm[16];
};

#define MAP(name, kind)                                                                            \
	struct {                                                                                   \
		__uint(type, kind);                                                                \
		__uint(max_entries, 10240);                                                        \
		__type(key, struct key);                                                           \
		__type(value, __u64);                                                              \
	} name SEC(".maps")

MAP(pc_a, BPF_MAP_TYPE_PERCPU_HASH);
MAP(sh_b, BPF_MAP_TYPE_HASH);
MAP(sh_c, BPF_MAP_TYPE_HASH);
MAP(pc_d, BPF_MAP_TYPE_PERCPU_HASH);

const volatile __u32 target_tgid = 0;

static __always_inline int mine(struct key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	if (target_tgid && (bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	bpf_get_current_comm(k->comm, sizeof(k->comm));
	return 1;
}

static __always_inline __u64 *get_or_insert(void *map, struct key *k)
{
	__u64 *v = bpf_map_lookup_elem(map, k);
	__u64 zero = 0;

	if (v)
		return v;
	bpf_map_update_elem(map, k, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(map, k);
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int percpu_inplace(void *ctx)
{
	struct key k;
	__u64 *v;

	if (!mine(&k))
		return 0;
	v = get_or_insert(&pc_a, &k);
	if (v)
		*v += 1;
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int shared_atomic(void *ctx)
{
	struct key k;
	__u64 *v;

	if (!mine(&k))
		return 0;
	v = get_or_insert(&sh_b, &k);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int shared_update(void *ctx)
{
	struct key k;
	__u64 *v, n = 1;

	if (!mine(&k))
		return 0;
	v = bpf_map_lookup_elem(&sh_c, &k);
	if (v)
		n = *v + 1;
	bpf_map_update_elem(&sh_c, &k, &n, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_getppid")
int percpu_update(void *ctx)
{
	struct key k;
	__u64 *v, n = 1;

	if (!mine(&k))
		return 0;
	v = bpf_map_lookup_elem(&pc_d, &k);
	if (v)
		n = *v + 1;
	bpf_map_update_elem(&pc_d, &k, &n, BPF_ANY);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
