//! berth-build: Dockerfiles to images.
//!
//! [`build`] parses the Dockerfile in a [`Context`] (the client's tar stream), plans the stages
//! the target needs, and runs each step through a content-keyed [`Cache`]; everything that
//! touches containers, mounts and the image store goes through the [`Backend`] trait, which
//! the engine implements. So this crate knows Dockerfile semantics and nothing about the
//! daemon.
//!
//! Modules: [`parser`] (syntax: directives, continuations, heredocs, exec/shell forms),
//! [`shell`] (variable substitution), [`ignore`] (`.dockerignore`, from the `berth-ignore` crate), [`context`], [`stages`]
//! (stage graph), [`cache`], [`copy`] (COPY/ADD sources and directory semantics).

#![warn(missing_docs)]

mod add_archive;
pub mod backend;
mod builder;
pub mod cache;
pub mod context;
pub mod copy;
mod copy_step;
mod driver;
pub mod error;
mod fetch;
pub mod instructions;
pub mod parser;
pub mod shell;
mod stage_fs;
pub mod stages;
mod steps;

pub use backend::{Backend, ImageState, NewLayer, RootView, RunMount, RunRequest, TarWriter};
/// `.dockerignore` matching lives in its own crate (the CLI uses it without the builder).
pub use berth_ignore as ignore;
pub use builder::{BuildOptions, BuildResult, Event};
pub use cache::Cache;
pub use context::Context;
pub use driver::build;
pub use error::{BackendError, BuildError};
#[cfg(test)]
mod tests;
