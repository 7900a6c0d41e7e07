/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl aggregation sink (spec-v2 section 2): instead of sending the
 * record, update a per-CPU hash map keyed by the record's first `key_size`
 * bytes after the header (the compiler lays the `by:` values out there).
 *
 * The map (`agg`) is private to the probe; its key and value sizes and its
 * number of entries (max_keys) are set by the runtime before it is created
 * (legacy `maps` definitions, so no BTF type fixes their sizes). Values are
 * per CPU, so an existing key is updated in place with plain loads and
 * stores: no lock, no map_update_elem per event. A new key is inserted once
 * (BPF_NOEXIST, from the all-zero `agg_init` value); when the map is full
 * the event is counted in `agg_lost`, never silently dropped.
 *
 * Value layout, u64 words from tc_agg.off:
 *   COUNT  [0] += 1
 *   SUM    [0] += x
 *   MIN    [0] = max([0], ~ord(x))   (0, the zero value, is "no value yet")
 *   MAX    [0] = max([0], ord(x))
 *   AVG    [0] += x, [1] += 1
 *   HIST   [bucket] += 1: 0 = negative, 1 = zero, 2 + floor(log2 x) (66 buckets)
 *   LHIST  [bucket] += 1: 0 = below lo, 1 + (x - lo) / step, nbuckets - 1 = at or above hi
 *          (the clamp to the last bucket, which every histogram update does)
 * where ord(x) = x ^ (1 << 63) for signed x (order-preserving as unsigned).
 * User space merges CPUs: sums added, MIN/MAX words by unsigned max.
 */
#ifndef TRACECTL_AGG_H
#define TRACECTL_AGG_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "abi.h"
#include "bits.h"

/* One aggregate value of the probe. 32 bytes. */
struct tc_agg {
	__u64 lo;                /* LHIST: lowest bucket bound (two's complement) */
	__u64 step;              /* LHIST: bucket width (> 0) */
	__u32 off;               /* byte offset of the value in the map value */
	__u32 arg;               /* record offset of the argument's slot */
	__u32 nbuckets;          /* HIST, LHIST: buckets (words) */
	__u8 func;               /* TC_AGG_* */
	__u8 flags;              /* TC_AF_* */
	__u8 _pad[2];
};

/* A legacy map definition: the runtime overrides key and value sizes. */
struct tc_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct tc_map_def SEC("maps") agg = {
	.type = BPF_MAP_TYPE_PERCPU_HASH,
	.key_size = 8,
	.value_size = 8,
	.max_entries = 1,
};

/* One all-zero value: what a new key starts from. */
struct tc_map_def SEC("maps") agg_init = {
	.type = BPF_MAP_TYPE_PERCPU_ARRAY,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 1,
};

/* Events whose key did not fit in `agg`, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} agg_lost SEC(".maps");

/* Order-preserving unsigned image of x. */
static __always_inline __u64 tc_ord(__u64 x, int is_signed)
{
	return is_signed ? x ^ (1ULL << 63) : x;
}

/* max(a, b), unsigned. */
static __always_inline __u64 tc_umax(__u64 a, __u64 b)
{
	return tc_select(tc_ult(a, b), b, a);
}

/* floor(log2(v)) for v > 0 (0 for v == 0). */
static __always_inline __u64 tc_log2(__u64 v)
{
	__u64 r = 0, s;

	s = tc_ult(0xffffffffULL, v) << 5;
	v >>= s;
	r |= s;
	s = tc_ult(0xffff, v) << 4;
	v >>= s;
	r |= s;
	s = tc_ult(0xff, v) << 3;
	v >>= s;
	r |= s;
	s = tc_ult(0xf, v) << 2;
	v >>= s;
	r |= s;
	s = tc_ult(0x3, v) << 1;
	v >>= s;
	r |= s;
	r |= tc_ult(0x1, v);
	return r;
}

/* The power-of-two bucket of x (bpftrace's hist()). */
static __always_inline __u64 tc_hist_bucket(__u64 x, int is_signed)
{
	__u64 neg = is_signed ? x >> 63 : 0;
	__u64 idx = tc_select(tc_is_zero(x), 1, 2 + tc_log2(x));

	return tc_select(neg, 0, idx);
}

/*
 * The linear bucket of x (bpftrace's lhist()): 0 below lo, else
 * 1 + (x - lo) / step, which is nbuckets - 1 or more from hi on (hi =
 * lo + (nbuckets - 2) * step): the caller's clamp puts those in the last
 * bucket, "at or above hi".
 */
static __always_inline __u64 tc_lhist_bucket(__u64 x, const volatile struct tc_agg *a,
					     int is_signed)
{
	__u64 lo = a->lo;
	__u64 below = tc_lt(x, lo, is_signed);
	__u64 idx = 1 + (x - lo) / a->step;

	return tc_select(below, 0, idx);
}

/* Applies value `a` of the event in `rec` to the key's value `v` (this CPU's). */
static __always_inline int tc_agg_apply(__u8 *v, const __u8 *rec, const volatile struct tc_agg *a)
{
	__u64 *w = (__u64 *)(v + a->off);
	__u64 x = *(const __u64 *)(rec + a->arg);
	int sg = a->flags & TC_AF_SIGNED;
	__u64 idx;

	switch (a->func) {
	case TC_AGG_COUNT:
		w[0] += 1;
		return 0;
	case TC_AGG_SUM:
		w[0] += x;
		return 0;
	case TC_AGG_MIN:
		w[0] = tc_umax(w[0], ~tc_ord(x, sg));
		return 0;
	case TC_AGG_MAX:
		w[0] = tc_umax(w[0], tc_ord(x, sg));
		return 0;
	case TC_AGG_AVG:
		w[0] += x;
		w[1] += 1;
		return 0;
	case TC_AGG_HIST:
		idx = tc_hist_bucket(x, sg);
		break;
	case TC_AGG_LHIST:
		idx = tc_lhist_bucket(x, a, sg);
		break;
	default:
		return TC_UNKNOWN;
	}
	/* The last bucket takes everything from its start on (lhist: at or
	 * above hi); also the bound the verifier sees: idx < nbuckets, and
	 * off + 8 * nbuckets fits the map value (abi::encode checks it). */
	tc_opaque(idx);
	if (idx >= a->nbuckets)
		idx = a->nbuckets - 1;
	w[idx] += 1;
	return 0;
}

/*
 * The aggregation sink: the record in `rec` passed the filter; update the
 * map. 0, or TC_UNKNOWN for an unknown code.
 */
static __always_inline int tc_agg_sink(const __u8 *rec, __u32 nagg,
				       const volatile struct tc_agg *aggs)
{
	const void *key = rec + TC_RECORD_HEADER;
	__u32 zero = 0, i;
	__u8 *v;

	v = bpf_map_lookup_elem(&agg, key);
	if (!v) {
		void *init = bpf_map_lookup_elem(&agg_init, &zero);
		__u64 *n;

		if (init)
			bpf_map_update_elem(&agg, key, init, BPF_NOEXIST);
		v = bpf_map_lookup_elem(&agg, key);
		if (!v) {
			/* The map is full (or the insert failed): counted. */
			n = bpf_map_lookup_elem(&agg_lost, &zero);
			if (n)
				*n += 1;
			return 0;
		}
	}
	for (i = 0; i < TC_MAX_AGG; i++) {
		if (i >= nagg)
			break;
		if (tc_agg_apply(v, rec, &aggs[i]))
			return TC_UNKNOWN;
	}
	return 0;
}

#endif /* TRACECTL_AGG_H */
