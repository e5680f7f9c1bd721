//! The starting shim's report to the engine: one line on its stdout pipe, `ok PID` once the
//! container's program runs, or `err MESSAGE` with what stopped it; then the pipe closes.

use std::fmt;

/// The shim's one-line answer to a start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The container runs; its init's pid.
    Started(i32),
    /// The start failed.
    Failed(String),
}

/// A report the engine cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// The pipe closed with nothing on it (the shim died).
    #[error("shim exited without a report")]
    Missing,
    /// Something else than `ok PID` / `err MESSAGE`.
    #[error("bad shim report {0:?}")]
    Bad(String),
}

impl fmt::Display for Report {
    /// The line without its newline. A message's own line breaks become spaces: the engine
    /// reads one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Report::Started(pid) => write!(f, "ok {pid}"),
            Report::Failed(msg) => write!(f, "err {}", msg.replace(['\n', '\r'], " ")),
        }
    }
}

impl Report {
    /// Reads the report from all the shim wrote (only the first line counts).
    pub fn parse(output: &str) -> Result<Report, ReportError> {
        let line = output.lines().next().unwrap_or("");
        if line.is_empty() {
            return Err(ReportError::Missing);
        }
        if let Some(pid) = line.strip_prefix("ok ") {
            return match pid.trim().parse() {
                Ok(p) if p > 0 => Ok(Report::Started(p)),
                _ => Err(ReportError::Bad(line.to_owned())),
            };
        }
        match line.strip_prefix("err ") {
            Some(msg) => Ok(Report::Failed(msg.to_owned())),
            None => Err(ReportError::Bad(line.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for r in [
            Report::Started(1234),
            Report::Failed("no such image".into()),
        ] {
            assert_eq!(Report::parse(&format!("{r}\n")), Ok(r));
        }
    }

    #[test]
    fn multi_line_message_stays_one_line() {
        let r = Report::Failed("exec failed:\nno such file".into());
        assert_eq!(
            Report::parse(&format!("{r}\n")),
            Ok(Report::Failed("exec failed: no such file".into()))
        );
    }

    #[test]
    fn bad_reports() {
        assert_eq!(Report::parse(""), Err(ReportError::Missing));
        assert_eq!(
            Report::parse("ok x\n"),
            Err(ReportError::Bad("ok x".into()))
        );
        assert_eq!(
            Report::parse("ok 0\n"),
            Err(ReportError::Bad("ok 0".into()))
        );
        assert_eq!(
            Report::parse("panic\n"),
            Err(ReportError::Bad("panic".into()))
        );
    }
}
