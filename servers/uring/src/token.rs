//! What a completion is about: the operation kind and the connection slot, packed in `user_data`.

/// The kind of operation a completion belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    /// The multishot accept on the listener.
    Accept,
    /// The poll on the wake-up eventfd (shutdown).
    Wake,
    /// The periodic tick (idle timeout, linger, drain deadline, accept back-off).
    Tick,
    /// A connection's multishot receive.
    Recv,
    /// A connection's send.
    Send,
    /// A cancel request; its own completion carries nothing.
    Cancel,
}

impl Op {
    const ALL: [Op; 6] = [
        Op::Accept,
        Op::Wake,
        Op::Tick,
        Op::Recv,
        Op::Send,
        Op::Cancel,
    ];

    /// The `user_data` of this operation on slot `slot`.
    pub(crate) fn token(self, slot: u32) -> u64 {
        ((self as u64) << 32) | u64::from(slot)
    }

    /// The operation and slot a `user_data` names (`None` for a value no operation was given).
    pub(crate) fn parse(user_data: u64) -> Option<(Op, u32)> {
        let kind = usize::try_from(user_data >> 32).ok()?;
        let op = *Op::ALL.get(kind)?;
        Some((op, (user_data & u64::from(u32::MAX)) as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for op in Op::ALL {
            assert_eq!(Op::parse(op.token(77)), Some((op, 77)));
        }
        assert_eq!(Op::parse(u64::MAX), None);
    }
}
