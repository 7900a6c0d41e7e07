//! The recipe library bundled into the binary: every spec under `specs/`.

include!(concat!(env!("OUT_DIR"), "/recipes.rs"));

/// A bundled recipe.
#[derive(Debug, Clone, Copy)]
pub struct Recipe {
    /// Its name (the file name without extension).
    pub name: &'static str,
    /// File name, for diagnostics.
    pub file: &'static str,
    /// The spec's text.
    pub source: &'static str,
}

/// Every bundled recipe, sorted by name.
pub fn all() -> Vec<Recipe> {
    RECIPES
        .iter()
        .map(|(file, source)| Recipe {
            name: file.rsplit_once('.').map(|(n, _)| n).unwrap_or(file),
            file,
            source,
        })
        .collect()
}

/// The recipe with this name.
pub fn find(name: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.name == name)
}
