//! The work app's pool limits and shutdown, per variant, against in-process servers with a known pool:
//! `ERR busy` once the pool and its queue are full (while other connections are still served), and
//! SIGTERM-equivalent shutdown with requests running and queued, inline and offloaded.

mod support;

use anyhow::{Result, ensure};
use conformance::Target;
use conformance::work::{connect, fill_pool};
use serve::{App, Config, Impl, RunningServer};

per_variant!(
    busy_when_pool_and_queue_are_full,
    shutdown_offloaded_running_finishes_queued_refused,
    shutdown_inline_running_finishes,
);

/// A pool of one thread and a queue of one: the second slow request waits, a third is `busy`.
fn tiny_pool() -> Config {
    Config {
        offload: true,
        offload_threads: 1,
        offload_queue: 1,
        ..support::test_config()
    }
}

/// How long the slow requests of these cases sleep: long enough for the probes, short for the suite.
const SLOW_MS: u64 = 400;

fn start(imp: Impl, config: Config) -> (RunningServer, Target) {
    let server = RunningServer::start(imp, App::Work, config).expect("start server");
    let target = Target::new(server.addr());
    (server, target)
}

/// With the one pool thread and the one queue place taken, a request is `ERR busy` at once, PING is
/// still answered on every connection, and once the slow requests are done the pool admits again.
fn busy_when_pool_and_queue_are_full(imp: Impl) {
    let (server, target) = start(imp, tiny_pool());
    let outcome = (|| -> Result<()> {
        let (mut a, mut b, mut refused) = fill_pool(&target, SLOW_MS)?;
        refused.call("PING still-served", "PONG still-served")?;
        let mut other = connect(&target)?;
        other.call("PING", "PONG")?;
        a.expect(&format!("SLEPT {SLOW_MS}"))?;
        b.expect(&format!("SLEPT {SLOW_MS}"))?;
        refused.call("FIB 10", "FIB 10 55")?;
        other.call("SLEEP 0", "SLEPT 0")
    })();
    support::stop_within_limit(server, &format!("{imp} work"));
    outcome.unwrap_or_else(|err| panic!("{imp}: {err:#}"));
}

/// Shutdown with one request running (or with the one pool thread about to take it) and one queued:
/// the running one's reply arrives, the queued one is answered `ERR shutting-down` instead, every connection ends with `ERR shutting-down` and is
/// closed, and the server stops within its drain timeout.
fn shutdown_offloaded_running_finishes_queued_refused(imp: Impl) {
    let (server, target) = start(imp, tiny_pool());
    let filled = fill_pool(&target, SLOW_MS);
    let shutdown = server.shutdown_handle();
    let (mut a, mut b, mut probe) = filled.unwrap_or_else(|err| panic!("{imp}: {err:#}"));
    // The refused connection is idle now, like the probe of a real client.
    shutdown.trigger();
    let stopped = std::thread::spawn(move || support::stop_within_limit(server, "work server"));
    let outcome = (|| -> Result<()> {
        let mut replies = [a.read_until_closed()?, b.read_until_closed()?];
        replies.sort();
        let slept = format!("SLEPT {SLOW_MS}\nERR shutting-down\n");
        let expected = ["ERR shutting-down\n", slept.as_str()];
        let got: Vec<String> = replies
            .iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect();
        ensure!(
            got == expected,
            "running and queued requests at shutdown: expected {expected:?}, got {got:?}"
        );
        let rest = probe.read_until_closed()?;
        ensure!(
            rest == b"ERR shutting-down\n",
            "an idle connection at shutdown got {:?}",
            String::from_utf8_lossy(&rest)
        );
        Ok(())
    })();
    stopped.join().expect("the server stopped within its limit");
    outcome.unwrap_or_else(|err| panic!("{imp}: {err:#}"));
}

/// Inline, a request running at shutdown finishes and is answered, then `ERR shutting-down`; the
/// request pipelined behind it is not executed.
fn shutdown_inline_running_finishes(imp: Impl) {
    let (server, target) = start(imp, support::test_config());
    let outcome = (|| -> Result<()> {
        let mut c = connect(&target)?;
        // One small write arrives in one segment, so the server reads the three requests at once:
        // once FIB 1 is answered, the sleep is the request it executes.
        c.send_raw(format!("FIB 1\nSLEEP {SLOW_MS}\nFIB 2\n").as_bytes())?;
        c.expect("FIB 1 1")?;
        server.shutdown_handle().trigger();
        let rest = c.read_until_closed()?;
        let rest = String::from_utf8_lossy(&rest);
        ensure!(
            rest == format!("SLEPT {SLOW_MS}\nERR shutting-down\n"),
            "inline request at shutdown: got {rest:?}"
        );
        Ok(())
    })();
    support::stop_within_limit(server, &format!("{imp} work"));
    outcome.unwrap_or_else(|err| panic!("{imp}: {err:#}"));
}
