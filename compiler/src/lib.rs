//! tracectl-compiler turns a trace spec (YAML or the compact DSL) into a
//! checked, serialisable [`plan::Plan`], or into located diagnostics.
//!
//! It never needs root or a kernel: kernel types come from a BTF file (the
//! host's `/sys/kernel/btf/vmlinux` or any other), tracepoint formats from
//! tracefs when readable, else from BTF.

pub mod btf;
pub mod plan;
pub mod tracefs;
