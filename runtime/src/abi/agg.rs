//! The aggregation sink (`struct tc_agg`, templates-ebpf/agg.h): codes, the
//! mirror, encoding and checks, and how the map's words read back.

use super::{check_in_record, AbiError, Writer};
use std::mem::offset_of;
use tracectl_compiler::plan::{
    AggFunc, AggPlan, HIST_BUCKETS, MAX_AGG, MAX_AGG_KEY, MAX_AGG_VALUE, RECORD_HEADER,
};

/// `tc_config.sink`: records go to the ring buffer.
pub const SINK_RING: u32 = 0;
/// `tc_config.sink`: records update the aggregation map.
pub const SINK_AGG: u32 = 1;
/// `tc_config.sink`: a paired probe's start program stores its values in
/// the stash (templates-ebpf/pair.h).
pub const SINK_STASH: u32 = 2;
/// Every sink the templates know.
pub const SINK_ALL: [u32; 3] = [SINK_RING, SINK_AGG, SINK_STASH];

/// `tc_agg.func`: count()
pub const COUNT: u8 = 1;
/// sum()
pub const SUM: u8 = 2;
/// min()
pub const MIN: u8 = 3;
/// max()
pub const MAX: u8 = 4;
/// avg()
pub const AVG: u8 = 5;
/// hist()
pub const HIST: u8 = 6;
/// lhist()
pub const LHIST: u8 = 7;
/// Every function the templates know.
pub const ALL: [u8; 7] = [COUNT, SUM, MIN, MAX, AVG, HIST, LHIST];
/// flags: the argument is signed.
pub const AF_SIGNED: u8 = 1;
/// Every flag bit the templates know.
pub const AF_ALL: [u8; 1] = [AF_SIGNED];

/// Mirror of `struct tc_agg` (32 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcAgg {
    /// LHIST: lowest bound.
    pub lo: u64,
    /// LHIST: bucket width.
    pub step: u64,
    /// Offset in the map value.
    pub off: u32,
    /// Record slot of the argument.
    pub arg: u32,
    /// HIST/LHIST: buckets.
    pub nbuckets: u32,
    /// Function code.
    pub func: u8,
    /// `AF_*` flags.
    pub flags: u8,
    /// Padding.
    pub _pad: [u8; 2],
}

const _: () = assert!(std::mem::size_of::<TcAgg>() == 32);

impl TcAgg {
    pub(super) fn write(&self, w: &mut Writer<'_>, at: usize) {
        w.put(at + offset_of!(TcAgg, lo), &self.lo.to_ne_bytes());
        w.put(at + offset_of!(TcAgg, step), &self.step.to_ne_bytes());
        w.put(at + offset_of!(TcAgg, off), &self.off.to_ne_bytes());
        w.put(at + offset_of!(TcAgg, arg), &self.arg.to_ne_bytes());
        w.put(
            at + offset_of!(TcAgg, nbuckets),
            &self.nbuckets.to_ne_bytes(),
        );
        w.put(at + offset_of!(TcAgg, func), &[self.func]);
        w.put(at + offset_of!(TcAgg, flags), &[self.flags]);
    }

    /// The function and flags are ones the templates know.
    pub(super) fn check_codes(&self, k: usize) -> Result<(), AbiError> {
        let field = |f: &str| format!("aggregate {k}'s {f}");
        super::codes::known(&field("function"), self.func, &ALL)?;
        super::codes::known_bits(&field("flags"), self.flags as u32, &AF_ALL.map(u32::from))
    }
}

/// Encodes an aggregating probe's values, checking that every word the
/// template updates lies in the map value and every argument in the record.
pub fn encode(plan: &AggPlan, record_size: u32) -> Result<[TcAgg; MAX_AGG], AbiError> {
    let mut out = [TcAgg::default(); MAX_AGG];
    if plan.values.len() > MAX_AGG {
        return Err(AbiError(format!(
            "the probe has {} aggregates; at most {MAX_AGG} are supported",
            plan.values.len()
        )));
    }
    if plan.value_size == 0 || plan.value_size > MAX_AGG_VALUE || plan.value_size % 8 != 0 {
        return Err(AbiError(format!(
            "the aggregation value has {} bytes; it must be a multiple of 8 in 8..={MAX_AGG_VALUE}",
            plan.value_size
        )));
    }
    if plan.key_size < 8 || plan.key_size % 8 != 0 || plan.key_size > MAX_AGG_KEY {
        return Err(AbiError(format!(
            "the aggregation key has {} bytes; it must be a multiple of 8 in 8..={MAX_AGG_KEY}",
            plan.key_size
        )));
    }
    check_in_record(
        RECORD_HEADER,
        plan.key_size,
        record_size,
        "the aggregation key",
    )?;
    for (k, v) in plan.values.iter().enumerate() {
        let t = &mut out[k];
        let what = format!("aggregate {k} (`{}`)", v.name);
        t.off = v.off;
        if v.signed {
            t.flags |= AF_SIGNED;
        }
        match v.arg {
            Some(slot) => {
                check_in_record(slot, 8, record_size, &format!("{what}'s argument"))?;
                t.arg = slot;
            }
            None if v.func == AggFunc::Count => t.arg = RECORD_HEADER,
            None => return Err(AbiError(format!("{what} has no argument"))),
        }
        t.func = match v.func {
            AggFunc::Count => COUNT,
            AggFunc::Sum => SUM,
            AggFunc::Min => MIN,
            AggFunc::Max => MAX,
            AggFunc::Avg => AVG,
            AggFunc::Hist => HIST,
            AggFunc::Lhist { lo, hi, step } => {
                if step <= 0 || hi <= lo || (hi as i128 - lo as i128) % step as i128 != 0 {
                    return Err(AbiError(format!(
                        "{what}: lhist({lo}, {hi}, {step}) has no whole number of buckets"
                    )));
                }
                t.lo = lo as u64;
                t.step = step as u64;
                LHIST
            }
        };
        t.nbuckets = match v.func {
            AggFunc::Hist => HIST_BUCKETS,
            AggFunc::Lhist { lo, hi, step } => {
                u32::try_from((hi as i128 - lo as i128) / step as i128 + 2)
                    .map_err(|_| AbiError(format!("{what} has too many buckets")))?
            }
            _ => 0,
        };
        let end = v.off as u64 + v.func.value_bytes() as u64;
        if v.off % 8 != 0 || end > plan.value_size as u64 {
            return Err(AbiError(format!(
                "{what} updates value bytes {}..{end}, outside the {} bytes of the value",
                v.off, plan.value_size
            )));
        }
    }
    Ok(out)
}
