//! The spec as written: the common tree both front ends (YAML and DSL)
//! produce, every node carrying the span it came from.

use crate::diag::{Span, Spanned};

/// A whole spec file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// `version: 1`, when written.
    pub version: Option<Spanned<u64>>,
    /// The spec's name.
    pub name: Spanned<String>,
    /// One-line description.
    pub description: Option<Spanned<String>>,
    /// Declared parameters, in order.
    pub params: Vec<ParamDecl>,
    /// Probes, in order.
    pub probes: Vec<ProbeDecl>,
    /// Output settings, when written.
    pub output: OutputDecl,
    /// Span of the whole document (for errors about missing keys).
    pub span: Span,
    /// The front end it was written in: advice is phrased in its words.
    pub syntax: super::Syntax,
}

/// The type of a `$param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// Unsigned integer of this many bytes.
    Unsigned(u32),
    /// Signed integer of this many bytes.
    Signed(u32),
    /// A string.
    Str,
    /// true / false.
    Bool,
}

impl ParamType {
    /// Every type name, for suggestions.
    pub const NAMES: [&'static str; 10] = [
        "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "string", "bool",
    ];

    /// Parses a type name.
    pub fn parse(s: &str) -> Option<ParamType> {
        Some(match s {
            "u8" => ParamType::Unsigned(1),
            "u16" => ParamType::Unsigned(2),
            "u32" => ParamType::Unsigned(4),
            "u64" => ParamType::Unsigned(8),
            "i8" => ParamType::Signed(1),
            "i16" => ParamType::Signed(2),
            "i32" => ParamType::Signed(4),
            "i64" => ParamType::Signed(8),
            "string" => ParamType::Str,
            "bool" => ParamType::Bool,
            _ => return None,
        })
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        match self {
            ParamType::Unsigned(1) => "u8",
            ParamType::Unsigned(2) => "u16",
            ParamType::Unsigned(4) => "u32",
            ParamType::Unsigned(_) => "u64",
            ParamType::Signed(1) => "i8",
            ParamType::Signed(2) => "i16",
            ParamType::Signed(4) => "i32",
            ParamType::Signed(_) => "i64",
            ParamType::Str => "string",
            ParamType::Bool => "bool",
        }
    }
}

/// A literal value (parameter defaults, `--param` values).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    /// An integer (signed range included).
    Int(i128),
    /// A string.
    Str(String),
    /// A boolean.
    Bool(bool),
}

/// `params:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamDecl {
    /// Name, without `$`.
    pub name: Spanned<String>,
    /// Type.
    pub ty: Spanned<ParamType>,
    /// Default value, when given.
    pub default: Option<Spanned<Literal>>,
    /// Help text.
    pub description: Option<Spanned<String>>,
}

/// `probes:` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeDecl {
    /// The probe as written (`kfunc:tcp_connect`); for a paired probe
    /// (spec-v2 section 3), the start.
    pub probe: Spanned<String>,
    /// The probe that ends this one, as written
    /// (`tracepoint:syscalls:sys_exit_openat`): YAML `end:`, DSL
    /// `START => END`. `None`: not a paired probe.
    pub end: Option<Spanned<String>>,
    /// Which start an end completes (`match:`); `None` where not written
    /// (the default, `tid`, is the semantic passes' to apply).
    pub match_: Option<MatchDecl>,
    /// Optional label.
    pub name: Option<Spanned<String>>,
    /// Output fields, in order.
    pub fields: Vec<FieldDecl>,
    /// In-kernel filter.
    pub filter: Option<Expr>,
    /// `by:` keys of an aggregating probe, in order (empty: none written).
    pub by: Vec<KeyDecl>,
    /// Span of the whole entry.
    pub span: Span,
}

/// `match:` of a paired probe: the names whose values join an end to its
/// start. Names only; the semantic passes check that they exist at each
/// probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchDecl {
    /// The same names at both probes (`match: tid`, `match: [dev, sector]`;
    /// DSL `match dev, sector`), and the span of what was written.
    Same(Vec<Spanned<String>>, Span),
    /// One list per side, paired by position
    /// (`match: { start: [pid], end: [next_pid] }`; DSL
    /// `match pid => next_pid`).
    Sides {
        /// Names read at the start probe.
        start: Vec<Spanned<String>>,
        /// Names read at the end probe, as many as `start`.
        end: Vec<Spanned<String>>,
        /// Span of what was written.
        span: Span,
    },
}

impl MatchDecl {
    /// The span of the whole `match` value.
    pub fn span(&self) -> Span {
        match self {
            MatchDecl::Same(_, span) | MatchDecl::Sides { span, .. } => *span,
        }
    }

    /// The names read at the start probe.
    pub fn start(&self) -> &[Spanned<String>] {
        match self {
            MatchDecl::Same(names, _) => names,
            MatchDecl::Sides { start, .. } => start,
        }
    }

    /// The names read at the end probe.
    pub fn end(&self) -> &[Spanned<String>] {
        match self {
            MatchDecl::Same(names, _) => names,
            MatchDecl::Sides { end, .. } => end,
        }
    }
}

/// One `by:` key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDecl {
    /// Column name (for a bare name, the name itself).
    pub name: Spanned<String>,
    /// The expression.
    pub expr: Expr,
    /// The expression is its own name (`comm`, `comm: comm`, `comm = comm`):
    /// printed back as a bare name.
    pub bare: bool,
}

/// One `name: expression` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDecl {
    /// Output name.
    pub name: Spanned<String>,
    /// The expression.
    pub expr: Expr,
}

/// `output:` settings; `None` where not written.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OutputDecl {
    /// `format:`.
    pub format: Option<Spanned<crate::plan::Format>>,
    /// `time:`.
    pub time: Option<Spanned<crate::plan::TimeMode>>,
    /// `interval:` in nanoseconds, as written (`1s`, `500ms`).
    pub interval: Option<Spanned<Duration>>,
    /// `cumulative:`.
    pub cumulative: Option<Spanned<bool>>,
    /// `sort:` a value (or key) name.
    pub sort: Option<Spanned<String>>,
    /// `top:` rows per print.
    pub top: Option<Spanned<u64>>,
    /// `max_keys:` distinct keys per aggregating probe.
    pub max_keys: Option<Spanned<u64>>,
}

/// A duration as written: its value in nanoseconds and its text (`1s`),
/// kept so `tracectl fmt` prints it back the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duration {
    /// Nanoseconds.
    pub ns: u64,
    /// The text written.
    pub text: String,
}

impl Duration {
    /// Parses `N` followed by a unit: `ns`, `us`, `ms`, `s`, `m`, `h`.
    /// `None` for anything else or more than a year.
    pub fn parse(text: &str) -> Option<Duration> {
        let t = text.trim();
        let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (n, unit) = t.split_at(digits);
        let n: u64 = n.parse().ok()?;
        let mul: u64 = match unit {
            "ns" => 1,
            "us" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let ns = n.checked_mul(mul)?;
        (ns <= 366 * 24 * 3_600_000_000_000).then(|| Duration {
            ns,
            text: t.to_string(),
        })
    }
}

/// An expression with its span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it was written.
    pub span: Span,
}

impl Expr {
    /// True if `pred` holds for this expression or one inside it.
    pub fn any(&self, pred: &mut impl FnMut(&Expr) -> bool) -> bool {
        if pred(self) {
            return true;
        }
        match &self.kind {
            ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Ident(_) | ExprKind::Param(_) => false,
            ExprKind::Call { args, .. } => args.iter().any(|a| a.any(pred)),
            ExprKind::Member { base, .. } | ExprKind::Index { base, .. } => base.any(pred),
            ExprKind::Not(e) | ExprKind::Unary { expr: e, .. } => e.any(pred),
            ExprKind::Binary { lhs, rhs, .. } => lhs.any(pred) || rhs.any(pred),
        }
    }

    /// True if the expression uses the name `n` (a field, argument or
    /// builtin) or the parameter `$n`, as `param` says.
    pub fn mentions(&self, n: &str, param: bool) -> bool {
        self.any(&mut |e| match &e.kind {
            ExprKind::Ident(i) => !param && i == n,
            ExprKind::Param(p) => param && p == n,
            _ => false,
        })
    }
}

impl ProbeDecl {
    /// Every expression the probe holds: fields, keys, filter.
    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.fields
            .iter()
            .map(|f| &f.expr)
            .chain(self.by.iter().map(|k| &k.expr))
            .chain(self.filter.as_ref())
    }
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `||`
    Or,
    /// `&&`
    And,
    /// A comparison.
    Cmp(crate::plan::CmpOp),
    /// An integer operator.
    Arith(crate::plan::ArithOp),
}

impl BinOp {
    /// The operator's spelling.
    pub fn as_str(self) -> &'static str {
        use crate::plan::CmpOp::*;
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Cmp(Eq) => "==",
            BinOp::Cmp(Ne) => "!=",
            BinOp::Cmp(Lt) => "<",
            BinOp::Cmp(Le) => "<=",
            BinOp::Cmp(Gt) => ">",
            BinOp::Cmp(Ge) => ">=",
            BinOp::Arith(a) => a.as_str(),
        }
    }

    /// Binding strength (higher binds tighter), C's order: `||`, `&&`,
    /// (v1's `!` binds here, around a comparison), `|`, `^`, `&`,
    /// comparisons, shifts, `+ -`, `* / %`.
    pub fn precedence(self) -> u8 {
        use crate::plan::ArithOp::*;
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Arith(BitOr) => 4,
            BinOp::Arith(BitXor) => 5,
            BinOp::Arith(BitAnd) => 6,
            BinOp::Cmp(_) => 7,
            BinOp::Arith(Shl | Shr) => 8,
            BinOp::Arith(Add | Sub) => 9,
            BinOp::Arith(Mul | Div | Mod) => 10,
        }
    }
}

/// Prefix operators other than `!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    /// `-e`
    Neg,
    /// `~e`
    BitNot,
}

/// Expression forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExprKind {
    /// An integer literal.
    Int(i128),
    /// A string literal.
    Str(String),
    /// A name: builtin, argument, tracepoint field, or (in filters) an output field.
    Ident(String),
    /// `$name`.
    Param(String),
    /// `f(args)`.
    Call {
        /// Function name.
        func: Spanned<String>,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `base->member` (`arrow`) or `base.member`.
    Member {
        /// The struct or pointer.
        base: Box<Expr>,
        /// Member name.
        member: Spanned<String>,
        /// `->` rather than `.`.
        arrow: bool,
    },
    /// `base[index]` with a constant index.
    Index {
        /// The array or pointer.
        base: Box<Expr>,
        /// The index.
        index: Spanned<u64>,
    },
    /// `!e`.
    Not(Box<Expr>),
    /// `-e` or `~e`.
    Unary {
        /// Operator.
        op: UnOp,
        /// Operand.
        expr: Box<Expr>,
    },
    /// `l op r`.
    Binary {
        /// Operator.
        op: BinOp,
        /// Left operand.
        lhs: Box<Expr>,
        /// Right operand.
        rhs: Box<Expr>,
    },
}
