//! The cost of a run: the server's (from /proc), the generator's own, and
//! how busy each core was. One [`Cost`] block in every scenario's report.

use host_probe::{CoreSnapshot, ResourceUsage};
use serde::{Deserialize, Serialize};

/// The cost block every scenario's report carries (flattened: its fields
/// sit at the top level of the report, as before the block existed).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    /// The server's cost, with a server pid.
    pub server: Option<ServerStats>,
    /// The generator's own cost.
    pub generator: GeneratorStats,
    /// How busy each CPU of the machine was over the window (all
    /// processes, interrupts included): shows which core saturated.
    pub cores: Vec<CoreUsage>,
}

/// The server's cost over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerStats {
    /// The sampled process.
    pub pid: u32,
    /// Length of the measured window, seconds.
    pub window_s: f64,
    /// CPU time (user + system, all threads) used in the window, seconds.
    pub cpu_s: f64,
    /// User CPU seconds in the window.
    pub user_s: f64,
    /// System CPU seconds in the window.
    pub system_s: f64,
    /// Average number of cores busy (`cpu_s / window_s`).
    pub cpu_cores: f64,
    /// CPU microseconds per completed message.
    pub cpu_us_per_msg: f64,
    /// CPU time resolution: ticks per second.
    pub clk_tck: u64,
    /// Voluntary context switches in the window, all threads.
    pub ctxt_voluntary: u64,
    /// Non-voluntary context switches in the window, all threads.
    pub ctxt_nonvoluntary: u64,
    /// Context switches (both kinds) per message, scaled from the scans'
    /// interval to the window.
    pub ctxt_per_msg: f64,
    /// Seconds between the two context-switch scans (which bracket the
    /// window; the counts above are over this interval).
    pub ctxt_interval_s: f64,
    /// Threads whose status files were read at the end of the window.
    pub ctxt_threads_scanned: u64,
    /// Milliseconds the slower of the two context-switch scans took.
    pub ctxt_scan_ms: f64,
    /// Threads before the connections were opened.
    pub threads_baseline: u64,
    /// Threads at the start of the window.
    pub threads_start: u64,
    /// Most threads seen by any sample.
    pub threads_peak: u64,
    /// Threads at the end of the window.
    pub threads_end: u64,
    /// Open fds before the connections were opened.
    pub fds_baseline: u64,
    /// Open fds at the start of the window.
    pub fds_start: u64,
    /// Open fds at the end of the window.
    pub fds_end: u64,
    /// RSS before the connections were opened, bytes.
    pub rss_baseline_bytes: u64,
    /// RSS at the start of the window, bytes.
    pub rss_start_bytes: u64,
    /// Highest RSS seen by any sample, bytes.
    pub rss_peak_bytes: u64,
    /// RSS at the end of the window, bytes.
    pub rss_end_bytes: u64,
    /// `(rss_peak - rss_baseline) / connections`, bytes.
    pub rss_per_conn_bytes: f64,
    /// The kernel's high-water mark of RSS since the process started, bytes.
    pub rss_hwm_bytes: u64,
    /// Number of periodic samples taken.
    pub samples: u64,
    /// Memory per connection measured whole, user and kernel, from the baseline to the window's
    /// start (absent where /proc could not tell, and from results saved before it existed).
    #[serde(default)]
    pub memory: Option<super::conn_memory::ConnMemory>,
}

/// How busy one CPU was over the window, machine-wide (all processes and
/// interrupt time), as fractions of the window's wall time
/// (`host_probe::CoreShare`: busy is `1 − (Δidle + Δsteal)/(Δwall·CLK_TCK)`,
/// exact on a tickless kernel where busy ticks are only sampled).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CoreUsage {
    /// CPU number.
    pub cpu: usize,
    /// Fraction of the wall time neither idle nor stolen (0..1).
    pub busy: f64,
    /// Fraction in user mode.
    pub user: f64,
    /// Fraction in kernel mode (syscalls).
    pub system: f64,
    /// Fraction in hard and soft interrupts.
    pub irq: f64,
    /// Fraction stolen by the hypervisor (not counted in `busy`).
    pub steal: f64,
}

impl CoreUsage {
    /// Usage of each CPU from `start` until now (empty if either reading
    /// of /proc/stat failed).
    pub fn since(start: Option<&CoreSnapshot>) -> Vec<CoreUsage> {
        match (start, CoreSnapshot::read()) {
            (Some(a), Ok(b)) => CoreUsage::between(a, &b),
            _ => Vec::new(),
        }
    }

    /// Usage of each CPU between two readings of /proc/stat.
    pub fn between(a: &CoreSnapshot, b: &CoreSnapshot) -> Vec<CoreUsage> {
        b.shares_since(a)
            .into_iter()
            .map(|c| CoreUsage {
                cpu: c.cpu,
                busy: c.busy,
                user: c.user,
                system: c.system,
                irq: c.irq,
                steal: c.steal,
            })
            .collect()
    }
}

/// The generator's own cost over the measured window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GeneratorStats {
    /// Worker (event-loop) threads.
    pub threads: usize,
    /// CPUs the workers were pinned to (empty: not pinned).
    pub cpus: Vec<usize>,
    /// Whether latencies were timestamped and recorded.
    pub recording: bool,
    /// CPU seconds of the whole process in the window (workers, the
    /// coordinator and the /proc sampler).
    pub cpu_s: f64,
    /// User CPU seconds of the whole process in the window.
    pub user_s: f64,
    /// System CPU seconds of the whole process in the window.
    pub system_s: f64,
    /// Average number of cores busy (whole process).
    pub cpu_cores: f64,
    /// Whole-process CPU microseconds per completed message.
    pub cpu_us_per_msg: f64,
    /// CPU seconds of the worker threads alone in the window.
    pub worker_cpu_s: f64,
    /// Worker-thread CPU microseconds per completed message.
    pub worker_cpu_us_per_msg: f64,
    /// Voluntary context switches in the window (whole process).
    pub ctxt_voluntary: u64,
    /// Involuntary context switches in the window (whole process).
    pub ctxt_nonvoluntary: u64,
    /// Peak RSS of the generator, bytes.
    pub max_rss_bytes: u64,
    /// Cost of measuring one message (two clock reads and a histogram
    /// record), from a calibration loop before the run, in ns.
    pub record_cost_ns_per_msg: f64,
    /// That cost as a percentage of the workers' CPU per message.
    pub record_cost_pct: f64,
}

impl GeneratorStats {
    /// Computes the figures between two whole-process usages, given the
    /// worker threads' own CPU seconds.
    pub fn between(
        a: &ResourceUsage,
        b: &ResourceUsage,
        window_s: f64,
        messages: u64,
        worker_cpu_s: f64,
    ) -> GeneratorStats {
        let user_s = b.user.saturating_sub(a.user).as_secs_f64();
        let system_s = b.system.saturating_sub(a.system).as_secs_f64();
        let cpu_s = user_s + system_s;
        let per_msg = |x: f64| {
            if messages > 0 {
                x * 1e6 / messages as f64
            } else {
                0.0
            }
        };
        GeneratorStats {
            cpu_s,
            user_s,
            system_s,
            cpu_cores: if window_s > 0.0 {
                cpu_s / window_s
            } else {
                0.0
            },
            cpu_us_per_msg: per_msg(cpu_s),
            worker_cpu_s,
            worker_cpu_us_per_msg: per_msg(worker_cpu_s),
            ctxt_voluntary: b.voluntary_switches.saturating_sub(a.voluntary_switches),
            ctxt_nonvoluntary: b
                .involuntary_switches
                .saturating_sub(a.involuntary_switches),
            max_rss_bytes: b.max_rss_bytes,
            ..GeneratorStats::default()
        }
    }
}
