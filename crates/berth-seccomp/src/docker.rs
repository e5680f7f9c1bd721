//! Docker's default seccomp profile and Docker-format profiles in general.
//!
//! Docker profiles extend the OCI section with `archMap` and per-rule
//! `includes`/`excludes` (by capability, architecture and minimum kernel).
//! [`docker_default`] and [`load_profile`] resolve those for one container,
//! like moby's `setupSeccomp`, and give the plain OCI section the runtime
//! compiles. The default profile is `profiles/default.json`, embedded.

use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompBuilder,
    LinuxSyscallBuilder,
};
use serde::Deserialize;

/// Docker's default profile, in Docker's profile format.
const DEFAULT_PROFILE: &str = include_str!("../profiles/default.json");

/// Why a Docker-format profile could not be turned into an OCI section.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// The JSON is not a Docker seccomp profile.
    #[error("decoding seccomp profile: {0}")]
    Decode(#[from] serde_json::Error),
    /// Both `architectures` and `archMap` were given.
    #[error("both 'architectures' and 'archMap' are specified in the seccomp profile")]
    ArchitecturesAndArchMap,
    /// A rule has both `name` and `names`.
    #[error("both 'name' and 'names' are specified in a seccomp profile rule")]
    NameAndNames,
    /// A `minKernel` that is not `MAJOR.MINOR`.
    #[error("invalid minKernel version {0:?}")]
    MinKernel(String),
    /// Building the OCI structures failed.
    #[error("building the OCI seccomp section: {0}")]
    Oci(#[from] oci_spec::OciSpecError),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Profile {
    default_action: LinuxSeccompAction,
    #[serde(default)]
    default_errno_ret: Option<u32>,
    #[serde(default)]
    architectures: Option<Vec<Arch>>,
    #[serde(default)]
    arch_map: Option<Vec<ArchMap>>,
    #[serde(default)]
    flags: Option<Vec<oci_spec::runtime::LinuxSeccompFilterFlag>>,
    #[serde(default)]
    listener_path: Option<std::path::PathBuf>,
    #[serde(default)]
    listener_metadata: Option<String>,
    #[serde(default)]
    syscalls: Option<Vec<Rule>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArchMap {
    architecture: Arch,
    #[serde(default)]
    sub_architectures: Option<Vec<Arch>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    names: Option<Vec<String>>,
    action: LinuxSeccompAction,
    #[serde(default)]
    errno_ret: Option<u32>,
    #[serde(default)]
    args: Option<Vec<LinuxSeccompArg>>,
    #[serde(default)]
    includes: Option<Condition>,
    #[serde(default)]
    excludes: Option<Condition>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(default)]
    caps: Option<Vec<String>>,
    #[serde(default)]
    arches: Option<Vec<String>>,
    #[serde(default)]
    min_kernel: Option<String>,
}

/// Docker's default seccomp profile resolved for a container with the
/// bounding capabilities `caps` (e.g. `"CAP_SYS_ADMIN"`) on architecture
/// `arch` (`SCMP_ARCH_NATIVE` for this host), on the running kernel.
/// This is what the engine puts in a spec when the user asks for no other profile.
pub fn docker_default(caps: &[String], arch: Arch) -> Result<LinuxSeccomp, ProfileError> {
    load_profile(DEFAULT_PROFILE, caps, arch)
}

/// A Docker-format profile (`--security-opt seccomp=FILE`) resolved like
/// [`docker_default`].
pub fn load_profile(json: &str, caps: &[String], arch: Arch) -> Result<LinuxSeccomp, ProfileError> {
    resolve(json, caps, arch, running_kernel())
}

/// The running kernel's `(major, minor)`, `None` if unknown (then rules that
/// need a minimum kernel are left out, and rules excluded from a minimum
/// kernel on are kept: the restrictive choice).
fn running_kernel() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_version(release.trim())
}

/// Parses the leading `MAJOR.MINOR` of a kernel version.
fn parse_version(v: &str) -> Option<(u32, u32)> {
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next().map_or(Some(0), |m| m.parse().ok())?;
    Some((major, minor))
}

/// Docker's (Go's) name of an architecture, used by `includes.arches`.
fn docker_arch_name(arch: Arch) -> &'static str {
    match arch {
        Arch::ScmpArchNative => {
            if cfg!(target_arch = "x86_64") {
                "amd64"
            } else if cfg!(target_arch = "aarch64") {
                "arm64"
            } else if cfg!(target_arch = "x86") {
                "x86"
            } else if cfg!(target_arch = "arm") {
                "arm"
            } else if cfg!(target_arch = "riscv64") {
                "riscv64"
            } else if cfg!(target_arch = "s390x") {
                "s390x"
            } else {
                "unknown"
            }
        }
        Arch::ScmpArchX86 => "x86",
        Arch::ScmpArchX86_64 => "amd64",
        Arch::ScmpArchX32 => "x32",
        Arch::ScmpArchArm => "arm",
        Arch::ScmpArchAarch64 => "arm64",
        Arch::ScmpArchMips => "mips",
        Arch::ScmpArchMips64 => "mips64",
        Arch::ScmpArchMips64n32 => "mips64n32",
        Arch::ScmpArchMipsel => "mipsel",
        Arch::ScmpArchMipsel64 => "mipsel64",
        Arch::ScmpArchMipsel64n32 => "mipsel64n32",
        Arch::ScmpArchPpc => "ppc",
        Arch::ScmpArchPpc64 => "ppc64",
        Arch::ScmpArchPpc64le => "ppc64le",
        Arch::ScmpArchS390 => "s390",
        Arch::ScmpArchS390x => "s390x",
        Arch::ScmpArchParisc => "parisc",
        Arch::ScmpArchParisc64 => "parisc64",
        Arch::ScmpArchRiscv64 => "riscv64",
        Arch::ScmpArchLoongarch64 => "loong64",
        Arch::ScmpArchM68k => "m68k",
        Arch::ScmpArchSh => "sh",
        Arch::ScmpArchSheb => "sheb",
    }
}

/// The OCI architecture for `SCMP_ARCH_NATIVE` resolved to this host (for
/// the `archMap` lookup).
fn concrete(arch: Arch) -> Arch {
    match (arch, docker_arch_name(arch)) {
        (Arch::ScmpArchNative, "amd64") => Arch::ScmpArchX86_64,
        (Arch::ScmpArchNative, "arm64") => Arch::ScmpArchAarch64,
        (Arch::ScmpArchNative, "x86") => Arch::ScmpArchX86,
        (Arch::ScmpArchNative, "arm") => Arch::ScmpArchArm,
        (Arch::ScmpArchNative, "riscv64") => Arch::ScmpArchRiscv64,
        (Arch::ScmpArchNative, "s390x") => Arch::ScmpArchS390x,
        (a, _) => a,
    }
}

/// Whether the running kernel is at least `min` (`MAJOR.MINOR`).
fn kernel_at_least(min: &str, kernel: Option<(u32, u32)>) -> Result<Option<bool>, ProfileError> {
    let want = parse_version(min).ok_or_else(|| ProfileError::MinKernel(min.to_string()))?;
    Ok(kernel.map(|k| k >= want))
}

fn resolve(
    json: &str,
    caps: &[String],
    arch: Arch,
    kernel: Option<(u32, u32)>,
) -> Result<LinuxSeccomp, ProfileError> {
    let profile: Profile = serde_json::from_str(json)?;
    let arch = concrete(arch);
    let arch_name = docker_arch_name(arch);
    let has_cap = |c: &String| caps.iter().any(|have| have == c);

    let mut architectures = profile.architectures.clone().unwrap_or_default();
    if let Some(map) = &profile.arch_map {
        if !architectures.is_empty() && !map.is_empty() {
            return Err(ProfileError::ArchitecturesAndArchMap);
        }
        if let Some(entry) = map.iter().find(|m| m.architecture == arch) {
            architectures.push(entry.architecture);
            architectures.extend(entry.sub_architectures.iter().flatten().copied());
        }
    }

    let mut syscalls = Vec::new();
    for rule in profile.syscalls.iter().flatten() {
        if let Some(ex) = &rule.excludes {
            if ex.arches.iter().flatten().any(|a| a == arch_name)
                || ex.caps.iter().flatten().any(has_cap)
            {
                continue;
            }
            if let Some(min) = &ex.min_kernel {
                // Unknown kernel: keep the rule (do not assume a newer kernel).
                if kernel_at_least(min, kernel)? == Some(true) {
                    continue;
                }
            }
        }
        if let Some(inc) = &rule.includes {
            let arches = inc.arches.as_deref().unwrap_or_default();
            if !arches.is_empty() && !arches.iter().any(|a| a == arch_name) {
                continue;
            }
            if !inc.caps.iter().flatten().all(has_cap) {
                continue;
            }
            if let Some(min) = &inc.min_kernel {
                if kernel_at_least(min, kernel)? != Some(true) {
                    continue;
                }
            }
        }
        let names = match (&rule.name, &rule.names) {
            (Some(_), Some(n)) if !n.is_empty() => return Err(ProfileError::NameAndNames),
            (Some(name), _) => vec![name.clone()],
            (None, n) => n.clone().unwrap_or_default(),
        };
        let mut sc = LinuxSyscallBuilder::default()
            .names(names)
            .action(rule.action);
        if let Some(e) = rule.errno_ret {
            sc = sc.errno_ret(e);
        }
        if let Some(args) = &rule.args {
            sc = sc.args(args.clone());
        }
        syscalls.push(sc.build()?);
    }

    let mut out = LinuxSeccompBuilder::default()
        .default_action(profile.default_action)
        .syscalls(syscalls);
    if let Some(e) = profile.default_errno_ret {
        out = out.default_errno_ret(e);
    }
    if !architectures.is_empty() {
        out = out.architectures(architectures);
    }
    if let Some(f) = profile.flags {
        out = out.flags(f);
    }
    if let Some(p) = profile.listener_path {
        out = out.listener_path(p);
    }
    if let Some(m) = profile.listener_metadata {
        out = out.listener_metadata(m);
    }
    Ok(out.build()?)
}

#[cfg(test)]
#[path = "docker_tests.rs"]
mod tests;
