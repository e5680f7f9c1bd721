//! Logging and error reporting: runc's shapes, so callers that parse runc's output parse ours.

use std::io::Write;

use crate::cli::Global;

/// Where `report` also writes errors, set once at start.
static LOG: std::sync::OnceLock<(std::path::PathBuf, bool)> = std::sync::OnceLock::new();

/// Sets up tracing (to the log file when given, else stderr) at warn level, debug with --debug.
pub fn init(g: &Global) {
    // A plain level filter: EnvFilter would link a regex engine into a binary that is copied into
    // a sealed memfd on every create/run/exec.
    let level = if g.debug {
        tracing_subscriber::filter::LevelFilter::DEBUG
    } else {
        tracing_subscriber::filter::LevelFilter::WARN
    };
    let json = g.log_format == "json";
    if let Some(path) = &g.log {
        let _ = LOG.set((path.clone(), json));
    }
    let builder = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false);
    match g.log.as_ref().and_then(|p| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .ok()
    }) {
        Some(f) if json => builder.json().with_writer(std::sync::Mutex::new(f)).init(),
        Some(f) => builder.with_writer(std::sync::Mutex::new(f)).init(),
        None => builder.with_writer(std::io::stderr).init(),
    }
}

/// Prints a command's failure on stderr, and in the log file, as runc does.
pub fn report(e: &anyhow::Error) {
    let msg = format!("{e:#}");
    // runc's line shape (logfmt with level=error): callers and test suites look for it.
    eprintln!(
        "time={:?} level=error msg={msg:?}",
        berth_runtime::container::now_rfc3339()
    );
    if let Some((path, json)) = LOG.get() {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let line = if *json {
                serde_json::json!({"level": "error", "msg": msg}).to_string()
            } else {
                format!("level=error msg={msg:?}")
            };
            let _ = writeln!(f, "{line}");
        }
    }
}
