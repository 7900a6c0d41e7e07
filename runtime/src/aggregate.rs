//! Reading aggregating probes' maps: per-CPU values merged into one row per
//! key, sorted and cut to `top`, ready for [`crate::output::agg`].
//!
//! Each aggregating probe has its own per-CPU hash map (`agg`, see
//! `templates-ebpf/agg.h`), keyed by the record bytes that hold its `by:`
//! values. A print reads the whole map with `BPF_MAP_LOOKUP_BATCH` (or
//! `BPF_MAP_LOOKUP_AND_DELETE_BATCH` when the interval resets it): a few
//! system calls for ten thousand keys instead of two per key. Between an
//! entry being copied and deleted, an event on another CPU may still add to
//! it; that increment is lost with the deletion (bcc's and bpftrace's
//! `clear()` have the same window). `cumulative: true` never deletes.
//!
//! Merging follows the templates' value layout: counts, sums and buckets
//! are added over CPUs (wrapping, as the kernel does); `min`/`max` words
//! hold an order-preserving image and are merged by their maximum.

use std::io;
use std::os::fd::{AsFd, AsRawFd};

use aya::maps::{Map, MapData, PerCpuArray};
use tracectl_compiler::plan::{AggFunc, AggPlan, FieldPlan, Plan, RECORD_HEADER};

use crate::decode::{Decoder, Value};
use crate::output::agg::{AggCell, AggRow, HistKind, Histogram};

/// Name of the aggregation map in the templates.
pub const AGG_MAP: &str = "agg";
/// Name of its all-zero initial value.
pub const AGG_INIT_MAP: &str = "agg_init";
/// Name of the per-CPU counter of events whose key did not fit.
pub const AGG_LOST_MAP: &str = "agg_lost";

/// Largest preallocated map the default `max_keys` leads to (bytes).
pub const DEFAULT_MAP_BUDGET: u64 = 64 << 20;

/// The keys an aggregating probe's map holds: `max_keys` when given, else
/// [`DEFAULT_MAX_KEYS`](tracectl_compiler::plan::DEFAULT_MAX_KEYS), or
/// fewer so that the preallocated values (`value_size` bytes per key and
/// possible CPU) stay within [`DEFAULT_MAP_BUDGET`]; at least 1.
pub fn max_keys(given: Option<u32>, value_size: u32, cpus: usize) -> u32 {
    if let Some(n) = given {
        return n.max(1);
    }
    let per_key = (value_size as u64).max(8) * cpus.max(1) as u64;
    let fit = (DEFAULT_MAP_BUDGET / per_key).max(1);
    fit.min(tracectl_compiler::plan::DEFAULT_MAX_KEYS as u64) as u32
}

/// Number of possible CPUs (the width of per-CPU values).
pub fn possible_cpus() -> io::Result<usize> {
    aya::util::nr_cpus().map_err(|(_, e)| e)
}

/// One aggregating probe's map, opened for reading.
pub struct AggMap {
    /// The probe's index in the plan.
    pub probe: usize,
    map: MapData,
    lost: PerCpuArray<MapData, u64>,
    key_size: usize,
    value_size: usize,
    cpus: usize,
    /// Reused buffers.
    keys: Vec<u8>,
    values: Vec<u8>,
}

/// One key and its merged value words.
pub struct Entry {
    /// The key bytes.
    pub key: Vec<u8>,
    /// The value words, merged over CPUs.
    pub words: Vec<u64>,
}

/// `union bpf_attr` for the batch commands (kernel ABI, 5.6+).
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}

const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
const BPF_MAP_LOOKUP_AND_DELETE_BATCH: libc::c_long = 25;

/// Entries asked for per batch call.
const BATCH: usize = 4096;

impl AggMap {
    /// Takes probe `probe`'s maps out of its loaded object.
    pub fn take(
        probe: usize,
        ebpf: &mut aya::Ebpf,
        plan: &AggPlan,
        cpus: usize,
    ) -> Result<AggMap, String> {
        let map = match ebpf.take_map(AGG_MAP) {
            Some(Map::PerCpuHashMap(m)) => m,
            Some(_) => return Err("the template's agg map is not a per-CPU hash".into()),
            None => return Err("the template has no agg map".into()),
        };
        let lost = ebpf
            .take_map(AGG_LOST_MAP)
            .ok_or("the template has no agg_lost map")?;
        let lost = PerCpuArray::try_from(lost).map_err(|e| e.to_string())?;
        Ok(AggMap {
            probe,
            map,
            lost,
            key_size: plan.key_size as usize,
            value_size: plan.value_size as usize,
            cpus,
            keys: Vec::new(),
            values: Vec::new(),
        })
    }

    /// Events whose key did not fit in the map, summed over CPUs.
    pub fn dropped(&self) -> u64 {
        match self.lost.get(&0, 0) {
            Ok(v) => v.iter().sum(),
            Err(_) => 0,
        }
    }

    /// Every entry, merged over CPUs with `plan`'s layout; with `reset`,
    /// each entry read is deleted.
    pub fn read(&mut self, plan: &AggPlan, reset: bool) -> io::Result<Vec<Entry>> {
        let stride = self.value_size.div_ceil(8) * 8;
        let per_key = stride * self.cpus;
        self.keys.resize(BATCH * self.key_size, 0);
        self.values.resize(BATCH * per_key, 0);
        let cmd = if reset {
            BPF_MAP_LOOKUP_AND_DELETE_BATCH
        } else {
            BPF_MAP_LOOKUP_BATCH
        };
        let mut out = Vec::new();
        let mut token = [0u64; 1];
        let mut first = true;
        loop {
            let mut attr = BatchAttr {
                in_batch: if first { 0 } else { token.as_ptr() as u64 },
                out_batch: token.as_mut_ptr() as u64,
                keys: self.keys.as_mut_ptr() as u64,
                values: self.values.as_mut_ptr() as u64,
                count: BATCH as u32,
                map_fd: self.map.fd().as_fd().as_raw_fd() as u32,
                ..BatchAttr::default()
            };
            first = false;
            // SAFETY: the attr points at buffers of BATCH keys and values of
            // the sizes the map was created with, and at an 8-byte token.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    cmd,
                    &mut attr as *mut BatchAttr,
                    std::mem::size_of::<BatchAttr>(),
                )
            };
            let err = (r < 0).then(io::Error::last_os_error);
            let n = attr.count as usize;
            for i in 0..n {
                let key = self.keys[i * self.key_size..(i + 1) * self.key_size].to_vec();
                let raw = &self.values[i * per_key..(i + 1) * per_key];
                out.push(Entry {
                    key,
                    words: merge(plan, raw, stride, self.cpus),
                });
            }
            match err {
                None => continue,
                // ENOENT: no more entries (the last ones are in this batch).
                Some(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
                Some(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// Merges one key's per-CPU values (`stride` bytes per CPU).
pub fn merge(plan: &AggPlan, raw: &[u8], stride: usize, cpus: usize) -> Vec<u64> {
    let nwords = plan.value_size as usize / 8;
    let mut words = vec![0u64; nwords];
    let word = |cpu: usize, w: usize| {
        let at = cpu * stride + w * 8;
        raw.get(at..at + 8)
            .map_or(0, |b| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8])))
    };
    for v in &plan.values {
        let first = v.off as usize / 8;
        let n = v.func.value_bytes() as usize / 8;
        let end = (first + n).min(nwords);
        for (w, out) in words.iter_mut().enumerate().take(end).skip(first) {
            *out = (0..cpus).fold(0, |a, c| merge_word(v.func, a, word(c, w)));
        }
    }
    words
}

/// One value word of `func` merged with another (CPUs, or two keys that
/// print the same): `min`/`max` words (order-preserving) by unsigned max,
/// every other word added.
fn merge_word(func: AggFunc, a: u64, b: u64) -> u64 {
    match func {
        AggFunc::Min | AggFunc::Max => a.max(b),
        _ => a.wrapping_add(b),
    }
}

/// Merges `other`'s value words into `acc` (two keys that print the
/// same), as [`merge`] merges CPUs.
pub fn combine(plan: &AggPlan, acc: &mut [u64], other: &[u64]) {
    for v in &plan.values {
        let first = v.off as usize / 8;
        let n = v.func.value_bytes() as usize / 8;
        for w in first..(first + n).min(acc.len()).min(other.len()) {
            acc[w] = merge_word(v.func, acc[w], other[w]);
        }
    }
}

/// The integer a merged `min`/`max` word stands for.
fn unord(w: u64, signed: bool) -> i128 {
    if signed {
        (w ^ (1 << 63)) as i64 as i128
    } else {
        w as i128
    }
}

/// The cells of one entry, in the plan's value order.
pub fn cells(plan: &AggPlan, words: &[u64]) -> Vec<AggCell> {
    plan.values
        .iter()
        .map(|v| {
            let at = v.off as usize / 8;
            let w = |i: usize| words.get(at + i).copied().unwrap_or(0);
            let int = |x: u64| {
                if v.signed {
                    x as i64 as i128
                } else {
                    x as i128
                }
            };
            match v.func {
                AggFunc::Count => AggCell::Int(w(0) as i128),
                AggFunc::Sum => AggCell::Int(int(w(0))),
                AggFunc::Min => AggCell::Int(unord(!w(0), v.signed)),
                AggFunc::Max => AggCell::Int(unord(w(0), v.signed)),
                AggFunc::Avg => {
                    let (sum, n) = (w(0), w(1));
                    AggCell::Int(match (n, v.signed) {
                        (0, _) => 0,
                        (n, true) => ((sum as i64) / (n as i64).max(1)) as i128,
                        (n, false) => (sum / n) as i128,
                    })
                }
                AggFunc::Hist => AggCell::Hist(Histogram {
                    kind: HistKind::Log2,
                    counts: (0..v.func.buckets() as usize).map(w).collect(),
                }),
                AggFunc::Lhist { lo, hi, step } => AggCell::Hist(Histogram {
                    kind: HistKind::Linear {
                        min: lo,
                        max: hi,
                        step,
                    },
                    counts: (0..v.func.buckets() as usize).map(w).collect(),
                }),
            }
        })
        .collect()
}

/// Decodes key bytes into key values, by the plan's key fields (whose
/// slots are record offsets: the key starts at [`RECORD_HEADER`]).
pub struct KeyDecoder {
    decoder: Decoder,
    record: Vec<u8>,
}

impl KeyDecoder {
    /// For an aggregating probe's keys.
    pub fn new(plan: &AggPlan, enums: &[tracectl_compiler::plan::EnumNames]) -> KeyDecoder {
        let probe = tracectl_compiler::plan::ProbePlan {
            name: String::new(),
            probe: String::new(),
            attach: tracectl_compiler::plan::Attach::TpBtf {
                name: String::new(),
            },
            config: tracectl_compiler::plan::ProbeConfig {
                record_size: RECORD_HEADER + plan.key_size,
                ..tracectl_compiler::plan::ProbeConfig::default()
            },
            fields: plan.keys.clone(),
            pair: None,
        };
        let one = Plan {
            format: tracectl_compiler::plan::PLAN_FORMAT,
            name: String::new(),
            description: None,
            enums: enums.to_vec(),
            probes: vec![probe],
            output: tracectl_compiler::plan::OutputPlan {
                format: Default::default(),
                time: Default::default(),
                stats: Default::default(),
            },
        };
        KeyDecoder {
            decoder: Decoder::new(&one),
            record: vec![0; (RECORD_HEADER + plan.key_size) as usize],
        }
    }

    /// Prints `kstack`/`ustack` keys from this session's stack map.
    pub fn set_stacks(&mut self, stacks: crate::stacks::SharedStacks) {
        self.decoder.set_stacks(stacks);
    }

    /// The key values of `key` (owned).
    pub fn decode(&mut self, key: &[u8]) -> Vec<Value<'static>> {
        let h = RECORD_HEADER as usize;
        let n = key.len().min(self.record.len() - h);
        self.record[h..h + n].copy_from_slice(&key[..n]);
        match self.decoder.decode(&self.record) {
            Ok(rec) => rec.values.into_iter().map(owned).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn owned(v: Value<'_>) -> Value<'static> {
    match v {
        Value::Int(x) => Value::Int(x),
        Value::UInt(x) => Value::UInt(x),
        Value::Bool(x) => Value::Bool(x),
        Value::Pointer(x) => Value::Pointer(x),
        Value::Hex(x) => Value::Hex(x),
        Value::Str(s) => Value::Str(std::borrow::Cow::Owned(s.into_owned())),
        Value::Ip4(a) => Value::Ip4(a),
        Value::Ip6(a) => Value::Ip6(a),
        Value::Stack(s) => Value::Stack(s),
        // Bytes and arrays are not key types the compiler allows; shown as text.
        other => Value::Str(std::borrow::Cow::Owned(other.to_string())),
    }
}

/// The sort key of a row: the named value (a histogram: its total count)
/// or key, descending; `None` sorts by the first value.
pub fn sort_rows(
    rows: &mut [AggRow<'static>],
    plan: &AggPlan,
    keys: &[FieldPlan],
    by: Option<&str>,
) {
    enum By {
        Value(usize),
        Key(usize),
    }
    let by = match by {
        Some(name) => match plan.values.iter().position(|v| v.name == name) {
            Some(i) => By::Value(i),
            None => match keys.iter().position(|k| k.name == name) {
                Some(i) => By::Key(i),
                None => By::Value(0),
            },
        },
        None => By::Value(0),
    };
    let weight = |c: &AggCell| match c {
        AggCell::Int(v) => *v,
        AggCell::Hist(h) => h.counts.iter().map(|&n| n as i128).sum(),
    };
    match by {
        By::Value(i) => rows.sort_by(|a, b| {
            let (x, y) = (a.values.get(i).map(weight), b.values.get(i).map(weight));
            y.cmp(&x).then_with(|| key_order(a, b))
        }),
        By::Key(i) => rows.sort_by(|a, b| {
            value_order(b.keys.get(i), a.keys.get(i)).then_with(|| key_order(a, b))
        }),
    }
}

/// Ascending order of two key values of the same column.
fn value_order(a: Option<&Value<'_>>, b: Option<&Value<'_>>) -> std::cmp::Ordering {
    use std::cmp::Ordering::Equal;
    match (a, b) {
        (Some(Value::Int(x)), Some(Value::Int(y))) => x.cmp(y),
        (Some(Value::UInt(x)), Some(Value::UInt(y))) => x.cmp(y),
        (Some(Value::Hex(x)), Some(Value::Hex(y))) => x.cmp(y),
        (Some(Value::Pointer(x)), Some(Value::Pointer(y))) => x.cmp(y),
        (Some(Value::Ip4(x)), Some(Value::Ip4(y))) => x.cmp(y),
        (Some(Value::Ip6(x)), Some(Value::Ip6(y))) => x.cmp(y),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
        _ => Equal,
    }
}

/// Ties: by the keys, ascending, for a stable print.
fn key_order(a: &AggRow<'_>, b: &AggRow<'_>) -> std::cmp::Ordering {
    for (x, y) in a.keys.iter().zip(&b.keys) {
        let o = value_order(Some(x), Some(y));
        if o.is_ne() {
            return o;
        }
    }
    std::cmp::Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracectl_compiler::plan::{AggValue, Decode};

    fn plan(values: Vec<AggValue>) -> AggPlan {
        let mut off = 0;
        let values: Vec<AggValue> = values
            .into_iter()
            .map(|mut v| {
                v.off = off;
                off += v.func.value_bytes();
                v
            })
            .collect();
        AggPlan {
            key_size: 8,
            keys: vec![FieldPlan {
                name: "pid".into(),
                slot: RECORD_HEADER,
                size: 8,
                decode: Decode::Int {
                    size: 4,
                    signed: false,
                },
            }],
            value_size: off,
            values,
        }
    }

    fn val(name: &str, func: AggFunc, signed: bool) -> AggValue {
        AggValue {
            name: name.into(),
            func,
            off: 0,
            arg: Some(24),
            signed,
        }
    }

    /// Two CPUs' words as the templates leave them.
    fn raw(cpu0: &[u64], cpu1: &[u64]) -> Vec<u8> {
        cpu0.iter()
            .chain(cpu1)
            .flat_map(|w| w.to_ne_bytes())
            .collect()
    }

    fn ord(x: i64) -> u64 {
        (x as u64) ^ (1 << 63)
    }

    #[test]
    fn per_cpu_words_merge_by_function() {
        let p = plan(vec![
            val("n", AggFunc::Count, false),
            val("s", AggFunc::Sum, true),
            val("lo", AggFunc::Min, true),
            val("hi", AggFunc::Max, true),
            val("a", AggFunc::Avg, true),
        ]);
        // CPU 0 saw -5 and 3; CPU 1 saw 10.
        let c0 = [2, (-2i64) as u64, !ord(-5), ord(3), (-2i64) as u64, 2];
        let c1 = [1, 10, !ord(10), ord(10), 10, 1];
        let words = merge(&p, &raw(&c0, &c1), 48, 2);
        let cells = cells(&p, &words);
        let ints: Vec<i128> = cells
            .iter()
            .map(|c| match c {
                AggCell::Int(v) => *v,
                AggCell::Hist(_) => panic!(),
            })
            .collect();
        // count 3, sum 8, min -5, max 10, avg 8/3 = 2
        assert_eq!(ints, vec![3, 8, -5, 10, 2]);
    }

    #[test]
    fn unsigned_extremes_and_an_idle_cpu() {
        let p = plan(vec![
            val("lo", AggFunc::Min, false),
            val("hi", AggFunc::Max, false),
        ]);
        // Only CPU 1 saw events (0 and u64::MAX); CPU 0's words are zero.
        let words = merge(&p, &raw(&[0, 0], &[!0u64, u64::MAX]), 16, 2);
        match cells(&p, &words).as_slice() {
            [AggCell::Int(lo), AggCell::Int(hi)] => {
                assert_eq!((*lo, *hi), (0, u64::MAX as i128));
            }
            _ => panic!(),
        }
    }

    #[test]
    fn buckets_add_over_cpus() {
        let p = plan(vec![val("h", AggFunc::Hist, false)]);
        let mut c0 = vec![0u64; 66];
        let mut c1 = vec![0u64; 66];
        c0[3] = 2;
        c1[3] = 5;
        c1[65] = 1;
        let words = merge(&p, &raw(&c0, &c1), 66 * 8, 2);
        match &cells(&p, &words)[0] {
            AggCell::Hist(h) => {
                assert_eq!(h.counts.len(), 66);
                assert_eq!((h.counts[3], h.counts[65]), (7, 1));
            }
            _ => panic!(),
        }
    }

    #[test]
    fn default_max_keys_is_bounded_by_memory() {
        assert_eq!(max_keys(Some(5), 8, 2), 5);
        assert_eq!(max_keys(None, 8, 2), 10240);
        // A hist (528 bytes) on 256 CPUs: 64 MiB / 135168 = 496 keys.
        assert_eq!(max_keys(None, 528, 256), 496);
    }

    #[test]
    fn keys_decode_from_the_key_bytes() {
        let p = plan(vec![val("n", AggFunc::Count, false)]);
        let mut d = KeyDecoder::new(&p, &[]);
        let v = d.decode(&4242u64.to_ne_bytes());
        assert_eq!(v, vec![Value::UInt(4242)]);
    }
}
