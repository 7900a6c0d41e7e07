//! Pass 2, **resolve**, continued: context and names (spec-v2 section 5).
//!
//! * The builtins that walk the current task, typed from kernel BTF:
//!   `task` (a `struct task_struct *`, a path start like any pointer
//!   argument), `ppid` (`task->real_parent->tgid`), and the namespace inode
//!   numbers `pidns`, `mntns`, `netns`, as `lsns` and `/proc/PID/ns/*`
//!   show them. `pidns` is the task's own pid namespace,
//!   `task->thread_pid->numbers[level].ns`: an element chosen at run time
//!   (an indexed [`Hop`]), not `nsproxy->pid_ns_for_children`, which differs
//!   after `unshare(CLONE_NEWPID)`.
//! * `join(argv[, max])`: a NULL-terminated array of strings joined with
//!   spaces in the kernel ([`Read::Join`]).
//! * The functions that print a number as a name ([`Decode::Name`],
//!   [`Decode::Enum`], [`Decode::Ksym`], ...): the value stays the number in
//!   the kernel, so filters compare it as one (a filter may name it:
//!   `signal(sig) == "SIGKILL"` folds to `sig == 9`, in [`crate::check`]).

use crate::diag::{Diagnostic, Span};
use crate::names::NameTable;
use crate::plan::{
    Base, Builtin, Decode, HopIndex, Mem, Read, Transform, DEFAULT_JOIN_ARGS, JOIN_BYTES,
    MAX_JOIN_ARGS,
};
use crate::resolve::{Capture, Loc, Place, Resolver, ValueClass};
use crate::syntax::ast::{Expr, ExprKind};

/// Is `func` one of the functions that print a number as a name?
pub fn is_name_function(func: &str) -> bool {
    func != "join" && CONTEXT_FUNCTIONS.contains(&func)
}

/// The functions of this module (version 2).
pub const CONTEXT_FUNCTIONS: [&str; 10] = [
    "join",
    "errno",
    "signal",
    "cap",
    "tcp_state",
    "enum",
    "ksym",
    "usym",
    "cgroup_path",
    "container",
];

/// One step of a path from `task`: a member through `->` or `.`, or `[0]`.
enum Step {
    Arrow(&'static str),
    Dot(&'static str),
    First,
}

/// The BTF path each task builtin reads.
fn task_steps(name: &str) -> Option<(&'static [Step], &'static str)> {
    use Step::*;
    Some(match name {
        "ppid" => (
            &[Arrow("real_parent"), Arrow("tgid")],
            "task->real_parent->tgid",
        ),
        "mntns" => (
            &[Arrow("nsproxy"), Arrow("mnt_ns"), Arrow("ns"), Dot("inum")],
            "task->nsproxy->mnt_ns->ns.inum",
        ),
        "netns" => (
            &[Arrow("nsproxy"), Arrow("net_ns"), Arrow("ns"), Dot("inum")],
            "task->nsproxy->net_ns->ns.inum",
        ),
        "pidns" => (
            &[
                Arrow("thread_pid"),
                Arrow("numbers"),
                First,
                Dot("ns"),
                Arrow("ns"),
                Dot("inum"),
            ],
            "task->thread_pid->numbers[task->thread_pid->level].ns->ns.inum",
        ),
        _ => return None,
    })
}

fn err(span: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(span, msg)
}

impl Resolver<'_> {
    /// `task`: where a path through the current task starts.
    pub(crate) fn task_place(&self) -> Place {
        Place {
            base: Base::Builtin {
                builtin: Builtin::Task,
            },
            hops: Vec::new(),
            loc: Loc::Reg,
            ty: self.btf.type_from_c("struct task_struct *", 8, false),
        }
    }

    /// A context builtin (`task`, `ppid`, `pidns`, `mntns`, `netns`)
    /// captured; `None` for another name.
    pub(crate) fn context_builtin(
        &mut self,
        name: &str,
        span: Span,
    ) -> Option<Result<Capture, Diagnostic>> {
        if name == "task" {
            return Some(Ok(Capture {
                base: self.task_place().base,
                hops: Vec::new(),
                mem: Mem::Kernel,
                read: Read::Value,
                transform: Transform::None,
                slot_size: 8,
                decode: Decode::Pointer,
            }));
        }
        let (steps, path) = task_steps(name)?;
        Some(
            self.task_path(name, steps, span)
                .and_then(|p| self.int_capture(p, span))
                .map(|mut c| {
                    // Namespace numbers and pids print unsigned.
                    if let Decode::Int { size, .. } = c.decode {
                        c.decode = Decode::Int {
                            size,
                            signed: false,
                        };
                    }
                    c
                })
                .map_err(|d| {
                    d.note(format!(
                        "`{name}` reads `{path}`, which this kernel's BTF does not offer as expected"
                    ))
                }),
        )
    }

    /// The place of a task builtin: its steps from `task`; `pidns` indexes
    /// `numbers[]` by `level` at run time.
    fn task_path(&mut self, name: &str, steps: &[Step], span: Span) -> Result<Place, Diagnostic> {
        let base = Expr {
            kind: ExprKind::Ident("task".into()),
            span,
        };
        let mut p = self.task_place();
        for s in steps {
            p = match s {
                Step::Arrow(m) => self.member(p, m, span, true, &base)?,
                Step::Dot(m) => self.member(p, m, span, false, &base)?,
                Step::First => self.index(p, 0, span, span)?,
            };
        }
        if name == "pidns" {
            let pid = self.btf.find_struct("pid");
            let level = pid.and_then(|id| self.btf.find_member(id, "level"));
            let upid = self
                .btf
                .find_struct("upid")
                .and_then(|id| self.btf.size_of(id));
            let (Some(level), Some(scale), Some(hop)) = (level, upid, p.hops.get_mut(1)) else {
                return Err(err(
                    span,
                    "`struct pid` has no `level`, or `struct upid` no size",
                )
                .label("cannot find the task's pid namespace"));
            };
            hop.index = Some(HopIndex {
                off: level.bit_offset / 8,
                scale,
            });
        }
        Ok(p)
    }

    /// A context function (`join`, `errno`, `signal`, `cap`, `tcp_state`,
    /// `enum`, `ksym`, `usym`, `cgroup_path`, `container`); `None` for
    /// another name.
    pub(crate) fn context_call(
        &mut self,
        func: &str,
        args: &[Expr],
        span: Span,
    ) -> Option<Result<Capture, Diagnostic>> {
        if !CONTEXT_FUNCTIONS.contains(&func) {
            return None;
        }
        Some(self.context_call_inner(func, args, span))
    }

    fn context_call_inner(
        &mut self,
        func: &str,
        args: &[Expr],
        span: Span,
    ) -> Result<Capture, Diagnostic> {
        if func == "join" {
            return self.join(args, span);
        }
        self.name_call(func, args, span, |r, e| r.capture_here(e))
    }

    /// A name function (`signal(sig)`, ...) of the value `inner` captures
    /// (in a paired probe, [`crate::pair`] captures it: a start value is
    /// stashed once, `end.` values read at the end).
    pub(crate) fn name_call(
        &mut self,
        func: &str,
        args: &[Expr],
        span: Span,
        inner: impl FnOnce(&mut Self, &Expr) -> Result<Capture, Diagnostic>,
    ) -> Result<Capture, Diagnostic> {
        self.name_arity(func, args, span)?;
        if let ExprKind::Call { func: f, .. } = &args[0].kind {
            return Err(err(args[0].span, format!("`{func}()` of `{}()`", f.value))
                .label("expected a name or a member path")
                .note("functions apply to fields and arguments, not to other functions"));
        }
        let mut c = inner(self, &args[0])?;
        let signed = match c.class() {
            ValueClass::Int { signed } => signed,
            _ => {
                return Err(err(
                    args[0].span,
                    format!("`{func}()` needs an integer or an address"),
                )
                .label(format!("this is {}", describe(&c.decode))))
            }
        };
        c.decode = self.name_decode(func, args, signed, span)?;
        Ok(c)
    }

    fn name_arity(&self, func: &str, args: &[Expr], span: Span) -> Result<(), Diagnostic> {
        let (min, max) = if func == "enum" { (1, 2) } else { (1, 1) };
        self.arity(func, args, min, max, span)
    }

    /// The decoder of the name function `func` for a value of this
    /// signedness (also for a computed value: `signal(status & 0x7f)`).
    pub(crate) fn name_decode(
        &mut self,
        func: &str,
        args: &[Expr],
        signed: bool,
        span: Span,
    ) -> Result<Decode, Diagnostic> {
        self.name_arity(func, args, span)?;
        Ok(match func {
            "enum" => Decode::Enum {
                id: self.enum_type(args)?,
                signed,
            },
            "ksym" => Decode::Ksym,
            "usym" => Decode::Usym { pid: 0 },
            "cgroup_path" => Decode::CgroupPath,
            "container" => Decode::Container,
            _ => Decode::Name {
                table: NameTable::by_func(func)
                    .ok_or_else(|| err(span, "internal error: a name table"))?,
                signed,
            },
        })
    }

    /// The enum `enum(e, TYPE)` names, or `e`'s own enum type.
    fn enum_type(&mut self, args: &[Expr]) -> Result<u32, Diagnostic> {
        match args.get(1) {
            Some(Expr {
                kind: ExprKind::Ident(name),
                span,
            }) => self.btf.find_enum(name).ok_or_else(|| {
                err(*span, format!("no enum `{name}` in kernel BTF"))
                    .label("unknown enum")
                    .suggest(name, self.btf.enum_names(), "enums")
            }),
            Some(other) => Err(err(other.span, "expected the name of a kernel enum")
                .label("e.g. `enum(state, tcp_ca_state)`")),
            None => {
                let ty = self.type_of(&args[0]);
                match ty.map(|t| self.btf.strip(t)) {
                    Some(t)
                        if matches!(self.btf.ty(t), crate::btf::Type::Enum { .. })
                            && !self.btf.enum_values(t).is_empty() =>
                    {
                        Ok(t)
                    }
                    _ => Err(err(args[0].span, "`enum()` needs the enum's name")
                        .label("this value's type is not a named enum")
                        .note("write `enum(e, TYPE)`, e.g. `enum(state, tcp_ca_state)`")),
                }
            }
        }
    }

    /// The BTF type of a path expression, when it is one.
    fn type_of(&mut self, e: &Expr) -> Option<u32> {
        match &e.kind {
            ExprKind::Ident(_) | ExprKind::Member { .. } | ExprKind::Index { .. } => {
                self.place(e).ok().map(|p| p.ty)
            }
            _ => None,
        }
    }

    /// `join(argv[, max])`.
    fn join(&mut self, args: &[Expr], span: Span) -> Result<Capture, Diagnostic> {
        self.arity("join", args, 1, 2, span)?;
        let max_args = match args.get(1).map(|a| (&a.kind, a.span)) {
            None => DEFAULT_JOIN_ARGS,
            Some((ExprKind::Int(v), _)) if (1..=MAX_JOIN_ARGS as i128).contains(v) => *v as u32,
            Some((_, s)) => {
                return Err(err(
                    s,
                    format!(
                        "the number of strings must be an integer literal, 1..={MAX_JOIN_ARGS}"
                    ),
                )
                .label("out of range or not a literal"))
            }
        };
        let p = self.arg_place(&args[0])?;
        let written = p.ty;
        let stripped = self.btf.strip(p.ty);
        let uprobe_long = matches!(self.ctx.attach, crate::plan::Attach::Uprobe { .. })
            && matches!(self.btf.ty(stripped), crate::btf::Type::Int { size: 8, .. });
        let strings = |r: &Self, t: u32| match r.btf.ty(r.btf.strip(t)) {
            crate::btf::Type::Ptr { target } => {
                r.is_char(target) || matches!(r.btf.ty(r.btf.strip(target)), crate::btf::Type::Void)
            }
            _ => false,
        };
        let (p, off, mem) = match self.btf.ty(stripped) {
            crate::btf::Type::Ptr { target } if strings(self, target) => {
                let p = self.deref(p, args[0].span)?;
                match p.loc {
                    Loc::Mem { off, mem, .. } => (p, off, mem),
                    _ => return Err(self.not_strings(&args[0], written)),
                }
            }
            crate::btf::Type::Array { elem, .. } if strings(self, elem) => match p.loc {
                Loc::Mem { off, mem, .. } => (p, off, mem),
                _ => return Err(self.not_strings(&args[0], written)),
            },
            _ if uprobe_long => {
                let p = self.deref(p, args[0].span)?;
                (p, 0, Mem::User)
            }
            _ => return Err(self.not_strings(&args[0], written)),
        };
        Ok(Capture {
            base: p.base,
            hops: p.hops,
            mem: Mem::Kernel,
            read: Read::Join { off, max_args, mem },
            transform: Transform::None,
            slot_size: JOIN_BYTES,
            decode: Decode::Joined,
        })
    }

    fn not_strings(&self, e: &Expr, ty: u32) -> Diagnostic {
        err(
            e.span,
            format!(
                "`join()` needs an array of strings; this is `{}`",
                self.btf.display(ty)
            ),
        )
        .label("not a `char **` or an array of `char *`")
        .note("`join()` reads a NULL-terminated array of string pointers, such as execve's `argv`")
    }
}

/// What a decoder's values are, for messages.
fn describe(d: &Decode) -> &'static str {
    match d {
        Decode::Str | Decode::Joined => "a string",
        Decode::Ip4 | Decode::Ip6 => "an address",
        Decode::Bytes => "raw bytes",
        Decode::IntArray { .. } => "an array",
        Decode::Kstack { .. } | Decode::Ustack { .. } => "a stack",
        _ => "a value",
    }
}

/// A name table's value for `name` (as printed, or an alias).
pub fn name_value(decode: &Decode, btf: &crate::btf::Btf, name: &str) -> Option<i64> {
    match decode {
        Decode::Name { table, .. } => table.value(name),
        Decode::Enum { id, .. } => btf
            .enum_values(*id)
            .into_iter()
            .find(|v| v.name == name)
            .map(|v| v.value),
        _ => None,
    }
}

/// The names a string compared with `decode` may be, for suggestions.
pub fn name_candidates(decode: &Decode, btf: &crate::btf::Btf) -> Vec<String> {
    match decode {
        Decode::Name { table, .. } => table.names().into_iter().map(String::from).collect(),
        Decode::Enum { id, .. } => btf
            .enum_values(*id)
            .into_iter()
            .map(|v| v.name.to_string())
            .collect(),
        _ => Vec::new(),
    }
}
