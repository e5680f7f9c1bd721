//! ARCHITECTURE.md's crate table is checked against `cargo metadata`: every workspace crate has
//! a row, and its "depends on" column names exactly the crate's `berth-*` dependencies. A new
//! crate or dependency edge that the page does not tell fails here.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The workspace's crates and their normal `berth-*` dependencies, from cargo.
fn cargo_graph(root: &Path) -> Graph {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut graph = Graph::new();
    for p in meta["packages"].as_array().unwrap() {
        let deps = p["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["kind"].is_null())
            .map(|d| d["name"].as_str().unwrap().to_owned())
            .filter(|n| n.starts_with("berth"))
            .collect();
        graph.insert(p["name"].as_str().unwrap().to_owned(), deps);
    }
    graph
}

/// Names in backticks in one table cell.
fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The rows of the table whose header is `| crate | owns | depends on |`.
fn documented_graph(text: &str) -> Graph {
    let mut graph = Graph::new();
    let mut in_table = false;
    for line in text.lines() {
        if line.starts_with("| crate | owns | depends on |") {
            in_table = true;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        if !line.starts_with('|') {
            break;
        }
        // `\|` is a pipe inside a cell (markdown's escape), not a cell border.
        let line = line.replace("\\|", "/");
        let cells: Vec<&str> = line.split('|').collect();
        let name = backticked(cells[1]).pop().unwrap();
        let deps = backticked(cells[3])
            .into_iter()
            .filter(|n| n.starts_with("berth"))
            .collect();
        assert!(graph.insert(name.clone(), deps).is_none(), "{name} twice");
    }
    graph
}

#[test]
fn crate_table_matches_cargo_metadata() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let documented = documented_graph(&doc);
    let real = cargo_graph(&root);
    for (name, deps) in &real {
        let Some(said) = documented.get(name) else {
            panic!("ARCHITECTURE.md's crate table has no row for {name}");
        };
        assert_eq!(said, deps, "ARCHITECTURE.md: what {name} depends on");
    }
    for name in documented.keys() {
        assert!(
            real.contains_key(name),
            "ARCHITECTURE.md lists {name}, cargo does not"
        );
    }
}
