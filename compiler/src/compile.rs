//! The pipeline: parse → resolve → check → lower → [`Plan`].

use crate::check::{bind_params, neutral_value, FilterChecker};
use crate::diag::Span;
use crate::diag::{has_errors, Diagnostic};
use crate::lower::{lower, ProbeSpans};
use crate::plan::{OutputPlan, Plan, ProbePlan, PLAN_FORMAT};
use crate::resolve::{probe_ctx, Env, Resolver};
use crate::syntax::{self, ast::Spec};
use std::collections::HashMap;

/// Compilation options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--param NAME=VALUE` pairs.
    pub params: Vec<(String, String)>,
    /// Fail on parameters with neither a value nor a default (`run`,
    /// `compile`); `check` leaves them neutral.
    pub require_params: bool,
}

/// A successful compilation.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The parsed spec.
    pub spec: Spec,
    /// The plan.
    pub plan: Plan,
    /// Warnings.
    pub warnings: Vec<Diagnostic>,
}

/// Parses and compiles a spec's text.
pub fn compile_source(
    file_name: &str,
    src: &str,
    env: &Env,
    opts: &Options,
) -> Result<Compiled, Vec<Diagnostic>> {
    let spec = syntax::parse(file_name, src)?;
    compile(spec, env, opts)
}

/// Compiles a parsed spec; on failure every error found (and warnings).
pub fn compile(spec: Spec, env: &Env, opts: &Options) -> Result<Compiled, Vec<Diagnostic>> {
    let mut diags: Vec<Diagnostic> = Vec::new();
    // A parameter whose value is wrong is reported once: its uses are
    // checked with a neutral value of its type, and constant folding with
    // that value warns about nothing.
    let (params, params_ok) = match bind_params(&spec, &opts.params, opts.require_params) {
        Ok(p) => (p, true),
        Err(d) => {
            diags.extend(d);
            let neutral = spec
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.value.clone(),
                        (p.ty.value, neutral_value(p.ty.value)),
                    )
                })
                .collect();
            (neutral, false)
        }
    };
    let param_names: Vec<&str> = spec.params.iter().map(|p| p.name.value.as_str()).collect();
    let mut probes = Vec::new();
    let mut labels: HashMap<String, Span> = HashMap::new();
    for decl in &spec.probes {
        let ctx = match probe_ctx(env, &decl.probe.value, decl.probe.span) {
            Ok(c) => c,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        let label = decl
            .name
            .as_ref()
            .map(|n| n.value.clone())
            .unwrap_or_else(|| ctx.default_name.clone());
        if decl.name.is_none() {
            if let Some(s) = labels.get(&label) {
                diags.push(
                    Diagnostic::error(
                        decl.probe.span,
                        format!("two probes would both be named `{label}`"),
                    )
                    .label("second probe")
                    .also(*s, "first probe")
                    .note("give one of them a `name:` so their records can be told apart"),
                );
            }
        }
        labels.entry(label.clone()).or_insert(decl.probe.span);
        let mut resolver = Resolver::new(env.btf, &ctx);
        let mut fields = Vec::new();
        let mut ok = true;
        for f in &decl.fields {
            match resolver.capture(&f.expr) {
                Ok(c) => fields.push((f.name.value.clone(), c)),
                Err(d) => {
                    diags.push(d);
                    ok = false;
                }
            }
        }
        let cond = match (&decl.filter, ok) {
            (Some(e), true) => {
                let mut fc = FilterChecker {
                    resolver: &mut resolver,
                    fields: &fields,
                    params: &params,
                    param_names: param_names.clone(),
                };
                match fc.cond(e) {
                    Ok(c) => {
                        if c == crate::check::Cond::Const(false) && params_ok {
                            diags.push(
                                Diagnostic::warning(e.span, "this filter is always false")
                                    .label("no event will ever be printed"),
                            );
                        }
                        Some(c)
                    }
                    Err(d) => {
                        diags.push(d);
                        ok = false;
                        None
                    }
                }
            }
            _ => None,
        };
        diags.extend(resolver.take_warnings());
        if !ok {
            continue;
        }
        let field_spans: Vec<Span> = decl
            .fields
            .iter()
            .map(|f| f.name.span.to(f.expr.span))
            .collect();
        let spans = ProbeSpans {
            probe: decl.probe.span,
            fields: &field_spans,
            filter: decl.filter.as_ref().map(|f| f.span),
        };
        match lower(&ctx.attach, ctx.arg_count(), &fields, cond.as_ref(), &spans) {
            Ok(l) => probes.push(ProbePlan {
                name: label,
                probe: decl.probe.value.clone(),
                attach: ctx.attach.clone(),
                config: l.config,
                fields: l.fields,
            }),
            Err(d) => diags.push(d),
        }
    }
    if has_errors(&diags) {
        return Err(diags);
    }
    let plan = Plan {
        format: PLAN_FORMAT,
        name: spec.name.value.clone(),
        description: spec.description.as_ref().map(|d| d.value.clone()),
        probes,
        output: OutputPlan {
            format: spec
                .output
                .format
                .as_ref()
                .map(|f| f.value)
                .unwrap_or_default(),
            time: spec
                .output
                .time
                .as_ref()
                .map(|t| t.value)
                .unwrap_or_default(),
        },
    };
    Ok(Compiled {
        spec,
        plan,
        warnings: diags,
    })
}
