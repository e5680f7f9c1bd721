//! Huge page sizes as cgroup file names spell them ("2MB", "1GB"), shared by the v1 and v2
//! hugetlb controllers.

use crate::error::{Error, Result};

/// The page sizes this kernel supports, from `/sys/kernel/mm/hugepages`.
pub fn page_sizes() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/sys/kernel/mm/hugepages") else {
        return Vec::new();
    };
    let mut out: Vec<(u64, String)> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let kb = name.strip_prefix("hugepages-")?.strip_suffix("kB")?;
            let kb: u64 = kb.parse().ok()?;
            Some((kb, size_name(kb)))
        })
        .collect();
    out.sort();
    out.into_iter().map(|(_, n)| n).collect()
}

/// 2048 (kB) → "2MB", 1048576 → "1GB", 64 → "64KB": the kernel's own naming.
pub fn size_name(kb: u64) -> String {
    let units = ["KB", "MB", "GB", "TB"];
    let mut v = kb;
    let mut i = 0;
    while v >= 1024 && v & 1023 == 0 && i + 1 < units.len() {
        v /= 1024;
        i += 1;
    }
    format!("{v}{}", units[i])
}

/// Check a spec page size ("2MB") is one this kernel has, so the file name is not a guess.
pub fn check_page_size(size: &str, available: &[String]) -> Result<()> {
    if size.contains('/') || !available.iter().any(|s| s == size) {
        return Err(Error::InvalidResources(format!(
            "hugepage size {size:?} is not supported by the kernel (have {available:?})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(size_name(2048), "2MB");
        assert_eq!(size_name(1048576), "1GB");
        assert_eq!(size_name(64), "64KB");
        assert!(check_page_size("2MB", &["2MB".into()]).is_ok());
        assert!(check_page_size("3MB", &["2MB".into()]).is_err());
    }
}
