//! The child placement end to end: this test executable re-runs itself as a server (as a bench does),
//! once per available variant and app; the client checks an echo and a chat fan-out, the server's CPU
//! clock is its own process's and advances, and it stops cleanly on SIGTERM.
//!
//! `harness = false`: the re-run executable must reach [`serve_if_asked`] before anything else.

use std::time::Duration;

use variant_benches::child::serve_if_asked;
use variant_benches::{App, BenchServer, ChatRoom, EchoClient, Message, Placement, available};

fn main() {
    serve_if_asked();
    let placement = Placement::child();
    for imp in available() {
        let server = BenchServer::start(placement, imp, App::Echo);
        let clock = server.cpu_clock();
        assert_ne!(
            clock.pid(),
            std::process::id(),
            "{imp}: measured the wrong process"
        );
        let before = clock.now().expect("reads the server's clock");
        let mut client = EchoClient::connect(server.addr());
        let mut msg = Message::new(64);
        for _ in 0..200 {
            client.round_trip(&mut msg);
        }
        let used = clock.now().expect("reads the server's clock") - before;
        assert!(
            used > Duration::ZERO && used < Duration::from_secs(5),
            "{imp}: the server used {used:?} for 200 echoes"
        );
        drop(client);
        server.stop();

        let server = BenchServer::start(placement, imp, App::Chat);
        let mut room = ChatRoom::new(server.addr(), "room", 3, 16);
        room.fan_out();
        drop(room);
        server.stop();
        println!("{imp}: ok");
    }
}
