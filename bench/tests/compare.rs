//! `loadgen compare` end to end on the tiny matrix (real `serve` processes,
//! all three variants), `loadgen report` merging two result sets, and the
//! chat scenario against every variant in-process.

#![allow(clippy::unwrap_used)] // test code: failures should panic

mod support;

use std::path::PathBuf;
use std::time::Duration;

use serve::{App, Config, Impl, RunningServer};
use support::{TempDir, loadgen, show};

/// The serve binary, built with this test's profile (once).
fn serve_binary() -> PathBuf {
    conformance::process::serve_binary().unwrap()
}

fn read(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn tiny_matrix_end_to_end_and_merged_report() {
    let serve = serve_binary();
    let dir = TempDir::new("compare");
    let out = dir.path("run");
    let out_s = out.to_str().unwrap();
    let o = loadgen(
        &[
            "compare",
            "--matrix",
            "tiny",
            "--out",
            out_s,
            "--serve-bin",
            serve.to_str().unwrap(),
        ],
        Duration::from_secs(180),
    );
    assert!(o.status.success(), "{}", show(&o));
    for f in [
        "results.json",
        "results.csv",
        "report.md",
        "throughput_vs_conns.svg",
        "p99_vs_conns.svg",
        "rss_per_conn.svg",
        "cpu_per_msg.svg",
        "chat_fanout_latency.svg",
    ] {
        assert!(out.join(f).is_file(), "{f} missing: {}", show(&o));
    }
    let v = read(&out.join("results.json"));
    assert_eq!(v["format"], "loadgen-compare/1");
    assert!(v["meta"]["machine"]["cpus_online"].as_u64().unwrap() >= 1);
    assert!(v["meta"]["command_line"].as_array().unwrap().len() > 3);
    let points = v["settings"]["matrix"]["points"].as_array().unwrap().len();
    let runs = v["runs"].as_array().unwrap();
    let variants: Vec<&str> = serve::Impl::ALL
        .iter()
        .filter(|i| i.unavailable_reason().is_none())
        .map(|i| i.name())
        .collect();
    assert_eq!(runs.len(), points * variants.len());
    for &imp in &variants {
        let mine: Vec<_> = runs.iter().filter(|r| r["variant"] == imp).collect();
        assert_eq!(mine.len(), points, "{imp}");
        for r in mine {
            let kind = r["result"]["type"].as_str().unwrap();
            assert!(
                ["echo", "conns", "chat", "churn", "ceiling", "capacity"].contains(&kind),
                "{imp} {}: {}",
                r["point"],
                r["result"]
            );
            let s = &r["server"];
            assert_eq!(s["exit_code"], 0, "{imp}: {s}");
            assert_eq!(s["exited_in_time"], true, "{imp}: {s}");
            assert!(
                !s["cpus"].as_array().unwrap().is_empty()
                    || v["settings"]["pinning_note"].is_string()
            );
            // Idle chat clients sit in rooms of their own: nothing is delivered.
            if kind == "chat" && !r["point"].as_str().unwrap().starts_with("chat-idle") {
                let c = &r["result"];
                assert_eq!(c["lost"], 0, "{c}");
                assert_eq!(c["reordered"], 0, "{c}");
                assert_eq!(c["duplicated"], 0, "{c}");
                assert!(c["deliveries"].as_u64().unwrap() > 0, "{c}");
                assert!(!c["latency"]["v2_base64"].as_str().unwrap().is_empty());
            }
        }
    }
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + points * variants.len());
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let columns = variants.join(" | ");
    for needle in [
        "## Set-up".to_string(),
        "## Verdict: threads or async, for what?".to_string(),
        // The tiny matrix runs each point once: it may not rank.
        "cannot rank the variants".to_string(),
        format!(
            "| throughput (/s) {} | {columns} |",
            loadgen::report::text::RATIO_NOTE
        ),
        "(1.00×)".to_string(),
        "Chat fan-out, one room".to_string(),
        format!(
            "| p99 latency from the intended send time {} | {columns} |",
            loadgen::report::text::RATIO_NOTE
        ),
        "server CPU-µs per delivery".to_string(),
        "Jain's index".to_string(),
        "## Appendix: further figures".to_string(),
        "Idle connection scale".to_string(),
        "![".to_string(),
        "## What a connection costs".to_string(),
        "user bytes per connection (server RSS)".to_string(),
        "### The connection ceiling".to_string(),
        "none: all 40 asked for were served".to_string(),
        "### Churn: new connections per second per server core".to_string(),
        "capacity: new conns/s offered at the objective".to_string(),
    ] {
        assert!(md.contains(&needle), "report.md lacks {needle:?}:\n{md}");
    }

    // Two result sets merged: histograms add up.
    let merged = dir.path("merged");
    let o = loadgen(
        &["report", out_s, out_s, "--out", merged.to_str().unwrap()],
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", show(&o));
    let md2 = std::fs::read_to_string(merged.join("report.md")).unwrap();
    assert!(md2.contains("2 result sets merged"), "{md2}");
    let csv2 = std::fs::read_to_string(merged.join("results.csv")).unwrap();
    assert_eq!(csv2.lines().count(), 1 + 2 * points * variants.len());
    let one = loadgen::report::read_results(&out.join("results.json")).unwrap();
    let agg1 = loadgen::report::aggregate(std::slice::from_ref(&one)).unwrap();
    let agg2 = loadgen::report::aggregate(&[one.clone(), one]).unwrap();
    for (k, c1) in &agg1.cells {
        let c2 = &agg2.cells[k];
        assert_eq!(c2.runs, 2 * c1.runs);
        if let (Some(h1), Some(h2)) = (&c1.histogram, &c2.histogram) {
            assert_eq!(h2.len(), 2 * h1.len(), "{k:?}");
            assert_eq!(h2.value_at_quantile(0.99), h1.value_at_quantile(0.99));
        }
    }
    // Regenerating in place works too.
    let o = loadgen(&["report", out_s], Duration::from_secs(60));
    assert!(o.status.success(), "{}", show(&o));
    // Against a baseline (itself): every finding is compared.
    let against = dir.path("against");
    let o = loadgen(
        &[
            "report",
            out_s,
            "--baseline",
            out_s,
            "--out",
            against.to_str().unwrap(),
        ],
        Duration::from_secs(60),
    );
    assert!(o.status.success(), "{}", show(&o));
    let md3 = std::fs::read_to_string(against.join("report.md")).unwrap();
    assert!(md3.contains("## Against the baseline"), "{md3}");
    assert!(md3.contains("cannot tell"), "{md3}");
    assert!(!md3.contains("Different machine"), "{md3}");
}

#[test]
fn textbook_servers_join_the_echo_points() {
    let serve = serve_binary();
    // `compare --textbook` looks for the textbook binary next to loadgen.
    conformance::process::build_binary("textbook", None).unwrap();
    let dir = TempDir::new("compare-textbook");
    let out = dir.path("run");
    let o = loadgen(
        &[
            "compare",
            "--matrix",
            "tiny",
            "--impls",
            "tokio",
            "--textbook",
            "--out",
            out.to_str().unwrap(),
            "--serve-bin",
            serve.to_str().unwrap(),
        ],
        Duration::from_secs(180),
    );
    assert!(o.status.success(), "{}", show(&o));
    let v = read(&out.join("results.json"));
    let points = v["settings"]["matrix"]["points"].as_array().unwrap();
    // External servers run the echo points: not chat, idle chat clients or capacity searches.
    let echo_points = points
        .iter()
        .filter(|p| !["chat", "chat-idle", "capacity"].contains(&p["kind"].as_str().unwrap()))
        .count();
    let runs = v["runs"].as_array().unwrap();
    let textbook: Vec<_> = runs
        .iter()
        .filter(|r| r["variant"] == "textbook-tokio")
        .collect();
    assert_eq!(textbook.len(), echo_points, "{}", show(&o));
    for r in textbook {
        let kind = r["result"]["type"].as_str().unwrap();
        assert!(
            ["echo", "conns", "ceiling", "churn"].contains(&kind),
            "{}: {}",
            r["point"],
            r["result"]
        );
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("| variant textbook-tokio | external:"), "{md}");
}

#[test]
fn chat_scenario_checks_every_variant() {
    for imp in [Impl::Threads, Impl::Tokio, Impl::AsyncStd] {
        let server = RunningServer::start(imp, App::Chat, Config::default()).unwrap();
        let mut s = loadgen::chat::ChatSettings::new(server.addr());
        s.rooms = 2;
        s.members = 4;
        s.senders = 3;
        s.rate = 600.0;
        s.warmup = Duration::from_millis(100);
        s.duration = Duration::from_millis(400);
        s.server_pid = Some(std::process::id());
        let r = loadgen::chat::run(&s).unwrap();
        assert_eq!(r.joined, 8, "{imp}: {r:?}");
        assert_eq!(r.error_count(), 0, "{imp}: {:?}", r.first_error);
        assert!(r.drained, "{imp}");
        assert!(r.sent_total > 0);
        // Each message reaches the other 3 members of its room.
        assert_eq!(r.deliveries_total, r.sent_total * 3, "{imp}");
        assert_eq!(r.deliveries_expected, r.sent_total * 3, "{imp}");
        assert!(r.latency.summary.count > 0);
        assert_eq!(r.latency_corrected.summary.count, r.latency.summary.count);
        // The intended send time is never after the actual one.
        assert!(r.latency_corrected.summary.max_us + 1 >= r.latency.summary.max_us);
        assert!(r.cost.server.is_some());
    }
}

#[test]
fn transport_points_run_every_transport_and_report_them() {
    let serve = serve_binary();
    let dir = TempDir::new("compare-transports");
    let matrix = dir.path("matrix.json");
    std::fs::write(
        &matrix,
        r#"{"name":"transports-tiny","repeats":1,"points":[],"transports":{"conns":4,"size":64,
            "warmup":0.1,"duration":0.3,"churn_rate":50.0,"churn_duration":0.3,"repeats":1}}"#,
    )
    .unwrap();
    let out = dir.path("run");
    let o = loadgen(
        &[
            "compare",
            "--matrix",
            matrix.to_str().unwrap(),
            "--impls",
            "tokio,mio",
            "--out",
            out.to_str().unwrap(),
            "--serve-bin",
            serve.to_str().unwrap(),
        ],
        Duration::from_secs(180),
    );
    assert!(o.status.success(), "{}", show(&o));
    let v = read(&out.join("results.json"));
    let runs = v["transports"].as_array().unwrap();
    // 5 points × 2 variants × 1 repeat.
    assert_eq!(runs.len(), 10);
    let outcome = |point: &str, variant: &str| -> serde_json::Value {
        runs.iter()
            .find(|r| r["point"] == point && r["variant"] == variant)
            .unwrap()["outcome"]
            .clone()
    };
    for point in ["transport-echo-tcp-4", "transport-echo-unix-4"] {
        for variant in ["tokio", "mio"] {
            let o = outcome(point, variant);
            assert_eq!(o["type"], "echo", "{point} {variant}: {o}");
            assert!(o["errors"].as_object().unwrap().values().all(|n| n == 0));
        }
    }
    let tls = outcome("transport-echo-tls-4", "tokio");
    assert_eq!(tls["connect"]["tls"]["full"], 4, "{tls}");
    let churn = outcome("transport-churn-tls-resumed", "tokio");
    assert_eq!(churn["type"], "churn", "{churn}");
    let hs = &churn["connect"]["tls"];
    assert_eq!(
        hs["full"].as_u64().unwrap() + hs["resumed"].as_u64().unwrap(),
        churn["completed"].as_u64().unwrap()
    );
    // A variant that does not serve TLS is skipped, saying why; the report says it too.
    if let Some(reason) = Impl::Mio.tls_unsupported_reason(serve::App::Echo) {
        assert_eq!(outcome("transport-echo-tls-4", "mio")["reason"], reason);
    }
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("## Transports: TLS and unix sockets"), "{md}");
    assert!(md.contains("| tokio |"), "{md}");
    assert!(
        md.contains("Over a unix socket, echo throughput is"),
        "{md}"
    );
}
