//! Arithmetic and aggregations in the compiler (no kernel): constant
//! folding as C on 64 bits, the signedness rules, the order the kernel runs
//! arithmetic in (what the filter needs first), the aggregation map's key
//! and value layout, and the `output:` settings in the plan.

mod common;

use common::fixture_env;
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::plan::{
    AggFunc, ArithOp, CalcArg, CalcOp, Decode, FilterOp, Plan, ProbeConfig, RECORD_HEADER,
};

fn compile(src: &str) -> Plan {
    let env = fixture_env();
    match compile_source("t.trace", src, &env, &Options::default()) {
        Ok(c) => c.plan,
        Err(d) => panic!("{src}: {d:?}"),
    }
}

fn config(src: &str) -> ProbeConfig {
    compile(src).probes.remove(0).config
}

/// `kfunc:tcp_v4_connect(struct sock *sk, void *uaddr, int addr_len)`.
fn probe(body: &str) -> String {
    format!("kfunc:tcp_v4_connect {{ {body} }}")
}

/// A filter on `addr_len` (int) that must fold to `CmpImm addr_len <cmp> imm`.
fn folded_imm(cond: &str) -> u64 {
    let c = config(&format!("{} where {cond}", probe("n = addr_len")));
    match c.filter.as_slice() {
        [FilterOp::CmpImm { imm, .. }] => *imm,
        f => panic!("{cond}: {f:?}"),
    }
}

#[test]
fn constants_fold_as_c_on_64_bits() {
    // Exact, then wrapped to 64 bits; division truncates toward zero.
    assert_eq!(folded_imm("addr_len == 2 - 5"), (-3i64) as u64);
    assert_eq!(folded_imm("addr_len == -7 / 2"), (-3i64) as u64);
    assert_eq!(folded_imm("addr_len == -7 % 2"), (-1i64) as u64);
    assert_eq!(folded_imm("addr_len == 1024 * 1024"), 1 << 20);
    assert_eq!(folded_imm("addr_len == 1 << 70"), 1 << 6);
    assert_eq!(folded_imm("addr_len == ~0"), u64::MAX);
    assert_eq!(folded_imm("addr_len == 0xffffffffffffffff + 2"), 1);
    assert_eq!(folded_imm("addr_len == -8 >> 1"), (-4i64) as u64);
    assert_eq!(folded_imm("addr_len == ((1 | 6) ^ 3 & 2)"), 5);
    assert_eq!(folded_imm("addr_len == 2 + 3 * 4 - 1"), 13);
}

/// The computed value of field 0 of `probe(body)`'s plan: its calcs.
fn calcs(body: &str) -> Vec<CalcOp> {
    config(&probe(body)).calcs
}

#[test]
fn signedness_follows_the_operands() {
    // int op unsigned long: signed (spec-v2: either operand signed).
    let c = calcs("x = addr_len + sk->sk_flags");
    assert_eq!(c.len(), 1);
    assert!(c[0].signed && c[0].op == ArithOp::Add, "{c:?}");
    // unsigned op non-negative literal: unsigned.
    let c = calcs("x = sk->sk_flags / 3");
    assert!(!c[0].signed && c[0].b == CalcArg::Imm { value: 3 }, "{c:?}");
    // A shift has its left operand's type, as in C.
    let c = calcs("x = sk->sk_flags >> addr_len");
    assert!(!c[0].signed, "{c:?}");
    let c = calcs("x = addr_len >> sk->sk_flags");
    assert!(c[0].signed, "{c:?}");
    // Unary minus and ~ are `0 - x` and `x ^ ~0`.
    let c = calcs("x = -addr_len");
    assert_eq!(c[0].op, ArithOp::Sub);
    assert_eq!(c[0].a, CalcArg::Imm { value: 0 });
    let c = calcs("x = ~sk->sk_flags");
    assert_eq!(
        (c[0].op, c[0].b),
        (ArithOp::BitXor, CalcArg::Imm { value: u64::MAX })
    );
    // The printed type is a 64-bit integer of that sign.
    let plan = compile(&probe("x = addr_len * 2, y = sk->sk_flags * 2"));
    let d: Vec<Decode> = plan.probes[0].fields.iter().map(|f| f.decode).collect();
    assert_eq!(
        d,
        vec![
            Decode::Int {
                size: 8,
                signed: true
            },
            Decode::Int {
                size: 8,
                signed: false
            }
        ]
    );
}

#[test]
fn arithmetic_the_filter_needs_runs_before_it() {
    // Field `kb` is computed; the filter reads it and computes more.
    let c = config(&format!(
        "{} where kb > 4 && (addr_len & 3) == 1",
        probe("a = sk->sk_flags * 2, kb = addr_len / 1024")
    ));
    // Filter arithmetic: kb's division and the `&`; after it: a's multiply.
    assert_eq!(c.calcs.len(), 3, "{:?}", c.calcs);
    assert_eq!(c.calc_at, 2, "{:?}", c.calcs);
    let ops: Vec<ArithOp> = c.calcs.iter().map(|x| x.op).collect();
    assert_eq!(ops, vec![ArithOp::Div, ArithOp::BitAnd, ArithOp::Mul]);
    // The filter compares the slots those calcs write.
    let written: Vec<u32> = c.calcs[..2].iter().map(|x| x.dst).collect();
    for f in &c.filter {
        if let FilterOp::CmpImm { slot, .. } = f {
            assert!(
                written.contains(slot),
                "{f:?} reads a slot the filter phase does not write"
            );
        }
    }
    // Only addr_len (the filter's operand) is captured before the filter.
    assert_eq!(c.filter_at, 1);
    // Without a filter, nothing runs early.
    let c = config(&probe("a = sk->sk_flags * 2"));
    assert_eq!((c.calc_at, c.filter_at), (0, 0));
}

#[test]
fn aggregation_layout_keys_first_then_values() {
    let plan = compile(
        "version 2\nkfunc:tcp_v4_connect { n = count(), s = sum(addr_len), h = hist(addr_len * 2), \
         l = lhist(addr_len, 0, 100, 10), m = avg(sk->sk_flags) } by comm, len = addr_len / 4\n\
         output interval 2s, sort s, top 5, max_keys 77, cumulative true",
    );
    let p = &plan.probes[0];
    assert!(p.fields.is_empty(), "an aggregating probe sends no records");
    let a = p.config.agg.as_ref().expect("an aggregation map");
    // comm (16 bytes) then len (8): contiguous after the header.
    assert_eq!(a.key_size, 24);
    let slots: Vec<(String, u32)> = a.keys.iter().map(|k| (k.name.clone(), k.slot)).collect();
    assert_eq!(
        slots,
        vec![
            ("comm".into(), RECORD_HEADER),
            ("len".into(), RECORD_HEADER + 16)
        ]
    );
    let vals: Vec<(&str, AggFunc, u32)> = a
        .values
        .iter()
        .map(|v| (v.name.as_str(), v.func, v.off))
        .collect();
    assert_eq!(
        vals,
        vec![
            ("n", AggFunc::Count, 0),
            ("s", AggFunc::Sum, 8),
            ("h", AggFunc::Hist, 16),
            (
                "l",
                AggFunc::Lhist {
                    lo: 0,
                    hi: 100,
                    step: 10
                },
                16 + 66 * 8
            ),
            ("m", AggFunc::Avg, 16 + 66 * 8 + 12 * 8),
        ]
    );
    assert_eq!(a.value_size, 16 + 66 * 8 + 12 * 8 + 16);
    assert!(a.values[1].signed && !a.values[4].signed);
    assert_eq!(a.values[0].arg, None);
    let s = &plan.output.stats;
    assert_eq!(s.interval_ns, Some(2_000_000_000));
    assert_eq!(
        (s.sort.as_deref(), s.top, s.max_keys, s.cumulative),
        (Some("s"), Some(5), Some(77), true)
    );
}

#[test]
fn a_probe_without_keys_has_one_zero_key() {
    let a = config("version 2\nkfunc:tcp_v4_connect { n = count() }")
        .agg
        .unwrap();
    assert_eq!(a.key_size, 8);
    assert!(a.keys.is_empty());
}
