//! Docker's data model as the engine keeps and serves it: plain serde types (with the checks
//! that need nothing but the value) that every behaviour module uses and that depend on no
//! behaviour module — only on `error` and `time`. Keeping them here is what keeps the engine's
//! module graph free of cycles: before, the types lived in the modules that act on them, and
//! `record`, `network`, `resources`, `security` and `volumes` all needed each other.

mod confinement;
mod container;
mod health;
pub mod host_modes;
mod networking;
mod resources;
mod storage;

use serde::{Deserialize, Deserializer};

pub use confinement::Confinement;
pub use container::{
    parse_size, ContainerConfig, ContainerRecord, ContainerState, HostConfig, LogConfig,
    RestartPolicy,
};
pub use health::{
    filter_status, ps_suffix, Health, HealthConfig, HealthResult, HEALTHY, STARTING, UNHEALTHY,
};
pub use host_modes::HostModes;
pub use networking::{
    ConfigNetworking, EndpointSettings, HostNetworking, IpamConfig, NetworkingConfig, PortBinding,
};
pub use resources::{DeviceMapping, Resources, ThrottleDevice, Ulimit, UpdateConfig, WeightDevice};
pub use storage::{
    BindOptions, DriverConfig, MountPoint, MountSpec, StorageConfig, TmpfsOptions, VolumeOptions,
};

/// `null` in a request reads as the default value (docker clients send `"Env": null`).
pub(crate) fn nullable<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}
