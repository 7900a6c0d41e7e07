//! Printing aggregating probes during `tracectl run`: every `interval`
//! (then resetting, unless `cumulative`), and once more at exit.
//!
//! Each print reads every aggregating probe's map ([`crate::aggregate`]),
//! decodes the keys, sorts by `sort` (default: the first value),
//! descending, keeps the first `top` rows, and writes them in the output
//! format ([`crate::output::agg`]).

use std::io;
use std::time::Duration;

use tracectl_compiler::plan::{Format, Plan};

use crate::aggregate::{cells, sort_rows, KeyDecoder};
use crate::output::agg::{write_csv, write_json, write_table, AggPrint, AggRow};
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
        })
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
        let mut printed = 0;
        for ps in &mut self.probes {
            let Some(agg) = plan.probes[ps.probe].config.agg.as_ref() else {
                continue;
            };
            let Some(map) = session.aggs().iter_mut().find(|m| m.probe == ps.probe) else {
                continue;
            };
            let entries = map.read(agg, reset)?;
            let mut rows: Vec<AggRow<'static>> = entries
                .iter()
                .map(|e| AggRow {
                    keys: ps.keys.decode(&e.key),
                    values: cells(agg, &e.words),
                })
                .collect();
            sort_rows(&mut rows, agg, &agg.keys, self.sort.as_deref());
            if let Some(top) = self.top {
                rows.truncate(top as usize);
            }
            printed += rows.len();
            let p = AggPrint {
                probe: &ps.name,
                time_ns: now,
                key_names: &ps.key_names,
                value_names: &ps.value_names,
                rows: &rows,
            };
            self.buf.clear();
            match self.format {
                Format::Table => write_table(&p, &mut self.buf),
                Format::Json => write_json(&p, &mut self.buf),
                Format::Csv => {
                    write_csv(&p, !ps.csv_header_done, &mut self.buf);
                    ps.csv_header_done = true;
                }
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

/// Now, in nanoseconds since the Unix epoch.
fn wall_clock_ns() -> i128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}
