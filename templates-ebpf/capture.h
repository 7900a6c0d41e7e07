/* SPDX-License-Identifier: GPL-2.0 */
/*
 * tracectl capture templates: the code every template shares.
 *
 * A template is configured through ONE read-only global, `CFG` (a
 * `const volatile struct tc_config`, in `.rodata`). The runtime writes it
 * before loading (aya `override_global("CFG", ...)`); the map is then frozen,
 * so the verifier knows every configuration value and only explores the code
 * a given spec uses. Loops therefore have constant bounds and stop with
 * `if (i >= CFG.n) break;`.
 *
 * Per event (see tc_begin/tc_finish):
 *   1. `--pid`: return unless the current tgid is CFG.target_tgid (0 = any);
 *      `--cgroup`/`--container` (TC_CFG_CGROUP): return unless the current
 *      task is in the cgroup the runtime put in `cgroup_filter`, or below.
 *   2. Look up the per-CPU scratch area (args area + record).
 *   3. The kind-specific program fills the args area (tracepoint: a copy of
 *      the raw record; function-like kinds: u64 argument i at 8*i, the return
 *      value at TC_RET_OFF).
 *   4. Build the record (tc_build): value ops, arithmetic (calc.h), and
 *      after the first CFG.filter_at ops and CFG.calc_at instructions the
 *      filter, which may drop the event; then the rest. The end program of
 *      a paired probe first runs a stage of its own (the key's ops, calcs
 *      and filter, up to CFG.join_at/join_calc/join_filter), then joins the
 *      stashed start (pair.h), then the rest as above.
 *      Ring sink without a filter (and unpaired): the record is built in
 *      place in the shared `events` ring buffer and submitted. Otherwise:
 *      built in the scratch record, then bpf_ringbuf_output(). Aggregation
 *      sink: built in the scratch record, then the probe's map is updated
 *      (agg.h). Stash sink (a paired probe's start): built in the scratch
 *      record, then stored in the probe's stash (pair.h).
 *   5. Records the ring buffer cannot take are counted in the per-CPU `lost`
 *      map (key TC_LOST_RING); events dropped because the configuration holds
 *      a code this template does not know, at key TC_LOST_UNKNOWN.
 *
 * Wakeups: BPF_RB_NO_WAKEUP unless, with this record, at least
 * CFG.wakeup_bytes are waiting (then BPF_RB_FORCE_WAKEUP). Userspace polls
 * with a short timeout, so stragglers are delivered within it.
 *
 * The layout of every struct below is mirrored by runtime/src/abi.rs and
 * checked against this object's BTF by runtime/tests/abi_layout.rs; so are
 * the codes and limits of abi.h.
 *
 * Only helpers available on Linux 5.10 are used.
 */
#ifndef TRACECTL_CAPTURE_H
#define TRACECTL_CAPTURE_H

#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

#if !defined(__TARGET_ARCH_x86)
#error "tracectl templates are built for x86-64 (-D__TARGET_ARCH_x86)"
#endif

/* Every code and limit (TC_*), shared with the runtime and the compiler. */
#include "abi.h"
/* Branch-free helpers, TC_UNKNOWN. */
#include "bits.h"
/* Arithmetic instructions (struct tc_calc). */
#include "calc.h"
/* The aggregation sink (struct tc_agg, the agg maps). */
#include "agg.h"
/* Start/end pairing (the stash, its counters, tc_stash and tc_join). */
#include "pair.h"
/* Stacks (the shared stack map, tc_stack_id). */
#include "stack.h"

/*
 * One value op: start from a base, follow nhops pointers, do one final read,
 * transform, store at `slot` bytes into the record. 56 bytes.
 *
 * Hop number index_hop - 1 (none when index_hop is 0) is indexed: before its
 * load, p += index_scale * *(u32 *)(p + index_off), an array element chosen
 * at run time (`pid->numbers[pid->level]`).
 */
struct tc_op {
	__u32 slot;              /* record offset of the slot */
	__u32 slot_size;         /* bytes of the slot */
	__u32 base_off;          /* ARG: offset in the args area */
	__u32 read_off;          /* INT/STR/BYTES: offset from the pointer; DATALOC: locator offset in ctx */
	__u32 read_len;          /* INT: bytes (1,2,4,8); STR/DATALOC: max (with NUL); BYTES: length */
	__u32 hop_off[TC_MAX_HOPS]; /* p = *(u64 *)(p + hop_off[h]) */
	__u8 hop_mem[TC_MAX_HOPS];  /* TC_MEM_* of each hop */
	__u8 base;               /* TC_BASE_* */
	__u8 base_size;          /* ARG: width 1,2,4,8 */
	__u8 base_signed;        /* ARG: sign-extend */
	__u8 builtin;            /* BUILTIN: TC_BI_* */
	__u8 nhops;              /* hops used, <= TC_MAX_HOPS */
	__u8 read;               /* TC_READ_* */
	__u8 read_mem;           /* TC_MEM_* of the final read */
	__u8 read_signed;        /* INT: sign-extend */
	__u8 bit_off;            /* INT bitfield: value = (raw >> bit_off) & mask(bit_size) */
	__u8 bit_size;           /* INT bitfield width, 0 = not a bitfield */
	__u8 transform;          /* TC_XF_* */
	__u8 index_hop;          /* 1 + the hop indexed first; 0 = none */
	__u8 index_scale;        /* bytes per element of the indexed hop */
	__u8 _pad;
	__u16 index_off;         /* offset of the u32 index from the pointer */
};

/* One filter instruction (postfix, over a stack of booleans). 24 bytes. */
struct tc_filter_op {
	__u64 imm;               /* CMP_IMM: immediate (two's complement) */
	__u32 a;                 /* CMP_*: (left) slot offset */
	__u32 b;                 /* CMP_SLOTS: right slot; CMP_STR: offset in strings */
	__u32 len;               /* CMP_STR: length of the constant (no NUL) */
	__u8 kind;               /* TC_F_* */
	__u8 cmp;                /* TC_CMP_* */
	__u8 flags;              /* TC_FF_* */
	__u8 _pad;
};

/* The whole configuration of one probe. 2848 bytes. */
struct tc_config {
	__u64 wakeup_bytes;      /* force a wakeup once this many bytes wait (0: every record) */
	__u32 probe_index;       /* written into every record header */
	__u32 target_tgid;       /* only this process (tgid); 0 = any */
	__u32 nargs;             /* function args to copy into the args area */
	__u32 ctx_copy;          /* tracepoint: bytes of the raw record to copy */
	__u32 record_size;       /* bytes emitted, header included */
	__u32 nops;              /* value ops used */
	__u32 filter_at;         /* run the filter once this many ops ran */
	__u32 nfilter;           /* filter instructions (0 = keep all) */
	__u32 flags;             /* TC_CFG_* */
	__u32 _pad0;
	struct tc_op ops[TC_MAX_OPS];
	struct tc_filter_op filter[TC_MAX_FILTER_OPS];
	__u8 strings[TC_STR_POOL];
	__u32 ncalc;             /* arithmetic instructions used */
	__u32 calc_at;           /* of which the filter needs the first calc_at */
	__u32 sink;              /* TC_SINK_*: where a kept record goes */
	__u32 nagg;              /* AGG: aggregate values */
	struct tc_calc calc[TC_MAX_CALC];
	struct tc_agg agg[TC_MAX_AGG];
	/* Pairing (pair.h); all 0 for an unpaired probe. */
	__u32 pair;              /* TC_PAIR_*: which half of a paired probe */
	__u32 value_off;         /* record offset of the stashed bytes (start ts, start values) */
	__u32 value_size;        /* bytes stashed */
	__u32 key_off;           /* record offset of the match key (value_off + value_size) */
	__u32 key_size;          /* bytes of the match key */
	__u32 join_at;           /* END: ops that run before the join */
	__u32 join_calc;         /* END: calcs that run before the join */
	__u32 join_filter;       /* END: filter instructions of the first stage (a program of its own) */
};

/* Record header: TC_RECORD_HEADER (16) bytes. */
struct tc_header {
	__u64 ts;
	__u32 probe_index;
	__u32 cpu;
};
_Static_assert(sizeof(struct tc_header) == TC_RECORD_HEADER, "record header size");

/* Per-CPU working memory: the args area then the record. The tail is never
 * written: it lets the verifier accept join()'s reads at a run-time offset
 * (it checks offset + length against both bounds, not their sum). */
struct tc_scratch {
	__u8 args[TC_ARGS_AREA];
	__u8 rec[TC_MAX_RECORD];
	__u8 tail[TC_JOIN_BYTES];
} __attribute__((aligned(8)));

const volatile struct tc_config CFG = {};

/* Shared by every probe of a spec (the runtime pins and reuses them). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TC_LOST_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/* --cgroup / --container: entry 0 is the cgroup (TC_CFG_CGROUP). Shared. */
struct {
	__uint(type, BPF_MAP_TYPE_CGROUP_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} cgroup_filter SEC(".maps");

/* Private to each probe. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tc_scratch);
} scratch SEC(".maps");

char LICENSE[] SEC("license") = "GPL";

/* lost[key] += 1 on this CPU (key: TC_LOST_*). */
static __always_inline void tc_count(__u32 key)
{
	__u64 *n = bpf_map_lookup_elem(&lost, &key);

	if (n)
		*n += 1;
}

/* ---- comparisons (branch-free: no verifier state forks in the filter) ---- */

/* 1 or 0; TC_UNKNOWN for an unknown operator. */
static __always_inline __u64 tc_cmp(__u64 a, __u64 b, __u8 cmp, int is_signed)
{
	switch (cmp) {
	case TC_CMP_EQ:
		return tc_is_zero(a ^ b);
	case TC_CMP_NE:
		return tc_is_zero(a ^ b) ^ 1;
	case TC_CMP_LT:
		return tc_lt(a, b, is_signed);
	case TC_CMP_LE:
		return tc_lt(b, a, is_signed) ^ 1;
	case TC_CMP_GT:
		return tc_lt(b, a, is_signed);
	case TC_CMP_GE:
		return tc_lt(a, b, is_signed) ^ 1;
	default:
		return TC_UNKNOWN;
	}
}

/* ---- value helpers ---- */

/* Keep the low `bits` bits of v, sign-extending when asked. */
static __always_inline __u64 tc_extend(__u64 v, __u32 bits, int is_signed)
{
	__u32 sh;

	if (bits == 0 || bits >= 64)
		return v;
	sh = 64 - bits;
	if (is_signed)
		return (__u64)(((__s64)(v << sh)) >> sh);
	return (v << sh) >> sh;
}

/* The read helpers return 0, or TC_UNKNOWN for an unknown address space. */
static __always_inline int tc_read(void *dst, __u32 len, __u64 src, __u8 mem)
{
	switch (mem) {
	case TC_MEM_KERNEL:
		bpf_probe_read_kernel(dst, len, (const void *)src);
		return 0;
	case TC_MEM_USER:
		bpf_probe_read_user(dst, len, (const void *)src);
		return 0;
	default:
		return TC_UNKNOWN;
	}
}

static __always_inline int tc_read_str(void *dst, __u32 len, __u64 src, __u8 mem)
{
	switch (mem) {
	case TC_MEM_KERNEL:
		bpf_probe_read_kernel_str(dst, len, (const void *)src);
		return 0;
	case TC_MEM_USER:
		bpf_probe_read_user_str(dst, len, (const void *)src);
		return 0;
	default:
		return TC_UNKNOWN;
	}
}

/* Like tc_read_str, returning the helper's result: the bytes copied with
 * the NUL, or a negative error. */
static __always_inline long tc_read_str_n(void *dst, __u32 len, __u64 src, __u8 mem)
{
	if (mem == TC_MEM_USER)
		return bpf_probe_read_user_str(dst, len, (const void *)src);
	return bpf_probe_read_kernel_str(dst, len, (const void *)src);
}

/*
 * join(): the NULL-terminated array of string pointers at `arr`, at most
 * max_args strings (<= TC_MAX_JOIN_ARGS), joined with spaces into `slot`
 * (`size` bytes: the text and its NUL in the first size - 1, then a flag
 * byte set to 1 when a string was cut or strings were left). A string that
 * cannot be read ends the list. 0, or TC_UNKNOWN for an unknown address
 * space.
 */
static __noinline int tc_read_join(__u8 *slot, __u32 size, __u32 max_args, __u64 arr,
					__u8 mem)
{
	__u64 room = size - 1; /* text and NUL */
	__u64 off = 0;
	__u32 i;

	if (mem != TC_MEM_USER && mem != TC_MEM_KERNEL)
		return TC_UNKNOWN;
	if (size < 2 || size > TC_JOIN_BYTES)
		return TC_UNKNOWN;
	for (i = 0; i < TC_MAX_JOIN_ARGS; i++) {
		__u64 p = 0, len;
		long n;

		tc_read(&p, 8, arr + 8 * (__u64)i, mem);
		if (!p)
			break;
		if (i >= max_args || off + 1 >= room) {
			slot[room] = 1;
			break;
		}
		/* Bounds the verifier sees on the registers the helper gets. */
		tc_opaque(off);
		if (off > TC_JOIN_BYTES)
			break;
		len = room - off;
		tc_opaque(len);
		if (len < 1 || len > TC_JOIN_BYTES)
			break;
		n = tc_read_str_n(slot + off, len, p, mem);
		if (n <= 0)
			break;
		if ((__u64)n >= len) { /* filled the rest: it may have been cut */
			slot[room] = 1;
			off = room;
			break;
		}
		off += n;
		slot[(off - 1) & (TC_JOIN_BYTES - 1)] = ' ';
	}
	if (off >= 1 && off <= room)
		slot[(off - 1) & (TC_JOIN_BYTES - 1)] = 0;
	return 0;
}

/* *v = the integer of `size` bytes (1, 2, 4, 8) in the args area; 0, or
 * TC_UNKNOWN for another width. */
static __always_inline int tc_load_arg(const __u8 *p, __u8 size, __u64 *v)
{
	switch (size) {
	case 1:
		*v = *(const __u8 *)p;
		return 0;
	case 2:
		*v = *(const __u16 *)p;
		return 0;
	case 4:
		*v = *(const __u32 *)p;
		return 0;
	case 8:
		*v = *(const __u64 *)p;
		return 0;
	default:
		return TC_UNKNOWN;
	}
}

/* ---- one value op ---- */

/* 0, or TC_UNKNOWN when the op holds a code or width this template does not know. */
static __always_inline int tc_run_op(void *ctx, const __u8 *args, __u8 *rec, __u32 i)
{
	const volatile struct tc_op *op = &CFG.ops[i];
	__u8 *slot = rec + op->slot;
	__u8 base = op->base;
	__u8 read = op->read;
	__u64 v = 0;
	__u32 h;

	if (base == TC_BASE_ARG) {
		__u8 size = op->base_size;

		if (tc_load_arg(args + op->base_off, size, &v))
			return TC_UNKNOWN;
		v = tc_extend(v, (__u32)size * 8, op->base_signed);
	} else if (base == TC_BASE_CTX) {
		v = (__u64)ctx;
	} else if (base == TC_BASE_RECORD) {
		v = (__u64)rec;
	} else if (base == TC_BASE_BUILTIN) {
		switch (op->builtin) {
		case TC_BI_PID:
			v = bpf_get_current_pid_tgid() >> 32;
			break;
		case TC_BI_TID:
			v = bpf_get_current_pid_tgid() & 0xffffffff;
			break;
		case TC_BI_UID:
			v = bpf_get_current_uid_gid() & 0xffffffff;
			break;
		case TC_BI_GID:
			v = bpf_get_current_uid_gid() >> 32;
			break;
		case TC_BI_COMM:
			bpf_get_current_comm(slot, 16);
			return 0;
		case TC_BI_TS:
			v = bpf_ktime_get_ns();
			break;
		case TC_BI_CPU:
			v = bpf_get_smp_processor_id();
			break;
		case TC_BI_CGROUP:
			v = bpf_get_current_cgroup_id();
			break;
		case TC_BI_TASK:
			v = (__u64)bpf_get_current_task();
			break;
		case TC_BI_KSTACK:
			v = tc_stack_id(ctx, 0);
			break;
		case TC_BI_USTACK:
			v = tc_stack_id(ctx, 1);
			break;
		default:
			return TC_UNKNOWN;
		}
	} else {
		return TC_UNKNOWN;
	}

	for (h = 0; h < TC_MAX_HOPS; h++) {
		__u64 next = 0;

		if (h >= op->nhops)
			break;
		if (op->index_hop == h + 1) {
			__u32 idx = 0;

			if (tc_read(&idx, 4, v + op->index_off, op->hop_mem[h]))
				return TC_UNKNOWN;
			v += (__u64)idx * op->index_scale;
		}
		if (tc_read(&next, 8, v + op->hop_off[h], op->hop_mem[h]))
			return TC_UNKNOWN;
		v = next;
	}

	switch (read) {
	case TC_READ_VALUE:
		break;
	case TC_READ_INT: {
		__u64 raw = 0;
		__u8 size = op->read_len;
		__u8 bsz = op->bit_size;

		switch (size) {
		case 1:
		case 2:
		case 4:
		case 8:
			break;
		default:
			return TC_UNKNOWN;
		}
		if (tc_read(&raw, size, v + op->read_off, op->read_mem))
			return TC_UNKNOWN;
		if (bsz)
			v = tc_extend(raw >> op->bit_off, bsz, op->read_signed);
		else
			v = tc_extend(raw, (__u32)size * 8, op->read_signed);
		break;
	}
	case TC_READ_STR:
		return tc_read_str(slot, op->read_len, v + op->read_off, op->read_mem);
	case TC_READ_BYTES:
		return tc_read(slot, op->read_len, v + op->read_off, op->read_mem);
	case TC_READ_DATALOC: { /* u32 locator in the raw record */
		__u32 loc = 0;

		bpf_probe_read_kernel(&loc, 4, (const __u8 *)ctx + op->read_off);
		bpf_probe_read_kernel_str(slot, op->read_len, (const __u8 *)ctx + (loc & 0xffff));
		return 0;
	}
	case TC_READ_JOIN:
		return tc_read_join(slot, op->slot_size, op->read_len, v + op->read_off, op->read_mem);
	default:
		return TC_UNKNOWN;
	}

	switch (op->transform) {
	case TC_XF_NONE:
		break;
	case TC_XF_BSWAP16:
		v = ((v & 0xff) << 8) | ((v >> 8) & 0xff);
		break;
	case TC_XF_BSWAP32:
		v = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >> 8) & 0xff00) |
		    ((v >> 24) & 0xff);
		break;
	default:
		return TC_UNKNOWN;
	}
	*(__u64 *)slot = v;
	return 0;
}

/* ---- the filter ---- */

/* Does the string in the slot at `a` equal (start with) strings[off..off+len]? */
static __always_inline __u64 tc_cmp_str(const __u8 *rec, const volatile struct tc_filter_op *f)
{
	const __u8 *str = rec + f->a;
	__u32 off = f->b;
	__u32 len = f->len;
	__u64 diff = 0;
	__u32 j;

	for (j = 0; j < TC_STR_POOL; j++) {
		if (j >= len)
			break;
		diff |= str[j] ^ CFG.strings[off + j];
	}
	if (!(f->flags & TC_FF_PREFIX))
		diff |= str[len];
	return tc_is_zero(diff);
}

/*
 * Runs the postfix program of instructions [from, to); the boolean stack
 * (empty at `from`) is a bitmask (top = bit 0). 1 keeps the event, 0 drops
 * it. An unknown instruction or operator drops it too, counted in
 * lost[TC_LOST_UNKNOWN].
 */
static __always_inline int tc_filter(const __u8 *rec, __u32 from, __u32 to)
{
	__u64 st = 0;
	__u32 k;

	for (k = 0; k < TC_MAX_FILTER_OPS; k++) {
		const volatile struct tc_filter_op *f = &CFG.filter[k];
		__u64 bit, top;

		if (k >= to)
			break;
		if (k < from)
			continue;
		switch (f->kind) {
		case TC_F_CONST:
			st = (st << 1) | ((f->flags & TC_FF_VALUE) ? 1 : 0);
			break;
		case TC_F_CMP_IMM:
			bit = tc_cmp(*(const __u64 *)(rec + f->a), f->imm, f->cmp,
				     f->flags & TC_FF_SIGNED);
			if (bit == TC_UNKNOWN)
				goto unknown;
			st = (st << 1) | bit;
			break;
		case TC_F_CMP_SLOTS:
			bit = tc_cmp(*(const __u64 *)(rec + f->a), *(const __u64 *)(rec + f->b),
				     f->cmp, f->flags & TC_FF_SIGNED);
			if (bit == TC_UNKNOWN)
				goto unknown;
			st = (st << 1) | bit;
			break;
		case TC_F_CMP_STR:
			bit = tc_cmp_str(rec, f);
			if (f->flags & TC_FF_NEGATE)
				bit ^= 1;
			st = (st << 1) | bit;
			break;
		case TC_F_AND:
			top = st & 1;
			st >>= 1;
			st &= ~1ULL | top;
			break;
		case TC_F_OR:
			top = st & 1;
			st >>= 1;
			st |= top;
			break;
		case TC_F_NOT:
			st ^= 1;
			break;
		default:
			goto unknown;
		}
	}
	return st & 1;
unknown:
	tc_count(TC_LOST_UNKNOWN);
	return 0;
}

/* ---- event begin / end ---- */

/* NULL when the event must be ignored. */
static __always_inline struct tc_scratch *tc_begin(void)
{
	__u32 zero = 0;

	if (CFG.target_tgid && (bpf_get_current_pid_tgid() >> 32) != CFG.target_tgid)
		return 0;
	if ((CFG.flags & TC_CFG_CGROUP) && bpf_current_task_under_cgroup(&cgroup_filter, 0) != 1)
		return 0;
	return bpf_map_lookup_elem(&scratch, &zero);
}

/* Zeroes the record after its header and stamps the header. */
static __always_inline void tc_start_record(__u8 *rec)
{
	struct tc_header *hdr = (struct tc_header *)rec;
	__u32 i;

	for (i = TC_RECORD_HEADER / 8; i < TC_MAX_RECORD / 8; i++) {
		if (i * 8 >= CFG.record_size)
			break;
		((__u64 *)rec)[i] = 0;
	}
	/* ~30 ns per event: skipped when nothing prints it (never in a paired
	 * probe: its latency is the difference of two header timestamps). */
	hdr->ts = ((CFG.flags & TC_CFG_NO_TS) && CFG.pair == TC_PAIR_NONE) ? 0 : bpf_ktime_get_ns();
	hdr->probe_index = CFG.probe_index;
	hdr->cpu = bpf_get_smp_processor_id();
}

/* Wake the reader once wakeup_bytes wait (0: on every record). */
static __always_inline __u64 tc_wakeup_flags(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) + CFG.record_size >= CFG.wakeup_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/*
 * Builds the record in `rec`: the value ops and the arithmetic the filter
 * needs (the compiler orders them first: CFG.filter_at ops, CFG.calc_at
 * instructions), the filter, then the rest. 1: keep the record; 0: the
 * filter dropped it (or, in a paired end, the event is not an end or has
 * no start); TC_UNKNOWN: the configuration holds an unknown code.
 *
 * A paired end program first runs its own stage: ops [0, join_at), calcs
 * [0, join_calc) and the filter program [0, join_filter) (false: not an
 * end, dropped, nothing counted, the stash untouched), then the join
 * (pair.h); the stages above then start at join_at, join_calc and
 * join_filter. Unpaired, those are 0 and the verifier prunes the stage.
 */
static __always_inline int tc_build(void *ctx, const __u8 *args, __u8 *rec)
{
	__u32 i;
	int r;

	if (CFG.pair == TC_PAIR_END) {
		for (i = 0; i < TC_MAX_OPS; i++) {
			if (i >= CFG.join_at)
				break;
			if (tc_run_op(ctx, args, rec, i))
				return TC_UNKNOWN;
		}
		for (i = 0; i < TC_MAX_CALC; i++) {
			if (i >= CFG.join_calc)
				break;
			if (tc_run_calc(rec, &CFG.calc[i]))
				return TC_UNKNOWN;
		}
		if (CFG.join_filter && !tc_filter(rec, 0, CFG.join_filter))
			return 0;
		r = tc_join(rec, ((struct tc_header *)rec)->ts, CFG.value_off, CFG.value_size,
			    CFG.key_off, CFG.key_size);
		if (r != 1)
			return r;
	}
	for (i = 0; i < TC_MAX_OPS; i++) {
		if (i >= CFG.filter_at)
			break;
		if (i < CFG.join_at)
			continue;
		if (tc_run_op(ctx, args, rec, i))
			return TC_UNKNOWN;
	}
	for (i = 0; i < TC_MAX_CALC; i++) {
		if (i >= CFG.calc_at)
			break;
		if (i < CFG.join_calc)
			continue;
		if (tc_run_calc(rec, &CFG.calc[i]))
			return TC_UNKNOWN;
	}
	if (CFG.nfilter > CFG.join_filter && !tc_filter(rec, CFG.join_filter, CFG.nfilter))
		return 0;
	for (i = 0; i < TC_MAX_OPS; i++) {
		if (i >= CFG.nops)
			break;
		if (i < CFG.filter_at)
			continue;
		if (tc_run_op(ctx, args, rec, i))
			return TC_UNKNOWN;
	}
	for (i = 0; i < TC_MAX_CALC; i++) {
		if (i >= CFG.ncalc)
			break;
		if (i < CFG.calc_at)
			continue;
		if (tc_run_calc(rec, &CFG.calc[i]))
			return TC_UNKNOWN;
	}
	return 1;
}

/*
 * Builds the record and hands it to the probe's sink.
 *
 * TC_SINK_RING: without a filter every event becomes a record, so it is
 * built in place in the ring buffer (reserve, fill, submit: no copy). With
 * one it is built in the per-CPU scratch area and copied into the ring only
 * if it passes, so rejected events never take ring space. A paired end
 * program always takes the scratch path: an end without a start must take
 * no ring space (and is no lost record).
 * TC_SINK_AGG: built in the scratch area; if it passes, the probe's
 * aggregation map is updated (agg.h). Nothing is sent.
 * TC_SINK_STASH (a paired probe's start program): built in the scratch
 * area; if it passes, stored in the probe's stash (pair.h). Nothing is sent.
 */
static __always_inline int tc_finish(void *ctx, struct tc_scratch *s)
{
	__u8 *rec;
	int r;

	switch (CFG.sink) {
	case TC_SINK_RING:
		if (!CFG.nfilter && CFG.pair == TC_PAIR_NONE && !(CFG.flags & TC_CFG_SCRATCH)) {
			rec = bpf_ringbuf_reserve(&events, CFG.record_size, 0);
			if (!rec) {
				tc_count(TC_LOST_RING);
				return 0;
			}
			tc_start_record(rec);
			if (tc_build(ctx, s->args, rec) != 1) {
				bpf_ringbuf_discard(rec, BPF_RB_NO_WAKEUP);
				tc_count(TC_LOST_UNKNOWN);
				return 0;
			}
			bpf_ringbuf_submit(rec, tc_wakeup_flags());
			return 0;
		}
		rec = s->rec;
		tc_start_record(rec);
		r = tc_build(ctx, s->args, rec);
		if (r == 1) {
			if (bpf_ringbuf_output(&events, rec, CFG.record_size, tc_wakeup_flags()))
				tc_count(TC_LOST_RING);
		} else if (r) {
			tc_count(TC_LOST_UNKNOWN);
		}
		return 0;
	case TC_SINK_AGG:
		rec = s->rec;
		tc_start_record(rec);
		r = tc_build(ctx, s->args, rec);
		if (r == 1)
			r = tc_agg_sink(rec, CFG.nagg, CFG.agg) ? TC_UNKNOWN : 0;
		if (r)
			tc_count(TC_LOST_UNKNOWN);
		return 0;
	case TC_SINK_STASH:
		rec = s->rec;
		tc_start_record(rec);
		r = CFG.pair == TC_PAIR_START ? tc_build(ctx, s->args, rec) : TC_UNKNOWN;
		if (r == 1)
			r = tc_stash(rec, ((struct tc_header *)rec)->ts, CFG.value_off, CFG.value_size,
				     CFG.key_off, CFG.key_size);
		if (r)
			tc_count(TC_LOST_UNKNOWN);
		return 0;
	default:
		tc_count(TC_LOST_UNKNOWN);
		return 0;
	}
}

/* ---- args-area fillers (the only thing that differs between kinds) ---- */

/*
 * BTF-typed contexts (tp_btf, fentry, fexit): ctx is an array of u64.
 * Every access uses a literal index (the verifier rejects ctx accesses at a
 * variable offset). With `ret`, ctx[nargs] (fexit's return value) is copied
 * too, then moved to TC_RET_OFF inside the map value (a constant offset there).
 */
static __always_inline void tc_fill_btf(__u64 *ctx, struct tc_scratch *s, int ret)
{
	__u64 *a = (__u64 *)s->args;
	__u32 n = CFG.nargs;

	if (ret && (CFG.flags & TC_CFG_NEED_RET))
		n += 1;
#define TC_COPY(k)                                                                                 \
	if (n > k)                                                                                 \
		a[k] = ctx[k];
	TC_COPY(0) TC_COPY(1) TC_COPY(2) TC_COPY(3) TC_COPY(4) TC_COPY(5)
	TC_COPY(6) TC_COPY(7) TC_COPY(8) TC_COPY(9) TC_COPY(10) TC_COPY(11) TC_COPY(12)
#undef TC_COPY
	if (ret && (CFG.flags & TC_CFG_NEED_RET))
		a[TC_RET_OFF / 8] = a[CFG.nargs];
}

/*
 * kprobe / uprobe: arguments from the registers, x86-64 System V / kernel
 * calling convention, with the uapi names of struct pt_regs (same layout as
 * the kernel's; libbpf 1.1's bpf_tracing.h has no PT_REGS_PARM6).
 */
static __always_inline void tc_fill_regs(struct pt_regs *ctx, struct tc_scratch *s)
{
	__u64 *a = (__u64 *)s->args;
	__u32 n = CFG.nargs;

	_Static_assert(TC_MAX_REG_ARGS == 6, "tc_fill_regs copies six registers");
	if (n > 0)
		a[0] = ctx->rdi;
	if (n > 1)
		a[1] = ctx->rsi;
	if (n > 2)
		a[2] = ctx->rdx;
	if (n > 3)
		a[3] = ctx->rcx;
	if (n > 4)
		a[4] = ctx->r8;
	if (n > 5)
		a[5] = ctx->r9;
}

/* kretprobe / uretprobe: the return value (rax). */
static __always_inline void tc_fill_rc(struct pt_regs *ctx, struct tc_scratch *s)
{
	*(__u64 *)(s->args + TC_RET_OFF) = ctx->rax;
}

#endif /* TRACECTL_CAPTURE_H */
