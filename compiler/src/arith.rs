//! Pass 3, **check** (arithmetic, spec-v2 §1): integer expressions become a
//! typed tree the kernel evaluates ([`Calc`]), with constant parts folded.
//!
//! * Operands must be integers (pointers and booleans count): a string,
//!   address, struct or array under an operator is an error at that
//!   operator's operand.
//! * 64-bit, wrapping; the result is signed when either operand's C type is
//!   signed (a negative literal counts as signed), which makes `/`, `%` and
//!   comparisons signed; a shift, as in C, has its left operand's
//!   signedness (`>>` of a signed value is arithmetic).
//! * Division or modulo by a constant zero is an error; by a runtime zero the
//!   kernel gives 0 ([`ArithOp::eval`] is the reference both sides follow).

use crate::check::ParamValues;
use crate::diag::{Diagnostic, Span};
use crate::plan::{ArithOp, Decode};
use crate::resolve::{Capture, Resolver, ValueClass};
use crate::syntax::ast::{BinOp, Expr, ExprKind, Literal, UnOp};

/// An integer expression evaluated in the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Calc {
    /// A captured integer.
    Leaf(Capture),
    /// A constant (two's complement bits).
    Imm(u64),
    /// `a op b`.
    Bin {
        /// Operator.
        op: ArithOp,
        /// Left operand.
        a: Box<Calc>,
        /// Right operand.
        b: Box<Calc>,
        /// Signed `/ % >>`.
        signed: bool,
    },
}

/// A value a field, key, filter operand or aggregate argument names: a
/// capture, or arithmetic over captures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Captured as is.
    Capture(Capture),
    /// Computed in the kernel; `signed` is the result's signedness.
    Computed {
        /// The expression.
        calc: Calc,
        /// Signed result.
        signed: bool,
        /// Printed as a name (`signal(status & 0x7f)`); `None`: a number.
        named: Option<Decode>,
    },
}

impl Value {
    /// How filters compare it.
    pub fn class(&self) -> ValueClass {
        match self {
            Value::Capture(c) => c.class(),
            Value::Computed { signed, .. } => ValueClass::Int { signed: *signed },
        }
    }

    /// How the runtime prints it.
    pub fn decode(&self) -> Decode {
        match self {
            Value::Capture(c) => c.decode,
            Value::Computed { named: Some(d), .. } => *d,
            Value::Computed { signed, .. } => Decode::Int {
                size: 8,
                signed: *signed,
            },
        }
    }
}

/// An operand while typing: a constant (with its signedness) or a value.
enum Term {
    Const(i128),
    Calc(Calc, bool),
}

/// True when `e` is an arithmetic expression (an operator at its root).
pub fn is_arith(e: &Expr) -> bool {
    matches!(
        e.kind,
        ExprKind::Unary { .. }
            | ExprKind::Binary {
                op: BinOp::Arith(_),
                ..
            }
    )
}

/// Types arithmetic for one probe.
pub struct ArithChecker<'r, 'a> {
    /// Resolves the names and paths at the leaves.
    pub resolver: &'r mut Resolver<'a>,
    /// Parameter values (constants).
    pub params: &'r ParamValues,
    /// Names that stand for values already defined (a filter may compute
    /// with the probe's fields): name and value.
    pub names: &'r [(String, Value)],
}

/// The 64-bit bits of a constant, and whether it is negative.
fn bits(v: i128) -> (u64, bool) {
    (v as u64, v < 0)
}

impl ArithChecker<'_, '_> {
    /// Resolves a field, key or aggregate argument: a capture, or
    /// arithmetic over at least one captured value (a constant captures
    /// nothing: an error).
    pub fn value(&mut self, e: &Expr) -> Result<Value, Diagnostic> {
        // A name printed for computed number: `signal(status & 0x7f)`.
        if let ExprKind::Call { func, args } = &e.kind {
            if crate::context::is_name_function(&func.value) && args.first().is_some_and(is_arith) {
                let Value::Computed { calc, signed, .. } = self.value(&args[0])? else {
                    return Err(Diagnostic::error(e.span, "internal error: a computed name"));
                };
                let named = self
                    .resolver
                    .name_decode(&func.value, args, signed, e.span)?;
                return Ok(Value::Computed {
                    calc,
                    signed,
                    named: Some(named),
                });
            }
        }
        if !is_arith(e) {
            return self.resolver.capture(e).map(Value::Capture);
        }
        match self.term(e)? {
            Term::Calc(calc, signed) => Ok(Value::Computed {
                calc,
                signed,
                named: None,
            }),
            Term::Const(v) => Err(Diagnostic::error(e.span, "a constant captures nothing")
                .label(format!("this is always {}", fold_display(v)))
                .note(
                    "arithmetic needs at least one value read at the probe, e.g. `bytes / 1024`",
                )),
        }
    }

    /// The constant value of `e`, if it is one (literals, parameters and
    /// arithmetic over them).
    pub fn constant(&mut self, e: &Expr) -> Result<Option<i128>, Diagnostic> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Some(*v)),
            ExprKind::Param(name) => match self.params.get(name) {
                Some((_, Literal::Int(v))) => Ok(Some(*v)),
                _ => Ok(None),
            },
            _ if is_arith(e) => match self.term(e)? {
                Term::Const(v) => Ok(Some(v)),
                Term::Calc(..) => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// A typed operand. Recursion depth is bounded by the parser's operator
    /// limit (`syntax::expr::MAX_OPERATORS`).
    fn term(&mut self, e: &Expr) -> Result<Term, Diagnostic> {
        match &e.kind {
            ExprKind::Int(v) => Ok(Term::Const(*v)),
            ExprKind::Param(name) => match self.params.get(name) {
                Some((_, Literal::Int(v))) => Ok(Term::Const(*v)),
                Some((t, _)) => Err(Diagnostic::error(
                    e.span,
                    format!(
                        "`${name}` is a {} parameter; arithmetic needs integers",
                        t.name()
                    ),
                )
                .label("not an integer")),
                None => Err(
                    Diagnostic::error(e.span, format!("unknown parameter `${name}`"))
                        .label("not declared in `params`"),
                ),
            },
            ExprKind::Unary { op, expr } => {
                let t = self.operand(
                    expr,
                    match op {
                        UnOp::Neg => "-",
                        UnOp::BitNot => "~",
                    },
                )?;
                let (arith, imm) = match op {
                    UnOp::Neg => (ArithOp::Sub, 0u64),
                    UnOp::BitNot => (ArithOp::BitXor, u64::MAX),
                };
                Ok(match t {
                    Term::Const(v) => Term::Const(match op {
                        UnOp::Neg => wrap(-v),
                        UnOp::BitNot => wrap(!v),
                    }),
                    Term::Calc(c, signed) => {
                        let (a, b) = match op {
                            UnOp::Neg => (Calc::Imm(imm), c),
                            UnOp::BitNot => (c, Calc::Imm(imm)),
                        };
                        Term::Calc(
                            Calc::Bin {
                                op: arith,
                                a: Box::new(a),
                                b: Box::new(b),
                                signed,
                            },
                            // `-x` of an unsigned x is unsigned, as in C.
                            signed,
                        )
                    }
                })
            }
            ExprKind::Binary {
                op: BinOp::Arith(op),
                lhs,
                rhs,
            } => {
                let l = self.operand(lhs, op.as_str())?;
                let r = self.operand(rhs, op.as_str())?;
                if matches!(op, ArithOp::Div | ArithOp::Mod) && matches!(r, Term::Const(0)) {
                    return Err(Diagnostic::error(
                        rhs.span,
                        format!(
                            "{} by zero",
                            if *op == ArithOp::Div {
                                "division"
                            } else {
                                "modulo"
                            }
                        ),
                    )
                    .label("this is always 0")
                    .also(e.span, "in this expression"));
                }
                Ok(match (l, r) {
                    (Term::Const(a), Term::Const(b)) => Term::Const(fold(*op, a, b)),
                    (l, r) => {
                        let (a, sa) = calc_of(l);
                        let (b, sb) = calc_of(r);
                        // As in C, a shift has its left operand's type.
                        let signed = match op {
                            ArithOp::Shl | ArithOp::Shr => sa,
                            _ => sa || sb,
                        };
                        Term::Calc(
                            Calc::Bin {
                                op: *op,
                                a: Box::new(a),
                                b: Box::new(b),
                                signed,
                            },
                            signed,
                        )
                    }
                })
            }
            _ => self.operand(e, "an operator"),
        }
    }

    /// An operand of operator `op`: an integer, or an error at it.
    fn operand(&mut self, e: &Expr, op: &str) -> Result<Term, Diagnostic> {
        match &e.kind {
            ExprKind::Str(_) => return Err(not_integer(e.span, op, "a string literal")),
            ExprKind::Ident(n) if n == "true" || n == "false" => {
                return Err(not_integer(e.span, op, "a boolean"))
            }
            ExprKind::Binary {
                op: BinOp::Cmp(c), ..
            } if matches!(op, "&" | "|" | "^") => {
                // C's precedence: `a & b == c` is `a & (b == c)`.
                let c = BinOp::Cmp(*c).as_str();
                return Err(not_integer(e.span, op, "a comparison").note(format!(
                    "as in C, `{op}` binds less tightly than `{c}`: write `(a {op} b) {c} c` to compare the result"
                )));
            }
            ExprKind::Not(_)
            | ExprKind::Binary {
                op: BinOp::And | BinOp::Or | BinOp::Cmp(_),
                ..
            } => {
                return Err(not_integer(e.span, op, "a condition")
                    .note("conditions belong in `filter:`; compare the computed value there"))
            }
            ExprKind::Call { func, .. } if crate::aggregate::is_aggregate(&func.value) => {
                return Err(Diagnostic::error(
                    e.span,
                    format!("the aggregate `{}()` cannot be computed with", func.value),
                )
                .label(format!("operand of `{op}`"))
                .note("an aggregate is a whole field: `calls: count()`; compute its argument instead, e.g. `hist(bytes / 1024)`"))
            }
            _ => {}
        }
        if is_arith(e) || matches!(e.kind, ExprKind::Int(_) | ExprKind::Param(_)) {
            return self.term(e);
        }
        if let ExprKind::Ident(n) = &e.kind {
            if let Some((_, v)) = self.names.iter().find(|(name, _)| name == n) {
                return match v {
                    Value::Computed { calc, signed, .. } => Ok(Term::Calc(calc.clone(), *signed)),
                    Value::Capture(c) => leaf(c.clone(), e.span, op),
                };
            }
        }
        leaf(self.resolver.capture(e)?, e.span, op)
    }
}

/// A captured operand of `op`: an integer leaf, or an error saying what it is.
fn leaf(c: Capture, span: Span, op: &str) -> Result<Term, Diagnostic> {
    match c.class() {
        ValueClass::Int { signed } => Ok(Term::Calc(Calc::Leaf(c), signed)),
        ValueClass::Str => Err(not_integer(span, op, "a string")),
        ValueClass::Ip4 => Err(not_integer(span, op, "an IPv4 address")
            .note("compute on the raw value: `ntohl(daddr)`, not `ip4(daddr)`")),
        ValueClass::Opaque | ValueClass::Stack => Err(not_integer(span, op, describe(&c))),
    }
}

fn calc_of(t: Term) -> (Calc, bool) {
    match t {
        Term::Calc(c, s) => (c, s),
        Term::Const(v) => {
            let (b, neg) = bits(v);
            (Calc::Imm(b), neg)
        }
    }
}

/// Wraps to 64 bits, keeping the sign of values that fit i64.
fn wrap(v: i128) -> i128 {
    if v >= i64::MIN as i128 && v <= u64::MAX as i128 {
        v
    } else {
        v as u64 as i128
    }
}

fn fold_display(v: i128) -> String {
    v.to_string()
}

/// `a op b` on constants, as C would on 64-bit integers: exact, then
/// wrapped to 64 bits (shift counts modulo 64; `/` truncates; never by 0,
/// which the caller refuses).
fn fold(op: ArithOp, a: i128, b: i128) -> i128 {
    let sh = (b & 63) as u32;
    wrap(match op {
        ArithOp::Add => a + b,
        ArithOp::Sub => a - b,
        ArithOp::Mul => a.wrapping_mul(b),
        ArithOp::Div => a.checked_div(b).unwrap_or(0),
        ArithOp::Mod => a.checked_rem(b).unwrap_or(0),
        ArithOp::BitAnd => a & b,
        ArithOp::BitOr => a | b,
        ArithOp::BitXor => a ^ b,
        ArithOp::Shl => ((a as u64) << sh) as i128,
        ArithOp::Shr if a < 0 => ((a as i64) >> sh) as i128,
        ArithOp::Shr => ((a as u64) >> sh) as i128,
    })
}

fn describe(c: &Capture) -> &'static str {
    match c.decode {
        Decode::Ip6 => "an IPv6 address",
        Decode::Bytes => "raw bytes",
        Decode::IntArray { .. } => "an array",
        Decode::Kstack { .. } | Decode::Ustack { .. } => "a stack, not a number",
        _ => "not an integer",
    }
}

fn not_integer(span: Span, op: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        span,
        format!("`{op}` applies to integers, and this is {what}"),
    )
    .label(format!("{what}, operand of `{op}`"))
}
