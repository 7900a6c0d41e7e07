//! Pass 3, **check** (aggregations, spec-v2 §2): which probes aggregate,
//! their `by:` keys, and each aggregate function with its argument.
//!
//! A probe whose fields are aggregate calls (`count()`, `hist(size)`, …) is
//! an aggregating probe: every field must then be one, each a whole field
//! (not inside other arithmetic), and its `by:` values are its keys.

use crate::arith::{ArithChecker, Value};
use crate::diag::{Diagnostic, Span};
use crate::plan::{AggFunc, Decode, MAX_AGG, MAX_AGG_VALUE};
use crate::resolve::ValueClass;
use crate::syntax::ast::{Expr, ExprKind, FieldDecl, KeyDecl, ProbeDecl};

/// The aggregate functions.
pub const AGGREGATES: [&str; 7] = ["count", "sum", "min", "max", "avg", "hist", "lhist"];

/// Most linear buckets of one `lhist()` (plus the two outer ones).
pub const MAX_LHIST_BUCKETS: i128 = 1000;

/// Is `name` an aggregate function?
pub fn is_aggregate(name: &str) -> bool {
    AGGREGATES.contains(&name)
}

/// The aggregate call of a field, if its expression is one.
fn aggregate_call(e: &Expr) -> Option<(&str, Span, &[Expr])> {
    match &e.kind {
        ExprKind::Call { func, args } if is_aggregate(&func.value) => {
            Some((func.value.as_str(), func.span, args.as_slice()))
        }
        _ => None,
    }
}

/// The name of a call that is no function but close to an aggregate's
/// (`cuont()`), if `e` is one: `count`.
pub fn misspelt_aggregate(e: &Expr) -> Option<&'static str> {
    let ExprKind::Call { func, .. } = &e.kind else {
        return None;
    };
    let f = func.value.as_str();
    if crate::resolve::function_names().any(|known| known == f) {
        return None;
    }
    crate::diag::closest(f, AGGREGATES)
}

/// Is this probe an aggregating one (any field an aggregate call)?
pub fn is_aggregating(decl: &ProbeDecl) -> bool {
    decl.fields
        .iter()
        .any(|f| aggregate_call(&f.expr).is_some())
}

/// One checked aggregate field.
#[derive(Debug, Clone)]
pub struct AggField {
    /// Output name.
    pub name: String,
    /// Function (with `lhist`'s bounds).
    pub func: AggFunc,
    /// The argument (`count()` has none).
    pub arg: Option<Value>,
    /// Where the field was written.
    pub span: Span,
}

/// One checked `by:` key.
#[derive(Debug, Clone)]
pub struct Key {
    /// Column name.
    pub name: String,
    /// The value.
    pub value: Value,
    /// Where it was written.
    pub span: Span,
}

/// Checks an aggregating probe's fields; every error found.
pub fn fields(ac: &mut ArithChecker, decl: &ProbeDecl) -> Result<Vec<AggField>, Vec<Diagnostic>> {
    let first_agg = decl
        .fields
        .iter()
        .find(|f| aggregate_call(&f.expr).is_some())
        .map(|f| f.name.span.to(f.expr.span));
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for f in &decl.fields {
        match field(ac, f, first_agg) {
            Ok(a) => out.push(a),
            Err(d) => diags.push(d),
        }
    }
    if out.len() > MAX_AGG && diags.is_empty() {
        diags.push(
            Diagnostic::error(
                out[MAX_AGG].span,
                format!(
                    "too many aggregates: a probe holds at most {MAX_AGG} (a limit of the precompiled templates)"
                ),
            )
            .label(format!("aggregate {}", MAX_AGG + 1))
            .note("split them between two probes on the same target (each with its own `name:`)"),
        );
    }
    let bytes: u32 = out.iter().map(|a| a.func.value_bytes()).sum();
    if bytes > MAX_AGG_VALUE && diags.is_empty() {
        diags.push(
            Diagnostic::error(
                decl.probe.span,
                format!(
                    "the aggregates of this probe take {bytes} bytes per key, and the kernel holds at most {MAX_AGG_VALUE} per key and CPU"
                ),
            )
            .label("in this probe")
            .note("each hist() takes 528 bytes and each lhist() 8 bytes per bucket: use fewer or wider buckets"),
        );
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}

fn field(
    ac: &mut ArithChecker,
    f: &FieldDecl,
    first_agg: Option<Span>,
) -> Result<AggField, Diagnostic> {
    let span = f.name.span.to(f.expr.span);
    let Some((func, func_span, args)) = aggregate_call(&f.expr) else {
        if let (Some(agg), ExprKind::Call { func, .. }) =
            (misspelt_aggregate(&f.expr), &f.expr.kind)
        {
            return Err(Diagnostic::error(
                func.span,
                format!("unknown aggregate `{}()`", func.value),
            )
            .label("not an aggregate")
            .note(format!("did you mean `{agg}()`?"))
            .note(format!(
                "the aggregates: {}",
                crate::diag::quoted_list(AGGREGATES)
            )));
        }
        let mut d = Diagnostic::error(
            span,
            format!("`{}` is not an aggregate, in a probe whose fields are aggregates", f.name.value),
        )
        .label("a value per event")
        .note("in one probe either every field is an aggregate or none is; per-key values go in `by:` (e.g. `by: [comm]`), per-event records in another probe");
        if let Some(a) = first_agg {
            d = d.also(a, "an aggregate");
        }
        return Err(d);
    };
    let arity = |n: usize| -> Result<(), Diagnostic> {
        if args.len() == n {
            return Ok(());
        }
        Err(Diagnostic::error(
            f.expr.span,
            format!(
                "`{func}()` takes {n} argument{}",
                if n == 1 { "" } else { "s" }
            ),
        )
        .label(format!("{} given", args.len()))
        .note(match func {
            "count" => "`count()` counts events: `calls: count()`",
            "lhist" => "`lhist(value, min, max, step)`, e.g. `lhist(size, 0, 1000, 100)`",
            _ => "e.g. `bytes: sum(size)`",
        }))
    };
    let (func, arg) = match func {
        "count" => {
            arity(0)?;
            (AggFunc::Count, None)
        }
        "lhist" => {
            arity(4)?;
            let arg = integer_arg(ac, func, &args[0])?;
            let lo = const_arg(ac, &args[1], "the minimum")?;
            let hi = const_arg(ac, &args[2], "the maximum")?;
            let step = const_arg(ac, &args[3], "the step")?;
            if step <= 0 {
                return Err(Diagnostic::error(
                    args[3].span,
                    "the step of `lhist()` must be 1 or more",
                )
                .label(format!("{step}")));
            }
            if hi <= lo {
                return Err(Diagnostic::error(
                    args[1].span.to(args[2].span),
                    "the maximum of `lhist()` must be above its minimum",
                )
                .label(format!("{lo} .. {hi}")));
            }
            if (hi - lo) % step != 0 {
                return Err(Diagnostic::error(
                    args[1].span.to(args[3].span),
                    "`lhist()`: (max - min) must be a multiple of the step",
                )
                .label(format!("{} is not a multiple of {step}", hi - lo))
                .note(format!(
                    "e.g. max {} gives {} buckets of {step}",
                    lo + ((hi - lo) / step + 1) * step,
                    (hi - lo) / step + 1
                )));
            }
            if (hi - lo) / step > MAX_LHIST_BUCKETS {
                return Err(Diagnostic::error(
                    args[1].span.to(args[3].span),
                    format!(
                        "`lhist()` would have {} buckets; at most {MAX_LHIST_BUCKETS}",
                        (hi - lo) / step
                    ),
                )
                .label("too many buckets")
                .note("raise the step, or use `hist()` for power-of-two buckets"));
            }
            (
                AggFunc::Lhist {
                    lo: lo as i64,
                    hi: hi as i64,
                    step: step as i64,
                },
                Some(arg),
            )
        }
        _ => {
            arity(1)?;
            let arg = integer_arg(ac, func, &args[0])?;
            let func = match func {
                "sum" => AggFunc::Sum,
                "min" => AggFunc::Min,
                "max" => AggFunc::Max,
                "avg" => AggFunc::Avg,
                _ => AggFunc::Hist,
            };
            (func, Some(arg))
        }
    };
    let _ = func_span;
    Ok(AggField {
        name: f.name.value.clone(),
        func,
        arg,
        span,
    })
}

/// An integer argument of aggregate `func`.
fn integer_arg(ac: &mut ArithChecker, func: &str, e: &Expr) -> Result<Value, Diagnostic> {
    if let ExprKind::Call { func: inner, .. } = &e.kind {
        if is_aggregate(&inner.value) {
            return Err(Diagnostic::error(
                e.span,
                format!("`{}()` inside `{func}()`", inner.value),
            )
            .label("aggregates do not nest"));
        }
    }
    if let Some(v) = ac.constant(e)? {
        return Err(
            Diagnostic::error(e.span, format!("`{func}()` of a constant"))
                .label(format!("always {v}"))
                .note(format!(
                    "aggregate a value read at the probe, e.g. `{func}(size)`"
                )),
        );
    }
    let v = ac.value(e)?;
    match v.class() {
        ValueClass::Int { .. } => Ok(v),
        class => {
            let what = match class {
                ValueClass::Str => "a string",
                ValueClass::Ip4 => "an IPv4 address",
                ValueClass::Stack => "a stack, not a number",
                _ => "not an integer",
            };
            Err(Diagnostic::error(
                e.span,
                format!("`{func}()` needs an integer, and this is {what}"),
            )
            .label(what)
            .note(match func {
                "hist" | "lhist" => {
                    "to count events per string, use `count()` with the string in `by:`"
                }
                _ => "aggregate an integer such as a size or a latency",
            }))
        }
    }
}

/// A constant argument (literal, parameter, constant arithmetic).
fn const_arg(ac: &mut ArithChecker, e: &Expr, what: &str) -> Result<i128, Diagnostic> {
    match ac.constant(e)? {
        Some(v) if v >= i64::MIN as i128 && v <= i64::MAX as i128 => Ok(v),
        Some(v) => Err(
            Diagnostic::error(e.span, format!("{what} of `lhist()` is out of range"))
                .label(format!("{v} does not fit in a signed 64-bit integer")),
        ),
        None => Err(
            Diagnostic::error(e.span, format!("{what} of `lhist()` must be a constant"))
                .label("read at the probe")
                .note("`lhist(value, min, max, step)` takes literal or `$param` bounds"),
        ),
    }
}

/// Checks `by:` keys.
pub fn keys(ac: &mut ArithChecker, by: &[KeyDecl]) -> Result<Vec<Key>, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = Vec::new();
    for k in by {
        let span = if k.bare {
            k.expr.span
        } else {
            k.name.span.to(k.expr.span)
        };
        if let Some((func, ..)) = aggregate_call(&k.expr) {
            diags.push(
                Diagnostic::error(k.expr.span, format!("the aggregate `{func}()` cannot be a key"))
                    .label("a key is a value per event")
                    .note("aggregates go in `fields:`; keys are what they are grouped by, e.g. `by: [comm]`"),
            );
            continue;
        }
        match ac.constant(&k.expr) {
            Ok(Some(v)) => {
                diags.push(
                    Diagnostic::error(k.expr.span, "a constant key groups nothing")
                        .label(format!("always {v}"))
                        .note("key by a value read at the probe, e.g. `by: [comm]`"),
                );
                continue;
            }
            Err(d) => {
                diags.push(d);
                continue;
            }
            Ok(None) => {}
        }
        match ac.value(&k.expr) {
            Ok(v) => {
                if matches!(v.decode(), Decode::Bytes) {
                    diags.push(
                        Diagnostic::error(k.expr.span, "raw bytes cannot be a key")
                            .label("bytes")
                            .note("keys may be integers, strings, ip4() and ip6() values"),
                    );
                    continue;
                }
                out.push(Key {
                    name: k.name.value.clone(),
                    value: v,
                    span,
                });
            }
            Err(d) => diags.push(d),
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(diags)
    }
}
