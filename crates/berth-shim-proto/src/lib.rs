//! berth-shim-proto: the one definition of the contract between the engine and `berth-shim`.
//!
//! - [`argv`]: the shim's command line in its three modes (start a container, run one exec,
//!   the monitor image the starting shim re-executes into), built with `to_args` and read
//!   back with `parse`.
//! - [`report`]: the one line the starting shim writes on its stdout pipe (`ok PID` or
//!   `err MESSAGE`).
//! - [`exit`]: the files in the container's state dir: `exit.json` (written atomically when
//!   the container has exited), `shim.pid` and the name of the attach socket.
//! - [`frames`]: the attach protocol on `attach.sock` and on an exec shim's socketpair:
//!   docker's 8-byte frame header in both directions, with the frame kinds Berth adds.
//!
//! Both sides link this crate, so a change to the contract is one change, checked by the
//! round-trip tests here. It is linked into the shim, whose idle RSS is measured: no heavy
//! dependencies.

pub mod argv;
pub mod exit;
pub mod frames;
pub mod report;

pub use argv::{ArgsError, ExecArgs, MonitorArgs, Rotation, ShimArgs, StartArgs, StdioOpts};
pub use exit::{ExitRecord, ATTACH_SOCKET, EXIT_FILE, SHIM_PID_FILE};
pub use frames::{FrameError, Parser, MAX_FRAME};
pub use report::{Report, ReportError};
