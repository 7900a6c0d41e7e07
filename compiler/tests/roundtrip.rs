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
use tracectl_compiler::diag::render;
use tracectl_compiler::syntax::{self, ast::Spec, print};

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
