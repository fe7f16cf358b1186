//! The kernel's CPU-time accounting settings, which decide what the CPU and
//! per-core figures mean: with tick-based accounting busy time is sampled
//! at the tick (HZ) while idle time is exact on a tickless kernel; without
//! `CONFIG_IRQ_TIME_ACCOUNTING`, softirq work run in a task's context is
//! charged to that task.

use std::process::Command;

use serde::{Deserialize, Serialize};

/// The accounting settings of the running kernel, as far as they can be
/// read (`None`: the kernel's config is not available).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KernelAccounting {
    /// Clock ticks per second of `/proc` CPU times (`sysconf(_SC_CLK_TCK)`).
    pub clk_tck: u64,
    /// `CONFIG_HZ`: the scheduler tick, at which busy time is sampled with
    /// tick-based accounting.
    pub hz: Option<u64>,
    /// `CONFIG_TICK_CPU_ACCOUNTING`: CPU time sampled at the tick.
    pub tick_cpu_accounting: Option<bool>,
    /// `CONFIG_VIRT_CPU_ACCOUNTING_GEN`: CPU time measured at every
    /// kernel/user transition (precise).
    pub virt_cpu_accounting_gen: Option<bool>,
    /// `CONFIG_IRQ_TIME_ACCOUNTING`: interrupt time kept apart from the
    /// interrupted task's.
    pub irq_time_accounting: Option<bool>,
    /// `CONFIG_NO_HZ_IDLE`: no tick on idle cores (idle time is exact).
    pub no_hz_idle: Option<bool>,
    /// `CONFIG_NO_HZ_FULL`: no tick on busy cores either.
    pub no_hz_full: Option<bool>,
    /// The `nohz_full=` boot parameter, if given.
    pub nohz_full_cpus: Option<String>,
    /// Where the config was read from.
    pub config_source: Option<String>,
}

/// The value of `name` in a kernel config text: `Some(true)` for `=y` or
/// `=m`, `Some(false)` for `# name is not set`, `None` if absent.
pub fn config_flag(text: &str, name: &str) -> Option<bool> {
    text.lines().find_map(|l| {
        if let Some(v) = l.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            Some(v == "y" || v == "m")
        } else if l.strip_prefix("# ")?.strip_prefix(name)? == " is not set" {
            Some(false)
        } else {
            None
        }
    })
}

/// The numeric value of `name` in a kernel config text.
pub fn config_number(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// The kernel config text: `/boot/config-<release>`, else `/proc/config.gz`
/// (decompressed with `gzip -dc`); with where it came from.
fn config_text(release: &str) -> Option<(String, String)> {
    let boot = format!("/boot/config-{release}");
    if let Ok(t) = std::fs::read_to_string(&boot) {
        return Some((t, boot));
    }
    let out = Command::new("gzip")
        .args(["-dc", "/proc/config.gz"])
        .output()
        .ok()?;
    out.status.success().then(|| {
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            "/proc/config.gz".to_string(),
        )
    })
}

impl KernelAccounting {
    /// Reads the settings of the running kernel (missing pieces stay `None`).
    pub fn collect() -> KernelAccounting {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
        let nohz_full_cpus = cmdline
            .split_ascii_whitespace()
            .find_map(|w| w.strip_prefix("nohz_full="))
            .map(str::to_string);
        let mut k = KernelAccounting {
            clk_tck: host_probe::clk_tck(),
            nohz_full_cpus,
            ..KernelAccounting::default()
        };
        if let Some((text, source)) = config_text(release.trim()) {
            k.hz = config_number(&text, "CONFIG_HZ");
            k.tick_cpu_accounting = config_flag(&text, "CONFIG_TICK_CPU_ACCOUNTING");
            k.virt_cpu_accounting_gen = config_flag(&text, "CONFIG_VIRT_CPU_ACCOUNTING_GEN");
            k.irq_time_accounting = config_flag(&text, "CONFIG_IRQ_TIME_ACCOUNTING");
            k.no_hz_idle = config_flag(&text, "CONFIG_NO_HZ_IDLE");
            k.no_hz_full = config_flag(&text, "CONFIG_NO_HZ_FULL");
            k.config_source = Some(source);
        }
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_and_numbers_of_a_config() {
        let t = "CONFIG_HZ_250=y\nCONFIG_HZ=250\n# CONFIG_IRQ_TIME_ACCOUNTING is not set\n\
                 CONFIG_TICK_CPU_ACCOUNTING=y\nCONFIG_HAVE_IRQ_TIME_ACCOUNTING=y\n";
        assert_eq!(config_number(t, "CONFIG_HZ"), Some(250));
        assert_eq!(config_flag(t, "CONFIG_IRQ_TIME_ACCOUNTING"), Some(false));
        assert_eq!(config_flag(t, "CONFIG_TICK_CPU_ACCOUNTING"), Some(true));
        assert_eq!(config_flag(t, "CONFIG_NO_HZ_FULL"), None);
    }

    #[test]
    fn collects_this_kernel() {
        let k = KernelAccounting::collect();
        assert!(k.clk_tck > 0);
    }
}
