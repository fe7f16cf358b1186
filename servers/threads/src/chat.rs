//! Chat, blocking: a broker thread drives the shared [`Broker`]; each connection has two threads, a
//! reader (its connection thread) and a writer fed by an unbounded crossbeam channel, bounded in bytes
//! by the broker.
//!
//! Why two threads per connection: a blocked `read` cannot also wait for lines to send, and a blocked
//! `write` (a client that does not read) must not stop the reader or anyone else. Each blocking call
//! needs a thread of its own. Everything that is not blocking I/O lives in `server_common::chat`: the
//! broker, the framing reader, the writer's batching and close instruction.
//!
//! Shutdown: the accept loop stops, the registry shuts every socket's reading side (readers end without
//! telling the broker, so no `LEFT` is broadcast), the broker closes every client with
//! `ERR shutting-down`; writers flush and close. A writer blocked on a client that does not read wakes
//! every [`STALL_TICK`] (its write timeout) to notice that it was cut off or that the drain deadline
//! passed; at the deadline the registry shuts every socket down so that no writer waits for its tick.

use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown as SocketShutdown;
use std::sync::Arc;

use chat_core::Line;
use chat_core::framing::DEFAULT_CHUNK;
use crossbeam_channel::{Receiver, Sender, bounded, unbounded};
use server_common::chat::{
    BROKER_INBOX, Broker, BrokerEvent, ChatHub, ClientReader, ClientWriter, Mailbox, STALL_TICK,
    WRITE_BATCH, WriteBatch, WriterStop,
};
use server_common::{App, Config, ConnLimit, DrainDeadline, Listener, ServerError, Shutdown};

use crate::accept;
use crate::registry::Registry;
use crate::transport::{HalfClose, ReadHalf, WriteHalf};

/// The broker's end of one writer's queue.
struct Queue(Sender<Line>);

impl Mailbox for Queue {
    fn post(&mut self, line: Line) {
        let _ = self.0.try_send(line); // unbounded: never full; fails only once the writer is gone
    }
}

type Event = BrokerEvent<Queue>;
type Hub = ChatHub<Sender<Event>>;

/// Serves chat until `shutdown`, then has every client told and flushed by the returned deadline.
pub(crate) fn serve(
    listener: &Listener,
    limit: &ConnLimit,
    registry: &Registry,
    config: &Config,
    shutdown: &Shutdown,
) -> Result<DrainDeadline, ServerError> {
    let (inbox, events) = bounded(BROKER_INBOX);
    let broker = std::thread::Builder::new()
        .name("chat-broker".into())
        .spawn(move || run_broker(&events))
        .map_err(|source| ServerError::Spawn {
            what: "chat broker",
            source,
        })?;
    let chat = Arc::new(Hub::new(inbox, config, shutdown));
    let handler = {
        let chat = Arc::clone(&chat);
        move |reader, writer| serve_conn(reader, writer, &chat)
    };
    let reject = App::Chat.over_limit_reply();
    accept::accept_loop(listener, limit, registry, config, shutdown, reject, handler);
    let deadline = DrainDeadline::start(config.drain_timeout);
    let _ = chat.inbox().send(Event::Shutdown);
    let _ = broker.join();
    if !chat.drain_blocking(deadline) {
        // Writers blocked on clients that do not read fail at once instead of at their next tick.
        registry.close_all(SocketShutdown::Both);
    }
    Ok(deadline)
}

fn run_broker(events: &Receiver<Event>) {
    let mut broker = Broker::new(crate::NAME);
    for event in events {
        if broker.handle(event).is_break() {
            break;
        }
    }
}

/// One connection: starts its writer thread, reads until EOF, then waits for the writer.
fn serve_conn(mut stream: ReadHalf, write_half: WriteHalf, chat: &Hub) -> io::Result<()> {
    let (mut reader, writer) = chat.open();
    let (queue, outbound) = unbounded();
    let writer = std::thread::Builder::new()
        .name("chat-writer".into())
        .stack_size(chat.config().stack_size)
        .spawn(move || write_side(write_half, &outbound, writer))?;
    if chat.inbox().send(reader.connect(Queue(queue))).is_ok() {
        if let Err(err) = read_loop(&mut stream, &mut reader, chat) {
            tracing::debug!(error = %err, "chat read failed");
        }
        if let Some(gone) = chat.gone(&reader) {
            let _ = chat.inbox().send(gone);
        }
    }
    drop(reader);
    writer
        .join()
        .map_err(|_| io::Error::other("chat writer panicked"))
}

/// Reads and frames the socket's bytes, sending each input to the broker, until EOF (or the broker is
/// gone). The socket's read timeout is the idle timeout. The buffer is this thread's own for as long as
/// the connection lives: a thread blocked in `read` must hand the kernel somewhere to put the bytes, so
/// in this model every idle connection holds one (a property of the model, not of this code).
fn read_loop(stream: &mut ReadHalf, reader: &mut ClientReader, chat: &Hub) -> io::Result<()> {
    let mut buf = vec![0; DEFAULT_CHUNK];
    loop {
        let n = match stream.read(&mut buf) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            read => read?,
        };
        if n == 0 {
            return Ok(());
        }
        let mut data = &buf[..n];
        while let Some(event) = reader.next_event(&mut data) {
            if chat.inbox().send(event).is_err() {
                return Ok(()); // the broker is gone: shutting down
            }
        }
    }
}

/// The writer thread: writes what is queued and the close's last line, then half-closes, lets the
/// client's input drain for a moment, and wakes the reader by shutting the reading side down.
fn write_side(mut stream: WriteHalf, queue: &Receiver<Line>, mut writer: ClientWriter) {
    match write_loop(&mut stream, queue, &mut writer) {
        Ok(()) => {
            if let Some(line) = writer.parting_line() {
                // Best effort, bounded by the write timeout.
                let _ = stream.write_all(&line).and_then(|()| stream.flush());
            }
        }
        Err(err) => tracing::debug!(error = %err, "chat write ended"),
    }
    let _ = stream.shutdown(SocketShutdown::Write);
    writer.linger_blocking();
    let _ = stream.shutdown(SocketShutdown::Read);
}

/// Writes batches until the writer is done or must stop.
fn write_loop(
    stream: &mut WriteHalf,
    queue: &Receiver<Line>,
    writer: &mut ClientWriter,
) -> io::Result<()> {
    stream.socket().set_write_timeout(Some(STALL_TICK))?;
    let stop = writer.stop_signal();
    while let Some(batch) = writer.next_batch(queue.recv().ok(), || queue.try_recv().ok()) {
        write_batch(stream, batch, &stop)?;
        writer.written();
    }
    Ok(())
}

/// Writes one batch with vectored writes. The write timeout wakes a writer stuck on a client that does
/// not read, so that it notices when it must stop. With TLS, the batch's last records are flushed
/// the same way.
fn write_batch(
    stream: &mut WriteHalf,
    batch: &WriteBatch<Line>,
    stop: &WriterStop,
) -> io::Result<()> {
    let mut slices = [IoSlice::new(&[]); WRITE_BATCH];
    let mut bufs = batch.io_slices(&mut slices);
    while !bufs.is_empty() {
        match stream.write_vectored(bufs) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => IoSlice::advance_slices(&mut bufs, n),
            Err(err) if is_timeout(&err) && stop.is_stopped() => {
                return Err(io::Error::other("writer stopped"));
            }
            Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    loop {
        match stream.flush() {
            Ok(()) => return Ok(()),
            Err(err) if is_timeout(&err) && stop.is_stopped() => {
                return Err(io::Error::other("writer stopped"));
            }
            Err(err) if is_timeout(&err) || err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
}

fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}
