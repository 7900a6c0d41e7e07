//! Fuzzes the spec front end: any bytes that are UTF-8 go through
//! `syntax::parse` as YAML and as DSL, and through `compile_source` against
//! the committed miniature vmlinux BTF (`compiler/tests/fixtures/`, so no
//! kernel is needed). Nothing may panic, overflow the stack or loop; every
//! error must be located inside the input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tracectl_compiler::btf::Btf;
use tracectl_compiler::compile::{compile_source, Options};
use tracectl_compiler::diag::{render, Diagnostic};
use tracectl_compiler::resolve::Env;
use tracectl_compiler::syntax::{self, print};
use tracectl_compiler::tracefs::TpSource;

/// The fixture BTF, embedded so the target runs from any directory.
static FIXTURE: &[u8] = include_bytes!("../../compiler/tests/fixtures/mini_vmlinux.btf.o");

fn btf() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| Btf::from_bytes(FIXTURE.to_vec()).expect("the fixture BTF parses"))
}

/// Every span of every diagnostic lies inside `src`, on char boundaries.
fn check(src: &str, diags: &[Diagnostic]) {
    assert!(!diags.is_empty(), "a failure without diagnostics");
    for d in diags {
        for s in std::iter::once(&d.span).chain(d.secondary.iter().map(|(s, _)| s)) {
            let (a, b) = (s.start as usize, s.end as usize);
            assert!(
                a <= b && b <= src.len(),
                "span {a}..{b} outside {} bytes: {}",
                src.len(),
                d.message
            );
            assert!(
                src.is_char_boundary(a) && src.is_char_boundary(b),
                "span {a}..{b} splits a char"
            );
        }
    }
    let _ = render("fuzz", src, diags, false);
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let env = Env {
        btf: btf(),
        tracepoints: TpSource::Btf(btf()),
    };
    for name in ["fuzz.yaml", "fuzz.trace", "fuzz"] {
        match syntax::parse(name, src) {
            Ok(spec) => {
                // What parses prints to text that parses again.
                for (printed_name, printed) in [
                    ("printed.yaml", print::to_yaml(&spec)),
                    ("printed.trace", print::to_dsl(&spec)),
                ] {
                    if printed.len() <= syntax::MAX_SOURCE {
                        if let Err(d) = syntax::parse(printed_name, &printed) {
                            panic!("{printed_name} does not parse:\n{printed}\n{d:?}");
                        }
                    }
                }
            }
            Err(d) => check(src, &d),
        }
        if let Err(d) = compile_source(name, src, &env, &Options::default()) {
            check(src, &d);
        }
    }
});
