//! Printing aggregating probes during `tracectl run`: every `interval`
//! (then resetting, unless `cumulative`), and once more at exit.
//!
//! Each print reads every aggregating probe's map ([`crate::aggregate`]),
//! decodes the keys, sorts by `sort` (default: the first value),
//! descending, keeps the first `top` rows, and writes them in the output
//! format ([`crate::output::agg`]).

use std::collections::HashMap;
use std::io;
use std::time::Duration;

use tracectl_compiler::plan::{AggPlan, Decode, Format, Plan};
use tracectl_compiler::stacks::is_stack;

use crate::aggregate::{cells, combine, sort_rows, KeyDecoder};
use crate::decode::Value;
use crate::output::agg::{write_csv, write_json, write_table, AggPrint, AggRow};
use crate::output::flame::write_svg;
use crate::output::folded::{fold, write_folded, FoldedStack};
use crate::output::Writer;
use crate::session::Session;

/// What one aggregating probe prints with.
struct ProbeStats {
    probe: usize,
    name: String,
    keys: KeyDecoder,
    key_names: Vec<String>,
    value_names: Vec<String>,
    csv_header_done: bool,
    /// Keyed by a stack.
    stacks: bool,
    /// Keys that differ only in what is not printed (`kstack(N)`'s cut
    /// frames, the hidden pid of `ustack`) are merged when printed.
    merge: bool,
}

/// The printer of a plan's aggregating probes.
pub struct Stats {
    probes: Vec<ProbeStats>,
    format: Format,
    sort: Option<String>,
    top: Option<u32>,
    cumulative: bool,
    /// Print period; `None`: only at exit.
    pub interval: Option<Duration>,
    /// Prints written so far.
    pub prints: u64,
    buf: Vec<u8>,
    /// `--flamegraph`: the folded stacks of the stack-keyed probes so far.
    flame: Option<HashMap<Vec<String>, u64>>,
}

impl Stats {
    /// The printer for `plan`'s aggregating probes (`None` when it has none).
    pub fn new(plan: &Plan) -> Option<Stats> {
        let probes: Vec<ProbeStats> = plan
            .probes
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let a = p.config.agg.as_ref()?;
                Some(ProbeStats {
                    probe: i,
                    name: p.name.clone(),
                    keys: KeyDecoder::new(a, &plan.enums),
                    key_names: a.keys.iter().map(|k| k.name.clone()).collect(),
                    value_names: a.values.iter().map(|v| v.name.clone()).collect(),
                    csv_header_done: false,
                    stacks: a.keys.iter().any(|k| is_stack(k.decode)),
                    merge: a.keys.iter().any(|k| {
                        matches!(
                            k.decode,
                            Decode::Kstack { frames: 1.. }
                                | Decode::Ustack { .. }
                                | Decode::Usym { .. }
                        )
                    }),
                })
            })
            .collect();
        if probes.is_empty() {
            return None;
        }
        let s = &plan.output.stats;
        Some(Stats {
            probes,
            format: plan.output.format,
            sort: s.sort.clone(),
            top: s.top,
            cumulative: s.cumulative,
            interval: s.interval_ns.map(Duration::from_nanos),
            prints: 0,
            buf: Vec::new(),
            flame: None,
        })
    }

    /// Prints `kstack`/`ustack` keys from this session's stack map.
    pub fn set_stacks(&mut self, stacks: &crate::stacks::SharedStacks) {
        for ps in &mut self.probes {
            ps.keys.set_stacks(stacks.clone());
        }
    }

    /// Collects the stack-keyed probes' rows for a flame graph
    /// ([`Stats::flame_graph`]) instead of printing them.
    pub fn collect_flame_graph(&mut self) {
        self.flame = Some(HashMap::new());
    }

    /// The flame graph of what [`Stats::collect_flame_graph`] collected, as
    /// an SVG document, and its total weight; `None` when not collecting.
    pub fn flame_graph(&self, title: &str, unit: &str) -> Option<(Vec<u8>, u64)> {
        let flame = self.flame.as_ref()?;
        let mut stacks: Vec<FoldedStack> = flame.iter().map(|(f, w)| (f.clone(), *w)).collect();
        stacks.sort();
        let total = stacks.iter().map(|(_, w)| w).sum();
        let mut svg = Vec::new();
        write_svg(&mut svg, title, unit, &stacks);
        Some((svg, total))
    }

    /// Reads every aggregating probe's map and prints it; `last`: the print
    /// at exit (nothing is reset). Returns the keys printed.
    pub fn print(
        &mut self,
        session: &mut Session,
        plan: &Plan,
        out: &mut Writer,
        last: bool,
    ) -> io::Result<usize> {
        let now = wall_clock_ns();
        let reset = !last && !self.cumulative;
        // The flame graph is the whole run: every print's rows, or only
        // this one's when each print holds the totals so far.
        if let (Some(flame), false) = (self.flame.as_mut(), reset) {
            flame.clear();
        }
        let mut printed = 0;
        for ps in &mut self.probes {
            let Some(agg) = plan.probes[ps.probe].config.agg.as_ref() else {
                continue;
            };
            let Some(map) = session.aggs().iter_mut().find(|m| m.probe == ps.probe) else {
                continue;
            };
            let entries = map.read(agg, reset)?;
            let decoded = entries
                .into_iter()
                .map(|e| (ps.keys.decode(&e.key), e.words));
            let decoded: Vec<(Vec<Value<'static>>, Vec<u64>)> = if ps.merge {
                merge_printed(agg, decoded)
            } else {
                decoded.collect()
            };
            let mut rows: Vec<AggRow<'static>> = decoded
                .into_iter()
                .map(|(keys, words)| AggRow {
                    keys,
                    values: cells(agg, &words),
                })
                .collect();
            sort_rows(&mut rows, agg, &agg.keys, self.sort.as_deref());
            let mut p = AggPrint {
                probe: &ps.name,
                time_ns: now,
                key_names: &ps.key_names,
                value_names: &ps.value_names,
                rows: &rows,
            };
            if let Some(flame) = self.flame.as_mut().filter(|_| ps.stacks) {
                for (frames, w) in fold(&p) {
                    *flame.entry(frames).or_insert(0) += w;
                }
                continue;
            }
            let top = self
                .top
                .map_or(rows.len(), |t| (t as usize).min(rows.len()));
            p.rows = &rows[..top];
            printed += top;
            self.buf.clear();
            match self.format {
                Format::Table => write_table(&p, &mut self.buf),
                Format::Json => write_json(&p, &mut self.buf),
                Format::Csv => {
                    write_csv(&p, !ps.csv_header_done, &mut self.buf);
                    ps.csv_header_done = true;
                }
                Format::Folded => write_folded(&p, &mut self.buf),
            }
            out.write_raw(&self.buf)?;
        }
        self.prints += 1;
        out.flush()?;
        Ok(printed)
    }

    /// Per aggregating probe: its name and the events whose key did not
    /// fit in its map.
    pub fn dropped(&self, session: &mut Session) -> Vec<(String, u64)> {
        self.probes
            .iter()
            .filter_map(|ps| {
                let map = session.aggs().iter().find(|m| m.probe == ps.probe)?;
                Some((ps.name.clone(), map.dropped()))
            })
            .collect()
    }
}

/// Merges rows whose printed keys are equal (their text), values combined.
fn merge_printed(
    agg: &AggPlan,
    rows: impl Iterator<Item = (Vec<Value<'static>>, Vec<u64>)>,
) -> Vec<(Vec<Value<'static>>, Vec<u64>)> {
    let mut at: HashMap<Vec<String>, usize> = HashMap::new();
    let mut out: Vec<(Vec<Value<'static>>, Vec<u64>)> = Vec::new();
    for (keys, words) in rows {
        let text: Vec<String> = keys.iter().map(Value::to_string).collect();
        match at.get(&text) {
            Some(&i) => combine(agg, &mut out[i].1, &words),
            None => {
                at.insert(text, out.len());
                out.push((keys, words));
            }
        }
    }
    out
}

/// Now, in nanoseconds since the Unix epoch.
fn wall_clock_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}
