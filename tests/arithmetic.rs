//! Arithmetic evaluated in the kernel (spec-v2 §1) against values the test
//! chooses: every operator on signed and unsigned 64- and 32-bit arguments
//! at their extremes, division and modulo by a runtime zero, shift counts
//! past 63, precedence, unary `-` and `~`, and arithmetic in filters (also
//! through a computed field the filter names).
//!
//! One `tracectl run` with several probes on `sys_enter_fadvise64`
//! (`int fd, loff_t offset, size_t len, int advice`: s32, s64, u64, s32),
//! restricted to this process; the test then makes one failing call (a bad
//! descriptor, EBADF) per combination of values, the descriptor carrying a
//! sequence number. Each expected value is computed here with Rust's own
//! `i64`/`u64` operations (C's semantics for 64-bit integers), independently
//! of the compiler's constant folder.
//!
//! Needs root and kernel BTF: without them it fails when `CI=true`, else it
//! prints SKIPPED.

#[path = "common/mod.rs"]
mod common;

use common::{bpf_available, json_lines, serial, Tracer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// One call: fadvise64(fd, offset, len, advice).
#[derive(Clone, Copy, Debug)]
struct Call {
    seq: i64,
    offset: i64,
    len: u64,
    advice: i32,
}

/// Upper register bits set on the 32-bit `advice`: ignored by the kernel and
/// by the templates (read 4 bytes, then sign-extend).
const GARBAGE: i64 = 0x5a5a_1234 << 32;

impl Call {
    fn make(&self) {
        // SAFETY: scalar arguments; fd is never open, so the call fails
        // with EBADF before acting.
        let r = unsafe {
            libc::syscall(
                libc::SYS_fadvise64,
                self.seq,
                self.offset,
                self.len as i64,
                GARBAGE | i64::from(self.advice as u32),
            )
        };
        let e = std::io::Error::last_os_error();
        assert!(
            r == -1 && e.raw_os_error() == Some(libc::EBADF),
            "{self:?} must fail with EBADF: {r} {e}"
        );
    }
}

/// An expected value: signed (printed as i64) or unsigned (u64).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
enum V {
    S(i64),
    U(u64),
}

impl V {
    fn i128(self) -> i128 {
        match self {
            V::S(v) => v.into(),
            V::U(v) => v.into(),
        }
    }
}

/// C's signed division and remainder on 64 bits, 0 for a zero divisor (the
/// language's rule), wrapping for MIN / -1.
fn sdiv(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.wrapping_div(b)
    }
}
fn srem(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        a.wrapping_rem(b)
    }
}

/// (field name, expression, expected value of a call).
type Case = (&'static str, &'static str, fn(&Call) -> V);

/// The computed fields, split between two probes (a probe runs at most 24
/// operators).
fn cases() -> [Vec<Case>; 2] {
    [
        vec![
            // s64 + u64: signed, wrapping.
            ("add", "offset + len", |c| {
                V::S(c.offset.wrapping_add(c.len as i64))
            }),
            ("sub", "len - offset", |c| {
                V::S((c.len as i64).wrapping_sub(c.offset))
            }),
            ("mul_u", "len * 3", |c| V::U(c.len.wrapping_mul(3))),
            ("mul_s", "offset * advice", |c| {
                V::S(c.offset.wrapping_mul(c.advice as i64))
            }),
            // Signed division truncates toward zero; by zero gives 0.
            ("div_s", "offset / advice", |c| {
                V::S(sdiv(c.offset, c.advice as i64))
            }),
            ("div_u", "len / 7", |c| V::U(c.len / 7)),
            ("div_zero", "len / (len - len)", |_| V::U(0)),
            // The remainder takes the dividend's sign.
            ("mod_s", "offset % advice", |c| {
                V::S(srem(c.offset, c.advice as i64))
            }),
            ("mod_u", "len % 1000", |c| V::U(c.len % 1000)),
            ("mod_zero", "offset % (advice - advice)", |_| V::S(0)),
            // Arithmetic shift of a signed value, logical of an unsigned one.
            ("shr_s", "offset >> 4", |c| V::S(c.offset >> 4)),
            ("shr_u", "len >> 4", |c| V::U(c.len >> 4)),
        ],
        vec![
            // A runtime shift count is taken modulo 64.
            // A shift has its left operand's type (C), even with a signed count.
            ("shr_n", "len >> advice", |c| {
                V::U(c.len >> ((c.advice as i64 as u64) & 63))
            }),
            ("shl", "len << 3", |c| V::U(c.len << 3)),
            ("and", "offset & 0xff00", |c| V::S(c.offset & 0xff00)),
            ("or", "len | 1", |c| V::U(c.len | 1)),
            ("xor", "offset ^ len", |c| V::S(c.offset ^ c.len as i64)),
            ("neg", "-offset", |c| V::S(c.offset.wrapping_neg())),
            // A constant on the left of a non-commutative operator.
            ("rsub", "1000 - len", |c| V::U(1000u64.wrapping_sub(c.len))),
            ("rshl", "3 << advice", |c| {
                V::U(3u64 << ((c.advice as i64 as u64) & 63))
            }),
            ("not", "~len", |c| V::U(!c.len)),
            // C precedence: `*` before `+`/`-`, parentheses first.
            ("prec", "len + offset * 2 - 1", |c| {
                V::S(
                    (c.len as i64)
                        .wrapping_add(c.offset.wrapping_mul(2))
                        .wrapping_sub(1),
                )
            }),
            ("paren", "(len + 1) * 2", |c| {
                V::U(c.len.wrapping_add(1).wrapping_mul(2))
            }),
            ("s32", "advice * 2 + fd", |c| {
                V::S((c.advice as i64).wrapping_mul(2).wrapping_add(c.seq))
            }),
        ],
    ]
}

const OFFSETS: [i64; 8] = [0, 1, -1, 7, -7, i64::MAX, i64::MIN, 0x1_2345_6789];
const LENS: [u64; 6] = [0, 1, 4096, u64::MAX, 1 << 63, 12_345_678_901];
const ADVICES: [i32; 7] = [0, 1, -1, 3, -3, 65, i32::MIN];

fn calls() -> Vec<Call> {
    let mut out = Vec::new();
    for &offset in &OFFSETS {
        for &len in &LENS {
            for &advice in &ADVICES {
                let seq = -1000 - out.len() as i64;
                out.push(Call {
                    seq,
                    offset,
                    len,
                    advice,
                });
            }
        }
    }
    out
}

fn int(v: &Value) -> Option<i128> {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
}

#[test]
fn operators_match_c_on_chosen_values() {
    if !bpf_available() {
        return;
    }
    let _g = serial();
    let cases = cases();
    let mut spec = String::from("version 2\n");
    for (i, group) in cases.iter().enumerate() {
        let fields: Vec<String> = group
            .iter()
            .map(|(name, expr, _)| format!("{name} = {expr}"))
            .collect();
        spec.push_str(&format!(
            "tracepoint:syscalls:sys_enter_fadvise64 as g{i} {{ seq = fd, {} }}\n",
            fields.join(", ")
        ));
    }
    // Filters computing in the kernel: directly, and through a computed
    // field the filter names (computed before the filter runs).
    spec.push_str(
        "tracepoint:syscalls:sys_enter_fadvise64 as f_mod { seq = fd } \
         where (len + offset) % 3 == 0 && offset / 2 > -4\n",
    );
    spec.push_str(
        "tracepoint:syscalls:sys_enter_fadvise64 as f_field { seq = fd, k = len >> 40 } \
         where k > 100 || -advice == 3\n",
    );
    let me = std::process::id().to_string();
    let calls = calls();
    let t = Tracer::start(&[
        "-e", &spec, "--pid", &me, "-o", "json", "--time", "none", "-d", "2s",
    ]);
    for c in &calls {
        c.make();
    }
    let (out, err) = t.finish();
    assert!(err.contains(" 0 lost"), "no event may be lost:\n{err}");
    let recs = json_lines(&out);

    let by_seq: BTreeMap<i64, Call> = calls.iter().map(|c| (c.seq, *c)).collect();
    let mut errors = Vec::new();
    let mut seen: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for r in &recs {
        let probe = r["probe"].as_str().unwrap_or("?").to_string();
        let seq = r["seq"].as_i64().expect("seq");
        let Some(call) = by_seq.get(&seq) else {
            errors.push(format!("{probe}: a record for an unknown call {seq}"));
            continue;
        };
        seen.entry(probe.clone()).or_default().insert(seq);
        let group = match probe.as_str() {
            "g0" => &cases[0],
            "g1" => &cases[1],
            _ => continue,
        };
        for (name, expr, want) in group {
            let want = want(call);
            let got = int(&r[*name]);
            // The JSON number's sign tells the field's signedness.
            let sign_ok = match want {
                V::S(_) => {
                    r[*name].is_i64() || r[*name].as_u64().is_some_and(|u| u <= i64::MAX as u64)
                }
                V::U(_) => r[*name].is_u64(),
            };
            if got != Some(want.i128()) || !sign_ok {
                errors.push(format!(
                    "{name} = {expr} for {call:?}: got {}, want {want:?}",
                    r[*name]
                ));
            }
        }
    }
    let expect = |f: &dyn Fn(&Call) -> bool| -> BTreeSet<i64> {
        calls.iter().filter(|c| f(c)).map(|c| c.seq).collect()
    };
    let all: BTreeSet<i64> = calls.iter().map(|c| c.seq).collect();
    let want: [(&str, BTreeSet<i64>); 4] = [
        ("g0", all.clone()),
        ("g1", all.clone()),
        (
            "f_mod",
            expect(&|c| {
                let sum = (c.len as i64).wrapping_add(c.offset);
                srem(sum, 3) == 0 && sdiv(c.offset, 2) > -4
            }),
        ),
        (
            "f_field",
            expect(&|c| (c.len >> 40) > 100 || (c.advice as i64).wrapping_neg() == 3),
        ),
    ];
    for (probe, want) in want {
        let got = seen.remove(probe).unwrap_or_default();
        if got != want {
            let missing: Vec<_> = want.difference(&got).take(5).map(|s| by_seq[s]).collect();
            let extra: Vec<_> = got.difference(&want).take(5).map(|s| by_seq[s]).collect();
            errors.push(format!(
                "{probe}: {} calls kept, {} expected; missing {missing:?}; extra {extra:?}",
                got.len(),
                want.len()
            ));
        }
    }
    assert!(
        !want_is_trivial(&calls),
        "the chosen values must make both filters keep some calls and drop others"
    );
    if !errors.is_empty() {
        let n = errors.len();
        errors.truncate(40);
        panic!("{n} wrong:\n{}", errors.join("\n"));
    }
}

/// The filters' expected sets are neither empty nor everything (else the
/// test could not tell a filter from its absence).
fn want_is_trivial(calls: &[Call]) -> bool {
    let f_mod = calls
        .iter()
        .filter(|c| {
            let sum = (c.len as i64).wrapping_add(c.offset);
            srem(sum, 3) == 0 && sdiv(c.offset, 2) > -4
        })
        .count();
    let f_field = calls
        .iter()
        .filter(|c| (c.len >> 40) > 100 || (c.advice as i64).wrapping_neg() == 3)
        .count();
    [f_mod, f_field].iter().any(|&n| n == 0 || n == calls.len())
}
