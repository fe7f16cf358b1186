//! The child placement end to end: this test executable re-runs itself as a server (as a bench does),
//! once per available variant and app; the client checks an echo and a chat fan-out, the server's CPU
//! clock is its own process's and advances, and it stops cleanly on SIGTERM; and a server option given
//! through `ServerSpec` works in both placements.
//!
//! `harness = false`: the re-run executable must reach [`serve_if_asked`] before anything else.

use std::time::Duration;

use variant_benches::child::serve_if_asked;
use variant_benches::{
    App, BenchServer, ChatRoom, EchoClient, Message, Placement, ServerSpec, available,
};

fn main() {
    serve_if_asked();
    let placement = Placement::child();
    for imp in available() {
        let server = BenchServer::start(placement, imp, &App::Echo.into());
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

        let server = BenchServer::start(placement, imp, &App::Chat.into());
        let mut room = ChatRoom::new(server.addr(), "room", 3, 16);
        room.fan_out();
        drop(room);
        server.stop();
        println!("{imp}: ok");
    }
    // Options reach the server in both placements (one parser), and in-process the clock is ours.
    let spec = ServerSpec::new(App::Echo).option("--workers", 1);
    for placement in [Placement::child(), Placement::InProcess] {
        let server = BenchServer::start(placement, variant_benches::Impl::Tokio, &spec);
        let mut client = EchoClient::connect(server.addr());
        client.round_trip(&mut Message::new(8));
        if placement == Placement::InProcess {
            assert_eq!(server.cpu_clock().pid(), std::process::id());
        }
        drop(client);
        server.stop();
    }
    println!("options: ok");
}
