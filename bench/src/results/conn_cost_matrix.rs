//! The points of what a connection costs (`--matrix conn-cost`): idle memory measured whole for
//! echo and chat at 10 000 connections, memory under load at the standard echo and chat points,
//! the connection ceiling, and plain-TCP echo churn at a fixed rate and at a latency objective.

use std::time::Duration;

use super::matrix::{CapacityTarget, Matrix, Scenario};

/// The server's `--max-conns` at the ceiling point: above what the generator can open, so that the
/// limit named is the server's or the machine's, not the option.
pub const CEILING_MAX_CONNS: usize = 30_000;

/// Connections the ceiling point asks for: under the 20 000-fd hard limit of one generator
/// process, with room for its own fds.
pub const CEILING_CONNS: usize = 19_000;

/// The churn capacity's objective: p99 of the whole round trip, µs.
pub const CHURN_P99_US: u64 = 5_000;

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Echo churn at a fixed offered rate: 1 000 new connections/s for 2 s (also in `full`).
pub fn churn_point() -> Scenario {
    Scenario::Churn {
        rate: 1000.0,
        size: 16,
        duration: ms(2000),
    }
}

/// The churn capacity search: from 1 000 new connections/s ×2 up to 128 000, bisected to 25 %,
/// 1 s steps, p99 of the round trip ≤ [`CHURN_P99_US`], twice per variant.
pub fn churn_capacity(repeats: u32) -> Scenario {
    Scenario::Capacity {
        target: CapacityTarget::Churn { size: 16 },
        p99_us: CHURN_P99_US,
        start_rate: 1000.0,
        max_rate: 128_000.0,
        factor: 2.0,
        precision: 0.25,
        warmup: Duration::ZERO,
        duration: ms(1000),
        repeats: Some(repeats),
    }
}

/// The `conn-cost` matrix: 3 repeats (the ceiling and the churn search 2), about 13 minutes with
/// six variants on a 2-core machine ([`super::estimate::seconds`]).
pub fn matrix() -> Matrix {
    let (warmup, duration) = (ms(500), ms(1000));
    let hold = ms(1500);
    let mut points = vec![
        Scenario::Idle {
            conns: 10_000,
            hold,
        },
        Scenario::ChatIdle {
            clients: 10_000,
            hold,
        },
    ];
    for conns in [100, 1000] {
        points.push(Scenario::EchoClosed {
            conns,
            size: 64,
            warmup,
            duration,
        });
    }
    points.push(Scenario::Chat {
        rooms: 1,
        members: 1000,
        senders: 10,
        rate: 40.0,
        size: 64,
        warmup,
        duration,
    });
    points.push(Scenario::Ceiling {
        conns: CEILING_CONNS,
        hold: ms(1000),
        repeats: Some(2),
    });
    points.push(churn_point());
    points.push(churn_capacity(2));
    Matrix {
        name: "conn-cost".into(),
        repeats: 3,
        points,
        transports: None,
    }
}

/// The same kinds at tiny sizes, for the end-to-end test of [`Matrix::tiny`].
pub fn tiny_points() -> Vec<Scenario> {
    vec![
        Scenario::ChatIdle {
            clients: 20,
            hold: ms(200),
        },
        Scenario::Ceiling {
            conns: 40,
            hold: ms(200),
            repeats: None,
        },
        Scenario::Churn {
            rate: 200.0,
            size: 16,
            duration: ms(300),
        },
        Scenario::Capacity {
            target: CapacityTarget::Churn { size: 16 },
            p99_us: 1_000_000,
            // One step: the first rate is the maximum.
            start_rate: 200.0,
            max_rate: 200.0,
            factor: 2.0,
            precision: 0.5,
            warmup: Duration::ZERO,
            duration: ms(300),
            repeats: None,
        },
    ]
}
