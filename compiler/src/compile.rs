//! The pipeline: parse → resolve → check → lower → [`Plan`].

use crate::aggregate;
use crate::arith::{ArithChecker, Value};
use crate::check::{bind_params, neutral_value, FilterChecker};
use crate::diag::Span;
use crate::diag::{has_errors, in_file_order, Diagnostic};
use crate::lower::{lower, ProbeSpans, ProbeValues};
use crate::pair;
use crate::plan::{OutputPlan, Plan, ProbePlan, StatsOutput, PLAN_FORMAT};
use crate::resolve::{probe_ctx, Env, Resolver};
use crate::syntax::{self, ast::Spec, Dropped};
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

/// Parses and compiles a spec's text. On failure, every independent
/// problem found, in file order: syntax errors do not stop the later
/// passes, which check what parsed (see [`syntax::parse_partial`]).
pub fn compile_source(
    file_name: &str,
    src: &str,
    env: &Env,
    opts: &Options,
) -> Result<Compiled, Vec<Diagnostic>> {
    let parsed = syntax::parse_partial(file_name, src);
    let Some(spec) = parsed.spec else {
        return Err(parsed.diags);
    };
    let mut diags = parsed.diags;
    let result = compile_rest(spec, env, opts, &parsed.dropped);
    let failed = has_errors(&diags);
    match result {
        Ok(c) if !failed => {
            diags.extend(c.warnings);
            in_file_order(&mut diags);
            Ok(Compiled {
                warnings: diags,
                ..c
            })
        }
        Ok(c) => Err(finish(diags, c.warnings)),
        Err(d) => Err(finish(diags, d)),
    }
}

/// Parse errors and the later passes' diagnostics, in file order, each
/// once.
fn finish(mut diags: Vec<Diagnostic>, more: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diags.extend(more);
    let mut seen = std::collections::HashSet::new();
    diags.retain(|d| seen.insert((d.span, d.message.clone())));
    in_file_order(&mut diags);
    diags
}

/// Compiles a parsed spec; on failure every error found (and warnings).
pub fn compile(spec: Spec, env: &Env, opts: &Options) -> Result<Compiled, Vec<Diagnostic>> {
    compile_rest(spec, env, opts, &Dropped::default())
}

/// Compiles what parsed of a spec: `dropped` names the parts left out for
/// syntax errors (their targets are still resolved; uses of a dropped
/// parameter are not checked).
fn compile_rest(
    spec: Spec,
    env: &Env,
    opts: &Options,
    dropped: &Dropped,
) -> Result<Compiled, Vec<Diagnostic>> {
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
    // Probes left out for syntax errors: their targets are still checked.
    for target in &dropped.probes {
        if let Err(d) = probe_ctx(env, &target.value, target.span) {
            diags.push(d);
        }
    }
    // (index of the first diagnostic after a misspelt target, the target
    // it was checked as)
    let mut assumptions: Vec<(usize, String)> = Vec::new();
    let mut probe_starts = Vec::new();
    for decl in &spec.probes {
        probe_starts.push(diags.len());
        let (ctx, assumed) = match target_ctx(env, &decl.probe) {
            Ok(c) => c,
            Err(d) => {
                diags.push(d);
                continue;
            }
        };
        if let Some((d, fixed)) = assumed {
            diags.push(d);
            assumptions.push((diags.len(), fixed));
        }
        if dropped
            .params
            .iter()
            .any(|p| decl.exprs().any(|e| e.mentions(p, true)))
        {
            // Uses a parameter with an error: checked no further.
            continue;
        }
        // Fields left out for syntax errors (the probe is reported failed
        // already): what does not depend on them is checked.
        let left_out: Vec<&[String]> = dropped
            .fields
            .iter()
            .filter(|(start, _)| *start == decl.span.start)
            .map(|(_, names)| names.as_slice())
            .collect();
        let fields_left_out = !left_out.is_empty();
        if fields_left_out && !decl.by.is_empty() && !aggregate::is_aggregating(decl) {
            // The aggregate may be what was left out.
            continue;
        }
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
        // A paired probe's end (spec-v2 section 3).
        let end_ctx = match &decl.end {
            Some(end) => match probe_ctx(env, &end.value, end.span)
                .and_then(|ec| pair::check_kinds(&ctx, &ec, end.span).map(|()| ec))
            {
                Ok(ec) => Some(ec),
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            },
            // (`match:` without `end:` is a syntax error.)
            None => None,
        };
        let mut resolver = Resolver::new(env.btf, &ctx);
        if let Some(ec) = &end_ctx {
            resolver.pair = Some(Box::new(pair::Sides::new(Resolver::new(env.btf, ec))));
        }
        // A misspelt aggregate (`cuont()`) with `by` keys: an aggregating
        // probe with a typo, not a probe without aggregates.
        let aggregating = aggregate::is_aggregating(decl)
            || (!decl.by.is_empty()
                && decl
                    .fields
                    .iter()
                    .any(|f| aggregate::misspelt_aggregate(&f.expr).is_some()));
        // An event probe's fields, or an aggregating probe's keys: the
        // names its filter may use.
        let mut fields: Vec<(String, Value)> = Vec::new();
        let mut keys = Vec::new();
        let mut aggs = Vec::new();
        let mut ok = !fields_left_out;
        // Event fields that did not check: a filter that does not use
        // them is checked all the same.
        let mut failed: Vec<&str> = left_out
            .iter()
            .flat_map(|names| names.iter().map(String::as_str))
            .collect();
        {
            let mut ac = ArithChecker {
                resolver: &mut resolver,
                params: &params,
                names: &[],
            };
            if aggregating {
                match aggregate::keys(&mut ac, &decl.by) {
                    Ok(k) => keys = k,
                    Err(d) => {
                        diags.extend(d);
                        ok = false;
                    }
                }
                match aggregate::fields(&mut ac, decl) {
                    Ok(a) => aggs = a,
                    Err(d) => {
                        diags.extend(d);
                        ok = false;
                    }
                }
                fields = keys
                    .iter()
                    .map(|k| (k.name.clone(), k.value.clone()))
                    .collect();
            } else {
                if let Some(k) = decl.by.first() {
                    diags.push(
                        Diagnostic::error(
                            k.name.span.to(k.expr.span),
                            "`by:` groups aggregates, and this probe has none",
                        )
                        .label("a key")
                        .note("make the fields aggregates, e.g. `fields: { calls: count() }`, or remove `by:`"),
                    );
                    ok = false;
                }
                for f in &decl.fields {
                    match ac.value(&f.expr) {
                        Ok(v) => fields.push((f.name.value.clone(), v)),
                        Err(d) => {
                            diags.push(d);
                            ok = false;
                            failed.push(f.name.value.as_str());
                        }
                    }
                }
            }
        }
        let filter_checkable = ok
            || (!aggregating
                && decl.by.is_empty()
                && decl
                    .filter
                    .as_ref()
                    .is_some_and(|e| !failed.iter().any(|n| e.mentions(n, false))));
        let cond = match (&decl.filter, filter_checkable) {
            (Some(e), true) => {
                let mut fc = FilterChecker {
                    resolver: &mut resolver,
                    fields: &fields,
                    params: &params,
                    param_names: param_names.clone(),
                    aggregates: aggs.iter().map(|a| a.name.as_str()).collect(),
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
        let match_keys = match (&end_ctx, ok) {
            (Some(_), true) => match pair::match_keys(&mut resolver, decl) {
                Ok(k) => Some(k),
                Err(d) => {
                    diags.extend(d);
                    ok = false;
                    None
                }
            },
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
        // fexit alone sees both ends of `fentry:F => fexit:F`: one program
        // at the end, no stash (`tracectl compile` shows an fexit probe).
        let mut cond = cond;
        let mut unpaired_at = &ctx;
        if let (Some(sides), Some(ec), Some(k)) = (resolver.pair.as_deref(), &end_ctx, &match_keys)
        {
            let reads: Vec<&Value> = fields
                .iter()
                .map(|(_, v)| v)
                .chain(aggs.iter().filter_map(|a| a.arg.as_ref()))
                .collect();
            if sides.fexit_alone(&ctx, ec, k, &reads, cond.as_ref(), &fields) {
                cond = cond.map(|c| sides.unstashed_cond(c, &fields, decl.probe.span));
                for (_, v) in fields.iter_mut() {
                    *v = sides.unstashed(v);
                }
                for k in keys.iter_mut() {
                    k.value = sides.unstashed(&k.value);
                }
                for a in aggs.iter_mut() {
                    a.arg = a.arg.as_ref().map(|v| sides.unstashed(v));
                }
                resolver.pair = None;
                unpaired_at = ec;
            }
        }
        let values = if aggregating {
            ProbeValues::Aggregate {
                keys: &keys,
                values: &aggs,
            }
        } else {
            ProbeValues::Fields(&fields)
        };
        let lowered = match (resolver.pair.take(), &end_ctx, match_keys, &decl.end) {
            (Some(sides), Some(ec), Some(keys), Some(end)) => pair::lower_pair(
                &sides,
                pair::PairedProbe {
                    start: &ctx,
                    end: ec,
                    end_text: &end.value,
                    keys,
                },
                &fields,
                values,
                cond,
                &spans,
            )
            .map(|(l, p)| (l, ec.attach.clone(), Some(p))),
            _ => lower(
                &unpaired_at.attach,
                unpaired_at.arg_count(),
                values,
                cond.as_ref(),
                &spans,
                None,
            )
            .map(|l| (l, unpaired_at.attach.clone(), None)),
        };
        match lowered {
            Ok((l, attach, pair)) => probes.push(ProbePlan {
                name: label,
                probe: decl.probe.value.clone(),
                attach,
                config: l.config,
                fields: l.fields,
                pair,
            }),
            Err(d) => diags.push(d),
        }
    }
    probe_starts.push(diags.len());
    // What was checked against a corrected target says so.
    for (from, fixed) in assumptions {
        let to = probe_starts
            .iter()
            .copied()
            .find(|&s| s >= from)
            .unwrap_or(diags.len());
        for d in &mut diags[from..to] {
            d.notes.push(format!(
                "checked as if the probe were `{fixed}`, the suggestion above"
            ));
        }
    }
    let stats = stats_output(&spec, &probes, &mut diags);
    if let Some(f) = spec.output.format.as_ref() {
        if f.value == crate::plan::Format::Folded && probes.len() == spec.probes.len() {
            if let Some((i, why)) = crate::stacks::folded_refusal(&probes) {
                diags.push(
                    Diagnostic::error(f.span, why)
                        .label("folded stacks need stack keys")
                        .also(spec.probes[i].probe.span, "this probe")
                        .note("e.g. `by: [comm, ustack]` with `samples: count()`; `table`, `json` and `csv` print anything"),
                );
            }
        }
    }
    for d in &mut diags {
        syntax::in_words_of(spec.syntax, d);
    }
    if has_errors(&diags) {
        return Err(diags);
    }
    let enums = crate::plan::enums_used(&probes, |id| {
        let name = match env.btf.ty(id) {
            crate::btf::Type::Enum { name, .. } => name.to_string(),
            _ => String::new(),
        };
        let values = env
            .btf
            .enum_values(id)
            .into_iter()
            .map(|v| (v.value, v.name.to_string()))
            .collect();
        (name, values)
    });
    let plan = Plan {
        format: PLAN_FORMAT,
        name: spec.name.value.clone(),
        description: spec.description.as_ref().map(|d| d.value.clone()),
        enums,
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
            stats,
        },
    };
    Ok(Compiled {
        spec,
        plan,
        warnings: diags,
    })
}

/// Resolves a probe's target. A misspelt one with a single close match
/// ("did you mean") is reported, and the probe is checked against the
/// match, so that errors after the typo are found in the same run:
/// `Ok((ctx, Some((the typo's error, the corrected target))))`.
#[allow(clippy::type_complexity)]
fn target_ctx(
    env: &Env,
    probe: &crate::diag::Spanned<String>,
) -> Result<(crate::resolve::ProbeCtx, Option<(Diagnostic, String)>), Diagnostic> {
    let d = match probe_ctx(env, &probe.value, probe.span) {
        Ok(ctx) => return Ok((ctx, None)),
        Err(d) => d,
    };
    let base = probe.span.start as usize;
    let fixed = d.fix().and_then(|fix| {
        let (s, e) = (d.span.start as usize, d.span.end as usize);
        let (s, e) = (s.checked_sub(base)?, e.checked_sub(base)?);
        let text = &probe.value;
        // Only when the span is the text itself (not a quoted probe).
        let verbatim = (probe.span.end - probe.span.start) as usize == text.len();
        if !verbatim || e > text.len() || !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            return None;
        }
        Some(format!("{}{fix}{}", &text[..s], &text[e..]))
    });
    match fixed.and_then(|f| probe_ctx(env, &f, probe.span).ok().map(|c| (c, f))) {
        Some((ctx, f)) => Ok((ctx, Some((d, f)))),
        None => Err(d),
    }
}

/// The `output:` settings of aggregating probes, checked against the probes.
fn stats_output(spec: &Spec, probes: &[ProbePlan], diags: &mut Vec<Diagnostic>) -> StatsOutput {
    let o = &spec.output;
    let any_agg = probes.iter().any(|p| p.config.agg.is_some());
    let set: [(&str, Option<Span>); 5] = [
        ("interval", o.interval.as_ref().map(|v| v.span)),
        ("cumulative", o.cumulative.as_ref().map(|v| v.span)),
        ("sort", o.sort.as_ref().map(|v| v.span)),
        ("top", o.top.as_ref().map(|v| v.span)),
        ("max_keys", o.max_keys.as_ref().map(|v| v.span)),
    ];
    // Only when every probe compiled: a failed aggregating probe is not a
    // reason to say the spec has none.
    if !any_agg && probes.len() == spec.probes.len() {
        for (key, span) in set {
            if let Some(span) = span {
                diags.push(
                    Diagnostic::error(
                        span,
                        format!(
                            "`output: {key}` applies to aggregating probes, and this spec has none"
                        ),
                    )
                    .label("no probe aggregates")
                    .note("aggregate in a probe's fields, e.g. `calls: count()` with `by: [comm]`"),
                );
            }
        }
    }
    if let (Some(sort), true) = (&o.sort, any_agg) {
        let names: Vec<&str> = probes
            .iter()
            .filter_map(|p| p.config.agg.as_ref())
            .flat_map(|a| {
                a.values
                    .iter()
                    .map(|v| v.name.as_str())
                    .chain(a.keys.iter().map(|k| k.name.as_str()))
            })
            .collect();
        if !names.contains(&sort.value.as_str()) {
            diags.push(
                Diagnostic::error(
                    sort.span,
                    format!("no aggregate or key named `{}` to sort by", sort.value),
                )
                .label("unknown column")
                .suggest(&sort.value, names.iter().copied(), "columns"),
            );
        }
    }
    StatsOutput {
        interval_ns: o.interval.as_ref().map(|d| d.value.ns),
        cumulative: o.cumulative.as_ref().is_some_and(|c| c.value),
        sort: o.sort.as_ref().map(|s| s.value.clone()),
        top: o.top.as_ref().map(|t| t.value.min(u32::MAX as u64) as u32),
        max_keys: o
            .max_keys
            .as_ref()
            .map(|t| t.value.min(u32::MAX as u64) as u32),
    }
}
