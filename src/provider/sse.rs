//! Incremental Server-Sent Events parser (WHATWG framing: `event:`, `data:`, comments, blank
//! line dispatch; `\n` and `\r\n` line ends), with a size limit per event.
//!
//! Bytes in, events out. Each byte is scanned once (only the bytes of a line not yet ended are
//! kept, and they hold no line end), an event that grows past `max_event` bytes is a typed error, and bytes that are
//! not UTF-8 are replaced (U+FFFD) rather than refused.

use super::error::ProviderError;

/// One dispatched SSE event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any.
    pub(crate) event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub(crate) data: String,
}

/// Feeds bytes, yields complete events.
#[derive(Debug)]
pub(crate) struct SseParser {
    /// Bytes of the line being read (no line end yet).
    buf: Vec<u8>,
    event: Option<String>,
    data: Option<String>,
    max_event: usize,
}

impl SseParser {
    /// A fresh parser; an event (its fields and pending bytes) may hold `max_event` bytes.
    pub(crate) fn new(max_event: usize) -> Self {
        SseParser {
            buf: Vec::new(),
            event: None,
            data: None,
            max_event,
        }
    }

    fn event_size(&self) -> usize {
        let fields =
            self.data.as_ref().map_or(0, String::len) + self.event.as_ref().map_or(0, String::len);
        fields.saturating_add(self.buf.len())
    }

    /// Appends `chunk` and pushes the events it completed onto `out`; fails once the event
    /// being read exceeds the limit.
    pub(crate) fn push(
        &mut self,
        chunk: &[u8],
        out: &mut Vec<SseEvent>,
    ) -> Result<(), ProviderError> {
        let mut rest = chunk;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            let (line, tail) = rest.split_at(pos);
            self.buf.extend_from_slice(line);
            self.check()?;
            let mut line = std::mem::take(&mut self.buf);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.line(&String::from_utf8_lossy(&line), out);
            rest = tail.get(1..).unwrap_or_default();
        }
        self.buf.extend_from_slice(rest);
        self.check()
    }

    fn check(&self) -> Result<(), ProviderError> {
        if self.event_size() > self.max_event {
            return Err(ProviderError::ResponseTooLarge {
                what: "stream event",
                limit: self.max_event as u64,
            });
        }
        Ok(())
    }

    fn line(&mut self, line: &str, out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            match self.data.take() {
                Some(data) => out.push(SseEvent {
                    event: self.event.take(),
                    data,
                }),
                None => self.event = None,
            }
            return;
        }
        if line.starts_with(':') {
            return; // comment / keep-alive
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => match &mut self.data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            },
            _ => {}
        }
    }

    /// True when bytes or fields of an undispatched event are pending (a stream ending now
    /// was cut mid-event).
    pub(crate) fn has_partial(&self) -> bool {
        !self.buf.iter().all(u8::is_ascii_whitespace) || self.data.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn all(p: &mut SseParser, chunks: &[&[u8]]) -> Result<Vec<SseEvent>, ProviderError> {
        let mut out = Vec::new();
        for c in chunks {
            p.push(c, &mut out)?;
        }
        Ok(out)
    }

    #[test]
    fn events_split_across_chunks_and_crlf() {
        let mut p = SseParser::new(1 << 20);
        let first = all(&mut p, &[b"event: ping\r\ndata: {\"a\""]);
        assert!(first.is_ok_and(|e| e.is_empty()));
        assert!(p.has_partial());
        let ev =
            all(&mut p, &[b":1}\r\n\r\n: comment\n\ndata: x\ndata: y\n\n"]).unwrap_or_default();
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].event.as_deref(), Some("ping"));
        assert_eq!(ev[0].data, "{\"a\":1}");
        assert_eq!(ev[1].event, None);
        assert_eq!(ev[1].data, "x\ny");
        assert!(!p.has_partial());
    }

    #[test]
    fn an_event_over_the_limit_is_a_typed_error_and_invalid_utf8_is_replaced() {
        let mut p = SseParser::new(1000);
        let big = vec![b'a'; 600];
        let mut out = Vec::new();
        assert!(p.push(b"data: ", &mut out).is_ok());
        assert!(p.push(&big, &mut out).is_ok());
        let r = p.push(&big, &mut out);
        assert!(
            matches!(
                r,
                Err(ProviderError::ResponseTooLarge {
                    what: "stream event",
                    limit: 1000
                })
            ),
            "{r:?}"
        );
        let mut p = SseParser::new(1000);
        let ev = all(&mut p, &[b"data: \xff\xfe ok\n\n"]).unwrap_or_default();
        assert_eq!(ev[0].data, "\u{fffd}\u{fffd} ok");
    }

    proptest! {
        /// However the bytes are cut into chunks, the same events come out (or the same error),
        /// and no event is larger than the limit.
        #[test]
        fn framing_does_not_depend_on_chunking(
            body in prop::collection::vec(prop::sample::select(vec![
                b"data: x".to_vec(), b"data: {\"k\":1}".to_vec(), b"\n".to_vec(), b"\r\n".to_vec(),
                b"event: e".to_vec(), b": ping".to_vec(), b"\xff".to_vec(), b"garbage".to_vec(),
                b"data".to_vec(), b"\n\n".to_vec(),
            ]), 0..60).prop_map(|v| v.concat()),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            limit in 1usize..200,
        ) {
            let whole = all(&mut SseParser::new(limit), &[&body]);
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(body.len() + 1)).collect();
            points.sort_unstable();
            let mut chunks = Vec::new();
            let mut start = 0;
            for p in points {
                chunks.push(&body[start..p]);
                start = p;
            }
            chunks.push(&body[start..]);
            let cut = all(&mut SseParser::new(limit), &chunks);
            match (&whole, &cut) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(a, b);
                    for e in a {
                        prop_assert!(e.data.len() <= limit);
                    }
                }
                // An event over the limit fails either way (possibly at another chunk).
                (Err(_), Err(_)) => {}
                _ => prop_assert!(false, "{:?} vs {:?}", whole, cut),
            }
        }
    }
}
