//! Helpers shared by the integration tests: the host kernel's BTF and
//! tracefs (absent on some machines), the committed fixture BTF (always
//! there), and the spec files of a directory.

#![allow(dead_code)] // each test crate uses a part

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tracectl_compiler::btf::{Btf, HOST_BTF_PATH};
use tracectl_compiler::resolve::Env;
use tracectl_compiler::tracefs::{tracefs_root, TpSource};

/// Where tracefs is mounted on the test machines.
pub const TRACEFS: &str = "/sys/kernel/tracing";

/// `compiler/`.
pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The host kernel's BTF and tracefs root, loaded once; `None` (after a
/// note on stderr) where they do not exist. Under `CI=true` a missing host
/// is a failure, not a skip.
pub fn host() -> Option<&'static (Btf, PathBuf)> {
    static HOST: OnceLock<Option<(Btf, PathBuf)>> = OnceLock::new();
    let h = HOST.get_or_init(|| {
        let btf_ok = Path::new(HOST_BTF_PATH).exists();
        let root = tracefs_root().filter(|r| r == Path::new(TRACEFS) || r.exists());
        match (btf_ok, root) {
            (true, Some(root)) => Some((
                Btf::host().unwrap_or_else(|e| panic!("{HOST_BTF_PATH} exists but: {e}")),
                root,
            )),
            (btf, root) => {
                let what = format!(
                    "host BTF ({HOST_BTF_PATH}: {}) or tracefs ({TRACEFS}: {}) missing",
                    if btf { "ok" } else { "missing" },
                    if root.is_some() { "ok" } else { "missing" }
                );
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but {what}: these tests need a kernel with BTF and tracefs mounted");
                }
                eprintln!("skipping: {what}");
                None
            }
        }
    });
    h.as_ref()
}

/// Runs `f` with the host's BTF and tracefs; `None` where they are missing
/// (see [`host`]).
pub fn with_host_env<R>(f: impl FnOnce(&Env) -> R) -> Option<R> {
    let (btf, root) = host()?;
    let env = Env {
        btf,
        tracepoints: TpSource::Tracefs(root.clone()),
    };
    Some(f(&env))
}

/// The committed miniature vmlinux (`tests/fixtures/mini_vmlinux.btf.o`,
/// built from `mini_vmlinux.c`): kernel types without a kernel.
pub fn fixture_btf() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| {
        let path = manifest_dir().join("tests/fixtures/mini_vmlinux.btf.o");
        Btf::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    })
}

/// An environment on the fixture BTF, tracepoint formats derived from it.
pub fn fixture_env() -> Env<'static> {
    let btf = fixture_btf();
    Env {
        btf,
        tracepoints: TpSource::Btf(btf),
    }
}

/// The spec files (`*.yaml`, `*.yml`, `*.trace`) of `dir`, sorted by name,
/// except the names in `except`: (file name, text).
pub fn spec_files(dir: &Path, except: &[&str]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "trace")
            )
        })
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            if except.contains(&name.as_str()) {
                return None;
            }
            let text = std::fs::read_to_string(&p)
                .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()));
            Some((name, text))
        })
        .collect();
    out.sort();
    out
}
