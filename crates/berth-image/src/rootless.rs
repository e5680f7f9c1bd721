//! Differences when the store runs inside an unprivileged user namespace (rootless berthd).
//!
//! There the kernel refuses three things the store does as real root, and each has the
//! same answer podman's rootless storage gives:
//! - `trusted.*` xattrs: overlayfs must be mounted with `userxattr` and reads its markers
//!   (opaque directories) from `user.overlay.*`, so layers are written that way too;
//! - `chown` to an id outside the namespace's map (EINVAL), e.g. a file of uid 1000 when only
//!   the user's own uid is mapped: the file keeps the caller's ids (podman's
//!   `ignore_chown_errors`);
//! - device nodes other than the 0:0 whiteout (EPERM): they are skipped.
//!
//! The last two are extractor options (`berth_fs::extract`), set from [`in_user_namespace`].

use std::sync::OnceLock;

/// Whether this process runs in a user namespace other than the initial one: the kernel's
/// identity map of the initial namespace is exactly `0 0 4294967295`.
pub fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    })
}

/// The xattr marking an overlay directory opaque, as the mounts this process makes read it.
pub fn opaque_xattr() -> &'static str {
    if in_user_namespace() {
        "user.overlay.opaque"
    } else {
        crate::layer::OVERLAY_OPAQUE_XATTR
    }
}

/// Whether `name` is an xattr overlayfs interprets for our mounts (never taken from a layer
/// nor written into one).
pub fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.")
        || (in_user_namespace() && name.starts_with("user.overlay."))
}

/// The fixed overlay options (`key`, value or `None` for a flag). In a user namespace
/// `redirect_dir=off` needs trusted xattrs and is refused; with `userxattr` the kernel uses
/// `redirect_dir=nofollow`, which also never creates redirects, so upper dirs stay complete.
pub fn overlay_options() -> &'static [(&'static str, Option<&'static str>)] {
    const ROOT: [(&str, Option<&str>); 3] = [
        ("index", Some("off")),
        ("redirect_dir", Some("off")),
        ("metacopy", Some("off")),
    ];
    const USERNS: [(&str, Option<&str>); 3] = [
        ("userxattr", None),
        ("index", Some("off")),
        ("metacopy", Some("off")),
    ];
    if in_user_namespace() {
        &USERNS
    } else {
        &ROOT
    }
}

/// Renders [`overlay_options`] for a mount(2) option string (`,k=v` or `,flag`).
pub fn overlay_option_string() -> String {
    overlay_options()
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!(",{k}={v}"),
            None => format!(",{k}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_string_renders_flags_and_values() {
        let s = overlay_option_string();
        assert!(s.contains(",index=off"));
        if in_user_namespace() {
            assert!(s.contains(",userxattr") && !s.contains("redirect_dir"));
        } else {
            assert!(s.contains(",redirect_dir=off") && !s.contains("userxattr"));
        }
    }
}
