//! Tracepoint formats: from tracefs (`events/CAT/NAME/format`) or, when
//! tracefs is not readable or another kernel's BTF is used, derived from BTF.

use crate::btf::{Btf, Type, TypeId};
use std::path::{Path, PathBuf};

/// One field of a tracepoint record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpField {
    /// Field name (`filename`).
    pub name: String,
    /// C type as written (`const char *`, `char[16]`, `__data_loc char[]`).
    pub c_type: String,
    /// Byte offset in the record.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
    /// Signedness from the format.
    pub signed: bool,
    /// A `__data_loc` (dynamic array/string) field.
    pub data_loc: bool,
    /// One of the `common_*` fields every record starts with.
    pub common: bool,
}

/// The format of one tracepoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TpFormat {
    /// Fields in record order, common ones included.
    pub fields: Vec<TpField>,
}

/// Where tracepoint formats come from.
pub enum TpSource<'a> {
    /// A mounted tracefs at this root (`/sys/kernel/tracing`).
    Tracefs(PathBuf),
    /// Derived from BTF (`struct trace_event_raw_NAME`, syscall prototypes).
    Btf(&'a Btf),
}

/// Where tracefs is usually mounted, in order of preference.
pub const TRACEFS_ROOTS: [&str; 2] = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

/// The mounted tracefs root, if any (`/sys/kernel/tracing`, then `/sys/kernel/debug/tracing`).
///
/// A root counts only if its `events/` directory is visible (tracefs is
/// mounted and readable by us); nothing is mounted.
pub fn tracefs_root() -> Option<PathBuf> {
    TRACEFS_ROOTS
        .iter()
        .map(PathBuf::from)
        .find(|root| root.join("events").is_dir())
}

/// Parses the text of a tracefs `format` file.
///
/// Reads every `field:TYPE NAME;\toffset:N;\tsize:N;\tsigned:N;` line (other
/// lines are ignored). The name is the declaration's last identifier; array
/// dimensions move to the type (`char comm[16]` → `char[16]` `comm`);
/// whitespace in the type is collapsed (`const char *const *`). `signed`
/// may be missing (very old kernels): it is then false.
pub fn parse_format(text: &str) -> Result<TpFormat, String> {
    let mut fields = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("field:") else {
            continue;
        };
        let field = parse_field(rest).map_err(|e| format!("line {}: {e}", n + 1))?;
        fields.push(field);
    }
    if fields.is_empty() {
        return Err("no `field:` lines in the format".to_string());
    }
    Ok(TpFormat { fields })
}

fn parse_field(rest: &str) -> Result<TpField, String> {
    let mut parts = rest.split(';');
    let decl = parts.next().unwrap_or_default();
    let (c_type, name) = split_declaration(decl)?;
    let (mut offset, mut size, mut signed) = (None, None, false);
    for part in parts {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once(':') else {
            return Err(format!("expected `key:value`, found `{part}`"));
        };
        let value = value.trim();
        let number = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("bad {} `{value}`", key.trim()))
        };
        match key.trim() {
            "offset" => offset = Some(number()?),
            "size" => size = Some(number()?),
            "signed" => signed = number()? != 0,
            _ => {}
        }
    }
    let offset = offset.ok_or_else(|| format!("field `{name}` has no offset"))?;
    let size = size.ok_or_else(|| format!("field `{name}` has no size"))?;
    Ok(TpField {
        data_loc: c_type == "__data_loc" || c_type.starts_with("__data_loc "),
        common: name.starts_with("common_"),
        name,
        c_type,
        offset,
        size,
        signed,
    })
}

/// `char comm[16]` → (`char[16]`, `comm`); `const char * filename` →
/// (`const char *`, `filename`); `__data_loc char[] name` →
/// (`__data_loc char[]`, `name`).
fn split_declaration(decl: &str) -> Result<(String, String), String> {
    let decl = decl.trim();
    let (head, dims) = if decl.ends_with(']') {
        let open = decl
            .find('[')
            .ok_or_else(|| format!("unbalanced `]` in `{decl}`"))?;
        let dims: String = decl[open..]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        (decl[..open].trim_end(), dims)
    } else {
        (decl, String::new())
    };
    let name_start = crate::syntax::trailing_word_start(head);
    let name = &head[name_start..];
    let ty = head[..name_start].trim();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) || ty.is_empty() {
        return Err(format!("cannot split `{decl}` into a type and a name"));
    }
    let ty = ty.split_whitespace().collect::<Vec<_>>().join(" ");
    Ok((format!("{ty}{dims}"), name.to_string()))
}

/// Whether `part` is usable as one path component of an event name.
fn safe_component(part: &str) -> bool {
    !part.is_empty() && !part.contains(['/', '\0']) && !part.contains("..")
}

/// Reads `ROOT/events/CAT/NAME/format`.
///
/// `None` when the event does not exist, is unreadable, the format does not
/// parse, or a name contains `/` or `..`.
pub fn read_format(root: &Path, category: &str, name: &str) -> Option<TpFormat> {
    if !safe_component(category) || !safe_component(name) {
        return None;
    }
    let path = root.join("events").join(category).join(name).join("format");
    let text = std::fs::read_to_string(path).ok()?;
    parse_format(&text).ok()
}

/// Every `category:name` under a tracefs root, sorted: from
/// `available_events`, else by walking `events/*/*/format`.
pub fn event_list_from_tracefs(root: &Path) -> Vec<String> {
    let mut events: Vec<String> = std::fs::read_to_string(root.join("available_events"))
        .map(|text| {
            text.lines()
                .map(str::trim)
                .filter(|l| {
                    l.split_once(':')
                        .is_some_and(|(c, n)| !c.is_empty() && !n.is_empty())
                })
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if events.is_empty() {
        let dirs = |p: &Path| -> Vec<(String, PathBuf)> {
            std::fs::read_dir(p)
                .map(|rd| {
                    rd.filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .filter_map(|e| Some((e.file_name().into_string().ok()?, e.path())))
                        .collect()
                })
                .unwrap_or_default()
        };
        for (category, cat_path) in dirs(&root.join("events")) {
            for (name, path) in dirs(&cat_path) {
                if path.join("format").is_file() {
                    events.push(format!("{category}:{name}"));
                }
            }
        }
    }
    events.sort_unstable();
    events.dedup();
    events
}

/// The four `common_*` fields every trace record starts with (`struct trace_entry`).
fn common_fields() -> Vec<TpField> {
    [
        ("unsigned short", "common_type", 0, 2, false),
        ("unsigned char", "common_flags", 2, 1, false),
        ("unsigned char", "common_preempt_count", 3, 1, false),
        ("int", "common_pid", 4, 4, true),
    ]
    .into_iter()
    .map(|(c_type, name, offset, size, signed)| TpField {
        name: name.to_string(),
        c_type: c_type.to_string(),
        offset,
        size,
        signed,
        data_loc: false,
        common: true,
    })
    .collect()
}

fn field(name: &str, c_type: String, offset: u32, size: u32, signed: bool) -> TpField {
    TpField {
        name: name.to_string(),
        c_type,
        offset,
        size,
        signed,
        data_loc: false,
        common: false,
    }
}

/// Whether a field of BTF type `ty` is signed as tracefs says it: signed
/// integers and enums, and arrays of them.
fn btf_signed(btf: &Btf, ty: TypeId) -> bool {
    let mut id = ty;
    for _ in 0..8 {
        match btf.ty(btf.strip(id)) {
            Type::Int { signed, .. } | Type::Enum { signed, .. } => return signed,
            Type::Array { elem, .. } => id = elem,
            _ => return false,
        }
    }
    false
}

/// Prefixes of the arch syscall wrappers (`__x64_sys_openat`): their
/// existence proves a syscall, not its parameters.
const SYSCALL_WRAPPERS: [&str; 5] = [
    "__x64_sys_",
    "__arm64_sys_",
    "__riscv_sys_",
    "__s390x_sys_",
    "__powerpc_sys_",
];

/// The FUNC whose parameters are syscall `sys`'s (`__do_sys_X`, else `__se_sys_X`).
fn syscall_func(btf: &Btf, sys: &str) -> Option<TypeId> {
    btf.find_func(&format!("__do_sys_{sys}"))
        .or_else(|| btf.find_func(&format!("__se_sys_{sys}")))
}

/// `__syscall_nr`, as in every syscalls:* format.
fn syscall_nr() -> TpField {
    field("__syscall_nr", "int".to_string(), 8, 4, true)
}

/// Syscall arguments as x86-64 tracefs declares them (C type, name, signed),
/// one syscall per line; generated by `scripts/gen-syscall-table.sh`.
const SYSCALL_TABLE: &str = include_str!("syscalls_x86_64.tsv");

/// The line of syscall `sys` in [`SYSCALL_TABLE`].
fn syscall_table_line(sys: &str) -> Option<&'static str> {
    SYSCALL_TABLE
        .lines()
        .find(|l| l.split('\t').next() == Some(sys))
}

/// The argument fields of syscall `sys` from [`SYSCALL_TABLE`].
fn syscall_args_from_table(sys: &str) -> Option<Vec<TpField>> {
    let line = syscall_table_line(sys)?;
    let mut fields = Vec::new();
    for (i, arg) in line.split('\t').skip(1).enumerate() {
        let (decl, signed) = arg.rsplit_once(':')?;
        let (c_type, name) = split_declaration(decl).ok()?;
        fields.push(field(&name, c_type, 16 + 8 * i as u32, 8, signed == "1"));
    }
    Some(fields)
}

/// Does BTF know syscall `sys` (its `__do_sys_X`/`__se_sys_X` or an arch
/// wrapper such as `__x64_sys_X`)?
fn syscall_known(btf: &Btf, sys: &str) -> bool {
    !sys.is_empty()
        && (syscall_func(btf, sys).is_some()
            || SYSCALL_WRAPPERS
                .iter()
                .any(|w| btf.find_func(&format!("{w}{sys}")).is_some()))
}

fn syscall_enter_from_btf(btf: &Btf, sys: &str) -> Option<TpFormat> {
    let Some(func) = syscall_func(btf, sys) else {
        // BTF proves the syscall exists but does not name its arguments:
        // the table does (syscall arguments are a stable ABI).
        if !syscall_known(btf, sys) {
            return None;
        }
        let mut fields = common_fields();
        fields.push(syscall_nr());
        fields.extend(syscall_args_from_table(sys)?);
        return Some(TpFormat { fields });
    };
    let (mut params, _) = btf.func_signature(func)?;
    // SYSCALL_DEFINE0 makes `__do_sys_X(const struct pt_regs *__unused)` on
    // some architectures: the syscall has no parameters.
    if params.len() == 1 && params[0].name == "__unused" {
        params.clear();
    }
    let mut fields = common_fields();
    fields.push(syscall_nr());
    for (i, p) in params.iter().enumerate() {
        let name = if p.name.is_empty() {
            format!("arg{i}")
        } else {
            p.name.to_string()
        };
        // The kernel declares every syscall argument field unsigned.
        fields.push(field(&name, btf.display(p.ty), 16 + 8 * i as u32, 8, false));
    }
    Some(TpFormat { fields })
}

fn syscall_exit_from_btf(btf: &Btf, sys: &str) -> Option<TpFormat> {
    if !syscall_known(btf, sys) {
        return None;
    }
    let mut fields = common_fields();
    fields.push(syscall_nr());
    fields.push(field("ret", "long".to_string(), 16, 8, true));
    Some(TpFormat { fields })
}

fn event_from_btf(btf: &Btf, name: &str) -> Option<TpFormat> {
    let record = btf.event_record(name)?;
    let members = btf.members(record);
    let mut fields = common_fields();
    for (i, m) in members.iter().enumerate() {
        if i == 0 && m.name == "ent" {
            continue;
        }
        let offset = m.bit_offset / 8;
        if let Some(field_name) = m.name.strip_prefix("__data_loc_") {
            fields.push(TpField {
                data_loc: true,
                ..field(
                    field_name,
                    "__data_loc char[]".to_string(),
                    offset,
                    4,
                    false,
                )
            });
            continue;
        }
        if let Some(field_name) = m.name.strip_prefix("__rel_loc_") {
            fields.push(field(
                field_name,
                "__rel_loc char[]".to_string(),
                offset,
                4,
                false,
            ));
            continue;
        }
        let size = btf.size_of(m.ty).unwrap_or(0);
        if m.name == "__data" && size == 0 {
            continue;
        }
        fields.push(field(
            m.name,
            btf.display(m.ty),
            offset,
            size,
            btf_signed(btf, m.ty),
        ));
    }
    Some(TpFormat { fields })
}

/// Derives a tracepoint's format from BTF, when BTF knows enough.
///
/// * `syscalls:sys_enter_X`: the common fields, `__syscall_nr` (int at 8),
///   then parameter *i* of the syscall at `16 + 8 * i` (8 bytes), named and
///   typed after FUNC `__do_sys_X`, else `__se_sys_X` (whose types are all
///   `long`). When neither exists (the compiler may have inlined both:
///   e.g. x86-64 6.x kernels have `__do_sys_X` for about a hundred
///   syscalls) but an arch wrapper (`__x64_sys_X`) proves the syscall, the
///   arguments come from a table of x86-64 syscall formats generated from
///   tracefs (`syscalls_x86_64.tsv`).
/// * `syscalls:sys_exit_X`: the common fields, `__syscall_nr`, `ret` (long
///   at 16), when BTF knows syscall X (`__do_sys_X`, `__se_sys_X` or an arch
///   wrapper such as `__x64_sys_X`).
/// * Any other event: `struct trace_event_raw_NAME`, which BTF has for the
///   events declared with `TRACE_EVENT`; an event made with `DEFINE_EVENT`
///   from a class of another name uses the class's struct, the class being
///   found through the raw tracepoint's parameter types
///   ([`Btf::event_record`]). The category is not checked (BTF does not know it). Its `ent`
///   member becomes the four `common_*` fields; a `u32 __data_loc_X` member
///   becomes field `X` with `data_loc: true` and c_type `__data_loc char[]`
///   (BTF does not say the element type: strings are by far the most
///   common); `__rel_loc_X` becomes `X` with c_type `__rel_loc char[]` and
///   `data_loc: false`; the trailing `char __data[]` is dropped. Other
///   c_types are [`Btf::display`]s, so they may be spelled differently from
///   tracefs (`long unsigned int` for `unsigned long`).
pub fn format_from_btf(btf: &Btf, category: &str, name: &str) -> Option<TpFormat> {
    if category == "syscalls" {
        if let Some(sys) = name.strip_prefix("sys_enter_") {
            return syscall_enter_from_btf(btf, sys);
        }
        if let Some(sys) = name.strip_prefix("sys_exit_") {
            return syscall_exit_from_btf(btf, sys);
        }
    }
    event_from_btf(btf, name)
}

/// The events [`format_from_btf`] knows, sorted: `syscalls:sys_enter_X` and
/// `syscalls:sys_exit_X` for every `__do_sys_X`/`__se_sys_X` FUNC,
/// `syscalls:sys_exit_X` for every arch wrapper (`__x64_sys_X`) (and
/// `sys_enter_X` when the syscall table knows X), and
/// `*:NAME` for every `struct trace_event_raw_NAME` (BTF does not know the
/// category: [`TpSource::format`] accepts any for those).
pub fn event_list_from_btf(btf: &Btf) -> Vec<String> {
    let mut events = Vec::new();
    for f in btf.func_names() {
        if let Some(sys) = f
            .strip_prefix("__do_sys_")
            .or_else(|| f.strip_prefix("__se_sys_"))
        {
            events.push(format!("syscalls:sys_enter_{sys}"));
            events.push(format!("syscalls:sys_exit_{sys}"));
        } else if let Some(sys) = SYSCALL_WRAPPERS.iter().find_map(|w| f.strip_prefix(w)) {
            if sys != "ni_syscall" {
                events.push(format!("syscalls:sys_exit_{sys}"));
                if syscall_table_line(sys).is_some() {
                    events.push(format!("syscalls:sys_enter_{sys}"));
                }
            }
        }
    }
    for s in btf.struct_names() {
        if let Some(name) = s.strip_prefix("trace_event_raw_") {
            if !name.is_empty() {
                events.push(format!("*:{name}"));
            }
        }
    }
    events.sort_unstable();
    events.dedup();
    events
}

impl TpSource<'_> {
    /// The format of `category:name`, if the tracepoint exists.
    ///
    /// From BTF, see [`format_from_btf`]: any category is accepted for
    /// events found through `struct trace_event_raw_NAME`.
    pub fn format(&self, category: &str, name: &str) -> Option<TpFormat> {
        match self {
            TpSource::Tracefs(root) => read_format(root, category, name),
            TpSource::Btf(btf) => format_from_btf(btf, category, name),
        }
    }

    /// Every known `category:name` (for "did you mean").
    ///
    /// From BTF, see [`event_list_from_btf`]: events whose category BTF
    /// cannot know are listed as `*:NAME`.
    pub fn events(&self) -> Vec<String> {
        match self {
            TpSource::Tracefs(root) => event_list_from_tracefs(root),
            TpSource::Btf(btf) => event_list_from_btf(btf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_table_gives_tracefs_layout() {
        let execve = syscall_args_from_table("execve").expect("execve in the table");
        let got: Vec<(&str, &str, u32, u32)> = execve
            .iter()
            .map(|f| (f.name.as_str(), f.c_type.as_str(), f.offset, f.size))
            .collect();
        assert_eq!(
            got,
            vec![
                ("filename", "const char *", 16, 8),
                ("argv", "const char *const *", 24, 8),
                ("envp", "const char *const *", 32, 8),
            ]
        );
        let kill = syscall_args_from_table("kill").expect("kill in the table");
        assert_eq!(kill[1].name, "sig");
        assert_eq!(kill[1].offset, 24);
        assert!(syscall_args_from_table("no_such_syscall").is_none());
        assert!(syscall_args_from_table("").is_none());
    }

    #[test]
    fn syscall_table_lines_all_parse() {
        for line in SYSCALL_TABLE.lines().filter(|l| !l.starts_with('#')) {
            let sys = line.split('\t').next().unwrap_or_default();
            let fields = syscall_args_from_table(sys)
                .unwrap_or_else(|| panic!("table line for {sys} does not parse: {line:?}"));
            assert!(fields.len() <= 6, "{sys}: {} arguments", fields.len());
        }
    }
}
