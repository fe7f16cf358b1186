//! A deterministic, realistic client-to-server chat byte stream for the sans-IO benches.

/// Deterministic pseudo-random numbers (xorshift64*) for building realistic inputs without a
/// dependency; the same seed gives the same input on every run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a non-zero seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }
}

/// A realistic client-to-server chat byte stream of about `target` bytes: mostly `MSG` with texts of
/// 5–200 bytes (some non-ASCII), with `JOIN`, `LEAVE`, `NICK`, `PING`, `WHO`, `ROOMS`; about a third of
/// the lines end in CRLF, the rest in LF. Returns the bytes and the number of lines.
pub fn chat_stream(target: usize, seed: u64) -> (Vec<u8>, usize) {
    const WORDS: &[&str] = &[
        "hello", "the", "build", "is", "green", "again", "did", "you", "see", "latency", "numbers",
        "for", "tokio", "threads", "ok", "lunch?", "café", "naïve", "😀", "merge", "when", "ready",
    ];
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(target + 256);
    let mut lines = 0;
    while out.len() < target {
        let room = format!("room-{}", rng.range(1, 12));
        let line = match rng.range(0, 99) {
            0..=79 => {
                let len = rng.range(5, 200);
                let mut text = String::with_capacity(len + 8);
                while text.len() < len {
                    if !text.is_empty() {
                        text.push(' ');
                    }
                    text.push_str(WORDS[rng.range(0, WORDS.len() - 1)]);
                }
                format!("MSG {room} {text}")
            }
            80..=84 => format!("JOIN {room}"),
            85..=87 => format!("LEAVE {room}"),
            88..=89 => format!("NICK user_{}", rng.range(1, 9999)),
            90..=94 => format!("PING {}", rng.next_u64()),
            95..=97 => format!("WHO {room}"),
            _ => "ROOMS".to_owned(),
        };
        out.extend_from_slice(line.as_bytes());
        if rng.range(0, 2) == 0 {
            out.extend_from_slice(b"\r\n");
        } else {
            out.push(b'\n');
        }
        lines += 1;
    }
    (out, lines)
}
