//! Numbers printed as names (spec-v2 section 5): the state the decoders
//! of `errno()`, `signal()`, `cap()`, `tcp_state()`, `enum()`, `ksym()`,
//! `usym()`, `cgroup_path()` and `container()` share.
//!
//! The fixed tables live in the compiler ([`NameTable`]), the enums in the
//! plan ([`Plan::enums`]); kernel symbols, user symbols and cgroup paths
//! are loaded on first use and cached ([`crate::symbolize`],
//! [`crate::cgroups`]). A value without a name prints as the number.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use tracectl_compiler::plan::{Decode, EnumNames, NameTable, Plan};

use crate::cgroups::{cgroup2_root, container_id, CgroupPaths};
use crate::decode::Value;
use crate::stacks::SharedStacks;
use crate::symbolize::Symbolizer;

/// Characters of a container id as printed (as `docker ps`).
pub const SHORT_ID: usize = 12;

/// What the name decoders need; one per [`crate::decode::Decoder`].
#[derive(Default)]
pub struct Names {
    enums: HashMap<u32, HashMap<i64, String>>,
    cgroups: OnceLock<Option<Mutex<CgroupPaths>>>,
    stacks: Option<SharedStacks>,
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("enums", &self.enums.len())
            .finish_non_exhaustive()
    }
}

impl Names {
    /// The names of `plan`'s enums; the rest is loaded when first needed.
    pub fn new(plan: &Plan) -> Names {
        Names::with_enums(&plan.enums)
    }

    /// As [`Names::new`], from the enums alone.
    pub fn with_enums(enums: &[EnumNames]) -> Names {
        let enums = enums
            .iter()
            .map(|e| {
                let mut m = HashMap::new();
                for (v, n) in &e.values {
                    m.entry(*v).or_insert_with(|| n.clone());
                }
                (e.id, m)
            })
            .collect();
        Names {
            enums,
            ..Names::default()
        }
    }

    /// Prints `kstack`/`ustack` ids from this session's stack map (without
    /// it a stack prints as its id).
    pub fn set_stacks(&mut self, stacks: SharedStacks) {
        self.stacks = Some(stacks);
    }

    /// The value of a name decoder's 8-byte slot `v`; `pid` is the
    /// process of the event (for `usym()` and `ustack`).
    pub fn value<'a>(&'a self, decode: Decode, v: u64, pid: u32) -> Value<'a> {
        let number = |signed: bool| {
            if signed {
                Value::Int(v as i64)
            } else {
                Value::UInt(v)
            }
        };
        match decode {
            Decode::Name { table, signed } => match table.name(as_i64(v, signed, table)) {
                Some(n) => Value::Str(Cow::Borrowed(n)),
                None => number(signed),
            },
            Decode::Enum { id, signed } => {
                match self.enums.get(&id).and_then(|m| m.get(&(v as i64))) {
                    Some(n) => Value::Str(Cow::Borrowed(n)),
                    None => number(signed),
                }
            }
            // The function's name without offset; unresolved, the address.
            Decode::Ksym => match self.symbol(|s| s.kernel(&[v])) {
                Some(n) => Value::Str(Cow::Owned(n.to_string())),
                None => Value::Hex(v),
            },
            Decode::Usym { .. } => match self.symbol(|s| s.user(pid, &[v])) {
                Some(n) => Value::Str(Cow::Owned(n.to_string())),
                None => Value::Hex(v),
            },
            Decode::Kstack { frames } | Decode::Ustack { frames, .. } => {
                let user = matches!(decode, Decode::Ustack { .. });
                match self.stacks.as_ref().and_then(|s| s.lock().ok()) {
                    Some(mut s) => Value::Stack(s.stack(v, user, pid, frames)),
                    None => Value::Int(v as i64),
                }
            }
            Decode::CgroupPath => match self.cgroup_path(v) {
                Some(p) => Value::Str(Cow::Owned(p)),
                None => Value::UInt(v),
            },
            Decode::Container => {
                let id = self
                    .cgroup_path(v)
                    .and_then(|p| container_id(&p).map(|c| short_id(&c)));
                Value::Str(Cow::Owned(id.unwrap_or_else(|| "-".to_string())))
            }
            _ => number(false),
        }
    }

    /// The function of the one frame `symbolize` returns.
    fn symbol(
        &self,
        symbolize: impl FnOnce(&mut Symbolizer) -> Vec<crate::symbolize::Frame>,
    ) -> Option<std::sync::Arc<str>> {
        symbolize(&mut crate::symbolize::shared_lock()).pop()?.name
    }

    fn cgroup_path(&self, id: u64) -> Option<String> {
        let c = self
            .cgroups
            .get_or_init(|| cgroup2_root().ok().map(|r| Mutex::new(CgroupPaths::new(r))));
        let mut c = c.as_ref()?.lock().ok()?;
        c.path(id).map(str::to_string)
    }
}

/// A name table's number: `errno()` of an unsigned 32-bit field holding a
/// negative `int` still names it.
fn as_i64(v: u64, signed: bool, table: NameTable) -> i64 {
    if !signed && table == NameTable::Errno && v <= u32::MAX as u64 {
        v as u32 as i32 as i64
    } else {
        v as i64
    }
}

/// A container id as printed: 64-hex ids shortened to [`SHORT_ID`].
pub fn short_id(id: &str) -> String {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        id[..SHORT_ID].to_string()
    } else {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_enums_print_names_or_numbers() {
        let n = Names::with_enums(&[EnumNames {
            id: 7,
            name: "e".into(),
            values: vec![(1, "ONE".into()), (1, "UNO".into()), (-1, "NEG".into())],
        }]);
        let sig = Decode::Name {
            table: NameTable::Signal,
            signed: true,
        };
        assert_eq!(n.value(sig, 9, 0), Value::Str("SIGKILL".into()));
        assert_eq!(n.value(sig, 99, 0), Value::Int(99));
        let e = Decode::Enum {
            id: 7,
            signed: true,
        };
        assert_eq!(n.value(e, 1, 0), Value::Str("ONE".into()));
        assert_eq!(n.value(e, u64::MAX, 0), Value::Str("NEG".into()));
        assert_eq!(n.value(e, 2, 0), Value::Int(2));
        let errno = Decode::Name {
            table: NameTable::Errno,
            signed: true,
        };
        assert_eq!(
            n.value(errno, (-2i64) as u64, 0),
            Value::Str("ENOENT".into())
        );
        // An unsigned 32-bit field holding -2.
        let uerrno = Decode::Name {
            table: NameTable::Errno,
            signed: false,
        };
        assert_eq!(n.value(uerrno, 0xffff_fffe, 0), Value::Str("ENOENT".into()));
    }

    #[test]
    fn container_ids_print_short() {
        let id = "0123456789abcdef".repeat(4);
        assert_eq!(short_id(&id), "0123456789ab");
        assert_eq!(short_id("mymachine"), "mymachine");
    }
}
