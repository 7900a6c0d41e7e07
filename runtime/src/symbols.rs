//! Addresses to symbols, for printing `ksym(e)` and `usym(e)` values (and,
//! later, kernel and user stacks): [`Ksyms`] names kernel addresses from
//! `/proc/kallsyms`; [`Usyms`] names a process's addresses from its
//! `/proc/PID/maps` and the ELF symbol tables of the mapped files.

use object::{Object, ObjectSegment, ObjectSymbol, SymbolKind};
use std::collections::HashMap;
use std::sync::Arc;

use tracectl_compiler::mapped::Mapped;

/// How far past the start of the last kernel symbol an address is still
/// taken to be inside it.
const LAST_KSYM_SPAN: u64 = 1 << 20;

/// Kernel symbols from `/proc/kallsyms`, sorted by address; module symbols
/// are included (their name only, without the `[module]`).
#[derive(Debug, Default)]
pub struct Ksyms {
    /// Start addresses, ascending, one per address.
    addrs: Vec<u64>,
    /// `names[i]`: the byte range in `text` of the name at `addrs[i]`.
    names: Vec<(u32, u32)>,
    /// All names, concatenated.
    text: String,
}

impl Ksyms {
    /// Reads `/proc/kallsyms`. Without the privilege to see addresses
    /// (`kptr_restrict`) they are all 0 and nothing resolves.
    pub fn load() -> std::io::Result<Ksyms> {
        Ok(Ksyms::parse(&std::fs::read_to_string("/proc/kallsyms")?))
    }

    /// Parses text in the `/proc/kallsyms` format: `ADDRESS TYPE NAME
    /// [\[MODULE\]]` lines. Lines with address 0 or that do not parse are
    /// skipped. Of symbols sharing an address the one kept is a text symbol
    /// (`t`/`T`) before others, then the one with the fewest leading
    /// underscores, then the first.
    pub fn parse(text: &str) -> Ksyms {
        let mut syms: Vec<(u64, u32, &str)> = Vec::new();
        for line in text.lines() {
            let mut fields = line.split_ascii_whitespace();
            let (Some(addr), Some(kind), Some(name)) =
                (fields.next(), fields.next(), fields.next())
            else {
                continue;
            };
            let Ok(addr) = u64::from_str_radix(addr, 16) else {
                continue;
            };
            if addr == 0 {
                continue;
            }
            let text_rank = if matches!(kind, "t" | "T") { 0 } else { 1 };
            let underscores = name.bytes().take_while(|&b| b == b'_').count() as u32;
            syms.push((addr, text_rank * 1024 + underscores.min(1023), name));
        }
        // Stable: equal (address, rank) keep their file order.
        syms.sort_by_key(|&(addr, rank, _)| (addr, rank));
        syms.dedup_by_key(|s| s.0);
        let mut out = Ksyms {
            addrs: Vec::with_capacity(syms.len()),
            names: Vec::with_capacity(syms.len()),
            text: String::with_capacity(syms.iter().map(|s| s.2.len()).sum()),
        };
        for (addr, _, name) in syms {
            let start = out.text.len() as u32;
            out.text.push_str(name);
            out.addrs.push(addr);
            out.names.push((start, name.len() as u32));
        }
        out
    }

    /// The symbol containing `addr` and the offset from its start: the
    /// symbol with the greatest start at or below `addr`. `None` below the
    /// first symbol, more than 1 MiB past the start of the last one, or
    /// when there are no (non-zero) addresses.
    pub fn resolve(&self, addr: u64) -> Option<(&str, u64)> {
        let i = self.addrs.partition_point(|&a| a <= addr).checked_sub(1)?;
        let start = self.addrs[i];
        let offset = addr - start;
        if i + 1 == self.addrs.len() && offset >= LAST_KSYM_SPAN {
            return None;
        }
        let (at, len) = self.names[i];
        Some((&self.text[at as usize..(at + len) as usize], offset))
    }

    /// How many symbols (distinct addresses) were kept.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// Whether no symbol was kept (as when addresses are hidden).
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

/// One line of `/proc/PID/maps`.
#[derive(Debug, Clone)]
struct Mapping {
    start: u64,
    end: u64,
    /// File offset of `start`.
    offset: u64,
    /// Device, `major << 32 | minor`.
    dev: u64,
    inode: u64,
    /// The file's path (`/…`), without a ` (deleted)` suffix; `None` for
    /// anonymous and special (`[heap]`, `[vdso]`, …) mappings.
    path: Option<Arc<str>>,
}

/// Parses `/proc/PID/maps` text; lines that do not parse are skipped.
fn parse_maps(text: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(m) = parse_maps_line(line) {
            out.push(m);
        }
    }
    out.sort_by_key(|m| m.start);
    out
}

/// `start-end perms offset major:minor inode [path]`.
fn parse_maps_line(line: &str) -> Option<Mapping> {
    let mut rest = line;
    let mut field = || -> Option<&str> {
        let s = rest.trim_start_matches(' ');
        let end = s.find(' ').unwrap_or(s.len());
        let (f, r) = s.split_at(end);
        rest = r;
        (!f.is_empty()).then_some(f)
    };
    let range = field()?;
    let _perms = field()?;
    let offset = field()?;
    let dev = field()?;
    let inode = field()?;
    let path = rest.trim_start_matches(' ');
    let (start, end) = range.split_once('-')?;
    let (major, minor) = dev.split_once(':')?;
    let path = path.strip_suffix(" (deleted)").unwrap_or(path);
    Some(Mapping {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        offset: u64::from_str_radix(offset, 16).ok()?,
        dev: u64::from_str_radix(major, 16).ok()? << 32 | u64::from_str_radix(minor, 16).ok()?,
        inode: inode.parse().ok()?,
        path: path.starts_with('/').then(|| Arc::from(path)),
    })
}

/// What identifies a mapped file in the symbol-table cache.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileKey {
    /// Device and inode, from the maps line.
    Inode(u64, u64),
    /// The path, when the inode is 0.
    Path(Arc<str>),
}

/// A function symbol of an ELF file.
#[derive(Debug)]
struct Sym {
    addr: u64,
    /// 0: unknown, the symbol reaches up to the next one.
    size: u64,
    name: Arc<str>,
}

/// What [`Usyms`] keeps of an ELF file.
#[derive(Debug)]
struct ElfSyms {
    /// `PT_LOAD` headers: (file offset, file size, virtual address).
    loads: Vec<(u64, u64, u64)>,
    /// Function symbols, ascending, one per address.
    syms: Vec<Sym>,
}

/// A Rust symbol as its path without the hash (`std::thread::spawn`, as
/// bpftrace and perf print them); other names as they are.
fn demangled(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_string(),
    }
}

impl ElfSyms {
    /// Reads the program headers and function symbols (`.symtab` and
    /// `.dynsym`) of the ELF file `data`; `None` when it is not ELF.
    fn parse(data: &[u8]) -> Option<ElfSyms> {
        let file = object::File::parse(data).ok()?;
        let loads = file
            .segments()
            .map(|s| {
                let (off, size) = s.file_range();
                (off, size, s.address())
            })
            .collect();
        // (address, preference, size, name); preference: sized, then
        // global, then fewest leading underscores, then shortest.
        type Rank = (bool, bool, usize, usize);
        let mut raw: Vec<(u64, Rank, u64, &str)> = Vec::new();
        for sym in file.symbols().chain(file.dynamic_symbols()) {
            if sym.kind() != SymbolKind::Text || sym.is_undefined() || sym.address() == 0 {
                continue;
            }
            let Ok(name) = sym.name() else { continue };
            if name.is_empty() {
                continue;
            }
            let underscores = name.bytes().take_while(|&b| b == b'_').count();
            let rank = (sym.size() == 0, !sym.is_global(), underscores, name.len());
            raw.push((sym.address(), rank, sym.size(), name));
        }
        raw.sort_unstable_by(|a, b| (a.0, a.1, a.3).cmp(&(b.0, b.1, b.3)));
        raw.dedup_by_key(|s| s.0);
        let syms = raw
            .into_iter()
            .map(|(addr, _, size, name)| Sym {
                addr,
                size,
                name: Arc::from(demangled(name).as_str()),
            })
            .collect();
        Some(ElfSyms { loads, syms })
    }

    /// The virtual address at file offset `off`, through the `PT_LOAD`
    /// header whose file range holds it.
    fn vaddr(&self, off: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|&&(p_off, p_size, _)| off >= p_off && off - p_off < p_size)
            .map(|&(p_off, _, p_vaddr)| off - p_off + p_vaddr)
    }

    /// The function containing virtual address `vaddr`, and the offset.
    fn lookup(&self, vaddr: u64) -> Option<(Arc<str>, u64)> {
        let i = self
            .syms
            .partition_point(|s| s.addr <= vaddr)
            .checked_sub(1)?;
        let s = &self.syms[i];
        let offset = vaddr - s.addr;
        if s.size > 0 && offset >= s.size {
            return None;
        }
        Some((s.name.clone(), offset))
    }
}

/// User-space symbols of running processes: each process's mappings from
/// `/proc/PID/maps` (cached per pid), the function symbols of each mapped
/// ELF file (cached per device and inode, so shared libraries are read
/// once for all processes).
#[derive(Debug, Default)]
pub struct Usyms {
    maps: HashMap<u32, Vec<Mapping>>,
    /// `None`: not ELF or unreadable, not tried again.
    files: HashMap<FileKey, Option<Arc<ElfSyms>>>,
}

impl Usyms {
    /// An empty cache.
    pub fn new() -> Usyms {
        Usyms::default()
    }

    /// The function containing `addr` in process `pid`, and the offset from
    /// its start. `None` when the process is gone, when the address is in
    /// no mapping or in an anonymous one (heap, stack, JIT code, the vDSO),
    /// or when the file has no function symbol there. An address in no
    /// cached mapping re-reads the pid's maps once (it may be new).
    pub fn resolve(&mut self, pid: u32, addr: u64) -> Option<(Arc<str>, u64)> {
        let mapping = match self.maps.get(&pid).and_then(|m| find_mapping(m, addr)) {
            Some(m) => m.clone(),
            None => {
                // Not cached, or a miss in the cache: (re)read.
                let Some(maps) = read_maps(pid) else {
                    self.maps.remove(&pid);
                    return None;
                };
                let m = find_mapping(&maps, addr).cloned();
                self.maps.insert(pid, maps);
                m?
            }
        };
        let path = mapping.path.clone()?;
        let key = if mapping.inode != 0 {
            FileKey::Inode(mapping.dev, mapping.inode)
        } else {
            FileKey::Path(path.clone())
        };
        let elf = match self.files.get(&key) {
            Some(e) => e.clone(),
            None => {
                let e = load_elf(pid, &mapping, &path).map(Arc::new);
                self.files.insert(key, e.clone());
                e
            }
        }?;
        let file_off = addr - mapping.start + mapping.offset;
        elf.lookup(elf.vaddr(file_off)?)
    }

    /// Drops what is cached of `pid`'s mappings (it exited, or the pid may
    /// be reused).
    pub fn forget(&mut self, pid: u32) {
        self.maps.remove(&pid);
    }
}

fn find_mapping(maps: &[Mapping], addr: u64) -> Option<&Mapping> {
    let i = maps.partition_point(|m| m.start <= addr).checked_sub(1)?;
    let m = &maps[i];
    (addr < m.end).then_some(m)
}

fn read_maps(pid: u32) -> Option<Vec<Mapping>> {
    if pid == 0 {
        return None;
    }
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .ok()
        .map(|t| parse_maps(&t))
}

/// Reads the symbols of a mapped file: through the process's root (other
/// mount namespaces), then its `map_files` link (deleted files), then the
/// plain path.
fn load_elf(pid: u32, m: &Mapping, path: &str) -> Option<ElfSyms> {
    let candidates = [
        format!("/proc/{pid}/root{path}"),
        format!("/proc/{pid}/map_files/{:x}-{:x}", m.start, m.end),
        path.to_string(),
    ];
    for c in &candidates {
        if let Some(mapped) = Mapped::open(std::path::Path::new(c)) {
            return ElfSyms::parse(mapped.bytes());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A function of this test binary to find by address.
    #[no_mangle]
    #[inline(never)]
    pub extern "C" fn tracectl_usym_probe_fn() -> u64 {
        // Enough code that +3 is still inside.
        std::hint::black_box(0x1234_5678_9abc_u64).wrapping_mul(std::hint::black_box(3))
    }

    /// A Rust function (mangled in the binary) to find by address.
    #[inline(never)]
    fn rust_named_probe() -> u64 {
        std::hint::black_box(0x5678_u64).wrapping_mul(std::hint::black_box(7))
    }

    #[test]
    fn rust_symbols_print_as_paths_without_their_hash() {
        assert_eq!(
            demangled("_ZN4core3fmt5write17h0123456789abcdefE"),
            "core::fmt::write"
        );
        assert_eq!(
            demangled("_RNvNvMs0_NtNtNtCsjrHSEGnQ3l9_3std3sys6thread4unixNtB7_6Thread3new12thread_start.llvm.3643936799275306673"),
            "<std::sys::thread::unix::Thread>::new::thread_start"
        );
        assert_eq!(demangled("getpid"), "getpid");
        assert_eq!(demangled("_Z3fooi"), "_Z3fooi", "C++ is left alone");
        let addr = std::hint::black_box(rust_named_probe as *const () as u64);
        let (name, off) = Usyms::new()
            .resolve(std::process::id(), addr)
            .expect("this test binary's symbols");
        assert_eq!(off, 0);
        assert!(name.ends_with("symbols::tests::rust_named_probe"), "{name}");
    }

    fn probe_addr() -> u64 {
        tracectl_usym_probe_fn as *const () as u64
    }

    #[test]
    fn ksyms_parse() {
        let k = Ksyms::parse(
            "ffffffff81000000 T _text\n\
             ffffffff81000000 T startup_64\n\
             ffffffff81001000 t helper\n\
             ffffffff81002000 D some_data\n\
             ffffffff81002000 t __code_at_data\n\
             0000000000000000 A fixed_percpu_data\n\
             garbage line\n\
             ffffffffc0a00000 t mod_func\t[mymod]\n",
        );
        assert_eq!(k.len(), 4);
        assert_eq!(k.resolve(0xffffffff81000000), Some(("startup_64", 0)));
        assert_eq!(k.resolve(0xffffffff81000fff), Some(("startup_64", 0xfff)));
        assert_eq!(k.resolve(0xffffffff81001000), Some(("helper", 0)));
        assert_eq!(k.resolve(0xffffffff81001001), Some(("helper", 1)));
        assert_eq!(
            k.resolve(0xffffffff81002010),
            Some(("__code_at_data", 0x10))
        );
        assert_eq!(k.resolve(0xffffffffc0a00010), Some(("mod_func", 0x10)));
        // The last symbol covers 1 MiB.
        assert_eq!(
            k.resolve(0xffffffffc0a00000 + LAST_KSYM_SPAN - 1),
            Some(("mod_func", LAST_KSYM_SPAN - 1))
        );
        assert_eq!(k.resolve(0xffffffffc0a00000 + LAST_KSYM_SPAN), None);
        assert_eq!(k.resolve(0xffffffff80ffffff), None);
        assert_eq!(k.resolve(0), None);
        assert_eq!(k.resolve(u64::MAX), None);
    }

    #[test]
    fn ksyms_hidden_addresses() {
        let k = Ksyms::parse(
            "0000000000000000 T _text\n0000000000000000 t do_sys_openat2\n\
             0000000000000000 t mod_func\t[mymod]\n",
        );
        assert!(k.is_empty());
        assert_eq!(k.resolve(0), None);
        assert_eq!(k.resolve(0xffffffff81000000), None);
        assert!(Ksyms::parse("").is_empty());
    }

    #[test]
    fn ksyms_load_real() {
        let text = std::fs::read_to_string("/proc/kallsyms").expect("read /proc/kallsyms");
        let k = Ksyms::parse(&text);
        assert!(
            !k.is_empty(),
            "all /proc/kallsyms addresses are 0 (kptr_restrict, not root): cannot test"
        );
        let loaded = Ksyms::load().unwrap();
        assert_eq!(loaded.len(), k.len());
        let mut checked = 0;
        for want in ["do_sys_openat2", "vfs_read"] {
            let Some(addr) = text.lines().find_map(|l| {
                let f: Vec<&str> = l.split_ascii_whitespace().collect();
                (f.len() >= 3 && f[2] == want).then(|| u64::from_str_radix(f[0], 16).unwrap())
            }) else {
                continue;
            };
            // Names sharing the address (aliases) are as right.
            let same: Vec<&str> = text
                .lines()
                .filter(|l| l.starts_with(&format!("{addr:016x} ")))
                .filter_map(|l| l.split_ascii_whitespace().nth(2))
                .collect();
            let (name, off) = loaded.resolve(addr).unwrap();
            assert_eq!(off, 0);
            if same.len() == 1 {
                assert_eq!(name, want);
            } else {
                assert!(same.contains(&name), "{name} not among {same:?}");
            }
            let (name5, off5) = loaded.resolve(addr + 5).unwrap();
            assert_eq!((name5, off5), (name, 5));
            checked += 1;
        }
        assert!(
            checked > 0,
            "neither do_sys_openat2 nor vfs_read in /proc/kallsyms"
        );
    }

    #[test]
    fn maps_lines() {
        let maps = parse_maps(
            "7f0000001000-7f0000002000 r-xp 00001000 fd:01 1234      /usr/lib/libfoo.so.1\n\
             55d000000000-55d000021000 rw-p 00000000 00:00 0          [heap]\n\
             7f0000003000-7f0000004000 r-xp 00002000 08:11 99  /tmp/a b (deleted)\n\
             7f0000005000-7f0000006000 rw-p 00000000 00:00 0\n",
        );
        assert_eq!(maps.len(), 4);
        assert_eq!(maps[0].start, 0x55d000000000);
        assert!(maps[0].path.is_none());
        let m = &maps[1];
        assert_eq!(
            (m.start, m.end, m.offset),
            (0x7f0000001000, 0x7f0000002000, 0x1000)
        );
        assert_eq!((m.dev, m.inode), (0xfd << 32 | 1, 1234));
        assert_eq!(m.path.as_deref(), Some("/usr/lib/libfoo.so.1"));
        assert_eq!(maps[2].path.as_deref(), Some("/tmp/a b"));
        assert!(maps[3].path.is_none());
        assert_eq!(find_mapping(&maps, 0x7f0000001fff).unwrap().inode, 1234);
        assert!(find_mapping(&maps, 0x7f0000002000).is_none());
        assert!(find_mapping(&maps, 0x1000).is_none());
    }

    #[test]
    fn usyms_own_function() {
        let addr = probe_addr();
        let pid = std::process::id();
        let mut u = Usyms::new();
        let (name, off) = u.resolve(pid, addr).expect("resolve the probe function");
        assert_eq!((&*name, off), ("tracectl_usym_probe_fn", 0));
        let (name, off) = u.resolve(pid, addr + 3).unwrap();
        assert_eq!((&*name, off), ("tracectl_usym_probe_fn", 3));
        // Once more from the caches, then after forgetting the pid.
        assert_eq!(u.resolve(pid, addr).unwrap().1, 0);
        u.forget(pid);
        assert!(u.maps.is_empty());
        assert_eq!(&*u.resolve(pid, addr).unwrap().0, "tracectl_usym_probe_fn");
        assert_eq!(tracectl_usym_probe_fn(), 0x1234_5678_9abc * 3);
    }

    #[test]
    fn usyms_libc() {
        let addr = libc::getpid as *const () as u64;
        let mut u = Usyms::new();
        let (name, _) = u.resolve(std::process::id(), addr).expect("resolve getpid");
        assert!(name.contains("getpid"), "{name}");
    }

    #[test]
    fn usyms_anonymous_and_gone() {
        let mut u = Usyms::new();
        let pid = std::process::id();
        let heap = Box::new([0u8; 4096]);
        assert_eq!(u.resolve(pid, heap.as_ptr() as u64), None);
        let stack = 0u64;
        assert_eq!(u.resolve(pid, &stack as *const u64 as u64), None);
        assert_eq!(u.resolve(pid, 8), None);
        // Above any pid_max (at most 2^22).
        assert_eq!(u.resolve(0x7fff_fff0, probe_addr()), None);
        assert!(!u.maps.contains_key(&0x7fff_fff0));
        assert_eq!(u.resolve(0, probe_addr()), None);
    }

    /// A mapping made after the pid's maps were cached is found: the miss
    /// re-reads them. The test binary is mapped again whole; the probe
    /// function's file offset in the new mapping names it.
    #[test]
    fn usyms_new_mapping() {
        let pid = std::process::id();
        let mut u = Usyms::new();
        let probe = probe_addr();
        assert!(u.resolve(pid, probe).is_some());
        let m = find_mapping(&u.maps[&pid], probe).unwrap().clone();
        let file_off = probe - m.start + m.offset;
        let exe =
            Mapped::open(std::path::Path::new("/proc/self/exe")).expect("map the test binary");
        let base = exe.bytes().as_ptr() as u64;
        assert!(find_mapping(&u.maps[&pid], base).is_none());
        let (name, off) = u
            .resolve(pid, base + file_off)
            .expect("found after a re-read");
        assert_eq!((&*name, off), ("tracectl_usym_probe_fn", 0));
        drop(exe);
    }
}
