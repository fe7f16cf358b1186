//! `conformance`: runs the conformance cases against any running server and reports PASS/FAIL.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Parser;
use conformance::tls::Trust;
use conformance::transport::Endpoint;
use conformance::{Skipped, Target, cases};
use server_common::App;
use server_common::config::{DEFAULT_MAX_LINE, DEFAULT_QUEUE_BYTES};

/// Check a running server against docs/PROTOCOL.md.
///
/// Prints PASS, FAIL or SKIP for each case and a closing `N passed, M failed` line; exits 0 only when
/// no case failed. Run it against a freshly started server: some cases fill the server up to its limits.
#[derive(Debug, Parser)]
#[command(name = "conformance", version)]
struct Args {
    /// The server's address: HOST:PORT (TCP), tls://HOST:PORT (TLS; needs --ca or --insecure) or
    /// unix:PATH (a unix-domain socket), e.g. 127.0.0.1:40123.
    #[arg(long)]
    addr: String,

    /// tls:// only: trust the certificates in this PEM file (e.g. the one `serve --tls-self-signed
    /// --tls-cert-out PATH` wrote); the HOST of the address must be a name the certificate is for.
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    ca: Option<PathBuf>,

    /// tls:// only: accept any certificate for any name. NO VERIFICATION: for testing a server you
    /// started yourself, never for trusting one.
    #[arg(long)]
    insecure: bool,

    /// Which application the server speaks.
    #[arg(long, value_enum)]
    app: App,

    /// The server's --max-conns; without it the max-conns case is skipped.
    #[arg(long)]
    max_conns: Option<usize>,

    /// The server's --max-line (chat).
    #[arg(long, default_value_t = DEFAULT_MAX_LINE)]
    max_line: usize,

    /// The server's --queue-bytes (chat).
    #[arg(long, default_value_t = DEFAULT_QUEUE_BYTES)]
    queue_bytes: usize,

    /// Run only the cases whose name contains this text.
    #[arg(long)]
    only: Option<String>,

    /// List the cases and exit.
    #[arg(long)]
    list: bool,
}

/// Exit status of a usage error (as clap's own).
const USAGE: u8 = 2;

/// Restores the default SIGPIPE action, so that `conformance ... | head` ends quietly instead of
/// panicking on a closed stdout (Rust ignores SIGPIPE by default).
fn default_sigpipe() {
    // SAFETY: setting a signal's disposition to SIG_DFL has no memory-safety preconditions.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> Result<ExitCode> {
    default_sigpipe();
    let args = Args::parse();
    let selected: Vec<_> = cases(args.app)
        .iter()
        .filter(|case| {
            args.only
                .as_deref()
                .is_none_or(|only| case.name.contains(only))
        })
        .collect();
    if args.list {
        for case in &selected {
            println!("{}", case.name);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let trust = match (&args.ca, args.insecure) {
        (Some(pem), _) => Some(Trust::Ca(pem.clone())),
        (None, true) => Some(Trust::Insecure),
        (None, false) => None,
    };
    let endpoint = match Endpoint::parse(&args.addr, trust.as_ref(), false) {
        Ok(endpoint) => endpoint,
        Err(err) => {
            eprintln!("conformance: {err}");
            return Ok(ExitCode::from(USAGE));
        }
    };
    if trust == Some(Trust::Insecure) {
        eprintln!(
            "conformance: WARNING: --insecure: the server's certificate is NOT verified (any certificate, any name)"
        );
    }
    let target = Target {
        endpoint,
        max_conns: args.max_conns,
        max_line: args.max_line,
        queue_bytes: args.queue_bytes,
    };
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for case in selected {
        match (case.run)(&target) {
            Ok(()) => {
                passed += 1;
                println!("PASS {}", case.name);
            }
            Err(err) if err.downcast_ref::<Skipped>().is_some() => {
                skipped += 1;
                println!("SKIP {} ({err})", case.name);
            }
            Err(err) => {
                failed += 1;
                println!("FAIL {}: {err:#}", case.name);
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
