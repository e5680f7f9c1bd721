//! `linux.sysctl`: validation and the /proc/sys path of each key.
//!
//! Why validate: the key becomes a path under /proc/sys, so `..` or empty components could
//! write elsewhere in /proc; and most sysctls are global to the host, so only those that the
//! container's own namespaces scope (IPC, network, UTS) are allowed — the same policy as runc.

use std::path::PathBuf;

use oci_spec::runtime::LinuxNamespaceType;

use super::RootfsError;

/// IPC-namespaced sysctls besides the `fs.mqueue.` family.
const IPC_SYSCTLS: [&str; 8] = [
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
];

/// The path of `name` relative to /proc/sys. Keys use `.` as separator, or `/` when they
/// contain one (the sysctl(8) form that lets interface names contain dots, e.g.
/// `net/ipv4/conf/eth0.100/forwarding`).
pub(crate) fn relative_path(name: &str) -> Result<PathBuf, RootfsError> {
    let sep = if name.contains('/') { '/' } else { '.' };
    let invalid = || RootfsError::Invalid(format!("sysctl {name:?} is not a valid sysctl name"));
    let mut out = PathBuf::new();
    for comp in name.split(sep) {
        if comp.is_empty() || comp == "." || comp == ".." || comp.contains('\0') {
            return Err(invalid());
        }
        out.push(comp);
    }
    if out.as_os_str().is_empty() {
        return Err(invalid());
    }
    Ok(out)
}

/// Checks that `name` is well formed and scoped by a namespace the container has
/// (`has_ns`); the key is compared in its `.` form.
pub(crate) fn validate(
    name: &str,
    has_ns: &dyn Fn(LinuxNamespaceType) -> bool,
) -> Result<(), RootfsError> {
    relative_path(name)?;
    let dotted = if name.contains('/') {
        name.replace('/', ".")
    } else {
        name.to_owned()
    };
    let key = dotted.as_str();
    let denied = |why: &str| RootfsError::Invalid(format!("sysctl {name:?} {why}"));
    if IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.") {
        return if has_ns(LinuxNamespaceType::Ipc) {
            Ok(())
        } else {
            Err(denied("is not allowed in the host's ipc namespace"))
        };
    }
    if key.starts_with("net.") {
        return if has_ns(LinuxNamespaceType::Network) {
            Ok(())
        } else {
            Err(denied("is not allowed in the host's network namespace"))
        };
    }
    if has_ns(LinuxNamespaceType::Uts) {
        match key {
            "kernel.domainname" => return Ok(()),
            "kernel.hostname" => {
                return Err(denied("is not allowed: set the hostname field instead"))
            }
            _ => {}
        }
    }
    Err(denied("is not in a separate kernel namespace"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_ns(_: LinuxNamespaceType) -> bool {
        true
    }

    fn no_ns(_: LinuxNamespaceType) -> bool {
        false
    }

    #[test]
    fn dotted_and_slashed_names_map_to_paths() {
        assert_eq!(
            relative_path("net.ipv4.ip_forward").expect("valid"),
            PathBuf::from("net/ipv4/ip_forward")
        );
        assert_eq!(
            relative_path("net/ipv4/conf/eth0.100/forwarding").expect("valid"),
            PathBuf::from("net/ipv4/conf/eth0.100/forwarding")
        );
    }

    #[test]
    fn traversal_and_empty_components_are_rejected() {
        for bad in [
            "",
            "net..ipv4",
            "net/../../self/mem",
            "../x",
            ".net",
            "net/ipv4/",
            "/net/ipv4",
        ] {
            assert!(relative_path(bad).is_err(), "{bad:?} accepted");
            assert!(validate(bad, &all_ns).is_err(), "{bad:?} validated");
        }
    }

    #[test]
    fn namespace_policy() {
        assert!(validate("net.ipv4.ip_forward", &all_ns).is_ok());
        assert!(validate("kernel.shmmax", &all_ns).is_ok());
        assert!(validate("fs.mqueue.msg_max", &all_ns).is_ok());
        assert!(validate("kernel.domainname", &all_ns).is_ok());
        let err = validate("net.ipv4.ip_forward", &no_ns).expect_err("host netns");
        assert_eq!(
            err.to_string(),
            "sysctl \"net.ipv4.ip_forward\" is not allowed in the host's network namespace"
        );
        assert!(validate("kernel.shmmax", &no_ns).is_err());
        assert!(validate("kernel.hostname", &all_ns).is_err());
        let err = validate("vm.swappiness", &all_ns).expect_err("global");
        assert!(
            err.to_string()
                .contains("not in a separate kernel namespace"),
            "{err}"
        );
    }
}
