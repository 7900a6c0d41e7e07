//! Checking uprobe targets on this machine without loading anything: does
//! the binary or library exist, and does it define the symbol?
//!
//! `tracectl check` runs this after compiling (the compiler knows kernel
//! types, not the machine's files), so a recipe such as `sslsniff` says
//! "no libssl here" before anyone runs it. The loader resolves targets the
//! same way at attach time (aya also consults the dynamic linker's cache);
//! a library not found here is therefore only a warning.

use std::path::{Path, PathBuf};

use object::{Object, ObjectSymbol};

/// Where libraries named without a path are looked for.
const LIB_DIRS: [&str; 8] = [
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib64",
    "/usr/lib64",
    "/lib",
    "/usr/lib",
];

/// What checking a uprobe target found.
#[derive(Debug, PartialEq, Eq)]
pub enum TargetProblem {
    /// A path that does not exist or cannot be read.
    NoFile(String),
    /// A library name not found in the usual directories (a warning: the
    /// dynamic linker's cache may still know it).
    LibraryNotFound(String),
    /// The file is not an ELF object.
    NotElf(PathBuf),
    /// The symbol is not defined in the file; the nearest name, if any.
    NoSymbol {
        /// The file searched.
        file: PathBuf,
        /// A defined symbol with a similar name.
        nearest: Option<String>,
    },
}

/// Finds `binary` (a path, or a library name such as `libc` or `libssl`).
pub fn locate(binary: &str) -> Result<PathBuf, TargetProblem> {
    if binary.contains('/') {
        let p = Path::new(binary);
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(TargetProblem::NoFile(binary.to_string()))
        };
    }
    let stem = binary.strip_prefix("lib").unwrap_or(binary);
    let wanted = [format!("lib{stem}.so"), format!("{binary}.so")];
    for dir in LIB_DIRS {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| {
                wanted
                    .iter()
                    .any(|w| n == w || n.starts_with(&format!("{w}.")))
            })
            .collect();
        // A versioned soname (`libc.so.6`) before the development `libc.so`
        // (often a linker script), the shortest version first.
        names.sort_by_key(|n| (!n.contains(".so."), n.len()));
        if let Some(p) = names
            .iter()
            .map(|n| Path::new(dir).join(n))
            .find(|p| is_elf(p))
        {
            return Ok(p);
        }
    }
    Err(TargetProblem::LibraryNotFound(binary.to_string()))
}

fn is_elf(path: &Path) -> bool {
    use std::io::Read;
    let mut magic = [0u8; 4];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok()
        && magic == *b"\x7fELF"
}

/// Checks that `symbol` is defined in `binary`; returns the file.
pub fn check(binary: &str, symbol: &str) -> Result<PathBuf, TargetProblem> {
    let file = locate(binary)?;
    let data = std::fs::read(&file).map_err(|_| TargetProblem::NoFile(binary.to_string()))?;
    let obj = object::File::parse(&*data).map_err(|_| TargetProblem::NotElf(file.clone()))?;
    let defined = |s: &object::Symbol<'_, '_>| s.is_definition() && s.name().is_ok();
    let mut names: Vec<String> = Vec::new();
    for s in obj.symbols().chain(obj.dynamic_symbols()) {
        if !defined(&s) {
            continue;
        }
        let name = s.name().unwrap_or_default();
        if name == symbol {
            return Ok(file);
        }
        names.push(name.to_string());
    }
    let nearest = tracectl_compiler::diag::closest(symbol, names.iter().map(String::as_str))
        .map(String::from);
    Err(TargetProblem::NoSymbol { file, nearest })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libc_has_malloc_and_not_mallok() {
        let f = check("libc", "malloc").expect("libc defines malloc");
        assert!(f.to_string_lossy().contains("libc.so."), "{f:?}");
        match check("libc", "mallok") {
            Err(TargetProblem::NoSymbol { nearest, .. }) => {
                assert_eq!(nearest.as_deref(), Some("malloc"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn missing_files_and_libraries() {
        assert_eq!(
            check("/no/such/binary", "main"),
            Err(TargetProblem::NoFile("/no/such/binary".into()))
        );
        assert_eq!(
            check("libtracectl_nonexistent", "f"),
            Err(TargetProblem::LibraryNotFound(
                "libtracectl_nonexistent".into()
            ))
        );
        assert!(matches!(
            check("/etc/hostname", "main"),
            Err(TargetProblem::NotElf(_))
        ));
    }
}
