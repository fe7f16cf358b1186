//! The provided buffer ring (`IORING_REGISTER_PBUF_RING`) a ring's multishot receives pick their
//! buffers from: the kernel takes a buffer per completion; the server gives it back once done with it.

use std::alloc::{self, Layout};
use std::io;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::Submitter;
use io_uring::types::BufRingEntry;

/// The buffer group id every receive of a ring names.
pub(crate) const GROUP: u16 = 0;
/// Page size the ring of entries is aligned to (the kernel requires page alignment).
const PAGE: usize = 4096;
/// What fresh buffers hold before the kernel first writes them.
const FILL: u8 = 0xA5;

/// `count` buffers of `size` bytes and the ring of entries that offers them to the kernel.
#[derive(Debug)]
pub(crate) struct BufRing {
    entries: NonNull<BufRingEntry>,
    layout: Layout,
    mask: u16,
    /// Our tail: entries up to here are written; [`commit`](Self::commit) publishes it.
    tail: u16,
    /// The buffers, `count × size` bytes. A raw allocation, not a `Box<[u8]>`: the kernel writes into
    /// it behind Rust's back, so no reference to the whole pool may exist.
    pool: NonNull<u8>,
    pool_layout: Layout,
    size: usize,
    /// Buffers handed back since the last [`commit`](Self::commit).
    recycled: usize,
}

impl BufRing {
    /// Allocates the buffers, registers the ring with `submitter` and offers every buffer.
    /// `count` must be a power of two of at most 32 768.
    pub(crate) fn new(submitter: &Submitter<'_>, count: u16, size: usize) -> io::Result<Self> {
        if !count.is_power_of_two() || count > 1 << 15 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "buffer count must be a power of two up to 32768",
            ));
        }
        let bytes = usize::from(count) * std::mem::size_of::<BufRingEntry>();
        let layout = Layout::from_size_align(bytes.max(PAGE), PAGE)
            .map_err(|_| io::Error::other("buffer ring layout"))?;
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let entries = NonNull::new(raw.cast::<BufRingEntry>())
            .ok_or_else(|| io::Error::from(io::ErrorKind::OutOfMemory))?;
        let pool_layout = Layout::from_size_align(usize::from(count) * size.max(1), PAGE)
            .map_err(|_| io::Error::other("buffer pool layout"))?;
        // SAFETY: the layout has a non-zero size.
        let pool = NonNull::new(unsafe { alloc::alloc(pool_layout) }).ok_or_else(|| {
            // SAFETY: allocated just above with this layout.
            unsafe { alloc::dealloc(raw, layout) };
            io::Error::from(io::ErrorKind::OutOfMemory)
        })?;
        // Filled (not left to fault in lazily), so that every page is resident from the start: the
        // ring cycles through all its buffers, and the server's footprint should not creep up as it
        // does. SAFETY: writes within the allocation just made.
        unsafe { std::ptr::write_bytes(pool.as_ptr(), FILL, pool_layout.size()) };
        let mut ring = BufRing {
            entries,
            layout,
            mask: count - 1,
            tail: 0,
            pool,
            pool_layout,
            size,
            recycled: 0,
        };
        // SAFETY: the entries stay allocated (and the pool with them) until `self` is dropped, which
        // the owner does only after the io_uring instance is gone (field order in `Worker`).
        unsafe {
            submitter.register_buf_ring_with_flags(raw as u64, count, GROUP, 0)?;
        }
        for bid in 0..count {
            ring.recycle(bid);
        }
        ring.commit();
        Ok(ring)
    }

    /// The first `len` bytes of buffer `bid`, as a completion filled them. Only for a buffer a
    /// completion handed over and that has not been recycled since: the kernel does not write it then.
    pub(crate) fn filled(&self, bid: u16, len: usize) -> &[u8] {
        let bid = usize::from(bid) & usize::from(self.mask);
        // SAFETY: `bid` is masked into the pool and `len` capped at the buffer size, so the slice lies
        // within the allocation; the buffer is out of the ring (the caller holds it), so nothing
        // writes it while the slice lives.
        unsafe {
            std::slice::from_raw_parts(self.pool.as_ptr().add(bid * self.size), len.min(self.size))
        }
    }

    /// Hands buffer `bid` back to the kernel (visible after the next [`commit`](Self::commit)).
    pub(crate) fn recycle(&mut self, bid: u16) {
        let bid = bid & self.mask;
        let addr = self.pool.as_ptr() as u64 + (usize::from(bid) * self.size) as u64;
        let slot = usize::from(self.tail & self.mask);
        // SAFETY: `slot` < count, inside the allocation; the kernel reads only entries before the
        // published tail, and this one is past it until `commit`.
        let entry = unsafe { &mut *self.entries.as_ptr().add(slot) };
        entry.set_addr(addr);
        entry.set_len(u32::try_from(self.size).unwrap_or(u32::MAX));
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.recycled += 1;
    }

    /// Publishes every recycled buffer to the kernel; returns how many there were.
    pub(crate) fn commit(&mut self) -> usize {
        // SAFETY: `entries` is the first entry of the registered ring; its `resv` field is the tail
        // the kernel reads, an aligned u16 that only this thread writes.
        let tail = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        tail.store(self.tail, Ordering::Release);
        std::mem::take(&mut self.recycled)
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: both allocated in `new` with these layouts; the ring that used them is gone (see
        // `new`).
        unsafe {
            alloc::dealloc(self.entries.as_ptr().cast(), self.layout);
            alloc::dealloc(self.pool.as_ptr(), self.pool_layout);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_offers_and_recycles_buffers() {
        if let Some(reason) = crate::unavailable_reason() {
            eprintln!("SKIPPED: {reason}");
            return;
        }
        let (ring, _) = crate::ring::build().expect("ring");
        let mut bufs = BufRing::new(&ring.submitter(), 8, 128).expect("buffer ring");
        assert_eq!(bufs.commit(), 0, "the initial offer is already published");
        assert_eq!(
            bufs.filled(3, 1000).len(),
            128,
            "a length is capped at the buffer size"
        );
        bufs.recycle(3);
        assert_eq!(bufs.commit(), 1);
        assert!(
            BufRing::new(&ring.submitter(), 3, 128).is_err(),
            "not a power of two"
        );
    }
}
