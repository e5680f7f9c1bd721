//! Applying the process's five capability sets.
//!
//! Why this order: the bounding set can only be reduced while we still hold CAP_SETPCAP, so it goes
//! first; the other sets are set after the uid change (which, with KEEPCAPS, keeps permitted).

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::{Capabilities, LinuxCapabilities};

/// Why setting capabilities failed.
#[derive(Debug, thiserror::Error)]
pub enum CapsError {
    #[error("capabilities: {0}")]
    Caps(#[from] caps::errors::CapsError),
}

/// Converts oci-spec capabilities to the caps crate's, skipping names this kernel does not know
/// (runc warns and ignores them too).
fn convert(set: &Option<Capabilities>) -> CapsHashSet {
    let Some(set) = set else {
        return CapsHashSet::new();
    };
    let known = caps::runtime::thread_all_supported();
    set.iter()
        .filter_map(|c| {
            let name = serde_json::to_value(c).ok()?;
            name.as_str()?.parse::<Capability>().ok()
        })
        .filter(|c| known.contains(c))
        .collect()
}

/// Drops from the bounding set everything not listed. Needs CAP_SETPCAP, so call it before the uid
/// changes.
pub fn drop_bounding(c: &LinuxCapabilities) -> Result<(), CapsError> {
    let keep = convert(c.bounding());
    for cap in caps::runtime::thread_all_supported() {
        if !keep.contains(&cap) {
            // Ignore EINVAL for caps absent from the bounding set already.
            if caps::has_cap(None, CapSet::Bounding, cap).unwrap_or(false) {
                caps::drop(None, CapSet::Bounding, cap)?;
            }
        }
    }
    Ok(())
}

/// Sets inheritable, effective and permitted, then raises the ambient ones.
///
/// The kernel checks every capset: effective must stay within permitted, so effective is narrowed
/// while permitted is still wide, and permitted last.
pub fn apply_sets(c: &LinuxCapabilities) -> Result<(), CapsError> {
    caps::set(None, CapSet::Inheritable, &convert(c.inheritable()))?;
    caps::set(None, CapSet::Effective, &convert(c.effective()))?;
    caps::set(None, CapSet::Permitted, &convert(c.permitted()))?;
    // Ambient needs each cap in both permitted and inheritable; unknown or unfit ones are skipped,
    // as runc does.
    let _ = caps::clear(None, CapSet::Ambient);
    for cap in convert(c.ambient()) {
        let _ = caps::raise(None, CapSet::Ambient, cap);
    }
    Ok(())
}
