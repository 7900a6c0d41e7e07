/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl template ABI: every code and limit the templates share with the
 * runtime (runtime/src/abi.rs) and the compiler (compiler/src/plan.rs).
 *
 * This file is the C side of ONE contract. runtime/tests/abi_layout.rs parses
 * every `#define TC_*` below and compares it with the Rust constant that
 * mirrors it: a value that differs, a define with no Rust mirror and a Rust
 * code with no define all fail that test, by name. Keep one numeric define per
 * line (`#define TC_NAME VALUE`); capture.h defines no ABI values of its own.
 */
#ifndef TRACECTL_ABI_H
#define TRACECTL_ABI_H

/* Limits (compiler/src/plan.rs). */
#define TC_RECORD_HEADER 16 /* RECORD_HEADER */
#define TC_MAX_RECORD 4096  /* MAX_RECORD */
#define TC_MAX_OPS 16       /* MAX_OPS */
#define TC_MAX_HOPS 4       /* MAX_HOPS */
#define TC_MAX_FILTER_OPS 32 /* MAX_FILTER_OPS */
#define TC_STR_POOL 256     /* STR_POOL */
#define TC_ARGS_AREA 256    /* ABI_ARGS_AREA */
#define TC_RET_OFF 96       /* RET_OFF */
/* Function-like kinds read ctx[0..TC_MAX_FUNC_ARGS) (RET_OFF / 8). */
#define TC_MAX_FUNC_ARGS 12 /* abi::MAX_FUNC_ARGS */
/* kprobe/uprobe: argument registers copied (rdi rsi rdx rcx r8 r9). */
#define TC_MAX_REG_ARGS 6   /* abi::MAX_REG_ARGS */
#define TC_MAX_CALC 24      /* MAX_CALC */
#define TC_MAX_AGG 8        /* MAX_AGG */
#define TC_HIST_BUCKETS 66  /* HIST_BUCKETS */
#define TC_MAX_AGG_VALUE 32768 /* MAX_AGG_VALUE: bytes of one key's value (per CPU) */
/* Largest match key of a paired probe; its offset (and the stashed bytes')
 * is at most TC_MAX_RECORD - TC_MAX_PAIR_KEY. */
#define TC_MAX_PAIR_KEY 512 /* MAX_PAIR_KEY */
/* join(): most strings read (the loop bound), and the bytes of its slot
 * (the joined text, its NUL, one truncation flag byte). */
#define TC_MAX_JOIN_ARGS 64 /* MAX_JOIN_ARGS */
#define TC_JOIN_BYTES 1024  /* JOIN_BYTES */
/* Frames the stack map keeps of a stack (its value size / 8). */
#define TC_STACK_FRAMES 127 /* MAX_STACK_FRAMES */

/* tc_op.base (abi::base) */
#define TC_BASE_ARG 1
#define TC_BASE_CTX 2
#define TC_BASE_BUILTIN 3
#define TC_BASE_RECORD 4  /* the address of the record being built */

/* tc_op.builtin (abi::builtin) */
#define TC_BI_PID 1
#define TC_BI_TID 2
#define TC_BI_UID 3
#define TC_BI_GID 4
#define TC_BI_COMM 5
#define TC_BI_TS 6
#define TC_BI_CPU 7
#define TC_BI_CGROUP 8
#define TC_BI_TASK 9     /* the current struct task_struct * */
#define TC_BI_KSTACK 10  /* the kernel stack's id in `stacks` (stack.h) */
#define TC_BI_USTACK 11  /* the user stack's id in `stacks` */

/* tc_op.read (abi::read) */
#define TC_READ_VALUE 1
#define TC_READ_INT 2
#define TC_READ_STR 3
#define TC_READ_BYTES 4
#define TC_READ_DATALOC 5
#define TC_READ_JOIN 6   /* join(): a NULL-terminated array of strings, joined with spaces */

/* address spaces, tc_op.read_mem and tc_op.hop_mem (abi::mem) */
#define TC_MEM_KERNEL 0
#define TC_MEM_USER 1

/* tc_op.transform (abi::transform) */
#define TC_XF_NONE 0
#define TC_XF_BSWAP16 1
#define TC_XF_BSWAP32 2

/* tc_filter_op.kind (abi::filter) */
#define TC_F_CONST 1
#define TC_F_CMP_IMM 2
#define TC_F_CMP_SLOTS 3
#define TC_F_CMP_STR 4
#define TC_F_AND 5
#define TC_F_OR 6
#define TC_F_NOT 7

/* tc_filter_op.cmp (abi::cmp) */
#define TC_CMP_EQ 0
#define TC_CMP_NE 1
#define TC_CMP_LT 2
#define TC_CMP_LE 3
#define TC_CMP_GT 4
#define TC_CMP_GE 5

/* tc_filter_op.flags, bits (abi::filter::FF_*) */
#define TC_FF_SIGNED 1
#define TC_FF_PREFIX 2
#define TC_FF_NEGATE 4
#define TC_FF_VALUE 8

/* tc_calc.op (abi::calc) */
#define TC_OP_ADD 1
#define TC_OP_SUB 2
#define TC_OP_MUL 3
#define TC_OP_DIV 4
#define TC_OP_MOD 5
#define TC_OP_AND 6
#define TC_OP_OR 7
#define TC_OP_XOR 8
#define TC_OP_SHL 9
#define TC_OP_SHR 10

/* tc_calc.flags, bits (abi::calc::CF_*) */
#define TC_CF_SIGNED 1
#define TC_CF_IMM_A 2
#define TC_CF_IMM_B 4

/* tc_config.sink (abi::sink) */
#define TC_SINK_RING 0
#define TC_SINK_AGG 1
#define TC_SINK_STASH 2   /* a paired probe's start program: the stash (pair.h) */

/* tc_config.pair: which half of a paired probe the program is (abi::pair) */
#define TC_PAIR_NONE 0
#define TC_PAIR_START 1
#define TC_PAIR_END 2

/* tc_agg.func (abi::agg) */
#define TC_AGG_COUNT 1
#define TC_AGG_SUM 2
#define TC_AGG_MIN 3
#define TC_AGG_MAX 4
#define TC_AGG_AVG 5
#define TC_AGG_HIST 6
#define TC_AGG_LHIST 7

/* tc_agg.flags, bits (abi::agg::AF_*) */
#define TC_AF_SIGNED 1

/* tc_config.flags, bits (abi::CFG_*) */
#define TC_CFG_NEED_RET 1 /* fexit: also copy the return value (ctx[nargs]) */
#define TC_CFG_NO_TS 2    /* no time column: leave the header's timestamp 0 */
#define TC_CFG_SCRATCH 4  /* build records in the scratch area, never in place (join()) */
#define TC_CFG_CGROUP 8   /* only tasks in the cgroup of `cgroup_filter` (or below it) */

/* Per-CPU counters in the `lost` map, by key (abi::lost) */
#define TC_LOST_RING 0    /* records the ring buffer could not take */
#define TC_LOST_UNKNOWN 1 /* events dropped: the config holds a code the template does not know */
#define TC_LOST_SLOTS 2   /* entries of the map */

/* Per-CPU counters of a paired probe in its `pair_counts` map, by key
 * (abi::pair::PC_*); shared by its start and end programs. */
#define TC_PC_STASHED 0   /* starts stashed under a key not in the stash */
#define TC_PC_REPLACED 1  /* starts whose key was still stashed (recursion, a lost end): overwritten */
#define TC_PC_MATCHED 2   /* ends that found their start (joined, then deleted) */
#define TC_PC_UNMATCHED 3 /* ends without a stashed start (never seen, or evicted) */
#define TC_PC_FAILED 4    /* starts the stash refused for another reason than a present key */
#define TC_PC_SLOTS 5     /* entries of the map */

#endif /* TRACECTL_ABI_H */
