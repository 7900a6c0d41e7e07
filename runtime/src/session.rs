//! A running plan: attached probes and the ring buffer they write to.
//!
//! Reading: [`Session::poll`] waits on the ring buffer's fd for at most the
//! given timeout, then drains what is there. The templates only wake the
//! reader once a quarter of the buffer (by default) is waiting, so at low
//! rates records are delivered when the timeout expires, in one batch, and
//! at high rates as soon as enough accumulated: no wakeup per event.
//!
//! Dropping (or [`Session::close`]) detaches every link and unloads every
//! program; nothing of the session is pinned.

use std::io;
use std::os::fd::AsRawFd;
use std::time::Duration;

use aya::maps::{MapData, PerCpuArray, RingBuf};
use aya::Ebpf;

use crate::aggregate::AggMap;
use crate::error::RuntimeError;
use crate::pair::{PairCounts, PairMaps};
use crate::stacks::SharedStacks;
use crate::templates::Kind;

/// Attached probes of one plan and their shared ring buffer.
pub struct Session {
    // Drop unloads `objects` first (detaching their links), then the maps go.
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
    aggs: Vec<AggMap>,
    pairs: Vec<PairMaps>,
    objects: Vec<Ebpf>,
    kinds: Vec<Kind>,
    start_kinds: Vec<Option<Kind>>,
    ring_bytes: u32,
    startup: Duration,
    /// The shared stack map, when a probe reads `kstack` or `ustack`.
    pub(crate) stacks: Option<SharedStacks>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("kinds", &self.kinds)
            .field("start_kinds", &self.start_kinds)
            .field("ring_bytes", &self.ring_bytes)
            .field("startup", &self.startup)
            .finish()
    }
}

impl Session {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        objects: Vec<Ebpf>,
        kinds: Vec<Kind>,
        start_kinds: Vec<Option<Kind>>,
        ring: RingBuf<MapData>,
        lost: PerCpuArray<MapData, u64>,
        aggs: Vec<AggMap>,
        pairs: Vec<PairMaps>,
        ring_bytes: u32,
        startup: Duration,
    ) -> Session {
        Session {
            ring,
            lost,
            aggs,
            pairs,
            objects,
            kinds,
            start_kinds,
            ring_bytes,
            startup,
            stacks: None,
        }
    }

    /// The stacks `kstack`/`ustack` slots name, when a probe reads one
    /// (for [`crate::decode::Decoder::set_stacks`]).
    pub fn stacks(&self) -> Option<SharedStacks> {
        self.stacks.clone()
    }

    /// Waits up to `timeout` for records, then hands every available record
    /// (at most one ring buffer's worth) to `on_record`. Each record is the
    /// bytes its template emitted: the 16-byte header then the slots.
    /// Returns the number of records delivered; 0 on timeout or when a
    /// signal interrupted the wait.
    pub fn poll(
        &mut self,
        timeout: Duration,
        on_record: &mut dyn FnMut(&[u8]),
    ) -> Result<usize, RuntimeError> {
        let n = self.drain(on_record);
        if n > 0 {
            return Ok(n);
        }
        let mut pfd = libc::pollfd {
            fd: self.ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let mut ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        if ms == 0 && !timeout.is_zero() {
            ms = 1;
        }
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(0);
            }
            return Err(RuntimeError::io("waiting for events failed", e));
        }
        Ok(self.drain(on_record))
    }

    fn drain(&mut self, on_record: &mut dyn FnMut(&[u8])) -> usize {
        let budget = self.ring_bytes as usize;
        let mut bytes = 0usize;
        let mut n = 0;
        while bytes < budget {
            let Some(item) = self.ring.next() else { break };
            bytes += item.len() + 8;
            on_record(&item);
            n += 1;
        }
        n
    }

    /// Records the kernel could not write because the ring buffer was full,
    /// summed over CPUs.
    pub fn lost(&self) -> u64 {
        self.lost_at(crate::abi::lost::RING)
    }

    /// Events the templates dropped because their configuration held a code
    /// they do not know, summed over CPUs. The loader refuses such
    /// configurations, so anything but 0 means the runtime and the templates
    /// disagree (a tracectl bug), and `run` says so.
    pub fn dropped_unknown(&self) -> u64 {
        self.lost_at(crate::abi::lost::UNKNOWN)
    }

    fn lost_at(&self, key: u32) -> u64 {
        match self.lost.get(&key, 0) {
            Ok(values) => values.iter().sum(),
            Err(_) => 0,
        }
    }

    /// The aggregating probes' maps, in probe order.
    pub fn aggs(&mut self) -> &mut [AggMap] {
        &mut self.aggs
    }

    /// The template each probe uses, by probe index (shows whether a
    /// `kfunc:` probe got fentry/fexit or fell back to kprobe/kretprobe);
    /// a paired probe's end program's.
    pub fn kinds(&self) -> &[Kind] {
        &self.kinds
    }

    /// The template of each paired probe's start program, by probe index
    /// (`None` for an unpaired probe).
    pub fn start_kinds(&self) -> &[Option<Kind>] {
        &self.start_kinds
    }

    /// Each paired probe's counters, by probe index, in probe order. Exact
    /// once the programs are detached ([`Session::detach`]); while they
    /// run, a start or an end may land between two reads.
    pub fn pair_counts(&self) -> Vec<(usize, io::Result<PairCounts>)> {
        self.pairs.iter().map(|p| (p.probe, p.counts())).collect()
    }

    /// Detaches every probe and unloads every program now; the maps (ring
    /// buffer, counters, aggregations, stashes) stay readable until the
    /// session is dropped.
    pub fn detach(&mut self) {
        detach_all(std::mem::take(&mut self.objects));
    }

    /// Ring-buffer size in bytes.
    pub fn ring_bytes(&self) -> u32 {
        self.ring_bytes
    }

    /// Time from [`Loader::start`](crate::load::Loader::start) being called
    /// to every probe being attached.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// Detaches every probe and unloads every program.
    pub fn close(self) {
        drop(self);
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Unload the programs (detaching their links) before the maps go.
        detach_all(std::mem::take(&mut self.objects));
    }
}

/// Drops every object, concurrently when there are several.
///
/// Detaching a tracepoint probe waits in the kernel for RCU grace periods
/// (`tracepoint_synchronize_unregister()` when its perf event is released:
/// 70–80 ms per syscall tracepoint on Linux 6.18). One after the other,
/// eight probes take over half a second to detach; on one thread each, the
/// waits overlap and the whole detach takes about one probe's time.
fn detach_all(objects: Vec<Ebpf>) {
    if objects.len() < 2 {
        drop(objects);
        return;
    }
    std::thread::scope(|scope| {
        for object in objects {
            // If no thread can be created, the closure (and with it the
            // object) is dropped right here instead.
            let _ = std::thread::Builder::new()
                .name("tracectl-detach".into())
                .stack_size(64 * 1024)
                .spawn_scoped(scope, move || drop(object));
        }
    });
}
