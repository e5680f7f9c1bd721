//! Docker's `Resources` (embedded in `HostConfig`), its device and ulimit entries, and
//! `UpdateConfig`; the checks and the spec translation live in `crate::resources`.

use serde::{Deserialize, Serialize};

use super::{nullable, RestartPolicy};

/// Docker's `WeightDevice` (`--blkio-weight-device`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    /// Block device path on the host.
    pub path: String,
    /// Relative weight, 10–1000.
    pub weight: u16,
}

/// Docker's `ThrottleDevice` (`--device-read-bps` and friends).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    /// Block device path on the host.
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// Docker's `DeviceMapping` (`--device /dev/x[:/dev/y[:rwm]]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    /// The node on the host.
    pub path_on_host: String,
    /// Where it appears in the container (default: the same path).
    pub path_in_container: String,
    /// Device cgroup access: some of `r`, `w`, `m`.
    pub cgroup_permissions: String,
}

/// Docker's `Ulimit` (`--ulimit nofile=1024:2048`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    /// Lower-case resource name without `RLIMIT_` (`nofile`).
    pub name: String,
    /// Hard limit.
    pub hard: i64,
    /// Soft limit.
    pub soft: i64,
}

/// Docker's `Resources` (embedded in `HostConfig`) plus `ShmSize`. Zero means "not set",
/// as in docker.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    /// Relative CPU weight (`--cpu-shares`).
    pub cpu_shares: i64,
    /// Memory limit in bytes.
    pub memory: i64,
    /// Block I/O weight, 10–1000.
    pub blkio_weight: u16,
    /// Per-device block I/O weights.
    pub blkio_weight_device: Option<Vec<WeightDevice>>,
    /// Read bytes/s limits.
    pub blkio_device_read_bps: Option<Vec<ThrottleDevice>>,
    /// Write bytes/s limits.
    pub blkio_device_write_bps: Option<Vec<ThrottleDevice>>,
    /// Read operations/s limits.
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Option<Vec<ThrottleDevice>>,
    /// Write operations/s limits.
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Option<Vec<ThrottleDevice>>,
    /// CFS period in µs.
    pub cpu_period: i64,
    /// CFS quota in µs per period.
    pub cpu_quota: i64,
    /// CPUs the container may use (`0-2,4`).
    #[serde(deserialize_with = "nullable")]
    pub cpuset_cpus: String,
    /// NUMA nodes the container may use.
    #[serde(deserialize_with = "nullable")]
    pub cpuset_mems: String,
    /// Host devices to add.
    pub devices: Option<Vec<DeviceMapping>>,
    /// Soft memory limit.
    pub memory_reservation: i64,
    /// Memory+swap limit (-1: unlimited swap).
    pub memory_swap: i64,
    /// Swappiness 0–100.
    pub memory_swappiness: Option<i64>,
    /// CPUs in units of 10⁻⁹ (`--cpus 0.5` = 500000000).
    pub nano_cpus: i64,
    /// Turn the OOM killer off (only sensible with a memory limit).
    pub oom_kill_disable: Option<bool>,
    /// Process limit (≤ 0: unlimited).
    pub pids_limit: Option<i64>,
    /// Resource limits of the process.
    pub ulimits: Option<Vec<Ulimit>>,
    /// Size of `/dev/shm` in bytes (0: 64 MiB).
    pub shm_size: i64,
}

/// Docker's `UpdateConfig`: the resources to change plus the restart policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct UpdateConfig {
    /// New limits; zero fields keep the current value.
    #[serde(flatten)]
    pub resources: Resources,
    /// A new restart policy (empty name: unchanged).
    pub restart_policy: Option<RestartPolicy>,
}
