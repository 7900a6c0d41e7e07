//! Spec versions: which exist, and which features need version 2.
//!
//! A spec without `version:` may use every feature. A spec that says
//! `version: 1` gets one error per use of a version 2 feature (spec-v2:
//! `by:` keys, arithmetic, aggregate functions, the statistics settings of
//! `output:`, a paired probe's `end:` and `match:`), each at the feature's
//! span.

use super::ast::{BinOp, Expr, ExprKind, Spec, UnOp};
use super::Syntax;
use crate::diag::{Diagnostic, Span};

/// The spec versions that exist.
pub const VERSIONS: [u64; 2] = [1, 2];
/// The newest version.
pub const LATEST: u64 = VERSIONS[VERSIONS.len() - 1];

/// The aggregate functions (spec-v2 section 2), a version 2 feature.
pub const AGGREGATES: [&str; 7] = ["count", "sum", "min", "max", "avg", "hist", "lhist"];

/// Checks a written version number: the version, or an error at `span`.
pub fn check_number(n: i128, span: Span) -> Result<u64, Diagnostic> {
    match u64::try_from(n) {
        Ok(v) if VERSIONS.contains(&v) => Ok(v),
        _ => Err(
            Diagnostic::error(span, format!("unsupported spec version {n}"))
                .label("versions 1 and 2 exist")
                .note("version 2 adds `by:` keys, arithmetic, aggregations and start/end pairing (`end:`, `match:`); without `version:` every feature is allowed"),
        ),
    }
}

/// Errors for each version 2 feature a `version: 1` spec uses, in the
/// wording of the YAML syntax; empty when the spec says `version: 2` or no
/// version at all.
pub fn check_version(spec: &Spec) -> Vec<Diagnostic> {
    check_version_in(spec, Syntax::Yaml)
}

/// [`check_version`] with messages in the wording of `syntax`
/// (`version: 2` in YAML, `version 2` in the DSL).
pub fn check_version_in(spec: &Spec, syntax: Syntax) -> Vec<Diagnostic> {
    let Some(v) = spec.version.as_ref().filter(|v| v.value == 1) else {
        return Vec::new();
    };
    let (by, end, match_, output, note) = match syntax {
        Syntax::Yaml => (
            "`by:`",
            "`end:`",
            "`match:`",
            "`output: ",
            "write `version: 2` (or remove `version: 1`)",
        ),
        Syntax::Dsl => (
            "`by`",
            "an end probe (`=> …`)",
            "`match`",
            "`output ",
            "write `version 2` (or remove `version 1`)",
        ),
    };
    let mut uses: Vec<(Span, String)> = Vec::new();
    for p in &spec.probes {
        if let Some(e) = &p.end {
            uses.push((e.span, format!("{end} is a version 2 feature")));
        }
        if let Some(m) = &p.match_ {
            uses.push((m.span(), format!("{match_} is a version 2 feature")));
        }
        if let (Some(first), Some(last)) = (p.by.first(), p.by.last()) {
            uses.push((
                first.name.span.to(first.expr.span).to(last.expr.span),
                format!("{by} is a version 2 feature"),
            ));
        }
        for k in &p.by {
            expr_features(&k.expr, &mut uses);
        }
        for f in &p.fields {
            expr_features(&f.expr, &mut uses);
        }
        if let Some(f) = &p.filter {
            expr_features(f, &mut uses);
        }
    }
    let o = &spec.output;
    for (name, span) in [
        ("interval", o.interval.as_ref().map(|x| x.span)),
        ("cumulative", o.cumulative.as_ref().map(|x| x.span)),
        ("sort", o.sort.as_ref().map(|x| x.span)),
        ("top", o.top.as_ref().map(|x| x.span)),
        ("max_keys", o.max_keys.as_ref().map(|x| x.span)),
    ] {
        if let Some(span) = span {
            uses.push((span, format!("{output}{name}` is a version 2 feature")));
        }
    }
    uses.sort_by_key(|(s, _)| (s.start, s.end));
    uses.into_iter()
        .map(|(span, message)| {
            Diagnostic::error(span, message)
                .label("needs version 2")
                .also(v.span, "the spec says version 1")
                .note(note)
        })
        .collect()
}

/// The version 2 features used in `e`: each outermost arithmetic operator
/// (`a + b * c` is one use) and each aggregate call. Walks with an explicit
/// stack, so no expression can overflow the call stack.
fn expr_features(e: &Expr, out: &mut Vec<(Span, String)>) {
    // (expression, inside an arithmetic expression already reported)
    let mut stack = vec![(e, false)];
    while let Some((e, in_arith)) = stack.pop() {
        match &e.kind {
            ExprKind::Binary {
                op: BinOp::Arith(a),
                lhs,
                rhs,
            } => {
                if !in_arith {
                    out.push((
                        e.span,
                        format!("arithmetic (`{}`) is a version 2 feature", a.as_str()),
                    ));
                }
                stack.push((rhs, true));
                stack.push((lhs, true));
            }
            ExprKind::Unary { op, expr } => {
                if !in_arith {
                    let op = match op {
                        UnOp::Neg => "-",
                        UnOp::BitNot => "~",
                    };
                    out.push((
                        e.span,
                        format!("arithmetic (`{op}`) is a version 2 feature"),
                    ));
                }
                stack.push((expr, true));
            }
            ExprKind::Binary { lhs, rhs, .. } => {
                stack.push((rhs, in_arith));
                stack.push((lhs, in_arith));
            }
            ExprKind::Not(x) => stack.push((x, in_arith)),
            ExprKind::Call { func, args } => {
                if AGGREGATES.contains(&func.value.as_str()) {
                    out.push((
                        e.span,
                        format!("the aggregate `{}()` is a version 2 feature", func.value),
                    ));
                }
                stack.extend(args.iter().rev().map(|a| (a, in_arith)));
            }
            ExprKind::Member { base, .. } | ExprKind::Index { base, .. } => {
                stack.push((base, in_arith))
            }
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Ident(_) | ExprKind::Param(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    /// (message, text under the span) of each diagnostic.
    fn found(src: &str, d: &[Diagnostic]) -> Vec<(String, String)> {
        d.iter()
            .map(|d| (d.message.clone(), src[d.span.range()].to_string()))
            .collect()
    }

    fn errors(name: &str, src: &str) -> Vec<(String, String)> {
        let d = parse(name, src).expect_err(src);
        found(src, &d)
    }

    #[test]
    fn version_1_with_each_feature_is_one_error_per_use() {
        let src = "version: 1
name: v
probes:
  - probe: tracepoint:raw_syscalls:sys_enter
    by: { comm: comm, nr: id & 0xff }
    fields:
      calls: count()
      total: sum(-(id) + 1)
    filter: id * 2 > 4 && !(~id == 0)
output:
  interval: 1s
  cumulative: true
  sort: calls
  top: 10
  max_keys: 100
";
        let got = errors("v.yaml", src);
        let want: Vec<(String, String)> = [
            ("`by:` is a version 2 feature", "comm: comm, nr: id & 0xff"),
            ("arithmetic (`&`) is a version 2 feature", "id & 0xff"),
            ("the aggregate `count()` is a version 2 feature", "count()"),
            (
                "the aggregate `sum()` is a version 2 feature",
                "sum(-(id) + 1)",
            ),
            ("arithmetic (`+`) is a version 2 feature", "-(id) + 1"),
            ("arithmetic (`*`) is a version 2 feature", "id * 2"),
            ("arithmetic (`~`) is a version 2 feature", "~id"),
            ("`output: interval` is a version 2 feature", "1s"),
            ("`output: cumulative` is a version 2 feature", "true"),
            ("`output: sort` is a version 2 feature", "calls"),
            ("`output: top` is a version 2 feature", "10"),
            ("`output: max_keys` is a version 2 feature", "100"),
        ]
        .iter()
        .map(|(m, t)| (m.to_string(), t.to_string()))
        .collect();
        assert_eq!(got, want);
        let d = parse("v.yaml", src).unwrap_err();
        for d in &d {
            assert_eq!(d.notes, ["write `version: 2` (or remove `version: 1`)"]);
            assert_eq!(d.secondary.len(), 1);
            assert_eq!(&src[d.secondary[0].0.range()], "1");
        }
    }

    #[test]
    fn dsl_wording() {
        let src = "version 1\nkfunc:f { n = count() } by comm\noutput top 5\n";
        assert_eq!(
            errors("x.trace", src),
            [
                (
                    "the aggregate `count()` is a version 2 feature".to_string(),
                    "count()".to_string()
                ),
                (
                    "`by` is a version 2 feature".to_string(),
                    "comm".to_string()
                ),
                (
                    "`output top` is a version 2 feature".to_string(),
                    "5".to_string()
                ),
            ]
        );
        let d = parse("x.trace", src).unwrap_err();
        assert_eq!(d[0].notes, ["write `version 2` (or remove `version 1`)"]);
    }

    #[test]
    fn pairing_is_version_2() {
        let yaml = "version: 1
name: v
probes:
  - probe: tracepoint:sched:sched_wakeup
    end: tracepoint:sched:sched_switch
    match: { start: pid, end: next_pid }
    fields:
      pid: pid
  - probe: kfunc:vfs_read
    end: kretfunc:vfs_read
    fields:
      ret: end.ret
";
        assert_eq!(
            errors("v.yaml", yaml),
            [
                (
                    "`end:` is a version 2 feature".to_string(),
                    "tracepoint:sched:sched_switch".to_string()
                ),
                (
                    "`match:` is a version 2 feature".to_string(),
                    "{ start: pid, end: next_pid }".to_string()
                ),
                (
                    "`end:` is a version 2 feature".to_string(),
                    "kretfunc:vfs_read".to_string()
                ),
            ]
        );
        let dsl = "version 1\nkfunc:vfs_read => kretfunc:vfs_read { ret = end.ret } match tid\n";
        assert_eq!(
            errors("v.trace", dsl),
            [
                (
                    "an end probe (`=> …`) is a version 2 feature".to_string(),
                    "kretfunc:vfs_read".to_string()
                ),
                (
                    "`match` is a version 2 feature".to_string(),
                    "tid".to_string()
                ),
            ]
        );
        let d = parse("v.trace", dsl).unwrap_err();
        assert_eq!(d[1].notes, ["write `version 2` (or remove `version 1`)"]);
        assert_eq!(&dsl[d[1].secondary[0].0.range()], "1");
        for src in [
            dsl.replace("version 1", "version 2"),
            dsl.replace("version 1\n", ""),
        ] {
            let spec = parse("v.trace", &src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
            assert!(check_version(&spec).is_empty());
        }
    }

    #[test]
    fn version_2_or_none_allows_everything() {
        let body = "kfunc:f { n = count(), s = sum(a - b) } by comm, k = a % 4 where a << 1 > 2\noutput interval 1s, top 5\n";
        for head in ["", "version 2\n"] {
            let src = format!("{head}{body}");
            let spec = parse("x.trace", &src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
            assert!(check_version(&spec).is_empty());
        }
    }

    #[test]
    fn version_1_without_v2_features_is_fine() {
        // A negative literal and `!` are version 1.
        let src = "version 1\nkfunc:f { pid, x = ret } where ret != -1 && !(pid == 0)\noutput format json\n";
        let spec = parse("x.trace", src).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(spec.version.as_ref().map(|v| v.value), Some(1));
        assert!(check_version(&spec).is_empty());
        // `count` is only an aggregate as a call.
        let src = "version 1\nkfunc:f { count }\n";
        assert!(parse("x.trace", src).is_ok());
    }

    #[test]
    fn nested_arithmetic_is_one_use() {
        let src = "version 1\nkfunc:f { x = (a + b) * c - d / 2 }\n";
        assert_eq!(
            errors("x.trace", src),
            [(
                "arithmetic (`-`) is a version 2 feature".to_string(),
                "(a + b) * c - d / 2".to_string()
            )]
        );
        // Each separate expression is its own use.
        let src = "version 1\nkfunc:f { x = a + 1, y = b } where b - 1 > 0\n";
        let got = errors("x.trace", src);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].1, "a + 1");
        assert_eq!(got[1].1, "b - 1");
    }

    #[test]
    fn long_expressions_do_not_recurse() {
        // Far deeper than the 128 operators a parsed expression may have.
        let mut e = Expr {
            kind: ExprKind::Ident("a".into()),
            span: Span::new(0, 1),
        };
        for _ in 0..100_000 {
            e = Expr {
                kind: ExprKind::Unary {
                    op: UnOp::Neg,
                    expr: Box::new(e),
                },
                span: Span::new(0, 1),
            };
        }
        let mut out = Vec::new();
        expr_features(&e, &mut out);
        assert_eq!(out.len(), 1);
        // Drop iteratively too.
        let mut cur = Some(e);
        while let Some(Expr {
            kind: ExprKind::Unary { expr, .. },
            ..
        }) = cur
        {
            cur = Some(*expr);
        }
    }

    #[test]
    fn version_numbers() {
        assert_eq!(check_number(1, Span::new(0, 1)).ok(), Some(1));
        assert_eq!(check_number(2, Span::new(0, 1)).ok(), Some(2));
        for n in [0, 3, -1, 1 << 70] {
            let d = check_number(n, Span::new(0, 1)).unwrap_err();
            assert_eq!(d.message, format!("unsupported spec version {n}"));
        }
    }
}
