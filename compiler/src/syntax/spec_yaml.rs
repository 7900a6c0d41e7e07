//! YAML spec → [`Spec`]: key checking ("did you mean"), scalar typing, and
//! expression parsing with spans mapped back into the YAML file.

use super::ast::*;
use super::expr::{parse_expr, SpanMap};
use super::yaml::{self, Node, Scalar};
use crate::diag::{Diagnostic, Span, Spanned};
use crate::plan::{Format, TimeMode};

const TOP_KEYS: [&str; 6] = [
    "version",
    "name",
    "description",
    "params",
    "probes",
    "output",
];
const PARAM_KEYS: [&str; 3] = ["type", "default", "description"];
const PROBE_KEYS: [&str; 4] = ["probe", "name", "fields", "filter"];
const OUTPUT_KEYS: [&str; 2] = ["format", "time"];
/// Keys other tools (and the DSL) use for ours: (written, meant).
const KEY_ALIASES: [(&str, &str); 7] = [
    ("where", "filter"),
    ("label", "name"),
    ("as", "name"),
    ("desc", "description"),
    ("args", "fields"),
    ("param", "params"),
    ("target", "probe"),
];
/// Output format names.
pub const FORMATS: [&str; 3] = ["table", "json", "csv"];
/// Time mode names.
pub const TIMES: [&str; 3] = ["relative", "absolute", "none"];

/// Parses a YAML spec; on failure, every problem found.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    let root = yaml::parse(src).map_err(|d| vec![d])?;
    if let Node::Scalar(s) = &root {
        if s.is_null() && s.span.start == s.span.end {
            // Nothing but blank lines and comments: about the whole file.
            return Err(vec![Diagnostic::error(
                Span::new(0, src.trim_end().len()),
                "the spec file is empty",
            )
            .label("no spec here")
            .note("a spec needs at least `name:` and `probes:`; see `tracectl fmt --help` or specs/ for examples")]);
        }
    }
    let mut r = Reader { diags: Vec::new() };
    let spec = r.spec(&root);
    match spec {
        Some(s) if r.diags.is_empty() => Ok(s),
        _ => {
            if r.diags.is_empty() {
                r.diags
                    .push(Diagnostic::error(root.span(), "not a valid spec"));
            }
            Err(r.diags)
        }
    }
}

struct Reader {
    diags: Vec<Diagnostic>,
}

/// "found …" for a label: short scalars are quoted as written.
fn found(node: &Node) -> String {
    match node {
        Node::Scalar(s)
            if !s.is_null() && s.value.chars().count() <= 40 && !s.value.contains('\n') =>
        {
            format!("found `{}`", s.value)
        }
        other => format!("found {}", other.kind()),
    }
}

/// True if some key of `entries` looks like a misspelling of `key` (it has
/// already been reported as unknown, with a "did you mean").
fn misspelt(entries: &[(Scalar, Node)], key: &str) -> bool {
    entries
        .iter()
        .any(|(k, _)| k.value != key && crate::diag::closest(&k.value, [key]).is_some())
}

/// Where to report a key missing from a mapping: its first key.
fn missing_at(node: &Node, entries: &[(Scalar, Node)]) -> Span {
    entries.first().map_or(node.span(), |(k, _)| k.span)
}

/// Parses a scalar as an expression, mapping spans into the file.
pub fn scalar_expr(s: &Scalar, what: &str) -> Result<Expr, Diagnostic> {
    let map = SpanMap {
        base: s.verbatim.map(|b| b as u32),
        whole: s.span,
    };
    parse_expr(&s.value, &map, what)
}

impl Reader {
    fn err(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Checks a mapping's keys against `allowed`; returns the entries.
    fn mapping<'n>(
        &mut self,
        node: &'n Node,
        allowed: &[&str],
        what: &str,
    ) -> Option<&'n [(Scalar, Node)]> {
        let Node::Map(entries, _) = node else {
            let mut d = Diagnostic::error(node.span(), format!("{what} must be a mapping"))
                .label(found(node));
            let example = match (what, node) {
                ("a spec", Node::Seq(..)) => Some("a spec is one mapping (`name:`, `probes:`, …), not a list: remove the leading `- `".to_string()),
                ("a spec", Node::Scalar(_)) => Some("a spec is a mapping of keys, starting e.g. with `name: my-tracer` and `probes:`".to_string()),
                ("a parameter", Node::Scalar(s)) if !s.is_null() => {
                    Some(format!("write the type as a setting: `{{ type: {} }}`", s.value))
                }
                ("a probe", Node::Scalar(s)) if !s.is_null() => Some(format!(
                    "write `- probe: {}` with `fields:` under it",
                    s.value
                )),
                ("`output`", Node::Scalar(s)) if !s.is_null() => Some(match parse_time(&s.value) {
                    Some(_) => format!("write `output: {{ time: {} }}`", s.value),
                    None => format!("write `output: {{ format: {} }}`", s.value),
                }),
                _ => None,
            };
            if let Some(e) = example {
                d = d.note(e);
            }
            self.err(d);
            return None;
        };
        let mut seen: std::collections::HashMap<&str, Span> = std::collections::HashMap::new();
        for (k, _) in entries {
            if !allowed.contains(&k.value.as_str()) {
                let d = Diagnostic::error(k.span, format!("unknown key `{}` in {what}", k.value))
                    .label("unknown key");
                // Other tools' words for our keys.
                let alias = KEY_ALIASES
                    .iter()
                    .find(|(a, key)| *a == k.value && allowed.contains(key))
                    .map(|(_, key)| *key);
                let d = match alias {
                    Some(key) => d.note(format!("did you mean `{key}`?")),
                    None => d.suggest(&k.value, allowed.iter().copied(), "keys"),
                };
                self.err(d);
            } else if let Some(first) = seen.get(k.value.as_str()) {
                self.err(
                    Diagnostic::error(k.span, format!("duplicate key `{}`", k.value))
                        .label("written twice")
                        .also(*first, "first written here"),
                );
            } else {
                seen.insert(&k.value, k.span);
            }
        }
        Some(entries)
    }

    fn get<'n>(entries: &'n [(Scalar, Node)], key: &str) -> Option<(&'n Scalar, &'n Node)> {
        entries
            .iter()
            .find(|(k, _)| k.value == key)
            .map(|(k, v)| (k, v))
    }

    fn string(&mut self, node: &Node, what: &str) -> Option<Spanned<String>> {
        match node {
            Node::Scalar(s) if !s.is_null() => Some(Spanned::new(s.value.clone(), s.span)),
            _ => {
                self.err(
                    Diagnostic::error(node.span(), format!("{what} must be a string"))
                        .label(found(node)),
                );
                None
            }
        }
    }

    fn int(&mut self, node: &Node, what: &str) -> Option<Spanned<i128>> {
        if let Node::Scalar(s) = node {
            if s.plain {
                if let Some(v) = super::expr::parse_int(&s.value) {
                    return Some(Spanned::new(v, s.span));
                }
            }
        }
        self.err(
            Diagnostic::error(node.span(), format!("{what} must be an integer")).label(found(node)),
        );
        None
    }

    fn spec(&mut self, root: &Node) -> Option<Spec> {
        let entries = self.mapping(root, &TOP_KEYS, "a spec")?;
        let version = Self::get(entries, "version").and_then(|(_, v)| {
            let n = self.int(v, "`version`")?;
            if n.value != 1 {
                self.err(
                    Diagnostic::error(n.span, format!("unsupported spec version {}", n.value))
                        .label("only version 1 exists"),
                );
            }
            Some(Spanned::new(n.value as u64, n.span))
        });
        let name = match Self::get(entries, "name") {
            Some((_, v)) => self.string(v, "`name`"),
            None => {
                if !misspelt(entries, "name") {
                    self.err(
                        Diagnostic::error(missing_at(root, entries), "missing key `name`")
                            .label("this spec has no `name:`")
                            .note("add `name: my-tracer` ([a-z0-9][a-z0-9_-]*)"),
                    );
                }
                None
            }
        };
        let description =
            Self::get(entries, "description").and_then(|(_, v)| self.string(v, "`description`"));
        let params = match Self::get(entries, "params") {
            Some((_, v)) => self.params(v),
            None => Vec::new(),
        };
        let probes = match Self::get(entries, "probes") {
            Some((_, v)) => self.probes(v),
            None => {
                if !misspelt(entries, "probes") {
                    self.err(
                        Diagnostic::error(missing_at(root, entries), "missing key `probes`")
                            .label("this spec has no `probes:`")
                            .note("add `probes:` with at least one `- probe: …` entry"),
                    );
                }
                Vec::new()
            }
        };
        let output = match Self::get(entries, "output") {
            Some((_, v)) => self.output(v),
            None => OutputDecl::default(),
        };
        Some(Spec {
            version,
            name: name?,
            description,
            params,
            probes,
            output,
            span: root.span(),
        })
    }

    fn params(&mut self, node: &Node) -> Vec<ParamDecl> {
        let Node::Map(entries, _) = node else {
            self.err(
                Diagnostic::error(node.span(), "`params` must be a mapping of name → settings")
                    .label(found(node))
                    .note("e.g. `params: { port: { type: u16, default: 0 } }`"),
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let Some(fields) = self.mapping(v, &PARAM_KEYS, "a parameter") else {
                continue;
            };
            let ty = match Self::get(fields, "type") {
                Some((_, t)) => match t {
                    Node::Scalar(s) => match ParamType::parse(&s.value) {
                        Some(ty) => Some(Spanned::new(ty, s.span)),
                        None => {
                            self.err(
                                Diagnostic::error(
                                    s.span,
                                    format!("unknown parameter type `{}`", s.value),
                                )
                                .label("unknown type")
                                .suggest(
                                    &s.value,
                                    ParamType::NAMES,
                                    "types",
                                ),
                            );
                            None
                        }
                    },
                    other => {
                        self.err(
                            Diagnostic::error(other.span(), "`type` must be a type name")
                                .label(found(other)),
                        );
                        None
                    }
                },
                None => {
                    if misspelt(fields, "type") {
                        continue;
                    }
                    self.err(
                        Diagnostic::error(k.span, format!("parameter `{}` has no `type`", k.value))
                            .label("missing `type`")
                            .note(
                                "valid types: u8, u16, u32, u64, i8, i16, i32, i64, string, bool",
                            ),
                    );
                    None
                }
            };
            let default = Self::get(fields, "default").and_then(|(_, d)| match d {
                Node::Scalar(s) => Some(Spanned::new(scalar_literal(s), s.span)),
                other => {
                    self.err(
                        Diagnostic::error(other.span(), "`default` must be a value")
                            .label(found(other)),
                    );
                    None
                }
            });
            let description =
                Self::get(fields, "description").and_then(|(_, d)| self.string(d, "`description`"));
            if let Some(ty) = ty {
                out.push(ParamDecl {
                    name: Spanned::new(k.value.clone(), k.span),
                    ty,
                    default,
                    description,
                });
            }
        }
        out
    }

    fn probes(&mut self, node: &Node) -> Vec<ProbeDecl> {
        let Node::Seq(items, _) = node else {
            self.err(
                Diagnostic::error(node.span(), "`probes` must be a list")
                    .label(found(node))
                    .note("write each probe as a list item: `- probe: kfunc:tcp_connect`"),
            );
            return Vec::new();
        };
        if items.is_empty() {
            self.err(
                Diagnostic::error(node.span(), "`probes` is empty")
                    .label("needs at least one probe"),
            );
        }
        items.iter().filter_map(|i| self.probe(i)).collect()
    }

    fn probe(&mut self, node: &Node) -> Option<ProbeDecl> {
        let entries = self.mapping(node, &PROBE_KEYS, "a probe")?;
        let probe = match Self::get(entries, "probe") {
            Some((_, v)) => match v {
                Node::Scalar(s) if !s.is_null() => {
                    let span = s
                        .verbatim
                        .filter(|_| !s.value.is_empty())
                        .map(|b| Span::new(b, b + s.value.len()))
                        .unwrap_or(s.span);
                    Some(Spanned::new(s.value.clone(), span))
                }
                other => {
                    self.err(
                        Diagnostic::error(other.span(), "`probe` must be a probe name")
                            .label(found(other))
                            .note("e.g. `probe: tracepoint:syscalls:sys_enter_execve`"),
                    );
                    None
                }
            },
            None => {
                if !misspelt(entries, "probe") {
                    self.err(
                        Diagnostic::error(
                            missing_at(node, entries),
                            "probe entry without `probe:`",
                        )
                        .label("this probe entry has no `probe:`")
                        .note("e.g. `- probe: kfunc:tcp_connect`"),
                    );
                }
                None
            }
        };
        let name = Self::get(entries, "name").and_then(|(_, v)| self.string(v, "`name`"));
        let fields = match Self::get(entries, "fields") {
            Some((_, v)) => self.fields(v),
            None => {
                if !misspelt(entries, "fields") {
                    self.err(
                        Diagnostic::error(
                            missing_at(node, entries),
                            "probe entry without `fields:`",
                        )
                        .label("this probe entry has no `fields:`")
                        .note("e.g. `fields: { pid: pid, comm: comm }`"),
                    );
                }
                Vec::new()
            }
        };
        let filter = Self::get(entries, "filter").and_then(|(_, v)| match v {
            Node::Scalar(s) if !s.is_null() => match scalar_expr(s, "filter") {
                Ok(e) => Some(e),
                Err(d) => {
                    self.err(d);
                    None
                }
            },
            other => {
                self.err(
                    Diagnostic::error(other.span(), "`filter` must be an expression")
                        .label(found(other)),
                );
                None
            }
        });
        Some(ProbeDecl {
            probe: probe?,
            name,
            fields,
            filter,
            span: node.span(),
        })
    }

    fn fields(&mut self, node: &Node) -> Vec<FieldDecl> {
        let Node::Map(entries, _) = node else {
            // A list of names (`[pid, comm]`): show it as a mapping.
            let example = match node {
                Node::Seq(items, _) if !items.is_empty() => {
                    let names: Option<Vec<&str>> = items
                        .iter()
                        .take(4)
                        .map(|i| match i {
                            Node::Scalar(s) if !s.is_null() && !s.value.contains([':', '\n']) => {
                                Some(s.value.as_str())
                            }
                            _ => None,
                        })
                        .collect();
                    names.map(|n| {
                        let pairs: Vec<String> = n
                            .iter()
                            .map(|e| {
                                let name: String = e
                                    .chars()
                                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                                    .collect();
                                format!("{name}: {e}")
                            })
                            .collect();
                        let more = if items.len() > 4 { ", …" } else { "" };
                        format!(
                            "name each value: `fields: {{ {}{more} }}`",
                            pairs.join(", ")
                        )
                    })
                }
                _ => None,
            };
            self.err(
                Diagnostic::error(
                    node.span(),
                    "`fields` must be a mapping of name → expression",
                )
                .label(found(node))
                .note(example.unwrap_or_else(|| {
                    "e.g. `fields: { pid: pid, path: str(filename) }`".to_string()
                })),
            );
            return Vec::new();
        };
        if entries.is_empty() {
            self.err(
                Diagnostic::error(node.span(), "`fields` is empty").label("add at least one field"),
            );
        }
        let mut out = Vec::new();
        for (k, v) in entries {
            let expr = match v {
                Node::Scalar(s) if !s.is_null() => scalar_expr(s, "field expression"),
                other => Err(Diagnostic::error(
                    other.span(),
                    format!("field `{}` must be an expression", k.value),
                )
                .label(found(other))
                .note(if crate::resolve::BUILTINS.contains(&k.value.as_str()) {
                    format!(
                        "write what to capture after the colon, e.g. `{0}: {0}`",
                        k.value
                    )
                } else {
                    format!(
                        "write what to capture after the colon, e.g. `{}: pid`",
                        k.value
                    )
                })),
            };
            match expr {
                Ok(expr) => out.push(FieldDecl {
                    name: Spanned::new(k.value.clone(), k.span),
                    expr,
                }),
                Err(d) => self.err(d),
            }
        }
        out
    }

    fn output(&mut self, node: &Node) -> OutputDecl {
        let Some(entries) = self.mapping(node, &OUTPUT_KEYS, "`output`") else {
            return OutputDecl::default();
        };
        let mut out = OutputDecl::default();
        if let Some((_, v)) = Self::get(entries, "format") {
            if let Some(s) = self.string(v, "`format`") {
                match parse_format(&s.value) {
                    Some(f) => out.format = Some(Spanned::new(f, s.span)),
                    None => self.err(
                        Diagnostic::error(s.span, format!("unknown output format `{}`", s.value))
                            .label("unknown format")
                            .suggest(&s.value, FORMATS, "formats"),
                    ),
                }
            }
        }
        if let Some((_, v)) = Self::get(entries, "time") {
            if let Some(s) = self.string(v, "`time`") {
                match parse_time(&s.value) {
                    Some(t) => out.time = Some(Spanned::new(t, s.span)),
                    None => self.err(
                        Diagnostic::error(s.span, format!("unknown time mode `{}`", s.value))
                            .label("unknown time mode")
                            .suggest(&s.value, TIMES, "time modes"),
                    ),
                }
            }
        }
        out
    }
}

/// A YAML scalar read as a literal: plain integers and booleans are typed,
/// everything else is a string.
pub fn scalar_literal(s: &Scalar) -> Literal {
    if s.plain {
        if let Some(v) = super::expr::parse_int(&s.value) {
            return Literal::Int(v);
        }
        match s.value.as_str() {
            "true" => return Literal::Bool(true),
            "false" => return Literal::Bool(false),
            _ => {}
        }
    }
    Literal::Str(s.value.clone())
}

/// Parses an output format name.
pub fn parse_format(s: &str) -> Option<Format> {
    Some(match s {
        "table" => Format::Table,
        "json" => Format::Json,
        "csv" => Format::Csv,
        _ => return None,
    })
}

/// Parses a time mode name.
pub fn parse_time(s: &str) -> Option<TimeMode> {
    Some(match s {
        "relative" => TimeMode::Relative,
        "absolute" => TimeMode::Absolute,
        "none" => TimeMode::None,
        _ => return None,
    })
}
