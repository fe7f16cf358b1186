//! What a connection costs, against real server variants: churn (every connection does its one round
//! trip — echo, or chat's HELLO / PING / PONG — and is closed, with nothing failed and the server's CPU
//! read) and the ceiling (a server held to `--max-conns` serves that many, and the limit is named).

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

use std::time::Duration;

use loadgen::ceiling;
use loadgen::churn::{self, ChurnApp, ChurnSettings};
use loadgen::conns::ConnsSettings;
use serve::{App, Config, Impl, RunningServer};

fn churn_against(imp: Impl, app: ChurnApp) {
    let server_app = match app {
        ChurnApp::Echo => App::Echo,
        ChurnApp::Chat => App::Chat,
    };
    let server = RunningServer::start(imp, server_app, Config::default()).unwrap();
    let mut s = ChurnSettings::new(server.addr());
    s.app = app;
    s.rate = 400.0;
    s.duration = Duration::from_millis(250);
    s.threads = Some(2);
    s.server_pid = Some(std::process::id());
    let r = churn::run(&s).unwrap();
    assert_eq!(r.error_count(), 0, "{imp} {app:?}: {:?}", r.first_error);
    assert_eq!(r.completed, s.conns(), "{imp} {app:?}");
    assert_eq!(
        r.round_trip.summary.count,
        s.conns() as u64,
        "{imp} {app:?}"
    );
    assert!(r.server_cpu_s.is_some());
}

#[test]
fn churn_echo_and_chat_on_threads_and_tokio() {
    for imp in [Impl::Threads, Impl::Tokio] {
        churn_against(imp, ChurnApp::Echo);
        churn_against(imp, ChurnApp::Chat);
    }
}

#[test]
fn ceiling_names_max_conns() {
    for imp in [Impl::Threads, Impl::Tokio] {
        let config = Config {
            max_conns: 20,
            ..Config::default()
        };
        let server = RunningServer::start(imp, App::Echo, config).unwrap();
        let mut s = ConnsSettings::new(server.addr());
        s.conns = 30;
        s.hold = Duration::from_millis(500);
        s.probes_per_conn = 1;
        s.threads = Some(1);
        s.server_pid = Some(std::process::id());
        let r =
            ceiling::run_with(&s, Some(20), &mut loadgen::generator::progress::NoProgress).unwrap();
        assert_eq!(r.served, 20, "{imp}: {r:?}");
        assert_eq!(r.stopped_by, "--max-conns 20", "{imp}");
        assert!(
            r.limits.max_map_count > 0 && r.peaks.server_fds >= 20,
            "{imp}: {r:?}"
        );
    }
}
