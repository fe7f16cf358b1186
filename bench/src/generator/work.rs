//! The `work` scenario: fast and slow requests side by side (`work/1`, see
//! docs/PROTOCOL.md), on the same engine as every other scenario.
//!
//! Two classes of connections ([`crate::generator::engine::classes`]): the
//! fast class (e.g. `FIB 1`) and the slow class (e.g. `FIB 27` or `SLEEP
//! 5`), each open loop at its own rate over its own connections, started
//! together and measured in the same window. Every connection sends its
//! class's request line; the reply it must get is computed once per class
//! (`FIB n` → `FIB n fib(n)`, `SLEEP ms` → `SLEPT ms`, `PING t` → `PONG t`)
//! and every reply is compared with it byte for byte as it arrives, with no
//! allocation. `ERR busy` (the server's bounded pool was full) is a valid
//! answer, declined to the engine: counted per class, in no latency
//! histogram. Any other reply is a fault: a wrong one a mismatch, another
//! `ERR` a refusal.

use std::sync::Arc;

pub use crate::results::work::{WorkClassReport, WorkClassSettings, WorkReport, WorkSettings};

use super::engine::protocol::{Fault, Outgoing, Protocol, Receipts};
use super::engine::{self, Class, ClassOutcome, LoadSpec, Spec};
use super::progress::{NoProgress, Progress};
use crate::error::{Error, Result};
use crate::results::hist::HistogramReport;

/// The busy answer, as it starts; the code may be followed by a space and
/// text up to the LF.
const BUSY: &[u8] = b"ERR busy\n";

/// Longest reply line quoted in a fault.
const QUOTE_MAX: usize = 120;

/// fib(n) as the server computes it (fib(0) = 0, fib(1) = 1), iteratively.
fn fib(n: u32) -> u64 {
    let (mut a, mut b) = (0u64, 1u64);
    for _ in 0..n {
        (a, b) = (b, a + b);
    }
    a
}

/// A canonical decimal in `0..=max` (no sign, no leading zero).
fn decimal(s: &str, max: u32) -> Option<u32> {
    let canonical =
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'));
    s.parse().ok().filter(|&v| canonical && v <= max)
}

/// The reply a correct server gives to `request` (without LF), or why the
/// generator cannot predict it.
pub fn expected_reply(request: &str) -> std::result::Result<String, String> {
    let (cmd, arg) = match request.split_once(' ') {
        Some((c, a)) => (c, Some(a)),
        None => (request, None),
    };
    match (cmd, arg) {
        ("FIB", Some(a)) => decimal(a, 40)
            .map(|n| format!("FIB {n} {}", fib(n)))
            .ok_or_else(|| format!("FIB takes a decimal 0..=40, not {a:?}")),
        ("SLEEP", Some(a)) => decimal(a, 1000)
            .map(|ms| format!("SLEPT {ms}"))
            .ok_or_else(|| format!("SLEEP takes a decimal 0..=1000 (ms), not {a:?}")),
        ("PING", None) => Ok("PONG".into()),
        ("PING", Some(t)) if !t.bytes().any(|b| b.is_ascii_control()) => Ok(format!("PONG {t}")),
        _ => Err(format!(
            "{request:?} is not a request whose reply the generator can predict (FIB <n>, SLEEP \
             <ms>, PING [token])"
        )),
    }
}

impl WorkSettings {
    fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::InvalidSettings(m));
        if self.fast.conns == 0 {
            return bad("--fast-conns must be at least 1".into());
        }
        for (name, c) in [("fast", &self.fast), ("slow", &self.slow)] {
            if c.conns == 0 {
                continue;
            }
            if let Err(e) = expected_reply(&c.request) {
                return bad(format!("--{name}-req: {e}"));
            }
            if !(c.rate > 0.0 && c.rate.is_finite()) {
                return bad(format!(
                    "--{name}-rate must be a positive number of requests per second"
                ));
            }
        }
        Ok(())
    }

    fn class(&self, c: &WorkClassSettings) -> Class {
        Class {
            conns: c.conns,
            load: LoadSpec::Open {
                rate: c.rate,
                max_inflight: self.max_inflight.max(1),
            },
        }
    }

    fn spec(&self) -> Result<Spec> {
        Ok(Spec {
            addr: self.addr,
            endpoint: super::transport::endpoint(&self.transport, self.addr)?,
            conns: self.fast.conns + self.slow.conns,
            threads: self.threads,
            cpus: self.cpus.clone(),
            source_ips: self.source_ips.clone(),
            connect_rate: self.connect_rate,
            connect_timeout: self.connect_timeout,
            load: self.class(&self.fast).load,
            warmup: self.warmup,
            duration: self.duration,
            timeout: self.timeout,
            drain_timeout: self.drain_timeout,
            record: true,
            server_pid: self.server_pid,
            sample_interval: self.sample_interval,
            interval: self.interval,
        })
    }
}

/// One class's lines: what every connection sends and must get back.
#[derive(Debug)]
struct Lines {
    /// The request line, LF included.
    request: Box<[u8]>,
    /// The expected reply, LF included.
    reply: Box<[u8]>,
    name: &'static str,
}

/// The work protocol: connections `0..fast_conns` are the fast class, the
/// rest the slow class.
#[derive(Debug)]
pub(crate) struct WorkProtocol {
    fast_conns: usize,
    classes: [Lines; 2],
}

/// Candidates a reply in progress still matches.
const EXPECTED: u8 = 1;
const DECLINED: u8 = 2;

/// A work connection's state: where it is in the reply arriving.
#[derive(Debug)]
pub(crate) struct WorkConn {
    class: usize,
    /// Bytes of the current reply matched so far.
    pos: usize,
    /// Which of the expected reply and `ERR busy` they still match.
    cand: u8,
    /// Inside the text after `ERR busy `, up to the LF.
    busy_text: bool,
    /// Replies received (expected or busy).
    replies: u64,
}

impl WorkProtocol {
    fn new(s: &WorkSettings) -> Result<WorkProtocol> {
        let lines = |c: &WorkClassSettings, name: &'static str| -> Result<Lines> {
            let reply = expected_reply(&c.request).map_err(Error::InvalidSettings)?;
            Ok(Lines {
                request: format!("{}\n", c.request).into_bytes().into(),
                reply: format!("{reply}\n").into_bytes().into(),
                name,
            })
        };
        let slow = if s.slow.conns == 0 {
            // Never used: no connection belongs to the class.
            lines(&s.fast, "slow")?
        } else {
            lines(&s.slow, "slow")?
        };
        Ok(WorkProtocol {
            fast_conns: s.fast.conns,
            classes: [lines(&s.fast, "fast")?, slow],
        })
    }

    /// The fault for the reply that stopped matching at byte `at` of
    /// `data` (the bytes before it in the line matched a candidate).
    fn fault(&self, c: &WorkConn, data: &[u8], at: usize) -> Fault {
        let lines = &self.classes[c.class];
        let before: &[u8] = if c.cand & EXPECTED != 0 {
            &lines.reply[..c.pos]
        } else {
            &BUSY[..c.pos]
        };
        let rest = &data[at..];
        let end = rest
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(rest.len())
            .min(QUOTE_MAX);
        let mut got = before.to_vec();
        got.extend_from_slice(&rest[..end]);
        let got = String::from_utf8_lossy(&got).into_owned();
        let request = String::from_utf8_lossy(&lines.request[..lines.request.len() - 1]);
        if got.starts_with("ERR ") {
            Fault::Refused(format!(
                "{} request {request:?} (reply {}) answered {got:?}",
                lines.name,
                c.replies + 1
            ))
        } else {
            let want = String::from_utf8_lossy(&lines.reply[..lines.reply.len() - 1]);
            Fault::Mismatch(format!(
                "{} request {request:?} (reply {}): expected {want:?}, received {got:?}",
                lines.name,
                c.replies + 1
            ))
        }
    }

    /// One whole reply arrived: checks that its request was sent.
    #[inline]
    fn reply_done(&self, c: &mut WorkConn, rx: &impl Receipts) -> Result<(), Fault> {
        let len = self.classes[c.class].request.len() as u64;
        if (c.replies + 1) * len > rx.written() {
            return Err(Fault::Mismatch(format!(
                "{} connection: reply {} to a request never sent",
                self.classes[c.class].name,
                c.replies + 1
            )));
        }
        c.replies += 1;
        c.pos = 0;
        c.cand = EXPECTED | DECLINED;
        Ok(())
    }
}

impl Protocol for WorkProtocol {
    type Conn = WorkConn;
    type Tally = ();
    const REPLIES: bool = true;
    const HALF_CLOSE: bool = false;

    fn sends(&self, _id: usize) -> bool {
        true
    }

    fn open(&self, id: usize) -> WorkConn {
        WorkConn {
            class: usize::from(id >= self.fast_conns),
            pos: 0,
            cand: EXPECTED | DECLINED,
            busy_text: false,
            replies: 0,
        }
    }

    fn ready_on_connect(&self) -> bool {
        true
    }

    fn message_len(&self, c: &WorkConn) -> usize {
        self.classes[c.class].request.len()
    }

    #[inline]
    fn fill(&self, c: &WorkConn, _m: &Outgoing, within: usize, out: &mut [u8]) {
        let req = &self.classes[c.class].request;
        out.copy_from_slice(&req[within..within + out.len()]);
    }

    fn receive<R: Receipts>(&self, c: &mut WorkConn, data: &[u8], rx: &mut R) -> Result<(), Fault> {
        let reply = &self.classes[c.class].reply;
        for (i, &b) in data.iter().enumerate() {
            if c.busy_text {
                if b == b'\n' {
                    c.busy_text = false;
                    self.reply_done(c, rx)?;
                    rx.declined();
                }
                continue;
            }
            let p = c.pos;
            let expected = c.cand & EXPECTED != 0 && reply.get(p) == Some(&b);
            let busy_end = p == BUSY.len() - 1;
            let declined =
                c.cand & DECLINED != 0 && (BUSY.get(p) == Some(&b) || (busy_end && b == b' '));
            if expected && p + 1 == reply.len() {
                self.reply_done(c, rx)?;
                rx.completed(1);
            } else if declined && busy_end {
                if b == b' ' {
                    c.busy_text = true;
                } else {
                    self.reply_done(c, rx)?;
                    rx.declined();
                }
            } else if expected || declined {
                c.pos += 1;
                c.cand = (u8::from(expected) * EXPECTED) | (u8::from(declined) * DECLINED);
            } else {
                return Err(self.fault(c, data, i));
            }
        }
        Ok(())
    }

    fn complete(&self, c: &WorkConn, written: u64) -> bool {
        c.replies * self.classes[c.class].request.len() as u64 == written
    }

    fn tally(&self, _c: &WorkConn, _alive: bool, _t: &mut ()) {}
}

fn class_report(
    s: &WorkClassSettings,
    o: &ClassOutcome<()>,
    window_s: f64,
) -> Result<WorkClassReport> {
    let per_s = |n: u64| {
        if window_s > 0.0 {
            n as f64 / window_s
        } else {
            0.0
        }
    };
    Ok(WorkClassReport {
        settings: s.clone(),
        expected_reply: expected_reply(&s.request).map_err(Error::InvalidSettings)?,
        rate_per_conn: s.rate_per_conn(),
        threads: o.threads,
        ready: o.ready,
        sent: o.sent,
        unsent: o.unsent,
        lost: o.lost,
        served: o.messages,
        busy: o.declined,
        busy_total: o.declined_total,
        served_per_s: per_s(o.received),
        busy_per_s: per_s(o.declined_in_window),
        latency: HistogramReport::of(&o.latency)?,
        latency_corrected: HistogramReport::of(&o.corrected)?,
        latency_lower_bounds: o.lower_bounds,
        send_lag: HistogramReport::of(&o.send_lag)?,
        errors: o.errors,
        first_error: o.first_error.clone(),
    })
}

/// Runs a work scenario.
pub fn run(settings: &WorkSettings) -> Result<WorkReport> {
    run_with(settings, &mut NoProgress)
}

/// Runs a work scenario, reporting progress.
pub fn run_with(settings: &WorkSettings, progress: &mut dyn Progress) -> Result<WorkReport> {
    settings.check()?;
    let proto = Arc::new(WorkProtocol::new(settings)?);
    let classes = [
        settings.class(&settings.fast),
        settings.class(&settings.slow),
    ];
    let o = engine::run_classes(&settings.spec()?, &classes, proto, progress)?;
    let [fast, slow] = o.classes.as_slice() else {
        return Err(Error::Worker(
            "the engine returned no figures per class".into(),
        ));
    };
    let answered: u64 = o
        .classes
        .iter()
        .map(|c| c.received + c.declined_in_window)
        .sum();
    let server_cpu_us_per_request = o
        .cost
        .server
        .as_ref()
        .filter(|_| answered > 0)
        .map(|s| s.cpu_s * 1e6 / answered as f64);
    Ok(WorkReport {
        settings: settings.clone(),
        threads: o.threads,
        connect: o.connect,
        window_s: o.window_s,
        fast: class_report(&settings.fast, fast, o.window_s)?,
        slow: if settings.slow.conns == 0 {
            None
        } else {
            Some(class_report(&settings.slow, slow, o.window_s)?)
        },
        errors: o.errors,
        first_error: o.first_error,
        server_cpu_us_per_request,
        cost: o.cost,
        series: o.series,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_predicted_once_per_request() {
        assert_eq!(expected_reply("FIB 0").unwrap(), "FIB 0 0");
        assert_eq!(expected_reply("FIB 1").unwrap(), "FIB 1 1");
        assert_eq!(expected_reply("FIB 27").unwrap(), "FIB 27 196418");
        assert_eq!(expected_reply("FIB 40").unwrap(), "FIB 40 102334155");
        assert_eq!(expected_reply("SLEEP 5").unwrap(), "SLEPT 5");
        assert_eq!(expected_reply("PING").unwrap(), "PONG");
        assert_eq!(expected_reply("PING a b").unwrap(), "PONG a b");
        for bad in [
            "FIB 41",
            "FIB -1",
            "FIB 01",
            "FIB",
            "SLEEP 1001",
            "SLEEP 1e3",
            "fib 1",
            "X",
        ] {
            assert!(expected_reply(bad).is_err(), "{bad}");
        }
    }

    #[derive(Default)]
    struct Seen {
        outcomes: Vec<char>,
        written: u64,
    }

    impl Receipts for Seen {
        fn completed(&mut self, n: u64) {
            self.outcomes.extend(std::iter::repeat_n('+', n as usize));
        }
        fn declined(&mut self) {
            self.outcomes.push('b');
        }
        fn delivered(&mut self, _: u64, _: u64) {}
        fn ready(&mut self) {}
        fn reply(&mut self, _: &[u8]) {}
        fn written(&self) -> u64 {
            self.written
        }
    }

    fn protocol() -> WorkProtocol {
        let mut s = WorkSettings::new("127.0.0.1:1".parse().unwrap());
        s.fast.conns = 1;
        s.slow.request = "FIB 20".into();
        WorkProtocol::new(&s).unwrap()
    }

    #[test]
    fn replies_split_anywhere_are_matched_in_order() {
        let p = protocol();
        let stream = b"FIB 20 6765\nERR busy\nFIB 20 6765\nERR busy try later\nFIB 20 6765\n";
        for cut in [1, 2, 5, 11, 12, 100] {
            let mut c = p.open(1);
            assert_eq!(c.class, 1);
            let mut seen = Seen {
                written: 5 * 7,
                ..Seen::default()
            };
            for piece in stream.chunks(cut) {
                p.receive(&mut c, piece, &mut seen).unwrap();
            }
            assert_eq!(seen.outcomes, ['+', 'b', '+', 'b', '+'], "cut {cut}");
            assert!(p.complete(&c, 5 * 7));
        }
    }

    #[test]
    fn wrong_values_other_errors_and_unasked_replies_are_faults() {
        let p = protocol();
        let mut seen = Seen {
            written: 14,
            ..Seen::default()
        };
        let mut c = p.open(1);
        match p.receive(&mut c, b"FIB 20 6765\nFIB 20 6766\n", &mut seen) {
            Err(Fault::Mismatch(m)) => {
                assert!(
                    m.contains("\"FIB 20 6766\"") && m.contains("reply 2"),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
        let mut c = p.open(1);
        match p.receive(&mut c, b"ERR bad-args\n", &mut seen) {
            Err(Fault::Refused(m)) => assert!(m.contains("ERR bad-args"), "{m}"),
            other => panic!("{other:?}"),
        }
        let mut c = p.open(1);
        let r = p.receive(
            &mut c,
            b"FIB 20 6765\nFIB 20 6765\nFIB 20 6765\n",
            &mut seen,
        );
        assert!(matches!(r, Err(Fault::Mismatch(m)) if m.contains("never sent")));
        // The fast class expects its own reply.
        let mut c = p.open(0);
        assert!(p.receive(&mut c, b"FIB 20 6765\n", &mut seen).is_err());
    }
}
