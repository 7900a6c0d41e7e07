//! Stack symbolization: kernel and user addresses to function names,
//! offsets and modules, for the `kstack`/`ustack` builtins and the
//! `ksym()`/`usym()` decoders ([`crate::names`]).
//!
//! The work is done by [blazesym](https://github.com/libbpf/blazesym)
//! (libbpf's symbolizer, BSD-3-Clause): kernel addresses through
//! `/proc/kallsyms`, user addresses through the process's
//! `/proc/PID/maps` and `map_files` (other mount namespaces and deleted
//! files work), the mapped ELF files' `.symtab`/`.dynsym`, DWARF and
//! separate debug files (`/usr/lib/debug`, debug links, build ids, zlib-
//! compressed sections), the vDSO and perf maps of JIT runtimes (read
//! once per process, until [`Symbolizer::forget`]); names
//! of Rust and C++ functions come demangled (Rust without the hash). A
//! home-made resolver did the first two for single addresses; stacks
//! need the rest and batching, which blazesym already has, tested, and
//! which other eBPF tools share.
//!
//! [`Symbolizer`] adds what tracectl needs on top: per-address caches
//! (kernel addresses forever, user addresses per process until
//! [`Symbolizer::forget`]), one blazesym call per stack for the addresses
//! not cached, kernel module names (from `/proc/modules`), and errors
//! turned into address-only [`Frame`]s.
//!
//! **Return addresses.** A stack holds, but for its first (innermost)
//! entry, return addresses: the instruction after a call. When the call
//! is a function's last instruction (a call to a `noreturn` function),
//! that address is already in the next function. As perf, gdb and
//! blazesym's own backtrace example do, frames other than the first are
//! looked up at `addr - 1`, inside the call; the frame keeps the original
//! address, and its offset is counted from it.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use blazesym::symbolize::cache::{Cache, Process as CacheProcess};
use blazesym::symbolize::evict::{Elf as EvictElf, Evict, Process as EvictProcess};
use blazesym::symbolize::source::{Kernel, Process, Source};
use blazesym::symbolize::{Input, Reason, Symbolized};
use blazesym::{MaybeDefault, Pid};

/// A kernel symbol this far or farther below the address is not taken
/// to contain it: no kernel function is that long, and the last symbol
/// of kallsyms would otherwise name every address above it.
const MAX_KERNEL_OFFSET: u64 = 1 << 20;

/// One frame of a stack, symbolized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The address, as captured.
    pub addr: u64,
    /// The function (demangled: Rust and C++), or None when unresolved.
    pub name: Option<Arc<str>>,
    /// addr - the function's start (0 when unresolved).
    pub offset: u64,
    /// The module: a kernel module's name ("xfs"), or a user object's file
    /// name ("libc.so.6", "prog"); None for the kernel image itself, or
    /// when unknown.
    pub module: Option<Arc<str>>,
}

impl Frame {
    /// An address-only frame.
    fn unresolved(addr: u64, module: Option<Arc<str>>) -> Frame {
        Frame {
            addr,
            name: None,
            offset: 0,
            module,
        }
    }

    /// The function's name, or "0x…" (lowercase hex address) when
    /// unresolved: what folded output and flame graphs show.
    pub fn function(&self) -> Cow<'_, str> {
        match &self.name {
            Some(n) => Cow::Borrowed(n),
            None => Cow::Owned(format!("{:#x}", self.addr)),
        }
    }
}

/// `do_sys_openat2+0x1a`, `xfs_read+0x12 [xfs]`, `acc_inner+0x8 [prog]`;
/// unresolved, the address: `0x7f1234 [libc.so.6]`, `0xffffffff81000000`.
impl std::fmt::Display for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n}+{:#x}", self.offset)?,
            None => write!(f, "{:#x}", self.addr)?,
        }
        if let Some(m) = &self.module {
            write!(f, " [{m}]")?;
        }
        Ok(())
    }
}

/// What is cached of one looked-up address.
#[derive(Debug, Clone)]
struct Resolved {
    /// The function, when found.
    name: Option<Arc<str>>,
    /// The function's start address (as the address is: absolute).
    start: u64,
    module: Option<Arc<str>>,
}

impl Resolved {
    /// The frame of `addr`, whose looked-up address (`addr` or `addr - 1`)
    /// this is.
    fn frame(&self, addr: u64) -> Frame {
        match &self.name {
            Some(_) => Frame {
                addr,
                name: self.name.clone(),
                offset: addr.wrapping_sub(self.start),
                module: self.module.clone(),
            },
            None => Frame::unresolved(addr, self.module.clone()),
        }
    }
}

/// What is cached of one process.
#[derive(Debug, Default)]
struct UserProcess {
    /// By looked-up address.
    frames: HashMap<u64, Resolved>,
    /// From `/proc/PID/maps`, by start.
    maps: Vec<Mapping>,
    /// Every file-backed range seen (blazesym's cache holds their
    /// `map_files` paths until [`Symbolizer::forget`]).
    seen: HashSet<(u64, u64)>,
}

impl UserProcess {
    /// The file name of the mapping holding `addr`.
    fn module(&self, addr: u64) -> Option<Arc<str>> {
        let i = self
            .maps
            .partition_point(|m| m.start <= addr)
            .checked_sub(1)?;
        let m = &self.maps[i];
        (addr < m.end).then(|| m.name.clone()).flatten()
    }
}

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone)]
struct Mapping {
    start: u64,
    end: u64,
    /// A file is mapped (the path starts with `/`).
    file: bool,
    /// The file's name; None for anonymous and special (`[heap]`, …)
    /// mappings.
    name: Option<Arc<str>>,
}

/// Parses `/proc/PID/maps` (`START-END PERMS OFFSET DEV INODE [PATH]`);
/// lines that do not parse are skipped.
fn parse_maps(text: &str, strings: &mut HashSet<Arc<str>>) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = text
        .lines()
        .filter_map(|line| {
            let mut rest = line;
            let mut field = || {
                let s = rest.trim_start_matches(' ');
                let end = s.find(' ').unwrap_or(s.len());
                let (f, r) = s.split_at(end);
                rest = r;
                f
            };
            let range = field();
            for _ in 0..4 {
                field();
            }
            let path = rest.trim_start_matches(' ');
            let path = path.strip_suffix(" (deleted)").unwrap_or(path);
            let (start, end) = range.split_once('-')?;
            let file = path.starts_with('/');
            let name = file.then(|| file_name(strings, OsStr::new(path))).flatten();
            Some(Mapping {
                start: u64::from_str_radix(start, 16).ok()?,
                end: u64::from_str_radix(end, 16).ok()?,
                file,
                name,
            })
        })
        .collect();
    out.sort_by_key(|m| m.start);
    out
}

/// A loaded kernel module's text, from `/proc/modules`.
#[derive(Debug, Clone)]
struct KernelModule {
    start: u64,
    /// `start` + the module's size (all its sections: an upper bound).
    end: u64,
    name: Arc<str>,
}

/// blazesym's symbolizer, movable to another thread.
struct Blaze {
    symbolizer: blazesym::symbolize::Symbolizer,
}

// SAFETY: blazesym's `Symbolizer` is not `Send` only because its caches
// hold `Rc`s, `RefCell`s and boxed `dyn` resolvers.
// Every one of those is reachable from this value alone: no resolver or
// dispatcher from outside is registered (`register_elf_resolver`,
// `set_process_dispatcher` are not used), results that borrow them are
// copied into owned strings before the `&mut` call that made them
// returns, and blazesym keeps no thread-local state. Moving the whole
// value to another thread moves every handle to the shared data with it,
// so no two threads ever touch an `Rc` count or a `RefCell` concurrently.
// It is not `Sync`: all access goes through `&mut Symbolizer`.
unsafe impl Send for Blaze {}

/// Stack symbolizer: blazesym and tracectl's caches. `Send`, so that a
/// `Mutex<Symbolizer>` can be shared.
pub struct Symbolizer {
    blaze: Blaze,
    /// By looked-up address.
    kernel: HashMap<u64, Resolved>,
    /// By process.
    user: HashMap<u32, UserProcess>,
    /// Sorted by start; loaded at the first kernel lookup.
    modules: Option<Vec<KernelModule>>,
    /// One `Arc` per distinct function and module name.
    strings: HashSet<Arc<str>>,
}

impl std::fmt::Debug for Symbolizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Symbolizer")
            .field("kernel", &self.kernel.len())
            .field("processes", &self.user.len())
            .finish_non_exhaustive()
    }
}

/// The process's one symbolizer, locked: `ksym()`, `usym()` and the
/// stacks of every decoder (records, each aggregation's keys) share its
/// caches, so that kallsyms and each file's symbols are read once per
/// run. (Its state is caches only: a panic while another holder had it
/// leaves nothing to refuse.)
pub fn shared_lock() -> std::sync::MutexGuard<'static, Symbolizer> {
    static SHARED: std::sync::OnceLock<std::sync::Mutex<Symbolizer>> = std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| std::sync::Mutex::new(Symbolizer::new()))
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Default for Symbolizer {
    fn default() -> Symbolizer {
        Symbolizer::new()
    }
}

/// The address to look up for the `i`-th frame of a stack (see the module
/// documentation).
fn lookup_addr(i: usize, addr: u64) -> u64 {
    if i == 0 || addr == 0 {
        addr
    } else {
        addr - 1
    }
}

/// The addresses to look up for a stack's frames ([`lookup_addr`]).
fn lookup_addrs(addrs: &[u64]) -> Vec<u64> {
    addrs
        .iter()
        .enumerate()
        .map(|(i, &a)| lookup_addr(i, a))
        .collect()
}

/// The distinct addresses of `lookups` not in `cache`, in first-seen order.
fn missing(lookups: &[u64], cache: Option<&HashMap<u64, Resolved>>) -> Vec<u64> {
    let mut seen = HashSet::new();
    lookups
        .iter()
        .copied()
        .filter(|a| !cache.is_some_and(|c| c.contains_key(a)) && seen.insert(*a))
        .collect()
}

impl Symbolizer {
    /// An empty symbolizer; files are read when first needed.
    pub fn new() -> Symbolizer {
        let symbolizer = blazesym::symbolize::Symbolizer::builder()
            // Function names only: no source lines, no inlined frames.
            .enable_code_info(false)
            // Files are looked up by path without a stat() per address
            // (a third of the time of cold user stacks). Process files
            // are opened through /proc/PID/map_files, which keep pointing
            // at the mapped file; forget() evicts them. Kernel: kallsyms
            // is read once.
            .enable_auto_reload(false)
            .enable_inlined_fns(false)
            .enable_demangling(true)
            .build();
        Symbolizer {
            blaze: Blaze { symbolizer },
            kernel: HashMap::new(),
            user: HashMap::new(),
            modules: None,
            strings: HashSet::new(),
        }
    }

    /// Kernel frames (from /proc/kallsyms, module names from
    /// `/proc/modules`). Cached per address. Without the privilege to see
    /// kernel addresses (`kptr_restrict`), frames are address-only.
    pub fn kernel(&mut self, addrs: &[u64]) -> Vec<Frame> {
        let lookups = lookup_addrs(addrs);
        let todo = missing(&lookups, Some(&self.kernel));
        if !todo.is_empty() {
            if self.modules.is_none() {
                self.modules = Some(read_modules(&mut self.strings));
            }
            let src = Source::Kernel(Kernel {
                // kallsyms only: a vmlinux would need the KASLR offset
                // (from /proc/kcore) and module objects from disk.
                vmlinux: MaybeDefault::None,
                debug_syms: false,
                ..Kernel::default()
            });
            if let Ok(syms) = self.blaze.symbolizer.symbolize(&src, Input::AbsAddr(&todo)) {
                let modules = self.modules.as_deref().unwrap_or_default();
                for (&lookup, sym) in todo.iter().zip(&syms) {
                    let module = kernel_module(modules, lookup);
                    let r = match sym {
                        Symbolized::Sym(s) if (s.offset as u64) < MAX_KERNEL_OFFSET => Resolved {
                            name: Some(intern(&mut self.strings, &s.name)),
                            start: lookup - s.offset as u64,
                            module,
                        },
                        _ => Resolved {
                            name: None,
                            start: 0,
                            module,
                        },
                    };
                    self.kernel.insert(lookup, r);
                }
            }
        }
        let modules = self.modules.as_deref().unwrap_or_default();
        frames(addrs, &lookups, Some(&self.kernel), |a| {
            kernel_module(modules, a)
        })
    }

    /// User frames of process `pid` (its mappings and ELF symbols:
    /// .symtab, .dynsym, DWARF where present). Cached per (pid, addr). A
    /// process that has exited, or any error, yields address-only frames
    /// (with the module when known), never an error or panic.
    pub fn user(&mut self, pid: u32, addrs: &[u64]) -> Vec<Frame> {
        let lookups = lookup_addrs(addrs);
        // blazesym reads pid 0 as "this process"; for tracectl it is the
        // kernel's idle task, which has no user space.
        if pid == 0 {
            return frames(addrs, &lookups, None, |_| None);
        }
        let todo = missing(&lookups, self.user.get(&pid).map(|p| &p.frames));
        if !todo.is_empty() {
            self.resolve_user(pid, &todo);
        }
        match self.user.get(&pid) {
            Some(p) => frames(addrs, &lookups, Some(&p.frames), |a| p.module(a)),
            None => frames(addrs, &lookups, None, |_| None),
        }
    }

    /// Looks up `todo` (distinct, not cached) in `pid` and caches what
    /// was found. The process's mappings are read once (by blazesym and
    /// here, for the modules of addresses without a symbol) and again
    /// when an address is in none of them (a new mapping); addresses
    /// still in none are not cached.
    fn resolve_user(&mut self, pid: u32, todo: &[u64]) {
        let mut reread = false;
        if !self.user.contains_key(&pid) {
            if !self.read_maps(pid) {
                return;
            }
            reread = true;
        }
        let src = Source::Process(Process::new(Pid::from(pid)));
        let mut todo = todo.to_vec();
        loop {
            let Ok(syms) = self.blaze.symbolizer.symbolize(&src, Input::AbsAddr(&todo)) else {
                return;
            };
            let Some(p) = self.user.get_mut(&pid) else {
                return;
            };
            let mut unmapped = Vec::new();
            for (&lookup, sym) in todo.iter().zip(&syms) {
                let r = match sym {
                    Symbolized::Sym(s) => Resolved {
                        name: Some(intern(&mut self.strings, &s.name)),
                        start: lookup - s.offset as u64,
                        module: s
                            .module
                            .as_deref()
                            .and_then(|m| file_name(&mut self.strings, m)),
                    },
                    Symbolized::Unknown(Reason::Unmapped) => {
                        unmapped.push(lookup);
                        continue;
                    }
                    Symbolized::Unknown(_) => Resolved {
                        name: None,
                        start: 0,
                        module: p.module(lookup),
                    },
                };
                p.frames.insert(lookup, r);
            }
            if unmapped.is_empty() || reread || !self.read_maps(pid) {
                return;
            }
            reread = true;
            todo = unmapped;
        }
    }

    /// (Re-)reads `pid`'s mappings, here and in blazesym's cache; false
    /// when they cannot be read (the process is gone).
    fn read_maps(&mut self, pid: u32) -> bool {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/maps")) else {
            return false;
        };
        let bz_pid = Pid::from(pid);
        let _ = self
            .blaze
            .symbolizer
            .evict(&Evict::Process(EvictProcess::new(bz_pid)));
        let cache = Cache::Process(CacheProcess {
            pid: bz_pid,
            cache_vmas: true,
            cache_perf_map: false,
            ..CacheProcess::new(bz_pid)
        });
        if self.blaze.symbolizer.cache(&cache).is_err() {
            return false;
        }
        let p = self.user.entry(pid).or_default();
        p.maps = parse_maps(&text, &mut self.strings);
        p.seen
            .extend(p.maps.iter().filter(|m| m.file).map(|m| (m.start, m.end)));
        true
    }

    /// Drop what is cached for `pid` (a process that exited): its frames,
    /// its mappings, and blazesym's files opened through its
    /// `/proc/PID/map_files` (the files themselves stay cached while
    /// another process maps them).
    pub fn forget(&mut self, pid: u32) {
        let Some(p) = self.user.remove(&pid) else {
            return;
        };
        let s = &mut self.blaze.symbolizer;
        let _ = s.evict(&Evict::Process(EvictProcess::new(Pid::from(pid))));
        for (start, end) in p.seen {
            let path = format!("/proc/{pid}/map_files/{start:x}-{end:x}");
            let _ = s.evict(&Evict::Elf(EvictElf::new(path)));
        }
    }
}

/// The frames of `addrs`, from `cache` by the looked-up addresses; those
/// not in it address-only, with `module(lookup)`.
fn frames(
    addrs: &[u64],
    lookups: &[u64],
    cache: Option<&HashMap<u64, Resolved>>,
    module: impl Fn(u64) -> Option<Arc<str>>,
) -> Vec<Frame> {
    addrs
        .iter()
        .zip(lookups)
        .map(|(&addr, lookup)| match cache.and_then(|c| c.get(lookup)) {
            Some(r) => r.frame(addr),
            None => Frame::unresolved(addr, module(*lookup)),
        })
        .collect()
}

/// The one `Arc` of `s`.
fn intern(strings: &mut HashSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(a) = strings.get(s) {
        return Arc::clone(a);
    }
    let a: Arc<str> = Arc::from(s);
    strings.insert(Arc::clone(&a));
    a
}

/// The file name of a module path (`/usr/lib/libc.so.6` → `libc.so.6`);
/// blazesym's `[vdso]` → `vdso`.
fn file_name(strings: &mut HashSet<Arc<str>>, path: &OsStr) -> Option<Arc<str>> {
    let name = Path::new(path).file_name()?.to_string_lossy();
    let name = name
        .strip_prefix('[')
        .and_then(|n| n.strip_suffix(']'))
        .unwrap_or(&name);
    Some(intern(strings, name))
}

/// Loaded kernel modules from `/proc/modules` (`NAME SIZE REFS DEPS STATE
/// ADDRESS …`), sorted by address; empty when unreadable or when the
/// addresses are hidden (0).
fn read_modules(strings: &mut HashSet<Arc<str>>) -> Vec<KernelModule> {
    let text = std::fs::read_to_string("/proc/modules").unwrap_or_default();
    parse_modules(&text, strings)
}

fn parse_modules(text: &str, strings: &mut HashSet<Arc<str>>) -> Vec<KernelModule> {
    let mut out: Vec<KernelModule> = text
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            let (name, size, addr) = (f.first()?, f.get(1)?, f.get(5)?);
            let size: u64 = size.parse().ok()?;
            let start = u64::from_str_radix(addr.strip_prefix("0x")?, 16).ok()?;
            (start != 0).then(|| KernelModule {
                start,
                end: start.saturating_add(size),
                name: intern(strings, name),
            })
        })
        .collect();
    out.sort_by_key(|m| m.start);
    out
}

/// The module whose range holds `addr`: the one with the greatest start
/// at or below it (module ranges are upper bounds and may overlap the
/// next module's text).
fn kernel_module(modules: &[KernelModule], addr: u64) -> Option<Arc<str>> {
    let i = modules
        .partition_point(|m| m.start <= addr)
        .checked_sub(1)?;
    let m = &modules[i];
    (addr < m.end).then(|| Arc::clone(&m.name))
}

/// Benchmark: the time to symbolize `n` distinct user stacks of depth 20
/// of this process, addresses spread over the text of its executable and
/// of libc, with a new [`Symbolizer`] (cold caches: the files are read and
/// their symbol tables parsed within the time).
pub fn symbolize_user_stacks(n: usize) -> Duration {
    let stacks = sample_user_stacks(n, 20);
    let pid = std::process::id();
    let start = Instant::now();
    let mut s = Symbolizer::new();
    for stack in &stacks {
        std::hint::black_box(s.user(pid, stack));
    }
    start.elapsed()
}

/// `n` stacks of `depth` pseudo-random addresses in the executable
/// mappings of this process's executable and libc.
fn sample_user_stacks(n: usize, depth: usize) -> Vec<Vec<u64>> {
    let exe = std::env::current_exe().ok();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    let ranges: Vec<(u64, u64)> = maps
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            let (range, perms, path) = (f.first()?, f.get(1)?, f.get(5)?);
            let ours = exe.as_deref() == Some(Path::new(path))
                || Path::new(path)
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("libc.so"));
            if !perms.contains('x') || !ours {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect();
    let total: u64 = ranges.iter().map(|(a, b)| b - a).sum();
    if total == 0 {
        return vec![vec![0; depth]; n];
    }
    // xorshift64: reproducible, no dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut off = x % total;
        for &(a, b) in &ranges {
            if off < b - a {
                return a + off;
            }
            off -= b - a;
        }
        ranges[0].0
    };
    (0..n)
        .map(|_| (0..depth).map(|_| next()).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function of this test binary to find by address.
    #[inline(never)]
    fn tracectl_symbolize_probe_fn(x: u64) -> u64 {
        std::hint::black_box(x)
            .wrapping_mul(std::hint::black_box(0x9e37_79b9))
            .rotate_left(7)
            ^ std::hint::black_box(x >> 3)
    }

    fn test_binary() -> String {
        std::env::current_exe()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    /// The address of the first `name` in /proc/kallsyms, and every name
    /// at that address (aliases).
    fn kallsyms_addr(text: &str, name: &str) -> Option<(u64, Vec<String>)> {
        let addr = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            (f.len() >= 3 && f[2] == name).then(|| u64::from_str_radix(f[0], 16).unwrap())
        })?;
        let prefix = format!("{addr:016x} ");
        let names = text
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.split_ascii_whitespace().nth(2).map(str::to_string))
            .collect();
        Some((addr, names))
    }

    #[test]
    fn own_function() {
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        let mut s = Symbolizer::new();
        let frames = s.user(std::process::id(), &[f + 4]);
        assert_eq!(frames.len(), 1);
        let fr = &frames[0];
        assert_eq!(fr.addr, f + 4);
        let name = fr.name.as_deref().expect("resolved");
        assert!(name.contains("tracectl_symbolize_probe_fn"), "{name}");
        assert!(!name.contains("17h"), "demangled without the hash: {name}");
        assert_eq!(fr.offset, 4);
        assert_eq!(fr.module.as_deref(), Some(test_binary().as_str()));
        // From the cache, the same.
        assert_eq!(s.user(std::process::id(), &[f + 4]), frames);
        assert_eq!(
            tracectl_symbolize_probe_fn(1),
            tracectl_symbolize_probe_fn(1)
        );
    }

    /// Frames after the first are looked up at `addr - 1`: the return
    /// address just past a function still names it; the first frame at
    /// the same address does not.
    #[test]
    fn return_addresses_look_up_the_call() {
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        let pid = std::process::id();
        let mut s = Symbolizer::new();
        // The start of the function, as a return address: the byte
        // before is in another function or in padding between functions.
        let frames = s.user(pid, &[f, f]);
        assert_eq!(frames[0].function(), frames[0].name.as_deref().unwrap());
        assert!(frames[0].function().contains("tracectl_symbolize_probe_fn"));
        assert_eq!(frames[1].addr, f);
        assert!(
            !frames[1].function().contains("tracectl_symbolize_probe_fn"),
            "{}",
            frames[1]
        );
        // Inside, both name it, with offsets from the original address.
        let frames = s.user(pid, &[f + 3, f + 3]);
        assert_eq!(frames[0], frames[1]);
        assert_eq!(frames[1].offset, 3);
    }

    #[test]
    fn libc_function() {
        let addr = libc::getpid as *const () as u64;
        let frames = Symbolizer::new().user(std::process::id(), &[addr]);
        let fr = &frames[0];
        let name = fr.name.as_deref().expect("getpid resolved");
        assert!(name.contains("getpid"), "{name}");
        assert_eq!(fr.offset, 0);
        assert_eq!(fr.module.as_deref(), Some("libc.so.6"));
    }

    #[test]
    fn anonymous_memory_and_pid_zero() {
        let pid = std::process::id();
        let mut s = Symbolizer::new();
        let heap = Box::new([0u8; 4096]);
        let stack = 0u64;
        let addrs = [heap.as_ptr() as u64, &stack as *const u64 as u64, 8];
        let frames = s.user(pid, &addrs);
        assert_eq!(frames.len(), 3);
        for (fr, &a) in frames.iter().zip(&addrs) {
            assert_eq!(*fr, Frame::unresolved(a, None));
        }
        // Pid 0 is not this process.
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        assert_eq!(s.user(0, &[f]), vec![Frame::unresolved(f, None)]);
        assert!(s.user(pid, &[]).is_empty());
    }

    #[test]
    fn exited_process() {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = child.id();
        child.wait().unwrap();
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        let addrs = [f, 0x7f00_0000_1000, 0];
        let mut s = Symbolizer::new();
        let frames = s.user(pid, &addrs);
        assert_eq!(frames.len(), 3);
        for (fr, &a) in frames.iter().zip(&addrs) {
            assert_eq!((fr.addr, &fr.name, fr.offset), (a, &None, 0));
        }
        s.forget(pid);
        // Above any pid_max (2^22).
        assert!(s.user(0x7fff_fff0, &addrs).iter().all(|f| f.name.is_none()));
    }

    /// What is cached of a process that exits is still there until
    /// forgotten.
    #[test]
    fn forget_drops_the_cache() {
        let pid = std::process::id();
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        let mut s = Symbolizer::new();
        assert!(s.user(pid, &[f]).first().unwrap().name.is_some());
        assert!(!s.user[&pid].seen.is_empty());
        s.forget(pid);
        assert!(!s.user.contains_key(&pid));
        assert!(s.user(pid, &[f]).first().unwrap().name.is_some());
    }

    #[test]
    fn kernel_functions() {
        let text = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
        let mut s = Symbolizer::new();
        let mut checked = 0;
        for want in ["do_sys_openat2", "vfs_read"] {
            let Some((addr, aliases)) = kallsyms_addr(&text, want) else {
                continue;
            };
            assert_ne!(addr, 0, "kallsyms addresses hidden (not root?)");
            let frames = s.kernel(&[addr + 0x10]);
            let fr = &frames[0];
            let name = fr.name.as_deref().expect("resolved");
            assert!(
                aliases.iter().any(|a| a == name),
                "{name} not in {aliases:?}"
            );
            assert_eq!((fr.addr, fr.offset, &fr.module), (addr + 0x10, 0x10, &None));
            checked += 1;
        }
        assert!(
            checked > 0,
            "neither do_sys_openat2 nor vfs_read in kallsyms"
        );
    }

    #[test]
    fn kernel_module_function() {
        let text = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
        // A text symbol of a module that /proc/modules lists.
        let modules = std::fs::read_to_string("/proc/modules").unwrap_or_default();
        let loaded: HashSet<&str> = modules
            .lines()
            .filter_map(|l| l.split_ascii_whitespace().next())
            .collect();
        let found = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_ascii_whitespace().collect();
            let module = f.get(3)?.strip_prefix('[')?.strip_suffix(']')?;
            (matches!(f[1], "t" | "T") && loaded.contains(module)).then(|| {
                (
                    u64::from_str_radix(f[0], 16).unwrap(),
                    f[2].to_string(),
                    module.to_string(),
                )
            })
        });
        let Some((addr, name, module)) = found else {
            eprintln!("no kernel module loaded: module symbols not checked");
            return;
        };
        let (_, aliases) = kallsyms_addr(&text, &name).unwrap();
        let fr = &Symbolizer::new().kernel(&[addr + 2])[0];
        let got = fr.name.as_deref().expect("module symbol resolved");
        assert!(aliases.iter().any(|a| a == got), "{got} not in {aliases:?}");
        assert_eq!(fr.offset, 2);
        assert_eq!(fr.module.as_deref(), Some(module.as_str()));
    }

    #[test]
    fn kernel_nowhere() {
        let mut s = Symbolizer::new();
        let addrs = [0, 8, 0xffff_8880_0000_0000, u64::MAX];
        let frames = s.kernel(&addrs);
        for (fr, &a) in frames.iter().zip(&addrs) {
            assert_eq!(*fr, Frame::unresolved(a, None), "{fr}");
        }
    }

    #[test]
    fn modules_parse() {
        let mut strings = HashSet::new();
        let m = parse_modules(
            "xfs 2297856 1 - Live 0xffffffffc0a00000\n\
             nf_tables 376832 0 - Live 0xffffffffc0800000 (E)\n\
             hidden 1000 0 - Live 0x0000000000000000\n\
             garbage\n",
            &mut strings,
        );
        assert_eq!(m.len(), 2);
        assert_eq!(
            kernel_module(&m, 0xffffffffc0800010).as_deref(),
            Some("nf_tables")
        );
        assert_eq!(
            kernel_module(&m, 0xffffffffc0a00000).as_deref(),
            Some("xfs")
        );
        assert_eq!(kernel_module(&m, 0xffffffffc0a00000 + 2297856), None);
        assert_eq!(kernel_module(&m, 0xffffffff81000000), None);
    }

    /// A mapping made after the process's maps were read is found: the
    /// miss re-reads them. The test binary is mapped again whole; the
    /// probe function's file offset in the new mapping names it.
    #[test]
    fn new_mapping() {
        let pid = std::process::id();
        let f = tracectl_symbolize_probe_fn as *const () as u64;
        let mut s = Symbolizer::new();
        assert!(s.user(pid, &[f])[0].name.is_some());
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
        let file_off = maps
            .lines()
            .find_map(|l| {
                let v: Vec<&str> = l.split_ascii_whitespace().collect();
                let (a, b) = v[0].split_once('-')?;
                let (a, b) = (
                    u64::from_str_radix(a, 16).ok()?,
                    u64::from_str_radix(b, 16).ok()?,
                );
                (a <= f && f < b).then(|| f - a + u64::from_str_radix(v[2], 16).unwrap())
            })
            .unwrap();
        let exe = tracectl_compiler::mapped::Mapped::open(Path::new("/proc/self/exe"))
            .expect("map the test binary");
        let base = exe.bytes().as_ptr() as u64;
        let fr = &s.user(pid, &[base + file_off + 2])[0];
        let name = fr.name.as_deref().expect("found after a re-read");
        assert!(name.contains("tracectl_symbolize_probe_fn"), "{name}");
        assert_eq!(fr.offset, 2);
        drop(exe);
    }

    #[test]
    fn maps_parse() {
        let mut strings = HashSet::new();
        let m = parse_maps(
            "7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234      /usr/lib/libfoo.so.1\n\
             55d000000000-55d000021000 rw-p 00000000 00:00 0          [heap]\n\
             7f0000003000-7f0000004000 r-xp 00002000 08:11 99  /tmp/a b (deleted)\n\
             7f0000005000-7f0000006000 rw-p 00000000 00:00 0\n\
             garbage\n",
            &mut strings,
        );
        assert_eq!(m.len(), 4);
        assert_eq!(
            (m[0].start, m[0].file, m[0].name.as_deref()),
            (0x55d000000000, false, None)
        );
        assert_eq!(
            (m[1].end, m[1].name.as_deref()),
            (0x7f0000002000, Some("libfoo.so.1"))
        );
        assert_eq!(m[2].name.as_deref(), Some("a b"));
        assert!(!m[3].file);
        let p = UserProcess {
            maps: m,
            ..UserProcess::default()
        };
        assert_eq!(p.module(0x7f0000001fff).as_deref(), Some("libfoo.so.1"));
        assert_eq!(p.module(0x7f0000002000), None);
        assert_eq!(p.module(0x55d000000010), None);
        assert_eq!(p.module(1), None);
    }

    /// A `Mutex<Symbolizer>` can be shared (the decoders' `Names` is).
    #[test]
    fn shareable() {
        fn sync<T: Send + Sync>() {}
        sync::<std::sync::Mutex<Symbolizer>>();
    }

    #[test]
    fn display_and_function() {
        let frame = |name: Option<&str>, offset, module: Option<&str>| Frame {
            addr: 0xffffffff81234567,
            name: name.map(Arc::from),
            offset,
            module: module.map(Arc::from),
        };
        let k = frame(Some("do_sys_openat2"), 0x1a, None);
        assert_eq!(k.to_string(), "do_sys_openat2+0x1a");
        assert_eq!(k.function(), "do_sys_openat2");
        let m = frame(Some("xfs_read"), 0x12, Some("xfs"));
        assert_eq!(m.to_string(), "xfs_read+0x12 [xfs]");
        let u = frame(Some("acc_inner"), 8, Some("prog"));
        assert_eq!(u.to_string(), "acc_inner+0x8 [prog]");
        let mut x = frame(None, 0, Some("libc.so.6"));
        x.addr = 0x7f12_3456_789a;
        assert_eq!(x.to_string(), "0x7f123456789a [libc.so.6]");
        assert_eq!(x.function(), "0x7f123456789a");
        let h = frame(None, 0, None);
        assert_eq!(h.to_string(), "0xffffffff81234567");
        assert_eq!(h.function(), "0xffffffff81234567");
    }

    #[test]
    fn many_stacks_resolve() {
        let stacks = sample_user_stacks(50, 20);
        let pid = std::process::id();
        let mut s = Symbolizer::new();
        let frames: Vec<Frame> = stacks.iter().flat_map(|st| s.user(pid, st)).collect();
        assert_eq!(frames.len(), 1000);
        let named = frames.iter().filter(|f| f.name.is_some()).count();
        assert!(named > 900, "only {named} of 1000 frames named");
        assert!(frames.iter().all(|f| f.module.is_some()));
    }

    /// `cargo test --release -p tracectl --lib -- --ignored --nocapture
    /// symbolize_1000`: the time for 1 000 distinct user stacks of depth
    /// 20, cold.
    #[test]
    #[ignore]
    fn symbolize_1000_user_stacks() {
        let t = symbolize_user_stacks(1000);
        eprintln!("1000 user stacks of depth 20, cold: {t:?}");
    }
}
