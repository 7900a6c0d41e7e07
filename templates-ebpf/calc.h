/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl arithmetic (spec-v2 section 1): three-address instructions over
 * record slots, `dst = a OP b`, where either operand may be the immediate.
 * The compiler turns every arithmetic expression into a sequence of these
 * (post-order), writing intermediate results into hidden record slots.
 *
 * 64-bit; signed (TC_CF_SIGNED) when either C operand is signed, which
 * changes /, % and >>. Division and modulo by zero give 0 (the compiler
 * refuses a constant zero). Shift counts are taken modulo 64.
 * BPF before cpu v4 has no signed division: it is done on magnitudes, with
 * the sign put back (C's truncation toward zero; % takes the dividend's sign).
 */
#ifndef TRACECTL_CALC_H
#define TRACECTL_CALC_H

#include <linux/types.h>
#include "abi.h"
#include "bits.h"

/* One arithmetic instruction. 24 bytes. */
struct tc_calc {
	__u64 imm;               /* the operand flagged TC_CF_IMM_A or TC_CF_IMM_B */
	__u32 dst;               /* record offset of the result slot */
	__u32 a;                 /* record offset of the left slot (unless IMM_A) */
	__u32 b;                 /* record offset of the right slot (unless IMM_B) */
	__u8 op;                 /* TC_OP_* */
	__u8 flags;              /* TC_CF_* */
	__u8 _pad[2];
};

/* a / b (or a % b with `mod`), 0 when b == 0. */
static __always_inline __u64 tc_div(__u64 a, __u64 b, int is_signed, int mod)
{
	__u64 ma = 0, mb = 0, nz, r;

	if (is_signed) {
		ma = (__u64)((__s64)a >> 63);
		mb = (__u64)((__s64)b >> 63);
		a = (a ^ ma) - ma;
		b = (b ^ mb) - mb;
	}
	/* BPF defines x / 0 == 0 and x % 0 == x: make both 0. */
	nz = 0 - (tc_is_zero(b) ^ 1);
	if (mod) {
		r = (a % b) & nz;
		return (r ^ ma) - ma;
	}
	r = (a / b) & nz;
	return (r ^ (ma ^ mb)) - (ma ^ mb);
}

/* Runs one instruction on `rec`: 0, or TC_UNKNOWN for an unknown operator. */
static __always_inline int tc_run_calc(__u8 *rec, const volatile struct tc_calc *c)
{
	__u8 flags = c->flags;
	int sg = flags & TC_CF_SIGNED;
	__u64 a, b, r;

	a = (flags & TC_CF_IMM_A) ? c->imm : *(const __u64 *)(rec + c->a);
	b = (flags & TC_CF_IMM_B) ? c->imm : *(const __u64 *)(rec + c->b);
	switch (c->op) {
	case TC_OP_ADD:
		r = a + b;
		break;
	case TC_OP_SUB:
		r = a - b;
		break;
	case TC_OP_MUL:
		r = a * b;
		break;
	case TC_OP_DIV:
		r = tc_div(a, b, sg, 0);
		break;
	case TC_OP_MOD:
		r = tc_div(a, b, sg, 1);
		break;
	case TC_OP_AND:
		r = a & b;
		break;
	case TC_OP_OR:
		r = a | b;
		break;
	case TC_OP_XOR:
		r = a ^ b;
		break;
	case TC_OP_SHL:
		r = a << (b & 63);
		break;
	case TC_OP_SHR:
		if (sg)
			r = (__u64)((__s64)a >> (b & 63));
		else
			r = a >> (b & 63);
		break;
	default:
		return TC_UNKNOWN;
	}
	*(__u64 *)(rec + c->dst) = r;
	return 0;
}

#endif /* TRACECTL_CALC_H */
