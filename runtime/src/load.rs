//! Loading a plan into the kernel.
//!
//! [`Loader`] checks privileges, mounts bpffs/tracefs when missing, parses
//! kernel BTF once, and [`Loader::start`] loads and attaches every probe of
//! a plan, returning a [`Session`] that streams its records.
//!
//! One object per probe: each probe loads its kind's template with its own
//! `CFG`. All probes of a plan share ONE `events` ring buffer and ONE `lost`
//! counter: the first object creates them and pins them into a private bpffs
//! directory (`/sys/fs/bpf/tracectl-PID-N/`), the following objects open the
//! pins (aya's `map_pin_path`), and the pins and directory are removed before
//! `start` returns — on success and on every error path. The kernel keeps the
//! maps alive through the programs and our file descriptors.
//!
//! Kernel functions (`Attach::Kernel`) in `Auto` mode use fentry/fexit and fall
//! back to kprobe/kretprobe when the kernel refuses the trampoline.
//!
//! A paired probe (start/end, `ProbePlan.pair`) is two programs, each a
//! probe program of its own (its kind's template, candidates and
//! configuration): the start (`pair.start`, `pair.start_config`), loaded
//! first, then the end (the probe's `attach` and `config`). They share the
//! probe's `stash` and `pair_counts` maps through pins of their own in the
//! same private directory (`stash_N`, `pair_counts_N` for probe N); the
//! unpaired probes share one minimal pair (`stash_unpaired`, …).

use std::borrow::Cow;
use std::ffi::CString;
use std::fs;
use std::io;
use std::num::NonZeroU32;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aya::maps::{CgroupArray, PerCpuArray, RingBuf, StackTraceMap};
use aya::programs::perf_event::{PerfEventConfig, PerfEventScope, SamplePolicy, SoftwareEvent};
use aya::programs::uprobe::UProbeScope;
use aya::programs::{
    BtfTracePoint, FEntry, FExit, KProbe, PerfEvent, ProgramError, TracePoint, UProbe,
};
use aya::{Btf, Ebpf, EbpfError, EbpfLoader, VerifierLogLevel};
use tracectl_compiler::plan::{
    Attach, Base, Builtin, KernelMode, PairRole, Plan, ProbeConfig, ProbePlan, TimeMode,
    PLAN_FORMAT,
};

use crate::abi::{self, MAX_REG_ARGS};
use crate::aggregate;
use crate::error::{verifier_summary, RuntimeError};
use crate::pair::{PairMaps, PAIR_COUNTS_MAP, STASH_MAP};
use crate::session::Session;
use crate::stacks::Stacks;
use crate::templates::{Kind, CGROUP_FILTER_MAP, EVENTS_MAP, LOST_MAP, STACKS_MAP};

/// Default ring-buffer size: 4 MiB.
pub const DEFAULT_RING_BYTES: u32 = 4 << 20;

/// Where bpffs is (or gets) mounted.
pub const BPFFS: &str = "/sys/fs/bpf";
/// Where tracefs is (or gets) mounted.
pub const TRACEFS: &str = "/sys/kernel/tracing";
const TRACEFS_DEBUG: &str = "/sys/kernel/debug/tracing";
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

/// Options of a [`Loader`].
#[derive(Debug, Clone)]
pub struct LoaderOptions {
    /// Ring-buffer size in bytes; rounded up to a power-of-two number of pages.
    pub ring_bytes: u32,
    /// Wake the reader once this many bytes wait; `None` = a quarter of the
    /// ring buffer. Below it, records wait for the reader's poll timeout.
    pub wakeup_bytes: Option<u64>,
    /// Only events of this process (tgid); 0 = every process (`--pid`).
    /// Uprobes are then also attached to that process only.
    pub target_tgid: u32,
    /// On a verifier rejection, include the whole verifier log in the error.
    pub verbose_verifier: bool,
    /// `kfunc:`/`kretfunc:` probes skip fentry/fexit and use kprobe/kretprobe
    /// (tests the fallback on kernels where trampolines work).
    pub no_trampolines: bool,
    /// Only events of tasks in this cgroup v2 directory or below it
    /// (`--cgroup`, `--container`), filtered in the kernel.
    pub cgroup: Option<PathBuf>,
    /// Entries of the shared stack map when a probe reads `kstack` or
    /// `ustack` (`--stack-entries`): distinct stacks kept for the run.
    pub stack_entries: u32,
}

/// Default entries of the stack map (as bcc's profile and stackcount).
pub const DEFAULT_STACK_ENTRIES: u32 = 16384;

impl Default for LoaderOptions {
    fn default() -> Self {
        LoaderOptions {
            ring_bytes: DEFAULT_RING_BYTES,
            wakeup_bytes: None,
            target_tgid: 0,
            verbose_verifier: false,
            no_trampolines: false,
            cgroup: None,
            stack_entries: DEFAULT_STACK_ENTRIES,
        }
    }
}

impl LoaderOptions {
    /// The ring-buffer size the kernel will use: a power-of-two number of pages.
    pub fn effective_ring_bytes(&self) -> u32 {
        let page = page_size();
        let pages = self.ring_bytes.max(1).div_ceil(page);
        pages.next_power_of_two().saturating_mul(page)
    }

    /// The wakeup threshold passed to the templates.
    pub fn effective_wakeup_bytes(&self) -> u64 {
        self.wakeup_bytes
            .unwrap_or(self.effective_ring_bytes() as u64 / 4)
    }
}

fn page_size() -> u32 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u32
    } else {
        4096
    }
}

/// Loads plans. Create one per process: it parses kernel BTF at most once,
/// and only for probes that need it (tp_btf, fentry/fexit).
pub struct Loader {
    /// Does this kernel expose BTF? (The file exists; parsed on first use.)
    btf_present: bool,
    /// Kernel BTF for aya, parsed on first use: parsing takes ~15 ms and
    /// ~15 MiB, which tracepoint, kprobe and uprobe probes do not need.
    btf: OnceLock<Result<Btf, String>>,
    options: LoaderOptions,
    init_time: Duration,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("btf_present", &self.btf_present)
            .field("options", &self.options)
            .finish()
    }
}

impl Loader {
    /// Checks privileges, raises RLIMIT_MEMLOCK where allowed, mounts bpffs
    /// and tracefs when missing, and removes pins left by dead tracectl
    /// processes. Kernel BTF is parsed later, when a probe needs it (a
    /// missing BTF is only an error for those probes).
    pub fn new(options: LoaderOptions) -> Result<Loader, RuntimeError> {
        let t0 = Instant::now();
        check_privileges()?;
        raise_memlock();
        ensure_bpffs()?;
        ensure_tracefs()?;
        remove_stale_pins();
        Ok(Loader {
            btf_present: Path::new(VMLINUX_BTF).exists(),
            btf: OnceLock::new(),
            options,
            init_time: t0.elapsed(),
        })
    }

    /// The options.
    pub fn options(&self) -> &LoaderOptions {
        &self.options
    }

    /// Time [`Loader::new`] took (privilege checks, mounts).
    pub fn init_time(&self) -> Duration {
        self.init_time
    }

    /// Is kernel BTF available? (Parses it on first use.)
    pub fn has_btf(&self) -> bool {
        self.btf().is_ok()
    }

    /// Loads and attaches every probe of `plan`. Nothing stays pinned in
    /// bpffs once this returns, whatever the outcome.
    pub fn start(&self, plan: &Plan) -> Result<Session, RuntimeError> {
        let t0 = Instant::now();
        if plan.format != PLAN_FORMAT {
            return Err(RuntimeError::PlanFormat {
                found: plan.format,
                expected: PLAN_FORMAT,
            });
        }
        if plan.probes.is_empty() {
            return Err(RuntimeError::Plan {
                probe: plan.name.clone(),
                message: "the plan has no probes".into(),
            });
        }
        let wakeup = self.options.effective_wakeup_bytes();
        let timestamps = plan.output.time != TimeMode::None;
        // A spec whose probes all aggregate sends no record: one page of
        // ring buffer (the templates still reference the map).
        let ring_bytes = if plan.probes.iter().all(|p| p.config.agg.is_some()) {
            page_size()
        } else {
            self.options.effective_ring_bytes()
        };

        // Every program to load: one per probe, two per paired probe.
        let programs = programs(plan)?;
        // Encode every candidate configuration before the loader borrows them.
        let mut configs: Vec<Vec<(Kind, Vec<u8>)>> = Vec::with_capacity(programs.len());
        for (i, probe) in &programs {
            let probe: &ProbePlan = probe;
            let mut per_kind = Vec::new();
            let mut first_err = None;
            for kind in candidates(&probe.attach, self.btf_present, self.options.no_trampolines) {
                match encode_for(
                    kind,
                    probe,
                    *i as u32,
                    self.options.target_tgid,
                    wakeup,
                    timestamps,
                    self.options.cgroup.is_some(),
                ) {
                    Ok(bytes) => per_kind.push((kind, bytes)),
                    Err(e) => {
                        first_err.get_or_insert(e);
                    }
                }
            }
            if per_kind.is_empty() {
                return Err(first_err.unwrap_or_else(|| self.no_mechanism(probe)));
            }
            configs.push(per_kind);
        }

        let pins = PinDir::create()?;
        let level = if self.options.verbose_verifier {
            VerifierLogLevel::VERBOSE | VerifierLogLevel::STATS
        } else {
            VerifierLogLevel::DEBUG | VerifierLogLevel::STATS
        };
        let uses_stacks = programs.iter().any(|(_, p)| reads_stacks(&p.config));
        let stacks_pin = pins.path.join(STACKS_MAP);
        let events_pin = pins.path.join(EVENTS_MAP);
        let lost_pin = pins.path.join(LOST_MAP);
        let cgroup_pin = pins.path.join(CGROUP_FILTER_MAP);
        // No kernel BTF for CO-RE relocations: the templates have none (our
        // vendored aya's EbpfLoader::new() does not parse it; vendor/README.md).
        let mut el = EbpfLoader::new();
        el.map_max_entries(EVENTS_MAP, ring_bytes)
            .map_pin_path(EVENTS_MAP, events_pin.as_path())
            .map_pin_path(LOST_MAP, lost_pin.as_path())
            .map_pin_path(CGROUP_FILTER_MAP, cgroup_pin.as_path())
            .map_max_entries(
                STACKS_MAP,
                if uses_stacks {
                    self.options.stack_entries.max(1)
                } else {
                    1
                },
            )
            .map_pin_path(STACKS_MAP, stacks_pin.as_path())
            .verifier_log_level(level);

        let cpus = if plan.probes.iter().any(|p| p.config.agg.is_some()) {
            aggregate::possible_cpus()
                .map_err(|e| RuntimeError::io("reading the possible CPUs failed", e))?
        } else {
            1
        };
        let mut objects: Vec<Ebpf> = Vec::with_capacity(programs.len());
        let mut kinds = Vec::with_capacity(plan.probes.len());
        let mut start_kinds = vec![None; plan.probes.len()];
        // Object index of each probe's (end) program.
        let mut object_of = Vec::with_capacity(plan.probes.len());
        for ((i, probe), per_kind) in programs.iter().zip(&configs) {
            let (i, probe): (usize, &ProbePlan) = (*i, probe);
            // Each probe's private aggregation map: sized for its keys and
            // values, or minimal when it sends records.
            match &probe.config.agg {
                Some(a) => {
                    let keys = aggregate::max_keys(plan.output.stats.max_keys, a.value_size, cpus);
                    el.map_sizes(aggregate::AGG_MAP, a.key_size, a.value_size)
                        .map_max_entries(aggregate::AGG_MAP, keys)
                        .map_sizes(aggregate::AGG_INIT_MAP, 4, a.value_size);
                }
                None => {
                    el.map_sizes(aggregate::AGG_MAP, 8, 8)
                        .map_max_entries(aggregate::AGG_MAP, 1)
                        .map_sizes(aggregate::AGG_INIT_MAP, 4, 8);
                }
            }
            // The probe's stash and counters: shared by its two programs
            // (pinned under names of its own), minimal when unpaired.
            // Unpaired probes share one minimal pair (created by the first,
            // reopened through its pins by the others: two maps fewer to
            // create per probe, as `events` and `lost` are shared).
            let pin_name = match (&plan.probes[i].pair, &probe.config.pair) {
                (Some(pp), Some(pc)) => {
                    el.map_sizes(STASH_MAP, pc.key_size, pc.value_size)
                        .map_max_entries(STASH_MAP, pp.stash_entries.max(1));
                    i.to_string()
                }
                _ => {
                    el.map_sizes(STASH_MAP, 8, 8).map_max_entries(STASH_MAP, 1);
                    "unpaired".to_string()
                }
            };
            el.map_pin_path(STASH_MAP, pins.path.join(format!("{STASH_MAP}_{pin_name}")))
                .map_pin_path(
                    PAIR_COUNTS_MAP,
                    pins.path.join(format!("{PAIR_COUNTS_MAP}_{pin_name}")),
                );
            let (kind, ebpf) = self.load_probe(&mut el, probe, per_kind)?;
            objects.push(ebpf);
            if is_start(probe) {
                start_kinds[i] = Some(kind);
            } else {
                kinds.push(kind);
                object_of.push(objects.len() - 1);
            }
        }
        drop(el);
        pins.remove()?;

        let mut aggs = Vec::new();
        let mut pairs = Vec::new();
        for (i, probe) in plan.probes.iter().enumerate() {
            let object = &mut objects[object_of[i]];
            if let Some(a) = &probe.config.agg {
                aggs.push(aggregate::AggMap::take(i, object, a, cpus).map_err(|e| internal(&e))?);
            }
            if let (Some(pp), Some(pc)) = (&probe.pair, &probe.config.pair) {
                pairs.push(
                    PairMaps::take(i, object, pc.key_size, pp.stash_entries.max(1))
                        .map_err(|e| internal(&e))?,
                );
            }
        }

        let first = &mut objects[0];
        if let Some(dir) = &self.options.cgroup {
            // Until this entry is set, the programs drop every event.
            set_cgroup_filter(first, dir)?;
        }
        let stacks = if uses_stacks {
            let map = first
                .take_map(STACKS_MAP)
                .ok_or_else(|| internal("the template has no stacks map"))?;
            let map = StackTraceMap::try_from(map).map_err(|e| internal(&error_chain(&e)))?;
            Some(Arc::new(Mutex::new(Stacks::new(map))))
        } else {
            None
        };
        let ring = first
            .take_map(EVENTS_MAP)
            .ok_or_else(|| internal("the template has no events map"))?;
        let ring = RingBuf::try_from(ring).map_err(|e| internal(&error_chain(&e)))?;
        let lost = first
            .take_map(LOST_MAP)
            .ok_or_else(|| internal("the template has no lost map"))?;
        let lost: PerCpuArray<_, u64> =
            PerCpuArray::try_from(lost).map_err(|e| internal(&error_chain(&e)))?;
        let mut session = Session::new(
            objects,
            kinds,
            start_kinds,
            ring,
            lost,
            aggs,
            pairs,
            ring_bytes,
            t0.elapsed(),
        );
        session.stacks = stacks;
        Ok(session)
    }

    /// Loads, attaches and detaches every probe of `plan` (`tracectl check
    /// --load`).
    pub fn check_load(&self, plan: &Plan) -> Result<(), RuntimeError> {
        self.start(plan)?.close();
        Ok(())
    }

    fn no_mechanism(&self, probe: &ProbePlan) -> RuntimeError {
        match &probe.attach {
            Attach::TpBtf { .. }
            | Attach::Kernel {
                mode: KernelMode::Fentry,
                ..
            } => RuntimeError::NoBtf {
                detail: self.btf().err().unwrap_or_default(),
            },
            _ => internal("no template fits the probe"),
        }
    }

    /// Loads one probe, trying its candidate templates in order.
    fn load_probe<'a>(
        &'a self,
        el: &mut EbpfLoader<'a>,
        probe: &ProbePlan,
        per_kind: &'a [(Kind, Vec<u8>)],
    ) -> Result<(Kind, Ebpf), RuntimeError> {
        let mut trampoline_error: Option<RuntimeError> = None;
        for (kind, config) in per_kind {
            let kind = *kind;
            if matches!(kind, Kind::Kprobe | Kind::Kretprobe) && !kprobes_available() {
                return Err(self.kernel_unavailable(probe, trampoline_error.is_some(), None));
            }
            el.override_global(abi::CONFIG_SYMBOL, config.as_slice(), true);
            let template = kind.template();
            let mut ebpf = el
                .load(template.object)
                .map_err(|e| load_error(probe, kind, e))?;
            match self.load_and_attach(&mut ebpf, kind, probe) {
                Ok(()) => return Ok((kind, ebpf)),
                Err(e) => {
                    let fallback = matches!(kind, Kind::Fentry | Kind::Fexit)
                        && per_kind.len() > 1
                        && !matches!(e, RuntimeError::NotPrivileged);
                    if fallback {
                        trampoline_error = Some(e);
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        match trampoline_error {
            Some(e) => Err(self.kernel_unavailable(probe, false, Some(e))),
            None => Err(internal("no template fits the probe")),
        }
    }

    fn load_and_attach(
        &self,
        ebpf: &mut Ebpf,
        kind: Kind,
        probe: &ProbePlan,
    ) -> Result<(), RuntimeError> {
        let template = kind.template();
        let prog = ebpf
            .program_mut(template.program)
            .ok_or_else(|| internal("the template has no program"))?;
        let verr = |e: ProgramError| program_error(probe, kind, e, self.options.verbose_verifier);
        let attach_err = |target: &str, e: ProgramError| attach_error(probe, target, e);
        match (&probe.attach, kind) {
            (Attach::Tracepoint { category, name }, Kind::Tracepoint) => {
                let p: &mut TracePoint = prog.try_into().map_err(verr)?;
                let tp = format!("{category}:{name}");
                let id = Path::new(&tracefs_root())
                    .join("events")
                    .join(category)
                    .join(name);
                if !id.exists() {
                    return Err(RuntimeError::TracepointMissing {
                        probe: probe.name.clone(),
                        tracepoint: tp,
                    });
                }
                p.load().map_err(verr)?;
                p.attach(category, name).map_err(|e| attach_err(&tp, e))?;
            }
            (Attach::TpBtf { name }, Kind::TpBtf) => {
                let btf = self.need_btf()?;
                let p: &mut BtfTracePoint = prog.try_into().map_err(verr)?;
                p.load(name, btf).map_err(|e| match e {
                    ProgramError::Btf(_) => RuntimeError::TracepointMissing {
                        probe: probe.name.clone(),
                        tracepoint: format!("tp_btf:{name} (no btf_trace_{name} in kernel BTF)"),
                    },
                    e => verr(e),
                })?;
                p.attach()
                    .map_err(|e| attach_err(&format!("tp_btf:{name}"), e))?;
            }
            (Attach::Kernel { function, .. }, Kind::Fentry | Kind::Fexit) => {
                let btf = self.need_btf()?;
                let unavailable = |reason: String| RuntimeError::KernelProbeUnavailable {
                    probe: probe.name.clone(),
                    function: function.clone(),
                    reason: with_alternative(reason, function),
                };
                let load_err = |e: ProgramError| match e {
                    ProgramError::Btf(_) => {
                        unavailable(format!("kernel BTF has no function {function}"))
                    }
                    // No verifier log: refused before verification (no
                    // trampoline support, lockdown, a non-traceable function).
                    ProgramError::LoadError {
                        io_error,
                        verifier_log,
                    } if verifier_log.to_string().trim().is_empty() && privileged() => {
                        unavailable(format!(
                            "this kernel refuses BPF trampolines (fentry/fexit) for {function} \
                             ({io_error})"
                        ))
                    }
                    e => verr(e),
                };
                let attach_err = |e: ProgramError| {
                    unavailable(format!(
                        "this kernel refuses to attach a BPF trampoline (fentry/fexit) to \
                         {function} ({})",
                        error_chain(&e)
                    ))
                };
                if kind == Kind::Fentry {
                    let p: &mut FEntry = prog.try_into().map_err(verr)?;
                    p.load(function, btf).map_err(load_err)?;
                    p.attach().map_err(attach_err)?;
                } else {
                    let p: &mut FExit = prog.try_into().map_err(verr)?;
                    p.load(function, btf).map_err(load_err)?;
                    p.attach().map_err(attach_err)?;
                }
            }
            (Attach::Kernel { function, .. }, Kind::Kprobe | Kind::Kretprobe) => {
                let p: &mut KProbe = prog.try_into().map_err(verr)?;
                p.load().map_err(verr)?;
                p.attach(function, 0)
                    .map_err(|e| attach_err(&format!("{kind}:{function}"), e))?;
            }
            (Attach::Uprobe { binary, symbol, .. }, Kind::Uprobe | Kind::Uretprobe) => {
                let p: &mut UProbe = prog.try_into().map_err(verr)?;
                p.load().map_err(verr)?;
                let scope = match NonZeroU32::new(self.options.target_tgid) {
                    Some(pid) => UProbeScope::OneProcess(pid),
                    None => UProbeScope::AllProcesses,
                };
                p.attach(symbol.as_str(), binary.as_str(), scope)
                    .map_err(|e| uprobe_error(probe, binary, symbol, e))?;
            }
            (Attach::Profile { hz }, Kind::PerfEvent) => {
                let p: &mut PerfEvent = prog.try_into().map_err(verr)?;
                p.load().map_err(verr)?;
                let cpus = aya::util::online_cpus()
                    .map_err(|(what, e)| RuntimeError::io(format!("reading {what} failed"), e))?;
                attach_profile(p, *hz, &cpus)
                    .map_err(|e| attach_err(&format!("profile:hz:{hz}"), e))?;
            }
            _ => return Err(internal("template and attach point do not match")),
        }
        Ok(())
    }

    /// Kernel BTF, parsed on first use; `Err` says why there is none.
    fn btf(&self) -> Result<&Btf, String> {
        self.btf
            .get_or_init(|| {
                Btf::from_sys_fs().map_err(|e| {
                    if self.btf_present {
                        error_chain(&e)
                    } else {
                        "no such file".to_string()
                    }
                })
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    fn need_btf(&self) -> Result<&Btf, RuntimeError> {
        self.btf().map_err(|detail| RuntimeError::NoBtf { detail })
    }

    /// The error for a kernel function no mechanism can probe.
    fn kernel_unavailable(
        &self,
        probe: &ProbePlan,
        tried_trampoline: bool,
        trampoline_error: Option<RuntimeError>,
    ) -> RuntimeError {
        let Attach::Kernel { function, mode, .. } = &probe.attach else {
            return internal("not a kernel function probe");
        };
        let no_kprobes = !kprobes_available();
        let trampoline_failed = tried_trampoline || trampoline_error.is_some();
        let reason = match (no_kprobes, trampoline_failed, *mode) {
            (true, true, _) => format!(
                "this kernel has no kprobes (CONFIG_KPROBES is off) and refuses BPF \
                 trampolines for {function}"
            ),
            (true, false, KernelMode::Auto) if !self.btf_present => format!(
                "this kernel has no kprobes (CONFIG_KPROBES is off) and no BTF for BPF \
                 trampolines on {function}"
            ),
            (true, false, _) => {
                format!("this kernel has no kprobes (CONFIG_KPROBES is off), needed for {function}")
            }
            (false, _, _) => {
                // kprobes exist: the trampoline failed and the kprobe was not tried.
                match &trampoline_error {
                    Some(e) => return retarget(e, probe),
                    None => format!("{function} cannot be probed"),
                }
            }
        };
        RuntimeError::KernelProbeUnavailable {
            probe: probe.name.clone(),
            function: function.clone(),
            reason: with_alternative(reason, function),
        }
    }
}

fn retarget(e: &RuntimeError, probe: &ProbePlan) -> RuntimeError {
    RuntimeError::Load {
        probe: probe.name.clone(),
        template: "fentry/fexit",
        detail: e.to_string(),
    }
}

/// Appends "; try the tracepoint X" (and a recipe) to a reason.
fn with_alternative(mut reason: String, function: &str) -> String {
    if let Some(alt) = tracepoint_alternative(function) {
        reason.push_str(&format!("; try the tracepoint {}", alt.tracepoint));
        if let Some(recipe) = alt.recipe {
            reason.push_str(&format!(", e.g. the bundled recipe {recipe}"));
        }
    } else {
        reason.push_str("; look for a tracepoint that reports the same event instead");
    }
    reason
}

/// A tracepoint that observes (nearly) the same thing as a kernel function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracepointAlternative {
    /// `category:name`.
    pub tracepoint: &'static str,
    /// A bundled recipe using it, if any.
    pub recipe: Option<&'static str>,
}

/// Known tracepoint alternatives to commonly probed kernel functions.
pub fn tracepoint_alternative(function: &str) -> Option<TracepointAlternative> {
    let (tracepoint, recipe) = match function {
        "tcp_connect" | "tcp_v4_connect" | "tcp_v6_connect" => {
            ("sock:inet_sock_set_state", Some("tcpconnect-tp"))
        }
        "inet_csk_accept" | "security_sock_graft" => {
            ("sock:inet_sock_set_state", Some("tcpaccept-tp"))
        }
        "tcp_set_state" => ("sock:inet_sock_set_state", Some("tcpstates")),
        "do_sys_openat2" | "do_sys_open" => ("syscalls:sys_enter_openat", Some("opensnoop")),
        "do_execveat_common" | "bprm_execve" => ("syscalls:sys_enter_execve", Some("execsnoop")),
        "tcp_retransmit_skb" => ("tcp:tcp_retransmit_skb", Some("tcpretrans")),
        "oom_kill_process" => ("oom:mark_victim", Some("oomkill")),
        "do_send_sig_info" | "send_signal" => ("signal:signal_generate", Some("sigsnoop")),
        _ => return None,
    };
    Some(TracepointAlternative { tracepoint, recipe })
}

/// A paired probe's start program as a probe program of its own: its
/// attach point and configuration, named after the probe.
fn start_program(probe: &ProbePlan) -> Option<ProbePlan> {
    let pair = probe.pair.as_ref()?;
    Some(ProbePlan {
        name: format!("{} (start)", probe.name),
        probe: probe.probe.clone(),
        attach: pair.start.clone(),
        config: pair.start_config.clone(),
        fields: vec![],
        pair: None,
    })
}

/// Is this program a paired probe's start?
fn is_start(program: &ProbePlan) -> bool {
    matches!(&program.config.pair, Some(p) if p.role == PairRole::Start)
}

/// Every program of `plan` in load order, with its probe's index: a paired
/// probe's own program (the end), then its start program. The two halves
/// of a pair must agree on the stash's key and value sizes.
fn programs(plan: &Plan) -> Result<Vec<(usize, Cow<'_, ProbePlan>)>, RuntimeError> {
    let mut out = Vec::with_capacity(plan.probes.len());
    for (i, probe) in plan.probes.iter().enumerate() {
        let err = |message: String| RuntimeError::Plan {
            probe: probe.name.clone(),
            message,
        };
        let role = probe.config.pair.as_ref().map(|p| p.role);
        match (start_program(probe), role) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(err(
                    "the probe's program is half of a pair, but the plan has no start".into(),
                ))
            }
            (Some(_), role) if role != Some(PairRole::End) => {
                return Err(err("a paired probe's own program must be its end".into()))
            }
            (Some(start), _) => {
                let (s, e) = match (&start.config.pair, &probe.config.pair) {
                    (Some(s), Some(e)) if s.role == PairRole::Start => (s, e),
                    _ => {
                        return Err(err(
                            "a paired probe's start configuration must be a start".into()
                        ))
                    }
                };
                if (s.key_size, s.value_size) != (e.key_size, e.value_size) {
                    return Err(err(format!(
                        "the start stashes {} bytes under a {}-byte key, the end expects {} \
                         under {}",
                        s.value_size, s.key_size, e.value_size, e.key_size
                    )));
                }
                // The end attaches first: a start stashed before its end
                // program exists would wait for the thread's next start
                // (and show as `replaced`); an end before its start is
                // only an end without a start.
                out.push((i, Cow::Borrowed(probe)));
                out.push((i, Cow::Owned(start)));
                continue;
            }
        }
        out.push((i, Cow::Borrowed(probe)));
    }
    Ok(out)
}

/// The templates to try for an attach point, in order. `no_trampolines`
/// makes `kfunc:` probes skip fentry/fexit.
fn candidates(attach: &Attach, have_btf: bool, no_trampolines: bool) -> Vec<Kind> {
    match attach {
        Attach::Tracepoint { .. } => vec![Kind::Tracepoint],
        Attach::TpBtf { .. } => {
            if have_btf {
                vec![Kind::TpBtf]
            } else {
                vec![]
            }
        }
        Attach::Kernel { ret, mode, .. } => {
            let (tramp, kp) = if *ret {
                (Kind::Fexit, Kind::Kretprobe)
            } else {
                (Kind::Fentry, Kind::Kprobe)
            };
            match mode {
                KernelMode::Auto if have_btf && !no_trampolines => vec![tramp, kp],
                KernelMode::Auto | KernelMode::Kprobe => vec![kp],
                KernelMode::Fentry if have_btf => vec![tramp],
                KernelMode::Fentry => vec![],
            }
        }
        Attach::Uprobe { ret, .. } => vec![if *ret { Kind::Uretprobe } else { Kind::Uprobe }],
        Attach::Profile { .. } => vec![Kind::PerfEvent],
    }
}

/// Samples every online CPU `hz` times a second (the CPU clock, in
/// frequency mode, as perf and bcc's profile). CPUs brought online later
/// are not sampled: the set is fixed at start, as bpftrace's.
fn attach_profile(p: &mut PerfEvent, hz: u32, cpus: &[u32]) -> Result<(), ProgramError> {
    for &cpu in cpus {
        p.attach(
            PerfEventConfig::Software(SoftwareEvent::CpuClock),
            PerfEventScope::AllProcessesOneCpu { cpu },
            SamplePolicy::Frequency(hz as u64),
            false,
        )?;
    }
    Ok(())
}

/// Does a program of this configuration read a stack?
fn reads_stacks(config: &ProbeConfig) -> bool {
    config.ops.iter().any(|op| {
        matches!(
            op.base,
            Base::Builtin {
                builtin: Builtin::Kstack | Builtin::Ustack
            }
        )
    })
}

/// Puts the cgroup directory `dir` in the shared `cgroup_filter` map.
fn set_cgroup_filter(object: &mut Ebpf, dir: &Path) -> Result<(), RuntimeError> {
    let map = object
        .map_mut(CGROUP_FILTER_MAP)
        .ok_or_else(|| internal("the template has no cgroup_filter map"))?;
    let mut array = CgroupArray::try_from(map).map_err(|e| internal(&error_chain(&e)))?;
    let file = std::fs::File::open(dir)
        .map_err(|e| RuntimeError::io(format!("cannot open the cgroup {}", dir.display()), e))?;
    array.set(0, file.as_raw_fd(), 0).map_err(|e| {
        RuntimeError::io(
            format!("cannot filter by the cgroup {}", dir.display()),
            io::Error::other(error_chain(&e)),
        )
    })
}

/// Encodes a probe's configuration for one template kind, checking what the
/// kind can provide in its args area. Without `timestamps` (no time column)
/// the template skips reading the clock.
pub fn encode_for(
    kind: Kind,
    probe: &ProbePlan,
    probe_index: u32,
    target_tgid: u32,
    wakeup_bytes: u64,
    timestamps: bool,
    cgroup_filter: bool,
) -> Result<Vec<u8>, RuntimeError> {
    let plan_err = |message: String| RuntimeError::Plan {
        probe: probe.name.clone(),
        message,
    };
    let mut config: ProbeConfig = probe.config.clone();
    check_args_area(kind, &config).map_err(plan_err)?;
    if matches!(kind, Kind::Kprobe | Kind::Uprobe) {
        config.nargs = config.nargs.min(MAX_REG_ARGS);
    }
    let mut cfg =
        abi::build(&config, probe_index, target_tgid, wakeup_bytes).map_err(|e| plan_err(e.0))?;
    // A paired program always takes the time: the latency is the
    // difference of its two programs' timestamps.
    if !timestamps && config.pair.is_none() {
        cfg.flags |= abi::CFG_NO_TS;
    }
    if cgroup_filter {
        cfg.flags |= abi::CFG_CGROUP;
    }
    Ok(cfg.to_bytes())
}

/// Every `Base::Arg` must read bytes this kind fills.
fn check_args_area(kind: Kind, config: &ProbeConfig) -> Result<(), String> {
    use tracectl_compiler::plan::RET_OFF;
    for (i, op) in config.ops.iter().enumerate() {
        let Base::Arg { off, size, .. } = op.base else {
            continue;
        };
        let end = off as u64 + size as u64;
        let in_ret = off >= RET_OFF && end <= RET_OFF as u64 + 8;
        let ok = match kind {
            Kind::Tracepoint => end <= config.ctx_copy as u64,
            Kind::TpBtf | Kind::Fentry => end <= config.nargs as u64 * 8,
            Kind::Fexit => end <= config.nargs as u64 * 8 || in_ret,
            Kind::Kprobe | Kind::Uprobe => end <= config.nargs.min(MAX_REG_ARGS) as u64 * 8,
            Kind::Kretprobe | Kind::Uretprobe => in_ret,
            // A sample has no arguments.
            Kind::PerfEvent => false,
        };
        if !ok {
            let what = match kind {
                Kind::Tracepoint => format!(
                    "the {} bytes copied from the tracepoint record",
                    config.ctx_copy
                ),
                Kind::Kretprobe | Kind::Uretprobe => {
                    format!("what a {kind} provides (only the return value)")
                }
                Kind::Kprobe | Kind::Uprobe => format!(
                    "the {} argument register(s) a {kind} copies",
                    config.nargs.min(MAX_REG_ARGS)
                ),
                _ => format!("the {} argument(s) a {kind} copies", config.nargs),
            };
            return Err(format!(
                "value op {i} reads bytes {off}..{end} of the args area, outside {what}"
            ));
        }
    }
    Ok(())
}

fn internal(msg: &str) -> RuntimeError {
    RuntimeError::Io {
        context: "internal error".into(),
        error: io::Error::other(msg.to_string()),
    }
}

/// `error: source: source` — aya's errors keep the interesting part in sources.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(src) = cur {
        let t = src.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = src.source();
    }
    s
}

fn is_eperm(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
}

fn load_error(probe: &ProbePlan, kind: Kind, e: EbpfError) -> RuntimeError {
    let mut detail = error_chain(&e);
    if let EbpfError::MapError(aya::maps::MapError::CreateError { io_error, .. }) = &e {
        if is_eperm(io_error) {
            detail.push_str(
                " (before Linux 5.11 BPF maps count against RLIMIT_MEMLOCK: raise it, or use a \
                 smaller ring buffer)",
            );
        }
    }
    RuntimeError::Load {
        probe: probe.name.clone(),
        template: kind.name(),
        detail,
    }
}

fn program_error(probe: &ProbePlan, kind: Kind, e: ProgramError, verbose: bool) -> RuntimeError {
    match e {
        ProgramError::LoadError {
            io_error,
            verifier_log,
        } => {
            let log = verifier_log.to_string();
            if log.trim().is_empty() && is_eperm(&io_error) && !privileged() {
                return RuntimeError::NotPrivileged;
            }
            RuntimeError::Verifier {
                probe: probe.name.clone(),
                template: kind.name(),
                summary: verifier_summary(&log, 4),
                full_log: verbose.then_some(log),
                error: io_error,
            }
        }
        e => RuntimeError::Load {
            probe: probe.name.clone(),
            template: kind.name(),
            detail: error_chain(&e),
        },
    }
}

fn attach_error(probe: &ProbePlan, target: &str, e: ProgramError) -> RuntimeError {
    RuntimeError::Attach {
        probe: probe.name.clone(),
        target: target.to_string(),
        detail: error_chain(&e),
    }
}

fn uprobe_error(probe: &ProbePlan, binary: &str, symbol: &str, e: ProgramError) -> RuntimeError {
    use aya::programs::uprobe::UProbeError;
    let detail = match &e {
        ProgramError::UProbeError(UProbeError::InvalidTarget { .. }) => format!(
            "{binary} is neither a file nor a library known to the dynamic linker \
             (give a path, or a name such as libc)"
        ),
        ProgramError::UProbeError(UProbeError::SymbolError { error, .. }) => {
            format!("the symbol was not found ({error})")
        }
        _ => error_chain(&e),
    };
    RuntimeError::Uprobe {
        probe: probe.name.clone(),
        binary: binary.to_string(),
        symbol: symbol.to_string(),
        detail,
    }
}

// ---- environment -----------------------------------------------------------

/// Capability bits of the effective set (from /proc/self/status).
fn effective_caps() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("CapEff:"))?;
    u64::from_str_radix(line["CapEff:".len()..].trim(), 16).ok()
}

fn privileged() -> bool {
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_PERFMON: u64 = 1 << 38;
    const CAP_BPF: u64 = 1 << 39;
    match effective_caps() {
        Some(caps) => caps & CAP_SYS_ADMIN != 0 || (caps & CAP_BPF != 0 && caps & CAP_PERFMON != 0),
        // SAFETY: geteuid has no preconditions.
        None => (unsafe { libc::geteuid() }) == 0,
    }
}

fn check_privileges() -> Result<(), RuntimeError> {
    if privileged() {
        Ok(())
    } else {
        Err(RuntimeError::NotPrivileged)
    }
}

/// Lifts RLIMIT_MEMLOCK for kernels that still charge BPF memory to it
/// (before 5.11). Failure is fine: newer kernels charge the memory cgroup.
fn raise_memlock() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: a valid pointer to an initialised rlimit.
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}

fn fs_magic(path: &str) -> Option<i64> {
    let c = CString::new(path).ok()?;
    // SAFETY: statfs writes into the zeroed struct; the path is NUL-terminated.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    (r == 0).then_some(st.f_type as i64)
}

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
const TRACEFS_MAGIC: i64 = 0x7472_6163;

fn mount(source: &str, target: &str, fstype: &str) -> io::Result<()> {
    let c = |s: &str| CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput));
    let (src, tgt, ty) = (c(source)?, c(target)?, c(fstype)?);
    // SAFETY: NUL-terminated strings; no data argument.
    let r = unsafe { libc::mount(src.as_ptr(), tgt.as_ptr(), ty.as_ptr(), 0, std::ptr::null()) };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

fn ensure_bpffs() -> Result<(), RuntimeError> {
    if fs_magic(BPFFS) == Some(BPF_FS_MAGIC) {
        return Ok(());
    }
    mount("bpf", BPFFS, "bpf").map_err(|error| RuntimeError::Mount {
        fs: "bpffs",
        path: BPFFS.into(),
        error,
    })
}

fn dir_non_empty(p: &str) -> bool {
    fs::read_dir(p)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false)
}

/// Mounts tracefs at [`TRACEFS`] unless it (or the debugfs copy) is there.
pub fn ensure_tracefs() -> Result<(), RuntimeError> {
    if fs_magic(TRACEFS) == Some(TRACEFS_MAGIC) || dir_non_empty(TRACEFS_DEBUG) {
        return Ok(());
    }
    mount("nodev", TRACEFS, "tracefs").map_err(|error| RuntimeError::Mount {
        fs: "tracefs",
        path: TRACEFS.into(),
        error,
    })
}

fn tracefs_root() -> &'static str {
    if dir_non_empty(TRACEFS) {
        TRACEFS
    } else {
        TRACEFS_DEBUG
    }
}

/// Can this kernel create kprobes (perf PMU or tracefs kprobe_events)?
pub fn kprobes_available() -> bool {
    Path::new("/sys/bus/event_source/devices/kprobe/type").exists()
        || Path::new(tracefs_root()).join("kprobe_events").exists()
}

// ---- private pin directory -------------------------------------------------

const PIN_PREFIX: &str = "tracectl-";

/// A private bpffs directory for the shared maps; removed on drop.
struct PinDir {
    path: PathBuf,
    removed: bool,
}

impl PinDir {
    fn create() -> Result<PinDir, RuntimeError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let pid = std::process::id();
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = Path::new(BPFFS).join(format!("{PIN_PREFIX}{pid}-{n}"));
            match fs::create_dir(&path) {
                Ok(()) => {
                    return Ok(PinDir {
                        path,
                        removed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    // A previous process with our pid died with pins left: reuse
                    // is unsafe (its maps would be shared), so clear it and retry.
                    let _ = remove_dir_all_shallow(&path);
                }
                Err(e) => {
                    return Err(RuntimeError::io(
                        format!("cannot create the pin directory {}", path.display()),
                        e,
                    ))
                }
            }
        }
    }

    fn remove(mut self) -> Result<(), RuntimeError> {
        self.removed = true;
        remove_dir_all_shallow(&self.path).map_err(|e| {
            RuntimeError::io(
                format!("cannot remove the pin directory {}", self.path.display()),
                e,
            )
        })
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        if !self.removed {
            let _ = remove_dir_all_shallow(&self.path);
        }
    }
}

/// Removes the files of a pin directory, then the directory.
fn remove_dir_all_shallow(dir: &Path) -> io::Result<()> {
    match fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries.flatten() {
                let _ = fs::remove_file(e.path());
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    fs::remove_dir(dir)
}

/// Removes pin directories of tracectl processes that no longer exist
/// (killed between pinning and unpinning).
fn remove_stale_pins() {
    let Ok(entries) = fs::read_dir(BPFFS) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(PIN_PREFIX)) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = remove_dir_all_shallow(&e.path());
        }
    }
}

/// Loads, attaches and detaches every probe of `plan` with default options
/// (`tracectl check --load`).
pub fn check_load(plan: &Plan) -> Result<(), RuntimeError> {
    Loader::new(LoaderOptions::default())?.check_load(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alternatives_table() {
        assert_eq!(
            tracepoint_alternative("tcp_connect"),
            Some(TracepointAlternative {
                tracepoint: "sock:inet_sock_set_state",
                recipe: Some("tcpconnect-tp")
            })
        );
        assert_eq!(
            tracepoint_alternative("do_sys_openat2").unwrap().tracepoint,
            "syscalls:sys_enter_openat"
        );
        assert!(tracepoint_alternative("vfs_read").is_none());
    }

    #[test]
    fn auto_mode_prefers_trampolines() {
        let a = Attach::Kernel {
            function: "tcp_connect".into(),
            ret: true,
            mode: KernelMode::Auto,
        };
        assert_eq!(
            candidates(&a, true, false),
            vec![Kind::Fexit, Kind::Kretprobe]
        );
        assert_eq!(candidates(&a, false, false), vec![Kind::Kretprobe]);
        assert_eq!(candidates(&a, true, true), vec![Kind::Kretprobe]);
    }

    #[test]
    fn ring_size_rounds_to_power_of_two_pages() {
        let o = LoaderOptions {
            ring_bytes: 3 * page_size() + 1,
            ..LoaderOptions::default()
        };
        assert_eq!(o.effective_ring_bytes(), 4 * page_size());
        assert_eq!(o.effective_wakeup_bytes(), page_size() as u64);
    }
}
