//! Every echo conformance case against every variant, each an in-process server on port 0.

mod support;

stamp_cases!(
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
