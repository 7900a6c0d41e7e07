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
//!
//! A paired probe (version 2) names its end probe after `=>`; its `match`
//! comes right after the fields, before `by` and `where`: one list of names
//! (`match dev, sector`), or the start's names `=>` the end's:
//!
//! ```text
//! probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch {
//!     usecs = hist(latency / 1000)
//! } match pid => next_pid by comm where latency > 1000
//! ```
//!
//! A `match` name cannot be one of the DSL's keywords (`by`, `where`,
//! `match`, `probe`, `output`, `spec`, `param`, `version`).

use super::ast::*;
use super::expr::{
    expects_statement, pair_range, scan_nesting, syntax_error, ExprBuilder, Grammar, Rule, SpanMap,
    YAML_GIVEN,
};
use super::spec_yaml::{
    parse_bool, parse_format, parse_interval, parse_max_keys, parse_time, parse_top, setting_error,
    FORMATS, OUTPUT_KEYS, TIMES,
};
use super::{recover, Dropped, Parsed};
use crate::diag::{Diagnostic, Span, Spanned};
use pest::iterators::Pair;
use pest::Parser as _;

/// Name of a DSL spec without a `spec` line.
pub const DEFAULT_NAME: &str = "adhoc";

/// Parses DSL text.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    parse_partial(src).into_result()
}

/// Most statements with syntax errors recovered from in one text; past
/// that the rest is not parsed (each recovery parses the text again).
const MAX_RECOVERIES: usize = 50;

/// Parses DSL text as far as it can. A statement with a syntax error is
/// reported, then blanked out (its bytes become spaces, so every span
/// stays where it was) and the text parsed again: the error of each bad
/// statement is reported, the good ones are kept, and the targets of the
/// probes left out are named in [`Dropped`].
pub fn parse_partial(src: &str) -> Parsed {
    let mut diags = Vec::new();
    let mut dropped = Dropped::default();
    if let Err(d) = check_nesting_dsl(src) {
        // Unbalanced brackets: no statement boundary can be trusted.
        return Parsed {
            spec: None,
            diags: vec![d],
            dropped,
        };
    }
    super::expr::enable_error_detail();
    let map = SpanMap::verbatim(0, src.len());
    let mut text = std::borrow::Cow::Borrowed(src);
    let mut recoveries = 0;
    let top = loop {
        match Grammar::parse(Rule::dsl, &text) {
            Ok(mut pairs) => break pairs.next().map(|p| p.into_inner()),
            Err(e) => {
                let d = refine(&text, syntax_error(e, &text, &map, "the spec"));
                let at = d.span.start as usize;
                let between = expects_statement(&d);
                // A YAML spec in a DSL file: one error says so; the rest
                // would be noise.
                let wrong_language = d.notes.iter().any(|n| n.contains(YAML_GIVEN));
                diags.push(d);
                recoveries += 1;
                let toks = tokens(&text);
                let Some(bad) = recover::failed_statement(&text, &toks, at, between)
                    .filter(|_| recoveries < MAX_RECOVERIES && !wrong_language)
                else {
                    return Parsed {
                        spec: None,
                        diags,
                        dropped,
                    };
                };
                // Inside a probe's fields: only that field is left out.
                if let Some((field, name)) = recover::failed_field(&text, &toks, at, bad.clone()) {
                    dropped
                        .fields
                        .push((bad.start as u32, name.into_iter().collect()));
                    text = std::borrow::Cow::Owned(recover::blank(&text, field));
                    continue;
                }
                dropped
                    .probes
                    .extend(recover::probe_targets(&text, bad.clone()));
                text = std::borrow::Cow::Owned(recover::blank(&text, bad));
            }
        }
    };
    let b = ExprBuilder { map: &map };
    let mut spec = Spec {
        version: None,
        name: Spanned::new(DEFAULT_NAME.to_string(), Span::new(0, 0)),
        description: None,
        params: Vec::new(),
        probes: Vec::new(),
        output: OutputDecl::default(),
        span: Span::new(0, src.len()),
        syntax: super::Syntax::Dsl,
    };
    let mut seen_spec: Option<Span> = None;
    let mut first_stmt: Option<Span> = None;
    for stmt in top.into_iter().flatten() {
        let span = span_of(&stmt);
        if stmt.as_rule() != Rule::EOI {
            first_stmt = first_stmt.or(Some(span));
        }
        let r = match stmt.as_rule() {
            Rule::version_stmt => stmt_version(&b, stmt, &mut spec).inspect_err(|_| {
                // Checked as the newest version, so that its features
                // are not reported as well.
                spec.version = Some(Spanned::new(super::version::LATEST, span));
            }),
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
            Rule::param_stmt => {
                let name = parts(stmt.clone()).next().map(|n| n.as_str().to_string());
                stmt_param(&b, stmt, &mut spec).inspect_err(|_| {
                    dropped.params.extend(name);
                })
            }
            Rule::probe_stmt => {
                let (s, e) = pair_range(&stmt);
                let targets = recover::probe_targets(src, s..e);
                stmt_probe(&b, src, stmt, &mut spec).inspect_err(|_| {
                    dropped.probes.extend(targets);
                })
            }
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
    Parsed {
        spec: Some(spec),
        diags,
        dropped,
    }
}

/// The tokens of `src`: words (with a probe's `:rest`), strings, and single
/// punctuation characters; white space and comments skipped.
pub(super) fn tokens(src: &str) -> Vec<(usize, usize)> {
    scan(src, |_| {})
}

/// [`tokens`], telling `comment` where each comment (`#` to the end of its
/// line) starts: the one lexer of the DSL, for the parser's recovery and
/// messages and for `fmt`'s comments.
pub(crate) fn scan(src: &str, mut comment: impl FnMut(usize)) -> Vec<(usize, usize)> {
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
                comment(i);
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
                // `kind:target`, up to white space, a brace or `=>`
                if b.get(i) == Some(&b':') && b.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace())
                {
                    while i < b.len()
                        && !b[i].is_ascii_whitespace()
                        && !matches!(b[i], b'{' | b'}')
                        && !b[i..].starts_with(b"=>")
                    {
                        i += 1;
                    }
                }
            }
            b'=' if b.get(i + 1) == Some(&b'>') => i += 2,
            _ => i += src[i..].chars().next().map_or(1, char::len_utf8),
        }
        out.push((start, i.min(b.len())));
    }
    out
}

/// Is this token (of [`tokens`]) a probe, `kind:target`?
pub(super) fn is_probe_token(t: &str) -> bool {
    t.contains(':') && t.starts_with(|c: char| c.is_ascii_alphabetic())
}

/// Statement keywords and the probe's clause keywords: what cannot be a
/// `by` key or a `match` name.
const NOT_A_KEY: [&str; 8] = [
    "where", "by", "match", "probe", "output", "spec", "param", "version",
];

/// The forms of `match`, for notes.
const MATCH_FORMS: &str =
    "a name (`match tid`), several (`match dev, sector`), or one list per side, the start's then the end's: `match pid => next_pid`";

/// Sharper messages for syntax errors around `by`, `match`, `=>` and
/// `output`, which the grammar-driven message of [`syntax_error`] states
/// poorly: `by` without keys, `match` without names, a second `by`, a
/// clause before the fields, output settings without `,` between them.
fn refine(src: &str, d: Diagnostic) -> Diagnostic {
    let toks = tokens(src);
    let text = |t: &(usize, usize)| &src[t.0..t.1];
    // The error's token: the last one (for errors at the end of the file,
    // the span is the last token).
    let start = d.span.start as usize;
    let Some(at) = toks.iter().rposition(|t| t.0 <= start && start < t.1) else {
        return d;
    };
    let is_name = |t: &(usize, usize)| super::is_ident(text(t)) && !NOT_A_KEY.contains(&text(t));
    // Token `i` follows a probe's body: right after its `}`, or after a
    // `match` clause that is.
    let after_body = |i: usize| -> bool {
        let Some(b) = toks[..i].iter().rposition(|t| text(t) == "}") else {
            return false;
        };
        b + 1 == i
            || (text(&toks[b + 1]) == "match"
                && toks[b + 2..i]
                    .iter()
                    .all(|t| is_name(t) || matches!(text(t), "," | "=>")))
    };
    // What cannot start a key or a name: nothing, a keyword, punctuation,
    // a probe.
    let missing = |next: Option<&(usize, usize)>| match next.map(text) {
        None => true,
        Some(n) => {
            NOT_A_KEY.contains(&n) || matches!(n, "," | ";" | "{" | "}" | "=>") || is_probe_token(n)
        }
    };
    // `} by` followed by nothing that can be a key.
    let by = toks[..=at]
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(i, t)| text(t) == "by" && after_body(*i));
    if let Some((i, t)) = by {
        if missing(toks.get(i + 1)) {
            return Diagnostic::error(Span::new(t.0, t.1), "`by` without keys")
                .label("expected a key after `by`")
                .note("a key is a name or `NAME = EXPR`: `by comm, dport = ntohs(sk->__sk_common.skc_dport)`");
        }
    }
    // `} match` followed by nothing that can be a name.
    let m = toks[..=at]
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(i, t)| text(t) == "match" && *i > 0 && text(&toks[i - 1]) == "}");
    if let Some((i, t)) = m {
        if missing(toks.get(i + 1)) {
            return Diagnostic::error(Span::new(t.0, t.1), "`match` without names")
                .label("expected a name after `match`")
                .note(format!("`match` takes {MATCH_FORMS}"));
        }
    }
    // `} match pid =>` followed by nothing that can be a name.
    let arrow = toks[..=at]
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(i, t)| text(t) == "=>" && after_body(*i));
    // `} match tid,` likewise.
    let comma = toks[..=at]
        .iter()
        .enumerate()
        .rev()
        .take(3)
        .find(|(i, t)| text(t) == "," && after_body(*i));
    if let Some((i, t)) = comma {
        if missing(toks.get(i + 1)) {
            return Diagnostic::error(
                Span::new(t.0, t.1),
                "`,` in `match` without a name after it",
            )
            .label("expected a name after `,`")
            .note(format!("`match` takes {MATCH_FORMS}"));
        }
    }
    if let Some((i, t)) = arrow {
        if missing(toks.get(i + 1)) {
            return Diagnostic::error(Span::new(t.0, t.1), "`match … =>` without the end's names")
                .label("expected the end probe's names after `=>`")
                .note("one list per side, the start's then the end's, as many on each: `match pid => next_pid`, `match dev, sector => dev, sector`");
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
    let prev = at.checked_sub(1).map(|p| text(&toks[p]));
    // `match [dev, sector]`, `match (pid) (next_pid)`: other syntaxes' forms.
    if prev == Some("match") && matches!(found, "[" | "(" | "{") {
        d = d.note(format!("`match` takes {MATCH_FORMS}, without brackets"));
    }
    // `START =>` and no probe after it.
    let arrow = if found == "=>" && at_end {
        Some(at)
    } else {
        at.checked_sub(1).filter(|_| prev == Some("=>"))
    };
    if arrow.is_some_and(|a| !after_body(a)) && !is_probe_token(found) {
        d = d.note("after `=>` comes the probe that ends this one: `probe kfunc:vfs_read => kretfunc:vfs_read { … }`");
    }
    // A clause before the fields: `kfunc:f by comm { … }`, `A => B match tid { … }`.
    let before_body = (at >= 2 && text(&toks[at - 2]) == "as") || prev.is_some_and(is_probe_token);
    // (`where` has its note from `syntax_error`.)
    let example = match found {
        "by" => Some("the keys come after the fields: `probe KIND:TARGET { … } by …`"),
        "match" => Some("`match` comes after the fields: `probe START => END { … } match …`"),
        _ => None,
    };
    if let (true, Some(e)) = (before_body, example) {
        d = d.note(e);
    }
    // `A as x => B`: the end probe follows the start.
    if found == "=>" && at >= 2 && text(&toks[at - 2]) == "as" {
        d = d.note(
            "the end probe follows the start, before `as`: `probe START => END as NAME { … }`",
        );
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
            | Rule::kw_match
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
    let mut it = p
        .into_inner()
        .filter(|q| !matches!(q.as_rule(), Rule::kw_probe | Rule::kw_as));
    let probe_name = it.next().ok_or_else(|| internal(span))?;
    let probe = probe_name_of(b, src, probe_name)?;
    let mut decl = ProbeDecl {
        probe,
        end: None,
        match_: None,
        name: None,
        fields: Vec::new(),
        filter: None,
        by: Vec::new(),
        span,
    };
    // The `match` and `by` keywords already read; the last `where` and the
    // first.
    let mut match_at: Option<Span> = None;
    let mut by_at: Option<Span> = None;
    let mut where_at: Option<Span> = None;
    let mut first_where: Option<Span> = None;
    for part in it {
        match part.as_rule() {
            Rule::end_probe => {
                let name = part.into_inner().next().ok_or_else(|| internal(span))?;
                decl.end = Some(probe_name_of(b, src, name)?);
            }
            Rule::ident => {
                decl.name = Some(Spanned::new(part.as_str().to_string(), span_of(&part)))
            }
            Rule::fields => {
                for f in part.into_inner() {
                    decl.fields.push(field(b, f)?);
                }
            }
            Rule::kw_where => {
                where_at = Some(span_of(&part));
                first_where = first_where.or(where_at);
            }
            Rule::expr => {
                let filter = b.expr(part)?;
                if let (Some(first), Some(at), Some(first_at)) =
                    (&decl.filter, where_at, first_where)
                {
                    let both = Expr {
                        kind: ExprKind::Binary {
                            op: BinOp::And,
                            lhs: Box::new(first.clone()),
                            rhs: Box::new(filter.clone()),
                        },
                        span: first.span.to(filter.span),
                    };
                    return Err(Diagnostic::error(at, "a probe has one `where`")
                        .label("second `where`")
                        .also(first_at, "first `where`")
                        .note(format!(
                            "join conditions with `&&`: `where {}`",
                            super::expr::print_expr(&both)
                        )));
                }
                decl.filter = Some(filter);
            }
            Rule::match_clause => {
                let mut inner = part.into_inner();
                let kw = inner.next().ok_or_else(|| internal(span))?;
                let kw_span = span_of(&kw);
                let m = match_clause(inner, kw_span)?;
                if let Some(first) = match_at {
                    return Err(Diagnostic::error(kw_span, "a probe has one `match`")
                        .label("second `match`")
                        .also(first, "first `match`")
                        .note("list every name after one `match`: `match dev, sector`"));
                }
                // The grammar takes clauses in any order.
                let late = match (&decl.filter, by_at) {
                    (Some(f), _) => Some(("`match` after the filter", f.span, "the filter")),
                    (None, Some(by)) => Some(("`match` after `by`", by, "`by`")),
                    (None, None) => None,
                };
                if let Some((message, at, what)) = late {
                    return Err(Diagnostic::error(kw_span, message)
                        .label("`match` goes right after the fields")
                        .also(at, what)
                        .note(format!(
                            "write `{}`",
                            tail(Some(&m), &decl.by, decl.filter.as_ref())
                        )));
                }
                match_at = Some(kw_span);
                decl.match_ = Some(m);
            }
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
                // The grammar takes clauses in any order.
                if let Some(filter) = &decl.filter {
                    return Err(Diagnostic::error(kw_span, "`by` after the filter")
                        .label("the keys go before `where`")
                        .also(filter.span, "the filter")
                        .note(format!(
                            "write `{}`",
                            tail(decl.match_.as_ref(), &keys, Some(filter))
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
    if let (Some(at), None) = (match_at, &decl.end) {
        return Err(Diagnostic::error(
            at,
            "`match` pairs a start with its end probe, and this probe has none",
        )
        .label("no end probe (`=> …`) before the fields")
        .note("name the probe that ends this one after `=>`: `probe tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat { … } match tid`, or remove `match`"));
    }
    spec.probes.push(decl);
    Ok(())
}

/// A probe name (`probe_name`): a token, or a quoted string spanned at
/// the text between its quotes when that is the value.
fn probe_name_of(b: &ExprBuilder, src: &str, p: Pair<Rule>) -> Result<Spanned<String>, Diagnostic> {
    let span = span_of(&p);
    let tok = p.into_inner().next().ok_or_else(|| internal(span))?;
    Ok(match tok.as_rule() {
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
    })
}

/// The names of a `match` clause after its keyword (at `kw`): one list, or
/// the start's and the end's, as many on each side.
fn match_clause<'i>(
    mut lists: impl Iterator<Item = Pair<'i, Rule>>,
    kw: Span,
) -> Result<MatchDecl, Diagnostic> {
    let names = |p: Pair<Rule>| -> Vec<Spanned<String>> {
        p.into_inner()
            .map(|n| Spanned::new(n.as_str().to_string(), span_of(&n)))
            .collect()
    };
    let first = lists.next().ok_or_else(|| internal(kw))?;
    let first_span = span_of(&first);
    let start = names(first);
    let Some(second) = lists.next() else {
        return Ok(MatchDecl::Same(start, first_span));
    };
    let second_span = span_of(&second);
    let end = names(second);
    let span = first_span.to(second_span);
    if start.len() != end.len() {
        let count = |n: usize| {
            if n == 1 {
                "1 name".to_string()
            } else {
                format!("{n} names")
            }
        };
        return Err(Diagnostic::error(
            second_span,
            format!(
                "`match` pairs names by position, but the start has {} and the end {}",
                count(start.len()),
                count(end.len())
            ),
        )
        .label(format!("{} here", count(end.len())))
        .also(first_span, format!("{} at the start", count(start.len())))
        .note("the first start name is compared with the first end name, and so on: give both sides as many names"));
    }
    Ok(MatchDecl::Sides { start, end, span })
}

/// A `match` clause as the DSL writes it, without the keyword.
pub(crate) fn print_match(m: &MatchDecl) -> String {
    let list = |names: &[Spanned<String>]| -> String {
        let v: Vec<&str> = names.iter().map(|n| n.value.as_str()).collect();
        v.join(", ")
    };
    match m {
        MatchDecl::Same(names, _) => list(names),
        MatchDecl::Sides { start, end, .. } => format!("{} => {}", list(start), list(end)),
    }
}

/// What follows a probe's fields, in order: `} match … by … where …`.
fn tail(m: Option<&MatchDecl>, by: &[KeyDecl], filter: Option<&Expr>) -> String {
    let mut o = "{ … }".to_string();
    if let Some(m) = m {
        o.push_str(&format!(" match {}", print_match(m)));
    }
    if !by.is_empty() {
        let keys: Vec<String> = by.iter().map(print_key).collect();
        o.push_str(&format!(" by {}", keys.join(", ")));
    }
    if let Some(f) = filter {
        o.push_str(&format!(" where {}", super::expr::print_expr(f)));
    }
    o
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
        assert_eq!(d.message, "a probe has one `by`");
        assert_eq!(d.span.start as usize, src.rfind("by").unwrap());
        assert_eq!(d.secondary[0].0.start as usize, src.find("by").unwrap());
        // Without keys after the second, the syntax error says so.
        let src = "kfunc:x { n = count() } by comm by";
        let d = err(src);
        assert!(d.message.starts_with("syntax error"), "{d:?}");
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

    /// (start names, end names, one list per side) of a probe's `match`.
    fn match_of(p: &ProbeDecl) -> Option<(Vec<&str>, Vec<&str>, bool)> {
        fn names(n: &[Spanned<String>]) -> Vec<&str> {
            n.iter().map(|n| n.value.as_str()).collect()
        }
        p.match_.as_ref().map(|m| {
            (
                names(m.start()),
                names(m.end()),
                matches!(m, MatchDecl::Sides { .. }),
            )
        })
    }

    #[test]
    fn pairing_forms() {
        let src = "probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch as runq { n = hist(latency / 1000) }\n    match pid, target_cpu => next_pid, cpu  # m\n    by comm where pid > 1  # w\n";
        let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
        let p = &spec.probes[0];
        assert_eq!(p.probe.value, "tracepoint:sched:sched_wakeup");
        let end = p.end.as_ref().unwrap();
        assert_eq!(
            (end.value.as_str(), &src[end.span.range()]),
            (
                "tracepoint:sched:sched_switch",
                "tracepoint:sched:sched_switch"
            )
        );
        assert_eq!(p.name.as_ref().map(|n| n.value.as_str()), Some("runq"));
        assert_eq!(
            match_of(p),
            Some((vec!["pid", "target_cpu"], vec!["next_pid", "cpu"], true))
        );
        let m = p.match_.as_ref().unwrap();
        assert_eq!(&src[m.span().range()], "pid, target_cpu => next_pid, cpu");
        for n in m.start().iter().chain(m.end()) {
            assert_eq!(&src[n.span.range()], n.value);
        }
        assert_eq!(p.by[0].name.value, "comm");
        assert_eq!(
            p.filter.as_ref().map(|f| &src[f.span.range()]),
            Some("pid > 1")
        );
        assert_eq!(&src[p.span.range()], src.split("  # w").next().unwrap());

        // One list; `=>` without spaces; a quoted end probe; one name.
        for (src, end, want) in [
            (
                "kfunc:blk_mq_start_request => kfunc:blk_mq_end_request { n = count() } match dev, sector",
                "kfunc:blk_mq_end_request",
                Some((vec!["dev", "sector"], vec!["dev", "sector"], false)),
            ),
            (
                "kfunc:vfs_read=>kretfunc:vfs_read { ret = end.ret }",
                "kretfunc:vfs_read",
                None,
            ),
            (
                "\"uprobe:/bin/a b:f\" => \"uretprobe:/bin/a b:f\" { r = end.retval } match tid",
                "uretprobe:/bin/a b:f",
                Some((vec!["tid"], vec!["tid"], false)),
            ),
            (
                "kfunc:f => kretfunc:f { x = end.ret } match a => b where latency > 10",
                "kretfunc:f",
                Some((vec!["a"], vec!["b"], true)),
            ),
        ] {
            let spec = parse(src).unwrap_or_else(|d| panic!("{src}: {d:?}"));
            let p = &spec.probes[0];
            assert_eq!(p.end.as_ref().map(|e| e.value.as_str()), Some(end), "{src}");
            assert_eq!(&src[p.end.as_ref().unwrap().span.range()], end, "{src}");
            assert_eq!(match_of(p), want, "{src}");
        }
        // `end.ret` and `latency` are plain expressions for the semantic
        // passes; `match` is a keyword only after the fields.
        let src = "kfunc:f => kretfunc:f { match, r = end.ret, l = latency } where match > 0\nmatch:x { pid }";
        let spec = parse(src).unwrap_or_else(|d| panic!("{d:?}"));
        let at = src.find("end.ret").unwrap();
        assert_eq!(spec.probes.len(), 2);
        assert_eq!(spec.probes[0].match_, None);
        assert_eq!(spec.probes[0].fields[0].name.value, "match");
        assert_eq!(
            spec.probes[0].fields[1].expr.kind,
            ExprKind::Member {
                base: Box::new(Expr {
                    kind: ExprKind::Ident("end".into()),
                    span: Span::new(at, at + 3),
                }),
                member: Spanned::new("ret".into(), Span::new(at + 4, at + 7)),
                arrow: false,
            }
        );
        assert_eq!(
            spec.probes[0].fields[2].expr.kind,
            ExprKind::Ident("latency".into())
        );
        assert_eq!(spec.probes[1].probe.value, "match:x");
        // A probe ends at `=>`: `kfunc:a=>b` is two probes' names.
        let spec = parse("kfunc:a=>kretfunc:a { pid }").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(spec.probes[0].probe.value, "kfunc:a");
    }

    #[test]
    fn pairing_errors() {
        let ab = "kfunc:a => kretfunc:a { n = count() }";
        for (src, message, at) in [
            (format!("{ab} match"), "`match` without names", "match"),
            (
                format!("{ab} match  # c\n"),
                "`match` without names",
                "match",
            ),
            (
                format!("{ab} match where n > 0"),
                "`match` without names",
                "match",
            ),
            (
                format!("{ab} match by comm"),
                "`match` without names",
                "match",
            ),
            (
                format!("{ab} match\nkfunc:b {{ pid }}"),
                "`match` without names",
                "match",
            ),
            (format!("{ab} match , a"), "`match` without names", "match"),
            (
                format!("{ab} match a =>"),
                "`match … =>` without the end's names",
                "=>",
            ),
            (
                format!("{ab} match a => by comm"),
                "`match … =>` without the end's names",
                "=>",
            ),
            (
                format!("{ab} match a =>\noutput top 1"),
                "`match … =>` without the end's names",
                "=>",
            ),
            (
                format!("{ab} match a,"),
                "`,` in `match` without a name after it",
                ",",
            ),
            (
                format!("{ab} match a, where n > 0"),
                "`,` in `match` without a name after it",
                ",",
            ),
            (
                format!("{ab} match a => b,"),
                "`,` in `match` without a name after it",
                ",",
            ),
            (
                format!("{ab} match a match b"),
                "a probe has one `match`",
                "match",
            ),
            (
                format!("{ab} by comm match a"),
                "`match` after `by`",
                "match",
            ),
            (
                format!("{ab} where n > 0 match a"),
                "`match` after the filter",
                "match",
            ),
            (
                format!("{ab} match a by comm where n > 0 match b"),
                "a probe has one `match`",
                "match",
            ),
            (
                format!("{ab} match a, b => c"),
                "`match` pairs names by position, but the start has 2 names and the end 1 name",
                "c",
            ),
            (
                format!("{ab} match a => c, d, e"),
                "`match` pairs names by position, but the start has 1 name and the end 3 names",
                "c, d, e",
            ),
            (
                "kfunc:a { n = count() } match tid".to_string(),
                "`match` pairs a start with its end probe, and this probe has none",
                "match",
            ),
            (
                format!("{ab} where a where b"),
                "a probe has one `where`",
                "where",
            ),
        ] {
            let d = err(&src);
            assert_eq!(d.message, message, "{src:?}");
            // The last occurrence: the second `match`, the `=>` of the names.
            assert_eq!(d.span.start as usize, src.rfind(at).unwrap(), "{src:?}");
            assert_eq!(&src[d.span.range()], at, "{src:?}");
        }
        // Notes: the clauses in order, the conditions joined.
        let d = err(&format!("{ab} by comm, k = x + 1 match a => b"));
        assert_eq!(d.notes, ["write `{ … } match a => b by comm, k = x + 1`"]);
        let d = err(&format!("{ab} match a where x > 0 by comm"));
        assert_eq!(d.notes, ["write `{ … } match a by comm where x > 0`"]);
        let d = err(&format!("{ab} where x > 0 || y match a"));
        assert_eq!(d.notes, ["write `{ … } match a where x > 0 || y`"]);
        let d = err(&format!("{ab} where x > 0 || y where z"));
        assert_eq!(
            d.notes,
            ["join conditions with `&&`: `where (x > 0 || y) && z`"]
        );
        // Syntax errors with notes.
        for (src, at, note) in [
            (format!("{ab} match [a, b]"), "[", "without brackets"),
            (format!("{ab} match (a) (b)"), "(", "without brackets"),
            (
                "kfunc:a => kretfunc:a match tid { n = count() }".to_string(),
                "match",
                "`match` comes after the fields",
            ),
            (
                "kfunc:a as x match tid { n = count() }".to_string(),
                "match",
                "`match` comes after the fields",
            ),
            (
                "kfunc:a by comm { n = count() }".to_string(),
                "by",
                "the keys come after the fields",
            ),
            (
                "kfunc:a => { n = count() }".to_string(),
                "{",
                "after `=>` comes the probe that ends this one",
            ),
            (
                "kfunc:a =>".to_string(),
                "=>",
                "after `=>` comes the probe that ends this one",
            ),
            (
                "kfunc:a as x => kretfunc:a { n = count() }".to_string(),
                "=",
                "the end probe follows the start, before `as`",
            ),
        ] {
            let d = err(&src);
            assert!(d.message.starts_with("syntax error"), "{src:?}: {d:?}");
            assert_eq!(&src[d.span.range()], at, "{src:?}");
            assert!(d.notes.iter().any(|n| n.contains(note)), "{src:?}: {d:?}");
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
