//! The template configuration ABI.
//!
//! Every template (templates-ebpf/capture.h) is configured by one read-only
//! global, `const volatile struct tc_config CFG`. [`TcConfig`] is its
//! `#[repr(C)]` mirror (same field order, explicit padding, no implicit
//! padding), and [`encode`] turns a plan's [`ProbeConfig`] into the exact
//! bytes of that global. The layout is checked against the committed
//! objects' BTF by `runtime/tests/abi_layout.rs`.
//!
//! Encoding re-validates every limit of the plan: a plan that would make a
//! template read or write outside its buffers is an error here, never a
//! verifier rejection or a panic. The finished configuration is then checked
//! code by code ([`TcConfig::check_codes`]): a code or width the templates do
//! not know is refused here (the templates would drop every event).
//!
//! The codes and limits are those of `templates-ebpf/abi.h`; the limits are
//! `compiler::plan`'s, used here, not repeated. `runtime/tests/abi_layout.rs`
//! compares every `#define TC_*` of abi.h with the constant below (or in
//! `plan`) that mirrors it.

use std::fmt;
use std::mem::{offset_of, size_of};

use tracectl_compiler::plan::{
    Base, Builtin, CmpOp, FilterOp, Mem, ProbeConfig, Read, Transform, ValueOp, ABI_ARGS_AREA,
    JOIN_BYTES, MAX_AGG, MAX_CALC, MAX_FILTER_OPS, MAX_HOPS, MAX_JOIN_ARGS, MAX_OPS, MAX_RECORD,
    MAX_STR, RECORD_HEADER, RET_OFF, STR_POOL,
};

pub mod agg;
pub mod calc;
pub mod pair;
pub use agg::TcAgg;
pub use calc::TcCalc;

/// Name of the configuration global in every template.
pub const CONFIG_SYMBOL: &str = "CFG";
/// Most arguments a BTF-typed template (tp_btf, fentry, fexit) copies:
/// `ctx[0..12)`, i.e. up to [`RET_OFF`].
pub const MAX_FUNC_ARGS: u32 = RET_OFF / 8;
/// Most arguments a register-based template (kprobe, uprobe) copies.
pub const MAX_REG_ARGS: u32 = 6;

/// Integer widths (bytes) the templates read: `tc_op.base_size` for an
/// argument, `tc_op.read_len` for an integer read.
pub const INT_WIDTHS: [u8; 4] = [1, 2, 4, 8];

/// `tc_op.base`
pub mod base {
    /// An integer in the args area.
    pub const ARG: u8 = 1;
    /// The raw tracepoint record's address.
    pub const CTX: u8 = 2;
    /// A helper-provided value.
    pub const BUILTIN: u8 = 3;
    /// The address of the record being built.
    pub const RECORD: u8 = 4;
    /// Every code the templates know.
    pub const ALL: [u8; 4] = [ARG, CTX, BUILTIN, RECORD];
}

/// `tc_op.builtin`
pub mod builtin {
    /// tgid
    pub const PID: u8 = 1;
    /// thread id
    pub const TID: u8 = 2;
    /// uid
    pub const UID: u8 = 3;
    /// gid
    pub const GID: u8 = 4;
    /// comm (16 bytes)
    pub const COMM: u8 = 5;
    /// bpf_ktime_get_ns
    pub const TS: u8 = 6;
    /// CPU number
    pub const CPU: u8 = 7;
    /// cgroup v2 id
    pub const CGROUP: u8 = 8;
    /// The current `struct task_struct *`
    pub const TASK: u8 = 9;
    /// `kstack`: the kernel stack's id in the shared stack map.
    pub const KSTACK: u8 = 10;
    /// `ustack`: the user stack's id in the shared stack map.
    pub const USTACK: u8 = 11;
    /// Every code the templates know.
    pub const ALL: [u8; 11] = [
        PID, TID, UID, GID, COMM, TS, CPU, CGROUP, TASK, KSTACK, USTACK,
    ];
}

/// `tc_op.read`
pub mod read {
    /// The current value.
    pub const VALUE: u8 = 1;
    /// An integer at `p + read_off`.
    pub const INT: u8 = 2;
    /// A NUL-terminated string at `p + read_off`.
    pub const STR: u8 = 3;
    /// Raw bytes at `p + read_off`.
    pub const BYTES: u8 = 4;
    /// A tracepoint `__data_loc` string.
    pub const DATALOC: u8 = 5;
    /// `join()`: an array of strings joined with spaces.
    pub const JOIN: u8 = 6;
    /// Every code the templates know.
    pub const ALL: [u8; 6] = [VALUE, INT, STR, BYTES, DATALOC, JOIN];
}

/// Address spaces (`tc_op.read_mem`, `tc_op.hop_mem`).
pub mod mem {
    /// bpf_probe_read_kernel*
    pub const KERNEL: u8 = 0;
    /// bpf_probe_read_user*
    pub const USER: u8 = 1;
    /// Every code the templates know.
    pub const ALL: [u8; 2] = [KERNEL, USER];
}

/// `tc_op.transform`
pub mod transform {
    /// As read.
    pub const NONE: u8 = 0;
    /// Swap the two low bytes.
    pub const BSWAP16: u8 = 1;
    /// Swap the four low bytes.
    pub const BSWAP32: u8 = 2;
    /// Every code the templates know.
    pub const ALL: [u8; 3] = [NONE, BSWAP16, BSWAP32];
}

/// `tc_filter_op.kind`
pub mod filter {
    /// Push a constant (`TC_FF_VALUE`).
    pub const CONST: u8 = 1;
    /// Push `slot <cmp> imm`.
    pub const CMP_IMM: u8 = 2;
    /// Push `slot_a <cmp> slot_b`.
    pub const CMP_SLOTS: u8 = 3;
    /// Push a string comparison.
    pub const CMP_STR: u8 = 4;
    /// Pop two, push and.
    pub const AND: u8 = 5;
    /// Pop two, push or.
    pub const OR: u8 = 6;
    /// Negate the top.
    pub const NOT: u8 = 7;
    /// Every instruction kind the templates know.
    pub const ALL: [u8; 7] = [CONST, CMP_IMM, CMP_SLOTS, CMP_STR, AND, OR, NOT];
    /// flags: signed comparison.
    pub const FF_SIGNED: u8 = 1;
    /// flags: prefix string match.
    pub const FF_PREFIX: u8 = 2;
    /// flags: negate a string match.
    pub const FF_NEGATE: u8 = 4;
    /// flags: the constant's value.
    pub const FF_VALUE: u8 = 8;
    /// Every flag bit the templates know.
    pub const FF_ALL: [u8; 4] = [FF_SIGNED, FF_PREFIX, FF_NEGATE, FF_VALUE];
}

/// `tc_filter_op.cmp`
pub mod cmp {
    /// `==`
    pub const EQ: u8 = 0;
    /// `!=`
    pub const NE: u8 = 1;
    /// `<`
    pub const LT: u8 = 2;
    /// `<=`
    pub const LE: u8 = 3;
    /// `>`
    pub const GT: u8 = 4;
    /// `>=`
    pub const GE: u8 = 5;
    /// Every operator the templates know.
    pub const ALL: [u8; 6] = [EQ, NE, LT, LE, GT, GE];
}

/// Keys of the per-CPU `lost` counters every template shares.
pub mod lost {
    /// Records the ring buffer could not take.
    pub const RING: u32 = 0;
    /// Events a template dropped because its configuration held a code it
    /// does not know ([`check_codes`](super::TcConfig::check_codes) refuses
    /// such configurations, so this stays 0 unless the two sides disagree).
    pub const UNKNOWN: u32 = 1;
    /// Entries of the map.
    pub const SLOTS: u32 = 2;
}

/// `tc_config.flags`: fexit must also copy the return value (`ctx[nargs]`).
pub const CFG_NEED_RET: u32 = 1;

/// `tc_config.flags`: no time column; the templates skip the timestamp.
pub const CFG_NO_TS: u32 = 2;

/// `tc_config.flags`: build records in the scratch area, never in place in
/// the ring buffer (a `join()` op writes at run-time offsets).
pub const CFG_SCRATCH: u32 = 4;

/// `tc_config.flags`: only tasks in the cgroup of the `cgroup_filter` map
/// (or below it): `--cgroup`, `--container`.
pub const CFG_CGROUP: u32 = 8;

/// Every `tc_config.flags` bit the templates know.
pub const CFG_ALL: [u32; 4] = [CFG_NEED_RET, CFG_NO_TS, CFG_SCRATCH, CFG_CGROUP];

/// Mirror of `struct tc_op` (56 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcOp {
    /// Record offset of the slot.
    pub slot: u32,
    /// Bytes of the slot.
    pub slot_size: u32,
    /// ARG: offset in the args area.
    pub base_off: u32,
    /// INT/STR/BYTES: offset from the pointer; DATALOC: locator offset.
    pub read_off: u32,
    /// INT: bytes; STR/DATALOC: max; BYTES: length.
    pub read_len: u32,
    /// Offsets of the pointer hops.
    pub hop_off: [u32; MAX_HOPS],
    /// Address space of each hop.
    pub hop_mem: [u8; MAX_HOPS],
    /// [`base`] kind.
    pub base: u8,
    /// ARG: width.
    pub base_size: u8,
    /// ARG: sign-extend.
    pub base_signed: u8,
    /// BUILTIN: which.
    pub builtin: u8,
    /// Hops used.
    pub nhops: u8,
    /// [`read`] kind.
    pub read: u8,
    /// Address space of the final read.
    pub read_mem: u8,
    /// INT: sign-extend.
    pub read_signed: u8,
    /// INT bitfield: bit offset in the bytes read.
    pub bit_off: u8,
    /// INT bitfield: width (0 = not a bitfield).
    pub bit_size: u8,
    /// [`transform`] kind.
    pub transform: u8,
    /// 1 + the hop indexed before its load; 0 = none.
    pub index_hop: u8,
    /// Bytes per element of the indexed hop.
    pub index_scale: u8,
    /// Padding.
    pub _pad: u8,
    /// Offset of the `u32` index from the pointer.
    pub index_off: u16,
}

/// Mirror of `struct tc_filter_op` (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcFilterOp {
    /// CMP_IMM: immediate.
    pub imm: u64,
    /// Left slot.
    pub a: u32,
    /// CMP_SLOTS: right slot; CMP_STR: offset in `strings`.
    pub b: u32,
    /// CMP_STR: constant length.
    pub len: u32,
    /// [`filter`] kind.
    pub kind: u8,
    /// [`cmp`] operator.
    pub cmp: u8,
    /// `filter::FF_*` flags.
    pub flags: u8,
    /// Padding.
    pub _pad: u8,
}

/// Mirror of `struct tc_config` (2848 bytes), the `CFG` global.
#[repr(C)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcConfig {
    /// Force a ring-buffer wakeup once this many bytes wait (0: every record).
    pub wakeup_bytes: u64,
    /// Written into every record header.
    pub probe_index: u32,
    /// Only this tgid (0 = any).
    pub target_tgid: u32,
    /// Function arguments to copy.
    pub nargs: u32,
    /// Tracepoint: raw record bytes to copy.
    pub ctx_copy: u32,
    /// Bytes emitted, header included.
    pub record_size: u32,
    /// Value ops used.
    pub nops: u32,
    /// Run the filter after this many ops.
    pub filter_at: u32,
    /// Filter instructions used.
    pub nfilter: u32,
    /// `CFG_*` flags.
    pub flags: u32,
    /// Padding.
    pub _pad0: u32,
    /// Value ops.
    pub ops: [TcOp; MAX_OPS],
    /// Filter program.
    pub filter: [TcFilterOp; MAX_FILTER_OPS],
    /// Filter string constants.
    pub strings: [u8; STR_POOL],
    /// Arithmetic instructions used.
    pub ncalc: u32,
    /// Of which the filter needs the first `calc_at`.
    pub calc_at: u32,
    /// Where kept records go (`agg::SINK_*`).
    pub sink: u32,
    /// Aggregates used.
    pub nagg: u32,
    /// Arithmetic instructions.
    pub calc: [TcCalc; MAX_CALC],
    /// Aggregates.
    pub agg: [TcAgg; MAX_AGG],
    /// Which half of a paired probe (`pair::NONE`, `START`, `END`).
    pub pair: u32,
    /// Record offset of the stashed bytes.
    pub value_off: u32,
    /// Bytes stashed (the start timestamp and the start values).
    pub value_size: u32,
    /// Record offset of the match key.
    pub key_off: u32,
    /// Bytes of the match key.
    pub key_size: u32,
    /// END: ops that run before the join.
    pub join_at: u32,
    /// END: calcs that run before the join.
    pub join_calc: u32,
    /// END: filter instructions of the first stage.
    pub join_filter: u32,
}

/// Size of `struct tc_config` in bytes.
pub const CONFIG_SIZE: usize = 2848;

const _: () = assert!(size_of::<TcOp>() == 56);
const _: () = assert!(size_of::<TcFilterOp>() == 24);
const _: () = assert!(size_of::<TcConfig>() == CONFIG_SIZE);

impl Default for TcConfig {
    fn default() -> Self {
        TcConfig {
            wakeup_bytes: 0,
            probe_index: 0,
            target_tgid: 0,
            nargs: 0,
            ctx_copy: 0,
            record_size: 0,
            nops: 0,
            filter_at: 0,
            nfilter: 0,
            flags: 0,
            _pad0: 0,
            ops: [TcOp::default(); MAX_OPS],
            filter: [TcFilterOp::default(); MAX_FILTER_OPS],
            strings: [0; STR_POOL],
            ncalc: 0,
            calc_at: 0,
            sink: agg::SINK_RING,
            nagg: 0,
            calc: [TcCalc::default(); MAX_CALC],
            agg: [TcAgg::default(); MAX_AGG],
            pair: pair::NONE,
            value_off: 0,
            value_size: 0,
            key_off: 0,
            key_size: 0,
            join_at: 0,
            join_calc: 0,
            join_filter: 0,
        }
    }
}

/// Writes values at explicit offsets (the `offset_of!` of the mirror).
struct Writer<'a>(&'a mut [u8]);

impl Writer<'_> {
    fn put(&mut self, off: usize, bytes: &[u8]) {
        self.0[off..off + bytes.len()].copy_from_slice(bytes);
    }
}

impl TcOp {
    fn write(&self, w: &mut Writer<'_>, at: usize) {
        w.put(at + offset_of!(TcOp, slot), &self.slot.to_ne_bytes());
        w.put(
            at + offset_of!(TcOp, slot_size),
            &self.slot_size.to_ne_bytes(),
        );
        w.put(
            at + offset_of!(TcOp, base_off),
            &self.base_off.to_ne_bytes(),
        );
        w.put(
            at + offset_of!(TcOp, read_off),
            &self.read_off.to_ne_bytes(),
        );
        w.put(
            at + offset_of!(TcOp, read_len),
            &self.read_len.to_ne_bytes(),
        );
        for (h, off) in self.hop_off.iter().enumerate() {
            w.put(at + offset_of!(TcOp, hop_off) + 4 * h, &off.to_ne_bytes());
        }
        w.put(at + offset_of!(TcOp, hop_mem), &self.hop_mem);
        w.put(at + offset_of!(TcOp, base), &[self.base]);
        w.put(at + offset_of!(TcOp, base_size), &[self.base_size]);
        w.put(at + offset_of!(TcOp, base_signed), &[self.base_signed]);
        w.put(at + offset_of!(TcOp, builtin), &[self.builtin]);
        w.put(at + offset_of!(TcOp, nhops), &[self.nhops]);
        w.put(at + offset_of!(TcOp, read), &[self.read]);
        w.put(at + offset_of!(TcOp, read_mem), &[self.read_mem]);
        w.put(at + offset_of!(TcOp, read_signed), &[self.read_signed]);
        w.put(at + offset_of!(TcOp, bit_off), &[self.bit_off]);
        w.put(at + offset_of!(TcOp, bit_size), &[self.bit_size]);
        w.put(at + offset_of!(TcOp, transform), &[self.transform]);
        w.put(at + offset_of!(TcOp, index_hop), &[self.index_hop]);
        w.put(at + offset_of!(TcOp, index_scale), &[self.index_scale]);
        w.put(
            at + offset_of!(TcOp, index_off),
            &self.index_off.to_ne_bytes(),
        );
    }
}

impl TcFilterOp {
    fn write(&self, w: &mut Writer<'_>, at: usize) {
        w.put(at + offset_of!(TcFilterOp, imm), &self.imm.to_ne_bytes());
        w.put(at + offset_of!(TcFilterOp, a), &self.a.to_ne_bytes());
        w.put(at + offset_of!(TcFilterOp, b), &self.b.to_ne_bytes());
        w.put(at + offset_of!(TcFilterOp, len), &self.len.to_ne_bytes());
        w.put(at + offset_of!(TcFilterOp, kind), &[self.kind]);
        w.put(at + offset_of!(TcFilterOp, cmp), &[self.cmp]);
        w.put(at + offset_of!(TcFilterOp, flags), &[self.flags]);
    }
}

impl TcConfig {
    /// The bytes of the C global, in the host's byte order (that of the BPF
    /// programs). Padding bytes are zero.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = vec![0u8; CONFIG_SIZE];
        let mut w = Writer(&mut out);
        w.put(
            offset_of!(TcConfig, wakeup_bytes),
            &self.wakeup_bytes.to_ne_bytes(),
        );
        for (off, v) in [
            (offset_of!(TcConfig, probe_index), self.probe_index),
            (offset_of!(TcConfig, target_tgid), self.target_tgid),
            (offset_of!(TcConfig, nargs), self.nargs),
            (offset_of!(TcConfig, ctx_copy), self.ctx_copy),
            (offset_of!(TcConfig, record_size), self.record_size),
            (offset_of!(TcConfig, nops), self.nops),
            (offset_of!(TcConfig, filter_at), self.filter_at),
            (offset_of!(TcConfig, nfilter), self.nfilter),
            (offset_of!(TcConfig, flags), self.flags),
            (offset_of!(TcConfig, ncalc), self.ncalc),
            (offset_of!(TcConfig, calc_at), self.calc_at),
            (offset_of!(TcConfig, sink), self.sink),
            (offset_of!(TcConfig, nagg), self.nagg),
            (offset_of!(TcConfig, pair), self.pair),
            (offset_of!(TcConfig, value_off), self.value_off),
            (offset_of!(TcConfig, value_size), self.value_size),
            (offset_of!(TcConfig, key_off), self.key_off),
            (offset_of!(TcConfig, key_size), self.key_size),
            (offset_of!(TcConfig, join_at), self.join_at),
            (offset_of!(TcConfig, join_calc), self.join_calc),
            (offset_of!(TcConfig, join_filter), self.join_filter),
        ] {
            w.put(off, &v.to_ne_bytes());
        }
        for (i, op) in self.ops.iter().enumerate() {
            op.write(&mut w, offset_of!(TcConfig, ops) + i * size_of::<TcOp>());
        }
        for (i, f) in self.filter.iter().enumerate() {
            f.write(
                &mut w,
                offset_of!(TcConfig, filter) + i * size_of::<TcFilterOp>(),
            );
        }
        w.put(offset_of!(TcConfig, strings), &self.strings);
        for (i, c) in self.calc.iter().enumerate() {
            c.write(&mut w, offset_of!(TcConfig, calc) + i * size_of::<TcCalc>());
        }
        for (i, a) in self.agg.iter().enumerate() {
            a.write(&mut w, offset_of!(TcConfig, agg) + i * size_of::<TcAgg>());
        }
        out
    }
}

/// A plan that cannot be encoded (a limit exceeded or an inconsistent op).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbiError(pub String);

impl fmt::Display for AbiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AbiError {}

macro_rules! bail {
    ($($t:tt)*) => { return Err(AbiError(format!($($t)*))) };
}

mod codes;

fn mem_code(m: Mem) -> u8 {
    match m {
        Mem::Kernel => mem::KERNEL,
        Mem::User => mem::USER,
    }
}

fn int_width(size: u32, what: &str) -> Result<u8, AbiError> {
    match size {
        1 | 2 | 4 | 8 => Ok(size as u8),
        _ => bail!("{what} has width {size}; only 1, 2, 4 or 8 bytes can be read"),
    }
}

/// `[start, start + len)` lies within `[RECORD_HEADER, record_size)`.
fn check_in_record(start: u32, len: u32, record_size: u32, what: &str) -> Result<(), AbiError> {
    let end = start as u64 + len as u64;
    if start < RECORD_HEADER || end > record_size as u64 {
        bail!(
            "{what} occupies bytes {start}..{end} of the record, outside {RECORD_HEADER}..{record_size}"
        );
    }
    Ok(())
}

fn encode_op(i: usize, op: &ValueOp, record_size: u32) -> Result<TcOp, AbiError> {
    let what = format!("value op {i}");
    let mut t = TcOp {
        slot: op.slot,
        slot_size: op.slot_size,
        ..TcOp::default()
    };
    check_in_record(
        op.slot,
        op.slot_size,
        record_size,
        &format!("{what}'s slot"),
    )?;

    let comm = matches!(
        op.base,
        Base::Builtin {
            builtin: Builtin::Comm
        }
    );
    match op.base {
        Base::Arg { off, size, signed } => {
            t.base = base::ARG;
            t.base_size = int_width(size, &format!("{what}'s argument"))?;
            t.base_signed = signed as u8;
            if off as u64 + size as u64 > ABI_ARGS_AREA as u64 {
                bail!(
                    "{what} reads bytes {off}..{} of the args area, which has {ABI_ARGS_AREA}",
                    off as u64 + size as u64
                );
            }
            t.base_off = off;
        }
        Base::Ctx => t.base = base::CTX,
        Base::Builtin { builtin: b } => {
            t.base = base::BUILTIN;
            t.builtin = match b {
                Builtin::Pid => builtin::PID,
                Builtin::Tid => builtin::TID,
                Builtin::Uid => builtin::UID,
                Builtin::Gid => builtin::GID,
                Builtin::Comm => builtin::COMM,
                Builtin::Ts => builtin::TS,
                Builtin::Cpu => builtin::CPU,
                Builtin::Cgroup => builtin::CGROUP,
                Builtin::Task => builtin::TASK,
                Builtin::Kstack => builtin::KSTACK,
                Builtin::Ustack => builtin::USTACK,
            };
        }
        Base::Record => {
            // The record is kernel memory (a per-CPU map value): its first
            // access, a hop or the final read, must read kernel memory.
            let first = op.hops.first().map(|h| h.mem).unwrap_or(match op.read {
                Read::Str { mem, .. } | Read::Bytes { mem, .. } => mem,
                _ => op.mem,
            });
            if first != Mem::Kernel {
                bail!("{what} reads the record (kernel memory) as user memory");
            }
            t.base = base::RECORD;
        }
    }

    if op.hops.len() > MAX_HOPS {
        bail!(
            "{what} follows {} pointers; at most {MAX_HOPS} are supported",
            op.hops.len()
        );
    }
    t.nhops = op.hops.len() as u8;
    for (h, hop) in op.hops.iter().enumerate() {
        t.hop_off[h] = hop.off;
        t.hop_mem[h] = mem_code(hop.mem);
        if let Some(ix) = hop.index {
            if t.index_hop != 0 {
                bail!("{what} indexes more than one hop; the templates index one");
            }
            t.index_hop = h as u8 + 1;
            t.index_scale = u8::try_from(ix.scale)
                .ok()
                .filter(|&s| s > 0)
                .ok_or_else(|| {
                    AbiError(format!(
                        "{what} indexes elements of {} bytes; the templates take 1..=255",
                        ix.scale
                    ))
                })?;
            t.index_off = u16::try_from(ix.off).map_err(|_| {
                AbiError(format!(
                    "{what} reads its index at offset {}; the templates reach 65535",
                    ix.off
                ))
            })?;
        }
    }

    let mut integer = false;
    match op.read {
        Read::Value => {
            t.read = read::VALUE;
            integer = !comm;
        }
        Read::Int {
            off,
            size,
            signed,
            bit_off,
            bit_size,
        } => {
            t.read = read::INT;
            t.read_off = off;
            t.read_len = int_width(size, &format!("{what}'s read"))? as u32;
            t.read_signed = signed as u8;
            t.read_mem = mem_code(op.mem);
            if bit_size > 0 && bit_off as u64 + bit_size as u64 > size as u64 * 8 {
                bail!(
                    "{what}'s bitfield (bits {bit_off}..{}) does not fit in the {size} bytes read",
                    bit_off as u64 + bit_size as u64
                );
            }
            if bit_size == 0 && bit_off != 0 {
                bail!("{what} has a bit offset without a bit width");
            }
            t.bit_off = bit_off as u8;
            t.bit_size = bit_size as u8;
            integer = true;
        }
        Read::Str { off, max, mem: m } => {
            t.read = read::STR;
            t.read_off = off;
            t.read_mem = mem_code(m);
            check_string_max(&what, max, op.slot_size)?;
            t.read_len = max;
        }
        Read::Bytes { off, len, mem: m } => {
            t.read = read::BYTES;
            t.read_off = off;
            t.read_mem = mem_code(m);
            if len == 0 || len > op.slot_size {
                bail!(
                    "{what} copies {len} bytes into a slot of {} bytes",
                    op.slot_size
                );
            }
            t.read_len = len;
        }
        Read::DataLocStr { off, max } => {
            t.read = read::DATALOC;
            t.read_off = off;
            check_string_max(&what, max, op.slot_size)?;
            t.read_len = max;
        }
        Read::Join {
            off,
            max_args,
            mem: m,
        } => {
            t.read = read::JOIN;
            t.read_off = off;
            t.read_mem = mem_code(m);
            if max_args == 0 || max_args > MAX_JOIN_ARGS {
                bail!("{what} joins {max_args} strings; the templates join 1..={MAX_JOIN_ARGS}");
            }
            if op.slot_size < 2 || op.slot_size > JOIN_BYTES {
                bail!(
                    "{what} joins into {} bytes; the templates take 2..={JOIN_BYTES}",
                    op.slot_size
                );
            }
            t.read_len = max_args;
        }
    }

    if comm {
        if !op.hops.is_empty() || op.read != Read::Value {
            bail!("{what} dereferences comm, which is a string, not a pointer");
        }
        if op.slot_size < 16 {
            bail!(
                "{what} stores comm (16 bytes) into a slot of {} bytes",
                op.slot_size
            );
        }
    } else if integer && op.slot_size < 8 {
        bail!(
            "{what} stores an integer (8 bytes) into a slot of {} bytes",
            op.slot_size
        );
    }

    t.transform = match op.transform {
        Transform::None => transform::NONE,
        Transform::Bswap16 | Transform::Bswap32 if !integer => {
            bail!("{what} byte-swaps a value that is not an integer")
        }
        Transform::Bswap16 => transform::BSWAP16,
        Transform::Bswap32 => transform::BSWAP32,
    };
    Ok(t)
}

fn check_string_max(what: &str, max: u32, slot_size: u32) -> Result<(), AbiError> {
    if max == 0 || max > MAX_STR {
        bail!("{what} reads a string of at most {max} bytes; the limit is 1..={MAX_STR}");
    }
    if max > slot_size {
        bail!("{what} reads up to {max} bytes into a slot of {slot_size} bytes");
    }
    Ok(())
}

fn cmp_code(c: CmpOp) -> u8 {
    match c {
        CmpOp::Eq => cmp::EQ,
        CmpOp::Ne => cmp::NE,
        CmpOp::Lt => cmp::LT,
        CmpOp::Le => cmp::LE,
        CmpOp::Gt => cmp::GT,
        CmpOp::Ge => cmp::GE,
    }
}

/// The filter may only read bytes that one of the first `filter_at` ops (or
/// the first `calc_at` arithmetic instructions) wrote; in a paired end
/// program, the first stage's instructions (`k < join_filter`) only what the
/// first `join_at` ops and `join_calc` instructions wrote, and the second
/// stage's also the joined bytes.
fn check_filter_reads(
    k: usize,
    start: u32,
    len: u32,
    config: &ProbeConfig,
) -> Result<(), AbiError> {
    let stages = pair::Stages::of(config);
    let (ops, calcs, joined) = if (k as u32) < stages.join_filter {
        (stages.join_at, stages.join_calc, None)
    } else {
        (config.filter_at, config.calc_at, stages.joined)
    };
    let end = start as u64 + len as u64;
    let covered = config.ops[..(ops as usize).min(config.ops.len())]
        .iter()
        .map(|o| (o.slot, o.slot_size))
        .chain(
            config.calcs[..(calcs as usize).min(config.calcs.len())]
                .iter()
                .map(|c| (c.dst, 8)),
        )
        .chain(joined)
        .any(|(slot, size)| slot <= start && end <= slot as u64 + size as u64);
    if !covered {
        let joined = match joined {
            Some((off, size)) => format!(", nor the join (bytes {off}..{}),", off + size),
            None => String::new(),
        };
        bail!(
            "filter instruction {k} reads record bytes {start}..{end}, which none of the \
             {ops} value op(s) and {calcs} arithmetic instruction(s) run before the filter{joined} \
             write"
        );
    }
    Ok(())
}

fn encode_filter(config: &ProbeConfig) -> Result<[TcFilterOp; MAX_FILTER_OPS], AbiError> {
    let mut out = [TcFilterOp::default(); MAX_FILTER_OPS];
    let mut depth: usize = 0;
    // A paired end program's first stage is a program of its own.
    let split = pair::Stages::of(config).join_filter as usize;
    for (k, f) in config.filter.iter().enumerate() {
        if k == split && k > 0 {
            if depth != 1 {
                bail!(
                    "the first stage of the filter (instructions 0..{split}) leaves {depth} \
                     values on its stack instead of one"
                );
            }
            depth = 0;
        }
        let t = &mut out[k];
        let pops_pushes = match *f {
            FilterOp::Const { value } => {
                t.kind = filter::CONST;
                if value {
                    t.flags |= filter::FF_VALUE;
                }
                (0, 1)
            }
            FilterOp::CmpImm {
                slot,
                cmp,
                imm,
                signed,
            } => {
                check_filter_reads(k, slot, 8, config)?;
                t.kind = filter::CMP_IMM;
                t.a = slot;
                t.imm = imm;
                t.cmp = cmp_code(cmp);
                if signed {
                    t.flags |= filter::FF_SIGNED;
                }
                (0, 1)
            }
            FilterOp::CmpSlots { a, b, cmp, signed } => {
                check_filter_reads(k, a, 8, config)?;
                check_filter_reads(k, b, 8, config)?;
                t.kind = filter::CMP_SLOTS;
                t.a = a;
                t.b = b;
                t.cmp = cmp_code(cmp);
                if signed {
                    t.flags |= filter::FF_SIGNED;
                }
                (0, 1)
            }
            FilterOp::CmpStr {
                slot,
                str_off,
                len,
                prefix,
                negate,
            } => {
                let end = str_off as u64 + len as u64;
                if end > config.strings.len() as u64 {
                    bail!(
                        "filter instruction {k} compares with strings[{str_off}..{end}], but the \
                         string pool has {} bytes",
                        config.strings.len()
                    );
                }
                // An exact match also reads the byte after the constant (its NUL).
                check_filter_reads(k, slot, len + (!prefix) as u32, config)?;
                t.kind = filter::CMP_STR;
                t.a = slot;
                t.b = str_off;
                t.len = len;
                if prefix {
                    t.flags |= filter::FF_PREFIX;
                }
                if negate {
                    t.flags |= filter::FF_NEGATE;
                }
                (0, 1)
            }
            FilterOp::And => {
                t.kind = filter::AND;
                (2, 1)
            }
            FilterOp::Or => {
                t.kind = filter::OR;
                (2, 1)
            }
            FilterOp::Not => {
                t.kind = filter::NOT;
                (1, 1)
            }
        };
        let (pops, pushes) = pops_pushes;
        if depth < pops {
            bail!("filter instruction {k} needs {pops} operand(s) but the stack holds {depth}");
        }
        depth = depth - pops + pushes;
    }
    if split > 0 && config.filter.len() == split && depth != 1 {
        bail!(
            "the first stage of the filter (instructions 0..{split}) leaves {depth} values on its \
             stack instead of one"
        );
    }
    if config.filter.len() > split && depth != 1 {
        bail!("the filter leaves {depth} values on its stack instead of one");
    }
    Ok(out)
}

/// Turns a probe's [`ProbeConfig`] into the bytes of the templates' `CFG`
/// global.
///
/// * `probe_index` is written into every record header;
/// * `target_tgid` restricts events to one process (0 = any; `--pid`);
/// * `wakeup_bytes`: the template forces a ring-buffer wakeup once this many
///   bytes wait to be read (0 = on every record).
pub fn encode(
    config: &ProbeConfig,
    probe_index: u32,
    target_tgid: u32,
    wakeup_bytes: u64,
) -> Result<Vec<u8>, AbiError> {
    Ok(build(config, probe_index, target_tgid, wakeup_bytes)?.to_bytes())
}

/// Like [`encode`], but returns the structured mirror.
pub fn build(
    config: &ProbeConfig,
    probe_index: u32,
    target_tgid: u32,
    wakeup_bytes: u64,
) -> Result<TcConfig, AbiError> {
    if config.record_size < RECORD_HEADER || config.record_size > MAX_RECORD {
        bail!(
            "the record has {} bytes; it must have {RECORD_HEADER}..={MAX_RECORD}",
            config.record_size
        );
    }
    if config.nargs > MAX_FUNC_ARGS {
        bail!(
            "the probe copies {} arguments; at most {MAX_FUNC_ARGS} are supported",
            config.nargs
        );
    }
    if config.ctx_copy > ABI_ARGS_AREA {
        bail!(
            "the probe copies {} bytes of the tracepoint record; the args area has {ABI_ARGS_AREA}",
            config.ctx_copy
        );
    }
    if config.ops.len() > MAX_OPS {
        bail!(
            "the probe has {} value ops; at most {MAX_OPS} are supported",
            config.ops.len()
        );
    }
    if config.filter.len() > MAX_FILTER_OPS {
        bail!(
            "the filter has {} instructions; at most {MAX_FILTER_OPS} are supported",
            config.filter.len()
        );
    }
    if config.strings.len() > STR_POOL {
        bail!(
            "the filter's strings take {} bytes; at most {STR_POOL} are supported",
            config.strings.len()
        );
    }
    if config.filter_at as usize > config.ops.len() {
        bail!(
            "the filter runs after {} value ops but there are only {}",
            config.filter_at,
            config.ops.len()
        );
    }

    let mut cfg = TcConfig {
        wakeup_bytes,
        probe_index,
        target_tgid,
        nargs: config.nargs,
        ctx_copy: config.ctx_copy,
        record_size: config.record_size,
        nops: config.ops.len() as u32,
        filter_at: config.filter_at,
        nfilter: config.filter.len() as u32,
        ..TcConfig::default()
    };
    for (i, op) in config.ops.iter().enumerate() {
        cfg.ops[i] = encode_op(i, op, config.record_size)?;
        if let Base::Arg { off, .. } = op.base {
            if (RET_OFF..RET_OFF + 8).contains(&off) {
                cfg.flags |= CFG_NEED_RET;
            }
        }
        if matches!(op.read, Read::Join { .. }) {
            cfg.flags |= CFG_SCRATCH;
        }
    }
    if config.calcs.len() > MAX_CALC {
        bail!(
            "the probe has {} arithmetic instructions; at most {MAX_CALC} are supported",
            config.calcs.len()
        );
    }
    if config.calc_at as usize > config.calcs.len() {
        bail!(
            "the filter runs after {} arithmetic instructions but there are only {}",
            config.calc_at,
            config.calcs.len()
        );
    }
    cfg.ncalc = config.calcs.len() as u32;
    cfg.calc_at = config.calc_at;
    for (k, c) in config.calcs.iter().enumerate() {
        cfg.calc[k] = calc::encode(k, c, config.record_size)?;
    }
    pair::encode(config, &mut cfg)?;
    cfg.filter = encode_filter(config)?;
    cfg.strings[..config.strings.len()].copy_from_slice(&config.strings);
    if let Some(a) = &config.agg {
        cfg.sink = agg::SINK_AGG;
        cfg.nagg = a.values.len() as u32;
        cfg.agg = agg::encode(a, config.record_size)?;
        // Nothing prints a time per event (a paired probe's latency needs it).
        if config.pair.is_none() {
            cfg.flags |= CFG_NO_TS;
        }
    }
    cfg.check_codes()?;
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracectl_compiler::plan::Hop;

    fn int_op(slot: u32, base: Base) -> ValueOp {
        ValueOp {
            slot,
            slot_size: 8,
            base,
            hops: vec![],
            mem: Mem::Kernel,
            read: Read::Value,
            transform: Transform::None,
        }
    }

    fn config(ops: Vec<ValueOp>, filter: Vec<FilterOp>, strings: &[u8]) -> ProbeConfig {
        ProbeConfig {
            nargs: 2,
            record_size: 64,
            filter_at: ops.len() as u32,
            ops,
            filter,
            strings: strings.to_vec(),
            ..ProbeConfig::default()
        }
    }

    #[test]
    fn layout_is_packed_as_in_c() {
        assert_eq!(offset_of!(TcOp, hop_off), 20);
        assert_eq!(offset_of!(TcOp, hop_mem), 36);
        assert_eq!(offset_of!(TcOp, transform), 50);
        assert_eq!(offset_of!(TcFilterOp, kind), 20);
        assert_eq!(offset_of!(TcConfig, ops), 48);
        assert_eq!(offset_of!(TcConfig, filter), 48 + 16 * 56);
        assert_eq!(offset_of!(TcConfig, strings), 48 + 16 * 56 + 32 * 24);
    }

    #[test]
    fn encodes_fields_at_their_offsets() {
        let mut op = int_op(
            16,
            Base::Arg {
                off: 8,
                size: 4,
                signed: true,
            },
        );
        op.hops = vec![Hop {
            off: 0x1234,
            mem: Mem::User,
            index: None,
        }];
        op.read = Read::Int {
            off: 24,
            size: 2,
            signed: false,
            bit_off: 0,
            bit_size: 0,
        };
        op.transform = Transform::Bswap16;
        let c = config(
            vec![op],
            vec![FilterOp::CmpImm {
                slot: 16,
                cmp: CmpOp::Ne,
                imm: u64::MAX,
                signed: true,
            }],
            b"",
        );
        let b = encode(&c, 3, 42, 1 << 20).unwrap();
        assert_eq!(b.len(), CONFIG_SIZE);
        let u32_at = |o: usize| u32::from_ne_bytes(b[o..o + 4].try_into().unwrap());
        assert_eq!(u64::from_ne_bytes(b[0..8].try_into().unwrap()), 1 << 20);
        assert_eq!(u32_at(8), 3);
        assert_eq!(u32_at(12), 42);
        assert_eq!(u32_at(16), 2);
        assert_eq!(u32_at(24), 64);
        assert_eq!(u32_at(28), 1);
        assert_eq!(u32_at(36), 1);
        let op0 = 48;
        assert_eq!(u32_at(op0), 16);
        assert_eq!(u32_at(op0 + 8), 8);
        assert_eq!(u32_at(op0 + 12), 24);
        assert_eq!(u32_at(op0 + 16), 2);
        assert_eq!(u32_at(op0 + 20), 0x1234);
        assert_eq!(b[op0 + 36], mem::USER);
        assert_eq!(b[op0 + 40], base::ARG);
        assert_eq!(b[op0 + 41], 4);
        assert_eq!(b[op0 + 42], 1);
        assert_eq!(b[op0 + 44], 1);
        assert_eq!(b[op0 + 45], read::INT);
        assert_eq!(b[op0 + 50], transform::BSWAP16);
        let f0 = 48 + 16 * 56;
        assert_eq!(
            u64::from_ne_bytes(b[f0..f0 + 8].try_into().unwrap()),
            u64::MAX
        );
        assert_eq!(b[f0 + 20], filter::CMP_IMM);
        assert_eq!(b[f0 + 21], 1);
        assert_eq!(b[f0 + 22], filter::FF_SIGNED);
    }

    #[test]
    fn return_value_sets_need_ret() {
        let c = config(
            vec![int_op(
                16,
                Base::Arg {
                    off: RET_OFF,
                    size: 8,
                    signed: false,
                },
            )],
            vec![],
            b"",
        );
        assert_eq!(build(&c, 0, 0, 0).unwrap().flags, CFG_NEED_RET);
    }

    #[test]
    fn rejects_limits() {
        let op = int_op(
            16,
            Base::Builtin {
                builtin: Builtin::Pid,
            },
        );
        let mut c = config(vec![op.clone(); MAX_OPS + 1], vec![], b"");
        c.record_size = 64;
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("value ops"));

        let mut c = config(vec![op.clone()], vec![], b"");
        c.record_size = MAX_RECORD + 8;
        assert!(encode(&c, 0, 0, 0).is_err());

        let mut c = config(vec![op.clone()], vec![], b"");
        c.ops[0].slot = 60; // 60..68 > 64
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("outside"));

        let mut c = config(vec![op.clone()], vec![], b"");
        c.ops[0].hops = vec![
            Hop {
                off: 0,
                mem: Mem::Kernel,
                index: None
            };
            MAX_HOPS + 1
        ];
        assert!(encode(&c, 0, 0, 0).is_err());

        let c = config(vec![op.clone()], vec![FilterOp::And], b"");
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("operand"));

        let c = config(
            vec![op.clone()],
            vec![
                FilterOp::Const { value: true },
                FilterOp::Const { value: true },
            ],
            b"",
        );
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("stack"));

        let c = config(
            vec![op.clone()],
            vec![FilterOp::CmpStr {
                slot: 16,
                str_off: 0,
                len: 5,
                prefix: true,
                negate: false,
            }],
            b"abc",
        );
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("string pool"));

        // The filter reads a slot no op before it writes.
        let mut c = config(
            vec![op.clone()],
            vec![FilterOp::CmpImm {
                slot: 16,
                cmp: CmpOp::Eq,
                imm: 1,
                signed: false,
            }],
            b"",
        );
        c.filter_at = 0;
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("none of"));

        let mut c = config(vec![op], vec![], b"");
        c.ops[0].read = Read::Str {
            off: 0,
            max: 64,
            mem: Mem::User,
        };
        assert!(encode(&c, 0, 0, 0).unwrap_err().0.contains("slot of 8"));
    }
}

#[cfg(test)]
mod boundaries;
