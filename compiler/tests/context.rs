//! Context and names in the compiler (spec-v2 section 5), against the host
//! kernel's BTF: the task builtins become BTF paths from `task` (offsets
//! checked against BTF itself), `pidns` indexes `numbers[]` by `level`,
//! `join()` is one bounded read, names in filters fold to numbers (`errno`
//! names to both signs), `usym()` brings the pid along, and the plan carries
//! the enums its fields print.

mod common;

use common::with_host_env;
use tracectl_compiler::btf::Btf;
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::plan::{
    Base, Builtin, CmpOp, Decode, FilterOp, Mem, NameTable, Plan, ProbePlan, Read, JOIN_BYTES,
};

fn compile(env: &tracectl_compiler::resolve::Env, src: &str) -> Plan {
    match compile_source("t.trace", src, env, &Options::default()) {
        Ok(c) => c.plan,
        Err(d) => panic!("{src}: {d:?}"),
    }
}

fn member_off(btf: &Btf, strukt: &str, member: &str) -> u32 {
    let id = btf
        .find_struct(strukt)
        .unwrap_or_else(|| panic!("struct {strukt}"));
    btf.find_member(id, member)
        .unwrap_or_else(|| panic!("{strukt}.{member}"))
        .bit_offset
        / 8
}

fn field<'p>(p: &'p ProbePlan, name: &str) -> &'p tracectl_compiler::plan::FieldPlan {
    p.fields.iter().find(|f| f.name == name).unwrap()
}

fn op_at(p: &ProbePlan, slot: u32) -> &tracectl_compiler::plan::ValueOp {
    p.config.ops.iter().find(|o| o.slot == slot).unwrap()
}

#[test]
fn task_builtins_are_btf_paths_and_pidns_indexes_by_level() {
    with_host_env(|env| {
        let btf = env.btf;
        let plan = compile(
            env,
            "tracepoint:sched:sched_process_exec { ppid, pidns, mntns, netns, t = task }",
        );
        let p = &plan.probes[0];
        let task = Base::Builtin {
            builtin: Builtin::Task,
        };
        // ppid: task->real_parent->tgid, kernel memory even though nothing
        // else in this probe is.
        let o = op_at(p, field(p, "ppid").slot);
        assert_eq!(o.base, task);
        assert_eq!(o.hops.len(), 1);
        assert_eq!(o.hops[0].off, member_off(btf, "task_struct", "real_parent"));
        assert_eq!(o.hops[0].mem, Mem::Kernel);
        assert!(matches!(o.read, Read::Int { off, size: 4, .. }
            if off == member_off(btf, "task_struct", "tgid")));
        // pidns: thread_pid, then numbers[level].ns (indexed), then ns.inum.
        let o = op_at(p, field(p, "pidns").slot);
        assert_eq!(o.hops.len(), 2, "{o:?}");
        assert_eq!(o.hops[0].off, member_off(btf, "task_struct", "thread_pid"));
        assert_eq!(o.hops[0].index, None);
        let ix = o.hops[1].index.expect("numbers[] indexed at run time");
        assert_eq!(ix.off, member_off(btf, "pid", "level"));
        let upid = btf.find_struct("upid").unwrap();
        assert_eq!(Some(ix.scale), btf.size_of(upid));
        assert_eq!(
            o.hops[1].off,
            member_off(btf, "pid", "numbers") + member_off(btf, "upid", "ns")
        );
        let inum = member_off(btf, "pid_namespace", "ns") + member_off(btf, "ns_common", "inum");
        assert!(matches!(o.read, Read::Int { off, size: 4, signed: false, .. } if off == inum));
        // mntns / netns: nsproxy->X_ns->ns.inum, no index.
        for (name, member, strukt) in [
            ("mntns", "mnt_ns", "mnt_namespace"),
            ("netns", "net_ns", "net"),
        ] {
            let o = op_at(p, field(p, name).slot);
            assert_eq!(
                o.hops.iter().map(|h| (h.off, h.index)).collect::<Vec<_>>(),
                [
                    (member_off(btf, "task_struct", "nsproxy"), None),
                    (member_off(btf, "nsproxy", member), None)
                ],
                "{name}"
            );
            let inum = member_off(btf, strukt, "ns") + member_off(btf, "ns_common", "inum");
            assert!(
                matches!(o.read, Read::Int { off, .. } if off == inum),
                "{name}"
            );
        }
        assert_eq!(field(p, "t").decode, Decode::Pointer);
        for f in ["ppid", "pidns", "mntns", "netns"] {
            assert!(
                matches!(field(p, f).decode, Decode::Int { signed: false, .. }),
                "{f} prints unsigned"
            );
        }
    });
}

#[test]
fn join_reads_user_argv_into_a_flagged_slot() {
    with_host_env(|env| {
        let plan = compile(
            env,
            "tracepoint:syscalls:sys_enter_execve { a = join(argv), b = join(argv, 3) }",
        );
        let p = &plan.probes[0];
        for (name, max) in [("a", 20), ("b", 3)] {
            let f = field(p, name);
            assert_eq!((f.size, f.decode), (JOIN_BYTES, Decode::Joined));
            let o = op_at(p, f.slot);
            assert_eq!(
                o.read,
                Read::Join {
                    off: 0,
                    max_args: max,
                    mem: Mem::User
                }
            );
            assert!(o.hops.is_empty(), "argv is the pointer in the record");
        }
    });
}

/// The filter program's comparisons, as (slot, cmp, imm).
fn cmps(p: &ProbePlan) -> Vec<(CmpOp, i64)> {
    p.config
        .filter
        .iter()
        .filter_map(|f| match f {
            FilterOp::CmpImm { cmp, imm, .. } => Some((*cmp, *imm as i64)),
            _ => None,
        })
        .collect()
}

#[test]
fn names_in_filters_fold_to_numbers() {
    with_host_env(|env| {
        let one = |src: &str| compile(env, src).probes.remove(0);
        let p = one(
            "tracepoint:syscalls:sys_enter_kill { s = signal(sig) } where signal(sig) == \"SIGKILL\"",
        );
        assert_eq!(cmps(&p), [(CmpOp::Eq, 9)]);
        assert_eq!(
            field(&p, "s").decode,
            Decode::Name {
                table: NameTable::Signal,
                signed: true
            }
        );
        // A field printed as a name compares by name too.
        let p =
            one("tracepoint:syscalls:sys_enter_kill { s = signal(sig) } where s != \"SIGTERM\"");
        assert_eq!(cmps(&p), [(CmpOp::Ne, 15)]);
        // errno: both signs.
        let p = one("tracepoint:syscalls:sys_exit_openat { e = errno(ret) } where e == \"ENOENT\"");
        assert_eq!(cmps(&p), [(CmpOp::Eq, 2), (CmpOp::Eq, -2)]);
        assert!(p.config.filter.contains(&FilterOp::Or));
        let p = one("tracepoint:syscalls:sys_exit_openat { e = errno(ret) } where e != \"EACCES\"");
        assert_eq!(cmps(&p), [(CmpOp::Ne, 13), (CmpOp::Ne, -13)]);
        assert!(p.config.filter.contains(&FilterOp::And));
        // TCP states order; a kernel enum's enumerators by name.
        let p = one(
            "tracepoint:sock:inet_sock_set_state { s = tcp_state(newstate) } where tcp_state(newstate) >= \"CLOSE\"",
        );
        assert_eq!(cmps(&p), [(CmpOp::Ge, 7)]);
        let p = one(
            "tracepoint:sock:inet_sock_set_state { c = cap(newstate), e = enum(newstate, tcp_ca_state) } \
             where enum(newstate, tcp_ca_state) == \"TCP_CA_Loss\"",
        );
        let loss = env
            .btf
            .enum_values(env.btf.find_enum("tcp_ca_state").unwrap())
            .into_iter()
            .find(|v| v.name == "TCP_CA_Loss")
            .unwrap()
            .value;
        assert_eq!(cmps(&p), [(CmpOp::Eq, loss)]);
    });
}

#[test]
fn computed_values_print_as_names_and_filter_by_them() {
    with_host_env(|env| {
        let plan = compile(
            env,
            "tp_btf:sched_process_exit { s = signal(arg0->exit_code & 0x7f) } where s == \"SIGKILL\"",
        );
        let p = &plan.probes[0];
        assert_eq!(
            field(p, "s").decode,
            Decode::Name {
                table: NameTable::Signal,
                signed: true
            }
        );
        assert_eq!(p.config.calcs.len(), 1, "the `&` runs in the kernel");
        assert_eq!(cmps(p), [(CmpOp::Eq, 9)]);
    });
}

/// In a paired probe a name only decodes: a start value is stashed once
/// (8 bytes after the timestamp word), an `end.` value read at the end.
#[test]
fn names_of_paired_values_stash_the_number_once() {
    with_host_env(|env| {
        let plan = compile(
            env,
            "tracepoint:syscalls:sys_enter_kill => tracepoint:syscalls:sys_exit_kill \
             { s = signal(sig), r = errno(end.ret) } where signal(sig) != \"SIGKILL\"",
        );
        let p = &plan.probes[0];
        let pair = p.pair.as_ref().expect("paired");
        let start = pair.start_config.pair.as_ref().unwrap();
        assert_eq!(start.value_size, 8 + 8, "the timestamp and sig");
        assert_eq!(
            field(p, "s").decode,
            Decode::Name {
                table: NameTable::Signal,
                signed: true
            }
        );
        assert!(matches!(
            field(p, "r").decode,
            Decode::Name {
                table: NameTable::Errno,
                ..
            }
        ));
        // The filter reads start values only: it runs at the start.
        assert_eq!(
            pair.start_config
                .filter
                .iter()
                .filter_map(|f| match f {
                    FilterOp::CmpImm { cmp, imm, .. } => Some((*cmp, *imm as i64)),
                    _ => None,
                })
                .collect::<Vec<_>>(),
            [(CmpOp::Ne, 9)]
        );
    });
}

#[test]
fn plans_carry_the_enums_their_fields_print() {
    with_host_env(|env| {
        let plan = compile(
            env,
            "tracepoint:sock:inet_sock_set_state { a = enum(newstate, tcp_ca_state), b = enum(protocol, tcp_ca_state) }",
        );
        assert_eq!(plan.enums.len(), 1, "one enum, once");
        let e = &plan.enums[0];
        assert_eq!(e.name, "tcp_ca_state");
        assert_eq!(Some(e.id), env.btf.find_enum("tcp_ca_state"));
        assert!(e.values.contains(&(0, "TCP_CA_Open".to_string())), "{e:?}");
        assert_eq!(
            plan.probes[0].fields[0].decode,
            // `int newstate`: the number keeps its C sign.
            Decode::Enum {
                id: e.id,
                signed: true
            }
        );
    });
}

#[test]
fn usym_captures_the_pid_it_resolves_in() {
    with_host_env(|env| {
        let plan = compile(env, "uprobe:/bin/bash:readline { f = usym(arg0) }");
        let p = &plan.probes[0];
        let Decode::Usym { pid } = field(p, "f").decode else {
            panic!("{:?}", p.fields)
        };
        let o = op_at(p, pid);
        assert_eq!(
            o.base,
            Base::Builtin {
                builtin: Builtin::Pid
            }
        );
        assert_eq!(p.fields.len(), 1, "the pid is hidden");
        // A visible pid is shared, not captured twice.
        let plan = compile(env, "uprobe:/bin/bash:readline { pid, f = usym(arg0) }");
        let p = &plan.probes[0];
        assert_eq!(p.config.ops.len(), 2);
        assert_eq!(
            field(p, "f").decode,
            Decode::Usym {
                pid: field(p, "pid").slot
            }
        );
    });
}
