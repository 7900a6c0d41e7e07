//! YAML spec → [`Spec`]: key checking ("did you mean"), scalar typing, and
//! expression parsing with spans mapped back into the YAML file.
//!
//! Version 2 adds a probe's `by:` keys (a list of names, one name, or a
//! mapping of name → expression) and the `output:` settings of aggregating
//! probes: `interval` (a duration such as `1s`, `250ms`, `2m`; a bare
//! integer is seconds), `cumulative`, `sort`, `top` and `max_keys`; and a
//! paired probe's `end:` (the probe that ends it) and `match:` (a name, a
//! list of names, or `{ start: …, end: … }`, one name or list per side).

use super::ast::*;
use super::expr::{parse_expr, SpanMap};
use super::yaml::{self, Node, Scalar};
use super::{Dropped, Parsed};
use crate::diag::{Diagnostic, Span, Spanned};
use crate::plan::{Format, TimeMode};

/// The keys of a spec (`schema.rs` lists the same for editors).
pub const TOP_KEYS: [&str; 6] = [
    "version",
    "name",
    "description",
    "params",
    "probes",
    "output",
];
/// The keys of a parameter.
pub const PARAM_KEYS: [&str; 3] = ["type", "default", "description"];
/// The keys of a probe.
pub const PROBE_KEYS: [&str; 7] = ["probe", "end", "match", "name", "by", "fields", "filter"];
/// The settings of `output:` (and of the DSL's `output` statement).
pub const OUTPUT_KEYS: [&str; 7] = [
    "format",
    "time",
    "interval",
    "cumulative",
    "sort",
    "top",
    "max_keys",
];
/// Keys other tools (and the DSL) use for ours: (written, meant).
const KEY_ALIASES: [(&str, &str); 12] = [
    ("where", "filter"),
    ("label", "name"),
    ("as", "name"),
    ("desc", "description"),
    ("args", "fields"),
    ("param", "params"),
    ("target", "probe"),
    ("group_by", "by"),
    ("key", "by"),
    ("keys", "by"),
    ("sort_by", "sort"),
    ("limit", "top"),
];
/// Largest `max_keys`: distinct keys one aggregating probe may hold.
pub const MAX_KEYS: u64 = 1 << 20;
/// An example of both forms of `by:`, for notes.
const BY_EXAMPLE: &str =
    "e.g. `by: [comm, pid]`, or named expressions: `by: { comm: comm, dport: ntohs(sk->__sk_common.skc_dport) }`";
/// What `end:` is, for notes.
const END_EXAMPLE: &str =
    "add the probe that ends this one, e.g. `end: tracepoint:syscalls:sys_exit_openat`, or remove `match:`";
/// The forms of `match:`, for notes.
const MATCH_EXAMPLE: &str =
    "e.g. `match: tid`, `match: [dev, sector]`, or one list per side: `match: { start: [pid], end: [next_pid] }`";
/// Output format names.
pub const FORMATS: [&str; 4] = ["table", "json", "csv", "folded"];
/// Time mode names.
pub const TIMES: [&str; 3] = ["relative", "absolute", "none"];

/// Parses a YAML spec; on failure, every problem found.
pub fn parse(src: &str) -> Result<Spec, Vec<Diagnostic>> {
    parse_partial(src).into_result()
}

/// Parses a YAML spec as far as it can: a probe or parameter with an error
/// is left out (and named in [`Dropped`]), the rest kept.
pub fn parse_partial(src: &str) -> Parsed {
    let failed = |d: Diagnostic| Parsed {
        spec: None,
        diags: vec![d],
        dropped: Dropped::default(),
    };
    let root = match yaml::parse(src) {
        Ok(r) => r,
        Err(d) => return failed(d),
    };
    if let Node::Scalar(s) = &root {
        if s.is_null() && s.span.start == s.span.end {
            // Nothing but blank lines and comments: about the whole file.
            return failed(Diagnostic::error(
                Span::new(0, src.trim_end().len()),
                "the spec file is empty",
            )
            .label("no spec here")
            .note("a spec needs at least `name:` and `probes:`; see `tracectl fmt --help` or specs/ for examples"));
        }
    }
    let mut r = Reader {
        diags: Vec::new(),
        dropped: Dropped::default(),
        failed_fields: Vec::new(),
    };
    let spec = r.spec(&root);
    if spec.is_none() && r.diags.is_empty() {
        r.diags
            .push(Diagnostic::error(root.span(), "not a valid spec"));
    }
    Parsed {
        spec,
        diags: r.diags,
        dropped: r.dropped,
    }
}

struct Reader {
    diags: Vec<Diagnostic>,
    dropped: Dropped,
    /// Fields and keys of the probe being read whose expression has an
    /// error.
    failed_fields: Vec<String>,
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
            match super::version::check_number(n.value, n.span) {
                Ok(v) => Some(Spanned::new(v, n.span)),
                Err(d) => {
                    self.err(d);
                    // Checked as the newest version, so that its features
                    // are not reported as well.
                    Some(Spanned::new(super::version::LATEST, n.span))
                }
            }
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
            // Reported above; the rest is still checked.
            name: name.unwrap_or_else(|| {
                Spanned::new(super::dsl::DEFAULT_NAME.to_string(), Span::new(0, 0))
            }),
            description,
            params,
            probes,
            output,
            span: root.span(),
            syntax: super::Syntax::Yaml,
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
            let before = self.diags.len();
            if let Some(p) = self.param(k, v) {
                if self.diags.len() == before {
                    out.push(p);
                    continue;
                }
            }
            self.dropped.params.push(k.value.clone());
        }
        out
    }

    fn param(&mut self, k: &Scalar, v: &Node) -> Option<ParamDecl> {
        let fields = self.mapping(v, &PARAM_KEYS, "a parameter")?;
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
                    return None;
                }
                self.err(
                    Diagnostic::error(k.span, format!("parameter `{}` has no `type`", k.value))
                        .label("missing `type`")
                        .note("valid types: u8, u16, u32, u64, i8, i16, i32, i64, string, bool"),
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
        Some(ParamDecl {
            name: Spanned::new(k.value.clone(), k.span),
            ty: ty?,
            default,
            description,
        })
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
        let mut out = Vec::new();
        for item in items {
            let before = self.diags.len();
            self.failed_fields.clear();
            let probe = self.probe(item);
            let errors = self.diags.len() - before;
            match probe {
                Some(p) if errors == 0 => out.push(p),
                // Only field expressions with errors: the rest of the probe
                // is checked, without them.
                Some(p) if errors == self.failed_fields.len() && !p.fields.is_empty() => {
                    self.dropped
                        .fields
                        .push((p.span.start, std::mem::take(&mut self.failed_fields)));
                    out.push(p);
                }
                Some(p) => {
                    self.dropped.probes.push(p.probe);
                    self.dropped.probes.extend(p.end);
                }
                None => {}
            }
        }
        out
    }

    fn probe(&mut self, node: &Node) -> Option<ProbeDecl> {
        let entries = self.mapping(node, &PROBE_KEYS, "a probe")?;
        let probe = match Self::get(entries, "probe") {
            Some((k, v)) => self.probe_name(k, v, "probe"),
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
        let end = Self::get(entries, "end").and_then(|(k, v)| self.probe_name(k, v, "end"));
        let match_ = match (Self::get(entries, "match"), Self::get(entries, "end")) {
            (Some((k, v)), Some(_)) => self.match_decl(k, v),
            (Some((k, v)), None) => {
                // Its shape is checked all the same.
                self.match_decl(k, v);
                if !misspelt(entries, "end") {
                    self.err(
                        Diagnostic::error(
                            k.span,
                            "`match:` pairs a start with its `end:`, and this probe has none",
                        )
                        .label("no `end:` in this probe")
                        .note(END_EXAMPLE),
                    );
                }
                None
            }
            (None, _) => None,
        };
        let name = Self::get(entries, "name").and_then(|(_, v)| self.string(v, "`name`"));
        let by = match Self::get(entries, "by") {
            Some((k, v)) => self.by(k, v),
            None => Vec::new(),
        };
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
            by,
            probe: probe?,
            end,
            match_,
            name,
            fields,
            filter,
            span: node.span(),
        })
    }

    /// A probe name (`probe:` or `end:`, as `key` says): a scalar, spanned
    /// at its text when written verbatim.
    fn probe_name(&mut self, key: &Scalar, node: &Node, what: &str) -> Option<Spanned<String>> {
        match node {
            Node::Scalar(s) if !s.is_null() => {
                let span = s
                    .verbatim
                    .filter(|_| !s.value.is_empty())
                    .map(|b| Span::new(b, b + s.value.len()))
                    .unwrap_or(s.span);
                Some(Spanned::new(s.value.clone(), span))
            }
            other => {
                // An empty value has no span of its own: point at the key.
                let at = if other.span().start < other.span().end {
                    other.span()
                } else {
                    key.span
                };
                let example = if what == "end" {
                    "e.g. `end: tracepoint:syscalls:sys_exit_openat`, the probe that ends this one"
                } else {
                    "e.g. `probe: tracepoint:syscalls:sys_enter_execve`"
                };
                self.err(
                    Diagnostic::error(at, format!("`{what}` must be a probe name"))
                        .label(found(other))
                        .note(example),
                );
                None
            }
        }
    }

    /// `match:`: a name, a list of names, or a mapping of exactly `start:`
    /// and `end:`, each a name or a list of names, as many on each side.
    /// `key` is the `match` key, where an empty value is reported.
    fn match_decl(&mut self, key: &Scalar, node: &Node) -> Option<MatchDecl> {
        let span = node.span();
        match node {
            Node::Map(entries, _) if !entries.is_empty() => {
                let entries = self.mapping(node, &["start", "end"], "`match`")?;
                let start = Self::get(entries, "start");
                let end = Self::get(entries, "end");
                let (Some((sk, sv)), Some((ek, ev))) = (start, end) else {
                    let missing = if start.is_none() { "start" } else { "end" };
                    if !misspelt(entries, missing) {
                        self.err(
                            Diagnostic::error(span, format!("`match` has no `{missing}:`"))
                                .label(format!("`{missing}:` missing"))
                                .note(
                                    "one list per side needs both: `match: { start: [pid], end: [next_pid] }`; the same names at both probes are a list: `match: [dev, sector]`",
                                ),
                        );
                    }
                    return None;
                };
                let start = self.match_names(sk, sv, "`match: start`");
                let end = self.match_names(ek, ev, "`match: end`");
                let (start, end) = (start?, end?);
                if start.len() != end.len() {
                    self.err(
                        Diagnostic::error(
                            ev.span(),
                            format!(
                                "`match` pairs names by position, but `start:` has {} and `end:` has {}",
                                count(start.len()),
                                count(end.len())
                            ),
                        )
                        .label(format!("{} here", count(end.len())))
                        .also(sv.span(), format!("{} at the start", count(start.len())))
                        .note("the first start name is compared with the first end name, and so on: give both sides as many names"),
                    );
                    return None;
                }
                Some(MatchDecl::Sides { start, end, span })
            }
            _ => self
                .match_names(key, node, "`match`")
                .map(|names| MatchDecl::Same(names, span)),
        }
    }

    /// The names of `match:` or of one of its sides (`what`): a name or a
    /// non-empty list of names.
    fn match_names(
        &mut self,
        key: &Scalar,
        node: &Node,
        what: &str,
    ) -> Option<Vec<Spanned<String>>> {
        let empty = match node {
            Node::Scalar(s) => s.is_null(),
            Node::Seq(items, _) => items.is_empty(),
            Node::Map(entries, _) => entries.is_empty(),
        };
        if empty {
            let at = if node.span().start < node.span().end {
                node.span()
            } else {
                key.span
            };
            self.err(
                Diagnostic::error(at, format!("{what} is empty"))
                    .label("no name here")
                    .note(format!("{MATCH_EXAMPLE}; without `match:` an end completes the start of its thread (`tid`)")),
            );
            return None;
        }
        let items = match node {
            Node::Seq(items, _) => items.as_slice(),
            Node::Map(..) => {
                self.err(
                    Diagnostic::error(
                        node.span(),
                        format!("{what} must be a name or a list of names"),
                    )
                    .label(found(node))
                    .note(MATCH_EXAMPLE),
                );
                return None;
            }
            Node::Scalar(_) => std::slice::from_ref(node),
        };
        let mut ok = true;
        let mut names = Vec::new();
        for item in items {
            match item {
                Node::Scalar(s) if super::is_ident(&s.value) => {
                    let span = s
                        .verbatim
                        .filter(|_| !s.value.is_empty())
                        .map(|b| Span::new(b, b + s.value.len()))
                        .unwrap_or(s.span);
                    names.push(Spanned::new(s.value.clone(), span));
                }
                other => {
                    ok = false;
                    let label = match other {
                        Node::Scalar(s) if !s.is_null() && scalar_expr(s, "name").is_ok() => {
                            "an expression, not a name".to_string()
                        }
                        Node::Scalar(s) if !s.is_null() => "not a name".to_string(),
                        _ => found(other),
                    };
                    self.err(
                        Diagnostic::error(other.span(), format!("{what} takes names"))
                            .label(label)
                            .note(format!(
                                "names of values read at the probes (builtins, arguments, tracepoint fields); {MATCH_EXAMPLE}"
                            )),
                    );
                }
            }
        }
        ok.then_some(names)
    }

    /// `by:`: a list of names, one name, or a mapping of name → expression.
    /// `key` is the `by` key, where an empty value is reported.
    fn by(&mut self, key: &Scalar, node: &Node) -> Vec<KeyDecl> {
        let empty = match node {
            Node::Scalar(s) => s.is_null(),
            Node::Seq(items, _) => items.is_empty(),
            Node::Map(entries, _) => entries.is_empty(),
        };
        if empty {
            let span = if node.span().start < node.span().end {
                node.span()
            } else {
                key.span
            };
            self.err(
                Diagnostic::error(span, "`by` is empty")
                    .label("no key here")
                    .note(format!(
                        "{BY_EXAMPLE}; without `by:` an aggregating probe has one row"
                    )),
            );
            return Vec::new();
        }
        match node {
            Node::Scalar(s) => self
                .bare_key(s, std::slice::from_ref(node))
                .into_iter()
                .collect(),
            Node::Seq(items, _) => items
                .iter()
                .filter_map(|i| match i {
                    Node::Scalar(s) if !s.is_null() => self.bare_key(s, items),
                    other => {
                        self.err(
                            Diagnostic::error(other.span(), "a key in a `by:` list must be a name")
                                .label(found(other))
                                .note(BY_EXAMPLE),
                        );
                        None
                    }
                })
                .collect(),
            Node::Map(entries, _) => {
                let mut out = Vec::new();
                for (k, v) in entries {
                    let expr = match v {
                        Node::Scalar(s) if !s.is_null() => scalar_expr(s, "key expression"),
                        other => Err(Diagnostic::error(
                            other.span(),
                            format!("key `{}` must be an expression", k.value),
                        )
                        .label(found(other))
                        .note(format!(
                            "write what to group by after the colon, e.g. `{}: comm`",
                            k.value
                        ))),
                    };
                    match expr {
                        Ok(expr) => out.push(KeyDecl {
                            bare: matches!(&expr.kind, ExprKind::Ident(n) if *n == k.value),
                            name: Spanned::new(k.value.clone(), k.span),
                            expr,
                        }),
                        // Left out as a field with an error is: the rest
                        // of the probe is checked.
                        Err(d) => {
                            self.err(d);
                            self.failed_fields.push(k.value.clone());
                        }
                    }
                }
                out
            }
        }
    }

    /// A key written as a name (`by: comm`, or an item of `by: [...]`,
    /// whose `items` show the mapping form in the error when it is not).
    fn bare_key(&mut self, s: &Scalar, items: &[Node]) -> Option<KeyDecl> {
        let span = s
            .verbatim
            .filter(|_| !s.value.is_empty())
            .map(|b| Span::new(b, b + s.value.len()))
            .unwrap_or(s.span);
        if super::is_ident(&s.value) {
            return Some(KeyDecl {
                name: Spanned::new(s.value.clone(), span),
                expr: Expr {
                    kind: ExprKind::Ident(s.value.clone()),
                    span,
                },
                bare: true,
            });
        }
        let parsed = scalar_expr(s, "key").ok();
        let label = if parsed.is_some() {
            "an expression, not a name"
        } else {
            "not a name"
        };
        self.err(
            Diagnostic::error(span, "a key in a `by:` list must be a name")
                .label(label)
                .note(match mapping_form(items) {
                    Some(m) => format!("name each key in the mapping form: `by: {{ {m} }}`"),
                    None => BY_EXAMPLE.to_string(),
                }),
        );
        None
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
                Err(d) => {
                    self.err(d);
                    self.failed_fields.push(k.value.clone());
                }
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
        for key in ["interval", "cumulative", "sort", "top", "max_keys"] {
            let Some((_, v)) = Self::get(entries, key) else {
                continue;
            };
            let value = match v {
                Node::Scalar(s) if !s.is_null() => Some(s),
                _ => None,
            };
            let text = value.map(|s| s.value.as_str());
            // Integers and booleans are plain scalars; quoted, they are strings.
            let plain = value.is_some_and(|s| s.plain);
            let span = v.span();
            let ok = match (key, text) {
                ("interval", Some(t)) => parse_interval(t)
                    .map(|d| out.interval = Some(Spanned::new(d, span)))
                    .is_some(),
                ("cumulative", Some(t)) if plain => parse_bool(t)
                    .map(|b| out.cumulative = Some(Spanned::new(b, span)))
                    .is_some(),
                ("sort", Some(t)) if super::is_ident(t) => {
                    out.sort = Some(Spanned::new(t.to_string(), span));
                    true
                }
                ("top", Some(t)) if plain => parse_top(t)
                    .map(|n| out.top = Some(Spanned::new(n, span)))
                    .is_some(),
                ("max_keys", Some(t)) if plain => parse_max_keys(t)
                    .map(|n| out.max_keys = Some(Spanned::new(n, span)))
                    .is_some(),
                _ => false,
            };
            if !ok {
                // An empty value has no span of its own: point at the key.
                let at = if span.start < span.end {
                    span
                } else {
                    Self::get(entries, key).map_or(span, |(k, _)| k.span)
                };
                self.err(setting_error(key, at, &found(v)));
            }
        }
        out
    }
}

/// The mapping form of a `by:` list (`comm: comm, skc_dport:
/// ntohs(skc_dport)`), each expression named after what it reads
/// ([`super::name_for`]); `None` when an item is not a scalar.
fn mapping_form(items: &[Node]) -> Option<String> {
    let mut used: Vec<String> = Vec::new();
    let mut pairs = Vec::new();
    for i in items.iter().take(4) {
        let Node::Scalar(s) = i else { return None };
        if s.is_null() || s.value.contains('\n') {
            return None;
        }
        let base = match scalar_expr(s, "key") {
            Ok(e) => super::name_for(&e),
            Err(_) => "key".to_string(),
        };
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        pairs.push(format!("{name}: {}", super::print::flow_str(&s.value)));
        used.push(name);
    }
    let more = if items.len() > 4 { ", …" } else { "" };
    Some(format!("{}{more}", pairs.join(", ")))
}

/// The error for a wrong value of an `output` setting (`interval`,
/// `cumulative`, `sort`, `top`, `max_keys`), saying what is expected;
/// `found` labels the value.
pub fn setting_error(key: &str, span: Span, found: &str) -> Diagnostic {
    let (message, note) = match key {
        "interval" => (
            "interval must be a positive duration such as `1s`".to_string(),
            "a number and a unit: ns, us, ms, s, m or h (`250ms`, `2m`), at most a year; a bare integer is seconds",
        ),
        "cumulative" => (
            "`cumulative` must be true or false".to_string(),
            "true: values add up across intervals; false (the default): they restart after each print",
        ),
        "sort" => (
            "`sort` must be the name of a value or key".to_string(),
            "rows are sorted by that column, largest first; the default is the first value",
        ),
        "top" => (
            "`top` must be an integer of at least 1".to_string(),
            "the most rows printed each time (at most 4294967295); the default is all",
        ),
        _ => (
            format!("`{key}` must be an integer from 1 to {MAX_KEYS}"),
            "distinct keys each aggregating probe holds; events with a new key beyond it are counted as lost",
        ),
    };
    Diagnostic::error(span, message)
        .label(found.to_string())
        .note(note)
}

/// "1 name", "2 names".
fn count(n: usize) -> String {
    if n == 1 {
        "1 name".to_string()
    } else {
        format!("{n} names")
    }
}

/// Parses an `interval`: a positive [`Duration`] (`1s`, `250ms`, `2m`), or
/// a bare integer of seconds (`5` is `5s`, and is kept as `5s`).
pub fn parse_interval(text: &str) -> Option<Duration> {
    let t = text.trim();
    let d = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        Duration::parse(&format!("{}s", t.trim_start_matches('0')))
    } else {
        Duration::parse(t)
    }?;
    (d.ns > 0).then_some(d)
}

/// Parses `true` / `false`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Parses `top`: an integer from 1 to `u32::MAX`.
pub fn parse_top(text: &str) -> Option<u64> {
    let v = super::expr::parse_int(text)?;
    (1..=u32::MAX as i128).contains(&v).then_some(v as u64)
}

/// Parses `max_keys`: an integer from 1 to [`MAX_KEYS`].
pub fn parse_max_keys(text: &str) -> Option<u64> {
    let v = super::expr::parse_int(text)?;
    (1..=MAX_KEYS as i128).contains(&v).then_some(v as u64)
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
        "folded" => Format::Folded,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::expr::print_expr;

    const HEAD: &str = "name: x\nprobes:\n  - probe: kfunc:tcp_sendmsg\n";

    fn probe(by: &str) -> Result<Spec, Vec<Diagnostic>> {
        parse(&format!(
            "{HEAD}    by: {by}\n    fields:\n      n: count()\n"
        ))
    }

    /// (name, expression printed, bare) of each key.
    fn keys(spec: &Spec) -> Vec<(String, String, bool)> {
        spec.probes[0]
            .by
            .iter()
            .map(|k| (k.name.value.clone(), print_expr(&k.expr), k.bare))
            .collect()
    }

    fn key(n: &str, e: &str, bare: bool) -> (String, String, bool) {
        (n.to_string(), e.to_string(), bare)
    }

    /// The single error of `src`, and the text under its span.
    fn error(src: &str) -> (Diagnostic, String) {
        let d = parse(src).expect_err(src);
        assert_eq!(d.len(), 1, "{d:?}");
        let text = src[d[0].span.range()].to_string();
        (d.into_iter().next().unwrap(), text)
    }

    #[test]
    fn by_forms() {
        let spec = probe("[comm, pid]").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            keys(&spec),
            [key("comm", "comm", true), key("pid", "pid", true)]
        );
        let spec = probe("comm").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(keys(&spec), [key("comm", "comm", true)]);
        let spec = probe("{ comm: comm, dport: ntohs(sk->__sk_common.skc_dport) }")
            .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            keys(&spec),
            [
                key("comm", "comm", true),
                key("dport", "ntohs(sk->__sk_common.skc_dport)", false)
            ]
        );
        // Block mapping, order kept; a key may be named unlike its value.
        let src = format!(
            "{HEAD}    by:\n      z: pid\n      a: tid % 4\n    fields:\n      n: count()\n"
        );
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            keys(&spec),
            [key("z", "pid", false), key("a", "tid % 4", false)]
        );
        let k = &spec.probes[0].by[1];
        assert_eq!(&src[k.name.span.range()], "a");
        assert_eq!(&src[k.expr.span.range()], "tid % 4");
        // A quoted name is a name.
        let src = format!("{HEAD}    by: ['comm']\n    fields:\n      n: count()\n");
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(keys(&spec), [key("comm", "comm", true)]);
        assert_eq!(&src[spec.probes[0].by[0].name.span.range()], "comm");
    }

    #[test]
    fn by_errors() {
        let (d, at) = error(&format!(
            "{HEAD}    by: [comm, ntohs(dport)]\n    fields:\n      n: count()\n"
        ));
        assert_eq!(d.message, "a key in a `by:` list must be a name");
        assert_eq!(at, "ntohs(dport)");
        assert_eq!(d.label, "an expression, not a name");
        assert_eq!(
            d.notes,
            ["name each key in the mapping form: `by: { comm: comm, dport: ntohs(dport) }`"]
        );
        // One error per item; made-up names do not repeat; flow
        // characters are quoted.
        let src = format!(
            "{HEAD}    by: [a + 1, a, \"lhist(a, 0, 10, 1)\"]\n    fields:\n      n: count()\n"
        );
        let d = parse(&src).unwrap_err();
        let at: Vec<&str> = d.iter().map(|d| &src[d.span.range()]).collect();
        assert_eq!(at, ["a + 1", "lhist(a, 0, 10, 1)"]);
        assert_eq!(
            d[0].notes,
            ["name each key in the mapping form: `by: { a: a + 1, a2: a, a3: 'lhist(a, 0, 10, 1)' }`"]
        );
        let (d, at) = error(&format!(
            "{HEAD}    by: pid + 1\n    fields:\n      n: count()\n"
        ));
        assert_eq!(at, "pid + 1");
        assert_eq!(
            d.notes,
            ["name each key in the mapping form: `by: { pid: pid + 1 }`"]
        );
        let (d, at) = error(&format!(
            "{HEAD}    by: [[comm]]\n    fields:\n      n: count()\n"
        ));
        assert_eq!(d.message, "a key in a `by:` list must be a name");
        assert_eq!((at.as_str(), d.label.as_str()), ("[comm]", "found a list"));

        for (by, at) in [("", "by"), ("[]", "[]"), ("{}", "{}"), ("~", "~")] {
            let src = format!("{HEAD}    by: {by}\n    fields:\n      n: count()\n");
            let (d, got) = error(&src);
            assert_eq!(d.message, "`by` is empty", "{by:?}");
            assert_eq!(got, at, "{by:?}");
        }
        let (d, at) = error(&format!(
            "{HEAD}    by: {{ comm: }}\n    fields:\n      n: count()\n"
        ));
        assert_eq!(d.message, "key `comm` must be an expression");
        assert_eq!(at, "comm");
        let (d, at) = error(&format!(
            "{HEAD}    by: {{ d: ntohs( }}\n    fields:\n      n: count()\n"
        ));
        assert!(
            d.message.starts_with("syntax error in key expression"),
            "{d:?}"
        );
        assert_eq!(at, "(");
        for alias in ["group_by", "key", "keys"] {
            let (d, at) = error(&format!(
                "{HEAD}    {alias}: [comm]\n    fields:\n      n: count()\n"
            ));
            assert_eq!(at, alias);
            assert_eq!(d.notes, ["did you mean `by`?"]);
        }
    }

    const PAIR: &str = "name: x\nprobes:\n  - probe: tracepoint:sched:sched_wakeup\n";

    /// A paired probe with these extra lines (`end:`, `match:`).
    fn paired(lines: &str) -> String {
        format!("{PAIR}{lines}    fields:\n      n: count()\n")
    }

    /// (start names, end names, one list per side) of the first probe's
    /// `match`.
    fn match_of(spec: &Spec) -> Option<(Vec<String>, Vec<String>, bool)> {
        let names = |n: &[Spanned<String>]| n.iter().map(|n| n.value.clone()).collect();
        spec.probes[0].match_.as_ref().map(|m| {
            (
                names(m.start()),
                names(m.end()),
                matches!(m, MatchDecl::Sides { .. }),
            )
        })
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pairing_forms() {
        let src = paired("    end: tracepoint:sched:sched_switch\n");
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        let end = spec.probes[0].end.as_ref().unwrap();
        assert_eq!(end.value, "tracepoint:sched:sched_switch");
        assert_eq!(&src[end.span.range()], "tracepoint:sched:sched_switch");
        assert_eq!(match_of(&spec), None);
        // A quoted end probe points inside its quotes.
        let src = paired("    end: 'kretfunc:vfs_read'\n");
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        let end = spec.probes[0].end.as_ref().unwrap();
        assert_eq!(&src[end.span.range()], "kretfunc:vfs_read");

        for (m, start, end, sides, at) in [
            ("tid", &["tid"][..], &["tid"][..], false, "tid"),
            ("'tid'", &["tid"], &["tid"], false, "'tid'"),
            (
                "[dev, sector]",
                &["dev", "sector"],
                &["dev", "sector"],
                false,
                "[dev, sector]",
            ),
            (
                "{ start: [pid], end: [next_pid] }",
                &["pid"],
                &["next_pid"],
                true,
                "{ start: [pid], end: [next_pid] }",
            ),
            (
                "{ end: next_pid, start: pid }",
                &["pid"],
                &["next_pid"],
                true,
                "{ end: next_pid, start: pid }",
            ),
            (
                "{ start: [a, b], end: [c, d] }",
                &["a", "b"],
                &["c", "d"],
                true,
                "{ start: [a, b], end: [c, d] }",
            ),
        ] {
            let src = paired(&format!(
                "    end: tracepoint:sched:sched_switch\n    match: {m}\n"
            ));
            let spec = parse(&src).unwrap_or_else(|d| panic!("{m}: {d:?}"));
            assert_eq!(
                match_of(&spec),
                Some((strings(start), strings(end), sides)),
                "{m}"
            );
            let decl = spec.probes[0].match_.as_ref().unwrap();
            assert_eq!(&src[decl.span().range()], at, "{m}");
            // Each name points at itself.
            for n in decl.start().iter().chain(decl.end()) {
                assert_eq!(&src[n.span.range()], n.value, "{m}");
            }
        }
        // The block forms.
        let src = paired(
            "    end: tracepoint:sched:sched_switch\n    match:\n      start:\n        - pid\n      end: next_pid\n",
        );
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            match_of(&spec),
            Some((strings(&["pid"]), strings(&["next_pid"]), true))
        );
        let src = paired("    match:\n      - dev\n      - sector\n    end: kretfunc:f\n");
        let spec = parse(&src).unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            match_of(&spec),
            Some((
                strings(&["dev", "sector"]),
                strings(&["dev", "sector"]),
                false
            ))
        );
    }

    #[test]
    fn pairing_errors() {
        let end = "    end: tracepoint:sched:sched_switch\n";
        for (lines, message, at, label) in [
            (
                "    match: tid\n".to_string(),
                "`match:` pairs a start with its `end:`, and this probe has none",
                "match",
                "no `end:` in this probe",
            ),
            (
                "    end:\n".to_string(),
                "`end` must be a probe name",
                "end",
                "found nothing",
            ),
            (
                "    end: ~\n".to_string(),
                "`end` must be a probe name",
                "~",
                "found nothing",
            ),
            (
                "    end: { probe: kretfunc:f }\n".to_string(),
                "`end` must be a probe name",
                "{ probe: kretfunc:f }",
                "found a mapping",
            ),
            (
                format!("{end}    match:\n"),
                "`match` is empty",
                "match",
                "no name here",
            ),
            (
                format!("{end}    match: []\n"),
                "`match` is empty",
                "[]",
                "no name here",
            ),
            (
                format!("{end}    match: {{}}\n"),
                "`match` is empty",
                "{}",
                "no name here",
            ),
            (
                format!("{end}    match: pid + 1\n"),
                "`match` takes names",
                "pid + 1",
                "an expression, not a name",
            ),
            (
                format!("{end}    match: [dev, task->pid]\n"),
                "`match` takes names",
                "task->pid",
                "an expression, not a name",
            ),
            (
                format!("{end}    match: [dev, 'a b']\n"),
                "`match` takes names",
                "'a b'",
                "not a name",
            ),
            (
                format!("{end}    match: [dev, [sector]]\n"),
                "`match` takes names",
                "[sector]",
                "found a list",
            ),
            (
                format!("{end}    match: {{ start: pid }}\n"),
                "`match` has no `end:`",
                "{ start: pid }",
                "`end:` missing",
            ),
            (
                format!("{end}    match: {{ end: pid }}\n"),
                "`match` has no `start:`",
                "{ end: pid }",
                "`start:` missing",
            ),
            (
                format!("{end}    match: {{ start: pid, end: next_pid, cpu: cpu }}\n"),
                "unknown key `cpu` in `match`",
                "cpu",
                "unknown key",
            ),
            (
                format!("{end}    match: {{ start: pid, end: [] }}\n"),
                "`match: end` is empty",
                "[]",
                "no name here",
            ),
            (
                format!("{end}    match: {{ start: {{ a: b }}, end: x }}\n"),
                "`match: start` must be a name or a list of names",
                "{ a: b }",
                "found a mapping",
            ),
            (
                format!("{end}    match: {{ start: [pid, x + 1], end: [next_pid, y] }}\n"),
                "`match: start` takes names",
                "x + 1",
                "an expression, not a name",
            ),
            (
                format!("{end}    match: {{ start: [pid, cpu], end: next_pid }}\n"),
                "`match` pairs names by position, but `start:` has 2 names and `end:` has 1 name",
                "next_pid",
                "1 name here",
            ),
        ] {
            let src = paired(&lines);
            let (d, got) = error(&src);
            assert_eq!(
                (d.message.as_str(), got.as_str(), d.label.as_str()),
                (message, at, label),
                "{lines}"
            );
        }
        // Unequal sides show the start too.
        let src = paired(&format!(
            "{end}    match: {{ start: [pid, cpu], end: next_pid }}\n"
        ));
        let (d, _) = error(&src);
        assert_eq!(&src[d.secondary[0].0.range()], "[pid, cpu]");
        assert_eq!(d.secondary[0].1, "2 names at the start");
        // A misspelt `end:` is reported once, as such.
        let (d, at) = error(&paired("    ned: kretfunc:f\n    match: tid\n"));
        assert_eq!(
            (at.as_str(), d.notes.as_slice()),
            ("ned", &["did you mean `end`?".to_string()][..])
        );
        let (d, at) = error(&paired(&format!(
            "{end}    match: {{ start: pid, edn: x }}\n"
        )));
        assert_eq!(
            (at.as_str(), d.notes.as_slice()),
            ("edn", &["did you mean `end`?".to_string()][..])
        );
        // Without `end:`, a wrong `match:` is reported as well.
        let d = parse(&paired("    match: [a + 1]\n")).unwrap_err();
        let messages: Vec<&str> = d.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "`match` takes names",
                "`match:` pairs a start with its `end:`, and this probe has none"
            ]
        );
    }

    fn output(settings: &str) -> Result<OutputDecl, Vec<Diagnostic>> {
        parse(&format!(
            "{HEAD}    fields:\n      n: count()\noutput: {{ {settings} }}\n"
        ))
        .map(|s| s.output)
    }

    #[test]
    fn output_settings() {
        let o = output("interval: 2m, cumulative: true, sort: n, top: 10, max_keys: 1000")
            .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            o.interval.map(|i| i.value),
            Some(Duration {
                ns: 120_000_000_000,
                text: "2m".into()
            })
        );
        assert_eq!(o.cumulative.map(|c| c.value), Some(true));
        assert_eq!(o.sort.map(|s| s.value), Some("n".to_string()));
        assert_eq!(o.top.map(|t| t.value), Some(10));
        assert_eq!(o.max_keys.map(|m| m.value), Some(1000));
        // A bare integer is seconds.
        let o = output("interval: 3").unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(
            o.interval.map(|i| i.value),
            Some(Duration {
                ns: 3_000_000_000,
                text: "3s".into()
            })
        );
        let o = output("interval: '500us', max_keys: 1048576, top: 4294967295")
            .unwrap_or_else(|d| panic!("{d:?}"));
        assert_eq!(o.interval.map(|i| i.value.ns), Some(500_000));
        assert_eq!(o.max_keys.map(|m| m.value), Some(1 << 20));
        assert_eq!(o.top.map(|m| m.value), Some(u32::MAX as u64));
    }

    #[test]
    fn output_setting_errors() {
        let interval = "interval must be a positive duration such as `1s`";
        for (setting, at, message) in [
            ("interval: 0", "0", interval),
            ("interval: 0s", "0s", interval),
            ("interval: -1s", "-1s", interval),
            ("interval: 1.5s", "1.5s", interval),
            ("interval: fast", "fast", interval),
            ("interval: [1s]", "[1s]", interval),
            ("interval: 400d", "400d", interval),
            ("interval: 9000h", "9000h", interval),
            ("interval:", "interval", interval),
            (
                "cumulative: yes",
                "yes",
                "`cumulative` must be true or false",
            ),
            (
                "cumulative: 'true'",
                "'true'",
                "`cumulative` must be true or false",
            ),
            (
                "sort: [a]",
                "[a]",
                "`sort` must be the name of a value or key",
            ),
            (
                "sort: -n",
                "-n",
                "`sort` must be the name of a value or key",
            ),
            ("top: 0", "0", "`top` must be an integer of at least 1"),
            ("top: -3", "-3", "`top` must be an integer of at least 1"),
            (
                "top: 4294967296",
                "4294967296",
                "`top` must be an integer of at least 1",
            ),
            ("top: '5'", "'5'", "`top` must be an integer of at least 1"),
            (
                "max_keys: -1",
                "-1",
                "`max_keys` must be an integer from 1 to 1048576",
            ),
            (
                "max_keys: 0",
                "0",
                "`max_keys` must be an integer from 1 to 1048576",
            ),
            (
                "max_keys: 1048577",
                "1048577",
                "`max_keys` must be an integer from 1 to 1048576",
            ),
        ] {
            let d = output(setting).expect_err(setting);
            assert_eq!(d.len(), 1, "{setting}: {d:?}");
            let src = format!("{HEAD}    fields:\n      n: count()\noutput: {{ {setting} }}\n");
            assert_eq!(d[0].message, message, "{setting}");
            assert_eq!(&src[d[0].span.range()], at, "{setting}");
        }
        let d = output("limit: 3").unwrap_err();
        assert_eq!(d[0].notes, ["did you mean `top`?"]);
    }

    #[test]
    fn versions() {
        for v in [1, 2] {
            let spec = parse(&format!(
                "version: {v}\n{HEAD}    fields:\n      pid: pid\n"
            ))
            .unwrap_or_else(|d| panic!("{d:?}"));
            assert_eq!(spec.version.map(|s| s.value), Some(v));
        }
        let (d, at) = error(&format!("version: 3\n{HEAD}    fields:\n      pid: pid\n"));
        assert_eq!(d.message, "unsupported spec version 3");
        assert_eq!(d.label, "versions 1 and 2 exist");
        assert_eq!(at, "3");
    }

    #[test]
    fn interval_parsing() {
        assert_eq!(parse_interval("1s").map(|d| d.ns), Some(1_000_000_000));
        assert_eq!(
            parse_interval("007").map(|d| d.text),
            Some("7s".to_string())
        );
        assert_eq!(parse_interval("1ns").map(|d| d.ns), Some(1));
        assert_eq!(parse_interval("1").map(|d| d.ns), Some(1_000_000_000));
        for bad in [
            "",
            "0",
            "000",
            "0ms",
            "s",
            "1 s",
            "1S",
            "-1s",
            "99999999999999999999",
        ] {
            assert_eq!(parse_interval(bad), None, "{bad:?}");
        }
    }
}
