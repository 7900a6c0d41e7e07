//! No input makes the front end panic, overflow its stack, or report an
//! error outside the text.
//!
//! Thousands of inputs, from a small deterministic generator (xorshift, no
//! dependencies): mutated and truncated versions of every corpus file and
//! recipe, each read as YAML and as DSL, and generated hostile inputs (deep
//! nesting of every bracket, long runs of operators, huge names, many keys or
//! probes). For each, [`syntax::parse`] and [`compile_source`] (against the
//! committed fixture BTF, so no kernel is needed) must return `Ok`, or errors
//! whose spans are on character boundaries inside the input, non-empty unless
//! the input is blank; [`render`] must print them. A spec that parses must
//! print (YAML and DSL) to text that parses to the same canonical form.
//!
//! `ROBUSTNESS_SEED=N` and `ROBUSTNESS_ROUNDS=N` change the generator's seed
//! and the number of mutants per file (default 48).

mod common;

use common::{fixture_env, manifest_dir, spec_files};
use std::time::{Duration, Instant};
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::diag::{render, Diagnostic, Severity};
use tracectl_compiler::resolve::Env;
use tracectl_compiler::syntax::{self, print, MAX_SOURCE};

/// Marsaglia's xorshift64*: small, fast, and the same everywhere.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        XorShift(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Bits of text mutations insert: the punctuation of both syntaxes, YAML
/// indicators, DSL keywords, odd characters and numbers.
const PIECES: &[&str] = &[
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    "\"",
    "'",
    ":",
    ": ",
    "- ",
    ",",
    ";",
    "\n",
    "\t",
    " ",
    "#",
    "!",
    "*",
    "&",
    "$",
    "->",
    ".",
    "==",
    "!=",
    "<",
    ">=",
    "&&",
    "||",
    "=",
    "0x",
    "-1",
    "0",
    "99999999999999999999999",
    "é",
    "日本",
    "\u{1F600}",
    "\u{301}",
    "\u{FEFF}",
    "\0",
    "\r\n",
    "\\",
    "\\x",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "? ",
    "|\n",
    ">\n",
    "@",
    "`",
    "kfunc:",
    "kretfunc:",
    "tracepoint:",
    "tp_btf:",
    "uprobe:",
    "str(",
    "ip4(",
    "bytes(",
    "retval",
    "args.",
    "probe ",
    "spec ",
    "param ",
    "output ",
    "where ",
    " as ",
    "version ",
    "$port",
    "sk->__sk_common.skc_daddr",
    "p->real_parent",
    "[0]",
    "[99]",
    "true",
    "null",
    "~",
    "&anchor ",
    "*anchor",
    "!!str ",
    "<<: ",
    "fields:",
    "filter:",
    "probes:",
    "params:",
    "name:",
    "{ type: u16 }",
    "\"\\u00e9\"",
];

/// A char boundary of `s` at or before `i`.
fn floor(s: &str, i: usize) -> usize {
    let mut i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn random_range(r: &mut XorShift, s: &str) -> (usize, usize) {
    let a = floor(s, r.below(s.len() + 1));
    let b = floor(s, a + r.below(s.len() - a + 1).min(64));
    (a, b)
}

/// One random edit of `s` (`other` is another file, for splicing).
fn mutate(r: &mut XorShift, s: &str, other: &str) -> String {
    let mut s = s.to_string();
    for _ in 0..=r.below(3) {
        match r.below(8) {
            // Truncate.
            0 => {
                let at = floor(&s, r.below(s.len() + 1));
                s.truncate(at);
            }
            // Delete a range.
            1 => {
                let (a, b) = random_range(r, &s);
                s.replace_range(a..b, "");
            }
            // Insert a piece, sometimes many times.
            2 | 3 => {
                let at = floor(&s, r.below(s.len() + 1));
                let piece = r.pick(PIECES);
                let n = if r.below(8) == 0 { 1 + r.below(200) } else { 1 };
                s.insert_str(at, &piece.repeat(n));
            }
            // Duplicate a range elsewhere.
            4 => {
                let (a, b) = random_range(r, &s);
                let copy = s[a..b].to_string();
                let at = floor(&s, r.below(s.len() + 1));
                s.insert_str(at, &copy);
            }
            // Swap two lines.
            5 => {
                let mut lines: Vec<&str> = s.split('\n').collect();
                if lines.len() > 1 {
                    let (i, j) = (r.below(lines.len()), r.below(lines.len()));
                    lines.swap(i, j);
                }
                s = lines.join("\n");
            }
            // Replace one character.
            6 => {
                let at = floor(&s, r.below(s.len() + 1));
                if let Some(c) = s[at..].chars().next() {
                    let piece: &str = r.pick::<&str>(PIECES);
                    s.replace_range(at..at + c.len_utf8(), piece);
                }
            }
            // Splice: the head of this file, the tail of another.
            _ => {
                let a = floor(&s, r.below(s.len() + 1));
                let b = floor(other, r.below(other.len() + 1));
                s = format!("{}{}", &s[..a], &other[b..]);
            }
        }
    }
    s
}

/// Hostile inputs: deep nesting, long runs, huge names, many entries. Each
/// is (file name, text); the names pick the syntax.
fn generated() -> Vec<(String, String)> {
    const DEEP: usize = 100_000;
    let mut v: Vec<(&str, String)> = Vec::new();
    let probe = "probes:\n  - probe: kfunc:tcp_connect\n    fields:\n      f: ";
    // YAML nesting.
    v.push(("deep_seq.yaml", "[".repeat(DEEP)));
    v.push(("deep_seq_closed.yaml", "[".repeat(DEEP) + &"]".repeat(DEEP)));
    v.push(("deep_map.yaml", "{a: ".repeat(DEEP)));
    v.push((
        "deep_map_closed.yaml",
        "{a: ".repeat(DEEP) + "1" + &"}".repeat(DEEP),
    ));
    v.push(("deep_dash.yaml", "- ".repeat(DEEP) + "x"));
    v.push(("deep_key.yaml", "a: ".repeat(DEEP) + "x"));
    v.push(("deep_question.yaml", "? ".repeat(DEEP)));
    v.push(("bangs.yaml", "!".repeat(DEEP) + "x"));
    v.push((
        "bang_filter.yaml",
        format!("name: x\n{probe}pid\n    filter: {}x\n", "!".repeat(DEEP)),
    ));
    v.push(("anchors.yaml", "&a ".repeat(DEEP) + "x"));
    v.push((
        "aliases.yaml",
        format!("a: &a x\nb: [{}]\n", "*a, ".repeat(DEEP / 4)),
    ));
    v.push(("tags.yaml", "!!str ".repeat(DEEP)));
    let mut block = String::new();
    for i in 0..900 {
        block.push_str(&" ".repeat(i));
        block.push_str("- \n");
    }
    v.push(("deep_block_seq.yaml", block));
    let mut block = String::new();
    for i in 0..900 {
        block.push_str(&" ".repeat(i));
        block.push_str("a:\n");
    }
    v.push(("deep_block_map.yaml", block));
    // Expressions in YAML values.
    v.push((
        "yaml_parens.yaml",
        format!(
            "name: x\n{probe}{}pid{}\n",
            "(".repeat(DEEP),
            ")".repeat(DEEP)
        ),
    ));
    v.push((
        "yaml_filter_parens.yaml",
        format!(
            "name: x\n{probe}pid\n    filter: '{}pid == 1'\n",
            "(".repeat(DEEP)
        ),
    ));
    v.push((
        "yaml_arrows.yaml",
        format!("name: x\n{probe}sk{}\n", "->a".repeat(DEEP)),
    ));
    v.push((
        "yaml_ors.yaml",
        format!(
            "name: x\n{probe}pid\n    filter: pid{}\n",
            " || pid".repeat(DEEP / 4)
        ),
    ));
    v.push((
        "yaml_calls.yaml",
        format!(
            "name: x\n{probe}{}sk{}\n",
            "str(".repeat(DEEP / 8),
            ")".repeat(DEEP / 8)
        ),
    ));
    // The DSL.
    for (n, open, close) in [
        ("parens", "(", ")"),
        ("braces", "{", "}"),
        ("brackets", "[", "]"),
    ] {
        v.push((
            Box::leak(format!("dsl_{n}.trace").into_boxed_str()),
            open.repeat(DEEP),
        ));
        v.push((
            Box::leak(format!("dsl_{n}_closed.trace").into_boxed_str()),
            format!(
                "kfunc:tcp_connect {{ f = {}pid{} }}",
                open.repeat(DEEP),
                close.repeat(DEEP)
            ),
        ));
        v.push((
            Box::leak(format!("dsl_{n}_filter.trace").into_boxed_str()),
            format!(
                "kfunc:tcp_connect {{ pid }} where {}pid == 1",
                open.repeat(DEEP)
            ),
        ));
    }
    v.push((
        "dsl_bangs.trace",
        format!("kfunc:tcp_connect {{ pid }} where {}pid", "!".repeat(DEEP)),
    ));
    v.push(("dsl_bangs_bare.trace", "!".repeat(DEEP) + "x"));
    v.push((
        "dsl_arrows.trace",
        format!("kfunc:tcp_connect {{ f = sk{} }}", "->a".repeat(DEEP)),
    ));
    v.push((
        "dsl_dots.trace",
        format!("kfunc:tcp_connect {{ f = sk{} }}", ".a".repeat(DEEP)),
    ));
    v.push((
        "dsl_index.trace",
        format!("kfunc:tcp_connect {{ f = sk{} }}", "[0]".repeat(DEEP)),
    ));
    v.push((
        "dsl_ors.trace",
        format!(
            "kfunc:tcp_connect {{ pid }} where pid{}",
            " || pid".repeat(DEEP)
        ),
    ));
    v.push((
        "dsl_ands.trace",
        format!(
            "kfunc:tcp_connect {{ pid }} where pid{}",
            "&&pid".repeat(DEEP)
        ),
    ));
    v.push((
        "dsl_minus.trace",
        format!(
            "kfunc:tcp_connect {{ pid }} where pid == {}1",
            "-".repeat(DEEP)
        ),
    ));
    v.push(("dsl_dollars.trace", "$".repeat(DEEP)));
    v.push(("dsl_dashes.trace", "- ".repeat(DEEP)));
    v.push((
        "dsl_string.trace",
        format!("spec x \"{}", "a".repeat(DEEP * 5)),
    ));
    v.push((
        "dsl_escapes.trace",
        format!("spec x \"{}\"", "\\\\".repeat(DEEP)),
    ));
    v.push((
        "dsl_bad_escapes.trace",
        format!("spec x \"{}\"", "\\q".repeat(DEEP)),
    ));
    v.push(("dsl_comments.trace", "# c\n".repeat(DEEP)));
    v.push((
        "dsl_comment_parens.trace",
        format!("# {}\nkfunc:tcp_connect {{ pid }}", "(".repeat(DEEP)),
    ));
    v.push((
        "dsl_probe_parens.trace",
        format!("kfunc:a{} {{ pid }}", "(".repeat(DEEP)),
    ));
    v.push((
        "dsl_brace_in_string.trace",
        format!(
            "kfunc:tcp_connect {{ comm }} where comm == \"}}\" && {}pid",
            "(".repeat(DEEP)
        ),
    ));
    v.push((
        "dsl_quote_in_comment.trace",
        format!(
            "# \"\nkfunc:tcp_connect {{ comm }} where {}pid",
            "(".repeat(DEEP)
        ),
    ));
    v.push(("dsl_semicolons.trace", ";".repeat(DEEP)));
    v.push((
        "dsl_number.trace",
        format!(
            "kfunc:tcp_connect {{ pid }} where pid == {}",
            "9".repeat(DEEP)
        ),
    ));
    // Huge names: the "did you mean" search must stay cheap.
    let long = "a".repeat(DEEP * 5);
    v.push(("long_function.trace", format!("kfunc:{long} {{ pid }}")));
    v.push((
        "long_field.trace",
        format!("kfunc:tcp_connect {{ {long} }}"),
    ));
    v.push((
        "long_member.trace",
        format!("kfunc:tcp_connect {{ f = sk->{long} }}"),
    ));
    v.push((
        "long_call.trace",
        format!("kfunc:tcp_connect {{ f = {long}(sk) }}"),
    ));
    v.push(("long_kind.trace", format!("{long}:x {{ pid }}")));
    v.push(("long_key.yaml", format!("{long}: 1\n")));
    v.push((
        "long_probe.yaml",
        format!("name: x\nprobes:\n  - probe: kfunc:{long}\n    fields: {{ pid: pid }}\n"),
    ));
    v.push((
        "long_tracepoint.yaml",
        format!(
            "name: x\nprobes:\n  - probe: tracepoint:{long}:{long}\n    fields: {{ pid: pid }}\n"
        ),
    ));
    // Many entries: nothing quadratic.
    let many = 20_000;
    let keys: String = (0..many).map(|i| format!("k{i}: 1\n")).collect();
    v.push(("many_keys.yaml", keys));
    let dup_keys: String = (0..many).map(|_| "name: x\n").collect();
    v.push(("many_dup_keys.yaml", dup_keys));
    let probes: String = (0..many).map(|_| "kfunc:tcp_connect { pid }\n").collect();
    v.push(("many_probes.trace", probes));
    let named: String = (0..many)
        .map(|_| "kfunc:tcp_connect as a { pid }\n")
        .collect();
    v.push(("many_named_probes.trace", named));
    let fields: String = (0..many).map(|i| format!("f{i} = pid, ")).collect();
    v.push((
        "many_fields.trace",
        format!("kfunc:tcp_connect {{ {fields} }}"),
    ));
    let dup_fields: String = (0..many).map(|_| "pid, ").collect();
    v.push((
        "many_dup_fields.trace",
        format!("kfunc:tcp_connect {{ {dup_fields} }}"),
    ));
    let params: String = (0..many).map(|i| format!("param p{i}: u8 = 0\n")).collect();
    v.push((
        "many_params.trace",
        format!("{params}kfunc:tcp_connect {{ pid }}"),
    ));
    let yaml_probes: String = (0..many / 4)
        .map(|_| "  - probe: kfunc:tcp_connect\n    fields: { pid: pid }\n")
        .collect();
    v.push((
        "many_probes.yaml",
        format!("name: x\nprobes:\n{yaml_probes}"),
    ));
    // Just over the size limit, and odd whole files.
    v.push(("too_big.yaml", "#".repeat(MAX_SOURCE + 1)));
    v.push(("too_big.trace", " ".repeat(MAX_SOURCE + 1)));
    for text in [
        "", " ", "\n", "\u{FEFF}", "\0", "#", "---", "...", "- ", ":", "{", "\"", "'", "!", "*",
    ] {
        v.push(("tiny.yaml", text.to_string()));
        v.push(("tiny.trace", text.to_string()));
        v.push(("tiny", text.to_string()));
    }
    v.into_iter().map(|(n, t)| (n.to_string(), t)).collect()
}

/// Checks the diagnostics of a failed parse or compilation of `input`.
fn check_diags(input: &str, what: &str, diags: &[Diagnostic]) -> Result<(), String> {
    if !diags.iter().any(|d| d.severity == Severity::Error) {
        return Err(format!("{what} failed without an error: {diags:?}"));
    }
    let blank = input.trim().is_empty();
    for d in diags {
        let spans = std::iter::once((d.span, "primary"))
            .chain(d.secondary.iter().map(|(s, _)| (*s, "secondary")));
        for (s, kind) in spans {
            let (a, b) = (s.start as usize, s.end as usize);
            if a > b || b > input.len() {
                return Err(format!(
                    "{what}: {kind} span {a}..{b} outside the input ({} bytes): {}",
                    input.len(),
                    d.message
                ));
            }
            if !input.is_char_boundary(a) || !input.is_char_boundary(b) {
                return Err(format!(
                    "{what}: {kind} span {a}..{b} not on char boundaries: {}",
                    d.message
                ));
            }
        }
        if d.severity == Severity::Error
            && d.span.start == d.span.end
            && !blank
            && input.len() <= MAX_SOURCE
        {
            return Err(format!(
                "{what}: empty span {}..{} for {:?}",
                d.span.start, d.span.end, d.message
            ));
        }
        if d.message.is_empty() {
            return Err(format!("{what}: an error without a message"));
        }
    }
    let shown = render("input", input, diags, false);
    if !shown.contains("error") {
        return Err(format!("{what}: rendered without an error:\n{shown}"));
    }
    Ok(())
}

/// Parses and compiles one input and checks the outcome.
fn check(name: &str, input: &str, env: &Env) -> Result<(), String> {
    match syntax::parse(name, input) {
        Ok(spec) => {
            // What parses prints to text that parses to the same thing.
            let yaml = print::to_yaml(&spec);
            let dsl = print::to_dsl(&spec);
            for (printed_name, printed) in [("printed.yaml", &yaml), ("printed.trace", &dsl)] {
                // The other syntax can be longer than the largest file read.
                if printed.len() > MAX_SOURCE {
                    continue;
                }
                match syntax::parse(printed_name, printed) {
                    Ok(again) if print::to_yaml(&again) == yaml => {}
                    Ok(again) => {
                        return Err(format!(
                            "{printed_name} does not print back the same:\n{printed}\n---\n{}",
                            print::to_yaml(&again)
                        ))
                    }
                    Err(d) => {
                        return Err(format!(
                            "{printed_name} does not parse:\n{printed}\n{}",
                            render(printed_name, printed, &d, false)
                        ))
                    }
                }
            }
        }
        Err(d) => check_diags(input, "parse", &d)?,
    }
    let opts = Options::default();
    match compile_source(name, input, env, &opts) {
        Ok(c) => {
            if c.plan.probes.is_empty() {
                return Err("compiled to a plan without probes".into());
            }
            Ok(())
        }
        Err(d) => check_diags(input, "compile", &d),
    }
}

/// Runs `check` on a thread with the default test stack (2 MiB), so a
/// recursion deeper than that is a failure here too, and turns a panic
/// into an error message.
fn check_on_thread(inputs: Vec<(String, String)>) -> Vec<String> {
    std::thread::Builder::new()
        .name("robustness".into())
        .stack_size(2 << 20)
        .spawn(move || {
            let env = fixture_env();
            let mut problems = Vec::new();
            for (name, input) in &inputs {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    check(name, input, &env)
                }));
                let short: String = input.chars().take(200).collect();
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        problems.push(format!("{name} ({} bytes) {short:?}:\n{e}", input.len()))
                    }
                    Err(_) => {
                        problems.push(format!("{name} ({} bytes) {short:?}: PANIC", input.len()))
                    }
                }
            }
            problems
        })
        .expect("spawning the test thread")
        .join()
        .unwrap_or_else(|_| vec!["the checking thread died".to_string()])
}

fn seed() -> u64 {
    std::env::var("ROBUSTNESS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7472_6163_6563_746c) // "tracectl"
}

fn rounds() -> usize {
    std::env::var("ROBUSTNESS_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

/// Every corpus file and recipe.
fn sources() -> Vec<(String, String)> {
    let dir = manifest_dir();
    let mut all = spec_files(&dir.join("tests/corpus/bad"), &[]);
    all.extend(spec_files(&dir.join("tests/corpus/good"), &[]));
    all.extend(spec_files(&dir.join("../specs"), &[]));
    all
}

#[test]
fn mutated_corpus_never_crashes() {
    let sources = sources();
    assert!(sources.len() >= 200, "only {} source files", sources.len());
    let mut r = XorShift::new(seed());
    let mut inputs = Vec::new();
    for (i, (name, text)) in sources.iter().enumerate() {
        let other = &sources[(i * 7 + 3) % sources.len()].1;
        for _ in 0..rounds() {
            let m = mutate(&mut r, text, other);
            // Read each mutant as written, and as the other syntax.
            let as_other = if name.ends_with(".trace") {
                "m.yaml"
            } else {
                "m.trace"
            };
            inputs.push((name.clone(), m.clone()));
            if r.below(4) == 0 {
                inputs.push((as_other.to_string(), m));
            }
        }
        // The file itself as the other syntax, and its every prefix of lines.
        let as_other = if name.ends_with(".trace") {
            "f.yaml"
        } else {
            "f.trace"
        };
        inputs.push((as_other.to_string(), text.clone()));
        let mut cut = 0;
        for line in text.split_inclusive('\n') {
            cut += line.len();
            inputs.push((name.clone(), text[..cut].to_string()));
            inputs.push((name.clone(), text[..cut].trim_end().to_string()));
        }
    }
    let n = inputs.len();
    assert!(n >= 5_000, "only {n} inputs");
    let start = Instant::now();
    let problems = check_on_thread(inputs);
    let took = start.elapsed();
    assert!(
        problems.is_empty(),
        "{} of {n} inputs failed:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
    eprintln!("{n} mutated inputs in {took:?}");
}

#[test]
fn hostile_inputs_fail_cleanly_and_quickly() {
    let inputs = generated();
    let n = inputs.len();
    let mut problems = Vec::new();
    for (name, input) in inputs {
        let start = Instant::now();
        let short: String = input.chars().take(60).collect();
        let mut p = check_on_thread(vec![(name.clone(), input)]);
        let took = start.elapsed();
        if took > Duration::from_millis(500) {
            eprintln!("{name}: {took:?}");
        }
        // Nothing is quadratic: even the largest input takes well under this.
        if took > Duration::from_secs(10) {
            p.push(format!("{name} {short:?}: took {took:?}"));
        }
        problems.extend(p);
    }
    assert!(
        problems.is_empty(),
        "{} of {n} inputs failed:\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn generator_is_deterministic() {
    let mut a = XorShift::new(42);
    let mut b = XorShift::new(42);
    let xs: Vec<u64> = (0..100).map(|_| a.next()).collect();
    let ys: Vec<u64> = (0..100).map(|_| b.next()).collect();
    assert_eq!(xs, ys);
    assert!(xs.windows(2).all(|w| w[0] != w[1]));
    let m1 = mutate(
        &mut XorShift::new(7),
        "name: x\nprobes: []\n",
        "kfunc:a { pid }",
    );
    let m2 = mutate(
        &mut XorShift::new(7),
        "name: x\nprobes: []\n",
        "kfunc:a { pid }",
    );
    assert_eq!(m1, m2);
}
