//! Shared by the integration tests: starting an in-process server for a case, and the macro that stamps
//! the same cases out once per variant.

#![allow(dead_code)]

pub mod tls;

use std::time::Duration;

use conformance::{Skipped, Target};
use host_probe::Process;
use serve::{App, Config, Impl, RunningServer};

/// The connection limit in-process test servers run with: above the 200 concurrent connections
/// case, small enough that the max-conns case stays quick.
pub const TEST_MAX_CONNS: usize = 210;

/// The configuration in-process test servers run with.
pub fn test_config() -> Config {
    Config {
        max_conns: TEST_MAX_CONNS,
        drain_timeout: Duration::from_secs(2),
        workers: Some(2),
        ..Config::default()
    }
}

/// How long an in-process server may take to stop after its shutdown signal (its drain timeout is
/// 2 s).
pub const STOP_LIMIT: Duration = Duration::from_secs(30);

/// Triggers `server`'s shutdown and waits at most [`STOP_LIMIT`] for it to stop cleanly; panics naming
/// `what` otherwise, instead of hanging on a server whose shutdown is broken.
pub fn stop_within_limit(server: RunningServer, what: &str) {
    conformance::wait::run_within(STOP_LIMIT, &format!("stopping {what}"), move || {
        server.stop()
    })
    .unwrap_or_else(|err| panic!("{err:#}"))
    .unwrap_or_else(|err| panic!("{what}: the server stopped with an error: {err}"));
}

/// The configuration of in-process work servers run offloaded: [`test_config`] with `--offload` and a
/// small pool (2 threads, 8 queued).
pub fn offload_test_config() -> Config {
    Config {
        offload: true,
        offload_threads: 2,
        offload_queue: 8,
        ..test_config()
    }
}

/// Starts `imp` serving `app` in-process on port 0, runs `case` against it, stops it.
pub fn run_case(imp: Impl, app: App, case: fn(&Target) -> anyhow::Result<()>) {
    run_case_with(imp, app, test_config(), case);
}

/// [`run_case`] with a server started with `config`.
pub fn run_case_with(imp: Impl, app: App, config: Config, case: fn(&Target) -> anyhow::Result<()>) {
    if skipped(imp) {
        return;
    }
    let server = RunningServer::start(imp, app, config.clone()).expect("start server");
    let addr = server.addr();
    run_case_against(server, addr, &config, &format!("{imp} {app}"), case);
}

/// Runs `case` against `server` (started with `config`) reached at `addr` (the server's own address
/// or a relay's in front of it), then stops the server; panics naming `what` if the case failed or
/// was skipped.
pub fn run_case_against(
    server: RunningServer,
    addr: std::net::SocketAddr,
    config: &Config,
    what: &str,
    case: fn(&Target) -> anyhow::Result<()>,
) {
    let target = Target {
        max_conns: Some(config.max_conns),
        max_line: config.max_line,
        queue_bytes: config.queue_bytes,
        ..Target::new(addr)
    };
    let outcome = case(&target);
    stop_within_limit(server, what);
    if let Err(err) = outcome {
        assert!(
            err.downcast_ref::<Skipped>().is_none(),
            "case skipped: {err}"
        );
        panic!("{what}: {err:#}");
    }
}

/// A transport besides plain TCP that the cases are stamped over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// TLS with the server's self-signed certificate, trusted by the client.
    Tls,
    /// A unix-domain socket in a fresh temporary directory.
    Unix,
}

/// Starts `imp` serving `app` in-process over `transport`, runs `case` against it, stops it. A
/// variant that cannot serve TLS yet says so on stderr and passes without pretending to have run.
pub fn run_case_over(
    transport: Transport,
    imp: Impl,
    app: App,
    case: fn(&Target) -> anyhow::Result<()>,
) {
    run_case_over_with(transport, imp, app, test_config(), case);
}

/// [`run_case_over`] with the server started with `config`.
pub fn run_case_over_with(
    transport: Transport,
    imp: Impl,
    app: App,
    config: Config,
    case: fn(&Target) -> anyhow::Result<()>,
) {
    if skipped(imp) {
        return;
    }
    if transport == Transport::Tls {
        if let Some(reason) = imp.tls_unsupported_reason(app) {
            eprintln!("SKIPPED {imp} over TLS: {reason}");
            return;
        }
    }
    let dir = std::env::temp_dir().join(format!(
        "conformance-{imp}-{app}-{}-{}",
        std::process::id(),
        conformance::chat_client::unique("u")
    ));
    let (server, endpoint) = match transport {
        Transport::Tls => {
            let server = RunningServer::start_tls(imp, app, config.clone()).expect("start server");
            let cert = server
                .tls_certificate()
                .expect("certificate")
                .cert_der
                .clone();
            let trust = conformance::tls::Trust::Certificate(cert);
            let endpoint = conformance::transport::Endpoint::parse(
                &format!("tls://localhost:{}", server.addr().port()),
                Some(&trust),
                false,
            )
            .expect("tls endpoint");
            (server, endpoint)
        }
        Transport::Unix => {
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("s.sock");
            let server =
                RunningServer::start_unix(imp, app, config.clone(), &path).expect("start server");
            (server, conformance::transport::Endpoint::Unix(path))
        }
    };
    let target = Target {
        max_conns: Some(config.max_conns),
        max_line: config.max_line,
        queue_bytes: config.queue_bytes,
        ..Target::at(endpoint)
    };
    let outcome = case(&target);
    stop_within_limit(server, &format!("{imp} {app} over {transport:?}"));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(err) = outcome {
        if let Some(skip) = err.downcast_ref::<Skipped>() {
            eprintln!("SKIPPED {imp} {app} over {transport:?}: {skip}");
            return;
        }
        panic!("{imp} {app} over {transport:?}: {err:#}");
    }
}

/// Stamps out one module per variant (`threads`, `tokio`, `async_std`, `smol`, `mio`, `uring`), each
/// with one `#[test]` per listed case of `conformance::$cases`, run over `$transport` (a
/// [`Transport`]). The list may be a subset of the registered cases.
#[macro_export]
macro_rules! stamp_cases_over {
    ($transport:expr, $app:expr, $cases:ident: $($case:ident),+ $(,)?) => {
        $crate::stamp_cases_over!(@variant threads, serve::Impl::Threads, $transport, $app, $cases: $($case),+);
        $crate::stamp_cases_over!(@variant tokio, serve::Impl::Tokio, $transport, $app, $cases: $($case),+);
        $crate::stamp_cases_over!(@variant async_std, serve::Impl::AsyncStd, $transport, $app, $cases: $($case),+);
        $crate::stamp_cases_over!(@variant smol, serve::Impl::Smol, $transport, $app, $cases: $($case),+);
        $crate::stamp_cases_over!(@variant mio, serve::Impl::Mio, $transport, $app, $cases: $($case),+);
        $crate::stamp_cases_over!(@variant uring, serve::Impl::Uring, $transport, $app, $cases: $($case),+);
    };
    (@variant $variant:ident, $imp:expr, $transport:expr, $app:expr, $cases:ident: $($case:ident),+) => {
        mod $variant {
            $(
                #[test]
                fn $case() {
                    $crate::support::run_case_over($transport, $imp, $app, conformance::$cases::$case);
                }
            )+
        }
    };
}

/// Whether `imp` cannot run on this machine; if so, says so on stderr (`SKIPPED <impl>: <reason>`,
/// shown with `--nocapture` and in a failing run's output), so the test passes without pretending
/// to have run.
pub fn skipped(imp: Impl) -> bool {
    match imp.unavailable_reason() {
        Some(reason) => {
            eprintln!("SKIPPED {imp}: {reason}");
            true
        }
        None => false,
    }
}

/// Stamps out one module per variant (`threads`, `tokio`, `async_std`, `smol`, `mio`, `uring`), each
/// with one `#[test]` per listed function of the test file, calling it with that variant's [`Impl`].
#[macro_export]
macro_rules! per_variant {
    ($($test:ident),+ $(,)?) => {
        mod threads { $( #[test] fn $test() { super::$test(serve::Impl::Threads) } )+ }
        mod tokio { $( #[test] fn $test() { super::$test(serve::Impl::Tokio) } )+ }
        mod async_std { $( #[test] fn $test() { super::$test(serve::Impl::AsyncStd) } )+ }
        mod smol { $( #[test] fn $test() { super::$test(serve::Impl::Smol) } )+ }
        mod mio { $( #[test] fn $test() { super::$test(serve::Impl::Mio) } )+ }
        mod uring { $( #[test] fn $test() {
            if !$crate::support::skipped(serve::Impl::Uring) { super::$test(serve::Impl::Uring) }
        } )+ }
    };
}

/// Stamps out one module per variant (`threads`, `tokio`, `async_std`, `smol`, `mio`, `uring`), each
/// with one `#[test]` per listed case of `conformance::$cases`, plus a test that the list names every registered case.
/// With a leading `config = <expr>;` the servers run with that configuration instead of
/// [`test_config`].
#[macro_export]
macro_rules! stamp_cases {
    (config = $config:expr; $app:expr, $cases:ident: $($case:ident),+ $(,)?) => {
        $crate::stamp_cases!(@variant threads, serve::Impl::Threads, $app, $cases: $($case),+; $config);
        $crate::stamp_cases!(@variant tokio, serve::Impl::Tokio, $app, $cases: $($case),+; $config);
        $crate::stamp_cases!(@variant async_std, serve::Impl::AsyncStd, $app, $cases: $($case),+; $config);
        $crate::stamp_cases!(@variant smol, serve::Impl::Smol, $app, $cases: $($case),+; $config);
        $crate::stamp_cases!(@variant mio, serve::Impl::Mio, $app, $cases: $($case),+; $config);
        $crate::stamp_cases!(@variant uring, serve::Impl::Uring, $app, $cases: $($case),+; $config);

        #[test]
        fn every_registered_case_is_stamped() {
            let stamped = [$(stringify!($case)),+];
            let registered: Vec<&str> = conformance::cases($app).iter().map(|c| c.name).collect();
            assert_eq!(registered, stamped, "the stamped list and the registry differ");
        }
    };
    (@variant $variant:ident, $imp:expr, $app:expr, $cases:ident: $($case:ident),+; $config:expr) => {
        mod $variant {
            $(
                #[test]
                fn $case() {
                    $crate::support::run_case_with($imp, $app, $config, conformance::$cases::$case);
                }
            )+
        }
    };
    ($app:expr, $cases:ident: $($case:ident),+ $(,)?) => {
        $crate::stamp_cases!(@variant threads, serve::Impl::Threads, $app, $cases: $($case),+);
        $crate::stamp_cases!(@variant tokio, serve::Impl::Tokio, $app, $cases: $($case),+);
        $crate::stamp_cases!(@variant async_std, serve::Impl::AsyncStd, $app, $cases: $($case),+);
        $crate::stamp_cases!(@variant smol, serve::Impl::Smol, $app, $cases: $($case),+);
        $crate::stamp_cases!(@variant mio, serve::Impl::Mio, $app, $cases: $($case),+);
        $crate::stamp_cases!(@variant uring, serve::Impl::Uring, $app, $cases: $($case),+);

        #[test]
        fn every_registered_case_is_stamped() {
            let stamped = [$(stringify!($case)),+];
            let registered: Vec<&str> = conformance::cases($app).iter().map(|c| c.name).collect();
            assert_eq!(registered, stamped, "the stamped list and the registry differ");
        }
    };
    (@variant $variant:ident, $imp:expr, $app:expr, $cases:ident: $($case:ident),+) => {
        mod $variant {
            $(
                #[test]
                fn $case() {
                    $crate::support::run_case($imp, $app, conformance::$cases::$case);
                }
            )+
        }
    };
}

/// Calls `$stamp!($($head)* <every echo case>)`: the one list of the echo cases that the test files
/// stamp (over TCP in `echo.rs`, over TLS and unix sockets in `transport_*.rs`).
#[macro_export]
macro_rules! echo_cases {
    ($stamp:ident!($($head:tt)*)) => {
        $crate::$stamp!(
            $($head)*
            small_echo,
            echo_without_newline,
            many_small_writes,
            one_mib_while_reading,
            concurrent_connections,
            half_close,
            half_close_without_data,
            reset_does_not_disturb_others,
            max_conns,
        );
    };
}

/// Calls `$stamp!($($head)* <every chat case>)`: the one list of the chat cases that the test files
/// stamp (over TCP in `chat.rs`, over TLS and unix sockets in `transport_*.rs`).
#[macro_export]
macro_rules! chat_cases {
    ($stamp:ident!($($head:tt)*)) => {
        $crate::$stamp!(
            $($head)*
            hello,
            guest_nicks_are_unique,
            nick_rename,
            nick_taken_and_freed,
            nick_broadcast_once_per_peer,
            join_and_joined,
            leave_and_left,
            msg_to_other_members,
            msg_not_in_room,
            rooms_sorted,
            who_sorted,
            ping_token,
            quit_bye_and_left,
            commands_case_insensitive,
            crlf_telnet_session,
            unknown_command,
            bad_args,
            bad_name,
            error_precedence,
            control_characters_rejected,
            text_verbatim,
            empty_lines_ignored,
            bad_utf8_keeps_connection,
            line_length_boundary,
            line_too_long_closes,
            room_limit_64,
            replies_in_order,
            left_on_disconnect,
            half_close,
            server_full,
            ordering_one_sender,
            per_room_agreement,
            ordering_across_rooms,
            msg_after_ok_join_arrives,
            nick_free_after_disconnect,
            slow_consumer,
        );
    };
}

/// Resident set size of process `pid`, bytes (`VmRSS` of `/proc/PID/status`, through `host-probe`).
pub fn rss_bytes(pid: u32) -> u64 {
    Process::new(pid).status_field("VmRSS").expect("VmRSS")
}

/// The server's resource figures that must return to their baseline: open fds, threads, RSS (KiB).
#[derive(Debug, Clone, Copy)]
pub struct Footprint {
    /// Open file descriptors.
    pub fds: usize,
    /// Threads.
    pub threads: u64,
    /// Resident set size, KiB.
    pub rss_kib: u64,
}

/// Reads the footprint of process `pid`.
pub fn footprint(pid: u32) -> Footprint {
    let process = Process::new(pid);
    Footprint {
        fds: usize::try_from(process.fd_count().expect("fd count")).expect("fd count fits"),
        threads: process.thread_count().expect("thread count"),
        rss_kib: rss_bytes(pid) / 1024,
    }
}

/// How long fds and threads must stay unchanged for [`stable_footprint`] to take a reading as settled.
pub const STABLE_FOR: Duration = Duration::from_millis(500);

/// Polls `pid` until its open fds and threads have stayed the same for [`STABLE_FOR`] (connections
/// that clients closed have been closed by the server too), for at most `limit`; panics if they never
/// settle. Use it for a baseline, so that a baseline is never a reading taken mid-close.
pub fn stable_footprint(pid: u32, limit: Duration) -> Footprint {
    let deadline = std::time::Instant::now() + limit;
    let mut last = footprint(pid);
    let mut since = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let now = footprint(pid);
        if now.fds != last.fds || now.threads != last.threads {
            last = now;
            since = std::time::Instant::now();
        } else if since.elapsed() >= STABLE_FOR {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "fds and threads of {pid} did not settle within {limit:?} (last {now:?})"
        );
    }
}

/// Polls `pid` for up to `limit` until its fds and threads are back to `baseline`; returns the last
/// footprint read (the caller asserts on it).
pub fn settle(pid: u32, baseline: Footprint, limit: Duration) -> Footprint {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let now = footprint(pid);
        if (now.fds <= baseline.fds && now.threads <= baseline.threads)
            || std::time::Instant::now() > deadline
        {
            return now;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
