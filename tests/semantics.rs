//! Filter and value-transform semantics against real events whose values the
//! test chooses: every comparison operator on signed and unsigned 32- and
//! 64-bit values at their boundaries, field-vs-field comparisons, `&&` / `||`
//! / `!`, string equality and prefixes at length boundaries, `str(e, N)`
//! truncation, and `ntohs` / `ntohl` / `ip4` / `ip6` on loopback connections.
//!
//! Each test runs `tracectl` once with many labelled probes on the same
//! events, restricted to this process (`--pid`), and then makes the events
//! itself: system calls that fail harmlessly (a bad file descriptor, an
//! invalid `madvise` behaviour) with arguments it picks, one argument
//! carrying a sequence number. For every probe the exact set of calls its
//! filter must keep is computed here from the arguments and compared with
//! what the kernel let through, so a wrong operator, a lost sign flip, a
//! missing byte swap or an off-by-one at a boundary fails with the probe's
//! filter and the values it got wrong.
//!
//! The tests need root and kernel BTF: without them they fail when `CI=true`,
//! else they print SKIPPED. They run one at a time.

#[path = "common/mod.rs"]
mod common;

use common::{bpf_available, json_lines, serial, Tracer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::CString;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV6, TcpListener, TcpStream};

/// How long each run traces; the events are made right after attaching.
const WINDOW: &str = "2s";

/// Upper register bits set on 32-bit arguments: the kernel ignores them, and
/// the templates must too (read 4 bytes, then sign- or zero-extend).
const GARBAGE: i64 = 0x5a5a_1234 << 32;

/// Runs `tracectl run -e SPEC` for this process only while `make_events`
/// runs, and returns the JSON records. No event may be lost.
fn trace(spec: &str, extra: &[&str], make_events: impl FnOnce()) -> Vec<Value> {
    let me = std::process::id().to_string();
    let mut args = vec![
        "-e", spec, "--pid", &me, "-o", "json", "--time", "none", "-d", WINDOW,
    ];
    args.extend_from_slice(extra);
    let t = Tracer::start(&args);
    make_events();
    let (out, err) = t.finish();
    assert!(err.contains(" 0 lost"), "no event may be lost:\n{err}");
    json_lines(&out)
}

/// A JSON integer as an i128 (covers both i64 and u64).
fn int(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
}

/// Fails with the first 40 errors, if any.
fn report(errors: &[String]) {
    if errors.is_empty() {
        return;
    }
    let mut shown = errors[..errors.len().min(40)].join("\n");
    if errors.len() > 40 {
        shown.push_str(&format!("\n… and {} more", errors.len() - 40));
    }
    panic!("{} wrong:\n{shown}", errors.len());
}

/// A system call that must fail with `errno`, the only effect wanted from it.
fn failing_syscall(nr: libc::c_long, args: &[i64], errno: i32, what: &str) {
    let a = |i: usize| args.get(i).copied().unwrap_or(0);
    // SAFETY: raw syscalls with scalar arguments, or pointers to live
    // NUL-terminated strings (openat); each fails before acting.
    let r = unsafe { libc::syscall(nr, a(0), a(1), a(2), a(3)) };
    let e = std::io::Error::last_os_error();
    assert!(
        r == -1 && e.raw_os_error() == Some(errno),
        "{what} must fail with errno {errno}, got {r} ({e})"
    );
}

// ---------------------------------------------------------------------------
// Integer comparisons
// ---------------------------------------------------------------------------

/// A comparison operator of the filter language.
#[derive(Clone, Copy, Debug)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

const CMPS: [Cmp; 6] = [Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge];

impl Cmp {
    fn sym(self) -> &'static str {
        match self {
            Cmp::Eq => "==",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Cmp::Eq => "eq",
            Cmp::Ne => "ne",
            Cmp::Lt => "lt",
            Cmp::Le => "le",
            Cmp::Gt => "gt",
            Cmp::Ge => "ge",
        }
    }

    /// The comparison of two numbers (the language compares integers as
    /// numbers of their C type; every case here is within that type's range,
    /// or a constant no value of it can equal).
    fn holds(self, a: i128, b: i128) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// A filter constant as the language writes it.
fn literal(c: i128) -> String {
    if c > i128::from(i64::MAX) {
        format!("{c:#x}")
    } else {
        c.to_string()
    }
}

/// The syscall tracepoints the integer tests drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sys {
    /// `fadvise64(int fd, loff_t offset, size_t len, int advice)`: s32, s64,
    /// u64, s32. fd = -1000 - seq, so it fails with EBADF.
    Fadvise,
    /// `pread64(unsigned int fd, char *buf, size_t count, loff_t pos)`: u32,
    /// pointer, u64, s64. fd = 0x7000_0000 + seq is never open (EBADF, or
    /// EINVAL for a negative pos).
    Pread,
    /// `lseek(unsigned int fd, off_t offset, unsigned int whence)`: u32, s64,
    /// u32. fd is never open; offset carries the sequence number.
    Lseek,
    /// `madvise(unsigned long start, size_t len_in, int behavior)`: u64, u64,
    /// s32. behavior = 0x4000_0000 + seq is invalid, so it fails with EINVAL.
    Madvise,
}

impl Sys {
    fn tracepoint(self) -> &'static str {
        match self {
            Sys::Fadvise => "sys_enter_fadvise64",
            Sys::Pread => "sys_enter_pread64",
            Sys::Lseek => "sys_enter_lseek",
            Sys::Madvise => "sys_enter_madvise",
        }
    }

    /// The fields each probe prints (all of the event's arguments).
    fn fields(self) -> &'static [&'static str] {
        match self {
            Sys::Fadvise => &["fd", "offset", "len", "advice"],
            Sys::Pread => &["fd", "count", "pos"],
            Sys::Lseek => &["fd", "offset", "whence"],
            Sys::Madvise => &["start", "len_in", "behavior"],
        }
    }

    /// The field that carries the sequence number.
    fn key(self) -> &'static str {
        match self {
            Sys::Fadvise | Sys::Pread => "fd",
            Sys::Lseek => "offset",
            Sys::Madvise => "behavior",
        }
    }
}

/// One system call of the test: its arguments as the kernel's C types see
/// them, and the registers passed.
struct Call {
    sys: Sys,
    vals: BTreeMap<&'static str, i128>,
    regs: Vec<i64>,
}

impl Call {
    fn v(&self, field: &str) -> i128 {
        self.vals[field]
    }

    /// The named arguments only, for messages about one filter.
    fn brief(&self, fields: &[&str]) -> String {
        let vals: Vec<String> = fields
            .iter()
            .map(|&f| format!("{f}={}", self.v(f)))
            .collect();
        vals.join(" ")
    }

    fn describe(&self) -> String {
        let vals: Vec<String> = self.vals.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{}({})", self.sys.tracepoint(), vals.join(" "))
    }

    fn make(&self) {
        let (nr, errno) = match self.sys {
            Sys::Fadvise => (libc::SYS_fadvise64, libc::EBADF),
            // A negative position is refused before the descriptor is looked up.
            Sys::Pread if self.v("pos") < 0 => (libc::SYS_pread64, libc::EINVAL),
            Sys::Pread => (libc::SYS_pread64, libc::EBADF),
            Sys::Lseek => (libc::SYS_lseek, libc::EBADF),
            Sys::Madvise => (libc::SYS_madvise, libc::EINVAL),
        };
        failing_syscall(nr, &self.regs, errno, &self.describe());
    }
}

/// The calls, each with its own sequence number.
#[derive(Default)]
struct Calls(Vec<Call>);

impl Calls {
    fn fadvise(&mut self, offset: i64, len: u64, advice: i32) {
        let fd = -1000 - self.0.len() as i64;
        self.0.push(Call {
            sys: Sys::Fadvise,
            vals: BTreeMap::from([
                ("fd", fd.into()),
                ("offset", offset.into()),
                ("len", len.into()),
                ("advice", advice.into()),
            ]),
            regs: vec![fd, offset, len as i64, GARBAGE | i64::from(advice as u32)],
        });
    }

    fn pread(&mut self, count: u64, pos: i64) {
        let fd = 0x7000_0000 + self.0.len() as i64;
        self.0.push(Call {
            sys: Sys::Pread,
            vals: BTreeMap::from([
                ("fd", fd.into()),
                ("count", count.into()),
                ("pos", pos.into()),
            ]),
            regs: vec![fd, 0, count as i64, pos],
        });
    }

    fn lseek(&mut self, whence: u32) {
        let fd: u32 = 0x7fff_fff0;
        let seq = self.0.len() as i64;
        self.0.push(Call {
            sys: Sys::Lseek,
            vals: BTreeMap::from([
                ("fd", fd.into()),
                ("offset", seq.into()),
                ("whence", whence.into()),
            ]),
            regs: vec![GARBAGE | i64::from(fd), seq, GARBAGE | i64::from(whence)],
        });
    }

    fn madvise(&mut self, start: u64, len: u64) {
        let behavior = 0x4000_0000 + self.0.len() as i64;
        self.0.push(Call {
            sys: Sys::Madvise,
            vals: BTreeMap::from([
                ("start", start.into()),
                ("len_in", len.into()),
                ("behavior", behavior.into()),
            ]),
            regs: vec![start as i64, len as i64, behavior],
        });
    }
}

/// Which calls a filter keeps.
type Keeps = Box<dyn Fn(&Call) -> bool>;

/// A labelled probe, its filter, the fields the filter reads, and which
/// calls it must keep.
struct Probe {
    label: String,
    sys: Sys,
    filter: String,
    reads: Vec<&'static str>,
    keeps: Keeps,
}

impl Probe {
    fn new(
        label: String,
        sys: Sys,
        filter: String,
        reads: &[&'static str],
        keeps: impl Fn(&Call) -> bool + 'static,
    ) -> Self {
        Probe {
            label,
            sys,
            filter,
            reads: reads.to_vec(),
            keeps: Box::new(keeps),
        }
    }

    fn dsl(&self) -> String {
        format!(
            "tracepoint:syscalls:{} as {} {{ {} }} where {}\n",
            self.sys.tracepoint(),
            self.label,
            self.sys.fields().join(", "),
            self.filter
        )
    }
}

/// `field OP constant` for every operator and each constant.
fn cmp_imm_probes(sys: Sys, field: &'static str, consts: &[i128], out: &mut Vec<Probe>) {
    for (k, &c) in consts.iter().enumerate() {
        for op in CMPS {
            out.push(Probe::new(
                format!("{field}_{}_{k}", op.name()),
                sys,
                format!("{field} {} {}", op.sym(), literal(c)),
                &[field],
                move |call| op.holds(call.v(field), c),
            ));
        }
    }
}

/// `a OP b` for every operator, two fields of one event.
fn cmp_slots_probes(sys: Sys, a: &'static str, b: &'static str, out: &mut Vec<Probe>) {
    for op in CMPS {
        out.push(Probe::new(
            format!("{a}_{}_{b}", op.name()),
            sys,
            format!("{a} {} {b}", op.sym()),
            &[a, b],
            move |call| op.holds(call.v(a), call.v(b)),
        ));
    }
}

/// Lists at most a few calls by the fields a filter reads, for messages.
fn some_calls(calls: &Calls, idx: &BTreeSet<usize>, fields: &[&str]) -> String {
    let mut s: Vec<String> = idx
        .iter()
        .take(6)
        .map(|&i| format!("#{i} {}", calls.0[i].brief(fields)))
        .collect();
    if idx.len() > 6 {
        s.push(format!("… {} more", idx.len() - 6));
    }
    s.join(", ")
}

/// Compares each probe's records with the calls its filter must keep, and
/// each printed value with the argument passed.
fn check_probes(probes: &[Probe], calls: &Calls, recs: &[Value]) {
    let mut errors = Vec::new();
    let mut kept: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for r in recs {
        let label = r["probe"].as_str().unwrap_or_default();
        let Some(p) = probes.iter().find(|p| p.label == label) else {
            errors.push(format!("a record of no probe: {r}"));
            continue;
        };
        let key = int(&r[p.sys.key()]);
        let Some(i) = calls
            .0
            .iter()
            .position(|c| c.sys == p.sys && Some(c.v(p.sys.key())) == key)
        else {
            continue; // another call of this process (e.g. the allocator's madvise)
        };
        let call = &calls.0[i];
        for (name, v) in &call.vals {
            if int(&r[*name]) != Some(*v) {
                errors.push(format!(
                    "probe {label}: {name} printed as {} for {}",
                    r[*name],
                    call.describe()
                ));
            }
        }
        if !kept.entry(p.label.as_str()).or_default().insert(i) {
            errors.push(format!(
                "probe {label}: two records for {}",
                call.describe()
            ));
        }
    }
    for p in probes {
        let want: BTreeSet<usize> = (0..calls.0.len())
            .filter(|&i| calls.0[i].sys == p.sys && (p.keeps)(&calls.0[i]))
            .collect();
        let got = kept.remove(p.label.as_str()).unwrap_or_default();
        if want != got {
            let dropped: BTreeSet<usize> = want.difference(&got).copied().collect();
            let extra: BTreeSet<usize> = got.difference(&want).copied().collect();
            errors.push(format!(
                "probe {} `{}`: wrongly dropped [{}]; wrongly kept [{}]",
                p.label,
                p.filter,
                some_calls(calls, &dropped, &p.reads),
                some_calls(calls, &extra, &p.reads)
            ));
        }
    }
    report(&errors);
}

/// Every operator against constants on s64, u64, s32 and u32 values (equal,
/// one less, one more, the sign boundary, the extremes), field against field
/// (signed and unsigned), and `&&` / `||` / `!` over a full truth table.
#[test]
fn integer_filters_keep_exactly_the_matching_calls() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let s64 = [
        i64::MIN,
        i64::MIN + 1,
        -2,
        -1,
        0,
        1,
        4,
        5,
        6,
        i64::MAX - 1,
        i64::MAX,
    ];
    let u64s = [
        0,
        1,
        4,
        5,
        6,
        0x7fff_ffff_ffff_ffff,
        0x8000_0000_0000_0000,
        0x8000_0000_0000_0001,
        u64::MAX - 1,
        u64::MAX,
    ];
    let s32 = [
        i32::MIN,
        i32::MIN + 1,
        -2,
        -1,
        0,
        1,
        4,
        5,
        6,
        i32::MAX - 1,
        i32::MAX,
    ];
    let u32s = [
        0,
        1,
        4,
        5,
        6,
        0x7fff_ffff,
        0x8000_0000,
        0x8000_0001,
        0xffff_fffe,
        0xffff_ffff,
    ];

    let mut calls = Calls::default();
    for i in 0..s64.len().max(u64s.len()).max(s32.len()) {
        calls.fadvise(s64[i % s64.len()], u64s[i % u64s.len()], s32[i % s32.len()]);
        calls.pread(u64s[i % u64s.len()], s64[i % s64.len()]);
    }
    // Field against field: s64 `offset` with s32 `advice` across signs.
    for o in [i64::MIN, -2, -1, 0, 1, i64::MAX] {
        for a in [i32::MIN, -2, -1, 0, 1, i32::MAX] {
            calls.fadvise(o, 7, a);
        }
    }
    // The truth table of three conditions: offset == 1, len == 1, advice == 1.
    for bits in 0..8 {
        calls.fadvise(bits & 1, (bits as u64 >> 1) & 1, ((bits >> 2) & 1) as i32);
    }
    for w in u32s {
        calls.lseek(w);
    }
    // Field against field, unsigned 64-bit across the top bit.
    let u64p = [0, 1, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, u64::MAX];
    for s in u64p {
        for l in u64p {
            calls.madvise(s, l);
        }
    }

    // The kernel runs at most 64 programs on one tracepoint: the probes are
    // spread over four.
    let mut probes = Vec::new();
    let f = Sys::Fadvise;
    cmp_imm_probes(Sys::Pread, "pos", &[-1, 5, i64::MIN.into()], &mut probes);
    cmp_imm_probes(
        Sys::Pread,
        "count",
        &[5, 1 << 63, u64::MAX.into()],
        &mut probes,
    );
    cmp_imm_probes(f, "advice", &[-1, 5, i32::MIN.into()], &mut probes);
    cmp_imm_probes(
        Sys::Lseek,
        "whence",
        &[5, 0x8000_0000, 0xffff_ffff],
        &mut probes,
    );
    // 32-bit values are numbers, not bit patterns: int -1 is not 0xffffffff
    // and unsigned 0xffffffff is not -1 (the filter compares 64-bit values).
    probes.push(Probe::new(
        "advice_eq_u32max".into(),
        f,
        "advice == 0xffffffff".into(),
        &["advice"],
        |_| false,
    ));
    probes.push(Probe::new(
        "whence_eq_minus1".into(),
        Sys::Lseek,
        "whence == -1".into(),
        &["whence"],
        |_| false,
    ));
    cmp_slots_probes(f, "offset", "advice", &mut probes);
    cmp_slots_probes(Sys::Madvise, "start", "len_in", &mut probes);
    let a = |c: &Call| c.v("offset") == 1;
    let b = |c: &Call| c.v("len") == 1;
    let c = |c: &Call| c.v("advice") == 1;
    let logic: [(&str, &str, Keeps); 11] = [
        ("and", "A && B", Box::new(move |x| a(x) && b(x))),
        ("or", "A || B", Box::new(move |x| a(x) || b(x))),
        ("not", "!(A)", Box::new(move |x| !a(x))),
        ("nand", "!(A && B)", Box::new(move |x| !(a(x) && b(x)))),
        ("nor", "!(A || B)", Box::new(move |x| !(a(x) || b(x)))),
        (
            "and3",
            "A && B && C",
            Box::new(move |x| a(x) && b(x) && c(x)),
        ),
        (
            "or3",
            "A || B || C",
            Box::new(move |x| a(x) || b(x) || c(x)),
        ),
        (
            "a_and_bc",
            "A && (B || C)",
            Box::new(move |x| a(x) && (b(x) || c(x))),
        ),
        (
            "a_or_bc",
            "A || B && C",
            Box::new(move |x| a(x) || (b(x) && c(x))),
        ),
        (
            "ab_not_c",
            "(A || B) && !(C)",
            Box::new(move |x| (a(x) || b(x)) && !c(x)),
        ),
        (
            "bare",
            "offset && !len",
            Box::new(|x| x.v("offset") != 0 && x.v("len") == 0),
        ),
    ];
    for (name, expr, keeps) in logic {
        let filter = expr
            .replace('A', "offset == 1")
            .replace('B', "len == 1")
            .replace('C', "advice == 1");
        probes.push(Probe {
            label: format!("logic_{name}"),
            sys: f,
            filter,
            reads: vec!["offset", "len", "advice"],
            keeps,
        });
    }

    let spec: String = probes.iter().map(Probe::dsl).collect();
    let recs = trace(&spec, &[], || calls.0.iter().for_each(Call::make));
    check_probes(&probes, &calls, &recs);
}

// ---------------------------------------------------------------------------
// Strings
// ---------------------------------------------------------------------------

/// `name` truncated as `str(e, max)` reads it: at most `max - 1` bytes, the
/// last byte of the buffer being the terminating NUL.
fn truncated(name: &str, max: usize) -> &str {
    &name[..name.len().min(max - 1)]
}

/// A name of `len` ASCII bytes in which neighbouring bytes differ, so a
/// string cut or shifted by one byte shows.
fn name_of_len(len: usize) -> String {
    (0..len)
        .map(|j| char::from(b'a' + ((j * 7 + len) % 26) as u8))
        .collect()
}

/// String equality, inequality and prefixes at length boundaries (`"ab"`,
/// `"abc"`, `"abcd"`, `""`), on a value cut by `str(e, N)`, through string
/// parameters; and `str(e, N)` itself for strings of N-2 to N+1 bytes with N
/// = 8, 13, 64 (the default) and 1024 (the largest).
///
/// The names are passed to openat(2) relative to a directory descriptor that
/// is not open (dfd = -1000 - seq), so each call fails with EBADF (ENOENT for
/// the empty name) before touching the file system.
#[test]
fn string_filters_and_bounds() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let mut names: Vec<String> = [
        "", "a", "ab", "abc", "abcd", "abd", "abb", "xbc", "abcabc", "aBc", "bc",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    names.push(format!("abc{}", name_of_len(20)));
    for n in [8, 13, 64, 1024] {
        for len in n - 2..=n + 1 {
            names.push(name_of_len(len));
        }
    }

    // (label, filter, which names it keeps); `n` is str(filename, 16) and
    // `t` is str(filename, 4).
    type Keep = fn(&str) -> bool;
    let cases: [(&str, &str, Keep); 14] = [
        ("eq_abc", r#"n == "abc""#, |s| truncated(s, 16) == "abc"),
        ("ne_abc", r#"n != "abc""#, |s| truncated(s, 16) != "abc"),
        ("not_eq_abc", r#"!(n == "abc")"#, |s| {
            truncated(s, 16) != "abc"
        }),
        ("prefix_abc", r#"n == "abc*""#, |s| {
            truncated(s, 16).starts_with("abc")
        }),
        ("not_prefix_abc", r#"n != "abc*""#, |s| {
            !truncated(s, 16).starts_with("abc")
        }),
        ("eq_ab", r#"n == "ab""#, |s| truncated(s, 16) == "ab"),
        ("eq_abcd", r#"n == "abcd""#, |s| truncated(s, 16) == "abcd"),
        ("eq_empty", r#"n == """#, |s| s.is_empty()),
        ("ne_empty", r#"n != """#, |s| !s.is_empty()),
        ("prefix_ab_not_abc", r#"n == "ab*" && n != "abc""#, |s| {
            let n = truncated(s, 16);
            n.starts_with("ab") && n != "abc"
        }),
        ("cut_eq_abc", r#"t == "abc""#, |s| truncated(s, 4) == "abc"),
        ("cut_eq_ab", r#"t == "ab""#, |s| truncated(s, 4) == "ab"),
        ("param_exact", "n == $exact", |s| truncated(s, 16) == "abcd"),
        ("param_prefix", "n == $prefix", |s| {
            truncated(s, 16).starts_with("ab")
        }),
    ];
    let mut spec = String::from("param exact: string\nparam prefix: string\n");
    for (label, filter, _) in &cases {
        spec.push_str(&format!(
            "tracepoint:syscalls:sys_enter_openat as {label} \
             {{ dfd, n = str(filename, 16), t = str(filename, 4) }} where {filter}\n"
        ));
    }
    let bounds = [8, 13, 64, 1024];
    // No filter: the record is built in place in the ring buffer. The strings
    // come first, so a read one byte too long lands in the next slot (and
    // shows) rather than past the record (which the verifier refuses).
    spec.push_str(
        "tracepoint:syscalls:sys_enter_openat as bounds { s1024 = str(filename, 1024), \
         s8 = str(filename, 8), s13 = str(filename, 13), s64 = str(filename), dfd }\n",
    );

    let cnames: Vec<CString> = names
        .iter()
        .map(|n| CString::new(n.as_str()).unwrap())
        .collect();
    let recs = trace(&spec, &["-p", "exact=abcd", "-p", "prefix=ab*"], || {
        for (i, c) in cnames.iter().enumerate() {
            let errno = if names[i].is_empty() {
                libc::ENOENT
            } else {
                libc::EBADF
            };
            failing_syscall(
                libc::SYS_openat,
                &[-1000 - i as i64, c.as_ptr() as i64, libc::O_RDONLY as i64],
                errno,
                &format!("openat(-{}, {:?})", 1000 + i, names[i]),
            );
        }
    });

    let mut errors = Vec::new();
    let mut kept: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for r in &recs {
        let label = r["probe"].as_str().unwrap_or_default();
        let Some(i) = int(&r["dfd"])
            .map(|d| -1000 - d)
            .and_then(|i| usize::try_from(i).ok())
            .filter(|&i| i < names.len())
        else {
            continue; // another open of this process
        };
        let name = &names[i];
        let mut expect_str = |field: &str, max: usize| {
            let want = truncated(name, max);
            if r[field] != want {
                errors.push(format!(
                    "probe {label}: {field} = str(filename, {max}) of the {}-byte name {name:?} \
                     printed as {}, want {want:?}",
                    name.len(),
                    r[field]
                ));
            }
        };
        if label == "bounds" {
            for n in bounds {
                expect_str(&format!("s{n}"), n);
            }
        } else {
            expect_str("n", 16);
            expect_str("t", 4);
        }
        if !kept.entry(label).or_default().insert(i) {
            errors.push(format!("probe {label}: two records for {name:?}"));
        }
    }
    let all: BTreeSet<usize> = (0..names.len()).collect();
    let mut expected: Vec<(&str, &str, BTreeSet<usize>)> = cases
        .iter()
        .map(|(label, filter, keep)| {
            let set = (0..names.len()).filter(|&i| keep(&names[i])).collect();
            (*label, *filter, set)
        })
        .collect();
    expected.push(("bounds", "(none)", all));
    for (label, filter, want) in expected {
        let got = kept.remove(label).unwrap_or_default();
        if want != got {
            let show = |s: &BTreeSet<usize>| {
                s.iter()
                    .map(|&i| format!("{:?}", names[i]))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            errors.push(format!(
                "probe {label} `{filter}`: wrongly dropped [{}]; wrongly kept [{}]",
                show(&want.difference(&got).copied().collect()),
                show(&got.difference(&want).copied().collect())
            ));
        }
    }
    report(&errors);
}

// ---------------------------------------------------------------------------
// Byte order and addresses
// ---------------------------------------------------------------------------

/// The v4 address the connections go to: every byte differs, so a missing or
/// misordered byte swap shows (the whole of 127/8 is loopback).
const V4: Ipv4Addr = Ipv4Addr::new(127, 1, 2, 3);

/// Listeners on V4:P, V4:swap(P) and [::1]:P for a port P whose two bytes
/// differ and are not zero.
fn listeners() -> (u16, [TcpListener; 3]) {
    for _ in 0..100 {
        let l = TcpListener::bind((V4, 0)).expect("bind 127.1.2.3:0");
        let p = l.local_addr().unwrap().port();
        let [hi, lo] = p.to_be_bytes();
        if hi == lo || hi == 0 || lo == 0 {
            continue;
        }
        let (Ok(decoy), Ok(v6)) = (
            TcpListener::bind((V4, p.swap_bytes())),
            TcpListener::bind(("::1", p)),
        ) else {
            continue;
        };
        return (p, [l, decoy, v6]);
    }
    panic!("no port P with 127.1.2.3:P, 127.1.2.3:swap(P) and [::1]:P free in 100 tries");
}

/// `ntohs`, `ntohl`, `ip4` and `ip6` on `sock:inet_sock_set_state`, and
/// filters on the swapped values, for loopback connects the test makes: to
/// 127.1.2.3:P, to the decoy 127.1.2.3:swap(P) (what an unswapped port would
/// match), to [::1]:P, and to the v4-mapped [::ffff:127.1.2.3]:P.
#[test]
fn byte_swaps_and_addresses_of_real_connections() {
    let _serial = serial();
    if !bpf_available() {
        return;
    }
    let (p, _listeners) = listeners();
    let decoy = p.swap_bytes();
    let fields = "old = oldstate, new = newstate, family = sk->__sk_common.skc_family, \
         dport = ntohs(sk->__sk_common.skc_dport), raw = sk->__sk_common.skc_dport, \
         d32 = ntohl(sk->__sk_common.skc_daddr), daddr = ip4(sk->__sk_common.skc_daddr), \
         d6 = ip6(sk->__sk_common.skc_v6_daddr)";
    let spec = format!(
        "tp_btf:inet_sock_set_state as byport {{ {fields} }} where dport == {p}\n\
         tp_btf:inet_sock_set_state as byntohl {{ {fields} }} where d32 == 0x7f010203 && new == 2\n\
         tp_btf:inet_sock_set_state as byip4 {{ {fields} }} where daddr == \"127.1.2.3\" && new == 2\n"
    );
    let mapped = SocketAddr::from(SocketAddrV6::new(V4.to_ipv6_mapped(), p, 0, 0));
    let mut conns = Vec::new();
    let recs = trace(&spec, &[], || {
        for to in [
            SocketAddr::from((V4, p)),
            SocketAddr::from((V4, decoy)),
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, p)),
            mapped,
        ] {
            conns.push(TcpStream::connect(to).unwrap_or_else(|e| panic!("connect {to}: {e}")));
        }
    });
    let all = recs
        .iter()
        .map(|r| r.to_string())
        .collect::<Vec<_>>()
        .join("\n");

    // The active opens (CLOSE -> SYN_SENT) each probe kept, as
    // "family dport daddr d32 d6". A v4 socket's skc_v6_daddr holds the
    // v4-mapped form; a v6 socket to ::1 has no v4 address.
    let opens = |probe: &str| -> Vec<String> {
        let mut v: Vec<String> = recs
            .iter()
            .filter(|r| r["probe"] == probe && r["old"] == 7 && r["new"] == 2)
            .map(|r| {
                format!(
                    "{} {} {} {:#x} {}",
                    r["family"],
                    r["dport"],
                    r["daddr"].as_str().unwrap_or("?"),
                    int(&r["d32"]).unwrap_or(-1),
                    r["d6"].as_str().unwrap_or("?")
                )
            })
            .collect();
        v.sort();
        v
    };
    let (v4, v6) = (libc::AF_INET, libc::AF_INET6);
    let to_v4 = |port| format!("{v4} {port} 127.1.2.3 0x7f010203 ::ffff:127.1.2.3");
    let to_mapped = format!("{v6} {p} 127.1.2.3 0x7f010203 ::ffff:127.1.2.3");
    let to_v6 = format!("{v6} {p} 0.0.0.0 0x0 ::1");
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        opens("byport"),
        sorted(vec![to_v4(p), to_v6, to_mapped.clone()]),
        "`ntohs(dport) == {p}` keeps the three connects to port {p}, not the one to {decoy}:\n{all}"
    );
    let want_addr = sorted(vec![to_v4(p), to_v4(decoy), to_mapped]);
    assert_eq!(
        opens("byntohl"),
        want_addr,
        "`ntohl(daddr) == 0x7f010203` keeps the connects to 127.1.2.3:\n{all}"
    );
    assert_eq!(
        opens("byip4"),
        want_addr,
        "`ip4(daddr) == \"127.1.2.3\"` keeps the connects to 127.1.2.3:\n{all}"
    );
    // Every record of every probe (other transitions too): the raw port
    // is the swapped one.
    for r in &recs {
        let port = int(&r["dport"]).unwrap_or(-1);
        assert!(
            port == i128::from(p) || port == i128::from(decoy),
            "a connection that is not ours passed a filter:\n{all}"
        );
        let port = port as u16;
        assert_eq!(
            r["raw"],
            port.swap_bytes(),
            "skc_dport as stored (network order) is swap(ntohs): {r}"
        );
    }
    for probe in ["byntohl", "byip4"] {
        let n = recs.iter().filter(|r| r["probe"] == probe).count();
        assert_eq!(n, 3, "{probe} keeps only SYN_SENT transitions:\n{all}");
    }
}
