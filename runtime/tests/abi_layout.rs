//! The Rust mirrors of the templates' configuration structs (`runtime::abi`)
//! must match the C layout the compiled objects carry in their BTF: every
//! member at the same byte offset with the same size, in every template.
//! A mismatch would make the loader write the configuration at the wrong
//! place and the templates silently capture garbage.
//!
//! The codes and limits have one C source, `templates-ebpf/abi.h`: every
//! `#define TC_*` there must equal the Rust constant that mirrors it (in
//! `runtime::abi` or `compiler::plan`), and the array lengths and map sizes
//! the objects were built with must equal the Rust limits.

use std::collections::BTreeMap;
use std::mem::{offset_of, size_of, size_of_val};
use std::path::PathBuf;

use tracectl::abi::{self, TcAgg, TcCalc, TcConfig, TcFilterOp, TcOp};
use tracectl_compiler::btf::{Btf, Type};
use tracectl_compiler::plan;

/// (C member name, Rust offset, Rust size) of each member of a mirror.
type Layout = Vec<(&'static str, usize, usize)>;

macro_rules! layout {
    ($ty:ty, $value:expr; $($field:ident),+ $(,)?) => {{
        let v: $ty = $value;
        vec![$((stringify!($field), offset_of!($ty, $field), size_of_val(&v.$field))),+]
    }};
}

fn mirrors() -> Vec<(&'static str, usize, Layout)> {
    vec![
        (
            "tc_op",
            size_of::<TcOp>(),
            layout!(TcOp, TcOp::default();
                slot, slot_size, base_off, read_off, read_len, hop_off, hop_mem, base,
                base_size, base_signed, builtin, nhops, read, read_mem, read_signed,
                bit_off, bit_size, transform, index_hop, index_scale, _pad, index_off),
        ),
        (
            "tc_filter_op",
            size_of::<TcFilterOp>(),
            layout!(TcFilterOp, TcFilterOp::default();
                imm, a, b, len, kind, cmp, flags, _pad),
        ),
        (
            "tc_calc",
            size_of::<TcCalc>(),
            layout!(TcCalc, TcCalc::default(); imm, dst, a, b, op, flags, _pad),
        ),
        (
            "tc_agg",
            size_of::<TcAgg>(),
            layout!(TcAgg, TcAgg::default();
                lo, step, off, arg, nbuckets, func, flags, _pad),
        ),
        (
            "tc_config",
            size_of::<TcConfig>(),
            layout!(TcConfig, TcConfig::default();
                wakeup_bytes, probe_index, target_tgid, nargs, ctx_copy, record_size,
                nops, filter_at, nfilter, flags, _pad0, ops, filter, strings,
                ncalc, calc_at, sink, nagg, calc, agg, pair, value_off, value_size,
                key_off, key_size, join_at, join_calc, join_filter),
        ),
    ]
}

fn objects() -> Vec<PathBuf> {
    let dir = templates_dir().join("obj");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
        .collect();
    v.sort();
    v
}

#[test]
fn config_structs_match_every_template() {
    let objs = objects();
    assert_eq!(objs.len(), 9, "one object per probe kind: {objs:?}");
    let mut problems = Vec::new();
    for obj in &objs {
        let name = obj.file_name().unwrap().to_string_lossy().into_owned();
        let btf = Btf::from_file(obj).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (strukt, rust_size, fields) in mirrors() {
            let Some(id) = btf.find_struct(strukt) else {
                problems.push(format!("{name}: no struct {strukt} in its BTF"));
                continue;
            };
            let c_size = btf.size_of(id).unwrap_or(0) as usize;
            if c_size != rust_size {
                problems.push(format!(
                    "{name}: sizeof(struct {strukt}) is {c_size}, Rust {rust_size}"
                ));
            }
            let members = btf.members(id);
            let c_names: Vec<&str> = members.iter().map(|m| m.name).collect();
            let rust_names: Vec<&str> = fields.iter().map(|f| f.0).collect();
            if c_names != rust_names {
                problems.push(format!(
                    "{name}: struct {strukt} members {c_names:?}, Rust {rust_names:?}"
                ));
                continue;
            }
            for (m, (field, off, size)) in members.iter().zip(&fields) {
                assert_eq!(
                    m.bit_offset % 8,
                    0,
                    "{name}: {strukt}.{field} is a bitfield"
                );
                let c_off = (m.bit_offset / 8) as usize;
                let c_size = btf.size_of(m.ty).unwrap_or(0) as usize;
                if (c_off, c_size) != (*off, *size) {
                    problems.push(format!(
                        "{name}: {strukt}.{field} at {c_off} ({c_size} bytes) in C, \
                         at {off} ({size} bytes) in Rust"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

fn templates_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../templates-ebpf")
}

/// The numeric `#define TC_NAME VALUE` lines of a header, by name.
fn tc_defines(file: &str) -> BTreeMap<String, u64> {
    let path = templates_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("#define") else {
            continue;
        };
        let mut words = rest.split_whitespace();
        let Some(name) = words
            .next()
            .filter(|w| w.starts_with("TC_") && !w.contains('('))
        else {
            continue;
        };
        let value = words.next().unwrap_or("");
        let value = value.parse::<u64>().unwrap_or_else(|_| {
            panic!("{file}:{}: {name} is {value:?}, not a plain number", n + 1)
        });
        let before = out.insert(name.to_string(), value);
        assert!(before.is_none(), "{file}:{}: {name} defined twice", n + 1);
    }
    out
}

/// Every ABI constant of the Rust side, by the name of its C define.
fn rust_abi() -> Vec<(&'static str, u64)> {
    use abi::{agg, base, builtin, calc, cmp, filter, lost, mem, pair, read, transform};
    vec![
        ("TC_RECORD_HEADER", plan::RECORD_HEADER as u64),
        ("TC_MAX_RECORD", plan::MAX_RECORD as u64),
        ("TC_MAX_OPS", plan::MAX_OPS as u64),
        ("TC_MAX_HOPS", plan::MAX_HOPS as u64),
        ("TC_MAX_FILTER_OPS", plan::MAX_FILTER_OPS as u64),
        ("TC_STR_POOL", plan::STR_POOL as u64),
        ("TC_ARGS_AREA", plan::ABI_ARGS_AREA as u64),
        ("TC_RET_OFF", plan::RET_OFF as u64),
        ("TC_MAX_FUNC_ARGS", abi::MAX_FUNC_ARGS as u64),
        ("TC_MAX_REG_ARGS", abi::MAX_REG_ARGS as u64),
        ("TC_BASE_ARG", base::ARG as u64),
        ("TC_BASE_CTX", base::CTX as u64),
        ("TC_BASE_BUILTIN", base::BUILTIN as u64),
        ("TC_BASE_RECORD", base::RECORD as u64),
        ("TC_BI_PID", builtin::PID as u64),
        ("TC_BI_TID", builtin::TID as u64),
        ("TC_BI_UID", builtin::UID as u64),
        ("TC_BI_GID", builtin::GID as u64),
        ("TC_BI_COMM", builtin::COMM as u64),
        ("TC_BI_TS", builtin::TS as u64),
        ("TC_BI_CPU", builtin::CPU as u64),
        ("TC_BI_CGROUP", builtin::CGROUP as u64),
        ("TC_BI_TASK", builtin::TASK as u64),
        ("TC_BI_KSTACK", builtin::KSTACK as u64),
        ("TC_BI_USTACK", builtin::USTACK as u64),
        ("TC_STACK_FRAMES", plan::MAX_STACK_FRAMES as u64),
        ("TC_READ_VALUE", read::VALUE as u64),
        ("TC_READ_INT", read::INT as u64),
        ("TC_READ_STR", read::STR as u64),
        ("TC_READ_BYTES", read::BYTES as u64),
        ("TC_READ_DATALOC", read::DATALOC as u64),
        ("TC_READ_JOIN", read::JOIN as u64),
        ("TC_MEM_KERNEL", mem::KERNEL as u64),
        ("TC_MEM_USER", mem::USER as u64),
        ("TC_XF_NONE", transform::NONE as u64),
        ("TC_XF_BSWAP16", transform::BSWAP16 as u64),
        ("TC_XF_BSWAP32", transform::BSWAP32 as u64),
        ("TC_F_CONST", filter::CONST as u64),
        ("TC_F_CMP_IMM", filter::CMP_IMM as u64),
        ("TC_F_CMP_SLOTS", filter::CMP_SLOTS as u64),
        ("TC_F_CMP_STR", filter::CMP_STR as u64),
        ("TC_F_AND", filter::AND as u64),
        ("TC_F_OR", filter::OR as u64),
        ("TC_F_NOT", filter::NOT as u64),
        ("TC_CMP_EQ", cmp::EQ as u64),
        ("TC_CMP_NE", cmp::NE as u64),
        ("TC_CMP_LT", cmp::LT as u64),
        ("TC_CMP_LE", cmp::LE as u64),
        ("TC_CMP_GT", cmp::GT as u64),
        ("TC_CMP_GE", cmp::GE as u64),
        ("TC_FF_SIGNED", filter::FF_SIGNED as u64),
        ("TC_FF_PREFIX", filter::FF_PREFIX as u64),
        ("TC_FF_NEGATE", filter::FF_NEGATE as u64),
        ("TC_FF_VALUE", filter::FF_VALUE as u64),
        ("TC_CFG_NEED_RET", abi::CFG_NEED_RET as u64),
        ("TC_CFG_NO_TS", abi::CFG_NO_TS as u64),
        ("TC_CFG_SCRATCH", abi::CFG_SCRATCH as u64),
        ("TC_CFG_CGROUP", abi::CFG_CGROUP as u64),
        ("TC_MAX_JOIN_ARGS", plan::MAX_JOIN_ARGS as u64),
        ("TC_JOIN_BYTES", plan::JOIN_BYTES as u64),
        ("TC_LOST_RING", lost::RING as u64),
        ("TC_LOST_UNKNOWN", lost::UNKNOWN as u64),
        ("TC_LOST_SLOTS", lost::SLOTS as u64),
        ("TC_MAX_CALC", plan::MAX_CALC as u64),
        ("TC_MAX_AGG", plan::MAX_AGG as u64),
        ("TC_HIST_BUCKETS", plan::HIST_BUCKETS as u64),
        ("TC_MAX_AGG_VALUE", plan::MAX_AGG_VALUE as u64),
        ("TC_OP_ADD", calc::ADD as u64),
        ("TC_OP_SUB", calc::SUB as u64),
        ("TC_OP_MUL", calc::MUL as u64),
        ("TC_OP_DIV", calc::DIV as u64),
        ("TC_OP_MOD", calc::MOD as u64),
        ("TC_OP_AND", calc::AND as u64),
        ("TC_OP_OR", calc::OR as u64),
        ("TC_OP_XOR", calc::XOR as u64),
        ("TC_OP_SHL", calc::SHL as u64),
        ("TC_OP_SHR", calc::SHR as u64),
        ("TC_CF_SIGNED", calc::CF_SIGNED as u64),
        ("TC_CF_IMM_A", calc::CF_IMM_A as u64),
        ("TC_CF_IMM_B", calc::CF_IMM_B as u64),
        ("TC_SINK_RING", agg::SINK_RING as u64),
        ("TC_SINK_AGG", agg::SINK_AGG as u64),
        ("TC_SINK_STASH", agg::SINK_STASH as u64),
        ("TC_MAX_PAIR_KEY", plan::MAX_PAIR_KEY as u64),
        ("TC_PAIR_NONE", pair::NONE as u64),
        ("TC_PAIR_START", pair::START as u64),
        ("TC_PAIR_END", pair::END as u64),
        ("TC_PC_STASHED", pair::PC_STASHED as u64),
        ("TC_PC_REPLACED", pair::PC_REPLACED as u64),
        ("TC_PC_MATCHED", pair::PC_MATCHED as u64),
        ("TC_PC_UNMATCHED", pair::PC_UNMATCHED as u64),
        ("TC_PC_FAILED", pair::PC_FAILED as u64),
        ("TC_PC_SLOTS", pair::PC_SLOTS as u64),
        ("TC_AGG_COUNT", agg::COUNT as u64),
        ("TC_AGG_SUM", agg::SUM as u64),
        ("TC_AGG_MIN", agg::MIN as u64),
        ("TC_AGG_MAX", agg::MAX as u64),
        ("TC_AGG_AVG", agg::AVG as u64),
        ("TC_AGG_HIST", agg::HIST as u64),
        ("TC_AGG_LHIST", agg::LHIST as u64),
        ("TC_AF_SIGNED", agg::AF_SIGNED as u64),
    ]
}

/// Every `#define TC_*` of abi.h equals its Rust mirror; none is missing on
/// either side.
#[test]
fn abi_header_matches_the_rust_constants() {
    let c = tc_defines("abi.h");
    let rust = rust_abi();
    let mut problems = Vec::new();
    for (name, value) in &rust {
        match c.get(*name) {
            None => problems.push(format!("{name} = {value} in Rust, missing from abi.h")),
            Some(v) if v != value => {
                problems.push(format!("{name} is {v} in abi.h, {value} in Rust"))
            }
            Some(_) => {}
        }
    }
    for name in c.keys() {
        if !rust.iter().any(|(n, _)| n == name) {
            problems.push(format!("{name} is in abi.h but has no Rust mirror"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The code lists the runtime validates against (`abi::*::ALL`) are exactly
/// the codes abi.h defines, family by family.
#[test]
fn known_code_lists_are_the_header_families() {
    use abi::{base, builtin, cmp, filter, mem, read, transform};
    let c = tc_defines("abi.h");
    let widen = |v: &[u8]| v.iter().map(|&x| x as u64).collect::<Vec<_>>();
    let families: Vec<(&str, Vec<u64>)> = vec![
        ("TC_BASE_", widen(&base::ALL)),
        ("TC_BI_", widen(&builtin::ALL)),
        ("TC_READ_", widen(&read::ALL)),
        ("TC_MEM_", widen(&mem::ALL)),
        ("TC_XF_", widen(&transform::ALL)),
        ("TC_F_", widen(&filter::ALL)),
        ("TC_CMP_", widen(&cmp::ALL)),
        ("TC_FF_", widen(&filter::FF_ALL)),
        ("TC_CFG_", abi::CFG_ALL.iter().map(|&x| x as u64).collect()),
        ("TC_OP_", widen(&abi::calc::ALL)),
        ("TC_CF_", widen(&abi::calc::CF_ALL)),
        (
            "TC_SINK_",
            abi::agg::SINK_ALL.iter().map(|&x| x as u64).collect(),
        ),
        ("TC_AGG_", widen(&abi::agg::ALL)),
        ("TC_AF_", widen(&abi::agg::AF_ALL)),
        (
            "TC_PAIR_",
            abi::pair::ALL.iter().map(|&x| x as u64).collect(),
        ),
    ];
    let mut problems = Vec::new();
    for (prefix, rust) in families {
        let mut header: Vec<u64> = c
            .iter()
            .filter(|(n, _)| n.starts_with(prefix))
            .map(|(_, v)| *v)
            .collect();
        let mut rust = rust;
        header.sort();
        rust.sort();
        if header != rust {
            problems.push(format!(
                "{prefix}*: abi.h has {header:?}, Rust knows {rust:?}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// capture.h takes every ABI value from abi.h: it defines none of its own.
#[test]
fn capture_h_defines_no_abi_values() {
    let own = tc_defines("capture.h");
    assert!(
        own.is_empty(),
        "capture.h defines {own:?}; ABI values belong in abi.h (checked against Rust)"
    );
}

/// Length of the array member `member` of `strukt`, from an object's BTF.
fn array_len(btf: &Btf, strukt: &str, member: &str) -> Option<u32> {
    let id = btf.find_struct(strukt)?;
    let m = btf.find_member(id, member)?;
    match btf.ty(btf.strip(m.ty)) {
        Type::Array { len, .. } => Some(len),
        _ => None,
    }
}

/// The objects were built with the Rust limits: array lengths in their BTF
/// and the `lost` map's entries. (The record header is not in the objects'
/// BTF; capture.h asserts `sizeof(struct tc_header) == TC_RECORD_HEADER`.)
#[test]
fn objects_were_built_with_the_rust_limits() {
    let expected: [(&str, &str, u64); 9] = [
        ("tc_config", "calc", plan::MAX_CALC as u64),
        ("tc_config", "agg", plan::MAX_AGG as u64),
        ("tc_op", "hop_off", plan::MAX_HOPS as u64),
        ("tc_op", "hop_mem", plan::MAX_HOPS as u64),
        ("tc_config", "ops", plan::MAX_OPS as u64),
        ("tc_config", "filter", plan::MAX_FILTER_OPS as u64),
        ("tc_config", "strings", plan::STR_POOL as u64),
        ("tc_scratch", "args", plan::ABI_ARGS_AREA as u64),
        ("tc_scratch", "rec", plan::MAX_RECORD as u64),
    ];
    let objs = objects();
    assert_eq!(objs.len(), 9, "one object per probe kind: {objs:?}");
    let mut problems = Vec::new();
    for obj in &objs {
        let name = obj.file_name().unwrap().to_string_lossy().into_owned();
        let btf = Btf::from_file(obj).unwrap_or_else(|e| panic!("{name}: {e}"));
        for (strukt, member, want) in expected {
            let got = array_len(&btf, strukt, member).map(u64::from);
            if got != Some(want) {
                problems.push(format!(
                    "{name}: {strukt}.{member} is {got:?} in the object, {want} in Rust"
                ));
            }
        }
        let bytes = std::fs::read(obj).unwrap();
        let parsed = aya_obj::Object::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        let lost = parsed
            .maps
            .get(tracectl::templates::LOST_MAP)
            .map(|m| m.max_entries());
        if lost != Some(abi::lost::SLOTS) {
            problems.push(format!(
                "{name}: the lost map has {lost:?} entries, Rust reads {}",
                abi::lost::SLOTS
            ));
        }
        let counts = parsed
            .maps
            .get(tracectl::pair::PAIR_COUNTS_MAP)
            .map(|m| m.max_entries());
        if counts != Some(abi::pair::PC_SLOTS) {
            problems.push(format!(
                "{name}: the pair_counts map has {counts:?} entries, Rust reads {}",
                abi::pair::PC_SLOTS
            ));
        }
        // The stack map: each stack MAX_STACK_FRAMES frames, as Rust reads them.
        let stacks = parsed
            .maps
            .get(tracectl::templates::STACKS_MAP)
            .map(|m| (m.map_type(), m.value_size()));
        let want = (
            aya_obj::generated::bpf_map_type::BPF_MAP_TYPE_STACK_TRACE as u32,
            plan::MAX_STACK_FRAMES * 8,
        );
        if stacks != Some(want) {
            problems.push(format!(
                "{name}: the stacks map is (type, value size) {stacks:?}, Rust reads {want:?}"
            ));
        }
        match parsed.maps.get(tracectl::pair::STASH_MAP) {
            Some(aya_obj::Map::Legacy(_)) => {}
            other => problems.push(format!(
                "{name}: the stash must be a legacy map (the loader sizes it per spec), \
                 found {:?}",
                other.map(|m| m.map_type())
            )),
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Distinct, nonzero test values: each call returns the next one.
struct Distinct(u32);

impl Distinct {
    fn u8(&mut self) -> u8 {
        self.0 += 1;
        (self.0 % 251) as u8 + 1
    }
    fn u32(&mut self) -> u32 {
        self.0 += 1;
        0xA100_0000 | (self.0 << 8) | (self.0 % 251 + 1)
    }
    fn u64(&mut self) -> u64 {
        (u64::from(self.u32()) << 32) | u64::from(self.u32())
    }
}

/// The bytes `to_bytes` must hold for each member of `struct tc_op`, by C
/// name (padding: zero, whatever the mirror holds).
fn op_bytes(o: &TcOp) -> Vec<(&'static str, Vec<u8>)> {
    let hops: Vec<u8> = o.hop_off.iter().flat_map(|h| h.to_ne_bytes()).collect();
    vec![
        ("slot", o.slot.to_ne_bytes().to_vec()),
        ("slot_size", o.slot_size.to_ne_bytes().to_vec()),
        ("base_off", o.base_off.to_ne_bytes().to_vec()),
        ("read_off", o.read_off.to_ne_bytes().to_vec()),
        ("read_len", o.read_len.to_ne_bytes().to_vec()),
        ("hop_off", hops),
        ("hop_mem", o.hop_mem.to_vec()),
        ("base", vec![o.base]),
        ("base_size", vec![o.base_size]),
        ("base_signed", vec![o.base_signed]),
        ("builtin", vec![o.builtin]),
        ("nhops", vec![o.nhops]),
        ("read", vec![o.read]),
        ("read_mem", vec![o.read_mem]),
        ("read_signed", vec![o.read_signed]),
        ("bit_off", vec![o.bit_off]),
        ("bit_size", vec![o.bit_size]),
        ("transform", vec![o.transform]),
        ("index_hop", vec![o.index_hop]),
        ("index_scale", vec![o.index_scale]),
        ("_pad", vec![0]),
        ("index_off", o.index_off.to_ne_bytes().to_vec()),
    ]
}

/// Same for `struct tc_filter_op`.
fn filter_bytes(f: &TcFilterOp) -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("imm", f.imm.to_ne_bytes().to_vec()),
        ("a", f.a.to_ne_bytes().to_vec()),
        ("b", f.b.to_ne_bytes().to_vec()),
        ("len", f.len.to_ne_bytes().to_vec()),
        ("kind", vec![f.kind]),
        ("cmp", vec![f.cmp]),
        ("flags", vec![f.flags]),
        ("_pad", vec![0]),
    ]
}

/// A configuration whose every field of every op, filter instruction and
/// pool byte holds its own value (padding too, which must not be copied).
fn all_distinct() -> TcConfig {
    let mut n = Distinct(0);
    let mut c = TcConfig {
        wakeup_bytes: n.u64(),
        probe_index: n.u32(),
        target_tgid: n.u32(),
        nargs: n.u32(),
        ctx_copy: n.u32(),
        record_size: n.u32(),
        nops: n.u32(),
        filter_at: n.u32(),
        nfilter: n.u32(),
        flags: n.u32(),
        _pad0: n.u32(),
        ncalc: n.u32(),
        calc_at: n.u32(),
        sink: n.u32(),
        nagg: n.u32(),
        pair: n.u32(),
        value_off: n.u32(),
        value_size: n.u32(),
        key_off: n.u32(),
        key_size: n.u32(),
        join_at: n.u32(),
        join_calc: n.u32(),
        join_filter: n.u32(),
        ..TcConfig::default()
    };
    for c in c.calc.iter_mut() {
        *c = TcCalc {
            imm: n.u64(),
            dst: n.u32(),
            a: n.u32(),
            b: n.u32(),
            op: n.u8(),
            flags: n.u8(),
            _pad: [0xEE; 2],
        };
    }
    for a in c.agg.iter_mut() {
        *a = TcAgg {
            lo: n.u64(),
            step: n.u64(),
            off: n.u32(),
            arg: n.u32(),
            nbuckets: n.u32(),
            func: n.u8(),
            flags: n.u8(),
            _pad: [0xEE; 2],
        };
    }
    for o in c.ops.iter_mut() {
        *o = TcOp {
            slot: n.u32(),
            slot_size: n.u32(),
            base_off: n.u32(),
            read_off: n.u32(),
            read_len: n.u32(),
            hop_off: [n.u32(), n.u32(), n.u32(), n.u32()],
            hop_mem: [n.u8(), n.u8(), n.u8(), n.u8()],
            base: n.u8(),
            base_size: n.u8(),
            base_signed: n.u8(),
            builtin: n.u8(),
            nhops: n.u8(),
            read: n.u8(),
            read_mem: n.u8(),
            read_signed: n.u8(),
            bit_off: n.u8(),
            bit_size: n.u8(),
            transform: n.u8(),
            index_hop: n.u8(),
            index_scale: n.u8(),
            _pad: 0xEE,
            index_off: n.u32() as u16,
        };
    }
    for f in c.filter.iter_mut() {
        *f = TcFilterOp {
            imm: n.u64(),
            a: n.u32(),
            b: n.u32(),
            len: n.u32(),
            kind: n.u8(),
            cmp: n.u8(),
            flags: n.u8(),
            _pad: 0xEE,
        };
    }
    for b in c.strings.iter_mut() {
        *b = n.u8();
    }
    c
}

/// Compares `bytes[at..]` with the expected bytes of each member of the C
/// struct `strukt`, at the offsets and sizes the object's BTF gives (an
/// empty expectation: an array of structs the caller compares itself).
fn compare_members(
    btf: &Btf,
    strukt: &str,
    bytes: &[u8],
    at: usize,
    expected: &[(&str, Vec<u8>)],
    label: &str,
    problems: &mut Vec<String>,
) {
    let id = btf
        .find_struct(strukt)
        .unwrap_or_else(|| panic!("{label}: no struct {strukt}"));
    let members = btf.members(id);
    assert_eq!(
        members.len(),
        expected.len(),
        "{label}: {strukt} has members {:?}",
        members.iter().map(|m| m.name).collect::<Vec<_>>()
    );
    for m in &members {
        let off = at + (m.bit_offset / 8) as usize;
        let size = btf.size_of(m.ty).unwrap_or(0) as usize;
        let Some((_, want)) = expected.iter().find(|(n, _)| *n == m.name) else {
            problems.push(format!(
                "{label}: {strukt}.{} has no expected value",
                m.name
            ));
            continue;
        };
        if want.is_empty() {
            continue; // an array of structs, compared element by element
        }
        let got = &bytes[off..off + size];
        if got != want.as_slice() {
            problems.push(format!(
                "{label}.{}: bytes {off}..{} are {got:02x?}, expected {want:02x?}",
                m.name,
                off + size
            ));
        }
    }
}

/// `TcConfig::to_bytes` puts every field of every op, filter instruction
/// and the string pool at the byte offset (and width) the objects' BTF
/// gives for it: any offset or width error in the writer fails by name.
#[test]
fn every_field_is_written_at_its_btf_offset() {
    let cfg = all_distinct();
    let bytes = cfg.to_bytes();
    assert_eq!(bytes.len(), abi::CONFIG_SIZE);
    let mut problems = Vec::new();
    for obj in objects() {
        let name = obj.file_name().unwrap().to_string_lossy().into_owned();
        let btf = Btf::from_file(&obj).unwrap_or_else(|e| panic!("{name}: {e}"));
        let top = btf.find_struct("tc_config").expect("struct tc_config");
        let member_off = |m: &str| {
            let found = btf
                .members(top)
                .into_iter()
                .find(|x| x.name == m)
                .unwrap_or_else(|| panic!("{name}: no tc_config.{m}"));
            (found.bit_offset / 8) as usize
        };
        let op_size = btf.size_of(btf.find_struct("tc_op").unwrap()).unwrap() as usize;
        let f_size = btf
            .size_of(btf.find_struct("tc_filter_op").unwrap())
            .unwrap() as usize;
        let strings: Vec<u8> = cfg.strings.to_vec();
        let top_fields: Vec<(&str, Vec<u8>)> = vec![
            ("wakeup_bytes", cfg.wakeup_bytes.to_ne_bytes().to_vec()),
            ("probe_index", cfg.probe_index.to_ne_bytes().to_vec()),
            ("target_tgid", cfg.target_tgid.to_ne_bytes().to_vec()),
            ("nargs", cfg.nargs.to_ne_bytes().to_vec()),
            ("ctx_copy", cfg.ctx_copy.to_ne_bytes().to_vec()),
            ("record_size", cfg.record_size.to_ne_bytes().to_vec()),
            ("nops", cfg.nops.to_ne_bytes().to_vec()),
            ("filter_at", cfg.filter_at.to_ne_bytes().to_vec()),
            ("nfilter", cfg.nfilter.to_ne_bytes().to_vec()),
            ("flags", cfg.flags.to_ne_bytes().to_vec()),
            ("_pad0", vec![0; 4]),
            // (ops, filter, calc and agg: element by element below)
            ("ops", vec![]),
            ("filter", vec![]),
            ("strings", strings),
            ("ncalc", cfg.ncalc.to_ne_bytes().to_vec()),
            ("calc_at", cfg.calc_at.to_ne_bytes().to_vec()),
            ("sink", cfg.sink.to_ne_bytes().to_vec()),
            ("nagg", cfg.nagg.to_ne_bytes().to_vec()),
            ("calc", vec![]),
            ("agg", vec![]),
            ("pair", cfg.pair.to_ne_bytes().to_vec()),
            ("value_off", cfg.value_off.to_ne_bytes().to_vec()),
            ("value_size", cfg.value_size.to_ne_bytes().to_vec()),
            ("key_off", cfg.key_off.to_ne_bytes().to_vec()),
            ("key_size", cfg.key_size.to_ne_bytes().to_vec()),
            ("join_at", cfg.join_at.to_ne_bytes().to_vec()),
            ("join_calc", cfg.join_calc.to_ne_bytes().to_vec()),
            ("join_filter", cfg.join_filter.to_ne_bytes().to_vec()),
        ];
        compare_members(
            &btf,
            "tc_config",
            &bytes,
            0,
            &top_fields,
            &name,
            &mut problems,
        );
        for (i, op) in cfg.ops.iter().enumerate() {
            let at = member_off("ops") + i * op_size;
            let label = format!("{name}: ops[{i}]");
            compare_members(
                &btf,
                "tc_op",
                &bytes,
                at,
                &op_bytes(op),
                &label,
                &mut problems,
            );
        }
        let c_size = btf.size_of(btf.find_struct("tc_calc").unwrap()).unwrap() as usize;
        for (k, c) in cfg.calc.iter().enumerate() {
            let at = member_off("calc") + k * c_size;
            let label = format!("{name}: calc[{k}]");
            let want = vec![
                ("imm", c.imm.to_ne_bytes().to_vec()),
                ("dst", c.dst.to_ne_bytes().to_vec()),
                ("a", c.a.to_ne_bytes().to_vec()),
                ("b", c.b.to_ne_bytes().to_vec()),
                ("op", vec![c.op]),
                ("flags", vec![c.flags]),
                ("_pad", vec![0; 2]),
            ];
            compare_members(&btf, "tc_calc", &bytes, at, &want, &label, &mut problems);
        }
        let a_size = btf.size_of(btf.find_struct("tc_agg").unwrap()).unwrap() as usize;
        for (k, a) in cfg.agg.iter().enumerate() {
            let at = member_off("agg") + k * a_size;
            let label = format!("{name}: agg[{k}]");
            let want = vec![
                ("lo", a.lo.to_ne_bytes().to_vec()),
                ("step", a.step.to_ne_bytes().to_vec()),
                ("off", a.off.to_ne_bytes().to_vec()),
                ("arg", a.arg.to_ne_bytes().to_vec()),
                ("nbuckets", a.nbuckets.to_ne_bytes().to_vec()),
                ("func", vec![a.func]),
                ("flags", vec![a.flags]),
                ("_pad", vec![0; 2]),
            ];
            compare_members(&btf, "tc_agg", &bytes, at, &want, &label, &mut problems);
        }
        for (k, f) in cfg.filter.iter().enumerate() {
            let at = member_off("filter") + k * f_size;
            let label = format!("{name}: filter[{k}]");
            compare_members(
                &btf,
                "tc_filter_op",
                &bytes,
                at,
                &filter_bytes(f),
                &label,
                &mut problems,
            );
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
