//! A small, zero-copy reader of kernel BTF.
//!
//! Why our own: the compiler needs to walk types (functions and their
//! parameters, struct members with bit offsets, typedef chains) in a few
//! milliseconds, without root and without the kernel. aya-obj's BTF cannot
//! walk types; btf-rs is GPL-licensed. BTF is a simple format, so a reader of
//! a few hundred lines over the raw bytes (one pass to index type offsets,
//! names compared lazily) is the smallest correct answer.
//!
//! Type ids are those of the BTF blob. Tracepoint formats from tracefs name
//! their types as C strings (`const char *`, `char[16]`); [`Btf::type_from_c`]
//! turns them into *synthetic* ids (above the blob's last id) so that the
//! resolver sees one kind of type everywhere.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// A BTF type id.
pub type TypeId = u32;

/// Errors reading BTF.
#[derive(Debug)]
pub enum BtfError {
    /// The file could not be read.
    Io(std::path::PathBuf, std::io::Error),
    /// The bytes are not BTF (nor an ELF holding a `.BTF` section).
    Format(String),
}

impl std::fmt::Display for BtfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BtfError::Io(p, e) => write!(f, "cannot read BTF from {}: {e}", p.display()),
            BtfError::Format(m) => write!(f, "not valid BTF: {m}"),
        }
    }
}

impl std::error::Error for BtfError {}

/// A resolved view of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Type<'a> {
    /// `void`.
    Void,
    /// An integer (`char`, `_Bool` included).
    Int {
        /// Name (`unsigned int`).
        name: &'a str,
        /// Bytes.
        size: u32,
        /// Signed.
        signed: bool,
        /// C `char` (signed or not).
        is_char: bool,
        /// C `_Bool`.
        is_bool: bool,
    },
    /// A pointer to `target`.
    Ptr {
        /// Pointee.
        target: TypeId,
    },
    /// `elem[len]`.
    Array {
        /// Element type.
        elem: TypeId,
        /// Element count.
        len: u32,
    },
    /// A struct.
    Struct {
        /// Name (empty when anonymous).
        name: &'a str,
        /// Bytes.
        size: u32,
    },
    /// A union.
    Union {
        /// Name (empty when anonymous).
        name: &'a str,
        /// Bytes.
        size: u32,
    },
    /// An enum (32- or 64-bit).
    Enum {
        /// Name (empty when anonymous).
        name: &'a str,
        /// Bytes.
        size: u32,
        /// Signed.
        signed: bool,
    },
    /// A forward declaration (`struct foo;`).
    Fwd {
        /// Name.
        name: &'a str,
        /// Union rather than struct.
        is_union: bool,
    },
    /// `typedef NAME target`.
    Typedef {
        /// Name.
        name: &'a str,
        /// Target.
        target: TypeId,
    },
    /// `const`, `volatile`, `restrict` or a type tag around `target`.
    Qualifier {
        /// Target.
        target: TypeId,
    },
    /// A function (kind FUNC); `proto` is its FUNC_PROTO.
    Func {
        /// Name.
        name: &'a str,
        /// Prototype.
        proto: TypeId,
    },
    /// A function prototype.
    FuncProto {
        /// Return type (0 = void).
        ret: TypeId,
    },
    /// A float.
    Float {
        /// Bytes.
        size: u32,
    },
    /// Anything else (VAR, DATASEC, DECL_TAG).
    Other,
}

/// A struct or union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member<'a> {
    /// Name (empty for an anonymous struct/union member).
    pub name: &'a str,
    /// Type.
    pub ty: TypeId,
    /// Offset from the start of the containing struct, in bits.
    pub bit_offset: u32,
    /// Width in bits for a bitfield, else 0.
    pub bitfield_size: u32,
}

/// A function parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<'a> {
    /// Name (may be empty).
    pub name: &'a str,
    /// Type.
    pub ty: TypeId,
}

/// A member found by name, possibly through anonymous structs/unions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundMember {
    /// The member's type.
    pub ty: TypeId,
    /// Offset from the start of the outer struct, in bits (anonymous levels summed).
    pub bit_offset: u32,
    /// Width in bits for a bitfield, else 0.
    pub bitfield_size: u32,
}

/// An enumerator of an ENUM or ENUM64 type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnumValue<'a> {
    /// Name (`TCP_ESTABLISHED`).
    pub name: &'a str,
    /// Value, as the 64 bits of the enumerator: reinterpret with `as u64`
    /// when the enum is unsigned (`Type::Enum { signed: false, .. }`).
    pub value: i64,
}

/// Where the host kernel exposes its BTF.
pub const HOST_BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// An id that never names a type: [`Btf::strip`] returns it when a chain of
/// typedefs/qualifiers is cyclic or deeper than [`MAX_DEPTH`];
/// [`Btf::ty`] of it is [`Type::Other`].
pub const INVALID_TYPE: TypeId = u32::MAX;

/// Longest chain of typedefs/qualifiers/pointers/arrays/anonymous members any
/// walk follows before giving up (malformed or cyclic BTF).
pub const MAX_DEPTH: usize = 64;

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_HEADER_MIN: usize = 24;

const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_ARRAY: u32 = 3;
const KIND_STRUCT: u32 = 4;
const KIND_UNION: u32 = 5;
const KIND_ENUM: u32 = 6;
const KIND_FWD: u32 = 7;
const KIND_TYPEDEF: u32 = 8;
const KIND_VOLATILE: u32 = 9;
const KIND_CONST: u32 = 10;
const KIND_RESTRICT: u32 = 11;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;

const INT_SIGNED: u32 = 1;
const INT_CHAR: u32 = 2;
const INT_BOOL: u32 = 4;

/// Parsed BTF.
///
/// Holds the file's bytes and, per type id, the offset of its record; every
/// accessor decodes on demand. Name lookups (`find_*`) scan a compact table
/// of name prefixes, built on first use (see [`Btf::find_func`] for costs).
/// `Btf` is `Send + Sync`.
pub struct Btf {
    data: Bytes,
    /// Start and end (exclusive) of the string section in `data`.
    str_start: usize,
    str_end: usize,
    /// `offsets[id]` = offset of type `id`'s record in `data` (`[0]` unused: void).
    offsets: Vec<u32>,
    /// Every INT id (few), for matching C integer spellings.
    ints: Vec<TypeId>,
    /// `keys[id]` = first four bytes of the type's name (0 if anonymous).
    keys: OnceLock<Vec<u32>>,
    synth: Mutex<Synthetic>,
}

/// The bytes of a BTF blob: read into memory, or mapped from a file.
enum Bytes {
    Owned(Vec<u8>),
    Mapped(crate::mapped::Mapped),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m.bytes(),
        }
    }
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("bytes", &self.data.len())
            .field("types", &self.offsets.len())
            .finish_non_exhaustive()
    }
}

/// One decoded type record header.
#[derive(Clone, Copy)]
struct Raw {
    /// Offset of the record in `data`.
    off: usize,
    name_off: u32,
    kind: u32,
    vlen: usize,
    kind_flag: bool,
    /// `size` or `type`, depending on the kind.
    size_type: u32,
}

/// Which qualifier a qualifier type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Qual {
    Const,
    Volatile,
    Restrict,
    /// A BTF type tag (`__user`): not printed.
    Tag,
}

impl Qual {
    fn keyword(self) -> &'static str {
        match self {
            Qual::Const => "const",
            Qual::Volatile => "volatile",
            Qual::Restrict => "restrict",
            Qual::Tag => "",
        }
    }
}

/// How a synthetic incomplete type is spelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum FwdKind {
    Struct,
    Union,
    /// A bare unknown name under a pointer (`foo_t *`).
    Bare,
}

/// A type made by [`Btf::type_from_c`]; ids `blob_len + index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Synth {
    Int {
        name: &'static str,
        size: u32,
        signed: bool,
        is_char: bool,
        is_bool: bool,
    },
    Ptr(TypeId),
    Array(TypeId, u32),
    Qual(Qual, TypeId),
    Fwd(&'static str, FwdKind),
    Enum {
        name: &'static str,
        size: u32,
    },
}

#[derive(Default)]
struct Synthetic {
    types: Vec<Synth>,
    dedup: HashMap<Synth, TypeId>,
}

/// Interns the few strings synthetic types are named by: each distinct string
/// is leaked once per process.
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(&n) = names.get(s) {
        return n;
    }
    let n: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(n);
    n
}

/// First four bytes of a name (NUL-terminated or not), zero-padded.
fn name_key(name: &[u8]) -> u32 {
    let mut k = [0u8; 4];
    for (dst, &b) in k.iter_mut().zip(name.iter().take_while(|&&b| b != 0)) {
        *dst = b;
    }
    u32::from_le_bytes(k)
}

fn rd_u16(d: &[u8], off: usize) -> Option<u16> {
    let b = d.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn rd_u32(d: &[u8], off: usize) -> Option<u32> {
    let b = d.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn rd_u64(d: &[u8], off: usize) -> Option<u64> {
    let b = d.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

fn format_err(m: impl Into<String>) -> BtfError {
    BtfError::Format(m.into())
}

/// Locates the `.BTF` section of a little-endian ELF64 file: `(offset, size)`.
fn elf_btf_section(d: &[u8]) -> Result<(usize, usize), BtfError> {
    const EI_CLASS_64: u8 = 2;
    const EI_DATA_LE: u8 = 1;
    if d.len() < 64 {
        return Err(format_err("truncated ELF header"));
    }
    if d[4] != EI_CLASS_64 || d[5] != EI_DATA_LE {
        return Err(format_err("only little-endian ELF64 files are supported"));
    }
    let bad = || format_err("malformed ELF section headers");
    let shoff = usize::try_from(rd_u64(d, 0x28).ok_or_else(bad)?).map_err(|_| bad())?;
    let shentsize = usize::from(rd_u16(d, 0x3a).ok_or_else(bad)?);
    let shnum = usize::from(rd_u16(d, 0x3c).ok_or_else(bad)?);
    let shstrndx = usize::from(rd_u16(d, 0x3e).ok_or_else(bad)?);
    if shnum == 0 || shentsize < 64 || shstrndx >= shnum {
        return Err(bad());
    }
    // (name offset, file offset, size) of section `i`.
    let section = |i: usize| -> Result<(usize, usize, usize), BtfError> {
        let sh = shoff
            .checked_add(i.checked_mul(shentsize).ok_or_else(bad)?)
            .ok_or_else(bad)?;
        let name = rd_u32(d, sh).ok_or_else(bad)? as usize;
        let off = usize::try_from(rd_u64(d, sh + 24).ok_or_else(bad)?).map_err(|_| bad())?;
        let size = usize::try_from(rd_u64(d, sh + 32).ok_or_else(bad)?).map_err(|_| bad())?;
        match off.checked_add(size) {
            Some(end) if end <= d.len() => Ok((name, off, size)),
            _ => Err(bad()),
        }
    };
    let (_, strtab, strtab_size) = section(shstrndx)?;
    let names = &d[strtab..strtab + strtab_size];
    for i in 0..shnum {
        let (name, off, size) = section(i)?;
        let Some(rest) = names.get(name..) else {
            continue;
        };
        let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        if &rest[..end] == b".BTF" {
            return Ok((off, size));
        }
    }
    Err(format_err("ELF file has no .BTF section"))
}

/// Bytes of data following the 12-byte common header of a record of `kind`.
fn trailing_len(kind: u32, vlen: usize) -> Option<usize> {
    Some(match kind {
        KIND_INT => 4,
        KIND_PTR | KIND_FWD | KIND_TYPEDEF | KIND_VOLATILE | KIND_CONST | KIND_RESTRICT
        | KIND_FUNC | KIND_FLOAT | KIND_TYPE_TAG => 0,
        KIND_ARRAY => 12,
        KIND_STRUCT | KIND_UNION | KIND_DATASEC | KIND_ENUM64 => 12 * vlen,
        KIND_ENUM | KIND_FUNC_PROTO => 8 * vlen,
        KIND_VAR | KIND_DECL_TAG => 4,
        _ => return None,
    })
}

/// Canonical form of a C integer type spelling (`long unsigned int` and
/// `unsigned long` are the same type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntKey {
    /// 0 char, 1 short, 2 int, 3 long, 4 long long, 5 _Bool, 6 __int128.
    base: u8,
    /// 0 plain, 1 signed, 2 unsigned (plain == signed except for char).
    sign: u8,
}

impl IntKey {
    fn parse<'s>(words: impl IntoIterator<Item = &'s str>) -> Option<IntKey> {
        let (mut longs, mut short, mut char_, mut int, mut bool_, mut i128_) =
            (0u8, false, false, false, false, false);
        let mut sign = 0u8;
        let mut any = false;
        for w in words {
            any = true;
            match w {
                "long" => longs += 1,
                "short" => short = true,
                "char" => char_ = true,
                "int" => int = true,
                "_Bool" => bool_ = true,
                "__int128" => i128_ = true,
                "signed" | "__signed__" => sign = 1,
                "unsigned" => sign = 2,
                _ => return None,
            }
        }
        if !any || longs > 2 {
            return None;
        }
        let kinds = [short, char_, bool_, i128_, longs > 0]
            .iter()
            .filter(|&&b| b)
            .count();
        if kinds > 1 || (int && (char_ || bool_)) {
            return None;
        }
        let base = if char_ {
            0
        } else if short {
            1
        } else if longs == 1 {
            3
        } else if longs == 2 {
            4
        } else if bool_ {
            5
        } else if i128_ {
            6
        } else {
            2
        };
        if bool_ && sign != 0 {
            return None;
        }
        // Only `char` distinguishes plain from signed.
        let sign = if base != 0 && sign == 1 { 0 } else { sign };
        Some(IntKey { base, sign })
    }

    /// Size in bytes on a 64-bit kernel.
    fn size(self) -> u32 {
        [1, 2, 4, 8, 8, 1, 16][usize::from(self.base)]
    }

    fn signed(self) -> bool {
        self.sign != 2 && self.base != 5
    }
}

/// Names for arguments BTF leaves unnamed: `arg0`, `arg1`, ...
const POSITIONAL: [&str; 12] = [
    "arg0", "arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "arg7", "arg8", "arg9", "arg10",
    "arg11",
];

impl Btf {
    /// Reads `/sys/kernel/btf/vmlinux`.
    ///
    /// Mapped, not read, where the kernel allows it (Linux 6.16+): sysfs
    /// serves the ~5 MiB in 4 KiB reads, which took 3.4 ms of the 5.6 ms a
    /// `tracectl check` took here; mapping it takes 0.1 ms.
    pub fn host() -> Result<Btf, BtfError> {
        let path = Path::new(HOST_BTF_PATH);
        match crate::mapped::Mapped::open(path) {
            Some(m) => Btf::from_data(Bytes::Mapped(m)),
            None => Btf::from_file(path),
        }
    }

    /// Reads raw BTF, or an ELF file with a `.BTF` section.
    pub fn from_file(path: &Path) -> Result<Btf, BtfError> {
        let data = std::fs::read(path).map_err(|e| BtfError::Io(path.to_path_buf(), e))?;
        Btf::from_bytes(data)
    }

    /// Parses raw BTF or an ELF holding `.BTF`.
    pub fn from_bytes(data: Vec<u8>) -> Result<Btf, BtfError> {
        Btf::from_data(Bytes::Owned(data))
    }

    fn from_data(data: Bytes) -> Result<Btf, BtfError> {
        if u32::try_from(data.len()).is_err() {
            return Err(format_err("file larger than 4 GiB"));
        }
        let (base, len) = if data.starts_with(b"\x7fELF") {
            elf_btf_section(&data)?
        } else {
            (0, data.len())
        };
        let btf = &data[base..base + len];
        if btf.len() < BTF_HEADER_MIN {
            return Err(format_err(format!(
                "{} bytes is too short for a BTF header",
                btf.len()
            )));
        }
        let magic = rd_u16(btf, 0).unwrap_or(0);
        if magic != BTF_MAGIC {
            if magic == BTF_MAGIC.swap_bytes() {
                return Err(format_err("big-endian BTF is not supported"));
            }
            return Err(format_err(format!("bad magic {magic:#06x}")));
        }
        if btf[2] != 1 {
            return Err(format_err(format!("unsupported BTF version {}", btf[2])));
        }
        let field = |o: usize| rd_u32(btf, o).unwrap_or(0) as usize;
        let (hdr_len, type_off, type_len, str_off, str_len) =
            (field(4), field(8), field(12), field(16), field(20));
        if hdr_len < BTF_HEADER_MIN || hdr_len > btf.len() {
            return Err(format_err(format!("bad header length {hdr_len}")));
        }
        let body = btf.len() - hdr_len;
        let within = |off: usize, len: usize| off.checked_add(len).is_some_and(|e| e <= body);
        if !within(type_off, type_len) {
            return Err(format_err("type section out of bounds"));
        }
        if !within(str_off, str_len) {
            return Err(format_err("string section out of bounds"));
        }
        let str_start = base + hdr_len + str_off;
        let str_end = str_start + str_len;
        if str_len == 0 || data[str_start] != 0 {
            return Err(format_err("string section must start with an empty string"));
        }
        let type_start = base + hdr_len + type_off;
        let type_end = type_start + type_len;

        let mut offsets = Vec::with_capacity(type_len / 20 + 1);
        offsets.push(0u32);
        let mut ints = Vec::new();
        let mut pos = type_start;
        while pos < type_end {
            let info = match rd_u32(&data[..type_end], pos + 4) {
                Some(i) if pos + 12 <= type_end => i,
                _ => return Err(format_err(format!("type [{}] truncated", offsets.len()))),
            };
            let kind = (info >> 24) & 0x1f;
            let vlen = (info & 0xffff) as usize;
            let Some(extra) = trailing_len(kind, vlen) else {
                return Err(format_err(format!(
                    "type [{}] has unknown kind {kind}",
                    offsets.len()
                )));
            };
            let next = pos + 12 + extra;
            if next > type_end {
                return Err(format_err(format!(
                    "type [{}] runs past the type section",
                    offsets.len()
                )));
            }
            if kind == KIND_INT {
                ints.push(offsets.len() as u32);
            }
            offsets.push(pos as u32);
            pos = next;
        }
        Ok(Btf {
            data,
            str_start,
            str_end,
            offsets,
            ints,
            keys: OnceLock::new(),
            synth: Mutex::new(Synthetic::default()),
        })
    }

    /// Number of ids in the BTF blob, void included: blob ids are
    /// `0..type_count()`; synthetic ids (from [`Btf::type_from_c`]) follow.
    pub fn type_count(&self) -> u32 {
        self.offsets.len() as u32
    }

    /// Whether `id` was made by [`Btf::type_from_c`] rather than read from BTF.
    pub fn is_synthetic(&self, id: TypeId) -> bool {
        id >= self.type_count() && self.synth_at(id).is_some()
    }

    // ---- raw access -------------------------------------------------------

    fn u32_at(&self, off: usize) -> u32 {
        rd_u32(&self.data, off).unwrap_or(0)
    }

    fn raw(&self, id: TypeId) -> Option<Raw> {
        if id == 0 {
            return None;
        }
        let off = *self.offsets.get(id as usize)? as usize;
        let info = self.u32_at(off + 4);
        Some(Raw {
            off,
            name_off: self.u32_at(off),
            kind: (info >> 24) & 0x1f,
            vlen: (info & 0xffff) as usize,
            kind_flag: info >> 31 == 1,
            size_type: self.u32_at(off + 8),
        })
    }

    fn name_bytes(&self, name_off: u32) -> &[u8] {
        let start = self.str_start.saturating_add(name_off as usize);
        if start >= self.str_end {
            return b"";
        }
        let s = &self.data[start..self.str_end];
        &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())]
    }

    fn name(&self, name_off: u32) -> &str {
        std::str::from_utf8(self.name_bytes(name_off)).unwrap_or("")
    }

    fn synth_at(&self, id: TypeId) -> Option<Synth> {
        let i = id.checked_sub(self.type_count())? as usize;
        self.synth
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .types
            .get(i)
            .copied()
    }

    /// The qualifier wrapping `id` and its target, if `id` is a qualifier.
    fn qualifier(&self, id: TypeId) -> Option<(Qual, TypeId)> {
        if let Some(r) = self.raw(id) {
            let q = match r.kind {
                KIND_CONST => Qual::Const,
                KIND_VOLATILE => Qual::Volatile,
                KIND_RESTRICT => Qual::Restrict,
                KIND_TYPE_TAG => Qual::Tag,
                _ => return None,
            };
            return Some((q, r.size_type));
        }
        match self.synth_at(id)? {
            Synth::Qual(q, t) => Some((q, t)),
            _ => None,
        }
    }

    // ---- types ------------------------------------------------------------

    /// The type with this id.
    pub fn ty(&self, id: TypeId) -> Type<'_> {
        if id == 0 {
            return Type::Void;
        }
        let Some(r) = self.raw(id) else {
            return match self.synth_at(id) {
                Some(s) => synth_type(s),
                None => Type::Other,
            };
        };
        let name = self.name(r.name_off);
        match r.kind {
            KIND_INT => {
                let enc = (self.u32_at(r.off + 12) >> 24) & 0xf;
                Type::Int {
                    name,
                    size: r.size_type,
                    signed: enc & INT_SIGNED != 0,
                    is_char: enc & INT_CHAR != 0 || name == "char",
                    is_bool: enc & INT_BOOL != 0,
                }
            }
            KIND_PTR => Type::Ptr {
                target: r.size_type,
            },
            KIND_ARRAY => Type::Array {
                elem: self.u32_at(r.off + 12),
                len: self.u32_at(r.off + 20),
            },
            KIND_STRUCT => Type::Struct {
                name,
                size: r.size_type,
            },
            KIND_UNION => Type::Union {
                name,
                size: r.size_type,
            },
            KIND_ENUM | KIND_ENUM64 => Type::Enum {
                name,
                size: r.size_type,
                signed: r.kind_flag,
            },
            KIND_FWD => Type::Fwd {
                name,
                is_union: r.kind_flag,
            },
            KIND_TYPEDEF => Type::Typedef {
                name,
                target: r.size_type,
            },
            KIND_VOLATILE | KIND_CONST | KIND_RESTRICT | KIND_TYPE_TAG => Type::Qualifier {
                target: r.size_type,
            },
            KIND_FUNC => Type::Func {
                name,
                proto: r.size_type,
            },
            KIND_FUNC_PROTO => Type::FuncProto { ret: r.size_type },
            KIND_FLOAT => Type::Float { size: r.size_type },
            _ => Type::Other,
        }
    }

    /// Follows typedefs and qualifiers to the underlying type's id.
    ///
    /// A cyclic (or longer than [`MAX_DEPTH`]) chain gives [`INVALID_TYPE`].
    pub fn strip(&self, id: TypeId) -> TypeId {
        let mut id = id;
        for _ in 0..=MAX_DEPTH {
            match self.ty(id) {
                Type::Typedef { target, .. } | Type::Qualifier { target } => id = target,
                _ => return id,
            }
        }
        INVALID_TYPE
    }

    /// Size in bytes of a type (typedefs followed; pointers 8; arrays elem*len).
    ///
    /// `None` for void, functions, forward declarations and bad ids.
    pub fn size_of(&self, id: TypeId) -> Option<u32> {
        let mut id = id;
        let mut mult: u32 = 1;
        for _ in 0..=MAX_DEPTH {
            let size = match self.ty(id) {
                Type::Int { size, .. }
                | Type::Struct { size, .. }
                | Type::Union { size, .. }
                | Type::Enum { size, .. }
                | Type::Float { size } => size,
                Type::Ptr { .. } => 8,
                Type::Array { elem, len } => {
                    mult = mult.checked_mul(len)?;
                    id = elem;
                    continue;
                }
                Type::Typedef { target, .. } | Type::Qualifier { target } => {
                    id = target;
                    continue;
                }
                _ => return None,
            };
            return size.checked_mul(mult);
        }
        None
    }

    /// C-like display of a type: `struct sock *`, `const char *`, `u32`, `char[16]`.
    ///
    /// Type tags (`__user`) are not shown; pointers to functions and arrays
    /// use C declarator syntax (`int (*)(int)`, `char (*)[16]`); an anonymous
    /// struct shows as `struct {...}`.
    pub fn display(&self, id: TypeId) -> String {
        self.declarator(id, String::new(), 0)
    }

    /// C spelling of `id` declaring `inner` (a declarator built outside-in).
    fn declarator(&self, id: TypeId, inner: String, depth: usize) -> String {
        if depth > MAX_DEPTH {
            return join_decl("...", &inner);
        }
        if let Some((q, target)) = self.qualifier(id) {
            if q == Qual::Tag {
                return self.declarator(target, inner, depth + 1);
            }
            // A qualified pointer: the qualifier goes after its `*`.
            if matches!(self.ty(self.skip_tags(target)), Type::Ptr { .. }) {
                let inner = if inner.is_empty() {
                    q.keyword().to_string()
                } else {
                    format!("{} {inner}", q.keyword())
                };
                return self.declarator(target, inner, depth + 1);
            }
            return format!(
                "{} {}",
                q.keyword(),
                self.declarator(target, inner, depth + 1)
            );
        }
        let synthetic_bare = match self.synth_at(id) {
            Some(Synth::Fwd(name, FwdKind::Bare)) => Some(name),
            _ => None,
        };
        match self.ty(id) {
            Type::Void => join_decl("void", &inner),
            Type::Int { name, .. } | Type::Typedef { name, .. } => join_decl(name, &inner),
            Type::Float { .. } => {
                let name = self.raw(id).map(|r| self.name(r.name_off)).unwrap_or("");
                join_decl(if name.is_empty() { "double" } else { name }, &inner)
            }
            Type::Struct { name, .. } => join_decl(&tagged("struct", name), &inner),
            Type::Union { name, .. } => join_decl(&tagged("union", name), &inner),
            Type::Enum { name, .. } => join_decl(&tagged("enum", name), &inner),
            Type::Fwd { name, is_union } => match synthetic_bare {
                Some(bare) => join_decl(bare, &inner),
                None => join_decl(
                    &tagged(if is_union { "union" } else { "struct" }, name),
                    &inner,
                ),
            },
            Type::Ptr { target } => {
                let inner = format!("*{inner}");
                let inner = match self.ty(self.strip_quals(target)) {
                    Type::Array { .. } | Type::FuncProto { .. } => format!("({inner})"),
                    _ => inner,
                };
                self.declarator(target, inner, depth + 1)
            }
            Type::Array { elem, len } => {
                self.declarator(elem, format!("{inner}[{len}]"), depth + 1)
            }
            Type::FuncProto { ret } => {
                let params = self.params_display(id, depth);
                self.declarator(ret, format!("{inner}({params})"), depth + 1)
            }
            Type::Func { name, proto } => {
                let inner = if inner.is_empty() {
                    name.to_string()
                } else {
                    format!("{name} {inner}")
                };
                self.declarator(proto, inner, depth + 1)
            }
            Type::Qualifier { target } => self.declarator(target, inner, depth + 1),
            Type::Other => join_decl("?", &inner),
        }
    }

    fn params_display(&self, proto: TypeId, depth: usize) -> String {
        let Some(r) = self.raw(proto) else {
            return String::new();
        };
        let mut out = Vec::with_capacity(r.vlen);
        for i in 0..r.vlen {
            let ty = self.u32_at(r.off + 12 + 8 * i + 4);
            if ty == 0 && i + 1 == r.vlen {
                out.push("...".to_string());
            } else {
                out.push(self.declarator(ty, String::new(), depth + 1));
            }
        }
        if out.is_empty() {
            "void".to_string()
        } else {
            out.join(", ")
        }
    }

    fn skip_tags(&self, mut id: TypeId) -> TypeId {
        for _ in 0..MAX_DEPTH {
            match self.qualifier(id) {
                Some((Qual::Tag, t)) => id = t,
                _ => break,
            }
        }
        id
    }

    fn strip_quals(&self, mut id: TypeId) -> TypeId {
        for _ in 0..MAX_DEPTH {
            match self.qualifier(id) {
                Some((_, t)) => id = t,
                None => break,
            }
        }
        id
    }

    // ---- structs ----------------------------------------------------------

    /// Members of a struct or union (not flattened).
    ///
    /// Typedefs and qualifiers around `id` are followed. Bitfields are
    /// decoded both from `kind_flag` structs and from the legacy encoding
    /// (an INT member whose `nr_bits`/`offset` say it is narrower).
    pub fn members(&self, id: TypeId) -> Vec<Member<'_>> {
        let Some(r) = self.raw(self.strip(id)) else {
            return Vec::new();
        };
        if r.kind != KIND_STRUCT && r.kind != KIND_UNION {
            return Vec::new();
        }
        (0..r.vlen)
            .map(|i| {
                let m = r.off + 12 + 12 * i;
                let (name_off, ty, offset) =
                    (self.u32_at(m), self.u32_at(m + 4), self.u32_at(m + 8));
                let (mut bit_offset, mut bitfield_size) = if r.kind_flag {
                    (offset & 0x00ff_ffff, offset >> 24)
                } else {
                    (offset, 0)
                };
                if !r.kind_flag {
                    if let Some(t) = self.raw(ty).filter(|t| t.kind == KIND_INT) {
                        let enc = self.u32_at(t.off + 12);
                        let (int_off, bits) = ((enc >> 16) & 0xff, enc & 0xff);
                        if int_off != 0 || bits != t.size_type.saturating_mul(8) {
                            bit_offset = bit_offset.saturating_add(int_off);
                            bitfield_size = bits;
                        }
                    }
                }
                Member {
                    name: self.name(name_off),
                    ty,
                    bit_offset,
                    bitfield_size,
                }
            })
            .collect()
    }

    /// Finds a member by name in a struct/union, descending into anonymous members.
    pub fn find_member(&self, id: TypeId, name: &str) -> Option<FoundMember> {
        self.find_member_at(id, name, 0)
    }

    fn find_member_at(&self, id: TypeId, name: &str, depth: usize) -> Option<FoundMember> {
        if depth > MAX_DEPTH || name.is_empty() {
            return None;
        }
        let members = self.members(id);
        if let Some(m) = members.iter().find(|m| m.name == name) {
            return Some(FoundMember {
                ty: m.ty,
                bit_offset: m.bit_offset,
                bitfield_size: m.bitfield_size,
            });
        }
        members.iter().filter(|m| m.name.is_empty()).find_map(|m| {
            let found = self.find_member_at(m.ty, name, depth + 1)?;
            Some(FoundMember {
                bit_offset: found.bit_offset.checked_add(m.bit_offset)?,
                ..found
            })
        })
    }

    /// Names reachable as members of this struct/union (anonymous ones flattened), for suggestions.
    pub fn member_names(&self, id: TypeId) -> Vec<String> {
        let mut out = Vec::new();
        self.collect_member_names(id, 0, &mut out);
        out
    }

    fn collect_member_names(&self, id: TypeId, depth: usize, out: &mut Vec<String>) {
        if depth > MAX_DEPTH {
            return;
        }
        for m in self.members(id) {
            if m.name.is_empty() {
                self.collect_member_names(m.ty, depth + 1, out);
            } else {
                out.push(m.name.to_string());
            }
        }
    }

    /// Enumerators of an ENUM or ENUM64 (typedefs followed); empty otherwise.
    pub fn enum_values(&self, id: TypeId) -> Vec<EnumValue<'_>> {
        let Some(r) = self.raw(self.strip(id)) else {
            return Vec::new();
        };
        match r.kind {
            KIND_ENUM => (0..r.vlen)
                .map(|i| {
                    let e = r.off + 12 + 8 * i;
                    let raw = self.u32_at(e + 4);
                    EnumValue {
                        name: self.name(self.u32_at(e)),
                        value: if r.kind_flag {
                            i64::from(raw as i32)
                        } else {
                            i64::from(raw)
                        },
                    }
                })
                .collect(),
            KIND_ENUM64 => (0..r.vlen)
                .map(|i| {
                    let e = r.off + 12 + 12 * i;
                    let lo = u64::from(self.u32_at(e + 4));
                    let hi = u64::from(self.u32_at(e + 8));
                    EnumValue {
                        name: self.name(self.u32_at(e)),
                        value: (hi << 32 | lo) as i64,
                    }
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    // ---- functions --------------------------------------------------------

    /// A FUNC by name.
    pub fn find_func(&self, name: &str) -> Option<TypeId> {
        self.lookup(name, |k| k == KIND_FUNC)
    }

    /// Parameters and return type of a FUNC or FUNC_PROTO.
    ///
    /// Parameter names come from the FUNC_PROTO (empty when BTF has none); a
    /// trailing vararg (`...`: type 0, no name) is dropped.
    pub fn func_signature(&self, id: TypeId) -> Option<(Vec<Param<'_>>, TypeId)> {
        let mut r = self.raw(id)?;
        if r.kind == KIND_FUNC {
            r = self.raw(r.size_type)?;
        }
        if r.kind != KIND_FUNC_PROTO {
            return None;
        }
        let mut params: Vec<Param<'_>> = (0..r.vlen)
            .map(|i| {
                let p = r.off + 12 + 8 * i;
                Param {
                    name: self.name(self.u32_at(p)),
                    ty: self.u32_at(p + 4),
                }
            })
            .collect();
        if params
            .last()
            .is_some_and(|p| p.ty == 0 && p.name.is_empty())
        {
            params.pop();
        }
        Some((params, r.size_type))
    }

    /// Every FUNC name (for "did you mean"), in id order, without duplicates.
    pub fn func_names(&self) -> Vec<&str> {
        self.names_of_kind(KIND_FUNC)
    }

    /// Parameters of the BTF-typed raw tracepoint `name` (`sched_process_exec`
    /// → `p`, `old_pid`, `bprm`), as a `tp_btf`/`raw_tp` program sees them:
    /// the leading `void *__data` is not included.
    ///
    /// Sources, in order: FUNC `__bpf_trace_<name>` (TRACE_EVENT: one per
    /// event class, so its name is the event's only when the event defines
    /// its own class), FUNC `__probestub_<name>` (kernels >= 6.4, one per
    /// event), then the typedef `btf_trace_<name>` (one per tracepoint, but
    /// without parameter names: names are then borrowed, best effort, from
    /// the `__bpf_trace_<class>` FUNC with the same parameter types whose
    /// class name shares the longest prefix with `name`; empty if none).
    ///
    /// When the BTF has `btf_trace_*` typedefs at all, a name without one is
    /// not a tracepoint (e.g. an event class name) and gives `None`.
    pub fn raw_tp_signature(&self, name: &str) -> Option<Vec<Param<'_>>> {
        let typedef = self.lookup(&format!("btf_trace_{name}"), |k| k == KIND_TYPEDEF);
        if typedef.is_none() && self.has_btf_trace_typedefs() {
            return None;
        }
        let named = ["__bpf_trace_", "__probestub_"].iter().find_map(|prefix| {
            let f = self.find_func(&format!("{prefix}{name}"))?;
            let (params, _) = self.func_signature(f)?;
            (!params.is_empty()).then_some(params)
        });
        if let Some(mut params) = named {
            params.remove(0);
            return Some(params);
        }
        // The typedef: pointer to a FUNC_PROTO without names.
        let proto = match self.ty(self.strip(typedef?)) {
            Type::Ptr { target } => self.strip(target),
            _ => return None,
        };
        let (mut params, _) = self.func_signature(proto)?;
        if params.is_empty() {
            return None;
        }
        params.remove(0);
        if let Some(names) = self.class_param_names(name, &params) {
            for (p, n) in params.iter_mut().zip(names) {
                p.name = n;
            }
        }
        // No names anywhere (5.10 has no `__bpf_trace_*` FUNCs in BTF):
        // positional names, as for function arguments.
        for (i, p) in params.iter_mut().enumerate() {
            if p.name.is_empty() {
                p.name = POSITIONAL.get(i).copied().unwrap_or("");
            }
        }
        Some(params)
    }

    /// Parameter names of the `__bpf_trace_<class>` function whose parameter
    /// types (after `__data`) are `params`' and whose class shares the
    /// longest prefix with `event`.
    fn class_param_names(&self, event: &str, params: &[Param<'_>]) -> Option<Vec<&str>> {
        self.event_class(event, params, |_| true)
            .map(|(_, names)| names)
    }

    /// The event class of raw tracepoint `event`: among the
    /// `__bpf_trace_<class>` FUNCs whose parameter types (after `__data`)
    /// are `params`' and whose class `accept`s, the one sharing the longest
    /// prefix with `event`. Returns the class and its parameter names.
    fn event_class(
        &self,
        event: &str,
        params: &[Param<'_>],
        accept: impl Fn(&str) -> bool,
    ) -> Option<(&str, Vec<&str>)> {
        let mut best: Option<((usize, bool), &str, Vec<&str>)> = None;
        for id in self.ids_of_kind(KIND_FUNC) {
            let Some(class) = self.ty_name(id).strip_prefix("__bpf_trace_") else {
                continue;
            };
            let Some((cand, _)) = self.func_signature(id) else {
                continue;
            };
            if cand.len() != params.len() + 1
                || cand[1..].iter().zip(params).any(|(a, b)| a.ty != b.ty)
                || cand[1..].iter().any(|p| p.name.is_empty())
                || !accept(class)
            {
                continue;
            }
            let common = class
                .bytes()
                .zip(event.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            // On a tie, a pure class (DECLARE_EVENT_CLASS, no event of its
            // own) beats an event that is its own class (TRACE_EVENT): e.g.
            // sched_process_exit's class is sched_process_template (`p`),
            // not sched_process_hang (`tsk`).
            let pure = self
                .lookup(&format!("btf_trace_{class}"), |k| k == KIND_TYPEDEF)
                .is_none();
            let score = (common, pure);
            if best.as_ref().is_none_or(|(c, _, _)| score > *c) {
                best = Some((score, class, cand[1..].iter().map(|p| p.name).collect()));
            }
        }
        best.map(|(_, class, names)| (class, names))
    }

    /// The record struct of tracepoint `event`: `trace_event_raw_<event>`
    /// for an event that is its own class (TRACE_EVENT), else the struct of
    /// its class (DEFINE_EVENT), found through the raw tracepoint's
    /// parameter types as in [`Btf::raw_tp_signature`].
    pub fn event_record(&self, event: &str) -> Option<TypeId> {
        if let Some(id) = self.find_struct(&format!("trace_event_raw_{event}")) {
            return Some(id);
        }
        let typedef = self.lookup(&format!("btf_trace_{event}"), |k| k == KIND_TYPEDEF)?;
        let proto = match self.ty(self.strip(typedef)) {
            Type::Ptr { target } => self.strip(target),
            _ => return None,
        };
        let (params, _) = self.func_signature(proto)?;
        let params = params.get(1..)?;
        let (class, _) = self.event_class(event, params, |class| {
            self.find_struct(&format!("trace_event_raw_{class}"))
                .is_some()
        })?;
        self.find_struct(&format!("trace_event_raw_{class}"))
    }

    fn has_btf_trace_typedefs(&self) -> bool {
        self.ids_of_kind(KIND_TYPEDEF)
            .any(|id| self.ty_name(id).starts_with("btf_trace_"))
    }

    /// Every raw tracepoint name [`Btf::raw_tp_signature`] accepts, sorted:
    /// from `btf_trace_*` typedefs and `__probestub_*` FUNCs, or, when the
    /// BTF has neither, from `__bpf_trace_*` FUNCs.
    pub fn raw_tp_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self
            .ids_of_kind(KIND_TYPEDEF)
            .filter_map(|id| self.ty_name(id).strip_prefix("btf_trace_"))
            .chain(
                self.ids_of_kind(KIND_FUNC)
                    .filter_map(|id| self.ty_name(id).strip_prefix("__probestub_")),
            )
            .collect();
        if names.is_empty() {
            names = self
                .ids_of_kind(KIND_FUNC)
                .filter_map(|id| self.ty_name(id).strip_prefix("__bpf_trace_"))
                .collect();
        }
        names.retain(|n| !n.is_empty());
        names.sort_unstable();
        names.dedup();
        names
    }

    // ---- lookups by name --------------------------------------------------

    /// Every named STRUCT's name, in id order, without duplicates (for
    /// "did you mean" and for listing `trace_event_raw_*` records).
    pub fn struct_names(&self) -> Vec<&str> {
        self.names_of_kind(KIND_STRUCT)
    }

    /// Names of every named enum (ENUM and ENUM64), in id order.
    pub fn enum_names(&self) -> Vec<&str> {
        let mut v = self.names_of_kind(KIND_ENUM);
        v.extend(self.names_of_kind(KIND_ENUM64));
        v
    }

    /// A named enum (ENUM or ENUM64) by name.
    pub fn find_enum(&self, name: &str) -> Option<TypeId> {
        self.lookup(name, |k| k == KIND_ENUM || k == KIND_ENUM64)
    }

    /// Names of the types of `kind`, in id order, without duplicates.
    fn names_of_kind(&self, kind: u32) -> Vec<&str> {
        // Deduplicate by string offset (BTF strings are deduplicated): far
        // cheaper than hashing every name.
        let mut offs: Vec<(u32, TypeId)> = self
            .ids_of_kind(kind)
            .filter_map(|id| Some((self.raw(id)?.name_off, id)))
            .filter(|&(off, _)| off != 0)
            .collect();
        offs.sort_unstable();
        offs.dedup_by_key(|&mut (off, _)| off);
        offs.sort_unstable_by_key(|&(_, id)| id);
        let mut names: Vec<&str> = offs.iter().map(|&(off, _)| self.name(off)).collect();
        names.retain(|n| !n.is_empty());
        names
    }

    /// A named struct (kind STRUCT) by name.
    pub fn find_struct(&self, name: &str) -> Option<TypeId> {
        self.lookup(name, |k| k == KIND_STRUCT)
    }

    /// A named type of any kind (struct, union, enum, typedef, int) by name.
    ///
    /// Also floats; a forward declaration only when nothing else has the
    /// name. Functions and variables are not types: see [`Btf::find_func`].
    pub fn find_named(&self, name: &str) -> Option<TypeId> {
        self.lookup(name, |k| {
            matches!(
                k,
                KIND_STRUCT
                    | KIND_UNION
                    | KIND_ENUM
                    | KIND_ENUM64
                    | KIND_TYPEDEF
                    | KIND_INT
                    | KIND_FLOAT
            )
        })
        .or_else(|| self.lookup(name, |k| k == KIND_FWD))
    }

    /// The first (lowest) id named `name` whose kind satisfies `want`.
    ///
    /// A linear scan of the name-prefix table (`u32` compares, about 0.1 ms
    /// for 130k types), comparing whole names only when the prefix matches:
    /// cheaper, up to hundreds of lookups, than building a hash index of
    /// every name (about 10 ms, most of it cache misses in the string table).
    fn lookup(&self, name: &str, want: impl Fn(u32) -> bool) -> Option<TypeId> {
        if name.is_empty() {
            return None;
        }
        let key = name_key(name.as_bytes());
        let keys = self.keys();
        (1..keys.len())
            .filter(|&i| keys[i] == key)
            .map(|i| i as TypeId)
            .find(|&id| {
                self.raw(id)
                    .is_some_and(|r| want(r.kind) && self.name_bytes(r.name_off) == name.as_bytes())
            })
    }

    fn keys(&self) -> &[u32] {
        self.keys.get_or_init(|| {
            let strings = &self.data[self.str_start..self.str_end];
            self.offsets
                .iter()
                .enumerate()
                .map(|(id, &off)| {
                    if id == 0 {
                        return 0;
                    }
                    let name_off = self.u32_at(off as usize) as usize;
                    if name_off == 0 {
                        return 0;
                    }
                    strings.get(name_off..).map_or(0, name_key)
                })
                .collect()
        })
    }

    fn ids_of_kind(&self, kind: u32) -> impl Iterator<Item = TypeId> + '_ {
        (1..self.type_count()).filter(move |&id| self.raw(id).is_some_and(|r| r.kind == kind))
    }

    /// The name of a blob type ("" for anonymous or synthetic ones).
    fn ty_name(&self, id: TypeId) -> &str {
        self.raw(id).map(|r| self.name(r.name_off)).unwrap_or("")
    }

    // ---- C type strings ---------------------------------------------------

    /// Turns a C type as written in a tracefs format (`const char *`,
    /// `char[16]`, `unsigned long`, `struct sock *`, `pid_t`) into a type id,
    /// creating synthetic pointer/array/int types when needed. `size` and
    /// `signed` (from the format line) are used when the name is unknown.
    ///
    /// * A type the blob has is returned as its blob id (`pid_t`, `char`,
    ///   `struct sock`); integer spellings match whatever the blob calls them
    ///   (`unsigned long` finds `long unsigned int`).
    /// * Pointers, arrays and qualifiers are synthetic (ids at or above
    ///   [`Btf::type_count`]); the same spelling always gives the same id.
    /// * `__data_loc char[]` (and `__rel_loc`) gives `char[0]`: the caller
    ///   knows from `TpField::data_loc` that the record holds a 32-bit
    ///   `offset | len << 16` locator, not the array.
    /// * An array with a non-numeric length (`char comm[TASK_COMM_LEN]` in
    ///   old kernels) gets its length from `size`.
    /// * An unknown name is a synthetic INT of `size`/`signed` named as
    ///   written (of `size / len` for an array); under a pointer it is an
    ///   incomplete type ([`Type::Fwd`], displayed as written); an unknown
    ///   `struct X`/`union X` is a [`Type::Fwd`], an unknown `enum X` a
    ///   4-byte enum.
    pub fn type_from_c(&self, c: &str, size: u32, signed: bool) -> TypeId {
        let mut s = c.trim();
        for prefix in ["__data_loc", "__rel_loc"] {
            if let Some(rest) = s.strip_prefix(prefix) {
                if rest.starts_with(|ch: char| ch.is_whitespace()) {
                    s = rest.trim_start();
                }
            }
        }
        let (decl, dims) = match s.find('[') {
            Some(i) => (&s[..i], parse_dims(&s[i..])),
            None => (s, Some(Vec::new())),
        };
        let tokens = tokenize(decl);
        let (Some(dims), Some(tokens)) = (dims, tokens) else {
            return self.unknown_int(c, size, signed);
        };
        // Split into base words (with their qualifiers) and pointer levels,
        // each with the qualifiers written after its `*`.
        let first_star = tokens
            .iter()
            .position(|t| *t == "*")
            .unwrap_or(tokens.len());
        let (base_toks, ptr_toks) = tokens.split_at(first_star);
        let mut base_quals = Vec::new();
        let mut words = Vec::new();
        for &t in base_toks {
            match qual_of(t) {
                Some(Some(q)) => base_quals.push(q),
                Some(None) => {}
                None => words.push(t),
            }
        }
        let mut levels: Vec<Vec<Qual>> = Vec::new();
        for &t in ptr_toks {
            if t == "*" {
                levels.push(Vec::new());
            } else if let (Some(Some(q)), Some(level)) = (qual_of(t), levels.last_mut()) {
                level.push(q);
            } else if qual_of(t).is_none() {
                return self.unknown_int(c, size, signed);
            }
        }
        let elems: u32 = dims
            .iter()
            .map(|d| d.unwrap_or(1).max(1))
            .try_fold(1u32, |a, b| a.checked_mul(b))
            .unwrap_or(1);
        let known_dims = dims.iter().all(Option::is_some);
        // Size of the base type when it must be invented.
        let base_size = if levels.is_empty() && known_dims && size % elems == 0 {
            size / elems
        } else {
            size
        };
        let top_level = levels.is_empty() && dims.is_empty();
        let Some(mut id) = self.base_type(&words, base_size, signed, top_level, !levels.is_empty())
        else {
            return self.unknown_int(c, size, signed);
        };
        for q in base_quals {
            id = self.synthesize(Synth::Qual(q, id));
        }
        for level in levels {
            id = self.synthesize(Synth::Ptr(id));
            for q in level {
                id = self.synthesize(Synth::Qual(q, id));
            }
        }
        let elem_size = self.size_of(id).unwrap_or(0);
        for (i, d) in dims.iter().enumerate().rev() {
            let len = match d {
                Some(n) => *n,
                // `x[N]` with N a macro: only the outermost dimension can be
                // recovered, from the field size.
                None if i == 0 => {
                    let inner: u32 = dims[1..].iter().map(|d| d.unwrap_or(0)).product();
                    match elem_size.checked_mul(inner) {
                        Some(per) if per > 0 => size / per,
                        _ => 0,
                    }
                }
                None => 0,
            };
            id = self.synthesize(Synth::Array(id, len));
        }
        id
    }

    /// The base type named by `words` (qualifiers removed).
    fn base_type(
        &self,
        words: &[&str],
        size: u32,
        signed: bool,
        top_level: bool,
        under_ptr: bool,
    ) -> Option<TypeId> {
        match words {
            [] => None,
            ["void"] => Some(0),
            [kw @ ("struct" | "union" | "enum"), name] => {
                let found = match *kw {
                    "enum" => self.lookup(name, |k| k == KIND_ENUM || k == KIND_ENUM64),
                    kw => {
                        let (kind, union) = if kw == "union" {
                            (KIND_UNION, true)
                        } else {
                            (KIND_STRUCT, false)
                        };
                        self.lookup(name, |k| k == kind).or_else(|| {
                            self.lookup(name, |k| k == KIND_FWD).filter(|&id| {
                                matches!(self.ty(id), Type::Fwd { is_union, .. } if is_union == union)
                            })
                        })
                    }
                };
                Some(found.unwrap_or_else(|| {
                    let name = intern(name);
                    match *kw {
                        "enum" => self.synthesize(Synth::Enum { name, size: 4 }),
                        "union" => self.synthesize(Synth::Fwd(name, FwdKind::Union)),
                        _ => self.synthesize(Synth::Fwd(name, FwdKind::Struct)),
                    }
                }))
            }
            _ => {
                let spelled = words.join(" ");
                if let Some(key) = IntKey::parse(words.iter().copied()) {
                    if let Some(id) = self.find_int(key) {
                        return Some(id);
                    }
                    let size = if top_level && size > 0 {
                        size
                    } else {
                        key.size()
                    };
                    return Some(self.synthesize(Synth::Int {
                        name: intern(&spelled),
                        size,
                        signed: key.signed(),
                        is_char: key.base == 0 && key.sign == 0,
                        is_bool: key.base == 5,
                    }));
                }
                if let [name] = words {
                    if let Some(id) =
                        self.lookup(name, |k| matches!(k, KIND_TYPEDEF | KIND_INT | KIND_FLOAT))
                    {
                        return Some(id);
                    }
                    if *name == "bool" {
                        return self.base_type(&["_Bool"], 1, false, top_level, under_ptr);
                    }
                }
                let name = intern(&spelled);
                Some(if under_ptr {
                    self.synthesize(Synth::Fwd(name, FwdKind::Bare))
                } else {
                    self.synthesize(Synth::Int {
                        name,
                        size,
                        signed,
                        is_char: false,
                        is_bool: false,
                    })
                })
            }
        }
    }

    /// The blob's INT for a C integer spelling.
    fn find_int(&self, key: IntKey) -> Option<TypeId> {
        self.ints.iter().copied().find(|&id| {
            let name = self.ty_name(id);
            IntKey::parse(name.split_whitespace()) == Some(key)
        })
    }

    fn unknown_int(&self, c: &str, size: u32, signed: bool) -> TypeId {
        let name = intern(&c.split_whitespace().collect::<Vec<_>>().join(" "));
        self.synthesize(Synth::Int {
            name,
            size,
            signed,
            is_char: false,
            is_bool: false,
        })
    }

    fn synthesize(&self, s: Synth) -> TypeId {
        let mut synth = self.synth.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(&id) = synth.dedup.get(&s) {
            return id;
        }
        let id = self.type_count().saturating_add(synth.types.len() as u32);
        synth.types.push(s);
        synth.dedup.insert(s, id);
        id
    }
}

fn synth_type(s: Synth) -> Type<'static> {
    match s {
        Synth::Int {
            name,
            size,
            signed,
            is_char,
            is_bool,
        } => Type::Int {
            name,
            size,
            signed,
            is_char,
            is_bool,
        },
        Synth::Ptr(target) => Type::Ptr { target },
        Synth::Array(elem, len) => Type::Array { elem, len },
        Synth::Qual(_, target) => Type::Qualifier { target },
        Synth::Fwd(name, kind) => Type::Fwd {
            name,
            is_union: kind == FwdKind::Union,
        },
        Synth::Enum { name, size } => Type::Enum {
            name,
            size,
            signed: false,
        },
    }
}

/// `struct NAME`, or `struct {...}` when anonymous.
fn tagged(keyword: &str, name: &str) -> String {
    if name.is_empty() {
        format!("{keyword} {{...}}")
    } else {
        format!("{keyword} {name}")
    }
}

/// `base` followed by a declarator: `char[16]`, `char *`, `int (*)(int)`.
fn join_decl(base: &str, inner: &str) -> String {
    if inner.is_empty() {
        base.to_string()
    } else if inner.starts_with('[') {
        format!("{base}{inner}")
    } else {
        format!("{base} {inner}")
    }
}

/// `Some(Some(q))` for a qualifier keyword, `Some(None)` for a word to ignore
/// (annotations), `None` for anything else.
fn qual_of(t: &str) -> Option<Option<Qual>> {
    match t {
        "const" | "__const" | "__const__" => Some(Some(Qual::Const)),
        "volatile" | "__volatile" | "__volatile__" => Some(Some(Qual::Volatile)),
        "restrict" | "__restrict" | "__restrict__" => Some(Some(Qual::Restrict)),
        "__user" | "__kernel" | "__iomem" | "__percpu" | "__rcu" | "__force" | "__bitwise" => {
            Some(None)
        }
        _ => None,
    }
}

/// Identifiers and `*`s; `None` on anything else (function pointer syntax).
fn tokenize(s: &str) -> Option<Vec<&str>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_ascii_whitespace() {
            i += 1;
        } else if ch == b'*' {
            out.push("*");
            i += 1;
        } else if ch == b'_' || ch.is_ascii_alphabetic() {
            let start = i;
            while i < b.len() && (b[i] == b'_' || b[i].is_ascii_alphanumeric()) {
                i += 1;
            }
            out.push(&s[start..i]);
        } else {
            return None;
        }
    }
    Some(out)
}

/// `[16][2]` → `[Some(16), Some(2)]`; `[]` → `Some(0)`; `[N]` → `None`.
fn parse_dims(s: &str) -> Option<Vec<Option<u32>>> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let inner = rest.strip_prefix('[')?;
        let close = inner.find(']')?;
        let n = inner[..close].trim();
        out.push(if n.is_empty() {
            Some(0)
        } else if let Some(hex) = n.strip_prefix("0x") {
            u32::from_str_radix(hex, 16).ok()
        } else {
            n.parse().ok()
        });
        rest = inner[close + 1..].trim_start();
    }
    Some(out)
}
