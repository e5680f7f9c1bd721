//! The attach protocol spoken on the shim's `attach.sock` (and on an exec shim's fd 0):
//! docker's 8-byte frame header (kind, three zero bytes, big-endian length) in both
//! directions, so the daemon forwards output frames to a non-tty client unchanged.
//!
//! Shim → client: [`kind::STDOUT`], [`kind::STDERR`], [`kind::EXIT`] (exec only).
//! Client → shim: [`kind::STDIN`] data, [`kind::STDIN_CLOSE`], [`kind::RESIZE`],
//! [`kind::SUBSCRIBE`] (send me the output from now on).

/// Frame kinds (the header's first byte; 0-2 are docker's stream numbers).
pub mod kind {
    /// Bytes for the process's stdin (client → shim).
    pub const STDIN: u8 = 0;
    /// Stdout, or a terminal's output (shim → client).
    pub const STDOUT: u8 = 1;
    /// Stderr (shim → client).
    pub const STDERR: u8 = 2;
    /// The client's stdin ended (client → shim).
    pub const STDIN_CLOSE: u8 = 3;
    /// New terminal size: rows, cols as u16 BE (client → shim).
    pub const RESIZE: u8 = 4;
    /// The client wants the output (client → shim).
    pub const SUBSCRIBE: u8 = 5;
    /// The exec'd process exited: its code as i32 BE (shim → client).
    pub const EXIT: u8 = 6;
}

/// The header's size.
pub const HEADER_LEN: usize = 8;
/// Frames larger than this are a protocol error (the connection is dropped): no peer makes
/// the other side buffer more than a MiB.
pub const MAX_FRAME: usize = 1 << 20;

/// A peer broke the protocol.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A header announced more than [`MAX_FRAME`] bytes.
    #[error("attach frame of {0} bytes exceeds the {MAX_FRAME}-byte limit")]
    TooLarge(usize),
}

/// Encodes one frame. `data` longer than [`MAX_FRAME`] makes a frame the peer rejects: the
/// senders cut their reads smaller.
pub fn encode(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + data.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A resize frame.
pub fn resize(rows: u16, cols: u16) -> Vec<u8> {
    let [r0, r1] = rows.to_be_bytes();
    let [c0, c1] = cols.to_be_bytes();
    encode(kind::RESIZE, &[r0, r1, c0, c1])
}

/// A resize frame's payload as (rows, cols).
pub fn parse_resize(data: &[u8]) -> Option<(u16, u16)> {
    let [r0, r1, c0, c1] = <[u8; 4]>::try_from(data).ok()?;
    Some((u16::from_be_bytes([r0, r1]), u16::from_be_bytes([c0, c1])))
}

/// An exit frame.
pub fn exit(code: i32) -> Vec<u8> {
    encode(kind::EXIT, &code.to_be_bytes())
}

/// An exit frame's payload as the exit code.
pub fn parse_exit(data: &[u8]) -> Option<i32> {
    <[u8; 4]>::try_from(data).ok().map(i32::from_be_bytes)
}

/// A header's kind and payload length, for readers that take the payload themselves.
pub fn parse_header(head: &[u8; HEADER_LEN]) -> Result<(u8, usize), FrameError> {
    let len = u32::from_be_bytes([head[4], head[5], head[6], head[7]]) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    Ok((head[0], len))
}

/// Collects bytes from a connection and cuts them into frames.
#[derive(Debug, Default)]
pub struct Parser {
    buf: Vec<u8>,
}

impl Parser {
    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame, `None` until one is complete; `Err` if the peer broke the
    /// protocol (the caller drops the connection).
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, FrameError> {
        let Some(head) = self.buf.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let (kind, len) = parse_header(head)?;
        let Some(data) = self.buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let data = data.to_vec();
        self.buf.drain(..HEADER_LEN + len);
        Ok(Some((kind, data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format() {
        assert_eq!(resize(24, 80), [4, 0, 0, 0, 0, 0, 0, 4, 0, 24, 0, 80]);
        assert_eq!(encode(kind::STDIN, b"x"), [0, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert_eq!(exit(-1), [6, 0, 0, 0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff]);
    }

    #[test]
    fn round_trip_byte_by_byte() {
        let mut wire = resize(24, 80);
        wire.extend(encode(kind::STDIN, b"ls\n"));
        wire.extend(encode(kind::SUBSCRIBE, &[]));
        wire.extend(exit(137));
        let mut p = Parser::default();
        let mut got = Vec::new();
        for b in &wire {
            p.push(std::slice::from_ref(b));
            while let Some(f) = p.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 4);
        assert_eq!(parse_resize(&got[0].1), Some((24, 80)));
        assert_eq!(got[1], (kind::STDIN, b"ls\n".to_vec()));
        assert_eq!(got[2], (kind::SUBSCRIBE, vec![]));
        assert_eq!((got[3].0, parse_exit(&got[3].1)), (kind::EXIT, Some(137)));
    }

    #[test]
    fn split_header_and_payload() {
        let mut p = Parser::default();
        let data = encode(kind::STDOUT, &[7; 100]);
        p.push(&data[..5]);
        assert_eq!(p.next_frame(), Ok(None));
        p.push(&data[5..50]);
        assert_eq!(p.next_frame(), Ok(None));
        p.push(&data[50..]);
        assert_eq!(p.next_frame(), Ok(Some((kind::STDOUT, vec![7; 100]))));
        assert_eq!(p.next_frame(), Ok(None));
    }

    #[test]
    fn largest_frame_passes_oversized_fails() {
        let mut p = Parser::default();
        p.push(&encode(kind::STDIN, &vec![1; MAX_FRAME]));
        assert_eq!(p.next_frame().unwrap().map(|f| f.1.len()), Some(MAX_FRAME));
        // Refused at the header, before any payload is buffered.
        p.push(&[kind::STDIN, 0, 0, 0, 0, 0x10, 0, 1]);
        assert_eq!(p.next_frame(), Err(FrameError::TooLarge(MAX_FRAME + 1)));
        let head = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
        assert_eq!(
            parse_header(&head),
            Err(FrameError::TooLarge(u32::MAX as usize))
        );
    }

    #[test]
    fn bad_payloads() {
        assert_eq!(parse_resize(&[0, 24, 0]), None);
        assert_eq!(parse_exit(&[0; 5]), None);
    }
}
