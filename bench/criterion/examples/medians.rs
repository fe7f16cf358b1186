//! Prints the median time of every benchmark criterion has recorded, as Markdown tables: one row per
//! scenario with a column per variant for the server benches, one row per benchmark for the rest.
//!
//! ```sh
//! cargo run -p variant-benches --example medians -- [target/criterion]
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;
use variant_benches::Impl;

/// One recorded benchmark.
struct Entry {
    group: String,
    function: String,
    param: String,
    /// Median time in nanoseconds.
    median: f64,
}

fn main() {
    let root = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/criterion"));
    let mut files = Vec::new();
    find(&root, &mut files);
    let mut entries: Vec<Entry> = files.iter().filter_map(|dir| read(dir)).collect();
    if entries.is_empty() {
        eprintln!("no criterion results under {}", root.display());
        std::process::exit(1);
    }
    entries
        .sort_by(|a, b| (&a.group, &a.param, &a.function).cmp(&(&b.group, &b.param, &b.function)));

    let variants: Vec<&str> = Impl::ALL.iter().map(|imp| imp.name()).collect();
    let is_variant = |e: &Entry| variants.contains(&e.function.as_str());

    println!("| benchmark | {} |", variants.join(" | "));
    println!("|---|{}", "---:|".repeat(variants.len()));
    let mut rows: BTreeMap<(String, String), Vec<Option<f64>>> = BTreeMap::new();
    for e in entries.iter().filter(|e| is_variant(e)) {
        let row = rows
            .entry((e.group.clone(), e.param.clone()))
            .or_insert_with(|| vec![None; variants.len()]);
        if let Some(i) = variants.iter().position(|v| *v == e.function) {
            row[i] = Some(e.median);
        }
    }
    for ((group, param), cells) in &rows {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| c.map_or_else(|| "–".to_owned(), human))
            .collect();
        println!("| `{group}/{param}` | {} |", cells.join(" | "));
    }

    let others: Vec<&Entry> = entries.iter().filter(|e| !is_variant(e)).collect();
    if !others.is_empty() {
        println!();
        println!("| benchmark | median |");
        println!("|---|---:|");
        for e in others {
            println!(
                "| `{}/{}/{}` | {} |",
                e.group,
                e.function,
                e.param,
                human(e.median)
            );
        }
    }
}

/// Every `new` directory holding a `benchmark.json` below `dir`.
fn find(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(read) = fs::read_dir(dir) else { return };
    for entry in read.flatten() {
        let path = entry.path();
        if !path.is_dir() || path.file_name().is_some_and(|n| n == "report") {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") && path.join("benchmark.json").is_file() {
            out.push(path);
        } else {
            find(&path, out);
        }
    }
}

fn read(dir: &Path) -> Option<Entry> {
    let load = |name: &str| -> Option<Value> {
        serde_json::from_str(&fs::read_to_string(dir.join(name)).ok()?).ok()
    };
    let bench = load("benchmark.json")?;
    let estimates = load("estimates.json")?;
    let text = |key: &str| {
        bench
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Some(Entry {
        group: text("group_id"),
        function: text("function_id"),
        param: text("value_str"),
        median: estimates.get("median")?.get("point_estimate")?.as_f64()?,
    })
}

/// A duration in nanoseconds, in the unit criterion would print.
fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}
