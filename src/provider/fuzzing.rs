//! Entry points for the fuzz targets in `fuzz/` (not part of the public API): every parser of
//! what a server sends, fed arbitrary bytes. Each must return, never panic.

use super::anthropic::{Events, parse_response};
use super::headers::parse_rate_info;
use super::http::EventHandler;
use super::openai_wire::{ChunkHandler, parse_chat, parse_embeddings};
use super::sse::SseParser;

/// Complete bodies of both protocols (chat and embeddings).
pub fn bodies(data: &[u8]) {
    let _ = parse_chat(data, "fuzz");
    let _ = parse_embeddings(data, "m", "fuzz");
    let _ = parse_response(data, "fuzz");
}

/// An SSE body, cut where its first byte says, through the parser (4 KiB events) and both
/// protocols' event handlers.
pub fn sse(data: &[u8]) {
    let (cut, body) = match data.split_first() {
        Some((c, rest)) => (usize::from(*c), rest),
        None => return,
    };
    let mut parser = SseParser::new(4096);
    let (mut openai, mut anthropic) = (ChunkHandler::default(), Events::default());
    let mut events = Vec::new();
    let mut out = Vec::new();
    for chunk in body.chunks(cut.max(1)) {
        if parser.push(chunk, &mut events).is_err() {
            return;
        }
        for ev in events.drain(..) {
            let _ = openai.event(&ev, &mut out);
            let _ = anthropic.event(&ev, &mut out);
            out.clear();
        }
    }
    openai.finish(&mut out);
    let _ = parser.has_partial();
}

/// Rate-limit headers: the bytes as the value of each header this layer reads.
pub fn headers(data: &[u8]) {
    let Ok(v) = reqwest::header::HeaderValue::from_bytes(data) else {
        return;
    };
    for name in [
        "retry-after",
        "retry-after-ms",
        "x-ratelimit-reset-requests",
        "x-ratelimit-remaining-tokens",
        "anthropic-ratelimit-tokens-reset",
    ] {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert(name, v.clone());
        let _ = parse_rate_info(&h, std::time::Duration::from_secs(3600));
    }
}
