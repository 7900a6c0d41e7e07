//! The last check before a configuration reaches a template: every code and
//! width it holds is one the templates know (`templates-ebpf/abi.h`).
//!
//! The templates drop an event whose configuration holds an unknown code
//! (and count it in `lost[lost::UNKNOWN]`), so a configuration that passed
//! [`build`](super::build) but failed here would load and then silently
//! capture nothing. This check makes that an error naming the op, the field
//! and the value instead.

use tracectl_compiler::plan::{MAX_AGG, MAX_CALC, MAX_FILTER_OPS, MAX_HOPS, MAX_OPS};

use super::{base, builtin, cmp, filter, mem, read, transform, AbiError, TcConfig, CFG_ALL};
use super::{TcFilterOp, TcOp, INT_WIDTHS};

/// `value` is one of `known`, else an error naming `what`.
pub(super) fn known<T: Copy + PartialEq + std::fmt::Display>(
    what: &str,
    value: T,
    known: &[T],
) -> Result<(), AbiError> {
    if known.contains(&value) {
        return Ok(());
    }
    let list: Vec<String> = known.iter().map(T::to_string).collect();
    bail!(
        "{what} is {value}, a code the templates do not know (they know {})",
        list.join(", ")
    )
}

/// Every bit of `value` is one of `bits`.
pub(super) fn known_bits(what: &str, value: u32, bits: &[u32]) -> Result<(), AbiError> {
    let all = bits.iter().fold(0, |a, b| a | b);
    if value & !all != 0 {
        bail!(
            "{what} is {value:#x}; the templates know only the bits {all:#x} (unknown: {:#x})",
            value & !all
        );
    }
    Ok(())
}

impl TcOp {
    fn check_codes(&self, i: usize) -> Result<(), AbiError> {
        let field = |name: &str| format!("value op {i}: {name}");
        known(&field("base"), self.base, &base::ALL)?;
        match self.base {
            base::ARG => known(
                &field("argument width (base_size)"),
                self.base_size,
                &INT_WIDTHS,
            )?,
            base::BUILTIN => known(&field("builtin"), self.builtin, &builtin::ALL)?,
            _ => {}
        }
        if self.nhops as usize > MAX_HOPS {
            bail!(
                "{} is {}; the templates follow at most {MAX_HOPS} pointers",
                field("nhops"),
                self.nhops
            );
        }
        for (h, &m) in self.hop_mem[..self.nhops as usize].iter().enumerate() {
            known(&field(&format!("hop {h}'s address space")), m, &mem::ALL)?;
        }
        known(&field("read"), self.read, &read::ALL)?;
        match self.read {
            read::INT => {
                let widths = INT_WIDTHS.map(u32::from);
                known(
                    &field("integer read width (read_len)"),
                    self.read_len,
                    &widths,
                )?;
                known(&field("read address space"), self.read_mem, &mem::ALL)?;
                let bits = self.bit_off as u32 + self.bit_size as u32;
                if bits > self.read_len * 8 {
                    bail!(
                        "{}: bits {}..{bits} do not fit a {}-byte integer",
                        field("bitfield"),
                        self.bit_off,
                        self.read_len
                    );
                }
            }
            read::STR | read::BYTES | read::JOIN => {
                known(&field("read address space"), self.read_mem, &mem::ALL)?
            }
            _ => {}
        }
        if self.index_hop > self.nhops || (self.index_hop > 0 && self.index_scale == 0) {
            bail!(
                "{} is {} (scale {}) with {} hops",
                field("indexed hop"),
                self.index_hop,
                self.index_scale,
                self.nhops
            );
        }
        known(&field("transform"), self.transform, &transform::ALL)
    }
}

impl TcFilterOp {
    fn check_codes(&self, k: usize) -> Result<(), AbiError> {
        let field = |name: &str| format!("filter instruction {k}: {name}");
        known(&field("kind"), self.kind, &filter::ALL)?;
        if matches!(self.kind, filter::CMP_IMM | filter::CMP_SLOTS) {
            known(&field("comparison"), self.cmp, &cmp::ALL)?;
        }
        let flags = filter::FF_ALL.map(u32::from);
        known_bits(&field("flags"), self.flags as u32, &flags)
    }
}

impl TcConfig {
    /// Checks that every code and width of the used ops and filter
    /// instructions, and every flag, is one the templates know; the error
    /// names the op or instruction, the field and the value. [`build`]
    /// (super::build) runs it on everything it encodes.
    pub fn check_codes(&self) -> Result<(), AbiError> {
        if self.nops as usize > MAX_OPS {
            bail!("nops is {}; the templates run at most {MAX_OPS}", self.nops);
        }
        if self.nfilter as usize > MAX_FILTER_OPS {
            bail!(
                "nfilter is {}; the templates run at most {MAX_FILTER_OPS} instructions",
                self.nfilter
            );
        }
        known_bits("the configuration's flags", self.flags, &CFG_ALL)?;
        for (i, op) in self.ops[..self.nops as usize].iter().enumerate() {
            op.check_codes(i)?;
        }
        for (k, f) in self.filter[..self.nfilter as usize].iter().enumerate() {
            f.check_codes(k)?;
        }
        if self.ncalc as usize > MAX_CALC {
            bail!(
                "ncalc is {}; the templates run at most {MAX_CALC}",
                self.ncalc
            );
        }
        for (k, c) in self.calc[..self.ncalc as usize].iter().enumerate() {
            c.check_codes(k)?;
        }
        known("the configuration's sink", self.sink, &super::agg::SINK_ALL)?;
        self.check_pair_codes()?;
        if self.nagg as usize > MAX_AGG {
            bail!(
                "nagg is {}; the templates update at most {MAX_AGG}",
                self.nagg
            );
        }
        for (k, a) in self.agg[..self.nagg as usize].iter().enumerate() {
            a.check_codes(k)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{build, lost, CFG_NO_TS};
    use super::*;
    use tracectl_compiler::plan::{
        Base, Builtin, CmpOp, FilterOp, Hop, Mem, ProbeConfig, Read, Transform, ValueOp,
    };

    /// A valid configuration using every field the check looks at: an
    /// argument followed through a pointer to a byte-swapped integer, a
    /// builtin, a string, and a filter comparing the integer.
    fn valid() -> TcConfig {
        let int = ValueOp {
            slot: 16,
            slot_size: 8,
            base: Base::Arg {
                off: 0,
                size: 8,
                signed: false,
            },
            hops: vec![Hop {
                off: 8,
                mem: Mem::User,
                index: None,
            }],
            mem: Mem::User,
            read: Read::Int {
                off: 4,
                size: 4,
                signed: true,
                bit_off: 0,
                bit_size: 0,
            },
            transform: Transform::Bswap32,
        };
        let tid = ValueOp {
            slot: 24,
            slot_size: 8,
            base: Base::Builtin {
                builtin: Builtin::Tid,
            },
            hops: vec![],
            mem: Mem::Kernel,
            read: Read::Value,
            transform: Transform::None,
        };
        let name = ValueOp {
            slot: 32,
            slot_size: 16,
            base: Base::Arg {
                off: 8,
                size: 8,
                signed: false,
            },
            hops: vec![],
            mem: Mem::Kernel,
            read: Read::Str {
                off: 0,
                max: 16,
                mem: Mem::User,
            },
            transform: Transform::None,
        };
        let config = ProbeConfig {
            nargs: 2,
            record_size: 48,
            ops: vec![int, tid, name],
            filter_at: 1,
            filter: vec![
                FilterOp::CmpImm {
                    slot: 16,
                    cmp: CmpOp::Ge,
                    imm: 7,
                    signed: true,
                },
                FilterOp::Const { value: true },
                FilterOp::And,
            ],
            ..ProbeConfig::default()
        };
        let mut cfg = build(&config, 0, 0, 0).expect("a valid configuration");
        cfg.flags |= CFG_NO_TS;
        cfg
    }

    #[test]
    fn a_valid_configuration_passes() {
        valid().check_codes().unwrap();
        assert_eq!(lost::SLOTS, lost::UNKNOWN + 1);
    }

    /// Each unknown code or width is refused, naming where it is and what.
    #[test]
    fn every_unknown_code_is_refused_by_name() {
        type Plant = fn(&mut TcConfig);
        let cases: [(&str, Plant, &str); 19] = [
            ("base", |c| c.ops[0].base = 5, "value op 0: base is 5"),
            ("base 0", |c| c.ops[1].base = 0, "value op 1: base is 0"),
            (
                "arg width",
                |c| c.ops[0].base_size = 3,
                "value op 0: argument width (base_size) is 3",
            ),
            (
                "builtin",
                |c| c.ops[1].builtin = 12,
                "value op 1: builtin is 12",
            ),
            (
                "hop mem",
                |c| c.ops[0].hop_mem[0] = 2,
                "value op 0: hop 0's address space is 2",
            ),
            ("nhops", |c| c.ops[0].nhops = 5, "value op 0: nhops is 5"),
            ("read", |c| c.ops[0].read = 7, "value op 0: read is 7"),
            (
                "indexed hop",
                |c| c.ops[0].index_hop = 4,
                "value op 0: indexed hop is 4",
            ),
            (
                "int width",
                |c| c.ops[0].read_len = 16,
                "value op 0: integer read width (read_len) is 16",
            ),
            (
                "read mem",
                |c| c.ops[2].read_mem = 9,
                "value op 2: read address space is 9",
            ),
            (
                "bitfield",
                |c| c.ops[0].bit_size = 33,
                "value op 0: bitfield: bits 0..33 do not fit a 4-byte integer",
            ),
            (
                "transform",
                |c| c.ops[0].transform = 3,
                "value op 0: transform is 3",
            ),
            (
                "filter kind",
                |c| c.filter[1].kind = 8,
                "filter instruction 1: kind is 8",
            ),
            (
                "comparison",
                |c| c.filter[0].cmp = 6,
                "filter instruction 0: comparison is 6",
            ),
            (
                "filter flags",
                |c| c.filter[0].flags |= 16,
                "filter instruction 0: flags is 0x11",
            ),
            (
                "config flags",
                |c| c.flags |= 16,
                "the configuration's flags is 0x12",
            ),
            (
                "pair role",
                |c| c.pair = 3,
                "the configuration's pair role is 3",
            ),
            (
                "stash sink without a start",
                |c| c.sink = super::super::agg::SINK_STASH,
                "the configuration's sink is 2 and its pair role 0",
            ),
            (
                "join stages unpaired",
                |c| c.join_at = 1,
                "join stages in a program that is not a paired end",
            ),
        ];
        for (name, plant, expected) in cases {
            let mut cfg = valid();
            plant(&mut cfg);
            let err = cfg
                .check_codes()
                .expect_err(&format!("{name}: accepted an unknown code"));
            assert!(
                err.0.starts_with(expected),
                "{name}: error {:?} does not start with {expected:?}",
                err.0
            );
        }
    }

    /// More ops or filter instructions than the templates run are refused
    /// (`build` refuses them first; this is the last line).
    #[test]
    fn counts_past_the_arrays_are_refused() {
        let mut cfg = valid();
        cfg.nops = MAX_OPS as u32 + 1;
        let err = cfg.check_codes().expect_err("17 ops accepted");
        assert_eq!(err.0, "nops is 17; the templates run at most 16");
        let mut cfg = valid();
        cfg.nfilter = MAX_FILTER_OPS as u32 + 1;
        let err = cfg.check_codes().expect_err("33 instructions accepted");
        assert_eq!(
            err.0,
            "nfilter is 33; the templates run at most 32 instructions"
        );
    }

    /// Fields an op or instruction does not use are not checked (the
    /// templates never look at them), nor are ops past `nops`.
    #[test]
    fn unused_fields_are_not_codes() {
        let mut cfg = valid();
        cfg.ops[1].base_size = 3; // a builtin has no width
        cfg.ops[1].read_mem = 9; // READ_VALUE reads no memory
        cfg.ops[0].hop_mem[1] = 9; // past nhops
        cfg.filter[1].cmp = 200; // CONST compares nothing
        cfg.ops[5].base = 77; // past nops
        cfg.check_codes().unwrap();
    }
}
