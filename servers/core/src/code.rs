//! The `ERR <code>` error codes of `chat/1` and `work/1`.

use std::fmt;

/// Every error code the chat and work servers send, as `ERR <code>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// More than `--max-line` bytes without a LF; the connection is closed.
    LineTooLong,
    /// A line that is not valid UTF-8; it is ignored.
    BadUtf8,
    /// Missing, empty or extra arguments.
    BadArgs,
    /// A nick or room that is not 1–32 bytes of `A-Za-z0-9_-.`.
    BadName,
    /// MSG text with a control character.
    BadText,
    /// The nick is held by another client.
    NickTaken,
    /// The client is not a member of the room.
    NotInRoom,
    /// The client is already in the maximum number of rooms.
    TooManyRooms,
    /// The command word is not known.
    UnknownCommand,
    /// The server is at `--max-conns`; the connection is closed.
    ServerFull,
    /// The client's outbound queue overflowed; the connection is closed.
    SlowConsumer,
    /// The server is shutting down; the connection is closed.
    ShuttingDown,
    /// work: the offload pool and its queue are full; the request was not executed.
    Busy,
}

impl ErrorCode {
    /// Every code, in declaration order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::LineTooLong,
        ErrorCode::BadUtf8,
        ErrorCode::BadArgs,
        ErrorCode::BadName,
        ErrorCode::BadText,
        ErrorCode::NickTaken,
        ErrorCode::NotInRoom,
        ErrorCode::TooManyRooms,
        ErrorCode::UnknownCommand,
        ErrorCode::ServerFull,
        ErrorCode::SlowConsumer,
        ErrorCode::ShuttingDown,
        ErrorCode::Busy,
    ];

    /// The code as it appears on the wire, e.g. `bad-args`.
    pub fn as_str(self) -> &'static str {
        self.line().trim_start_matches("ERR ").trim_end()
    }

    /// The whole error line, `ERR <code>\n`.
    pub fn line(self) -> &'static str {
        match self {
            ErrorCode::LineTooLong => "ERR line-too-long\n",
            ErrorCode::BadUtf8 => "ERR bad-utf8\n",
            ErrorCode::BadArgs => "ERR bad-args\n",
            ErrorCode::BadName => "ERR bad-name\n",
            ErrorCode::BadText => "ERR bad-text\n",
            ErrorCode::NickTaken => "ERR nick-taken\n",
            ErrorCode::NotInRoom => "ERR not-in-room\n",
            ErrorCode::TooManyRooms => "ERR too-many-rooms\n",
            ErrorCode::UnknownCommand => "ERR unknown-command\n",
            ErrorCode::ServerFull => "ERR server-full\n",
            ErrorCode::SlowConsumer => "ERR slow-consumer\n",
            ErrorCode::ShuttingDown => "ERR shutting-down\n",
            ErrorCode::Busy => "ERR busy\n",
        }
    }

    /// The index of this code in [`ErrorCode::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_codes_agree() {
        for (i, code) in ErrorCode::ALL.into_iter().enumerate() {
            assert_eq!(code.index(), i);
            assert_eq!(code.line(), format!("ERR {code}\n"));
            assert!(!code.as_str().contains(' '));
        }
        assert_eq!(ErrorCode::BadArgs.as_str(), "bad-args");
    }
}
