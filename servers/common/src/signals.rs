//! SIGINT / SIGTERM glue: turns the first signal into [`Shutdown::trigger`].

use std::io;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::Shutdown;

/// Spawns a thread that triggers `shutdown` on the first SIGINT or SIGTERM. A second signal while
/// draining exits the process at once with status 130 (the user insisted).
pub fn trigger_on_signals(shutdown: Shutdown) -> io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let mut seen = 0;
            for signal in signals.forever() {
                seen += 1;
                if seen == 1 {
                    tracing::info!(signal, "shutting down: no new connections, draining");
                    shutdown.trigger();
                } else {
                    tracing::warn!(signal, "second signal: exiting now");
                    std::process::exit(130);
                }
            }
        })?;
    Ok(())
}
