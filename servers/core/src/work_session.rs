//! One `work/1` connection, sans-IO: bytes in, the next thing to do out. Every variant drives the same
//! [`WorkSession`], so framing, parsing, ordering, error replies and the close rules exist once; a
//! variant only reads, writes and executes (inline or on its pool).
//!
//! The driver loop: call [`WorkSession::next_step`] and do what it says —
//! - [`Step::Write`]: write [`output`](WorkSession::output) (all or part), report it with
//!   [`written`](WorkSession::written);
//! - [`Step::Execute`]: run the job (inline, or hand it to the pool), then report the reply with
//!   [`finish`](WorkSession::finish) (or refuse it there: `busy`, `shutting-down`).
//!   Until then the connection neither reads nor steps: its requests run one at a time, in order;
//! - [`Step::Read`]: read into [`spare`](WorkSession::spare), report with
//!   [`filled`](WorkSession::filled) (0 at EOF);
//! - [`Step::Close`]: everything was written; half-close and close.
//!
//! Bounds: a connection reads only when every complete request it has buffered is answered (replies
//! at least in the output), so its unanswered input is at most one framer buffer (`max_line` + 2 +
//! [`DEFAULT_CHUNK`](crate::framing::DEFAULT_CHUNK) bytes) and the rest waits in the kernel (TCP
//! backpressure). The output is written out once it reaches [`OUTPUT_HIGH_WATER`] bytes, before any
//! job and before any read, so it never holds more than that plus one reply. Nothing allocates per
//! request: the framer's and the output's buffers are reused.

use crate::code::ErrorCode;
use crate::framing::{Frame, Framer};
use crate::work::{self, Done, Job, Request};

/// The output is written out once it holds this many bytes, before more input is processed.
pub const OUTPUT_HIGH_WATER: usize = 8 * 1024;

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the output (at least part of it) and report it with [`WorkSession::written`].
    Write,
    /// Execute this job, then report it with [`WorkSession::finish`].
    Execute(Job),
    /// Read more input into [`WorkSession::spare`] and report it with [`WorkSession::filled`].
    Read,
    /// The output is written and the connection ends: half-close, then close.
    Close,
}

/// One connection's protocol state: its framer, its pending output, and where it is in its requests.
#[derive(Debug)]
pub struct WorkSession {
    framer: Framer,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    /// A job parsed but not yet handed out (its earlier replies are written first).
    next_job: Option<Job>,
    /// A job handed out and not yet reported.
    executing: bool,
    /// The client's EOF was read.
    eof: bool,
    /// No more requests are processed: the output ends with the last line (or EOF was read).
    closing: bool,
}

impl WorkSession {
    /// A session for lines of at most `max_line` bytes.
    pub fn new(max_line: usize) -> Self {
        WorkSession {
            framer: Framer::new(max_line),
            output: Vec::with_capacity(1024),
            written: 0,
            next_job: None,
            executing: false,
            eof: false,
            closing: false,
        }
    }

    /// What to do next. `shutting_down`: the server is stopping; the first call that sees it ends the
    /// session with `ERR shutting-down` (after the replies already in the output), and requests not yet
    /// started are not answered otherwise. A request counts as started once it is the next to execute
    /// and the replies before it are being written (so a client that has read the reply before a
    /// request knows whether that request runs: it does).
    ///
    /// # Panics
    /// While a job handed out by [`Step::Execute`] has not been reported (a driver bug).
    pub fn next_step(&mut self, shutting_down: bool) -> Step {
        assert!(!self.executing, "next_step while a job is executing");
        if shutting_down && !self.closing && self.next_job.is_none() {
            self.end_with(ErrorCode::ShuttingDown);
        }
        if self.pending_output() >= OUTPUT_HIGH_WATER {
            return Step::Write;
        }
        if !self.closing && self.next_job.is_none() {
            self.next_job = self.process_frames();
        }
        if self.pending_output() > 0 {
            return Step::Write;
        }
        if let Some(job) = self.next_job.take() {
            self.executing = true;
            return Step::Execute(job);
        }
        if self.closing || self.eof {
            Step::Close
        } else {
            Step::Read
        }
    }

    /// Answers complete lines until a job (returned) or until more input is needed.
    fn process_frames(&mut self) -> Option<Job> {
        while self.pending_output() < OUTPUT_HIGH_WATER {
            let frame = self.framer.next_frame()?;
            let request = match frame {
                Frame::Line(line) => work::parse(line),
                Frame::BadUtf8 => Err(ErrorCode::BadUtf8),
                Frame::TooLong => {
                    self.end_with(ErrorCode::LineTooLong);
                    return None;
                }
            };
            match request {
                Ok(Request::Job(job)) => return Some(job),
                Ok(Request::Ping(token)) => work::write_pong(token, &mut self.output),
                Err(code) => self.output.extend_from_slice(code.line().as_bytes()),
            }
        }
        None
    }

    fn end_with(&mut self, code: ErrorCode) {
        self.output.extend_from_slice(code.line().as_bytes());
        self.closing = true;
        self.next_job = None;
    }

    fn pending_output(&self) -> usize {
        self.output.len() - self.written
    }

    /// The bytes to write for [`Step::Write`].
    pub fn output(&self) -> &[u8] {
        &self.output[self.written..]
    }

    /// Records that the first `n` bytes of [`output`](Self::output) were written.
    pub fn written(&mut self, n: usize) {
        self.written = (self.written + n).min(self.output.len());
        if self.written == self.output.len() {
            self.output.clear();
            self.written = 0;
        }
    }

    /// Reports the job handed out by [`Step::Execute`]: executed (`Ok`, its reply joins the output), or
    /// refused without running: `busy` (the pool and its queue are full; the connection goes on) or
    /// `shutting-down` (the server is stopping; the session ends with it).
    pub fn finish(&mut self, outcome: Result<Done, ErrorCode>) {
        self.executing = false;
        match outcome {
            Ok(done) => done.write_reply(&mut self.output),
            Err(ErrorCode::ShuttingDown) => self.end_with(ErrorCode::ShuttingDown),
            Err(code) => self.output.extend_from_slice(code.line().as_bytes()),
        }
    }

    /// Where to read the socket's next bytes for [`Step::Read`].
    pub fn spare(&mut self) -> &mut [u8] {
        self.framer.spare()
    }

    /// Copies up to `data.len()` read bytes in (for drivers that read into buffers of their own);
    /// returns how many were taken. At [`Step::Read`] it takes at least one.
    pub fn push(&mut self, data: &[u8]) -> usize {
        self.framer.push(data)
    }

    /// Records that `n` bytes were read into [`spare`](Self::spare); 0 is the client's EOF: the
    /// complete lines already read are still answered, an unterminated last line is dropped.
    pub fn filled(&mut self, n: usize) {
        if n == 0 {
            self.eof = true;
        } else {
            self.framer.filled(n);
        }
    }

    /// Records the client's EOF (for drivers that [`push`](Self::push)).
    pub fn eof(&mut self) {
        self.eof = true;
    }

    /// Whether a job handed out is still unreported.
    pub fn is_executing(&self) -> bool {
        self.executing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a session over `input` (fed in `chunk`-byte pieces), executing jobs inline; returns the
    /// output and whether it closed.
    fn drive(max_line: usize, input: &[u8], chunk: usize, shutdown_after: Option<usize>) -> String {
        let mut session = WorkSession::new(max_line);
        let mut out = Vec::new();
        let mut fed = 0;
        let mut jobs = 0;
        loop {
            let shutting = shutdown_after.is_some_and(|after| jobs >= after);
            match session.next_step(shutting) {
                Step::Write => {
                    let n = session.output().len().min(3);
                    out.extend_from_slice(&session.output()[..n]);
                    session.written(n);
                }
                Step::Execute(job) => {
                    jobs += 1;
                    session.finish(Ok(job.run()));
                }
                Step::Read => {
                    let end = (fed + chunk).min(input.len());
                    let n = session.push(&input[fed..end]);
                    fed += n;
                    if n == 0 {
                        session.filled(0);
                    }
                }
                Step::Close => break,
            }
        }
        String::from_utf8(out).expect("utf8 output")
    }

    #[test]
    fn replies_in_order_across_splits() {
        let input = b"PING a\nFIB 10\r\nbogus\n\nSLEEP 0\nFIB 99\nPING\nFIB 1";
        for chunk in [1, 2, 7, 100] {
            assert_eq!(
                drive(64, input, chunk, None),
                "PONG a\nFIB 10 55\nERR unknown-command\nSLEPT 0\nERR bad-args\nPONG\n",
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn bad_utf8_keeps_and_too_long_closes() {
        assert_eq!(
            drive(8, b"\xff\nPING\n123456789\nPING\n", 4, None),
            "ERR bad-utf8\nPONG\nERR line-too-long\n"
        );
    }

    #[test]
    fn shutdown_ends_with_shutting_down() {
        assert_eq!(
            drive(64, b"FIB 1\nFIB 2\nFIB 3\n", 100, Some(1)),
            "FIB 1 1\nERR shutting-down\n"
        );
        assert_eq!(drive(64, b"", 1, Some(0)), "ERR shutting-down\n");
    }

    #[test]
    fn a_job_behind_replies_being_written_still_runs_at_shutdown() {
        let mut session = WorkSession::new(64);
        assert_eq!(session.next_step(false), Step::Read);
        session.push(b"PING\nSLEEP 0\nFIB 1\n");
        assert_eq!(session.next_step(false), Step::Write);
        session.written(5);
        assert_eq!(session.next_step(true), Step::Execute(Job::Sleep(0)));
        session.finish(Ok(Job::Sleep(0).run()));
        assert_eq!(session.next_step(true), Step::Write);
        assert_eq!(session.output(), b"SLEPT 0\nERR shutting-down\n");
    }

    #[test]
    fn earlier_replies_are_written_before_a_job() {
        let mut session = WorkSession::new(64);
        assert_eq!(session.next_step(false), Step::Read);
        session.push(b"PING\nFIB 3\n");
        assert_eq!(session.next_step(false), Step::Write);
        assert_eq!(session.output(), b"PONG\n");
        session.written(5);
        assert_eq!(session.next_step(false), Step::Execute(Job::Fib(3)));
        session.finish(Err(ErrorCode::Busy));
        assert_eq!(session.next_step(false), Step::Write);
        assert_eq!(session.output(), b"ERR busy\n");
        session.written(9);
        assert_eq!(session.next_step(false), Step::Read);
        session.push(b"SLEEP 0\n");
        assert_eq!(session.next_step(false), Step::Execute(Job::Sleep(0)));
        session.finish(Err(ErrorCode::ShuttingDown));
        assert_eq!(session.next_step(false), Step::Write);
        session.written(100);
        assert_eq!(session.next_step(true), Step::Close);
    }

    #[test]
    fn output_is_bounded_and_input_waits() {
        let mut session = WorkSession::new(4096);
        let pings = b"PING\n".repeat(4000);
        let mut taken = 0;
        while taken < pings.len() {
            match session.next_step(false) {
                Step::Read => taken += session.push(&pings[taken..]),
                Step::Write => {
                    assert!(session.output().len() < OUTPUT_HIGH_WATER + 4096 + 8);
                    let n = session.output().len();
                    session.written(n);
                }
                step => panic!("unexpected {step:?}"),
            }
        }
    }
}
