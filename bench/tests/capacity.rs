//! `loadgen capacity`: the search against in-test echo servers whose answer
//! is known — one that always keeps up, one that is always late, one that
//! corrupts — and settings refused before anything is sent.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::time::Duration;

use support::{Fault, TempDir, TestServer, loadgen, read_json, show};

const LIMIT: Duration = Duration::from_secs(60);

fn capacity(addr: &str, json: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "capacity",
        "echo",
        "--addr",
        addr,
        "--conns",
        "4",
        "--threads",
        "1",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--json",
        json,
    ];
    args.extend_from_slice(extra);
    loadgen(&args, LIMIT)
}

#[test]
fn a_server_that_keeps_up_passes_every_step_to_the_maximum() {
    let server = TestServer::start(Fault::None);
    let dir = TempDir::new("capacity-ok");
    let json = dir.path("c.json");
    let addr = server.addr().to_string();
    // A generous objective: this test is about the search, not the timing.
    let out = capacity(
        &addr,
        json.to_str().unwrap(),
        &["--p99", "2s", "--start-rate", "200", "--max-rate", "800"],
    );
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("at least 800"), "{}", show(&out));
    let v = read_json(&json);
    assert_eq!(v["kind"], "capacity");
    let r = &v["report"];
    assert_eq!(r["outcome"], "above_max");
    assert_eq!(r["capacity"].as_f64(), Some(800.0));
    let rates: Vec<f64> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["rate"].as_f64().unwrap())
        .collect();
    assert_eq!(rates, [200.0, 400.0, 800.0]);
}

#[test]
fn a_server_that_never_meets_the_objective_exits_1_with_the_lowest_step() {
    let server = TestServer::start(Fault::DelayMs(5));
    let dir = TempDir::new("capacity-late");
    let json = dir.path("c.json");
    let addr = server.addr().to_string();
    let out = capacity(
        &addr,
        json.to_str().unwrap(),
        &["--p99", "1ms", "--start-rate", "256", "--factor", "4"],
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("never met the objective; lowest step 4"),
        "{}",
        show(&out)
    );
    let r = &read_json(&json)["report"];
    assert_eq!(r["outcome"], "never_met");
    assert!(r["capacity"].is_null());
    // 256, 64, 16, 4 (= 256 / 64, the lowest rate tried).
    assert_eq!(r["steps"].as_array().unwrap().len(), 4);
}

#[test]
fn a_server_that_breaks_stops_the_search_at_once() {
    let server = TestServer::start(Fault::Corrupt(100));
    let dir = TempDir::new("capacity-broken");
    let json = dir.path("c.json");
    let addr = server.addr().to_string();
    let out = capacity(&addr, json.to_str().unwrap(), &["--p99", "2s"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("the server broke: mismatched echo"),
        "{}",
        show(&out)
    );
    let r = &read_json(&json)["report"];
    assert_eq!(r["outcome"], "broke");
    assert_eq!(r["steps"].as_array().unwrap().len(), 1);
}

#[test]
fn nonsense_settings_are_refused_before_sending() {
    // Nothing listens here: a refusal that came after connecting would say so.
    let addr = "127.0.0.1:9";
    for (extra, reason) in [
        (&["--p99", "0"][..], "--p99 must be positive"),
        (
            &["--start-rate", "5000", "--max-rate", "100"][..],
            "the rate range is empty",
        ),
        (&["--factor", "1"][..], "--factor must be above 1"),
        (
            &["--conns", "100000000"][..],
            "cannot open 100000000 connections",
        ),
    ] {
        let mut args = vec!["capacity", "echo", "--addr", addr];
        args.extend_from_slice(extra);
        let out = loadgen(&args, LIMIT);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reason), "{extra:?}: {}", show(&out));
        assert!(!stderr.contains("refused"), "{extra:?}: {}", show(&out));
    }
}
