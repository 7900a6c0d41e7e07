//! `tracectl run` and `tracectl check --load`: compile, load, attach, stream.

use crate::cli::{Failure, RunArgs};
use tracectl_compiler::plan::Plan;

/// `tracectl run`.
pub fn run(_args: &RunArgs) -> Result<(), Failure> {
    Err(Failure::Message("run is being wired to the loader".into()))
}

/// Loads, attaches and detaches every probe of a plan.
pub fn check_load(_plan: &Plan, _verbose: bool) -> Result<(), String> {
    Err("check --load is being wired to the loader".into())
}
