//! Chat fan-out, per variant: one `MSG` delivered to every other member of a room of 10 and of 100
//! members, until all of them have received it; in wall time and in CPU time.

use std::time::Duration;

use criterion::Throughput;
use criterion::measurement::Measurement;
use variant_benches::{App, Bench, ChatRoom, Param, bench_main};

/// Room sizes (members, the sender included).
const ROOM_SIZES: [usize; 2] = [10, 100];
/// Bytes of text in each message.
const TEXT_LEN: usize = 64;

fn fan_out<M: Measurement<Value = Duration>>(b: &mut Bench<M>) {
    let params = ROOM_SIZES.map(|members| {
        Param::new(
            members.to_string(),
            Throughput::Elements(members as u64 - 1),
            members,
        )
    });
    b.variants("chat_fanout", App::Chat, &params, |addr, &members| {
        let mut room = ChatRoom::new(addr, &format!("room{members}"), members, TEXT_LEN);
        move || room.fan_out()
    });
}

bench_main!(fan_out);
