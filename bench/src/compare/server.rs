//! Starting, pinning and stopping the server processes under test.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::results::comparison::ServerRun;

/// How long a server may take to print its listening line (or, external,
/// to accept a connection).
pub const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a server may take to exit after SIGTERM (its drain timeout is
/// 5 s by default).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(8);

/// A running server process; killed (SIGKILL) on drop if still running.
#[derive(Debug)]
pub struct ServerProcess {
    child: Option<Child>,
    log: PathBuf,
    /// What is known so far.
    pub info: ServerRun,
    /// Its address.
    pub addr: SocketAddr,
}

fn raise_nofile_in_child() {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit on a valid struct; async-signal-safe.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) == 0 {
            r.rlim_cur = r.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &r);
        }
    }
}

fn configure(cmd: &mut Command, cpus: &[usize], log: &Path) -> Result<()> {
    let file = std::fs::File::create(log)
        .map_err(|e| Error::io(format!("creating {}", log.display()), e))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(file));
    let cpus = cpus.to_vec();
    // SAFETY: the closure only calls async-signal-safe functions
    // (sched_setaffinity, getrlimit, setrlimit) and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            raise_nofile_in_child();
            crate::limits::pin_current_thread(&cpus)?;
            Ok(())
        });
    }
    Ok(())
}

fn log_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!(
        "loadgen-compare-{}-{}.log",
        std::process::id(),
        tag.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ))
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}

/// A free loopback address (bind port 0, read it, close it).
pub fn free_addr() -> Result<SocketAddr> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| Error::io("finding a free port", e))?;
    l.local_addr()
        .map_err(|e| Error::io("finding a free port", e))
}

impl ServerProcess {
    /// Starts `serve --impl <imp> --app <app> --addr 127.0.0.1:0` (with `extra` arguments; `--unix
    /// PATH` among them replaces `--addr`) and waits for its listening line.
    pub fn start_serve(
        serve_bin: &Path,
        imp: &str,
        app: &str,
        extra: &[String],
        cpus: &[usize],
    ) -> Result<ServerProcess> {
        let mut args: Vec<String> = ["--impl", imp, "--app", app]
            .iter()
            .map(|s| s.to_string())
            .collect();
        // The point's own `--max-conns` (the ceiling's) in `extra` replaces the default.
        if !extra.iter().any(|a| a == "--max-conns") {
            args.extend(["--max-conns".to_string(), "15000".to_string()]);
        }
        // A unix socket (`--unix PATH` in `extra`) takes the place of the TCP address.
        if !extra.iter().any(|a| a == "--unix") {
            args.extend(["--addr".to_string(), "127.0.0.1:0".to_string()]);
        }
        args.extend(extra.iter().cloned());
        let mut cmd = Command::new(serve_bin);
        cmd.args(&args).env("RUST_LOG", "warn");
        let log = log_path(&format!("{imp}-{app}"));
        configure(&mut cmd, cpus, &log)?;
        let t = Instant::now();
        let mut child = cmd.spawn().map_err(|e| {
            Error::io(
                format!(
                    "starting {} (build it with: cargo build --release -p serve)",
                    serve_bin.display()
                ),
                e,
            )
        })?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::InvalidSettings("server stdout not captured".into()));
        };
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let r = BufReader::new(stdout).read_line(&mut line).map(|_| line);
            let _ = tx.send(r);
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(l)) => l,
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::InvalidSettings(format!(
                    "{imp} {app} server printed no listening line ({other:?}); stderr: {}",
                    tail(&log)
                )));
            }
        };
        // `IP:PORT`, `tls://IP:PORT` or `unix:PATH` (no IP address: the caller knows the path).
        let listen = line.split_whitespace().nth(3).unwrap_or_default();
        let addr: SocketAddr = (if listen.starts_with("unix:") {
            Some(SocketAddr::from(([0, 0, 0, 0], 0)))
        } else {
            listen.trim_start_matches("tls://").parse().ok()
        })
        .ok_or_else(|| {
            let _ = child.kill();
            let _ = child.wait();
            Error::InvalidSettings(format!("unexpected listening line {line:?}"))
        })?;
        let mut command = vec![serve_bin.display().to_string()];
        command.extend(args);
        Ok(ServerProcess {
            info: ServerRun {
                pid: child.id(),
                addr: listen.to_string(),
                command,
                cpus: cpus.to_vec(),
                start_s: t.elapsed().as_secs_f64(),
                ..ServerRun::default()
            },
            child: Some(child),
            log,
            addr,
        })
    }

    /// Starts an external command (`{addr}` replaced by a free loopback
    /// address) through `sh -c 'exec ...'` and waits until it accepts.
    pub fn start_external(name: &str, command: &str, cpus: &[usize]) -> Result<ServerProcess> {
        let addr = free_addr()?;
        let line = command.replace("{addr}", &addr.to_string());
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(format!("exec {line}"));
        let log = log_path(name);
        configure(&mut cmd, cpus, &log)?;
        cmd.stdout(Stdio::null());
        let t = Instant::now();
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::io(format!("starting external {name}: {line}"), e))?;
        loop {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if exited || t.elapsed() > START_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::InvalidSettings(format!(
                    "external {name} ({line}) did not accept on {addr}; stderr: {}",
                    tail(&log)
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(ServerProcess {
            info: ServerRun {
                pid: child.id(),
                addr: addr.to_string(),
                command: vec!["sh".into(), "-c".into(), format!("exec {line}")],
                cpus: cpus.to_vec(),
                start_s: t.elapsed().as_secs_f64(),
                ..ServerRun::default()
            },
            child: Some(child),
            log,
            addr,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.info.pid
    }

    /// Sends SIGTERM, waits up to [`STOP_TIMEOUT`] (SIGKILL after that) and
    /// records how it ended.
    pub fn stop(mut self) -> ServerRun {
        let mut info = self.info.clone();
        if let Some(mut child) = self.child.take() {
            if let Ok(Some(st)) = child.try_wait() {
                info.died_early = true;
                info.exit_code = st.code();
            } else {
                let t = Instant::now();
                // SAFETY: kill(2) on our own child's pid, not yet reaped.
                unsafe {
                    libc::kill(info.pid as libc::pid_t, libc::SIGTERM);
                }
                loop {
                    match child.try_wait() {
                        Ok(Some(st)) => {
                            info.exit_code = st.code();
                            info.exited_in_time = true;
                            break;
                        }
                        Ok(None) if t.elapsed() < STOP_TIMEOUT => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        _ => {
                            let _ = child.kill();
                            let _ = child.wait();
                            break;
                        }
                    }
                }
                info.stop_s = t.elapsed().as_secs_f64();
            }
        }
        info.stderr_tail = tail(&self.log);
        let _ = std::fs::remove_file(&self.log);
        info
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            let _ = std::fs::remove_file(&self.log);
        }
    }
}
