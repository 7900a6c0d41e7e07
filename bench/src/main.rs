//! `tracectl-bench`: start-up, memory, per-event overhead, throughput,
//! compile time, aggregations, start/end pairing, context, and stacks and
//! sampling of tracectl against bpftrace and a hand-written C/libbpf
//! program, written as a markdown report (bench/results.md).
//!
//! `scripts/bench.sh` installs the tools, builds everything and runs this;
//! see bench/README.md for the method.

mod agg;
mod cases;
mod ctx;
mod measure;
mod pair;
mod proc;
mod report;
mod stacks;

use std::path::PathBuf;
use std::time::Duration;

/// Everything a run needs: tool paths and how much to measure.
#[derive(Debug, Clone)]
pub struct Config {
    pub quick: bool,
    pub tracectl: PathBuf,
    pub bpftrace: PathBuf,
    pub floor: PathBuf,
    pub workload: PathBuf,
    pub specs: PathBuf,
    pub out: Option<PathBuf>,
    pub raw: Option<PathBuf>,
    /// Runs per start-up / print / compile measurement (the median is reported).
    pub runs: usize,
    /// Repetitions of each per-event measurement.
    pub reps: usize,
    /// Length of one per-event / throughput run.
    pub duration: Duration,
    /// Tracer on this CPU, the workload on the other one (None: unpinned).
    pub tracer_cpu: Option<usize>,
    pub workload_cpu: Option<usize>,
    /// Before each section, wait up to this long for compilers to finish.
    pub wait_quiet: Duration,
    /// Sections to run (all when empty): startup, overhead, throughput, compile,
    /// agg, pair, ctx, stacks.
    pub only: Vec<String>,
}

impl Config {
    pub fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

const USAGE: &str = "usage: tracectl-bench [--quick] [--out FILE] [--raw FILE] \
[--tracectl PATH] [--bpftrace PATH] [--floor PATH] [--workload PATH] [--specs DIR] \
[--runs N] [--reps N] [--duration-ms MS] [--wait-quiet SECS] [--no-pin] \
[--only startup,overhead,throughput,compile,agg,pair,ctx,stacks]";

fn parse_args() -> Result<Config, String> {
    let mut cfg = Config {
        quick: false,
        tracectl: "target/release/tracectl".into(),
        bpftrace: "bpftrace".into(),
        floor: "target/bench/floor".into(),
        workload: "target/bench/workload".into(),
        specs: "specs".into(),
        out: None,
        raw: None,
        runs: 11,
        reps: 5,
        duration: Duration::from_millis(1000),
        tracer_cpu: Some(0),
        workload_cpu: Some(1),
        wait_quiet: Duration::from_secs(600),
        only: Vec::new(),
    };
    let (mut runs, mut reps, mut dur, mut wait) = (None, None, None, None);
    let mut pin = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        let num = |s: String| {
            s.parse::<u64>()
                .map_err(|_| format!("`{s}` is not a number"))
        };
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--out" => cfg.out = Some(val("--out")?.into()),
            "--raw" => cfg.raw = Some(val("--raw")?.into()),
            "--tracectl" => cfg.tracectl = val("--tracectl")?.into(),
            "--bpftrace" => cfg.bpftrace = val("--bpftrace")?.into(),
            "--floor" => cfg.floor = val("--floor")?.into(),
            "--workload" => cfg.workload = val("--workload")?.into(),
            "--specs" => cfg.specs = val("--specs")?.into(),
            "--runs" => runs = Some(num(val("--runs")?)? as usize),
            "--reps" => reps = Some(num(val("--reps")?)? as usize),
            "--duration-ms" => dur = Some(Duration::from_millis(num(val("--duration-ms")?)?)),
            "--wait-quiet" => wait = Some(Duration::from_secs(num(val("--wait-quiet")?)?)),
            "--no-pin" => pin = false,
            "--only" => {
                cfg.only = val("--only")?.split(',').map(str::to_string).collect();
                for s in &cfg.only {
                    if ![
                        "startup",
                        "overhead",
                        "throughput",
                        "compile",
                        "agg",
                        "pair",
                        "ctx",
                        "stacks",
                    ]
                    .contains(&s.as_str())
                    {
                        return Err(format!("unknown section `{s}`\n{USAGE}"));
                    }
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument `{a}`\n{USAGE}")),
        }
    }
    if cfg.quick {
        cfg.runs = 2;
        cfg.reps = 1;
        cfg.duration = Duration::from_millis(150);
        cfg.wait_quiet = Duration::ZERO;
    }
    cfg.runs = runs.unwrap_or(cfg.runs).max(1);
    cfg.reps = reps.unwrap_or(cfg.reps).max(1);
    cfg.duration = dur.unwrap_or(cfg.duration);
    cfg.wait_quiet = wait.unwrap_or(cfg.wait_quiet);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !pin || cpus < 2 {
        cfg.tracer_cpu = None;
        cfg.workload_cpu = None;
    }
    Ok(cfg)
}

fn main() {
    let cfg = match parse_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tracectl-bench: {e}");
            std::process::exit(2);
        }
    };
    let mut results = measure::run_all(&cfg);
    let pairs = if cfg.wants("pair") {
        pair::pairing(&cfg, &mut results)
    } else {
        Vec::new()
    };
    let ctxs = if cfg.wants("ctx") {
        ctx::context(&cfg, &mut results)
    } else {
        Vec::new()
    };
    let stacks = if cfg.wants("stacks") {
        stacks::stacks(&cfg, &mut results)
    } else {
        stacks::Stacks::default()
    };
    results.elapsed = results.started.map(|t| t.elapsed()).unwrap_or_default();
    let md = report::markdown(&cfg, &results, &pairs, &ctxs, &stacks);
    print!("{md}");
    if let Some(out) = &cfg.out {
        if let Err(e) = std::fs::write(out, &md) {
            eprintln!("tracectl-bench: cannot write {}: {e}", out.display());
            std::process::exit(1);
        }
        eprintln!("tracectl-bench: wrote {}", out.display());
    }
    if let Some(raw) = &cfg.raw {
        let mut raw_json = results.raw_json();
        raw_json["pairing"] = pair::raw_json(&pairs);
        raw_json["context"] = ctx::raw_json(&ctxs);
        raw_json["stacks"] = stacks::raw_json(&stacks);
        let json = serde_json::to_string_pretty(&raw_json).unwrap_or_default();
        if let Err(e) = std::fs::write(raw, json) {
            eprintln!("tracectl-bench: cannot write {}: {e}", raw.display());
        }
    }
    if !results.errors.is_empty() {
        eprintln!("tracectl-bench: {} error(s):", results.errors.len());
        for e in &results.errors {
            eprintln!("  - {e}");
        }
        std::process::exit(1);
    }
}
