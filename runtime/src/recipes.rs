//! The recipe library bundled into the binary: every spec under `specs/`,
//! and the catalogue `specs/index.yaml` that describes them.
//!
//! The spec language (spec-v1) has no keys for metadata, so tags, the tool a
//! recipe mirrors and the kernel features it needs live in the catalogue.
//! [`catalogue`] reads it with the compiler's spanned YAML reader and checks
//! it against the bundled specs; errors point into the file.

use std::collections::BTreeSet;

use tracectl_compiler::diag::{closest, quoted_list, render, Diagnostic, Span};
use tracectl_compiler::syntax::ast::Spec;
use tracectl_compiler::syntax::yaml::{self, Node, Scalar};

include!(concat!(env!("OUT_DIR"), "/recipes.rs"));

/// Where the catalogue lives in the repository (for messages).
pub const INDEX_FILE: &str = "specs/index.yaml";

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
    let mut v: Vec<Recipe> = RECIPES
        .iter()
        .map(|(file, source)| Recipe {
            name: file.rsplit_once('.').map(|(n, _)| n).unwrap_or(file),
            file,
            source,
        })
        .collect();
    v.sort_by_key(|r| r.name);
    v
}

/// The recipe with this name.
pub fn find(name: &str) -> Option<Recipe> {
    all().into_iter().find(|r| r.name == name)
}

/// A kernel feature that a recipe's probes need, one per probe kind family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Feature {
    /// `tracepoint:` — static tracepoints (tracefs).
    Tracepoint,
    /// `tp_btf:` — BTF-typed raw tracepoints.
    TpBtf,
    /// `kfunc:`/`kretfunc:` — fentry/fexit where allowed, else kprobes.
    KprobeOrFentry,
    /// `kprobe:`/`kretprobe:` — kprobes only.
    Kprobe,
    /// `fentry:`/`fexit:` — BPF trampolines only.
    Fentry,
    /// `uprobe:`/`uretprobe:` — user-space probes.
    Uprobe,
    /// `profile:` — CPU sampling with perf events.
    PerfEvent,
}

impl Feature {
    /// Every feature, in catalogue order.
    pub const ALL: [Feature; 7] = [
        Feature::Tracepoint,
        Feature::TpBtf,
        Feature::KprobeOrFentry,
        Feature::Kprobe,
        Feature::Fentry,
        Feature::Uprobe,
        Feature::PerfEvent,
    ];

    /// The name used in the catalogue.
    pub fn name(self) -> &'static str {
        match self {
            Feature::Tracepoint => "tracepoint",
            Feature::TpBtf => "tp_btf",
            Feature::KprobeOrFentry => "kprobe-or-fentry",
            Feature::Kprobe => "kprobe",
            Feature::Fentry => "fentry",
            Feature::Uprobe => "uprobe",
            Feature::PerfEvent => "perf_event",
        }
    }

    /// What the kernel must offer, in words.
    pub fn meaning(self) -> &'static str {
        match self {
            Feature::Tracepoint => "static tracepoints (tracefs)",
            Feature::TpBtf => "BTF-typed raw tracepoints (kernel BTF)",
            Feature::KprobeOrFentry => {
                "BPF trampolines (fentry/fexit) or, as a fallback, kprobes (CONFIG_KPROBES)"
            }
            Feature::Kprobe => "kprobes (CONFIG_KPROBES)",
            Feature::Fentry => "BPF trampolines (fentry/fexit)",
            Feature::Uprobe => "user-space probes (CONFIG_UPROBES)",
            Feature::PerfEvent => "CPU sampling with perf events (CONFIG_PERF_EVENTS)",
        }
    }

    /// Parses a catalogue name.
    pub fn parse(s: &str) -> Option<Feature> {
        Feature::ALL.into_iter().find(|f| f.name() == s)
    }

    /// The feature a probe (`kind:target`) needs; `None` for an unknown kind.
    pub fn of_probe(probe: &str) -> Option<Feature> {
        let kind = probe.split_once(':').map_or(probe, |(k, _)| k);
        Some(match kind {
            "tracepoint" => Feature::Tracepoint,
            "tp_btf" => Feature::TpBtf,
            "kfunc" | "kretfunc" => Feature::KprobeOrFentry,
            "kprobe" | "kretprobe" => Feature::Kprobe,
            "fentry" | "fexit" => Feature::Fentry,
            "uprobe" | "uretprobe" => Feature::Uprobe,
            "profile" => Feature::PerfEvent,
            _ => return None,
        })
    }

    /// True when this kernel may lack the feature even with BTF and root
    /// (kprobes compiled out, trampolines refused): recipes needing it are
    /// exercised in the VM matrix.
    pub fn needs_kernel_functions(self) -> bool {
        matches!(
            self,
            Feature::KprobeOrFentry | Feature::Kprobe | Feature::Fentry
        )
    }
}

/// What a spec's probes need: kernel features, and the user-space binaries
/// or libraries its uprobes attach to (as written in the spec).
pub fn needs_of(spec: &Spec) -> (BTreeSet<Feature>, BTreeSet<String>) {
    let mut features = BTreeSet::new();
    let mut files = BTreeSet::new();
    // A paired probe's end needs its kind's feature too.
    let probes = spec
        .probes
        .iter()
        .flat_map(|p| std::iter::once(&p.probe).chain(p.end.as_ref()));
    for p in probes {
        let probe = p.value.as_str();
        if let Some(f) = Feature::of_probe(probe) {
            features.insert(f);
            if f == Feature::Uprobe {
                let target = probe.split_once(':').map_or("", |(_, t)| t);
                if let Some((binary, _symbol)) = target.rsplit_once(':') {
                    files.insert(binary.to_string());
                }
            }
        }
    }
    (features, files)
}

/// A tag of the catalogue's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag (`net`).
    pub name: String,
    /// What recipes with this tag are about.
    pub description: String,
}

/// A recipe's catalogue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The recipe's name.
    pub name: String,
    /// The classic tool it mirrors (`bcc execsnoop`).
    pub mirrors: String,
    /// Its tags, from the vocabulary, as listed.
    pub tags: Vec<String>,
    /// The kernel features its probes need.
    pub features: Vec<Feature>,
    /// User-space binaries and libraries its uprobes attach to.
    pub requires: Vec<String>,
    /// The oldest kernel whose tracepoints have the fields it reads
    /// (`MAJOR.MINOR`), when stated.
    pub min_kernel: Option<String>,
    /// What the mirrored tool shows that the recipe does not, and why.
    pub lacks: Option<String>,
}

/// The catalogue: the tag vocabulary and one entry per bundled recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    /// The tag vocabulary, in file order.
    pub tags: Vec<Tag>,
    /// One entry per recipe, sorted by name.
    pub entries: Vec<Entry>,
}

impl Catalogue {
    /// The entry of a recipe.
    pub fn entry(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// A tag of the vocabulary.
    pub fn tag(&self, name: &str) -> Option<&Tag> {
        self.tags.iter().find(|t| t.name == name)
    }

    /// The tag names, sorted.
    pub fn tag_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.tags.iter().map(|t| t.name.as_str()).collect();
        v.sort_unstable();
        v
    }
}

/// The bundled catalogue, checked against the bundled recipes. The error is
/// rendered diagnostics pointing into `specs/index.yaml`.
pub fn catalogue() -> Result<Catalogue, String> {
    let Some(src) = INDEX else {
        return Err(format!(
            "this tracectl was built without {INDEX_FILE}, the recipe catalogue; \
             add it and rebuild"
        ));
    };
    let names: Vec<&str> = all().iter().map(|r| r.name).collect();
    parse_catalogue(src, &names).map_err(|d| render(INDEX_FILE, src, &d, false))
}

/// Parses a catalogue and checks it: known keys, tags from the vocabulary,
/// known features, and exactly one entry per name in `recipes`.
pub fn parse_catalogue(src: &str, recipes: &[&str]) -> Result<Catalogue, Vec<Diagnostic>> {
    let root = yaml::parse(src).map_err(|d| vec![d])?;
    let mut diags = Vec::new();
    let Node::Map(top, top_span) = &root else {
        return Err(vec![Diagnostic::error(
            root.span(),
            "the catalogue must be a mapping with `tags:` and `recipes:`",
        )
        .label(format!("this is {}", root.kind()))]);
    };
    let mut tags_node = None;
    let mut recipes_node = None;
    for (k, v) in top {
        match k.value.as_str() {
            "tags" => tags_node = Some(v),
            "recipes" => recipes_node = Some(v),
            other => diags.push(unknown_key(k, other, &["tags", "recipes"])),
        }
    }
    let tags = match tags_node {
        Some(n) => parse_tags(n, &mut diags),
        None => {
            diags.push(missing(*top_span, "tags", "the catalogue"));
            Vec::new()
        }
    };
    let tag_names: Vec<&str> = tags.iter().map(|t| t.name.as_str()).collect();
    let mut entries = Vec::new();
    let mut entry_spans = Vec::new();
    match recipes_node {
        Some(Node::Map(items, _)) => {
            for (k, v) in items {
                if let Some(e) = parse_entry(k, v, &tag_names, &mut diags) {
                    if entries.iter().any(|x: &Entry| x.name == e.name) {
                        diags.push(
                            Diagnostic::error(
                                k.span,
                                format!("recipe `{}` is listed twice", e.name),
                            )
                            .label("second entry"),
                        );
                        continue;
                    }
                    entry_spans.push((e.name.clone(), k.span));
                    entries.push(e);
                }
            }
        }
        Some(other) => diags.push(
            Diagnostic::error(other.span(), "`recipes:` must map recipe names to entries")
                .label(format!("this is {}", other.kind())),
        ),
        None => diags.push(missing(*top_span, "recipes", "the catalogue")),
    }
    // Both ways: every bundled recipe has an entry, every entry a recipe.
    for (name, span) in &entry_spans {
        if !recipes.contains(&name.as_str()) {
            let mut d = Diagnostic::error(*span, format!("no spec file for recipe `{name}`"))
                .label("listed here")
                .note(format!(
                    "add specs/{name}.yaml, or remove this entry; entries are spec file names without the extension"
                ));
            if let Some(b) = closest(name, recipes.iter().copied()) {
                d = d.note(format!("did you mean `{b}`?"));
            }
            diags.push(d);
        }
    }
    let mut missing_entries: Vec<&str> = recipes
        .iter()
        .copied()
        .filter(|r| !entries.iter().any(|e| e.name == *r))
        .collect();
    missing_entries.sort_unstable();
    if !missing_entries.is_empty() {
        let span = recipes_node.map_or(*top_span, Node::span);
        diags.push(
            Diagnostic::error(
                Span::new(span.start as usize, span.start as usize),
                format!(
                    "the catalogue has no entry for {}",
                    quoted_list(&missing_entries)
                ),
            )
            .label("in `recipes:`")
            .note("every spec in specs/ needs an entry with mirrors, tags and features"),
        );
    }
    // Every tag of the vocabulary is used (an unused tag lists nothing).
    for t in &tags {
        if !entries.iter().any(|e| e.tags.contains(&t.name)) {
            let span = tags_node
                .and_then(|n| match n {
                    Node::Map(items, _) => items
                        .iter()
                        .find(|(k, _)| k.value == t.name)
                        .map(|(k, _)| k.span),
                    _ => None,
                })
                .unwrap_or(*top_span);
            diags.push(
                Diagnostic::error(span, format!("no recipe has the tag `{}`", t.name))
                    .label("unused tag")
                    .note("tag a recipe with it, or remove it from the vocabulary"),
            );
        }
    }
    if !diags.is_empty() {
        return Err(diags);
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Catalogue { tags, entries })
}

fn parse_tags(n: &Node, diags: &mut Vec<Diagnostic>) -> Vec<Tag> {
    let Node::Map(items, _) = n else {
        diags.push(
            Diagnostic::error(n.span(), "`tags:` must map each tag to its description")
                .label(format!("this is {}", n.kind())),
        );
        return Vec::new();
    };
    let mut tags: Vec<Tag> = Vec::new();
    for (k, v) in items {
        if !is_tag_name(&k.value) {
            diags.push(
                Diagnostic::error(k.span, format!("`{}` is not a tag name", k.value))
                    .label("tags are lower-case words: [a-z][a-z0-9-]*"),
            );
            continue;
        }
        if tags.iter().any(|t| t.name == k.value) {
            diags.push(
                Diagnostic::error(k.span, format!("tag `{}` is defined twice", k.value))
                    .label("second definition"),
            );
            continue;
        }
        match scalar(v) {
            Some(s) if !s.value.trim().is_empty() => tags.push(Tag {
                name: k.value.clone(),
                description: s.value.clone(),
            }),
            _ => diags.push(
                Diagnostic::error(v.span(), format!("tag `{}` has no description", k.value))
                    .label("expected one line saying what the tag covers"),
            ),
        }
    }
    tags
}

const ENTRY_KEYS: [&str; 6] = [
    "mirrors",
    "tags",
    "features",
    "requires",
    "min_kernel",
    "lacks",
];

fn parse_entry(
    key: &Scalar,
    v: &Node,
    tags: &[&str],
    diags: &mut Vec<Diagnostic>,
) -> Option<Entry> {
    let name = key.value.clone();
    let Node::Map(items, span) = v else {
        diags.push(
            Diagnostic::error(v.span(), format!("the entry of `{name}` must be a mapping"))
                .label(format!("this is {}", v.kind()))
                .note(format!("keys: {}", ENTRY_KEYS.join(", "))),
        );
        return None;
    };
    let before = diags.len();
    let mut entry = Entry {
        name: name.clone(),
        mirrors: String::new(),
        tags: Vec::new(),
        features: Vec::new(),
        requires: Vec::new(),
        min_kernel: None,
        lacks: None,
    };
    let (mut has_mirrors, mut has_tags, mut has_features) = (false, false, false);
    for (k, val) in items {
        match k.value.as_str() {
            "mirrors" => match scalar(val) {
                Some(s) if !s.value.trim().is_empty() => {
                    entry.mirrors = s.value.clone();
                    has_mirrors = true;
                }
                _ => diags.push(
                    Diagnostic::error(val.span(), "`mirrors:` must name the classic tool")
                        .label("e.g. `bcc execsnoop`"),
                ),
            },
            "tags" => {
                has_tags = true;
                let list = string_list(val, "tags", diags);
                if list.is_empty() && matches!(val, Node::Seq(..)) {
                    diags.push(
                        Diagnostic::error(val.span(), format!("`{name}` has no tags"))
                            .label("empty list")
                            .note(format!("the tags are: {}", sorted_join(tags))),
                    );
                }
                for s in list {
                    if !tags.contains(&s.value.as_str()) {
                        let mut d = Diagnostic::error(
                            s.span,
                            format!("`{}` is not in the tag vocabulary", s.value),
                        )
                        .label("unknown tag")
                        .note(format!("the tags are: {}", sorted_join(tags)));
                        if let Some(b) = closest(&s.value, tags.iter().copied()) {
                            d = d.note(format!("did you mean `{b}`?"));
                        }
                        diags.push(d);
                    } else if entry.tags.contains(&s.value) {
                        diags.push(
                            Diagnostic::error(s.span, format!("tag `{}` is listed twice", s.value))
                                .label("duplicate"),
                        );
                    } else {
                        entry.tags.push(s.value.clone());
                    }
                }
            }
            "features" => {
                has_features = true;
                for s in string_list(val, "features", diags) {
                    match Feature::parse(&s.value) {
                        Some(f) if !entry.features.contains(&f) => entry.features.push(f),
                        Some(_) => diags.push(
                            Diagnostic::error(
                                s.span,
                                format!("feature `{}` is listed twice", s.value),
                            )
                            .label("duplicate"),
                        ),
                        None => {
                            let names = Feature::ALL.map(Feature::name);
                            let mut d = Diagnostic::error(
                                s.span,
                                format!("`{}` is not a kernel feature", s.value),
                            )
                            .label("unknown feature")
                            .note(format!("the features are: {}", names.join(", ")));
                            if let Some(b) = closest(&s.value, names) {
                                d = d.note(format!("did you mean `{b}`?"));
                            }
                            diags.push(d);
                        }
                    }
                }
            }
            "requires" => {
                for s in string_list(val, "requires", diags) {
                    entry.requires.push(s.value.clone());
                }
            }
            "min_kernel" => match scalar(val) {
                Some(s) if is_kernel_version(&s.value) => entry.min_kernel = Some(s.value.clone()),
                _ => diags.push(
                    Diagnostic::error(val.span(), "`min_kernel:` must be a version MAJOR.MINOR")
                        .label("e.g. \"6.8\" (quoted, so YAML keeps it a string)"),
                ),
            },
            "lacks" => match scalar(val) {
                Some(s) if !s.value.trim().is_empty() => entry.lacks = Some(s.value.clone()),
                _ => diags.push(
                    Diagnostic::error(val.span(), "`lacks:` must be a sentence")
                        .label("say what the mirrored tool shows that the recipe does not"),
                ),
            },
            other => diags.push(unknown_key(k, other, &ENTRY_KEYS)),
        }
    }
    let what = format!("the entry of `{name}`");
    if !has_mirrors {
        diags.push(missing(*span, "mirrors", &what));
    }
    if !has_tags {
        diags.push(missing(*span, "tags", &what));
    }
    if !has_features {
        diags.push(missing(*span, "features", &what));
    }
    (diags.len() == before).then_some(entry)
}

fn scalar(n: &Node) -> Option<&Scalar> {
    match n {
        Node::Scalar(s) if !s.is_null() => Some(s),
        _ => None,
    }
}

/// A list of scalars (`[a, b]` or a block list).
fn string_list<'a>(n: &'a Node, key: &str, diags: &mut Vec<Diagnostic>) -> Vec<&'a Scalar> {
    let Node::Seq(items, _) = n else {
        diags.push(
            Diagnostic::error(n.span(), format!("`{key}:` must be a list"))
                .label(format!("this is {}", n.kind()))
                .note(format!("write `{key}: [a, b]`")),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for it in items {
        match scalar(it) {
            Some(s) => out.push(s),
            None => diags.push(
                Diagnostic::error(it.span(), format!("items of `{key}:` must be words"))
                    .label(format!("this is {}", it.kind())),
            ),
        }
    }
    out
}

fn unknown_key(k: &Scalar, key: &str, known: &[&str]) -> Diagnostic {
    let mut d = Diagnostic::error(k.span, format!("unknown key `{key}`"))
        .label("not a catalogue key")
        .note(format!("the keys here are: {}", known.join(", ")));
    if let Some(b) = closest(key, known.iter().copied()) {
        d = d.note(format!("did you mean `{b}`?"));
    }
    d
}

fn missing(span: Span, key: &str, what: &str) -> Diagnostic {
    Diagnostic::error(
        Span::new(span.start as usize, span.start as usize),
        format!("{what} has no `{key}:`"),
    )
    .label(format!("`{key}:` is required"))
}

fn sorted_join(names: &[&str]) -> String {
    let mut v = names.to_vec();
    v.sort_unstable();
    v.join(", ")
}

fn is_tag_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_lowercase())
        && c.all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
}

fn is_kernel_version(s: &str) -> bool {
    let mut parts = s.split('.');
    let ok = |p: Option<&str>| {
        p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
    };
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "\
tags:
  net: networking
  fs: files
recipes:
  a:
    mirrors: bcc a
    tags: [net]
    features: [tracepoint]
  b:
    mirrors: bcc b
    tags: [fs, net]
    features: [uprobe]
    requires: [libc]
    min_kernel: \"6.8\"
    lacks: latency
";

    #[test]
    fn parses_a_good_catalogue() {
        let c = parse_catalogue(GOOD, &["b", "a"]).unwrap();
        assert_eq!(c.tag_names(), vec!["fs", "net"]);
        assert_eq!(c.entries.len(), 2);
        let b = c.entry("b").unwrap();
        assert_eq!(b.mirrors, "bcc b");
        assert_eq!(b.tags, vec!["fs", "net"]);
        assert_eq!(b.features, vec![Feature::Uprobe]);
        assert_eq!(b.requires, vec!["libc"]);
        assert_eq!(b.min_kernel.as_deref(), Some("6.8"));
        assert_eq!(b.lacks.as_deref(), Some("latency"));
        assert_eq!(c.entry("a").unwrap().lacks, None);
        assert_eq!(c.tag("net").unwrap().description, "networking");
    }

    fn errors(src: &str, recipes: &[&str]) -> Vec<String> {
        parse_catalogue(src, recipes)
            .unwrap_err()
            .into_iter()
            .map(|d| d.message)
            .collect()
    }

    #[test]
    fn unknown_tag_feature_and_key_are_located_errors() {
        let src = GOOD
            .replace("tags: [net]", "tags: [nett]")
            .replace("features: [uprobe]", "features: [uprobes]")
            .replace("mirrors: bcc b", "mirror: bcc b");
        let e = errors(&src, &["a", "b"]);
        assert!(
            e.iter().any(|m| m == "`nett` is not in the tag vocabulary"),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m == "`uprobes` is not a kernel feature"),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m == "unknown key `mirror`"), "{e:?}");
        let d = parse_catalogue(&src, &["a", "b"]).unwrap_err();
        let nett = d.iter().find(|d| d.message.contains("nett")).unwrap();
        assert_eq!(&src[nett.span.range()], "nett");
    }

    #[test]
    fn specs_and_entries_must_match_both_ways() {
        let e = errors(GOOD, &["a", "c"]);
        assert!(
            e.iter().any(|m| m == "no spec file for recipe `b`"),
            "{e:?}"
        );
        assert!(
            e.iter().any(|m| m == "the catalogue has no entry for `c`"),
            "{e:?}"
        );
    }

    #[test]
    fn unused_tags_and_bad_versions_are_errors() {
        let src = GOOD
            .replace("  fs: files\n", "  fs: files\n  memory: oom\n")
            .replace("\"6.8\"", "6");
        let e = errors(&src, &["a", "b"]);
        assert!(
            e.iter().any(|m| m == "no recipe has the tag `memory`"),
            "{e:?}"
        );
        assert!(e.iter().any(|m| m.contains("MAJOR.MINOR")), "{e:?}");
    }

    #[test]
    fn features_follow_probe_kinds() {
        assert_eq!(
            Feature::of_probe("kfunc:tcp_connect"),
            Some(Feature::KprobeOrFentry)
        );
        assert_eq!(Feature::of_probe("kretprobe:x"), Some(Feature::Kprobe));
        assert_eq!(Feature::of_probe("fexit:x"), Some(Feature::Fentry));
        assert_eq!(Feature::of_probe("tp_btf:x"), Some(Feature::TpBtf));
        assert_eq!(
            Feature::of_probe("uretprobe:/bin/bash:readline"),
            Some(Feature::Uprobe)
        );
        assert_eq!(
            Feature::of_probe("tracepoint:a:b"),
            Some(Feature::Tracepoint)
        );
        assert_eq!(Feature::of_probe("k:x"), None);
        for f in Feature::ALL {
            assert_eq!(Feature::parse(f.name()), Some(f));
        }
    }

    #[test]
    fn the_bundled_catalogue_is_valid() {
        let c = catalogue().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.entries.len(), all().len());
    }
}
