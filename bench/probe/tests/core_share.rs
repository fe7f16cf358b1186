//! Known answer for the per-core busy share: a thread pinned to one core runs
//! a 25 % duty cycle on a 250 µs period (a period that divides the 4 ms tick
//! of HZ 250, so the tick never samples it busy), and the core's busy share
//! must be at least the CPU share that thread used by its own clock, within
//! 5 points. (Other processes may use the same core, so the busy share can
//! only be bounded below by what this thread used; the formula
//! `1 − Δidle/Δtotal` read such a load as 0.00–0.01.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use host_probe::CoreSnapshot;

const PERIOD_NS: u64 = 250_000;
const BUSY_NS: u64 = PERIOD_NS / 4;

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer for the duration of the call.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The last CPU this process may run on.
fn some_cpu() -> usize {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the pointer is valid.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) };
    assert_eq!(rc, 0, "sched_getaffinity");
    (0..libc::CPU_SETSIZE as usize)
        .rfind(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .expect("some cpu")
}

fn pin(cpu: usize) {
    // SAFETY: as above; the set holds one valid cpu.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    unsafe { libc::CPU_SET(cpu, &mut set) };
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
    assert_eq!(rc, 0, "sched_setaffinity");
}

/// Runs the duty cycle until `stop`, publishing its own CPU time in `used`.
fn duty_cycle(cpu: usize, stop: &AtomicBool, used: &AtomicU64) {
    pin(cpu);
    let mut x = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let start = clock_ns(libc::CLOCK_THREAD_CPUTIME_ID);
        while clock_ns(libc::CLOCK_THREAD_CPUTIME_ID) - start < BUSY_NS {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        used.store(clock_ns(libc::CLOCK_THREAD_CPUTIME_ID), Ordering::Relaxed);
        // Sleep until the next multiple of the period (absolute time).
        let next = (clock_ns(libc::CLOCK_MONOTONIC) / PERIOD_NS + 1) * PERIOD_NS;
        let ts = libc::timespec {
            tv_sec: (next / 1_000_000_000) as libc::time_t,
            tv_nsec: (next % 1_000_000_000) as libc::c_long,
        };
        // SAFETY: `ts` is valid; no remaining-time pointer with TIMER_ABSTIME.
        unsafe {
            libc::clock_nanosleep(
                libc::CLOCK_MONOTONIC,
                libc::TIMER_ABSTIME,
                &ts,
                std::ptr::null_mut(),
            )
        };
    }
    std::hint::black_box(x);
}

#[test]
fn pinned_quarter_duty_cycle_on_a_250us_period_is_seen_busy() {
    let cpu = some_cpu();
    let stop = Arc::new(AtomicBool::new(false));
    let used = Arc::new(AtomicU64::new(0));
    let worker = {
        let (stop, used) = (stop.clone(), used.clone());
        std::thread::spawn(move || duty_cycle(cpu, &stop, &used))
    };
    // Bounded wait for the first cycle.
    let deadline = Instant::now() + Duration::from_secs(10);
    while used.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(100));
    let a = CoreSnapshot::read().expect("/proc/stat");
    let cpu_a = used.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(1500));
    let b = CoreSnapshot::read().expect("/proc/stat");
    let cpu_b = used.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    worker.join().expect("duty cycle thread");

    let wall = b.taken_at.duration_since(a.taken_at).as_secs_f64();
    let thread_share = (cpu_b - cpu_a) as f64 / 1e9 / wall;
    let share = b
        .shares_since(&a)
        .into_iter()
        .find(|s| s.cpu == cpu)
        .expect("the pinned core");
    // The formula of before, for the failure message.
    let (x, y) = (
        a.cores.iter().find(|c| c.cpu == cpu).expect("core"),
        b.cores.iter().find(|c| c.cpu == cpu).expect("core"),
    );
    let old = 1.0 - (y.idle - x.idle) as f64 / (y.total() - x.total()).max(1) as f64;
    let msg = format!(
        "cpu {cpu}: thread used {thread_share:.3} of the core by its own clock; \
         busy share {:.3} (steal {:.3}); 1 − Δidle/Δtotal read {old:.3}",
        share.busy, share.steal
    );
    eprintln!("{msg}");
    assert!(thread_share > 0.05, "the duty cycle hardly ran: {msg}");
    assert!(share.busy >= thread_share - 0.05, "{msg}");
    assert!(share.busy <= 1.0, "{msg}");
}
