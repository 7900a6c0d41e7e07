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
//!
//! Aggregating probes (version 2) list their keys after the fields, before
//! the filter, each a bare name or `NAME = EXPR`:
//!
//! ```text
//! version 2
//! probe kfunc:tcp_sendmsg as send { bytes = sum(size) }
//!     by comm, dport = ntohs(sk->__sk_common.skc_dport) where size > 0
//! output interval 1s, sort bytes, top 10
//! ```

use super::ast::*;
use super::expr::{pair_range, scan_nesting, syntax_error, ExprBuilder, Grammar, Rule, SpanMap};
use super::spec_yaml::{
    parse_bool, parse_format, parse_interval, parse_max_keys, parse_time, parse_top, setting_error,
    FORMATS, OUTPUT_KEYS, TIMES,
};
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
    let mut pairs = Grammar::parse(Rule::dsl, src)
        .map_err(|e| vec![refine(src, syntax_error(e, src, &map, "the spec"))])?;
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

/// The tokens of `src`: words (with a probe's `:rest`), strings, and single
/// punctuation characters; white space and comments skipped.
fn tokens(src: &str) -> Vec<(usize, usize)> {
    let b = src.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        match b[i] {
            c if c.is_ascii_whitespace() => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(b.len());
            }
            c if word(c) => {
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                // `kind:target`
                if b.get(i) == Some(&b':') && b.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace())
                {
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'{' {
                        i += 1;
                    }
                }
            }
            _ => i += src[i..].chars().next().map_or(1, char::len_utf8),
        }
        out.push((start, i.min(b.len())));
    }
    out
}

/// Statement keywords and `where`: what cannot be a `by` key.
const NOT_A_KEY: [&str; 6] = ["where", "probe", "output", "spec", "param", "version"];

/// Sharper messages for syntax errors around `by` and `output`, which the
/// grammar-driven message of [`syntax_error`] states poorly: `by` without
/// keys, a second `by`, output settings without `,` between them.
fn refine(src: &str, d: Diagnostic) -> Diagnostic {
    let toks = tokens(src);
    let text = |t: &(usize, usize)| &src[t.0..t.1];
    // The error's token: the last one (for errors at the end of the file,
    // the span is the last token).
    let start = d.span.start as usize;
    let Some(at) = toks.iter().rposition(|t| t.0 <= start && start < t.1) else {
        return d;
    };
    // `} by` followed by nothing that can be a key.
    let by = toks[..=at]
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(i, t)| text(t) == "by" && *i > 0 && text(&toks[i - 1]) == "}");
    if let Some((i, t)) = by {
        let next = toks.get(i + 1).map(text);
        let missing = match next {
            None => true,
            Some(n) => {
                NOT_A_KEY.contains(&n)
                    || matches!(n, "," | ";" | "{" | "}")
                    || (n.contains(':') && n.starts_with(|c: char| c.is_ascii_alphabetic()))
            }
        };
        if missing {
            return Diagnostic::error(Span::new(t.0, t.1), "`by` without keys")
                .label("expected a key after `by`")
                .note("a key is a name or `NAME = EXPR`: `by comm, dport = ntohs(sk->__sk_common.skc_dport)`");
        }
    }
    let mut d = d;
    let found = text(&toks[at]);
    let since_body = toks[..at]
        .iter()
        .rposition(|t| text(t) == "}")
        .map_or(&toks[..0], |b| &toks[b..at]);
    if found == "by" && since_body.iter().any(|t| text(t) == "by") {
        d = d.note("a probe has one `by`: list every key after it, separated by `,`");
    }
    // `output interval 1s top 10`: a setting name where a statement starts.
    let in_output = toks[..at]
        .iter()
        .rposition(|t| matches!(text(t), "output" | "}" | "{" | ";"))
        .is_some_and(|o| text(&toks[o]) == "output");
    if in_output
        && OUTPUT_KEYS.contains(&found)
        && at >= 2
        && OUTPUT_KEYS.contains(&text(&toks[at - 2]))
    {
        d = d.note("separate output settings with `,`: `output interval 1s, top 10`");
    }
    // `output top` and nothing after it.
    let at_end = toks.get(at + 1).is_none() && src[toks[at].1..].trim().is_empty();
    let takes = match found {
        "interval" => Some("a duration such as `1s` or `250ms`"),
        "cumulative" => Some("`true` or `false`"),
        "sort" => Some("the name of a value or key, such as `sort calls`"),
        "top" => Some("a number of rows, such as `top 10`"),
        "max_keys" => Some("a number of keys, such as `max_keys 10000`"),
        _ => None,
    };
    if let (true, true, Some(t)) = (in_output, at_end, takes) {
        d = d.note(format!("`{found}` takes {t}"));
    }
    d
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
            | Rule::kw_by
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
    let n = super::version::check_number(b.int(&v)?, span_of(&v))?;
    spec.version = Some(Spanned::new(n, span_of(&v)));
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
        by: Vec::new(),
        span,
    };
    // The span of a `by` already read.
    let mut by_at: Option<Span> = None;
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
            Rule::by_clause => {
                let mut inner = part.into_inner();
                let kw = inner.next().ok_or_else(|| internal(span))?;
                let kw_span = span_of(&kw);
                let keys = inner.map(|k| key(b, k)).collect::<Result<Vec<_>, _>>()?;
                if let Some(first) = by_at {
                    return Err(Diagnostic::error(kw_span, "a probe has one `by`")
                        .label("second `by`")
                        .also(first, "first `by`")
                        .note("list every key after one `by`: `by comm, pid`"));
                }
                // The grammar puts a `by` after the filter's expression.
                if let Some(filter) = &decl.filter {
                    let keys: Vec<String> = keys.iter().map(print_key).collect();
                    return Err(Diagnostic::error(kw_span, "`by` after the filter")
                        .label("the keys go before `where`")
                        .also(filter.span, "the filter")
                        .note(format!(
                            "write `{{ … }} by {} where {}`",
                            keys.join(", "),
                            super::expr::print_expr(filter)
                        )));
                }
                by_at = Some(kw_span);
                decl.by = keys;
            }
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

/// One `by` key: `NAME = EXPR`, or a bare name.
fn key(b: &ExprBuilder, k: Pair<Rule>) -> Result<KeyDecl, Diagnostic> {
    let span = span_of(&k);
    let mut it = k.into_inner();
    let first = it.next().ok_or_else(|| internal(span))?;
    if first.as_rule() == Rule::ident {
        let e = it.next().ok_or_else(|| internal(span))?;
        let expr = b.expr(e)?;
        let name = first.as_str().to_string();
        return Ok(KeyDecl {
            // `comm = comm` is `comm`, as in YAML's `by: { comm: comm }`.
            bare: matches!(&expr.kind, ExprKind::Ident(n) if *n == name),
            name: Spanned::new(name, span_of(&first)),
            expr,
        });
    }
    let expr = b.expr(first)?;
    match &expr.kind {
        ExprKind::Ident(n) => Ok(KeyDecl {
            name: Spanned::new(n.clone(), expr.span),
            expr,
            bare: true,
        }),
        _ => Err(Diagnostic::error(expr.span, "this key needs a name")
            .label("unnamed key")
            .note(format!(
                "write `NAME = {0}`, e.g. `{1} = {0}`",
                super::expr::print_expr(&expr),
                super::name_for(&expr)
            ))),
    }
}

/// A key as the DSL writes it.
pub(crate) fn print_key(k: &KeyDecl) -> String {
    if k.bare {
        k.name.value.clone()
    } else {
        format!("{} = {}", k.name.value, super::expr::print_expr(&k.expr))
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
        let text = v.as_str();
        let bad = |key: &str| setting_error(key, vs, &format!("found `{text}`"));
        let o = &mut spec.output;
        match k.as_str() {
            "format" => {
                let f = parse_format(text).ok_or_else(|| {
                    Diagnostic::error(vs, format!("unknown output format `{text}`"))
                        .label("unknown format")
                        .suggest(text, FORMATS, "formats")
                })?;
                o.format = Some(Spanned::new(f, vs));
            }
            "time" => {
                let t = parse_time(text).ok_or_else(|| {
                    Diagnostic::error(vs, format!("unknown time mode `{text}`"))
                        .label("unknown time mode")
                        .suggest(text, TIMES, "time modes")
                })?;
                o.time = Some(Spanned::new(t, vs));
            }
            "interval" => {
                let d = parse_interval(text).ok_or_else(|| bad("interval"))?;
                o.interval = Some(Spanned::new(d, vs));
            }
            "cumulative" => {
                let c = parse_bool(text).ok_or_else(|| bad("cumulative"))?;
                o.cumulative = Some(Spanned::new(c, vs));
            }
            "sort" if super::is_ident(text) => o.sort = Some(Spanned::new(text.to_string(), vs)),
            "sort" => return Err(bad("sort")),
            "top" => {
                let n = parse_top(text).ok_or_else(|| bad("top"))?;
                o.top = Some(Spanned::new(n, vs));
            }
            "max_keys" => {
                let n = parse_max_keys(text).ok_or_else(|| bad("max_keys"))?;
                o.max_keys = Some(Spanned::new(n, vs));
            }
            other => {
                return Err(Diagnostic::error(
                    span_of(&k),
                    format!("unknown output setting `{other}`"),
                )
                .label("unknown setting")
                .suggest(other, OUTPUT_KEYS, "settings"))
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
            ExprKind::Not(inner) | ExprKind::Unary { expr: inner, .. } => expr_spans(inner, out),
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
            output format json , time none   # o\n\
            probe kfunc:tcp_sendmsg { n = count ( ) }   # s\n\
            by  comm  ,  dport = ntohs ( sk -> x ) + - y  # b\n\
            where size > 0   # w\n\
            output interval 1s , top 10 , sort n , cumulative true , max_keys 100   # o\n";
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
            for k in &p.by {
                spans.push(k.name.span);
                expr_spans(&k.expr, &mut spans);
            }
        }
        let o = &spec.output;
        spans.extend(o.format.iter().map(|f| f.span));
        spans.extend(o.time.iter().map(|t| t.span));
        spans.extend(o.interval.iter().map(|t| t.span));
        spans.extend(o.top.iter().map(|t| t.span));
        spans.extend(o.sort.iter().map(|t| t.span));
        spans.extend(o.cumulative.iter().map(|t| t.span));
        spans.extend(o.max_keys.iter().map(|t| t.span));
        assert!(spans.len() > 50, "{}", spans.len());
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
        let p = &spec.probes[1];
        let keys: Vec<(&str, &str, bool)> =
            p.by.iter()
                .map(|k| (&src[k.name.span.range()], &src[k.expr.span.range()], k.bare))
                .collect();
        assert_eq!(
            keys,
            [
                ("comm", "comm", true),
                ("dport", "ntohs ( sk -> x ) + - y", false)
            ]
        );
        assert_eq!(
            &src[p.span.range()],
            &src[src.find("probe kfunc:tcp_s").unwrap()..src.find("size > 0").unwrap() + 8]
        );
        let o = &spec.output;
        assert_eq!(
            o.interval
                .as_ref()
                .map(|i| (i.value.ns, &src[i.span.range()])),
            Some((1_000_000_000, "1s"))
        );
        assert_eq!(
            o.max_keys.as_ref().map(|m| &src[m.span.range()]),
            Some("100")
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
                "expected `)` or `,` before the end of the file",
            ),
            (
                "spec x \"abc\n",
                "abc",
                "expected `\"` to close the string before the end of the file",
            ),
            (
                "output format",
                "format",
                "expected a value before the end of the file",
            ),
            (
                "kfunc:x { n = count() } by comm,",
                ",",
                "expected an expression before the end of the file",
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

    fn err(src: &str) -> Diagnostic {
        let d = parse(src).expect_err(src);
        assert_eq!(d.len(), 1, "{d:?}");
        d.into_iter().next().unwrap()
    }

    #[test]
    fn by_keys_bare_and_named() {
        let src = "probe kfunc:tcp_sendmsg as send { bytes = sum(size) } by comm, dport = ntohs(sk->__sk_common.skc_dport), pid = pid where size > 0";
        let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
        let p = &spec.probes[0];
        let keys: Vec<(&str, String, bool)> =
            p.by.iter()
                .map(|k| {
                    (
                        k.name.value.as_str(),
                        super::super::expr::print_expr(&k.expr),
                        k.bare,
                    )
                })
                .collect();
        assert_eq!(
            keys,
            [
                ("comm", "comm".to_string(), true),
                (
                    "dport",
                    "ntohs(sk->__sk_common.skc_dport)".to_string(),
                    false
                ),
                // `pid = pid` is the bare `pid`, as `pid: pid` in YAML.
                ("pid", "pid".to_string(), true),
            ]
        );
        assert_eq!(
            p.filter
                .as_ref()
                .map(super::super::expr::print_expr)
                .as_deref(),
            Some("size > 0")
        );
        // The keyword is a whole word: `bytes` is not `by tes`, `by:x` a probe.
        let spec = parse("kfunc:x { bytes }\nby:x { pid }").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(spec.probes.len(), 2);
        assert!(spec.probes[0].by.is_empty());
        assert_eq!(spec.probes[1].probe.value, "by:x");
        let spec = parse("kfunc:x { n = count() } by bytes").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(spec.probes[0].by[0].name.value, "bytes");
    }

    #[test]
    fn by_errors() {
        let src = "kfunc:x { n = count() } by comm, ntohs(sk->__sk_common.skc_dport)";
        let d = err(src);
        assert_eq!(d.message, "this key needs a name");
        assert_eq!(&src[d.span.range()], "ntohs(sk->__sk_common.skc_dport)");
        assert_eq!(
            d.notes,
            ["write `NAME = ntohs(sk->__sk_common.skc_dport)`, e.g. `skc_dport = ntohs(sk->__sk_common.skc_dport)`"]
        );

        // Keys after the filter.
        let src = "tracepoint:syscalls:sys_exit_read { size = hist(ret) } where ret > 0 by comm, n = x + 1";
        let d = err(src);
        assert_eq!(d.message, "`by` after the filter");
        assert_eq!(&src[d.span.range()], "by");
        assert_eq!(&src[d.secondary[0].0.range()], "ret > 0");
        assert_eq!(d.notes, ["write `{ … } by comm, n = x + 1 where ret > 0`"]);

        // Two `by`s, either side of the filter, or side by side.
        let src = "kfunc:x { n = count() } by comm where ret > 0 by pid";
        let d = err(src);
        assert_eq!(d.message, "a probe has one `by`");
        assert_eq!(d.span.start as usize, src.rfind("by").unwrap());
        let src = "kfunc:x { n = count() } by comm by pid";
        let d = err(src);
        assert!(d.message.starts_with("syntax error"), "{d:?}");
        assert_eq!(d.span.start as usize, src.rfind("by").unwrap());
        assert!(
            d.notes.iter().any(|n| n.contains("a probe has one `by`")),
            "{d:?}"
        );

        // `by` with nothing after it, or a keyword.
        for (src, by_at) in [
            ("kfunc:x { n = count() } by", 24),
            ("kfunc:x { n = count() } by  # c\n", 24),
            ("kfunc:x { n = count() } by where ret > 0", 24),
            ("kfunc:x { n = count() } by\nkfunc:y { pid }", 24),
            ("kfunc:x { n = count() } by\noutput top 3", 24),
            ("kfunc:x { n = count() } by , comm", 24),
        ] {
            let d = err(src);
            assert_eq!(d.message, "`by` without keys", "{src:?}");
            assert_eq!(d.span, Span::new(by_at, by_at + 2), "{src:?}");
        }
    }

    #[test]
    fn output_settings() {
        let spec = parse(
            "kfunc:x { n = count() }\noutput interval 250ms, cumulative false, sort n, top 3, max_keys 1048576\noutput format csv",
        )
        .unwrap_or_else(|d| panic!("{d:?}"));
        let o = &spec.output;
        assert_eq!(
            o.interval.as_ref().map(|i| &i.value),
            Some(&Duration {
                ns: 250_000_000,
                text: "250ms".into()
            })
        );
        assert_eq!(o.cumulative.as_ref().map(|c| c.value), Some(false));
        assert_eq!(o.sort.as_ref().map(|s| s.value.as_str()), Some("n"));
        assert_eq!(o.top.as_ref().map(|t| t.value), Some(3));
        assert_eq!(o.max_keys.as_ref().map(|m| m.value), Some(1 << 20));
        assert_eq!(
            o.format.as_ref().map(|f| f.value),
            Some(crate::plan::Format::Csv)
        );
        // A bare integer is seconds, kept as `Ns`.
        let spec =
            parse("kfunc:x { n = count() }\noutput interval 5").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            spec.output.interval.map(|i| i.value),
            Some(Duration {
                ns: 5_000_000_000,
                text: "5s".into()
            })
        );
        for (setting, value, message) in [
            (
                "interval",
                "0",
                "interval must be a positive duration such as `1s`",
            ),
            (
                "interval",
                "0ms",
                "interval must be a positive duration such as `1s`",
            ),
            (
                "interval",
                "1.5s",
                "interval must be a positive duration such as `1s`",
            ),
            (
                "interval",
                "soon",
                "interval must be a positive duration such as `1s`",
            ),
            (
                "interval",
                "1000000h",
                "interval must be a positive duration such as `1s`",
            ),
            ("cumulative", "yes", "`cumulative` must be true or false"),
            ("top", "0", "`top` must be an integer of at least 1"),
            ("top", "ten", "`top` must be an integer of at least 1"),
            (
                "top",
                "4294967296",
                "`top` must be an integer of at least 1",
            ),
            (
                "max_keys",
                "0",
                "`max_keys` must be an integer from 1 to 1048576",
            ),
            (
                "max_keys",
                "1048577",
                "`max_keys` must be an integer from 1 to 1048576",
            ),
            ("sort", "1st", "`sort` must be the name of a value or key"),
        ] {
            let src = format!("kfunc:x {{ n = count() }}\noutput {setting} {value}");
            let d = err(&src);
            assert_eq!(d.message, message, "{src}");
            assert_eq!(&src[d.span.range()], value, "{src}");
            assert_eq!(d.label, format!("found `{value}`"), "{src}");
        }
        let src = "kfunc:x { pid }\noutput interval 1s top 5";
        let d = err(src);
        assert_eq!(&src[d.span.range()], "top");
        assert!(
            d.notes
                .iter()
                .any(|n| n.contains("separate output settings with `,`")),
            "{d:?}"
        );
        let d = err("kfunc:x { pid }\noutput top");
        assert_eq!(d.notes, ["`top` takes a number of rows, such as `top 10`"]);
        let d = err("kfunc:x { pid }\noutput sorted n");
        assert_eq!(d.message, "unknown output setting `sorted`");
        assert_eq!(d.notes, ["did you mean `sort`?"]);
    }

    #[test]
    fn versions() {
        for (src, v) in [
            ("version 1\nkfunc:x { pid }", 1),
            ("version 2\nkfunc:x { pid }", 2),
        ] {
            let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
            assert_eq!(spec.version.map(|v| v.value), Some(v));
        }
        let d = err("version 3\nkfunc:x { pid }");
        assert_eq!(d.message, "unsupported spec version 3");
        assert_eq!(d.span, Span::new(8, 9));
    }
}
