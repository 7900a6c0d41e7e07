//! Arithmetic instructions (`struct tc_calc`, templates-ebpf/calc.h):
//! codes, the mirror, encoding and checks.

use super::{check_in_record, AbiError, Writer};
use std::mem::offset_of;
use tracectl_compiler::plan::{ArithOp, CalcArg, CalcOp};

/// `tc_calc.op`
pub const ADD: u8 = 1;
/// `-`
pub const SUB: u8 = 2;
/// `*`
pub const MUL: u8 = 3;
/// `/`
pub const DIV: u8 = 4;
/// `%`
pub const MOD: u8 = 5;
/// `&`
pub const AND: u8 = 6;
/// `|`
pub const OR: u8 = 7;
/// `^`
pub const XOR: u8 = 8;
/// `<<`
pub const SHL: u8 = 9;
/// `>>`
pub const SHR: u8 = 10;
/// Every operator the templates know.
pub const ALL: [u8; 10] = [ADD, SUB, MUL, DIV, MOD, AND, OR, XOR, SHL, SHR];
/// flags: signed `/ % >>`.
pub const CF_SIGNED: u8 = 1;
/// flags: the left operand is the immediate.
pub const CF_IMM_A: u8 = 2;
/// flags: the right operand is the immediate.
pub const CF_IMM_B: u8 = 4;
/// Every flag bit the templates know.
pub const CF_ALL: [u8; 3] = [CF_SIGNED, CF_IMM_A, CF_IMM_B];

/// Mirror of `struct tc_calc` (24 bytes).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcCalc {
    /// The immediate operand.
    pub imm: u64,
    /// Result slot.
    pub dst: u32,
    /// Left slot.
    pub a: u32,
    /// Right slot.
    pub b: u32,
    /// Operator code.
    pub op: u8,
    /// `CF_*` flags.
    pub flags: u8,
    /// Padding.
    pub _pad: [u8; 2],
}

const _: () = assert!(std::mem::size_of::<TcCalc>() == 24);

impl TcCalc {
    pub(super) fn write(&self, w: &mut Writer<'_>, at: usize) {
        w.put(at + offset_of!(TcCalc, imm), &self.imm.to_ne_bytes());
        w.put(at + offset_of!(TcCalc, dst), &self.dst.to_ne_bytes());
        w.put(at + offset_of!(TcCalc, a), &self.a.to_ne_bytes());
        w.put(at + offset_of!(TcCalc, b), &self.b.to_ne_bytes());
        w.put(at + offset_of!(TcCalc, op), &[self.op]);
        w.put(at + offset_of!(TcCalc, flags), &[self.flags]);
    }

    /// The operator and flags are ones the templates know.
    pub(super) fn check_codes(&self, k: usize) -> Result<(), AbiError> {
        let field = |f: &str| format!("arithmetic instruction {k}'s {f}");
        super::codes::known(&field("operator"), self.op, &ALL)?;
        super::codes::known_bits(&field("flags"), self.flags as u32, &CF_ALL.map(u32::from))
    }
}

fn op_code(op: ArithOp) -> u8 {
    match op {
        ArithOp::Add => ADD,
        ArithOp::Sub => SUB,
        ArithOp::Mul => MUL,
        ArithOp::Div => DIV,
        ArithOp::Mod => MOD,
        ArithOp::BitAnd => AND,
        ArithOp::BitOr => OR,
        ArithOp::BitXor => XOR,
        ArithOp::Shl => SHL,
        ArithOp::Shr => SHR,
    }
}

/// Encodes instruction `k`, checking its slots lie in the record.
pub fn encode(k: usize, c: &CalcOp, record_size: u32) -> Result<TcCalc, AbiError> {
    let what = format!("arithmetic instruction {k}");
    let mut t = TcCalc {
        dst: c.dst,
        op: op_code(c.op),
        ..TcCalc::default()
    };
    check_in_record(c.dst, 8, record_size, &format!("{what}'s result"))?;
    if c.signed {
        t.flags |= CF_SIGNED;
    }
    match (c.a, c.b) {
        (CalcArg::Imm { .. }, CalcArg::Imm { .. }) => {
            return Err(AbiError(format!("{what} has two immediate operands")))
        }
        (CalcArg::Imm { value }, CalcArg::Slot { slot }) => {
            t.imm = value;
            t.flags |= CF_IMM_A;
            check_in_record(slot, 8, record_size, &format!("{what}'s right operand"))?;
            t.b = slot;
        }
        (CalcArg::Slot { slot }, CalcArg::Imm { value }) => {
            t.imm = value;
            t.flags |= CF_IMM_B;
            check_in_record(slot, 8, record_size, &format!("{what}'s left operand"))?;
            t.a = slot;
        }
        (CalcArg::Slot { slot: a }, CalcArg::Slot { slot: b }) => {
            check_in_record(a, 8, record_size, &format!("{what}'s left operand"))?;
            check_in_record(b, 8, record_size, &format!("{what}'s right operand"))?;
            t.a = a;
            t.b = b;
        }
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operands_and_flags() {
        let c = CalcOp {
            dst: 32,
            op: ArithOp::Div,
            a: CalcArg::Slot { slot: 16 },
            b: CalcArg::Imm { value: 1024 },
            signed: true,
        };
        let t = encode(0, &c, 40).unwrap();
        assert_eq!((t.dst, t.a, t.imm, t.op), (32, 16, 1024, DIV));
        assert_eq!(t.flags, CF_SIGNED | CF_IMM_B);
        let c = CalcOp {
            a: CalcArg::Imm { value: 0 },
            b: CalcArg::Slot { slot: 24 },
            op: ArithOp::Sub,
            signed: false,
            ..c
        };
        let t = encode(1, &c, 40).unwrap();
        assert_eq!((t.b, t.flags, t.op), (24, CF_IMM_A, SUB));
        // Outside the record: refused, by name.
        let e = encode(2, &CalcOp { dst: 40, ..c }, 40).unwrap_err();
        assert!(e.0.contains("arithmetic instruction 2's result"), "{e}");
        let both = CalcOp {
            a: CalcArg::Imm { value: 1 },
            b: CalcArg::Imm { value: 2 },
            ..c
        };
        assert!(encode(3, &both, 40).is_err());
    }
}
