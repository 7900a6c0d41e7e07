//! Embeds the recipe library into the binary (`tracectl run NAME`,
//! `tracectl list`): every spec under `specs/`, and the catalogue
//! `specs/index.yaml` (tags, mirrored tool, kernel features), which is not a
//! spec.

use std::fmt::Write as _;
use std::path::Path;

/// The catalogue's file name in `specs/`.
const INDEX: &str = "index.yaml";

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../specs");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    entries.sort();
    let mut out = String::from(
        "/// Bundled recipes: (file name, source).\npub static RECIPES: &[(&str, &str)] = &[\n",
    );
    let mut index = None;
    for p in entries {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "yaml" | "yml" | "trace") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", p.display());
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let abs = p.canonicalize().unwrap_or(p.clone());
        if name == INDEX {
            index = Some(abs);
            continue;
        }
        let _ = writeln!(
            out,
            "    ({name:?}, include_str!({:?})),",
            abs.display().to_string()
        );
    }
    out.push_str("];\n");
    // Without a catalogue the binary still builds; `tracectl list` then says
    // that specs/index.yaml is missing.
    out.push_str("/// The catalogue `specs/index.yaml`, when present.\n");
    match index {
        Some(p) => {
            let _ = writeln!(
                out,
                "pub static INDEX: Option<&str> = Some(include_str!({:?}));",
                p.display().to_string()
            );
        }
        None => out.push_str("pub static INDEX: Option<&str> = None;\n"),
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap_or_default()).join("recipes.rs");
    std::fs::write(dest, out).unwrap_or_else(|e| panic!("cannot write recipes.rs: {e}"));
}
