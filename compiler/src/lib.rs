//! tracectl-compiler turns a trace spec (YAML or the compact DSL) into a
//! checked, serialisable [`plan::Plan`], or into located diagnostics.
//!
//! It never needs root or a kernel: kernel types come from a BTF file (the
//! host's `/sys/kernel/btf/vmlinux` or any other), tracepoint formats from
//! tracefs when readable, else from BTF.
//!
//! The passes, in order:
//! 1. [`syntax`] — parse YAML or DSL into a spanned [`syntax::ast::Spec`];
//! 2. [`resolve`] — probe targets, names and member paths against [`btf`]
//!    and [`tracefs`] formats;
//! 3. [`check`] — parameter values, typed and folded filters
//!    ([`arith`] for arithmetic, [`aggregate`] for aggregations, [`pair`]
//!    for start/end pairing);
//! 4. [`lower`] — record layout, value ops and the filter program;
//!
//! [`compile`] runs them; [`diag`] renders what went wrong.

#![warn(missing_docs)]

pub mod aggregate;
pub mod arith;
pub mod btf;
pub mod check;
pub mod compile;
pub mod context;
pub mod diag;
pub mod lower;
pub mod mapped;
pub mod names;
pub mod pair;
pub mod plan;
pub mod resolve;
pub mod schema;
pub mod stacks;
pub mod syntax;
pub mod tracefs;
