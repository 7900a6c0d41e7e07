//! Pass 3, **check**: parameters get their values (from `--param` or their
//! defaults, checked against their types), and each filter becomes a typed
//! condition over captured values, with constant parts folded away.

use crate::arith::{is_arith, ArithChecker, Calc, Value};
use crate::diag::{Diagnostic, Span};
use crate::plan::{CmpOp, Decode};
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
    /// Arithmetic computed only for the filter, and where it is written.
    Computed(Calc, Span),
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
    /// The probe's output fields (an aggregating probe's keys): name and value.
    pub fields: &'r [(String, Value)],
    /// Parameter values.
    pub params: &'r ParamValues,
    /// Declared parameter names (for suggestions).
    pub param_names: Vec<&'r str>,
    /// An aggregating probe's aggregate names (a filter cannot read them).
    pub aggregates: Vec<&'r str>,
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
        if is_arith(e) {
            let mut ac = ArithChecker {
                resolver: self.resolver,
                params: self.params,
                names: self.fields,
            };
            if let Some(v) = ac.constant(e)? {
                return Ok(Side::Int(v, e.span));
            }
            return match ac.value(e)? {
                Value::Computed { calc, signed, .. } => Ok(Side::Value(
                    Operand::Computed(calc, e.span),
                    ValueClass::Int { signed },
                    e.span,
                )),
                Value::Capture(c) => {
                    let class = c.class();
                    Ok(Side::Value(Operand::Hidden(c, e.span), class, e.span))
                }
            };
        }
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
                if self.aggregates.contains(&n.as_str()) && !self.resolver.knows_name(n) {
                    return Err(Diagnostic::error(
                        e.span,
                        format!("`{n}` is an aggregate, and a filter runs per event"),
                    )
                    .label("an aggregate of this probe")
                    .note("a filter decides which events are counted; it compares values of the event, e.g. `filter: ret > 0`"));
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
            (Value(o, class @ ValueClass::Int { signed }, vs), Str(s, ss)) => self
                .compare_name(cmp, o, signed, &s, span, ss)
                .unwrap_or_else(|| Err(mismatch(class, "a string", vs, ss))),
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
                (ValueClass::Ip4, ValueClass::Ip4) => Err(Diagnostic::error(
                    span,
                    "addresses compare with `==` and `!=` only",
                )
                .label("ordering comparison on an address")),
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

impl FilterChecker<'_, '_> {
    /// How the runtime prints an operand.
    fn decode_of(&self, o: &Operand) -> Option<Decode> {
        match o {
            Operand::Field(i) => self.fields.get(*i).map(|(_, v)| v.decode()),
            Operand::Hidden(c, _) => Some(c.decode),
            Operand::Computed(..) => None,
        }
    }

    /// A value printed as a name compared with a name: the name's number
    /// (`signal(sig) == "SIGKILL"` is `sig == 9`). `errno()` prints both
    /// signs alike, so a name matches either (`-2` and `2` are `ENOENT`)
    /// and compares with `==` and `!=` only. `None`: not a named value.
    fn compare_name(
        &self,
        cmp: CmpOp,
        o: Operand,
        signed: bool,
        name: &str,
        span: Span,
        ss: Span,
    ) -> Option<Result<Cond, Diagnostic>> {
        let decode = self.decode_of(&o)?;
        let btf = self.resolver.btf;
        if !matches!(decode, Decode::Name { .. } | Decode::Enum { .. }) {
            return None;
        }
        let Some(v) = crate::context::name_value(&decode, btf, name) else {
            let names = crate::context::name_candidates(&decode, btf);
            let what = match decode {
                Decode::Name { table, .. } => format!("`{}()` name", table.func()),
                _ => "enumerator of this enum".to_string(),
            };
            return Some(Err(Diagnostic::error(
                ss,
                format!(
                    "\"{name}\" is not a{} {what}",
                    if what.starts_with('e') { "n" } else { "" }
                ),
            )
            .label("unknown name")
            .suggest(name, names.iter().map(String::as_str), "names")));
        };
        let imm = |v: i64| Cond::CmpImm {
            operand: o.clone(),
            cmp,
            imm: v as u64,
            signed,
        };
        Some(match decode {
            Decode::Name {
                table: crate::names::NameTable::Errno,
                ..
            } => match cmp {
                CmpOp::Eq => Ok(Cond::Or(Box::new(imm(v)), Box::new(imm(-v)))),
                CmpOp::Ne => Ok(Cond::And(Box::new(imm(v)), Box::new(imm(-v)))),
                _ => Err(
                    Diagnostic::error(span, "error names compare with `==` and `!=` only")
                        .label("ordering comparison on an error name")
                        .note(
                            "`errno()` names a value of either sign (`-2` and `2` are both ENOENT)",
                        ),
                ),
            },
            _ => Ok(imm(v)),
        })
    }
}

fn class_name(c: ValueClass) -> &'static str {
    match c {
        ValueClass::Int { .. } => "an integer",
        ValueClass::Str => "a string",
        ValueClass::Ip4 => "an IPv4 address",
        ValueClass::Opaque => "raw bytes",
        ValueClass::Stack => "a stack",
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
        ValueClass::Stack => d.note(
            "a stack is printed, not compared: filter on `pid`, `comm` or the probe's arguments",
        ),
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

    // ---- Filters, compiled against the committed mini BTF fixture. ----

    use crate::compile::{compile_source, Compiled, Options};
    use crate::plan::FilterOp;

    fn fixture() -> &'static crate::btf::Btf {
        static BTF: std::sync::OnceLock<crate::btf::Btf> = std::sync::OnceLock::new();
        BTF.get_or_init(|| {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/mini_vmlinux.btf.o");
            crate::btf::Btf::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
    }

    /// Compiles a DSL spec against the fixture, with `--param` values.
    fn try_compile(src: &str, params: &[(&str, &str)]) -> Result<Compiled, Vec<Diagnostic>> {
        let env = crate::resolve::Env {
            btf: fixture(),
            tracepoints: crate::tracefs::TpSource::Btf(fixture()),
        };
        let opts = Options {
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            require_params: true,
        };
        compile_source("t.trace", src, &env, &opts)
    }

    /// `kfunc:tcp_connect { pid } where COND`, with parameters `a` (i64),
    /// `s` (string) and `b` (bool).
    fn probe(cond: &str) -> String {
        format!(
            "param a: i64 = 0\nparam s: string = \"\"\nparam b: bool = false\n\
             kfunc:tcp_connect {{ pid }} where {cond}"
        )
    }

    /// [`probe`]`(cond)`: the compiled filter program
    /// (`pid` is in slot 16, the first value only the filter reads in 24),
    /// and whether the always-false warning was given.
    fn filter(cond: &str, params: &[(&str, &str)]) -> (Vec<FilterOp>, bool) {
        let c = try_compile(&probe(cond), params).unwrap_or_else(|d| panic!("{cond}: {d:?}"));
        let warned = match c.warnings.as_slice() {
            [] => false,
            [w] if w.message == "this filter is always false" => true,
            w => panic!("{cond}: unexpected warnings {w:?}"),
        };
        (c.plan.probes[0].config.filter.clone(), warned)
    }

    /// The filter `cond` folds to the constant `value`: no filter program
    /// when true; a constant false and the warning when false.
    fn assert_folds(cond: &str, params: &[(&str, &str)], value: bool) {
        let want = if value {
            (vec![], false)
        } else {
            (vec![FilterOp::Const { value: false }], true)
        };
        assert_eq!(filter(cond, params), want, "{cond} with {params:?}");
    }

    /// The single error compiling [`probe`]`(cond)` gives, and the text its
    /// span covers.
    fn filter_error(cond: &str) -> (Diagnostic, String) {
        let src = probe(cond);
        let d = match try_compile(&src, &[]) {
            Ok(c) => panic!("{cond} compiled: {:?}", c.plan.probes[0].config.filter),
            Err(d) => d,
        };
        assert_eq!(d.len(), 1, "{cond}: {d:?}");
        let text = src[d[0].span.range()].to_string();
        (d[0].clone(), text)
    }

    fn imm(slot: u32, cmp: CmpOp, imm: u64, signed: bool) -> FilterOp {
        FilterOp::CmpImm {
            slot,
            cmp,
            imm,
            signed,
        }
    }

    /// Constant comparisons (parameters and literals) fold with the
    /// operator's integer meaning, on either side, beyond 64 bits of sign.
    #[test]
    fn constant_comparisons_fold_like_integers() {
        type Rel = fn(&i128, &i128) -> bool;
        let ops: [(&str, Rel); 6] = [
            ("==", i128::eq),
            ("!=", i128::ne),
            ("<", i128::lt),
            ("<=", i128::le),
            (">", i128::gt),
            (">=", i128::ge),
        ];
        let pairs: [(i128, i128); 5] = [(1, 2), (2, 2), (3, 2), (-1, 1), (-5, -6)];
        for (op, f) in ops {
            for (a, b) in pairs {
                let a_s = a.to_string();
                assert_folds(&format!("$a {op} {b}"), &[("a", &a_s)], f(&a, &b));
                assert_folds(&format!("{a} {op} {b}"), &[], f(&a, &b));
            }
            // u64::MAX is above -1, not its two's-complement twin.
            assert_folds(
                &format!("18446744073709551615 {op} -1"),
                &[],
                f(&(u64::MAX as i128), &-1),
            );
        }
    }

    /// `!` of a constant folds; a bare integer is `!= 0`, a constant one
    /// folds and a captured one becomes a comparison with its own sign.
    #[test]
    fn negation_and_bare_integers() {
        assert_folds("!(1 == 2)", &[], true);
        assert_folds("!(1 == 1)", &[], false);
        assert_folds("!!(1 == 1)", &[], true);
        assert_eq!(
            filter("!(pid == 7)", &[]).0,
            [imm(16, CmpOp::Eq, 7, false), FilterOp::Not]
        );
        assert_folds("0", &[], false);
        assert_folds("7", &[], true);
        assert_folds("-1", &[], true);
        assert_folds("$a", &[("a", "0")], false);
        assert_folds("$a", &[("a", "3")], true);
        assert_folds("!$a", &[("a", "3")], false);
        assert_eq!(filter("pid", &[]).0, [imm(16, CmpOp::Ne, 0, false)]);
        assert_eq!(
            filter("sk->sk_rcvbuf", &[]).0,
            [imm(24, CmpOp::Ne, 0, true)]
        );
        let (d, at) = filter_error("comm");
        assert_eq!(d.message, "a filter needs a condition");
        assert_eq!(at, "comm");
    }

    /// Two constant strings or booleans fold for `==` and `!=`; ordering
    /// them is an error naming both sides, at the whole comparison.
    #[test]
    fn constant_strings_and_booleans_fold_for_equality_only() {
        for (cond, value) in [
            ("\"ab\" == \"ab\"", true),
            ("\"ab\" == \"ac\"", false),
            ("\"ab\" != \"ac\"", true),
            ("\"ab\" != \"ab\"", false),
            ("true == true", true),
            ("false == false", true),
            ("true == false", false),
            ("false != true", true),
            ("true != true", false),
        ] {
            assert_folds(cond, &[], value);
        }
        assert_folds("$s == \"x\"", &[("s", "x")], true);
        assert_folds("$s != \"x\"", &[("s", "x")], false);
        assert_folds("$b == true", &[("b", "yes")], true);
        assert_folds("$b != true", &[("b", "yes")], false);
        for (cond, name) in [
            ("\"ab\" < \"ac\"", "a string"),
            ("\"ab\" >= \"ab\"", "a string"),
            ("false < true", "a boolean"),
            ("true <= true", "a boolean"),
        ] {
            let (d, at) = filter_error(cond);
            assert_eq!(d.message, "these values cannot be compared", "{cond}");
            assert_eq!(d.label, format!("{name} against {name}"), "{cond}");
            assert_eq!(at, cond);
        }
    }

    /// Constants of different kinds cannot be compared: the error spans the
    /// comparison and names each side's kind, in order.
    #[test]
    fn constants_of_different_kinds_are_located_errors() {
        for (cond, label) in [
            ("1 == \"a\"", "an integer against a string"),
            ("\"a\" != 1", "a string against an integer"),
            ("true == 1", "a boolean against an integer"),
            ("$a < true", "an integer against a boolean"),
            ("\"a\" == false", "a string against a boolean"),
            ("$b == $s", "a boolean against a string"),
        ] {
            let (d, at) = filter_error(cond);
            assert_eq!(d.message, "these values cannot be compared", "{cond}");
            assert_eq!(d.label, label, "{cond}");
            assert_eq!(at, cond);
        }
    }

    /// A captured integer against a boolean is `== 1` / `!= 0` (unsigned);
    /// ordering it against a boolean is refused.
    #[test]
    fn integers_against_booleans() {
        assert_eq!(filter("pid == true", &[]).0, [imm(16, CmpOp::Eq, 1, false)]);
        assert_eq!(
            filter("false != pid", &[]).0,
            [imm(16, CmpOp::Ne, 0, false)]
        );
        assert_eq!(
            filter("sk->sk_rcvbuf == $b", &[("b", "1")]).0,
            [imm(24, CmpOp::Eq, 1, false)]
        );
        for cond in ["pid < true", "true >= pid"] {
            let (d, at) = filter_error(cond);
            assert_eq!(d.message, "cannot compare an integer with a boolean");
            assert_eq!(at, cond);
            assert_eq!(
                d.secondary
                    .iter()
                    .map(|(_, l)| l.as_str())
                    .collect::<Vec<_>>(),
                ["an integer", "a boolean"]
            );
            assert!(d.notes.is_empty(), "{d:?}");
        }
    }

    /// Two captured integers compare signed only when both are signed.
    #[test]
    fn two_captured_integers_sign() {
        let cmp = |cond: &str| match filter(cond, &[]).0.as_slice() {
            [FilterOp::CmpSlots { cmp, signed, .. }] => (*cmp, *signed),
            f => panic!("{cond}: {f:?}"),
        };
        assert_eq!(
            cmp("sk->sk_rcvbuf < sk->__sk_common.skc_bound_dev_if"),
            (CmpOp::Lt, true)
        );
        assert_eq!(cmp("sk->sk_rcvbuf >= pid"), (CmpOp::Ge, false));
        assert_eq!(cmp("pid <= sk->sk_rcvbuf"), (CmpOp::Le, false));
        assert_eq!(cmp("pid != sk->__sk_common.skc_family"), (CmpOp::Ne, false));
    }

    /// Two IPv4 addresses compare for equality (unsigned), and only that.
    #[test]
    fn two_addresses_compare_for_equality_only() {
        let (a, b) = (
            "ip4(sk->__sk_common.skc_daddr)",
            "ip4(sk->__sk_common.skc_rcv_saddr)",
        );
        for (op, cmp) in [("==", CmpOp::Eq), ("!=", CmpOp::Ne)] {
            assert_eq!(
                filter(&format!("{a} {op} {b}"), &[]).0,
                [FilterOp::CmpSlots {
                    a: 24,
                    b: 32,
                    cmp,
                    signed: false
                }]
            );
        }
        for op in ["<", "<=", ">", ">="] {
            let cond = format!("{a} {op} {b}");
            let (d, at) = filter_error(&cond);
            assert_eq!(d.message, "addresses compare with `==` and `!=` only");
            assert_eq!(at, cond);
        }
    }

    /// Mismatched comparisons say what each side is, and a number compared
    /// with a string (only that) gets the hint about `str()`.
    #[test]
    fn mismatches_name_both_sides_and_hint_only_at_strings() {
        let (d, at) = filter_error("pid == \"x\"");
        assert_eq!(d.message, "cannot compare an integer with a string");
        assert_eq!(at, "pid == \"x\"");
        assert_eq!(
            d.notes,
            ["compare a number with a number; `str()` reads a string through a pointer"]
        );
        let (d, _) = filter_error("pid == ip4(sk->__sk_common.skc_daddr)");
        assert_eq!(d.message, "cannot compare an integer with an IPv4 address");
        assert!(d.notes.is_empty(), "{d:?}");
        let (d, _) = filter_error("pid > false");
        assert_eq!(d.message, "cannot compare an integer with a boolean");
        assert!(d.notes.is_empty(), "{d:?}");
        let (d, _) = filter_error("comm == 3");
        assert_eq!(d.message, "cannot compare a string with an integer");
        assert_eq!(
            d.notes,
            ["compare a string with a string literal, e.g. `comm == \"bash\"`"]
        );
    }
}
