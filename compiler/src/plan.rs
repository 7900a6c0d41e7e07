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
pub const PLAN_FORMAT: u32 = 5;

/// Size of the record header: `u64 ts; u32 probe index; u32 cpu`.
pub const RECORD_HEADER: u32 = 16;
/// Most arithmetic instructions in one probe.
pub const MAX_CALC: usize = 24;
/// Most aggregate values in one probe.
pub const MAX_AGG: usize = 8;
/// Buckets of `hist()`: negative, 0, then `[2^k, 2^(k+1))` for k in 0..64.
pub const HIST_BUCKETS: u32 = 66;
/// Largest value one key may hold, per CPU (the kernel's per-CPU limit).
pub const MAX_AGG_VALUE: u32 = 32768;
/// Largest aggregation key (bytes): the kernel's limit for hash map keys
/// (`MAX_BPF_STACK`).
pub const MAX_AGG_KEY: u32 = 512;
/// Default `max_keys` of an aggregating probe.
pub const DEFAULT_MAX_KEYS: u32 = 10240;
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
/// Most arguments `join()` reads (the template's loop bound).
pub const MAX_JOIN_ARGS: u32 = 64;
/// Arguments `join()` reads when no maximum is given (bcc execsnoop's
/// `--max-args`).
pub const DEFAULT_JOIN_ARGS: u32 = 20;
/// Most frames of a stack (`kstack(N)`, `ustack(N)`): the kernel's
/// default `kernel.perf_event_max_stack`, and the depth the shared stack
/// map stores.
pub const MAX_STACK_FRAMES: u32 = 127;
/// Highest `profile:hz:N` rate: above it the sampling costs more than it
/// tells (and the kernel throttles at `kernel.perf_event_max_sample_rate`).
pub const MAX_PROFILE_HZ: u32 = 10_000;
/// Bytes of a `join()` slot: the joined text with its NUL, then one
/// truncation flag byte (the template's scratch area is padded for it).
pub const JOIN_BYTES: u32 = 1024;

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
    /// The kernel enums `enum(e, TYPE)` fields print with, by BTF type id
    /// ([`Decode::Enum`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enums: Vec<EnumNames>,
}

/// The enums the fields and keys of `probes` print with ([`Decode::Enum`]),
/// each once, their names and enumerators given by `lookup(id)`.
pub fn enums_used(
    probes: &[ProbePlan],
    mut lookup: impl FnMut(u32) -> (String, Vec<(i64, String)>),
) -> Vec<EnumNames> {
    let mut out: Vec<EnumNames> = Vec::new();
    for p in probes {
        let keys = p.config.agg.iter().flat_map(|a| a.keys.iter());
        for f in p.fields.iter().chain(keys) {
            if let Decode::Enum { id, .. } = f.decode {
                if !out.iter().any(|e| e.id == id) {
                    let (name, values) = lookup(id);
                    out.push(EnumNames { id, name, values });
                }
            }
        }
    }
    out
}

/// The enumerators of one kernel enum, for printing values as names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnumNames {
    /// Its BTF type id (what [`Decode::Enum`] names).
    pub id: u32,
    /// Its name (`tcp_ca_state`), for messages.
    pub name: String,
    /// `(value, name)`, in declaration order; the first name of a value wins.
    pub values: Vec<(i64, String)>,
}

/// Output settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputPlan {
    /// table, json or csv.
    pub format: Format,
    /// Which time column, if any, leads each record.
    pub time: TimeMode,
    /// How aggregating probes print.
    #[serde(default)]
    pub stats: StatsOutput,
}

/// Printing of aggregating probes (spec-v2 section 2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatsOutput {
    /// Print every this many nanoseconds; `None`: once, at exit.
    pub interval_ns: Option<u64>,
    /// Keep totals across prints instead of resetting after each.
    pub cumulative: bool,
    /// Sort rows by this value or key, descending; `None`: the first value.
    pub sort: Option<String>,
    /// At most this many rows per print.
    pub top: Option<u32>,
    /// Distinct keys per aggregating probe; `None`: [`DEFAULT_MAX_KEYS`].
    pub max_keys: Option<u32>,
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
    /// Folded stacks (`comm;outer;…;inner COUNT`), one line per key of a
    /// stack-keyed aggregation: the input of FlameGraph, inferno and
    /// speedscope.
    Folded,
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
    /// Start/end pairing (spec-v2 section 3): when set, `attach` and
    /// `config` above are the **end** program's (it makes the record or the
    /// aggregation update, after joining the start's stashed values), and
    /// this holds the start program.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairPlan>,
}

/// Default entries of a paired probe's stash (as bcc's tools' start maps).
pub const DEFAULT_STASH: u32 = 10240;
/// Largest match key (bytes): a key is built in the record and the templates
/// bound its offset by `MAX_RECORD - MAX_PAIR_KEY`; so is the stashed
/// bytes' offset.
pub const MAX_PAIR_KEY: u32 = 512;

/// The start half of a paired probe: a program that stashes the start's
/// values in a kernel LRU hash keyed by the match values, which the end
/// program (the probe's `config`) looks up, copies into its record and
/// deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairPlan {
    /// The end probe as written (`tracepoint:syscalls:sys_exit_openat`).
    pub end: String,
    /// Where the start program attaches.
    pub start: Attach,
    /// The start program's configuration (its `pair.role` is `start`).
    pub start_config: ProbeConfig,
    /// The match names read at the start, in key order.
    pub match_start: Vec<String>,
    /// The match names read at the end, in key order.
    pub match_end: Vec<String>,
    /// Entries of the stash (LRU: the oldest unended start is evicted, and
    /// counted, when it is full).
    pub stash_entries: u32,
}

/// Which half of a paired probe a program is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PairRole {
    /// Builds the key and the start values; stores them in the stash.
    Start,
    /// Builds the key, joins the stashed values, then makes the record.
    End,
}

/// A paired program's part of the template configuration.
///
/// Both programs lay the record out as `[header][aggregation key, end
/// only][start ts][start values][match key][the rest]`; the stash value is
/// the record's bytes `[value_off, value_off + value_size)` (the start
/// program writes the header's timestamp into the first 8), the key the
/// bytes `[key_off, key_off + key_size)` (`key_off = value_off +
/// value_size`). After the join, the end program turns the first 8 into the
/// latency (its own timestamp minus the start's).
///
/// The end program runs in two stages: ops `[0, join_at)`, calcs
/// `[0, join_calc)` and the filter program `[0, join_filter)` (the
/// conjuncts that read end values only: an event failing them is not an
/// end), then the join (no stashed start: counted, dropped), then the rest
/// as any probe (ops up to `filter_at`, calcs up to `calc_at`, the filter
/// program `[join_filter, nfilter)`, and so on).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConfig {
    /// Start or end.
    pub role: PairRole,
    /// Record offset of the stashed bytes: `RECORD_HEADER` in the start
    /// program; in the end program after the aggregation key, if any.
    pub value_off: u32,
    /// Record offset of the match key (`value_off + value_size`).
    pub key_off: u32,
    /// Bytes of the match key.
    pub key_size: u32,
    /// Bytes stashed: the start timestamp (8) and the start values.
    pub value_size: u32,
    /// End: ops that run before the join (the key's, then the first
    /// filter stage's operands).
    pub join_at: u32,
    /// End: calcs that run before the join.
    pub join_calc: u32,
    /// End: filter instructions of the first stage (a program of its own;
    /// 0: none).
    pub join_filter: u32,
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
    /// `profile:hz:N`: a CPU-clock perf event sampling every online CPU
    /// `hz` times a second; the builtins are the interrupted task's.
    Profile {
        /// Samples per second and CPU.
        hz: u32,
    },
}

/// Everything the template needs; the runtime encodes it into the template's
/// `const volatile` configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Arithmetic instructions, in execution order (those the filter needs
    /// first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calcs: Vec<CalcOp>,
    /// The filter has all it needs once this many calcs ran (after the
    /// first `filter_at` ops).
    #[serde(default)]
    pub calc_at: u32,
    /// An aggregating probe's map; `None` for a probe that emits records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agg: Option<AggPlan>,
    /// A paired probe's program: its role, key and join stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pair: Option<PairConfig>,
}

/// Aggregate functions (spec-v2 section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "func", rename_all = "snake_case")]
pub enum AggFunc {
    /// `count()`
    Count,
    /// `sum(e)`
    Sum,
    /// `min(e)`
    Min,
    /// `max(e)`
    Max,
    /// `avg(e)`: sum / count, truncated.
    Avg,
    /// `hist(e)`: [`HIST_BUCKETS`] power-of-two buckets.
    Hist,
    /// `lhist(e, lo, hi, step)`: `(hi - lo) / step` linear buckets plus one
    /// below `lo` and one at or above `hi`.
    Lhist {
        /// Lowest bound.
        lo: i64,
        /// Highest bound.
        hi: i64,
        /// Bucket width.
        step: i64,
    },
}

impl AggFunc {
    /// Buckets (u64 words) a histogram value takes; 0 for the others.
    pub fn buckets(self) -> u32 {
        match self {
            AggFunc::Hist => HIST_BUCKETS,
            AggFunc::Lhist { lo, hi, step } => ((hi - lo) / step) as u32 + 2,
            _ => 0,
        }
    }

    /// Bytes of the value in the map (per CPU).
    pub fn value_bytes(self) -> u32 {
        match self {
            AggFunc::Avg => 16,
            AggFunc::Hist | AggFunc::Lhist { .. } => 8 * self.buckets(),
            _ => 8,
        }
    }
}

/// One aggregate value of an aggregating probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggValue {
    /// Output name.
    pub name: String,
    /// Function.
    #[serde(flatten)]
    pub func: AggFunc,
    /// Byte offset of the value in the map value.
    pub off: u32,
    /// Record slot of the argument (`count()` has none).
    pub arg: Option<u32>,
    /// The argument is signed (min, max, sum, avg and the buckets follow it).
    pub signed: bool,
}

/// An aggregating probe's map: the key is the record's bytes
/// `[RECORD_HEADER, RECORD_HEADER + key_size)`, where the compiler lays out
/// the `by:` values; the value holds every [`AggValue`], per CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggPlan {
    /// Key bytes (at least 8: a probe without `by:` has one zero key).
    pub key_size: u32,
    /// Key columns, decoded from the record slots they were captured in.
    pub keys: Vec<FieldPlan>,
    /// Bytes of one key's value (per CPU).
    pub value_size: u32,
    /// The values, in spec order.
    pub values: Vec<AggValue>,
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
    /// The address of the record being built: a read at `off` copies
    /// record bytes. In a paired end program, start values the join copied
    /// are named this way (`Read::Int`/`Read::Bytes`/`Read::Str` at their
    /// slot); the compiler emits an op for one only where a value must be
    /// copied to a slot of its own (an aggregation key), and otherwise reads
    /// the slot in place.
    Record,
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
    /// The current `struct task_struct *` (`bpf_get_current_task`).
    Task,
    /// The kernel stack's id in the shared stack map (`bpf_get_stackid`),
    /// negative (an errno) when it could not be stored.
    Kstack,
    /// The user stack's id in the shared stack map, as [`Builtin::Kstack`].
    Ustack,
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

/// One pointer dereference: `p = *(u64 *)(p + off)`, optionally indexed
/// first by a number read from the same object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hop {
    /// Offset added before the load.
    pub off: u32,
    /// Address space of the load.
    pub mem: Mem,
    /// Before the load, `p += scale * *(u32 *)(p + off)`: an array element
    /// chosen at run time (`pid->numbers[pid->level]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<HopIndex>,
}

/// The run-time index of an indexed [`Hop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopIndex {
    /// Offset of the `u32` index from the current pointer.
    pub off: u32,
    /// Bytes per element.
    pub scale: u32,
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
    /// `join()`: the NULL-terminated array of string pointers at `p`
    /// (execve's `argv`), at most `max_args` of them, joined with spaces
    /// into the slot; its last byte is 1 when something was left out.
    Join {
        /// Offset of the array from the current pointer.
        off: u32,
        /// Most strings read.
        max_args: u32,
        /// Address space of the array and the strings.
        mem: Mem,
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

/// Integer operators (spec-v2 section 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArithOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/` (0 when dividing by 0)
    Div,
    /// `%` (0 when dividing by 0)
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `<<` (count modulo 64)
    Shl,
    /// `>>` (arithmetic when signed; count modulo 64)
    Shr,
}

impl ArithOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            ArithOp::Add => "+",
            ArithOp::Sub => "-",
            ArithOp::Mul => "*",
            ArithOp::Div => "/",
            ArithOp::Mod => "%",
            ArithOp::BitAnd => "&",
            ArithOp::BitOr => "|",
            ArithOp::BitXor => "^",
            ArithOp::Shl => "<<",
            ArithOp::Shr => ">>",
        }
    }

    /// The operator written `s`.
    pub fn parse(s: &str) -> Option<ArithOp> {
        Some(match s {
            "+" => ArithOp::Add,
            "-" => ArithOp::Sub,
            "*" => ArithOp::Mul,
            "/" => ArithOp::Div,
            "%" => ArithOp::Mod,
            "&" => ArithOp::BitAnd,
            "|" => ArithOp::BitOr,
            "^" => ArithOp::BitXor,
            "<<" => ArithOp::Shl,
            ">>" => ArithOp::Shr,
            _ => return None,
        })
    }

    /// Applies the operator to 64-bit values as the templates do
    /// (`templates-ebpf/calc.h`): wrapping, division by zero gives 0, shift
    /// counts modulo 64, `/ % >>` signed when `signed`.
    pub fn eval(self, a: u64, b: u64, signed: bool) -> u64 {
        let (sa, sb) = (a as i64, b as i64);
        match self {
            ArithOp::Add => a.wrapping_add(b),
            ArithOp::Sub => a.wrapping_sub(b),
            ArithOp::Mul => a.wrapping_mul(b),
            ArithOp::Div if b == 0 => 0,
            ArithOp::Mod if b == 0 => 0,
            ArithOp::Div if signed => sa.wrapping_div(sb) as u64,
            ArithOp::Mod if signed => sa.wrapping_rem(sb) as u64,
            ArithOp::Div => a / b,
            ArithOp::Mod => a % b,
            ArithOp::BitAnd => a & b,
            ArithOp::BitOr => a | b,
            ArithOp::BitXor => a ^ b,
            ArithOp::Shl => a << (b & 63),
            ArithOp::Shr if signed => (sa >> (b & 63)) as u64,
            ArithOp::Shr => a >> (b & 63),
        }
    }
}

/// An operand of a [`CalcOp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CalcArg {
    /// The 8-byte integer in this record slot.
    Slot {
        /// Slot offset in the record.
        slot: u32,
    },
    /// A constant (two's complement bits).
    Imm {
        /// The value.
        value: u64,
    },
}

/// One arithmetic instruction run in the kernel: `dst = a op b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalcOp {
    /// Slot receiving the result.
    pub dst: u32,
    /// Operator.
    pub op: ArithOp,
    /// Left operand.
    pub a: CalcArg,
    /// Right operand (at most one of the two is an immediate).
    pub b: CalcArg,
    /// Signed `/`, `%`, `>>`.
    pub signed: bool,
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
    /// `join()`: a string, then (last byte) a truncation flag: `…` follows
    /// the text when it is set.
    Joined,
    /// An integer printed as a name from a fixed table (`errno()`,
    /// `signal()`, `cap()`, `tcp_state()`); a value without a name prints
    /// as the number.
    Name {
        /// Which table.
        table: NameTable,
        /// Signedness of the number.
        signed: bool,
    },
    /// An integer printed as the name of a kernel enum's enumerator
    /// (`enum(e, TYPE)`; [`Plan::enums`] holds the names).
    Enum {
        /// BTF type id of the enum.
        id: u32,
        /// Signedness of the number.
        signed: bool,
    },
    /// A kernel address printed as the symbol it falls in (`ksym()`).
    Ksym,
    /// A user address printed as the symbol it falls in (`usym()`), in the
    /// process whose pid is in the slot at `pid`.
    Usym {
        /// Record slot of the process id.
        pid: u32,
    },
    /// A cgroup v2 id printed as its path (`cgroup_path()`).
    CgroupPath,
    /// A kernel stack id ([`Builtin::Kstack`]) printed as its frames,
    /// innermost first, symbolized from `/proc/kallsyms`.
    Kstack {
        /// Frames printed (the innermost ones); 0: all.
        frames: u32,
    },
    /// A user stack id ([`Builtin::Ustack`]) printed as its frames,
    /// symbolized in the process whose pid is in the slot at `pid`.
    Ustack {
        /// Frames printed (the innermost ones); 0: all.
        frames: u32,
        /// Record slot of the process id.
        pid: u32,
    },
    /// A cgroup v2 id printed as the container id its path names
    /// (`container()`), or `-`.
    Container,
}

pub use crate::names::NameTable;

impl Decode {
    /// The record slot of the process id a value of this decoder prints
    /// in (`usym()`, `ustack`: user addresses mean something only in
    /// their process); `None` for the others.
    pub fn pid_slot(&self) -> Option<u32> {
        match *self {
            Decode::Usym { pid } | Decode::Ustack { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// [`Decode::pid_slot`], to set.
    pub fn pid_slot_mut(&mut self) -> Option<&mut u32> {
        match self {
            Decode::Usym { pid } | Decode::Ustack { pid, .. } => Some(pid),
            _ => None,
        }
    }
}
