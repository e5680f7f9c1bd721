//! Layer compression: detection by media type and magic bytes, and streaming decoders.

use std::io::{self, BufRead, BufReader, Read};

use crate::manifest;

/// How a layer's bytes are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (possibly multi-member).
    Gzip,
    /// zstd.
    Zstd,
}

impl Compression {
    /// What the media type claims.
    pub fn from_media_type(mt: &str) -> Option<Self> {
        match mt {
            manifest::OCI_LAYER_TAR | manifest::DOCKER_LAYER_TAR => Some(Compression::None),
            manifest::OCI_LAYER_GZIP
            | manifest::DOCKER_LAYER_GZIP
            | manifest::DOCKER_LAYER_FOREIGN => Some(Compression::Gzip),
            manifest::OCI_LAYER_ZSTD => Some(Compression::Zstd),
            _ if mt.ends_with("+gzip") || mt.ends_with(".gzip") => Some(Compression::Gzip),
            _ if mt.ends_with("+zstd") => Some(Compression::Zstd),
            _ if mt.ends_with(".tar") => Some(Compression::None),
            _ => None,
        }
    }

    /// What the first bytes say (`None` when they look like neither gzip nor zstd).
    pub fn from_magic(head: &[u8]) -> Option<Self> {
        if head.starts_with(&[0x1f, 0x8b]) {
            Some(Compression::Gzip)
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else {
            None
        }
    }
}

/// A decompressing reader over a layer blob.
pub enum Decoder<R: Read> {
    /// Pass-through.
    Plain(BufReader<R>),
    /// gzip.
    Gzip(Box<flate2::bufread::MultiGzDecoder<BufReader<R>>>),
    /// zstd.
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<R>>>),
}

impl<R: Read> Decoder<R> {
    /// Sniff the stream (magic bytes win; the media type decides when the bytes are ambiguous)
    /// and set up the matching decoder.
    pub fn new(inner: R, media_type: Option<&str>) -> io::Result<(Self, Compression)> {
        let mut br = BufReader::with_capacity(256 * 1024, inner);
        let head = br.fill_buf()?;
        let kind = Compression::from_magic(head)
            .or_else(|| {
                media_type
                    .and_then(Compression::from_media_type)
                    .filter(|c| *c == Compression::None)
            })
            .unwrap_or(Compression::None);
        let dec = match kind {
            Compression::None => Decoder::Plain(br),
            Compression::Gzip => Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(br))),
            Compression::Zstd => {
                Decoder::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(br)?))
            }
        };
        Ok((dec, kind))
    }
}

impl<R: Read> Read for Decoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn detects_and_decodes() {
        let data = b"hello layer".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&data).unwrap();
        let gz = gz.finish().unwrap();
        let zs = zstd::encode_all(&data[..], 3).unwrap();
        for (bytes, want) in [
            (&gz, Compression::Gzip),
            (&zs, Compression::Zstd),
            (&data, Compression::None),
        ] {
            let (mut d, kind) = Decoder::new(&bytes[..], Some(manifest::OCI_LAYER_TAR)).unwrap();
            assert_eq!(kind, want);
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, data);
        }
        assert_eq!(
            Compression::from_media_type(manifest::DOCKER_LAYER_GZIP),
            Some(Compression::Gzip)
        );
        assert_eq!(
            Compression::from_media_type(manifest::OCI_LAYER_ZSTD),
            Some(Compression::Zstd)
        );
        assert_eq!(Compression::from_media_type("text/plain"), None);
    }
}
