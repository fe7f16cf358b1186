//! Building a ring the way io_uring is fast: `DEFER_TASKRUN` + `SINGLE_ISSUER` when the kernel has
//! them, else `COOP_TASKRUN`, else a plain ring; and submitting without losing entries.

use std::io;

use io_uring::{IoUring, squeue};

/// Submission queue entries per ring; the completion queue is [`CQ_FACTOR`] times larger, so that a
/// burst of multishot completions does not overflow it.
pub(crate) const SQ_ENTRIES: u32 = 1024;
/// Completion queue size relative to the submission queue.
const CQ_FACTOR: u32 = 8;

/// Which task-work mode a ring got, for the start-up log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SINGLE_ISSUER` (6.1+): completions are processed only
    /// when this thread waits for them, with no task-work interrupts.
    DeferTaskrun,
    /// `IORING_SETUP_COOP_TASKRUN` (5.19+): no forced interrupts, but task work still runs on any
    /// system call.
    CoopTaskrun,
    /// No task-work flags: every completion may interrupt the thread.
    Plain,
}

impl Mode {
    /// How the start-up log names the mode.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Mode::DeferTaskrun => "DEFER_TASKRUN+SINGLE_ISSUER",
            Mode::CoopTaskrun => "COOP_TASKRUN (fallback: no DEFER_TASKRUN/SINGLE_ISSUER)",
            Mode::Plain => "plain (fallback: no DEFER_TASKRUN, SINGLE_ISSUER or COOP_TASKRUN)",
        }
    }
}

/// Builds a ring for the calling thread (with `SINGLE_ISSUER`, only this thread may submit to it),
/// falling back flag by flag; the error is the plain ring's (io_uring missing or forbidden).
pub(crate) fn build() -> io::Result<(IoUring, Mode)> {
    let cq = SQ_ENTRIES * CQ_FACTOR;
    if let Ok(ring) = IoUring::builder()
        .setup_single_issuer()
        .setup_defer_taskrun()
        .setup_cqsize(cq)
        .build(SQ_ENTRIES)
    {
        return Ok((ring, Mode::DeferTaskrun));
    }
    if let Ok(ring) = IoUring::builder()
        .setup_coop_taskrun()
        .setup_cqsize(cq)
        .build(SQ_ENTRIES)
    {
        return Ok((ring, Mode::CoopTaskrun));
    }
    let ring = IoUring::builder().setup_cqsize(cq).build(SQ_ENTRIES)?;
    Ok((ring, Mode::Plain))
}

/// Queues `entry`, submitting what is queued first when the submission queue is full.
///
/// # Safety
/// Every buffer `entry` points to must stay valid, and unmoved, until its completion arrives (the
/// io_uring crate's contract for `SubmissionQueue::push`).
pub(crate) unsafe fn push(ring: &mut IoUring, entry: &squeue::Entry) -> io::Result<()> {
    for _ in 0..2 {
        // SAFETY: the caller guarantees the entry's buffers outlive the operation.
        if unsafe { ring.submission().push(entry) }.is_ok() {
            return Ok(());
        }
        ring.submit()?;
    }
    Err(io::Error::other(
        "submission queue still full after submitting",
    ))
}
