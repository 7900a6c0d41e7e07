//! The malformed-spec corpus (`tests/corpus/bad/`), rendered-diagnostic
//! snapshots (`tests/snapshots/`), and the good corpus (`tests/corpus/good/`,
//! and the worked examples of `examples/`).
//!
//! Every bad file starts with `# expect: TEXT` (and optionally
//! `# at: TEXT`): compiling it must fail with an error whose message contains
//! TEXT, whose primary span is non-empty and inside the file (and covers
//! exactly the `at` text when given). See `tests/corpus/bad/README.md`.
//!
//! These tests compile against the host kernel's BTF and tracefs. Without
//! them the tests are skipped, unless `CI=true`, where that is a failure.
//!
//! `UPDATE_SNAPSHOTS=1 cargo test -p tracectl-compiler --test diagnostics`
//! rewrites the snapshots; `DUMP_DIAGS=1` prints every rendered diagnostic.

mod common;

use common::{manifest_dir, spec_files, with_host_env as with_env};
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::diag::{render, Diagnostic, Severity};
use tracectl_compiler::syntax::{self, print};

/// The spec files of `tests/corpus/KIND`: (file name, text), sorted.
fn corpus(kind: &str) -> Vec<(String, String)> {
    spec_files(&manifest_dir().join("tests/corpus").join(kind), &[])
}

fn opts() -> Options {
    Options {
        params: vec![],
        require_params: false,
    }
}

/// What a bad corpus file says about its error.
#[derive(Default)]
struct Expect<'a> {
    /// `# expect: TEXT`: the error's message contains TEXT.
    message: Option<&'a str>,
    /// `# at: TEXT`: its primary span covers exactly TEXT.
    at: Option<&'a str>,
    /// `# help: TEXT` (any number): one of its help notes contains TEXT.
    help: Vec<&'a str>,
}

/// The `# expect:`, `# at:` and `# help:` lines at the head of a corpus file.
fn expectations(text: &str) -> Expect<'_> {
    let mut e = Expect::default();
    for line in text.lines().take_while(|l| l.starts_with('#')) {
        if let Some(m) = line.strip_prefix("# expect: ") {
            e.message = Some(m);
        } else if let Some(a) = line.strip_prefix("# at: ") {
            e.at = Some(a);
        } else if let Some(h) = line.strip_prefix("# help: ") {
            e.help.push(h);
        }
    }
    e
}

/// Diagnostics whose span may be empty: they are about the whole file.
const WHOLE_FILE: [&str; 1] = ["the spec has no probe"];

/// Checks one failing compilation against its expectations; returns the
/// problems found.
fn check_bad(name: &str, text: &str, diags: &[Diagnostic]) -> Vec<String> {
    let mut problems = Vec::new();
    let Expect {
        message: expect,
        at,
        help,
    } = expectations(text);
    let Some(expect) = expect else {
        return vec![format!("{name}: no `# expect:` line")];
    };
    for d in diags {
        let (s, e) = (d.span.start as usize, d.span.end as usize);
        if s > e || e > text.len() {
            problems.push(format!(
                "{name}: span {s}..{e} outside the file ({} bytes): {}",
                text.len(),
                d.message
            ));
        } else if !text.is_char_boundary(s) || !text.is_char_boundary(e) {
            problems.push(format!("{name}: span {s}..{e} not on char boundaries"));
        }
        for (sp, _) in &d.secondary {
            if sp.end as usize > text.len() {
                problems.push(format!(
                    "{name}: secondary span outside the file: {}",
                    d.message
                ));
            }
        }
    }
    let errors: Vec<&Diagnostic> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    let Some(d) = errors.iter().find(|d| d.message.contains(expect)) else {
        let got: Vec<&str> = errors.iter().map(|d| d.message.as_str()).collect();
        problems.push(format!("{name}: no error contains {expect:?}; got {got:?}"));
        return problems;
    };
    let whole_file = WHOLE_FILE.iter().any(|w| d.message.contains(w));
    if d.span.start >= d.span.end && !whole_file {
        problems.push(format!("{name}: empty span for {:?}", d.message));
    }
    if let Some(at) = at {
        let got = text.get(d.span.range()).unwrap_or("<out of range>");
        if got != at {
            problems.push(format!(
                "{name}: span covers {got:?}, expected {at:?} ({})",
                d.message
            ));
        }
    }
    for h in help {
        if !d.notes.iter().any(|n| n.contains(h)) {
            problems.push(format!(
                "{name}: no help note contains {h:?}; got {:?} ({})",
                d.notes, d.message
            ));
        }
    }
    problems
}

#[test]
fn bad_corpus_is_large_and_mixed() {
    let bad = corpus("bad");
    let yaml = bad.iter().filter(|(n, _)| n.ends_with(".yaml")).count();
    let dsl = bad.iter().filter(|(n, _)| n.ends_with(".trace")).count();
    assert!(bad.len() >= 120, "only {} bad specs", bad.len());
    assert!(yaml >= 40 && dsl >= 40, "{yaml} YAML, {dsl} DSL");
    for (name, text) in &bad {
        assert!(
            expectations(text).message.is_some(),
            "{name}: no `# expect:` line"
        );
    }
}

#[test]
fn bad_corpus_fails_with_located_errors() {
    let Some(problems) = with_env(|env| {
        let dump = std::env::var_os("DUMP_DIAGS").is_some();
        let mut problems = Vec::new();
        for (name, text) in corpus("bad") {
            match compile_source(&name, &text, env, &opts()) {
                Ok(_) => problems.push(format!("{name}: compiled, but should fail")),
                Err(diags) => {
                    if dump {
                        eprintln!("==== {name}\n{}", render(&name, &text, &diags, false));
                    }
                    problems.extend(check_bad(&name, &text, &diags));
                }
            }
        }
        problems
    }) else {
        return;
    };
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn empty_inputs_are_whole_file_errors() {
    with_env(|env| {
        for name in ["empty.yaml", "empty.trace", "empty"] {
            for text in ["", "\n", "   \n\n", "# nothing here\n"] {
                let diags = compile_source(name, text, env, &opts())
                    .err()
                    .unwrap_or_else(|| panic!("{name} {text:?} compiled"));
                assert!(!diags.is_empty());
                for d in &diags {
                    assert!(d.span.end as usize <= text.len(), "{name} {text:?}: {d:?}");
                }
                let out = render(name, text, &diags, false);
                assert!(out.contains("error"), "{out}");
            }
        }
    });
}

/// Representative bad specs whose full rendered text is pinned.
const SNAPSHOTS: [&str; 42] = [
    "yaml_tab_indent.yaml",
    "yaml_unclosed_flow_map.yaml",
    "yaml_multiple_documents.yaml",
    "yaml_alias.yaml",
    "yaml_filter_starts_with_bang.yaml",
    "kind_fields_list.yaml",
    "kind_probes_mapping.yaml",
    "missing_name.yaml",
    "key_descripton.yaml",
    "key_param_defualt.yaml",
    "name_field_dash.yaml",
    "dup_field_dsl.trace",
    "reserved_time.yaml",
    "probe_kind_kfunct.yaml",
    "target_kfunc_tcp_conect.yaml",
    "target_tracepoint_exceve.yaml",
    "arg_filname.yaml",
    "member_skc_dadr.yaml",
    "member_dot_on_pointer.yaml",
    "func_str_on_sock.yaml",
    "func_ip4_on_u16.yaml",
    "retval_kfunc_entry.yaml",
    "kretprobe_reads_argument.yaml",
    "filter_comm_eq_int.yaml",
    "filter_string_too_long.yaml",
    "param_default_out_of_range.yaml",
    "limit_too_many_fields.yaml",
    "dsl_unnamed_call.trace",
    "dsl_missing_close_brace.trace",
    "dsl_keyword_typo.trace",
    "dsl_where_before_body.trace",
    "filter_field_typo.yaml",
    "limit_record_too_large.yaml",
    "limit_too_many_values_filter.yaml",
    "limit_path_too_deep.trace",
    "target_tracepoint_extra_part.trace",
    "by_list_expression.yaml",
    "dup_key_yaml.yaml",
    "output_interval_zero.yaml",
    "version_1_by.yaml",
    "dsl_by_after_where.trace",
    "dsl_by_without_keys.trace",
];

/// Compares `got` with the snapshot `tests/snapshots/FILE` (or, with
/// `UPDATE_SNAPSHOTS=1`, writes it); the difference, if any.
fn snapshot(file: &str, got: &str) -> Option<String> {
    let dir = manifest_dir().join("tests/snapshots");
    let path = dir.join(file);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(&path, got).unwrap();
        return None;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    (want != got).then(|| {
        format!(
            "--- {} (committed)\n{want}\n+++ (now)\n{got}",
            path.display()
        )
    })
}

/// Fails with every snapshot difference.
fn assert_snapshots(mismatches: &[String]) {
    assert!(
        mismatches.is_empty(),
        "{} snapshot(s) differ (rerun with UPDATE_SNAPSHOTS=1 if the change is intended):\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A bad corpus file's diagnostics, rendered as `bad/NAME`.
fn rendered_bad(env: &tracectl_compiler::resolve::Env, name: &str, text: &str) -> String {
    let shown = format!("bad/{name}");
    let diags = compile_source(&shown, text, env, &opts())
        .err()
        .unwrap_or_else(|| panic!("{name} compiled"));
    render(&shown, text, &diags, false)
}

#[test]
fn snapshots_of_rendered_diagnostics() {
    with_env(|env| {
        let bad = corpus("bad");
        let mut mismatches = Vec::new();
        for name in SNAPSHOTS {
            let (_, text) = bad
                .iter()
                .find(|(n, _)| n == name)
                .unwrap_or_else(|| panic!("snapshot source {name} not in the bad corpus"));
            let got = rendered_bad(env, name, text);
            mismatches.extend(snapshot(&format!("{name}.txt"), &got));
        }
        assert_snapshots(&mismatches);
    });
}

#[test]
fn good_corpus_compiles_and_both_forms_agree() {
    with_env(|env| {
        let mut good = corpus("good");
        assert!(good.len() >= 15, "only {} good specs", good.len());
        // The worked examples are good specs too (examples/README.md).
        let examples = spec_files(&manifest_dir().join("../examples"), &[]);
        assert!(examples.len() >= 4, "only {} examples", examples.len());
        good.extend(examples);
        let mut problems = Vec::new();
        for (name, text) in &good {
            let compiled = match compile_source(name, text, env, &opts()) {
                Ok(c) => c,
                Err(d) => {
                    problems.push(format!("{name} fails:\n{}", render(name, text, &d, false)));
                    continue;
                }
            };
            for w in &compiled.warnings {
                problems.push(format!("{name}: warning: {}", w.message));
            }
            // The other form of the same spec gives the same plan.
            let (other_name, other) = if name.ends_with(".yaml") {
                ("converted.trace", print::to_dsl(&compiled.spec))
            } else {
                ("converted.yaml", print::to_yaml(&compiled.spec))
            };
            match compile_source(other_name, &other, env, &opts()) {
                Ok(c2) if c2.plan == compiled.plan => {}
                Ok(_) => problems.push(format!(
                    "{name}: plan of its {other_name} form differs:\n{other}"
                )),
                Err(d) => problems.push(format!(
                    "{name}: its {other_name} form fails:\n{other}\n{}",
                    render(other_name, &other, &d, false)
                )),
            }
            assert!(syntax::parse(name, text).is_ok());
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    });
}

/// `tests/corpus/many/`: specs with several independent mistakes. One run
/// reports exactly the errors the file's `# expect:` lines name, in file
/// order (none that follows from another, none missing), and the rendered
/// text with its closing count is pinned in `tests/snapshots/many_*.txt`.
#[test]
fn several_mistakes_in_one_run() {
    with_env(|env| {
        let files = corpus("many");
        assert!(
            files.len() >= 2,
            "only {} files in corpus/many",
            files.len()
        );
        let mut problems = Vec::new();
        for (name, text) in &files {
            let want: Vec<&str> = text
                .lines()
                .take_while(|l| l.starts_with('#'))
                .filter_map(|l| l.strip_prefix("# expect: "))
                .collect();
            let shown = format!("many/{name}");
            let diags = match compile_source(&shown, text, env, &opts()) {
                Ok(_) => {
                    problems.push(format!("{name}: compiled"));
                    continue;
                }
                Err(d) => d,
            };
            let errors: Vec<&str> = diags
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| d.message.as_str())
                .collect();
            let matches = errors.len() == want.len()
                && errors.iter().zip(&want).all(|(got, w)| got.contains(w));
            if !matches {
                problems.push(format!(
                    "{name}: expected, in order, {want:#?}\ngot {errors:#?}"
                ));
            }
            let starts: Vec<u32> = diags.iter().map(|d| d.span.start).collect();
            if !starts.is_sorted() {
                problems.push(format!("{name}: not in file order: {starts:?}"));
            }
            let summary = tracectl_compiler::diag::summary(&shown, &diags).unwrap();
            let got = format!("{}{summary}\n", render(&shown, text, &diags, false));
            let stem = name.replace('.', "_");
            problems.extend(snapshot(&format!("many_{stem}.txt"), &got));
        }
        assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    });
}

/// Every `bt_` file (bpftrace habits, issue 17) rendered, against
/// `tests/snapshots/bt_NAME.EXT.txt`, as the snapshots above
/// (`UPDATE_SNAPSHOTS=1` rewrites them).
#[test]
fn bpftrace_corpus_snapshots() {
    let bt: Vec<(String, String)> = corpus("bad")
        .into_iter()
        .filter(|(n, _)| n.starts_with("bt_"))
        .collect();
    assert!(bt.len() >= 40, "only {} bt_ files", bt.len());
    with_env(|env| {
        let mismatches: Vec<String> = bt
            .iter()
            .filter_map(|(name, text)| {
                snapshot(&format!("{name}.txt"), &rendered_bad(env, name, text))
            })
            .collect();
        assert_snapshots(&mismatches);
    });
}
