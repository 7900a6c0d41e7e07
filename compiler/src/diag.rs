//! Located diagnostics, rendered with codespan-reporting.
//!
//! Every error the compiler reports carries the byte span of the offending
//! text in the user's file, a one-line message, a label at the span, and
//! optional help notes ("did you mean", the valid names when few).

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, termcolor, Config, Styles, StylesWriter};

/// A byte range in a source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Span {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

impl Span {
    /// A span from `start` to `end` (byte offsets).
    pub fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end.max(start) as u32,
        }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }

    /// The span as a `Range<usize>`.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A value with the span it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Wraps a value.
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The spec is rejected.
    Error,
    /// The spec is accepted, but something looks wrong.
    Warning,
}

/// One located message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// One-line summary.
    pub message: String,
    /// The offending text.
    pub span: Span,
    /// Text shown under the span.
    pub label: String,
    /// Other relevant places.
    pub secondary: Vec<(Span, String)>,
    /// Help lines ("did you mean ...").
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`.
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            span,
            label: String::new(),
            secondary: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A warning at `span`.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(span, message)
        }
    }

    /// Sets the label under the primary span.
    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    /// Adds a help note.
    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Adds a secondary labelled span.
    pub fn also(mut self, span: Span, label: impl Into<String>) -> Self {
        self.secondary.push((span, label.into()));
        self
    }

    /// The replacement a "did you mean `X`?" note proposes for the primary
    /// span, if the diagnostic has one: the compiler may check what follows
    /// against it, so that one run reports the errors after a typo too.
    pub fn fix(&self) -> Option<&str> {
        self.notes.iter().find_map(|n| {
            n.strip_prefix("did you mean `")?
                .strip_suffix("`?")
                .filter(|f| !f.contains('`'))
        })
    }

    /// Adds "did you mean `X`?" when a close candidate exists, else, when
    /// the candidates are few, lists them.
    pub fn suggest<'a>(
        mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'a str>,
        what: &str,
    ) -> Self {
        let candidates: Vec<&str> = candidates.into_iter().collect();
        if let Some(best) = closest(word, candidates.iter().copied()) {
            self.notes.push(format!("did you mean `{best}`?"));
        } else if !candidates.is_empty() && candidates.len() <= 12 {
            self.notes
                .push(format!("valid {what}: {}", quoted_list(candidates)));
        }
        self
    }
}

/// Names for a note, each in backquotes: `` `a`, `b`, `c` ``.
pub fn quoted_list<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> String {
    names
        .into_iter()
        .map(|n| format!("`{}`", n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// True if any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// The candidate closest to `word` by edit distance, if close enough to be a
/// plausible typo (distance ≤ 1/3 of the length, at least 1), or one that
/// `word` is a prefix of.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        // Cheap length filter first: the distance is at least the length gap.
        if c.len().abs_diff(word.len()) > limit {
            continue;
        }
        let d = edit_distance(word, c, limit + 1);
        if d <= limit && best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// Optimal-string-alignment distance (Levenshtein with transpositions),
/// giving up once it exceeds `cap`.
fn edit_distance(a: &str, b: &str, cap: usize) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev2: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > cap {
            return cap + 1;
        }
        std::mem::swap(&mut prev2, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The last line of a failed check, as rustc's "aborting due to N
/// previous errors": `error: 6 problems in spec.yaml` (and the warnings),
/// or `None` when there is no error.
pub fn summary(file_name: &str, diags: &[Diagnostic]) -> Option<String> {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors == 0 {
        return None;
    }
    let warnings = diags.len() - errors;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let mut line = format!(
        "error: {} in {file_name}",
        plural(errors, "problem", "problems")
    );
    if warnings > 0 {
        line.push_str(&format!(
            " (and {})",
            plural(warnings, "warning", "warnings")
        ));
    }
    Some(line)
}

/// Puts diagnostics in file order (by primary span; a stable sort keeps
/// the order of those reported at one place).
pub fn in_file_order(diags: &mut [Diagnostic]) {
    diags.sort_by_key(|d| (d.span.start, d.span.end));
}

/// Most diagnostics [`render`] prints; the rest are counted in a final note.
pub const MAX_RENDERED: usize = 50;

/// Renders diagnostics for one file as text (with ANSI colours if `color`):
/// the first [`MAX_RENDERED`], then how many more there are.
pub fn render(file_name: &str, source: &str, diags: &[Diagnostic], color: bool) -> String {
    let file = SimpleFile::new(file_name, source);
    let mut buf = if color {
        termcolor::Buffer::ansi()
    } else {
        termcolor::Buffer::no_color()
    };
    let styles = Styles::default();
    let config = Config::default();
    let len = source.len() as u32;
    let clamp = |s: Span| Span {
        start: s.start.min(len),
        end: s.end.min(len),
    };
    for (i, d) in diags.iter().enumerate() {
        if i == MAX_RENDERED {
            let errors = diags[i..]
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let cs = CsDiagnostic::<()>::note().with_message(format!(
                "{} more diagnostics not shown ({errors} of them errors)",
                diags.len() - i
            ));
            let mut w = StylesWriter::new(&mut buf, &styles);
            let _ = term::emit_to_write_style(&mut w, &config, &file, &cs);
            break;
        }
        let mut labels = vec![Label::primary((), clamp(d.span).range()).with_message(&d.label)];
        for (s, l) in &d.secondary {
            labels.push(Label::secondary((), clamp(*s).range()).with_message(l));
        }
        let cs = match d.severity {
            Severity::Error => CsDiagnostic::error(),
            Severity::Warning => CsDiagnostic::warning(),
        }
        .with_message(&d.message)
        .with_labels(labels)
        .with_notes(d.notes.iter().map(|n| format!("help: {n}")).collect());
        // Writing to an in-memory buffer cannot fail for a valid span.
        let mut w = StylesWriter::new(&mut buf, &styles);
        let _ = term::emit_to_write_style(&mut w, &config, &file, &cs);
    }
    String::from_utf8_lossy(buf.as_slice()).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos() {
        let names = ["skc_daddr", "skc_dport", "skc_rcv_saddr", "skc_family"];
        assert_eq!(closest("skc_dadr", names), Some("skc_daddr"));
        assert_eq!(closest("skc_dprot", names), Some("skc_dport"));
        assert_eq!(closest("zzzzzz", names), None);
    }

    #[test]
    fn render_points_at_span() {
        let src = "fields:\n  x: sk->skc_dadr\n";
        let d = Diagnostic::error(Span::new(17, 25), "no member `skc_dadr`").label("here");
        let out = render("t.yaml", src, &[d], false);
        assert!(out.contains("t.yaml:2:"), "{out}");
        assert!(out.contains("^^^^^^^^"), "{out}");
    }
}
