//! RFC 4180 CSV: a header row, then one row per record.
//!
//! Columns: `time` (unless the time mode is none), `probe`, then the union of
//! the probes' field names. A cell is quoted when it contains `,`, `"`, CR or
//! LF, or starts or ends with a space or tab; a quote inside a quoted cell is
//! doubled. Strings are the lossy UTF-8 text, otherwise unescaped (a newline
//! stays a newline, inside quotes). A column the record's probe lacks is an
//! empty cell.

use tracectl_compiler::plan::{Plan, TimeMode};

use super::{Clock, Columns};
use crate::decode::Record;

/// CSV state.
pub(crate) struct Csv {
    /// Line terminator (LF by default, CRLF on request).
    pub(crate) line_end: &'static [u8],
    /// Probe names, already quoted if needed.
    probe_names: Vec<Vec<u8>>,
}

impl Csv {
    pub(crate) fn new(plan: &Plan, line_end: &'static [u8]) -> Csv {
        let probe_names = plan
            .probes
            .iter()
            .map(|p| {
                let mut n = p.name.as_bytes().to_vec();
                quote_from(&mut n, 0);
                n
            })
            .collect();
        Csv {
            line_end,
            probe_names,
        }
    }

    /// Appends the header row.
    pub(crate) fn header(&mut self, columns: &Columns, time: TimeMode, line: &mut Vec<u8>) {
        if time != TimeMode::None {
            line.extend_from_slice(b"time,");
        }
        line.extend_from_slice(b"probe");
        for name in &columns.names {
            line.push(b',');
            let start = line.len();
            line.extend_from_slice(name.as_bytes());
            quote_from(line, start);
        }
        line.extend_from_slice(self.line_end);
    }

    /// Appends one record's row; false if its probe is unknown.
    pub(crate) fn row(
        &mut self,
        rec: &Record<'_>,
        columns: &Columns,
        clock: &mut Clock,
        line: &mut Vec<u8>,
    ) -> bool {
        let (Some(map), Some(name)) = (columns.map.get(rec.probe), self.probe_names.get(rec.probe))
        else {
            return false;
        };
        if clock.mode != TimeMode::None {
            clock.write(rec.ts_ns, line);
            line.push(b',');
        }
        line.extend_from_slice(name);
        for field in map {
            line.push(b',');
            if let Some(v) = field.and_then(|f| rec.values.get(f)) {
                let start = line.len();
                v.write_text(line);
                quote_from(line, start);
            }
        }
        line.extend_from_slice(self.line_end);
        true
    }
}

/// Quotes the CSV cell `buf[start..]` in place when it contains `,`, `"`,
/// CR or LF, or starts or ends with a space or tab (the event CSV's rule),
/// doubling the quotes inside. No allocation.
pub(super) fn quote_from(buf: &mut Vec<u8>, start: usize) {
    let cell = &buf[start..];
    let edge_space = |b: Option<&u8>| matches!(b, Some(b' ' | b'\t'));
    let needs = cell
        .iter()
        .any(|&b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || edge_space(cell.first())
        || edge_space(cell.last());
    if !needs {
        return;
    }
    let quotes = cell.iter().filter(|&&b| b == b'"').count();
    let end = buf.len();
    buf.resize(end + quotes + 2, 0);
    // Move the cell right, back to front, doubling quotes.
    let mut w = buf.len() - 1;
    buf[w] = b'"';
    for r in (start..end).rev() {
        let b = buf[r];
        w -= 1;
        buf[w] = b;
        if b == b'"' {
            w -= 1;
            buf[w] = b'"';
        }
    }
    w -= 1;
    buf[w] = b'"';
    debug_assert_eq!(w, start);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> String {
        let mut b = b"x,".to_vec();
        b.extend_from_slice(s.as_bytes());
        quote_from(&mut b, 2);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn quoting() {
        assert_eq!(q("plain"), "x,plain");
        assert_eq!(q(""), "x,");
        assert_eq!(q("a,b"), "x,\"a,b\"");
        assert_eq!(q("say \"hi\""), "x,\"say \"\"hi\"\"\"");
        assert_eq!(q("l1\nl2"), "x,\"l1\nl2\"");
        assert_eq!(q("cr\r"), "x,\"cr\r\"");
        assert_eq!(q(" lead"), "x,\" lead\"");
        assert_eq!(q("trail\t"), "x,\"trail\t\"");
        assert_eq!(q("in side"), "x,in side");
    }
}
