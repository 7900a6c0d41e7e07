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
use super::expr::{check_nesting, syntax_error, ExprBuilder, Grammar, Rule, SpanMap};
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
    let mut pairs =
        Grammar::parse(Rule::dsl, src).map_err(|e| vec![syntax_error(e, &map, "the spec")])?;
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
    for stmt in top.into_iter().flatten() {
        let span = span_of(&stmt);
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
            Rule::probe_stmt => stmt_probe(&b, stmt, &mut spec),
            Rule::output_stmt => stmt_output(stmt, &mut spec),
            _ => Ok(()),
        };
        if let Err(d) = r {
            diags.push(d);
        }
    }
    if spec.probes.is_empty() && diags.is_empty() {
        diags.push(
            Diagnostic::error(Span::new(0, src.len().min(1)), "the spec has no probe")
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
    // Probe bodies add one level of braces per probe, never nested: check
    // each statement-sized chunk rather than the whole file.
    let mut start = 0;
    for (i, c) in src.char_indices() {
        if c == '}' {
            check_nesting(&src[start..=i], &SpanMap::verbatim(start, i + 1 - start))?;
            start = i + 1;
        }
    }
    check_nesting(&src[start..], &SpanMap::verbatim(start, src.len() - start))
}

fn span_of(p: &Pair<Rule>) -> Span {
    Span::new(p.as_span().start(), p.as_span().end())
}

fn internal(span: Span) -> Diagnostic {
    Diagnostic::error(span, "internal error: unexpected parse tree")
}

fn stmt_version(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let v = p.into_inner().next().ok_or_else(|| internal(span))?;
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
    let mut it = p.into_inner();
    let name = it.next().ok_or_else(|| internal(span))?;
    spec.name = Spanned::new(name.as_str().to_string(), span_of(&name));
    if let Some(d) = it.next() {
        spec.description = Some(Spanned::new(b.string(&d)?, span_of(&d)));
    }
    Ok(())
}

fn stmt_param(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let mut it = p.into_inner();
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

fn stmt_probe(b: &ExprBuilder, p: Pair<Rule>, spec: &mut Spec) -> Result<(), Diagnostic> {
    let span = span_of(&p);
    let mut it = p.into_inner();
    let probe_name = it.next().ok_or_else(|| internal(span))?;
    let tok = probe_name
        .into_inner()
        .next()
        .ok_or_else(|| internal(span))?;
    let probe = match tok.as_rule() {
        Rule::string => Spanned::new(b.string(&tok)?, span_of(&tok)),
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
    for opt in p.into_inner() {
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
