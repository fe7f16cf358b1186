//! `/proc/PID/stat`.

use std::time::Duration;

use crate::sys::{clk_tck, page_size};

/// The fields of `/proc/PID/stat` that cost measurements use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// User CPU time of all threads (exited ones included), in clock ticks.
    pub utime_ticks: u64,
    /// System CPU time of all threads (exited ones included), in clock ticks.
    pub stime_ticks: u64,
    /// Number of threads.
    pub num_threads: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

impl Stat {
    /// Parses the contents of a `/proc/PID/stat` file.
    ///
    /// The command name (field 2) is in parentheses and may itself contain
    /// spaces and parentheses, so the fields are counted from the last `)`.
    pub fn parse(text: &str) -> Option<Stat> {
        let rest = &text[text.rfind(')')? + 1..];
        // After ')' comes field 3 (state); field n is at index n - 3.
        let mut it = rest.split_ascii_whitespace();
        let mut field = |skip: usize| -> Option<u64> { it.nth(skip)?.parse().ok() };
        let utime_ticks = field(11)?; // field 14
        let stime_ticks = field(0)?; // 15
        let num_threads = field(4)?; // 20
        let rss_pages = field(3)?; // 24
        Some(Stat {
            utime_ticks,
            stime_ticks,
            num_threads,
            rss_pages,
        })
    }

    /// User plus system CPU time, in ticks.
    pub fn cpu_ticks(&self) -> u64 {
        self.utime_ticks + self.stime_ticks
    }

    /// User plus system CPU time (resolution: one clock tick).
    pub fn cpu_time(&self) -> Duration {
        ticks_to_duration(self.cpu_ticks())
    }

    /// User CPU time.
    pub fn user_time(&self) -> Duration {
        ticks_to_duration(self.utime_ticks)
    }

    /// System CPU time.
    pub fn system_time(&self) -> Duration {
        ticks_to_duration(self.stime_ticks)
    }

    /// Resident set size in bytes.
    pub fn rss_bytes(&self) -> u64 {
        self.rss_pages * page_size()
    }
}

fn ticks_to_duration(ticks: u64) -> Duration {
    let tck = clk_tck();
    Duration::from_secs(ticks / tck) + Duration::from_nanos((ticks % tck) * 1_000_000_000 / tck)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_awkward_command_name() {
        let line = "1234 (we ird) (name)) S 1 1234 1234 0 -1 4194560 100 0 0 0 \
                    250 75 0 0 20 0 7 0 555 123456789 321 18446744073709551615 \
                    1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
        let s = Stat::parse(line).expect("parses");
        assert_eq!(s.utime_ticks, 250);
        assert_eq!(s.stime_ticks, 75);
        assert_eq!(s.num_threads, 7);
        assert_eq!(s.rss_pages, 321);
        assert_eq!(s.cpu_ticks(), 325);
        assert_eq!(
            s.cpu_time(),
            Duration::from_nanos(325 * 1_000_000_000 / clk_tck())
        );
        assert_eq!(Stat::parse("garbage"), None);
        assert_eq!(Stat::parse("1 (x) S 1 2"), None);
    }
}
