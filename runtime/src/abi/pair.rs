//! Start/end pairing (templates-ebpf/pair.h): the role codes, the counter
//! keys, and the encoding and checks of a paired program's `tc_config`
//! fields (`pair`, `value_off`, `value_size`, `key_off`, `key_size`,
//! `join_at`, `join_calc`, `join_filter`).
//!
//! Both programs of a paired probe lay their record out as
//! `[header][aggregation key, end only][start ts][start values][match key]
//! [the rest]`: the stashed bytes are `[value_off, value_off + value_size)`,
//! the key `[key_off, key_off + key_size)` with `key_off = value_off +
//! value_size`. The template re-checks the bounds below (so that the
//! verifier can prove every access); a configuration failing them would make
//! it drop every event, so it is refused here first.

use super::{agg, check_in_record, AbiError, TcConfig};
use tracectl_compiler::plan::{
    PairConfig, PairRole, ProbeConfig, MAX_PAIR_KEY, MAX_RECORD, RECORD_HEADER,
};

/// `tc_config.pair`: an unpaired probe.
pub const NONE: u32 = 0;
/// The start program: its sink is the stash.
pub const START: u32 = 1;
/// The end program: joins the stash, then its sink (ring or aggregation).
pub const END: u32 = 2;
/// Every role the templates know.
pub const ALL: [u32; 3] = [NONE, START, END];

/// `pair_counts` key: starts stashed under a key not in the stash.
pub const PC_STASHED: u32 = 0;
/// Starts whose key was still stashed (overwritten).
pub const PC_REPLACED: u32 = 1;
/// Ends that found (and deleted) their start.
pub const PC_MATCHED: u32 = 2;
/// Ends without a stashed start.
pub const PC_UNMATCHED: u32 = 3;
/// Starts the stash refused for another reason than a present key.
pub const PC_FAILED: u32 = 4;
/// Entries of the `pair_counts` map.
pub const PC_SLOTS: u32 = 5;

/// Where an end program's stages split, and the bytes its join writes.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Stages {
    pub join_at: u32,
    pub join_calc: u32,
    pub join_filter: u32,
    /// `(value_off, value_size)`: written by the join, before stage 2.
    pub joined: Option<(u32, u32)>,
}

impl Stages {
    /// An end program's stages; all 0 (one stage, no join) otherwise.
    pub fn of(config: &ProbeConfig) -> Stages {
        match &config.pair {
            Some(p) if p.role == PairRole::End => Stages {
                join_at: p.join_at,
                join_calc: p.join_calc,
                join_filter: p.join_filter,
                joined: Some((p.value_off, p.value_size)),
            },
            _ => Stages::default(),
        }
    }
}

macro_rules! bail {
    ($($t:tt)*) => { return Err(AbiError(format!($($t)*))) };
}

/// Record regions `(offset, bytes)` written by the first `ops` value ops
/// and `calcs` arithmetic instructions.
fn written(config: &ProbeConfig, ops: u32, calcs: u32) -> Vec<(u32, u32)> {
    config.ops[..(ops as usize).min(config.ops.len())]
        .iter()
        .map(|o| (o.slot, o.slot_size))
        .chain(
            config.calcs[..(calcs as usize).min(config.calcs.len())]
                .iter()
                .map(|c| (c.dst, 8)),
        )
        .collect()
}

/// Every byte of `[off, off + len)` is written by one of `regions`.
fn covered(regions: &[(u32, u32)], off: u32, len: u32) -> bool {
    (off as u64..off as u64 + len as u64).all(|b| {
        regions
            .iter()
            .any(|&(s, n)| s as u64 <= b && b < s as u64 + n as u64)
    })
}

/// The first region of `regions` overlapping `[off, off + len)`.
fn overlap(regions: &[(u32, u32)], off: u32, len: u32) -> Option<(u32, u32)> {
    let (a, b) = (off as u64, off as u64 + len as u64);
    regions
        .iter()
        .copied()
        .find(|&(s, n)| (s as u64) < b && a < s as u64 + n as u64)
}

/// The layout both programs share; the template's own check
/// (`tc_pair_layout`) plus the record's size.
fn check_layout(p: &PairConfig, record_size: u32) -> Result<(), AbiError> {
    let bound = MAX_RECORD - MAX_PAIR_KEY;
    if p.value_size < 8 {
        bail!(
            "the stashed bytes are {}; they hold at least the start timestamp (8)",
            p.value_size
        );
    }
    if p.value_off < RECORD_HEADER || p.value_off > bound {
        bail!(
            "the stashed bytes start at record offset {}; it must be in {RECORD_HEADER}..={bound}",
            p.value_off
        );
    }
    if p.key_off as u64 != p.value_off as u64 + p.value_size as u64 {
        bail!(
            "the match key is at record offset {}, not right after the stashed bytes ({} + {})",
            p.key_off,
            p.value_off,
            p.value_size
        );
    }
    if p.key_off > bound {
        bail!(
            "the match key is at record offset {}; it must be at most {bound}",
            p.key_off
        );
    }
    if p.key_size == 0 || p.key_size > MAX_PAIR_KEY {
        bail!(
            "the match key has {} bytes; it must have 1..={MAX_PAIR_KEY}",
            p.key_size
        );
    }
    check_in_record(p.value_off, p.value_size, record_size, "the stashed bytes")?;
    check_in_record(p.key_off, p.key_size, record_size, "the match key")
}

/// Checks a paired program's configuration and writes its fields (and, for
/// a start, the stash sink) into `cfg`. Unpaired: nothing to do.
pub(super) fn encode(config: &ProbeConfig, cfg: &mut TcConfig) -> Result<(), AbiError> {
    let Some(p) = &config.pair else {
        return Ok(());
    };
    check_layout(p, config.record_size)?;
    let key = (p.key_off, p.key_size);
    match p.role {
        PairRole::Start => {
            if config.agg.is_some() {
                bail!("a start program stashes its values; it cannot aggregate");
            }
            if p.join_at != 0 || p.join_calc != 0 || p.join_filter != 0 {
                bail!(
                    "a start program has no join, but says join_at {}, join_calc {}, \
                     join_filter {}",
                    p.join_at,
                    p.join_calc,
                    p.join_filter
                );
            }
            let all = written(config, u32::MAX, u32::MAX);
            if !covered(&all, key.0, key.1) {
                bail!(
                    "no value op or arithmetic instruction writes every byte of the match key \
                     (record bytes {}..{})",
                    key.0,
                    key.0 + key.1
                );
            }
            if let Some((s, n)) = overlap(&all, p.value_off, 8) {
                bail!(
                    "record bytes {s}..{} are written by an op, but bytes {}..{} hold the \
                     start timestamp",
                    s + n,
                    p.value_off,
                    p.value_off + 8
                );
            }
            cfg.pair = START;
            cfg.sink = agg::SINK_STASH;
        }
        PairRole::End => {
            if p.join_at > config.filter_at {
                bail!(
                    "the join runs after {} value ops, but the filter after {}: the first \
                     stage must come first",
                    p.join_at,
                    config.filter_at
                );
            }
            if p.join_calc > config.calc_at {
                bail!(
                    "the join runs after {} arithmetic instructions, but the filter after {}",
                    p.join_calc,
                    config.calc_at
                );
            }
            if p.join_filter as usize > config.filter.len() {
                bail!(
                    "the first filter stage has {} instructions, but the filter only {}",
                    p.join_filter,
                    config.filter.len()
                );
            }
            let first = written(config, p.join_at, p.join_calc);
            if !covered(&first, key.0, key.1) {
                bail!(
                    "the first {} value op(s) and {} arithmetic instruction(s) (before the \
                     join) do not write every byte of the match key (record bytes {}..{})",
                    p.join_at,
                    p.join_calc,
                    key.0,
                    key.0 + key.1
                );
            }
            if let Some((s, n)) = overlap(&first, p.value_off, p.value_size) {
                bail!(
                    "record bytes {s}..{} are written before the join, which overwrites bytes \
                     {}..{} with the stashed values",
                    s + n,
                    p.value_off,
                    p.key_off
                );
            }
            if let Some(a) = &config.agg {
                if RECORD_HEADER + a.key_size > p.value_off {
                    bail!(
                        "the aggregation key (record bytes {RECORD_HEADER}..{}) overlaps the \
                         stashed bytes at {}",
                        RECORD_HEADER + a.key_size,
                        p.value_off
                    );
                }
            }
            cfg.pair = END;
            cfg.join_at = p.join_at;
            cfg.join_calc = p.join_calc;
            cfg.join_filter = p.join_filter;
        }
    }
    cfg.value_off = p.value_off;
    cfg.value_size = p.value_size;
    cfg.key_off = p.key_off;
    cfg.key_size = p.key_size;
    Ok(())
}

impl TcConfig {
    /// The pairing fields hold a role the templates know, consistent with
    /// the sink, and no join stages outside an end program.
    pub(super) fn check_pair_codes(&self) -> Result<(), AbiError> {
        super::codes::known("the configuration's pair role", self.pair, &ALL)?;
        if (self.sink == agg::SINK_STASH) != (self.pair == START) {
            bail!(
                "the configuration's sink is {} and its pair role {}: only a start program \
                 (role {START}) stashes (sink {})",
                self.sink,
                self.pair,
                agg::SINK_STASH
            );
        }
        if self.pair != END && (self.join_at | self.join_calc | self.join_filter) != 0 {
            bail!(
                "join stages in a program that is not a paired end (role {})",
                self.pair
            );
        }
        Ok(())
    }
}
