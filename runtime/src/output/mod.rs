//! Printing decoded records as a table, JSON Lines or CSV.
//!
//! A [`Writer`] is built from the plan plus the effective format and time mode
//! (the command line may override the spec's `output:` section) and streams
//! one line per [`Record`]: nothing is buffered beyond the current line and an
//! internal [`BufWriter`], so output starts with the first event. The caller
//! calls [`Writer::flush`] after each drained batch of events (so `tail -f`
//! users see them promptly) and [`Writer::finish`] at the end.
//!
//! # Time
//!
//! * [`TimeMode::Relative`]: seconds since the **first record written**, with
//!   9 decimals (`0.000000000`, `1.500000000`), as in the bcc tools. Records
//!   from different CPUs can reach the ring buffer slightly out of order, so a
//!   record older than the first one prints a negative time (`-0.000001000`)
//!   rather than a wrapped-around one.
//! * [`TimeMode::Absolute`]: wall-clock UTC, RFC 3339 with nanoseconds,
//!   always 30 characters: `2026-11-25T12:00:01.123456789Z`. The event's
//!   monotonic timestamp is shifted by `CLOCK_REALTIME - CLOCK_MONOTONIC`
//!   measured once when the writer is created ([`realtime_offset_ns`]), so a
//!   later clock step (NTP, `date -s`) does not reorder events.
//! * [`TimeMode::None`]: no time column / key.
//!
//! # Formats
//!
//! * **JSON Lines** ([`Format::Json`]): one object per record: `"time"` first
//!   unless the time mode is none (relative: a JSON number with exactly 9
//!   decimals, absolute: a string), then `"probe"` (the probe's name), then
//!   the fields in spec order. See [`Value::write_json`] for the value types.
//!   Strings are the lossy UTF-8 text (invalid bytes become U+FFFD).
//! * **CSV** ([`Format::Csv`]): RFC 4180. A header row (`time` unless the
//!   time mode is none, `probe`, then the field names), then one row per
//!   record. A cell is quoted when it contains `,`, `"`, CR or LF, or starts
//!   or ends with a space or tab; quotes inside are doubled. Lines end with LF
//!   ([`CSV_LINE_END`]) unless [`Writer::with_csv_crlf`] asks for CRLF.
//! * **Table** ([`Format::Table`]): a header row, then one line per record,
//!   columns left-aligned and separated by one space; the last column is never
//!   padded (no trailing spaces). See [the table module](self::table) for the
//!   column widths. Strings are escaped so that a value never breaks a line:
//!   `\n`, `\r`, `\t`, and `\xNN` for the other control characters.
//!
//! With more than one probe, table and CSV columns are the union of the
//! probes' field names in first-seen order, and a record lacking a column
//! prints `-` (table) or an empty cell (CSV) there. The table also gains a
//! `PROBE` column after the time (CSV always has its `probe` column).
//!
//! [The flame module](self::flame) draws weighted call stacks as an
//! interactive SVG flame graph; [the folded module](self::folded) writes
//! them as folded lines (`-o folded`).

pub mod agg;
mod csv;
pub mod flame;
pub mod folded;
pub mod hist;
mod json;
pub mod prometheus;
pub mod table;

use std::io::{self, BufWriter, Write};

use tracectl_compiler::plan::{Format, Plan, TimeMode};

use crate::decode::{push_u64, Record};

#[cfg(doc)]
use crate::decode::Value;

/// Default CSV line ending: LF. RFC 4180 says CRLF, but LF is what Unix tools
/// expect and every CSV reader accepts; see [`Writer::with_csv_crlf`].
pub const CSV_LINE_END: &[u8] = b"\n";

/// Capacity of the writer's internal buffer.
const BUF_CAPACITY: usize = 64 * 1024;

/// Streams records to an output in one of the three formats.
pub struct Writer {
    out: BufWriter<Box<dyn Write>>,
    clock: Clock,
    body: Body,
    /// Shared field-name union for table and CSV.
    columns: Columns,
    /// The line being built; reused for every record.
    line: Vec<u8>,
    header_done: bool,
}

/// Format-specific state.
enum Body {
    Table(table::Table),
    Json(json::Json),
    Csv(csv::Csv),
}

/// The table/CSV columns: the union of the probes' field names.
pub(crate) struct Columns {
    /// Field names in first-seen order.
    pub(crate) names: Vec<String>,
    /// Per probe, per column: the index of the probe's field shown there.
    pub(crate) map: Vec<Vec<Option<usize>>>,
}

impl Columns {
    fn new(plan: &Plan) -> Columns {
        let mut names: Vec<String> = Vec::new();
        let mut per_probe = Vec::with_capacity(plan.probes.len());
        for p in &plan.probes {
            let mut cols = Vec::with_capacity(p.fields.len());
            for f in &p.fields {
                let col = match names.iter().position(|n| *n == f.name) {
                    Some(c) => c,
                    None => {
                        names.push(f.name.clone());
                        names.len() - 1
                    }
                };
                cols.push(col);
            }
            per_probe.push(cols);
        }
        let map = per_probe
            .into_iter()
            .map(|cols| {
                let mut m = vec![None; names.len()];
                for (field, col) in cols.into_iter().enumerate() {
                    m[col].get_or_insert(field);
                }
                m
            })
            .collect();
        Columns { names, map }
    }
}

/// Turns monotonic timestamps into the time column's text.
pub(crate) struct Clock {
    pub(crate) mode: TimeMode,
    first: Option<u64>,
    offset_ns: i128,
}

impl Clock {
    /// Appends the time of `ts_ns` (relative seconds or RFC 3339 text,
    /// unquoted); nothing in [`TimeMode::None`].
    pub(crate) fn write(&mut self, ts_ns: u64, buf: &mut Vec<u8>) {
        match self.mode {
            TimeMode::Relative => {
                let first = *self.first.get_or_insert(ts_ns);
                write_seconds(buf, i128::from(ts_ns) - i128::from(first));
            }
            TimeMode::Absolute => write_rfc3339(buf, i128::from(ts_ns) + self.offset_ns),
            TimeMode::None => {}
        }
    }
}

impl Writer {
    /// A writer for `plan`'s records in `format`, with the time column
    /// `time`, writing to `out`.
    ///
    /// In [`TimeMode::Absolute`] this measures the realtime − monotonic clock
    /// offset now ([`realtime_offset_ns`]). Nothing is written until the
    /// header or the first record.
    pub fn new(plan: &Plan, format: Format, time: TimeMode, out: Box<dyn Write>) -> Writer {
        let offset_ns = if time == TimeMode::Absolute {
            realtime_offset_ns()
        } else {
            0
        };
        let columns = Columns::new(plan);
        let body = match format {
            // Folded output is for aggregations only (the compiler and `run`
            // refuse it for records).
            Format::Table | Format::Folded => Body::Table(table::Table::new(plan, &columns, time)),
            Format::Json => Body::Json(json::Json::new(plan)),
            Format::Csv => Body::Csv(csv::Csv::new(plan, CSV_LINE_END)),
        };
        Writer {
            out: BufWriter::with_capacity(BUF_CAPACITY, out),
            clock: Clock {
                mode: time,
                first: None,
                offset_ns,
            },
            body,
            columns,
            line: Vec::with_capacity(256),
            header_done: false,
        }
    }

    /// Replaces the measured `CLOCK_REALTIME - CLOCK_MONOTONIC` offset (in
    /// nanoseconds) used by [`TimeMode::Absolute`]; for replaying recorded
    /// events and for tests.
    pub fn with_realtime_offset(mut self, offset_ns: i128) -> Writer {
        self.clock.offset_ns = offset_ns;
        self
    }

    /// Ends CSV lines with CRLF (strict RFC 4180) instead of LF. No effect on
    /// the other formats.
    pub fn with_csv_crlf(mut self, crlf: bool) -> Writer {
        if let Body::Csv(c) = &mut self.body {
            c.line_end = if crlf { b"\r\n" } else { CSV_LINE_END };
        }
        self
    }

    /// Writes the header row (table and CSV; nothing for JSON) if it was not
    /// written yet. Called implicitly by [`Writer::write_record`] and
    /// [`Writer::finish`]; call it (then [`Writer::flush`]) at startup to show
    /// the header before the first event arrives.
    pub fn write_header(&mut self) -> io::Result<()> {
        if self.header_done {
            return Ok(());
        }
        self.header_done = true;
        self.line.clear();
        match &mut self.body {
            Body::Table(t) => t.header(&mut self.line),
            Body::Csv(c) => c.header(&self.columns, self.clock.mode, &mut self.line),
            Body::Json(_) => {}
        }
        self.out.write_all(&self.line)
    }

    /// Writes one record as one line.
    ///
    /// Fails with [`io::ErrorKind::InvalidInput`] if the record's probe index
    /// is not one of the plan's (a record decoded with another plan).
    pub fn write_record(&mut self, rec: &Record<'_>) -> io::Result<()> {
        self.write_header()?;
        self.line.clear();
        let ok = match &mut self.body {
            Body::Table(t) => t.row(rec, &self.columns, &mut self.clock, &mut self.line),
            Body::Json(j) => j.row(rec, &mut self.clock, &mut self.line),
            Body::Csv(c) => c.row(rec, &self.columns, &mut self.clock, &mut self.line),
        };
        if !ok {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("record for probe {} which the plan lacks", rec.probe),
            ));
        }
        self.out.write_all(&self.line)
    }

    /// Writes bytes as they are (an aggregation print, see [`agg`]).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.out.write_all(bytes)
    }

    /// Flushes buffered lines to the output.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Ends the output: writes the header if no record came (so an empty
    /// table or CSV still has its header row) and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        self.write_header()?;
        self.out.flush()
    }
}

/// Appends a signed nanosecond duration as seconds with 9 decimals
/// (`1.500000000`, `-0.000001000`).
pub(crate) fn write_seconds(buf: &mut Vec<u8>, ns: i128) {
    if ns < 0 {
        buf.push(b'-');
    }
    let ns = ns.unsigned_abs();
    push_u64(buf, (ns / 1_000_000_000) as u64);
    buf.push(b'.');
    push_padded(buf, (ns % 1_000_000_000) as u64, 9);
}

/// Appends `v` zero-padded to at least `width` digits.
fn push_padded(buf: &mut Vec<u8>, v: u64, width: usize) {
    let start = buf.len();
    push_u64(buf, v);
    let len = buf.len() - start;
    if len < width {
        let pad = width - len;
        buf.splice(start..start, std::iter::repeat_n(b'0', pad));
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian `(year, month,
/// day)` (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Appends nanoseconds since the Unix epoch as RFC 3339 UTC with nanoseconds:
/// `2026-11-25T12:00:01.123456789Z`.
pub fn write_rfc3339(buf: &mut Vec<u8>, epoch_ns: i128) {
    let secs = epoch_ns.div_euclid(1_000_000_000);
    let nanos = epoch_ns.rem_euclid(1_000_000_000) as u64;
    let days = secs.div_euclid(86_400) as i64;
    let sod = secs.rem_euclid(86_400) as u64;
    let (year, month, day) = civil_from_days(days);
    if year < 0 {
        buf.push(b'-');
    }
    push_padded(buf, year.unsigned_abs(), 4);
    for (sep, v, w) in [
        (b'-', u64::from(month), 2),
        (b'-', u64::from(day), 2),
        (b'T', sod / 3600, 2),
        (b':', sod / 60 % 60, 2),
        (b':', sod % 60, 2),
        (b'.', nanos, 9),
    ] {
        buf.push(sep);
        push_padded(buf, v, w);
    }
    buf.push(b'Z');
}

/// [`write_rfc3339`] into a new `String`.
pub fn rfc3339(epoch_ns: i128) -> String {
    let mut buf = Vec::with_capacity(30);
    write_rfc3339(&mut buf, epoch_ns);
    String::from_utf8_lossy(&buf).into_owned()
}

fn clock_ns(clock: libc::clockid_t) -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; clock_gettime only writes it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return 0;
    }
    i128::from(ts.tv_sec) * 1_000_000_000 + i128::from(ts.tv_nsec)
}

/// `CLOCK_REALTIME - CLOCK_MONOTONIC` in nanoseconds: add it to a
/// `bpf_ktime_get_ns()` timestamp to get nanoseconds since the Unix epoch.
///
/// Reads realtime, monotonic, realtime and uses the midpoint of the two
/// realtime readings, so the error is half the (sub-microsecond) read time.
pub fn realtime_offset_ns() -> i128 {
    let r1 = clock_ns(libc::CLOCK_REALTIME);
    let m = clock_ns(libc::CLOCK_MONOTONIC);
    let r2 = clock_ns(libc::CLOCK_REALTIME);
    r1 + (r2 - r1) / 2 - m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(ns: i128) -> String {
        let mut b = Vec::new();
        write_seconds(&mut b, ns);
        String::from_utf8(b).unwrap()
    }

    /// Inverse of `civil_from_days` (Hinnant's `days_from_civil`).
    fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y };
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(m);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    #[test]
    fn seconds() {
        assert_eq!(secs(0), "0.000000000");
        assert_eq!(secs(1_500_000_000), "1.500000000");
        assert_eq!(secs(1_234_567_890), "1.234567890");
        assert_eq!(secs(86_400_000_000_007), "86400.000000007");
        assert_eq!(secs(-1_000), "-0.000001000");
    }

    #[test]
    fn rfc3339_known_dates() {
        const S: i128 = 1_000_000_000;
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(951_782_400 * S), "2000-02-29T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(1_798_761_599 * S + 123_456_789),
            "2026-12-31T23:59:59.123456789Z"
        );
        assert_eq!(rfc3339(1_798_761_600 * S), "2027-01-01T00:00:00.000000000Z");
        // 2026-11-25T12:00:01Z
        assert_eq!(
            rfc3339(1_795_608_001 * S + 123_456_789),
            "2026-11-25T12:00:01.123456789Z"
        );
        assert_eq!(rfc3339(4_107_542_400 * S), "2100-03-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999999999Z");
        assert_eq!(rfc3339(1_709_164_800 * S), "2024-02-29T00:00:00.000000000Z");
    }

    /// Years before 1 CE: year 0 has no sign, earlier years a `-`.
    #[test]
    fn rfc3339_year_zero_and_before() {
        const DAY: i128 = 86_400 * 1_000_000_000;
        assert_eq!(
            rfc3339(i128::from(days_from_civil(0, 1, 1)) * DAY),
            "0000-01-01T00:00:00.000000000Z"
        );
        assert_eq!(
            rfc3339(i128::from(days_from_civil(-1, 12, 31)) * DAY),
            "-0001-12-31T00:00:00.000000000Z"
        );
    }

    #[test]
    fn civil_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-719_468), (0, 3, 1));
        let mut prev = civil_from_days(-800_000);
        for days in -799_999..800_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            // Consecutive days: same month and d+1, or the 1st of the next.
            if d == 1 {
                assert!(m == prev.1 % 12 + 1 && prev.2 >= 28, "{days}");
            } else {
                assert_eq!((y, m, d - 1), prev, "{days}");
            }
            prev = (y, m, d);
        }
    }

    /// The clock reads nanoseconds exactly as the system clock does:
    /// bracketed by two `SystemTime` readings (both CLOCK_REALTIME).
    #[test]
    fn clock_ns_is_bracketed_by_the_system_clock() {
        let ns = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i128
        };
        for _ in 0..3 {
            let before = ns(std::time::SystemTime::now());
            let c = clock_ns(libc::CLOCK_REALTIME);
            let after = ns(std::time::SystemTime::now());
            assert!(before <= c && c <= after, "{before} <= {c} <= {after}");
        }
    }

    #[test]
    fn offset_is_plausible() {
        let off = realtime_offset_ns();
        let now = clock_ns(libc::CLOCK_REALTIME);
        let mono = clock_ns(libc::CLOCK_MONOTONIC);
        // Realtime is after 2020 and the offset reconstructs it to within 1s.
        assert!(now > 1_577_836_800 * 1_000_000_000);
        assert!((mono + off - now).abs() < 1_000_000_000);
    }
}
