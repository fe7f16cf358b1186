//! Every chat conformance case against every variant, each an in-process server on port 0.

mod support;

chat_cases!(stamp_cases!(serve::App::Chat, chat:));
