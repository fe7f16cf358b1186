//! The churn scenario against real server variants: every connection does its one round trip (echo,
//! or chat's HELLO / PING / PONG) and is closed, with nothing failed and the server's CPU read.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns: failures should panic

use std::time::Duration;

use loadgen::churn::{self, ChurnApp, ChurnSettings};
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
