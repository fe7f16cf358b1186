//! Every work conformance case against every variant, each an in-process server on port 0: once with
//! the work executed inline (`inline::*`) and once offloaded to the variant's pool (`offloaded::*`).

mod support;

macro_rules! work_cases {
    ($($mode:ident = $config:expr),+ $(,)?) => {$(
        mod $mode {
            crate::stamp_cases!(
                config = $config;
                serve::App::Work,
                work: values,
                pipelined_in_order,
                bounds_and_bad_args,
                unknown_command,
                control_characters,
                crlf_and_empty_lines,
                bad_utf8_keeps_connection,
                line_too_long_closes,
                half_close,
                pipelined_flood_with_late_reader,
            );
        }
    )+};
}

work_cases!(
    inline = crate::support::test_config(),
    offloaded = crate::support::offload_test_config(),
);
