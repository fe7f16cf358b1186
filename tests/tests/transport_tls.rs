//! The conformance cases over TLS (each variant's in-process server with a self-signed certificate
//! the client trusts; a variant that does not serve TLS yet reports itself skipped): every echo case
//! and every chat case, the same functions as over TCP (`echo.rs`, `chat.rs`), stamped once per
//! variant. Over TLS, chat `server_full` skips saying why (the server closes before the handshake).

mod support;

mod echo {
    crate::echo_cases!(stamp_cases_over!(crate::support::Transport::Tls, serve::App::Echo, echo:));
}

mod chat {
    crate::chat_cases!(stamp_cases_over!(crate::support::Transport::Tls, serve::App::Chat, chat:));
}
