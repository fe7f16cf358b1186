//! The child placement end to end: this test executable re-runs itself as a server (as a bench does),
//! once per available variant and app; the client checks an echo and a chat fan-out, the server's CPU
//! clock is its own process's and advances, and it stops cleanly on SIGTERM; and server options given
//! through `ServerSpec` work in both placements: `--workers`, echo over TLS (`--tls-self-signed
//! --tls-cert-out`) and a unix socket (`--unix`), the work app offloaded (`--offload
//! --offload-threads --offload-queue`, its pool bound shown by an `ERR busy`) beside the benches'
//! slow requests.
//!
//! `harness = false`: the re-run executable must reach [`serve_if_asked`] before anything else.

use std::time::Duration;

use conformance::suite::Target;
use variant_benches::child::serve_if_asked;
use variant_benches::{
    App, BenchServer, ChatRoom, EchoClient, FastBesideSlow, Impl, Message, Placement, ScratchDir,
    ServerSpec, available,
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
        let server = BenchServer::start(placement, Impl::Tokio, &spec);
        let mut client = EchoClient::connect(server.addr());
        client.round_trip(&mut Message::new(8));
        if placement == Placement::InProcess {
            assert_eq!(server.cpu_clock().pid(), std::process::id());
        }
        drop(client);
        server.stop();
    }
    println!("options: ok");

    let files = ScratchDir::new("child-server-test");
    let tls = ServerSpec::new(App::Echo)
        .flag("--tls-self-signed")
        .option("--tls-cert-out", files.file("cert.pem").display());
    let unix = ServerSpec::new(App::Echo).option("--unix", files.file("echo.sock").display());
    let offload = ServerSpec::new(App::Work)
        .flag("--offload")
        .option("--offload-threads", 2)
        .option("--offload-queue", 1);
    for imp in available() {
        for placement in [Placement::child(), Placement::InProcess] {
            for (spec, transport) in [(&tls, "tls"), (&unix, "unix")] {
                let server = BenchServer::start(placement, imp, spec);
                assert_eq!(server.endpoint().transport(), transport, "{imp}");
                let mut client = EchoClient::connect_to(server.endpoint());
                let mut msg = Message::new(64);
                for _ in 0..10 {
                    client.round_trip(&mut msg);
                }
                drop(client);
                server.stop();
            }
            // Two slow requests and the fast one fit the pool of 2 + 1: never `ERR busy`.
            let server = BenchServer::start(placement, imp, &offload);
            let mut client = FastBesideSlow::connect(server.endpoint(), 2, "SLEEP 5", "SLEPT 5");
            for _ in 0..20 {
                client.round_trip();
            }
            client.settle();
            let replies = client.slow_replies();
            assert!(replies >= 2, "{imp}: {replies} slow replies");
            drop(client);
            server.stop();
        }
        println!("{imp}: transports and work: ok");
    }
    // The pool's bound reaches the server: three `SLEEP`s on a pool of 1 + 1, one is refused.
    let tight = ServerSpec::new(App::Work)
        .flag("--offload")
        .option("--offload-threads", 1)
        .option("--offload-queue", 1);
    for placement in [Placement::child(), Placement::InProcess] {
        let server = BenchServer::start(placement, Impl::Tokio, &tight);
        let target = Target::at(server.endpoint().clone());
        let (mut a, mut b, refused) =
            conformance::work::fill_pool(&target, 300).expect("one of three is ERR busy");
        a.expect("SLEPT 300").expect("the running one");
        b.expect("SLEPT 300").expect("the queued one");
        drop((a, b, refused));
        server.stop();
    }
    drop(files);
    println!("offload options: ok");
}
