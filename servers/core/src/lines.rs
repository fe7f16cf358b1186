//! Line framing over borrowed input: frames come straight out of the caller's read buffer, and only an
//! unterminated tail is kept.
//!
//! [`Framer`](crate::Framer) owns a read area per connection. [`Lines`] owns nothing while no line is
//! split: the caller reads into a buffer it shares between connections (a worker's, an event loop's, an
//! io_uring provided buffer) and drains [`Lines::next_frame`], which borrows complete lines from that
//! buffer. Only the bytes of a line that a read left unterminated are copied into a buffer of the
//! connection's own, which is freed again once the line is complete. So an idle connection holds a few
//! words, not a read buffer. The rules are [`Framer`](crate::Framer)'s exactly (`docs/PROTOCOL.md`).

use crate::Frame;

/// A bounded line framer over borrowed input that keeps only a split line's bytes between reads.
#[derive(Debug)]
pub struct Lines {
    max_line: usize,
    /// The unterminated start of the next line (never contains LF); empty and unallocated otherwise.
    tail: Vec<u8>,
    /// A split line, completed, whose frame was handed out last; freed at the next call.
    assembled: Vec<u8>,
    spent: bool,
}

impl Lines {
    /// A framer for lines of at most `max_line` bytes (terminator excluded).
    pub fn new(max_line: usize) -> Self {
        Lines {
            max_line,
            tail: Vec::new(),
            assembled: Vec::new(),
            spent: false,
        }
    }

    /// Whether a [`Frame::TooLong`] has been returned: the connection must be closed.
    pub fn is_spent(&self) -> bool {
        self.spent
    }

    /// Bytes of an unterminated line held between reads.
    pub fn pending(&self) -> usize {
        self.tail.len()
    }

    /// Bytes of memory this framer holds (its split-line buffers' capacity): 0 unless a line is split.
    pub fn held_bytes(&self) -> usize {
        self.tail.capacity() + self.assembled.capacity()
    }

    /// The next frame taken from the front of `input` (which is advanced past it), or `None` once
    /// `input` is used up: its unterminated rest is then kept for the next call. A spent framer discards
    /// its input.
    pub fn next_frame<'s, 'd: 's>(&'s mut self, input: &mut &'d [u8]) -> Option<Frame<'s>> {
        if self.assembled.capacity() > 0 {
            self.assembled = Vec::new();
        }
        if self.spent {
            *input = &[];
            return None;
        }
        if !self.tail.is_empty() {
            let Some(lf) = memchr_lf(input) else {
                self.tail.extend_from_slice(input);
                *input = &[];
                return self.check_tail();
            };
            self.tail.extend_from_slice(&input[..lf]);
            *input = &input[lf + 1..];
            self.assembled = std::mem::take(&mut self.tail);
            let line = strip_cr(&self.assembled);
            if !line.is_empty() {
                return Some(self.classify_assembled());
            }
        }
        loop {
            let Some(lf) = memchr_lf(input) else {
                if !input.is_empty() {
                    self.tail.extend_from_slice(input);
                    *input = &[];
                }
                return self.check_tail();
            };
            let line = strip_cr(&input[..lf]);
            *input = &input[lf + 1..];
            if line.len() > self.max_line {
                self.spent = true;
                return Some(Frame::TooLong);
            }
            if !line.is_empty() {
                return Some(classify(line));
            }
        }
    }

    fn classify_assembled(&mut self) -> Frame<'_> {
        if strip_cr(&self.assembled).len() > self.max_line {
            self.spent = true;
            self.assembled = Vec::new();
            return Frame::TooLong;
        }
        classify(strip_cr(&self.assembled))
    }

    /// `TooLong` once the held bytes can no longer be a valid line (the framer's rule).
    fn check_tail(&mut self) -> Option<Frame<'static>> {
        let pending = self.tail.len();
        let too_long = pending > self.max_line + 1
            || (pending == self.max_line + 1 && self.tail.last() != Some(&b'\r'));
        if too_long {
            self.spent = true;
            self.tail = Vec::new();
            Some(Frame::TooLong)
        } else {
            None
        }
    }
}

fn strip_cr(line: &[u8]) -> &[u8] {
    match line {
        [head @ .., b'\r'] => head,
        line => line,
    }
}

fn classify(line: &[u8]) -> Frame<'_> {
    match std::str::from_utf8(line) {
        Ok(line) => Frame::Line(line),
        Err(_) => Frame::BadUtf8,
    }
}

fn memchr_lf(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(max: usize, pieces: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::new(max);
        let mut out = Vec::new();
        for piece in pieces {
            let mut input = *piece;
            while let Some(frame) = lines.next_frame(&mut input) {
                out.push(format!("{frame:?}"));
            }
            assert!(input.is_empty());
        }
        out
    }

    #[test]
    fn whole_lines_hold_nothing() {
        let mut lines = Lines::new(10);
        let mut input: &[u8] = b"a\nb\r\n";
        assert_eq!(lines.next_frame(&mut input), Some(Frame::Line("a")));
        assert_eq!(lines.next_frame(&mut input), Some(Frame::Line("b")));
        assert_eq!(lines.next_frame(&mut input), None);
        assert_eq!(lines.held_bytes(), 0);
    }

    #[test]
    fn a_split_line_is_held_then_freed() {
        let mut lines = Lines::new(10);
        let mut input: &[u8] = b"ab";
        assert_eq!(lines.next_frame(&mut input), None);
        assert_eq!(lines.pending(), 2);
        let mut input: &[u8] = b"c\r\nd\n";
        assert_eq!(lines.next_frame(&mut input), Some(Frame::Line("abc")));
        assert_eq!(lines.next_frame(&mut input), Some(Frame::Line("d")));
        assert_eq!(lines.next_frame(&mut input), None);
        assert_eq!(lines.held_bytes(), 0);
    }

    #[test]
    fn cr_split_from_its_lf_and_empty_lines() {
        assert_eq!(
            frames(10, &[b"x\r", b"\n\r", b"\n", b"\ny\n"]),
            ["Line(\"x\")", "Line(\"y\")"]
        );
    }

    #[test]
    fn too_long_across_reads_spends_the_framer() {
        assert_eq!(frames(3, &[b"ab", b"cd", b"e\nok\n"]), ["TooLong"]);
        assert_eq!(
            frames(3, &[b"abc\r", b"\nok\n"]),
            ["Line(\"abc\")", "Line(\"ok\")"]
        );
        assert_eq!(frames(3, &[b"ab", b"cd\n"]), ["TooLong"]);
    }
}
