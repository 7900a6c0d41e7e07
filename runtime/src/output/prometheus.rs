//! Aggregations as Prometheus metrics: the text exposition format, version
//! 0.0.4 (`Content-Type: text/plain; version=0.0.4`), written to its
//! specification (prometheus.io, "Exposition formats"), for `/metrics`
//! (issue 13).
//!
//! One metric family per value column of an aggregating probe, named
//! `tracectl_<spec>_<value>` ([`metric_name`]: characters outside
//! `[a-zA-Z0-9_]` become `_`), with the probe's keys as labels (values
//! escaped, [`escape_label_value`]) and, when the spec has several probes, a
//! `probe` label:
//!
//! * `count()` and `sum()` are counters, named with the `_total` suffix as
//!   Prometheus' conventions ask (the totals since the start: Prometheus
//!   computes rates);
//! * `min()`, `max()`, `avg()` are gauges;
//! * `hist()` and `lhist()` are histograms: one `_bucket` sample per bucket
//!   with the cumulative count of values at or below its `le` (the bucket's
//!   largest value: buckets hold integers, so `[4, 8)` is `le="7"`), the
//!   last `le="+Inf"`, then `_sum` and `_count`. The negative and below-min
//!   buckets are the first bounds.
//!
//! Each family is preceded by its `# HELP` and `# TYPE` lines and written in
//! one run of lines, as the format requires.

use std::fmt::Write as _;

use super::agg::{AggCell, AggPrint, Histogram};

/// `tracectl_<spec>_<value>`: a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`
/// without the `:` reserved for recording rules): other characters become
/// `_`.
pub fn metric_name(spec: &str, value: &str) -> String {
    let mut out = String::from("tracectl_");
    for c in spec
        .chars()
        .chain(std::iter::once('_'))
        .chain(value.chars())
    {
        out.push(if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        });
    }
    out
}

/// A label name: a key column's name, made valid (`[a-zA-Z_][a-zA-Z0-9_]*`,
/// not starting with the reserved `__`).
pub fn label_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) || out.starts_with("__") {
        out.insert_str(0, "key_");
    }
    out
}

/// A label value in double quotes' escapes: `\` → `\\`, `"` → `\"`, line
/// feed → `\n` (the only three the format knows). Any other text, kernel
/// strings included, is valid UTF-8 here already.
pub fn escape_label_value(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// What a value column is in Prometheus' terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Grows: `count()`, `sum()` (the `_total` suffix is added).
    Counter,
    /// Goes up and down: `min()`, `max()`, `avg()`.
    Gauge,
    /// `hist()`, `lhist()`.
    Histogram,
}

impl Kind {
    /// The kind of an aggregate function by its name.
    pub fn of(func: &str) -> Kind {
        match func {
            "count" | "sum" => Kind::Counter,
            "hist" | "lhist" => Kind::Histogram,
            _ => Kind::Gauge,
        }
    }

    fn type_name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// One value column to expose: its aggregate function's kind, and for a
/// histogram the sum of its values per row (the format's `_sum`), when the
/// kernel kept one.
#[derive(Debug, Clone, Copy)]
pub struct Column<'a> {
    /// Counter, gauge or histogram.
    pub kind: Kind,
    /// Per row, the sum of the histogram's values (`None`: not kept).
    pub sums: Option<&'a [i128]>,
}

/// Appends one aggregating probe's print as metric families (see the
/// [module docs](self)): `spec` names the metrics, `probe_label` (when the
/// spec has several probes) is added as a `probe` label, `columns` has one
/// entry per value column of `p`.
pub fn write_print(
    out: &mut String,
    spec: &str,
    probe_label: Option<&str>,
    p: &AggPrint<'_>,
    columns: &[Column<'_>],
) {
    // `le` (histograms), `quantile` (summaries) and our `probe` label are
    // taken: a key of that name is `key_le`, ...
    let keys: Vec<String> = p
        .key_names
        .iter()
        .map(|k| label_name(k))
        .map(|k| match k.as_str() {
            "le" | "quantile" | "probe" => format!("key_{k}"),
            _ => k,
        })
        .collect();
    for (v, (value_name, col)) in p.value_names.iter().zip(columns).enumerate() {
        let mut name = metric_name(spec, value_name);
        if col.kind == Kind::Counter && !name.ends_with("_total") {
            name.push_str("_total");
        }
        let _ = writeln!(
            out,
            "# HELP {name} {value_name} of the tracectl spec {}, by {}",
            escape_help(spec),
            if keys.is_empty() {
                "nothing (one series)".to_string()
            } else {
                keys.join(", ")
            }
        );
        let _ = writeln!(out, "# TYPE {name} {}", col.kind.type_name());
        for (r, row) in p.rows.iter().enumerate() {
            let mut labels = String::new();
            if let Some(probe) = probe_label {
                labels.push_str(&format!("probe=\"{}\"", escape_label_value(probe)));
            }
            for (k, value) in keys.iter().zip(&row.keys) {
                if !labels.is_empty() {
                    labels.push(',');
                }
                let _ = write!(labels, "{k}=\"{}\"", escape_label_value(&value.to_string()));
            }
            match row.values.get(v) {
                Some(AggCell::Int(n)) => {
                    let _ = writeln!(out, "{name}{} {n}", braces(&labels));
                }
                Some(AggCell::Hist(h)) => {
                    let sum = col.sums.and_then(|s| s.get(r)).copied();
                    write_histogram(out, &name, &labels, h, sum);
                }
                None => {}
            }
        }
    }
}

/// `{labels}`, or nothing for no labels.
fn braces(labels: &str) -> String {
    if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    }
}

/// `# HELP` text escapes: `\` and line feed.
fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

/// One histogram's series: cumulative buckets up to `+Inf`, `_sum` (when
/// known) and `_count`.
fn write_histogram(out: &mut String, name: &str, labels: &str, h: &Histogram, sum: Option<i128>) {
    let sep = if labels.is_empty() { "" } else { "," };
    let mut cumulative = 0u64;
    let last = h.counts.len().saturating_sub(1);
    for (i, c) in h.counts.iter().enumerate() {
        cumulative += c;
        let le = match h.kind.bounds(i).max {
            Some(max) if i < last => max.to_string(),
            _ => continue,
        };
        let _ = writeln!(
            out,
            "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {cumulative}"
    );
    if let Some(sum) = sum {
        let _ = writeln!(out, "{name}_sum{} {sum}", braces(labels));
    }
    let _ = writeln!(out, "{name}_count{} {cumulative}", braces(labels));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Value;
    use crate::output::agg::{AggRow, HistKind};

    #[test]
    fn names_and_labels_are_valid_and_escaped() {
        assert_eq!(
            metric_name("tcp-connect", "calls"),
            "tracectl_tcp_connect_calls"
        );
        assert_eq!(label_name("comm"), "comm");
        assert_eq!(label_name("__x"), "key___x");
        assert_eq!(label_name("1st"), "key_1st");
        assert_eq!(
            escape_label_value("a\\b\"c\nd<img src=x>"),
            "a\\\\b\\\"c\\nd<img src=x>"
        );
    }

    #[test]
    fn counters_gauges_and_cumulative_buckets() {
        let keys = vec!["comm".to_string()];
        let values = vec!["calls".to_string(), "peak".to_string(), "size".to_string()];
        let h = Histogram {
            kind: HistKind::Linear {
                min: 0,
                max: 30,
                step: 10,
            },
            // below 0, [0,10), [10,20), [20,30), 30 and above
            counts: vec![0, 2, 0, 3, 1],
        };
        let rows = vec![AggRow {
            keys: vec![Value::Str(std::borrow::Cow::Borrowed("a\"b"))],
            values: vec![AggCell::Int(6), AggCell::Int(42), AggCell::Hist(h)],
        }];
        let p = AggPrint {
            probe: "p",
            time_ns: 0,
            key_names: &keys,
            value_names: &values,
            rows: &rows,
        };
        let sums = [75i128];
        let cols = [
            Column {
                kind: Kind::Counter,
                sums: None,
            },
            Column {
                kind: Kind::Gauge,
                sums: None,
            },
            Column {
                kind: Kind::Histogram,
                sums: Some(&sums),
            },
        ];
        let mut out = String::new();
        write_print(&mut out, "demo", None, &p, &cols);
        let want = "\
# HELP tracectl_demo_calls_total calls of the tracectl spec demo, by comm
# TYPE tracectl_demo_calls_total counter
tracectl_demo_calls_total{comm=\"a\\\"b\"} 6
# HELP tracectl_demo_peak peak of the tracectl spec demo, by comm
# TYPE tracectl_demo_peak gauge
tracectl_demo_peak{comm=\"a\\\"b\"} 42
# HELP tracectl_demo_size size of the tracectl spec demo, by comm
# TYPE tracectl_demo_size histogram
tracectl_demo_size_bucket{comm=\"a\\\"b\",le=\"-1\"} 0
tracectl_demo_size_bucket{comm=\"a\\\"b\",le=\"9\"} 2
tracectl_demo_size_bucket{comm=\"a\\\"b\",le=\"19\"} 2
tracectl_demo_size_bucket{comm=\"a\\\"b\",le=\"29\"} 5
tracectl_demo_size_bucket{comm=\"a\\\"b\",le=\"+Inf\"} 6
tracectl_demo_size_sum{comm=\"a\\\"b\"} 75
tracectl_demo_size_count{comm=\"a\\\"b\"} 6
";
        assert_eq!(out, want);
    }

    /// Every kind of family, every label hazard, checked by Prometheus' own
    /// `promtool check metrics` (scripts/test.sh installs it; without it
    /// the test fails when CI=true).
    #[test]
    fn exposition_passes_promtool() {
        let Ok(mut child) = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
        else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "promtool is missing (apt-get install prometheus)"
            );
            eprintln!("promtool not installed: exposition_passes_promtool checked nothing");
            return;
        };
        // `le` and `probe` are label names of their own.
        let keys = vec![
            "comm".to_string(),
            "pid".to_string(),
            "le".to_string(),
            "probe".to_string(),
        ];
        let values = vec!["calls".to_string(), "usecs".to_string()];
        let mut log2 = vec![0u64; HistKind::Log2.buckets()];
        log2[0] = 1; // a negative value
        log2[1] = 2; // zeros
        log2[12] = 5; // [1K, 2K)
        let hostile = "<img src=x onerror=alert(1)>\"\\\n日本";
        let rows = vec![
            AggRow {
                keys: vec![
                    Value::Str(hostile.into()),
                    Value::UInt(42),
                    Value::UInt(1),
                    Value::UInt(2),
                ],
                values: vec![
                    AggCell::Int(8),
                    AggCell::Hist(Histogram {
                        kind: HistKind::Log2,
                        counts: log2.clone(),
                    }),
                ],
            },
            AggRow {
                keys: vec![
                    Value::Str("bash".into()),
                    Value::UInt(7),
                    Value::UInt(1),
                    Value::UInt(2),
                ],
                values: vec![
                    AggCell::Int(0),
                    AggCell::Hist(Histogram {
                        kind: HistKind::Log2,
                        counts: vec![0; HistKind::Log2.buckets()],
                    }),
                ],
            },
        ];
        let p = AggPrint {
            probe: "read",
            time_ns: 0,
            key_names: &keys,
            value_names: &values,
            rows: &rows,
        };
        let cols = [
            Column {
                kind: Kind::Counter,
                sums: None,
            },
            Column {
                kind: Kind::Histogram,
                sums: Some(&[9000, 0]),
            },
        ];
        let mut out = String::new();
        write_print(&mut out, "my-spec.v2", Some("read \"x\""), &p, &cols);
        std::io::Write::write_all(child.stdin.as_mut().unwrap(), out.as_bytes()).unwrap();
        drop(child.stdin.take());
        let o = child.wait_with_output().unwrap();
        assert!(
            o.status.success(),
            "promtool rejects:\n{out}\n{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("tracectl_my_spec_v2_usecs_bucket{probe=\"read \\\"x\\\"\",comm=\"<img src=x onerror=alert(1)>\\\"\\\\\\n日本\",pid=\"42\",key_le=\"1\",key_probe=\"2\",le=\"2047\"} 8"), "{out}");
    }
}
