//! `getrusage` of this process or of the calling thread.

use std::time::Duration;

/// Resource usage of this process (all threads) or of one thread.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ResourceUsage {
    /// User CPU time.
    pub user: Duration,
    /// System CPU time.
    pub system: Duration,
    /// Voluntary context switches.
    pub voluntary_switches: u64,
    /// Involuntary context switches.
    pub involuntary_switches: u64,
    /// Peak RSS, bytes (whole process only; for a thread, the process's).
    pub max_rss_bytes: u64,
}

impl ResourceUsage {
    /// The usage of the whole process (`RUSAGE_SELF`).
    pub fn process() -> ResourceUsage {
        Self::get(libc::RUSAGE_SELF)
    }

    /// The usage of the calling thread only (`RUSAGE_THREAD`).
    pub fn thread() -> ResourceUsage {
        Self::get(libc::RUSAGE_THREAD)
    }

    fn get(who: libc::c_int) -> ResourceUsage {
        // SAFETY: rusage is plain data; getrusage fills it and only fails
        // for an invalid `who`, in which case it stays zeroed.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(who, &mut ru);
            ru
        };
        let dur = |tv: libc::timeval| {
            Duration::new(
                u64::try_from(tv.tv_sec).unwrap_or(0),
                u32::try_from(tv.tv_usec).unwrap_or(0) * 1000,
            )
        };
        let count = |v: libc::c_long| u64::try_from(v).unwrap_or(0);
        ResourceUsage {
            user: dur(ru.ru_utime),
            system: dur(ru.ru_stime),
            voluntary_switches: count(ru.ru_nvcsw),
            involuntary_switches: count(ru.ru_nivcsw),
            max_rss_bytes: count(ru.ru_maxrss) * 1024,
        }
    }

    /// User plus system CPU time.
    pub fn cpu_time(&self) -> Duration {
        self.user + self.system
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_usage_is_within_process_usage() {
        let t = ResourceUsage::thread();
        let p = ResourceUsage::process();
        assert!(t.cpu_time() <= p.cpu_time());
        assert!(p.max_rss_bytes > 0);
    }
}
