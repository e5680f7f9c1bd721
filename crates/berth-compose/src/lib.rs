//! The compose model as `berth compose` uses it: loading compose files (YAML with line
//! numbers, `.env` and `${VAR}` interpolation, profiles, `extends`, several `-f` files
//! merged by the specification's rules, `include`), validation whose errors name the file,
//! line and key path, the config hash, the start order and the up/scale/recreate plan, and
//! the Engine API request bodies for a service's containers. No network or daemon code: the
//! CLI sends what this crate plans.

pub mod engine;
pub mod error;
mod extends;
pub mod interp;
pub mod load;
mod merge;
pub mod model;
pub mod normalize;
pub mod plan;
mod ports;
pub mod render;
pub mod units;
pub mod validate;
pub mod yaml;

pub use error::{Error, Result};
pub use load::{load, Loaded, Options};
pub use model::{Project, Service};

/// Labels docker compose puts on what it creates.
pub mod labels {
    pub const PROJECT: &str = "com.docker.compose.project";
    pub const SERVICE: &str = "com.docker.compose.service";
    pub const NUMBER: &str = "com.docker.compose.container-number";
    pub const ONEOFF: &str = "com.docker.compose.oneoff";
    pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
    pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
    pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
    pub const NETWORK: &str = "com.docker.compose.network";
    pub const VOLUME: &str = "com.docker.compose.volume";
    pub const VERSION: &str = "com.docker.compose.version";
    pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
    pub const IMAGE: &str = "com.docker.compose.image";
}
