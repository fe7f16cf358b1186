//! The machine and the run's provenance (git commit, command line).

use std::fs;
use std::process::Command;

use serde::{Deserialize, Serialize};

/// Where a run was made: CPU, cores, memory, kernel.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// CPU model name from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs listed in /proc/cpuinfo.
    pub cpus_online: usize,
    /// CPUs this process may run on (affinity mask).
    pub cpus_available: usize,
    /// Total memory from /proc/meminfo, bytes.
    pub mem_total_bytes: u64,
    /// Kernel release (/proc/sys/kernel/osrelease).
    pub kernel_release: String,
    /// Full kernel version string (/proc/version).
    pub kernel_version: String,
    /// Host name.
    pub hostname: String,
    /// Hard and soft open-file limits of this process.
    pub nofile_soft: u64,
    /// Hard open-file limit.
    pub nofile_hard: u64,
    /// The local port range used for outgoing connections.
    pub ephemeral_ports: Option<(u16, u16)>,
    /// The kernel's CPU-time accounting settings (HZ, tick or precise
    /// accounting, IRQ time accounting, nohz), which decide what the CPU
    /// and per-core figures mean (absent from results saved before it
    /// existed).
    #[serde(default)]
    pub kernel_accounting: crate::results::kernel::KernelAccounting,
}

fn read_trim(path: &str) -> String {
    fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// Parses /proc/cpuinfo: (model name, number of processors).
pub fn parse_cpuinfo(text: &str) -> (String, usize) {
    let mut model = String::new();
    let mut n = 0;
    for line in text.lines() {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        match k.trim() {
            "processor" => n += 1,
            "model name" | "Model" | "cpu model" if model.is_empty() => {
                model = v.trim().to_string();
            }
            _ => {}
        }
    }
    (model, n)
}

impl MachineInfo {
    /// Collects the information from /proc (missing pieces stay empty).
    pub fn collect() -> MachineInfo {
        let (cpu_model, cpus_online) = parse_cpuinfo(&read_trim("/proc/cpuinfo"));
        let mem_total_bytes = fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| host_probe::status_value(&s, "MemTotal"))
            .unwrap_or(0);
        let (nofile_soft, nofile_hard) = crate::limits::nofile().unwrap_or((0, 0));
        MachineInfo {
            cpu_model,
            cpus_online,
            cpus_available: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            mem_total_bytes,
            kernel_release: read_trim("/proc/sys/kernel/osrelease"),
            kernel_version: read_trim("/proc/version"),
            hostname: read_trim("/proc/sys/kernel/hostname"),
            nofile_soft,
            nofile_hard,
            ephemeral_ports: crate::limits::parse_port_range(&read_trim(
                "/proc/sys/net/ipv4/ip_local_port_range",
            )),
            kernel_accounting: crate::results::kernel::KernelAccounting::collect(),
        }
    }
}

/// The current git commit of the working directory, if git knows one.
pub fn git_commit() -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let s = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

/// Provenance of a run: what was run, where, from which source.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunMeta {
    /// The command line, one argument per element.
    pub command_line: Vec<String>,
    /// `git rev-parse HEAD`, when available.
    pub git_commit: Option<String>,
    /// The loadgen version.
    pub loadgen_version: String,
    /// Seconds since the Unix epoch at the start.
    pub unix_time: u64,
    /// The machine.
    pub machine: MachineInfo,
}

impl RunMeta {
    /// Collects the provenance of the current process.
    pub fn collect() -> RunMeta {
        RunMeta {
            command_line: std::env::args().collect(),
            git_commit: git_commit(),
            loadgen_version: env!("CARGO_PKG_VERSION").to_string(),
            unix_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            machine: MachineInfo::collect(),
        }
    }
}

/// A report together with its provenance: what `--json` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record<T> {
    /// Which subcommand produced it (`echo`, `conns`, ...).
    pub kind: String,
    /// Provenance.
    pub meta: RunMeta,
    /// The report proper.
    pub report: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_and_ports() {
        let text = "processor\t: 0\nmodel name\t: Foo CPU @ 3GHz\n\nprocessor\t: 1\nmodel name\t: Foo CPU @ 3GHz\n";
        assert_eq!(parse_cpuinfo(text), ("Foo CPU @ 3GHz".to_string(), 2));
    }

    #[test]
    fn collects_this_machine() {
        let m = MachineInfo::collect();
        assert!(m.cpus_online >= 1);
        assert!(!m.kernel_release.is_empty());
        assert!(m.mem_total_bytes > 0);
        let meta = RunMeta::collect();
        assert!(!meta.command_line.is_empty());
    }
}
