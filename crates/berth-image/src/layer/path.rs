//! Lexical cleaning of tar entry names and hardlink targets.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// Split a tar name into components relative to the layer root: leading `/` and `.` are
/// dropped, `a/../b` folds to `b`. Returns `None` when `..` would climb above the root.
pub(crate) fn clean(name: &[u8]) -> Option<Vec<OsString>> {
    let mut out: Vec<OsString> = Vec::new();
    for comp in name.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                out.pop()?;
            }
            c => out.push(OsStr::from_bytes(c).to_owned()),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: Option<Vec<OsString>>) -> Option<String> {
        v.map(|v| {
            v.iter()
                .map(|c| c.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
    }

    #[test]
    fn cleans() {
        assert_eq!(s(clean(b"./a/b/")), Some("a/b".into()));
        assert_eq!(s(clean(b"/etc/passwd")), Some("etc/passwd".into()));
        assert_eq!(s(clean(b"a/../b")), Some("b".into()));
        assert_eq!(s(clean(b"./")), Some(String::new()));
        assert_eq!(s(clean(b"../x")), None);
        assert_eq!(s(clean(b"a/../../x")), None);
        assert_eq!(s(clean(b"/../x")), None);
    }
}
