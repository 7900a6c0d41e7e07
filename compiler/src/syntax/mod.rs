//! Pass 1, **parse**: YAML or DSL text → [`ast::Spec`] with spans.
//!
//! Both front ends share the expression grammar (`grammar.pest`) and end in
//! the same checks of names ([`validate`]), so a YAML spec and its DSL form
//! give the same tree and, later, the same plan.

pub mod ast;
pub mod bpftrace;
pub mod comments;
pub mod dsl;
pub mod expr;
pub mod print;
mod recover;
pub mod spec_yaml;
pub mod version;
pub mod yaml;

use crate::diag::{Diagnostic, Span, Spanned};
use ast::{Expr, ExprKind, Spec};
use std::collections::HashMap;

/// Largest spec file accepted.
pub const MAX_SOURCE: usize = 1 << 20;

/// Which front end a text is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// YAML (`.yaml`, `.yml`).
    Yaml,
    /// The compact DSL (`.trace`, `-e`).
    Dsl,
}

/// Picks the syntax from the file name, else from the first word.
pub fn detect(file_name: &str, src: &str) -> Syntax {
    if file_name.ends_with(".yaml") || file_name.ends_with(".yml") {
        return Syntax::Yaml;
    }
    if file_name.ends_with(".trace") {
        return Syntax::Dsl;
    }
    let first = src
        .lines()
        .map(str::trim_start)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let word: String = first
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = &first[word.len()..];
    let dsl_keyword = matches!(
        word.as_str(),
        "spec" | "probe" | "param" | "output" | "version"
    ) && after.starts_with([' ', '\t']);
    let probe_token = after.starts_with(':') && !after.starts_with(": ") && after.len() > 1;
    if dsl_keyword || probe_token {
        Syntax::Dsl
    } else {
        Syntax::Yaml
    }
}

/// Parses a spec in either syntax, checks its names ([`validate`]) and
/// that it uses only features of the version it declares
/// ([`version::check_version`]).
pub fn parse(file_name: &str, src: &str) -> Result<Spec, Vec<Diagnostic>> {
    parse_partial(file_name, src).into_result()
}

/// A parse that went as far as it could.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The spec made of the parts that parsed (none when not even its
    /// shape could be read). With errors in `diags` it is incomplete: a
    /// probe, parameter or setting with a syntax error is left out.
    pub spec: Option<Spec>,
    /// Every problem found, in the order found.
    pub diags: Vec<Diagnostic>,
    /// What was left out for its errors, so that later passes do not
    /// report what follows from them.
    pub dropped: Dropped,
}

impl Parsed {
    /// The spec, when it parsed without an error; else the diagnostics.
    pub fn into_result(self) -> Result<Spec, Vec<Diagnostic>> {
        match self.spec {
            Some(spec) if !crate::diag::has_errors(&self.diags) => Ok(spec),
            _ => Err(self.diags),
        }
    }
}

/// The parts of a spec left out of a [`Parsed`] spec for syntax errors.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dropped {
    /// Probe targets (and `end:` targets) of probes left out: still worth
    /// resolving, so a misspelt tracepoint is reported with the syntax
    /// error next to it.
    pub probes: Vec<Spanned<String>>,
    /// Parameters left out: uses of them are not checked.
    pub params: Vec<String>,
    /// Fields and keys left out of a probe that is kept (by the byte the
    /// probe starts at), with their names when they have one: a filter
    /// that uses them is not checked.
    pub fields: Vec<(u32, Vec<String>)>,
}

/// Parses as far as possible: syntax errors recover at the next probe,
/// field, key or setting, so one run reports every independent problem.
pub fn parse_partial(file_name: &str, src: &str) -> Parsed {
    if src.len() > MAX_SOURCE {
        return Parsed {
            spec: None,
            diags: vec![Diagnostic::error(
                Span::new(0, 0),
                format!("spec file larger than {} KiB", MAX_SOURCE >> 10),
            )],
            dropped: Dropped::default(),
        };
    }
    let syntax = detect(file_name, src);
    let mut p = match syntax {
        Syntax::Yaml => spec_yaml::parse_partial(src),
        Syntax::Dsl => dsl::parse_partial(src),
    };
    if let Some(spec) = &p.spec {
        p.diags.extend(validate(spec));
        p.diags.extend(version::check_version_in(spec, syntax));
    }
    p
}

/// The YAML spellings the checking passes use in their notes, and the
/// DSL's for the same thing. The passes after parsing see a spec, not the
/// text it came from; [`in_words_of`] words their diagnostics for the
/// form the user wrote (longest phrases first).
const DSL_WORDS: [(&str, &str); 14] = [
    (
        "each with its own `name:`",
        "each with its own label, `PROBE as LABEL { … }`",
    ),
    (
        "give one of them a `name:`",
        "give one of them a label, `PROBE as LABEL { … }`,",
    ),
    ("`fields: { calls: count() }`", "`{ calls = count() }`"),
    ("`by: [comm, ustack]`", "`by comm, ustack`"),
    ("`by: [comm]`", "`by comm`"),
    ("`calls: count()`", "`calls = count()`"),
    ("`samples: count()`", "`samples = count()`"),
    ("`filter: ret > 0`", "`where ret > 0`"),
    (
        "aggregates go in `fields:`",
        "aggregates go in the fields (`{ … }`)",
    ),
    ("remove `by:`", "remove `by …`"),
    ("in `by:`", "after `by`"),
    ("`by:`", "`by`"),
    ("`output: ", "`output "),
    ("`name:`", "`as LABEL`"),
];

/// Rewords a diagnostic of the checking passes for the form the spec was
/// written in: DSL advice for a DSL spec (the passes write YAML's).
pub fn in_words_of(syntax: Syntax, d: &mut Diagnostic) {
    if syntax == Syntax::Yaml {
        return;
    }
    let reword = |t: &mut String| {
        if !t.contains('`') {
            return;
        }
        for (yaml, dsl) in DSL_WORDS {
            if t.contains(yaml) {
                *t = t.replace(yaml, dsl);
            }
        }
    };
    reword(&mut d.message);
    reword(&mut d.label);
    d.notes.iter_mut().for_each(reword);
    d.secondary.iter_mut().for_each(|(_, l)| reword(l));
}

/// Where the identifier that ends `s` starts (letters, digits, `_`): the
/// byte after the last other character, on a character boundary whatever
/// that character's width.
pub(crate) fn trailing_word_start(s: &str) -> usize {
    trailing_word_start_by(s, |c| c.is_ascii_alphanumeric() || c == '_')
}

/// [`trailing_word_start`] for words of the characters `is_word` accepts.
pub(crate) fn trailing_word_start_by(s: &str, is_word: impl Fn(char) -> bool) -> usize {
    s.char_indices()
        .rev()
        .find(|&(_, c)| !is_word(c))
        .map_or(0, |(i, c)| i + c.len_utf8())
}

/// A valid spec name close to `n`: lower case, other characters turned
/// into `-`, no leading or doubled `-`.
fn spec_name_like(n: &str) -> String {
    let mut out = String::new();
    for c in n.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() || (c == '_' && !out.is_empty()) {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "my-tracer".to_string()
    } else {
        out
    }
}

/// An identifier close to `n`: other characters turned into `_`, and a
/// leading `_` before a digit.
fn ident_like(n: &str) -> String {
    let mut out: String = n
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) || out.is_empty() {
        out.insert(0, '_');
    }
    out
}

/// A name for a key or field computed by `e`, for examples in notes: the
/// name of the value it is computed from (`ntohs(sk->skc_dport)` →
/// `skc_dport`, `a + b` → `a`), else `key`.
pub(crate) fn name_for(e: &Expr) -> String {
    let mut e = e;
    // Each step goes one level down a tree of bounded depth.
    loop {
        e = match &e.kind {
            ExprKind::Ident(n) | ExprKind::Param(n) => return n.clone(),
            ExprKind::Member { member, .. } => return member.value.clone(),
            ExprKind::Call { func, args } => match args.first() {
                Some(a) => a,
                None => return func.value.clone(),
            },
            ExprKind::Index { base, .. } => base,
            ExprKind::Not(x) | ExprKind::Unary { expr: x, .. } => x,
            ExprKind::Binary { lhs, .. } => lhs,
            ExprKind::Int(_) | ExprKind::Str(_) => return "key".to_string(),
        };
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Longest name (spec, probe, field, parameter): YAML keys are at most
/// 1024 characters, and field and parameter names are YAML keys.
pub const MAX_NAME: usize = 1024;

fn too_long(d: &mut Vec<Diagnostic>, what: &str, name: &Spanned<String>) {
    if name.value.len() > MAX_NAME {
        d.push(
            Diagnostic::error(
                name.span,
                format!("{what} name longer than {MAX_NAME} characters"),
            )
            .label(format!("{} characters", name.value.len()))
            .note("a YAML key holds at most 1024 characters; pick a shorter name"),
        );
    }
}

/// Checks the names a spec declares: the spec name, probe labels, field,
/// key and parameter names, and duplicates among them (a field may not
/// have a key's name either: both are columns of the output).
pub fn validate(spec: &Spec) -> Vec<Diagnostic> {
    let mut d = Vec::new();
    too_long(&mut d, "spec", &spec.name);
    let n = &spec.name.value;
    let ok = n
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !ok {
        d.push(
            Diagnostic::error(spec.name.span, format!("invalid spec name `{n}`"))
                .label("names are [a-z0-9][a-z0-9_-]*")
                .note(format!("try `{}`", spec_name_like(n))),
        );
    }
    let mut params: HashMap<&str, Span> = HashMap::new();
    for p in &spec.params {
        if !is_ident(&p.name.value) {
            d.push(
                Diagnostic::error(
                    p.name.span,
                    format!("invalid parameter name `{}`", p.name.value),
                )
                .label("parameter names are identifiers ([A-Za-z_][A-Za-z0-9_]*)")
                .note(format!("try `{}`", ident_like(&p.name.value))),
            );
        }
        too_long(&mut d, "parameter", &p.name);
        if let Some(prev) = params.get(p.name.value.as_str()) {
            d.push(
                Diagnostic::error(
                    p.name.span,
                    format!("parameter `{}` declared twice", p.name.value),
                )
                .label("second declaration")
                .also(*prev, "first declaration"),
            );
        } else {
            params.insert(&p.name.value, p.name.span);
        }
    }
    let mut labels: HashMap<&str, Span> = HashMap::new();
    for p in &spec.probes {
        if let Some(l) = &p.name {
            if !is_ident(&l.value) {
                d.push(
                    Diagnostic::error(l.span, format!("invalid probe name `{}`", l.value))
                        .label("probe names are identifiers ([A-Za-z_][A-Za-z0-9_]*)")
                        .note(format!("try `{}`", ident_like(&l.value))),
                );
            }
            too_long(&mut d, "probe", l);
            if let Some(s) = labels.get(l.value.as_str()) {
                d.push(
                    Diagnostic::error(l.span, format!("two probes are named `{}`", l.value))
                        .label("second use")
                        .also(*s, "first use")
                        .note("probe names label records; give each probe its own"),
                );
            } else {
                labels.insert(&l.value, l.span);
            }
        }
        let mut keys: HashMap<&str, Span> = HashMap::new();
        for k in &p.by {
            too_long(&mut d, "key", &k.name);
            if !is_ident(&k.name.value) {
                d.push(
                    Diagnostic::error(k.name.span, format!("invalid key name `{}`", k.name.value))
                        .label("key names are identifiers ([A-Za-z_][A-Za-z0-9_]*)")
                        .note(format!("try `{}`", ident_like(&k.name.value))),
                );
            }
            if matches!(k.name.value.as_str(), "time" | "probe") {
                d.push(
                    Diagnostic::error(
                        k.name.span,
                        format!("key name `{}` is reserved", k.name.value),
                    )
                    .label("reserved for the output's own column")
                    .note("`time` and `probe` lead every row of the output: give the key another name"),
                );
            }
            if let Some(prev) = keys.get(k.name.value.as_str()) {
                d.push(
                    Diagnostic::error(
                        k.name.span,
                        format!("duplicate key name `{}`", k.name.value),
                    )
                    .label("second key with this name")
                    .also(*prev, "first key")
                    .note("key names are the output's key columns: rename or remove one of them"),
                );
            } else {
                keys.insert(&k.name.value, k.name.span);
            }
        }
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for f in &p.fields {
            too_long(&mut d, "field", &f.name);
            if !is_ident(&f.name.value) {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("invalid field name `{}`", f.name.value),
                    )
                    .label("field names are identifiers ([A-Za-z_][A-Za-z0-9_]*)")
                    .note(format!("try `{}`", ident_like(&f.name.value))),
                );
            }
            if matches!(f.name.value.as_str(), "time" | "probe") {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("field name `{}` is reserved", f.name.value),
                    )
                    .label("reserved for the output's own column")
                    .note("pick another name, e.g. `ts` for a timestamp"),
                );
            }
            if let Some(prev) = seen.get(f.name.value.as_str()) {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("duplicate field name `{}`", f.name.value),
                    )
                    .label("second field with this name")
                    .also(*prev, "first field")
                    .note("field names are the output's column names: rename one of them"),
                );
            } else {
                seen.insert(&f.name.value, f.name.span);
            }
            if let Some(key) = keys.get(f.name.value.as_str()) {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("field `{}` has the name of a key", f.name.value),
                    )
                    .label("field named like a key")
                    .also(*key, "the key")
                    .note("keys and fields are the output's columns: give the field another name"),
                );
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (message, text under the span, texts under the secondary spans).
    fn errors(name: &str, src: &str) -> Vec<(String, String, Vec<String>)> {
        parse(name, src)
            .expect_err(src)
            .iter()
            .map(|d| {
                (
                    d.message.clone(),
                    src[d.span.range()].to_string(),
                    d.secondary
                        .iter()
                        .map(|(s, _)| src[s.range()].to_string())
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn key_names() {
        let yaml = "name: x
probes:
  - probe: kfunc:f
    by: { comm: comm, my-key: pid, time: tid, comm: cpu }
    fields:
      n: count()
      my-key: sum(1)
";
        let got = errors("x.yaml", yaml);
        assert_eq!(
            got,
            [
                (
                    "invalid key name `my-key`".to_string(),
                    "my-key".to_string(),
                    vec![]
                ),
                (
                    "key name `time` is reserved".to_string(),
                    "time".to_string(),
                    vec![]
                ),
                (
                    "duplicate key name `comm`".to_string(),
                    "comm".to_string(),
                    vec!["comm".to_string()]
                ),
                (
                    "invalid field name `my-key`".to_string(),
                    "my-key".to_string(),
                    vec![]
                ),
                (
                    "field `my-key` has the name of a key".to_string(),
                    "my-key".to_string(),
                    vec!["my-key".to_string()]
                ),
            ]
        );
        // The duplicate points at both: the second, then the first.
        let d = parse("x.yaml", yaml).unwrap_err();
        let dup = &d[2];
        assert_eq!(dup.span.start as usize, yaml.find("comm: cpu").unwrap());
        assert_eq!(
            dup.secondary[0].0.start as usize,
            yaml.find("comm: comm").unwrap()
        );

        let dsl = "kfunc:f { comm = count() } by comm, pid, pid = tid";
        assert_eq!(
            errors("x.trace", dsl),
            [
                (
                    "duplicate key name `pid`".to_string(),
                    "pid".to_string(),
                    vec!["pid".to_string()]
                ),
                (
                    "field `comm` has the name of a key".to_string(),
                    "comm".to_string(),
                    vec!["comm".to_string()]
                ),
            ]
        );
        let d = parse("x.trace", dsl).unwrap_err();
        assert_eq!(d[0].span.start as usize, dsl.rfind("pid").unwrap());
        assert_eq!(d[0].secondary[0].0.start as usize, dsl.find("pid").unwrap());
    }

    #[test]
    fn made_up_names() {
        let name = |s: &str| {
            let e = expr::parse_expr(s, &expr::SpanMap::verbatim(0, s.len()), "t").unwrap();
            name_for(&e)
        };
        assert_eq!(name("ntohs(sk->__sk_common.skc_dport)"), "skc_dport");
        assert_eq!(name("(a + b) * 2"), "a");
        assert_eq!(name("-x[3]"), "x");
        assert_eq!(name("count()"), "count");
        assert_eq!(name("$port"), "port");
        assert_eq!(name("\"s\""), "key");
        assert_eq!(name("7"), "key");
    }

    #[test]
    fn detect_dsl_with_keys() {
        assert_eq!(detect("-e", "kfunc:f { n = count() } by comm"), Syntax::Dsl);
        assert_eq!(
            detect("-e", "version 2\nkfunc:f { n = count() }"),
            Syntax::Dsl
        );
    }
}
