//! Errors that name the file, line and key path, as docker compose's do.

use std::fmt;
use std::path::PathBuf;

/// Where a value came from: a file and a 1-based line (0: unknown line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub line: usize,
}

/// Why a project could not be loaded or planned.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A YAML syntax error.
    #[error("{}:{line}:{col}: yaml: {message}", file.display())]
    Yaml {
        file: PathBuf,
        line: usize,
        col: usize,
        message: String,
    },
    /// A value that does not fit the compose specification, at a key path.
    #[error("{}", invalid_text(.origin, .path, .message))]
    Invalid {
        origin: Option<Origin>,
        path: String,
        message: String,
    },
    /// No compose file was given or found.
    #[error("no configuration file provided: not found")]
    NoFile,
}

fn origin_prefix(o: &Option<Origin>) -> String {
    match o {
        Some(o) if o.line > 0 => format!("{}:{}: ", o.file.display(), o.line),
        Some(o) => format!("{}: ", o.file.display()),
        None => String::new(),
    }
}

fn invalid_text(origin: &Option<Origin>, path: &str, message: &str) -> String {
    if path.is_empty() {
        format!("{}{message}", origin_prefix(origin))
    } else {
        format!("{}{path}: {message}", origin_prefix(origin))
    }
}

impl Error {
    /// A problem at `path` whose origin the caller fills in later with [`Error::at`].
    pub fn invalid(path: impl Into<String>, message: impl fmt::Display) -> Error {
        Error::Invalid {
            origin: None,
            path: path.into(),
            message: message.to_string(),
        }
    }

    /// Fills in the origin of an `Invalid` error from the project's line table.
    pub fn at(self, lines: &crate::yaml::Lines) -> Error {
        match self {
            Error::Invalid {
                origin: None,
                path,
                message,
            } => Error::Invalid {
                origin: lines.find(&path),
                path,
                message,
            },
            e => e,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}
