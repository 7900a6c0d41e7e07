//! The plan: the compiler's output and the runtime's only input.
//!
//! A plan is plain data (serde): per probe, how to attach, how the template
//! must be configured to capture each value, the record layout, and how the
//! runtime must decode and print each field. The runtime never looks at BTF or
//! at the spec again: everything it needs is here.
//!
//! The capture model shared by every template:
//!
//! * The template first fills an **args area** (`ABI_ARGS_AREA` bytes): for
//!   function-like probes (kprobe, fentry, tp_btf, uprobe, ...) argument *i*
//!   is a `u64` at offset `8 * i` and the return value sits at [`RET_OFF`];
//!   for a tracepoint the area is a copy of the first `ctx_copy` bytes of the
//!   raw trace record.
//! * Each value (a visible field or a hidden operand of the filter) is one
//!   [`ValueOp`]: start from a [`Base`], follow up to [`MAX_HOPS`] pointer
//!   [`Hop`]s, then perform one final [`Read`], apply a [`Transform`], and
//!   store the result at `slot` bytes into the record.
//! * The filter is a postfix program ([`FilterOp`]) over record slots,
//!   evaluated in the kernel after the first `filter_at` value ops ran; a
//!   record that fails it is never sent.

use serde::{Deserialize, Serialize};

/// Version of the plan format; bumped on any incompatible change.
pub const PLAN_FORMAT: u32 = 1;

/// Size of the record header: `u64 ts; u32 probe index; u32 cpu`.
pub const RECORD_HEADER: u32 = 16;
/// Largest record a template can emit (header included).
pub const MAX_RECORD: u32 = 4096;
/// Most value ops (fields plus hidden filter operands) in one probe.
pub const MAX_OPS: usize = 16;
/// Most pointer dereferences in one path.
pub const MAX_HOPS: usize = 4;
/// Most instructions in one filter program.
pub const MAX_FILTER_OPS: usize = 32;
/// Bytes of string constants one filter may use.
pub const STR_POOL: usize = 256;
/// Size of the args area a template fills before running the ops.
pub const ABI_ARGS_AREA: u32 = 256;
/// Most arguments a function-like probe can read (`arg0`..`arg5` / BTF params).
pub const MAX_ARGS: u32 = 6;
/// Offset of the return value in the args area of return probes.
pub const RET_OFF: u32 = 8 * 12;
/// Longest string a single value may capture.
pub const MAX_STR: u32 = 1024;
/// Default `str()` length when no maximum is given (as bpftrace).
pub const DEFAULT_STR: u32 = 64;

/// A compiled spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// [`PLAN_FORMAT`] at the time of writing.
    pub format: u32,
    /// The spec's name.
    pub name: String,
    /// The spec's description, if any.
    pub description: Option<String>,
    /// One entry per probe, in spec order; the index is the record's probe index.
    pub probes: Vec<ProbePlan>,
    /// How records are printed.
    pub output: OutputPlan,
}

/// Output settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputPlan {
    /// table, json or csv.
    pub format: Format,
    /// Which time column, if any, leads each record.
    pub time: TimeMode,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned columns with a header row.
    #[default]
    Table,
    /// JSON Lines.
    Json,
    /// RFC 4180 CSV with a header row.
    Csv,
}

/// Time column mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TimeMode {
    /// Seconds since the first event, 9 decimals.
    #[default]
    Relative,
    /// Wall-clock time of the event (RFC 3339, nanoseconds).
    Absolute,
    /// No time column.
    None,
}

/// One probe of the spec, fully resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbePlan {
    /// The probe's label (`name:` or its target).
    pub name: String,
    /// The probe as written (`kfunc:tcp_connect`).
    pub probe: String,
    /// Where and how to attach.
    pub attach: Attach,
    /// The template configuration.
    pub config: ProbeConfig,
    /// Visible output fields in spec order.
    pub fields: Vec<FieldPlan>,
}

/// Which kernel mechanism a kernel-function probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KernelMode {
    /// fentry/fexit where the kernel allows, else kprobe/kretprobe (`kfunc:`).
    Auto,
    /// kprobe/kretprobe only.
    Kprobe,
    /// fentry/fexit only.
    Fentry,
}

/// Attach point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attach {
    /// `tracepoint:CATEGORY:NAME`.
    Tracepoint {
        /// Tracepoint category (`syscalls`).
        category: String,
        /// Tracepoint name (`sys_enter_execve`).
        name: String,
    },
    /// `tp_btf:NAME`.
    TpBtf {
        /// Raw tracepoint name (`sched_process_exec`).
        name: String,
    },
    /// A kernel function's entry or return.
    Kernel {
        /// Function name.
        function: String,
        /// True for a return probe.
        ret: bool,
        /// Mechanism choice.
        mode: KernelMode,
    },
    /// A user-space function's entry or return.
    Uprobe {
        /// Path or library name (`libc`).
        binary: String,
        /// Symbol name.
        symbol: String,
        /// True for a uretprobe.
        ret: bool,
    },
}

/// Everything the template needs; the runtime encodes it into the template's
/// `const volatile` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeConfig {
    /// Number of function arguments the template must copy into the args area.
    pub nargs: u32,
    /// Bytes of the raw tracepoint record to copy into the args area.
    pub ctx_copy: u32,
    /// Total record size, header included.
    pub record_size: u32,
    /// Value ops, in execution order (filter operands first).
    pub ops: Vec<ValueOp>,
    /// The filter has all it needs once this many ops ran.
    pub filter_at: u32,
    /// Filter program (postfix); empty means "keep every event".
    pub filter: Vec<FilterOp>,
    /// String constants referenced by the filter.
    pub strings: Vec<u8>,
}

/// Where a value starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Base {
    /// An integer in the args area.
    Arg {
        /// Byte offset in the args area.
        off: u32,
        /// Width in bytes (1, 2, 4, 8).
        size: u32,
        /// Sign-extend when widening.
        signed: bool,
    },
    /// The address of the raw tracepoint record (for inline arrays and
    /// `__data_loc` strings).
    Ctx,
    /// A helper-provided value.
    Builtin {
        /// Which one.
        builtin: Builtin,
    },
}

/// Helper-provided values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Builtin {
    /// Process id (tgid).
    Pid,
    /// Thread id.
    Tid,
    /// User id.
    Uid,
    /// Group id.
    Gid,
    /// Task command name (16 bytes).
    Comm,
    /// Monotonic nanoseconds.
    Ts,
    /// CPU number.
    Cpu,
    /// cgroup v2 id.
    Cgroup,
}

/// Which address space a read goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mem {
    /// `bpf_probe_read_kernel*`.
    Kernel,
    /// `bpf_probe_read_user*`.
    User,
}

/// One pointer dereference: `p = *(u64 *)(p + off)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// Offset added before the load.
    pub off: u32,
    /// Address space of the load.
    pub mem: Mem,
}

/// The final read of a value op.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Read {
    /// The current value itself (an argument, builtin or pointer).
    Value,
    /// An integer at `p + off`, optionally a bitfield.
    Int {
        /// Offset from the current pointer.
        off: u32,
        /// Bytes to read (1, 2, 4, 8).
        size: u32,
        /// Sign-extend the result.
        signed: bool,
        /// Bit offset of a bitfield within the bytes read (0 if not a bitfield).
        bit_off: u32,
        /// Bit width of a bitfield (0 if not a bitfield).
        bit_size: u32,
    },
    /// A NUL-terminated string at `p + off`, at most `max` bytes with the NUL.
    Str {
        /// Offset from the current pointer.
        off: u32,
        /// Slot size.
        max: u32,
        /// Address space.
        mem: Mem,
    },
    /// `len` raw bytes at `p + off`.
    Bytes {
        /// Offset from the current pointer.
        off: u32,
        /// Bytes to copy.
        len: u32,
        /// Address space.
        mem: Mem,
    },
    /// A tracepoint `__data_loc` string: a `u32` at `ctx + off` whose low
    /// 16 bits are the string's offset in the record.
    DataLocStr {
        /// Offset of the `u32` locator in the record.
        off: u32,
        /// Slot size.
        max: u32,
    },
}

/// Post-processing of an integer value in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    /// Store as read.
    #[default]
    None,
    /// Swap the two low bytes (`ntohs`).
    Bswap16,
    /// Swap the four low bytes (`ntohl`).
    Bswap32,
}

/// Captures one value into a record slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValueOp {
    /// Offset of the slot in the record (≥ [`RECORD_HEADER`]).
    pub slot: u32,
    /// Bytes the slot occupies (8 for integers).
    pub slot_size: u32,
    /// Where the value starts.
    pub base: Base,
    /// Pointer dereferences, in order.
    pub hops: Vec<Hop>,
    /// Address space of the final integer read (for `Read::Int`).
    pub mem: Mem,
    /// The final read.
    pub read: Read,
    /// Integer post-processing.
    #[serde(default)]
    pub transform: Transform,
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// One instruction of the in-kernel filter (postfix, over a boolean stack).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum FilterOp {
    /// Push a constant.
    Const {
        /// The value.
        value: bool,
    },
    /// Push `slot <op> imm` (64-bit integer compare).
    CmpImm {
        /// Slot offset in the record.
        slot: u32,
        /// Operator.
        cmp: CmpOp,
        /// Immediate, as two's-complement bits.
        imm: u64,
        /// Signed comparison.
        signed: bool,
    },
    /// Push `slot_a <op> slot_b`.
    CmpSlots {
        /// Left slot.
        a: u32,
        /// Right slot.
        b: u32,
        /// Operator.
        cmp: CmpOp,
        /// Signed comparison.
        signed: bool,
    },
    /// Push whether the string in `slot` equals (or, with `prefix`, starts
    /// with) `strings[str_off..str_off + len]`; `negate` flips the result.
    CmpStr {
        /// Slot offset in the record.
        slot: u32,
        /// Offset in [`ProbeConfig::strings`].
        str_off: u32,
        /// Length of the constant (without NUL).
        len: u32,
        /// Prefix match instead of exact.
        prefix: bool,
        /// `!=` instead of `==`.
        negate: bool,
    },
    /// Pop two, push their conjunction.
    And,
    /// Pop two, push their disjunction.
    Or,
    /// Pop one, push its negation.
    Not,
}

/// How a visible field is decoded and printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldPlan {
    /// Output name.
    pub name: String,
    /// Slot offset in the record.
    pub slot: u32,
    /// Slot size in bytes.
    pub size: u32,
    /// Decoder.
    pub decode: Decode,
}

/// Decoders for record slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decode {
    /// An integer stored as 8 bytes; `size` is its C width, for display.
    Int {
        /// C width in bytes.
        size: u32,
        /// Signedness.
        signed: bool,
    },
    /// A boolean (C `_Bool`).
    Bool,
    /// A pointer, printed as `0x…`.
    Pointer,
    /// An integer printed as `0x…` (`hex()`).
    Hex,
    /// A NUL-terminated string.
    Str,
    /// IPv4 address in network order in the low 4 bytes.
    Ip4,
    /// IPv6 address, 16 bytes.
    Ip6,
    /// Raw bytes, printed as hex.
    Bytes,
    /// An array of integers.
    IntArray {
        /// Element width in bytes.
        elem: u32,
        /// Element signedness.
        signed: bool,
    },
}
