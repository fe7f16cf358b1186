//! The report's "what a connection costs" section: memory per connection measured whole — the
//! server's user memory and the kernel's (page tables, kernel stacks, socket objects and buffers) —
//! for every point whose runs carry it ([`ConnMemory`]), medians over the repeats.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::Spread;
use crate::results::comparison::{ResultsFile, RunResult};
use crate::results::conn_memory::ConnMemory;
use crate::results::cost::Cost;

/// The section's markdown, or nothing when no run measured memory.
pub fn section(files: &[ResultsFile]) -> String {
    let mut by_cell: BTreeMap<(String, String), Vec<ConnMemory>> = BTreeMap::new();
    for run in files.iter().flat_map(|f| &f.runs) {
        let cost: &Cost = match &run.result {
            RunResult::Conns(r) => &r.cost,
            RunResult::Echo(r) => &r.cost,
            RunResult::Chat(r) => &r.cost,
            _ => continue,
        };
        if let Some(m) = cost.server.as_ref().and_then(|s| s.memory.clone()) {
            by_cell
                .entry((run.point.clone(), run.variant.clone()))
                .or_default()
                .push(m);
        }
    }
    if by_cell.is_empty() {
        return String::new();
    }
    let mut t = String::from(
        "\n## What a connection costs: memory measured whole\n\n\
         Bytes per connection from before the connections were opened to the start of the measured \
         window (idle points: connections open and idle; echo and chat points: under load). User: \
         the server's RSS. Page tables: the server's `VmPTE`. Kernel stacks: `/proc/meminfo` \
         `KernelStack`, machine-wide. Slab and TCP buffers: `/proc/meminfo` `Slab` and \
         `/proc/net/sockstat` `TCP mem`, machine-wide, so on loopback they hold **both ends** \
         (the generator's sockets too): the server's share of the socket part is about half. \
         Server kernel = page tables + kernel stacks + half of slab and TCP buffers (for a thread \
         per connection this undercounts: its task structures are in the slab too). Machine-wide \
         figures move with whatever else runs: medians of the repeats, range in brackets.\n\n\
         | point | variant | user | page tables | kernel stacks | slab (both ends) | TCP buffers (both ends) | server kernel (est.) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for ((point, variant), ms) in &by_cell {
        let cell = |f: fn(&ConnMemory) -> f64| bytes(Spread::of(ms.iter().map(f).collect()));
        let _ = writeln!(
            t,
            "| {point} | {variant} | {} | {} | {} | {} | {} | {} |",
            cell(|m| m.user_rss_per_conn_bytes),
            cell(|m| m.page_tables_per_conn_bytes),
            cell(|m| m.kernel_stack_per_conn_bytes),
            cell(|m| m.slab_both_ends_per_conn_bytes),
            cell(|m| m.tcp_buffers_both_ends_per_conn_bytes),
            cell(ConnMemory::server_kernel_per_conn_bytes),
        );
    }
    t
}

/// `1 625 B [1 600–1 700]`, or `-`.
fn bytes(s: Option<Spread>) -> String {
    match s {
        None => "-".into(),
        Some(s) if s.n > 1 => format!("{:.0} B [{:.0}–{:.0}]", s.median, s.min, s.max),
        Some(s) => format!("{:.0} B", s.median),
    }
}
