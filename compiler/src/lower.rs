//! Pass 4, **lower**: captures and conditions of one probe become the
//! template configuration: record slots, value ops in execution order
//! (filter operands first, so the filter can drop an event before the rest
//! is read), the postfix filter program, and the field decoders.

use crate::check::{Cond, Operand};
use crate::diag::{Diagnostic, Span};
use crate::plan::{
    Attach, Base, FieldPlan, FilterOp, Read, ValueOp, ABI_ARGS_AREA, MAX_FILTER_OPS, MAX_OPS,
    MAX_RECORD, RECORD_HEADER, RET_OFF, STR_POOL,
};
use crate::resolve::Capture;

/// The lowered configuration of one probe.
pub struct Lowered {
    /// Template configuration.
    pub config: crate::plan::ProbeConfig,
    /// Visible fields.
    pub fields: Vec<FieldPlan>,
}

/// Makes tracepoint reads that fit the copied record head plain loads from
/// the args area (one copy per event instead of one read per field).
fn use_args_area(c: &Capture, tracepoint: bool) -> Capture {
    let mut c = c.clone();
    if !tracepoint || c.base != Base::Ctx {
        return c;
    }
    match (c.hops.first().copied(), c.read) {
        (
            None,
            Read::Int {
                off,
                size,
                signed,
                bit_size: 0,
                ..
            },
        ) if off + size <= ABI_ARGS_AREA => {
            c.base = Base::Arg { off, size, signed };
            c.read = Read::Value;
        }
        (Some(h), _) if h.off + 8 <= ABI_ARGS_AREA => {
            c.base = Base::Arg {
                off: h.off,
                size: 8,
                signed: false,
            };
            c.hops.remove(0);
        }
        _ => {}
    }
    c
}

fn op_of(c: &Capture, slot: u32) -> ValueOp {
    ValueOp {
        slot,
        slot_size: c.slot_size,
        base: c.base,
        hops: c.hops.clone(),
        mem: c.mem,
        read: c.read,
        transform: c.transform,
    }
}

/// The value ops sans slot, for de-duplication.
fn same(a: &Capture, b: &Capture) -> bool {
    a.base == b.base
        && a.hops == b.hops
        && a.read == b.read
        && a.transform == b.transform
        && a.mem == b.mem
        && a.slot_size == b.slot_size
}

/// Where a probe's parts were written: errors about the limits of the
/// templates point at the part that crosses them.
#[derive(Debug, Clone, Copy)]
pub struct ProbeSpans<'s> {
    /// The probe (`kfunc:tcp_connect`).
    pub probe: Span,
    /// Each field, from its name to the end of its expression, in order.
    pub fields: &'s [Span],
    /// The filter, when there is one.
    pub filter: Option<Span>,
}

/// The record being laid out: one slot per value op.
struct Slots {
    caps: Vec<Capture>,
    slot: Vec<u32>,
    next: u32,
}

impl Slots {
    /// Adds a value op, checking the limits on ops and record size.
    /// `filter` tells whether only the filter reads the value.
    fn push(
        &mut self,
        c: &Capture,
        span: Span,
        probe: Span,
        filter: bool,
    ) -> Result<usize, Diagnostic> {
        let n = self.caps.len() + 1;
        if n > MAX_OPS {
            let label = if filter {
                format!("the filter reads this value, which is not a field: value {n}")
            } else {
                format!("field {n}")
            };
            return Err(Diagnostic::error(
                span,
                format!(
                    "too many values: a probe captures at most {MAX_OPS} fields and filter values (a limit of the precompiled templates)"
                ),
            )
            .label(label)
            .also(probe, "in this probe")
            .note("every field counts, and so does each value only the filter reads")
            .note("drop fields, or split them between two probes on the same target (each with its own `name:`)"));
        }
        let size = c.slot_size.div_ceil(8) * 8;
        let total = self.next.saturating_add(size);
        if total > MAX_RECORD {
            return Err(Diagnostic::error(
                span,
                format!(
                    "record too large: {total} bytes, and a probe's record holds at most {MAX_RECORD} (a limit of the precompiled templates)"
                ),
            )
            .label(format!("this value takes {size} bytes, which brings the record to {total}"))
            .also(probe, "in this probe")
            .note(format!(
                "a record is a {RECORD_HEADER}-byte header, 8 bytes per integer, and the length of each string or bytes value"
            ))
            .note("lower the lengths given to `str()` and `bytes()`, e.g. `str(filename, 256)`"));
        }
        self.caps.push(c.clone());
        self.slot.push(self.next);
        self.next = total;
        Ok(self.caps.len() - 1)
    }
}

/// Lowers one probe: `fields` are its resolved fields in order, `cond` its
/// checked filter. Fails, at the offending part, when a limit of the
/// templates ([`MAX_OPS`], [`MAX_RECORD`], [`MAX_FILTER_OPS`],
/// [`STR_POOL`]) is crossed.
///
/// `fn_args` is the probed function's (or raw tracepoint's) argument count:
/// a kernel-function return probe that reads the return value copies all
/// of them, because fexit finds the return value after the last one.
pub fn lower(
    attach: &Attach,
    fn_args: u32,
    fields: &[(String, Capture)],
    cond: Option<&Cond>,
    spans: &ProbeSpans,
) -> Result<Lowered, Diagnostic> {
    let tracepoint = matches!(attach, Attach::Tracepoint { .. });
    let fields: Vec<(String, Capture)> = fields
        .iter()
        .map(|(n, c)| (n.clone(), use_args_area(c, tracepoint)))
        .collect();
    let mut slots = Slots {
        caps: Vec::new(),
        slot: Vec::new(),
        next: RECORD_HEADER,
    };
    // Every field has its own slot, even one written twice: the limits
    // count what the spec says.
    let field_idx: Vec<usize> = fields
        .iter()
        .enumerate()
        .map(|(i, (_, c))| {
            let span = spans.fields.get(i).copied().unwrap_or(spans.probe);
            slots.push(c, span, spans.probe, false)
        })
        .collect::<Result<_, _>>()?;

    // Filter operands, in first-use order; a value the filter reads that is
    // already captured is not captured again.
    let mut filter_ops = Vec::new();
    let mut strings: Vec<u8> = Vec::new();
    let mut used: Vec<usize> = Vec::new();
    let mut operand = |o: &Operand, slots: &mut Slots| -> Result<usize, Diagnostic> {
        let i = match o {
            Operand::Field(f) => field_idx.get(*f).copied().ok_or_else(|| {
                Diagnostic::error(
                    spans.probe,
                    "internal error: filter refers to a missing field",
                )
            })?,
            Operand::Hidden(c, span) => {
                let c = use_args_area(c, tracepoint);
                match slots.caps.iter().position(|x| same(x, &c)) {
                    Some(i) => i,
                    None => slots.push(&c, *span, spans.probe, true)?,
                }
            }
        };
        if !used.contains(&i) {
            used.push(i);
        }
        Ok(i)
    };
    let cond = match cond {
        Some(Cond::Const(true)) | None => None,
        Some(c) => Some(c),
    };
    if let Some(c) = cond {
        let mut stack: Vec<(&Cond, bool)> = vec![(c, false)];
        // Iterative post-order walk.
        while let Some((c, visited)) = stack.pop() {
            match c {
                Cond::And(a, b) | Cond::Or(a, b) if !visited => {
                    stack.push((c, true));
                    stack.push((b, false));
                    stack.push((a, false));
                }
                Cond::Not(a) if !visited => {
                    stack.push((c, true));
                    stack.push((a, false));
                }
                Cond::And(..) => filter_ops.push(FilterOp::And),
                Cond::Or(..) => filter_ops.push(FilterOp::Or),
                Cond::Not(_) => filter_ops.push(FilterOp::Not),
                Cond::Const(v) => filter_ops.push(FilterOp::Const { value: *v }),
                Cond::CmpImm {
                    operand: o,
                    cmp,
                    imm,
                    signed,
                } => {
                    let i = operand(o, &mut slots)?;
                    filter_ops.push(FilterOp::CmpImm {
                        slot: slots.slot[i],
                        cmp: *cmp,
                        imm: *imm,
                        signed: *signed,
                    });
                }
                Cond::CmpOperands { a, b, cmp, signed } => {
                    let ia = operand(a, &mut slots)?;
                    let ib = operand(b, &mut slots)?;
                    filter_ops.push(FilterOp::CmpSlots {
                        a: slots.slot[ia],
                        b: slots.slot[ib],
                        cmp: *cmp,
                        signed: *signed,
                    });
                }
                Cond::CmpStr {
                    operand: o,
                    text,
                    prefix,
                    negate,
                    span,
                } => {
                    let i = operand(o, &mut slots)?;
                    // Bytes the value can hold with its NUL: a string read
                    // of at most `max` bytes holds `max - 1` characters, in
                    // a slot rounded up to 8.
                    let capacity = match slots.caps[i].read {
                        Read::Str { max, .. } | Read::DataLocStr { max, .. } => max,
                        _ => slots.caps[i].slot_size,
                    };
                    if text.len() as u32 >= capacity {
                        let what = if *prefix { "prefix " } else { "string " };
                        return Err(Diagnostic::error(
                            *span,
                            format!(
                                "the {what}\"{}\" is longer than the value it is compared with, which holds at most {} bytes",
                                String::from_utf8_lossy(text),
                                capacity.saturating_sub(1)
                            ),
                        )
                        .label(format!("{} bytes: this comparison can never be true", text.len()))
                        .note("raise the length with `str(e, N)`, or compare a prefix with a trailing `*`"));
                    }
                    let found = if text.is_empty() {
                        None
                    } else {
                        strings
                            .windows(text.len())
                            .position(|w| w == text.as_slice())
                    };
                    let str_off = match found {
                        Some(p) => p as u32,
                        None => {
                            let p = strings.len() as u32;
                            strings.extend_from_slice(text);
                            if strings.len() > STR_POOL {
                                return Err(Diagnostic::error(
                                    *span,
                                    format!(
                                        "filter strings too long: {} bytes, and a probe's filter holds at most {STR_POOL} bytes of string constants (a limit of the precompiled templates)",
                                        strings.len()
                                    ),
                                )
                                .label(format!("this string brings them to {} bytes", strings.len()))
                                .note("compare shorter prefixes with a trailing `*`, e.g. \"/usr/*\""));
                            }
                            p
                        }
                    };
                    filter_ops.push(FilterOp::CmpStr {
                        slot: slots.slot[i],
                        str_off,
                        len: text.len() as u32,
                        prefix: *prefix,
                        negate: *negate,
                    });
                }
            }
        }
    }
    if filter_ops.len() > MAX_FILTER_OPS {
        return Err(Diagnostic::error(
            spans.filter.unwrap_or(spans.probe),
            format!(
                "filter too long: {} operations, and the in-kernel filter runs at most {MAX_FILTER_OPS} (a limit of the precompiled templates)",
                filter_ops.len()
            ),
        )
        .label(format!("compiles to {} operations", filter_ops.len()))
        .note("each comparison, `&&`, `||` and `!` is one operation; parts made of parameters and literals only are folded away")
        .note("split the condition between two probes on the same target, or compare fewer values"));
    }

    // Execution order: filter operands first.
    let mut order: Vec<usize> = used.clone();
    order.extend((0..slots.caps.len()).filter(|i| !used.contains(i)));
    let ops: Vec<ValueOp> = order
        .iter()
        .map(|&i| op_of(&slots.caps[i], slots.slot[i]))
        .collect();

    let function_like = !tracepoint;
    let nargs = if function_like {
        let used = ops
            .iter()
            .filter_map(|o| match o.base {
                Base::Arg { off, .. } if off < RET_OFF => Some(off / 8 + 1),
                _ => None,
            })
            .max()
            .unwrap_or(0);
        let reads_ret = ops
            .iter()
            .any(|o| matches!(o.base, Base::Arg { off, .. } if off >= RET_OFF));
        if reads_ret && matches!(attach, Attach::Kernel { ret: true, .. }) {
            used.max(fn_args)
        } else {
            used
        }
    } else {
        0
    };
    let ctx_copy = if tracepoint {
        ops.iter()
            .filter_map(|o| match o.base {
                Base::Arg { off, size, .. } => Some(off + size),
                _ => None,
            })
            .max()
            .unwrap_or(0)
            .div_ceil(8)
            * 8
    } else {
        0
    };
    let fields_out = fields
        .iter()
        .zip(&field_idx)
        .map(|((name, c), &i)| FieldPlan {
            name: name.clone(),
            slot: slots.slot[i],
            size: c.slot_size,
            decode: c.decode,
        })
        .collect();
    Ok(Lowered {
        config: crate::plan::ProbeConfig {
            nargs,
            ctx_copy,
            record_size: slots.next,
            filter_at: if filter_ops.is_empty() {
                0
            } else {
                used.len() as u32
            },
            ops,
            filter: filter_ops,
            strings,
        },
        fields: fields_out,
    })
}
