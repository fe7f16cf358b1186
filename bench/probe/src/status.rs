//! `/proc/PID/status` and `/proc/meminfo` style `Key:  value [kB]` lines.

/// The number after `key:` in a status-style text (e.g. `VmRSS`, `Threads`,
/// `voluntary_ctxt_switches`, `MemTotal`); values in kB are returned in bytes.
/// `key` is given without the colon.
pub fn status_value(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?.trim();
        match rest.strip_suffix("kB") {
            Some(kb) => kb.trim().parse::<u64>().ok().map(|v| v * 1024),
            None => rest.parse().ok(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_and_kb_values() {
        let text = "Name:\tx\nThreads:\t7\nVmRSS:\t   1200 kB\nvoluntary_ctxt_switches:\t5\n\
                    nonvoluntary_ctxt_switches:\t2\n";
        assert_eq!(status_value(text, "Threads"), Some(7));
        assert_eq!(status_value(text, "VmRSS"), Some(1200 * 1024));
        assert_eq!(status_value(text, "voluntary_ctxt_switches"), Some(5));
        assert_eq!(status_value(text, "nonvoluntary_ctxt_switches"), Some(2));
        assert_eq!(status_value(text, "VmHWM"), None);
        assert_eq!(status_value(text, "Name"), None);
    }
}
