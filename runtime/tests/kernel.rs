//! Kernel tests: real templates, real probes, real events.
//!
//! They need root, BPF and kernel BTF. Without them they fail under CI
//! (`CI=true`) and are skipped with a message elsewhere. Plans are built by
//! hand; tracepoint field offsets come from tracefs and struct offsets from
//! the running kernel's BTF, at test time.
//!
//! The tests run one at a time (a lock), so that counting our programs in
//! the kernel is meaningful.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tracectl::error::RuntimeError;
use tracectl::load::{kprobes_available, Loader, LoaderOptions};
use tracectl::session::Session;
use tracectl::templates::{self, Kind};
use tracectl_compiler::btf::Btf;
use tracectl_compiler::plan::*;

#[path = "../../tests/common/elsewhere.rs"]
mod elsewhere;

mod support;
use support::*;

fn loader() -> Loader {
    Loader::new(LoaderOptions::default()).expect("loader")
}

fn probe(name: &str, attach: Attach, config: ProbeConfig) -> ProbePlan {
    ProbePlan {
        name: name.into(),
        probe: name.into(),
        attach,
        config,
        fields: vec![],
        pair: None,
    }
}

fn builtin(slot: u32, b: Builtin) -> ValueOp {
    let size = if b == Builtin::Comm { 16 } else { 8 };
    op(slot, size, Base::Builtin { builtin: b }, Read::Value)
}

fn arg(slot: u32, off: u32, size: u32, signed: bool) -> ValueOp {
    op(slot, 8, Base::Arg { off, size, signed }, Read::Value)
}

/// The user-memory string (at most `max` bytes with its NUL) that the
/// pointer argument at args-area offset `off` points to, in a `max`-byte slot.
fn user_str_arg(slot: u32, off: u32, max: u32) -> ValueOp {
    op(
        slot,
        max,
        Base::Arg {
            off,
            size: 8,
            signed: false,
        },
        Read::Str {
            off: 0,
            max,
            mem: Mem::User,
        },
    )
}

/// Offset and size of a tracepoint field, from tracefs.
fn tp_field(category: &str, name: &str, field: &str) -> (u32, u32) {
    let root = tracectl_compiler::tracefs::tracefs_root().expect("tracefs is mounted");
    let fmt = tracectl_compiler::tracefs::read_format(&root, category, name)
        .unwrap_or_else(|| panic!("no tracepoint {category}:{name}"));
    let f = fmt
        .fields
        .iter()
        .find(|f| f.name == field)
        .unwrap_or_else(|| panic!("{category}:{name} has no field {field}"));
    (f.offset, f.size)
}

/// Byte offset of a struct member in the running kernel's BTF.
fn kernel_member_offset(strukt: &str, member: &str) -> u32 {
    let btf = Btf::host().expect("kernel BTF");
    let id = btf
        .find_struct(strukt)
        .unwrap_or_else(|| panic!("no struct {strukt} in kernel BTF"));
    let m = btf
        .find_member(id, member)
        .unwrap_or_else(|| panic!("struct {strukt} has no member {member}"));
    assert_eq!(m.bit_offset % 8, 0);
    m.bit_offset / 8
}

fn u32_at(rec: &[u8], off: u32) -> u32 {
    let o = off as usize;
    u32::from_le_bytes(rec[o..o + 4].try_into().unwrap())
}

fn probe_index(rec: &[u8]) -> u32 {
    u32_at(rec, 8)
}

/// A copy of /bin/true under a unique name (its comm), in a fresh directory.
struct UniqueProgram {
    dir: PathBuf,
    path: PathBuf,
    comm: String,
}

impl UniqueProgram {
    fn new(tag: &str) -> UniqueProgram {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        // comm is at most 15 bytes: keep the name short and unique.
        let comm = format!("tc{tag}{:x}", (nanos ^ std::process::id()) & 0xffffff);
        let comm: String = comm.chars().take(15).collect();
        let dir = std::env::temp_dir().join(format!("tracectl-kt-{}-{comm}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join(&comm);
        fs::copy("/bin/true", &path).expect("copy /bin/true");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        UniqueProgram { dir, path, comm }
    }

    /// Runs it; returns its pid.
    fn run(&self) -> u32 {
        let mut child = Command::new(&self.path).spawn().expect("spawn");
        let pid = child.id();
        assert!(child.wait().unwrap().success());
        pid
    }

    fn path_str(&self) -> &str {
        self.path.to_str().unwrap()
    }
}

impl Drop for UniqueProgram {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn thread_comm() -> String {
    fs::read_to_string("/proc/thread-self/comm")
        .unwrap()
        .trim_end()
        .to_string()
}

// Record layout of the execve plan: header, pid, comm, filename.
const PID: u32 = 16;
const COMM: u32 = 24;
const FILE: u32 = 40;
const FILE_MAX: u32 = 256;

/// `syscalls:sys_enter_execve` with pid, comm and `str(filename)`.
fn execve_probe(name: &str) -> ProbePlan {
    let (off, size) = tp_field("syscalls", "sys_enter_execve", "filename");
    assert_eq!(size, 8);
    probe(
        name,
        tracepoint("syscalls", "sys_enter_execve"),
        config(
            0,
            off + 8,
            FILE + FILE_MAX,
            vec![
                builtin(PID, Builtin::Pid),
                builtin(COMM, Builtin::Comm),
                user_str_arg(FILE, off, FILE_MAX),
            ],
        ),
    )
}

#[test]
fn a_tracepoint_execve_pid_comm_filename() {
    let Some(_g) = kernel_env() else { return };
    let prog = UniqueProgram::new("a");
    let mut s = loader().start(&plan(vec![execve_probe("execve")])).unwrap();
    assert_eq!(s.kinds(), &[Kind::Tracepoint]);
    let pid = prog.run();
    let r = execve_record(&mut s, &prog);
    assert_eq!(r.len(), (FILE + FILE_MAX) as usize);
    assert_eq!(probe_index(&r), 0);
    assert_eq!(u64_at(&r, PID), pid as u64);
    // At sys_enter_execve the child still has the comm of the thread that forked it.
    assert_eq!(str_at(&r, COMM, 16), thread_comm());
    assert!(u64_at(&r, 0) > 0, "timestamp");
    assert_eq!(s.lost(), 0);
    s.close();
}

/// Without a time column the templates do not read the clock: the header's
/// timestamp stays 0 (with one, test a sees it set).
#[test]
fn a2_no_time_column_no_timestamp() {
    let Some(_g) = kernel_env() else { return };
    let prog = UniqueProgram::new("n");
    let mut p = plan(vec![execve_probe("execve")]);
    p.output.time = TimeMode::None;
    let mut s = loader().start(&p).unwrap();
    prog.run();
    let r = execve_record(&mut s, &prog);
    assert_eq!(u64_at(&r, 0), 0, "no timestamp without a time column");
    s.close();
}

/// The record of `prog`'s execve (by its filename), polled for up to 5 s.
fn execve_record(s: &mut Session, prog: &UniqueProgram) -> Vec<u8> {
    let recs = collect(s, Duration::from_secs(5), |rs| {
        rs.iter()
            .any(|r| str_at(r, FILE, FILE_MAX) == prog.path_str())
    });
    let n = recs.len();
    recs.into_iter()
        .find(|r| str_at(r, FILE, FILE_MAX) == prog.path_str())
        .unwrap_or_else(|| panic!("no execve of {} among {n} records", prog.path_str()))
}

/// `sched:sched_process_exec`: pid, comm and the `__data_loc` filename.
fn exec_probe(name: &str, filter: Vec<FilterOp>, strings: &[u8]) -> ProbePlan {
    let (loc, _) = tp_field("sched", "sched_process_exec", "filename");
    let (pid_off, _) = tp_field("sched", "sched_process_exec", "pid");
    let mut c = config(
        0,
        pid_off + 4,
        FILE + FILE_MAX,
        vec![
            builtin(COMM, Builtin::Comm),
            arg(PID, pid_off, 4, true),
            op(
                FILE,
                FILE_MAX,
                Base::Ctx,
                Read::DataLocStr {
                    off: loc,
                    max: FILE_MAX,
                },
            ),
        ],
    );
    c.filter = filter;
    c.strings = strings.to_vec();
    c.filter_at = if c.filter.is_empty() { 3 } else { 1 };
    probe(name, tracepoint("sched", "sched_process_exec"), c)
}

#[test]
fn b_filter_keeps_and_drops() {
    let Some(_g) = kernel_env() else { return };
    let prog = UniqueProgram::new("b");
    let comm = prog.comm.as_bytes();
    let other = b"no-such-comm";
    let mut strings = comm.to_vec();
    strings.extend_from_slice(other);
    let eq = |negate| FilterOp::CmpStr {
        slot: COMM,
        str_off: 0,
        len: comm.len() as u32,
        prefix: false,
        negate,
    };
    let prefix = FilterOp::CmpStr {
        slot: COMM,
        str_off: 0,
        len: 3,
        prefix: true,
        negate: false,
    };
    let not_other = FilterOp::CmpStr {
        slot: COMM,
        str_off: comm.len() as u32,
        len: other.len() as u32,
        prefix: false,
        negate: true,
    };
    let probes = vec![
        // 0: keeps: comm == unique
        exec_probe("keep", vec![eq(false)], &strings),
        // 1: drops: comm != unique
        exec_probe("drop", vec![eq(true)], &strings),
        // 2: keeps: (prefix "tcb" and comm != "no-such-comm") or false
        exec_probe(
            "keep-composite",
            vec![
                prefix,
                not_other,
                FilterOp::And,
                FilterOp::Const { value: false },
                FilterOp::Or,
            ],
            &strings,
        ),
        // 3: drops: not (comm == unique)
        exec_probe("drop-not", vec![eq(false), FilterOp::Not], &strings),
        // 4: control, no filter
        exec_probe("all", vec![], &[]),
    ];
    let mut s = loader().start(&plan(probes)).unwrap();
    let pid = prog.run();
    let ours = |r: &Vec<u8>| u64_at(r, PID) as u32 == pid;
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        [0, 2, 4]
            .iter()
            .all(|&p| rs.iter().any(|r| probe_index(r) == p && ours(r)))
    });
    for p in [0u32, 2, 4] {
        let r = recs
            .iter()
            .find(|r| probe_index(r) == p && ours(r))
            .unwrap_or_else(|| panic!("probe {p} did not see exec of pid {pid}"));
        assert_eq!(str_at(r, COMM, 16), prog.comm);
        assert_eq!(str_at(r, FILE, FILE_MAX), prog.path_str());
    }
    // Give stragglers a moment, then check the dropping probes stayed silent
    // for our process, and the keeping probe kept nothing else.
    let mut more = recs;
    more.extend(collect(&mut s, Duration::from_millis(200), |_| false));
    for r in &more {
        match probe_index(r) {
            0 => assert_eq!(str_at(r, COMM, 16), prog.comm),
            1 | 3 => assert!(!ours(r), "probe {} kept a filtered event", probe_index(r)),
            _ => {}
        }
    }
    s.close();
}

#[test]
fn c_tracepoint_data_loc_string() {
    let Some(_g) = kernel_env() else { return };
    let prog = UniqueProgram::new("c");
    let mut s = loader()
        .start(&plan(vec![exec_probe("exec", vec![], &[])]))
        .unwrap();
    let pid = prog.run();
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        rs.iter().any(|r| u64_at(r, PID) as u32 == pid)
    });
    let r = recs
        .iter()
        .find(|r| u64_at(r, PID) as u32 == pid)
        .expect("sched_process_exec of our program");
    assert_eq!(str_at(r, FILE, FILE_MAX), prog.path_str());
    assert_eq!(str_at(r, COMM, 16), prog.comm);
}

#[test]
fn d_tp_btf_bprm_filename() {
    let Some(_g) = kernel_env() else { return };
    let filename_off = kernel_member_offset("linux_binprm", "filename");
    let prog = UniqueProgram::new("d");
    // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
    let mut file = op(
        FILE,
        FILE_MAX,
        Base::Arg {
            off: 16,
            size: 8,
            signed: false,
        },
        Read::Str {
            off: 0,
            max: FILE_MAX,
            mem: Mem::Kernel,
        },
    );
    file.hops = vec![Hop {
        off: filename_off,
        mem: Mem::Kernel,
        index: None,
    }];
    let p = probe(
        "tp_btf",
        Attach::TpBtf {
            name: "sched_process_exec".into(),
        },
        config(
            3,
            0,
            FILE + FILE_MAX,
            vec![arg(PID, 8, 4, true), builtin(COMM, Builtin::Comm), file],
        ),
    );
    let mut s = loader().start(&plan(vec![p])).unwrap();
    assert_eq!(s.kinds(), &[Kind::TpBtf]);
    let pid = prog.run();
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        rs.iter().any(|r| u64_at(r, PID) as u32 == pid)
    });
    let r = recs
        .iter()
        .find(|r| u64_at(r, PID) as u32 == pid)
        .expect("tp_btf sched_process_exec of our program");
    assert_eq!(str_at(r, FILE, FILE_MAX), prog.path_str());
    assert_eq!(str_at(r, COMM, 16), prog.comm);
}

/// The uprobe target: a real function of this test binary.
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracectl_test_add(a: u64, b: u64) -> u64 {
    std::hint::black_box(a).wrapping_add(std::hint::black_box(b))
}

fn uprobe_probe(name: &str, ret: bool) -> ProbePlan {
    let exe = std::env::current_exe().unwrap();
    let attach = Attach::Uprobe {
        binary: exe.to_str().unwrap().into(),
        symbol: "tracectl_test_add".into(),
        ret,
    };
    let ops = if ret {
        vec![builtin(16, Builtin::Tid), arg(24, RET_OFF, 8, false)]
    } else {
        vec![
            builtin(16, Builtin::Tid),
            arg(24, 0, 8, false),
            arg(32, 8, 8, false),
        ]
    };
    probe(name, attach, config(2, 0, 40, ops))
}

#[test]
fn e_f_uprobe_and_uretprobe_share_one_ring() {
    let Some(_g) = kernel_env() else { return };
    let mut s = loader()
        .start(&plan(vec![
            uprobe_probe("add", false),
            uprobe_probe("add-ret", true),
        ]))
        .unwrap();
    assert_eq!(s.kinds(), &[Kind::Uprobe, Kind::Uretprobe]);
    let tid = gettid();
    assert_eq!(tracectl_test_add(40, 2), 42);
    assert_eq!(tracectl_test_add(u64::MAX, 7), 6);
    let mine = |r: &Vec<u8>| u64_at(r, 16) == tid;
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        rs.iter().filter(|r| mine(r)).count() >= 4
    });
    let entries: Vec<(u64, u64)> = recs
        .iter()
        .filter(|r| mine(r) && probe_index(r) == 0)
        .map(|r| (u64_at(r, 24), u64_at(r, 32)))
        .collect();
    let returns: Vec<u64> = recs
        .iter()
        .filter(|r| mine(r) && probe_index(r) == 1)
        .map(|r| u64_at(r, 24))
        .collect();
    assert_eq!(entries, vec![(40, 2), (u64::MAX, 7)]);
    assert_eq!(returns, vec![42, 6]);
    assert_eq!(s.lost(), 0);
}

#[test]
fn h_target_tgid_limits_events_to_one_process() {
    let Some(_g) = kernel_env() else { return };
    let me = std::process::id();
    let opts = LoaderOptions {
        target_tgid: me,
        ..LoaderOptions::default()
    };
    let p = probe(
        "getppid",
        tracepoint("syscalls", "sys_enter_getppid"),
        config(0, 0, 24, vec![builtin(16, Builtin::Pid)]),
    );
    let mut s = Loader::new(opts).unwrap().start(&plan(vec![p])).unwrap();
    for _ in 0..5 {
        // SAFETY: no preconditions.
        unsafe { libc::getppid() };
    }
    // Another process calling getppid: must not be seen.
    let _ = Command::new("/bin/sh").arg("-c").arg("echo $PPID").output();
    let recs = collect(&mut s, Duration::from_secs(3), |rs| rs.len() >= 5);
    assert!(recs.len() >= 5, "saw {} getppid calls", recs.len());
    std::thread::sleep(Duration::from_millis(100));
    let mut all = recs;
    all.extend(collect(&mut s, Duration::from_millis(100), |_| false));
    assert!(all.iter().all(|r| u64_at(r, 16) == me as u64));
}

/// Our programs currently loaded in the kernel.
fn our_programs() -> usize {
    let names: Vec<&str> = templates::program_names().collect();
    aya::programs::loaded_programs()
        .filter_map(Result::ok)
        .filter(|p| p.name_as_str().is_some_and(|n| names.contains(&n)))
        .count()
}

/// Waits (program memory is freed asynchronously after the last fd closes)
/// until `our_programs() == expected`, for at most 5 s; returns the count.
fn settle(expected: usize) -> usize {
    let start = Instant::now();
    loop {
        let n = our_programs();
        if n == expected || start.elapsed() > Duration::from_secs(5) {
            return n;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn our_pins() -> Vec<String> {
    fs::read_dir("/sys/fs/bpf")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("tracectl-"))
        .collect()
}

#[test]
fn g_check_load_leaves_nothing_behind() {
    let Some(_g) = kernel_env() else { return };
    // Programs of the previous tests may still be being freed.
    let before = settle(0);
    let p = plan(vec![
        execve_probe("execve"),
        exec_probe("exec", vec![], &[]),
        uprobe_probe("add", false),
    ]);
    let l = loader();
    let s = l.start(&p).unwrap();
    assert_eq!(our_programs(), before + 3);
    assert!(
        our_pins().is_empty(),
        "pins left after start: {:?}",
        our_pins()
    );
    s.close();
    assert_eq!(settle(before), before);
    l.check_load(&p).unwrap();
    tracectl::load::check_load(&p).unwrap();
    assert_eq!(settle(before), before);
    assert!(our_pins().is_empty());

    // An error half-way (second probe's tracepoint is missing) leaves nothing either.
    let bad = plan(vec![
        execve_probe("execve"),
        probe(
            "missing",
            tracepoint("syscalls", "sys_enter_no_such_call"),
            config(0, 0, 24, vec![builtin(16, Builtin::Pid)]),
        ),
    ]);
    let err = l.start(&bad).unwrap_err();
    assert!(
        matches!(err, RuntimeError::TracepointMissing { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("syscalls:sys_enter_no_such_call"));
    assert_eq!(settle(before), before);
    assert!(our_pins().is_empty());
}

/// The function the kernel-function tests probe:
/// `long do_sys_openat2(int dfd, const char __user *filename, struct open_how *how)`
/// (5.6+, in every kernel of the VM matrix).
const KFUNC: &str = "do_sys_openat2";
/// Its argument count (what fentry may read and where fexit finds the return value).
const KFUNC_NARGS: u32 = 3;

/// A probe configuration at every limit: 16 value ops (a string of the
/// maximal length, then integers behind four hops, alternating address
/// spaces, widths, signedness, bitfields and byte swaps), a 32-instruction
/// filter mixing every comparison with long string compares over the whole
/// string pool, and the largest record. Every op reads argument 0.
fn limits_config() -> ProbeConfig {
    let mut ops = Vec::new();
    // op 0: a long string (filter operand)
    ops.push(user_str_arg(16, 0, MAX_STR));
    // ops 1..16: integers behind four hops, alternating address spaces/widths
    for i in 1..MAX_OPS as u32 {
        let mut o = op(
            16 + MAX_STR + 8 * i,
            8,
            Base::Arg {
                off: 0,
                size: 8,
                signed: true,
            },
            Read::Int {
                off: 4 * i,
                size: [1, 2, 4, 8][i as usize % 4],
                signed: i % 2 == 0,
                bit_off: if i % 5 == 0 { 3 } else { 0 },
                bit_size: if i % 5 == 0 { 5 } else { 0 },
            },
        );
        o.hops = (0..MAX_HOPS as u32)
            .map(|h| Hop {
                off: 8 * h + i,
                mem: if h % 2 == 0 { Mem::Kernel } else { Mem::User },
                index: None,
            })
            .collect();
        o.transform = [Transform::None, Transform::Bswap16, Transform::Bswap32][i as usize % 3];
        ops.push(o);
    }
    let strings: Vec<u8> = (0..STR_POOL).map(|i| b'a' + (i % 26) as u8).collect();
    let mut filter = vec![FilterOp::CmpStr {
        slot: 16,
        str_off: 0,
        len: (STR_POOL - 1) as u32,
        prefix: false,
        negate: false,
    }];
    let cmps = [
        CmpOp::Eq,
        CmpOp::Ne,
        CmpOp::Lt,
        CmpOp::Le,
        CmpOp::Gt,
        CmpOp::Ge,
    ];
    while filter.len() + 2 < MAX_FILTER_OPS {
        let k = filter.len() as u32;
        let slot = 16 + MAX_STR + 8 * (1 + k % 15);
        filter.push(match k % 3 {
            0 => FilterOp::CmpImm {
                slot,
                cmp: cmps[k as usize % 6],
                imm: k as u64,
                signed: k % 2 == 0,
            },
            1 => FilterOp::CmpSlots {
                a: slot,
                b: 16 + MAX_STR + 8,
                cmp: cmps[k as usize % 6],
                signed: k % 2 == 1,
            },
            _ => FilterOp::CmpStr {
                slot: 16,
                str_off: k,
                len: 100,
                prefix: true,
                negate: true,
            },
        });
        filter.push(if k % 2 == 0 {
            FilterOp::And
        } else {
            FilterOp::Or
        });
    }
    filter.push(FilterOp::Not);
    assert_eq!(filter.len(), MAX_FILTER_OPS);
    // Every arithmetic operator, signed and not, on op slots, immediates
    // and earlier results; half of them before the filter.
    let int_slot = |i: u32| 16 + MAX_STR + 8 * (1 + i % 15);
    let calc_base = 16 + MAX_STR + 8 * MAX_OPS as u32;
    let arith = [
        ArithOp::Add,
        ArithOp::Sub,
        ArithOp::Mul,
        ArithOp::Div,
        ArithOp::Mod,
        ArithOp::BitAnd,
        ArithOp::BitOr,
        ArithOp::BitXor,
        ArithOp::Shl,
        ArithOp::Shr,
    ];
    let calcs: Vec<CalcOp> = (0..MAX_CALC as u32)
        .map(|k| CalcOp {
            dst: calc_base + 8 * k,
            op: arith[k as usize % arith.len()],
            a: match k % 3 {
                0 => CalcArg::Imm { value: k as u64 },
                1 if k > 0 => CalcArg::Slot {
                    slot: calc_base + 8 * (k - 1),
                },
                _ => CalcArg::Slot { slot: int_slot(k) },
            },
            b: match k % 3 {
                0 => CalcArg::Slot {
                    slot: int_slot(k + 1),
                },
                1 => CalcArg::Imm { value: 3 },
                _ => CalcArg::Slot {
                    slot: int_slot(k + 2),
                },
            },
            signed: k % 2 == 1,
        })
        .collect();
    ProbeConfig {
        nargs: 1,
        record_size: MAX_RECORD,
        filter_at: MAX_OPS as u32,
        ops,
        filter,
        strings,
        calcs,
        calc_at: MAX_CALC as u32 / 2,
        ..ProbeConfig::default()
    }
}

/// `c` as an aggregating probe at the limits: the largest key, every
/// function (two histograms, the widest linear one that fits), arguments
/// from ops and from arithmetic.
fn limits_agg(c: &ProbeConfig) -> ProbeConfig {
    let calc_base = 16 + MAX_STR + 8 * MAX_OPS as u32;
    let funcs = [
        AggFunc::Count,
        AggFunc::Sum,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::Avg,
        AggFunc::Hist,
        AggFunc::Lhist {
            lo: -1000,
            hi: 1000,
            step: 1,
        },
        AggFunc::Hist,
    ];
    assert_eq!(funcs.len(), MAX_AGG);
    let mut off = 0;
    let values = funcs
        .iter()
        .enumerate()
        .map(|(i, &func)| {
            let v = AggValue {
                name: format!("v{i}"),
                func,
                off,
                arg: (func != AggFunc::Count).then_some(if i % 2 == 0 {
                    calc_base + 8 * (MAX_CALC as u32 - 1 - i as u32)
                } else {
                    16 + MAX_STR + 8 * i as u32
                }),
                signed: i % 2 == 0,
            };
            off += func.value_bytes();
            v
        })
        .collect();
    let mut c = c.clone();
    c.agg = Some(AggPlan {
        key_size: MAX_AGG_KEY,
        keys: vec![],
        value_size: off,
        values,
    });
    c
}

/// Bytes a paired limits program stashes (the start timestamp and values).
const LIMITS_STASH: u32 = 2200;

/// `c` with every record offset (slots, filter and arithmetic operands,
/// aggregate arguments) moved `d` bytes up.
fn shifted(c: &ProbeConfig, d: u32) -> ProbeConfig {
    let mut c = c.clone();
    for o in &mut c.ops {
        o.slot += d;
    }
    for f in &mut c.filter {
        match f {
            FilterOp::CmpImm { slot, .. } | FilterOp::CmpStr { slot, .. } => *slot += d,
            FilterOp::CmpSlots { a, b, .. } => {
                *a += d;
                *b += d;
            }
            _ => {}
        }
    }
    for k in &mut c.calcs {
        k.dst += d;
        for arg in [&mut k.a, &mut k.b] {
            if let CalcArg::Slot { slot } = arg {
                *slot += d;
            }
        }
    }
    if let Some(a) = &mut c.agg {
        for v in &mut a.values {
            if let Some(arg) = &mut v.arg {
                *arg += d;
            }
        }
    }
    c
}

/// A paired probe at the limits from `c` (a limits configuration of one
/// kind, possibly aggregating): the stash holds [`LIMITS_STASH`] bytes, the
/// key is the first [`MAX_PAIR_KEY`] bytes of op 0's string. The start runs
/// everything before stashing; the end runs op 0 and the string compare
/// as its first stage, joins, then the other 15 ops, a second filter
/// program of 31 instructions and every calc.
fn limits_pair(
    name: &str,
    start: (&Attach, &ProbeConfig),
    end: (&Attach, &ProbeConfig),
) -> ProbePlan {
    let pc = |role, value_off| PairConfig {
        role,
        value_off,
        key_off: value_off + LIMITS_STASH,
        key_size: MAX_PAIR_KEY,
        value_size: LIMITS_STASH,
        join_at: 0,
        join_calc: 0,
        join_filter: 0,
    };
    let mut s = shifted(start.1, LIMITS_STASH);
    s.agg = None;
    s.pair = Some(pc(PairRole::Start, RECORD_HEADER));
    // An aggregating end keeps its key first, before the stashed bytes.
    let value_off = RECORD_HEADER + end.1.agg.as_ref().map_or(0, |a| a.key_size);
    let mut e = shifted(end.1, value_off - RECORD_HEADER + LIMITS_STASH);
    if let Some(a) = &mut e.agg {
        // Its key stays at the header; every other argument moved.
        a.key_size = MAX_AGG_KEY;
    }
    let mut filter = vec![e.filter[0].clone(), FilterOp::Const { value: true }];
    filter.extend_from_slice(&e.filter[1..MAX_FILTER_OPS - 1]);
    assert_eq!(filter.len(), MAX_FILTER_OPS);
    e.filter = filter;
    e.pair = Some(PairConfig {
        join_at: 1,
        join_filter: 1,
        ..pc(PairRole::End, value_off)
    });
    ProbePlan {
        pair: Some(PairPlan {
            end: name.into(),
            start: start.0.clone(),
            start_config: s,
            match_start: vec!["key".into()],
            match_end: vec!["key".into()],
            stash_entries: 16,
        }),
        ..probe(name, end.0.clone(), e)
    }
}

/// `c` with `nargs` arguments and the ops `which` selects reading the return
/// value instead of argument 0.
fn limits_variant(c: &ProbeConfig, nargs: u32, which: impl Fn(usize) -> bool) -> ProbeConfig {
    let mut c = c.clone();
    c.nargs = nargs;
    for (i, o) in c.ops.iter_mut().enumerate() {
        if let Base::Arg { off, .. } = &mut o.base {
            if which(i) {
                *off = RET_OFF;
            }
        }
    }
    c
}

/// Prints the size of each loaded template (`--nocapture` shows it).
fn print_template_sizes() {
    let names: Vec<&str> = templates::program_names().collect();
    for p in aya::programs::loaded_programs().flatten() {
        if p.name_as_str().is_some_and(|n| names.contains(&n)) {
            eprintln!(
                "{}: {} instructions, verified {:?}",
                p.name_as_str().unwrap(),
                p.size_translated().unwrap_or(0) / 8,
                p.verified_instruction_count()
            );
        }
    }
}

/// Asserts that a kernel-function plan in `mode` was refused for the reason
/// this kernel has (no kprobes; BPF trampolines refused) rather than, say,
/// the verifier, and returns the refusal for the `NOT RUN HERE` line.
fn expected_kernel_refusal(mode: KernelMode, e: &RuntimeError) -> String {
    let msg = e.to_string();
    assert!(
        matches!(e, RuntimeError::KernelProbeUnavailable { .. }),
        "{mode:?}: unexpected error kind: {msg}"
    );
    let no_kprobes = !kprobes_available() && msg.contains("no kprobes (CONFIG_KPROBES is off)");
    let expected = match mode {
        KernelMode::Kprobe => no_kprobes,
        KernelMode::Fentry => msg.contains("BPF trampoline"),
        KernelMode::Auto => no_kprobes && msg.contains("trampolines"),
    };
    assert!(
        expected,
        "{mode:?}: refused for another reason than missing kprobes/trampolines: {msg}"
    );
    // The reason alone: without "probe NAME: " and the suggested alternative.
    let reason = msg.split_once(": ").map_or(msg.as_str(), |(_, r)| r);
    format!("{mode:?}: {}", reason.split("; ").next().unwrap_or(reason))
}

/// The plan at every limit (see [`limits_config`]) must pass the verifier on
/// all eight template kinds: tracepoint, tp_btf, uprobe and uretprobe here;
/// kprobe, kretprobe, fentry and fexit where the kernel has them. Where it
/// has not, the refusal is asserted and the VM matrix proves those four
/// kinds (it runs this test on every kernel, kernel functions required).
#[test]
fn i_limits_pass_the_verifier() {
    const TEST: &str = "i_limits_pass_the_verifier";
    let Some(_g) = kernel_env() else { return };
    let c = limits_config();
    let l = loader();
    let exe = std::env::current_exe().unwrap();
    let uprobe = |ret| Attach::Uprobe {
        binary: exe.to_str().unwrap().into(),
        symbol: "tracectl_test_add".into(),
        ret,
    };
    let tp = ProbeConfig {
        ctx_copy: ABI_ARGS_AREA,
        ..c.clone()
    };
    // sched_process_exec(struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
    let tpbtf = limits_variant(&c, 3, |_| false);
    let up = limits_variant(&c, MAX_ARGS, |_| false);
    let uret = limits_variant(&c, 0, |_| true);
    let tpbtf_attach = Attach::TpBtf {
        name: "sched_process_exec".into(),
    };
    let tp_attach = tracepoint("syscalls", "sys_enter_execve");
    // Each kind twice: sending records, and aggregating.
    let s = l
        .start(&plan(vec![
            probe("limits-tp", tp_attach.clone(), tp.clone()),
            probe("limits-tpbtf", tpbtf_attach.clone(), tpbtf.clone()),
            probe("limits-uprobe", uprobe(false), up.clone()),
            probe("limits-uret", uprobe(true), uret.clone()),
            probe("limits-tp-agg", tp_attach, limits_agg(&tp)),
            probe("limits-tpbtf-agg", tpbtf_attach, limits_agg(&tpbtf)),
            probe("limits-uprobe-agg", uprobe(false), limits_agg(&up)),
            probe("limits-uret-agg", uprobe(true), limits_agg(&uret)),
        ]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.kinds(),
        [
            Kind::Tracepoint,
            Kind::TpBtf,
            Kind::Uprobe,
            Kind::Uretprobe,
            Kind::Tracepoint,
            Kind::TpBtf,
            Kind::Uprobe,
            Kind::Uretprobe
        ]
    );
    let mut loaded: Vec<Kind> = s.kinds().to_vec();
    print_template_sizes();
    s.close();

    // Paired probes at the limits (start and end programs; the end
    // aggregating or not), a uprobe ending at a uretprobe.
    let tp_at = tracepoint("syscalls", "sys_enter_execve");
    let tpbtf_at = Attach::TpBtf {
        name: "sched_process_exec".into(),
    };
    let (up_at, uret_at) = (uprobe(false), uprobe(true));
    let s = l
        .start(&plan(vec![
            limits_pair("limits-pair-tp", (&tp_at, &tp), (&tp_at, &tp)),
            limits_pair(
                "limits-pair-tpbtf",
                (&tpbtf_at, &tpbtf),
                (&tpbtf_at, &tpbtf),
            ),
            limits_pair("limits-pair-uprobe", (&up_at, &up), (&uret_at, &uret)),
            limits_pair(
                "limits-pair-tp-agg",
                (&tp_at, &tp),
                (&tp_at, &limits_agg(&tp)),
            ),
            limits_pair(
                "limits-pair-tpbtf-agg",
                (&tpbtf_at, &tpbtf),
                (&tpbtf_at, &limits_agg(&tpbtf)),
            ),
            limits_pair(
                "limits-pair-uprobe-agg",
                (&up_at, &up),
                (&uret_at, &limits_agg(&uret)),
            ),
        ]))
        .unwrap_or_else(|e| panic!("paired limits: {e}"));
    let ends = [Kind::Tracepoint, Kind::TpBtf, Kind::Uretprobe];
    let starts = [Kind::Tracepoint, Kind::TpBtf, Kind::Uprobe].map(Some);
    assert_eq!(s.kinds(), [ends, ends].concat());
    assert_eq!(s.start_kinds(), [starts, starts].concat());
    eprintln!("paired:");
    print_template_sizes();
    s.close();

    // Kernel functions, one mechanism at a time: kprobes take the six
    // register arguments; trampolines the function's own three, and fexit
    // reads the return value in every other op.
    let kernel = [
        (
            KernelMode::Kprobe,
            limits_variant(&c, MAX_ARGS, |_| false),
            limits_variant(&c, 0, |_| true),
            [Kind::Kprobe, Kind::Kretprobe],
        ),
        (
            KernelMode::Fentry,
            limits_variant(&c, KFUNC_NARGS, |_| false),
            limits_variant(&c, KFUNC_NARGS, |i| i % 2 == 1),
            [Kind::Fentry, Kind::Fexit],
        ),
    ];
    let mut refused = Vec::new();
    for (mode, entry, exit, kinds) in kernel {
        let attach = |ret| Attach::Kernel {
            function: KFUNC.into(),
            ret,
            mode,
        };
        let p = plan(vec![
            probe("limits-entry", attach(false), entry.clone()),
            probe("limits-exit", attach(true), exit.clone()),
            probe("limits-entry-agg", attach(false), limits_agg(&entry)),
            probe("limits-exit-agg", attach(true), limits_agg(&exit)),
            limits_pair(
                "limits-pair",
                (&attach(false), &entry),
                (&attach(true), &exit),
            ),
            limits_pair(
                "limits-pair-agg",
                (&attach(false), &entry),
                (&attach(true), &limits_agg(&exit)),
            ),
        ]);
        match l.start(&p) {
            Ok(s) => {
                assert_eq!(
                    s.kinds(),
                    [kinds, kinds, [kinds[1]; 2]].concat(),
                    "{mode:?}"
                );
                loaded.extend_from_slice(s.kinds());
                print_template_sizes();
                s.close();
            }
            Err(e) => refused.push(expected_kernel_refusal(mode, &e)),
        }
    }
    let loaded: Vec<String> = loaded.iter().map(|k| k.to_string()).collect();
    if refused.is_empty() {
        eprintln!("limits loaded on {}", loaded.join(", "));
        elsewhere::exercised(TEST, &format!("{} kinds", loaded.len()));
    } else {
        elsewhere::not_run_here(
            TEST,
            &format!(
                "loaded {} here; refused {}",
                loaded.join(", "),
                refused.join("; ")
            ),
        );
    }
}

/// Kernel functions: fentry/fexit or kprobe/kretprobe when the kernel has
/// them, with the file name and the returned fd captured; else a sentence
/// naming the tracepoint to use instead (and the VM matrix runs this test on
/// every kernel, kernel functions required).
#[test]
fn j_kernel_function_or_a_clear_error() {
    const TEST: &str = "j_kernel_function_or_a_clear_error";
    let Some(_g) = kernel_env() else { return };
    let l = loader();
    let unique = UniqueProgram::new("j");
    let target = unique.dir.join("opened-by-tracectl");
    fs::write(&target, b"x").unwrap();
    let target_s = target.to_str().unwrap().to_string();
    let mut refused = Vec::new();
    // What kfunc: (Auto) chose, the matrix cell.
    let mut auto = String::new();
    for mode in [KernelMode::Auto, KernelMode::Kprobe, KernelMode::Fentry] {
        let entry = probe(
            "openat2",
            Attach::Kernel {
                function: KFUNC.into(),
                ret: false,
                mode,
            },
            config(
                KFUNC_NARGS,
                0,
                16 + 8 + FILE_MAX,
                vec![builtin(16, Builtin::Tid), user_str_arg(24, 8, FILE_MAX)],
            ),
        );
        let exit = probe(
            "openat2-ret",
            Attach::Kernel {
                function: KFUNC.into(),
                ret: true,
                mode,
            },
            config(
                KFUNC_NARGS,
                0,
                32,
                vec![builtin(16, Builtin::Tid), arg(24, RET_OFF, 8, true)],
            ),
        );
        match l.start(&plan(vec![entry, exit])) {
            Ok(mut s) => {
                let kinds = s.kinds().to_vec();
                eprintln!("{mode:?}: attached with {kinds:?}");
                let trampolines = [Kind::Fentry, Kind::Fexit];
                let kprobes = [Kind::Kprobe, Kind::Kretprobe];
                match mode {
                    KernelMode::Fentry => assert_eq!(kinds, trampolines, "{mode:?}"),
                    KernelMode::Kprobe => assert_eq!(kinds, kprobes, "{mode:?}"),
                    KernelMode::Auto => assert!(
                        kinds == trampolines || kinds == kprobes,
                        "{mode:?}: {kinds:?}"
                    ),
                }
                let tid = gettid();
                let f = fs::File::open(&target).unwrap();
                let fd = std::os::fd::AsRawFd::as_raw_fd(&f) as u64;
                let recs = collect(&mut s, Duration::from_secs(10), |rs| {
                    rs.iter()
                        .any(|r| probe_index(r) == 1 && u64_at(r, 16) == tid)
                });
                assert!(
                    recs.iter().any(|r| probe_index(r) == 0
                        && u64_at(r, 16) == tid
                        && str_at(r, 24, FILE_MAX) == target_s),
                    "{mode:?} ({kinds:?}): no entry record of tid {tid} opening {target_s} \
                     in {} records",
                    recs.len()
                );
                assert!(
                    recs.iter().any(|r| probe_index(r) == 1
                        && u64_at(r, 16) == tid
                        && u64_at(r, 24) == fd),
                    "{mode:?} ({kinds:?}): no return record of tid {tid} with fd {fd} in {} \
                     records",
                    recs.len()
                );
                if mode == KernelMode::Auto {
                    auto = format!("auto={}", kinds[0]);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                eprintln!("{mode:?}: {msg}");
                assert!(msg.contains("syscalls:sys_enter_openat"), "{msg}");
                refused.push(expected_kernel_refusal(mode, &e));
            }
        }
    }
    if refused.is_empty() {
        elsewhere::exercised(TEST, &auto);
    } else {
        elsewhere::not_run_here(TEST, &refused.join("; "));
    }
}

/// `Session::startup_time()` is what `Loader::start` took to load and attach
/// two probes: more than nothing, no more than the wall time around the
/// call, and fixed when the session started (not its age when asked, which
/// the exec below makes larger than that wall time). How fast start-up is
/// belongs to scripts/bench.sh, not here.
#[test]
fn k_startup_time_two_probes() {
    let Some(_g) = kernel_env() else { return };
    let l = loader();
    let prog = UniqueProgram::new("k");
    let p = plan(vec![
        execve_probe("execve"),
        exec_probe("exec", vec![], &[]),
    ]);
    let before = Instant::now();
    let mut s = l.start(&p).unwrap();
    let wall = before.elapsed();
    // Both probes were attached when `start` returned: one exec, two records.
    prog.run();
    let recs = collect(&mut s, Duration::from_secs(5), |rs| {
        (0..2).all(|i| {
            rs.iter()
                .any(|r| probe_index(r) == i && str_at(r, FILE, FILE_MAX) == prog.path_str())
        })
    });
    for i in 0..2 {
        assert!(
            recs.iter()
                .any(|r| probe_index(r) == i && str_at(r, FILE, FILE_MAX) == prog.path_str()),
            "no record of probe {i} for {} among {} records",
            prog.path_str(),
            recs.len()
        );
    }
    let startup = s.startup_time();
    assert!(startup > Duration::ZERO, "startup time {startup:?}");
    assert!(
        startup <= wall,
        "startup time {startup:?} is more than the {wall:?} `start` took"
    );
    assert_eq!(s.startup_time(), startup, "the startup time is fixed");
    s.close();
}

/// A ring buffer too small for a burst: every event is either delivered or
/// counted as lost, on both emit paths (built in place without a filter,
/// copied from scratch with one).
#[test]
fn l_full_ring_counts_every_lost_record() {
    let Some(_g) = kernel_env() else { return };
    let me = std::process::id();
    for filtered in [false, true] {
        let mut config = config(0, 0, 24, vec![builtin(16, Builtin::Pid)]);
        if filtered {
            // pid == me: true for every event of this process.
            config.filter_at = 1;
            config.filter = vec![FilterOp::CmpImm {
                slot: 16,
                cmp: CmpOp::Eq,
                imm: me as u64,
                signed: false,
            }];
        }
        let p = plan(vec![probe(
            "getppid",
            tracepoint("syscalls", "sys_enter_getppid"),
            config,
        )]);
        let loader = Loader::new(LoaderOptions {
            ring_bytes: 4096,
            target_tgid: me,
            ..LoaderOptions::default()
        })
        .expect("loader");
        let mut s = loader.start(&p).unwrap();
        const CALLS: u64 = 5000;
        for _ in 0..CALLS {
            let _ = std::os::unix::process::parent_id();
        }
        let recs = collect(&mut s, Duration::from_millis(300), |_| false);
        let mine = recs.iter().filter(|r| u64_at(r, 16) == me as u64).count() as u64;
        let lost = s.lost();
        assert!(
            lost > 0,
            "a 4 KiB ring cannot hold {CALLS} records (filter: {filtered})"
        );
        assert_eq!(
            mine + lost,
            CALLS,
            "delivered {mine} + lost {lost} (filter: {filtered})"
        );
        s.close();
    }
}

/// The uprobe target of `m_unknown_codes_drop_the_event`: `holder` points
/// to a pointer to a u32 (one hop, then an integer read, both user memory).
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracectl_test_codes(holder: *const *const u32, x: u64) -> u64 {
    std::hint::black_box(holder);
    std::hint::black_box(x)
}

/// The config of `m_unknown_codes_drop_the_event`: x (slot 16, the filter
/// operand), tid (24), `bswap32(**holder)` (32) and `bswap16(x)` (40); with
/// `filtered`, the filter `x == imm`.
fn codes_config(filtered: bool, imm: u64) -> tracectl::abi::TcConfig {
    let mut inner = op(
        32,
        8,
        Base::Arg {
            off: 0,
            size: 8,
            signed: false,
        },
        Read::Int {
            off: 0,
            size: 4,
            signed: false,
            bit_off: 0,
            bit_size: 0,
        },
    );
    inner.hops = vec![Hop {
        off: 0,
        mem: Mem::User,
        index: None,
    }];
    inner.mem = Mem::User;
    inner.transform = Transform::Bswap32;
    let mut swapped = arg(40, 8, 8, false);
    swapped.transform = Transform::Bswap16;
    let mut c = config(
        2,
        0,
        48,
        vec![
            arg(16, 8, 8, false),
            builtin(24, Builtin::Tid),
            inner,
            swapped,
        ],
    );
    if filtered {
        c.filter_at = 1;
        c.filter = vec![FilterOp::CmpImm {
            slot: 16,
            cmp: CmpOp::Eq,
            imm,
            signed: false,
        }];
    }
    tracectl::abi::build(&c, 0, std::process::id(), 0).expect("a valid configuration")
}

/// Loads the uprobe template with these exact config bytes (bypassing
/// `abi::build`'s checks), calls `tracectl_test_codes` twice, and returns
/// the records and `lost[lost::UNKNOWN]`.
fn run_codes_config(bytes: &[u8], x: u64, target: u32) -> (Vec<Vec<u8>>, u64) {
    use aya::maps::{PerCpuArray, RingBuf};
    use aya::programs::uprobe::UProbeScope;
    use aya::programs::UProbe;
    let template = Kind::Uprobe.template();
    let mut ebpf = aya::EbpfLoader::new()
        .override_global(tracectl::abi::CONFIG_SYMBOL, bytes, true)
        .load(template.object)
        .expect("load the uprobe template");
    let prog: &mut UProbe = ebpf
        .program_mut(template.program)
        .expect("the template's program")
        .try_into()
        .expect("a uprobe");
    prog.load().expect("the verifier accepts the config");
    let me = std::num::NonZeroU32::new(std::process::id()).unwrap();
    let exe = std::env::current_exe().unwrap();
    prog.attach("tracectl_test_codes", &exe, UProbeScope::OneProcess(me))
        .expect("attach to tracectl_test_codes");
    let holder: *const u32 = &target;
    for _ in 0..2 {
        assert_eq!(tracectl_test_codes(&holder, x), x);
    }
    // The program ran synchronously in the calls above: its records and
    // counters are complete now.
    let mut ring = RingBuf::try_from(ebpf.take_map(templates::EVENTS_MAP).unwrap()).unwrap();
    let mut records = Vec::new();
    while let Some(r) = ring.next() {
        records.push(r.to_vec());
    }
    let lost: PerCpuArray<_, u64> =
        PerCpuArray::try_from(ebpf.map(templates::LOST_MAP).unwrap()).unwrap();
    let unknown = lost
        .get(&tracectl::abi::lost::UNKNOWN, 0)
        .expect("lost[UNKNOWN]")
        .iter()
        .sum();
    (records, unknown)
}

/// A configuration holding a code or width the templates do not know (one
/// `abi::build` refuses, forced in here as raw bytes) drops every event and
/// counts it in `lost[UNKNOWN]`; the same configuration with valid codes
/// emits one record per call, with the right values. Both emit paths: in
/// place (no filter) and from scratch (filter).
#[test]
fn m_unknown_codes_drop_the_event() {
    use tracectl::abi::TcConfig;
    let Some(_g) = kernel_env() else { return };
    type Plant = fn(&mut TcConfig);
    let plants: [(&str, Plant, bool); 10] = [
        ("base", |c| c.ops[0].base = 9, false),
        ("argument width", |c| c.ops[0].base_size = 3, false),
        ("builtin", |c| c.ops[1].builtin = 99, false),
        ("hop address space", |c| c.ops[2].hop_mem[0] = 7, false),
        ("read", |c| c.ops[2].read = 9, false),
        ("integer width", |c| c.ops[2].read_len = 3, false),
        ("read address space", |c| c.ops[2].read_mem = 7, false),
        ("transform", |c| c.ops[2].transform = 9, false),
        ("filter kind", |c| c.filter[0].kind = 9, true),
        ("comparison", |c| c.filter[0].cmp = 9, true),
    ];
    let x = 0x5eed_0000_0000_0042u64;
    let target = 0x1122_3344u32;
    let tid = gettid();
    for filtered in [false, true] {
        let valid = codes_config(filtered, x);
        let (records, unknown) = run_codes_config(&valid.to_bytes(), x, target);
        assert_eq!(unknown, 0, "valid config (filter: {filtered})");
        assert_eq!(records.len(), 2, "valid config (filter: {filtered})");
        for r in &records {
            assert_eq!(u64_at(r, 16), x);
            assert_eq!(u64_at(r, 24), tid);
            assert_eq!(u64_at(r, 32), 0x4433_2211, "bswap32");
            assert_eq!(u64_at(r, 40), 0x4200, "bswap16 of the low bytes 0x0042");
        }
        for (name, plant, filter_only) in plants {
            if filter_only && !filtered {
                continue;
            }
            let mut cfg = valid.clone();
            plant(&mut cfg);
            assert!(
                cfg.check_codes().is_err(),
                "abi accepts an unknown {name} code"
            );
            let (records, unknown) = run_codes_config(&cfg.to_bytes(), x, target);
            assert!(
                records.is_empty(),
                "unknown {name} (filter: {filtered}): {} record(s) emitted",
                records.len()
            );
            assert_eq!(
                unknown, 2,
                "unknown {name} (filter: {filtered}): lost[UNKNOWN] after two calls"
            );
        }
    }
}

/// The uprobe target of `n_records_hold_no_stale_bytes`.
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracectl_test_str(s: *const u8, keep: u64) -> u64 {
    std::hint::black_box(s);
    std::hint::black_box(keep)
}

/// Pins this thread to the CPU it runs on (so per-CPU scratch records are
/// reused between calls) until dropped.
struct PinnedToCpu(libc::cpu_set_t);

impl PinnedToCpu {
    fn new() -> PinnedToCpu {
        // SAFETY: cpu_set_t is plain data; the calls get valid pointers and
        // sizes, and act on this thread (pid 0).
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            let size = std::mem::size_of::<libc::cpu_set_t>();
            assert_eq!(libc::sched_getaffinity(0, size, &mut old), 0);
            let cpu = libc::sched_getcpu();
            assert!(cpu >= 0, "sched_getcpu");
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut one);
            assert_eq!(libc::sched_setaffinity(0, size, &one), 0);
            PinnedToCpu(old)
        }
    }
}

impl Drop for PinnedToCpu {
    fn drop(&mut self) {
        // SAFETY: restores the mask saved by new().
        unsafe {
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &self.0);
        }
    }
}

/// The templates zero every record after its header before filling it: a
/// short string leaves zeros, not the bytes of an earlier, longer one, in the
/// rest of its slot. Earlier records are in the same ring-buffer memory (a
/// 4 KiB ring, written around several times) and, with a filter, in the same
/// per-CPU scratch record (the calls stay on one CPU).
#[test]
fn n_records_hold_no_stale_bytes() {
    let Some(_g) = kernel_env() else { return };
    const STR: u32 = 16;
    const STR_MAX: u32 = 64;
    const KEEP: u32 = STR + STR_MAX;
    let me = std::process::id();
    let long = [[b'x'; STR_MAX as usize - 1].as_slice(), b"\0"].concat();
    let short = b"ab\0";
    let _pin = PinnedToCpu::new();
    for filtered in [false, true] {
        let exe = std::env::current_exe().unwrap();
        let attach = Attach::Uprobe {
            binary: exe.to_str().unwrap().into(),
            symbol: "tracectl_test_str".into(),
            ret: false,
        };
        let text = user_str_arg(STR, 0, STR_MAX);
        let mut c = config(2, 0, KEEP + 8, vec![text, arg(KEEP, 8, 8, false)]);
        if filtered {
            c.filter = vec![FilterOp::CmpImm {
                slot: KEEP,
                cmp: CmpOp::Eq,
                imm: 1,
                signed: false,
            }];
        }
        let loader = Loader::new(LoaderOptions {
            ring_bytes: 4096,
            target_tgid: me,
            ..LoaderOptions::default()
        })
        .expect("loader");
        let mut s = loader.start(&plan(vec![probe("str", attach, c)])).unwrap();
        const ROUNDS: usize = 4;
        const CALLS: usize = 20;
        let mut records = Vec::new();
        for _ in 0..ROUNDS {
            for text in [long.as_slice(), short.as_slice()] {
                for _ in 0..CALLS {
                    assert_eq!(tracectl_test_str(text.as_ptr(), 1), 1);
                }
                let batch = collect(&mut s, Duration::from_secs(5), |rs| rs.len() >= CALLS);
                assert_eq!(
                    batch.len(),
                    CALLS,
                    "records of {CALLS} calls (filter: {filtered})"
                );
                records.extend(batch);
            }
        }
        assert_eq!(s.lost(), 0, "filter: {filtered}");
        let mut shorts = 0;
        for r in &records {
            let slot = &r[STR as usize..KEEP as usize];
            match str_at(r, STR, STR_MAX).as_str() {
                "ab" => {
                    shorts += 1;
                    assert!(
                        slot[3..].iter().all(|&b| b == 0),
                        "stale bytes after a short string (filter: {filtered}): {:?}",
                        String::from_utf8_lossy(slot)
                    );
                }
                t => assert_eq!(t.len(), STR_MAX as usize - 1, "filter: {filtered}"),
            }
        }
        assert_eq!(shorts, ROUNDS * CALLS, "filter: {filtered}");
        s.close();
    }
}
