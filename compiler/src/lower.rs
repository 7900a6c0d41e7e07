//! Pass 4, **lower**: captures and conditions of one probe become the
//! template configuration: record slots, value ops in execution order
//! (filter operands first, so the filter can drop an event before the rest
//! is read), the postfix filter program, and the field decoders.

use crate::aggregate::{AggField, Key};
use crate::arith::{Calc, Value};
use crate::check::{Cond, Operand};
use crate::diag::{Diagnostic, Span};
use crate::plan::{
    AggPlan, AggValue, ArithOp, Attach, Base, CalcArg, CalcOp, FieldPlan, FilterOp, PairConfig,
    PairRole, Read, ValueOp, ABI_ARGS_AREA, MAX_AGG_KEY, MAX_CALC, MAX_FILTER_OPS, MAX_OPS,
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

/// The record being laid out: one slot per value op, plus the slots
/// arithmetic writes.
struct Slots {
    caps: Vec<Capture>,
    slot: Vec<u32>,
    /// Per entry of `caps`: read in place from bytes the join copied (a
    /// paired end program's start values): no op.
    joined: Vec<bool>,
    /// Where a paired program's stashed bytes start (a
    /// [`Base::Record`] capture's read offset is relative to it).
    value_off: u32,
    next: u32,
    /// Arithmetic the filter needs (runs before it).
    filter_calcs: Vec<CalcOp>,
    /// The rest.
    calcs: Vec<CalcOp>,
    /// Ops the filter reads, in first-use order.
    used: Vec<usize>,
    /// Lowering the filter: ops go to `used`, calcs to `filter_calcs`.
    in_filter: bool,
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
        let n = self.op_count() + 1;
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
            .note("every field counts, and so does each value only the filter reads (or only arithmetic uses)")
            .note("drop fields, or split them between two probes on the same target (each with its own `name:`)"));
        }
        let slot = self.alloc(c.slot_size, span, probe)?;
        self.caps.push(c.clone());
        self.slot.push(slot);
        self.joined.push(false);
        Ok(self.caps.len() - 1)
    }

    /// Value ops so far (values read in place take none).
    fn op_count(&self) -> usize {
        self.joined.iter().filter(|j| !**j).count()
    }

    /// A [`Base::Record`] capture as an op: its read made absolute (it
    /// copies record bytes to a slot of its own).
    fn rebased(&self, c: &Capture) -> Capture {
        let mut c = c.clone();
        if c.base == Base::Record {
            match &mut c.read {
                Read::Int { off, .. } | Read::Str { off, .. } | Read::Bytes { off, .. } => {
                    *off += self.value_off
                }
                _ => {}
            }
        }
        c
    }

    /// A value the join copied, read where it lies: its entry (no op).
    fn in_place(&mut self, c: &Capture) -> Option<usize> {
        if c.base != Base::Record {
            return None;
        }
        let slot = match c.read {
            Read::Int { off, .. } | Read::Str { off, .. } | Read::Bytes { off, .. } => {
                self.value_off + off
            }
            _ => return None,
        };
        let i = match (0..self.caps.len()).find(|&i| self.joined[i] && self.slot[i] == slot) {
            Some(i) => i,
            None => {
                self.caps.push(c.clone());
                self.slot.push(slot);
                self.joined.push(true);
                self.caps.len() - 1
            }
        };
        Some(i)
    }

    /// Reserves a slot of `size` bytes (rounded up to 8).
    fn alloc(&mut self, size: u32, span: Span, probe: Span) -> Result<u32, Diagnostic> {
        let size = size.div_ceil(8) * 8;
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
        let at = self.next;
        self.next = total;
        Ok(at)
    }

    /// The op capturing `c`: an existing identical one, or a new one.
    fn shared(&mut self, c: &Capture, span: Span, probe: Span) -> Result<usize, Diagnostic> {
        if let Some(i) = self.in_place(c) {
            self.mark(i);
            return Ok(i);
        }
        let i = match self.caps.iter().position(|x| same(x, c)) {
            Some(i) => i,
            None => self.push(c, span, probe, self.in_filter)?,
        };
        self.mark(i);
        Ok(i)
    }

    /// Notes that the filter reads op `i`.
    fn mark(&mut self, i: usize) {
        if self.in_filter && !self.used.contains(&i) {
            self.used.push(i);
        }
    }

    /// Lowers arithmetic, writing the result into `dst` (a new slot when
    /// `None`); returns the operand the result is.
    fn calc(
        &mut self,
        c: &Calc,
        dst: Option<u32>,
        tracepoint: bool,
        span: Span,
        probe: Span,
    ) -> Result<CalcArg, Diagnostic> {
        match c {
            Calc::Imm(v) if dst.is_none() => Ok(CalcArg::Imm { value: *v }),
            Calc::Leaf(cap) if dst.is_none() => {
                let cap = use_args_area(cap, tracepoint);
                let i = self.shared(&cap, span, probe)?;
                Ok(CalcArg::Slot { slot: self.slot[i] })
            }
            // A bare constant or capture into a given slot: `x + 0`.
            Calc::Imm(_) | Calc::Leaf(_) => {
                let a = self.calc(c, None, tracepoint, span, probe)?;
                self.emit(
                    ArithOp::Add,
                    a,
                    CalcArg::Imm { value: 0 },
                    false,
                    dst,
                    span,
                    probe,
                )
            }
            Calc::Bin { op, a, b, signed } => {
                let a = self.calc(a, None, tracepoint, span, probe)?;
                let b = self.calc(b, None, tracepoint, span, probe)?;
                self.emit(*op, a, b, *signed, dst, span, probe)
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        op: ArithOp,
        a: CalcArg,
        b: CalcArg,
        signed: bool,
        dst: Option<u32>,
        span: Span,
        probe: Span,
    ) -> Result<CalcArg, Diagnostic> {
        let n = self.filter_calcs.len() + self.calcs.len() + 1;
        if n > MAX_CALC {
            return Err(Diagnostic::error(
                span,
                format!(
                    "too much arithmetic: a probe runs at most {MAX_CALC} operators (a limit of the precompiled templates)"
                ),
            )
            .label(format!("operator {n}"))
            .also(probe, "in this probe")
            .note("each operator counts; parts made of literals and parameters only are folded away"));
        }
        let dst = match dst {
            Some(d) => d,
            None => self.alloc(8, span, probe)?,
        };
        let op = CalcOp {
            dst,
            op,
            a,
            b,
            signed,
        };
        if self.in_filter {
            self.filter_calcs.push(op);
        } else {
            self.calcs.push(op);
        }
        Ok(CalcArg::Slot { slot: dst })
    }
}

/// What one probe captures: an event probe's fields, or an aggregating
/// probe's keys and aggregates.
pub enum ProbeValues<'v> {
    /// Visible fields, in order.
    Fields(&'v [(String, Value)]),
    /// `by:` keys and aggregate fields.
    Aggregate {
        /// Keys, in order.
        keys: &'v [Key],
        /// Aggregates, in order.
        values: &'v [AggField],
    },
}

/// A paired probe's program (spec-v2 section 3; [`crate::pair`] makes it):
/// what [`lower`] adds to the record layout and the filter.
pub struct PairLower<'p> {
    /// Start or end.
    pub role: PairRole,
    /// Bytes stashed: the start's timestamp word, then the start values
    /// (`Sides::value_size`). The start program's fields are those values.
    pub value_size: u32,
    /// This side's match values, in key order.
    pub key: &'p [(Capture, Span)],
    /// End: the conjuncts of the filter that read end values only; they
    /// run before the join (an event failing them is not an end).
    pub stage1: Option<&'p Cond>,
}

/// A value that takes a slot of its own at a fixed place in the record (a
/// field or key): its capture op, or the arithmetic that writes it.
enum Placed {
    Op(usize),
    Calc(Calc, u32, Span),
}

/// Lowers one probe: `values` are its resolved fields (or keys and
/// aggregates), `cond` its checked filter. Fails, at the offending part,
/// when a limit of the templates ([`MAX_OPS`], [`MAX_CALC`], [`MAX_RECORD`],
/// [`MAX_FILTER_OPS`], [`STR_POOL`]) is crossed.
///
/// `fn_args` is the probed function's (or raw tracepoint's) argument count:
/// a kernel-function return probe that reads the return value copies all
/// of them, because fexit finds the return value after the last one.
pub fn lower(
    attach: &Attach,
    fn_args: u32,
    values: ProbeValues,
    cond: Option<&Cond>,
    spans: &ProbeSpans,
    pair: Option<&PairLower>,
) -> Result<Lowered, Diagnostic> {
    let tracepoint = matches!(attach, Attach::Tracepoint { .. });
    let aggregating = matches!(values, ProbeValues::Aggregate { .. });
    // `usym()` and `ustack` print in the process that made the event: its
    // pid is read too: the `pid` key of an aggregating probe, else a hidden
    // value (in an aggregating probe, hidden at the end of the key: rows
    // that differ only by it are merged when printed).
    let pid = crate::resolve::builtin_pid();
    // Whose pid: the event's, or for a start value of a paired probe the
    // start's, stashed with it (`pair::with_start_pid`).
    let pid_of = |v: &Value| match v {
        Value::Capture(c) if c.base == Base::Record => c
            .decode
            .pid_slot()
            .map_or_else(|| pid.clone(), crate::pair::joined_pid),
        _ => pid.clone(),
    };
    let is_key = |keys: &[crate::aggregate::Key], c: &Capture| {
        keys.iter()
            .any(|k| matches!(&k.value, Value::Capture(x) if same(x, c)))
    };
    let hidden_pid = match &values {
        ProbeValues::Aggregate { keys, .. } => keys
            .iter()
            .any(|k| k.value.decode().pid_slot().is_some() && !is_key(keys, &pid_of(&k.value))),
        ProbeValues::Fields(_) => false,
    };
    // A paired end program that aggregates keeps its aggregation key first
    // (the map reads it at the header's end); the stashed bytes follow.
    let value_off = match (&values, pair.map(|p| p.role)) {
        (ProbeValues::Aggregate { keys, .. }, Some(PairRole::End)) => {
            RECORD_HEADER
                + keys
                    .iter()
                    .map(|k| match &k.value {
                        Value::Capture(c) => c.slot_size.div_ceil(8) * 8,
                        Value::Computed { .. } => 8,
                    })
                    .sum::<u32>()
                    .max(8)
                + if hidden_pid { 8 } else { 0 }
        }
        _ => RECORD_HEADER,
    };
    let mut slots = Slots {
        caps: Vec::new(),
        slot: Vec::new(),
        joined: Vec::new(),
        value_off,
        next: RECORD_HEADER,
        filter_calcs: Vec::new(),
        calcs: Vec::new(),
        used: Vec::new(),
        in_filter: false,
    };
    // Every field (key) has its own slot, in order, even one written twice:
    // the limits count what the spec says, and an aggregating probe's keys
    // are the contiguous bytes after the header.
    let placed_values: Vec<(String, Value, Span)> = match &values {
        ProbeValues::Fields(fields) => fields
            .iter()
            .enumerate()
            .map(|(i, (n, v))| {
                let span = spans.fields.get(i).copied().unwrap_or(spans.probe);
                (n.clone(), v.clone(), span)
            })
            .collect(),
        ProbeValues::Aggregate { keys, .. } => keys
            .iter()
            .map(|k| (k.name.clone(), k.value.clone(), k.span))
            .collect(),
    };
    // A paired program's stashed bytes and match key: before the fields of
    // an end program that sends records; the start program's fields are
    // the stashed values themselves (after the timestamp word).
    let mut key_ops: Vec<usize> = Vec::new();
    let mut key_off = 0;
    let place_key = |slots: &mut Slots, key_ops: &mut Vec<usize>| -> Result<u32, Diagnostic> {
        let off = slots.next;
        for (c, span) in pair.map_or(&[][..], |p| p.key) {
            key_ops.push(slots.push(&use_args_area(c, tracepoint), *span, spans.probe, false)?);
        }
        Ok(off)
    };
    match pair.map(|p| p.role) {
        Some(PairRole::Start) => {
            slots.alloc(8, spans.probe, spans.probe)?;
        }
        Some(PairRole::End) if !aggregating => {
            slots.alloc(pair.map_or(0, |p| p.value_size), spans.probe, spans.probe)?;
            key_off = place_key(&mut slots, &mut key_ops)?;
        }
        _ => {}
    }
    let mut placed = Vec::with_capacity(placed_values.len());
    for (_, v, span) in &placed_values {
        placed.push(match v {
            // A start value of a paired end program's record: read where
            // the join put it, or (an aggregation key) copied into the key.
            Value::Capture(c) if !aggregating && c.base == Base::Record => {
                Placed::Op(slots.in_place(c).unwrap_or_default())
            }
            Value::Capture(c) => Placed::Op(slots.push(
                &slots.rebased(&use_args_area(c, tracepoint)),
                *span,
                spans.probe,
                false,
            )?),
            Value::Computed { calc, .. } => {
                Placed::Calc(calc.clone(), slots.alloc(8, *span, spans.probe)?, *span)
            }
        });
    }
    let placed_slot = |p: &Placed, slots: &Slots| match p {
        Placed::Op(i) => slots.slot[*i],
        Placed::Calc(_, s, _) => *s,
    };
    let mut usym_pid: Vec<Option<u32>> = vec![None; placed_values.len()];
    for (i, (_, v, span)) in placed_values.iter().enumerate() {
        if v.decode().pid_slot().is_none() {
            continue;
        }
        let pid = pid_of(v);
        let key = placed_values
            .iter()
            .position(|(_, k, _)| matches!(k, Value::Capture(c) if same(c, &pid)))
            .filter(|_| aggregating);
        usym_pid[i] = Some(match key {
            Some(key) => placed_slot(&placed[key], &slots),
            // A start's pid copied into the key.
            None if aggregating && pid.base == Base::Record => {
                let copy = slots.rebased(&pid);
                let k = match slots.caps.iter().position(|x| same(x, &copy)) {
                    Some(k) => k,
                    None => slots.push(&copy, *span, spans.probe, false)?,
                };
                slots.slot[k]
            }
            None => {
                let k = slots.shared(&pid, *span, spans.probe)?;
                slots.slot[k]
            }
        });
    }
    if pair.is_some_and(|p| p.role == PairRole::Start) {
        if slots.next != RECORD_HEADER + pair.map_or(0, |p| p.value_size) {
            return Err(Diagnostic::error(
                spans.probe,
                "internal error: the stashed values' layout",
            ));
        }
        key_off = place_key(&mut slots, &mut key_ops)?;
    }
    let mut agg = None;
    if let ProbeValues::Aggregate { values: aggs, .. } = &values {
        // A probe without keys has one all-zero 8-byte key.
        if placed.is_empty() {
            slots.alloc(8, spans.probe, spans.probe)?;
        }
        let key_size = slots.next - RECORD_HEADER;
        if key_size > MAX_AGG_KEY {
            let last = placed_values.last().map_or(spans.probe, |(_, _, s)| *s);
            return Err(Diagnostic::error(
                last,
                format!(
                    "the keys take {key_size} bytes, and the kernel's hash maps take keys of at most {MAX_AGG_KEY}"
                ),
            )
            .label(format!("brings the key to {key_size} bytes"))
            .also(spans.probe, "in this probe")
            .note("a key is 8 bytes per integer plus the length of each string: lower `str(e, N)`, e.g. `str(filename, 128)`"));
        }
        if pair.is_some_and(|p| p.role == PairRole::End) {
            if slots.next != value_off {
                return Err(Diagnostic::error(
                    spans.probe,
                    "internal error: the aggregation key's size",
                ));
            }
            slots.alloc(pair.map_or(0, |p| p.value_size), spans.probe, spans.probe)?;
            key_off = place_key(&mut slots, &mut key_ops)?;
        }
        let mut off = 0;
        let mut out = Vec::with_capacity(aggs.len());
        for a in aggs.iter() {
            let (arg, signed) = match &a.arg {
                None => (None, false),
                Some(v) => {
                    let slot = match v {
                        Value::Capture(c) => {
                            let i =
                                slots.shared(&use_args_area(c, tracepoint), a.span, spans.probe)?;
                            slots.slot[i]
                        }
                        Value::Computed { calc, .. } => {
                            match slots.calc(calc, None, tracepoint, a.span, spans.probe)? {
                                CalcArg::Slot { slot } => slot,
                                CalcArg::Imm { .. } => {
                                    return Err(Diagnostic::error(
                                        a.span,
                                        "internal error: a constant aggregate argument",
                                    ))
                                }
                            }
                        }
                    };
                    let signed =
                        matches!(v.class(), crate::resolve::ValueClass::Int { signed: true });
                    (Some(slot), signed)
                }
            };
            out.push(AggValue {
                name: a.name.clone(),
                func: a.func,
                off,
                arg,
                signed,
            });
            off += a.func.value_bytes();
        }
        agg = Some(AggPlan {
            key_size,
            keys: Vec::new(),
            value_size: off,
            values: out,
        });
    }

    // Filter operands, in first-use order; a value the filter reads that is
    // already captured is not captured again.
    let mut filter_ops = Vec::new();
    let mut strings: Vec<u8> = Vec::new();
    let mut in_filter_calc: Vec<bool> = vec![false; placed.len()];
    let mut operand = |o: &Operand, slots: &mut Slots| -> Result<u32, Diagnostic> {
        match o {
            Operand::Field(f) => match placed.get(*f) {
                Some(Placed::Op(i)) => {
                    slots.mark(*i);
                    Ok(slots.slot[*i])
                }
                // A computed field the filter reads is computed before it.
                Some(Placed::Calc(calc, dst, span)) => {
                    if !in_filter_calc[*f] {
                        in_filter_calc[*f] = true;
                        slots.calc(calc, Some(*dst), tracepoint, *span, spans.probe)?;
                    }
                    Ok(*dst)
                }
                None => Err(Diagnostic::error(
                    spans.probe,
                    "internal error: filter refers to a missing field",
                )),
            },
            Operand::Hidden(c, span) => {
                let c = use_args_area(c, tracepoint);
                let i = slots.shared(&c, *span, spans.probe)?;
                Ok(slots.slot[i])
            }
            Operand::Computed(calc, span) => {
                match slots.calc(calc, None, tracepoint, *span, spans.probe)? {
                    CalcArg::Slot { slot } => Ok(slot),
                    CalcArg::Imm { .. } => Err(Diagnostic::error(
                        *span,
                        "internal error: a constant filter operand",
                    )),
                }
            }
        }
    };
    fn live(c: Option<&Cond>) -> Option<&Cond> {
        match c {
            Some(Cond::Const(true)) | None => None,
            Some(c) => Some(c),
        }
    }
    // A paired end program's first stage (before the join), then the
    // filter proper: two postfix programs, one after the other.
    let stages = [live(pair.and_then(|p| p.stage1)), live(cond)];
    let mut stage1_end = (0, 0, 0);
    slots.in_filter = true;
    for (stage, c) in stages.into_iter().enumerate() {
        if stage == 1 {
            stage1_end = (slots.used.len(), slots.filter_calcs.len(), filter_ops.len());
        }
        let Some(c) = c else { continue };
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
                    let slot = operand(o, &mut slots)?;
                    filter_ops.push(FilterOp::CmpImm {
                        slot,
                        cmp: *cmp,
                        imm: *imm,
                        signed: *signed,
                    });
                }
                Cond::CmpOperands { a, b, cmp, signed } => {
                    let a = operand(a, &mut slots)?;
                    let b = operand(b, &mut slots)?;
                    filter_ops.push(FilterOp::CmpSlots {
                        a,
                        b,
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
                    let slot = operand(o, &mut slots)?;
                    // Bytes the value can hold with its NUL: a string read
                    // of at most `max` bytes holds `max - 1` characters, in
                    // a slot rounded up to 8.
                    let i =
                        slots.slot.iter().position(|&s| s == slot).ok_or_else(|| {
                            Diagnostic::error(*span, "internal error: string slot")
                        })?;
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
                        slot,
                        str_off,
                        len: text.len() as u32,
                        prefix: *prefix,
                        negate: *negate,
                    });
                }
            }
        }
    }
    slots.in_filter = false;
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
    // Computed fields the filter did not need: after it.
    for (f, p) in placed.iter().enumerate() {
        if let Placed::Calc(calc, dst, span) = p {
            if !in_filter_calc[f] {
                slots.calc(calc, Some(*dst), tracepoint, *span, spans.probe)?;
            }
        }
    }

    // Execution order: a paired program's key, the filter's operands (a
    // paired end program's first stage, then the rest), then the others.
    // Values read in place where the join put them take no op.
    let mut order: Vec<usize> = Vec::new();
    let mut stage_ends = [0usize; 2];
    let used = slots.used.clone();
    let (used1, used2) = used.split_at(stage1_end.0.min(used.len()));
    for (stage, part) in [&key_ops[..], used1, used2].into_iter().enumerate() {
        for &i in part {
            if !slots.joined[i] && !order.contains(&i) {
                order.push(i);
            }
        }
        if stage > 0 {
            stage_ends[stage - 1] = order.len();
        }
    }
    let (join_at, filtered) = (stage_ends[0] as u32, stage_ends[1] as u32);
    let rest: Vec<usize> = (0..slots.caps.len())
        .filter(|&i| !slots.joined[i] && !order.contains(&i))
        .collect();
    order.extend(rest);
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
    let field_plans: Vec<FieldPlan> = placed_values
        .iter()
        .zip(&placed)
        .enumerate()
        .map(|(i, ((name, v, _), p))| FieldPlan {
            name: name.clone(),
            slot: placed_slot(p, &slots),
            size: match v {
                Value::Capture(c) => c.slot_size,
                Value::Computed { .. } => 8,
            },
            decode: {
                let mut d = v.decode();
                if let (Some(slot), Some(pid)) = (d.pid_slot_mut(), usym_pid[i]) {
                    *slot = pid;
                }
                d
            },
        })
        .collect();
    let (fields_out, agg) = match agg {
        Some(mut a) => {
            a.keys = field_plans;
            (Vec::new(), Some(a))
        }
        None => (field_plans, None),
    };
    let calc_at = slots.filter_calcs.len() as u32;
    let slots_key_size: u32 = key_ops
        .iter()
        .map(|&i| slots.caps[i].slot_size.div_ceil(8) * 8)
        .sum();
    let mut calcs = std::mem::take(&mut slots.filter_calcs);
    calcs.append(&mut slots.calcs);
    Ok(Lowered {
        config: crate::plan::ProbeConfig {
            nargs,
            ctx_copy,
            record_size: slots.next,
            filter_at: if filter_ops.is_empty() && !pair.is_some_and(|p| p.role == PairRole::End) {
                0
            } else {
                filtered
            },
            ops,
            filter: filter_ops,
            strings,
            calcs,
            calc_at,
            agg,
            pair: pair.map(|p| PairConfig {
                role: p.role,
                value_off,
                key_off,
                key_size: slots_key_size,
                value_size: p.value_size,
                join_at: if p.role == PairRole::End { join_at } else { 0 },
                join_calc: if p.role == PairRole::End {
                    stage1_end.1 as u32
                } else {
                    0
                },
                join_filter: if p.role == PairRole::End {
                    stage1_end.2 as u32
                } else {
                    0
                },
            }),
        },
        fields: fields_out,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Decode, Hop, Mem, Transform};

    /// A tracepoint record value at `ctx + off`, as the resolver makes it:
    /// an integer of `size` bytes, or (with `ptr`) a pointer loaded there
    /// and the string it points to.
    fn record_value(off: u32, size: u32, ptr: bool) -> Capture {
        let (hops, read, decode) = if ptr {
            (
                vec![Hop {
                    off,
                    mem: Mem::Kernel,
                    index: None,
                }],
                Read::Str {
                    off: 0,
                    max: 16,
                    mem: Mem::Kernel,
                },
                Decode::Str,
            )
        } else {
            (
                vec![],
                Read::Int {
                    off,
                    size,
                    signed: true,
                    bit_off: 0,
                    bit_size: 0,
                },
                Decode::Int { size, signed: true },
            )
        };
        Capture {
            base: Base::Ctx,
            hops,
            mem: Mem::Kernel,
            read,
            transform: Transform::None,
            slot_size: if ptr { 16 } else { 8 },
            decode,
        }
    }

    /// Lowers one field `v` = `c`, with `cond` as the filter.
    fn lower_with(attach: &Attach, c: &Capture, cond: Option<&Cond>) -> crate::plan::ProbeConfig {
        let fields = [("v".to_string(), Value::Capture(c.clone()))];
        let spans = ProbeSpans {
            probe: Span::default(),
            fields: &[],
            filter: None,
        };
        lower(attach, 0, ProbeValues::Fields(&fields), cond, &spans, None)
            .unwrap_or_else(|d| panic!("{d:?}"))
            .config
    }

    fn lower_one(attach: &Attach, c: &Capture) -> crate::plan::ProbeConfig {
        lower_with(attach, c, None)
    }

    fn tracepoint() -> Attach {
        Attach::Tracepoint {
            category: "sched".into(),
            name: "t".into(),
        }
    }

    /// A tracepoint scalar that ends inside the copied args area becomes a
    /// load from it; one that ends past it (by even a byte) stays a read of
    /// the record.
    #[test]
    fn tracepoint_scalars_inside_the_args_area_are_copied() {
        let end = ABI_ARGS_AREA;
        for (off, size) in [(0, 8), (end - 8, 8), (end - 4, 4), (end - 1, 1)] {
            let c = lower_one(&tracepoint(), &record_value(off, size, false));
            let op = &c.ops[0];
            assert_eq!(
                (op.base, op.read),
                (
                    Base::Arg {
                        off,
                        size,
                        signed: true
                    },
                    Read::Value
                ),
                "{off}+{size}"
            );
            assert_eq!(c.ctx_copy, (off + size).div_ceil(8) * 8);
        }
        for (off, size) in [(end - 3, 4), (end - 4, 8), (end, 1), (end, 4), (end + 4, 4)] {
            let v = record_value(off, size, false);
            let c = lower_one(&tracepoint(), &v);
            assert_eq!(
                (c.ops[0].base, c.ops[0].read),
                (v.base, v.read),
                "{off}+{size}"
            );
            assert_eq!(c.ctx_copy, 0, "{off}+{size}");
        }
    }

    /// A pointer in the record is loaded from the args area when its 8 bytes
    /// are inside it, and through a hop from the record otherwise.
    #[test]
    fn tracepoint_pointers_inside_the_args_area_are_copied() {
        let end = ABI_ARGS_AREA;
        for off in [8, end - 8] {
            let c = lower_one(&tracepoint(), &record_value(off, 8, true));
            let op = &c.ops[0];
            assert_eq!(
                op.base,
                Base::Arg {
                    off,
                    size: 8,
                    signed: false
                }
            );
            assert!(op.hops.is_empty(), "{op:?}");
            assert_eq!(c.ctx_copy, off + 8);
        }
        for off in [end - 4, end - 1, end] {
            let v = record_value(off, 8, true);
            let c = lower_one(&tracepoint(), &v);
            assert_eq!((c.ops[0].base, &c.ops[0].hops), (v.base, &v.hops), "{off}");
            assert_eq!(c.ctx_copy, 0);
        }
    }

    /// A bitfield is extracted from the record, not copied.
    #[test]
    fn tracepoint_bitfields_are_not_copied() {
        let mut v = record_value(8, 4, false);
        v.read = Read::Int {
            off: 8,
            size: 4,
            signed: false,
            bit_off: 3,
            bit_size: 2,
        };
        let c = lower_one(&tracepoint(), &v);
        assert_eq!((c.ops[0].base, c.ops[0].read), (Base::Ctx, v.read));
        assert_eq!(c.ctx_copy, 0);
    }

    /// `v > 0` on the value `c`, read only by the filter.
    fn positive(c: &Capture) -> Cond {
        Cond::CmpImm {
            operand: Operand::Hidden(c.clone(), Span::new(1, 2)),
            cmp: crate::plan::CmpOp::Gt,
            imm: 0,
            signed: true,
        }
    }

    /// A value the filter reads that a field already captures (after both
    /// are moved to the args area) is read once; one that differs in any
    /// part of its value op gets a slot of its own, after the field's.
    #[test]
    fn filter_values_already_captured_are_not_read_twice() {
        for v in [record_value(8, 4, false), record_value(300, 4, false)] {
            let c = lower_with(&tracepoint(), &v, Some(&positive(&v)));
            assert_eq!(c.ops.len(), 1, "{v:?}");
            assert_eq!(c.record_size, RECORD_HEADER + 8);
            assert_eq!(c.filter_at, 1);
            assert!(
                matches!(c.filter[..], [FilterOp::CmpImm { slot: 16, .. }]),
                "{:?}",
                c.filter
            );
        }
        let v = record_value(300, 4, false);
        let mut other_mem = v.clone();
        other_mem.mem = crate::plan::Mem::User;
        let mut other_size = v.clone();
        other_size.slot_size = 16;
        let mut other_transform = v.clone();
        other_transform.transform = Transform::Bswap32;
        let mut other_hops = v.clone();
        other_hops.hops.push(Hop {
            off: ABI_ARGS_AREA,
            mem: Mem::Kernel,
            index: None,
        });
        let other_read = record_value(304, 4, false);
        let mut other_base = v.clone();
        other_base.base = Base::Builtin {
            builtin: crate::plan::Builtin::Pid,
        };
        for h in [
            other_mem,
            other_size,
            other_transform,
            other_hops,
            other_read,
            other_base,
        ] {
            let c = lower_with(&tracepoint(), &v, Some(&positive(&h)));
            assert_eq!(c.ops.len(), 2, "{h:?}");
            assert_eq!(c.ops[0].slot, 16 + 8, "the filter's value first: {h:?}");
            assert_eq!(c.ops[1].slot, 16);
            assert!(
                matches!(c.filter[..], [FilterOp::CmpImm { slot: 24, .. }]),
                "{:?}",
                c.filter
            );
        }
    }

    /// A tracepoint `char[512]` in the record: holds 511 characters.
    fn record_string() -> Capture {
        Capture {
            base: Base::Ctx,
            hops: vec![],
            mem: Mem::Kernel,
            read: Read::Str {
                off: 8,
                max: 512,
                mem: Mem::Kernel,
            },
            transform: Transform::None,
            slot_size: 512,
            decode: Decode::Str,
        }
    }

    /// The filter's string constants fill the pool up to [`STR_POOL`]
    /// bytes exactly; one byte more is an error at that string.
    #[test]
    fn string_pool_holds_exactly_its_size() {
        let span = Span::new(3, 9);
        let cmp = |n: usize| Cond::CmpStr {
            operand: Operand::Field(0),
            text: vec![b'a'; n],
            prefix: false,
            negate: false,
            span,
        };
        let c = lower_with(&tracepoint(), &record_string(), Some(&cmp(STR_POOL)));
        assert_eq!(c.strings.len(), STR_POOL);
        assert_eq!(
            c.filter,
            [FilterOp::CmpStr {
                slot: 16,
                str_off: 0,
                len: STR_POOL as u32,
                prefix: false,
                negate: false
            }]
        );
        let spans = ProbeSpans {
            probe: Span::default(),
            fields: &[],
            filter: None,
        };
        let fields = [("s".to_string(), Value::Capture(record_string()))];
        let d = lower(
            &tracepoint(),
            0,
            ProbeValues::Fields(&fields),
            Some(&cmp(STR_POOL + 1)),
            &spans,
            None,
        )
        .err()
        .expect("a string past the pool accepted");
        assert!(
            d.message.starts_with(&format!(
                "filter strings too long: {} bytes, and a probe's filter holds at most {STR_POOL} bytes",
                STR_POOL + 1
            )),
            "{}",
            d.message
        );
        assert_eq!(d.span, span);
    }

    /// `!(v == 0 || v == 1 || ...)`: `n` comparisons, `n - 1` ors, one not.
    fn not_of_ors(n: u64) -> Cond {
        let eq = |i| Cond::CmpImm {
            operand: Operand::Field(0),
            cmp: crate::plan::CmpOp::Eq,
            imm: i,
            signed: true,
        };
        let ors = (1..n).fold(eq(0), |acc, i| Cond::Or(Box::new(acc), Box::new(eq(i))));
        Cond::Not(Box::new(ors))
    }

    /// A filter of exactly [`MAX_FILTER_OPS`] operations is accepted, in
    /// postfix order with the `!` last; one more is an error at the filter.
    #[test]
    fn filter_holds_exactly_its_limit_of_operations() {
        let n = (MAX_FILTER_OPS / 2) as u64; // 2n - 1 + 1 operations
        let v = record_value(8, 4, false);
        let c = lower_with(&tracepoint(), &v, Some(&not_of_ors(n)));
        assert_eq!(c.filter.len(), MAX_FILTER_OPS);
        let cmp = |i| FilterOp::CmpImm {
            slot: 16,
            cmp: crate::plan::CmpOp::Eq,
            imm: i,
            signed: true,
        };
        assert_eq!(c.filter[..3], [cmp(0), cmp(1), FilterOp::Or]);
        assert_eq!(
            c.filter[MAX_FILTER_OPS - 3..],
            [cmp(n - 1), FilterOp::Or, FilterOp::Not]
        );
        let filter = Span::new(5, 50);
        let spans = ProbeSpans {
            probe: Span::default(),
            fields: &[],
            filter: Some(filter),
        };
        let fields = [("v".to_string(), Value::Capture(v))];
        let long = Cond::Not(Box::new(not_of_ors(n)));
        let d = lower(
            &tracepoint(),
            0,
            ProbeValues::Fields(&fields),
            Some(&long),
            &spans,
            None,
        )
        .err()
        .expect("a filter past the limit accepted");
        assert!(
            d.message.starts_with(&format!(
                "filter too long: {} operations",
                MAX_FILTER_OPS + 1
            )),
            "{}",
            d.message
        );
        assert_eq!(d.span, filter);
    }
}
