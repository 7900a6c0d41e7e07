//! Pass 1, **parse**: YAML or DSL text → [`ast::Spec`] with spans.
//!
//! Both front ends share the expression grammar (`grammar.pest`) and end in
//! the same checks of names ([`validate`]), so a YAML spec and its DSL form
//! give the same tree and, later, the same plan.

pub mod ast;
pub mod dsl;
pub mod expr;
pub mod print;
pub mod spec_yaml;
pub mod yaml;

use crate::diag::Diagnostic;
use ast::Spec;

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

/// Parses a spec in either syntax and checks its names.
pub fn parse(file_name: &str, src: &str) -> Result<Spec, Vec<Diagnostic>> {
    if src.len() > MAX_SOURCE {
        return Err(vec![Diagnostic::error(
            crate::diag::Span::new(0, 0),
            format!("spec file larger than {} KiB", MAX_SOURCE >> 10),
        )]);
    }
    let spec = match detect(file_name, src) {
        Syntax::Yaml => spec_yaml::parse(src)?,
        Syntax::Dsl => dsl::parse(src)?,
    };
    let diags = validate(&spec);
    if diags.is_empty() {
        Ok(spec)
    } else {
        Err(diags)
    }
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

/// Checks the names a spec declares: the spec name, probe labels, field and
/// parameter names, and duplicates among them.
pub fn validate(spec: &Spec) -> Vec<Diagnostic> {
    let mut d = Vec::new();
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
                .note(format!(
                    "try `{}`",
                    n.to_ascii_lowercase()
                        .replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "-")
                )),
        );
    }
    let mut params: Vec<&ast::ParamDecl> = Vec::new();
    for p in &spec.params {
        if !is_ident(&p.name.value) {
            d.push(
                Diagnostic::error(
                    p.name.span,
                    format!("invalid parameter name `{}`", p.name.value),
                )
                .label("parameter names are identifiers ([A-Za-z_][A-Za-z0-9_]*)"),
            );
        }
        if let Some(prev) = params.iter().find(|q| q.name.value == p.name.value) {
            d.push(
                Diagnostic::error(
                    p.name.span,
                    format!("parameter `{}` declared twice", p.name.value),
                )
                .label("second declaration")
                .also(prev.name.span, "first declaration"),
            );
        }
        params.push(p);
    }
    let mut labels: Vec<(&str, crate::diag::Span)> = Vec::new();
    for p in &spec.probes {
        if let Some(l) = &p.name {
            if !is_ident(&l.value) {
                d.push(
                    Diagnostic::error(l.span, format!("invalid probe name `{}`", l.value))
                        .label("probe names are identifiers ([A-Za-z_][A-Za-z0-9_]*)"),
                );
            }
            if let Some((_, s)) = labels.iter().find(|(n, _)| *n == l.value) {
                d.push(
                    Diagnostic::error(l.span, format!("two probes are named `{}`", l.value))
                        .label("second use")
                        .also(*s, "first use")
                        .note("probe names label records; give each probe its own"),
                );
            }
            labels.push((&l.value, l.span));
        }
        let mut seen: Vec<&ast::FieldDecl> = Vec::new();
        for f in &p.fields {
            if !is_ident(&f.name.value) {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("invalid field name `{}`", f.name.value),
                    )
                    .label("field names are identifiers ([A-Za-z_][A-Za-z0-9_]*)"),
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
            if let Some(prev) = seen.iter().find(|g| g.name.value == f.name.value) {
                d.push(
                    Diagnostic::error(
                        f.name.span,
                        format!("duplicate field name `{}`", f.name.value),
                    )
                    .label("second field with this name")
                    .also(prev.name.span, "first field"),
                );
            }
            seen.push(f);
        }
    }
    d
}
