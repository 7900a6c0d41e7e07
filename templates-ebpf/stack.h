/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl stacks (spec-v2 section 4): `kstack` and `ustack` are ids in
 * one stack map shared by every probe of a spec (the runtime pins and
 * reuses it, as the ring buffer). bpf_get_stackid() walks the stack and
 * stores each distinct one once, so a record or an aggregation key holds
 * 8 bytes, not 127 frames, and user space symbolizes each stack once.
 *
 * Without BPF_F_REUSE_STACKID a new stack whose hash bucket is taken is
 * refused (-EEXIST), never overwrites one that keys already name: the id
 * slot then holds the negative errno, which user space prints and counts.
 * The runtime sizes the map (its entries) per spec, 1 entry when no probe
 * reads a stack; frames beyond TC_STACK_FRAMES are cut by the kernel.
 */
#ifndef TRACECTL_STACK_H
#define TRACECTL_STACK_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"

struct {
	__uint(type, BPF_MAP_TYPE_STACK_TRACE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__uint(value_size, TC_STACK_FRAMES * sizeof(__u64));
} stacks SEC(".maps");

/* The id of the current kernel (or, with `user`, user) stack in `stacks`,
 * or a negative errno sign-extended to 64 bits. */
static __always_inline __u64 tc_stack_id(void *ctx, int user)
{
	long id = bpf_get_stackid(ctx, &stacks, user ? BPF_F_USER_STACK : 0);

	return (__u64)(__s64)id;
}

#endif
