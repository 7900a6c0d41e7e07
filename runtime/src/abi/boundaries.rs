//! Every limit `encode_op` and `build` check, at its boundary: the largest
//! valid value is accepted and one past it is refused with its own message
//! (so a `>` written `>=`, a lost `!` or an `&&` written `||` fails here);
//! and every field `build` fills holds the value it was given.

use super::*;
use tracectl_compiler::plan::Hop;

/// An 8-byte `pid` in the slot at `slot`.
fn pid(slot: u32) -> ValueOp {
    ValueOp {
        slot,
        slot_size: 8,
        base: Base::Builtin {
            builtin: Builtin::Pid,
        },
        hops: vec![],
        mem: Mem::Kernel,
        read: Read::Value,
        transform: Transform::None,
    }
}

/// One op in a record just large enough for its slot; no filter.
fn one(op: ValueOp) -> ProbeConfig {
    ProbeConfig {
        record_size: op.slot + op.slot_size,
        filter_at: 1,
        ops: vec![op],
        ..ProbeConfig::default()
    }
}

/// `config` is accepted.
#[track_caller]
fn ok(config: &ProbeConfig) -> TcConfig {
    build(config, 0, 0, 0).unwrap_or_else(|e| panic!("refused: {e}"))
}

/// `config` is refused with an error containing `msg`.
#[track_caller]
fn refused(config: &ProbeConfig, msg: &str) {
    match build(config, 0, 0, 0) {
        Ok(_) => panic!("accepted; expected an error containing {msg:?}"),
        Err(e) => assert!(e.0.contains(msg), "error {:?} lacks {msg:?}", e.0),
    }
}

fn arg(off: u32, size: u32) -> ValueOp {
    ValueOp {
        base: Base::Arg {
            off,
            size,
            signed: false,
        },
        ..pid(16)
    }
}

fn int_read(size: u32, bit_off: u32, bit_size: u32) -> ValueOp {
    ValueOp {
        read: Read::Int {
            off: 0,
            size,
            signed: false,
            bit_off,
            bit_size,
        },
        ..arg(0, 8)
    }
}

fn with_read(read: Read, slot_size: u32) -> ValueOp {
    ValueOp {
        slot_size,
        read,
        ..arg(0, 8)
    }
}

fn comm(slot_size: u32) -> ValueOp {
    ValueOp {
        slot_size,
        base: Base::Builtin {
            builtin: Builtin::Comm,
        },
        ..pid(16)
    }
}

#[test]
fn display_is_the_message() {
    assert_eq!(AbiError("a message".into()).to_string(), "a message");
}

#[test]
fn mem_codes_of_both_address_spaces() {
    assert_eq!(mem_code(Mem::Kernel), mem::KERNEL);
    assert_eq!(mem_code(Mem::User), mem::USER);
    assert_ne!(mem::KERNEL, mem::USER);
}

#[test]
fn argument_reads_end_at_the_args_area() {
    let last = ABI_ARGS_AREA - 8;
    assert_eq!(ok(&one(arg(last, 8))).ops[0].base_off, last);
    refused(&one(arg(last + 1, 8)), "bytes 249..257 of the args area");
    assert_eq!(ok(&one(arg(ABI_ARGS_AREA - 1, 1))).ops[0].base_size, 1);
}

#[test]
fn at_most_max_hops() {
    let hop = |off| Hop {
        off,
        mem: Mem::Kernel,
        index: None,
    };
    let mut op = arg(0, 8);
    op.hops = (0..MAX_HOPS as u32).map(|h| hop(8 * h + 8)).collect();
    let t = ok(&one(op.clone())).ops[0];
    assert_eq!(t.nhops as usize, MAX_HOPS);
    assert_eq!(t.hop_off, [8, 16, 24, 32]);
    op.hops.push(hop(0));
    refused(&one(op), "follows 5 pointers; at most 4");
}

#[test]
fn bitfields_fit_in_the_bytes_read() {
    let t = ok(&one(int_read(4, 30, 2))).ops[0];
    assert_eq!((t.bit_off, t.bit_size, t.read_len), (30, 2, 4));
    refused(
        &one(int_read(4, 31, 2)),
        "bitfield (bits 31..33) does not fit",
    );
    refused(&one(int_read(4, 0, 33)), "bits 0..33");
    ok(&one(int_read(8, 0, 64)));
    refused(&one(int_read(8, 1, 64)), "bits 1..65");
    // Not a bitfield: whole bytes, whatever the width.
    ok(&one(int_read(1, 0, 0)));
    // A bit offset needs a width (even one past the bytes read).
    refused(&one(int_read(4, 5, 0)), "bit offset without a bit width");
    refused(&one(int_read(4, 40, 0)), "bit offset without a bit width");
}

#[test]
fn byte_copies_fill_at_most_their_slot() {
    let bytes = |len| Read::Bytes {
        off: 4,
        len,
        mem: Mem::User,
    };
    let t = ok(&one(with_read(bytes(24), 24))).ops[0];
    assert_eq!((t.read, t.read_len, t.read_off), (read::BYTES, 24, 4));
    assert_eq!(t.read_mem, mem::USER);
    refused(
        &one(with_read(bytes(25), 24)),
        "copies 25 bytes into a slot of 24",
    );
    refused(&one(with_read(bytes(0), 24)), "copies 0 bytes");
    ok(&one(with_read(bytes(1), 24)));
}

/// A string read of at most `max` bytes.
type ReadOfMax = fn(u32) -> Read;

#[test]
fn strings_are_1_to_max_str_and_fit_their_slot() {
    let reads: [(&str, ReadOfMax); 2] = [
        ("str", |max| Read::Str {
            off: 0,
            max,
            mem: Mem::Kernel,
        }),
        ("data_loc", |max| Read::DataLocStr { off: 0, max }),
    ];
    for (name, read) in reads {
        let limit = format!("the limit is 1..={MAX_STR}");
        let t = ok(&one(with_read(read(MAX_STR), MAX_STR))).ops[0];
        assert_eq!(t.read_len, MAX_STR, "{name}");
        ok(&one(with_read(read(1), 8)));
        ok(&one(with_read(read(8), 8)));
        refused(&one(with_read(read(MAX_STR + 1), MAX_STR + 8)), &limit);
        refused(&one(with_read(read(0), 8)), &limit);
        refused(
            &one(with_read(read(9), 8)),
            "reads up to 9 bytes into a slot of 8",
        );
    }
}

#[test]
fn comm_is_a_16_byte_string() {
    let t = ok(&one(comm(16))).ops[0];
    assert_eq!(
        (t.base, t.builtin, t.slot_size),
        (base::BUILTIN, builtin::COMM, 16)
    );
    refused(&one(comm(15)), "stores comm (16 bytes) into a slot of 15");
    let mut hop = comm(16);
    hop.hops = vec![Hop {
        off: 0,
        mem: Mem::Kernel,
        index: None,
    }];
    refused(&one(hop), "dereferences comm");
    let mut read = comm(16);
    read.read = Read::Str {
        off: 0,
        max: 16,
        mem: Mem::Kernel,
    };
    refused(&one(read), "dereferences comm");
    let mut swap = comm(16);
    swap.transform = Transform::Bswap16;
    refused(&one(swap), "byte-swaps a value that is not an integer");
}

#[test]
fn integers_need_an_8_byte_slot() {
    ok(&one(pid(16)));
    let mut small = pid(16);
    small.slot_size = 7;
    refused(&one(small), "stores an integer (8 bytes) into a slot of 7");
    let mut read = int_read(2, 0, 0);
    read.slot_size = 4;
    refused(&one(read), "stores an integer (8 bytes) into a slot of 4");
    let mut big = pid(16);
    big.slot_size = 16;
    ok(&one(big));
}

#[test]
fn only_integers_are_byte_swapped() {
    let mut v = pid(16);
    v.transform = Transform::Bswap32;
    assert_eq!(ok(&one(v)).ops[0].transform, transform::BSWAP32);
    let mut i = int_read(2, 0, 0);
    i.transform = Transform::Bswap16;
    assert_eq!(ok(&one(i)).ops[0].transform, transform::BSWAP16);
    let mut s = with_read(
        Read::Str {
            off: 0,
            max: 8,
            mem: Mem::User,
        },
        8,
    );
    s.transform = Transform::Bswap16;
    refused(&one(s), "byte-swaps a value that is not an integer");
}

#[test]
fn the_record_is_header_to_max_record() {
    let empty = |record_size| ProbeConfig {
        record_size,
        filter_at: 0,
        ops: vec![],
        ..one(pid(16))
    };
    let msg = format!("it must have {RECORD_HEADER}..={MAX_RECORD}");
    assert_eq!(ok(&empty(RECORD_HEADER)).record_size, RECORD_HEADER);
    assert_eq!(ok(&empty(MAX_RECORD)).record_size, MAX_RECORD);
    refused(&empty(RECORD_HEADER - 1), &msg);
    refused(&empty(MAX_RECORD + 1), &msg);
}

#[test]
fn probe_wide_limits() {
    let base = one(pid(16));
    let mut c = base.clone();
    c.nargs = MAX_FUNC_ARGS;
    assert_eq!(ok(&c).nargs, MAX_FUNC_ARGS);
    c.nargs += 1;
    refused(&c, "copies 13 arguments; at most 12");

    let mut c = base.clone();
    c.ctx_copy = ABI_ARGS_AREA;
    assert_eq!(ok(&c).ctx_copy, ABI_ARGS_AREA);
    c.ctx_copy += 1;
    refused(&c, "copies 257 bytes of the tracepoint record");

    let mut c = base.clone();
    c.record_size = 16 + 8 * MAX_OPS as u32;
    c.ops = (0..MAX_OPS as u32).map(|i| pid(16 + 8 * i)).collect();
    c.filter_at = MAX_OPS as u32;
    assert_eq!(ok(&c).nops as usize, MAX_OPS);
    c.ops.push(pid(16));
    refused(&c, "has 17 value ops; at most 16");

    let mut c = base.clone();
    c.filter = vec![FilterOp::Const { value: true }];
    c.filter.extend(vec![FilterOp::Not; MAX_FILTER_OPS - 1]);
    let cfg = ok(&c);
    assert_eq!(cfg.nfilter as usize, MAX_FILTER_OPS);
    assert_eq!(cfg.filter[MAX_FILTER_OPS - 1].kind, filter::NOT);
    c.filter.push(FilterOp::Not);
    refused(&c, "has 33 instructions; at most 32");

    let mut c = base.clone();
    c.strings = vec![7; STR_POOL];
    c.strings[STR_POOL - 1] = 9;
    assert_eq!(ok(&c).strings[STR_POOL - 1], 9);
    c.strings.push(1);
    refused(&c, "take 257 bytes; at most 256");

    let mut c = base;
    c.filter_at = 1;
    assert_eq!(ok(&c).filter_at, 1);
    c.filter_at = 2;
    refused(&c, "runs after 2 value ops but there are only 1");
}

#[test]
fn build_fills_every_probe_field() {
    let mut c = one(pid(16));
    c.nargs = 3;
    c.ctx_copy = 40;
    c.record_size = 32;
    c.filter = vec![FilterOp::Const { value: false }];
    let cfg = build(&c, 7, 4242, 1 << 40).unwrap();
    assert_eq!(cfg.wakeup_bytes, 1 << 40);
    assert_eq!(cfg.probe_index, 7);
    assert_eq!(cfg.target_tgid, 4242);
    assert_eq!((cfg.nargs, cfg.ctx_copy, cfg.record_size), (3, 40, 32));
    assert_eq!((cfg.nops, cfg.filter_at, cfg.nfilter), (1, 1, 1));
    assert_eq!(cfg.flags, 0);
    assert_eq!(cfg.ops[0].slot_size, 8);
    assert_eq!(cfg.filter[0].kind, filter::CONST);
    assert_eq!(encode(&c, 7, 4242, 1 << 40).unwrap(), cfg.to_bytes());
}

#[test]
fn need_ret_only_for_the_return_value() {
    let flags = |off| ok(&one(arg(off, 8))).flags;
    assert_eq!(flags(RET_OFF), CFG_NEED_RET);
    assert_eq!(flags(RET_OFF - 8), 0);
    assert_eq!(flags(RET_OFF + 8), 0);
}

/// Two pids (slots 16 and 24), the filter running after the first.
fn filtered(filter: Vec<FilterOp>, strings: &[u8]) -> ProbeConfig {
    ProbeConfig {
        record_size: 32,
        ops: vec![pid(16), pid(24)],
        filter_at: 1,
        filter,
        strings: strings.to_vec(),
        ..ProbeConfig::default()
    }
}

fn cmp_imm(slot: u32, cmp: CmpOp, signed: bool) -> FilterOp {
    FilterOp::CmpImm {
        slot,
        cmp,
        imm: 0x1122_3344_5566_7788,
        signed,
    }
}

#[test]
fn filter_instructions_are_encoded() {
    let c = filtered(
        vec![
            cmp_imm(16, CmpOp::Gt, true),
            FilterOp::CmpSlots {
                a: 16,
                b: 16,
                cmp: CmpOp::Le,
                signed: true,
            },
            FilterOp::And,
            FilterOp::Const { value: true },
            FilterOp::Or,
            FilterOp::Const { value: false },
            FilterOp::Not,
            FilterOp::And,
        ],
        b"",
    );
    let f = ok(&c).filter;
    assert_eq!(
        (f[0].kind, f[0].a, f[0].cmp),
        (filter::CMP_IMM, 16, cmp::GT)
    );
    assert_eq!(
        (f[0].imm, f[0].flags),
        (0x1122_3344_5566_7788, filter::FF_SIGNED)
    );
    assert_eq!((f[1].kind, f[1].a, f[1].b), (filter::CMP_SLOTS, 16, 16));
    assert_eq!((f[1].cmp, f[1].flags), (cmp::LE, filter::FF_SIGNED));
    assert_eq!(
        (f[2].kind, f[4].kind, f[6].kind),
        (filter::AND, filter::OR, filter::NOT)
    );
    assert_eq!((f[3].kind, f[3].flags), (filter::CONST, filter::FF_VALUE));
    assert_eq!((f[5].kind, f[5].flags), (filter::CONST, 0));

    let unsigned = ok(&filtered(vec![cmp_imm(16, CmpOp::Eq, false)], b"")).filter[0];
    assert_eq!((unsigned.flags, unsigned.cmp), (0, cmp::EQ));
    for (op, code) in [
        (CmpOp::Eq, cmp::EQ),
        (CmpOp::Ne, cmp::NE),
        (CmpOp::Lt, cmp::LT),
        (CmpOp::Le, cmp::LE),
        (CmpOp::Gt, cmp::GT),
        (CmpOp::Ge, cmp::GE),
    ] {
        assert_eq!(cmp_code(op), code, "{op:?}");
    }
}

#[test]
fn the_filter_reads_only_slots_written_before_it() {
    ok(&filtered(vec![cmp_imm(16, CmpOp::Eq, false)], b""));
    let none = "none of the 1 value op(s)";
    refused(&filtered(vec![cmp_imm(17, CmpOp::Eq, false)], b""), none);
    refused(&filtered(vec![cmp_imm(15, CmpOp::Eq, false)], b""), none);
    // Slot 24 is written after the filter runs.
    refused(
        &filtered(vec![cmp_imm(24, CmpOp::Eq, false)], b""),
        "bytes 24..32",
    );
    let slots = |a, b| FilterOp::CmpSlots {
        a,
        b,
        cmp: CmpOp::Eq,
        signed: false,
    };
    refused(&filtered(vec![slots(16, 24)], b""), "bytes 24..32");
    refused(&filtered(vec![slots(24, 16)], b""), "bytes 24..32");
    // With both ops before it, 24 is readable; an op after the filter
    // covers nothing, whatever its slot.
    let mut both = filtered(vec![slots(24, 16)], b"");
    both.filter_at = 2;
    ok(&both);
    let mut late = filtered(vec![cmp_imm(16, CmpOp::Eq, false)], b"");
    late.ops = vec![pid(24), pid(16)];
    late.filter_at = 1;
    refused(&late, "bytes 16..24");
}

fn cmp_str(str_off: u32, len: u32, prefix: bool, negate: bool) -> FilterOp {
    FilterOp::CmpStr {
        slot: 16,
        str_off,
        len,
        prefix,
        negate,
    }
}

#[test]
fn string_comparisons_stay_in_the_pool_and_the_slot() {
    let pool = b"0123456789";
    let f = ok(&filtered(vec![cmp_str(3, 7, false, true)], pool)).filter[0];
    assert_eq!((f.kind, f.a, f.b, f.len), (filter::CMP_STR, 16, 3, 7));
    assert_eq!(f.flags, filter::FF_NEGATE);
    refused(
        &filtered(vec![cmp_str(4, 7, false, false)], pool),
        "strings[4..11], but the string pool has 10 bytes",
    );
    // An exact match reads its constant and a NUL: 7 + 1 bytes of slot 16..24.
    refused(
        &filtered(vec![cmp_str(0, 8, false, false)], pool),
        "bytes 16..25",
    );
    // A prefix reads only the constant.
    let f = ok(&filtered(vec![cmp_str(2, 8, true, false)], pool)).filter[0];
    assert_eq!((f.b, f.len, f.flags), (2, 8, filter::FF_PREFIX));
    refused(
        &filtered(vec![cmp_str(0, 9, true, false)], pool),
        "bytes 16..25",
    );
    let both = ok(&filtered(vec![cmp_str(0, 1, true, true)], pool)).filter[0];
    assert_eq!(both.flags, filter::FF_PREFIX | filter::FF_NEGATE);
}

#[test]
fn the_filter_stack_holds_one_value_at_the_end() {
    let t = FilterOp::Const { value: true };
    ok(&filtered(vec![], b""));
    ok(&filtered(vec![t.clone()], b""));
    ok(&filtered(vec![t.clone(), t.clone(), FilterOp::And], b""));
    ok(&filtered(vec![t.clone(), FilterOp::Not], b""));
    refused(
        &filtered(vec![t.clone(), FilterOp::Or], b""),
        "instruction 1 needs 2 operand(s) but the stack holds 1",
    );
    refused(
        &filtered(vec![FilterOp::Not], b""),
        "instruction 0 needs 1 operand(s) but the stack holds 0",
    );
    refused(
        &filtered(vec![t.clone(), t.clone()], b""),
        "leaves 2 values",
    );
    refused(
        &filtered(vec![t.clone(), t.clone(), t, FilterOp::And], b""),
        "leaves 2 values",
    );
}
