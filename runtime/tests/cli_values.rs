//! Command-line values, generated: the duration parser and the numeric flags
//! of `tracectl run` (`-d`, `-n`, `--pid`, `--buffer-kib`, the hidden test
//! options) and `-p` values never panic, accept only values within their
//! bounds, and refuse the rest with one sentence.
//!
//! The values come from a small deterministic generator (the same strings on
//! every run): numbers of every magnitude (up to 400 digits), decimals,
//! signs, exponents, units known and unknown, junk, control characters and
//! non-ASCII digits. No kernel is needed: `run` refuses every value here, or
//! fails compiling its spec, before anything is loaded; `-p` values are
//! compiled against the miniature BTF of the compiler's tests.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use tracectl::cli::{parse_duration, MAX_DURATION};
use tracectl_compiler::btf::Btf;
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::resolve::Env;
use tracectl_compiler::tracefs::TpSource;

const BIN: &str = env!("CARGO_BIN_EXE_tracectl");

/// Values the parser sees in the in-process properties.
const IN_PROCESS: usize = 20_000;
/// Values each flag gets through the binary (a process each).
const PER_FLAG: usize = 40;

/// xorshift64*: deterministic, no dependency.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }

    /// Decimal digits: mostly 0 to 9 of them, also up to 20, and some far
    /// longer (beyond u64 and f64).
    fn digits(&mut self) -> String {
        let len = match self.below(10) {
            0 => self.pick(&["25", "40", "309", "400"]).parse().unwrap(),
            1 | 2 => 10 + self.below(11),
            _ => self.below(10),
        };
        (0..len)
            .map(|_| char::from(b'0' + self.below(10) as u8))
            .collect()
    }

    /// A number: digits, maybe with a decimal point (or two) somewhere.
    fn number(&mut self) -> String {
        let a = self.digits();
        match self.below(6) {
            0 => format!("{a}.{}", self.digits()),
            1 => format!(".{a}"),
            2 => format!("{a}."),
            3 => format!("{a}.{}.{}", self.digits(), self.digits()),
            _ => a,
        }
    }

    /// One command-line value: a sign, a number, an exponent, a unit and
    /// junk, each maybe; or a value of pure junk.
    fn value(&mut self) -> String {
        const SIGNS: &[&str] = &["", "", "", "", "+", "-", "−", "--"];
        const EXPONENTS: &[&str] = &["", "", "", "", "e3", "E-5", "e400", "e+2", "e"];
        const UNITS: &[&str] = &[
            "", "", "ms", "s", "m", "h", "us", "ns", "d", "MS", "S", "H", "µs", "ｓ", " s", "s ",
            "sec", "hh", "mss", "1h", "s10", "\u{0}", "\n", "\t",
        ];
        const JUNK: &[&str] = &[
            "",
            "inf",
            "-inf",
            "infinity",
            "NaN",
            "nan",
            "0x10",
            "0X1f",
            "1_000",
            "١٢٣",
            "１２",
            "½",
            "🦀",
            "∞",
            ".",
            "..",
            "e",
            "=",
            "10s10s",
            "1h30m",
            " ",
            "\u{200b}5s",
            "5\u{301}",
            "true",
            "yes",
            "-0",
            "0b101",
            "0o17",
            "١s",
            "٣٠٠ms",
        ];
        match self.below(8) {
            0 => return self.pick(JUNK).to_string(),
            // A plausible value: a few digits and a known unit.
            1 | 2 => {
                let n = self.below(100_000);
                let dot = ["", ".5", ".", ".001"][self.below(4)];
                return format!("{n}{dot}{}", self.pick(&["", "ms", "s", "m", "h"]));
            }
            _ => {}
        }
        let mut v = String::new();
        v.push_str(self.pick(SIGNS));
        v.push_str(&self.number());
        v.push_str(self.pick(EXPONENTS));
        v.push_str(self.pick(UNITS));
        if self.below(10) == 0 {
            v.push_str(self.pick(JUNK));
        }
        if self.below(10) == 0 {
            v = format!(" {v} ");
        }
        v
    }
}

/// An error message is one sentence: not empty, one line, short, printable.
fn assert_one_sentence(msg: &str, input: &str) {
    assert!(!msg.trim().is_empty(), "empty error for {input:?}");
    assert!(
        !msg.chars().any(char::is_control),
        "the error for {input:?} is not one printable line: {msg:?}"
    );
    assert!(
        msg.chars().count() <= 160,
        "the error for {input:?} is too long: {msg:?}"
    );
}

/// A diagnostic without the value it repeats (which may hold anything).
fn without(message: &str, value: &str) -> String {
    if value.is_empty() {
        message.to_string()
    } else {
        message.replace(value, "VALUE")
    }
}

/// What a correct duration parser returns, in seconds (`None`: refused),
/// written independently of it: digits with at most one point, then
/// nothing or ms/s/m/h, at most a year.
fn expected_seconds(input: &str) -> Option<f64> {
    let t = input.trim();
    let end = t
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(end);
    if !num.bytes().any(|b| b.is_ascii_digit()) || num.matches('.').count() > 1 {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let secs = match unit {
        "" | "s" => v,
        "ms" => v / 1000.0,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => return None,
    };
    (secs <= MAX_DURATION.as_secs_f64()).then_some(secs)
}

#[test]
fn durations_are_parsed_exactly_and_bounded() {
    let ok = [
        ("10s", Duration::from_secs(10)),
        ("500ms", Duration::from_millis(500)),
        ("2m", Duration::from_secs(120)),
        ("1h", Duration::from_secs(3600)),
        ("1.5", Duration::from_millis(1500)),
        (".25s", Duration::from_millis(250)),
        ("3.", Duration::from_secs(3)),
        (" 7s ", Duration::from_secs(7)),
        ("0", Duration::ZERO),
        ("8760h", MAX_DURATION),
        ("525600m", MAX_DURATION),
        ("31536000", MAX_DURATION),
        ("31536000000ms", MAX_DURATION),
    ];
    for (input, want) in ok {
        assert_eq!(parse_duration(input), Ok(want), "{input:?}");
    }
    for (input, says) in [
        ("99999999999999999999999h", "longer than the maximum, 8760h"),
        ("8760.001h", "longer than the maximum, 8760h"),
        ("31536000001ms", "longer than the maximum, 8760h"),
        (&"9".repeat(400), "longer than the maximum, 8760h"),
        ("", "empty"),
        ("   ", "empty"),
        ("-1s", "not a duration"),
        ("+1s", "not a duration"),
        ("NaN", "not a duration"),
        ("inf", "not a duration"),
        (".", "not a duration"),
        ("1.2.3s", "not a duration"),
        ("1e3", "unknown unit `e3`"),
        ("5d", "unknown unit `d`"),
        ("5 s", "unknown unit ` s`"),
        ("١٢s", "not a duration"),
    ] {
        let e = parse_duration(input).expect_err(input);
        assert!(e.contains(says), "{input:?}: {e}");
        assert_one_sentence(&e, input);
    }
}

/// Generated values: never a panic; accepted exactly when a correct parser
/// accepts them, with the same value; otherwise one sentence.
#[test]
fn generated_durations_never_panic_and_stay_in_bounds() {
    let mut g = Gen(0x7472_6163_6563_746c);
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..IN_PROCESS {
        let input = g.value();
        let got = catch_unwind(|| parse_duration(&input))
            .unwrap_or_else(|_| panic!("parse_duration panicked on {input:?}"));
        match (got, expected_seconds(&input)) {
            (Ok(d), Some(secs)) => {
                assert!(d <= MAX_DURATION, "{input:?} gave {d:?}");
                let err = (d.as_secs_f64() - secs).abs();
                assert!(
                    err <= 1e-9 * secs.max(1.0),
                    "{input:?} gave {d:?}, not {secs} s"
                );
                accepted += 1;
            }
            (Err(e), None) => {
                assert_one_sentence(&e, &input);
                refused += 1;
            }
            (Ok(d), None) => panic!("{input:?} should be refused, but gave {d:?}"),
            (Err(e), Some(secs)) => panic!("{input:?} is {secs} s, but was refused: {e}"),
        }
    }
    // The generator reaches both sides (otherwise it tests nothing).
    assert!(accepted > IN_PROCESS / 10, "{accepted} accepted");
    assert!(refused > IN_PROCESS / 4, "{refused} refused");
}

/// Runs `tracectl ARGS` with no input, for at most a minute.
fn tracectl(args: &[&str]) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tracectl");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for tracectl").is_none() {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            panic!("tracectl {args:?} still ran after 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    child.wait_with_output().expect("tracectl's output")
}

/// A refusal by the argument parser: exit 2 and an error naming the flag
/// (clap repeats the value as given, newlines included, then adds a usage
/// hint), never a panic.
fn assert_refused(out: &Output, flag: &str, input: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(
        out.status.code(),
        Some(101),
        "panicked on {flag}={input:?}:\n{err}"
    );
    assert!(
        !err.contains("panicked"),
        "panicked on {flag}={input:?}:\n{err}"
    );
    assert_eq!(out.status.code(), Some(2), "{flag}={input:?}:\n{err}");
    let message = err.replacen(&format!("'{input}'"), "'VALUE'", 1);
    assert!(
        message.starts_with("error: ") && message.lines().next().unwrap().contains(flag),
        "{flag}={input:?}: the error should name the flag:\n{err}"
    );
}

#[test]
fn a_huge_duration_is_one_line_naming_the_flag_and_the_maximum() {
    let out = tracectl(&["run", "-d", "99999999999999999999999h", "-e", "}"]);
    assert_refused(&out, "--duration", "99999999999999999999999h");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.lines()
            .next()
            .unwrap()
            .contains("maximum, 8760h (365 days)"),
        "{err}"
    );
    let out = tracectl(&["run", "--buffer-kib", "4194304", "-e", "}"]);
    assert_refused(&out, "--buffer-kib", "4194304");
    assert!(String::from_utf8_lossy(&out.stderr).contains("maximum, 2097152 (2 GiB)"));
    let out = tracectl(&["run", "--pid", "0", "-e", "}"]);
    assert_refused(&out, "--pid", "0");
}

/// Every numeric flag of `run`, with generated values, through the binary:
/// refused by the argument parser (exit 2, the flag named), or accepted and
/// then the spec `}` fails to compile (exit 1; without root, the loader's
/// refusal, also exit 1). Never a panic (exit 101).
#[test]
fn generated_values_of_every_numeric_flag_never_panic_the_binary() {
    let mut g = Gen(0x6e75_6d62_6572_7321);
    for flag in [
        "--duration",
        "--max-events",
        "--pid",
        "--buffer-kib",
        "--wakeup-bytes",
        "--poll-interval",
        "--interval",
        "--top",
        "--max-keys",
        "--stash",
    ] {
        for i in 0..PER_FLAG {
            // The first values: the extremes of every integer type.
            let input = match i {
                0 => u64::MAX.to_string() + "0",
                1 => u64::MAX.to_string(),
                2 => u32::MAX.to_string(),
                3 => (1u64 << 31).to_string(),
                4 => "-1".to_string(),
                // An argument cannot hold a NUL byte.
                _ => std::iter::repeat_with(|| g.value())
                    .find(|v| !v.contains('\0'))
                    .unwrap(),
            };
            let arg = format!("{flag}={input}");
            let out = tracectl(&["run", &arg, "-e", "}"]);
            let err = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(2) => assert_refused(&out, flag, &input),
                Some(1) => assert!(
                    err.contains("error"),
                    "{arg:?} accepted, then an unexpected failure:\n{err}"
                ),
                other => panic!("{arg:?}: exit {other:?}:\n{err}"),
            }
        }
    }
}

/// `-p` values, generated, for parameters of every type: the compiler binds
/// them or refuses them with a one-line diagnostic, never panics; an
/// integer is accepted exactly when it is one and fits its type.
#[test]
fn generated_param_values_never_panic_the_compiler() {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../compiler/tests/fixtures/mini_vmlinux.btf.o");
    let btf = Btf::from_file(&fixture).unwrap_or_else(|e| panic!("{}: {e}", fixture.display()));
    let env = Env {
        btf: &btf,
        tracepoints: TpSource::Btf(&btf),
    };
    let spec = "param u8v: u8\nparam i16v: i16\nparam u64v: u64\nparam i64v: i64\n\
                param b: bool\nparam t: string\n\
                kfunc:tcp_set_state { state, comm } \
                where (state == $u8v || state == $i16v || state == $u64v || state == $i64v || $b) \
                && comm != $t";
    let good = [
        ("u8v", "0"),
        ("i16v", "-7"),
        ("u64v", "18446744073709551615"),
        ("i64v", "-9223372036854775808"),
        ("b", "true"),
        ("t", "sshd"),
    ];
    let bind = |name: &str, value: &str| {
        let mut params: Vec<(String, String)> = good
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        params.push((name.to_string(), value.to_string()));
        let opts = Options {
            params,
            require_params: true,
        };
        catch_unwind(AssertUnwindSafe(|| {
            compile_source("p.trace", spec, &env, &opts)
        }))
        .unwrap_or_else(|_| panic!("the compiler panicked on -p {name}={value:?}"))
    };
    assert!(bind("u8v", "255").is_ok(), "the good values compile");
    let ranges: [(&str, i128, i128); 4] = [
        ("u8v", 0, u8::MAX as i128),
        ("i16v", i16::MIN as i128, i16::MAX as i128),
        ("u64v", 0, u64::MAX as i128),
        ("i64v", i64::MIN as i128, i64::MAX as i128),
    ];
    let mut g = Gen(0x7061_7261_6d73_2121);
    for i in 0..IN_PROCESS / 10 {
        let value = g.value();
        let (name, lo, hi) = ranges[i % ranges.len()];
        let result = bind(name, &value);
        if let Err(diags) = &result {
            for d in diags {
                assert_one_sentence(&without(&d.message, &value), &value);
            }
        }
        // An integer: optional minus, then decimal digits or 0x and hex
        // digits, which Rust's parsers let follow a plus.
        let t = value.trim();
        let (neg, digits) = t.strip_prefix('-').map_or((false, t), |d| (true, d));
        let magnitude = if let Some(h) = digits.strip_prefix("0x").or(digits.strip_prefix("0X")) {
            u64::from_str_radix(h, 16).ok()
        } else if let Some(d) = Some(digits.strip_prefix('+').unwrap_or(digits))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        {
            d.parse::<u64>().ok()
        } else {
            None
        };
        let in_range = magnitude
            .map(|m| if neg { -(m as i128) } else { m as i128 })
            .is_some_and(|v| (lo..=hi).contains(&v));
        assert_eq!(
            result.is_ok(),
            in_range,
            "-p {name}={value:?}: {:?}",
            result.err().map(|d| d[0].message.clone())
        );
        let boolean = ["true", "1", "yes", "false", "0", "no"].contains(&value.as_str());
        match bind("b", &value) {
            Ok(_) => assert!(boolean, "-p b={value:?} is not a boolean"),
            Err(d) => {
                assert!(!boolean, "-p b={value:?} refused: {}", d[0].message);
                assert!(
                    d[0].message.contains("expected true or false"),
                    "{}",
                    d[0].message
                );
            }
        }
        // Any text is a string; a long one may not fit the compared field.
        if let Err(diags) = bind("t", &value) {
            for d in diags {
                assert_one_sentence(&without(&d.message, &value), &value);
            }
        }
    }
}

/// `--interval 0` would make the print loop spin: refused, as anything under
/// 1ms, naming the flag; `--top 0` and `--max-keys 0` too.
#[test]
fn aggregation_flags_refuse_zero() {
    for (flag, v) in [
        ("--interval", "0s"),
        ("--interval", "999us"),
        ("--top", "0"),
        ("--max-keys", "0"),
        ("--max-keys", "1048577"),
        ("--stash", "0"),
        ("--stash", "1048577"),
    ] {
        let out = tracectl(&[
            "run",
            flag,
            v,
            "-e",
            "tracepoint:raw_syscalls:sys_enter { n = count() }",
        ]);
        assert_eq!(out.status.code(), Some(2), "{flag} {v}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(flag), "{flag} {v}: {err}");
    }
}

/// `--stash` sizes paired probes' stashes: on a spec without one it is an
/// error naming the flag (as root, where the spec gets compiled; without
/// root the loader refuses first), never a silent no-op.
#[test]
fn stash_needs_a_paired_probe() {
    let out = tracectl(&[
        "run",
        "--stash",
        "8",
        "-d",
        "1s",
        "-e",
        "tracepoint:raw_syscalls:sys_enter { n = count() }",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        assert!(err.contains("--stash applies to paired probes"), "{err}");
    }
}
