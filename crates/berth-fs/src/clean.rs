//! Lexical path cleaning, for comparing and splitting container paths without touching the
//! filesystem.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// `/`-rooted lexical cleanup: `.` and empty components dropped, `..` never above `/`
/// (`/proc/../../dev/` is `/dev`, `a/./b` is `/a/b`). Bytes are kept as they are, so non-UTF-8
/// names survive.
pub fn clean(path: impl AsRef<Path>) -> PathBuf {
    let mut parts: Vec<&[u8]> = Vec::new();
    for c in path.as_ref().as_os_str().as_bytes().split(|b| *b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = PathBuf::from("/");
    for p in parts {
        out.push(OsStr::from_bytes(p));
    }
    out
}

/// A path cleaned and split into its parent directory and last name (`/` has no name).
pub fn split(path: impl AsRef<Path>) -> (PathBuf, Option<std::ffi::OsString>) {
    let c = clean(path);
    match c.file_name() {
        Some(n) => {
            let name = n.to_os_string();
            (
                c.parent()
                    .map_or_else(|| PathBuf::from("/"), Path::to_path_buf),
                Some(name),
            )
        }
        None => (c, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStringExt;

    #[test]
    fn never_climbs_above_root() {
        assert_eq!(clean("/proc/../../dev/"), PathBuf::from("/dev"));
        assert_eq!(clean("dev/./pts"), PathBuf::from("/dev/pts"));
        assert_eq!(clean(""), PathBuf::from("/"));
        assert_eq!(clean("../../.."), PathBuf::from("/"));
    }

    #[test]
    fn keeps_non_utf8_bytes() {
        let raw = std::ffi::OsString::from_vec(b"/a/\xff\xfe/../\x80".to_vec());
        assert_eq!(clean(&raw).as_os_str().as_bytes(), b"/a/\x80");
    }

    #[test]
    fn splits() {
        assert_eq!(split("/"), (PathBuf::from("/"), None));
        assert_eq!(split("/a"), (PathBuf::from("/"), Some("a".into())));
        assert_eq!(split("a/b/"), (PathBuf::from("/a"), Some("b".into())));
    }
}
