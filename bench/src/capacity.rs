//! `loadgen capacity`: not yet wired.

use crate::cli::CapacityArgs;
use crate::commands::Verdict;

/// Runs a capacity search.
pub fn run(_args: &CapacityArgs) -> anyhow::Result<Verdict> {
    anyhow::bail!("capacity search: not implemented yet")
}
