//! Every spec in `specs/` (and the good corpus) goes YAML → DSL → YAML
//! through `tracectl fmt`'s printers ([`print::to_dsl`], [`print::to_yaml`]):
//! each printed form parses again, printing is a fixed point, and (against
//! the host kernel) every form compiles to the identical plan.
//!
//! The directory is read at test time, so recipes added to `specs/` are
//! covered without touching this file. `specs/index.yaml` is the recipe
//! catalogue, not a spec (see `runtime/build.rs`).

mod common;

use common::{manifest_dir, spec_files, with_host_env};
use tracectl_compiler::compile::{compile, Options};
use tracectl_compiler::diag::Spanned;
use tracectl_compiler::diag::{render, Span};
use tracectl_compiler::syntax::ast::{Expr, ExprKind, KeyDecl, MatchDecl, Spec};
use tracectl_compiler::syntax::{self, print};

/// The recipe catalogue in `specs/`, which is not a spec.
const CATALOGUE: &str = "index.yaml";

/// The specs to round-trip: `specs/` and the good corpus.
fn specs() -> Vec<(String, String)> {
    let specs = spec_files(&manifest_dir().join("../specs"), &[CATALOGUE]);
    assert!(
        specs.len() >= 4,
        "only {} specs in ../specs: is the directory there?",
        specs.len()
    );
    let good = spec_files(&manifest_dir().join("tests/corpus/good"), &[]);
    specs
        .into_iter()
        .map(|(n, t)| (format!("specs/{n}"), t))
        .chain(good.into_iter().map(|(n, t)| (format!("good/{n}"), t)))
        .collect()
}

fn parse(name: &str, text: &str) -> Result<Spec, String> {
    syntax::parse(name, text).map_err(|d| render(name, text, &d, false))
}

/// One spec's forms: as written, its DSL, and the YAML of that DSL.
struct Forms {
    original: Spec,
    dsl: String,
    from_dsl: Spec,
    yaml: String,
    from_yaml: Spec,
}

fn forms(name: &str, text: &str) -> Result<Forms, String> {
    let original = parse(name, text)?;
    let dsl = print::to_dsl(&original);
    let from_dsl = parse("printed.trace", &dsl)
        .map_err(|e| format!("its DSL form does not parse:\n{dsl}\n{e}"))?;
    let yaml = print::to_yaml(&from_dsl);
    let from_yaml = parse("printed.yaml", &yaml)
        .map_err(|e| format!("its YAML form (from the DSL) does not parse:\n{yaml}\n{e}"))?;
    Ok(Forms {
        original,
        dsl,
        from_dsl,
        yaml,
        from_yaml,
    })
}

#[test]
fn printed_forms_parse_and_printing_is_a_fixed_point() {
    let mut problems = Vec::new();
    for (name, text) in specs() {
        let f = match forms(&name, &text) {
            Ok(f) => f,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        // YAML → DSL → YAML gives back the canonical YAML of the original.
        let canonical = print::to_yaml(&f.original);
        if f.yaml != canonical {
            problems.push(format!(
                "{name}: YAML → DSL → YAML changed it:\n--- to_yaml(original)\n{canonical}\n+++ to_yaml(from DSL)\n{}",
                f.yaml
            ));
        }
        // Printing what was printed changes nothing, in either syntax.
        let yaml_again = print::to_yaml(&f.from_yaml);
        if yaml_again != f.yaml {
            problems.push(format!(
                "{name}: YAML printing is not a fixed point:\n--- first\n{}\n+++ second\n{yaml_again}",
                f.yaml
            ));
        }
        for (what, spec) in [("DSL", &f.from_dsl), ("YAML", &f.from_yaml)] {
            let dsl_again = print::to_dsl(spec);
            if dsl_again != f.dsl {
                problems.push(format!(
                    "{name}: DSL printed from its {what} form differs:\n--- first\n{}\n+++ again\n{dsl_again}",
                    f.dsl
                ));
            }
        }
        // The forms carry the same spec (spans aside).
        for (what, spec) in [("DSL", &f.from_dsl), ("YAML", &f.from_yaml)] {
            if spec.probes.len() != f.original.probes.len()
                || spec.params.len() != f.original.params.len()
                || spec.name.value != f.original.name.value
            {
                problems.push(format!(
                    "{name}: its {what} form lost probes, params or the name"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn every_form_compiles_to_the_same_plan() {
    with_host_env(|env| {
        let opts = Options::default();
        let mut problems = Vec::new();
        for (name, text) in specs() {
            let f = match forms(&name, &text) {
                Ok(f) => f,
                Err(e) => {
                    problems.push(format!("{name}: {e}"));
                    continue;
                }
            };
            let mut plans = Vec::new();
            for (what, spec, src) in [
                ("as written", f.original, text.as_str()),
                ("DSL", f.from_dsl, f.dsl.as_str()),
                ("YAML", f.from_yaml, f.yaml.as_str()),
            ] {
                match compile(spec, env, &opts) {
                    Ok(c) => plans.push((what, c.plan)),
                    Err(d) => problems.push(format!(
                        "{name} ({what}) does not compile:\n{}",
                        render(&name, src, &d, false)
                    )),
                }
            }
            if let [(_, first), rest @ ..] = plans.as_slice() {
                for (what, plan) in rest {
                    if plan != first {
                        problems.push(format!(
                            "{name}: the plan of its {what} form differs:\n{}\n---\n{}",
                            serde_json::to_string_pretty(first).unwrap_or_default(),
                            serde_json::to_string_pretty(plan).unwrap_or_default()
                        ));
                    }
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    });
}

/// `e` with every span zeroed.
fn strip_expr(e: &mut Expr) {
    e.span = Span::default();
    match &mut e.kind {
        ExprKind::Call { func, args } => {
            func.span = Span::default();
            args.iter_mut().for_each(strip_expr);
        }
        ExprKind::Member { base, member, .. } => {
            member.span = Span::default();
            strip_expr(base);
        }
        ExprKind::Index { base, index } => {
            index.span = Span::default();
            strip_expr(base);
        }
        ExprKind::Not(x) | ExprKind::Unary { expr: x, .. } => strip_expr(x),
        ExprKind::Binary { lhs, rhs, .. } => {
            strip_expr(lhs);
            strip_expr(rhs);
        }
        ExprKind::Int(_) | ExprKind::Str(_) | ExprKind::Ident(_) | ExprKind::Param(_) => {}
    }
}

/// `spec` with every span zeroed (and its front end forgotten), so two
/// `original` (parsed from `text`) formatted `to` a syntax, then parsed back
/// as `file`: the text and the spec, when it parses (else a problem) and is
/// the same spec (else a problem, and the text all the same).
fn formatted(
    name: &str,
    original: &Spec,
    text: &str,
    to: tracectl_compiler::syntax::Syntax,
    file: &str,
    problems: &mut Vec<String>,
) -> Option<(String, Spec)> {
    let out = print::format(original, text, to);
    let again = match parse(file, &out) {
        Ok(s) => s,
        Err(e) => {
            problems.push(format!("{name} as {to:?} does not parse:\n{out}\n{e}"));
            return None;
        }
    };
    if strip(again.clone()) != strip(original.clone()) {
        problems.push(format!("{name} as {to:?} is another spec:\n{out}"));
    }
    Some((out, again))
}

/// parses of one spec, in either syntax, compare equal.
fn strip(mut spec: Spec) -> Spec {
    let z = Span::default();
    spec.span = z;
    spec.syntax = tracectl_compiler::syntax::Syntax::Yaml;
    spec.name.span = z;
    for s in [&mut spec.description].into_iter().flatten() {
        s.span = z;
    }
    if let Some(v) = &mut spec.version {
        v.span = z;
    }
    for p in &mut spec.params {
        p.name.span = z;
        p.ty.span = z;
        for d in [&mut p.default].into_iter().flatten() {
            d.span = z;
        }
        for d in [&mut p.description].into_iter().flatten() {
            d.span = z;
        }
    }
    for p in &mut spec.probes {
        p.span = z;
        p.probe.span = z;
        for n in [&mut p.name, &mut p.end].into_iter().flatten() {
            n.span = z;
        }
        let names = |n: &mut Vec<Spanned<String>>| n.iter_mut().for_each(|n| n.span = z);
        match &mut p.match_ {
            Some(MatchDecl::Same(n, span)) => {
                names(n);
                *span = z;
            }
            Some(MatchDecl::Sides { start, end, span }) => {
                names(start);
                names(end);
                *span = z;
            }
            None => {}
        }
        for f in &mut p.fields {
            f.name.span = z;
            strip_expr(&mut f.expr);
        }
        for f in [&mut p.filter].into_iter().flatten() {
            strip_expr(f);
        }
        for KeyDecl { name, expr, .. } in &mut p.by {
            name.span = z;
            strip_expr(expr);
        }
    }
    let o = &mut spec.output;
    for s in [&mut o.format].into_iter().flatten() {
        s.span = z;
    }
    for s in [&mut o.time].into_iter().flatten() {
        s.span = z;
    }
    for s in [&mut o.interval].into_iter().flatten() {
        s.span = z;
    }
    for s in [&mut o.cumulative].into_iter().flatten() {
        s.span = z;
    }
    for s in [&mut o.sort].into_iter().flatten() {
        s.span = z;
    }
    for s in [&mut o.top, &mut o.max_keys].into_iter().flatten() {
        s.span = z;
    }
    spec
}

/// Specs written for the round trips of version 2 syntax: arithmetic at
/// every precedence level, unary operators, keys in both forms, and every
/// output setting. Parsing only: nothing here needs a kernel.
const V2_SPECS: [(&str, &str); 5] = [
    (
        "syscount.yaml",
        "version: 2
name: syscount
probes:
  - probe: tracepoint:raw_syscalls:sys_enter
    by: [comm]
    fields:
      calls: count()
output:
  interval: 1s
  sort: calls
  top: 10
",
    ),
    (
        "keys.yaml",
        "name: keys
probes:
  - probe: kfunc:tcp_sendmsg
    name: send
    by: { comm: comm, dport: ntohs(sk->__sk_common.skc_dport), bucket: size / 4096 % 16 }
    fields: { bytes: sum(size), h: hist(size), l: 'lhist(size, 0, 65536, 4096)', a: avg(size), lo: min(size), hi: max(size) }
    filter: size > 0
  - probe: tracepoint:syscalls:sys_enter_read
    by: fd
    fields:
      n: count()
output: { format: csv, time: none, interval: 250ms, cumulative: true, sort: bytes, top: 3, max_keys: 1048576 }
",
    ),
    (
        "interval.yaml",
        "name: interval
probes:
  - probe: tracepoint:raw_syscalls:sys_enter
    fields:
      n: count()
output:
  interval: 5
  cumulative: false
",
    ),
    (
        "precedence.trace",
        "version 2
spec precedence
probe tracepoint:syscalls:sys_enter_read {
    add = count + fd - 1 - 2,
    right = count - (fd - 1),
    mul = count + fd * 2,
    grouped = (count + fd) * 2,
    divmod = count / 3 % 2 * 5,
    divmod2 = count / (3 % 2),
    shift = count << 2 + 1,
    shift2 = (count << 2) + 1,
    shr = count >> 1 >> 2,
    shr2 = count >> (1 >> 2),
    bits = fd | count ^ fd & 7,
    bits2 = ((fd | count) ^ fd) & 7,
    neg = -count * ~fd,
    neg2 = -(count * fd),
    not2 = ~(count | fd),
    twice = - -count,
    lit = -5 + -(5) - ~5,
    call = ntohs(fd + 1) * 2
} where count & 1 == 0 || (count & 1) == 0 && !(count + 1 > fd << 2) && -fd < 0
",
    ),
    (
        "agg.trace",
        "probe kfunc:tcp_sendmsg as send { bytes = sum(size), calls = count() }
    by comm, dport = ntohs(sk->__sk_common.skc_dport), pid = pid where size > 0
tracepoint:syscalls:sys_exit_read { size = hist(ret) } by comm
output interval 2m, sort calls, top 1, max_keys 7
",
    ),
];

/// Paired probes (spec-v2 section 3): `end:` / `=>`, and `match:` in each
/// of its forms, with `by`, `where` and a label. Parsing only: the
/// semantic passes for pairing are not written yet.
const PAIR_SPECS: [(&str, &str); 4] = [
    (
        "opensnoop.yaml",
        "version: 2
name: opensnoop-ret
probes:
  - probe: tracepoint:syscalls:sys_enter_openat
    end: tracepoint:syscalls:sys_exit_openat
    fields:
      path: str(filename)
      fd: end.ret
      us: latency / 1000
    filter: end.ret < 0 || latency > 1000000
",
    ),
    (
        "forms.yaml",
        "name: forms
probes:
  - probe: tracepoint:block:block_rq_issue
    name: bio
    end: tracepoint:block:block_rq_complete
    match: [dev, sector]
    by: { comm: comm, rw: rwbs }
    fields: { usecs: hist(latency / 1000) }
  - probe: tracepoint:sched:sched_wakeup
    end: 'tracepoint:sched:sched_switch'
    match: { start: pid, end: next_pid }
    fields:
      n: count()
  - probe: tracepoint:sched:sched_wakeup
    end: tracepoint:sched:sched_switch
    match:
      start: [pid, target_cpu]
      end: [next_pid, cpu]
    fields:
      n: count()
    filter: latency > 1000
  - probe: kfunc:vfs_read
    end: kretfunc:vfs_read
    match: tid
    fields:
      ret: end.ret
  - probe: 'uprobe:/opt/a=>b/lib.so:f'
    end: 'uretprobe:/opt/a=>b/lib.so:f'
    match: ['null']
    fields:
      r: end.retval
",
    ),
    (
        "funclatency.trace",
        "version 2
probe kfunc:vfs_read=>kretfunc:vfs_read as lat { usecs = hist(latency / 1000) } match tid by comm
probe kfunc:vfs_read => kretfunc:vfs_read { pid, ret = end.ret } where end.ret < 0
probe tracepoint:sched:sched_wakeup => tracepoint:sched:sched_switch { n = count() }
    match pid, target_cpu => next_pid, cpu by prio where latency > 10000
\"uprobe:/bin/a b:f\" => \"uretprobe:/bin/a b:f\" { r = end.retval } match dev, sector
",
    ),
    (
        "unpaired.trace",
        "probe kfunc:match { match, x = end.ret, latency } where match > 0
match:x { pid }
",
    ),
];

/// Checks that each spec goes YAML → DSL → YAML and DSL → YAML → DSL to
/// the same tree (spans aside), and that its other syntax's form parses to
/// it too; returns the problems.
fn round_trip_problems(specs: &[(&str, &str)]) -> Vec<String> {
    let mut problems = Vec::new();
    for &(name, text) in specs {
        let original = match parse(name, text) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name} does not parse:\n{e}"));
                continue;
            }
        };
        // Both directions, whichever syntax the spec is written in.
        let via_dsl = print::to_dsl(&original);
        let via_yaml = print::to_yaml(&original);
        let round = [
            ("YAML → DSL → YAML", {
                let dsl = parse("a.trace", &via_dsl);
                dsl.map(|d| print::to_yaml(&d))
                    .and_then(|y| parse("b.yaml", &y).map(|s| (y, s)))
            }),
            ("DSL → YAML → DSL", {
                let yaml = parse("a.yaml", &via_yaml);
                yaml.map(|y| print::to_dsl(&y))
                    .and_then(|d| parse("b.trace", &d).map(|s| (d, s)))
            }),
        ];
        let want = strip(original.clone());
        for (what, r) in round {
            match r {
                Ok((_, spec)) if strip(spec.clone()) == want => {}
                Ok((printed, spec)) => problems.push(format!(
                    "{name}: {what} changed the spec:\n{printed}\n{:#?}\n---\n{want:#?}",
                    strip(spec)
                )),
                Err(e) => problems.push(format!("{name}: {what} does not parse:\n{e}")),
            }
        }
        // The other syntax's form, parsed, is the same spec too.
        for (form, printed) in [("a.trace", &via_dsl), ("a.yaml", &via_yaml)] {
            match parse(form, printed) {
                Ok(s) if strip(s.clone()) == want => {}
                Ok(_) => problems.push(format!("{name}: its {form} form differs:\n{printed}")),
                Err(e) => problems.push(format!(
                    "{name}: its {form} form does not parse:\n{printed}\n{e}"
                )),
            }
        }
    }
    problems
}

#[test]
fn version_2_syntax_round_trips() {
    let problems = round_trip_problems(&V2_SPECS);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A `match`'s start names, end names, and whether it has one list per
/// side.
type MatchNames<'a> = (Vec<&'a str>, Vec<&'a str>, bool);

/// The values of `names`.
fn names(n: &[Spanned<String>]) -> Vec<&str> {
    n.iter().map(|n| n.value.as_str()).collect()
}

#[test]
fn pairing_syntax_round_trips() {
    let problems = round_trip_problems(&PAIR_SPECS);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // What was written survives: every form of `match`, both probes.
    let spec = parse("forms.yaml", PAIR_SPECS[1].1).unwrap();
    let matches: Vec<Option<MatchNames>> = spec
        .probes
        .iter()
        .map(|p| {
            p.match_.as_ref().map(|m| {
                (
                    names(m.start()),
                    names(m.end()),
                    matches!(m, MatchDecl::Sides { .. }),
                )
            })
        })
        .collect();
    assert_eq!(
        matches,
        [
            Some((vec!["dev", "sector"], vec!["dev", "sector"], false)),
            Some((vec!["pid"], vec!["next_pid"], true)),
            Some((vec!["pid", "target_cpu"], vec!["next_pid", "cpu"], true)),
            Some((vec!["tid"], vec!["tid"], false)),
            Some((vec!["null"], vec!["null"], false)),
        ]
    );
    let ends: Vec<Option<&str>> = spec
        .probes
        .iter()
        .map(|p| p.end.as_ref().map(|e| e.value.as_str()))
        .collect();
    assert_eq!(
        ends,
        [
            Some("tracepoint:block:block_rq_complete"),
            Some("tracepoint:sched:sched_switch"),
            Some("tracepoint:sched:sched_switch"),
            Some("kretfunc:vfs_read"),
            Some("uretprobe:/opt/a=>b/lib.so:f"),
        ]
    );
    // `match`, `end` and `latency` stay plain names where they are not
    // clauses, and `match:x` is a probe.
    let spec = parse("unpaired.trace", PAIR_SPECS[3].1).unwrap();
    assert!(spec
        .probes
        .iter()
        .all(|p| p.end.is_none() && p.match_.is_none()));
    assert_eq!(spec.probes[1].probe.value, "match:x");
}

#[test]
fn pairing_printed_forms() {
    let spec = parse("forms.yaml", PAIR_SPECS[1].1).unwrap();
    let yaml = print::to_yaml(&spec);
    for part in [
        "  - probe: tracepoint:block:block_rq_issue\n    end: tracepoint:block:block_rq_complete\n    name: bio\n    match: [dev, sector]\n    by:\n",
        "    end: tracepoint:sched:sched_switch\n    match: { start: pid, end: next_pid }\n    fields:\n",
        "    match: { start: [pid, target_cpu], end: [next_pid, cpu] }\n",
        "    end: kretfunc:vfs_read\n    match: tid\n",
        // One name is a scalar, quoted where YAML would read it otherwise.
        "    match: 'null'\n",
    ] {
        assert!(yaml.contains(part), "no {part:?} in\n{yaml}");
    }
    let dsl = print::to_dsl(&spec);
    for line in [
        "probe tracepoint:block:block_rq_issue => tracepoint:block:block_rq_complete as bio {",
        "} match dev, sector by comm, rw = rwbs",
        "} match pid => next_pid",
        "} match pid, target_cpu => next_pid, cpu where latency > 1000",
        "probe kfunc:vfs_read => kretfunc:vfs_read {",
        "} match tid",
        // A probe with `=>` in it is quoted.
        "probe \"uprobe:/opt/a=>b/lib.so:f\" => \"uretprobe:/opt/a=>b/lib.so:f\" {",
        "} match null",
    ] {
        assert!(dsl.lines().any(|l| l == line), "no line {line:?} in\n{dsl}");
    }
}

/// The pending corpus (`tests/corpus/pending/`): specs that parse but do
/// not compile yet. Parsed and round-tripped only; never compiled.
#[test]
fn pending_corpus_parses_and_round_trips() {
    let dir = manifest_dir().join("tests/corpus/pending");
    if !dir.is_dir() {
        // Every pending spec has moved to `good/`.
        return;
    }
    let files = spec_files(&dir, &[]);
    let specs: Vec<(&str, &str)> = files
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let problems = round_trip_problems(&specs);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn version_2_printed_forms() {
    // Minimal parentheses, C precedence; keys as written (bare or named).
    let (_, text) = V2_SPECS[3];
    let dsl = print::to_dsl(&parse("p.trace", text).unwrap());
    for line in [
        "    add = count + fd - 1 - 2,",
        "    right = count - (fd - 1),",
        "    mul = count + fd * 2,",
        "    grouped = (count + fd) * 2,",
        "    divmod = count / 3 % 2 * 5,",
        "    divmod2 = count / (3 % 2),",
        "    shift = count << 2 + 1,",
        "    shift2 = (count << 2) + 1,",
        "    shr = count >> 1 >> 2,",
        "    shr2 = count >> (1 >> 2),",
        "    bits = fd | count ^ fd & 7,",
        "    bits2 = ((fd | count) ^ fd) & 7,",
        "    neg = -count * ~fd,",
        "    neg2 = -(count * fd),",
        "    not2 = ~(count | fd),",
        "    twice = --count,",
        "    lit = -5 + -5 - ~(5),",
        "    call = ntohs(fd + 1) * 2",
        "} where count & 1 == 0 || (count & 1) == 0 && !(count + 1 > fd << 2) && -fd < 0",
    ] {
        assert!(dsl.lines().any(|l| l == line), "no line {line:?} in\n{dsl}");
    }
    let (_, text) = V2_SPECS[4];
    let spec = parse("agg.trace", text).unwrap();
    let yaml = print::to_yaml(&spec);
    assert!(
        yaml.contains(
            "    by:\n      comm: comm\n      dport: ntohs(sk->__sk_common.skc_dport)\n      pid: pid\n"
        ),
        "{yaml}"
    );
    assert!(yaml.contains("    by: [comm]\n"), "{yaml}");
    assert!(
        yaml.ends_with("output:\n  interval: 2m\n  sort: calls\n  top: 1\n  max_keys: 7\n"),
        "{yaml}"
    );
    let dsl = print::to_dsl(&spec);
    assert!(
        dsl.contains("} by comm, dport = ntohs(sk->__sk_common.skc_dport), pid where size > 0\n"),
        "{dsl}"
    );
    assert!(
        dsl.ends_with("\noutput interval 2m, sort calls, top 1, max_keys 7\n"),
        "{dsl}"
    );
}

/// `tracectl fmt` with comments ([`print::format`]): over `specs/`, the
/// good corpus and `examples/`, each comment line of the source is in the
/// output, in the file's syntax and converted both ways; the output parses
/// to the same spec; formatting the output again changes nothing.
#[test]
fn formatting_keeps_comments_and_is_a_fixed_point() {
    use tracectl_compiler::syntax::comments::extract;
    use tracectl_compiler::syntax::Syntax;
    let examples = spec_files(&manifest_dir().join("../examples"), &["README.md"]);
    assert!(examples.len() >= 4, "only {} examples", examples.len());
    let mut problems = Vec::new();
    for (name, text) in specs().into_iter().chain(
        examples
            .into_iter()
            .map(|(n, t)| (format!("examples/{n}"), t)),
    ) {
        let original = match parse(&name, &text) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name}: {e}"));
                continue;
            }
        };
        let mut comments: Vec<String> = extract(original.syntax, &text)
            .into_iter()
            .map(|c| c.text)
            .collect();
        comments.sort();
        for to in [Syntax::Yaml, Syntax::Dsl] {
            let file = if to == Syntax::Yaml {
                "f.yaml"
            } else {
                "f.trace"
            };
            let Some((out, again)) = formatted(&name, &original, &text, to, file, &mut problems)
            else {
                continue;
            };
            let mut kept: Vec<String> = extract(to, &out).into_iter().map(|c| c.text).collect();
            kept.sort();
            if kept != comments {
                problems.push(format!(
                    "{name} as {to:?}: comments {comments:?}\nbecame {kept:?}:\n{out}"
                ));
            }
            let twice = print::format(&again, &out, to);
            if twice != out {
                problems.push(format!(
                    "{name} as {to:?}: formatting is not a fixed point:\n--- once\n{out}\n+++ twice\n{twice}"
                ));
            }
            // And back: the comments survive the round trip.
            let back_to = if to == Syntax::Yaml {
                Syntax::Dsl
            } else {
                Syntax::Yaml
            };
            let back = print::format(&again, &out, back_to);
            let mut back_kept: Vec<String> = extract(back_to, &back)
                .into_iter()
                .map(|c| c.text)
                .collect();
            back_kept.sort();
            if back_kept != comments {
                problems.push(format!(
                    "{name} as {to:?} then {back_to:?}: comments {comments:?}\nbecame {back_kept:?}:\n{back}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every spec of [`formatting_keeps_comments_and_is_a_fixed_point`]'s set
/// with a comment added before each line and at the end of each line: the
/// formatted text (in both syntaxes) parses to the same spec, holds every
/// comment's text, and formats to itself.
#[test]
fn comments_on_every_line_are_kept() {
    use tracectl_compiler::syntax::Syntax;
    let examples = spec_files(&manifest_dir().join("../examples"), &["README.md"]);
    let mut problems = Vec::new();
    for (name, text) in specs().into_iter().chain(
        examples
            .into_iter()
            .map(|(n, t)| (format!("examples/{n}"), t)),
    ) {
        let mut commented = String::new();
        let mut added = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let indent = &line[..line.len() - line.trim_start().len()];
            let own = format!("# own {i}");
            commented.push_str(&format!("{indent}{own}\n"));
            added.push(own);
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                commented.push_str(line);
            } else {
                let t = format!("# after {i}");
                commented.push_str(&format!("{line} {t}"));
                added.push(t);
            }
            commented.push('\n');
        }
        let original = match parse(&name, &commented) {
            Ok(s) => s,
            Err(e) => {
                problems.push(format!("{name} with comments does not parse:\n{e}"));
                continue;
            }
        };
        for (to, file) in [(Syntax::Yaml, "f.yaml"), (Syntax::Dsl, "f.trace")] {
            let Some((out, again)) =
                formatted(&name, &original, &commented, to, file, &mut problems)
            else {
                continue;
            };
            for c in &added {
                // Whole: `# own 1` is not `# own 12`.
                if !out.contains(&format!("{c}\n")) && !out.contains(&format!("{c} #")) {
                    problems.push(format!("{name} as {to:?} lost `{c}`:\n{out}"));
                }
            }
            let twice = print::format(&again, &out, to);
            if twice != out {
                problems.push(format!(
                    "{name} as {to:?}: not a fixed point:\n--- once\n{out}\n+++ twice\n{twice}"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
