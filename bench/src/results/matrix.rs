//! The scenario matrix: which points `compare` runs, and how often.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::transport::TransportPlan;
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
        }
    }

    /// Whether an echo server can run it (externals run only these).
    pub fn is_echo(&self) -> bool {
        matches!(self, Group::EchoClosed | Group::EchoOpen | Group::Idle)
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
        }
    }

    /// The server app it needs.
    pub fn app(&self) -> &'static str {
        match self {
            Scenario::Chat { .. } => "chat",
            _ => "echo",
        }
    }

    /// Client connections it opens.
    pub fn conns(&self) -> usize {
        match self {
            Scenario::EchoClosed { conns, .. }
            | Scenario::EchoOpen { conns, .. }
            | Scenario::Idle { conns, .. } => *conns,
            Scenario::Chat { rooms, members, .. } => rooms * members,
        }
    }

    /// The x value in charts and tables (connections; chat: members per
    /// room).
    pub fn x(&self) -> f64 {
        match self {
            Scenario::Chat { members, .. } => *members as f64,
            s => s.conns() as f64,
        }
    }

    /// A short stable id, e.g. `echo-closed-100`.
    pub fn id(&self) -> String {
        match self {
            Scenario::EchoClosed { conns, .. } => format!("echo-closed-{conns}"),
            Scenario::EchoOpen { conns, rate, .. } => format!("echo-open-{conns}@{rate}"),
            Scenario::Idle { conns, .. } => format!("idle-{conns}"),
            Scenario::Chat { rooms, members, .. } => format!("chat-{rooms}x{members}"),
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
    /// A named matrix (`quick`, `full` — with the transport points —, `transports` — only
    /// those —, `tiny`) or a JSON file of a [`Matrix`].
    pub fn load(spec: &str) -> Result<Matrix> {
        match spec {
            "quick" => Ok(Matrix::standard("quick", 1, ms(500), ms(1500))),
            "full" => {
                let mut m = Matrix::standard("full", 3, ms(1000), ms(2500));
                m.transports = Some(TransportPlan::standard(3, ms(1000), ms(2500)));
                Ok(m)
            }
            "transports" => Ok(Matrix {
                name: "transports".into(),
                repeats: 3,
                points: Vec::new(),
                transports: Some(TransportPlan::standard(3, ms(1000), ms(2500))),
            }),
            "tiny" => Ok(Matrix::tiny()),
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

    /// A matrix of a few seconds in all, for tests.
    pub fn tiny() -> Matrix {
        let (w, d) = (ms(100), ms(300));
        Matrix {
            name: "tiny".into(),
            repeats: 1,
            transports: None,
            points: vec![
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
            ],
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
        let json = serde_json::to_string(&Matrix::tiny()).unwrap();
        let back: Matrix = serde_json::from_str(&json).unwrap();
        assert_eq!(back, Matrix::tiny());
        assert!(Matrix::load("/nonexistent/matrix.json").is_err());
    }
}
