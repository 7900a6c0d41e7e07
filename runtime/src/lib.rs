//! tracectl's runtime: takes a compiled plan, loads the precompiled eBPF
//! templates with aya, attaches them, reads the shared ring buffer, decodes
//! records and prints them as a table, JSON Lines or CSV. It also hosts the
//! `tracectl` command line.
//!
//! The passes after the compiler's: **load** (templates configured and
//! verified) → **attach** → **output** ([`decode`], then [`output`]).

#![warn(missing_docs)]

pub mod abi;
pub mod aggregate;
pub mod cgroups;
pub mod cli;
pub mod decode;
pub mod error;
pub mod here;
pub mod load;
pub mod names;
pub mod output;
pub mod pair;
pub mod recipes;
pub mod run;
pub mod session;
pub mod stacks;
pub mod stats;
/// Stack symbolization (blazesym): kernel and user addresses to functions, offsets and modules.
pub mod symbolize;
pub mod targets;
pub mod templates;
