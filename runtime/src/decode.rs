//! Decoding of the binary records the eBPF templates write to the ring buffer.
//!
//! Every record starts with a [`RECORD_HEADER`]-byte header, all little-endian:
//!
//! | offset | type  | meaning                                          |
//! |-------:|-------|--------------------------------------------------|
//! | 0      | `u64` | `bpf_ktime_get_ns()` (CLOCK_MONOTONIC, ns)       |
//! | 8      | `u32` | probe index (into [`Plan::probes`])              |
//! | 12     | `u32` | CPU the event fired on                           |
//!
//! followed by one slot per value at [`FieldPlan::slot`], [`FieldPlan::size`]
//! bytes long. A [`Decoder`] turns such a record into a [`Record`]: the header
//! plus one [`Value`] per visible field, in the probe's `fields` order.
//!
//! Decoding is allocation-light: strings and byte arrays borrow from the raw
//! record (a string is only copied when it is not valid UTF-8), integer arrays
//! are decoded lazily, and [`Decoder::decode_with`] / [`Record::recycle`] let a
//! hot loop reuse one `Vec` for the values of every record.
//!
//! Slot decoding rules (the contract with the templates):
//!
//! * [`Decode::Int`]: the slot holds 8 bytes, sign-extended by the template for
//!   signed types; the 64-bit value is printed as is (`size` only drives the
//!   table column width).
//! * [`Decode::Bool`]: true when any byte of the slot is non-zero.
//! * [`Decode::Pointer`], [`Decode::Hex`]: the slot's (up to 8) bytes as a `u64`.
//! * [`Decode::Str`]: the bytes up to the first NUL, or the whole slot when it
//!   has none. Invalid UTF-8 is replaced by U+FFFD (lossy), never dropped.
//! * [`Decode::Ip4`]: the low 4 bytes of the slot, in memory (network) order,
//!   are the address `a.b.c.d`.
//! * [`Decode::Ip6`]: the 16 bytes of the slot, in network order.
//! * [`Decode::Bytes`]: the whole slot.
//! * [`Decode::IntArray`]: the slot split into `size / elem` little-endian
//!   elements (`elem` ∈ {1, 2, 4, 8}); any other element width decodes as
//!   [`Value::Bytes`].
//!
//! Fixed-width decoders (integers, ip4, ip6) whose slot is narrower than they
//! need read the missing high bytes as zero rather than failing: slot sizes are
//! the compiler's responsibility, and a record is never rejected for them.
//!
//! A record shorter than its probe's layout (the end of its last field slot)
//! or whose probe index is out of range is a [`DecodeError`]; the decoder
//! counts those ([`Decoder::errors`]) and never panics, whatever the input.

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicU64, Ordering};

use tracectl_compiler::plan::{Decode, Plan, RECORD_HEADER};

use crate::names::Names;

#[cfg(doc)]
use tracectl_compiler::plan::FieldPlan;

/// Decodes raw ring-buffer records for one [`Plan`].
///
/// Built once per plan; [`Decoder::decode`] only reads the precomputed layout,
/// so one decoder may be shared between threads.
#[derive(Debug)]
pub struct Decoder {
    probes: Vec<ProbeLayout>,
    errors: AtomicU64,
    names: Names,
}

/// Precomputed layout of one probe's records.
#[derive(Debug)]
struct ProbeLayout {
    /// Smallest valid record length: header plus the end of the last slot.
    need: usize,
    fields: Vec<FieldLayout>,
}

/// Where one visible field lives and how to decode it.
#[derive(Debug, Clone, Copy)]
struct FieldLayout {
    off: usize,
    size: usize,
    decode: Decode,
}

/// A decoded record. Borrows strings and byte slices from the raw record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    /// Monotonic timestamp of the event in nanoseconds (`bpf_ktime_get_ns`).
    pub ts_ns: u64,
    /// Index of the probe in [`Plan::probes`] (checked to be in range).
    pub probe: usize,
    /// CPU the event fired on.
    pub cpu: u32,
    /// One value per visible field, in the probe's `fields` order.
    pub values: Vec<Value<'a>>,
}

/// One decoded field value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A signed integer ([`Decode::Int`] with `signed: true`).
    Int(i64),
    /// An unsigned integer ([`Decode::Int`] with `signed: false`).
    UInt(u64),
    /// A boolean: `true` / `false`.
    Bool(bool),
    /// A pointer: `0x…` lowercase hex.
    Pointer(u64),
    /// An integer printed in hex (`hex()`): `0x…` lowercase.
    Hex(u64),
    /// A string (up to the first NUL); borrowed unless it was invalid UTF-8,
    /// in which case it holds the lossy (U+FFFD) replacement.
    Str(Cow<'a, str>),
    /// An IPv4 address, printed `a.b.c.d`.
    Ip4(Ipv4Addr),
    /// An IPv6 address, printed in the standard text form (`::1`,
    /// `::ffff:1.2.3.4` for v4-mapped addresses).
    Ip6(Ipv6Addr),
    /// Raw bytes, printed as lowercase hex without separators.
    Bytes(&'a [u8]),
    /// An array of integers, printed `[1,2,3]` (a JSON array in JSON).
    IntArray(IntArray<'a>),
    /// A symbolized stack (`kstack`, `ustack`): its frames joined by `;`,
    /// innermost first (a JSON array of strings in JSON; one line per
    /// frame under the row in a table).
    Stack(std::sync::Arc<crate::stacks::Stack>),
}

/// A lazily decoded array of little-endian integers, borrowed from the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntArray<'a> {
    raw: &'a [u8],
    elem: usize,
    signed: bool,
}

/// Why a raw record could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// The record is shorter than the header or than its probe's layout.
    TooShort {
        /// Bytes received.
        len: usize,
        /// Bytes the layout needs.
        need: usize,
    },
    /// The header's probe index does not name a probe of the plan.
    BadProbe {
        /// The probe index found in the header.
        index: u32,
        /// Number of probes in the plan.
        probes: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::TooShort { len, need } => {
                write!(f, "record too short: {len} bytes, layout needs {need}")
            }
            DecodeError::BadProbe { index, probes } => write!(
                f,
                "record names probe {index}, but the plan has {probes} probe(s)"
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

const HEADER: usize = RECORD_HEADER as usize;

impl Decoder {
    /// Precomputes the record layout of every probe of `plan`.
    pub fn new(plan: &Plan) -> Decoder {
        let probes = plan
            .probes
            .iter()
            .map(|p| {
                let fields: Vec<FieldLayout> = p
                    .fields
                    .iter()
                    .map(|f| FieldLayout {
                        off: f.slot as usize,
                        size: f.size as usize,
                        decode: f.decode,
                    })
                    .collect();
                let need = fields
                    .iter()
                    .map(|f| f.off.saturating_add(f.size))
                    .fold(HEADER, usize::max);
                ProbeLayout { need, fields }
            })
            .collect();
        Decoder {
            probes,
            errors: AtomicU64::new(0),
            names: Names::new(plan),
        }
    }

    /// Prints `kstack`/`ustack` from this session's stack map.
    pub fn set_stacks(&mut self, stacks: crate::stacks::SharedStacks) {
        self.names.set_stacks(stacks);
    }

    /// Decodes one raw record.
    ///
    /// Allocates the values `Vec` (and a `String` for any string that is not
    /// valid UTF-8); see [`Decoder::decode_with`] to reuse the `Vec`.
    pub fn decode<'a>(&'a self, raw: &'a [u8]) -> Result<Record<'a>, DecodeError> {
        self.decode_with(raw, &mut Vec::new())
    }

    /// Decodes one raw record, taking the values `Vec` from `spare` (its
    /// allocation is reused; give it back with [`Record::recycle`]).
    ///
    /// On error `spare` is left untouched.
    pub fn decode_with<'a>(
        &'a self,
        raw: &'a [u8],
        spare: &mut Vec<Value<'static>>,
    ) -> Result<Record<'a>, DecodeError> {
        match self.decode_inner(raw, spare) {
            Ok(rec) => Ok(rec),
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    fn decode_inner<'a>(
        &'a self,
        raw: &'a [u8],
        spare: &mut Vec<Value<'static>>,
    ) -> Result<Record<'a>, DecodeError> {
        if raw.len() < HEADER {
            return Err(DecodeError::TooShort {
                len: raw.len(),
                need: HEADER,
            });
        }
        let ts_ns = u64::from_le_bytes(raw[0..8].try_into().unwrap_or([0; 8]));
        let index = u32::from_le_bytes(raw[8..12].try_into().unwrap_or([0; 4]));
        let cpu = u32::from_le_bytes(raw[12..16].try_into().unwrap_or([0; 4]));
        let probe = index as usize;
        let Some(layout) = self.probes.get(probe) else {
            return Err(DecodeError::BadProbe {
                index,
                probes: self.probes.len(),
            });
        };
        if raw.len() < layout.need {
            return Err(DecodeError::TooShort {
                len: raw.len(),
                need: layout.need,
            });
        }
        // `Vec<Value<'static>>` is a subtype of `Vec<Value<'a>>` (covariance).
        let mut values: Vec<Value<'a>> = std::mem::take(spare);
        values.clear();
        values.reserve(layout.fields.len());
        for f in &layout.fields {
            // In range: `layout.need` covers every slot end.
            let slot = &raw[f.off..f.off + f.size];
            values.push(decode_slot(&self.names, f.decode, slot, raw));
        }
        Ok(Record {
            ts_ns,
            probe,
            cpu,
            values,
        })
    }

    /// Number of records this decoder rejected so far.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

impl Record<'_> {
    /// Gives the values' allocation back for the next
    /// [`Decoder::decode_with`] call.
    pub fn recycle(self, spare: &mut Vec<Value<'static>>) {
        let mut values = self.values;
        values.clear();
        // An empty vector maps onto its own allocation (in-place collect), so
        // the capacity survives the lifetime change without `unsafe`.
        *spare = values.into_iter().map(|_| Value::Bool(false)).collect();
    }
}

/// Reads up to 8 little-endian bytes; missing high bytes are zero.
fn le_u64(slot: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = slot.len().min(8);
    b[..n].copy_from_slice(&slot[..n]);
    u64::from_le_bytes(b)
}

/// The value of one slot; `raw` is the whole record (`usym()` reads the
/// pid from its slot there).
fn decode_slot<'a>(names: &'a Names, decode: Decode, slot: &'a [u8], raw: &[u8]) -> Value<'a> {
    match decode {
        Decode::Int { signed: true, .. } => Value::Int(le_u64(slot) as i64),
        Decode::Int { signed: false, .. } => Value::UInt(le_u64(slot)),
        Decode::Bool => Value::Bool(slot.iter().any(|&b| b != 0)),
        Decode::Pointer => Value::Pointer(le_u64(slot)),
        Decode::Hex => Value::Hex(le_u64(slot)),
        Decode::Str => {
            let end = slot.iter().position(|&b| b == 0).unwrap_or(slot.len());
            Value::Str(String::from_utf8_lossy(&slot[..end]))
        }
        Decode::Ip4 => {
            let mut b = [0u8; 4];
            let n = slot.len().min(4);
            b[..n].copy_from_slice(&slot[..n]);
            Value::Ip4(Ipv4Addr::from(b))
        }
        Decode::Ip6 => {
            let mut b = [0u8; 16];
            let n = slot.len().min(16);
            b[..n].copy_from_slice(&slot[..n]);
            Value::Ip6(Ipv6Addr::from(b))
        }
        Decode::Bytes => Value::Bytes(slot),
        Decode::Joined => {
            // The text, then a flag byte: 1 when something was left out.
            let (text, flag) = slot.split_at(slot.len().saturating_sub(1));
            let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
            let s = String::from_utf8_lossy(&text[..end]);
            if flag.first().is_some_and(|&f| f != 0) {
                Value::Str(Cow::Owned(format!("{s}…")))
            } else {
                Value::Str(s)
            }
        }
        // Names, symbols and stacks: `usym()` and `ustack` in the process
        // whose pid the record holds.
        Decode::Usym { .. }
        | Decode::Ustack { .. }
        | Decode::Kstack { .. }
        | Decode::Name { .. }
        | Decode::Enum { .. }
        | Decode::Ksym
        | Decode::CgroupPath
        | Decode::Container => {
            let pid = decode.pid_slot().map_or(0, |at| {
                raw.get(at as usize..at as usize + 4)
                    .map_or(0, |b| le_u64(b) as u32)
            });
            names.value(decode, le_u64(slot), pid)
        }
        Decode::IntArray { elem, signed } => match elem {
            1 | 2 | 4 | 8 => {
                let elem = elem as usize;
                Value::IntArray(IntArray {
                    raw: &slot[..slot.len() / elem * elem],
                    elem,
                    signed,
                })
            }
            _ => Value::Bytes(slot),
        },
    }
}

impl<'a> IntArray<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.raw.len() / self.elem
    }

    /// True when the array has no element.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Whether elements are sign-extended.
    pub fn signed(&self) -> bool {
        self.signed
    }

    /// The elements, sign- or zero-extended to `i128`.
    pub fn iter(&self) -> impl Iterator<Item = i128> + 'a {
        let (elem, signed) = (self.elem, self.signed);
        self.raw.chunks_exact(elem).map(move |c| {
            let v = le_u64(c);
            if signed {
                let shift = 64 - 8 * elem as u32;
                i128::from(((v << shift) as i64) >> shift)
            } else {
                i128::from(v)
            }
        })
    }
}

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `v` in decimal.
pub(crate) fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `v` in decimal.
pub(crate) fn push_i64(buf: &mut Vec<u8>, v: i64) {
    if v < 0 {
        buf.push(b'-');
    }
    push_u64(buf, v.unsigned_abs());
}

/// Appends `v` in decimal (any `i128`; array elements always fit 64 bits).
fn push_i128(buf: &mut Vec<u8>, v: i128) {
    if let Ok(v) = i64::try_from(v) {
        push_i64(buf, v);
    } else if let Ok(v) = u64::try_from(v) {
        push_u64(buf, v);
    } else {
        let _ = write!(buf, "{v}");
    }
}

/// Appends `0x` and `v` in lowercase hex without leading zeros (`0x0` for 0).
fn push_hex(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(b"0x");
    let digits = (64 - v.leading_zeros()).div_ceil(4).max(1);
    for i in (0..digits).rev() {
        buf.push(HEX_DIGITS[((v >> (4 * i)) & 0xf) as usize]);
    }
}

/// Appends the bytes as lowercase hex, two digits each, no separator.
fn push_bytes_hex(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.reserve(bytes.len() * 2);
    for &b in bytes {
        buf.push(HEX_DIGITS[(b >> 4) as usize]);
        buf.push(HEX_DIGITS[(b & 0xf) as usize]);
    }
}

fn push_ip4(buf: &mut Vec<u8>, a: Ipv4Addr) {
    for (i, o) in a.octets().into_iter().enumerate() {
        if i > 0 {
            buf.push(b'.');
        }
        push_u64(buf, u64::from(o));
    }
}

fn push_int_array(buf: &mut Vec<u8>, a: &IntArray<'_>) {
    buf.push(b'[');
    for (i, v) in a.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        push_i128(buf, v);
    }
    buf.push(b']');
}

impl Value<'_> {
    /// Appends the plain text form used by the table and CSV formats.
    ///
    /// Strings are written verbatim (already lossy-decoded); escaping for the
    /// table and quoting for CSV are the output module's job. Every other
    /// value is printable ASCII: integers in decimal, `true`/`false`,
    /// pointers and hex as `0x…`, addresses in their usual text form, bytes as
    /// lowercase hex, integer arrays as `[1,-2,3]`.
    pub fn write_text(&self, buf: &mut Vec<u8>) {
        match self {
            Value::Int(v) => push_i64(buf, *v),
            Value::UInt(v) => push_u64(buf, *v),
            Value::Bool(b) => buf.extend_from_slice(if *b { b"true" } else { b"false" }),
            Value::Pointer(v) | Value::Hex(v) => push_hex(buf, *v),
            Value::Str(s) => buf.extend_from_slice(s.as_bytes()),
            Value::Ip4(a) => push_ip4(buf, *a),
            Value::Ip6(a) => {
                let _ = write!(buf, "{a}");
            }
            Value::Bytes(b) => push_bytes_hex(buf, b),
            Value::IntArray(a) => push_int_array(buf, a),
            Value::Stack(s) => {
                let _ = write!(buf, "{s}");
            }
        }
    }

    /// Appends the value as a JSON value.
    ///
    /// Integers (and integer-array elements) are JSON numbers, booleans JSON
    /// booleans; everything else is a JSON string holding the text form of
    /// [`Value::write_text`]. Strings are the lossy UTF-8 text, escaped by
    /// [`write_json_str`].
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        match self {
            Value::Int(_) | Value::UInt(_) | Value::Bool(_) | Value::IntArray(_) => {
                self.write_text(buf)
            }
            Value::Str(s) => write_json_str(buf, s),
            Value::Stack(s) => {
                buf.push(b'[');
                for (i, line) in s.lines().iter().enumerate() {
                    if i > 0 {
                        buf.push(b',');
                    }
                    write_json_str(buf, line);
                }
                buf.push(b']');
            }
            Value::Pointer(_) | Value::Hex(_) | Value::Ip4(_) | Value::Ip6(_) | Value::Bytes(_) => {
                buf.push(b'"');
                self.write_text(buf);
                buf.push(b'"');
            }
        }
    }
}

impl fmt::Display for Value<'_> {
    /// The text form of [`Value::write_text`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Value::Str(s) = self {
            return f.write_str(s);
        }
        let mut buf = Vec::with_capacity(24);
        self.write_text(&mut buf);
        f.write_str(&String::from_utf8_lossy(&buf))
    }
}

/// Appends `s` as a JSON string literal (quotes included).
///
/// `"` and `\` are backslash-escaped, `\n`, `\r`, `\t`, `\b`, `\f` use their
/// short escapes and every other control character below U+0020 is written
/// `\u00XX`; everything else (including non-ASCII text) is written as UTF-8.
pub fn write_json_str(buf: &mut Vec<u8>, s: &str) {
    buf.reserve(s.len() + 2);
    buf.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if esc.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX_DIGITS[(b >> 4) as usize]);
            buf.push(HEX_DIGITS[(b & 0xf) as usize]);
        } else {
            buf.extend_from_slice(esc);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
    buf.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracectl_compiler::plan::{
        Attach, FieldPlan, Format, OutputPlan, ProbeConfig, ProbePlan, TimeMode,
    };

    fn field(name: &str, slot: u32, size: u32, decode: Decode) -> FieldPlan {
        FieldPlan {
            name: name.into(),
            slot,
            size,
            decode,
        }
    }

    fn plan(fields: Vec<FieldPlan>) -> Plan {
        Plan {
            format: 1,
            name: "t".into(),
            description: None,
            enums: Vec::new(),
            probes: vec![ProbePlan {
                name: "p".into(),
                probe: "tracepoint:a:b".into(),
                attach: Attach::Tracepoint {
                    category: "a".into(),
                    name: "b".into(),
                },
                config: ProbeConfig {
                    ..ProbeConfig::default()
                },
                fields,
                pair: None,
            }],
            output: OutputPlan {
                format: Format::Table,
                time: TimeMode::Relative,
                stats: Default::default(),
            },
        }
    }

    fn header(ts: u64, probe: u32, cpu: u32) -> Vec<u8> {
        let mut r = ts.to_le_bytes().to_vec();
        r.extend_from_slice(&probe.to_le_bytes());
        r.extend_from_slice(&cpu.to_le_bytes());
        r
    }

    fn text(v: &Value<'_>) -> String {
        let mut b = Vec::new();
        v.write_text(&mut b);
        String::from_utf8(b).unwrap()
    }

    fn json(v: &Value<'_>) -> String {
        let mut b = Vec::new();
        v.write_json(&mut b);
        String::from_utf8(b).unwrap()
    }

    #[test]
    fn decodes_every_kind() {
        let p = plan(vec![
            field(
                "neg",
                16,
                8,
                Decode::Int {
                    size: 4,
                    signed: true,
                },
            ),
            field(
                "big",
                24,
                8,
                Decode::Int {
                    size: 8,
                    signed: false,
                },
            ),
            field("flag", 32, 8, Decode::Bool),
            field("ptr", 40, 8, Decode::Pointer),
            field("hx", 48, 8, Decode::Hex),
            field("s", 56, 8, Decode::Str),
            field("a4", 64, 8, Decode::Ip4),
            field("a6", 72, 16, Decode::Ip6),
            field("raw", 88, 4, Decode::Bytes),
            field(
                "arr",
                92,
                6,
                Decode::IntArray {
                    elem: 2,
                    signed: true,
                },
            ),
            field(
                "uarr",
                98,
                2,
                Decode::IntArray {
                    elem: 1,
                    signed: false,
                },
            ),
        ]);
        let mut r = header(77, 0, 3);
        r.extend_from_slice(&(-42i64).to_le_bytes());
        r.extend_from_slice(&u64::MAX.to_le_bytes());
        r.extend_from_slice(&1u64.to_le_bytes());
        r.extend_from_slice(&0xffff_8880_1234_5678u64.to_le_bytes());
        r.extend_from_slice(&255u64.to_le_bytes());
        r.extend_from_slice(b"bash\0zz\0");
        r.extend_from_slice(&[127, 0, 0, 1, 9, 9, 9, 9]);
        r.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        r.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        for v in [1i16, -2, 3] {
            r.extend_from_slice(&v.to_le_bytes());
        }
        r.extend_from_slice(&[200, 7]);
        assert_eq!(r.len(), 100);

        let d = Decoder::new(&p);
        let rec = d.decode(&r).unwrap();
        assert_eq!((rec.ts_ns, rec.probe, rec.cpu), (77, 0, 3));
        let texts: Vec<String> = rec.values.iter().map(text).collect();
        assert_eq!(
            texts,
            [
                "-42",
                "18446744073709551615",
                "true",
                "0xffff888012345678",
                "0xff",
                "bash",
                "127.0.0.1",
                "::1",
                "deadbeef",
                "[1,-2,3]",
                "[200,7]",
            ]
        );
        let jsons: Vec<String> = rec.values.iter().map(json).collect();
        assert_eq!(
            jsons,
            [
                "-42",
                "18446744073709551615",
                "true",
                "\"0xffff888012345678\"",
                "\"0xff\"",
                "\"bash\"",
                "\"127.0.0.1\"",
                "\"::1\"",
                "\"deadbeef\"",
                "[1,-2,3]",
                "[200,7]",
            ]
        );
        assert!(matches!(rec.values[5], Value::Str(Cow::Borrowed("bash"))));
        assert_eq!(d.errors(), 0);
    }

    #[test]
    fn small_values_and_edges() {
        assert_eq!(text(&Value::Hex(0)), "0x0");
        assert_eq!(text(&Value::Hex(0x10)), "0x10");
        assert_eq!(text(&Value::Pointer(u64::MAX)), "0xffffffffffffffff");
        assert_eq!(text(&Value::Int(i64::MIN)), "-9223372036854775808");
        assert_eq!(text(&Value::UInt(0)), "0");
        assert_eq!(text(&Value::Bool(false)), "false");
        assert_eq!(text(&Value::Bytes(&[0x00, 0x0a, 0xff])), "000aff");
        let mapped = Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped();
        assert_eq!(text(&Value::Ip6(mapped)), "::ffff:1.2.3.4");
        assert_eq!(Value::Ip6(mapped).to_string(), "::ffff:1.2.3.4");
        assert_eq!(Value::Str("x y".into()).to_string(), "x y");
        assert_eq!(Value::Int(-5).to_string(), "-5");
    }

    #[test]
    fn string_without_nul_and_invalid_utf8() {
        let p = plan(vec![
            field("full", 16, 4, Decode::Str),
            field("bad", 20, 4, Decode::Str),
        ]);
        let mut r = header(0, 0, 0);
        r.extend_from_slice(b"abcd");
        r.extend_from_slice(&[b'f', 0xff, b'o', 0]);
        let d = Decoder::new(&p);
        let rec = d.decode(&r).unwrap();
        assert_eq!(rec.values[0], Value::Str("abcd".into()));
        assert_eq!(rec.values[1], Value::Str("f\u{fffd}o".into()));
        assert_eq!(json(&rec.values[1]), "\"f\u{fffd}o\"");
    }

    #[test]
    fn json_string_escaping_round_trips() {
        let cases = [
            "",
            "plain",
            "q\"b\\s/",
            "nl\ncr\rtab\tbs\u{8}ff\u{c}",
            "\u{0}\u{1}\u{1f}\u{7f}é€😀",
        ];
        for s in cases {
            let mut b = Vec::new();
            write_json_str(&mut b, s);
            let back: String = serde_json::from_slice(&b).unwrap();
            assert_eq!(back, s);
        }
        let mut b = Vec::new();
        write_json_str(&mut b, "a\u{1}\n\"");
        assert_eq!(b, br#""a\u0001\n\"""#);
    }

    #[test]
    fn errors_are_counted_never_panic() {
        let p = plan(vec![field(
            "pid",
            16,
            8,
            Decode::Int {
                size: 4,
                signed: false,
            },
        )]);
        let d = Decoder::new(&p);
        assert_eq!(
            d.decode(&[0; 15]),
            Err(DecodeError::TooShort { len: 15, need: 16 })
        );
        assert_eq!(
            d.decode(&header(0, 0, 0)),
            Err(DecodeError::TooShort { len: 16, need: 24 })
        );
        let mut r = header(0, 1, 0);
        r.extend_from_slice(&[0; 8]);
        assert_eq!(
            d.decode(&r),
            Err(DecodeError::BadProbe {
                index: 1,
                probes: 1
            })
        );
        assert_eq!(d.errors(), 3);
        assert_eq!(
            DecodeError::BadProbe {
                index: 1,
                probes: 1
            }
            .to_string(),
            "record names probe 1, but the plan has 1 probe(s)"
        );
        // Longer records are fine (trailing bytes: hidden filter operands).
        r[8] = 0;
        r.extend_from_slice(&[0xff; 8]);
        assert_eq!(d.decode(&r).unwrap().values, [Value::UInt(0)]);

        // Garbage of every length up to a bit past the layout.
        let mut seed = 0x1234_5678_u32;
        for len in 0..64 {
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                    (seed >> 16) as u8 & 1 // probe index bytes stay small
                })
                .collect();
            let _ = d.decode(&raw);
        }
    }

    #[test]
    fn narrow_slots_and_odd_array_widths() {
        let p = plan(vec![
            field("a6", 16, 4, Decode::Ip6),
            field(
                "x",
                20,
                2,
                Decode::Int {
                    size: 2,
                    signed: false,
                },
            ),
            field(
                "arr",
                22,
                3,
                Decode::IntArray {
                    elem: 3,
                    signed: false,
                },
            ),
            field(
                "arr2",
                25,
                5,
                Decode::IntArray {
                    elem: 4,
                    signed: false,
                },
            ),
        ]);
        let mut r = header(0, 0, 0);
        r.extend_from_slice(&[0xfe, 0x80, 0, 0, 0x34, 0x12, 1, 2, 3, 1, 0, 0, 0, 9]);
        let d = Decoder::new(&p);
        let rec = d.decode(&r).unwrap();
        assert_eq!(text(&rec.values[0]), "fe80::");
        assert_eq!(rec.values[1], Value::UInt(0x1234));
        assert_eq!(rec.values[2], Value::Bytes(&[1, 2, 3]));
        assert_eq!(text(&rec.values[3]), "[1]");
    }

    /// The short escapes are the ones written, not `\u00XX` (both parse,
    /// but the documented form is the short one).
    #[test]
    fn json_short_escapes_are_used() {
        let mut b = Vec::new();
        write_json_str(&mut b, "\t\u{8}\u{c}\r\n\u{b}");
        assert_eq!(b, br#""\t\b\f\r\n\u000b""#);
    }

    /// One slot decoded alone (no name decoder needs the tables here).
    fn slot_value(decode: Decode, slot: &[u8]) -> Value<'_> {
        static NAMES: std::sync::OnceLock<Names> = std::sync::OnceLock::new();
        decode_slot(NAMES.get_or_init(Names::default), decode, slot, &[])
    }

    /// A bool slot is true when any of its bytes is set, whichever.
    #[test]
    fn bool_is_any_byte_set() {
        assert_eq!(slot_value(Decode::Bool, &[0, 0, 0, 0]), Value::Bool(false));
        assert_eq!(slot_value(Decode::Bool, &[0, 0, 1, 0]), Value::Bool(true));
        assert_eq!(
            slot_value(Decode::Bool, &[0x80, 0, 0, 0]),
            Value::Bool(true)
        );
        assert_eq!(slot_value(Decode::Bool, &[]), Value::Bool(false));
    }

    /// Element count, emptiness, signedness and sign extension of every
    /// element width.
    #[test]
    fn int_arrays_by_width_and_sign() {
        let raw: Vec<u8> = (0..16).map(|i| 0xf0 | i).collect();
        for elem in [1u32, 2, 4, 8] {
            for signed in [false, true] {
                let v = slot_value(Decode::IntArray { elem, signed }, &raw[..15]);
                let Value::IntArray(a) = v else {
                    panic!("{v:?}")
                };
                let n = 15 / elem as usize;
                assert_eq!(a.len(), n, "elem {elem}");
                assert_eq!(a.is_empty(), n == 0);
                assert_eq!(a.signed(), signed);
                let got: Vec<i128> = a.iter().collect();
                let want: Vec<i128> = raw[..n * elem as usize]
                    .chunks_exact(elem as usize)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b[..c.len()].copy_from_slice(c);
                        let u = u64::from_le_bytes(b);
                        let bits = 8 * elem;
                        if signed && u >> (bits - 1) & 1 == 1 {
                            i128::from(u) - (1i128 << bits)
                        } else {
                            i128::from(u)
                        }
                    })
                    .collect();
                assert_eq!(got, want, "elem {elem} signed {signed}");
                if signed {
                    assert!(got.iter().all(|&x| x < 0), "{got:?}");
                }
            }
        }
        let Value::IntArray(e) = slot_value(
            Decode::IntArray {
                elem: 4,
                signed: false,
            },
            &[1, 2, 3],
        ) else {
            panic!()
        };
        assert!(e.is_empty());
        assert_eq!(e.len(), 0);
    }

    #[test]
    fn recycle_keeps_the_allocation() {
        let p = plan(vec![field("s", 16, 8, Decode::Str)]);
        let d = Decoder::new(&p);
        let mut spare = Vec::new();
        let mut r = header(0, 0, 0);
        r.extend_from_slice(b"one\0\0\0\0\0");
        let rec = d.decode_with(&r, &mut spare).unwrap();
        let cap = rec.values.capacity();
        assert!(cap >= 1);
        rec.recycle(&mut spare);
        assert!(spare.is_empty());
        assert_eq!(spare.capacity(), cap);
        {
            let r2 = r.clone();
            let rec = d.decode_with(&r2, &mut spare).unwrap();
            assert_eq!(rec.values, [Value::Str("one".into())]);
            rec.recycle(&mut spare);
        }
        assert_eq!(spare.capacity(), cap);
    }
}
