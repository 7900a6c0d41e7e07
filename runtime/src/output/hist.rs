//! Histogram buckets: bounds, labels and bars exactly as bpftrace prints them.
//!
//! [`Histogram`]s are what `hist()` and `lhist()` aggregate into; this module
//! turns one into text (a bpftrace-style bar chart), a JSON array or a CSV
//! cell. The [aggregation printer](super::agg) draws them under their key row.
//!
//! # Buckets
//!
//! | kind | index | bucket | label | closed bounds (JSON/CSV) |
//! |---|---|---|---|---|
//! | [`HistKind::Log2`] | 0 | negative values | `(..., 0)` | no min, max −1 |
//! | | 1 | the value 0 | `[0]` | 0..0 |
//! | | 2 | the value 1 | `[1]` | 1..1 |
//! | | k+2 (1 ≤ k ≤ 63) | [2^k, 2^(k+1)) | `[2, 4)`, `[512, 1K)`, `[8E, 16E)` | 2^k..2^(k+1)−1 |
//! | [`HistKind::Linear`] | 0 | below `min` | `(..., 0)` | no min, max `min`−1 |
//! | | i (1 ≤ i ≤ n) | [lo, lo+step), lo = `min`+(i−1)·`step` | `[0, 10)` (`[3]` when `step` is 1) | lo..lo+step−1 |
//! | | n+1 | the rest | `[100, ...)` | `min`+n·`step`.., no max |
//!
//! with n = (`max` − `min`) / `step`. The last linear bucket starts at
//! `min` + n·`step`, which is `max` whenever `step` divides `max` − `min`:
//! bpftrace's kernel side puts every value from there on in it.
//!
//! # Labels
//!
//! As bpftrace's `hist_index_label` and `lhist_index_label`
//! (`src/types_format.cpp`): a power of two 2^p is printed as 2^(p mod 10)
//! followed by the suffix of its power of 1024 (`K M G T P E`), so
//! `[1K, 2K)`, `[512K, 1M)`, `[4E, 8E)`. Linear bounds get a `K` or `M`
//! suffix (a multiple of 1024 or 1024², `0` stays `0`) only when `step` is a
//! multiple of 1024, so `[1024, 1536)` for a step of 512 and `[2K, 4K)` for
//! a step of 2048. Negative linear bounds print with their sign.
//!
//! # Text
//!
//! Every bucket from the lowest to the highest non-empty one is printed, the
//! empty ones between included; an all-empty histogram prints nothing. One
//! line per bucket, as bpftrace's `setw(16) << left << label << setw(8) <<
//! right << count << " |" << setw(52) << left << bar << "|"`:
//!
//! ```text
//! [4, 8)                12 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
//! [8, 16)                3 |@@@@@@@@@@@@@                                       |
//! ```
//!
//! The label is padded to [`LABEL_WIDTH`] (never cut: a longer label pushes
//! the line right), the count right-aligned in [`COUNT_WIDTH`]; the bar has
//! [`bar_width`] `@` of [`BAR_WIDTH`], computed in single precision exactly
//! as bpftrace does.
//!
//! # JSON and CSV
//!
//! Only **non-empty** buckets, lowest first, with closed bounds:
//!
//! * JSON ([`Histogram::write_json`]): `[{"min":4,"max":7,"count":12},…]`.
//!   An unbounded side is **omitted**, as bpftrace's `-f json` does:
//!   `{"max":-1,"count":3}` for the negative (or below-`min`) bucket,
//!   `{"min":100,"count":2}` for the last linear bucket. (bpftrace also lists
//!   the empty buckets between the non-empty ones; tracectl does not.)
//! * CSV ([`Histogram::write_csv`]): `min..max:count` joined by `;`, an
//!   unbounded side left empty: `..-1:3;0..0:1;4..7:12;100..:2`. The cell
//!   has no `,`, `"` or spaces, so it is never quoted; an all-empty
//!   histogram is an empty cell.
//!
//! # Differences with bpftrace 0.17
//!
//! The tests compare with the output of bpftrace v0.17.0 (the version
//! installed here) byte for byte where v0.17.0 and current bpftrace agree.
//! Where they differ, tracectl follows current bpftrace's source
//! (`src/types_format.cpp`, `src/output/text.cpp`, `src/output/json.cpp`;
//! read, not run): v0.17.0 puts every value of 2^31 and more into one
//! bucket labelled `[2G, 4G)`, labels a step-512 bucket `[1K, 1536)` (now
//! `[1024, 1536)`), a step-1 bucket `[3, 4)` (now `[3]`), and the last
//! linear bucket `[max, ...)` even when it starts below `max`.

use std::io::Write as _;

use super::agg::{HistKind, Histogram};
use crate::decode::{push_i64, push_u64};

/// Minimum width of the label column (bpftrace's `setw(16)`).
pub const LABEL_WIDTH: usize = 16;
/// Width of the right-aligned count column (bpftrace's `setw(8)`).
pub const COUNT_WIDTH: usize = 8;
/// Width of the bar between the two `|` (bpftrace's `max_width`): the
/// largest bucket's bar.
pub const BAR_WIDTH: usize = 52;
/// Number of [`HistKind::Log2`] buckets: negative, 0, 1, then
/// [2^k, 2^(k+1)) for k = 1..=63.
pub const LOG2_BUCKETS: usize = 66;

/// A full bar.
const BAR: [u8; BAR_WIDTH] = [b'@'; BAR_WIDTH];
/// Padding for a label or an empty bar's rest.
const SPACES: [u8; BAR_WIDTH] = [b' '; BAR_WIDTH];

/// Power-of-1024 suffixes of log2 labels (`1K`, `2M`, …, `8E`).
const SUFFIXES: &[u8; 6] = b"KMGTPE";

/// The closed bounds of one bucket; `None` is an unbounded side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bounds {
    /// Smallest value in the bucket; `None` for the negative / below-`min`
    /// bucket.
    pub min: Option<i128>,
    /// Largest value in the bucket; `None` for the last linear bucket.
    pub max: Option<i128>,
}

/// Width of a bar for a bucket of `count` when the largest bucket holds
/// `max`: `count / max * 52` truncated, computed in `f32` as bpftrace does
/// (`int bar_width = count / static_cast<float>(max) * max_width`). Single
/// precision matters only past 2^24 events, where close counts round to the
/// same `f32` (then a bucket just below the largest gets a full bar, as in
/// bpftrace). 0 when `max` is 0.
pub fn bar_width(count: u64, max: u64) -> usize {
    if max == 0 {
        return 0;
    }
    let w = count as f32 / max as f32 * BAR_WIDTH as f32;
    // `as` saturates; counts above max cannot happen, but stay in the frame.
    (w as usize).min(BAR_WIDTH)
}

impl HistKind {
    /// Number of buckets: [`LOG2_BUCKETS`], or n + 2 for a linear histogram
    /// (n = (`max` − `min`) / `step`; 0 if `step` is not positive or `max` <
    /// `min`).
    pub fn buckets(&self) -> usize {
        match *self {
            HistKind::Log2 => LOG2_BUCKETS,
            HistKind::Linear { .. } => self.linear_n() as usize + 2,
        }
    }

    /// n, the number of regular linear buckets; 0 for a log2 histogram.
    fn linear_n(&self) -> i128 {
        match *self {
            HistKind::Linear { min, max, step } if step > 0 && max >= min => {
                (i128::from(max) - i128::from(min)) / i128::from(step)
            }
            _ => 0,
        }
    }

    /// The closed bounds of bucket `index` (see the [module docs](self)).
    /// An index past the last bucket gets the last bucket's bounds.
    pub fn bounds(&self, index: usize) -> Bounds {
        match *self {
            HistKind::Log2 => match index.min(LOG2_BUCKETS - 1) {
                0 => Bounds {
                    min: None,
                    max: Some(-1),
                },
                1 => Bounds {
                    min: Some(0),
                    max: Some(0),
                },
                i => {
                    let k = (i - 2) as u32;
                    Bounds {
                        min: Some(1i128 << k),
                        max: Some((1i128 << (k + 1)) - 1),
                    }
                }
            },
            HistKind::Linear { min, step, .. } => {
                let n = self.linear_n();
                let (min, step) = (i128::from(min), i128::from(step));
                let i = (index as i128).min(n + 1);
                if i == 0 {
                    Bounds {
                        min: None,
                        max: Some(min - 1),
                    }
                } else if i == n + 1 {
                    Bounds {
                        min: Some(min + n * step),
                        max: None,
                    }
                } else {
                    let lo = min + (i - 1) * step;
                    Bounds {
                        min: Some(lo),
                        max: Some(lo + step - 1),
                    }
                }
            }
        }
    }

    /// Appends bucket `index`'s label as bpftrace prints it (`(..., 0)`,
    /// `[0]`, `[2, 4)`, `[1K, 2K)`, `[100, ...)`). An index past the last
    /// bucket gets the last bucket's label.
    pub fn write_label(&self, index: usize, out: &mut Vec<u8>) {
        match *self {
            HistKind::Log2 => match index.min(LOG2_BUCKETS - 1) {
                0 => out.extend_from_slice(b"(..., 0)"),
                1 => out.extend_from_slice(b"[0]"),
                2 => out.extend_from_slice(b"[1]"),
                i => {
                    let k = (i - 2) as u32;
                    out.push(b'[');
                    push_pow2(out, k);
                    out.extend_from_slice(b", ");
                    push_pow2(out, k + 1);
                    out.push(b')');
                }
            },
            HistKind::Linear { min, step, .. } => {
                let n = self.linear_n();
                let (min, step) = (i128::from(min), i128::from(step));
                let i = (index as i128).min(n + 1);
                if i == 0 {
                    out.extend_from_slice(b"(..., ");
                    push_linear(out, min, step);
                    out.push(b')');
                } else if i == n + 1 {
                    out.push(b'[');
                    push_linear(out, min + n * step, step);
                    out.extend_from_slice(b", ...)");
                } else {
                    let lo = min + (i - 1) * step;
                    out.push(b'[');
                    push_linear(out, lo, step);
                    if step == 1 {
                        // bpftrace prints a one-value bucket as `[n]`.
                        out.push(b']');
                    } else {
                        out.extend_from_slice(b", ");
                        push_linear(out, lo + step, step);
                        out.push(b')');
                    }
                }
            }
        }
    }

    /// Bucket `index`'s label as a new `String` (see
    /// [`HistKind::write_label`]).
    pub fn label(&self, index: usize) -> String {
        let mut buf = Vec::with_capacity(24);
        self.write_label(index, &mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Appends 2^p (p ≤ 64) as bpftrace labels it: 2^(p mod 10) and the suffix
/// of 1024^(p / 10): `512`, `1K`, `16E`.
fn push_pow2(out: &mut Vec<u8>, p: u32) {
    let decade = p / 10;
    push_u64(out, 1u64 << (p - 10 * decade));
    if decade > 0 {
        out.push(SUFFIXES[(decade - 1) as usize]);
    }
}

/// Appends a linear bound as bpftrace labels it: with a `K`/`M` suffix only
/// when `step` is a multiple of 1024 and the bound a (nonzero) multiple of
/// 1024 or 1024².
fn push_linear(out: &mut Vec<u8>, v: i128, step: i128) {
    const KILO: i128 = 1024;
    const MEGA: i128 = 1024 * 1024;
    if step % KILO != 0 || v == 0 {
        push_i128(out, v);
    } else if v % MEGA == 0 {
        push_i128(out, v / MEGA);
        out.push(b'M');
    } else if v % KILO == 0 {
        push_i128(out, v / KILO);
        out.push(b'K');
    } else {
        push_i128(out, v);
    }
}

/// Appends `v` in decimal.
pub(crate) fn push_i128(out: &mut Vec<u8>, v: i128) {
    if let Ok(v) = i64::try_from(v) {
        push_i64(out, v);
    } else if let Ok(v) = u64::try_from(v) {
        push_u64(out, v);
    } else {
        let _ = write!(out, "{v}");
    }
}

/// Pads `out[start..]` (ASCII) on the left with spaces to `width` bytes.
fn pad_left_from(out: &mut Vec<u8>, start: usize, width: usize) {
    let len = out.len() - start;
    if len < width {
        let pad = width - len;
        out.resize(out.len() + pad, b' ');
        out[start..].rotate_right(pad);
    }
}

impl Histogram {
    /// The counts that belong to a bucket of [`Histogram::kind`] (any counts
    /// past [`HistKind::buckets`] are ignored).
    fn used_counts(&self) -> &[u64] {
        &self.counts[..self.counts.len().min(self.kind.buckets())]
    }

    /// Indexes of the lowest and highest non-empty buckets, `None` if every
    /// bucket is empty: the range bpftrace prints.
    pub fn printed_range(&self) -> Option<(usize, usize)> {
        let counts = self.used_counts();
        let lo = counts.iter().position(|&c| c > 0)?;
        let hi = counts.iter().rposition(|&c| c > 0)?;
        Some((lo, hi))
    }

    /// The non-empty buckets, lowest first: `(index, count)`.
    pub fn nonempty(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        self.used_counts()
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(i, &c)| (i, c))
    }

    /// Appends the bucket lines as bpftrace draws them, from the lowest to
    /// the highest non-empty bucket (see the [module docs](self)); nothing
    /// if every bucket is empty.
    pub fn write_text(&self, out: &mut Vec<u8>) {
        let Some((lo, hi)) = self.printed_range() else {
            return;
        };
        let counts = self.used_counts();
        let max = counts[lo..=hi].iter().copied().max().unwrap_or(0);
        // 16 + 8 + 2 + 52 + 2 bytes a line, more only for long labels.
        out.reserve((hi - lo + 1) * (LABEL_WIDTH + COUNT_WIDTH + BAR_WIDTH + 4));
        for (i, &count) in counts.iter().enumerate().take(hi + 1).skip(lo) {
            let start = out.len();
            self.kind.write_label(i, out);
            // Labels are ASCII: bytes are columns.
            let used = out.len() - start;
            out.extend_from_slice(&SPACES[..LABEL_WIDTH.saturating_sub(used)]);
            let start = out.len();
            push_u64(out, count);
            pad_left_from(out, start, COUNT_WIDTH);
            out.extend_from_slice(b" |");
            let bar = bar_width(count, max);
            out.extend_from_slice(&BAR[..bar]);
            out.extend_from_slice(&SPACES[..BAR_WIDTH - bar]);
            out.extend_from_slice(b"|\n");
        }
    }

    /// Appends the non-empty buckets as a JSON array of
    /// `{"min":a,"max":b,"count":n}` objects with closed bounds, an
    /// unbounded side omitted (see the [module docs](self)); `[]` if every
    /// bucket is empty.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        out.push(b'[');
        for (n, (i, count)) in self.nonempty().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            let b = self.kind.bounds(i);
            out.push(b'{');
            if let Some(min) = b.min {
                out.extend_from_slice(b"\"min\":");
                push_i128(out, min);
                out.push(b',');
            }
            if let Some(max) = b.max {
                out.extend_from_slice(b"\"max\":");
                push_i128(out, max);
                out.push(b',');
            }
            out.extend_from_slice(b"\"count\":");
            push_u64(out, count);
            out.push(b'}');
        }
        out.push(b']');
    }

    /// Appends the non-empty buckets as one CSV cell: `min..max:count`
    /// joined by `;`, an unbounded side left empty (`..-1:3`, `100..:2`);
    /// nothing if every bucket is empty. Never needs quoting.
    pub fn write_csv(&self, out: &mut Vec<u8>) {
        for (n, (i, count)) in self.nonempty().enumerate() {
            if n > 0 {
                out.push(b';');
            }
            let b = self.kind.bounds(i);
            if let Some(min) = b.min {
                push_i128(out, min);
            }
            out.extend_from_slice(b"..");
            if let Some(max) = b.max {
                push_i128(out, max);
            }
            out.push(b':');
            push_u64(out, count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIN_0_100_10: HistKind = HistKind::Linear {
        min: 0,
        max: 100,
        step: 10,
    };

    fn log2(pairs: &[(usize, u64)]) -> Histogram {
        let mut counts = vec![0; LOG2_BUCKETS];
        for &(i, c) in pairs {
            counts[i] = c;
        }
        Histogram {
            kind: HistKind::Log2,
            counts,
        }
    }

    fn linear(kind: HistKind, pairs: &[(usize, u64)]) -> Histogram {
        let mut counts = vec![0; kind.buckets()];
        for &(i, c) in pairs {
            counts[i] = c;
        }
        Histogram { kind, counts }
    }

    fn text(h: &Histogram) -> String {
        let mut b = Vec::new();
        h.write_text(&mut b);
        String::from_utf8(b).unwrap()
    }

    fn json(h: &Histogram) -> String {
        let mut b = Vec::new();
        h.write_json(&mut b);
        String::from_utf8(b).unwrap()
    }

    fn csv(h: &Histogram) -> String {
        let mut b = Vec::new();
        h.write_csv(&mut b);
        String::from_utf8(b).unwrap()
    }

    fn b(min: Option<i128>, max: Option<i128>) -> Bounds {
        Bounds { min, max }
    }

    #[test]
    fn log2_labels() {
        let k = HistKind::Log2;
        assert_eq!(k.label(0), "(..., 0)");
        assert_eq!(k.label(1), "[0]");
        assert_eq!(k.label(2), "[1]");
        assert_eq!(k.label(3), "[2, 4)");
        assert_eq!(k.label(4), "[4, 8)");
        assert_eq!(k.label(10), "[256, 512)");
        assert_eq!(k.label(11), "[512, 1K)");
        assert_eq!(k.label(12), "[1K, 2K)");
        assert_eq!(k.label(21), "[512K, 1M)");
        assert_eq!(k.label(22), "[1M, 2M)");
        assert_eq!(k.label(32), "[1G, 2G)");
        assert_eq!(k.label(33), "[2G, 4G)");
        assert_eq!(k.label(42), "[1T, 2T)");
        assert_eq!(k.label(52), "[1P, 2P)");
        assert_eq!(k.label(61), "[512P, 1E)");
        assert_eq!(k.label(64), "[4E, 8E)");
        // [2^63, 2^64): only unsigned values reach it.
        assert_eq!(k.label(65), "[8E, 16E)");
        assert_eq!(k.label(200), "[8E, 16E)");
    }

    #[test]
    fn log2_bounds() {
        let k = HistKind::Log2;
        assert_eq!(k.buckets(), 66);
        assert_eq!(k.bounds(0), b(None, Some(-1)));
        assert_eq!(k.bounds(1), b(Some(0), Some(0)));
        assert_eq!(k.bounds(2), b(Some(1), Some(1)));
        assert_eq!(k.bounds(3), b(Some(2), Some(3)));
        assert_eq!(k.bounds(4), b(Some(4), Some(7)));
        assert_eq!(k.bounds(11), b(Some(512), Some(1023)));
        assert_eq!(k.bounds(12), b(Some(1024), Some(2047)));
        assert_eq!(k.bounds(64), b(Some(1 << 62), Some(i128::from(i64::MAX))));
        assert_eq!(k.bounds(65), b(Some(1 << 63), Some(i128::from(u64::MAX))));
    }

    #[test]
    fn linear_labels_and_bounds() {
        let k = LIN_0_100_10;
        assert_eq!(k.buckets(), 12);
        assert_eq!(k.label(0), "(..., 0)");
        assert_eq!(k.label(1), "[0, 10)");
        assert_eq!(k.label(10), "[90, 100)");
        assert_eq!(k.label(11), "[100, ...)");
        assert_eq!(k.bounds(0), b(None, Some(-1)));
        assert_eq!(k.bounds(1), b(Some(0), Some(9)));
        assert_eq!(k.bounds(10), b(Some(90), Some(99)));
        assert_eq!(k.bounds(11), b(Some(100), None));

        // Negative bounds (bpftrace itself refuses a negative min).
        let k = HistKind::Linear {
            min: -100,
            max: 100,
            step: 25,
        };
        assert_eq!(k.buckets(), 10);
        assert_eq!(k.label(0), "(..., -100)");
        assert_eq!(k.label(1), "[-100, -75)");
        assert_eq!(k.label(4), "[-25, 0)");
        assert_eq!(k.label(9), "[100, ...)");
        assert_eq!(k.bounds(0), b(None, Some(-101)));
        assert_eq!(k.bounds(4), b(Some(-25), Some(-1)));
        assert_eq!(k.bounds(9), b(Some(100), None));

        // The extremes of i64 do not overflow.
        let k = HistKind::Linear {
            min: i64::MIN,
            max: i64::MAX,
            step: i64::MAX,
        };
        assert_eq!(k.buckets(), 4);
        assert_eq!(k.bounds(0), b(None, Some(i128::from(i64::MIN) - 1)));
        assert_eq!(k.bounds(3), b(Some(i128::from(i64::MAX) - 1), None));
        assert_eq!(k.label(0), "(..., -9223372036854775808)");
    }

    /// `(max - min)` not a multiple of `step`: the last bucket starts after
    /// the last whole step, where bpftrace's kernel side puts those values.
    #[test]
    fn linear_partial_last_step() {
        let k = HistKind::Linear {
            min: 0,
            max: 95,
            step: 10,
        };
        assert_eq!(k.buckets(), 11);
        assert_eq!(k.label(9), "[80, 90)");
        assert_eq!(k.label(10), "[90, ...)");
        assert_eq!(k.bounds(10), b(Some(90), None));
    }

    #[test]
    fn linear_suffixes_only_for_kilo_steps() {
        let k = HistKind::Linear {
            min: 0,
            max: 4096,
            step: 512,
        };
        assert_eq!(k.label(3), "[1024, 1536)");
        let k = HistKind::Linear {
            min: 0,
            max: 4 << 20,
            step: 2048,
        };
        assert_eq!(k.label(1), "[0, 2K)");
        assert_eq!(k.label(2), "[2K, 4K)");
        assert_eq!(k.label(512), "[1022K, 1M)");
        assert_eq!(k.label(513), "[1M, 1026K)");
        assert_eq!(k.label(2049), "[4M, ...)");
        let k = HistKind::Linear {
            min: -4096,
            max: 0,
            step: 1024,
        };
        assert_eq!(k.label(0), "(..., -4K)");
        assert_eq!(k.label(4), "[-1K, 0)");
        // Not a multiple of 1024 with a kilo step: plain.
        let k = HistKind::Linear {
            min: 100,
            max: 100 + 4096,
            step: 1024,
        };
        assert_eq!(k.label(1), "[100, 1124)");
    }

    #[test]
    fn linear_step_one_buckets_hold_one_value() {
        let k = HistKind::Linear {
            min: 0,
            max: 10,
            step: 1,
        };
        assert_eq!(k.label(0), "(..., 0)");
        assert_eq!(k.label(4), "[3]");
        assert_eq!(k.label(11), "[10, ...)");
        assert_eq!(k.bounds(4), b(Some(3), Some(3)));
    }

    #[test]
    fn degenerate_linear_has_only_the_outer_buckets() {
        let k = HistKind::Linear {
            min: 5,
            max: 1,
            step: 0,
        };
        assert_eq!(k.buckets(), 2);
        assert_eq!(k.bounds(0), b(None, Some(4)));
        assert_eq!(k.bounds(1), b(Some(5), None));
        assert_eq!(k.label(7), "[5, ...)");
    }

    /// Bar widths bpftrace v0.17.0 drew for a largest bucket of 97 (see
    /// `matches_bpftrace_bars`), and the largest always 52.
    #[test]
    fn bar_widths() {
        for (count, want) in [
            (0, 0),
            (1, 0),
            (2, 1),
            (3, 1),
            (5, 2),
            (7, 3),
            (13, 6),
            (26, 13),
            (51, 27),
            (96, 51),
            (97, 52),
        ] {
            assert_eq!(bar_width(count, 97), want, "{count}/97");
        }
        assert_eq!(bar_width(1, 1), 52);
        assert_eq!(bar_width(1, 2), 26);
        assert_eq!(bar_width(0, 0), 0);
        assert_eq!(bar_width(u64::MAX, u64::MAX), 52);
        // Single precision, as bpftrace: 2^25 and 2^25 + 2 are the same f32,
        // so the smaller bucket gets a full bar (exact arithmetic gives 51).
        assert_eq!(bar_width(1 << 25, (1 << 25) + 2), 52);
        assert_eq!(bar_width(1 << 20, (1 << 20) + 2), 51);
    }

    /// `bpftrace -e 'BEGIN { @h = hist(5); @h = hist(3000); @h=hist(0);
    /// @h = hist(-1); @l = lhist(7, 0, 100, 10); exit(); }'`, bpftrace
    /// v0.17.0: the lines under `@h:` and `@l:`, byte for byte.
    #[test]
    fn matches_bpftrace_brief_example() {
        let h = log2(&[(0, 1), (1, 1), (4, 1), (13, 1)]);
        assert_eq!(
            text(&h),
            "\
(..., 0)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[0]                    1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[1]                    0 |                                                    |
[2, 4)                 0 |                                                    |
[4, 8)                 1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                0 |                                                    |
[16, 32)               0 |                                                    |
[32, 64)               0 |                                                    |
[64, 128)              0 |                                                    |
[128, 256)             0 |                                                    |
[256, 512)             0 |                                                    |
[512, 1K)              0 |                                                    |
[1K, 2K)               0 |                                                    |
[2K, 4K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
"
        );
        let l = linear(LIN_0_100_10, &[(1, 1)]);
        assert_eq!(
            text(&l),
            "[0, 10)                1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        );
    }

    /// bpftrace v0.17.0, `BEGIN { unroll(3) { @h = hist(-7); } unroll(7) {
    /// @h = hist(0); } @h = hist(1); unroll(5) { @h = hist(2); } unroll(97)
    /// { @h = hist(5); } unroll(13) { @h = hist(9); } unroll(51) { @h =
    /// hist(17); } unroll(26) { @h = hist(40); } unroll(96) { @h =
    /// hist(100); } @h = hist(200); unroll(2) { @h = hist(1000000); }
    /// exit(); }`: bar rounding and count widths, byte for byte.
    #[test]
    fn matches_bpftrace_bars() {
        let h = log2(&[
            (0, 3),
            (1, 7),
            (2, 1),
            (3, 5),
            (4, 97),
            (5, 13),
            (6, 51),
            (7, 26),
            (8, 96),
            (9, 1),
            (21, 2),
        ]);
        assert_eq!(
            text(&h),
            "\
(..., 0)               3 |@                                                   |
[0]                    7 |@@@                                                 |
[1]                    1 |                                                    |
[2, 4)                 5 |@@                                                  |
[4, 8)                97 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)               13 |@@@@@@                                              |
[16, 32)              51 |@@@@@@@@@@@@@@@@@@@@@@@@@@@                         |
[32, 64)              26 |@@@@@@@@@@@@@                                       |
[64, 128)             96 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@ |
[128, 256)             1 |                                                    |
[256, 512)             0 |                                                    |
[512, 1K)              0 |                                                    |
[1K, 2K)               0 |                                                    |
[2K, 4K)               0 |                                                    |
[4K, 8K)               0 |                                                    |
[8K, 16K)              0 |                                                    |
[16K, 32K)             0 |                                                    |
[32K, 64K)             0 |                                                    |
[64K, 128K)            0 |                                                    |
[128K, 256K)           0 |                                                    |
[256K, 512K)           0 |                                                    |
[512K, 1M)             2 |@                                                   |
"
        );
    }

    /// bpftrace v0.17.0, `BEGIN { @l = lhist(-5, 0, 100, 10); @l =
    /// lhist(7, 0, 100, 10) (twice); @l = lhist(55, 0, 100, 10); @l =
    /// lhist(99, 0, 100, 10); @l = lhist(100, 0, 100, 10); @l = lhist(250,
    /// 0, 100, 10) (three times); exit(); }`: both outer buckets.
    #[test]
    fn matches_bpftrace_lhist_edges() {
        let l = linear(LIN_0_100_10, &[(0, 1), (1, 2), (6, 1), (10, 1), (11, 4)]);
        assert_eq!(
            text(&l),
            "\
(..., 0)               1 |@@@@@@@@@@@@@                                       |
[0, 10)                2 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |
[10, 20)               0 |                                                    |
[20, 30)               0 |                                                    |
[30, 40)               0 |                                                    |
[40, 50)               0 |                                                    |
[50, 60)               1 |@@@@@@@@@@@@@                                       |
[60, 70)               0 |                                                    |
[70, 80)               0 |                                                    |
[80, 90)               0 |                                                    |
[90, 100)              1 |@@@@@@@@@@@@@                                       |
[100, ...)             4 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
"
        );
    }

    #[test]
    fn long_labels_and_counts_push_the_line() {
        let h = log2(&[(65, 123_456_789_012)]);
        assert_eq!(
            text(&h),
            "[8E, 16E)       123456789012 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        );
        let k = HistKind::Linear {
            min: -1_000_000_000_001,
            max: 0,
            step: 1_000_000_000_001,
        };
        let l = linear(k, &[(1, 1)]);
        assert_eq!(
            text(&l),
            "[-1000000000001, 0)       1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
        );
    }

    #[test]
    fn empty_histogram() {
        let h = log2(&[]);
        assert_eq!(h.printed_range(), None);
        assert_eq!(text(&h), "");
        assert_eq!(json(&h), "[]");
        assert_eq!(csv(&h), "");
        // No counts at all.
        let h = Histogram {
            kind: HistKind::Log2,
            counts: vec![],
        };
        assert_eq!(text(&h), "");
        assert_eq!(json(&h), "[]");
    }

    /// Counts past the last bucket are ignored; missing ones are empty.
    #[test]
    fn count_vector_length_is_tolerated() {
        let mut counts = vec![0; 14];
        counts[1] = 2;
        counts[13] = 9; // past lhist(0, 100, 10)'s 12 buckets
        let h = Histogram {
            kind: LIN_0_100_10,
            counts,
        };
        assert_eq!(h.printed_range(), Some((1, 1)));
        assert_eq!(json(&h), r#"[{"min":0,"max":9,"count":2}]"#);
        let short = Histogram {
            kind: HistKind::Log2,
            counts: vec![0, 0, 0, 4],
        };
        assert_eq!(csv(&short), "2..3:4");
    }

    #[test]
    fn json_non_empty_buckets_closed_bounds() {
        let h = log2(&[(0, 1), (1, 1), (4, 12), (13, 1), (65, 2)]);
        assert_eq!(
            json(&h),
            concat!(
                r#"[{"max":-1,"count":1},{"min":0,"max":0,"count":1},"#,
                r#"{"min":4,"max":7,"count":12},{"min":2048,"max":4095,"count":1},"#,
                r#"{"min":9223372036854775808,"max":18446744073709551615,"count":2}]"#
            )
        );
        let v: serde_json::Value = serde_json::from_str(&json(&h)).unwrap();
        assert_eq!(v[4]["max"].as_u64(), Some(u64::MAX));
        assert!(v[0].get("min").is_none());

        let l = linear(LIN_0_100_10, &[(0, 3), (6, 1), (11, 2)]);
        assert_eq!(
            json(&l),
            r#"[{"max":-1,"count":3},{"min":50,"max":59,"count":1},{"min":100,"count":2}]"#
        );
    }

    #[test]
    fn csv_cell() {
        let h = log2(&[(0, 3), (1, 1), (4, 12), (5, 3)]);
        assert_eq!(csv(&h), "..-1:3;0..0:1;4..7:12;8..15:3");
        let l = linear(
            HistKind::Linear {
                min: -20,
                max: 100,
                step: 10,
            },
            &[(0, 1), (2, 5), (13, 2)],
        );
        assert_eq!(csv(&l), "..-21:1;-10..-1:5;100..:2");
    }

    #[test]
    fn nonempty_lists_index_and_count() {
        let h = log2(&[(3, 2), (9, 5)]);
        assert_eq!(h.nonempty().collect::<Vec<_>>(), vec![(3, 2), (9, 5)]);
        assert_eq!(h.printed_range(), Some((3, 9)));
    }
}
