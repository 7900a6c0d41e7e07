//! Pass 2, **resolve**: probe targets and every name and member path,
//! checked against kernel BTF (and tracepoint formats).
//!
//! A path such as `sk->__sk_common.skc_daddr` becomes a [`Place`]: where the
//! walk starts (an argument, the raw tracepoint record), the pointer loads on
//! the way, and where the value finally lies. A place plus the function
//! around it (`str`, `ip4`, ...) becomes a [`Capture`]: a value op of the
//! plan without its slot, and the decoder that prints it.

use crate::btf::{Btf, Type, TypeId};
use crate::diag::{quoted_list, Diagnostic, Span};
use crate::plan::{
    Attach, Base, Builtin, Decode, Hop, KernelMode, Mem, Read, Transform, DEFAULT_STR, MAX_ARGS,
    MAX_HOPS, MAX_STR, RET_OFF,
};
use crate::syntax::ast::{Expr, ExprKind};
use crate::syntax::expr::print_expr;
use crate::tracefs::{TpField, TpSource};

/// What the resolver needs from the environment.
pub struct Env<'a> {
    /// Kernel types.
    pub btf: &'a Btf,
    /// Tracepoint formats.
    pub tracepoints: TpSource<'a>,
}

/// Probe kinds as written.
pub const PROBE_KINDS: [&str; 11] = [
    "kfunc",
    "kretfunc",
    "kprobe",
    "kretprobe",
    "fentry",
    "fexit",
    "tracepoint",
    "tp_btf",
    "uprobe",
    "uretprobe",
    "profile",
];

/// Builtin names.
pub const BUILTINS: [&str; 16] = [
    "pid", "tid", "uid", "gid", "comm", "ts", "cpu", "cgroup", "retval", "ppid", "task", "pidns",
    "mntns", "netns", "kstack", "ustack",
];

/// Functions of version 1 (version 2 adds
/// [`CONTEXT_FUNCTIONS`](crate::context::CONTEXT_FUNCTIONS)).
pub const FUNCTIONS: [&str; 9] = [
    "str", "ustr", "kstr", "ip4", "ip6", "ntohs", "ntohl", "hex", "bytes",
];

/// Every function a spec can call: value functions, aggregates, context
/// functions and the stack builtins.
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS
        .iter()
        .chain(&crate::aggregate::AGGREGATES)
        .chain(&crate::context::CONTEXT_FUNCTIONS)
        .chain(&crate::stacks::STACK_BUILTINS)
        .copied()
}

/// Where an argument is found.
#[derive(Debug, Clone)]
enum ArgLoc {
    /// Argument number *i* of a function-like probe.
    Index(u32),
    /// A field of the raw tracepoint record.
    Tp(TpField),
}

#[derive(Debug, Clone)]
struct Arg {
    name: String,
    ty: TypeId,
    loc: ArgLoc,
}

/// A probe's resolved target: its attach point and the names it offers.
pub struct ProbeCtx {
    /// Attach point for the plan.
    pub attach: Attach,
    /// The label used when the spec gives none.
    pub default_name: String,
    args: Vec<Arg>,
    /// Return type of a return probe.
    ret_ty: Option<TypeId>,
    /// True for kretfunc/kretprobe/fexit/uretprobe.
    pub is_return: bool,
    /// Address space pointers of this probe point into.
    ptr_mem: Mem,
    /// kretprobe/uretprobe cannot read arguments.
    args_readable: bool,
    kind: String,
}

/// A location holding a value: start, pointer loads, and final position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Where the walk starts.
    pub base: Base,
    /// Pointer loads.
    pub hops: Vec<Hop>,
    /// Where the value lies after the hops.
    pub loc: Loc,
    /// Its type.
    pub ty: TypeId,
}

/// Where a place's value is after its hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loc {
    /// It is the current value (an argument, or a pointer just loaded).
    Reg,
    /// In memory at current pointer + `off`.
    Mem {
        /// Byte offset.
        off: u32,
        /// Address space.
        mem: Mem,
        /// Bit offset within the byte at `off`, and width, for bitfields.
        bits: Option<(u32, u32)>,
    },
    /// A tracepoint `__data_loc` array whose locator is at record + `off`.
    DataLoc {
        /// Offset of the locator.
        off: u32,
    },
}

/// What a value op captures (a plan `ValueOp` without its slot) and how the
/// runtime prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Start.
    pub base: Base,
    /// Pointer loads.
    pub hops: Vec<Hop>,
    /// Address space of a final integer read.
    pub mem: Mem,
    /// Final read.
    pub read: Read,
    /// Post-processing.
    pub transform: Transform,
    /// Slot bytes.
    pub slot_size: u32,
    /// Decoder.
    pub decode: Decode,
}

impl Capture {
    /// How the filter may compare this value.
    pub fn class(&self) -> ValueClass {
        match self.decode {
            Decode::Str => ValueClass::Str,
            Decode::Ip4 => ValueClass::Ip4,
            Decode::Int { signed, .. } => ValueClass::Int { signed },
            Decode::Bool | Decode::Pointer | Decode::Hex => ValueClass::Int { signed: false },
            Decode::Ip6 | Decode::Bytes | Decode::IntArray { .. } => ValueClass::Opaque,
            Decode::Kstack { .. } | Decode::Ustack { .. } => ValueClass::Stack,
            Decode::Joined => ValueClass::Str,
            Decode::Name { signed, .. } | Decode::Enum { signed, .. } => ValueClass::Int { signed },
            Decode::Ksym | Decode::Usym { .. } | Decode::CgroupPath | Decode::Container => {
                ValueClass::Int { signed: false }
            }
        }
    }
}

/// Comparison classes of captured values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueClass {
    /// Integers (and pointers, booleans).
    Int {
        /// Signed comparison.
        signed: bool,
    },
    /// Strings.
    Str,
    /// IPv4 addresses (compared with dotted-quad literals).
    Ip4,
    /// Not comparable in the kernel.
    Opaque,
    /// A stack (`kstack`, `ustack`): printed, never compared or computed.
    Stack,
}

fn err(span: Span, msg: impl Into<String>) -> Diagnostic {
    Diagnostic::error(span, msg)
}

/// Splits `kind:rest`, giving the span of `rest` inside `span`.
fn split_probe(probe: &str, span: Span) -> Option<(&str, &str, Span)> {
    let (kind, rest) = probe.split_once(':')?;
    let verbatim = (span.end - span.start) as usize == probe.len();
    let rest_span = if verbatim {
        Span::new(span.start as usize + kind.len() + 1, span.end as usize)
    } else {
        span
    };
    Some((kind, rest, rest_span))
}

/// Resolves a probe string against the environment.
pub fn probe_ctx(env: &Env, probe: &str, span: Span) -> Result<ProbeCtx, Diagnostic> {
    let Some((kind, rest, rest_span)) = split_probe(probe, span) else {
        let d = err(span, format!("`{probe}` is not a probe")).label("expected KIND:TARGET");
        // `kfunc tcp_connect`: the colon is missing.
        let spaced = probe
            .split_once(char::is_whitespace)
            .filter(|(k, _)| PROBE_KINDS.contains(k));
        return Err(match spaced {
            Some((k, target)) => d.note(format!("did you mean `{k}:{}`?", target.trim())),
            None => d.note("e.g. `kfunc:tcp_connect`, `tracepoint:syscalls:sys_enter_execve`, `uprobe:libc:getaddrinfo`"),
        });
    };
    let kind_span = Span::new(span.start as usize, span.start as usize + kind.len());
    if kind.is_empty() {
        return Err(err(span, format!("`{probe}` has no probe kind"))
            .label("expected KIND:TARGET")
            .note(format!("probe kinds: {}", PROBE_KINDS.join(", "))));
    }
    if rest.is_empty() {
        let (what, example) = match kind {
            "kfunc" | "kretfunc" | "kprobe" | "kretprobe" | "fentry" | "fexit" => {
                ("a kernel function", "kfunc:tcp_connect")
            }
            "tp_btf" => ("a BTF tracepoint", "tp_btf:sched_process_exec"),
            "tracepoint" => ("CATEGORY:NAME", "tracepoint:syscalls:sys_enter_execve"),
            "uprobe" | "uretprobe" => ("BINARY:SYMBOL", "uprobe:libc:getaddrinfo"),
            "profile" => ("a sampling rate", "profile:hz:99"),
            _ => ("", ""),
        };
        if !what.is_empty() {
            let d = err(span, format!("`{kind}:` needs {what} after the colon"))
                .label(format!("nothing after `{kind}:`"))
                .note(format!("e.g. `{example}`"));
            return Err(d);
        }
    }
    let base = |attach, default_name: &str| ProbeCtx {
        attach,
        default_name: default_name.to_string(),
        args: Vec::new(),
        ret_ty: None,
        is_return: false,
        ptr_mem: Mem::Kernel,
        args_readable: true,
        kind: kind.to_string(),
    };
    match kind {
        "kfunc" | "kretfunc" | "kprobe" | "kretprobe" | "fentry" | "fexit" => {
            let ret = matches!(kind, "kretfunc" | "kretprobe" | "fexit");
            let mode = match kind {
                "kfunc" | "kretfunc" => KernelMode::Auto,
                "kprobe" | "kretprobe" => KernelMode::Kprobe,
                _ => KernelMode::Fentry,
            };
            let func = rest;
            let Some(id) = env.btf.find_func(func) else {
                let mut d = err(rest_span, format!("unknown kernel function `{func}`"))
                    .label("not in the kernel's BTF");
                let known = |f: &str| env.btf.find_func(f).is_some();
                if let Some(h) = crate::syntax::bpftrace::kernel_target_hint(func, &known) {
                    return Err(d.note(h));
                }
                let names = env.btf.func_names();
                d = d.suggest(func, names.iter().copied(), "functions");
                return Err(d);
            };
            let (params, ret_ty) = env
                .btf
                .func_signature(id)
                .ok_or_else(|| err(rest_span, format!("`{func}` has no prototype in BTF")))?;
            let mut ctx = base(
                Attach::Kernel {
                    function: func.to_string(),
                    ret,
                    mode,
                },
                func,
            );
            ctx.args = indexed_args(&params);
            ctx.is_return = ret;
            ctx.ret_ty = ret.then_some(ret_ty);
            // A kretprobe cannot see arguments (the registers are reused).
            ctx.args_readable = !(ret && mode == KernelMode::Kprobe);
            Ok(ctx)
        }
        "tp_btf" => {
            let Some(params) = env.btf.raw_tp_signature(rest) else {
                let names = env.btf.raw_tp_names();
                return Err(err(rest_span, format!("unknown BTF tracepoint `{rest}`"))
                    .label("no `__bpf_trace_` function for it in BTF")
                    .suggest(rest, names.iter().copied(), "BTF tracepoints"));
            };
            let mut ctx = base(
                Attach::TpBtf {
                    name: rest.to_string(),
                },
                rest,
            );
            ctx.args = indexed_args(&params);
            Ok(ctx)
        }
        "tracepoint" => {
            let Some((cat, name)) = rest.split_once(':') else {
                return Err(err(rest_span, format!("`{rest}` is not CATEGORY:NAME"))
                    .label("expected e.g. `syscalls:sys_enter_execve`"));
            };
            let Some(format) = env.tracepoints.format(cat, name) else {
                let d = err(rest_span, format!("unknown tracepoint `{cat}:{name}`"))
                    .label("no such tracepoint");
                if rest.contains(['*', '?', '{']) {
                    return Err(d.note(crate::syntax::bpftrace::WILDCARDS));
                }
                // `syscalls:sys_enter_execve:entry`: one part too many.
                if let Some((short, extra)) = name.split_once(':') {
                    if env.tracepoints.format(cat, short).is_some() {
                        return Err(d.note(format!(
                            "did you mean `{cat}:{short}`? a tracepoint is CATEGORY:NAME, without `:{extra}`"
                        )));
                    }
                }
                let events = env.tracepoints.events();
                return Err(d.suggest(rest, events.iter().map(String::as_str), "tracepoints"));
            };
            let mut ctx = base(
                Attach::Tracepoint {
                    category: cat.to_string(),
                    name: name.to_string(),
                },
                name,
            );
            ctx.args = format
                .fields
                .into_iter()
                .filter(|f| !f.common)
                .map(|f| Arg {
                    name: f.name.clone(),
                    ty: env.btf.type_from_c(&f.c_type, f.size, f.signed),
                    loc: ArgLoc::Tp(f),
                })
                .collect();
            // Pointers in syscall records are the user's arguments.
            if cat == "syscalls" {
                ctx.ptr_mem = Mem::User;
            }
            Ok(ctx)
        }
        "uprobe" | "uretprobe" => {
            let Some((binary, symbol)) = rest.rsplit_once(':') else {
                return Err(err(rest_span, format!("`{rest}` is not BINARY:SYMBOL"))
                    .label("expected e.g. `libc:getaddrinfo` or `/bin/bash:readline`"));
            };
            if binary.is_empty() || symbol.is_empty() {
                let label = if symbol.is_empty() {
                    format!("no symbol after `{binary}:`")
                } else {
                    format!("no binary before `:{symbol}`")
                };
                return Err(err(rest_span, "uprobe needs BINARY:SYMBOL")
                    .label(label)
                    .note("e.g. `uprobe:libc:getaddrinfo` or `uprobe:/bin/bash:readline`"));
            }
            let ret = kind == "uretprobe";
            let mut ctx = base(
                Attach::Uprobe {
                    binary: binary.to_string(),
                    symbol: symbol.to_string(),
                    ret,
                },
                symbol,
            );
            let long = env.btf.type_from_c("long", 8, true);
            ctx.args = (0..MAX_ARGS)
                .map(|i| Arg {
                    name: format!("arg{i}"),
                    ty: long,
                    loc: ArgLoc::Index(i),
                })
                .collect();
            ctx.is_return = ret;
            ctx.ret_ty = ret.then_some(long);
            ctx.ptr_mem = Mem::User;
            ctx.args_readable = !ret;
            Ok(ctx)
        }
        "profile" => {
            let attach = crate::stacks::profile_attach(rest, rest_span)?;
            Ok(base(attach, "profile"))
        }
        _ => {
            let mut d =
                err(kind_span, format!("unknown probe kind `{kind}`")).label("unknown kind");
            let alias = match kind {
                "k" | "kprobes" => Some("kprobe"),
                "kr" => Some("kretprobe"),
                "t" | "tp" | "tracepoints" => Some("tracepoint"),
                "u" => Some("uprobe"),
                "ur" => Some("uretprobe"),
                "f" => Some("fentry"),
                "fr" => Some("fexit"),
                "rawtracepoint" | "rt" | "raw_tp" | "raw_tracepoint" => Some("tp_btf"),
                _ => None,
            };
            d = match (alias, crate::syntax::bpftrace::probe_kind_hint(kind)) {
                (Some(a), _) => d.note(format!("did you mean `{a}`?")),
                (None, Some(h)) => d.note(h),
                (None, None) => d.suggest(kind, PROBE_KINDS, "kinds"),
            };
            Err(d)
        }
    }
}

impl ProbeCtx {
    /// Number of arguments of the probed function or raw tracepoint.
    pub fn arg_count(&self) -> u32 {
        if self.is_function_like() {
            self.args.len() as u32
        } else {
            0
        }
    }

    fn is_function_like(&self) -> bool {
        !matches!(self.attach, Attach::Tracepoint { .. })
    }

    fn arg_names(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.name.as_str()).collect()
    }

    /// An argument by name; in function-like probes also by position
    /// (`arg0`, `arg1`, ...), as in bpftrace, so a spec can stay portable
    /// across kernels that name a parameter differently or not at all
    /// (5.10's BTF names no tp_btf parameter).
    /// True when the probe has an argument (or tracepoint field) `name`.
    pub(crate) fn has_arg(&self, name: &str) -> bool {
        self.find_arg(name).is_some()
    }

    fn find_arg(&self, name: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.name == name).or_else(|| {
            let i: usize = name.strip_prefix("arg")?.parse().ok()?;
            if !self.is_function_like() || name != format!("arg{i}") {
                return None;
            }
            self.args.get(i)
        })
    }

    fn arg_place(&self, btf: &Btf, a: &Arg, span: Span) -> Result<Place, Diagnostic> {
        match &a.loc {
            ArgLoc::Index(i) => {
                if !self.args_readable {
                    return Err(err(
                        span,
                        format!("a {} cannot read arguments", self.kind),
                    )
                    .label("the registers holding arguments are reused by the time the function returns")
                    .note(match self.kind.as_str() {
                        "uretprobe" => "capture it in a uprobe on the same function instead".to_string(),
                        _ => "use `kretfunc:` (fexit), which sees the arguments, where the kernel allows it".to_string(),
                    }));
                }
                if *i >= MAX_ARGS {
                    return Err(err(
                        span,
                        format!(
                            "`{}` is argument {} of `{}`, and a probe reads the first {MAX_ARGS} (a limit of the precompiled templates)",
                            a.name,
                            i + 1,
                            self.default_name
                        ),
                    )
                    .label(format!("argument {}", i + 1))
                    .note("read it in a function this one calls, or from a struct another argument points to"));
                }
                let size = btf.size_of(a.ty).unwrap_or(8).clamp(1, 8);
                let size = if size.is_power_of_two() { size } else { 8 };
                Ok(Place {
                    base: Base::Arg {
                        off: 8 * i,
                        size,
                        signed: is_signed(btf, a.ty),
                    },
                    hops: Vec::new(),
                    loc: Loc::Reg,
                    ty: a.ty,
                })
            }
            ArgLoc::Tp(f) => Ok(Place {
                base: Base::Ctx,
                hops: Vec::new(),
                loc: if f.data_loc {
                    Loc::DataLoc { off: f.offset }
                } else {
                    Loc::Mem {
                        off: f.offset,
                        mem: Mem::Kernel,
                        bits: None,
                    }
                },
                ty: a.ty,
            }),
        }
    }
}

fn is_signed(btf: &Btf, ty: TypeId) -> bool {
    match btf.ty(btf.strip(ty)) {
        Type::Int { signed, .. } | Type::Enum { signed, .. } => signed,
        _ => false,
    }
}

/// Resolves expressions of one probe.
pub struct Resolver<'a> {
    /// Kernel types.
    pub btf: &'a Btf,
    /// The probe.
    pub ctx: &'a ProbeCtx,
    /// Warnings collected on the way.
    pub warnings: Vec<Diagnostic>,
    /// "`pid` is the builtin" warnings, by name: dropped for a name the
    /// probe also reads as `args.NAME` (its author knows both).
    shadowed: Vec<(String, Diagnostic)>,
    /// Names read as `args.NAME`.
    args_named: Vec<String>,
    /// A paired probe's end side and stash (spec-v2 section 3): `end.`
    /// paths resolve there, other values are stashed start values.
    pub pair: Option<Box<crate::pair::Sides<'a>>>,
}

/// Builtin type for a builtin value.
fn builtin_capture(b: Builtin) -> Capture {
    let (slot_size, decode) = match b {
        Builtin::Comm => (16, Decode::Str),
        Builtin::Task => (8, Decode::Pointer),
        Builtin::Ts | Builtin::Cgroup => (
            8,
            Decode::Int {
                size: 8,
                signed: false,
            },
        ),
        _ => (
            8,
            Decode::Int {
                size: 4,
                signed: false,
            },
        ),
    };
    Capture {
        base: Base::Builtin { builtin: b },
        hops: Vec::new(),
        mem: Mem::Kernel,
        read: Read::Value,
        transform: Transform::None,
        slot_size,
        decode,
    }
}

/// The `pid` builtin's capture.
pub(crate) fn builtin_pid() -> Capture {
    builtin_capture(Builtin::Pid)
}

fn builtin_by_name(n: &str) -> Option<Builtin> {
    Some(match n {
        "pid" => Builtin::Pid,
        "tid" => Builtin::Tid,
        "uid" => Builtin::Uid,
        "gid" => Builtin::Gid,
        "comm" => Builtin::Comm,
        "ts" => Builtin::Ts,
        "cpu" => Builtin::Cpu,
        "cgroup" => Builtin::Cgroup,
        _ => return None,
    })
}

/// Function-like arguments: parameter *i* is the args area's u64 *i*.
fn indexed_args(params: &[crate::btf::Param<'_>]) -> Vec<Arg> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| Arg {
            name: p.name.to_string(),
            ty: p.ty,
            loc: ArgLoc::Index(i as u32),
        })
        .collect()
}

fn round8(n: u32) -> u32 {
    n.div_ceil(8) * 8
}

impl<'a> Resolver<'a> {
    /// A new resolver for one probe.
    pub fn new(btf: &'a Btf, ctx: &'a ProbeCtx) -> Self {
        Resolver {
            btf,
            ctx,
            warnings: Vec::new(),
            shadowed: Vec::new(),
            args_named: Vec::new(),
            pair: None,
        }
    }

    /// The warnings of this probe so far (emptied).
    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        let mut out = std::mem::take(&mut self.warnings);
        if let Some(p) = &mut self.pair {
            out.extend(p.end.take_warnings());
        }
        for (name, d) in self.shadowed.drain(..) {
            if !self.args_named.contains(&name) {
                out.push(d);
            }
        }
        out.sort_by_key(|d| (d.span.start, d.span.end));
        out
    }

    fn ty_desc(&self, ty: TypeId) -> String {
        self.btf.display(ty)
    }

    /// Resolves a path expression (names, `->`, `.`, `[i]`) to a place.
    pub fn place(&mut self, e: &Expr) -> Result<Place, Diagnostic> {
        match &e.kind {
            ExprKind::Ident(name) => self.ident_place(name, e.span),
            ExprKind::Member {
                base,
                member,
                arrow,
            } => {
                // `args.NAME` reaches an argument shadowed by a builtin.
                if let ExprKind::Ident(b) = &base.kind {
                    // bpftrace's `args->NAME`.
                    if b == "args" && *arrow && self.ctx.find_arg("args").is_none() {
                        return Err(err(
                            e.span,
                            format!("bpftrace's `args->{}` is `args.{0}` here", member.value),
                        )
                        .label("`args` is not a pointer")
                        .note(format!(
                            "write `{0}`, or `args.{0}` where a builtin has the same name",
                            member.value
                        )));
                    }
                    if b == "args" && !*arrow && self.ctx.find_arg("args").is_none() {
                        self.args_named.push(member.value.clone());
                        return match self.ctx.find_arg(&member.value) {
                            Some(a) => {
                                let a = a.clone();
                                self.ctx.arg_place(self.btf, &a, e.span)
                            }
                            None => Err(self.unknown_arg(&member.value, member.span)),
                        };
                    }
                }
                let p = self.place(base)?;
                self.member(p, &member.value, member.span, *arrow, base)
            }
            ExprKind::Index { base, index } => {
                let p = self.place(base)?;
                self.index(p, index.value, index.span, base.span)
            }
            ExprKind::Call { func, .. } => Err(err(
                e.span,
                format!("`{}()` cannot be used here", func.value),
            )
            .label("expected a name or a member path")
            .note("functions apply to fields and arguments: `ip4(sk->__sk_common.skc_daddr)`, not to other functions")),
            ExprKind::Param(p) => Err(err(e.span, format!("`${p}` cannot be used here"))
                .label("parameters are constants")
                .note("parameters can be compared with values in `filter:`")),
            ExprKind::Int(_) | ExprKind::Str(_) => Err(err(e.span, "a literal captures nothing")
                .label("expected a name or a member path")),
            ExprKind::Unary { .. }
            | ExprKind::Binary {
                op: crate::syntax::ast::BinOp::Arith(_),
                ..
            } => Err(err(e.span, "arithmetic has no address")
                .label("expected a name or a member path")
                .note("`->`, `.` and `[]` apply to names and member paths, not to computed values")),
            ExprKind::Not(_) | ExprKind::Binary { .. } => Err(err(
                e.span,
                "a condition cannot be captured",
            )
            .label("expected a name or a member path")
            .note("conditions belong in `filter:`")),
        }
    }

    fn unknown_arg(&self, name: &str, span: Span) -> Diagnostic {
        self.unknown_name(name, span, &[])
    }

    /// True if `name` is a builtin or an argument of the probe.
    pub(crate) fn knows_name(&self, name: &str) -> bool {
        BUILTINS.contains(&name) || self.ctx.find_arg(name).is_some() || name == "latency"
    }

    /// "`name` is not an argument": with the nearest name among the
    /// arguments, builtins and `fields` (the output fields a filter may
    /// name), or the arguments when they are few.
    pub(crate) fn unknown_name(&self, name: &str, span: Span, fields: &[&str]) -> Diagnostic {
        let names = self.ctx.arg_names();
        let what = match self.ctx.attach {
            Attach::Tracepoint { .. } => "tracepoint fields",
            Attach::Uprobe { .. } => "arguments",
            _ => "arguments",
        };
        let mut candidates: Vec<&str> = fields.to_vec();
        candidates.extend(names.iter().copied());
        candidates.extend(BUILTINS.iter().copied());
        candidates.retain(|c| *c != name);
        let message = if fields.is_empty() {
            format!("`{name}` is not an argument of `{}`", self.ctx.default_name)
        } else {
            format!(
                "`{name}` is not a field or an argument of `{}`",
                self.ctx.default_name
            )
        };
        if let Some(h) = crate::syntax::bpftrace::builtin_hint(name) {
            // Named as what it is, not as a missing argument.
            return err(
                span,
                format!("`{name}` is a bpftrace builtin, not a tracectl name"),
            )
            .label("bpftrace's name")
            .note(h);
        }
        let mut d = err(span, message).label("unknown name");
        // `arg6` and beyond in a uprobe: a limit, not a typo.
        let beyond = matches!(self.ctx.attach, Attach::Uprobe { .. })
            && name
                .strip_prefix("arg")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= MAX_ARGS);
        let best = if beyond {
            d = d.note(format!(
                "a uprobe reads its first {MAX_ARGS} arguments, `arg0`..`arg{}` (a limit of the precompiled templates)",
                MAX_ARGS - 1
            ));
            None
        } else {
            crate::diag::closest(name, candidates.iter().copied())
        };
        if let Some(best) = best {
            d = d.note(format!("did you mean `{best}`?"));
        } else if !fields.is_empty() {
            d = d.note(format!("this probe's fields: {}", quoted_list(fields)));
        }
        if best.is_none() && !beyond && !names.is_empty() && names.len() <= 12 {
            d = d.note(format!("{what}: {}", quoted_list(&names)));
        }
        d.note(format!("builtins: {}", BUILTINS.join(", ")))
    }

    fn ident_place(&mut self, name: &str, span: Span) -> Result<Place, Diagnostic> {
        if name == "task" {
            self.shadows(name, span);
            return Ok(self.task_place());
        }
        match self.ctx.find_arg(name) {
            Some(a) => {
                let a = a.clone();
                self.ctx.arg_place(self.btf, &a, span)
            }
            None if name == "retval" => self.retval_place(span),
            None if BUILTINS.contains(&name) => Err(err(
                span,
                format!("`{name}` is a builtin, not a memory location"),
            )
            .label("builtins are captured directly: they have no members and point nowhere")
            .note(format!("write `{name}` as a field of its own"))),
            None => Err(self.unknown_arg(name, span)),
        }
    }

    /// Makes sure the place is in memory; loads a pointer held in a register.
    pub(crate) fn deref(&self, p: Place, what_span: Span) -> Result<Place, Diagnostic> {
        let mut p = p;
        match p.loc {
            Loc::Reg => {}
            Loc::Mem { off, mem, .. } => p.hops.push(Hop {
                off,
                mem,
                index: None,
            }),
            Loc::DataLoc { .. } => {
                return Err(err(
                    what_span,
                    "a `__data_loc` field cannot be dereferenced",
                ))
            }
        }
        if p.hops.len() > MAX_HOPS {
            return Err(err(
                what_span,
                format!(
                    "path too deep: {} pointer dereferences, and a value follows at most {MAX_HOPS} (a limit of the precompiled templates)",
                    p.hops.len()
                ),
            )
            .label(format!("pointer {} read from memory", p.hops.len()))
            .note("every pointer read from memory on the way counts; the argument or field the path starts from does not"));
        }
        let mem = if matches!(p.base, Base::Builtin { .. }) {
            // `task->…`: the kernel's own structures.
            Mem::Kernel
        } else if p.hops.is_empty() && matches!(p.base, Base::Arg { .. } | Base::Ctx) {
            self.ctx.ptr_mem
        } else {
            p.hops
                .last()
                .map(|_| self.ctx.ptr_mem)
                .unwrap_or(self.ctx.ptr_mem)
        };
        p.loc = Loc::Mem {
            off: 0,
            mem,
            bits: None,
        };
        Ok(p)
    }

    pub(crate) fn member(
        &mut self,
        p: Place,
        name: &str,
        span: Span,
        arrow: bool,
        base: &Expr,
    ) -> Result<Place, Diagnostic> {
        let base_span = base.span;
        let stripped = self.btf.strip(p.ty);
        let (container, p) = match (self.btf.ty(stripped), arrow) {
            (Type::Ptr { target }, true) => {
                let target = self.btf.strip(target);
                match self.btf.ty(target) {
                    Type::Struct { .. } | Type::Union { .. } => {}
                    Type::Fwd { name: n, .. } => {
                        return Err(err(
                            base_span,
                            format!("`struct {n}` is only declared, not defined, in BTF"),
                        )
                        .label("its members are unknown"))
                    }
                    _ => {
                        return Err(err(
                            span,
                            format!(
                                "`->{name}` on a pointer to `{}`, which has no members",
                                self.ty_desc(target)
                            ),
                        )
                        .label("not a struct or union pointer"))
                    }
                }
                (target, self.deref(p, base_span)?)
            }
            (Type::Ptr { .. }, false) => {
                return Err(err(span, format!("`.{name}` on a pointer"))
                    .label("use `->` to reach a member through a pointer")
                    .also(base_span, format!("this is `{}`", self.ty_desc(p.ty)))
                    .note(format!("write `{}->{name}`", print_expr(base))))
            }
            (Type::Struct { .. } | Type::Union { .. }, false) => (stripped, p),
            (Type::Struct { .. } | Type::Union { .. }, true) => {
                return Err(err(span, format!("`->{name}` on a struct value"))
                    .label("use `.` for members of a struct value")
                    .also(base_span, format!("this is `{}`", self.ty_desc(p.ty)))
                    .note(format!("write `{}.{name}`", print_expr(base))))
            }
            _ => {
                return Err(err(
                    base_span,
                    format!("dereferencing a non-pointer: `{}`", self.ty_desc(p.ty)),
                )
                .label(format!("`{}` has no members", self.ty_desc(p.ty))))
            }
        };
        let Some(m) = self.btf.find_member(container, name) else {
            let names = self.btf.member_names(container);
            let d = err(
                span,
                format!("no member `{name}` in `{}`", self.ty_desc(container)),
            )
            .label("unknown member")
            .suggest(name, names.iter().map(String::as_str), "members");
            return Err(d);
        };
        let Loc::Mem { off, mem, bits } = p.loc else {
            return Err(err(base_span, "this value is not in memory")
                .label("members can only be read from memory"));
        };
        if bits.is_some() {
            return Err(err(span, "a bitfield has no members"));
        }
        let bit = m.bit_offset;
        let bits = if m.bitfield_size > 0 {
            Some((bit % 8, m.bitfield_size))
        } else {
            if bit % 8 != 0 {
                return Err(err(span, "member is not byte-aligned"));
            }
            None
        };
        Ok(Place {
            loc: Loc::Mem {
                off: off + bit / 8,
                mem,
                bits,
            },
            ty: m.ty,
            ..p
        })
    }

    pub(crate) fn index(
        &mut self,
        p: Place,
        index: u64,
        span: Span,
        base_span: Span,
    ) -> Result<Place, Diagnostic> {
        let stripped = self.btf.strip(p.ty);
        match self.btf.ty(stripped) {
            Type::Array { elem, len } => {
                if len > 0 && index >= len as u64 {
                    return Err(err(span, format!("index {index} out of bounds"))
                        .label(format!("`{}` has {len} elements", self.ty_desc(p.ty))));
                }
                let Loc::Mem { off, mem, .. } = p.loc else {
                    return Err(err(base_span, "this array is not in memory"));
                };
                let es = self.btf.size_of(elem).unwrap_or(0);
                let off = (index as u32)
                    .checked_mul(es)
                    .and_then(|o| o.checked_add(off));
                let off = off.ok_or_else(|| err(span, "index too large"))?;
                Ok(Place {
                    loc: Loc::Mem {
                        off,
                        mem,
                        bits: None,
                    },
                    ty: elem,
                    ..p
                })
            }
            Type::Ptr { target } => {
                let es = self.btf.size_of(target).unwrap_or(0);
                if es == 0 {
                    return Err(
                        err(base_span, format!("cannot index `{}`", self.ty_desc(p.ty)))
                            .label("the pointee has no size"),
                    );
                }
                let p = self.deref(p, base_span)?;
                let Loc::Mem { mem, .. } = p.loc else {
                    return Err(err(base_span, "cannot index this value"));
                };
                let off = (index as u32)
                    .checked_mul(es)
                    .ok_or_else(|| err(span, "index too large"))?;
                Ok(Place {
                    loc: Loc::Mem {
                        off,
                        mem,
                        bits: None,
                    },
                    ty: target,
                    ..p
                })
            }
            _ => Err(
                err(base_span, format!("cannot index `{}`", self.ty_desc(p.ty)))
                    .label("not an array or pointer"),
            ),
        }
    }

    /// C `char` (not `unsigned char`, nor `__u8`): what prints as a string
    /// without `str()`.
    fn is_plain_char(&self, ty: TypeId) -> bool {
        matches!(
            self.btf.ty(self.btf.strip(ty)),
            Type::Int { is_char: true, .. }
        )
    }

    /// Any 1-byte integer: what `str()` accepts as a character.
    pub(crate) fn is_char(&self, ty: TypeId) -> bool {
        matches!(
            self.btf.ty(self.btf.strip(ty)),
            Type::Int { is_char: true, .. }
        ) || matches!(self.btf.ty(self.btf.strip(ty)), Type::Int { size: 1, .. })
    }

    /// Reads a string at a place holding a `char *` or a `char[N]`.
    fn string_capture(
        &self,
        p: Place,
        max: Option<u32>,
        mem_override: Option<Mem>,
        span: Span,
        func: &str,
    ) -> Result<Capture, Diagnostic> {
        let stripped = self.btf.strip(p.ty);
        let t = self.btf.ty(stripped);
        let uprobe_long = matches!(self.ctx.attach, Attach::Uprobe { .. })
            && matches!(t, Type::Int { size: 8, .. });
        let read = match t {
            Type::Ptr { target } if self.is_char(target) || func != "implicit" => {
                if !self.is_char(target) {
                    let tt = self.btf.strip(target);
                    if !matches!(self.btf.ty(tt), Type::Void) {
                        return Err(self.not_string(p.ty, span, func));
                    }
                }
                let p2 = self.deref(p.clone(), span)?;
                let Loc::Mem { mem, .. } = p2.loc else {
                    return Err(self.not_string(p.ty, span, func));
                };
                let max = max.unwrap_or(DEFAULT_STR);
                return Ok(Capture {
                    base: p2.base,
                    hops: p2.hops,
                    mem: Mem::Kernel,
                    read: Read::Str {
                        off: 0,
                        max,
                        mem: mem_override.unwrap_or(mem),
                    },
                    transform: Transform::None,
                    slot_size: round8(max),
                    decode: Decode::Str,
                });
            }
            _ if uprobe_long => {
                let p2 = self.deref(p, span)?;
                let max = max.unwrap_or(DEFAULT_STR);
                return Ok(Capture {
                    base: p2.base,
                    hops: p2.hops,
                    mem: Mem::Kernel,
                    read: Read::Str {
                        off: 0,
                        max,
                        mem: mem_override.unwrap_or(Mem::User),
                    },
                    transform: Transform::None,
                    slot_size: round8(max),
                    decode: Decode::Str,
                });
            }
            Type::Array { elem, len } if self.is_char(elem) => match p.loc {
                Loc::Mem { off, mem, .. } => {
                    let cap = if len == 0 {
                        DEFAULT_STR
                    } else {
                        len.min(MAX_STR)
                    };
                    let max = max.map_or(cap, |m| m.min(cap.max(m)));
                    Read::Str {
                        off,
                        max,
                        mem: mem_override.unwrap_or(mem),
                    }
                }
                Loc::DataLoc { off } => Read::DataLocStr {
                    off,
                    max: max.unwrap_or(DEFAULT_STR),
                },
                Loc::Reg => return Err(self.not_string(p.ty, span, func)),
            },
            _ => return Err(self.not_string(p.ty, span, func)),
        };
        let max = match read {
            Read::Str { max, .. } | Read::DataLocStr { max, .. } => max,
            _ => DEFAULT_STR,
        };
        Ok(Capture {
            base: p.base,
            hops: p.hops,
            mem: Mem::Kernel,
            read,
            transform: Transform::None,
            slot_size: round8(max),
            decode: Decode::Str,
        })
    }

    fn not_string(&self, ty: TypeId, span: Span, func: &str) -> Diagnostic {
        err(
            span,
            format!(
                "{} on a non-string: `{}`",
                if func == "implicit" {
                    "string read".to_string()
                } else {
                    format!("`{func}()`")
                },
                self.ty_desc(ty)
            ),
        )
        .label("expected `char *` or `char[N]`")
        .note("use `hex()` for a pointer's value, or `bytes(e, n)` for raw memory")
    }

    /// Reads an integer (or pointer) value at a place.
    pub(crate) fn int_capture(&self, p: Place, span: Span) -> Result<Capture, Diagnostic> {
        let stripped = self.btf.strip(p.ty);
        let (size, signed, decode) = match self.btf.ty(stripped) {
            Type::Int {
                size,
                signed,
                is_bool,
                ..
            } => (
                size,
                signed,
                if is_bool {
                    Decode::Bool
                } else {
                    Decode::Int { size, signed }
                },
            ),
            Type::Enum { size, signed, .. } => (size, signed, Decode::Int { size, signed }),
            Type::Ptr { .. } => (8, false, Decode::Pointer),
            other => {
                return Err(self.not_capturable(p.ty, &other, span));
            }
        };
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(err(span, format!("cannot capture a {size}-byte integer"))
                .label("integers of 1, 2, 4 or 8 bytes only")
                .note("use `bytes(e, n)` for raw memory"));
        }
        let (base, hops, mem, read) = match p.loc {
            Loc::Reg => (p.base, p.hops, Mem::Kernel, Read::Value),
            Loc::Mem { off, mem, bits } => {
                let (bit_off, bit_size, rsize) = match bits {
                    Some((bo, bs)) => {
                        let need = (bo + bs).div_ceil(8);
                        let rsize = need.next_power_of_two().clamp(1, 8);
                        (bo, bs, rsize)
                    }
                    None => (0, 0, size),
                };
                (
                    p.base,
                    p.hops,
                    mem,
                    Read::Int {
                        off,
                        size: rsize,
                        signed,
                        bit_off,
                        bit_size,
                    },
                )
            }
            Loc::DataLoc { .. } => return Err(err(span, "a `__data_loc` field is not an integer")),
        };
        Ok(Capture {
            base,
            hops,
            mem,
            read,
            transform: Transform::None,
            slot_size: 8,
            decode,
        })
    }

    fn not_capturable(&self, ty: TypeId, t: &Type, span: Span) -> Diagnostic {
        match t {
            Type::Struct { .. } | Type::Union { .. } => {
                let names = self.btf.member_names(self.btf.strip(ty));
                let few = quoted_list(names.iter().take(8));
                let mut d = err(
                    span,
                    format!("cannot capture a whole `{}`", self.ty_desc(ty)),
                )
                .label("a struct is not a printable value")
                .note("pick a member, or use `bytes(e, n)` for its raw bytes");
                if !few.is_empty() {
                    d = d.note(format!("its members include {few}"));
                }
                d
            }
            Type::Void => err(span, "cannot capture `void`"),
            Type::Float { .. } => err(span, "floating-point values are not supported"),
            _ => err(
                span,
                format!("cannot capture a value of type `{}`", self.ty_desc(ty)),
            ),
        }
    }

    /// Captures a place as its type suggests: strings for `char *` and
    /// `char[N]`, integer arrays, integers and pointers.
    fn natural_capture(&self, p: Place, span: Span) -> Result<Capture, Diagnostic> {
        let stripped = self.btf.strip(p.ty);
        match self.btf.ty(stripped) {
            Type::Ptr { target } if self.is_plain_char(target) => {
                self.string_capture(p, None, None, span, "implicit")
            }
            Type::Array { elem, .. } if self.is_plain_char(elem) => {
                self.string_capture(p, None, None, span, "implicit")
            }
            Type::Array { elem, len } => {
                let es = self.btf.size_of(elem).unwrap_or(0);
                let signed = is_signed(self.btf, elem);
                let elem_int = matches!(
                    self.btf.ty(self.btf.strip(elem)),
                    Type::Int { .. } | Type::Enum { .. }
                );
                if !elem_int || !matches!(es, 1 | 2 | 4 | 8) || len == 0 {
                    return Err(err(
                        span,
                        format!("cannot capture `{}` as a whole", self.ty_desc(p.ty)),
                    )
                    .label("index an element, e.g. `x[0]`"));
                }
                let Loc::Mem { off, mem, .. } = p.loc else {
                    return Err(err(span, "this array is not in memory"));
                };
                let total = es * len;
                if total > MAX_STR {
                    return Err(err(span, format!("array of {total} bytes is too large"))
                        .label(format!("one value holds at most {MAX_STR} bytes")));
                }
                Ok(Capture {
                    base: p.base,
                    hops: p.hops,
                    mem: Mem::Kernel,
                    read: Read::Bytes {
                        off,
                        len: total,
                        mem,
                    },
                    transform: Transform::None,
                    slot_size: round8(total),
                    decode: Decode::IntArray { elem: es, signed },
                })
            }
            _ => self.int_capture(p, span),
        }
    }

    /// Resolves a field expression (or a filter operand) to a capture; in
    /// a paired probe, an `end.` path at the end probe, `latency`, or a
    /// start value to stash ([`crate::pair`]).
    pub fn capture(&mut self, e: &Expr) -> Result<Capture, Diagnostic> {
        if self.pair.is_some() || crate::pair::is_pair_name(self, e) {
            return crate::pair::capture(self, e);
        }
        self.capture_here(e)
    }

    /// Resolves an expression at this resolver's own probe.
    pub(crate) fn capture_here(&mut self, e: &Expr) -> Result<Capture, Diagnostic> {
        match &e.kind {
            ExprKind::Ident(name) => {
                if let Some(b) = builtin_by_name(name) {
                    self.shadows(name, e.span);
                    return Ok(builtin_capture(b));
                }
                if let Some(c) = self.context_builtin(name, e.span) {
                    self.shadows(name, e.span);
                    return c;
                }
                if let Some(c) = self.stack_builtin(name, e.span) {
                    self.shadows(name, e.span);
                    return c;
                }
                if name == "retval" {
                    return self.retval(e.span);
                }
                let p = self.place(e)?;
                self.natural_capture(p, e.span)
            }
            ExprKind::Call { func, args } => {
                self.call(func.value.as_str(), func.span, args, e.span)
            }
            _ => {
                let p = self.place(e)?;
                self.natural_capture(p, e.span)
            }
        }
    }

    /// Notes that `name`, a builtin, hides the probe's argument of the same
    /// name (a warning unless the spec also reads `args.NAME`).
    fn shadows(&mut self, name: &str, span: Span) {
        if self.ctx.find_arg(name).is_some() {
            self.shadowed.push((
                name.to_string(),
                Diagnostic::warning(
                    span,
                    format!("`{name}` is the builtin, not the argument of the same name"),
                )
                .label("builtin")
                .note(format!("write `args.{name}` for the argument")),
            ));
        }
    }

    fn retval_place(&self, span: Span) -> Result<Place, Diagnostic> {
        if !self.ctx.is_return {
            let help = match &self.ctx.attach {
                Attach::Kernel { function, mode, .. } => {
                    let kind = match mode {
                        KernelMode::Auto => "kretfunc",
                        KernelMode::Kprobe => "kretprobe",
                        KernelMode::Fentry => "fexit",
                    };
                    format!("a return probe sees it: `{kind}:{function}`")
                }
                Attach::Uprobe { binary, symbol, .. } => {
                    format!("a return probe sees it: `uretprobe:{binary}:{symbol}`")
                }
                Attach::Profile { .. } => "a `profile:` sample interrupts a task anywhere: it has no return value".to_string(),
                Attach::Tracepoint { .. } | Attach::TpBtf { .. } => "tracepoints have no return value; a syscall's result is the `ret` field of `tracepoint:syscalls:sys_exit_…`".to_string(),
            };
            return Err(err(span, "`retval` in an entry probe")
                .label("only return probes have a return value")
                .note(help));
        }
        let ty = self.ctx.ret_ty.unwrap_or(0);
        if matches!(self.btf.ty(self.btf.strip(ty)), Type::Void) {
            return Err(err(span, "`retval` of a function returning void")
                .label("there is no return value"));
        }
        let size = self.btf.size_of(ty).unwrap_or(8).clamp(1, 8);
        Ok(Place {
            base: Base::Arg {
                off: RET_OFF,
                size: if size.is_power_of_two() { size } else { 8 },
                signed: is_signed(self.btf, ty),
            },
            hops: Vec::new(),
            loc: Loc::Reg,
            ty,
        })
    }

    fn retval(&mut self, span: Span) -> Result<Capture, Diagnostic> {
        let p = self.retval_place(span)?;
        self.natural_capture(p, span)
    }

    /// A function argument that must be a path (or `retval`).
    pub(crate) fn arg_place(&mut self, e: &Expr) -> Result<Place, Diagnostic> {
        if let ExprKind::Ident(n) = &e.kind {
            if n == "retval" {
                return self.retval_place(e.span);
            }
        }
        self.place(e)
    }

    fn literal_len(&self, e: &Expr, what: &str) -> Result<u32, Diagnostic> {
        match e.kind {
            ExprKind::Int(v) if v >= 1 && v <= MAX_STR as i128 => Ok(v as u32),
            ExprKind::Int(_) => {
                Err(err(e.span, format!("{what} must be 1..={MAX_STR}")).label("out of range"))
            }
            _ => Err(err(e.span, format!("{what} must be an integer literal"))
                .label("expected a number")),
        }
    }

    pub(crate) fn arity(
        &self,
        func: &str,
        args: &[Expr],
        min: usize,
        max: usize,
        span: Span,
    ) -> Result<(), Diagnostic> {
        if args.len() < min || args.len() > max {
            let want = if min == max {
                format!("{min}")
            } else {
                format!("{min} or {max}")
            };
            return Err(err(
                span,
                format!(
                    "`{func}()` takes {want} argument{}",
                    if max == 1 { "" } else { "s" }
                ),
            )
            .label(format!("{} given", args.len())));
        }
        Ok(())
    }

    fn call(
        &mut self,
        func: &str,
        func_span: Span,
        args: &[Expr],
        span: Span,
    ) -> Result<Capture, Diagnostic> {
        if let Some(d) = crate::syntax::bpftrace::call_hint(func, func_span, args) {
            return Err(d);
        }
        match func {
            "str" | "ustr" | "kstr" => {
                self.arity(func, args, 1, 2, span)?;
                let max = args
                    .get(1)
                    .map(|a| self.literal_len(a, "the string length"))
                    .transpose()?;
                let mem = match func {
                    "ustr" => Some(Mem::User),
                    "kstr" => Some(Mem::Kernel),
                    _ => None,
                };
                let p = self.arg_place(&args[0])?;
                self.string_capture(p, max, mem, args[0].span, func)
            }
            "ip4" | "ntohs" | "ntohl" | "hex" => {
                self.arity(func, args, 1, 1, span)?;
                let p = self.arg_place(&args[0])?;
                // `__u8 daddr[4]` (as in sock:inet_sock_set_state) is an address too.
                if func == "ip4" {
                    if let (Type::Array { .. }, Loc::Mem { off, mem, .. }) =
                        (self.btf.ty(self.btf.strip(p.ty)), p.loc)
                    {
                        if self.btf.size_of(p.ty) == Some(4) {
                            return Ok(Capture {
                                base: p.base,
                                hops: p.hops,
                                mem: Mem::Kernel,
                                read: Read::Bytes { off, len: 4, mem },
                                transform: Transform::None,
                                slot_size: 8,
                                decode: Decode::Ip4,
                            });
                        }
                    }
                }
                let ty = p.ty;
                let size = self.btf.size_of(ty).unwrap_or(8);
                let need = match func {
                    "ip4" | "ntohl" => Some(4),
                    "ntohs" => Some(2),
                    _ => None,
                };
                let integer = matches!(
                    self.btf.ty(self.btf.strip(ty)),
                    Type::Int { .. } | Type::Enum { .. }
                );
                if let Some(n) = need {
                    if size != n || !integer {
                        return Err(err(
                            args[0].span,
                            format!(
                                "`{func}()` needs a {n}-byte integer; this is `{}` ({size} bytes)",
                                self.ty_desc(ty)
                            ),
                        )
                        .label(format!("{size} bytes"))
                        .note(match func {
                            "ip4" => "IPv4 addresses are `__be32` (e.g. `sk->__sk_common.skc_daddr`); use `ip6()` for 16-byte addresses",
                            "ntohs" => "`ntohs()` converts a 16-bit `__be16` such as `skc_dport`",
                            _ => "`ntohl()` converts a 32-bit `__be32`",
                        }));
                    }
                }
                let mut c = self.int_capture(p, args[0].span)?;
                match func {
                    "ip4" => c.decode = Decode::Ip4,
                    "ntohs" => {
                        c.transform = Transform::Bswap16;
                        c.decode = Decode::Int {
                            size: 2,
                            signed: false,
                        };
                    }
                    "ntohl" => {
                        c.transform = Transform::Bswap32;
                        c.decode = Decode::Int {
                            size: 4,
                            signed: false,
                        };
                    }
                    _ => c.decode = Decode::Hex,
                }
                // Byte-swapped and hex values compare unsigned.
                if let Read::Int { signed, .. } = &mut c.read {
                    if func != "hex" {
                        *signed = false;
                    }
                }
                Ok(c)
            }
            "ip6" | "bytes" => {
                let (n, min) = if func == "ip6" {
                    self.arity(func, args, 1, 1, span)?;
                    (16, 1)
                } else {
                    self.arity(func, args, 2, 2, span)?;
                    (self.literal_len(&args[1], "the byte count")?, 2)
                };
                let _ = min;
                let p = self.arg_place(&args[0])?;
                let stripped = self.btf.strip(p.ty);
                let (p, at) = match (self.btf.ty(stripped), p.loc) {
                    // A pointer: the bytes it points to.
                    (Type::Ptr { .. }, _) => {
                        let p2 = self.deref(p, args[0].span)?;
                        (p2, "pointee")
                    }
                    (_, Loc::Mem { .. }) => (p, "value"),
                    _ => {
                        return Err(err(
                            args[0].span,
                            format!("`{func}()` needs memory: a pointer, array or struct member"),
                        )
                        .label(format!("this is `{}`", self.ty_desc(p.ty))))
                    }
                };
                if func == "ip6" && at == "value" {
                    let size = self.btf.size_of(p.ty).unwrap_or(0);
                    if size != 16 {
                        return Err(err(
                            args[0].span,
                            format!(
                                "`ip6()` needs a 16-byte address; this is `{}` ({size} bytes)",
                                self.ty_desc(p.ty)
                            ),
                        )
                        .label(format!("{size} bytes"))
                        .note("IPv6 addresses are `struct in6_addr` (e.g. `sk->__sk_common.skc_v6_daddr`); use `ip4()` for `__be32`"));
                    }
                }
                let Loc::Mem { off, mem, .. } = p.loc else {
                    return Err(err(args[0].span, "not in memory"));
                };
                Ok(Capture {
                    base: p.base,
                    hops: p.hops,
                    mem: Mem::Kernel,
                    read: Read::Bytes { off, len: n, mem },
                    transform: Transform::None,
                    slot_size: round8(n),
                    decode: if func == "ip6" {
                        Decode::Ip6
                    } else {
                        Decode::Bytes
                    },
                })
            }
            _ => match self
                .context_call(func, args, span)
                .or_else(|| self.stack_call(func, args, span))
            {
                Some(r) => r,
                None => match crate::syntax::bpftrace::function_hint(func) {
                    Some(h) => Err(err(func_span, format!("unknown function `{func}()`"))
                        .label("a bpftrace function")
                        .note(h)),
                    None => Err(err(func_span, format!("unknown function `{func}()`"))
                        .label("unknown function")
                        .suggest(func, function_names(), "functions")),
                },
            },
        }
    }
}
