//! The `loadgen` binary against in-test echo servers: a correct one, and
//! deliberately broken ones that must make it fail.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

mod support;

use std::time::Duration;

use support::{Fault, TempDir, TestServer, loadgen, read_json, show};

const LIMIT: Duration = Duration::from_secs(30);

fn echo_args<'a>(addr: &'a str, json: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec![
        "echo",
        "--addr",
        addr,
        "--conns",
        "8",
        "--duration",
        "500ms",
        "--warmup",
        "200ms",
        "--drain-timeout",
        "5s",
        "--timeout",
        "5s",
        "--json",
        json,
    ];
    v.extend_from_slice(extra);
    v
}

#[test]
fn help_for_every_subcommand() {
    for args in [&["--help"][..], &["echo", "--help"], &["conns", "--help"]] {
        let out = loadgen(args, LIMIT);
        assert!(out.status.success(), "{}", show(&out));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage"), "{text}");
    }
    let out = loadgen(&["echo", "--help"], LIMIT);
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--rate",
        "--pipeline",
        "--server-pid",
        "--source-ips",
        "--cpus",
        "--json",
    ] {
        assert!(text.contains(flag), "missing {flag} in\n{text}");
    }
}

#[test]
fn correct_server_closed_loop_json_and_csv() {
    let server = TestServer::start(Fault::None);
    let dir = TempDir::new("ok");
    let (json, csv) = (dir.path("r.json"), dir.path("r.csv"));
    let addr = server.addr().to_string();
    let pid = std::process::id().to_string();
    let (js, cs) = (json.to_str().unwrap(), csv.to_str().unwrap());
    let args = echo_args(
        &addr,
        js,
        &[
            "--pipeline",
            "4",
            "--size",
            "300",
            "--server-pid",
            &pid,
            "--csv",
            cs,
        ],
    );
    let out = loadgen(&args, LIMIT);
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("throughput"), "{stdout}");
    let v = read_json(&json);
    assert_eq!(v["kind"], "echo");
    let r = &v["report"];
    assert_eq!(r["mode"], "closed");
    assert!(r["messages"].as_u64().unwrap() > 0);
    assert!(r["msgs_per_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["errors"]["mismatches"], 0);
    assert_eq!(r["conns_clean"], 8);
    assert_eq!(r["connect"]["established"], 8);
    assert_eq!(r["latency"]["summary"]["count"], r["messages"]);
    assert!(r["latency_corrected"].is_null());
    // The server here is this test process: its cost was sampled.
    assert!(r["server"]["fds_start"].as_u64().unwrap() >= 8);
    assert!(r["server"]["threads_start"].as_u64().unwrap() >= 8);
    let csv_text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<_> = csv_text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0].contains("report.msgs_per_s"));
}

#[test]
fn corrupted_byte_is_reported_and_fails_the_run() {
    let server = TestServer::start(Fault::Corrupt(1000));
    let dir = TempDir::new("corrupt");
    let json = dir.path("r.json");
    let addr = server.addr().to_string();
    let out = loadgen(&echo_args(&addr, json.to_str().unwrap(), &[]), LIMIT);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let v = read_json(&json);
    let r = &v["report"];
    // Every connection gets its byte 1000 corrupted.
    assert_eq!(r["errors"]["mismatches"], 8, "{r}");
    let first = r["first_error"].as_str().unwrap();
    assert!(
        first.contains("mismatch") && first.contains("byte 1000"),
        "{first}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("error"));
}

#[test]
fn dropped_byte_is_reported_and_fails_the_run() {
    let server = TestServer::start(Fault::Drop(777));
    let dir = TempDir::new("drop");
    let json = dir.path("r.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &echo_args(&addr, json.to_str().unwrap(), &["--pipeline", "3"]),
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let r = &read_json(&json)["report"];
    assert_eq!(r["errors"]["mismatches"], 8, "{r}");
    assert!(
        r["first_error"].as_str().unwrap().contains("byte 777"),
        "{r}"
    );
}

#[test]
fn allow_errors_exits_zero_but_still_reports() {
    let server = TestServer::start(Fault::Drop(5));
    let dir = TempDir::new("allow");
    let json = dir.path("r.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &echo_args(
            &addr,
            json.to_str().unwrap(),
            &["--allow-errors", "--rate", "2000"],
        ),
        LIMIT,
    );
    assert!(out.status.success(), "{}", show(&out));
    let r = &read_json(&json)["report"];
    assert_eq!(r["errors"]["mismatches"], 8, "{r}");
}

#[test]
fn open_loop_reports_target_and_corrected_latency() {
    let server = TestServer::start(Fault::None);
    let dir = TempDir::new("open");
    let json = dir.path("r.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &echo_args(
            &addr,
            json.to_str().unwrap(),
            &["--rate", "2000", "--threads", "2"],
        ),
        LIMIT,
    );
    assert!(out.status.success(), "{}", show(&out));
    let r = &read_json(&json)["report"];
    assert_eq!(r["mode"], "open");
    assert_eq!(r["target_rate"], 2000.0);
    // 2000/s over a 0.5 s window: 1000 scheduled, all of them answered.
    assert_eq!(r["sent"], 1000, "{r}");
    assert_eq!(r["messages"], 1000, "{r}");
    let c = &r["latency_corrected"]["summary"];
    let a = &r["latency"]["summary"];
    assert_eq!(c["count"], 1000);
    // From the intended time can only be later than from the actual send.
    assert!(c["max_us"].as_u64().unwrap() >= a["max_us"].as_u64().unwrap());
}

#[test]
fn conns_subcommand_probes_every_connection() {
    let server = TestServer::start(Fault::None);
    let dir = TempDir::new("conns");
    let json = dir.path("r.json");
    let addr = server.addr().to_string();
    let out = loadgen(
        &[
            "conns",
            "--addr",
            &addr,
            "--conns",
            "50",
            "--connect-rate",
            "500",
            "--hold",
            "500ms",
            "--source-ips",
            "127.0.0.1,127.0.0.2",
            "--json",
            json.to_str().unwrap(),
        ],
        LIMIT,
    );
    assert!(out.status.success(), "{}", show(&out));
    let v = read_json(&json);
    assert_eq!(v["kind"], "conns");
    let r = &v["report"];
    assert_eq!(r["connect"]["established"], 50);
    assert_eq!(r["connect"]["latency"]["summary"]["count"], 50);
    // Paced at 500/s: the 50 connections take about 0.1 s.
    assert!(r["connect"]["elapsed_s"].as_f64().unwrap() >= 0.09, "{r}");
    assert_eq!(r["probes_ok"], 100);
    assert_eq!(r["conns_alive"], 50);
    assert_eq!(r["conns_closed_cleanly"], 50);
}

#[test]
fn refused_connections_fail_clearly() {
    // Bind then drop a listener: nothing listens on that port any more.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let out = loadgen(
        &[
            "echo",
            "--addr",
            &addr,
            "--conns",
            "3",
            "--duration",
            "200ms",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no connection"), "{err}");
}

#[test]
fn too_many_connections_for_the_fd_limit_is_explained() {
    let out = loadgen(
        &[
            "echo",
            "--addr",
            "127.0.0.1:9",
            "--conns",
            "1000000",
            "--duration",
            "1s",
        ],
        LIMIT,
    );
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("file descriptor") && err.contains("RLIMIT_NOFILE"),
        "{err}"
    );
}

#[test]
fn transport_usage_errors_are_one_line_and_exit_2() {
    let dir = TempDir::new("cli-transport");
    let missing = dir.path("missing.pem");
    let missing = missing.to_str().unwrap();
    for args in [
        &["echo", "--addr", "tls://127.0.0.1:1"][..],
        &["echo", "--addr", "tls://127.0.0.1:1", "--ca", missing],
        &["echo", "--addr", "127.0.0.1:1", "--insecure"],
        &["churn", "--addr", "unix:/nonexistent.sock", "--tls-resume"],
    ] {
        let out = support::loadgen_with_env(args, LIMIT, &[("RUST_BACKTRACE", "1")]);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", show(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("loadgen: "), "{args:?}: {err}");
    }
}
