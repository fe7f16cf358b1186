//! Process-level work cases: the `serve` binary as a child process, for SIGTERM with requests running
//! and queued, and the refusal of an unusable pool size.

mod support;

use std::time::Duration;

use conformance::Target;
use conformance::process::ServeCommand;
use conformance::work::fill_pool;
use serve::Impl;

per_variant!(sigterm_with_requests_running_and_queued);

/// How long the slow requests sleep.
const SLOW_MS: u64 = 400;
/// How long the server may take to exit after SIGTERM (its drain timeout is 3 s).
const EXIT_LIMIT: Duration = Duration::from_secs(20);

/// SIGTERM with a one-thread pool busy and its one queue place taken: the running request is
/// answered, the queued one gets `ERR shutting-down`, every connection ends with `ERR shutting-down`,
/// and the process exits 0 within its drain timeout.
fn sigterm_with_requests_running_and_queued(imp: Impl) {
    let mut server = ServeCommand::new(imp, "work")
        .args([
            "--offload",
            "--offload-threads",
            "1",
            "--offload-queue",
            "1",
            "--drain-timeout",
            "3",
        ])
        .spawn()
        .expect("spawn serve");
    assert_eq!(
        server.listening_line(),
        format!("listening {imp} work {}", server.addr())
    );
    let target = Target::new(server.addr());
    let (mut a, mut b, mut refused) =
        fill_pool(&target, SLOW_MS).unwrap_or_else(|err| panic!("{imp}: {err:#}"));
    server.signal(libc::SIGTERM).expect("SIGTERM");
    let mut replies = [
        String::from_utf8_lossy(&a.read_until_closed().expect("a closed")).into_owned(),
        String::from_utf8_lossy(&b.read_until_closed().expect("b closed")).into_owned(),
    ];
    replies.sort();
    assert_eq!(
        replies,
        [
            "ERR shutting-down\n".to_owned(),
            format!("SLEPT {SLOW_MS}\nERR shutting-down\n")
        ],
        "{imp}: the running and the queued request at SIGTERM"
    );
    let rest = refused.read_until_closed().expect("idle connection closed");
    assert_eq!(rest, b"ERR shutting-down\n", "{imp}: an idle connection");
    let status = server
        .wait_timeout(EXIT_LIMIT)
        .expect("wait")
        .unwrap_or_else(|| panic!("{imp}: still running {EXIT_LIMIT:?} after SIGTERM"));
    assert!(status.success(), "{imp}: exit status {status}");
}

/// `--offload-threads 0` or `--offload-queue 0`: exit status 2 and one line on stderr naming the flag.
#[test]
fn zero_pool_sizes_refused() {
    for flag in ["--offload-threads", "--offload-queue"] {
        let command = ServeCommand::new(Impl::Threads, "work").args([flag, "0"]);
        let (status, stdout, stderr) = command
            .run_to_exit(Duration::from_secs(30))
            .expect("run serve");
        assert_eq!(
            status.code(),
            Some(2),
            "{flag} 0: status {status}; {stderr}"
        );
        assert_eq!(stdout, "", "{flag} 0: stdout");
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(
            lines.len(),
            1,
            "{flag} 0: stderr is not one line:\n{stderr}"
        );
        assert!(lines[0].contains(flag), "{flag} 0: {stderr}");
    }
}
