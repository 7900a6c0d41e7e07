//! The precompiled eBPF templates (templates-ebpf/, GPL-2.0), embedded.
//!
//! Each kind is one small object built from `templates-ebpf/KIND.bpf.c` and
//! the shared `capture.h`; it holds one program, the `CFG` configuration
//! global, the shared `events` ring buffer and `lost` counter, a private
//! per-CPU `scratch` map, the aggregation maps (agg.h), a paired probe's
//! `stash` and `pair_counts` (pair.h) and the shared `stacks` map (stack.h). The objects are committed (`templates-ebpf/obj/`),
//! so building tracectl needs no clang.

use std::fmt;

/// Which template a probe uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `tracepoint/CAT/NAME` (perf event on a tracefs event).
    Tracepoint,
    /// `tp_btf/NAME` (BTF-typed raw tracepoint).
    TpBtf,
    /// Kernel function entry, kprobe.
    Kprobe,
    /// Kernel function return, kretprobe.
    Kretprobe,
    /// Kernel function entry, BPF trampoline.
    Fentry,
    /// Kernel function return, BPF trampoline.
    Fexit,
    /// User function entry.
    Uprobe,
    /// User function return.
    Uretprobe,
    /// A perf event's samples (`profile:hz:N`).
    PerfEvent,
}

/// One embedded template.
#[derive(Debug)]
pub struct Template {
    /// The kind.
    pub kind: Kind,
    /// Name of the program in the object (also its kernel name).
    pub program: &'static str,
    /// ELF section of the program (how aya recognises its type).
    pub section: &'static str,
    /// The object file, 8-byte aligned.
    pub object: &'static [u8],
}

/// Name of the shared ring-buffer map.
pub const EVENTS_MAP: &str = "events";
/// Name of the shared per-CPU lost-records counter.
pub const LOST_MAP: &str = "lost";
/// Name of the shared cgroup array of `--cgroup` / `--container`.
pub const CGROUP_FILTER_MAP: &str = "cgroup_filter";
/// Name of the shared stack map (`kstack`, `ustack`; stack.h).
pub const STACKS_MAP: &str = "stacks";
/// Name of the private per-CPU scratch map.
pub const SCRATCH_MAP: &str = "scratch";

macro_rules! template {
    ($kind:ident, $prog:literal, $sec:literal, $file:literal) => {
        Template {
            kind: Kind::$kind,
            program: $prog,
            section: $sec,
            object: aya::include_bytes_aligned!(concat!("../../templates-ebpf/obj/", $file)),
        }
    };
}

static TEMPLATES: [Template; 9] = [
    template!(Tracepoint, "tracectl_tp", "tracepoint", "tracepoint.bpf.o"),
    template!(TpBtf, "tracectl_tpbtf", "tp_btf", "tp_btf.bpf.o"),
    template!(Kprobe, "tracectl_kprobe", "kprobe", "kprobe.bpf.o"),
    template!(Kretprobe, "tracectl_kret", "kretprobe", "kretprobe.bpf.o"),
    template!(Fentry, "tracectl_fentry", "fentry", "fentry.bpf.o"),
    template!(Fexit, "tracectl_fexit", "fexit", "fexit.bpf.o"),
    template!(Uprobe, "tracectl_uprobe", "uprobe", "uprobe.bpf.o"),
    template!(Uretprobe, "tracectl_uret", "uretprobe", "uretprobe.bpf.o"),
    template!(PerfEvent, "tracectl_pe", "perf_event", "perf_event.bpf.o"),
];

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 9] = [
        Kind::Tracepoint,
        Kind::TpBtf,
        Kind::Kprobe,
        Kind::Kretprobe,
        Kind::Fentry,
        Kind::Fexit,
        Kind::Uprobe,
        Kind::Uretprobe,
        Kind::PerfEvent,
    ];

    /// The embedded template of this kind.
    pub fn template(self) -> &'static Template {
        let t = &TEMPLATES[self as usize];
        debug_assert_eq!(t.kind, self);
        t
    }

    /// Short name (`fentry`, `tracepoint`, ...), as in the object's file name.
    pub fn name(self) -> &'static str {
        self.template().section
    }

    /// Does the template read arguments from BTF-typed `ctx[i]` (so that
    /// loading needs kernel BTF)?
    pub fn needs_btf(self) -> bool {
        matches!(self, Kind::TpBtf | Kind::Fentry | Kind::Fexit)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every program name a template may load with (to find ours in
/// `bpftool prog list`).
pub fn program_names() -> impl Iterator<Item = &'static str> {
    TEMPLATES.iter().map(|t| t.program)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_aligned_elf() {
        for k in Kind::ALL {
            let t = k.template();
            assert_eq!(t.kind, k);
            assert_eq!(t.object.as_ptr() as usize % 8, 0);
            assert_eq!(&t.object[..4], b"\x7fELF");
            assert!(t.program.len() < 16, "kernel program names have 15 bytes");
        }
    }

    #[test]
    fn objects_parse_with_their_program() {
        for k in Kind::ALL {
            let t = k.template();
            let obj = aya_obj::Object::parse(t.object).expect("template parses");
            assert!(obj.programs.contains_key(t.program), "{k}: {}", t.program);
            for m in [
                EVENTS_MAP,
                LOST_MAP,
                CGROUP_FILTER_MAP,
                SCRATCH_MAP,
                crate::pair::STASH_MAP,
                crate::pair::PAIR_COUNTS_MAP,
                ".rodata",
            ] {
                assert!(obj.maps.contains_key(m), "{k}: map {m}");
            }
        }
    }
}
