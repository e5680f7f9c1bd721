//! The errors a build reports: where in the Dockerfile, and why.

use std::io;

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile could not be parsed, or an instruction is malformed.
    #[error("dockerfile parse error on line {line} of {file}: {message}")]
    Parse {
        /// The Dockerfile's name in the context.
        file: String,
        /// 1-based line of the instruction.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A step failed while it ran (missing COPY source, failing RUN, ...).
    #[error("{message}")]
    Step {
        /// 1-based line of the instruction.
        line: usize,
        /// What went wrong.
        message: String,
        /// The exit code of a failing RUN, if any.
        exit_code: Option<i32>,
    },
    /// The build context could not be read.
    #[error("build context: {0}")]
    Context(String),
    /// The build context is over a limit of the daemon (size, entries).
    #[error("{0}")]
    TooLarge(String),
    /// The backend (image store, container runtime) failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Local i/o.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: io::Error,
    },
}

impl BuildError {
    /// A step error without exit code.
    pub fn step(line: usize, message: impl Into<String>) -> Self {
        BuildError::Step {
            line,
            message: message.into(),
            exit_code: None,
        }
    }

    /// An i/o error with context.
    pub fn io(what: impl Into<String>) -> impl FnOnce(io::Error) -> BuildError {
        let what = what.into();
        move |source| BuildError::Io { what, source }
    }
}

/// An error from the engine side of a build.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The base image (or `COPY --from` image) is not local and could not be pulled.
    #[error("pull access denied for {name}, repository does not exist or may require 'docker login': {reason}")]
    NoSuchImage {
        /// The image as named.
        name: String,
        /// Why the pull failed.
        reason: String,
    },
    /// A RUN step's command exited non-zero.
    #[error("The command '{command}' returned a non-zero code: {code}")]
    RunFailed {
        /// The command as docker prints it.
        command: String,
        /// Its exit code.
        code: i32,
    },
    /// Anything else (store, runtime, mounts).
    #[error("{0}")]
    Other(String),
}
