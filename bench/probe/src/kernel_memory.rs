//! The kernel's own memory, machine-wide: what connections cost that no process's RSS shows (socket
//! objects and buffers, thread kernel stacks, page tables). From `/proc/meminfo` and
//! `/proc/net/sockstat`; a process's own page tables are [`Process::page_table_bytes`](crate::Process::page_table_bytes).

use std::fs;

use crate::error::{ProbeError, Result};
use crate::status_value;
use crate::sys::page_size;

const MEMINFO: &str = "/proc/meminfo";
const SOCKSTAT: &str = "/proc/net/sockstat";

/// One reading of the kernel's memory counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelMemory {
    /// `KernelStack`: every thread's kernel stack, bytes.
    pub kernel_stack_bytes: u64,
    /// `PageTables`: every process's page tables, bytes.
    pub page_tables_bytes: u64,
    /// `Slab`: the kernel's object caches (sockets, files, dentries, epoll items, ...), bytes.
    pub slab_bytes: u64,
    /// `SUnreclaim`: the part of `Slab` that cannot be reclaimed (socket objects among it), bytes.
    pub slab_unreclaimable_bytes: u64,
    /// `TCP: inuse`: TCP sockets in use (both ends of a loopback connection count).
    pub tcp_sockets: u64,
    /// `TCP: mem`: pages held by TCP socket buffers, in bytes.
    pub tcp_buffer_bytes: u64,
}

impl KernelMemory {
    /// Reads `/proc/meminfo` and `/proc/net/sockstat` now.
    pub fn read() -> Result<KernelMemory> {
        let meminfo = fs::read_to_string(MEMINFO).map_err(|e| ProbeError::read(MEMINFO, e))?;
        let sockstat = fs::read_to_string(SOCKSTAT).map_err(|e| ProbeError::read(SOCKSTAT, e))?;
        Self::parse(&meminfo, &sockstat, page_size())
    }

    /// Parses the two files' texts (`page` bytes per page).
    pub fn parse(meminfo: &str, sockstat: &str, page: u64) -> Result<KernelMemory> {
        let field = |key: &str| {
            status_value(meminfo, key)
                .ok_or_else(|| ProbeError::format(MEMINFO, format!("no {key}")))
        };
        let tcp = sockstat
            .lines()
            .find_map(|l| l.strip_prefix("TCP:"))
            .ok_or_else(|| ProbeError::format(SOCKSTAT, "no TCP line"))?;
        let tcp_value = |key: &str| {
            let mut words = tcp.split_whitespace();
            while let Some(word) = words.next() {
                if word == key {
                    return words.next().and_then(|v| v.parse::<u64>().ok());
                }
            }
            None
        };
        let tcp_field = |key: &str| {
            tcp_value(key).ok_or_else(|| ProbeError::format(SOCKSTAT, format!("no TCP {key}")))
        };
        Ok(KernelMemory {
            kernel_stack_bytes: field("KernelStack")?,
            page_tables_bytes: field("PageTables")?,
            slab_bytes: field("Slab")?,
            slab_unreclaimable_bytes: field("SUnreclaim")?,
            tcp_sockets: tcp_field("inuse")?,
            tcp_buffer_bytes: tcp_field("mem")? * page,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_meminfo_and_sockstat() {
        let meminfo = "MemTotal: 100 kB\nSlab:   899720 kB\nSUnreclaim:  113772 kB\n\
                       KernelStack:  4448 kB\nPageTables: 8496 kB\n";
        let sockstat = "sockets: used 331\nTCP: inuse 303 orphan 0 tw 42485 alloc 303 mem 138\n\
                        UDP: inuse 0 mem 0\n";
        let k = KernelMemory::parse(meminfo, sockstat, 4096).unwrap();
        assert_eq!(k.kernel_stack_bytes, 4448 * 1024);
        assert_eq!(k.page_tables_bytes, 8496 * 1024);
        assert_eq!(k.slab_bytes, 899_720 * 1024);
        assert_eq!(k.slab_unreclaimable_bytes, 113_772 * 1024);
        assert_eq!(k.tcp_sockets, 303);
        assert_eq!(k.tcp_buffer_bytes, 138 * 4096);
        assert!(KernelMemory::parse("", sockstat, 4096).is_err());
        assert!(KernelMemory::parse(meminfo, "UDP: inuse 0\n", 4096).is_err());
    }

    #[test]
    fn reads_this_machine() {
        let k = KernelMemory::read().unwrap();
        assert!(k.kernel_stack_bytes > 0);
        assert!(k.page_tables_bytes > 0);
    }
}
