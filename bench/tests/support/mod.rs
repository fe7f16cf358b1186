//! Test support: in-test echo servers (correct and deliberately broken) and
//! a bounded runner for the `loadgen` binary.

#![allow(dead_code, clippy::unwrap_used)] // test helpers: a failure should panic

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the in-test server treats the byte stream of each connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A correct echo with half-close support.
    None,
    /// Flips one bit of the byte at this stream offset.
    Corrupt(u64),
    /// Leaves out the byte at this stream offset.
    Drop(u64),
    /// Echoes everything, each read this many milliseconds late.
    DelayMs(u64),
}

/// A thread-per-connection echo server on 127.0.0.1:0, stopped on drop.
pub struct TestServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    pub fn start(fault: Fault) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((s, _)) => {
                            s.set_nonblocking(false).unwrap();
                            std::thread::spawn(move || serve(s, fault));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        TestServer {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(mut s: TcpStream, fault: Fault) {
    // Bounded: a client that goes silent for 10 s is dropped.
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_nodelay(true);
    let mut buf = vec![0u8; 16 * 1024];
    let mut off = 0u64;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let range = off..off + n as u64;
        let out: Vec<u8> = match fault {
            Fault::Corrupt(at) if range.contains(&at) => {
                let mut v = buf[..n].to_vec();
                v[(at - off) as usize] ^= 0x01;
                v
            }
            Fault::Drop(at) if range.contains(&at) => {
                let mut v = buf[..n].to_vec();
                v.remove((at - off) as usize);
                v
            }
            _ => buf[..n].to_vec(),
        };
        off += n as u64;
        if let Fault::DelayMs(ms) = fault {
            std::thread::sleep(Duration::from_millis(ms));
        }
        if s.write_all(&out).is_err() {
            return;
        }
    }
    // Half-close: the client's FIN arrived, everything is echoed; close.
    let _ = s.shutdown(Shutdown::Write);
}

/// A temporary directory for output files, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("loadgen-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the loadgen binary with `args`, killing it after `limit`.
pub fn loadgen(args: &[&str], limit: Duration) -> Output {
    loadgen_with_env(args, limit, &[])
}

/// [`loadgen`] with these environment variables set.
pub fn loadgen_with_env(args: &[&str], limit: Duration, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn loadgen");
    let deadline = Instant::now() + limit;
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "loadgen {args:?} did not finish within {limit:?}\nstdout:\n{}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// Reads a JSON file written by `--json`.
pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// Describes an output for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
