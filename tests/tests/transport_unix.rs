//! The conformance cases over a unix-domain socket (each variant's in-process server on a socket in
//! a fresh temporary directory): every echo case and every chat case, the same functions as over TCP
//! (`echo.rs`, `chat.rs`), stamped once per variant.

mod support;

mod echo {
    crate::echo_cases!(stamp_cases_over!(crate::support::Transport::Unix, serve::App::Echo, echo:));
}

mod chat {
    crate::chat_cases!(stamp_cases_over!(crate::support::Transport::Unix, serve::App::Chat, chat:));
}
