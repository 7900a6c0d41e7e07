//! The `tracectl` command line: argument parsing and the commands that only
//! need the compiler (`check`, `compile`, `fmt`, `schema`, `list`).
//! `run` lives in [`crate::run`].

use crate::recipes;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;
use tracectl_compiler::btf::Btf;
use tracectl_compiler::compile::{compile_source, Compiled, Options};
use tracectl_compiler::diag::{render, Diagnostic};
use tracectl_compiler::resolve::Env;
use tracectl_compiler::syntax::{self, print};
use tracectl_compiler::tracefs::{tracefs_root, TpSource};

/// Declarative eBPF tracing: specs checked against kernel BTF, run on
/// precompiled templates.
#[derive(Debug, Parser)]
#[command(name = "tracectl", version, about, long_about = None)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a spec or bundled recipe and print its events.
    Run(RunArgs),
    /// Check specs against kernel BTF without loading anything (0 when all are valid).
    Check(CheckArgs),
    /// Print the compiled plan of a spec as JSON.
    Compile(CompileArgs),
    /// Format a spec, keeping its comments and how its expressions are spelt:
    /// print it (--to: in YAML or the DSL), rewrite files (--write), or check
    /// them (--check).
    Fmt(FmtArgs),
    /// Print the JSON Schema of the YAML spec format.
    Schema,
    /// List the bundled recipes.
    List(ListArgs),
}

/// Where a spec comes from.
#[derive(Debug, Args, Clone)]
pub struct SpecSource {
    /// A DSL spec on the command line instead of a file or recipe.
    #[arg(short = 'e', long = "expr", value_name = "DSL")]
    pub expr: Option<String>,
}

/// Options shared by the compiling commands.
#[derive(Debug, Args, Clone)]
pub struct CompileOpts {
    /// Kernel BTF to check against (raw BTF or an ELF with .BTF); default: this kernel's.
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Set a spec parameter.
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{s}` is not NAME=VALUE"))
}

/// `tracectl run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Spec file, bundled recipe name, or `-` for standard input.
    #[arg(value_name = "SPEC|RECIPE", required_unless_present = "expr")]
    pub spec: Option<String>,
    /// Source.
    #[command(flatten)]
    pub source: SpecSource,
    /// Compilation options.
    #[command(flatten)]
    pub compile: CompileOpts,
    /// Output format (overrides the spec).
    #[arg(long, short = 'o', value_enum)]
    pub output: Option<OutputFormat>,
    /// Time column (overrides the spec).
    #[arg(long, value_enum)]
    pub time: Option<TimeArg>,
    /// Stop after this long (e.g. 10s, 500ms, 2m; at most 8760h).
    #[arg(long, short = 'd', value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many events.
    #[arg(long, short = 'n')]
    pub max_events: Option<u64>,
    /// Only events of this process (tgid).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub pid: Option<u32>,
    /// Only events of tasks in this cgroup v2 (a path under the cgroup2
    /// mount, or a full path), or below it; filtered in the kernel.
    #[arg(long, value_name = "PATH", conflicts_with = "container")]
    pub cgroup: Option<String>,
    /// Only events of this container (its id, or a prefix of it, as
    /// `docker ps` shows); filtered in the kernel by its cgroup.
    #[arg(long, value_name = "ID")]
    pub container: Option<String>,
    /// Loading options.
    #[command(flatten)]
    pub load: LoadOpts,
    /// Aggregating probes: print every this long (e.g. 1s), then reset
    /// (unless the spec says `cumulative: true`); overrides `output: interval`.
    #[arg(long, value_parser = parse_interval)]
    pub interval: Option<Duration>,
    /// Aggregating probes: at most this many rows per print (overrides `output: top`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub top: Option<u32>,
    /// Aggregating probes: distinct keys each probe keeps; events with a new
    /// key beyond it are counted and reported (overrides `output: max_keys`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub max_keys: Option<u32>,
    /// Paired probes (`end:`): starts each probe's stash holds until their
    /// end; when it is full the oldest is evicted, and counted (overrides
    /// the spec's stash size).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub stash: Option<u32>,
    /// Distinct stacks (`kstack`, `ustack`) the kernel keeps for the run;
    /// beyond them, or when a stack's hash bucket is taken, a stack is
    /// lost, and counted.
    #[arg(long, value_name = "N", default_value_t = tracectl_load_default_stacks(), value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
    pub stack_entries: u32,
    /// Write the stack-keyed aggregations as an interactive flame graph
    /// (a self-contained SVG) to FILE at exit, instead of printing them.
    #[arg(long, value_name = "FILE")]
    pub flamegraph: Option<std::path::PathBuf>,
    /// Ring buffer size in KiB (a power of two, at most 2097152).
    #[arg(long, default_value_t = 4096, value_name = "KIB", value_parser = parse_buffer_kib)]
    pub buffer_kib: u32,
    /// For tests (hidden): the templates wake tracectl once this many bytes
    /// wait in the ring buffer (default: a quarter of it; 18446744073709551615:
    /// never), so a test decides how records are delivered.
    #[arg(long, hide = true, value_name = "BYTES")]
    pub wakeup_bytes: Option<u64>,
    /// For tests (hidden): the longest wait for events before tracectl looks
    /// at signals and the duration (default 100ms). With `--wakeup-bytes`
    /// set to never and an hour here, records reach the output only when
    /// the run ends.
    #[arg(long, hide = true, value_name = "DURATION", value_parser = parse_poll_interval)]
    pub poll_interval: Option<Duration>,
}

/// `--output`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    Table,
    /// JSON Lines.
    Json,
    /// CSV.
    Csv,
    /// Folded stacks (`comm;outer;…;inner COUNT`) of stack-keyed
    /// aggregations, for FlameGraph, inferno, speedscope.
    Folded,
}

/// `--time`.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TimeArg {
    /// Seconds since the first event.
    Relative,
    /// Wall-clock time.
    Absolute,
    /// No time column.
    None,
}

/// The longest duration a flag takes (`--duration`): a year, beyond any
/// trace, and small enough for every clock computation made with it.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
/// [`MAX_DURATION`] as the error messages show it.
const MAX_DURATION_TEXT: &str = "8760h (365 days)";
/// How many characters of a bad value an error message repeats.
const SHOWN_CHARS: usize = 40;

/// A value as an error message repeats it: on one line, escaped, shortened.
fn shown(s: &str) -> String {
    let mut t: String = s
        .chars()
        .take(SHOWN_CHARS)
        .flat_map(char::escape_debug)
        .collect();
    if s.chars().nth(SHOWN_CHARS).is_some() {
        t.push('…');
    }
    t
}

/// Parses `10s`, `500ms`, `2m`, `1h`, or plain seconds, with an optional
/// decimal part, up to [`MAX_DURATION`]. Signs, exponents, `inf`, `NaN`,
/// unknown units and empty values are refused; every error is one sentence.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    const EXAMPLES: &str = "e.g. 10s, 500ms, 2m, 1h";
    let s = s.trim();
    if s.is_empty() {
        return Err(format!("an empty value is not a duration ({EXAMPLES})"));
    }
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    // Only ASCII digits and dots reach the float parser: no sign, exponent,
    // `inf` or `NaN`, so the value is finite or +inf and never negative.
    let v: f64 = match num.parse() {
        Ok(v) if !num.is_empty() => v,
        _ => return Err(format!("`{}` is not a duration ({EXAMPLES})", shown(s))),
    };
    let secs = match unit {
        "ms" => v / 1000.0,
        "s" | "" => v,
        "m" => v * 60.0,
        "h" => v * 3600.0,
        _ => {
            return Err(format!(
                "`{}` has an unknown unit `{}` (use ms, s, m or h)",
                shown(s),
                shown(unit)
            ))
        }
    };
    if secs.is_nan() || secs > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "`{}` is longer than the maximum, {MAX_DURATION_TEXT}",
            shown(s)
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--poll-interval`: a duration of at least a millisecond.
fn parse_poll_interval(s: &str) -> Result<Duration, String> {
    match parse_duration(s)? {
        d if d < Duration::from_millis(1) => {
            Err(format!("`{}` is shorter than the minimum, 1ms", shown(s)))
        }
        d => Ok(d),
    }
}

/// `--interval`: a duration of at least 1ms.
fn parse_interval(s: &str) -> Result<Duration, String> {
    parse_poll_interval(s)
}

/// `--stack-entries`'s default.
const fn tracectl_load_default_stacks() -> u32 {
    crate::load::DEFAULT_STACK_ENTRIES
}

/// The largest `--buffer-kib`: 2 GiB, the largest power of two of bytes a
/// ring buffer's size (a u32) can hold.
pub const MAX_BUFFER_KIB: u32 = 1 << 21;

/// `--buffer-kib`: a power of two of KiB, at most [`MAX_BUFFER_KIB`].
fn parse_buffer_kib(s: &str) -> Result<u32, String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a number of KiB (e.g. 1024, 4096)",
            shown(s)
        ));
    }
    match t.parse::<u32>() {
        Ok(k) if k > MAX_BUFFER_KIB => Err(format!(
            "{k} is more than the maximum, {MAX_BUFFER_KIB} (2 GiB)"
        )),
        Ok(k) if k.is_power_of_two() => Ok(k),
        Ok(k) => Err(format!("{k} is not a power of two (e.g. 1024, 4096)")),
        Err(_) => Err(format!(
            "`{}` is more than the maximum, {MAX_BUFFER_KIB} (2 GiB)",
            shown(s)
        )),
    }
}

/// `tracectl check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Spec files, recipe names, or `-` for standard input.
    #[arg(value_name = "SPEC|RECIPE", required_unless_present = "expr")]
    pub specs: Vec<String>,
    /// Source.
    #[command(flatten)]
    pub source: SpecSource,
    /// Compilation options.
    #[command(flatten)]
    pub compile: CompileOpts,
    /// Also load every probe into the kernel (verifier), attach and detach.
    #[arg(long)]
    pub load: bool,
    /// Loading options (with --load).
    #[command(flatten)]
    pub load_opts: LoadOpts,
}

/// Options of the commands that load programs into the kernel.
#[derive(Debug, Args, Clone)]
pub struct LoadOpts {
    /// Print the verifier's full log when it rejects a program.
    #[arg(long)]
    pub verbose_verifier: bool,
    /// Attach kfunc:/kretfunc: probes with kprobe/kretprobe even where
    /// fentry/fexit work (exercises the fallback).
    #[arg(long)]
    pub no_trampolines: bool,
}

/// `tracectl compile`.
#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Spec file, recipe name, or `-` for standard input.
    #[arg(value_name = "SPEC|RECIPE", required_unless_present = "expr")]
    pub spec: Option<String>,
    /// Source.
    #[command(flatten)]
    pub source: SpecSource,
    /// Compilation options.
    #[command(flatten)]
    pub compile: CompileOpts,
}

/// `tracectl fmt`.
#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Spec files, a recipe name, or `-` for standard input. Without
    /// --write or --check, one spec, printed to standard output.
    #[arg(value_name = "SPEC|RECIPE", required_unless_present = "expr")]
    pub specs: Vec<String>,
    /// Source.
    #[command(flatten)]
    pub source: SpecSource,
    /// Print in this syntax (default: the spec's own). With --write or
    /// --check, only the file's own syntax.
    #[arg(long, value_enum)]
    pub to: Option<FmtTarget>,
    /// Rewrite each file in place, when formatting changes it.
    #[arg(long, short = 'w', conflicts_with = "check")]
    pub write: bool,
    /// Change nothing; exit 1 when formatting would change a spec, naming
    /// it and showing the lines it would change (on stderr).
    #[arg(long)]
    pub check: bool,
}

/// `fmt --to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FmtTarget {
    /// YAML.
    Yaml,
    /// The compact DSL.
    Dsl,
}

/// `tracectl list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only recipes with this tag (`tracectl list` shows the tags).
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// Print the catalogue as one JSON document for scripts: the tags, the
    /// kernel features, and every recipe with its tool, tags, features,
    /// requirements, params and probes.
    #[arg(long)]
    pub json: bool,
}

/// A command failure: already reported to the user, or a message to print.
#[derive(Debug)]
pub enum Failure {
    /// Diagnostics were printed; exit 1.
    Reported,
    /// Print this sentence and exit 1.
    Message(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Failure::Message(s)
    }
}

/// The spec argument that means standard input.
pub const STDIN: &str = "-";

/// The spec on standard input, read to its end (at most one byte more
/// than the compiler accepts, so that an endless stream is refused).
fn read_stdin() -> Result<Source, Failure> {
    use std::io::Read;
    let limit = tracectl_compiler::syntax::MAX_SOURCE as u64 + 1;
    let mut text = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit)
        .read_to_end(&mut text)
        .map_err(|e| format!("cannot read the spec from standard input: {e}"))?;
    let text =
        String::from_utf8(text).map_err(|_| "standard input is not UTF-8 text".to_string())?;
    Ok(Source {
        name: "<stdin>".into(),
        syntax_name: "stdin".into(),
        text,
    })
}

/// A loaded spec text and the name used in diagnostics.
pub struct Source {
    /// Name for diagnostics (path, `recipe:NAME`, `<stdin>` or `<-e>`).
    pub name: String,
    /// File name used to pick the syntax.
    pub syntax_name: String,
    /// Text.
    pub text: String,
}

/// Reads a spec from a path, a bundled recipe name, `-` (standard input,
/// its syntax told by its first line, as any file's), or `-e`.
pub fn load_source(spec: Option<&str>, expr: Option<&str>) -> Result<Source, Failure> {
    if let Some(e) = expr {
        return Ok(Source {
            name: "<-e>".into(),
            syntax_name: "cmdline.trace".into(),
            text: e.to_string(),
        });
    }
    let spec = spec.ok_or_else(|| Failure::Message("no spec given".into()))?;
    if spec == STDIN {
        return read_stdin();
    }
    let path = std::path::Path::new(spec);
    if path.exists() {
        let text = std::fs::read(path).map_err(|e| format!("cannot read {spec}: {e}"))?;
        let text = String::from_utf8(text).map_err(|_| format!("{spec} is not UTF-8 text"))?;
        return Ok(Source {
            name: spec.to_string(),
            syntax_name: spec.to_string(),
            text,
        });
    }
    if let Some(r) = recipes::find(spec) {
        return Ok(Source {
            name: format!("recipe:{}", r.file),
            syntax_name: r.file.to_string(),
            text: r.source.to_string(),
        });
    }
    let names: Vec<&str> = recipes::all().iter().map(|r| r.name).collect();
    let mut msg = format!("`{spec}` is neither a file nor a bundled recipe");
    if let Some(b) = tracectl_compiler::diag::closest(spec, names.iter().copied()) {
        msg.push_str(&format!("; did you mean `{b}`?"));
    } else {
        msg.push_str(" (`tracectl list` shows the recipes)");
    }
    Err(Failure::Message(msg))
}

/// Loads kernel BTF: the given file or this kernel's.
pub fn load_btf(path: Option<&std::path::Path>) -> Result<Btf, Failure> {
    match path {
        Some(p) => Btf::from_file(p).map_err(|e| Failure::Message(e.to_string())),
        None => Btf::host().map_err(|e| {
            Failure::Message(format!(
                "{e}\nthis kernel exposes no BTF (/sys/kernel/btf/vmlinux); pass --btf FILE to check against another kernel's BTF"
            ))
        }),
    }
}

/// Where tracepoint formats come from: tracefs for this kernel, BTF for another's.
/// On this kernel, an unmounted tracefs is mounted first when we may (root);
/// otherwise formats come from BTF, which knows fewer syscall arguments.
pub fn tracepoint_source<'a>(btf: &'a Btf, other_kernel: bool) -> TpSource<'a> {
    if tracefs_root().is_none() {
        let _ = crate::load::ensure_tracefs();
    }
    match (other_kernel, tracefs_root()) {
        (false, Some(root)) => TpSource::Tracefs(root),
        _ => TpSource::Btf(btf),
    }
}

fn color() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Prints diagnostics for a source on stderr.
pub fn report(src: &Source, diags: &[Diagnostic]) {
    if !diags.is_empty() {
        eprint!("{}", render(&src.name, &src.text, diags, color()));
    }
    if let Some(line) = tracectl_compiler::diag::summary(&src.name, diags) {
        eprintln!("{line}");
    }
}

/// Compiles a source, reporting diagnostics.
pub fn compile_reporting(src: &Source, env: &Env, opts: &Options) -> Result<Compiled, Failure> {
    match compile_source(&src.syntax_name, &src.text, env, opts) {
        Ok(c) => {
            report(src, &c.warnings);
            Ok(c)
        }
        Err(d) => {
            report(src, &d);
            Err(Failure::Reported)
        }
    }
}

/// `tracectl check`.
pub fn check(args: &CheckArgs) -> Result<(), Failure> {
    if args.load && args.compile.btf.is_some() {
        return Err(Failure::Message(
            "--load loads the spec into this kernel, so it checks against this kernel's BTF: \
             drop --btf, or drop --load to check against another kernel"
                .into(),
        ));
    }
    // The loader first: it checks privileges and mounts tracefs.
    let loader = if args.load {
        Some(crate::run::loader_for_check(&args.load_opts)?)
    } else {
        None
    };
    let mut sources = Vec::new();
    if args.source.expr.is_some() {
        sources.push(load_source(None, args.source.expr.as_deref()));
    }
    for s in &args.specs {
        sources.push(load_source(Some(s), None));
    }
    let mut failed = 0;
    let mut plans = Vec::new();
    {
        let btf = load_btf(args.compile.btf.as_deref())?;
        let env = Env {
            btf: &btf,
            tracepoints: tracepoint_source(&btf, args.compile.btf.is_some()),
        };
        let opts = Options {
            params: args.compile.params.clone(),
            require_params: args.load,
        };
        for src in sources {
            let src = match src {
                Ok(s) => s,
                Err(Failure::Message(m)) => {
                    eprintln!("error: {m}");
                    failed += 1;
                    continue;
                }
                Err(Failure::Reported) => {
                    failed += 1;
                    continue;
                }
            };
            match compile_reporting(&src, &env, &opts) {
                // Uprobe targets are files of this machine: not checked
                // against another kernel's BTF.
                Ok(c) if args.compile.btf.is_none() && check_here(&src, &c.plan, true) => {
                    failed += 1
                }
                Ok(c) => plans.push((src.name, c.plan)),
                Err(_) => failed += 1,
            }
        }
        // The compiler's BTF is freed before anything is loaded (peak memory).
    }
    if let Some(loader) = &loader {
        for (name, plan) in &plans {
            if let Err(e) = crate::run::check_load(loader, plan) {
                eprintln!("error: {name}: {e}");
                failed += 1;
            }
        }
    }
    if failed > 0 {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// Checks what a compiled spec needs of this machine, without loading
/// anything ([`crate::here`]): its uprobe targets, and with `mechanisms`
/// the kernel's ways of probing functions. Reports the diagnostics,
/// located at the probes in the source; returns true when there is an
/// error.
pub fn check_here(src: &Source, plan: &tracectl_compiler::plan::Plan, mechanisms: bool) -> bool {
    let mut diags = crate::here::uprobe_targets(&src.text, plan);
    if mechanisms {
        diags.extend(crate::here::kernel_mechanisms(&src.text, plan));
    }
    report(src, &diags);
    tracectl_compiler::diag::has_errors(&diags)
}

/// `tracectl compile`.
pub fn compile(args: &CompileArgs) -> Result<(), Failure> {
    let src = load_source(args.spec.as_deref(), args.source.expr.as_deref())?;
    let btf = load_btf(args.compile.btf.as_deref())?;
    let env = Env {
        btf: &btf,
        tracepoints: tracepoint_source(&btf, args.compile.btf.is_some()),
    };
    let opts = Options {
        params: args.compile.params.clone(),
        require_params: true,
    };
    let c = compile_reporting(&src, &env, &opts)?;
    let json = serde_json::to_string_pretty(&c.plan).map_err(|e| e.to_string())?;
    println!("{json}");
    Ok(())
}

/// `tracectl fmt`: prints a spec formatted (in its own syntax or `--to`
/// the other), rewrites files in place (`--write`), or tells which would
/// change (`--check`). Comments are kept at their nodes.
pub fn fmt(args: &FmtArgs) -> Result<(), Failure> {
    use syntax::Syntax;
    let syntax_name = |t: Syntax| match t {
        Syntax::Yaml => "YAML",
        Syntax::Dsl => "DSL",
    };
    let mut inputs: Vec<Option<&str>> = args.specs.iter().map(|s| Some(s.as_str())).collect();
    if args.source.expr.is_some() {
        if !inputs.is_empty() {
            return Err(Failure::Message("give a spec file or -e, not both".into()));
        }
        inputs.push(None);
    }
    if args.write {
        for s in &inputs {
            match s {
                None => return Err(Failure::Message(
                    "--write rewrites files; a spec given with -e has none: drop --write to print it formatted".into(),
                )),
                Some(s) if *s == STDIN => return Err(Failure::Message(
                    "--write rewrites files; standard input is not one: use `tracectl fmt - > FILE`".into(),
                )),
                Some(s) if !std::path::Path::new(s).is_file() => {
                    let what = if recipes::find(s).is_some() { "a bundled recipe" } else { "no file" };
                    return Err(Failure::Message(format!(
                        "--write rewrites files; `{s}` is {what}"
                    )));
                }
                Some(_) => {}
            }
        }
    } else if !args.check && inputs.len() > 1 {
        return Err(Failure::Message(format!(
            "{} specs given: fmt prints one; use --write to format several in place, or --check",
            inputs.len()
        )));
    }
    let many = inputs.len() > 1;
    let mut failed = false;
    for input in inputs {
        // With several, one that cannot be read is reported and the others done.
        let src = match load_source(input, args.source.expr.as_deref()) {
            Ok(s) => s,
            Err(Failure::Message(m)) if many => {
                eprintln!("error: {m}");
                failed = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        let spec = match syntax::parse(&src.syntax_name, &src.text) {
            Ok(s) => s,
            Err(d) => {
                report(&src, &d);
                failed = true;
                continue;
            }
        };
        let own = spec.syntax;
        let to = match args.to {
            None => own,
            Some(FmtTarget::Yaml) => Syntax::Yaml,
            Some(FmtTarget::Dsl) => Syntax::Dsl,
        };
        if (args.write || args.check) && to != own {
            let (from, into) = (syntax_name(own), syntax_name(to));
            let (ext, flag) = match to {
                Syntax::Yaml => ("yaml", "yaml"),
                Syntax::Dsl => ("trace", "dsl"),
            };
            let new = std::path::Path::new(&src.name).with_extension(ext);
            let what = if args.write {
                format!(
                    "--write --to {flag}: {} holds {from}; converting it in place would leave {into} in a file read as {from}",
                    src.name
                )
            } else {
                format!(
                    "--check --to {flag}: --check compares {} with its formatting in its own syntax, {from}",
                    src.name
                )
            };
            return Err(Failure::Message(format!(
                "{what}; drop --to, or convert into a new file: `tracectl fmt {} --to {flag} > {}`",
                src.name,
                new.display()
            )));
        }
        let out = print::format(&spec, &src.text, to);
        if args.check {
            if out != src.text {
                eprint!("{}", not_formatted(&src.name, &src.text, &out));
                failed = true;
            }
        } else if args.write {
            if out != src.text {
                write_in_place(std::path::Path::new(&src.name), &out)
                    .map_err(|e| format!("cannot write {}: {e}", src.name))?;
                eprintln!("formatted {}", src.name);
            }
        } else {
            print!("{out}");
        }
    }
    if failed {
        Err(Failure::Reported)
    } else {
        Ok(())
    }
}

/// `fmt --check`'s report on a spec formatting would change: where (the
/// first line that changes), then each group of changed lines, `-` as
/// written and `+` as formatted (at most 5 groups of 10 lines each way).
fn not_formatted(name: &str, old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let hunks = line_diff(&a, &b);
    let first = hunks.first().map_or(a.len(), |h| h.0);
    let mut o = format!(
        "{name}:{}: not formatted (`tracectl fmt --write {name}` formats it)\n",
        first + 1
    );
    if hunks.is_empty() {
        o.push_str("(only line ends or the end of the file differ)\n");
    }
    const HUNKS: usize = 5;
    const LINES: usize = 10;
    for &(i, gone, j, came) in hunks.iter().take(HUNKS) {
        o.push_str(&format!("@@ -{},{gone} +{},{came} @@\n", i + 1, j + 1));
        for (sign, lines) in [('-', &a[i..i + gone]), ('+', &b[j..j + came])] {
            for l in lines.iter().take(LINES) {
                o.push_str(&format!("{sign}{l}\n"));
            }
            if lines.len() > LINES {
                o.push_str(&format!("{sign}... ({} more lines)\n", lines.len() - LINES));
            }
        }
    }
    if hunks.len() > HUNKS {
        o.push_str(&format!("... ({} more changes)\n", hunks.len() - HUNKS));
    }
    o
}

/// The groups of lines that differ between `a` and `b`, as (start in `a`,
/// lines of `a`, start in `b`, lines of `b`): a longest common subsequence
/// of lines, or one group for the whole differing middle of very long texts.
fn line_diff(a: &[&str], b: &[&str]) -> Vec<(usize, usize, usize, usize)> {
    let pre = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suf = a[pre..]
        .iter()
        .rev()
        .zip(b[pre..].iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (x, y) = (&a[pre..a.len() - suf], &b[pre..b.len() - suf]);
    if x.is_empty() && y.is_empty() {
        return Vec::new();
    }
    if x.len().saturating_mul(y.len()) > 4_000_000 {
        return vec![(pre, x.len(), pre, y.len())];
    }
    // lcs[i][j]: the longest common subsequence of x[i..] and y[j..].
    let w = y.len() + 1;
    let mut lcs = vec![0u32; (x.len() + 1) * w];
    for i in (0..x.len()).rev() {
        for j in (0..y.len()).rev() {
            lcs[i * w + j] = if x[i] == y[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let mut hunks = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < x.len() || j < y.len() {
        if i < x.len() && j < y.len() && x[i] == y[j] {
            i += 1;
            j += 1;
            continue;
        }
        let (i0, j0) = (i, j);
        while i < x.len() || j < y.len() {
            if i < x.len() && j < y.len() && x[i] == y[j] {
                break;
            }
            if j == y.len() || (i < x.len() && lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                i += 1;
            } else {
                j += 1;
            }
        }
        hunks.push((pre + i0, i - i0, pre + j0, j - j0));
    }
    hunks
}

/// Replaces the file at `path` (a symbolic link's target) with `text`
/// atomically: a new file in the same directory, with the old one's
/// permissions and owner, renamed over it.
fn write_in_place(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let path = std::fs::canonicalize(path)?;
    let meta = std::fs::metadata(&path)?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    let file = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{file}.tracectl-fmt.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.set_permissions(meta.permissions())?;
        {
            use std::os::unix::fs::MetadataExt;
            // Another owner's file keeps its owner (when we may: as root).
            let _ = std::os::unix::fs::fchown(&f, Some(meta.uid()), Some(meta.gid()));
        }
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// `tracectl schema`.
pub fn schema() -> Result<(), Failure> {
    println!("{}", tracectl_compiler::schema::SCHEMA);
    Ok(())
}

/// `tracectl list`: the recipes grouped by tag (in the catalogue's order),
/// each with its description; `--tag` keeps one group, `--json` prints
/// everything the catalogue and the specs say.
pub fn list(args: &ListArgs) -> Result<(), Failure> {
    let cat = recipes::catalogue().map_err(|e| {
        format!(
            "the recipe catalogue bundled into this tracectl is invalid; fix it and rebuild:\n{e}"
        )
    })?;
    if let Some(t) = &args.tag {
        if cat.tag(t).is_none() {
            let names = cat.tag_names();
            let mut msg = format!("`{t}` is not a recipe tag");
            if let Some(b) = tracectl_compiler::diag::closest(t, names.iter().copied()) {
                msg.push_str(&format!(" (did you mean `{b}`?)"));
            }
            msg.push_str(&format!("; the tags are: {}", names.join(", ")));
            return Err(Failure::Message(msg));
        }
    }
    let mut specs = Vec::new();
    for r in recipes::all() {
        let spec = syntax::parse(r.file, r.source).map_err(|d| {
            report(
                &Source {
                    name: format!("recipe:{}", r.file),
                    syntax_name: r.file.to_string(),
                    text: r.source.to_string(),
                },
                &d,
            );
            format!(
                "the bundled recipe {} does not parse; fix it and rebuild",
                r.file
            )
        })?;
        specs.push((r.name, spec));
    }
    let keep = |e: &recipes::Entry| args.tag.as_ref().is_none_or(|t| e.tags.contains(t));
    if args.json {
        let recipes: Vec<serde_json::Value> = specs
            .iter()
            .filter_map(|(name, spec)| cat.entry(name).filter(|e| keep(e)).map(|e| (spec, e)))
            .map(|(spec, e)| list_json(spec, e))
            .collect();
        let tags: Vec<serde_json::Value> = cat
            .tags
            .iter()
            .filter(|t| args.tag.as_ref().is_none_or(|x| *x == t.name))
            .map(|t| serde_json::json!({ "name": t.name, "description": t.description }))
            .collect();
        let features: Vec<serde_json::Value> = recipes::Feature::ALL
            .iter()
            .map(|f| serde_json::json!({ "name": f.name(), "meaning": f.meaning() }))
            .collect();
        let doc = serde_json::json!({ "tags": tags, "features": features, "recipes": recipes });
        let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let w = specs.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut first = true;
    for tag in &cat.tags {
        if args.tag.as_ref().is_some_and(|t| *t != tag.name) {
            continue;
        }
        if !first {
            println!();
        }
        first = false;
        println!("{}: {}", tag.name, tag.description);
        for (name, spec) in &specs {
            if cat.entry(name).is_some_and(|e| e.tags.contains(&tag.name)) {
                let d = spec.description.as_ref().map_or("", |d| d.value.as_str());
                println!("  {name:<w$}  {d}");
            }
        }
    }
    Ok(())
}

/// One recipe in `tracectl list --json`.
fn list_json(spec: &syntax::ast::Spec, e: &recipes::Entry) -> serde_json::Value {
    use syntax::ast::Literal;
    let params: Vec<serde_json::Value> = spec
        .params
        .iter()
        .map(|p| {
            let default = p.default.as_ref().map(|d| match &d.value {
                Literal::Int(i) => i64::try_from(*i)
                    .map(serde_json::Value::from)
                    .or_else(|_| u64::try_from(*i).map(serde_json::Value::from))
                    .unwrap_or_else(|_| serde_json::Value::from(i.to_string())),
                Literal::Str(s) => serde_json::Value::from(s.as_str()),
                Literal::Bool(b) => serde_json::Value::from(*b),
            });
            serde_json::json!({
                "name": p.name.value,
                "type": p.ty.value.name(),
                "default": default,
                "description": p.description.as_ref().map(|d| d.value.as_str()),
            })
        })
        .collect();
    let probes: Vec<serde_json::Value> = spec
        .probes
        .iter()
        .map(|p| {
            serde_json::json!({
                "probe": p.probe.value,
                "end": p.end.as_ref().map(|e| e.value.as_str()),
                "name": p.name.as_ref().map(|n| n.value.as_str()),
                "fields": p.fields.iter().map(|f| f.name.value.as_str()).collect::<Vec<_>>(),
                "by": p.by.iter().map(|k| k.name.value.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    serde_json::json!({
        "name": e.name,
        "description": spec.description.as_ref().map(|d| d.value.as_str()),
        "mirrors": e.mirrors,
        "tags": e.tags,
        "features": e.features.iter().map(|f| f.name()).collect::<Vec<_>>(),
        "needs_kernel_functions": e.features.iter().any(|f| f.needs_kernel_functions()),
        "requires": e.requires,
        "min_kernel": e.min_kernel,
        "lacks": e.lacks,
        "params": params,
        "probes": probes,
    })
}
