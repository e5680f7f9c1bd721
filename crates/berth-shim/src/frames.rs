//! The attach protocol spoken on the shim's `attach.sock` (and on an exec shim's fd 0):
//! docker's 8-byte frame header (kind, three zero bytes, big-endian length) in both
//! directions, so berthd forwards output frames to a non-tty client unchanged.
//!
//! Shim → client: [`STDOUT`], [`STDERR`], [`EXIT`] (exec only: i32 BE exit code).
//! Client → shim: [`STDIN`] data, [`STDIN_CLOSE`], [`RESIZE`] (rows, cols as u16 BE),
//! [`SUBSCRIBE`] (send me the output from now on).

/// Bytes for the container's stdin.
pub const STDIN: u8 = 0;
/// Container stdout (or the terminal's output).
pub const STDOUT: u8 = 1;
/// Container stderr.
pub const STDERR: u8 = 2;
/// The client's stdin ended.
pub const STDIN_CLOSE: u8 = 3;
/// New terminal size.
pub const RESIZE: u8 = 4;
/// The client wants the output.
pub const SUBSCRIBE: u8 = 5;
/// The exec'd process exited (payload: the exit code).
pub const EXIT: u8 = 6;

/// Frames larger than this are a protocol error (the connection is dropped).
const MAX_FRAME: usize = 1 << 20;

/// Encodes one frame.
pub fn encode(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// Collects bytes from a connection and cuts them into frames.
#[derive(Default)]
pub struct Parser {
    buf: Vec<u8>,
}

impl Parser {
    /// Appends bytes read from the connection.
    pub fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The next whole frame; `Err` if the peer sent garbage.
    pub fn next_frame(&mut self) -> Result<Option<(u8, Vec<u8>)>, ()> {
        if self.buf.len() < 8 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[4], self.buf[5], self.buf[6], self.buf[7]]) as usize;
        if len > MAX_FRAME {
            return Err(());
        }
        if self.buf.len() < 8 + len {
            return Ok(None);
        }
        let kind = self.buf[0];
        let data = self.buf[8..8 + len].to_vec();
        self.buf.drain(..8 + len);
        Ok(Some((kind, data)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut p = Parser::default();
        let mut data = encode(RESIZE, &[0, 24, 0, 80]);
        data.extend(encode(STDIN, b"ls\n"));
        p.push(&data[..5]);
        assert_eq!(p.next_frame(), Ok(None));
        p.push(&data[5..]);
        assert_eq!(p.next_frame(), Ok(Some((RESIZE, vec![0, 24, 0, 80]))));
        assert_eq!(p.next_frame(), Ok(Some((STDIN, b"ls\n".to_vec()))));
        assert_eq!(p.next_frame(), Ok(None));
        p.push(&[1, 0, 0, 0, 0xff, 0, 0, 0]);
        assert_eq!(p.next_frame(), Err(()));
    }
}
