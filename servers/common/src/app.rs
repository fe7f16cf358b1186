//! Which application a server speaks.

use std::fmt;
use std::str::FromStr;

/// The application protocol a server runs (see `docs/PROTOCOL.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum App {
    /// Byte-exact echo with half-close support.
    Echo,
    /// The line-based `chat/1` protocol.
    Chat,
    /// The line-based `work/1` request/response protocol: CPU-bound (`FIB`) and blocking (`SLEEP`)
    /// requests, executed inline or offloaded (`--offload`).
    Work,
}

impl App {
    /// Every application, in a stable order.
    pub const ALL: [App; 3] = [App::Echo, App::Chat, App::Work];

    /// What a connection over `--max-conns` is sent before it is closed: `ERR server-full` for chat
    /// and work, nothing for echo.
    pub fn over_limit_reply(self) -> &'static [u8] {
        match self {
            App::Echo => b"",
            App::Chat | App::Work => chat_core::ErrorCode::ServerFull.line().as_bytes(),
        }
    }

    /// The name used on the command line and in the `listening` line.
    pub fn name(self) -> &'static str {
        match self {
            App::Echo => "echo",
            App::Chat => "chat",
            App::Work => "work",
        }
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error for an application name that is not `echo`, `chat` or `work`.
#[derive(Debug, thiserror::Error)]
#[error("unknown app {0:?} (expected echo, chat or work)")]
pub struct UnknownApp(String);

impl FromStr for App {
    type Err = UnknownApp;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        App::ALL
            .into_iter()
            .find(|app| app.name() == s)
            .ok_or_else(|| UnknownApp(s.to_owned()))
    }
}
