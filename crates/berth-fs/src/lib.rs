//! berth-fs: filesystem work inside a root the engine does not trust (an image layer, a
//! container rootfs, a build stage).
//!
//! Every path is resolved as if the root were `/`: absolute symlinks restart at the root, `..`
//! never climbs above it, and every step is relative to a directory fd already held, so nothing
//! the root's owner swaps in meanwhile can redirect a lookup onto the host (the
//! CVE-2018-15664 class). [`Root`] uses `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)`
//! where the kernel has it, and otherwise a userspace walk one component at a time
//! (`O_PATH | O_NOFOLLOW`, symlinks read from the very inode opened) with the same results.
//! The walk also backs what openat2 cannot do: creating missing directories and naming the
//! resolved path (docker's `FollowSymlinkInScope`).
//!
//! Errors are plain `io::Error`s carrying the errno, which is what callers match on.
//!
//! [`ExtensionCap`] guards tar streams from clients, images and registries before a tar parser
//! reads them: it fails a stream whose long-name or PAX header would be held in memory at a
//! size the sender chose.

mod at;
mod clean;
pub mod extract;
pub mod ops;
mod root;
mod sys;
mod tar_guard;
mod walk;

pub use at::{list_dir, lstat_at, open_child_at, read_link_at, FileStat};
pub use clean::{clean, split};
pub use nix::fcntl::OFlag;
pub use root::{Resolved, Resolver, Root};
pub use sys::{kind, openat2_supported};
pub use tar_guard::ExtensionCap;
