/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Branch-free integer helpers shared by the filter (capture.h), arithmetic
 * (calc.h) and aggregation (agg.h). Branch-free so that data-dependent
 * results never fork the verifier's state.
 */
#ifndef TRACECTL_BITS_H
#define TRACECTL_BITS_H

#include <linux/types.h>

/*
 * An unknown code in the configuration (one runtime/src/abi.rs would never
 * write): the event is dropped and counted in lost[TC_LOST_UNKNOWN]. Every
 * switch on a configuration code lists its known codes explicitly; with a
 * valid (frozen, known) configuration the verifier prunes these arms.
 */
enum { TC_UNKNOWN = 2 };

/* Hide a value from the optimiser so it cannot turn arithmetic into branches. */
#define tc_opaque(x) asm volatile("" : "+r"(x))

/* 1 if x == 0, else 0. */
static __always_inline __u64 tc_is_zero(__u64 x)
{
	__u64 n = 0 - x;

	tc_opaque(n);
	return ((x | n) >> 63) ^ 1;
}

/* unsigned a < b: the borrow out of a - b */
static __always_inline __u64 tc_ult(__u64 a, __u64 b)
{
	__u64 d = a - b;

	tc_opaque(d);
	return ((~a & b) | (~(a ^ b) & d)) >> 63;
}

/* a < b, signed or unsigned. */
static __always_inline __u64 tc_lt(__u64 a, __u64 b, int is_signed)
{
	if (is_signed) {
		a ^= 1ULL << 63;
		b ^= 1ULL << 63;
	}
	return tc_ult(a, b);
}

/* c ? a : b, for c in {0, 1}. */
static __always_inline __u64 tc_select(__u64 c, __u64 a, __u64 b)
{
	__u64 m = 0 - c;

	tc_opaque(m);
	return (a & m) | (b & ~m);
}

#endif /* TRACECTL_BITS_H */
