//! `tracectl fmt` through the binary: printing in the file's own syntax or
//! converted, `--write` (in place, atomically, only on change), `--check`
//! (for CI), comments kept at their nodes, and files left alone when they
//! do not parse. No kernel needed.

#[path = "common/mod.rs"]
mod common;

use common::{scratch, tracectl_with_stdin};
use std::path::{Path, PathBuf};
use std::process::Output;

/// `tracectl fmt ARGS`, with `stdin` on standard input.
fn fmt(args: &[&str], stdin: &str) -> Output {
    let args: Vec<&str> = std::iter::once("fmt").chain(args.iter().copied()).collect();
    tracectl_with_stdin(&args, stdin)
}

/// Every spec of `specs/` and `examples/`, sorted (not the catalogue,
/// `specs/index.yaml`).
fn bundled_specs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<PathBuf> = Vec::new();
    for d in ["specs", "examples"] {
        for e in std::fs::read_dir(root.join(d)).unwrap() {
            let p = e.unwrap().path();
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            if matches!(ext, "yaml" | "trace") && !p.ends_with("specs/index.yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `tracectl fmt ARGS`, which must succeed: its standard output.
fn fmt_ok(args: &[&str]) -> String {
    let o = fmt(args, "");
    assert!(
        o.status.success(),
        "tracectl fmt {args:?}: {:?}\n{}",
        o.status,
        text(&o.stderr)
    );
    text(&o.stdout)
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, content).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A YAML spec with a comment at each kind of place.
const COMMENTED_YAML: &str = "# Header comment.
version: 2
name: demo # trailing on name
params:
  # before the param
  port: { type: u16, default: 0 } # trailing on port
probes:
  # before the first probe
  - probe: 'kfunc:tcp_connect' # trailing on probe
    fields:
      # before pid
      pid: pid # trailing on pid
      comm: comm
  - probe: \"tracepoint:syscalls:sys_enter_openat\"
    fields:
      n: count()
    # before the filter
    filter: pid > 1
output:
  # before format
  format: json # trailing on format
# At the end.
";

/// [`COMMENTED_YAML`] formatted: the probe names' needless quotes gone, each
/// comment in place.
const COMMENTED_YAML_FORMATTED: &str = "# Header comment.
version: 2
name: demo # trailing on name
params:
  # before the param
  port: { type: u16, default: 0 } # trailing on port
probes:
  # before the first probe
  - probe: kfunc:tcp_connect # trailing on probe
    fields:
      # before pid
      pid: pid # trailing on pid
      comm: comm
  - probe: tracepoint:syscalls:sys_enter_openat
    fields:
      n: count()
    # before the filter
    filter: pid > 1
output:
  # before format
  format: json # trailing on format
# At the end.
";

/// [`COMMENTED_YAML`] as DSL.
const COMMENTED_DSL: &str = "# Header comment.
version 2
spec demo # trailing on name
# before the param
param port: u16 = 0 # trailing on port

# before the first probe
probe kfunc:tcp_connect { # trailing on probe
    # before pid
    pid, # trailing on pid
    comm
}

probe tracepoint:syscalls:sys_enter_openat {
    n = count()
    # before the filter
} where pid > 1

# before format
output format json # trailing on format

# At the end.
";

#[test]
fn prints_in_the_files_own_syntax_with_its_comments() {
    let dir = scratch("fmt-own");
    let y = write(&dir, "demo.yaml", COMMENTED_YAML);
    assert_eq!(fmt_ok(&[s(&y)]), COMMENTED_YAML_FORMATTED);
    let d = write(&dir, "demo.trace", COMMENTED_DSL);
    assert_eq!(fmt_ok(&[s(&d)]), COMMENTED_DSL);
    // Untouched by printing.
    assert_eq!(std::fs::read_to_string(&y).unwrap(), COMMENTED_YAML);
}

#[test]
fn comments_survive_conversion_both_ways() {
    let dir = scratch("fmt-to");
    let y = write(&dir, "demo.yaml", COMMENTED_YAML);
    let dsl = fmt_ok(&[s(&y), "--to", "dsl"]);
    assert_eq!(dsl, COMMENTED_DSL);
    let d = write(&dir, "demo.trace", &dsl);
    let back = fmt_ok(&[s(&d), "--to", "yaml"]);
    // Each comment where it was, except one: the DSL's settings share the
    // `output` line, so a comment before it goes before `output:`.
    assert_eq!(
        back,
        COMMENTED_YAML_FORMATTED
            .replace("output:\n  # before format\n", "# before format\noutput:\n")
    );
}

#[test]
fn check_fails_on_an_unformatted_file_then_write_formats_it() {
    let dir = scratch("fmt-check");
    let y = write(&dir, "demo.yaml", COMMENTED_YAML);
    let mut perms = std::fs::metadata(&y).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o640);
    std::fs::set_permissions(&y, perms).unwrap();

    let o = fmt(&["--check", s(&y)], "");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty(), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    // Located at the first line that changes, with the lines.
    assert!(
        err.starts_with(&format!("{}:9: not formatted", s(&y))),
        "{err}"
    );
    // Each group of changed lines, alone: the two probe lines.
    assert!(
        err.contains("\n@@ -9,1 +9,1 @@\n-  - probe: 'kfunc:tcp_connect' # trailing on probe\n"),
        "{err}"
    );
    assert!(
        err.contains("\n@@ -14,1 +14,1 @@\n-  - probe: \"tracepoint:syscalls:sys_enter_openat\"\n"),
        "{err}"
    );
    assert!(
        err.contains("\n-  - probe: 'kfunc:tcp_connect' # trailing on probe\n"),
        "{err}"
    );
    assert!(
        err.contains("\n+  - probe: kfunc:tcp_connect # trailing on probe\n"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&y).unwrap(), COMMENTED_YAML);

    let o = fmt(&["--write", s(&y)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stdout.is_empty());
    assert_eq!(text(&o.stderr), format!("formatted {}\n", s(&y)));
    assert_eq!(
        std::fs::read_to_string(&y).unwrap(),
        COMMENTED_YAML_FORMATTED
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&y).unwrap().permissions());
    assert_eq!(mode & 0o7777, 0o640);
    // No temporary file left behind.
    let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(files.len(), 1);

    let o = fmt(&["--check", s(&y)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(o.stderr.is_empty() && o.stdout.is_empty());
    // Formatted already: -w writes nothing and says nothing.
    let o = fmt(&["-w", s(&y)], "");
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn check_names_each_unformatted_file() {
    let dir = scratch("fmt-check-many");
    let good = write(&dir, "good.trace", COMMENTED_DSL);
    let bad = write(&dir, "bad.trace", "kfunc:f {n=count()}\n");
    let o = fmt(&["--check", s(&good), s(&bad)], "");
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!("{}:1: not formatted", s(&bad))),
        "{err}"
    );
    assert!(!err.contains("good.trace"), "{err}");
    // Standard input may be checked.
    let o = fmt(&["--check", "-"], COMMENTED_DSL);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = fmt(&["--check", "-"], "kfunc:f {n=count()}\n");
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("<stdin>:1: not formatted"));
}

#[test]
fn a_spec_that_does_not_parse_is_left_alone() {
    let dir = scratch("fmt-bad");
    let src = "# a comment\nname: x\nprobes:\n  - probe: kfunc:f\n    fields: { n: count( }\n";
    let y = write(&dir, "bad.yaml", src);
    for flag in ["--write", "--check"] {
        let o = fmt(&[flag, s(&y)], "");
        assert_eq!(o.status.code(), Some(1), "{flag}");
        let err = text(&o.stderr);
        assert!(err.contains("bad.yaml:5:23"), "{flag}: {err}");
        assert!(!err.contains("formatted"), "{flag}: {err}");
        assert_eq!(std::fs::read(&y).unwrap(), src.as_bytes(), "{flag}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn write_refuses_what_it_cannot_rewrite() {
    let dir = scratch("fmt-refuse");
    let y = write(&dir, "demo.yaml", COMMENTED_YAML);
    let refused = |args: &[&str], says: &str| {
        let o = fmt(args, COMMENTED_YAML);
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    };
    refused(&["--write", "-"], "standard input is not one");
    refused(&["--write", "-e", "kfunc:f { n = count() }"], "-e");
    refused(&["--write", "execsnoop"], "is a bundled recipe");
    // YAML → DSL in place would leave DSL in a .yaml file.
    refused(
        &["--write", "--to", "dsl", s(&y)],
        &format!(
            "`tracectl fmt {} --to dsl > {}`",
            s(&y),
            s(&dir.join("demo.trace"))
        ),
    );
    assert_eq!(std::fs::read_to_string(&y).unwrap(), COMMENTED_YAML);
    // --to in the file's own syntax is formatting.
    let o = fmt(&["--write", "--to", "yaml", s(&y)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(&y).unwrap(),
        COMMENTED_YAML_FORMATTED
    );
    // --check and --write exclude each other (a usage error).
    let o = fmt(&["--write", "--check", s(&y)], "");
    assert_eq!(o.status.code(), Some(2));
}

/// Every bundled recipe and example: formatting keeps each comment line,
/// and formatted output is formatted (`--check` passes on it).
#[test]
fn recipes_and_examples_keep_their_comments_and_format_to_a_fixed_point() {
    let files = bundled_specs();
    assert!(files.len() > 30, "{files:?}");
    let dir = scratch("fmt-recipes");
    let mut problems = Vec::new();
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap();
        let out = fmt_ok(&[s(f)]);
        // Every comment line's text is in the output (only comments are
        // whole lines starting with `#` in these files).
        for line in src.lines().map(str::trim).filter(|l| l.starts_with('#')) {
            if !out.lines().any(|o| o.trim() == line) {
                problems.push(format!("{}: lost `{line}`:\n{out}", f.display()));
            }
        }
        let name = f.file_name().unwrap().to_str().unwrap();
        let copy = write(&dir, name, &out);
        let o = fmt(&["--check", s(&copy)], "");
        if !o.status.success() {
            problems.push(format!(
                "{}: formatting is not a fixed point:\n{}",
                f.display(),
                text(&o.stderr)
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every spec in `specs/` and `examples/` is formatted as committed, so
/// `fmt --check` in CI keeps them so.
#[test]
fn recipes_and_examples_are_formatted() {
    let files: Vec<String> = bundled_specs().iter().map(|p| s(p).to_string()).collect();
    assert!(files.len() > 30, "{files:?}");
    let mut args = vec!["--check"];
    args.extend(files.iter().map(String::as_str));
    let o = fmt(&args, "");
    assert!(
        o.status.success(),
        "not formatted (`tracectl fmt --write specs/*.yaml examples/*` formats them):\n{}",
        text(&o.stderr)
    );
}

/// Formatting keeps what the user wrote: expressions and integer
/// defaults as spelt (clarifying parentheses, hexadecimal), in the file's syntax and converted; YAML
/// scalars are plain unless YAML needs quotes.
#[test]
fn formatting_keeps_the_spelling_of_expressions() {
    let dir = scratch("fmt-spelling");
    let yaml = "name: spelt
description: Files opened (openat), as bcc's opensnoop.
params:
  mask: { type: u32, default: 0x40 }
probes:
  - probe: tracepoint:syscalls:sys_enter_openat
    end: tracepoint:syscalls:sys_exit_openat
    fields:
      fd: end.ret | (end.ret >> 63)
      sig: signal(end.ret & 0x7f)
    filter: (flags & 0x40) != 0
";
    let y = write(&dir, "spelt.yaml", yaml);
    assert_eq!(fmt_ok(&[s(&y)]), yaml);
    let o = fmt(&["--check", s(&y)], "");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let dsl = fmt_ok(&[s(&y), "--to", "dsl"]);
    assert_eq!(
        dsl,
        "spec spelt \"Files opened (openat), as bcc's opensnoop.\"
param mask: u32 = 0x40

probe tracepoint:syscalls:sys_enter_openat => tracepoint:syscalls:sys_exit_openat {
    fd = end.ret | (end.ret >> 63),
    sig = signal(end.ret & 0x7f)
} where (flags & 0x40) != 0
"
    );
    let d = write(&dir, "spelt.trace", &dsl);
    assert_eq!(fmt_ok(&[s(&d)]), dsl);
    assert_eq!(fmt_ok(&[s(&d), "--to", "yaml"]), yaml);
}
