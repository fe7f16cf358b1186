//! Process-level harness: runs the `serve` binary as a child process (for signals, fd limits and
//! /proc figures) and kills it when dropped.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use host_probe::Process;

use crate::wait::{KillOnDrop, wait_child};

/// How long a spawned server may take to print its `listening` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
/// How long building a binary from inside a test may take (usually a no-op: `cargo test` built it).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// The `serve` binary of this workspace, built (once per test process) with the same profile as the
/// running tests. `SERVE_BIN` overrides the path.
pub fn serve_binary() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_binary("serve", Some("SERVE_BIN")).map_err(|err| format!("{err:#}")))
        .clone()
        .map_err(|err| anyhow!(err))
}

/// The `loadgen` binary of this workspace, built (once per test process) with the same profile as
/// the running tests. `LOADGEN_BIN` overrides the path.
pub fn loadgen_binary() -> Result<PathBuf> {
    static BUILT: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            build_binary("loadgen", Some("LOADGEN_BIN")).map_err(|err| format!("{err:#}"))
        })
        .clone()
        .map_err(|err| anyhow!(err))
}

/// Builds binary `name` of the workspace package of the same name with the running test's profile
/// (unless the environment variable `override_var`, if given, names a binary to use instead) and
/// returns its path, `target/<profile>/<name>`.
pub fn build_binary(name: &str, override_var: Option<&str>) -> Result<PathBuf> {
    if let Some(path) = override_var.and_then(std::env::var_os) {
        return Ok(PathBuf::from(path));
    }
    // target/<profile>/deps/<test-binary> -> target/<profile>/<name>
    let exe = std::env::current_exe().context("cannot locate the test binary")?;
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .ok_or_else(|| anyhow!("unexpected test binary path {}", exe.display()))?;
    let cargo = option_env!("CARGO").unwrap_or("cargo");
    let mut build = Command::new(cargo);
    build.args(["build", "--quiet", "-p", name, "--bin", name]);
    if !cfg!(debug_assertions) {
        build.arg("--release");
    }
    let child = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .spawn()
        .with_context(|| format!("cannot run cargo to build the {name} binary"))?;
    let mut build = KillOnDrop(child);
    let status = wait_child(&mut build.0, BUILD_TIMEOUT)?
        .ok_or_else(|| anyhow!("building the {name} binary took more than {BUILD_TIMEOUT:?}"))?;
    if !status.success() {
        bail!("building the {name} binary failed: {status}");
    }
    let path = profile_dir.join(name);
    if !path.exists() {
        bail!("built {name} but {} does not exist", path.display());
    }
    Ok(path)
}

/// A `serve` child process. Killed (SIGKILL) and reaped when dropped, if still running.
#[derive(Debug)]
pub struct ServeProcess {
    child: Child,
    addr: SocketAddr,
    listening_line: String,
    stderr: Arc<Mutex<Vec<u8>>>,
    stdout_after_listening: Arc<Mutex<Vec<u8>>>,
    stdout_closed: Arc<AtomicBool>,
}

/// How to start a `serve` child process.
#[derive(Debug, Clone)]
pub struct ServeCommand {
    /// `--impl`.
    pub imp: String,
    /// `--app`.
    pub app: String,
    /// Further arguments (e.g. `--max-conns 8`).
    pub args: Vec<String>,
    /// Soft and hard RLIMIT_NOFILE for the child, if set.
    pub nofile_limit: Option<u64>,
    /// `--addr`; `None` leaves it to the default.
    pub addr: Option<String>,
}

impl ServeCommand {
    /// `serve --impl imp --app app --addr 127.0.0.1:0`.
    pub fn new(imp: impl std::fmt::Display, app: &str) -> ServeCommand {
        ServeCommand {
            imp: imp.to_string(),
            app: app.to_owned(),
            args: Vec::new(),
            nofile_limit: None,
            addr: Some("127.0.0.1:0".to_owned()),
        }
    }

    /// Starts the child without `--addr`, on the default bind address.
    pub fn default_addr(mut self) -> ServeCommand {
        self.addr = None;
        self
    }

    /// Adds command-line arguments.
    pub fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ServeCommand {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Starts the child with RLIMIT_NOFILE set to `limit`.
    pub fn nofile_limit(mut self, limit: u64) -> ServeCommand {
        self.nofile_limit = Some(limit);
        self
    }

    /// The command line, without starting anything.
    fn command(&self) -> Result<Command> {
        let mut command = Command::new(serve_binary()?);
        command.args(["--impl", &self.imp, "--app", &self.app]);
        if let Some(addr) = &self.addr {
            command.args(["--addr", addr]);
        }
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        inherit_only_stdio(&mut command);
        if let Some(limit) = self.nofile_limit {
            set_nofile_limit_on_exec(&mut command, limit);
        }
        Ok(command)
    }

    /// Runs the server expecting it to exit by itself (e.g. refusing its arguments) within `limit`;
    /// returns its exit status, stdout and stderr. Killed if it is still running at `limit`.
    pub fn run_to_exit(&self, limit: Duration) -> Result<(ExitStatus, String, String)> {
        let mut child = KillOnDrop(self.command()?.spawn().context("cannot spawn serve")?);
        let stdout = child
            .0
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let stderr = child
            .0
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        let (out, err) = (
            Arc::new(Mutex::new(Vec::new())),
            Arc::new(Mutex::new(Vec::new())),
        );
        let collectors = [
            spawn_collector(stdout, Arc::clone(&out)),
            spawn_collector(stderr, Arc::clone(&err)),
        ];
        let status = wait_child(&mut child.0, limit)?
            .ok_or_else(|| anyhow!("serve still running after {limit:?}"))?;
        for collector in collectors {
            // The pipes close with the process: bounded.
            let _ = collector.join();
        }
        let text = |all: &Arc<Mutex<Vec<u8>>>| {
            all.lock()
                .map(|all| String::from_utf8_lossy(&all).into_owned())
                .unwrap_or_default()
        };
        Ok((status, text(&out), text(&err)))
    }

    /// Spawns the server and waits for its `listening` line.
    pub fn spawn(&self) -> Result<ServeProcess> {
        let mut child = self.command()?.spawn().context("cannot spawn serve")?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?;
        let stderr = child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?;
        let captured = Arc::new(Mutex::new(Vec::new()));
        spawn_collector(stderr, Arc::clone(&captured));
        let after_listening = Arc::new(Mutex::new(Vec::new()));
        let stdout_closed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        {
            let after_listening = Arc::clone(&after_listening);
            let stdout_closed = Arc::clone(&stdout_closed);
            std::thread::spawn(move || {
                let mut stdout = BufReader::new(stdout);
                let mut line = String::new();
                let _ = tx.send(stdout.read_line(&mut line).map(|_| line));
                // Keep reading, so that a misbehaving server's extra stdout is kept, not blocked on.
                let rest = stdout.buffer().to_vec();
                if let Ok(mut all) = after_listening.lock() {
                    all.extend_from_slice(&rest);
                }
                let _ = spawn_collector(stdout.into_inner(), after_listening).join();
                stdout_closed.store(true, Ordering::Release);
            });
        }
        let mut process = ServeProcess {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            listening_line: String::new(),
            stderr: captured,
            stdout_after_listening: after_listening,
            stdout_closed,
        };
        let line = rx
            .recv_timeout(STARTUP_TIMEOUT)
            .map_err(|_| anyhow!("no listening line within {STARTUP_TIMEOUT:?}"))?
            .context("cannot read serve's stdout")?;
        let line = line.trim_end().to_owned();
        let expected = format!("listening {} {} ", self.imp, self.app);
        if !line.starts_with(&expected) {
            // Give the stderr collector a moment to catch the reason (bounded).
            let _ = process.wait_timeout(Duration::from_millis(500));
        }
        let addr = line.strip_prefix(&expected).ok_or_else(|| {
            anyhow!(
                "bad listening line {line:?}; stderr: {}",
                process.stderr_text()
            )
        })?;
        // TLS: the IP address and port after the scheme. A unix socket has none: `addr` stays the
        // placeholder, and the caller knows the path it passed.
        if !addr.starts_with("unix:") {
            let addr = addr.strip_prefix("tls://").unwrap_or(addr);
            process.addr = addr
                .parse()
                .with_context(|| format!("bad address in {line:?}"))?;
        }
        process.listening_line = line;
        Ok(process)
    }
}

/// Marks every descriptor above stderr close-on-exec in the child, so that it starts with exactly
/// stdin, stdout and stderr. Without this it inherits whatever the test process holds without
/// `CLOEXEC` (e.g. cargo's jobserver pipe), and its fd count no longer says how close it is to its
/// RLIMIT_NOFILE.
#[allow(unsafe_code)]
fn inherit_only_stdio(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: close_range is a plain system call; the closure touches no memory shared with the parent.
    unsafe {
        command.pre_exec(|| {
            let flags = libc::c_long::from(libc::CLOSE_RANGE_CLOEXEC);
            if libc::syscall(libc::SYS_close_range, 3, libc::c_uint::MAX, flags) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[allow(unsafe_code)]
fn set_nofile_limit_on_exec(command: &mut Command, limit: u64) {
    use std::os::unix::process::CommandExt;
    let rlim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: setrlimit is async-signal-safe and the closure touches no memory shared with the parent.
    unsafe {
        command.pre_exec(move || {
            if libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Copies everything `from` yields into `into` on a thread, until EOF or an error.
fn spawn_collector(
    mut from: impl Read + Send + 'static,
    into: Arc<Mutex<Vec<u8>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut all) = into.lock() {
                all.extend_from_slice(&buf[..n]);
            }
        }
    })
}

impl ServeProcess {
    /// The address from the `listening` line.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The `listening` line, without its newline.
    pub fn listening_line(&self) -> &str {
        &self.listening_line
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the child.
    pub fn signal(&self, signal: i32) -> Result<()> {
        let pid = libc::pid_t::try_from(self.pid()).context("pid out of range")?;
        // SAFETY: kill has no memory-safety preconditions.
        #[allow(unsafe_code)]
        let rc = unsafe { libc::kill(pid, signal) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error()).context("kill failed");
        }
        Ok(())
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<Option<ExitStatus>> {
        wait_child(&mut self.child, timeout)
    }

    /// Whether the child's stdout has closed (it exited), so that
    /// [`stdout_after_listening`](Self::stdout_after_listening) is complete.
    pub fn stdout_closed(&self) -> bool {
        self.stdout_closed.load(Ordering::Acquire)
    }

    /// Everything the child wrote to stdout after its `listening` line, so far.
    pub fn stdout_after_listening(&self) -> String {
        self.stdout_after_listening
            .lock()
            .map(|all| String::from_utf8_lossy(&all).into_owned())
            .unwrap_or_default()
    }

    /// Everything the child wrote to stderr so far.
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .map(|all| String::from_utf8_lossy(&all).into_owned())
            .unwrap_or_default()
    }

    /// The child's figures in `/proc` (CPU time, fds, threads, RSS), read through `host-probe`.
    pub fn probe(&self) -> Process {
        Process::new(self.pid())
    }

    /// The child's CPU time so far (user + system, all threads).
    pub fn cpu_time(&self) -> Result<Duration> {
        Ok(self.probe().cpu_time()?)
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
