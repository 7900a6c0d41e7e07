//! Context and names (spec-v2 §5, docs/language.md "Context and names")
//! through the `tracectl` binary, against values the test knows: its own
//! pid as a child's `ppid`, the inode numbers of `/proc/PID/ns/*` (also of a
//! process in new pid and net namespaces made with `unshare`), the argv it
//! passed, the signal it sent, a missing file's `ENOENT`, the kernel
//! function a timer runs, a function of this test binary registered with
//! `qsort`, and cgroups it creates (its path, `--cgroup`, a docker-style
//! scope found by `--container`).
//!
//! Needs root and kernel BTF: without them it fails when `CI=true`, else it
//! prints SKIPPED.

#[path = "common/mod.rs"]
mod common;

use common::{
    bpf_available, json_int as int, output_within, scratch, serial, tagged_nonce, trace,
    unique_true, wait_child, BIN,
};
use serde_json::Value;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn me() -> u32 {
    std::process::id()
}

fn show(recs: &[Value]) -> String {
    recs.iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The inode of `/proc/PID/ns/KIND`.
fn ns(pid: u32, kind: &str) -> i128 {
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("/proc/{pid}/ns/{kind}: {e}"))
        .ino() as i128
}

/// The pid of the process whose comm is `name`, waiting for it.
fn pid_of(name: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim_end() == name)
            {
                return pid;
            }
        }
        assert!(Instant::now() < deadline, "no process named {name}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

const EXEC_SPEC: &str = "tracepoint:syscalls:sys_enter_execve as exec \
    { pid, ppid, pidns, mntns, netns, args = join(argv), three = join(argv, 3), \
      cg = cgroup_path(cgroup), ct = container(cgroup) }";

/// A program the test starts: `ppid` is the test, the namespaces are the
/// test's, `join(argv)` is what it passed (and `join(argv, 3)` stops after
/// three, marked `…`). A program started by `unshare --pid --net --fork`:
/// `ppid` is unshare, `pidns` and `netns` are the new namespaces' inode
/// numbers as /proc shows them (not the test's), `mntns` the test's.
#[test]
fn ppid_namespaces_and_argv_of_programs_the_test_starts() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("ctx-exec");
    let name = tagged_nonce("ctx");
    let prog = unique_true(&dir, &name);
    let sleeper = &*dir.join(tagged_nonce("slp"));
    std::fs::copy("/bin/sleep", sleeper).unwrap();
    let sleeper_name = sleeper.file_name().unwrap().to_str().unwrap().to_string();
    let mut unshare_pid = 0;
    let mut inner_pid = 0;
    let mut inner_ns = (0, 0, 0);
    let (recs, _) = trace(&["-e", EXEC_SPEC, "-d", "4s"], || {
        let mut c = Command::new(&prog)
            .args(["alpha", "beta gamma", "delta", "epsilon"])
            .spawn()
            .unwrap();
        wait_child(&mut c, "the unique program");
        let mut u = Command::new("unshare")
            .args(["--pid", "--net", "--fork"])
            .arg(sleeper)
            .arg("1")
            .stdout(Stdio::null())
            .spawn()
            .expect("unshare (util-linux)");
        unshare_pid = u.id();
        inner_pid = pid_of(&sleeper_name);
        inner_ns = (
            ns(inner_pid, "pid"),
            ns(inner_pid, "mnt"),
            ns(inner_pid, "net"),
        );
        wait_child(&mut u, "unshare");
    });
    let by_path = |p: &Path| -> Vec<&Value> {
        let p = p.to_str().unwrap();
        recs.iter()
            .filter(|r| r["args"].as_str().is_some_and(|a| a.starts_with(p)))
            .collect()
    };
    let mine = by_path(&prog);
    assert_eq!(mine.len(), 1, "one exec of {name}:\n{}", show(&recs));
    let r = mine[0];
    assert_eq!(int(&r["ppid"]), me() as i128, "{r}");
    assert_eq!(
        (int(&r["pidns"]), int(&r["mntns"]), int(&r["netns"])),
        (ns(me(), "pid"), ns(me(), "mnt"), ns(me(), "net")),
        "{r}"
    );
    assert_eq!(
        r["args"],
        format!("{} alpha beta gamma delta epsilon", prog.display()),
        "{r}"
    );
    assert_eq!(
        r["three"],
        format!("{} alpha beta gamma…", prog.display()),
        "{r}"
    );
    let inner = by_path(sleeper);
    assert_eq!(
        inner.len(),
        1,
        "one exec of {sleeper_name}:\n{}",
        show(&recs)
    );
    let r = inner[0];
    assert_eq!(int(&r["pid"]), inner_pid as i128, "{r}");
    assert_eq!(int(&r["ppid"]), unshare_pid as i128, "{r}");
    assert_eq!(
        (int(&r["pidns"]), int(&r["mntns"]), int(&r["netns"])),
        inner_ns,
        "{r}"
    );
    assert_ne!(
        int(&r["pidns"]),
        ns(me(), "pid"),
        "a new pid namespace: {r}"
    );
    assert_ne!(
        int(&r["netns"]),
        ns(me(), "net"),
        "a new net namespace: {r}"
    );
    assert_eq!(int(&r["mntns"]), ns(me(), "mnt"), "the same mounts: {r}");
}

/// `signal()` prints the signal's name and a filter compares it by name:
/// of SIGUSR1 and SIGUSR2 sent to a child, only SIGUSR1 is kept, printed
/// `SIGUSR1`. `errno()` prints a missing file's open as `ENOENT`, and a
/// filter by that name keeps it. `ksym()` names the kernel function a
/// sleep's timer runs.
#[test]
fn signal_errno_and_ksym_print_names_and_filter_by_them() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let dir = scratch("ctx-names");
    let missing = &*dir.join(tagged_nonce("missing"));
    let me_s = me().to_string();
    let spec = format!(
        "tracepoint:syscalls:sys_enter_kill as kill {{ target = args.pid, sig = signal(sig) }} \
           where signal(sig) == \"SIGUSR1\" && pid == {me_s}
         tracepoint:syscalls:sys_exit_openat as open {{ err = errno(ret), raw = ret }} \
           where errno(ret) == \"ENOENT\" && pid == {me_s}
         tracepoint:timer:hrtimer_start as timer {{ f = ksym(function) }} where pid == {me_s}"
    );
    let mut child = 0;
    let (recs, _) = trace(&["-e", &spec, "-d", "2s"], || {
        let mut c = Command::new("sleep").arg("30").spawn().unwrap();
        child = c.id();
        for s in [libc::SIGUSR2, libc::SIGUSR1] {
            // SAFETY: kill has no memory preconditions.
            assert_eq!(unsafe { libc::kill(child as i32, s) }, 0);
        }
        let _ = c.wait();
        assert!(std::fs::File::open(missing).is_err());
        std::thread::sleep(Duration::from_millis(5));
    });
    let kills: Vec<&Value> = recs.iter().filter(|r| r["probe"] == "kill").collect();
    assert_eq!(kills.len(), 1, "only SIGUSR1:\n{}", show(&recs));
    assert_eq!(kills[0]["sig"], "SIGUSR1", "{}", kills[0]);
    assert_eq!(int(&kills[0]["target"]), child as i128, "{}", kills[0]);
    let opens: Vec<&Value> = recs.iter().filter(|r| r["probe"] == "open").collect();
    assert!(
        !opens.is_empty(),
        "the missing file's open:\n{}",
        show(&recs)
    );
    for o in &opens {
        assert_eq!(o["err"], "ENOENT", "{o}");
        assert_eq!(int(&o["raw"]), -2, "{o}");
    }
    let timers: Vec<&Value> = recs.iter().filter(|r| r["probe"] == "timer").collect();
    assert!(
        timers.iter().any(|t| t["f"] == "hrtimer_wakeup"),
        "a sleep's timer runs hrtimer_wakeup:\n{}",
        show(&recs)
    );
}

/// A comparison function of this binary, given to libc's `qsort`:
/// `usym()` of the pointer qsort receives names it.
#[no_mangle]
#[inline(never)]
pub extern "C" fn tracectl_ctx_compare(a: *const libc::c_void, b: *const libc::c_void) -> i32 {
    // SAFETY: qsort passes pointers to elements of the u32 array below.
    let (a, b) = unsafe { (*(a as *const u32), *(b as *const u32)) };
    a.cmp(&b) as i32
}

#[test]
fn usym_names_a_function_of_the_traced_process() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let spec = "uprobe:libc:qsort as sort { f = usym(arg3), a = hex(arg3), n = arg1 }";
    let mut v: Vec<u32> = vec![3, 1, 2, 9, 7];
    let (recs, _) = trace(
        &["-e", spec, "--pid", &me().to_string(), "-d", "1s"],
        || {
            // SAFETY: sorts `v` in place with a comparator of u32s.
            unsafe {
                libc::qsort(
                    v.as_mut_ptr().cast(),
                    v.len(),
                    std::mem::size_of::<u32>(),
                    Some(tracectl_ctx_compare),
                )
            };
        },
    );
    assert_eq!(v, [1, 2, 3, 7, 9]);
    let want = format!("{:#x}", tracectl_ctx_compare as *const () as u64);
    let r = recs
        .iter()
        .find(|r| r["a"] == want.as_str())
        .unwrap_or_else(|| panic!("the qsort call ({want}):\n{}", show(&recs)));
    assert_eq!(int(&r["n"]), 5, "{r}");
    assert_eq!(r["f"], "tracectl_ctx_compare", "{r}");
}

/// A cgroup made by the test, removed on drop (after its processes exit).
struct Cgroup {
    dir: PathBuf,
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for d in [self.dir.join(SCOPE), self.dir.clone()] {
            let _ = std::fs::remove_dir(d);
        }
    }
}

const CONTAINER: &str = "c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
const SCOPE: &str = "docker-c0ffee0123456789abcdef0123456789abcdef0123456789abcdef0123456789.scope";

/// Runs `prog` as the first process of the cgroup `dir`.
fn run_in(dir: &Path, prog: &Path) {
    let mut c = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > '{}/cgroup.procs' && exec '{}'",
            dir.display(),
            prog.display()
        ))
        .spawn()
        .unwrap();
    assert!(wait_child(&mut c, "a program in a cgroup").success());
}

/// Programs started in a cgroup the test made print its path, and one in a
/// docker-style scope below it its container id (12 characters); with
/// `--cgroup` only the cgroup's (and its descendants') programs are seen,
/// with `--container` only the container's: a program started outside at
/// the same time never is.
#[test]
fn cgroup_path_container_and_kernel_side_cgroup_filters() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let root = tracectl::cgroups::cgroup2_root().expect("a cgroup v2 hierarchy");
    let rel = format!("/{}", tagged_nonce("tracectl-cg"));
    let cg = Cgroup {
        dir: root.join(&rel[1..]),
    };
    std::fs::create_dir(&cg.dir).unwrap();
    std::fs::create_dir(cg.dir.join(SCOPE)).unwrap();
    let dir = scratch("ctx-cg");
    let (inside, deeper, outside) = (
        tagged_nonce("in"),
        tagged_nonce("deep"),
        tagged_nonce("out"),
    );
    let progs: Vec<PathBuf> = [&inside, &deeper, &outside]
        .iter()
        .map(|n| unique_true(&dir, n))
        .collect();
    let run_all = || {
        run_in(&cg.dir, &progs[0]);
        run_in(&cg.dir.join(SCOPE), &progs[1]);
        let mut c = Command::new(&progs[2]).spawn().unwrap();
        wait_child(&mut c, "a program outside");
    };
    let find = |recs: &[Value], p: &Path| -> Option<Value> {
        let p = p.to_str().unwrap();
        recs.iter()
            .find(|r| r["args"].as_str().is_some_and(|a| a.starts_with(p)))
            .cloned()
    };
    // Every process: paths and containers.
    let (recs, _) = trace(&["-e", EXEC_SPEC, "-d", "2s"], run_all);
    let r = find(&recs, &progs[0]).expect("the program inside");
    assert_eq!(r["cg"], rel.as_str(), "{r}");
    assert_eq!(r["ct"], "-", "{r}");
    let r = find(&recs, &progs[1]).expect("the program in the scope");
    assert_eq!(r["cg"], format!("{rel}/{SCOPE}"), "{r}");
    assert_eq!(r["ct"], &CONTAINER[..12], "{r}");
    assert!(find(&recs, &progs[2]).is_some(), "{}", show(&recs));
    // --cgroup: the cgroup and below it.
    let (recs, _) = trace(&["-e", EXEC_SPEC, "-d", "2s", "--cgroup", &rel], run_all);
    assert!(find(&recs, &progs[0]).is_some(), "{}", show(&recs));
    assert!(find(&recs, &progs[1]).is_some(), "{}", show(&recs));
    assert!(find(&recs, &progs[2]).is_none(), "{}", show(&recs));
    assert!(recs
        .iter()
        .all(|r| r["cg"].as_str().is_some_and(|c| c.starts_with(&rel))));
    // --container: only the scope.
    let (recs, _) = trace(
        &["-e", EXEC_SPEC, "-d", "2s", "--container", &CONTAINER[..12]],
        run_all,
    );
    assert!(find(&recs, &progs[0]).is_none(), "{}", show(&recs));
    assert!(find(&recs, &progs[1]).is_some(), "{}", show(&recs));
    assert!(find(&recs, &progs[2]).is_none(), "{}", show(&recs));
}

/// `--container` of an id no cgroup has, and `--cgroup` of a path that is
/// not there: one sentence each, a non-zero exit, nothing loaded.
#[test]
fn unknown_container_and_cgroup_are_one_sentence_errors() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    for (flag, value, want) in [
        ("--container", "feedfacefeed", "--container: "),
        ("--cgroup", "/no/such/cgroup-here", "--cgroup: "),
    ] {
        let out = output_within(
            Command::new(BIN).args(["run", "-e", EXEC_SPEC, flag, value]),
            Duration::from_secs(30),
            flag,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{flag} {value}: {err}");
        assert!(err.contains(want), "{flag} {value}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(err.trim_end().lines().count(), 1, "one sentence: {err}");
    }
}
