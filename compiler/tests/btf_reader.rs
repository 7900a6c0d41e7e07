//! The BTF reader and the tracepoint formats derived from BTF, against the
//! committed fixture (`fixtures/mini_vmlinux.c` → `mini_vmlinux.btf.o`, so
//! they run without a kernel), and against the host kernel where it has BTF
//! and tracefs (skipped elsewhere, a failure under `CI=true`).

mod common;

use common::{fixture_btf, host};
use tracectl_compiler::btf::*;
use tracectl_compiler::tracefs::*;

fn func(btf: &Btf, name: &str) -> (Vec<(String, String)>, String) {
    let id = btf
        .find_func(name)
        .unwrap_or_else(|| panic!("no function {name}"));
    let (params, ret) = btf.func_signature(id).expect("a prototype");
    (
        params
            .iter()
            .map(|p| (p.name.to_string(), btf.display(p.ty)))
            .collect(),
        btf.display(ret),
    )
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn strukt(btf: &Btf, name: &str) -> TypeId {
    btf.find_struct(name)
        .unwrap_or_else(|| panic!("no struct {name}"))
}

#[test]
fn fixture_functions_and_prototypes() {
    let btf = fixture_btf();
    assert!(btf.type_count() > 50, "{} types", btf.type_count());
    assert_eq!(
        func(btf, "tcp_connect"),
        (pairs(&[("sk", "struct sock *")]), "int".to_string())
    );
    assert_eq!(
        func(btf, "tcp_v4_connect"),
        (
            pairs(&[
                ("sk", "struct sock *"),
                ("uaddr", "void *"),
                ("addr_len", "int")
            ]),
            "int".to_string()
        )
    );
    // The `__user` type tag is not shown; `const` is.
    assert_eq!(
        func(btf, "do_sys_openat2").0,
        pairs(&[
            ("dfd", "int"),
            ("filename", "const char *"),
            ("how", "void *")
        ])
    );
    assert_eq!(
        func(btf, "vfs_read_restrict").0,
        pairs(&[("buf", "char *restrict"), ("count", "size_t")])
    );
    assert_eq!(func(btf, "__se_sys_getpid"), (vec![], "long".to_string()));
    assert!(btf.find_func("tcp_conect").is_none());
    assert!(btf.find_func("").is_none());
    // Types are not functions.
    assert!(btf.find_func("sock").is_none());
    let names = btf.func_names();
    assert!(names.contains(&"tcp_connect") && names.contains(&"__do_sys_execve"));
    assert_eq!(
        names.len(),
        names.iter().collect::<std::collections::HashSet<_>>().len()
    );
}

#[test]
fn fixture_members_sizes_and_bitfields() {
    let btf = fixture_btf();
    let sc = strukt(btf, "sock_common");
    assert_eq!(btf.size_of(sc), Some(80));
    assert_eq!(btf.size_of(strukt(btf, "sock")), Some(112));
    assert_eq!(btf.size_of(strukt(btf, "task_struct")), Some(64));
    // Through anonymous unions and structs: offsets in bits.
    let m = |s, n| {
        btf.find_member(s, n)
            .unwrap_or_else(|| panic!("no member {n}"))
    };
    assert_eq!(m(sc, "skc_daddr").bit_offset, 0);
    assert_eq!(m(sc, "skc_rcv_saddr").bit_offset, 32);
    assert_eq!(m(sc, "skc_hash").bit_offset, 64);
    assert_eq!(m(sc, "skc_dport").bit_offset, 96);
    assert_eq!(m(sc, "skc_num").bit_offset, 112);
    assert_eq!(m(sc, "skc_v6_daddr").bit_offset, 48 * 8);
    // Bitfields: `unsigned char skc_reuse:4, skc_reuseport:1, ...` at byte 19.
    let reuse = m(sc, "skc_reuse");
    assert_eq!((reuse.bit_offset, reuse.bitfield_size), (152, 4));
    let rp = m(sc, "skc_reuseport");
    assert_eq!((rp.bit_offset, rp.bitfield_size), (156, 1));
    assert_eq!(m(sc, "skc_family").bitfield_size, 0);
    let sock = strukt(btf, "sock");
    let kern = m(sock, "sk_kern_sock");
    assert_eq!((kern.bit_offset, kern.bitfield_size), (84 * 8 + 1, 1));
    assert_eq!(m(sock, "sk_type").bit_offset, 86 * 8);
    assert!(btf.find_member(sc, "skc_dadr").is_none());
    assert!(btf.find_member(sc, "").is_none());
    // Anonymous members are flattened in the names offered as suggestions.
    let names = btf.member_names(sc);
    assert!(names.iter().any(|n| n == "skc_daddr"));
    assert!(names.iter().all(|n| !n.is_empty()));
    assert_eq!(
        names,
        [
            "skc_addrpair",
            "skc_daddr",
            "skc_rcv_saddr",
            "skc_hash",
            "skc_u16hashes",
            "skc_portpair",
            "skc_dport",
            "skc_num",
            "skc_family",
            "skc_state",
            "skc_reuse",
            "skc_reuseport",
            "skc_ipv6only",
            "skc_net_refcnt",
            "skc_bound_dev_if",
            "skc_bind_node",
            "skc_portaddr_node",
            "skc_prot",
            "skc_v6_daddr",
            "skc_v6_rcv_saddr",
        ]
    );
    // The members of one level, as written.
    let direct: Vec<&str> = btf.members(sc).iter().map(|m| m.name).collect();
    assert_eq!(direct[..3], ["", "", ""]);
    assert_eq!(direct[3], "skc_family");
}

#[test]
fn fixture_types_typedefs_enums_and_forward_declarations() {
    let btf = fixture_btf();
    let task = strukt(btf, "task_struct");
    let pid = btf.find_member(task, "pid").expect("pid");
    // pid_t → __kernel_pid_t → int.
    assert_eq!(btf.display(pid.ty), "pid_t");
    let int = btf.strip(pid.ty);
    assert!(matches!(
        btf.ty(int),
        Type::Int {
            name: "int",
            size: 4,
            signed: true,
            ..
        }
    ));
    let comm = btf.find_member(task, "comm").expect("comm");
    assert_eq!(btf.display(comm.ty), "char[16]");
    assert_eq!(btf.size_of(comm.ty), Some(16));
    let Type::Array { elem, len: 16 } = btf.ty(comm.ty) else {
        panic!("comm is not char[16]")
    };
    assert!(matches!(btf.ty(elem), Type::Int { is_char: true, .. }));
    let state = btf.find_member(task, "__state").expect("__state");
    assert_eq!(btf.display(state.ty), "volatile long");
    // An enum and its values.
    let sock = strukt(btf, "sock");
    let pacing = btf.find_member(sock, "sk_pacing_status").expect("pacing");
    let values: Vec<(&str, i64)> = btf
        .enum_values(pacing.ty)
        .iter()
        .map(|v| (v.name, v.value))
        .collect();
    assert_eq!(
        values,
        [
            ("SK_PACING_NONE", 0),
            ("SK_PACING_NEEDED", 1),
            ("SK_PACING_FQ", 2)
        ]
    );
    // `struct proto` is only declared.
    let sc = strukt(btf, "sock_common");
    let prot = btf.find_member(sc, "skc_prot").expect("skc_prot");
    let Type::Ptr { target } = btf.ty(prot.ty) else {
        panic!("skc_prot is not a pointer")
    };
    assert_eq!(
        btf.ty(target),
        Type::Fwd {
            name: "proto",
            is_union: false
        }
    );
    assert_eq!(btf.size_of(target), None);
    // Floats and unions.
    let f = btf.find_member(sock, "sk_float_for_tests").expect("float");
    assert_eq!(btf.ty(f.ty), Type::Float { size: 8 });
    let v6 = btf.find_member(sc, "skc_v6_daddr").expect("v6");
    let u = btf.find_member(v6.ty, "in6_u").expect("in6_u");
    assert!(matches!(btf.ty(u.ty), Type::Union { size: 16, .. }));
    assert_eq!(btf.display(u.ty), "union {...}");
    // Names of any kind.
    assert!(btf.find_named("umode_t").is_some());
    assert!(btf.find_named("sk_pacing").is_some());
    assert!(btf.find_named("nosuch").is_none());
    // Out-of-range ids are not types.
    assert_eq!(btf.ty(INVALID_TYPE), Type::Other);
    assert_eq!(btf.size_of(INVALID_TYPE), None);
}

#[test]
fn fixture_raw_tracepoints() {
    let btf = fixture_btf();
    let names = |n: &str| -> Vec<String> {
        btf.raw_tp_signature(n)
            .unwrap_or_else(|| panic!("no raw tracepoint {n}"))
            .iter()
            .map(|p| format!("{} {}", btf.display(p.ty), p.name))
            .collect()
    };
    assert_eq!(
        names("sched_process_exec"),
        [
            "struct task_struct * p",
            "pid_t old_pid",
            "struct linux_binprm * bprm"
        ]
    );
    // A DEFINE_EVENT: named by __probestub_sched_wakeup.
    assert_eq!(names("sched_wakeup"), ["struct task_struct * p"]);
    // An event class is not a tracepoint.
    assert!(btf.raw_tp_signature("sched_wakeup_template").is_none());
    assert!(btf.raw_tp_signature("nosuch").is_none());
    assert_eq!(btf.raw_tp_names(), ["sched_process_exec", "sched_wakeup"]);
}

#[test]
fn fixture_c_type_strings() {
    let btf = fixture_btf();
    // Blob types are found; spellings of integers match.
    let pid = btf.type_from_c("pid_t", 4, true);
    assert!(!btf.is_synthetic(pid));
    assert_eq!(btf.display(pid), "pid_t");
    let ul = btf.type_from_c("unsigned long", 8, false);
    assert!(!btf.is_synthetic(ul));
    assert_eq!(btf.size_of(ul), Some(8));
    // Pointers, arrays and qualifiers are synthetic, and stable.
    let s = btf.type_from_c("const char *", 8, false);
    assert!(btf.is_synthetic(s));
    assert_eq!(btf.display(s), "const char *");
    assert_eq!(btf.type_from_c("const char *", 8, false), s);
    let a = btf.type_from_c("char[16]", 16, false);
    assert_eq!(btf.display(a), "char[16]");
    assert_eq!(btf.size_of(a), Some(16));
    let dl = btf.type_from_c("__data_loc char[]", 4, false);
    assert!(matches!(btf.ty(dl), Type::Array { len: 0, .. }));
    let sk = btf.type_from_c("struct sock *", 8, false);
    let Type::Ptr { target } = btf.ty(sk) else {
        panic!("not a pointer")
    };
    assert_eq!(target, strukt(btf, "sock"));
    // Unknown names: a forward declaration under a pointer, an integer of
    // the given size otherwise.
    let fwd = btf.type_from_c("struct nosuch *", 8, false);
    let Type::Ptr { target } = btf.ty(fwd) else {
        panic!("not a pointer")
    };
    assert!(matches!(btf.ty(target), Type::Fwd { name: "nosuch", .. }));
    let odd = btf.type_from_c("gfp_t", 4, false);
    assert!(matches!(
        btf.ty(odd),
        Type::Int {
            size: 4,
            signed: false,
            ..
        }
    ));
    // Macro lengths come from the field size.
    let m = btf.type_from_c("char[TASK_COMM_LEN]", 16, false);
    assert!(matches!(btf.ty(m), Type::Array { len: 16, .. }));
}

#[test]
fn fixture_tracepoint_formats_from_btf() {
    let btf = fixture_btf();
    let f = format_from_btf(btf, "sched", "sched_process_exec").expect("the format");
    let fields: Vec<(&str, u32, u32, bool, bool)> = f
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.size, f.data_loc, f.common))
        .collect();
    assert_eq!(
        fields,
        [
            ("common_type", 0, 2, false, true),
            ("common_flags", 2, 1, false, true),
            ("common_preempt_count", 3, 1, false, true),
            ("common_pid", 4, 4, false, true),
            ("filename", 8, 4, true, false),
            ("pid", 12, 4, false, false),
            ("old_pid", 16, 4, false, false),
        ]
    );
    let sw = format_from_btf(btf, "sched", "sched_switch").expect("sched_switch");
    let next_pid = sw
        .fields
        .iter()
        .find(|f| f.name == "next_pid")
        .expect("next_pid");
    assert_eq!(
        (next_pid.offset, next_pid.size, next_pid.signed),
        (56, 4, true)
    );
    // syscalls from __do_sys_X: arguments at 16 + 8 i.
    let ex = format_from_btf(btf, "syscalls", "sys_enter_execve").expect("execve");
    let args: Vec<(&str, u32)> = ex
        .fields
        .iter()
        .filter(|f| !f.common)
        .map(|f| (f.name.as_str(), f.offset))
        .collect();
    assert_eq!(
        args,
        [
            ("__syscall_nr", 8),
            ("filename", 16),
            ("argv", 24),
            ("envp", 32)
        ]
    );
    assert!(format_from_btf(btf, "sched", "nosuch").is_none());
    let events = event_list_from_btf(btf);
    for e in [
        "syscalls:sys_enter_execve",
        "syscalls:sys_exit_execve",
        "*:sched_switch",
    ] {
        assert!(events.iter().any(|x| x == e), "{e} not in {events:?}");
    }
    // TpSource::Btf accepts any category for trace_event_raw_ events.
    assert!(TpSource::Btf(btf)
        .format("anything", "sched_switch")
        .is_some());
}

#[test]
fn malformed_btf_is_an_error_not_a_crash() {
    for bytes in [
        &b""[..],
        b"\x7fELF",
        b"\x9f\xeb\x01\x00",
        &[0u8; 64][..],
        b"not btf at all, just text long enough to have a header",
    ] {
        assert!(Btf::from_bytes(bytes.to_vec()).is_err(), "{bytes:?}");
    }
    assert!(matches!(
        Btf::from_file(std::path::Path::new("/nonexistent/btf")),
        Err(BtfError::Io(..))
    ));
    // Every byte of the fixture flipped in turn, in a few positions at once:
    // the reader refuses or reads it, and walking every type never panics.
    let good = std::fs::read(common::manifest_dir().join("tests/fixtures/mini_vmlinux.btf.o"))
        .expect("the fixture");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..400 {
        let mut bytes = good.clone();
        for _ in 0..1 + round % 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % bytes.len() as u64) as usize;
            bytes[i] = (x >> 32) as u8;
        }
        let Ok(btf) = Btf::from_bytes(bytes) else {
            continue;
        };
        for id in 0..btf.type_count() + 2 {
            let _ = btf.ty(id);
            let _ = btf.size_of(id);
            let _ = btf.display(id);
            let _ = btf.members(id);
            let _ = btf.member_names(id);
            let _ = btf.enum_values(id);
            let _ = btf.func_signature(id);
            let _ = btf.find_member(id, "skc_daddr");
        }
        let _ = btf.func_names();
        let _ = btf.raw_tp_names();
        let _ = btf.raw_tp_signature("sched_process_exec");
        let _ = event_list_from_btf(&btf);
        let _ = format_from_btf(&btf, "sched", "sched_switch");
        let _ = btf.type_from_c("const struct sock *[4]", 32, false);
    }
}

#[test]
fn host_kernel_btf() {
    let Some((btf, root)) = host() else {
        return;
    };
    let (params, ret) = func(btf, "tcp_connect");
    assert_eq!(params, pairs(&[("sk", "struct sock *")]));
    assert_eq!(ret, "int");
    let sc = btf
        .find_member(strukt(btf, "sock"), "__sk_common")
        .expect("__sk_common");
    assert_eq!(sc.bit_offset, 0);
    let daddr = btf.find_member(sc.ty, "skc_daddr").expect("skc_daddr");
    let dport = btf.find_member(sc.ty, "skc_dport").expect("skc_dport");
    assert_eq!(btf.display(daddr.ty), "__be32");
    assert_eq!(btf.display(dport.ty), "__be16");
    assert!(dport.bit_offset > daddr.bit_offset);
    assert!(btf.raw_tp_signature("sched_switch").is_some());
    assert!(btf.func_names().len() > 10_000);
    // Formats derived from BTF agree with tracefs where BTF has the record.
    for (cat, name) in [
        ("sched", "sched_switch"),
        ("sched", "sched_process_exec"),
        ("sched", "sched_process_fork"),
    ] {
        let from_tracefs = read_format(root, cat, name).expect("in tracefs");
        let from_btf = format_from_btf(btf, cat, name).expect("in BTF");
        let key = |f: &TpFormat| -> Vec<(String, u32, u32, bool, bool, bool)> {
            f.fields
                .iter()
                .map(|f| {
                    (
                        f.name.clone(),
                        f.offset,
                        f.size,
                        f.data_loc,
                        f.common,
                        f.signed,
                    )
                })
                .collect()
        };
        assert_eq!(key(&from_btf), key(&from_tracefs), "{cat}:{name}");
    }
    let events = event_list_from_tracefs(root);
    assert!(events.iter().any(|e| e == "syscalls:sys_enter_execve"));
}
