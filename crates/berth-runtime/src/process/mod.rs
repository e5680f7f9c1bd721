//! Processes the runtime creates: the container's init and `exec`'d processes.

pub mod channel;
pub(crate) mod fork;
pub(crate) mod init;
pub(crate) mod userns;
