//! Reading a paired probe's counters and stash (templates-ebpf/pair.h).
//!
//! The start and end programs of a paired probe share its `stash` (an LRU
//! hash: match key → start timestamp and start values) and its per-CPU
//! `pair_counts`. The templates count what they see (`stashed`, `replaced`,
//! `matched`, `unmatched_end`, `failed`); starts the LRU evicted to make
//! room are not seen by any program, so they are computed here, exactly:
//! every start stashed under a new key is either matched by its end, still
//! in the stash, or evicted:
//!
//! `evicted = stashed - matched - (entries still in the stash)`
//!
//! (replacing a present key keeps its entry: not a new start in the
//! formula). Read after the programs are detached, the count is exact.

use std::fmt::Write as _;
use std::io;
use std::os::fd::{AsFd, AsRawFd};

use aya::maps::{MapData, PerCpuArray};

use crate::abi::pair::{PC_FAILED, PC_MATCHED, PC_REPLACED, PC_STASHED, PC_UNMATCHED};

/// Name of the stash map in the templates.
pub const STASH_MAP: &str = "stash";
/// Name of the per-CPU pairing counters in the templates.
pub const PAIR_COUNTS_MAP: &str = "pair_counts";

/// A paired probe's counters, summed over CPUs, and what they imply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PairCounts {
    /// Starts stashed under a key not in the stash.
    pub stashed: u64,
    /// Starts whose key was still stashed (the older start was overwritten).
    pub replaced: u64,
    /// Ends that found their start.
    pub matched: u64,
    /// Ends without a stashed start (never seen, or evicted).
    pub unmatched_ends: u64,
    /// Starts the stash refused for another reason (should stay 0).
    pub failed: u64,
    /// Starts still in the stash (not ended yet).
    pub stash_entries: u64,
    /// Starts the LRU evicted before their end:
    /// `stashed - matched - stash_entries`, saturating.
    pub evicted: u64,
}

impl PairCounts {
    /// The stderr summary of probe `name`, e.g. `tracectl: PROBE: 12
    /// matched, 3 starts evicted (stash full: raise --stash), 1 replaced,
    /// 12 ends without a start`; only the non-zero counts after `matched`.
    pub fn summary(&self, name: &str) -> String {
        let mut s = format!("tracectl: {name}: {} matched", self.matched);
        let plural = |n: u64, one: &str, many: &str| {
            if n == 1 {
                one.to_string()
            } else {
                many.to_string()
            }
        };
        if self.evicted > 0 {
            let _ = write!(
                s,
                ", {} {} evicted (stash full: raise --stash)",
                self.evicted,
                plural(self.evicted, "start", "starts")
            );
        }
        if self.replaced > 0 {
            let _ = write!(
                s,
                ", {} replaced (started again before {} end)",
                self.replaced,
                plural(self.replaced, "its", "their")
            );
        }
        if self.unmatched_ends > 0 {
            let _ = write!(
                s,
                ", {} {} without a start",
                self.unmatched_ends,
                plural(self.unmatched_ends, "end", "ends")
            );
        }
        if self.failed > 0 {
            let _ = write!(
                s,
                ", {} {} the stash refused",
                self.failed,
                plural(self.failed, "start", "starts")
            );
        }
        if self.stash_entries > 0 {
            let _ = write!(
                s,
                ", {} {} without an end yet",
                self.stash_entries,
                plural(self.stash_entries, "start", "starts")
            );
        }
        s
    }

    /// The JSON object `-o json` prints on stderr for probe `name`:
    /// `{"pairing":"NAME","matched":N,"evicted":N,"replaced":N,
    /// "unmatched_ends":N,"stash_entries":N}` (and `"failed":N` when not 0).
    pub fn json(&self, name: &str) -> String {
        let mut s = format!(
            "{{\"pairing\":{},\"matched\":{},\"evicted\":{},\"replaced\":{},\
             \"unmatched_ends\":{},\"stash_entries\":{}",
            serde_json::Value::from(name),
            self.matched,
            self.evicted,
            self.replaced,
            self.unmatched_ends,
            self.stash_entries
        );
        if self.failed > 0 {
            let _ = write!(s, ",\"failed\":{}", self.failed);
        }
        s.push('}');
        s
    }
}

/// A paired probe's shared maps, opened for reading.
pub struct PairMaps {
    /// The probe's index in the plan.
    pub probe: usize,
    stash: MapData,
    counts: PerCpuArray<MapData, u64>,
    key_size: usize,
    max_entries: u32,
}

impl std::fmt::Debug for PairMaps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairMaps")
            .field("probe", &self.probe)
            .field("key_size", &self.key_size)
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

/// `union bpf_attr` for BPF_MAP_GET_NEXT_KEY.
#[repr(C)]
#[derive(Default)]
struct NextKeyAttr {
    map_fd: u32,
    _pad: u32,
    key: u64,
    next_key: u64,
    flags: u64,
}

const BPF_MAP_GET_NEXT_KEY: libc::c_long = 4;

impl PairMaps {
    /// Takes probe `probe`'s stash and counters out of one of its loaded
    /// objects (both programs share them).
    pub fn take(
        probe: usize,
        ebpf: &mut aya::Ebpf,
        key_size: u32,
        max_entries: u32,
    ) -> Result<PairMaps, String> {
        let stash = match ebpf.take_map(STASH_MAP) {
            Some(aya::maps::Map::LruHashMap(m)) => m,
            Some(_) => return Err("the template's stash is not an LRU hash".into()),
            None => return Err("the template has no stash map".into()),
        };
        let counts = ebpf
            .take_map(PAIR_COUNTS_MAP)
            .ok_or("the template has no pair_counts map")?;
        let counts = PerCpuArray::try_from(counts).map_err(|e| e.to_string())?;
        Ok(PairMaps {
            probe,
            stash,
            counts,
            key_size: key_size as usize,
            max_entries,
        })
    }

    fn count(&self, key: u32) -> u64 {
        match self.counts.get(&key, 0) {
            Ok(v) => v.iter().fold(0u64, |a, b| a.wrapping_add(*b)),
            Err(_) => 0,
        }
    }

    /// Entries in the stash (starts not ended yet), by walking its keys.
    /// While programs still run, entries may come and go during the walk:
    /// it stops after as many steps as the stash has entries.
    pub fn stash_entries(&self) -> io::Result<u64> {
        let fd = self.stash.fd().as_fd().as_raw_fd();
        let mut cur = vec![0u8; self.key_size];
        let mut next = vec![0u8; self.key_size];
        let mut n = 0u64;
        let mut first = true;
        while n < self.max_entries as u64 {
            let mut attr = NextKeyAttr {
                map_fd: fd as u32,
                key: if first { 0 } else { cur.as_ptr() as u64 },
                next_key: next.as_mut_ptr() as u64,
                ..NextKeyAttr::default()
            };
            // SAFETY: the attr points at two live buffers of the map's key
            // size; the kernel reads `key` and writes `next_key`.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_bpf,
                    BPF_MAP_GET_NEXT_KEY,
                    &mut attr as *mut NextKeyAttr,
                    std::mem::size_of::<NextKeyAttr>(),
                )
            };
            if r < 0 {
                let e = io::Error::last_os_error();
                if e.raw_os_error() == Some(libc::ENOENT) {
                    break;
                }
                return Err(e);
            }
            n += 1;
            first = false;
            std::mem::swap(&mut cur, &mut next);
        }
        Ok(n)
    }

    /// The counters and the evictions they imply.
    pub fn counts(&self) -> io::Result<PairCounts> {
        let mut c = PairCounts {
            stashed: self.count(PC_STASHED),
            replaced: self.count(PC_REPLACED),
            matched: self.count(PC_MATCHED),
            unmatched_ends: self.count(PC_UNMATCHED),
            failed: self.count(PC_FAILED),
            stash_entries: self.stash_entries()?,
            evicted: 0,
        };
        c.evicted = c
            .stashed
            .saturating_sub(c.matched)
            .saturating_sub(c.stash_entries);
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_every_non_zero_count() {
        let c = PairCounts {
            stashed: 16,
            replaced: 1,
            matched: 12,
            unmatched_ends: 3,
            failed: 0,
            stash_entries: 1,
            evicted: 3,
        };
        assert_eq!(
            c.summary("open"),
            "tracectl: open: 12 matched, 3 starts evicted (stash full: raise --stash), \
             1 replaced (started again before its end), 3 ends without a start, \
             1 start without an end yet"
        );
        let quiet = PairCounts {
            matched: 1,
            ..PairCounts::default()
        };
        assert_eq!(quiet.summary("p"), "tracectl: p: 1 matched");
    }

    #[test]
    fn json_is_one_object() {
        let c = PairCounts {
            matched: 5,
            evicted: 2,
            replaced: 1,
            unmatched_ends: 2,
            stash_entries: 0,
            ..PairCounts::default()
        };
        let s = c.json("a \"b\"");
        assert_eq!(
            s,
            r#"{"pairing":"a \"b\"","matched":5,"evicted":2,"replaced":1,"unmatched_ends":2,"stash_entries":0}"#
        );
        let v: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v["matched"], 5);
        let failed = PairCounts { failed: 4, ..c };
        let v: serde_json::Value = serde_json::from_str(&failed.json("x")).unwrap();
        assert_eq!(v["failed"], 4);
    }
}
