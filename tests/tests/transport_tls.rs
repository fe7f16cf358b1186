//! The conformance cases over TLS (each variant's in-process server with a self-signed certificate
//! the client trusts; a variant that does not serve TLS yet reports itself skipped): every echo case
//! and every chat case, the same functions as over TCP (`echo.rs`, `chat.rs`), stamped once per
//! variant. Over TLS, chat `server_full` skips saying why (the server closes before the handshake).

mod support;

mod echo {
    crate::stamp_cases_over!(
        crate::support::Transport::Tls,
        serve::App::Echo,
        echo: small_echo,
        echo_without_newline,
        many_small_writes,
        one_mib_while_reading,
        concurrent_connections,
        half_close,
        half_close_without_data,
        reset_does_not_disturb_others,
        max_conns,
    );
}

mod chat {
    crate::stamp_cases_over!(
        crate::support::Transport::Tls,
        serve::App::Chat,
        chat: hello,
        guest_nicks_are_unique,
        nick_rename,
        nick_taken_and_freed,
        nick_broadcast_once_per_peer,
        join_and_joined,
        leave_and_left,
        msg_to_other_members,
        msg_not_in_room,
        rooms_sorted,
        who_sorted,
        ping_token,
        quit_bye_and_left,
        commands_case_insensitive,
        crlf_telnet_session,
        unknown_command,
        bad_args,
        bad_name,
        error_precedence,
        control_characters_rejected,
        text_verbatim,
        empty_lines_ignored,
        bad_utf8_keeps_connection,
        line_length_boundary,
        line_too_long_closes,
        room_limit_64,
        replies_in_order,
        left_on_disconnect,
        half_close,
        server_full,
        ordering_one_sender,
        per_room_agreement,
        ordering_across_rooms,
        msg_after_ok_join_arrives,
        nick_free_after_disconnect,
        slow_consumer,
    );
}
