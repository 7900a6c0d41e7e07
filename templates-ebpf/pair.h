/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl start/end pairing (spec-v2 section 3): a paired probe is two
 * programs sharing one LRU hash, the `stash`.
 *
 * Both programs lay their record out as
 *   [header][aggregation key, end only][start ts][start values][match key][the rest]
 * with the stashed bytes at [value_off, value_off + value_size) (the start
 * timestamp, then the start values) and the match key at [key_off, key_off +
 * key_size), key_off = value_off + value_size.
 *
 * START (sink TC_SINK_STASH): once the record is built (ops, arithmetic, the
 * filter: a start the filter drops is not stashed), the header's timestamp
 * goes into the first stashed word and the stashed bytes are stored under
 * the key: BPF_NOEXIST first (counted `stashed`); a key still present (the
 * same thread started again before its end: a recursion, or an end we never
 * saw) is overwritten with BPF_ANY and counted `replaced`; any other refusal
 * is counted `failed`. Nothing is sent.
 *
 * END: after the first stage (the key's ops, and the filter conjuncts that
 * decide whether the event is an end at all), tc_join looks the key up: no
 * start → counted `unmatched_end`, dropped; else the stashed bytes are
 * copied into the record at value_off, the key deleted (counted `matched`),
 * and the first word becomes the latency: the end's header timestamp minus
 * the start's. The rest of the record is built as for any probe and goes to
 * the probe's sink (ring buffer or aggregation).
 *
 * The stash is a legacy (`maps` section) definition: the runtime sets its
 * key size, value size and entries per probe before creating it, and pins
 * it (with `pair_counts`) so that the probe's two programs share both.
 * Starts the LRU evicted are not counted here: user space computes them,
 * exactly, as stashed - matched - (entries still in the stash).
 */
#ifndef TRACECTL_PAIR_H
#define TRACECTL_PAIR_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"
#include "bits.h"
/* struct tc_map_def */
#include "agg.h"

/* bpf_map_update_elem's error for BPF_NOEXIST on a present key (-EEXIST). */
#define TC_ERR_EXIST (-17)

/* key = the match key, value = the start timestamp and start values. */
struct tc_map_def SEC("maps") stash = {
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = 8,
	.value_size = 8,
	.max_entries = 1,
};

/* The probe's counters, per CPU, by TC_PC_* key. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_PC_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} pair_counts SEC(".maps");

static __always_inline void tc_pair_count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&pair_counts, &key);

	if (n)
		*n += 1;
}

/*
 * The layout the verifier must be able to bound (and the runtime always
 * writes): 0 when valid, else TC_UNKNOWN.
 */
static __always_inline int tc_pair_layout(__u32 value_off, __u32 value_size, __u32 key_off,
					  __u32 key_size)
{
	if (value_off < TC_RECORD_HEADER || value_off > TC_MAX_RECORD - TC_MAX_PAIR_KEY)
		return TC_UNKNOWN;
	if (key_off > TC_MAX_RECORD - TC_MAX_PAIR_KEY)
		return TC_UNKNOWN;
	if (key_size == 0 || key_size > TC_MAX_PAIR_KEY)
		return TC_UNKNOWN;
	if (value_size < 8 || value_off + value_size != key_off)
		return TC_UNKNOWN;
	return 0;
}

/*
 * The start program's sink: stashes the record's start values under its
 * match key, the start timestamp `ts` (the header's) first. 0, or
 * TC_UNKNOWN for an invalid layout.
 */
static __always_inline int tc_stash(__u8 *rec, __u64 ts, __u32 value_off, __u32 value_size,
				    __u32 key_off, __u32 key_size)
{
	long r;

	if (tc_pair_layout(value_off, value_size, key_off, key_size))
		return TC_UNKNOWN;
	*(__u64 *)(rec + value_off) = ts;
	r = bpf_map_update_elem(&stash, rec + key_off, rec + value_off, BPF_NOEXIST);
	if (r == 0) {
		tc_pair_count(TC_PC_STASHED);
	} else if (r == TC_ERR_EXIST) {
		tc_pair_count(TC_PC_REPLACED);
		if (bpf_map_update_elem(&stash, rec + key_off, rec + value_off, BPF_ANY))
			tc_pair_count(TC_PC_FAILED);
	} else {
		tc_pair_count(TC_PC_FAILED);
	}
	return 0;
}

/*
 * The end program's join: 1 when the start was found (its values copied to
 * the record, the key deleted, the first word turned into the latency:
 * `ts`, the end's header timestamp, minus the start's); 0
 * when there is none (counted); TC_UNKNOWN for an invalid layout.
 */
static __always_inline int tc_join(__u8 *rec, __u64 ts, __u32 value_off, __u32 value_size,
				   __u32 key_off, __u32 key_size)
{
	__u64 *first;
	void *v;

	if (tc_pair_layout(value_off, value_size, key_off, key_size))
		return TC_UNKNOWN;
	v = bpf_map_lookup_elem(&stash, rec + key_off);
	if (!v) {
		tc_pair_count(TC_PC_UNMATCHED);
		return 0;
	}
	/* Copy before the delete: the element may be reused once deleted. */
	bpf_probe_read_kernel(rec + value_off, value_size, v);
	bpf_map_delete_elem(&stash, rec + key_off);
	tc_pair_count(TC_PC_MATCHED);
	first = (__u64 *)(rec + value_off);
	*first = ts - *first;
	return 1;
}

#endif /* TRACECTL_PAIR_H */
