//! Folded stacks (`-o folded`, and the input of `--flamegraph`): one line
//! per key of a stack-keyed aggregation, the format of Brendan Gregg's
//! `stackcollapse` scripts that FlameGraph, inferno and speedscope read:
//!
//! ```text
//! busy;_start;main;acc_outer;acc_inner 97
//! ```
//!
//! A line is the key's other values (`comm`, `pid`, ... in key order), then
//! the user stack's functions from the outermost to the innermost, then
//! the kernel stack's likewise (a system call's kernel frames sit on top of
//! the user frames that made it), each separated by `;`, then a space and
//! the weight: the row's first value (a count, a sum of latencies, ...).
//! Frames are function names without offsets, so that samples at different
//! instructions of one function merge; unresolved frames are `0x…`. A
//! missing user stack (a kernel thread) is left out; a lost one is the
//! frame `[stack lost]`. `;` and newlines inside names become `:` and
//! spaces (they would break the format).

use std::collections::HashMap;

use super::agg::{AggCell, AggPrint, AggRow};
use crate::decode::Value;

/// One folded stack: its frames, outermost first, and its weight.
pub type FoldedStack = (Vec<String>, u64);

/// The frames of a row, outermost first (see the [module docs](self)).
fn frames(row: &AggRow<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for k in &row.keys {
        match k {
            Value::Stack(_) => {}
            Value::Str(s) => out.push(clean(s)),
            v => out.push(clean(&v.to_string())),
        }
    }
    // User frames under kernel frames, whatever the key order.
    for user in [true, false] {
        for k in &row.keys {
            let Value::Stack(s) = k else { continue };
            if s.user != user {
                continue;
            }
            if s.frames.is_empty() {
                if s.missing.is_some_and(|m| m.starts_with("stack lost")) {
                    out.push("[stack lost]".to_string());
                }
                continue;
            }
            out.extend(s.frames.iter().rev().map(|f| clean(&f.function())));
        }
    }
    out
}

/// A name fit for a folded line.
fn clean(s: &str) -> String {
    s.replace(';', ":").replace(['\n', '\r'], " ")
}

/// The weight of a row: its first value when it is a positive integer.
fn weight(row: &AggRow<'_>) -> u64 {
    match row.values.first() {
        Some(AggCell::Int(n)) => (*n).clamp(0, u64::MAX as i128) as u64,
        _ => 0,
    }
}

/// The folded stacks of a print's rows (rows that fold to the same frames
/// merged, weights summed; rows of weight 0 left out), in row order.
pub fn fold(p: &AggPrint<'_>) -> Vec<FoldedStack> {
    let mut at: HashMap<Vec<String>, usize> = HashMap::new();
    let mut out: Vec<FoldedStack> = Vec::new();
    for row in p.rows {
        let w = weight(row);
        if w == 0 {
            continue;
        }
        let f = frames(row);
        match at.get(&f) {
            Some(&i) => out[i].1 += w,
            None => {
                at.insert(f.clone(), out.len());
                out.push((f, w));
            }
        }
    }
    out
}

/// Appends `p` as folded lines.
pub fn write_folded(p: &AggPrint<'_>, out: &mut Vec<u8>) {
    for (frames, w) in fold(p) {
        out.extend_from_slice(frames.join(";").as_bytes());
        out.push(b' ');
        out.extend_from_slice(w.to_string().as_bytes());
        out.push(b'\n');
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::sync::Arc;

    use super::*;
    use crate::stacks::Stack;
    use crate::symbolize::Frame;

    fn frame(name: &str) -> Frame {
        Frame {
            addr: 0x1000,
            name: Some(name.into()),
            offset: 4,
            module: None,
        }
    }

    fn stack(user: bool, inner_first: &[&str]) -> Value<'static> {
        Value::Stack(Arc::new(Stack {
            frames: inner_first.iter().map(|n| frame(n)).collect(),
            missing: None,
            user,
        }))
    }

    #[test]
    fn lines_put_keys_then_user_then_kernel_frames_outermost_first() {
        let rows = [
            AggRow {
                keys: vec![
                    stack(false, &["do_sys_openat2", "__x64_sys_openat"]),
                    Value::Str(Cow::Borrowed("busy;x")),
                    stack(true, &["acc_inner", "acc_outer", "main"]),
                ],
                values: vec![AggCell::Int(7)],
            },
            AggRow {
                keys: vec![
                    stack(false, &["do_sys_openat2", "__x64_sys_openat"]),
                    Value::Str(Cow::Borrowed("busy;x")),
                    stack(true, &["acc_inner", "acc_outer", "main"]),
                ],
                values: vec![AggCell::Int(3)],
            },
            AggRow {
                keys: vec![
                    Value::Stack(Arc::new(Stack {
                        frames: vec![],
                        missing: Some("no user stack"),
                        user: true,
                    })),
                    Value::Str(Cow::Borrowed("kworker")),
                    stack(false, &["worker_thread"]),
                ],
                values: vec![AggCell::Int(0)],
            },
        ];
        let names = vec![];
        let p = AggPrint {
            probe: "p",
            time_ns: 0,
            key_names: &names,
            value_names: &names,
            rows: &rows,
        };
        let mut out = Vec::new();
        write_folded(&p, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "busy:x;main;acc_outer;acc_inner;__x64_sys_openat;do_sys_openat2 10\n"
        );
    }
}
