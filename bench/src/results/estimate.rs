//! A rough estimate of how long a matrix takes, printed before `compare` starts: per run the
//! point's own time (warm-up, window, hold, connecting) plus the server's start and stop.

use super::matrix::{Matrix, Scenario};

/// Seconds a run spends besides its point: starting and stopping the server, the pauses.
const PER_RUN_S: f64 = 1.0;

/// Seconds to open `conns` connections (about 5 000 per second with the probes).
fn connecting(conns: usize) -> f64 {
    conns as f64 / 5000.0
}

/// Estimated seconds of one run of `p`.
pub fn run_seconds(p: &Scenario) -> f64 {
    let secs = |d: std::time::Duration| d.as_secs_f64();
    PER_RUN_S
        + match p {
            Scenario::EchoClosed {
                conns,
                warmup,
                duration,
                ..
            }
            | Scenario::EchoOpen {
                conns,
                warmup,
                duration,
                ..
            } => connecting(*conns) + secs(*warmup) + secs(*duration),
            Scenario::Chat {
                rooms,
                members,
                warmup,
                duration,
                ..
            } => connecting(rooms * members) + secs(*warmup) + secs(*duration) + 0.5,
            Scenario::Idle { conns, hold } => 2.0 * connecting(*conns) + secs(*hold),
            Scenario::ChatIdle { clients, hold } => 2.5 * connecting(*clients) + secs(*hold),
            // A thread per connection takes longer to open and to probe 16 000 connections.
            Scenario::Ceiling { conns, hold, .. } => 3.0 * connecting(*conns) + secs(*hold),
            Scenario::Churn { duration, .. } => secs(*duration) + 1.0,
            Scenario::Capacity {
                start_rate,
                max_rate,
                factor,
                precision,
                warmup,
                duration,
                ..
            } => {
                // The ramp to the knee (about half-way up in ratio), then the bisection.
                let ramp = ((max_rate / start_rate).ln() / factor.ln() / 2.0).ceil();
                let bisect = (factor.ln() / (1.0 + precision).ln()).log2().ceil();
                (ramp + bisect + 1.0) * (secs(*warmup) + secs(*duration) + 1.0)
            }
            Scenario::Work(w) => secs(w.warmup) + secs(w.duration) + 0.5,
        }
}

/// Estimated seconds of the whole matrix with `variants` variants (transport points not counted).
pub fn seconds(m: &Matrix, variants: usize) -> f64 {
    m.points
        .iter()
        .map(|p| run_seconds(p) * p.repeats(m.repeats) as f64 * variants as f64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_cost_fits_in_a_quarter_hour() {
        let m = Matrix::load("conn-cost").unwrap();
        let s = seconds(&m, 6);
        assert!((600.0..900.0).contains(&s), "{s}");
    }
}
