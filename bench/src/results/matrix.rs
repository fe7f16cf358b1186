//! The scenario matrix: which points `compare` runs, and how often.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::transport::TransportPlan;
use super::work_matrix::WorkPoint;
use crate::error::{Error, Result};
use crate::util::serde_secs;

/// One scenario at one size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Scenario {
    /// Echo, closed loop, one message in flight per connection.
    EchoClosed {
        /// Connections.
        conns: usize,
        /// Message size, bytes.
        size: usize,
        /// Warm-up.
        #[serde(with = "serde_secs")]
        warmup: Duration,
        /// Measured window.
        #[serde(with = "serde_secs")]
        duration: Duration,
    },
    /// Echo, open loop at a fixed rate.
    EchoOpen {
        /// Connections.
        conns: usize,
        /// Messages per second over all connections.
        rate: f64,
        /// Message size, bytes.
        size: usize,
        /// Warm-up.
        #[serde(with = "serde_secs")]
        warmup: Duration,
        /// Measured window.
        #[serde(with = "serde_secs")]
        duration: Duration,
    },
    /// Idle connections held open (probed once), for memory and threads.
    Idle {
        /// Connections.
        conns: usize,
        /// How long they are held.
        #[serde(with = "serde_secs")]
        hold: Duration,
    },
    /// Chat fan-out.
    Chat {
        /// Rooms.
        rooms: usize,
        /// Members per room.
        members: usize,
        /// Senders over all rooms.
        senders: usize,
        /// Messages per second over all senders.
        rate: f64,
        /// Text size, bytes.
        size: usize,
        /// Warm-up.
        #[serde(with = "serde_secs")]
        warmup: Duration,
        /// Measured window.
        #[serde(with = "serde_secs")]
        duration: Duration,
    },
    /// A capacity search (`loadgen capacity`): the highest offered rate
    /// meeting a p99 objective with nothing lost and nothing behind.
    Capacity {
        /// What is searched.
        target: CapacityTarget,
        /// The objective: highest acceptable p99 from the intended send, µs.
        p99_us: u64,
        /// First rate tried, per second.
        start_rate: f64,
        /// Highest rate tried.
        max_rate: f64,
        /// Factor between ramp steps.
        factor: f64,
        /// Stop bisecting when within this fraction.
        precision: f64,
        /// Warm-up of each step.
        #[serde(with = "serde_secs")]
        warmup: Duration,
        /// Measured window of each step.
        #[serde(with = "serde_secs")]
        duration: Duration,
        /// Runs of this point per variant, if not the matrix's (a search
        /// is many runs).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeats: Option<u32>,
    },
    /// The work app: fast requests beside slow ones, inline or offloaded.
    Work(WorkPoint),
    /// Idle chat clients: each joined to a room of its own, nothing sent but one client's
    /// 1 msg/s to its own room (no recipient), for memory per connection.
    ChatIdle {
        /// Clients (= rooms).
        clients: usize,
        /// How long they are held after joining.
        #[serde(with = "serde_secs")]
        hold: Duration,
    },
    /// The connection ceiling (`loadgen ceiling`): open up to `conns` echo connections from several
    /// source addresses and name the limit that stopped it.
    Ceiling {
        /// Connections asked for.
        conns: usize,
        /// How long they are held once open.
        #[serde(with = "serde_secs")]
        hold: Duration,
        /// Runs of this point per variant, if not the matrix's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        repeats: Option<u32>,
    },
    /// Connection churn over plain TCP (`loadgen churn`): new connections at an offered rate, each
    /// one echo round trip, then closed.
    Churn {
        /// Offered new connections per second (open loop).
        rate: f64,
        /// Bytes of the one round trip.
        size: usize,
        /// How long they are offered.
        #[serde(with = "serde_secs")]
        duration: Duration,
    },
}

/// What a capacity point searches: open-loop echo or chat fan-out (the
/// rate is the search's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "app", rename_all = "kebab-case")]
pub enum CapacityTarget {
    /// Echo, open loop.
    Echo {
        /// Connections.
        conns: usize,
        /// Message size, bytes.
        size: usize,
    },
    /// Chat fan-out; the rate is messages/s over all senders.
    Chat {
        /// Rooms.
        rooms: usize,
        /// Members per room.
        members: usize,
        /// Senders over all rooms.
        senders: usize,
        /// Text size, bytes.
        size: usize,
    },
    /// Echo connection churn; the rate is new connections per second, the objective applies to
    /// the whole round trip (connect, one echo, from the attempt's scheduled start).
    Churn {
        /// Bytes of the one round trip.
        size: usize,
    },
}

/// The groups of points that share a table and a chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Echo closed loop over connection counts.
    EchoClosed,
    /// Echo open loop.
    EchoOpen,
    /// Idle connection scale.
    Idle,
    /// Chat, one room, growing membership.
    ChatFanout,
    /// Chat, many rooms.
    ChatRooms,
    /// Capacity searches at a latency objective.
    Capacity,
    /// The work app (its own report section).
    Work,
    /// Idle chat clients (memory per connection).
    ChatIdle,
    /// The connection ceiling.
    Ceiling,
    /// Connection churn at a fixed offered rate.
    Churn,
}

impl Group {
    /// A title for tables.
    pub fn title(&self) -> &'static str {
        match self {
            Group::EchoClosed => "Echo, closed loop (1 message in flight per connection)",
            Group::EchoOpen => "Echo, open loop (fixed rate, coordinated-omission corrected)",
            Group::Idle => "Idle connection scale",
            Group::ChatFanout => "Chat fan-out, one room",
            Group::ChatRooms => "Chat, many rooms",
            Group::Capacity => "Capacity at the latency objective (capacity search)",
            Group::Work => "Work: fast requests beside slow ones, inline and offloaded",
            Group::ChatIdle => "Idle chat clients",
            Group::Ceiling => "The connection ceiling",
            Group::Churn => "Connection churn",
        }
    }

    /// Whether an echo server can run it (externals run only these).
    pub fn is_echo(&self) -> bool {
        matches!(
            self,
            Group::EchoClosed | Group::EchoOpen | Group::Idle | Group::Ceiling | Group::Churn
        )
    }
}

impl Scenario {
    /// Which group it belongs to.
    pub fn group(&self) -> Group {
        match self {
            Scenario::EchoClosed { .. } => Group::EchoClosed,
            Scenario::EchoOpen { .. } => Group::EchoOpen,
            Scenario::Idle { .. } => Group::Idle,
            Scenario::Chat { rooms: 1, .. } => Group::ChatFanout,
            Scenario::Chat { .. } => Group::ChatRooms,
            Scenario::Work(_) => Group::Work,
            Scenario::ChatIdle { .. } => Group::ChatIdle,
            Scenario::Ceiling { .. } => Group::Ceiling,
            Scenario::Churn { .. } => Group::Churn,
            Scenario::Capacity { .. } => Group::Capacity,
        }
    }

    /// The server app it needs.
    pub fn app(&self) -> &'static str {
        match self {
            Scenario::Chat { .. }
            | Scenario::ChatIdle { .. }
            | Scenario::Capacity {
                target: CapacityTarget::Chat { .. },
                ..
            } => "chat",
            Scenario::Work(_) => "work",
            _ => "echo",
        }
    }

    /// Client connections it opens.
    pub fn conns(&self) -> usize {
        match self {
            Scenario::EchoClosed { conns, .. }
            | Scenario::EchoOpen { conns, .. }
            | Scenario::Idle { conns, .. } => *conns,
            Scenario::Chat { rooms, members, .. }
            | Scenario::Capacity {
                target: CapacityTarget::Chat { rooms, members, .. },
                ..
            } => rooms * members,
            Scenario::Capacity {
                target: CapacityTarget::Echo { conns, .. },
                ..
            } => *conns,
            Scenario::Work(w) => w.conns(),
            Scenario::ChatIdle { clients, .. } => *clients,
            Scenario::Ceiling { conns, .. } => *conns,
            // Open, one round trip, closed: few at a time.
            Scenario::Churn { .. }
            | Scenario::Capacity {
                target: CapacityTarget::Churn { .. },
                ..
            } => 1,
        }
    }

    /// The x value in charts and tables (connections; chat: members per
    /// room).
    pub fn x(&self) -> f64 {
        match self {
            Scenario::Chat { members, .. } => *members as f64,
            Scenario::Churn { rate, .. } => *rate,
            s => s.conns() as f64,
        }
    }

    /// Runs per variant of this point: its own count if it has one, else
    /// the matrix's `default`.
    pub fn repeats(&self, default: u32) -> u32 {
        match self {
            Scenario::Capacity {
                repeats: Some(r), ..
            }
            | Scenario::Ceiling {
                repeats: Some(r), ..
            } => *r,
            _ => default,
        }
    }

    /// A short stable id, e.g. `echo-closed-100`.
    pub fn id(&self) -> String {
        match self {
            Scenario::EchoClosed { conns, .. } => format!("echo-closed-{conns}"),
            Scenario::EchoOpen { conns, rate, .. } => format!("echo-open-{conns}@{rate}"),
            Scenario::Idle { conns, .. } => format!("idle-{conns}"),
            Scenario::Chat { rooms, members, .. } => format!("chat-{rooms}x{members}"),
            Scenario::Capacity { target, p99_us, .. } => match target {
                CapacityTarget::Echo { conns, .. } => {
                    format!("capacity-echo-{conns}@p99<={p99_us}us")
                }
                CapacityTarget::Chat { rooms, members, .. } => {
                    format!("capacity-chat-{rooms}x{members}@p99<={p99_us}us")
                }
                CapacityTarget::Churn { .. } => format!("capacity-churn@p99<={p99_us}us"),
            },
            Scenario::Work(w) => w.id(),
            Scenario::ChatIdle { clients, .. } => format!("chat-idle-{clients}"),
            Scenario::Ceiling { conns, .. } => format!("ceiling-{conns}"),
            Scenario::Churn { rate, .. } => format!("churn-echo@{rate}"),
        }
    }

    /// A human description.
    pub fn describe(&self) -> String {
        match self {
            Scenario::EchoClosed {
                conns,
                size,
                warmup,
                duration,
            } => format!(
                "{conns} conns, {size} B, warm-up {:.1} s, {:.1} s",
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            ),
            Scenario::EchoOpen {
                conns,
                rate,
                size,
                warmup,
                duration,
            } => format!(
                "{conns} conns at {rate} msg/s, {size} B, warm-up {:.1} s, {:.1} s",
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            ),
            Scenario::Idle { conns, hold } => {
                format!("{conns} idle conns held {:.1} s", hold.as_secs_f64())
            }
            Scenario::Chat {
                rooms,
                members,
                senders,
                rate,
                size,
                warmup,
                duration,
            } => format!(
                "{rooms} room(s) x {members} members, {senders} senders at {rate} msg/s, {size} B, \
                 warm-up {:.1} s, {:.1} s",
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            ),
            Scenario::Capacity {
                target,
                p99_us,
                start_rate,
                max_rate,
                factor,
                precision,
                warmup,
                duration,
                ..
            } => format!(
                "capacity search, {}: highest offered rate with p99 from the intended send ≤ \
                 {p99_us} µs, nothing lost or unsent and the achieved rate within 1 % of the offered; \
                 rates from {start_rate} {} ×{factor} up to {max_rate}, then bisected to {:.0} %; \
                 each step warm-up {:.1} s, {:.1} s",
                match target {
                    CapacityTarget::Echo { conns, size } =>
                        format!("echo open loop, {conns} conns × {size} B"),
                    CapacityTarget::Chat {
                        rooms,
                        members,
                        senders,
                        size,
                    } => format!(
                        "chat, {rooms} room(s) × {members} members, {senders} senders, {size} B (rate = messages/s over all senders)"
                    ),
                    CapacityTarget::Churn { size } => format!(
                        "echo churn, each new connection one round trip of {size} B then closed \
                         (rate = new connections/s; latency = the whole round trip from the \
                         attempt's scheduled start)"
                    ),
                },
                match target {
                    CapacityTarget::Churn { .. } => "new conns/s",
                    _ => "msg/s",
                },
                precision * 100.0,
                warmup.as_secs_f64(),
                duration.as_secs_f64()
            ),
            Scenario::Work(w) => w.describe(),
            Scenario::ChatIdle { clients, hold } => format!(
                "{clients} chat clients, each joined to a room of its own, held {:.1} s; nothing \
                 sent but one client's 1 msg/s to its own room (no recipient)",
                hold.as_secs_f64()
            ),
            Scenario::Ceiling { conns, hold, .. } => format!(
                "up to {conns} echo connections from 127.0.0.2–5 (server --max-conns {}), each \
                 probed once, held {:.1} s; the limit that stopped it named",
                super::conn_cost_matrix::CEILING_MAX_CONNS,
                hold.as_secs_f64()
            ),
            Scenario::Churn {
                rate,
                size,
                duration,
            } => format!(
                "{rate} new connections/s offered for {:.1} s from 127.0.0.2–5, each one echo \
                 round trip of {size} B then closed",
                duration.as_secs_f64()
            ),
        }
    }

    /// The server's options beyond `--impl`, `--app`, `--addr` and
    /// `--max-conns`.
    pub fn server_args(&self) -> Vec<String> {
        match self {
            Scenario::Work(w) => w.server_args(),
            Scenario::Ceiling { .. } => vec![
                "--max-conns".into(),
                super::conn_cost_matrix::CEILING_MAX_CONNS.to_string(),
            ],
            _ => Vec::new(),
        }
    }
}

/// The points and how many times each is repeated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// `quick`, `full`, `tiny` or the file name.
    pub name: String,
    /// Runs per point and variant.
    pub repeats: u32,
    /// The points, in order.
    pub points: Vec<Scenario>,
    /// The transport points (TLS and unix-socket echo beside TCP, TLS churn), run after the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transports: Option<super::transport::TransportPlan>,
}

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

impl Matrix {
    /// A named matrix (`quick`, `full` — with the capacity, churn and transport points —,
    /// `transports` — only those —, `work`, `conn-cost` — what a connection costs —, `tiny`) or a
    /// JSON file of a [`Matrix`].
    pub fn load(spec: &str) -> Result<Matrix> {
        match spec {
            "quick" => Ok(Matrix::standard("quick", 1, ms(500), ms(1500))),
            "full" => {
                let mut m = Matrix::standard("full", 3, ms(1000), ms(2000)).with_capacity(2);
                m.points.push(super::conn_cost_matrix::churn_point());
                m.transports = Some(TransportPlan::standard(3, ms(1000), ms(2000)));
                Ok(m)
            }
            "transports" => Ok(Matrix {
                name: "transports".into(),
                repeats: 3,
                points: Vec::new(),
                transports: Some(TransportPlan::standard(3, ms(1000), ms(2500))),
            }),
            "tiny" => Ok(Matrix::tiny()),
            "work" => Ok(Matrix::work()),
            "conn-cost" => Ok(super::conn_cost_matrix::matrix()),
            path => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| Error::io(format!("reading matrix file {path}"), e))?;
                let m: Matrix = serde_json::from_str(&text)
                    .map_err(|e| Error::InvalidSettings(format!("matrix file {path}: {e}")))?;
                if (m.points.is_empty() && m.transports.is_none()) || m.repeats == 0 {
                    return Err(Error::InvalidSettings(format!(
                        "matrix file {path}: needs points and repeats >= 1"
                    )));
                }
                Ok(m)
            }
        }
    }

    /// The standard matrix with the given repeats and timing.
    pub fn standard(name: &str, repeats: u32, warmup: Duration, duration: Duration) -> Matrix {
        let mut points = Vec::new();
        for conns in [1, 10, 100, 1000, 10_000] {
            points.push(Scenario::EchoClosed {
                conns,
                size: 64,
                warmup,
                duration,
            });
        }
        points.push(Scenario::EchoOpen {
            conns: 100,
            rate: 20_000.0,
            size: 64,
            warmup,
            duration: duration + warmup,
        });
        for conns in [100, 1000, 5000, 9000] {
            points.push(Scenario::Idle {
                conns,
                hold: duration.min(ms(1500)),
            });
        }
        for (members, senders, rate) in [(10, 10, 4000.0), (100, 10, 400.0), (1000, 10, 40.0)] {
            points.push(Scenario::Chat {
                rooms: 1,
                members,
                senders,
                rate,
                size: 64,
                warmup,
                duration,
            });
        }
        points.push(Scenario::Chat {
            rooms: 100,
            members: 10,
            senders: 100,
            rate: 4000.0,
            size: 64,
            warmup,
            duration,
        });
        Matrix {
            name: name.into(),
            repeats,
            points,
            transports: None,
        }
    }

    /// The matrix with the capacity points added, each run `repeats` times
    /// per variant: echo at 100 and 1 000 connections with p99 ≤ 1 ms, chat
    /// 1 room × 1 000 members (10 senders) with p99 ≤ 50 ms.
    pub fn with_capacity(mut self, repeats: u32) -> Matrix {
        let step = |target, p99_us, start_rate, max_rate| Scenario::Capacity {
            target,
            p99_us,
            start_rate,
            max_rate,
            factor: 2.0,
            precision: 0.25,
            warmup: ms(500),
            duration: ms(1000),
            repeats: Some(repeats),
        };
        for conns in [100, 1000] {
            self.points.push(step(
                CapacityTarget::Echo { conns, size: 64 },
                1000,
                20_000.0,
                1_000_000.0,
            ));
        }
        self.points.push(step(
            CapacityTarget::Chat {
                rooms: 1,
                members: 1000,
                senders: 10,
                size: 64,
            },
            50_000,
            40.0,
            10_000.0,
        ));
        self
    }

    /// The work app's points ([`super::work_matrix::points`]), 3 times
    /// each: about 6 minutes with six variants.
    pub fn work() -> Matrix {
        Matrix {
            name: "work".into(),
            repeats: 3,
            points: super::work_matrix::points(ms(500), ms(2000))
                .into_iter()
                .map(Scenario::Work)
                .collect(),
            transports: None,
        }
    }

    /// A matrix of a few seconds in all, for tests.
    pub fn tiny() -> Matrix {
        let (w, d) = (ms(100), ms(300));
        Matrix {
            name: "tiny".into(),
            repeats: 1,
            transports: None,
            points: [
                Scenario::EchoClosed {
                    conns: 1,
                    size: 64,
                    warmup: w,
                    duration: d,
                },
                Scenario::EchoClosed {
                    conns: 20,
                    size: 64,
                    warmup: w,
                    duration: d,
                },
                Scenario::EchoOpen {
                    conns: 10,
                    rate: 2000.0,
                    size: 64,
                    warmup: w,
                    duration: d,
                },
                Scenario::Idle { conns: 50, hold: d },
                Scenario::Chat {
                    rooms: 1,
                    members: 5,
                    senders: 2,
                    rate: 500.0,
                    size: 64,
                    warmup: w,
                    duration: d,
                },
                Scenario::Chat {
                    rooms: 3,
                    members: 3,
                    senders: 3,
                    rate: 300.0,
                    size: 64,
                    warmup: w,
                    duration: d,
                },
            ]
            .into_iter()
            .chain(super::conn_cost_matrix::tiny_points())
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_matrices() {
        let q = Matrix::load("quick").unwrap();
        assert_eq!(q.repeats, 1);
        assert!(q.points.iter().any(|p| p.conns() == 10_000));
        let f = Matrix::load("full").unwrap();
        assert!(f.repeats >= 3);
        let caps: Vec<String> = f
            .points
            .iter()
            .filter(|p| p.group() == Group::Capacity)
            .map(|p| p.id())
            .collect();
        assert_eq!(
            caps,
            [
                "capacity-echo-100@p99<=1000us",
                "capacity-echo-1000@p99<=1000us",
                "capacity-chat-1x1000@p99<=50000us"
            ]
        );
        assert!(f.points.iter().all(|p| p.repeats(f.repeats) >= 2));
        let json = serde_json::to_string(&Matrix::tiny()).unwrap();
        let back: Matrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Matrix::tiny());
        assert!(Matrix::load("/nonexistent/matrix.json").is_err());
        assert!(f.points.iter().any(|p| p.group() == Group::Churn));
        let c = Matrix::load("conn-cost").unwrap();
        let ids: Vec<String> = c.points.iter().map(Scenario::id).collect();
        for id in [
            "idle-10000",
            "chat-idle-10000",
            "echo-closed-100",
            "echo-closed-1000",
            "chat-1x1000",
            "ceiling-19000",
            "churn-echo@1000",
            "capacity-churn@p99<=5000us",
        ] {
            assert!(ids.contains(&id.to_string()), "{id} not in {ids:?}");
        }
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Matrix>(&json).unwrap(), c);
        let w = Matrix::load("work").unwrap();
        assert!(w.repeats >= 3 && w.points.iter().all(|p| p.app() == "work"));
        let json = serde_json::to_string(&w).unwrap();
        assert_eq!(serde_json::from_str::<Matrix>(&json).unwrap(), w);
    }
}
