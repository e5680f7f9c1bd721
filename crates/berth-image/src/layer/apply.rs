//! A layer's rules for berth-fs' extractor, and its errors in this crate's terms.

use berth_fs::extract::{ExtractError, ExtractOptions, Owner, Whiteouts};

use super::{ApplyOptions, LayerError, WhiteoutMode};
use crate::rootless;

/// The extraction rules of an image layer: whiteouts as the snapshotter wants them, devices
/// only when allowed, the layer's owners when we may set them (tolerated in a user namespace
/// whose map lacks them), xattrs except overlayfs' own, and the `.` entry's metadata on the
/// snapshot root.
pub(super) fn options(opts: &ApplyOptions) -> ExtractOptions<'static> {
    let userns = rootless::in_user_namespace();
    ExtractOptions {
        whiteouts: match opts.whiteouts {
            WhiteoutMode::Overlay => Whiteouts::Overlay,
            WhiteoutMode::Apply => Whiteouts::Apply,
        },
        opaque_xattr: rootless::opaque_xattr(),
        owner: if opts.same_owner {
            Owner::Keep
        } else {
            Owner::Ignore
        },
        tolerate_chown: userns,
        allow_devices: opts.allow_devices,
        skip_unpermitted_devices: userns,
        xattrs: opts.xattrs,
        skip_xattr: rootless::is_overlay_xattr,
        no_overwrite_dir_non_dir: false,
        dest_meta: true,
    }
}

pub(super) fn error(e: ExtractError) -> LayerError {
    match e {
        ExtractError::Read(e) => LayerError::Read(e),
        ExtractError::Escape(p) => LayerError::PathEscape(p),
        ExtractError::Device(p) => LayerError::DeviceNotAllowed(p),
        ExtractError::BadWhiteout(p) => LayerError::BadWhiteout(p),
        ExtractError::Overwrite(msg) => LayerError::Write {
            path: msg,
            source: std::io::Error::from_raw_os_error(libc::EEXIST),
        },
        ExtractError::Write { path, source } => LayerError::Write { path, source },
    }
}
