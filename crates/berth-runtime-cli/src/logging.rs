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
    eprintln!("time={:?} level=error msg={msg:?}", rfc3339_now());
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

/// Now, as RFC 3339 UTC with seconds (runc's log timestamps).
fn rfc3339_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let (era, doe) = (z.div_euclid(146_097), z.rem_euclid(146_097));
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
