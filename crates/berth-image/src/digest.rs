//! Content digests (`sha256:<hex>`, `sha512:<hex>`) and streaming digest adapters.
//!
//! Every blob in the store is named by its digest, so the digest type is the identity of
//! manifests, configs and layers. [`DigestingReader`] and [`DigestingWriter`] let one pass over
//! a byte stream compute a digest while the bytes flow on (registry body → content store →
//! decompressor → tar parser), so nothing is read twice.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Digest as _;

/// Errors from parsing a digest string.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DigestError {
    /// The string has no `algorithm:` prefix.
    #[error("invalid digest {0:?}: missing algorithm")]
    MissingAlgorithm(String),
    /// The algorithm is neither sha256 nor sha512.
    #[error("unsupported digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The encoded part is not lowercase hex of the algorithm's length.
    #[error("invalid digest {0:?}: bad hex encoding")]
    BadHex(String),
}

/// A digest algorithm the store accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the default for everything Berth writes.
    Sha256,
    /// SHA-512, accepted from registries and archives.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings and in `blobs/<alg>/` directories.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex encoding of a digest of this algorithm.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    /// Parse an algorithm name.
    pub fn from_name(s: &str) -> Option<Self> {
        match s {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

/// A validated content digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Build a digest from an algorithm and its hex encoding (validated).
    pub fn new(algorithm: Algorithm, hex: &str) -> Result<Self, DigestError> {
        let ok = hex.len() == algorithm.hex_len()
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(DigestError::BadHex(format!("{}:{hex}", algorithm.name())));
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_owned(),
        })
    }

    /// Compute the sha256 digest of a byte slice.
    pub fn sha256_of(data: &[u8]) -> Self {
        let mut d = Digester::new(Algorithm::Sha256);
        d.update(data);
        d.finish()
    }

    /// The digest algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The hex-encoded value without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::MissingAlgorithm(s.to_owned()))?;
        let algorithm = Algorithm::from_name(alg)
            .ok_or_else(|| DigestError::UnsupportedAlgorithm(alg.to_owned()))?;
        Digest::new(algorithm, hex)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental hasher for one algorithm.
#[derive(Clone)]
pub struct Digester {
    state: State,
}

#[derive(Clone)]
enum State {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Digester {
    /// Start hashing with `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => State::Sha512(sha2::Sha512::new()),
        };
        Digester { state }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// The digest of everything fed so far (the digester can keep going).
    pub fn current(&self) -> Digest {
        self.clone().finish()
    }

    /// Finish and return the digest.
    pub fn finish(self) -> Digest {
        match self.state {
            State::Sha256(h) => Digest {
                algorithm: Algorithm::Sha256,
                hex: hex::encode(h.finalize()),
            },
            State::Sha512(h) => Digest {
                algorithm: Algorithm::Sha512,
                hex: hex::encode(h.finalize()),
            },
        }
    }
}

/// A reader that digests and counts every byte read through it.
pub struct DigestingReader<R> {
    inner: R,
    digester: Digester,
    count: u64,
}

impl<R: Read> DigestingReader<R> {
    /// Wrap `inner`, hashing with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        DigestingReader {
            inner,
            digester: Digester::new(algorithm),
            count: 0,
        }
    }

    /// Digest of the bytes read so far.
    pub fn digest(&self) -> Digest {
        self.digester.current()
    }

    /// Number of bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Read and hash whatever is left in the stream (e.g. tar padding after the last entry),
    /// so the digest covers the whole input.
    pub fn drain(&mut self) -> io::Result<()> {
        io::copy(self, &mut io::sink()).map(|_| ())
    }

    /// Return the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DigestingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that digests and counts every byte written through it.
pub struct DigestingWriter<W> {
    inner: W,
    digester: Digester,
    count: u64,
}

impl<W: Write> DigestingWriter<W> {
    /// Wrap `inner`, hashing with `algorithm`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        DigestingWriter {
            inner,
            digester: Digester::new(algorithm),
            count: 0,
        }
    }

    /// Digest of the bytes written so far.
    pub fn digest(&self) -> Digest {
        self.digester.current()
    }

    /// Number of bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Access the inner writer.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// Return the inner writer with the final digest and byte count.
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, self.digester.finish(), self.count)
    }
}

impl<W: Write> Write for DigestingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.digester.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints() {
        let d: Digest = EMPTY.parse().unwrap();
        assert_eq!(d.to_string(), EMPTY);
        assert_eq!(d.algorithm(), Algorithm::Sha256);
        assert_eq!(Digest::sha256_of(b""), d);
    }

    #[test]
    fn rejects_bad_digests() {
        assert!(matches!(
            "sha256".parse::<Digest>(),
            Err(DigestError::MissingAlgorithm(_))
        ));
        assert!(matches!(
            "md5:abcd".parse::<Digest>(),
            Err(DigestError::UnsupportedAlgorithm(_))
        ));
        assert!(matches!(
            "sha256:abcd".parse::<Digest>(),
            Err(DigestError::BadHex(_))
        ));
        let upper = EMPTY.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::BadHex(_))
        ));
        let sha512_len_for_256 = format!("sha256:{}", "a".repeat(128));
        assert!(sha512_len_for_256.parse::<Digest>().is_err());
    }

    #[test]
    fn sha512_accepted() {
        let mut d = Digester::new(Algorithm::Sha512);
        d.update(b"abc");
        let dig = d.finish();
        assert_eq!(dig.hex().len(), 128);
        assert!(dig.hex().starts_with("ddaf35a193617aba"));
        assert_eq!(dig.to_string().parse::<Digest>().unwrap(), dig);
    }

    #[test]
    fn reader_and_writer_tee_same_digest() {
        let data = vec![7u8; 100_000];
        let mut r = DigestingReader::new(&data[..], Algorithm::Sha256);
        let mut w = DigestingWriter::new(Vec::new(), Algorithm::Sha256);
        io::copy(&mut r, &mut w).unwrap();
        assert_eq!(r.digest(), Digest::sha256_of(&data));
        assert_eq!(r.count(), 100_000);
        let (out, dig, n) = w.finish();
        assert_eq!(out, data);
        assert_eq!(dig, Digest::sha256_of(&data));
        assert_eq!(n, 100_000);
    }

    #[test]
    fn serde_roundtrip() {
        let d: Digest = EMPTY.parse().unwrap();
        let j = serde_json::to_string(&d).unwrap();
        assert_eq!(j, format!("\"{EMPTY}\""));
        assert_eq!(serde_json::from_str::<Digest>(&j).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
