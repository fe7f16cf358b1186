//! Probe: the CPU time a thread is charged for one blocking sleep (`std::thread::sleep`, the call
//! behind the work app's `SLEEP`), for several lengths, pinned like the bench client. The sleep's own
//! work is a system call, a timer and two context switches; on this project's 2-core VM the thread was
//! charged 25 – 55 µs per sleep, more the longer the core idled (the timer and the wake-up of an idle
//! virtual CPU) — which is what `work_fast_beside_slow/inline`'s CPU figure is mostly made of.
//!
//! ```sh
//! cargo run --release -p variant-benches --example sleep_cost
//! ```

use std::time::{Duration, Instant};

use host_probe::CpuClock;
use variant_benches::Placement;

/// Sleep lengths, in milliseconds, measured in this order (the repeats show the drift).
const LENGTHS_MS: [u64; 8] = [0, 1, 2, 5, 10, 20, 1, 5];
/// About this long is spent on each length.
const PER_LENGTH: Duration = Duration::from_secs(1);

fn main() {
    Placement::from_env().pin_client();
    let clock = CpuClock::of(std::process::id()).expect("this process's CPU clock");
    let cpu = || clock.now().expect("read this process's CPU clock");
    println!("| sleep | sleeps | CPU per sleep | wall per sleep |\n|---:|---:|---:|---:|");
    for ms in LENGTHS_MS {
        let length = Duration::from_millis(ms);
        let count = (PER_LENGTH.as_micros() / (length.as_micros() + 50)).clamp(20, 2000) as u32;
        let (cpu0, wall0) = (cpu(), Instant::now());
        for _ in 0..count {
            std::thread::sleep(length);
        }
        let (cpu, wall) = (cpu() - cpu0, wall0.elapsed());
        println!(
            "| {ms} ms | {count} | {:.1} µs | {:.0} µs |",
            cpu.as_secs_f64() * 1e6 / f64::from(count),
            wall.as_secs_f64() * 1e6 / f64::from(count)
        );
    }
}
