//! Resolution against the committed miniature vmlinux
//! (`fixtures/mini_vmlinux.c`, built into `mini_vmlinux.btf.o`): specs are
//! compiled against its BTF, and the plans' offsets, sizes, reads, hops and
//! decoders are checked against the C layout. No kernel is needed: these
//! run wherever the crate builds.
//!
//! The offsets below follow from the fixture's C declarations (x86-64 /
//! BPF: 8-byte pointers and longs); the comments show the arithmetic.

mod common;

use common::fixture_env;
use tracectl_compiler::compile::{compile_source, Compiled, Options};
use tracectl_compiler::diag::{render, Diagnostic};
use tracectl_compiler::plan::*;

fn compile(name: &str, src: &str) -> Compiled {
    let env = fixture_env();
    compile_source(name, src, &env, &Options::default())
        .unwrap_or_else(|d| panic!("{name} fails:\n{}", render(name, src, &d, false)))
}

fn dsl(src: &str) -> Plan {
    let c = compile("t.trace", src);
    assert!(c.warnings.is_empty(), "warnings: {:?}", c.warnings);
    c.plan
}

fn fail(src: &str) -> Vec<Diagnostic> {
    let env = fixture_env();
    match compile_source("t.trace", src, &env, &Options::default()) {
        Ok(c) => panic!("{src} compiled: {:?}", c.plan),
        Err(d) => d,
    }
}

/// The first error, which must contain `message`; returns it.
fn error(src: &str, message: &str) -> Diagnostic {
    let d = fail(src);
    let e = d
        .iter()
        .find(|d| d.message.contains(message))
        .unwrap_or_else(|| panic!("no error contains {message:?}: {d:?}"));
    e.clone()
}

/// The value op that fills field `name` of probe `probe`, and its decoder.
fn field<'p>(plan: &'p Plan, probe: usize, name: &str) -> (&'p ValueOp, Decode) {
    let p = &plan.probes[probe];
    let f = p
        .fields
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name}"));
    let op = p
        .config
        .ops
        .iter()
        .find(|o| o.slot == f.slot)
        .unwrap_or_else(|| panic!("no op for slot {}", f.slot));
    (op, f.decode)
}

fn int(off: u32, size: u32, signed: bool) -> Read {
    Read::Int {
        off,
        size,
        signed,
        bit_off: 0,
        bit_size: 0,
    }
}

fn bits(off: u32, size: u32, bit_off: u32, bit_size: u32) -> Read {
    Read::Int {
        off,
        size,
        signed: false,
        bit_off,
        bit_size,
    }
}

const ARG0: Base = Base::Arg {
    off: 0,
    size: 8,
    signed: false,
};

fn udec(size: u32) -> Decode {
    Decode::Int {
        size,
        signed: false,
    }
}

#[test]
fn kfunc_arguments_and_members_through_a_pointer() {
    let plan = dsl("kfunc:tcp_connect {
        daddr = ip4(sk->__sk_common.skc_daddr),
        dport = ntohs(sk->__sk_common.skc_dport),
        family = sk->__sk_common.skc_family,
        state = sk->__sk_common.skc_state,
        dev = sk->__sk_common.skc_bound_dev_if,
        sk
    }");
    let p = &plan.probes[0];
    assert_eq!(
        p.attach,
        Attach::Kernel {
            function: "tcp_connect".into(),
            ret: false,
            mode: KernelMode::Auto
        }
    );
    assert_eq!(p.name, "tcp_connect");
    assert_eq!(p.config.nargs, 1);
    assert_eq!(p.config.ctx_copy, 0);
    // sock_common: the anonymous union of skc_addrpair and
    // { skc_daddr; skc_rcv_saddr } is at 0, so skc_daddr is at 0.
    let (op, dec) = field(&plan, 0, "daddr");
    assert_eq!(op.base, ARG0);
    assert!(op.hops.is_empty());
    assert_eq!(op.read, int(0, 4, false));
    assert_eq!(op.mem, Mem::Kernel);
    assert_eq!(dec, Decode::Ip4);
    // 8 (addrpair) + 4 (skc_hash union): the port union is at 12.
    let (op, dec) = field(&plan, 0, "dport");
    assert_eq!(op.read, int(12, 2, false));
    assert_eq!(op.transform, Transform::Bswap16);
    assert_eq!(dec, udec(2));
    let (op, dec) = field(&plan, 0, "family");
    assert_eq!(op.read, int(16, 2, false));
    assert_eq!(op.transform, Transform::None);
    assert_eq!(dec, udec(2));
    // volatile unsigned char: the qualifier is looked through.
    let (op, dec) = field(&plan, 0, "state");
    assert_eq!(op.read, int(18, 1, false));
    assert_eq!(dec, udec(1));
    // After the byte of bitfields at 19: int at 20, signed.
    let (op, dec) = field(&plan, 0, "dev");
    assert_eq!(op.read, int(20, 4, true));
    assert_eq!(
        dec,
        Decode::Int {
            size: 4,
            signed: true
        }
    );
    // The pointer itself.
    let (op, dec) = field(&plan, 0, "sk");
    assert_eq!(op.base, ARG0);
    assert_eq!(op.read, Read::Value);
    assert_eq!(dec, Decode::Pointer);
    // Records: a 16-byte header, then one 8-byte slot per value.
    assert_eq!(p.config.record_size, 16 + 6 * 8);
    let slots: Vec<u32> = p.fields.iter().map(|f| f.slot).collect();
    assert_eq!(slots, [16, 24, 32, 40, 48, 56]);
}

#[test]
fn anonymous_unions_and_arrays() {
    let plan = dsl("kfunc:tcp_connect {
        rcv = sk->__sk_common.skc_rcv_saddr,
        num = sk->__sk_common.skc_num,
        hash = sk->__sk_common.skc_hash,
        pair = sk->__sk_common.skc_addrpair,
        halves = sk->__sk_common.skc_u16hashes,
        half = sk->__sk_common.skc_u16hashes[1],
        v6 = ip6(sk->__sk_common.skc_v6_daddr),
        word = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr32[3],
        bytes16 = sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8,
        raw = bytes(sk->__sk_common.skc_v6_rcv_saddr, 5),
        next = hex(sk->__sk_common.skc_bind_node.next)
    }");
    assert_eq!(field(&plan, 0, "rcv").0.read, int(4, 4, false));
    assert_eq!(field(&plan, 0, "num").0.read, int(14, 2, false));
    assert_eq!(field(&plan, 0, "hash").0.read, int(8, 4, false));
    let (op, dec) = field(&plan, 0, "pair");
    assert_eq!(op.read, int(0, 8, false));
    assert_eq!(dec, udec(8));
    // __u16[2] is an array of numbers.
    let (op, dec) = field(&plan, 0, "halves");
    assert_eq!(
        op.read,
        Read::Bytes {
            off: 8,
            len: 4,
            mem: Mem::Kernel
        }
    );
    assert_eq!(
        dec,
        Decode::IntArray {
            elem: 2,
            signed: false
        }
    );
    assert_eq!(field(&plan, 0, "half").0.read, int(10, 2, false));
    // The 80-byte sock_common ends with two in6_addr: 48 and 64.
    let (op, dec) = field(&plan, 0, "v6");
    assert_eq!(
        op.read,
        Read::Bytes {
            off: 48,
            len: 16,
            mem: Mem::Kernel
        }
    );
    assert_eq!(op.slot_size, 16);
    assert_eq!(dec, Decode::Ip6);
    assert_eq!(field(&plan, 0, "word").0.read, int(48 + 3 * 4, 4, false));
    let (op, dec) = field(&plan, 0, "bytes16");
    assert_eq!(
        op.read,
        Read::Bytes {
            off: 48,
            len: 16,
            mem: Mem::Kernel
        }
    );
    assert_eq!(
        dec,
        Decode::IntArray {
            elem: 1,
            signed: false
        }
    );
    let (op, dec) = field(&plan, 0, "raw");
    assert_eq!(
        op.read,
        Read::Bytes {
            off: 64,
            len: 5,
            mem: Mem::Kernel
        }
    );
    assert_eq!(op.slot_size, 8);
    assert_eq!(dec, Decode::Bytes);
    // The anonymous union of two hlist_nodes is at 24; `next` is a pointer
    // member read from it.
    let (op, dec) = field(&plan, 0, "next");
    assert_eq!(op.read, int(24, 8, false));
    assert_eq!(dec, Decode::Hex);
}

#[test]
fn bitfields_are_extracted() {
    let plan = dsl("kfunc:tcp_connect {
        reuse = sk->__sk_common.skc_reuse,
        reuseport = sk->__sk_common.skc_reuseport,
        refcnt = sk->__sk_common.skc_net_refcnt,
        kern = sk->sk_kern_sock,
        rx = sk->sk_no_check_rx,
        kind = sk->sk_type
    } where reuse == 3 && kern != 0");
    // `unsigned char skc_reuse:4, skc_reuseport:1, skc_ipv6only:1,
    // skc_net_refcnt:1` share the byte at 19.
    assert_eq!(field(&plan, 0, "reuse").0.read, bits(19, 1, 0, 4));
    assert_eq!(field(&plan, 0, "reuseport").0.read, bits(19, 1, 4, 1));
    assert_eq!(field(&plan, 0, "refcnt").0.read, bits(19, 1, 6, 1));
    // struct sock: sk_rcvbuf at 80, then the `unsigned int` bitfields at 84.
    assert_eq!(field(&plan, 0, "kern").0.read, bits(84, 1, 1, 1));
    assert_eq!(field(&plan, 0, "rx").0.read, bits(84, 1, 3, 1));
    // A plain member after bitfields starts at the next byte its alignment
    // allows: sk_type at 86, not in a new `unsigned int`.
    assert_eq!(field(&plan, 0, "kind").0.read, int(86, 2, false));
    // The filter reads two of them, so they are captured first.
    let c = &plan.probes[0].config;
    assert_eq!(c.filter_at, 2);
    assert_eq!(c.ops[0].read, bits(19, 1, 0, 4));
    assert_eq!(c.ops[1].read, bits(84, 1, 1, 1));
    assert_eq!(
        c.filter,
        [
            FilterOp::CmpImm {
                slot: 16,
                cmp: CmpOp::Eq,
                imm: 3,
                signed: false
            },
            FilterOp::CmpImm {
                slot: 40,
                cmp: CmpOp::Ne,
                imm: 0,
                signed: false
            },
            FilterOp::And,
        ]
    );
}

#[test]
fn enums_typedefs_and_unsupported_types() {
    let plan = dsl("kfunc:tcp_connect { pacing = sk->sk_pacing_status, flags = sk->sk_flags }");
    // sk_type 86, sk_protocol 88, then enum sk_pacing (values 0..2:
    // unsigned, 4 bytes) aligned to 92; unsigned long at 96.
    let (op, dec) = field(&plan, 0, "pacing");
    assert_eq!(op.read, int(92, 4, false));
    assert_eq!(dec, udec(4));
    let (op, dec) = field(&plan, 0, "flags");
    assert_eq!(op.read, int(96, 8, false));
    assert_eq!(dec, udec(8));
    error(
        "kfunc:tcp_connect { f = sk->sk_float_for_tests }",
        "floating-point values are not supported",
    );
    let e = error(
        "kfunc:tcp_connect { c = sk->__sk_common }",
        "cannot capture a whole `struct sock_common`",
    );
    assert!(e.notes.iter().any(|n| n.contains("`skc_daddr`")), "{e:?}");
    // `struct proto` is only a forward declaration.
    error(
        "kfunc:tcp_connect { p = sk->__sk_common.skc_prot->x }",
        "`struct proto` is only declared, not defined",
    );
}

#[test]
fn tp_btf_arguments_pointer_chains_and_strings() {
    let plan = dsl("tp_btf:sched_process_exec {
        old_pid,
        tgid = p->tgid,
        comm = p->comm,
        ppid = p->real_parent->tgid,
        gppid = p->real_parent->real_parent->tgid,
        deepest = p->real_parent->real_parent->real_parent->real_parent->tgid,
        path = str(bprm->filename),
        interp = kstr(bprm->interp, 100),
        argc = bprm->argc
    }");
    let p = &plan.probes[0];
    assert_eq!(
        p.attach,
        Attach::TpBtf {
            name: "sched_process_exec".into()
        }
    );
    // The arguments after `void *__data`: p, old_pid, bprm.
    assert_eq!(p.config.nargs, 3);
    // pid_t is a typedef of __kernel_pid_t, of int: signed, 4 bytes.
    let (op, dec) = field(&plan, 0, "old_pid");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 8,
            size: 4,
            signed: true
        }
    );
    assert_eq!(op.read, Read::Value);
    assert_eq!(
        dec,
        Decode::Int {
            size: 4,
            signed: true
        }
    );
    // task_struct: __state 0, flags 8, prio 12, pid 16, tgid 20, comm 24,
    // real_parent 40.
    let (op, _) = field(&plan, 0, "tgid");
    assert_eq!(op.base, ARG0);
    assert!(op.hops.is_empty());
    assert_eq!(op.read, int(20, 4, true));
    let (op, dec) = field(&plan, 0, "comm");
    assert_eq!(
        op.read,
        Read::Str {
            off: 24,
            max: 16,
            mem: Mem::Kernel
        }
    );
    assert_eq!(op.slot_size, 16);
    assert_eq!(dec, Decode::Str);
    let hop = Hop {
        off: 40,
        mem: Mem::Kernel,
        index: None,
    };
    let (op, _) = field(&plan, 0, "ppid");
    assert_eq!(op.hops, [hop]);
    assert_eq!(op.read, int(20, 4, true));
    let (op, _) = field(&plan, 0, "gppid");
    assert_eq!(op.hops, [hop, hop]);
    let (op, _) = field(&plan, 0, "deepest");
    assert_eq!(op.hops, [hop; MAX_HOPS]);
    // linux_binprm: next 0, argc 8, envc 12, filename 16, interp 24.
    let (op, dec) = field(&plan, 0, "path");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 16,
            size: 8,
            signed: false
        }
    );
    assert_eq!(
        op.hops,
        [Hop {
            off: 16,
            mem: Mem::Kernel,
            index: None
        }]
    );
    assert_eq!(
        op.read,
        Read::Str {
            off: 0,
            max: DEFAULT_STR,
            mem: Mem::Kernel
        }
    );
    assert_eq!(op.slot_size, DEFAULT_STR);
    assert_eq!(dec, Decode::Str);
    let (op, _) = field(&plan, 0, "interp");
    assert_eq!(
        op.hops,
        [Hop {
            off: 24,
            mem: Mem::Kernel,
            index: None
        }]
    );
    assert_eq!(
        op.read,
        Read::Str {
            off: 0,
            max: 100,
            mem: Mem::Kernel
        }
    );
    assert_eq!(op.slot_size, 104);
    assert_eq!(field(&plan, 0, "argc").0.read, int(8, 4, true));
    // One pointer more is a located error that states the limit.
    let e = error(
        "tp_btf:sched_process_exec { x = p->real_parent->real_parent->real_parent->real_parent->real_parent->tgid }",
        "path too deep: 5 pointer dereferences, and a value follows at most 4",
    );
    assert_eq!((e.span.start, e.span.end), (32, 98));
}

#[test]
fn tp_btf_names_from_probestubs_and_suggestions() {
    // A DEFINE_EVENT event: its parameter names come from __probestub_.
    let plan = dsl("tp_btf:sched_wakeup { prio = p->prio }");
    assert_eq!(field(&plan, 0, "prio").0.read, int(12, 4, true));
    let e = error(
        "tp_btf:sched_proces_exec { pid }",
        "unknown BTF tracepoint `sched_proces_exec`",
    );
    assert!(
        e.notes
            .contains(&"did you mean `sched_process_exec`?".to_string()),
        "{e:?}"
    );
}

#[test]
fn return_probes_user_strings_and_qualifiers() {
    let plan = dsl("
        probe kretfunc:tcp_v4_connect as ret { ret = retval, len = addr_len, uaddr = hex(uaddr) }
        probe kprobe:do_sys_openat2 as open { dfd, k = str(filename, 32), u = ustr(filename, 32) }
        probe fentry:vfs_read_restrict as read { buf = str(buf, 16), count }
    ");
    let r = &plan.probes[0];
    assert_eq!(
        r.attach,
        Attach::Kernel {
            function: "tcp_v4_connect".into(),
            ret: true,
            mode: KernelMode::Auto
        }
    );
    assert_eq!(r.config.nargs, 3);
    let (op, dec) = field(&plan, 0, "ret");
    assert_eq!(
        op.base,
        Base::Arg {
            off: RET_OFF,
            size: 4,
            signed: true
        }
    );
    assert_eq!(
        dec,
        Decode::Int {
            size: 4,
            signed: true
        }
    );
    assert_eq!(
        field(&plan, 0, "len").0.base,
        Base::Arg {
            off: 16,
            size: 4,
            signed: true
        }
    );
    assert_eq!(field(&plan, 0, "uaddr").1, Decode::Hex);
    // Kernel-function pointers are kernel memory unless ustr() says not.
    let o = &plan.probes[1];
    assert!(matches!(
        o.attach,
        Attach::Kernel {
            mode: KernelMode::Kprobe,
            ret: false,
            ..
        }
    ));
    let (k, _) = field(&plan, 1, "k");
    let (u, _) = field(&plan, 1, "u");
    let arg1 = Base::Arg {
        off: 8,
        size: 8,
        signed: false,
    };
    assert_eq!((k.base, u.base), (arg1, arg1));
    assert_eq!(
        k.read,
        Read::Str {
            off: 0,
            max: 32,
            mem: Mem::Kernel
        }
    );
    assert_eq!(
        u.read,
        Read::Str {
            off: 0,
            max: 32,
            mem: Mem::User
        }
    );
    // `char *restrict buf` and size_t (unsigned long).
    let (op, dec) = field(&plan, 2, "buf");
    assert_eq!(op.base, ARG0);
    assert_eq!(dec, Decode::Str);
    let (op, dec) = field(&plan, 2, "count");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 8,
            size: 8,
            signed: false
        }
    );
    assert_eq!(dec, udec(8));
    assert!(matches!(
        plan.probes[2].attach,
        Attach::Kernel {
            mode: KernelMode::Fentry,
            ..
        }
    ));
    error(
        "kretprobe:tcp_v4_connect { a = addr_len }",
        "a kretprobe cannot read arguments",
    );
    let e = error(
        "kfunc:tcp_connect { r = retval }",
        "`retval` in an entry probe",
    );
    assert!(
        e.notes.iter().any(|n| n.contains("`kretfunc:tcp_connect`")),
        "{e:?}"
    );
}

#[test]
fn tracepoints_from_btf() {
    let plan = dsl("
        tracepoint:sched:sched_process_exec { filename, pid = args.pid, old_pid }
        tracepoint:sched:sched_switch { prev_comm, next_pid, state = prev_state }
        tracepoint:syscalls:sys_enter_execve { path = str(filename) }
    ");
    // trace_event_raw_sched_process_exec: ent (8 bytes), then the
    // __data_loc locator at 8, pid 12, old_pid 16.
    let (op, dec) = field(&plan, 0, "filename");
    assert_eq!(op.base, Base::Ctx);
    assert_eq!(
        op.read,
        Read::DataLocStr {
            off: 8,
            max: DEFAULT_STR
        }
    );
    assert_eq!(dec, Decode::Str);
    // Scalars are read from the copied head of the record.
    let (op, _) = field(&plan, 0, "pid");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 12,
            size: 4,
            signed: true
        }
    );
    assert_eq!(op.read, Read::Value);
    assert_eq!(plan.probes[0].config.ctx_copy, 24);
    assert_eq!(plan.probes[0].config.nargs, 0);
    // trace_event_raw_sched_switch: prev_comm 8, prev_pid 24, prev_prio 28,
    // prev_state 32, next_comm 40, next_pid 56.
    let (op, dec) = field(&plan, 1, "prev_comm");
    assert_eq!(op.base, Base::Ctx);
    assert_eq!(
        op.read,
        Read::Str {
            off: 8,
            max: 16,
            mem: Mem::Kernel
        }
    );
    assert_eq!(dec, Decode::Str);
    assert_eq!(
        field(&plan, 1, "next_pid").0.base,
        Base::Arg {
            off: 56,
            size: 4,
            signed: true
        }
    );
    assert_eq!(
        field(&plan, 1, "state").0.base,
        Base::Arg {
            off: 32,
            size: 8,
            signed: true
        }
    );
    assert_eq!(plan.probes[1].config.ctx_copy, 64);
    // syscalls:sys_enter_execve from __do_sys_execve: arguments at 16, 24,
    // 32, and pointers into the calling process.
    let (op, _) = field(&plan, 2, "path");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 16,
            size: 8,
            signed: false
        }
    );
    assert!(op.hops.is_empty());
    assert_eq!(
        op.read,
        Read::Str {
            off: 0,
            max: DEFAULT_STR,
            mem: Mem::User
        }
    );
}

#[test]
fn uprobe_arguments() {
    let plan = dsl("uprobe:libc:malloc as m { size = arg0, s = str(arg1, 8), p = hex(arg5) } uretprobe:libc:malloc as r { ret = hex(retval) }");
    let (op, dec) = field(&plan, 0, "size");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 0,
            size: 8,
            signed: true
        }
    );
    assert_eq!(
        dec,
        Decode::Int {
            size: 8,
            signed: true
        }
    );
    let (op, _) = field(&plan, 0, "s");
    assert_eq!(
        op.read,
        Read::Str {
            off: 0,
            max: 8,
            mem: Mem::User
        }
    );
    assert_eq!(plan.probes[0].config.nargs, 6);
    assert_eq!(
        field(&plan, 1, "ret").0.base,
        Base::Arg {
            off: RET_OFF,
            size: 8,
            signed: true
        }
    );
    let e = error(
        "uprobe:libc:malloc { x = arg6 }",
        "`arg6` is not an argument",
    );
    assert!(
        e.notes.iter().any(|n| n.contains("first 6 arguments")),
        "{e:?}"
    );
}

#[test]
fn filters_fold_parameters_and_capture_hidden_values() {
    let plan = dsl(r#"
        param port: u16 = 0
        kfunc:tcp_connect { comm, dport = ntohs(sk->__sk_common.skc_dport) }
            where comm == "curl*" && ($port == 0 || dport == $port) && sk->__sk_common.skc_family == 2
    "#);
    let c = &plan.probes[0].config;
    // `$port == 0` is true: that part is folded away.
    assert_eq!(c.strings, b"curl");
    assert_eq!(
        c.filter,
        [
            FilterOp::CmpStr {
                slot: 16,
                str_off: 0,
                len: 4,
                prefix: true,
                negate: false
            },
            FilterOp::CmpImm {
                slot: 40,
                cmp: CmpOp::Eq,
                imm: 2,
                signed: false
            },
            FilterOp::And,
        ]
    );
    // The family is read only for the filter: a hidden slot after the fields.
    assert_eq!(c.filter_at, 2);
    assert_eq!(c.ops.len(), 3);
    assert_eq!(c.ops[1].slot, 40);
    assert_eq!(c.ops[1].read, int(16, 2, false));
    assert_eq!(plan.probes[0].fields.len(), 2);
    assert_eq!(c.record_size, 48);
    // With a port given, the comparison stays.
    let env = fixture_env();
    let src = "param port: u16 = 0\nkfunc:tcp_connect { dport = ntohs(sk->__sk_common.skc_dport) } where $port == 0 || dport == $port";
    let opts = Options {
        params: vec![("port".into(), "443".into())],
        require_params: true,
    };
    let c = compile_source("t.trace", src, &env, &opts).unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(
        c.plan.probes[0].config.filter,
        [FilterOp::CmpImm {
            slot: 16,
            cmp: CmpOp::Eq,
            imm: 443,
            signed: false
        }]
    );
}

#[test]
fn template_limits_are_located_errors() {
    let fields: Vec<String> = (0..17).map(|i| format!("f{i} = pid")).collect();
    let src = format!("kfunc:tcp_connect {{ {} }}", fields.join(", "));
    let e = error(&src, "too many values: a probe captures at most 16");
    assert_eq!(&src[e.span.range()], "f16 = pid");
    let src = "kfunc:tcp_connect { a = str(sk->__sk_common.skc_prot, 1024) }";
    error(src, "`str()` on a non-string: `struct proto *`");
    let src = "tp_btf:sched_process_exec { a = str(bprm->filename, 1024), b = str(bprm->interp, 1024), c = str(bprm->fdpath, 1024), d = str(bprm->filename, 1024) }";
    let e = error(src, "record too large: 4112 bytes");
    assert_eq!(&src[e.span.range()], "d = str(bprm->filename, 1024)");
    let ors: Vec<String> = (0..17).map(|i| format!("pid == {i}")).collect();
    let src = format!("kfunc:tcp_connect {{ pid }} where {}", ors.join(" || "));
    let e = error(&src, "filter too long: 33 operations");
    assert!(src[e.span.range()].starts_with("pid == 0 ||"));
}

#[test]
fn typos_get_suggestions_from_the_fixture() {
    let e = error(
        "kfunc:tcp_conect { pid }",
        "unknown kernel function `tcp_conect`",
    );
    assert_eq!(e.notes[0], "did you mean `tcp_connect`?");
    let src = "kfunc:tcp_connect { d = sk->__sk_common.skc_dadr }";
    let e = error(src, "no member `skc_dadr` in `struct sock_common`");
    assert_eq!(&src[e.span.range()], "skc_dadr");
    assert_eq!(e.notes, ["did you mean `skc_daddr`?"]);
    let e = error(
        "kfunc:tcp_v4_connect { x = adr_len }",
        "`adr_len` is not an argument of `tcp_v4_connect`",
    );
    assert!(
        e.notes.contains(&"did you mean `addr_len`?".to_string()),
        "{e:?}"
    );
    // No close name among few: they are listed.
    let e = error(
        "kfunc:tcp_v4_connect { x = zzzz }",
        "`zzzz` is not an argument",
    );
    assert!(
        e.notes
            .contains(&"arguments: `sk`, `uaddr`, `addr_len`".to_string()),
        "{e:?}"
    );
    let e = error(
        "kfunc:tcp_connect { x = sk->sk_rcvbuf->x }",
        "dereferencing a non-pointer: `int`",
    );
    assert!(e.label.contains("no members"));
}

#[test]
fn booleans_and_void_functions() {
    let plan = dsl("
        probe kfunc:sk_fullsock_check as check { strict, kind = sk->sk_type }
        probe kretfunc:sk_fullsock_check as done { full = retval } where full == true
    ");
    // `bool` is a typedef of _Bool: a 1-byte argument printed true/false.
    let (op, dec) = field(&plan, 0, "strict");
    assert_eq!(
        op.base,
        Base::Arg {
            off: 8,
            size: 1,
            signed: false
        }
    );
    assert_eq!(dec, Decode::Bool);
    let (op, dec) = field(&plan, 1, "full");
    assert_eq!(
        op.base,
        Base::Arg {
            off: RET_OFF,
            size: 1,
            signed: false
        }
    );
    assert_eq!(dec, Decode::Bool);
    assert_eq!(
        plan.probes[1].config.filter,
        [FilterOp::CmpImm {
            slot: 16,
            cmp: CmpOp::Eq,
            imm: 1,
            signed: false
        }]
    );
    // A const-qualified pointer argument is still a pointer to the struct.
    assert_eq!(field(&plan, 0, "kind").0.read, int(86, 2, false));
    let src = "kretfunc:tcp_set_state { r = retval }";
    let e = error(src, "`retval` of a function returning void");
    assert_eq!(&src[e.span.range()], "retval");
    // Its arguments are there at return (fexit).
    let plan = dsl("kretfunc:tcp_set_state { state }");
    assert_eq!(
        field(&plan, 0, "state").0.base,
        Base::Arg {
            off: 8,
            size: 4,
            signed: true
        }
    );
}

/// fexit finds the return value after every argument of the function, so a
/// return probe reading `retval` copies them all, even uncaptured ones.
#[test]
fn return_value_needs_every_argument_copied() {
    let plan = dsl("kretfunc:do_sys_openat2 { r = retval }");
    assert_eq!(plan.probes[0].config.nargs, 3);
    let plan = dsl("kretfunc:do_sys_openat2 { dfd } where retval >= 0");
    assert_eq!(plan.probes[0].config.nargs, 3);
    // Without the return value, only what is captured.
    let plan = dsl("kretfunc:do_sys_openat2 { dfd }");
    assert_eq!(plan.probes[0].config.nargs, 1);
    let plan = dsl("kfunc:do_sys_openat2 { dfd }");
    assert_eq!(plan.probes[0].config.nargs, 1);
}

/// Kernel-function and tp_btf parameters can be named by position.
#[test]
fn arguments_by_position() {
    let by_name = dsl("kfunc:tcp_v4_connect { a = addr_len }");
    let by_pos = dsl("kfunc:tcp_v4_connect { a = arg2 }");
    assert_eq!(by_name.probes[0].config, by_pos.probes[0].config);
    let by_name = dsl("tp_btf:sched_process_exec { p = p->pid }");
    let by_pos = dsl("tp_btf:sched_process_exec { p = arg0->pid }");
    assert_eq!(by_name.probes[0].config, by_pos.probes[0].config);
    // A position beyond the last parameter is an unknown name.
    fail("kfunc:tcp_v4_connect { a = arg3 }");
}
