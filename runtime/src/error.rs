//! Errors of the kernel side (loading, attaching, reading events).
//!
//! Every variant displays as a sentence a user can act on; an errno is only
//! ever shown as the tail of such a sentence.

use std::fmt;
use std::io;

/// Errors from loading, attaching and running a plan.
#[derive(Debug)]
pub enum RuntimeError {
    /// The process lacks the privileges to load eBPF programs.
    NotPrivileged,
    /// Kernel BTF is needed (tp_btf, fentry/fexit) but missing or unreadable.
    NoBtf {
        /// Why it could not be read.
        detail: String,
    },
    /// A filesystem (bpffs or tracefs) is not mounted and could not be mounted.
    Mount {
        /// `bpffs` or `tracefs`.
        fs: &'static str,
        /// Mount point.
        path: String,
        /// The mount error.
        error: io::Error,
    },
    /// The plan cannot be encoded into a template configuration.
    Plan {
        /// The probe's label.
        probe: String,
        /// What is wrong.
        message: String,
    },
    /// The plan was written by an incompatible compiler.
    PlanFormat {
        /// Format found in the plan.
        found: u32,
        /// Format this runtime reads.
        expected: u32,
    },
    /// The tracepoint does not exist on this kernel.
    TracepointMissing {
        /// The probe's label.
        probe: String,
        /// `category:name`.
        tracepoint: String,
    },
    /// The kernel function cannot be probed (no kprobes, no trampolines, or not traceable).
    KernelProbeUnavailable {
        /// The probe's label.
        probe: String,
        /// The kernel function.
        function: String,
        /// Why, as a sentence (may include a suggested tracepoint).
        reason: String,
    },
    /// The verifier rejected a template.
    Verifier {
        /// The probe's label.
        probe: String,
        /// Which template (`fentry`, `tracepoint`, ...).
        template: &'static str,
        /// errno of BPF_PROG_LOAD.
        error: io::Error,
        /// The lines of the log that explain the rejection.
        summary: Vec<String>,
        /// The whole verifier log, when the loader was asked for it.
        full_log: Option<String>,
    },
    /// Loading a template or creating its maps failed (not a verifier rejection).
    Load {
        /// The probe's label.
        probe: String,
        /// Which template.
        template: &'static str,
        /// The error, as a sentence.
        detail: String,
    },
    /// Attaching a loaded program failed.
    Attach {
        /// The probe's label.
        probe: String,
        /// The attach point as written.
        target: String,
        /// The error, as a sentence.
        detail: String,
    },
    /// A uprobe target or symbol could not be resolved.
    Uprobe {
        /// The probe's label.
        probe: String,
        /// Binary or library.
        binary: String,
        /// Symbol.
        symbol: String,
        /// The error, as a sentence.
        detail: String,
    },
    /// An I/O error while reading events or managing bpffs pins.
    Io {
        /// What was being done.
        context: String,
        /// The error.
        error: io::Error,
    },
}

impl RuntimeError {
    pub(crate) fn io(context: impl Into<String>, error: io::Error) -> RuntimeError {
        RuntimeError::Io {
            context: context.into(),
            error,
        }
    }
}

impl fmt::Display for RuntimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuntimeError::NotPrivileged => f.write_str(
                "loading eBPF programs needs root (or the CAP_BPF and CAP_PERFMON \
                     capabilities): run tracectl with sudo",
            ),
            RuntimeError::NoBtf { detail } => write!(
                f,
                "this kernel exposes no BTF (/sys/kernel/btf/vmlinux: {detail}); tp_btf and \
                 fentry/fexit probes need a kernel built with CONFIG_DEBUG_INFO_BTF=y"
            ),
            RuntimeError::Mount { fs, path, error } => write!(
                f,
                "{fs} is not mounted at {path} and mounting it failed: {error}"
            ),
            RuntimeError::Plan { probe, message } => {
                write!(f, "probe {probe}: the plan cannot be loaded: {message}")
            }
            RuntimeError::PlanFormat { found, expected } => write!(
                f,
                "the plan has format {found} but this tracectl reads format {expected}; \
                 recompile the spec with the same tracectl version"
            ),
            RuntimeError::TracepointMissing { probe, tracepoint } => write!(
                f,
                "probe {probe}: this kernel has no tracepoint {tracepoint} \
                 (see /sys/kernel/tracing/available_events)"
            ),
            RuntimeError::KernelProbeUnavailable {
                probe,
                function: _,
                reason,
            } => write!(f, "probe {probe}: {reason}"),
            RuntimeError::Verifier {
                probe,
                template,
                error,
                summary,
                full_log,
            } => {
                write!(
                    f,
                    "probe {probe}: the kernel verifier rejected the {template} template ({error})"
                )?;
                if let Some(log) = full_log {
                    write!(f, "; full verifier log:\n{}", log.trim_end())
                } else {
                    if !summary.is_empty() {
                        f.write_str(":")?;
                        for line in summary {
                            write!(f, "\n    {line}")?;
                        }
                    }
                    Ok(())
                }
            }
            RuntimeError::Load {
                probe,
                template,
                detail,
            } => write!(
                f,
                "probe {probe}: loading the {template} template failed: {detail}"
            ),
            RuntimeError::Attach {
                probe,
                target,
                detail,
            } => write!(f, "probe {probe}: attaching to {target} failed: {detail}"),
            RuntimeError::Uprobe {
                probe,
                binary,
                symbol,
                detail,
            } => write!(
                f,
                "probe {probe}: cannot place a uprobe on {symbol} in {binary}: {detail}"
            ),
            RuntimeError::Io { context, error } => write!(f, "{context}: {error}"),
        }
    }
}

impl std::error::Error for RuntimeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RuntimeError::Mount { error, .. }
            | RuntimeError::Verifier { error, .. }
            | RuntimeError::Io { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// The lines of a verifier log that explain a rejection: the error line(s)
/// just before the statistics ("processed N insns ..."), at most `max` lines.
pub fn verifier_summary(log: &str, max: usize) -> Vec<String> {
    let lines: Vec<&str> = log
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    // Statistics and other trailer lines the kernel appends after the error.
    let is_trailer = |l: &str| {
        l.starts_with("processed ")
            || l.starts_with("verification time")
            || l.starts_with("stack depth")
            || l.starts_with("max_states_per_insn")
            || l.starts_with("peak_states")
            || l.starts_with("mark_read")
    };
    let end = lines
        .iter()
        .rposition(|l| !is_trailer(l))
        .map(|i| i + 1)
        .unwrap_or(0);
    let body = &lines[..end];
    // Instruction traces look like "123: (bf) r1 = r6" or "; source line";
    // the explanation is what follows the last of them.
    let is_trace = |l: &str| {
        l.starts_with(';')
            || l.split_once(':')
                .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
    };
    let mut start = body.iter().rposition(|l| is_trace(l)).unwrap_or(0);
    // Keep the last traced instruction for context, when there is one.
    if start >= body.len() {
        start = body.len().saturating_sub(1);
    }
    let take = &body[start..];
    let from = take.len().saturating_sub(max);
    take[from..].iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::verifier_summary;

    #[test]
    fn summary_keeps_the_error_lines() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n; int x = 1;\n5: (79) r1 = *(u64 *)(r1 +8)\n\
                   invalid bpf_context access off=8 size=8\n\
                   processed 6 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n";
        let s = verifier_summary(log, 4);
        assert_eq!(
            s,
            vec![
                "5: (79) r1 = *(u64 *)(r1 +8)".to_string(),
                "invalid bpf_context access off=8 size=8".to_string()
            ]
        );
    }

    #[test]
    fn summary_of_empty_log() {
        assert!(verifier_summary("", 4).is_empty());
    }
}
