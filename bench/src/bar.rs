//! The terminal progress bar (only when stdout is a terminal).

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use loadgen::generator::progress::{Progress, ProgressInfo};

/// An indicatif bar over the warm-up plus measured time.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar if stdout is a terminal, else `None` (nothing in CI logs).
    pub fn if_terminal() -> Option<Bar> {
        if !std::io::stdout().is_terminal() {
            return None;
        }
        let bar = ProgressBar::new(1000);
        let style = ProgressStyle::with_template("{spinner} {msg:<40} [{bar:40}] {elapsed}")
            .ok()?
            .progress_chars("=> ");
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(Bar { bar })
    }
}

impl Progress for Bar {
    fn update(&mut self, p: &ProgressInfo) {
        let frac = if p.total.is_zero() {
            1.0
        } else {
            p.elapsed.as_secs_f64() / p.total.as_secs_f64()
        };
        self.bar
            .set_position((frac.clamp(0.0, 1.0) * 1000.0) as u64);
        let rate = if p.elapsed.is_zero() {
            0.0
        } else {
            p.messages as f64 / p.elapsed.as_secs_f64()
        };
        self.bar.set_message(format!(
            "{} {} conns, {:.0} msg/s",
            p.phase.label(),
            p.conns,
            rate
        ));
    }

    fn finish(&mut self) {
        self.bar.finish_and_clear();
    }
}
