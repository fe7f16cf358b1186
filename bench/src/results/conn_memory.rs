//! What connections cost in memory, measured whole: the server's user memory, and the kernel's —
//! socket objects and buffers, thread kernel stacks, page tables — each per connection.
//!
//! Read by the sampler before the connections are opened (baseline) and at the start of the
//! measured window (connections open; idle in the conns scenario, under load in echo and chat):
//! * user RSS: the server's `/proc/PID/stat` RSS;
//! * page tables: the server's `VmPTE` (`/proc/PID/status`), exact for the server;
//! * kernel stacks: `/proc/meminfo` `KernelStack`, machine-wide — the server's new threads account
//!   for the change (the generator's few worker threads are counted too; other processes' threads
//!   are noise, which is why it is measured on a quiet machine or repeated);
//! * slab: `/proc/meminfo` `Slab`, machine-wide: socket, file, dentry and epoll objects — and a
//!   thread's task structures — of **both** ends, since on loopback the generator's sockets live in
//!   the same kernel; a socket's objects are alike on both ends, so the server's share of the
//!   socket part is about half (threads' structures are all the server's);
//! * TCP buffers: `/proc/net/sockstat` `TCP mem` pages, both ends likewise (data in flight sits in
//!   the receiver's buffer, on one end or the other).

use host_probe::KernelMemory;
use serde::{Deserialize, Serialize};

/// Memory per connection, user and kernel, between the baseline and the window's start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ConnMemory {
    /// Connections the figures are divided by.
    pub conns: usize,
    /// Server user memory (RSS) per connection, bytes.
    pub user_rss_per_conn_bytes: f64,
    /// Server page tables (`VmPTE`) per connection, bytes.
    pub page_tables_per_conn_bytes: f64,
    /// Kernel stacks (`KernelStack`, machine-wide) per connection, bytes: the server's threads.
    pub kernel_stack_per_conn_bytes: f64,
    /// Kernel objects (`Slab`, machine-wide, both ends of loopback) per connection, bytes.
    pub slab_both_ends_per_conn_bytes: f64,
    /// TCP socket buffers (`/proc/net/sockstat` `TCP mem`, both ends) per connection, bytes.
    pub tcp_buffers_both_ends_per_conn_bytes: f64,
    /// TCP sockets opened meanwhile, machine-wide (about 2 per connection on loopback).
    pub tcp_sockets_opened: i64,
}

impl ConnMemory {
    /// The figures between two readings, divided by `conns`; `rss` and `pte` are the server's RSS
    /// and page tables (bytes) at the two readings.
    pub fn between(
        conns: usize,
        rss: (u64, u64),
        pte: (u64, u64),
        k0: &KernelMemory,
        k1: &KernelMemory,
    ) -> ConnMemory {
        let per = |a: u64, b: u64| {
            if conns == 0 {
                0.0
            } else {
                (b as f64 - a as f64) / conns as f64
            }
        };
        ConnMemory {
            conns,
            user_rss_per_conn_bytes: per(rss.0, rss.1),
            page_tables_per_conn_bytes: per(pte.0, pte.1),
            kernel_stack_per_conn_bytes: per(k0.kernel_stack_bytes, k1.kernel_stack_bytes),
            slab_both_ends_per_conn_bytes: per(k0.slab_bytes, k1.slab_bytes),
            tcp_buffers_both_ends_per_conn_bytes: per(k0.tcp_buffer_bytes, k1.tcp_buffer_bytes),
            tcp_sockets_opened: k1.tcp_sockets as i64 - k0.tcp_sockets as i64,
        }
    }

    /// The server's kernel memory per connection, estimated: its page tables and kernel stacks, and
    /// half of the slab and TCP buffers (both ends' sockets are alike on loopback). For a thread per
    /// connection the half undercounts: its task structures are in the slab too, all the server's.
    pub fn server_kernel_per_conn_bytes(&self) -> f64 {
        self.page_tables_per_conn_bytes
            + self.kernel_stack_per_conn_bytes
            + (self.slab_both_ends_per_conn_bytes + self.tcp_buffers_both_ends_per_conn_bytes) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_connection_and_server_share() {
        let k0 = KernelMemory::default();
        let k1 = KernelMemory {
            kernel_stack_bytes: 16 * 1024 * 100,
            page_tables_bytes: 0,
            slab_bytes: 8000 * 100,
            slab_unreclaimable_bytes: 0,
            tcp_sockets: 200,
            tcp_buffer_bytes: 0,
        };
        let m = ConnMemory::between(100, (1000, 1000 + 2048 * 100), (0, 400 * 100), &k0, &k1);
        assert_eq!(m.user_rss_per_conn_bytes, 2048.0);
        assert_eq!(m.kernel_stack_per_conn_bytes, 16384.0);
        assert_eq!(m.tcp_sockets_opened, 200);
        assert_eq!(m.server_kernel_per_conn_bytes(), 400.0 + 16384.0 + 4000.0);
    }
}
