//! `tracectl run` and `tracectl check --load`: compile, load, attach, stream.
//!
//! The order matters: the [`Loader`] comes first (it checks privileges and
//! mounts tracefs, which the compiler reads tracepoint formats from), then
//! the spec is compiled against this kernel, then [`Loader::start`] loads
//! and attaches every probe. The event loop polls the shared ring buffer,
//! decodes each record and hands it to the [`Writer`], flushing after every
//! batch. It ends on Ctrl-C, SIGTERM, `--duration`, `--max-events`, or a
//! closed output pipe; dropping the [`Session`] detaches everything.

use std::io::{self, IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{
    compile_reporting, load_source, tracepoint_source, Failure, LoadOpts, OutputFormat, RunArgs,
    TimeArg,
};
use crate::decode::{Decoder, Value};
use crate::error::RuntimeError;
use crate::load::{Loader, LoaderOptions};
use crate::output::Writer;
use crate::session::Session;
use crate::stats::Stats;
use tracectl_compiler::compile::Options;
use tracectl_compiler::plan::{Format, Plan, TimeMode};
use tracectl_compiler::resolve::Env;

/// Longest wait for events before checking signals, deadlines and losses
/// (tests change it with the hidden `--poll-interval`).
const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// How often the live status line is redrawn.
const STATUS_INTERVAL: Duration = Duration::from_millis(250);

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

/// SIGINT and SIGTERM set [`STOP`]; without `SA_RESTART`, so a blocked
/// `poll` returns at once.
fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction with a handler that only stores an atomic.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

fn runtime_failure(e: RuntimeError) -> Failure {
    Failure::Message(e.to_string())
}

/// The cgroup directory `--cgroup` or `--container` names, if any.
fn cgroup_filter(args: &RunArgs) -> Result<Option<std::path::PathBuf>, Failure> {
    use crate::cgroups::{cgroup2_root, find_container, resolve_path};
    use std::path::{Path, PathBuf};
    type Find = fn(&Path, &str) -> Result<PathBuf, String>;
    let (what, find, arg): (&str, Find, &str) = match (&args.cgroup, &args.container) {
        (Some(path), _) => ("--cgroup", resolve_path, path),
        (None, Some(id)) => ("--container", find_container, id),
        (None, None) => return Ok(None),
    };
    cgroup2_root()
        .map_err(|e| format!("no cgroup v2 hierarchy is mounted: {e}"))
        .and_then(|root| find(&root, arg))
        .map(Some)
        .map_err(|e| Failure::Message(format!("{what}: {e}")))
}

/// `tracectl run`.
pub fn run(args: &RunArgs) -> Result<(), Failure> {
    let t0 = Instant::now();
    if args.compile.btf.is_some() {
        return Err(Failure::Message(
            "--btf checks a spec against another kernel; `run` always uses this kernel's BTF \
             (use `tracectl check --btf FILE SPEC`)"
                .into(),
        ));
    }
    let src = load_source(args.spec.as_deref(), args.source.expr.as_deref())?;
    install_signal_handlers();
    let cgroup = cgroup_filter(args)?;
    let loader = Loader::new(LoaderOptions {
        // At most 2 GiB: `--buffer-kib` is bounded when parsed.
        ring_bytes: args.buffer_kib.saturating_mul(1024),
        wakeup_bytes: args.wakeup_bytes,
        target_tgid: args.pid.unwrap_or(0),
        verbose_verifier: args.load.verbose_verifier,
        no_trampolines: args.load.no_trampolines,
        cgroup,
        stack_entries: args.stack_entries,
    })
    .map_err(runtime_failure)?;

    let btf = crate::cli::load_btf(None)?;
    let env = Env {
        btf: &btf,
        tracepoints: tracepoint_source(&btf, false),
    };
    let opts = Options {
        params: args.compile.params.clone(),
        require_params: true,
    };
    let compiled = compile_reporting(&src, &env, &opts)?;
    if crate::cli::check_here(&src, &compiled.plan, false) {
        return Err(Failure::Reported);
    }
    let mut plan = compiled.plan;
    if let Some(o) = args.output {
        plan.output.format = match o {
            OutputFormat::Table => Format::Table,
            OutputFormat::Json => Format::Json,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Folded => Format::Folded,
        };
    }
    check_stack_outputs(&plan, args.flamegraph.is_some())?;
    if let Some(t) = args.time {
        plan.output.time = match t {
            TimeArg::Relative => TimeMode::Relative,
            TimeArg::Absolute => TimeMode::Absolute,
            TimeArg::None => TimeMode::None,
        };
    }
    if let Some(n) = args.stash {
        let mut paired = false;
        for pair in plan.probes.iter_mut().filter_map(|p| p.pair.as_mut()) {
            pair.stash_entries = n;
            paired = true;
        }
        if !paired {
            return Err(Failure::Message(
                "--stash applies to paired probes (a probe with `end:`), and this spec has none"
                    .into(),
            ));
        }
    }
    let aggregating = plan.probes.iter().any(|p| p.config.agg.is_some());
    let stats = &mut plan.output.stats;
    for (flag, given) in [
        ("--interval", args.interval.is_some()),
        ("--top", args.top.is_some()),
        ("--max-keys", args.max_keys.is_some()),
    ] {
        if given && !aggregating {
            return Err(Failure::Message(format!(
                "{flag} applies to aggregating probes (fields such as `count()` or `hist(size)`), \
                 and this spec has none"
            )));
        }
    }
    if args.max_events.is_some() && plan.probes.iter().all(|p| p.config.agg.is_some()) {
        return Err(Failure::Message(
            "--max-events counts records, and every probe of this spec aggregates (no records): \
             stop it with --duration or Ctrl-C"
                .into(),
        ));
    }
    if let Some(i) = args.interval {
        stats.interval_ns = Some(i.as_nanos().min(u64::MAX as u128) as u64);
    }
    // A plan from elsewhere (`compile` output edited by hand) could say 0:
    // at least a millisecond, never a busy loop.
    if let Some(ns) = stats.interval_ns.as_mut() {
        *ns = (*ns).max(1_000_000);
    }
    if let Some(t) = args.top {
        stats.top = Some(t);
    }
    if let Some(k) = args.max_keys {
        stats.max_keys = Some(k);
    }
    drop(btf);

    let session = loader.start(&plan).map_err(runtime_failure)?;
    let n = plan.probes.len();
    let how: Vec<String> = plan
        .probes
        .iter()
        .zip(session.kinds())
        .zip(session.start_kinds())
        .map(|((p, k), start)| match start {
            Some(s) => format!("{}: {s} → {k}", p.name),
            None => format!("{}: {k}", p.name),
        })
        .collect();
    eprintln!(
        "tracectl: attached {n} probe{} ({}) in {:.1} ms; Ctrl-C to stop",
        if n == 1 { "" } else { "s" },
        how.join(", "),
        t0.elapsed().as_secs_f64() * 1e3
    );
    stream(session, &plan, args)
}

/// Why the event loop ended.
#[derive(Debug, PartialEq, Eq)]
enum End {
    Signal,
    Duration,
    MaxEvents,
    OutputClosed,
}

/// The event loop.
fn stream(session: Session, plan: &Plan, args: &RunArgs) -> Result<(), Failure> {
    let started = Instant::now();
    // `--duration` is at most a year (cli::MAX_DURATION): no overflow here.
    let deadline = args.duration.map(|d| started + d);
    let poll_interval = args.poll_interval.unwrap_or(POLL_INTERVAL);
    let stdout: Box<dyn Write> = Box::new(io::stdout().lock());
    let mut stats = Stats::new(plan);
    let stacks = session.stacks();
    let mut decoder = Decoder::new(plan);
    if let Some(s) = &stacks {
        decoder.set_stacks(s.clone());
        if let Some(st) = stats.as_mut() {
            st.set_stacks(s);
        }
    }
    if let (Some(_), Some(st)) = (&args.flamegraph, stats.as_mut()) {
        st.collect_flame_graph();
    }
    // Event records are printed only when a probe sends them.
    let has_events = plan.probes.iter().any(|p| p.config.agg.is_none());
    let mut next_print = stats
        .as_ref()
        .and_then(|s| s.interval)
        .map(|i| (started + i, i));
    let mut pump = Pump {
        session,
        decoder,
        writer: Writer::new(plan, plan.output.format, plan.output.time, stdout),
        status: Status::new(io::stderr().is_terminal()),
        spare: Vec::new(),
        events: 0,
        max: args.max_events.unwrap_or(u64::MAX),
        lost_seen: 0,
        write_error: None,
    };

    let header = if has_events {
        pump.writer.write_header().and_then(|_| pump.writer.flush())
    } else {
        Ok(())
    };
    let mut end = match header {
        Ok(()) => None,
        Err(e) => Some(pump.output_error(e)),
    };
    while end.is_none() {
        if STOP.load(Ordering::Relaxed) {
            end = Some(End::Signal);
            break;
        }
        let mut timeout = poll_interval;
        if let Some(d) = deadline {
            let now = Instant::now();
            if now >= d {
                end = Some(End::Duration);
                break;
            }
            timeout = timeout.min(d - now);
        }
        if let (Some((at, every)), Some(st)) = (next_print.as_mut(), stats.as_mut()) {
            let now = Instant::now();
            if now >= *at {
                pump.status.clear();
                if let Err(e) = st.print(&mut pump.session, plan, &mut pump.writer, false) {
                    end = Some(pump.output_error(e));
                    break;
                }
                // Skip the prints a stall (e.g. a stopped terminal) missed.
                while *at <= now {
                    *at += *every;
                }
            }
            timeout = timeout.min(at.saturating_duration_since(now));
        }
        end = pump.round(timeout)?;
        pump.status
            .tick(pump.events, pump.lost_seen, started.elapsed());
    }
    // Stopped by a signal or the duration: print what is still in the ring
    // buffer (the templates wake us only once a batch accumulated). A signal
    // that came while we were not waiting leaves them to this drain alone:
    // the interrupted wait drains nothing.
    if matches!(end, Some(End::Signal | End::Duration)) {
        pump.round(Duration::ZERO)?;
    }
    pump.status.clear();
    // The print at exit, as bpftrace prints its maps when it ends.
    let mut not_counted = Vec::new();
    if let Some(st) = stats.as_mut() {
        if pump.write_error.is_none() && end != Some(End::OutputClosed) {
            if let Err(e) = st.print(&mut pump.session, plan, &mut pump.writer, true) {
                pump.output_error(e);
            }
        }
        not_counted = st.dropped(&mut pump.session);
        if let Some(path) = &args.flamegraph {
            write_flame_graph(st, plan, path)?;
        }
    }
    if pump.write_error.is_none() {
        // `finish` also writes the event header when no record came.
        let done = if has_events {
            pump.writer.finish()
        } else {
            pump.writer.flush()
        };
        if let Err(e) = done {
            pump.output_error(e);
        }
    }
    // Count what arrived after the last poll, then detach everything.
    let lost = pump.session.lost();
    let unknown = pump.session.dropped_unknown();
    let Pump {
        mut session,
        decoder,
        events,
        write_error,
        ..
    } = pump;
    // Paired probes: detached first, so that the counts are final.
    session.detach();
    for (i, counts) in session.pair_counts() {
        let name = &plan.probes[i].name;
        match counts {
            Ok(c) => {
                eprintln!("{}", c.summary(name));
                if plan.output.format == Format::Json {
                    eprintln!("{}", c.json(name));
                }
            }
            Err(e) => eprintln!("tracectl: {name}: cannot read the pairing counters: {e}"),
        }
    }
    drop(session);
    let elapsed = started.elapsed();
    let mut summary = if has_events {
        format!(
            "tracectl: {events} event{} in {:.1} s, {lost} lost",
            if events == 1 { "" } else { "s" },
            elapsed.as_secs_f64()
        )
    } else {
        let prints = stats.as_ref().map_or(0, |s| s.prints);
        format!(
            "tracectl: aggregated for {:.1} s, {prints} print{}",
            elapsed.as_secs_f64(),
            if prints == 1 { "" } else { "s" }
        )
    };
    if unknown > 0 {
        summary.push_str(&format!(
            ", {unknown} dropped by a template that met a code it does not know \
             (a tracectl bug: please report it)"
        ));
    }
    for (probe, n) in not_counted.iter().filter(|(_, n)| *n > 0) {
        summary.push_str(&format!(
            ", {n} event{} of {probe} not counted: its map was full (raise --max-keys)",
            if *n == 1 { "" } else { "s" }
        ));
    }
    if decoder.errors() > 0 {
        summary.push_str(&format!(", {} undecodable", decoder.errors()));
    }
    if let Some(l) = stacks
        .as_ref()
        .and_then(|s| s.lock().ok().map(|s| s.losses()))
    {
        if l.lost > 0 {
            summary.push_str(&format!(
                ", {} stack{} lost (the stack map was full or a hash bucket taken: raise --stack-entries)",
                l.lost,
                if l.lost == 1 { "" } else { "s" }
            ));
        }
        if l.gone > 0 {
            summary.push_str(&format!(", {} stack ids not found", l.gone));
        }
    }
    summary.push_str(match end {
        Some(End::Signal) => " (interrupted)",
        Some(End::Duration) => " (duration reached)",
        Some(End::MaxEvents) => " (max events reached)",
        Some(End::OutputClosed) | None => " (output closed)",
    });
    eprintln!("{summary}");
    match write_error {
        Some(e) => Err(Failure::Message(format!("writing the output failed: {e}"))),
        None => Ok(()),
    }
}

/// `-o folded` needs every probe to be a stack-keyed aggregation;
/// `--flamegraph` needs one (the others print as usual).
fn check_stack_outputs(plan: &Plan, flamegraph: bool) -> Result<(), Failure> {
    use tracectl_compiler::stacks::folded_refusal;
    let refused = |what: &str, why: String| {
        Err(Failure::Message(format!(
            "{what}: {why} (e.g. `by: [comm, ustack]` with `samples: count()`)"
        )))
    };
    if plan.output.format == Format::Folded {
        if let Some((_, why)) = folded_refusal(&plan.probes) {
            return refused("folded output", why);
        }
    }
    let none_folds = plan
        .probes
        .iter()
        .all(|p| folded_refusal(std::slice::from_ref(p)).is_some());
    if flamegraph && none_folds {
        if let Some((_, why)) = folded_refusal(&plan.probes) {
            return refused("--flamegraph", why);
        }
    }
    Ok(())
}

/// Writes the flame graph `--flamegraph` collected to `path`.
fn write_flame_graph(stats: &Stats, plan: &Plan, path: &Path) -> Result<(), Failure> {
    // Weighed by the first value: samples for `count()`, else its unit.
    let unit = plan
        .probes
        .iter()
        .filter_map(|p| p.config.agg.as_ref())
        .find(|a| {
            a.keys
                .iter()
                .any(|k| tracectl_compiler::stacks::is_stack(k.decode))
        })
        .and_then(|a| a.values.first())
        .map_or("samples", |v| match v.func {
            tracectl_compiler::plan::AggFunc::Count => "samples",
            _ => v.name.as_str(),
        });
    let Some((svg, total)) = stats.flame_graph(&plan.name, unit) else {
        return Ok(());
    };
    std::fs::write(path, svg).map_err(|e| {
        Failure::Message(format!(
            "cannot write the flame graph {}: {e}",
            path.display()
        ))
    })?;
    eprintln!(
        "tracectl: flame graph of {total} {unit} written to {}",
        path.display()
    );
    Ok(())
}

/// Moves records from the ring buffer to the output.
struct Pump {
    session: Session,
    decoder: Decoder,
    writer: Writer,
    status: Status,
    spare: Vec<Value<'static>>,
    events: u64,
    max: u64,
    lost_seen: u64,
    write_error: Option<io::Error>,
}

impl Pump {
    /// Waits up to `timeout`, writes every waiting record, flushes, and
    /// reports new losses. Returns why the run must end, if it must.
    fn round(&mut self, timeout: Duration) -> Result<Option<End>, Failure> {
        let Pump {
            session,
            decoder,
            writer,
            status,
            spare,
            events,
            max,
            ..
        } = self;
        let mut batch_error: Option<io::Error> = None;
        session
            .poll(timeout, &mut |raw| {
                if *events >= *max || batch_error.is_some() {
                    return;
                }
                // A record that does not decode is counted by the decoder
                // and reported in the summary.
                if let Ok(rec) = decoder.decode_with(raw, spare) {
                    status.clear();
                    if let Err(e) = writer.write_record(&rec) {
                        batch_error = Some(e);
                    }
                    rec.recycle(spare);
                    *events += 1;
                }
            })
            .map_err(runtime_failure)?;
        if let Some(e) = batch_error.or_else(|| self.writer.flush().err()) {
            return Ok(Some(self.output_error(e)));
        }
        let lost = self.session.lost();
        if lost > self.lost_seen {
            self.status.clear();
            eprintln!(
                "tracectl: {} events lost: the ring buffer was full ({} lost in total; \
                 try a larger --buffer-kib)",
                lost - self.lost_seen,
                lost
            );
            self.lost_seen = lost;
        }
        Ok((self.events >= self.max).then_some(End::MaxEvents))
    }

    /// A closed pipe (`| head`) ends the run quietly; other write errors
    /// are failures.
    fn output_error(&mut self, e: io::Error) -> End {
        if e.kind() != io::ErrorKind::BrokenPipe {
            self.write_error = Some(e);
        }
        End::OutputClosed
    }
}

/// The live status line on a terminal's stderr: events, rate, lost.
struct Status {
    enabled: bool,
    shown: bool,
    last_draw: Option<Instant>,
    last_events: u64,
}

impl Status {
    fn new(enabled: bool) -> Status {
        Status {
            enabled,
            shown: false,
            last_draw: None,
            last_events: 0,
        }
    }

    fn tick(&mut self, events: u64, lost: u64, elapsed: Duration) {
        if !self.enabled {
            return;
        }
        let now = Instant::now();
        let since = match self.last_draw {
            Some(t) if now.duration_since(t) < STATUS_INTERVAL => return,
            Some(t) => now.duration_since(t),
            None => elapsed,
        };
        let rate = (events - self.last_events) as f64 / since.as_secs_f64().max(1e-3);
        let mut err = io::stderr().lock();
        let _ = write!(
            err,
            "\r\x1b[K[{events} events, {rate:.0}/s, {lost} lost, {:.0} s]",
            elapsed.as_secs_f64()
        );
        let _ = err.flush();
        self.shown = true;
        self.last_draw = Some(now);
        self.last_events = events;
    }

    fn clear(&mut self) {
        if self.shown {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[K");
            let _ = err.flush();
            self.shown = false;
        }
    }
}

/// Loads, attaches and detaches every probe of a plan (`check --load`).
pub fn check_load(loader: &Loader, plan: &Plan) -> Result<(), String> {
    loader.check_load(plan).map_err(|e| e.to_string())
}

/// Creates the loader for `check --load` (before compiling: it mounts tracefs).
pub fn loader_for_check(opts: &LoadOpts) -> Result<Loader, Failure> {
    Loader::new(LoaderOptions {
        verbose_verifier: opts.verbose_verifier,
        no_trampolines: opts.no_trampolines,
        ..LoaderOptions::default()
    })
    .map_err(runtime_failure)
}
