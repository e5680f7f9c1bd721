//! The networking parts of docker's `Config` and `HostConfig`, and the endpoint settings of a
//! create request; what the engine does with them lives in `crate::network`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::nullable;

/// The networking part of docker's `HostConfig` (flattened into it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostNetworking {
    /// `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}` (`-p`).
    #[serde(deserialize_with = "nullable")]
    pub port_bindings: BTreeMap<String, Option<Vec<PortBinding>>>,
    /// Publish every exposed port to a random host port (`-P`).
    pub publish_all_ports: bool,
    /// Name servers (`--dns`).
    #[serde(deserialize_with = "nullable")]
    pub dns: Vec<String>,
    /// Search domains (`--dns-search`).
    #[serde(deserialize_with = "nullable")]
    pub dns_search: Vec<String>,
    /// Resolver options (`--dns-option`).
    #[serde(deserialize_with = "nullable")]
    pub dns_options: Vec<String>,
    /// `host:ip` lines for /etc/hosts (`--add-host`).
    #[serde(deserialize_with = "nullable")]
    pub extra_hosts: Vec<String>,
}

/// One host side of a port binding.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    /// Host address (empty: all).
    #[serde(deserialize_with = "nullable")]
    pub host_ip: String,
    /// Host port (empty: random).
    #[serde(deserialize_with = "nullable")]
    pub host_port: String,
}

/// The networking part of docker's container `Config` (flattened into it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase", default)]
pub struct ConfigNetworking {
    /// `{"80/tcp": {}}`: ports the image or `--expose` declares.
    #[serde(deserialize_with = "nullable")]
    pub exposed_ports: BTreeMap<String, Value>,
    /// A fixed MAC address (older API versions put `--mac-address` here).
    #[serde(
        deserialize_with = "nullable",
        skip_serializing_if = "String::is_empty"
    )]
    pub mac_address: String,
}

/// One entry of `NetworkingConfig.EndpointsConfig` in a create request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointSettings {
    /// DNS aliases on that network.
    pub aliases: Option<Vec<String>>,
    /// `{"IPv4Address": "…"}`.
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<IpamConfig>,
    /// A fixed MAC address.
    pub mac_address: Option<String>,
}

/// `EndpointSettings.IPAMConfig`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct IpamConfig {
    /// The requested address.
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: Option<String>,
}

/// Docker's `NetworkingConfig` of a create request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    /// Per network name.
    pub endpoints_config: Option<std::collections::BTreeMap<String, EndpointSettings>>,
}
