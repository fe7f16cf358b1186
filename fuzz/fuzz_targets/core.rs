//! `cargo fuzz run core`: the sans-IO chat core (framing, parsing, state machine) under libFuzzer.

#![no_main]

#[path = "../driver.rs"]
mod driver;

libfuzzer_sys::fuzz_target!(|data: &[u8]| driver::drive(data));
