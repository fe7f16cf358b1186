//! Probe: how the machine moves one workload's cost over time. Starts every variant's echo server at
//! once (placed as `BENCH_SERVER` says), then for `ROUNDS` rounds (30) measures each variant's 64 B
//! round trip for `WINDOW_MS` (200) in turn, and prints a table: seconds since the start, then the
//! server's CPU nanoseconds per round trip of each variant in that round. `MODE=reconnect` opens new
//! client connections every round, `MODE=restart` also starts new servers every round (is a shift
//! the machine's, a server instance's or a connection's?).
//!
//! ```sh
//! ROUNDS=40 WINDOW_MS=150 cargo run --release -p variant-benches --example drift
//! ```

use std::time::{Duration, Instant};

use variant_benches::{App, BenchServer, EchoClient, Message, Placement, available};

fn main() {
    variant_benches::child::serve_if_asked();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let window = Duration::from_millis(
        std::env::var("WINDOW_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200),
    );
    let placement = Placement::from_env();
    placement.pin_client();
    let imps = available();
    let mode = std::env::var("MODE").unwrap_or_default();
    let mut servers: Vec<BenchServer> = imps
        .iter()
        .map(|&imp| BenchServer::start(placement, imp, &App::Echo.into()))
        .collect();
    let mut clients: Vec<EchoClient> = servers
        .iter()
        .map(|s| EchoClient::connect(s.addr()))
        .collect();
    let mut clocks: Vec<_> = servers.iter().map(|s| s.cpu_clock()).collect();
    let mut msg = Message::new(64);
    print!("t_s");
    for imp in &imps {
        print!("\t{imp}");
    }
    println!();
    let start = Instant::now();
    for _ in 0..rounds {
        if mode == "reconnect" || mode == "restart" {
            clients.clear();
        }
        if mode == "restart" {
            for s in servers.drain(..) {
                s.stop();
            }
            servers = imps
                .iter()
                .map(|&imp| BenchServer::start(placement, imp, &App::Echo.into()))
                .collect();
            clocks = servers.iter().map(|s| s.cpu_clock()).collect();
        }
        if clients.is_empty() {
            clients = servers
                .iter()
                .map(|s| EchoClient::connect(s.addr()))
                .collect();
        }
        print!("{:.1}", start.elapsed().as_secs_f64());
        for (client, clock) in clients.iter_mut().zip(&clocks) {
            let c0 = clock.now().expect("clock");
            let t0 = Instant::now();
            let mut n = 0u64;
            while t0.elapsed() < window {
                for _ in 0..64 {
                    client.round_trip(&mut msg);
                }
                n += 64;
            }
            let cpu = clock.now().expect("clock") - c0;
            print!("\t{:.0}", cpu.as_nanos() as f64 / n as f64);
        }
        println!();
    }
    drop(clients);
    for s in servers {
        s.stop();
    }
}
