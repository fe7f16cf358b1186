//! Line framing for `chat/1`: bytes in, complete lines (or framing errors) out.
//!
//! The [`Framer`] owns one fixed-size buffer of `max_line + 2 + chunk` bytes, allocated once. The caller
//! either reads socket bytes straight into [`Framer::spare`] and reports them with [`Framer::filled`], or
//! copies bytes in with [`Framer::push`]. It then drains [`Framer::next_frame`] until it returns `None`.
//!
//! Rules (see `docs/PROTOCOL.md`): LF ends a line; one CR right before the LF is dropped; empty lines
//! are skipped; a line of more than `max_line` bytes (terminator excluded) is [`Frame::TooLong`] as soon
//! as the buffered bytes can no longer be such a line, after which the framer yields nothing more; a line
//! that is not UTF-8 is [`Frame::BadUtf8`]. At EOF the unterminated rest is simply dropped with the framer.

/// The default size of the read area beyond the longest line, in bytes.
pub const DEFAULT_CHUNK: usize = 8 * 1024;

/// One framing result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A complete, non-empty, valid UTF-8 line without its terminator.
    Line(&'a str),
    /// A complete line that is not valid UTF-8 (already discarded).
    BadUtf8,
    /// The current line is longer than the limit; the framer is now spent.
    TooLong,
}

/// A [`Frame`] that owns its line: what a reader hands to the broker, which applies it to the
/// [`ChatState`](crate::ChatState) with [`ChatState::input`](crate::ChatState::input). The reader's
/// copy of the line is the only one; the broker borrows it back as a [`Frame`] for free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A complete, non-empty, valid UTF-8 line without its terminator.
    Line(Box<str>),
    /// A complete line that was not valid UTF-8.
    BadUtf8,
    /// A line longer than the limit: the client is closed.
    TooLong,
}

impl Input {
    /// The same input as a borrowed [`Frame`] (no copy).
    pub fn as_frame(&self) -> Frame<'_> {
        match self {
            Input::Line(line) => Frame::Line(line),
            Input::BadUtf8 => Frame::BadUtf8,
            Input::TooLong => Frame::TooLong,
        }
    }
}

impl From<Frame<'_>> for Input {
    fn from(frame: Frame<'_>) -> Self {
        match frame {
            Frame::Line(line) => Input::Line(line.into()),
            Frame::BadUtf8 => Input::BadUtf8,
            Frame::TooLong => Input::TooLong,
        }
    }
}

/// A bounded line framer that works across arbitrary read splits.
#[derive(Debug)]
pub struct Framer {
    buf: Box<[u8]>,
    /// Start of the bytes not yet framed.
    start: usize,
    /// End of the filled bytes.
    end: usize,
    /// Bytes in `start..scanned` are known to contain no LF.
    scanned: usize,
    max_line: usize,
    chunk: usize,
    spent: bool,
}

impl Framer {
    /// A framer for lines of at most `max_line` bytes, with a [`DEFAULT_CHUNK`] read area.
    pub fn new(max_line: usize) -> Self {
        Self::with_chunk(max_line, DEFAULT_CHUNK)
    }

    /// A framer for lines of at most `max_line` bytes whose [`spare`](Self::spare) area is always at
    /// least `chunk` bytes (at least 1) once the pending frames have been drained.
    pub fn with_chunk(max_line: usize, chunk: usize) -> Self {
        let chunk = chunk.max(1);
        Framer {
            buf: vec![0; max_line + 2 + chunk].into_boxed_slice(),
            start: 0,
            end: 0,
            scanned: 0,
            max_line,
            chunk,
            spent: false,
        }
    }

    /// The longest accepted line, in bytes, terminator excluded.
    pub fn max_line(&self) -> usize {
        self.max_line
    }

    /// Whether a [`Frame::TooLong`] has been returned: the connection must be closed.
    pub fn is_spent(&self) -> bool {
        self.spent
    }

    /// Bytes buffered but not yet part of a returned frame.
    pub fn pending(&self) -> usize {
        self.end - self.start
    }

    /// The free area to read socket bytes into; report how many were written with
    /// [`filled`](Self::filled). Drain [`next_frame`](Self::next_frame) first: then the area is at
    /// least `chunk` bytes long (it is empty only while frames are still pending). A spent framer hands
    /// out its whole buffer and discards whatever is read into it, so a caller can keep draining input.
    pub fn spare(&mut self) -> &mut [u8] {
        if self.spent || self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.scanned = 0;
        } else if self.buf.len() - self.end < self.chunk && self.start > 0 {
            // Compact: at most max_line + 1 bytes move, and only once per chunk read.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.scanned -= self.start;
            self.start = 0;
        }
        &mut self.buf[self.end..]
    }

    /// Records that the first `n` bytes of [`spare`](Self::spare) were filled.
    ///
    /// # Panics
    /// If `n` exceeds the length of the last spare area (a caller bug).
    pub fn filled(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len(), "filled past the spare area");
        if !self.spent {
            self.end += n;
        }
    }

    /// Copies as much of `data` as fits and returns how many bytes were taken. Drain
    /// [`next_frame`](Self::next_frame) between calls. A spent framer discards the bytes but reports
    /// them all as taken, so that a caller's loop ends.
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.spent {
            return data.len();
        }
        let spare = self.spare();
        let n = spare.len().min(data.len());
        spare[..n].copy_from_slice(&data[..n]);
        self.filled(n);
        n
    }

    /// The next complete frame, or `None` when more bytes are needed (or the framer is spent).
    pub fn next_frame(&mut self) -> Option<Frame<'_>> {
        loop {
            if self.spent {
                return None;
            }
            let Some(lf) = memchr_lf(&self.buf[self.scanned..self.end]) else {
                self.scanned = self.end;
                return self.check_pending_len();
            };
            let lf = self.scanned + lf;
            let line_start = self.start;
            let mut line_end = lf;
            if line_end > line_start && self.buf[line_end - 1] == b'\r' {
                line_end -= 1;
            }
            self.start = lf + 1;
            self.scanned = self.start;
            if line_end - line_start > self.max_line {
                self.spent = true;
                return Some(Frame::TooLong);
            }
            if line_end == line_start {
                continue;
            }
            return Some(match std::str::from_utf8(&self.buf[line_start..line_end]) {
                Ok(line) => Frame::Line(line),
                Err(_) => Frame::BadUtf8,
            });
        }
    }

    /// With no LF buffered: `TooLong` once the pending bytes can no longer be a valid line.
    fn check_pending_len(&mut self) -> Option<Frame<'static>> {
        let pending = self.end - self.start;
        let too_long = pending > self.max_line + 1
            || (pending == self.max_line + 1 && self.buf[self.end - 1] != b'\r');
        if too_long {
            self.spent = true;
            Some(Frame::TooLong)
        } else {
            None
        }
    }
}

fn memchr_lf(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Eq)]
    enum Owned {
        Line(String),
        BadUtf8,
        TooLong,
    }

    fn drain(f: &mut Framer, out: &mut Vec<Owned>) {
        while let Some(frame) = f.next_frame() {
            out.push(match frame {
                Frame::Line(s) => Owned::Line(s.to_owned()),
                Frame::BadUtf8 => Owned::BadUtf8,
                Frame::TooLong => Owned::TooLong,
            });
        }
    }

    fn frames(max: usize, input: &[u8]) -> Vec<Owned> {
        let mut f = Framer::with_chunk(max, 4);
        let mut out = Vec::new();
        let mut data = input;
        while !data.is_empty() {
            let n = f.push(data);
            data = &data[n..];
            drain(&mut f, &mut out);
        }
        out
    }

    fn line(s: &str) -> Owned {
        Owned::Line(s.to_owned())
    }

    #[test]
    fn lf_and_crlf_terminate() {
        assert_eq!(frames(10, b"a\nb\r\nc"), vec![line("a"), line("b")]);
    }

    #[test]
    fn only_one_cr_is_dropped() {
        assert_eq!(frames(10, b"a\r\r\n"), vec![line("a\r")]);
        assert_eq!(frames(10, b"a\rb\n"), vec![line("a\rb")]);
    }

    #[test]
    fn empty_lines_are_skipped() {
        assert_eq!(frames(10, b"\n\r\n\nx\n\n"), vec![line("x")]);
    }

    #[test]
    fn bad_utf8_is_reported_and_skipped() {
        assert_eq!(
            frames(10, b"\xff\xfe\nok\n"),
            vec![Owned::BadUtf8, line("ok")]
        );
    }

    #[test]
    fn exact_boundary_is_accepted() {
        assert_eq!(frames(5, b"abcde\n"), vec![line("abcde")]);
        assert_eq!(frames(5, b"abcde\r\n"), vec![line("abcde")]);
    }

    #[test]
    fn one_over_is_too_long_without_lf() {
        let mut f = Framer::new(5);
        assert_eq!(f.push(b"abcdef"), 6);
        assert_eq!(f.next_frame(), Some(Frame::TooLong));
        assert!(f.is_spent());
        assert_eq!(f.next_frame(), None);
    }

    #[test]
    fn trailing_cr_at_the_boundary_waits() {
        let mut f = Framer::new(5);
        f.push(b"abcde\r");
        assert_eq!(f.next_frame(), None);
        f.push(b"\n");
        assert_eq!(f.next_frame(), Some(Frame::Line("abcde")));
        let mut f = Framer::new(5);
        f.push(b"abcde\r");
        assert_eq!(f.next_frame(), None);
        f.push(b"x");
        assert_eq!(f.next_frame(), Some(Frame::TooLong));
    }

    #[test]
    fn complete_long_line_is_too_long() {
        assert_eq!(
            frames(3, b"ok\nabcd\nlater\n"),
            vec![line("ok"), Owned::TooLong]
        );
    }

    #[test]
    fn max_line_zero_accepts_only_empty_lines() {
        assert_eq!(frames(0, b"\r\n\n"), vec![]);
        assert_eq!(frames(0, b"a"), vec![Owned::TooLong]);
    }

    #[test]
    fn spare_is_at_least_chunk_after_draining() {
        let mut f = Framer::with_chunk(8, 4);
        for _ in 0..100 {
            let spare = f.spare();
            assert!(spare.len() >= 4);
            spare[..3].copy_from_slice(b"ab\n");
            f.filled(3);
            assert_eq!(f.next_frame(), Some(Frame::Line("ab")));
            assert_eq!(f.next_frame(), None);
        }
        // A partial line survives compaction.
        f.push(b"abcdefg");
        assert_eq!(f.next_frame(), None);
        assert!(f.spare().len() >= 4);
        f.push(b"h\n");
        assert_eq!(f.next_frame(), Some(Frame::Line("abcdefgh")));
    }

    #[test]
    fn buffer_is_bounded() {
        let f = Framer::with_chunk(4096, 8192);
        assert_eq!(f.buf.len(), 4096 + 2 + 8192);
    }

    #[test]
    fn spent_framer_takes_everything() {
        let mut f = Framer::new(1);
        f.push(b"abc");
        assert_eq!(f.next_frame(), Some(Frame::TooLong));
        assert_eq!(f.push(b"more\n"), 5);
        assert_eq!(f.next_frame(), None);
        // Still readable into (to drain the socket), but nothing comes out.
        let spare = f.spare();
        assert!(spare.len() > 1);
        spare[..2].copy_from_slice(b"x\n");
        f.filled(2);
        assert_eq!(f.next_frame(), None);
        assert_eq!(f.pending(), 0);
    }
}
