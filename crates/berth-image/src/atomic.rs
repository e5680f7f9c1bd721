//! Crash-safe replacement of small JSON documents: write a temp file, fsync it, rename it over
//! the old one, fsync the directory. A reader sees the old or the new document, never a mix.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Atomically replace `path` with the JSON encoding of `value`.
pub(crate) fn write_json(path: &Path, value: &impl Serialize) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_bytes(path, &bytes)
}

/// Atomically replace `path` with `bytes`.
pub(crate) fn write_bytes(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other("path has no parent"))?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{n}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Read a JSON document, or `T::default()` when the file does not exist yet.
pub(crate) fn read_json<T: DeserializeOwned + Default>(path: &Path) -> io::Result<T> {
    match fs::read(path) {
        Ok(b) => {
            serde_json::from_slice(&b).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn replaces_atomically() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("doc.json");
        let empty: BTreeMap<String, u32> = read_json(&p).unwrap();
        assert!(empty.is_empty());
        write_json(&p, &BTreeMap::from([("a".to_owned(), 1u32)])).unwrap();
        write_json(&p, &BTreeMap::from([("b".to_owned(), 2u32)])).unwrap();
        let got: BTreeMap<String, u32> = read_json(&p).unwrap();
        assert_eq!(got, BTreeMap::from([("b".to_owned(), 2)]));
        assert_eq!(
            fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temp files left"
        );
        fs::write(&p, b"{broken").unwrap();
        assert!(read_json::<BTreeMap<String, u32>>(&p).is_err());
    }
}
