//! The table format: a header row, then aligned columns.
//!
//! Columns are left-aligned (as most bcc tools print them) and separated by a
//! single space. Widths are fixed per column from its decoder, so lines stream
//! without buffering; a column is widened to its header when the header is
//! longer. A value longer than its column is never truncated: it pushes the
//! rest of its line right. The last column is never padded.
//!
//! | column | header | width |
//! |---|---|---|
//! | relative time | `TIME(s)` | [`TIME_REL_WIDTH`] (14) |
//! | absolute time | `TIME` | [`TIME_ABS_WIDTH`] (30) |
//! | probe (plans with more than one probe) | `PROBE` | longest probe name |
//! | fields | name upper-cased (`pid` → `PID`) | [`decoder_width`] |
//!
//! Cell text is the value's text form ([`Value::write_text`]); strings are
//! escaped by [`push_escaped`] so that no value can break a line or the
//! terminal; a column the record's probe lacks prints `-`.

use tracectl_compiler::plan::{Decode, Plan, TimeMode};

use super::{Clock, Columns};
use crate::decode::{Record, Value};

/// Width of the relative time column (`TIME(s)`), as in bcc tools.
pub const TIME_REL_WIDTH: usize = 14;
/// Width of the absolute time column: `2026-11-25T12:00:01.123456789Z`.
pub const TIME_ABS_WIDTH: usize = 30;
/// Text printed in a column that the record's probe does not have.
pub const MISSING: &str = "-";

/// Minimum width of a field column from its decoder and slot size (the
/// header may widen it):
///
/// | decoder | width |
/// |---|---|
/// | int, 1 byte | 4 |
/// | int, 2 bytes | 6 |
/// | int, 4 bytes | 7 (a pid, like bcc's `%-7d`) |
/// | int, 8 bytes (or other) | 10 |
/// | bool | 5 |
/// | pointer | 18 (`0x` + 16 digits) |
/// | hex | 10 |
/// | str | 16 (a `comm`) |
/// | ip4 | 15 |
/// | ip6 | 39 |
/// | bytes | 2 × slot size (exact) |
/// | int array | 16 |
pub fn decoder_width(decode: Decode, slot_size: u32) -> usize {
    match decode {
        Decode::Int { size: 1, .. } => 4,
        Decode::Int { size: 2, .. } => 6,
        Decode::Int { size: 4, .. } => 7,
        Decode::Int { .. } => 10,
        Decode::Bool => 5,
        Decode::Pointer => 18,
        Decode::Hex => 10,
        Decode::Str => 16,
        Decode::Ip4 => 15,
        Decode::Ip6 => 39,
        Decode::Bytes => 2 * slot_size as usize,
        Decode::IntArray { .. } => 16,
        Decode::Joined => 32,
        Decode::Name { .. } | Decode::Container => 12,
        Decode::Enum { .. } => 16,
        Decode::Ksym | Decode::Usym { .. } => 24,
        Decode::CgroupPath => 32,
        // The innermost frame's function; the frames follow the row.
        Decode::Kstack { .. } | Decode::Ustack { .. } => 24,
    }
}

/// Table state: the width of every cell and the escaped probe names.
pub(crate) struct Table {
    time: bool,
    /// Escaped probe names, when the table has a `PROBE` column.
    probe_names: Option<Vec<Vec<u8>>>,
    /// Width of every cell: time, probe, then the field columns.
    widths: Vec<usize>,
    headers: Vec<Vec<u8>>,
}

impl Table {
    pub(crate) fn new(plan: &Plan, columns: &Columns, time: TimeMode) -> Table {
        let mut widths = Vec::new();
        let mut headers: Vec<Vec<u8>> = Vec::new();
        let mut add = |header: &str, min: usize| {
            let mut h = Vec::new();
            push_escaped(&mut h, header);
            widths.push(min.max(text_width(&h)));
            headers.push(h);
        };
        match time {
            TimeMode::Relative => add("TIME(s)", TIME_REL_WIDTH),
            TimeMode::Absolute => add("TIME", TIME_ABS_WIDTH),
            TimeMode::None => {}
        }
        let probe_names = (plan.probes.len() > 1).then(|| {
            let names: Vec<Vec<u8>> = plan
                .probes
                .iter()
                .map(|p| {
                    let mut n = Vec::new();
                    push_escaped(&mut n, &p.name);
                    n
                })
                .collect();
            let w = names.iter().map(|n| text_width(n)).max().unwrap_or(0);
            add("PROBE", w);
            names
        });
        for (col, name) in columns.names.iter().enumerate() {
            let min = plan
                .probes
                .iter()
                .zip(&columns.map)
                .filter_map(|(p, m)| m[col].map(|f| &p.fields[f]))
                .map(|f| decoder_width(f.decode, f.size))
                .max()
                .unwrap_or(0);
            add(&name.to_uppercase(), min);
        }
        Table {
            time: time != TimeMode::None,
            probe_names,
            widths,
            headers,
        }
    }

    /// Appends the header line.
    pub(crate) fn header(&self, line: &mut Vec<u8>) {
        let mut cells = Cells::new(line, &self.widths);
        for h in &self.headers {
            cells.start();
            cells.line.extend_from_slice(h);
            cells.end();
        }
        line.push(b'\n');
    }

    /// Appends one record's line; false if its probe is unknown.
    pub(crate) fn row(
        &self,
        rec: &Record<'_>,
        columns: &Columns,
        clock: &mut Clock,
        line: &mut Vec<u8>,
    ) -> bool {
        let Some(map) = columns.map.get(rec.probe) else {
            return false;
        };
        let mut cells = Cells::new(line, &self.widths);
        if self.time {
            cells.start();
            clock.write(rec.ts_ns, cells.line);
            cells.end();
        }
        if let Some(names) = &self.probe_names {
            cells.start();
            cells.line.extend_from_slice(&names[rec.probe]);
            cells.end();
        }
        for field in map {
            cells.start();
            match field.and_then(|f| rec.values.get(f)) {
                Some(Value::Str(s)) => push_escaped(cells.line, s),
                Some(Value::Stack(s)) => push_escaped(cells.line, &s.innermost()),
                Some(v) => v.write_text(cells.line),
                None => cells.line.extend_from_slice(MISSING.as_bytes()),
            }
            cells.end();
        }
        line.push(b'\n');
        push_stacks(line, &rec.values);
        true
    }
}

/// Appends the frames of every stack among `values`, one per line,
/// indented under the row, with a `--` line between two stacks (a stack
/// without frames has only its cell, which says why).
pub(crate) fn push_stacks(line: &mut Vec<u8>, values: &[Value<'_>]) {
    let mut first = true;
    for v in values {
        let Value::Stack(s) = v else { continue };
        if s.frames.is_empty() {
            continue;
        }
        if !first {
            line.extend_from_slice(b"        --\n");
        }
        first = false;
        for f in &s.frames {
            let f = f.to_string();
            line.extend_from_slice(b"        ");
            push_escaped(line, &f);
            line.push(b'\n');
        }
    }
}

/// Writes cells separated by one space, padding all but the last.
struct Cells<'l, 'w> {
    line: &'l mut Vec<u8>,
    widths: &'w [usize],
    i: usize,
    start: usize,
}

impl<'l, 'w> Cells<'l, 'w> {
    fn new(line: &'l mut Vec<u8>, widths: &'w [usize]) -> Self {
        Cells {
            line,
            widths,
            i: 0,
            start: 0,
        }
    }

    fn start(&mut self) {
        if self.i > 0 {
            self.line.push(b' ');
        }
        self.start = self.line.len();
    }

    fn end(&mut self) {
        if self.i + 1 < self.widths.len() {
            let used = text_width(&self.line[self.start..]);
            let pad = self.widths[self.i].saturating_sub(used);
            self.line.resize(self.line.len() + pad, b' ');
        }
        self.i += 1;
    }
}

/// Display width of UTF-8 text, counted in characters (wide CJK or emoji
/// characters count as one).
fn text_width(text: &[u8]) -> usize {
    text.iter().filter(|&&b| b & 0xc0 != 0x80).count()
}

/// Appends `s` escaped for the table: newline, carriage return and tab as
/// `\n`, `\r`, `\t`, every other control character (C0, DEL, C1) as `\xNN`.
/// Other text, including backslashes, is written unchanged.
pub fn push_escaped(buf: &mut Vec<u8>, s: &str) {
    // Fast path: no C0 control, DEL, or C1 control (UTF-8 lead byte 0xc2).
    if !s.bytes().any(|b| b < 0x20 || b == 0x7f || b == 0xc2) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut utf8 = [0u8; 4];
    for c in s.chars() {
        match c {
            '\n' => buf.extend_from_slice(b"\\n"),
            '\r' => buf.extend_from_slice(b"\\r"),
            '\t' => buf.extend_from_slice(b"\\t"),
            c if c.is_control() => {
                // Control characters are all below U+0100.
                let n = c as u32 as u8;
                buf.extend_from_slice(b"\\x");
                buf.push(HEX[(n >> 4) as usize]);
                buf.push(HEX[(n & 0xf) as usize]);
            }
            c => buf.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut b = Vec::new();
        push_escaped(&mut b, s);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn escaping() {
        assert_eq!(esc("/tmp/x y"), "/tmp/x y");
        assert_eq!(esc("a\tb\nc\rd"), "a\\tb\\nc\\rd");
        assert_eq!(esc("\u{1b}[31m\u{0}\u{7f}"), "\\x1b[31m\\x00\\x7f");
        assert_eq!(esc("\u{9b}x\u{a9}é"), "\\x9bx\u{a9}é");
        assert_eq!(esc("back\\slash"), "back\\slash");
    }

    /// Each kind of control character alone must leave the fast path (a
    /// string with just one of them is escaped too).
    #[test]
    fn one_control_character_alone_is_escaped() {
        assert_eq!(esc("a\u{1}b"), "a\\x01b");
        assert_eq!(esc("\u{1f}"), "\\x1f");
        assert_eq!(esc("a\u{7f}"), "a\\x7f");
        assert_eq!(esc("\u{7f}"), "\\x7f");
        assert_eq!(esc("\u{85}z"), "\\x85z");
        assert_eq!(esc("\u{9f}"), "\\x9f");
        assert_eq!(esc(" ~\u{a0}"), " ~\u{a0}");
    }

    #[test]
    fn widths() {
        assert_eq!(text_width("héllo".as_bytes()), 5);
        assert_eq!(
            decoder_width(
                Decode::Int {
                    size: 4,
                    signed: false
                },
                8
            ),
            7
        );
        assert_eq!(decoder_width(Decode::Bytes, 6), 12);
    }
}
