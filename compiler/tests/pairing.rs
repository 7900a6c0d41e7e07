//! Start/end pairing in the compiler (no kernel): the stash and key layout
//! both programs share, start values read in place by the end program, the
//! filter split (start / before the join / after it), aggregation keys
//! copied from the stash, and fexit alone where it sees both ends.

mod common;

use common::fixture_env;
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::plan::{
    Base, Builtin, CalcArg, FilterOp, PairRole, Plan, ProbePlan, Read, RECORD_HEADER,
};

fn compile(src: &str) -> Plan {
    let env = fixture_env();
    match compile_source("t.trace", src, &env, &Options::default()) {
        Ok(c) => c.plan,
        Err(d) => panic!("{src}: {d:?}"),
    }
}

fn probe(src: &str) -> ProbePlan {
    compile(&format!("version 2\n{src}")).probes.remove(0)
}

const PAIR: &str = "kfunc:tcp_v4_connect => kretfunc:tcp_v4_connect";

#[test]
fn both_programs_agree_on_the_stash_and_the_key() {
    let p = probe(&format!(
        "probe {PAIR} {{ len = addr_len, who = comm, r = end.retval, us = latency / 1000 }}"
    ));
    let pair = p.pair.as_ref().expect("a paired plan");
    let (s, e) = (
        pair.start_config.pair.as_ref().unwrap(),
        p.config.pair.as_ref().unwrap(),
    );
    assert_eq!((s.role, e.role), (PairRole::Start, PairRole::End));
    // Timestamp word, addr_len (8), comm (16).
    assert_eq!(s.value_size, 8 + 8 + 16);
    assert_eq!(s.value_size, e.value_size);
    assert_eq!((s.value_off, e.value_off), (RECORD_HEADER, RECORD_HEADER));
    assert_eq!(s.key_off, s.value_off + s.value_size);
    assert_eq!(e.key_off, e.value_off + e.value_size);
    assert_eq!((s.key_size, e.key_size), (8, 8));
    // The default match is the thread, read first at the end (the join
    // needs it), and anywhere at the start.
    let tid = Base::Builtin {
        builtin: Builtin::Tid,
    };
    assert_eq!(p.config.ops[0].base, tid);
    assert_eq!(p.config.ops[0].slot, e.key_off);
    assert_eq!(e.join_at, 1);
    assert!(pair
        .start_config
        .ops
        .iter()
        .any(|o| o.base == tid && o.slot == s.key_off));
    // Start values: ops at the start, at their stashed place; read in
    // place at the end (no op there).
    let field = |n: &str| p.fields.iter().find(|f| f.name == n).unwrap().slot;
    assert_eq!(field("len"), RECORD_HEADER + 8);
    assert_eq!(field("who"), RECORD_HEADER + 16);
    let start_slots: Vec<u32> = pair.start_config.ops.iter().map(|o| o.slot).collect();
    assert!(start_slots.contains(&field("len")) && start_slots.contains(&field("who")));
    assert!(p
        .config
        .ops
        .iter()
        .all(|o| o.slot != field("len") && o.slot != field("who")));
    // latency is the first stashed word; `latency / 1000` divides it.
    assert!(p
        .config
        .calcs
        .iter()
        .any(|c| c.a == CalcArg::Slot { slot: e.value_off }));
    assert_eq!(pair.match_start, ["tid"]);
}

#[test]
fn the_filter_runs_where_its_values_are() {
    let p = probe(&format!(
        "probe {PAIR} {{ r = end.retval }} where addr_len > 4 && end.retval < 0 && latency > 1000"
    ));
    let pair = p.pair.as_ref().unwrap();
    let e = p.config.pair.as_ref().unwrap();
    // Start: the start-only conjunct, nothing else.
    match pair.start_config.filter.as_slice() {
        [FilterOp::CmpImm { imm: 4, .. }] => {}
        f => panic!("start filter {f:?}"),
    }
    // End: `end.retval < 0` before the join, `latency > 1000` after it.
    assert_eq!(e.join_filter, 1);
    match p.config.filter.as_slice() {
        [FilterOp::CmpImm { imm: 0, .. }, FilterOp::CmpImm {
            imm: 1000, slot, ..
        }] => {
            assert_eq!(*slot, e.value_off)
        }
        f => panic!("end filter {f:?}"),
    }
    // addr_len is read by the start's filter only: not stashed (the
    // timestamp word alone).
    assert_eq!(e.value_size, 8);
    assert_eq!(pair.start_config.pair.as_ref().unwrap().value_size, 8);
    // An `||` across ends runs after the join.
    let p = probe(&format!(
        "probe {PAIR} {{ r = end.retval }} where addr_len > 4 || end.retval < 0"
    ));
    assert!(p.pair.as_ref().unwrap().start_config.filter.is_empty());
    assert_eq!(p.config.pair.as_ref().unwrap().join_filter, 0);
    assert_eq!(p.config.filter.len(), 3);
}

#[test]
fn an_aggregating_end_copies_start_keys_into_its_key() {
    let p = probe(&format!(
        "probe {PAIR} {{ us = hist(latency / 1000) }} by comm, r = end.retval"
    ));
    let e = p.config.pair.as_ref().unwrap();
    let agg = p.config.agg.as_ref().unwrap();
    // Aggregation key (comm 16, retval 8) first, then the stash.
    assert_eq!(agg.key_size, 24);
    assert_eq!(e.value_off, RECORD_HEADER + 24);
    // comm was stashed at +8: one op copies it from there into the key.
    let copy = p
        .config
        .ops
        .iter()
        .find(|o| o.base == Base::Record)
        .expect("a copy op");
    assert_eq!(copy.slot, RECORD_HEADER);
    assert!(matches!(copy.read, Read::Bytes { off, len: 16, .. } if off == e.value_off + 8));
    // ...after the join (ops before join_at build the match key).
    let at = p
        .config
        .ops
        .iter()
        .position(|o| o.base == Base::Record)
        .unwrap();
    assert!(at as u32 >= e.join_at);
}

#[test]
fn fexit_alone_where_it_sees_both_ends() {
    // Forced fentry/fexit, arguments and the result: one fexit program.
    let p = probe(
        "probe fentry:tcp_v4_connect => fexit:tcp_v4_connect { len = addr_len, r = end.retval }",
    );
    assert!(p.pair.is_none());
    assert!(matches!(
        p.attach,
        tracectl_compiler::plan::Attach::Kernel { ret: true, .. }
    ));
    assert!(p
        .config
        .ops
        .iter()
        .any(|o| matches!(o.base, Base::Arg { off: 16, .. })));
    // latency needs the start's time: stashed.
    let p = probe("probe fentry:tcp_v4_connect => fexit:tcp_v4_connect { us = latency }");
    assert!(p.pair.is_some());
    // Memory behind an argument may change by the return: stashed.
    let p = probe(
        "probe fentry:tcp_v4_connect => fexit:tcp_v4_connect { f = sk->__sk_common.skc_family, r = end.retval }",
    );
    assert!(p.pair.is_some());
    // kfunc may load as a kprobe, whose return cannot read arguments.
    let p = probe(&format!(
        "probe {PAIR} {{ len = addr_len, r = end.retval }}"
    ));
    assert!(p.pair.is_some());
}
