//! How many connections `vm.max_map_count` lets a thread-per-connection process hold.
//!
//! Every thread costs the process four memory mappings: its stack and the stack's guard page, and
//! the alternate signal stack Rust's runtime gives each thread, with its guard page. Once the
//! process reaches `vm.max_map_count` (65 530 by default), creating a thread fails — and when the
//! failing mapping is a new thread's signal stack, the runtime aborts the whole process. So the
//! variant refuses connections (like over `--max-conns`: chat `ERR server-full`) before the
//! mappings run out: a flood of connections then costs refusals, not the server.

use std::fs;

/// Mappings one thread costs (measured: 1 000 echo connections add 4 031 mappings).
pub(crate) const MAPS_PER_THREAD: u64 = 4;
/// Mappings left for everything else: the binary, libraries, heap arenas, the accept loop's threads.
const RESERVE: u64 = 1024;
const MAX_MAP_COUNT: &str = "/proc/sys/vm/max_map_count";

/// The most connections of `threads_per_conn` threads each that `max_map_count` leaves room for.
pub(crate) fn max_conns_for(max_map_count: u64, threads_per_conn: u64) -> usize {
    (max_map_count.saturating_sub(RESERVE) / (MAPS_PER_THREAD * threads_per_conn.max(1))) as usize
}

/// `--max-conns`, lowered to what this machine's `vm.max_map_count` allows (unchanged where it cannot
/// be read).
pub(crate) fn cap_max_conns(max_conns: usize, threads_per_conn: u64) -> usize {
    let Some(max_map_count) = fs::read_to_string(MAX_MAP_COUNT)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
    else {
        return max_conns;
    };
    let allowed = max_conns_for(max_map_count, threads_per_conn);
    if allowed < max_conns {
        tracing::warn!(
            max_conns,
            allowed,
            max_map_count,
            threads_per_conn,
            "vm.max_map_count allows fewer connection threads than --max-conns: refusing connections beyond {allowed}"
        );
        return allowed;
    }
    max_conns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_map_count_caps_echo_and_chat() {
        assert_eq!(max_conns_for(65_530, 1), 16_126);
        assert_eq!(max_conns_for(65_530, 2), 8_063);
        assert_eq!(max_conns_for(100, 1), 0);
    }
}
