//! Test helpers.

use std::time::{Duration, Instant};

use crate::ResourceUsage;

/// Spins until the calling thread has used `cpu` of CPU time by its own
/// clock (however busy the machine), or 30 s of wall time have passed.
pub(crate) fn burn_cpu(cpu: Duration) {
    let start = ResourceUsage::thread().cpu_time();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut x = 0u64;
    while ResourceUsage::thread().cpu_time() - start < cpu && Instant::now() < deadline {
        for _ in 0..10_000 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
    }
    std::hint::black_box(x);
}
