//! The comments of a spec's source, for `tracectl fmt`: the parsers drop
//! them, so they are read from the text again ([`extract`]) and attached to
//! the nodes of the tree by position ([`Comments::attach`]), and the
//! printers ([`super::print`]) write each one back at its node.
//!
//! A comment on its own line belongs to the next node that starts after it
//! (it is printed on its own line before that node); a comment after code
//! on a line belongs to the last node that starts before it on that line
//! or earlier (printed at the end of that node's line). Comments after the
//! last node go at the end.

use super::ast::Spec;
use super::Syntax;
use std::collections::HashMap;

/// One comment of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    /// Byte offset of its `#`.
    pub start: usize,
    /// One past its last byte (trailing white space excluded).
    pub end: usize,
    /// Its text, `#` included, without the line's end.
    pub text: String,
    /// Alone on its line (else it follows code).
    pub own_line: bool,
}

/// The comments of `src`, in order. YAML: a `#` at the start of a line or
/// after white space, outside scalars (quoted, block or plain); DSL: a `#`
/// outside string literals and probe tokens (`uprobe:/a#b:f`).
pub fn extract(syntax: Syntax, src: &str) -> Vec<Comment> {
    match syntax {
        Syntax::Yaml => yaml_comments(src),
        Syntax::Dsl => dsl_comments(src),
    }
}

/// The comment starting at `start` (a `#`), to the end of its line.
fn comment_at(src: &str, start: usize) -> Comment {
    let line_end = src[start..].find('\n').map_or(src.len(), |n| start + n);
    let text = src[start..line_end].trim_end();
    let line_start = src[..start].rfind('\n').map_or(0, |n| n + 1);
    Comment {
        start,
        end: start + text.len(),
        text: text.to_string(),
        own_line: src[line_start..start].trim().is_empty(),
    }
}

/// Where a scalar is written. A quoted scalar's span can run past its
/// closing quote to the end of the line (a comment there included): it ends
/// at its closing quote.
fn scalar_range(src: &str, s: &super::yaml::Scalar) -> std::ops::Range<usize> {
    let r = s.span.range();
    let b = src.as_bytes();
    let Some(&q @ (b'\'' | b'"')) = b.get(r.start) else {
        return r;
    };
    let mut i = r.start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if q == b'"' => i += 2,
            b'\'' if q == b'\'' && b.get(i + 1) == Some(&b'\'') => i += 2,
            c if c == q => return r.start..i + 1,
            _ => i += 1,
        }
    }
    r
}

fn yaml_comments(src: &str) -> Vec<Comment> {
    // The spans of every scalar (keys and values): a `#` in one is text.
    let mut scalars = Vec::new();
    if let Ok(root) = super::yaml::parse(src) {
        let mut todo = vec![&root];
        while let Some(n) = todo.pop() {
            match n {
                super::yaml::Node::Scalar(s) => scalars.push(scalar_range(src, s)),
                super::yaml::Node::Seq(items, _) => todo.extend(items),
                super::yaml::Node::Map(entries, _) => {
                    for (k, v) in entries {
                        scalars.push(scalar_range(src, k));
                        todo.push(v);
                    }
                }
            }
        }
    }
    scalars.sort_by_key(|r| r.start);
    let in_scalar = |at: usize| {
        let i = scalars.partition_point(|r| r.start <= at);
        scalars[..i].iter().rev().take(8).any(|r| r.contains(&at))
    };
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'#' && (i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n')) && !in_scalar(i) {
            let c = comment_at(src, i);
            i = c.end;
            out.push(c);
        } else {
            i += 1;
        }
    }
    out
}

fn dsl_comments(src: &str) -> Vec<Comment> {
    // Where the DSL's lexer finds them (not in strings or probe names).
    let mut starts = Vec::new();
    super::dsl::scan(src, |i| starts.push(i));
    starts.into_iter().map(|i| comment_at(src, i)).collect()
}

/// A place of the printed spec where comments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anchor {
    /// `version`.
    Version,
    /// The spec's name (YAML `name:`, DSL `spec`).
    Name,
    /// `description:` (DSL: on the `spec` line).
    Description,
    /// YAML `params:` (DSL: before the first `param`).
    Params,
    /// A parameter, by index.
    Param(usize),
    /// YAML `probes:` (DSL: before the first probe).
    Probes,
    /// A probe, by index.
    Probe(usize),
    /// A probe's `end:`.
    End(usize),
    /// A probe's `match:`.
    Match(usize),
    /// A probe's `name:` (DSL `as`).
    Label(usize),
    /// A `by:` key: probe, key.
    Key(usize, usize),
    /// A field: probe, field.
    Field(usize, usize),
    /// A probe's `filter:` (DSL `where`).
    Filter(usize),
    /// `output:` (DSL: the `output` line).
    Output,
    /// An output setting, by name (`format`, `interval`, ...).
    Setting(&'static str),
    /// After everything.
    Eof,
}

/// Comments attached to the places of a spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Comments {
    before: HashMap<Anchor, Vec<String>>,
    after: HashMap<Anchor, Vec<String>>,
}

impl Comments {
    /// The comments of `src` (the source `spec` was parsed from), attached.
    pub fn of(spec: &Spec, src: &str) -> Comments {
        Comments::attach(spec, src, &extract(spec.syntax, src))
    }

    /// Attaches `comments` (of `src`) to the nodes of `spec`.
    pub fn attach(spec: &Spec, src: &str, comments: &[Comment]) -> Comments {
        let anchors = anchors(spec, src);
        let mut c = Comments::default();
        for m in comments {
            if !m.own_line {
                // The last node starting before it.
                let i = anchors.partition_point(|(at, _)| *at < m.start);
                if i > 0 {
                    c.after
                        .entry(anchors[i - 1].1)
                        .or_default()
                        .push(m.text.clone());
                    continue;
                }
            }
            // The next node starting after it.
            let i = anchors.partition_point(|(at, _)| *at < m.end);
            let a = anchors.get(i).map_or(Anchor::Eof, |(_, a)| *a);
            c.before.entry(a).or_default().push(m.text.clone());
        }
        c
    }

    /// The own-line comments before `a`, in order.
    pub fn before(&self, a: Anchor) -> &[String] {
        self.before.get(&a).map_or(&[], Vec::as_slice)
    }

    /// The comments at the end of `a`'s line, in order.
    pub fn after(&self, a: Anchor) -> &[String] {
        self.after.get(&a).map_or(&[], Vec::as_slice)
    }

    /// No comment at all.
    pub fn is_empty(&self) -> bool {
        self.before.is_empty() && self.after.is_empty()
    }

    /// Every comment, in no particular order (for tests).
    pub fn all(&self) -> impl Iterator<Item = &String> {
        self.before.values().chain(self.after.values()).flatten()
    }
}

/// The output settings in printing order, with their spans.
pub(crate) fn setting_spans(spec: &Spec) -> Vec<(&'static str, crate::diag::Span)> {
    let o = &spec.output;
    [
        ("format", o.format.as_ref().map(|s| s.span)),
        ("time", o.time.as_ref().map(|s| s.span)),
        ("interval", o.interval.as_ref().map(|s| s.span)),
        ("cumulative", o.cumulative.as_ref().map(|s| s.span)),
        ("sort", o.sort.as_ref().map(|s| s.span)),
        ("top", o.top.as_ref().map(|s| s.span)),
        ("max_keys", o.max_keys.as_ref().map(|s| s.span)),
    ]
    .into_iter()
    .filter_map(|(k, s)| s.map(|s| (k, s)))
    .collect()
}

/// Where a YAML top-level key (`probes:`) starts, when written.
fn yaml_top_key(src: &str, key: &str) -> Option<usize> {
    let mut at = 0;
    for line in src.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix(key) {
            if let Some(rest) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') {
                if rest.is_empty() || rest.starts_with([' ', '\t', '\r', '\n']) {
                    return Some(at);
                }
            }
        }
        at += line.len();
    }
    None
}

/// The nodes of `spec`, by where they start in `src` (then in printing
/// order). Nodes without a place in the source (a DSL spec's default name)
/// are left out.
fn anchors(spec: &Spec, src: &str) -> Vec<(usize, Anchor)> {
    use crate::diag::Span;
    let mut v: Vec<(Span, Anchor)> = Vec::new();
    if let Some(x) = &spec.version {
        v.push((x.span, Anchor::Version));
    }
    v.push((spec.name.span, Anchor::Name));
    if let Some(x) = &spec.description {
        v.push((x.span, Anchor::Description));
    }
    let header = |v: &mut Vec<(Span, Anchor)>, key: &str, a: Anchor| {
        if spec.syntax == Syntax::Yaml {
            if let Some(at) = yaml_top_key(src, key) {
                v.push((Span::new(at, at + key.len()), a));
            }
        }
    };
    header(&mut v, "params", Anchor::Params);
    for (i, p) in spec.params.iter().enumerate() {
        v.push((p.name.span, Anchor::Param(i)));
    }
    header(&mut v, "probes", Anchor::Probes);
    for (i, p) in spec.probes.iter().enumerate() {
        v.push((p.span, Anchor::Probe(i)));
        if let Some(e) = &p.end {
            v.push((e.span, Anchor::End(i)));
        }
        if let Some(m) = &p.match_ {
            v.push((m.span(), Anchor::Match(i)));
        }
        if let Some(n) = &p.name {
            v.push((n.span, Anchor::Label(i)));
        }
        for (j, k) in p.by.iter().enumerate() {
            v.push((k.name.span, Anchor::Key(i, j)));
        }
        for (j, f) in p.fields.iter().enumerate() {
            v.push((f.name.span, Anchor::Field(i, j)));
        }
        if let Some(f) = &p.filter {
            v.push((f.span, Anchor::Filter(i)));
        }
    }
    let settings = setting_spans(spec);
    match spec.syntax {
        Syntax::Yaml => header(&mut v, "output", Anchor::Output),
        Syntax::Dsl => {
            // The `output` word starting the line of the first setting.
            if let Some((_, s)) = settings.iter().min_by_key(|(_, s)| s.start) {
                let at = s.start as usize;
                let line = src[..at].rfind('\n').map_or(0, |n| n + 1);
                let indent = src[line..at].len() - src[line..at].trim_start().len();
                if src[line + indent..at].starts_with("output") {
                    v.push((Span::new(line + indent, line + indent + 6), Anchor::Output));
                }
            }
        }
    }
    for (k, s) in settings {
        v.push((s, Anchor::Setting(k)));
    }
    let mut v: Vec<(usize, Anchor)> = v
        .into_iter()
        .filter(|(s, _)| s.start < s.end)
        .map(|(s, a)| (s.start as usize, a))
        .collect();
    // Stable: nodes starting at the same byte stay in printing order.
    v.sort_by_key(|(at, _)| *at);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse;

    fn texts(syntax: Syntax, src: &str) -> Vec<(String, bool)> {
        extract(syntax, src)
            .into_iter()
            .map(|c| {
                assert_eq!(&src[c.start..c.end], c.text);
                (c.text, c.own_line)
            })
            .collect()
    }

    fn own(s: &str) -> (String, bool) {
        (s.to_string(), true)
    }

    fn trailing(s: &str) -> (String, bool) {
        (s.to_string(), false)
    }

    #[test]
    fn yaml_comments_outside_scalars() {
        let src = "# head\nname: x # after name\ndescription: 'a # b' #t\nparams:\n  p: { type: string, default: \"#x\", description: a#b }  \n  #\nprobes:\n  - probe: kfunc:f\n    filter: |\n      a # in block\n    fields: { n: count() }\n# end   \n";
        assert_eq!(
            texts(Syntax::Yaml, src),
            [
                own("# head"),
                trailing("# after name"),
                trailing("#t"),
                own("#"),
                own("# end"),
            ]
        );
    }

    #[test]
    fn dsl_comments_outside_strings_and_probe_tokens() {
        let src = "# head\nspec x \"a # b\" # t\nprobe uprobe:/a#b:f { n = count() }#c\n  # own\n";
        assert_eq!(
            texts(Syntax::Dsl, src),
            [own("# head"), trailing("# t"), trailing("#c"), own("# own")]
        );
        // An unterminated string runs to the end.
        assert_eq!(texts(Syntax::Dsl, "spec x \"a # b"), []);
    }

    #[test]
    fn yaml_attachment() {
        let src = "# header
version: 2
name: x
params:
  # about p
  p: { type: u32 } # p trailing
probes:
  # first probe
  - probe: kfunc:f # on probe
    by: [comm] # on keys
    fields:
      # about n
      n: count() # n trailing
    # about the filter
    filter: 'n > 0'
output:
  # about format
  format: table # fmt trailing
# at the end
";
        let spec = parse("x.yaml", src).unwrap();
        let c = Comments::of(&spec, src);
        assert_eq!(c.before(Anchor::Version), ["# header"]);
        assert_eq!(c.before(Anchor::Param(0)), ["# about p"]);
        assert_eq!(c.after(Anchor::Param(0)), ["# p trailing"]);
        assert_eq!(c.before(Anchor::Probe(0)), ["# first probe"]);
        assert_eq!(c.after(Anchor::Probe(0)), ["# on probe"]);
        assert_eq!(c.after(Anchor::Key(0, 0)), ["# on keys"]);
        assert_eq!(c.before(Anchor::Field(0, 0)), ["# about n"]);
        assert_eq!(c.after(Anchor::Field(0, 0)), ["# n trailing"]);
        assert_eq!(c.before(Anchor::Filter(0)), ["# about the filter"]);
        assert_eq!(c.before(Anchor::Setting("format")), ["# about format"]);
        assert_eq!(c.after(Anchor::Setting("format")), ["# fmt trailing"]);
        assert_eq!(c.before(Anchor::Eof), ["# at the end"]);
        assert_eq!(c.all().count(), 12);
    }

    #[test]
    fn dsl_attachment() {
        let src = "# header
spec x \"d\" # on spec
param p: u32 = 1 # on p

# first probe
probe kfunc:f as a { # on probe
    # about n
    n = count(), # n trailing
    m = sum(1)
} by comm where n > 0 # on filter
# about output
output format json, top 3 # on top
# end
";
        let spec = parse("x.trace", src).unwrap();
        let c = Comments::of(&spec, src);
        assert_eq!(c.before(Anchor::Name), ["# header"]);
        assert_eq!(c.after(Anchor::Description), ["# on spec"]);
        assert_eq!(c.after(Anchor::Param(0)), ["# on p"]);
        assert_eq!(c.before(Anchor::Probe(0)), ["# first probe"]);
        assert_eq!(c.after(Anchor::Label(0)), ["# on probe"]);
        assert_eq!(c.before(Anchor::Field(0, 0)), ["# about n"]);
        assert_eq!(c.after(Anchor::Field(0, 0)), ["# n trailing"]);
        assert_eq!(c.after(Anchor::Filter(0)), ["# on filter"]);
        assert_eq!(c.before(Anchor::Output), ["# about output"]);
        assert_eq!(c.after(Anchor::Setting("top")), ["# on top"]);
        assert_eq!(c.before(Anchor::Eof), ["# end"]);
    }

    #[test]
    fn without_a_spec_statement() {
        // The default name has no place in the source: the comment on the
        // first line belongs to the probe.
        let src = "kfunc:f { n = count() } # c\n";
        let spec = parse("x.trace", src).unwrap();
        let c = Comments::of(&spec, src);
        assert_eq!(c.after(Anchor::Field(0, 0)), ["# c"]);
        let src = "# only\nkfunc:f { n = count() }\n";
        let c = Comments::of(&parse("x.trace", src).unwrap(), src);
        assert_eq!(c.before(Anchor::Probe(0)), ["# only"]);
    }
}
