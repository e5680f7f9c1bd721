//! Platforms (`os/arch[/variant]`) and the matching rules used to pick from an index.
//!
//! The default is the host: linux + the machine's architecture in GOARCH spelling, with
//! docker's variant defaults (`arm64` → `v8`, `arm` → `v7`), so `--platform` strings from users
//! and `platform` objects from registries compare equal after normalisation.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Errors from parsing `--platform` strings.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlatformError {
    /// Not `os/arch[/variant]`.
    #[error("invalid platform {0:?}: expected os/arch[/variant]")]
    Malformed(String),
}

/// An OCI platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture in GOARCH spelling (`amd64`, `arm64`, ...).
    pub architecture: String,
    /// Operating system (`linux`).
    pub os: String,
    /// OS version (Windows only in practice).
    #[serde(
        rename = "os.version",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub os_version: Option<String>,
    /// OS features.
    #[serde(rename = "os.features", default, skip_serializing_if = "Vec::is_empty")]
    pub os_features: Vec<String>,
    /// CPU variant (`v7`, `v8`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// A platform from parts.
    pub fn new(os: &str, arch: &str, variant: Option<&str>) -> Self {
        Platform {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            os_version: None,
            os_features: Vec::new(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The platform of this machine.
    pub fn host() -> Self {
        let (arch, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "x86" => ("386", None),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform::new("linux", arch, variant)
    }

    /// The same platform with architecture aliases and default variants resolved.
    pub fn normalized(&self) -> Self {
        let arch = match self.architecture.as_str() {
            "x86_64" | "x86-64" => "amd64",
            "aarch64" => "arm64",
            "armhf" => "arm",
            "i386" => "386",
            a => a,
        };
        let variant = match (arch, self.variant.as_deref()) {
            ("arm64", None | Some("8")) => Some("v8".to_owned()),
            ("arm", None | Some("7")) => Some("v7".to_owned()),
            ("arm", Some(v)) if !v.starts_with('v') => Some(format!("v{v}")),
            ("amd64", Some("v1")) => None,
            (_, v) => v.map(str::to_owned),
        };
        Platform {
            architecture: arch.to_owned(),
            os: self.os.to_lowercase(),
            variant,
            ..self.clone()
        }
    }

    /// How well `candidate` serves `self` (lower is better), or `None` if it cannot run.
    /// An exact variant ranks 0; for 32-bit arm an older variant ranks by distance
    /// (a v7 host can run v6 and v5 images).
    pub fn match_rank(&self, candidate: &Platform) -> Option<u32> {
        let want = self.normalized();
        let got = candidate.normalized();
        if want.os != got.os || want.architecture != got.architecture {
            return None;
        }
        if want.variant == got.variant {
            return Some(0);
        }
        if want.architecture == "arm" {
            let level = |v: &Option<String>| {
                v.as_deref()
                    .and_then(|s| s.trim_start_matches('v').parse::<u32>().ok())
            };
            let (w, g) = (level(&want.variant)?, level(&got.variant)?);
            return w.checked_sub(g).filter(|d| *d > 0);
        }
        // A variant we don't model (e.g. amd64/v3 candidates): only accept when nothing was asked.
        (self.variant.is_none() && got.variant.is_none()).then_some(1)
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(PlatformError::Malformed(s.to_owned()));
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, v] => Ok(Platform::new(os, arch, Some(v))),
            _ => Err(PlatformError::Malformed(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_is_linux() {
        let h = Platform::host();
        assert_eq!(h.os, "linux");
        #[cfg(target_arch = "x86_64")]
        assert_eq!(h.to_string(), "linux/amd64");
    }

    #[test]
    fn parse_and_normalise() {
        assert_eq!(
            "linux/arm64"
                .parse::<Platform>()
                .unwrap()
                .normalized()
                .to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            "linux/aarch64"
                .parse::<Platform>()
                .unwrap()
                .normalized()
                .to_string(),
            "linux/arm64/v8"
        );
        assert_eq!(
            "linux/x86_64"
                .parse::<Platform>()
                .unwrap()
                .normalized()
                .to_string(),
            "linux/amd64"
        );
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//v7".parse::<Platform>().is_err());
        assert!("a/b/c/d".parse::<Platform>().is_err());
    }

    #[test]
    fn arm_variant_ranking() {
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        assert_eq!(v7.match_rank(&"linux/arm/v7".parse().unwrap()), Some(0));
        assert_eq!(v7.match_rank(&"linux/arm/v6".parse().unwrap()), Some(1));
        assert_eq!(v7.match_rank(&"linux/arm/v8".parse().unwrap()), None);
        assert_eq!(v7.match_rank(&"linux/arm64".parse().unwrap()), None);
    }
}
