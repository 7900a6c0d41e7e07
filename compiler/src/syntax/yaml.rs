//! A YAML document as a tree of nodes that each carry their byte span.
//!
//! Built from saphyr-parser's event stream (a maintained, pure-Rust YAML 1.2
//! parser that reports a span for every event), without recursion and with a
//! depth limit, so no input can overflow the stack. Aliases are refused
//! (a spec has no use for them, and they are how "billion laughs" inputs
//! explode).

use crate::diag::{Diagnostic, Span};
use saphyr_parser::{Event, Parser, ScalarStyle};

/// Deepest nesting of mappings/sequences accepted.
pub const MAX_DEPTH: usize = 16;

/// A YAML node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>, Span),
    /// A mapping, in document order.
    Map(Vec<(Scalar, Node)>, Span),
}

/// A scalar and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    /// The value after YAML unquoting/folding.
    pub value: String,
    /// Span of the scalar as written (quotes included).
    pub span: Span,
    /// Byte offset at which `value` appears verbatim in the source, when it does.
    pub verbatim: Option<usize>,
    /// Plain (unquoted) scalar.
    pub plain: bool,
}

impl Scalar {
    /// True for `~`, `null` or an empty plain scalar.
    pub fn is_null(&self) -> bool {
        self.plain && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }
}

impl Node {
    /// The node's span.
    pub fn span(&self) -> Span {
        match self {
            Node::Scalar(s) => s.span,
            Node::Seq(_, s) | Node::Map(_, s) => *s,
        }
    }

    /// A word for the node's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(s) if s.is_null() => "nothing",
            Node::Scalar(_) => "a scalar",
            Node::Seq(..) => "a list",
            Node::Map(..) => "a mapping",
        }
    }
}

/// Converts the parser's character indices to byte offsets.
struct Offsets<'a> {
    src: &'a str,
    /// Byte offset of each char; empty when the source is ASCII.
    starts: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(src: &'a str) -> Self {
        let starts = if src.is_ascii() {
            Vec::new()
        } else {
            src.char_indices().map(|(i, _)| i).collect()
        };
        Offsets { src, starts }
    }

    fn byte(&self, char_index: usize) -> usize {
        if self.starts.is_empty() {
            char_index.min(self.src.len())
        } else {
            self.starts
                .get(char_index)
                .copied()
                .unwrap_or(self.src.len())
        }
    }

    fn span(&self, s: saphyr_parser::Span) -> Span {
        Span::new(self.byte(s.start.index()), self.byte(s.end.index()))
    }

    /// Where `value` appears verbatim at or just after (a quote) `start`.
    fn verbatim(&self, span: Span, value: &str) -> Option<usize> {
        let start = span.start as usize;
        [start, start + 1].into_iter().find(|&b| {
            self.src
                .get(b..b + value.len())
                .is_some_and(|t| t == value && (b + value.len() <= span.end as usize || b == start))
        })
    }
}

enum Frame {
    Seq(Vec<Node>, Span),
    Map(Vec<(Scalar, Node)>, Span, Option<Scalar>),
}

/// Parses one YAML document into a spanned tree.
pub fn parse(src: &str) -> Result<Node, Diagnostic> {
    let off = Offsets::new(src);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut docs = 0;
    for ev in Parser::new_from_str(src) {
        let (ev, sp) = ev.map_err(|e| syntax_error(src, &off, &e, &stack))?;
        let span = off.span(sp);
        let tag = match &ev {
            Event::Scalar(_, _, _, t) | Event::SequenceStart(_, t) | Event::MappingStart(_, t) => {
                t.as_ref().map(|t| t.to_string())
            }
            _ => None,
        };
        if let Some(tag) = tag {
            return Err(tag_error(src, span, &tag));
        }
        let node = match ev {
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    // An implicit start (after `...`) has an empty span:
                    // point at the document's first line instead.
                    let span = if span.start < span.end {
                        span
                    } else {
                        first_content_line(src, span.start as usize)
                    };
                    return Err(Diagnostic::error(span, "a spec file holds one spec")
                        .label("second document starts here")
                        .note("put each spec in its own file"));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(
                    Diagnostic::error(span, "YAML aliases are not supported in specs")
                        .label("alias")
                        .note("write the value out in full"),
                );
            }
            Event::Scalar(value, style, _, _) => {
                let value = value.into_owned();
                // A plain scalar's span can run past its text to the next
                // line: end it at its last character.
                let span = trim_end(src, span);
                // An empty value (`key:` and nothing) has an empty span:
                // errors about it point at its key; an empty key at its
                // `:`, an empty list item at its `-`.
                let span = match stack.last() {
                    _ if span.start < span.end => span,
                    Some(Frame::Map(_, _, Some(k))) => k.span,
                    Some(Frame::Map(_, _, None)) => char_after(src, span.start as usize),
                    Some(Frame::Seq(..)) => char_before(src, span.start as usize),
                    None => span,
                };
                Node::Scalar(Scalar {
                    verbatim: off.verbatim(span, &value),
                    plain: style == ScalarStyle::Plain,
                    value,
                    span,
                })
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                // A block collection starts at its first token.
                let span = if span.start < span.end {
                    span
                } else {
                    char_after(src, span.start as usize)
                };
                if stack.len() >= MAX_DEPTH {
                    return Err(Diagnostic::error(
                        span,
                        format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    )
                    .label("too deep"));
                }
                stack.push(if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), span)
                } else {
                    Frame::Map(Vec::new(), span, None)
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                // A flow collection ends at its `]` / `}`; a block one at its
                // last item (not at the next line's token).
                let closed = src
                    .get(span.start as usize..)
                    .is_some_and(|t| t.starts_with([']', '}']));
                match stack.pop() {
                    Some(Frame::Seq(items, s)) => {
                        let end = if closed {
                            span
                        } else {
                            items.last().map_or(s, Node::span)
                        };
                        Node::Seq(items, trim_end(src, s.to(end)))
                    }
                    Some(Frame::Map(entries, s, _)) => {
                        let end = if closed {
                            span
                        } else {
                            entries.last().map_or(s, |(k, v)| k.span.to(v.span()))
                        };
                        Node::Map(entries, trim_end(src, s.to(end)))
                    }
                    None => continue,
                }
            }
            _ => continue,
        };
        match stack.last_mut() {
            None => root = Some(node),
            Some(Frame::Seq(items, _)) => items.push(node),
            Some(Frame::Map(entries, _, key)) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => match node {
                    Node::Scalar(s) => *key = Some(s),
                    other => {
                        return Err(Diagnostic::error(
                            other.span(),
                            "mapping keys must be plain names",
                        )
                        .label(format!("this key is {}", other.kind())))
                    }
                },
            },
        }
    }
    Ok(root.unwrap_or(Node::Scalar(Scalar {
        value: String::new(),
        span: Span::new(0, 0),
        verbatim: None,
        plain: true,
    })))
}

/// The first character at or after `pos` that is not white space (or, at
/// the end, the last one before): where an empty key or a block collection
/// starts.
fn char_after(src: &str, pos: usize) -> Span {
    let pos = pos.min(src.len());
    match src[pos..].char_indices().find(|(_, c)| !c.is_whitespace()) {
        Some((i, c)) => Span::new(pos + i, pos + i + c.len_utf8()),
        None => char_before(src, pos),
    }
}

/// The last character before `pos` that is not white space (or, at the
/// start, the first one after): the `-` or `:` before an empty value.
fn char_before(src: &str, pos: usize) -> Span {
    let pos = pos.min(src.len());
    match src[..pos]
        .char_indices()
        .rev()
        .find(|(_, c)| !c.is_whitespace())
    {
        Some((i, c)) => Span::new(i, i + c.len_utf8()),
        None => match src[pos..].char_indices().find(|(_, c)| !c.is_whitespace()) {
            Some((i, c)) => Span::new(pos + i, pos + i + c.len_utf8()),
            None => Span::new(pos, pos),
        },
    }
}

/// `span` without trailing white space (never shorter than empty).
fn trim_end(src: &str, span: Span) -> Span {
    let (s, e) = (span.start as usize, (span.end as usize).min(src.len()));
    match src.get(s..e) {
        Some(t) => Span::new(s, s + t.trim_end().len()),
        None => span,
    }
}

/// The first line at or after `from` that is not blank or a comment.
fn first_content_line(src: &str, from: usize) -> Span {
    let mut pos = from.min(src.len());
    for line in src[pos..].split_inclusive('\n') {
        let t = line.trim();
        if !t.is_empty() && !t.starts_with('#') {
            let lead = line.len() - line.trim_start().len();
            return Span::new(pos + lead, pos + lead + t.len());
        }
        pos += line.len();
    }
    Span::new(from.min(src.len()), src.len())
}

/// A tag (`!foo`, `!!str`) on a node: specs do not use them, and a value
/// that starts with `!` (a negated filter) is the usual way to write one.
fn tag_error(src: &str, span: Span, tag: &str) -> Diagnostic {
    let start = (span.start as usize).min(src.len());
    let rest = &src[start..];
    let written = rest
        .split_whitespace()
        .next()
        .filter(|w| w.starts_with('!'))
        .unwrap_or("!");
    // The value as written on its line, for the quoted suggestion.
    let line = rest.lines().next().unwrap_or("").trim_end();
    let line = match line.find(" #") {
        Some(i) => line[..i].trim_end(),
        None => line,
    };
    let quoted = if !line.contains('\'') {
        format!("'{line}'")
    } else {
        serde_json::to_string(line).unwrap_or_default()
    };
    Diagnostic::error(
        Span::new(start, start + written.len()),
        format!("a value starting with `!` must be quoted: YAML reads `{written}` as a tag"),
    )
    .label(format!("YAML tag `{tag}`; specs use no tags"))
    .note(format!(
        "if this is an expression, quote the whole value: {quoted}"
    ))
}

/// A located YAML syntax error, with a hint for the usual causes.
fn syntax_error(
    src: &str,
    off: &Offsets,
    e: &saphyr_parser::ScanError,
    stack: &[Frame],
) -> Diagnostic {
    let info = e.info();
    let mut at = off.byte(e.marker().index());
    // Tabs: point at the tab itself, not the text after it.
    if info.contains("tab") {
        let line_start = src[..at.min(src.len())].rfind('\n').map_or(0, |i| i + 1);
        if let Some(i) = src[line_start..at.min(src.len())].rfind('\t') {
            at = line_start + i;
        }
    }
    let at_end = src[at.min(src.len())..].trim().is_empty();
    let span = if at_end {
        // At the end of the input: point just after the last token.
        let end = src.trim_end().len();
        match src[..end].chars().next_back() {
            Some(c) => Span::new(end - c.len_utf8(), end),
            None => Span::new(0, 0),
        }
    } else {
        let len = src[at..].chars().next().map_or(0, char::len_utf8);
        Span::new(at, at + len)
    };
    let mut d = Diagnostic::error(span, format!("YAML syntax error: {info}")).label(if at_end {
        "the input ends after this"
    } else {
        "here"
    });
    // An unclosed flow collection: show where it was opened.
    if info.contains("flow") {
        let open = stack.iter().rev().find_map(|f| {
            let s = match f {
                Frame::Seq(_, s) | Frame::Map(_, s, _) => *s,
            };
            src.get(s.start as usize..)
                .and_then(|t| t.chars().next())
                .filter(|c| matches!(c, '[' | '{'))
                .map(|c| (s, c))
        });
        if let Some((s, c)) = open {
            let close = if c == '[' { ']' } else { '}' };
            d = d
                .also(
                    Span::new(s.start as usize, s.start as usize + 1),
                    format!("this `{c}` is not closed"),
                )
                .note(format!(
                    "add the missing `{close}` (or `,` between entries)"
                ));
        }
    }
    let mut colon_hint: Option<String> = None;
    let hint = if info.contains("tab") {
        Some("indent YAML with spaces; tabs are not allowed")
    } else if info.contains("mapping values are not allowed") {
        colon_hint = Some(mapping_value_hint(src, at));
        None
    } else if info.contains("trailing content after") {
        Some("a quoted value must end at its closing quote; quote the whole expression: `filter: 'comm == \"bash\"'`")
    } else if info.contains("quoted scalar") {
        Some("is a closing quote missing?")
    } else if info.contains("unknown anchor") {
        Some("`*` at the start of a value is a YAML alias; quote the value if it is an expression")
    } else if info.contains("misplaced bracket") {
        Some("this bracket closes nothing: check that every `[` and `{` has one `]` or `}`")
    } else if info.contains("did not find expected key") || info.contains("expected '-' indicator")
    {
        Some(
            "check the indentation: the keys of one mapping (and the `-` of one list) must line up",
        )
    } else {
        None
    };
    if let Some(h) = hint {
        d = d.note(h);
    }
    if let Some(h) = colon_hint {
        d = d.note(h);
    }
    d
}

/// The hint for a `: ` inside a plain value at byte `at`: a probe written
/// with a space (`kfunc: tcp_connect`), or a value to quote.
fn mapping_value_hint(src: &str, at: usize) -> String {
    let at = at.min(src.len());
    let line_start = src[..at].rfind('\n').map_or(0, |i| i + 1);
    let line_end = src[at..].find('\n').map_or(src.len(), |i| at + i);
    let line = &src[line_start..line_end];
    let before = src[line_start..at].trim_end();
    let word = before
        .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
        .next()
        .unwrap_or("");
    if crate::resolve::PROBE_KINDS.contains(&word) {
        let target = src[at..line_end].trim_start_matches(':').trim();
        return format!("a probe is one word, without a space after the colon: `{word}:{target}`");
    }
    // `  key: value: more` → `  key: 'value: more'`
    let body = line.trim_start().trim_start_matches("- ");
    match body.split_once(": ") {
        Some((key, value)) if !value.trim().is_empty() => {
            let value = value.trim();
            let quoted = if value.contains('\'') {
                serde_json::to_string(value).unwrap_or_default()
            } else {
                format!("'{value}'")
            };
            format!(
                "a `: ` inside a plain value starts a mapping; quote the value: `{key}: {quoted}`"
            )
        }
        _ => "a `: ` inside a plain value starts a mapping; quote the value".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_point_at_values() {
        let src = "name: x\nprobes:\n  - probe: 'kfunc:tcp_connect'\n    filter: \"pid == 1\"\n";
        let Node::Map(entries, _) = parse(src).unwrap() else {
            panic!()
        };
        let (k, v) = &entries[0];
        assert_eq!(k.value, "name");
        let Node::Scalar(v) = v else { panic!() };
        assert_eq!(&src[v.span.range()], "x");
        let Node::Seq(items, _) = &entries[1].1 else {
            panic!()
        };
        let Node::Map(p, _) = &items[0] else { panic!() };
        let Node::Scalar(probe) = &p[0].1 else {
            panic!()
        };
        assert_eq!(probe.value, "kfunc:tcp_connect");
        assert_eq!(
            &src[probe.verbatim.unwrap()..][..probe.value.len()],
            "kfunc:tcp_connect"
        );
        let Node::Scalar(f) = &p[1].1 else { panic!() };
        assert_eq!(&src[f.verbatim.unwrap()..][..8], "pid == 1");
    }

    #[test]
    fn non_ascii_offsets_are_bytes() {
        let src = "description: \"héllo wörld\"\nname: abc\n";
        let Node::Map(entries, _) = parse(src).unwrap() else {
            panic!()
        };
        let Node::Scalar(v) = &entries[1].1 else {
            panic!()
        };
        assert_eq!(&src[v.span.range()], "abc");
    }

    #[test]
    fn deep_and_hostile_inputs_fail_cleanly() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
        let alias = "a: &x 1\nb: *x\n";
        assert!(parse(alias).unwrap_err().message.contains("aliases"));
        assert!(parse("a: 1\n---\nb: 2\n").is_err());
        assert!(parse("a: [1, 2\n").is_err());
    }
}
