//! Pass 2, **resolve**, continued: stacks and sampling (spec-v2 section 4).
//!
//! * `kstack` and `ustack` (`kstack(N)`: the innermost N frames) are
//!   builtins whose value is a stack's id in the shared stack map
//!   ([`Builtin::Kstack`], [`Builtin::Ustack`]); the runtime prints the
//!   frames ([`Decode::Kstack`], [`Decode::Ustack`]). A stack is a field
//!   or a `by:` key, never a number: the filter and arithmetic refuse it
//!   (its [`ValueClass`](crate::resolve::ValueClass) is opaque).
//! * `ustack` needs a task: a probe whose events run in interrupt context
//!   (hardware interrupts, softirqs, timer expiry), where the "current"
//!   task is whichever one was interrupted, refuses it.
//! * `profile:hz:N` ([`Attach::Profile`]): CPU sampling, `1..=`
//!   [`MAX_PROFILE_HZ`] times a second on every online CPU.

use crate::diag::{Diagnostic, Span};
use crate::plan::{
    AggFunc, Attach, Base, Builtin, Decode, Mem, ProbePlan, Read, Transform, MAX_PROFILE_HZ,
    MAX_STACK_FRAMES,
};
use crate::resolve::{Capture, Resolver};
use crate::syntax::ast::{Expr, ExprKind};

/// The stack builtins (also callable with a frame count).
pub const STACK_BUILTINS: [&str; 2] = ["kstack", "ustack"];

fn err(span: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(span, msg)
}

/// `profile:RATE`: the attach point, or a located error. `rest` is what
/// follows `profile:`, at `span`.
pub fn profile_attach(rest: &str, span: Span) -> Result<Attach, Diagnostic> {
    let example = "e.g. `profile:hz:99` (99 samples a second on every CPU)";
    let Some((unit, n)) = rest.split_once(':') else {
        return Err(err(span, format!("`profile:{rest}` is not `profile:hz:N`"))
            .label("expected `hz:N`")
            .note(example));
    };
    let n_span = if (span.end - span.start) as usize == rest.len() {
        Span::new(span.start as usize + unit.len() + 1, span.end as usize)
    } else {
        span
    };
    let parsed: Option<u64> = n.trim().parse().ok();
    if unit != "hz" {
        let mut d = err(
            span,
            format!("`profile:{unit}:` is not a sampling rate tracectl knows"),
        )
        .label("tracectl samples at a rate: `hz:N`");
        let per_second = match unit {
            "s" => Some(1.0),
            "ms" => Some(1e3),
            "us" => Some(1e6),
            _ => None,
        };
        if let (Some(ps), Some(n)) = (per_second, parsed.filter(|&n| n > 0)) {
            let hz = (ps / n as f64).round().max(1.0) as u64;
            d = d.note(format!("every {n}{unit} is `profile:hz:{hz}`"));
        } else {
            d = d.note(example);
        }
        return Err(d);
    }
    match parsed {
        Some(hz) if (1..=MAX_PROFILE_HZ as u64).contains(&hz) => Ok(Attach::Profile { hz: hz as u32 }),
        Some(0) => Err(err(n_span, "`profile:hz:0` never samples")
            .label("a rate of zero")
            .note("bcc's profile samples at 49 Hz, bpftrace users write 99: `profile:hz:99`")),
        Some(_) => Err(err(n_span, format!("`{n}` samples a second is too fast"))
            .label(format!("at most {MAX_PROFILE_HZ}"))
            .note("the interrupts would cost more than they tell, and the kernel throttles sampling at `kernel.perf_event_max_sample_rate`; 99 or 999 Hz are the usual rates (odd, so they do not beat with the scheduler tick)")),
        None => Err(err(n_span, format!("`{n}` is not a number of samples a second"))
            .label("expected a positive integer")
            .note(example)),
    }
}

/// Is this a stack's decoder?
pub fn is_stack(d: Decode) -> bool {
    matches!(d, Decode::Kstack { .. } | Decode::Ustack { .. })
}

/// Why `probes` cannot print as folded stacks (`output: format: folded`,
/// `-o folded`): the probe's index and the reason; `None` when they can.
/// Every probe must aggregate, by at least one stack, and weigh each key
/// by one number (its first value: `count()`, `sum()`, ...).
pub fn folded_refusal(probes: &[ProbePlan]) -> Option<(usize, String)> {
    probes.iter().enumerate().find_map(|(i, p)| {
        let why = match &p.config.agg {
            None => format!(
                "probe `{}` sends records, and folded output prints aggregations keyed by a stack",
                p.name
            ),
            Some(a) if !a.keys.iter().any(|k| is_stack(k.decode)) => format!(
                "probe `{}` has no `kstack` or `ustack` key: folded output prints aggregations keyed by a stack",
                p.name
            ),
            Some(a) if matches!(
                a.values.first().map(|v| v.func),
                Some(AggFunc::Hist | AggFunc::Lhist { .. }) | None
            ) =>
            {
                format!(
                    "probe `{}` weighs its stacks with a histogram: a folded line weighs a stack by one number (its first value: `count()`, `sum(…)`)",
                    p.name
                )
            }
            Some(_) => return None,
        };
        Some((i, why))
    })
}

/// A stack builtin's capture: its id in the shared stack map.
fn stack_capture(user: bool, frames: u32) -> Capture {
    Capture {
        base: Base::Builtin {
            builtin: if user {
                Builtin::Ustack
            } else {
                Builtin::Kstack
            },
        },
        hops: Vec::new(),
        mem: Mem::Kernel,
        read: Read::Value,
        transform: Transform::None,
        slot_size: 8,
        decode: if user {
            // The pid's slot is placed when the record is laid out.
            Decode::Ustack { frames, pid: 0 }
        } else {
            Decode::Kstack { frames }
        },
    }
}

/// `ustack` (true) or `kstack` (false); `None` for another name.
fn stack_is_user(name: &str) -> Option<bool> {
    match name {
        "kstack" => Some(false),
        "ustack" => Some(true),
        _ => None,
    }
}

/// Tracepoint events that run in interrupt context (the task they see is
/// whichever one was interrupted): `(category, event prefix)`.
const INTERRUPT_EVENTS: [(&str, &str); 6] = [
    ("irq", ""),
    ("irq_vectors", ""),
    ("napi", ""),
    ("timer", "hrtimer_expire_"),
    ("timer", "timer_expire_"),
    ("irq_matrix", ""),
];

/// The event of `attach` when it runs in interrupt context.
fn interrupt_context(attach: &Attach) -> Option<String> {
    let (cat, name) = match attach {
        Attach::Tracepoint { category, name } => (category.as_str(), name.as_str()),
        Attach::TpBtf { name } => {
            // Raw tracepoints name the event only; the irq ones are these.
            let cat = if name.starts_with("irq_handler_") || name.starts_with("softirq_") {
                "irq"
            } else if name.starts_with("hrtimer_expire_") || name.starts_with("timer_expire_") {
                "timer"
            } else {
                return None;
            };
            (cat, name.as_str())
        }
        _ => return None,
    };
    INTERRUPT_EVENTS
        .iter()
        .any(|(c, prefix)| *c == cat && name.starts_with(prefix))
        .then(|| format!("{cat}:{name}"))
}

impl Resolver<'_> {
    /// `kstack` / `ustack` written as a name; `None` for another name.
    pub(crate) fn stack_builtin(
        &mut self,
        name: &str,
        span: Span,
    ) -> Option<Result<Capture, Diagnostic>> {
        let user = stack_is_user(name)?;
        Some(self.stack(user, 0, span))
    }

    /// `kstack(N)` / `ustack(N)`; `None` for another function.
    pub(crate) fn stack_call(
        &mut self,
        func: &str,
        args: &[Expr],
        span: Span,
    ) -> Option<Result<Capture, Diagnostic>> {
        let user = stack_is_user(func)?;
        let frames = match args {
            [] => Ok(0),
            [a] => frame_count(func, a),
            [_, extra, ..] => Err(err(
                extra.span,
                format!("`{func}()` takes at most one argument"),
            )
            .label("unexpected argument")
            .note(format!("`{func}(N)`: the innermost N frames"))),
        };
        Some(frames.and_then(|n| self.stack(user, n, span)))
    }

    fn stack(&mut self, user: bool, frames: u32, span: Span) -> Result<Capture, Diagnostic> {
        if user {
            if let Some(event) = interrupt_context(&self.ctx.attach) {
                return Err(err(span, "`ustack` where no user stack exists")
                    .label(format!("`{event}` runs in interrupt context"))
                    .note("there the current task is whichever one the interrupt stopped: its user stack says nothing about this event")
                    .note("`kstack` shows the interrupt's own path; `profile:hz:N` samples user stacks"));
            }
        }
        Ok(stack_capture(user, frames))
    }
}

/// The literal frame count of `kstack(N)`.
fn frame_count(func: &str, a: &Expr) -> Result<u32, Diagnostic> {
    let bad = || {
        err(a.span, format!("`{func}(N)` takes a number of frames"))
            .label(format!("expected an integer from 1 to {MAX_STACK_FRAMES}"))
    };
    match &a.kind {
        ExprKind::Int(n) if (1..=MAX_STACK_FRAMES as i128).contains(n) => {
            Ok(*n as u32)
        }
        ExprKind::Int(_) => Err(bad().note(format!(
            "the kernel keeps at most {MAX_STACK_FRAMES} frames of a stack (`kernel.perf_event_max_stack`); `{func}` alone keeps them all"
        ))),
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(rest: &str) -> Result<Attach, Diagnostic> {
        profile_attach(rest, Span::new(8, 8 + rest.len()))
    }

    #[test]
    fn profile_rates() {
        assert_eq!(at("hz:99").ok(), Some(Attach::Profile { hz: 99 }));
        assert_eq!(
            at(&format!("hz:{MAX_PROFILE_HZ}")).ok(),
            Some(Attach::Profile { hz: MAX_PROFILE_HZ })
        );
        for bad in ["hz:0", "hz:100000", "hz:x", "hz", "99", "ms:10"] {
            assert!(at(bad).is_err(), "{bad}");
        }
        // The number is what the error points at.
        let d = at("hz:100000").unwrap_err();
        assert_eq!((d.span.start, d.span.end), (11, 17));
        // A period in another unit suggests its rate.
        let d = at("ms:10").unwrap_err();
        assert!(
            d.notes.iter().any(|n| n.contains("`profile:hz:100`")),
            "{d:?}"
        );
    }

    #[test]
    fn interrupt_events() {
        let tp = |c: &str, n: &str| Attach::Tracepoint {
            category: c.into(),
            name: n.into(),
        };
        assert!(interrupt_context(&tp("irq", "softirq_entry")).is_some());
        assert!(interrupt_context(&tp("timer", "hrtimer_expire_entry")).is_some());
        assert!(interrupt_context(&tp("timer", "hrtimer_start")).is_none());
        assert!(interrupt_context(&tp("syscalls", "sys_enter_openat")).is_none());
        assert!(interrupt_context(&Attach::Profile { hz: 99 }).is_none());
    }
}
