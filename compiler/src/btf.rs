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

// CONTRACT SKELETON: bodies are being written; signatures are the contract.

use std::path::Path;

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

/// Parsed BTF.
pub struct Btf {
    _private: (),
}

impl Btf {
    /// Reads `/sys/kernel/btf/vmlinux`.
    pub fn host() -> Result<Btf, BtfError> {
        todo!()
    }

    /// Reads raw BTF, or an ELF file with a `.BTF` section.
    pub fn from_file(_path: &Path) -> Result<Btf, BtfError> {
        todo!()
    }

    /// Parses raw BTF or an ELF holding `.BTF`.
    pub fn from_bytes(_data: Vec<u8>) -> Result<Btf, BtfError> {
        todo!()
    }

    /// The type with this id.
    pub fn ty(&self, _id: TypeId) -> Type<'_> {
        todo!()
    }

    /// Follows typedefs and qualifiers to the underlying type's id.
    pub fn strip(&self, _id: TypeId) -> TypeId {
        todo!()
    }

    /// Size in bytes of a type (typedefs followed; pointers 8; arrays elem*len).
    pub fn size_of(&self, _id: TypeId) -> Option<u32> {
        todo!()
    }

    /// C-like display of a type: `struct sock *`, `const char *`, `u32`, `char[16]`.
    pub fn display(&self, _id: TypeId) -> String {
        todo!()
    }

    /// Members of a struct or union (not flattened).
    pub fn members(&self, _id: TypeId) -> Vec<Member<'_>> {
        todo!()
    }

    /// Finds a member by name in a struct/union, descending into anonymous members.
    pub fn find_member(&self, _id: TypeId, _name: &str) -> Option<FoundMember> {
        todo!()
    }

    /// Names reachable as members of this struct/union (anonymous ones flattened), for suggestions.
    pub fn member_names(&self, _id: TypeId) -> Vec<String> {
        todo!()
    }

    /// A FUNC by name.
    pub fn find_func(&self, _name: &str) -> Option<TypeId> {
        todo!()
    }

    /// Parameters and return type of a FUNC or FUNC_PROTO.
    pub fn func_signature(&self, _id: TypeId) -> Option<(Vec<Param<'_>>, TypeId)> {
        todo!()
    }

    /// Every FUNC name (for "did you mean").
    pub fn func_names(&self) -> Vec<&str> {
        todo!()
    }

    /// A named struct (kind STRUCT) by name.
    pub fn find_struct(&self, _name: &str) -> Option<TypeId> {
        todo!()
    }

    /// A named type of any kind (struct, union, enum, typedef, int) by name.
    pub fn find_named(&self, _name: &str) -> Option<TypeId> {
        todo!()
    }

    /// Turns a C type as written in a tracefs format (`const char *`,
    /// `char[16]`, `unsigned long`, `struct sock *`, `pid_t`) into a type id,
    /// creating synthetic pointer/array/int types when needed. `size` and
    /// `signed` (from the format line) are used when the name is unknown.
    pub fn type_from_c(&self, _c: &str, _size: u32, _signed: bool) -> TypeId {
        todo!()
    }
}
