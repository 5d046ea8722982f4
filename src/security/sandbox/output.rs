//! Reading a child's stdout or stderr with a cap: the first `cap` bytes are kept, the rest is
//! read (so the child never blocks on a full pipe) and counted.

use tokio::io::{AsyncRead, AsyncReadExt};

/// What was kept of one stream, and how many bytes were cut.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes, at most the cap.
    pub bytes: Vec<u8>,
    /// Bytes read past the cap and dropped.
    pub truncated: u64,
}

impl Captured {
    /// The kept bytes as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// Reads `stream` to its end, keeping at most `cap` bytes (0 = keep nothing).
pub(crate) async fn capture<R: AsyncRead + Unpin>(mut stream: R, cap: u64) -> Captured {
    let mut out = Captured::default();
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return out,
            Ok(n) => {
                let room = usize::try_from(cap)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(out.bytes.len());
                let keep = n.min(room);
                out.bytes.extend_from_slice(&buf[..keep]);
                out.truncated = out.truncated.saturating_add((n - keep) as u64);
            }
        }
    }
}
