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

/// The key paths of a JSON value (array elements by their first one).
fn key_paths(v: &serde_json::Value, prefix: &str, out: &mut std::collections::BTreeSet<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m {
                key_paths(x, &format!("{prefix}.{k}"), out);
            }
        }
        serde_json::Value::Array(a) => {
            if let Some(x) = a.first() {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {
            out.insert(prefix.to_string());
        }
    }
}

#[test]
fn echo_and_chat_reports_share_the_cost_and_series_blocks() {
    use serve::{App, Config, Impl, RunningServer};
    let echo_server = RunningServer::start(Impl::Tokio, App::Echo, Config::default()).unwrap();
    let chat_server = RunningServer::start(Impl::Tokio, App::Chat, Config::default()).unwrap();
    let pid = std::process::id();
    let mut e = quick(echo_server.addr());
    e.server_pid = Some(pid);
    e.interval = Duration::from_millis(100);
    let mut c = loadgen::chat::ChatSettings::new(chat_server.addr());
    c.members = 5;
    c.rate = 500.0;
    c.threads = Some(2);
    c.warmup = Duration::from_millis(100);
    c.duration = Duration::from_millis(300);
    c.server_pid = Some(pid);
    c.interval = Duration::from_millis(100);
    let er = echo::run(&e).unwrap();
    let cr = loadgen::chat::run(&c).unwrap();
    assert_eq!(er.error_count(), 0, "{:?}", er.first_error);
    assert_eq!(cr.error_count(), 0, "{:?}", cr.first_error);
    let (ev, cv) = (
        serde_json::to_value(&er).unwrap(),
        serde_json::to_value(&cr).unwrap(),
    );
    for block in ["server", "generator", "cores", "series"] {
        let (mut a, mut b) = (Default::default(), Default::default());
        key_paths(&ev[block], "", &mut a);
        key_paths(&cv[block], "", &mut b);
        assert!(!a.is_empty(), "{block}");
        assert_eq!(a, b, "{block}");
    }
    // 400 ms of load in 100 ms intervals: a warm-up interval, then three
    // measured ones.
    for s in [&er.series, &cr.series] {
        assert_eq!(s.intervals.len(), 4);
        assert_eq!(s.intervals.iter().filter(|i| i.measured).count(), 3);
        // (An interval may be empty if the machine stalls the run for
        // 100 ms: only what every interval must have is checked on all.)
        assert!(s.intervals.iter().any(|i| i.server_cpu_cores.is_some()));
        assert!(
            s.intervals
                .iter()
                .all(|i| (i.messages == 0) == i.histogram.is_none())
        );
        assert!(s.intervals.iter().any(|i| i.messages > 0));
    }
    let received: u64 = cr.series.intervals.iter().map(|i| i.messages).sum();
    assert!(received > 0 && received <= cr.deliveries_total);
}

#[test]
fn chat_counts_are_exact_whatever_worker_holds_the_sender() {
    use serve::{App, Config, Impl, RunningServer};
    let server = RunningServer::start(Impl::Threads, App::Chat, Config::default()).unwrap();
    // One sender among 8 members on 4 workers: three workers only receive.
    let mut c = loadgen::chat::ChatSettings::new(server.addr());
    c.members = 8;
    c.senders = 1;
    c.rate = 200.0;
    c.threads = Some(4);
    c.warmup = Duration::from_millis(100);
    c.duration = Duration::from_millis(500);
    let r = loadgen::chat::run(&c).unwrap();
    assert_eq!(r.error_count(), 0, "{:?}", r.first_error);
    // 200/s over a 500 ms window: 100 messages, each to 7 members.
    assert_eq!(r.sent, 100);
    assert_eq!(r.unsent, 0);
    assert_eq!(r.deliveries, 700);
    assert_eq!(r.deliveries_expected, r.deliveries_total);
    assert!(r.drained);
}
