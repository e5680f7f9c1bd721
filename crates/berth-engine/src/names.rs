//! Container ids (64 random hex digits) and names (validated, or generated like docker's
//! `adjective_surname`).

use std::io::Read;

use crate::error::{EngineError, Result};

const ADJECTIVES: [&str; 16] = [
    "admiring", "bold", "brave", "calm", "eager", "festive", "gallant", "happy", "jolly", "keen",
    "lucid", "nifty", "quirky", "serene", "vibrant", "zealous",
];
const SURNAMES: [&str; 16] = [
    "babbage", "curie", "darwin", "einstein", "fermi", "galileo", "hopper", "turing", "lovelace",
    "meitner", "noether", "pasteur", "ritchie", "shannon", "thompson", "wozniak",
];

fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut buf = [0u8; N];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(|e| EngineError::Internal(format!("/dev/urandom: {e}")))?;
    Ok(buf)
}

/// A new container id: 32 random bytes as hex. Never all digits (docker avoids ids that read
/// as numbers, since a short id could be taken for one).
pub fn new_id() -> Result<String> {
    loop {
        let id: String = random_bytes::<32>()?
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        if !id[..12].bytes().all(|b| b.is_ascii_digit()) {
            return Ok(id);
        }
    }
}

/// A generated name like `festive_turing` (with a number suffix on retries).
pub fn generate(retry: u32) -> Result<String> {
    let r = random_bytes::<2>()?;
    let base = format!(
        "{}_{}",
        ADJECTIVES[usize::from(r[0]) % ADJECTIVES.len()],
        SURNAMES[usize::from(r[1]) % SURNAMES.len()]
    );
    Ok(if retry == 0 {
        base
    } else {
        format!("{base}{retry}")
    })
}

/// Checks a user-given name against docker's pattern `/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn validate(name: &str) -> Result<String> {
    let n = name.strip_prefix('/').unwrap_or(name);
    let mut chars = n.chars();
    let ok = n.len() >= 2
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
    if ok {
        Ok(n.to_owned())
    } else {
        Err(EngineError::InvalidParameter(format!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn ids_and_names() {
        let a = new_id().unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, new_id().unwrap());
        assert!(generate(0).unwrap().contains('_'));
        assert_eq!(validate("/web").unwrap(), "web");
        assert!(validate("a").is_err());
        assert!(validate("-x").is_err());
        assert!(validate("a b").is_err());
    }
}
