//! The sans-IO chat core alone, no sockets: line framing and command parsing on a realistic client byte
//! stream, and the state machine's fan-out step (one `MSG` into a room of N members, into the outbox);
//! in wall time and in CPU time (of this process: there is no server).

use std::hint::black_box;

use chat_core::{ChatState, Frame, Framer, Outbox, parse};
use criterion::measurement::Measurement;
use criterion::{BenchmarkId, Throughput};
use variant_benches::{Bench, bench_main, chat_stream};

/// Size of the generated client byte stream.
const STREAM_BYTES: usize = 64 * 1024;
/// The default `--max-line`.
const MAX_LINE: usize = 4096;
/// Room sizes of the fan-out group.
const ROOM_SIZES: [usize; 3] = [10, 100, 1000];

/// Frames all of `stream` through `framer` (copying it in as socket reads would, one spare area at a
/// time), calling `each` on every line; returns the number of lines.
fn frame_all(framer: &mut Framer, stream: &[u8], mut each: impl FnMut(&str)) -> usize {
    let mut lines = 0;
    let mut rest = stream;
    while !rest.is_empty() {
        let n = framer.push(rest);
        rest = &rest[n..];
        while let Some(frame) = framer.next_frame() {
            match frame {
                Frame::Line(line) => {
                    each(line);
                    lines += 1;
                }
                other => panic!("the generated stream framed as {other:?}"),
            }
        }
    }
    lines
}

fn stream<M: Measurement>(b: &mut Bench<M>) {
    let (bytes, lines) = chat_stream(STREAM_BYTES, 0x5eed);
    let mut group = b.group("protocol_stream");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    let param = format!("{}KiB_{lines}lines", bytes.len() / 1024);
    let mut framer = Framer::new(MAX_LINE);

    group.bench_function(BenchmarkId::new("framing", &param), |b| {
        b.iter(|| {
            let n = frame_all(&mut framer, black_box(&bytes), |line| {
                black_box(line);
            });
            assert_eq!(n, lines, "framing lost lines");
        });
    });

    group.bench_function(BenchmarkId::new("framing+parse", &param), |b| {
        b.iter(|| {
            let mut ok = 0usize;
            let n = frame_all(&mut framer, black_box(&bytes), |line| {
                if black_box(parse(line)).is_ok() {
                    ok += 1;
                }
            });
            assert_eq!(n, lines, "framing lost lines");
            assert_eq!(ok, lines, "the generated lines are all valid commands");
        });
    });
    group.finish();
}

fn fan_out<M: Measurement>(b: &mut Bench<M>) {
    let mut group = b.group("protocol_fanout");
    let msg = "MSG lobby did you see the latency numbers for tokio? the build is green again";
    for members in ROOM_SIZES {
        let mut state = ChatState::new("bench");
        let mut out = Outbox::new();
        for id in 0..members as u64 {
            state.connect(id, &mut out);
            state.line(id, "JOIN lobby", &mut out);
            out.clear();
        }
        group.throughput(Throughput::Elements(members as u64 - 1));
        group.bench_function(BenchmarkId::new("msg", members), |b| {
            b.iter(|| {
                state.line(0, black_box(msg), &mut out);
                assert_eq!(out.sends.len(), members - 1, "fan-out reaches every member");
                out.clear();
            });
        });
    }
    group.finish();
}

bench_main!(stream, fan_out);
