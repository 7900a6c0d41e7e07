//! Prints a [`Spec`] as YAML or as DSL (`tracectl fmt`). Parsing their
//! output gives back the same spec. Layout (indentation, key order,
//! spacing, which YAML scalars are quoted) is the printers'; what the user
//! wrote is kept: [`format`], which has the source, writes each expression
//! as it is spelt there (parentheses and literals as written, white space
//! made single spaces) and each comment back at its node. Without the
//! source ([`to_yaml`], [`to_dsl`]) expressions are printed in canonical
//! form. YAML scalars are quoted only where YAML needs it
//! ([`yaml_plain_ok`]).

use super::ast::*;
use super::comments::{Anchor, Comments};
use super::expr::{escape, parse_expr, print_expr, SpanMap};
use super::Syntax;
use crate::plan::{Format, TimeMode};

fn format_name(f: Format) -> &'static str {
    match f {
        Format::Table => "table",
        Format::Json => "json",
        Format::Csv => "csv",
        Format::Folded => "folded",
    }
}

fn time_name(t: TimeMode) -> &'static str {
    match t {
        TimeMode::Relative => "relative",
        TimeMode::Absolute => "absolute",
        TimeMode::None => "none",
    }
}

/// True when `s` can be written as a YAML plain (unquoted) scalar and read
/// back as the same string: not empty, on one line, no white space at
/// either end, not starting with an indicator (`- x`, `!`, `&`, `*`, `[`,
/// `'`, `#`, ...), no `: ` or ` #` inside, no `:` at the end, and not a
/// word or number YAML 1.1 or 1.2 reads as another type (`true`, `no`,
/// `~`, `12`, `0x1f`, `1e3`, `.inf`, a date). In a flow collection (`flow`:
/// `{ a: …, b: … }`, `[…]`) `,` `[` `]` `{` `}` end the scalar, so they
/// need quotes too.
pub(crate) fn yaml_plain_ok(s: &str, flow: bool) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    let second = s[first.len_utf8()..].chars().next();
    // One line of printable text, single spaces allowed.
    let printable = s
        .chars()
        .all(|c| c == ' ' || !(c.is_whitespace() || c.is_control() || c == '\u{feff}'));
    let starts_ok = match first {
        // `-x` is a plain scalar; `- x` a list item, `-` alone too.
        '-' => second.is_some_and(|c| c != ' ' && c != '-'),
        '?' | ':' | ',' | '[' | ']' | '{' | '}' | '#' | '&' | '*' | '!' | '|' | '>' | '\''
        | '"' | '%' | '@' | '`' | ' ' => false,
        _ => true,
    };
    printable
        && starts_ok
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.starts_with("...")
        && !(flow && s.contains([',', '[', ']', '{', '}']))
        && !yaml_other_type(s)
}

/// A plain scalar YAML 1.1 or 1.2 would read as a boolean, null or number.
fn yaml_other_type(s: &str) -> bool {
    const WORDS: [&str; 14] = [
        "true", "false", "yes", "no", "y", "n", "on", "off", "null", "~", "=", "<<", ".nan", ".inf",
    ];
    let lower = s.to_ascii_lowercase();
    let unsigned = lower.strip_prefix(['-', '+']).unwrap_or(&lower);
    if WORDS.contains(&lower.as_str()) || unsigned == ".inf" {
        return true;
    }
    // Numbers of either version (`0x1f`, `0o17`, `0b101`, `1_000`,
    // `1:30`, `1.5e3`, `.5`) and dates (`2024-01-31 …`).
    let digits = unsigned.starts_with(|c: char| c.is_ascii_digit())
        || (unsigned.starts_with('.') && unsigned[1..].starts_with(|c: char| c.is_ascii_digit()));
    let number = digits
        && unsigned
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xob_:.+-".contains(c));
    let date = unsigned
        .get(..4)
        .is_some_and(|y| y.chars().all(|c| c.is_ascii_digit()))
        && unsigned[4..].starts_with('-');
    number || date
}

/// A quoted YAML scalar for `s`: single-quoted when it is one line of
/// printable text without `'` (or with `'` and also `"` or `\\`), else
/// double-quoted with escapes (`bcc's` needs none there).
fn yaml_quoted(s: &str) -> String {
    let special = |c: char| c.is_control() || c == '\u{feff}';
    if !s.contains(special) && (!s.contains('\'') || s.contains(['"', '\\'])) {
        return format!("'{}'", s.replace('\'', "''"));
    }
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\t' => o.push_str("\\t"),
            '\r' => o.push_str("\\r"),
            c if special(c) => o.push_str(&format!("\\u{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// A YAML scalar for an arbitrary string (block context): plain when
/// [`yaml_plain_ok`], else quoted.
fn yaml_str(s: &str) -> String {
    if yaml_plain_ok(s, false) {
        s.to_string()
    } else {
        yaml_quoted(s)
    }
}

fn literal(l: &Literal) -> String {
    match l {
        Literal::Int(v) => v.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Str(s) => escape(s),
    }
}

/// An integer default as written in `src` (`0x10` stays `0x10`) when that
/// text reads back as the same number.
fn int_spelling(d: &crate::diag::Spanned<Literal>, src: Option<&str>) -> Option<String> {
    let Literal::Int(v) = d.value else {
        return None;
    };
    let text = src?.get(d.span.range())?.trim();
    (super::expr::parse_int(text) == Some(v)).then(|| text.to_string())
}

fn yaml_literal(l: &Literal) -> String {
    match l {
        // In a flow mapping (`{ type: string, default: … }`).
        Literal::Str(s) => flow_str(s),
        other => literal(other),
    }
}

/// Text being printed, with the comments to put back at their nodes and
/// the source the spec was parsed from (when there is one), whose
/// expressions keep their spelling.
struct Out<'a> {
    o: String,
    c: &'a Comments,
    src: Option<&'a str>,
}

impl Out<'_> {
    /// An expression as the user spelt it ([`spelling`]), else in
    /// canonical form.
    fn expr(&self, e: &Expr) -> String {
        self.src
            .and_then(|src| spelling(e, src))
            .unwrap_or_else(|| print_expr(e))
    }

    /// The own-line comments before `anchors`, at `indent`.
    fn before(&mut self, indent: &str, anchors: &[Anchor]) {
        for a in anchors {
            for t in self.c.before(*a) {
                self.o.push_str(indent);
                self.o.push_str(t);
                self.o.push('\n');
            }
        }
    }

    /// A line holding `anchors`: their own-line comments, the text, then
    /// their end-of-line comments.
    fn line(&mut self, indent: &str, text: &str, anchors: &[Anchor]) {
        self.line_in(indent, indent, text, anchors);
    }

    /// [`Out::line`] with the own-line comments at their own indent.
    fn line_in(&mut self, comment_indent: &str, indent: &str, text: &str, anchors: &[Anchor]) {
        self.before(comment_indent, anchors);
        self.o.push_str(indent);
        self.o.push_str(text);
        for a in anchors {
            for t in self.c.after(*a) {
                self.o.push(' ');
                self.o.push_str(t);
            }
        }
        self.o.push('\n');
    }

    /// Parts of a statement, each holding a node: on one line, unless
    /// comments belong inside it (before a part but the first, after a
    /// part but the last); then a line for each, the ones after the first
    /// indented. Own-line comments go at `comment_indent`.
    fn segments(&mut self, comment_indent: &str, parts: &[(String, Anchor)]) {
        let last = parts.len().saturating_sub(1);
        let split = parts.iter().enumerate().any(|(j, (_, a))| {
            (j > 0 && !self.c.before(*a).is_empty()) || (j < last && !self.c.after(*a).is_empty())
        });
        if split {
            for (j, (text, a)) in parts.iter().enumerate() {
                let (ci, indent) = if j == 0 {
                    (comment_indent, "")
                } else {
                    ("    ", "    ")
                };
                self.line_in(ci, indent, text, &[*a]);
            }
        } else {
            let text: Vec<&str> = parts.iter().map(|(t, _)| t.as_str()).collect();
            let anchors: Vec<Anchor> = parts.iter().map(|(_, a)| *a).collect();
            self.line_in(comment_indent, "", &text.join(" "), &anchors);
        }
    }

    /// The comments of `anchors`, each on its own line (places the target
    /// syntax has no line for, as the DSL has no `probes:`).
    fn own_lines(&mut self, indent: &str, anchors: &[Anchor]) {
        self.before(indent, anchors);
        for a in anchors {
            for t in self.c.after(*a) {
                self.o.push_str(indent);
                self.o.push_str(t);
                self.o.push('\n');
            }
        }
    }
}

/// `tracectl fmt`: `spec`, parsed from `src`, printed in `to` with the
/// comments of `src` at their nodes.
pub fn format(spec: &Spec, src: &str, to: Syntax) -> String {
    let c = Comments::of(spec, src);
    match to {
        Syntax::Yaml => yaml(spec, &c, Some(src)),
        Syntax::Dsl => dsl(spec, &c, Some(src)),
    }
}

/// `e` as written in `src` (the text it was parsed from), with each run of
/// white space outside string literals made one space, when that text
/// reads back as the same expression; `None` when it does not (a span
/// inside an escaped YAML scalar does not hold the expression's text) or
/// holds a comment (which would swallow what follows it on one line).
pub(crate) fn spelling(e: &Expr, src: &str) -> Option<String> {
    let text = collapse_space(src.get(e.span.range())?)?;
    let again = parse_expr(&text, &SpanMap::verbatim(0, text.len()), "expression").ok()?;
    same_expr(&again, e).then_some(text)
}

/// The same expression, spans aside (`tracectl fmt` keeps an expression's
/// spelling only when it reads back as the same tree).
fn same_expr(a: &Expr, b: &Expr) -> bool {
    match (&a.kind, &b.kind) {
        (ExprKind::Int(x), ExprKind::Int(y)) => x == y,
        (ExprKind::Str(x), ExprKind::Str(y))
        | (ExprKind::Ident(x), ExprKind::Ident(y))
        | (ExprKind::Param(x), ExprKind::Param(y)) => x == y,
        (ExprKind::Call { func: f, args: a }, ExprKind::Call { func: g, args: b }) => {
            f.value == g.value
                && a.len() == b.len()
                && a.iter().zip(b).all(|(x, y)| same_expr(x, y))
        }
        (
            ExprKind::Member {
                base: a,
                member: m,
                arrow: r,
            },
            ExprKind::Member {
                base: b,
                member: n,
                arrow: s,
            },
        ) => m.value == n.value && r == s && same_expr(a, b),
        (ExprKind::Index { base: a, index: i }, ExprKind::Index { base: b, index: j }) => {
            i.value == j.value && same_expr(a, b)
        }
        (ExprKind::Not(a), ExprKind::Not(b)) => same_expr(a, b),
        (ExprKind::Unary { op: o, expr: a }, ExprKind::Unary { op: p, expr: b }) => {
            o == p && same_expr(a, b)
        }
        (
            ExprKind::Binary {
                op: o,
                lhs: a,
                rhs: c,
            },
            ExprKind::Binary {
                op: p,
                lhs: b,
                rhs: d,
            },
        ) => o == p && same_expr(a, b) && same_expr(c, d),
        _ => false,
    }
}

/// `text` trimmed, each run of white space outside string literals made
/// one space; `None` with a `#` (a comment) outside string literals or a
/// string left open.
fn collapse_space(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.trim().chars();
    let mut space = false;
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => space = true,
            '#' => return None,
            _ => {
                if space {
                    out.push(' ');
                    space = false;
                }
                out.push(c);
                if c == '"' {
                    loop {
                        let c = chars.next()?;
                        out.push(c);
                        match c {
                            '"' => break,
                            '\\' => out.push(chars.next()?),
                            _ => {}
                        }
                    }
                }
            }
        }
    }
    Some(out)
}

/// The spec as YAML.
pub fn to_yaml(spec: &Spec) -> String {
    to_yaml_with(spec, &Comments::default())
}

/// The spec as YAML, with comments.
pub fn to_yaml_with(spec: &Spec, comments: &Comments) -> String {
    yaml(spec, comments, None)
}

/// The spec as YAML, with comments, its expressions spelt as in `src`.
fn yaml(spec: &Spec, comments: &Comments, src: Option<&str>) -> String {
    let mut o = Out {
        o: String::new(),
        c: comments,
        src,
    };
    if let Some(v) = &spec.version {
        o.line("", &format!("version: {}", v.value), &[Anchor::Version]);
    }
    o.line(
        "",
        &format!("name: {}", yaml_str(&spec.name.value)),
        &[Anchor::Name],
    );
    if let Some(d) = &spec.description {
        o.line(
            "",
            &format!("description: {}", yaml_str(&d.value)),
            &[Anchor::Description],
        );
    }
    if !spec.params.is_empty() {
        o.line("", "params:", &[Anchor::Params]);
        for (i, p) in spec.params.iter().enumerate() {
            let mut parts = vec![format!("type: {}", p.ty.value.name())];
            if let Some(d) = &p.default {
                let v = int_spelling(d, o.src).unwrap_or_else(|| yaml_literal(&d.value));
                parts.push(format!("default: {v}"));
            }
            if let Some(d) = &p.description {
                parts.push(format!("description: {}", flow_str(&d.value)));
            }
            o.line(
                "  ",
                &format!("{}: {{ {} }}", p.name.value, parts.join(", ")),
                &[Anchor::Param(i)],
            );
        }
    }
    o.line("", "probes:", &[Anchor::Probes]);
    for (i, p) in spec.probes.iter().enumerate() {
        o.line(
            "  ",
            &format!("- probe: {}", yaml_str(&p.probe.value)),
            &[Anchor::Probe(i)],
        );
        if let Some(e) = &p.end {
            o.line(
                "    ",
                &format!("end: {}", yaml_str(&e.value)),
                &[Anchor::End(i)],
            );
        }
        if let Some(n) = &p.name {
            o.line(
                "    ",
                &format!("name: {}", yaml_str(&n.value)),
                &[Anchor::Label(i)],
            );
        }
        if let Some(m) = &p.match_ {
            o.line(
                "    ",
                &format!("match: {}", yaml_match(m)),
                &[Anchor::Match(i)],
            );
        }
        if !p.by.is_empty() {
            if p.by.iter().all(|k| k.bare) {
                let names: Vec<String> = p.by.iter().map(|k| flow_str(&k.name.value)).collect();
                let keys: Vec<Anchor> = (0..p.by.len()).map(|j| Anchor::Key(i, j)).collect();
                o.line("    ", &format!("by: [{}]", names.join(", ")), &keys);
            } else {
                o.line("    ", "by:", &[]);
                for (j, k) in p.by.iter().enumerate() {
                    o.line(
                        "      ",
                        &format!("{}: {}", k.name.value, yaml_str(&o.expr(&k.expr))),
                        &[Anchor::Key(i, j)],
                    );
                }
            }
        }
        o.line("    ", "fields:", &[]);
        for (j, f) in p.fields.iter().enumerate() {
            o.line(
                "      ",
                &format!("{}: {}", f.name.value, yaml_str(&o.expr(&f.expr))),
                &[Anchor::Field(i, j)],
            );
        }
        if let Some(f) = &p.filter {
            o.line(
                "    ",
                &format!("filter: {}", yaml_str(&o.expr(f))),
                &[Anchor::Filter(i)],
            );
        }
    }
    let settings = output_settings(&spec.output);
    if !settings.is_empty() {
        o.line("", "output:", &[Anchor::Output]);
        for (k, v) in settings {
            // A `sort` name such as `null` or `true` is quoted in YAML.
            let v = if k == "sort" { yaml_str(&v) } else { v };
            o.line("  ", &format!("{k}: {v}"), &[Anchor::Setting(k)]);
        }
    }
    o.before("", &[Anchor::Eof]);
    o.o
}

/// The `output` settings written, in order, as (name, value); values are
/// the same in YAML and the DSL (a duration as written: `1s`).
fn output_settings(out: &OutputDecl) -> Vec<(&'static str, String)> {
    let mut v = Vec::new();
    if let Some(f) = &out.format {
        v.push(("format", format_name(f.value).to_string()));
    }
    if let Some(t) = &out.time {
        v.push(("time", time_name(t.value).to_string()));
    }
    if let Some(i) = &out.interval {
        v.push(("interval", i.value.text.clone()));
    }
    if let Some(c) = &out.cumulative {
        v.push(("cumulative", c.value.to_string()));
    }
    if let Some(s) = &out.sort {
        v.push(("sort", s.value.clone()));
    }
    if let Some(t) = &out.top {
        v.push(("top", t.value.to_string()));
    }
    if let Some(m) = &out.max_keys {
        v.push(("max_keys", m.value.to_string()));
    }
    v
}

/// `match:`'s value: a scalar for one name, a list for several, a mapping
/// of the two sides.
fn yaml_match(m: &MatchDecl) -> String {
    let names = |n: &[crate::diag::Spanned<String>]| -> String {
        match n {
            [one] => flow_str(&one.value),
            _ => {
                let v: Vec<String> = n.iter().map(|x| flow_str(&x.value)).collect();
                format!("[{}]", v.join(", "))
            }
        }
    };
    match m {
        MatchDecl::Same(n, _) => names(n),
        MatchDecl::Sides { start, end, .. } => {
            format!("{{ start: {}, end: {} }}", names(start), names(end))
        }
    }
}

/// A string inside a flow collection: `,` `[` `]` `{` `}` need quoting
/// there.
pub(crate) fn flow_str(s: &str) -> String {
    if yaml_plain_ok(s, true) {
        s.to_string()
    } else {
        yaml_quoted(s)
    }
}

fn probe_token(p: &str) -> String {
    let simple = p.split_once(':').is_some_and(|(kind, rest)| {
        !kind.is_empty()
            && kind.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && kind.chars().next().is_some_and(|c| !c.is_ascii_digit())
            && !rest.is_empty()
            && !rest
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}' || c == '#')
            && !rest.contains("=>")
    });
    if simple {
        p.to_string()
    } else {
        escape(p)
    }
}

/// The spec as DSL.
pub fn to_dsl(spec: &Spec) -> String {
    to_dsl_with(spec, &Comments::default())
}

/// The spec as DSL, with comments.
pub fn to_dsl_with(spec: &Spec, comments: &Comments) -> String {
    dsl(spec, comments, None)
}

/// The spec as DSL, with comments, its expressions spelt as in `src`.
fn dsl(spec: &Spec, comments: &Comments, src: Option<&str>) -> String {
    let mut o = Out {
        o: String::new(),
        c: comments,
        src,
    };
    if let Some(v) = &spec.version {
        o.line("", &format!("version {}", v.value), &[Anchor::Version]);
    }
    let mut line = format!("spec {}", spec.name.value);
    if let Some(d) = &spec.description {
        line.push_str(&format!(" {}", escape(&d.value)));
    }
    o.line("", &line, &[Anchor::Name, Anchor::Description]);
    for (i, p) in spec.params.iter().enumerate() {
        if i == 0 {
            o.own_lines("", &[Anchor::Params]);
        }
        let mut line = format!("param {}: {}", p.name.value, p.ty.value.name());
        if let Some(d) = &p.default {
            let v = int_spelling(d, o.src).unwrap_or_else(|| literal(&d.value));
            line.push_str(&format!(" = {v}"));
        }
        if let Some(d) = &p.description {
            line.push_str(&format!(" {}", escape(&d.value)));
        }
        o.line("", &line, &[Anchor::Param(i)]);
    }
    for (i, p) in spec.probes.iter().enumerate() {
        o.o.push('\n');
        if i == 0 {
            o.own_lines("", &[Anchor::Probes]);
        }
        let mut head = vec![(
            format!("probe {}", probe_token(&p.probe.value)),
            Anchor::Probe(i),
        )];
        if let Some(e) = &p.end {
            head.push((format!("=> {}", probe_token(&e.value)), Anchor::End(i)));
        }
        if let Some(n) = &p.name {
            head.push((format!("as {}", n.value), Anchor::Label(i)));
        }
        if let Some(last) = head.last_mut() {
            last.0.push_str(" {");
        }
        o.segments("", &head);
        let n = p.fields.len();
        for (j, f) in p.fields.iter().enumerate() {
            let e = o.expr(&f.expr);
            let sep = if j + 1 < n { "," } else { "" };
            let line = if e == f.name.value {
                format!("{e}{sep}")
            } else {
                format!("{} = {e}{sep}", f.name.value)
            };
            o.line("    ", &line, &[Anchor::Field(i, j)]);
        }
        // The closing line: `}`, then `match`, each key and `where`.
        let mut segs: Vec<(String, Anchor)> = Vec::new();
        let mut close = String::from("}");
        if let Some(m) = &p.match_ {
            close.push_str(&format!(" match {}", super::dsl::print_match(m)));
        }
        segs.push((close, Anchor::Match(i)));
        let n = p.by.len();
        for (j, k) in p.by.iter().enumerate() {
            let by = if j == 0 { "by " } else { "" };
            let sep = if j + 1 < n { "," } else { "" };
            let key = if k.bare {
                k.name.value.clone()
            } else {
                format!("{} = {}", k.name.value, o.expr(&k.expr))
            };
            segs.push((format!("{by}{key}{sep}"), Anchor::Key(i, j)));
        }
        if let Some(f) = &p.filter {
            segs.push((format!("where {}", o.expr(f)), Anchor::Filter(i)));
        }
        if p.match_.is_none() && segs.len() > 1 {
            // `}` holds no node: it leads the first clause's part.
            let (text, a) = segs.remove(1);
            segs[0] = (format!("}} {text}"), a);
        }
        // Comments before the clauses go inside the braces, before `}`.
        o.segments("    ", &segs);
    }
    let settings = output_settings(&spec.output);
    if !settings.is_empty() {
        o.o.push('\n');
        let opts: Vec<String> = settings.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let anchors: Vec<Anchor> = settings.iter().map(|(k, _)| Anchor::Setting(k)).collect();
        // One line, unless comments belong to settings after the first:
        // then one setting a line, each with its comments.
        let split = anchors.iter().enumerate().any(|(i, a)| {
            (i > 0 && !o.c.before(*a).is_empty())
                || (i + 1 < anchors.len() && !o.c.after(*a).is_empty())
        });
        if split {
            let n = opts.len();
            for (i, (opt, a)) in opts.iter().zip(&anchors).enumerate() {
                let sep = if i + 1 < n { "," } else { "" };
                if i == 0 {
                    o.line("", &format!("output {opt}{sep}"), &[Anchor::Output, *a]);
                } else {
                    o.line("    ", &format!("{opt}{sep}"), &[*a]);
                }
            }
        } else {
            let mut all = vec![Anchor::Output];
            all.extend(anchors);
            o.line("", &format!("output {}", opts.join(", ")), &all);
        }
    }
    if !o.c.before(Anchor::Eof).is_empty() {
        o.o.push('\n');
        o.before("", &[Anchor::Eof]);
    }
    o.o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn spec(name: &str, src: &str) -> Spec {
        parse(name, src).unwrap_or_else(|d| panic!("{src}\n{d:?}"))
    }

    #[test]
    fn keys_and_settings_in_both_syntaxes() {
        let dsl = "version 2
spec syscount
probe tracepoint:raw_syscalls:sys_enter { calls = count() } by comm, pid
probe kfunc:tcp_sendmsg as send { bytes = sum(size), h = lhist(size, 0, 1000, 100) } by comm, dport = ntohs(sk->__sk_common.skc_dport) where size > 0
output format json, interval 500ms, cumulative true, sort calls, top 10, max_keys 1000
";
        let s = spec("x.trace", dsl);
        let yaml = to_yaml(&s);
        assert_eq!(
            yaml,
            "version: 2
name: syscount
probes:
  - probe: tracepoint:raw_syscalls:sys_enter
    by: [comm, pid]
    fields:
      calls: count()
  - probe: kfunc:tcp_sendmsg
    name: send
    by:
      comm: comm
      dport: ntohs(sk->__sk_common.skc_dport)
    fields:
      bytes: sum(size)
      h: lhist(size, 0, 1000, 100)
    filter: size > 0
output:
  format: json
  interval: 500ms
  cumulative: true
  sort: calls
  top: 10
  max_keys: 1000
"
        );
        let again = to_dsl(&spec("x.yaml", &yaml));
        assert_eq!(
            again,
            "version 2
spec syscount

probe tracepoint:raw_syscalls:sys_enter {
    calls = count()
} by comm, pid

probe kfunc:tcp_sendmsg as send {
    bytes = sum(size),
    h = lhist(size, 0, 1000, 100)
} by comm, dport = ntohs(sk->__sk_common.skc_dport) where size > 0

output format json, interval 500ms, cumulative true, sort calls, top 10, max_keys 1000
"
        );
        assert_eq!(to_dsl(&s), again);
    }

    #[test]
    fn pairing_in_both_syntaxes() {
        let dsl = "version 2
spec pairs
probe tracepoint:block:block_rq_issue => tracepoint:block:block_rq_complete as bio { usecs = hist(latency / 1000) } match dev, sector by comm
probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch { n = count() } match pid => next_pid where latency > 1000
probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch { n = count() } match pid, target_cpu => next_pid, cpu
probe kfunc:vfs_read => kretfunc:vfs_read { ret = end.ret } match tid
probe kfunc:vfs_read => kretfunc:vfs_read { ret = end.ret }
";
        let s = spec("x.trace", dsl);
        let yaml = to_yaml(&s);
        assert_eq!(
            yaml,
            "version: 2
name: pairs
probes:
  - probe: tracepoint:block:block_rq_issue
    end: tracepoint:block:block_rq_complete
    name: bio
    match: [dev, sector]
    by: [comm]
    fields:
      usecs: hist(latency / 1000)
  - probe: tracepoint:sched:sched_wakeup
    end: tracepoint:sched:sched_switch
    match: { start: pid, end: next_pid }
    fields:
      n: count()
    filter: latency > 1000
  - probe: tracepoint:sched:sched_wakeup
    end: tracepoint:sched:sched_switch
    match: { start: [pid, target_cpu], end: [next_pid, cpu] }
    fields:
      n: count()
  - probe: kfunc:vfs_read
    end: kretfunc:vfs_read
    match: tid
    fields:
      ret: end.ret
  - probe: kfunc:vfs_read
    end: kretfunc:vfs_read
    fields:
      ret: end.ret
"
        );
        let again = to_dsl(&spec("x.yaml", &yaml));
        assert_eq!(
            again,
            "version 2
spec pairs

probe tracepoint:block:block_rq_issue => tracepoint:block:block_rq_complete as bio {
    usecs = hist(latency / 1000)
} match dev, sector by comm

probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch {
    n = count()
} match pid => next_pid where latency > 1000

probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch {
    n = count()
} match pid, target_cpu => next_pid, cpu

probe kfunc:vfs_read => kretfunc:vfs_read {
    ret = end.ret
} match tid

probe kfunc:vfs_read => kretfunc:vfs_read {
    ret = end.ret
}
"
        );
        assert_eq!(to_dsl(&s), again);
    }

    #[test]
    fn probes_with_an_arrow_are_quoted() {
        let s = spec(
            "x.yaml",
            "name: q\nprobes:\n  - probe: uprobe:/opt/a=>b:f\n    end: uretprobe:/opt/a=>b:f\n    match: ['true']\n    fields: { r: end.retval }\n",
        );
        let dsl = to_dsl(&s);
        assert!(
            dsl.contains("probe \"uprobe:/opt/a=>b:f\" => \"uretprobe:/opt/a=>b:f\" {\n"),
            "{dsl}"
        );
        assert!(dsl.contains("} match true\n"), "{dsl}");
        let back = spec("x.trace", &dsl);
        assert_eq!(to_yaml(&back), to_yaml(&s));
        assert!(to_yaml(&s).contains("    match: 'true'\n"));
    }

    #[test]
    fn names_yaml_would_misread_are_quoted() {
        let s = spec(
            "x.trace",
            "kfunc:f { n = count() } by null, yes = pid\noutput sort true",
        );
        let yaml = to_yaml(&s);
        assert!(yaml.contains("      null: 'null'\n"), "{yaml}");
        assert!(yaml.contains("  sort: 'true'\n"), "{yaml}");
        let back = spec("x.yaml", &yaml);
        assert_eq!(to_dsl(&back), to_dsl(&s));
        let s = spec("x.trace", "kfunc:f { n = count() } by null, true");
        let yaml = to_yaml(&s);
        assert!(yaml.contains("    by: ['null', 'true']\n"), "{yaml}");
        assert_eq!(to_dsl(&spec("x.yaml", &yaml)), to_dsl(&s));
    }

    /// Formatting with comments gives text that parses to the same spec,
    /// keeps every comment, and formats to itself, in both syntaxes.
    #[test]
    fn comments_everywhere_are_kept_and_stable() {
        let yaml = "# head
version: 2 # v
name: x
description: d # desc
params: # params line
  # p
  p: { type: u32 } # p after
probes:
  # probe 0
  - probe: kfunc:f
    # end
    end: kretfunc:f # end after
    # match
    match: tid # match after
    # label
    name: a # label after
    by:
      # key comm
      comm: comm # comm after
      # key pid
      k: pid + 1
    fields:
      n: count() # n after
    filter: n > 0 # filter after
output: # output line
  format: table
  # interval
  interval: 1s # interval after
  top: 3
# tail 1

# tail 2
";
        let dsl = "# head
spec x
param p: u32 # p after
# probe 0
probe kfunc:f => kretfunc:f as a { # header after
    # n
    n = count(), # n after
    # m
    m = sum(1) # m after
    # before clauses
} match tid by comm, pid where n > 0 # clauses after
output format json, # format after
  top 3 # top after
# tail
";
        for (file, src) in [("x.yaml", yaml), ("x.trace", dsl)] {
            let parsed = spec(file, src);
            let mut want: Vec<String> = super::super::comments::extract(parsed.syntax, src)
                .into_iter()
                .map(|c| c.text)
                .collect();
            want.sort();
            for (to, out_file) in [(Syntax::Yaml, "o.yaml"), (Syntax::Dsl, "o.trace")] {
                let out = format(&parsed, src, to);
                let again = spec(out_file, &out);
                assert_eq!(to_yaml(&again), to_yaml(&parsed), "{out}");
                assert_eq!(format(&again, &out, to), out, "{file} as {to:?}");
                let mut got: Vec<String> = super::super::comments::extract(to, &out)
                    .into_iter()
                    .map(|c| c.text)
                    .collect();
                got.sort();
                assert_eq!(got, want, "{file} as {to:?}:\n{out}");
                if file == "x.yaml" && to == Syntax::Dsl {
                    // Lines with comments inside are broken at their parts.
                    assert!(
                        out.contains(
                            "probe kfunc:f\n    # end\n    => kretfunc:f # end after\n    # label\n    as a { # label after\n"
                        ),
                        "{out}"
                    );
                    assert!(
                        out.contains(
                            "} match tid # match after\n    # key comm\n    by comm, # comm after\n    # key pid\n    k = pid + 1\n    where n > 0 # filter after\n"
                        ),
                        "{out}"
                    );
                }
                for w in &want {
                    assert!(
                        out.contains(w.as_str()),
                        "{file} as {to:?} lost {w}:\n{out}"
                    );
                }
            }
        }
    }

    /// Each string, written with [`yaml_str`] (block) and [`flow_str`]
    /// (in a flow mapping), reads back as itself through the project's
    /// YAML reader; plain exactly where [`yaml_plain_ok`] says.
    #[test]
    fn plain_yaml_scalars_where_yaml_reads_them_back() {
        // (text, plain in block context, plain in a flow mapping)
        let cases: &[(&str, bool, bool)] = &[
            ("tracepoint:syscalls:sys_enter_openat", true, true),
            ("kfunc:tcp_connect", true, true),
            (
                "uprobe:/usr/lib/x86_64-linux-gnu/libc.so.6:getaddrinfo",
                true,
                true,
            ),
            ("Files opened (openat), as bcc's opensnoop.", true, false),
            ("only this process (0 = any)", true, true),
            ("-end.ret & (end.ret >> 63)", true, true),
            ("(ts - task->start_time) / 1000000", true, true),
            ("$pid == 0 || pid == $pid", true, true),
            ("a#b", true, true),
            ("~x", true, true),
            ("lhist(a, 0, 10, 1)", true, false),
            ("a: b", false, false),
            ("a #b", false, false),
            ("ends:", false, false),
            ("ends ", false, false),
            (" starts", false, false),
            ("", false, false),
            ("- x", false, false),
            ("-", false, false),
            ("!x", false, false),
            ("&x", false, false),
            ("*x", false, false),
            ("[x]", false, false),
            ("{x}", false, false),
            ("'x'", false, false),
            ("\"x\" == comm", false, false),
            ("| x", false, false),
            ("> x", false, false),
            ("%x", false, false),
            ("@x", false, false),
            ("`x`", false, false),
            ("#x", false, false),
            ("?x", false, false),
            (":x", false, false),
            ("true", false, false),
            ("No", false, false),
            ("on", false, false),
            ("null", false, false),
            ("~", false, false),
            ("12", false, false),
            ("-5", false, false),
            ("0x7f", false, false),
            ("0o17", false, false),
            ("1_000", false, false),
            ("1.5e3", false, false),
            (".5", false, false),
            (".inf", false, false),
            ("-.Inf", false, false),
            (".NaN", false, false),
            ("1:30", false, false),
            ("2024-01-31", false, false),
            ("a\nb", false, false),
            ("a\tb", false, false),
            ("...", false, false),
            ("a, b", true, false),
            ("a]", true, false),
            ("(pid 0), as bcc's -I", true, false),
            ("'it's' \"q\"", false, false),
            ("it's \\ x:", false, false),
            ("a\u{7f}b\u{feff}", false, false),
            ("\\x", true, true),
        ];
        // Double quotes spare a `'` its doubling.
        assert_eq!(flow_str("a, bcc's"), "\"a, bcc's\"");
        assert_eq!(yaml_str("'a'"), "\"'a'\"");
        assert_eq!(yaml_str("'a' \"b\""), "'''a'' \"b\"'");
        assert_eq!(yaml_str("a\u{7f}"), "\"a\\u007f\"");
        let read = |doc: &str| -> String {
            let super::super::yaml::Node::Map(entries, _) =
                super::super::yaml::parse(doc).unwrap_or_else(|e| panic!("{doc}\n{e:?}"))
            else {
                panic!("{doc}")
            };
            match &entries[0].1 {
                super::super::yaml::Node::Scalar(s) => s.value.clone(),
                super::super::yaml::Node::Map(e, _) => match &e[0].1 {
                    super::super::yaml::Node::Scalar(s) => s.value.clone(),
                    other => panic!("{doc}: {other:?}"),
                },
                other => panic!("{doc}: {other:?}"),
            }
        };
        for &(text, block, flow) in cases {
            assert_eq!(yaml_plain_ok(text, false), block, "block: {text:?}");
            assert_eq!(yaml_plain_ok(text, true), flow, "flow: {text:?}");
            let b = yaml_str(text);
            assert_eq!(b == text, block, "{text:?} as {b}");
            let f = flow_str(text);
            assert_eq!(f == text, flow, "{text:?} as {f}");
            if !text.is_empty() {
                assert_eq!(read(&format!("k: {b}\n")), text, "k: {b}");
                assert_eq!(read(&format!("k: {{ a: {f}, b: c }}\n")), text, "{f}");
            }
        }
    }

    /// With the source, expressions keep their spelling (parentheses,
    /// literals), white space made single; where the text under an
    /// expression's span is not the expression (an escaped YAML scalar),
    /// the canonical form.
    #[test]
    fn expressions_keep_their_spelling() {
        let yaml = "name: x
probes:
  - probe: kfunc:f
    by:
      k: (pid   >> 3)
    fields:
      fd: end.ret | (end.ret >> 63)
      sig: signal(arg0->exit_code & 0x7f)
      h: lhist(size, 0x0, 0x400, 0100)
      s: 'comm == \"it s\"'
      d: \"comm == \\\"a\\\" && (pid)\"
    filter: (flags & 0x40) != 0
";
        let s = spec("x.yaml", yaml);
        let out = format(&s, yaml, Syntax::Yaml);
        for line in [
            "      k: (pid >> 3)\n",
            "      fd: end.ret | (end.ret >> 63)\n",
            "      sig: signal(arg0->exit_code & 0x7f)\n",
            "      h: lhist(size, 0x0, 0x400, 0100)\n",
            // Verbatim in a single-quoted scalar: kept, quoted (`\"` first
            // is not, but a string inside is fine plain).
            "      s: comm == \"it s\"\n",
            // Escaped in a double-quoted scalar: canonical.
            "      d: comm == \"a\" && pid\n",
            "    filter: (flags & 0x40) != 0\n",
        ] {
            assert!(out.contains(line), "{line}\n{out}");
        }
        assert_eq!(format(&spec("o.yaml", &out), &out, Syntax::Yaml), out);
        // Canonical without the source.
        assert!(to_yaml(&s).contains("fd: end.ret | end.ret >> 63\n"));
        // Converted, the spelling stays.
        let dsl = format(&s, yaml, Syntax::Dsl);
        for part in [
            "    fd = end.ret | (end.ret >> 63),\n",
            "    sig = signal(arg0->exit_code & 0x7f),\n",
            "    h = lhist(size, 0x0, 0x400, 0100),\n",
            "    s = comm == \"it s\",\n",
            "} by k = (pid >> 3) where (flags & 0x40) != 0\n",
        ] {
            assert!(dsl.contains(part), "{part}\n{dsl}");
        }
        let back = format(&spec("o.trace", &dsl), &dsl, Syntax::Yaml);
        assert_eq!(back, out);
        // A string literal's white space is its own; a DSL expression over
        // lines is joined; one with a comment inside is canonical.
        let src = "kfunc:f {\n    a = comm == \"x   y\"  &&\n        (pid > 1), # c\n    b = (pid # why\n        + 1)\n} where (pid)\n";
        let s = spec("x.trace", src);
        let out = format(&s, src, Syntax::Dsl);
        assert!(
            out.contains("    a = comm == \"x   y\" && (pid > 1), # c\n"),
            "{out}"
        );
        assert!(out.contains("    b = pid + 1 # why\n"), "{out}");
        assert!(out.contains("} where (pid)\n"), "{out}");
        let yaml = format(&s, src, Syntax::Yaml);
        assert!(
            yaml.contains("      a: comm == \"x   y\" && (pid > 1) # c\n"),
            "{yaml}"
        );
        assert!(yaml.contains("    filter: (pid)\n"), "{yaml}");
    }

    /// Expression text YAML would misread is quoted in YAML; the DSL reads
    /// it as it is.
    #[test]
    fn expression_text_is_quoted_where_yaml_needs_it() {
        let src = "kfunc:f { a = !(pid > 0), b = \"x: y\" , c = 0x10, d = comm == \"a #b\" }\n";
        let s = spec("x.trace", src);
        let yaml = format(&s, src, Syntax::Yaml);
        for line in [
            "      a: '!(pid > 0)'\n",
            "      b: '\"x: y\"'\n",
            "      c: '0x10'\n",
            "      d: 'comm == \"a #b\"'\n",
        ] {
            assert!(yaml.contains(line), "{line}\n{yaml}");
        }
        let again = spec("o.yaml", &yaml);
        assert_eq!(to_dsl(&again), to_dsl(&s));
        assert_eq!(
            format(&again, &yaml, Syntax::Dsl),
            format(&s, src, Syntax::Dsl)
        );
    }
}
