//! The pest grammar and the builder from its parse tree to [`Expr`].
//!
//! Expressions appear in two places: inside YAML scalars (fields and
//! filters), and inside DSL files. Both go through [`ExprBuilder`], which
//! maps the grammar's byte offsets back to the user's file.

use super::ast::{BinOp, Expr, ExprKind};
use crate::diag::{Diagnostic, Span, Spanned};
use crate::plan::CmpOp;
use pest::iterators::Pair;
use pest::Parser as _;
use pest_derive::Parser;

/// The generated parser (see `grammar.pest`).
#[derive(Parser)]
#[grammar = "syntax/grammar.pest"]
pub struct Grammar;

/// Deepest parenthesis nesting accepted (pest recurses on parentheses).
pub const MAX_NESTING: usize = 32;

/// Maps offsets in the parsed text to spans in the user's file.
#[derive(Debug, Clone, Copy)]
pub struct SpanMap {
    /// Byte offset of the parsed text in the file, when the text appears
    /// verbatim there.
    pub base: Option<u32>,
    /// The span to use when it does not (escaped or folded YAML scalars).
    pub whole: Span,
}

impl SpanMap {
    /// Text that appears verbatim in the file at `base`.
    pub fn verbatim(base: usize, len: usize) -> SpanMap {
        SpanMap {
            base: Some(base as u32),
            whole: Span::new(base, base + len),
        }
    }

    /// Maps a range of the parsed text.
    pub fn span(&self, start: usize, end: usize) -> Span {
        match self.base {
            Some(b) => Span::new(b as usize + start, b as usize + end),
            None => self.whole,
        }
    }
}

/// Most operators (`&&`, `||`, `!`, `->`, `.`, `[`) in one expression; keeps
/// every tree the compiler walks recursively shallow.
pub const MAX_OPERATORS: usize = 128;

/// Rejects text nested deeper than [`MAX_NESTING`], or with more than
/// [`MAX_OPERATORS`] operators, before pest sees it.
pub fn check_nesting(text: &str, map: &SpanMap) -> Result<(), Diagnostic> {
    let mut depth = 0usize;
    let mut ops = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        if in_str {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_str = true,
            '(' | '{' | '[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        map.span(i, i + 1),
                        format!("expression nested deeper than {MAX_NESTING} levels"),
                    )
                    .label("too deep")
                    .note("split the condition, or remove redundant parentheses"));
                }
            }
            ')' | '}' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if matches!(c, '&' | '|' | '!' | '>' | '.' | '[') {
            ops += 1;
            if ops > 2 * MAX_OPERATORS {
                return Err(Diagnostic::error(
                    map.span(i, i + 1),
                    format!("expression has more than {MAX_OPERATORS} operators"),
                )
                .label("too long")
                .note("the in-kernel filter runs at most 32 operations; simplify the condition"));
            }
        }
    }
    Ok(())
}

/// Turns a pest error into a located diagnostic.
pub fn syntax_error(err: pest::error::Error<Rule>, map: &SpanMap, what: &str) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let (s, e) = match err.location {
        InputLocation::Pos(p) => (p, p + 1),
        InputLocation::Span((s, e)) => (s, e.max(s + 1)),
    };
    let expected = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => {
            let mut names: Vec<&str> = positives.iter().filter_map(rule_name).collect();
            names.sort_unstable();
            names.dedup();
            names
        }
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut d = Diagnostic::error(map.span(s, e), format!("syntax error in {what}"));
    d = if expected.is_empty() {
        d.label("unexpected text here")
    } else {
        d.label(format!("expected {}", expected.join(" or ")))
    };
    d
}

fn rule_name(r: &Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident => "a name",
        Rule::int => "an integer",
        Rule::string => "a string",
        Rule::param => "a `$param`",
        Rule::expr | Rule::primary | Rule::postfix | Rule::unary | Rule::cmp => "an expression",
        Rule::cmp_op => "a comparison",
        Rule::or_op => "`||`",
        Rule::and_op => "`&&`",
        Rule::suffix | Rule::arrow_member | Rule::dot_member | Rule::index => "`->`, `.` or `[`",
        Rule::EOI => "end of input",
        Rule::probe_name | Rule::probe_tok => "a probe such as `kfunc:tcp_connect`",
        Rule::fields | Rule::field => "a field",
        Rule::spec_name => "a spec name",
        Rule::literal => "a value",
        Rule::output_opt => "`format …` or `time …`",
        Rule::version_stmt
        | Rule::spec_stmt
        | Rule::param_stmt
        | Rule::output_stmt
        | Rule::probe_stmt => "`spec`, `param`, `probe`, `output` or a probe",
        _ => return None,
    })
}

/// Parses one expression (a YAML field or filter value).
pub fn parse_expr(text: &str, map: &SpanMap, what: &str) -> Result<Expr, Diagnostic> {
    check_nesting(text, map)?;
    let mut pairs =
        Grammar::parse(Rule::expr_only, text).map_err(|e| syntax_error(e, map, what))?;
    let top = pairs.next().and_then(|p| p.into_inner().next());
    match top {
        Some(p) => ExprBuilder { map }.expr(p),
        None => Err(Diagnostic::error(map.whole, format!("empty {what}"))),
    }
}

/// Builds [`Expr`] trees from pest pairs.
pub struct ExprBuilder<'m> {
    /// Offset mapping.
    pub map: &'m SpanMap,
}

impl ExprBuilder<'_> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let s = p.as_span();
        self.map.span(s.start(), s.end())
    }

    /// Builds an `expr` (or any sub-rule of it).
    pub fn expr(&self, p: Pair<Rule>) -> Result<Expr, Diagnostic> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr | Rule::paren => {
                let inner = p.into_inner().next().ok_or_else(|| self.internal(span))?;
                let e = self.expr(inner)?;
                Ok(Expr { span, ..e })
            }
            Rule::or_expr | Rule::and_expr => self.binary_chain(p),
            Rule::unary => {
                let mut nots = 0usize;
                let mut last = None;
                for c in p.into_inner() {
                    if c.as_rule() == Rule::not_op {
                        nots += 1;
                    } else {
                        last = Some(c);
                    }
                }
                let mut e = self.expr(last.ok_or_else(|| self.internal(span))?)?;
                for _ in 0..nots {
                    e = Expr {
                        kind: ExprKind::Not(Box::new(e)),
                        span,
                    };
                }
                Ok(e)
            }
            Rule::cmp => {
                let mut it = p.into_inner();
                let lhs = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
                match (it.next(), it.next()) {
                    (Some(op), Some(rhs)) => {
                        let op = match op.as_str() {
                            "==" => CmpOp::Eq,
                            "!=" => CmpOp::Ne,
                            "<" => CmpOp::Lt,
                            "<=" => CmpOp::Le,
                            ">" => CmpOp::Gt,
                            _ => CmpOp::Ge,
                        };
                        let rhs = self.expr(rhs)?;
                        Ok(Expr {
                            kind: ExprKind::Binary {
                                op: BinOp::Cmp(op),
                                lhs: Box::new(lhs),
                                rhs: Box::new(rhs),
                            },
                            span,
                        })
                    }
                    _ => Ok(lhs),
                }
            }
            Rule::postfix => {
                let mut it = p.into_inner();
                let mut e = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
                for suffix in it {
                    let s = suffix
                        .into_inner()
                        .next()
                        .ok_or_else(|| self.internal(span))?;
                    let end = self.span(&s);
                    let whole = e.span.to(end);
                    let rule = s.as_rule();
                    let arg = s.into_inner().next().ok_or_else(|| self.internal(span))?;
                    let arg_span = self.span(&arg);
                    e = match rule {
                        Rule::index => {
                            let v = self.int(&arg)?;
                            let index = u64::try_from(v).map_err(|_| {
                                Diagnostic::error(arg_span, "array index must be 0 or more")
                            })?;
                            Expr {
                                kind: ExprKind::Index {
                                    base: Box::new(e),
                                    index: Spanned::new(index, arg_span),
                                },
                                span: whole,
                            }
                        }
                        r => Expr {
                            kind: ExprKind::Member {
                                base: Box::new(e),
                                member: Spanned::new(arg.as_str().to_string(), arg_span),
                                arrow: r == Rule::arrow_member,
                            },
                            span: whole,
                        },
                    };
                }
                Ok(e)
            }
            Rule::primary => {
                let inner = p.into_inner().next().ok_or_else(|| self.internal(span))?;
                self.expr(inner)
            }
            Rule::call => {
                let mut it = p.into_inner();
                let f = it.next().ok_or_else(|| self.internal(span))?;
                let func = Spanned::new(f.as_str().to_string(), self.span(&f));
                let args = it.map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                Ok(Expr {
                    kind: ExprKind::Call { func, args },
                    span,
                })
            }
            Rule::param => {
                let name = p.as_str()[1..].to_string();
                Ok(Expr {
                    kind: ExprKind::Param(name),
                    span,
                })
            }
            Rule::int => Ok(Expr {
                kind: ExprKind::Int(self.int(&p)?),
                span,
            }),
            Rule::string => Ok(Expr {
                kind: ExprKind::Str(self.string(&p)?),
                span,
            }),
            Rule::ident => Ok(Expr {
                kind: ExprKind::Ident(p.as_str().to_string()),
                span,
            }),
            _ => Err(self.internal(span)),
        }
    }

    fn binary_chain(&self, p: Pair<Rule>) -> Result<Expr, Diagnostic> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let mut lhs = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
        while let (Some(op), Some(rhs)) = (it.next(), it.next()) {
            let op = if op.as_rule() == Rule::or_op {
                BinOp::Or
            } else {
                BinOp::And
            };
            let rhs = self.expr(rhs)?;
            let s = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span: s,
            };
        }
        Ok(lhs)
    }

    /// Parses an `int` token.
    pub fn int(&self, p: &Pair<Rule>) -> Result<i128, Diagnostic> {
        parse_int(p.as_str()).ok_or_else(|| {
            Diagnostic::error(self.span(p), "integer literal out of range")
                .label("does not fit in 64 bits")
        })
    }

    /// Parses a `string` token (with escapes).
    pub fn string(&self, p: &Pair<Rule>) -> Result<String, Diagnostic> {
        let raw = p.as_str();
        let inner = &raw[1..raw.len().saturating_sub(1).max(1)];
        unescape(inner).map_err(|(off, msg)| {
            let start = p.as_span().start() + 1 + off;
            Diagnostic::error(self.map.span(start, start + 2), msg).label("here")
        })
    }

    fn internal(&self, span: Span) -> Diagnostic {
        Diagnostic::error(span, "internal error: unexpected parse tree")
    }
}

/// Parses a decimal or `0x` hexadecimal integer with optional `-`, within
/// the union of the i64 and u64 ranges.
pub fn parse_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else {
        digits.parse::<u64>().ok()?
    } as i128;
    let v = if neg { -v } else { v };
    (v >= i64::MIN as i128).then_some(v)
}

/// Resolves `\" \\ \n \t \r \0 \xNN` escapes; an error carries the byte
/// offset of the bad escape.
pub fn unescape(s: &str) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, '0')) => out.push('\0'),
            Some((_, 'x')) => {
                let h: String = it.by_ref().take(2).map(|(_, c)| c).collect();
                match u8::from_str_radix(&h, 16) {
                    Ok(b) if b.is_ascii() => out.push(b as char),
                    _ => return Err((i, "`\\x` needs two hex digits below 80".into())),
                }
            }
            Some((_, o)) => return Err((i, format!("unknown escape `\\{o}`"))),
            None => return Err((i, "a string cannot end with `\\`".into())),
        }
    }
    Ok(out)
}

/// Escapes a string for the DSL / expression syntax (inverse of [`unescape`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints an expression in canonical form (minimal parentheses).
pub fn print_expr(e: &Expr) -> String {
    let mut s = String::new();
    print_into(e, 0, &mut s);
    s
}

fn print_into(e: &Expr, min_prec: u8, out: &mut String) {
    match &e.kind {
        ExprKind::Int(v) => out.push_str(&v.to_string()),
        ExprKind::Str(s) => out.push_str(&escape(s)),
        ExprKind::Ident(n) => out.push_str(n),
        ExprKind::Param(n) => {
            out.push('$');
            out.push_str(n);
        }
        ExprKind::Call { func, args } => {
            out.push_str(&func.value);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_into(a, 0, out);
            }
            out.push(')');
        }
        ExprKind::Member {
            base,
            member,
            arrow,
        } => {
            print_into(base, 5, out);
            out.push_str(if *arrow { "->" } else { "." });
            out.push_str(&member.value);
        }
        ExprKind::Index { base, index } => {
            print_into(base, 5, out);
            out.push_str(&format!("[{}]", index.value));
        }
        ExprKind::Not(inner) => {
            out.push('!');
            print_into(inner, 4, out);
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = op.precedence();
            let paren = p < min_prec;
            if paren {
                out.push('(');
            }
            // Comparisons do not chain: both sides bind tighter.
            let (lp, rp) = match op {
                BinOp::Cmp(_) => (p + 1, p + 1),
                _ => (p, p + 1),
            };
            print_into(lhs, lp, out);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            print_into(rhs, rp, out);
            if paren {
                out.push(')');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expr(s, &SpanMap::verbatim(0, s.len()), "test").unwrap()
    }

    #[test]
    fn precedence_and_printing() {
        let e = p(r#"comm != "sshd" && ($port == 0 || dport == $port)"#);
        assert_eq!(
            print_expr(&e),
            r#"comm != "sshd" && ($port == 0 || dport == $port)"#
        );
        let e = p("a || b && !c");
        assert_eq!(print_expr(&e), "a || b && !c");
        let e = p("(a || b) && c");
        assert_eq!(print_expr(&e), "(a || b) && c");
    }

    #[test]
    fn member_paths_and_calls() {
        let e = p("ntohs(sk->__sk_common.skc_dport)");
        assert_eq!(print_expr(&e), "ntohs(sk->__sk_common.skc_dport)");
        let ExprKind::Call { func, args } = &e.kind else {
            panic!("not a call")
        };
        assert_eq!(func.value, "ntohs");
        assert_eq!(func.span, Span::new(0, 5));
        let ExprKind::Member { member, arrow, .. } = &args[0].kind else {
            panic!("not a member")
        };
        assert_eq!(member.value, "skc_dport");
        assert!(!arrow);
        assert_eq!(member.span, Span::new(22, 31));
        assert_eq!(print_expr(&p("a->b[2].c")), "a->b[2].c");
    }

    #[test]
    fn literals() {
        assert_eq!(p("0x10").kind, ExprKind::Int(16));
        assert_eq!(p("-5").kind, ExprKind::Int(-5));
        assert_eq!(p(r#""a\"b\n""#).kind, ExprKind::Str("a\"b\n".into()));
        assert!(parse_expr("99999999999999999999999", &SpanMap::verbatim(0, 23), "t").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "(".repeat(100_000) + "a" + &")".repeat(100_000);
        let err = parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").unwrap_err();
        assert!(err.message.contains("nested deeper"));
        let s = "!".repeat(100_000) + "a";
        assert!(parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").is_err());
        let s = "a".to_string() + &"||a".repeat(100_000);
        assert!(parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").is_err());
    }

    #[test]
    fn syntax_errors_are_located() {
        let err = parse_expr("pid == ", &SpanMap::verbatim(10, 7), "filter").unwrap_err();
        assert_eq!(err.span.start, 17);
        assert!(err.label.contains("expected"), "{}", err.label);
    }
}
