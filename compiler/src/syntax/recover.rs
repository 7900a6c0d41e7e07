//! Syntax error recovery for the DSL: where the statement, field or `by`
//! key a syntax error is in starts and ends, so that
//! [`dsl::parse_partial`](super::dsl::parse_partial) can blank it out
//! (spaces keep every span in place), parse the rest again, and still
//! resolve the targets of the probes it left out.

use super::dsl::{is_probe_token, tokens};
use super::expr::{Grammar, Rule};
use crate::diag::{Span, Spanned};
use pest::Parser as _;

/// Is token `i` of `toks` where a statement can start: a statement
/// keyword, or a probe (`kind:target`) that does not follow `=>` or
/// `probe`? `BEGIN` and `END` count, as bpftrace's probes.
fn starts_statement(src: &str, toks: &[(usize, usize)], i: usize) -> bool {
    let text = |t: &(usize, usize)| &src[t.0..t.1];
    let t = text(&toks[i]);
    let prev = i.checked_sub(1).map(|p| text(&toks[p]));
    match t {
        "probe" | "spec" | "param" | "output" | "version" | "BEGIN" | "END" => true,
        _ => is_probe_token(t) && !matches!(prev, Some("=>" | "probe")),
    }
}

/// The bytes (of `text`, whose [`tokens`] are `toks`) of the statement a
/// syntax error at `at` belongs to, to
/// blank out: `between` statements (the grammar wanted a new one there),
/// from where the statements that parse end; else from the start of the
/// statement `at` is in (the statements that parse may end inside it,
/// where a shorter form of it was complete). Up to the next token at brace
/// depth 0 that starts a statement, or the end. `None` when there is
/// nothing left to blank.
pub(super) fn failed_statement(
    text: &str,
    toks: &[(usize, usize)],
    at: usize,
    between: bool,
) -> Option<std::ops::Range<usize>> {
    let depths: Vec<i32> = toks
        .iter()
        .scan(0, |depth, t| {
            let before = *depth;
            match &text[t.0..t.1] {
                "{" => *depth += 1,
                "}" => *depth -= 1,
                _ => {}
            }
            Some(before)
        })
        .collect();
    let starts = |i: usize| depths[i] == 0 && starts_statement(text, toks, i);
    let first = if between {
        let good_end = Grammar::parse(Rule::dsl_prefix, text)
            .ok()
            .and_then(|mut p| p.next())
            .map_or(0, |p| p.as_span().end());
        toks.iter().position(|t| t.0 >= good_end)?
    } else {
        (0..toks.len())
            .rev()
            .find(|&i| toks[i].0 <= at && starts(i))
            .unwrap_or(0)
    };
    let start = toks.get(first)?.0;
    let end = (first + 1..toks.len())
        .find(|&i| toks[i].0 > at && starts(i))
        .map_or(text.len(), |i| toks[i].0);
    (start < end).then_some(start..end)
}

/// The field of a probe's body, or the key after its `by`, that a syntax
/// error at `at` (in statement `stmt`) is in, to blank out instead of the
/// statement: its bytes, with the `,` after it (the one before it for the
/// last key: `by` takes no trailing comma), and its name; `None` when the
/// error is not inside one item of a list with another item to keep.
pub(super) fn failed_field(
    text: &str,
    toks: &[(usize, usize)],
    at: usize,
    stmt: std::ops::Range<usize>,
) -> Option<(std::ops::Range<usize>, Option<String>)> {
    let toks: Vec<(usize, usize)> = toks
        .iter()
        .copied()
        .filter(|t| stmt.contains(&t.0))
        .collect();
    let word = |t: &(usize, usize)| &text[t.0..t.1];
    let open = toks.iter().position(|t| word(t) == "{")?;
    let (fields, close) = list_items(text, &toks, open + 1, &["}"]);
    let body_end = close?;
    // The keys: after `by`, up to `where`, `match` or the end.
    let by = toks[body_end..]
        .iter()
        .position(|t| word(t) == "by")
        .map(|i| body_end + i);
    let keys = by.map(|b| list_items(text, &toks, b + 1, &["where", "match"]).0);
    let lists = [(fields, Some(body_end), true)]
        .into_iter()
        .chain(keys.map(|k| (k, None, false)));
    for (items, close, trailing_comma) in lists {
        let Some(k) = items
            .iter()
            .position(|f| toks[f.start].0 <= at && at < toks[f.end - 1].1)
        else {
            continue;
        };
        if items.len() < 2 {
            return None;
        }
        let f = &items[k];
        let range = match (items.get(k + 1), close) {
            (Some(next), _) => toks[f.start].0..toks[next.start].0,
            (None, Some(c)) if trailing_comma => toks[f.start].0..toks[c].0,
            // The last key: from the end of the one before it.
            (None, _) => toks[items[k - 1].end - 1].1..toks[f.end - 1].1,
        };
        let name = match (toks.get(f.start), toks.get(f.start + 1)) {
            (Some(n), Some(eq)) if word(eq) == "=" && super::is_ident(word(n)) => Some(word(n)),
            (Some(n), _) if f.len() == 1 && super::is_ident(word(n)) => Some(word(n)),
            _ => None,
        };
        return Some((range, name.map(str::to_string)));
    }
    None
}

/// The items of a `,`-separated list of tokens from `from`, up to a token
/// of `stop` outside brackets (or the end): their token ranges (empty ones
/// left out), and where it stopped.
fn list_items(
    text: &str,
    toks: &[(usize, usize)],
    from: usize,
    stop: &[&str],
) -> (Vec<std::ops::Range<usize>>, Option<usize>) {
    let mut items = Vec::new();
    let (mut depth, mut start, mut end) = (0i32, from, None);
    for (i, t) in toks.iter().enumerate().skip(from) {
        let w = &text[t.0..t.1];
        match w {
            _ if depth == 0 && stop.contains(&w) => {
                end = Some(i);
                break;
            }
            "(" | "[" | "{" => depth += 1,
            ")" | "]" | "}" => depth -= 1,
            "," if depth == 0 => {
                items.push(start..i);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(start..end.unwrap_or(toks.len()));
    items.retain(|r| !r.is_empty());
    (items, end)
}

/// `text` with the bytes of `range` made spaces (line ends kept), so that
/// every span after it is unchanged.
pub(super) fn blank(text: &str, range: std::ops::Range<usize>) -> String {
    let mut out = String::with_capacity(text.len());
    out.push_str(&text[..range.start]);
    for c in text[range.clone()].chars() {
        if c == '\n' {
            out.push(c);
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    }
    out.push_str(&text[range.end..]);
    out
}

/// The probe targets written in `range`: its first probe, and the end
/// probe after `=>` (to resolve them though the statement did not parse).
pub(super) fn probe_targets(text: &str, range: std::ops::Range<usize>) -> Vec<Spanned<String>> {
    let toks: Vec<(usize, usize)> = tokens(&text[range.clone()])
        .into_iter()
        .map(|(s, e)| (range.start + s, range.start + e))
        .collect();
    let word = |t: &(usize, usize)| &text[t.0..t.1];
    let is_probe = |t: &(usize, usize)| is_probe_token(word(t));
    let spanned = |t: &(usize, usize)| Spanned::new(word(t).to_string(), Span::new(t.0, t.1));
    let Some(i) = toks.iter().position(is_probe) else {
        return Vec::new();
    };
    let mut out = vec![spanned(&toks[i])];
    if let (Some(arrow), Some(end)) = (toks.get(i + 1), toks.get(i + 2)) {
        if word(arrow) == "=>" && is_probe(end) {
            out.push(spanned(end));
        }
    }
    out
}
