//! `host-probe`: one reader of `/proc` for the load generator and the tests.
//!
//! * [`Process`]: a process by pid — CPU time, RSS, threads, open fds,
//!   context switches (summed over its threads), `/proc/PID/status` fields,
//!   and a nanosecond CPU clock ([`CpuClock`], from `clock_getcpuclockid`).
//! * [`ThreadSwitches`]: per-thread context-switch counts, for differences
//!   over a window that survive threads being born inside it.
//! * [`CoreSnapshot`]: the per-core counters of `/proc/stat` at one moment.
//! * [`ResourceUsage`]: `getrusage` of this process or the calling thread.
//! * [`KernelMemory`]: the kernel's own memory, machine-wide (kernel stacks,
//!   page tables, slab, TCP sockets and their buffers).
//! * [`SystemLimits`]: `vm.max_map_count`, `pid_max`, `threads-max` and the
//!   threads alive machine-wide.
//!
//! Linux only. Every reader returns a typed [`ProbeError`]; nothing panics
//! on what the kernel returns.

mod clock;
mod cores;
mod error;
mod kernel_memory;
mod limits;
mod process;
mod stat;
mod status;
mod switches;
mod sys;
#[cfg(test)]
mod testing;
mod usage;

pub use clock::CpuClock;
pub use cores::{CoreShare, CoreSnapshot, CoreTimes};
pub use error::{ProbeError, Result};
pub use kernel_memory::KernelMemory;
pub use limits::SystemLimits;
pub use process::Process;
pub use stat::Stat;
pub use status::status_value;
pub use switches::{ContextSwitches, ThreadSwitches};
pub use sys::{clk_tck, page_size};
pub use usage::ResourceUsage;
