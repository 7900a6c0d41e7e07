//! What a compiled spec needs of this machine, checked without loading
//! anything: the files and symbols of its uprobe targets ([`targets`]),
//! and whether this kernel has a way to probe its kernel functions.
//!
//! `tracectl check` reports both (the compiler knows kernel types, not the
//! machine); `tracectl run` checks the uprobe targets before loading and
//! lets the loader explain a kernel function it cannot attach.
//!
//! [`targets`]: crate::targets

use crate::load::{kprobes_available, tracepoint_alternative};
use crate::targets::{check, TargetProblem};
use tracectl_compiler::diag::{Diagnostic, Span};
use tracectl_compiler::plan::{Attach, KernelMode, Plan};

/// Where `needle` is written in `text` (the first time), for a diagnostic;
/// the start of the file when it is not there verbatim.
fn locate(text: &str, needle: &str) -> Span {
    let at = text.find(needle).unwrap_or(0);
    Span::new(at, (at + needle.len()).min(text.len()))
}

/// The uprobe targets of `plan` that do not exist here, or do not define
/// their symbol, located at their probe in `text` (the spec's source).
pub fn uprobe_targets(text: &str, plan: &Plan) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    for p in &plan.probes {
        let Attach::Uprobe { binary, symbol, .. } = &p.attach else {
            continue;
        };
        // The probe as written is in the source (YAML or DSL).
        let span = locate(text, &p.probe);
        let d = match check(binary, symbol) {
            Ok(_) => continue,
            Err(TargetProblem::NoFile(f)) => Diagnostic::error(span, format!("no file `{f}`"))
                .label("uprobe target not found")
                .note("give the path of an executable or library, or a library name such as `libc`"),
            Err(TargetProblem::LibraryNotFound(l)) => {
                Diagnostic::warning(span, format!("library `{l}` not found in the usual directories"))
                    .label("uprobe target")
                    .note("`tracectl check --load` asks the dynamic linker; install the library or give its path")
            }
            Err(TargetProblem::NotElf(f)) => {
                Diagnostic::error(span, format!("{} is not an ELF executable or library", f.display()))
                    .label("uprobe target")
            }
            Err(TargetProblem::NoSymbol { file, nearest }) => {
                let mut d = Diagnostic::error(
                    span,
                    format!("{} does not define `{symbol}`", file.display()),
                )
                .label("no such symbol");
                if let Some(n) = nearest {
                    d = d.note(format!("did you mean `{n}`?"));
                }
                d
            }
        };
        diags.push(d);
    }
    diags
}

/// Warnings for the kernel functions of `plan` this kernel has no
/// mechanism for, as far as can be told without loading: kprobes are
/// absent (`kprobe:` cannot attach; `kfunc:` depends on BPF trampolines,
/// which only loading tells). Each names the tracepoint that sees the same
/// event where one is known.
pub fn kernel_mechanisms(text: &str, plan: &Plan) -> Vec<Diagnostic> {
    kernel_mechanisms_with(text, plan, kprobes_available())
}

/// [`kernel_mechanisms`] for a kernel with or without kprobes.
pub fn kernel_mechanisms_with(text: &str, plan: &Plan, kprobes: bool) -> Vec<Diagnostic> {
    if kprobes {
        return Vec::new();
    }
    let mut diags = Vec::new();
    let mut seen: Vec<(&str, KernelMode)> = Vec::new();
    // A paired probe's start attaches too.
    let attaches = plan
        .probes
        .iter()
        .flat_map(|p| std::iter::once(&p.attach).chain(p.pair.as_ref().map(|x| &x.start)));
    for attach in attaches {
        let Attach::Kernel { function, mode, .. } = attach else {
            continue;
        };
        if seen.contains(&(function.as_str(), *mode)) {
            continue;
        }
        seen.push((function.as_str(), *mode));
        let span = locate(text, &format!(":{function}"));
        let span = Span::new(span.start as usize + 1, span.end as usize);
        let d = match mode {
            KernelMode::Kprobe => Diagnostic::warning(
                span,
                format!("this kernel has no kprobes (CONFIG_KPROBES is off): `run` cannot attach to `{function}`"),
            )
            .label("needs a kprobe")
            .note(format!("`kfunc:{function}` uses a BPF trampoline (fentry/fexit) where the kernel allows one")),
            KernelMode::Auto => Diagnostic::warning(
                span,
                format!("this kernel has no kprobes (CONFIG_KPROBES is off): `run` needs a BPF trampoline (fentry/fexit) for `{function}`"),
            )
            .label("kprobes unavailable here")
            .note("some kernels refuse trampolines (lockdown, LSMs, no ftrace direct calls); `tracectl check --load` loads the spec to find out"),
            // Trampolines only: nothing to say without loading.
            KernelMode::Fentry => continue,
        };
        diags.push(match tracepoint_alternative(function) {
            Some(alt) => {
                let recipe = alt
                    .recipe
                    .map(|r| format!(", as the bundled recipe `{r}` does"))
                    .unwrap_or_default();
                d.note(format!(
                    "the tracepoint `{}` sees the same event and needs neither{recipe}",
                    alt.tracepoint
                ))
            }
            None => d.note("a tracepoint that reports the same event needs neither (`tracectl list` shows the recipes)"),
        });
    }
    diags
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracectl_compiler::plan::{OutputPlan, ProbeConfig, ProbePlan, PLAN_FORMAT};

    fn plan(attaches: &[(&str, KernelMode)]) -> Plan {
        Plan {
            format: PLAN_FORMAT,
            name: "t".into(),
            description: None,
            enums: Default::default(),
            probes: attaches
                .iter()
                .map(|(f, mode)| ProbePlan {
                    name: f.to_string(),
                    probe: format!("k:{f}"),
                    attach: Attach::Kernel {
                        function: f.to_string(),
                        ret: false,
                        mode: *mode,
                    },
                    config: ProbeConfig::default(),
                    fields: vec![],
                    pair: None,
                })
                .collect(),
            output: OutputPlan {
                format: Default::default(),
                time: Default::default(),
                stats: Default::default(),
            },
        }
    }

    #[test]
    fn kernel_functions_without_kprobes_are_warned_about_at_their_name() {
        let text = "kfunc:tcp_connect { pid }\nkprobe:vfs_read { pid }\nfentry:vfs_write { pid }\n";
        let p = plan(&[
            ("tcp_connect", KernelMode::Auto),
            ("vfs_read", KernelMode::Kprobe),
            ("vfs_write", KernelMode::Fentry),
        ]);
        assert!(kernel_mechanisms_with(text, &p, true).is_empty());
        let d = kernel_mechanisms_with(text, &p, false);
        assert_eq!(d.len(), 2, "{d:#?}");
        assert_eq!(&text[d[0].span.range()], "tcp_connect");
        assert!(
            d[0].message.contains("needs a BPF trampoline"),
            "{}",
            d[0].message
        );
        assert!(
            d[0].notes
                .iter()
                .any(|n| n.contains("`sock:inet_sock_set_state`") && n.contains("`tcpconnect-tp`")),
            "{:?}",
            d[0].notes
        );
        assert_eq!(&text[d[1].span.range()], "vfs_read");
        assert!(d[1].message.contains("cannot attach"), "{}", d[1].message);
        assert!(d
            .iter()
            .all(|d| d.severity == tracectl_compiler::diag::Severity::Warning));
    }
}
