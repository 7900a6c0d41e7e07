//! Tracepoint formats: from tracefs (`events/CAT/NAME/format`) or, when
//! tracefs is not readable or another kernel's BTF is used, derived from BTF.

// CONTRACT SKELETON: bodies are being written; signatures are the contract.

use crate::btf::Btf;
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

/// The mounted tracefs root, if any (`/sys/kernel/tracing`, then `/sys/kernel/debug/tracing`).
pub fn tracefs_root() -> Option<PathBuf> {
    todo!()
}

/// Parses the text of a tracefs `format` file.
pub fn parse_format(_text: &str) -> Result<TpFormat, String> {
    todo!()
}

/// Reads `ROOT/events/CAT/NAME/format`.
pub fn read_format(_root: &Path, _category: &str, _name: &str) -> Option<TpFormat> {
    todo!()
}

/// Derives a tracepoint's format from BTF, when BTF knows enough.
pub fn format_from_btf(_btf: &Btf, _category: &str, _name: &str) -> Option<TpFormat> {
    todo!()
}

impl TpSource<'_> {
    /// The format of `category:name`, if the tracepoint exists.
    pub fn format(&self, _category: &str, _name: &str) -> Option<TpFormat> {
        todo!()
    }

    /// Every known `category:name` (for "did you mean").
    pub fn events(&self) -> Vec<String> {
        todo!()
    }
}
