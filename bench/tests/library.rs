//! The library API, as the `chat` / `compare` tooling will use it: run
//! scenarios in-process, serialize the records, merge histograms of runs.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

mod support;

use std::time::Duration;

use loadgen::conns::{self, ConnsSettings};
use loadgen::echo::{self, EchoReport, EchoSettings};
use loadgen::hist;
use loadgen::machine::{Record, RunMeta};
use support::{Fault, TestServer};

fn quick(addr: std::net::SocketAddr) -> EchoSettings {
    let mut s = EchoSettings::new(addr);
    s.conns = 6;
    s.duration = Duration::from_millis(300);
    s.warmup = Duration::from_millis(100);
    s.threads = Some(2);
    s
}

#[test]
fn echo_run_and_merge_two_runs() {
    let server = TestServer::start(Fault::None);
    let a = echo::run(&quick(server.addr())).unwrap();
    let mut s = quick(server.addr());
    s.pipeline = 8;
    s.size = 4096;
    let b = echo::run(&s).unwrap();
    for r in [&a, &b] {
        assert!(r.messages > 0);
        assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
        assert_eq!(r.conns_clean, 6);
        assert_eq!(r.bytes, r.messages * r.settings.size as u64);
    }
    // Histograms travel through JSON and merge.
    let rec = Record {
        kind: "echo".to_string(),
        meta: RunMeta::collect(),
        report: b.clone(),
    };
    let text = serde_json::to_string(&rec).unwrap();
    let back: Record<EchoReport> = serde_json::from_str(&text).unwrap();
    // (Floats may lose their last bit in JSON; everything else is exact.)
    assert_eq!(back.report.messages, b.messages);
    assert_eq!(back.report.settings, b.settings);
    assert_eq!(back.report.errors, b.errors);
    assert_eq!(back.report.latency.v2_base64, b.latency.v2_base64);
    let mut merged = a.latency.histogram().unwrap();
    hist::merge(&mut merged, &back.report.latency.histogram().unwrap()).unwrap();
    assert_eq!(merged.len(), a.messages + b.messages);
}

#[test]
fn open_loop_corrected_latency_and_no_record_mode() {
    let server = TestServer::start(Fault::None);
    let mut s = quick(server.addr());
    s.rate = Some(3000.0);
    let r = echo::run(&s).unwrap();
    assert_eq!(r.mode, "open");
    assert_eq!(r.sent, 900);
    assert_eq!(r.messages, 900);
    let c = r.latency_corrected.as_ref().unwrap();
    assert_eq!(c.summary.count, 900);
    assert!(c.summary.max_us >= r.latency.summary.max_us);

    let mut s = quick(server.addr());
    s.record_latency = false;
    let r = echo::run(&s).unwrap();
    assert!(r.messages > 0);
    assert_eq!(r.latency.summary.count, 0);
    assert!(!r.cost.generator.recording);
}

#[test]
fn conns_run_in_process() {
    let server = TestServer::start(Fault::None);
    let mut s = ConnsSettings::new(server.addr());
    s.conns = 40;
    s.hold = Duration::from_millis(300);
    s.probes_per_conn = 3;
    s.server_pid = Some(std::process::id());
    let r = conns::run(&s).unwrap();
    assert_eq!(r.connect.established, 40);
    assert_eq!(r.probes_ok, 120);
    assert_eq!(r.conns_alive, 40);
    let sv = r.cost.server.unwrap();
    // This process is both ends: 40 client and (once accepted) 40 server
    // sockets; the test server accepts lazily, so count at the end.
    assert!(sv.fds_start >= sv.fds_baseline + 40, "{sv:?}");
    assert!(sv.threads_end >= sv.threads_baseline + 40, "{sv:?}");
    assert!(sv.threads_peak >= sv.threads_end, "{sv:?}");
}

#[test]
fn invalid_settings_are_typed_errors() {
    let server = TestServer::start(Fault::None);
    let mut s = quick(server.addr());
    s.pipeline = 0;
    assert!(matches!(
        echo::run(&s),
        Err(loadgen::Error::InvalidSettings(_))
    ));
    let mut s = quick(server.addr());
    s.rate = Some(-1.0);
    assert!(matches!(
        echo::run(&s),
        Err(loadgen::Error::InvalidSettings(_))
    ));
    let mut s = quick(server.addr());
    s.conns = 10_000_000;
    assert!(matches!(
        echo::run(&s),
        Err(loadgen::Error::Capacity { .. })
    ));
}

#[test]
fn messages_larger_than_the_scratch_buffer_and_cut_writes_verify() {
    // 100 000-byte messages, 3 in flight: every message spans several
    // scratch buffers and socket writes, so the write side resumes messages
    // cut in the middle, closed and open loop alike.
    let server = TestServer::start(Fault::None);
    for rate in [None, Some(400.0)] {
        let mut s = quick(server.addr());
        s.conns = 2;
        s.size = 100_000;
        s.pipeline = 3;
        s.rate = rate;
        let r = echo::run(&s).unwrap();
        assert!(r.messages > 0, "{rate:?}");
        assert_eq!(r.error_count(), 0, "{rate:?}: {:?}", r.first_error);
        assert_eq!(r.lost, 0, "{rate:?}");
        assert_eq!(r.conns_clean, 2, "{rate:?}");
    }
}
