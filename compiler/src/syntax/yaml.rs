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
        let (ev, sp) = ev.map_err(|e| {
            let at = off.byte(e.marker().index());
            Diagnostic::error(Span::new(at, at + 1), format!("YAML syntax error: {}", e.info()))
                .label("here")
        })?;
        let span = off.span(sp);
        let node = match ev {
            Event::DocumentStart(_) => {
                docs += 1;
                if docs > 1 {
                    return Err(Diagnostic::error(span, "a spec file holds one spec")
                        .label("second document starts here")
                        .note("put each spec in its own file"));
                }
                continue;
            }
            Event::Alias(_) => {
                return Err(Diagnostic::error(span, "YAML aliases are not supported in specs")
                    .label("alias")
                    .note("write the value out in full"));
            }
            Event::Scalar(value, style, _, _) => {
                let value = value.into_owned();
                Node::Scalar(Scalar {
                    verbatim: off.verbatim(span, &value),
                    plain: style == ScalarStyle::Plain,
                    value,
                    span,
                })
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
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
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq(items, s)) => Node::Seq(items, s.to(span)),
                Some(Frame::Map(entries, s, _)) => Node::Map(entries, s.to(span)),
                None => continue,
            },
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
