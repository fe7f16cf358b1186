//! The `loadgen` binary against every real server variant (in-process
//! `serve::RunningServer`s on ephemeral loopback ports).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

mod support;

use std::time::Duration;

use serve::{App, Config, Impl, RunningServer};
use support::{TempDir, loadgen, read_json, show};

const LIMIT: Duration = Duration::from_secs(30);

fn echo_closed(imp: Impl) {
    let server = RunningServer::start(imp, App::Echo, Config::default()).unwrap();
    let dir = TempDir::new(imp.name());
    let json = dir.path("echo.json");
    let addr = server.addr().to_string();
    let pid = std::process::id().to_string();
    let out = loadgen(
        &[
            "echo",
            "--addr",
            &addr,
            "--conns",
            "20",
            "--size",
            "64",
            "--pipeline",
            "2",
            "--duration",
            "600ms",
            "--warmup",
            "200ms",
            "--server-pid",
            &pid,
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(out.status.success(), "{imp}: {}", show(&out));
    let v = read_json(&json);
    // Provenance.
    assert_eq!(v["kind"], "echo");
    let meta = &v["meta"];
    assert!(meta["command_line"].as_array().unwrap().len() > 5);
    assert!(meta["machine"]["cpus_online"].as_u64().unwrap() >= 1);
    assert!(
        !meta["machine"]["kernel_release"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    assert!(meta.get("git_commit").is_some());
    // Figures.
    let r = &v["report"];
    assert_eq!(r["settings"]["conns"], 20);
    assert!(r["messages"].as_u64().unwrap() > 0, "{imp}: {r}");
    assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["errors"]["mismatches"], 0, "{imp}: {r}");
    assert_eq!(r["errors"]["drain_timeouts"], 0, "{imp}: {r}");
    assert_eq!(r["connect"]["established"], 20);
    assert_eq!(r["conns_clean"], 20, "{imp}: half-close must be honoured");
    assert_eq!(r["lost"], 0);
    for key in [
        "p50_us", "p90_us", "p99_us", "p999_us", "p9999_us", "max_us", "mean_us",
    ] {
        assert!(
            r["latency"]["summary"][key].as_f64().unwrap() > 0.0,
            "{key}"
        );
    }
    assert!(!r["latency"]["v2_base64"].as_str().unwrap().is_empty());
    let hist = loadgen::hist::from_base64(r["latency"]["v2_base64"].as_str().unwrap()).unwrap();
    assert_eq!(hist.len(), r["messages"].as_u64().unwrap());
    // Server cost (the server runs in this test process).
    let s = &r["server"];
    assert!(s["cpu_s"].as_f64().unwrap() >= 0.0);
    assert!(s["fds_start"].as_u64().unwrap() >= 20);
    assert!(s["rss_peak_bytes"].as_u64().unwrap() > 0);
    assert!(s["ctxt_threads_scanned"].as_u64().unwrap() >= 1);
    let g = &r["generator"];
    assert!(g["cpu_s"].as_f64().unwrap() > 0.0);
    assert!(g["cpu_us_per_msg"].as_f64().unwrap() > 0.0);
}

fn conns(imp: Impl) {
    let server = RunningServer::start(imp, App::Echo, Config::default()).unwrap();
    let dir = TempDir::new(imp.name());
    let json = dir.path("conns.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &[
            "conns",
            "--addr",
            &addr,
            "--conns",
            "200",
            "--hold",
            "600ms",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(out.status.success(), "{imp}: {}", show(&out));
    let r = &read_json(&json)["report"];
    assert_eq!(r["connect"]["established"], 200, "{imp}: {r}");
    assert!(r["connect"]["rate_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["probes_ok"], 400, "{imp}: {r}");
    assert_eq!(r["conns_alive"], 200);
    assert_eq!(r["conns_closed_cleanly"], 200);
}

fn echo_open(imp: Impl) {
    let server = RunningServer::start(imp, App::Echo, Config::default()).unwrap();
    let dir = TempDir::new(imp.name());
    let json = dir.path("open.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &[
            "echo",
            "--addr",
            &addr,
            "--conns",
            "10",
            "--rate",
            "5000",
            "--size",
            "1000",
            "--duration",
            "500ms",
            "--warmup",
            "100ms",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(out.status.success(), "{imp}: {}", show(&out));
    let r = &read_json(&json)["report"];
    assert_eq!(r["sent"], 2500, "{imp}: {r}");
    assert_eq!(r["messages"], 2500, "{imp}: {r}");
    assert_eq!(r["errors"]["mismatches"], 0);
    assert_eq!(r["latency_corrected"]["summary"]["count"], 2500);
}

#[test]
fn threads_echo_closed_loop() {
    echo_closed(Impl::Threads);
}

#[test]
fn tokio_echo_closed_loop() {
    echo_closed(Impl::Tokio);
}

#[test]
fn async_std_echo_closed_loop() {
    echo_closed(Impl::AsyncStd);
}

#[test]
fn threads_conns() {
    conns(Impl::Threads);
}

#[test]
fn tokio_conns() {
    conns(Impl::Tokio);
}

#[test]
fn async_std_conns() {
    conns(Impl::AsyncStd);
}

#[test]
fn every_variant_open_loop() {
    for imp in Impl::ALL {
        echo_open(imp);
    }
}
