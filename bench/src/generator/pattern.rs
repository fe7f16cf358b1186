//! The byte pattern each connection sends, and its verification.
//!
//! Every connection has its own 64-bit seed. The byte at stream offset `o`
//! is `(o as u8) + key(seed, o / 256)`, where `key` is a hash whose low bit is
//! cleared. Two consecutive bytes therefore always differ (inside a 256-byte
//! block they differ by one, across a block boundary the even key makes an
//! equality impossible), so a single dropped or duplicated byte is caught at
//! the very next byte; a corrupted byte is caught where it is; and because
//! the key changes every 256 bytes per connection, replayed or cross-wired
//! data is caught too. The stream offset divided by the message size is the
//! message's sequence number, so the pattern is a per-connection sequence.
//!
//! The pattern is a pure function of `(seed, offset)`: nothing has to be kept
//! per message to verify the echo, and any partially written range can be
//! regenerated, so the hot path allocates nothing.

/// Bytes per pattern block (one hash per block).
const BLOCK: u64 = 256;

/// SplitMix64 finaliser: a cheap, well-mixed 64-bit hash.
#[inline]
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The even per-block key.
#[inline]
fn block_key(seed: u64, block: u64) -> u8 {
    (mix(seed ^ mix(block)) as u8) & 0xFE
}

/// The seed of connection number `conn` (global index) of a run.
pub fn conn_seed(run_seed: u64, conn: usize) -> u64 {
    mix(run_seed ^ (conn as u64).wrapping_mul(0xA24B_AED4_963E_E407))
}

/// The expected byte at stream offset `offset` of the connection with `seed`.
#[inline]
pub fn byte_at(seed: u64, offset: u64) -> u8 {
    (offset as u8).wrapping_add(block_key(seed, offset / BLOCK))
}

/// Fills `buf` with the pattern bytes starting at stream offset `offset`.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut off = offset;
    let mut rest = buf;
    while !rest.is_empty() {
        let in_block = (BLOCK - off % BLOCK) as usize;
        let n = in_block.min(rest.len());
        let key = block_key(seed, off / BLOCK);
        let (head, tail) = rest.split_at_mut(n);
        let start = off as u8;
        for (i, b) in head.iter_mut().enumerate() {
            *b = start.wrapping_add(i as u8).wrapping_add(key);
        }
        off += n as u64;
        rest = tail;
    }
}

/// A byte of the echo that differs from what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mismatch {
    /// Stream offset of the first wrong byte.
    pub offset: u64,
    /// The byte that was sent at that offset.
    pub expected: u8,
    /// The byte that came back.
    pub actual: u8,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "byte {} of the stream: sent {:#04x}, echoed {:#04x}",
            self.offset, self.expected, self.actual
        )
    }
}

/// Checks that `data` equals the pattern at stream offset `offset`.
pub fn check(seed: u64, offset: u64, data: &[u8]) -> Result<(), Mismatch> {
    let mut off = offset;
    let mut rest = data;
    while !rest.is_empty() {
        let in_block = (BLOCK - off % BLOCK) as usize;
        let n = in_block.min(rest.len());
        let key = block_key(seed, off / BLOCK);
        let start = (off as u8).wrapping_add(key);
        let (head, tail) = rest.split_at(n);
        if let Some(i) = head
            .iter()
            .enumerate()
            .position(|(i, &b)| b != start.wrapping_add(i as u8))
        {
            return Err(Mismatch {
                offset: off + i as u64,
                expected: start.wrapping_add(i as u8),
                actual: head[i],
            });
        }
        off += n as u64;
        rest = tail;
    }
    Ok(())
}

/// Verifies an echoed stream fed in arbitrary pieces (short reads).
#[derive(Debug, Clone)]
pub struct StreamVerifier {
    seed: u64,
    offset: u64,
}

impl StreamVerifier {
    /// A verifier at the start of the stream of the connection with `seed`.
    pub fn new(seed: u64) -> Self {
        StreamVerifier { seed, offset: 0 }
    }

    /// Bytes verified so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Verifies the next piece of the echo; on success the offset advances.
    pub fn feed(&mut self, data: &[u8]) -> Result<(), Mismatch> {
        check(self.seed, self.offset, data)?;
        self.offset += data.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0; len];
        fill(seed, 0, &mut v);
        v
    }

    #[test]
    fn fill_matches_byte_at_and_is_offset_independent() {
        let seed = conn_seed(7, 3);
        let whole = stream(seed, 2000);
        for (i, &b) in whole.iter().enumerate() {
            assert_eq!(b, byte_at(seed, i as u64));
        }
        let mut part = vec![0; 700];
        fill(seed, 1000, &mut part);
        assert_eq!(&part[..], &whole[1000..1700]);
    }

    #[test]
    fn consecutive_bytes_always_differ() {
        for c in 0..50 {
            let s = stream(conn_seed(1, c), 5000);
            assert!(s.windows(2).all(|w| w[0] != w[1]), "conn {c}");
        }
    }

    #[test]
    fn arbitrary_short_reads_verify() {
        let seed = conn_seed(42, 9);
        let s = stream(seed, 10_000);
        // Deterministic pseudo-random piece sizes, including 1-byte reads.
        let mut v = StreamVerifier::new(seed);
        let mut pos = 0;
        let mut x = 12345u64;
        while pos < s.len() {
            x = mix(x);
            let n = ((x % 700) as usize + 1).min(s.len() - pos);
            v.feed(&s[pos..pos + n]).expect("valid piece");
            pos += n;
        }
        assert_eq!(v.offset(), s.len() as u64);
    }

    #[test]
    fn detects_a_dropped_byte_anywhere() {
        let seed = conn_seed(5, 0);
        let s = stream(seed, 1200);
        for drop_at in [0usize, 1, 7, 255, 256, 511, 600, 1198] {
            let mut bad = s.clone();
            bad.remove(drop_at);
            let mut v = StreamVerifier::new(seed);
            let err = bad
                .chunks(13)
                .try_for_each(|c| v.feed(c))
                .expect_err("dropped byte must be detected");
            assert_eq!(err.offset, drop_at as u64, "dropped at {drop_at}");
        }
    }

    #[test]
    fn detects_a_corrupted_byte() {
        let seed = conn_seed(5, 1);
        let mut s = stream(seed, 300);
        s[123] ^= 0x20;
        let err = check(seed, 0, &s).expect_err("corruption must be detected");
        assert_eq!(err.offset, 123);
        assert_eq!(err.actual, err.expected ^ 0x20);
    }

    #[test]
    fn detects_another_connections_data() {
        let a = stream(conn_seed(5, 1), 256);
        assert!(check(conn_seed(5, 2), 0, &a).is_err());
    }
}
