//! `loadgen compare` with work points end to end: real `serve --app work`
//! processes started with the point's server options (inline and
//! offloaded), every reply verified, and the report's work section.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::time::Duration;

use support::{TempDir, loadgen, read_json, show};

/// Two short work points: the fast class alone inline, and beside a slow
/// class offloaded.
const MATRIX: &str = r#"{"name": "work-test", "repeats": 2, "points": [
 {"kind": "work", "mix": "alone", "fast": {"conns": 3, "request": "FIB 1", "rate": 150.0},
  "slow": {"conns": 0, "request": "PING", "rate": 1.0}, "offload": false, "workers": 1,
  "offload_threads": 2, "offload_queue": 8, "warmup": 0.1, "duration": 0.3},
 {"kind": "work", "mix": "cpu", "fast": {"conns": 3, "request": "FIB 1", "rate": 150.0},
  "slow": {"conns": 2, "request": "FIB 15", "rate": 20.0}, "offload": true, "workers": 1,
  "offload_threads": 2, "offload_queue": 8, "warmup": 0.1, "duration": 0.3}
]}"#;

#[test]
fn work_points_run_with_their_server_options_and_get_a_section() {
    let serve = conformance::process::serve_binary().unwrap();
    let dir = TempDir::new("work-compare");
    let matrix = dir.path("matrix.json");
    std::fs::write(&matrix, MATRIX).unwrap();
    let out = dir.path("run");
    let o = loadgen(
        &[
            "compare",
            "--matrix",
            matrix.to_str().unwrap(),
            "--impls",
            "threads",
            "--out",
            out.to_str().unwrap(),
            "--serve-bin",
            serve.to_str().unwrap(),
        ],
        Duration::from_secs(120),
    );
    assert!(o.status.success(), "{}", show(&o));
    let v = read_json(&out.join("results.json"));
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    for r in runs {
        let w = &r["result"];
        assert_eq!(w["type"], "work", "{r}");
        let command = r["server"]["command"].as_array().unwrap();
        let args: Vec<&str> = command.iter().map(|a| a.as_str().unwrap()).collect();
        assert!(args.windows(2).any(|p| p == ["--app", "work"]), "{args:?}");
        assert!(args.windows(2).any(|p| p == ["--workers", "1"]), "{args:?}");
        let offloaded = r["point"] == "work-cpu-offloaded";
        assert_eq!(args.contains(&"--offload"), offloaded, "{args:?}");
        assert_eq!(r["server"]["exit_code"], 0, "{r}");
        for class in ["fast", "slow"] {
            let c = &w[class];
            if c.is_null() {
                assert!(!offloaded);
                continue;
            }
            assert_eq!(c["errors"]["mismatches"], 0, "{c}");
            assert!(c["served"].as_u64().unwrap() > 0, "{c}");
        }
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    for needle in [
        "## Work: fast requests beside slow ones, inline and offloaded",
        "### Mix `cpu`: `FIB 1` beside `FIB 15`",
        "| threads | fast alone, inline |",
        "| threads | with slow, offloaded |",
        "- **threads**, `FIB 1` beside `FIB 15`: the fast class's p99 is",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
}
