//! Chat fan-out, per variant: one `MSG` delivered to every other member of a room of 10 and of 100
//! members; the time until all of them have received it.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_main};
use variant_benches::{App, ChatRoom, available, start_server, stop_server};

/// Room sizes (members, the sender included).
const ROOM_SIZES: [usize; 2] = [10, 100];
/// Bytes of text in each message.
const TEXT_LEN: usize = 64;

fn fan_out(c: &mut Criterion) {
    let mut group = c.benchmark_group("chat_fanout");
    for imp in available() {
        let mut server = None;
        for members in ROOM_SIZES {
            group.throughput(Throughput::Elements(members as u64 - 1));
            let mut room = None;
            group.bench_function(BenchmarkId::new(imp.name(), members), |b| {
                let server = server.get_or_insert_with(|| start_server(imp, App::Chat));
                let room = room.get_or_insert_with(|| {
                    ChatRoom::new(server.addr(), &format!("room{members}"), members, TEXT_LEN)
                });
                b.iter(|| room.fan_out());
            });
            drop(room);
        }
        if let Some(server) = server {
            stop_server(server);
        }
    }
    group.finish();
}

mod group {
    //! The criterion group (in a module: the macro makes an undocumented `pub fn`).
    use super::*;

    criterion::criterion_group! {
        name = benches;
        config = variant_benches::criterion_config();
        targets = fan_out
    }
}
criterion_main!(group::benches);
