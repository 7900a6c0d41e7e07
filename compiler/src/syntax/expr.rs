//! The pest grammar and the builder from its parse tree to [`Expr`].
//!
//! Expressions appear in two places: inside YAML scalars (fields and
//! filters), and inside DSL files. Both go through [`ExprBuilder`], which
//! maps the grammar's byte offsets back to the user's file.

use super::ast::{BinOp, Expr, ExprKind, UnOp};
use crate::diag::{Diagnostic, Span, Spanned};
use crate::plan::{ArithOp, CmpOp};
use pest::iterators::Pair;
use pest::Parser as _;

pub use generated::{Grammar, Rule};

/// pest's generated parser and its `Rule` enum (one variant per rule of
/// `grammar.pest`), which carry no documentation of their own.
mod generated {
    #![allow(missing_docs)]
    use pest_derive::Parser;

    /// The generated parser (see `grammar.pest`).
    #[derive(Parser)]
    #[grammar = "syntax/grammar.pest"]
    pub struct Grammar;
}

/// Deepest parenthesis nesting accepted (pest recurses on parentheses).
pub const MAX_NESTING: usize = 32;

/// Maps offsets in the parsed text to spans in the user's file.
#[derive(Debug, Clone, Copy)]
pub struct SpanMap {
    /// Byte offset of the parsed text in the file, when the text appears
    /// verbatim there.
    pub base: Option<u32>,
    /// The span to use when it does not (escaped or folded YAML scalars).
    pub whole: Span,
}

impl SpanMap {
    /// Text that appears verbatim in the file at `base`.
    pub fn verbatim(base: usize, len: usize) -> SpanMap {
        SpanMap {
            base: Some(base as u32),
            whole: Span::new(base, base + len),
        }
    }

    /// Maps a range of the parsed text; an empty range (nothing to point
    /// at) maps to the whole text.
    pub fn span(&self, start: usize, end: usize) -> Span {
        match self.base {
            Some(b) if start < end => Span::new(b as usize + start, b as usize + end),
            _ => self.whole,
        }
    }
}

/// Most operators (`&&`, `||`, `!`, `->`, `.`, `[`, arithmetic) in one expression; keeps
/// every tree the compiler walks recursively shallow.
pub const MAX_OPERATORS: usize = 128;

/// Rejects text nested deeper than [`MAX_NESTING`], or with more than
/// [`MAX_OPERATORS`] operators, before pest sees it.
pub fn check_nesting(text: &str, map: &SpanMap) -> Result<(), Diagnostic> {
    scan_nesting(text, map, false)
}

/// [`check_nesting`] for a whole text: strings and `#` comments are
/// skipped, and in the DSL (`dsl`) so are probe tokens (`kfunc:…`, whose
/// characters are not operators); the operator count restarts after each
/// probe body.
pub(crate) fn scan_nesting(text: &str, map: &SpanMap, dsl: bool) -> Result<(), Diagnostic> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut ops = 0usize;
    let mut i = 0;
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    while i < b.len() {
        let c = b[i];
        match c {
            b'"' => {
                // Skip the string, escapes included.
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                continue;
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            c if word(c) => {
                let start = i;
                while i < b.len() && word(b[i]) {
                    i += 1;
                }
                // `kind:target` up to white space or a brace.
                let probe = dsl
                    && !b[start].is_ascii_digit()
                    && b.get(i) == Some(&b':')
                    && b.get(i + 1)
                        .is_some_and(|n| !n.is_ascii_whitespace() && *n != b'{' && *n != b'}');
                if probe {
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'{' && b[i] != b'}'
                    {
                        i += 1;
                    }
                }
                continue;
            }
            b'(' | b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(Diagnostic::error(
                        map.span(i, i + 1),
                        format!("expression nested deeper than {MAX_NESTING} levels"),
                    )
                    .label("too deep")
                    .note("split the condition, or remove redundant parentheses"));
                }
            }
            b')' | b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if dsl && c == b'}' && depth == 0 {
                    ops = 0;
                }
            }
            _ => {}
        }
        if matches!(
            c,
            b'&' | b'|'
                | b'!'
                | b'>'
                | b'.'
                | b'['
                | b'+'
                | b'-'
                | b'*'
                | b'/'
                | b'%'
                | b'^'
                | b'~'
                | b'<'
        ) {
            ops += 1;
            if ops > 2 * MAX_OPERATORS {
                return Err(Diagnostic::error(
                    map.span(i, i + 1),
                    format!("expression has more than {MAX_OPERATORS} operators"),
                )
                .label("too long")
                .note("the in-kernel filter runs at most 32 operations; simplify the condition"));
            }
        }
        i += 1;
    }
    Ok(())
}

/// Rules matched as single tokens (atomic): their pairs never hold skipped
/// white space or comments.
fn is_token(r: Rule) -> bool {
    matches!(
        r,
        Rule::ident
            | Rule::int
            | Rule::string
            | Rule::str_inner
            | Rule::param
            | Rule::kw_version
            | Rule::kw_spec
            | Rule::kw_param
            | Rule::kw_probe
            | Rule::kw_output
            | Rule::kw_as
            | Rule::kw_where
            | Rule::spec_name
            | Rule::probe_tok
    )
}

/// The last byte of text in `input[from..to]` that is neither white space
/// nor inside a `#` comment, plus one; `from` when there is none. Only for
/// stretches between tokens, where `#` always starts a comment.
fn content_end(input: &str, from: usize, to: usize) -> usize {
    let b = input.as_bytes();
    let to = to.min(b.len());
    let (mut i, mut end) = (from, from);
    while i < to {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < to && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {
                i += 1;
                end = i;
            }
        }
    }
    end
}

/// Byte range of a pair in its input, without the white space and comments
/// that pest's implicit `WHITESPACE`/`COMMENT` rules leave at the end of a
/// rule ending in an optional or repeated part (`cmp`, `probe_stmt`, ...).
///
/// Every span the parser gives a node comes from here, so no node's span
/// ends in white space: what follows a rule's last child is only literal
/// punctuation (`)`, `}`, `,`) and skipped text.
pub fn pair_range(p: &Pair<Rule>) -> (usize, usize) {
    let input = p.get_input();
    // The chain of last children, down to a token or a childless rule.
    let mut chain = vec![p.clone()];
    while let Some(last) = chain.last() {
        if is_token(last.as_rule()) {
            break;
        }
        match last.clone().into_inner().last() {
            Some(c) => chain.push(c),
            None => break,
        }
    }
    let mut end = 0;
    for q in chain.iter().rev() {
        let s = q.as_span();
        end = if is_token(q.as_rule()) {
            s.end()
        } else {
            content_end(input, end.max(s.start()), s.end())
        };
    }
    (p.as_span().start(), end.max(p.as_span().start()))
}

/// What is open at a position of a text: brackets and an unclosed string.
struct Open {
    /// Unclosed `(`, `[`, `{`, innermost last: (byte offset, bracket).
    brackets: Vec<(usize, char)>,
    /// Byte offset of the `"` of a string still open.
    string: Option<usize>,
}

/// Scans `text[..pos]` for unclosed brackets and strings (comments skipped).
fn open_at(text: &str, pos: usize) -> Open {
    let mut open = Open {
        brackets: Vec::new(),
        string: None,
    };
    let mut escaped = false;
    let mut comment = false;
    for (i, c) in text.char_indices() {
        if i >= pos {
            break;
        }
        if comment {
            comment = c != '\n';
            continue;
        }
        if open.string.is_some() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => open.string = None,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => open.string = Some(i),
            '#' => comment = true,
            '(' | '[' | '{' => open.brackets.push((i, c)),
            ')' | ']' | '}' => {
                open.brackets.pop();
            }
            _ => {}
        }
    }
    open
}

/// The first byte at or after `pos` that is not white space or in a comment
/// (`text.len()` when none is).
fn next_token(text: &str, pos: usize) -> usize {
    let b = text.as_bytes();
    let mut i = pos.min(b.len());
    while i < b.len() {
        match b[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    i
}

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The last token of `text[..end]` (white space and comments skipped): a
/// word, or a run of punctuation.
fn last_token(text: &str, end: usize) -> Option<(usize, usize)> {
    let end = content_end(text, 0, end);
    let before = &text[..end];
    let last = before.chars().next_back()?;
    let same = |c: char| !c.is_whitespace() && is_word(c) == is_word(last) && c != '"';
    let start = before
        .char_indices()
        .rev()
        .take_while(|&(_, c)| same(c))
        .last()
        .map_or(end - last.len_utf8(), |(i, _)| i);
    Some((start, end))
}

/// The token starting at `pos` (which is not white space): a word, a
/// two-character operator, or one character.
fn token_at(text: &str, pos: usize) -> (usize, usize) {
    let rest = &text[pos..];
    let Some(first) = rest.chars().next() else {
        return (pos, pos);
    };
    if is_word(first) {
        let len = rest.find(|c: char| !is_word(c)).unwrap_or(rest.len());
        return (pos, pos + len);
    }
    for op in ["==", "!=", "<=", ">=", "&&", "||", "->"] {
        if rest.starts_with(op) {
            return (pos, pos + 2);
        }
    }
    (pos, pos + first.len_utf8())
}

/// Joins alternatives: `a`, `a or b`, `a, b or c`.
fn alternatives(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// DSL keywords, for "did you mean".
const KEYWORDS: [&str; 7] = ["spec", "version", "param", "probe", "output", "as", "where"];

/// Tokens that continue an expression already complete.
const OPERATORS: [&str; 23] = [
    "!=", "&&", "->", ".", "<", "<=", "==", ">", ">=", "[", "||", "(", "=", "+", "*", "/", "%",
    "&", "|", "^", "<<", ">>", "-",
];

/// The statements of the DSL, as expected at the start of one.
const STATEMENT: &str =
    "a new statement (`spec`, `param`, `probe`, `output`, or a probe such as `kfunc:tcp_connect`)";

/// The start of the note for YAML in a DSL text.
pub(crate) const YAML_GIVEN: &str = "`KEY: value` is YAML";

/// Would the grammar have taken a new statement where this syntax error
/// is (the statements before it are whole)?
pub(crate) fn expects_statement(d: &Diagnostic) -> bool {
    d.message.contains(STATEMENT)
}

/// What the grammar wanted, in words, from pest's detailed parse attempts
/// (literal tokens and character classes). `after_word` drops the classes
/// that would only lengthen the word before the error.
fn wanted_from_tokens(tokens: &[String], after_word: bool) -> Vec<String> {
    let has = |t: &str| tokens.iter().any(|x| x == t);
    let expr_start = has("a..z") && has("\"") && !after_word;
    let mut literals: Vec<String> = Vec::new();
    let mut ops = false;
    let mut statement = false;
    for t in tokens {
        match t.as_str() {
            " " | "\t" | "\n" | "\r" | "#" | "_" | "A..Z" | "a..z" | "0..9" | "0x" | "0X"
            | "\"" | "$" | "!" | "~" | "\\" => {}
            "-" if expr_start => {}
            "(" if expr_start => {}
            "spec" | "param" | "probe" | "output" | "version" | ";" => statement = true,
            t if OPERATORS.contains(&t) => ops = true,
            t => literals.push(format!("`{t}`")),
        }
    }
    if !literals.is_empty() {
        return literals;
    }
    // At a statement boundary, names and strings start statements (probes).
    let name = has("a..z") && !after_word && !statement;
    let number = has("0..9") && !after_word && !statement;
    let mut out = Vec::new();
    if statement {
    } else if expr_start && number {
        out.push("an expression".to_string());
    } else {
        if name {
            out.push("a name".to_string());
        }
        if number {
            out.push("a number".to_string());
        }
        if has("\"") && !statement {
            out.push("a string".to_string());
        }
    }
    if ops {
        out.push("an operator".to_string());
    }
    if statement {
        out.push(STATEMENT.to_string());
    }
    out
}

/// What the grammar wanted, in words, from the rules pest tried.
fn wanted_from_rules(positives: &[Rule]) -> Vec<String> {
    let statement = positives.iter().any(|r| {
        matches!(
            r,
            Rule::version_stmt
                | Rule::spec_stmt
                | Rule::param_stmt
                | Rule::output_stmt
                | Rule::probe_stmt
        )
    });
    if statement {
        let ops = positives
            .iter()
            .any(|r| matches!(r, Rule::or_op | Rule::and_op | Rule::cmp_op | Rule::suffix));
        let mut out = Vec::new();
        if ops {
            out.push("an operator".to_string());
        }
        out.push(STATEMENT.to_string());
        return out;
    }
    let mut names: Vec<&str> = positives.iter().filter_map(rule_name).collect();
    names.sort_unstable();
    names.dedup();
    names.into_iter().map(str::to_string).collect()
}

/// Turns a pest error on `text` into a located diagnostic.
///
/// `what` names the text (`"the spec"`, `"filter"`, ...). The span is
/// always inside `text` and covers a token: at the end of the input, the
/// last one, with what was expected before the end (the closing bracket or
/// quote of whatever is still open, else what the grammar wanted).
pub fn syntax_error(
    err: pest::error::Error<Rule>,
    text: &str,
    map: &SpanMap,
    what: &str,
) -> Diagnostic {
    use pest::error::{ErrorVariant, InputLocation};
    let rule_pos = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    }
    .min(text.len());
    let positives: Vec<Rule> = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let dsl = what == "the spec";
    // pest's detailed attempts see literal tokens (`{`, `,`, `as`) that its
    // rule positions miss; but a word tried as a probe (`prob kfunc:…`, a
    // filter without `where`) is better reported where its statement starts.
    let detail = err.parse_attempts().filter(|a| {
        let stacks = a.call_stacks();
        a.max_position >= rule_pos
            && a.max_position <= text.len()
            && text.is_char_boundary(a.max_position)
            && !stacks.is_empty()
            && !stacks
                .iter()
                .all(|s| s.deepest.get_rule() == Some(&Rule::probe_tok))
    });
    let unexpected_space = err.parse_attempts().is_some_and(|a| {
        a.expected_tokens().is_empty()
            && a.unexpected_tokens().iter().any(|t| t.to_string() == " ")
            && a.max_position <= text.len()
            && text.is_char_boundary(a.max_position)
    });
    let pos = match (&detail, unexpected_space) {
        (Some(a), _) => a.max_position,
        (None, true) => err.parse_attempts().map_or(rule_pos, |a| a.max_position),
        _ => rule_pos,
    };
    // Report at the next token, past white space and comments.
    let raw = pos;
    let pos = next_token(text, pos);
    let at_end = pos >= text.len();
    let after_word = text[..pos].ends_with(is_word);
    let open = open_at(text, pos);
    let closer = open.brackets.last().map(|&(at, c)| {
        let close = match c {
            '(' => ')',
            '[' => ']',
            _ => '}',
        };
        (at, c, close)
    });
    // Only a continuation of what was written (an operator, a member
    // access) would do: the construct before the error is complete.
    let complete = !positives.is_empty()
        && positives.iter().all(|r| {
            matches!(
                r,
                Rule::or_op
                    | Rule::and_op
                    | Rule::cmp_op
                    | Rule::suffix
                    | Rule::arrow_member
                    | Rule::dot_member
                    | Rule::index
                    | Rule::EOI
            )
        });
    let mut wanted: Vec<String> = match &detail {
        Some(a) => {
            let tokens: Vec<String> = a.expected_tokens().iter().map(|t| t.to_string()).collect();
            wanted_from_tokens(&tokens, after_word)
        }
        None => Vec::new(),
    };
    if wanted.is_empty() {
        wanted = wanted_from_rules(&positives);
    }
    if open.string.is_some() {
        wanted = vec!["`\"` to close the string".to_string()];
    } else if let (true, Some((at, c, close))) = (complete && at_end, closer) {
        let call = c == '(' && text[..at].trim_end().ends_with(is_word);
        wanted = if (c == '{' && dsl) || call {
            vec!["`,`".to_string(), format!("`{close}`")]
        } else {
            vec![format!("`{close}`")]
        };
    }
    let wanted = alternatives(&wanted);
    let mut d = if at_end {
        let end_of = if dsl {
            "the file".to_string()
        } else {
            format!("the {what}")
        };
        let span = last_token(text, pos)
            .map(|(s, e)| map.span(s, e))
            .unwrap_or_else(|| map.span(0, text.len()));
        let message = if wanted.is_empty() {
            format!("syntax error in {what}: unexpected end of {end_of}")
        } else {
            format!("syntax error in {what}: expected {wanted} before the end of {end_of}")
        };
        Diagnostic::error(span, message).label(format!("{end_of} ends after this"))
    } else {
        let (s, e) = token_at(text, pos);
        let found = &text[s..e];
        let found = if found.starts_with('"') {
            "a string".to_string()
        } else {
            format!("`{found}`")
        };
        // `kfunc: tcp_connect` (a space in a probe), or `name: x` (YAML).
        let spaced = unexpected_space && detail.is_none() && raw < pos;
        let kind_before = word_before_colon(&text[..raw]);
        let (span, message, label) = match kind_before {
            Some(k) if spaced && crate::resolve::PROBE_KINDS.contains(&k) => (
                map.span(raw, pos),
                format!("syntax error in {what}: white space inside the probe `{k}:…`"),
                "a probe is one word: no space after the `:`".to_string(),
            ),
            Some(k) if spaced => {
                let ks = raw - 1 - k.len();
                (
                    map.span(ks, raw),
                    format!("syntax error in {what}: expected {STATEMENT}, found `{k}:`"),
                    "not the start of a statement".to_string(),
                )
            }
            _ if wanted.is_empty() => (
                map.span(s, e),
                format!("syntax error in {what}: unexpected {found}"),
                "unexpected here".to_string(),
            ),
            _ => (
                map.span(s, e),
                format!("syntax error in {what}: expected {wanted}, found {found}"),
                if wanted == STATEMENT {
                    "not the start of a statement".to_string()
                } else if wanted.contains(STATEMENT) {
                    "unexpected here".to_string()
                } else {
                    format!("expected {wanted}")
                },
            ),
        };
        Diagnostic::error(span, message).label(label)
    };
    if let Some(q) = open.string {
        d = d.also(map.span(q, q + 1), "this string is not closed");
    } else if let (true, Some((at, c, _))) = (complete || at_end, closer) {
        d = d.also(map.span(at, at + 1), format!("this `{c}` is not closed"));
    }
    for n in hints(
        text,
        if at_end { pos } else { raw.min(pos) },
        pos,
        dsl,
        &wanted,
    ) {
        d = d.note(n);
    }
    // An operator of another language: the message names it.
    if let Some((os, oe, help)) = foreign_operator(text, pos) {
        d = Diagnostic::error(
            map.span(os, oe),
            format!(
                "syntax error in {what}: `{}` is not an operator here",
                &text[os..oe]
            ),
        )
        .label("unknown operator")
        .note(help);
    }
    // A bpftrace form: the message names it, not the bracket the grammar
    // wanted instead; the note says how tracectl writes it.
    if let Some(form) = d.notes.first().and_then(|n| bpftrace_form(n)) {
        d.message = format!("syntax error in {what}: {form} not tracectl syntax");
        d.label = "written as in bpftrace".to_string();
    }
    d
}

/// Operators of other languages, and what is written here instead.
const FOREIGN_OPERATORS: [(&str, &str); 9] = [
    ("===", "equality is `==`"),
    ("!==", "inequality is `!=`"),
    (
        "=~",
        "no regular expressions: `==` with a trailing `*` matches a prefix (`comm == \"ba*\"`)",
    ),
    (
        "!~",
        "no regular expressions: `!=` with a trailing `*` excludes a prefix (`comm != \"ba*\"`)",
    ),
    (
        "**",
        "no power operator: `<<` shifts (`1 << 10` is 1024), or write the constant",
    ),
    ("<>", "inequality is `!=`"),
    (":=", "fields are named with `=`: `{ NAME = EXPR }`"),
    ("^^", "logical exclusive or: `(a) != (b)` on conditions"),
    ("//", "integer division is `/`; comments start with `#`"),
];

/// The operator of another language (`===`, `=~`, `**`, …) the syntax
/// error at `pos` is in, if any: its range and what to write instead.
fn foreign_operator(text: &str, pos: usize) -> Option<(usize, usize, &'static str)> {
    let op_char = |c: char| "=!<>~*+-/%&|^:".contains(c);
    let b = text.as_bytes();
    let (mut s, mut e) = (pos.min(text.len()), pos.min(text.len()));
    while s > 0 && op_char(b[s - 1] as char) {
        s -= 1;
    }
    while e < b.len() && op_char(b[e] as char) {
        e += 1;
    }
    let run = &text[s..e];
    FOREIGN_OPERATORS
        .iter()
        .find_map(|(op, help)| run.find(op).map(|i| (s + i, s + i + op.len(), *help)))
}

/// "bpftrace's predicate `/…/` is" from a note "bpftrace's predicate
/// `/…/` is a filter …" (the subject of a [`super::bpftrace`] answer, and
/// its verb: "are" for a plural subject).
fn bpftrace_form(note: &str) -> Option<String> {
    let rest = note.strip_prefix("bpftrace's ")?;
    let (at, verb) = [
        (" is ", "is"),
        (" has ", "is"),
        (": ", "is"),
        (" are ", "are"),
        (" have ", "are"),
    ]
    .iter()
    .filter_map(|(sep, verb)| rest.find(sep).map(|i| (i, *verb)))
    .min()?;
    let subject = &rest[..at];
    Some(if subject.chars().count() > 40 {
        format!("this bpftrace form {verb}")
    } else {
        format!("bpftrace's {subject} {verb}")
    })
}

/// The word just before a `:` ending `text` (`kfunc` in `probe kfunc:`).
fn word_before_colon(text: &str) -> Option<&str> {
    let b = text.strip_suffix(':')?;
    let w = &b[super::trailing_word_start_by(b, is_word)..];
    (!w.is_empty()).then_some(w)
}

/// Help for the usual mistakes at a syntax error at `pos` (`raw` is where
/// pest stopped, before any white space); `wanted` is what was expected.
fn hints(text: &str, raw: usize, pos: usize, dsl: bool, wanted: &str) -> Vec<String> {
    let mut out = Vec::new();
    if pos >= text.len() {
        if let Some((s, e)) = last_token(text, pos) {
            match &text[s..e] {
                "format" if dsl => out.push("output formats: table, json, csv".to_string()),
                "time" if dsl => out.push("time modes: relative, absolute, none".to_string()),
                _ => {}
            }
        }
        return out;
    }
    out.extend(super::bpftrace::syntax_hints(text, pos, dsl));
    let rest = &text[pos..];
    let (s, e) = token_at(text, pos);
    let word = &text[s..e];
    let after = &text[e..];
    let before = text[..pos].trim_end();
    if rest.starts_with('=') && !rest.starts_with("==") && wanted.contains("an operator") {
        out.push("equality is `==`".to_string());
    }
    if rest.starts_with('\'') {
        out.push("strings are written in double quotes: \"...\"".to_string());
    }
    let operand_before = before.ends_with(|c: char| is_word(c) || c == ')' || c == '"');
    if operand_before && matches!(word, "<" | ">" | "<=" | ">=" | "==" | "!=") {
        let stmt = &text[text[..pos]
            .rfind(['{', '}', '\n', '('])
            .map_or(0, |i| i + 1)..pos];
        if ["<", ">", "==", "!="].iter().any(|op| stmt.contains(op)) {
            out.push("comparisons do not chain: write `100 < pid && pid < 200`".to_string());
        }
    }
    match word {
        "and" => out.push("`and` is written `&&`".to_string()),
        "or" => out.push("`or` is written `||`".to_string()),
        "not" => out.push("`not` is written `!`".to_string()),
        _ => {}
    }
    if !dsl || !word.starts_with(is_word) {
        return out;
    }
    let since_body = &text[text[..pos].rfind('}').unwrap_or(0)..pos];
    if word == "where" && wanted.contains("`{`") {
        out.push(
            "the filter comes after the fields: `probe KIND:TARGET { … } where …`".to_string(),
        );
    } else if word == "where" && since_body.contains("where") {
        out.push("a probe has one `where`: join conditions with `&&`".to_string());
    } else if let Some(k) =
        crate::diag::closest(word, KEYWORDS).filter(|k| *k != word && word.len() > 2)
    {
        out.push(format!("did you mean `{k}`?"));
    } else if word_before_colon(&text[..raw])
        .is_some_and(|k| !crate::resolve::PROBE_KINDS.contains(&k))
        || after.starts_with(": ")
        || after.starts_with(":\n")
    {
        out.push(format!(
            "{YAML_GIVEN}; DSL statements are `spec NAME`, `param …`, `probe KIND:TARGET {{ … }}` and `output …` (a YAML spec goes in a `.yaml` file)"
        ));
    } else if before.ends_with('}') && !KEYWORDS.contains(&word) && !after.starts_with(':') {
        out.push(
            "a filter follows the fields after `where`: `{ … } where comm == \"bash\"`".to_string(),
        );
    }
    out
}

fn rule_name(r: &Rule) -> Option<&'static str> {
    Some(match r {
        Rule::ident => "a name",
        Rule::int => "an integer",
        Rule::string => "a string",
        Rule::param => "a `$param`",
        Rule::expr
        | Rule::primary
        | Rule::postfix
        | Rule::unary
        | Rule::cmp
        | Rule::bitor
        | Rule::bitxor
        | Rule::bitand
        | Rule::shift
        | Rule::additive
        | Rule::term
        | Rule::prefix => "an expression",
        Rule::bitor_op
        | Rule::bitxor_op
        | Rule::bitand_op
        | Rule::shift_op
        | Rule::add_op
        | Rule::mul_op
        | Rule::prefix_op => "an operator",
        Rule::cmp_op => "a comparison",
        Rule::or_op => "`||`",
        Rule::and_op => "`&&`",
        Rule::suffix | Rule::arrow_member | Rule::dot_member | Rule::index => "`->`, `.` or `[`",
        Rule::EOI => "the end of the input",
        Rule::kw_as => "`as`",
        Rule::kw_where => "`where`",
        Rule::kw_by => "`by`",
        Rule::by_clause | Rule::key => "a key",
        Rule::opt_value => "a value",
        Rule::probe_name | Rule::probe_tok => "a probe such as `kfunc:tcp_connect`",
        Rule::fields | Rule::field => "a field",
        Rule::spec_name => "a spec name",
        Rule::literal => "a value",
        Rule::output_opt => "an output setting (`format …`, `interval …`, …)",
        Rule::version_stmt
        | Rule::spec_stmt
        | Rule::param_stmt
        | Rule::output_stmt
        | Rule::probe_stmt => STATEMENT,
        _ => return None,
    })
}

/// Makes pest record the literal tokens it tried ("expected `{`"), which
/// [`syntax_error`] reports. A process-wide pest setting, only ever turned
/// on; it costs little on inputs of [`super::MAX_SOURCE`] bytes.
pub fn enable_error_detail() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| pest::set_error_detail(true));
}

/// Parses one expression (a YAML field or filter value).
pub fn parse_expr(text: &str, map: &SpanMap, what: &str) -> Result<Expr, Diagnostic> {
    if text.trim().is_empty() {
        return Err(Diagnostic::error(map.whole, format!("empty {what}"))
            .label("expected an expression here"));
    }
    check_nesting(text, map)?;
    enable_error_detail();
    let mut pairs =
        Grammar::parse(Rule::expr_only, text).map_err(|e| syntax_error(e, text, map, what))?;
    let top = pairs.next().and_then(|p| p.into_inner().next());
    match top {
        Some(p) => ExprBuilder { map }.expr(p),
        None => Err(Diagnostic::error(map.whole, format!("empty {what}"))),
    }
}

/// Builds [`Expr`] trees from pest pairs.
pub struct ExprBuilder<'m> {
    /// Offset mapping.
    pub map: &'m SpanMap,
}

impl ExprBuilder<'_> {
    fn span(&self, p: &Pair<Rule>) -> Span {
        let (s, e) = pair_range(p);
        self.map.span(s, e)
    }

    /// Builds an `expr` (or any sub-rule of it).
    pub fn expr(&self, p: Pair<Rule>) -> Result<Expr, Diagnostic> {
        let span = self.span(&p);
        match p.as_rule() {
            Rule::expr | Rule::paren => {
                let inner = p.into_inner().next().ok_or_else(|| self.internal(span))?;
                let e = self.expr(inner)?;
                Ok(Expr { span, ..e })
            }
            Rule::or_expr
            | Rule::and_expr
            | Rule::bitor
            | Rule::bitxor
            | Rule::bitand
            | Rule::shift
            | Rule::additive
            | Rule::term => self.binary_chain(p),
            Rule::prefix => {
                let mut ops = Vec::new();
                let mut last = None;
                for c in p.into_inner() {
                    if c.as_rule() == Rule::prefix_op {
                        ops.push(if c.as_str() == "-" {
                            UnOp::Neg
                        } else {
                            UnOp::BitNot
                        });
                    } else {
                        last = Some(c);
                    }
                }
                let mut e = self.expr(last.ok_or_else(|| self.internal(span))?)?;
                for op in ops.into_iter().rev() {
                    e = match (op, e.kind) {
                        // `-5` is the literal -5 (as in v1), so that printing
                        // and re-parsing give the same tree.
                        (UnOp::Neg, ExprKind::Int(v)) if parse_int(&(-v).to_string()).is_some() => {
                            Expr {
                                kind: ExprKind::Int(-v),
                                span,
                            }
                        }
                        (op, kind) => Expr {
                            kind: ExprKind::Unary {
                                op,
                                expr: Box::new(Expr { kind, span: e.span }),
                            },
                            span,
                        },
                    };
                }
                Ok(e)
            }
            Rule::unary => {
                let mut nots = 0usize;
                let mut last = None;
                for c in p.into_inner() {
                    if c.as_rule() == Rule::not_op {
                        nots += 1;
                    } else {
                        last = Some(c);
                    }
                }
                let mut e = self.expr(last.ok_or_else(|| self.internal(span))?)?;
                for _ in 0..nots {
                    e = Expr {
                        kind: ExprKind::Not(Box::new(e)),
                        span,
                    };
                }
                Ok(e)
            }
            Rule::cmp => {
                let mut it = p.into_inner();
                let lhs = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
                match (it.next(), it.next()) {
                    (Some(op), Some(rhs)) => {
                        let op = match op.as_str() {
                            "==" => CmpOp::Eq,
                            "!=" => CmpOp::Ne,
                            "<" => CmpOp::Lt,
                            "<=" => CmpOp::Le,
                            ">" => CmpOp::Gt,
                            _ => CmpOp::Ge,
                        };
                        let rhs = self.expr(rhs)?;
                        Ok(Expr {
                            kind: ExprKind::Binary {
                                op: BinOp::Cmp(op),
                                lhs: Box::new(lhs),
                                rhs: Box::new(rhs),
                            },
                            span,
                        })
                    }
                    _ => Ok(lhs),
                }
            }
            Rule::postfix => {
                let mut it = p.into_inner();
                let mut e = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
                for suffix in it {
                    let s = suffix
                        .into_inner()
                        .next()
                        .ok_or_else(|| self.internal(span))?;
                    let end = self.span(&s);
                    let whole = e.span.to(end);
                    let rule = s.as_rule();
                    let arg = s.into_inner().next().ok_or_else(|| self.internal(span))?;
                    let arg_span = self.span(&arg);
                    e = match rule {
                        Rule::index => {
                            let v = self.int(&arg)?;
                            let index = u64::try_from(v).map_err(|_| {
                                Diagnostic::error(arg_span, "array index must be 0 or more")
                            })?;
                            Expr {
                                kind: ExprKind::Index {
                                    base: Box::new(e),
                                    index: Spanned::new(index, arg_span),
                                },
                                span: whole,
                            }
                        }
                        r => Expr {
                            kind: ExprKind::Member {
                                base: Box::new(e),
                                member: Spanned::new(arg.as_str().to_string(), arg_span),
                                arrow: r == Rule::arrow_member,
                            },
                            span: whole,
                        },
                    };
                }
                Ok(e)
            }
            Rule::primary => {
                let inner = p.into_inner().next().ok_or_else(|| self.internal(span))?;
                self.expr(inner)
            }
            Rule::call => {
                let mut it = p.into_inner();
                let f = it.next().ok_or_else(|| self.internal(span))?;
                let func = Spanned::new(f.as_str().to_string(), self.span(&f));
                let args = it.map(|a| self.expr(a)).collect::<Result<Vec<_>, _>>()?;
                Ok(Expr {
                    kind: ExprKind::Call { func, args },
                    span,
                })
            }
            Rule::param => {
                let name = p.as_str()[1..].to_string();
                Ok(Expr {
                    kind: ExprKind::Param(name),
                    span,
                })
            }
            Rule::int => Ok(Expr {
                kind: ExprKind::Int(self.int(&p)?),
                span,
            }),
            Rule::string => Ok(Expr {
                kind: ExprKind::Str(self.string(&p)?),
                span,
            }),
            Rule::ident => Ok(Expr {
                kind: ExprKind::Ident(p.as_str().to_string()),
                span,
            }),
            _ => Err(self.internal(span)),
        }
    }

    fn binary_chain(&self, p: Pair<Rule>) -> Result<Expr, Diagnostic> {
        let span = self.span(&p);
        let mut it = p.into_inner();
        let mut lhs = self.expr(it.next().ok_or_else(|| self.internal(span))?)?;
        while let (Some(op), Some(rhs)) = (it.next(), it.next()) {
            let op = match op.as_rule() {
                Rule::or_op => BinOp::Or,
                Rule::and_op => BinOp::And,
                _ => BinOp::Arith(
                    ArithOp::parse(op.as_str().trim()).ok_or_else(|| self.internal(span))?,
                ),
            };
            let rhs = self.expr(rhs)?;
            let s = lhs.span.to(rhs.span);
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span: s,
            };
        }
        Ok(lhs)
    }

    /// Parses an `int` token.
    pub fn int(&self, p: &Pair<Rule>) -> Result<i128, Diagnostic> {
        parse_int(p.as_str()).ok_or_else(|| {
            Diagnostic::error(self.span(p), "integer literal out of range")
                .label("does not fit in 64 bits")
        })
    }

    /// Parses a `string` token (with escapes).
    pub fn string(&self, p: &Pair<Rule>) -> Result<String, Diagnostic> {
        let raw = p.as_str();
        let inner = &raw[1..raw.len().saturating_sub(1).max(1)];
        unescape(inner).map_err(|(off, msg)| {
            // The backslash and the character after it.
            let escaped = inner[off + 1..].chars().next().map_or(0, char::len_utf8);
            let start = p.as_span().start() + 1 + off;
            Diagnostic::error(self.map.span(start, start + 1 + escaped), msg).label("here")
        })
    }

    fn internal(&self, span: Span) -> Diagnostic {
        Diagnostic::error(span, "internal error: unexpected parse tree")
    }
}

/// Parses a decimal or `0x` hexadecimal integer with optional `-`, within
/// the union of the i64 and u64 ranges.
pub fn parse_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let v = if let Some(h) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(h, 16).ok()?
    } else {
        digits.parse::<u64>().ok()?
    } as i128;
    let v = if neg { -v } else { v };
    (v >= i64::MIN as i128).then_some(v)
}

/// Resolves `\" \\ \n \t \r \0 \xNN` escapes; an error carries the byte
/// offset of the bad escape.
pub fn unescape(s: &str) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(s.len());
    let mut it = s.char_indices();
    while let Some((i, c)) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 't')) => out.push('\t'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, '0')) => out.push('\0'),
            Some((_, 'x')) => {
                let h: String = it.by_ref().take(2).map(|(_, c)| c).collect();
                match u8::from_str_radix(&h, 16) {
                    Ok(b) if b.is_ascii() => out.push(b as char),
                    _ => return Err((i, "`\\x` needs two hex digits below 80".into())),
                }
            }
            Some((_, o)) => return Err((i, format!("unknown escape `\\{o}`"))),
            None => return Err((i, "a string cannot end with `\\`".into())),
        }
    }
    Ok(out)
}

/// Escapes a string for the DSL / expression syntax (inverse of [`unescape`]).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Prints an expression in canonical form (minimal parentheses).
pub fn print_expr(e: &Expr) -> String {
    let mut s = String::new();
    print_into(e, 0, &mut s);
    s
}

/// Printing precedence of a prefix operator's operand: any binary
/// expression under `!`, `-` or `~` is parenthesised.
const UNARY: u8 = 11;
/// Printing precedence of the base of `->`, `.` and `[]`.
const POSTFIX: u8 = 12;

fn print_into(e: &Expr, min_prec: u8, out: &mut String) {
    match &e.kind {
        ExprKind::Int(v) => out.push_str(&v.to_string()),
        ExprKind::Str(s) => out.push_str(&escape(s)),
        ExprKind::Ident(n) => out.push_str(n),
        ExprKind::Param(n) => {
            out.push('$');
            out.push_str(n);
        }
        ExprKind::Call { func, args } => {
            out.push_str(&func.value);
            out.push('(');
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                print_into(a, 0, out);
            }
            out.push(')');
        }
        ExprKind::Member {
            base,
            member,
            arrow,
        } => {
            print_into(base, POSTFIX, out);
            out.push_str(if *arrow { "->" } else { "." });
            out.push_str(&member.value);
        }
        ExprKind::Index { base, index } => {
            print_into(base, POSTFIX, out);
            out.push_str(&format!("[{}]", index.value));
        }
        ExprKind::Not(inner) => {
            out.push('!');
            print_into(inner, UNARY, out);
        }
        ExprKind::Unary { op, expr } => {
            out.push(match op {
                UnOp::Neg => '-',
                UnOp::BitNot => '~',
            });
            // `- -x`, not `--x`; `-(5)` stays an operator on a literal.
            let literal = matches!(expr.kind, ExprKind::Int(_));
            if literal {
                out.push('(');
            }
            print_into(expr, UNARY, out);
            if literal {
                out.push(')');
            }
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let p = op.precedence();
            let paren = p < min_prec;
            if paren {
                out.push('(');
            }
            // Comparisons do not chain: both sides bind tighter.
            let (lp, rp) = match op {
                BinOp::Cmp(_) => (p + 1, p + 1),
                _ => (p, p + 1),
            };
            print_into(lhs, lp, out);
            out.push(' ');
            out.push_str(op.as_str());
            out.push(' ');
            print_into(rhs, rp, out);
            if paren {
                out.push(')');
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Expr {
        parse_expr(s, &SpanMap::verbatim(0, s.len()), "test").unwrap()
    }

    #[test]
    fn precedence_and_printing() {
        let e = p(r#"comm != "sshd" && ($port == 0 || dport == $port)"#);
        assert_eq!(
            print_expr(&e),
            r#"comm != "sshd" && ($port == 0 || dport == $port)"#
        );
        let e = p("a || b && !c");
        assert_eq!(print_expr(&e), "a || b && !c");
        let e = p("(a || b) && c");
        assert_eq!(print_expr(&e), "(a || b) && c");
    }

    #[test]
    fn member_paths_and_calls() {
        let e = p("ntohs(sk->__sk_common.skc_dport)");
        assert_eq!(print_expr(&e), "ntohs(sk->__sk_common.skc_dport)");
        let ExprKind::Call { func, args } = &e.kind else {
            panic!("not a call")
        };
        assert_eq!(func.value, "ntohs");
        assert_eq!(func.span, Span::new(0, 5));
        let ExprKind::Member { member, arrow, .. } = &args[0].kind else {
            panic!("not a member")
        };
        assert_eq!(member.value, "skc_dport");
        assert!(!arrow);
        assert_eq!(member.span, Span::new(22, 31));
        assert_eq!(print_expr(&p("a->b[2].c")), "a->b[2].c");
    }

    #[test]
    fn literals() {
        assert_eq!(p("0x10").kind, ExprKind::Int(16));
        assert_eq!(p("-5").kind, ExprKind::Int(-5));
        assert_eq!(p(r#""a\"b\n""#).kind, ExprKind::Str("a\"b\n".into()));
        assert!(parse_expr("99999999999999999999999", &SpanMap::verbatim(0, 23), "t").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let s = "(".repeat(100_000) + "a" + &")".repeat(100_000);
        let err = parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").unwrap_err();
        assert!(err.message.contains("nested deeper"));
        let s = "!".repeat(100_000) + "a";
        assert!(parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").is_err());
        let s = "a".to_string() + &"||a".repeat(100_000);
        assert!(parse_expr(&s, &SpanMap::verbatim(0, s.len()), "filter").is_err());
    }

    #[test]
    fn syntax_errors_are_located() {
        // At the end: the last token, and what was expected.
        let err = parse_expr("pid == ", &SpanMap::verbatim(10, 7), "filter").unwrap_err();
        assert_eq!(err.span, Span::new(14, 16));
        assert!(
            err.message
                .contains("expected an expression before the end of the filter"),
            "{}",
            err.message
        );
        // In the middle: the token found, and what was expected instead.
        let err = parse_expr("pid = 1", &SpanMap::verbatim(0, 7), "filter").unwrap_err();
        assert_eq!(err.span, Span::new(4, 5));
        assert!(err.notes.iter().any(|n| n.contains("`==`")), "{err:?}");
    }
}
