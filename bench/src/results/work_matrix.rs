//! The work app's points of the compare matrix: a mix of fast and slow
//! requests (or the fast class alone), run inline or offloaded, with the
//! server's worker count and offload pool stated.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::work::WorkClassSettings;
use crate::util::serde_secs;

/// One work point: the classes, and how the server runs the requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkPoint {
    /// The mix's name: `alone` (the fast class alone), `cpu` (slow `FIB
    /// n`), `blocking` (slow `SLEEP ms`).
    pub mix: String,
    /// The fast class.
    pub fast: WorkClassSettings,
    /// The slow class (`conns` 0 for `alone`).
    pub slow: WorkClassSettings,
    /// `serve --offload`: requests run on the model's bounded blocking pool.
    pub offload: bool,
    /// `serve --workers`: the runtime's worker threads (event loops, rings).
    pub workers: usize,
    /// `serve --offload-threads`: the offload pool's threads.
    pub offload_threads: usize,
    /// `serve --offload-queue`: requests that may wait for the pool.
    pub offload_queue: usize,
    /// Warm-up.
    #[serde(with = "serde_secs")]
    pub warmup: Duration,
    /// Measured window.
    #[serde(with = "serde_secs")]
    pub duration: Duration,
}

impl WorkPoint {
    /// `inline` or `offloaded`.
    pub fn mode(&self) -> &'static str {
        if self.offload { "offloaded" } else { "inline" }
    }

    /// A short stable id, e.g. `work-cpu-inline`.
    pub fn id(&self) -> String {
        format!("work-{}-{}", self.mix, self.mode())
    }

    /// A short row label.
    pub fn label(&self) -> String {
        if self.slow.conns == 0 {
            format!("{} alone, {}", self.fast.request, self.mode())
        } else {
            format!(
                "{} beside {}, {}",
                self.fast.request,
                self.slow.request,
                self.mode()
            )
        }
    }

    /// The server's options beyond `--impl`, `--app` and `--addr`.
    pub fn server_args(&self) -> Vec<String> {
        let mut a = vec!["--workers".to_string(), self.workers.to_string()];
        if self.offload {
            a.push("--offload".into());
        }
        a.extend([
            "--offload-threads".to_string(),
            self.offload_threads.to_string(),
            "--offload-queue".to_string(),
            self.offload_queue.to_string(),
        ]);
        a
    }

    /// A human description.
    pub fn describe(&self) -> String {
        let class = |c: &WorkClassSettings| {
            format!(
                "{} conns × {:.1} req/s each ({:.0}/s in all) of `{}`",
                c.conns,
                c.rate_per_conn(),
                c.rate,
                c.request
            )
        };
        let slow = if self.slow.conns == 0 {
            "no slow class".to_string()
        } else {
            format!("slow: {}", class(&self.slow))
        };
        format!(
            "fast: {}; {slow}; {} (server `{}`), warm-up {:.1} s, {:.1} s",
            class(&self.fast),
            self.mode(),
            self.server_args().join(" "),
            self.warmup.as_secs_f64(),
            self.duration.as_secs_f64()
        )
    }

    /// Connections it opens.
    pub fn conns(&self) -> usize {
        self.fast.conns + self.slow.conns
    }
}

/// The slow request of the CPU-bound mix: a few milliseconds of one core
/// each on the reference machine (2-core AMD EPYC VM, release `serve --impl
/// threads`: 2.25 ms of server CPU per `FIB 30`, 0.57 ms per `FIB 27`,
/// measured with `loadgen work --fast-req "FIB 30" --slow-conns 0`).
pub const CPU_SLOW_REQUEST: &str = "FIB 30";

/// The slow request of the blocking mix.
pub const BLOCKING_SLOW_REQUEST: &str = "SLEEP 5";

/// The work points: the fast class (`FIB 1`, 10 connections, 1000/s in
/// all) alone, beside a CPU-bound slow class and beside a blocking one
/// (2 connections, 40/s in all), each inline and offloaded; one server
/// worker (the server is pinned to one core), 4 offload threads, a queue of
/// 64.
pub fn points(warmup: Duration, duration: Duration) -> Vec<WorkPoint> {
    let fast = WorkClassSettings {
        conns: 10,
        request: "FIB 1".into(),
        rate: 1000.0,
    };
    let slow = |request: &str| WorkClassSettings {
        conns: 2,
        request: request.into(),
        rate: 40.0,
    };
    let mixes = [
        (
            "alone",
            WorkClassSettings {
                conns: 0,
                ..slow("PING")
            },
        ),
        ("cpu", slow(CPU_SLOW_REQUEST)),
        ("blocking", slow(BLOCKING_SLOW_REQUEST)),
    ];
    let mut out = Vec::new();
    for (mix, slow) in mixes {
        for offload in [false, true] {
            out.push(WorkPoint {
                mix: mix.into(),
                fast: fast.clone(),
                slow: slow.clone(),
                offload,
                workers: 1,
                offload_threads: 4,
                offload_queue: 64,
                warmup,
                duration,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mix_inline_and_offloaded_with_the_server_settings_stated() {
        let p = points(Duration::from_millis(500), Duration::from_secs(2));
        let ids: Vec<String> = p.iter().map(WorkPoint::id).collect();
        assert_eq!(
            ids,
            [
                "work-alone-inline",
                "work-alone-offloaded",
                "work-cpu-inline",
                "work-cpu-offloaded",
                "work-blocking-inline",
                "work-blocking-offloaded"
            ]
        );
        assert!(p[3].server_args().contains(&"--offload".to_string()));
        assert!(!p[2].server_args().contains(&"--offload".to_string()));
        assert!(
            p[2].describe().contains("--workers 1"),
            "{}",
            p[2].describe()
        );
    }
}
