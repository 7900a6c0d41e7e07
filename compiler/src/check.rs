//! Pass 3, **check**: parameters get their values (from `--param` or their
//! defaults, checked against their types), and each filter becomes a typed
//! condition over captured values, with constant parts folded away.

use crate::diag::{Diagnostic, Span};
use crate::plan::CmpOp;
use crate::resolve::{Capture, Resolver, ValueClass};
use crate::syntax::ast::{BinOp, Expr, ExprKind, Literal, ParamDecl, ParamType, Spec};
use std::collections::HashMap;

/// Parameter values by name.
pub type ParamValues = HashMap<String, (ParamType, Literal)>;

/// Binds parameter values: `given` (NAME=VALUE pairs) over the defaults.
/// With `require` false, a parameter with neither gets a neutral value
/// (`tracectl check` validates specs without running them).
pub fn bind_params(
    spec: &Spec,
    given: &[(String, String)],
    require: bool,
) -> Result<ParamValues, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut out = ParamValues::new();
    for (name, _) in given {
        if !spec.params.iter().any(|p| &p.name.value == name) {
            let mut d = Diagnostic::error(
                spec.name.span,
                format!("--param {name}: the spec has no parameter `{name}`"),
            )
            .label("in this spec");
            d = d.suggest(
                name,
                spec.params.iter().map(|p| p.name.value.as_str()),
                "parameters",
            );
            if spec.params.is_empty() {
                d = d.note("this spec declares no parameters");
            }
            diags.push(d);
        }
    }
    for p in &spec.params {
        let value = match given.iter().rev().find(|(n, _)| n == &p.name.value) {
            Some((_, v)) => parse_value(p, v).map_err(|m| {
                Diagnostic::error(p.name.span, format!("--param {}={v}: {m}", p.name.value))
                    .label(format!("declared as {}", p.ty.value.name()))
            }),
            None => match &p.default {
                Some(d) => check_literal(p.ty.value, &d.value).map_err(|m| {
                    Diagnostic::error(d.span, format!("default of `{}`: {m}", p.name.value))
                        .label(format!("declared as {}", p.ty.value.name()))
                        .also(p.ty.span, "type declared here")
                }),
                None if require => Err(Diagnostic::error(
                    p.name.span,
                    format!("parameter `{}` has no value", p.name.value),
                )
                .label("no default")
                .note(format!("pass --param {}=VALUE", p.name.value))),
                None => Ok(neutral_value(p.ty.value)),
            },
        };
        match value {
            Ok(v) => {
                out.insert(p.name.value.clone(), (p.ty.value, v));
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

/// The value a parameter of type `t` takes when it has none (`check`), or
/// when its own value is wrong (so that its uses are still checked): `0`,
/// `""` or `false`.
pub fn neutral_value(t: ParamType) -> Literal {
    match t {
        ParamType::Str => Literal::Str(String::new()),
        ParamType::Bool => Literal::Bool(false),
        _ => Literal::Int(0),
    }
}

fn int_range(t: ParamType) -> (i128, i128) {
    match t {
        ParamType::Unsigned(n) => (0, (1i128 << (8 * n)) - 1),
        ParamType::Signed(n) => (-(1i128 << (8 * n - 1)), (1i128 << (8 * n - 1)) - 1),
        _ => (0, 0),
    }
}

fn check_literal(t: ParamType, v: &Literal) -> Result<Literal, String> {
    match (t, v) {
        (ParamType::Str, Literal::Str(_)) | (ParamType::Bool, Literal::Bool(_)) => Ok(v.clone()),
        (ParamType::Unsigned(_) | ParamType::Signed(_), Literal::Int(i)) => {
            let (lo, hi) = int_range(t);
            if *i < lo || *i > hi {
                Err(format!(
                    "{i} is out of range for {} ({lo}..={hi})",
                    t.name()
                ))
            } else {
                Ok(v.clone())
            }
        }
        (ParamType::Str, other) => Err(format!("expected a string, found {}", lit_kind(other))),
        (ParamType::Bool, other) => {
            Err(format!("expected true or false, found {}", lit_kind(other)))
        }
        (_, other) => Err(format!("expected an integer, found {}", lit_kind(other))),
    }
}

fn lit_kind(l: &Literal) -> &'static str {
    match l {
        Literal::Int(_) => "an integer",
        Literal::Str(_) => "a string",
        Literal::Bool(_) => "a boolean",
    }
}

fn parse_value(p: &ParamDecl, v: &str) -> Result<Literal, String> {
    let lit = match p.ty.value {
        ParamType::Str => Literal::Str(v.to_string()),
        ParamType::Bool => match v {
            "true" | "1" | "yes" => Literal::Bool(true),
            "false" | "0" | "no" => Literal::Bool(false),
            _ => return Err("expected true or false".into()),
        },
        _ => Literal::Int(
            crate::syntax::expr::parse_int(v.trim())
                .ok_or_else(|| "expected an integer".to_string())?,
        ),
    };
    check_literal(p.ty.value, &lit)
}

/// A value a condition reads: an output field, or a hidden capture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    /// The probe's output field with this index.
    Field(usize),
    /// A value captured only for the filter, and where the filter names it.
    Hidden(Capture, Span),
}

/// A typed, folded filter condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// Always true or false.
    Const(bool),
    /// Operand compared with a constant.
    CmpImm {
        /// The value.
        operand: Operand,
        /// Operator.
        cmp: CmpOp,
        /// Constant (two's complement bits).
        imm: u64,
        /// Signed compare.
        signed: bool,
    },
    /// Two operands compared.
    CmpOperands {
        /// Left.
        a: Operand,
        /// Right.
        b: Operand,
        /// Operator.
        cmp: CmpOp,
        /// Signed compare.
        signed: bool,
    },
    /// String operand against a constant.
    CmpStr {
        /// The value.
        operand: Operand,
        /// The constant.
        text: Vec<u8>,
        /// Prefix match.
        prefix: bool,
        /// `!=`.
        negate: bool,
        /// Where the string constant was written.
        span: Span,
    },
    /// Conjunction.
    And(Box<Cond>, Box<Cond>),
    /// Disjunction.
    Or(Box<Cond>, Box<Cond>),
    /// Negation.
    Not(Box<Cond>),
}

/// Either side of a comparison.
enum Side {
    Value(Operand, ValueClass, Span),
    Int(i128, Span),
    Str(String, Span),
    Bool(bool, Span),
}

/// Types a probe's filter.
pub struct FilterChecker<'r, 'a> {
    /// Resolves names that are not output fields.
    pub resolver: &'r mut Resolver<'a>,
    /// The probe's output fields: name and capture.
    pub fields: &'r [(String, Capture)],
    /// Parameter values.
    pub params: &'r ParamValues,
    /// Declared parameter names (for suggestions).
    pub param_names: Vec<&'r str>,
}

fn flip(c: CmpOp) -> CmpOp {
    match c {
        CmpOp::Lt => CmpOp::Gt,
        CmpOp::Le => CmpOp::Ge,
        CmpOp::Gt => CmpOp::Lt,
        CmpOp::Ge => CmpOp::Le,
        o => o,
    }
}

fn eval(c: CmpOp, a: i128, b: i128) -> bool {
    match c {
        CmpOp::Eq => a == b,
        CmpOp::Ne => a != b,
        CmpOp::Lt => a < b,
        CmpOp::Le => a <= b,
        CmpOp::Gt => a > b,
        CmpOp::Ge => a >= b,
    }
}

impl FilterChecker<'_, '_> {
    /// Types and folds a filter expression.
    pub fn cond(&mut self, e: &Expr) -> Result<Cond, Diagnostic> {
        match &e.kind {
            ExprKind::Binary {
                op: BinOp::And,
                lhs,
                rhs,
            } => {
                let (l, r) = (self.cond(lhs)?, self.cond(rhs)?);
                Ok(match (l, r) {
                    (Cond::Const(false), _) | (_, Cond::Const(false)) => Cond::Const(false),
                    (Cond::Const(true), x) | (x, Cond::Const(true)) => x,
                    (l, r) => Cond::And(Box::new(l), Box::new(r)),
                })
            }
            ExprKind::Binary {
                op: BinOp::Or,
                lhs,
                rhs,
            } => {
                let (l, r) = (self.cond(lhs)?, self.cond(rhs)?);
                Ok(match (l, r) {
                    (Cond::Const(true), _) | (_, Cond::Const(true)) => Cond::Const(true),
                    (Cond::Const(false), x) | (x, Cond::Const(false)) => x,
                    (l, r) => Cond::Or(Box::new(l), Box::new(r)),
                })
            }
            ExprKind::Not(inner) => Ok(match self.cond(inner)? {
                Cond::Const(b) => Cond::Const(!b),
                c => Cond::Not(Box::new(c)),
            }),
            ExprKind::Binary {
                op: BinOp::Cmp(cmp),
                lhs,
                rhs,
            } => {
                let l = self.side(lhs)?;
                let r = self.side(rhs)?;
                self.compare(*cmp, l, r, e.span)
            }
            _ => match self.side(e)? {
                Side::Bool(b, _) => Ok(Cond::Const(b)),
                Side::Int(i, _) => Ok(Cond::Const(i != 0)),
                Side::Value(op, ValueClass::Int { signed }, _) => Ok(Cond::CmpImm {
                    operand: op,
                    cmp: CmpOp::Ne,
                    imm: 0,
                    signed,
                }),
                _ => Err(Diagnostic::error(e.span, "a filter needs a condition")
                    .label("this is not true or false")
                    .note("compare it: e.g. `comm == \"bash\"`, `pid != 0`")),
            },
        }
    }

    fn side(&mut self, e: &Expr) -> Result<Side, Diagnostic> {
        match &e.kind {
            ExprKind::Int(i) => Ok(Side::Int(*i, e.span)),
            ExprKind::Str(s) => Ok(Side::Str(s.clone(), e.span)),
            ExprKind::Ident(n) if n == "true" || n == "false" => {
                Ok(Side::Bool(n == "true", e.span))
            }
            ExprKind::Param(name) => match self.params.get(name) {
                Some((_, Literal::Int(i))) => Ok(Side::Int(*i, e.span)),
                Some((_, Literal::Str(s))) => Ok(Side::Str(s.clone(), e.span)),
                Some((_, Literal::Bool(b))) => Ok(Side::Bool(*b, e.span)),
                None => Err(
                    Diagnostic::error(e.span, format!("unknown parameter `${name}`"))
                        .label("not declared in `params`")
                        .suggest(name, self.param_names.iter().copied(), "parameters"),
                ),
            },
            ExprKind::Binary { .. } | ExprKind::Not(_) => {
                Err(Diagnostic::error(e.span, "a condition cannot be compared")
                    .label("expected a value")
                    .note("comparisons do not chain; join conditions with `&&` or `||`"))
            }
            ExprKind::Ident(n) => {
                if let Some(i) = self.fields.iter().position(|(f, _)| f == n) {
                    let class = self.fields[i].1.class();
                    return Ok(Side::Value(Operand::Field(i), class, e.span));
                }
                if !self.resolver.knows_name(n) {
                    let fields: Vec<&str> = self.fields.iter().map(|(f, _)| f.as_str()).collect();
                    return Err(self.resolver.unknown_name(n, e.span, &fields));
                }
                let c = self.resolver.capture(e)?;
                let class = c.class();
                Ok(Side::Value(Operand::Hidden(c, e.span), class, e.span))
            }
            _ => {
                let c = self.resolver.capture(e)?;
                let class = c.class();
                Ok(Side::Value(Operand::Hidden(c, e.span), class, e.span))
            }
        }
    }

    fn compare(&mut self, cmp: CmpOp, l: Side, r: Side, span: Span) -> Result<Cond, Diagnostic> {
        use Side::*;
        let ordering = !matches!(cmp, CmpOp::Eq | CmpOp::Ne);
        match (l, r) {
            (Int(a, _), Int(b, _)) => Ok(Cond::Const(eval(cmp, a, b))),
            (Str(a, _), Str(b, _)) if !ordering => Ok(Cond::Const((a == b) == (cmp == CmpOp::Eq))),
            (Bool(a, _), Bool(b, _)) if !ordering => {
                Ok(Cond::Const((a == b) == (cmp == CmpOp::Eq)))
            }
            // `CONST op value` is checked as `value flip(op) CONST`.
            (l @ (Int(..) | Str(..) | Bool(..)), r @ Value(..)) => {
                self.compare(flip(cmp), r, l, span)
            }
            (Value(o, class, vs), Int(i, is)) => match class {
                ValueClass::Int { signed } => Ok(Cond::CmpImm {
                    operand: o,
                    cmp,
                    imm: i as u64,
                    signed,
                }),
                _ => Err(mismatch(class, "an integer", vs, is)),
            },
            (Value(o, class, vs), Str(s, ss)) => match class {
                ValueClass::Str => {
                    if ordering {
                        return Err(Diagnostic::error(
                            span,
                            "strings compare with `==` and `!=` only",
                        )
                        .label("ordering comparison on a string"));
                    }
                    let (text, prefix) = match s.strip_suffix('*') {
                        Some(p) => (p.as_bytes().to_vec(), true),
                        None => (s.as_bytes().to_vec(), false),
                    };
                    if text.contains(&0) {
                        return Err(Diagnostic::error(ss, "string constants cannot contain NUL"));
                    }
                    Ok(Cond::CmpStr {
                        operand: o,
                        text,
                        prefix,
                        negate: cmp == CmpOp::Ne,
                        span: ss,
                    })
                }
                ValueClass::Ip4 => {
                    let ip: std::net::Ipv4Addr = s.parse().map_err(|_| {
                        Diagnostic::error(ss, format!("`{s}` is not an IPv4 address"))
                            .label("expected a dotted quad such as \"127.0.0.1\"")
                    })?;
                    if ordering {
                        return Err(Diagnostic::error(
                            span,
                            "addresses compare with `==` and `!=` only",
                        )
                        .label("ordering comparison on an address"));
                    }
                    Ok(Cond::CmpImm {
                        operand: o,
                        cmp,
                        imm: u32::from_le_bytes(ip.octets()) as u64,
                        signed: false,
                    })
                }
                _ => Err(mismatch(class, "a string", vs, ss)),
            },
            (Value(o, class, vs), Bool(b, bs)) => match class {
                ValueClass::Int { .. } if !ordering => Ok(Cond::CmpImm {
                    operand: o,
                    cmp,
                    imm: b as u64,
                    signed: false,
                }),
                _ => Err(mismatch(class, "a boolean", vs, bs)),
            },
            (Value(a, ca, sa), Value(b, cb, sb)) => match (ca, cb) {
                (ValueClass::Int { signed: s1 }, ValueClass::Int { signed: s2 }) => {
                    Ok(Cond::CmpOperands {
                        a,
                        b,
                        cmp,
                        signed: s1 && s2,
                    })
                }
                (ValueClass::Ip4, ValueClass::Ip4) if !ordering => Ok(Cond::CmpOperands {
                    a,
                    b,
                    cmp,
                    signed: false,
                }),
                (ValueClass::Str, ValueClass::Str) => Err(Diagnostic::error(
                    span,
                    "comparing two captured strings is not supported in the kernel",
                )
                .label("string against string")
                .also(sa, "a string")
                .also(sb, "a string")
                .note("compare a string with a literal, e.g. `comm == \"bash\"`")),
                _ => Err(mismatch(ca, class_name(cb), sa, sb)),
            },
            (l, r) => {
                let (ls, rs) = (side_span(&l), side_span(&r));
                Err(
                    Diagnostic::error(ls.to(rs), "these values cannot be compared").label(format!(
                        "{} against {}",
                        side_name(&l),
                        side_name(&r)
                    )),
                )
            }
        }
    }
}

fn class_name(c: ValueClass) -> &'static str {
    match c {
        ValueClass::Int { .. } => "an integer",
        ValueClass::Str => "a string",
        ValueClass::Ip4 => "an IPv4 address",
        ValueClass::Opaque => "raw bytes",
    }
}

fn mismatch(class: ValueClass, other: &str, vs: Span, os: Span) -> Diagnostic {
    let mut d = Diagnostic::error(
        vs.to(os),
        format!("cannot compare {} with {other}", class_name(class)),
    )
    .also(vs, class_name(class))
    .also(os, other.to_string());
    d = match class {
        ValueClass::Opaque => d.note("ip6() and bytes() values cannot be compared in the kernel"),
        ValueClass::Str => {
            d.note("compare a string with a string literal, e.g. `comm == \"bash\"`")
        }
        ValueClass::Ip4 => {
            d.note("compare an address with a dotted quad, e.g. `daddr == \"127.0.0.1\"`")
        }
        ValueClass::Int { .. } if other == "a string" => {
            d.note("compare a number with a number; `str()` reads a string through a pointer")
        }
        ValueClass::Int { .. } => d,
    };
    d
}

fn side_span(s: &Side) -> Span {
    match s {
        Side::Value(_, _, s) | Side::Int(_, s) | Side::Str(_, s) | Side::Bool(_, s) => *s,
    }
}

fn side_name(s: &Side) -> &'static str {
    match s {
        Side::Value(_, c, _) => class_name(*c),
        Side::Int(..) => "an integer",
        Side::Str(..) => "a string",
        Side::Bool(..) => "a boolean",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A spec declaring one parameter per type, none with a default.
    fn spec() -> Spec {
        let src = "name: t\nparams:\n".to_string()
            + &[
                "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "string", "bool",
            ]
            .iter()
            .map(|t| format!("  p_{t}: {{ type: {t} }}\n"))
            .collect::<String>()
            + "probes:\n  - probe: tracepoint:syscalls:sys_enter_openat\n    fields: { pid: pid }\n";
        crate::syntax::parse("t.yaml", &src).unwrap_or_else(|d| panic!("{d:?}"))
    }

    fn bind(given: &[(&str, &str)], require: bool) -> Result<ParamValues, Vec<Diagnostic>> {
        let given: Vec<(String, String)> = given
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        bind_params(&spec(), &given, require)
    }

    /// Every integer type accepts exactly its range: both ends pass, one
    /// past either end is refused with the range in the message.
    #[test]
    fn integer_params_accept_exactly_their_range() {
        let cases: [(&str, i128, i128); 8] = [
            ("u8", 0, 255),
            ("u16", 0, 65_535),
            ("u32", 0, 4_294_967_295),
            ("u64", 0, u64::MAX as i128),
            ("i8", -128, 127),
            ("i16", -32_768, 32_767),
            ("i32", -2_147_483_648, 2_147_483_647),
            ("i64", i64::MIN as i128, i64::MAX as i128),
        ];
        for (t, lo, hi) in cases {
            let name = format!("p_{t}");
            for ok in [lo, hi] {
                let v = bind(&[(&name, &ok.to_string())], false)
                    .unwrap_or_else(|d| panic!("{t} = {ok} refused: {d:?}"));
                assert_eq!(v[&name].1, Literal::Int(ok), "{t}");
            }
            for bad in [lo - 1, hi + 1] {
                let d = bind(&[(&name, &bad.to_string())], false)
                    .expect_err(&format!("{t} = {bad} accepted"));
                assert_eq!(d.len(), 1, "{d:?}");
                let m = &d[0].message;
                // Beyond 64 bits it is no integer literal at all.
                let why = if bad > u64::MAX as i128 || bad < i64::MIN as i128 {
                    "expected an integer".to_string()
                } else {
                    format!("out of range for {t} ({lo}..={hi})")
                };
                assert!(m.contains(&why), "{t} = {bad}: {m}");
            }
        }
    }

    /// `check` (require = false) gives each missing parameter a neutral value
    /// of its own type; `run` (require = true) refuses every missing one.
    #[test]
    fn missing_params_neutral_for_check_refused_for_run() {
        let v = bind(&[], false).unwrap();
        assert_eq!(v["p_string"].1, Literal::Str(String::new()));
        assert_eq!(v["p_bool"].1, Literal::Bool(false));
        assert_eq!(v["p_u32"].1, Literal::Int(0));
        assert_eq!(v["p_i8"].1, Literal::Int(0));
        let d = bind(&[("p_u8", "1")], true).unwrap_err();
        assert_eq!(d.len(), 9, "{d:?}");
        assert!(
            d.iter()
                .all(|d| d.message.ends_with("has no value")
                    && d.message.starts_with("parameter `p_"))
        );
        assert!(!d.iter().any(|d| d.message.contains("`p_u8`")));
    }

    /// Booleans and strings parse their own spellings only.
    #[test]
    fn bool_and_string_values() {
        for (s, b) in [
            ("true", true),
            ("1", true),
            ("yes", true),
            ("false", false),
            ("0", false),
            ("no", false),
        ] {
            assert_eq!(
                bind(&[("p_bool", s)], false).unwrap()["p_bool"].1,
                Literal::Bool(b)
            );
        }
        assert!(bind(&[("p_bool", "maybe")], false).is_err());
        assert_eq!(
            bind(&[("p_string", "12")], false).unwrap()["p_string"].1,
            Literal::Str("12".into())
        );
        assert!(bind(&[("p_u8", "x")], false).is_err());
        let d = bind(&[("nope", "1")], false).unwrap_err();
        assert!(d[0].message.contains("no parameter `nope`"), "{d:?}");
    }
}
