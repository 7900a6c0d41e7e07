//! The Rust mirrors of the templates' configuration structs (`runtime::abi`)
//! must match the C layout the compiled objects carry in their BTF: every
//! member at the same byte offset with the same size, in every template.
//! A mismatch would make the loader write the configuration at the wrong
//! place and the templates silently capture garbage.

use std::mem::{offset_of, size_of, size_of_val};
use std::path::PathBuf;

use tracectl::abi::{TcConfig, TcFilterOp, TcOp};
use tracectl_compiler::btf::Btf;

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
                bit_off, bit_size, transform, _pad),
        ),
        (
            "tc_filter_op",
            size_of::<TcFilterOp>(),
            layout!(TcFilterOp, TcFilterOp::default();
                imm, a, b, len, kind, cmp, flags, _pad),
        ),
        (
            "tc_config",
            size_of::<TcConfig>(),
            layout!(TcConfig, TcConfig::default();
                wakeup_bytes, probe_index, target_tgid, nargs, ctx_copy, record_size,
                nops, filter_at, nfilter, flags, _pad0, ops, filter, strings),
        ),
    ]
}

fn objects() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../templates-ebpf/obj");
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
    assert_eq!(objs.len(), 8, "one object per probe kind: {objs:?}");
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
