//! The compact DSL (`.trace` files and `-e` one-liners) → [`Spec`].
//!
//! ```text
//! spec tcpconnect "Outbound IPv4 TCP connects."
//! param port: u16 = 0 "only this destination port (0 = any)"
//! probe kfunc:tcp_connect as connect {
//!     pid, comm,
//!     daddr = ip4(sk->__sk_common.skc_daddr),
//!     dport = ntohs(sk->__sk_common.skc_dport)
//! } where comm != "sshd" && ($port == 0 || dport == $port)
//! output format table, time relative
//! ```
//!
//! The `probe` keyword is optional, so a one-liner reads like bpftrace:
//! `tracepoint:syscalls:sys_enter_execve { pid, comm, path = str(filename) }`.
//! Without a `spec` line the name is [`DEFAULT_NAME`].

use super::ast::*;
use super::expr::{pair_range, scan_nesting, syntax_error, ExprBuilder, Grammar, Rule, SpanMap};
use super::spec_yaml::{parse_format, parse_time, FORMATS, TIMES};
use crate::diag::{Diagnostic, Span, Spanned};
use pest::iterators::Pair;
use pest::Parser as _;

/// Name of a DSL spec without a `spec` line.
pub const DEFAULT_NAME: &str = "adhoc";

/// Parses DSL text.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    let map = SpanMap::verbatim(0, src.len());
    check_nesting_dsl(src).map_err(|d| vec![d])?;
    super::expr::enable_error_detail();
    let mut pairs =
        Grammar::parse(Rule::dsl, src).map_err(|e| vec![syntax_error(e, src, &map, "the spec")])?;
    let top = pairs.next().map(|p| p.into_inner());
    let b = ExprBuilder { map: &map };
    let mut diags = Vec::new();
    let mut spec = Spec {
        version: None,
        name: Spanned::new(DEFAULT_NAME.to_string(), Span::new(0, 0)),
        description: None,
        params: Vec::new(),
        probes: Vec::new(),
        output: OutputDecl::default(),
        span: Span::new(0, src.len()),
    };
    let mut seen_spec: Option<Span> = None;
    let mut first_stmt: Option<Span> = None;
    for stmt in top.into_iter().flatten() {
        let span = span_of(&stmt);
        if stmt.as_rule() != Rule::EOI {
            first_stmt = first_stmt.or(Some(span));
        }
        let r = match stmt.as_rule() {
            Rule::version_stmt => stmt_version(&b, stmt, &mut spec),
            Rule::spec_stmt => {
                if let Some(first) = seen_spec {
                    diags.push(
                        Diagnostic::error(span, "a spec file holds one `spec` line")
                            .also(first, "first `spec` line"),
                    );
                }
                seen_spec = Some(span);
                stmt_spec(&b, stmt, &mut spec)
            }
            Rule::param_stmt => stmt_param(&b, stmt, &mut spec),
            Rule::probe_stmt => stmt_probe(&b, src, stmt, &mut spec),
            Rule::output_stmt => stmt_output(stmt, &mut spec),
            _ => Ok(()),
        };
        if let Err(d) = r {
            diags.push(d);
        }
    }
    if spec.probes.is_empty() && diags.is_empty() {
        // Point at the `spec` line, else the first statement, else (only
        // comments) the whole file.
        let (at, label) = match (seen_spec, first_stmt) {
            (Some(s), _) => (s, "this spec has no probe"),
            (None, Some(s)) => (s, "no probe follows"),
            (None, None) => (Span::new(0, src.trim_end().len()), "no statement here"),
        };
        diags.push(
            Diagnostic::error(at, "the spec has no probe")
                .label(label)
                .note("add e.g. `probe tracepoint:syscalls:sys_enter_execve { pid, comm }`"),
        );
    }
    if diags.is_empty() {
        Ok(spec)
    } else {
        Err(diags)
    }
}

fn check_nesting_dsl(src: &str) -> Result<(), Diagnostic> {
    scan_nesting(src, &SpanMap::verbatim(0, src.len()), true)
}

fn is_keyword(r: Rule) -> bool {
    matches!(
        r,
        Rule::kw_version
            | Rule::kw_spec
            | Rule::kw_param
            | Rule::kw_probe
            | Rule::kw_output
            | Rule::kw_as
            | Rule::kw_where
    )
}

/// The children of a statement, without its keywords.
fn parts(p: Pair<Rule>) -> impl Iterator<Item = Pair<Rule>> {
    p.into_inner().filter(|q| !is_keyword(q.as_rule()))
}

/// A pair's span, without trailing white space and comments.
fn span_of(p: &Pair<Rule>) -> Span {
    let (s, e) = pair_range(p);
    Span::new(s, e)
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::error(span, "internal error: unexpected parse tree")
}

fn stmt_version(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let v = parts(p).next().ok_or_else(|| internal(span))?;
    let n = b.int(&v)?;
    if n != 1 {
        return Err(
            Diagnostic::error(span_of(&v), format!("unsupported spec version {n}"))
                .label("only version 1 exists"),
        );
    }
    spec.version = Some(Spanned::new(1, span_of(&v)));
    Ok(())
}

fn stmt_spec(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let mut it = parts(p);
    let name = it.next().ok_or_else(|| internal(span))?;
    spec.name = Spanned::new(name.as_str().to_string(), span_of(&name));
    if let Some(d) = it.next() {
        spec.description = Some(Spanned::new(b.string(&d)?, span_of(&d)));
    }
    Ok(())
}

fn stmt_param(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let mut it = parts(p);
    let name = it.next().ok_or_else(|| internal(span))?;
    let ty = it.next().ok_or_else(|| internal(span))?;
    let ty_span = span_of(&ty);
    let parsed = ParamType::parse(ty.as_str()).ok_or_else(|| {
        Diagnostic::error(ty_span, format!("unknown parameter type `{}`", ty.as_str()))
            .label("unknown type")
            .suggest(ty.as_str(), ParamType::NAMES, "types")
    })?;
    let mut default = None;
    let mut description = None;
    for rest in it {
        match rest.as_rule() {
            Rule::literal => {
                let lit = rest.into_inner().next().ok_or_else(|| internal(span))?;
                let s = span_of(&lit);
                let v = match lit.as_rule() {
                    Rule::int => Literal::Int(b.int(&lit)?),
                    Rule::string => Literal::Str(b.string(&lit)?),
                    _ => match lit.as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        other => {
                            return Err(Diagnostic::error(s, format!("`{other}` is not a value"))
                                .label("expected an integer, a string, true or false"))
                        }
                    },
                };
                default = Some(Spanned::new(v, s));
            }
            Rule::string => description = Some(Spanned::new(b.string(&rest)?, span_of(&rest))),
            _ => {}
        }
    }
    spec.params.push(ParamDecl {
        name: Spanned::new(name.as_str().to_string(), span_of(&name)),
        ty: Spanned::new(parsed, ty_span),
        default,
        description,
    });
    Ok(())
}

fn stmt_probe(
    b: &ExprBuilder,
    src: &str,
    p: Pair<Rule>,
    spec: &mut Spec,
) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let mut it = parts(p);
    let probe_name = it.next().ok_or_else(|| internal(span))?;
    let tok = probe_name
        .into_inner()
        .next()
        .ok_or_else(|| internal(span))?;
    let probe = match tok.as_rule() {
        Rule::string => {
            let value = b.string(&tok)?;
            let span = span_of(&tok);
            // Without escapes, the probe is the text between the quotes:
            // point there, so errors can point into it.
            let inner = Span::new(
                span.start as usize + 1,
                (span.end as usize).saturating_sub(1),
            );
            let verbatim = !value.is_empty() && src.get(inner.range()) == Some(value.as_str());
            Spanned::new(value, if verbatim { inner } else { span })
        }
        _ => Spanned::new(tok.as_str().to_string(), span_of(&tok)),
    };
    let mut decl = ProbeDecl {
        probe,
        name: None,
        fields: Vec::new(),
        filter: None,
        span,
    };
    for part in it {
        match part.as_rule() {
            Rule::ident => {
                decl.name = Some(Spanned::new(part.as_str().to_string(), span_of(&part)))
            }
            Rule::fields => {
                for f in part.into_inner() {
                    decl.fields.push(field(b, f)?);
                }
            }
            Rule::expr => decl.filter = Some(b.expr(part)?),
            _ => {}
        }
    }
    if decl.fields.is_empty() {
        return Err(Diagnostic::error(span, "probe without fields")
            .label("nothing to capture")
            .note("list fields between the braces, e.g. `{ pid, comm }`"));
    }
    spec.probes.push(decl);
    Ok(())
}

fn field(b: &ExprBuilder, f: Pair<Rule>) -> Result<FieldDecl, Diagnostic> {
    let span = span_of(&f);
    let mut it = f.into_inner();
    let first = it.next().ok_or_else(|| internal(span))?;
    if first.as_rule() == Rule::ident {
        let e = it.next().ok_or_else(|| internal(span))?;
        return Ok(FieldDecl {
            name: Spanned::new(first.as_str().to_string(), span_of(&first)),
            expr: b.expr(e)?,
        });
    }
    let expr = b.expr(first)?;
    match &expr.kind {
        ExprKind::Ident(n) => Ok(FieldDecl {
            name: Spanned::new(n.clone(), expr.span),
            expr,
        }),
        _ => Err(Diagnostic::error(expr.span, "this field needs a name")
            .label("unnamed field")
            .note(format!("write `NAME = {}`", super::expr::print_expr(&expr)))),
    }
}

fn stmt_output(p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    for opt in parts(p) {
        let span = span_of(&opt);
        let mut it = opt.into_inner();
        let (Some(k), Some(v)) = (it.next(), it.next()) else {
            return Err(internal(span));
        };
        let vs = span_of(&v);
        match k.as_str() {
            "format" => {
                let f = parse_format(v.as_str()).ok_or_else(|| {
                    Diagnostic::error(vs, format!("unknown output format `{}`", v.as_str()))
                        .label("unknown format")
                        .suggest(v.as_str(), FORMATS, "formats")
                })?;
                spec.output.format = Some(Spanned::new(f, vs));
            }
            "time" => {
                let t = parse_time(v.as_str()).ok_or_else(|| {
                    Diagnostic::error(vs, format!("unknown time mode `{}`", v.as_str()))
                        .label("unknown time mode")
                        .suggest(v.as_str(), TIMES, "time modes")
                })?;
                spec.output.time = Some(Spanned::new(t, vs));
            }
            other => {
                return Err(Diagnostic::error(
                    span_of(&k),
                    format!("unknown output setting `{other}`"),
                )
                .label("unknown setting")
                .suggest(other, ["format", "time"], "settings"))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every span in an expression tree.
    fn expr_spans(e: &Expr, out: &mut Vec<Span>) {
        out.push(e.span);
        match &e.kind {
            ExprKind::Call { func, args } => {
                out.push(func.span);
                args.iter().for_each(|a| expr_spans(a, out));
            }
            ExprKind::Member { base, member, .. } => {
                out.push(member.span);
                expr_spans(base, out);
            }
            ExprKind::Index { base, index } => {
                out.push(index.span);
                expr_spans(base, out);
            }
            ExprKind::Not(inner) => expr_spans(inner, out),
            ExprKind::Binary { lhs, rhs, .. } => {
                expr_spans(lhs, out);
                expr_spans(rhs, out);
            }
            _ => {}
        }
    }

    #[test]
    fn spans_end_at_the_last_token() {
        // White space and comments after every construct.
        let src = "version 1   # v\n\
            spec tcpconnect2 \"d\"   # s\n\
            param port : u16 = 0 \"p\"  # p\n\
            probe kfunc:tcp_connect   as   connect   # c\n\
            {  pid  ,  # f\n  d = ip4( sk -> __sk_common . skc_daddr )  ,\n  x = a [ 1 ]  # i\n}\n\
            where ( pid != 0 )   &&   ! comm == \"x\"   # w\n\
            ;\n\
            output format json , time none   # o\n";
        let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
        let mut spans = vec![
            spec.name.span,
            spec.version.as_ref().map(|v| v.span).unwrap_or_default(),
        ];
        spans.extend(spec.description.iter().map(|d| d.span));
        for p in &spec.params {
            spans.push(p.name.span);
            spans.push(p.ty.span);
            spans.extend(p.default.iter().map(|d| d.span));
            spans.extend(p.description.iter().map(|d| d.span));
        }
        for p in &spec.probes {
            spans.push(p.span);
            spans.push(p.probe.span);
            spans.extend(p.name.iter().map(|n| n.span));
            for f in &p.fields {
                spans.push(f.name.span);
                expr_spans(&f.expr, &mut spans);
            }
            if let Some(f) = &p.filter {
                expr_spans(f, &mut spans);
            }
        }
        spans.extend(spec.output.format.iter().map(|f| f.span));
        spans.extend(spec.output.time.iter().map(|t| t.span));
        assert!(spans.len() > 30, "{}", spans.len());
        for s in spans {
            let text = &src[s.range()];
            assert!(!text.is_empty(), "empty span {s:?}");
            assert_eq!(text, text.trim(), "span {s:?} has white space: {text:?}");
            let last_line = text.lines().last().unwrap_or("");
            assert!(
                !last_line.contains('#'),
                "span {s:?} ends in a comment: {text:?}"
            );
        }
        let p = &spec.probes[0];
        assert_eq!(
            &src[p.span.range()],
            &src[src.find("probe k").unwrap()..src.find("\"x\"").unwrap() + 3]
        );
        assert_eq!(
            &src[p.fields[1].expr.span.range()],
            "ip4( sk -> __sk_common . skc_daddr )"
        );
        assert_eq!(
            &src[p.filter.as_ref().unwrap().span.range()],
            "( pid != 0 )   &&   ! comm == \"x\""
        );
    }

    #[test]
    fn syntax_errors_at_the_end_point_at_the_last_token() {
        for (src, last, wanted) in [
            (
                "probe kfunc:x {\n  pid,\n  comm\n\n",
                "comm",
                "expected `,` or `}` before the end of the file",
            ),
            (
                "kfunc:x { pid } where pid != 0 &&  # c\n",
                "&&",
                "expected an expression before the end of the file",
            ),
            (
                "kfunc:x { d = ip4(sk->a.b\n",
                "b",
                "expected `,` or `)` before the end of the file",
            ),
            (
                "spec x \"abc\n",
                "abc",
                "expected `\"` to close the string before the end of the file",
            ),
            (
                "output format",
                "format",
                "expected a name before the end of the file",
            ),
        ] {
            let d = parse(src).expect_err(src);
            assert_eq!(&src[d[0].span.range()], last, "{src:?}: {:?}", d[0]);
            assert!(d[0].message.contains(wanted), "{src:?}: {}", d[0].message);
        }
    }

    #[test]
    fn keywords_are_whole_words() {
        // `asnull` is not `as null`; `probe:x` is a probe of kind `probe`.
        assert!(parse("probe kfunc:x asnull { pid }").is_err());
        let spec = parse("probe:x { pid }").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(spec.probes[0].probe.value, "probe:x");
        let spec =
            parse("probe  kfunc:x as a { pid } where pid").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            spec.probes[0].name.as_ref().map(|n| n.value.as_str()),
            Some("a")
        );
    }
}
