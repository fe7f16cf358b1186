//! `textbook MODEL ADDR`: the minimal echo server of each concurrency model, as the runtimes' own
//! documentation writes it, with nothing of ours in it (no limits, no shutdown, no idle timeout, no
//! `TCP_NODELAY`); `textbook work ADDR`, the minimal `work` server (threads, every request run
//! inline), the known answer for `loadgen work`; and two more transports, on tokio: `textbook tokio-tls
//! ADDR CERT_OUT` (TLS with tokio-rustls, a self-signed certificate written to `CERT_OUT`) and
//! `textbook tokio-unix PATH` (a unix-domain socket), the references loadgen's TLS and unix
//! measurements are checked against (`bench/tests/transports.rs`).
//!
//! It is the yardstick for the project's variants: under the same generator, a variant should cost no
//! more server CPU per message than the textbook server of its model (`bench/README.md`, "Against the
//! textbook servers"). `loadgen compare --textbook` runs it beside ours (or by hand:
//! `--external 'textbook-tokio=target/release/textbook tokio {addr}'`).

mod async_std_echo;
mod mio_echo;
mod smol_echo;
mod threads_echo;
mod threads_work;
mod tokio_echo;
mod tokio_tls_echo;
mod unix_echo;

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

/// Buffer size of every textbook server: the value of our variants' `ECHO_BUF_SIZE`, written out
/// rather than imported so that nothing of ours is in these servers.
const BUF_SIZE: usize = 16 * 1024;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let served = match args.as_slice() {
        [model, path] if model == "tokio-unix" => {
            Some(("tokio-unix", unix_echo::serve(Path::new(path))))
        }
        [model, addr, cert_out] if model == "tokio-tls" => match addr.parse::<SocketAddr>() {
            Ok(addr) => Some((
                "tokio-tls",
                tokio_tls_echo::serve(addr, Path::new(cert_out)),
            )),
            Err(err) => return usage(&format!("bad address {addr:?}: {err}")),
        },
        _ => None,
    };
    if let Some((model, served)) = served {
        return exit(model, served);
    }
    let (model, addr) = match args.as_slice() {
        [model, addr] => match addr.parse::<SocketAddr>() {
            Ok(addr) => (model.as_str(), addr),
            Err(err) => return usage(&format!("bad address {addr:?}: {err}")),
        },
        _ => return usage("expected two arguments"),
    };
    let served = match model {
        "threads" => threads_echo::serve(addr),
        "tokio" => tokio_echo::serve(addr),
        "async-std" => async_std_echo::serve(addr),
        "smol" => smol_echo::serve(addr),
        "mio" => mio_echo::serve(addr),
        "work" => threads_work::serve(addr),
        other => return usage(&format!("unknown model {other:?}")),
    };
    exit(model, served)
}

fn exit(model: &str, served: std::io::Result<()>) -> ExitCode {
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("textbook {model}: {err}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "textbook: {problem}\nusage: textbook threads|tokio|async-std|smol|mio|work 127.0.0.1:PORT\n       textbook tokio-tls 127.0.0.1:PORT CERT_OUT.pem\n       textbook tokio-unix PATH"
    );
    ExitCode::from(2)
}
