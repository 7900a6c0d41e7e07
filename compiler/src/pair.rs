//! Pass 3, **pair** (spec-v2 §3): start/end pairing.
//!
//! A paired probe is two programs. The start program captures the start
//! values and stashes them in a kernel LRU hash keyed by the `match:`
//! values; the end program builds the same key, joins the stashed bytes
//! into its record and makes the record (or the aggregation update) there.
//!
//! * Resolution: the probe's [`Resolver`] carries the end probe's
//!   ([`Sides`]): `end.PATH` resolves there; `latency` is the first stashed
//!   word, which the join turns into end time minus start time; any other
//!   value is a start value, given a place in the stash and read by the end
//!   program as a [`Base::Record`] capture at that place.
//! * The filter is split by its top-level `&&` conjuncts: those reading
//!   start values only run in the start program (rejected starts take no
//!   stash space); those reading end values only run before the join (an
//!   event failing them is not an end and consumes no start); the rest run
//!   after the join.

use crate::aggregate::{AggField, Key};
use crate::arith::{Calc, Value};
use crate::check::{Cond, Operand};
use crate::diag::Spanned;
use crate::diag::{Diagnostic, Span};
use crate::lower::{lower, Lowered, PairLower, ProbeSpans, ProbeValues};
use crate::plan::{
    Attach, Base, Builtin, Decode, KernelMode, Mem, PairPlan, PairRole, Read, Transform,
    DEFAULT_STASH, MAX_PAIR_KEY, MAX_RECORD, RECORD_HEADER,
};
use crate::resolve::{Capture, ProbeCtx, Resolver, ValueClass};
use crate::syntax::ast::{Expr, ExprKind, MatchDecl, ProbeDecl};

/// The end side of a paired probe, and the start values to stash.
pub struct Sides<'a> {
    /// Resolves `end.` paths at the end probe.
    pub end: Resolver<'a>,
    /// Start values to stash, each with its offset in the stashed bytes
    /// (from 8: the first word is the start's timestamp).
    stash: Vec<(Capture, u32)>,
    next: u32,
}

impl<'a> Sides<'a> {
    /// Pairs with the end probe `end`.
    pub fn new(end: Resolver<'a>) -> Self {
        Sides {
            end,
            stash: Vec::new(),
            next: 8,
        }
    }

    /// Gives the start value `c` a place in the stash (once), and returns
    /// how the end program reads it there.
    fn stash(&mut self, c: Capture) -> Capture {
        let off = match self.stash.iter().find(|(x, _)| *x == c) {
            Some((_, off)) => *off,
            None => {
                let off = self.next;
                self.next += c.slot_size.div_ceil(8) * 8;
                self.stash.push((c.clone(), off));
                off
            }
        };
        joined(&c, off)
    }

    /// The start capture stashed at `off`.
    fn original(&self, off: u32) -> Option<&Capture> {
        self.stash.iter().find(|(_, o)| *o == off).map(|(c, _)| c)
    }
}

/// Reads `c`'s bytes where the join put them: `off` from the stashed
/// bytes' start.
fn joined(c: &Capture, off: u32) -> Capture {
    let read = match (c.read, c.decode) {
        (Read::Str { max, .. } | Read::DataLocStr { max, .. }, _) => Read::Str {
            off,
            max,
            mem: Mem::Kernel,
        },
        (
            _,
            Decode::Str | Decode::Joined | Decode::Bytes | Decode::Ip6 | Decode::IntArray { .. },
        ) => Read::Bytes {
            off,
            len: c.slot_size,
            mem: Mem::Kernel,
        },
        _ => Read::Int {
            off,
            size: 8,
            signed: matches!(c.class(), ValueClass::Int { signed: true }),
            bit_off: 0,
            bit_size: 0,
        },
    };
    Capture {
        base: Base::Record,
        hops: Vec::new(),
        mem: Mem::Kernel,
        read,
        transform: Transform::None,
        slot_size: c.slot_size,
        decode: c.decode,
    }
}

/// `latency`: nanoseconds from the start to the end, the first stashed
/// word after the join.
fn latency() -> Capture {
    Capture {
        base: Base::Record,
        hops: Vec::new(),
        mem: Mem::Kernel,
        read: Read::Int {
            off: 0,
            size: 8,
            signed: false,
            bit_off: 0,
            bit_size: 0,
        },
        transform: Transform::None,
        slot_size: 8,
        decode: Decode::Int {
            size: 8,
            signed: false,
        },
    }
}

fn is_latency(r: &Resolver, e: &Expr) -> bool {
    matches!(&e.kind, ExprKind::Ident(n) if n == "latency") && !r.ctx.has_arg("latency")
}

/// The root name of a path (`end` in `end.sk->x`, `str(end.f)`).
fn root(e: &Expr) -> Option<&str> {
    match &e.kind {
        ExprKind::Ident(n) => Some(n),
        ExprKind::Member { base, .. } | ExprKind::Index { base, .. } => root(base),
        ExprKind::Call { args, .. } => args.first().and_then(root),
        _ => None,
    }
}

/// True when `e` names something only a paired probe has (`latency`,
/// `end.X`): the resolver then asks this module, paired or not.
pub(crate) fn is_pair_name(r: &Resolver, e: &Expr) -> bool {
    is_latency(r, e) || (root(e) == Some("end") && !r.ctx.has_arg("end"))
}

/// `e` without its leading `end.`, when it has one.
fn strip_end(e: &Expr) -> Result<Option<Expr>, Diagnostic> {
    let rebuilt = |kind| Expr { kind, span: e.span };
    Ok(match &e.kind {
        ExprKind::Ident(n) if n == "end" => {
            return Err(Diagnostic::error(e.span, "`end` alone names no value")
                .label("the end probe")
                .note("read a value at the end probe with `end.NAME`, e.g. `end.ret`"))
        }
        ExprKind::Member {
            base,
            member,
            arrow,
        } => match &base.kind {
            ExprKind::Ident(b) if b == "end" => {
                if *arrow {
                    return Err(Diagnostic::error(e.span, "`end->` is not a path")
                        .label("`end` is the end probe, not a pointer")
                        .note(format!("write `end.{}`", member.value)));
                }
                Some(Expr {
                    kind: ExprKind::Ident(member.value.clone()),
                    span: member.span,
                })
            }
            _ => strip_end(base)?.map(|b| {
                rebuilt(ExprKind::Member {
                    base: Box::new(b),
                    member: member.clone(),
                    arrow: *arrow,
                })
            }),
        },
        ExprKind::Index { base, index } => strip_end(base)?.map(|b| {
            rebuilt(ExprKind::Index {
                base: Box::new(b),
                index: index.clone(),
            })
        }),
        ExprKind::Call { func, args } => match args.first().map(strip_end).transpose()? {
            Some(Some(first)) => {
                let mut args = args.clone();
                args[0] = first;
                Some(rebuilt(ExprKind::Call {
                    func: func.clone(),
                    args,
                }))
            }
            _ => None,
        },
        _ => None,
    })
}

/// Resolves a value of a paired probe (or reports `latency` / `end.` in a
/// probe without `end:`).
pub(crate) fn capture(r: &mut Resolver, e: &Expr) -> Result<Capture, Diagnostic> {
    let latency_here = is_latency(r, e);
    let end_path = if root(e) == Some("end") && !r.ctx.has_arg("end") {
        strip_end(e)?
    } else {
        None
    };
    let Some(sides) = r.pair.as_mut() else {
        let what = if latency_here {
            "`latency` is the time from a start to its end"
        } else {
            "`end.` reads a value at the end probe"
        };
        return Err(Diagnostic::error(
            e.span,
            format!("{what}, and this probe has no `end:`"),
        )
        .label("needs a paired probe")
        .note("name the probe that ends this one, e.g. `end: tracepoint:syscalls:sys_exit_openat` (DSL: `START => END { … }`)"));
    };
    if latency_here {
        return Ok(latency());
    }
    if let Some(e) = end_path {
        return sides.end.capture_here(&e);
    }
    // A name only decodes: its value is stashed (or read at the end) once.
    if let ExprKind::Call { func, args } = &e.kind {
        if crate::context::is_name_function(&func.value) {
            let c = r.name_call(&func.value, args, e.span, capture)?;
            return Ok(with_start_pid(r, c));
        }
    }
    match r.capture_here(e) {
        Ok(c) => {
            let c = r.pair.as_mut().map_or(c.clone(), |s| s.stash(c));
            Ok(with_start_pid(r, c))
        }
        Err(d) => {
            // `retval` or a name only the end has: say where it is.
            let sides = r.pair.as_mut().expect("paired");
            let at_end = sides.end.capture_here(e).is_ok();
            let _ = sides.end.take_warnings();
            Err(if at_end {
                d.note(format!(
                    "the end probe has it: write `end.{}`",
                    crate::syntax::expr::print_expr(e)
                ))
            } else {
                d
            })
        }
    }
}

/// A start value that prints in its process (`ustack`, `usym()`) is
/// stashed with the start's pid (the end's task may be another: at
/// `sched_switch` it is); its decoder names the pid's place in the stash,
/// which [`joined_pid`] reads.
fn with_start_pid(r: &mut Resolver, mut c: Capture) -> Capture {
    if c.base != Base::Record || c.decode.pid_slot().is_none() {
        return c;
    }
    let Some(sides) = r.pair.as_mut() else {
        return c;
    };
    let at = match sides.stash(crate::resolve::builtin_pid()).read {
        Read::Int { off, .. } => off,
        _ => return c,
    };
    if let Some(pid) = c.decode.pid_slot_mut() {
        *pid = at;
    }
    c
}

/// The start's pid, stashed at `off` for a start value that prints in its
/// process (see `with_start_pid`), read where the join put it.
pub(crate) fn joined_pid(off: u32) -> Capture {
    joined(&crate::resolve::builtin_pid(), off)
}

/// Refuses pairs that cannot mean what they say.
pub fn check_kinds(start: &ProbeCtx, end: &ProbeCtx, end_span: Span) -> Result<(), Diagnostic> {
    let (s, e) = (&start.attach, &end.attach);
    let same_function = match (s, e) {
        (Attach::Kernel { function: a, .. }, Attach::Kernel { function: b, .. }) => a == b,
        (
            Attach::Uprobe {
                binary: ab,
                symbol: a,
                ..
            },
            Attach::Uprobe {
                binary: bb,
                symbol: b,
                ..
            },
        ) => a == b && ab == bb,
        _ => false,
    };
    if same_function && start.is_return && !end.is_return {
        return Err(Diagnostic::error(
            end_span,
            "this pair ends at the function's entry and starts at its return",
        )
        .label("the entry probe is the end")
        .note("a call starts at the entry and ends at the return: swap the two probes"));
    }
    Ok(())
}

/// The match keys: each side's values, in key order.
pub struct MatchKeys {
    /// Start side.
    pub start: Vec<(Capture, Span)>,
    /// End side.
    pub end: Vec<(Capture, Span)>,
    /// Names at the start.
    pub start_names: Vec<String>,
    /// Names at the end.
    pub end_names: Vec<String>,
}

/// Resolves `match:` (default `tid`) at both probes; the values compared
/// must have the same type and size.
pub fn match_keys(r: &mut Resolver, decl: &ProbeDecl) -> Result<MatchKeys, Vec<Diagnostic>> {
    let default = vec![Spanned {
        value: "tid".to_string(),
        span: decl.end.as_ref().map_or(decl.probe.span, |e| e.span),
    }];
    let (start, end) = match &decl.match_ {
        Some(m) => (m.start().to_vec(), m.end().to_vec()),
        None => (default.clone(), default),
    };
    let mut diags = Vec::new();
    let mut keys = MatchKeys {
        start: Vec::new(),
        end: Vec::new(),
        start_names: start.iter().map(|n| n.value.clone()).collect(),
        end_names: end.iter().map(|n| n.value.clone()).collect(),
    };
    let sides_differ = matches!(decl.match_, Some(MatchDecl::Sides { .. }));
    for (s, e) in start.iter().zip(&end) {
        // A match name is the probe's argument or field when it has one
        // (`pid` at sched_wakeup is the woken task), else the builtin.
        let ident = |n: &Spanned<String>, ctx: &ProbeCtx| {
            let name = Expr {
                kind: ExprKind::Ident(n.value.clone()),
                span: n.span,
            };
            if !ctx.has_arg(&n.value) || ctx.has_arg("args") {
                return name;
            }
            Expr {
                kind: ExprKind::Member {
                    base: Box::new(Expr {
                        kind: ExprKind::Ident("args".into()),
                        span: n.span,
                    }),
                    member: n.clone(),
                    arrow: false,
                },
                span: n.span,
            }
        };
        let at = |d: Diagnostic, side: &str| {
            d.note(format!(
                "`match:` names values read at both probes; this one is missing at the {side}"
            ))
        };
        let sc = r.capture_here(&ident(s, r.ctx)).map_err(|d| at(d, "start"));
        let sides = r.pair.as_mut().expect("paired");
        let ec = sides
            .end
            .capture_here(&ident(e, sides.end.ctx))
            .map_err(|d| at(d, "end"));
        match (sc, ec) {
            (Ok(a), Ok(b)) => {
                let (ca, cb) = (a.class(), b.class());
                let comparable = match (ca, cb) {
                    (ValueClass::Int { .. }, ValueClass::Int { .. }) => true,
                    (x, y) => x == y && a.slot_size == b.slot_size,
                };
                if !comparable {
                    let d = Diagnostic::error(
                        e.span,
                        format!(
                            "`{}` at the end cannot match `{}` at the start",
                            e.value, s.value
                        ),
                    )
                    .label(format!(
                        "{} bytes of {}",
                        b.slot_size,
                        class_name(cb)
                    ));
                    diags.push(if sides_differ {
                        d.also(s.span, format!("{} bytes of {}", a.slot_size, class_name(ca)))
                    } else {
                        d.note(format!(
                            "it is {} bytes of {} at the start",
                            a.slot_size,
                            class_name(ca)
                        ))
                    }
                    .note("match values are compared byte for byte: integers with integers, strings of the same length"));
                    continue;
                }
                keys.start.push((a, s.span));
                keys.end.push((b, e.span));
            }
            (a, b) => diags.extend(a.err().into_iter().chain(b.err())),
        }
    }
    let size: u32 = keys
        .start
        .iter()
        .map(|(c, _)| c.slot_size.div_ceil(8) * 8)
        .sum();
    if size > MAX_PAIR_KEY {
        let span = decl.match_.as_ref().map_or(decl.probe.span, |m| m.span());
        diags.push(
            Diagnostic::error(
                span,
                format!("the match values take {size} bytes, and a match key holds at most {MAX_PAIR_KEY}"),
            )
            .label("too large a key")
            .note("match by integers (8 bytes each), e.g. `tid` or a pointer"),
        );
    }
    if diags.is_empty() {
        Ok(keys)
    } else {
        Err(diags)
    }
}

fn class_name(c: ValueClass) -> &'static str {
    match c {
        ValueClass::Int { .. } => "integer",
        ValueClass::Str => "string",
        ValueClass::Ip4 => "IPv4 address",
        ValueClass::Opaque => "raw bytes",
        ValueClass::Stack => "stack",
    }
}

/// What a condition reads.
#[derive(Default)]
struct Reads {
    start: bool,
    latency: bool,
    end: bool,
    /// Where in the stash the start values read are.
    offs: Vec<u32>,
}

impl Reads {
    fn capture(&mut self, c: &Capture) {
        if let (Base::Record, Some(pid)) = (c.base, c.decode.pid_slot()) {
            // The start's pid it prints with (`with_start_pid`).
            self.offs.push(pid);
        }
        match (c.base, c.read) {
            (Base::Record, Read::Int { off: 0, .. }) => self.latency = true,
            (
                Base::Record,
                Read::Int { off, .. } | Read::Str { off, .. } | Read::Bytes { off, .. },
            ) => {
                self.start = true;
                self.offs.push(off);
            }
            (Base::Record, _) => self.start = true,
            _ => self.end = true,
        }
    }

    fn calc(&mut self, c: &Calc) {
        match c {
            Calc::Leaf(c) => self.capture(c),
            Calc::Imm(_) => {}
            Calc::Bin { a, b, .. } => {
                self.calc(a);
                self.calc(b);
            }
        }
    }

    fn value(&mut self, v: &Value) {
        match v {
            Value::Capture(c) => self.capture(c),
            Value::Computed { calc, .. } => self.calc(calc),
        }
    }

    fn operand(&mut self, o: &Operand, fields: &[(String, Value)]) {
        match o {
            Operand::Field(i) => {
                if let Some((_, v)) = fields.get(*i) {
                    self.value(v)
                }
            }
            Operand::Hidden(c, _) => self.capture(c),
            Operand::Computed(c, _) => self.calc(c),
        }
    }

    fn cond(&mut self, c: &Cond, fields: &[(String, Value)]) {
        match c {
            Cond::Const(_) => {}
            Cond::CmpImm { operand, .. } | Cond::CmpStr { operand, .. } => {
                self.operand(operand, fields)
            }
            Cond::CmpOperands { a, b, .. } => {
                self.operand(a, fields);
                self.operand(b, fields);
            }
            Cond::And(a, b) | Cond::Or(a, b) => {
                self.cond(a, fields);
                self.cond(b, fields);
            }
            Cond::Not(a) => self.cond(a, fields),
        }
    }
}

/// The filter of a paired probe, split by where each part can run.
#[derive(Default)]
struct Split {
    /// Start values only: in the start program (over start captures).
    start: Option<Cond>,
    /// End values only: before the join.
    stage1: Option<Cond>,
    /// The rest: after the join.
    stage2: Option<Cond>,
}

fn and(acc: Option<Cond>, c: Cond) -> Option<Cond> {
    Some(match acc {
        None => c,
        Some(a) => Cond::And(Box::new(a), Box::new(c)),
    })
}

fn conjuncts(c: Cond, out: &mut Vec<Cond>) {
    match c {
        Cond::And(a, b) => {
            conjuncts(*a, out);
            conjuncts(*b, out);
        }
        c => out.push(c),
    }
}

impl Sides<'_> {
    fn split(&self, cond: Option<Cond>, fields: &[(String, Value)], probe: Span) -> Split {
        let mut split = Split::default();
        let mut parts = Vec::new();
        if let Some(c) = cond {
            conjuncts(c, &mut parts);
        }
        for c in parts {
            let mut r = Reads::default();
            r.cond(&c, fields);
            if r.start && !r.end && !r.latency {
                split.start = and(split.start, self.at_start(c, fields, probe));
            } else if !r.start && !r.latency {
                split.stage1 = and(split.stage1, c);
            } else {
                split.stage2 = and(split.stage2, c);
            }
        }
        split
    }

    /// A condition over start values, as the start program reads them
    /// (fields inlined: the start program has none).
    fn at_start(&self, c: Cond, fields: &[(String, Value)], probe: Span) -> Cond {
        Rewrite {
            capture: &|c| self.capture_at_start(c),
            inline: Some((fields, probe)),
        }
        .cond(c)
    }

    /// A value with its stashed start values read where they were
    /// captured (what the start program, or fexit alone, reads).
    pub fn unstashed(&self, v: &Value) -> Value {
        Rewrite {
            capture: &|c| self.capture_at_start(c),
            inline: None,
        }
        .value(v)
    }

    /// A condition with its stashed start values read where they were
    /// captured.
    pub fn unstashed_cond(&self, c: Cond, fields: &[(String, Value)], probe: Span) -> Cond {
        self.at_start(c, fields, probe)
    }

    /// True when fexit alone sees everything this pair reads, so it needs
    /// no stash: `fentry:F` ending at `fexit:F`, matched by thread, whose
    /// start values are the function's arguments themselves (registers,
    /// unchanged at the return; not memory they point to, which the
    /// function may have changed) and which does not read `latency`.
    /// Only the forced forms qualify: `kfunc:`/`kretfunc:` may load as
    /// kprobes, whose return probe cannot read arguments, so they stash.
    pub fn fexit_alone(
        &self,
        start: &ProbeCtx,
        end: &ProbeCtx,
        keys: &MatchKeys,
        reads: &[&Value],
        cond: Option<&Cond>,
        fields: &[(String, Value)],
    ) -> bool {
        let same_function = matches!(
            (&start.attach, &end.attach),
            (
                Attach::Kernel { function: a, ret: false, mode: KernelMode::Fentry },
                Attach::Kernel { function: b, ret: true, mode: KernelMode::Fentry },
            ) if a == b
        );
        let by_tid = keys.start_names == ["tid"] && keys.end_names == ["tid"];
        let registers = self.stash.iter().all(|(c, _)| {
            c.hops.is_empty()
                && c.read == Read::Value
                && matches!(
                    c.base,
                    Base::Arg { .. }
                        | Base::Builtin {
                            builtin: Builtin::Tid | Builtin::Pid
                        }
                )
        });
        let mut r = Reads::default();
        for v in reads {
            r.value(v);
        }
        if let Some(c) = cond {
            r.cond(c, fields);
        }
        same_function && by_tid && registers && !r.latency
    }

    fn capture_at_start(&self, c: &Capture) -> Capture {
        match c.read {
            Read::Int { off, .. } | Read::Str { off, .. } | Read::Bytes { off, .. }
                if c.base == Base::Record =>
            {
                self.original(off).cloned().unwrap_or_else(|| c.clone())
            }
            _ => c.clone(),
        }
    }
}

/// Rewrites every capture of values and conditions.
struct Rewrite<'f> {
    capture: &'f dyn Fn(&Capture) -> Capture,
    /// Replace `Operand::Field` by the field's value (and where the filter
    /// is), for a program without those fields.
    inline: Option<(&'f [(String, Value)], Span)>,
}

impl Rewrite<'_> {
    fn value(&self, v: &Value) -> Value {
        match v {
            Value::Capture(c) => Value::Capture((self.capture)(c)),
            Value::Computed {
                calc,
                signed,
                named,
            } => Value::Computed {
                calc: self.calc(calc),
                signed: *signed,
                named: *named,
            },
        }
    }

    fn calc(&self, c: &Calc) -> Calc {
        match c {
            Calc::Leaf(c) => Calc::Leaf((self.capture)(c)),
            Calc::Imm(v) => Calc::Imm(*v),
            Calc::Bin { op, a, b, signed } => Calc::Bin {
                op: *op,
                a: Box::new(self.calc(a)),
                b: Box::new(self.calc(b)),
                signed: *signed,
            },
        }
    }

    fn operand(&self, o: Operand) -> Operand {
        match o {
            Operand::Field(i) => match self.inline {
                Some((fields, span)) => match fields.get(i).map(|(_, v)| self.value(v)) {
                    Some(Value::Capture(c)) => Operand::Hidden(c, span),
                    Some(Value::Computed { calc, .. }) => Operand::Computed(calc, span),
                    None => Operand::Field(i),
                },
                None => Operand::Field(i),
            },
            Operand::Hidden(c, span) => Operand::Hidden((self.capture)(&c), span),
            Operand::Computed(c, span) => Operand::Computed(self.calc(&c), span),
        }
    }

    fn cond(&self, c: Cond) -> Cond {
        match c {
            Cond::CmpImm {
                operand,
                cmp,
                imm,
                signed,
            } => Cond::CmpImm {
                operand: self.operand(operand),
                cmp,
                imm,
                signed,
            },
            Cond::CmpStr {
                operand,
                text,
                prefix,
                negate,
                span,
            } => Cond::CmpStr {
                operand: self.operand(operand),
                text,
                prefix,
                negate,
                span,
            },
            Cond::CmpOperands { a, b, cmp, signed } => Cond::CmpOperands {
                a: self.operand(a),
                b: self.operand(b),
                cmp,
                signed,
            },
            Cond::And(a, b) => Cond::And(Box::new(self.cond(*a)), Box::new(self.cond(*b))),
            Cond::Or(a, b) => Cond::Or(Box::new(self.cond(*a)), Box::new(self.cond(*b))),
            Cond::Not(a) => Cond::Not(Box::new(self.cond(*a))),
            c @ Cond::Const(_) => c,
        }
    }
}

/// What [`lower_pair`] needs besides the probe's values.
pub struct PairedProbe<'p> {
    /// The start probe.
    pub start: &'p ProbeCtx,
    /// The end probe.
    pub end: &'p ProbeCtx,
    /// The end probe as written.
    pub end_text: &'p str,
    /// The match keys.
    pub keys: MatchKeys,
}

/// Lowers a paired probe: the end program (returned as the probe's
/// [`Lowered`]) and the start program (in the [`PairPlan`]).
pub fn lower_pair(
    sides: &Sides,
    p: PairedProbe,
    fields: &[(String, Value)],
    values: ProbeValues,
    cond: Option<Cond>,
    spans: &ProbeSpans,
) -> Result<(Lowered, PairPlan), Diagnostic> {
    let split = sides.split(cond, fields, spans.probe);
    // Stash only what the end reads: a start value only the start's filter
    // reads was given a place while resolving, and needs none.
    let mut reads = Reads::default();
    match &values {
        ProbeValues::Fields(f) => f.iter().for_each(|(_, v)| reads.value(v)),
        ProbeValues::Aggregate { keys, values } => {
            keys.iter().for_each(|k| reads.value(&k.value));
            values
                .iter()
                .filter_map(|a| a.arg.as_ref())
                .for_each(|v| reads.value(v));
        }
    }
    for c in [&split.stage1, &split.stage2].into_iter().flatten() {
        reads.cond(c, fields);
    }
    let mut kept: Vec<(&Capture, u32, u32)> = Vec::new();
    let mut value_size = 8;
    for (c, off) in &sides.stash {
        if reads.offs.contains(off) {
            kept.push((c, *off, value_size));
            value_size += c.slot_size.div_ceil(8) * 8;
        }
    }
    let new_off = |off: &mut u32| {
        if let Some((_, _, new)) = kept.iter().find(|(_, old, _)| old == off) {
            *off = *new;
        }
    };
    let moved = |c: &Capture| -> Capture {
        let mut c = c.clone();
        if c.base == Base::Record {
            if let Read::Int { off, .. } | Read::Str { off, .. } | Read::Bytes { off, .. } =
                &mut c.read
            {
                new_off(off);
            }
            if let Some(pid) = c.decode.pid_slot_mut() {
                new_off(pid);
            }
        }
        c
    };
    let rw = Rewrite {
        capture: &moved,
        inline: None,
    };
    let (stage1, stage2) = (
        split.stage1.map(|c| rw.cond(c)),
        split.stage2.map(|c| rw.cond(c)),
    );
    let (fields_end, keys_end, aggs_end): (Vec<_>, Vec<Key>, Vec<AggField>) = match &values {
        ProbeValues::Fields(f) => (
            f.iter().map(|(n, v)| (n.clone(), rw.value(v))).collect(),
            Vec::new(),
            Vec::new(),
        ),
        ProbeValues::Aggregate { keys, values } => (
            Vec::new(),
            keys.iter()
                .map(|k| Key {
                    value: rw.value(&k.value),
                    ..k.clone()
                })
                .collect(),
            values
                .iter()
                .map(|a| AggField {
                    arg: a.arg.as_ref().map(|v| rw.value(v)),
                    ..a.clone()
                })
                .collect(),
        ),
    };
    let values = match values {
        ProbeValues::Fields(_) => ProbeValues::Fields(&fields_end),
        ProbeValues::Aggregate { .. } => ProbeValues::Aggregate {
            keys: &keys_end,
            values: &aggs_end,
        },
    };
    if RECORD_HEADER + value_size + MAX_PAIR_KEY > MAX_RECORD {
        return Err(Diagnostic::error(
            spans.probe,
            format!(
                "the start values take {value_size} bytes, and a paired probe stashes at most {}",
                MAX_RECORD - RECORD_HEADER - MAX_PAIR_KEY
            ),
        )
        .label("too much to stash")
        .note("lower the lengths given to `str()` and `bytes()` read at the start, e.g. `str(filename, 256)`"));
    }
    // The start program: its fields are the stashed values, in stash order.
    let stashed: Vec<(String, Value)> = kept
        .iter()
        .enumerate()
        .map(|(i, (c, _, _))| (format!("start{i}"), Value::Capture((*c).clone())))
        .collect();
    let start_spans = ProbeSpans {
        probe: spans.probe,
        fields: &[],
        filter: spans.filter,
    };
    let start = lower(
        &p.start.attach,
        p.start.arg_count(),
        ProbeValues::Fields(&stashed),
        split.start.as_ref(),
        &start_spans,
        Some(&PairLower {
            role: PairRole::Start,
            value_size,
            key: &p.keys.start,
            stage1: None,
        }),
    )?;
    let end = lower(
        &p.end.attach,
        p.end.arg_count(),
        values,
        stage2.as_ref(),
        spans,
        Some(&PairLower {
            role: PairRole::End,
            value_size,
            key: &p.keys.end,
            stage1: stage1.as_ref(),
        }),
    )?;
    let plan = PairPlan {
        end: p.end_text.to_string(),
        start: p.start.attach.clone(),
        start_config: start.config,
        match_start: p.keys.start_names,
        match_end: p.keys.end_names,
        stash_entries: DEFAULT_STASH,
    };
    Ok((end, plan))
}
