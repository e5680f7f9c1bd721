//! Image references parsed and normalised exactly like docker's `reference` package.
//!
//! `busybox` becomes `docker.io/library/busybox:latest`; `host:port/repo:tag@sha256:...` keeps
//! every part. Users type short names and the store keys tags by the full form, so normalising
//! in one place keeps `busybox`, `library/busybox` and `docker.io/library/busybox` the same tag.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, DigestError};

/// The registry short names resolve to.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The tag used when none is given (and no digest is given).
pub const DEFAULT_TAG: &str = "latest";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const NAME_MAX: usize = 255;

/// Why a reference string was rejected, worded as docker's `reference` package words it
/// (most grammar failures are just "invalid reference format").
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    /// The string is empty.
    #[error("invalid reference format")]
    Empty,
    /// The repository part has uppercase letters (docker refuses these).
    #[error("invalid reference format: repository name ({0}) must be lowercase")]
    Uppercase(String),
    /// The full name is longer than 255 characters.
    #[error("repository name must not be more than 255 characters")]
    NameTooLong(String),
    /// A path component or the domain does not match the grammar.
    #[error("invalid reference format")]
    BadName(String),
    /// The tag does not match `[\w][\w.-]{0,127}`.
    #[error("invalid reference format")]
    BadTag(String),
    /// The digest part matches the grammar (`alg:` and 32 or more hex digits) but is not a
    /// valid digest.
    #[error("{}", digest_message(.0))]
    BadDigest(#[from] DigestError),
}

/// docker's (go-digest's) wording for a digest that passed the reference grammar.
fn digest_message(e: &DigestError) -> &'static str {
    match e {
        DigestError::UnsupportedAlgorithm(_) => "unsupported digest algorithm",
        DigestError::MissingAlgorithm(_) => "invalid reference format",
        DigestError::BadHex(d) => {
            let hex = d.split_once(':').map_or("", |(_, h)| h);
            let want = if d.starts_with("sha512:") { 128 } else { 64 };
            if hex.len() == want {
                "invalid checksum digest format"
            } else {
                "invalid checksum digest length"
            }
        }
    }
}

/// The reference grammar's digest: `algorithm:` and at least 32 hex digits.
fn digest_grammar(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = alg.split(['-', '_', '+', '.']).all(|part| {
        let mut c = part.chars();
        c.next().is_some_and(|f| f.is_ascii_alphabetic()) && c.all(|x| x.is_ascii_alphanumeric())
    });
    alg_ok && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// A fully normalised reference: domain, path, and optional tag and digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse and normalise a reference the way `docker pull NAME` does: adds `docker.io`,
    /// `library/` and `:latest` (the tag only when there is no digest).
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        let mut r = Self::parse_normalized_named(s)?;
        if r.tag.is_none() && r.digest.is_none() {
            r.tag = Some(DEFAULT_TAG.to_owned());
        }
        Ok(r)
    }

    /// Parse and normalise without adding a default tag (`busybox` stays tagless).
    pub fn parse_normalized_named(s: &str) -> Result<Self, ReferenceError> {
        if s.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((_, d)) if !digest_grammar(d) => {
                return Err(ReferenceError::BadName(s.to_owned()))
            }
            Some((n, d)) => (n, Some(d.parse::<Digest>()?)),
            None => (s, None),
        };
        // A tag is the part after the last ':' provided no '/' follows it (else it's a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i + 1..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::BadTag(t.to_owned()));
            }
        }
        let (domain, path) = split_domain(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase(path));
        }
        if domain.is_empty() || !valid_domain(&domain) || !valid_path(&path) {
            return Err(ReferenceError::BadName(name.to_owned()));
        }
        if domain.len() + 1 + path.len() > NAME_MAX {
            return Err(ReferenceError::NameTooLong(name.to_owned()));
        }
        Ok(Reference {
            domain,
            path,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry host (with port), e.g. `docker.io` or `localhost:5000`.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path within the registry, e.g. `library/busybox`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// `domain/path`, the key repository tags are grouped by.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Self, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::BadTag(tag.to_owned()));
        }
        Ok(Reference {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        })
    }

    /// The same repository pinned to a digest, without tag (the "repo digest" form).
    pub fn with_digest(&self, digest: Digest) -> Self {
        Reference {
            tag: None,
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short form docker prints: `busybox:latest` for official images,
    /// `user/app:1` for Docker Hub, otherwise the full name.
    pub fn familiar(&self) -> String {
        let mut name = if self.domain == DEFAULT_DOMAIN {
            self.path
                .strip_prefix(OFFICIAL_PREFIX)
                .unwrap_or(&self.path)
                .to_owned()
        } else {
            self.name()
        };
        if let Some(t) = &self.tag {
            name.push(':');
            name.push_str(t);
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(&d.to_string());
        }
        name
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.domain, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

/// What a user may type where an image is expected: a name or a bare image id/digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnyReference {
    /// A repository reference.
    Named(Reference),
    /// A full digest (`sha256:...`) or a 64-hex id with no repository.
    Digest(Digest),
}

impl AnyReference {
    /// Parse like docker's `ParseAnyReference`: a 64-hex string or `sha256:<hex>` is an id.
    pub fn parse(s: &str) -> Result<Self, ReferenceError> {
        if s.len() == 64
            && s.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Ok(AnyReference::Digest(format!("sha256:{s}").parse()?));
        }
        if let Some((alg, _)) = s.split_once(':') {
            if (alg == "sha256" || alg == "sha512") && !s.contains('/') && !s.contains('@') {
                return Ok(AnyReference::Digest(s.parse()?));
            }
        }
        Reference::parse(s).map(AnyReference::Named)
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains('.')
                || first.contains(':')
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (first.to_owned(), rest.to_owned())
        }
        _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
    };
    let domain = if domain == LEGACY_DOMAIN {
        DEFAULT_DOMAIN.to_owned()
    } else {
        domain
    };
    let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
        format!("{OFFICIAL_PREFIX}{path}")
    } else {
        path
    };
    (domain, path)
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b[1..].iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

/// `host[:port]` where host is dot-separated `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` labels or `[ipv6]`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, tail))
                if !v6.is_empty() && v6.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') =>
            {
                match tail.strip_prefix(':') {
                    Some(p) => return valid_port(p),
                    None => return tail.is_empty(),
                }
            }
            _ => return false,
        }
    } else {
        match d.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    let label_ok = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
    };
    host.split('.').all(label_ok) && port.is_none_or(valid_port)
}

fn valid_port(p: &str) -> bool {
    !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit())
}

/// Path components: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` separated by `/`.
fn valid_path(p: &str) -> bool {
    p.split('/').all(|comp| {
        let b = comp.as_bytes();
        if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
            return false;
        }
        let mut i = 0;
        while i < b.len() {
            if is_alnum(b[i]) {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && !is_alnum(b[i]) {
                i += 1;
            }
            let sep = &comp[start..i];
            let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
            if !ok {
                return false;
            }
        }
        true
    })
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalises_docker_hub_names() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(
            norm("docker.io/busybox"),
            "docker.io/library/busybox:latest"
        );
        assert_eq!(
            norm("index.docker.io/busybox:1.36"),
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(norm("user/app:v1"), "docker.io/user/app:v1");
        assert_eq!(norm("a/b/c"), "docker.io/a/b/c:latest");
    }

    #[test]
    fn keeps_other_registries() {
        assert_eq!(norm("localhost/x"), "localhost/x:latest");
        assert_eq!(norm("localhost:5000/a/b:t"), "localhost:5000/a/b:t");
        assert_eq!(
            norm("quay.io/podman/stable"),
            "quay.io/podman/stable:latest"
        );
        assert_eq!(norm("127.0.0.1:5000/x:y"), "127.0.0.1:5000/x:y");
        assert_eq!(norm("[::1]:5000/x"), "[::1]:5000/x:latest");
        assert_eq!(
            norm("Registry.Example.com/x"),
            "Registry.Example.com/x:latest"
        );
    }

    #[test]
    fn tag_and_digest() {
        let s = format!("host:5000/repo:tag@sha256:{HEX}");
        let r = Reference::parse(&s).unwrap();
        assert_eq!(r.domain(), "host:5000");
        assert_eq!(r.path(), "repo");
        assert_eq!(r.tag(), Some("tag"));
        assert_eq!(r.digest().unwrap().hex(), HEX);
        assert_eq!(r.to_string(), s);
    }

    #[test]
    fn digest_only_gets_no_default_tag() {
        let r = Reference::parse(&format!("busybox@sha256:{HEX}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(
            r.to_string(),
            format!("docker.io/library/busybox@sha256:{HEX}")
        );
        assert_eq!(r.familiar(), format!("busybox@sha256:{HEX}"));
    }

    #[test]
    fn any_reference_ids() {
        assert_eq!(
            AnyReference::parse(HEX).unwrap(),
            AnyReference::Digest(format!("sha256:{HEX}").parse().unwrap())
        );
        assert!(matches!(
            AnyReference::parse(&format!("sha256:{HEX}")).unwrap(),
            AnyReference::Digest(_)
        ));
        assert!(matches!(
            AnyReference::parse("busybox").unwrap(),
            AnyReference::Named(_)
        ));
        assert!(AnyReference::parse("sha256:abc").is_err());
    }

    #[test]
    fn familiar_names() {
        assert_eq!(
            Reference::parse("busybox").unwrap().familiar(),
            "busybox:latest"
        );
        assert_eq!(
            Reference::parse("user/app:1").unwrap().familiar(),
            "user/app:1"
        );
        assert_eq!(
            Reference::parse("localhost/x").unwrap().familiar(),
            "localhost/x:latest"
        );
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        assert!(matches!(
            Reference::parse("Busybox"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            Reference::parse("docker.io/User/app"),
            Err(ReferenceError::Uppercase(_))
        ));
        assert!(matches!(
            Reference::parse("busybox:-bad"),
            Err(ReferenceError::BadTag(_))
        ));
        assert!(matches!(
            Reference::parse("busybox:"),
            Err(ReferenceError::BadTag(_))
        ));
        assert!(matches!(
            Reference::parse(&format!("busybox:{}", "a".repeat(129))),
            Err(ReferenceError::BadTag(_))
        ));
        // docker's wording: the grammar's failures are all "invalid reference format".
        let msg = |r: &str| Reference::parse(r).unwrap_err().to_string();
        assert_eq!(msg("busybox@sha256:abc"), "invalid reference format");
        assert_eq!(msg("a//b"), "invalid reference format");
        assert_eq!(msg(":tag"), "invalid reference format");
        assert_eq!(msg("busybox:Bad@"), "invalid reference format");
        assert_eq!(msg(""), "invalid reference format");
        assert_eq!(
            msg("UPPER"),
            "invalid reference format: repository name (library/UPPER) must be lowercase"
        );
        assert_eq!(
            msg(&format!("busybox@sha256:{}", &HEX[..40])),
            "invalid checksum digest length"
        );
        assert_eq!(
            msg(&format!("busybox@md5:{HEX}")),
            "unsupported digest algorithm"
        );
        assert_eq!(
            msg(&format!("a/{}", "b".repeat(260))),
            "repository name must not be more than 255 characters"
        );
        assert!(matches!(
            Reference::parse("busybox@md5:abc"),
            Err(ReferenceError::BadName(_))
        ));
        for bad in [
            "a//b",
            "-a",
            "a-",
            "a..b",
            "a___b",
            "/a",
            "a/",
            "ex ample",
            "a:b:c",
            "host:port/x",
            "-host.io/x",
            "[zz]/x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} should fail");
        }
        assert!(matches!(
            Reference::parse(&"a".repeat(300)),
            Err(ReferenceError::NameTooLong(_))
        ));
    }

    #[test]
    fn accepts_separators() {
        for ok in ["a.b", "a_b", "a__b", "a---b", "x/a-b.c_d/e", "0/1"] {
            assert!(Reference::parse(ok).is_ok(), "{ok} should parse");
        }
    }

    #[test]
    fn with_tag_and_digest() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(
            r.with_tag("1").unwrap().to_string(),
            "docker.io/library/busybox:1"
        );
        assert!(r.with_tag("!").is_err());
        let d: Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(
            r.with_digest(d).to_string(),
            format!("docker.io/library/busybox@sha256:{HEX}")
        );
    }
}
