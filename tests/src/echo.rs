//! Conformance cases for the echo app.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use server_common::App;

use crate::client::{self, payload, read_exact_vec, roundtrip};
use crate::suite::{Case, Skipped, Target};
use crate::transport::{Conn, Endpoint};

/// Every echo case, in the order the `conformance` binary runs them.
pub const CASES: &[Case] = &[
    case("small_echo", small_echo),
    case("echo_without_newline", echo_without_newline),
    case("many_small_writes", many_small_writes),
    case("one_mib_while_reading", one_mib_while_reading),
    case("concurrent_connections", concurrent_connections),
    case("half_close", half_close),
    case("half_close_without_data", half_close_without_data),
    case(
        "reset_does_not_disturb_others",
        reset_does_not_disturb_others,
    ),
    case("max_conns", max_conns),
];

const fn case(name: &'static str, run: fn(&Target) -> Result<()>) -> Case {
    Case {
        name,
        app: App::Echo,
        run,
    }
}

/// A few short messages come back byte-exact, including a single byte and binary data.
pub fn small_echo(target: &Target) -> Result<()> {
    let mut stream = target.connect()?;
    roundtrip(&mut stream, b"hello\n")?;
    roundtrip(&mut stream, b"x")?;
    roundtrip(&mut stream, &[0, 255, 10, 13, 0x1b, b'[', b'2', b'J'])?;
    roundtrip(&mut stream, &payload(1, 4000))
}

/// Bytes come back as soon as they are read: the server does not wait for a newline or more data.
pub fn echo_without_newline(target: &Target) -> Result<()> {
    let mut stream = target.connect()?;
    roundtrip(&mut stream, b"no newline here")
}

/// 1 000 writes of varying sizes come back in order, byte-exact. A second thread reads while they
/// are written: a server may stop reading while its replies wait (over a unix socket each small
/// reply is one buffer charged with ~1 KiB of overhead, so 1 000 of them exceed the default send
/// buffer), and a client that read only after its last write would deadlock against it.
pub fn many_small_writes(target: &Target) -> Result<()> {
    let stream = target.connect()?;
    let data = payload(2, 1000 * 33);
    let mut writer = stream.try_clone()?;
    let to_send = data.clone();
    let sender = std::thread::spawn(move || -> std::io::Result<usize> {
        let mut sent = 0;
        for i in 0..1000 {
            let len = 1 + (i * 7) % 64;
            let end = (sent + len).min(to_send.len());
            writer.write_all(&to_send[sent..end])?;
            sent = end;
        }
        Ok(sent)
    });
    let expected: usize = (0..1000usize)
        .map(|i| 1 + (i * 7) % 64)
        .sum::<usize>()
        .min(data.len());
    let mut reader = stream;
    let back = read_exact_vec(&mut reader, expected);
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?
        .context("writing 1 000 small pieces failed")?;
    let back = back?;
    ensure!(sent == expected, "sent {sent} bytes, expected {expected}");
    ensure!(
        back == data[..sent],
        "echoed stream differs from what was sent"
    );
    Ok(())
}

/// 1 MiB of random data written by one thread while another reads: the echo is byte-exact.
pub fn one_mib_while_reading(target: &Target) -> Result<()> {
    const LEN: usize = 1 << 20;
    let stream = target.connect()?;
    let data = payload(3, LEN);
    let mut writer = stream.try_clone()?;
    let to_send = data.clone();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        for chunk in to_send.chunks(7919) {
            writer.write_all(chunk)?;
        }
        Ok(())
    });
    let mut reader = stream;
    let back = read_exact_vec(&mut reader, LEN);
    let sent = sender
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?;
    sent.context("writing 1 MiB failed")?;
    let back = back?;
    if let Some(at) = back.iter().zip(&data).position(|(a, b)| a != b) {
        bail!("echo differs at byte {at} of {LEN}");
    }
    Ok(())
}

/// 200 connections open at once, each with its own data, are all echoed correctly.
pub fn concurrent_connections(target: &Target) -> Result<()> {
    const CONNS: usize = 200;
    let mut streams = (0..CONNS)
        .map(|_| target.connect())
        .collect::<Result<Vec<Conn>>>()?;
    let payloads: Vec<Vec<u8>> = (0..CONNS)
        .map(|i| payload(100 + i as u64, 100 + i))
        .collect();
    for (stream, data) in streams.iter_mut().zip(&payloads) {
        stream.write_all(data)?;
    }
    for (i, (stream, data)) in streams.iter_mut().zip(&payloads).enumerate() {
        let back = read_exact_vec(stream, data.len()).with_context(|| format!("connection {i}"))?;
        ensure!(
            &back == data,
            "connection {i} got another connection's or corrupted data"
        );
    }
    Ok(())
}

/// After the client shuts down its write side, the server sends back everything and then closes.
pub fn half_close(target: &Target) -> Result<()> {
    let mut stream = target.connect()?;
    let data = payload(4, 256 * 1024);
    let mut writer = stream.try_clone()?;
    let to_send = data.clone();
    let sender = std::thread::spawn(move || -> std::io::Result<()> {
        writer.write_all(&to_send)?;
        writer.shutdown_write()
    });
    let back = client::read_to_eof(&mut stream);
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("writer thread panicked"))?
        .context("writing then half-closing failed")?;
    let back = back?;
    ensure!(
        back.len() == data.len(),
        "got {} bytes back before EOF, sent {}",
        back.len(),
        data.len()
    );
    ensure!(back == data, "echo before EOF differs from what was sent");
    Ok(())
}

/// A client that half-closes at once gets EOF at once.
pub fn half_close_without_data(target: &Target) -> Result<()> {
    let mut stream = target.connect()?;
    stream.shutdown_write()?;
    let back = client::read_to_eof(&mut stream)?;
    ensure!(
        back.is_empty(),
        "got {} bytes from an empty stream",
        back.len()
    );
    Ok(())
}

/// A client that resets its connection mid-stream does not disturb another client or new ones.
pub fn reset_does_not_disturb_others(target: &Target) -> Result<()> {
    let mut steady = target.connect()?;
    roundtrip(&mut steady, b"before")?;
    for round in 0..20u64 {
        let mut rude = target.connect()?;
        rude.write_all(&payload(round, 64 * 1024))?;
        client::reset(rude)?;
        roundtrip(&mut steady, &payload(1000 + round, 100))?;
    }
    let mut fresh = target.connect()?;
    roundtrip(&mut fresh, b"after")?;
    roundtrip(&mut steady, b"still here")
}

/// With `--max-conns N`, N connections are served; one more is accepted and closed at once without
/// an echo; once a slot frees, new connections are served again.
pub fn max_conns(target: &Target) -> Result<()> {
    let Some(max) = target.max_conns else {
        return Err(Skipped("needs the server's --max-conns (pass --max-conns)").into());
    };
    ensure!(max <= 1000, "--max-conns {max} is too many for this case");
    let mut held = Vec::with_capacity(max);
    for i in 0..max {
        let mut stream = target.connect()?;
        roundtrip(&mut stream, b"in").with_context(|| format!("connection {i} of {max}"))?;
        held.push(stream);
    }
    match target.connect() {
        Ok(mut over) => {
            let _ = over.write_all(b"over the limit");
            ensure!(
                client::is_closed_by_peer(&mut over)?,
                "connection {} past --max-conns {max} was not closed",
                max + 1
            );
        }
        // Over TLS the server closes it before the handshake completes: the TLS form of "closed at
        // once" (no plaintext byte ever crosses a TLS port).
        Err(_) if matches!(target.endpoint, Endpoint::Tls { .. }) => {}
        Err(err) => return Err(err),
    }
    drop(held.pop());
    // The server notices the freed slot when it reads EOF; retry for a bounded time.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut again) = target.connect() {
            if roundtrip(&mut again, b"again").is_ok() {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("no connection served within 10 s after a slot was freed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
